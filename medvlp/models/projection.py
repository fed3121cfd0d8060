"""Projection heads into the joint space, and the learnable logit scale (temperature) and bias of the losses."""

from __future__ import annotations

import math

import torch
from torch import nn

from medvlp.registry import PROJECTIONS


@PROJECTIONS.register("linear")
class LinearProjection(nn.Module):
    """One linear map without bias (CLIP): [..., in_dim] -> [..., out_dim]."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.proj = nn.Linear(in_dim, out_dim, bias=False)
        nn.init.normal_(self.proj.weight, std=in_dim**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.drop(x))


@PROJECTIONS.register("mlp")
class MLPProjection(nn.Module):
    """Linear -> GELU -> Linear (ConVIRT, MGCA): [..., in_dim] -> [..., out_dim]."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = hidden_dim or out_dim
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LogitScale(nn.Module):
    """Learnable log-temperature and bias: scale() = exp(logit_scale) clamped to max_scale; bias() for SigLIP.

    The clamp happens in the forward pass (gradient 0 beyond the cap), so no optimizer hook is needed.
    """

    def __init__(self, temperature_init: float = 0.07, max_scale: float = 100.0, bias_init: float = -10.0) -> None:
        super().__init__()
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / temperature_init)))
        self.logit_bias = nn.Parameter(torch.tensor(float(bias_init)))
        self.max_log = math.log(max_scale)

    def scale(self) -> torch.Tensor:
        """exp(logit_scale), at most max_scale: a scalar."""
        return self.logit_scale.clamp(max=self.max_log).exp()

    def bias(self) -> torch.Tensor:
        return self.logit_bias
