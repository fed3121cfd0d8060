"""manifest.parquet: one row per sample, the contract between ingest and everything after it.

Columns are fixed and typed here; reading checks the version and the columns, so a stale or foreign file
fails with a message naming what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

MANIFEST_VERSION = "1"
COLUMNS: dict[str, pa.DataType] = {
    "sample_id": pa.string(),  # pseudonymous series UID: unique per row
    "patient_id": pa.string(),  # pseudonym
    "study_id": pa.string(),  # pseudonymous study UID
    "accession": pa.string(),  # pseudonym
    "modality": pa.string(),  # "cxr" | "ct"
    "source_modality": pa.string(),  # DICOM Modality: CR, DX, CT
    "view": pa.string(),  # PA, AP (CXR); AXIAL (CT)
    "image_path": pa.string(),  # relative to the dataset folder
    "shape": pa.list_(pa.int64()),  # cached array shape: CXR [H, W]; CT [X, Y, Z] (RAS)
    "spacing": pa.list_(pa.float64()),  # mm per axis of the cached array
    "affine": pa.string(),  # JSON 4x4, voxel -> mm (RAS for CT)
    "original_shape": pa.list_(pa.int64()),
    "original_spacing": pa.list_(pa.float64()),
    "resampled_slices": pa.bool_(),
    "n_sources": pa.int64(),
    "sources": pa.list_(pa.string()),  # archive-relative paths of the files behind the row
    "has_report": pa.bool_(),
    "report_findings": pa.string(),
    "report_impression": pa.string(),
    "report_text": pa.string(),  # scrubbed full text
    "split": pa.string(),
}
SCHEMA = pa.schema(list(COLUMNS.items()), metadata={"medvlp_manifest_version": MANIFEST_VERSION})


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and what is wrong."""


def write_manifest(rows: list[dict[str, object]], path: Path) -> Path:
    """Write rows (sorted by sample_id) as parquet with the fixed schema, atomically."""
    rows = sorted(rows, key=lambda r: str(r["sample_id"]))
    table = pa.Table.from_pylist([{k: r.get(k) for k in COLUMNS} for r in rows], schema=SCHEMA)
    tmp = path.with_suffix(".tmp.parquet")
    pq.write_table(table, tmp)
    tmp.replace(path)
    return path


def read_manifest(path: Path) -> pd.DataFrame:
    """Read and check a manifest; affine is parsed back from JSON."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest here; run `medvlp ingest` first")
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    version = meta.get(b"medvlp_manifest_version", b"?").decode()
    if version != MANIFEST_VERSION:
        raise ManifestError(f"{path}: manifest version {version}, this medvlp reads {MANIFEST_VERSION}; re-run ingest")
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ManifestError(f"{path}: missing columns {missing}")
    df = table.to_pandas()
    df["affine"] = df["affine"].map(json.loads)
    return df
