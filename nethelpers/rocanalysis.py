"""ROC analysis of lesion measurements per scan type (notebook 5, secondary analysis).

For each scan type (tracer × modality) and each score (SUVmax, T/B liver): the empirical
AUC with its DeLong CI and Obuchowski's cluster-adjusted CI (lesions of a patient are
correlated), the exploratory Youden cut-off with its operating point, and the paired DeLong
comparison of the scores. Lesions read but without the score (no VOI, no reference region)
are left out of that score and counted (``n_not_measured``); each score uses every lesion
that has it, the comparison the lesions that have both.

A scan type whose measured lesions are too few for a statistic (DeLong: 2 malignant and 2
other lesions; Obuchowski: 2 patients with a malignant and 2 with another lesion) keeps its
rows: the values are NaN and ``note`` says which statistic needs what and how many there
were. Nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SCORES", "RocAnalysis", "cutoff_table", "roc_analysis", "roc_figures",
           "scored_lesions"]

SCORES = {"suv_max": "SUVmax", "tb_liver": "T/B liver"}
"""The measurement columns analysed, with their names in the tables."""

KEYS = ["scan_id", "lesion_id", "patient_id", "tracer", "modality", "malignant"]
MEASURED = ["suv_max", "tb_liver", "positive"]


@dataclass
class RocAnalysis:
    """The ROC table, the fitted curves and the exploratory cut-offs.

    Attributes
    ----------
    table : pandas.DataFrame
        See :func:`roc_analysis`.
    curves : list of (str, str, nethelpers.stats.Roc)
        ``(scan type label, score name, curve)`` of every AUC estimated.
    youden : pandas.DataFrame
        One row per curve: :func:`nethelpers.cutoffs.youden_cutoff`.
    """

    table: pd.DataFrame
    curves: list[tuple[str, str, Any]] = field(default_factory=list)
    youden: pd.DataFrame = field(default_factory=pd.DataFrame)


def scored_lesions(lesions: pd.DataFrame, measurements: pd.DataFrame) -> pd.DataFrame:
    """Each lesion read with its measurement on that scan (NaN when not measured).

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level`.
    measurements : pandas.DataFrame
        measurements.csv (rows with ``roi == "lesion"`` are used).

    Returns
    -------
    pandas.DataFrame
        ``scan_id, lesion_id, patient_id, tracer, modality, malignant, suv_max, tb_liver,
        positive`` (one row per lesion read), and ``quantity`` (SUV or counts) when the
        measurements have it.
    """
    cols = [c for c in [*MEASURED, "quantity"] if c in measurements.columns]
    m = measurements
    if "roi" in m.columns and len(m):
        m = m[m["roi"] == "lesion"][["scan_id", "lesion_id", *cols]]
    else:
        m = pd.DataFrame(columns=["scan_id", "lesion_id", *cols])
    out = lesions[KEYS].merge(m, on=["scan_id", "lesion_id"], how="left")
    for col in MEASURED:
        if col not in out:
            out[col] = np.nan
    return out


def _counts_note(g: pd.DataFrame, columns: list[str]) -> str:
    """Say that an SUV score leaves out the lesions of counts-only SPECT (they have no SUV)."""
    if "quantity" not in g or not any(c.startswith("suv_") for c in columns):
        return ""
    k = int(g["quantity"].astype("string").str.lower().eq("counts").fillna(False).sum())
    return (f"on quantitative scans only: {k} lesions on counts-only SPECT have no SUV "
            "(in n_not_measured)") if k else ""


def _too_few(y: pd.Series, clusters: pd.Series, name: str, min_cases: int,
             min_controls: int) -> tuple[str, str]:
    """Notes when the DeLong or the clustered variance cannot be estimated."""
    cases, controls = int(y.sum()), int((~y).sum())
    delong = ""
    if cases < min_cases or controls < min_controls:
        delong = (f"not estimated: the DeLong variance needs at least {min_cases} malignant "
                  f"and {min_controls} other lesions with a {name} value, there are {cases} "
                  f"and {controls}")
    with_case, with_control = clusters[y].nunique(), clusters[~y].nunique()
    clustered = ""
    if with_case < 2 or with_control < 2:
        clustered = ("clustered CI not estimated: Obuchowski's variance needs at least 2 "
                     "patients with a malignant and 2 with another lesion, there are "
                     f"{with_case} and {with_control}")
    return delong, clustered


def _score_row(g: pd.DataFrame, score: str, name: str, *, truth: str, cluster: str,
               min_cases: int, min_controls: int) -> tuple[dict[str, Any], Any]:
    """One row of the table for one score of one scan type, and its curve (or None)."""
    from nethelpers.stats import clustered_auc, roc

    scored = g[g[score].notna()]
    y = scored[truth].astype(bool)
    row: dict[str, Any] = {
        "tracer": g["tracer"].iloc[0], "modality": g["modality"].iloc[0], "measure": name,
        "auc": np.nan, "delong_lower": np.nan, "delong_upper": np.nan,
        "clustered_lower": np.nan, "clustered_upper": np.nan,
        "youden_cutoff_exploratory": np.nan, "youden_sensitivity": np.nan,
        "youden_specificity": np.nan, "n_malignant": int(y.sum()),
        "n_other": int((~y).sum()), "n_not_measured": len(g) - len(scored), "note": ""}
    delong, clustered = _too_few(y, scored[cluster], name, min_cases, min_controls)
    counts = _counts_note(g, [score])
    if delong:
        row["note"] = "; ".join(n for n in (counts, delong) if n)
        return row, None
    r = roc(y, scored[score], direction="<")
    d = r.ci("delong")
    best = r.youden()
    row |= {"auc": r.auc, "delong_lower": d.lower, "delong_upper": d.upper,
            "youden_cutoff_exploratory": best.threshold,
            "youden_sensitivity": best.sensitivity, "youden_specificity": best.specificity}
    notes = [counts, d.note]
    if clustered:
        notes.append(clustered)
    else:
        try:
            c = clustered_auc(y, scored[score], scored[cluster], direction="<")
            row |= {"clustered_lower": c.lower, "clustered_upper": c.upper}
            notes.append(c.note)
        except ValueError as exc:  # a negative Obuchowski variance: too few data
            notes.append(f"clustered CI not estimated: {exc}")
    row["note"] = "; ".join(n for n in notes if n)
    return row, (r, best)


def _comparison_row(g: pd.DataFrame, pair: tuple[str, str], names: tuple[str, str], *,
                    truth: str, min_cases: int, min_controls: int) -> dict[str, Any]:
    """The paired DeLong comparison of two scores on the lesions that have both."""
    from nethelpers.stats import compare_auc

    both = g.dropna(subset=list(pair))
    y = both[truth].astype(bool)
    row: dict[str, Any] = {
        "tracer": g["tracer"].iloc[0], "modality": g["modality"].iloc[0],
        "measure": f"{names[0]} − {names[1]} (DeLong)", "auc": np.nan,
        "delong_lower": np.nan, "delong_upper": np.nan, "p_value": np.nan,
        "n_malignant": int(y.sum()), "n_other": int((~y).sum()),
        "n_not_measured": len(g) - len(both), "note": ""}
    counts = _counts_note(g, list(pair))
    cases, controls = int(y.sum()), int((~y).sum())
    if cases < min_cases or controls < min_controls:
        row["note"] = "; ".join(n for n in (counts, (
            f"not compared: the paired DeLong test needs at least {min_cases} "
            f"malignant and {min_controls} other lesions with both scores, "
            f"there are {cases} and {controls}")) if n)
        return row
    comp = compare_auc(y, both[pair[0]], both[pair[1]], direction="<")
    return row | {"auc": comp.difference, "delong_lower": comp.lower,
                  "delong_upper": comp.upper, "p_value": comp.p,
                  "note": "; ".join(n for n in (counts, comp.note) if n)}


def roc_analysis(data: pd.DataFrame, scores: Mapping[str, str] | None = None, *,
                 truth: str = "malignant", cluster: str = "patient_id", min_cases: int = 2,
                 min_controls: int = 2, method: str = "wilson", level: float = 0.95
                 ) -> RocAnalysis:
    """ROC of each score per scan type: AUC, DeLong and clustered CIs, Youden, comparison.

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`scored_lesions`: one row per lesion read, with ``tracer, modality``, the
        truth, the cluster and the score columns (NaN: not measured).
    scores : mapping, optional
        Score column → name (default :data:`SCORES`). Every pair of scores is compared.
    truth : str
        Boolean column of the target condition (a malignant lesion); a higher score means
        positive (direction ``"<"``).
    cluster : str
        Cluster column of Obuchowski's CI (the patient).
    min_cases, min_controls : int
        Fewest malignant and other lesions with the score a scan type needs (at least 2:
        the DeLong variance divides by n − 1).
    method, level : str, float
        CI method and level of the Youden operating points (cluster-adjusted).

    Returns
    -------
    RocAnalysis
        ``table``: per scan type, one row per score (``tracer, modality, measure, auc,
        delong_lower, delong_upper, clustered_lower, clustered_upper,
        youden_cutoff_exploratory, youden_sensitivity, youden_specificity, n_malignant,
        n_other, n_not_measured, note``) and one per pair of scores (``auc`` is the
        difference of the AUCs, with ``p_value``); a statistic the data cannot support is
        NaN with a note.
    """
    from nethelpers.cutoffs import youden_cutoff

    if min(min_cases, min_controls) < 2:
        raise ValueError("min_cases and min_controls must be at least 2 (the DeLong "
                         f"variance), got {min_cases} and {min_controls}")
    scores = dict(SCORES if scores is None else scores)
    rows, curves, youden = [], [], []
    for (tracer, modality), g in data.groupby(["tracer", "modality"], sort=True,
                                              observed=True):
        for score, name in scores.items():
            row, fit = _score_row(g, score, name, truth=truth, cluster=cluster,
                                  min_cases=min_cases, min_controls=min_controls)
            rows.append(row)
            if fit is not None:
                r, best = fit
                curves.append((f"{tracer} {modality}", name, r))
                youden.append(youden_cutoff(g, score, best, name, truth=truth,
                                            cluster=cluster, method=method, level=level))
        for pair in combinations(scores, 2):
            rows.append(_comparison_row(g, pair, (scores[pair[0]], scores[pair[1]]),
                                        truth=truth, min_cases=min_cases,
                                        min_controls=min_controls))
    columns = ["tracer", "modality", "measure", "auc", "delong_lower", "delong_upper",
               "clustered_lower", "clustered_upper", "youden_cutoff_exploratory",
               "youden_sensitivity", "youden_specificity", "n_malignant", "n_other",
               "n_not_measured", "p_value", "note"]
    table = pd.DataFrame(rows, columns=columns)
    return RocAnalysis(table, curves, pd.DataFrame(youden))


def cutoff_table(data: pd.DataFrame, rule: str, analysis: RocAnalysis, *,
                 test: str = "positive", truth: str = "malignant",
                 cluster: str | None = "patient_id", method: str = "wilson",
                 level: float = 0.95) -> pd.DataFrame:
    """The pre-specified cut-off of each scan type, then the exploratory Youden cut-offs.

    Parameters
    ----------
    data : pandas.DataFrame
        :func:`scored_lesions` (``test``: the protocol's positivity, NA when not measured).
    rule : str
        The pre-specified rule in words
        (:attr:`nethelpers.scores.ScoreRules.positivity_text`).
    analysis : RocAnalysis
        Its ``youden`` rows follow the pre-specified ones.
    test, truth, cluster, method, level
        As :func:`nethelpers.cutoffs.prespecified_cutoff`.

    Returns
    -------
    pandas.DataFrame
        :func:`nethelpers.cutoffs.prespecified_cutoff`'s columns, one row per scan type
        (pre-specified) and per curve (exploratory).
    """
    from nethelpers.cutoffs import prespecified_cutoff

    pre = prespecified_cutoff(data, test, rule, truth=truth, cluster=cluster, method=method,
                              level=level)
    pre = _counts_rule(pre, data, rule)
    parts = [t for t in (pre, analysis.youden) if len(t)]
    return pd.concat(parts, ignore_index=True) if parts else pre


def _counts_rule(pre: pd.DataFrame, data: pd.DataFrame, rule: str) -> pd.DataFrame:
    """Name the rule on counts where a scan type's lesions include counts-only SPECT.

    The scores apply the positivity rule to counts-only SPECT on its counts (lesion maximum
    over the reference's mean counts of the same scan, a ratio that needs no calibration):
    the row says so instead of calling those counts SUV.
    """
    if "quantity" not in data.columns or not len(pre):
        return pre
    counts = data["quantity"].astype("string").str.lower().eq("counts").fillna(False)
    with_counts = set(zip(data.loc[counts, "tracer"], data.loc[counts, "modality"],
                          strict=True))
    if not with_counts:
        return pre
    on_counts = rule.replace("SUVmax", "max").replace("SUVpeak", "peak").replace(
        "SUVmean", "mean")
    out = pre.copy()
    at = [(t, m) in with_counts for t, m in zip(out["tracer"], out["modality"], strict=True)]
    out.loc[at, "cutoff"] = f"{rule} (counts-only SPECT: {on_counts} counts)"
    return out


def roc_figures(analysis: RocAnalysis, *, seed: int | None = 0, level: float = 0.95
                ) -> list[tuple[str, Any]]:
    """One ROC figure per scan type with every curve estimated on it.

    Parameters
    ----------
    analysis : RocAnalysis
        From :func:`roc_analysis`.
    seed : int, optional
        Seed of the bootstrap bands.
    level : float
        Confidence level of the bands.

    Returns
    -------
    list of (str, matplotlib.figure.Figure)
        ``("roc_<tracer>_<modality>", figure)`` (``/`` and spaces removed from the name).
    """
    from nethelpers.plots import roc_curve, roc_plot

    out = []
    for scan in sorted({c[0] for c in analysis.curves}):
        drawn = [roc_curve(r, name, youden=True, seed=seed)
                 for s, name, r in analysis.curves if s == scan]
        fig = roc_plot(drawn, title=scan, level=level)
        out.append(("roc_" + scan.replace(" ", "_").replace("/", ""), fig))
    return out
