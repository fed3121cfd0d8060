"""manifest.parquet: fixed schema, sorted rows, version and column checks on read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medvlp.data.manifest import COLUMNS, ManifestError, read_manifest, write_manifest


def _row(sample: str) -> dict:
    return {
        "sample_id": sample,
        "patient_id": "P1",
        "modality": "ct",
        "shape": [4, 5, 6],
        "spacing": [1.0, 1.0, 2.0],
        "affine": json.dumps([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]]),
        "sources": ["a", "b"],
        "has_report": True,
        "split": "train",
    }


def test_roundtrip_sorted(tmp_path: Path):
    write_manifest([_row("b"), _row("a")], tmp_path / "m.parquet")
    df = read_manifest(tmp_path / "m.parquet")
    assert list(df.sample_id) == ["a", "b"] and list(df.columns) == list(COLUMNS)
    assert df.affine.iloc[0][2][2] == 2 and list(df.sources.iloc[0]) == ["a", "b"]


def test_foreign_or_stale_files_refused(tmp_path: Path):
    with pytest.raises(ManifestError, match="run `medvlp ingest`"):
        read_manifest(tmp_path / "missing.parquet")
    pq.write_table(pa.table({"sample_id": ["a"]}), tmp_path / "other.parquet")
    with pytest.raises(ManifestError, match="version"):
        read_manifest(tmp_path / "other.parquet")
