"""`medvlp demo` end to end on a very small phantom: every stage runs, the table and the MLflow run appear."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from medvlp.cli import main

SMALL = [
    "synth.n_cxr=24",
    "synth.n_ct=16",  # the demo's fixed phantom secret puts 5 of them in the test split (AUROC defined)
    "synth.cxr_size=[192, 256]",
    "synth.ct_matrix=[64]",
    "synth.ct_localizer_fraction=0",
    "train.steps=3",
    "train.ckpt_every=3",
    "train.warmup_steps=1",
    "data.batch_size=4",
    "ingest.splits={train: 0.5, val: 0.25, test: 0.25}",
]


@pytest.mark.slow
def test_demo_runs_every_stage(tmp_path: Path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *SMALL]) == 0
    text = capsys.readouterr().out
    assert "zero-shot" in text and "supervised" in text and "mean AUROC on held-out phantom patients" in text
    for modality in ("cxr", "ct"):
        assert (out / "runs" / modality / "baseline" / "baseline.safetensors").is_file()
        assert (out / "eval" / f"roc_{modality}.png").is_file()
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{(out / 'mlflow.db').resolve()}")
    (run,) = client.search_runs([client.get_experiment_by_name("medvlp-demo").experiment_id])
    assert any(k.startswith("cxr/zero_shot/auroc/") for k in run.data.metrics)
    assert any(k.startswith("ct/supervised/auroc/") for k in run.data.metrics)
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots >= {"plots/roc_cxr.png", "plots/roc_ct.png"}
    assert main(["demo", "--out", str(out)]) == 2  # not empty, no --fresh


def test_demo_splits_do_not_depend_on_the_users_secret(tmp_path: Path, monkeypatch):
    """The phantom's pseudonyms (hence its patient-level splits) use the demo's own fixed secret."""
    from medvlp.data.manifest import read_manifest
    from medvlp.demo import run_demo

    tables = []
    for i, value in enumerate(["first-user-secret-0123456789", "second-user-secret-0123456789"]):
        monkeypatch.setenv("MEDVLP_DEID_SECRET", value)
        out = tmp_path / f"demo{i}"
        run_demo(out, [*SMALL, "synth.n_ct=0"], modalities=(), progress=False)
        df = read_manifest(out / "dataset" / "manifest.parquet")
        tables.append(df.sort_values("sample_id")[["sample_id", "patient_id", "split"]].reset_index(drop=True))
    assert len(tables[0]) > 0 and tables[0].equals(tables[1])
