"""The zero-shot head: class vectors from prompt ensembles, probabilities, calibrated thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from medvlp.heads.pretrained import load_pretrained
from medvlp.heads.zero_shot import ZeroShotHead
from medvlp.knowledge import load_graph
from medvlp.text.prompts import resolve_findings


def test_label_set_and_lists_resolve_to_entities():
    graph = load_graph()
    names, ids = resolve_findings(graph, "phantom_cxr")
    assert names[4] == "nodule" and ids[4] == "lung_nodule"
    assert resolve_findings(graph, "nodule, pleural_effusion") == (
        ["nodule", "pleural_effusion"],
        ["lung_nodule", "pleural_effusion"],
    )


def test_probabilities_follow_the_positive_minus_negative_margin():
    e = torch.eye(4)
    head = ZeroShotHead(["a", "b"], ["a", "b"], positive=e[:2], negative=e[2:], scale=10.0)
    probs = head.probabilities(torch.stack([e[0], e[2], e[1]]))  # [3, 2]
    assert probs[0, 0] > 0.99 and probs[1, 0] < 0.01 and probs[2, 1] > 0.99
    assert np.allclose(probs[0, 1], 0.5)  # orthogonal to both class vectors of b


def test_head_from_a_trained_model_and_threshold_round_trip(tiny_run: Path, tmp_path: Path):
    pre = load_pretrained(tiny_run)
    head = ZeroShotHead.from_model(pre.model, pre.tokenizer, pre.graph, "phantom_cxr", "cxr", max_per_finding=3)
    assert head.positive.shape == head.negative.shape == (9, pre.model.embed_dim)
    assert torch.allclose(head.positive.norm(dim=-1), torch.ones(9), atol=1e-5)
    scores = np.linspace(0, 1, 20)[:, None].repeat(9, 1)
    labels = (scores > 0.62).astype(float)
    labels[:, 8] = 0.0  # one class only: keeps 0.5
    head.calibrate(scores, labels)
    assert 0.62 < head.thresholds[0] <= 0.7 and head.thresholds[8] == 0.5
    assert head.flags(scores)[:, 0].sum() == (scores[:, 0] > 0.62).sum()
    other = ZeroShotHead.from_model(pre.model, pre.tokenizer, pre.graph, "phantom_cxr", "cxr", max_per_finding=3)
    other.load_thresholds(head.save(tmp_path / "thresholds.json"))
    assert np.array_equal(other.thresholds, head.thresholds)
    wrong = ZeroShotHead.from_model(pre.model, pre.tokenizer, pre.graph, "nodule", "cxr", max_per_finding=2)
    with pytest.raises(ValueError, match="thresholds for"):
        wrong.load_thresholds(tmp_path / "thresholds.json")
    with pytest.raises(ValueError, match="youden, sensitivity"):
        head.calibrate(scores, labels, method="magic")
