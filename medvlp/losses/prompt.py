"""The prompt loss (KAD / MedKLIP style): train the zero-shot classifier itself, with the report's labels.

For finding k the model's prompt bank gives a positive and a negative class vector (VLPModel.encode_prompts, sampled
from the knowledge graph's prompt ensembles); the logit of image i is scale * (<img_i, pos_k> - <img_i, neg_k>),
exactly the zero-shot head's score (medvlp.heads.zero_shot), and the target is the report labeler's label of
finding k (batch['labels'][:, k]): mentioned positive -> 1, negated or not mentioned -> 0, uncertain -> left out.
The targets come from the report text, never from image annotations, so the model stays text-supervised.

`text_weight` adds the same BCE on the report's own embedding (out.text.embeds): report-prompt alignment in the
text space, so the text tower learns what the prompts mean from the reports themselves and not only through the
image tower. A text tower trained from scratch learns this classifier slowly: on the phantom's training reports
alone, 300 steps bring a linear head on the report embedding to BCE 0.06 but the prompt pairs only to 0.30 (0.20
with mean pooling). Mean pooling and this term together added 0.02-0.03 zero-shot AUROC (README, Demo results).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.losses.registry import register_loss
from medvlp.models.outputs import VLPOutput


def masked_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """BCE over known labels: labeler 1 -> 1, 0 and NaN (not mentioned) -> 0, -1 (uncertain) left out."""
    target = (labels == 1).to(logits.dtype)
    keep = (labels != -1).to(logits.dtype)
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    return (loss * keep).sum() / keep.sum().clamp(min=1)


def prompt_logits(image: torch.Tensor, classes: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """image [B, E], class vectors [K, 2, E] (positive, negative), scale -> logits [B, K]."""
    pos, neg = classes.unbind(1)  # [K, E] each
    return scale * (image @ pos.T - image @ neg.T)  # [B, K]


@register_loss("prompt")
class PromptLoss(nn.Module):
    """Masked BCE of the prompt-pair logits against the report labels (see the module docstring).

    scale: a fixed logit scale for this loss instead of the model's (learned, shared with CLIP); None = the model's.
    text_weight: weight of the same loss on the report embeddings (0 = off); reported as `prompt_text_loss`.
    """

    def __init__(self, scale: float | None = None, text_weight: float = 0.0) -> None:
        super().__init__()
        self.scale = scale
        self.text_weight = text_weight

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        if out.prompt_embeds is None:
            raise ValueError(
                "loss 'prompt' needs the model's prompt bank (VLPModel.set_prompts); `medvlp pretrain` sets it from "
                "text.label_set when loss.weights has a 'prompt' entry"
            )
        labels = batch["labels"]
        if labels.shape[1] != out.prompt_embeds.shape[0]:
            raise ValueError(
                f"batch['labels'] has {labels.shape[1]} findings but the prompt bank {out.prompt_embeds.shape[0]}: "
                "build both from the same text.label_set"
            )
        scale = out.logit_scale if self.scale is None else torch.as_tensor(self.scale, dtype=out.image.embeds.dtype)
        loss = masked_bce(prompt_logits(out.image.embeds, out.prompt_embeds, scale), labels)
        parts = {"prompt_loss": loss}
        if self.text_weight > 0:
            text = masked_bce(prompt_logits(out.text.embeds, out.prompt_embeds, scale), labels)
            parts["prompt_text_loss"] = text
            loss = loss + self.text_weight * text
        return {**parts, "loss": loss}
