"""Sentence grammar of the phantom reports: articles, sizes, grades, and the positive, hedged and impression
forms of a finding's Phrase. report_phrases.py says what each finding is called; this module says how.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    """One option, drawn with `rng` only, so the same generator state gives the same text."""
    return options[int(rng.integers(len(options)))]


def cap(text: str) -> str:
    """Capitalise the first letter only (keeps proper nouns such as Kerley or Bosniak intact)."""
    return text[:1].upper() + text[1:]


_AN_NUMBER = re.compile(r"^(?:8\d?|11|18)(?:\.\d+)?\b")


def with_article(phrase: str) -> str:
    """'a' or 'an' in front of a noun phrase, reading numbers aloud ('an 8 mm nodule', 'a 12 mm nodule')."""
    vowel = phrase[:1].lower() in "aeiou" or bool(_AN_NUMBER.match(phrase))
    return ("an " if vowel else "a ") + phrase


def mm(size: float) -> str:
    """A size as radiologists dictate small lesions: whole millimetres."""
    return f"{size:.0f} mm"


def grade(value: float, cuts: tuple[float, float], words: tuple[str, str, str]) -> str:
    """Severity word of a value against two cut points (small/moderate/large, mild/moderate/severe)."""
    return words[0] if value < cuts[0] else words[1] if value < cuts[1] else words[2]


@dataclass(frozen=True)
class Phrase:
    """How one drawn finding is worded.

    np: core noun phrase naming the finding with its side ("small left pleural effusion"), used when hedged.
    detail: extra clause for a positive findings sentence; sentence: a complete positive sentence instead.
    impression: the short form for the impression; extra: a follow-up sentence naming no finding;
    doubtful: the short form when hedged, without a verdict such as 'benign' (defaults to impression).
    """

    np: str
    impression: str
    group: str
    detail: str = ""
    sentence: str = ""
    extra: str = ""
    countable: bool = True
    plural: bool = False
    doubtful: str = ""


def _noun(p_countable: bool, plural: bool, phrase: str) -> str:
    return with_article(phrase) if p_countable and not plural else phrase


def positive_sentence(rng: np.random.Generator, p: Phrase) -> str:
    """A findings sentence stating the finding as present."""
    if p.sentence:
        return p.sentence
    body = p.np + p.detail
    if p.plural:
        templates = ("{B}.", "There are {b}.", "{B} are present.", "{B} are noted.")
    elif p.countable:
        templates = ("{B}.", "There is {ab}.", "{AB} is present.", "{AB} is noted.")
    else:
        templates = ("{B}.", "There is {b}.", "{B} is present.", "{B} is noted.")
    noun = _noun(p.countable, p.plural, body)
    return pick(rng, templates).format(B=cap(body), b=body, ab=noun, AB=cap(noun))


HEDGES = (
    "Possible {n}.",
    "Questionable {n}.",
    "{AN} cannot be excluded.",
    "Cannot exclude {an}.",
    "Subtle finding that may represent {an}.",
)


def hedged_sentence(rng: np.random.Generator, p: Phrase, short: bool = False) -> str:
    """A sentence leaving the finding uncertain ('possible', 'cannot exclude', 'questionable', 'may represent')."""
    phrase = (p.doubtful or p.impression) if short else p.np
    noun = _noun(p.countable, p.plural, phrase)
    return pick(rng, HEDGES).format(n=phrase, an=noun, AN=cap(noun))


_FOLLOW_UP = ("Consider follow-up imaging.", "Clinical correlation is recommended.", "Attention on follow-up.")


def impression_item(rng: np.random.Generator, p: Phrase, hedged: bool) -> str:
    """One impression statement for a mentioned finding, with its follow-up advice now and then."""
    if hedged:
        text = hedged_sentence(rng, p, short=True)
        return text + (" " + pick(rng, _FOLLOW_UP) if rng.random() < 0.4 else "")
    return cap(p.impression) + "." + (" " + p.extra if p.extra and rng.random() < 0.75 else "")
