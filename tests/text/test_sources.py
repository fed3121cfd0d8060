"""Report tables from CSV, JSONL and text folders; unusable tables are refused with a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from medvlp.text.sources import ReportSourceError, load_reports, read_reports


def test_csv_jsonl_and_folder(tmp_path: Path):
    (tmp_path / "r.csv").write_text('accession_number,Report\nA1,"FINDINGS: clear,\nno effusion."\n')
    (tmp_path / "r.jsonl").write_text('{"StudyInstanceUID": "1.2.3", "text": "IMPRESSION: normal"}\n\n')
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt/A2.txt").write_text("FINDINGS: ok")
    got = load_reports([tmp_path / "r.csv", tmp_path / "r.jsonl", tmp_path / "txt"])
    assert got == {
        ("accession", "A1"): "FINDINGS: clear,\nno effusion.",
        ("study_uid", "1.2.3"): "IMPRESSION: normal",
        ("accession", "A2"): "FINDINGS: ok",
    }


def test_missing_columns_named(tmp_path: Path):
    (tmp_path / "r.csv").write_text("id,notes\n1,x\n")
    with pytest.raises(ReportSourceError, match=r"r\.csv.*found columns \['id', 'notes'\]"):
        list(read_reports(tmp_path / "r.csv"))


def test_bad_json_line_named(tmp_path: Path):
    (tmp_path / "r.jsonl").write_text('{"AccessionNumber": "A", "ReportText": "x"}\n{oops\n')
    with pytest.raises(ReportSourceError, match=r"r\.jsonl:2"):
        list(read_reports(tmp_path / "r.jsonl"))


def test_conflicting_duplicate(tmp_path: Path):
    (tmp_path / "a.csv").write_text("AccessionNumber,ReportText\nA,one\n")
    (tmp_path / "b.csv").write_text("AccessionNumber,ReportText\nA,two\n")
    with pytest.raises(ReportSourceError, match="different report"):
        load_reports([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_link_leaving_folder_refused(tmp_path: Path):
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt/A.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ReportSourceError, match="leaves"):
        list(read_reports(tmp_path / "txt"))


def test_missing_path(tmp_path: Path):
    with pytest.raises(ReportSourceError, match="no such"):
        list(read_reports(tmp_path / "nope.csv"))
