"""Local weights: safetensors and tensors-only torch files load; pickled objects are refused; prefixes, channels."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from medvlp.models import create_image_tower, load_model_config
from medvlp.models.weights import (
    UnsafeCheckpointError,
    adapt_in_chans,
    load_weights,
    read_state_dict,
    save_weights,
    select_prefix,
)


class Payload:
    """Any class instance: pickling it makes a checkpoint that can run code on load."""

    def __reduce__(self):  # what a malicious checkpoint does; weights_only must never call this
        return (print, ("unpickled!",))


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))


def test_safetensors_round_trip_into_a_timm_tower(tmp_path: Path):
    cfg = load_model_config("tiny-cxr-resnet").image
    torch.manual_seed(0)
    src = create_image_tower(cfg)
    path = save_weights(src.model, tmp_path / "cxr.safetensors")
    cfg.weights = str(path)
    torch.manual_seed(1)
    dst = create_image_tower(cfg)
    for (k, a), b in zip(src.model.state_dict().items(), dst.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_tensor_only_torch_file_and_wrappers(tmp_path: Path):
    net = nn.Linear(3, 2)
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    state = read_state_dict(tmp_path / "ckpt.pt")
    assert set(state) == {"weight", "bias"}
    other = nn.Linear(3, 2)
    load_weights(other, tmp_path / "ckpt.pt")
    assert torch.equal(other.weight, net.weight)


def test_pickled_object_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    net = nn.Linear(3, 2)
    torch.save({"model": net.state_dict(), "extra": Payload()}, tmp_path / "evil.pt")
    with pytest.raises(UnsafeCheckpointError, match="pickled Python objects"):
        read_state_dict(tmp_path / "evil.pt")
    cfg = load_model_config("tiny-cxr-resnet", [f"image.weights={tmp_path / 'evil.pt'}"]).image
    with pytest.raises(UnsafeCheckpointError):
        create_image_tower(cfg)
    assert "unpickled!" not in capsys.readouterr().out


def test_prefix_selection_and_missing_keys(tmp_path: Path):
    net = nn.Linear(3, 2)
    state = {f"image_tower.{k}": v for k, v in net.state_dict().items()} | {"text.x": torch.zeros(1)}
    assert set(select_prefix(state, "image_tower")) == {"weight", "bias"}
    with pytest.raises(ValueError, match=r"no weights under prefix 'vision\.'"):
        select_prefix(state, "vision")
    with pytest.raises(ValueError, match=r"missing from the file, e\.g\. bias"):
        load_weights(nn.Linear(3, 2), {"weight": net.weight.detach()})
    ignored = load_weights(nn.Linear(3, 2), {**net.state_dict(), "fc.weight": torch.zeros(1)})
    assert ignored == ["fc.weight"]
    with pytest.raises(ValueError, match=r"'weight' has shape \(2, 3\), the model wants \(4, 3\)"):
        load_weights(nn.Linear(3, 4), net.state_dict(), strict=False)
    with pytest.raises(FileNotFoundError, match="never downloads"):
        read_state_dict(tmp_path / "nope.safetensors")


def test_first_conv_adapts_to_the_channel_count():
    w = torch.randn(8, 1, 3, 3)
    w3 = adapt_in_chans(w, 3)
    assert w3.shape == (8, 3, 3, 3)
    x = torch.randn(2, 1, 9, 9)  # a grey image repeated over 3 channels responds as the 1-channel stem did
    torch.testing.assert_close(nn.functional.conv2d(x.repeat(1, 3, 1, 1), w3), nn.functional.conv2d(x, w))
    assert adapt_in_chans(w3, 1).shape == (8, 1, 3, 3)
    assert adapt_in_chans(torch.randn(8, 2, 3, 3), 3).shape == (8, 3, 3, 3)
