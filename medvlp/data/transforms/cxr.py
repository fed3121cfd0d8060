"""CXR prefix: cached uint16 [H, W] radiograph -> [1, S, S] float in [0, 1], aspect kept, zero-padded square."""

from __future__ import annotations

import torch
from monai.transforms import (
    EnsureChannelFirstd,
    EnsureTyped,
    LoadImaged,
    Resized,
    ScaleIntensityRanged,
    SpatialPadd,
    Transform,
)


def cxr_prefix(size: int) -> list[Transform]:
    """Deterministic CXR steps (cacheable): load, channel first, scale to [0, 1], resize longest side, pad."""
    return [
        LoadImaged("image", reader="NibabelReader", image_only=True),
        EnsureChannelFirstd("image", channel_dim="no_channel"),
        EnsureTyped("image", data_type="tensor", track_meta=False, dtype=torch.float32),
        ScaleIntensityRanged("image", a_min=0.0, a_max=65535.0, b_min=0.0, b_max=1.0, clip=True),
        Resized("image", spatial_size=size, size_mode="longest", mode="area"),
        SpatialPadd("image", spatial_size=(size, size)),
    ]
