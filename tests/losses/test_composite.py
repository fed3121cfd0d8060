"""CompositeLoss and the loss registry: weighted sum, named terms, skipped zero weights, clear errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medvlp.losses import CompositeLoss, available_losses, build_loss, register_loss

IDS = torch.tensor([[1, 2, -1], [0, 4, 5], [-1, -1, -1], [3, 7, -1], [8, -1, -1]])


def test_registry_lists_every_loss():
    assert {"anatomy", "clip", "local", "pathology", "siglip", "stream_proto"} <= set(available_losses())
    assert build_loss("clip", soft_labels=True).targets.soft_labels


def test_weighted_sum_of_named_terms(out):
    weights = {"clip": 1.0, "siglip": 0.5, "local": 2.0, "pathology": 0.25, "anatomy": 0.0, "stream_proto": 1.5}
    composite = CompositeLoss(weights, options={"local": {"method": "max"}, "clip": {"soft_labels": True}})
    batch = {"entity_ids": IDS, "labels": torch.eye(5, 3, dtype=torch.float64)}
    got = composite(out, batch)
    assert set(got) == {"clip_loss", "siglip_loss", "local_loss", "pathology_loss", "stream_proto_loss", "loss"}
    assert "anatomy" not in composite.terms  # zero weight: never built nor run
    singles = {k: build_loss(k, **({"method": "max"} if k == "local" else {}))(out, batch)["loss"] for k in weights}
    singles["clip"] = build_loss("clip", soft_labels=True)(out, batch)["loss"]
    want = sum(w * singles[k] for k, w in weights.items())
    torch.testing.assert_close(got["loss"], want, rtol=1e-12, atol=1e-12)
    for k in ("clip", "siglip", "local", "pathology", "stream_proto"):
        torch.testing.assert_close(got[f"{k}_loss"], singles[k], rtol=1e-12, atol=0)
    got["loss"].backward()
    assert torch.isfinite(out.image.embeds.grad).all() and out.streams.pathology.grad.abs().sum() > 0


def test_zero_weight_stream_terms_do_not_need_streams(out):
    out.streams = None
    got = CompositeLoss({"clip": 1.0, "pathology": 0.0, "stream_proto": 0})(out, {})
    assert set(got) == {"clip_loss", "loss"}


def test_errors_name_the_problem():
    with pytest.raises(KeyError, match=r"unknown loss name\(s\) \['clipp'\].*available: anatomy, clip"):
        CompositeLoss({"clipp": 1.0})
    with pytest.raises(KeyError, match="unknown loss name"):
        CompositeLoss({"clip": 1.0}, options={"glorria": {}})
    with pytest.raises(TypeError, match=r"loss 'clip'.*soft_label"):
        CompositeLoss({"clip": 1.0}, options={"clip": {"soft_label": True}})
    with pytest.raises(ValueError, match=">= 0"):
        CompositeLoss({"clip": -1.0})
    with pytest.raises(ValueError, match="no loss has a positive weight"):
        CompositeLoss({"clip": 0.0})
    with pytest.raises(KeyError, match=r"unknown loss 'clp' \(did you mean clip.*available: anatomy"):
        build_loss("clp")
    with pytest.raises(ValueError, match="already registered"):
        register_loss("clip")(type("Other", (nn.Module,), {}))
