"""Loaders: shards under a distributed sampler, seeded shuffling, thread loader, device moves."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from medvlp.data.loader import build_loader, move_to


class _Items(Dataset):
    def __len__(self) -> int:
        return 10

    def __getitem__(self, i: int) -> dict:
        return {
            "image": torch.full((1, 2, 2), float(i)),
            "text_ids": torch.zeros(3, dtype=torch.long),
            "text_mask": torch.ones(3, dtype=torch.bool),
            "labels": torch.zeros(1),
            "entity_ids": torch.tensor([i]),
            "sample_id": str(i),
        }


def _ids(loader) -> list[str]:
    return [s for b in loader for s in b["sample_id"]]


def test_distributed_shards_are_disjoint_and_cover():
    a = _ids(build_loader(_Items(), 2, train=True, seed=1, rank=0, world_size=2, drop_last=False))
    b = _ids(build_loader(_Items(), 2, train=True, seed=1, rank=1, world_size=2, drop_last=False))
    assert not set(a) & set(b) and len(set(a) | set(b)) == 10


def test_seeded_shuffle_and_eval_order():
    assert _ids(build_loader(_Items(), 3, train=True, seed=4)) == _ids(build_loader(_Items(), 3, train=True, seed=4))
    assert _ids(build_loader(_Items(), 3, train=False)) == [str(i) for i in range(10)]


def test_workers_and_thread_loader():
    assert len(_ids(build_loader(_Items(), 4, train=False, workers=2))) == 10
    assert len(_ids(build_loader(_Items(), 4, train=False, workers=1, kind="thread"))) == 10


def test_move_to_keeps_non_tensors():
    batch = move_to({"image": torch.ones(1), "sample_id": ["a"]}, "cpu")
    assert batch["sample_id"] == ["a"] and batch["image"].device.type == "cpu"
