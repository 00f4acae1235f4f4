"""Measure every ROI of a scan, and every scan of a cohort (dask).

One row per scan × ROI (``measurements.csv``): SUVmax, SUVmean, SUVpeak, volume, MTV at
41 % of SUVmax and at the PERCIST liver threshold, TLA, SUL variants and T/B against the
liver and spleen references and a shell of surrounding normal tissue; the definitions are
in :mod:`nethelpers.measures`, the rows of one scan come from :mod:`nethelpers.scanmeasures`,
and the scores (positivity, Krenning, NETPET) from
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

import pandas as pd
import SimpleITK as sitk

from nethelpers.rois import RoiSet, RoiStore
from nethelpers.scanjobs import (
    QC_COLUMNS,
    ScanJob,
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
    "scan_jobs",
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
        One row per scan: status ``ok``, ``failed`` (unreadable PET, bad ROIs), ``skipped``
        (no ROIs saved, or a SPECT modality that is not measured) or ``excluded`` (by the
        cohort checks of the scans table), and why.
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


def quantify_scan(job: ScanJob, options: QuantifyOptions | None = None) -> ScanOutcome:
    """Measure one scan: load its PET as SUV and its newest ROI version, measure every ROI.

    Never raises for bad input: a scan that cannot be measured returns no rows and a QC
    record with status ``failed`` (or ``skipped`` when it has no ROIs) and the reason. ROIs
    drawn on another PET series than the one loaded for the scan fail
    (:func:`nethelpers.roiseries.check_roi_series`); a version saved without its series UID
    is measured with a warning.

    Parameters
    ----------
    job : ScanJob
        The scan.
    options : QuantifyOptions, optional
        Measurement settings (default: the protocol's).

    Returns
    -------
    ScanOutcome
        Rows (measurement columns, identifiers first) and the QC record.
    """
    from nethelpers.dicom.errors import DicomInputError
    from nethelpers.dicom.volume import load_pet_series, pet_keywords
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
        if store.latest(job.scan_id) is None:
            return ScanOutcome(empty, qc_row(job, "skipped", "no ROIs saved for this scan",
                                          seconds=round(time.perf_counter() - start, 3)))
        rois: RoiSet = store.load(job.scan_id)
        loaded = load_pet_series(job.pet, options.norm, series_uid=job.series_uid,
                                 slice_tolerance=options.slice_tolerance)
        image, provenance = loaded.image, loaded.provenance
        series_note = check_roi_series(rois.version, series_uid_of(loaded.headers))
        labels, note = labels_on(image, rois.labels, rois.table)
        suv = sitk.GetArrayViewFromImage(image)
        header, _ = pet_keywords(loaded.headers[0])
        sul, sul_note = sul_factor(provenance, header, options.sul_norm,
                                   height_m=job.height_m, sex=job.sex)
        rows = measure_rois(suv, labels, rois.table, image.GetSpacing(), options, sul)
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
    warnings = [w for w in (series_note, note, sul_note, *provenance.get("warnings", [])) if w]
    return ScanOutcome(rows[list(MEASUREMENT_COLUMNS)], qc_row(
        job, "ok", roi_version=rois.version.version if rois.version else "",
        n_rois=len(rows), suv_factor=provenance.get("factor"), sul_factor=sul,
        warnings="; ".join(warnings), seconds=round(time.perf_counter() - start, 3)))


# --------------------------------------------------------------------------------------------
# the cohort
# --------------------------------------------------------------------------------------------


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
    cohort_exclusions = pd.DataFrame()
    inputs = None
    if jobs is None:
        inputs = inputs_fingerprint(params)
        from nethelpers.cohort import load_cohort

        cohort = load_cohort(params, strict=strict)
        jobs = scan_jobs(params, cohort)
        excluded = excluded_scans(cohort) + unmeasured_scans(params, cohort)
        cohort_exclusions = cohort.exclusions
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
    rules = scores.ScoreRules.from_params(params)
    if measurements.empty:                   # nothing measured: the QC table says why
        patients = pd.DataFrame(columns=["patient_id", "netpet", "reason"])
    else:
        measurements = scores.lesion_scores(measurements.reset_index(drop=True), rules)
        patients = scores.netpet(measurements, rules)
    info = {"scheduler": used, "scans": len(jobs), "seconds": round(time.perf_counter() - start, 2),
            "options": asdict(options)}
    if inputs is not None:
        info["inputs"] = inputs
    return QuantifyResult(measurements, patients, qc, info, cohort_exclusions)


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
