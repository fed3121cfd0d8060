"""Global report-image contrast (CLIP / ConVIRT InfoNCE) over the gathered global batch, with optional soft
targets (label-aware, MedCutMix).

Symmetric cross-entropy: each image's logits over all texts of the global batch (and each text's over all images),
scaled by the model's exp()'d logit_scale. `local_loss=True` (default) computes only the local rows against the
gathered columns ([b, G] logits instead of [G, G]); with `gather_with_grad=True` the gradients still equal those
of the global-batch loss (see gather.py), and the mean of the ranks' losses equals the global loss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.losses.gather import gather_features, rank
from medvlp.losses.registry import register_loss
from medvlp.losses.soft_targets import SoftTargets, row_normalise, soft_cross_entropy
from medvlp.models.outputs import VLPOutput


def contrast_sides(
    image: torch.Tensor, text: torch.Tensor, local_loss: bool, gather_with_grad: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Rows and columns of the contrast: (image rows, text rows, all images, all texts, offset of the rows).

    image, text: [b, E] local embeddings. Columns are the gathered [G, E]; rows are the local [b, E] at offset
    rank*b (local_loss) or the gathered [G, E] at offset 0.
    """
    all_img, all_txt = gather_features(image, text, gather_with_grad=gather_with_grad)  # [G, E] each
    if local_loss:
        return image, text, all_img, all_txt, rank() * image.shape[0]
    return all_img, all_txt, all_img, all_txt, 0


def clip_loss(
    image: torch.Tensor,
    text: torch.Tensor,
    logit_scale: torch.Tensor,
    content: torch.Tensor | None = None,
    local_loss: bool = True,
    gather_with_grad: bool = True,
) -> torch.Tensor:
    """Symmetric InfoNCE of image [b, E] and text [b, E] (L2-normalised) over the global batch.

    content: optional [G, G] soft-target weights (soft_targets.SoftTargets.content over the gathered batch);
    None = the pair i <-> i is the only positive.
    """
    img_rows, txt_rows, all_img, all_txt, offset = contrast_sides(image, text, local_loss, gather_with_grad)
    logits_i = logit_scale * img_rows @ all_txt.T  # [R, G]
    logits_t = logit_scale * txt_rows @ all_img.T  # [R, G]
    rows = slice(offset, offset + img_rows.shape[0])
    if content is None:
        target = torch.arange(rows.start, rows.stop, device=image.device)  # [R]
        return (F.cross_entropy(logits_i, target) + F.cross_entropy(logits_t, target)) / 2
    t_i = row_normalise(content[rows])  # [R, G]
    t_t = row_normalise(content.T[rows])  # [R, G]
    return (soft_cross_entropy(logits_i, t_i) + soft_cross_entropy(logits_t, t_t)) / 2


@register_loss("clip")
class ClipLoss(nn.Module):
    """CLIP InfoNCE on VLPOutput.image.embeds / text.embeds with the model's logit_scale.

    Knobs: local_loss, gather_with_grad (gather.py) and the SoftTargets options (soft_labels, uncertain,
    similarity, label_weight, use_mix_targets).
    """

    def __init__(self, local_loss: bool = True, gather_with_grad: bool = True, **soft: Any) -> None:
        super().__init__()
        self.local_loss, self.gather_with_grad = local_loss, gather_with_grad
        self.targets = SoftTargets(**soft)

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        img, txt = out.image.embeds, out.text.embeds
        content = self.targets.content(batch, gathered=True, like=img)
        loss = clip_loss(img, txt, out.logit_scale, content, self.local_loss, self.gather_with_grad)
        return {"clip_loss": loss, "loss": loss}
