"""Series selection rules: every decision has a reason; one best series per study."""

from __future__ import annotations

from medvlp.config import load_config
from medvlp.dicom.select import decide, select
from medvlp.dicom.store import SeriesInfo

AXIAL = "1\\0\\0\\0\\1\\0"
CFG = load_config().ingest


def _ct(uid: str, study: str = "S1", thickness: float = 2.5, n: int = 60, **kw) -> SeriesInfo:
    info = SeriesInfo(
        uid,
        study,
        "P1",
        "A1",
        "CT",
        n_files=n,
        thickness=thickness,
        image_types={"ORIGINAL\\PRIMARY"},
        orientations={AXIAL},
    )
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _cxr(uid: str, view: str, study: str = "S2", pixels: int = 100, description: str = "") -> SeriesInfo:
    return SeriesInfo(uid, study, "P1", "A2", "DX", n_files=1, views={view}, description=description, pixels=pixels)


def test_rules():
    assert decide(_ct("a"), CFG).keep
    assert decide(_ct("b", image_types={"ORIGINAL\\PRIMARY\\LOCALIZER"}), CFG).reason == "localizer"
    assert decide(_ct("c", orientations={"1\\0\\0\\0\\0\\-1"}), CFG).reason == "not_axial"
    assert decide(_ct("d", thickness=8.0), CFG).reason == "slice_thickness"
    assert decide(_ct("e", n=5), CFG).reason == "too_few_slices"
    assert decide(_ct("f", burned_in=True), CFG).status == "quarantined"
    assert decide(_cxr("g", "LL"), CFG).reason == "view_not_selected"
    assert decide(_cxr("h", "", description="CHEST PA"), CFG).keep
    assert decide(_cxr("i", ""), CFG).reason == "view_not_selected"
    mr = SeriesInfo("j", "S3", "P1", "A3", "MR")
    assert decide(mr, CFG).reason == "modality_not_selected"
    assert decide(_ct("k"), load_config([], ["ingest.modalities=[cxr]"]).ingest).reason == "modality_not_selected"


def test_one_series_per_study():
    decisions = select(
        [
            _ct("thick", thickness=5.0),
            _ct("thin", thickness=1.0),
            _ct("other", study="S9"),
            _cxr("ap", "AP", pixels=999),
            _cxr("pa", "PA"),
        ],
        CFG,
    )
    kept = sorted(uid for uid, d in decisions.items() if d.keep)
    assert kept == ["other", "pa", "thin"]
    assert decisions["thick"].reason == "not_best_series_in_study"
    every = select(
        [_ct("thick", thickness=5.0), _ct("thin", thickness=1.0)],
        load_config([], ["ingest.one_series_per_study=false"]).ingest,
    )
    assert all(d.keep for d in every.values())
