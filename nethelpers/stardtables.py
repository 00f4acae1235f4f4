"""The data of STARD 2015 items 21b and 22: alternative diagnoses and time to the reference.

* 21b: the distribution of alternative diagnoses in those without the target condition, at
  patient level (final diagnosis and reference standard of the patients without disease) and
  at lesion level (truth and description of the lesions that are not malignant, among the
  lesions present at baseline: a lesion new at a follow-up was never an index-test lesion).
* 22: the time interval between the index test (each baseline scan) and the reference
  standard, in days (the patients table's optional ``reference_date``), per tracer ×
  modality: median, quartiles and range, and how many references came before the scan.

Both describe the index tests: a patient's follow-up and repeat scans
(:func:`nethelpers.readings.repeat_scans`) are not index tests and are left out (notebook 06
analyses the follow-ups).

The report runner writes both as ``tables/stard_alternative_diagnoses.csv`` and
``tables/stard_time_to_reference.csv`` (:func:`nethelpers.stard.stard_tables`); no date
leaves this module, only intervals in days.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.readings import repeat_scans
from nethelpers.timepoints import lesions_at_baseline

__all__ = ["ALTERNATIVES", "INTERVALS", "alternative_diagnoses", "time_to_reference"]

ALTERNATIVES = "stard_alternative_diagnoses"
"""Table name of item 21b."""

INTERVALS = "stard_time_to_reference"
"""Table name of item 22."""

ALT_COLUMNS = ["level", "diagnosis", "reference_standard", "n", "denominator"]


def _text(frame: pd.DataFrame, column: str, missing: str) -> pd.Series:
    """A text column with ``missing`` for blanks, or all ``missing`` when there is none."""
    if column not in frame.columns:
        return pd.Series(missing, index=frame.index)
    return frame[column].astype("string").fillna(missing).replace("", missing).astype(str)


def _patient_alternatives(patients: pd.DataFrame) -> pd.DataFrame:
    if "disease_present" not in patients.columns:
        return pd.DataFrame(columns=ALT_COLUMNS)
    free = patients[patients["disease_present"].astype("boolean").eq(False).fillna(False)]
    if free.empty:
        return pd.DataFrame(columns=ALT_COLUMNS)
    diagnosis = _text(free, "final_diagnosis", "not recorded").replace(
        "none", "no target condition (final diagnosis none)")
    reference = _text(free, "reference_standard", "not recorded")
    counts = (pd.DataFrame({"diagnosis": diagnosis, "reference_standard": reference})
              .value_counts().rename("n").reset_index())
    counts.insert(0, "level", "patient")
    counts["denominator"] = len(free)
    return counts[ALT_COLUMNS]


def _lesion_alternatives(lesions: pd.DataFrame) -> pd.DataFrame:
    if lesions is None or lesions.empty or "malignant" not in lesions.columns:
        return pd.DataFrame(columns=ALT_COLUMNS)
    lesions = lesions[lesions_at_baseline(lesions)]
    benign = lesions[lesions["malignant"].astype("boolean").eq(False).fillna(False)]
    if benign.empty:
        return pd.DataFrame(columns=ALT_COLUMNS)
    truth = _text(benign, "truth", "not malignant")
    described = _text(benign, "description", "")
    truth = truth.where(described == "", truth + ": " + described)
    reference = _text(benign, "reference_standard", "not recorded")
    counts = (pd.DataFrame({"diagnosis": truth, "reference_standard": reference})
              .value_counts().rename("n").reset_index())
    counts.insert(0, "level", "lesion")
    counts["denominator"] = len(benign)
    return counts[ALT_COLUMNS]


def alternative_diagnoses(patients: pd.DataFrame,
                          lesions: pd.DataFrame | None = None) -> pd.DataFrame:
    """STARD 21b: alternative diagnoses of the patients and lesions without the condition.

    Parameters
    ----------
    patients : pandas.DataFrame
        The checked patients table (``disease_present``, ``final_diagnosis``,
        ``reference_standard``).
    lesions : pandas.DataFrame, optional
        The checked lesions table (``malignant``, ``truth``, ``description``,
        ``reference_standard``; a lesion whose ``first_time_point`` is a follow-up is left
        out: new at a follow-up, it is not a lesion of the index tests).

    Returns
    -------
    pandas.DataFrame
        ``level`` (patient, lesion), ``diagnosis``, ``reference_standard``, ``n`` and
        ``denominator`` (patients without disease; lesions not malignant), most frequent
        first within each level. A patient with unknown disease status is not counted.
    """
    parts = [_patient_alternatives(patients), _lesion_alternatives(lesions)]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=ALT_COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out["n"] = out["n"].astype(int)
    out["denominator"] = out["denominator"].astype(int)
    return out


def time_to_reference(patients: pd.DataFrame, scans: pd.DataFrame) -> pd.DataFrame:
    """STARD 22: days from each index test (baseline scan) to the reference standard.

    A patient's follow-up and repeat scans (:func:`nethelpers.readings.repeat_scans`) are
    not index tests and are left out: a follow-up months after the baseline would count the
    patient twice and could even come after the reference standard.

    Parameters
    ----------
    patients : pandas.DataFrame
        The checked patients table; ``reference_date`` (optional column) is the date the
        reference standard was established (histopathology, end of follow-up).
    scans : pandas.DataFrame
        The checked scans table (``scan_id, patient_id, tracer, modality, scan_date``,
        ``time_point`` when recorded).

    Returns
    -------
    pandas.DataFrame
        One row per tracer × modality: ``tracer, modality, scans`` (index tests), ``n``
        (scans whose patient has a reference date), ``days_median, days_q1, days_q3,
        days_min, days_max`` and ``n_reference_before_scan``; empty when the patients table
        has no ``reference_date``.
    """
    columns = ["tracer", "modality", "scans", "n", "days_median", "days_q1", "days_q3",
               "days_min", "days_max", "n_reference_before_scan"]
    if "reference_date" not in patients.columns or "scan_date" not in scans.columns:
        return pd.DataFrame(columns=columns)
    ref = pd.to_datetime(patients.set_index("patient_id")["reference_date"], errors="coerce")
    if "scan_id" in scans.columns:
        scans = scans[~scans["scan_id"].astype(str).isin(repeat_scans(scans))]
    frame = scans[["patient_id", "tracer", "modality", "scan_date"]].copy()
    frame["days"] = (frame["patient_id"].map(ref)
                     - pd.to_datetime(frame["scan_date"], errors="coerce")).dt.days
    rows = []
    for (tracer, modality), group in frame.groupby(["tracer", "modality"], sort=True):
        days = group["days"].dropna()
        rows.append({"tracer": tracer, "modality": modality, "scans": len(group),
                     "n": len(days),
                     "days_median": days.median() if len(days) else None,
                     "days_q1": days.quantile(0.25) if len(days) else None,
                     "days_q3": days.quantile(0.75) if len(days) else None,
                     "days_min": days.min() if len(days) else None,
                     "days_max": days.max() if len(days) else None,
                     "n_reference_before_scan": int((days < 0).sum())})
    return pd.DataFrame(rows, columns=columns)
