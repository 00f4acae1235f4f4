"""Measure every ROI of a scan, and every scan of a cohort (dask).

One row per scan × ROI (``measurements.csv``): SUVmax, SUVmean, SUVpeak, volume, MTV at
41 % of SUVmax and at the PERCIST liver threshold, TLA, SUL variants and T/B against the
liver and spleen references and a shell of surrounding normal tissue. PET and quantitative
SPECT (Bq/ml) are measured in SUV; counts-only SPECT by its ratios and volumes, with its raw
counts in their own columns and every SUV column empty (``quantity`` says which). The
definitions are in :mod:`nethelpers.measures`, the rows of one scan come from
:mod:`nethelpers.scanmeasures`, and the scores (positivity, Krenning, NETPET) from
:mod:`nethelpers.scores`.

The cohort run sends one task per scan to dask: local worker processes by default, or an
existing ``dask.distributed`` cluster given by its address. A scan that fails (unreadable
DICOM, no ROIs, ROIs in another geometry that cannot be matched) is listed in the QC table
with its reason, and the others go on; ``strict=True`` stops at the first failure. Reasons
and warnings pass through the study's pseudonymiser (:mod:`nethelpers.privacy`): a path of
the DICOM tree is shown as ``<P001/P001-FDG-PETCT>``, never as it is on disk. The saved
tables are written and read as one set by :mod:`nethelpers.savedresults`.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers.roichoice import roi_set_for
from nethelpers.rois import RoiSet, RoiStore
from nethelpers.savedresults import (
    inputs_fingerprint,
    load_results,
    read_results,
    results_lock,
    write_results,
)
from nethelpers.scanjobs import (
    QC_COLUMNS,
    ScanJob,
    ShownText,
    excluded_scans,
    qc_row,
    scan_jobs,
    unmeasured_scans,
)
from nethelpers.scanmeasures import (
    GEOMETRY_TOLERANCE_MM,
    MEASUREMENT_COLUMNS,
    QuantifyOptions,
    labels_on,
    measure_rois,
    sul_factor,
)

__all__ = [
    "GEOMETRY_TOLERANCE_MM",
    "MEASUREMENT_COLUMNS",
    "QC_COLUMNS",
    "QuantifyError",
    "QuantifyOptions",
    "QuantifyResult",
    "ScanJob",
    "inputs_fingerprint",
    "labels_on",
    "load_results",
    "measure_rois",
    "quantify_cohort",
    "quantify_scan",
    "read_results",
    "results_lock",
    "scan_jobs",
    "spect_note",
    "sul_factor",
    "unmeasured_scans",
    "write_results",
]

class QuantifyError(RuntimeError):
    """A scan that cannot be measured (strict mode raises it; lenient mode lists it)."""


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
        One row per scan: status ``ok``, ``failed`` (unreadable PET or SPECT, bad ROIs),
        ``skipped`` (no ROIs saved, or a modality neither PET nor SPECT) or ``excluded`` (by
        the cohort checks of the scans table), and why.
    info : dict
        Options, timings and scheduler used.
    exclusions : pandas.DataFrame
        The exclusions of the cohort's data checks (``Cohort.exclusions``; empty when the
        jobs were given).
    """

    measurements: pd.DataFrame
    patients: pd.DataFrame
    qc: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)
    exclusions: pd.DataFrame = field(default_factory=pd.DataFrame)


# --------------------------------------------------------------------------------------------
# one scan (its ROIs are measured by nethelpers.scanmeasures)
# --------------------------------------------------------------------------------------------


def quantify_scan(job: ScanJob, options: QuantifyOptions | None = None,
                  reader: str | None = None) -> ScanOutcome:
    """Measure one scan: load its PET or SPECT and its newest ROI version, measure every ROI.

    PET and quantitative SPECT are loaded in SUV; counts-only SPECT in counts, measured by
    its ratios (:func:`measure_rois` with ``quantity="counts"``); the QC warnings say which
    SPECT it was. Never raises for bad input: a scan that cannot be measured returns no rows
    and a QC record with status ``failed`` (or ``skipped`` when it has no ROIs) and the reason. ROIs
    drawn on another PET series than the one loaded for the scan fail
    (:func:`nethelpers.roiseries.check_roi_series`); a version saved without its series UID
    is measured with a warning.

    Parameters
    ----------
    job : ScanJob
        The scan.
    options : QuantifyOptions, optional
        Measurement settings (default: the protocol's).
    reader : str, optional
        Whose ROI set to measure (:func:`roi_set_for`); the ``reader`` column of the rows
        names the set measured.

    Returns
    -------
    ScanOutcome
        Rows (measurement columns, identifiers first) and the QC record.
    """
    from nethelpers.dicom.errors import DicomInputError
    from nethelpers.dicom.volume import load_emission_series, pet_keywords
    from nethelpers.rois import RoiStoreError
    from nethelpers.roiseries import check_roi_series, series_uid_of

    options = options or QuantifyOptions()
    start = time.perf_counter()
    empty = pd.DataFrame(columns=list(MEASUREMENT_COLUMNS))
    store = RoiStore(job.rois)
    try:
        if job.problem:
            return ScanOutcome(empty, qc_row(job, "failed", job.problem,
                                          seconds=round(time.perf_counter() - start, 3)))
        found, reader_note = roi_set_for(store, job.scan_id, reader)
        if found is None:
            return ScanOutcome(empty, qc_row(job, "skipped", "no ROIs saved for this scan",
                                          seconds=round(time.perf_counter() - start, 3)))
        rois: RoiSet = found
        loaded = load_emission_series(job.pet, options.norm, series_uid=job.series_uid,
                                      slice_tolerance=options.slice_tolerance,
                                      **options.suv_options())
        image, provenance = loaded.image, loaded.provenance
        quantity = str(provenance.get("quantity", "SUV"))
        series_note = check_roi_series(rois.version, series_uid_of(loaded.headers))
        labels, note = labels_on(image, rois.labels, rois.table)
        values = sitk.GetArrayViewFromImage(image)
        sul, sul_note = float("nan"), ""
        if quantity == "SUV":
            header, _ = pet_keywords(loaded.headers[0])
            sul, sul_note = sul_factor(provenance, header, options.sul_norm,
                                       height_m=job.height_m, sex=job.sex)
        rows = measure_rois(values, labels, rois.table, image.GetSpacing(), options, sul,
                            quantity=quantity)
    except (DicomInputError, RoiStoreError, ValueError, OSError) as exc:
        return ScanOutcome(empty, qc_row(job, "failed", f"{type(exc).__name__}: {exc}",
                                      seconds=round(time.perf_counter() - start, 3)))
    except Exception as exc:  # noqa: BLE001 - a bug on one scan must not stop the cohort
        return ScanOutcome(empty, qc_row(job, "failed", "unexpected error: " + format_failure(exc),
                                      seconds=round(time.perf_counter() - start, 3)))
    rows.insert(0, "patient_id", job.patient_id)
    rows.insert(1, "scan_id", job.scan_id)
    rows.insert(2, "tracer", job.tracer)
    rows.insert(3, "modality", job.modality)
    rows["roi_version"] = rois.version.version if rois.version else pd.NA
    if rois.version is not None:
        rows["reader"] = rois.version.reader            # whose set: the reader dimension
    warnings = [w for w in (spect_note(provenance), reader_note, series_note, note, sul_note,
                            *provenance.get("warnings", [])) if w]
    return ScanOutcome(rows[list(MEASUREMENT_COLUMNS)], qc_row(
        job, "ok", roi_version=rois.version.version if rois.version else "",
        n_rois=len(rows), quantity=quantity, suv_factor=provenance.get("factor"),
        sul_factor=sul, warnings="; ".join(warnings),
        seconds=round(time.perf_counter() - start, 3)))


def spect_note(provenance: dict[str, Any]) -> str:
    """The QC note of a SPECT scan: quantitative (SUV) or counts only (ratios); '' for PET.

    Parameters
    ----------
    provenance : dict
        The loader's provenance (``system``, ``quantity``, ``radionuclide``).

    Returns
    -------
    str
        E.g. ``"SPECT (99mTc), counts only: counts_* columns and ratios (T/B, MTV), SUV
        columns empty"``.
    """
    if provenance.get("system") != "SPECT":
        return ""
    nuclide = provenance.get("radionuclide")
    what = f"SPECT ({nuclide})" if nuclide else "SPECT"
    if provenance.get("quantity") == "counts":
        return f"{what}, counts only: counts_* columns and ratios (T/B, MTV), SUV columns empty"
    return f"{what}, quantitative (Bq/ml): SUV as for PET"


# --------------------------------------------------------------------------------------------
# the cohort
# --------------------------------------------------------------------------------------------


def _run_local(jobs: Sequence[ScanJob], options: QuantifyOptions, strict: bool,
               tick: Callable[[ScanOutcome], None], reader: str | None) -> list[ScanOutcome]:
    out = []
    for job in jobs:
        outcome = quantify_scan(job, options, reader)
        tick(outcome)
        out.append(outcome)
        if strict and outcome.qc["status"] == "failed":
            break
    return out


def _run_dask(jobs: Sequence[ScanJob], options: QuantifyOptions, strict: bool,
              tick: Callable[[ScanOutcome], None], scheduler: str | None,
              workers: int, reader: str | None) -> list[ScanOutcome]:
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
        futures = [client.submit(quantify_scan, job, options, reader, key=f"quantify-{job.scan_id}",
                                 pure=False) for job in jobs]
        by_key = {f.key: job for f, job in zip(futures, jobs, strict=True)}
        for future in as_completed(futures):
            try:
                outcome = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker lost (memory, killed)
                outcome = ScanOutcome(pd.DataFrame(columns=list(MEASUREMENT_COLUMNS)),
                                      qc_row(by_key[future.key], "failed",
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
                    jobs: Iterable[ScanJob] | None = None,
                    reader: str | None = None) -> QuantifyResult:
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
    reader : str, optional
        Whose ROI sets to measure; default ``index_test.reader``. A scan that reader drew
        nothing on is measured on the newest set of another reader, with a QC warning.

    Returns
    -------
    QuantifyResult
        Measurements with lesion scores, the patient NETPET table and the QC table (its
        reasons and warnings pseudonymised: no path of the DICOM tree, no absolute path);
        ``info["started"]`` is the run's start (UTC).

    Raises
    ------
    QuantifyError
        In strict mode, naming the scan and the reason.
    """
    from tqdm.auto import tqdm

    from nethelpers import scores

    options = QuantifyOptions.from_config(params.quantify)
    reader = reader or params.index_test.reader
    excluded: list[dict[str, Any]] = []
    cohort_exclusions = pd.DataFrame()
    inputs = None
    cohort = None
    if jobs is None:
        inputs = inputs_fingerprint(params, reader)
        from nethelpers.cohort import load_cohort

        cohort = load_cohort(params, strict=strict)
        jobs = scan_jobs(params, cohort)
        excluded = excluded_scans(cohort) + unmeasured_scans(params, cohort)
        cohort_exclusions = cohort.exclusions
    jobs = list(jobs)
    scheduler = scheduler if scheduler is not None else params.quantify.scheduler
    workers = workers or params.quantify.workers or os.cpu_count() or 1
    started = datetime.now(timezone.utc).isoformat(timespec="microseconds")
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), desc="quantify", unit="scan", disable=not progress)
    shown = ShownText(params, cohort, jobs)

    def tick(outcome: ScanOutcome) -> None:
        bar.update(1)
        for column in ("reason", "warnings"):       # no path of the DICOM tree leaves here
            if outcome.qc.get(column):
                outcome.qc[column] = shown(str(outcome.qc[column]))
        if outcome.qc["status"] == "failed":
            bar.write(f"quantify: {outcome.qc['scan_id']} failed: {outcome.qc['reason']}")

    try:
        if scheduler == "sync" or not jobs:
            outcomes = _run_local(jobs, options, strict, tick, reader)
            used = "sync"
        else:
            workers = min(workers, len(jobs))
            outcomes = _run_dask(jobs, options, strict, tick, scheduler, workers, reader)
            used = scheduler or f"local dask cluster, {workers} worker process(es)"
    finally:
        bar.close()
    failed = [o for o in outcomes if o.qc["status"] == "failed"]
    if strict and failed:
        qc = failed[0].qc
        raise QuantifyError(f"scan {qc['scan_id']}: {qc['reason']}")
    for row in excluded:  # the cohort's reasons quote table cells (dates, folders): shown too
        for column in ("reason", "warnings"):
            if row.get(column):
                row[column] = shown(str(row[column]))
    qc = pd.DataFrame([o.qc for o in outcomes] + excluded, columns=list(QC_COLUMNS))
    qc = qc.sort_values("scan_id", kind="stable").reset_index(drop=True)
    frames = [o.rows for o in outcomes if not o.rows.empty]
    measurements = (pd.concat(frames, ignore_index=True) if frames
                    else pd.DataFrame(columns=list(MEASUREMENT_COLUMNS)))
    measurements = measurements.sort_values(["scan_id", "label"], kind="stable")
    rules = scores.ScoreRules.from_params(params)
    if measurements.empty:                   # nothing measured: the QC table says why
        patients = pd.DataFrame(columns=["patient_id", "netpet", "reason"])
    else:
        measurements = scores.lesion_scores(measurements.reset_index(drop=True), rules)
        patients = scores.netpet(_index_scans(measurements, cohort), rules)
    info = {"scheduler": used, "scans": len(jobs), "seconds": round(time.perf_counter() - start, 2),
            "started": started, "options": asdict(options), "reader": reader}
    if inputs is not None:
        info["inputs"] = inputs
    return QuantifyResult(measurements, patients, qc, info, cohort_exclusions)


def _index_scans(measurements: pd.DataFrame, cohort: Any) -> pd.DataFrame:
    """The rows of each patient's index scans: NETPET grades the baseline, not a follow-up.

    Without the cohort (scan jobs given) every row is kept.
    """
    if cohort is None:
        return measurements
    from nethelpers.readings import repeat_scans

    later = repeat_scans(cohort.scans)
    return measurements.loc[~measurements["scan_id"].astype(str).isin(later)]


def format_failure(exc: BaseException) -> str:
    """One line naming an unexpected error and where it happened (for the QC table)."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" ({Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{at}"
