"""MLflow tracking: an offline store in the run folder that reads back params, metrics and artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlp.train.tracking import Tracker, flatten


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": "x"}) == {"a.b": "1", "a.c.d": "[1, 2]", "e": "x"}


def test_run_reads_back(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracker = Tracker(tmp_path / "run", run_name="t", flush_every=3)
    tracker.log_params({"train": {"lr": 0.001, "steps": 5}})
    for step in range(5):
        tracker.log_metrics({"loss": 1.0 / (step + 1)}, step)
    (tmp_path / "curve.png").write_bytes(b"\x89PNG fake")
    tracker.log_artifact(tmp_path / "curve.png", "plots")
    tracker.finish()
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracker.tracking_uri)
    run = client.get_run(tracker.run_id)
    assert run.data.params["train.lr"] == "0.001" and run.info.status == "FINISHED"
    history = client.get_metric_history(tracker.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2, 3, 4] and history[-1].value == pytest.approx(0.2)
    assert [a.path for a in client.list_artifacts(tracker.run_id, "plots")] == ["plots/curve.png"]
    assert (tmp_path / "run/mlflow.db").is_file()


def test_other_ranks_do_nothing(tmp_path: Path):
    tracker = Tracker(tmp_path / "run", rank=1)
    tracker.log_params({"a": 1})
    tracker.log_metrics({"loss": 1.0}, 0)
    tracker.finish()
    assert not (tmp_path / "run").exists()
