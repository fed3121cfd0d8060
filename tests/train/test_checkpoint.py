"""Checkpoints: exact resume, atomic writes, pruning, best pointer, and no pickled code ever executed."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medvlp.models.weights import UnsafeCheckpointError
from medvlp.train.checkpoint import load_checkpoint, read_pointer, save_checkpoint, step_dirs


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    return model, opt


def _step(model, opt):
    x = torch.randn(5, 6)  # draws from the global RNG, as a data pipeline would
    noise = float(np.random.rand()) + random.random()
    opt.zero_grad()
    (model(x).square().mean() * (1 + noise)).backward()
    opt.step()


def test_resume_is_bit_identical(tmp_path: Path):
    model, opt = _setup()
    for _ in range(6):
        _step(model, opt)
    reference = {k: v.clone() for k, v in model.state_dict().items()}

    model, opt = _setup()
    for _ in range(3):
        _step(model, opt)
    save_checkpoint(tmp_path, 3, model, optimizer=opt, extra={"epoch": 0, "batch": 3}, config={"a": 1})
    for _ in range(2):  # work that the "killed" run did after its checkpoint is lost
        _step(model, opt)

    resumed, opt2 = _setup(seed=99)  # fresh objects, different init
    state = load_checkpoint(tmp_path, resumed, optimizer=opt2)
    assert state["step"] == 3 and state["extra"] == {"epoch": 0, "batch": 3} and state["meta"]["config"] == {"a": 1}
    for _ in range(3):
        _step(resumed, opt2)
    for k, v in resumed.state_dict().items():
        assert torch.equal(v, reference[k]), k


def test_pruning_best_and_pointers(tmp_path: Path):
    model, _ = _setup()
    for step, auc in [(1, 0.5), (2, 0.9), (3, 0.6), (4, 0.7), (5, 0.65)]:
        save_checkpoint(tmp_path, step, model, metrics={"auc": auc}, keep_last=2, best_metric="auc")
    assert [p.name for p in step_dirs(tmp_path)] == ["step-00000002", "step-00000004", "step-00000005"]
    assert read_pointer(tmp_path, "best").name == "step-00000002"
    assert read_pointer(tmp_path).name == "step-00000005"


def test_half_written_checkpoint_is_ignored(tmp_path: Path):
    model, _ = _setup()
    save_checkpoint(tmp_path, 1, model)
    (tmp_path / ".tmp-step-00000002-123").mkdir()  # a kill during the next write leaves this behind
    assert [p.name for p in step_dirs(tmp_path)] == ["step-00000001"]
    assert load_checkpoint(tmp_path, _setup()[0])["step"] == 1


class Payload:
    def __reduce__(self):
        return (print, ("pwned",))


def test_pickled_code_is_refused(tmp_path: Path, capsys):
    model, _ = _setup()
    path = save_checkpoint(tmp_path, 1, model)
    torch.save({"step": 1, "evil": Payload()}, path / "state.pt")
    with pytest.raises(UnsafeCheckpointError, match="pickled Python objects"):
        load_checkpoint(path, _setup()[0])
    assert "pwned" not in capsys.readouterr().out


def test_pointer_cannot_leave_the_root(tmp_path: Path):
    model, _ = _setup()
    save_checkpoint(tmp_path / "run", 1, model)
    (tmp_path / "run/latest").write_text("../../etc\n")
    with pytest.raises(ValueError, match="not a checkpoint inside"):
        read_pointer(tmp_path / "run")


def test_meta_records_code_version(tmp_path: Path):
    path = save_checkpoint(tmp_path, 7, _setup()[0])
    meta = json.loads((path / "meta.json").read_text())
    assert meta["step"] == 7 and meta["code_version"]
