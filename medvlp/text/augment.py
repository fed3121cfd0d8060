"""Report-text augmentation for pre-training: synonym swaps, sentence shuffles, knowledge appending, phrases.

Every random step takes a numpy Generator, so one seed gives one augmented text. Knowledge comes only from the
graph (DeViDe-style: the radiographic description or definition of entities the report states positively), so
augmentation never copies text between reports. The laterality swap is not random here: the data pipeline draws
the flip once and applies it to the image and, through `swap_laterality`, to the text together. Mentions, their
status (positive / negative / uncertain) and side come from the report matcher (medvlp.text.match).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medvlp.knowledge import KnowledgeGraph, normalize
from medvlp.text.match import Matcher, Mention
from medvlp.text.reports import split_sections, split_sentences

POSITIVE, NEGATIVE, UNCERTAIN = "positive", "negative", "uncertain"
KNOWLEDGE_SOURCES = ("description", "definition", "both")


@dataclass(frozen=True)
class AugmentConfig:
    """Which augmentations run and how often; all off by default, so augment_report is then the identity.

    laterality_swap is the chance the data pipeline flips an image left-right; it then calls augment_report with
    flipped=True so the text follows (never drawn inside augment_report, which cannot flip the image).
    """

    synonym_swap: float = 0.0  # chance per entity mention of swapping in another synonym
    sentence_shuffle: bool = False  # shuffle sentences within each section
    sentence_keep: float = 1.0  # chance each sentence is kept (ConVIRT-style sampling; 1 = off)
    knowledge_append: float = 0.0  # chance per positive finding of appending its graph text
    knowledge_max_sentences: int = 3  # at most this many appended sentences per report
    knowledge_source: str = "description"  # description (for the modality) | definition | both
    laterality_swap: float = 0.0  # chance of a paired image flip + text swap (drawn by the data pipeline)

    def __post_init__(self) -> None:
        for name in ("synonym_swap", "knowledge_append", "laterality_swap", "sentence_keep"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"AugmentConfig.{name} must be a probability in [0, 1], got {value}")
        if self.knowledge_max_sentences < 0:
            raise ValueError(f"AugmentConfig.knowledge_max_sentences must be >= 0, got {self.knowledge_max_sentences}")
        if self.knowledge_source not in KNOWLEDGE_SOURCES:
            raise ValueError(
                f"AugmentConfig.knowledge_source must be one of {', '.join(KNOWLEDGE_SOURCES)}, "
                f"got '{self.knowledge_source}'"
            )


# --------------------------------------------------------------------------------------------------- mentions
_MATCHERS: weakref.WeakKeyDictionary[KnowledgeGraph, Matcher] = weakref.WeakKeyDictionary()
NEGATION_WORDS = frozenset({"no", "not", "without", "negative", "absent", "free", "cannot"})


def matcher_for(graph: KnowledgeGraph) -> Matcher:
    """The report matcher of a graph, anatomy included, built once per graph object."""
    if graph not in _MATCHERS:
        _MATCHERS[graph] = Matcher(graph, include_anatomy=True)
    return _MATCHERS[graph]


def find_mentions(text: str, graph: KnowledgeGraph) -> list[Mention]:
    """Entity mentions in text order (anatomy included), each with its status: positive, negative or uncertain."""
    return matcher_for(graph).find(text)


# --------------------------------------------------------------------------------------------- synonym swaps
_LATERAL_WORDS = frozenset({"left", "right", "bilateral", "both"})


def _words(form: str) -> set[str]:
    return set(normalize(form).split())


def _plural(form: str) -> bool:
    last = normalize(form).split()[-1] if normalize(form) else ""
    return last.endswith("s") and not last.endswith(("ss", "us", "is"))


def _clausal(form: str) -> bool:
    return bool(_words(form) & {"is", "are"})


def _styled(form: str, source: str, source_abbreviation: bool, upper_line: bool, sentence_start: bool) -> str:
    """form written in the case style of the text it replaces: UPPER, Capitalised, or as the graph stores it."""
    if upper_line or (source.isupper() and len(source) > 1 and not source_abbreviation):
        return form.upper()
    if sentence_start or (source[:1].isupper() and not source_abbreviation):
        return form[:1].upper() + form[1:]
    return form


def _synonyms_for(m: Mention, graph: KnowledgeGraph) -> list[str]:
    """Other surface forms of the mention's entity that fit where it stands; none for a negation cue ('no acute
    cardiopulmonary process') or a span that is not itself a form of the entity ('heart is mildly enlarged', 'cyst'
    read as kidney cyst from the organ beside it)."""
    if _words(m.text) & NEGATION_WORDS or graph.lookup(m.text) != m.entity_id:
        return []
    sides = _words(m.text) & _LATERAL_WORDS
    return [
        f
        for f in graph.get(m.entity_id).surface_forms
        if normalize(f) != normalize(m.text)
        and not (_words(f) & NEGATION_WORDS)
        and _words(f) & _LATERAL_WORDS == sides
        and _plural(f) == _plural(m.text)
        and _clausal(f) == _clausal(m.text)
    ]


def _stays(graph: KnowledgeGraph, left: str, new: str, right: str, entity_id: str) -> bool:
    """True when new, between its neighbours, is still read as exactly one mention of entity_id (a swap must not
    merge with a neighbour into another entity: 'left lower lung zone' -> 'left lung base')."""
    left, right = left[-40:], right[:40]
    span = (len(left), len(left) + len(new))
    found = matcher_for(graph).find(left + new + right, sections=False)
    return any((m.start, m.end, m.entity_id) == (*span, entity_id) for m in found)


def _fix_article(prefix: str, word: str, abbreviation: bool) -> str:
    """Turn a trailing 'a'/'an' of prefix into the one that fits word (an abbreviation by its first letter's name)."""
    m = re.search(r"(?<!\w)(a|an|A|An|AN)(\s+)$", prefix[-8:])
    if not m:
        return prefix
    vowel = word[:1] in "AEFHILMNORSX" if abbreviation else word[:1].lower() in "aeiou"
    article = "an" if vowel else "a"
    article = article.upper() if m.group(1).isupper() and len(m.group(1)) > 1 else article
    article = article[0].upper() + article[1:] if m.group(1)[0].isupper() else article
    return prefix[: len(prefix) - len(m.group(0))] + article + m.group(2)


def swap_synonyms(
    text: str, rng: np.random.Generator, graph: KnowledgeGraph, prob: float, mentions: Sequence[Mention] | None = None
) -> str:
    """Replace each entity mention, with probability prob, by another synonym of the same entity.

    The replacement keeps the case style, grammatical number, sentence form and laterality words of the original;
    mentions that contain a negation word are left alone so polarity never changes.
    """
    mentions = find_mentions(text, graph) if mentions is None else mentions
    out, pos = "", 0
    for m in mentions:
        if rng.random() >= prob:
            continue
        options = _synonyms_for(m, graph)
        abbreviations = graph.get(m.entity_id).abbreviations
        line = text[max(0, text.rfind("\n", 0, m.start)) : m.end + 40]
        upper = sum(c.isupper() for c in line) > 0.8 * max(1, sum(c.isalpha() for c in line))
        start = not text[: m.start].rstrip(" \t") or text[: m.start].rstrip(" \t")[-1] in ".!?:\n"
        source_abbreviation = m.text.upper() in {a.upper() for a in abbreviations}
        for k in rng.permutation(len(options)) if options else ():
            new = _styled(options[k], m.text, source_abbreviation, upper, start)
            left = _fix_article(out + text[pos : m.start], new, options[k] in abbreviations)
            if _stays(graph, left, new, text[m.end :], m.entity_id):
                out, pos = left + new, m.end
                break
    return out + text[pos:]


# ------------------------------------------------------------------------------------------- sentence shuffle
def shuffle_sentences(text: str, rng: np.random.Generator) -> str:
    """Shuffle the sentences of each section, keeping the sections in order; headers are rewritten canonically.

    A report without headers stays headerless (one block of shuffled sentences).
    """
    report = split_sections(text)
    headerless = report.order == ["findings"] and report.findings == re.sub(r"[ \t]+", " ", text).strip()
    blocks = []
    for name in report.order:
        sentences = split_sentences(report.sections[name])
        order = rng.permutation(len(sentences)) if len(sentences) > 1 else range(len(sentences))
        body = " ".join(sentences[i] for i in order)
        blocks.append(body if headerless else f"{name.upper()}: {body}")
    return "\n".join(blocks)


def sample_sentences(text: str, rng: np.random.Generator, keep: float) -> str:
    """Keep each sentence with probability `keep`, at least one (ConVIRT's sentence sampling), headers dropped.

    Zero-shot prompts are single sentences; a text tower that has only ever read whole reports embeds them out of
    distribution, and the direction between "There is X." and "No X." becomes arbitrary. Training on sampled
    sentences, pertinent negatives included, puts short texts in distribution.
    """
    report = split_sections(text)
    sentences = [s for name in report.order for s in split_sentences(report.sections[name])]
    if len(sentences) <= 1 or keep >= 1.0:
        return text
    kept = [s for s in sentences if rng.random() < keep]
    return " ".join(kept) if kept else sentences[int(rng.integers(len(sentences)))]


# --------------------------------------------------------------------------------------------------- knowledge
def positive_entities(mentions: Sequence[Mention], graph: KnowledgeGraph) -> list[str]:
    """Non-anatomy entity ids stated positively, in order of first mention (each once)."""
    ids = [m.entity_id for m in mentions if m.status == POSITIVE and graph.get(m.entity_id).kind != "anatomy"]
    return list(dict.fromkeys(ids))


def knowledge_text(graph: KnowledgeGraph, entity_id: str, modality: str, source: str = "description") -> list[str]:
    """The graph's sentences about an entity: its description for the modality and/or its definition."""
    entity = graph.get(entity_id)
    texts = []
    if source in ("description", "both"):
        texts.append(graph.description(entity_id, modality) or "")
    if source in ("definition", "both"):
        texts.append(entity.definition)
    return [s for t in texts if t for s in split_sentences(t)]


def append_knowledge(
    text: str,
    rng: np.random.Generator,
    graph: KnowledgeGraph,
    modality: str,
    prob: float,
    max_sentences: int = 3,
    source: str = "description",
    mentions: Sequence[Mention] | None = None,
) -> str:
    """Append, per positively stated entity with probability prob, '<Name>: <graph sentences>' on a new line.

    Only graph text is added (never text of another report), at most max_sentences sentences in all.
    """
    mentions = find_mentions(text, graph) if mentions is None else mentions
    lines, budget = [], max_sentences
    for entity_id in positive_entities(mentions, graph):
        if rng.random() >= prob or budget <= 0:
            continue
        sentences = knowledge_text(graph, entity_id, modality, source)[:budget]
        if sentences:
            name = graph.get(entity_id).name
            lines.append(f"{name[:1].upper()}{name[1:]}: {' '.join(sentences)}")
            budget -= len(sentences)
    return "\n".join([text, *lines]) if lines else text


# ----------------------------------------------------------------------------------------------------- phrases
@dataclass(frozen=True)
class Phrases:
    """Anatomy and pathology phrases of one report for the two streams (MeDSLIP), in order of first mention.

    Pathology phrases carry status and side in words ('no pneumothorax', 'possible pneumonia', 'left pleural
    effusion'); the id, status and laterality lists run parallel to the phrase lists.
    """

    anatomy: list[str]
    pathology: list[str]
    anatomy_ids: list[str]
    pathology_ids: list[str]
    pathology_status: list[str]
    pathology_laterality: list[str | None]


_RANK = {POSITIVE: 0, UNCERTAIN: 1, NEGATIVE: 2}
_PREFIX = {POSITIVE: "", UNCERTAIN: "possible ", NEGATIVE: "no "}


def extract_phrases(text: str, graph: KnowledgeGraph, mentions: Sequence[Mention] | None = None) -> Phrases:
    """Entities of a report split into anatomy and pathology (every other kind), each once.

    An entity said several ways keeps its strongest statement (positive over uncertain over negative) and the
    sides said with it; left and right together become bilateral. Negative phrases carry no side.
    """
    mentions = find_mentions(text, graph) if mentions is None else mentions
    anatomy: dict[str, None] = {}
    pathology: dict[str, tuple[str, set[str]]] = {}
    for m in mentions:
        if graph.get(m.entity_id).kind == "anatomy":
            anatomy.setdefault(m.entity_id)
            continue
        status, sides = pathology.get(m.entity_id, (NEGATIVE, set()))
        if m.entity_id not in pathology or _RANK[m.status] < _RANK[status]:
            status, sides = m.status, set()
        if m.status == status and m.laterality and status != NEGATIVE:
            sides.add(m.laterality)
        pathology[m.entity_id] = (status, sides)
    lateral = [None if not s else "bilateral" if len(s) > 1 else next(iter(s)) for _, s in pathology.values()]
    return Phrases(
        anatomy=[graph.get(i).name for i in anatomy],
        pathology=[
            _PREFIX[status] + (f"{side} " if side else "") + graph.get(i).name
            for (i, (status, _)), side in zip(pathology.items(), lateral, strict=True)
        ],
        anatomy_ids=list(anatomy),
        pathology_ids=list(pathology),
        pathology_status=[status for status, _ in pathology.values()],
        pathology_laterality=lateral,
    )


# -------------------------------------------------------------------------------------------------- laterality
_SIDE_PAIRS = {"left": "right", "lt": "rt", "rul": "lul", "rml": "lml", "rll": "lll", "levo": "dextro"}
_SIDE_PAIRS |= {v: k for k, v in _SIDE_PAIRS.items()}
_LR_CONTEXT = (
    r"hemithorax|hemidiaphragm|lung|base|apex|apical|basilar|hilum|hilar|lobe|upper|middle|lower|mid|pleural"
    r"|effusion|chest|side|sided|costophrenic|CP|IJ|internal|subclavian|PICC|arm|breast|kidney|renal|adrenal"
    r"|rib|ribs|clavicle|shoulder|axilla|axillary|paratracheal|perihilar|heart|atrial|ventricular"
)
_LATERALITY = re.compile(
    r"(?i:\b(?P<word>left|right)(?:wards?)?\b(?!\s+(?:in\s+place|behind|untreated|over|atri|ventric))"
    r"|\b(?P<lvo>levo|dextro)(?=(?:scoliosis|convex|convexity|cardia|position|positioned|rotation|rotated)\b)"
    r"|\b(?P<abbr>lt|rt|rul|rml|rll|lul|lml|lll)\b)"
    r"|(?P<cmp>\b[RL]\s*[<>=]\s*[RL]\b)|\((?P<paren>[RL])\)"
    rf"|\b(?P<lr>[RL])\b(?=\.?[ -](?i:{_LR_CONTEXT})\b)"
)


def _case_like(new: str, old: str) -> str:
    if old.isupper():
        return new.upper()
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def _swap_token(m: re.Match[str]) -> str:
    token = m.group(0)
    if m.group("cmp") or m.group("paren") or m.group("lr"):
        return token.translate(str.maketrans("RL", "LR"))
    core = m.group("word") or m.group("lvo") or m.group("abbr")
    return _case_like(_SIDE_PAIRS[core.lower()], core) + token[len(core) :]


def swap_laterality(text: str) -> str:
    """Swap left and right in every written form, for a text paired with a left-right flipped image.

    left/right in any case (also left-sided, leftward), Lt/Rt, RUL/LUL, RLL/LLL, RML/LML, levo-/dextro-
    (levoscoliosis), R/L only before a place word ('R hemithorax', 'L base'), compared ('R > L') or as '(R)'. Bilateral
    wording is unchanged, and so are heart chambers named by anatomy ('right ventricle'), which a flip does not
    turn into the other chamber. Applying it twice gives the text back.
    """
    return _LATERALITY.sub(_swap_token, text)


# ------------------------------------------------------------------------------------------------------ report
def augment_report(
    text: str,
    rng: np.random.Generator,
    graph: KnowledgeGraph,
    cfg: AugmentConfig,
    modality: str,
    flipped: bool = False,
) -> str:
    """Apply the enabled augmentations: laterality swap (when the image was flipped), synonym swaps, sentence
    shuffle, sentence sampling, then knowledge appending last so graph text is never swapped or shuffled."""
    if flipped:
        text = swap_laterality(text)
    appending = cfg.knowledge_append > 0 and cfg.knowledge_max_sentences > 0
    # matching took 60% of the text transform's time per item (demo CXR): run it only for the augmentations using it
    mentions = find_mentions(text, graph) if cfg.synonym_swap > 0 or appending else None
    if cfg.synonym_swap > 0:
        text = swap_synonyms(text, rng, graph, cfg.synonym_swap, mentions)
    if cfg.sentence_shuffle:
        text = shuffle_sentences(text, rng)
    if cfg.sentence_keep < 1.0:
        text = sample_sentences(text, rng, cfg.sentence_keep)
    if appending:
        budget, source = cfg.knowledge_max_sentences, cfg.knowledge_source
        text = append_knowledge(text, rng, graph, modality, cfg.knowledge_append, budget, source, mentions)
    return text
