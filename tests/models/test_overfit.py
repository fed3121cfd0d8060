"""A tiny 2D and a tiny 3D model each overfit 8 phantom image-report pairs to retrieval R@1 = 1.0.

The pairs go through the real pipeline (ingested phantom -> prefix -> collate -> device stage, no augmentation),
so this checks towers, projections, temperature and the CLIP loss learn together.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from medvlp.config import load_config
from medvlp.data.collate import collate_batch
from medvlp.data.datasets import make_dataset
from medvlp.data.manifest import read_manifest
from medvlp.data.transforms.gpu import DeviceAugment, DeviceAugmentConfig
from medvlp.knowledge import load_graph
from medvlp.losses import CompositeLoss
from medvlp.models import create_model

STEPS = 80
RECALIBRATE = 30  # no-grad passes that settle BatchNorm running statistics on the 8 pairs (precise BN)


def _eight_pairs(dataset: Path, tokenizer, modality: str) -> dict:
    cfg = load_config(
        [],
        [
            "data.cxr_size=64",
            "data.ct_size=[48, 48]",
            "data.ct_max_depth=8",
            "data.max_tokens=64",
            "data.dataset=plain",
        ],
    )
    df = read_manifest(dataset / "manifest.parquet")
    ds, _ = make_dataset(df, dataset, cfg.data, cfg.text, load_graph(), tokenizer, modality, None, train=False)
    items, seen = [], set()
    for i in range(len(ds)):
        item = ds[i]
        key = tuple(item["text_ids"].tolist())
        # distinct reports, and images that differ (two studies of one patient can share the cropped slices)
        if key not in seen and all((item["image"] - other["image"]).abs().mean() > 1e-3 for other in items):
            seen.add(key)
            items.append(item)
    if len(items) < 8:
        pytest.skip(f"only {len(items)} distinct {modality} reports in the tiny phantom")
    batch = collate_batch(items[:8])
    return DeviceAugment(DeviceAugmentConfig())(batch, train=False)


@pytest.mark.parametrize(("name", "modality"), [("tiny-cxr-resnet", "cxr"), ("tiny-ct-slicepool", "ct")])
def test_overfit_eight_pairs(tiny_dataset, tiny_tokenizer, name, modality):
    torch.manual_seed(0)
    batch = _eight_pairs(tiny_dataset, tiny_tokenizer, modality)
    # one chunk holds every slice of the batch, so BatchNorm's training statistics are the ones eval mode settles on
    overrides = ["image.slice_chunk=64"] if modality == "ct" else []
    model = create_model(name, tokenizer=tiny_tokenizer, overrides=overrides)
    loss_fn = CompositeLoss({"clip": 1.0})
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    model.train()
    for _ in range(STEPS):
        opt.zero_grad()
        loss_fn(model(batch), batch)["loss"].backward()
        opt.step()
    with torch.no_grad():
        for _ in range(RECALIBRATE):
            model(batch)
        model.eval()
        out = model(batch)
    sim = out.image.embeds @ out.text.embeds.T  # [8 images, 8 reports]
    r_at_1 = (sim.argmax(dim=1) == torch.arange(8)).float().mean().item()
    assert r_at_1 == 1.0, sim
