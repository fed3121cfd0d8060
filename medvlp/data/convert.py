"""Canonical cache: CT as int16 HU in RAS at the configured spacing, CXR as a 2D image keeping its aspect ratio.

Written as NIfTI that nibabel, SimpleITK and MONAI all open. Nothing from the DICOM header is copied into the
NIfTI header (its description and intent fields stay empty), so the cache carries no PHI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation
from scipy import ndimage

from medvlp.dicom.geometry import SliceGeometry, sort_slices

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])
# array index (d, h, w) -> the affine's voxel index (i = column, j = row, k = slice)
DHW_TO_IJK = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)
HU_MIN, HU_MAX = -1024, 3071


@dataclass(frozen=True)
class CachedImage:
    """What the manifest keeps about a cached image."""

    shape: tuple[int, ...]
    spacing: tuple[float, ...]
    affine: list[list[float]]
    original_shape: tuple[int, ...]
    original_spacing: tuple[float, ...]
    resampled_slices: bool = False  # uneven slice gaps were resampled onto a regular grid


def _resample_along_slices(vol: np.ndarray, positions: np.ndarray, step: float) -> np.ndarray:
    """Linear interpolation of [D, H, W] slices at `positions` onto a regular grid with `step` mm."""
    target = np.arange(positions[0], positions[-1] + 1e-6, step)  # [D']
    idx = np.interp(target, positions, np.arange(len(positions)))  # fractional slice index per target
    lo = np.floor(idx).astype(int)
    hi = np.minimum(lo + 1, len(positions) - 1)
    w = (idx - lo).astype(np.float32)[:, None, None]  # [D', 1, 1]
    return vol[lo] * (1 - w) + vol[hi] * w  # [D', H, W]


def to_ras(
    data: np.ndarray, affine: np.ndarray, spacing_xyz: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """A volume with a voxel->RAS affine -> (int16 [X, Y, Z] in RAS axis order at `spacing_xyz`, its affine).

    Resamples first, in the input's own (contiguous) axis order, then permutes and flips the smaller result into
    RAS order: the same voxels as reorienting first, without copying the full-size volume.
    """
    ornt = io_orientation(affine)  # per input axis: the RAS axis it runs along, and whether it is flipped
    target = np.asarray([spacing_xyz[int(ax)] for ax in ornt[:, 0]], dtype=np.float64)  # per input axis
    current = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))  # mm per voxel along each input axis
    zoom = current / target
    with torch.no_grad():
        vol = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))[None, None]  # [1, 1, a0, a1, a2]
        # align_corners=False with an explicit scale: output index u samples input (u + 0.5) / zoom - 0.5
        resized = F.interpolate(
            vol,
            scale_factor=tuple(float(z) for z in zoom),
            mode="trilinear",
            align_corners=False,
            recompute_scale_factor=False,
        )[0, 0].numpy()
    scaled = affine.copy()
    scaled[:3, :3] = affine[:3, :3] @ np.diag(target / current)
    scaled[:3, 3] = affine[:3, 3] + affine[:3, :3] @ ((target - current) / 2 / current)
    out = np.clip(np.rint(apply_orientation(resized, ornt)), HU_MIN, HU_MAX).astype(np.int16)  # [X, Y, Z]
    return out, scaled @ inv_ornt_aff(ornt, resized.shape)


def ct_volume(
    frames: list[tuple[SliceGeometry, np.ndarray]],
    spacing_xyz: tuple[float, float, float],
    spacing_tolerance: float = 0.1,
    max_gap_factor: float = 1.6,
    max_tilt_degrees: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, CachedImage]:
    """Slices -> (int16 [X, Y, Z] RAS volume at `spacing_xyz`, its RAS affine, cache facts). Raises GeometryError."""
    geoms = [g for g, _ in frames]
    stack = sort_slices(geoms, spacing_tolerance, max_gap_factor, max_tilt_degrees)
    vol = np.empty((len(frames), *geoms[0].shape), dtype=np.float32)  # [D, H, W] slices ascending
    for d, i in enumerate(stack.order):
        vol[d] = frames[i][1]
    median = float(np.median(np.diff(stack.positions)))
    if not stack.uniform:
        vol = _resample_along_slices(vol, stack.positions, median)
    original_shape = tuple(int(v) for v in vol.shape)
    out, new_affine = to_ras(vol, LPS_TO_RAS @ stack.affine_lps @ DHW_TO_IJK, spacing_xyz)
    pixel = geoms[0].pixel_spacing
    facts = CachedImage(
        shape=tuple(int(v) for v in out.shape),
        spacing=tuple(float(v) for v in spacing_xyz),
        affine=new_affine.round(6).tolist(),
        original_shape=original_shape,
        original_spacing=(float(pixel[1]), float(pixel[0]), median),
        resampled_slices=not stack.uniform,
    )
    return out, new_affine, facts


def cxr_image(
    image: np.ndarray, pixel_spacing: tuple[float, float], longer_side: int
) -> tuple[np.ndarray, CachedImage]:
    """A [rows, cols] image in [0, 1] -> uint16 [H, W] with the longer side `longer_side`, aspect ratio kept."""
    rows, cols = image.shape
    factor = longer_side / max(rows, cols)
    new_shape = (max(1, round(rows * factor)), max(1, round(cols * factor)))
    if factor < 1:  # anti-alias before shrinking
        image = ndimage.gaussian_filter(image, sigma=0.5 / factor - 0.5 if factor < 0.5 else 0.4)
    zoom = (new_shape[0] / rows, new_shape[1] / cols)
    out = ndimage.zoom(image.astype(np.float32), zoom, order=1, grid_mode=True, mode="nearest")
    out = np.clip(np.rint(out * 65535.0), 0, 65535).astype(np.uint16)
    spacing = (float(pixel_spacing[0]) / zoom[0], float(pixel_spacing[1]) / zoom[1])
    affine = np.diag([spacing[0], spacing[1], 1.0, 1.0])
    facts = CachedImage(
        shape=tuple(int(v) for v in out.shape),
        spacing=spacing,
        affine=affine.tolist(),
        original_shape=(int(rows), int(cols)),
        original_spacing=(float(pixel_spacing[0]), float(pixel_spacing[1])),
    )
    return out, facts


def save_nifti(path: Path, data: np.ndarray, affine: np.ndarray | list[list[float]]) -> None:
    """Write NIfTI atomically (temporary name, then rename) with an empty description."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, np.asarray(affine, dtype=np.float64))
    img.header.set_xyzt_units("mm")
    img.header["descrip"] = b""
    tmp = path.with_name(path.name.replace(".nii", ".tmp.nii"))
    nib.save(img, tmp)
    tmp.replace(path)
