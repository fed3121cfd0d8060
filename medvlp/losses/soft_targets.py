"""Soft contrastive targets: reports that share findings are not treated as negatives (MedKLIP/KAD/DeViDe idea),
and mixed pairs (MedCutMix) are partial positives of their partner.

The targets of a batch come from a non-negative "content" matrix C [G, G]: C[i, j] says how much image i matches
text j. C = T @ S, where
- S is the label similarity of the reports: (1 - label_weight) * I + label_weight * J, with J[i, j] the weighted
  Jaccard (or cosine) similarity of the positive-label vectors (1 -> 1, -1 uncertain -> `uncertain`, 0 and NaN
  -> 0). A report without positive labels is similar only to itself (J[i, i] = 1), so a batch whose reports
  share no positive label gives S = I: hard targets;
- T is the MedCutMix target matrix (batch["mix_targets"], per rank [b, b], block-diagonal once gathered; I when
  there is no mixing): mixed image i contains its own sample and part of its partner's.
Image->text targets are the rows of C normalised to sum 1, text->image targets the rows of C^T. With S = T = I the
targets are the identity and the soft cross-entropy equals the usual one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from medvlp.losses.gather import gather_nograd

SIMILARITIES = ("jaccard", "cosine")


def positive_labels(labels: torch.Tensor, uncertain: float = 0.0) -> torch.Tensor:
    """[B, K] labels (1, 0, -1, NaN) -> [B, K] positive weights: 1 -> 1, -1 -> uncertain, 0 and NaN -> 0."""
    pos = (labels == 1).to(labels.dtype)
    return pos + float(uncertain) * (labels == -1).to(labels.dtype)


def label_similarity(labels: torch.Tensor, uncertain: float = 0.0, kind: str = "jaccard") -> torch.Tensor:
    """[B, K] labels -> [B, B] similarity of the positive-label vectors, with S[i, i] = 1 for every report.

    jaccard: sum_k min(p_i, p_j) / sum_k max(p_i, p_j) (the plain Jaccard index for 0/1 vectors); cosine: the
    cosine of p_i and p_j. Pairs involving a report without positive labels are 0 off the diagonal.
    """
    if kind not in SIMILARITIES:
        raise ValueError(f"unknown label similarity {kind!r}; choose one of {SIMILARITIES}")
    p = positive_labels(labels, uncertain)  # [B, K]
    if kind == "jaccard":
        inter = torch.minimum(p[:, None, :], p[None, :, :]).sum(-1)  # [B, B]
        union = torch.maximum(p[:, None, :], p[None, :, :]).sum(-1)  # [B, B]
        sim = inter / union.clamp_min(1e-12)
    else:
        norm = p.norm(dim=-1).clamp_min(1e-12)  # [B]
        sim = (p @ p.T) / (norm[:, None] * norm[None, :])  # [B, B]
    eye = torch.eye(len(p), dtype=sim.dtype, device=sim.device)
    return torch.where(eye.bool(), eye, sim)


def block_diagonal(blocks: torch.Tensor) -> torch.Tensor:
    """Gathered per-rank [W*b, b] blocks -> the [W*b, W*b] block-diagonal matrix (mixing pairs stay in a rank)."""
    b = blocks.shape[1]
    return torch.block_diag(*blocks.reshape(-1, b, b).unbind(0))  # [W, b, b] -> [W*b, W*b]


def row_normalise(weights: torch.Tensor) -> torch.Tensor:
    """Rows of a non-negative matrix scaled to sum to 1."""
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-12)


@dataclass
class SoftTargets:
    """Options of the soft targets shared by the contrastive losses (config knobs of clip / siglip / local).

    soft_labels: use label similarity S; uncertain: the weight of an uncertain (-1) label (0, 0.5 or 1);
    similarity: "jaccard" or "cosine"; label_weight: mix of S with the identity; use_mix_targets: read
    batch["mix_targets"] from medcutmix when present.
    """

    soft_labels: bool = False
    uncertain: float = 0.0
    similarity: str = "jaccard"
    label_weight: float = 1.0
    use_mix_targets: bool = True

    def __post_init__(self) -> None:
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"unknown label similarity {self.similarity!r}; choose one of {SIMILARITIES}")
        if not 0.0 <= self.uncertain <= 1.0 or not 0.0 <= self.label_weight <= 1.0:
            raise ValueError(f"uncertain and label_weight lie in [0, 1], got {self.uncertain}, {self.label_weight}")

    def content(self, batch: Mapping[str, Any], gathered: bool, like: torch.Tensor) -> torch.Tensor | None:
        """The content matrix C ([G, G] over the gathered batch if `gathered`, else [b, b]) on the device of
        `like`, at least float32; None = hard targets."""
        labels = batch.get("labels") if self.soft_labels else None
        mix = batch.get("mix_targets") if self.use_mix_targets else None
        if labels is None and mix is None:
            return None
        c, kw = None, {"device": like.device, "dtype": torch.promote_types(like.dtype, torch.float32)}
        if mix is not None:
            mix = mix.to(**kw)
            c = block_diagonal(gather_nograd(mix)) if gathered else mix  # [G, G] or [b, b]
        if labels is not None:
            labels = labels.to(**kw)
            labels = gather_nograd(labels) if gathered else labels  # [G, K] or [b, K]
            sim = label_similarity(labels, self.uncertain, self.similarity)
            eye = torch.eye(len(sim), dtype=sim.dtype, device=sim.device)
            sim = (1 - self.label_weight) * eye + self.label_weight * sim
            c = sim if c is None else c @ sim
        return c


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of -sum_j targets[r, j] * log_softmax(logits[r])_j; logits, targets [R, G]."""
    return -(targets * logits.log_softmax(dim=-1)).sum(-1).mean()
