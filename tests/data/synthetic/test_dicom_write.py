"""DICOM encoding of phantom images: what a correct decoder reads back is what was drawn."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from medvlp.data.synthetic.dicom_write import (
    CtEncoding,
    CxrEncoding,
    StudyInfo,
    ct_slice_dataset,
    cxr_dataset,
    make_uid,
    sample_cxr_encoding,
)
from medvlp.data.synthetic.patients import make_patient


@pytest.fixture
def info() -> StudyInfo:
    p = make_patient(np.random.default_rng(0))
    return StudyInfo(p, make_uid("s"), "XR123456789", dt.date(2019, 3, 4), "101500", "XR CHEST", 60)


def _roundtrip(ds: pydicom.Dataset) -> pydicom.Dataset:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    buf.seek(0)
    return pydicom.dcmread(buf)


def _decode_cxr(ds: pydicom.Dataset) -> np.ndarray:
    """Rescale, then invert MONOCHROME1 within its rescaled range, normalised to [0, 1]."""
    values = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    top = ds.RescaleSlope * ((1 << ds.BitsStored) - 1) + ds.RescaleIntercept
    lo = ds.RescaleIntercept
    if ds.PhotometricInterpretation == "MONOCHROME1":
        values = top + lo - values
    return (values - lo) / (top - lo)


def test_uids_are_deterministic_and_valid():
    a, b = make_uid(1, "x", 3), make_uid(1, "x", 3)
    assert a == b != make_uid(1, "x", 4)
    assert a.startswith("2.25.") and len(a) <= 64


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
@pytest.mark.parametrize(("bits", "slope", "intercept"), [(12, 1.0, 0.0), (16, 2.0, -1024.0), (14, 0.5, 0.0)])
def test_cxr_decodes_to_drawn_image(info, photometric, bits, slope, intercept):
    image = np.random.default_rng(0).random((40, 56)).astype(np.float32)
    enc = CxrEncoding("DX", photometric, bits, slope, intercept)
    ds = _roundtrip(cxr_dataset(info, image, 0.4, "PA", enc, make_uid("se"), make_uid("sop"), 1))
    assert (ds.Rows, ds.Columns, ds.BitsStored, ds.PhotometricInterpretation) == (40, 56, bits, photometric)
    np.testing.assert_allclose(_decode_cxr(ds), image, atol=1.0 / ((1 << bits) - 1))
    centre, width = float(ds.WindowCenter), float(ds.WindowWidth)
    assert width > 0 and (intercept <= centre <= slope * ((1 << bits) - 1) + intercept)


def test_monochrome1_stores_the_inverse(info):
    image = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    raw = {}
    for photometric in ("MONOCHROME1", "MONOCHROME2"):
        enc = CxrEncoding("CR", photometric, 12, 1.0, 0.0)
        raw[photometric] = cxr_dataset(info, image, 0.4, "AP", enc, "1.2", "1.3", 1).pixel_array.astype(int)
    np.testing.assert_array_equal(raw["MONOCHROME1"], 4095 - raw["MONOCHROME2"])


@pytest.mark.parametrize(
    "enc",
    [CtEncoding(False, 12, -1024.0, False), CtEncoding(True, 16, 0.0, True), CtEncoding(True, 16, -1024.0, False)],
)
def test_ct_slice_decodes_to_hu(info, enc):
    hu = np.random.default_rng(1).integers(-1024, 1500, (32, 32)).astype(np.int16)
    ds = _roundtrip(ct_slice_dataset(info, hu, (-150.0, -160.0, 42.5), (0.8, 0.8), 2.5, enc, "1.2", "1.3", 7, "1.4"))
    np.testing.assert_array_equal(apply_modality_lut(ds.pixel_array, ds), hu)
    assert [float(v) for v in ds.ImagePositionPatient] == [-150.0, -160.0, 42.5]
    assert ds.PixelRepresentation == int(enc.signed)


def test_headers_carry_the_phi_a_real_export_has(info):
    enc = CxrEncoding("DX", "MONOCHROME2", 12, 1.0, 0.0)
    ds = cxr_dataset(info, np.zeros((8, 8), np.float32), 0.4, "PA", enc, "1.2", "1.3", 1)
    assert str(ds.PatientName) == info.patient.dicom_name and ds.PatientID == info.patient.mrn
    assert ds.PatientBirthDate == info.patient.birth_date.strftime("%Y%m%d")
    assert ds.AccessionNumber == info.accession and ds.InstitutionName


def test_encodings_vary():
    encs = {sample_cxr_encoding(np.random.default_rng(i)) for i in range(200)}
    assert {e.photometric for e in encs} == {"MONOCHROME1", "MONOCHROME2"}
    assert {e.modality for e in encs} == {"DX", "CR"}
    assert {e.bits_stored for e in encs} >= {12, 16} and len({e.slope for e in encs}) > 1
