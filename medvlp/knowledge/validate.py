"""Rules of the knowledge graph: the entity schema, surface-form normalisation, and every check `validate()` runs.

Kept apart from the loader so the rules read as one list. Every check returns problems as strings that name the
file, the entity, the field and the offending value, so one run reports everything that needs fixing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from medvlp.knowledge.graph import Entity

ANATOMY = "anatomy"
# anatomy: a structure; finding: what a reader sees; device: a man-made object in the body;
# diagnosis: a disease inferred from findings; normal: a statement that nothing abnormal is seen.
KINDS: tuple[str, ...] = (ANATOMY, "finding", "device", "diagnosis", "normal")
REQUIRED_FIELDS: tuple[str, ...] = ("id", "kind", "name", "definition")
LIST_FIELDS: tuple[str, ...] = (
    "synonyms",
    "abbreviations",
    "aliases",
    "is_a",
    "located_in",
    "part_of",
    "associated_with",
    "differential",
)
ENTITY_FIELDS: tuple[str, ...] = (*REQUIRED_FIELDS, *LIST_FIELDS, "descriptions")
REFERENCE_FIELDS: tuple[str, ...] = ("is_a", "located_in", "part_of", "associated_with", "differential")
MANIFEST_FIELDS: tuple[str, ...] = ("version", "name", "modalities", "files", "label_sets")
ENTITY_FILE_FIELDS: tuple[str, ...] = ("entities",)

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
VERSION_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
_SEPARATORS = re.compile(r"[\s_\-]+")


class KnowledgeGraphError(ValueError):
    """The knowledge graph is unsafe to read or breaks its schema; `problems` lists every finding, one per line."""

    def __init__(self, problems: Sequence[str], where: str = "knowledge graph") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}: {len(self.problems)} problem(s):\n{lines}")


def normalize(text: str) -> str:
    """Surface form key: case-folded, with hyphens, underscores and runs of whitespace as one space.

    "Ground-glass  opacity", "ground glass opacity" and "ground_glass_opacity" share one key, so lookups and the
    duplicate check agree on what counts as the same words.
    """
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_raw_entity(raw: Any, where: str, modalities: Sequence[str]) -> list[str]:
    """Schema problems of one entity mapping as read from YAML: unknown or missing fields, wrong types."""
    if not isinstance(raw, dict):
        return [f"{where}: each entity must be a mapping, got {type(raw).__name__}"]
    ident = raw.get("id")
    label = f"{where}: entity '{ident}'" if isinstance(ident, str) else f"{where}: entity without id"
    problems = []
    unknown = sorted(str(k) for k in raw if k not in ENTITY_FIELDS)
    if unknown:
        problems.append(f"{label}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(ENTITY_FIELDS)})")
    for key in REQUIRED_FIELDS:
        value = raw.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            problems.append(f"{label}: missing required field '{key}'")
        elif not isinstance(value, str):
            problems.append(f"{label}: field '{key}' must be a string, got {type(value).__name__}")
    if isinstance(ident, str) and not ID_PATTERN.match(ident):
        problems.append(f"{label}: id must be lower snake_case ([a-z][a-z0-9_]*)")
    kind = raw.get("kind")
    if isinstance(kind, str) and kind not in KINDS:
        problems.append(f"{label}: kind '{kind}' is not one of {', '.join(KINDS)}")
    for key in LIST_FIELDS:
        if key in raw and raw[key] is not None and not _is_str_list(raw[key]):
            problems.append(f"{label}: field '{key}' must be a list of strings")
        elif key in raw and raw[key] and any(not v.strip() for v in raw[key]):
            problems.append(f"{label}: field '{key}' has an empty entry")
    descriptions = raw.get("descriptions")
    if descriptions is not None:
        if not isinstance(descriptions, dict):
            problems.append(f"{label}: field 'descriptions' must map a modality to a text")
        else:
            for modality, text in descriptions.items():
                if modality not in modalities:
                    problems.append(
                        f"{label}: descriptions has unknown modality '{modality}' (allowed: {', '.join(modalities)})"
                    )
                if not isinstance(text, str) or not text.strip():
                    problems.append(f"{label}: descriptions.{modality} must be a non-empty text")
    return problems


def check_manifest(raw: Any, where: str) -> list[str]:
    """Problems of the manifest (graph.yaml): version, modalities, the file list and the label sets."""
    if not isinstance(raw, dict):
        return [f"{where}: top level must be a mapping, got {type(raw).__name__}"]
    problems = []
    unknown = sorted(str(k) for k in raw if k not in MANIFEST_FIELDS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(MANIFEST_FIELDS)})")
    version = raw.get("version")
    if not isinstance(version, str) or not VERSION_PATTERN.match(version):
        problems.append(f"{where}: 'version' must be a quoted MAJOR.MINOR.PATCH string such as \"1.0.0\"")
    if not _is_str_list(raw.get("modalities")) or not raw.get("modalities"):
        problems.append(f"{where}: 'modalities' must be a non-empty list of names")
    if not _is_str_list(raw.get("files")) or not raw.get("files"):
        problems.append(f"{where}: 'files' must be a non-empty list of YAML files inside the knowledge folder")
    label_sets = raw.get("label_sets", {})
    if not isinstance(label_sets, dict) or not all(
        isinstance(v, dict) and all(isinstance(k, str) and isinstance(i, str) for k, i in v.items())
        for v in label_sets.values()
    ):
        problems.append(f"{where}: 'label_sets' must map a set name to a mapping of label -> entity id")
    return problems


def _where(e: Entity) -> str:
    return f"{e.source}: entity '{e.id}'" if e.source else f"entity '{e.id}'"


def _find_cycles(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Every distinct cycle reachable in a directed graph, each as a path that returns to its start."""
    cycles: dict[tuple[str, ...], list[str]] = {}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for start in edges:
        if state.get(start):
            continue
        stack: list[tuple[str, Iterable[str]]] = [(start, iter(edges.get(start, ())))]
        path, state[start] = [start], 1
        while stack:
            node, children = stack[-1]
            child = next(iter(children), None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                loop = path[path.index(child) :]
                pivot = loop.index(min(loop))
                key = tuple(loop[pivot:] + loop[:pivot])
                cycles.setdefault(key, [*key, key[0]])
            elif child in edges and not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(edges[child])))
    return list(cycles.values())


def _check_references(entities: Sequence[Entity], by_id: Mapping[str, Entity], aliases: Mapping[str, str]) -> list[str]:
    """Every reference resolves to a canonical id of an allowed kind; part_of/located_in on the right kinds."""
    problems = []
    for e in entities:
        anatomy = e.kind == ANATOMY
        if anatomy and e.located_in:
            problems.append(f"{_where(e)}: anatomy uses 'part_of', not 'located_in'")
        if not anatomy and e.part_of:
            problems.append(f"{_where(e)}: only anatomy has 'part_of'; use 'located_in' for where a {e.kind} sits")
        for field_name in REFERENCE_FIELDS:
            for ref in getattr(e, field_name):
                target = by_id.get(ref)
                if target is None:
                    hint = f" (an alias: use '{aliases[ref]}')" if ref in aliases else ""
                    problems.append(f"{_where(e)}: {field_name} refers to unknown id '{ref}'{hint}")
                    continue
                if ref == e.id:
                    problems.append(f"{_where(e)}: {field_name} refers to itself")
                elif field_name in ("located_in", "part_of") and target.kind != ANATOMY:
                    problems.append(f"{_where(e)}: {field_name} '{ref}' must be anatomy, is {target.kind}")
                elif field_name == "is_a" and (target.kind == ANATOMY) != anatomy:
                    problems.append(f"{_where(e)}: is_a '{ref}' crosses anatomy and non-anatomy ({target.kind})")
                elif field_name in ("associated_with", "differential") and target.kind == ANATOMY:
                    problems.append(f"{_where(e)}: {field_name} '{ref}' is anatomy; use located_in for places")
    return problems


def _check_surface_forms(entities: Sequence[Entity], aliases: Mapping[str, str]) -> list[str]:
    """No surface form (id, alias, name, synonym, abbreviation) may belong to two entities, case-insensitively."""
    problems = []
    owner: dict[str, tuple[str, str, str]] = {}  # normalized form -> (entity id, field, original text)
    alias_of = {e.id: [a for a, c in aliases.items() if c == e.id] for e in entities}
    for e in entities:
        forms = [("id", e.id), *(("aliases", a) for a in alias_of.get(e.id, ())), ("name", e.name)]
        forms += [("synonyms", s) for s in e.synonyms] + [("abbreviations", a) for a in e.abbreviations]
        seen_here: set[str] = set()
        for field_name, text in forms:
            key = normalize(text)
            if not key:
                continue
            prior = owner.get(key)
            if prior is not None and prior[0] != e.id:
                problems.append(
                    f"duplicate surface form '{text}': {field_name} of '{e.id}' ({e.source}) and "
                    f"{prior[1]} of '{prior[0]}'"
                )
            elif key in seen_here and field_name in ("synonyms", "abbreviations"):
                problems.append(f"{_where(e)}: {field_name} repeats '{text}' (already its id, name or a synonym)")
            owner.setdefault(key, (e.id, field_name, text))
            if field_name not in ("id", "aliases"):  # an abbreviation may spell the id ('icd' and 'ICD')
                seen_here.add(key)
    return problems


def check_graph(
    entities: Sequence[Entity], modalities: Sequence[str], label_sets: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Graph-level problems: duplicate ids and aliases, dangling references, cycles, shared surface forms."""
    problems: list[str] = []
    by_id: dict[str, Entity] = {}
    for e in entities:
        if e.id in by_id:
            problems.append(f"duplicate id '{e.id}' in {by_id[e.id].source} and {e.source}")
        else:
            by_id[e.id] = e
    aliases: dict[str, str] = {}
    for e in entities:
        for alias in e.aliases:
            if not ID_PATTERN.match(alias):
                problems.append(f"{_where(e)}: alias '{alias}' must be lower snake_case")
            if alias in by_id:
                problems.append(f"{_where(e)}: alias '{alias}' is already the id of an entity")
            elif alias in aliases and aliases[alias] != e.id:
                problems.append(f"{_where(e)}: alias '{alias}' is also an alias of '{aliases[alias]}'")
            aliases.setdefault(alias, e.id)
        if e.kind != ANATOMY and not e.descriptions:
            problems.append(f"{_where(e)}: a {e.kind} needs a description for at least one of {', '.join(modalities)}")
    problems += _check_references(entities, by_id, aliases)
    for field_name in ("is_a", "part_of"):
        edges = {e.id: [r for r in getattr(e, field_name) if r in by_id and r != e.id] for e in by_id.values()}
        problems += [f"{field_name} cycle: {' -> '.join(c)}" for c in _find_cycles(edges)]
    problems += _check_surface_forms(list(by_id.values()), aliases)
    for set_name, labels in label_sets.items():
        for label, ref in labels.items():
            if ref not in by_id and ref not in aliases:
                problems.append(f"label set '{set_name}': label '{label}' refers to unknown id '{ref}'")
    return problems
