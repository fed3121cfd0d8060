"""Training step time in fp32 vs bf16 (train.precision), side by side in one run.

    python benchmarks/bench_precision.py [--repeats 5] [--steps 6] [--threads 2]

One full training step of a VLP model as the loop runs it (forward under Precision.autocast, CompositeLoss with
soft-label CLIP in fp32, backward, clip, AdamW), on a random batch already in memory (no data loading), for the
tiny CXR model at 128x128 with batch 32 (the demo's) and the tiny 3D CT model at 48x80x80 with batch 16. Each
repeat times fp32 and bf16 alternately (AB, BA, ...) after one warm-up step; the table gives the median step time.
bf16 means what Precision("bf16") grants on this machine: on a CPU without native bf16, or for 3D convolutions on a
CPU, it falls back to fp32 and the table says so.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import torch

from medvlp.losses import CompositeLoss
from medvlp.models import create_model
from medvlp.train.precision import Precision
from medvlp.train.task import TrainingTask

CASES = {  # name: (model, overrides, image shape without batch, batch)
    "tiny-cxr-resnet 128px b32": ("tiny-cxr-resnet", [], (1, 128, 128), 32),
    "tiny-ct-resnet3d 48x80x80 b16": ("tiny-ct-resnet3d", ["image.input_size=[48, 80, 80]"], (1, 48, 80, 80), 16),
}


def _batch(shape: tuple[int, ...], b: int, vocab: int) -> dict[str, Any]:
    g = torch.Generator().manual_seed(0)
    batch: dict[str, Any] = {
        "image": torch.randn(b, *shape, generator=g),
        "text_ids": torch.randint(5, vocab, (b, 96), generator=g),
        "text_mask": torch.ones(b, 96, dtype=torch.bool),
        "labels": (torch.rand(b, 9, generator=g) < 0.2).float(),
    }
    if len(shape) == 4:
        batch["depth_mask"] = torch.ones(b, shape[1], dtype=torch.bool)
    return batch


def _runner(name: str, overrides: list[str], precision: str) -> tuple[Any, Precision]:
    torch.manual_seed(0)
    model = create_model(name, overrides=overrides)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prec = Precision(precision, torch.device("cpu"), model)
    prec.prepare_model(model)
    task = TrainingTask(model, CompositeLoss({"clip": 1.0}, {"clip": {"soft_labels": True}}))
    return task, prec


def _time(task: Any, prec: Precision, batch: dict[str, Any], steps: int) -> float:
    opt = torch.optim.AdamW(task.param_groups(0.05), lr=1e-4)
    batch = prec.prepare_batch(dict(batch))
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        with prec.autocast():
            losses = task(batch)
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(task.model.parameters(), 1.0)
        opt.step()
        float(losses["loss"].detach())  # waits for the step to finish
        if i:  # the first step is warm-up (oneDNN primitive creation)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, {args.threads} threads, CPU capability {capability}")
    print(f"{'case':32s} {'fp32 s/step':>12s} {'bf16 s/step':>12s} {'speed-up':>9s}  bf16 granted")
    for case, (name, overrides, shape, b) in CASES.items():
        runs = {p: _runner(name, overrides, p) for p in ("fp32", "bf16")}
        batch = _batch(shape, b, runs["fp32"][0].model.text_tower.vocab_size)
        results: dict[str, list[float]] = {"fp32": [], "bf16": []}
        for r in range(args.repeats):
            order = ("fp32", "bf16") if r % 2 == 0 else ("bf16", "fp32")
            for p in order:
                results[p].append(_time(*runs[p], batch, args.steps))
        fp32, bf16 = statistics.median(results["fp32"]), statistics.median(results["bf16"])
        granted = runs["bf16"][1].name
        print(f"{case:32s} {fp32:12.3f} {bf16:12.3f} {fp32 / bf16:8.2f}x  {granted}")


if __name__ == "__main__":
    main()
