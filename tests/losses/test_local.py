"""Local token-region alignment (GLoRIA attention, FILIP max) against loop references; masks honoured."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medvlp.losses import LocalLoss, local_similarity


def cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.dot(a, b) / (a.norm() * b.norm())


def ref_pair(regions, rmask, words, wmask, method, t1=4.0, t2=5.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(image->text, text->image) score of one pair, by loops over the valid tokens only."""
    rs = [regions[n] for n in range(len(regions)) if rmask[n]]
    ws = [words[m] for m in range(len(words)) if wmask[m]]
    if not rs or not ws:
        zero = torch.zeros((), dtype=torch.float64)
        return zero, zero
    if method == "max":
        t2i = sum(max(cos(w, r) for r in rs) for w in ws) / len(ws)
        i2t = sum(max(cos(r, w) for w in ws) for r in rs) / len(rs)
        return i2t, t2i
    scores = []
    for w in ws:
        attn = torch.stack([t1 * cos(w, r) for r in rs]).softmax(0)
        context = sum(a * F.normalize(r, dim=0) for a, r in zip(attn, rs, strict=True))
        scores.append(cos(context, w))
    agg = torch.logsumexp(t2 * torch.stack(scores), 0) / t2
    return agg, agg


def ref_local(out, method, temperature=0.1) -> torch.Tensor:
    img, txt = out.image, out.text
    b = len(img.tokens)
    i2t = [[None] * b for _ in range(b)]
    t2i = [[None] * b for _ in range(b)]
    for i in range(b):
        for j in range(b):
            i2t[i][j], t2i[i][j] = ref_pair(img.tokens[i], img.token_mask[i], txt.tokens[j], txt.mask[j], method)
    total = 0.0
    for i in range(b):
        row_i = torch.stack([i2t[i][j] for j in range(b)]) / temperature  # image i over texts
        row_t = torch.stack([t2i[j][i] for j in range(b)]) / temperature  # text i over images
        total = total + (torch.logsumexp(row_i, 0) - row_i[i]) + (torch.logsumexp(row_t, 0) - row_t[i])
    return total / (2 * b)


@pytest.mark.parametrize("method", ["attention", "max"])
def test_matches_reference(make_output, method):
    out = make_output(b=4, seed=1)
    got = LocalLoss(method=method)(out, {})
    assert set(got) == {"local_loss", "loss"}
    torch.testing.assert_close(got["loss"], ref_local(out, method), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("method", ["attention", "max"])
def test_masked_tokens_change_nothing(make_output, method):
    out = make_output(b=4, seed=2)
    loss = LocalLoss(method=method)(out, {})["loss"]
    loss.backward()
    grads = out.image.tokens.grad.clone(), out.text.tokens.grad.clone()
    noisy = make_output(b=4, seed=2)
    with torch.no_grad():  # garbage (huge values, NaN) in every masked slot
        noisy.image.tokens[~noisy.image.token_mask] = 1e6
        noisy.text.tokens[~noisy.text.mask] = float("nan")
    noisy_loss = LocalLoss(method=method)(noisy, {})["loss"]
    noisy_loss.backward()
    assert torch.equal(loss.detach(), noisy_loss.detach())
    assert torch.equal(noisy.image.tokens.grad, grads[0]) and torch.equal(noisy.text.tokens.grad, grads[1])
    assert (noisy.image.tokens.grad[~noisy.image.token_mask] == 0).all()


def test_chunking_and_determinism(make_output):
    out = make_output(b=5, seed=3)
    args = (out.image.tokens, out.image.token_mask, out.text.tokens, out.text.mask)
    whole = local_similarity(*args, chunk=16)
    for chunked, single in zip(local_similarity(*args, chunk=2), whole, strict=True):
        torch.testing.assert_close(chunked, single, rtol=1e-12, atol=1e-12)
    assert all(torch.equal(a, b) for a, b in zip(local_similarity(*args, chunk=16), whole, strict=True))


@pytest.mark.parametrize("method", ["attention", "max"])
def test_empty_sample_and_gradients(make_output, method):
    out = make_output(b=4, seed=4)
    out.image.token_mask[1] = False
    out.text.mask[2] = False
    loss = LocalLoss(method=method, temperature=None)(out, {})["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    for t in (out.image.tokens, out.text.tokens, out.logit_scale):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0
    assert (out.image.tokens.grad[1] == 0).all() and (out.text.tokens.grad[2] == 0).all()


def test_unknown_method():
    with pytest.raises(ValueError, match="attention"):
        LocalLoss(method="mean")
