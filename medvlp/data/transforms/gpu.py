"""The on-device random stage: batched crop/zoom, rotation, shift, paired flip, intensity and noise, normalisation.

Runs on whatever device the batch is on (CUDA when present, CPU here) as a few batched kernels: one affine warp
for the whole batch through MONAI's AffineTransform (volumes slice by slice), then elementwise intensity maths.
Random parameters are drawn from a seeded CPU torch.Generator (one per rank) and moved to the device, so the same
seed gives the same result on CPU and CUDA. Noise is smooth: drawn at 1/8 resolution and upsampled (cheap to
move, and CT noise is spatially correlated). CT volumes are warped in-plane only, so padded slices stay padded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from monai.networks.layers import AffineTransform

from medvlp.config.schema import DataConfig


@dataclass(frozen=True)
class DeviceAugmentConfig:
    """Ranges of the random stage (mirrors the `data` config section)."""

    crop_scale: tuple[float, float] = (0.8, 1.0)
    rotate_degrees: float = 10.0
    scale_range: float = 0.1
    translate: float = 0.05
    brightness: float = 0.1
    contrast: float = 0.2
    noise_std: float = 0.02
    mean: float = 0.5
    std: float = 0.25


class DeviceAugment:
    """Callable on a collated batch; `train=False` applies only the normalisation (and the paired flips)."""

    def __init__(self, cfg: DeviceAugmentConfig, seed: int = 0, rank: int = 0) -> None:
        self.cfg = cfg
        self.generator = torch.Generator().manual_seed(int(seed) * 1000 + int(rank))
        self._affine = AffineTransform(
            normalized=True, padding_mode="zeros", align_corners=False, reverse_indexing=True
        )

    @classmethod
    def from_data_config(cls, d: DataConfig, seed: int = 0, rank: int = 0) -> DeviceAugment:
        """The stage a `data` config section describes."""
        cfg = DeviceAugmentConfig(
            tuple(d.crop_scale),
            d.rotate_degrees,
            d.scale_range,
            d.translate,
            d.brightness,
            d.contrast,
            d.noise_std,
            *d.normalize,
        )
        return cls(cfg, seed, rank)

    def _uniform(self, n: int, lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(n, generator=self.generator)

    def _theta(self, batch: int, flip: torch.Tensor, train: bool) -> torch.Tensor:
        """[B, 2, 3] in-plane affines in normalised array-index coordinates (H, W order), output -> input."""
        c = self.cfg
        if train:
            zoom = self._uniform(batch, *c.crop_scale) * (1 + self._uniform(batch, -c.scale_range, c.scale_range))
            angle = self._uniform(batch, -c.rotate_degrees, c.rotate_degrees) * math.pi / 180
            shift = self._uniform(batch * 2, -c.translate, c.translate).view(batch, 2) * 2  # normalised units
        else:
            zoom, angle, shift = torch.ones(batch), torch.zeros(batch), torch.zeros(batch, 2)
        cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom  # zoom < 1 samples a smaller window: a crop
        mirror = 1.0 - 2.0 * flip.float().cpu()  # -1 flips W (patient left-right)
        theta = torch.zeros(batch, 2, 3)
        theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * mirror
        theta[:, 1, 0], theta[:, 1, 1] = sin, cos * mirror
        theta[:, 0, 2], theta[:, 1, 2] = shift[:, 0], shift[:, 1]
        return theta

    def _warp(self, image: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """One batched in-plane warp. Volumes are warped slice by slice (depth untouched): bilinear over
        [B*D, C, H, W] gives the trilinear result of the 3D affine at half the cost on a CPU."""
        if image.ndim == 4:
            return self._affine(image, theta)
        b, c, d, h, w = image.shape
        slices = image.transpose(1, 2).reshape(b * d, c, h, w)  # [B, C, D, H, W] -> [B*D, C, H, W]
        out = self._affine(slices, theta.repeat_interleave(d, 0))  # one [2, 3] affine per slice: [B*D, 2, 3]
        return out.reshape(b, d, c, h, w).transpose(1, 2)  # [B*D, C, H, W] -> [B, C, D, H, W]

    def __call__(self, batch: dict[str, object], train: bool = True) -> dict[str, object]:
        image = batch["image"]
        assert isinstance(image, torch.Tensor)
        b, spatial_dims = image.shape[0], image.ndim - 2  # [B, C, *spatial]
        flip = torch.as_tensor(batch.get("flip", torch.zeros(b, dtype=torch.bool)))
        c = self.cfg
        if train or bool(flip.any()):
            image = self._warp(image, self._theta(b, flip, train).to(image.device, image.dtype))
        if train:
            shape = (b,) + (1,) * (image.ndim - 1)
            contrast = self._uniform(b, 1 - c.contrast, 1 + c.contrast).view(shape).to(image.device, image.dtype)
            bright = self._uniform(b, -c.brightness, c.brightness).view(shape).to(image.device, image.dtype)
            mean = image.mean(dim=tuple(range(1, image.ndim)), keepdim=True)
            image = (image - mean) * contrast + mean + bright
            if c.noise_std > 0:
                coarse = [max(1, s // 8) for s in image.shape[2:]]
                noise = torch.randn((b, image.shape[1], *coarse), generator=self.generator)
                mode = "bilinear" if spatial_dims == 2 else "trilinear"
                noise = F.interpolate(
                    noise.to(image.device, image.dtype), size=image.shape[2:], mode=mode, align_corners=False
                )
                image = image + c.noise_std * noise
        image = (image - c.mean) / c.std
        if "depth_mask" in batch and spatial_dims == 3:
            mask = torch.as_tensor(batch["depth_mask"]).to(image.device)  # [B, D]
            image = image * mask[:, None, :, None, None]  # padded slices stay zero
        return {**batch, "image": image}
