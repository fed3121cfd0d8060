"""`medvlp zeroshot CHECKPOINT INPUT`: screen DICOM files or folders, NIfTI volumes, images, or a manifest.

Every input goes through ingestion first (into a scratch dataset under the output folder), so a DICOM file is
decoded, oriented, de-identified and resampled exactly as for training; the screening then runs the model's
deterministic pipeline over the resulting manifest. The CSV has one row per screened image: its pseudonymous
sample id, the input file(s) it came from, and per finding a probability and a flag (probability at or above
the calibrated threshold; 0.5 when none was calibrated).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from medvlp.data.manifest import read_manifest
from medvlp.eval.embed import embed_split
from medvlp.heads.pretrained import Pretrained
from medvlp.heads.zero_shot import ZeroShotHead

NIFTI_SUFFIXES = (".nii", ".nii.gz")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _kind(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "manifest" if (path / "manifest.parquet").is_file() else "dicom"
    if name.endswith(".parquet"):
        return "manifest"
    if name.endswith(NIFTI_SUFFIXES):
        return "nifti"
    if name.endswith(IMAGE_SUFFIXES):
        return "images"
    return "dicom"


def ingest_input(inputs: list[Path], pre: Pretrained, work: Path) -> Path:
    """A dataset folder (holding manifest.parquet) for the inputs, ingesting them into `work` when needed."""
    kinds = {_kind(p) for p in inputs}
    if len(kinds) > 1:
        raise ValueError(f"mixed inputs ({', '.join(sorted(kinds))}): screen one kind at a time")
    kind = kinds.pop()
    if kind == "manifest":
        if len(inputs) > 1:
            raise ValueError("give one manifest (a dataset folder or its manifest.parquet)")
        return inputs[0] if inputs[0].is_dir() else inputs[0].parent
    cfg = pre.cfg
    if kind == "dicom":
        from medvlp.data.ingest import run_ingest

        folder = inputs[0] if len(inputs) == 1 and inputs[0].is_dir() else _copy_files(inputs, work / "input")
        run_ingest(folder, [], work / "dataset", cfg, progress=False)
        return work / "dataset"
    from medvlp.data.adapters import ingest_folder

    table = work / "inputs.csv"
    folder = _copy_files(inputs, work / "input")
    with open(table, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "report"])
        writer.writerows([[p.name, ""] for p in sorted(folder.iterdir())])
    ingest_folder(kind, folder, table, work / "dataset", cfg, progress=False)
    return work / "dataset"


def _copy_files(files: list[Path], folder: Path) -> Path:
    """A scratch folder holding copies of the given files (ingest reads folders, and refuses links that point
    outside them); names stay unique."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(files):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not a file")
        shutil.copy2(f, folder / f"{i:05d}_{f.name}")
    return folder


def screen(
    pre: Pretrained,
    inputs: list[Path],
    out_csv: Path,
    findings: str | None = None,
    thresholds: Path | None = None,
    work: Path | None = None,
) -> pd.DataFrame:
    """Screen `inputs` with the zero-shot head of `pre`; write and return the table. With `work`, the ingested
    dataset stays in work/dataset (to look at the images); without it, a temporary folder is used."""
    findings = findings or pre.cfg.text.label_set
    head = ZeroShotHead.from_model(pre.model, pre.tokenizer, pre.graph, findings, pre.modality, pre.cfg.data.max_tokens)
    if thresholds is not None:
        head.load_thresholds(thresholds)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(work) if work is not None else Path(scratch)  # `work` keeps the ingested images for viewing
        dataset = ingest_input([Path(p) for p in inputs], pre, folder)
        df = read_manifest(dataset / "manifest.parquet")
        rows = df[df["modality"] == pre.modality]
        if rows.empty:
            found = ", ".join(sorted(set(df["modality"]))) or "nothing"
            raise ValueError(f"no {pre.modality} images to screen in {', '.join(map(str, inputs))} (found {found})")
        emb = embed_split(pre.model, pre.tokenizer, pre.cfg, pre.graph, dataset, df, pre.modality, None)
    probs = head.probabilities(emb.image)
    flags = head.flags(probs)
    sources = dict(zip(df["sample_id"], df["sources"], strict=True))
    table = pd.DataFrame({"sample_id": emb.sample_ids, "source": [";".join(sources[s]) for s in emb.sample_ids]})
    for j, name in enumerate(head.names):
        table[f"p_{name}"] = probs[:, j].round(4)
        table[f"flag_{name}"] = flags[:, j].astype(int)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_csv, index=False)
    return table
