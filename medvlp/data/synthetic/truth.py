"""The phantom's drawn truth for the rows of an ingested manifest: evaluation never trusts the report text.

Ingestion pseudonymises accession numbers and UIDs, so the manifest cannot be joined to
ground_truth/labels_*.csv by key. It keeps, though, the archive-relative paths of the files behind each row
(`sources`), and ground_truth/studies.jsonl lists the files of every study: the join goes through those.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from medvlp.data.synthetic.findings import FINDINGS


def truth_labels(phantom: Path | str, manifest: pd.DataFrame, modality: str) -> pd.DataFrame:
    """Drawn labels (0/1) of the manifest's `modality` rows: index sample_id, one column per phantom finding."""
    studies = Path(phantom) / "ground_truth" / "studies.jsonl"
    if not studies.is_file():
        raise FileNotFoundError(f"{studies} is missing: pass the folder `medvlp synth --out` wrote")
    by_file: dict[str, dict[str, int]] = {}
    for line in studies.read_text().splitlines():
        study = json.loads(line)
        for path in study["files"]:
            by_file[path.removeprefix("archive/")] = study["labels"]
    names = list(FINDINGS[modality])
    rows = {}
    for rec in manifest[manifest["modality"] == modality].to_dict("records"):
        labels = next((by_file[s] for s in rec["sources"] if s in by_file), None)
        if labels is None:  # ingested from a subfolder of the archive: sources are relative to it
            labels = next((v for s in rec["sources"] for k, v in by_file.items() if k.endswith("/" + s)), None)
        if labels is None:
            raise KeyError(f"sample {rec['sample_id']}: none of its source files is listed in {studies}")
        rows[rec["sample_id"]] = [int(labels[n]) for n in names]
    return pd.DataFrame.from_dict(rows, orient="index", columns=names).rename_axis("sample_id")
