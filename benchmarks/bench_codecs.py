"""Benchmark loading compressed PET series: ``load_pet`` against SimpleITK on the same files.

The PET of ``bench_dicom.py`` (300 slices of 200 × 200, five beds, gamma-distributed values)
is written uncompressed, then copied by the demo variant into each lossless transfer syntax
(JPEG Lossless SV1 and JPEG 2000 lossless first: the common PACS exports). For each copy,
in the same run, with the page cache warm: ``nethelpers.dicom.load_pet`` (pydicom +
pylibjpeg decoders, SUV) against SimpleITK's ImageSeriesReader (GDCM's decoders, float32,
no SUV); median of ``--repeats``; and a check that the SUVs equal the uncompressed ones.

Usage: python benchmarks/bench_codecs.py [--slices 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from bench_dicom import _median_time, _sitk, _warm_page_cache, write_pet

from nethelpers.demo.variants.compressed import write_compressed
from nethelpers.dicom import load_pet
from nethelpers.dicom.codecs import CODECS

SYNTAXES = {
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 lossless",
    "1.2.840.10008.1.2.4.80": "JPEG-LS lossless",
    "1.2.840.10008.1.2.5": "RLE lossless",
    "1.2.840.10008.1.2.1.99": "deflated",
}


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.glob("*.dcm"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import libjpeg
    import openjpeg

    print(f"machine: {platform.node()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, pydicom {pydicom.__version__}, pylibjpeg-libjpeg "
          f"{libjpeg.__version__}, pylibjpeg-openjpeg {openjpeg.__version__}, SimpleITK "
          f"{sitk.Version_VersionString()}")
    with tempfile.TemporaryDirectory() as tmp:
        plain = write_pet(Path(tmp) / "plain", nz=args.slices)
        _warm_page_cache(sorted(plain.glob("*.dcm")))
        want = sitk.GetArrayFromImage(load_pet(plain)[0])
        ours = _median_time(lambda: load_pet(plain), args.repeats)
        theirs = _median_time(lambda: _sitk(plain), args.repeats)
        print(f"\n{args.slices} slices of 200x200; median of {args.repeats}")
        print(f"{'syntax':43s} {'MB':>6s} {'load_pet':>9s} {'SimpleITK':>10s} {'ratio':>6s}"
              "  SUV identical")
        print(f"{'uncompressed 1.2.840.10008.1.2.1':43s} {_size(plain) / 1e6:6.1f} "
              f"{ours:8.3f}s {theirs:9.3f}s {ours / theirs:5.2f}x")
        for syntax, label in SYNTAXES.items():
            folder = Path(tmp) / syntax
            write_compressed(plain, folder, syntax)
            _warm_page_cache(sorted(folder.glob("*.dcm")))
            got = sitk.GetArrayFromImage(load_pet(folder)[0])
            ours = _median_time(lambda f=folder: load_pet(f), args.repeats)
            theirs = _median_time(lambda f=folder: _sitk(f), args.repeats)
            assert not CODECS[syntax].lossy
            print(f"{label:18s} {syntax:24s} {_size(folder) / 1e6:6.1f} {ours:8.3f}s "
                  f"{theirs:9.3f}s {ours / theirs:5.2f}x  {np.array_equal(got, want)}")


if __name__ == "__main__":
    main()
