"""Findings of the CT phantom, drawn into the normal anatomy from `Finding` size, severity, subtype, side and zone.

Lesions override the label of the organ they sit in. Each is drawn with partial volume (sub-slice samples, soft
edges), and every drawn finding keeps at least one labelled voxel, even a 4 mm nodule in a 5 mm slice.
Sizes and densities vary so a share of findings is subtle; nothing here touches global image properties.
"""

from __future__ import annotations

import numpy as np

from medvlp.data.synthetic.ct_anatomy import (
    CONSOLIDATION,
    EFFUSION,
    EMPHYSEMA,
    FAT,
    KIDNEY_CYST,
    KIDNEY_L,
    KIDNEY_R,
    LIVER,
    LIVER_LESION,
    LUNG_L,
    LUNG_LIKE,
    LUNG_R,
    NODULE,
    Anatomy,
    ss,
)
from medvlp.data.synthetic.ct_canvas import F32, Box, Canvas, lut, soft
from medvlp.data.synthetic.findings import Finding

SIDES = {"right": (LUNG_R,), "left": (LUNG_L,), "bilateral": (LUNG_R, LUNG_L), "none": (LUNG_R, LUNG_L)}


def _random_axes(rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return q.T


def ensure_label(cv: Canvas, b: Box, alpha: np.ndarray, code: int, value: float) -> None:
    """Keep at least one voxel of a drawn finding: label (and fill) the voxel it covers most."""
    if not (cv.lab[b.sl] == code).any():
        i = np.unravel_index(int(np.argmax(alpha)), alpha.shape)
        cv.lab[b.sl][i] = code
        cv.hu[b.sl][i] += max(float(alpha[i]), 0.6) * (value - cv.hu[b.sl][i])


def _extent(cv: Canvas, codes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """LPS (x, y, z) bounding box of the voxels with these labels."""
    m = np.isin(cv.lab, codes)
    if not m.any():
        return None
    idx = [np.nonzero(m.any(axis=ax))[0] for ax in ((1, 2), (0, 2), (0, 1))]  # z, y, x
    lo = np.array([cv.xs[idx[2][0]], cv.ys[idx[1][0]], cv.zs[idx[0][0]]], np.float64)
    hi = np.array([cv.xs[idx[2][-1]], cv.ys[idx[1][-1]], cv.zs[idx[0][-1]]], np.float64)
    return lo, hi


def find_point(
    rng: np.random.Generator,
    cv: Canvas,
    codes: tuple[int, ...],
    zone: str | None = None,
    margin: float = 0.0,
    z_weight: tuple[float, float] | None = None,
    n: int = 1,
) -> np.ndarray:
    """Up to n random LPS points inside the labelled organ (optionally a lung zone: upper/middle/lower thirds).

    margin: points at +-margin along each axis must also lie in the organ (keeps a lesion mostly inside).
    """
    ext = _extent(cv, codes)
    if ext is None:
        return np.zeros((0, 3))
    lo, hi = ext
    if zone in ("upper", "middle", "lower"):
        k = ("lower", "middle", "upper").index(zone)
        span = hi[2] - lo[2]
        lo[2], hi[2] = lo[2] + span * (0.3 * k + (0.05 if k else 0)), lo[2] + span * (0.3 * k + 0.4)
    ok_codes = lut(codes)
    out: list[np.ndarray] = []
    for m in (margin, margin / 2, 0.0):
        for _ in range(20):
            p = lo + (hi - lo) * rng.random((64, 3))
            if z_weight is not None:
                p[:, 2] = lo[2] + (hi[2] - lo[2]) * rng.beta(*z_weight, 64)
            good = ok_codes[cv.label_at(p)]
            for off in np.eye(3) * m if m > 0 else []:
                good &= ok_codes[cv.label_at(p + off)] & ok_codes[cv.label_at(p - off)]
            out.extend(p[good])
            if len(out) >= n:
                return np.asarray(out[:n])
    return np.asarray(out[:n]).reshape(-1, 3)


def _snap_z(cv: Canvas, rng: np.random.Generator, p: np.ndarray, size: float) -> np.ndarray:
    """Centre a lesion thinner than ~1.5 slabs within one slice, so partial volume cannot wash it out."""
    if size < 1.5 * cv.thick:
        i = int(np.clip(np.rint((p[2] - cv.oz) / cv.dz), 0, cv.shape[0] - 1))
        p = p.copy()
        p[2] = cv.zs[i] + rng.uniform(-0.15, 0.15) * cv.dz
    return p


def draw_nodule(rng: np.random.Generator, cv: Canvas, f: Finding, tex: np.ndarray) -> None:
    """Solid (20-60 HU) or ground-glass (-600..-300 HU, soft edge) nodule in the given lung and zone."""
    size = float(f.size_mm or 10.0)
    pts = find_point(rng, cv, SIDES.get(f.laterality, SIDES["none"])[:1], f.zone, margin=size / 3)
    if len(pts) == 0:
        pts = find_point(rng, cv, (LUNG_R, LUNG_L))
        if len(pts) == 0:
            return
    c = _snap_z(cv, rng, pts[0], size)
    r = size / 2 * rng.uniform(0.85, 1.15, 3)
    r *= size / 2 / np.cbrt(r.prod())
    gg = f.subtype == "ground_glass"
    val = rng.uniform(-580, -330) if gg else rng.uniform(25, 55)
    ns = max(cv.ns, 3) if size < 2 * cv.thick else cv.ns
    b, al = cv.ellipsoid(tuple(c), tuple(r), _random_axes(rng), ns=ns, blur=(0.2 * size if gg else 0.0))
    if b is None:
        return
    al = cv.paint(b, al, val + (15 if gg else 4) * tex[b.sl], NODULE, only=LUNG_LIKE)
    ensure_label(cv, b, al, NODULE, val)


def draw_consolidation(
    rng: np.random.Generator, cv: Canvas, f: Finding, tex: np.ndarray, centres: dict[int, np.ndarray]
) -> None:
    """Segmental-to-lobar airspace opacity (20-50 HU) with a ground-glass fringe and an irregular margin."""
    sev = float(f.severity)
    for code in SIDES.get(f.laterality, SIDES["none"]):
        pts = find_point(rng, cv, (code,), f.zone, margin=8)
        if len(pts) == 0:
            continue
        c = pts[0]
        cand = centres.get(code)
        if cand is not None and len(cand):  # centre on the nearest bronchus: the airspace fills around the tree
            near = cand[np.argmin(((cand - c) ** 2).sum(1))]
            if np.linalg.norm(near - c) < 30 and cv.label_at(near[None])[0] == code:
                c = near
        rad = (15 + 45 * sev) * rng.uniform(0.8, 1.2) * np.array([1, rng.uniform(0.6, 1), rng.uniform(0.7, 1.2)])
        b, q, dq = cv.quadric(tuple(c), tuple(rad), _random_axes(rng))
        if b is None:
            continue
        f0 = q - 1 + 0.45 * tex[b.sl]
        val = rng.uniform(22, 45)
        cv.paint(b, soft(f0 - 0.25, dq), F32(rng.uniform(-620, -450)), None, only=lut((code,)))
        al = cv.paint(b, soft(f0, dq), val + 5 * tex[b.sl], CONSOLIDATION, only=lut((code, CONSOLIDATION)))
        ensure_label(cv, b, al, CONSOLIDATION, val)


def draw_emphysema(rng: np.random.Generator, cv: Canvas, f: Finding) -> None:
    """Centrilobular holes below -950 HU, upper-lobe predominant, more and larger with severity."""
    sev = float(f.severity)
    n = int(20 + 380 * sev**1.3)
    pts = find_point(rng, cv, (LUNG_R, LUNG_L), z_weight=(3.2, 1.3), n=n)
    if len(pts) == 0:
        return
    radii = np.exp(rng.uniform(np.log(2.0), np.log(3.5 + 7 * sev), len(pts)))
    b, al = cv.balls(pts, radii)
    if b is None:
        return
    al = cv.paint(b, al, F32(-1000), EMPHYSEMA, thresh=0.6, only=lut((LUNG_R, LUNG_L)))
    ensure_label(cv, b, al, EMPHYSEMA, -1000.0)


def draw_effusion(rng: np.random.Generator, cv: Canvas, an: Anatomy, f: Finding, tex: np.ndarray) -> None:
    """Dependent (posterior) pleural fluid crescent, 0-20 HU, with a meniscus and a rim of compressed lung."""
    depth0, hu = float(f.size_mm or 15.0), rng.uniform(4, 18)
    for i, code in enumerate(SIDES.get(f.laterality, SIDES["none"])):
        depth = depth0 * (1 if i == 0 else rng.uniform(0.6, 1.0))
        side = "right" if code == LUNG_R else "left"
        zd = an.extra[f"dome_z_{side}"]
        reach = 35 + 2.5 * depth
        x0, x1 = (an.bx - an.ac - 5, an.bx + 5) if code == LUNG_R else (an.bx - 5, an.bx + an.ac + 5)
        b = cv.box((x0, an.y_post - 2 * an.bc, zd - 90), (x1, an.y_post + 5, zd + reach + 10))
        if b is None:
            continue
        d, post, _ = an.frame(b)
        wall = -d  # mm inside the cavity wall; post: 1 at the back, -1 in front
        v0 = -0.05 - 0.45 * float(f.severity)
        dep = np.clip((post - v0) / (1 - v0), 0, 1) ** 0.8
        zw = (1 - ss(zd - 10, zd + reach, b.z.astype(np.float64))).astype(F32)
        thick = F32(depth) * dep * zw
        # fluid fills the lung's side of the pleural space, including the partial-volume rim at the chest wall
        room = (LUNG_LIKE[cv.lab[b.sl]] | (cv.hu[b.sl] < -300)) * soft(-wall - 1, F32(cv.px))
        al = cv.paint(b, soft(wall - thick, F32(cv.px)) * room, hu + 3 * tex[b.sl], EFFUSION)
        ensure_label(cv, b, al, EFFUSION, hu)
        rim = soft(wall - thick * 1.05 - 1.5 - 0.04 * depth, F32(cv.px)) * (thick > 1)  # passive atelectasis
        cv.paint(b, rim, F32(rng.uniform(-600, -350)), None, only=lut((code,)))


def draw_liver_lesion(rng: np.random.Generator, cv: Canvas, an: Anatomy, f: Finding, tex: np.ndarray) -> None:
    """Cyst (0-20 HU, sharp) or metastasis (20-40 HU, darker than liver, ill-defined) inside the liver."""
    size = float(f.size_mm or 15.0)
    pts = find_point(rng, cv, (LIVER,), margin=size / 2)
    if len(pts) == 0:
        return
    c = _snap_z(cv, rng, pts[0], size)
    cyst = f.subtype == "cyst"
    if cyst:
        val, blur = rng.uniform(3, 16), 0.0
    else:
        val = float(np.clip(an.hu["liver"] - 10 - 22 * f.severity - rng.uniform(0, 8), 21, 39))
        blur = rng.uniform(0.12, 0.3) * size
    r = size / 2 * rng.uniform(0.85, 1.15, 3)
    ns = max(cv.ns, 3) if size < 2 * cv.thick else cv.ns
    b, al = cv.ellipsoid(tuple(c), tuple(r), _random_axes(rng), ns=ns, blur=blur)
    if b is None:
        return
    al = cv.paint(b, al, val + (0 if cyst else 3) * tex[b.sl], LIVER_LESION, only=lut((LIVER,)))
    ensure_label(cv, b, al, LIVER_LESION, val)


def draw_kidney_cyst(rng: np.random.Generator, cv: Canvas, f: Finding) -> None:
    """Simple renal cyst (0-20 HU, round, sharp), possibly bulging out of the kidney into the perirenal fat."""
    size = float(f.size_mm or 15.0)
    code = KIDNEY_L if f.laterality == "left" else KIDNEY_R
    pts = find_point(rng, cv, (code,), margin=min(size / 4, 6))
    if len(pts) == 0:
        return
    c = _snap_z(cv, rng, pts[0], size)
    val = rng.uniform(3, 15)
    ns = max(cv.ns, 3) if size < 2 * cv.thick else cv.ns
    b, al = cv.ellipsoid(tuple(c), (size / 2,) * 3, ns=ns)
    if b is None:
        return
    al = cv.paint(b, al, F32(val), KIDNEY_CYST, only=lut((code, FAT)))
    ensure_label(cv, b, al, KIDNEY_CYST, val)
