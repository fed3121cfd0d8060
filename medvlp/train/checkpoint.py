"""Checkpoints that resume exactly and never execute pickled code.

A checkpoint is a folder `step-00001234/` under the run's checkpoint root:
  model.safetensors, ema.safetensors  weights (safetensors: tensors only)
  state.pt                            optimizer, grad scaler, sampler position, RNG states: tensors and plain
                                      containers only, read back with torch.load(weights_only=True)
  meta.json                           step, metrics, resolved config, code version
It is written into a temporary folder and renamed into place, so a kill at any moment leaves either the old or
the new checkpoint, never half of one. `latest` and `best` are small pointer files, replaced atomically too.
"""

from __future__ import annotations

import json
import os
import pickle
import random
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from torch import nn

from medvlp.models.weights import UnsafeCheckpointError

STEP_PREFIX = "step-"


def code_version() -> str:
    """The package version and, in a git checkout, the commit (with '+dirty' for uncommitted changes)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ver = version("medvlp")
    except PackageNotFoundError:
        ver = "unknown"
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return f"{ver}+{commit}{'.dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return ver


def rng_state() -> dict[str, Any]:
    """Every RNG the loop touches, as tensors and plain values (weights_only-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": [list(v) if isinstance(v, tuple) else v for v in random.getstate()],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_pointer(root: Path, name: str, target: str) -> None:
    tmp = root / f".{name}.tmp"
    tmp.write_text(target + "\n")
    os.replace(tmp, root / name)


def step_dirs(root: Path) -> list[Path]:
    """Complete checkpoints under root, oldest first (temporary folders are never listed)."""
    return sorted(p for p in Path(root).glob(f"{STEP_PREFIX}*") if p.is_dir() and (p / "meta.json").is_file())


def save_checkpoint(
    root: Path,
    step: int,
    model: nn.Module,
    *,
    ema: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    extra: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    config: Mapping[str, Any] | None = None,
    keep_last: int = 3,
    best_metric: str | None = None,
    higher_is_better: bool = True,
) -> Path:
    """Write checkpoint `step` atomically, move the `latest` (and maybe `best`) pointer, prune old ones."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"{STEP_PREFIX}{step:08d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    if ema is not None:
        save_model(ema, str(tmp / "ema.safetensors"))
    state = {
        "step": step,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(),
        "extra": dict(extra or {}),
    }
    torch.save(state, tmp / "state.pt")
    meta = {"step": step, "metrics": dict(metrics or {}), "config": dict(config or {}), "code_version": code_version()}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1, sort_keys=True, default=str))
    for f in tmp.iterdir():  # make the files durable before the rename publishes them
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    _write_pointer(root, "latest", name)
    if best_metric is not None and metrics and best_metric in metrics:
        _update_best(root, name, best_metric, float(metrics[best_metric]), higher_is_better)
    _prune(root, keep_last)
    return final


def _update_best(root: Path, name: str, metric: str, value: float, higher: bool) -> None:
    best = read_pointer(root, "best")
    if best is not None:
        old = json.loads((best / "meta.json").read_text())["metrics"].get(metric)
        if old is not None and (value <= old if higher else value >= old):
            return
    _write_pointer(root, "best", name)


def _prune(root: Path, keep_last: int) -> None:
    keep = {p.name for p in step_dirs(root)[-max(1, keep_last) :]}
    best = read_pointer(root, "best")
    if best is not None:
        keep.add(best.name)
    for p in step_dirs(root):
        if p.name not in keep:
            shutil.rmtree(p, ignore_errors=True)


def read_pointer(root: Path, name: str = "latest") -> Path | None:
    """The checkpoint folder a pointer file names, or None when there is none yet."""
    ptr = Path(root) / name
    if not ptr.is_file():
        return None
    target = (Path(root) / ptr.read_text().strip()).resolve()
    if not target.is_relative_to(Path(root).resolve()) or not (target / "meta.json").is_file():
        raise ValueError(f"{ptr}: points at {target}, which is not a checkpoint inside {root}")
    return target


def load_checkpoint(
    path: Path,
    model: nn.Module,
    *,
    ema: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    scaler: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Load a checkpoint folder (or a root with a `latest` pointer) into the given objects; return its state.

    Never unpickles code: weights come from safetensors, the rest through torch.load(weights_only=True), and a
    file holding anything else raises UnsafeCheckpointError.
    """
    path = Path(path)
    if not (path / "meta.json").is_file():
        pointed = read_pointer(path)
        if pointed is None:
            raise FileNotFoundError(f"no checkpoint in {path} (expected {STEP_PREFIX}*/ folders and a 'latest' file)")
        path = pointed
    load_model(model, str(path / "model.safetensors"))
    if ema is not None and (path / "ema.safetensors").is_file():
        load_model(ema, str(path / "ema.safetensors"))
    try:
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"refusing {path / 'state.pt'}: it holds pickled Python objects, not only tensors and plain values"
        ) from exc
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        set_rng_state(state["rng"])
    state["meta"] = json.loads((path / "meta.json").read_text())
    state["path"] = str(path)
    return state
