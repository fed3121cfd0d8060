"""Compressed transfer syntaxes decode through medvlp's pixel path, checked against pydicom's own test files.

Lossless syntaxes must reproduce the uncompressed reference exactly; lossy ones must stay close to it.
"""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medvlp.dicom.pixels import decoded_pixels, modality_values

LOSSLESS = {
    "JPEG 2000 lossless": "MR_small_jp2klossless.dcm",
    "JPEG-LS lossless": "MR_small_jpeg_ls_lossless.dcm",
    "RLE lossless": "MR_small_RLE.dcm",
    "explicit VR big endian": "MR_small_bigendian.dcm",
}


def _load(name: str) -> pydicom.Dataset:
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"pydicom test file {name} not available")
    return pydicom.dcmread(path)


@pytest.mark.parametrize("syntax", sorted(LOSSLESS))
def test_lossless_syntaxes_equal_reference(syntax: str):
    reference = modality_values(_load("MR_small.dcm"))
    ds = _load(LOSSLESS[syntax])
    assert ds.file_meta.TransferSyntaxUID.is_compressed or "big" in syntax
    np.testing.assert_array_equal(modality_values(ds), reference)


def test_jpeg_baseline_close_to_reference():
    reference = _load("SC_rgb_small_odd.dcm").pixel_array.astype(float)
    ds = _load("SC_rgb_small_odd_jpeg.dcm")
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.JPEGBaseline8Bit
    decoded = decoded_pixels(ds).astype(float)
    assert decoded.shape == reference.shape
    assert np.abs(decoded - reference).mean() < 8  # lossy, 8-bit


@pytest.mark.parametrize(
    "name", ["SC_rgb_jpeg_gdcm.dcm", "JPEGLSNearLossless_16.dcm", "JPEG2000.dcm", "JPGExtended.dcm"]
)
def test_other_syntaxes_decode(name: str):
    ds = _load(name)
    pixels = decoded_pixels(ds)
    assert pixels.shape[:2] == (ds.Rows, ds.Columns) or pixels.shape[1:3] == (ds.Rows, ds.Columns)
    assert np.ptp(pixels) > 0


@pytest.mark.parametrize("damage", ["truncate", "garble_header"])
def test_undecodable_frames_are_a_pixel_error(damage: str):
    from medvlp.dicom.pixels import PixelError

    ds = _load("MR_small_jp2klossless.dcm")
    data = bytearray(ds.PixelData)
    if damage == "truncate":
        data = data[: len(data) * 3 // 5]  # the fragment's item length now overruns the data
    else:
        start = data.find(b"\xff\x4f\xff\x51")  # JPEG 2000 codestream: SOC then SIZ marker
        data[start : start + 40] = bytes(40)
    ds.PixelData = bytes(data)
    with pytest.raises(PixelError) as err:
        decoded_pixels(ds)
    assert err.value.reason == "undecodable_pixels"
