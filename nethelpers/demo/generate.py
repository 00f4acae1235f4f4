"""Generate the demo study: DICOM, clinical tables, ground truth, reads and reader ROIs.

Layout of the output folder::

    dicom/<patient_id>/<scan_id>/PT|NM|CT|MR/*.dcm  one folder per series (NM: one
                                                    multi-frame SPECT file)
    clinical/patients.csv  clinical/scans.csv      what a real study also has
    reads/reads.csv                                 simulated readers R1 and R2, and their
                                                    consensus (simulated adjudicator "ADJ")
    rois/<scan_id>/R1/v000001/                      reader R1's VOIs on the PET (SPECT) grid,
                                                    saved through the ROI store (nethelpers.rois)
    truth/lesions.csv  truth/scans.csv  truth/lesion_positions.csv
    truth/lesion_course.csv                         each lesion on each scan (follow-up:
                                                    :mod:`nethelpers.demo.followup_sim`)
    demo.json                                       parameters; written last (= complete)

TIO patients (and a few PRRT candidates) also have a 99mTc-HYNIC-TOC SPECT/CT
(:mod:`nethelpers.demo.spect_sim`): modality SPECT/CT, its NM folder in ``pet_dir``.

The study is built in a temporary sibling folder and renamed into place, so an interrupted
run never leaves a half-written study behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from nethelpers import __version__
from nethelpers.demo.anatomy import Tissue
from nethelpers.demo.cohort_sim import Patient, Scan, simulate_patient
from nethelpers.demo.followup_sim import BASELINE, lesion_course_rows, lesions_at, time_point
from nethelpers.demo.imaging import ImagingOptions, write_scan
from nethelpers.demo.readers import consensus_rows, lesions_in_view, reader_rois, simulate_reads
from nethelpers.rois import RoiStore

MARKER = "demo.json"

#: Bump when the generator's output changes, so `--if-missing` replaces older studies.
DEMO_FORMAT = 10


def _scan_task(args: tuple) -> dict:
    """Worker: simulate and write one scan, its reader ROIs and reads."""
    seed, index, k, root, options = args
    p = simulate_patient(index, seed)
    scan = p.scans[k]
    info = write_scan(p, scan, Path(root), seed, options)
    grid = info.pop("pet_grid")
    rng = np.random.default_rng([seed, index, 200, k])
    labels, table = reader_rois(p, scan, grid, rng)
    RoiStore(Path(root) / "rois").save(
        scan.scan_id, grid.to_sitk(labels), table, reader="R1",
        note="demo generator: reader R1's VOIs", saved_at=str(table["created"].iloc[0]),
        series_uid=info["pet_series_uid"])
    reads = simulate_reads(p, scan, np.random.default_rng([seed, index, 300, k]),
                           visible=lesions_in_view(p, scan, grid))
    info["reads"] = reads + consensus_rows(reads, np.random.default_rng([seed, index, 400, k]))
    info["positions"] = [
        dict(zip(("x_mm", "y_mm", "z_mm"), np.round(scan.pose.to_patient(les.center), 3),
                 strict=True),
             scan_id=scan.scan_id, lesion_id=les.lesion_id)
        for les in lesions_at(p, scan)
    ]
    info["scan_id"] = scan.scan_id
    return info


def _patient_row(p: Patient) -> dict:
    return {
        "patient_id": p.patient_id, "group": p.group, "age": p.age, "sex": p.sex,
        "weight_kg": p.weight_kg, "height_cm": p.height_cm,
        "final_diagnosis": p.final_diagnosis, "disease_present": p.disease_present,
        "reference_standard": p.reference_standard, "grade": p.grade, "ki67": p.ki67,
        "primary_site": p.primary_site, "fgf23_ru_ml": p.fgf23, "phosphate_mmol_l": p.phosphate,
        "reference_date": _reference_date(p),
    }


def _reference_date(p: Patient) -> str | None:
    """Date of the reference standard (STARD 22) after the patient's last scan (no rng draw).

    Histopathology 2-6 weeks later (surgery, biopsy), follow-up 12-15 months later; counted
    from the baseline scans (a follow-up scan is part of the follow-up, not its start).
    """
    baseline = [s for s in p.scans if time_point(s) == BASELINE]
    if not baseline:
        return None
    last = max(s.injection.date() for s in baseline)
    days = 14 + 7 * (p.index % 5) if p.reference_standard == "histopathology" else (
        365 + 30 * (p.index % 4))
    return (last + timedelta(days=days)).isoformat()


def _lesion_row(p: Patient, les) -> dict:
    return {
        "patient_id": p.patient_id, "lesion_id": les.lesion_id, "site": les.site,
        "description": les.description, "diameter_mm": les.diameter_mm, "truth": les.truth,
        "malignant": les.malignant, "in_bone": les.in_bone,
        "reference_standard": les.reference_standard,
        "true_suv_dotatate": round(les.suv["DOTATATE"], 4),
        "true_suv_fdg": round(les.suv["FDG"], 4),
        "true_suv_hynic_toc": round(les.suv["HYNIC-TOC"], 4),
        "x_body_mm": round(float(les.center[0]), 3), "y_body_mm": round(float(les.center[1]), 3),
        "z_body_mm": round(float(les.center[2]), 3),
        "first_time_point": _first_time_point(p, les.lesion_id),
        "course": p.followup.lesion_course[les.lesion_id] if p.followup else "",
    }


def _first_time_point(p: Patient, lesion_id: str) -> str:
    """The first time point a lesion is present at (baseline unless new at follow-up)."""
    if p.followup is None:
        return BASELINE
    return next(tp for tp, states in p.followup.states.items() if states[lesion_id].present)


def _scan_truth_row(p: Patient, s: Scan) -> dict:
    organ = p.organ_suv[s.tracer]
    row = {
        "scan_id": s.scan_id, "patient_id": s.patient_id, "tracer": s.tracer,
        "modality": s.modality, "vendor": s.vendor, "model": s.model,
        "injection": s.injection.isoformat(), "injected_dose_mbq": s.injected_dose_bq / 1e6,
        "weight_kg": s.weight_kg, "series_datetime": s.series_datetime.isoformat(),
        "decay_reference": s.decay_reference.isoformat(), "uptake_min": round(s.uptake_min, 3),
        "half_life_s": s.half_life_s, "suv_bw_factor_g_per_bq": s.suv_factor,
        "units": s.units, "radiopharm_time_style": s.radiopharm_time_style,
        "ge_private": s.ge_private, "post_processed": s.post_processed,
        "bqml_per_count": s.bqml_per_count, "fwhm_mm": s.fwhm_mm,
        "noise_cv_liver": round(s.noise_cv_liver, 4),
        "pose_tx_mm": s.pose.translation[0], "pose_ty_mm": s.pose.translation[1],
        "pose_tz_mm": s.pose.translation[2], "pose_roll_deg": s.pose.roll_deg,
        "system": s.system, "storage": s.storage, "quantitative": s.quantitative,
        "counts_per_bqml": s.counts_per_bqml, "time_point": time_point(s),
        "pose_yaw_deg": s.pose.yaw_deg,
        "course": p.followup.course if p.followup else "",
    }
    for t in (Tissue.LIVER, Tissue.SPLEEN, Tissue.BLOOD, Tissue.MUSCLE, Tissue.KIDNEY,
              Tissue.BRAIN):
        row[f"true_suv_{t.name.lower()}"] = round(organ[int(t)], 4)
    return row


def _scan_row(s: Scan, info: dict) -> dict:
    return {
        "scan_id": s.scan_id, "patient_id": s.patient_id, "tracer": s.tracer,
        "modality": s.modality, "scan_date": s.injection.date().isoformat(),
        "study_uid": info["study_uid"], "pet_series_uid": info["pet_series_uid"],
        "anat_series_uid": info["anat_series_uid"], "pet_dir": info["pet_dir"],
        "anat_dir": info["anat_dir"], "manufacturer": s.vendor, "model": s.model,
        "time_point": time_point(s),
    }


def is_complete(out: Path, n_patients: int, seed: int, options: ImagingOptions) -> bool:
    """Whether ``out`` already holds a complete demo study made with these parameters."""
    marker = Path(out) / MARKER
    if not marker.is_file():
        return False
    meta = json.loads(marker.read_text())
    return (meta.get("format"), meta.get("patients"), meta.get("seed"), meta.get("options")) == (
        DEMO_FORMAT, n_patients, seed, asdict(options))


def generate_demo(out: str | Path, n_patients: int = 60, seed: int = 0, *,
                  options: ImagingOptions | None = None, workers: int | None = None,
                  progress: bool = True, overwrite: bool = False) -> Path:
    """Write a synthetic study with known ground truth.

    Parameters
    ----------
    out : str or Path
        Output folder (must not exist unless ``overwrite``).
    n_patients : int
        Number of patients; the first six cover every protocol group.
    seed : int
        Study seed: the same seed gives byte-identical files.
    options : ImagingOptions, optional
        Blur and noise switches (default: both on).
    workers : int, optional
        Worker processes (default: all cores); 1 runs in this process.
    progress : bool
        Show a progress bar.
    overwrite : bool
        Replace an existing folder.

    Returns
    -------
    Path
        The study folder.
    """
    from tqdm.auto import tqdm

    out = Path(out).resolve()
    options = options or ImagingOptions()
    if n_patients < 1:
        raise ValueError(f"n_patients must be at least 1, got {n_patients}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    t0 = time.perf_counter()
    try:
        patients = [simulate_patient(i, seed) for i in range(n_patients)]
        tasks = [(seed, p.index, k, str(tmp), options) for p in patients
                 for k in range(len(p.scans))]
        workers = workers or os.cpu_count() or 1
        bar = tqdm(total=len(tasks), desc="demo scans", unit="scan", disable=not progress)
        results: list[dict] = []
        if workers == 1:
            for t in tasks:
                results.append(_scan_task(t))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for r in pool.map(_scan_task, tasks, chunksize=1):
                    results.append(r)
                    bar.update()
        bar.close()
        _write_tables(tmp, patients, results)
        meta = {"generator": f"nethelpers {__version__}", "format": DEMO_FORMAT,
                "patients": n_patients, "seed": seed,
                "options": asdict(options), "n_scans": len(tasks),
                "n_files": int(sum(r["n_files"] for r in results))}
        (tmp / MARKER).write_text(json.dumps(meta, indent=2) + "\n")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if progress:
        print(f"demo: {n_patients} patients, {len(tasks)} scans, {meta['n_files']} files "
              f"in {time.perf_counter() - t0:.1f} s -> {out}")
    return out


def _write_tables(root: Path, patients: list[Patient], results: list[dict]) -> None:
    """Write the clinical, truth and reads tables."""
    by_scan = {r["scan_id"]: r for r in results}
    scans = [s for p in patients for s in p.scans]
    tables = {
        "clinical/patients.csv": pd.DataFrame([_patient_row(p) for p in patients]),
        "clinical/scans.csv": pd.DataFrame([_scan_row(s, by_scan[s.scan_id]) for s in scans]),
        "truth/lesions.csv": pd.DataFrame(
            [_lesion_row(p, les) for p in patients for les in p.lesions],
            columns=list(_lesion_row(patients[0], _dummy_lesion()).keys())),
        "truth/scans.csv": pd.DataFrame([_scan_truth_row(p, s) for p in patients
                                         for s in p.scans]),
        "truth/lesion_course.csv": pd.DataFrame(
            [row for p in patients for row in lesion_course_rows(p)],
            columns=["patient_id", "scan_id", "lesion_id", "time_point", "present",
                     "diameter_mm", "true_suv", "course"]),
        "truth/lesion_positions.csv": pd.DataFrame(
            [row for r in results for row in r["positions"]],
            columns=["scan_id", "lesion_id", "x_mm", "y_mm", "z_mm"]),
        "reads/reads.csv": pd.DataFrame(
            [row for r in results for row in r["reads"]],
            columns=["scan_id", "lesion_id", "reader", "call", "krenning", "confidence",
                     "cause", "sstr_uptake", "anatomic_correlate", "site_typical"]),
    }
    for name, df in tables.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False, lineterminator="\n")


def _dummy_lesion():
    """A lesion used only to name the columns of an empty lesion table."""
    from nethelpers.demo.cohort_sim import Lesion

    return Lesion("", "", "", "benign", 0.0, np.zeros(3), False,
                  {"DOTATATE": 0.0, "FDG": 0.0, "HYNIC-TOC": 0.0}, 0.0, 0.0, "")
