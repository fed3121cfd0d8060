"""Procedural chest X-ray anatomy: one patient's habitus and the projected structures of a PA/AP or lateral view.

Everything is built in patient millimetres and sampled on the pixel grid, so sizes follow the pixel spacing.
The lung cavities are analytic, so findings can query them at any point (zone placement, vessel pruning).
Densities are water-equivalent path lengths in mm; the renderer maps them to display values.
PA/AP frame: x to the patient's left (growing column), y caudal, origin at the midline at lung-apex level.
Lateral frame: x posterior from the inner anterior chest wall, y as in PA.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage

ANATOMY_NAMES: tuple[str, ...] = (
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
SIDE_SIGN = {"right": -1.0, "left": 1.0}
F32 = np.float32


def ramp(d: np.ndarray | float, width: float) -> np.ndarray:
    """Anti-aliased step: 0 for d << 0, 1 for d >> 0, linear over `width` (mm)."""
    return np.clip(np.asarray(d) * (1 / width) + 0.5, 0.0, 1.0)


def capsule(x: np.ndarray, y: np.ndarray, p0: tuple[float, float], p1: tuple[float, float]) -> np.ndarray:
    """Distance (mm) from each point to the segment p0-p1."""
    ax, ay = p1[0] - p0[0], p1[1] - p0[1]
    t = np.clip(((x - p0[0]) * ax + (y - p0[1]) * ay) / (ax * ax + ay * ay + 1e-9), 0.0, 1.0)
    dx, dy = x - p0[0] - t * ax, y - p0[1] - t * ay
    return np.sqrt(dx * dx + dy * dy)


@dataclass
class Habitus:
    """One patient's body and pose; drawn before (and independently of) the findings, which may edit it."""

    view: str
    W: float  # half inner thoracic width (mm)
    H: float  # lung apex to right dome (mm)
    depth: float  # inner chest depth front to back (mm)
    fat: float
    ox: float  # image position (mm) of the frame origin
    oy: float
    tilt: float  # in-plane rotation (rad)
    rot: float  # axial rotation, seen as a spinous-process offset (mm)
    ctr: float  # cardiothoracic ratio before AP magnification
    heart_ang: float
    heart_k: float
    heart_rf: float  # share of the heart right of the midline
    heart_lift: float
    mag: float  # AP heart magnification (1 for PA)
    dome_gap: float  # left dome below the right
    cpd: float  # costophrenic sulcus depth below the dome
    breast: float  # breast shadow thickness (0 = none)
    rib_sp: float
    rib_y0: float
    rib_w: float
    clav_y: float
    medi: float
    knob: float
    bubble: float
    vert_h: float
    mshift: float = 0.0  # mediastinal shift to the patient's left (mm); findings set it
    dome_up: dict[str, float] = field(default_factory=lambda: {"right": 0.0, "left": 0.0})


def sample_habitus(rng: np.random.Generator, view: str, fov: tuple[float, float]) -> Habitus:
    """Draw a patient; body draws come first and in the same order for every view (a study's views agree)."""
    fh, fw = fov
    W = float(np.clip(rng.normal(137, 11), 112, 168))
    shape = rng.uniform(1.55, 1.85)
    depth = 2 * W * rng.uniform(0.68, 0.86)
    fat = rng.uniform(12, 45)
    ctr = float(np.clip(rng.normal(0.445, 0.03), 0.38, 0.495))
    breast = rng.uniform(18, 45) if rng.random() < 0.45 else 0.0
    u = rng.random(16)  # pose and fine anatomy, uniform draws mapped below
    ap = view == "AP"
    insp = 0.80 + 0.17 * u[0] if ap else 0.92 + 0.14 * u[0]
    oy = 22 + 33 * u[1]
    H = min(W * shape * insp, fh - oy - 75)
    W = min(W, (fw - 40) / 2)
    ox = fw / 2 + (u[2] - 0.5) * 24 - (depth / 2 if view == "LL" else 0.0)  # lateral origin: anterior wall
    return Habitus(
        view=view,
        W=W,
        H=H,
        depth=depth,
        fat=fat,
        ox=ox,
        oy=oy,
        tilt=math.radians((u[3] - 0.5) * (8 if ap else 5)),
        rot=(u[4] - 0.5) * (16 if ap else 9),
        ctr=ctr,
        heart_ang=0.55 + 0.3 * u[5],
        heart_k=0.62 + 0.14 * u[6],
        heart_rf=0.33 + 0.12 * u[7],
        heart_lift=24 + 20 * u[8],
        mag=1.08 + 0.07 * u[9] if ap else 1.0,
        dome_gap=8 + 17 * u[10],
        cpd=26 + 18 * u[11],
        breast=breast,
        rib_sp=H / (9.0 + 1.2 * u[12]),
        rib_y0=-14 + 8 * u[13],
        rib_w=0.34 + 0.08 * u[14],
        clav_y=(0.03 + 0.09 * u[15]) if ap else (0.14 + 0.1 * u[15]),
        medi=22 + 9 * rng.random(),
        knob=12 + 6 * rng.random(),
        bubble=float(rng.random() < 0.8),
        vert_h=21 + 5 * rng.random(),
    )


@dataclass
class Cavity:
    """One lung's thoracic cavity in a lateral coordinate q (PA: distance from the midline; lateral view: depth
    behind the anterior wall), apex at y=0, between an inner and an outer wall, above a diaphragm dome."""

    q_apex: float
    q_in: float
    q_out: float
    h_in: float
    h_out: float
    q_dome: float
    y_dome: float
    drop_in: float
    drop_out: float

    def walls(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inner and outer wall positions (q) at height y."""
        t_in = np.clip(y * (1 / self.h_in), 0.0, 1.0)
        t_out = np.clip(y * (1 / self.h_out), 0.0, 1.0)
        inner = self.q_apex - (self.q_apex - self.q_in) * np.sqrt(t_in * (2 - t_in))
        low = np.clip((y - 0.7 * self.y_dome) * (1 / (0.3 * self.y_dome)), 0, 1)
        outer = self.q_apex + (self.q_out - self.q_apex) * (np.sqrt(t_out * (2 - t_out)) - 0.05 * low * low)
        return inner, outer

    def dome(self, q: np.ndarray) -> np.ndarray:
        lo = np.clip((q - self.q_dome) * (1 / (self.q_out - self.q_dome)), 0.0, None)
        hi = np.clip((self.q_dome - q) * (1 / (self.q_dome - self.q_in)), 0.0, 1.0)
        return self.y_dome + self.drop_out * lo * lo * (0.8 + 0.2 * lo) + self.drop_in * hi * hi

    def fields(self, q: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(inner wall, outer wall, dome height, approximate signed distance in mm, > 0 inside)."""
        inner, outer = self.walls(y)
        dm = self.dome(q)
        return inner, outer, dm, np.minimum(np.minimum(q - inner, outer - q), dm - y)

    def sdf(self, q: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.fields(q, y)[3]

    def air(self, q: np.ndarray, y: np.ndarray, depth: float, aa: float, f: tuple | None = None) -> np.ndarray:
        """Air path length (mm): thin at the apex and the outer wall, sharp at the dome, with a shallow
        posterior recess below the dome. `f` reuses fields() of the same points."""
        inner, outer, dm, _ = f or self.fields(q, y)
        edge = (1 - np.exp(np.minimum(q - outer, 0) * (1 / 14))) * (1 - np.exp(np.minimum(inner - q, 0) * (1 / 6)))
        vert = 0.55 + 0.45 * np.clip(y * (1 / (0.5 * self.y_dome)), 0, 1)
        above = ramp(dm - y, aa)
        recess = 0.3 * np.exp(np.minimum(dm - y, 0) * (1 / 20)) * (1 - above)
        return (depth * edge * vert * (above + recess)).astype(F32)


class Heart(NamedTuple):
    """The cardiac silhouette: a rotated ellipse cut by the diaphragm (`floor`), with its projected extents."""

    x: float
    y: float
    a: float  # semi-axis along `ang`
    b: float
    ang: float
    floor: float
    half_width: float  # transverse half-extent
    dy: float  # the leftmost point lies this far below the centre (frontal view)
    half_height: float


@dataclass
class Frame:
    """A built view: coordinate grids, per-structure density layers, masks and landmarks for findings."""

    h: Habitus
    sp: float
    X: np.ndarray
    Y: np.ndarray
    cav: dict[str, Cavity]
    air: dict[str, np.ndarray] = field(default_factory=dict)
    soft: np.ndarray | None = None
    bone: np.ndarray | None = None
    occ: np.ndarray | None = None
    extra_air: np.ndarray | None = None
    heart: Heart = Heart(0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0)
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    anchors: dict[str, Any] = field(default_factory=dict)  # landmark points and device entry routes
    hila: dict[str, tuple[float, float]] = field(default_factory=dict)
    vessels: np.ndarray | None = None
    limits: tuple[float, float, float, float] | None = None  # patient x/y range of the image
    tc: float = 250.0
    A: float = 150.0

    @property
    def lateral(self) -> bool:
        return self.h.view == "LL"

    def qy(self, side: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cavity coordinates of a side; in the lateral view the right lung (far from the detector) is magnified."""
        if not self.lateral:
            return SIDE_SIGN[side] * x, y
        if side == "left":
            return x, y
        m, cx, cy = 1.06, self.h.depth / 2, self.h.H / 2
        return (x - cx) / m + cx, (y - cy) / m + cy

    def sdf(self, side: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.cav[side].sdf(*self.qy(side, x, y))

    def to_pix(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Patient mm -> (row, col) float pixel coordinates."""
        c, s = math.cos(self.h.tilt), math.sin(self.h.tilt)
        xm, ym = c * x - s * y + self.h.ox, s * x + c * y + self.h.oy
        return ym / self.sp - 0.5, xm / self.sp - 0.5

    def heart_r2(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        hr = self.heart
        dx, dy = x - hr.x, y - hr.y
        c, s = math.cos(hr.ang), math.sin(hr.ang)
        return ((dx * c + dy * s) / hr.a) ** 2 + ((dy * c - dx * s) / hr.b) ** 2

    def box(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        """Pixel slices covering the patient-coordinate box [x0, x1] x [y0, y1] (conservative under tilt)."""
        lim = self.limits or (-1e4, 1e4, -1e4, 1e4)
        x0, x1, y0, y1 = max(x0, lim[0]), min(x1, lim[1]), max(y0, lim[2]), min(y1, lim[3])
        xs, ys = np.array([x0, x1, x0, x1], float), np.array([y0, y0, y1, y1], float)
        r, c = self.to_pix(xs, ys)
        rows, cols = self.X.shape
        r0, r1 = int(np.clip(np.floor(r.min()) - 1, 0, rows)), int(np.clip(np.ceil(r.max()) + 2, 0, rows))
        c0, c1 = int(np.clip(np.floor(c.min()) - 1, 0, cols)), int(np.clip(np.ceil(c.max()) + 2, 0, cols))
        return slice(r0, r1), slice(c0, c1)

    def window(self, x: float, y: float, radius: float) -> tuple[slice, slice]:
        """Pixel slices covering a disc of `radius` mm around a patient point (for local findings)."""
        return self.box(x - radius, x + radius, y - radius, y + radius)

    def splat(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | float) -> np.ndarray:
        """Accumulate point weights onto the pixel grid (nearest pixel)."""
        rows, cols = self.X.shape
        r, c = self.to_pix(x, y)
        r, c = np.rint(r).astype(np.int64), np.rint(c).astype(np.int64)
        ok = (r >= 0) & (r < rows) & (c >= 0) & (c < cols)
        flat = np.bincount(r[ok] * cols + c[ok], weights=np.broadcast_to(w, r.shape)[ok], minlength=rows * cols)
        return flat.reshape(rows, cols).astype(F32)

    def polyline(self, pts: list[tuple[float, float]], width_mm: float, smooth_mm: float = 12.0) -> np.ndarray:
        """A smooth tube through `pts` with peak 1 and about `width_mm` full width, for tubes and lines."""
        p = np.asarray(pts, dtype=np.float64)
        s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        step = 0.4 * self.sp
        t = np.arange(0.0, s[-1], step)
        x, y = np.interp(t, s, p[:, 0]), np.interp(t, s, p[:, 1])
        k = max(1, int(smooth_mm / step))
        if len(t) > 2 * k + 1:  # a moving average rounds the corners; the ends stay put
            ker = np.ones(2 * k + 1) / (2 * k + 1)
            x = np.convolve(np.pad(x, k, mode="edge"), ker, "valid")
            y = np.convolve(np.pad(y, k, mode="edge"), ker, "valid")
        sig = max(0.45, 0.42 * width_mm / self.sp)
        out = np.zeros(self.X.shape, F32)
        r, c = self.to_pix(x, y)
        pad = int(4 * sig) + 2
        r0, r1 = max(0, int(r.min()) - pad), min(out.shape[0], int(r.max()) + pad + 1)
        c0, c1 = max(0, int(c.min()) - pad), min(out.shape[1], int(c.max()) + pad + 1)
        if r0 >= r1 or c0 >= c1:
            return out
        ri, ci = np.rint(r).astype(np.int64) - r0, np.rint(c).astype(np.int64) - c0
        ok = (ri >= 0) & (ri < r1 - r0) & (ci >= 0) & (ci < c1 - c0)
        sub = np.bincount(ri[ok] * (c1 - c0) + ci[ok], minlength=(r1 - r0) * (c1 - c0)).reshape(r1 - r0, c1 - c0)
        sub = ndimage.gaussian_filter(sub.astype(F32) * np.float32(step / self.sp), sig)
        out[r0:r1, c0:c1] = np.minimum(sub * np.float32(math.sqrt(2 * math.pi) * sig), 1.0)
        return out


def vessel_tree(rng: np.random.Generator, fr: Frame, trunks: dict[str, tuple[float, float, list[float]]]) -> np.ndarray:
    """Pulmonary vessels (mm of blood along the ray) branching and tapering from each hilum. Every segment gets a
    main continuation and a thinner side branch; branches leaving the lung are pruned but still drawn from `rng`,
    so the draws do not depend on the cavity shape."""
    xs, ys, ws, wide = [], [], [], []
    for side, (hx, hy, angles) in trunks.items():
        n = len(angles)
        ang = np.asarray(angles) + rng.normal(0, 0.1, n)
        x, y = hx + rng.normal(0, 6, n), hy + rng.normal(0, 8, n)
        length, alive = rng.uniform(16, 24, n), np.ones(n, bool)
        width = 5.0 + 2.0 * np.clip(np.sin(ang), 0, 1)  # lower-lobe vessels are larger (upright)
        for _ in range(8):
            ex, ey = x + length * np.cos(ang), y + length * np.sin(ang)
            alive &= fr.sdf(side, ex, ey) > -2.0
            npts = max(3, int(length.max() / (0.6 * fr.sp)))
            t = np.linspace(0, 1, npts)[:, None]
            xs.append((x + t * (ex - x)).ravel())
            ys.append((y + t * (ey - y)).ravel())
            ws.append(np.broadcast_to(width * length / npts * alive, (npts, len(x))).ravel())
            wide.append(np.broadcast_to(width > 2.5, (npts, len(x))).ravel())
            m = len(x)
            turn = rng.uniform(0.45, 0.95, m) * np.where(rng.random(m) < 0.5, -1, 1)
            ang = np.stack([ang - 0.2 * turn, ang + turn], 1).ravel() + rng.normal(0, 0.1, 2 * m)
            length = np.repeat(length, 2) * np.stack([rng.uniform(0.8, 0.95, m), rng.uniform(0.55, 0.8, m)], 1).ravel()
            width = np.repeat(width, 2) * np.tile([0.84, 0.58], m)
            x, y, alive = np.repeat(ex, 2), np.repeat(ey, 2), np.repeat(alive, 2)
    x, y, w = np.concatenate(xs), np.concatenate(ys), np.concatenate(ws) / fr.sp
    big = np.concatenate(wide)
    out = np.zeros(fr.X.shape, F32)
    for sel, sig_mm in ((big, 1.6), (~big, 0.8)):  # vessels wider than the fine blur get a wider one
        sig = max(0.6, sig_mm / fr.sp)
        out += ndimage.gaussian_filter(fr.splat(x[sel], y[sel], w[sel]), sig) * np.float32(math.sqrt(2 * math.pi) * sig)
    return out * np.float32(0.6)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return (0.5 + 0.5 * np.tanh(0.5 * z)).astype(F32)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Unit-variance Gaussian noise correlated over about `cell` pixels (coarse grid, upsampled)."""
    cs = (max(2, math.ceil(shape[0] / cell)) + 3, max(2, math.ceil(shape[1] / cell)) + 3)
    coarse = ndimage.gaussian_filter(rng.standard_normal(cs).astype(F32), 0.8)
    up = ndimage.zoom(coarse, (shape[0] / (cs[0] - 3), shape[1] / (cs[1] - 3)), order=1)[: shape[0], : shape[1]]
    if up.shape != shape:
        up = np.pad(up, [(0, shape[0] - up.shape[0]), (0, shape[1] - up.shape[1])], mode="edge")
    return (up - up.mean()) / max(float(up.std()), 1e-6)
