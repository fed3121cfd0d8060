"""Zero-shot prompt ensembles: from the graph only, positive and negative, deterministic, sided where it fits."""

from __future__ import annotations

import re

import numpy as np
import pytest

from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.knowledge import load_graph
from medvlp.text.prompts import (
    DESCRIPTION_TEMPLATE,
    NEGATIVE_TEMPLATES,
    NORMAL_NEGATIVES,
    POSITIVE_TEMPLATES,
    PromptSet,
    build_prompts,
)

GRAPH = load_graph()


def _one(finding: str, modality: str = "cxr", **kw) -> PromptSet:
    return build_prompts(GRAPH, [finding], modality, **kw)[0]


def test_every_label_gets_positives_and_negatives_in_the_order_asked():
    labels = GRAPH.label_set("chexpert")
    sets = build_prompts(GRAPH, list(labels.values()), "cxr")
    assert [s.finding for s in sets] == list(labels.values())
    for s in sets:
        assert s.positives and s.negatives, s.finding
        assert len(set(s.positives)) == len(s.positives) and len(set(s.negatives)) == len(s.negatives)
        assert not set(s.positives) & set(s.negatives)
    assert build_prompts(GRAPH, list(labels.values()), "cxr") == sets  # deterministic


def test_prompts_name_the_finding_and_negatives_negate_it():
    for s in build_prompts(GRAPH, None, "ct"):
        if GRAPH.get(s.entity_id).kind == "normal":
            continue
        forms = [f.lower() for f in GRAPH.synonyms(s.entity_id)]
        forms += [f.replace(" is ", " is not ") for f in forms]  # 'heart is not enlarged'
        assert all(any(f in p.lower() for f in forms) for p in s.positives), s.finding
        assert all(any(f in p.lower() for f in forms) for p in s.negatives), s.finding
        assert all(re.search(r"\b(?:no|not)\b", p.lower()) for p in s.negatives), s.finding


def test_none_means_every_finding_visible_on_the_modality():
    cxr = [s.entity_id for s in build_prompts(GRAPH, None, "cxr")]
    assert cxr == [e.id for e in GRAPH.findings("cxr")]
    assert "kidney_cyst" not in cxr and "pneumothorax" in cxr


def test_the_first_prompt_is_the_name_and_a_prefix_mixes_templates_and_forms():
    s = _one("pleural_effusion")
    assert s.positives[0] == "Pleural effusion." and s.negatives[0] == "No pleural effusion."
    head = s.positives[:6]
    assert len({p.split()[0] for p in head}) >= 3  # several forms and templates
    short = _one("pleural_effusion", max_per_finding=6)
    assert short.positives == head and short.negatives == s.negatives[:6]
    with pytest.raises(ValueError, match="max_per_finding"):
        _one("pleural_effusion", max_per_finding=0)


def test_sides_only_for_findings_of_paired_organs():
    effusion = _one("pleural_effusion")
    assert {"Left pleural effusion.", "Right pleural effusion.", "There is pleural effusion on the left."} <= set(
        effusion.positives
    )
    assert "Left pleural effusions." not in effusion.positives  # one side, one effusion
    assert any("left" in p.lower() for p in _one("kidney_cyst", "ct").positives)
    for finding in ("cardiomegaly", "pneumonia", "endotracheal_tube", "pneumomediastinum"):
        templated = [p for p in _one(finding).positives if ": " not in p]  # descriptions may say 'right mainstem'
        assert not any(re.search(r"\b(?:left|right)\b", p.lower()) for p in templated), finding
    assert not any("left" in p.lower() for p in effusion.negatives)


def test_statement_forms_stand_alone_and_are_negated_inside():
    s = _one("cardiomegaly")
    assert "Heart is enlarged." in s.positives and "Heart is not enlarged." in s.negatives
    assert not any("is heart is" in p or "heart is enlarged is" in p.lower() for p in s.positives + s.negatives)
    assert "Enlarged heart is present." in s.positives and "Cardiomegaly is not seen." in s.negatives
    assert "Pleural effusions are present." in _one("pleural_effusion").positives  # number agreement


def test_descriptions_follow_the_modality():
    cxr, ct = _one("pleural_effusion", "cxr"), _one("pleural_effusion", "ct")
    cxr_desc, ct_desc = GRAPH.description("pleural_effusion", "cxr"), GRAPH.description("pleural_effusion", "ct")
    assert DESCRIPTION_TEMPLATE.format(Name="Pleural effusion", description=cxr_desc) in cxr.positives
    assert not any(ct_desc in p for p in cxr.positives) and any(ct_desc in p for p in ct.positives)
    plain = _one("pleural_effusion", descriptions=False)
    assert not any(cxr_desc in p for p in plain.positives) and plain.negatives == cxr.negatives
    assert not any(cxr_desc in p for p in cxr.negatives)
    hidden = _one("kidney_cyst", "cxr")  # not visible on CXR: templates only
    assert hidden.positives and all(":" not in p for p in hidden.positives)


def test_normal_kind_states_itself():
    s = _one("no_finding")
    assert "No acute cardiopulmonary process." in s.positives and s.negatives == list(NORMAL_NEGATIVES)


def test_aliases_abbreviations_and_custom_templates():
    s = _one("nodule")
    assert (s.finding, s.entity_id) == ("nodule", "lung_nodule")
    assert not any("PTX" in p for p in _one("pneumothorax").positives)
    assert "PTX." in _one("pneumothorax", abbreviations=True).positives
    custom = build_prompts(GRAPH, ["edema"], "cxr", templates=("Chest X-ray showing {name}.",), descriptions=False)
    assert custom[0].positives == [f"Chest X-ray showing {f}." for f in GRAPH.synonyms("edema", False)]
    neg = build_prompts(GRAPH, ["edema"], "cxr", negative_templates=("Free of {name}.",))[0].negatives
    assert neg[0] == "Free of pulmonary edema."


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"findings": ["lung"]}, ValueError, "anatomy"),
        ({"findings": ["pleural_efusion"]}, KeyError, "did you mean pleural_effusion"),
        ({"modality": "mri"}, ValueError, "unknown modality"),
        ({"templates": ("There is {thing}.",)}, ValueError, "unknown placeholder"),
    ],
)
def test_bad_requests_are_named(kwargs, error, match):
    args = {"findings": ["edema"], "modality": "cxr"} | kwargs
    with pytest.raises(error, match=match):
        build_prompts(GRAPH, args.pop("findings"), args.pop("modality"), **args)


def test_prompts_hold_no_phi_and_only_graph_and_template_words():
    """Prompts come from the graph and the templates alone: no report text, so no PHI, can ever reach them."""
    rng = np.random.default_rng(0)
    phi: set[str] = set()
    for i in range(100):
        patient, when = make_patient(rng), study_date(rng)
        truth = sample_cxr_findings(rng) if i % 2 == 0 else sample_ct_findings(rng)
        phi |= {*write_report(rng, truth, patient, when, phi_rate=1.0).phi, *patient.phi_strings()}
    texts = [t for e in GRAPH for t in (*e.surface_forms, *e.descriptions.values())]
    texts += [*POSITIVE_TEMPLATES, *NEGATIVE_TEMPLATES, *NORMAL_NEGATIVES, "left right not are is"]
    vocabulary = {w for t in texts for w in re.findall(r"[a-z]+", t.lower())}
    prompts = [p for m in ("cxr", "ct") for s in build_prompts(GRAPH, None, m, abbreviations=True) for p in s.positives]
    prompts += [p for m in ("cxr", "ct") for s in build_prompts(GRAPH, None, m) for p in s.negatives]
    everything = "\n".join(prompts).lower()
    assert len(prompts) > 5000 and not [p for p in phi if p.lower() in everything]
    assert set(re.findall(r"[a-z]+", everything)) <= vocabulary
