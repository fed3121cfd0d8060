"""Report labels: hand-written sentences, the phantom's ground truth on a fresh seed, tables and the CSV command."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from medvlp.data.synthetic.findings import FINDINGS, sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.knowledge import KnowledgeGraph, load_graph
from medvlp.text.labeler import Labeler, label_reports_csv
from medvlp.text.sources import ReportSourceError


def _load_cases() -> list[tuple]:
    spec = importlib.util.spec_from_file_location("labeler_cases", Path(__file__).with_name("labeler_cases.py"))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.CASES


CASES = _load_cases()


@pytest.fixture(scope="module")
def graph() -> KnowledgeGraph:
    return load_graph()


@pytest.fixture(scope="module")
def case_labeler(graph: KnowledgeGraph) -> Labeler:
    return Labeler(graph, sorted({entity for case in CASES for entity in case[1]}))


def _value(x: float) -> int | None:
    return None if math.isnan(x) else int(x)


def test_enough_cases():
    assert len(CASES) >= 100
    assert len({case[0] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case[0][:60] for case in CASES])
def test_hand_written_sentences(case: tuple, case_labeler: Labeler, graph: KnowledgeGraph):
    text, expected = case[0], case[1]
    got = case_labeler.label(text)
    assert {k: _value(got[k]) for k in expected} == expected, text
    mentions = case_labeler.mentions(text)
    for entity, side in (case[2] if len(case) > 2 else {}).items():
        first = next(m for m in mentions if m.entity_id == entity or entity in graph.ancestors(m.entity_id))
        assert first.laterality == side, f"{text}: {entity}"


def _phantom_f1(modality: str, n: int, seed: int, graph: KnowledgeGraph) -> dict[str, float]:
    """Per-finding F1 of the labels against the drawn truth (uncertain counts as positive, NaN as negative)."""
    sampler = sample_cxr_findings if modality == "cxr" else sample_ct_findings
    labeler = Labeler(graph, f"phantom_{modality}")
    rng = np.random.default_rng(seed)
    counts = {f: [0, 0, 0] for f in FINDINGS[modality]}  # tp, fp, fn
    for k in range(n):
        truth = sampler(rng)
        views = ("PA", "LL") if k % 3 == 0 else ("AP",) if k % 3 == 1 else ("PA",)
        report = write_report(rng, truth, make_patient(rng), study_date(rng), views if modality == "cxr" else ())
        labels = labeler.label(report.text)
        for finding, y in truth.labels().items():
            predicted = not math.isnan(labels[finding]) and labels[finding] != 0.0
            counts[finding][0] += y and predicted
            counts[finding][1] += (not y) and predicted
            counts[finding][2] += y and not predicted
    return {f: 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0 for f, (tp, fp, fn) in counts.items()}


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_phantom_macro_f1(modality: str, graph: KnowledgeGraph):
    """Acceptance: macro-F1 >= 0.98 on 1500 fresh reports; omitted findings cannot be recovered by any labeler."""
    f1 = _phantom_f1(modality, 1500, seed=20250611, graph=graph)
    macro = sum(f1.values()) / len(f1)
    table = ", ".join(f"{f}={v:.4f}" for f, v in f1.items())
    assert macro >= 0.98, f"{modality} macro-F1 {macro:.4f}: {table}"


def test_label_sets_and_aliases(graph: KnowledgeGraph):
    assert Labeler(graph, "phantom_cxr").findings == FINDINGS["cxr"]
    assert Labeler(graph, "phantom_ct").findings == FINDINGS["ct"]
    labels = Labeler(graph, ["nodule", "support_devices"]).label("Pacemaker in place. 6 mm ground-glass nodule.")
    assert labels == {"nodule": 1.0, "support_devices": 1.0}
    chexpert = Labeler(graph, "chexpert").label("Small left pleural effusion.")
    assert chexpert["Pleural Effusion"] == 1.0 and math.isnan(chexpert["Pneumothorax"])
    with pytest.raises(KeyError):
        Labeler(graph, ["not_an_entity"])


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Possible small effusion. Small left effusion.", 1.0),  # any positive wins
        ("No effusion. Possible small effusion.", -1.0),  # else any uncertain
        ("No effusion. No pleural effusions.", 0.0),
        ("The lungs are clear.", math.nan),
        ("INDICATION: Effusion.\nFINDINGS: The lungs are clear.", math.nan),  # indication does not count
        ("CLINICAL HISTORY: Pleural effusion.\nTECHNIQUE: PA.\nCOMPARISON: Effusion.\nIMPRESSION: No effusion.", 0.0),
    ],
)
def test_aggregation(graph: KnowledgeGraph, text: str, value: float):
    got = Labeler(graph, ["pleural_effusion"]).label(text)["pleural_effusion"]
    assert got == value or (math.isnan(got) and math.isnan(value))


def test_no_finding(graph: KnowledgeGraph):
    labeler = Labeler(graph, "chexpert")
    assert labeler.label("No acute cardiopulmonary process.")["No Finding"] == 1.0
    assert labeler.label("Endotracheal tube in place. Lungs are clear.")["No Finding"] == 1.0
    assert math.isnan(labeler.label("Possible small effusion.")["No Finding"])
    assert math.isnan(labeler.label("No acute process. Mild cardiomegaly.")["No Finding"])
    alone = Labeler(graph, ["no_finding"])
    assert alone.label("No pneumothorax.") == {"no_finding": 1.0}
    assert math.isnan(alone.label("Large right pneumothorax.")["no_finding"])


def test_label_table(graph: KnowledgeGraph):
    labeler = Labeler(graph, ["pleural_effusion", "pneumothorax"])
    table = labeler.label_table({"A1": "Small left effusion.", "A2": "No pneumothorax."})
    assert list(table.columns) == ["pleural_effusion", "pneumothorax"] and list(table.index) == ["A1", "A2"]
    assert table.loc["A1", "pleural_effusion"] == 1.0 and table.loc["A2", "pneumothorax"] == 0.0
    assert math.isnan(table.loc["A1", "pneumothorax"])
    assert list(labeler.label_table(["No effusion.", "Effusion."])["pleural_effusion"]) == [0.0, 1.0]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


def test_label_reports_csv(tmp_path: Path, graph: KnowledgeGraph):
    src, out = tmp_path / "reports.csv", tmp_path / "out" / "labels.csv"
    _write_csv(
        src,
        ["AccessionNumber", "ReportText"],
        [["ACC1", "FINDINGS: Small left effusion.\nNo pneumothorax."], ["ACC2", "Possible pneumothorax."]],
    )
    table = label_reports_csv(src, out, ["pleural_effusion", "pneumothorax"], graph=graph)
    assert table.shape == (2, 2)
    with open(out, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows == [["AccessionNumber", "pleural_effusion", "pneumothorax"], ["ACC1", "1", "0"], ["ACC2", "", "-1"]]


def test_label_reports_csv_named_columns(tmp_path: Path, graph: KnowledgeGraph):
    src, out = tmp_path / "reports.csv", tmp_path / "labels.csv"
    _write_csv(src, ["study", "impression_text"], [["S1", "Cardiomegaly."]])
    label_reports_csv(src, out, "phantom_cxr", text_column="impression_text", key_column="study", graph=graph)
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["study"] == "S1" and rows[0]["cardiomegaly"] == "1" and rows[0]["edema"] == ""
    with pytest.raises(ReportSourceError, match="impression_text"):
        label_reports_csv(src, out, "phantom_cxr", graph=graph)  # no usual column names: say what was found
    with pytest.raises(ReportSourceError, match="no column"):
        label_reports_csv(src, out, "phantom_cxr", text_column="report", key_column="study", graph=graph)


def test_label_reports_jsonl(tmp_path: Path, graph: KnowledgeGraph):
    src, out = tmp_path / "reports.jsonl", tmp_path / "labels.csv"
    src.write_text(json.dumps({"StudyInstanceUID": "1.2.3", "report": "Small right pneumothorax."}) + "\n")
    label_reports_csv(src, out, ["pneumothorax"], graph=graph)
    assert out.read_text().splitlines() == ["StudyInstanceUID,pneumothorax", "1.2.3,1"]
