"""The one image-tower contract every tower (2D timm, 3D MONAI, slice pooling) follows.

    feats = tower.forward_features(x, depth_mask)   # TowerFeatures: tokens [B, N, F] over a grid, mask, prefix
    pooled = tower.forward_head(feats)              # [B, F_pool]
    maps = tower.forward_intermediates(x, depth_mask)  # list of [B, C_i, *grid_i], fine to coarse (decoders)

Tokens are always flattened channels-last in grid order (row-major over (h, w) or (d, h, w)), so one projection,
one pooler and the streams serve 2D and 3D alike. `x` is [B, C, H, W] for 2D towers and [B, C, D, H, W] for 3D
towers, with `depth_mask` [B, D] bool (True = real slice) for the latter.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from medvlp.models.config import TowerConfig


@dataclass
class TowerFeatures:
    """What forward_features gives.

    tokens: [B, N, F] spatial tokens, N = prod(grid). grid: (h, w) or (d, h, w).
    mask: [B, N] bool, False for tokens of padded slices; None when every token is real.
    prefix: [B, P, F] class/register tokens of ViTs (slice pooling: [B, D*P, F]); None when there are none.
    """

    tokens: torch.Tensor
    grid: tuple[int, ...]
    mask: torch.Tensor | None = None
    prefix: torch.Tensor | None = None

    def as_map(self) -> torch.Tensor:
        """Tokens as a channels-first map [B, F, *grid]."""
        b, _, f = self.tokens.shape
        return self.tokens.transpose(1, 2).reshape(b, f, *self.grid)  # [B, N, F] -> [B, F, *grid]

    def full_mask(self) -> torch.Tensor:
        """The token mask [B, N] bool, all True when none was set."""
        if self.mask is not None:
            return self.mask
        return torch.ones(self.tokens.shape[:2], dtype=torch.bool, device=self.tokens.device)


def map_to_tokens(fmap: torch.Tensor) -> tuple[torch.Tensor, tuple[int, ...]]:
    """A channels-first map [B, F, *grid] as tokens [B, N, F] and its grid."""
    grid = tuple(fmap.shape[2:])
    return fmap.flatten(2).transpose(1, 2), grid  # [B, F, *grid] -> [B, F, N] -> [B, N, F]


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None, dim: int = 1) -> torch.Tensor:
    """Mean of x [B, N, F] over `dim` where mask [B, N] is True (rows without a True give zeros)."""
    if mask is None:
        return x.mean(dim)
    w = mask.to(x.dtype).unsqueeze(-1)  # [B, N, 1]
    return (x * w).sum(dim) / w.sum(dim).clamp_min(1.0)


class ImageTower(nn.Module):
    """Base class: holds the config and the facts a projection or a decoder needs about the tower.

    spatial_dims: 2 (input [B, C, H, W]) or 3 (input [B, C, D, H, W]).
    num_features: width F of the tokens. pooled_features: width of forward_head's output.
    feature_info: one dict per intermediate map: num_chs and reduction (stride per spatial axis).
    """

    spatial_dims: int = 2

    def __init__(self, cfg: TowerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_chans = cfg.in_chans
        self.num_features = 0
        self.pooled_features = 0
        self.feature_info: list[dict[str, Any]] = []

    # the contract --------------------------------------------------------------------------------------
    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        raise NotImplementedError

    def forward_head(self, feats: TowerFeatures) -> torch.Tensor:
        raise NotImplementedError

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features [B, F_pool]."""
        return self.forward_head(self.forward_features(x, depth_mask))

    # shared checks and helpers -------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor, depth_mask: torch.Tensor | None) -> torch.Tensor | None:
        """Shape checks with messages that name the contract; returns depth_mask (all True when None, for 3D)."""
        want = 2 + self.spatial_dims
        layout = "[B, C, H, W]" if self.spatial_dims == 2 else "[B, C, D, H, W]"
        if x.ndim != want:
            raise ValueError(f"{type(self).__name__} reads {layout} images; got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_chans:
            raise ValueError(
                f"{type(self).__name__} was built for {self.in_chans} channel(s); got {x.shape[1]} "
                f"(image {tuple(x.shape)}); set image.in_chans in the model config"
            )
        if self.spatial_dims == 2:
            if depth_mask is not None:
                raise ValueError("depth_mask is only for 3D images [B, C, D, H, W]")
            return None
        b, d = x.shape[0], x.shape[2]
        if depth_mask is None:
            return torch.ones(b, d, dtype=torch.bool, device=x.device)
        if tuple(depth_mask.shape) != (b, d):
            raise ValueError(f"depth_mask must be [B, D] = {(b, d)}, got {tuple(depth_mask.shape)}")
        return depth_mask.to(device=x.device, dtype=torch.bool)

    def apply_freeze(self) -> None:
        """Turn off gradients when the config says freeze (called at the end of a subclass __init__)."""
        if self.cfg.freeze:
            for p in self.parameters():
                p.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> ImageTower:
        """A frozen tower stays in eval mode (no dropout, BatchNorm statistics untouched)."""
        return super().train(mode and not self.cfg.freeze)

    def maybe_no_grad(self) -> Any:
        """no_grad for a frozen tower (saves its activations), a no-op otherwise."""
        return torch.no_grad() if self.cfg.freeze else contextlib.nullcontext()


def adaptive_depth_mask(depth_mask: torch.Tensor, size: int) -> torch.Tensor:
    """depth_mask [B, D] bool -> [B, size] bool: a coarse slot is real when any slice it covers is real."""
    m = depth_mask.to(torch.float32).unsqueeze(1)  # [B, D] -> [B, 1, D]
    return torch.nn.functional.adaptive_max_pool1d(m, size).squeeze(1) > 0  # [B, 1, size] -> [B, size]


def token_mask_3d(depth_mask: torch.Tensor, grid: tuple[int, ...]) -> torch.Tensor:
    """Token mask [B, d*h*w] for a 3D grid (d, h, w) from the slice mask [B, D]."""
    d, h, w = grid
    coarse = adaptive_depth_mask(depth_mask, d)  # [B, d]
    return coarse[:, :, None].expand(-1, d, h * w).reshape(depth_mask.shape[0], d * h * w)  # [B, d, hw] -> [B, N]
