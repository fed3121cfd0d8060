"""Normal anatomy of the CT phantom, part 2: skeleton (spine, ribs, sternum, clavicles, scapulae) and mediastinum
(heart in its pericardium, great vessels, airways, oesophagus).

Everything is placed relative to the `Anatomy` proportions; drawn on bounding boxes with partial-volume edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from medvlp.data.synthetic.ct_anatomy import (
    AORTA,
    BODY,
    BONE,
    FAT,
    HEART,
    LIVER,
    LUNG_LIKE,
    ORGAN_T,
    PERICARDIAL,
    Anatomy,
    _tilted_axes,
    ellipse_cover,
    ss,
)
from medvlp.data.synthetic.ct_canvas import F32, Canvas, lut, polyline_points, soft


def _periodic_cover(z: np.ndarray, z0: float, pitch: float, gap: float, thick: float) -> np.ndarray:
    """Share of each slab [z - thick/2, z + thick/2] inside a periodic stack of blocks (vertebrae between discs)."""

    def cum(v: np.ndarray) -> np.ndarray:  # integral of the block indicator, in units of pitch
        u = (v - z0) / pitch
        return np.floor(u) * (1 - gap) + np.clip(u - np.floor(u) - gap / 2, 0, 1 - gap)

    return ((cum(z + thick / 2) - cum(z - thick / 2)) * pitch / thick).astype(F32)


def draw_spine(cv: Canvas, an: Anatomy, tex: np.ndarray) -> None:
    """Vertebral bodies (cancellous core, cortical rim) between discs, and the posterior arch around the canal."""
    e, hu = an.extra, an.hu
    b = cv.box((an.bx - 60, an.y_post - 50, -1e9), (an.bx + 60, an.y_post + 55, 1e9))
    if b is None:
        return
    z = cv.zs[b.sl[0]].astype(np.float64)
    t = an.t(z)
    av = (e["spine_a"] * (1 + 0.35 * ss(0.3, 1.1, t)))[:, None, None]
    bv = (e["spine_b"] * (1 + 0.3 * ss(0.3, 1.1, t)))[:, None, None]
    yv = an.y_post - 7 - bv
    pitch = an.length / 12.6
    z0 = an.z_apex + e.get("spine_phase", 0.0)
    cb = _periodic_cover(z, z0, pitch, 5.5 / pitch, cv.thick)[:, None, None]
    cp = _periodic_cover(z, z0 - 0.35 * pitch, pitch, 0.3, cv.thick)[:, None, None]
    al = ellipse_cover(b, an.bx, yv, av, bv, cv.px)
    rho = np.sqrt(((b.x - an.bx) / av) ** 2 + ((b.y - yv) / bv) ** 2)
    bone = hu["bone"] + (hu["cortex"] - hu["bone"]) * ss(0.8, 1.0, rho) + 20 * tex[b.sl]
    disc = hu["muscle"] + 35
    cv.paint(b, al, (disc + cb * (bone - disc)).astype(F32), None)
    lab, m = cv.lab[b.sl], al > 0.5
    lab[m & (cb > 0.5)] = BONE
    lab[m & (cb <= 0.5)] = BODY
    # posterior elements (constant in-plane shape, modulated along z): arch, spinous and transverse processes
    x, y = (b.x - an.bx)[0], b.y[0]  # [1, nx], [ny, 1]
    yc, rc = an.y_post + 1.5, 7.5
    r = np.sqrt(x**2 + (y - yc) ** 2)
    ring = soft(np.abs(r - rc - 3) - 3, F32(cv.px)) * (y > yc - rc - 2)
    spin = soft((np.sqrt((x / 3.5) ** 2 + ((y - yc - rc - 17) / 15) ** 2) - 1) * 4, F32(cv.px))
    trans = soft(
        (np.sqrt(((np.abs(x) - 21) / 13) ** 2 + ((y - yc + 1 - 0.25 * (np.abs(x) - 8)) / 4.5) ** 2) - 1) * 4, F32(cv.px)
    )
    cov = np.maximum(np.maximum(ring, spin), trans)[None] * cp  # [nz, ny, nx]
    cv.paint(b, cov, F32(0.6 * hu["cortex"] + 0.4 * hu["bone"]), BONE)
    canal = soft(r - rc, F32(cv.px))[None]
    cv.paint(b, np.broadcast_to(canal, cov.shape), F32(25), BODY)


def draw_ribcage(rng: np.random.Generator, cv: Canvas, an: Anatomy, fr: tuple[np.ndarray, ...]) -> None:
    """Ribs (periodic in height along the cage, sloping down anteriorly, cartilage in front), scapulae, sternum."""
    u, hu = rng.uniform, an.hu
    lo = (an.bx - an.ac - 40, an.y_post - 2 * an.bc - 30, float(an.z(0.98)))
    b = cv.box(lo, (an.bx + an.ac + 40, an.y_post + 60, an.z_apex + 25))
    if b is None:
        return
    dr = fr[0][b.sl]  # mm outside the cavity wall [nz, ny, nx]
    hr, hz = 3.6, u(5.0, 6.5)  # rib half thickness (radial) and half height
    pitch, drop = an.length / 12.6, u(120, 150) * an.length / 300
    phi2d = np.arctan2(np.abs(b.x[0] - an.bx) / an.ac, (b.y[0] - (an.y_post - an.bc)) / an.bc)  # 0 posterior, pi front
    idx = np.flatnonzero(np.abs(dr - hr - 1.5) < hr + 2 * cv.px)
    iz, iy, ix = np.unravel_index(idx, dr.shape)
    z, phi, d = b.z[iz, 0, 0].astype(np.float64), phi2d[iy, ix], dr.ravel()[idx] - hr - 1.5
    s = np.clip((phi - 0.12 * np.pi) / (0.88 * np.pi), 0, 1) ** 0.9
    z1 = an.z_apex + u(-5, 8)
    w = (z1 - z) / pitch
    kr = np.rint(w - drop * (0.45 + 0.05 * w) * s / pitch)  # rib index (0 = first rib); lower ribs slope more
    k = np.clip(kr, 0, 11)
    delta = (w - k - drop * (0.45 + 0.05 * k) * s / pitch) * pitch  # mm above the rib's centre line
    end = np.array([1.0] * 7 + [0.86, 0.84, 0.8, 0.55, 0.42])[k.astype(int)] * np.pi
    cart = np.array([0.86, 0.84, 0.82, 0.8, 0.78, 0.76, 0.74, 0.7, 0.68, 0.66, 9, 9])[k.astype(int)] * np.pi
    hh = hz * np.sqrt(np.clip(1 - (d / (hr + 0.3 * cv.px)) ** 2, 0, 1))
    t2 = cv.thick / 2
    ov = np.clip(np.minimum(hh, delta + t2) - np.maximum(-hh, delta - t2), 0, None) / cv.thick
    ok = (phi > 0.1 * np.pi) & (phi < end) & (kr >= 0) & (kr <= 11)
    alpha = (ov * ok).astype(F32)
    val = np.where(phi > cart, hu["cartilage"], hu["bone"] + (hu["cortex"] - hu["bone"]) * (0.45 + 0.4 * (d / hr) ** 2))
    zi, yi, xi = iz + b.sl[0].start, iy + b.sl[1].start, ix + b.sl[2].start
    cur = cv.hu[zi, yi, xi]
    cv.hu[zi, yi, xi] = cur + alpha * (val.astype(F32) - cur)
    lab = cv.lab[zi, yi, xi]
    cv.lab[zi, yi, xi] = np.where(alpha > 0.5, np.where(phi > cart, BODY, BONE), lab)
    # scapulae: thin plates over the posterolateral upper ribs
    t = an.t(b.z[:, 0, 0].astype(np.float64))
    idx = np.flatnonzero(np.abs(dr - 2 * hr - 12) < 1.5 + 2 * cv.px)
    iz, iy, ix = np.unravel_index(idx, dr.shape)
    d, phi, tt = dr.ravel()[idx] - 2 * hr - 12, phi2d[iy, ix], t[iz]
    lo_phi, hi_phi = 0.14 * np.pi, (0.42 - 0.3 * ss(0.2, 0.45, tt)) * np.pi
    inside = np.clip(np.minimum(phi - lo_phi, hi_phi - phi) * 80 / cv.px, 0, 1) * (tt > -0.05) * (tt < 0.45)
    alpha = (soft(np.abs(d) - 1.5, cv.px) * inside).astype(F32)
    zi, yi, xi = iz + b.sl[0].start, iy + b.sl[1].start, ix + b.sl[2].start
    cur = cv.hu[zi, yi, xi]
    cv.hu[zi, yi, xi] = cur + alpha * (F32(0.7 * hu["cortex"]) - cur)
    cv.lab[zi, yi, xi] = np.where(alpha > 0.5, BONE, cv.lab[zi, yi, xi])
    # sternum: manubrium (wide) on top, body below, ending at the xiphoid
    zs = cv.zs[b.sl[0]].astype(np.float64)
    t = an.t(zs)
    ws = np.where(t < 0.2, 24, 14) * (1 - 0.5 * ss(0.52, 0.62, t))
    zin = (ss(0.05, 0.09, t) * (1 - ss(0.6, 0.64, t)))[:, None, None]
    _, bb, yc = an.cavity(zs[:, None, None])
    al = ellipse_cover(b, an.bx, yc - bb - 6.5, ws[:, None, None], 6.0, cv.px) * zin.astype(F32)
    cv.paint(b, al, F32(0.6 * hu["bone"] + 0.4 * hu["cortex"]), BONE)
    # clavicles: S-shaped bars from the manubrium out to the shoulders
    for side in (-1, 1):
        a0, b0, y0 = (float(v) for v in an.cavity(np.array(an.z(0.05))))
        ctrl = np.array(
            [
                [an.bx + side * 14, y0 - b0 - 10, an.z(0.09)],
                [an.bx + side * 0.55 * a0, y0 - b0 - 18, an.z(0.04)],
                [an.bx + side * (a0 + 25), y0 - 0.3 * b0, an.z(-0.02)],
                [an.bx + side * (a0 + 45), y0, an.z(-0.03)],
            ]
        )
        pts, rad = polyline_points(ctrl, np.full(4, u(5.5, 7.0)), step=1.5)
        bb_, al = cv.balls(pts, rad)
        if bb_ is not None:
            cv.paint(bb_, al, F32(0.6 * hu["bone"] + 0.4 * hu["cortex"]), BONE)


@dataclass
class Mediastinum:
    """Where the hila and heart ended up, for the lung trees and the findings."""

    hilum_b: dict[str, np.ndarray] = field(default_factory=dict)  # main bronchus ends
    hilum_a: dict[str, np.ndarray] = field(default_factory=dict)  # pulmonary artery ends
    hilum_v: dict[str, np.ndarray] = field(default_factory=dict)  # pulmonary vein roots (left atrium)
    heart_c: np.ndarray = field(default_factory=lambda: np.zeros(3))


def _tube(
    cv: Canvas,
    ctrl: list,
    radii: list,
    value: float,
    label: int | None,
    only: np.ndarray | None = None,
    halo: float = 0.0,
    halo_value: float = -95.0,
    thresh: float = 0.5,
) -> None:
    pts, rad = polyline_points(
        np.asarray(ctrl, np.float64), np.asarray(radii, np.float64), step=float(np.clip(0.5 * min(radii), 0.5, 5.0))
    )
    if halo > 0:  # a fat sleeve carved out of the lung
        b, al = cv.balls(pts, rad + halo)
        if b is not None:
            cv.paint(b, al, F32(halo_value), FAT, only=LUNG_LIKE)
    b, al = cv.balls(pts, rad)
    if b is not None:
        cv.paint(b, al, F32(value), label, thresh, only=only)


def draw_mediastinum(
    rng: np.random.Generator, cv: Canvas, an: Anatomy, pericardial_mm: float | None, pericardial_hu: float
) -> Mediastinum:
    """Mediastinal fat, heart (with a pericardial effusion of the given thickness), vessels, airways, oesophagus."""
    u, e, hu = rng.uniform, an.extra, an.hu
    med = Mediastinum()
    bc, ac, bx, yp = an.bc, an.ac, an.bx, an.y_post
    zc, top, bottom = float(an.z(an.lv["carina"])), float(cv.zs[-1]) + 20, float(cv.zs[0]) - 20
    # mediastinal fat band between the lungs, wide behind (spine, aorta, oesophagus) and narrow in front
    b = cv.box((bx - 80, yp - 2 * bc - 5, float(an.z(an.lv["dome_l"])) - 80), (bx + 80, yp + 5, 1e9))
    if b is not None:
        zz = b.z.astype(np.float64)
        _, bb, yc = an.cavity(zz)
        front = yc - bb
        s = np.clip((b.y - front) / (yp - front), 0, 1)  # [nz, ny, 1]
        t = an.t(zz)
        w_ant = e["w_ant"] + (e["w_top"] - e["w_ant"]) * (1 - ss(0.14, 0.3, t))
        w_post = e["spine_a"] + 10 + 8 * (1 - ss(0.1, 0.3, t))
        w = (w_ant + (w_post - w_ant) * s**1.5).astype(F32)
        al = soft(np.abs(b.x - F32(bx + 4)) - w, F32(cv.px))
        cv.paint(b, al, F32(hu["fat"] + 8), FAT, only=LUNG_LIKE)
    # heart: ventricles, right ventricle, atria (an oblique union of ellipsoids) on the diaphragm, in fat and
    # pericardium; layers are distances from the union, so an effusion is a rim (thicker behind: supine)
    hs = u(0.9, 1.1)
    r = np.array([u(57, 67), u(43, 50), u(37, 44)]) * hs
    axes = _tilted_axes((0.62 + u(-0.1, 0.1), -0.5 + u(-0.1, 0.1), -0.6 + u(-0.1, 0.1)), u(0, np.pi))
    xh, yh = bx + u(0.12, 0.22) * ac, yp - 2 * bc + 50 + u(-5, 8)
    hz = float(np.sqrt(((axes * r[:, None]) ** 2).sum(0))[2])
    c = np.array([xh, yh, float(an.dome(np.array(xh), np.array(yh))) + hz - 4])
    med.heart_c = c
    ant = np.array([-0.3, -1.0, -0.1]) - axes[0] * np.dot([-0.3, -1.0, -0.1], axes[0])
    ant /= np.linalg.norm(ant)
    eye = np.eye(3)
    parts = [
        (c, r * [1, 0.9, 0.85], axes),
        (c + 0.3 * r[1] * ant - 0.05 * r[0] * axes[0], r * [0.8, 0.7, 0.6], axes),
        (c - 0.45 * r[0] * axes[0] + [-0.45 * r[1], 0, 0.1 * r[0]], r * [0.5, 0.55, 0.6], eye),
        (c - 0.55 * r[0] * axes[0] + [0, 0.45 * r[1], 0.15 * r[0]], np.array([35, 22, 25]) * hs, eye),
    ]
    epi, t_eff = u(2, 6), float(pericardial_mm or 0.0)
    low = c[2] - hz
    for pc, pr in (
        ((xh - 0.8 * r[1], yh - 18, low + 10), (u(15, 30), u(15, 25), u(10, 20))),
        ((xh + 0.6 * r[0], yh - 28, low + 8), (u(15, 30), u(15, 25), u(10, 20))),
    ):
        bb_, al = cv.ellipsoid(pc, pr)
        if bb_ is not None:
            cv.paint(bb_, al * _above(cv, an, bb_), F32(hu["fat"] + 5), FAT, only=LUNG_LIKE)
    m = r.max() + epi + 1.6 * t_eff + 2 * cv.px + 4
    hb = cv.box(tuple(c - m), tuple(c + m))
    if hb is not None:
        dist = None
        for pc, pr, pa in parts:
            dx, dy, dz = hb.x - F32(pc[0]), hb.y - F32(pc[1]), hb.z - F32(pc[2])
            q = sum(
                ((F32(ax[0]) * dx + F32(ax[1]) * dy + F32(ax[2]) * dz) * F32(1 / ri)) ** 2
                for ax, ri in zip(pa, pr, strict=True)
            )
            p = np.sqrt(dx * dx + dy * dy + dz * dz)
            di = p - p / np.maximum(np.sqrt(q), F32(1e-3))  # mm outside this part, along the ray from its centre
            dist = di if dist is None else np.minimum(dist, di)
        post = np.clip((hb.y - F32(c[1])) / F32(r[1]), 0, 1)
        keep = _above(cv, an, hb)
        tl = F32(t_eff) * (F32(0.55) + F32(0.7) * post)
        layers = [(epi + tl + 1.8, F32(hu["muscle"] - 10), BODY, 0.5)]
        if t_eff > 0:
            layers.append((epi + tl, F32(pericardial_hu), PERICARDIAL, 0.5))
        layers += [(F32(epi), F32(hu["fat"] + 10), FAT, 0.5), (F32(0), F32(hu["blood"] + 4), HEART, ORGAN_T)]
        for off, val, code, thresh in layers:
            cv.paint(hb, soft(dist - off, F32(cv.px)) * keep, val, code, thresh)
        if t_eff > 0 and not (cv.lab[hb.sl] == PERICARDIAL).any():  # rim lost to partial volume: keep its best voxel
            score = soft(dist - epi - tl, F32(cv.px)) * np.isin(cv.lab[hb.sl], (FAT, BODY)) * keep
            i = np.unravel_index(int(np.argmax(score)), score.shape)
            cv.lab[hb.sl][i] = PERICARDIAL
            cv.hu[hb.sl][i] = F32(pericardial_hu)
    # left ventricular cavity (blood a touch darker than myocardium) and optional coronary calcium
    bb_, al = cv.ellipsoid(tuple(c + axes[0] * 0.2 * r[0] + axes[1] * 0.2 * r[1]), tuple(r * 0.55), axes)
    if bb_ is not None:
        cv.paint(bb_, al, F32(hu["blood"]), None, only=lut((HEART,)))
    if rng.random() < 0.25:
        th = u(0, 2 * np.pi, 4)
        ring = np.cos(th)[:, None] * axes[1] * r[1] + np.sin(th)[:, None] * axes[2] * r[2]  # the AV groove
        pts = c - 0.3 * r[0] * axes[0] + 0.95 * ring
        bb_, al = cv.balls(pts, u(1.0, 2.5, 4))
        if bb_ is not None:
            cv.paint(bb_, al, F32(u(300, 800)), None, only=lut((HEART, FAT)))
    # great vessels: aorta (root, ascending, arch, descending), pulmonary trunk and arteries, caval veins
    base = c - 0.55 * r[0] * axes[0]
    za, ra = float(an.z(an.lv["arch"])), u(0.85, 1.2)
    ym = yp - bc
    aorta = [
        base + np.array([0, 0, 10]),
        [bx - 8, ym - 0.35 * bc, zc - 25],
        [bx - 10, ym - 0.3 * bc, za - 5],
        [bx - 2, ym - 0.05 * bc, za + 3],
        [bx + 16, yp - 45, za - 6],
        [bx + 24, yp - 30, zc - 25],
        [bx + 20, yp - 34, float(an.z(an.lv["dome_l"]))],
        [bx + 9, yp - 40, float(an.z(0.9))],
        [bx + 6, yp - 42, bottom],
    ]
    _tube(
        cv,
        aorta,
        [15 * ra, 16 * ra, 15 * ra, 14 * ra, 13 * ra, 12 * ra, 11 * ra, 10 * ra, 10 * ra],
        hu["blood"],
        AORTA,
        halo=3,
        thresh=ORGAN_T,
    )
    bif = np.array([bx + 12, ym - 0.15 * bc, zc - 10])
    rvot = c + 0.25 * r[0] * axes[0] - 0.8 * r[1] * np.array([0, 1, 0])
    med.hilum_a["right"] = np.array([bx - 0.34 * ac, yp - 62, zc - 25])
    med.hilum_a["left"] = np.array([bx + 0.36 * ac, yp - 54, zc - 15])
    _tube(cv, [rvot, bif], [13, 13], hu["blood"], BODY, halo=2)
    _tube(cv, [bif, [bx - 0.1 * ac, yp - 62, zc - 16], med.hilum_a["right"]], [10, 10, 8], hu["blood"], BODY, halo=2)
    _tube(cv, [bif, [bx + 0.18 * ac, yp - 58, zc - 2], med.hilum_a["left"]], [10, 10, 8], hu["blood"], BODY, halo=2)
    a0, b0, y0 = (float(v) for v in an.cavity(np.array(an.z(0.08))))
    svc_top = [bx - 0.2 * ac, ym - 0.2 * bc, float(an.z(0.12))]
    _tube(
        cv,
        [svc_top, [bx - 0.2 * ac, ym - 0.12 * bc, zc], [bx - 0.22 * ac, ym, zc - 35]],
        [9, 9, 10],
        hu["blood"],
        BODY,
        halo=2,
    )
    _tube(
        cv,
        [
            [bx + 0.5 * a0, y0 - 0.3 * b0, top],
            [bx + 0.3 * a0, y0 - 0.55 * b0, float(an.z(0.1))],
            [bx, ym - 0.4 * bc, float(an.z(0.12))],
            svc_top,
        ],
        [7, 6, 6, 8],
        hu["blood"],
        BODY,
        halo=2,
    )
    _tube(cv, [[bx - 0.5 * a0, y0 - 0.3 * b0, top], svc_top], [7, 8], hu["blood"], BODY, halo=2)
    for dx, rad in ((-6, 6.5), (6, 4.5), (16, 5.5)):  # brachiocephalic, left carotid, left subclavian
        _tube(
            cv,
            [
                [bx + dx, ym - 0.05 * bc + dx, za + 5],
                [bx + 2.5 * dx, y0 - 0.1 * b0 + dx, float(an.z(0.05))],
                [bx + 3.5 * dx, y0 + dx, top],
            ],
            [rad] * 3,
            hu["blood"],
            BODY,
            halo=2,
        )
    zdr = e["dome_z_right"]
    ivc = [[bx - 0.2 * ac, ym + 0.1 * bc, zdr + 15], [bx - 0.14 * ac, yp - 48, zdr - 40], [bx - 20, yp - 42, bottom]]
    _tube(cv, ivc, [11, 11, 11], hu["blood"], BODY)
    _tube(
        cv,
        [
            [bx - 13, yp - 22, bottom],
            [bx - 14, yp - 26, zc - 10],
            [bx - 22, yp - 45, zc + 8],
            [bx - 0.2 * ac, ym - 0.12 * bc, zc + 5],
        ],
        [3.5, 4, 4, 4],
        hu["blood"],
        BODY,
        halo=1,
    )  # azygos
    for hx, hy, hzz in ((-0.7, 0.1, 60), (-0.3, -0.5, 55), (0.15, -0.55, 40)):  # hepatic veins into the IVC
        _tube(
            cv,
            [[bx + hx * ac, ym + hy * bc, zdr - hzz], [bx - 0.16 * ac, yp - 50, zdr - 15]],
            [2.5, 5],
            hu["blood"] - 2,
            None,
            only=lut((LIVER,)),
        )
    # airways: trachea and main bronchi (soft wall, air lumen)
    rt = u(8, 10.5)
    carina = np.array([bx + 2, yp - 55, zc])
    med.hilum_b["right"] = np.array([bx - 0.3 * ac, yp - 52, zc - 22])
    med.hilum_b["left"] = np.array([bx + 0.36 * ac, yp - 47, zc - 34])
    airways = [
        ([[bx + 1, yp - 60, top], [bx + 2, yp - 57, zc + 30], carina], [rt, rt, rt * 0.95]),
        ([carina, [bx - 18, yp - 54, zc - 10], med.hilum_b["right"]], [rt * 0.75, rt * 0.7, rt * 0.6]),
        ([carina, [bx + 20, yp - 52, zc - 14], med.hilum_b["left"]], [rt * 0.65, rt * 0.62, rt * 0.55]),
    ]
    for ctrl, rad in airways:
        _tube(cv, ctrl, [x + 1.8 for x in rad], hu["muscle"] - 15, BODY, halo=1.5)
    for ctrl, rad in airways:
        _tube(cv, ctrl, rad, -1000.0, 5)
    # oesophagus behind the trachea, down to the stomach; mediastinal lymph nodes in the fat
    eso = [
        [bx + 3, yp - 42, top],
        [bx + 6, yp - 40, zc],
        [bx + 10, yp - 42, float(an.z(0.5))],
        [bx + 16, yp - 50, e["dome_z_left"] + 5],
        [bx + 0.25 * ac, ym - 0.1 * bc, e["dome_z_left"] - 30],
    ]
    _tube(cv, eso, [7.5] * 5, hu["muscle"] - 5, BODY, only=lut((FAT, BODY, 3, 4)), halo=1.5)
    if rng.random() < 0.5:
        _tube(cv, eso[:4], [u(1.5, 3.5)] * 4, -1000.0, None, only=lut((BODY,)))
    n = int(rng.integers(1, 5))
    nodes = np.array([bx, yp - 55, zc]) + u(-1, 1, (n, 3)) * [25, 15, 30]
    bb_, al = cv.balls(nodes, u(2.5, 5.0, n))
    if bb_ is not None:
        cv.paint(bb_, al, F32(hu["muscle"] - 8), BODY, only=lut((FAT,)))
    med.hilum_v["right"] = c + np.array([-0.45 * r[1], 0.55 * r[1], 0.25 * r[0]])
    med.hilum_v["left"] = c + np.array([0.05 * r[1], 0.7 * r[1], 0.3 * r[0]])
    return med


def _above(cv: Canvas, an: Anatomy, b) -> np.ndarray:
    """Coverage of 'above the diaphragm envelope' on a (reduced) box: keeps the heart out of the liver."""
    x, y = b.x[0].astype(np.float64), b.y[0].astype(np.float64)
    zd = an.dome(x, y, None) + an.extra["tdia"]
    return soft(zd.astype(F32) - cv.zs[b.sl[0]][:, None, None], F32(cv.thick))
