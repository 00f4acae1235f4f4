"""Index-test results from the readers' calls, at lesion and at patient level (notebook 05).

The readers' visual calls (positive / negative / equivocal per scan × lesion × reader) become
binary test results against the reference standard:

- **lesion level**: one row per scan × lesion; test = the reader called the lesion positive;
  truth = the lesion is malignant by the reference standard. Lesions of a patient are
  correlated: analyse with ``cluster="patient_id"``.
- **patient level**: one row per scan; test = at least one lesion called positive on the
  scan; truth = the patient has the disease (final diagnosis). A scan counts as read only
  when the reader has at least one read row on it (a row with ``lesion_id`` ``"none"``
  records a scan read with no lesion called); an unread scan is *not read*, never negative.

Equivocal calls are indeterminate results (STARD 2015 item 11): the rule applied is a
parameter (``"negative"``, ``"positive"`` or ``"exclude"``), and the number of equivocal
calls is reported beside every table.

Cut-offs of the quantitative tests are in :mod:`nethelpers.cutoffs`, comparisons of two
paired index tests in :mod:`nethelpers.comparisons`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nethelpers.cohort import NO_LESION, Cohort, reads_joined
from nethelpers.groups import NOT_RECORDED  # the group of a patient whose group is missing
from nethelpers.timepoints import is_baseline, is_follow_up

__all__ = ["EQUIVOCAL_RULES", "NOT_RECORDED", "accuracy_by", "false_calls", "index_test_flow",
           "indeterminate_counts", "lesion_level", "patient_level"]

COUNTED = {"negative": "negative", "positive": "positive", "exclude": "excluded"}
"""How an indeterminate result is counted under each rule, in words."""

EQUIVOCAL_RULES = ("negative", "positive", "exclude")



def _group(values: pd.Series) -> pd.Series:
    """Group codes as text, a missing group as :data:`NOT_RECORDED`."""
    return values.astype("string").fillna(NOT_RECORDED).astype(str)


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


def repeat_scans(scans: pd.DataFrame) -> set[str]:
    """Scans that are not the first of their patient × tracer × modality.

    The first scan of each type (by ``scan_date``, then ``scan_id``) is the patient's index
    test; a later one (a follow-up, a repeated acquisition) would count the patient twice.
    A scan whose ``time_point`` is recorded as baseline (:mod:`nethelpers.timepoints`) is
    the index test even when a scan without a recorded time point is dated before it, and a
    scan at a follow-up time point never is, even when its series has no baseline scan (a
    PET/MR follow-up of a patient without a PET/MR baseline).

    Parameters
    ----------
    scans : pandas.DataFrame
        ``cohort.scans``.

    Returns
    -------
    set of str
        Their ``scan_id``.
    """
    order = scans.assign(_id=scans["scan_id"].astype(str), _later=~is_baseline(scans)).sort_values(
        ["_later", "scan_date", "_id"], kind="stable", na_position="last")
    later = order.duplicated(["patient_id", "tracer", "modality"], keep="first")
    return set(order.loc[later, "_id"]) | set(order.loc[is_follow_up(order), "_id"])


def _reader_reads(cohort: Cohort, reader: str) -> pd.DataFrame:
    """Every read row of ``reader`` joined with its scan, lesion and patient (none: raise)."""
    joined = reads_joined(cohort)
    reads = joined[joined["reader"].astype(str) == reader].copy()
    if reads.empty:
        raise ValueError(f"reader {reader!r} has no reads; readers: "
                         f"{sorted(joined['reader'].astype(str).unique())}")
    return reads


def lesion_level(cohort: Cohort, reader: str, equivocal: str = "negative") -> pd.DataFrame:
    """One row per scan × lesion with the reader's call as a test result.

    Rows recording a scan read with no lesion called (``lesion_id`` ``"none"``) are not
    lesions and are left out (they count in :func:`patient_level`), and so are the reads of
    follow-up and repeat scans (:func:`repeat_scans`: only the baseline, the first scan of
    a type, is the index test).

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

    Raises
    ------
    ValueError
        ``reader`` has no read row at all (check first with
        :func:`nethelpers.readiness.needs_reads`).
    """
    _check_rule(equivocal)
    reads = _reader_reads(cohort, reader)
    repeats = repeat_scans(cohort.scans)
    reads = reads[(reads["lesion_id"].astype(str) != NO_LESION)
                  & ~reads["scan_id"].astype(str).isin(repeats)].copy()
    calls = reads["call"].astype(str)
    reads["call"] = calls
    reads["test"] = _test(calls, equivocal)
    reads["malignant"] = reads["malignant"].astype("boolean")
    cols = ["patient_id", "group", "scan_id", "tracer", "modality", "lesion_id", "site",
            "truth", "malignant", "call", "test", "cause"]
    for col in ("tracer", "modality", "truth"):
        reads[col] = reads[col].astype(str)
    reads["group"] = _group(reads["group"])
    return reads[cols].reset_index(drop=True)


def patient_level(cohort: Cohort, reader: str, equivocal: str = "negative") -> pd.DataFrame:
    """One row per scan: positive when the reader called any lesion positive.

    A scan is *read* when ``reader`` has at least one read row on it: a lesion call, or a
    row with ``lesion_id`` ``"none"`` recording a scan read with no lesion called. A read
    scan whose calls are all negative is negative. A scan without any read row of this
    reader is *not read* whatever the patient's lesions: ``read`` is False and the test NA
    (left out of the analysis and counted in the flow), never a negative result (which
    would be a false negative for a diseased patient). With ``equivocal="exclude"``, a scan
    whose only non-negative calls are equivocal is excluded (test NA). A scan at a follow-up
    time point (:func:`nethelpers.timepoints.is_follow_up`) is not an index test and has no
    row (the treatment response, notebook 06, compares it with its baseline). A repeat scan
    (not the first of its patient × tracer × modality, :func:`repeat_scans`, and not at a
    follow-up time point, e.g. a scan whose time point could not be placed) has ``repeat``
    True and the test NA: a patient counts once per index test.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, group, scan_id, tracer, modality, test, disease_present, read,
        repeat, n_reads, n_positive, n_equivocal`` (``n_reads``: lesion calls, the "none"
        rows not counted).

    Raises
    ------
    ValueError
        ``reader`` has no read row at all.
    """
    _check_rule(equivocal)
    read_scans = set(_reader_reads(cohort, reader)["scan_id"].astype(str))
    lesions = lesion_level(cohort, reader, equivocal="exclude")
    follow_up = is_follow_up(cohort.scans)
    scans = cohort.scans.loc[~follow_up, ["scan_id", "patient_id", "tracer", "modality"]
                             ].astype({"tracer": str, "modality": str})
    patients = cohort.patients[["patient_id", "group", "disease_present"]].copy()
    patients["group"] = _group(patients["group"])
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
    out["read"] = out["scan_id"].astype(str).isin(read_scans)
    out["repeat"] = out["scan_id"].astype(str).isin(repeat_scans(cohort.scans))
    test[~out["read"] | out["repeat"]] = pd.NA
    out["test"] = test
    out["disease_present"] = out["disease_present"].astype("boolean")
    cols = ["patient_id", "group", "scan_id", "tracer", "modality", "test", "disease_present",
            "read", "repeat", "n_reads", "n_positive", "n_equivocal"]
    return out[cols].sort_values("scan_id").reset_index(drop=True)


def index_test_flow(results: pd.DataFrame, patients: pd.DataFrame,
                    equivocal: str, scans: pd.DataFrame | None = None) -> pd.DataFrame:
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
    scans : pandas.DataFrame, optional
        ``cohort.scans``: adds ``follow_up_scans``, the scans of each index test's tracer ×
        modality at a follow-up time point. They are not index tests and in no branch (the
        treatment response, notebook 06, analyses them); the column says how many there are.

    Returns
    -------
    pandas.DataFrame
        One row per index test × result (positive, negative, indeterminate[, not read][,
        repeat scan]):
        ``tracer, modality, eligible, patients_tested, not_tested, result, scans,
        counted_as, histopathology, follow_up, method_not_recorded, no_reference,
        disease_present, disease_absent``. The reference standard is the result
        ``disease_present``: ``no_reference`` counts the scans of patients without it, and
        ``histopathology``, ``follow_up`` and ``method_not_recorded`` (how it was
        established) split the others, so the four add up to ``scans``. ``scans`` exceeds
        the patients when a patient had the same scan twice (a repeat scan, its own
        branch). With ``scans``, a last column ``follow_up_scans``.
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
    if "repeat" in data:
        data.loc[data["repeat"].astype(bool), "result"] = "repeat scan"
    rows = []
    for (tracer, modality), g in data.groupby(["tracer", "modality"], sort=True):
        tested = g["patient_id"].nunique()
        results = ["positive", "negative", "indeterminate"]
        results += [r for r in ("not read", "repeat scan") if (g["result"] == r).any()]
        for result in results:
            r = g[g["result"] == result]
            known = r["disease_present"].notna()
            method = r["reference_standard"]
            rows.append({
                "tracer": tracer, "modality": modality, "eligible": len(patients),
                "patients_tested": tested, "not_tested": len(patients) - tested,
                "result": result, "scans": len(r),
                "counted_as": {"indeterminate": COUNTED[equivocal], "not read": "excluded",
                               "repeat scan": "excluded"}.get(result, result),
                "histopathology": int((known & method.eq("histopathology")).sum()),
                "follow_up": int((known & method.eq("follow-up")).sum()),
                "method_not_recorded": int((known & method.isna()).sum()),
                "no_reference": int((~known).sum()),
                "disease_present": int(r["disease_present"].eq(True).sum()),
                "disease_absent": int(r["disease_present"].eq(False).sum()),
            })
    out = pd.DataFrame(rows)
    if scans is not None:
        later = scans[is_follow_up(scans)]
        counts = later.groupby([later["tracer"].astype(str), later["modality"].astype(str)]
                               ).size()
        keys = zip(out.get("tracer", []), out.get("modality", []), strict=True)
        out["follow_up_scans"] = [int(counts.get(key, 0)) for key in keys]
    return out


def accuracy_by(df: pd.DataFrame, by: Sequence[str], *, test: str, truth: str,
                cluster: str | None = None, method: str = "wilson", level: float = 0.95,
                ) -> pd.DataFrame:
    """Diagnostic accuracy (with CIs) for every subgroup, in one tidy table.

    Parameters
    ----------
    df : pandas.DataFrame
        Test results (NA tests are excluded and counted in ``n_excluded``; rows whose truth
        is NA, e.g. a patient without a recorded reference standard, are left out and
        counted in ``n_no_reference``).
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
        columns, ``tp, fp, fn, tn``, ``n_excluded``, ``n_no_reference``. A subgroup without
        any row having both a result and a truth has one row, measure ``not estimable``,
        whose note gives the counts; an empty ``df`` gives no rows (but the columns).
    """
    from nethelpers.stats import diagnostic_accuracy

    frames = []
    for keys, g in df.groupby(list(by), sort=True, observed=True):
        keys = keys if isinstance(keys, tuple) else (keys,)
        known = g[g[truth].notna()]
        kept = known[known[test].notna()]
        if kept.empty:  # listed, not dropped: the counts say why nothing is estimable
            n_ex, n_ref = int(known[test].isna().sum()), int(g[truth].isna().sum())
            row = dict(zip(by, keys, strict=True)) | {
                "measure": "not estimable", "note": (
                    f"no row with both a result and a reference standard ({n_ex} without a "
                    f"result: not read, indeterminate or repeat; {n_ref} without a "
                    "reference standard)"),
                "tp": 0, "fp": 0, "fn": 0, "tn": 0, "n_excluded": n_ex, "n_no_reference": n_ref}
            frames.append(pd.DataFrame([row]))
            continue
        res = diagnostic_accuracy(kept, test, truth, cluster=cluster, method=method,
                                  level=level)
        table = res.table.copy()
        for col, key in zip(by, keys, strict=True):
            table.insert(list(by).index(col), col, key)
        counts: dict[str, Any] = {k.lower(): v for k, v in res.counts.items()}
        table = table.assign(**counts, n_excluded=int(known[test].isna().sum()),
                             n_no_reference=int(g[truth].isna().sum()))
        frames.append(table)
    clustered = ["n_clusters", "se_cluster", "design_effect", "n_eff", "cluster_lower",
                 "cluster_upper", "cluster_method"] if cluster else []
    columns = [*by, "measure", "estimate", "lower", "upper", "method", "numerator",
               "denominator", *clustered, "note", "tp", "fp", "fn", "tn", "n_excluded",
               "n_no_reference"]
    if not frames:
        return pd.DataFrame(columns=columns)
    out = pd.concat(frames, ignore_index=True)
    return out.reindex(columns=[*out.columns, *(c for c in columns if c not in out.columns)])


def indeterminate_counts(lesions: pd.DataFrame) -> pd.DataFrame:
    """Equivocal calls among the lesion reads of each scan type.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`lesion_level` (``tracer, modality, call``).

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, equivocal, lesion_reads``.
    """
    counts = (lesions.assign(equivocal=lesions["call"] == "equivocal")
              .groupby(["tracer", "modality"], observed=True)["equivocal"]
              .agg(["sum", "size"]).astype(int))
    return counts.rename(columns={"sum": "equivocal", "size": "lesion_reads"}).reset_index()


def false_calls(lesions: pd.DataFrame, measurements: pd.DataFrame | None = None,
                sizes: pd.DataFrame | None = None) -> pd.DataFrame:
    """False-positive and false-negative lesion calls with their site, size, SUV and cause.

    Lesions whose truth is pending (``malignant`` missing) are neither.

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
    known = lesions[lesions["test"].notna() & lesions["malignant"].notna()]
    fp = known[known["test"].astype(bool) & ~known["malignant"].astype(bool)].assign(error="FP")
    fn = known[~known["test"].astype(bool) & known["malignant"].astype(bool)].assign(error="FN")
    out = pd.concat([fp, fn], ignore_index=True)
    if sizes is not None:
        out = out.merge(sizes[["lesion_id", "diameter_mm"]], on="lesion_id", how="left")
    if measurements is not None and {"roi", "suv_max", "tb_liver"} <= set(measurements):
        les = measurements[measurements["roi"] == "lesion"][["scan_id", "lesion_id", "suv_max",
                                                             "tb_liver"]]
        out = out.merge(les, on=["scan_id", "lesion_id"], how="left")
    first = ["error", "scan_id", "tracer", "modality", "lesion_id", "site", "truth", "call"]
    extra = [c for c in ("diameter_mm", "suv_max", "tb_liver") if c in out.columns]
    return out[first + extra + ["cause"]].sort_values(["error", "scan_id", "lesion_id"]
                                                      ).reset_index(drop=True)
