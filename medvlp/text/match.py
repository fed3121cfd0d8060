"""Entity mentions in report text: which knowledge-graph entities a report names, and how it names them.

Each mention carries negation ('no effusion', 'pneumothorax has resolved'), uncertainty ('possible', 'cannot be
excluded', 'atelectasis versus pneumonia') and laterality, decided inside its clause: a cue reaches over a list
('no consolidation, effusion, or pneumothorax') but stops at 'but', 'however', 'which', ';' and at a comma or 'and'
that opens a new statement ('no effusion, small right pneumothorax'; 'no effusion, cardiomegaly is stable').
'Unchanged', 'stable', 'persistent' and 'again seen' are no cues, so those findings stay present; 'no change in' is a
pseudo-negation. A generic word takes the organ named beside it ('cyst in the left kidney' -> kidney_cyst, 'lesion in
hepatic segment 4' -> liver_lesion). Matching walks word tokens through tries built once from the graph (longest
form wins; case, hyphens and plurals ignored; abbreviations case-sensitive), so it labels thousands of reports a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from medvlp.knowledge import KnowledgeGraph, load_graph
from medvlp.text.cues import (
    ADJECTIVE_ORGAN,
    ASSERT,
    BARRIER,
    BLOCKED,
    BOTH,
    CUE_FILLERS,
    CUES,
    FILLERS,
    GENERIC,
    GENERIC_FORMS,
    MIDLINE,
    NORMAL_STATEMENTS,
    ORGANS,
    PREDICATE,
    SIDE,
)
from medvlp.text.reports import SECTIONS

Laterality = Literal["left", "right", "bilateral"]

_TOKEN = re.compile(r"[^\W_]+|[^\w\s'’-]")  # words, and punctuation marks other than - ' (which join words)
_ALL_HEADERS = sorted((re.escape(a) for aliases in SECTIONS.values() for a in aliases), key=len, reverse=True)
_HEADER = re.compile(r"(?im)^[ \t]*(" + "|".join(_ALL_HEADERS) + r")[ \t]*(?::|$)")
_SECTION_OF = {alias: name for name, aliases in SECTIONS.items() for alias in aliases}
_HARD_BREAK = re.compile(r"\n[ \t]*\n|^[ \t]*(?:\d{1,2}[.)]|[-*•])[ \t]+", re.M)  # blank line, list item marker
_LIST_NUMBER = re.compile(r"\d{1,2}[.)]")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z0-9(\[])")
_ABBREVIATION = re.compile(r"(?i)(?:^|[^\w.])(?:dr|mr|mrs|ms|vs|approx|fig|e\.g|i\.e)$")

# Words allowed inside a multi-word form ('heart is *mildly* enlarged', 'elevated *left* hemidiaphragm'), where 'not'
# and 'borderline' change its status, and inside a cue ('cannot be *entirely* excluded').


@dataclass(frozen=True)
class Mention:
    """One entity named in a report: character offsets into the report text, the words, and how it is stated."""

    entity_id: str
    start: int
    end: int
    text: str
    negated: bool = False
    uncertain: bool = False
    laterality: Laterality | None = None
    sentence_index: int = 0
    section: str = "findings"

    @property
    def status(self) -> str:
        """'uncertain', 'negative' or 'positive' (uncertainty wins over negation: 'cannot be excluded')."""
        return "uncertain" if self.uncertain else "negative" if self.negated else "positive"


def _tokens(phrase: str) -> list[str]:
    return [m.group().casefold() for m in _TOKEN.finditer(phrase)]


def _plural(tokens: list[str]) -> list[str]:
    last = tokens[-1]
    if last.endswith("y") and last[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return [*tokens[:-1], last[:-1] + "ies"]
    return [*tokens[:-1], last + ("es" if last.endswith(("s", "x", "sh", "ch")) else "s")]


def _add(trie: dict, tokens: list[str], value: tuple) -> None:
    node = trie
    for token in tokens:
        node = node.setdefault(token, {})
    node.setdefault("", value)  # '' is never a token, so it marks where a phrase ends


def section_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """(canonical section, start, end) of each section body, as reports.split_sections reads them."""
    headers = list(_HEADER.finditer(text))
    if not headers or headers[0].start() > 0:
        yield "findings", 0, headers[0].start() if headers else len(text)
    for k, m in enumerate(headers):
        yield _SECTION_OF[m.group(1).upper()], m.end(), headers[k + 1].start() if k + 1 < len(headers) else len(text)


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence of text[start:end], by the rules of reports.split_sentences, as offsets."""
    end = len(text) if end is None else end
    pieces, pos = [], start
    for m in _HARD_BREAK.finditer(text, start, end):
        pieces.append((pos, m.start()))
        pos = max(pos, m.end())
    pieces.append((pos, end))
    out = []
    for a, b in pieces:
        cuts = [
            m.end()
            for m in _SENTENCE_END.finditer(text, a, b)
            if not _ABBREVIATION.search(text[max(a, m.start() - 10) : m.start()])
        ]
        for s, e in zip([a, *cuts], [*cuts, b], strict=True):
            piece = text[s:e]
            if piece.strip() and not _LIST_NUMBER.fullmatch(piece.strip()):  # '1. No effusion. 2. ...' inline
                s += len(piece) - len(piece.lstrip())
                out.append((s, s + len(piece.strip())))
    return out


class Matcher:
    """Finds knowledge-graph mentions in reports; build once per graph (its tries are compiled here)."""

    def __init__(self, graph: KnowledgeGraph | None = None, include_anatomy: bool = False) -> None:
        self.graph = graph if graph is not None else load_graph()
        self.include_anatomy = include_anatomy
        self._anatomy = {e.id for e in self.graph.anatomy()}
        self._trie: dict = {}  # tokens -> (entity id, case-exact tokens or None, implied status)
        for e in self.graph:
            for form in (e.id, *e.aliases, e.name, *e.synonyms):
                _add(self._trie, _tokens(form.replace("_", " ")), (e.id, None, ""))
        for e in self.graph:
            for form in (e.id, e.name, *e.synonyms):
                _add(self._trie, _plural(_tokens(form.replace("_", " "))), (e.id, None, ""))
            for abbr in e.abbreviations:
                _add(self._trie, _tokens(abbr), (e.id, tuple(m.group() for m in _TOKEN.finditer(abbr)), ""))
        for entity, forms in NORMAL_STATEMENTS.items():
            for form in forms.split("|") if entity in self.graph else ():
                _add(self._trie, _tokens(form), (self.graph.resolve(entity), None, "neg"))
        for form in GENERIC_FORMS.split("|"):
            _add(self._trie, _tokens(form), (GENERIC, None, ""))
        _add(self._trie, _tokens(BLOCKED), (None, None, ""))
        self._cues: dict = {}  # tokens -> (status, None, direction)
        for (status, direction), phrases in CUES.items():
            for phrase in phrases.split("|"):
                _add(self._cues, _tokens(phrase), (status, None, direction))
        parts = {a: self._parts(a) for a in self._anatomy}
        self._midline = {a for a, up in parts.items() if any(p in MIDLINE for p in up)}
        self._organ_of = {a: next((p for p in up if p in ORGANS), None) for a, up in parts.items()}
        self._organ_words = {
            o: (ORGANS[o], self.graph.get(o).name, *self.graph.get(o).synonyms) for o in ORGANS if o in self.graph
        }
        self._refined: dict[tuple[str, str, str], str | None] = {}

    def _parts(self, anatomy_id: str) -> list[str]:
        """The anatomy itself and everything it is part of, nearest first."""
        order, frontier = [anatomy_id], [anatomy_id]
        while frontier:
            frontier = [p for a in frontier for p in self.graph.get(a).part_of if p not in order]
            order += frontier
        return order

    @staticmethod
    def _walk(trie: dict, low: list[str], orig: list[str], i: int, fillers: frozenset) -> tuple[int, tuple, str]:
        """Longest phrase of `trie` starting at token i: (end token, value, filler flags), or (i, (), '')."""
        node, k, flags, best = trie, i, "", (i, (), "")
        while k < len(low):
            child = node.get(low[k])
            if child is None:
                if node is not trie and low[k] in fillers:
                    flags += "n" if low[k] == "not" else "u" if low[k] == "borderline" else ""
                    k += 1
                    continue
                break
            node, k = child, k + 1
            value = node.get("")
            if value is not None and (value[1] is None or tuple(orig[k - len(value[1]) : k]) == value[1]):
                best = (k, value, flags)
        return best

    def find(self, text: str, sections: bool = True) -> list[Mention]:
        """Every mention in a report, in text order; `sections=False` reads the whole text as one findings section."""
        out: list[Mention] = []
        spans = section_spans(text) if sections else [("findings", 0, len(text))]
        index = 0
        for section, s0, e0 in spans:
            for a, b in sentence_spans(text, s0, e0):
                out += self._sentence(text, a, b, index, section)
                index += 1
        return out

    def _sentence(self, text: str, a: int, b: int, index: int, section: str) -> list[Mention]:
        """Mentions of one sentence: match forms, then cues, clauses, sides and organs."""
        found = list(_TOKEN.finditer(text, a, b))
        orig = [m.group() for m in found]
        low = [t.casefold() for t in orig]
        n, trie = len(low), self._trie
        mentions: list[list] = []  # [first token, end token, entity, flags]
        anatomy: list[tuple[int, int, str]] = []
        owner, i = [-1] * n, 0
        while i < n:
            j, value, flags = self._walk(trie, low, orig, i, FILLERS) if low[i] in trie else (i, (), "")
            if j == i:
                i += 1
                continue
            if value[0] in self._anatomy:
                anatomy.append((i, j, value[0]))
            elif value[0] is not None:
                owner[i:j] = [len(mentions)] * (j - i)
                mentions.append([i, j, value[0], flags + ("n" if value[2] == "neg" else "")])
            i = j
        if not mentions and not (self.include_anatomy and anatomy):
            return []
        cues = self._cue_list(low, owner)
        status = self._statuses(low, owner, mentions, cues)
        sides, organs = self._attach(low, owner, mentions, cues, anatomy)
        out = []
        for m, (i, j, entity, flags) in enumerate(mentions):
            entity = self._refine(entity, low[i:j], organs[m]) if m in organs else entity
            if entity != GENERIC:
                s, e = found[i].start(), found[j - 1].end()
                negated, uncertain = "n" in flags or status[m][0], "u" in flags or status[m][1]
                out.append(Mention(entity, s, e, text[s:e], negated, uncertain, sides.get(m), index, section))
        if self.include_anatomy:
            for i, j, entity in anatomy:
                s, e = found[i].start(), found[j - 1].end()
                out.append(Mention(entity, s, e, text[s:e], sentence_index=index, section=section))
            out.sort(key=lambda x: x.start)
        return out

    def _cue_list(self, low: list[str], owner: list[int]) -> dict[int, tuple[int, str, str]]:
        """Cue phrases on tokens outside mentions: first token -> (end token, status, direction)."""
        cues, i, trie = {}, 0, self._cues
        while i < len(low):
            if owner[i] < 0 and low[i] in trie:
                j, value, _ = self._walk(trie, low, low, i, CUE_FILLERS)
                if j > i and all(owner[k] < 0 for k in range(i, j)):
                    cues[i] = (j, value[0], value[2])
                    i = j
                    continue
            i += 1
        return cues

    def _statuses(
        self, low: list[str], owner: list[int], mentions: list[list], cues: dict[int, tuple[int, str, str]]
    ) -> list[tuple[bool, bool]]:
        """(negated, uncertain) of each mention: the nearest cue before it in scope and the nearest after it."""
        n, pre, post = len(low), [None] * len(mentions), [None] * len(mentions)
        active, k = None, 0
        while k < n:  # forward: pre cues, until a break or a new statement
            if owner[k] >= 0:
                pre[owner[k]] = active
                k = mentions[owner[k]][1]
            elif k in cues:
                j, cue, direction = cues[k]
                if cue == "break":
                    active = None
                elif direction != "post" and not (cue == "weak" and active == "neg"):
                    active = cue
                k = j
            else:
                if active is not None and low[k] in (",", "and") and self._new_statement(low, k + 1):
                    active = None
                k += 1
        active, k, ends = None, n, {j: (i, cue, d) for i, (j, cue, d) in cues.items()}
        while k > 0:  # backward: post cues, until a comma or a break
            if owner[k - 1] >= 0:
                post[owner[k - 1]] = active
                k = mentions[owner[k - 1]][0]
            elif k in ends:
                i, cue, direction = ends[k]
                active = None if cue == "break" else cue if direction != "pre" else active
                k = i
            else:
                active = None if low[k - 1] == "," else active
                k -= 1
        out = [("neg" in (p, q), bool({"unc", "weak"} & {p, q})) for p, q in zip(pre, post, strict=True)]
        for m in range(1, len(mentions)):  # 'effusion or atelectasis' outside a negation: either may be it
            gap = low[mentions[m - 1][1] : mentions[m][0]]
            hedge = ("or" in gap or "/" in gap) and len(gap) <= 4 and "," not in gap and pre[m] != "pseudo"
            if hedge and not out[m - 1][0] and not out[m][0]:
                out[m - 1], out[m] = (False, True), (False, True)
        return out

    @staticmethod
    def _new_statement(low: list[str], p: int) -> bool:
        """Whether the words from token p on open a new statement rather than continue a list."""
        while p < len(low) and low[p] in (",", "and"):
            p += 1
        if p >= len(low) or low[p] in ("or", "nor"):
            return False
        if low[p] in ASSERT or low[p].isdigit():
            return True
        for word in low[p:]:
            if word in (",", ";", ":", "but", "however"):
                return False
            if word in PREDICATE:
                return True
        return False

    def _attach(
        self, low: list[str], owner: list[int], mentions: list[list], cues: dict, anatomy: list[tuple[int, int, str]]
    ) -> tuple[dict[int, Laterality], dict[int, list[str]]]:
        """Side words and organs of a clause, each given to one mention: the one it premodifies when nothing stands
        between them ('small left effusion'), else the one it follows ('nodule in the right upper lobe')."""
        clause, c = [0] * len(low), 0
        for k in range(len(low)):
            c += k in cues and cues[k][1] == "break"
            clause[k] = c
        starts = [(clause[i], i, m) for m, (i, _, _, _) in enumerate(mentions)]

        def target(p: int) -> int | None:
            if owner[p] >= 0:
                return owner[p]
            after = next((m for cl, i, m in starts if i > p and cl == clause[p]), None)
            before = next((m for cl, i, m in reversed(starts) if mentions[m][1] <= p and cl == clause[p]), None)
            if after is not None and (before is None or BARRIER.isdisjoint(low[p + 1 : mentions[after][0]])):
                return after
            return before

        sides: dict[int, set[str]] = {}
        organs: dict[int, list[str]] = {}
        midline = {k for i, j, a in anatomy if a in self._midline for k in range(i, j)}
        for p, word in enumerate(low):
            side = SIDE.get(word) or (
                "bilateral" if word == "both" and low[p + 1 : p + 2] and low[p + 1] in BOTH else None
            )
            if side and p not in midline and (m := target(p)) is not None:
                sides.setdefault(m, set()).add(side)
            if word in ADJECTIVE_ORGAN and owner[p] < 0 and (m := target(p)) is not None:
                organs.setdefault(m, []).append(ADJECTIVE_ORGAN[word])
        for i, _, a in anatomy:
            if self._organ_of[a] and (m := target(i)) is not None:
                organs.setdefault(m, []).append(self._organ_of[a])  # type: ignore[arg-type]
        lateral = {m: "bilateral" if "bilateral" in s or len(s) > 1 else next(iter(s)) for m, s in sides.items()}
        return lateral, organs  # type: ignore[return-value]

    def _refine(self, entity: str, tokens: list[str], organs: list[str]) -> str:
        """The entity the organ beside a word makes of it ('renal' + 'cyst' -> kidney_cyst), else the entity; never a
        broader one ('ground-glass opacity' in a lung stays itself, not 'pulmonary opacity')."""
        words = " ".join(tokens)
        for organ in organs:
            key = (entity, words, organ)
            if key not in self._refined:
                heads = sorted({words, tokens[-1]} | ({self.graph.get(entity).name} if entity != GENERIC else set()))
                found = (self.graph.lookup(f"{w} {h}") for w in self._organ_words.get(organ, ()) for h in heads)
                broader = {entity, *self.graph.ancestors(entity)} if entity != GENERIC else set()
                self._refined[key] = next((f for f in found if f and f not in self._anatomy | broader), None)
            if self._refined[key]:
                return self._refined[key]  # type: ignore[return-value]
        return entity
