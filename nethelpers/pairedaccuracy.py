"""Paired accuracy of two scan types read on the same lesions and patients (notebook 4).

PET/MR versus PET/CT (or any two scan types) as a *paired accuracy* comparison: on the units
read on both, the sensitivity and the specificity of each scan type with its CI, and their
difference A − B with its CI and a paired test.

- Lesions (several per patient): each proportion with the ratio-estimator (Rao & Scott)
  effective-n Wilson interval; the difference with the score interval that inverts the
  clustered McNemar test (Obuchowski 1998) and that test, so the interval excludes 0 exactly
  when p < 1 − level (same null-restricted variance; :mod:`nethelpers.stats.clusteredci`).
  The cluster-adjusted Wald interval (unrestricted variance) is given as a second, non-primary
  row, named, because it can disagree with the test near p = 0.05.
- Patients (one pair each): Wilson intervals; the Newcombe (1998, method 10) interval of the
  difference and the exact McNemar test. These are separate constructions and can disagree
  near α; the note says so.

A specificity compares the correct (negative) calls on the units without disease; the McNemar
test of the correct calls equals the test of the calls (b and c swap, the statistic does not
change).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nethelpers.stats import mcnemar, paired_difference, proportion_ci
from nethelpers.stats.accuracy import clustered_proportion_ci
from nethelpers.stats.clusteredci import SCORE_METHOD

__all__ = ["CLUSTERED_PROPORTION_METHOD", "WALD_METHOD", "paired_accuracy"]

CLUSTERED_PROPORTION_METHOD = "Wilson, cluster-adjusted (effective n, ratio estimator)"
WALD_METHOD = ("cluster-adjusted Wald interval (unrestricted ratio-estimator variance, "
               "Obuchowski 1998)")
TEST_CLUSTERED = "clustered McNemar (Obuchowski 1998)"
TEST_EXACT = "exact McNemar"
NEWCOMBE_METHOD = "Newcombe (1998) method 10"
COLUMNS = ["unit", "measure", "quantity", "estimate", "lower", "upper", "method", "numerator",
           "denominator", "pairs", "a_only", "b_only", "n_clusters", "test", "statistic", "p",
           "primary", "note"]


def _proportion(unit: str, correct: np.ndarray, cluster: pd.Series | None, level: float
                ) -> dict[str, Any]:
    k, n = int(correct.sum()), int(correct.size)
    if cluster is None:
        ci = proportion_ci(k, n, "wilson", level)
        return {"estimate": ci.estimate, "lower": ci.lower, "upper": ci.upper,
                "method": "Wilson", "numerator": k, "denominator": n,
                "n_clusters": np.nan, "note": ci.note}
    ci = clustered_proportion_ci(correct, cluster.to_numpy(), "wilson", level)
    return {"estimate": ci.estimate, "lower": ci.effective_lower,
            "upper": ci.effective_upper, "method": CLUSTERED_PROPORTION_METHOD,
            "numerator": k, "denominator": n, "n_clusters": ci.n_clusters, "note": ci.note}


def _unit_rows(unit: str, data: pd.DataFrame, truth: str, cluster: str | None,
               labels: tuple[str, str], level: float) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    ta, tb = data["test_a"].astype(bool).to_numpy(), data["test_b"].astype(bool).to_numpy()
    y = data[truth].astype(bool).to_numpy()
    groups = data[cluster] if cluster else None
    diffs = {m: paired_difference(ta, tb, y, cluster=groups, level=level, method=m)
             .set_index("measure")
             for m in (("ratio-score", "ratio-wald") if cluster else ("newcombe",))}
    for measure, sel in (("sensitivity", y), ("specificity", ~y)):
        ca, cb = (ta[sel], tb[sel]) if measure == "sensitivity" else (~ta[sel], ~tb[sel])
        sub = None if groups is None else groups[sel].reset_index(drop=True)
        base = {"unit": unit, "measure": measure, "test": "", "statistic": np.nan,
                "p": np.nan, "primary": True}
        for label, correct in zip(labels, (ca, cb), strict=True):
            rows.append(base | {"quantity": label} | _proportion(unit, correct, sub, level))
        test_note = ""
        if sel.sum():
            t = (mcnemar(ca, cb, cluster=sub, method="obuchowski") if cluster
                 else mcnemar(ca, cb, method="exact"))
            stat, p, test_note = t.statistic, t.p, t.note
        else:
            stat, p = np.nan, np.nan
        test = TEST_CLUSTERED if cluster else TEST_EXACT
        for code, d in diffs.items():
            r = d.loc[measure]
            primary = code != "ratio-wald"
            note = r["note"]
            if code == "newcombe":
                note = "; ".join(filter(None, [note, "the Newcombe interval and the exact "
                                               "McNemar test are separate constructions: "
                                               "near p = 0.05 they can disagree"]))
            if code == "ratio-wald":
                note = "; ".join(filter(None, [note, "not the primary interval: its "
                                               "unrestricted variance can disagree with "
                                               "the test near p = 0.05"]))
            rows.append(base | {
                "quantity": f"difference ({labels[0]} − {labels[1]})",
                "estimate": r["difference"], "lower": r["lower"], "upper": r["upper"],
                "method": {"ratio-score": SCORE_METHOD, "ratio-wald": WALD_METHOD,
                           "newcombe": NEWCOMBE_METHOD}[code],
                "numerator": np.nan, "denominator": np.nan, "pairs": int(r["n"]),
                "a_only": int(r["b"]), "b_only": int(r["c"]),
                "n_clusters": r["n_clusters"] if cluster else np.nan,
                "test": test if primary else "", "statistic": stat if primary else np.nan,
                "p": p if primary else np.nan, "primary": primary,
                "note": "; ".join(filter(None, [note, test_note if primary else ""]))})
    return rows


def paired_accuracy(lesion_pairs: pd.DataFrame, patient_pairs: pd.DataFrame | None,
                    labels: tuple[str, str], *, level: float = 0.95) -> pd.DataFrame:
    """Sensitivity and specificity of two scan types on the units read on both, compared.

    Parameters
    ----------
    lesion_pairs : pandas.DataFrame
        :func:`nethelpers.comparisons.paired_lesions`: ``patient_id, malignant, test_a,
        test_b``; pairs missing a result or the truth are left out.
    patient_pairs : pandas.DataFrame or None
        :func:`nethelpers.comparisons.paired_patients`: ``disease_present, test_a, test_b``.
    labels : tuple of str
        Names of A and B, e.g. ``("PET/MR", "PET/CT")``.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Tidy, one row per estimate: ``unit`` (lesions, patients), ``measure`` (sensitivity,
        specificity), ``quantity`` (A's label, B's label, ``difference (A − B)``),
        ``estimate, lower, upper, method``, ``numerator, denominator`` (correct calls out of
        the units), ``pairs, a_only, b_only`` (difference rows: the pairs, correct on A only,
        on B only), ``n_clusters``, ``test,
        statistic, p`` (on the difference rows), ``primary`` (False for the lesion Wald
        interval, shown beside the primary score interval) and ``note``. A unit without a
        usable pair keeps no rows; the caller says why.
    """
    rows: list[dict[str, Any]] = []
    units = [("lesions", lesion_pairs, "malignant", "patient_id")]
    if patient_pairs is not None:
        units.append(("patients", patient_pairs, "disease_present", None))
    for unit, pairs, truth, cluster in units:
        if not len(pairs):
            continue
        data = pairs.dropna(subset=["test_a", "test_b", truth]).reset_index(drop=True)
        if len(data):
            rows.extend(_unit_rows(unit, data, truth, cluster, labels, level))
    return pd.DataFrame(rows, columns=COLUMNS)
