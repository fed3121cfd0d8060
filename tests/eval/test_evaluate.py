"""`medvlp evaluate` and `medvlp finetune`: the zero-shot table beside the supervised baseline, scored against
the drawn truth of held-out phantom patients, with ROC PNGs and calibrated thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from medvlp.cli import main
from medvlp.data.manifest import read_manifest
from medvlp.data.synthetic.findings import CXR_FINDINGS
from medvlp.data.synthetic.truth import truth_labels
from medvlp.eval.baseline import load_baseline
from medvlp.eval.evaluate import evaluate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def baseline(tiny_dataset: Path, tiny_tokenizer, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("baseline")
    args = [
        "finetune",
        str(REPO / "configs/experiments/tiny_cxr.yaml"),
        f"train.dataset={tiny_dataset}",
        f"train.out={out}",
        f"data.tokenizer={tiny_dataset.parent / 'tokenizer'}",
        "train.steps=3",
        "data.batch_size=4",
        "text.label_set=phantom_cxr",
    ]
    assert main(args) == 0
    return out


def test_truth_labels_follow_the_sources_back_to_the_drawn_studies(tiny_dataset: Path):
    df = read_manifest(tiny_dataset / "manifest.parquet")
    truth = truth_labels(tiny_dataset.parent / "phantom", df, "cxr")
    assert list(truth.columns) == list(CXR_FINDINGS)
    assert set(truth.index) == set(df[df["modality"] == "cxr"]["sample_id"])
    studies = [
        json.loads(x) for x in (tiny_dataset.parent / "phantom/ground_truth/studies.jsonl").read_text().split("\n") if x
    ]
    by_file = {f.removeprefix("archive/"): s["labels"] for s in studies for f in s["files"]}
    row = df[df["modality"] == "cxr"].iloc[0]
    assert truth.loc[row["sample_id"]].to_dict() == {k: by_file[row["sources"][0]][k] for k in CXR_FINDINGS}


def test_baseline_round_trips_without_pickle(baseline: Path):
    model, names = load_baseline(baseline)
    assert names == list(CXR_FINDINGS) and not list(baseline.rglob("*.pt"))
    assert model(torch.zeros(2, 1, 64, 64)).shape == (2, len(names))


def test_evaluate_prints_zero_shot_beside_the_baseline(tiny_run: Path, tiny_dataset: Path, baseline: Path, tmp_path):
    df = read_manifest(tiny_dataset / "manifest.parquet")
    labels = truth_labels(tiny_dataset.parent / "phantom", df, "cxr")
    result = evaluate(tiny_run, tiny_dataset, labels, baseline, split=None, n_boot=50, out=tmp_path)
    assert set(result.tables) == {"zero-shot", "supervised"}
    for table in result.tables.values():
        assert list(table["finding"]) == [*CXR_FINDINGS, "mean"]
        assert (table["n"].iloc[:-1] == len(labels)).all()
    text = result.summary()
    assert "zero-shot" in text and "supervised" in text and "i2t_R@1" in text
    assert (tmp_path / "roc_cxr.png").stat().st_size > 10_000
    assert json.loads((tmp_path / "thresholds_cxr.json").read_text())["names"] == list(CXR_FINDINGS)
    assert all(k.startswith("cxr/") for k in result.metrics())


def test_evaluate_cli_and_a_labels_table_missing_samples(tiny_run: Path, tiny_dataset: Path, tmp_path, capsys):
    df = read_manifest(tiny_dataset / "manifest.parquet")
    labels = truth_labels(tiny_dataset.parent / "phantom", df, "cxr")
    labels.iloc[:2].to_csv(tmp_path / "labels.csv")
    code = main(
        ["evaluate", str(tiny_run), str(tiny_dataset), "--labels", str(tmp_path / "labels.csv"), "--split", "train"]
    )
    assert code == 2 and "no row in the labels table" in capsys.readouterr().err
    code = main(
        [
            "evaluate",
            str(tiny_run),
            str(tiny_dataset),
            "--phantom",
            str(tiny_dataset.parent / "phantom"),
            "--n-boot",
            "20",
            "--split",
            "train",
        ]
    )
    assert code == 0 and "mean" in capsys.readouterr().out


def test_report_labels_are_used_when_no_table_is_given(tiny_run: Path, tiny_dataset: Path):
    from medvlp.eval.embed import embed_split
    from medvlp.heads.pretrained import load_pretrained
    from medvlp.train.validate import report_targets

    result = evaluate(tiny_run, tiny_dataset, None, None, split="train", n_boot=20)
    pre = load_pretrained(tiny_run)
    assert result.names == list(pre.graph.label_set("chexpert"))  # the run's label set
    df = read_manifest(tiny_dataset / "manifest.parquet")
    emb = embed_split(pre.model, pre.tokenizer, pre.cfg, pre.graph, tiny_dataset, df, "cxr", "train")
    targets = report_targets(emb.report_labels)
    table = result.tables["zero-shot"].set_index("finding")
    for j, name in enumerate(result.names):
        assert table.loc[name, "n_pos"] == int(np.nansum(targets[:, j] == 1))
        assert table.loc[name, "n"] == int((~np.isnan(targets[:, j])).sum())
