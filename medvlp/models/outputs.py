"""Typed model outputs: the contract between models (medvlp/models) and losses (medvlp/losses)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class ImageOutput:
    """What an image tower + projection gives for a batch.

    embeds: [B, E] L2-normalised global embedding in the joint space.
    tokens: [B, N, E] projected local tokens (patches; for 3D slice pooling, slice-patch tokens), not normalised.
    token_mask: [B, N] bool, False for tokens of padded slices.
    grid: spatial shape of the tokens before flattening, e.g. (h, w) or (d, h, w), for attention maps.
    """

    embeds: torch.Tensor
    tokens: torch.Tensor
    token_mask: torch.Tensor
    grid: tuple[int, ...]


@dataclass
class TextOutput:
    """What a text tower + projection gives for a batch.

    embeds: [B, E] L2-normalised report embedding. tokens: [B, L, E] projected word tokens. mask: [B, L] bool.
    """

    embeds: torch.Tensor
    tokens: torch.Tensor
    mask: torch.Tensor


@dataclass
class StreamOutput:
    """Anatomy and pathology streams (MeDSLIP): learned queries attending over image tokens.

    anatomy: [B, Qa, E] and pathology: [B, Qp, E] query outputs in the joint space (L2-normalised).
    anatomy_attn: [B, Qa, N] and pathology_attn: [B, Qp, N] attention of each query over the image tokens.
    entity_embeds: [K, E] L2-normalised text embeddings of the knowledge-graph entities the streams align to
    (row k = entity index k of batch['entity_ids']; K = 0 until VLPModel.set_entities is called).
    entity_is_anatomy: [K] bool.
    link_attn: [B, Qp, Qa] attention of each pathology query over the anatomy query outputs (the prototype link),
    None when the model has no link.
    """

    anatomy: torch.Tensor
    pathology: torch.Tensor
    anatomy_attn: torch.Tensor
    pathology_attn: torch.Tensor
    entity_embeds: torch.Tensor
    entity_is_anatomy: torch.Tensor
    link_attn: torch.Tensor | None = None


@dataclass
class VLPOutput:
    """Everything a forward pass gives the losses; `streams` is None when the model has no streams."""

    image: ImageOutput
    text: TextOutput
    logit_scale: torch.Tensor  # scalar, already exp()'d
    logit_bias: torch.Tensor | None = None  # scalar, for the sigmoid loss
    streams: StreamOutput | None = None
    prompt_embeds: torch.Tensor | None = None  # [K, 2, E] class vectors of the prompt bank (VLPModel.set_prompts)


def tensor_fields(obj: Any) -> list[tuple[str, torch.Tensor]]:
    """(field name, tensor) of every tensor field of a nested output dataclass, in field order."""
    out: list[tuple[str, torch.Tensor]] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            out += tensor_fields(value)
        elif isinstance(value, torch.Tensor):
            out.append((f.name, value))
    return out


def replace_tensors(obj: Any, values: Iterator[torch.Tensor]) -> Any:
    """A copy of a nested output dataclass whose tensor fields take, in tensor_fields order, the next of `values`."""
    changes = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            changes[f.name] = replace_tensors(value, values)
        elif isinstance(value, torch.Tensor):
            changes[f.name] = next(values)
    return dataclasses.replace(obj, **changes)


def to_float(obj: Any) -> Any:
    """The output with its bf16/fp16 tensors cast to fp32 (differentiably), so losses reduce in full precision;
    fp32 and fp64 tensors stay as they are."""
    half = (torch.bfloat16, torch.float16)
    fields = tensor_fields(obj)
    if not any(t.dtype in half for _, t in fields):
        return obj
    return replace_tensors(obj, (t.float() if t.dtype in half else t for _, t in fields))
