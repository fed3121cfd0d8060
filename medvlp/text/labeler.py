"""Report labels from mentions: 1 positive, 0 negative, -1 uncertain, NaN not mentioned, per finding.

A finding counts mentions of itself and of its descendants in the knowledge graph (a pacemaker is a support device,
a ground-glass nodule a lung nodule), so one vocabulary serves CheXpert, the phantom and any list of entity ids.
Over a report: any positive mention makes it 1, else any uncertain -1, else any negative 0, else NaN. Only what the
reader saw counts: INDICATION, CLINICAL HISTORY, COMPARISON, TECHNIQUE and EXAM are skipped ('evaluate for
pneumonia' is a question, not a finding).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from medvlp.knowledge import KnowledgeGraph, load_graph
from medvlp.text.match import Matcher, Mention
from medvlp.text.sources import KEY_COLUMNS, TEXT_COLUMNS, ReportSourceError, read_reports

if TYPE_CHECKING:
    import pandas as pd

IGNORED_SECTIONS = frozenset({"indication", "technique", "comparison", "exam"})
NO_FINDING = "no_finding"
_NOT_PATHOLOGY = ("support_devices", NO_FINDING)  # do not spoil 'No Finding' (as in CheXpert)
_RANK = {1.0: 3, -1.0: 2, 0.0: 1}  # positive > uncertain > negative


def mention_value(mention: Mention) -> float:
    """1.0 positive, -1.0 uncertain, 0.0 negative."""
    return -1.0 if mention.uncertain else 0.0 if mention.negated else 1.0


class Labeler:
    """Labels reports for a fixed list of findings: entity ids/aliases, or a label-set name ('chexpert').

    Keys of the result are the caller's names: the label-set labels ('Pleural Effusion') or the ids as given
    ('nodule'). 'No Finding' is 1 when no other labelled pathology (support devices aside) is positive or uncertain,
    else NaN; labelled alone, it looks at every finding and diagnosis the report states.
    """

    def __init__(
        self,
        graph: KnowledgeGraph | None = None,
        findings: Sequence[str] | str = "chexpert",
        matcher: Matcher | None = None,
    ) -> None:
        self.graph = graph if graph is not None else (matcher.graph if matcher is not None else load_graph())
        self.matcher = matcher if matcher is not None else Matcher(self.graph)
        if isinstance(findings, str):
            targets = self.graph.label_set(findings)
        else:
            targets = {f: self.graph.resolve(f) for f in findings}
        if not targets:
            raise ValueError("a labeler needs at least one finding")
        self.findings: tuple[str, ...] = tuple(targets)
        self.targets = targets
        self._labels_of: dict[str, list[str]] = {}  # entity id -> labels it counts for
        for label, entity in targets.items():
            for e in (entity, *self.graph.descendants(entity)):
                self._labels_of.setdefault(e, []).append(label)
        self._pathology = [label for label, e in targets.items() if e not in _NOT_PATHOLOGY]
        self._no_finding = [label for label, e in targets.items() if e == NO_FINDING]
        self._any_pathology = {e.id for e in self.graph if e.kind in ("finding", "diagnosis")}

    def mentions(self, report_text: str) -> list[Mention]:
        """The mentions of a report that count for labels (sections the reader wrote findings in)."""
        return [m for m in self.matcher.find(report_text) if m.section not in IGNORED_SECTIONS]

    def label_mentions(self, mentions: Iterable[Mention]) -> dict[str, float]:
        """Aggregate mentions into one value per finding (positive > uncertain > negative > NaN)."""
        out = dict.fromkeys(self.findings, math.nan)
        mentions = list(mentions)
        for m in mentions:
            value = mention_value(m)
            for label in self._labels_of.get(m.entity_id, ()):
                if label in self._no_finding:
                    continue
                if math.isnan(out[label]) or _RANK[value] > _RANK[out[label]]:
                    out[label] = value
        if self._no_finding:  # judged by the other labels, or by every finding when there are none
            spoiled = any(out[label] in (1.0, -1.0) for label in self._pathology) or (
                not self._pathology and any(m.entity_id in self._any_pathology and not m.negated for m in mentions)
            )
            for label in self._no_finding:
                out[label] = math.nan if spoiled else 1.0
        return out

    def label(self, report_text: str) -> dict[str, float]:
        """Labels of one report: finding -> 1.0 / 0.0 / -1.0 / NaN."""
        return self.label_mentions(self.mentions(report_text))

    def label_table(self, rows: Mapping[str, str] | Iterable[str] | Iterable[tuple[str, str]]) -> pd.DataFrame:
        """Labels of many reports as a DataFrame (one column per finding); a mapping or (key, text) pairs give the
        index, plain texts a running one."""
        import pandas as pd

        items = list(rows.items()) if hasattr(rows, "items") else list(rows)  # type: ignore[union-attr]
        if items and all(isinstance(x, str) for x in items):
            keys, texts = list(range(len(items))), items
        else:
            keys, texts = [k for k, _ in items], [t for _, t in items]
        table = pd.DataFrame([self.label(str(t)) for t in texts], columns=list(self.findings), dtype=float)
        table.index = pd.Index(keys)
        return table


def _read_csv(path: Path, text_column: str | None, key_column: str | None) -> tuple[str, list[tuple[str, str]]]:
    """(key column name, [(key, text)]) from a CSV; columns are given or found among the usual spellings."""
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh)
        columns = list(reader.fieldnames or [])
        lowered = {c.lower().strip(): c for c in columns}

        def pick(given: str | None, wanted: Iterable[str]) -> str | None:
            if given is not None:
                if given not in columns:
                    raise ReportSourceError(f"{path}: no column {given!r}; found columns {columns}")
                return given
            return next((lowered[w] for w in wanted if w in lowered), None)

        text_col = pick(text_column, TEXT_COLUMNS)
        key_col = pick(key_column, (name for names in KEY_COLUMNS.values() for name in names))
        if text_col is None or key_col is None:
            raise ReportSourceError(
                f"{path}: needs a key column (accession or StudyInstanceUID) and a report text column; found columns "
                f"{columns}. Name them with key_column= / text_column= (--key-column / --text-column)."
            )
        return key_col, [(str(row[key_col]).strip(), str(row.get(text_col) or "")) for row in reader]


def label_reports_csv(
    in_path: Path | str,
    out_path: Path | str,
    findings: Sequence[str] | str = "chexpert",
    text_column: str | None = None,
    key_column: str | None = None,
    graph: KnowledgeGraph | None = None,
) -> pd.DataFrame:
    """Label a report table and write a labels CSV: the key column, then one column per finding (1, 0, -1; blank
    where not mentioned). Reads CSV (columns detected as in medvlp.text.sources unless named), JSONL or a folder of
    .txt files. Returns the labels table."""
    in_path, out_path = Path(in_path), Path(out_path)
    if in_path.is_file() and in_path.suffix.lower() == ".csv":
        key_col, rows = _read_csv(in_path, text_column, key_column)
    else:
        if text_column or key_column:
            raise ReportSourceError(f"{in_path}: text_column / key_column apply to CSV tables only")
        records = list(read_reports(in_path))
        key_col = "StudyInstanceUID" if records and records[0][0] == "study_uid" else "AccessionNumber"
        rows = [(key, text) for _, key, text in records]
    table = Labeler(graph, findings).label_table(rows)
    table.index.name = key_col
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_path, na_rep="", float_format="%g")
    return table
