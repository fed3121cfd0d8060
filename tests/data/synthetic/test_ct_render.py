"""The procedural CT renderer: geometry, determinism, tissue HU, findings, laterality, matrix-independent anatomy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medvlp.data.synthetic.ct_render import CT_LABELS, CtGeometry, render_ct, sample_ct_geometry
from medvlp.data.synthetic.findings import Finding, StudyTruth

CODE = {name: code for code, name in CT_LABELS.items()}
IN_PLANE = np.zeros((3, 3, 3), bool)
IN_PLANE[1] = ndimage.generate_binary_structure(2, 1)  # erode within each slice only


def geometry(n: int = 128, d: int = 48, fov: float = 360.0, coverage: float = 300.0) -> CtGeometry:
    """A small series centred on the table axis (FOV edge at -fov/2 for any matrix)."""
    dz, px = coverage / d, fov / n
    return CtGeometry((d, n, n), (dz, px, px), (-fov / 2 + px / 2, -fov / 2 + px / 2, -250.0), dz)


def render(seed: int, *findings: Finding, geom: CtGeometry | None = None):
    return render_ct(np.random.default_rng(seed), StudyTruth("ct", tuple(findings)), geom or geometry())


def core(labels: np.ndarray, name: str) -> np.ndarray:
    """The label minus its in-plane rim: the tissue's own HU, not its partial-volume edge."""
    return ndimage.binary_erosion(labels == CODE[name], IN_PLANE)


@pytest.fixture(scope="module")
def normal():
    return render(3)


def test_label_table_is_complete():
    assert CT_LABELS[0] == "background"
    for name in (
        "body",
        "fat",
        "lung_right",
        "lung_left",
        "airway",
        "heart",
        "aorta",
        "liver",
        "spleen",
        "kidney_right",
        "kidney_left",
        "spine",
        "lung_nodule",
        "pleural_effusion",
        "consolidation",
        "emphysema",
        "pericardial_effusion",
        "liver_lesion",
        "kidney_cyst",
    ):
        assert name in CODE
    assert sorted(CT_LABELS) == list(range(len(CT_LABELS)))


def test_sampled_geometry_is_consistent():
    for seed in range(20):
        g = sample_ct_geometry(np.random.default_rng(seed), (128, 192), (2.5, 5.0), (280.0, 360.0))
        d, h, w = g.shape
        dz, dy, dx = g.spacing
        assert h == w and h in (128, 192)
        assert dy == dx and 300 <= w * dx <= 450  # field of view
        assert 2.5 <= dz <= 5.0 and g.slice_thickness >= dz
        assert 280 - dz <= (d - 1) * dz <= 360 + dz  # coverage
        assert abs(g.origin[0] + w * dx / 2) < 15  # roughly centred, small offsets


def test_deterministic_shapes_and_dtypes(normal):
    again = render(3)
    assert np.array_equal(normal.hu, again.hu) and np.array_equal(normal.labels, again.labels)
    assert normal.hu.dtype == np.int16 and normal.labels.dtype == np.uint8
    assert normal.hu.shape == normal.labels.shape == (48, 128, 128)
    assert normal.hu.min() >= -1024
    assert set(np.unique(normal.labels)) <= set(CT_LABELS)
    assert not np.array_equal(render(4).hu, normal.hu)  # another patient
    air = normal.hu[normal.labels == 0]
    assert abs(np.median(air) + 1000) < 10


@pytest.mark.parametrize(
    ("name", "lo", "hi"),
    [
        ("lung_right", -900, -700),
        ("lung_left", -900, -700),
        ("fat", -120, -60),
        ("heart", 35, 50),
        ("aorta", 35, 50),
        ("liver", 50, 65),
        ("spleen", 40, 52),
        ("kidney_right", 30, 40),
        ("kidney_left", 30, 40),
    ],
)
def test_tissue_hu(normal, name, lo, hi):
    m = core(normal.labels, name)
    assert m.sum() > 30, name
    assert lo <= normal.hu[m].mean() <= hi, (name, normal.hu[m].mean())


def test_soft_tissue_bone_and_noise(normal):
    hu, lab = normal.hu, normal.labels
    assert 25 <= np.median(hu[lab == CODE["body"]]) <= 55  # muscle dominates the soft-tissue label
    bone = hu[lab == CODE["spine"]]
    assert bone.mean() > 200 and np.percentile(bone, 95) > 600  # cancellous core, cortical rim
    sd = hu[core(lab, "liver")].std()
    assert 8 <= sd <= 25, sd
    # noise is spatially correlated a little: neighbouring pixels of the flat liver agree more than chance
    m = core(lab, "liver") & np.roll(core(lab, "liver"), 1, axis=2)
    a, b = hu.astype(float)[m], np.roll(hu, 1, axis=2).astype(float)[m]
    assert 0.1 < np.corrcoef(a, b)[0, 1] < 0.9


FINDINGS = [
    (Finding("lung_nodule", "right", 0.9, 28.0, "solid", "middle"), 20, 60),
    (Finding("lung_nodule", "left", 0.9, 28.0, "ground_glass", "upper"), -650, -300),
    (Finding("pleural_effusion", "right", 0.6, 40.0), 0, 20),
    (Finding("consolidation", "left", 0.8, None, None, "lower"), 20, 50),
    (Finding("emphysema", "bilateral", 0.7, None, None, "upper"), -1024, -950),
    (Finding("pericardial_effusion", "none", 0.5, 15.0), 0, 20),
    (Finding("liver_lesion", "none", 0.7, 32.0, "cyst"), 0, 20),
    (Finding("liver_lesion", "none", 0.7, 32.0, "metastasis"), 20, 40),
    (Finding("kidney_cyst", "left", 0.7, 28.0), 0, 20),
]


@pytest.mark.parametrize(("finding", "lo", "hi"), FINDINGS, ids=lambda x: getattr(x, "name", str(x)))
def test_finding_label_and_hu(finding, lo, hi):
    r = render(11, finding)
    m = r.labels == CODE[finding.name]
    assert m.sum() > 5
    c = ndimage.binary_erosion(m, IN_PLANE)
    vals = r.hu[c if c.sum() >= 5 else m]
    assert lo <= np.median(vals) <= hi, (finding.name, finding.subtype, np.median(vals))
    if finding.subtype == "metastasis":  # darker than the liver around it
        assert np.median(vals) < np.median(r.hu[core(r.labels, "liver")]) - 10


def test_subtle_findings_still_leave_a_mark():
    """A 4 mm nodule in 6 mm slices: labelled, and denser than the lung it sits in."""
    for seed in range(3):
        r = render(seed, Finding("lung_nodule", "right", 0.1, 4.0, "solid", "lower", subtle=True))
        m = r.labels == CODE["lung_nodule"]
        assert m.sum() >= 1
        assert r.hu[m].max() > np.median(r.hu[r.labels == CODE["lung_right"]]) + 300
    small = render(5, Finding("emphysema", "bilateral", 0.05))
    big = render(5, Finding("emphysema", "bilateral", 0.95))
    assert 0 < (small.labels == CODE["emphysema"]).sum() < (big.labels == CODE["emphysema"]).sum() / 4


def _centroid(labels: np.ndarray, code: int) -> np.ndarray:
    return np.argwhere(labels == code).mean(axis=0)  # (d, h, w)


def test_laterality_and_dependency():
    """Right = low column index (patient's right on the image left); supine effusions lie posterior (high row)."""
    right = render(2, Finding("pleural_effusion", "right", 0.6, 35.0))
    left = render(2, Finding("pleural_effusion", "left", 0.6, 35.0))
    e = CODE["pleural_effusion"]
    c_r, c_l = _centroid(right.labels, e), _centroid(left.labels, e)
    lung_r = _centroid(right.labels, CODE["lung_right"])
    assert c_r[2] < 64 < c_l[2]
    assert c_r[1] > lung_r[1] + 5  # behind the centre of the lung
    cyst = render(2, Finding("kidney_cyst", "right", 0.5, 20.0))
    assert _centroid(cyst.labels, CODE["kidney_cyst"])[2] < 64
    assert _centroid(right.labels, CODE["liver"])[2] < 64 < _centroid(right.labels, CODE["spleen"])[2]


def test_findings_change_nothing_global():
    """Same rng state with and without findings: same body outline and the same noise in the air around it."""
    base = render(8)
    sick = render(8, Finding("pleural_effusion", "bilateral", 0.9, 50.0), Finding("emphysema", "bilateral", 0.9))
    assert np.array_equal(base.labels == 0, sick.labels == 0)
    outside = base.labels == 0
    assert np.array_equal(base.hu[outside], sick.hu[outside])
    assert (base.hu != sick.hu).mean() < 0.2


def test_anatomy_size_does_not_depend_on_the_matrix():
    vols = {}
    for n in (96, 160):
        g = geometry(n=n, d=40)
        r = render(6, geom=g)
        voxel_ml = np.prod(g.spacing) / 1000
        vols[n] = {k: (r.labels == CODE[k]).sum() * voxel_ml for k in ("liver", "lung_right", "heart")}
    for k in vols[96]:
        assert abs(vols[96][k] - vols[160][k]) < 0.15 * vols[160][k], (k, vols)
    assert 800 < vols[160]["liver"] < 2600  # adult liver, mL (partly below the scan)
