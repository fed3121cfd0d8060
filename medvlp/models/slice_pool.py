"""3D by slice pooling (RadCLIP): a 2D tower runs over the D slices, a registered pooler pools across depth.

Only real slices (depth_mask True) go through the 2D tower, in chunks of `slice_chunk` slices: padded slices cost
nothing and cannot leak into the result, and peak activation memory without autograd (inference, frozen 2D tower)
is one chunk's. In training every chunk's activations are kept for the backward pass unless `checkpoint: true`,
which recomputes each chunk in the backward pass (training memory ~ one chunk + the tokens). Caveat: a 2D tower with
BatchNorm in training mode normalises each chunk with that chunk's statistics (and, checkpointed, updates its
running statistics twice per chunk); frozen or eval-mode BatchNorm, LayerNorm and GroupNorm towers give the same
result for any chunk size.

The 2D tower is `self.slice_tower`, an ordinary 2D tower: weights of a 2D tower trained on CXR load into it
(`slice_tower.weights` in the config, or `tower.slice_tower.load_state_dict(...)`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from medvlp.config.schema import knob
from medvlp.models.config import TowerConfig
from medvlp.models.towers import ImageTower, TowerFeatures
from medvlp.models.weights import load_weights
from medvlp.registry import POOLERS, TOWERS


@dataclass
class SlicePoolConfig(TowerConfig):
    """A 2D tower over slices + a depth pooler. in_chans and input_size [D, H, W] are passed to the 2D tower."""

    slice_tower: TowerConfig = field(default_factory=TowerConfig)
    pooler: str = knob("attention", help="depth pooler (medvlp.registry.POOLERS): mean, max, attention, transformer")
    pooler_kwargs: dict[str, Any] = knob({}, help="pooler arguments, e.g. {layers: 1, heads: 4, max_depth: 64}")
    slice_chunk: int = knob(32, help="slices per pass through the 2D tower (bounds memory)", min=1)
    checkpoint: bool = knob(False, help="recompute each chunk in the backward pass (activation checkpointing)")


@TOWERS.register("slice_pool", config=SlicePoolConfig)
class SlicePoolTower(ImageTower):
    """A 2D tower over the slices of a volume, pooled across depth by a registered pooler."""

    spatial_dims = 3

    def __init__(self, cfg: SlicePoolConfig) -> None:
        super().__init__(cfg)
        inner = cfg.slice_tower
        if not inner.kind:
            raise ValueError("image.slice_tower needs a kind (a 2D tower, e.g. timm)")
        if getattr(inner, "spatial_dims", 2) != 2:
            raise ValueError(
                f"image.slice_tower must be a 2D tower; '{inner.kind}' is set to spatial_dims={inner.spatial_dims}"
            )
        inner.in_chans = cfg.in_chans
        if cfg.input_size:
            if len(cfg.input_size) != 3:
                raise ValueError(f"image.input_size of a slice-pool tower is [D, H, W], got {cfg.input_size}")
            inner.input_size = list(cfg.input_size[1:])
        self.slice_tower: ImageTower = TOWERS.get(inner.kind)(inner)
        if self.slice_tower.spatial_dims != 2:
            dims = self.slice_tower.spatial_dims
            raise ValueError(f"image.slice_tower must be a 2D tower; '{inner.kind}' reads {dims}D images")
        self.num_features = self.slice_tower.num_features
        self.pooled_features = self.slice_tower.pooled_features
        self.pooler = POOLERS.get(cfg.pooler)(self.pooled_features, **cfg.pooler_kwargs)
        self.feature_info = [
            {"num_chs": i["num_chs"], "reduction": (1, *i["reduction"])} for i in self.slice_tower.feature_info
        ]
        if cfg.weights:
            load_weights(self, cfg.weights, prefix=cfg.weights_prefix)
        self.apply_freeze()

    # ------------------------------------------------------------------------------------------ slice runs
    def _slices(self, x: torch.Tensor, depth_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Real slices [V, C, H, W] of x [B, C, D, H, W] and their flat indices into B*D."""
        b, c, d, h, w = x.shape
        flat = x.permute(0, 2, 1, 3, 4).reshape(b * d, c, h, w)  # [B, C, D, H, W] -> [B, D, C, H, W] -> [B*D, C, H, W]
        index = depth_mask.reshape(b * d).nonzero().squeeze(1)  # [V]
        return flat.index_select(0, index), index

    def _run_chunks(self, fn: Any, slices: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """fn over chunks of slices; checkpointed when configured and gradients are on."""
        use_ckpt = self.cfg.checkpoint and torch.is_grad_enabled() and not self.slice_tower.cfg.freeze
        outs = []
        for start in range(0, slices.shape[0], self.cfg.slice_chunk):
            chunk = slices[start : start + self.cfg.slice_chunk]
            if use_ckpt:
                from torch.utils.checkpoint import checkpoint

                outs.append(checkpoint(fn, chunk, use_reentrant=False))
            else:
                outs.append(fn(chunk))
        return outs

    def _scatter(self, parts: list[torch.Tensor], index: torch.Tensor, total: int) -> torch.Tensor:
        """Concatenate chunk outputs [v, ...] and place them at their flat indices in zeros [total, ...]."""
        values = torch.cat(parts, dim=0)  # [V, ...]
        out = values.new_zeros((total, *values.shape[1:]))
        return out.index_copy(0, index, values)

    # --------------------------------------------------------------------------------------------- contract
    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        depth_mask = self.check_input(x, depth_mask)
        b, d = x.shape[0], x.shape[2]
        slices, index = self._slices(x, depth_mask)
        if index.numel() == 0:
            raise ValueError("every slice of the batch is masked out (depth_mask all False)")

        grids: list[tuple[int, ...]] = []

        def run(chunk: torch.Tensor) -> tuple[torch.Tensor, ...]:
            f = self.slice_tower.forward_features(chunk)
            grids.append(f.grid)
            return (f.tokens,) if f.prefix is None else (f.tokens, f.prefix)

        outs = self._run_chunks(run, slices)
        tokens = self._scatter([o[0] for o in outs], index, b * d)  # [B*D, n, F]
        n, f = tokens.shape[1:]
        tokens = tokens.reshape(b, d * n, f)  # [B*D, n, F] -> [B, D*n, F] (depth-major: d, h, w)
        mask = depth_mask[:, :, None].expand(b, d, n).reshape(b, d * n)  # [B, D] -> [B, D, n] -> [B, D*n]
        prefix = None
        if len(outs[0]) > 1:
            pre = self._scatter([o[1] for o in outs], index, b * d)  # [B*D, P, F]
            prefix = pre.reshape(b, d * pre.shape[1], f)  # [B*D, P, F] -> [B, D*P, F]
        return TowerFeatures(tokens=tokens, grid=(d, *grids[0]), mask=mask, prefix=prefix)

    def slice_vectors(self, feats: TowerFeatures) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-slice pooled vectors [B, D, F_pool] (zeros for padded slices) and the depth mask [B, D]."""
        d = feats.grid[0]
        b, n_all, f = feats.tokens.shape
        n = n_all // d
        depth_mask = feats.full_mask().reshape(b, d, n)[:, :, 0]  # [B, D*n] -> [B, D, n] -> [B, D]
        index = depth_mask.reshape(b * d).nonzero().squeeze(1)  # [V]
        tokens = feats.tokens.reshape(b * d, n, f).index_select(0, index)  # [B, D*n, F] -> [B*D, n, F] -> [V, n, F]
        prefix = None
        if feats.prefix is not None:
            p = feats.prefix.shape[1] // d
            prefix = feats.prefix.reshape(b * d, p, f).index_select(0, index)  # [B, D*P, F] -> [V, P, F]
        grid2d = tuple(feats.grid[1:])
        parts = []
        for start in range(0, index.numel(), self.cfg.slice_chunk):
            stop = start + self.cfg.slice_chunk
            sub = TowerFeatures(
                tokens=tokens[start:stop], grid=grid2d, prefix=None if prefix is None else prefix[start:stop]
            )
            parts.append(self.slice_tower.forward_head(sub))  # [v, F_pool]
        vectors = self._scatter(parts, index, b * d).reshape(b, d, -1)  # [B*D, F_pool] -> [B, D, F_pool]
        return vectors, depth_mask

    def forward_head(self, feats: TowerFeatures) -> torch.Tensor:
        """2D head per real slice, then the depth pooler over real slices: [B, F_pool]."""
        vectors, depth_mask = self.slice_vectors(feats)
        return self.pooler(vectors, depth_mask)

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The 2D tower's levels per slice, stacked over depth: [B, C_i, D, h_i, w_i] (zeros for padded slices)."""
        depth_mask = self.check_input(x, depth_mask)
        b, _, d = x.shape[:3]
        slices, index = self._slices(x, depth_mask)
        outs = self._run_chunks(lambda c: tuple(self.slice_tower.forward_intermediates(c)), slices)
        maps = []
        for level in range(len(outs[0])):
            m = self._scatter([o[level] for o in outs], index, b * d)  # [B*D, C, h, w]
            maps.append(m.reshape(b, d, *m.shape[1:]).transpose(1, 2))  # [B, D, C, h, w] -> [B, C, D, h, w]
        return maps
