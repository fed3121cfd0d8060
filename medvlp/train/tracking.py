"""Experiment tracking with MLflow (the only module that imports mlflow), from rank 0 only.

By default the store is offline, inside the run folder: a SQLite database (`sqlite:///<run>/mlflow.db`) with
artifacts under `<run>/mlartifacts` (MLflow's file store refuses to start unless forced, and needs no server
this way). MLFLOW_TRACKING_URI, when set, wins. Metrics are buffered and sent in batches, since each call to
the store costs milliseconds.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def flatten(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested config -> {"section.key": "value"} as MLflow params (strings, at most 500 characters)."""
    out: dict[str, str] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = str(value)[:500]
    return out


def metric_name(name: str) -> str:
    """A metric name MLflow accepts: 'val/i2t_R@1' -> 'val/i2t_R_1' (letters, digits, _ - . space : / only)."""
    return re.sub(r"[^\w\-. :/]", "_", name)


class Tracker:
    """start -> log_params / log_metrics / log_artifact -> finish. A no-op on ranks other than 0."""

    def __init__(
        self,
        run_dir: Path,
        experiment: str = "medvlp",
        run_name: str | None = None,
        rank: int = 0,
        flush_every: int = 50,
    ) -> None:
        self.enabled = rank == 0
        self.run_dir = Path(run_dir)
        self._buffer: list[Any] = []
        self.flush_every = flush_every
        self.run_id: str | None = None
        if not self.enabled:
            return
        import mlflow

        self.run_dir.mkdir(parents=True, exist_ok=True)
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(self.run_dir / 'mlflow.db').resolve()}"
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(experiment)
        exp_id = (
            exp.experiment_id
            if exp is not None
            else self.client.create_experiment(
                experiment, artifact_location=(self.run_dir / "mlartifacts").resolve().as_uri()
            )
        )
        self.run_id = self.client.create_run(exp_id, run_name=run_name).info.run_id
        self.tracking_uri = uri

    def log_params(self, cfg: Mapping[str, Any]) -> None:
        if not self.enabled:
            return
        from mlflow.entities import Param

        params = [Param(k, v) for k, v in sorted(flatten(cfg).items())]
        for i in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[i : i + 100])

    def log_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._buffer += [Metric(metric_name(k), float(v), now, step) for k, v in metrics.items()]
        if len(self._buffer) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        if self.enabled and self._buffer:
            for i in range(0, len(self._buffer), 1000):
                self.client.log_batch(self.run_id, metrics=self._buffer[i : i + 1000])
            self._buffer = []

    def log_artifact(self, path: Path, folder: str | None = None) -> None:
        if self.enabled:
            self.client.log_artifact(self.run_id, str(path), folder)

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        if self.enabled:
            self.client.log_artifacts(self.run_id, str(folder), artifact_path)

    def finish(self, status: str = "FINISHED") -> None:
        if self.enabled:
            self.flush()
            self.client.set_terminated(self.run_id, status=status)
