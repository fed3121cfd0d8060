"""The prompt loss: the zero-shot head's score trained against the report labels (masked BCE)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from medvlp.losses import CompositeLoss
from medvlp.losses.prompt import PromptLoss, masked_bce, prompt_logits
from medvlp.models.outputs import ImageOutput, TextOutput, VLPOutput


def _out(b: int = 4, k: int = 3, e: int = 8, seed: int = 0) -> VLPOutput:
    g = torch.Generator().manual_seed(seed)
    img = F.normalize(torch.randn(b, e, generator=g), dim=-1).requires_grad_()
    txt = F.normalize(torch.randn(b, e, generator=g), dim=-1)
    classes = F.normalize(torch.randn(k, 2, e, generator=g), dim=-1).requires_grad_()
    return VLPOutput(
        image=ImageOutput(img, torch.zeros(b, 1, e), torch.ones(b, 1, dtype=torch.bool), (1,)),
        text=TextOutput(txt, torch.zeros(b, 1, e), torch.ones(b, 1, dtype=torch.bool)),
        logit_scale=torch.tensor(10.0),
        prompt_embeds=classes,
    )


def test_masked_bce_ignores_uncertain_and_counts_unmentioned_as_negative():
    labels = torch.tensor([[1.0, 0.0, float("nan"), -1.0]])
    logits = torch.zeros(1, 4)
    assert torch.isclose(masked_bce(logits, labels), torch.tensor(np.log(2.0), dtype=torch.float32))
    assert masked_bce(torch.tensor([[9.0, -9.0, -9.0, 9.0]]), labels) < 1e-3  # the uncertain one is ignored


def test_prompt_loss_is_the_zero_shot_score_under_bce():
    out = _out()
    labels = torch.tensor([[1.0, 0.0, float("nan")], [-1.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, -1.0]])
    terms = PromptLoss()(out, {"labels": labels})
    img, pos, neg = out.image.embeds, out.prompt_embeds[:, 0], out.prompt_embeds[:, 1]
    manual = 10.0 * (img @ pos.T - img @ neg.T)  # [B, K]: sigmoid of this is ZeroShotHead.probabilities
    assert torch.allclose(prompt_logits(img, out.prompt_embeds, out.logit_scale), manual)
    keep = labels != -1
    expected = F.binary_cross_entropy_with_logits(manual[keep], (labels[keep] == 1).float())
    assert torch.isclose(terms["prompt_loss"], expected) and terms["loss"] is terms["prompt_loss"]
    terms["loss"].backward()
    assert out.prompt_embeds.grad.abs().sum() > 0 and out.image.embeds.grad.abs().sum() > 0


def test_prompt_loss_lowers_when_the_classes_point_at_the_positives():
    out = _out(b=2, k=1)
    labels = torch.tensor([[1.0], [0.0]])
    img = out.image.embeds.detach()
    good = torch.stack([img[0], img[1]])[None]  # positive class = image 0, negative = image 1
    out_good = VLPOutput(out.image, out.text, out.logit_scale, prompt_embeds=good)
    assert PromptLoss()(out_good, {"labels": labels})["loss"] < PromptLoss()(out, {"labels": labels})["loss"]


def test_prompt_loss_errors_name_the_fix():
    out = _out(k=3)
    with pytest.raises(ValueError, match="set_prompts"):
        PromptLoss()(VLPOutput(out.image, out.text, out.logit_scale), {"labels": torch.zeros(4, 3)})
    with pytest.raises(ValueError, match="label_set"):
        PromptLoss()(out, {"labels": torch.zeros(4, 5)})


def test_prompt_loss_composes():
    out = _out()
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    terms = CompositeLoss({"clip": 1.0, "prompt": 2.0})(out, {"labels": labels})
    assert torch.isclose(terms["loss"], terms["clip_loss"] + 2.0 * terms["prompt_loss"])


def test_text_weight_adds_the_report_embeddings_under_the_same_classifier():
    out = _out()
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, -1.0], [0.0, 0.0, 1.0], [1.0, float("nan"), 0.0]])
    plain = PromptLoss()(out, {"labels": labels})
    terms = PromptLoss(text_weight=0.5)(out, {"labels": labels})
    text = masked_bce(prompt_logits(out.text.embeds, out.prompt_embeds, out.logit_scale), labels)
    assert torch.isclose(terms["prompt_text_loss"], text) and torch.isclose(terms["prompt_loss"], plain["loss"])
    assert torch.isclose(terms["loss"], plain["loss"] + 0.5 * text)
    assert "prompt_text_loss" not in plain
