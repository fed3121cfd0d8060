"""Bronchovascular trees of the CT phantom: bronchi, pulmonary arteries and veins branching from the hila.

Each tree grows by generations (all branches of a generation at once): segmental roots aim at k-means centres of
the lung, then every branch forks in two with shrinking length and calibre, pruned where it leaves the lung.
Branches wider than a voxel are drawn as unions of balls, thinner ones by depositing their volume (their
partial-volume share), so the periphery fades the way small vessels do on CT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from medvlp.data.synthetic.ct_anatomy import AIRWAY, CONSOLIDATION, EMPHYSEMA, LUNG_L, LUNG_R, NODULE, Anatomy
from medvlp.data.synthetic.ct_canvas import F32, Canvas, lut, segment_points
from medvlp.data.synthetic.ct_chest import Mediastinum

TREE_ONLY = lut((LUNG_R, LUNG_L, CONSOLIDATION, EMPHYSEMA, NODULE))
LUNGS_ONLY = lut((LUNG_R, LUNG_L))


@dataclass
class Tree:
    """Straight segments a -> b with radii r (mm)."""

    a: np.ndarray  # [N, 3]
    b: np.ndarray  # [N, 3]
    r: np.ndarray  # [N]


def _kmeans(rng: np.random.Generator, pts: np.ndarray, k: int, iters: int = 6) -> np.ndarray:
    cent = pts[rng.choice(len(pts), size=k, replace=False)]
    for _ in range(iters):
        near = np.argmin(((pts[:, None, :] - cent[None]) ** 2).sum(-1), axis=1)  # [P, k] -> [P]
        for j in range(k):
            sel = pts[near == j]
            if len(sel):
                cent[j] = sel.mean(0)
    return cent


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def grow(
    rng: np.random.Generator,
    cv: Canvas,
    root: np.ndarray,
    targets: np.ndarray,
    code: int,
    r0: float,
    r_min: float,
    reach: float = 0.45,
) -> Tree:
    """Grow one tree from `root` toward `targets` inside the lung labelled `code`."""
    u = rng.uniform
    k = len(targets)
    start = np.repeat(root[None], k, 0)
    d = targets - start
    length = np.linalg.norm(d, axis=1) * reach
    dirs, aim = _unit(d), targets.copy()
    rad = r0 * u(0.8, 1.05, k)
    out_a, out_b, out_r = [], [], []
    gen = 0
    while len(start) and gen < 12:
        end = start + dirs * length[:, None]
        ok = cv.label_at(end) == code
        if gen > 0:
            half = start + dirs * (0.5 * length)[:, None]
            ok_half = ~ok & (cv.label_at(half) == code)
            end[ok_half] = half[ok_half]
            keep = ok | ok_half
        else:
            keep = np.ones(len(start), bool)
        start, end, dirs, length, rad, aim = start[keep], end[keep], dirs[keep], length[keep], rad[keep], aim[keep]
        out_a.append(start)
        out_b.append(end)
        out_r.append(rad)
        # fork: two children in a random plane through the parent axis, one wider (monopodial branching)
        n = len(start)
        v = _unit(np.cross(dirs, rng.standard_normal((n, 3))))
        a1, a2 = u(0.08, 0.35, n)[:, None], u(0.5, 1.0, n)[:, None]
        pull = _unit(aim - end) * 0.12
        d1 = _unit(np.cos(a1) * dirs + np.sin(a1) * v + pull)
        d2 = _unit(np.cos(a2) * dirs - np.sin(a2) * v + pull)
        r1, r2 = rad * u(0.84, 0.93, n), rad * u(0.62, 0.8, n)
        l1, l2 = length * u(0.75, 0.9, n), length * u(0.6, 0.8, n)
        start = np.vstack([end, end])
        dirs = np.vstack([d1, d2])
        rad, length, aim = np.concatenate([r1, r2]), np.concatenate([l1, l2]), np.vstack([aim, aim])
        live = rad >= r_min
        start, dirs, rad, length, aim = start[live], dirs[live], rad[live], length[live], aim[live]
        gen += 1
    if not out_a:
        return Tree(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))
    return Tree(np.vstack(out_a), np.vstack(out_b), np.concatenate(out_r))


def paint_tree(
    cv: Canvas, tree: Tree, value: float, label: int | None = None, wall: float = 0.0, wall_value: float = 30.0
) -> None:
    """Draw a tree in the lung: balls for branches wider than a voxel, deposited volume for thinner ones."""
    if len(tree.r) == 0:
        return
    big = tree.r + wall >= 0.8 * cv.px
    layers = [(wall, wall_value, None), (0.0, value, label)] if wall > 0 else [(0.0, value, label)]
    for extra, val, code in layers:
        if big.any():
            r = tree.r[big] + extra
            pts, rad, _ = segment_points(tree.a[big], tree.b[big], r, np.clip(0.5 * r, 0.5, 4.0))
            b, al = cv.balls(pts, rad)
            if b is not None:
                cv.paint(b, al, F32(val), code, only=TREE_ONLY, relabel=LUNGS_ONLY)
        small = ~big
        if small.any():
            r = tree.r[small] + extra
            pts, rad, seg_len = segment_points(tree.a[small], tree.b[small], r, 0.5 * cv.px)
            frac = cv.deposit(pts, np.pi * rad**2 * seg_len)
            nz = frac > 0.002
            alpha = frac[nz] * TREE_ONLY[cv.lab[nz]]
            cv.hu[nz] += alpha * (F32(val) - cv.hu[nz])


def grow_trees(rng: np.random.Generator, cv: Canvas, an: Anatomy, med: Mediastinum) -> list[tuple[Tree, str]]:
    """Bronchi, arteries and veins of both lungs (grown on the anatomy's lung labels, before any finding)."""
    trees: list[tuple[Tree, str]] = []
    sub = cv.lab[::2, ::3, ::3]  # a coarse sample of lung voxels for the segment centres
    for side, code, k in (("right", LUNG_R, 16), ("left", LUNG_L, 14)):
        idx = np.argwhere(sub == code) * np.array([2, 3, 3])
        if len(idx) < 4 * k:
            continue
        idx = idx[rng.choice(len(idx), size=min(len(idx), 3000), replace=False)]
        pts = np.stack([cv.xs[idx[:, 2]], cv.ys[idx[:, 1]], cv.zs[idx[:, 0]]], axis=1).astype(np.float64)
        seg = _kmeans(rng, pts, k)
        trees.append((grow(rng, cv, med.hilum_b[side], seg, code, rng.uniform(2.2, 2.8), 0.5, 0.4), "bronchus"))
        trees.append((grow(rng, cv, med.hilum_a[side], seg, code, rng.uniform(2.1, 2.7), 0.35), "artery"))
        veins = _kmeans(rng, pts, k - 2)
        trees.append((grow(rng, cv, med.hilum_v[side], veins, code, rng.uniform(2.1, 2.7), 0.35, 0.5), "vein"))
    return trees


def paint_trees(cv: Canvas, an: Anatomy, trees: list[tuple[Tree, str]]) -> None:
    """Vessels at blood density, then bronchi (soft wall, air lumen; lumens wider than a voxel labelled airway).

    Trees of one material are merged first, so each material is splatted once for both lungs.
    """

    def merged(kinds: tuple[str, ...]) -> Tree:
        sel = [t for t, k in trees if k in kinds]
        if not sel:
            return Tree(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros(0))
        return Tree(np.vstack([t.a for t in sel]), np.vstack([t.b for t in sel]), np.concatenate([t.r for t in sel]))

    paint_tree(cv, merged(("artery", "vein")), an.hu["blood"])
    br = merged(("bronchus",))
    keep = br.r >= 1.0  # bronchi thinner than this are not resolved on CT
    if keep.any():
        paint_tree(
            cv,
            Tree(br.a[keep], br.b[keep], br.r[keep]),
            -1000.0,
            AIRWAY,
            wall=float(np.mean(0.2 + 0.15 * br.r[keep])),
            wall_value=an.hu["muscle"] - 20,
        )


def paint_fissures(rng: np.random.Generator, cv: Canvas, an: Anatomy) -> None:
    """Interlobar fissures: oblique ones in both lungs, the horizontal one on the right; faint thin pleural lines."""
    u = rng.uniform
    b = cv.box(
        (an.bx - an.ac, an.y_post - 2 * an.bc, float(an.z(an.lv["dome_r"])) - 80),
        (an.bx + an.ac, an.y_post + 30, float(an.z(0.15))),
    )
    if b is None:
        return
    lab = cv.lab[b.sl]
    ext_pts = []
    for side, code in ((-1, LUNG_R), (1, LUNG_L)):
        top = np.array([0.0, an.y_post - u(0, 15), float(an.z(u(0.26, 0.34)))])
        low = np.array([0.0, an.y_post - an.bc * u(1.3, 1.6), an.extra[f"dome_z_{'right' if side < 0 else 'left'}"]])
        n = np.cross(low - top, [side * 1.0, -u(0.4, 0.8), 0])  # laterally the fissure swings forward
        top[0] = an.bx
        ext_pts.append((code, n / np.linalg.norm(n), top, side))
    n_r, top_r = ext_pts[0][1], ext_pts[0][2]
    hz = float(an.z(an.lv["heart"] - u(0.02, 0.08)))
    horizontal = np.array([0.0, 0.15, 1.0]) / np.hypot(0.15, 1.0)
    ext_pts.append((LUNG_R, horizontal, np.array([an.bx, an.y_post - an.bc, hz]), 0))
    w = u(0.3, 0.5)  # two pleural layers, mm
    for code, n, p0, side in ext_pts:
        dist = (
            (b.x - F32(p0[0])) * F32(n[0]) + (b.y - F32(p0[1])) * F32(n[1]) + (b.z - F32(p0[2])) * F32(n[2])
        ).astype(F32)
        ext = float(np.sqrt((n[0] * cv.px) ** 2 + (n[1] * cv.px) ** 2 + (n[2] * cv.thick) ** 2))
        alpha = F32(w / ext) * np.clip(1 - np.abs(dist) / F32(ext), 0, 1) * (lab == code)
        if side == 0:  # the horizontal fissure stops at the oblique one, in front of it
            d_obl = (
                (b.x - F32(top_r[0])) * F32(n_r[0])
                + (b.y - F32(top_r[1])) * F32(n_r[1])
                + (b.z - F32(top_r[2])) * F32(n_r[2])
            )
            alpha = alpha * (d_obl * np.sign(n_r[1]) < 0)
        cv.paint(b, alpha, F32(an.hu["muscle"] - 20), None)
