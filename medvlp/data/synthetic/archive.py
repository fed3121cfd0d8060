"""Generate the phantom hospital archive: DICOM export, report tables and ground truth kept apart.

Layout of OUT:
  archive/        DICOM files in EXPORTnnn/ folders with meaningless names (what `medvlp ingest` reads)
  reports/        reports.csv (AccessionNumber, PatientID, ReportDate, ReportText) and text/<accession>.txt
  ground_truth/   labels_cxr.csv, labels_ct.csv, studies.jsonl, masks/*.nii.gz, mask_labels.json, phi.json,
                  broken.json (with --broken)
  config.yaml     the resolved config
"""

from __future__ import annotations

import csv
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from medvlp.config import Config, save_config
from medvlp.data.synthetic.broken import write_broken_files
from medvlp.data.synthetic.ct_render import CT_LABELS
from medvlp.data.synthetic.cxr_render import MASK_NAMES
from medvlp.data.synthetic.findings import FINDINGS
from medvlp.data.synthetic.study import GROUND_TRUTH_DIR, StudyPlan, StudyRecord, make_study

REPORTS_DIR = "reports"


@dataclass
class ArchiveSummary:
    """Counts of what was written, for the end-of-run table."""

    out: str
    cxr_studies: int
    ct_studies: int
    cxr_images: int
    ct_series: int
    ct_slices: int
    broken_files: int
    files: int
    megabytes: float
    seconds: float

    def table(self) -> str:
        rows = [(k.replace("_", " "), v) for k, v in asdict(self).items()]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def plan_studies(cfg: Config) -> list[StudyPlan]:
    """Decide modality and patient of every study; about a quarter of patients have more than one study."""
    s = cfg.synth
    n = s.n_cxr + s.n_ct
    rng = np.random.default_rng([cfg.run.seed, 1])
    n_patients = max(1, round(n * 0.75))
    patients = np.concatenate([np.arange(min(n, n_patients)), rng.integers(0, n_patients, max(0, n - n_patients))])
    rng.shuffle(patients)
    modalities = ["cxr"] * s.n_cxr + ["ct"] * s.n_ct
    n_folders = max(4, n // 8)
    return [StudyPlan(i, m, int(p), n_folders) for i, (m, p) in enumerate(zip(modalities, patients, strict=True))]


def _write_reports(out: Path, records: list[StudyRecord], fraction: float, seed: int) -> None:
    """Most reports as rows of one CSV, a share as plain-text files named by accession (as some RIS export)."""
    rng = np.random.default_rng([seed, 4])
    as_text = rng.random(len(records)) < fraction
    folder = out / REPORTS_DIR
    (folder / "text").mkdir(parents=True, exist_ok=True)
    with open(folder / "reports.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["AccessionNumber", "PatientID", "ReportDate", "ReportText"])
        for rec, text_file in zip(records, as_text, strict=True):
            if text_file:
                (folder / "text" / f"{rec.accession}.txt").write_text(rec.report_text + "\n", encoding="utf-8")
            else:
                writer.writerow([rec.accession, rec.patient_id, rec.date.replace("-", ""), rec.report_text])


def _write_ground_truth(out: Path, records: list[StudyRecord], broken: list[dict[str, str]]) -> None:
    gt = out / GROUND_TRUTH_DIR
    gt.mkdir(parents=True, exist_ok=True)
    for modality, names in FINDINGS.items():
        with open(gt / f"labels_{modality}.csv", "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["accession", "study_uid", "patient_id", *names])
            for rec in records:
                if rec.modality == modality:
                    writer.writerow([rec.accession, rec.study_uid, rec.patient_id, *(rec.labels[k] for k in names)])
    with open(gt / "studies.jsonl", "w") as fh:
        for rec in records:
            row = asdict(rec)
            row.pop("phi")
            fh.write(json.dumps(row, sort_keys=True) + "\n")
    phi: dict[str, set[str]] = {}
    for rec in records:
        for kind, values in rec.phi.items():
            phi.setdefault(kind, set()).update(values)
    for item in broken:
        phi.setdefault("patient", set()).update(item.get("phi", []))
    (gt / "phi.json").write_text(json.dumps({k: sorted(v) for k, v in sorted(phi.items())}, indent=1) + "\n")
    labels = {
        "cxr_channels": list(MASK_NAMES),
        "ct_labels": {str(k): v for k, v in sorted(CT_LABELS.items())},
        "cxr_layout": "NIfTI [rows, cols, channel], uint8 0/1, voxel (row, col) at (row*spacing, col*spacing)",
        "ct_layout": "NIfTI [x, y, z] uint8 label map in RAS (affine from the DICOM geometry)",
    }
    (gt / "mask_labels.json").write_text(json.dumps(labels, indent=1) + "\n")
    if broken:
        (gt / "broken.json").write_text(
            json.dumps([{k: v for k, v in b.items() if k != "phi"} for b in broken], indent=1) + "\n"
        )


def generate_archive(cfg: Config, out: Path | str) -> ArchiveSummary:
    """Write the whole phantom archive under `out`; byte-identical for the same config."""
    start = time.perf_counter()
    out = Path(out)
    if (out / "archive").exists() and any((out / "archive").iterdir()):
        raise FileExistsError(f"{out / 'archive'} already holds files; choose an empty --out folder")
    out.mkdir(parents=True, exist_ok=True)
    plans = plan_studies(cfg)
    work = partial(make_study, out, cfg.synth, cfg.run.seed)
    bar = partial(tqdm, total=len(plans), desc="synth", unit="study", dynamic_ncols=True)
    if cfg.run.workers > 1 and len(plans) > 1:
        with ProcessPoolExecutor(max_workers=cfg.run.workers) as pool:
            records = list(bar(pool.map(work, plans, chunksize=1)))
    else:
        records = [work(p) for p in bar(plans)]
    broken = write_broken_files(out, cfg.run.seed) if cfg.synth.broken_files else []
    _write_reports(out, records, cfg.synth.report_text_fraction, cfg.run.seed)
    _write_ground_truth(out, records, broken)
    save_config(cfg, out / "config.yaml")
    files = [p for p in (out / "archive").rglob("*") if p.is_file()]
    return ArchiveSummary(
        out=str(out),
        cxr_studies=cfg.synth.n_cxr,
        ct_studies=cfg.synth.n_ct,
        cxr_images=sum(len(r.files) for r in records if r.modality == "cxr"),
        ct_series=sum(len(r.series) for r in records if r.modality == "ct"),
        ct_slices=sum(len(s["files"]) for r in records for s in r.series if s.get("kind") == "axial"),
        broken_files=len(broken),
        files=len(files),
        megabytes=round(sum(p.stat().st_size for p in files) / 2**20, 1),
        seconds=round(time.perf_counter() - start, 1),
    )
