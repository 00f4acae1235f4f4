"""Index-test results from the readers' calls, at lesion and at patient level (notebook 05).

The readers' visual calls (positive / negative / equivocal per scan × lesion × reader) become
binary test results against the reference standard:

- **lesion level**: one row per scan × lesion; test = the reader called the lesion positive;
  truth = the lesion is malignant by the reference standard. Lesions of a patient are
  correlated: analyse with ``cluster="patient_id"``.
- **patient level**: one row per scan; test = at least one lesion called positive on the
  scan; truth = the patient has the disease (final diagnosis).

Equivocal calls are indeterminate results (STARD 2015 item 11): the rule applied is a
parameter (``"negative"``, ``"positive"`` or ``"exclude"``), and the number of equivocal
calls is reported beside every table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nethelpers.cohort import Cohort, reads_joined

__all__ = ["EQUIVOCAL_RULES", "accuracy_by", "false_calls", "lesion_level", "paired_lesions",
           "patient_level"]

EQUIVOCAL_RULES = ("negative", "positive", "exclude")


def _check_rule(equivocal: str) -> None:
    if equivocal not in EQUIVOCAL_RULES:
        raise ValueError(f"equivocal must be one of {', '.join(EQUIVOCAL_RULES)}; "
                         f"got {equivocal!r}")


def _test(calls: pd.Series, equivocal: str) -> pd.Series:
    """Positive -> True, negative -> False, equivocal -> by the rule (NA when excluded)."""
    out = pd.Series(pd.NA, index=calls.index, dtype="boolean")
    out[calls == "positive"] = True
    out[calls == "negative"] = False
    if equivocal != "exclude":
        out[calls == "equivocal"] = equivocal == "positive"
    return out


def lesion_level(cohort: Cohort, reader: str, equivocal: str = "negative") -> pd.DataFrame:
    """One row per scan × lesion with the reader's call as a test result.

    Parameters
    ----------
    cohort : Cohort
        The loaded study (reads, scans, lesions, patients).
    reader : str
        Whose calls.
    equivocal : {"negative", "positive", "exclude"}
        How an equivocal call counts.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, group, scan_id, tracer, modality, lesion_id, site, truth, malignant,
        call, test, cause`` (``test`` is NA for excluded equivocal calls).
    """
    _check_rule(equivocal)
    reads = reads_joined(cohort)
    reads = reads[reads["reader"].astype(str) == reader].copy()
    if reads.empty:
        raise ValueError(f"reader {reader!r} has no reads; readers: "
                         f"{sorted(reads_joined(cohort)['reader'].astype(str).unique())}")
    calls = reads["call"].astype(str)
    reads["call"] = calls
    reads["test"] = _test(calls, equivocal)
    reads["malignant"] = reads["malignant"].astype("boolean")
    cols = ["patient_id", "group", "scan_id", "tracer", "modality", "lesion_id", "site",
            "truth", "malignant", "call", "test", "cause"]
    for col in ("group", "tracer", "modality", "truth"):
        reads[col] = reads[col].astype(str)
    return reads[cols].reset_index(drop=True)


def patient_level(cohort: Cohort, reader: str, equivocal: str = "negative") -> pd.DataFrame:
    """One row per scan: positive when the reader called any lesion positive.

    A scan whose lesions were all called negative (or that has no lesion read) is negative.
    With ``equivocal="exclude"``, a scan whose only non-negative calls are equivocal is
    excluded (test NA).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, group, scan_id, tracer, modality, test, disease_present,
        n_positive, n_equivocal``.
    """
    _check_rule(equivocal)
    lesions = lesion_level(cohort, reader, equivocal="exclude")
    scans = cohort.scans[["scan_id", "patient_id", "tracer", "modality"]].astype(
        {"tracer": str, "modality": str})
    patients = cohort.patients[["patient_id", "group", "disease_present"]].astype(
        {"group": str})
    counts = lesions.groupby("scan_id").agg(
        n_positive=("call", lambda c: int((c == "positive").sum())),
        n_equivocal=("call", lambda c: int((c == "equivocal").sum())))
    out = scans.merge(patients, on="patient_id", how="left").merge(
        counts, left_on="scan_id", right_index=True, how="left")
    out[["n_positive", "n_equivocal"]] = out[["n_positive", "n_equivocal"]].fillna(0).astype(int)
    test = pd.Series(out["n_positive"] > 0, dtype="boolean")
    only_equivocal = (out["n_positive"] == 0) & (out["n_equivocal"] > 0)
    if equivocal == "positive":
        test[only_equivocal] = True
    elif equivocal == "exclude":
        test[only_equivocal] = pd.NA
    out["test"] = test
    out["disease_present"] = out["disease_present"].astype("boolean")
    cols = ["patient_id", "group", "scan_id", "tracer", "modality", "test", "disease_present",
            "n_positive", "n_equivocal"]
    return out[cols].sort_values("scan_id").reset_index(drop=True)


def accuracy_by(df: pd.DataFrame, by: Sequence[str], *, test: str, truth: str,
                cluster: str | None = None, method: str = "wilson", level: float = 0.95,
                ) -> pd.DataFrame:
    """Diagnostic accuracy (with CIs) for every subgroup, in one tidy table.

    Parameters
    ----------
    df : pandas.DataFrame
        Test results (NA tests are excluded and counted in ``n_excluded``).
    by : sequence of str
        Subgroup columns, e.g. ``("tracer", "modality")``.
    test, truth : str
        Boolean columns.
    cluster : str, optional
        Cluster column (lesion level: ``patient_id``).
    method : str
        Proportion CI method.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        The subgroup columns, then :func:`nethelpers.stats.diagnostic_accuracy`'s table
        columns, ``tp, fp, fn, tn``, ``n_excluded``.
    """
    from nethelpers.stats import diagnostic_accuracy

    frames = []
    for keys, g in df.groupby(list(by), sort=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        kept = g[g[test].notna()]
        if kept.empty:
            continue
        res = diagnostic_accuracy(kept, test, truth, cluster=cluster, method=method,
                                  level=level)
        table = res.table.copy()
        for col, key in zip(by, keys, strict=True):
            table.insert(list(by).index(col), col, key)
        counts: dict[str, Any] = {k.lower(): v for k, v in res.counts.items()}
        table = table.assign(**counts, n_excluded=int(g[test].isna().sum()))
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def false_calls(lesions: pd.DataFrame, measurements: pd.DataFrame | None = None,
                sizes: pd.DataFrame | None = None) -> pd.DataFrame:
    """False-positive and false-negative lesion calls with their site, size, SUV and cause.

    Parameters
    ----------
    lesions : pandas.DataFrame
        From :func:`lesion_level`.
    measurements : pandas.DataFrame, optional
        measurements.csv (adds SUVmax and T/B liver of the lesion on that scan).
    sizes : pandas.DataFrame, optional
        ``lesion_id, diameter_mm`` (the lesions table).

    Returns
    -------
    pandas.DataFrame
        ``error`` (FP or FN), ``scan_id, tracer, modality, lesion_id, site, truth, call``,
        ``diameter_mm, suv_max, tb_liver`` when given, ``cause``.
    """
    known = lesions[lesions["test"].notna()]
    fp = known[known["test"].astype(bool) & ~known["malignant"].astype(bool)].assign(error="FP")
    fn = known[~known["test"].astype(bool) & known["malignant"].astype(bool)].assign(error="FN")
    out = pd.concat([fp, fn], ignore_index=True)
    if sizes is not None:
        out = out.merge(sizes[["lesion_id", "diameter_mm"]], on="lesion_id", how="left")
    if measurements is not None:
        les = measurements[measurements["roi"] == "lesion"][["scan_id", "lesion_id", "suv_max",
                                                             "tb_liver"]]
        out = out.merge(les, on=["scan_id", "lesion_id"], how="left")
    first = ["error", "scan_id", "tracer", "modality", "lesion_id", "site", "truth", "call"]
    extra = [c for c in ("diameter_mm", "suv_max", "tb_liver") if c in out.columns]
    return out[first + extra + ["cause"]].sort_values(["error", "scan_id", "lesion_id"]
                                                      ).reset_index(drop=True)


def paired_lesions(lesions: pd.DataFrame, a: tuple[str, str], b: tuple[str, str],
                   measurements: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lesions read on two scan types of the same patient, side by side.

    Parameters
    ----------
    lesions : pandas.DataFrame
        From :func:`lesion_level`.
    a, b : tuple of str
        ``(tracer, modality)`` of the two scan types, e.g. ``("DOTATATE", "PET/CT")`` and
        ``("FDG", "PET/CT")``.
    measurements : pandas.DataFrame, optional
        measurements.csv: adds ``suv_max_a``, ``suv_max_b`` and ``tb_liver_a/_b``.

    Returns
    -------
    pandas.DataFrame
        One row per lesion with a read on both: ``patient_id, lesion_id, site, malignant,
        call_a, call_b, test_a, test_b`` (and the SUV columns). A patient with several scans
        of one type contributes its first scan (by scan_id) of that type.
    """
    def side(key: tuple[str, str], suffix: str) -> pd.DataFrame:
        rows = lesions[(lesions["tracer"] == key[0]) & (lesions["modality"] == key[1])]
        first = rows.groupby("patient_id")["scan_id"].transform("min")
        rows = rows[rows["scan_id"] == first]
        keep = rows[["patient_id", "lesion_id", "site", "malignant", "scan_id", "call", "test"]]
        if measurements is not None:
            m = measurements[measurements["roi"] == "lesion"][["scan_id", "lesion_id",
                                                               "suv_max", "tb_liver"]]
            keep = keep.merge(m, on=["scan_id", "lesion_id"], how="left")
        return keep.rename(columns={c: f"{c}_{suffix}" for c in keep.columns
                                    if c not in ("patient_id", "lesion_id", "site",
                                                 "malignant")})

    out = side(a, "a").merge(side(b, "b").drop(columns=["site", "malignant"]),
                             on=["patient_id", "lesion_id"], how="inner")
    return out.sort_values(["patient_id", "lesion_id"]).reset_index(drop=True)
