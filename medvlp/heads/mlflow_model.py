"""The final model as an MLflow model: a pyfunc flavour whose loader is this module, so nothing is pickled.

The model folder holds `MLmodel` (with the input/output signature), and under data/ the checkpoint's
safetensors weights, its meta.json (resolved config) and the run's tokenizer. `mlflow.pyfunc.load_model(uri)`
imports this module and calls `_load_pyfunc(data/)`, which rebuilds the model through load_pretrained. predict
takes preprocessed images ([N, C, H, W] or [N, C, D, H, W] float32, normalised as in training) and returns
their L2-normalised embeddings [N, E] in the joint report-image space.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medvlp.heads.pretrained import Pretrained, load_pretrained

LOADER_MODULE = "medvlp.heads.mlflow_model"


def save_mlflow_model(checkpoint: Path, tokenizer_dir: Path, image_shape: tuple[int, ...], out: Path) -> Path:
    """Write an MLflow model folder for the checkpoint; image_shape is one sample's [C, H, W] or [C, D, H, W]."""
    import mlflow.pyfunc
    from mlflow.models import Model
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Schema, TensorSpec

    out = Path(out)
    data = out / "data"
    (data / "checkpoints" / checkpoint.name).mkdir(parents=True, exist_ok=True)
    for name in ("model.safetensors", "meta.json"):
        shutil.copy2(checkpoint / name, data / "checkpoints" / checkpoint.name / name)
    (data / "checkpoints" / "latest").write_text(checkpoint.name + "\n")
    shutil.copytree(tokenizer_dir, data / "tokenizer", dirs_exist_ok=True)
    pre = load_pretrained(data)
    sample = torch.zeros(1, *image_shape)
    with torch.no_grad():
        dim = pre.model.encode_image(sample).embeds.shape[-1]
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, *image_shape), "image")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, dim), "embedding")]),
    )
    model = Model(signature=signature)
    mlflow.pyfunc.add_to_model(model, loader_module=LOADER_MODULE, data="data")
    model.save(str(out / "MLmodel"))
    return out


class _Embedder:
    """What mlflow.pyfunc wraps: predict(images) -> embeddings."""

    def __init__(self, pre: Pretrained) -> None:
        self.pre = pre

    @torch.no_grad()
    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> np.ndarray:
        if isinstance(model_input, dict):  # MLflow passes named tensor inputs as {name: array}
            model_input = model_input["image"]
        images = torch.as_tensor(np.asarray(model_input, dtype=np.float32), device=self.pre.device)
        return self.pre.model.encode_image(images).embeds.float().cpu().numpy()


def _load_pyfunc(data_path: str) -> _Embedder:
    """MLflow's entry point for the pyfunc flavour (no unpickling: weights come from safetensors)."""
    path = Path(data_path)
    return _Embedder(load_pretrained(path, ema=False))
