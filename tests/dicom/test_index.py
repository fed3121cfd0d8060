"""Header-only index: fields read right, defects found without reading pixels, links and DICOMDIR kept inside."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medvlp.data.synthetic.dicom_write import CtEncoding, StudyInfo, ct_slice_dataset, make_uid
from medvlp.data.synthetic.patients import make_patient
from medvlp.dicom.index import OK, QUARANTINED, SKIPPED, dicomdir_references, scan_file, walk_archive


def _slice(tmp: Path, name: str = "a.dcm", **changes) -> Path:
    info = StudyInfo(
        make_patient(np.random.default_rng(0)), make_uid("st"), "CT77", dt.date(2020, 1, 2), "101010", "CT", 60
    )
    ds = ct_slice_dataset(
        info,
        np.zeros((16, 12), np.int16),
        (1.0, 2.0, 3.5),
        (0.7, 0.7),
        2.5,
        CtEncoding(True, 16, 0.0, False),
        make_uid("se"),
        make_uid("so", name),
        4,
        make_uid("f"),
    )
    for k, v in changes.items():
        setattr(ds, k, v)
    path = tmp / name
    pydicom.dcmwrite(path, ds, enforce_file_format=True)
    return path


def test_fields(tmp_path: Path):
    _slice(tmp_path)
    e = scan_file(tmp_path, "a.dcm")
    assert (e.status, e.modality, e.rows, e.cols, e.bits_allocated, e.pixel_representation) == (OK, "CT", 16, 12, 16, 1)
    assert e.position == "1.0\\2.0\\3.5" and e.orientation.startswith("1") and e.slice_thickness == 2.5
    assert e.accession == "CT77" and e.instance_number == 4 and e.image_type == "ORIGINAL\\PRIMARY\\AXIAL"
    assert e.pixel_offset > 128 and e.rescale_slope == 1.0


@pytest.mark.parametrize(
    ("changes", "cut", "reason"),
    [
        ({"Rows": 60000, "Columns": 60000, "NumberOfFrames": 9000}, None, "absurd_dimensions"),
        ({}, 0.92, "truncated"),
        ({"BitsAllocated": 12}, None, "bad_dimensions"),
    ],
)
def test_defects_quarantined(tmp_path: Path, changes, cut, reason):
    path = _slice(tmp_path, **changes)
    if cut:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * cut)])
    e = scan_file(tmp_path, "a.dcm")
    assert (e.status, e.reason) == (QUARANTINED, reason)


def test_non_dicom_skipped(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "empty").write_bytes(b"")
    assert scan_file(tmp_path, "notes.txt").status == SKIPPED
    assert scan_file(tmp_path, "empty").reason == "not_dicom"


def test_walk_refuses_links_leaving_root(tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.dcm").write_text("x")
    root = tmp_path / "archive"
    (root / "sub").mkdir(parents=True)
    (root / "sub/ok.dcm").write_text("x")
    os.symlink(outside / "secret.dcm", root / "link.dcm")
    os.symlink(outside, root / "linkdir")
    found = dict(walk_archive(root))
    assert found == {"link.dcm": "outside_root", "linkdir": "outside_root", "sub/ok.dcm": ""}


def test_dicomdir_references_stay_inside(tmp_path: Path):
    root = tmp_path / "cd"
    (root / "IMG").mkdir(parents=True)
    _slice(root / "IMG", "IM1")
    ds = Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    ds.file_meta.MediaStorageSOPInstanceUID = make_uid("dicomdir")
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    records = []
    for parts in (["IMG", "IM1"], ["..", "..", "etc", "passwd"], ["IMG", "GONE"]):
        rec = Dataset()
        rec.DirectoryRecordType = "IMAGE"
        rec.ReferencedFileID = parts
        records.append(rec)
    ds.DirectoryRecordSequence = Sequence(records)
    ds.preamble = b"\0" * 128
    pydicom.dcmwrite(root / "DICOMDIR", ds, enforce_file_format=True)
    refs, problems = dicomdir_references(root, "DICOMDIR")
    assert refs == ["IMG/IM1"]
    assert sorted(r for _, r in problems) == ["dicomdir_reference_missing", "dicomdir_reference_outside_root"]
    assert scan_file(root, "DICOMDIR").reason == "dicomdir"
