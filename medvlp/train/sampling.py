"""Data order that resumes exactly: a batch sampler whose order is a function of (seed, epoch), and items whose
random augmentation is a function of (seed, epoch, index), whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import Dataset, Sampler


class EpochBatchSampler(Sampler[list[tuple[int, int]]]):
    """Yields batches of (epoch, index) from the position (epoch, batch) onwards, forever; drops the last short batch.

    Under DDP each rank takes every world_size-th batch of the same permutation.
    """

    def __init__(
        self, n: int, batch_size: int, seed: int, epoch: int = 0, batch: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if n < batch_size * world_size:
            raise ValueError(f"{n} training samples cannot fill one batch of {batch_size} on {world_size} process(es)")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.batch, self.rank, self.world_size = epoch, batch, rank, world_size

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, start = self.epoch, self.batch
        while True:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
            for b in range(start, self.batches_per_epoch):
                first = (b * self.world_size + self.rank) * self.batch_size
                yield [(epoch, int(i)) for i in order[first : first + self.batch_size]]
            epoch, start = epoch + 1, 0


class SeededItems(Dataset):
    """dataset[(epoch, index)]: reseeds the item's random transforms from (seed, epoch, index) before loading."""

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> Any:
        epoch, index = key
        transform = getattr(self.dataset, "transform", None)
        if transform is not None and hasattr(transform, "set_random_state"):
            transform.set_random_state(seed=(self.seed * 1_000_003 + epoch * 10_007 + index) % 2**31)
        return self.dataset[index]
