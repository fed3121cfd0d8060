"""The phantom archive end to end: deterministic, readable, and what a correct reader gets back is what was drawn."""

from __future__ import annotations

import csv
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from medvlp.config import load_config
from medvlp.data.synthetic.archive import generate_archive
from medvlp.data.synthetic.ct_render import CT_LABELS
from medvlp.data.synthetic.cxr_render import MASK_NAMES
from medvlp.dicom.pixels import decode_radiograph, modality_values

TINY = [
    "synth.n_cxr=10",
    "synth.n_ct=3",
    "synth.cxr_size=[160, 224]",
    "synth.ct_matrix=[64, 80]",
    "synth.ct_slice_spacing=[5.0, 6.0]",
    "synth.broken_files=true",
    "run.seed=3",
]

# HU ranges per organ label, from ../shared/PHANTOM.md (mean over the organ, noise included, partial volume at edges)
HU_RANGES = {
    "lung_right": (-900, -700),
    "lung_left": (-900, -700),
    "liver": (45, 70),
    "spleen": (35, 55),
    "heart": (30, 55),
    "fat": (-125, -55),
}


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantom")
    generate_archive(load_config([], [*TINY, "run.workers=2"]), out)
    return out


@pytest.fixture(scope="module")
def broken(archive: Path) -> set[str]:
    return {b["path"] for b in json.loads((archive / "ground_truth/broken.json").read_text())}


@pytest.fixture(scope="module")
def headers(archive: Path, broken: set[str]) -> dict[str, pydicom.Dataset]:
    files = [p for p in sorted((archive / "archive").rglob("*")) if p.is_file()]
    return {str(p.relative_to(archive)): pydicom.dcmread(p) for p in files if str(p.relative_to(archive)) not in broken}


def test_byte_identical_for_any_worker_count(archive: Path, tmp_path: Path):
    generate_archive(load_config([], [*TINY, "run.workers=1"]), tmp_path / "again")
    a, b = _tree_digest(archive), _tree_digest(tmp_path / "again")
    assert a.pop("config.yaml") != b.pop("config.yaml")  # the resolved config records the worker count
    assert a == b and len(a) > 50


def test_refuses_to_write_into_a_used_archive(archive: Path):
    with pytest.raises(FileExistsError, match="choose an empty"):
        generate_archive(load_config([], TINY), archive)


def test_every_valid_file_reads_and_looks_exported(headers: dict[str, pydicom.Dataset]):
    modalities = {ds.Modality for ds in headers.values()}
    assert modalities == {"DX", "CR", "CT"} or modalities == {"DX", "CT"} or modalities == {"CR", "CT"}
    for rel, ds in headers.items():
        ds.pixel_array  # noqa: B018 - decodes, so pixel data matches the header
        assert ds.PatientName and ds.PatientID and ds.AccessionNumber, rel
    names = [Path(rel).name for rel in headers]
    assert len({Path(rel).parent for rel in headers}) > 1 and not any("CT" in n or "XR" in n for n in names)


def test_broken_files_are_broken(archive: Path, broken: set[str]):
    defects = {b["defect"] for b in json.loads((archive / "ground_truth/broken.json").read_text())}
    assert defects >= {
        "truncated",
        "no_preamble",
        "missing_pixel_data",
        "short_pixel_data",
        "absurd_dimensions",
        "not_dicom",
        "duplicate_sop_instance",
    }
    for rel in broken:
        assert (archive / rel).is_file()


def _ct_volumes(headers: dict[str, pydicom.Dataset]) -> dict[str, list[tuple[str, pydicom.Dataset]]]:
    series: dict[str, list[tuple[str, pydicom.Dataset]]] = defaultdict(list)
    for rel, ds in headers.items():
        if ds.Modality == "CT" and "LOCALIZER" not in ds.ImageType:
            series[ds.SeriesInstanceUID].append((rel, ds))
    return series


def test_ct_reassembles_by_position_with_organ_hu(archive: Path, headers: dict[str, pydicom.Dataset]):
    studies = {
        json.loads(line)["accession"]: json.loads(line)
        for line in (archive / "ground_truth/studies.jsonl").read_text().splitlines()
    }
    series = _ct_volumes(headers)
    assert len(series) == 3
    name_to_code = {v: k for k, v in CT_LABELS.items()}
    for items in series.values():
        normal = np.cross(*np.asarray(items[0][1].ImageOrientationPatient, float).reshape(2, 3))
        ordered = sorted(items, key=lambda it: float(np.dot(normal, np.asarray(it[1].ImagePositionPatient, float))))
        assert [rel for rel, _ in ordered] != sorted(rel for rel, _ in items)  # file names carry no order
        hu = np.stack([modality_values(ds) for _, ds in ordered])  # [D, H, W]
        mask_path = archive / studies[ordered[0][1].AccessionNumber]["masks"][0]
        labels = np.asarray(nib.load(mask_path).dataobj).transpose(2, 1, 0)  # NIfTI [x, y, z] -> [D, H, W]
        assert labels.shape == hu.shape
        for organ, (lo, hi) in HU_RANGES.items():
            sel = labels == name_to_code[organ]
            if sel.sum() > 50:
                assert lo <= hu[sel].mean() <= hi, (organ, hu[sel].mean())
        assert hu[labels == 0].mean() < -900  # air around the body


def test_cxr_monochrome1_decodes_to_the_same_anatomy(archive: Path, headers: dict[str, pydicom.Dataset]):
    studies = {
        json.loads(line)["accession"]: json.loads(line)
        for line in (archive / "ground_truth/studies.jsonl").read_text().splitlines()
    }
    lung, heart = MASK_NAMES.index("lung_right"), MASK_NAMES.index("heart")
    seen = set()
    for ds in headers.values():
        if ds.Modality not in ("DX", "CR") or ds.ViewPosition == "LL":
            continue
        study = studies[ds.AccessionNumber]
        series = next(s for s in study["series"] if s["series_uid"] == ds.SeriesInstanceUID)
        masks = np.asarray(nib.load(archive / series["mask"]).dataobj)  # [rows, cols, C]
        img = decode_radiograph(ds)
        lung_px = img[(masks[..., lung] > 0) & (masks[..., heart] == 0)]
        assert lung_px.mean() < img[masks[..., heart] > 0].mean() - 0.05, ds.PhotometricInterpretation
        seen.add(ds.PhotometricInterpretation)
    assert seen == {"MONOCHROME1", "MONOCHROME2"}


def test_reports_cover_every_study_once(archive: Path):
    studies = [json.loads(line) for line in (archive / "ground_truth/studies.jsonl").read_text().splitlines()]
    with open(archive / "reports/reports.csv", newline="") as fh:
        in_csv = [row["AccessionNumber"] for row in csv.DictReader(fh)]
    in_text = [p.stem for p in (archive / "reports/text").glob("*.txt")]
    assert sorted(in_csv + in_text) == sorted(s["accession"] for s in studies)
    assert len(set(in_csv) & set(in_text)) == 0


def test_phi_list_matches_what_was_planted(archive: Path, headers: dict[str, pydicom.Dataset]):
    phi = json.loads((archive / "ground_truth/phi.json").read_text())
    names = set(phi["patient"])
    for ds in headers.values():
        assert str(ds.PatientName) in names and ds.PatientID in names
    reports = (archive / "reports/reports.csv").read_text() + "".join(
        p.read_text() for p in (archive / "reports/text").glob("*.txt")
    )
    for s in phi["report"]:
        assert s in reports


def test_labels_are_the_drawn_truth(archive: Path):
    studies = {
        json.loads(line)["accession"]: json.loads(line)
        for line in (archive / "ground_truth/studies.jsonl").read_text().splitlines()
    }
    with open(archive / "ground_truth/labels_cxr.csv") as fh:
        for row in csv.DictReader(fh):
            drawn = {f["name"] for f in studies[row["accession"]]["findings"]}
            assert {k for k, v in row.items() if v == "1"} == drawn


def test_resolved_config_written(archive: Path):
    assert load_config([archive / "config.yaml"]).synth.n_ct == 3


def test_cli_synth_writes_an_archive(tmp_path: Path, capsys):
    from medvlp.cli import main

    assert (
        main(
            [
                "synth",
                "--out",
                str(tmp_path / "a"),
                "--n-cxr",
                "2",
                "--n-ct",
                "0",
                "--workers",
                "1",
                "synth.cxr_size=[96, 128]",
            ]
        )
        == 0
    )
    assert "cxr studies" in capsys.readouterr().out
    assert len([p for p in (tmp_path / "a/archive").rglob("*") if p.is_file()]) >= 2
