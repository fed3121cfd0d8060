"""Projection heads and the learnable logit scale/bias."""

from __future__ import annotations

import math

import pytest
import torch

from medvlp.models.projection import LogitScale
from medvlp.registry import PROJECTIONS


@pytest.mark.parametrize("name", PROJECTIONS.names())
def test_heads_map_any_leading_shape(name: str):
    head = PROJECTIONS.build(name, 24, 16, hidden_dim=32)
    assert head(torch.randn(3, 24)).shape == (3, 16)
    assert head(torch.randn(2, 5, 24)).shape == (2, 5, 16)  # tokens [B, N, F] -> [B, N, E]
    head(torch.randn(3, 24)).sum().backward()
    assert all(p.grad is not None for p in head.parameters())


def test_logit_scale_init_clamp_and_bias():
    scale = LogitScale(temperature_init=0.07, max_scale=100.0, bias_init=-10.0)
    torch.testing.assert_close(scale.scale(), torch.tensor(1 / 0.07))
    assert math.isclose(scale.logit_scale.item(), math.log(1 / 0.07), rel_tol=1e-6)
    with torch.no_grad():
        scale.logit_scale.fill_(10.0)
    torch.testing.assert_close(scale.scale(), torch.tensor(100.0))
    assert scale.bias().item() == -10.0
    (scale.scale() + scale.bias()).backward()
    assert scale.logit_bias.grad is not None
