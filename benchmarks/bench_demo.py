"""Benchmark the demo generator: wall time, files/s, size on disk, peak memory.

Anchor, in the same run: writing the same number of files of the same total size with plain
``open().write()`` (the I/O floor of this disk), so the ratio shows what the simulation and
the DICOM encoding add on top of the unavoidable writes.

Usage: python benchmarks/bench_demo.py [--patients 6 60] [--out benchmarks/out]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import time
from pathlib import Path

from nethelpers.demo.generate import generate_demo


def _du(root: Path) -> tuple[int, int]:
    files = [f for f in root.rglob("*") if f.is_file()]
    return len(files), sum(f.stat().st_size for f in files)


def _raw_io_floor(out: Path, n_files: int, n_bytes: int) -> float:
    """Seconds to write n_files files of the same mean size with plain writes."""
    out.mkdir(parents=True, exist_ok=True)
    size = n_bytes // n_files
    payload = os.urandom(size)
    t0 = time.perf_counter()
    for i in range(n_files):
        sub = out / f"{i // 500:04d}"
        if i % 500 == 0:
            sub.mkdir(exist_ok=True)
        with open(sub / f"{i:06d}.bin", "wb") as fh:
            fh.write(payload)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(out)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, nargs="+", default=[6, 60])
    parser.add_argument("--out", default="benchmarks/out")
    args = parser.parse_args()
    out = Path(args.out)
    print(f"machine: {platform.node()} {os.cpu_count()} cores, {platform.processor() or ''}"
          f" python {platform.python_version()}")
    for n in args.patients:
        target = out / f"demo{n}"
        shutil.rmtree(target, ignore_errors=True)
        t0 = time.perf_counter()
        generate_demo(target, n, seed=0, progress=False)
        elapsed = time.perf_counter() - t0
        n_files, n_bytes = _du(target)
        floor = _raw_io_floor(out / "raw", n_files, n_bytes)
        peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:3d} patients: {elapsed:6.1f} s, {n_files} files ({n_files / elapsed:.0f}/s), "
              f"{n_bytes / 1e9:.2f} GB; raw-write floor {floor:.1f} s -> ratio "
              f"{elapsed / floor:.1f}x; peak RSS worker {peak_child:.0f} MB, "
              f"main {peak_self:.0f} MB")
        shutil.rmtree(target)


if __name__ == "__main__":
    main()
