"""Summary tables of the quantification for the report (notebook 03).

Every function takes the tidy outputs of :func:`nethelpers.quantify.quantify_cohort`
(``measurements``, ``patients``, ``qc``) and the cohort tables, and returns a tidy DataFrame
with counts beside every summary, so a reader of the report can see what each number rests on.
Continuous values are summarised as median and interquartile range (quartiles by linear
interpolation), by :func:`nethelpers.tables.continuous_summary` like Table 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nethelpers.scores import NETPET_GRADES, SSTR_TRACERS
from nethelpers.tables import continuous_summary

__all__ = [
    "flip_flop_summary",
    "krenning_distribution",
    "lesion_measurements",
    "netpet_by_grade",
    "liver_reference_summary",
    "netpet_distribution",
    "prrt_eligibility",
    "qc_summary",
    "uptake_summary",
]


def _median_iqr(values: pd.Series) -> dict[str, float]:
    s = continuous_summary(values)
    return {k: s[k] for k in ("n", "median", "q1", "q3")}


def qc_summary(qc: pd.DataFrame) -> pd.DataFrame:
    """Scans per status (ok, failed, skipped, excluded) with the reasons of the others.

    Parameters
    ----------
    qc : pandas.DataFrame
        The QC table of the cohort run.

    Returns
    -------
    pandas.DataFrame
        ``status, n_scans, scans, reasons``.
    """
    rows = []
    for status, group in qc.groupby("status", sort=True):
        reasons = "" if status == "ok" else "; ".join(
            f"{r.scan_id}: {r.reason}" for r in group.itertuples())
        rows.append({"status": status, "n_scans": len(group),
                     "scans": ", ".join(group["scan_id"]) if status != "ok" else "",
                     "reasons": reasons})
    return pd.DataFrame(rows, columns=["status", "n_scans", "scans", "reasons"])


def liver_reference_summary(measurements: pd.DataFrame) -> pd.DataFrame:
    """The liver reference (3 cm sphere) SUVmean per tracer and modality: a QC of the SUV.

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, n, median, q1, q3, min, max, cv_pct`` (between-scan coefficient
        of variation of the liver SUVmean, in %).
    """
    liver = measurements[measurements["roi"] == "liver"]
    rows = []
    for (tracer, modality), g in liver.groupby(["tracer", "modality"], sort=True):
        s = continuous_summary(g["suv_mean"])
        rows.append({"tracer": tracer, "modality": modality,
                     **{k: s[k] for k in ("n", "median", "q1", "q3", "min", "max")},
                     "cv_pct": 100 * s["sd"] / s["mean"]})
    return pd.DataFrame(rows, columns=["tracer", "modality", "n", "median", "q1", "q3", "min",
                                       "max", "cv_pct"])


def lesion_measurements(measurements: pd.DataFrame, lesions: pd.DataFrame,
                        patients: pd.DataFrame) -> pd.DataFrame:
    """Lesion rows of the measurements with the lesion's site and truth and the patient's group.

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv.
    lesions : pandas.DataFrame
        The lesions table (``lesion_id, site, truth, malignant``).
    patients : pandas.DataFrame
        The patients table (``patient_id, group``).

    Returns
    -------
    pandas.DataFrame
        Lesion rows; lesions without a row in the lesions table get site "unknown".
    """
    les = measurements[measurements["roi"] == "lesion"].copy()
    info = lesions[["lesion_id", "site", "truth", "malignant"]].astype(
        {"site": str, "truth": str})
    les = les.merge(info, on="lesion_id", how="left")
    les["site"] = les["site"].fillna("unknown")
    groups = patients[["patient_id", "group"]].astype({"group": str})
    return les.merge(groups, on="patient_id", how="left")


def uptake_summary(lesion_rows: pd.DataFrame, by: Sequence[str],
                   values: Sequence[str] = ("suv_max", "suv_peak", "tb_liver")
                   ) -> pd.DataFrame:
    """Median [IQR] of uptake measures per group of lesions.

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`lesion_measurements`.
    by : sequence of str
        Grouping columns, e.g. ``("tracer", "modality", "site")``.
    values : sequence of str
        Measures to summarise.

    Returns
    -------
    pandas.DataFrame
        One row per group: the grouping columns, ``n_lesions``, ``n_patients`` and for each
        measure ``<measure>_median``, ``_q1``, ``_q3``.
    """
    rows = []
    for keys, g in lesion_rows.groupby(list(by), sort=True, dropna=False):
        keys = keys if isinstance(keys, tuple) else (keys,)
        row = dict(zip(by, keys, strict=True))
        row |= {"n_lesions": len(g), "n_patients": g["patient_id"].nunique()}
        for value in values:
            s = _median_iqr(g[value])
            row |= {f"{value}_median": s["median"], f"{value}_q1": s["q1"],
                    f"{value}_q3": s["q3"]}
        rows.append(row)
    return pd.DataFrame(rows)


def krenning_distribution(lesion_rows: pd.DataFrame, group: str | None = None
                          ) -> pd.DataFrame:
    """Lesions per modified Krenning grade on SSTR PET, by tracer and modality.

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`lesion_measurements` (``krenning`` from :mod:`nethelpers.scores`).
    group : str, optional
        Only this patient group (e.g. ``"prrt_net"``).

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, krenning, n_lesions, pct`` (within tracer × modality), plus a
        row ``krenning = "not scored"`` for lesions without a grade (no liver or spleen).
    """
    rows = lesion_rows if group is None else lesion_rows[lesion_rows["group"] == group]
    rows = rows[rows["tracer"].isin(SSTR_TRACERS)]
    out = []
    for (tracer, modality), g in rows.groupby(["tracer", "modality"], sort=True):
        grades = g["krenning"].astype("Int64")
        counts = {str(k): int((grades == k).sum()) for k in range(1, 5)}
        counts["not scored"] = int(grades.isna().sum())
        for grade, n in counts.items():
            out.append({"tracer": tracer, "modality": modality, "krenning": grade,
                        "n_lesions": n, "pct": 100.0 * n / len(g) if len(g) else np.nan})
    return pd.DataFrame(out, columns=["tracer", "modality", "krenning", "n_lesions", "pct"])


def prrt_eligibility(lesion_rows: pd.DataFrame, group: str = "prrt_net",
                     tracer: str = "DOTATATE", modality: str = "PET/CT") -> pd.DataFrame:
    """SSTR expression for PRRT per patient: Krenning >= 3 (above liver) in every lesion.

    The rule (stated in the report): a patient of ``group`` is eligible by imaging when every
    malignant lesion measured on the patient's ``tracer`` ``modality`` scan has a modified
    Krenning score of 3 or 4; a patient with any scored malignant lesion below 3 is not; a
    patient without a scored malignant lesion is "not assessable".

    Returns
    -------
    pandas.DataFrame
        ``patient_id, n_lesions, n_krenning_3_4, min_krenning, eligible`` (``yes``, ``no``
        or ``not assessable``).
    """
    rows = lesion_rows[(lesion_rows["group"] == group) & (lesion_rows["tracer"] == tracer)
                       & (lesion_rows["modality"] == modality)]
    rows = rows[rows["malignant"].astype("boolean").fillna(False).astype(bool)]
    out = []
    for pid, g in rows.groupby("patient_id", sort=True):
        grades = g["krenning"].astype("Int64").dropna()
        if grades.empty:
            verdict = "not assessable"
        else:
            verdict = "yes" if int(grades.min()) >= 3 else "no"
        out.append({"patient_id": pid, "n_lesions": len(g),
                    "n_krenning_3_4": int((grades >= 3).sum()),
                    "min_krenning": int(grades.min()) if not grades.empty else pd.NA,
                    "eligible": verdict})
    return pd.DataFrame(out, columns=["patient_id", "n_lesions", "n_krenning_3_4",
                                      "min_krenning", "eligible"])


def netpet_distribution(patients_netpet: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Patients per NETPET grade (P0-P5, or not graded with the reason) and group.

    Returns
    -------
    pandas.DataFrame
        ``group, netpet, n_patients``.
    """
    df = patients_netpet.merge(patients[["patient_id", "group"]].astype({"group": str}),
                               on="patient_id", how="left")
    df["netpet"] = df["netpet"].astype(object).where(df["netpet"].notna(),
                                                     "not graded: " + df["reason"].fillna(""))
    counts = df.groupby(["group", "netpet"], sort=True).size().rename("n_patients")
    return counts.reset_index()


QUADRANTS = ("sstr_only", "both", "fdg_only", "neither")
"""Uptake patterns of a lesion on SSTR and FDG PET (``fdg_only`` is the flip-flop pattern)."""


def flip_flop_summary(pairs: pd.DataFrame, patients: pd.DataFrame
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """SSTR-versus-FDG uptake of malignant lesions by tumour grade (the flip-flop pattern).

    Each lesion's pattern follows the protocol's positivity rule on each scan (the
    ``positive`` column of the measurements): ``fdg_only`` is the flip-flop pattern, FDG
    uptake above the reference without SSTR uptake above it (which includes Krenning 1-2).

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`nethelpers.readings.paired_lesions` of an SSTR scan type (``a``) and an FDG
        scan type (``b``) with measurements (``positive_a/_b``, ``lesion_to_liver_a/_b``).
    patients : pandas.DataFrame
        ``patient_id, grade`` (missing grade: ``"no grade"``, e.g. TIO).

    Returns
    -------
    lesions : pandas.DataFrame
        The malignant lesions scored on both: ``patient_id, lesion_id, site, grade,
        tb_sstr, tb_fdg`` (lesion-to-liver ratios), ``pattern`` (one of :data:`QUADRANTS`).
    summary : pandas.DataFrame
        Per grade (G1, G2, G3, no grade): ``patients, lesions``, median [IQR] of both
        ratios, the lesions of each pattern, the flip-flop percentage of the lesions and
        ``patients_fdg_only`` (patients with at least one flip-flop lesion).
    """
    grade = patients[["patient_id", "grade"]].astype({"grade": "string"})
    data = pairs[pairs["malignant"].astype("boolean").fillna(False).astype(bool)]
    data = data.dropna(subset=["positive_a", "positive_b"]).merge(grade, on="patient_id",
                                                                  how="left")
    data = data.assign(grade=data["grade"].fillna("no grade"),
                       tb_sstr=data["lesion_to_liver_a"], tb_fdg=data["lesion_to_liver_b"])
    sstr, fdg = data["positive_a"].astype(bool), data["positive_b"].astype(bool)
    data["pattern"] = np.select([sstr & ~fdg, sstr & fdg, ~sstr & fdg], QUADRANTS[:3],
                                QUADRANTS[3])
    lesions = data[["patient_id", "lesion_id", "site", "grade", "tb_sstr", "tb_fdg",
                    "pattern"]].reset_index(drop=True)
    rows = []
    for g, part in lesions.groupby("grade", sort=True):
        row: dict[str, object] = {"grade": g, "patients": part["patient_id"].nunique(),
                                  "lesions": len(part)}
        for col in ("tb_sstr", "tb_fdg"):
            row |= {f"{col}_{k}": v for k, v in _median_iqr(part[col]).items()}
        counts = part["pattern"].value_counts()
        row |= {p: int(counts.get(p, 0)) for p in QUADRANTS}
        row["fdg_only_percent"] = 100.0 * row["fdg_only"] / len(part)
        row["patients_fdg_only"] = part.loc[part["pattern"] == "fdg_only",
                                            "patient_id"].nunique()
        rows.append(row)
    return lesions, pd.DataFrame(rows)


def netpet_by_grade(patients_netpet: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Patients of each NETPET grade by WHO tumour grade (graded patients only).

    Parameters
    ----------
    patients_netpet : pandas.DataFrame
        ``patient_id, netpet`` (patients.csv of the quantification).
    patients : pandas.DataFrame
        ``patient_id, grade`` (missing: ``"no grade"``).

    Returns
    -------
    pandas.DataFrame
        One row per tumour grade: ``grade``, a column per NETPET grade P0-P5 (patients),
        ``patients``; patients without a NETPET grade are left out (see
        :func:`netpet_distribution` for why).
    """
    df = patients_netpet.dropna(subset=["netpet"]).merge(
        patients[["patient_id", "grade"]].astype({"grade": "string"}), on="patient_id",
        how="left")
    df["grade"] = df["grade"].fillna("no grade")
    table = pd.crosstab(df["grade"], pd.Categorical(df["netpet"], categories=NETPET_GRADES))
    table = table.reindex(columns=list(NETPET_GRADES), fill_value=0)
    table.columns = [str(c) for c in table.columns]
    table["patients"] = table.sum(axis=1)
    return table.rename_axis(None, axis=1).reset_index()
