"""Native volumetric towers from MONAI (ViT, ResNet, Swin encoder); `spatial_dims` is a parameter (3 for CT).

A 3D tower reads a fixed-size volume: slices that depth_mask marks as padding are zeroed and the depth is padded
with zeros to input_size[0], so the output depends neither on what a padded slice held nor on how far the batch
was padded. Tokens whose slices are all padding get mask False; the ViT also keeps them out of its attention.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from medvlp.config.schema import knob
from medvlp.models.config import TowerConfig
from medvlp.models.towers import ImageTower, TowerFeatures, map_to_tokens, masked_mean, token_mask_3d
from medvlp.models.weights import load_weights
from medvlp.registry import TOWERS


@dataclass
class MonaiTowerConfig(TowerConfig):
    """Keys shared by the MONAI towers."""

    spatial_dims: int = knob(3, help="2 for [B,C,H,W] images, 3 for [B,C,D,H,W] volumes", min=2, max=3)
    intermediates: int = knob(4, help="forward_intermediates returns the last this-many feature levels", min=1)


class MonaiTower(ImageTower):
    """Shared input handling: mask and pad volumes to input_size, token masks, masked mean pooling."""

    def __init__(self, cfg: MonaiTowerConfig) -> None:
        super().__init__(cfg)
        self.spatial_dims = cfg.spatial_dims
        if len(cfg.input_size) != cfg.spatial_dims:
            raise ValueError(
                f"image.input_size must have {cfg.spatial_dims} values ([D, H, W] for 3D: the volume the "
                f"tower is built for), got {cfg.input_size}"
            )

    def prepare(self, x: torch.Tensor, depth_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Checked input, padded slices zeroed, depth padded to input_size[0]; the padded depth mask [B, D_in]."""
        depth_mask = self.check_input(x, depth_mask)
        if self.spatial_dims == 2 or depth_mask is None:
            return x, None
        depth = self.cfg.input_size[0]
        if x.shape[2] > depth:
            raise ValueError(
                f"volume depth {x.shape[2]} exceeds the tower's input depth {depth}: crop in the data "
                "pipeline (data.ct_max_depth) or build the tower with a larger image.input_size"
            )
        x = x * depth_mask[:, None, :, None, None].to(x.dtype)  # [B, D] -> [B, 1, D, 1, 1]
        pad = depth - x.shape[2]
        if pad:
            x = F.pad(x, (0, 0, 0, 0, 0, pad))  # zeros after the last slice: [B, C, D_in, H, W]
            depth_mask = F.pad(depth_mask, (0, pad), value=False)  # [B, D_in]
        return x, depth_mask

    def features_from_map(self, fmap: torch.Tensor, depth_mask: torch.Tensor | None) -> TowerFeatures:
        tokens, grid = map_to_tokens(fmap)  # [B, F, *grid] -> [B, N, F]
        mask = token_mask_3d(depth_mask, grid) if depth_mask is not None else None
        return TowerFeatures(tokens=tokens, grid=grid, mask=mask)

    def forward_head(self, feats: TowerFeatures) -> torch.Tensor:
        """Mean over real tokens: [B, N, F] -> [B, F]."""
        return masked_mean(feats.tokens, feats.mask)

    def finish_init(self, module: torch.nn.Module) -> None:
        if self.cfg.weights:
            load_weights(module, self.cfg.weights, prefix=self.cfg.weights_prefix)
        self.apply_freeze()


@dataclass
class MonaiViTConfig(MonaiTowerConfig):
    """monai.networks.nets.ViT without its classification token."""

    patch_size: list[int] = knob([16, 16, 16], help="patch size per axis ([D, H, W] for 3D)", min=1)
    hidden_size: int = knob(768, help="token width", min=8)
    mlp_dim: int = knob(3072, help="MLP width", min=8)
    num_layers: int = knob(12, help="transformer blocks", min=1)
    num_heads: int = knob(12, help="attention heads", min=1)
    dropout: float = knob(0.0, help="dropout rate", min=0, max=1)
    qkv_bias: bool = knob(False, help="bias in the qkv projection")


@TOWERS.register("monai_vit", config=MonaiViTConfig)
class MonaiViTTower(MonaiTower):
    """MONAI ViT (2D or 3D, spatial_dims); padded tokens are masked out of attention."""

    def __init__(self, cfg: MonaiViTConfig) -> None:
        super().__init__(cfg)
        from monai.networks.nets import ViT

        if len(cfg.patch_size) != cfg.spatial_dims:
            raise ValueError(f"image.patch_size needs {cfg.spatial_dims} values, got {cfg.patch_size}")
        self.vit = ViT(
            in_channels=cfg.in_chans,
            img_size=cfg.input_size,
            patch_size=cfg.patch_size,
            hidden_size=cfg.hidden_size,
            mlp_dim=cfg.mlp_dim,
            num_layers=cfg.num_layers,
            num_heads=cfg.num_heads,
            proj_type="conv",
            classification=False,
            dropout_rate=cfg.dropout,
            spatial_dims=cfg.spatial_dims,
            qkv_bias=cfg.qkv_bias,
        )
        for blk in self.vit.blocks:  # MONAI builds a cross-attention norm even without cross-attention: unused
            if not getattr(blk, "with_cross_attention", False) and hasattr(blk, "norm_cross_attn"):
                blk.norm_cross_attn.requires_grad_(False)
        self.grid = tuple(s // p for s, p in zip(cfg.input_size, cfg.patch_size, strict=True))
        self.num_features = self.pooled_features = cfg.hidden_size
        n = min(cfg.intermediates, cfg.num_layers)
        self.feature_info = [{"num_chs": cfg.hidden_size, "reduction": tuple(cfg.patch_size)}] * n
        self.finish_init(self.vit)

    def _run(self, x: torch.Tensor, depth_mask: torch.Tensor | None) -> tuple[TowerFeatures, list[torch.Tensor]]:
        x, depth_mask = self.prepare(x, depth_mask)
        if tuple(x.shape[2:]) != tuple(self.cfg.input_size):
            raise ValueError(
                f"this ViT is built for {self.cfg.input_size} inputs (learned position embeddings); "
                f"got {tuple(x.shape[2:])}"
            )
        mask = token_mask_3d(depth_mask, self.grid) if depth_mask is not None else None  # [B, N]
        with self.maybe_no_grad():
            h = self.vit.patch_embedding(x)  # [B, N, hidden] with position embeddings
            hidden = []
            for blk in self.vit.blocks:
                h = blk(h, attn_mask=mask)
                hidden.append(h)
            h = self.vit.norm(h)
        return TowerFeatures(tokens=h, grid=self.grid, mask=mask), hidden

    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        return self._run(x, depth_mask)[0]

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Hidden states of the last `intermediates` blocks as maps [B, hidden, *grid] (all at the patch stride)."""
        _, hidden = self._run(x, depth_mask)
        b = x.shape[0]
        # [B, N, hidden] -> [B, hidden, N] -> [B, hidden, *grid]
        return [h.transpose(1, 2).reshape(b, -1, *self.grid) for h in hidden[-self.cfg.intermediates :]]


@dataclass
class MonaiResNetConfig(MonaiTowerConfig):
    """monai.networks.nets.ResNet used as a feature extractor (no fc)."""

    block: Literal["basic", "bottleneck"] = knob("basic", help="residual block")
    layers: list[int] = knob([2, 2, 2, 2], help="blocks per stage (resnet18: 2,2,2,2; resnet10: 1,1,1,1)", min=1)
    block_inplanes: list[int] = knob([64, 128, 256, 512], help="stage widths", min=1)
    conv1_kernel: list[int] = knob([7], help="stem kernel: one value or one per axis", min=1)
    conv1_stride: list[int] = knob(
        [2], help="stem stride: one value or one per axis (MONAI's default 1 is ~9x slower on CT)", min=1
    )
    no_max_pool: bool = knob(False, help="skip the stem max-pool")
    norm: Literal["batch", "instance"] = knob("batch", help="normalisation layer")


@TOWERS.register("monai_resnet", config=MonaiResNetConfig)
class MonaiResNetTower(MonaiTower):
    """MONAI ResNet (2D or 3D, spatial_dims): stem + four stages, tokens from the last stage."""

    def __init__(self, cfg: MonaiResNetConfig) -> None:
        super().__init__(cfg)
        from monai.networks.nets import ResNet

        def per_axis(v: list[int], key: str) -> tuple[int, ...]:
            if len(v) not in (1, cfg.spatial_dims):
                raise ValueError(f"image.{key} needs 1 or {cfg.spatial_dims} values, got {v}")
            return tuple(v) * cfg.spatial_dims if len(v) == 1 else tuple(v)

        kernel, stride = per_axis(cfg.conv1_kernel, "conv1_kernel"), per_axis(cfg.conv1_stride, "conv1_stride")
        if len(cfg.layers) != 4 or len(cfg.block_inplanes) != 4:
            raise ValueError("image.layers and image.block_inplanes need four values (one per stage)")
        self.net = ResNet(
            block=cfg.block,
            layers=cfg.layers,
            block_inplanes=cfg.block_inplanes,
            spatial_dims=cfg.spatial_dims,
            n_input_channels=cfg.in_chans,
            conv1_t_size=kernel,
            conv1_t_stride=stride,
            no_max_pool=cfg.no_max_pool,
            feed_forward=False,
            norm=cfg.norm,
        )
        expansion = 1 if cfg.block == "basic" else 4
        stem = tuple(s * (1 if cfg.no_max_pool else 2) for s in stride)
        chans = [cfg.block_inplanes[0], *(c * expansion for c in cfg.block_inplanes)]
        reductions = [stride, *(tuple(s * 2**i for s in stem) for i in range(4))]
        self.feature_info = [{"num_chs": c, "reduction": r} for c, r in zip(chans, reductions, strict=True)]
        self.feature_info = self.feature_info[-cfg.intermediates :]
        self.num_features = self.pooled_features = chans[-1]
        self.finish_init(self.net)

    def _levels(self, x: torch.Tensor) -> list[torch.Tensor]:
        """[stem, layer1, ..., layer4] maps."""
        net = self.net
        with self.maybe_no_grad():
            h = net.act(net.bn1(net.conv1(x)))
            out = [h]
            if not net.no_max_pool:
                h = net.maxpool(h)
            for layer in (net.layer1, net.layer2, net.layer3, net.layer4):
                h = layer(h)
                out.append(h)
        return out

    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        x, depth_mask = self.prepare(x, depth_mask)
        return self.features_from_map(self._levels(x)[-1], depth_mask)

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        x, depth_mask = self.prepare(x, depth_mask)
        return self._levels(x)[-self.cfg.intermediates :]


@dataclass
class MonaiSwinConfig(MonaiTowerConfig):
    """The Swin encoder of MONAI's SwinUNETR (monai.networks.nets.swin_unetr.SwinTransformer)."""

    feature_size: int = knob(48, help="width of the first stage (doubles per stage)", min=4)
    depths: list[int] = knob([2, 2, 2, 2], help="blocks per stage", min=1)
    num_heads: list[int] = knob([3, 6, 12, 24], help="heads per stage", min=1)
    window_size: list[int] = knob([7], help="attention window: one value or one per axis", min=1)
    patch_size: int = knob(2, help="patch embedding stride", min=1)
    dropout: float = knob(0.0, help="drop_path rate", min=0, max=1)
    use_v2: bool = knob(False, help="SwinUNETR v2 (extra residual conv blocks per stage)")
    use_checkpoint: bool = knob(False, help="activation checkpointing inside the Swin blocks")


@TOWERS.register("monai_swin", config=MonaiSwinConfig)
class MonaiSwinTower(MonaiTower):
    """SwinUNETR's Swin encoder (2D or 3D, spatial_dims): five levels, tokens from the coarsest."""

    def __init__(self, cfg: MonaiSwinConfig) -> None:
        super().__init__(cfg)
        from monai.networks.nets.swin_unetr import SwinTransformer

        if len(cfg.depths) != 4 or len(cfg.num_heads) != 4:
            raise ValueError("image.depths and image.num_heads need four values (one per stage)")
        window = cfg.window_size * cfg.spatial_dims if len(cfg.window_size) == 1 else cfg.window_size
        self.swin = SwinTransformer(
            in_chans=cfg.in_chans,
            embed_dim=cfg.feature_size,
            window_size=window,
            patch_size=(cfg.patch_size,) * cfg.spatial_dims,
            depths=cfg.depths,
            num_heads=cfg.num_heads,
            drop_path_rate=cfg.dropout,
            spatial_dims=cfg.spatial_dims,
            use_v2=cfg.use_v2,
            use_checkpoint=cfg.use_checkpoint,
        )
        chans = [cfg.feature_size * 2**i for i in range(5)]
        self.feature_info = [
            {"num_chs": c, "reduction": (cfg.patch_size * 2**i,) * cfg.spatial_dims} for i, c in enumerate(chans)
        ][-cfg.intermediates :]
        self.num_features = self.pooled_features = chans[-1]
        self.finish_init(self.swin)

    def forward_features(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> TowerFeatures:
        x, depth_mask = self.prepare(x, depth_mask)
        with self.maybe_no_grad():
            last = self.swin(x, normalize=True)[-1]  # [B, 16*feature_size, *grid]
        return self.features_from_map(last, depth_mask)

    def forward_intermediates(self, x: torch.Tensor, depth_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        x, depth_mask = self.prepare(x, depth_mask)
        with self.maybe_no_grad():
            return list(self.swin(x, normalize=True))[-self.cfg.intermediates :]
