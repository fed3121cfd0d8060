"""NIfTI-folder and image-folder layouts end in the same manifest as DICOM ingest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import aff2axcodes
from PIL import Image

from medvlp.cli import main
from medvlp.config import load_config
from medvlp.data.adapters import AdapterError, ingest_folder
from medvlp.data.manifest import read_manifest


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("MEDVLP_DEID_SECRET", "adapter-test-secret-0123456789")


def _csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_nifti_folder(tmp_path: Path):
    vols = tmp_path / "vols"
    vols.mkdir()
    for name in ("train_1_a_1", "train_2_a_1"):
        data = np.full((20, 20, 10), -1000, np.int16)
        data[5:15, 5:15, 2:8] = 40
        nib.save(nib.Nifti1Image(data, np.diag([-2.0, -2.0, 3.0, 1.0])), vols / f"{name}.nii.gz")  # LPS-like
    (vols / "notes.txt").write_text("x")
    table = _csv(
        tmp_path / "reports.csv",
        [
            {
                "VolumeName": "train_1_a_1.nii.gz",
                "Findings_EN": "No effusion. Seen by Dr. Karen Lopez.",
                "Impressions_EN": "Normal.",
            },
            {"VolumeName": "train_2_a_1.nii.gz", "Findings_EN": "Small left effusion.", "Impressions_EN": "Effusion."},
            {"VolumeName": "train_3_a_1.nii.gz", "Findings_EN": "x", "Impressions_EN": "y"},
        ],
    )
    out = tmp_path / "ds"
    cfg = load_config([], ["ingest.ct_spacing=[4.0, 4.0, 3.0]"])
    counts = ingest_folder("nifti", vols, table, out, cfg, progress=False)
    assert counts == {"rows": 2, "skipped": 2}
    df = read_manifest(out / "manifest.parquet")
    assert set(df.modality) == {"ct"} and df.has_report.all()
    assert "Karen Lopez" not in " ".join(df.report_text) and "Normal." in " ".join(df.report_impression)
    img = nib.load(out / df.image_path.iloc[0])
    assert (
        aff2axcodes(img.affine) == ("R", "A", "S")
        and img.shape == (10, 10, 10)
        and df.image_path.iloc[0].endswith(".nii")
    )
    reasons = sorted(json.loads(x)["reason"] for x in (out / "skipped.jsonl").read_text().splitlines())
    assert reasons == ["missing_file", "not_an_image"]


def test_image_folder_via_cli(tmp_path: Path, capsys):
    imgs = tmp_path / "files/p10/s1"
    imgs.mkdir(parents=True)
    arr = (np.random.default_rng(0).random((300, 240)) * 255).astype(np.uint8)
    Image.fromarray(arr).save(imgs / "a.jpg")
    Image.fromarray(arr).save(imgs / "b.png")
    table = _csv(
        tmp_path / "meta.csv",
        [
            {
                "path": "p10/s1/a.jpg",
                "subject_id": "10",
                "study_id": "1",
                "ViewPosition": "PA",
                "report": "FINDINGS: Clear lungs.\nIMPRESSION: Normal.",
            },
            {"path": "p10/s1/b.png", "subject_id": "10", "study_id": "1", "ViewPosition": "LATERAL", "report": ""},
        ],
    )
    code = main(
        [
            "ingest",
            str(tmp_path / "files"),
            "--layout",
            "images",
            "--reports",
            str(table),
            "--out",
            str(tmp_path / "ds"),
            "ingest.cxr_size=120",
        ]
    )
    assert code == 0 and "manifest rows 2" in capsys.readouterr().out
    df = read_manifest(tmp_path / "ds/manifest.parquet").sort_values("view")
    assert list(df.view) == ["LATERAL", "PA"] and df.patient_id.nunique() == 1 and df.split.nunique() == 1
    assert list(df.has_report) == [False, True]
    assert np.asarray(nib.load(tmp_path / "ds" / df.image_path.iloc[0]).dataobj).shape == (120, 96)


def test_paths_leaving_the_folder_refused(tmp_path: Path):
    (tmp_path / "vols").mkdir()
    table = _csv(tmp_path / "r.csv", [{"path": "../../etc/passwd", "report": "x"}])
    with pytest.raises(AdapterError, match="outside"):
        ingest_folder("nifti", tmp_path / "vols", table, tmp_path / "ds", load_config(), progress=False)


def test_table_without_path_column(tmp_path: Path):
    (tmp_path / "vols").mkdir()
    table = _csv(tmp_path / "r.csv", [{"name": "a", "report": "x"}])
    with pytest.raises(AdapterError, match="column naming each file"):
        ingest_folder("images", tmp_path / "vols", table, tmp_path / "ds", load_config(), progress=False)
