"""Data pipeline throughput: Dataset vs CacheDataset vs PersistentDataset, CPU-worker vs on-device augmentation.

    python benchmarks/bench_pipeline.py [--out runs/bench/pipeline] [--batches 24]

Builds a phantom dataset (synth + ingest), then measures each configuration in its own process (so peak RSS is
its own): batches/s over a steady-state epoch (after one warm-up epoch that fills caches) with 2 loader workers,
including the device stage. Also: a tiny-model training step at the same batch (the project's tiny-cxr-resnet /
tiny-ct-slicepool with the CLIP loss and AdamW, median of 10 steps) for the ">= 3x" claim; the peak memory of a
batch of 4 CT volumes at 256x256x128; and, where CUDA is present, the device stage on CPU vs GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from measure import run_measured

BATCH = 8
CONFIGS = [
    ("cxr", "plain", "device"),
    ("cxr", "cache", "device"),
    ("cxr", "persistent", "device"),
    ("cxr", "cache", "cpu"),
    ("ct", "plain", "device"),
    ("ct", "cache", "device"),
    ("ct", "persistent", "device"),
    ("ct", "cache", "cpu"),
]
DATA = [
    "data.cxr_size=224",
    "data.ct_size=[128, 128]",
    "data.ct_max_depth=64",
    "data.max_tokens=96",
    f"data.batch_size={BATCH}",
    "text.laterality_swap=0.5",
    "text.synonym_swap=0.2",
]


def _setup(out: Path) -> None:
    """Phantom archive -> ingested dataset -> tokenizer (once)."""
    from medvlp.config import load_config
    from medvlp.data.ingest import run_ingest
    from medvlp.data.manifest import read_manifest
    from medvlp.data.synthetic.archive import generate_archive
    from medvlp.text.tokenizer import train_tokenizer

    if (out / "dataset/manifest.parquet").exists():
        return
    generate_archive(
        load_config(
            [],
            ["synth.n_cxr=64", "synth.n_ct=12", "synth.lateral_fraction=0", "synth.cxr_size=[448, 640]", "run.seed=31"],
        ),
        out / "phantom",
    )
    run_ingest(
        out / "phantom/archive",
        [out / "phantom/reports/reports.csv", out / "phantom/reports/text"],
        out / "dataset",
        load_config([], ["ingest.cxr_size=320"]),
        progress=False,
    )
    texts = list(read_manifest(out / "dataset/manifest.parquet")["report_text"])
    train_tokenizer(texts, out / "tokenizer", vocab_size=2000)


def _pipeline(out: Path, modality: str, kind: str, augment_on: str, extra: list[str]):
    from medvlp.config import load_config
    from medvlp.data.datasets import make_dataset
    from medvlp.data.loader import build_loader
    from medvlp.data.manifest import read_manifest
    from medvlp.data.transforms.gpu import DeviceAugment
    from medvlp.knowledge import load_graph
    from medvlp.text.tokenizer import load_tokenizer

    cfg = load_config(
        [], [*DATA, f"data.dataset={kind}", f"data.augment_on={augment_on}", f"data.cache_dir={out / 'pcache'}", *extra]
    )
    df = read_manifest(out / "dataset/manifest.parquet")
    ds, _ = make_dataset(
        df,
        out / "dataset",
        cfg.data,
        cfg.text,
        load_graph(),
        load_tokenizer(out / "tokenizer"),
        modality,
        None,
        train=True,
    )
    loader = build_loader(ds, cfg.data.batch_size, train=True, workers=2, seed=0)
    aug = DeviceAugment.from_data_config(cfg.data)
    return loader, aug, augment_on == "device"


def run_one(out: Path, modality: str, kind: str, augment_on: str, batches: int) -> dict:
    """Warm-up epoch, then time `batches` batches including the device stage (in this process)."""
    loader, aug, on_device = _pipeline(out, modality, kind, augment_on, [])
    for _ in loader:  # warm-up: fills CacheDataset / PersistentDataset
        pass
    n, start = 0, time.perf_counter()
    while n < batches:
        for batch in loader:
            batch = aug(batch, train=on_device) if on_device else batch
            n += 1
            if n >= batches:
                break
    return {"batches_per_s": n / (time.perf_counter() - start)}


def big_ct(out: Path) -> dict:
    """4 CT volumes at 256x256x128 through the pipeline (plain dataset, device stage on CPU)."""
    loader, aug, _ = _pipeline(
        out, "ct", "plain", "device", ["data.ct_size=[256, 256]", "data.ct_max_depth=128", "data.batch_size=4"]
    )
    start = time.perf_counter()
    batch = aug(next(iter(loader)))
    return {"seconds": time.perf_counter() - start, "shape": list(batch["image"].shape)}


def model_step(out: Path, modality: str) -> float:
    """Median seconds of a training step of the project's tiny model (CLIP loss, AdamW) on one pipeline batch."""
    from medvlp.losses import CompositeLoss
    from medvlp.models import create_model

    torch.set_num_threads(2)
    loader, aug, _ = _pipeline(out, modality, "plain", "device", [])
    batch = aug(next(iter(loader)))
    name = "tiny-cxr-resnet" if modality == "cxr" else "tiny-ct-slicepool"
    model = create_model(name, tokenizer=out / "tokenizer")
    loss_fn, opt = CompositeLoss({"clip": 1.0}), torch.optim.AdamW(model.parameters())
    times = []
    for _ in range(11):
        t = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(batch), batch)["loss"].backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return statistics.median(times[1:])


def device_ratio(out: Path) -> str:
    if not torch.cuda.is_available():
        return "no CUDA device: CPU-vs-GPU device-stage ratio not measured here"
    from medvlp.data.transforms.gpu import DeviceAugment, DeviceAugmentConfig

    rows = []
    for name, shape in (("2D", (32, 1, 224, 224)), ("3D", (8, 1, 64, 128, 128))):
        times = {}
        for dev in ("cpu", "cuda"):
            x = torch.rand(shape, device=dev)
            batch = {"image": x, "flip": torch.zeros(shape[0], dtype=torch.bool)}
            aug = DeviceAugment(DeviceAugmentConfig())
            aug(batch)
            if dev == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(5):
                aug(batch)
            if dev == "cuda":
                torch.cuda.synchronize()
            times[dev] = (time.perf_counter() - t) / 5
        rows.append(
            f"{name} batch {shape}: CPU {times['cpu'] * 1e3:.1f} ms, GPU {times['cuda'] * 1e3:.2f} ms, "
            f"ratio {times['cpu'] / times['cuda']:.0f}x (target >= 10x for 3D)"
        )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("runs/bench/pipeline"))
    ap.add_argument("--batches", type=int, default=24)
    ap.add_argument("--one", nargs=3, metavar=("MODALITY", "KIND", "AUGMENT_ON"))
    ap.add_argument("--big-ct", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("MEDVLP_DEID_SECRET", "benchmark-secret-0123456789")
    if args.one:
        print(json.dumps(run_one(args.out, *args.one, args.batches)))
        return
    if args.big_ct:
        print(json.dumps(big_ct(args.out)))
        return
    _setup(args.out)
    steps = {m: model_step(args.out, m) for m in ("cxr", "ct")}
    print(f"\nbatch {BATCH}; CXR 224x224, CT 64x128x128 (in-plane 128, depth <= 64); 2 loader workers\n")
    print("| modality | dataset | random transforms | batches/s | peak RSS (MB) | vs tiny step |")
    print("|---|---|---|---|---|---|")
    for modality, kind, augment_on in CONFIGS:
        shutil.rmtree(args.out / "pcache", ignore_errors=True)
        cmd = [
            sys.executable,
            __file__,
            "--out",
            str(args.out),
            "--batches",
            str(args.batches),
            "--one",
            modality,
            kind,
            augment_on,
        ]
        _, rss, stdout = run_measured(cmd)
        rate = json.loads(stdout.strip().splitlines()[-1])["batches_per_s"]
        where = "device stage (batched)" if augment_on == "device" else "CPU workers (per item)"
        print(f"| {modality} | {kind} | {where} | {rate:.1f} | {rss:.0f} | {rate * steps[modality]:.1f}x |")
    print(
        "\ntiny-model training step (tiny-cxr-resnet / tiny-ct-slicepool, CLIP, AdamW; median of 10): "
        f"CXR {steps['cxr']:.2f} s/batch "
        f"({1 / steps['cxr']:.1f} batches/s), CT {steps['ct']:.2f} s/batch ({1 / steps['ct']:.2f} batches/s); "
        f"'vs tiny step' = pipeline batches/s / step batches/s (claim: >= 3x)"
    )
    cmd = [sys.executable, __file__, "--out", str(args.out), "--big-ct"]
    seconds, rss, _ = run_measured(cmd)
    print(
        f"\n4 CT volumes at 256x256x128 (plain dataset, device stage on CPU): peak RSS {rss:.0f} MB, "
        f"{seconds:.1f} s for the process"
    )
    print(device_ratio(args.out))


if __name__ == "__main__":
    main()
