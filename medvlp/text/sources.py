"""Report tables as hospitals export them: CSV, JSONL, or a folder of text files named by accession number.

Each source yields (key, text), keyed by AccessionNumber (or StudyInstanceUID where the table has no accession
column). Column names are matched case-insensitively among common spellings; a table without a usable key or
text column is refused with the columns it does have.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

KEY_COLUMNS = {
    "accession": ("accessionnumber", "accession_number", "accession", "acc", "accession_no"),
    "study_uid": ("studyinstanceuid", "study_instance_uid", "study_uid", "studyuid"),
}
TEXT_COLUMNS = ("reporttext", "report_text", "report", "text", "findings_impression", "body")


class ReportSourceError(ValueError):
    """A report source that cannot be read; the message names the file and the fix."""


def _pick(columns: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {c.lower().strip(): c for c in columns}
    return next((lowered[w] for w in wanted if w in lowered), None)


def _key_and_text(path: Path, columns: list[str]) -> tuple[str, str, str]:
    text_col = _pick(columns, TEXT_COLUMNS)
    for kind, names in KEY_COLUMNS.items():
        key_col = _pick(columns, names)
        if key_col and text_col:
            return kind, key_col, text_col
    raise ReportSourceError(
        f"{path}: needs an accession (or StudyInstanceUID) column and a report text column; "
        f"found columns {columns}. Rename them, e.g. to AccessionNumber and ReportText."
    )


def read_reports(path: Path) -> Iterator[tuple[str, str, str]]:
    """Yield (key kind, key, report text) from a CSV, a JSONL file or a folder of .txt files."""
    path = Path(path)
    if path.is_dir():
        for file in sorted(path.glob("*.txt")):
            if file.is_symlink() and not file.resolve().is_relative_to(path.resolve()):
                raise ReportSourceError(f"{file}: a link that leaves {path}; copy the file in instead")
            yield "accession", file.stem, file.read_text(encoding="utf-8", errors="replace")
        return
    if not path.is_file():
        raise ReportSourceError(f"{path}: no such report file or folder")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ReportSourceError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
                kind, key_col, text_col = _key_and_text(path, list(record))
                yield kind, str(record[key_col]).strip(), str(record.get(text_col) or "")
        return
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        kind, key_col, text_col = _key_and_text(path, list(reader.fieldnames or []))
        for row in reader:
            yield kind, str(row[key_col]).strip(), str(row.get(text_col) or "")


def load_reports(paths: list[Path]) -> dict[tuple[str, str], str]:
    """All reports from all sources, keyed by (key kind, key); a later duplicate of a key is an error."""
    out: dict[tuple[str, str], str] = {}
    origin: dict[tuple[str, str], Path] = {}
    for path in paths:
        for kind, key, text in read_reports(path):
            if (kind, key) in out and out[(kind, key)] != text:
                raise ReportSourceError(f"{path}: {kind} {key!r} has a different report in {origin[(kind, key)]}")
            out[(kind, key)] = text
            origin[(kind, key)] = path
    return out
