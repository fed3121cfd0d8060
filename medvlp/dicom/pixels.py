"""Correct pixel decoding: what a radiologist's viewer shows, not the raw stored integers.

Order (DICOM PS3.4 grayscale pipeline): stored values -> Modality LUT (rescale slope/intercept, or LUT) ->
VOI LUT (window centre/width, or LUT) -> Presentation: MONOCHROME1 is inverted so that bright always means
more attenuating.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from medvlp.dicom.geometry import SliceGeometry
from medvlp.dicom.index import FileEntry


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


class PixelError(ValueError):
    """Pixels that cannot be decoded; `reason` is a machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def decoded_pixels(ds: pydicom.Dataset) -> np.ndarray:
    """ds.pixel_array, with any decoder failure (codec missing, corrupt fragment) turned into a PixelError."""
    try:
        return ds.pixel_array
    except Exception as exc:  # every codec raises its own types; all mean "cannot decode"
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", str(syntax))
        raise PixelError("undecodable_pixels", f"cannot decode pixel data ({name}): {exc}") from exc


def ct_frames(ds: pydicom.Dataset) -> list[tuple[SliceGeometry, np.ndarray]]:
    """(geometry, HU float32 [rows, cols]) for each frame of a CT file, single-frame or enhanced multi-frame."""
    pixels = decoded_pixels(ds)
    frames = pixels[None] if pixels.ndim == 2 else pixels  # [F, rows, cols]
    shape = (int(ds.Rows), int(ds.Columns))
    if "PerFrameFunctionalGroupsSequence" in ds:
        shared = ds.get("SharedFunctionalGroupsSequence", [pydicom.Dataset()])[0]
        out = []
        for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
            plane = _functional(group, shared, "PlanePositionSequence", "ImagePositionPatient")
            orient = _functional(group, shared, "PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = _functional(group, shared, "PixelMeasuresSequence", "PixelSpacing")
            rescale = _functional_item(group, shared, "PixelValueTransformationSequence")
            slope = float(getattr(rescale, "RescaleSlope", 1.0)) if rescale is not None else 1.0
            intercept = float(getattr(rescale, "RescaleIntercept", 0.0)) if rescale is not None else 0.0
            geom = SliceGeometry(_floats(plane, 3), _floats(orient, 6), _floats(spacing, 2), shape)
            out.append((geom, frames[k].astype(np.float32) * slope + intercept))
        return out
    if "ImagePositionPatient" not in ds or "ImageOrientationPatient" not in ds or "PixelSpacing" not in ds:
        raise PixelError("missing_geometry", "ImagePositionPatient, ImageOrientationPatient or PixelSpacing missing")
    geom = SliceGeometry(
        _floats(ds.ImagePositionPatient, 3), _floats(ds.ImageOrientationPatient, 6), _floats(ds.PixelSpacing, 2), shape
    )
    hu = np.asarray(apply_modality_lut(frames[0], ds), dtype=np.float32)
    return [(geom, hu)]


def _functional_item(group: pydicom.Dataset, shared: pydicom.Dataset, seq: str) -> pydicom.Dataset | None:
    for source in (group, shared):
        if seq in source and len(source[seq].value):
            return source[seq].value[0]
    return None


def _functional(group: pydicom.Dataset, shared: pydicom.Dataset, seq: str, keyword: str) -> object:
    item = _functional_item(group, shared, seq)
    if item is None or keyword not in item:
        raise PixelError("missing_geometry", f"{keyword} missing from the functional groups")
    return item.get(keyword)


def _floats(values: object, n: int) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in values)  # type: ignore[attr-defined]
    except (TypeError, ValueError) as exc:
        raise PixelError("missing_geometry", f"geometry values unreadable: {values!r}") from exc
    if len(out) != n:
        raise PixelError("missing_geometry", f"expected {n} geometry values, got {len(out)}")
    return out


def native_frame(path: str | Path, entry: FileEntry) -> tuple[SliceGeometry, np.ndarray]:
    """One single-frame slice read straight from the file with what the index recorded: no header parse.

    Only for native little-endian pixel data (entry.pixel_offset >= 0). Applies BitsStored masking or sign
    extension and the rescale, giving HU (float32 [rows, cols]) as pydicom's pixel_array + Modality LUT would.
    """
    bits, signed = entry.bits_allocated, bool(entry.pixel_representation)
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits // 8}")
    raw = np.fromfile(path, dtype=dtype, count=entry.rows * entry.cols, offset=entry.pixel_offset)
    if raw.size != entry.rows * entry.cols:
        raise PixelError("short_pixel_data", f"{path}: expected {entry.rows * entry.cols} values, read {raw.size}")
    values = raw.reshape(entry.rows, entry.cols)  # [rows, cols]
    spare = bits - entry.bits_stored
    if spare > 0:  # keep only BitsStored bits (sign-extended when signed): high bits may hold overlays
        wide = values.astype(np.int64)
        wide = (
            (wide << (64 - entry.bits_stored)) >> (64 - entry.bits_stored)
            if signed
            else wide & ((1 << entry.bits_stored) - 1)
        )
        values = wide
    hu = values.astype(np.float32)
    if entry.rescale_slope != 1.0:
        hu *= entry.rescale_slope
    if entry.rescale_intercept != 0.0:
        hu += entry.rescale_intercept
    geom = SliceGeometry(
        _floats(entry.position.split("\\"), 3),
        _floats(entry.orientation.split("\\"), 6),
        _floats(entry.pixel_spacing.split("\\"), 2),
        (entry.rows, entry.cols),
    )
    return geom, hu
