"""`medvlp zeroshot`: DICOM folders, NIfTI files and manifests are screened through ingest into a CSV."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from medvlp.cli import main


def test_dicom_folder_is_ingested_then_screened(tiny_run: Path, tiny_dataset: Path, tmp_path: Path, capsys):
    archive = tiny_dataset.parent / "phantom/archive"
    out = tmp_path / "screen.csv"
    code = main(["zeroshot", str(tiny_run), str(archive), "--out", str(out), "--findings", "phantom_cxr"])
    assert code == 0, capsys.readouterr().err
    table = pd.read_csv(out)
    n_cxr = int((pd.read_parquet(tiny_dataset / "manifest.parquet")["modality"] == "cxr").sum())
    assert len(table) == n_cxr  # the same series selection as ingest; CT series are left to a CT model
    assert {"p_nodule", "flag_nodule", "p_support_devices"} <= set(table.columns)
    assert table.filter(like="p_").to_numpy().min() >= 0 and table.filter(like="p_").to_numpy().max() <= 1
    assert "screened" in capsys.readouterr().out


def test_a_manifest_is_screened_directly_and_mixed_inputs_are_refused(tiny_run: Path, tiny_dataset: Path, tmp_path):
    out = tmp_path / "screen.csv"
    assert main(["zeroshot", str(tiny_run), str(tiny_dataset), "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) >= 1
    nifti = next((tiny_dataset / "cache").rglob("*.nii*"))
    assert main(["zeroshot", str(tiny_run), str(tiny_dataset), str(nifti), "--out", str(out)]) == 2


def test_ct_volumes_as_nifti_need_a_ct_model(tiny_run: Path, tiny_ct_run: Path, tiny_dataset: Path, tmp_path, capsys):
    df = pd.read_parquet(tiny_dataset / "manifest.parquet")
    volume = tiny_dataset / df[df["modality"] == "ct"]["image_path"].iloc[0]
    assert main(["zeroshot", str(tiny_run), str(volume), "--out", str(tmp_path / "a.csv")]) == 2
    assert "no cxr images" in capsys.readouterr().err
    assert main(["zeroshot", str(tiny_ct_run), str(volume), "--out", str(tmp_path / "b.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "b.csv")) == 1


@pytest.mark.parametrize("args", [["zeroshot", "/nonexistent/run", "x.dcm"]])
def test_missing_checkpoint_is_one_line(args, capsys):
    assert main(args) == 2
    assert "no checkpoint" in capsys.readouterr().err
