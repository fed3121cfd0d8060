"""Section and sentence splitting on the ways hospitals write reports."""

from __future__ import annotations

import numpy as np
import pytest

from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.text.reports import split_sections, split_sentences


@pytest.mark.parametrize(
    ("text", "findings", "impression"),
    [
        ("FINDINGS: Lungs are clear.\nIMPRESSION: Normal.", "Lungs are clear.", "Normal."),
        ("Findings:\nLungs are clear.\n\nImpression:\n1. Normal.", "Lungs are clear.", "1. Normal."),
        ("FINDINGS\nLungs are clear.\nCONCLUSION\nNormal.", "Lungs are clear.", "Normal."),
        ("findings: lungs clear. impression: normal.", "lungs clear. impression: normal.", ""),
        ("Lungs are clear. No effusion.", "Lungs are clear. No effusion.", ""),
    ],
)
def test_sections(text: str, findings: str, impression: str):
    rep = split_sections(text)
    assert rep.findings == findings and rep.impression == impression


def test_synonyms_and_order():
    rep = split_sections(
        "CLINICAL HISTORY: Cough.\nCOMPARISON: None.\nTECHNIQUE: PA view.\nFINDINGS: Clear.\n"
        "IMPRESSION: No acute process."
    )
    assert rep.order == ["indication", "comparison", "technique", "findings", "impression"]
    assert rep.get("indication") == "Cough."


def test_header_words_inside_sentences_are_not_headers():
    rep = split_sections("FINDINGS: No findings of pneumonia. The impression of cardiomegaly is due to AP technique.")
    assert rep.order == ["findings"]


def test_sentences():
    text = (
        "Dr. Smith was called. A 2.5 cm mass is seen in the right upper lobe. No effusion!\n1. Item one.\n2. Item two."
    )
    assert split_sentences(text) == [
        "Dr. Smith was called.",
        "A 2.5 cm mass is seen in the right upper lobe.",
        "No effusion!",
        "Item one.",
        "Item two.",
    ]


def test_every_phantom_report_has_findings_and_impression():
    for i in range(200):
        rng = np.random.default_rng(i)
        truth = (sample_cxr_findings if i % 2 else sample_ct_findings)(rng)
        rep = write_report(rng, truth, make_patient(rng), study_date(rng), ("PA",))
        parsed = split_sections(rep.text)
        assert parsed.findings and parsed.impression, rep.text
        assert all(split_sentences(parsed.findings))


def test_units_end_sentences():
    assert split_sentences("Nodule measures 12 mm. No effusion.") == ["Nodule measures 12 mm.", "No effusion."]
