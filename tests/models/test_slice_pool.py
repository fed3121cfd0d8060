"""Slice pooling: a 2D tower over slices in chunks, pooled over depth; CXR weights load into its 2D part."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlp.models import create_image_tower, load_model_config
from medvlp.models.weights import save_weights
from medvlp.registry import POOLERS


def _tower(*over: str) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_image_tower(load_model_config("tiny-ct-slicepool", list(over)).image)


def _volume(depth: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 1, depth, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_contract_shapes():
    tower = _tower().eval()
    x, mask = _volume(), torch.ones(2, 10, dtype=torch.bool)
    mask[1, 7:] = False
    feats = tower.forward_features(x, mask)
    assert feats.grid == (10, 2, 2) and feats.tokens.shape == (2, 40, tower.num_features)
    assert feats.mask.shape == (2, 40) and feats.mask[1].sum() == 28
    assert torch.all(feats.tokens[1, 28:] == 0)  # padded slices never went through the 2D tower
    assert tower.forward_head(feats).shape == (2, tower.pooled_features)
    maps = tower.forward_intermediates(x, mask)
    assert [m.shape[:3] for m in maps] == [(2, i["num_chs"], 10) for i in tower.feature_info]
    assert torch.all(maps[-1][1, :, 7:] == 0)


@pytest.mark.parametrize("pooler", POOLERS.names())
def test_chunked_equals_unchunked_for_every_pooler(pooler: str):
    kwargs = ["image.pooler_kwargs={heads: 2, max_depth: 16}"] if pooler == "transformer" else []
    one = _tower(f"image.pooler={pooler}", "image.slice_chunk=3", *kwargs).eval()
    big = _tower(f"image.pooler={pooler}", "image.slice_chunk=64", *kwargs).eval()
    x, mask = _volume(), torch.ones(2, 10, dtype=torch.bool)
    mask[0, 6:] = False
    with torch.no_grad():
        a, b = one(x, mask), big(x, mask)
    torch.testing.assert_close(a, b)


VIT_SLICES = "image.slice_tower={kind: timm, model: test_vit, kwargs: {img_size: 64, depth: 1}}"


@pytest.mark.parametrize(("pooler", "inner"), [("attention", ""), ("transformer", ""), ("mean", VIT_SLICES)])
def test_depth_mask_honoured(pooler: str, inner: str):
    """Padding slices with garbage (masked) changes neither the pooled output nor the real tokens."""
    kwargs = ["image.pooler_kwargs={heads: 2, max_depth: 16}"] if pooler == "transformer" else []
    tower = _tower(f"image.pooler={pooler}", *kwargs, *([inner] if inner else [])).eval()
    real = _volume(7)[:1]
    padded = torch.cat([real, 3 * torch.randn(1, 1, 5, 64, 64)], dim=2)
    mask = torch.tensor([[True] * 7 + [False] * 5])
    with torch.no_grad():
        a, b = tower.forward_features(real), tower.forward_features(padded, mask)
        torch.testing.assert_close(tower.forward_head(a), tower.forward_head(b))
    torch.testing.assert_close(a.tokens, b.tokens[:, : a.tokens.shape[1]])
    if inner:  # ViT slices: one class token per slice rides along as the prefix [B, D*P, F]
        assert a.prefix.shape == (1, 7, tower.num_features) and b.prefix.shape == (1, 12, tower.num_features)


def test_checkpointed_chunks_give_the_same_gradients():
    plain = _tower("image.slice_chunk=4").eval()
    ckpt = _tower("image.slice_chunk=4", "image.checkpoint=true").eval()
    x = _volume()
    for tower in (plain, ckpt):
        tower.zero_grad()
        tower(x).sum().backward()
    for (name, p), q in zip(plain.named_parameters(), ckpt.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_cxr_tower_loads_into_the_slice_tower(tmp_path: Path):
    torch.manual_seed(3)
    cxr = create_image_tower("tiny-cxr-resnet")
    tower = _tower()
    tower.slice_tower.load_state_dict(cxr.state_dict())  # the 2D part is an ordinary 2D tower
    for k, v in cxr.state_dict().items():
        assert torch.equal(tower.slice_tower.state_dict()[k], v), k
    # From a file, into a 3-window CT tower: the 1-channel stem is adapted.
    path = save_weights(cxr.model, tmp_path / "cxr.safetensors")
    three = _tower("image.in_chans=3", f"image.slice_tower.weights={path}")
    stem = next(k for k in cxr.model.state_dict() if k.endswith("weight") and cxr.model.state_dict()[k].ndim == 4)
    assert three.slice_tower.model.state_dict()[stem].shape[1] == 3
    torch.testing.assert_close(three.slice_tower.model.state_dict()[stem].sum(1), cxr.model.state_dict()[stem].sum(1))


def test_frozen_slice_tower_trains_only_the_pooler():
    tower = _tower("image.slice_tower.freeze=true").train()
    assert not tower.slice_tower.training and tower.training
    tower(_volume()).sum().backward()
    assert all(p.grad is None for p in tower.slice_tower.parameters())
    assert all(p.grad is not None for p in tower.pooler.parameters())


def test_errors():
    with pytest.raises(ValueError, match="every slice of the batch is masked"):
        _tower().forward_features(_volume(), torch.zeros(2, 10, dtype=torch.bool))
    with pytest.raises(ValueError, match="must be a 2D tower"):
        _tower("image.slice_tower={kind: monai_resnet, spatial_dims: 3, input_size: [8, 64, 64]}")
