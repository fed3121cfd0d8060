"""`medvlp evaluate CHECKPOINT DATASET`: zero-shot AUROC/AUPRC/F1 with patient-level CIs, retrieval R@K, and the
supervised baseline beside it, on one split (default: test) of an ingested dataset.

Labels: a CSV (sample_id + one 0/1 column per finding; the phantom's drawn truth, or a hospital's annotated
test set), else the labeler's reading of the split's reports. Thresholds for F1 are calibrated on the
validation split (Youden) for both methods, never on the split that is scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medvlp.data.manifest import read_manifest
from medvlp.eval.baseline import Classifier, load_baseline, predict
from medvlp.eval.embed import Embedded, embed_split, split_loader
from medvlp.eval.metrics import format_side_by_side, format_table, per_finding_metrics, retrieval_recall
from medvlp.eval.plots import plot_roc
from medvlp.heads.pretrained import Pretrained, load_pretrained
from medvlp.heads.zero_shot import ZeroShotHead, calibrate_thresholds
from medvlp.train.validate import report_targets


@dataclass
class Evaluation:
    """Everything `medvlp evaluate` prints and logs."""

    modality: str
    names: list[str]
    tables: dict[str, pd.DataFrame]  # method -> per_finding_metrics (zero-shot, supervised)
    retrieval: dict[str, float]
    plots: list[Path] = field(default_factory=list)

    def summary(self) -> str:
        n = int(self.tables["zero-shot"]["n"].iloc[-1])
        lines = [f"{self.modality.upper()}: {n} held-out samples; AUROC [95% CI, patient bootstrap]"]
        lines.append(format_side_by_side(self.tables, "auroc"))
        for method, table in self.tables.items():
            lines += ["", f"{method}:", format_table(table)]
        recall = "  ".join(f"{k}={v:.3f}" for k, v in self.retrieval.items())
        return "\n".join([*lines, "", f"report retrieval: {recall}"])

    def metrics(self) -> dict[str, float]:
        """Flat metrics for MLflow: <modality>/<method>/<metric>/<finding>."""
        out = {f"{self.modality}/retrieval/{k}": v for k, v in self.retrieval.items()}
        for method, table in self.tables.items():
            key = method.replace("-", "_")
            for row in table.to_dict("records"):
                for m in ("auroc", "auprc", "f1"):
                    if not np.isnan(row[m]):
                        out[f"{self.modality}/{key}/{m}/{row['finding']}"] = float(row[m])
        return out


def _targets(labels: pd.DataFrame | None, emb: Embedded, names: list[str]) -> np.ndarray:
    """[N, F] 1/0/NaN for the embedded samples: the label table when given, else the report labels."""
    if labels is None:
        return report_targets(emb.report_labels)
    missing = [s for s in emb.sample_ids if s not in labels.index]
    if missing:
        raise KeyError(f"{len(missing)} samples have no row in the labels table, e.g. {missing[0]}")
    return labels.loc[emb.sample_ids, names].to_numpy(dtype=float)


def _baseline_scores(
    baseline: tuple[Classifier, list[str]],
    pre: Pretrained,
    dataset: Path,
    df: pd.DataFrame,
    split: str | None,
    names: list[str],
) -> tuple[list[str], np.ndarray]:
    """Baseline probabilities [N, F] in the order of `names` (NaN for findings the baseline has no output for)."""
    model, own = baseline
    loader, _ = split_loader(pre.cfg, df, dataset, pre.graph, pre.tokenizer, pre.modality, split)
    ids, probs = predict(model, loader, pre.cfg)
    cols = [own.index(n) if n in own else None for n in names]
    return ids, np.stack([probs[:, c] if c is not None else np.full(len(ids), np.nan) for c in cols], axis=1)


def evaluate(
    checkpoint: Path,
    dataset: Path,
    labels: pd.DataFrame | None = None,
    baseline: Path | None = None,
    split: str | None = "test",
    n_boot: int = 1000,
    out: Path | None = None,
    progress: bool = False,
) -> Evaluation:
    """Score the checkpoint's zero-shot head (and the baseline) on `split`; write ROC PNGs into `out`."""
    pre = load_pretrained(checkpoint)
    df = read_manifest(Path(dataset) / "manifest.parquet")
    names = list(labels.columns) if labels is not None else None
    head = ZeroShotHead.from_model(
        pre.model, pre.tokenizer, pre.graph, names or pre.cfg.text.label_set, pre.modality, pre.cfg.data.max_tokens
    )
    names = head.names
    test = embed_split(pre.model, pre.tokenizer, pre.cfg, pre.graph, dataset, df, pre.modality, split, progress)
    y = _targets(labels, test, names)
    scores = {"zero-shot": head.probabilities(test.image)}
    val = None
    if ((df["split"] == "val") & (df["modality"] == pre.modality)).any():
        val = embed_split(pre.model, pre.tokenizer, pre.cfg, pre.graph, dataset, df, pre.modality, "val")
    thresholds = {}
    if val is not None:
        head.calibrate(head.probabilities(val.image), _targets(labels, val, names))
    thresholds["zero-shot"] = head.thresholds
    if baseline is not None:
        supervised = load_baseline(baseline)
        ids, probs = _baseline_scores(supervised, pre, dataset, df, split, names)
        if ids != test.sample_ids:  # both come from the same deterministic loader order
            raise RuntimeError("baseline and zero-shot scored different samples; the manifest changed in between?")
        scores["supervised"] = probs
        thresholds["supervised"] = np.full(len(names), 0.5)
        if val is not None:
            _, val_probs = _baseline_scores(supervised, pre, dataset, df, "val", names)
            thresholds["supervised"] = calibrate_thresholds(val_probs, _targets(labels, val, names))
    tables = {
        m: per_finding_metrics(s, y, names, test.patient_ids, thresholds[m], n_boot=n_boot) for m, s in scores.items()
    }
    retrieval = retrieval_recall(test.image.numpy(), test.text.numpy(), ks=(1, 5, 10))
    result = Evaluation(pre.modality, names, tables, retrieval)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        head.save(out / f"thresholds_{pre.modality}.json")
        title = f"{pre.modality.upper()} {split} split: {len(test.sample_ids)} samples"
        curves = {m: (s, y) for m, s in scores.items()}
        result.plots.append(plot_roc(curves, names, out / f"roc_{pre.modality}.png", title))
    return result
