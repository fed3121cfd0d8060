"""Anatomy and pathology stream losses (MeDSLIP): the streams' learned queries are aligned with the
knowledge-graph entities the report mentions, and the two streams are linked through per-sample prototypes.

Entity alignment (one loss per stream, "pathology" and "anatomy"): the score of sample b for entity k is the best
query's similarity, s_bk = scale * max_q <query_bq, entity_k>, over the stream's entities only (pathology queries
against non-anatomy entities, anatomy queries against anatomy entities). Each positive entity k of the report
(batch["entity_ids"]) is a multi-positive contrastive term: -log(exp(s_bk) / (exp(s_bk) + sum of exp(s_bk') over the
entities k' the report does not mention)); the report's other positives are left out of the denominator so they
do not compete. The loss is the mean over all (sample, positive entity) pairs, 0 when the batch has none.

Prototype link ("stream_proto"): per sample and stream, a prototype is the mean of the queries that best match
each of the report's positive entities of that stream (all queries when it has none), L2-normalised. A symmetric
InfoNCE over the local batch makes a sample's pathology prototype pick out its own anatomy prototype: what the
pathology stream found and where the anatomy stream looked must come from the same image. This is the chosen
inter-stream term (MeDSLIP's prototype contrast between the streams, at sample level).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.losses.registry import register_loss
from medvlp.models.outputs import StreamOutput, VLPOutput


def positive_entities(entity_ids: torch.Tensor, num_entities: int) -> torch.Tensor:
    """[B, E] entity ids padded with -1 -> [B, K] bool multi-hot of the mentioned entities."""
    if num_entities == 0:
        raise ValueError("the model has no entity table (K = 0): call VLPModel.set_entities before stream losses")
    if entity_ids.numel() and int(entity_ids.max()) >= num_entities:
        raise ValueError(f"entity id {int(entity_ids.max())} is outside the model's entity table of {num_entities}")
    valid = entity_ids >= 0  # [B, E]
    hot = torch.zeros(entity_ids.shape[0], num_entities + 1, dtype=torch.bool, device=entity_ids.device)
    hot.scatter_(1, torch.where(valid, entity_ids, num_entities), True)  # padding lands in the extra column
    return hot[:, :num_entities]


def entity_alignment_loss(
    queries: torch.Tensor, entities: torch.Tensor, positives: torch.Tensor, in_stream: torch.Tensor, scale: Any
) -> torch.Tensor:
    """Multi-positive contrast of query outputs [B, Q, E] with entity embeddings [K, E].

    positives: [B, K] bool mentioned entities; in_stream: [K] bool entities of this stream.
    """
    scores = scale * torch.einsum("bqe,ke->bqk", queries, entities).amax(1)  # [B, K]
    pos = positives & in_stream[None]  # [B, K]
    neg = in_stream[None] & ~positives  # [B, K]
    neg_lse = scores.masked_fill(~neg, float("-inf")).logsumexp(-1, keepdim=True)  # [B, 1]
    terms = torch.logaddexp(scores, neg_lse) - scores  # [B, K]: -log of the positive's share
    n = pos.sum()
    return torch.where(pos, terms, torch.zeros_like(terms)).sum() / n.clamp_min(1)


def stream_prototypes(queries: torch.Tensor, entities: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """[B, Q, E] queries -> [B, E] normalised mean of the best query of each positive entity ([B, K] bool).

    A sample without positive entities averages all its queries.
    """
    best = torch.einsum("bqe,ke->bqk", queries, entities).argmax(1)  # [B, K] best query per entity
    onehot = F.one_hot(best, queries.shape[1]).to(queries.dtype)  # [B, K, Q]
    weight = (onehot * positives[..., None].to(queries.dtype)).sum(1)  # [B, Q] times a query is chosen
    weight = torch.where(weight.sum(-1, keepdim=True) > 0, weight, torch.ones_like(weight))
    return F.normalize(torch.einsum("bq,bqe->be", weight, queries), dim=-1)  # [B, E]


def prototype_loss(proto_a: torch.Tensor, proto_b: torch.Tensor, scale: Any) -> torch.Tensor:
    """Symmetric InfoNCE between two [B, E] prototype sets: sample i's a matches sample i's b."""
    logits = scale * proto_a @ proto_b.T  # [B, B]
    target = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _streams(out: VLPOutput, name: str) -> StreamOutput:
    if out.streams is None:
        raise ValueError(f"the {name} loss needs a model with anatomy/pathology streams (VLPOutput.streams is None)")
    return out.streams


class _StreamLoss(nn.Module):
    """Shared plumbing: temperature (None = the model's logit_scale) and the positive-entity table."""

    def __init__(self, temperature: float | None = None) -> None:
        super().__init__()
        self.temperature = temperature

    def _scale(self, out: VLPOutput) -> Any:
        return out.logit_scale if self.temperature is None else 1.0 / self.temperature

    def _positives(self, streams: StreamOutput, batch: Mapping[str, Any]) -> torch.Tensor:
        ids = torch.as_tensor(batch["entity_ids"], device=streams.entity_embeds.device)
        return positive_entities(ids, streams.entity_embeds.shape[0])  # [B, K]


@register_loss("pathology")
class PathologyStreamLoss(_StreamLoss):
    """Pathology queries vs the report's positive non-anatomy entities. Knob: temperature."""

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        s = _streams(out, "pathology")
        in_stream = ~s.entity_is_anatomy.bool()
        pos = self._positives(s, batch)
        loss = entity_alignment_loss(s.pathology, s.entity_embeds, pos, in_stream, self._scale(out))
        return {"pathology_loss": loss, "loss": loss}


@register_loss("anatomy")
class AnatomyStreamLoss(_StreamLoss):
    """Anatomy queries vs the report's positive anatomy entities. Knob: temperature."""

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        s = _streams(out, "anatomy")
        in_stream = s.entity_is_anatomy.bool()
        pos = self._positives(s, batch)
        loss = entity_alignment_loss(s.anatomy, s.entity_embeds, pos, in_stream, self._scale(out))
        return {"anatomy_loss": loss, "loss": loss}


@register_loss("stream_proto")
class StreamPrototypeLoss(_StreamLoss):
    """Pathology-anatomy prototype contrast over the local batch. Knob: temperature."""

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        s = _streams(out, "stream_proto")
        pos, anat = self._positives(s, batch), s.entity_is_anatomy.bool()
        proto_p = stream_prototypes(s.pathology, s.entity_embeds, pos & ~anat[None])  # [B, E]
        proto_a = stream_prototypes(s.anatomy, s.entity_embeds, pos & anat[None])  # [B, E]
        loss = prototype_loss(proto_p, proto_a, self._scale(out))
        return {"stream_proto_loss": loss, "loss": loss}
