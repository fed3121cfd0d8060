"""MedCutMix: pasted box at the partner's attention peak, weights summing to 1, sentence mixing, determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medvlp.losses import ClipLoss, clip_loss, medcutmix, pathology_attention
from medvlp.losses.mixing import derangement, mix_sentences, sample_areas, union_entities
from medvlp.models.outputs import StreamOutput

CLS, SEP, DOT = 2, 3, 9


def _batch2d(b: int = 4, size: int = 32) -> dict:
    g = torch.Generator().manual_seed(0)
    ids = torch.zeros(b, 12, dtype=torch.long)
    mask = torch.zeros(b, 12, dtype=torch.bool)
    for i in range(b):
        row = [CLS, 10 + i, 20 + i, DOT, 30 + i, DOT, SEP]
        ids[i, : len(row)], mask[i, : len(row)] = torch.tensor(row), True
    return {
        "image": torch.rand(b, 1, size, size, generator=g) + torch.arange(b).view(b, 1, 1, 1),
        "text_ids": ids,
        "text_mask": mask,
        "labels": torch.zeros(b, 3),
        "entity_ids": torch.tensor([[1, -1], [2, 3], [-1, -1], [4, 1]])[:b],
        "sample_id": [f"s{i}" for i in range(b)],
    }


def _peak_maps(peaks: list[tuple[int, ...]], grid: tuple[int, ...]) -> torch.Tensor:
    maps = torch.rand(len(peaks), *grid) * 0.1
    for i, p in enumerate(peaks):
        maps[(i, *p)] = 1.0
    return maps


@pytest.mark.parametrize("text_mode", ["sentence", "none"])
def test_box_at_attention_peak_and_weights(text_mode):
    batch, grid = _batch2d(), (4, 4)
    peaks = [(0, 0), (1, 3), (3, 2), (2, 1)]
    mixed, info = medcutmix(batch, _peak_maps(peaks, grid), torch.Generator().manual_seed(1), alpha=2.0,
                            text_mode=text_mode, sentence_end_id=DOT, special_ids=(CLS, SEP))  # fmt: skip
    b = 4
    assert mixed["image"].shape == batch["image"].shape and mixed["text_ids"].shape == batch["text_ids"].shape
    assert (info.partner != torch.arange(b)).all() and sorted(info.partner.tolist()) == list(range(b))
    torch.testing.assert_close(info.weights.sum(-1), torch.ones(b, dtype=torch.float64))
    torch.testing.assert_close(mixed["mix_targets"].sum(-1), torch.ones(b))
    own = 1 - info.area if text_mode == "none" else 1 / (1 + info.area)
    torch.testing.assert_close(info.weights[:, 0], own)
    for i in range(b):
        p = int(info.partner[i])
        (r0, r1), (c0, c1) = info.boxes[i].tolist()
        centre = [(t + 0.5) * 8 for t in peaks[p]]  # the partner's peak token centre in pixels
        assert r0 <= centre[0] <= r1 and c0 <= centre[1] <= c1
        assert info.area[i] == pytest.approx((r1 - r0) * (c1 - c0) / 32**2)
        inside = torch.zeros(32, 32, dtype=torch.bool)
        inside[r0:r1, c0:c1] = True
        assert torch.equal(mixed["image"][i][:, inside], batch["image"][p][:, inside])
        assert torch.equal(mixed["image"][i][:, ~inside], batch["image"][i][:, ~inside])
        assert mixed["mix_targets"][i, p] == pytest.approx(float(info.weights[i, 1]))
    assert batch["image"].shape == mixed["image"].shape and "mix_targets" not in batch  # input untouched


def test_volume_box_and_depth_mask():
    g = torch.Generator().manual_seed(0)
    image = torch.rand(3, 2, 8, 16, 16, generator=g)
    depth_mask = torch.tensor([[True] * 3 + [False] * 5, [True] * 8, [True] * 6 + [False] * 2])
    batch = {"image": image, "depth_mask": depth_mask}
    peaks = [(1, 0, 0), (3, 3, 3), (2, 1, 2)]
    mixed, info = medcutmix(batch, _peak_maps(peaks, (4, 4, 4)), g, min_area=0.1, max_area=0.3, text_mode="none")
    for i in range(3):
        p = int(info.partner[i])
        box = info.boxes[i]
        centre = [(t + 0.5) * s / 4 for t, s in zip(peaks[p], (8, 16, 16), strict=True)]
        assert all(lo <= c <= hi for (lo, hi), c in zip(box.tolist(), centre, strict=True))
        d0, d1 = box[0].tolist()
        want = depth_mask[i].clone()
        want[d0:d1] |= depth_mask[p][d0:d1]
        assert torch.equal(mixed["depth_mask"][i], want)
        assert 0.1 - 0.05 <= float(info.area[i]) <= 0.3 + 0.05
    assert "text_ids" not in mixed


def test_determinism():
    batch, maps = _batch2d(), _peak_maps([(0, 0), (1, 1), (2, 2), (3, 3)], (4, 4))
    kw = {"sentence_end_id": DOT, "special_ids": (CLS, SEP)}
    a, ia = medcutmix(batch, maps, torch.Generator().manual_seed(5), **kw)
    b, ib = medcutmix(batch, maps, torch.Generator().manual_seed(5), **kw)
    assert all(torch.equal(a[k], b[k]) for k in ("image", "text_ids", "text_mask", "mix_targets", "entity_ids"))
    assert torch.equal(ia.boxes, ib.boxes) and torch.equal(ia.partner, ib.partner)


def test_sentence_mixing_picks_the_scored_sentence_and_keeps_sep():
    batch = _batch2d(b=2)
    scores = torch.zeros(2, 12)
    scores[1, 4] = 1.0  # partner 1's second sentence ([31, .]) is its most diagnostic one
    partner = torch.tensor([1, 0])
    ids, mask = mix_sentences(batch["text_ids"], batch["text_mask"], partner, torch.Generator(), DOT, (CLS, SEP),
                              scores)  # fmt: skip
    assert ids[0][mask[0]].tolist() == [CLS, 10, 20, DOT, 30, DOT, 31, DOT, SEP]
    assert ids[1][mask[1]].tolist()[-1] == SEP and (ids[~mask] == 0).all()
    short_ids, short_mask = mix_sentences(batch["text_ids"][:, :7], batch["text_mask"][:, :7], partner,
                                          torch.Generator(), DOT, (CLS, SEP), scores[:, :7])  # fmt: skip
    assert short_ids[0].tolist() == [CLS, 10, 20, DOT, 31, DOT, SEP] and short_mask.all()  # own content trimmed


def test_union_entities_and_derangement():
    ids = torch.tensor([[1, -1], [2, 1], [-1, -1]])
    got = union_entities(ids, torch.tensor([1, 2, 0]))
    assert [sorted(x for x in row if x >= 0) for row in got.tolist()] == [[1, 2], [1, 2], [1]]
    assert (got[:, -1] == -1).all()
    for n in (2, 3, 7):
        d = derangement(n, torch.Generator().manual_seed(n))
        assert (d != torch.arange(n)).all() and sorted(d.tolist()) == list(range(n))
    areas = sample_areas(1000, 0.5, 0.05, 0.4, torch.Generator().manual_seed(0))
    assert areas.min() >= 0.05 and areas.max() <= 0.4 and 0.2 < float(areas.mean()) < 0.25


def test_pathology_attention_follows_the_matching_query():
    e = torch.eye(4)
    pathology = torch.stack([e[[2, 1, 3]], e[[2, 1, 3]]])  # [B=2, Qp=3, E]: query 1 matches entity 1
    attn = torch.rand(2, 3, 6)
    streams = StreamOutput(anatomy=pathology, pathology=pathology, anatomy_attn=attn, pathology_attn=attn,
                           entity_embeds=e, entity_is_anatomy=torch.tensor([True, False, False, False]))  # fmt: skip
    maps = pathology_attention(streams, torch.tensor([[1, 0], [-1, -1]]), (2, 3))
    assert maps.shape == (2, 2, 3)
    assert torch.equal(maps[0].flatten(), attn[0, 1]) and torch.allclose(maps[1].flatten(), attn[1].mean(0))


def test_mixed_batch_trains_with_soft_targets(make_output):
    out = make_output(b=4, seed=9)
    mixed, _ = medcutmix(_batch2d(), torch.rand(4, 4, 4), torch.Generator().manual_seed(2), text_mode="none")
    got = ClipLoss()(out, mixed)["loss"]
    want = clip_loss(out.image.embeds, out.text.embeds, out.logit_scale, mixed["mix_targets"].double())
    torch.testing.assert_close(got, want)
    t = mixed["mix_targets"].double()
    logp = (out.logit_scale * out.image.embeds @ out.text.embeds.T).log_softmax(-1)
    logq = (out.logit_scale * out.text.embeds @ out.image.embeds.T).log_softmax(-1)
    manual = (-(t * logp).sum(-1).mean() - (F.normalize(t.T, p=1, dim=-1) * logq).sum(-1).mean()) / 2
    torch.testing.assert_close(got, manual)


def test_errors():
    batch = _batch2d()
    with pytest.raises(ValueError, match="text_mode"):
        medcutmix(batch, torch.rand(4, 4, 4), torch.Generator(), text_mode="words")
    with pytest.raises(ValueError, match="rank"):
        medcutmix(batch, torch.rand(4, 16), torch.Generator())
    with pytest.raises(ValueError, match="at least 2"):
        derangement(1, torch.Generator())
