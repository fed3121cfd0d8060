"""Zero-shot screening: per-finding classifiers made of text, from the knowledge graph's prompt ensembles.

For each finding the positive prompts ("There is pleural effusion.", its synonyms, its radiographic description)
and the negative ones ("No pleural effusion.") are embedded by the model's text tower and averaged (CLIP's
prompt ensembling) into a positive and a negative class vector. An image's probability for the finding is the
softmax over that pair: sigmoid(scale * (<img, pos> - <img, neg>)). The same code serves 2D and 3D models, since
it only sees the joint embedding space. Thresholds are calibrated on labelled validation data (Youden's J, or a
target sensitivity) and saved as JSON beside the class vectors' provenance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medvlp.eval.metrics import sensitivity_threshold, youden_threshold
from medvlp.knowledge import KnowledgeGraph
from medvlp.losses.prompt import prompt_logits
from medvlp.text.prompts import build_prompts, resolve_findings


@torch.no_grad()
def embed_texts(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int, batch: int = 64) -> torch.Tensor:
    """L2-normalised text embeddings [N, E] of `texts`, tokenized as the training pipeline tokenizes reports."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(texts), batch):
        enc = tokenizer(
            list(texts[i : i + batch]),
            max_length=max_tokens,
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        )
        ids, mask = enc["input_ids"].long().to(device), enc["attention_mask"].bool().to(device)
        out.append(model.encode_text(ids, mask).embeds.float())
    return torch.cat(out)  # [N, E]


def calibrate_thresholds(
    probs: np.ndarray, labels: np.ndarray, method: str = "youden", target: float = 0.9
) -> np.ndarray:
    """Per-finding thresholds [F] from scores and labels [N, F] (NaN labels ignored): Youden's J, or the highest
    threshold reaching a target sensitivity. Findings with a single class keep 0.5."""
    if method not in ("youden", "sensitivity"):
        raise ValueError(f"unknown calibration method '{method}' (youden, sensitivity)")
    out = np.full(probs.shape[1], 0.5)
    for j in range(probs.shape[1]):
        known = ~np.isnan(labels[:, j])
        y, s = labels[known, j], probs[known, j]
        if y.size == 0 or y.min() == y.max():
            continue
        out[j] = youden_threshold(s, y) if method == "youden" else sensitivity_threshold(s, y, target)
    return out


def _mean_direction(x: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(x.mean(0), dim=-1)  # [E]


class ZeroShotHead:
    """Class vectors per finding and the decision thresholds; `probabilities(image_embeds)` -> [B, F]."""

    def __init__(
        self,
        names: Sequence[str],
        entity_ids: Sequence[str],
        positive: torch.Tensor,
        negative: torch.Tensor,
        scale: float,
        thresholds: Sequence[float] | None = None,
    ) -> None:
        self.names, self.entity_ids = list(names), list(entity_ids)
        # 2x [F, E] -> [F, 2, E], the prompt loss's layout; positive/negative are views of it
        self.classes = torch.stack([positive, negative], dim=1).float().cpu()
        self.scale = float(scale)
        self.thresholds = np.full(len(self.names), 0.5) if thresholds is None else np.asarray(thresholds, float)

    @property
    def positive(self) -> torch.Tensor:
        """Positive-prompt class vectors [F, E]."""
        return self.classes[:, 0]

    @property
    def negative(self) -> torch.Tensor:
        """Negative-prompt class vectors [F, E]."""
        return self.classes[:, 1]

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        graph: KnowledgeGraph,
        findings: str | Sequence[str],
        modality: str,
        max_tokens: int = 128,
        max_per_finding: int | None = None,
    ) -> ZeroShotHead:
        """Embed each finding's prompt ensemble with the model's text tower."""
        names, entity_ids = resolve_findings(graph, findings)
        sets = build_prompts(graph, entity_ids, modality, max_per_finding=max_per_finding)
        pos, neg = [], []
        for s in sets:
            pos.append(_mean_direction(embed_texts(model, tokenizer, s.positives, max_tokens)))
            neg.append(_mean_direction(embed_texts(model, tokenizer, s.negatives, max_tokens)))
        scale = float(model.logit_scale.detach()) if hasattr(model, "logit_scale") else 100.0
        return cls(names, entity_ids, torch.stack(pos), torch.stack(neg), scale)

    def probabilities(self, image_embeds: torch.Tensor) -> np.ndarray:
        """P(finding) [B, F] for L2-normalised image embeddings [B, E]."""
        logits = prompt_logits(image_embeds.float().cpu(), self.classes, torch.tensor(self.scale))  # [B, F]
        return torch.sigmoid(logits).numpy()

    def flags(self, probs: np.ndarray) -> np.ndarray:
        """Boolean [B, F]: probability at or above the finding's threshold."""
        return probs >= self.thresholds[None, :]

    def calibrate(self, probs: np.ndarray, labels: np.ndarray, method: str = "youden", target: float = 0.9) -> None:
        """Set the thresholds from labelled data (see calibrate_thresholds)."""
        self.thresholds = calibrate_thresholds(probs, labels, method, target)

    def save(self, path: Path | str) -> Path:
        """Thresholds and the findings they belong to, as JSON (the class vectors are rebuilt from the model)."""
        path = Path(path)
        data = {"names": self.names, "entity_ids": self.entity_ids, "thresholds": [float(t) for t in self.thresholds]}
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    def load_thresholds(self, path: Path | str) -> None:
        """Thresholds saved by `save` for the same findings (raises ValueError naming the mismatch otherwise)."""
        data = json.loads(Path(path).read_text())
        if data.get("names") != self.names:
            raise ValueError(f"{path} holds thresholds for {data.get('names')}, not for {self.names}")
        self.thresholds = np.asarray(data["thresholds"], float)
