"""Ingest layouts users already have, into the same manifest as DICOM ingest.

- "nifti" (CT-RATE-like): a folder of CT volumes (.nii/.nii.gz in HU) and a CSV naming each volume with its
  report; the volume is reoriented to RAS, resampled to ingest.ct_spacing and stored as int16.
- "images" (MIMIC-CXR-JPG-like): a folder of PNG/JPEG radiographs and a CSV naming each image with its patient,
  study and report; the image is resized like a decoded DICOM radiograph.

The CSV needs a column with the file's path relative to the folder (path, file, VolumeName, image_path) and a
report text column (or findings/impression columns); patient and study columns are optional (the file stem is
used). Identifiers are pseudonymised with the project secret, and report text is scrubbed, as for DICOM.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
from tqdm import tqdm

from medvlp.config import Config, save_config
from medvlp.data.convert import CachedImage, cxr_image, save_nifti, to_ras
from medvlp.data.manifest import write_manifest
from medvlp.data.splits import split_of
from medvlp.dicom.deid import Deidentifier, DeidPolicy
from medvlp.dicom.secret import resolve_secret
from medvlp.text.reports import split_sections
from medvlp.text.scrub import scrub_report

PATH_COLUMNS = ("path", "file", "filename", "volumename", "volume_name", "image_path", "image")
TEXT_COLUMNS = ("report", "reporttext", "report_text", "text")
FINDINGS_COLUMNS, IMPRESSION_COLUMNS = ("findings", "findings_en"), ("impression", "impressions", "impressions_en")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class AdapterError(ValueError):
    """A layout that cannot be read; the message names the file and the fix."""


def _col(row: dict[str, str], names: tuple[str, ...]) -> str | None:
    lowered = {k.lower().strip(): k for k in row}
    key = next((lowered[n] for n in names if n in lowered), None)
    return None if key is None else (row[key] or "").strip()


def _resolve(folder: Path, rel: str, table: Path) -> Path:
    """A path named in the table, refused when it leaves the folder (no ../, no absolute paths, no links out)."""
    path = (folder / rel).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise AdapterError(f"{table}: path {rel!r} points outside {folder}; paths must be relative to it")
    return path


def ct_from_nifti(path: Path, spacing_xyz: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, CachedImage]:
    """A NIfTI CT in HU -> (int16 [X, Y, Z] RAS at `spacing_xyz`, affine, cache facts)."""
    img = nib.load(path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    if data.ndim != 3:
        raise AdapterError(f"{path}: expected a 3D volume, got shape {data.shape}")
    vol, new = to_ras(data, img.affine, spacing_xyz)
    current = np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))
    facts = CachedImage(
        tuple(vol.shape),
        tuple(float(s) for s in spacing_xyz),
        new.round(6).tolist(),
        tuple(int(s) for s in data.shape),
        tuple(float(s) for s in current),
    )
    return vol, new, facts


def _image(path: Path, longer_side: int) -> tuple[np.ndarray, CachedImage]:
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("I;16") if im.mode in ("I", "I;16") else im.convert("L"), dtype=np.float32)
    top = 65535.0 if arr.max() > 255 else 255.0
    return cxr_image(arr / top, (1.0, 1.0), longer_side)  # PNG/JPEG carry no pixel spacing: 1 unit per pixel


def ingest_folder(layout: str, folder: Path, table: Path, out: Path, cfg: Config, progress: bool = True) -> dict:
    """Ingest a NIfTI or image folder described by `table` into `out` (manifest.parquet, cache, skipped.jsonl)."""
    folder, out = Path(folder), Path(out)
    if layout not in ("nifti", "images"):
        raise AdapterError(f"unknown layout {layout!r}; use dicom, nifti or images")
    deid = Deidentifier(DeidPolicy(secret=resolve_secret(cfg.ingest.secret_env, cfg.ingest.secret_file)))
    with open(table, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if rows and _col(rows[0], PATH_COLUMNS) is None:
        raise AdapterError(
            f"{table}: needs a column naming each file (one of {', '.join(PATH_COLUMNS)}); found {list(rows[0])}"
        )
    manifest, skipped, named = [], [], set()
    for row in tqdm(rows, desc=f"ingest {layout}", unit="file", disable=not progress):
        rel = _col(row, PATH_COLUMNS) or ""
        path = _resolve(folder, rel, table)
        named.add(path)
        if not path.is_file():
            skipped.append({"path": rel, "reason": "missing_file", "message": f"named in {table.name}, not found"})
            continue
        stem = path.name.split(".")[0]
        patient = deid.patient_pseudonym(_col(row, ("patient_id", "subject_id", "patient")) or stem)
        study = deid.accession_pseudonym(_col(row, ("study_id", "accession", "accessionnumber")) or stem)
        text = _col(row, TEXT_COLUMNS)
        if text is None:
            parts = [("FINDINGS", _col(row, FINDINGS_COLUMNS)), ("IMPRESSION", _col(row, IMPRESSION_COLUMNS))]
            text = "\n".join(f"{h}: {t}" for h, t in parts if t) or None
        text = scrub_report(text) if text else None
        sample_id = deid.uid(f"{layout}:{rel}")
        kind = "ct" if layout == "nifti" else "cxr"
        rel_image = f"cache/{kind}/{sample_id}{'.nii.gz' if cfg.ingest.compress else '.nii'}"
        try:
            if kind == "ct":
                data, affine, facts = ct_from_nifti(path, tuple(cfg.ingest.ct_spacing))
            else:
                data, facts = _image(path, cfg.ingest.cxr_size)
                affine = np.asarray(facts.affine)
        except Exception as exc:  # one unreadable file is reported, never fatal
            skipped.append({"path": rel, "reason": "unreadable_image", "message": f"{type(exc).__name__}: {exc}"})
            continue
        save_nifti(out / rel_image, data, affine)
        parsed = split_sections(text or "")
        manifest.append(
            {
                "sample_id": sample_id,
                "patient_id": patient,
                "study_id": study,
                "accession": study,
                "modality": kind,
                "source_modality": layout.upper(),
                "view": (_col(row, ("view", "viewposition")) or "").upper(),
                "image_path": rel_image,
                "shape": list(facts.shape),
                "spacing": list(facts.spacing),
                "affine": json.dumps(facts.affine),
                "original_shape": list(facts.original_shape),
                "original_spacing": list(facts.original_spacing),
                "resampled_slices": False,
                "n_sources": 1,
                "sources": [rel],
                "has_report": text is not None,
                "report_findings": parsed.findings,
                "report_impression": parsed.impression,
                "report_text": text or "",
                "split": split_of(patient, cfg.ingest.splits),
            }
        )
    suffixes = (".nii", ".gz") if layout == "nifti" else IMAGE_SUFFIXES
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.resolve() not in named:
            why = "not_in_table" if path.suffix.lower() in suffixes else "not_an_image"
            skipped.append({"path": str(path.relative_to(folder)), "reason": why, "message": f"not in {table.name}"})
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(manifest, out / "manifest.parquet")
    (out / "skipped.jsonl").write_text("".join(json.dumps(s) + "\n" for s in skipped))
    (out / "quarantine.jsonl").write_text("")
    save_config(cfg, out / "config.yaml")
    return {"rows": len(manifest), "skipped": len(skipped)}
