"""The prompt bank: each finding's positive and negative prompts, tokenized, for the `prompt` loss (KAD-style).

The knowledge graph's prompt ensembles ("There is pleural effusion.", "Pleural effusion: blunted costophrenic
angle...", "No pleural effusion.") are what the zero-shot head embeds at test time. The prompt loss trains that
same classifier during pre-training, with the report labeler's labels as targets (no image labels: they come
from the report text, as in KAD and MedKLIP). Each step encodes a few prompts per finding and side, sampled from
the ensemble, so the text tower learns the ensemble rather than one phrasing.

Layout: rows are grouped by (finding k, side s) with side 0 = positive, 1 = negative; group g = 2k + s holds rows
start[g] .. start[g] + count[g] - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from medvlp.text.prompts import build_prompts, resolve_findings


@dataclass
class PromptTokens:
    """Tokenized prompt ensembles: ids / mask [P, L], start / count [2K] per (finding, side) group, names [K]."""

    ids: torch.Tensor
    mask: torch.Tensor
    start: torch.Tensor
    count: torch.Tensor
    names: list[str]


def tokenize_prompts(
    graph: Any, findings: str | list[str], modality: str, tokenizer: Any, max_length: int
) -> PromptTokens:
    """The positive and negative prompts of each finding of a label set (text.label_set), in label order,
    tokenized for VLPModel.set_prompts."""
    names, entity_ids = resolve_findings(graph, findings)
    texts: list[str] = []
    count: list[int] = []
    for s in build_prompts(graph, entity_ids, modality):
        for side in (s.positives, s.negatives):
            texts += list(side)
            count.append(len(side))
    enc = tokenizer(texts, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    counts = torch.tensor(count, dtype=torch.long)
    start = torch.cumsum(counts, 0) - counts
    return PromptTokens(enc["input_ids"].long(), enc["attention_mask"].bool(), start, counts, list(names))


def sample_rows(start: torch.Tensor, count: torch.Tensor, per_group: int) -> torch.Tensor:
    """Row indices [2K, per_group]: per_group draws with replacement within each group (global torch RNG, so
    checkpoints and contrastive accumulation replay them)."""
    u = torch.rand(start.shape[0], per_group)  # [2K, M] uniform in [0, 1), from the CPU generator
    return start[:, None] + (u * count[:, None]).long().clamp_max(count[:, None] - 1)


def class_vectors(embeds: torch.Tensor, groups: int, per_group: int) -> torch.Tensor:
    """Prompt embeddings [2K * M, E] (group-major) -> L2-normalised class vectors [K, 2, E] (side 0 positive)."""
    mean = embeds.reshape(groups, per_group, -1).mean(1)  # [2K * M, E] -> [2K, M, E] -> [2K, E]
    return F.normalize(mean.reshape(groups // 2, 2, -1), dim=-1)  # [2K, E] -> [K, 2, E]
