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

__all__ = ["EQUIVOCAL_RULES", "accuracy_by", "false_calls", "index_test_flow", "lesion_level",
           "compare_detection", "paired_lesions", "paired_patients", "patient_level",
           "prespecified_cutoff", "youden_cutoff"]

PRESPECIFIED = "pre-specified (protocol)"
EXPLORATORY = "exploratory (Youden J on these data)"

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


def index_test_flow(results: pd.DataFrame, patients: pd.DataFrame,
                    equivocal: str) -> pd.DataFrame:
    """Count the STARD flow of every index test (tracer × modality) at patient level.

    A scan's result is *positive* when the reader called a lesion positive, *indeterminate*
    when the only non-negative calls were equivocal, otherwise *negative*; the count of each
    is independent of the rule, which is recorded in ``counted_as``.

    Parameters
    ----------
    results : pandas.DataFrame
        :func:`patient_level` (any rule).
    patients : pandas.DataFrame
        The analysed patients (``cohort.patients``): the eligible, with ``reference_standard``
        and ``disease_present``.
    equivocal : {"negative", "positive", "exclude"}
        The rule the analysis applied to indeterminate results.

    Returns
    -------
    pandas.DataFrame
        One row per index test × result (positive, negative, indeterminate, in that order):
        ``tracer, modality, eligible, patients_tested, not_tested, result, scans,
        counted_as, histopathology, follow_up, no_reference, disease_present,
        disease_absent``. ``scans`` exceeds the patients when a patient had the same scan
        twice.
    """
    _check_rule(equivocal)
    ref = patients[["patient_id", "reference_standard", "disease_present"]].astype(
        {"reference_standard": "string", "disease_present": "boolean"})
    data = results.drop(columns=["disease_present"], errors="ignore").merge(
        ref, on="patient_id", how="left")
    data["result"] = "negative"
    data.loc[data["n_equivocal"] > 0, "result"] = "indeterminate"
    data.loc[data["n_positive"] > 0, "result"] = "positive"
    rows = []
    for (tracer, modality), g in data.groupby(["tracer", "modality"], sort=True):
        tested = g["patient_id"].nunique()
        for result in ("positive", "negative", "indeterminate"):
            r = g[g["result"] == result]
            rows.append({
                "tracer": tracer, "modality": modality, "eligible": len(patients),
                "patients_tested": tested, "not_tested": len(patients) - tested,
                "result": result, "scans": len(r),
                "counted_as": equivocal if result == "indeterminate" else result,
                "histopathology": int(r["reference_standard"].eq("histopathology").sum()),
                "follow_up": int(r["reference_standard"].eq("follow-up").sum()),
                "no_reference": int(r["disease_present"].isna().sum()),
                "disease_present": int(r["disease_present"].eq(True).sum()),
                "disease_absent": int(r["disease_present"].eq(False).sum()),
            })
    return pd.DataFrame(rows)


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


def prespecified_cutoff(data: pd.DataFrame, test: str, rule: str, *, truth: str = "malignant",
                        cluster: str | None = "patient_id", method: str = "wilson",
                        level: float = 0.95) -> pd.DataFrame:
    """Sensitivity and specificity of a quantitative test at its pre-specified cut-off.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per scan × lesion with ``tracer, modality``, the boolean ``test`` (the
        protocol's rule applied, e.g. the ``positive`` column of the measurements) and
        ``truth``.
    test, truth : str
        Boolean columns.
    rule : str
        The rule in words (e.g. :attr:`nethelpers.scores.ScoreRules.positivity_text`).
    cluster : str, optional
        Cluster column; the intervals are then the cluster-adjusted ones.
    method : str
        Proportion CI method.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Per tracer × modality: ``tracer, modality, cutoff, kind`` (``"pre-specified
        (protocol)"``), ``sensitivity, sensitivity_lower, sensitivity_upper, specificity,
        specificity_lower, specificity_upper, tp, fp, fn, tn, ci``.
    """
    data = data.assign(**{test: data[test].astype("boolean")})
    acc = accuracy_by(data, ["tracer", "modality"], test=test, truth=truth, cluster=cluster,
                      method=method, level=level)
    if acc.empty:
        return pd.DataFrame()
    lo, hi = ("cluster_lower", "cluster_upper") if cluster else ("lower", "upper")
    rows = []
    for (tracer, modality), g in acc.groupby(["tracer", "modality"], sort=True):
        by = g.set_index("measure")
        row: dict[str, Any] = {"tracer": tracer, "modality": modality, "cutoff": rule,
                               "kind": PRESPECIFIED}
        for measure in ("sensitivity", "specificity"):
            row |= {measure: by.at[measure, "estimate"], f"{measure}_lower": by.at[measure, lo],
                    f"{measure}_upper": by.at[measure, hi]}
        row |= {k: int(by[k].iloc[0]) for k in ("tp", "fp", "fn", "tn")}
        row["ci"] = f"{method}" + (f", cluster-adjusted ({cluster})" if cluster else "")
        rows.append(row)
    return pd.DataFrame(rows)


def youden_cutoff(best: Any, tracer: str, modality: str, measure: str) -> dict[str, Any]:
    """One row of the cut-off table for an exploratory Youden cut-off.

    Parameters
    ----------
    best : nethelpers.stats.YoudenResult
        :meth:`nethelpers.stats.Roc.youden`, with ``ci=True`` for intervals.
    tracer, modality, measure : str
        The scan type and the score (e.g. ``"SUVmax"``).

    Returns
    -------
    dict
        The columns of :func:`prespecified_cutoff`, ``kind`` ``"exploratory (Youden J on
        these data)"``, the cut-off as ``"<measure> >= <threshold>"`` and the bootstrap
        intervals (NaN without them).
    """
    sens = best.sensitivity_ci or (float("nan"), float("nan"))
    spec = best.specificity_ci or (float("nan"), float("nan"))
    sign = ">=" if best.direction == "<" else "<="
    ci = (f"percentile bootstrap, {best.n_boot} stratified replicates, seed {best.seed}"
          if best.sensitivity_ci else "")
    return {"tracer": tracer, "modality": modality,
            "cutoff": f"{measure} {sign} {best.threshold:.4g}", "kind": EXPLORATORY,
            "sensitivity": best.sensitivity, "sensitivity_lower": sens[0],
            "sensitivity_upper": sens[1], "specificity": best.specificity,
            "specificity_lower": spec[0], "specificity_upper": spec[1],
            "tp": best.tp, "fp": best.fp, "fn": best.fn, "tn": best.tn, "ci": ci}


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


def paired_patients(results: pd.DataFrame, a: tuple[str, str], b: tuple[str, str]
                    ) -> pd.DataFrame:
    """Patient-level results of two scan types of the same patients, side by side.

    Parameters
    ----------
    results : pandas.DataFrame
        From :func:`patient_level`.
    a, b : tuple of str
        ``(tracer, modality)`` of the two scan types.

    Returns
    -------
    pandas.DataFrame
        One row per patient with both: ``patient_id, disease_present, scan_id_a, test_a,
        scan_id_b, test_b`` (a patient's first scan of each type, by scan_id).
    """
    def side(key: tuple[str, str], suffix: str) -> pd.DataFrame:
        rows = results[(results["tracer"] == key[0]) & (results["modality"] == key[1])]
        rows = rows.sort_values("scan_id").drop_duplicates("patient_id")
        keep = rows[["patient_id", "disease_present", "scan_id", "test"]]
        return keep.rename(columns={"scan_id": f"scan_id_{suffix}", "test": f"test_{suffix}"})

    out = side(a, "a").merge(side(b, "b").drop(columns="disease_present"), on="patient_id")
    return out.sort_values("patient_id").reset_index(drop=True)


def compare_detection(pairs: pd.DataFrame, *, truth: str = "malignant",
                      cluster: str | None = "patient_id", level: float = 0.95
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare two paired index tests: McNemar on the diseased units, paired differences.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`paired_lesions` or :func:`paired_patients`: ``test_a, test_b`` and ``truth``;
        pairs with a missing test (excluded equivocal calls) are left out.
    truth : str
        Boolean column of the target condition.
    cluster : str, optional
        Cluster column (lesions of a patient): adds the clustered McNemar test (Obuchowski)
        and clusters the differences. None for one unit per patient.
    level : float
        Confidence level of the differences.

    Returns
    -------
    detection : pandas.DataFrame
        One row per McNemar test among the diseased units: ``method, statistic, p,
        a_only, b_only, both, neither, units, clusters``.
    difference : pandas.DataFrame
        :func:`nethelpers.stats.paired_difference` (A − B sensitivity and specificity).
    """
    from nethelpers.stats import mcnemar, paired_difference

    data = pairs.dropna(subset=["test_a", "test_b", truth])
    diseased = data[data[truth].astype(bool)]
    a, b = diseased["test_a"].astype(bool), diseased["test_b"].astype(bool)
    tests = [mcnemar(a, b, method="exact")]
    if cluster is not None:
        tests.append(mcnemar(a, b, cluster=diseased[cluster]))
    detection = pd.DataFrame([{"method": t.method, "statistic": t.statistic, "p": t.p,
                               "a_only": t.b, "b_only": t.c, "both": t.a, "neither": t.d,
                               "units": t.n, "clusters": t.n_clusters} for t in tests])
    difference = paired_difference(
        data["test_a"].astype(bool), data["test_b"].astype(bool), data[truth].astype(bool),
        cluster=None if cluster is None else data[cluster], level=level)
    return detection, difference
