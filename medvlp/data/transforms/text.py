"""Report side of a sample: section text, labels and entities (deterministic), augmentation (random), tokens.

The laterality-paired flip is decided here, on the CPU, where the text can still be swapped: the item gets
`flip=True` and the device stage mirrors the image. No flip is ever drawn anywhere else.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
from monai.transforms import Randomizable, Transform

from medvlp.knowledge.graph import KnowledgeGraph
from medvlp.text.augment import AugmentConfig, augment_report
from medvlp.text.labeler import Labeler
from medvlp.text.match import Matcher

SECTION_KEYS = {"findings": "report_findings", "impression": "report_impression"}


class ReportTextd(Transform):
    """Join the chosen sections into `text` (the full report when none of them is present)."""

    def __init__(self, sections: Sequence[str]) -> None:
        self.sections = list(sections)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        parts = [str(d.get(SECTION_KEYS.get(s, f"report_{s}"), "") or "") for s in self.sections]
        text = "\n".join(f"{s.upper()}: {p}" for s, p in zip(self.sections, parts, strict=True) if p.strip())
        d["text"] = text or str(d.get("report_text", "") or "")
        return d


class ReportTargetsd(Transform):
    """labels [K] float (1, 0, -1 uncertain, NaN not mentioned) and entity_ids [E] long of positive mentions."""

    def __init__(self, graph: KnowledgeGraph, findings: str | Sequence[str]) -> None:
        self.labeler = Labeler(graph, findings, matcher=Matcher(graph))
        self.entity_index = {e: i for i, e in enumerate(sorted(graph.ids))}

    @property
    def finding_names(self) -> list[str]:
        return list(self.labeler.findings)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        mentions = self.labeler.mentions(str(d.get("text", "")))
        labels = self.labeler.label_mentions(mentions)
        d["labels"] = torch.tensor([labels[n] for n in self.labeler.findings], dtype=torch.float32)
        positive = sorted({self.entity_index[m.entity_id] for m in mentions if m.status == "positive"})
        d["entity_ids"] = torch.tensor(positive, dtype=torch.long)
        return d


class RandReportAugmentd(Randomizable, Transform):
    """Training-time text augmentation; draws the paired left-right flip (`flip`) with cfg.laterality_swap."""

    def __init__(self, graph: KnowledgeGraph, cfg: AugmentConfig, modality: str) -> None:
        self.graph, self.cfg, self.modality = graph, cfg, modality
        self._seed, self._flip = 0, False

    def randomize(self, data: object = None) -> None:
        self._seed = int(self.R.randint(0, 2**31 - 1))
        self._flip = bool(self.R.random_sample() < self.cfg.laterality_swap)

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        self.randomize()
        d = dict(data)
        rng = np.random.default_rng(self._seed)
        d["text"] = augment_report(str(d["text"]), rng, self.graph, self.cfg, self.modality, flipped=self._flip)
        d["flip"] = self._flip
        return d


class Tokenized(Transform):
    """text -> text_ids [L] long, text_mask [L] bool, padded or truncated to max_tokens."""

    def __init__(self, tokenizer: object, max_tokens: int) -> None:
        self.tokenizer, self.max_tokens = tokenizer, max_tokens

    def __call__(self, data: Mapping[Hashable, object]) -> dict[Hashable, object]:
        d = dict(data)
        enc = self.tokenizer(
            str(d.get("text", "")),
            max_length=self.max_tokens,
            padding="max_length",
            truncation=True,
            return_tensors="pt",
        )  # type: ignore[operator]
        d["text_ids"] = enc["input_ids"][0].long()
        d["text_mask"] = enc["attention_mask"][0].bool()
        d.setdefault("flip", False)
        return d
