"""Process-group setup for torchrun (one of the two modules allowed to touch torch.distributed).

`torchrun --nproc-per-node N -m medvlp.train.main CONFIG` sets RANK, WORLD_SIZE and LOCAL_RANK; without them
this is a single process. NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Join the process group torchrun describes (or describe a single process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local}" if cuda else "cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return DistInfo(rank, world, local, device)


def wrap(model: nn.Module, info: DistInfo, kind: str = "ddp") -> nn.Module:
    """DDP (or FSDP) around the model when there are several processes; the model itself otherwise.

    find_unused_parameters is on because a loss mix may leave some parameters unused (the sigmoid bias under CLIP).
    FSDP is FSDP2 (`fully_shard`, see `_fully_shard`): it shards `model` in place and returns it, so build the
    optimizer after wrap, save or load checkpoints inside `full_state`, and run rank-0-only forwards (validation)
    inside `unsharded`; both are entered by every rank and are no-ops for DDP and one process.
    """
    if info.world_size == 1:
        return model
    if kind == "fsdp":
        return _fully_shard(model, info)
    ids = [info.device.index] if info.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)


def _fully_shard(task: nn.Module, info: DistInfo) -> nn.Module:
    """FSDP2 over a TrainingTask: one group per block of `task.model`, one for the EMA copy, the rest at the root.

    Parameters become DTensors sharded on dim 0 (in place: the module keeps its class, names and state-dict keys).
    A block is an outermost non-leaf member of an nn.ModuleList or nn.Sequential (transformer layers, ResNet
    blocks, query layers): its weights are gathered only around its own forward. The EMA copy is its own group
    that never runs forward, so it stays sharded and `update_ema` blends shard with shard. Scalar parameters
    (logit scale and bias), which fully_shard refuses, stay whole on every rank and have their gradients
    averaged by a hook as they are accumulated. A parameter left unused on every rank (the sigmoid bias under
    CLIP) keeps grad None; one used on some ranks only would need `set_reduce_scatter_unused_params(True)`.
    """
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(info.device.type, (info.world_size,))
    scalars = {p for p in task.parameters() if p.ndim == 0}
    for p in scalars:
        if p.requires_grad:
            p.register_post_accumulate_grad_hook(_average_grad)
    for block in _blocks(getattr(task, "model", task)):
        fully_shard(block, mesh=mesh, ignored_params=scalars)
    ema = getattr(task, "ema", None)
    if isinstance(ema, nn.Module) and any(p.ndim for p in ema.parameters()):
        fully_shard(ema, mesh=mesh, ignored_params=scalars)
    return fully_shard(task, mesh=mesh, ignored_params=scalars)


def _average_grad(param: torch.Tensor) -> None:
    assert param.grad is not None
    param.grad.div_(dist.get_world_size())
    dist.all_reduce(param.grad)


def _blocks(module: nn.Module) -> list[nn.Module]:
    """Outermost non-leaf, non-container members of nn.ModuleList / nn.Sequential that hold a non-scalar parameter."""
    containers = (nn.ModuleList, nn.Sequential)
    found: list[nn.Module] = []
    for child in module.children():
        is_block = isinstance(module, containers) and not isinstance(child, containers)
        if is_block and next(child.children(), None) is not None and any(p.ndim for p in child.parameters()):
            found.append(child)
        else:
            found.extend(_blocks(child))
    return found


@contextmanager
def full_state(module: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> Iterator[None]:
    """Whole tensors in and out of state dicts inside the block; enter on all ranks together.

    Under FSDP the entry all-gathers every sharded parameter of `module` and every sharded optimizer moment (to
    CPU; that is the collective part). Inside, one rank alone can then run the plain one-process checkpoint
    code: `module.state_dict()` (so safetensors save_model) gives whole tensors, `module.load_state_dict` (so
    load_model) takes whole tensors and keeps this rank's part, `optimizer.state_dict()` is whole, and a whole
    state given to `optimizer.load_state_dict` is cut into shards on leaving. The files are the same as DDP's or
    one process's, so runs resume across ddp/fsdp and world sizes. Without FSDP this is a no-op.
    """
    from torch.distributed.tensor import DTensor

    whole: dict[int, torch.Tensor] = {}  # id(sharded parameter) -> whole CPU copy; tied parameters stay tied
    handles = []
    for owner in module.modules():
        own = [p for p in owner._parameters.values() if isinstance(p, DTensor)]
        for p in own:
            if id(p) not in whole:
                whole[id(p)] = p.full_tensor().detach().to("cpu", copy=True)
        if own:
            handles.append(owner.register_state_dict_post_hook(partial(_whole_entries, whole=whole)))
            handles.append(owner.register_load_state_dict_pre_hook(_sharded_entries))
    params = [p for group in optimizer.param_groups for p in group["params"]] if optimizer is not None else []
    for p in params:  # the same order on every rank
        st = optimizer.state.get(p, {}) if optimizer is not None else {}
        for key, value in st.items():
            if isinstance(value, DTensor):
                st[key] = value.full_tensor().to("cpu", copy=True)
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
        for p in params:
            if not isinstance(p, DTensor) or optimizer is None:
                continue
            st = optimizer.state.get(p, {})
            for key, value in st.items():  # a whole moment (exp_avg, ...) has the parameter's shape; step has not
                if isinstance(value, torch.Tensor) and not isinstance(value, DTensor) and value.shape == p.shape:
                    st[key] = _shard_like(value, p)


@contextmanager
def unsharded(module: nn.Module) -> Iterator[None]:
    """FSDP weights gathered for the block, so one rank alone can run no-grad forwards (validation on rank 0);
    enter on all ranks together. Costs the whole model (and EMA) in device memory. Without FSDP a no-op.

    The entry all-gathers every group of `module` (the root FSDP module, the TrainingTask) and stops forwards
    from freeing them; the exit frees them again and clears the per-iteration bookkeeping the rank-local
    forwards left (FSDPModule.reset_iter_state), so every rank starts the next step alike. Use it between steps,
    never with gradients pending.
    """
    from torch.distributed.fsdp import FSDPModule

    groups = [m for m in module.modules() if isinstance(m, FSDPModule)]
    for m in groups:
        m.unshard()
        m.set_reshard_after_forward(False, recurse=False)
    try:
        yield
    finally:
        for m in groups:
            m.set_reshard_after_forward(m is not module, recurse=False)  # back to fully_shard's default
        if isinstance(module, FSDPModule):
            module.reset_iter_state()  # reshards every group, drops rank-0-only forward records


def _whole_entries(owner: nn.Module, state: dict[str, Any], prefix: str, _meta: Any, whole: dict[int, Any]) -> None:
    """state_dict post-hook: the module's own sharded parameters as their gathered whole copies."""
    for name, p in owner._parameters.items():
        if p is not None and id(p) in whole and prefix + name in state:
            state[prefix + name] = whole[id(p)]


def _sharded_entries(owner: nn.Module, state: dict[str, Any], prefix: str, *_: Any) -> None:
    """load_state_dict pre-hook: whole tensors for the module's own sharded parameters cut to this rank's part."""
    from torch.distributed.tensor import DTensor

    for name, p in owner._parameters.items():
        value = state.get(prefix + name)
        plain = isinstance(value, torch.Tensor) and not isinstance(value, DTensor)
        if isinstance(p, DTensor) and plain and value.shape == p.shape:  # else load_state_dict reports the mismatch
            state[prefix + name] = _shard_like(value.to(p.dtype), p)


def _shard_like(whole: torch.Tensor, param: torch.Tensor) -> torch.Tensor:
    """This rank's part of `whole` as a DTensor laid out like `param` (sliced locally: every rank holds whole)."""
    from torch.distributed.tensor import distribute_tensor

    local = whole.detach().to(param.device)
    return distribute_tensor(local, param.device_mesh, param.placements, src_data_rank=None)


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def gather_objects(obj: Any) -> list[Any]:
    """`obj` of every rank, in rank order (every rank must call it); [obj] in a single process."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def cleanup() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
