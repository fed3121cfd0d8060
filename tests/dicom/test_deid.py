"""De-identification of DICOM headers: no PHI survives, replacements are consistent and keyed, pixels untouched."""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
import pydicom
import pytest
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medvlp.data.synthetic.dicom_write import (
    CT_STORAGE,
    CtEncoding,
    CxrEncoding,
    StudyInfo,
    ct_slice_dataset,
    cxr_dataset,
    make_uid,
)
from medvlp.data.synthetic.patients import Patient, make_patient
from medvlp.dicom.deid import (
    ACTIONS,
    Deidentifier,
    DeidPolicy,
    burned_in_annotation,
)

SECRET = b"test-secret-0123456789abcdef"
UID_RE = re.compile(r"(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*")
WHEN = dt.date(2019, 3, 4)


def _info(seed: int) -> StudyInfo:
    p = make_patient(np.random.default_rng(seed))
    return StudyInfo(p, make_uid("study", seed), f"XR{123456780 + seed}", WHEN, "101500", "XR CHEST", 60)


def _phi_dataset(info: StudyInfo) -> Dataset:
    """A radiograph header with the phantom's PHI plus what real exports add: private tags, nested sequences."""
    p = info.patient
    image = (np.arange(48 * 40).reshape(48, 40) % 997 / 997).astype(np.float32)
    enc = CxrEncoding("DX", "MONOCHROME2", 12, 1.0, 0.0)
    ds = cxr_dataset(info, image, 0.4, "PA", enc, make_uid("series", p.mrn), make_uid("sop", p.mrn), 1)
    rad = " ".join(p.reading_radiologist)
    ds.OtherPatientIDs = p.mrn.removeprefix("MRN")
    ds.OtherPatientNames = f"{p.family}^{p.given}^Q"
    ds.PatientMotherBirthName = f"{p.family}^Mother"
    ds.MilitaryRank, ds.EthnicGroup = "Sergeant", "Other"
    ds.NameOfPhysiciansReadingStudy = f"{p.reading_radiologist[1]}^{p.reading_radiologist[0]}"
    ds.PerformingPhysicianName = ds.OperatorsName = ds.PhysiciansOfRecord = ds.NameOfPhysiciansReadingStudy
    ds.StationName, ds.DeviceSerialNumber, ds.InstitutionalDepartmentName = "XR-ROOM-7", "SN-99812", "Radiology"
    ds.ImageComments = f"Patient {p.display_name} moved, repeat"
    ds.StudyComments = f"Call {' '.join(p.referring_physician)} at {p.phone}"
    ds.AdditionalPatientHistory = f"DOB {p.birth_date:%m/%d/%Y}"
    request = Dataset()
    request.RequestedProcedureID = info.accession
    request.ScheduledProcedureStepID = p.mrn
    ds.RequestAttributesSequence = Sequence([request])
    source = Dataset()  # a kept sequence: its UIDs are remapped, its names removed, its dates shifted
    source.ReferencedSOPClassUID = ds.SOPClassUID
    source.ReferencedSOPInstanceUID = make_uid("source", p.mrn)
    source.OperatorsName = f"{p.referring_physician[1]}^{p.referring_physician[0]}"
    source.InstanceCreationDate = WHEN.strftime("%Y%m%d")
    ds.SourceImageSequence = Sequence([source])
    block = ds.private_block(0x0009, "ACME RIS 1.0", create=True)
    block.add_new(0x10, "LO", rad)
    block.add_new(0x11, "LO", info.accession)
    ds.add_new(0x60004000, "LT", f"annotated by {rad}")  # overlay comments
    return ds


def _phi_strings(info: StudyInfo, ds: Dataset) -> list[str]:
    p = info.patient
    return [
        *p.phi_strings(),
        p.mrn.removeprefix("MRN"),
        info.accession,
        info.patient.institution,
        str(ds.InstitutionAddress),
        f"{p.family}^",
        f"{p.referring_physician[1]}^",
        f"{p.reading_radiologist[1]}^",
        "XR-ROOM-7",
        "SN-99812",
        "ACME RIS",
        "Sergeant",
        WHEN.strftime("%Y%m%d"),
        str(ds.StudyInstanceUID),
        str(ds.SeriesInstanceUID),
        str(ds.SOPInstanceUID),
        str(ds.SourceImageSequence[0].ReferencedSOPInstanceUID),
    ]


def _all_values(ds: Dataset) -> list[str]:
    """Every element value as text, sequences walked recursively, file meta included."""
    values = [str(e.value) for e in ds.iterall() if e.VR not in ("SQ", "OB", "OW", "OB or OW")]
    return values + [str(e.value) for e in ds.file_meta]


def _bytes(ds: Dataset) -> bytes:
    buf = io.BytesIO()
    pydicom.dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


@pytest.fixture
def deid() -> Deidentifier:
    return Deidentifier(DeidPolicy(secret=SECRET))


def test_no_phi_survives_in_any_element_or_in_the_written_bytes(deid):
    info = _info(0)
    ds = _phi_dataset(info)
    phi = _phi_strings(info, ds)
    assert all(any(s in v for v in _all_values(ds)) for s in phi)  # the input really carries every one
    out = deid.dataset(ds)
    values = _all_values(out)
    leaks = [s for s in phi if any(s in v for v in values)]
    assert not leaks
    raw = _bytes(out)
    assert not [s for s in phi if s.encode("latin-1") in raw]
    assert not any(e.tag.is_private for e in out.iterall())
    assert 0x60004000 not in out
    assert "RequestAttributesSequence" not in out and "ImageComments" not in out
    assert "OperatorsName" not in out.SourceImageSequence[0]


def test_required_markers_and_kept_attributes(deid):
    info = _info(1)
    ds = _phi_dataset(info)
    out = deid.dataset(ds)
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = {(item.CodeValue, item.CodingSchemeDesignator) for item in out.DeidentificationMethodCodeSequence}
    assert codes == {("113100", "DCM"), ("113107", "DCM"), ("113108", "DCM")}
    assert out.DeidentificationMethod
    assert (out.PatientSex, out.PatientAge) == (ds.PatientSex, ds.PatientAge)
    assert out.SOPClassUID == ds.SOPClassUID and out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    assert out.SourceImageSequence[0].ReferencedSOPClassUID == ds.SOPClassUID
    assert out.PatientID == out.PatientName == deid.patient_pseudonym(info.patient.mrn)
    assert out.AccessionNumber == deid.accession_pseudonym(info.accession) != info.accession
    assert out.PatientBirthDate == "" and out.StudyID == "" and out.ReferringPhysicianName == ""
    assert out.StudyTime == ds.StudyTime  # times are kept
    assert out.PixelData == ds.PixelData
    np.testing.assert_array_equal(out.pixel_array, ds.pixel_array)
    assert str(ds.PatientName) == info.patient.dicom_name  # the input is left untouched
    assert 0x00091010 in ds


def test_uids_are_valid_consistent_and_keyed(deid):
    ds = _phi_dataset(_info(2))
    out = deid.dataset(ds)
    again = Deidentifier(DeidPolicy(secret=SECRET)).dataset(ds)
    other = Deidentifier(DeidPolicy(secret=b"another-secret-of-16+bytes")).dataset(ds)
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        new = str(out[keyword].value)
        assert new != str(ds[keyword].value)
        assert new == str(again[keyword].value) != str(other[keyword].value)
        assert len(new) <= 64 and UID_RE.fullmatch(new) and new.startswith("2.25.")
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    nested = out.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert nested == deid.uid(str(ds.SourceImageSequence[0].ReferencedSOPInstanceUID))
    assert out.PatientID != other.PatientID
    reread = pydicom.dcmread(io.BytesIO(_bytes(out)))
    assert reread.SOPInstanceUID == out.SOPInstanceUID and reread.PatientIdentityRemoved == "YES"


def test_uid_root_is_respected_and_length_bounded():
    deid = Deidentifier(DeidPolicy(secret=SECRET, uid_root="1.2.826.0.1.3680043.10.999.123456"))
    uid = deid.uid("1.2.3.4")
    assert uid.startswith("1.2.826.0.1.3680043.10.999.123456.") and len(uid) <= 64 and UID_RE.fullmatch(uid)
    assert deid.uid("") == ""
    with pytest.raises(ValueError):
        DeidPolicy(secret=SECRET, uid_root="1.02.3")


def test_frame_of_reference_and_series_shared_by_the_slices_of_a_series(deid):
    info = _info(3)
    enc = CtEncoding(True, 16, -1024.0, False)
    hu = np.full((8, 8), 40, np.int16)
    series, frame = make_uid("ct-series"), make_uid("ct-frame")
    slices = [
        ct_slice_dataset(info, hu, (0.0, 0.0, z), (0.8, 0.8), 2.5, enc, series, make_uid("ct-sop", z), n, frame)
        for n, z in enumerate((0.0, 2.5), start=1)
    ]
    a, b = (deid.dataset(s) for s in slices)
    assert a.FrameOfReferenceUID == b.FrameOfReferenceUID != frame
    assert a.SeriesInstanceUID == b.SeriesInstanceUID != series
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.SOPClassUID == CT_STORAGE and a.StudyDate == b.StudyDate


def _shift(original: str, shifted: str) -> int:
    return (dt.datetime.strptime(shifted, "%Y%m%d") - dt.datetime.strptime(original, "%Y%m%d")).days


def test_dates_shift_by_one_offset_per_patient(deid):
    info = _info(4)
    ds = _phi_dataset(info)
    out = deid.dataset(ds)
    offset = deid.date_shift_days(info.patient.mrn)
    assert -365 <= offset <= -1
    for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate"):
        assert _shift(ds[keyword].value, out[keyword].value) == offset
    assert _shift(WHEN.strftime("%Y%m%d"), out.SourceImageSequence[0].InstanceCreationDate) == offset
    patients: list[Patient] = [_info(seed).patient for seed in range(20)]
    offsets = {deid.date_shift_days(p.mrn) for p in patients}
    assert len(offsets) > 10 and all(-365 <= o <= -1 for o in offsets)
    assert deid.date_shift_days(info.patient.mrn) == Deidentifier(DeidPolicy(secret=SECRET)).date_shift_days(
        info.patient.mrn
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20190314", "20190313"),
        ("20200301", "20200229"),
        ("20190314101500.123-0500", "20190313101500.123-0500"),  # DT: the time and offset are kept
        ("201903", "201902"),  # partial dates keep their precision
        ("2019", "2018"),
        ("20190301-20190314", "20190228-20190313"),  # DA range
        ("-20190314", "-20190313"),
        ("20190314120000-0500-20190315120000-0500", "20190313120000-0500-20190314120000-0500"),  # DT range
        ("2019.03.14", "20190313"),  # ACR-NEMA form
        ("", ""),
    ],
)
def test_shift_date_forms(value, expected):
    deid = Deidentifier(DeidPolicy(secret=SECRET, max_date_shift_days=1))  # the offset is then always -1
    assert deid.date_shift_days("anyone") == -1
    assert deid.shift_date(value, "P1") == expected


@pytest.mark.filterwarnings("ignore:Invalid value for VR DA")
def test_shift_date_rejects_garbage(deid):
    for bad in ("yesterday", "20191340", "2019031x"):
        with pytest.raises(ValueError):
            deid.shift_date(bad, "P1")
    ds = _phi_dataset(_info(5))
    ds.StudyDate = "UNKNOWN"
    assert deid.dataset(ds).StudyDate == ""  # a date that cannot be shifted must not stay


def test_pseudonyms_are_short_stable_and_hide_the_input(deid):
    pid = deid.patient_pseudonym("MRN12345678")
    assert re.fullmatch(r"P[A-Z2-7]{10}", pid) and pid == deid.patient_pseudonym("MRN12345678")
    assert pid != deid.patient_pseudonym("MRN12345679")
    acc = deid.accession_pseudonym("XR123456789")
    assert re.fullmatch(r"A[A-Z2-7]{10}", acc) and "123456789" not in acc
    assert deid.accession_pseudonym("") == ""


def test_action_table_names_real_attributes():
    unknown = [k for k in ACTIONS if tag_for_keyword(k) is None]
    assert not unknown
    assert set(ACTIONS.values()) <= {"X", "Z", "D", "U", "K"}


def test_burned_in_annotation():
    ds = Dataset()
    assert not burned_in_annotation(ds)
    ds.BurnedInAnnotation = "YES"
    assert burned_in_annotation(ds)
    ds.BurnedInAnnotation = "NO"
    assert not burned_in_annotation(ds)
