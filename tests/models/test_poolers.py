"""Depth poolers honour depth_mask exactly; text poolers combine chunks."""

from __future__ import annotations

import pytest
import torch

from medvlp.registry import POOLERS, TEXT_POOLERS


@pytest.mark.parametrize("name", POOLERS.names())
def test_depth_pooler_shapes_mask_and_gradients(name: str):
    torch.manual_seed(0)
    pooler = POOLERS.build(name, 16).eval()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 6, 16, generator=g)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    out = pooler(x, mask)
    assert out.shape == (2, 16)
    # Masked slices may hold anything, and more padding may follow: the result does not move.
    y = torch.cat([x, torch.randn(2, 3, 16, generator=g)], dim=1)
    y[1, 4:] = 100.0
    mask_y = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(pooler(y, mask_y), out)
    torch.testing.assert_close(pooler(x[1:, :4]), out[1:])  # the same row without padding
    # All-masked rows give finite output; gradients reach every parameter.
    assert torch.isfinite(pooler(x, torch.zeros(2, 6, dtype=torch.bool))).all()
    pooler.train()
    pooler(x.requires_grad_(True), mask).sum().backward()
    assert all(p.grad is not None for p in pooler.parameters())
    assert x.grad[1, 4:].abs().sum() == 0  # no gradient reaches masked slices


def test_attention_weights_sum_to_one_over_real_slices():
    pooler = POOLERS.build("attention", 8)
    mask = torch.tensor([[True, True, False, True]])
    w = pooler.weights(torch.randn(1, 4, 8), mask)
    torch.testing.assert_close(w.sum(), torch.tensor(1.0))
    assert w[0, 2] == 0


def test_transformer_pooler_depth_limit():
    pooler = POOLERS.build("transformer", 8, heads=2, max_depth=4)
    with pytest.raises(ValueError, match="exceed max_depth=4"):
        pooler(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="heads=3 must divide"):
        POOLERS.build("transformer", 8, heads=3)


def test_text_poolers():
    tokens = torch.arange(24, dtype=torch.float32).reshape(1, 4, 6)  # [B, L, H]
    mask = torch.tensor([[True, True, True, False]])
    chunk_cls = torch.stack([tokens[:, 0], tokens[:, 2], torch.full_like(tokens[:, 0], 99)], dim=1)  # [B, K=3, H]
    chunk_mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(TEXT_POOLERS.build("mean", tokens, mask, chunk_cls, chunk_mask), tokens[:, :3].mean(1))
    torch.testing.assert_close(
        TEXT_POOLERS.build("cls", tokens, mask, chunk_cls, chunk_mask), (tokens[:, 0] + tokens[:, 2]) / 2
    )
