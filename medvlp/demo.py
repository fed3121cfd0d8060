"""`medvlp demo`: the whole product on a phantom archive generated on the spot, in minutes on a laptop CPU.

synth (DICOM archive + reports + drawn truth) -> ingest (de-identified dataset, patient-level splits) -> pretrain a
tiny 2D (CXR) and a tiny 3D (CT) model -> the supervised baseline of each (same tower, BCE on the report labels)
-> zero-shot and supervised evaluation on held-out phantom patients against the drawn truth -> a printed table
and an MLflow run with the ROC curves. Settings: configs/experiments/demo*.yaml (any key can be overridden).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from medvlp.config import Config, load_config, save_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "experiments"
DEMO_CONFIGS = {"archive": "demo.yaml", "cxr": "demo_cxr.yaml", "ct": "demo_ct.yaml"}
# The phantom's patients are invented, so the demo keys their pseudonyms with a fixed secret of its own (never the
# user's): the patient-level splits follow the pseudonyms, so every machine holds out the same patients. Real
# archives get the private secret (ingest.secret_env / ingest.secret_file).
PHANTOM_SECRET = "medvlp-demo-phantom-secret: invented patients only, never for real data"


def _stage(name: str, clock: dict[str, float], start: float) -> float:
    now = time.perf_counter()
    clock[name] = now - start
    print(f"[demo] {name}: {clock[name]:.0f} s", flush=True)
    return now


def run_demo(
    out: Path, overrides: list[str] | None = None, modalities: tuple[str, ...] = ("cxr", "ct"), progress: bool = True
) -> dict[str, Any]:
    """Run the demo into `out` (emptied first is the caller's choice); returns timings and evaluations."""
    from medvlp.data.ingest import run_ingest
    from medvlp.data.manifest import read_manifest
    from medvlp.data.synthetic.archive import generate_archive
    from medvlp.data.synthetic.truth import truth_labels
    from medvlp.eval.baseline import train_baseline
    from medvlp.eval.evaluate import evaluate
    from medvlp.heads.pretrained import find_checkpoint
    from medvlp.knowledge import load_graph
    from medvlp.text.tokenizer import load_tokenizer
    from medvlp.train.loop import pretrain
    from medvlp.train.tracking import Tracker

    out, overrides = Path(out), list(overrides or [])
    clock: dict[str, float] = {}
    t0 = start = time.perf_counter()
    secret = out / "phantom" / "deid.secret"
    own = [f"ingest.secret_file={secret}", "ingest.secret_env=MEDVLP_DEMO_DEID_SECRET"]
    base = load_config([CONFIGS / DEMO_CONFIGS["archive"]], [*own, *overrides])
    print(f"[demo] phantom archive: {base.synth.n_cxr} CXR + {base.synth.n_ct} CT studies -> {out}", flush=True)
    generate_archive(base, out / "phantom")
    secret.write_text(PHANTOM_SECRET + "\n")
    start = _stage("synth", clock, start)
    reports = [out / "phantom/reports/reports.csv", out / "phantom/reports/text"]
    print(run_ingest(out / "phantom/archive", reports, out / "dataset", base, progress=progress).table(), flush=True)
    start = _stage("ingest", clock, start)
    df = read_manifest(out / "dataset/manifest.parquet")
    graph = load_graph(Path(base.text.knowledge_dir) if base.text.knowledge_dir else None)
    tracker = Tracker(out, experiment="medvlp-demo", run_name="demo")
    results = {}
    for modality in modalities:
        cfg = _modality_config(modality, out, overrides)
        print(f"[demo] {modality}: pre-training {cfg.model.name} for {cfg.train.steps} steps", flush=True)
        pretrain(cfg, progress=progress)
        start = _stage(f"pretrain {modality}", clock, start)
        tokenizer = load_tokenizer(Path(cfg.train.out) / "tokenizer")
        print(f"[demo] {modality}: supervised baseline, same tower and steps", flush=True)
        train_baseline(cfg, graph, tokenizer, Path(cfg.train.out) / "baseline", progress=progress)
        start = _stage(f"baseline {modality}", clock, start)
        labels = truth_labels(out / "phantom", df, modality)
        result = evaluate(
            find_checkpoint(cfg.train.out),
            out / "dataset",
            labels=labels,
            baseline=Path(cfg.train.out) / "baseline",
            out=out / "eval",
        )
        start = _stage(f"evaluate {modality}", clock, start)
        print("\n" + result.summary() + "\n", flush=True)
        tracker.log_metrics(result.metrics(), step=0)
        for png in result.plots:
            tracker.log_artifact(png, "plots")
        results[modality] = result
    clock["total"] = time.perf_counter() - t0
    tracker.log_metrics({f"seconds/{k}": v for k, v in clock.items()}, step=0)
    save_config(base, out / "demo_config.yaml")
    tracker.log_artifact(out / "demo_config.yaml")
    tracker.finish()
    _print_headline(results, clock, out)
    return {"seconds": clock, "results": results}


def _modality_config(modality: str, out: Path, overrides: list[str]) -> Config:
    """The demo's training config of one modality, pointed at the demo's dataset and run folder."""
    paths = [f"train.dataset={out / 'dataset'}", f"train.out={out / 'runs' / modality}"]
    return load_config([CONFIGS / DEMO_CONFIGS[modality]], [*overrides, *paths])


def _print_headline(results: dict[str, Any], clock: dict[str, float], out: Path) -> None:
    print("[demo] mean AUROC on held-out phantom patients (drawn truth), 95% CI by patient bootstrap:")
    for modality, result in results.items():
        cells = []
        for method, table in result.tables.items():
            row = table.iloc[-1]
            cells.append(f"{method} {row['auroc']:.3f} [{row['auroc_lo']:.3f}-{row['auroc_hi']:.3f}]")
        print(f"  {modality.upper():4s}" + "   ".join(cells))
    print(f"[demo] finished in {clock['total'] / 60:.1f} min. Plots: {out / 'eval'}; MLflow store: {out / 'mlflow.db'}")
    print(f"[demo] browse: mlflow ui --backend-store-uri sqlite:///{(out / 'mlflow.db').resolve()}")
