"""Load a pre-trained medvlp model for inference: weights, its resolved config, its tokenizer, the knowledge graph.

A run folder looks like `<run>/config.yaml`, `<run>/tokenizer/`, `<run>/checkpoints/step-*/` (see
medvlp/train/checkpoint.py). Any of the three can be named: the run folder or its checkpoints/ folder (the
`latest` checkpoint, or `best` when asked), or one step folder. The tokenizer is the run's own copy when there is
one, else the one the config names. Nothing pickled is executed: weights come from safetensors and the config from JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from medvlp.config import Config
from medvlp.config.loader import build
from medvlp.knowledge import KnowledgeGraph, load_graph
from medvlp.train.checkpoint import read_pointer


@dataclass
class Pretrained:
    """A model ready for inference (eval mode, on `device`) and everything needed to feed it."""

    model: Any
    tokenizer: Any
    cfg: Config
    graph: KnowledgeGraph
    checkpoint: Path
    device: torch.device

    @property
    def modality(self) -> str:
        return str(self.model.config.modality)


def find_checkpoint(path: Path | str, which: str = "latest") -> Path:
    """The step folder behind a run folder, a checkpoints/ folder, or a step folder itself."""
    path = Path(path)
    if (path / "meta.json").is_file():
        return path
    for root in (path, path / "checkpoints"):
        if root.is_dir():
            found = read_pointer(root, which) or (read_pointer(root) if which != "latest" else None)
            if found is not None:
                return found
    raise FileNotFoundError(
        f"no checkpoint at {path}: name a run folder (holding checkpoints/), its checkpoints/ folder, or a step folder"
    )


def checkpoint_config(path: Path | str, which: str = "latest") -> Config:
    """The resolved config a checkpoint was trained with (from its meta.json; no weights are read)."""
    meta = json.loads((find_checkpoint(path, which) / "meta.json").read_text())
    return build(Config, meta.get("config") or {})


def load_pretrained(
    path: Path | str, device: str | torch.device = "cpu", which: str = "latest", ema: bool = False
) -> Pretrained:
    """Rebuild the model of a checkpoint from its resolved config and load its weights (EMA ones when `ema`)."""
    from safetensors.torch import load_model

    from medvlp.models import create_model, tokenize_entities
    from medvlp.text.tokenizer import load_tokenizer

    step = find_checkpoint(path, which)
    cfg = checkpoint_config(step)
    run = step.parent.parent
    own = run / "tokenizer"  # the run's own copy wins: a configured path may not exist where the model is used
    tokenizer = load_tokenizer(own if own.is_dir() or not cfg.data.tokenizer else cfg.data.tokenizer)
    graph = load_graph(Path(cfg.text.knowledge_dir) if cfg.text.knowledge_dir else None)
    model = create_model(cfg.model.name, overrides=list(cfg.model.overrides), tokenizer=tokenizer)
    weights = step / ("ema.safetensors" if ema else "model.safetensors")
    if not weights.is_file():
        raise FileNotFoundError(f"{weights} is missing" + (" (the run kept no EMA: train.ema_decay=0)" if ema else ""))
    load_model(model, str(weights))
    if getattr(model, "streams", None) is not None:  # entity buffers are not part of the checkpoint
        model.set_entities(*tokenize_entities(graph, tokenizer))
    device = torch.device(device)
    return Pretrained(model.to(device).eval(), tokenizer, cfg, graph, step, device)
