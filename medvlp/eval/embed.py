"""Embed one split of an ingested dataset with a model: image and report embeddings plus the report labels.

The images go through the deterministic pipeline prefix (no augmentation) and the device stage's normalisation,
exactly as in training, so evaluation sees what the model was trained on. Used by periodic validation, the
zero-shot head's calibration, `medvlp evaluate` and the supervised baseline.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from medvlp.config import Config
from medvlp.data.collate import collate_batch
from medvlp.data.datasets import make_dataset
from medvlp.data.loader import move_to
from medvlp.data.transforms.gpu import DeviceAugment
from medvlp.knowledge import KnowledgeGraph


@dataclass
class Embedded:
    """One split, embedded. Rows follow the manifest order of the split's samples."""

    sample_ids: list[str]
    patient_ids: list[str]
    image: torch.Tensor  # [N, E] L2-normalised
    text: torch.Tensor  # [N, E] L2-normalised (rows of samples without a report embed an empty text)
    report_labels: np.ndarray  # [N, K] 1/0, NaN = not mentioned (the labeler on the report)
    names: list[str]  # K label names of report_labels


def split_loader(
    cfg: Config,
    df: pd.DataFrame,
    root: Path,
    graph: KnowledgeGraph,
    tokenizer: Any,
    modality: str,
    split: str | None,
    cache: str | None = None,
) -> tuple[DataLoader, list[str]]:
    """A deterministic loader over one split. `cache` picks plain / cache / persistent for the prefix; by default
    a persistent cache is used when the config trains from one (it is shared), else none (one pass)."""
    kind = cache or ("persistent" if cfg.data.dataset == "persistent" else "plain")
    data = dataclasses.replace(cfg.data, dataset=kind)
    ds, names = make_dataset(df, root, data, cfg.text, graph, tokenizer, modality, split, train=False)
    loader = DataLoader(ds, batch_size=cfg.data.batch_size, shuffle=False, collate_fn=collate_batch, num_workers=0)
    return loader, names


@torch.no_grad()
def embed_loader(model: Any, loader: DataLoader, cfg: Config, names: list[str], progress: bool = False) -> Embedded:
    """Run the model's two towers over every batch of `loader` (eval mode is the caller's business)."""
    device = next(model.parameters()).device
    normalise = DeviceAugment.from_data_config(cfg.data)
    ids, images, texts, labels = [], [], [], []
    for batch in tqdm(loader, desc="embed", unit="batch", disable=not progress, dynamic_ncols=True):
        batch = normalise(move_to(batch, device), train=False)
        images.append(model.encode_image(batch["image"], batch.get("depth_mask")).embeds.float().cpu())
        texts.append(model.encode_text(batch["text_ids"], batch["text_mask"]).embeds.float().cpu())
        labels.append(batch["labels"].float().cpu())
        ids += list(batch["sample_id"])
    return Embedded(ids, [], torch.cat(images), torch.cat(texts), torch.cat(labels).numpy(), names)


def embed_split(
    model: Any,
    tokenizer: Any,
    cfg: Config,
    graph: KnowledgeGraph,
    root: Path,
    df: pd.DataFrame,
    modality: str,
    split: str | None,
    progress: bool = False,
) -> Embedded:
    """Embed the `split` samples of `modality` in the manifest `df` of the dataset at `root`."""
    loader, names = split_loader(cfg, df, root, graph, tokenizer, modality, split)
    out = embed_loader(model, loader, cfg, names, progress)
    patient = dict(zip(df["sample_id"], df["patient_id"], strict=True))
    out.patient_ids = [patient[s] for s in out.sample_ids]
    return out
