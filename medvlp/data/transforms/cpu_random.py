"""The per-item random stage for CPU workers (data.augment_on=cpu): the same operations as transforms/gpu.py,
item by item with MONAI's random dict transforms. Kept for machines without a GPU worth using and as the
baseline the pipeline benchmark compares the device stage against.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

import torch
from monai.transforms import (
    MapTransform,
    NormalizeIntensityd,
    RandAdjustContrastd,
    RandAffined,
    RandGaussianNoised,
    RandShiftIntensityd,
    Transform,
)

from medvlp.config.schema import DataConfig


class PairedFlipd(MapTransform):
    """Mirror the image left-right (last axis) when the item's report was laterality-swapped (`flip`)."""

    def __init__(self) -> None:
        super().__init__(["image"])

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        if d.get("flip"):
            d["image"] = torch.as_tensor(d["image"]).flip(-1)
        return d


def cpu_random(cfg: DataConfig, spatial_dims: int) -> list[Transform]:
    """Per-item random transforms matching DeviceAugment's ranges (in-plane only for volumes)."""
    rot = cfg.rotate_degrees * math.pi / 180
    zoom = (1 - cfg.crop_scale[1] - cfg.scale_range, 1 - cfg.crop_scale[0] + cfg.scale_range)
    if spatial_dims == 3:
        rotate, scale = (rot, 0.0, 0.0), (0.0, zoom, zoom)
        shift = (0.0, cfg.translate * cfg.ct_size[0], cfg.translate * cfg.ct_size[1])
    else:
        rotate, scale = rot, (zoom, zoom)
        shift = (cfg.translate * cfg.cxr_size, cfg.translate * cfg.cxr_size)
    return [
        PairedFlipd(),
        RandAffined(
            "image",
            prob=1.0,
            rotate_range=rotate,
            scale_range=scale,
            translate_range=shift,
            padding_mode="zeros",
            mode="bilinear",
        ),
        RandAdjustContrastd("image", prob=1.0, gamma=(1 - cfg.contrast, 1 + cfg.contrast)),
        RandShiftIntensityd("image", offsets=cfg.brightness, prob=1.0),
        RandGaussianNoised("image", prob=1.0, std=cfg.noise_std),
        NormalizeIntensityd("image", subtrahend=cfg.normalize[0], divisor=cfg.normalize[1]),
    ]
