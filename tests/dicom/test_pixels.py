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


@pytest.mark.parametrize(
    ("signed", "bits", "intercept"), [(False, 12, -1024.0), (True, 16, 0.0), (True, 12, 0.0), (False, 16, -1024.0)]
)
def test_native_frame_matches_pydicom(tmp_path, signed, bits, intercept):
    """The index-driven fast read equals pydicom's pixel_array + Modality LUT, also with junk above BitsStored."""
    import pydicom

    from medvlp.data.synthetic.dicom_write import CtEncoding, ct_slice_dataset
    from medvlp.dicom.index import scan_file
    from medvlp.dicom.pixels import modality_values, native_frame

    hu = np.random.default_rng(3).integers(-1024, 2000, (12, 10)).astype(np.int16)
    info = StudyInfo(
        make_patient(np.random.default_rng(0)), make_uid("s"), "CT1", dt.date(2020, 1, 1), "101010", "CT", 50
    )
    ds = ct_slice_dataset(
        info,
        hu,
        (-10.0, -20.0, 30.0),
        (0.7, 0.8),
        2.0,
        CtEncoding(signed, bits, intercept, False),
        "1.2",
        "1.3",
        1,
        "1.4",
    )
    if bits == 12 and not signed:  # junk in the unused high bits (old scanners put overlays there)
        raw = np.frombuffer(ds.PixelData, "<u2") | 0xF000
        ds.PixelData = raw.astype("<u2").tobytes()
    path = tmp_path / "slice.dcm"
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    entry = scan_file(tmp_path, "slice.dcm")
    assert entry.pixel_offset > 0
    geom, fast = native_frame(path, entry)
    np.testing.assert_array_equal(fast, modality_values(pydicom.dcmread(path)))
    np.testing.assert_array_equal(fast, hu)
    assert geom.position == (-10.0, -20.0, 30.0) and geom.pixel_spacing == (0.7, 0.8)
