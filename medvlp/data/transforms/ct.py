"""CT prefix: cached RAS volume -> [C, D, H, W] in display orientation, windowed, body-cropped, resized in-plane.

Display orientation: D ascends inferior -> superior, H row 0 is anterior, W column 0 is the patient's right
(the radiological convention, as on a viewer).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import (
    CropForegroundd,
    EnsureChannelFirstd,
    EnsureTyped,
    LoadImaged,
    MapTransform,
    Transform,
)

WINDOWS: dict[str, tuple[float, float]] = {  # (low, high) HU
    "lung": (-1350.0, 150.0),  # level -600, width 1500
    "mediastinum": (-160.0, 240.0),  # level 40, width 400
    "bone": (-500.0, 1300.0),  # level 400, width 1800
    "wide": (-1000.0, 1000.0),
}
BODY_HU = -500.0  # voxels above this are body (foreground crop)


def is_body(x: torch.Tensor) -> torch.Tensor:
    """Foreground for the body crop (a module-level function, so the pipeline pickles into workers)."""
    return x > BODY_HU


class RasToDisplay(Transform):
    """[C, X, Y, Z] in RAS axis order -> [C, D=Z, H, W] with anterior at row 0 and patient right at column 0."""

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        out = torch.as_tensor(img).permute(0, 3, 2, 1)  # [C, X, Y, Z] -> [C, Z, Y, X]
        return out.flip(-2).flip(-1).contiguous()  # Y ascends anterior, X ascends right: flip both for display


class WindowChannels(Transform):
    """HU [1, ...] -> [len(windows), ...], each window clipped and scaled to [0, 1]."""

    def __init__(self, windows: Sequence[str]) -> None:
        unknown = [w for w in windows if w not in WINDOWS]
        if unknown or not windows:
            raise ValueError(f"data.ct_windows: unknown {unknown}; choose from {', '.join(WINDOWS)}")
        self.windows = list(windows)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        hu = torch.as_tensor(img, dtype=torch.float32)
        chans = [((hu[0] - lo) / (hi - lo)).clamp(0, 1) for lo, hi in (WINDOWS[w] for w in self.windows)]
        return torch.stack(chans)  # [C, ...]


class ResizeInPlane(Transform):
    """[C, D, H, W] -> [C, D, size_h, size_w]: each slice resized keeping its aspect ratio, then zero-padded."""

    def __init__(self, size: Sequence[int]) -> None:
        self.size = (int(size[0]), int(size[1]))

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(img, dtype=torch.float32)
        h, w = x.shape[-2:]
        factor = min(self.size[0] / h, self.size[1] / w)
        new = (max(1, round(h * factor)), max(1, round(w * factor)))
        slices = x.permute(1, 0, 2, 3)  # [C, D, H, W] -> [D, C, H, W]: slices as a batch
        slices = F.interpolate(slices, size=new, mode="bilinear", align_corners=False, antialias=factor < 1)
        top, left = (self.size[0] - new[0]) // 2, (self.size[1] - new[1]) // 2
        out = slices.new_zeros((slices.shape[0], slices.shape[1], *self.size))
        out[..., top : top + new[0], left : left + new[1]] = slices
        return out.permute(1, 0, 2, 3).contiguous()  # [D, C, H, W] -> [C, D, H, W]


class CenterDepthCrop(Transform):
    """[C, D, H, W] -> [C, min(D, max_depth), H, W], the central slices; warns once when anatomy is cut off.

    The crop drops both ends of the scan range (on a chest CT: the apices and the upper abdomen, where the liver
    and kidneys lie), so a config whose volumes are longer than max_depth silently hides findings there.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = int(max_depth)
        self.warned = False

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(img)
        depth = x.shape[1]
        if depth <= self.max_depth:
            return x
        if not self.warned:
            self.warned = True
            warnings.warn(
                f"a CT volume of {depth} slices is centre-cropped to data.ct_max_depth={self.max_depth}: both ends "
                "of its scan range are dropped; raise data.ct_max_depth or ingest at a coarser ingest.ct_spacing (z) "
                "so the whole range fits",
                stacklevel=2,
            )
        start = (depth - self.max_depth) // 2
        return x[:, start : start + self.max_depth].contiguous()


class ArrayTransformd(MapTransform):
    """Apply an array transform to keys (the dict side of a custom array transform)."""

    def __init__(self, keys: KeysCollection, transform: Transform) -> None:
        super().__init__(keys)
        self.transform = transform

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = self.transform(d[key])
        return d


def ct_prefix(size: Sequence[int], max_depth: int, windows: Sequence[str]) -> list[Transform]:
    """Deterministic CT steps (cacheable): load, channel first, orient, crop body, windows, resize, crop depth."""
    return [
        LoadImaged("image", reader="NibabelReader", image_only=True),
        EnsureChannelFirstd("image", channel_dim="no_channel"),
        EnsureTyped("image", data_type="tensor", track_meta=False, dtype=torch.float32),
        ArrayTransformd("image", RasToDisplay()),
        CropForegroundd("image", source_key="image", select_fn=is_body, margin=2, allow_smaller=True),
        ArrayTransformd("image", WindowChannels(windows)),
        ArrayTransformd("image", ResizeInPlane(size)),
        ArrayTransformd("image", CenterDepthCrop(max_depth)),
    ]
