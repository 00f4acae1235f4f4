"""Benchmark ``register_scans`` per scan pair against anchors timed in the same run.

A demo study (blur and noise on) is written to a temporary folder. For each pair of one
patient's scans (DOTATATE PET/CT <- PET/MR, DOTATATE PET/CT <- FDG PET/CT), in the same run:

- ``register_scans`` with the default ``registration:`` settings (median of ``--repeats``),
  and the largest distance of the truth lesion centres after mapping (demo truth);
- anchor 1: loading the two anatomy series with SimpleITK's ImageSeriesReader;
- anchor 2: a plain SimpleITK rigid registration on the full-resolution images (Mattes MI,
  geometry centring, 1 % random sampling, regular step gradient descent, one level), with its
  lesion distance.

Usage: python benchmarks/bench_registration.py [--patients 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from bench_dicom import _median_time, _sitk

from nethelpers.config import params_from_dict
from nethelpers.demo.generate import generate_demo
from nethelpers.dicom.volume import load_ct, load_mr, load_pet_series
from nethelpers.quantify import scan_jobs
from nethelpers.registration import register_scans
from nethelpers.review import ScanImages


def _load(jobs: dict, scan_id: str) -> ScanImages:
    job = jobs[scan_id]
    pet = load_pet_series(job.pet, "bw", series_uid=job.series_uid).image
    kind = "MR" if job.modality == "PET/MR" else "CT"
    return ScanImages(job, pet, (load_mr if kind == "MR" else load_ct)(job.anatomy), kind)


def _plain(fixed: sitk.Image, moving: sitk.Image) -> sitk.Transform:
    """A plain SimpleITK rigid registration, close to the library's examples."""
    start = sitk.CenteredTransformInitializer(fixed, moving, sitk.Euler3DTransform(),
                                              sitk.CenteredTransformInitializerFilter.GEOMETRY)
    reg = sitk.ImageRegistrationMethod()
    reg.SetMetricAsMattesMutualInformation(50)
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(0.01, 1)
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(1.0, 0.001, 100)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetInitialTransform(start, inPlace=True)
    reg.Execute(fixed, moving)
    return start


def _worst_mm(truth: pd.DataFrame, fixed: str, moving: str, to_moving) -> float:
    f = truth[truth.scan_id == fixed].set_index("lesion_id")[["x_mm", "y_mm", "z_mm"]]
    m = truth[truth.scan_id == moving].set_index("lesion_id")[["x_mm", "y_mm", "z_mm"]]
    common = f.index.intersection(m.index)
    return max(float(np.linalg.norm(np.subtract(to_moving(tuple(f.loc[lid].to_numpy())),
                                                m.loc[lid].to_numpy()))) for lid in common)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"SimpleITK {sitk.Version_VersionString()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_demo(Path(tmp) / "demo", n_patients=args.patients, seed=0,
                             progress=False)
        params = params_from_dict({"study": {"name": "bench", "data_root": str(root)}})
        jobs = {j.scan_id: j for j in scan_jobs(params)}
        truth = pd.read_csv(root / "truth" / "lesion_positions.csv")
        print("| pair | register_scans | lesions after | SimpleITK load of both | plain "
              "SimpleITK rigid | its lesions after |\n|---|---|---|---|---|---|")
        for fixed_id in sorted(j for j in jobs if j.endswith("DOTATATE-PETCT")):
            patient = jobs[fixed_id].patient_id
            for moving_id in (f"{patient}-DOTATATE-PETMR", f"{patient}-FDG-PETCT"):
                if moving_id not in jobs:
                    continue
                fixed, moving = _load(jobs, fixed_id), _load(jobs, moving_id)
                ours = _median_time(lambda f=fixed, m=moving: register_scans(f, m), args.repeats)
                reg = register_scans(fixed, moving)
                folders = (Path(jobs[fixed_id].anatomy), Path(jobs[moving_id].anatomy))
                load = _median_time(lambda d=folders: [_sitk(f) for f in d], args.repeats)
                t0 = time.perf_counter()
                plain = _plain(fixed.anatomy, moving.anatomy)
                plain_s = time.perf_counter() - t0
                print(f"| {fixed_id} <- {moving_id.split('-', 1)[1]} | {ours:.2f} s | "
                      f"{_worst_mm(truth, fixed_id, moving_id, reg.to_moving):.1f} mm | "
                      f"{load:.2f} s | {plain_s:.2f} s | "
                      f"{_worst_mm(truth, fixed_id, moving_id, plain.TransformPoint):.1f} mm |")


if __name__ == "__main__":
    main()
