"""Does the phantom need a real model? A linear model on 16x16 thumbnails must not solve it.

Generates a CXR-only phantom archive, decodes every frontal radiograph as a viewer shows it (Modality LUT,
window, MONOCHROME1 inversion), shrinks it to a 16x16 thumbnail, and fits a cross-validated logistic regression
per finding. Shortcuts (a finding that changes global brightness, image size or a tag) would let this tiny model
score high; the claim is a median AUROC over the findings of at most 0.90. A control column adds a 10% brightness
shortcut to the same images, to show that the check would catch one.

    python benchmarks/phantom_difficulty.py [--n-cxr 400] [--seed 11] [--out runs/bench/difficulty]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from pathlib import Path

import numpy as np
import pydicom
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from medvlp.config import load_config
from medvlp.data.synthetic.archive import generate_archive
from medvlp.data.synthetic.findings import CXR_FINDINGS
from medvlp.dicom.pixels import decode_radiograph

THUMB = 16
CLAIM = 0.90


def thumbnail(image: np.ndarray, size: int = THUMB) -> np.ndarray:
    """Area-average a [rows, cols] image to [size, size] (crop to a multiple of size first)."""
    rows, cols = (image.shape[0] // size) * size, (image.shape[1] // size) * size
    img = image[:rows, :cols]
    return img.reshape(size, rows // size, size, cols // size).mean(axis=(1, 3))  # [size, rb, size, cb] -> [size, size]


def load_frontal(out: Path) -> tuple[np.ndarray, np.ndarray]:
    """Thumbnails [N, 256] of frontal views and study labels [N, K] from the archive's ground truth."""
    labels: dict[str, list[int]] = {}
    with open(out / "ground_truth/labels_cxr.csv") as fh:
        for row in csv.DictReader(fh):
            labels[row["accession"]] = [int(row[k]) for k in CXR_FINDINGS]
    feats, ys = [], []
    for path in sorted((out / "archive").rglob("*")):
        if not path.is_file():
            continue
        ds = pydicom.dcmread(path)
        if ds.Modality not in ("DX", "CR") or ds.ViewPosition == "LL":
            continue
        feats.append(thumbnail(decode_radiograph(ds)).ravel())
        ys.append(labels[ds.AccessionNumber])
    return np.asarray(feats), np.asarray(ys)


def cv_auroc(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    """5-fold cross-validated AUROC of a standardised logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    scores = cross_val_predict(model, x, y, cv=folds, method="decision_function")
    return float(roc_auc_score(y, scores))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-cxr", type=int, default=400)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/difficulty"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    cfg = load_config(
        [],
        [
            f"synth.n_cxr={args.n_cxr}",
            "synth.n_ct=0",
            f"run.seed={args.seed}",
            "synth.cxr_size=[256, 384]",
            "synth.lateral_fraction=0",
        ],
    )
    t0 = time.perf_counter()
    generate_archive(cfg, args.out)
    x, y = load_frontal(args.out)
    print(
        f"\n{len(x)} frontal radiographs, 16x16 thumbnails, 5-fold CV logistic regression "
        f"(generated and decoded in {time.perf_counter() - t0:.0f} s)\n"
    )
    print("| finding | positives | AUROC | AUROC with a 10% brightness shortcut (control) |")
    print("|---|---|---|---|")
    aurocs = []
    for k, name in enumerate(CXR_FINDINGS):
        pos = int(y[:, k].sum())
        if pos < 10 or pos > len(y) - 10:
            print(f"| {name} | {pos} | (too few to score) | |")
            continue
        auc = cv_auroc(x, y[:, k], args.seed)
        control = cv_auroc(x + 0.10 * y[:, k : k + 1], y[:, k], args.seed)
        aurocs.append(auc)
        print(f"| {name} | {pos} | {auc:.3f} | {control:.3f} |")
    median = float(np.median(aurocs))
    verdict = "PASS" if median <= CLAIM else "FAIL"
    print(f"\nmedian AUROC over {len(aurocs)} findings: {median:.3f} (claim: <= {CLAIM:.2f}) -> {verdict}")


if __name__ == "__main__":
    main()
