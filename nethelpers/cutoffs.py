"""Cut-offs of a quantitative index test: the pre-specified one and exploratory Youden ones.

STARD 2015 item 12a: the protocol fixed one cut-off before the data were seen (a lesion is
positive when its uptake exceeds the reference); cut-offs chosen on the data (Youden's J)
are exploratory. Each cut-off becomes one row of sensitivity and specificity per scan type,
with cluster-adjusted intervals (lesions of a patient are correlated). A scan type where no
lesion has a result gets a row of NaN estimates and a note, not an error.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nethelpers.readings import accuracy_by

__all__ = ["EXPLORATORY", "PRESPECIFIED", "prespecified_cutoff", "youden_cutoff"]

PRESPECIFIED = "pre-specified (protocol)"
EXPLORATORY = "exploratory (Youden J on these data)"


def _operating_point(g: pd.DataFrame, test: pd.Series, cutoff: str, kind: str, *, truth: str,
                     cluster: str | None, method: str, level: float) -> dict[str, Any]:
    """Sensitivity and specificity of one boolean test (NA: excluded) in one scan type.

    A scan type in which no lesion has a result gets a row of NaN estimates whose ``note``
    says so (e.g. no reference VOI yet, so no positivity).
    """
    acc = accuracy_by(g.assign(_test=test.astype("boolean")), ["tracer", "modality"],
                      test="_test", truth=truth, cluster=cluster, method=method, level=level)
    first = g.iloc[0]
    row: dict[str, Any] = {"tracer": str(first["tracer"]), "modality": str(first["modality"]),
                           "cutoff": cutoff, "kind": kind}
    measures = [f"{m}{end}" for m in ("sensitivity", "specificity")
                for end in ("", "_lower", "_upper")]
    ci = method + (f", cluster-adjusted ({cluster})" if cluster else "")
    if acc.empty or "sensitivity" not in set(acc["measure"]):  # "not estimable" row only
        missing = int(test.isna().sum())
        return row | dict.fromkeys(measures, np.nan) | dict.fromkeys(
            ("tp", "fp", "fn", "tn"), 0) | {
            "n_excluded": missing, "ci": ci,
            "note": f"not estimated: none of the {len(g)} lesions has a result for this "
                    "cut-off (no measurement, or no reference VOI on its scan)"}
    by = acc.set_index("measure")
    lo, hi = ("cluster_lower", "cluster_upper") if cluster else ("lower", "upper")
    for measure in ("sensitivity", "specificity"):
        row |= {measure: by.at[measure, "estimate"], f"{measure}_lower": by.at[measure, lo],
                f"{measure}_upper": by.at[measure, hi]}
    row |= {k: int(by[k].iloc[0]) for k in ("tp", "fp", "fn", "tn", "n_excluded")}
    return row | {"ci": ci, "note": ""}


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
        specificity_lower, specificity_upper, tp, fp, fn, tn, n_excluded, ci, note`` (a scan
        type where no lesion has a result gets NaN estimates and a note, not an error).
    """
    rows = [_operating_point(g, g[test], rule, PRESPECIFIED, truth=truth, cluster=cluster,
                             method=method, level=level)
            for _, g in data.groupby(["tracer", "modality"], sort=True, observed=True)]
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
