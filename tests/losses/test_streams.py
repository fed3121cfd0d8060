"""MeDSLIP stream losses: entity alignment and the prototype link against loop references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from medvlp.losses import AnatomyStreamLoss, PathologyStreamLoss, StreamPrototypeLoss

IDS = torch.tensor([[1, 2, 4, -1], [0, 3, -1, -1], [-1, -1, -1, -1], [5, 7, 8, 2], [6, 6, -1, -1]])


def ref_alignment(queries, entities, entity_ids, in_stream, scale) -> torch.Tensor:
    k_all = range(len(entities))
    terms = []
    for b in range(len(queries)):
        pos = {int(k) for k in entity_ids[b] if k >= 0}

        def score(k: int, b: int = b) -> torch.Tensor:
            return scale * max(torch.dot(q, entities[k]) for q in queries[b])

        negs = [k for k in k_all if in_stream[k] and k not in pos]
        for k in sorted(pos):
            if in_stream[k]:
                den = torch.logsumexp(torch.stack([score(k)] + [score(n) for n in negs]), 0)
                terms.append(den - score(k))
    return sum(terms) / len(terms) if terms else torch.zeros((), dtype=torch.float64)


def ref_prototype(queries, entities, entity_ids, in_stream) -> torch.Tensor:
    protos = []
    for b in range(len(queries)):
        pos = sorted({int(k) for k in entity_ids[b] if k >= 0 and in_stream[int(k)]})
        if not pos:
            chosen = list(queries[b])
        else:
            chosen = [
                queries[b][int(torch.stack([torch.dot(q, entities[k]) for q in queries[b]]).argmax())] for k in pos
            ]
        protos.append(F.normalize(sum(chosen), dim=0))
    return torch.stack(protos)


def ref_infonce(a, b, scale) -> torch.Tensor:
    n, total = len(a), 0.0
    for i in range(n):
        row = torch.stack([scale * torch.dot(a[i], b[j]) for j in range(n)])
        col = torch.stack([scale * torch.dot(b[i], a[j]) for j in range(n)])
        total = total + (torch.logsumexp(row, 0) - row[i]) + (torch.logsumexp(col, 0) - col[i])
    return total / (2 * n)


@pytest.mark.parametrize(("cls", "stream", "anatomy"), [(PathologyStreamLoss, "pathology", False),
                                                          (AnatomyStreamLoss, "anatomy", True)])  # fmt: skip
def test_alignment_matches_reference(out, cls, stream, anatomy):
    s = out.streams
    in_stream = s.entity_is_anatomy if anatomy else ~s.entity_is_anatomy
    got = cls()(out, {"entity_ids": IDS})
    assert set(got) == {f"{stream}_loss", "loss"}
    want = ref_alignment(getattr(s, stream), s.entity_embeds, IDS, in_stream, out.logit_scale)
    torch.testing.assert_close(got["loss"], want, rtol=1e-10, atol=1e-12)
    fixed = cls(temperature=0.2)(out, {"entity_ids": IDS})["loss"]
    want = ref_alignment(getattr(s, stream), s.entity_embeds, IDS, in_stream, 5.0)
    torch.testing.assert_close(fixed, want, rtol=1e-10, atol=1e-12)


def test_prototype_matches_reference(out):
    s = out.streams
    got = StreamPrototypeLoss()(out, {"entity_ids": IDS})
    assert set(got) == {"stream_proto_loss", "loss"}
    proto_p = ref_prototype(s.pathology, s.entity_embeds, IDS, ~s.entity_is_anatomy)
    proto_a = ref_prototype(s.anatomy, s.entity_embeds, IDS, s.entity_is_anatomy)
    torch.testing.assert_close(got["loss"], ref_infonce(proto_p, proto_a, out.logit_scale), rtol=1e-10, atol=1e-12)


def test_gradients_and_padding(out):
    total = sum(cls()(out, {"entity_ids": IDS})["loss"] for cls in (PathologyStreamLoss, AnatomyStreamLoss))
    (total + StreamPrototypeLoss()(out, {"entity_ids": IDS})["loss"]).backward()
    s = out.streams
    for t in (s.pathology, s.anatomy, s.entity_embeds):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    wider = torch.cat([IDS, torch.full((5, 3), -1)], dim=1)  # more padding changes nothing
    for cls in (PathologyStreamLoss, AnatomyStreamLoss, StreamPrototypeLoss):
        assert torch.equal(cls()(out, {"entity_ids": wider})["loss"], cls()(out, {"entity_ids": IDS})["loss"])


def test_no_positive_entities_gives_zero_with_graph(out):
    none = torch.full((5, 2), -1)
    loss = PathologyStreamLoss()(out, {"entity_ids": none})["loss"]
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert (out.streams.pathology.grad == 0).all()


def test_all_stream_entities_positive_is_finite(out):
    k = out.streams.entity_embeds.shape[0]
    everything = torch.arange(k).expand(5, k)
    loss = PathologyStreamLoss()(out, {"entity_ids": everything})["loss"]
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(out.streams.pathology.grad).all()
    assert not math.isnan(loss.item())


def test_errors(out):
    with pytest.raises(ValueError, match="outside"):
        PathologyStreamLoss()(out, {"entity_ids": torch.tensor([[99]] * 5)})
    out.streams.entity_embeds = out.streams.entity_embeds[:0]
    with pytest.raises(ValueError, match="set_entities"):
        AnatomyStreamLoss()(out, {"entity_ids": IDS})
    out.streams = None
    with pytest.raises(ValueError, match="streams"):
        StreamPrototypeLoss()(out, {"entity_ids": IDS})
