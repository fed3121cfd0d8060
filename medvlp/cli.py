"""The `medvlp` command: one subcommand per stage, thin over library calls.

Heavy libraries (torch, monai, pydicom) are imported inside the stage that needs them, so `medvlp --help`
answers at once.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from medvlp.config import ConfigError, load_config

# Stages in pipeline order; the value is the issue that builds a stage not built yet.
STAGES: dict[str, str] = {
    "synth": "generate the phantom hospital archive (DICOM + reports + ground truth)",
    "ingest": "index, select, decode, de-identify and cache a DICOM archive into a manifest",
    "label": "label reports (CSV, JSONL or a folder of .txt) per finding: 1, 0, -1 uncertain, blank",
    "pretrain": "pre-train a report-image alignment model",
    "zeroshot": "zero-shot screening of DICOM/NIfTI inputs with a pretrained model",
    "finetune": "train a supervised classification head (BCE on report labels): the baseline beside zero-shot",
    "evaluate": "evaluate a checkpoint on a manifest (AUROC with CIs, retrieval)",
    "generate": "generate reports with a trained report-generation head",
    "demo": "synth -> ingest -> pretrain -> zero-shot and supervised evaluation, end to end",
}
OVERRIDE = re.compile(r"^[A-Za-z_][\w]*\.[\w.]+=")
NOT_BUILT: dict[str, str] = {"generate": "a later issue"}


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        action="append",
        type=Path,
        default=[],
        metavar="YAML",
        help="config file (repeatable; later files win)",
    )
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides, applied last")


def _cmd_synth(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    for flag, key in (
        ("n_cxr", "synth.n_cxr"),
        ("n_ct", "synth.n_ct"),
        ("seed", "run.seed"),
        ("workers", "run.workers"),
    ):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    if args.broken:
        overrides.append("synth.broken_files=true")
    cfg = load_config(args.config, overrides)
    from medvlp.data.synthetic.archive import generate_archive

    summary = generate_archive(cfg, args.out)
    print(summary.table())
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    overrides = list(args.overrides)
    if args.workers is not None:
        overrides.append(f"run.workers={args.workers}")
    if args.modality:
        overrides.append(f"ingest.modalities=[{args.modality}]")
    cfg = load_config(args.config, overrides)
    from medvlp.data.adapters import AdapterError, ingest_folder
    from medvlp.data.ingest import IngestError, run_ingest
    from medvlp.text.sources import ReportSourceError

    try:
        if args.layout == "dicom":
            print(run_ingest(args.archive, args.reports, args.out, cfg, resume=args.resume).table())
        elif len(args.reports) != 1:
            raise AdapterError(f"--layout {args.layout} takes exactly one --reports CSV naming each file")
        else:
            counts = ingest_folder(args.layout, args.archive, args.reports[0], args.out, cfg)
            print(f"manifest rows {counts['rows']}, skipped files {counts['skipped']} (see skipped.jsonl)")
    except (IngestError, ReportSourceError, AdapterError) as exc:
        print(f"medvlp ingest: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_pretrain(args: argparse.Namespace) -> int:
    from medvlp.train.main import run

    return run(args)


def _cmd_label(args: argparse.Namespace) -> int:
    overrides = list(args.overrides) + ([f"text.label_set={args.findings}"] if args.findings else [])
    cfg = load_config(args.config, overrides)
    from medvlp.knowledge import load_graph
    from medvlp.text.labeler import label_reports_csv
    from medvlp.text.sources import ReportSourceError

    findings: str | list[str] = cfg.text.label_set
    if "," in cfg.text.label_set:
        findings = [f.strip() for f in cfg.text.label_set.split(",") if f.strip()]
    out = args.out or args.reports.with_name(args.reports.stem + "_labels.csv")
    try:
        graph = load_graph(Path(cfg.text.knowledge_dir) if cfg.text.knowledge_dir else None)
        table = label_reports_csv(
            args.reports, out, findings, text_column=args.text_column, key_column=args.key_column, graph=graph
        )
    except (ReportSourceError, KeyError, ValueError, FileNotFoundError) as exc:
        print(f"medvlp label: {exc}", file=sys.stderr)
        return 2
    print(f"labelled {len(table)} reports -> {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: global help lists every stage."""
    parser = argparse.ArgumentParser(
        prog="medvlp",
        description="Radiology vision-language foundation models from DICOM archives and reports.",
        epilog="Run `medvlp STAGE --help` for a stage's options. Config keys: see configs/base/default.yaml.",
    )
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", title="stages")
    synth = sub.add_parser("synth", help=STAGES["synth"], description=STAGES["synth"])
    synth.add_argument("--out", type=Path, required=True, help="output folder (created)")
    synth.add_argument("--n-cxr", type=int, default=None, help="chest X-ray studies (synth.n_cxr)")
    synth.add_argument("--n-ct", type=int, default=None, help="CT studies (synth.n_ct)")
    synth.add_argument("--seed", type=int, default=None, help="seed (run.seed)")
    synth.add_argument("--workers", type=int, default=None, help="worker processes (run.workers)")
    synth.add_argument("--broken", action="store_true", help="add deliberately broken files (synth.broken_files)")
    _add_config_args(synth)
    synth.set_defaults(func=_cmd_synth)
    ingest = sub.add_parser("ingest", help=STAGES["ingest"], description=STAGES["ingest"])
    ingest.add_argument("archive", type=Path, help="root folder of the DICOM export")
    ingest.add_argument(
        "--reports",
        type=Path,
        action="append",
        default=[],
        metavar="TABLE",
        help="report CSV, JSONL or folder of <accession>.txt files (repeatable)",
    )
    ingest.add_argument("--out", type=Path, required=True, help="dataset folder (manifest, cache, quarantine)")
    ingest.add_argument("--workers", type=int, default=None, help="worker processes (run.workers)")
    ingest.add_argument("--modality", default=None, help="comma-separated subset of cxr,ct (ingest.modalities)")
    ingest.add_argument("--resume", action="store_true", help="continue an interrupted ingest in --out")
    ingest.add_argument(
        "--layout",
        choices=("dicom", "nifti", "images"),
        default="dicom",
        help="dicom (default); nifti: CT volumes + CSV (CT-RATE-like); images: PNG/JPEG + CSV",
    )
    _add_config_args(ingest)
    ingest.set_defaults(func=_cmd_ingest)
    pre = sub.add_parser("pretrain", help=STAGES["pretrain"], description=STAGES["pretrain"])
    from medvlp.train.main import add_arguments as pretrain_arguments

    pretrain_arguments(pre)
    pre.set_defaults(func=_cmd_pretrain)
    label = sub.add_parser("label", help=STAGES["label"], description=STAGES["label"])
    label.add_argument("reports", type=Path, help="REPORTS.csv (or .jsonl, or a folder of <accession>.txt)")
    label.add_argument("--out", type=Path, default=None, help="labels CSV (default: <reports>_labels.csv)")
    label.add_argument("--findings", default=None, help="label set or comma-separated entity ids (text.label_set)")
    label.add_argument("--text-column", default=None, help="report text column (detected when omitted)")
    label.add_argument("--key-column", default=None, help="key column such as AccessionNumber (detected)")
    _add_config_args(label)
    label.set_defaults(func=_cmd_label)
    from medvlp.cli_heads import add_stages

    add_stages(sub, STAGES)
    for name, text in STAGES.items():
        if name in NOT_BUILT:
            stub = sub.add_parser(name, help=f"{text} [not built yet]", description=text, add_help=False)
            stub.add_argument("rest", nargs=argparse.REMAINDER)
            stub.set_defaults(func=_not_built(name))
    return parser


def _not_built(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        print(f"medvlp {name}: not built yet (planned in {NOT_BUILT[name]})", file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `medvlp` console script; returns the exit code (2 for usage and config errors)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse binds positionals before options; overrides given after options arrive here
    stray = [a for a in extra if not OVERRIDE.match(a)]
    if stray or (extra and not hasattr(args, "overrides")):
        parser.error(f"unrecognized arguments: {' '.join(stray or extra)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    if args.stage is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"medvlp {args.stage}: config error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
