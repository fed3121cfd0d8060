"""Schedules: warm-up then cosine, exact endpoints, applied per param group."""

from __future__ import annotations

import pytest
import torch

from medvlp.train.schedule import apply_schedule, warmup_cosine


def test_shape_and_endpoints():
    lr = warmup_cosine(100, 1e-3, warmup_steps=10, final=1e-5)
    assert lr.shape == (100,)
    assert lr[0] == pytest.approx(1e-4) and lr[9] == pytest.approx(1e-3) and lr[10] == pytest.approx(1e-3)
    assert lr[-1] == pytest.approx(1e-5, rel=0.05) and bool((lr[10:].diff() <= 1e-12).all())


def test_bad_arguments():
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine(10, 1e-3, warmup_steps=20)


def test_apply_respects_groups():
    p1, p2 = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW(
        [{"params": [p1], "weight_decay": 0.1}, {"params": [p2], "weight_decay": 0.0, "lr_scale": 0.5}]
    )
    lr, wd = warmup_cosine(10, 1.0), warmup_cosine(10, 0.2)
    apply_schedule(opt, 0, lr, wd)
    assert opt.param_groups[0]["lr"] == pytest.approx(1.0) and opt.param_groups[1]["lr"] == pytest.approx(0.5)
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(0.2) and opt.param_groups[1]["weight_decay"] == 0.0
    apply_schedule(opt, 50, lr)  # past the end: the last value
    assert opt.param_groups[0]["lr"] == pytest.approx(float(lr[-1]))
