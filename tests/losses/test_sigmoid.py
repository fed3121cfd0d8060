"""SigLIP pairwise sigmoid loss against a loop reference (float64), soft targets, gradients, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medvlp.losses import SigLipLoss, label_similarity, siglip_loss


def ref_siglip(img, txt, scale, bias, weights=None) -> torch.Tensor:
    b = len(img)
    total = 0.0
    for i in range(b):
        top = max(float(weights[i, j]) for j in range(b)) if weights is not None else 1.0
        for j in range(b):
            y = (1.0 if i == j else 0.0) if weights is None else float(weights[i, j]) / top
            z = scale * torch.dot(img[i], txt[j]) + bias
            total = total - (y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))
    return total / b


def test_matches_reference(out):
    got = SigLipLoss()(out, {})
    assert set(got) == {"siglip_loss", "loss"}
    want = ref_siglip(out.image.embeds, out.text.embeds, out.logit_scale, out.logit_bias)
    torch.testing.assert_close(got["loss"], want, rtol=1e-10, atol=1e-12)
    full = siglip_loss(out.image.embeds, out.text.embeds, out.logit_scale, out.logit_bias, local_loss=False)
    torch.testing.assert_close(full, want, rtol=1e-10, atol=1e-12)


def test_soft_labels_match_reference(out, make_labels):
    labels = make_labels(5, 4, seed=7)
    got = SigLipLoss(soft_labels=True, uncertain=1.0)(out, {"labels": labels})["loss"]
    sim = label_similarity(labels, 1.0)
    want = ref_siglip(out.image.embeds, out.text.embeds, out.logit_scale, out.logit_bias, sim)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_gradients_reach_scale_and_bias(out):
    SigLipLoss()(out, {})["loss"].backward()
    for t in (out.image.embeds, out.text.embeds, out.logit_scale, out.logit_bias):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_needs_logit_bias(out):
    out.logit_bias = None
    with pytest.raises(ValueError, match="logit_bias"):
        SigLipLoss()(out, {})
