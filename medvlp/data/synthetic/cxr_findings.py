"""How each chest X-ray finding is drawn into a built Frame, with size, contrast and position from its severity.

Findings act physically: fluid and tissue replace lung air (opacity per lung), pleural air replaces lung and
hides the vessels, solid lesions and metal add density, and a few edit the habitus before the anatomy is built
(heart size, mediastinal shift, hemidiaphragm height). Each returns its own mask.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medvlp.data.synthetic.cxr_anatomy import F32, SIDE_SIGN, Frame, Habitus, capsule, ramp, smooth_noise
from medvlp.data.synthetic.findings import DEVICE_TYPES, Finding

SIDES = ("right", "left")


@dataclass
class Layers:
    """What the findings add to the anatomy before the image is composed."""

    opacity: dict[str, np.ndarray]  # share of each lung's air replaced by fluid or tissue
    boost: dict[str, np.ndarray]  # > 1 where pleural air replaces aerated lung
    dense: np.ndarray  # added water-equivalent mm (lesions, lines, metal)
    keep: np.ndarray  # vessel visibility (0 beyond a pneumothorax edge)
    bronchi: np.ndarray  # weight of air bronchograms (aerated bronchi inside opacified lung)

    @classmethod
    def empty(cls, fr: Frame) -> Layers:
        z = np.zeros(fr.X.shape, F32)
        return cls({s: z.copy() for s in SIDES}, {s: z + 1 for s in SIDES}, z.copy(), z + 1, z.copy())

    def add_opacity(self, side: str, o: np.ndarray, win: tuple[slice, slice] | None = None) -> None:
        tgt = self.opacity[side] if win is None else self.opacity[side][win]
        tgt[...] = 1 - (1 - tgt) * (1 - np.clip(o, 0, 1))


def _uniform(rng: np.random.Generator, a: float, b: float) -> float:
    """Uniform between two bounds given in either order (anatomy can invert a nominal range)."""
    return float(rng.uniform(min(a, b), max(a, b)))


def _sides(f: Finding, rng: np.random.Generator) -> list[str]:
    if f.laterality == "bilateral":
        return list(SIDES)
    if f.laterality in SIDES:
        return [f.laterality]
    return [SIDES[int(rng.integers(2))]]


def adjust_habitus(h: Habitus, f: Finding, rng: np.random.Generator) -> None:
    """Edits a finding makes to the body before the anatomy is built (always the same draws per finding)."""
    sev = f.severity
    if f.name == "cardiomegaly":
        h.ctr = max(0.505, 0.515 + 0.17 * sev + float(rng.normal(0, 0.012)))
    elif f.name == "pleural_effusion" and f.laterality in SIDES:
        depth = f.size_mm or 10 + 70 * sev
        h.mshift -= SIDE_SIGN[f.laterality] * float(np.clip((depth - 50) * 0.3, 0, 15))
    elif f.name == "pneumothorax" and f.subtype == "tension" and f.laterality in SIDES:
        h.mshift -= SIDE_SIGN[f.laterality] * (12 + 10 * sev)
        h.dome_up[f.laterality] -= 12
    elif f.name == "atelectasis":
        for side in [f.laterality] if f.laterality in SIDES else list(SIDES):
            h.dome_up[side] += 5 + 22 * sev
            h.mshift += SIDE_SIGN[side] * 3 * sev


def zone_point(fr: Frame, rng: np.random.Generator, side: str, zone: str | None, margin: float) -> tuple[float, float]:
    """A point inside `side`'s lung in the given zone (retrocardiac: behind the heart shadow)."""
    h = fr.h
    hx, hy, _, _, _, y_cut, hw, _, hv = fr.heart
    lo, hi = {"upper": (0.14, 0.35), "middle": (0.36, 0.6), "lower": (0.62, 1.0)}.get(zone or "", (0.15, 0.9))
    for _ in range(60):
        if zone == "retrocardiac":
            if fr.lateral:
                x, y = _uniform(rng, hx + 0.3 * hw, hx + hw + 25), _uniform(rng, hy - 0.2 * hv, y_cut - 8)
            else:
                x, y = rng.uniform(hx - hw, hx + hw), _uniform(rng, hy - 0.3 * hv, y_cut - 8)
        else:
            y = rng.uniform(lo, hi) * h.H
            x = rng.uniform(0.05, 0.95) * h.depth if fr.lateral else SIDE_SIGN[side] * rng.uniform(0.1, 1.0) * h.W
        r, c = (round(float(v)) for v in fr.to_pix(np.float64(x), np.float64(y)))
        if not (0 <= r < fr.X.shape[0] and 0 <= c < fr.X.shape[1]):
            continue
        ok = float(fr.sdf(side, np.float32(x), np.float32(y))) > margin
        hidden = float(fr.occ[r, c]) > 0.3  # behind the heart or mediastinum
        if ok and (fr.lateral or hidden == (zone == "retrocardiac")):
            return float(x), float(y)
    return fr.hila[side][0] + (0.0 if fr.lateral else SIDE_SIGN[side] * 25.0), fr.hila[side][1]


def _lung_mask(fr: Frame, side: str, o: np.ndarray, thr: float, win: tuple[slice, slice] | None = None) -> np.ndarray:
    """Where the opacity is marked: above `thr` and over lung that had air to replace."""
    air = fr.air[side] if win is None else fr.air[side][win]
    return (o > thr) & (air > 0.05 * fr.A)


def _effusion(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Dependent fluid with a meniscus rising laterally (lateral view: posteriorly); AP adds layering haze."""
    depth0, sev, ap = f.size_mm or 10 + 70 * f.severity, f.severity, fr.h.view == "AP"
    mask = np.zeros(fr.X.shape, bool)
    for i, side in enumerate(_sides(f, rng)):
        depth = depth0 * (1.0 if i == 0 else rng.uniform(0.5, 1.0)) * (0.65 if ap else 1.5 if fr.lateral else 1.0)
        cav = fr.cav[side]
        q, y = fr.qy(side, fr.X, fr.Y)
        inner, outer = cav.walls(y)
        u = np.clip((q - inner) / np.maximum(outer - inner, 1.0), 0, 1)
        y_fluid = float(cav.dome(np.float32(cav.q_out))) - depth * (0.3 + 0.7 * u**2)
        o = ramp(y - y_fluid, 2 + 0.08 * depth) * (0.75 + 0.25 * sev)
        if ap:
            o = np.maximum(o, 0.4 * sev * np.clip((y - 0.25 * fr.h.H) / (0.6 * fr.h.H), 0, 1))
        L.add_opacity(side, o)
        mask |= _lung_mask(fr, side, o, 0.25)
    return mask


def _pneumothorax(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Pleural air between the chest wall and a thin visceral line; apical upright, lateral-basal supine."""
    side, sev = _sides(f, rng)[0], f.severity
    rim = f.size_mm or 3 + 60 * sev
    cav = fr.cav[side]
    q, y = fr.qy(side, fr.X, fr.Y)
    inner, outer = cav.walls(y)
    yn = np.clip(y / fr.h.H, 0, 1)
    if fr.lateral:
        dist, rim_y = np.minimum(q - inner, outer - q), rim * (1 - 0.6 * yn)
    else:
        dist = outer - q
        rim_y = rim * (0.6 + 0.4 * yn) if fr.h.view == "AP" else rim * (1 - 0.55 * yn)
    inside = cav.sdf(q, y) > 0
    pleural = ramp(rim_y - dist, 1.0) * inside
    L.boost[side] *= 1 + 0.25 * pleural
    L.keep *= 1 - pleural
    L.add_opacity(side, (1 - pleural) * 0.35 * float(np.clip((rim - 25) / 40, 0, 1)))
    L.dense += (5 + 5 * sev) * np.exp(-(((dist - rim_y) / 0.6) ** 2)) * (cav.sdf(q, y) > 1.5)
    return (pleural > 0.5) & inside


def _consolidation(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Patchy airspace opacity with air bronchograms; next to the heart or dome it erases their border."""
    sev, mask = f.severity, np.zeros(fr.X.shape, bool)
    for side in _sides(f, rng):
        R = 18 + 50 * sev
        cx, cy = zone_point(fr, rng, side, f.zone, margin=6.0)
        win = fr.window(cx, cy, 1.8 * R)
        xs, ys = fr.X[win], fr.Y[win]
        if xs.size == 0:
            continue
        env = np.exp(-(((xs - cx) / R) ** 2) - ((ys - cy) / (R * rng.uniform(0.75, 1.3))) ** 2)
        coarse, fine = (smooth_noise(rng, xs.shape, max(2.0, mm / fr.sp)) for mm in (10, 4))
        noise = coarse + 0.5 * fine
        o = np.clip((env * (0.75 + 0.25 * noise) - 0.2) / 0.45, 0, 1) ** 1.5 * (0.4 + 0.55 * sev)
        L.add_opacity(side, o, win)
        L.bronchi[win] += 0.5 * np.clip(2 * o - 0.5, 0, 1)
        mask[win] |= _lung_mask(fr, side, o, 0.2, win)
    return mask


def _lesion(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Round solid lesion: sphere chord profile, sharp or ill-defined, lobulated when large."""
    side, sev = _sides(f, rng)[0], f.severity
    r = (f.size_mm or 8 + 40 * sev) / 2
    cx, cy = zone_point(fr, rng, side, f.zone, margin=0.7 * r)
    ill = rng.random() < (0.35 if f.name == "nodule" else 0.5)
    lob = rng.uniform(0, 0.1 if f.name == "nodule" else 0.22)  # lobulation depth, number of lobes, phase
    lobes, phase = int(rng.integers(3, 7)), rng.uniform(0, 6.3)
    win = fr.window(cx, cy, 1.4 * r)
    dx, dy = fr.X[win] - cx, fr.Y[win] - cy
    reff = r * (1 + lob * np.cos(lobes * np.arctan2(dy, dx) + phase))
    t = np.clip(1 - (dx * dx + dy * dy) / (reff * reff), 0, 1)
    L.dense[win] += (1.4 + 0.8 * sev) * (0.85 if ill else 1.0) * 2 * r * t ** (0.9 if ill else 0.5)
    mask = np.zeros(fr.X.shape, bool)
    mask[win] = t > 0
    return mask


def _atelectasis(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Plate-like band (with the hemidiaphragm already pulled up); severe ones add a basal lobar collapse."""
    sev, mask = f.severity, np.zeros(fr.X.shape, bool)
    for side in _sides(f, rng):
        cx, cy = zone_point(fr, rng, side, f.zone or "lower", margin=10.0)
        length, th, ang = 30 + 50 * sev, 2.5 + 5 * sev, float(rng.normal(0, 0.2))
        bend = rng.normal(0, 0.005)  # plates sag a little
        win = fr.window(cx, cy, 0.6 * length + 3 * th)
        dx, dy = fr.X[win] - cx, fr.Y[win] - cy
        u = dx * math.cos(ang) + dy * math.sin(ang)
        v = dy * math.cos(ang) - dx * math.sin(ang) - bend * u * u
        o = np.exp(-((v / th) ** 2) - (u / (0.5 * length)) ** 4) * (0.35 + 0.4 * sev)
        L.add_opacity(side, o, win)
        mask[win] |= _lung_mask(fr, side, o, 0.25, win)
        if sev > 0.55:  # lobar collapse: a dense wedge at the medial (lateral view: posterior) base
            cav = fr.cav[side]
            qc = cav.q_in + 0.2 * fr.h.W if not fr.lateral else 0.75 * fr.h.depth
            yc = float(cav.dome(np.float32(qc))) - 0.12 * fr.h.H
            q, y = fr.qy(side, fr.X, fr.Y)
            w = (sev - 0.4) * np.clip(1 - ((q - qc) / (0.14 * fr.h.W)) ** 2 - ((y - yc) / (0.16 * fr.h.H)) ** 2, 0, 1)
            L.add_opacity(side, 1.2 * w**0.5)
            mask |= _lung_mask(fr, side, 1.2 * w**0.5, 0.25)
    return mask


def _edema(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Bilateral perihilar haze (bat wing) with indistinct vessels and Kerley B lines at the lateral bases."""
    sev, h, mask = f.severity, fr.h, np.zeros(fr.X.shape, bool)
    amp = 0.06 + 0.45 * sev
    noise = smooth_noise(rng, fr.X.shape, max(2.0, 12.0 / fr.sp))
    rx, ry = (0.35 * h.depth, 0.3 * h.H) if fr.lateral else (0.5 * h.W, 0.32 * h.H)
    for side in SIDES if f.laterality not in SIDES else [f.laterality]:
        hx, hy = fr.hila[side]
        o = amp * (
            np.exp(-(((fr.X - hx) / rx) ** 2) - ((fr.Y - hy) / ry) ** 2) * np.clip(0.75 + 0.35 * noise, 0, 1.5) + 0.12
        )
        L.add_opacity(side, o)
        L.keep *= 1 - 0.4 * np.clip(o, 0, 1)
        mask |= _lung_mask(fr, side, o, min(0.15, 0.6 * amp))
        if fr.lateral:
            continue
        cav, sg = fr.cav[side], SIDE_SIGN[side]
        for _ in range(2 + int(8 * sev)):
            y0 = _uniform(rng, 0.68 * h.H, float(cav.dome(np.float32(cav.q_out))) - 6)
            x0 = sg * float(cav.walls(np.float32(y0))[1])
            length = rng.uniform(10, 20)
            p1 = (x0 - sg * length, y0 + rng.normal(0, 1.5))
            win = fr.window(x0, y0, length + 4)
            line = np.exp(-((capsule(fr.X[win], fr.Y[win], (x0, y0), p1) / 0.7) ** 2))
            L.dense[win] += (2.5 + 4 * sev) * line
            mask[win] |= line > 0.3
    return mask


def _device(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Tubes, lines and a pacemaker: thin, very bright, each ending where it belongs."""
    a, kind = fr.anchors, f.subtype if f.subtype in DEVICE_TYPES else str(rng.choice(DEVICE_TYPES))
    parts: list[tuple[float, np.ndarray]] = []  # (water-equivalent mm at the centre, 0..1 profile)
    if kind == "ett":
        (tx, ty), (cx, cy) = a["trachea_top"], a["carina"]
        tip_y = cy - rng.uniform(30, 50)
        path = [(tx, ty), (tx + (cx - tx) * (tip_y - ty) / (cy - ty), tip_y)]
        parts += [(10.0, fr.polyline(path, 8.0)), (90.0, fr.polyline([(x + 2.5, y) for x, y in path], 1.8))]
    elif kind == "cvc":
        side = "right" if rng.random() < 0.65 else "left"
        route = a[f"{'jugular' if rng.random() < 0.5 else 'subclavian'}_{side}"]
        tip = (a["cavoatrial"][0] + rng.normal(0, 4), a["cavoatrial"][1] + rng.normal(0, 8))
        parts.append((70.0, fr.polyline([*route, a["svc_top"], tip], 3.0)))
    elif kind == "ngt":
        sx, sy = a["stomach"]
        curl = (sx + rng.uniform(-15, 15), sy + rng.uniform(5, 20))
        parts.append((70.0, fr.polyline([a["esophagus_top"], a["esophagus_mid"], a["ge"], (sx, sy), curl], 4.5)))
    else:
        side = "left" if rng.random() < 0.8 else "right"
        px, py = a[f"pocket_{side}"]
        px, py = px + rng.normal(0, 6), py + rng.normal(0, 6)
        ang = rng.uniform(-0.5, 0.5)
        win = fr.window(px, py, 40)
        dx, dy = fr.X[win] - px, fr.Y[win] - py
        u, v = dx * math.cos(ang) + dy * math.sin(ang), dy * math.cos(ang) - dx * math.sin(ang)
        box = np.zeros(fr.X.shape, F32)
        box[win] = np.clip(1 - (np.abs(u) / 24) ** 4 - (np.abs(v) / 20) ** 4, 0, 1) ** 0.2 * (
            1 - 0.3 * np.exp(-((u - 6) ** 2 + v**2) / 60)
        )
        route = [(px, py), *a[f"subclavian_{side}"][1:], a["svc_top"], a["ra"]]
        parts += [
            (260.0, box),
            (80.0, fr.polyline([*route, a["rv"]], 2.5)),
            (80.0, fr.polyline([*route[:-1], a["cavoatrial"]], 2.5)),
        ]
    mask = np.zeros(fr.X.shape, bool)
    for density, prof in parts:
        L.dense += density * prof
        mask |= prof > 0.35
    return mask


def draw_finding(fr: Frame, f: Finding, rng: np.random.Generator, L: Layers) -> np.ndarray:
    """Draw one finding into the layers and return its mask (bool [rows, cols])."""
    if f.name == "cardiomegaly":
        return fr.masks["heart"].copy()
    draw = {
        "pleural_effusion": _effusion,
        "pneumothorax": _pneumothorax,
        "consolidation": _consolidation,
        "nodule": _lesion,
        "mass": _lesion,
        "atelectasis": _atelectasis,
        "edema": _edema,
        "support_devices": _device,
    }[f.name]
    return draw(fr, f, rng, L)
