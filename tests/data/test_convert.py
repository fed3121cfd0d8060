"""Canonical cache: RAS orientation, target spacing, world coordinates preserved, readable by three libraries."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import aff2axcodes

from medvlp.data.convert import ct_volume, cxr_image, save_nifti
from medvlp.dicom.geometry import SliceGeometry

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _phantom_frames(dz: float = 4.0, n: int = 12, order=None):
    """A [n, 40, 48] stack with a bright cube at a known LPS position; slices at z = 10 + k*dz."""
    origin_x, origin_y, sp = -60.0, -40.0, 2.5
    frames = []
    for k in range(n):
        z = 10 + k * dz
        img = np.full((40, 48), -1000.0, np.float32)
        if 30 <= z <= 40:  # cube at x in [-20, -10], y in [0, 10] (LPS mm), z in [30, 40]
            cols = slice(int((-20 - origin_x) / sp), int((-10 - origin_x) / sp) + 1)
            rows = slice(int((0 - origin_y) / sp), int((10 - origin_y) / sp) + 1)
            img[rows, cols] = 500.0
        frames.append((SliceGeometry((origin_x, origin_y, z), AXIAL, (sp, sp), (40, 48)), img))
    if order is not None:
        frames = [frames[i] for i in order]
    return frames


def _world_of_max(vol: np.ndarray, affine: np.ndarray) -> np.ndarray:
    idx = np.argwhere(vol > 200).mean(axis=0)
    return affine[:3, :3] @ idx + affine[:3, 3]  # RAS mm


def test_ct_volume_is_ras_at_target_spacing_and_keeps_world_position():
    vol, affine, facts = ct_volume(_phantom_frames(order=[5, 2, 9, 0, 1, 3, 4, 6, 7, 8, 10, 11]), (2.0, 2.0, 2.0))
    assert aff2axcodes(affine) == ("R", "A", "S")
    assert np.allclose(np.abs(np.diag(affine)[:3]), 2.0) and vol.dtype == np.int16
    centre_ras = _world_of_max(vol, affine)
    assert np.allclose(centre_ras, [15.0, -5.0, 35.0], atol=2.5)  # LPS (-15, 5, 35) -> RAS (15, -5, 35)
    assert facts.original_shape == (12, 40, 48) and not facts.resampled_slices


def test_uneven_slices_resampled():
    frames = _phantom_frames()
    g, img = frames[5]
    frames[5] = (
        SliceGeometry((g.position[0], g.position[1], g.position[2] + 1.2), g.orientation, g.pixel_spacing, g.shape),
        img,
    )
    vol, affine, facts = ct_volume(frames, (2.0, 2.0, 4.0))
    assert facts.resampled_slices
    assert np.allclose(_world_of_max(vol, affine), [15.0, -5.0, 35.0], atol=3)


def test_cxr_keeps_aspect_and_spacing():
    img = np.random.default_rng(0).random((300, 200)).astype(np.float32)
    out, facts = cxr_image(img, (0.2, 0.2), 150)
    assert out.shape == (150, 100) and out.dtype == np.uint16
    assert np.allclose(facts.spacing, (0.4, 0.4))
    assert abs(out.mean() / 65535 - img.mean()) < 0.01


@pytest.mark.parametrize("reader", ["nibabel", "sitk", "monai"])
def test_cache_opens_in_three_libraries(tmp_path: Path, reader: str):
    vol, affine, _ = ct_volume(_phantom_frames(), (2.0, 2.0, 4.0))
    path = tmp_path / "ct.nii.gz"
    save_nifti(path, vol, affine)
    if reader == "nibabel":
        img = nib.load(path)
        assert img.shape == vol.shape and img.header["descrip"].tobytes().strip(b"\0") == b""
    elif reader == "sitk":
        import SimpleITK as sitk

        img = sitk.ReadImage(str(path))
        assert img.GetSize() == vol.shape and np.allclose(img.GetSpacing(), (2.0, 2.0, 4.0))
    else:
        from monai.transforms import LoadImage

        data = LoadImage(image_only=True)(str(path))
        assert tuple(data.shape) == vol.shape and float(data.max()) == float(vol.max())
