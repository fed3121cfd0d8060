"""Training precision: what bf16 is allowed where, channels-last layout, fp32 losses, and the NaN stop."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import medvlp.train.precision as precision_module
from medvlp.cli import main
from medvlp.losses import CompositeLoss
from medvlp.models import create_model
from medvlp.models.outputs import to_float
from medvlp.train.precision import Precision, cpu_has_bf16
from tests.train.test_loop import _args

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch):
    """Pretend this CPU has native bf16, so the policy is tested on any machine."""
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: True)


def test_fp32_and_auto_on_cpu_change_nothing():
    conv = nn.Conv2d(1, 4, 3)
    for name in ("fp32", "auto"):
        p = Precision(name, CPU, conv)
        assert p.dtype is None and p.name == "fp32"
        p.prepare_model(conv)
        assert conv.weight.is_contiguous()
        image = torch.rand(2, 1, 8, 8).permute(0, 1, 3, 2)
        assert p.prepare_batch({"image": image})["image"] is image
        with p.autocast():
            assert conv(torch.rand(1, 1, 8, 8)).dtype == torch.float32


def test_unknown_precision_names_the_key():
    with pytest.raises(ValueError, match=r"train.precision.*fp16.*auto, bf16, fp32"):
        Precision("fp16", CPU)


def test_bf16_on_a_cpu_with_native_bf16_is_channels_last(native_bf16):
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(6, 2))
    p = Precision("bf16", CPU, conv)
    assert p.dtype == torch.bfloat16
    p.prepare_model(conv)
    assert conv[0].weight.is_contiguous(memory_format=torch.channels_last) and conv[1].weight.is_contiguous()
    image = torch.rand(2, 3, 8, 8)
    out = p.prepare_batch({"image": image, "sample_id": ["a", "b"]})["image"]
    assert out.is_contiguous(memory_format=torch.channels_last) and torch.equal(out, image)
    with p.autocast():
        assert conv[0](out).dtype == torch.bfloat16


def test_bf16_is_refused_for_3d_convolutions_on_a_cpu(native_bf16):
    with pytest.warns(UserWarning, match="3D convolutions"):
        p = Precision("bf16", CPU, nn.Conv3d(1, 2, 3))
    assert p.dtype is None


def test_bf16_is_refused_without_native_support(monkeypatch):
    monkeypatch.setattr(precision_module, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="no native bf16"):
        assert Precision("bf16", CPU, nn.Conv2d(1, 2, 3)).dtype is None


def test_losses_reduce_in_fp32_under_autocast(tiny_tokenizer):
    model = create_model("tiny-cxr-resnet", tokenizer=tiny_tokenizer)
    batch = {
        "image": torch.rand(4, 1, 64, 64),
        "text_ids": torch.randint(5, 100, (4, 16)),
        "text_mask": torch.ones(4, 16, dtype=torch.bool),
        "labels": torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
    }
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch)
        assert out.image.embeds.dtype == torch.bfloat16
        loss = CompositeLoss({"clip": 1.0}, {"clip": {"soft_labels": True}})(out, batch)["loss"]
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    cast = to_float(out)
    assert cast.image.embeds.dtype == torch.float32 and cast.text.mask.dtype == torch.bool
    assert cast.image.grid == out.image.grid
    loss.backward()  # the cast is differentiable
    assert model.logit.logit_scale.grad is not None
    assert all(p.grad is not None for p in model.text_tower.parameters() if p.requires_grad)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no native bf16")
def test_pretrain_and_baseline_in_bf16(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    from medvlp.config import load_config
    from medvlp.eval.baseline import train_baseline
    from medvlp.knowledge import load_graph

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(_args(tiny_dataset, tmp_path / "run", "train.precision=bf16", "train.steps=4")) == 0
    assert not [w for w in caught if "train.precision" in str(w.message)]  # no fallback to fp32 on this machine
    cfg = load_config(
        [Path(__file__).resolve().parents[2] / "configs/experiments/tiny_cxr.yaml"],
        [f"train.dataset={tiny_dataset}", "train.steps=3", "train.warmup_steps=1", "train.precision=bf16"],
    )
    model, _ = train_baseline(cfg, load_graph(), tiny_tokenizer, tmp_path / "baseline", progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_a_diverged_loss_stops_the_run(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path, monkeypatch, capsys):
    original = CompositeLoss.forward

    def poisoned(self, out, batch):
        losses = original(self, out, batch)
        return {**losses, "loss": losses["loss"] * float("nan")}

    monkeypatch.setattr(CompositeLoss, "forward", poisoned)
    assert main(_args(tiny_dataset, tmp_path / "run", "train.steps=4")) == 1
    err = capsys.readouterr().err
    assert "not finite at step 2" in err and "--resume" in err
