"""Memory of the slice-pooling CT tower on a 128-slice phantom volume: chunking bounds it.

    python benchmarks/bench_models.py [--out runs/bench/models]

The ct-slicepool-resnet18 image tower (timm ResNet-18 over slices, gated-attention pooling) on a phantom CT
volume of 128 slices at 128x128, batch 1, on the CPU: each configuration runs in its own process and the table
gives its peak RSS and time, side by side: inference (no_grad) and a training step (forward + backward), with
slice_chunk 128 (no chunking), 32 and 8, and with activation checkpointing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import run_measured

SLICES, SIZE = 128, 128
RUNS = [
    ("inference", 128, False),
    ("inference", 32, False),
    ("inference", 8, False),
    ("train step", 128, False),
    ("train step", 32, False),
    ("train step", 8, True),
]


def _volume():
    """A phantom CT (synth -> render) resampled to [1, 1, 128, 128, 128] in the lung window, as the pipeline makes."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    from medvlp.data.synthetic.ct_render import render_ct, sample_ct_geometry
    from medvlp.data.synthetic.findings import sample_ct_findings

    rng = np.random.default_rng(3)
    geom = sample_ct_geometry(rng, (256,), (2.5, 2.5), (320.0, 320.0))
    hu = torch.from_numpy(render_ct(rng, sample_ct_findings(rng), geom).hu.astype("float32"))  # [D, H, W]
    vol = F.interpolate(hu[None, None], size=(SLICES, SIZE, SIZE), mode="trilinear", align_corners=False)
    return ((vol + 1350) / 1500).clamp(0, 1)  # [1, 1, D, H, W]


def run_one(mode: str, chunk: int, ckpt: bool) -> dict:
    import torch

    from medvlp.models import create_image_tower, load_model_config

    torch.set_num_threads(2)
    cfg = load_model_config(
        "ct-slicepool-resnet18",
        [
            f"image.slice_chunk={chunk}",
            f"image.checkpoint={str(ckpt).lower()}",
            f"image.input_size=[{SLICES}, {SIZE}, {SIZE}]",
        ],
    )
    tower = create_image_tower(cfg)
    x, mask = _volume(), torch.ones(1, SLICES, dtype=torch.bool)
    start = time.perf_counter()
    if mode == "inference":
        tower.eval()
        with torch.no_grad():
            tower.forward_head(tower.forward_features(x, mask))
    else:
        tower.train()
        tower.forward_head(tower.forward_features(x, mask)).square().mean().backward()
    return {"seconds": time.perf_counter() - start}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", nargs=3)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.one[2] == "1")))
        return
    print(
        f"\nct-slicepool-resnet18 image tower, 1 phantom volume of {SLICES} slices at {SIZE}x{SIZE}, CPU, 2 threads\n"
    )
    print("| pass | slice_chunk | checkpointing | peak RSS (MB) | seconds |")
    print("|---|---|---|---|---|")
    for mode, chunk, ckpt in RUNS:
        _, rss, out = run_measured([sys.executable, __file__, "--one", mode, str(chunk), "1" if ckpt else "0"])
        seconds = json.loads(out.strip().splitlines()[-1])["seconds"]
        print(f"| {mode} | {chunk} | {'yes' if ckpt else 'no'} | {rss:.0f} | {seconds:.1f} |")


if __name__ == "__main__":
    main()
