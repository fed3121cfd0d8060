"""`medvlp ingest` on the phantom archive (with its broken files) and on the real CT series.

Checks the accounting (every file used, quarantined or skipped, adding up), decoded HU against the drawn
organs, MONOCHROME1 inversion, patient-level splits, resume after SIGKILL, and that no planted PHI reaches
any file written.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from medvlp.config import load_config
from medvlp.data.ingest import IngestError, run_ingest
from medvlp.data.manifest import read_manifest
from medvlp.data.synthetic.archive import generate_archive
from medvlp.data.synthetic.ct_render import CT_LABELS
from medvlp.data.synthetic.cxr_render import MASK_NAMES

SECRET = "test-secret-0123456789abcdef"
PHANTOM = [
    "synth.n_cxr=10",
    "synth.n_ct=3",
    "synth.cxr_size=[160, 224]",
    "synth.ct_matrix=[64, 80]",
    "synth.ct_slice_spacing=[4.0, 5.0]",
    "synth.broken_files=true",
    "synth.lateral_fraction=0.4",
    "run.seed=5",
    "run.workers=2",
]
INGEST = ["ingest.ct_spacing=[4.0, 4.0, 5.0]", "ingest.cxr_size=128", "ingest.ct_min_slices=8", "run.workers=2"]
HU_RANGES = {"liver": (40, 75), "spleen": (30, 60), "lung_right": (-900, -650), "lung_left": (-900, -650)}


@pytest.fixture(scope="module", autouse=True)
def secret():
    old = os.environ.get("MEDVLP_DEID_SECRET")
    os.environ["MEDVLP_DEID_SECRET"] = SECRET
    yield
    if old is None:
        os.environ.pop("MEDVLP_DEID_SECRET")
    else:
        os.environ["MEDVLP_DEID_SECRET"] = old


@pytest.fixture(scope="module")
def phantom(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("phantom")
    generate_archive(load_config([], PHANTOM), out)
    return out


def _ingest(phantom: Path, out: Path, resume: bool = False):
    reports = [phantom / "reports/reports.csv", phantom / "reports/text"]
    return run_ingest(phantom / "archive", reports, out, load_config([], INGEST), resume=resume, progress=False)


@pytest.fixture(scope="module")
def dataset(phantom: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("dataset")
    return out, _ingest(phantom, out)


def _studies(phantom: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in (phantom / "ground_truth/studies.jsonl").read_text().splitlines()]
    return {f.removeprefix("archive/"): (s, series) for s in rows for series in s["series"] for f in series["files"]}


def test_every_file_accounted_for(phantom: Path, dataset):
    out, summary = dataset
    n_files = sum(1 for p in (phantom / "archive").rglob("*") if p.is_file())
    assert summary.found == n_files == summary.used + summary.quarantined + summary.skipped
    listed = [
        json.loads(x)["path"]
        for name in ("quarantine.jsonl", "skipped.jsonl")
        for x in (out / name).read_text().splitlines()
    ]
    used = [s for srcs in read_manifest(out / "manifest.parquet")["sources"] for s in srcs]
    assert len(listed) + len(used) == n_files and len(set(listed) | set(used)) == n_files


def test_broken_files_get_their_reasons(phantom: Path, dataset):
    out, _ = dataset
    outcome = {}
    for name in ("quarantine.jsonl", "skipped.jsonl"):
        for line in (out / name).read_text().splitlines():
            rec = json.loads(line)
            outcome[f"archive/{rec['path']}"] = rec["reason"]
    expected = {
        "truncated": {"truncated", "unreadable_header"},
        "no_preamble": {"no_preamble"},
        "missing_pixel_data": {"missing_pixel_data"},
        "short_pixel_data": {"short_pixel_data"},
        "absurd_dimensions": {"absurd_dimensions"},
        "not_dicom": {"not_dicom"},
        "duplicate_sop_instance": {"duplicate_sop_instance", None},
    }
    dup_used = 0
    for item in json.loads((phantom / "ground_truth/broken.json").read_text()):
        got = outcome.get(item["path"])
        assert got in expected[item["defect"]], (item, got)
        dup_used += got is None
    assert dup_used == 1  # one copy of a duplicated instance is used, the other quarantined


def test_selection_skips_laterals_and_localizers(dataset):
    out, _ = dataset
    reasons = {json.loads(x)["reason"] for x in (out / "skipped.jsonl").read_text().splitlines()}
    assert {"view_not_selected", "localizer"} <= reasons


def test_ct_hu_of_drawn_organs(phantom: Path, dataset):
    out, _ = dataset
    df = read_manifest(out / "manifest.parquet")
    gt = _studies(phantom)
    codes = {v: k for k, v in CT_LABELS.items()}
    cts = df[df.modality == "ct"]
    assert len(cts) == 3
    for _, row in cts.iterrows():
        vol = np.asarray(nib.load(out / row.image_path).dataobj)  # [X, Y, Z] RAS
        _, series = gt[row.sources[0]]
        mask_img = nib.load(phantom / series["mask"])
        mask = np.asarray(mask_img.dataobj)
        ijk = np.stack(np.meshgrid(*[np.arange(n) for n in vol.shape], indexing="ij"), -1).reshape(-1, 3)
        world = ijk @ np.asarray(row.affine)[:3, :3].T + np.asarray(row.affine)[:3, 3]  # [N, 3] RAS mm
        src = np.rint((world - mask_img.affine[:3, 3]) @ np.linalg.inv(mask_img.affine[:3, :3]).T).astype(int)
        inside = np.all((src >= 0) & (src < mask.shape), axis=1)
        labels = np.zeros(len(src), np.uint8)
        labels[inside] = mask[tuple(src[inside].T)]
        hu = vol.reshape(-1)
        for organ, (lo, hi) in HU_RANGES.items():
            sel = labels == codes[organ]
            if sel.sum() > 30:
                assert lo <= hu[sel].mean() <= hi, (organ, hu[sel].mean())
        assert hu[labels == 0].mean() < -850


def test_cxr_monochrome1_inverted(phantom: Path, dataset):
    out, _ = dataset
    df = read_manifest(out / "manifest.parquet")
    gt = _studies(phantom)
    lung, heart = MASK_NAMES.index("lung_right"), MASK_NAMES.index("heart")
    seen = set()
    for _, row in df[df.modality == "cxr"].iterrows():
        if row.sources[0] not in gt:
            continue  # the broken-file template image
        _, series = gt[row.sources[0]]
        img = np.asarray(nib.load(out / row.image_path).dataobj).astype(float)  # [H, W]
        masks = np.asarray(nib.load(phantom / series["mask"]).dataobj)  # [rows, cols, C] at full size
        zoom = (img.shape[0] / masks.shape[0], img.shape[1] / masks.shape[1])
        rr = np.clip((np.arange(img.shape[0]) / zoom[0]).astype(int), 0, masks.shape[0] - 1)
        cc = np.clip((np.arange(img.shape[1]) / zoom[1]).astype(int), 0, masks.shape[1] - 1)
        m = masks[np.ix_(rr, cc)]
        assert img[(m[..., lung] > 0) & (m[..., heart] == 0)].mean() < img[m[..., heart] > 0].mean()
        seen.add(series["photometric"])
    assert seen == {"MONOCHROME1", "MONOCHROME2"}


def test_manifest_splits_and_reports(dataset):
    out, _ = dataset
    df = read_manifest(out / "manifest.parquet")
    assert df.groupby("patient_id")["split"].nunique().max() == 1
    assert set(df.split) <= {"train", "val", "test"}
    phantom_rows = df[df.n_sources > 0]
    assert phantom_rows.has_report.mean() > 0.8 and (phantom_rows[phantom_rows.has_report].report_findings != "").all()
    assert not df.sample_id.duplicated().any()


def _texts(path: Path) -> str:
    """What a grep would see in a file: decompressed, and parquet read back as text."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas().to_json()
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("latin-1")


def test_no_planted_phi_in_any_output(phantom: Path, dataset):
    out, _ = dataset
    phi = json.loads((phantom / "ground_truth/phi.json").read_text())
    needles = {s for k in ("patient", "report", "ids", "institution") for s in phi[k] if len(s) >= 4}
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in written) and any(".nii" in p.name for p in written)
    for path in written:
        text = _texts(path)
        leaked = [s for s in needles if s in text]
        assert not leaked, (path, leaked[:5])


def test_rerun_without_resume_refused(phantom: Path, dataset):
    out, _ = dataset
    with pytest.raises(IngestError, match="--resume"):
        _ingest(phantom, out)


KILLER = """
import os, signal, sys
from medvlp.dicom.store import IngestStore
original, calls = IngestStore.set_series, [0]
def killing(self, *a, **kw):
    original(self, *a, **kw)
    calls[0] += 1
    if calls[0] == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
IngestStore.set_series = killing
from medvlp.cli import main
sys.exit(main(["ingest", sys.argv[1], "--reports", sys.argv[1] + "/../reports/reports.csv", "--reports",
               sys.argv[1] + "/../reports/text", "--out", sys.argv[2], *sys.argv[4:]]))
"""


def test_resume_after_sigkill_gives_the_same_manifest(phantom: Path, dataset, tmp_path: Path):
    out, _ = dataset
    killed = tmp_path / "killed"
    env = {**os.environ, "MEDVLP_DEID_SECRET": SECRET}
    log = tmp_path / "log.txt"
    with open(log, "w") as fh:
        proc = subprocess.run(
            [sys.executable, "-c", KILLER, str(phantom / "archive"), str(killed), "12", *INGEST],
            env=env,
            stdout=fh,
            stderr=fh,
            timeout=300,
        )
    assert proc.returncode == -9, log.read_text()[-2000:]
    summary = _ingest(phantom, killed, resume=True)
    assert summary.found == summary.used + summary.quarantined + summary.skipped
    a = read_manifest(out / "manifest.parquet").drop(columns=["affine"])
    b = read_manifest(killed / "manifest.parquet").drop(columns=["affine"])
    pd.testing.assert_frame_equal(a, b)


def test_real_ct_series(tmp_path: Path, shared_data: Path):
    series = shared_data / "real-ct-totalsegmentator/ct_dicom"
    if not series.is_dir():
        pytest.skip(f"real CT series not present at {series}")
    summary = run_ingest(
        series, [], tmp_path / "real", load_config([], ["ingest.ct_spacing=[2.0, 2.0, 3.0]"]), progress=False
    )
    assert summary.used == 20 and summary.quarantined == 0
    row = read_manifest(tmp_path / "real/manifest.parquet").iloc[0]
    vol = np.asarray(nib.load(tmp_path / "real" / row.image_path).dataobj)
    assert vol.min() <= -1000 and 1000 < vol.max() < 4000 and list(row["shape"]) == list(vol.shape)
    outside = vol[:8, :8, :]  # the corner of the field of view is air
    assert -1100 < outside.mean() < -900
