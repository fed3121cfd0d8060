"""Report structure: sections (FINDINGS, IMPRESSION, ...) and sentences, tolerant of how hospitals write them.

Headers are recognised in any case, with or without a colon, on their own line or inline ("Findings: ...");
synonyms map to canonical names ("CLINICAL HISTORY" -> INDICATION, "CONCLUSION" -> IMPRESSION). Text before any
header, or a report with no headers at all, lands in FINDINGS so free text is never lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTIONS: dict[str, tuple[str, ...]] = {
    "exam": ("EXAM", "EXAMINATION", "PROCEDURE", "STUDY"),
    "indication": (
        "INDICATION",
        "INDICATIONS",
        "CLINICAL HISTORY",
        "HISTORY",
        "CLINICAL INFORMATION",
        "REASON FOR EXAM",
        "REASON FOR EXAMINATION",
        "CLINICAL INDICATION",
    ),
    "technique": ("TECHNIQUE", "PROTOCOL"),
    "comparison": ("COMPARISON", "COMPARISONS", "PRIOR", "PRIORS"),
    "findings": ("FINDINGS", "FINDING", "REPORT", "DESCRIPTION"),
    "impression": ("IMPRESSION", "IMPRESSIONS", "CONCLUSION", "CONCLUSIONS", "SUMMARY", "OPINION", "DIAGNOSIS"),
}
_ALIASES = {alias: name for name, aliases in SECTIONS.items() for alias in aliases}
_HEADER = re.compile(
    r"(?im)^[ \t]*(" + "|".join(sorted((re.escape(a) for a in _ALIASES), key=len, reverse=True)) + r")[ \t]*(?::|$)"
)
_ABBREVIATIONS = ("dr", "mr", "mrs", "ms", "vs", "approx", "e.g", "i.e", "fig")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])|\n\s*\n")


@dataclass
class ParsedReport:
    """A report split into canonical sections (name -> text); `order` keeps the original section order."""

    sections: dict[str, str] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.sections.get(name, "")

    @property
    def findings(self) -> str:
        return self.get("findings")

    @property
    def impression(self) -> str:
        return self.get("impression")


def _clean(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text).strip()


def split_sections(text: str) -> ParsedReport:
    """Split report text into canonical sections; repeated sections are joined, unknown text goes to findings."""
    report = ParsedReport()
    matches = list(_HEADER.finditer(text))
    spans: list[tuple[str, int, int]] = []
    if not matches or matches[0].start() > 0:
        spans.append(("findings", 0, matches[0].start() if matches else len(text)))
    for k, m in enumerate(matches):
        end = matches[k + 1].start() if k + 1 < len(matches) else len(text)
        spans.append((_ALIASES[m.group(1).upper()], m.end(), end))
    for name, start, end in spans:
        body = _clean(text[start:end])
        if not body:
            continue
        if name in report.sections:
            report.sections[name] = f"{report.sections[name]}\n{body}"
        else:
            report.sections[name] = body
            report.order.append(name)
    return report


def split_sentences(text: str) -> list[str]:
    """Sentences of a section: split at . ! ? before a capital or digit, at blank lines and at list items.

    Abbreviations (Dr., approx., e.g.) and decimals (2.5 cm) do not end a sentence.
    """
    protected = re.sub(r"(?m)^[ \t]*(?:\d+[.)]|[-*•])[ \t]+", "\n\n", text)  # list items start sentences
    for abbr in _ABBREVIATIONS:
        protected = re.sub(rf"(?i)\b({re.escape(abbr)})\.(?=\s)", r"\1<DOT>", protected)
    parts = _SENTENCE_END.split(protected)
    out = []
    for part in parts:
        sentence = _clean(part.replace("<DOT>", ".").replace("\n", " "))
        if sentence:
            out.append(sentence)
    return out
