"""The `medvlp` command as a user runs it: help, stubs for stages not built yet, config errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from medvlp.cli import NOT_BUILT, STAGES, main


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medvlp", *args], capture_output=True, text=True, timeout=120)


def test_help_lists_every_stage():
    proc = _run("--help")
    assert proc.returncode == 0
    for stage in ("synth", "ingest", "pretrain", "zeroshot", "finetune", "evaluate", "generate", "demo"):
        assert stage in proc.stdout
    assert set(STAGES) >= {"synth", "demo"}


def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from medvlp.cli import build_parser; build_parser(); print(sorted(m for m in ('torch', "
        "'monai', 'pydicom', 'transformers') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("stage", sorted(NOT_BUILT))
def test_stage_not_built_says_so_in_one_line(stage: str, capsys):
    assert main([stage, "whatever", "--flag"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not built yet" in err and stage in err


def test_bad_config_key_is_one_line_exit_2(tmp_path: Path):
    proc = _run("synth", "--out", str(tmp_path / "x"), "synth.n_cxrr=3")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "synth.n_cxrr" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_bad_config_file_key_is_one_line(tmp_path: Path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("synth:\n  n_ct: 2\n  colour: blue\n")
    proc = _run("synth", "--out", str(tmp_path / "x"), "--config", str(cfg))
    assert proc.returncode == 2 and "synth.colour" in proc.stderr and "Traceback" not in proc.stderr


def test_no_stage_prints_help_exit_2(capsys):
    assert main([]) == 2
    assert "stages" in capsys.readouterr().out


def test_label_command_writes_a_table(tmp_path: Path, capsys):
    reports = tmp_path / "r.csv"
    reports.write_text(
        "AccessionNumber,ReportText\n"
        'A1,"FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Effusion."\n'
        'A2,"FINDINGS: Possible right lower lobe consolidation.\nIMPRESSION: Cannot exclude pneumonia."\n'
    )
    assert main(["label", str(reports), "--findings", "pleural_effusion,pneumothorax,consolidation"]) == 0
    assert "labelled 2 reports" in capsys.readouterr().out
    rows = (tmp_path / "r_labels.csv").read_text().splitlines()
    assert rows[0].split(",")[1:] == ["pleural_effusion", "pneumothorax", "consolidation"]
    assert rows[1].split(",")[1:] == ["1", "0", ""] and rows[2].split(",")[1:] == ["", "", "-1"]


def test_label_command_bad_finding_is_one_line(tmp_path: Path, capsys):
    reports = tmp_path / "r.csv"
    reports.write_text("AccessionNumber,ReportText\nA1,No effusion.\n")
    assert main(["label", str(reports), "--findings", "not_a_finding"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
