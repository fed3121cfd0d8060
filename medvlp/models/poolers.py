"""Poolers: depth poolers (slice vectors [B, D, F] -> [B, F], honouring depth_mask) and text poolers.

Every depth pooler ignores masked slices completely: their values never reach the output, so padding a volume
with anything changes nothing. A row whose slices are all masked pools to zeros instead of NaN.
"""

from __future__ import annotations

import torch
from torch import nn

from medvlp.models.towers import masked_mean
from medvlp.registry import POOLERS, TEXT_POOLERS


def _mask_or_ones(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    if tuple(mask.shape) != tuple(x.shape[:2]):
        raise ValueError(f"mask must be [B, D] = {tuple(x.shape[:2])}, got {tuple(mask.shape)}")
    return mask.to(device=x.device, dtype=torch.bool)


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Softmax of scores [B, D] over True positions of mask [B, D]; all-masked rows give zeros (not NaN)."""
    scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return torch.nan_to_num(weights, nan=0.0) * mask


@POOLERS.register("mean")
class MeanPool(nn.Module):
    """Mean over real slices."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean(x, _mask_or_ones(x, mask))  # [B, D, F] -> [B, F]


@POOLERS.register("max")
class MaxPool(nn.Module):
    """Element-wise max over real slices."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _mask_or_ones(x, mask)
        out = x.masked_fill(~mask[:, :, None], float("-inf")).amax(dim=1)  # [B, D, F] -> [B, F]
        return torch.where(mask.any(1, keepdim=True), out, torch.zeros_like(out))


@POOLERS.register("attention")
class AttentionPool(nn.Module):
    """Gated attention (Ilse et al. 2018): a learned score per slice, softmax over real slices, weighted sum."""

    def __init__(self, dim: int, hidden: int = 0) -> None:
        super().__init__()
        hidden = hidden or max(dim // 2, 8)
        self.value = nn.Linear(dim, hidden)
        self.gate = nn.Linear(dim, hidden)
        self.score = nn.Linear(hidden, 1)

    def weights(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Slice weights [B, D] (sum to 1 over real slices)."""
        h = torch.tanh(self.value(x)) * torch.sigmoid(self.gate(x))  # [B, D, hidden]
        return masked_softmax(self.score(h).squeeze(-1), _mask_or_ones(x, mask))  # [B, D, 1] -> [B, D]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        w = self.weights(x, mask)
        return torch.einsum("bd,bdf->bf", w, x)  # weighted sum over slices: [B, D] x [B, D, F] -> [B, F]


@POOLERS.register("transformer")
class TransformerPool(nn.Module):
    """A small transformer over the slice sequence (learned depth positions, a class token read out)."""

    def __init__(
        self,
        dim: int,
        layers: int = 1,
        heads: int = 4,
        max_depth: int = 256,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"transformer pooler: heads={heads} must divide the feature width {dim}")
        self.max_depth = max_depth
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, max_depth, dim))
        nn.init.trunc_normal_(self.cls, std=0.02)
        nn.init.trunc_normal_(self.pos, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, heads, int(dim * mlp_ratio), dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, d, _ = x.shape
        if d > self.max_depth:
            raise ValueError(f"transformer pooler: {d} slices exceed max_depth={self.max_depth} (poolers.max_depth)")
        mask = _mask_or_ones(x, mask)
        h = torch.cat([self.cls.expand(b, -1, -1), x + self.pos[:, :d]], dim=1)  # [B, 1+D, F]
        pad = torch.cat([mask.new_zeros(b, 1), ~mask], dim=1)  # [B, 1+D] True = ignore; the class token is real
        h = self.encoder(h, src_key_padding_mask=pad)
        return self.norm(h[:, 0])  # class token: [B, F]


# ---------------------------------------------------------------------------------------------- text poolers
# A text pooler gets the token outputs [B, L, H] with their mask [B, L] and, per encoder chunk, the output at the
# chunk's first position [B, K, H] with chunk_mask [B, K] (K = 1 when the report fits one pass).
@TEXT_POOLERS.register("cls")
def cls_pool(
    tokens: torch.Tensor, mask: torch.Tensor, chunk_cls: torch.Tensor, chunk_mask: torch.Tensor
) -> torch.Tensor:
    """The first ([CLS]) token of each chunk, averaged over the chunks the report fills."""
    return masked_mean(chunk_cls, chunk_mask)  # [B, K, H] -> [B, H]


@TEXT_POOLERS.register("mean")
def mean_pool(
    tokens: torch.Tensor, mask: torch.Tensor, chunk_cls: torch.Tensor, chunk_mask: torch.Tensor
) -> torch.Tensor:
    """Mean over every real token of the report (across chunks)."""
    return masked_mean(tokens, mask)  # [B, L, H] -> [B, H]
