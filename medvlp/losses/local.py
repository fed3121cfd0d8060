"""Local token-region alignment: word tokens of a report against image tokens (regions), aggregated into one
local similarity per (image, report) pair, then a symmetric contrastive loss over the local batch.

Two methods, both on cosine similarities of the (L2-normalised) tokens:
- "attention" (GLoRIA): each word attends over the image regions, a_ln = softmax_n(attn_temperature * cos(w_l,
  v_n)); its visual context c_l = sum_n a_ln v_n is compared with the word, s_l = cos(c_l, w_l); the pair's score
  is the soft maximum over words, log(sum_l exp(agg_temperature * s_l)) / agg_temperature. Same score both ways.
- "max" (FILIP): token-wise maximum. image->text: mean over regions of the best-matching word's cosine;
  text->image: mean over words of the best-matching region's cosine (the attention method's limit as
  attn_temperature grows).
Masked words and regions (text mask, image token_mask) take no part: they are zeroed before any product and
excluded from every softmax, maximum and mean; a sample with no valid token scores 0. The [c, B, L, N] similarity
tensor is built for `chunk` images at a time to bound memory. The local loss uses the local batch only (no
gathering: token tensors are large); GLoRIA does the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.losses.registry import register_loss
from medvlp.losses.soft_targets import SoftTargets, row_normalise, soft_cross_entropy
from medvlp.models.outputs import VLPOutput

METHODS = ("attention", "max")


def _prepare(tokens: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Zero masked tokens and normalise: [B, T, E] -> (tokens [B, T, E], usable mask [B, T], has_any [B]).

    A sample without a valid token gets an all-True usable mask over zero tokens (finite maths, no NaN
    gradients); its score is zeroed later through has_any.
    """
    mask = mask.bool()
    tokens = F.normalize(torch.where(mask[..., None], tokens, torch.zeros_like(tokens)), dim=-1)
    has_any = mask.any(-1)  # [B]
    return tokens, mask | ~has_any[:, None], has_any


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x [..., T] over mask [..., T] (broadcastable)."""
    mask = mask.to(x.dtype).expand_as(x)
    return (x * mask).sum(-1) / mask.sum(-1).clamp_min(1)


def local_similarity(
    regions: torch.Tensor,
    region_mask: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    method: str = "attention",
    attn_temperature: float = 4.0,
    agg_temperature: float = 5.0,
    chunk: int = 16,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pair scores (image->text [Bi, Bt], text->image [Bi, Bt]) of regions [Bi, N, E] and words [Bt, L, E]."""
    if method not in METHODS:
        raise ValueError(f"unknown local similarity method {method!r}; choose one of {METHODS}")
    v, vmask, v_any = _prepare(regions, region_mask)  # [Bi, N, E], [Bi, N], [Bi]
    w, wmask, w_any = _prepare(words, word_mask)  # [Bt, L, E], [Bt, L], [Bt]
    wm = wmask[None, :, :, None]  # [1, Bt, L, 1]
    i2t, t2i = [], []
    for start in range(0, v.shape[0], chunk):
        vc, rm = v[start : start + chunk], vmask[start : start + chunk, None, None, :]  # [c, N, E], [c, 1, 1, N]
        cos = torch.einsum("cne,tle->ctln", vc, w)  # [c, Bt, L, N]
        if method == "max":
            best_region = cos.masked_fill(~rm, float("-inf")).amax(-1)  # [c, Bt, L]
            best_word = cos.masked_fill(~wm, float("-inf")).amax(-2)  # [c, Bt, N]
            t2i.append(_masked_mean(best_region, wmask[None]))  # [c, Bt]
            i2t.append(_masked_mean(best_word, rm[:, :, 0, :]))  # [c, Bt]
        else:
            attn = (attn_temperature * cos).masked_fill(~rm, float("-inf")).softmax(-1)  # [c, Bt, L, N]
            context = torch.einsum("ctln,cne->ctle", attn, vc)  # [c, Bt, L, E]
            score = F.cosine_similarity(context, w[None], dim=-1, eps=1e-8)  # [c, Bt, L]
            agg = (agg_temperature * score).masked_fill(~wmask[None], float("-inf")).logsumexp(-1)  # [c, Bt]
            i2t.append(agg / agg_temperature)
            t2i.append(agg / agg_temperature)
    valid = (v_any[:, None] & w_any[None, :]).to(v.dtype)  # [Bi, Bt]
    return torch.cat(i2t) * valid, torch.cat(t2i) * valid


def local_loss(
    regions: torch.Tensor,
    region_mask: torch.Tensor,
    words: torch.Tensor,
    word_mask: torch.Tensor,
    scale: torch.Tensor | float,
    content: torch.Tensor | None = None,
    **similarity: Any,
) -> torch.Tensor:
    """Symmetric cross-entropy over the local batch of the scaled local pair scores (local_similarity options)."""
    sim_i2t, sim_t2i = local_similarity(regions, region_mask, words, word_mask, **similarity)  # [B, B] each
    logits_i, logits_t = scale * sim_i2t, scale * sim_t2i.T  # rows images, rows texts: [B, B]
    if content is None:
        target = torch.arange(logits_i.shape[0], device=logits_i.device)
        return (F.cross_entropy(logits_i, target) + F.cross_entropy(logits_t, target)) / 2
    t_i, t_t = row_normalise(content), row_normalise(content.T)  # [B, B] each
    return (soft_cross_entropy(logits_i, t_i) + soft_cross_entropy(logits_t, t_t)) / 2


@register_loss("local")
class LocalLoss(nn.Module):
    """Token-region alignment on VLPOutput image/text tokens and masks.

    Knobs: method ("attention" GLoRIA | "max" FILIP), temperature (fixed; None = the model's logit_scale; GLoRIA
    uses 0.1), attn_temperature, agg_temperature, chunk, and the SoftTargets options (over the local batch).
    """

    def __init__(
        self,
        method: str = "attention",
        temperature: float | None = 0.1,
        attn_temperature: float = 4.0,
        agg_temperature: float = 5.0,
        chunk: int = 16,
        **soft: Any,
    ) -> None:
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown local similarity method {method!r}; choose one of {METHODS}")
        self.temperature = temperature
        self.similarity = {"method": method, "attn_temperature": attn_temperature,
                           "agg_temperature": agg_temperature, "chunk": chunk}  # fmt: skip
        self.targets = SoftTargets(**soft)

    def forward(self, out: VLPOutput, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        img, txt = out.image, out.text
        scale = out.logit_scale if self.temperature is None else 1.0 / self.temperature
        content = self.targets.content(batch, gathered=False, like=img.tokens)
        loss = local_loss(img.tokens, img.token_mask, txt.tokens, txt.mask, scale, content, **self.similarity)
        return {"local_loss": loss, "loss": loss}
