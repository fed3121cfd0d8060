"""The ingest state on disk: one SQLite file holding the file index, series outcomes and manifest rows.

SQLite keeps memory flat in the archive's size and makes ingest resumable: an interrupted run reopens the
same file and redoes only what has no outcome yet. Identifiers stored here are already pseudonymous.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from medvlp.dicom.index import OK, QUARANTINED, SKIPPED, FileEntry

USED = "used"  # a file whose series became a manifest row


@dataclass
class SeriesInfo:
    """A series as the index sees it: header values shared by its files, and the files themselves."""

    series_uid: str
    study_uid: str
    patient_id: str
    accession: str
    modality: str
    n_files: int = 0
    views: set[str] = field(default_factory=set)
    image_types: set[str] = field(default_factory=set)
    orientations: set[str] = field(default_factory=set)
    thickness: float = 0.0
    description: str = ""
    burned_in: bool = False
    pixels: int = 0  # rows * cols of the first file


class IngestStore:
    """Tables: files (the index and every file's fate), series (outcome per series), rows (manifest rows)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        cols = ", ".join(
            f"{c} {'INTEGER' if c in _INTS else 'REAL' if c in _REALS else 'TEXT'}" for c in FileEntry.columns()
        )
        self.db.executescript(f"""
            CREATE TABLE IF NOT EXISTS files ({cols}, PRIMARY KEY (path));
            CREATE INDEX IF NOT EXISTS files_series ON files (series_uid);
            CREATE TABLE IF NOT EXISTS series (series_uid TEXT PRIMARY KEY, status TEXT, reason TEXT, message TEXT);
            CREATE TABLE IF NOT EXISTS rows (sample_id TEXT PRIMARY KEY, series_uid TEXT, row TEXT);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
        """)

    def close(self) -> None:
        self.db.commit()
        self.db.close()

    # -- meta ------------------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        self.db.commit()

    # -- files -----------------------------------------------------------------------------------------------
    def indexed_paths(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT path FROM files")}

    def add_files(self, entries: Iterable[FileEntry]) -> None:
        marks = ", ".join("?" * len(FileEntry.columns()))
        self.db.executemany(f"INSERT OR REPLACE INTO files VALUES ({marks})", (e.as_row() for e in entries))
        self.db.commit()

    def mark_duplicates(self) -> int:
        """Quarantine every file whose SOP instance UID was already seen in an earlier path (sorted order)."""
        rows = self.db.execute(
            "SELECT path, sop_uid FROM files WHERE status = ? AND sop_uid != '' ORDER BY sop_uid, path", (OK,)
        ).fetchall()
        dupes, last = [], None
        for path, sop in rows:
            if sop == last:
                dupes.append(path)
            last = sop
        self.db.executemany(
            "UPDATE files SET status = ?, reason = 'duplicate_sop_instance', "
            "message = 'same SOP Instance UID as another file; the first path in sorted order is used' "
            "WHERE path = ?",
            ((QUARANTINED, p) for p in dupes),
        )
        self.db.commit()
        return len(dupes)

    def series(self) -> Iterator[SeriesInfo]:
        """Series of the files still in play, in a stable order."""
        query = (
            "SELECT series_uid, study_uid, patient_id, accession, modality, path, view, image_type, "
            "orientation, slice_thickness, series_description, burned_in, rows * cols FROM files "
            "WHERE status = ? ORDER BY series_uid, path"
        )
        current: SeriesInfo | None = None
        for (
            uid,
            study,
            patient,
            acc,
            modality,
            _path,
            view,
            itype,
            orient,
            thick,
            desc,
            burned,
            pixels,
        ) in self.db.execute(query, (OK,)):
            if current is None or current.series_uid != uid:
                if current is not None:
                    yield current
                current = SeriesInfo(
                    uid,
                    study,
                    patient,
                    acc,
                    modality,
                    thickness=float(thick or 0),
                    description=desc,
                    pixels=int(pixels or 0),
                )
            current.n_files += 1
            current.views.add(view)
            current.image_types.add(itype)
            current.orientations.add(orient)
            current.burned_in |= burned == "YES"
        if current is not None:
            yield current

    def files_of(self, series_uid: str) -> list[FileEntry]:
        """Index entries of a series' files still in play, sorted by path."""
        query = f"SELECT {', '.join(FileEntry.columns())} FROM files WHERE series_uid = ? AND status = ? ORDER BY path"
        return [FileEntry(*row) for row in self.db.execute(query, (series_uid, OK))]

    # -- outcomes --------------------------------------------------------------------------------------------
    def series_outcome(self, series_uid: str) -> str | None:
        row = self.db.execute("SELECT status FROM series WHERE series_uid = ?", (series_uid,)).fetchone()
        return None if row is None else str(row[0])

    def set_series(
        self,
        series_uid: str,
        status: str,
        reason: str = "",
        message: str = "",
        rows: list[dict[str, object]] | None = None,
    ) -> None:
        """Record a series' fate and carry it to its files, in one transaction (so a crash leaves none half done)."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO series VALUES (?, ?, ?, ?)", (series_uid, status, reason, message))
            self.db.execute(
                "UPDATE files SET status = ?, reason = ?, message = ? WHERE series_uid = ? AND status = ?",
                (status, reason, message, series_uid, OK),
            )
            self.db.execute("DELETE FROM rows WHERE series_uid = ?", (series_uid,))
            for row in rows or []:
                self.db.execute(
                    "INSERT INTO rows VALUES (?, ?, ?)", (row["sample_id"], series_uid, json.dumps(row, sort_keys=True))
                )

    def manifest_rows(self) -> list[dict[str, object]]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT row FROM rows ORDER BY sample_id")]

    def outcomes(self, status: str) -> Iterator[tuple[str, str, str]]:
        """(path, reason, message) of every file with the given final status."""
        yield from self.db.execute("SELECT path, reason, message FROM files WHERE status = ? ORDER BY path", (status,))

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys((USED, QUARANTINED, SKIPPED, OK), 0)
        for status, n in self.db.execute("SELECT status, COUNT(*) FROM files GROUP BY status"):
            found[status] = n
        return found


_INTS = {
    "size",
    "rows",
    "cols",
    "frames",
    "samples",
    "bits_allocated",
    "instance_number",
    "bits_stored",
    "pixel_representation",
    "pixel_offset",
}
_REALS = {"slice_thickness", "rescale_slope", "rescale_intercept"}
