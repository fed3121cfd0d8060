"""Slice ordering along the normal and the geometry defects that must stop a series."""

from __future__ import annotations

import numpy as np
import pytest

from medvlp.dicom.geometry import GeometryError, SliceGeometry, sort_slices

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def _stack(zs, orientation=AXIAL, xy=lambda z: (-100.0, -120.0), shape=(8, 8), spacing=(0.8, 0.8)):
    return [SliceGeometry((*xy(z), float(z)), orientation, spacing, shape) for z in zs]


def test_orders_by_position_not_input_order():
    zs = [30.0, 0.0, 20.0, 10.0, 40.0]
    st = sort_slices(_stack(zs))
    assert [zs[i] for i in st.order] == [0.0, 10.0, 20.0, 30.0, 40.0]
    assert st.uniform and np.allclose(st.affine_lps[:3, 3], [-100, -120, 0]) and st.affine_lps[2, 2] == 10


def test_oblique_normal_used():
    # rows along x, columns along (0, cos, sin): the normal is tilted, positions step along it
    c, s = np.cos(0.3), np.sin(0.3)
    orient = (1.0, 0.0, 0.0, 0.0, c, s)
    normal = np.cross([1, 0, 0], [0, c, s])
    slices = [SliceGeometry(tuple(float(v) for v in normal * t), orient, (1.0, 1.0), (4, 4)) for t in (5, 0, 10)]
    assert list(sort_slices(slices).order) == [1, 0, 2]


def test_uneven_spacing_detected_but_allowed():
    st = sort_slices(_stack([0, 5, 10, 15.8, 20, 25]))
    assert not st.uniform


@pytest.mark.parametrize(
    ("slices", "reason"),
    [
        (_stack([0, 5, 10, 25, 30]), "missing_slices"),
        (_stack([0, 5, 5, 10]), "duplicate_positions"),
        (_stack([0, 5, 10], xy=lambda z: (-100.0, -120.0 + 0.3 * z)), "gantry_tilt"),
        (_stack([0]), "too_few_slices"),
        (_stack([0, 5])[:1] + _stack([5], shape=(9, 8)), "inconsistent_geometry"),
        (_stack([0, 5])[:1] + _stack([5], spacing=(0.9, 0.9)), "inconsistent_geometry"),
        (_stack([0, 5])[:1] + _stack([5], orientation=(1.0, 0, 0, 0, 0, -1.0)), "inconsistent_geometry"),
    ],
)
def test_defects(slices, reason):
    with pytest.raises(GeometryError) as err:
        sort_slices(slices)
    assert err.value.reason == reason
