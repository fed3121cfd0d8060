"""Pixel decoding: rescale, window and MONOCHROME1 inversion give the drawn image back."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from medvlp.data.synthetic.dicom_write import CxrEncoding, StudyInfo, cxr_dataset, make_uid
from medvlp.data.synthetic.patients import make_patient
from medvlp.dicom.pixels import decode_radiograph


def _ds(image: np.ndarray, enc: CxrEncoding):
    info = StudyInfo(
        make_patient(np.random.default_rng(0)), make_uid("s"), "XR1", dt.date(2020, 1, 1), "101010", "XR", 50
    )
    return cxr_dataset(info, image, 0.5, "PA", enc, make_uid("se"), make_uid("so"), 1)


ENCODINGS = [
    CxrEncoding("DX", "MONOCHROME2", 12, 1.0, 0.0),
    CxrEncoding("DX", "MONOCHROME1", 12, 1.0, 0.0),
    CxrEncoding("CR", "MONOCHROME1", 16, 2.0, -1024.0),
    CxrEncoding("CR", "MONOCHROME2", 15, 0.5, 100.0),
]


@pytest.mark.parametrize("enc", ENCODINGS)
def test_full_range_decode_recovers_image(enc):
    image = np.random.default_rng(1).random((24, 30)).astype(np.float32)
    out = decode_radiograph(_ds(image, enc), window=False)
    assert out.dtype == np.float32 and out.shape == (24, 30)
    np.testing.assert_allclose(out, image, atol=2.0 / ((1 << enc.bits_stored) - 1))


@pytest.mark.parametrize("enc", ENCODINGS)
def test_window_keeps_order_and_orientation(enc):
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (8, 1))  # dark left, bright right
    out = decode_radiograph(_ds(ramp, enc), window=True)
    assert out.min() >= 0 and out.max() <= 1
    assert np.all(np.diff(out.mean(axis=0)) >= -1e-6)  # monotone: bright stays bright for M1 and M2
    assert out[:, -1].mean() > 0.95 and out[:, 0].mean() < 0.05  # the window spans the content


def test_monochrome1_and_2_decode_alike():
    image = np.random.default_rng(2).random((16, 16)).astype(np.float32)
    a = decode_radiograph(_ds(image, ENCODINGS[0]))
    b = decode_radiograph(_ds(image, ENCODINGS[1]))
    np.testing.assert_allclose(a, b, atol=2e-3)
