"""Drawing primitives of the CT phantom: a voxel canvas in LPS millimetres with partial-volume painting.

Shapes are evaluated in physical mm on bounding boxes only, so anatomy size does not depend on the matrix and the
cost scales with what is drawn. Partial volume comes from soft implicit edges (a linear ramp one voxel wide, the
box-filter of a plane) and from sub-slice supersampling, so a structure thinner than a slice still shows, faded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

F32 = np.float32


@dataclass
class Box:
    """A window of the volume and the mm coordinates of its samples (z may hold `ns` sub-slice samples per slice)."""

    sl: tuple[slice, slice, slice]
    z: np.ndarray  # [nz * ns, 1, 1] LPS z mm
    y: np.ndarray  # [1, ny, 1]
    x: np.ndarray  # [1, 1, nx]
    ns: int = 1

    def reduce(self, a: np.ndarray) -> np.ndarray:
        """Average the sub-slice samples of `a` back to one value per slice (the slab integral)."""
        if self.ns == 1:
            return a
        return a.reshape(-1, self.ns, a.shape[1], a.shape[2]).mean(axis=1)  # [nz, ns, ny, nx] -> [nz, ny, nx]


def soft(f: np.ndarray, df: np.ndarray | float) -> np.ndarray:
    """Coverage of a voxel by the region f < 0, given how much f changes across one voxel (df > 0)."""
    return np.clip(F32(0.5) - f / df, 0.0, 1.0).astype(F32, copy=False)


def lut(codes: tuple[int, ...] | list[int]) -> np.ndarray:
    """Boolean look-up table over uint8 label codes (faster than np.isin on volumes)."""
    t = np.zeros(256, bool)
    t[list(codes)] = True
    return t


class Canvas:
    """The HU and label volumes being painted, with their LPS sample coordinates."""

    def __init__(
        self,
        shape: tuple[int, int, int],
        spacing: tuple[float, float, float],
        origin: tuple[float, float, float],
        thickness: float,
    ) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.dz, self.dy, self.dx = (float(s) for s in spacing)
        self.ox, self.oy, self.oz = (float(o) for o in origin)
        d, h, w = self.shape
        self.xs = (self.ox + self.dx * np.arange(w)).astype(F32)
        self.ys = (self.oy + self.dy * np.arange(h)).astype(F32)
        self.zs = (self.oz + self.dz * np.arange(d)).astype(F32)
        self.px = max(self.dx, self.dy)
        self.thick = max(float(thickness), self.dz)
        self.ns = int(np.clip(round(self.thick / self.px), 1, 3))  # sub-slices for thin structures
        self.hu = np.full(self.shape, -1000.0, F32)
        self.lab = np.zeros(self.shape, np.uint8)

    # ---- windows -------------------------------------------------------------------------------------------------
    @staticmethod
    def _span(lo: float, hi: float, o: float, d: float, n: int) -> tuple[int, int]:
        return max(int(np.floor((lo - o) / d)), 0), min(int(np.ceil((hi - o) / d)) + 1, n)

    def box(
        self, lo: tuple[float, float, float], hi: tuple[float, float, float], ns: int = 1, slab: float | None = None
    ) -> Box | None:
        """The window covering LPS mm [lo, hi] (x, y, z); None when it misses the volume.

        With ns > 1 each slice carries ns evenly spaced sub-samples across its slab (default: the slice thickness).
        """
        d, h, w = self.shape
        x0, x1 = self._span(lo[0], hi[0], self.ox, self.dx, w)
        y0, y1 = self._span(lo[1], hi[1], self.oy, self.dy, h)
        z0, z1 = self._span(lo[2], hi[2], self.oz, self.dz, d)
        if x0 >= x1 or y0 >= y1 or z0 >= z1:
            return None
        z = self.zs[z0:z1]
        if ns > 1:  # sub-slice sample positions across the slab of each slice
            sub = ((np.arange(ns) + 0.5) / ns - 0.5) * (self.thick if slab is None else slab)
            z = (z[:, None] + sub[None, :]).reshape(-1)  # [nz, ns] -> [nz * ns]
        return Box(
            (slice(z0, z1), slice(y0, y1), slice(x0, x1)),
            z.astype(F32)[:, None, None],
            self.ys[None, y0:y1, None],
            self.xs[None, None, x0:x1],
            ns,
        )

    def full(self) -> Box:
        return self.box((-1e9, -1e9, -1e9), (1e9, 1e9, 1e9))  # type: ignore[return-value]

    def index(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest voxel index [N, 3] (d, h, w) of LPS points [N, 3] (x, y, z), and whether it lies inside."""
        p = np.asarray(pts, np.float64).reshape(-1, 3)
        idx = np.rint(
            np.stack(
                [(p[:, 2] - self.oz) / self.dz, (p[:, 1] - self.oy) / self.dy, (p[:, 0] - self.ox) / self.dx], axis=1
            )
        ).astype(np.int64)
        ok = np.all((idx >= 0) & (idx < np.asarray(self.shape)), axis=1)
        return np.clip(idx, 0, np.asarray(self.shape) - 1), ok

    def label_at(self, pts: np.ndarray) -> np.ndarray:
        """Label at LPS points (0 outside the volume)."""
        idx, ok = self.index(pts)
        return np.where(ok, self.lab[idx[:, 0], idx[:, 1], idx[:, 2]], 0)

    # ---- painting ------------------------------------------------------------------------------------------------
    def paint(
        self,
        box: Box,
        alpha: np.ndarray,
        value: float | np.ndarray,
        label: int | None = None,
        thresh: float = 0.5,
        only: np.ndarray | None = None,
        relabel: np.ndarray | None = None,
    ) -> np.ndarray:
        """Blend `value` into the window with coverage alpha; relabel where alpha > thresh. Returns the alpha used.

        only: a label look-up table (see `lut`) restricting where paint may land (e.g. vessels stay in the lung);
        relabel: a look-up table of the labels that may be replaced (default: all).
        """
        lab = self.lab[box.sl]
        if only is not None:
            alpha = alpha * only[lab]
        hu = self.hu[box.sl]
        hu += alpha * (value - hu)
        if label is not None:
            m = alpha > thresh
            if relabel is not None:
                m &= relabel[lab]
            lab[m] = label
        return alpha

    def quadric(
        self,
        c: tuple[float, float, float],
        r: tuple[float, float, float],
        axes: np.ndarray | None = None,
        ns: int = 1,
        pad: float = 0.0,
    ) -> tuple[Box, np.ndarray, np.ndarray] | tuple[None, None, None]:
        """q = sum (u_i / r_i)^2 of an ellipsoid (u along the rows of `axes`) on its box, and q's change per voxel."""
        e = np.eye(3) if axes is None else np.asarray(axes, np.float64)
        r = np.asarray(r, np.float64)
        half = np.sqrt(((e * r[:, None]) ** 2).sum(axis=0)) + 2 * self.px + pad  # bbox half-extent per axis
        b = self.box(tuple(np.subtract(c, half)), tuple(np.add(c, half)), ns)  # type: ignore[arg-type]
        if b is None:
            return None, None, None
        q, grad = _quadric(b, c, r, e)
        h = (self.px, self.px, self.thick / b.ns)
        dq = np.sqrt(sum((g * F32(hh)) ** 2 for g, hh in zip(grad, h, strict=True))) + F32(1e-6)
        return b, q, dq

    def ellipsoid(
        self,
        c: tuple[float, float, float],
        r: tuple[float, float, float],
        axes: np.ndarray | None = None,
        ns: int = 1,
        blur: float = 0.0,
    ) -> tuple[Box, np.ndarray] | tuple[None, None]:
        """Coverage of an ellipsoid (centre c, semi-axes r along the rows of `axes`, LPS); blur widens the edge (mm)."""
        b, q, dq = self.quadric(c, r, axes, ns, pad=blur)
        if b is None:
            return None, None
        if blur > 0:
            dq = np.sqrt(dq**2 + F32(2 * blur / np.mean(r)) ** 2)
        return b, b.reduce(soft(q - 1, dq))

    # ---- tubes and balls -----------------------------------------------------------------------------------------
    def balls(self, pts: np.ndarray, radii: np.ndarray) -> tuple[Box, np.ndarray] | tuple[None, None]:
        """Coverage of a union of balls (rows of pts, LPS mm) on a sub-slice grid, averaged per slab."""
        pts, radii = np.asarray(pts, np.float64).reshape(-1, 3), np.asarray(radii, np.float64).reshape(-1)
        if len(pts) == 0:
            return None, None
        ns, hz = self.ns, self.dz / self.ns  # a uniform sub-grid: slabs of one slice spacing
        lo, hi = (pts - radii[:, None]).min(0), (pts + radii[:, None]).max(0)
        b = self.box(tuple(lo - self.px), tuple(hi + self.px), ns, slab=self.dz)
        if b is None:
            return None, None
        nz, ny, nx = b.z.shape[0], b.y.shape[1], b.x.shape[2]
        step = np.array([hz, self.dy, self.dx])
        # sub-grid coordinates of the points (sub-slices are evenly spaced, hz apart)
        sub = (pts[:, ::-1] - np.array([b.z[0, 0, 0], b.y[0, 0, 0], b.x[0, 0, 0]])) / step  # [N, 3] (z, y, x)
        buf = np.zeros(nz * ny * nx, F32)
        reach = np.ceil(radii[:, None] / step + 1).astype(np.int64)  # [N, 3] half-extent in sub-voxels
        code = (reach[:, 0] * 4096 + reach[:, 1]) * 4096 + reach[:, 2]
        order = np.argsort(code, kind="stable")
        bounds = np.flatnonzero(np.diff(code[order])) + 1
        for sel in np.split(order, bounds):  # points sharing one footprint size
            key = reach[sel[0]]
            s, rad = sub[sel], radii[sel].astype(F32)[:, None, None, None]
            base = np.rint(s).astype(np.int64)
            d2 = np.zeros((len(s), 1, 1, 1), F32)
            flat = np.zeros((len(s), 1, 1, 1), np.int64)
            ok = np.ones((len(s), 1, 1, 1), bool)
            for ax, (k, n, stride) in enumerate(zip(key, (nz, ny, nx), (ny * nx, nx, 1), strict=True)):
                idx = base[:, ax, None] + np.arange(-k, k + 1)  # [n, 2k+1] along this axis
                shape = [len(s), 1, 1, 1]
                shape[ax + 1] = 2 * k + 1
                d2 = d2 + (((idx - s[:, ax, None]) * step[ax]) ** 2).astype(F32).reshape(shape)
                flat = flat + (idx * stride).reshape(shape)
                ok = ok & ((idx >= 0) & (idx < n)).reshape(shape)
            cov = np.clip((rad - np.sqrt(d2)) * F32(1 / self.px) + F32(0.5), 0, 1)  # [n, Kz, Ky, Kx]
            m = (cov > 0) & ok
            np.maximum.at(buf, flat[m], cov[m])
        return b, b.reduce(buf.reshape(nz, ny, nx))

    def deposit(self, pts: np.ndarray, vol_mm3: np.ndarray) -> np.ndarray:
        """Volume fraction [D, H, W] of many thin tube samples (points carrying mm^3), bilinear in-plane.

        For structures thinner than a voxel the partial-volume fraction is just the volume they put in it.
        """
        pts = np.asarray(pts, np.float64).reshape(-1, 3)
        d, h, w = self.shape
        fz = np.rint((pts[:, 2] - self.oz) / self.dz).astype(np.int64)
        fy, fx = (pts[:, 1] - self.oy) / self.dy, (pts[:, 0] - self.ox) / self.dx
        iy, ix = np.floor(fy).astype(np.int64), np.floor(fx).astype(np.int64)
        ty, tx = fy - iy, fx - ix
        frac = np.asarray(vol_mm3, np.float64) / (self.dx * self.dy * self.dz)
        acc = np.zeros(d * h * w, F32)
        for oy, ox, wt in ((0, 0, (1 - ty) * (1 - tx)), (0, 1, (1 - ty) * tx), (1, 0, ty * (1 - tx)), (1, 1, ty * tx)):
            yy, xx = iy + oy, ix + ox
            ok = (fz >= 0) & (fz < d) & (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            np.add.at(acc, ((fz * h + yy) * w + xx)[ok], (frac * wt)[ok].astype(F32))
        return np.minimum(acc.reshape(d, h, w), 1.0)


def _quadric(b: Box, c, r: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """q = sum_i (u_i / r_i)^2 with u = e (p - c), and dq/d(x, y, z) on the box samples."""
    dx, dy, dz = b.x - F32(c[0]), b.y - F32(c[1]), b.z - F32(c[2])
    if np.allclose(e, np.eye(3)):
        us = [dx, dy, dz]
    else:
        us = [F32(ei[0]) * dx + F32(ei[1]) * dy + F32(ei[2]) * dz for ei in e]
    q = sum((u * F32(1 / ri)) ** 2 for u, ri in zip(us, r, strict=True))
    gu = [u * F32(2 / ri**2) for u, ri in zip(us, r, strict=True)]
    grad = [sum(g * F32(e[i, k]) for i, g in enumerate(gu) if e[i, k] != 0) for k in range(3)]
    return q, grad


def polyline_points(
    ctrl: np.ndarray, radii: np.ndarray, step: float = 1.0, smooth: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Sample a (Catmull-Rom smoothed) polyline through control points [K, 3] every ~step mm, with radii."""
    ctrl, radii = np.asarray(ctrl, np.float64), np.asarray(radii, np.float64)
    if smooth and len(ctrl) > 2:
        p = np.vstack([2 * ctrl[0] - ctrl[1], ctrl, 2 * ctrl[-1] - ctrl[-2]])
        t = np.linspace(0, 1, 9)[:-1, None]
        segs = []
        for i in range(1, len(p) - 2):  # uniform Catmull-Rom between p[i] and p[i+1]
            p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
            segs.append(
                0.5
                * (
                    2 * p1
                    + (-p0 + p2) * t
                    + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                    + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
                )
            )
        dense = np.vstack([*segs, ctrl[-1:]])
        rad = np.interp(np.linspace(0, len(ctrl) - 1, len(dense)), np.arange(len(ctrl)), radii)
    else:
        dense, rad = ctrl, radii
    seg = np.linalg.norm(np.diff(dense, axis=0), axis=1)
    s = np.concatenate([[0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)), 1) + 1
    u = np.linspace(0, s[-1], n)
    pts = np.stack([np.interp(u, s, dense[:, k]) for k in range(3)], axis=1)
    return pts, np.interp(u, s, rad)


def segment_points(
    a: np.ndarray, b: np.ndarray, r: np.ndarray, step: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample straight segments a[i] -> b[i] every ~step: points [M, 3], their radii and the length each carries."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    length = np.linalg.norm(b - a, axis=1)
    step = np.broadcast_to(np.asarray(step, np.float64), length.shape)
    n = np.maximum(np.ceil(length / step).astype(int), 1)
    seg = np.repeat(np.arange(len(a)), n)
    t = (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + 0.5) / np.repeat(n, n)  # mid-points of n pieces
    pts = a[seg] + (b - a)[seg] * t[:, None]
    return pts, np.asarray(r)[seg], (length / n)[seg]


def smooth_field(rng: np.random.Generator, cv: Canvas, spacing_mm: float, sigma: float = 1.0) -> np.ndarray:
    """A smooth random field [D, H, W] (~unit SD) drawn on a physical mm grid, then linearly upsampled.

    The coarse grid is anchored to the field-of-view edge and sized from the physical extent, so the same draw gives
    the same field at any matrix.
    """
    d, h, w = cv.shape
    edges = (cv.oz - cv.dz / 2, cv.oy - cv.dy / 2, cv.ox - cv.dx / 2)
    extents = (round(d * cv.dz, 3), round(h * cv.dy, 3), round(w * cv.dx, 3))
    nc = [int(np.ceil(e / spacing_mm)) + 3 for e in extents]
    g = ndimage.gaussian_filter(rng.standard_normal(nc).astype(F32), sigma, mode="wrap")
    g /= max(float(g.std()), 1e-6)
    for axis, (coords, edge) in enumerate(zip((cv.zs, cv.ys, cv.xs), edges, strict=True)):
        c = (coords - edge) / spacing_mm + 1.0
        i0 = np.floor(c).astype(int)
        t = (c - i0).astype(F32)
        shape = [1, 1, 1]
        shape[axis] = -1
        t = t.reshape(shape)
        g = np.take(g, i0, axis=axis) * (1 - t) + np.take(g, i0 + 1, axis=axis) * t
    return g
