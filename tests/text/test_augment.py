"""Report augmentation: mentions and polarity, synonym swaps, shuffles, knowledge, phrases, laterality, PHI."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.knowledge import load_graph
from medvlp.text.augment import (
    NEGATIVE,
    POSITIVE,
    UNCERTAIN,
    AugmentConfig,
    append_knowledge,
    augment_report,
    extract_phrases,
    find_mentions,
    shuffle_sentences,
    swap_laterality,
    swap_synonyms,
)
from medvlp.text.reports import split_sections, split_sentences
from medvlp.text.scrub import KnownIdentifiers, scrub_report

GRAPH = load_graph()
ALL_ON = AugmentConfig(synonym_swap=0.8, sentence_shuffle=True, knowledge_append=1.0, knowledge_max_sentences=4)


def phantom(n: int, seed: int = 7, phi_rate: float = 0.0) -> list[tuple[str, str, object, object]]:
    """(modality, text, report, patient) of n phantom reports, CXR and CT alternating."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        modality = "cxr" if i % 2 == 0 else "ct"
        patient, when = make_patient(rng), study_date(rng)
        truth = sample_cxr_findings(rng) if modality == "cxr" else sample_ct_findings(rng)
        report = write_report(rng, truth, patient, when, phi_rate=phi_rate)
        out.append((modality, report.text, report, patient))
    return out


REPORTS = phantom(120)


# ---------------------------------------------------------------------------------------------- config
def test_config_is_off_by_default_frozen_and_checked():
    cfg = AugmentConfig()
    assert (cfg.synonym_swap, cfg.sentence_shuffle, cfg.knowledge_append, cfg.laterality_swap) == (0, False, 0, 0)
    with pytest.raises(FrozenInstanceError):
        cfg.synonym_swap = 0.5  # type: ignore[misc]
    with pytest.raises(ValueError, match="synonym_swap"):
        AugmentConfig(synonym_swap=1.5)
    with pytest.raises(ValueError, match="knowledge_source"):
        AugmentConfig(knowledge_source="wikipedia")
    with pytest.raises(ValueError, match="knowledge_max_sentences"):
        AugmentConfig(knowledge_max_sentences=-1)


# -------------------------------------------------------------------------------------------- mentions
def _found(text: str) -> list[tuple[str, str, str]]:
    return [(m.text, m.entity_id, m.status) for m in find_mentions(text, GRAPH)]


def test_mentions_take_the_longest_form_on_word_boundaries():
    assert _found("Small pericardial effusion.") == [("pericardial effusion", "pericardial_effusion", POSITIVE)]
    assert _found("Subcutaneous emphysema.")[0][1] == "subcutaneous_emphysema"
    assert _found("Ground-glass opacity.") == [("Ground-glass opacity", "ground_glass_opacity", POSITIVE)]
    assert _found("RUL nodule.") == [("RUL", "right_upper_lobe", POSITIVE), ("nodule", "lung_nodule", POSITIVE)]
    assert _found("Effusional pneumothoraxish.") == []  # no match inside a longer word


def test_abbreviations_match_case_sensitively():
    assert _found("Small PTX.")[0][1] == "pneumothorax"
    assert _found("small ptx.") == []
    assert _found("ETT tip 4 cm above the carina.")[0][1] == "endotracheal_tube"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("No pleural effusion or pneumothorax.", {"pleural_effusion": NEGATIVE, "pneumothorax": NEGATIVE}),
        ("Small left pleural effusion without pneumothorax.", {"pleural_effusion": POSITIVE, "pneumothorax": NEGATIVE}),
        ("Possible pneumonia.", {"pneumonia": UNCERTAIN}),
        ("Pneumonia cannot be excluded.", {"pneumonia": UNCERTAIN}),
        ("Pneumothorax is not seen.", {"pneumothorax": NEGATIVE}),
        ("No change in the small left pleural effusion.", {"pleural_effusion": POSITIVE}),
        ("No pneumothorax, but there is a small effusion.", {"pneumothorax": NEGATIVE, "pleural_effusion": POSITIVE}),
        ("Cardiomegaly. There is no edema.", {"cardiomegaly": POSITIVE, "edema": NEGATIVE}),
        ("No acute cardiopulmonary process.", {"no_finding": POSITIVE}),
    ],
)
def test_polarity(text, expected):
    assert {m.entity_id: m.status for m in find_mentions(text, GRAPH)} == expected


# ---------------------------------------------------------------------------------------- synonym swaps
def test_synonym_swap_keeps_entities_polarity_and_sides():
    changed = 0
    for i, (_, text, _, _) in enumerate(REPORTS):
        out = swap_synonyms(text, np.random.default_rng(i), GRAPH, 1.0)
        before, after = find_mentions(text, GRAPH), find_mentions(out, GRAPH)
        assert [m.entity_id for m in after] == [m.entity_id for m in before], (text, out)
        assert [m.status for m in after] == [m.status for m in before], (text, out)
        sides = re.compile(r"(?i)\b(?:left|right|bilateral)\b")
        assert sides.findall(out) == sides.findall(text)
        changed += out != text
    assert changed >= 0.9 * len(REPORTS)


def test_synonym_swap_is_seeded_and_off_at_zero():
    text = REPORTS[0][1]
    a = swap_synonyms(text, np.random.default_rng(1), GRAPH, 0.7)
    assert a == swap_synonyms(text, np.random.default_rng(1), GRAPH, 0.7)
    assert len({swap_synonyms(text, np.random.default_rng(s), GRAPH, 0.7) for s in range(8)}) > 1
    assert swap_synonyms(text, np.random.default_rng(1), GRAPH, 0.0) == text


def test_synonym_swap_keeps_case_style_and_negation_cues():
    outs = {swap_synonyms("PLEURAL EFFUSION.", np.random.default_rng(s), GRAPH, 1.0) for s in range(10)}
    assert all(o.isupper() for o in outs) and len(outs) > 1
    outs = {swap_synonyms("Pleural effusion is small.", np.random.default_rng(s), GRAPH, 1.0) for s in range(10)}
    assert all(o[0].isupper() and not o.isupper() for o in outs)
    cue = "No acute cardiopulmonary process."
    assert {swap_synonyms(cue, np.random.default_rng(s), GRAPH, 1.0) for s in range(10)} == {cue}


def test_synonym_swap_fixes_the_article():
    outs = {swap_synonyms("There is an effusion.", np.random.default_rng(s), GRAPH, 1.0) for s in range(20)}
    for out in outs:
        word = out.split()[3]
        assert out.split()[2] == ("an" if word[0].lower() in "aeiou" else "a"), out


# -------------------------------------------------------------------------------------------- shuffling
def test_shuffle_keeps_sections_and_their_sentences():
    moved = 0
    for i, (_, text, _, _) in enumerate(REPORTS[:40]):
        out = shuffle_sentences(text, np.random.default_rng(i))
        before, after = split_sections(text), split_sections(out)
        assert after.order == before.order
        for name in before.order:
            assert sorted(split_sentences(after.sections[name])) == sorted(split_sentences(before.sections[name]))
        moved += out != shuffle_sentences(text, np.random.default_rng(i + 1000))
    assert moved > 20


def test_shuffle_of_a_headerless_report_adds_no_header():
    text = "Clear lungs. Normal heart size. No pleural effusion. No pneumothorax."
    outs = {shuffle_sentences(text, np.random.default_rng(s)) for s in range(10)}
    assert len(outs) > 1 and all(":" not in o and sorted(o.split(". ")) for o in outs)


# -------------------------------------------------------------------------------------------- knowledge
def test_knowledge_appends_graph_text_of_positive_findings_only():
    text = "No pneumothorax. Small left pleural effusion. Possible pneumonia."
    out = append_knowledge(text, np.random.default_rng(0), GRAPH, "cxr", 1.0, max_sentences=10)
    added = out[len(text) :].strip().splitlines()
    assert out.startswith(text + "\n") and len(added) == 1
    assert added[0] == "Pleural effusion: " + GRAPH.description("pleural_effusion", "cxr")
    ct = append_knowledge(text, np.random.default_rng(0), GRAPH, "ct", 1.0, 10, source="definition")
    assert ct.endswith(GRAPH.get("pleural_effusion").definition)
    assert append_knowledge(text, np.random.default_rng(0), GRAPH, "cxr", 0.0) == text


def test_knowledge_respects_the_sentence_budget():
    text = "Cardiomegaly. Pleural effusion. Consolidation. Pneumothorax."
    for budget in (1, 2, 3):
        out = append_knowledge(text, np.random.default_rng(0), GRAPH, "cxr", 1.0, budget, source="both")
        added = " ".join(line.split(": ", 1)[1] for line in out[len(text) :].strip().splitlines())
        assert 1 <= len(split_sentences(added)) <= budget


# ---------------------------------------------------------------------------------------------- phrases
def test_phrases_split_anatomy_and_pathology_with_polarity():
    text = (
        "Consolidation in the right lower lobe. No pneumothorax. Possible small left pleural effusion. "
        "The heart is normal. Pleural effusion is seen on the left."
    )
    p = extract_phrases(text, GRAPH)
    assert p.anatomy_ids == ["right_lower_lobe", "heart"] and p.anatomy == ["right lower lobe", "heart"]
    assert p.pathology_ids == ["consolidation", "pneumothorax", "pleural_effusion"]
    assert p.pathology_status == [POSITIVE, NEGATIVE, POSITIVE]  # a positive statement wins over 'possible'
    assert p.pathology == ["right consolidation", "no pneumothorax", "left pleural effusion"]
    assert p.pathology_laterality == ["right", None, "left"]
    both = extract_phrases("Small left pleural effusion. Small right pleural effusion. No right pneumothorax.", GRAPH)
    assert both.pathology == ["bilateral pleural effusion", "no pneumothorax"]
    assert extract_phrases("Possible pneumonia.", GRAPH).pathology == ["possible pneumonia"]


# ------------------------------------------------------------------------------------------- laterality
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Left pleural effusion.", "Right pleural effusion."),
        ("RIGHT lower lobe; left-sided PICC.", "LEFT lower lobe; right-sided PICC."),
        ("Right greater than left.", "Left greater than right."),
        ("Rt IJ line. Lt. chest tube.", "Lt IJ line. Rt. chest tube."),
        ("RUL nodule, LLL atelectasis, RML clear.", "LUL nodule, RLL atelectasis, LML clear."),
        ("R hemithorax opacity, L base atelectasis, R > L.", "L hemithorax opacity, R base atelectasis, L > R."),
        ("Mild levoscoliosis. Leftward shift.", "Mild dextroscoliosis. Rightward shift."),
        ("Bilateral effusions, both bases.", "Bilateral effusions, both bases."),
        ("Leads in the right atrium and right ventricle.", "Leads in the right atrium and right ventricle."),
        ("Dr. R Smith, grade L, drain left in place.", "Dr. R Smith, grade L, drain left in place."),
    ],
)
def test_swap_laterality(text, expected):
    assert swap_laterality(text) == expected


def test_swap_laterality_twice_gives_the_text_back():
    for _, text, _, _ in REPORTS:
        assert swap_laterality(swap_laterality(text)) == text
    assert any(swap_laterality(t) != t for _, t, _, _ in REPORTS)


# ------------------------------------------------------------------------------------------------ report
def test_augment_report_off_is_identity_and_on_is_seeded():
    for i, (modality, text, _, _) in enumerate(REPORTS[:20]):
        assert augment_report(text, np.random.default_rng(i), GRAPH, AugmentConfig(), modality) == text
        a = augment_report(text, np.random.default_rng(i), GRAPH, ALL_ON, modality)
        assert a == augment_report(text, np.random.default_rng(i), GRAPH, ALL_ON, modality) != text


def test_augment_report_flipped_swaps_the_report_but_not_the_knowledge():
    text = "Small left pleural effusion. Right lower lobe consolidation."
    cfg = AugmentConfig(knowledge_append=1.0, knowledge_max_sentences=10)
    out = augment_report(text, np.random.default_rng(0), GRAPH, cfg, "cxr", flipped=True)
    assert out.startswith("Small right pleural effusion. Left lower lobe consolidation.\n")
    assert GRAPH.description("pleural_effusion", "cxr") in out


# --------------------------------------------------------------------------------------------------- PHI
def _known(patient) -> KnownIdentifiers:
    ref, rad = patient.referring_physician, patient.reading_radiologist
    names = (patient.dicom_name, f"{ref[1]}^{ref[0]}", f"{rad[1]}^{rad[0]}")
    return KnownIdentifiers(names=names, ids=(patient.mrn,), addresses=(patient.address,), phones=(patient.phone,))


def _graph_words() -> set[str]:
    texts = [GRAPH.get(i).definition for i in GRAPH.ids]
    texts += [t for e in GRAPH for t in (*e.surface_forms, *e.descriptions.values())]
    return {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}


def test_augmenting_a_scrubbed_report_spreads_no_phi_and_adds_only_graph_words():
    """Reports with PHI, scrubbed at ingest, then every augmentation (and a flip): no planted string comes back,
    and every word of the output is the report's own or the graph's (nothing from another report)."""
    allowed = _graph_words() | {"left", "right", "lt", "rt", "a", "an"} | {s for s in ("findings", "impression")}
    allowed |= {"exam", "indication", "technique", "comparison"}
    leaks, foreign = [], []
    for i, (modality, text, report, patient) in enumerate(phantom(150, seed=11, phi_rate=1.0)):
        planted = [*report.phi, *patient.phi_strings()]
        scrubbed = scrub_report(text, _known(patient))
        assert not [s for s in planted if s in scrubbed], scrubbed  # precondition: ingest scrubbing worked
        rng = np.random.default_rng(i)
        out = augment_report(scrubbed, rng, GRAPH, ALL_ON, modality, flipped=bool(i % 2))
        leaks += [(s, out) for s in planted if s.lower() in out.lower()]
        own = set(re.findall(r"[a-z]+", scrubbed.lower()))
        foreign += [(w, out) for w in set(re.findall(r"[a-z]+", out.lower())) - own - allowed]
    assert not leaks, leaks[:3]
    assert not foreign, foreign[:3]


def test_knowledge_lines_are_verbatim_graph_text_of_the_reports_positive_findings():
    graph_texts = [t for e in GRAPH for t in (e.definition, *e.descriptions.values())]
    appended = 0
    for i, (modality, text, _, _) in enumerate(phantom(60, seed=3, phi_rate=1.0)):
        cfg = AugmentConfig(knowledge_append=1.0, knowledge_max_sentences=6, knowledge_source="both")
        out = augment_report(text, np.random.default_rng(i), GRAPH, cfg, modality)
        assert out.startswith(text)
        positives = {m.entity_id for m in find_mentions(text, GRAPH) if m.status == POSITIVE}
        names = {GRAPH.get(e).name.lower(): e for e in positives}
        for line in out[len(text) :].strip().splitlines():
            name, body = line.split(": ", 1)
            assert name.lower() in names, line
            assert all(any(s in t for t in graph_texts) for s in split_sentences(body)), line
            appended += 1
    assert appended > 30


def test_sentence_sampling_keeps_whole_sentences_and_at_least_one():
    from medvlp.text.augment import sample_sentences

    text = "FINDINGS: Small left pleural effusion. No pneumothorax. Heart size is normal.\nIMPRESSION: Small effusion."
    sentences = {"Small left pleural effusion.", "No pneumothorax.", "Heart size is normal.", "Small effusion."}
    rng = np.random.default_rng(0)
    outs = [sample_sentences(text, rng, 0.3) for _ in range(200)]
    assert all(o and "FINDINGS" not in o for o in outs)
    assert all(set(o.replace(". ", ".|").split("|")) <= sentences for o in outs)
    assert len(set(outs)) > 5 and min(len(o) for o in outs) < len(text) / 2
    assert sample_sentences(text, rng, 1.0) == text and sample_sentences("One sentence.", rng, 0.1) == "One sentence."
