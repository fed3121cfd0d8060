"""The device stage: deterministic per seed, identical on CPU and CUDA, paired flips exact, padded slices zero."""

from __future__ import annotations

import pytest
import torch

from medvlp.data.transforms.gpu import DeviceAugment, DeviceAugmentConfig


def _batch(spatial: tuple[int, ...]) -> dict:
    g = torch.Generator().manual_seed(0)
    b = {"image": torch.rand((3, 1, *spatial), generator=g), "flip": torch.tensor([True, False, False])}
    if len(spatial) == 3:
        b["depth_mask"] = torch.ones(3, spatial[0], dtype=torch.bool)
        b["depth_mask"][2, spatial[0] // 2 :] = False
        b["image"][2, :, spatial[0] // 2 :] = 0
    return b


@pytest.mark.parametrize("spatial", [(32, 32), (8, 24, 24)])
def test_same_seed_same_output(spatial):
    a = DeviceAugment(DeviceAugmentConfig(), seed=5)(_batch(spatial))["image"]
    b = DeviceAugment(DeviceAugmentConfig(), seed=5)(_batch(spatial))["image"]
    c = DeviceAugment(DeviceAugmentConfig(), seed=6)(_batch(spatial))["image"]
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_rank_changes_the_stream():
    a = DeviceAugment(DeviceAugmentConfig(), seed=5, rank=0)(_batch((16, 16)))["image"]
    b = DeviceAugment(DeviceAugmentConfig(), seed=5, rank=1)(_batch((16, 16)))["image"]
    assert not torch.equal(a, b)


def test_eval_is_normalise_plus_paired_flip():
    batch = _batch((16, 20))
    out = DeviceAugment(DeviceAugmentConfig(mean=0.5, std=0.25))(batch, train=False)["image"]
    expect = (batch["image"] - 0.5) / 0.25
    assert torch.allclose(out[0], expect[0].flip(-1), atol=1e-5) and torch.allclose(out[1], expect[1], atol=1e-5)


def test_padded_slices_stay_zero_and_depth_untouched():
    batch = _batch((8, 24, 24))
    out = DeviceAugment(DeviceAugmentConfig(rotate_degrees=30))(batch)["image"]
    assert out.shape == batch["image"].shape
    assert out[2, :, 4:].abs().sum() == 0 and out[2, :, :4].abs().sum() > 0


def test_volume_warp_slice_by_slice_equals_the_3d_warp():
    from monai.networks.layers import AffineTransform

    aug = DeviceAugment(DeviceAugmentConfig(rotate_degrees=30, translate=0.1), seed=3)
    image = torch.rand((3, 2, 6, 20, 24), generator=torch.Generator().manual_seed(1))  # [B, C, D, H, W]
    theta = aug._theta(3, torch.tensor([True, False, True]), train=True)  # [B, 2, 3] in-plane
    theta3d = torch.zeros(3, 3, 4)  # [B, 3, 4]: depth row the identity, the in-plane block from theta
    theta3d[:, 0, 0], theta3d[:, 1:, 1:] = 1.0, theta
    warp3d = AffineTransform(normalized=True, padding_mode="zeros", align_corners=False, reverse_indexing=True)
    expect = warp3d(image, theta3d)
    assert not torch.allclose(expect, image)
    assert torch.allclose(aug._warp(image, theta), expect, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")
@pytest.mark.parametrize("spatial", [(32, 32), (8, 24, 24)])
def test_cpu_and_cuda_agree(spatial):
    cpu = DeviceAugment(DeviceAugmentConfig(), seed=2)(_batch(spatial))["image"]
    batch = {k: v.cuda() if isinstance(v, torch.Tensor) else v for k, v in _batch(spatial).items()}
    gpu = DeviceAugment(DeviceAugmentConfig(), seed=2)(batch)["image"].cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4)
