"""Loaders: torch DataLoader or MONAI ThreadDataLoader, DistributedSampler under torchrun, seeded workers.

`move_to` sends a batch to the device (non-blocking from pinned memory on CUDA); the device stage then runs there.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from medvlp.data.collate import collate_batch


def seed_worker(worker_id: int) -> None:
    """Seed numpy and MONAI's per-transform states from torch's per-worker seed (distinct across workers/ranks)."""
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "set_random_state"):
        info.dataset.set_random_state(seed)  # type: ignore[union-attr]
    transform = getattr(info.dataset, "transform", None) if info is not None else None
    if transform is not None and hasattr(transform, "set_random_state"):
        transform.set_random_state(seed)


def build_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    train: bool,
    workers: int = 0,
    kind: str = "torch",
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
    device: str = "cpu",
    drop_last: bool | None = None,
) -> DataLoader:
    """A loader over `dataset` yielding contract batches; shuffled (and sharded when world_size > 1) for training."""
    sampler = None
    if world_size > 1:
        sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=train, seed=seed)
    generator = torch.Generator().manual_seed(seed * 1000 + rank)
    common = {
        "batch_size": batch_size,
        "collate_fn": collate_batch,
        "pin_memory": device.startswith("cuda"),
        "drop_last": train if drop_last is None else drop_last,
    }
    if kind == "thread":
        from monai.data import ThreadDataLoader

        return ThreadDataLoader(
            dataset,
            num_workers=workers,
            shuffle=train and sampler is None,
            sampler=sampler,
            generator=generator,
            **common,
        )
    return DataLoader(
        dataset,
        num_workers=workers,
        shuffle=train and sampler is None,
        sampler=sampler,
        generator=generator,
        worker_init_fn=seed_worker if workers else None,
        persistent_workers=workers > 0,
        **common,
    )


def move_to(batch: dict[str, object], device: torch.device | str) -> dict[str, object]:
    """Tensors of a batch to `device` (non_blocking from pinned memory); other values unchanged."""
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
