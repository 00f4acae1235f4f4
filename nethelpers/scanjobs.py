"""The scans a cohort run measures, and the QC rows of those it does not.

:func:`scan_jobs` turns the scans table into one picklable :class:`ScanJob` per PET or SPECT
scan, with every path absolute: the emission series' folder (PET, or the SPECT's NM or PT
series) is ``pet_dir`` (relative to ``study.data_root``; the column keeps its name for
SPECT) or the series ``pet_series_uid`` found in the DICOM index of ``study.dicom`` — never
a path relative to the working directory. Scans that are not measured (a modality neither
PET nor SPECT, rows the cohort checks excluded) get a QC row with the reason instead
(:func:`unmeasured_scans`,
:func:`excluded_scans`), so none is dropped silently. A ``pet_dir`` that does not exist
gives its job a ``problem`` naming the field, not the path. :class:`ShownText` turns a
failure's message into what a report may show (the study's pseudonymiser).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["EMISSION_SYSTEMS", "QC_COLUMNS", "ScanJob", "ShownText", "excluded_scans", "qc_row",
           "scan_jobs", "unmeasured_scans"]

#: The systems whose scans are measured (``vocabulary.modalities``' ``system``).
EMISSION_SYSTEMS = ("PET", "SPECT")

#: Columns of qc.csv: one row per scan.
QC_COLUMNS = ("scan_id", "patient_id", "tracer", "modality", "status", "reason",
              "roi_version", "n_rois", "quantity", "suv_factor", "sul_factor", "warnings",
              "seconds")


@dataclass(frozen=True)
class ScanJob:
    """Everything a worker needs to measure one scan (picklable, paths absolute).

    Attributes
    ----------
    scan_id, patient_id, tracer, modality : str
        The scan.
    pet : str
        The emission series' folder: PET, or the SPECT's NM (or PT) series.
    series_uid : str or None
        Picks the emission series when the folder holds several.
    rois : str
        ROI store folder.
    height_m : float or None
        From the clinical table (SUL needs it when the header lacks PatientSize).
    sex : str or None
        Likewise.
    anatomy : str or None
        The CT or MR series folder of the same study (``anat_dir``), when it exists.
    problem : str
        Why the emission series cannot be found (empty when ``pet`` is set); the scan fails
        with this reason.
    system : str
        ``"PET"`` or ``"SPECT"`` (the modality's system in the vocabulary).
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
    problem: str = ""
    system: str = "PET"


class ShownText:
    """A failure's message as a report may show it: pseudonymised, one line.

    Paths of the DICOM tree become the scan's pseudonyms (``<P001/P001-FDG-PETCT>``), the
    study's roots ``<dicom>``, ``<data>``..., any other absolute path ``<path>/<name>``
    (:func:`nethelpers.privacy.for_params`, built on first use: it lists the DICOM tree).

    Parameters
    ----------
    params : nethelpers.config.Params
        The study.
    cohort : nethelpers.cohort.Cohort, optional
        The loaded cohort (default: loaded when first needed).
    jobs : iterable of ScanJob
        The scans' jobs (their series folders are labelled with the scans' pseudonyms).
    """

    def __init__(self, params: Any, cohort: Any | None = None,
                 jobs: Iterable[ScanJob] = ()) -> None:
        self.params, self.cohort, self.jobs = params, cohort, list(jobs)
        self._text: Any = None

    def __call__(self, text: str) -> str:
        """``text`` pseudonymised, its lines joined into one."""
        if not text:
            return text
        if self._text is None:
            from nethelpers.privacy import for_params

            self._text = for_params(self.params, self.cohort, self.jobs).text
        return " ".join(str(self._text(text)).split())


def qc_row(job: ScanJob, status: str, reason: str = "", **extra: Any) -> dict[str, Any]:
    """The QC record of one scan (:data:`QC_COLUMNS`; ``extra`` fills the other columns)."""
    row = {c: "" for c in QC_COLUMNS}
    row |= {"scan_id": job.scan_id, "patient_id": job.patient_id, "tracer": job.tracer,
            "modality": job.modality, "status": status, "reason": reason}
    row.update(extra)
    return row


def scan_jobs(params: Any, cohort: Any | None = None, *,
              systems: tuple[str, ...] = EMISSION_SYSTEMS) -> list[ScanJob]:
    """One job per PET or SPECT scan of the cohort named in the parameters.

    The emission series of a scan is ``pet_dir`` of the scans table (relative to
    ``study.data_root``); without it, the series ``pet_series_uid`` is looked up in the
    DICOM index of ``study.dicom`` (its files are relative to that root). Neither resolves
    against the working directory.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters.
    cohort : nethelpers.cohort.Cohort, optional
        The loaded cohort (default: loaded leniently from the parameters).
    systems : tuple of str
        The systems whose scans are wanted (default PET and SPECT; ``("PET",)`` for a
        view that shows SUV only).

    Returns
    -------
    list of ScanJob
        In scan_id order; scans of other modalities are left out (:func:`unmeasured_scans`
        lists them).
    """
    from nethelpers.cohort import load_cohort

    if cohort is None:
        cohort = load_cohort(params)
    study = params.study
    patients = cohort.patients.set_index("patient_id")
    scans = cohort.scans.sort_values("scan_id")
    index_files: dict[str, tuple[str, ...]] | None = None
    jobs = []
    vocabulary = params.vocabulary
    for row in scans.itertuples(index=False):
        system = vocabulary.system(str(row.modality))
        if system not in systems:
            continue
        pet_dir = getattr(row, "pet_dir", None)
        uid = getattr(row, "pet_series_uid", None)
        uid = None if pd.isna(uid) or not str(uid) else str(uid)
        problem = ""
        if isinstance(pet_dir, str) and pet_dir:
            pet = str((Path(study.data_root) / pet_dir).resolve())
            if not Path(pet).is_dir():
                problem = (f"pet_dir of the scans table: the {system} series folder is not "
                           "there (moved, renamed or deleted). Fix: correct pet_dir (relative "
                           "to study.data_root) or restore the folder")
        elif uid:
            if index_files is None:
                index_files = _series_index(Path(study.dicom))
            pet = str(Path(index_files[uid][0]).parent) if uid in index_files else ""
            if not pet:
                problem = (f"the {system} series {uid} (pet_series_uid of the scans table) is "
                           "not in the DICOM tree of study.dicom. Fix: correct the UID, or "
                           "give the series folder as pet_dir (relative to study.data_root)")
        else:
            pet = ""
            problem = ("the scans table gives neither pet_dir nor pet_series_uid for this "
                       "scan. Fix: fill one of them (pet_dir relative to study.data_root)")
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
                            anatomy=str(anatomy) if anatomy and anatomy.is_dir() else None,
                            problem=problem, system=system))
    return jobs


def unmeasured_scans(params: Any, cohort: Any) -> list[dict[str, Any]]:
    """QC rows (status ``skipped``) for the scans of modalities that are not measured.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters (``vocabulary.modalities`` names each modality's system).
    cohort : nethelpers.cohort.Cohort
        The loaded cohort.

    Returns
    -------
    list of dict
        One :data:`QC_COLUMNS` row per scan of a modality neither PET nor SPECT, with the
        reason (the cohort checks normally refuse such a modality before).
    """
    rows = []
    vocabulary = params.vocabulary
    for scan in cohort.scans.sort_values("scan_id").itertuples(index=False):
        system = vocabulary.system(str(scan.modality))
        if system in EMISSION_SYSTEMS:
            continue
        row = {c: "" for c in QC_COLUMNS}
        row |= {"scan_id": str(scan.scan_id), "patient_id": str(scan.patient_id),
                "tracer": str(scan.tracer), "modality": str(scan.modality),
                "status": "skipped",
                "reason": f"modality {scan.modality} has no emission system (PET or SPECT) in "
                          "vocabulary.modalities: quantify measures PET and SPECT scans. Fix: "
                          "name its system in vocabulary.modalities of the parameters"}
        rows.append(row)
    return rows


def excluded_scans(cohort: Any) -> list[dict[str, Any]]:
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
    return {str(r.series_uid): tuple(str(root / f) for f in r.files)
            for r in series.itertuples() if r.files}
