"""Measure every ROI of a scan, and every scan of a cohort (dask).

One row per scan × ROI (``measurements.csv``): SUVmax, SUVmean, SUVpeak, volume, MTV at
41 % of SUVmax and at the PERCIST liver threshold, TLA, SUL variants and T/B against the
liver and spleen references and a shell of surrounding normal tissue; the definitions are
in :mod:`nethelpers.measures` and the scores (positivity, Krenning, NETPET) in
:mod:`nethelpers.scores`.

The cohort run sends one task per scan to dask: local worker processes by default, or an
existing ``dask.distributed`` cluster given by its address. A scan that fails (unreadable
DICOM, no ROIs, ROIs in another geometry that cannot be matched) is listed in the QC table
with its reason, and the others go on; ``strict=True`` stops at the first failure.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from nethelpers.dicom.refseries import same_grid
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.measures import (
    PEAK_RADIUS_MM,
    percist_threshold,
    suv_peak,
    threshold_volume,
    voi_stats,
)
from nethelpers.rois import RoiSet, RoiStore
from nethelpers.voi import grow_box, shell_mask

__all__ = [
    "MEASUREMENT_COLUMNS",
    "QC_COLUMNS",
    "QuantifyError",
    "QuantifyOptions",
    "QuantifyResult",
    "ScanJob",
    "inputs_fingerprint",
    "load_results",
    "measure_rois",
    "quantify_cohort",
    "quantify_scan",
    "scan_jobs",
    "sul_factor",
    "write_results",
]

#: Columns of measurements.csv, in order (scores from nethelpers.scores follow).
MEASUREMENT_COLUMNS = (
    "patient_id", "scan_id", "tracer", "modality", "roi", "label", "lesion_id", "method",
    "reader", "roi_version", "n_voxels", "volume_ml", "suv_max", "suv_mean", "suv_sd",
    "suv_peak", "mtv_ml", "suv_mean_mtv", "tla", "mtv_percist_ml", "tla_percist",
    "sul_max", "sul_mean", "sul_peak", "liver_suv_mean", "spleen_suv_mean",
    "shell_suv_mean", "shell_volume_ml", "tb_liver", "tb_spleen", "tb_shell", "note",
)
#: Columns of qc.csv: one row per scan.
QC_COLUMNS = ("scan_id", "patient_id", "tracer", "modality", "status", "reason",
              "roi_version", "n_rois", "suv_factor", "sul_factor", "warnings", "seconds")

#: Labels may differ from the PET grid by this much (mm; direction cosines / 1000).
GEOMETRY_TOLERANCE_MM = 1e-3


class QuantifyError(RuntimeError):
    """A scan that cannot be measured (strict mode raises it; lenient mode lists it)."""


@dataclass(frozen=True)
class QuantifyOptions:
    """Measurement settings (the ``quantify`` section of the parameters; see config.py)."""

    norm: str = "bw"
    sul_norm: str = "lbm"
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE
    peak_radius_mm: float = PEAK_RADIUS_MM
    mtv_fraction: float = 0.41
    percist_mean_factor: float = 1.5
    percist_sd_factor: float = 2.0
    shell_gap_mm: float = 5.0
    shell_width_mm: float = 10.0
    shell_hot_factor: float | None = 1.5
    shell_min_suv: float = 0.1
    shell_min_ml: float = 1.0

    @classmethod
    def from_config(cls, config: Any) -> QuantifyOptions:
        """Options from a :class:`nethelpers.config.QuantifyConfig`."""
        return cls(**{k: getattr(config, k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ScanJob:
    """Everything a worker needs to measure one scan (picklable, paths absolute).

    Attributes
    ----------
    scan_id, patient_id, tracer, modality : str
        The scan.
    pet : str
        PET series folder.
    series_uid : str or None
        Picks the PET series when the folder holds several.
    rois : str
        ROI store folder.
    height_m : float or None
        From the clinical table (SUL needs it when the header lacks PatientSize).
    sex : str or None
        Likewise.
    anatomy : str or None
        The CT or MR series folder of the same study (``anat_dir``), when it exists.
    """

    scan_id: str
    patient_id: str
    tracer: str
    modality: str
    pet: str
    series_uid: str | None
    rois: str
    height_m: float | None = None
    sex: str | None = None
    anatomy: str | None = None


@dataclass
class ScanOutcome:
    """What measuring one scan gave: its rows and its QC record."""

    rows: pd.DataFrame
    qc: dict[str, Any]


@dataclass
class QuantifyResult:
    """A cohort's measurements.

    Attributes
    ----------
    measurements : pandas.DataFrame
        One row per scan × ROI, with the lesion scores.
    patients : pandas.DataFrame
        One row per patient with the NETPET grade.
    qc : pandas.DataFrame
        One row per scan: status ``ok``, ``failed`` (unreadable PET, bad ROIs), ``skipped``
        (no ROIs saved) or ``excluded`` (by the cohort checks of the scans table), and why.
    info : dict
        Options, timings and scheduler used.
    """

    measurements: pd.DataFrame
    patients: pd.DataFrame
    qc: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# one scan
# --------------------------------------------------------------------------------------------


def labels_on(pet: sitk.Image, labels: sitk.Image, table: pd.DataFrame | None = None
              ) -> tuple[np.ndarray, str]:
    """The label map on the PET grid: as it is, or resampled (nearest neighbour) with a note.

    Parameters
    ----------
    pet : SimpleITK.Image
        The SUV image.
    labels : SimpleITK.Image
        The ROI label map.
    table : pandas.DataFrame, optional
        The ROI table; resampled ROIs that all vanish are an error.

    Returns
    -------
    numpy.ndarray
        ``(z, y, x)`` labels on the PET grid.
    str
        Empty, or a note that the labels were resampled.

    Raises
    ------
    ValueError
        The label map, resampled, holds none of its ROIs: it does not overlap the PET
        series (drawn on another scan?).
    """
    if same_grid(pet, labels, tolerance_mm=GEOMETRY_TOLERANCE_MM, direction_tolerance=1e-6):
        return sitk.GetArrayFromImage(labels), ""
    out = sitk.GetArrayFromImage(sitk.Resample(labels, pet, sitk.Transform(),
                                               sitk.sitkNearestNeighbor, 0, labels.GetPixelID()))
    wanted = set(table["label"].astype(int)) if table is not None else set()
    if wanted and not wanted & set(np.unique(out).tolist()):
        raise ValueError(
            "the ROI label map does not overlap this PET series (grid "
            f"{labels.GetSize()} at {tuple(round(v, 1) for v in labels.GetOrigin())} vs PET "
            f"{pet.GetSize()} at {tuple(round(v, 1) for v in pet.GetOrigin())}); were the "
            "ROIs drawn on another scan? Draw them on this scan's PET")
    return out, "ROIs resampled onto the PET grid (nearest neighbour)"


def _reference(suv: np.ndarray, labels: np.ndarray, boxes: list, table: pd.DataFrame,
               roi: str, spacing: Sequence[float]) -> tuple[float, float]:
    rows = table[table["roi"] == roi]
    if rows.empty:
        return float("nan"), float("nan")
    label = int(rows["label"].iloc[0])
    box = boxes[label - 1] if label <= len(boxes) else None
    if box is None:
        return float("nan"), float("nan")
    stats = voi_stats(suv[box], labels[box] == label, spacing)
    return stats.suv_mean, stats.suv_sd


def _ratio(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def measure_rois(suv: np.ndarray, labels: np.ndarray, table: pd.DataFrame,
                 spacing: Sequence[float], options: QuantifyOptions = QuantifyOptions(),
                 sul_factor: float = float("nan")) -> pd.DataFrame:
    """Measure every ROI of one scan.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume ``(z, y, x)``.
    labels : numpy.ndarray
        Label map on the same grid.
    table : pandas.DataFrame
        ROI table (:data:`nethelpers.rois.TABLE_COLUMNS`).
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    options : QuantifyOptions
        Thresholds and shell settings.
    sul_factor : float
        SUL / SUV (lean body mass / body weight); NaN leaves the sul_* columns empty.

    Returns
    -------
    pandas.DataFrame
        One row per ROI with the measurement columns from ``roi`` to ``note`` (the
        scan's identifiers are added by the caller).
    """
    boxes = ndimage.find_objects(labels)        # one pass: every label's bounding box
    liver_mean, liver_sd = _reference(suv, labels, boxes, table, "liver", spacing)
    spleen_mean, _ = _reference(suv, labels, boxes, table, "spleen", spacing)
    hot_above = (options.shell_hot_factor * liver_mean
                 if options.shell_hot_factor is not None and np.isfinite(liver_mean) else None)
    percist = percist_threshold(liver_mean, liver_sd, mean_factor=options.percist_mean_factor,
                                sd_factor=options.percist_sd_factor)
    lesion_labels = table.loc[table["roi"] == "lesion", "label"].astype(int).tolist()
    voxel_ml = float(np.prod(spacing)) / 1000.0
    sp_zyx = np.asarray(spacing, dtype=float)[::-1]
    # crops hold every voxel a measure looks at: the peak sphere, and the shell with the
    # other lesions within the shell's gap of it
    reach_mm = max(options.peak_radius_mm, 2 * options.shell_gap_mm + options.shell_width_mm)
    margin = np.ceil(reach_mm / sp_zyx).astype(int) + 2
    rows = []
    for rec in table.itertuples(index=False):
        label = int(rec.label)
        row: dict[str, Any] = {"roi": rec.roi, "label": label, "lesion_id": rec.lesion_id,
                               "method": rec.method, "reader": rec.reader}
        notes = []
        box = boxes[label - 1] if label <= len(boxes) else None
        if box is None:
            rows.append(row | {"n_voxels": 0, "volume_ml": 0.0,
                               "note": "empty ROI: no voxel on the PET grid"})
            continue
        box = grow_box(box, margin, labels.shape)
        local_suv, local_labels = suv[box], labels[box]
        mask = local_labels == label
        stats = voi_stats(local_suv, mask, spacing)
        peak, _ = suv_peak(local_suv, mask, spacing, options.peak_radius_mm)
        row |= {"n_voxels": stats.n_voxels, "volume_ml": stats.volume_ml,
                "suv_max": stats.suv_max, "suv_mean": stats.suv_mean, "suv_sd": stats.suv_sd,
                "suv_peak": peak, "liver_suv_mean": liver_mean, "spleen_suv_mean": spleen_mean}
        if rec.roi == "lesion" and not np.isfinite(stats.suv_max):
            notes.append("the VOI holds voxels without a value (NaN): no MTV, TLA or T/B")
        elif rec.roi == "lesion":
            mtv = threshold_volume(local_suv, mask, options.mtv_fraction * stats.suv_max)
            mtv_mean = float(local_suv[mtv].astype(np.float64).mean())
            mtv_ml = int(mtv.sum()) * voxel_ml
            row |= {"mtv_ml": mtv_ml, "suv_mean_mtv": mtv_mean, "tla": mtv_mean * mtv_ml}
            if np.isfinite(percist):
                pmask = threshold_volume(local_suv, mask, percist)
                p_ml = int(pmask.sum()) * voxel_ml
                p_mean = float(local_suv[pmask].astype(np.float64).mean()) if p_ml else 0.0
                row |= {"mtv_percist_ml": p_ml, "tla_percist": p_mean * p_ml}
            else:
                notes.append("no liver reference: no PERCIST MTV")
            shell = shell_mask(local_labels, label, spacing, gap_mm=options.shell_gap_mm,
                               width_mm=options.shell_width_mm, suv=local_suv,
                               hot_above=hot_above,
                               min_suv=options.shell_min_suv,
                               exclude_labels=[v for v in lesion_labels if v != label])
            shell_ml = int(shell.sum()) * voxel_ml
            row["shell_volume_ml"] = shell_ml
            if shell_ml >= max(options.shell_min_ml, voxel_ml):
                row["shell_suv_mean"] = float(local_suv[shell].astype(np.float64).mean())
            else:
                notes.append(f"background shell {shell_ml:.2f} ml < {options.shell_min_ml} ml: "
                             "no tb_shell")
            row |= {"tb_liver": _ratio(stats.suv_max, liver_mean),
                    "tb_spleen": _ratio(stats.suv_max, spleen_mean),
                    "tb_shell": _ratio(stats.suv_max, row.get("shell_suv_mean", np.nan))}
            if not np.isfinite(liver_mean):
                notes.append("no liver reference on this scan")
                if options.shell_hot_factor is not None:
                    notes.append("shell keeps hot organs (their cut-off needs the liver)")
            if not np.isfinite(spleen_mean):
                notes.append("no spleen reference on this scan")
        if np.isfinite(sul_factor):
            row |= {"sul_max": stats.suv_max * sul_factor, "sul_mean": stats.suv_mean * sul_factor,
                    "sul_peak": peak * sul_factor}
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in MEASUREMENT_COLUMNS[4:]:
        if col not in out.columns:
            out[col] = np.nan
    out["note"] = out["note"].fillna("")
    return out[list(MEASUREMENT_COLUMNS[4:])]


def sul_factor(provenance: dict[str, Any], header: dict[str, Any], sul_norm: str, *,
               height_m: float | None = None, sex: str | None = None) -> tuple[float, str]:
    """SUL / SUV: the SUV's normaliser over the lean body mass, so SUL = SUV x this.

    Weight as the SUV engine used it; height and sex from the header (PatientSize,
    PatientSex), else the clinical record's ``height_m`` and ``sex``.

    Parameters
    ----------
    provenance : dict
        The SUV conversion's provenance (weight, normaliser).
    header : dict
        The PET's keyword values (:func:`nethelpers.dicom.volume.pet_keywords`).
    sul_norm : str
        Lean-body-mass formula (``lbm``, ``lbm-james``, ``lbm-james120``).
    height_m, sex : optional
        From the clinical record, when the header lacks them.

    Returns
    -------
    float
        SUL / SUV, NaN when it cannot be computed.
    str
        Empty, or why there is no SUL.
    """
    from nethelpers.dicom.bodysize import BodySizeError, normaliser

    weight = provenance.get("weight_kg")
    height = provenance.get("height_m") or header.get("PatientSize") or height_m
    sex = provenance.get("sex") or (header.get("PatientSex") or "").strip().upper() or sex
    if not weight or not provenance.get("normaliser"):
        return float("nan"), "no weight: no SUL"
    try:
        lbm = normaliser(sul_norm, weight, height, sex)
    except BodySizeError as exc:
        return float("nan"), f"no SUL: {exc}"
    # SUV = activity x normaliser / dose, so SUL = SUV x lbm / normaliser (for SUVbsa the
    # factor is in g/cm2 and turns cm2/ml into g/ml)
    return lbm.value / provenance["normaliser"], ""


def _qc(job: ScanJob, status: str, reason: str = "", **extra: Any) -> dict[str, Any]:
    row = {c: "" for c in QC_COLUMNS}
    row |= {"scan_id": job.scan_id, "patient_id": job.patient_id, "tracer": job.tracer,
            "modality": job.modality, "status": status, "reason": reason}
    row.update(extra)
    return row


def quantify_scan(job: ScanJob, options: QuantifyOptions = QuantifyOptions()) -> ScanOutcome:
    """Measure one scan: load its PET as SUV and its newest ROI version, measure every ROI.

    Never raises for bad input: a scan that cannot be measured returns no rows and a QC
    record with status ``failed`` (or ``skipped`` when it has no ROIs) and the reason.

    Parameters
    ----------
    job : ScanJob
        The scan.
    options : QuantifyOptions
        Measurement settings.

    Returns
    -------
    ScanOutcome
        Rows (measurement columns, identifiers first) and the QC record.
    """
    from nethelpers.dicom.errors import DicomInputError
    from nethelpers.dicom.volume import load_pet_series, pet_keywords
    from nethelpers.rois import RoiStoreError

    start = time.perf_counter()
    empty = pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    store = RoiStore(job.rois)
    try:
        if store.latest(job.scan_id) is None:
            return ScanOutcome(empty, _qc(job, "skipped", "no ROIs saved for this scan",
                                          seconds=round(time.perf_counter() - start, 3)))
        rois: RoiSet = store.load(job.scan_id)
        loaded = load_pet_series(job.pet, options.norm, series_uid=job.series_uid,
                                 slice_tolerance=options.slice_tolerance)
        image, provenance = loaded.image, loaded.provenance
        labels, note = labels_on(image, rois.labels, rois.table)
        suv = sitk.GetArrayViewFromImage(image)
        header, _ = pet_keywords(loaded.headers[0])
        sul, sul_note = sul_factor(provenance, header, options.sul_norm,
                                   height_m=job.height_m, sex=job.sex)
        rows = measure_rois(suv, labels, rois.table, image.GetSpacing(), options, sul)
    except (DicomInputError, RoiStoreError, ValueError, OSError) as exc:
        return ScanOutcome(empty, _qc(job, "failed", f"{type(exc).__name__}: {exc}",
                                      seconds=round(time.perf_counter() - start, 3)))
    except Exception as exc:  # noqa: BLE001 - a bug on one scan must not stop the cohort
        return ScanOutcome(empty, _qc(job, "failed", "unexpected error: " + format_failure(exc),
                                      seconds=round(time.perf_counter() - start, 3)))
    rows.insert(0, "patient_id", job.patient_id)
    rows.insert(1, "scan_id", job.scan_id)
    rows.insert(2, "tracer", job.tracer)
    rows.insert(3, "modality", job.modality)
    rows["roi_version"] = rois.version.version if rois.version else pd.NA
    warnings = [w for w in (note, sul_note, *provenance.get("warnings", [])) if w]
    return ScanOutcome(rows[list(MEASUREMENT_COLUMNS)], _qc(
        job, "ok", roi_version=rois.version.version if rois.version else "",
        n_rois=len(rows), suv_factor=provenance.get("factor"), sul_factor=sul,
        warnings="; ".join(warnings), seconds=round(time.perf_counter() - start, 3)))


# --------------------------------------------------------------------------------------------
# the cohort
# --------------------------------------------------------------------------------------------


def scan_jobs(params: Any, cohort: Any | None = None) -> list[ScanJob]:
    """One job per PET scan of the cohort named in the parameters.

    The PET series of a scan is ``pet_dir`` of the scans table (relative to
    ``study.data_root``); without it, the series ``pet_series_uid`` is looked up in the
    DICOM index of ``study.dicom``.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters.
    cohort : nethelpers.cohort.Cohort, optional
        The loaded cohort (default: loaded leniently from the parameters).

    Returns
    -------
    list of ScanJob
        In scan_id order; SPECT scans are left out (no SUV).
    """
    from nethelpers.cohort import load_cohort

    if cohort is None:
        cohort = load_cohort(params)
    study = params.study
    patients = cohort.patients.set_index("patient_id")
    scans = cohort.scans.sort_values("scan_id")
    index_files: dict[str, tuple[str, ...]] | None = None
    jobs = []
    for row in scans.itertuples(index=False):
        if str(row.modality).startswith("SPECT"):
            continue
        pet_dir = getattr(row, "pet_dir", None)
        uid = getattr(row, "pet_series_uid", None)
        uid = None if pd.isna(uid) or not str(uid) else str(uid)
        if isinstance(pet_dir, str) and pet_dir:
            pet = str((Path(study.data_root) / pet_dir).resolve())
        elif uid:
            if index_files is None:
                index_files = _series_index(Path(study.dicom))
            pet = str(Path(index_files[uid][0]).parent) if uid in index_files else ""
        else:
            pet = ""
        person = patients.loc[row.patient_id] if row.patient_id in patients.index else None
        height = (float(person["height_cm"]) / 100.0
                  if person is not None and pd.notna(person["height_cm"]) else None)
        sex = str(person["sex"]) if person is not None and pd.notna(person["sex"]) else None
        anat_dir = getattr(row, "anat_dir", None)
        anatomy = (Path(study.data_root) / anat_dir if isinstance(anat_dir, str) and anat_dir
                   else None)
        jobs.append(ScanJob(scan_id=str(row.scan_id), patient_id=str(row.patient_id),
                            tracer=str(row.tracer), modality=str(row.modality), pet=pet,
                            series_uid=uid, rois=str(study.rois), height_m=height, sex=sex,
                            anatomy=str(anatomy) if anatomy and anatomy.is_dir() else None))
    return jobs


def _excluded_scans(cohort: Any) -> list[dict[str, Any]]:
    """QC rows for the scans the cohort checks excluded (bad rows, unknown patients)."""
    rows = []
    ex = cohort.exclusions
    for rec in ex[(ex["what"] == "scan") & (ex["action"] == "excluded")].itertuples():
        row = {c: "" for c in QC_COLUMNS}
        row |= {"scan_id": rec.id, "status": "excluded",
                "reason": f"scans table: {rec.reason} ({rec.source})"}
        rows.append(row)
    return rows


def _series_index(root: Path) -> dict[str, tuple[str, ...]]:
    from nethelpers.dicom.index import index_tree

    series = index_tree(root, progress=False)
    return {str(r.series_uid): tuple(r.files) for r in series.itertuples() if r.files}


def _run_local(jobs: Sequence[ScanJob], options: QuantifyOptions, strict: bool,
               tick: Callable[[ScanOutcome], None]) -> list[ScanOutcome]:
    out = []
    for job in jobs:
        outcome = quantify_scan(job, options)
        tick(outcome)
        out.append(outcome)
        if strict and outcome.qc["status"] == "failed":
            break
    return out


def _run_dask(jobs: Sequence[ScanJob], options: QuantifyOptions, strict: bool,
              tick: Callable[[ScanOutcome], None], scheduler: str | None,
              workers: int) -> list[ScanOutcome]:
    from distributed import Client, LocalCluster, as_completed

    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        # workers log only critical errors: a scan's failure is reported in the QC table,
        # and the "stream closed" noise of shutting a cluster down is not a failure
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.CRITICAL)
        client = Client(cluster)
    out: list[ScanOutcome] = []
    try:
        futures = [client.submit(quantify_scan, job, options, key=f"quantify-{job.scan_id}",
                                 pure=False) for job in jobs]
        by_key = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker lost (memory, killed)
                outcome = ScanOutcome(pd.DataFrame(columns=list(MEASUREMENT_COLUMNS)),
                                      _qc(by_key[future.key], "failed",
                                          "the dask worker failed: " + format_failure(exc)))
            tick(outcome)
            out.append(outcome)
            if strict and outcome.qc["status"] == "failed":
                client.cancel(futures)
                break
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return out


def quantify_cohort(params: Any, *, scheduler: str | None = None, workers: int | None = None,
                    strict: bool = False, progress: bool = True,
                    jobs: Iterable[ScanJob] | None = None) -> QuantifyResult:
    """Measure every scan of a study.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters (``study`` and ``quantify`` sections).
    scheduler : str, optional
        ``"sync"`` (in this process), a dask scheduler address (``tcp://host:8786``), or
        None for local worker processes; default ``params.quantify.scheduler``.
    workers : int, optional
        Local worker processes; default ``params.quantify.workers``, else one per core.
    strict : bool
        Stop at the first scan that fails (:class:`QuantifyError`).
    progress : bool
        Show a progress bar (tqdm).
    jobs : iterable of ScanJob, optional
        Measure these instead of :func:`scan_jobs` of the parameters.

    Returns
    -------
    QuantifyResult
        Measurements with lesion scores, the patient NETPET table and the QC table.

    Raises
    ------
    QuantifyError
        In strict mode, naming the scan and the reason.
    """
    from tqdm.auto import tqdm

    from nethelpers import scores

    options = QuantifyOptions.from_config(params.quantify)
    excluded: list[dict[str, Any]] = []
    inputs = None
    if jobs is None:
        inputs = inputs_fingerprint(params)
        from nethelpers.cohort import load_cohort

        cohort = load_cohort(params, strict=strict)
        jobs = scan_jobs(params, cohort)
        excluded = _excluded_scans(cohort)
    jobs = list(jobs)
    scheduler = scheduler if scheduler is not None else params.quantify.scheduler
    workers = workers or params.quantify.workers or os.cpu_count() or 1
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), desc="quantify", unit="scan", disable=not progress)

    def tick(outcome: ScanOutcome) -> None:
        bar.update(1)
        if outcome.qc["status"] == "failed":
            bar.write(f"quantify: {outcome.qc['scan_id']} failed: {outcome.qc['reason']}")

    try:
        if scheduler == "sync" or not jobs:
            outcomes = _run_local(jobs, options, strict, tick)
            used = "sync"
        else:
            workers = min(workers, len(jobs))
            outcomes = _run_dask(jobs, options, strict, tick, scheduler, workers)
            used = scheduler or f"local dask cluster, {workers} worker process(es)"
    finally:
        bar.close()
    failed = [o for o in outcomes if o.qc["status"] == "failed"]
    if strict and failed:
        qc = failed[0].qc
        raise QuantifyError(f"scan {qc['scan_id']}: {qc['reason']}")
    qc = pd.DataFrame([o.qc for o in outcomes] + excluded, columns=list(QC_COLUMNS))
    qc = qc.sort_values("scan_id", kind="stable").reset_index(drop=True)
    frames = [o.rows for o in outcomes if not o.rows.empty]
    measurements = (pd.concat(frames, ignore_index=True) if frames
                    else pd.DataFrame(columns=list(MEASUREMENT_COLUMNS)))
    measurements = measurements.sort_values(["scan_id", "label"], kind="stable")
    rules = scores.ScoreRules(**params.scores.model_dump())
    if measurements.empty:                   # nothing measured: the QC table says why
        patients = pd.DataFrame(columns=["patient_id", "netpet", "reason"])
    else:
        measurements = scores.lesion_scores(measurements.reset_index(drop=True), rules)
        patients = scores.netpet(measurements, rules)
    info = {"scheduler": used, "scans": len(jobs), "seconds": round(time.perf_counter() - start, 2),
            "options": asdict(options)}
    if inputs is not None:
        info["inputs"] = inputs
    return QuantifyResult(measurements, patients, qc, info)


def inputs_fingerprint(params: Any) -> dict[str, Any]:
    """What a cohort quantification depends on: its parameters and the study's files.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters.

    Returns
    -------
    dict
        A digest of nethelpers' source code, the ``quantify`` options (without output
        folder, workers and scheduler), the ``scores`` rules, and
        :func:`nethelpers.files.study_fingerprint` of the study (without the reads table).
        Saved in quantify.json; :func:`load_results` reuses saved tables only when it is
        unchanged. The DICOM tree is fingerprinted from its listing (names, sizes, mtimes):
        a header edited in place to the same size with its mtime restored goes unnoticed.
    """
    from nethelpers.files import study_fingerprint

    options = params.quantify.model_dump(mode="json",
                                         exclude={"output", "workers", "scheduler"})
    study = study_fingerprint(params.study)
    study["tables"].pop("reads", None)  # the readers' calls are not measured
    return {"code": _code_digest(), "quantify": options,
            "scores": params.scores.model_dump(mode="json"), "study": study}


def _code_digest() -> str:
    """sha256 of the package's Python sources: a code change makes saved results stale."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def load_results(params: Any, *, scheduler: str | None = "sync", progress: bool = False
                 ) -> QuantifyResult:
    """The cohort's measurements: the saved ones if still current, else measured now.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters; ``quantify.output`` is where :func:`write_results` saved.
    scheduler : str, optional
        Passed to :func:`quantify_cohort` when the saved tables are missing or stale.
    progress : bool
        Progress bar of that run.

    Returns
    -------
    QuantifyResult
        ``info["source"]`` is ``"saved"`` (read from quantify.output) or ``"measured"``
        (the saved tables were missing or changed since written, or the code, ROIs, DICOM,
        tables or parameters changed since they were measured; they are not overwritten).
    """
    import json

    folder = Path(params.quantify.output)
    names = ("measurements.csv", "patients.csv", "qc.csv", "quantify.json")
    if all((folder / n).is_file() for n in names):
        from nethelpers.files import sha256_file

        info = json.loads((folder / "quantify.json").read_text(encoding="utf-8"))
        same_files = info.get("files") == {n: sha256_file(folder / n) for n in names[:3]}
        if same_files and info.get("inputs") == inputs_fingerprint(params):
            frames = [pd.read_csv(folder / n) for n in names[:3]]
            return QuantifyResult(*frames, info=info | {"source": "saved"})
    result = quantify_cohort(params, scheduler=scheduler, progress=progress)
    result.info["source"] = "measured"
    return result


def write_results(result: QuantifyResult, out: str | Path) -> list[Path]:
    """Write measurements.csv, patients.csv, qc.csv and quantify.json into a folder.

    Each file is written to a temporary name and renamed, so a reader never sees half a
    table.

    Parameters
    ----------
    result : QuantifyResult
        From :func:`quantify_cohort`.
    out : str or Path
        The folder (created).

    Returns
    -------
    list of Path
        The files written.
    """
    import json

    from nethelpers import __version__
    from nethelpers.files import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("measurements.csv", result.measurements),
                        ("patients.csv", result.patients), ("qc.csv", result.qc)):
        path = out / name
        with atomic_write(path, "w", encoding="utf-8") as fh:
            frame.to_csv(fh, index=False, float_format="%.10g")
        written.append(path)
    from nethelpers.files import sha256_file

    info = dict(result.info, nethelpers=__version__,
                files={p.name: sha256_file(p) for p in written})
    path = out / "quantify.json"
    with atomic_write(path, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(info, indent=1, default=str) + "\n")
    written.append(path)
    return written


def format_failure(exc: BaseException) -> str:
    """One line naming an unexpected error and where it happened (for the QC table)."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"
