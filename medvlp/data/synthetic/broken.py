"""Deliberately broken files for ingestion tests: each defect a real archive holds sooner or later.

Every file is named like a valid one and placed among them, so ingest must tell by content, not by name.
`ground_truth/broken.json` lists each with its defect code.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset

from medvlp.data.synthetic.dicom_write import CxrEncoding, StudyInfo, cxr_dataset, make_uid
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.study import ARCHIVE_DIR

BROKEN_FOLDER = "EXPORT_MISC"


def _template(seed: int, rng: np.random.Generator, n: int) -> tuple[Dataset, list[str]]:
    """A small valid DX image of a patient who exists only in the broken files, and that patient's PHI."""
    patient = make_patient(rng)
    when = study_date(rng)
    info = StudyInfo(
        patient, make_uid(seed, "broken-study", n), f"XR9{n:08d}", when, "120000", "XR CHEST", patient.age_at(when)
    )
    image = rng.random((64, 64)).astype(np.float32)
    enc = CxrEncoding("DX", "MONOCHROME2", 12, 1.0, 0.0)
    series, sop = make_uid(seed, "broken-series", n), make_uid(seed, "broken-sop", n)
    return cxr_dataset(info, image, 0.5, "PA", enc, series, sop, 1), [*patient.phi_strings(), info.accession]


def _bytes(ds: Dataset, **kw: object) -> bytes:
    buf = io.BytesIO()
    dcmwrite(buf, ds, **kw)
    return buf.getvalue()


def _defects(seed: int, rng: np.random.Generator) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(defect code, file bytes) pairs, and the PHI they carry."""
    items: list[tuple[str, bytes]] = []
    phi: list[str] = []

    ds, p = _template(seed, rng, 1)
    good = _bytes(ds, enforce_file_format=True)
    items += [
        ("truncated", good[: len(good) * 3 // 5]),
        ("duplicate_sop_instance", good),
        ("duplicate_sop_instance", good),
    ]
    phi += p

    ds, p = _template(seed, rng, 2)
    ds.preamble = None
    del ds.file_meta
    items.append(("no_preamble", _bytes(ds, implicit_vr=True, little_endian=True)))
    phi += p

    ds, p = _template(seed, rng, 3)
    del ds.PixelData
    items.append(("missing_pixel_data", _bytes(ds, enforce_file_format=True)))
    phi += p

    ds, p = _template(seed, rng, 4)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]
    items.append(("short_pixel_data", _bytes(ds, enforce_file_format=True)))
    phi += p

    ds, p = _template(seed, rng, 5)
    ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 50000  # an allocation bomb: ~400 TB if trusted
    items.append(("absurd_dimensions", _bytes(ds, enforce_file_format=True)))
    phi += p

    items.append(("not_dicom", b"Export log\nstudies: see index\n"))
    items.append(("not_dicom", b"\x89PNG\r\n\x1a\n" + rng.integers(0, 256, 200, dtype=np.uint8).tobytes()))
    return items, phi


def write_broken_files(out: Path, seed: int) -> list[dict[str, object]]:
    """Write one file per defect under archive/; return [{path, defect}] and, on the first, the PHI planted."""
    rng = np.random.default_rng([seed, 5])
    folder = out / ARCHIVE_DIR / BROKEN_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    items, phi = _defects(seed, rng)
    written: list[dict[str, object]] = []
    for n, (defect, payload) in enumerate(items):
        name = "".join(rng.choice(list("0123456789ABCDEF"), size=10))
        path = folder / (name + (".LOG" if payload.startswith(b"Export") else ""))
        path.write_bytes(payload)
        written.append({"path": str(path.relative_to(out)), "defect": defect, "phi": phi if n == 0 else []})
    return written
