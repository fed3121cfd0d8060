"""`medvlp pretrain` end to end on an ingested phantom: runs, tracks, repeats, and resumes bit-identically after
SIGKILL (one process and two under torchrun)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from medvlp.cli import main
from medvlp.config import load_config
from tests.conftest import NO_AUGMENT, free_port

REPO = Path(__file__).resolve().parents[2]
TINY = [
    "train.steps=12",
    "train.ckpt_every=4",
    "train.log_every=2",
    "data.batch_size=4",
    "train.warmup_steps=2",
    "text.synonym_swap=0.3",
    "text.laterality_swap=0.5",
]

KILLER = """
import os, signal, sys
import medvlp.train.loop as loop
original = loop.save_checkpoint
def killing(root, step, *a, **kw):
    original(root, step, *a, **kw)
    if step == int(os.environ.get("KILL_AT", "-1")):
        os.kill(os.getpid(), signal.SIGKILL)
loop.save_checkpoint = killing
from medvlp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _args(dataset: Path, out: Path, *extra: str, own_tokenizer: bool = False) -> list[str]:
    """Runs share the tiny_tokenizer fixture's vocabulary (no time spent training one) unless own_tokenizer."""
    shared = [] if own_tokenizer else [f"data.tokenizer={dataset.parent / 'tokenizer'}"]
    return [
        "pretrain",
        str(REPO / "configs/experiments/tiny_cxr.yaml"),
        f"train.dataset={dataset}",
        f"train.out={out}",
        *shared,
        *TINY,
        *extra,
    ]


def test_pretrain_tracks_and_checkpoints(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path, capsys):
    assert main(_args(tiny_dataset, tmp_path / "run")) == 0
    assert "loss=" in capsys.readouterr().out
    run = tmp_path / "run"
    assert (run / "loss_curves.png").is_file() and (run / "config.yaml").is_file()
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{(run / 'mlflow.db').resolve()}")
    (exp,) = [e for e in client.search_experiments() if e.name == "medvlp"]
    (mlrun,) = client.search_runs([exp.experiment_id])
    assert [m.step for m in client.get_metric_history(mlrun.info.run_id, "loss")] == [2, 4, 6, 8, 10, 12]
    assert mlrun.data.params["train.steps"] == "12" and mlrun.info.status == "FINISHED"
    assert "plots/loss_curves.png" in [a.path for a in client.list_artifacts(mlrun.info.run_id, "plots")]
    assert main(_args(tiny_dataset, tmp_path / "run")) == 2  # existing checkpoints and no --resume


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    """A pretrain run in a fresh process, as a real resume is, with a fixed thread count and hash seed."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", **env}
    return subprocess.run(
        [sys.executable, "-c", KILLER, *args],
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=600,
    )


def test_sigkill_then_resume_is_bit_identical(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    straight = _run(_args(tiny_dataset, tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr[-2000:]
    killed = _run(_args(tiny_dataset, tmp_path / "killed"), KILL_AT="8")
    assert killed.returncode == -9, killed.stderr[-2000:]
    resumed = _run([*_args(tiny_dataset, tmp_path / "killed"), "--resume"])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = load_file(str(tmp_path / "straight/checkpoints/step-00000012/model.safetensors"))
    b = load_file(str(tmp_path / "killed/checkpoints/step-00000012/model.safetensors"))
    assert a.keys() == b.keys()
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])][:5]


def test_two_fresh_runs_are_bit_identical(tiny_dataset: Path, tmp_path: Path):
    """Same config and seed, separate processes, each training its own tokenizer: the same vocabulary and weights."""
    for name in ("a", "b"):
        done = _run(_args(tiny_dataset, tmp_path / name, "train.steps=6", own_tokenizer=True))
        assert done.returncode == 0, done.stderr[-2000:]
    vocab = [json.loads((tmp_path / n / "tokenizer/tokenizer.json").read_text())["model"]["vocab"] for n in "ab"]
    assert vocab[0] == vocab[1]
    a, b = (load_file(str(tmp_path / n / "checkpoints/step-00000006/model.safetensors")) for n in "ab")
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])][:5]


@pytest.mark.slow
def test_two_process_sigkill_then_resume_is_bit_identical(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    """torchrun, 2 gloo processes with augmentation on: each rank resumes its own augmentation stream."""
    killer = tmp_path / "killer.py"
    killer.write_text(KILLER)

    def torchrun(out: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
        launch = ["-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(free_port())]
        args = _args(tiny_dataset, tmp_path / out, "data.batch_size=2", *extra)
        full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0", **env}
        run = [sys.executable, *launch, str(killer), *args]
        return subprocess.run(run, env=full_env, capture_output=True, text=True, timeout=600)

    straight = torchrun("straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = torchrun("killed", KILL_AT="8")
    assert killed.returncode != 0 and (tmp_path / "killed/checkpoints/step-00000008").is_dir()
    resumed = torchrun("killed", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_file(str(tmp_path / "straight/checkpoints/step-00000012/model.safetensors"))
    b = load_file(str(tmp_path / "killed/checkpoints/step-00000012/model.safetensors"))
    assert all(a[k].equal(b[k]) for k in a), [k for k in a if not a[k].equal(b[k])][:5]


def test_resume_on_another_world_size_warns():
    """Augmentation streams saved by 1 process cannot place 2 ranks: they keep their seeded streams, with a warning."""
    from medvlp.data.transforms.gpu import DeviceAugment
    from medvlp.train.distributed import DistInfo
    from medvlp.train.loop import _restore_augment_rng

    data = load_config([REPO / "configs/experiments/tiny_cxr.yaml"]).data
    saved = DeviceAugment.from_data_config(data, seed=0)
    saved.generator.manual_seed(123)
    for rank in (0, 1):
        aug = DeviceAugment.from_data_config(data, seed=0, rank=rank)
        before, info = aug.generator.get_state(), DistInfo(rank, 2, rank, torch.device("cpu"))
        with pytest.warns(UserWarning, match="1 process") if rank == 0 else contextlib.nullcontext():  # rank 0 says it
            _restore_augment_rng(aug, [saved.generator.get_state()], info)
        assert aug.generator.get_state().equal(before)
    same = DeviceAugment.from_data_config(data, seed=5)
    _restore_augment_rng(same, [saved.generator.get_state()], DistInfo(0, 1, 0, torch.device("cpu")))
    assert same.generator.get_state().equal(saved.generator.get_state())


@pytest.mark.slow
def test_two_process_ddp_equals_one_process_on_the_doubled_batch(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    """torchrun with 2 gloo processes of batch 2 ends with the weights of 1 process of batch 4 (float tolerance)."""
    still = [
        "model.name=tiny-cxr-vit",
        "train.steps=4",
        "train.ckpt_every=4",
        "train.log_every=2",
        "train.warmup_steps=1",
        *NO_AUGMENT,
        f"data.tokenizer={tiny_dataset.parent / 'tokenizer'}",
        f"train.dataset={tiny_dataset}",
    ]
    config = str(REPO / "configs/experiments/tiny_cxr.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run(
        [
            sys.executable,
            "-m",
            "medvlp.train.main",
            config,
            *still,
            "data.batch_size=4",
            f"train.out={tmp_path / 'one'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc-per-node",
            "2",
            "--master-port",
            str(free_port()),
            "-m",
            "medvlp.train.main",
            config,
            *still,
            "data.batch_size=2",
            f"train.out={tmp_path / 'two'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    a = load_file(str(tmp_path / "one/checkpoints/step-00000004/model.safetensors"))
    b = load_file(str(tmp_path / "two/checkpoints/step-00000004/model.safetensors"))
    # Float agreement: reductions run in another order, and AdamW turns a rounding difference in a near-zero
    # gradient into a full lr-sized step, so a handful of weights differ by up to ~lr; the bulk must agree to
    # float precision (a sharding or gradient-averaging bug moves the mean by orders of magnitude more).
    diff = torch.cat([(a[k] - b[k]).abs().flatten() for k in a])
    assert float(diff.mean()) < 1e-6 and float(diff.quantile(0.99)) < 1e-5, (float(diff.mean()), float(diff.max()))


def test_pretrain_with_the_prompt_loss(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    weights = "loss.weights={clip: 1.0, prompt: 1.0}"
    assert main(_args(tiny_dataset, tmp_path / "run", weights, "train.steps=4", "text.prompts_per_step=2")) == 0
    history = [json.loads(x) for x in (tmp_path / "run/history.jsonl").read_text().splitlines()]
    assert all(0 < h["prompt_loss"] < 5 for h in history)
    assert history[-1]["loss"] > history[-1]["prompt_loss"]  # clip + prompt
