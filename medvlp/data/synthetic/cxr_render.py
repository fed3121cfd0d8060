"""Procedural chest X-rays for the phantom archive: PA, AP (portable) and left lateral views with anatomy and
finding masks.

The image is built as water-equivalent path lengths (soft tissue minus lung air, plus bone, fluid, metal), then
mapped to display values with a per-patient exposure and quantum noise. Exposure, noise and body are drawn from
their own streams before any finding is looked at, so a finding changes only its own pixels: no global
brightness or size shortcut. Each finding varies in size, contrast and position with its severity, so a share
of them is subtle (small, faint, behind the heart or a rib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from medvlp.data.synthetic.cxr_anatomy import ANATOMY_NAMES, F32, Frame, sample_habitus, smooth_noise
from medvlp.data.synthetic.cxr_findings import Layers, adjust_habitus, draw_finding
from medvlp.data.synthetic.cxr_views import build_frame
from medvlp.data.synthetic.findings import CXR_FINDINGS, StudyTruth

MASK_NAMES: tuple[str, ...] = ANATOMY_NAMES + CXR_FINDINGS
View = Literal["PA", "AP", "LL"]


@dataclass(frozen=True)
class CxrGeometry:
    """Detector matrix and square pixel spacing of one radiograph; view LL is a left lateral."""

    rows: int
    cols: int
    pixel_spacing_mm: float
    view: View


def sample_cxr_geometry(rng: np.random.Generator, view: str, size_range: tuple[int, int] = (448, 768)) -> CxrGeometry:
    """Varied matrices (often portrait) with spacing such that each side covers 350-430 mm.

    Draw count does not depend on the view, so the views of one study can share the rest of a stream."""
    if view not in ("PA", "AP", "LL"):
        raise ValueError(f"unknown view {view!r}")
    lo, hi = int(size_range[0]), int(size_range[1])
    n_long = int(rng.integers(lo, hi + 1))
    fov_long = float(rng.uniform(370.0, 430.0))
    sp = fov_long / n_long
    n_short = int(np.clip(round(float(rng.uniform(350.0, fov_long)) / sp), lo, n_long))
    shape = rng.random()
    rows, cols = (n_long, n_short) if shape < 0.55 else (n_short, n_long) if shape < 0.75 else (n_long, n_long)
    return CxrGeometry(rows, cols, round(sp, 5), view)  # type: ignore[arg-type]


@dataclass
class CxrRender:
    """image: float32 [rows, cols] in [0, 1], 1 = most attenuating; masks: bool [C, rows, cols] in MASK_NAMES order."""

    image: np.ndarray
    masks: np.ndarray


def _display(rng: np.random.Generator, fr: Frame, D: np.ndarray) -> np.ndarray:
    """Per-patient exposure (window, latitude, edge enhancement) and quantum noise, all from `rng`, which is
    independent of the findings, so image statistics carry no label shortcut."""
    shape = D.shape
    c, w = rng.uniform(0.55, 0.7), rng.uniform(0.22, 0.3)
    alpha, sigma = rng.uniform(0.4, 1.2), rng.uniform(0.006, 0.02)
    white = rng.standard_normal(shape, dtype=F32)
    coarse = rng.standard_normal(((shape[0] + 1) // 2, (shape[1] + 1) // 2), dtype=F32)
    d = D / np.float32(fr.tc)
    s0, s1 = 1 / (1 + math.exp(c / w)), 1 / (1 + math.exp(-(1.9 - c) / w))
    img = (1 / (1 + np.exp((c - d) / w)) - s0) / (s1 - s0)
    # edge enhancement as in clinical processing: unsharp mask with a ~15 mm kernel, on a coarse grid for speed
    f = max(2, round(5.0 / fr.sp))
    rows, cols = shape
    pr, pc = (-rows) % f, (-cols) % f
    small = np.pad(img, ((0, pr), (0, pc)), mode="edge").reshape((rows + pr) // f, f, (cols + pc) // f, f).mean((1, 3))
    low = ndimage.zoom(ndimage.gaussian_filter(small, 3.0), f, order=1)[:rows, :cols]
    img = img + alpha * (img - low)
    corr = np.repeat(np.repeat(coarse, 2, 0), 2, 1)[:rows, :cols]
    img = img + sigma * (0.4 + 0.8 * np.clip(img, 0, 1)) * (0.8 * white + 0.6 * corr)
    return np.clip(img, 0.0, 1.0).astype(F32)


def render_cxr(rng: np.random.Generator, truth: StudyTruth, geom: CxrGeometry) -> CxrRender:
    """Render one radiograph of `truth` in `geom`; the same rng state gives identical arrays.

    Streams: body, vessels, exposure/noise and one per finding name are split off `rng` up front, so the same
    rng state with a different truth gives the same patient and noise (only the findings differ)."""
    if truth.modality != "cxr":
        raise ValueError(f"render_cxr needs a cxr truth, got {truth.modality!r}")
    seeds = rng.integers(0, 2**63 - 1, size=3 + len(CXR_FINDINGS))
    body, vessels, expo = (np.random.default_rng(int(s)) for s in seeds[:3])
    streams = {name: np.random.default_rng(int(s)) for name, s in zip(CXR_FINDINGS, seeds[3:], strict=True)}
    sp = float(geom.pixel_spacing_mm)
    h = sample_habitus(body, geom.view, (geom.rows * sp, geom.cols * sp))
    texture = smooth_noise(body, (geom.rows, geom.cols), max(2.0, 4.0 / sp))
    for f in truth.findings:
        adjust_habitus(h, f, streams[f.name])
    fr = build_frame(h, geom.rows, geom.cols, sp, vessels)
    layers = Layers.empty(fr)
    finding_masks = {name: np.zeros((geom.rows, geom.cols), bool) for name in CXR_FINDINGS}
    for f in truth.findings:
        finding_masks[f.name] = draw_finding(fr, f, streams[f.name], layers)
    air = sum(fr.air[s] * (1 - layers.opacity[s]) * layers.boost[s] for s in ("right", "left"))
    air = air * (1 - fr.occ)
    airfrac = np.clip(air / np.float32(fr.A), 0, 1)
    D = fr.soft - air - fr.extra_air + fr.bone + layers.dense
    D += airfrac * (5.0 * fr.vessels * layers.keep + 3.0 * texture) - layers.bronchi * fr.vessels
    image = _display(expo, fr, D)
    masks = np.stack([fr.masks[n] for n in ANATOMY_NAMES] + [finding_masks[n] for n in CXR_FINDINGS])
    return CxrRender(image=image, masks=masks)
