"""Summary tables of the quantification for the report (notebook 03).

Every function takes the tidy outputs of :func:`nethelpers.quantify.quantify_cohort`
(``measurements``, ``patients``, ``qc``) and the cohort tables, and returns a tidy DataFrame
with counts beside every summary, so a reader of the report can see what each number rests on.
Continuous values are summarised as median and interquartile range (quartiles by linear
interpolation), by :func:`nethelpers.tables.continuous_summary` like Table 1.

The study's vocabulary (``cohort.vocabulary``) says which tracers are SSTR ligands, which
groups are assessed for PRRT and in which order groups, tracers and modalities are listed; the
protocol's vocabulary is the default. A lesion of a patient without a recorded group is
counted under :data:`nethelpers.groups.NOT_RECORDED`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from nethelpers.groups import group_order, patient_groups
from nethelpers.scores import NETPET_GRADES
from nethelpers.tables import continuous_summary
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = [
    "ELIGIBILITY_COLUMNS",
    "NOT_AVAILABLE",
    "dual_tracer_patients",
    "estimate_text",
    "flip_flop_summary",
    "krenning_distribution",
    "lesion_measurements",
    "netpet_by_grade",
    "netpet_net_only",
    "liver_reference_summary",
    "netpet_distribution",
    "prrt_eligibility",
    "qc_summary",
    "uptake_summary",
]


NOT_AVAILABLE = "not available"
"""A notebook summary's value for a number whose section waits for data."""

UNDEFINED = {"sensitivity": "no {unit} with the disease",
             "specificity": "no {unit} without the disease",
             "ppv": "no positive result", "npv": "no negative result"}
"""Why a proportion has no estimate: its denominator is empty."""


def estimate_text(row: pd.Series | object, unit: str = "patient", digits: int = 2) -> str:
    """An accuracy estimate with its interval for a summary, or why there is none.

    Parameters
    ----------
    row : pandas.Series or namedtuple
        A row of :func:`nethelpers.readings.accuracy_by` (``measure, estimate, lower,
        upper, denominator``).
    unit : str
        The unit in words, for the reason (``"patient"``, ``"lesion"``).
    digits : int
        Decimals.

    Returns
    -------
    str
        E.g. ``"0.83 (0.44–0.97)"``; ``"not estimable (no patient with the disease)"`` when
        the estimate is missing.
    """
    estimate, lower, upper = (getattr(row, k) for k in ("estimate", "lower", "upper"))
    if pd.isna(estimate):
        why = UNDEFINED.get(str(getattr(row, "measure", "")), "not enough data")
        return f"not estimable ({why.format(unit=unit)})"
    if pd.isna(lower) or pd.isna(upper):
        return f"{estimate:.{digits}f} (no interval)"
    return f"{estimate:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"


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


def _ranked(frame: pd.DataFrame, vocabulary: Vocabulary | None) -> pd.DataFrame:
    """Sort rows by tracer, modality and group in the vocabulary's order (stable)."""
    if vocabulary is None or frame.empty:
        return frame.reset_index(drop=True)
    orders = {"tracer": list(vocabulary.tracer_names),
              "modality": list(vocabulary.modality_names),
              "group": group_order(frame["group"], vocabulary) if "group" in frame else []}
    keys = [c for c in orders if c in frame.columns]
    ranks = {c: frame[c].astype(str).map({v: i for i, v in enumerate(orders[c])})
             .fillna(len(orders[c])) for c in keys}
    order = np.lexsort([ranks[c].to_numpy() for c in reversed(keys)])
    return frame.iloc[order].reset_index(drop=True)


def liver_reference_summary(measurements: pd.DataFrame,
                            vocabulary: Vocabulary | None = None) -> pd.DataFrame:
    """The liver reference (3 cm sphere) SUVmean per tracer and modality: a QC of the SUV.

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv (``roi, tracer, modality, suv_mean``).
    vocabulary : Vocabulary, optional
        Lists tracers and modalities in its order (default: alphabetical).

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, n, median, q1, q3, min, max, cv_pct`` (between-scan coefficient
        of variation of the liver SUVmean, in %); empty when no scan has a liver VOI.
    """
    liver = measurements[measurements["roi"] == "liver"]
    rows = []
    for (tracer, modality), g in liver.groupby(["tracer", "modality"], sort=True):
        s = continuous_summary(g["suv_mean"])
        rows.append({"tracer": tracer, "modality": modality,
                     **{k: s[k] for k in ("n", "median", "q1", "q3", "min", "max")},
                     "cv_pct": 100 * s["sd"] / s["mean"]})
    return _ranked(pd.DataFrame(rows, columns=["tracer", "modality", "n", "median", "q1", "q3",
                                               "min", "max", "cv_pct"]), vocabulary)


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
        Lesion rows; lesions without a row in the lesions table (or without a recorded
        site) get site "unknown" and a missing truth; the group of a patient without one is
        :data:`nethelpers.groups.NOT_RECORDED`.
    """
    les = measurements[measurements["roi"] == "lesion"].copy()
    info = lesions[["lesion_id", "site", "truth", "malignant"]].copy()
    info["site"] = info["site"].astype(object).where(info["site"].notna(), "unknown")
    info["truth"] = info["truth"].astype("string")
    les = les.merge(info, on="lesion_id", how="left")
    les["site"] = les["site"].fillna("unknown")
    groups = pd.DataFrame({"patient_id": patients["patient_id"].to_numpy(),
                           "group": patient_groups(patients).to_numpy()})
    les = les.merge(groups, on="patient_id", how="left")
    return les.assign(group=patient_groups(les))


def uptake_summary(lesion_rows: pd.DataFrame, by: Sequence[str],
                   values: Sequence[str] = ("suv_max", "suv_peak", "tb_liver"),
                   vocabulary: Vocabulary | None = None) -> pd.DataFrame:
    """Median [IQR] of uptake measures per group of lesions.

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`lesion_measurements`.
    by : sequence of str
        Grouping columns, e.g. ``("tracer", "modality", "site")``.
    values : sequence of str
        Measures to summarise.
    vocabulary : Vocabulary, optional
        Lists tracers, modalities and groups in its order (default: sorted).

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
    columns = [*by, "n_lesions", "n_patients",
               *(f"{v}_{k}" for v in values for k in ("median", "q1", "q3"))]
    return _ranked(pd.DataFrame(rows, columns=columns), vocabulary)


def _in_groups(lesion_rows: pd.DataFrame, group: str | Sequence[str] | None) -> pd.DataFrame:
    if group is None:
        return lesion_rows
    groups = [group] if isinstance(group, str) else list(group)
    return lesion_rows[lesion_rows["group"].astype(str).isin(groups)]


def krenning_distribution(lesion_rows: pd.DataFrame, group: str | Sequence[str] | None = None,
                          vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> pd.DataFrame:
    """Lesions per modified Krenning grade on SSTR PET, by tracer and modality.

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`lesion_measurements` (``krenning`` from :mod:`nethelpers.scores`).
    group : str or sequence of str, optional
        Only these patient groups (e.g. ``vocabulary.prrt_groups``).
    vocabulary : Vocabulary
        Its SSTR tracers (family ``sstr``) are counted, in its order.

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, krenning, n_lesions, pct`` (within tracer × modality), plus a
        row ``krenning = "not scored"`` for lesions without a grade (no liver or spleen).
    """
    rows = _in_groups(lesion_rows, group)
    rows = rows[rows["tracer"].astype(str).isin(vocabulary.sstr_tracers)]
    out = []
    for (tracer, modality), g in rows.groupby(["tracer", "modality"], sort=True):
        grades = g["krenning"].astype("Int64")
        counts = {str(k): int((grades == k).sum()) for k in range(1, 5)}
        counts["not scored"] = int(grades.isna().sum())
        for grade, n in counts.items():
            out.append({"tracer": tracer, "modality": modality, "krenning": grade,
                        "n_lesions": n, "pct": 100.0 * n / len(g) if len(g) else np.nan})
    return _ranked(pd.DataFrame(out, columns=["tracer", "modality", "krenning", "n_lesions",
                                              "pct"]), vocabulary)


ELIGIBILITY_COLUMNS = ("patient_id", "tracer", "modality", "n_lesions", "n_krenning_3_4",
                       "min_krenning", "eligible")


def _sstr_pet_scan(rows: pd.DataFrame, vocabulary: Vocabulary, tracer: str | None,
                   modality: str | None) -> pd.DataFrame:
    """The rows of a patient's SSTR PET scan type used for PRRT (PET/CT first)."""
    tracers = [tracer] if tracer else [t for t in vocabulary.tracer_names
                                       if t in vocabulary.sstr_tracers]
    modalities = [modality] if modality else list(vocabulary.pet_modalities)
    have = set(zip(rows["tracer"].astype(str), rows["modality"].astype(str), strict=True))
    for m in modalities:
        for t in tracers:
            if (t, m) in have:
                return rows[(rows["tracer"].astype(str) == t)
                            & (rows["modality"].astype(str) == m)]
    return rows.iloc[0:0]


def prrt_eligibility(lesion_rows: pd.DataFrame, group: str | Sequence[str] | None = None,
                     tracer: str | None = None, modality: str | None = None,
                     vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> pd.DataFrame:
    """SSTR expression for PRRT per patient: Krenning >= 3 (above liver) in every lesion.

    The rule (stated in the report): a patient of a PRRT group is eligible by imaging when
    every malignant lesion measured on the patient's SSTR PET scan has a modified Krenning
    score of 3 or 4; a patient with any scored malignant lesion below 3 is not; a patient
    without a scored malignant lesion is "not assessable". The SSTR PET scan is the first
    of the patient's scan types in the vocabulary's order of PET modalities, then of SSTR
    tracers (DOTATATE PET/CT before DOTATATE PET/MR by default).

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`lesion_measurements` (``malignant`` from the lesions table).
    group : str or sequence of str, optional
        The groups assessed; default the vocabulary's PRRT groups (``prrt: true``).
    tracer, modality : str, optional
        Only this scan type (default: chosen per patient as above).
    vocabulary : Vocabulary
        The study's codes.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, tracer, modality, n_lesions, n_krenning_3_4, min_krenning,
        eligible`` (``yes``, ``no`` or ``not assessable``).
    """
    groups = vocabulary.prrt_groups if group is None else group
    rows = _in_groups(lesion_rows, groups)
    rows = rows[rows["tracer"].astype(str).isin(vocabulary.sstr_tracers)]
    out = []
    for pid, scans in rows.groupby("patient_id", sort=True):
        g = _sstr_pet_scan(scans, vocabulary, tracer, modality)
        g = g[g["malignant"].astype("boolean").fillna(False).astype(bool)]
        if g.empty:
            continue
        grades = g["krenning"].astype("Int64").dropna()
        if grades.empty:
            verdict = "not assessable"
        else:
            verdict = "yes" if int(grades.min()) >= 3 else "no"
        out.append({"patient_id": pid, "tracer": str(g["tracer"].iloc[0]),
                    "modality": str(g["modality"].iloc[0]), "n_lesions": len(g),
                    "n_krenning_3_4": int((grades >= 3).sum()),
                    "min_krenning": int(grades.min()) if not grades.empty else pd.NA,
                    "eligible": verdict})
    return pd.DataFrame(out, columns=list(ELIGIBILITY_COLUMNS))


def dual_tracer_patients(measurements: pd.DataFrame,
                         vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> pd.DataFrame:
    """Patients with a measured FDG PET and a measured SSTR PET scan (what NETPET needs).

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv (``patient_id, scan_id, tracer, modality``).
    vocabulary : Vocabulary
        Tracer families (``fdg``, ``sstr``) and modality systems (``PET``).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, fdg_scans, sstr_scans`` (measured PET scans of each family), only the
        patients with at least one of each, sorted by patient.
    """
    columns = ["patient_id", "fdg_scans", "sstr_scans"]
    if measurements.empty:
        return pd.DataFrame(columns=columns)
    scans = measurements[["patient_id", "scan_id", "tracer", "modality"]].drop_duplicates()
    scans = scans[scans["modality"].astype(str).isin(vocabulary.pet_modalities)]
    tracer = scans["tracer"].astype(str)
    counts = pd.DataFrame({
        "fdg_scans": tracer.isin(vocabulary.fdg_tracers).groupby(scans["patient_id"]).sum(),
        "sstr_scans": tracer.isin(vocabulary.sstr_tracers).groupby(scans["patient_id"]).sum(),
    }).astype(int)
    both = counts[(counts["fdg_scans"] > 0) & (counts["sstr_scans"] > 0)]
    both = both.rename_axis("patient_id").reset_index()
    return both.sort_values("patient_id")[columns].reset_index(drop=True)


def netpet_distribution(patients_netpet: pd.DataFrame, patients: pd.DataFrame,
                        vocabulary: Vocabulary | None = None) -> pd.DataFrame:
    """Patients per NETPET grade (P0-P5, or not graded with the reason) and group.

    Parameters
    ----------
    patients_netpet : pandas.DataFrame
        ``patient_id, netpet, reason`` (patients.csv of the quantification).
    patients : pandas.DataFrame
        ``patient_id, group`` (a missing group counts as "Not recorded").
    vocabulary : Vocabulary, optional
        Lists the groups in its order (default: sorted).

    Returns
    -------
    pandas.DataFrame
        ``group, netpet, n_patients``.
    """
    groups = pd.DataFrame({"patient_id": patients["patient_id"].to_numpy(),
                           "group": patient_groups(patients).to_numpy()})
    df = patients_netpet.merge(groups, on="patient_id", how="left")
    df["group"] = patient_groups(df)
    df["netpet"] = df["netpet"].astype(object).where(df["netpet"].notna(),
                                                     "not graded: " + df["reason"].fillna(""))
    counts = df.groupby(["group", "netpet"], sort=True).size().rename("n_patients")
    out = counts.reset_index().reindex(columns=["group", "netpet", "n_patients"])
    return _ranked(out, vocabulary)


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
        :func:`nethelpers.comparisons.paired_lesions` of an SSTR scan type (``a``) and an FDG
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


NETPET_DIAGNOSES = ("NET",)
"""Final diagnoses NETPET grades: it is defined for neuroendocrine tumours (Chan 2017), not
for TIO (a mesenchymal tumour) nor for disease-free patients."""


def netpet_net_only(patients_netpet: pd.DataFrame, patients: pd.DataFrame,
                    diagnoses: Sequence[str] = NETPET_DIAGNOSES
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the NETPET grades of patients whose final diagnosis is a NET; count the others.

    Parameters
    ----------
    patients_netpet : pandas.DataFrame
        ``patient_id, netpet`` (patients.csv of the quantification).
    patients : pandas.DataFrame
        ``patient_id, final_diagnosis`` (the cohort's patients).
    diagnoses : sequence of str
        Final diagnoses NETPET applies to.

    Returns
    -------
    kept : pandas.DataFrame
        The rows of ``patients_netpet`` of those patients.
    excluded : pandas.DataFrame
        ``final_diagnosis, n_patients, n_graded`` (patients left out, and how many of them
        had a NETPET grade computed from their scans), one row per other diagnosis
        (``"not recorded"`` for a missing one); empty when none is left out.
    """
    dx = patients.set_index("patient_id")["final_diagnosis"].astype("string")
    own = patients_netpet["patient_id"].map(dx).fillna("not recorded").astype(str)
    keep = own.isin(set(diagnoses))
    out = patients_netpet[~keep].assign(final_diagnosis=own[~keep])
    excluded = (out.groupby("final_diagnosis", sort=True)
                .agg(n_patients=("patient_id", "size"), n_graded=("netpet", "count"))
                .reset_index())
    return patients_netpet[keep].reset_index(drop=True), excluded


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
