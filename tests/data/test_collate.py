"""Collate: variable CT depth padded with a mask, entity ids padded with -1, missing labels kept as NaN."""

from __future__ import annotations

import math

import torch

from medvlp.data.collate import CONTRACT_3D, collate_batch


def _item(depth: int, entities: list[int], label: float) -> dict:
    return {
        "image": torch.ones(1, depth, 4, 4),
        "text_ids": torch.arange(6),
        "text_mask": torch.ones(6, dtype=bool),
        "labels": torch.tensor([label, math.nan]),
        "entity_ids": torch.tensor(entities, dtype=torch.long),
        "sample_id": f"s{depth}",
    }


def test_variable_depth_and_padding():
    batch = collate_batch([_item(3, [4], 1.0), _item(5, [], -1.0), _item(2, [1, 2, 3], 0.0)])
    assert set(batch) == set(CONTRACT_3D)
    assert batch["image"].shape == (3, 1, 5, 4, 4)
    assert batch["depth_mask"].tolist() == [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]
    assert batch["image"][0, :, 3:].sum() == 0
    assert batch["entity_ids"].tolist() == [[4, -1, -1], [-1, -1, -1], [1, 2, 3]]
    assert torch.isnan(batch["labels"][:, 1]).all() and batch["labels"][:, 0].tolist() == [1.0, -1.0, 0.0]
    assert batch["flip"].tolist() == [False, False, False] and batch["sample_id"] == ["s3", "s5", "s2"]
