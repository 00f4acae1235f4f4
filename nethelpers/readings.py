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

import numpy as np
import pandas as pd

from nethelpers.cohort import Cohort, reads_joined

__all__ = ["EQUIVOCAL_RULES", "accuracy_by", "false_calls", "index_test_flow", "lesion_level",
           "compare_detection", "paired_lesions", "paired_patients", "patient_level",
           "prespecified_cutoff", "youden_cutoff"]

MEASURED = ("suv_max", "tb_liver", "lesion_to_liver", "positive")
"""Measurement columns :func:`paired_lesions` carries for each side."""

COUNTED = {"negative": "negative", "positive": "positive", "exclude": "excluded"}
"""How an indeterminate result is counted under each rule, in words."""

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

    A scan whose lesions were all called negative is negative, and so is the scan of a
    patient without any reference lesion when nothing was read on it. A scan of a patient
    with reference lesions that this reader did not read at all is *not read*: ``read`` is
    False and the test NA (left out of the analysis and counted in the flow). With
    ``equivocal="exclude"``, a scan whose only non-negative calls are equivocal is excluded
    (test NA).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, group, scan_id, tracer, modality, test, disease_present, read,
        n_reads, n_positive, n_equivocal``.
    """
    _check_rule(equivocal)
    lesions = lesion_level(cohort, reader, equivocal="exclude")
    scans = cohort.scans[["scan_id", "patient_id", "tracer", "modality"]].astype(
        {"tracer": str, "modality": str})
    patients = cohort.patients[["patient_id", "group", "disease_present"]].astype(
        {"group": str})
    counts = lesions.groupby("scan_id").agg(
        n_reads=("call", "size"),
        n_positive=("call", lambda c: int((c == "positive").sum())),
        n_equivocal=("call", lambda c: int((c == "equivocal").sum())))
    out = scans.merge(patients, on="patient_id", how="left").merge(
        counts, left_on="scan_id", right_index=True, how="left")
    numbers = ["n_reads", "n_positive", "n_equivocal"]
    out[numbers] = out[numbers].fillna(0).astype(int)
    test = pd.Series(out["n_positive"] > 0, dtype="boolean")
    only_equivocal = (out["n_positive"] == 0) & (out["n_equivocal"] > 0)
    if equivocal == "positive":
        test[only_equivocal] = True
    elif equivocal == "exclude":
        test[only_equivocal] = pd.NA
    with_lesions = set(cohort.lesions["patient_id"].astype(str))
    out["read"] = ~((out["n_reads"] == 0) & out["patient_id"].astype(str).isin(with_lesions))
    test[~out["read"]] = pd.NA
    out["test"] = test
    out["disease_present"] = out["disease_present"].astype("boolean")
    cols = ["patient_id", "group", "scan_id", "tracer", "modality", "test", "disease_present",
            "read", "n_reads", "n_positive", "n_equivocal"]
    return out[cols].sort_values("scan_id").reset_index(drop=True)


def index_test_flow(results: pd.DataFrame, patients: pd.DataFrame,
                    equivocal: str) -> pd.DataFrame:
    """Count the STARD flow of every index test (tracer × modality) at patient level.

    A scan's result is *positive* when the reader called a lesion positive, *indeterminate*
    when the only non-negative calls were equivocal, *not read* when :func:`patient_level`
    says so (a row only where it happens), otherwise *negative*; the counts do not depend on
    the rule, which is recorded in ``counted_as`` (``negative``, ``positive`` or
    ``excluded``).

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
        One row per index test × result (positive, negative, indeterminate[, not read]):
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
    if "read" in data:
        data.loc[~data["read"].astype(bool), "result"] = "not read"
    rows = []
    for (tracer, modality), g in data.groupby(["tracer", "modality"], sort=True):
        tested = g["patient_id"].nunique()
        results = ["positive", "negative", "indeterminate"]
        results += ["not read"] if (g["result"] == "not read").any() else []
        for result in results:
            r = g[g["result"] == result]
            rows.append({
                "tracer": tracer, "modality": modality, "eligible": len(patients),
                "patients_tested": tested, "not_tested": len(patients) - tested,
                "result": result, "scans": len(r),
                "counted_as": {"indeterminate": COUNTED[equivocal],
                               "not read": "excluded"}.get(result, result),
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


def _operating_point(g: pd.DataFrame, test: pd.Series, cutoff: str, kind: str, *, truth: str,
                     cluster: str | None, method: str, level: float) -> dict[str, Any]:
    """Sensitivity and specificity of one boolean test (NA: excluded) in one scan type."""
    acc = accuracy_by(g.assign(_test=test.astype("boolean")), ["tracer", "modality"],
                      test="_test", truth=truth, cluster=cluster, method=method, level=level)
    if acc.empty:
        first = g.iloc[0]
        raise ValueError(f"{first['tracer']} {first['modality']}: no lesion has a result "
                         f"for {cutoff!r}")
    by = acc.set_index("measure")
    row: dict[str, Any] = {"tracer": by["tracer"].iloc[0], "modality": by["modality"].iloc[0],
                           "cutoff": cutoff, "kind": kind}
    lo, hi = ("cluster_lower", "cluster_upper") if cluster else ("lower", "upper")
    for measure in ("sensitivity", "specificity"):
        row |= {measure: by.at[measure, "estimate"], f"{measure}_lower": by.at[measure, lo],
                f"{measure}_upper": by.at[measure, hi]}
    row |= {k: int(by[k].iloc[0]) for k in ("tp", "fp", "fn", "tn", "n_excluded")}
    row["ci"] = method + (f", cluster-adjusted ({cluster})" if cluster else "")
    return row


def prespecified_cutoff(data: pd.DataFrame, test: str, rule: str, *, truth: str = "malignant",
                        cluster: str | None = "patient_id", method: str = "wilson",
                        level: float = 0.95) -> pd.DataFrame:
    """Sensitivity and specificity of a quantitative test at its pre-specified cut-off.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per scan × lesion read, with ``tracer, modality``, the boolean ``test`` (the
        protocol's rule applied, e.g. the ``positive`` column of the measurements; NA for a
        lesion without a measurement, which is excluded and counted) and ``truth``.
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
        specificity_lower, specificity_upper, tp, fp, fn, tn, n_excluded, ci``.
    """
    rows = [_operating_point(g, g[test], rule, PRESPECIFIED, truth=truth, cluster=cluster,
                             method=method, level=level)
            for _, g in data.groupby(["tracer", "modality"], sort=True)]
    return pd.DataFrame(rows)


def _printed_threshold(threshold: float, scores: np.ndarray, direction: str) -> float:
    """The threshold rounded to the fewest significant digits that classify alike."""
    def classify(t: float) -> np.ndarray:
        return scores >= t if direction == "<" else scores <= t

    exact = classify(threshold)
    for digits in range(3, 18):
        rounded = float(f"{threshold:.{digits}g}")
        if np.array_equal(classify(rounded), exact):
            return rounded
    return threshold


def youden_cutoff(data: pd.DataFrame, score: str, best: Any, measure: str, *,
                  truth: str = "malignant", cluster: str | None = "patient_id",
                  method: str = "wilson", level: float = 0.95) -> dict[str, Any]:
    """One row of the cut-off table for an exploratory Youden cut-off.

    The cut-off is printed with the fewest digits that classify every observed score as
    the exact threshold does, and the operating point is re-counted at that printed value,
    so applying the printed rule gives the printed 2×2 table. Its intervals are those of a
    fixed cut-off (cluster-adjusted, like the pre-specified one); they do not carry the
    uncertainty of choosing the cut-off on the same data, so the estimates are optimistic.

    Parameters
    ----------
    data : pandas.DataFrame
        One scan type's lesion reads with ``tracer, modality``, ``score`` (NaN: excluded and
        counted) and ``truth``.
    score : str
        The score column, e.g. ``suv_max``.
    best : nethelpers.stats.YoudenResult
        :meth:`nethelpers.stats.Roc.youden` of that score in these data.
    measure : str
        The score's name in the printed rule, e.g. ``"SUVmax"``.
    truth, cluster, method, level
        As in :func:`prespecified_cutoff`.

    Returns
    -------
    dict
        The columns of :func:`prespecified_cutoff` with ``kind`` ``"exploratory (Youden J
        on these data)"`` and ``cutoff`` ``"<measure> >= <threshold>"`` (``<=`` for a
        decreasing score).
    """
    values = pd.to_numeric(data[score], errors="coerce")
    observed = values.dropna().to_numpy(dtype=float)
    threshold = _printed_threshold(best.threshold, observed, best.direction)
    test = (values >= threshold) if best.direction == "<" else (values <= threshold)
    test = test.astype("boolean").mask(values.isna())
    sign = ">=" if best.direction == "<" else "<="
    row = _operating_point(data, test, f"{measure} {sign} {threshold!r}", EXPLORATORY,
                           truth=truth, cluster=cluster, method=method, level=level)
    row["ci"] += "; fixed cut-off, chosen on these data (optimistic)"
    return row


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
        measurements.csv: adds ``suv_max``, ``tb_liver``, ``lesion_to_liver`` and
        ``positive`` (the protocol's positivity rule) of each side, suffixed ``_a``/``_b``.

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
            cols = [c for c in MEASURED if c in measurements]
            m = measurements[measurements["roi"] == "lesion"][["scan_id", "lesion_id", *cols]]
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
        a_only, b_only, both, neither, units, clusters, note`` (which one is primary, and
        the test's own note, e.g. why p is missing).
    difference : pandas.DataFrame
        :func:`nethelpers.stats.paired_difference` (A − B sensitivity and specificity).
    """
    from nethelpers.stats import mcnemar, paired_difference

    data = pairs.dropna(subset=["test_a", "test_b", truth])
    diseased = data[data[truth].astype(bool)]
    a, b = diseased["test_a"].astype(bool), diseased["test_b"].astype(bool)
    tests = [mcnemar(a, b, method="exact")]
    notes = ["statistic: pairs positive on A only" + (
        "; units treated as independent (clustering ignored)" if cluster else "")]
    if cluster is not None:
        tests.append(mcnemar(a, b, cluster=diseased[cluster]))
        notes.append("primary: accounts for several units per cluster")
    detection = pd.DataFrame([{"method": t.method, "statistic": t.statistic, "p": t.p,
                               "a_only": t.b, "b_only": t.c, "both": t.a, "neither": t.d,
                               "units": t.n, "clusters": t.n_clusters,
                               "note": "; ".join(filter(None, (note, t.note)))}
                              for t, note in zip(tests, notes, strict=True)])
    difference = paired_difference(
        data["test_a"].astype(bool), data["test_b"].astype(bool), data[truth].astype(bool),
        cluster=None if cluster is None else data[cluster], level=level)
    return detection, difference
