"""2D image towers over any timm backbone (CNN or ViT), built without downloads.

timm gives a model-specific raw feature format (CNN maps NCHW or NHWC, ViT tokens [B, P+N, F] with P prefix
tokens); the tower turns it into the contract's tokens and rebuilds the raw format for timm's own forward_head, so
a pretrained model keeps its pooling and head norm (ViT fc_norm, ConvNeXt head norm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from medvlp.config.schema import knob
from medvlp.models.config import TowerConfig
from medvlp.models.towers import ImageTower, TowerFeatures, map_to_tokens
from medvlp.models.weights import load_weights
from medvlp.registry import TOWERS


@dataclass
class TimmTowerConfig(TowerConfig):
    """A timm backbone: `model` is a timm model name, `kwargs` its constructor arguments (data only)."""

    model: str = knob("resnet50", help="timm model name (timm.list_models()); always built with pretrained=False")
    kwargs: dict[str, Any] = knob({}, help="extra timm.create_model arguments, e.g. {img_size: 224, depth: 2}")
    intermediates: int = knob(4, help="forward_intermediates returns the last this-many feature levels", min=1)


@TOWERS.register("timm", config=TimmTowerConfig)
class TimmTower(ImageTower):
    """Any timm backbone as a 2D tower (pretrained=False; optional local weights file)."""

    spatial_dims = 2

    def __init__(self, cfg: TimmTowerConfig) -> None:
        super().__init__(cfg)
        import timm

        kwargs = dict(cfg.kwargs)
        for banned in ("pretrained", "pretrained_cfg_overlay", "checkpoint_path"):
            if banned in kwargs:
                raise ValueError(f"image.kwargs.{banned} is not allowed: use image.weights (a local file)")
        self.model = timm.create_model(cfg.model, pretrained=False, num_classes=0, in_chans=cfg.in_chans, **kwargs)
        self.num_prefix = int(getattr(self.model, "num_prefix_tokens", 0) or 0)
        self.is_token_model = (
            hasattr(self.model, "patch_embed") and hasattr(self.model, "blocks") and not hasattr(self.model, "stages")
        )
        self.output_fmt = str(getattr(self.model, "output_fmt", "NCHW"))
        self.num_features = int(self.model.num_features)
        self.pooled_features = int(getattr(self.model, "head_hidden_size", None) or self.num_features)
        info = list(getattr(self.model, "feature_info", []) or [])
        self.num_intermediates = min(cfg.intermediates, len(info)) if info else cfg.intermediates
        info = info[-self.num_intermediates :]
        self.feature_info = [{"num_chs": int(i["num_chs"]), "reduction": (int(i["reduction"]),) * 2} for i in info]
        if cfg.weights:
            load_weights(self.model, cfg.weights, prefix=cfg.weights_prefix)
        self.apply_freeze()

    def _grid(self, x: torch.Tensor) -> tuple[int, int]:
        """Patch grid (h, w) of a token model for input x [B, C, H, W]."""
        pe = self.model.patch_embed
        if hasattr(pe, "dynamic_feat_size") and getattr(self.model, "dynamic_img_size", False):
            h, w = pe.dynamic_feat_size(tuple(x.shape[-2:]))
            return int(h), int(w)
        h, w = pe.grid_size
        return int(h), int(w)

    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        self.check_input(x, depth_mask)
        with self.maybe_no_grad():
            raw = self.model.forward_features(x)
        if raw.ndim == 3:  # ViT-like: [B, P+N, F]
            grid = self._grid(x)
            if raw.shape[1] != self.num_prefix + grid[0] * grid[1]:
                raise ValueError(
                    f"timm model {self.cfg.model}: {raw.shape[1]} tokens do not fit {self.num_prefix} "
                    f"prefix tokens + a {grid} grid"
                )
            prefix = raw[:, : self.num_prefix] if self.num_prefix else None  # [B, P, F]
            return TowerFeatures(tokens=raw[:, self.num_prefix :], grid=grid, prefix=prefix)
        if self.output_fmt == "NHWC":
            raw = raw.permute(0, 3, 1, 2)  # [B, h, w, F] -> [B, F, h, w]
        tokens, grid = map_to_tokens(raw)  # [B, F, h, w] -> [B, h*w, F]
        return TowerFeatures(tokens=tokens, grid=grid)

    def forward_head(self, feats: TowerFeatures) -> torch.Tensor:
        """timm's own pooling (pre_logits) on the raw format rebuilt from the tokens: [B, F_pool]."""
        if self.is_token_model:
            parts = [feats.prefix, feats.tokens] if feats.prefix is not None else [feats.tokens]
            raw = torch.cat(parts, dim=1)  # [B, P+N, F]
        else:
            raw = feats.as_map()  # [B, F, h, w]
            if self.output_fmt == "NHWC":
                raw = raw.permute(0, 2, 3, 1)  # [B, F, h, w] -> [B, h, w, F]
        with self.maybe_no_grad():
            return self.model.forward_head(raw, pre_logits=True)

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The last `intermediates` feature levels as NCHW maps [B, C_i, h_i, w_i], fine to coarse."""
        self.check_input(x, depth_mask)
        if not hasattr(self.model, "forward_intermediates"):
            raise NotImplementedError(f"timm model {self.cfg.model} has no forward_intermediates")
        with self.maybe_no_grad():
            return list(self.model.forward_intermediates(x, indices=self.num_intermediates, intermediates_only=True))
