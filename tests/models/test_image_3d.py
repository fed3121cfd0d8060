"""Native 3D MONAI towers (ViT, ResNet, Swin): contract shapes, depth_mask honoured, spatial_dims as a parameter."""

from __future__ import annotations

import pytest
import torch

from medvlp.models import create_image_tower, load_model_config

NATIVE = ("tiny-ct-vit3d", "tiny-ct-resnet3d", "tiny-ct-swin3d")


@pytest.fixture(scope="module")
def towers() -> dict[str, torch.nn.Module]:
    out = {}
    for name in NATIVE:
        torch.manual_seed(0)
        out[name] = create_image_tower(name).eval()
    return out


@pytest.mark.parametrize("name", NATIVE)
def test_contract_shapes(name: str, towers: dict):
    tower = towers[name]
    x = torch.randn(2, 1, 20, 64, 64)
    mask = torch.ones(2, 20, dtype=torch.bool)
    feats = tower.forward_features(x, mask)
    n = feats.grid[0] * feats.grid[1] * feats.grid[2]
    assert len(feats.grid) == 3 and feats.tokens.shape == (2, n, tower.num_features)
    assert feats.mask.shape == (2, n) and feats.mask.dtype == torch.bool
    assert tower.forward_head(feats).shape == (2, tower.pooled_features)
    maps = tower.forward_intermediates(x, mask)
    assert len(maps) == len(tower.feature_info)
    for m, info in zip(maps, tower.feature_info, strict=True):
        assert m.shape[:2] == (2, info["num_chs"]) and m.ndim == 5
        assert tuple(m.shape[2:]) == tuple(s // r for s, r in zip((32, 64, 64), info["reduction"], strict=True))


@pytest.mark.parametrize("name", NATIVE)
def test_depth_mask_honoured(name: str, towers: dict):
    """Padded slices hold garbage and the batch is padded further: nothing changes when they are masked."""
    tower = towers[name]
    g = torch.Generator().manual_seed(1)
    real = torch.randn(1, 1, 14, 64, 64, generator=g)
    padded = torch.cat([real, 5 * torch.randn(1, 1, 10, 64, 64, generator=g)], dim=2)  # [1, 1, 24, 64, 64]
    mask = torch.tensor([[True] * 14 + [False] * 10])
    with torch.no_grad():
        a = tower.forward_features(real)
        b = tower.forward_features(padded, mask)
        torch.testing.assert_close(tower.forward_head(a), tower.forward_head(b))
        torch.testing.assert_close(a.tokens[a.mask], b.tokens[b.mask])
        assert torch.equal(a.mask, b.mask)
        if name == "tiny-ct-vit3d":  # a fine depth grid: tokens of the zero depth padding are masked
            assert a.mask.sum() == 2 * 16
        unmasked = tower.forward_head(tower.forward_features(padded))
        assert not torch.allclose(unmasked, tower.forward_head(a))


def test_vit_keeps_padded_tokens_out_of_attention(towers: dict):
    tower = towers["tiny-ct-vit3d"]
    x = torch.randn(1, 1, 32, 64, 64)
    full = torch.ones(1, 32, dtype=torch.bool)
    half = full.clone()
    half[:, 16:] = False
    with torch.no_grad():
        a = tower.forward_features(x, half)
        y = x.clone()
        y[:, :, 16:] = 0.0
        b = tower.forward_features(y, full)  # same pixels, but the zero slices now count as real
    assert a.mask.sum() == 32 and b.mask.all()
    assert not torch.allclose(a.tokens[a.mask], b.tokens[:, :32].reshape(-1, a.tokens.shape[-1]))


def test_depth_beyond_input_size_is_an_error(towers: dict):
    with pytest.raises(ValueError, match="exceeds the tower's input depth 32"):
        towers["tiny-ct-resnet3d"].forward_features(torch.randn(1, 1, 40, 64, 64))
    with pytest.raises(ValueError, match=r"built for \[32, 64, 64\] inputs"):
        towers["tiny-ct-vit3d"].forward_features(torch.randn(1, 1, 32, 48, 48))


@pytest.mark.parametrize("name", NATIVE)
def test_spatial_dims_is_a_parameter(name: str):
    over = ["image.spatial_dims=2", "image.input_size=[64, 64]"]
    if name == "tiny-ct-vit3d":
        over.append("image.patch_size=[16, 16]")
    tower = create_image_tower(load_model_config(name, over).image)
    feats = tower.forward_features(torch.randn(2, 1, 64, 64))
    assert len(feats.grid) == 2 and feats.mask is None
    assert tower.forward_head(feats).shape == (2, tower.pooled_features)
    assert all(m.ndim == 4 for m in tower.forward_intermediates(torch.randn(1, 1, 64, 64)))


def test_several_windows_as_channels_and_freeze():
    tower = create_image_tower(load_model_config("tiny-ct-resnet3d", ["image.in_chans=3", "image.freeze=true"]).image)
    out = tower(torch.randn(1, 3, 16, 64, 64))
    assert out.shape == (1, 64) and not out.requires_grad and not tower.training
