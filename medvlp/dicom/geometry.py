"""Slice geometry of a CT series: order along the slice normal, spacing checks, and the voxel-to-patient affine.

Slices are ordered by the projection of ImagePositionPatient onto the normal of ImageOrientationPatient —
never by file name or InstanceNumber, which exports scramble. Defects raise GeometryError with a reason code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class GeometryError(ValueError):
    """A series whose geometry cannot be trusted; `reason` is a machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SliceGeometry:
    """Where one slice (one file or one frame) sits: position of its first pixel, direction cosines, pixel size."""

    position: tuple[float, float, float]  # LPS mm of the centre of pixel (0, 0)
    orientation: tuple[float, ...]  # 6 direction cosines: along a row (column index), then along a column
    pixel_spacing: tuple[float, float]  # (between rows, between columns) in mm
    shape: tuple[int, int]  # (rows, cols)


@dataclass(frozen=True)
class StackGeometry:
    """A sorted, checked stack: `order` sorts the input slices; `positions` are their distances along the normal."""

    order: np.ndarray  # [D] indices into the input list, inferior to superior along the normal
    positions: np.ndarray  # [D] mm along the normal, ascending
    normal: np.ndarray  # [3]
    uniform: bool  # gaps equal within tolerance
    affine_lps: np.ndarray  # [4, 4] voxel (col i, row j, slice k) -> LPS mm, assuming the median gap


def sort_slices(
    slices: list[SliceGeometry],
    spacing_tolerance: float = 0.1,
    max_gap_factor: float = 1.6,
    max_tilt_degrees: float = 0.5,
) -> StackGeometry:
    """Order slices along their normal and check the stack; raise GeometryError for what cannot be resampled."""
    if len(slices) < 2:
        raise GeometryError("too_few_slices", f"{len(slices)} slice(s): a volume needs at least 2")
    first = slices[0]
    for s in slices[1:]:
        if s.shape != first.shape:
            raise GeometryError("inconsistent_geometry", f"slice sizes differ: {first.shape} and {s.shape}")
        if not np.allclose(s.orientation, first.orientation, atol=1e-3):
            raise GeometryError("inconsistent_geometry", "ImageOrientationPatient differs between slices")
        if not np.allclose(s.pixel_spacing, first.pixel_spacing, rtol=1e-3):
            raise GeometryError("inconsistent_geometry", "PixelSpacing differs between slices")
    row_dir, col_dir = np.asarray(first.orientation, float).reshape(2, 3)  # [2 vectors, xyz]
    normal = np.cross(row_dir, col_dir)
    if not np.isclose(np.linalg.norm(normal), 1.0, atol=1e-2):
        raise GeometryError("inconsistent_geometry", "ImageOrientationPatient is not two orthonormal vectors")
    pos = np.asarray([s.position for s in slices], float)  # [N, 3]
    along = pos @ normal  # [N] distance along the normal
    order = np.argsort(along, kind="stable")
    pos, along = pos[order], along[order]
    gaps = np.diff(along)  # [N-1]
    if np.any(gaps < 1e-3):
        raise GeometryError("duplicate_positions", "two slices share one position (mixed series or duplicates)")
    steps = np.diff(pos, axis=0)  # [N-1, 3]
    cosines = np.clip((steps @ normal) / np.linalg.norm(steps, axis=1), -1, 1)
    tilt = float(np.degrees(np.arccos(cosines.min())))
    if tilt > max_tilt_degrees:
        raise GeometryError(
            "gantry_tilt",
            f"slices step {tilt:.1f} degrees off their normal (gantry tilt); "
            f"limit ingest.max_tilt_degrees={max_tilt_degrees}",
        )
    median = float(np.median(gaps))
    if gaps.max() > max_gap_factor * median:
        k = int(np.argmax(gaps))
        raise GeometryError(
            "missing_slices",
            f"gap of {gaps[k]:.2f} mm after slice {k} where the median is {median:.2f} mm (missing slices)",
        )
    uniform = bool(np.all(np.abs(gaps - median) <= spacing_tolerance * median))
    dr, dc = first.pixel_spacing
    affine = np.eye(4)
    affine[:3, 0] = row_dir * dc  # column index i moves along the row direction by the column spacing
    affine[:3, 1] = col_dir * dr  # row index j moves along the column direction by the row spacing
    affine[:3, 2] = normal * median
    affine[:3, 3] = pos[0]
    return StackGeometry(order, along, normal, uniform, affine)
