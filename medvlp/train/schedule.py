"""Precomputed per-step schedules (learning rate, weight decay): arrays built once, indexed by step.

Precomputing keeps the loop free of schedule logic and makes resume trivial: the value at step s is table[s].
"""

from __future__ import annotations

import math

import torch


def warmup_cosine(total_steps: int, base: float, warmup_steps: int = 0, final: float = 0.0) -> torch.Tensor:
    """[total_steps] float64: linear warm-up from 0 to `base`, then a cosine decay to `final`."""
    if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
        raise ValueError(f"schedule needs 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}), total > 0")
    steps = torch.arange(total_steps, dtype=torch.float64)
    warm = base * (steps + 1) / max(1, warmup_steps)
    progress = (steps - warmup_steps) / max(1, total_steps - warmup_steps)
    cosine = final + 0.5 * (base - final) * (1 + torch.cos(math.pi * progress.clamp(0, 1)))
    return torch.where(steps < warmup_steps, warm, cosine)


def apply_schedule(
    optimizer: torch.optim.Optimizer, step: int, lr: torch.Tensor, weight_decay: torch.Tensor | None = None
) -> None:
    """Set each param group's lr (scaled by its `lr_scale`, default 1) and weight decay for `step`."""
    s = min(step, len(lr) - 1)
    for group in optimizer.param_groups:
        group["lr"] = float(lr[s]) * group.get("lr_scale", 1.0)
        if weight_decay is not None and group.get("weight_decay", 0.0) != 0.0:
            group["weight_decay"] = float(weight_decay[s])
