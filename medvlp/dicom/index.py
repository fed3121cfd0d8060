"""Header-only index of a DICOM archive: every file found gets one row, read without its pixels.

Files are read with pydicom's stop_before_pixels; the pixel data element's length is taken from its header
bytes, so defects (truncation, short pixel data, absurd dimensions) are found without reading or allocating
pixels. Rows stream into SQLite (see medvlp/dicom/store.py), so memory stays flat in the size of the archive.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.errors import InvalidDicomError

# Status of a file after indexing; every file ends in exactly one.
OK, SKIPPED, QUARANTINED = "ok", "skipped", "quarantined"
NATIVE_LITTLE_ENDIAN = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit VR little endian
MAX_PIXELS = 1 << 28  # 268 M pixels (16 bit: 512 MiB) per file; more is an allocation bomb, not an image


@dataclass
class FileEntry:
    """One indexed file: where it is, what became of it, and the header fields later stages need."""

    path: str  # relative to the archive root, POSIX separators
    size: int
    status: str = OK
    reason: str = ""  # machine-readable code when skipped or quarantined
    message: str = ""
    sop_uid: str = ""
    series_uid: str = ""
    study_uid: str = ""
    patient_id: str = ""
    accession: str = ""
    modality: str = ""
    view: str = ""
    image_type: str = ""
    series_description: str = ""
    rows: int = 0
    cols: int = 0
    frames: int = 1
    samples: int = 1
    bits_allocated: int = 0
    photometric: str = ""
    transfer_syntax: str = ""
    position: str = ""  # ImagePositionPatient as "x\\y\\z"
    orientation: str = ""  # ImageOrientationPatient, 6 values
    slice_thickness: float = 0.0
    pixel_spacing: str = ""
    instance_number: int = 0
    burned_in: str = ""
    bits_stored: int = 0
    pixel_representation: int = 0
    rescale_slope: float = 1.0
    rescale_intercept: float = 0.0
    pixel_offset: int = -1  # byte offset of native (uncompressed) pixel values; -1 when encapsulated or absent

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def as_row(self) -> tuple[object, ...]:
        return tuple(asdict(self).values())


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    """An element as text ("a\\b" for several values) read from its raw bytes: no value conversion, which is
    most of the cost of a header read. Binary VRs (US, SS, UL) are unpacked."""
    tag = tag_for_keyword(keyword)
    elem = ds.get_item(tag) if tag is not None else None
    if elem is None:
        return ""
    value = elem.value
    if isinstance(value, bytes):
        vr = elem.VR or dictionary_VR(tag)
        if vr in _BINARY:
            little = getattr(elem, "is_little_endian", True) is not False
            fmt = ("<" if little else ">") + _BINARY[vr]
            count = len(value) // struct.calcsize(fmt)
            return "\\".join(
                str(v) for v in struct.unpack(fmt[0] + fmt[1] * count, value[: count * struct.calcsize(fmt)])
            )
        return value.decode("latin-1").strip("\x00 ")
    if isinstance(value, pydicom.multival.MultiValue):
        return "\\".join(str(v) for v in value)
    return str(value) if value is not None else ""


def _int(ds: pydicom.Dataset, keyword: str, default: int = 0) -> int:
    try:
        return int(float(_text(ds, keyword).split("\\")[0] or default))
    except ValueError:
        return default


def _float(ds: pydicom.Dataset, keyword: str, default: float) -> float:
    try:
        return float(_text(ds, keyword).split("\\")[0] or default)
    except ValueError:
        return default


_BINARY = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}


def _pixel_header(fp: object, ds: pydicom.Dataset) -> tuple[bool, int | None, int]:
    """Read the Pixel Data element header at the stream position.

    Returns (present, value length or None if encapsulated, byte offset of the value).
    """
    start = fp.tell()  # type: ignore[attr-defined]
    head = fp.read(12)  # type: ignore[attr-defined]
    if len(head) < 8:
        return False, 0, -1
    big = not ds.original_encoding[1] if ds.original_encoding[1] is not None else False
    group, elem = struct.unpack(">HH" if big else "<HH", head[:4])
    if (group, elem) != (0x7FE0, 0x0010):
        return False, 0, -1
    implicit = ds.original_encoding[0] if ds.original_encoding[0] is not None else False
    if implicit:
        (length,) = struct.unpack(">I" if big else "<I", head[4:8])
    else:
        (length,) = struct.unpack(">I" if big else "<I", head[8:12])
    offset = start + (8 if implicit else 12)
    return True, None if length == 0xFFFFFFFF else length, offset


def scan_file(root: Path, rel: str) -> FileEntry:
    """Index one file by its header; never reads pixel values. Defects become a status and a reason code."""
    path = root / rel
    entry = FileEntry(path=rel, size=path.stat().st_size)
    with open(path, "rb") as fp:
        preamble = fp.read(132)
        has_magic = len(preamble) == 132 and preamble[128:132] == b"DICM"
        fp.seek(0)
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=not has_magic)
            present, length, offset = _pixel_header(fp, ds)
            data_end = offset if offset >= 0 else fp.tell()
        except (InvalidDicomError, EOFError, OSError, ValueError, struct.error, KeyError, TypeError) as exc:
            if not has_magic:
                return _skip(entry, "not_dicom", f"not a DICOM file ({type(exc).__name__})")
            return _quarantine(entry, "unreadable_header", f"header cannot be parsed: {exc}")
    if not has_magic and "SOPInstanceUID" not in ds:
        return _skip(entry, "not_dicom", "no DICM marker and no DICOM header")
    _fill(entry, ds)
    if not has_magic:
        return _quarantine(entry, "no_preamble", "no 128-byte preamble and DICM marker (not a DICOM Part 10 file)")
    if ds.get("DirectoryRecordSequence") is not None or _text(ds, "SOPClassUID") == "1.2.840.10008.1.3.10":
        return _skip(entry, "dicomdir", "DICOMDIR (a directory of the media, read for references)")
    if "SOPInstanceUID" not in ds or "SeriesInstanceUID" not in ds or "StudyInstanceUID" not in ds:
        return _quarantine(entry, "missing_uid", "SOP, series or study instance UID missing")
    if not present:
        if _text(ds, "Modality") in ("SR", "PR", "KO", "RTSTRUCT", "SEG", "REG"):
            return _skip(entry, "no_image", f"{_text(ds, 'Modality')} object without pixels")
        return _quarantine(entry, "missing_pixel_data", "image object without Pixel Data")
    checked = _check_pixels(entry, length, data_end)
    if checked.status == OK and length is not None and entry.transfer_syntax in NATIVE_LITTLE_ENDIAN:
        checked.pixel_offset = offset  # native little-endian values: readable straight from the file
    return checked


def _fill(entry: FileEntry, ds: pydicom.Dataset) -> None:
    meta = getattr(ds, "file_meta", None)
    entry.sop_uid = _text(ds, "SOPInstanceUID")
    entry.series_uid = _text(ds, "SeriesInstanceUID")
    entry.study_uid = _text(ds, "StudyInstanceUID")
    entry.patient_id = _text(ds, "PatientID")
    entry.accession = _text(ds, "AccessionNumber")
    entry.modality = _text(ds, "Modality")
    entry.view = _text(ds, "ViewPosition")
    entry.image_type = _text(ds, "ImageType")
    entry.series_description = _text(ds, "SeriesDescription")
    entry.rows, entry.cols = _int(ds, "Rows"), _int(ds, "Columns")
    entry.frames = max(1, _int(ds, "NumberOfFrames", 1))
    entry.samples = max(1, _int(ds, "SamplesPerPixel", 1))
    entry.bits_allocated = _int(ds, "BitsAllocated")
    entry.photometric = _text(ds, "PhotometricInterpretation")
    entry.transfer_syntax = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    entry.position = _text(ds, "ImagePositionPatient")
    entry.orientation = _text(ds, "ImageOrientationPatient")
    entry.slice_thickness = _float(ds, "SliceThickness", 0.0)
    entry.pixel_spacing = _text(ds, "PixelSpacing") or _text(ds, "ImagerPixelSpacing")
    entry.instance_number = _int(ds, "InstanceNumber")
    entry.burned_in = _text(ds, "BurnedInAnnotation").upper()
    entry.bits_stored = _int(ds, "BitsStored", entry.bits_allocated)
    entry.pixel_representation = _int(ds, "PixelRepresentation")
    entry.rescale_slope = _float(ds, "RescaleSlope", 1.0)
    entry.rescale_intercept = _float(ds, "RescaleIntercept", 0.0)


def _check_pixels(entry: FileEntry, length: int | None, data_end: int) -> FileEntry:
    """Compare the header's image size with the pixel data present, before anything is allocated."""
    n_pixels = entry.rows * entry.cols * entry.frames * entry.samples
    if entry.rows <= 0 or entry.cols <= 0 or entry.bits_allocated not in (1, 8, 16, 32):
        return _quarantine(
            entry, "bad_dimensions", f"Rows={entry.rows} Columns={entry.cols} BitsAllocated={entry.bits_allocated}"
        )
    if n_pixels > MAX_PIXELS:
        return _quarantine(
            entry,
            "absurd_dimensions",
            f"{entry.rows}x{entry.cols}x{entry.frames} frames = "
            f"{n_pixels:,} pixels exceeds the limit of {MAX_PIXELS:,}",
        )
    if length is None:  # encapsulated (compressed): fragment sizes are checked when decoding
        return entry
    expected = (n_pixels * entry.bits_allocated + 7) // 8
    available = min(length, max(0, entry.size - data_end))
    if available < expected:
        code = "truncated" if length > entry.size - data_end else "short_pixel_data"
        return _quarantine(entry, code, f"pixel data holds {available:,} bytes, the header needs {expected:,}")
    return entry


def _skip(entry: FileEntry, reason: str, message: str) -> FileEntry:
    entry.status, entry.reason, entry.message = SKIPPED, reason, message
    return entry


def _quarantine(entry: FileEntry, reason: str, message: str) -> FileEntry:
    entry.status, entry.reason, entry.message = QUARANTINED, reason, message
    return entry


def walk_archive(root: Path) -> Iterator[tuple[str, str]]:
    """Yield (relative path, problem) for every file under root, sorted; links leaving root are a problem.

    Symbolic links are followed only when their target lies inside root; a link that resolves outside is
    reported, never read.
    """
    root = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        for name in list(dirnames):
            target = (here / name).resolve()
            if (here / name).is_symlink() and not target.is_relative_to(root):
                dirnames.remove(name)
                yield str((here / name).relative_to(root).as_posix()), "outside_root"
        for name in sorted(filenames):
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                yield rel, "outside_root"
            elif not path.is_file():
                yield rel, "not_a_file"
            else:
                yield rel, ""


def dicomdir_references(root: Path, dicomdir_rel: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Files a DICOMDIR references, relative to root; references that leave root or are missing are problems."""
    root = root.resolve()
    base = (root / dicomdir_rel).parent
    ds = pydicom.dcmread(root / dicomdir_rel, stop_before_pixels=True, force=True)
    refs, problems = [], []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [str(p) for p in (file_id if isinstance(file_id, pydicom.multival.MultiValue) else [file_id])]
        target = (base.joinpath(*parts)).resolve()
        shown = "/".join(parts)
        if not target.is_relative_to(root):
            problems.append((shown, "dicomdir_reference_outside_root"))
        elif not target.is_file():
            problems.append((shown, "dicomdir_reference_missing"))
        else:
            refs.append(target.relative_to(root).as_posix())
    return refs, problems
