"""Write phantom images as the DICOM a hospital exports: DX/CR radiographs and one-file-per-slice CT series.

Encoding varies on purpose (MONOCHROME1/2, 12-16 bits stored, signed and unsigned storage, rescale slope and
intercept, window tags) so that a decoder which ignores any of them produces visibly wrong pixels.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

from medvlp.data.synthetic.patients import Patient

CR_STORAGE = "1.2.840.10008.5.1.4.1.1.1"
DX_STORAGE = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def make_uid(*parts: object) -> str:
    """A deterministic UID under the 2.25 (UUID) root: the same parts always give the same UID.

    pydicom's generate_uid ignores its entropy sources under the 2.25 root, so the UUID is derived here.
    """
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return f"2.25.{uuid.UUID(bytes=digest[:16], version=5).int}"


@dataclass(frozen=True)
class StudyInfo:
    """Study-level header values shared by every file of a study."""

    patient: Patient
    study_uid: str
    accession: str
    date: dt.date
    time: str  # HHMMSS
    description: str
    age: int


def _base(info: StudyInfo, sop_class: str, sop_uid: str, series_uid: str, modality: str) -> Dataset:
    """Patient, study, series and SOP common modules (with the PHI a real export carries)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "MEDVLP_PHANTOM"
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    date = info.date.strftime("%Y%m%d")
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = info.time
    ds.AccessionNumber = info.accession
    ds.Modality = modality
    ds.Manufacturer = "MEDVLP Phantom Imaging"
    ds.InstitutionName = info.patient.institution
    ds.InstitutionAddress = info.patient.address.split(",")[-1].strip() + " Medical Campus"
    ref = info.patient.referring_physician
    ds.ReferringPhysicianName = f"{ref[1]}^{ref[0]}"
    ds.StudyDescription = info.description
    ds.PatientName = info.patient.dicom_name
    ds.PatientID = info.patient.mrn
    ds.PatientBirthDate = info.patient.birth_date.strftime("%Y%m%d")
    ds.PatientSex = info.patient.sex
    ds.PatientAge = f"{info.age:03d}Y"
    ds.PatientAddress = info.patient.address
    ds.PatientTelephoneNumbers = info.patient.phone
    ds.StudyInstanceUID = info.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = info.accession[-6:]
    ds.BurnedInAnnotation = "NO"
    return ds


def _pixel_module(ds: Dataset, stored: np.ndarray, bits_stored: int, signed: bool, photometric: str) -> None:
    """Image pixel module; `stored` already holds the raw stored values (uint16 or int16)."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = int(stored.shape[0]), int(stored.shape[1])
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = np.ascontiguousarray(stored.astype("<i2" if signed else "<u2")).tobytes()


@dataclass(frozen=True)
class CxrEncoding:
    """How a radiograph's values are stored; drawn per image."""

    modality: str  # "DX" | "CR"
    photometric: str  # "MONOCHROME1" | "MONOCHROME2"
    bits_stored: int  # 12..16
    slope: float
    intercept: float


def sample_cxr_encoding(rng: np.random.Generator) -> CxrEncoding:
    """Draw a realistic mix of detector encodings (independent of the image content)."""
    modality = "CR" if rng.random() < 0.4 else "DX"
    photometric = "MONOCHROME1" if rng.random() < 0.4 else "MONOCHROME2"
    bits = int(rng.choice([12, 12, 14, 15, 16]))
    slope, intercept = [(1.0, 0.0), (1.0, 0.0), (0.5, 0.0), (2.0, -1024.0), (1.0, 100.0)][int(rng.integers(5))]
    return CxrEncoding(modality, photometric, bits, slope, intercept)


def encode_cxr(image: np.ndarray, enc: CxrEncoding) -> tuple[np.ndarray, float, float]:
    """Quantise a [0, 1] attenuation image (1 = bright on MONOCHROME2) to stored values.

    Returns (stored uint16 [rows, cols], window centre, window width) with the window in rescaled units.
    MONOCHROME1 stores the inverse, so a correct decoder inverts it back to the same anatomy.
    """
    top = (1 << enc.bits_stored) - 1
    value = np.rint(np.clip(image, 0.0, 1.0) * top)  # [rows, cols], 0..top; MONOCHROME2 sense
    lo, hi = np.percentile(value, [0.5, 99.0])  # window chosen on the displayed sense, so M1 and M2 show alike
    if enc.photometric == "MONOCHROME1":
        value, (lo, hi) = top - value, (top - hi, top - lo)
    stored = value.astype(np.uint16)
    centre = enc.slope * (lo + hi) / 2 + enc.intercept
    width = max(enc.slope * (hi - lo), 1.0)
    return stored, float(round(centre, 1)), float(round(width, 1))


def cxr_dataset(
    info: StudyInfo,
    image: np.ndarray,
    pixel_spacing_mm: float,
    view: str,
    enc: CxrEncoding,
    series_uid: str,
    sop_uid: str,
    series_number: int,
) -> Dataset:
    """A complete DX/CR radiograph dataset from a [rows, cols] image in [0, 1]."""
    sop_class = DX_STORAGE if enc.modality == "DX" else CR_STORAGE
    ds = _base(info, sop_class, sop_uid, series_uid, enc.modality)
    ds.SeriesNumber, ds.InstanceNumber = series_number, 1
    ds.SeriesDescription = {"PA": "CHEST PA", "AP": "CHEST AP PORTABLE", "LL": "CHEST LAT"}[view]
    ds.BodyPartExamined = "CHEST"
    ds.ViewPosition = "LL" if view == "LL" else view
    ds.PatientOrientation = ["P", "F"] if view == "LL" else ["L", "F"]  # row, column directions as displayed
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    if enc.modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
        ds.ImagerPixelSpacing = [pixel_spacing_mm, pixel_spacing_mm]
    ds.PixelSpacing = [round(pixel_spacing_mm, 4), round(pixel_spacing_mm, 4)]
    stored, centre, width = encode_cxr(image, enc)
    _pixel_module(ds, stored, enc.bits_stored, signed=False, photometric=enc.photometric)
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = enc.slope, enc.intercept, "US"
    ds.WindowCenter, ds.WindowWidth = centre, width
    return ds


@dataclass(frozen=True)
class CtEncoding:
    """How a CT series stores HU; drawn per series."""

    signed: bool
    bits_stored: int
    intercept: float
    reverse_instance_numbers: bool  # numbering from the head down, so InstanceNumber order != position order


def sample_ct_encoding(rng: np.random.Generator) -> CtEncoding:
    if rng.random() < 0.5:
        return CtEncoding(False, int(rng.choice([12, 16])), -1024.0, bool(rng.random() < 0.5))
    return CtEncoding(True, 16, float(rng.choice([0.0, -1024.0])), bool(rng.random() < 0.5))


def ct_slice_dataset(
    info: StudyInfo,
    hu_slice: np.ndarray,
    position: tuple[float, float, float],
    spacing_rc: tuple[float, float],
    thickness: float,
    enc: CtEncoding,
    series_uid: str,
    sop_uid: str,
    instance_number: int,
    frame_uid: str,
) -> Dataset:
    """One axial CT slice [rows, cols] of HU at ImagePositionPatient `position` (LPS mm)."""
    ds = _base(info, CT_STORAGE, sop_uid, series_uid, "CT")
    ds.SeriesNumber, ds.InstanceNumber = 2, instance_number
    ds.SeriesDescription = f"AXIAL {thickness:.1f}MM"
    ds.BodyPartExamined = "CHEST"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.FrameOfReferenceUID = frame_uid
    ds.PatientPosition = "HFS"
    ds.ImagePositionPatient = [round(float(v), 4) for v in position]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SliceLocation = round(float(position[2]), 4)
    ds.SliceThickness = round(float(thickness), 4)
    ds.PixelSpacing = [round(float(spacing_rc[0]), 6), round(float(spacing_rc[1]), 6)]
    ds.KVP, ds.ConvolutionKernel = 120, "STANDARD"
    stored = np.rint(hu_slice.astype(np.float32) - enc.intercept)  # [rows, cols]
    lo, hi = (
        (-(1 << (enc.bits_stored - 1)), (1 << (enc.bits_stored - 1)) - 1)
        if enc.signed
        else (0, (1 << enc.bits_stored) - 1)
    )
    _pixel_module(ds, np.clip(stored, lo, hi), enc.bits_stored, enc.signed, "MONOCHROME2")
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = 1.0, enc.intercept, "HU"
    ds.WindowCenter, ds.WindowWidth = [40.0, -600.0], [400.0, 1500.0]
    return ds


def ct_localizer_dataset(
    info: StudyInfo,
    topogram: np.ndarray,
    spacing_rc: tuple[float, float],
    series_uid: str,
    sop_uid: str,
    frame_uid: str,
    origin: tuple[float, float, float],
) -> Dataset:
    """A coronal scout (ImageType LOCALIZER) as CT scanners write before the axial series."""
    ds = _base(info, CT_STORAGE, sop_uid, series_uid, "CT")
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.SeriesDescription = "TOPOGRAM"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    ds.FrameOfReferenceUID = frame_uid
    ds.ImagePositionPatient = [round(float(v), 4) for v in origin]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    ds.SliceThickness = 1.0
    ds.PixelSpacing = [round(float(spacing_rc[0]), 6), round(float(spacing_rc[1]), 6)]
    _pixel_module(ds, np.clip(topogram, 0, 4095).astype(np.uint16), 12, False, "MONOCHROME2")
    ds.RescaleSlope, ds.RescaleIntercept = 1.0, 0.0
    return ds
