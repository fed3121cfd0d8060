"""Procedural chest/upper-abdomen CT volumes for the phantom archive: HU volume plus a label map.

`render_ct` draws a patient (body wall, lungs with bronchovascular trees, mediastinum, skeleton, upper abdomen)
and the findings of a `StudyTruth`, in physical mm, then adds slightly correlated noise. Array convention:
vol[d, h, w] with LPS x = origin_x + w*dx (toward the patient's left), y = origin_y + h*dy (posterior),
z = origin_z + d*dz (superior; d = 0 is the lowest slice). Supine patient.

Independent random streams (anatomy, lung trees, findings, noise) are split from the caller's rng, so body size,
anatomy and noise never depend on the findings (no shortcut a model could read), while the same rng state always
gives the same volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from medvlp.data.synthetic import ct_lesions as lesions
from medvlp.data.synthetic.ct_anatomy import LUNG_L, LUNG_R, draw_abdomen, draw_body, draw_cavity, sample_anatomy
from medvlp.data.synthetic.ct_canvas import F32, Canvas, smooth_field
from medvlp.data.synthetic.ct_chest import draw_mediastinum, draw_ribcage, draw_spine
from medvlp.data.synthetic.ct_lungtree import grow_trees, paint_fissures, paint_trees
from medvlp.data.synthetic.findings import StudyTruth

CT_LABELS: dict[int, str] = {
    0: "background",  # air outside the body (and the table)
    1: "body",  # soft tissue: muscle, skin, vessels other than the aorta, bowel, oesophagus, discs
    2: "fat",
    3: "lung_right",
    4: "lung_left",
    5: "airway",
    6: "heart",
    7: "aorta",
    8: "liver",
    9: "spleen",
    10: "kidney_right",
    11: "kidney_left",
    12: "spine",  # bone: vertebrae, ribs, sternum, clavicles, scapulae
    13: "lung_nodule",
    14: "pleural_effusion",
    15: "consolidation",
    16: "emphysema",
    17: "pericardial_effusion",
    18: "liver_lesion",
    19: "kidney_cyst",
}


@dataclass(frozen=True)
class CtGeometry:
    """Voxel grid of one CT series."""

    shape: tuple[int, int, int]  # (D, H, W) = (slices, rows, cols)
    spacing: tuple[float, float, float]  # (dz slice spacing, dy row spacing, dx column spacing) mm
    origin: tuple[float, float, float]  # LPS (x, y, z) mm of the centre of voxel [0, 0, 0]
    slice_thickness: float  # mm, >= dz


@dataclass
class CtRender:
    hu: np.ndarray  # int16 [D, H, W] Hounsfield units (air -1000, clipped at -1024), with noise
    labels: np.ndarray  # uint8 [D, H, W], codes of CT_LABELS; lesions override their organ


def sample_ct_geometry(
    rng: np.random.Generator,
    matrix_choices: tuple[int, ...] = (128, 160, 192, 256),
    slice_spacing_range: tuple[float, float] = (2.0, 5.0),
    coverage_mm_range: tuple[float, float] = (280.0, 360.0),
) -> CtGeometry:
    """A plausible chest/upper-abdomen series: FOV 300-450 mm, apices to mid kidneys, random table position."""
    n = int(rng.choice(np.asarray(matrix_choices)))
    fov = float(np.round(rng.uniform(300.0, 450.0)))
    lo, hi = sorted(slice_spacing_range)
    dz = float(np.clip(np.round(rng.uniform(lo, hi) * 4) / 4, lo, hi))  # quarter-mm steps, as scanners offer
    coverage = rng.uniform(*sorted(coverage_mm_range))
    d = max(round(coverage / dz) + 1, 2)
    thick = dz if rng.random() < 0.75 else float(np.round(dz * rng.uniform(1.0, 1.25), 2))
    px = fov / n
    origin = (
        -fov / 2 + px / 2 + rng.uniform(-10, 10),
        -fov / 2 + px / 2 + rng.uniform(-12, 8),
        -float(np.round(rng.uniform(80.0, 500.0), 1)),
    )
    return CtGeometry((d, n, n), (dz, px, px), origin, thick)


def _noise(rng: np.random.Generator, shape: tuple[int, int, int], sd: float) -> np.ndarray:
    """Gaussian-like noise, correlated in-plane over about a pixel (a smooth reconstruction kernel)."""
    k = np.array([0.25, 0.5, 0.25], F32)
    norm = float(np.sqrt((k**2).sum()) ** 2)  # SD left after filtering rows and columns
    n = rng.standard_normal(shape, dtype=F32)
    n = ndimage.correlate1d(n, k, axis=2, mode="nearest")
    n = ndimage.correlate1d(n, k, axis=1, mode="nearest")
    n *= F32(sd / norm)
    return n


def render_ct(rng: np.random.Generator, truth: StudyTruth, geom: CtGeometry) -> CtRender:
    """Render one CT: normal anatomy from independent streams, then the findings in `truth`, then noise."""
    r_anat, r_tree, r_find, r_noise = (np.random.default_rng(int(s)) for s in rng.integers(0, 2**63 - 1, 4))
    cv = Canvas(geom.shape, geom.spacing, geom.origin, geom.slice_thickness)
    an = sample_anatomy(r_anat, cv)
    tex = smooth_field(r_anat, cv, 9.0)  # organ texture, ~unit SD
    tex_bowel = smooth_field(r_anat, cv, 7.0)
    fr = an.frame(cv.full())  # cavity-relative coordinates shared by the body wall, cavity and ribs
    draw_body(cv, an, tex, fr)
    draw_cavity(cv, an, tex, tex_bowel, fr)
    draw_abdomen(r_anat, cv, an, tex, fr)
    draw_ribcage(r_anat, cv, an, fr)
    del fr
    peri = truth.get("pericardial_effusion")
    peri_mm = float(peri[0].size_mm or 8.0) if peri else None
    med = draw_mediastinum(r_anat, cv, an, peri_mm, r_find.uniform(5, 18))
    draw_spine(cv, an, tex)
    trees = grow_trees(r_tree, cv, an, med)
    paint_fissures(r_tree, cv, an)
    for f in truth.get("emphysema"):
        lesions.draw_emphysema(r_find, cv, f)
    br = [t for t, kind in trees if kind == "bronchus"]
    ends = np.vstack([t.b[(t.r >= 1.0) & (t.r <= 2.2)] for t in br]) if br else np.zeros((0, 3))
    centres = {LUNG_R: ends[ends[:, 0] < an.bx], LUNG_L: ends[ends[:, 0] >= an.bx]}  # mid-size bronchi
    for f in truth.get("consolidation"):
        lesions.draw_consolidation(r_find, cv, f, tex, centres)
    nodules = truth.get("lung_nodule")
    for f in nodules:
        if f.subtype == "ground_glass":  # vessels stay visible through ground glass: draw it under them
            lesions.draw_nodule(r_find, cv, f, tex)
    for f in truth.get("pleural_effusion"):
        lesions.draw_effusion(r_find, cv, an, f, tex)
    paint_trees(cv, an, trees)
    for f in nodules:
        if f.subtype != "ground_glass":
            lesions.draw_nodule(r_find, cv, f, tex)
    for f in truth.get("liver_lesion"):
        lesions.draw_liver_lesion(r_find, cv, an, f, tex)
    for f in truth.get("kidney_cyst"):
        lesions.draw_kidney_cyst(r_find, cv, f)
    sd = float(np.clip(r_noise.uniform(10.0, 16.0) * np.sqrt((an.ac + an.fat) / 150.0), 9.0, 20.0))
    hu = cv.hu
    hu += _noise(r_noise, cv.shape, sd)
    np.clip(hu, -1024, 3071, out=hu)
    return CtRender(np.rint(hu).astype(np.int16), cv.lab)
