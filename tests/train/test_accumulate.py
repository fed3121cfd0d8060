"""Contrastive accumulation: micro-batches give the gradient of the full-batch loss, not of per-micro-batch losses."""

from __future__ import annotations

import pytest
import torch

from medvlp.losses import CompositeLoss
from medvlp.models import create_model
from medvlp.models.prompt_bank import PromptTokens
from medvlp.train.accumulate import accumulated_backward, split_batch
from medvlp.train.task import TrainingTask
from tests.models.conftest import make_batch


def _grads(task: TrainingTask) -> dict[str, torch.Tensor]:
    return {n: p.grad.clone() for n, p in task.model.named_parameters() if p.grad is not None}


def _task(weights: dict[str, float], options: dict[str, dict] | None = None) -> TrainingTask:
    torch.manual_seed(0)
    model = create_model("tiny-cxr-vit")
    if "prompt" in weights:  # 3 findings, one prompt per side (so every draw is the same), random token ids
        count = torch.ones(6, dtype=torch.long)
        ids = torch.randint(5, 500, (int(count.sum()), 6))
        bank = PromptTokens(
            ids, torch.ones_like(ids, dtype=torch.bool), torch.cumsum(count, 0) - count, count, list("abc")
        )
        model.set_prompts(bank, per_step=2)
    return TrainingTask(model, CompositeLoss(weights, options or {}))


@pytest.mark.parametrize(
    ("weights", "options"),
    [
        ({"clip": 1.0}, {}),
        ({"clip": 1.0, "siglip": 0.5, "local": 0.5}, {}),
        ({"clip": 1.0, "prompt": 1.0}, {}),
        ({"clip": 1.0, "prompt": 1.0}, {"prompt": {"text_weight": 1.0}}),
    ],
)
@pytest.mark.parametrize("parts", [2, 4])
def test_accumulated_gradient_equals_full_batch_gradient(weights: dict[str, float], options: dict, parts: int):
    batch = make_batch("cxr", b=8, seed=1)
    batch["labels"] = torch.tensor([1.0, 0.0, float("nan"), -1.0]).repeat(6)[torch.randperm(24)].reshape(8, 3)
    full = _task(weights, options)
    losses = full(batch)
    losses["loss"].backward()
    accum = _task(weights, options)
    got = accumulated_backward(accum, accum.loss, batch, parts)
    assert torch.allclose(got["loss"], losses["loss"].detach(), atol=1e-6)
    want, have = _grads(full), _grads(accum)
    assert want.keys() == have.keys()
    # relative to each tensor's scale; the 1e-6 floor covers attention key biases, whose gradient is zero (~1e-11)
    worst = max(float((want[k] - have[k]).abs().max() / (want[k].abs().max() + 1e-6)) for k in want)
    assert worst < 1e-4, worst


def test_naive_accumulation_would_differ():
    """The check above can fail: summing per-micro-batch CLIP losses changes the gradient (fewer negatives)."""
    batch = make_batch("cxr", b=8, seed=1)
    full = _task({"clip": 1.0})
    full(batch)["loss"].backward()
    naive = _task({"clip": 1.0})
    for mb in split_batch(batch, 2):
        (naive(mb)["loss"] / 2).backward()
    want, have = _grads(full), _grads(naive)
    assert max(float((want[k] - have[k]).abs().max()) for k in want) > 1e-3


def test_dropout_masks_are_replayed():
    """With dropout, the recomputed micro-batch must draw the masks of the cached pass, or the gradient is wrong."""
    torch.manual_seed(0)
    model = create_model("tiny-cxr-vit", overrides=["text.dropout=0.3"])
    task = TrainingTask(model, CompositeLoss({"clip": 1.0}, {}))
    batch = make_batch("cxr", b=8, seed=2)
    torch.manual_seed(5)
    got = accumulated_backward(task, task.loss, batch, 2)
    assert torch.isfinite(got["loss"]) and all(torch.isfinite(g).all() for g in _grads(task).values())


def test_uneven_split_names_the_knobs():
    with pytest.raises(ValueError, match=r"train\.accum_steps"):
        split_batch(make_batch("cxr", b=6), 4)
