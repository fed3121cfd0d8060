"""notebooks/zero_shot_screening.ipynb runs headless (nbclient) on a tiny checkpoint the tests train."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def test_notebook_screens_shows_and_plots(tiny_run: Path, tiny_dataset: Path, tmp_path: Path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    phantom = tiny_dataset.parent / "phantom"
    monkeypatch.setenv("MEDVLP_CHECKPOINT", str(tiny_run))
    monkeypatch.setenv("MEDVLP_DICOM", str(phantom / "archive"))
    monkeypatch.setenv("MEDVLP_PHANTOM", str(phantom))
    monkeypatch.setenv("MEDVLP_WORK", str(tmp_path / "work"))
    nb = nbformat.read(REPO / "notebooks/zero_shot_screening.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed without outputs
    where = {"metadata": {"path": str(tmp_path)}}
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources=where)
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the screened images and the ROC curves
    table = pd.read_csv(tmp_path / "work/screening.csv")
    assert len(table) >= 1 and "p_nodule" in table.columns  # the phantom findings, not the run's chexpert set
    assert {"sample_id", "source"} <= set(table.columns) and any(c.startswith("flag_") for c in table.columns)
    assert (tmp_path / "work/roc.png").is_file()
