"""Pairwise sigmoid loss (SigLIP): every (image, text) pair of the global batch is an independent binary
classification, logit = logit_scale * <image, text> + logit_bias, no softmax over the batch.

loss = -(1/R) * sum over the R image rows and all G texts of [y log sigmoid(z) + (1 - y) log sigmoid(-z)], with
y = 1 on matched pairs and 0 otherwise: SigLIP's -log sigmoid(label * z) with label in {+1, -1}. The negatives are
the gathered texts of every rank (gather.py) rather than SigLIP's chunked ring exchange: simpler, same loss.
Soft targets (soft_targets.py) give y = C[i, j] / max_j C[i, j]: the matched pair stays 1, reports sharing
findings or mixed partners get their relative weight.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.losses.contrastive import contrast_sides
from medvlp.losses.gather import gather_features, rank
from medvlp.losses.registry import register_loss
from medvlp.losses.soft_targets import SoftTargets
from medvlp.models.outputs import VLPOutput


def siglip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    logit_scale: torch.Tensor,
    logit_bias: torch.Tensor,
    content: torch.Tensor | None = None,
    local_loss: bool = True,
    gather_with_grad: bool = True,
) -> torch.Tensor:
    """Sigmoid loss of image [b, E] rows against the gathered texts; content: optional [G, G] soft weights."""
    if local_loss:  # only the texts are needed from the other ranks
        (all_txt,) = gather_features(text, gather_with_grad=gather_with_grad)  # [G, E]
        img_rows, offset = image, rank() * image.shape[0]
    else:
        img_rows, _, _, all_txt, offset = contrast_sides(image, text, local_loss, gather_with_grad)
    logits = logit_scale * img_rows @ all_txt.T + logit_bias  # [R, G]
    rows = slice(offset, offset + img_rows.shape[0])
    if content is None:
        y = torch.zeros_like(logits)
        y[:, rows] = torch.eye(img_rows.shape[0], dtype=y.dtype, device=y.device)
    else:
        c = content[rows]  # [R, G]
        y = (c / c.amax(-1, keepdim=True).clamp_min(1e-12)).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, y, reduction="sum") / img_rows.shape[0]


@register_loss("siglip")
class SigLipLoss(nn.Module):
    """SigLIP on VLPOutput embeddings; needs the model's logit_bias. Knobs: as ClipLoss (local_loss,
    gather_with_grad, SoftTargets options)."""

    def __init__(self, local_loss: bool = True, gather_with_grad: bool = True, **soft: Any) -> None:
        super().__init__()
        self.local_loss, self.gather_with_grad = local_loss, gather_with_grad
        self.targets = SoftTargets(**soft)

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        if out.logit_bias is None:
            raise ValueError("the siglip loss needs VLPOutput.logit_bias; build the model with a logit bias")
        img, txt = out.image.embeds, out.text.embeds
        content = self.targets.content(batch, gathered=True, like=img)
        loss = siglip_loss(img, txt, out.logit_scale, out.logit_bias, content, self.local_loss, self.gather_with_grad)
        return {"siglip_loss": loss, "loss": loss}
