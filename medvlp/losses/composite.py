"""A weighted sum of registered losses, built from config: {"<name>": weight} (+ per-loss options)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from medvlp.losses.registry import available_losses, build_loss
from medvlp.models.outputs import VLPOutput, to_float
from medvlp.registry import UnknownComponentError


class CompositeLoss(nn.Module):
    """loss = sum_name weight[name] * name's loss, with every term reported unweighted under "<name>_loss".

    weights: {"clip": 1.0, "local": 0.5, ...}; zero-weight terms are not built nor run. options: per-loss keyword
    arguments, e.g. {"clip": {"soft_labels": True}}. An unknown name (in weights or options) is an error
    (UnknownComponentError, a KeyError) that lists the available losses; a negative weight or no positive weight
    is a ValueError.
    """

    def __init__(self, weights: Mapping[str, float], options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        super().__init__()
        options = dict(options or {})
        unknown = sorted((set(weights) | set(options)) - set(available_losses()))
        if unknown:
            raise UnknownComponentError(f"unknown loss name(s) {unknown}; available: {', '.join(available_losses())}")
        negative = {k: w for k, w in weights.items() if float(w) < 0}
        if negative:
            raise ValueError(f"loss weights must be >= 0, got {negative}")
        self.weights = {k: float(w) for k, w in weights.items() if float(w) > 0}
        if not self.weights:
            raise ValueError(f"no loss has a positive weight in {dict(weights)}")
        self.terms = nn.ModuleDict({k: self._build(k, options.get(k, {})) for k in self.weights})

    @staticmethod
    def _build(name: str, options: Mapping[str, Any]) -> nn.Module:
        try:
            return build_loss(name, **options)
        except TypeError as err:  # a misspelt option: say which loss it was given to
            raise TypeError(f"options {dict(options)} of loss {name!r}: {err}") from err

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        device = out.image.embeds.device.type
        with torch.autocast(device, enabled=False):  # under bf16 autocast, the losses still reduce in fp32
            out = to_float(out)
            result: dict[str, torch.Tensor] = {}
            total: torch.Tensor | float = 0.0
            for name, loss in self.terms.items():
                parts = loss(out, batch)
                result.update({k: v for k, v in parts.items() if k != "loss"})
                total = total + self.weights[name] * parts["loss"]
        result["loss"] = total  # type: ignore[assignment]
        return result
