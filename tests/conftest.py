"""Test-wide settings: offline model hubs, small thread counts, the repo root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


# Overrides that switch the random image stage off, so runs of different process counts see the same pixels.
NO_AUGMENT = [
    "data.crop_scale=[1.0, 1.0]",
    "data.rotate_degrees=0",
    "data.scale_range=0",
    "data.translate=0",
    "data.brightness=0",
    "data.contrast=0",
    "data.noise_std=0",
]


def free_port() -> int:
    """A TCP port free on localhost now (for torchrun's rendezvous)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository (real scanner data); tests skip when a file is absent."""
    return SHARED_DATA


TINY_PHANTOM = [
    "synth.n_cxr=10",
    "synth.n_ct=9",
    "synth.cxr_size=[160, 224]",
    "synth.ct_matrix=[64, 80]",
    "synth.ct_slice_spacing=[4.0, 5.0]",
    "synth.lateral_fraction=0",
    "run.seed=7",
    "run.workers=1",
]
TINY_INGEST = ["ingest.ct_spacing=[4.0, 4.0, 5.0]", "ingest.cxr_size=96", "ingest.ct_min_slices=8", "run.workers=1"]


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """A tiny phantom archive, ingested: the folder holding manifest.parquet and cache/ (built once a session)."""
    from medvlp.config import load_config
    from medvlp.data.ingest import run_ingest
    from medvlp.data.synthetic.archive import generate_archive

    root = tmp_path_factory.mktemp("tiny")
    generate_archive(load_config([], TINY_PHANTOM), root / "phantom")
    os.environ.setdefault("MEDVLP_DEID_SECRET", "tests-only-secret-0123456789")
    reports = [root / "phantom/reports/reports.csv", root / "phantom/reports/text"]
    run_ingest(root / "phantom/archive", reports, root / "dataset", load_config([], TINY_INGEST), progress=False)
    return root / "dataset"


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dataset: Path):
    """A WordPiece tokenizer trained on the tiny dataset's reports."""
    from medvlp.data.manifest import read_manifest
    from medvlp.text.tokenizer import load_tokenizer, train_tokenizer

    texts = list(read_manifest(tiny_dataset / "manifest.parquet")["report_text"])
    out = tiny_dataset.parent / "tokenizer"
    train_tokenizer(texts * 4, out, vocab_size=400, min_frequency=1)
    return load_tokenizer(out)


def _tiny_run(dataset: Path, out: Path, config: str, *overrides: str) -> Path:
    from medvlp.config import load_config
    from medvlp.train.loop import pretrain

    cfg = load_config(
        [REPO / "configs/experiments" / config],
        [
            f"train.dataset={dataset}",
            f"train.out={out}",
            f"data.tokenizer={dataset.parent / 'tokenizer'}",
            "train.steps=4",
            "train.ckpt_every=4",
            "train.log_every=2",
            "train.warmup_steps=1",
            *overrides,
        ],
    )
    pretrain(cfg, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset: Path, tiny_tokenizer, tmp_path_factory) -> Path:
    """A 4-step tiny 2D pre-training run on the tiny dataset (its run folder), trained once a session."""
    return _tiny_run(tiny_dataset, tmp_path_factory.mktemp("runs") / "cxr", "tiny_cxr.yaml", "data.batch_size=4")


@pytest.fixture(scope="session")
def tiny_ct_run(tiny_dataset: Path, tiny_tokenizer, tmp_path_factory) -> Path:
    """A 4-step tiny 3D pre-training run on the tiny dataset (its run folder), trained once a session."""
    return _tiny_run(tiny_dataset, tmp_path_factory.mktemp("runs") / "ct", "tiny_ct.yaml", "data.batch_size=2")
