"""Generate one phantom study: draw the truth, render it, write its DICOM files, masks and report.

Runs in a worker process; everything random comes from a SeedSequence keyed by (seed, study index), so the
archive is byte-identical whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom import dcmwrite

from medvlp.config import SynthConfig
from medvlp.data.synthetic.ct_render import CtGeometry, render_ct, sample_ct_geometry
from medvlp.data.synthetic.cxr_render import render_cxr, sample_cxr_geometry
from medvlp.data.synthetic.dicom_write import (
    StudyInfo,
    ct_localizer_dataset,
    ct_slice_dataset,
    cxr_dataset,
    make_uid,
    sample_ct_encoding,
    sample_cxr_encoding,
)
from medvlp.data.synthetic.findings import StudyTruth, sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import Patient, make_patient, study_date
from medvlp.data.synthetic.reports import write_report

ARCHIVE_DIR, GROUND_TRUTH_DIR, MASK_DIR = "archive", "ground_truth", "ground_truth/masks"
STREAMS = ("truth", "render", "report", "encoding", "files", "header")


@dataclass(frozen=True)
class StudyPlan:
    """What the main process decides before fanning out: which study, which patient, which modality."""

    index: int
    modality: str  # "cxr" | "ct"
    patient_index: int
    n_folders: int


@dataclass
class StudyRecord:
    """What a worker hands back: paths, identifiers, truth and report (never pixel arrays)."""

    index: int
    modality: str
    accession: str
    study_uid: str
    patient_id: str
    date: str
    views: list[str]
    files: list[str]
    series: list[dict[str, object]]
    labels: dict[str, int]
    findings: list[dict[str, object]]
    report_text: str
    report_mentions: dict[str, str]
    masks: list[str]
    phi: dict[str, list[str]] = field(default_factory=dict)


def patient_for(seed: int, patient_index: int) -> Patient:
    """Patients are drawn from their own stream, so a patient is identical in every study they appear in."""
    return make_patient(np.random.default_rng([seed, 2, patient_index]))


class _Namer:
    """Meaningless file names spread over export folders, as a PACS export or a CD looks."""

    def __init__(self, rng: np.random.Generator, n_folders: int) -> None:
        self.rng, self.n_folders = rng, n_folders
        self.suffix = ".dcm" if rng.random() < 0.5 else ""

    def __call__(self) -> str:
        folder = f"EXPORT{int(self.rng.integers(self.n_folders)):03d}"
        name = "".join(self.rng.choice(list("0123456789ABCDEF"), size=10))
        return f"{ARCHIVE_DIR}/{folder}/{name}{self.suffix}"


def _write(out: Path, rel: str, ds: object) -> None:
    path = out / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    dcmwrite(path, ds, enforce_file_format=True)


def _save_nifti(path: Path, data: np.ndarray, affine: np.ndarray) -> None:
    """Write NIfTI deterministically (nibabel writes gzip with mtime 0)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm")
    nib.save(img, path)


def ct_affine(geom: CtGeometry) -> np.ndarray:
    """Voxel (i=col, j=row, k=slice) to RAS mm, for arrays stored as [W, H, D] (the DICOM LPS axes, x and y negated)."""
    dz, dy, dx = geom.spacing
    ox, oy, oz = geom.origin
    return np.array([[-dx, 0, 0, -ox], [0, -dy, 0, -oy], [0, 0, dz, oz], [0, 0, 0, 1]], dtype=np.float64)


def _study_info(rngs: dict[str, np.random.Generator], seed: int, plan: StudyPlan, patient: Patient) -> StudyInfo:
    rng = rngs["header"]
    when = study_date(rng)
    accession = f"{'XR' if plan.modality == 'cxr' else 'CT'}{int(rng.integers(10**8, 10**9))}"
    desc = "XR CHEST" if plan.modality == "cxr" else "CT CHEST ABDOMEN WO CONTRAST"
    time = f"{int(rng.integers(7, 20)):02d}{int(rng.integers(60)):02d}{int(rng.integers(60)):02d}"
    return StudyInfo(patient, make_uid(seed, "study", plan.index), accession, when, time, desc, patient.age_at(when))


def _cxr_views(rng: np.random.Generator, cfg: SynthConfig) -> list[str]:
    first = "AP" if rng.random() < cfg.ap_fraction else "PA"
    return [first, "LL"] if first == "PA" and rng.random() < cfg.lateral_fraction else [first]


def _make_cxr(
    out: Path,
    cfg: SynthConfig,
    seed: int,
    plan: StudyPlan,
    info: StudyInfo,
    truth: StudyTruth,
    rngs: dict[str, np.random.Generator],
    rec: StudyRecord,
) -> None:
    namer = _Namer(rngs["files"], plan.n_folders)
    views = _cxr_views(rngs["render"], cfg)
    render_state = rngs["render"].bit_generator.state  # views of one study share the patient's body draws
    for number, view in enumerate(views, start=1):
        rng = np.random.default_rng()
        rng.bit_generator.state = render_state
        geom = sample_cxr_geometry(rng, view, tuple(cfg.cxr_size))
        render = render_cxr(rng, truth, geom)
        enc = sample_cxr_encoding(rngs["encoding"])
        series_uid = make_uid(seed, "series", plan.index, number)
        sop_uid = make_uid(seed, "sop", plan.index, number, 1)
        ds = cxr_dataset(info, render.image, geom.pixel_spacing_mm, view, enc, series_uid, sop_uid, number)
        rel = namer()
        _write(out, rel, ds)
        mask_rel = f"{MASK_DIR}/{info.accession}_{view}.nii.gz"
        sp = geom.pixel_spacing_mm
        # masks [C, rows, cols] -> NIfTI [rows, cols, C]; voxel (row, col) -> mm (row*sp, col*sp)
        _save_nifti(out / mask_rel, np.moveaxis(render.masks, 0, -1).astype(np.uint8), np.diag([sp, sp, 1.0, 1.0]))
        rec.views.append(view)
        rec.files.append(rel)
        rec.masks.append(mask_rel)
        rec.series.append(
            {
                "series_uid": series_uid,
                "view": view,
                "modality": enc.modality,
                "photometric": enc.photometric,
                "bits_stored": enc.bits_stored,
                "files": [rel],
                "sop_uids": [sop_uid],
                "rows": geom.rows,
                "cols": geom.cols,
                "pixel_spacing": sp,
                "mask": mask_rel,
            }
        )


def _topogram(hu: np.ndarray) -> np.ndarray:
    """A coronal projection [D, W] (row 0 superior) of a [D, H, W] HU volume, scaled to 12 bits."""
    mu = np.clip(hu.astype(np.float32) + 1000.0, 0, None) / 1000.0  # relative attenuation
    proj = mu.sum(axis=1)[::-1]  # [D, W], flipped so that row 0 is the top slice
    return np.rint(4095 * proj / max(float(proj.max()), 1e-6))


def _make_ct(
    out: Path,
    cfg: SynthConfig,
    seed: int,
    plan: StudyPlan,
    info: StudyInfo,
    truth: StudyTruth,
    rngs: dict[str, np.random.Generator],
    rec: StudyRecord,
) -> None:
    namer = _Namer(rngs["files"], plan.n_folders)
    rng = rngs["render"]
    geom = sample_ct_geometry(rng, tuple(cfg.ct_matrix), tuple(cfg.ct_slice_spacing), tuple(cfg.ct_coverage_mm))
    render = render_ct(rng, truth, geom)
    enc = sample_ct_encoding(rngs["encoding"])
    frame_uid = make_uid(seed, "frame", plan.index)
    if rngs["encoding"].random() < cfg.ct_localizer_fraction:
        series_uid, sop_uid = make_uid(seed, "series", plan.index, 1), make_uid(seed, "sop", plan.index, 1, 1)
        dz, _, dx = geom.spacing
        top = (
            geom.origin[0],
            geom.origin[1] + geom.shape[1] * geom.spacing[1] / 2,
            geom.origin[2] + (geom.shape[0] - 1) * dz,
        )
        ds = ct_localizer_dataset(info, _topogram(render.hu), (dz, dx), series_uid, sop_uid, frame_uid, top)
        rel = namer()
        _write(out, rel, ds)
        rec.files.append(rel)
        rec.series.append({"series_uid": series_uid, "kind": "localizer", "files": [rel], "sop_uids": [sop_uid]})
    series_uid = make_uid(seed, "series", plan.index, 2)
    n = geom.shape[0]
    files, sops = [], []
    for d in range(n):
        pos = (geom.origin[0], geom.origin[1], geom.origin[2] + d * geom.spacing[0])
        number = n - d if enc.reverse_instance_numbers else d + 1
        sop_uid = make_uid(seed, "sop", plan.index, 2, d)
        ds = ct_slice_dataset(
            info,
            render.hu[d],
            pos,
            (geom.spacing[1], geom.spacing[2]),
            geom.slice_thickness,
            enc,
            series_uid,
            sop_uid,
            number,
            frame_uid,
        )
        rel = namer()
        _write(out, rel, ds)
        files.append(rel)
        sops.append(sop_uid)
    mask_rel = f"{MASK_DIR}/{info.accession}.nii.gz"
    # labels [D, H, W] -> NIfTI [W, H, D] = (x, y, z) in LPS index order; ct_affine maps it to RAS
    _save_nifti(out / mask_rel, np.ascontiguousarray(render.labels.transpose(2, 1, 0)), ct_affine(geom))
    rec.views.append("AXIAL")
    rec.files.extend(files)
    rec.masks.append(mask_rel)
    rec.series.append(
        {
            "series_uid": series_uid,
            "kind": "axial",
            "files": files,
            "sop_uids": sops,
            "shape": list(geom.shape),
            "spacing": list(geom.spacing),
            "origin": list(geom.origin),
            "slice_thickness": geom.slice_thickness,
            "signed": enc.signed,
            "mask": mask_rel,
        }
    )


def make_study(out: Path, cfg: SynthConfig, seed: int, plan: StudyPlan) -> StudyRecord:
    """Draw, render and write one study under `out`; return its record for the tables."""
    streams = np.random.SeedSequence([seed, 3, plan.index]).spawn(len(STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(STREAMS, streams, strict=True)}
    patient = patient_for(seed, plan.patient_index)
    info = _study_info(rngs, seed, plan, patient)
    sampler = sample_cxr_findings if plan.modality == "cxr" else sample_ct_findings
    truth = sampler(rngs["truth"], cfg.normal_fraction)
    rec = StudyRecord(
        plan.index,
        plan.modality,
        info.accession,
        info.study_uid,
        patient.mrn,
        info.date.isoformat(),
        [],
        [],
        [],
        truth.labels(),
        [f.to_dict() for f in truth.findings],
        "",
        {},
        [],
    )
    (_make_cxr if plan.modality == "cxr" else _make_ct)(out, cfg, seed, plan, info, truth, rngs, rec)
    report = write_report(
        rngs["report"], truth, patient, info.date, tuple(rec.views), cfg.omit_rate, cfg.hedge_rate, cfg.phi_rate
    )
    rec.report_text, rec.report_mentions = report.text, dict(report.mentions)
    rec.phi = {
        "patient": patient.phi_strings(),
        "report": list(report.phi),
        "ids": [info.accession, info.study_uid],
        "dates": [info.date.strftime("%Y%m%d")],
        "institution": [patient.institution],
    }
    return rec
