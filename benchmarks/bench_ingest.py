"""Ingest speed on an uncompressed CT archive: medvlp (1 and 2 workers) vs a naive pydicom loop vs dcm2niix.

    python benchmarks/bench_ingest.py [--n-ct 42] [--matrix 512] [--out runs/bench/ingest]

Generates a phantom CT archive (512x512 slices as scanners write them, >= 5,000 files), then runs each contender
in its own process on the same files and prints slices/s, MB/s and the peak RSS of its process tree, side by
side. Every run starts with the archive evicted from the page cache (posix_fadvise DONTNEED), as an archive
larger than memory reads. Also times the header-only index against full reads, cold and warm, on one core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pydicom

from medvlp.config import load_config
from medvlp.data.synthetic.archive import generate_archive
from medvlp.dicom.index import scan_file

sys.path.insert(0, str(Path(__file__).parent))
from measure import run_measured

NAIVE = """
import sys, pathlib, pydicom
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*")):
    if p.is_file():
        ds = pydicom.dcmread(p)
        ds.pixel_array
"""


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def evict(files: list[Path]) -> None:
    """Drop the files from the page cache, so the next read comes from the disk."""
    for p in files:
        fd = os.open(p, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)


def _rate(files: list[Path], read: object, cold: bool) -> float:
    if cold:
        evict(files)
    start = time.perf_counter()
    for p in files:
        read(p)  # type: ignore[operator]
    return len(files) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-ct", type=int, default=42)
    ap.add_argument("--matrix", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/ingest"))
    args = ap.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    phantom = args.out / "phantom"
    cfg = load_config([], [f"synth.n_ct={args.n_ct}", "synth.n_cxr=0", f"synth.ct_matrix=[{args.matrix}]",
                           "synth.ct_slice_spacing=[2.5, 3.0]", "synth.ct_localizer_fraction=0", "run.seed=21"])
    t0 = time.perf_counter()
    generate_archive(cfg, phantom)
    archive = phantom / "archive"
    files = _files(archive)
    n, mb = len(files), sum(p.stat().st_size for p in files) / 2**20
    took = time.perf_counter() - t0
    print(f"\narchive: {n} CT slices ({args.matrix}x{args.matrix}) in {args.n_ct} series, {mb:.0f} MB "
          f"(generated in {took:.0f} s)")

    header = lambda p: scan_file(archive, str(p.relative_to(archive)))  # noqa: E731
    full = lambda p: pydicom.dcmread(p).pixel_array  # noqa: E731
    for cold in (True, False):
        h, f = _rate(files, header, cold), _rate(files, full, cold)
        print(f"{'cold' if cold else 'warm'} cache: header-only index {h:.0f} files/s, full read with pixels "
              f"{f:.0f} files/s -> {h / f:.1f}x (target >= 5x)")
    print()

    env = {**os.environ, "MEDVLP_DEID_SECRET": "benchmark-secret-0123456789"}
    reports = str(phantom / "reports/reports.csv")
    contenders = {
        "medvlp ingest, 1 worker": [sys.executable, "-m", "medvlp", "ingest", str(archive), "--reports", reports,
                                    "--out", str(args.out / "w1"), "--workers", "1"],
        "medvlp ingest, 2 workers": [sys.executable, "-m", "medvlp", "ingest", str(archive), "--reports", reports,
                                     "--out", str(args.out / "w2"), "--workers", "2"],
        "naive loop: dcmread + pixel_array": [sys.executable, "-c", NAIVE, str(archive)],
        "dcm2niix (uncompressed NIfTI out)": ["dcm2niix", "-z", "n", "-f", "%j", "-o", str(args.out / "dcm2niix"),
                                             str(archive)],
    }
    (args.out / "dcm2niix").mkdir(parents=True)
    print("| contender | seconds | slices/s | MB/s | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for name, cmd in contenders.items():
        if cmd[0] == "dcm2niix" and shutil.which("dcm2niix") is None:
            print(f"| {name} | (not installed: apt-get install dcm2niix) | | | |")
            continue
        evict(files)
        seconds, rss, _ = run_measured(cmd, env=env)
        print(f"| {name} | {seconds:.1f} | {n / seconds:.0f} | {mb / seconds:.1f} | {rss:.0f} |")
    print("\nmedvlp ingest also indexes, selects, de-identifies, resamples to 1.5x1.5x3 mm RAS and writes the "
          "manifest; dcm2niix converts at native resolution. Both write uncompressed NIfTI.")
    subprocess.run(["du", "-sh", str(args.out / "w2" / "cache"), str(args.out / "dcm2niix")], check=False)


if __name__ == "__main__":
    main()
