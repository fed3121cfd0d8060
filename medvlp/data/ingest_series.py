"""Convert one selected series into cached image(s) and manifest row(s); runs in a worker process.

Every failure becomes a quarantine outcome with a reason code: a bad series never stops the ingest.
"""

from __future__ import annotations

import ctypes
import json
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import torch

from medvlp.config.schema import IngestConfig
from medvlp.data.convert import CachedImage, ct_volume, cxr_image, save_nifti
from medvlp.data.splits import split_of
from medvlp.dicom.deid import Deidentifier
from medvlp.dicom.geometry import GeometryError
from medvlp.dicom.index import FileEntry
from medvlp.dicom.pixels import PixelError, ct_frames, decode_radiograph, decoded_pixels, native_frame
from medvlp.text.reports import split_sections
from medvlp.text.scrub import KnownIdentifiers, scrub_report

CACHE_DIR = "cache"


@dataclass
class SeriesTask:
    """What a worker needs: the pseudonymous series id, its kind and its files' index entries."""

    series_uid: str
    kind: str  # "cxr" | "ct"
    files: list[FileEntry]

    @property
    def paths(self) -> list[str]:
        return [f.path for f in self.files]


@dataclass
class SeriesResult:
    series_uid: str
    status: str  # "used" | "quarantined"
    reason: str = ""
    message: str = ""
    rows: list[dict[str, object]] = field(default_factory=list)


class _Context:
    """Per-process state set once by the pool initializer (the secret and the reports stay in memory only)."""

    archive: Path
    out: Path
    cfg: IngestConfig
    deid: Deidentifier
    reports: dict[tuple[str, str], str]


CTX = _Context()


def die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies, so a killed ingest leaves no orphans behind."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def init_worker(
    archive: Path, out: Path, cfg: IngestConfig, deid: Deidentifier, reports: dict[tuple[str, str], str]
) -> None:
    die_with_parent()
    torch.set_num_threads(1)  # one core per worker process
    CTX.archive, CTX.out, CTX.cfg, CTX.deid, CTX.reports = archive, out, cfg, deid, reports


def _report(ds: pydicom.Dataset) -> str | None:
    """The study's report (by accession, else by study UID), scrubbed with what the header knows, or None."""
    for key in (
        ("accession", str(ds.get("AccessionNumber", "")).strip()),
        ("study_uid", str(ds.get("StudyInstanceUID", ""))),
    ):
        if key[1] and key in CTX.reports:
            return scrub_report(CTX.reports[key], KnownIdentifiers.from_dataset(ds))
    return None


def _sidecar(ds: pydicom.Dataset, path: Path) -> None:
    """The de-identified header (no pixels) beside the cached image: scanner, protocol and geometry facts."""
    clean = CTX.deid.dataset(ds)
    if "PixelData" in clean:
        del clean.PixelData
    path.write_text(
        json.dumps(clean.to_json_dict(bulk_data_threshold=4096, bulk_data_element_handler=lambda e: ""), sort_keys=True)
    )


def _row(
    ds: pydicom.Dataset, sample_id: str, kind: str, rel_image: str, facts: CachedImage, sources: list[str], view: str
) -> dict[str, object]:
    text = _report(ds)
    parsed = split_sections(text or "")
    patient = CTX.deid.patient_pseudonym(str(ds.get("PatientID", "")))
    return {
        "sample_id": sample_id,
        "patient_id": patient,
        "study_id": CTX.deid.uid(str(ds.StudyInstanceUID)),
        "accession": CTX.deid.accession_pseudonym(str(ds.get("AccessionNumber", ""))),
        "modality": kind,
        "source_modality": str(ds.get("Modality", "")),
        "view": view,
        "image_path": rel_image,
        "shape": list(facts.shape),
        "spacing": list(facts.spacing),
        "affine": json.dumps(facts.affine),
        "original_shape": list(facts.original_shape),
        "original_spacing": list(facts.original_spacing),
        "resampled_slices": facts.resampled_slices,
        "n_sources": len(sources),
        "sources": sources,
        "has_report": text is not None,
        "report_findings": parsed.findings,
        "report_impression": parsed.impression,
        "report_text": text or "",
        "split": split_of(patient, CTX.cfg.splits),
    }


def _convert_ct(task: SeriesTask) -> list[dict[str, object]]:
    """Native single-frame slices are read straight from the file with the index's header facts (one header parse
    per series, for the report and the sidecar); compressed or multi-frame files go through pydicom's decoders."""
    frames = []
    for entry in task.files:
        path = CTX.archive / entry.path
        if entry.pixel_offset >= 0 and entry.frames == 1 and entry.samples == 1 and entry.bits_allocated in (8, 16):
            frames.append(native_frame(path, entry))
        else:
            frames.extend(ct_frames(pydicom.dcmread(path)))
    first = pydicom.dcmread(CTX.archive / task.files[0].path, stop_before_pixels=True)
    cfg = CTX.cfg
    vol, affine, facts = ct_volume(
        frames, tuple(cfg.ct_spacing), cfg.spacing_tolerance, cfg.max_gap_factor, cfg.max_tilt_degrees
    )
    rel_image = f"{CACHE_DIR}/ct/{task.series_uid}{_suffix()}"
    save_nifti(CTX.out / rel_image, vol, affine)
    _sidecar(first, CTX.out / f"{CACHE_DIR}/ct/{task.series_uid}.json")
    return [_row(first, task.series_uid, "ct", rel_image, facts, task.paths, "AXIAL")]


def _suffix() -> str:
    return ".nii.gz" if CTX.cfg.compress else ".nii"


def _convert_cxr(task: SeriesTask) -> list[dict[str, object]]:
    rows = []
    for rel in task.paths:
        ds = pydicom.dcmread(CTX.archive / rel)
        decoded_pixels(ds)  # raises PixelError when undecodable
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            raise PixelError("multiframe_radiograph", "a radiograph with several frames (cine/dual energy?)")
        spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing") or [1.0, 1.0]
        image, facts = cxr_image(decode_radiograph(ds), (float(spacing[0]), float(spacing[1])), CTX.cfg.cxr_size)
        sample_id = CTX.deid.uid(str(ds.SOPInstanceUID))
        rel_image = f"{CACHE_DIR}/cxr/{sample_id}{_suffix()}"
        save_nifti(CTX.out / rel_image, image, facts.affine)
        _sidecar(ds, CTX.out / f"{CACHE_DIR}/cxr/{sample_id}.json")
        rows.append(_row(ds, sample_id, "cxr", rel_image, facts, [rel], str(ds.get("ViewPosition", ""))))
    return rows


def convert_series(task: SeriesTask) -> SeriesResult:
    """Convert a series; decoding and geometry defects (and anything unexpected) become a quarantine result."""
    try:
        rows = _convert_ct(task) if task.kind == "ct" else _convert_cxr(task)
        return SeriesResult(task.series_uid, "used", rows=rows)
    except (GeometryError, PixelError) as exc:
        return SeriesResult(task.series_uid, "quarantined", exc.reason, str(exc))
    except Exception as exc:  # a broken file must not stop the archive: quarantine with the error named
        return SeriesResult(task.series_uid, "quarantined", "conversion_error", f"{type(exc).__name__}: {exc}")
