"""Benchmark SPECT loading: one NM multi-frame file to a volume in SUV or counts.

Times ``load_emission_series`` (header walk, frame placement, pixel read, SUV factor for
quantitative SPECT) on every HYNIC-TOC SPECT of a demo study, against two anchors in the same
run on the same files: SimpleITK's ``ReadImage`` (GDCM: one NM file to an image, no SUV) and
plain ``pydicom.dcmread`` + ``pixel_array`` (the frames as numpy, no geometry). The page
cache is warmed first; each figure is the median of ``--repeat`` runs.

Usage: python benchmarks/bench_spect.py [--demo DEMO_FOLDER] [--repeat 5]
(default: a 6-patient demo written to a temporary folder; its P005 and P006 have SPECT).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _median_seconds(job, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        job()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import pandas as pd
    import pydicom
    import SimpleITK as sitk

    from nethelpers.demo.generate import generate_demo
    from nethelpers.dicom.volume import load_emission_series

    demo = args.demo
    if demo is None:
        demo = generate_demo(Path(tempfile.mkdtemp(prefix="bench_spect_")) / "demo", 6,
                             progress=False)
    scans = pd.read_csv(demo / "clinical" / "scans.csv")
    truth = pd.read_csv(demo / "truth" / "scans.csv").set_index("scan_id")
    print("| scan | kind | frames | ours | SimpleITK ReadImage | pydicom pixel_array | "
          "ours / SimpleITK |")
    print("|---|---|---|---|---|---|---|")
    for row in scans[scans["modality"] == "SPECT/CT"].itertuples():
        folder = demo / row.pet_dir
        (path,) = sorted(folder.iterdir())
        path.read_bytes()                                       # warm the page cache
        loaded = load_emission_series(folder)
        kind = loaded.provenance["quantity"]
        ours = _median_seconds(lambda f=folder: load_emission_series(f), args.repeat)
        gdcm = _median_seconds(lambda p=path: sitk.ReadImage(str(p), sitk.sitkFloat32),
                               args.repeat)
        plain = _median_seconds(lambda p=path: pydicom.dcmread(p).pixel_array, args.repeat)
        frames = loaded.image.GetSize()[2]
        quantitative = bool(truth.at[row.scan_id, "quantitative"])
        print(f"| {row.scan_id} | {kind}{' (Bq/ml)' if quantitative else ''} | {frames} | "
              f"{ours * 1000:.0f} ms | {gdcm * 1000:.0f} ms | {plain * 1000:.0f} ms | "
              f"{ours / gdcm:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
