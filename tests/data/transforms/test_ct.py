"""CT prefix maths: display orientation, windows, aspect-keeping in-plane resize."""

from __future__ import annotations

import warnings

import pytest
import torch

from medvlp.data.transforms.ct import CenterDepthCrop, RasToDisplay, ResizeInPlane, WindowChannels


def test_ras_to_display_orientation():
    vol = torch.zeros(1, 4, 5, 6)  # [C, X, Y, Z]: X ascends to the patient's right, Y anterior, Z superior
    vol[0, 3, 0, 5] = 1.0  # far right, most posterior, top slice
    out = RasToDisplay()(vol)
    assert out.shape == (1, 6, 5, 4)  # [C, D=Z, H, W]
    d, h, w = (int(i) for i in torch.nonzero(out[0])[0])
    assert (d, h, w) == (5, 4, 0)  # top slice; posterior = last row; patient right = first column


def test_windows_make_channels_in_unit_range():
    hu = torch.tensor([[[-1000.0, 0.0, 40.0, 1500.0]]])  # [1, 1, 4]
    out = WindowChannels(["lung", "mediastinum", "bone"])(hu)
    assert out.shape == (3, 1, 4) and out.min() >= 0 and out.max() <= 1
    assert out[1, 0, 2] == pytest.approx(0.5)  # 40 HU is the mediastinal window's centre
    with pytest.raises(ValueError, match=r"data\.ct_windows"):
        WindowChannels(["brain"])


def test_resize_in_plane_keeps_aspect_and_depth():
    vol = torch.ones(2, 7, 40, 80)  # [C, D, H, W]
    out = ResizeInPlane((32, 32))(vol)
    assert out.shape == (2, 7, 32, 32)
    assert out[0, 0, 0].sum() == 0 and float(out[0, 0, 16].sum()) == pytest.approx(32)  # 16x32 centred, padded


def test_center_depth_crop_keeps_short_volumes_and_warns_once_when_cutting():
    crop = CenterDepthCrop(4)
    short = torch.arange(3.0).reshape(1, 3, 1, 1).expand(1, 3, 2, 2)
    assert torch.equal(crop(short), short)  # [C, D, H, W] with D <= max_depth: unchanged, no warning
    long = torch.arange(8.0).reshape(1, 8, 1, 1).expand(2, 8, 2, 2)  # [C=2, D=8, H, W], slice i holds i
    with pytest.warns(UserWarning, match="ct_max_depth=4"):
        out = crop(long)
    assert out.shape == (2, 4, 2, 2)
    assert out[0, :, 0, 0].tolist() == [2.0, 3.0, 4.0, 5.0]  # the central slices
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        crop(long)  # the second cut volume does not warn again
