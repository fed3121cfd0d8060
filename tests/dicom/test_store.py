"""The SQLite ingest state: duplicates, series grouping, outcomes carried to files, atomic per series."""

from __future__ import annotations

from pathlib import Path

from medvlp.dicom.index import FileEntry
from medvlp.dicom.store import USED, IngestStore


def _entry(path: str, sop: str, series: str) -> FileEntry:
    return FileEntry(
        path=path,
        size=10,
        sop_uid=sop,
        series_uid=series,
        study_uid="st",
        patient_id="P",
        accession="A",
        modality="CT",
        orientation="1\\0\\0\\0\\1\\0",
        slice_thickness=2.0,
    )


def test_duplicates_series_and_outcomes(tmp_path: Path):
    store = IngestStore(tmp_path / "s.sqlite")
    store.add_files([_entry("b", "1", "X"), _entry("a", "1", "X"), _entry("c", "2", "X"), _entry("d", "3", "Y")])
    assert store.mark_duplicates() == 1
    assert [p for p, r, _ in store.outcomes("quarantined")] == ["b"]  # the first path in sorted order is kept
    series = {s.series_uid: s for s in store.series()}
    assert series["X"].n_files == 2 and series["Y"].n_files == 1
    assert [f.path for f in store.files_of("X")] == ["a", "c"]
    store.set_series("X", USED, rows=[{"sample_id": "X1", "v": 1}])
    store.set_series("Y", "skipped", "localizer", "scout")
    assert store.counts() == {"used": 2, "quarantined": 1, "skipped": 1, "ok": 0}
    assert store.manifest_rows() == [{"sample_id": "X1", "v": 1}] and store.series_outcome("Y") == "skipped"
    store.close()
    again = IngestStore(tmp_path / "s.sqlite")  # state survives a reopen (resume)
    assert again.indexed_paths() == {"a", "b", "c", "d"} and again.series_outcome("X") == USED
