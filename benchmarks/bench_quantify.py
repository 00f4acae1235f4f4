"""Benchmark the quantification: SUVpeak, a whole-cohort run, worker scaling and memory.

1. SUVpeak of 100 lesion VOIs of the demo study (reader R1's VOIs):
   - anchor A, the naive sliding sphere: for every VOI voxel, the mean of the image voxels
     of a ball mask laid over its (2r+1)^3 window (a Python loop over voxels);
   - anchor B, whole-volume filtering: ``scipy.ndimage.convolve`` of the volume with the
     normalised ball, then the maximum over the VOI (what many scripts do);
   - ours: ``nethelpers.measures.suv_peak`` (gather over the VOI's box only).
   The SUV volumes are loaded first and not timed; all three must agree to 1e-9.
2. The whole demo cohort (``quantify_cohort``, 130 scans): in-process (``sync``), then a local
   dask cluster with 1 and with 2 worker processes (wall time including the cluster's start).
3. Peak memory of a cohort run in one process (``sync``), in a fresh interpreter: growth of
   the resident set's high-water mark after a warm-up scan, over one SUV volume's size.

Usage: python benchmarks/bench_quantify.py [--params parameters/demo.yaml] [--lesions 100]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from nethelpers.config import load_params
from nethelpers.dicom import load_pet
from nethelpers.measures import PEAK_RADIUS_MM, suv_peak
from nethelpers.quantify import quantify_cohort, scan_jobs
from nethelpers.rois import RoiStore
from nethelpers.voi import ball_offsets


def naive_peak(suv: np.ndarray, mask: np.ndarray, spacing, radius=PEAK_RADIUS_MM) -> float:
    sp = np.asarray(spacing, dtype=float)[::-1]
    half = np.floor(radius / sp).astype(int)
    zz, yy, xx = np.mgrid[-half[0]:half[0] + 1, -half[1]:half[1] + 1, -half[2]:half[2] + 1]
    ball = (zz * sp[0]) ** 2 + (yy * sp[1]) ** 2 + (xx * sp[2]) ** 2 <= radius**2
    best = -np.inf
    shape = np.asarray(suv.shape)
    for c in np.argwhere(mask):
        lo, hi = c - half, c + half + 1
        clo, chi = np.maximum(lo, 0), np.minimum(hi, shape)
        window = suv[clo[0]:chi[0], clo[1]:chi[1], clo[2]:chi[2]]
        b = ball[clo[0] - lo[0]:ball.shape[0] - (hi[0] - chi[0]),
                 clo[1] - lo[1]:ball.shape[1] - (hi[1] - chi[1]),
                 clo[2] - lo[2]:ball.shape[2] - (hi[2] - chi[2])]
        best = max(best, float(window[b].astype(np.float64).mean()))
    return best


def convolve_peak(suv: np.ndarray, mask: np.ndarray, spacing, radius=PEAK_RADIUS_MM) -> float:
    off = ball_offsets(spacing, radius)
    half = np.abs(off).max(axis=0)
    kernel = np.zeros(tuple(2 * half + 1))
    kernel[tuple((off + half).T)] = 1.0
    total = ndimage.convolve(suv.astype(np.float64), kernel, mode="constant")
    count = ndimage.convolve(np.ones(suv.shape), kernel, mode="constant")
    return float((total / count)[mask].max())


def bench_peak(params, n_lesions: int) -> None:
    store = RoiStore(params.study.rois)
    cases = []
    for job in scan_jobs(params):
        if len(cases) >= n_lesions:
            break
        image, _ = load_pet(job.pet, series_uid=job.series_uid)
        suv = np.asarray(__import__("SimpleITK").GetArrayFromImage(image))
        rois = store.load(job.scan_id)
        labels = rois.array
        for label in rois.table.loc[rois.table["roi"] == "lesion", "label"]:
            mask = labels == label
            if mask.any() and len(cases) < n_lesions:
                cases.append((suv, mask, image.GetSpacing()))
    voxels = sum(int(m.sum()) for _, m, _ in cases)
    print(f"\n## SUVpeak: {len(cases)} lesion VOIs ({voxels} voxels) of the demo study")
    timings = {}
    values = {}
    for name, fn in (("ours (suv_peak)", lambda s, m, sp: suv_peak(s, m, sp)[0]),
                     ("anchor A: naive sliding sphere", naive_peak),
                     ("anchor B: whole-volume convolve", convolve_peak)):
        t0 = time.perf_counter()
        values[name] = [fn(s, m, sp) for s, m, sp in cases]
        timings[name] = time.perf_counter() - t0
    ours = timings["ours (suv_peak)"]
    for name, t in timings.items():
        diff = np.max(np.abs(np.subtract(values[name], values["ours (suv_peak)"])))
        print(f"  {name:34s} {t:8.3f} s   ours/this = {ours / t:.4f}   max |diff| {diff:.1e}")


def bench_cohort(params) -> None:
    n = len(scan_jobs(params))
    print(f"\n## Whole cohort: {n} scans")
    results = {}
    for label, kw in (("in-process (sync)", {"scheduler": "sync"}),
                      ("dask, 1 worker", {"workers": 1}),
                      ("dask, 2 workers", {"workers": 2})):
        t0 = time.perf_counter()
        result = quantify_cohort(params, progress=False, **kw)
        wall = time.perf_counter() - t0
        results[label] = wall
        ok = int((result.qc["status"] == "ok").sum())
        print(f"  {label:20s} {wall:7.2f} s  ({wall / n * 1000:.0f} ms/scan, {ok}/{n} ok)")
    speedup = results["dask, 1 worker"] / results["dask, 2 workers"]
    print(f"  speed-up 1 -> 2 workers: {speedup:.2f}x")


_MEMORY = """
import resource, sys, time
import numpy as np
from nethelpers.config import load_params
from nethelpers.quantify import quantify_cohort, scan_jobs, quantify_scan
params = load_params(sys.argv[1])
jobs = scan_jobs(params)
quantify_scan(jobs[0])                                  # warm-up: imports, caches
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")                                       # reset the high-water mark
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) * 1024
before = hwm()
quantify_cohort(params, scheduler="sync", progress=False)
print(before, hwm())
"""


def bench_memory(params_path: Path, params) -> None:
    out = subprocess.run([sys.executable, "-c", _MEMORY, str(params_path)], capture_output=True,
                         text=True, check=True)
    before, after = (int(v) for v in out.stdout.split()[-2:])
    job = scan_jobs(params)[0]
    image, _ = load_pet(job.pet, series_uid=job.series_uid)
    volume = image.GetNumberOfPixels() * 4
    n = len(scan_jobs(params))
    print(f"\n## Peak memory of a {n}-scan run in one process")
    print(f"  high-water mark growth {(after - before) / 2**20:.1f} MiB = "
          f"{(after - before) / volume:.2f}x one SUV volume ({volume / 2**20:.1f} MiB); "
          f"the cohort's volumes together: {n * volume / 2**20:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--params", default="parameters/demo.yaml")
    ap.add_argument("--lesions", type=int, default=100)
    args = ap.parse_args()
    params = load_params(args.params)
    print(f"# bench_quantify  {platform.node()}  {platform.processor() or platform.machine()}  "
          f"{os.cpu_count()} cores  Python {platform.python_version()}")
    bench_peak(params, args.lesions)
    bench_cohort(params)
    bench_memory(Path(args.params), params)


if __name__ == "__main__":
    main()
