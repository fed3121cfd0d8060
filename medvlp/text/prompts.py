"""Zero-shot prompts from the knowledge graph: per finding an ensemble of positive and negative sentences.

Positives are templates x surface forms (the name and its synonyms), plus the finding's radiographic
description for the modality (KAD/DeViDe-style knowledge prompts); negatives negate the same forms. Everything
comes from the graph and the templates below, so a prompt can never carry text of a report. The order is
deterministic, and any prefix (max_per_finding) already mixes templates and synonyms.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass

from medvlp.knowledge import KnowledgeGraph, normalize

# Placeholders: {name} a surface form, {Name} capitalised, {is} 'is'/'are' by its number, {side}/{Side} left or
# right (templates with a side are used only for findings of paired organs).
POSITIVE_TEMPLATES: tuple[str, ...] = (
    "{Name}.",
    "There {is} {name}.",
    "{Name} {is} present.",
    "Findings consistent with {name}.",
    "{Side} {name}.",
    "There {is} {name} on the {side}.",
)
NEGATIVE_TEMPLATES: tuple[str, ...] = (
    "No {name}.",
    "There {is} no {name}.",
    "No evidence of {name}.",
    "{Name} {is} not seen.",
)
DESCRIPTION_TEMPLATE = "{Name}: {description}"
# The 'normal' kind states itself ('no acute cardiopulmonary process'); these are its negatives.
NORMAL_NEGATIVES: tuple[str, ...] = (
    "Abnormal study.",
    "There is an acute abnormality.",
    "Abnormal findings are present.",
)
# Anatomy that comes in a left and a right one; a finding located in it (or in a part of it) can be sided.
PAIRED_ANATOMY: tuple[str, ...] = (
    "lung",
    "pleura",
    "pleural_space",
    "diaphragm",
    "kidney",
    "adrenal_gland",
    "ribs",
    "clavicle",
)
SIDES = ("left", "right")
_FIELDS = frozenset({"name", "Name", "is", "side", "Side"})
_NEGATION_WORDS = frozenset({"no", "not", "without", "negative"})


@dataclass(frozen=True)
class PromptSet:
    """Prompts of one finding: `finding` as asked (id or alias), `entity_id` its canonical graph id."""

    finding: str
    entity_id: str
    positives: list[str]
    negatives: list[str]


def _fields(template: str) -> set[str]:
    fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    unknown = fields - _FIELDS
    if unknown:
        raise ValueError(
            f"prompt template '{template}' has unknown placeholder(s) {', '.join(sorted(unknown))} "
            f"(allowed: {', '.join(sorted(_FIELDS))})"
        )
    return fields


def _plural(form: str) -> bool:
    words = normalize(form).split()
    return bool(words) and words[-1].endswith("s") and not words[-1].endswith(("ss", "us", "is"))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _clausal(form: str) -> bool:
    """A form that is already a statement ('heart is enlarged'): only used as a sentence of its own."""
    return bool(set(normalize(form).split()) & {"is", "are"})


def _negated_clause(form: str) -> str:
    """'heart is enlarged' -> 'heart is not enlarged'."""
    words = form.split()
    k = next(i for i, w in enumerate(words) if w.lower() in ("is", "are"))
    return " ".join([*words[: k + 1], "not", *words[k + 1 :]])


def _fill(template: str, form: str, side: str = "") -> str:
    values = {"name": form, "Name": _cap(form), "is": "are" if _plural(form) else "is", "side": side}
    values["Side"] = _cap(side)
    return template.format(**values)


def _is_lateral(graph: KnowledgeGraph, entity_id: str) -> bool:
    """True for a finding located in paired anatomy or a part of it (pleural effusion, lung nodule, kidney cyst)."""
    entity = graph.get(entity_id)
    if entity.kind != "finding":
        return False
    frontier, seen = list(entity.located_in), set()
    while frontier:
        place = frontier.pop()
        if place in PAIRED_ANATOMY:
            return True
        if place not in seen and place in graph:
            seen.add(place)
            frontier += list(graph.get(place).part_of)
    return False


def _diagonal(grid: list[list[str]]) -> list[str]:
    """Row-major grid (template x form) read by anti-diagonals, unique: any prefix mixes templates and forms."""
    cells = [(t + f, t, text) for t, row in enumerate(grid) for f, text in enumerate(row)]
    return list(dict.fromkeys(text for _, _, text in sorted(cells, key=lambda c: (c[0], c[1]))))


def _ensemble(templates: Sequence[str], forms: Sequence[str], lateral: bool, negate: bool) -> list[list[str]]:
    """One row per template (a sided template gives one row per side), one column per fitting form."""
    rows: list[list[str]] = []
    for template in templates:
        fields = _fields(template)
        sided = bool(fields & {"side", "Side"})
        if sided and not lateral:
            continue
        bare = template.strip() in ("{Name}.", "No {name}.")
        for side in SIDES if sided else ("",):
            row = []
            for form in forms:
                if sided and _plural(form):
                    continue  # one side has one 'left pleural effusion', not 'left pleural effusions'
                if not _clausal(form):
                    row.append(_fill(template, form, side))
                elif bare:  # a statement form fits only a bare sentence: 'Heart is enlarged.' / 'Heart is not ...'
                    row.append(_cap(_negated_clause(form) if negate else form) + ".")
            rows.append(row)
    return rows


def prompt_set(
    graph: KnowledgeGraph,
    finding: str,
    modality: str,
    templates: Sequence[str] | None = None,
    negative_templates: Sequence[str] | None = None,
    descriptions: bool = True,
    abbreviations: bool = False,
    max_per_finding: int | None = None,
) -> PromptSet:
    """The prompt ensemble of one finding; see build_prompts."""
    entity_id = graph.resolve(finding)
    entity = graph.get(entity_id)
    if entity.kind == "anatomy":
        raise ValueError(f"'{finding}' is anatomy ({entity_id}); prompts are built for findings, devices, diagnoses")
    forms = [f for f in graph.synonyms(entity_id, abbreviations) if not (set(normalize(f).split()) & _NEGATION_WORDS)]
    positive_templates = POSITIVE_TEMPLATES if templates is None else tuple(templates)
    negative_templates = NEGATIVE_TEMPLATES if negative_templates is None else tuple(negative_templates)
    description = graph.description(entity_id, modality) if descriptions else None
    if entity.kind == "normal":  # 'no acute cardiopulmonary process' is its own statement
        statements = list(graph.synonyms(entity_id, abbreviations))
        grid = [[_cap(f) + "." for f in statements]]
        if description:
            grid.append([DESCRIPTION_TEMPLATE.format(Name=_cap(f), description=description) for f in statements])
        positives, negatives = _diagonal(grid), list(NORMAL_NEGATIVES)
    else:
        lateral = _is_lateral(graph, entity_id)
        grid = _ensemble(positive_templates, forms, lateral, negate=False)
        if description:
            grid.append([DESCRIPTION_TEMPLATE.format(Name=_cap(f), description=description) for f in forms])
        positives = _diagonal(grid)
        negatives = _diagonal(_ensemble(negative_templates, forms, lateral, negate=True))
    if max_per_finding is not None:
        positives, negatives = positives[:max_per_finding], negatives[:max_per_finding]
    return PromptSet(finding=finding, entity_id=entity_id, positives=positives, negatives=negatives)


def build_prompts(
    graph: KnowledgeGraph,
    findings: Sequence[str] | None,
    modality: str,
    templates: Sequence[str] | None = None,
    max_per_finding: int | None = None,
    *,
    negative_templates: Sequence[str] | None = None,
    descriptions: bool = True,
    abbreviations: bool = False,
) -> list[PromptSet]:
    """Positive and negative prompt ensembles per finding, in the order given (None: every finding visible on
    the modality, in graph order).

    templates / negative_templates replace the module's POSITIVE_TEMPLATES / NEGATIVE_TEMPLATES; descriptions
    adds '<Name>: <radiographic description for the modality>' to the positives; abbreviations adds PTX, ETT...
    as surface forms; max_per_finding keeps the first N of each list. Raises KeyError for an unknown finding and
    ValueError for anatomy, an unknown modality or a template with an unknown placeholder.
    """
    if modality not in graph.modalities:
        raise ValueError(f"unknown modality '{modality}' (graph has {', '.join(graph.modalities)})")
    if max_per_finding is not None and max_per_finding < 1:
        raise ValueError(f"max_per_finding must be at least 1, got {max_per_finding}")
    wanted = [e.id for e in graph.findings(modality)] if findings is None else list(findings)
    return [
        prompt_set(graph, f, modality, templates, negative_templates, descriptions, abbreviations, max_per_finding)
        for f in wanted
    ]


def resolve_findings(graph: KnowledgeGraph, findings: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """(label names, entity ids) of a label set name, a comma-separated string or a list of entity ids/aliases."""
    if isinstance(findings, str):
        if findings in graph.label_sets:
            mapping = graph.label_set(findings)
            return list(mapping), list(mapping.values())
        findings = [f.strip() for f in findings.split(",") if f.strip()]
    return list(findings), [graph.resolve(f) for f in findings]
