"""The procedural chest X-ray renderer: determinism, conventions (sides, views, spacing) and finding masks."""

from __future__ import annotations

import numpy as np
import pytest

from medvlp.data.synthetic.cxr_render import MASK_NAMES, CxrGeometry, render_cxr, sample_cxr_geometry
from medvlp.data.synthetic.findings import CXR_FINDINGS, Finding, StudyTruth

NORMAL = StudyTruth("cxr")
PA = CxrGeometry(256, 240, 1.6, "PA")


def _render(seed: int, findings: tuple[Finding, ...] = (), geom: CxrGeometry = PA):
    return render_cxr(np.random.default_rng(seed), StudyTruth("cxr", findings), geom)


def _mask(render, name: str) -> np.ndarray:
    return render.masks[MASK_NAMES.index(name)]


def _centroid_col(mask: np.ndarray) -> float:
    assert mask.any()
    return float(np.nonzero(mask)[1].mean())


def _ctr(render) -> float:
    """Cardiothoracic ratio from the masks: heart width over the width spanned by both lungs."""
    heart_cols = np.nonzero(_mask(render, "heart").any(0))[0]
    lung_cols = np.nonzero((_mask(render, "lung_right") | _mask(render, "lung_left")).any(0))[0]
    return (heart_cols.max() - heart_cols.min() + 1) / (lung_cols.max() - lung_cols.min() + 1)


def test_same_seed_gives_identical_arrays_and_another_seed_does_not():
    truth = (Finding("nodule", laterality="left", size_mm=15, zone="middle"),)
    a, b, c = _render(3, truth), _render(3, truth), _render(4, truth)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("view", ["PA", "AP", "LL"])
def test_shapes_dtypes_and_range(view: str):
    geom = CxrGeometry(200, 232, 1.75, view)  # type: ignore[arg-type]
    r = _render(1, geom=geom)
    assert r.image.shape == (200, 232) and r.image.dtype == np.float32
    assert r.image.min() >= 0.0 and r.image.max() <= 1.0 and r.image.std() > 0.1
    assert r.masks.shape == (len(MASK_NAMES), 200, 232) and r.masks.dtype == bool
    for name in ("body", "lung_right", "lung_left", "heart", "spine", "ribs", "diaphragm"):
        assert _mask(r, name).any(), name
    assert not r.masks[MASK_NAMES.index(CXR_FINDINGS[0]) :].any()  # a normal study has empty finding channels


def test_mask_channels_are_anatomy_then_findings_in_catalogue_order():
    assert MASK_NAMES[: len(MASK_NAMES) - len(CXR_FINDINGS)] == (
        "body",
        "lung_right",
        "lung_left",
        "heart",
        "mediastinum",
        "spine",
        "clavicles",
        "ribs",
        "diaphragm",
    )
    assert MASK_NAMES[-len(CXR_FINDINGS) :] == CXR_FINDINGS


def test_pa_shows_the_patients_right_on_the_left_of_the_array_and_lungs_are_darker_than_the_heart():
    r = _render(2)
    mid = _centroid_col(_mask(r, "spine"))
    assert _centroid_col(_mask(r, "lung_right")) < mid < _centroid_col(_mask(r, "lung_left"))
    assert _centroid_col(_mask(r, "heart")) > mid  # the heart bulges to the patient's left
    lung = _mask(r, "lung_right") | _mask(r, "lung_left")
    assert r.image[lung].mean() < r.image[_mask(r, "heart")].mean() - 0.15


def test_lateral_view_has_the_spine_posterior_and_the_heart_anterior():
    r = _render(2, geom=CxrGeometry(256, 240, 1.6, "LL"))
    assert _centroid_col(_mask(r, "heart")) < _centroid_col(_mask(r, "spine")) - 40


@pytest.mark.parametrize("name", CXR_FINDINGS)
@pytest.mark.parametrize("view", ["PA", "LL"])
def test_each_finding_fills_its_own_channel_only(name: str, view: str):
    kw = {
        "pleural_effusion": {"size_mm": 40.0},
        "pneumothorax": {"size_mm": 30.0},
        "nodule": {"size_mm": 15.0},
        "mass": {"size_mm": 40.0},
        "support_devices": {"subtype": "pacemaker"},
    }.get(name, {})
    f = Finding(name, laterality="bilateral" if name == "edema" else "right", severity=0.6, zone="middle", **kw)
    r = _render(5, (f,), CxrGeometry(256, 240, 1.6, view))  # type: ignore[arg-type]
    for other in CXR_FINDINGS:
        assert _mask(r, other).any() == (other == name), other


@pytest.mark.parametrize("kind", ["ett", "cvc", "ngt", "pacemaker"])
def test_devices_are_thin_and_bright(kind: str):
    r = _render(6, (Finding("support_devices", subtype=kind, severity=0.9),))
    dev = _mask(r, "support_devices")
    assert 0 < dev.mean() < 0.05
    assert np.percentile(r.image[dev] - _render(6).image[dev], 90) > 0.15


def test_cardiomegaly_raises_the_cardiothoracic_ratio_and_ap_magnifies_the_heart():
    for seed in range(4):
        normal = _render(seed)
        big = _render(seed, (Finding("cardiomegaly", severity=0.5),))
        assert _ctr(normal) < 0.52 < _ctr(big), seed
        assert np.array_equal(_mask(big, "cardiomegaly"), _mask(big, "heart"))
    pa, ap = (_render(7, geom=CxrGeometry(256, 240, 1.6, v)) for v in ("PA", "AP"))  # type: ignore[arg-type]
    assert _mask(ap, "heart").any(0).sum() > _mask(pa, "heart").any(0).sum()


@pytest.mark.parametrize("name", ["pleural_effusion", "pneumothorax"])
def test_laterality_puts_the_finding_on_the_right_side_of_the_array(name: str):
    for seed in range(3):
        mid = _centroid_col(_mask(_render(seed), "spine"))
        for side, sign in (("right", -1), ("left", 1)):
            f = Finding(name, laterality=side, severity=0.5, size_mm=35.0)
            assert sign * (_centroid_col(_mask(_render(seed, (f,)), name)) - mid) > 20, (seed, side)


def test_effusion_brightens_the_lower_zone_of_its_side_for_the_same_patient():
    for seed in range(3):
        normal = _render(seed)
        wet = _render(seed, (Finding("pleural_effusion", laterality="left", severity=0.5, size_mm=45.0),))
        lung = _mask(normal, "lung_left")
        rows = np.nonzero(lung.any(1))[0]
        low = lung & (np.arange(lung.shape[0])[:, None] > rows.min() + 0.8 * (rows.max() - rows.min()))
        assert wet.image[low].mean() > normal.image[low].mean() + 0.05
        other = _mask(normal, "lung_right")  # the other side is untouched: no global brightness change
        assert np.abs(wet.image[other] - normal.image[other]).max() < 1e-3


def test_a_local_finding_changes_only_its_own_pixels():
    normal = _render(8)
    nod = _render(8, (Finding("nodule", laterality="right", size_mm=18.0, zone="lower"),))
    diff = np.abs(nod.image - normal.image)
    near = _dilate(_mask(nod, "nodule"), 3)
    assert diff[_mask(nod, "nodule")].mean() > 0.03
    assert diff[~near].max() < 0.02 and diff[~near].mean() < 1e-3  # only edge enhancement reaches further
    assert np.array_equal(nod.masks[: MASK_NAMES.index("nodule")], normal.masks[: MASK_NAMES.index("nodule")])


def _dilate(mask: np.ndarray, k: int) -> np.ndarray:
    out = mask.copy()
    for axis in (0, 1):
        for shift in range(1, k + 1):
            out |= np.roll(mask, shift, axis) | np.roll(mask, -shift, axis)
    return out | np.roll(np.roll(mask, k, 0), k, 1) | np.roll(np.roll(mask, -k, 0), -k, 1)


@pytest.mark.parametrize("spacing", [0.8, 1.6])
def test_sizes_are_millimetres_whatever_the_matrix(spacing: float):
    n = round(400 / spacing)
    geom = CxrGeometry(n, n, spacing, "PA")
    r = _render(9, (Finding("nodule", laterality="left", size_mm=20.0, zone="middle", severity=0.4),), geom)
    diameter_mm = 2 * np.sqrt(_mask(r, "nodule").sum() / np.pi) * spacing
    assert 17.0 < diameter_mm < 23.0


def test_sampled_geometry_covers_350_to_430_mm_with_varied_matrices():
    shapes = set()
    for seed in range(40):
        g = sample_cxr_geometry(np.random.default_rng(seed), "PA")
        assert min(g.rows, g.cols) >= 448 and max(g.rows, g.cols) <= 768
        for n in (g.rows, g.cols):
            assert 349.0 <= n * g.pixel_spacing_mm <= 431.0
        shapes.add((g.rows > g.cols, g.rows == g.cols))
    assert len(shapes) == 3  # portrait, landscape and square detectors
    a, b = (sample_cxr_geometry(np.random.default_rng(1), v) for v in ("PA", "LL"))
    assert (a.rows, a.cols, a.pixel_spacing_mm) == (b.rows, b.cols, b.pixel_spacing_mm)


def test_wrong_modality_is_refused():
    with pytest.raises(ValueError):
        render_cxr(np.random.default_rng(0), StudyTruth("ct"), PA)
