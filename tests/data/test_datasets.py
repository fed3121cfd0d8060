"""Datasets over an ingested phantom: the batch contract, cached == uncached, same seed -> same batches."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from medvlp.config import load_config
from medvlp.data.collate import CONTRACT_2D, CONTRACT_3D
from medvlp.data.datasets import make_dataset
from medvlp.data.loader import build_loader
from medvlp.data.manifest import read_manifest
from medvlp.data.transforms.gpu import DeviceAugment, DeviceAugmentConfig
from medvlp.knowledge import load_graph

CFG = [
    "data.cxr_size=64",
    "data.ct_size=[48, 48]",
    "data.ct_max_depth=24",
    "data.max_tokens=48",
    "text.laterality_swap=0.5",
    "text.synonym_swap=0.3",
    "text.knowledge_append=0.5",
]


@pytest.fixture(scope="module")
def graph():
    return load_graph()


def _batches(
    tiny_dataset: Path,
    tokenizer,
    graph,
    modality: str,
    kind: str,
    train: bool,
    seed: int = 0,
    extra: tuple[str, ...] = (),
    tmp: Path | None = None,
) -> list[dict]:
    cfg = load_config([], [*CFG, f"data.dataset={kind}", *extra, *([f"data.cache_dir={tmp}"] if tmp else [])])
    df = read_manifest(tiny_dataset / "manifest.parquet")
    ds, _ = make_dataset(df, tiny_dataset, cfg.data, cfg.text, graph, tokenizer, modality, None, train)
    loader = build_loader(ds, batch_size=3, train=train, seed=seed, drop_last=False)
    if hasattr(ds, "set_random_state"):
        ds.set_random_state(seed)
    ds.transform.set_random_state(seed)
    return list(loader)


@pytest.mark.parametrize(("modality", "keys", "ndim"), [("cxr", CONTRACT_2D, 4), ("ct", CONTRACT_3D, 5)])
def test_batch_contract(tiny_dataset, tiny_tokenizer, graph, modality, keys, ndim):
    batch = _batches(tiny_dataset, tiny_tokenizer, graph, modality, "plain", train=True)[0]
    assert set(batch) == set(keys)
    b = batch["image"].shape[0]
    assert batch["image"].ndim == ndim and batch["image"].dtype == torch.float32
    assert batch["text_ids"].shape == (b, 48) and batch["text_ids"].dtype == torch.long
    assert batch["text_mask"].dtype == torch.bool and batch["labels"].dtype == torch.float32
    assert batch["entity_ids"].dtype == torch.long and batch["entity_ids"].min() >= -1
    assert isinstance(batch["sample_id"], list) and len(batch["sample_id"]) == b
    if modality == "ct":
        assert batch["image"].shape[1:] == (1, batch["depth_mask"].shape[1], 48, 48)
        assert batch["depth_mask"].dtype == torch.bool and batch["depth_mask"].any(1).all()
    else:
        assert batch["image"].shape[1:] == (1, 64, 64)
    labels = batch["labels"]
    assert torch.isnan(labels).any() and set(labels[~torch.isnan(labels)].tolist()) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("kind", ["cache", "persistent"])
def test_cached_equals_uncached(tiny_dataset, tiny_tokenizer, graph, kind, tmp_path):
    for modality in ("cxr", "ct"):
        plain = _batches(tiny_dataset, tiny_tokenizer, graph, modality, "plain", train=False)
        cached = _batches(tiny_dataset, tiny_tokenizer, graph, modality, kind, train=False, tmp=tmp_path)
        again = _batches(tiny_dataset, tiny_tokenizer, graph, modality, kind, train=False, tmp=tmp_path)
        for a, b, c in zip(plain, cached, again, strict=True):
            for key in ("image", "text_ids", "entity_ids"):
                assert torch.equal(a[key], b[key]) and torch.equal(a[key], c[key]), key
            assert torch.equal(torch.nan_to_num(a["labels"], 9), torch.nan_to_num(b["labels"], 9))
            assert a["sample_id"] == b["sample_id"]


def test_persistent_cache_is_keyed_by_pipeline_and_holds_no_pickle(tiny_dataset, tiny_tokenizer, graph, tmp_path):
    _batches(tiny_dataset, tiny_tokenizer, graph, "cxr", "persistent", train=False, tmp=tmp_path)
    _batches(
        tiny_dataset, tiny_tokenizer, graph, "cxr", "persistent", train=False, tmp=tmp_path, extra=("data.cxr_size=32",)
    )
    folders = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert len(folders) == 2  # a changed pipeline gets its own cache
    files = [p for f in folders for p in f.iterdir()]
    assert all(p.suffix in (".safetensors", ".json") for p in files)
    assert not any(p.read_bytes()[:2] == b"\x80\x02" for p in files)  # no pickle stream anywhere


def test_persistent_cache_training_then_evaluation_on_the_same_samples(tiny_dataset, tiny_tokenizer, graph, tmp_path):
    # Training caches up to its text augmentation (before tokenization); evaluation of the same rows (a linear probe
    # on the training split) must not read those items as if they were its own, fully tokenized ones.
    trained = _batches(tiny_dataset, tiny_tokenizer, graph, "cxr", "persistent", train=True, tmp=tmp_path)
    evaluated = _batches(tiny_dataset, tiny_tokenizer, graph, "cxr", "persistent", train=False, tmp=tmp_path)
    plain = _batches(tiny_dataset, tiny_tokenizer, graph, "cxr", "plain", train=False)
    assert sum(len(b["sample_id"]) for b in trained) == sum(len(b["sample_id"]) for b in evaluated)
    for a, b in zip(plain, evaluated, strict=True):
        assert torch.equal(a["text_ids"], b["text_ids"]) and torch.equal(a["image"], b["image"])
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_same_seed_same_batches(tiny_dataset, tiny_tokenizer, graph):
    for modality in ("cxr", "ct"):
        a = _batches(tiny_dataset, tiny_tokenizer, graph, modality, "cache", train=True, seed=3)
        b = _batches(tiny_dataset, tiny_tokenizer, graph, modality, "cache", train=True, seed=3)
        aug_a, aug_b = DeviceAugment(DeviceAugmentConfig(), seed=3), DeviceAugment(DeviceAugmentConfig(), seed=3)
        for x, y in zip(a, b, strict=True):
            assert x["sample_id"] == y["sample_id"] and torch.equal(x["text_ids"], y["text_ids"])
            assert torch.equal(aug_a(x)["image"], aug_b(y)["image"])


def test_flips_only_with_swapped_reports(tiny_dataset, tiny_tokenizer, graph):
    batches = _batches(
        tiny_dataset,
        tiny_tokenizer,
        graph,
        "cxr",
        "plain",
        train=True,
        seed=1,
        extra=("text.laterality_swap=1.0", "text.synonym_swap=0", "text.knowledge_append=0"),
    )
    evals = _batches(tiny_dataset, tiny_tokenizer, graph, "cxr", "plain", train=False)
    assert all(b["flip"].all() for b in batches) and not any(b["flip"].any() for b in evals)
    swapped = [tiny_tokenizer.decode(t, skip_special_tokens=True) for b in batches for t in b["text_ids"]]
    plain = [tiny_tokenizer.decode(t, skip_special_tokens=True) for b in evals for t in b["text_ids"]]
    by_id = dict(zip([s for b in evals for s in b["sample_id"]], plain, strict=True))
    pairs = list(zip([s for b in batches for s in b["sample_id"]], swapped, strict=True))
    lateral = [(by_id[s], t) for s, t in pairs if "left" in by_id[s] or "right" in by_id[s]]
    assert lateral and all(a != b for a, b in lateral)
    assert math.isfinite(float(batches[0]["image"].mean()))
