"""Collate items into the batch contract (docs/architecture.md).

image [B, C, H, W] (CXR) or [B, C, D, H, W] (CT, depth zero-padded to the longest), depth_mask [B, D] bool,
text_ids/text_mask [B, L], labels [B, K] float (NaN = not mentioned), entity_ids [B, E] long padded with -1,
flip [B] bool, sample_id list[str].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

CONTRACT_2D = ("image", "text_ids", "text_mask", "labels", "entity_ids", "flip", "sample_id")
CONTRACT_3D = (*CONTRACT_2D, "depth_mask")


def collate_batch(items: Sequence[dict[str, object]]) -> dict[str, object]:
    """Stack a list of pipeline items into one batch dict (keys exactly CONTRACT_2D or CONTRACT_3D)."""
    images = [torch.as_tensor(it["image"], dtype=torch.float32) for it in items]
    batch: dict[str, object] = {}
    if images[0].ndim == 4:  # [C, D, H, W]
        depth = max(im.shape[1] for im in images)
        out = images[0].new_zeros((len(images), images[0].shape[0], depth, *images[0].shape[2:]))
        mask = torch.zeros(len(images), depth, dtype=torch.bool)
        for i, im in enumerate(images):
            out[i, :, : im.shape[1]] = im
            mask[i, : im.shape[1]] = True
        batch["image"], batch["depth_mask"] = out, mask
    else:
        batch["image"] = torch.stack(images)  # [B, C, H, W]
    batch["text_ids"] = torch.stack([torch.as_tensor(it["text_ids"]).long() for it in items])
    batch["text_mask"] = torch.stack([torch.as_tensor(it["text_mask"]).bool() for it in items])
    batch["labels"] = torch.stack([torch.as_tensor(it["labels"], dtype=torch.float32) for it in items])
    entities = [torch.as_tensor(it["entity_ids"]).long().reshape(-1) for it in items]
    width = max(1, max(e.numel() for e in entities))
    batch["entity_ids"] = torch.full((len(items), width), -1, dtype=torch.long)
    for i, e in enumerate(entities):
        batch["entity_ids"][i, : e.numel()] = e
    batch["flip"] = torch.tensor([bool(it.get("flip", False)) for it in items])
    batch["sample_id"] = [str(it["sample_id"]) for it in items]
    return batch
