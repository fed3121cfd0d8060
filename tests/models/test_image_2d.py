"""2D timm towers (CNN and ViT): the encoder contract, channels from config, freezing, input checks."""

from __future__ import annotations

import pytest
import torch

from medvlp.models import TowerFeatures, create_image_tower, load_model_config


@pytest.mark.parametrize(("name", "grid", "prefix"), [("tiny-cxr-resnet", (2, 2), None), ("tiny-cxr-vit", (4, 4), 1)])
def test_contract_shapes(name: str, grid: tuple[int, int], prefix: int | None):
    torch.manual_seed(0)
    tower = create_image_tower(name).eval()
    x = torch.randn(2, 1, 64, 64)
    feats = tower.forward_features(x)
    assert isinstance(feats, TowerFeatures) and feats.grid == grid and feats.mask is None
    assert feats.tokens.shape == (2, grid[0] * grid[1], tower.num_features)
    assert (feats.prefix is None) == (prefix is None)
    assert feats.as_map().shape == (2, tower.num_features, *grid)
    pooled = tower.forward_head(feats)
    assert pooled.shape == (2, tower.pooled_features)
    torch.testing.assert_close(tower(x), pooled)
    maps = tower.forward_intermediates(x)
    assert len(maps) == len(tower.feature_info)
    for m, info in zip(maps, tower.feature_info, strict=True):
        assert m.shape[:2] == (2, info["num_chs"])
        assert tuple(64 // r for r in info["reduction"]) == tuple(m.shape[2:])


def test_cnn_tokens_match_timm_features_and_pooling():
    torch.manual_seed(0)
    tower = create_image_tower("tiny-cxr-resnet").eval()
    x = torch.randn(2, 1, 64, 64)
    raw = tower.model.forward_features(x)  # [B, F, h, w]
    feats = tower.forward_features(x)
    torch.testing.assert_close(feats.as_map(), raw)
    torch.testing.assert_close(tower.forward_head(feats), raw.mean((2, 3)))


def test_channels_come_from_config():
    cfg = load_model_config("tiny-cxr-resnet", ["image.in_chans=3"]).image
    tower = create_image_tower(cfg)
    assert tower.forward_features(torch.randn(1, 3, 64, 64)).tokens.shape[0] == 1
    with pytest.raises(ValueError, match=r"built for 3 channel\(s\); got 1"):
        tower.forward_features(torch.randn(1, 1, 64, 64))


def test_input_checks():
    tower = create_image_tower("tiny-cxr-resnet")
    with pytest.raises(ValueError, match=r"reads \[B, C, H, W\] images"):
        tower.forward_features(torch.randn(1, 1, 4, 64, 64))
    with pytest.raises(ValueError, match="depth_mask is only for 3D"):
        tower.forward_features(torch.randn(1, 1, 64, 64), torch.ones(1, 4, dtype=torch.bool))
    cfg = load_model_config("tiny-cxr-resnet", {"image": {"kwargs": {"pretrained": True}}}).image
    with pytest.raises(ValueError, match=r"kwargs\.pretrained is not allowed"):
        create_image_tower(cfg)


@pytest.mark.parametrize("freeze", [False, True])
def test_gradients_and_freeze(freeze: bool):
    cfg = load_model_config("tiny-cxr-vit", [f"image.freeze={str(freeze).lower()}"]).image
    tower = create_image_tower(cfg).train()
    assert tower.training is not freeze  # a frozen tower stays in eval mode
    feats = tower.forward_features(torch.randn(2, 1, 64, 64))
    out = tower.forward_head(feats).sum() + feats.tokens.sum()
    if freeze:
        assert not out.requires_grad
        assert all(not p.requires_grad for p in tower.parameters())
    else:
        out.backward()
        assert [n for n, p in tower.named_parameters() if p.grad is None] == []
