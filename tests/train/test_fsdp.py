"""`train.parallel=fsdp` (FSDP2 fully_shard) under torchrun with 2 gloo processes on CPU.

Needs the loop to save and resume inside `medvlp.train.distributed.full_state` and to validate inside
`unsharded`, entered on every rank (see their docstrings): the sharded weights are gathered there, so rank 0
writes the same checkpoint files as one process and validates the whole model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

from tests.conftest import NO_AUGMENT, free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "configs/experiments/tiny_cxr.yaml")
ENTRY = ["-m", "medvlp.train.main"]


def _with_val_split(dataset: Path, tokenizer: Path, out: Path) -> Path:
    """A copy of the tiny dataset whose test radiograph is the validation split (training data unchanged)."""
    shutil.copytree(dataset, out / "dataset")
    shutil.copytree(tokenizer, out / "tokenizer")
    path = out / "dataset/manifest.parquet"
    table = pq.read_table(path)
    df = table.to_pandas()
    df.loc[(df["split"] == "test") & (df["modality"] == "cxr"), "split"] = "val"
    assert (df["split"] == "val").sum() == 1
    pq.write_table(pa.Table.from_pandas(df, schema=table.schema, preserve_index=False), path)
    return out / "dataset"


def _still(dataset: Path) -> list[str]:
    """The DDP test's run without randomness in the inputs, plus the FSDP-specific paths: an EMA copy (sharded
    like the model), a clip threshold low enough to clip every step (norm over DTensor and scalar grads), and
    validation on rank 0 in the middle of the run (the sharded EMA gathered for it) and at the end."""
    return [
        "model.name=tiny-cxr-vit",
        "train.steps=4",
        "train.ckpt_every=2",
        "train.log_every=2",
        "train.val_every=2",
        "train.warmup_steps=1",
        "train.ema_decay=0.9",
        "train.grad_clip=0.01",
        *NO_AUGMENT,
        f"data.tokenizer={dataset.parent / 'tokenizer'}",
        f"train.dataset={dataset}",
    ]


def _run(args: list[str], processes: int = 1) -> subprocess.CompletedProcess[str]:
    launch = [sys.executable]
    if processes > 1:
        launch += ["-m", "torch.distributed.run", f"--nproc-per-node={processes}", f"--master-port={free_port()}"]
    return subprocess.run(
        [*launch, *ENTRY, CONFIG, *args],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _why(proc: subprocess.CompletedProcess[str]) -> str:
    """The error lines of every rank (torchrun's tail shows only the last rank to fail), then the tail."""
    errors = [line for line in proc.stderr.splitlines() if "Error" in line]
    return "\n".join(errors[-10:]) + "\n...\n" + proc.stderr[-1500:]


def _weights(run: Path, step: int, name: str) -> dict[str, torch.Tensor]:
    return load_file(str(run / f"checkpoints/step-{step:08d}/{name}.safetensors"))


def _diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> torch.Tensor:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
    return torch.cat([(a[k] - b[k]).abs().flatten() for k in a])


@pytest.mark.slow
def test_two_process_fsdp_equals_one_process_on_the_doubled_batch(tiny_dataset: Path, tiny_tokenizer, tmp_path: Path):
    """torchrun with 2 gloo processes of batch 2 under FSDP ends with the weights, EMA and optimizer state of
    1 process of batch 4 (float tolerance); resuming the FSDP run from its step-2 checkpoint ends where it did."""
    still = _still(_with_val_split(tiny_dataset, tiny_dataset.parent / "tokenizer", tmp_path / "data"))
    one = _run([*still, "data.batch_size=4", f"train.out={tmp_path / 'one'}"])
    assert one.returncode == 0, _why(one)
    fsdp = [*still, "data.batch_size=2", "train.parallel=fsdp"]
    two = _run([*fsdp, f"train.out={tmp_path / 'two'}"], processes=2)
    assert two.returncode == 0, _why(two)
    history = [json.loads(line) for line in (tmp_path / "two/history.jsonl").read_text().splitlines()]
    assert [row["step"] for row in history if "val/i2t_R@1" in row] == [2, 4]
    for name in ("model", "ema"):
        a, b = _weights(tmp_path / "one", 4, name), _weights(tmp_path / "two", 4, name)
        # The DDP test's tolerances (reductions run in another order; AdamW turns a rounding difference in a
        # near-zero gradient into a full lr-sized step): the bulk must agree to float precision.
        diff = _diff(a, b)
        assert float(diff.mean()) < 1e-6 and float(diff.quantile(0.99)) < 1e-5, (name, float(diff.mean()))
        # Scalars (logit scale and bias) are not sharded but averaged by a hook; one wrong scalar hides in a mean.
        scalars = [k for k in a if a[k].ndim == 0]
        assert scalars and all(float((a[k] - b[k]).abs()) < 1e-5 for k in scalars), [(k, a[k], b[k]) for k in scalars]
    # The optimizer state is saved whole (gathered), in the one-process layout.
    opt_a = torch.load(tmp_path / "one/checkpoints/step-00000004/state.pt", weights_only=True)["optimizer"]["state"]
    opt_b = torch.load(tmp_path / "two/checkpoints/step-00000004/state.pt", weights_only=True)["optimizer"]["state"]
    assert opt_a.keys() == opt_b.keys()
    moments = torch.cat([(opt_a[i][k] - opt_b[i][k]).abs().flatten() for i in opt_a for k in opt_a[i] if k != "step"])
    assert float(moments.mean()) < 1e-6, float(moments.mean())

    # Resume: the run as if killed right after its step-2 checkpoint; the whole tensors are cut back into shards.
    shutil.copytree(tmp_path / "two", tmp_path / "resumed")
    ckpts = tmp_path / "resumed/checkpoints"
    shutil.rmtree(ckpts / "step-00000004")
    (ckpts / "latest").write_text("step-00000002\n")
    resumed = _run([*fsdp, f"train.out={tmp_path / 'resumed'}", "--resume"], processes=2)
    assert resumed.returncode == 0, _why(resumed)
    for name in ("model", "ema"):
        diff = _diff(_weights(tmp_path / "two", 4, name), _weights(tmp_path / "resumed", 4, name))
        assert float(diff.max()) < 1e-6, (name, float(diff.max()))
