"""The finding sampler: deterministic, realistic shares, clinical co-occurrence, valid fields."""

from __future__ import annotations

import numpy as np
import pytest

from medvlp.data.synthetic.findings import (
    CT_FINDINGS,
    CXR_FINDINGS,
    DEVICE_TYPES,
    StudyTruth,
    sample_ct_findings,
    sample_cxr_findings,
)

SAMPLERS = {"cxr": sample_cxr_findings, "ct": sample_ct_findings}


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_deterministic(modality):
    a = [SAMPLERS[modality](np.random.default_rng([7, i])) for i in range(50)]
    b = [SAMPLERS[modality](np.random.default_rng([7, i])) for i in range(50)]
    assert a == b


@pytest.mark.parametrize("modality", ["cxr", "ct"])
def test_normal_share_and_every_finding_occurs(modality):
    truths = [SAMPLERS[modality](np.random.default_rng([1, i])) for i in range(1500)]
    normal = np.mean([not t.findings for t in truths])
    assert 0.26 < normal < 0.40
    names = {"cxr": CXR_FINDINGS, "ct": CT_FINDINGS}[modality]
    counts = {n: sum(t.labels()[n] for t in truths) for n in names}
    assert min(counts.values()) >= 15, counts  # every finding is common enough to learn and evaluate


def test_edema_comes_with_cardiomegaly_and_effusion():
    truths = [sample_cxr_findings(np.random.default_rng([2, i])) for i in range(3000)]
    edema = [t for t in truths if t.labels()["edema"]]
    rest = [t for t in truths if not t.labels()["edema"]]
    p_cm_edema = np.mean([t.labels()["cardiomegaly"] for t in edema])
    p_cm_rest = np.mean([t.labels()["cardiomegaly"] for t in rest])
    assert p_cm_edema > 2 * p_cm_rest


def test_fields_are_valid():
    for i in range(800):
        for truth in (sample_cxr_findings(np.random.default_rng([3, i])), sample_ct_findings(np.random.default_rng(i))):
            names = [f.name for f in truth.findings]
            assert len(names) == len(set(names))
            for f in truth.findings:
                assert 0 < f.severity < 1 and f.laterality in ("left", "right", "bilateral", "none")
                assert f.subtle == (f.severity < 0.3) or f.name == "support_devices"
                if f.name == "support_devices":
                    assert f.subtype in DEVICE_TYPES
                if f.name == "mass":
                    assert f.size_mm >= 30
                if f.name in ("nodule", "lung_nodule"):
                    assert f.size_mm < 30 and f.laterality in ("left", "right")


def test_subtle_share_is_real():
    findings = [f for i in range(1000) for f in sample_cxr_findings(np.random.default_rng([4, i])).findings]
    share = np.mean([f.subtle for f in findings])
    assert 0.1 < share < 0.45


def test_labels_cover_the_modality():
    assert list(StudyTruth("ct").labels()) == list(CT_FINDINGS)
    assert set(StudyTruth("cxr").labels().values()) == {0}
