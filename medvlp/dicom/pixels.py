"""Correct pixel decoding: what a radiologist's viewer shows, not the raw stored integers.

Order (DICOM PS3.4 grayscale pipeline): stored values -> Modality LUT (rescale slope/intercept, or LUT) ->
VOI LUT (window centre/width, or LUT) -> Presentation: MONOCHROME1 is inverted so that bright always means
more attenuating.
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut


def modality_values(ds: pydicom.Dataset) -> np.ndarray:
    """Stored pixels through the Modality LUT: HU for CT, rescaled detector values for radiographs (float32)."""
    return np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=np.float32)


def decode_radiograph(ds: pydicom.Dataset, window: bool = True) -> np.ndarray:
    """A radiograph as displayed, float32 [rows, cols] in [0, 1], bright = attenuating (bone, heart).

    window=True applies the file's VOI (window or VOI LUT sequence) as a viewer does; without VOI tags, or with
    window=False, the full range of the modality values is used. MONOCHROME1 is inverted after VOI.
    """
    values = modality_values(ds)
    has_voi = "VOILUTSequence" in ds or "WindowCenter" in ds
    if window and has_voi:
        shown = np.asarray(apply_voi_lut(values, ds, index=0), dtype=np.float32)
        lo, hi = _voi_output_range(ds, values)
    else:
        shown = values
        lo, hi = _modality_range(ds)
    out = np.clip((shown - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        out = 1.0 - out
    return out.astype(np.float32)


def _modality_range(ds: pydicom.Dataset) -> tuple[float, float]:
    """The range the Modality LUT can produce from BitsStored and PixelRepresentation."""
    bits = int(ds.BitsStored)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if int(ds.PixelRepresentation) else (0, (1 << bits) - 1)
    slope, intercept = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    ends = sorted((slope * lo + intercept, slope * hi + intercept))
    return ends[0], ends[1]


def _voi_output_range(ds: pydicom.Dataset, values: np.ndarray) -> tuple[float, float]:
    """Output range of the VOI stage: pydicom windows into the modality range; a VOI LUT into its own entries."""
    if "VOILUTSequence" in ds:
        item = ds.VOILUTSequence[0]
        bits = int(item.LUTDescriptor[2])
        return 0.0, float((1 << bits) - 1)
    return _modality_range(ds)
