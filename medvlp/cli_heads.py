"""The `medvlp` stages that use a pre-trained model: zeroshot, evaluate, finetune (supervised head), demo.

Kept apart from medvlp/cli.py (the data stages) so each file stays short; cli.build_parser calls add_stages.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def _cmd_zeroshot(args: argparse.Namespace) -> int:
    from medvlp.heads.pretrained import load_pretrained
    from medvlp.heads.screen import screen

    try:
        pre = load_pretrained(args.checkpoint, which=args.which)
        table = screen(pre, args.inputs, args.out, args.findings, args.thresholds)
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"medvlp zeroshot: {exc}", file=sys.stderr)
        return 2
    flagged = table[[c for c in table.columns if c.startswith("flag_")]].sum()
    print(f"screened {len(table)} {pre.modality} images -> {args.out}")
    print("flagged: " + ", ".join(f"{c.removeprefix('flag_')} {n}" for c, n in flagged.items()))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import pandas as pd

    from medvlp.eval.evaluate import evaluate

    labels = None
    try:
        if args.labels is not None:
            labels = pd.read_csv(args.labels, dtype={"sample_id": str}).set_index("sample_id")
        elif args.phantom is not None:
            from medvlp.data.manifest import read_manifest
            from medvlp.data.synthetic.truth import truth_labels
            from medvlp.heads.pretrained import checkpoint_config

            modality = checkpoint_config(args.checkpoint).train.modality
            labels = truth_labels(args.phantom, read_manifest(args.dataset / "manifest.parquet"), modality)
        result = evaluate(
            args.checkpoint, args.dataset, labels, args.baseline, args.split, args.n_boot, args.out, progress=True
        )
    except (FileNotFoundError, KeyError, ValueError) as exc:
        print(f"medvlp evaluate: {exc}", file=sys.stderr)
        return 2
    print(result.summary())
    if result.plots:
        print("ROC curves: " + ", ".join(map(str, result.plots)))
    return 0


def _cmd_finetune(args: argparse.Namespace) -> int:
    from medvlp.config import ConfigError, load_config
    from medvlp.eval.baseline import train_baseline
    from medvlp.knowledge import load_graph
    from medvlp.text.tokenizer import load_tokenizer

    try:
        cfg = load_config([args.config], list(args.overrides))
    except ConfigError as exc:
        print(f"medvlp finetune: config error: {exc}", file=sys.stderr)
        return 2
    if not cfg.train.dataset or not cfg.data.tokenizer:
        print("medvlp finetune: set train.dataset and data.tokenizer (a run's tokenizer/ folder)", file=sys.stderr)
        return 2
    graph = load_graph(Path(cfg.text.knowledge_dir) if cfg.text.knowledge_dir else None)
    _, names = train_baseline(cfg, graph, load_tokenizer(cfg.data.tokenizer), Path(cfg.train.out))
    print(f"supervised {cfg.model.name} head over {len(names)} findings -> {cfg.train.out}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from medvlp.demo import run_demo

    if args.out.exists() and any(args.out.iterdir()):
        if not args.fresh:
            print(f"medvlp demo: {args.out} is not empty; add --fresh to replace it", file=sys.stderr)
            return 2
        shutil.rmtree(args.out)
    modalities = tuple(m.strip() for m in args.modality.split(",") if m.strip())
    run_demo(args.out, list(args.overrides), modalities)
    return 0


def add_stages(sub: argparse._SubParsersAction, stages: dict[str, str]) -> None:
    """Register zeroshot, evaluate, finetune and demo on the `medvlp` subparsers."""
    zs = sub.add_parser("zeroshot", help=stages["zeroshot"], description=stages["zeroshot"])
    zs.add_argument("checkpoint", type=Path, help="run folder, its checkpoints/ folder, or a step folder")
    zs.add_argument("inputs", type=Path, nargs="+", help="DICOM files/folders, NIfTI/PNG files, or a dataset folder")
    zs.add_argument("--out", type=Path, default=Path("zeroshot.csv"), help="CSV of probabilities and flags")
    zs.add_argument("--findings", default=None, help="label set or comma-separated findings (default: the run's)")
    zs.add_argument("--thresholds", type=Path, default=None, help="thresholds JSON written by `medvlp evaluate`")
    zs.add_argument("--which", choices=("latest", "best"), default="latest", help="checkpoint of a run folder")
    zs.set_defaults(func=_cmd_zeroshot)
    ev = sub.add_parser("evaluate", help=stages["evaluate"], description=stages["evaluate"])
    ev.add_argument("checkpoint", type=Path, help="run folder, its checkpoints/ folder, or a step folder")
    ev.add_argument("dataset", type=Path, help="ingested dataset folder (holds manifest.parquet)")
    group = ev.add_mutually_exclusive_group()
    group.add_argument("--labels", type=Path, default=None, help="CSV: sample_id + a 0/1 column per finding")
    group.add_argument("--phantom", type=Path, default=None, help="phantom folder: score against its drawn truth")
    ev.add_argument("--baseline", type=Path, default=None, help="a `medvlp finetune` folder to print beside")
    ev.add_argument("--split", default="test", help="split to score (thresholds come from 'val')")
    ev.add_argument("--n-boot", type=int, default=1000, help="patient bootstrap replicates for the CIs")
    ev.add_argument("--out", type=Path, default=None, help="folder for ROC PNGs and calibrated thresholds")
    ev.set_defaults(func=_cmd_evaluate)
    ft = sub.add_parser("finetune", help=stages["finetune"], description=stages["finetune"])
    ft.add_argument("config", type=Path, help="experiment YAML (the model's image tower is trained with BCE)")
    ft.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides, applied last")
    ft.set_defaults(func=_cmd_finetune)
    demo = sub.add_parser("demo", help=stages["demo"], description=stages["demo"])
    demo.add_argument("--out", type=Path, default=Path("runs/demo"), help="demo folder (default runs/demo)")
    demo.add_argument("--fresh", action="store_true", help="replace --out when it is not empty")
    demo.add_argument("--modality", default="cxr,ct", help="cxr, ct or both (default)")
    demo.add_argument("overrides", nargs="*", metavar="section.key=value", help="overrides for every demo config")
    demo.set_defaults(func=_cmd_demo)
