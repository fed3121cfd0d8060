"""The two projections of the chest phantom: frontal (PA/AP) and left lateral, built on cxr_anatomy's primitives.

Each builder fills a Frame with soft-tissue, bone, occupancy (heart/mediastinum replacing lung air) and extra-air
layers, per-side lung air, anatomy masks and the landmarks that findings and devices attach to.
"""

from __future__ import annotations

import math

import numpy as np

from medvlp.data.synthetic.cxr_anatomy import (
    F32,
    SIDE_SIGN,
    Cavity,
    Frame,
    Habitus,
    Heart,
    capsule,
    ramp,
    sigmoid,
    vessel_tree,
)


def _frac(v: np.ndarray) -> np.ndarray:
    return v - np.floor(v)


def _ellipse_heart(fr: Frame, width: float, y_cut: float, x_right: float) -> None:
    """Place a rotated-ellipse heart of the given transverse width, right border and floor."""
    h = fr.h
    th, k = h.heart_ang, h.heart_k
    ca, sa = math.cos(th), math.sin(th)
    a = width / 2 / math.sqrt(ca**2 + k**2 * sa**2)
    b = k * a
    hw = width / 2
    dy = (a * a - b * b) * sa * ca / hw  # the leftmost point lies this far below the centre
    hy = y_cut - h.heart_lift - dy
    fr.heart = Heart(x_right + hw, hy, a, b, th, y_cut, hw, dy, math.sqrt(a * a * sa * sa + b * b * ca * ca))


def _side_box(fr: Frame, sg: float, q0: float, q1: float, y0: float = -1e4, y1: float = 1e4) -> tuple[slice, slice]:
    """Pixel slices of the frontal-view strip q0 <= sg * x <= q1 (one side of the chest)."""
    x0, x1 = sorted((sg * q0, sg * q1))
    return fr.box(x0, x1, y0, y1)


def _rib_profile(t: np.ndarray, rim: float) -> np.ndarray:
    """Cross-section of a rib for t in [0, 1) across it (0 outside): a tube with brighter cortical edges."""
    tt = np.clip(t, 0, 1)
    core = np.sqrt(4 * tt * (1 - tt))
    edge = np.clip(1 - np.minimum(tt, 1 - tt) * (1 / 0.2), 0, 1)
    return ((1 - rim) * core + rim * edge * edge) * (t < 1)


def build_frontal(fr: Frame, vrng: np.random.Generator) -> None:
    """PA/AP chest: column grows toward the patient's left, so the heart bulges to the high-column side."""
    h, X, Y = fr.h, fr.X, fr.Y
    W, H, ms, aa = h.W, h.H, h.mshift, 1.2 * fr.sp
    ap = h.view == "AP"
    fr.tc = tc = h.depth + 1.2 * h.fat
    fr.A = 0.78 * h.depth
    masks = {n: np.zeros(X.shape, bool) for n in ("lung_right", "lung_left", "clavicles", "ribs", "diaphragm")}
    bone, extra = np.zeros(X.shape, F32), np.zeros(X.shape, F32)
    # soft tissue: torso with shoulders and thinner supraclavicular fossae
    wb = W + h.fat + 55 * sigmoid((0.02 * H - Y) * (1 / 18))
    neck = sigmoid((-0.05 * H - Y) * (1 / 12)) * ramp(np.abs(X - 0.3 * ms) - 58, 14)
    soft = tc * np.sqrt(np.clip(1 - (X / wb) ** 2, 0, 1)) * (1 - 0.5 * neck)
    for side, sg in SIDE_SIGN.items():
        fr.cav[side] = cav = Cavity(
            q_apex=0.36 * W,
            q_in=7 + sg * ms,
            q_out=W,
            h_in=0.3 * H,
            h_out=0.7 * H,
            q_dome=0.5 * W,
            y_dome=H + (h.dome_gap if side == "left" else 0.0) - h.dome_up[side],
            drop_in=18.0,
            drop_out=h.cpd,
        )
        box = _side_box(fr, sg, min(cav.q_in, 0) - 4, W + 4, -4, cav.y_dome + h.cpd + 140)
        q, y = sg * X[box], Y[box]
        f = cav.fields(q, y)
        fr.air[side] = np.zeros(X.shape, F32)
        fr.air[side][box] = cav.air(q, y, fr.A, aa, f)
        masks[f"lung_{side}"][box] = f[3] > 0
        d = y - f[2]
        masks["diaphragm"][box] = (d >= 0) & (d < 6.0) & (q > f[0]) & (q < f[1])
    # heart: transverse width from the cardiothoracic ratio, kept inside the left chest wall
    width = min(h.ctr * 2 * W * h.mag, 1.7 * W)
    rf = max(h.heart_rf, 1 - (0.93 * W - ms) / width)
    _ellipse_heart(fr, width, fr.cav["left"].y_dome + 16, ms - rf * width)
    hx, hy, a, _, _, y_cut, hw, dy, hv = fr.heart
    occ, heart = np.zeros(X.shape, F32), np.zeros(X.shape, bool)
    hb = fr.window(hx, hy, a + 2)
    r2 = fr.heart_r2(X[hb], Y[hb])
    heart[hb] = (r2 < 1) & (Y[hb] < y_cut)
    occ[hb] = 0.92 * np.clip(1 - r2, 0, 1) ** 0.25 * ramp(y_cut + 12 - Y[hb], 8)
    # superior mediastinum with the aortic knob
    y_car = 0.36 * H
    mb = fr.box(ms - 1.35 * h.medi - 4, ms + 0.85 * h.medi + h.knob + 4, -1e4, hy - 0.5 * hv + 20)
    xm, ym = X[mb], Y[mb]
    widen = 1 + 0.15 * np.clip(ym * (1 / (0.5 * H)), 0, 1)
    left_edge = ms + 0.85 * h.medi + h.knob * np.exp(-(((ym - y_car + 14) * (1 / (1.4 * h.knob))) ** 2))
    band = 0.85 * ramp(np.minimum(xm - (ms - h.medi * widen), left_edge - xm), aa) * ramp(hy - 0.5 * hv - ym, 30)
    occ[mb] = np.maximum(occ[mb], band)
    medi = np.zeros(X.shape, bool)
    medi[mb] = (band > 0.42) & (ym > -0.1 * H)
    fr.occ = occ
    # airways and stomach bubble
    p_top, p_car = (0.3 * ms + 0.3 * h.rot, -300.0), (0.8 * ms, y_car)
    fr.hila = {"right": (ms - 0.3 * W - 6, 0.47 * H), "left": (ms + 0.3 * W, 0.42 * H)}
    for p0, p1, r, air in (
        (p_top, p_car, 8.5, 35),
        (p_car, (p_car[0] - 22, y_car + 22), 6.0, 18),
        (p_car, (p_car[0] + 35, y_car + 28), 5.5, 18),
    ):
        bb = fr.box(min(p0[0], p1[0]) - r, max(p0[0], p1[0]) + r, min(p0[1], p1[1]) - r, max(p0[1], p1[1]) + r)
        extra[bb] += air * np.sqrt(np.clip(1 - (capsule(X[bb], Y[bb], p0, p1) * (1 / r)) ** 2, 0, 1))
    sx = 0.42 * W
    sy = float(fr.cav["left"].dome(np.float32(sx))) + 20
    bb = fr.window(sx, sy, 30)
    extra[bb] += 35 * h.bubble * np.sqrt(np.clip(1 - ((X[bb] - sx) / 28) ** 2 - ((Y[bb] - sy) / 13) ** 2, 0, 1))
    fr.extra_air = extra
    for (hx0, hy0), blob in zip(fr.hila.values(), (1.0, 0.9), strict=True):
        bb = fr.window(hx0, hy0, 40)
        soft[bb] += 14 * blob * np.exp(-(((X[bb] - hx0) / 9) ** 2) - ((Y[bb] - hy0) / 14) ** 2)
    # bones: spine with pedicles, spinous processes and discs
    xsp, ws = 0.15 * ms + h.rot, 0.15 * W + 3
    sb = fr.box(xsp - ws - 3, xsp + ws + 3, -1e4, 1e4)
    dx = np.abs(X[sb] - xsp)
    col = ramp(ws - dx, aa)
    f = _frac((Y[sb] + 40) * (1 / h.vert_h))
    pd = ((dx - 0.72 * ws) * (1 / (0.18 * ws))) ** 2 + ((f - 0.3) * 4.0) ** 2
    ped = np.exp(-(((np.sqrt(pd) - 1) * (1 / 0.3)) ** 2))
    spinous = ((dx * (1 / (0.12 * ws))) ** 2 + ((f - 0.6) * (1 / 0.16)) ** 2 < 1) * 0.35
    disc = 1 - 0.4 * (f > 0.84) + 0.25 * np.exp(-(((f - 0.03) * (1 / 0.04)) ** 2))
    bone[sb] += 16 * col * ((0.55 + 0.45 * (dx * (1 / ws)) ** 6) * disc + 0.3 * ped + spinous)
    spine = np.zeros(X.shape, bool)
    spine[sb] = (col > 0.5) & (Y[sb] > -0.15 * H)
    # per side: posterior and anterior ribs, clavicle, scapula, humeral head, breast
    for sg in SIDE_SIGN.values():
        bb = _side_box(fr, sg, -abs(xsp) - 4, W + h.fat + 42)
        xs, ys = X[bb], Y[bb]
        qr, qs = sg * (xs - xsp), sg * xs
        xn = qr * (1 / W)
        g = W * (0.42 * xn * xn - 0.12 * xn + 1.2 * np.clip(xn - 0.7, 0, None) ** 2)
        phi = (ys - g * (1 + 0.8 * np.exp(-np.clip(ys, 0, None) * (1 / (0.18 * H)))) - h.rib_y0) * (1 / h.rib_sp)
        ribs = 20 * _rib_profile(_frac(phi) * (1 / h.rib_w), 0.45) * ramp(qr - 0.13 * W, 6) * ramp(W + 12 - qr, 8)
        ribs *= (phi >= 0) & (phi < 12)
        phia = (ys - 0.55 * (W - qr) - h.rib_y0 - 0.9 * h.rib_sp) * (1 / (1.1 * h.rib_sp))
        ribs += (
            8
            * _rib_profile(_frac(phia) * (1 / 0.45), 0.0)
            * ramp(qr - 0.3 * W, 30)
            * ramp(W + 8 - qr, 8)
            * ((phia >= 0) & (phia < 7))
        )
        masks["ribs"][bb] |= ribs > 5.0
        q_m, q_l, y_m = 12.0, W + 18, h.clav_y * H
        u = np.clip((qs - q_m) * (1 / (q_l - q_m)), 0, 1)
        dist = np.abs(ys - (y_m - 0.16 * H * u + 5 * np.sin(2 * np.pi * u)))
        th = 8 - 2.5 * u
        clav = ramp(th - dist, aa) * ramp(qs - q_m, 4) * ramp(q_l - qs, 6)
        masks["clavicles"][bb] |= clav > 0.5
        qb0, qb1 = (0.62 * W, 0.8 * W) if ap else (0.8 * W, 0.93 * W)
        border = qb0 + (qb1 - qb0) * np.clip(ys * (1 / (0.55 * H)), 0, 1)
        scap = (
            ramp(0.55 * H - ys, 20)
            * ramp(ys + 0.05 * H, 10)
            * (9 * ramp(qs - border, aa) + 6 * np.exp(-(((qs - border) * (1 / 1.5)) ** 2)))
        )
        dh = (qs - (W + h.fat + 12)) ** 2 + (ys + 0.07 * H) ** 2
        humerus = 35 * np.sqrt(np.clip(1 - dh * (1 / 26**2), 0, 1))
        bone[bb] += ribs + 24 * clav * (0.4 + 0.6 * np.sqrt(np.clip(1 - (dist / th) ** 2, 0, 1))) + scap + humerus
        if h.breast > 0:
            yb = ys - 0.83 * H
            shape = 1 - ((qs - 0.52 * W) * (1 / (0.42 * W))) ** 2 - (np.clip(yb, 0, None) * (1 / (0.2 * H))) ** 2
            soft[bb] += h.breast * np.sqrt(np.clip(shape, 0, 1)) * np.exp(-((np.clip(yb, None, 0) / (0.22 * H)) ** 2))
    fr.soft, fr.bone = soft.astype(F32), bone
    fr.masks = {
        "body": soft > 0.04 * tc,
        "lung_right": masks["lung_right"] & ~heart & ~medi,
        "lung_left": masks["lung_left"] & ~heart & ~medi,
        "heart": heart,
        "mediastinum": medi & ~heart,
        "spine": spine,
        "clavicles": masks["clavicles"],
        "ribs": masks["ribs"],
        "diaphragm": masks["diaphragm"],
    }
    yd = fr.cav["left"].y_dome
    fr.anchors = {
        "trachea_top": p_top,
        "carina": p_car,
        "svc_top": (ms - h.medi + 8, 0.05 * H),
        "cavoatrial": (hx - hw + 14, hy - dy - 26),
        "ra": (hx - hw + 16, hy - dy + 6),
        "rv": (hx + 0.45 * hw, y_cut - 14),
        "esophagus_top": (0.5 * ms + 6, -300.0),
        "esophagus_mid": (ms + 10, 0.55 * H),
        "ge": (ms + 28, yd + 18),
        "stomach": (0.45 * W, yd + 38),
    }
    cy = h.clav_y * H
    for side, sg in SIDE_SIGN.items():
        fr.anchors[f"subclavian_{side}"] = [
            (sg * (W + 30), cy + 25),
            (sg * 0.55 * W, cy + 12),
            (sg * 0.25 * W, cy + 14),
        ]
        fr.anchors[f"jugular_{side}"] = [(sg * 42, -300.0), (sg * 30, -0.02 * H), (sg * 22, 0.06 * H)]
        fr.anchors[f"pocket_{side}"] = (sg * 0.62 * W, cy + 38)
    right = [-2.25, -2.7, 3.05, 2.45, 1.95]
    trunks = {"right": (*fr.hila["right"], right), "left": (*fr.hila["left"], [math.pi - a for a in right])}
    fr.vessels = vessel_tree(vrng, fr, trunks)


def build_lateral(fr: Frame, vrng: np.random.Generator) -> None:
    """Left lateral chest: column grows posteriorly; spine posterior, heart anterior-inferior, lungs overlapping."""
    h, X, Y = fr.h, fr.X, fr.Y
    D, H, W, aa = h.depth, h.H, h.W, 1.2 * fr.sp
    fr.tc = tc = 2 * (W + h.fat) * 0.9
    fr.A = 0.3 * tc
    masks = {n: np.zeros(X.shape, bool) for n in ("lung_right", "lung_left", "diaphragm")}
    for side in ("right", "left"):
        fr.cav[side] = cav = Cavity(
            q_apex=0.55 * D,
            q_in=6.0,
            q_out=0.94 * D,
            h_in=0.55 * H,
            h_out=0.35 * H,
            q_dome=0.4 * D,
            y_dome=H + (h.dome_gap if side == "left" else 0.0) - h.dome_up[side],
            drop_in=22.0,
            drop_out=1.5 * h.cpd,
        )
        box = fr.box(-10, 1.05 * D, -10, cav.y_dome + 1.5 * h.cpd + 150)
        q, y = fr.qy(side, X[box], Y[box])
        f = cav.fields(q, y)
        fr.air[side] = np.zeros(X.shape, F32)
        fr.air[side][box] = cav.air(q, y, fr.A, aa, f)
        masks[f"lung_{side}"][box] = f[3] > 0
        d = y - f[2]
        masks["diaphragm"][box] |= (d >= 0) & (d < 6.0) & (q > f[0]) & (q < f[1])
    # heart: anterior-inferior ellipse whose size follows the cardiothoracic ratio
    grow = h.ctr / 0.445
    a, b, th = 0.33 * D * grow, 0.24 * H * grow**0.8, -0.5
    hw = math.sqrt((a * math.cos(th)) ** 2 + (b * math.sin(th)) ** 2)
    hv = math.sqrt((a * math.sin(th)) ** 2 + (b * math.cos(th)) ** 2)
    hx = 0.03 * D + hw
    y_cut = float(fr.cav["left"].dome(np.float32(hx))) + 6
    hy = y_cut - 0.45 * hv
    fr.heart = Heart(hx, hy, a, b, th, y_cut, hw, 0.0, hv)
    occ, heart = np.zeros(X.shape, F32), np.zeros(X.shape, bool)
    hb = fr.window(hx, hy, a + 2)
    r2 = fr.heart_r2(X[hb], Y[hb])
    heart[hb] = (r2 < 1) & (Y[hb] < y_cut)
    occ[hb] = 0.5 * np.clip(1 - r2, 0, 1) ** 0.35 * ramp(y_cut - Y[hb], 4)
    # aorta (arch, ascending, descending) and trachea
    cx, cy, R = 0.45 * D, 0.26 * H, 0.16 * D
    ab = fr.box(cx - R - 20, cx + R + 0.05 * D + 20, cy - R - 20, y_cut + 5)
    xa_, ya_ = X[ab], Y[ab]
    ring = np.abs(np.sqrt((xa_ - cx) ** 2 + (ya_ - cy) ** 2) - R) + 1e3 * (ya_ > cy)
    dist = np.minimum(ring, capsule(xa_, ya_, (cx - R, cy), (cx - R + 5, hy - hv + 10)))
    dist = np.minimum(dist, capsule(xa_, ya_, (cx + R, cy), (cx + R + 0.05 * D, y_cut)))
    aorta = ramp(13 - dist, 6.0)
    occ[ab] = np.maximum(occ[ab], 0.15 * aorta)
    fr.occ = occ
    p_top, p_car = (0.3 * D, -300.0), (0.5 * D, 0.36 * H)
    extra = np.zeros(X.shape, F32)
    tb = fr.box(0.3 * D - 10, 0.5 * D + 10, -1e4, 0.36 * H + 10)
    dt = capsule(X[tb], Y[tb], p_top, p_car)
    extra[tb] = 45 * np.sqrt(np.clip(1 - (dt * (1 / 8.5)) ** 2, 0, 1))
    medi = np.zeros(X.shape, bool)
    medi[ab] = aorta > 0.5
    medi[tb] |= (dt < 10) & (Y[tb] > -0.1 * H)
    sx = 0.32 * D
    sy = float(fr.cav["left"].dome(np.float32(sx))) + 18
    bb = fr.window(sx, sy, 28)
    extra[bb] += 30 * h.bubble * np.sqrt(np.clip(1 - ((X[bb] - sx) / 26) ** 2 - ((Y[bb] - sy) / 12) ** 2, 0, 1))
    fr.extra_air = extra
    fr.hila = {"right": (0.52 * D, 0.45 * H), "left": (0.56 * D, 0.41 * H)}
    # soft tissue: chest from anterior to posterior skin, breasts, raised arms over the upper chest
    xa = -12 - 0.7 * h.fat - h.breast * np.exp(-(((Y - 0.8 * H) * (1 / (0.25 * H))) ** 2))
    xb = D + 25 + 0.5 * h.fat
    soft = tc * np.sqrt(np.clip(1 - ((2 * X - xa - xb) / (xb - xa)) ** 2, 0, 1))
    soft += 0.25 * tc * sigmoid((-0.02 * H - Y) * (1 / 25)) * ramp(0.6 * D - X, 30) * ramp(X - xa, 10)
    for hx0, hy0 in fr.hila.values():
        bb = fr.window(hx0, hy0, 45)
        soft[bb] += 12 * np.exp(-(((X[bb] - hx0) / 14) ** 2) - ((Y[bb] - hy0) / 16) ** 2)
    # bones: vertebral bodies with discs, posterior elements, sternum, posterior ribs, clavicle, humeri
    bone = np.zeros(X.shape, F32)
    sb = fr.box(0.68 * D, 1.2 * D, -1e4, 1e4)
    xs, ys = X[sb], Y[sb]
    dx = xs - (0.70 * D + 0.05 * D * np.sin(np.pi * np.clip(ys * (1 / (1.3 * H)), 0, 1)))
    wv = 0.17 * D
    col = ramp(dx, aa) * ramp(wv - dx, aa)
    f = _frac((ys + 40) * (1 / h.vert_h))
    rim = np.exp(-((dx * 0.5) ** 2)) + np.exp(-(((wv - dx) * 0.5) ** 2)) + np.exp(-(((f - 0.03) * 25) ** 2))
    spine_b = 30 * col * (0.6 + 0.4 * rim) * (1 - 0.65 * (f > 0.82)) * (1 - 0.25 * np.clip(ys * (1 / H), 0, 1))
    bone[sb] += spine_b + 12 * ramp(dx - wv - 4, aa) * ramp(wv + 0.22 * D - dx, 8) * (0.5 + 0.5 * np.cos(2 * np.pi * f))
    spine = np.zeros(X.shape, bool)
    spine[sb] = (col > 0.5) & (ys > -0.15 * H)
    stb = fr.box(-20, 0, 0, 0.8 * H)
    st_front = -14.0 - 4.0 * (Y[stb] < 0.2 * H)
    bone[stb] += (
        18
        * ramp(X[stb] - st_front, aa)
        * ramp(-3 - X[stb], aa)
        * ramp(Y[stb] - 0.06 * H, 3)
        * ramp(0.78 * H - Y[stb], 6)
    )
    ribs = np.zeros(X.shape, F32)
    rb = fr.box(0.3 * D, 1.1 * D, -40, H + 2 * h.cpd + 60)
    for side in ("right", "left"):
        q, y = fr.qy(side, X[rb], Y[rb])
        t = _frac((y + 0.5 * (q - D) - h.rib_y0) * (1 / h.rib_sp)) * (1 / h.rib_w)
        ribs[rb] += (
            9
            * _rib_profile(t, 0.3)
            * ramp(q - 0.45 * D, 40)
            * ramp(D + 10 - q, 8)
            * ramp(y + 10, 10)
            * ramp(H + 40 - y, 20)
        )
    cb = fr.box(-15, 0.35 * D + 10, -0.06 * H - 10, 0.16 * H + 10)
    clav = np.zeros(X.shape, F32)
    clav[cb] = ramp(7 - capsule(X[cb], Y[cb], (-5.0, 0.16 * H), (0.35 * D, -0.06 * H)), aa)
    bone += 20 * clav + ribs
    fr.soft, fr.bone = soft.astype(F32), bone
    fr.masks = {
        "body": soft > 0.04 * tc,
        "lung_right": masks["lung_right"] & ~heart,
        "lung_left": masks["lung_left"] & ~heart,
        "heart": heart,
        "mediastinum": medi & ~heart,
        "spine": spine,
        "clavicles": clav > 0.5,
        "ribs": ribs > 3.0,
        "diaphragm": masks["diaphragm"],
    }
    yd = fr.cav["left"].y_dome
    fr.anchors = {
        "trachea_top": p_top,
        "carina": p_car,
        "svc_top": (0.38 * D, 0.02 * H),
        "cavoatrial": (0.4 * D, hy - hv + 12),
        "ra": (0.42 * D, hy),
        "rv": (0.15 * D, y_cut - 15),
        "esophagus_top": (0.55 * D, -300.0),
        "esophagus_mid": (0.62 * D, 0.45 * H),
        "ge": (0.45 * D, yd + 15),
        "stomach": (0.3 * D, yd + 35),
    }
    for side, off in (("right", 0.0), ("left", 8.0)):
        fr.anchors[f"subclavian_{side}"] = [(0.02 * D + off, 0.08 * H), (0.2 * D + off, 0.06 * H), (0.32 * D, 0.04 * H)]
        fr.anchors[f"jugular_{side}"] = [(0.3 * D + off, -300.0), (0.34 * D + off, -0.05 * H)]
        fr.anchors[f"pocket_{side}"] = (-0.4 * h.fat - 10 + off, 0.14 * H)
    spread = [-1.9, -0.8, 0.2, 1.2, 2.2, -2.8]
    trunks = {"right": (*fr.hila["right"], spread), "left": (*fr.hila["left"], [a + 0.3 for a in spread])}
    fr.vessels = vessel_tree(vrng, fr, trunks)


def build_frame(h: Habitus, rows: int, cols: int, sp: float, vessel_rng: np.random.Generator) -> Frame:
    """Build all anatomy layers and masks of one view for a (possibly finding-edited) habitus."""
    xm = (np.arange(cols, dtype=F32) + 0.5) * sp - h.ox
    ym = (np.arange(rows, dtype=F32) + 0.5) * sp - h.oy
    c, s = math.cos(h.tilt), math.sin(h.tilt)
    X = (c * xm[None, :] + s * ym[:, None]).astype(F32)
    Y = (c * ym[:, None] - s * xm[None, :]).astype(F32)
    fr = Frame(h=h, sp=sp, X=X, Y=Y, cav={})
    corners_x, corners_y = X[[0, 0, -1, -1], [0, -1, 0, -1]], Y[[0, 0, -1, -1], [0, -1, 0, -1]]
    fr.limits = (float(corners_x.min()), float(corners_x.max()), float(corners_y.min()), float(corners_y.max()))
    (build_lateral if fr.lateral else build_frontal)(fr, vessel_rng)
    return fr
