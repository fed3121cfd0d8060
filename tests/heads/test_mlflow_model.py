"""The final model logged to MLflow loads back through mlflow.pyfunc (no pickle) and embeds like the checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from medvlp.heads.pretrained import load_pretrained


def test_mlflow_model_has_a_signature_and_predicts_the_checkpoint_embeddings(tiny_run: Path):
    import mlflow.pyfunc

    folder = tiny_run / "mlflow_model"
    assert (folder / "MLmodel").is_file() and not list(folder.rglob("*.pkl"))
    loaded = mlflow.pyfunc.load_model(str(folder))
    spec = loaded.metadata.get_input_schema().inputs[0]
    assert spec.shape == (-1, 1, 64, 64) and spec.type == np.dtype(np.float32)
    images = np.random.default_rng(0).normal(size=(3, 1, 64, 64)).astype(np.float32)
    got = loaded.predict(images)
    pre = load_pretrained(tiny_run)
    with torch.no_grad():
        want = pre.model.encode_image(torch.from_numpy(images)).embeds.numpy()
    assert got.shape == (3, pre.model.embed_dim) and np.allclose(got, want, atol=1e-5)


def test_final_model_is_an_artifact_of_the_run(tiny_run: Path):
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{(tiny_run / 'mlflow.db').resolve()}")
    (run,) = client.search_runs([client.get_experiment_by_name("medvlp").experiment_id])
    assert "model/MLmodel" in [a.path for a in client.list_artifacts(run.info.run_id, "model")]
