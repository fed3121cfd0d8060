"""Model + loss as one module: the loop only ever calls `losses = task(batch)`.

The task also owns the EMA copy of the model and the parameter groups (no weight decay on biases, norms,
embeddings of position and the temperature), so the loop stays free of model knowledge.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class TrainingTask(nn.Module):
    """Wraps a VLPModel and a CompositeLoss; optionally keeps an exponential moving average of the weights."""

    def __init__(self, model: nn.Module, loss: nn.Module, ema_decay: float = 0.0) -> None:
        super().__init__()
        self.model, self.loss = model, loss
        self.ema_decay = ema_decay
        self.ema: nn.Module | None = None
        if ema_decay > 0:  # of the bare model, never of a DDP/FSDP wrapper
            self.ema = copy.deepcopy(getattr(model, "module", model)).eval().requires_grad_(False)

    def forward(self, batch: dict[str, Any], features_only: bool = False) -> Any:
        """The loss dict, or only the model's outputs (contrastive accumulation applies the loss itself)."""
        out = self.model(batch)
        return out if features_only else self.loss(out, batch)

    @torch.no_grad()
    def update_ema(self) -> None:
        if self.ema is None:
            return
        bare = getattr(self.model, "module", self.model)
        for e, p in zip(self.ema.parameters(), bare.parameters(), strict=True):
            e.lerp_(p.detach(), 1.0 - self.ema_decay)
        for e, b in zip(self.ema.buffers(), bare.buffers(), strict=True):
            e.copy_(b)

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """AdamW groups: decay on weight matrices and kernels only."""
        decay, no_decay = [], []
        for name, p in self.model.named_parameters():
            if not p.requires_grad:
                continue
            skip = p.ndim < 2 or "logit" in name or "pos_embed" in name or "position_embeddings" in name
            (no_decay if skip else decay).append(p)
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
