"""Series selection: which series of an archive become training samples, by rules from config.

Every series gets a decision with a reason code, so a skipped series is always explained.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from medvlp.config.schema import IngestConfig
from medvlp.dicom.store import SeriesInfo

CXR_MODALITIES = {"CR", "DX", "DR"}
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}


@dataclass(frozen=True)
class Decision:
    """keep=True: convert this series. Otherwise `status` says whether it is skipped or quarantined, and why."""

    keep: bool
    status: str = ""  # "skipped" | "quarantined" when not kept
    reason: str = ""
    message: str = ""


def kind_of(series: SeriesInfo) -> str:
    """'cxr', 'ct' or '' for a modality medvlp does not ingest."""
    if series.modality in CXR_MODALITIES:
        return "cxr"
    return "ct" if series.modality == "CT" else ""


def _view(series: SeriesInfo) -> str:
    """ViewPosition, or a view read from the series description when the tag is empty."""
    views = {v.upper() for v in series.views if v}
    if views:
        return sorted(views)[0]
    desc = series.description.upper()
    for token in ("LAT", "PA", "AP"):
        if token in desc.replace("/", " ").split():
            return token
    return ""


def _axial(series: SeriesInfo) -> bool:
    """True when every slice's normal is within ~18 degrees of the patient's z axis."""
    for orient in series.orientations:
        try:
            row, col = np.asarray([float(v) for v in orient.split("\\")]).reshape(2, 3)  # [2 vectors, xyz]
        except ValueError:
            return False
        if abs(np.cross(row, col)[2]) < 0.95:
            return False
    return bool(series.orientations)


def decide(series: SeriesInfo, cfg: IngestConfig) -> Decision:
    """Rules for one series on its own (the one-per-study choice comes after)."""
    kind = kind_of(series)
    if not kind or kind not in cfg.modalities:
        return Decision(False, "skipped", "modality_not_selected", f"modality {series.modality or '?'}")
    if series.burned_in and not cfg.allow_burned_in:
        return Decision(
            False,
            "quarantined",
            "burned_in_annotation",
            "BurnedInAnnotation is YES: PHI may be in the pixels (ingest.allow_burned_in=true to keep)",
        )
    if kind == "cxr":
        view = _view(series)
        if view in LATERAL_VIEWS or view not in cfg.cxr_views:
            return Decision(False, "skipped", "view_not_selected", f"view {view or 'unknown'} not in ingest.cxr_views")
        return Decision(True)
    if any("LOCALIZER" in t.split("\\") for t in series.image_types):
        return Decision(False, "skipped", "localizer", "scout/localizer image")
    if not _axial(series):
        return Decision(False, "skipped", "not_axial", "slices are not axial")
    lo, hi = cfg.ct_slice_thickness
    if not lo <= series.thickness <= hi:
        return Decision(
            False,
            "skipped",
            "slice_thickness",
            f"SliceThickness {series.thickness} mm outside ingest.ct_slice_thickness [{lo}, {hi}]",
        )
    if series.n_files < cfg.ct_min_slices:
        return Decision(
            False, "skipped", "too_few_slices", f"{series.n_files} slices < ingest.ct_min_slices={cfg.ct_min_slices}"
        )
    return Decision(True)


def _rank(series: SeriesInfo) -> tuple[float, ...]:
    """Smaller is better: CT prefers thin slices then more of them; CXR prefers PA, then more pixels."""
    if kind_of(series) == "ct":
        return (series.thickness, -series.n_files)
    return (0.0 if _view(series) == "PA" else 1.0, -float(series.pixels))


def select(series: list[SeriesInfo], cfg: IngestConfig) -> dict[str, Decision]:
    """Decide every series; with one_series_per_study, only the best kept series of each study (and kind) stays."""
    decisions = {s.series_uid: decide(s, cfg) for s in series}
    if not cfg.one_series_per_study:
        return decisions
    by_study: dict[tuple[str, str], list[SeriesInfo]] = defaultdict(list)
    for s in series:
        if decisions[s.series_uid].keep:
            by_study[(s.study_uid, kind_of(s))].append(s)
    for group in by_study.values():
        for s in sorted(group, key=lambda s: (_rank(s), s.series_uid))[1:]:
            decisions[s.series_uid] = Decision(
                False,
                "skipped",
                "not_best_series_in_study",
                "another series of the study was chosen (ingest.one_series_per_study)",
            )
    return decisions
