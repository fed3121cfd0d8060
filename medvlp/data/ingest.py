"""`medvlp ingest`: archive -> index -> selection -> conversion -> manifest.parquet + quarantine.jsonl.

Every file found ends in exactly one of three places: a manifest row's sources (used), quarantine.jsonl
(with a reason code) or skipped.jsonl (with a reason). State lives in OUT/.state/ingest.sqlite, so a run
killed part-way and restarted with resume=True redoes only series without an outcome.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tqdm import tqdm

from medvlp.config import Config, save_config
from medvlp.data.ingest_series import SeriesTask, convert_series, die_with_parent, init_worker
from medvlp.data.manifest import write_manifest
from medvlp.dicom.deid import Deidentifier, DeidPolicy
from medvlp.dicom.index import QUARANTINED, SKIPPED, FileEntry, dicomdir_references, scan_file, walk_archive
from medvlp.dicom.secret import resolve_secret
from medvlp.dicom.select import kind_of, select
from medvlp.dicom.store import USED, IngestStore
from medvlp.text.sources import load_reports

STATE = ".state/ingest.sqlite"


class IngestError(RuntimeError):
    """An ingest that cannot start; the message says what to change."""


@dataclass
class IngestSummary:
    """The three fates of the files found, with reasons, and what was written."""

    found: int
    used: int
    quarantined: int
    skipped: int
    samples: dict[str, int]
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self) -> str:
        rows = [
            ("files found", self.found),
            ("  used (in manifest rows)", self.used),
            ("  quarantined", self.quarantined),
            ("  skipped", self.skipped),
        ]
        rows += [(f"    {k}", v) for k, v in sorted(self.reasons.items())]
        rows += [(f"samples {k}", v) for k, v in sorted(self.samples.items())]
        width = max(len(k) for k, _ in rows) + 2
        return "\n".join([f"{k:<{width}}{v:>8}" for k, v in rows] + [f"{'seconds':<{width}}{self.seconds:>8.1f}"])


def _pseudonymize(entry: FileEntry, deid: Deidentifier) -> FileEntry:
    """Replace identifiers by their pseudonyms before anything is stored."""
    if entry.sop_uid:
        entry.sop_uid = deid.uid(entry.sop_uid)
    if entry.series_uid:
        entry.series_uid = deid.uid(entry.series_uid)
    if entry.study_uid:
        entry.study_uid = deid.uid(entry.study_uid)
    entry.patient_id = deid.patient_pseudonym(entry.patient_id) if entry.patient_id else ""
    entry.accession = deid.accession_pseudonym(entry.accession) if entry.accession else ""
    entry.series_description = ""  # free text: may hold names
    return entry


def _scan(args: tuple[Path, str]) -> FileEntry:
    return scan_file(*args)


def _index(archive: Path, store: IngestStore, deid: Deidentifier, workers: int, progress: bool) -> list[dict]:
    """Index every file not indexed yet; returns DICOMDIR reference problems (not files, reported apart)."""
    done = store.indexed_paths()
    todo: list[str] = []
    pending: list[FileEntry] = []
    for rel, problem in walk_archive(archive):
        if rel in done:
            continue
        if problem:
            pending.append(
                FileEntry(
                    path=rel,
                    size=0,
                    status=SKIPPED,
                    reason=problem,
                    message="link leaving the archive root" if problem == "outside_root" else "not a regular file",
                )
            )
        else:
            todo.append(rel)
    store.add_files(pending)
    bar = tqdm(total=len(todo), desc="index", unit="file", disable=not progress, dynamic_ncols=True)
    batch: list[FileEntry] = []
    with ProcessPoolExecutor(max_workers=workers, initializer=die_with_parent) as pool:
        for entry in pool.map(_scan, ((archive, rel) for rel in todo), chunksize=64):
            batch.append(_pseudonymize(entry, deid))
            bar.update()
            if len(batch) >= 500:
                store.add_files(batch)
                batch = []
    store.add_files(batch)
    bar.close()
    problems = []
    for path, _, _ in store.outcomes(SKIPPED):
        if Path(path).name.upper() == "DICOMDIR":
            _, bad = dicomdir_references(archive, path)
            problems += [
                {"kind": "reference", "path": ref, "reason": reason, "message": f"referenced by {path}"}
                for ref, reason in bad
            ]
    return problems


def _fingerprint(secret: bytes) -> str:
    return hashlib.sha256(b"medvlp-deid-check" + secret).hexdigest()[:16]


def run_ingest(
    archive: Path, reports: list[Path], out: Path, cfg: Config, resume: bool = False, progress: bool = True
) -> IngestSummary:
    """Ingest `archive` with `reports` into the dataset folder `out`."""
    start = time.perf_counter()
    archive, out = Path(archive).resolve(), Path(out)
    if not archive.is_dir():
        raise IngestError(f"{archive}: not a folder; point ingest at the root of the DICOM export")
    if (out / STATE).exists() and not resume:
        raise IngestError(f"{out} holds an earlier ingest; add --resume to continue it, or choose an empty --out")
    secret = resolve_secret(cfg.ingest.secret_env, cfg.ingest.secret_file)
    store = IngestStore(out / STATE)
    known = store.get_meta("secret")
    if known is not None and known != _fingerprint(secret):
        raise IngestError(f"{out}: the de-identification secret differs from the one this ingest started with")
    store.set_meta("secret", _fingerprint(secret))
    store.set_meta("archive", hashlib.sha256(str(archive).encode()).hexdigest()[:16])
    deid = Deidentifier(DeidPolicy(secret=secret))
    table = load_reports(reports)
    problems = _index(archive, store, deid, cfg.run.workers, progress)
    store.mark_duplicates()
    series = list(store.series())
    decisions = select(series, cfg.ingest)
    tasks = []
    for s in series:
        d = decisions[s.series_uid]
        if not d.keep:
            store.set_series(s.series_uid, d.status, d.reason, d.message)
        elif store.series_outcome(s.series_uid) is None:
            tasks.append(SeriesTask(s.series_uid, kind_of(s), store.files_of(s.series_uid)))
    bar = tqdm(
        total=sum(len(t.paths) for t in tasks), desc="convert", unit="file", disable=not progress, dynamic_ncols=True
    )
    with ProcessPoolExecutor(
        max_workers=cfg.run.workers, initializer=init_worker, initargs=(archive, out, cfg.ingest, deid, table)
    ) as pool:
        for task, result in zip(tasks, pool.map(convert_series, tasks), strict=True):
            store.set_series(result.series_uid, result.status, result.reason, result.message, result.rows)
            bar.update(len(task.paths))
    bar.close()
    summary = _finish(store, out, cfg, problems)
    summary.seconds = round(time.perf_counter() - start, 1)
    store.close()
    return summary


def _finish(store: IngestStore, out: Path, cfg: Config, problems: list[dict]) -> IngestSummary:
    """Write manifest, quarantine and skipped lists, config and summary; check the three counts add up."""
    rows = store.manifest_rows()
    write_manifest(rows, out / "manifest.parquet")
    reasons: Counter[str] = Counter()
    for status, name in ((QUARANTINED, "quarantine.jsonl"), (SKIPPED, "skipped.jsonl")):
        with open(out / name, "w") as fh:
            for path, reason, message in store.outcomes(status):
                fh.write(json.dumps({"kind": "file", "path": path, "reason": reason, "message": message}) + "\n")
                reasons[f"{status}: {reason}"] += 1
            if status == QUARANTINED:
                for p in problems:
                    fh.write(json.dumps(p) + "\n")
    counts = store.counts()
    if counts["ok"]:
        raise IngestError(f"{counts['ok']} files have no outcome; re-run with --resume")
    summary = IngestSummary(
        found=sum(counts.values()),
        used=counts[USED],
        quarantined=counts[QUARANTINED],
        skipped=counts[SKIPPED],
        samples=dict(Counter(str(r["modality"]) for r in rows)),
        reasons=dict(reasons),
    )
    save_config(cfg, out / "config.yaml")
    (out / "summary.json").write_text(json.dumps(asdict(summary), indent=1, sort_keys=True) + "\n")
    return summary
