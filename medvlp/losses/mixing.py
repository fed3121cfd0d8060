"""MedCutMix-style cross-pair mixing: paste the region of a partner image where its pathology attention peaks
into an image, append the partner's diagnostic sentence to the report, and train with soft targets.

Batch-side, on collated tensors (after tokenisation, before the training forward):
- partners: a random derangement of the batch (sample i gets partner p(i) != i), from the caller's generator;
- image: a box of area fraction a_i ~ min_area + (max_area - min_area) * Beta(alpha, alpha) (CutMix's draw),
  equal side fractions a^(1/S) over the S spatial axes, centred on the peak of the partner's attention map
  (upsampled from the token grid to pixels), shifted to lie inside the image, cut from the partner and pasted at
  the same place in image i (same view, so the same anatomy); the real area after rounding is returned;
- text ("sentence" mode): the partner's most diagnostic sentence (highest mean token score, e.g.
  `diagnostic_token_scores`; random without scores) is appended to the report's content, before its trailing
  special tokens ([SEP]), trimming the report's own content when the length would overflow. Sentences end at
  `sentence_end_id` (the "." token); without it the partner's whole content is one sentence. "none": text kept;
- targets, batch["mix_targets"] [B, B] (rows sum to 1, read by the contrastive losses): "none" mode uses CutMix's
  area weights, (1 - a) on the own text and a on the partner's; "sentence" mode, where the mixed report
  describes the pasted finding too, gives 1 / (1 + a) to the own text and a / (1 + a) to the partner's;
- entity_ids: the union of the pair's entities (the pasted region carries the partner's findings); labels are
  kept (soft label targets then use the base sample's labels: C = T @ S in soft_targets.py).

The attention maps come from a no-grad forward on the unmixed batch (e.g. `pathology_attention`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from medvlp.losses.streams import positive_entities
from medvlp.models.outputs import StreamOutput

TEXT_MODES = ("sentence", "none")


@dataclass
class MixInfo:
    """partner [B] long; area [B] pasted fraction of the image; weights [B, 2] (own, partner) target weights
    summing to 1; boxes [B, S, 2] (start, stop) of the pasted box per spatial axis."""

    partner: torch.Tensor
    area: torch.Tensor
    weights: torch.Tensor
    boxes: torch.Tensor


def derangement(n: int, generator: torch.Generator) -> torch.Tensor:
    """A random permutation without fixed points (n >= 2): a random cycle through all samples."""
    if n < 2:
        raise ValueError(f"mixing needs at least 2 samples, got {n}")
    order = torch.randperm(n, generator=generator)
    partner = torch.empty(n, dtype=torch.long)
    partner[order] = order.roll(-1)  # order[k] -> order[k + 1]
    return partner


def sample_areas(n: int, alpha: float, min_area: float, max_area: float, generator: torch.Generator) -> torch.Tensor:
    """[n] area fractions min_area + (max_area - min_area) * Beta(alpha, alpha), by inverse CDF of a uniform."""
    from scipy.special import betaincinv

    if alpha <= 0 or not 0 < min_area <= max_area <= 1:
        raise ValueError(f"need alpha > 0 and 0 < min_area <= max_area <= 1, got {alpha}, {min_area}, {max_area}")
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    beta = torch.as_tensor(betaincinv(alpha, alpha, u.numpy()), dtype=torch.float64)
    return min_area + (max_area - min_area) * beta


def attention_peaks(attention_maps: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
    """[B, *grid] maps -> [B, S] pixel coordinates of the centre of each map's highest token."""
    grid = attention_maps.shape[1:]
    if len(grid) != len(spatial):
        raise ValueError(f"attention grid {tuple(grid)} and image spatial shape {tuple(spatial)} differ in rank")
    flat = attention_maps.reshape(len(attention_maps), -1).argmax(-1)  # [B, *grid] -> [B, prod(grid)] -> [B]
    coords = torch.stack(torch.unravel_index(flat, tuple(grid)), dim=-1)  # [B, S] token indices
    size = torch.tensor(list(spatial), dtype=torch.float64)
    return (coords.to(torch.float64) + 0.5) * size / torch.tensor(list(grid), dtype=torch.float64)


def box_around(centres: torch.Tensor, areas: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
    """[B, S] centres and [B] area fractions -> [B, S, 2] integer (start, stop) boxes inside the image."""
    size = torch.tensor(list(spatial), dtype=torch.float64)  # [S]
    side = (size * areas[:, None] ** (1.0 / len(spatial))).round().clamp(min=1)  # [B, S]
    side = torch.minimum(side, size)
    start = torch.minimum((centres - side / 2).round().clamp(min=0), size - side)  # [B, S]
    return torch.stack([start, start + side], dim=-1).long()  # [B, S, 2]


def box_mask(boxes: torch.Tensor, spatial: Sequence[int]) -> torch.Tensor:
    """[B, S, 2] boxes -> [B, *spatial] bool, True inside the box."""
    mask = torch.ones(len(boxes), *spatial, dtype=torch.bool)
    for axis, n in enumerate(spatial):
        pos = torch.arange(n)
        inside = (pos >= boxes[:, axis, :1]) & (pos < boxes[:, axis, 1:])  # [B, n]
        shape = [len(boxes)] + [n if a == axis else 1 for a in range(len(spatial))]
        mask &= inside.reshape(shape)  # [B, n] -> [B, 1.., n, ..1] along this axis
    return mask


def _split(ids: list[int], special: set[int]) -> tuple[list[int], list[int], list[int]]:
    """Valid token ids -> (leading specials, content, trailing specials)."""
    lo, hi = 0, len(ids)
    while lo < hi and ids[lo] in special:
        lo += 1
    while hi > lo and ids[hi - 1] in special:
        hi -= 1
    return ids[:lo], ids[lo:hi], ids[hi:]


def _sentences(start: int, content: list[int], end_id: int | None) -> list[list[int]]:
    """Indices (into the valid-token list) of each sentence of content, which begins at index `start`."""
    out, cur = [], []
    for k, tok in enumerate(content):
        cur.append(start + k)
        if end_id is not None and tok == end_id:
            out.append(cur)
            cur = []
    return [*out, cur] if cur else out


def mix_sentences(
    ids: torch.Tensor,
    mask: torch.Tensor,
    partner: torch.Tensor,
    generator: torch.Generator,
    sentence_end_id: int | None = None,
    special_ids: Sequence[int] = (),
    scores: torch.Tensor | None = None,
    pad_id: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Append partner p(i)'s best sentence to report i's content: ids/mask [B, L] -> mixed [B, L] (see module)."""
    special, (b, length) = set(int(s) for s in special_ids), ids.shape
    out_ids, out_mask = torch.full_like(ids, pad_id), torch.zeros_like(mask, dtype=torch.bool)
    rows = [ids[i][mask[i].bool()].tolist() for i in range(b)]
    for i in range(b):
        p = int(partner[i])
        lead, content, trail = _split(rows[i], special)
        p_lead, p_content, _ = _split(rows[p], special)
        sentences = _sentences(len(p_lead), p_content, sentence_end_id)  # positions within row p
        if not sentences:
            pick: list[int] = []
        elif scores is not None:
            valid_pos = mask[p].bool().nonzero().squeeze(-1)  # row position of each valid token
            means = [float(scores[p, valid_pos[s]].mean()) for s in sentences]
            pick = sentences[max(range(len(sentences)), key=means.__getitem__)]
        else:
            pick = sentences[int(torch.randint(len(sentences), (1,), generator=generator))]
        sentence = [rows[p][k] for k in pick]
        room = max(0, length - len(lead) - len(trail))
        sentence = sentence[:room]
        row = lead + content[: room - len(sentence)] + sentence + trail
        row = row[:length]
        out_ids[i, : len(row)] = torch.tensor(row, dtype=ids.dtype)
        out_mask[i, : len(row)] = True
    return out_ids, out_mask


def union_entities(entity_ids: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """[B, E] ids padded with -1 -> [B, 2E] own and partner's ids, deduplicated, padding last."""
    both = torch.cat([entity_ids, entity_ids[partner]], dim=1).sort(dim=1, descending=True).values  # [B, 2E]
    dup = torch.zeros_like(both, dtype=torch.bool)
    dup[:, 1:] = both[:, 1:] == both[:, :-1]
    return both.masked_fill(dup, -1).sort(dim=1, descending=True).values


@torch.no_grad()
def pathology_attention(streams: StreamOutput, entity_ids: torch.Tensor, grid: Sequence[int]) -> torch.Tensor:
    """[B, *grid] attention of the pathology query that best matches a positive pathology entity of each report
    (the mean over queries for a report without one): where the model sees the report's finding."""
    pos = positive_entities(entity_ids.to(streams.entity_embeds.device), streams.entity_embeds.shape[0])  # [B, K]
    pos = pos & ~streams.entity_is_anatomy.bool()[None]
    sim = torch.einsum("bqe,ke->bqk", streams.pathology, streams.entity_embeds)  # [B, Qp, K]
    best = sim.masked_fill(~pos[:, None, :], float("-inf")).amax(-1).argmax(-1)  # [B]
    attn = streams.pathology_attn  # [B, Qp, N]
    chosen = attn[torch.arange(len(attn)), best]  # [B, N]
    maps = torch.where(pos.any(-1, keepdim=True), chosen, attn.mean(1))  # [B, N]
    return maps.reshape(len(maps), *grid)  # [B, N] -> [B, *grid]


@torch.no_grad()
def diagnostic_token_scores(
    text_tokens: torch.Tensor, text_mask: torch.Tensor, streams: StreamOutput, entity_ids: torch.Tensor
) -> torch.Tensor:
    """[B, L] cosine of each word token with the closest positive pathology entity of its report (0 elsewhere)."""
    pos = positive_entities(entity_ids.to(text_tokens.device), streams.entity_embeds.shape[0])  # [B, K]
    pos = pos & ~streams.entity_is_anatomy.bool()[None]
    cos = torch.einsum("ble,ke->blk", F.normalize(text_tokens, dim=-1), streams.entity_embeds)  # [B, L, K]
    best = cos.masked_fill(~pos[:, None, :], float("-inf")).amax(-1)  # [B, L]
    keep = text_mask.bool() & pos.any(-1, keepdim=True)
    return torch.where(keep, best, torch.zeros_like(best))


def medcutmix(
    batch: Mapping[str, Any],
    attention_maps: torch.Tensor,
    generator: torch.Generator,
    alpha: float = 1.0,
    min_area: float = 0.02,
    max_area: float = 0.5,
    text_mode: str = "sentence",
    sentence_end_id: int | None = None,
    special_ids: Sequence[int] = (),
    text_scores: torch.Tensor | None = None,
) -> tuple[dict[str, Any], MixInfo]:
    """Mix each sample with a random partner (module docstring): returns the mixed batch (with "mix_targets"
    [B, B]) and the MixInfo. attention_maps: [B, *grid] non-negative, grid of the same rank as the image's spatial
    axes. The random draws use `generator` (CPU) only; tensors stay on their device."""
    if text_mode not in TEXT_MODES:
        raise ValueError(f"unknown text_mode {text_mode!r}; choose one of {TEXT_MODES}")
    image = batch["image"]  # [B, C, *spatial]
    b, spatial = image.shape[0], tuple(image.shape[2:])
    partner = derangement(b, generator)  # [B]
    centres = attention_peaks(attention_maps.detach().float().cpu()[partner], spatial)  # [B, S]
    boxes = box_around(centres, sample_areas(b, alpha, min_area, max_area, generator), spatial)  # [B, S, 2]
    area = (boxes[..., 1] - boxes[..., 0]).prod(-1).double() / float(torch.tensor(spatial).prod())  # [B]
    inside = box_mask(boxes, spatial).to(image.device)  # [B, *spatial]
    dev_partner = partner.to(image.device)
    mixed = dict(batch)
    mixed["image"] = torch.where(inside[:, None], image[dev_partner], image)  # [B, C, *spatial]
    if "depth_mask" in batch and len(spatial) == 3:
        dm = batch["depth_mask"].bool()  # [B, D]
        in_depth = inside.flatten(2).any(-1)  # [B, D, H, W] -> [B, D, H*W] -> [B, D]
        mixed["depth_mask"] = dm | (dm[dev_partner] & in_depth)
    if text_mode == "sentence":
        ids, mask = batch["text_ids"], batch["text_mask"]
        scores = None if text_scores is None else text_scores.detach().cpu()
        new_ids, new_mask = mix_sentences(
            ids.cpu(), mask.cpu(), partner, generator, sentence_end_id, special_ids, scores
        )
        mixed["text_ids"], mixed["text_mask"] = new_ids.to(ids.device), new_mask.to(mask.device)
        own, other = 1 / (1 + area), area / (1 + area)
    else:
        own, other = 1 - area, area
    if "entity_ids" in batch:
        mixed["entity_ids"] = union_entities(batch["entity_ids"], partner.to(batch["entity_ids"].device))
    targets = torch.zeros(b, b, dtype=torch.float64)
    targets[torch.arange(b), torch.arange(b)] = own
    targets[torch.arange(b), partner] = other
    mixed["mix_targets"] = targets.to(device=image.device, dtype=torch.float32)
    weights = torch.stack([own, other], dim=-1)  # [B, 2]
    return mixed, MixInfo(partner=partner, area=area, weights=weights, boxes=boxes)
