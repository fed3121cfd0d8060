"""CLIP InfoNCE and soft targets against loop references (float64), gradients, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from medvlp.losses import ClipLoss, SoftTargets, clip_loss, label_similarity


def ref_weight(v: float, uncertain: float) -> float:
    return 1.0 if v == 1 else uncertain if v == -1 else 0.0  # 0 and NaN -> 0


def ref_similarity(labels: torch.Tensor, uncertain: float = 0.0, kind: str = "jaccard") -> torch.Tensor:
    b, k = labels.shape
    out = torch.zeros(b, b, dtype=torch.float64)
    for i in range(b):
        for j in range(b):
            if i == j:
                out[i, j] = 1.0
                continue
            p = [ref_weight(float(labels[i, c]), uncertain) for c in range(k)]
            q = [ref_weight(float(labels[j, c]), uncertain) for c in range(k)]
            if kind == "jaccard":
                union = sum(max(x, y) for x, y in zip(p, q, strict=True))
                out[i, j] = sum(min(x, y) for x, y in zip(p, q, strict=True)) / union if union else 0.0
            else:
                norm = math.sqrt(sum(x * x for x in p)) * math.sqrt(sum(y * y for y in q))
                out[i, j] = sum(x * y for x, y in zip(p, q, strict=True)) / norm if norm else 0.0
    return out


def ref_clip(img, txt, scale, weights=None) -> torch.Tensor:
    """Loop InfoNCE; weights [B, B] = content matrix (image rows), None = identity."""
    b = len(img)
    w = torch.eye(b, dtype=torch.float64) if weights is None else weights
    total = 0.0
    for direction in range(2):
        rows, cols = (img, txt) if direction == 0 else (txt, img)
        tw = w if direction == 0 else w.T
        for i in range(b):
            logits = torch.stack([scale * torch.dot(rows[i], cols[j]) for j in range(b)])
            lse = torch.logsumexp(logits, 0)
            norm = sum(float(tw[i, j]) for j in range(b))
            total = total + sum(float(tw[i, j]) / norm * (lse - logits[j]) for j in range(b))
    return total / (2 * b)


def test_hard_matches_reference(out):
    img, txt, scale = out.image.embeds, out.text.embeds, out.logit_scale
    got = ClipLoss()(out, {})
    assert set(got) == {"clip_loss", "loss"} and got["loss"] is got["clip_loss"]
    torch.testing.assert_close(got["loss"], ref_clip(img, txt, scale), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(clip_loss(img, txt, scale, local_loss=False), got["loss"], rtol=1e-12, atol=0)


@pytest.mark.parametrize("uncertain", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("kind", ["jaccard", "cosine"])
def test_label_similarity_matches_reference(make_labels, uncertain, kind):
    labels = make_labels(7, 5, seed=3)
    labels[2] = math.nan  # a report with no positive label
    sim = label_similarity(labels, uncertain, kind)
    torch.testing.assert_close(sim, ref_similarity(labels, uncertain, kind), rtol=1e-12, atol=1e-12)
    assert torch.equal(sim[2], torch.eye(7, dtype=torch.float64)[2])  # identity row


def test_soft_labels_match_reference(out, make_labels):
    labels = make_labels(5, 4, seed=1)
    got = ClipLoss(soft_labels=True, uncertain=0.5)(out, {"labels": labels})["loss"]
    want = ref_clip(out.image.embeds, out.text.embeds, out.logit_scale, ref_similarity(labels, 0.5))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    assert not torch.isclose(got, ref_clip(out.image.embeds, out.text.embeds, out.logit_scale))


def test_soft_targets_reduce_to_hard_when_nothing_shared(out):
    nan = math.nan
    labels = torch.tensor(  # every positive label belongs to one report; uncertain/negative/missing elsewhere
        [[1, 0, nan, -1], [0, 1, -1, 0], [nan, 0, 1, 0], [0, nan, 0, 0], [nan, nan, nan, nan]], dtype=torch.float64
    )
    content = SoftTargets(soft_labels=True, uncertain=0.0).content({"labels": labels}, gathered=True, like=labels)
    assert torch.equal(content, torch.eye(5, dtype=torch.float64))
    hard = ClipLoss()(out, {"labels": labels})["loss"]
    soft = ClipLoss(soft_labels=True)(out, {"labels": labels})["loss"]
    torch.testing.assert_close(soft, hard, rtol=1e-12, atol=0)


def test_label_weight_blends_with_identity(make_labels):
    labels = make_labels(6, 3, seed=2)
    c = SoftTargets(soft_labels=True, label_weight=0.25).content({"labels": labels}, gathered=False, like=labels)
    torch.testing.assert_close(c, 0.75 * torch.eye(6, dtype=torch.float64) + 0.25 * ref_similarity(labels))


def test_mix_targets_and_labels_compose(out, make_labels):
    labels = make_labels(5, 4, seed=4)
    mix = torch.eye(5, dtype=torch.float64) * 0.7
    mix[torch.arange(5), torch.arange(5).roll(1)] = 0.3
    batch = {"labels": labels, "mix_targets": mix}
    got = ClipLoss(soft_labels=True)(out, batch)["loss"]
    want = ref_clip(out.image.embeds, out.text.embeds, out.logit_scale, mix @ ref_similarity(labels))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    only_mix = ClipLoss(use_mix_targets=True)(out, batch)["loss"]  # soft_labels off: labels ignored
    want_mix = ref_clip(out.image.embeds, out.text.embeds, out.logit_scale, mix)
    torch.testing.assert_close(only_mix, want_mix, rtol=1e-10, atol=1e-12)
    ignored = ClipLoss(use_mix_targets=False)(out, batch)["loss"]
    torch.testing.assert_close(ignored, ref_clip(out.image.embeds, out.text.embeds, out.logit_scale))


def test_gradients_flow_and_determinism(out, make_labels):
    labels = make_labels(5, 4, seed=5)
    loss = ClipLoss(soft_labels=True)(out, {"labels": labels})["loss"]
    loss.backward()
    for t in (out.image.embeds, out.text.embeds, out.logit_scale):
        assert t.grad is not None and torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    again = ClipLoss(soft_labels=True)(out, {"labels": labels})["loss"]
    assert torch.equal(loss.detach(), again.detach())


def test_bad_options_are_errors():
    with pytest.raises(ValueError, match="jaccard"):
        ClipLoss(similarity="dice")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ClipLoss(uncertain=2.0)
