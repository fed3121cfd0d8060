"""Contrastive gradient accumulation that keeps the whole batch of negatives (the GradCache idea).

Plain accumulation splits a batch into micro-batches and sums their losses, so each micro-batch only contrasts
against its own few negatives: a different, weaker objective. Here instead:
1. every micro-batch is encoded without gradients and its outputs are cached (the RNG state before each is
   kept, so dropout draws the same masks again in step 3);
2. the loss runs once on the concatenated outputs, as if the batch had fit, and its gradient with respect to
   each cached output is taken;
3. every micro-batch is encoded again with gradients and back-propagated with that output gradient
   (`<output, grad>` as a surrogate), under DDP's no_sync on all but the last one.
The weights then get the gradient of the full-batch loss (exactly, up to float rounding, for models without
batch statistics; BatchNorm normalises per micro-batch and updates its running statistics twice). Memory holds
the outputs of the whole batch but the activations of one micro-batch only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from torch import nn

from medvlp.models.outputs import replace_tensors, tensor_fields

# Output fields computed once per forward rather than per sample: their gradient is applied on one micro-batch.
GLOBAL_FIELDS = frozenset({"logit_scale", "logit_bias", "entity_embeds", "entity_is_anatomy", "prompt_embeds"})


def split_batch(batch: dict[str, Any], parts: int) -> list[dict[str, Any]]:
    """Cut a collated batch into `parts` micro-batches along dim 0 (tensors and lists alike)."""
    size = len(batch["sample_id"])
    if size % parts:
        raise ValueError(
            f"data.batch_size ({size}) must be a multiple of train.accum_steps ({parts}): each micro-batch is equal"
        )
    step = size // parts
    return [
        {k: v[i * step : (i + 1) * step] if isinstance(v, (torch.Tensor, list)) else v for k, v in batch.items()}
        for i in range(parts)
    ]


def _concat(outputs: list[Any]) -> Any:
    """Per-sample fields concatenated along dim 0; global fields from the last micro-batch, whose recomputation
    takes their gradient (the prompt bank's class vectors are drawn anew per forward). Leaves need grad."""
    joined = []
    for column in zip(*(tensor_fields(o) for o in outputs), strict=True):  # one field, every micro-batch
        name = column[0][0]
        t = (column[-1][1] if name in GLOBAL_FIELDS else torch.cat([v for _, v in column])).detach()
        joined.append(t.requires_grad_(t.is_floating_point()))
    return replace_tensors(outputs[0], iter(joined))


def _grad_slice(name: str, cached: torch.Tensor, index: int, parts: int) -> torch.Tensor | None:
    """The cached output's gradient for micro-batch `index` (a global field's only on the last one)."""
    if cached.grad is None:
        return None
    if name in GLOBAL_FIELDS:
        return cached.grad if index == parts - 1 else None
    step = cached.shape[0] // parts
    return cached.grad[index * step : (index + 1) * step]


@contextmanager
def _sync(runner: nn.Module, enabled: bool) -> Iterator[None]:
    """DDP's no_sync (or FSDP2's gradient-sync switch) when `enabled` is False; nothing for a bare module."""
    if enabled:
        yield
    elif hasattr(runner, "no_sync"):
        with runner.no_sync():
            yield
    elif hasattr(runner, "set_requires_gradient_sync"):
        runner.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            runner.set_requires_gradient_sync(True)
    else:
        with nullcontext():
            yield


def _rng_state() -> tuple[torch.Tensor, list[torch.Tensor]]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor]]) -> None:
    torch.set_rng_state(state[0])
    if state[1]:
        torch.cuda.set_rng_state_all(state[1])


def accumulated_backward(
    runner: nn.Module, loss: nn.Module, batch: dict[str, Any], parts: int, autocast: Any = None
) -> dict[str, torch.Tensor]:
    """Back-propagate the full-batch loss of `batch` through `parts` micro-batches; return the loss dict.

    `runner` is the (possibly DDP-wrapped) TrainingTask called as runner(micro, features_only=True) -> VLPOutput;
    `loss` is its CompositeLoss, applied once to the concatenated outputs.
    """
    autocast = autocast or nullcontext()
    micro = split_batch(batch, parts)
    states, outputs = [], []
    with torch.no_grad():
        for mb in micro:
            states.append(_rng_state())
            with autocast:
                outputs.append(runner(mb, features_only=True))
    after = _rng_state()
    cached = _concat(outputs)
    with autocast:
        losses = loss(cached, batch)
    losses["loss"].backward()
    for i, mb in enumerate(micro):
        _set_rng_state(states[i])
        with _sync(runner, enabled=i == parts - 1):
            with autocast:
                out = runner(mb, features_only=True)
            terms = []
            for (name, old), (_, fresh) in zip(tensor_fields(cached), tensor_fields(out), strict=True):
                grad = _grad_slice(name, old, i, parts)
                if grad is not None and fresh.requires_grad:
                    terms.append((fresh.float() * grad.float()).sum())  # d<fresh, grad>/dw = grad . dfresh/dw
            torch.stack(terms).sum().backward()
    _set_rng_state(after)
    return {k: v.detach() for k, v in losses.items()}
