"""TIO: the culprit's uptake on each scan type, and the clinical variables against it.

Uptake is *described* per scan type, never tested across them: a ⁶⁸Ga-DOTATATE PET SUV, a
⁹⁹ᵐTc-HYNIC-TOC SPECT value and an FDG SUV come from different physics (positron versus
single-photon emission, attenuation and scatter correction, resolution of about 4-5 mm
against 10-14 mm, so partial-volume losses in a small culprit differ several-fold) and
different biology (receptor binding versus glucose metabolism). A counts-only SPECT has no
SUV at all; its tumour-to-background ratios (lesion maximum over the mean of the liver, or
of a shell of surrounding normal tissue) are measured, and are what the three scan types
share. A SPECT measurement is taken as an SUV only when measurements.csv says so
(``quantity`` "SUV"); without that column a SPECT row's ``suv_max`` is not described.

The clinical variables of TIO (FGF23, ``fgf23_ru_ml``; serum phosphate, ``phosphate_mmol_l``)
are set against the culprit's uptake per patient (the largest over his culprits) with
Spearman's rank correlation and a confidence interval by Fisher's z with the Bonett-Wright
(2000) variance (1 + ρ²/2)/(n − 3). With the few TIO patients of a study this is exploratory.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from nethelpers.scantypes import ScanTypes
from nethelpers.tables import continuous_summary
from nethelpers.tiocompare import CULPRIT, present_roles

__all__ = ["CLINICAL", "SPEARMAN_WORDS", "VALUES", "clinical_correlations", "culprit_uptake",
           "needs_clinical", "per_patient", "spearman_ci", "uptake_summary"]

VALUES = {"suv_max": "SUVmax (g/ml)", "tb_liver": "T/B liver (lesion max / liver mean)",
          "tb_shell": "T/B surrounding tissue (max / shell mean)"}
"""The culprit's uptake measures, with their labels."""

CLINICAL = {"fgf23_ru_ml": "FGF23 (RU/ml)", "phosphate_mmol_l": "Phosphate (mmol/l)"}
"""The clinical variables of TIO (patients table), with their labels."""

SPEARMAN_WORDS = ("Spearman's rho; CI by Fisher's z with the Bonett-Wright variance "
                  "(1 + rho^2/2)/(n - 3)")
"""The correlation and its interval, in words."""

MIN_RHO = 3
"""Fewest patients for a rank correlation."""


def _quantity(rows: pd.DataFrame, vocabulary: Any) -> pd.Series:
    """``SUV`` or ``counts`` per measurement row: the ``quantity`` column, else PET is SUV."""
    if "quantity" in rows:
        return rows["quantity"].astype("string").fillna("")
    pet = rows["modality"].astype(str).isin(set(vocabulary.pet_modalities))
    return pd.Series(np.where(pet, "SUV", ""), index=rows.index, dtype="string")


def culprit_uptake(measurements: pd.DataFrame, cases: pd.DataFrame, types: ScanTypes, *,
                   exclude: Collection[str] = ()) -> pd.DataFrame:
    """The culprit lesions measured on each scan type (each patient's first measured scan).

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv (``roi == "lesion"`` rows; ``quantity`` when quantify writes it).
    cases : pandas.DataFrame
        :func:`nethelpers.tiocompare.tio_cases`.
    types : ScanTypes
        The study's scan types (``vocabulary`` tells PET from SPECT).
    exclude : collection of str
        Scan IDs left out (the repeat scans).

    Returns
    -------
    pandas.DataFrame
        ``role, scan_type, patient_id, lesion_id, scan_id, quantity, suv_max, tb_liver,
        tb_shell``; ``suv_max`` is NaN unless ``quantity`` is ``"SUV"``.
    """
    cols = ["role", "scan_type", "patient_id", "lesion_id", "scan_id", "quantity", *VALUES]
    culprit = cases[cases["status"] == CULPRIT]
    wanted = {(p, lid) for p, ids in zip(culprit["patient_id"], culprit["culprits"], strict=True)
              for lid in ids.split(";")}
    if not len(measurements) or not wanted:
        return pd.DataFrame(columns=cols)
    m = measurements[(measurements["roi"] == "lesion") & measurements["lesion_id"].notna()
                     & ~measurements["scan_id"].astype(str).isin(set(exclude))].copy()
    m = m[[(str(p), str(lid)) in wanted for p, lid in zip(m["patient_id"], m["lesion_id"],
                                                         strict=True)]]
    frames = []
    for role in present_roles(types):
        st = getattr(types, role)
        own = m[(m["tracer"].astype(str) == st.tracer) & (m["modality"].astype(str) == st.modality)]
        own = own[own["scan_id"] == own.groupby("patient_id")["scan_id"].transform("min")]
        frames.append(own.assign(role=role, scan_type=st.label,
                                 quantity=_quantity(own, types.vocabulary)))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    for col in VALUES:
        out[col] = pd.to_numeric(out[col], errors="coerce") if col in out else np.nan
    out["suv_max"] = out["suv_max"].where(out["quantity"] == "SUV")
    out[["patient_id", "lesion_id", "scan_id"]] = out[["patient_id", "lesion_id",
                                                       "scan_id"]].astype(str)
    return out[cols].sort_values(["role", "patient_id", "lesion_id"]).reset_index(drop=True)


def uptake_summary(uptake: pd.DataFrame, types: ScanTypes) -> pd.DataFrame:
    """Each scan type's culprit uptake, described (median, quartiles; no test across types).

    Parameters
    ----------
    uptake : pandas.DataFrame
        :func:`culprit_uptake`.
    types : ScanTypes
        The study's scan types.

    Returns
    -------
    pandas.DataFrame
        One row per present role × measure of :data:`VALUES`: ``scan_type, measurement,
        quantity, culprits, patients, median, q1, q3, min, max, note`` (quartiles by
        linear interpolation). A scan type measured without SUV (counts-only SPECT, or
        SPECT whose quantity is not recorded) has its SUVmax row with 0 culprits and a note.
    """
    rows = []
    for role in present_roles(types):
        mine = uptake[uptake["role"] == role]
        quantities = sorted(set(mine["quantity"].astype(str)) - {""})
        for col, label in VALUES.items():
            data = mine.dropna(subset=[col])
            s = continuous_summary(data[col])
            note = "descriptive: not compared across scan types (different physics)"
            if col == "suv_max" and len(mine) and data.empty:
                note = ("no SUV: the culprit was measured in counts (or its quantity is not "
                        "recorded), so only its ratios are described")
            rows.append({"scan_type": getattr(types, role).label, "measurement": label,
                         "quantity": "ratio" if col != "suv_max" else "SUV",
                         "measured_as": "/".join(quantities), "culprits": len(data),
                         "patients": int(data["patient_id"].nunique()), "median": s["median"],
                         "q1": s["q1"], "q3": s["q3"], "min": s["min"], "max": s["max"],
                         "note": note})
    cols = ["scan_type", "measurement", "quantity", "measured_as", "culprits", "patients",
            "median", "q1", "q3", "min", "max", "note"]
    return pd.DataFrame(rows, columns=cols)


def per_patient(uptake: pd.DataFrame) -> pd.DataFrame:
    """Each patient's culprit uptake per scan type: the largest over his culprits.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, role, scan_type`` and the :data:`VALUES` columns (long: one row per
        patient × scan type measured).
    """
    if uptake.empty:
        return pd.DataFrame(columns=["patient_id", "role", "scan_type", *VALUES])
    out = uptake.groupby(["patient_id", "role", "scan_type"], sort=True)[list(VALUES)].max()
    return out.reset_index()


def spearman_ci(x: Any, y: Any, level: float = 0.95) -> dict[str, Any]:
    """Spearman's rank correlation with a Fisher-z interval (Bonett-Wright variance).

    ρ is Pearson's correlation of the mid-ranks (ties share their average rank). The
    interval is tanh(atanh(ρ) ± z·sqrt((1 + ρ²/2)/(n − 3))) (Bonett & Wright 2000).

    Parameters
    ----------
    x, y : array_like
        Paired values; pairs with a missing value are left out.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``n, rho, lower, upper, method, note``: ρ needs :data:`MIN_RHO` pairs and both
        variables not constant; the interval needs n ≥ 4 and |ρ| < 1 (else NaN with a note).
    """
    data = pd.DataFrame({"x": pd.to_numeric(pd.Series(x), errors="coerce"),
                         "y": pd.to_numeric(pd.Series(y), errors="coerce")}).dropna()
    n = len(data)
    out: dict[str, Any] = {"n": n, "rho": math.nan, "lower": math.nan, "upper": math.nan,
                           "method": SPEARMAN_WORDS, "note": ""}
    if n < MIN_RHO:
        out["note"] = f"not estimable: rho needs at least {MIN_RHO} patients, there are {n}"
        return out
    rx, ry = data["x"].rank().to_numpy(), data["y"].rank().to_numpy()
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        out["note"] = "not estimable: one variable has the same value in every patient"
        return out
    rho = float(np.corrcoef(rx, ry)[0, 1])
    out["rho"] = rho
    if n < 4 or abs(rho) >= 1.0:
        out["note"] = ("no CI: the Fisher z interval needs n >= 4 and |rho| < 1 "
                       f"(n = {n}, rho = {rho:.2f})")
        return out
    z = float(stats.norm.isf((1.0 - level) / 2.0))
    half = z * math.sqrt((1.0 + rho * rho / 2.0) / (n - 3))
    centre = math.atanh(rho)
    out["lower"], out["upper"] = math.tanh(centre - half), math.tanh(centre + half)
    out["note"] = "exploratory: few patients"
    return out


def clinical_correlations(patients: pd.DataFrame, uptake: pd.DataFrame, types: ScanTypes,
                          level: float = 0.95) -> pd.DataFrame:
    """FGF23 and phosphate against the culprit's uptake, per scan type (exploratory).

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (the :data:`CLINICAL` columns it has).
    uptake : pandas.DataFrame
        :func:`per_patient`.
    types : ScanTypes
        The study's scan types: SUVmax is used on the SSTR PET only, the ratios on each.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per clinical variable × uptake measure: ``variable, uptake, scan_type,
        n, rho, lower, upper, method, level, note`` (:func:`spearman_ci`).
    """
    rows = []
    measures = [("sstr_pet", "suv_max")] + [(r, c) for r in present_roles(types)
                                            for c in ("tb_liver", "tb_shell")]
    for variable, var_label in CLINICAL.items():
        if variable not in patients:
            continue
        values = patients.set_index(patients["patient_id"].astype(str))[variable]
        for role, col in measures:
            st = getattr(types, role)
            if st is None:
                continue
            mine = uptake[uptake["role"] == role].dropna(subset=[col])
            x = mine["patient_id"].astype(str).map(values)
            r = spearman_ci(x, mine[col], level)
            rows.append({"variable": var_label, "uptake": f"{st.label} {VALUES[col]}",
                         "scan_type": st.label, "measure": col} | r | {"level": level})
    cols = ["variable", "uptake", "scan_type", "measure", "n", "rho", "lower", "upper",
            "method", "level", "note"]
    return pd.DataFrame(rows, columns=cols)


def needs_clinical(patients: pd.DataFrame, cases: pd.DataFrame) -> str:
    """Return a note if no TIO patient has an FGF23 or a phosphate value ("" otherwise).

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table.
    cases : pandas.DataFrame
        :func:`nethelpers.tiocompare.tio_cases`.

    Returns
    -------
    str
        One sentence naming the columns and where they go.
    """
    tio = patients[patients["patient_id"].astype(str).isin(set(cases["patient_id"]))]
    if any(c in tio and tio[c].notna().any() for c in CLINICAL):
        return ""
    return ("No TIO patient has an FGF23 (fgf23_ru_ml) or phosphate (phosphate_mmol_l) value "
            "yet: fill them in the patients table (the values at diagnosis, before surgery).")
