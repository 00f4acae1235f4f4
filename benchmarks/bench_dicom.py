"""Benchmark the DICOM index and the PET loader against anchors run in the same session.

1. Index of a DICOM tree (default: the 60-patient demo, data/demo/dicom):
   - anchor: a single-process ``pydicom.dcmread(stop_before_pixels=True)`` loop over the
     same files;
   - ours cold (no cache, all cores) and warm (unchanged tree, cache present).
   The page cache is warmed first by reading every file once, so neither side pays the disk.
2. Load one PET series (written here: 300 slices of 200 × 200, five beds) to SUV:
   - anchors: SimpleITK ImageSeriesReader alone (float32, no SUV), and dcm2niix (Debian's
     and the PyPI build) converting the same series to uncompressed NIfTI;
   - ours: ``nethelpers.dicom.load_pet``; peak memory measured in a fresh process (after a warm-up
     load of 20 slices, peak reset through /proc/self/clear_refs) as the growth of the
     resident set's high-water mark, over the float32 volume.

Usage: python benchmarks/bench_dicom.py [--root data/demo/dicom] [--skip-index]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.dicom import index_tree, load_pet


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.dcm") if p.is_file())


def _warm_page_cache(files: list[Path]) -> None:
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 20):
                pass


def bench_index(root: Path, workers: int) -> None:
    files = _files(root)
    print(f"\n## Index: {root} ({len(files)} files)")
    _warm_page_cache(files)
    t0 = time.perf_counter()
    for f in files:
        pydicom.dcmread(f, stop_before_pixels=True)
    anchor = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "index.cache"
        t0 = time.perf_counter()
        series = index_tree(root, cache=cache, workers=workers)
        cold = time.perf_counter() - t0
        warm_runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            again = index_tree(root, cache=cache, workers=workers)
            warm_runs.append(time.perf_counter() - t0)
        assert again.attrs["stats"]["read"] == 0
    warm = statistics.median(warm_runs)
    n = len(files)
    print(f"pydicom loop (1 process)   {anchor:7.2f} s  {n / anchor:8.0f} files/s")
    print(f"index cold ({workers} workers)     {cold:7.2f} s  {n / cold:8.0f} files/s  "
          f"ratio {anchor / cold:.2f}x (goal >= 1.8x)")
    print(f"index warm (median of 5)   {warm:7.2f} s  = {100 * warm / cold:.1f} % of cold "
          f"(goal < 5 %)")
    print(f"series: {len(series)}; QC: {series['qc'].value_counts().to_dict()}")


def write_pet(out: Path, nz: int = 300, nxy: int = 200, n_beds: int = 5) -> Path:
    """A 300-slice 68Ga PET series (five beds by default) with per-slice slopes."""
    grid = Grid(size=(nxy, nxy, nz), spacing=(4.0, 4.0, 3.0), origin=(-400.0, -400.0, -900.0))
    rng = np.random.default_rng(0)
    values = rng.gamma(2.0, 2500.0, size=grid.shape).astype(np.float32)
    t0 = datetime(2025, 1, 9, 10, 30)
    start = t0 + timedelta(minutes=60)
    edges = np.linspace(0, nz, n_beds + 1).astype(int)
    beds = [(int(edges[n_beds - b - 1]), int(edges[n_beds - b])) for b in range(n_beds)]
    pet = dw.PetSeries(
        series_uid_seed="bench-pet", series_number=3, description="PET WB DOTATATE AC",
        series_datetime=start, tracer="DOTATATE", radionuclide="68Ga", half_life_s=4062.6,
        positron_fraction=0.889, injected_dose_bq=160e6, injection=t0,
        bed_starts=[start + timedelta(seconds=185 * b) for b in range(n_beds)], bed_slices=beds,
        frame_duration_s=180.0,
    )
    patient = dw.Patient("Bench^Mark", "BENCH001", datetime(1960, 1, 1).date(), "F", 70.0, 1.7)
    study = dw.Study(dw.make_uid("bench-study"), t0, "ACC1", "PET/CT DOTATATE",
                     dw.make_uid("bench-for"), "Bench Hospital", "Ref^Doc")
    dw.write_pet_series(values, grid, patient, study, dw.SCANNERS["siemens_vision"], pet, out)
    return out


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _sitk(series: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(series)))
    reader.SetOutputPixelType(sitk.sitkFloat32)
    return reader.Execute()


def _dcm2niix(binary: str, series: Path, out: Path) -> bool:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run([binary, "-z", "n", "-b", "n", "-o", str(out), "-f", "pet",
                           str(series)], capture_output=True, text=True)
    return done.returncode == 0 and any(out.glob("*.nii"))


_PEAK_SCRIPT = """
import sys
from pathlib import Path
from nethelpers.dicom import load_pet
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
warm_up = sorted(Path(sys.argv[1]).glob("*.dcm"))[:20]
load_pet(warm_up)  # imports and first-call allocations happen here, not in the figure
with open('/proc/self/clear_refs', 'w') as fh:
    fh.write('5')  # reset the peak resident set (VmHWM) to the current one
base = status('VmRSS:')
image, _ = load_pet(sys.argv[1])
print(status('VmHWM:') - base, image.GetNumberOfPixels() * 4)
"""


def bench_load(tmp: Path) -> None:
    series = write_pet(tmp / "pet")
    files = sorted(series.glob("*.dcm"))
    print(f"\n## Load one PET series to SUV: {len(files)} slices of 200x200 (5 beds)")
    _warm_page_cache(files)
    ours = _median_time(lambda: load_pet(series), 7)
    anchor = _median_time(lambda: _sitk(series), 7)
    print(f"SimpleITK ImageSeriesReader {anchor:6.3f} s  (float32, no SUV)")
    print(f"nethelpers load_pet         {ours:6.3f} s  ratio {ours / anchor:.2f}x of SimpleITK "
          "(goal <= 1.2x)")
    binaries = [("dcm2niix (Debian)", shutil.which("dcm2niix", path="/usr/bin")),
                ("dcm2niix (PyPI)", str(Path(sys.executable).with_name("dcm2niix")))]
    for label, binary in binaries:
        if not binary or not Path(binary).exists():
            print(f"{label:27s} not installed")
            continue
        version = subprocess.run([binary, "-v"], capture_output=True, text=True).stdout
        version = next((w for w in version.split() if w.startswith("v1.")), "?")
        if not _dcm2niix(binary, series, tmp / "nii"):
            print(f"{label:27s} {version}: failed to convert this multi-bed series")
            single = write_pet(tmp / "pet1", n_beds=1)
            _warm_page_cache(sorted(single.glob("*.dcm")))
            if not _dcm2niix(binary, single, tmp / "nii"):
                continue
            t = _median_time(lambda b=binary, s=single: _dcm2niix(b, s, tmp / "nii"), 5)
            ours1 = _median_time(lambda s=single: load_pet(s), 7)
            print(f"{'  same pixels, one bed':27s} {t:6.3f} s  (ours {ours1:.3f} s); "
                  f"ours / dcm2niix = {ours1 / t:.2f}x")
            continue
        t = _median_time(lambda b=binary: _dcm2niix(b, series, tmp / "nii"), 5)
        print(f"{label:27s} {t:6.3f} s  {version}; ours / dcm2niix = {ours / t:.2f}x")
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(series)],
                          capture_output=True, text=True, check=True)
    grew, volume = (int(v) for v in done.stdout.split())
    print(f"peak memory growth {grew / 1e6:.0f} MB = {grew / volume:.2f}x the float32 volume "
          f"({volume / 1e6:.0f} MB; goal <= 2.5x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="data/demo/dicom")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-index", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, pydicom {pydicom.__version__}, SimpleITK "
          f"{sitk.Version_VersionString()}")
    if not args.skip_index:
        root = Path(args.root)
        if not root.is_dir():
            sys.exit(f"{root}: no DICOM tree; run `make demo` or pass --root")
        bench_index(root, args.workers)
    with tempfile.TemporaryDirectory() as tmp:
        bench_load(Path(tmp))


if __name__ == "__main__":
    main()
