"""Gather features from every rank for global negatives: the only module of medvlp/losses that touches
torch.distributed.

CLIP-style losses get better with more negatives, so each rank contrasts its local samples against the features
of the whole global batch (open_clip's `gather_features` idea). `gather_features` concatenates the ranks' tensors
in rank order; with `gather_with_grad=True` the gather is an autograd function whose backward sums the gradient
of the gathered tensor over ranks and hands each rank its own slice, so the local features receive the gradient
of every rank's loss. With that, for a loss computed on gathered features, each rank's gradient of its local
features is world_size x the gradient of the single-process loss on the concatenated batch; DDP averages gradients
over ranks, so the parameter update equals single-process training on the global batch (tests/losses checks
this with a real 2-process gloo run). With `gather_with_grad=False` the other ranks' slices are constants and only
the local slice carries gradient (cheaper, not exact).

In one process (or when torch.distributed is not initialised) every function is a no-op.
All ranks must pass tensors of the same shape (use drop_last in the sampler).
"""

from __future__ import annotations

import torch
import torch.distributed as dist


def _initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def _world_size() -> int:
    return dist.get_world_size() if _initialized() else 1


def _rank() -> int:
    return dist.get_rank() if _initialized() else 0


def _all_gather(tensor: torch.Tensor) -> list[torch.Tensor]:
    """One tensor per rank, in rank order (no autograd)."""
    out = [torch.empty_like(tensor) for _ in range(_world_size())]
    dist.all_gather(out, tensor.contiguous())
    return out


def _all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum over ranks, in place (no autograd)."""
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def world_size() -> int:
    """Number of ranks (1 without torch.distributed)."""
    return _world_size()


def rank() -> int:
    """This process's rank (0 without torch.distributed)."""
    return _rank()


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums the gathered gradient over ranks and returns this rank's slice."""

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.rank, ctx.n = _rank(), tensor.shape[0]
        return torch.cat(_all_gather(tensor), dim=0)  # [W*b, ...]

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        total = _all_reduce_sum(grad.contiguous().clone())  # [W*b, ...] summed over every rank's loss
        return total[ctx.rank * ctx.n : (ctx.rank + 1) * ctx.n]  # [b, ...]


def gather_features(*tensors: torch.Tensor, gather_with_grad: bool = True) -> tuple[torch.Tensor, ...]:
    """Concatenate each tensor [b, ...] over ranks into [W*b, ...] (rank order); a no-op in one process.

    gather_with_grad=True: exact gradients (see the module docstring). False: other ranks' slices are detached
    constants and this rank's slice is the local tensor itself, so only local features get gradient.
    """
    if _world_size() == 1:
        return tensors
    out = []
    for t in tensors:
        if gather_with_grad and t.requires_grad:
            out.append(_GatherWithGrad.apply(t))
        else:
            parts = _all_gather(t.detach())
            parts[_rank()] = t  # keep the local gradient path
            out.append(torch.cat(parts, dim=0))  # [W*b, ...]
    return tuple(out)


def gather_nograd(tensor: torch.Tensor) -> torch.Tensor:
    """Concatenate a tensor without gradient (labels, mixing targets) over ranks: [b, ...] -> [W*b, ...]."""
    if _world_size() == 1:
        return tensor
    return torch.cat(_all_gather(tensor.detach()), dim=0)  # [W*b, ...]
