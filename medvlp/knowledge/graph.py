"""The radiology knowledge graph: load the knowledge/ folder into typed entities and answer queries over it.

Findings, anatomy, devices and diagnoses carry the words reports use for them, a definition and a radiographic
description per modality, so report matching, text augmentation and zero-shot prompts share one vocabulary.
The files are data: read with `yaml.safe_load`, only from inside the knowledge folder (no symlinks, no paths
that leave it), and every schema or graph problem is reported at once (see validate.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from medvlp.knowledge.validate import (
    ANATOMY,
    ENTITY_FILE_FIELDS,
    LIST_FIELDS,
    KnowledgeGraphError,
    check_graph,
    check_manifest,
    check_raw_entity,
    normalize,
)

MANIFEST = "graph.yaml"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "knowledge"
_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Entity:
    """One node of the graph. Relations hold entity ids; `descriptions` maps a modality to its radiographic look.

    located_in: typical anatomical sites of a finding/device; part_of: the larger structure of an anatomy entity.
    aliases: other ids that resolve to this entity (e.g. the CXR label 'nodule' for 'lung_nodule').
    """

    id: str
    kind: str
    name: str
    definition: str
    synonyms: tuple[str, ...] = ()
    abbreviations: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    descriptions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    is_a: tuple[str, ...] = ()
    located_in: tuple[str, ...] = ()
    part_of: tuple[str, ...] = ()
    associated_with: tuple[str, ...] = ()
    differential: tuple[str, ...] = ()
    source: str = field(default="", compare=False)  # file the entity came from, for messages

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def surface_forms(self) -> tuple[str, ...]:
        """Preferred name, synonyms and abbreviations, in that order (the words a report may use)."""
        return (self.name, *self.synonyms, *self.abbreviations)


def entity_from_dict(raw: Mapping[str, Any], source: str = "") -> Entity:
    """Build an Entity from a YAML mapping; fields of the wrong type fall back to empty (validation reports them)."""

    def text(key: str) -> str:
        value = raw.get(key)
        return value.strip() if isinstance(value, str) else ""

    lists = {k: tuple(v for v in raw[k] if isinstance(v, str)) for k in LIST_FIELDS if isinstance(raw.get(k), list)}
    desc = raw.get("descriptions")
    descriptions = {str(k): v.strip() for k, v in desc.items() if isinstance(v, str)} if isinstance(desc, dict) else {}
    return Entity(
        id=text("id"),
        kind=text("kind"),
        name=text("name"),
        definition=text("definition"),
        descriptions=MappingProxyType(descriptions),
        source=source,
        **lists,
    )


class KnowledgeGraph:
    """Entities indexed by id, alias, is_a children and surface form, with the problems found while loading."""

    def __init__(
        self,
        entities: Iterable[Entity],
        version: str,
        modalities: Sequence[str] = ("cxr", "ct"),
        label_sets: Mapping[str, Mapping[str, str]] | None = None,
        name: str = "",
        root: Path | None = None,
        load_problems: Sequence[str] = (),
    ) -> None:
        self.version, self.name, self.root = version, name, root
        self.modalities = tuple(modalities)
        self._all = tuple(entities)
        self._label_sets = {k: dict(v) for k, v in (label_sets or {}).items()}
        self._load_problems = list(load_problems)
        self._by_id: dict[str, Entity] = {}
        for e in self._all:
            self._by_id.setdefault(e.id, e)
        self._alias: dict[str, str] = {}
        self._children: dict[str, list[str]] = {i: [] for i in self._by_id}
        self._surface: dict[str, str] = {}
        for e in self._by_id.values():
            for a in e.aliases:
                self._alias.setdefault(a, e.id)
            for parent in e.is_a:
                self._children.setdefault(parent, []).append(e.id)
        for e in self._by_id.values():  # ids and aliases first, so an exact id always wins
            for form in (e.id, *e.aliases):
                self._surface.setdefault(normalize(form), e.id)
        for e in self._by_id.values():
            for form in e.surface_forms:
                self._surface.setdefault(normalize(form), e.id)

    # ------------------------------------------------------------------------------------------- validation
    def problems(self) -> list[str]:
        """Every schema and graph problem (empty when the graph is sound)."""
        return self._load_problems + check_graph(self._all, self.modalities, self._label_sets)

    def validate(self) -> None:
        """Raise KnowledgeGraphError listing every problem; return quietly when there are none."""
        problems = self.problems()
        if problems:
            raise KnowledgeGraphError(problems, f"knowledge graph {self.root or ''}".strip())

    # ---------------------------------------------------------------------------------------------- lookup
    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Entity]:
        return iter(self._by_id.values())

    def __contains__(self, ident: object) -> bool:
        return isinstance(ident, str) and (ident in self._by_id or ident in self._alias)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self._by_id)

    def resolve(self, ident: str) -> str:
        """The canonical id of an id or alias; KeyError (with close matches) when unknown."""
        if ident in self._by_id:
            return ident
        if ident in self._alias:
            return self._alias[ident]
        close = difflib.get_close_matches(ident, [*self._by_id, *self._alias], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown knowledge-graph entity '{ident}'{hint}")

    def get(self, ident: str) -> Entity:
        """The entity of an id or alias."""
        return self._by_id[self.resolve(ident)]

    def lookup(self, surface_text: str) -> str | None:
        """Entity id named by any id, alias, name, synonym or abbreviation (case-insensitive), else None."""
        return self._surface.get(normalize(surface_text))

    def surface_forms(self) -> dict[str, str]:
        """Normalized surface form -> entity id, for every form the graph knows (what a report matcher scans for)."""
        return dict(self._surface)

    def synonyms(self, ident: str, abbreviations: bool = True) -> tuple[str, ...]:
        """Preferred name first, then synonyms (and abbreviations unless turned off)."""
        e = self.get(ident)
        return (e.name, *e.synonyms, *(e.abbreviations if abbreviations else ()))

    def description(self, ident: str, modality: str) -> str | None:
        """How the entity looks on `modality`, or None where it is not visible there."""
        if modality not in self.modalities:
            raise ValueError(f"unknown modality '{modality}' (graph has {', '.join(self.modalities)})")
        return self.get(ident).descriptions.get(modality)

    # ---------------------------------------------------------------------------------------------- structure
    def children(self, ident: str) -> tuple[str, ...]:
        """Direct is_a children."""
        return tuple(self._children.get(self.resolve(ident), ()))

    def descendants(self, ident: str) -> tuple[str, ...]:
        """Transitive is_a children, nearest first (the entity itself excluded)."""
        return self._walk(self.resolve(ident), lambda i: self._children.get(i, ()))

    def ancestors(self, ident: str) -> tuple[str, ...]:
        """Transitive is_a parents, nearest first (the entity itself excluded)."""
        return self._walk(self.resolve(ident), lambda i: self._by_id[i].is_a if i in self._by_id else ())

    def _walk(self, start: str, step: Any) -> tuple[str, ...]:
        """Breadth-first walk that tolerates cycles (an invalid graph must still answer, not hang)."""
        seen, order, frontier = {start}, [], [start]
        while frontier:
            nxt = []
            for node in frontier:
                for other in step(node):
                    if other not in seen:
                        seen.add(other)
                        order.append(other)
                        nxt.append(other)
            frontier = nxt
        return tuple(order)

    def by_kind(self, kind: str) -> tuple[Entity, ...]:
        return tuple(e for e in self._by_id.values() if e.kind == kind)

    def anatomy(self) -> tuple[Entity, ...]:
        return self.by_kind(ANATOMY)

    def findings(self, modality: str | None = None) -> tuple[Entity, ...]:
        """Everything a report can state present or absent (all kinds but anatomy), optionally only those visible
        on `modality` (with a description for it)."""
        if modality is not None and modality not in self.modalities:
            raise ValueError(f"unknown modality '{modality}' (graph has {', '.join(self.modalities)})")
        return tuple(
            e for e in self._by_id.values() if e.kind != ANATOMY and (modality is None or modality in e.descriptions)
        )

    def label_set(self, name: str) -> dict[str, str]:
        """A named label vocabulary (e.g. 'chexpert'): label -> canonical entity id."""
        if name not in self._label_sets:
            raise KeyError(f"unknown label set '{name}' (graph has {', '.join(self._label_sets) or 'none'})")
        return {label: self.resolve(ref) if ref in self else ref for label, ref in self._label_sets[name].items()}

    @property
    def label_sets(self) -> tuple[str, ...]:
        return tuple(self._label_sets)


# ------------------------------------------------------------------------------------------------- loading
def _safe_file(root: Path, rel: str) -> Path:
    """`root/rel` when it is a YAML file inside root reached without symlinks; KnowledgeGraphError otherwise."""
    where = f"knowledge folder {root}"
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        raise KnowledgeGraphError([f"'{rel}' must be a relative path inside the knowledge folder"], where)
    if rel_path.suffix not in _SUFFIXES:
        raise KnowledgeGraphError([f"'{rel}' is not a YAML file ({', '.join(_SUFFIXES)})"], where)
    path = root
    for part in rel_path.parts:
        path = path / part
        if path.is_symlink():
            problem = f"'{rel}' goes through a symlink ({path.name}); symlinks are not followed"
            raise KnowledgeGraphError([problem], where)
    if not path.resolve().is_relative_to(root) or not path.is_file():
        raise KnowledgeGraphError([f"'{rel}' is not a file inside the knowledge folder"], where)
    return path


def _read_yaml(root: Path, rel: str) -> Any:
    path = _safe_file(root, rel)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KnowledgeGraphError([f"{rel}: not valid YAML ({str(exc).splitlines()[0]})"], str(root)) from exc


def _read_entities(root: Path, rel: str, modalities: Sequence[str]) -> tuple[list[Entity], list[str]]:
    """Entities of one data file and the schema problems found in it."""
    data = _read_yaml(root, rel)
    if not isinstance(data, dict) or not isinstance(data.get("entities"), list):
        return [], [f"{rel}: top level must be a mapping with an 'entities' list"]
    problems = [f"{rel}: unknown top-level field '{k}'" for k in data if k not in ENTITY_FILE_FIELDS]
    entities = []
    for index, raw in enumerate(data["entities"]):
        problems += check_raw_entity(raw, rel if isinstance(raw, dict) else f"{rel} entity #{index}", modalities)
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            entities.append(entity_from_dict(raw, rel))
    return entities, problems


def load_graph(path: Path | str | None = None, *, validate: bool = True) -> KnowledgeGraph:
    """Load the knowledge graph of a folder (default: the repo's knowledge/) and, unless told not to, validate it.

    The folder holds `graph.yaml` (version, modalities, the list of entity files, label sets) and the entity files
    it lists. Raises KnowledgeGraphError naming every problem.
    """
    folder = Path(path) if path is not None else DEFAULT_DIR
    if not folder.is_dir():
        hint = " (pass path= to load_graph; knowledge/ ships beside the package in the repo)" if path is None else ""
        raise KnowledgeGraphError([f"knowledge folder not found: {folder}{hint}"])
    root = folder.resolve()
    manifest = _read_yaml(root, MANIFEST)
    problems = check_manifest(manifest, MANIFEST)
    if not isinstance(manifest, dict) or any("'files'" in p or "'modalities'" in p for p in problems):
        raise KnowledgeGraphError(problems, f"knowledge graph {root}")
    modalities = tuple(manifest["modalities"])
    entities: list[Entity] = []
    for rel in manifest["files"]:
        found, file_problems = _read_entities(root, rel, modalities)
        entities += found
        problems += file_problems
    listed = {Path(rel).as_posix() for rel in manifest["files"]} | {MANIFEST}
    for stray in sorted(p for s in _SUFFIXES for p in root.rglob(f"*{s}")):
        rel = stray.relative_to(root).as_posix()
        if rel not in listed and not any(part.startswith(".") for part in stray.relative_to(root).parts):
            problems.append(f"{rel}: not listed under 'files' in {MANIFEST} (it would be ignored)")
    raw_sets = manifest.get("label_sets")
    label_sets = {k: v for k, v in raw_sets.items() if isinstance(v, dict)} if isinstance(raw_sets, dict) else {}
    graph = KnowledgeGraph(
        entities,
        version=str(manifest.get("version", "")),
        modalities=modalities,
        label_sets=label_sets,
        name=str(manifest.get("name", "")),
        root=root,
        load_problems=problems,
    )
    if validate:
        graph.validate()
    return graph
