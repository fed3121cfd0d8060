"""Mention matching: forms, negation and uncertainty scope, laterality, organs, sections and speed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.knowledge import load_graph
from medvlp.text.cues import CUES
from medvlp.text.match import Matcher, Mention, section_spans, sentence_spans
from medvlp.text.reports import split_sections, split_sentences


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_graph())


def _by_id(mentions: list[Mention]) -> dict[str, Mention]:
    return {m.entity_id: m for m in mentions}


def test_offsets_point_into_the_report(matcher: Matcher):
    text = "FINDINGS:\n  Small LEFT pleural effusion.\n\nIMPRESSION: 1. Stable cardiomegaly."
    mentions = matcher.find(text)
    assert [m.entity_id for m in mentions] == ["pleural_effusion", "cardiomegaly"]
    for m in mentions:
        assert text[m.start : m.end] == m.text
    assert [(m.section, m.sentence_index) for m in mentions] == [("findings", 0), ("impression", 1)]


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("Small pericardial effusion.", "pericardial_effusion"),  # longest form wins over 'effusion'
        ("Subcutaneous emphysema in the left chest wall.", "subcutaneous_emphysema"),
        ("Large left tension pneumothorax.", "tension_pneumothorax"),
        ("Ground-glass opacity in the right upper lobe.", "ground_glass_opacity"),
        ("ground glass opacity in the right upper lobe.", "ground_glass_opacity"),  # hyphen and case ignored
        ("Two pulmonary masses.", "mass"),  # a plural the graph does not list
        ("Several hepatic hypodensities.", "liver_lesion"),
        ("Right PTX.", "pneumothorax"),  # abbreviations match in their own case
        ("6 mm ground-glass nodule.", "ground_glass_nodule"),
        ("The nodule is unchanged.", "lung_nodule"),  # the phantom alias
    ],
)
def test_forms(matcher: Matcher, text: str, entity: str):
    assert [m.entity_id for m in matcher.find(text)] == [entity]


@pytest.mark.parametrize("text", ["Massive bleeding was reported.", "Mass effect on the ventricle.", "ptx", "pe"])
def test_no_partial_words_or_lowercase_abbreviations(matcher: Matcher, text: str):
    assert matcher.find(text) == []


def test_hyphenated_form_and_side(matcher: Matcher):
    (m,) = matcher.find("Tree-in-bud nodularity in the left lower lobe.")
    assert m.entity_id == "tree_in_bud" and m.laterality == "left"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "No focal consolidation, pleural effusion, or pneumothorax.",
            {"consolidation": "negative", "pleural_effusion": "negative", "pneumothorax": "negative"},
        ),
        ("No effusion or pneumothorax.", {"pleural_effusion": "negative", "pneumothorax": "negative"}),
        ("No pneumothorax, but a small left effusion.", {"pneumothorax": "negative", "pleural_effusion": "positive"}),
        ("No pneumothorax, small left effusion.", {"pneumothorax": "negative", "pleural_effusion": "positive"}),
        ("No effusion, cardiomegaly is stable.", {"pleural_effusion": "negative", "cardiomegaly": "positive"}),
        ("No pneumothorax; mild cardiomegaly.", {"pneumothorax": "negative", "cardiomegaly": "positive"}),
        ("Stable cardiomegaly without edema.", {"cardiomegaly": "positive", "edema": "negative"}),
        ("Pneumothorax is no longer seen.", {"pneumothorax": "negative"}),
        ("Interval resolution of the left effusion.", {"pleural_effusion": "negative"}),
        ("The left effusion has resolved.", {"pleural_effusion": "negative"}),
        ("The endotracheal tube has been removed.", {"endotracheal_tube": "negative"}),
        ("Atelectasis rather than pneumonia.", {"atelectasis": "positive", "pneumonia": "negative"}),
        ("The lungs are clear of consolidation.", {"consolidation": "negative"}),
        ("Negative for pneumothorax.", {"pneumothorax": "negative"}),
        ("No evidence of pulmonary edema.", {"edema": "negative"}),
        ("No change in the small left effusion.", {"pleural_effusion": "positive"}),  # pseudo-negation
        ("Unchanged moderate cardiomegaly.", {"cardiomegaly": "positive"}),
        ("Persistent left lower lobe consolidation.", {"consolidation": "positive"}),
        ("Again seen is a small right effusion.", {"pleural_effusion": "positive"}),
        ("The heart is not enlarged.", {"cardiomegaly": "negative"}),
        ("Heart size is normal.", {"cardiomegaly": "negative"}),
        ("Possible small left effusion.", {"pleural_effusion": "uncertain"}),
        ("Probable right lower lobe pneumonia.", {"pneumonia": "uncertain"}),
        ("Likely atelectasis.", {"atelectasis": "uncertain"}),
        ("Opacity that may represent pneumonia.", {"lung_opacity": "positive", "pneumonia": "uncertain"}),
        ("A small pneumothorax cannot be excluded.", {"pneumothorax": "uncertain"}),
        ("Cannot exclude pneumonia.", {"pneumonia": "uncertain"}),
        ("Questionable left apical pneumothorax.", {"pneumothorax": "uncertain"}),
        ("Opacity suspicious for pneumonia.", {"lung_opacity": "positive", "pneumonia": "uncertain"}),
        ("Findings suggestive of edema.", {"edema": "uncertain"}),
        ("Opacity concerning for pneumonia.", {"lung_opacity": "positive", "pneumonia": "uncertain"}),
        ("Atelectasis versus pneumonia.", {"atelectasis": "uncertain", "pneumonia": "uncertain"}),
        ("Atelectasis vs. consolidation.", {"atelectasis": "uncertain", "consolidation": "uncertain"}),
        ("This could be atelectasis.", {"atelectasis": "uncertain"}),
        ("Differential includes pneumonia and edema.", {"pneumonia": "uncertain", "edema": "uncertain"}),
        ("No consolidation suggestive of pneumonia.", {"consolidation": "negative", "pneumonia": "negative"}),
        ("Cardiomegaly with small bilateral effusions.", {"cardiomegaly": "positive", "pleural_effusion": "positive"}),
    ],
)
def test_negation_and_uncertainty(matcher: Matcher, text: str, expected: dict[str, str]):
    got = {m.entity_id: m.status for m in matcher.find(text)}
    assert got == expected, text


@pytest.mark.parametrize(
    ("text", "sides"),
    [
        ("Small left pleural effusion.", {"pleural_effusion": "left"}),
        ("Right-sided pleural effusion.", {"pleural_effusion": "right"}),
        ("Left-sided chest tube.", {"chest_tube": "left"}),
        ("Small bilateral pleural effusions.", {"pleural_effusion": "bilateral"}),
        ("Bibasilar atelectasis.", {"atelectasis": "bilateral"}),
        ("Nodules in both lungs.", {"lung_nodule": "bilateral"}),
        ("Consolidation in the right lower lobe.", {"consolidation": "right"}),
        ("Pleural effusions, right greater than left.", {"pleural_effusion": "bilateral"}),
        ("Cardiomegaly with small bilateral effusions.", {"cardiomegaly": None, "pleural_effusion": "bilateral"}),
        (
            "Right lower lobe consolidation and small left effusion.",
            {"consolidation": "right", "pleural_effusion": "left"},
        ),
        (
            "Consolidation in the right lower lobe; no effusion on the left.",
            {"consolidation": "right", "pleural_effusion": "left"},
        ),
        ("Pacemaker with leads in the right atrium and right ventricle.", {"pacemaker": None}),
        ("Stable cardiomegaly.", {"cardiomegaly": None}),
    ],
)
def test_laterality(matcher: Matcher, text: str, sides: dict[str, str | None]):
    assert {m.entity_id: m.laterality for m in matcher.find(text)} == sides


def test_laterality_follows_each_mention(matcher: Matcher):
    mentions = matcher.find("The left effusion has resolved, but a small right effusion persists.")
    assert [(m.entity_id, m.laterality, m.status) for m in mentions] == [
        ("pleural_effusion", "left", "negative"),
        ("pleural_effusion", "right", "positive"),
    ]


@pytest.mark.parametrize(
    ("text", "entity"),
    [
        ("8 mm simple cyst in the left kidney.", "kidney_cyst"),
        ("Fluid-attenuation cyst in the upper pole of the right kidney.", "kidney_cyst"),
        ("12 mm simple cyst in hepatic segment 4.", "hepatic_cyst"),
        ("15 mm hypodense lesion in hepatic segment 7.", "liver_lesion"),
        ("Mass in the liver.", "liver_lesion"),
        ("A 4.1 cm mass projecting behind the heart in the right lower lobe.", "mass"),
        ("Small cyst.", "cyst"),
    ],
)
def test_organ_makes_a_generic_word_specific(matcher: Matcher, text: str, entity: str):
    assert [m.entity_id for m in matcher.find(text)] == [entity]


def test_generic_word_without_organ_is_dropped(matcher: Matcher):
    assert matcher.find("A small lesion is noted.") == []


def test_sections_and_sentences(matcher: Matcher):
    text = "INDICATION: Evaluate for pneumonia.\nFINDINGS: Lungs are clear. No effusion.\nIMPRESSION: Dr. Lee agrees."
    mentions = matcher.find(text)
    assert [(m.entity_id, m.section, m.sentence_index) for m in mentions] == [
        ("pneumonia", "indication", 0),
        ("pleural_effusion", "findings", 2),
    ]
    assert matcher.find(text, sections=False)[0].section == "findings"


def test_anatomy_on_request():
    mentions = Matcher(load_graph(), include_anatomy=True).find("Consolidation in the right lower lobe.")
    assert [m.entity_id for m in mentions] == ["consolidation", "right_lower_lobe"]


def test_cue_phrases_are_unique():
    phrases = [p for v in CUES.values() for p in v.split("|")]
    assert len(phrases) == len(set(phrases))


def test_spans_agree_with_split_sentences():
    """Offsets-keeping sections and sentences read a report as reports.split_sections / split_sentences do."""
    rng = np.random.default_rng(11)
    for k in range(60):
        truth = (sample_cxr_findings if k % 2 else sample_ct_findings)(rng)
        text = write_report(rng, truth, make_patient(rng), study_date(rng), phi_rate=0.0).text
        mine: dict[str, list[str]] = {}
        for name, a, b in section_spans(text):
            mine.setdefault(name, []).extend(" ".join(text[s:e].split()) for s, e in sentence_spans(text, a, b))
        parsed = split_sections(text)
        theirs = {
            name: [s for s in split_sentences(parsed.sections[name]) if not re.fullmatch(r"\d{1,2}[.)]", s)]
            for name in parsed.order
        }
        assert mine == theirs, text
