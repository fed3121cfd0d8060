"""Periodic validation during pre-training: retrieval R@K and zero-shot AUROC on the validation split.

Labels here are what a hospital has: the labeler's reading of the validation reports (1 positive; 0 negative
and not mentioned count as negative; uncertain is left out). The pipeline prefix of the split is cached in
memory once, so a validation costs one no-grad pass over it plus the prompts. Runs on one process (rank 0) on
the bare model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from medvlp.config import Config
from medvlp.eval.embed import Embedded, embed_loader, split_loader
from medvlp.eval.metrics import auroc, retrieval_recall
from medvlp.eval.plots import plot_roc
from medvlp.heads.zero_shot import ZeroShotHead
from medvlp.knowledge import KnowledgeGraph

BEST_METRIC = "val/zs_auroc_mean"


def report_targets(labels: np.ndarray) -> np.ndarray:
    """Labeler output (1, 0, -1 uncertain, NaN not mentioned) -> 1 / 0 / NaN for scoring."""
    out = np.where(labels == 1, 1.0, 0.0)
    out[labels == -1] = np.nan
    return out


class Validator:
    """Built once per run; `validator(model, step)` returns the metrics and keeps the last scores for plots."""

    def __init__(
        self, cfg: Config, df: pd.DataFrame, root: Path, graph: KnowledgeGraph, tokenizer: Any, modality: str
    ) -> None:
        self.cfg, self.graph, self.tokenizer, self.modality = cfg, graph, tokenizer, modality
        has_val = bool(((df["split"] == "val") & (df["modality"] == modality)).any())
        self.loader = None
        if has_val:
            self.loader, self.names = split_loader(cfg, df, root, graph, tokenizer, modality, "val", cache="cache")
        self.last: tuple[Embedded, np.ndarray, ZeroShotHead] | None = None

    @property
    def enabled(self) -> bool:
        return self.loader is not None

    @torch.no_grad()
    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        """Metrics of `model` on the validation split (model left in the mode it was in)."""
        if self.loader is None:
            return {}
        was_training = model.training
        model.eval()
        try:
            emb = embed_loader(model, self.loader, self.cfg, self.names)
            head = ZeroShotHead.from_model(
                model, self.tokenizer, self.graph, self.cfg.text.label_set, self.modality, self.cfg.data.max_tokens
            )
        finally:
            model.train(was_training)
        if head.names != self.names:
            raise RuntimeError(f"zero-shot findings {head.names} differ from the report labels {self.names}")
        probs, targets = head.probabilities(emb.image), report_targets(emb.report_labels)
        self.last = (emb, probs, head)
        recall = retrieval_recall(emb.image.numpy(), emb.text.numpy(), ks=(1, 5, 10))
        metrics = {f"val/{k}": v for k, v in recall.items()}
        aucs = {name: auroc(probs[:, j], targets[:, j]) for j, name in enumerate(head.names)}
        metrics.update({f"val/zs_auroc/{k}": v for k, v in aucs.items() if not np.isnan(v)})
        defined = [v for v in aucs.values() if not np.isnan(v)]
        if defined:
            metrics[BEST_METRIC] = float(np.mean(defined))
        return metrics

    def plot(self, out: Path) -> Path | None:
        """ROC curves of the last validation (zero-shot scores against the report labels)."""
        if self.last is None:
            return None
        emb, probs, head = self.last
        title = f"zero-shot on the validation split ({len(emb.sample_ids)} {self.modality} samples, report labels)"
        return plot_roc({"zero-shot": (probs, report_targets(emb.report_labels))}, head.names, out, title)
