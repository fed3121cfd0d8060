"""The shipped knowledge graph covers the phantom and CheXpert, its queries work, and broken graphs are caught."""

from __future__ import annotations

import copy
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from medvlp.data.synthetic.findings import CT_FINDINGS, CXR_FINDINGS, DEVICE_TYPES
from medvlp.knowledge import KnowledgeGraph, KnowledgeGraphError, load_graph

CHEXPERT = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)
# The phantom's device subtypes (findings.DEVICE_TYPES) and the graph entity each one draws.
PHANTOM_DEVICES = {
    "ett": "endotracheal_tube",
    "cvc": "central_venous_catheter",
    "ngt": "nasogastric_tube",
    "pacemaker": "pacemaker",
}
ANATOMY = (
    "lung right_upper_lobe right_middle_lobe right_lower_lobe left_upper_lobe left_lower_lobe pleura heart "
    "pericardium mediastinum hilum trachea bronchi aorta diaphragm costophrenic_angle ribs clavicle spine liver "
    "spleen kidney"
).split()


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    return load_graph()


# ------------------------------------------------------------------------------------------- shipped graph
def test_shipped_graph_loads_validates_and_is_versioned(graph: KnowledgeGraph):
    assert graph.problems() == []
    graph.validate()
    parts = graph.version.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)
    assert len(graph) >= 60
    kinds = Counter(e.kind for e in graph)
    assert kinds["anatomy"] >= 30 and kinds["finding"] >= 40 and kinds["device"] >= 5


@pytest.mark.parametrize(("modality", "finding"), [("cxr", f) for f in CXR_FINDINGS] + [("ct", f) for f in CT_FINDINGS])
def test_every_phantom_finding_resolves_with_definition_and_description(graph, modality: str, finding: str):
    entity = graph.get(finding)
    assert entity.kind != "anatomy" and entity.definition
    assert graph.description(finding, modality), f"{finding} has no {modality} description"
    assert graph.label_set(f"phantom_{modality}")[finding] == entity.id


def test_phantom_label_sets_list_exactly_the_phantom_columns(graph):
    assert tuple(graph.label_set("phantom_cxr")) == CXR_FINDINGS
    assert tuple(graph.label_set("phantom_ct")) == CT_FINDINGS


def test_cxr_nodule_and_ct_lung_nodule_are_one_concept(graph):
    assert graph.get("nodule") is graph.get("lung_nodule")
    assert graph.resolve("nodule") == "lung_nodule" and "nodule" in graph
    assert graph.lookup("nodule") == "lung_nodule"
    assert {"solid_nodule", "ground_glass_nodule"} <= set(graph.children("lung_nodule"))


@pytest.mark.parametrize("label", CHEXPERT)
def test_every_chexpert_observation_resolves(graph, label: str):
    ident = graph.lookup(label)
    assert ident is not None, label
    assert graph.label_set("chexpert")[label] == ident
    entity = graph.get(ident)
    assert entity.definition and entity.descriptions


def test_chexpert_label_set_is_complete_and_ordered(graph):
    assert tuple(graph.label_set("chexpert")) == CHEXPERT


def test_chexpert_hierarchy_is_kept(graph):
    assert {"edema", "consolidation", "pneumonia", "lung_lesion", "atelectasis"} <= set(
        graph.descendants("lung_opacity")
    )
    assert "cardiomegaly" in graph.descendants("enlarged_cardiomediastinum")
    assert graph.ancestors("pneumonia")[:2] == ("consolidation", "lung_opacity")


def test_phantom_subtypes_are_children(graph):
    assert set(PHANTOM_DEVICES) == set(DEVICE_TYPES)
    devices = set(graph.descendants("support_devices"))
    assert set(PHANTOM_DEVICES.values()) <= devices
    assert "picc" in devices and "picc" not in graph.children("support_devices")  # transitive, via the CVC
    assert {"hepatic_cyst", "hepatic_metastasis"} <= set(graph.children("liver_lesion"))


def test_required_anatomy_is_present(graph):
    for ident in ANATOMY:
        assert graph.get(ident).kind == "anatomy", ident
    assert "lung" in graph.get("right_upper_lobe").part_of or "right_lung" in graph.get("right_upper_lobe").part_of


# ---------------------------------------------------------------------------------------------------- queries
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PTX", "pneumothorax"),
        ("ptx", "pneumothorax"),
        ("effusion", "pleural_effusion"),
        ("Hydrothorax", "pleural_effusion"),
        ("enlarged cardiac silhouette", "cardiomegaly"),
        ("airspace disease", "consolidation"),
        ("Ground glass  opacity", "ground_glass_opacity"),
        ("GGO", "ground_glass_opacity"),
        ("ETT", "endotracheal_tube"),
        ("NGT", "nasogastric_tube"),
        ("enteric tube", "nasogastric_tube"),
        ("CVC", "central_venous_catheter"),
        ("PICC line", "picc"),
        ("CHF", "heart_failure"),
        ("renal cyst", "kidney_cyst"),
        ("pulmonary edema", "edema"),
        ("vascular congestion", "pulmonary_vascular_congestion"),
        ("pleural_effusion", "pleural_effusion"),
        ("no such finding", None),
    ],
)
def test_lookup_by_any_surface_form(graph, text: str, expected: str | None):
    assert graph.lookup(text) == expected


def test_associated_is_not_synonym(graph):
    assert graph.lookup("CHF") != "edema"
    assert "heart_failure" in graph.get("edema").associated_with
    assert "congestive heart failure" not in {s.lower() for s in graph.synonyms("edema")}


def test_synonyms_description_and_findings(graph):
    names = graph.synonyms("pneumothorax")
    assert names[0] == "pneumothorax" and "PTX" in names and "PTX" not in graph.synonyms("pneumothorax", False)
    assert "visceral pleural line" in graph.description("pneumothorax", "cxr")
    assert graph.description("coronary_artery_calcification", "cxr") is None
    with pytest.raises(ValueError, match="unknown modality 'mri'"):
        graph.description("pneumothorax", "mri")
    ct = {e.id for e in graph.findings("ct")}
    cxr = {e.id for e in graph.findings("cxr")}
    assert "kidney_cyst" in ct and "kidney_cyst" not in cxr and "pneumothorax" in ct & cxr
    assert all(e.kind != "anatomy" for e in graph.findings())
    assert {e.id for e in graph.anatomy()} >= set(ANATOMY)


def test_unknown_id_suggests_close_matches(graph):
    with pytest.raises(KeyError, match=r"did you mean.*pneumothorax"):
        graph.get("pneumothorx")


# ------------------------------------------------------------------------------------------- broken graphs
BASE: list[dict[str, Any]] = [
    {"id": "chest", "kind": "anatomy", "name": "chest", "definition": "The thorax."},
    {"id": "lung", "kind": "anatomy", "name": "lung", "part_of": ["chest"], "definition": "Organ of breathing."},
    {
        "id": "opacity",
        "kind": "finding",
        "name": "opacity",
        "synonyms": ["Shadow"],
        "definition": "Whiter lung.",
        "descriptions": {"cxr": "A white area."},
        "located_in": ["lung"],
    },
    {
        "id": "blob",
        "kind": "finding",
        "name": "blob",
        "synonyms": ["round thing"],
        "is_a": ["opacity"],
        "definition": "A round opacity.",
        "descriptions": {"ct": "A round white area."},
    },
]


def write_graph(root: Path, entities: list[dict[str, Any]], **manifest: Any) -> Path:
    """A small graph folder: graph.yaml and one entity file."""
    root.mkdir(parents=True, exist_ok=True)
    head = {"version": "0.1.0", "modalities": ["cxr", "ct"], "files": ["entities.yaml"], **manifest}
    (root / "graph.yaml").write_text(yaml.safe_dump(head))
    (root / "entities.yaml").write_text(yaml.safe_dump({"entities": entities}, sort_keys=False))
    return root


def edited(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """BASE with per-entity field updates (a value of None deletes the field)."""
    out = copy.deepcopy(BASE)
    for entity in out:
        for key, value in changes.get(entity["id"], {}).items():
            if value is None:
                entity.pop(key, None)
            else:
                entity[key] = value
    return out


def problems_of(root: Path) -> list[str]:
    with pytest.raises(KnowledgeGraphError) as err:
        load_graph(root)
    assert str(err.value).count("\n  - ") == len(err.value.problems)  # the message lists every problem
    return err.value.problems


def test_small_graph_is_valid(tmp_path: Path):
    g = load_graph(write_graph(tmp_path, BASE))
    assert len(g) == 4 and g.lookup("shadow") == "opacity" and g.descendants("opacity") == ("blob",)


def test_dangling_reference_names_entity_field_and_id(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, edited(blob={"is_a": ["opacity", "ghost"]})))
    assert problems == ["entities.yaml: entity 'blob': is_a refers to unknown id 'ghost'"]


def test_is_a_cycle_is_named(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, edited(opacity={"is_a": ["blob"]})))
    assert problems == ["is_a cycle: blob -> opacity -> blob"]


def test_duplicate_synonym_names_both_entities(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, edited(blob={"synonyms": ["SHADOW"]})))
    assert len(problems) == 1
    assert "'SHADOW'" in problems[0] and "'blob'" in problems[0] and "'opacity'" in problems[0]


def test_unknown_field_names_file_entity_and_field(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, edited(blob={"colour": "red"})))
    assert len(problems) == 1
    assert problems[0].startswith("entities.yaml: entity 'blob': unknown field(s) colour")


def test_missing_definition_is_reported(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, edited(opacity={"definition": None})))
    assert problems == ["entities.yaml: entity 'opacity': missing required field 'definition'"]


def test_every_problem_is_reported_at_once(tmp_path: Path):
    broken = edited(
        opacity={"is_a": ["blob"], "definition": None},
        blob={"synonyms": ["shadow"], "colour": "red", "located_in": ["nowhere"]},
    )
    problems = problems_of(write_graph(tmp_path, broken))
    assert len(problems) == 5
    graph = load_graph(tmp_path, validate=False)  # still loads for inspection
    assert len(graph.problems()) == 5


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"blob": {"descriptions": {"mri": "x"}}}, "unknown modality 'mri'"),
        ({"blob": {"kind": "gadget"}}, "kind 'gadget' is not one of"),
        ({"blob": {"id": "Blob X"}}, "lower snake_case"),
        ({"blob": {"synonyms": "round thing"}}, "'synonyms' must be a list of strings"),
        ({"blob": {"located_in": ["opacity"]}}, "located_in 'opacity' must be anatomy"),
        ({"blob": {"part_of": ["lung"]}}, "only anatomy has 'part_of'"),
        ({"blob": {"descriptions": None}}, "needs a description"),
        ({"blob": {"aliases": ["lung"]}}, "alias 'lung' is already the id"),
    ],
)
def test_schema_rules(tmp_path: Path, changes: dict[str, dict[str, Any]], needle: str):
    problems = problems_of(write_graph(tmp_path, edited(**changes)))
    assert any(needle in p for p in problems), problems


def test_label_set_with_unknown_id_is_reported(tmp_path: Path):
    problems = problems_of(write_graph(tmp_path, BASE, label_sets={"demo": {"Blob": "blob", "Ghost": "ghost"}}))
    assert problems == ["label set 'demo': label 'Ghost' refers to unknown id 'ghost'"]


# -------------------------------------------------------------------------------------------- safe loading
@pytest.mark.parametrize("rel", ["../outside.yaml", "/etc/passwd.yaml", "entities.txt"])
def test_files_outside_the_folder_are_rejected(tmp_path: Path, rel: str):
    root = write_graph(tmp_path / "kg", BASE, files=[rel])
    (tmp_path / "outside.yaml").write_text(yaml.safe_dump({"entities": BASE}))
    with pytest.raises(KnowledgeGraphError, match=r"inside the knowledge folder|not a YAML file"):
        load_graph(root)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks on this platform")
def test_symlinks_are_not_followed(tmp_path: Path):
    outside = tmp_path / "outside.yaml"
    outside.write_text(yaml.safe_dump({"entities": BASE}))
    root = write_graph(tmp_path / "kg", BASE, files=["linked.yaml"])
    (root / "entities.yaml").unlink()
    (root / "linked.yaml").symlink_to(outside)
    with pytest.raises(KnowledgeGraphError, match="symlink"):
        load_graph(root)


def test_python_tags_are_not_executed(tmp_path: Path):
    root = write_graph(tmp_path, BASE)
    marker = tmp_path / "pwned"
    (root / "entities.yaml").write_text(f"entities: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(KnowledgeGraphError, match="not valid YAML"):
        load_graph(root)
    assert not marker.exists()


def test_unlisted_yaml_file_is_reported(tmp_path: Path):
    root = write_graph(tmp_path, BASE)
    (root / "forgotten.yaml").write_text("entities: []\n")
    assert problems_of(root) == ["forgotten.yaml: not listed under 'files' in graph.yaml (it would be ignored)"]


def test_missing_folder_and_bad_manifest(tmp_path: Path):
    with pytest.raises(KnowledgeGraphError, match="knowledge folder not found"):
        load_graph(tmp_path / "nope")
    root = write_graph(tmp_path / "kg", BASE, version=1.0)
    assert any("'version' must be" in p for p in problems_of(root))
