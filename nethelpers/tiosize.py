"""TIO: the size of the culprit tumours each scan type detects and misses (notebook 4).

The protocol asks whether PET finds *smaller* culprits than SPECT: each culprit lesion (the
malignant lesions of a TIO patient, :mod:`nethelpers.tiocompare`) on each scan type read is
detected (the index-test reader called it positive) or missed (called negative or not
called at all), and the diameters (``diameter_mm`` of the lesions table) of each are described
per scan type. A culprit whose equivocal call is excluded by ``index_test.equivocal`` is in
neither.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nethelpers.scantypes import ScanTypes
from nethelpers.tables import continuous_summary
from nethelpers.tiocompare import CULPRIT, present_roles, read_scans

__all__ = ["culprit_lesion_reads", "size_summary"]


def culprit_lesion_reads(cases: pd.DataFrame, lesions: pd.DataFrame, results: pd.DataFrame,
                         types: ScanTypes, lesion_table: pd.DataFrame) -> pd.DataFrame:
    """Every culprit lesion on every read scan type of its patient, detected or not.

    Parameters
    ----------
    cases : pandas.DataFrame
        :func:`tio_cases`.
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level` (the index-test reader, its equivocal rule).
    results : pandas.DataFrame
        :func:`nethelpers.readings.patient_level` (same reader and rule).
    types : ScanTypes
        :func:`nethelpers.scantypes.pick_scan_types`.
    lesion_table : pandas.DataFrame
        The lesions table (``lesion_id``; ``diameter_mm`` when recorded).

    Returns
    -------
    pandas.DataFrame
        ``role, scan_type, patient_id, scan_id, lesion_id, diameter_mm, call, detected``:
        ``call`` is the reader's (``"not called"`` when the read scan has no call on it),
        ``detected`` the call as a test result (boolean; NA for an excluded equivocal call).
    """
    culprit = cases[cases["status"] == CULPRIT]
    pairs = culprit.assign(lesion_id=culprit["culprits"].str.split(";")).explode("lesion_id")
    scans = read_scans(results, types, culprit["patient_id"])
    out = scans.merge(pairs[["patient_id", "lesion_id"]], on="patient_id")
    calls = lesions[["scan_id", "lesion_id", "call", "test"]].astype(
        {"scan_id": str, "lesion_id": str})
    out = out.merge(calls, on=["scan_id", "lesion_id"], how="left")
    called = out["call"].notna()
    out["call"] = out["call"].where(called, "not called")
    detected = out["test"].astype("boolean")
    detected[~called] = False
    out["detected"] = detected
    sizes = (lesion_table[["lesion_id", "diameter_mm"]] if "diameter_mm" in lesion_table
             else lesion_table[["lesion_id"]].assign(diameter_mm=np.nan))
    out = out.merge(sizes.astype({"lesion_id": str}), on="lesion_id", how="left")
    out["diameter_mm"] = pd.to_numeric(out["diameter_mm"], errors="coerce")
    cols = ["role", "scan_type", "patient_id", "scan_id", "lesion_id", "diameter_mm", "call",
            "detected"]
    return out[cols].reset_index(drop=True)


def size_summary(culprit_lesions: pd.DataFrame, types: ScanTypes) -> pd.DataFrame:
    """Diameters of the culprit lesions detected and missed, per scan type.

    Parameters
    ----------
    culprit_lesions : pandas.DataFrame
        :func:`culprit_lesion_reads`.
    types : ScanTypes
        The study's scan types.

    Returns
    -------
    pandas.DataFrame
        Per present role × ``detected``/``missed``: ``scan_type, status, culprits, patients,
        median, q1, q3, min, max, no_diameter, note`` (diameter_mm; quartiles by linear
        interpolation; ``min`` of the detected row is the smallest culprit detected;
        ``no_diameter`` counts culprits without a recorded diameter). Culprits whose
        equivocal call is excluded are in neither.
    """
    rows = []
    for role in present_roles(types):
        mine = culprit_lesions[(culprit_lesions["role"] == role)
                               & culprit_lesions["detected"].notna()]
        for status, flag in (("detected", True), ("missed", False)):
            part = mine[mine["detected"].astype(bool) == flag]
            s = continuous_summary(part["diameter_mm"])
            rows.append({"scan_type": getattr(types, role).label, "status": status,
                         "culprits": len(part), "patients": int(part["patient_id"].nunique()),
                         "median": s["median"], "q1": s["q1"], "q3": s["q3"], "min": s["min"],
                         "max": s["max"], "no_diameter": s["n_missing"],
                         "note": "descriptive: culprit lesions (diameter_mm of the lesions "
                                 "table)"})
    cols = ["scan_type", "status", "culprits", "patients", "median", "q1", "q3", "min", "max",
            "no_diameter", "note"]
    return pd.DataFrame(rows, columns=cols)
