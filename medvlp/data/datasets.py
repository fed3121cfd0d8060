"""Manifest rows -> MONAI datasets (plain, in-memory cache, or persistent disk cache) with the full item pipeline.

Pipeline per item: deterministic image prefix (transforms/cxr.py or ct.py) and report preparation (text.py),
cached; then, for training, random text augmentation, and tokenization. Random image transforms run after
collation on the device (transforms/gpu.py), or per item here when data.augment_on is "cpu".

The persistent cache stores tensors as safetensors and everything else as JSON: nothing is ever unpickled. Its
folder is keyed by a hash of the pipeline's parameters (and PIPELINE_VERSION) and of the transforms it caches
(training stops before text augmentation, evaluation after tokenization), so a changed pipeline never reads a
stale cache and evaluation never reads training's shorter items.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from monai.data import CacheDataset, Dataset, PersistentDataset
from monai.transforms import Compose, RandomizableTrait, Transform
from safetensors.torch import load_file, save_file

from medvlp.config.schema import DataConfig, TextConfig
from medvlp.data.transforms.cpu_random import cpu_random
from medvlp.data.transforms.ct import ct_prefix
from medvlp.data.transforms.cxr import cxr_prefix
from medvlp.data.transforms.text import RandReportAugmentd, ReportTargetsd, ReportTextd, Tokenized
from medvlp.knowledge.graph import KnowledgeGraph
from medvlp.text.augment import AugmentConfig

PIPELINE_VERSION = "1"
ITEM_KEYS = ("sample_id", "patient_id", "modality", "view", "report_findings", "report_impression", "report_text")


def manifest_items(
    df: pd.DataFrame, root: Path, split: str | None = None, modality: str | None = None
) -> list[dict[str, object]]:
    """Rows of a manifest as dataset items: absolute image path plus the fields the pipeline reads."""
    rows = df
    if split is not None:
        rows = rows[rows["split"] == split]
    if modality is not None:
        rows = rows[rows["modality"] == modality]
    return [
        {"image": str(Path(root) / r["image_path"]), **{k: r[k] for k in ITEM_KEYS}} for r in rows.to_dict("records")
    ]


def augment_config(text: TextConfig) -> AugmentConfig:
    return AugmentConfig(
        synonym_swap=text.synonym_swap,
        sentence_shuffle=text.sentence_shuffle,
        sentence_keep=text.sentence_keep,
        knowledge_append=text.knowledge_append,
        knowledge_max_sentences=text.knowledge_max_sentences,
        knowledge_source=text.knowledge_source,
        laterality_swap=text.laterality_swap,
    )


def prefix_params(data: DataConfig, text: TextConfig, modality: str) -> dict[str, object]:
    """Everything the cached prefix depends on: the key of the persistent cache."""
    image = (
        {"cxr_size": data.cxr_size}
        if modality == "cxr"
        else {"ct_size": list(data.ct_size), "ct_max_depth": data.ct_max_depth, "ct_windows": list(data.ct_windows)}
    )
    return {
        "version": PIPELINE_VERSION,
        "modality": modality,
        **image,
        "sections": list(data.text_sections),
        "label_set": text.label_set,
    }


def build_transforms(
    modality: str, data: DataConfig, text: TextConfig, graph: KnowledgeGraph, tokenizer: object, train: bool
) -> tuple[list[Transform], list[Transform]]:
    """(deterministic prefix, per-access rest). The prefix ends before the first random transform."""
    image = (
        cxr_prefix(data.cxr_size) if modality == "cxr" else ct_prefix(data.ct_size, data.ct_max_depth, data.ct_windows)
    )
    prefix = [*image, ReportTextd(data.text_sections), ReportTargetsd(graph, _findings(text.label_set))]
    rest: list[Transform] = []
    if train:
        rest.append(RandReportAugmentd(graph, augment_config(text), modality))
        if data.augment_on == "cpu":
            rest += cpu_random(data, spatial_dims=2 if modality == "cxr" else 3)
    rest.append(Tokenized(tokenizer, data.max_tokens))
    return prefix, rest


def _findings(label_set: str) -> str | list[str]:
    return [f.strip() for f in label_set.split(",") if f.strip()] if "," in label_set else label_set


class SafePersistentDataset(PersistentDataset):
    """MONAI's PersistentDataset with a pickle-free store: tensors in safetensors, other values in its metadata."""

    def _cachecheck(self, item_transformed: dict[str, object]) -> dict[str, object]:
        assert self.cache_dir is not None
        key = hashlib.sha256(json.dumps(item_transformed, sort_keys=True, default=str).encode()).hexdigest()
        path = Path(self.cache_dir) / f"{key}.safetensors"
        if path.is_file():
            return _load_item(path)
        item = self._pre_transform(dict(item_transformed))
        tmp = path.with_suffix(".tmp")
        _save_item(item, tmp)
        tmp.replace(path)
        return item


def _save_item(item: dict[str, object], path: Path) -> None:
    tensors = {k: torch.as_tensor(v).contiguous() for k, v in item.items() if isinstance(v, torch.Tensor)}
    other = {k: v for k, v in item.items() if not isinstance(v, torch.Tensor)}
    save_file(tensors, str(path), metadata={"json": json.dumps(other, default=str)})


def _load_item(path: Path) -> dict[str, object]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = json.loads((fh.metadata() or {}).get("json", "{}"))
    return {**meta, **load_file(str(path))}


def cached_head(transform: Compose) -> list[str]:
    """Names of the transforms a PersistentDataset runs before caching (MONAI stops at the first random one)."""
    head = []
    for t in transform.transforms:
        if isinstance(t, RandomizableTrait) or not isinstance(t, Transform):
            break
        head.append(type(t).__name__)
    return head


def build_dataset(
    items: Sequence[dict[str, object]],
    prefix: list[Transform],
    rest: list[Transform],
    kind: str,
    cache_dir: Path | None = None,
    params: dict[str, object] | None = None,
    progress: bool = False,
) -> Dataset:
    """A MONAI dataset of `kind` plain | cache | persistent over `items` with prefix + rest."""
    transform = Compose([*prefix, *rest])
    if kind == "plain":
        return Dataset(list(items), transform=transform)
    if kind == "cache":
        return CacheDataset(
            list(items), transform=transform, cache_rate=1.0, num_workers=0, progress=progress, copy_cache=True
        )
    if kind == "persistent":
        if cache_dir is None:
            raise ValueError("data.dataset=persistent needs a cache folder (data.cache_dir)")
        # What PersistentDataset caches runs up to the first random transform: with text augmentation (training)
        # that is before tokenization, without it (evaluation) after. Both go in the key, so neither reads the other.
        key = {**(params or {}), "cached": cached_head(transform)}
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        folder = Path(cache_dir) / f"pipeline-{digest}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "pipeline.json").write_text(json.dumps(key, sort_keys=True, indent=1))
        return SafePersistentDataset(list(items), transform=transform, cache_dir=folder)
    raise ValueError(f"data.dataset: {kind!r} is not one of plain, cache, persistent")


def make_dataset(
    df: pd.DataFrame,
    root: Path,
    data: DataConfig,
    text: TextConfig,
    graph: KnowledgeGraph,
    tokenizer: object,
    modality: str,
    split: str | None,
    train: bool,
) -> tuple[Dataset, list[str]]:
    """The dataset of one modality and split of a manifest, and the label names of its `labels` vector."""
    items = manifest_items(df, root, split, modality)
    if not items:
        raise ValueError(f"no {modality} samples in split {split!r} of the manifest under {root}")
    prefix, rest = build_transforms(modality, data, text, graph, tokenizer, train)
    params = {
        **prefix_params(data, text, modality),
        "tokenizer": getattr(tokenizer, "name_or_path", ""),
        "vocab": len(tokenizer) if hasattr(tokenizer, "__len__") else 0,
        "max_tokens": data.max_tokens,
    }
    cache_dir = Path(data.cache_dir) if data.cache_dir else Path(root) / ".pipeline_cache"
    names = next(t for t in prefix if isinstance(t, ReportTargetsd)).finding_names
    return build_dataset(items, prefix, rest, data.dataset, cache_dir, params), names
