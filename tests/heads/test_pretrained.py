"""Loading a run for inference: by run folder, checkpoints folder or step folder; same weights, no pickles."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from medvlp.heads.pretrained import find_checkpoint, load_pretrained


def test_run_checkpoints_and_step_folder_name_the_same_checkpoint(tiny_run: Path):
    step = find_checkpoint(tiny_run)
    assert step.name == "step-00000004"
    assert find_checkpoint(tiny_run / "checkpoints") == step == find_checkpoint(step)


def test_loaded_weights_are_the_checkpoint_weights(tiny_run: Path):
    pre = load_pretrained(tiny_run)
    saved = load_file(str(find_checkpoint(tiny_run) / "model.safetensors"))
    state = pre.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())
    assert not pre.model.training and pre.modality == "cxr" and pre.cfg.model.name == "tiny-cxr-resnet"


def test_missing_checkpoint_and_missing_ema_are_named(tiny_run: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="ema_decay"):
        load_pretrained(tiny_run, ema=True)
