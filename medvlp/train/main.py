"""Entry point shared by `medvlp pretrain` and `python -m medvlp.train.main CONFIG [key=value ...]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, nargs="?", help="experiment YAML (configs/experiments/...)")
    parser.add_argument("--resume", action="store_true", help="continue the run in train.out from its last checkpoint")
    parser.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides, applied last")


def run(args: argparse.Namespace) -> int:
    from medvlp.config import ConfigError, load_config

    try:
        cfg = load_config([args.config] if args.config else [], list(args.overrides))
    except ConfigError as exc:
        print(f"medvlp pretrain: config error: {exc}", file=sys.stderr)
        return 2
    if not cfg.train.dataset:
        print("medvlp pretrain: train.dataset is empty; set it to an ingested dataset folder", file=sys.stderr)
        return 2
    from medvlp.train.loop import pretrain

    try:
        final = pretrain(cfg, resume=args.resume)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:
        print(f"medvlp pretrain: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # diverged: not a usage error, the run itself failed
        print(f"medvlp pretrain: {exc}", file=sys.stderr)
        return 1
    shown = {k: v for k, v in final.items() if "/zs_auroc/" not in k}  # per-finding AUROCs: history.jsonl, MLflow
    print(" ".join(f"{k}={v:.4g}" for k, v in shown.items()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medvlp.train.main", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
