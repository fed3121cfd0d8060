"""The supervised baseline printed beside every zero-shot number ("A Reality Check of Vision-Language
Pre-training in Radiology": supervised training on fine-grained labels is a strong baseline).

The same image tower as the pre-trained model, trained from scratch with a linear head and BCE on the labeler's
labels of the same training split (1 positive; negative and not mentioned count as negative; uncertain is left
out), with the same pipeline, augmentation, optimizer, schedule and number of steps as the pre-training config.
Saved as safetensors + JSON (model config name, label names), like every medvlp weight file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from medvlp.config import Config, save_config
from medvlp.data.collate import collate_batch
from medvlp.data.datasets import make_dataset
from medvlp.data.loader import move_to
from medvlp.data.transforms.gpu import DeviceAugment
from medvlp.knowledge import KnowledgeGraph
from medvlp.losses.prompt import masked_bce
from medvlp.train.precision import Precision
from medvlp.train.sampling import EpochBatchSampler, SeededItems
from medvlp.train.schedule import apply_schedule, warmup_cosine

WEIGHTS, META = "baseline.safetensors", "baseline.json"


class Classifier(nn.Module):
    """An image tower + a linear head: image [B, C, (D,) H, W] -> logits [B, K]."""

    def __init__(self, tower: nn.Module, n_labels: int) -> None:
        super().__init__()
        self.tower = tower
        self.head = nn.Linear(tower.pooled_features, n_labels)

    def forward(self, image: torch.Tensor, depth_mask: torch.Tensor | None = None) -> torch.Tensor:
        feats = self.tower.forward_features(image, depth_mask)
        return self.head(self.tower.forward_head(feats))  # [B, K]


def _build(model_name: str, overrides: list[str], n_labels: int) -> Classifier:
    from medvlp.models.factory import create_image_tower, load_model_config

    return Classifier(create_image_tower(load_model_config(model_name, overrides)), n_labels)


def train_baseline(
    cfg: Config, graph: KnowledgeGraph, tokenizer: Any, out: Path, progress: bool = True
) -> tuple[Classifier, list[str]]:
    """Train the baseline of `cfg` (its model's image tower, its train split and schedule); save it in `out`."""
    from safetensors.torch import save_model

    from medvlp.data.manifest import read_manifest

    t, seed = cfg.train, cfg.run.seed
    root = Path(t.dataset)
    torch.manual_seed(seed)
    df = read_manifest(root / "manifest.parquet")
    ds, names = make_dataset(df, root, cfg.data, cfg.text, graph, tokenizer, t.modality, "train", train=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = _build(cfg.model.name, list(cfg.model.overrides), len(names)).to(device)
    precision = Precision(t.precision, device, model)
    precision.prepare_model(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    lr_table = warmup_cosine(t.steps, t.lr, min(t.warmup_steps, t.steps))
    augment = DeviceAugment.from_data_config(cfg.data, seed)
    sampler = EpochBatchSampler(len(ds), cfg.data.batch_size, seed, 0, 0, 0, 1)
    loader = DataLoader(SeededItems(ds, seed), batch_sampler=sampler, collate_fn=collate_batch, num_workers=0)
    batches, model = iter(loader), model.train()
    for step in tqdm(range(t.steps), desc="baseline", unit="step", disable=not progress, dynamic_ncols=True):
        batch = precision.prepare_batch(augment(move_to(next(batches), device), train=True))
        apply_schedule(optimizer, step, lr_table)
        with precision.autocast():
            logits = model(batch["image"], batch.get("depth_mask"))
        loss = masked_bce(logits.float(), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        optimizer.step()
    out.mkdir(parents=True, exist_ok=True)
    model = model.cpu()
    save_model(model, str(out / WEIGHTS))
    meta = {"model": cfg.model.name, "overrides": list(cfg.model.overrides), "names": names, "steps": t.steps}
    (out / META).write_text(json.dumps(meta, indent=1) + "\n")
    save_config(cfg, out / "config.yaml")
    return model.eval(), names


def load_baseline(folder: Path) -> tuple[Classifier, list[str]]:
    """A saved baseline (safetensors weights, JSON meta; nothing pickled)."""
    from safetensors.torch import load_model

    meta = json.loads((Path(folder) / META).read_text())
    model = _build(meta["model"], meta["overrides"], len(meta["names"]))
    load_model(model, str(Path(folder) / WEIGHTS))
    return model.eval(), list(meta["names"])


@torch.no_grad()
def predict(model: Classifier, loader: DataLoader, cfg: Config) -> tuple[list[str], np.ndarray]:
    """(sample ids, probabilities [N, K]) over a deterministic loader (see medvlp.eval.embed.split_loader)."""
    normalise, device = DeviceAugment.from_data_config(cfg.data), next(model.parameters()).device
    ids, probs = [], []
    for batch in loader:
        batch = normalise(move_to(batch, device), train=False)
        probs.append(torch.sigmoid(model(batch["image"], batch.get("depth_mask"))).cpu().numpy())
        ids += list(batch["sample_id"])
    return ids, np.concatenate(probs)
