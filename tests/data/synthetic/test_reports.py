"""Tests of the phantom report writer: sections, wording faithful to the drawn truth, noise rates and PHI.

A small negation-aware keyword reader stands in for the labeler that will later read these reports: if it
cannot recover the drawn truth from the text, neither will a real one.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from medvlp.data.synthetic.findings import (
    CT_FINDINGS,
    CXR_FINDINGS,
    Finding,
    StudyTruth,
    sample_ct_findings,
    sample_cxr_findings,
)
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import ASIDES, NO_ACUTE, NORMAL_IMPRESSIONS, Report, write_report

# What names each finding in a sentence (per modality; liver and kidney need the organ in the same sentence).
KEYWORDS: dict[str, dict[str, str]] = {
    "cxr": {
        "cardiomegaly": r"cardiomegaly|enlarge",
        "pleural_effusion": r"pleural effusion",
        "pneumothorax": r"pneumothorax",
        "consolidation": r"consolidation|airspace (?:disease|opacit)",
        "nodule": r"nodule",
        "mass": r"\bmass",
        "atelectasis": r"atelectasis",
        "edema": r"edema",
        "support_devices": r"\btubes?\b|catheter|pacemaker",
    },
    "ct": {
        "lung_nodule": r"nodule",
        "pleural_effusion": r"pleural effusion",
        "consolidation": r"consolidation|airspace (?:disease|opacit)",
        "emphysema": r"emphysem",
        "pericardial_effusion": r"pericardial effusion",
        "liver_lesion": r"(?:liver|hepatic)\b.*\b(?:lesion|cyst)|(?:lesion|cyst).*\b(?:liver|hepatic)",
        "kidney_cyst": r"(?:kidney|renal)\b.*\bcyst|cyst.*\b(?:kidney|renal)",
    },
}
NEGATION = re.compile(r"\b(?:no|without|not|negative for|free of)\b", re.IGNORECASE)
HEDGE = re.compile(
    r"\b(?:possible|possibly|questionable|cannot exclude|cannot be excluded|may represent)\b", re.IGNORECASE
)
SIDE = {"left": r"\bleft\b", "right": r"\bright\b", "bilateral": r"\bbilateral\b"}
VIEWS = (("PA",), ("PA", "LL"), ("AP",))


def sentences(text: str) -> list[str]:
    """Split like a simple labeler would: at sentence ends, section colons and line breaks."""
    return [s for s in re.split(r"(?<=[.!?:])\s+|\n", text) if s.strip()]


def read(text: str, modality: str, name: str) -> str:
    """How the report states a finding: 'positive', 'hedged', 'negated' or 'absent'."""
    states = set()
    for sentence in sentences(text):
        match = re.search(KEYWORDS[modality][name], sentence, re.IGNORECASE)
        if not match:
            continue
        cue = NEGATION.search(sentence)
        if cue and cue.start() < match.start():
            states.add("negated")
        else:
            states.add("hedged" if HEDGE.search(sentence) else "positive")
    for state in ("positive", "hedged", "negated"):
        if state in states:
            return state
    return "absent"


def negated_anywhere(text: str, modality: str, name: str) -> list[str]:
    """Sentences that negate a finding (a cue before its keyword), whatever else they say."""
    out = []
    for sentence in sentences(text):
        cue = NEGATION.search(sentence)
        if cue and re.search(KEYWORDS[modality][name], sentence[cue.start() :], re.IGNORECASE):
            out.append(sentence)
    return out


def make(seed: int, n: int, modality: str, subtle: bool = False, **kw: float) -> list[tuple[StudyTruth, Report]]:
    """n (truth, report) pairs from the real samplers; subtle=True marks every drawn finding subtle."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        truth = sample_cxr_findings(rng) if modality == "cxr" else sample_ct_findings(rng)
        if subtle:
            truth = StudyTruth(truth.modality, tuple(dataclasses.replace(f, subtle=True) for f in truth.findings))
        views = VIEWS[i % 3] if modality == "cxr" else ("AXIAL",)
        out.append((truth, write_report(rng, truth, make_patient(rng), study_date(rng), views, **kw)))
    return out


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_same_rng_state_gives_same_report(modality: str) -> None:
    first, second = make(3, 40, modality), make(3, 40, modality)
    assert [r for _, r in first] == [r for _, r in second]
    assert [r.text for _, r in first] != [r.text for _, r in make(4, 40, modality)]


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_findings_and_impression_always_present_in_varied_styles(modality: str) -> None:
    styles = set()
    for _, report in make(5, 150, modality):
        for title in ("FINDINGS", "IMPRESSION"):
            match = re.search(rf"^({title}:|{title.capitalize()}:|{title}$)", report.text, re.MULTILINE)
            assert match, report.text
            styles.add(match.group(1))
    assert len(styles) >= 5  # upper/title case with colon, and headers on their own line


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_every_finding_is_stated_with_its_side_when_no_noise(modality: str) -> None:
    for truth, report in make(6, 300, modality, subtle=True, omit_rate=0.0, hedge_rate=0.0):
        for f in truth.findings:
            assert report.mentions[f.name] == "positive"
            assert read(report.text, modality, f.name) == "positive", (f, report.text)
            if f.laterality in SIDE:
                named = [s for s in sentences(report.text) if re.search(KEYWORDS[modality][f.name], s, re.I)]
                assert any(re.search(SIDE[f.laterality], s, re.I) for s in named), (f, report.text)


@pytest.mark.parametrize("modality", ["cxr", "ct"])
@pytest.mark.parametrize("rates", [(0.05, 0.15), (0.0, 1.0), (1.0, 0.0)])
def test_drawn_findings_are_never_negated(modality: str, rates: tuple[float, float]) -> None:
    for truth, report in make(7, 300, modality, omit_rate=rates[0], hedge_rate=rates[1]):
        for f in truth.findings:
            assert not negated_anywhere(report.text, modality, f.name), (f, report.text)


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_normal_studies_read_as_boilerplate_without_findings(modality: str) -> None:
    rng = np.random.default_rng(8)
    seen = set()
    for i in range(200):
        views = VIEWS[i % 3] if modality == "cxr" else ("AXIAL",)
        report = write_report(rng, StudyTruth(modality), make_patient(rng), study_date(rng), views)  # type: ignore[arg-type]
        assert report.mentions == {}
        for name in KEYWORDS[modality]:
            assert read(report.text, modality, name) in ("absent", "negated"), (name, report.text)
        assert not HEDGE.search(report.text)
        impression = report.text.split("MPRESSION")[-1]
        normal = NO_ACUTE[modality] + NORMAL_IMPRESSIONS[modality]
        seen.update(s for s in normal if s in impression)
        assert any(s in impression for s in normal), report.text
    assert len(seen) >= 3  # boilerplate with variations


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_full_omission_and_full_hedging_touch_only_subtle_findings(modality: str) -> None:
    for omit, hedge, state, text_state in ((1.0, 0.0, "omitted", "absent"), (0.0, 1.0, "hedged", "hedged")):
        for truth, report in make(9, 200, modality, omit_rate=omit, hedge_rate=hedge):
            for f in truth.findings:
                want, text_want = (state, text_state) if f.subtle else ("positive", "positive")
                assert report.mentions[f.name] == want
                assert read(report.text, modality, f.name) == text_want, (f, report.text)


def test_default_noise_rates_are_roughly_honoured() -> None:
    counts = {"positive": 0, "hedged": 0, "omitted": 0}
    for modality in ("cxr", "ct"):
        for truth, report in make(10, 1500, modality, subtle=True):
            assert set(report.mentions) == {f.name for f in truth.findings}
            for state in report.mentions.values():
                counts[state] += 1
    total = sum(counts.values())
    assert total > 1500
    assert abs(counts["omitted"] / total - 0.05) < 0.02, counts
    assert abs(counts["hedged"] / total - 0.15) < 0.03, counts


def test_planted_phi_is_listed_exactly_and_absent_without_phi() -> None:
    rng = np.random.default_rng(11)
    with_phi = 0
    for i in range(600):
        truth = sample_cxr_findings(rng) if i % 2 else sample_ct_findings(rng)
        patient, when = make_patient(rng), study_date(rng)
        rate = (0.0, 1.0, 0.5)[i % 3]
        report = write_report(rng, truth, patient, when, ("PA",), phi_rate=rate)
        for planted in report.phi:
            assert planted and planted in report.text, (planted, report.text)
        if rate == 1.0:
            assert report.phi
        if rate == 0.5:
            with_phi += bool(report.phi)
        if rate == 0.0:
            assert report.phi == ()
            lowered = report.text.lower()
            people = (patient.referring_physician, patient.reading_radiologist, (patient.given, patient.family))
            for given, family in people:
                assert f"{given} {family}".lower() not in lowered
                assert f"{family}, {given}".lower() not in lowered
            for secret in (patient.mrn, patient.mrn.removeprefix("MRN"), patient.phone, patient.address):
                assert secret not in report.text
            assert not re.search(
                r"\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2}|(?:January|March|July|December) \d", report.text
            )
    assert 70 < with_phi < 130  # about half of 200


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_lesion_sizes_are_given_in_mm(modality: str) -> None:
    sized = {"nodule", "lung_nodule", "liver_lesion", "kidney_cyst"}
    checked = 0
    for truth, report in make(12, 400, modality, omit_rate=0.0, hedge_rate=0.0):
        for f in truth.findings:
            if f.name in sized:
                assert f"{f.size_mm:.0f} mm" in report.text, (f, report.text)
                checked += 1
            if f.name == "mass":
                assert f"{f.size_mm:.0f} mm" in report.text or f"{f.size_mm / 10:.1f} cm" in report.text
    assert checked > 20


def _write(truth: StudyTruth, seed: int, views: tuple[str, ...] = ("PA",)) -> str:
    rng = np.random.default_rng(seed)
    return write_report(rng, truth, make_patient(rng), study_date(rng), views).text


def test_clinically_consistent_wording() -> None:
    heart_failure = StudyTruth(
        "cxr",
        (
            Finding("cardiomegaly", severity=0.6),
            Finding("pleural_effusion", "bilateral", 0.5, size_mm=30.0),
            Finding("edema", "bilateral", 0.6, zone="middle"),
        ),
    )
    texts = [_write(heart_failure, s) for s in range(30)]
    assert all(re.search(r"heart failure|fluid overload", t) for t in texts)
    assert all("bilateral pleural effusions" in t for t in texts)
    pneumonia = StudyTruth("cxr", (Finding("consolidation", "right", 0.6, zone="lower"),))
    assert sum("pneumonia" in _write(pneumonia, s) for s in range(30)) > 15
    tension = StudyTruth("cxr", (Finding("pneumothorax", "left", 0.95, size_mm=60.0, subtype="tension"),))
    for s in range(20):
        text = _write(tension, s)
        assert "tension pneumothorax" in text and "mediastin" in text
        assert "cardiomediastinal silhouette is within normal limits" not in text


@pytest.mark.parametrize(
    ("subtype", "words"),
    [
        ("ett", r"endotracheal tube.*carina"),
        ("cvc", r"(?:jugular|subclavian) central venous catheter"),
        ("ngt", r"(?:enteric|nasogastric|orogastric) tube"),
        ("pacemaker", r"pacemaker with.*leads"),
    ],
)
def test_devices_are_named_by_type(subtype: str, words: str) -> None:
    truth = StudyTruth("cxr", (Finding("support_devices", severity=0.9, subtype=subtype),))
    for s in range(15):
        assert re.search(words, _write(truth, s, ("AP",)), re.IGNORECASE)


def test_ct_subtypes_are_worded() -> None:
    cases = [
        (Finding("liver_lesion", size_mm=14.0, subtype="metastasis"), r"metasta"),
        (Finding("liver_lesion", size_mm=14.0, subtype="cyst"), r"hepatic cyst|cyst in hepatic"),
        (Finding("lung_nodule", "left", size_mm=7.0, subtype="ground_glass", zone="upper"), r"ground-glass nodule"),
        (Finding("lung_nodule", "right", size_mm=9.0, subtype="solid", zone="lower"), r"9 mm solid nodule"),
    ]
    for finding, pattern in cases:
        for s in range(10):
            assert re.search(pattern, _write(StudyTruth("ct", (finding,)), s, ("AXIAL",)))


def test_asides_name_no_catalogue_finding() -> None:
    for asides in ASIDES.values():
        for _, sentence in asides:
            for keywords in KEYWORDS.values():
                assert not any(re.search(k, sentence, re.IGNORECASE) for k in keywords.values()), sentence
    assert set(KEYWORDS["cxr"]) == set(CXR_FINDINGS) and set(KEYWORDS["ct"]) == set(CT_FINDINGS)


def test_a_keyword_reader_recovers_the_drawn_truth() -> None:
    """Macro-F1 of a negation-aware keyword reader against the drawn truth at the default noise rates."""
    f1s = []
    for modality, names in (("cxr", CXR_FINDINGS), ("ct", CT_FINDINGS)):
        pairs = make(13, 500, modality)
        for name in names:
            truth = np.array([name in t.labels() and t.labels()[name] for t, _ in pairs], bool)
            said = np.array([read(r.text, modality, name) in ("positive", "hedged") for _, r in pairs], bool)
            tp, fp, fn = (truth & said).sum(), (~truth & said).sum(), (truth & ~said).sum()
            assert fp == 0, name
            f1s.append(2 * tp / (2 * tp + fp + fn))
    assert np.mean(f1s) >= 0.98, f1s
