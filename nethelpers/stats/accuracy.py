"""Diagnostic accuracy from a 2x2 table, at patient level or cluster-adjusted at lesion level.

:func:`diagnostic_accuracy` takes a tidy table (one row per patient, or per lesion with a
patient column) and returns sensitivity, specificity, PPV, NPV and accuracy with confidence
intervals, the likelihood ratios LR+ and LR- and the diagnostic odds ratio (DOR), each row
naming its method. Definitions (TP, FP, FN, TN the cells of the 2x2 table):

=============  =====================  ==========================================
measure        estimate               interval
=============  =====================  ==========================================
sensitivity    TP / (TP + FN)         ``method`` of :mod:`.proportions`
specificity    TN / (TN + FP)         idem
ppv            TP / (TP + FP)         idem
npv            TN / (TN + FN)         idem
accuracy       (TP + TN) / n          idem
lr_positive    sens / (1 - spec)      log method (Simel, Samsa & Matchar 1991)
lr_negative    (1 - sens) / spec      log method (Simel, Samsa & Matchar 1991)
dor            TP·TN / (FP·FN)        log (Woolf) method (Glas et al. 2003)
=============  =====================  ==========================================

Log method: ln LR+ ± z·sqrt(1/TP - 1/(TP+FN) + 1/FP - 1/(FP+TN)),
ln LR- ± z·sqrt(1/FN - 1/(TP+FN) + 1/TN - 1/(FP+TN)), ln DOR ± z·sqrt(1/TP+1/FP+1/FN+1/TN),
exponentiated.

Zero cells (``zero_cell="haldane"``, the default): a ratio whose uncorrected value would be 0 or
infinite (a zero in one of *its* cells: TP or FP for LR+, FN or TN for LR-, any cell for the DOR)
is computed, estimate and interval, from the table with 0.5 added to all four cells
(Haldane 1956) and its ``note`` says so and why. A ratio that would be 0/0 (LR+ with TP = FP = 0,
LR- with FN = TN = 0, DOR with TP·TN = FP·FN = 0, or no diseased / no non-diseased units) is not
estimable: NaN with a note. With ``zero_cell="none"`` every ratio with a zero cell is not
estimable. The proportions are never corrected.

Zero log-method SE: LR- with TP = FP = 0 (and LR+ with FN = TN = 0) is exactly 1 (n/n over
m/m) and none of its own cells is zero, so no correction applies, but its log-method variance
is exactly 0 and the interval would be the point "1.0 (1.0–1.0)". The estimate is given, the
interval is NaN and the note says "interval not estimable: zero cells in the 2×2 table make
the log-method SE 0 (TP = 0, FP = 0)". (The R reference, ``tests/reference/
accuracy_reference.R``, writes the degenerate interval 1–1 for this case; the estimate and
every other case agree with it, and the test checks this one difference explicitly.)

Cluster adjustment (``cluster=`` a column such as ``patient_id``)
-----------------------------------------------------------------
For each proportion the units of its denominator (e.g. the diseased lesions for sensitivity)
are grouped by cluster; K is the number of clusters contributing at least one unit, N the
number of units, x_k and n_k the successes and units of cluster k, p = Σx_k / N.

- Ratio-estimator variance (Rao & Scott 1992; the "variance adjustment" of Genders et al.
  2012): ``se_cluster² = K/(K-1) · Σ_k (x_k - p·n_k)² / N²``.
- Design effect: ``design_effect = se_cluster² / v_1`` where ``v_1 = p(1-p)/(N-1)`` is the same
  estimator with every unit its own cluster (K = N). It is Rao & Scott's
  d = se_cluster²·N/(p(1-p)) times (N-1)/N, defined so that clusters of size 1 give exactly 1.
  At p = 0 or 1 it cannot be estimated: the smallest design effect of the tables one unit
  away (one unit flipped, in each cluster in turn) is used, so that one more missed lesion
  never narrows the interval (a worst-case Σn_k²/N would make 60/60 look less certain than
  59/60; tested as a property). With one cluster (K = 1) the worst case Σn_k²/N
  (intra-cluster correlation 1) is used. The note says which.
- ``cluster_ci="effective-n"`` (default): the chosen ``method`` applied to the effective counts
  k/d, N/d with d = max(design_effect, 1) (Rao & Scott 1992 effective sample size; Korn &
  Graubard 1998 truncate d at 1 as here). With clusters of size 1, d = 1 exactly and the
  cluster-adjusted interval **equals** the unadjusted one exactly (tested).
- ``cluster_ci="wald"``: p ± z·se_cluster, truncated to [0, 1] (Genders et al. 2012). It is
  not estimable (NaN with a note) when p = 0 or 1 or K = 1. With clusters of size 1 its
  variance is p(1-p)/(N-1) (not the p(1-p)/N of the textbook Wald interval: the K/(K-1)
  factor).
- GEE cross-check (``gee=True``, :func:`gee_proportion`): statsmodels GEE, binomial, logit
  link, independence working correlation, robust (sandwich) SE, intercept only. Its estimate is
  p; its delta-method SE on the probability scale is sqrt(Σ(x_k - p·n_k)²)/N, so
  ``se_cluster = gee_se · sqrt(K/(K-1))`` exactly (tested; R geepack gives the same numbers,
  tested to 1e-10). Its interval is Wald on the logit scale, back-transformed.

The ratios (LR+, LR-, DOR) are not cluster-adjusted; their cluster columns are NaN and their
note says so.

Missing values
--------------
A missing reference standard (``truth``) is always an error naming the count: decide outside
which units have a reference standard. A missing index test result (an indeterminate read) is
handled by ``indeterminate``: ``"error"`` (default), ``"exclude"`` (dropped),
``"positive"`` / ``"negative"`` (counted as such); :class:`AccuracyResult` reports how many.

References
----------
Genders TSS, Spronk S, Stijnen T, et al. Methods for calculating sensitivity and specificity of
clustered data: a tutorial. Radiology 2012;265:910-916.
Glas AS, Lijmer JG, Prins MH, et al. The diagnostic odds ratio: a single indicator of test
performance. J Clin Epidemiol 2003;56:1129-1135.
Haldane JBS. The estimation and significance of the logarithm of a ratio of frequencies. Ann
Hum Genet 1956;20:309-311.
Korn EL, Graubard BI. Confidence intervals for proportions with small expected number of
positive counts estimated from survey data. Surv Methodol 1998;24:193-201.
Rao JNK, Scott AJ. A simple method for the analysis of clustered binary data. Biometrics
1992;48:577-585.
Simel DL, Samsa GP, Matchar DB. Likelihood ratios with confidence: sample size estimation for
diagnostic test studies. J Clin Epidemiol 1991;44:763-770.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from nethelpers.stats.proportions import (
    NOT_ESTIMABLE_0_0,
    check_level,
    check_method,
    interval_bounds,
)

__all__ = [
    "AccuracyResult",
    "ClusteredProportionCI",
    "GEEProportion",
    "MEASURES",
    "accuracy_from_counts",
    "binary_array",
    "cluster_codes",
    "clustered_proportion_ci",
    "diagnostic_accuracy",
    "gee_proportion",
    "ratio_measures",
]

MEASURES = (
    "sensitivity",
    "specificity",
    "ppv",
    "npv",
    "accuracy",
    "lr_positive",
    "lr_negative",
    "dor",
)
"""Row order of the accuracy table."""

PROPORTIONS = MEASURES[:5]
RATIOS = MEASURES[5:]

LR_METHOD = "log (Simel 1991)"
DOR_METHOD = "log (Woolf)"
GEE_METHOD = "GEE binomial, independence, robust SE, logit Wald"
NOT_CLUSTER_ADJUSTED = "ratio: not cluster-adjusted"
NOT_ESTIMABLE_SE_0 = ("interval not estimable: zero cells in the 2×2 table make the "
                      "log-method SE 0")

CLUSTER_CI = ("effective-n", "wald")
INDETERMINATE = ("error", "exclude", "positive", "negative")
ZERO_CELL = ("haldane", "none")


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _z(level: float) -> float:
    return float(stats.norm.isf((1.0 - level) / 2.0))


# ---------------------------------------------------------------------------------------------
# Input coercion
# ---------------------------------------------------------------------------------------------
def binary_array(values: object, name: str, allow_missing: bool = False) -> np.ndarray:
    """Coerce booleans or 0/1 values to a float array of 0.0/1.0 (NaN where missing).

    Parameters
    ----------
    values : array_like or pandas.Series
        bool, 0/1 integers or floats, pandas nullable booleans; None/NaN/NA are missing.
    name : str
        Name used in error messages (e.g. the column name).
    allow_missing : bool
        If False, any missing value raises ``ValueError`` naming the count.

    Returns
    -------
    numpy.ndarray
        float64, values 0.0, 1.0 or NaN.

    Raises
    ------
    ValueError
        Values other than booleans/0/1 (up to five are named), or missing values when not
        allowed.
    """
    s = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values
    s = s.astype("object")
    missing = s.isna().to_numpy()
    present = s[~missing]
    ok = present.map(lambda v: isinstance(v, (bool, np.bool_, int, np.integer, float,
                                              np.floating)) and v in (0, 1))
    if not ok.all():
        bad = list(dict.fromkeys(present[~ok].tolist()))[:5]
        raise ValueError(f"{name!r} must be boolean or 0/1; found {bad!r}")
    if missing.any() and not allow_missing:
        raise ValueError(f"{name!r} has {int(missing.sum())} missing value(s) of {len(s)}")
    out = np.full(len(s), np.nan)
    out[~missing] = present.astype(float).to_numpy()
    return out


def cluster_codes(cluster: object, name: str = "cluster") -> np.ndarray:
    """Integer codes 0..K-1 of cluster labels (any hashable values); missing labels raise."""
    s = pd.Series(cluster) if not isinstance(cluster, pd.Series) else cluster
    n_missing = int(s.isna().sum())
    if n_missing:
        raise ValueError(f"{name!r} has {n_missing} missing value(s) of {len(s)}")
    codes, _ = pd.factorize(s, sort=False)
    return codes.astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Cluster-adjusted proportion
# ---------------------------------------------------------------------------------------------
def _ratio_variance(x: np.ndarray, codes: np.ndarray, p: float) -> tuple[float, int]:
    """Ratio-estimator variance K/(K-1) Σ(x_k - p n_k)² / N² and K (NaN when K < 2).

    ``math.fsum`` makes the sum independent of the order of the clusters, so clusters of size 1
    give exactly the value computed with every unit as its own cluster.
    """
    nk = np.bincount(codes).astype(float)
    xk = np.bincount(codes, weights=x)
    used = nk > 0
    nk, xk = nk[used], xk[used]
    n_clusters = int(nk.size)
    if n_clusters < 2:
        return math.nan, n_clusters
    resid = xk - p * nk
    total = math.fsum(resid * resid)
    n_units = float(x.size)
    return n_clusters / (n_clusters - 1) * total / (n_units * n_units), n_clusters


def _boundary_design_effect(x: np.ndarray, codes: np.ndarray, n_units: int) -> float:
    """Smallest design effect over the tables with one unit flipped (x all 0 or all 1)."""
    best = math.inf
    flipped = x.astype(float).copy()
    for cluster in np.unique(codes):
        i = int(np.flatnonzero(codes == cluster)[0])
        flipped[i] = 1.0 - flipped[i]
        p = float(flipped.sum()) / n_units
        var_cluster, _ = _ratio_variance(flipped, codes, p)
        var_units, _ = _ratio_variance(flipped, np.arange(n_units), p)
        best = min(best, var_cluster / var_units)
        flipped[i] = 1.0 - flipped[i]
    return best


@dataclass(frozen=True)
class ClusteredProportionCI:
    """A proportion of clustered units with its unadjusted and cluster-adjusted intervals.

    Attributes
    ----------
    estimate : float
        p = Σx_k / N (NaN when N = 0).
    lower, upper : float
        Unadjusted interval of ``method``.
    k, n, n_clusters : int
        Successes, units, clusters contributing at least one unit.
    se_cluster : float
        Ratio-estimator standard error, with the K/(K-1) factor.
    design_effect : float
        se_cluster² / (p(1-p)/(N-1)); at p = 0 or 1 the smallest one unit away, with one
        cluster the worst case Σn_k²/N (see note).
    n_eff : float
        N / max(design_effect, 1).
    effective_lower, effective_upper : float
        ``method`` applied to (k, N) divided by max(design_effect, 1).
    wald_lower, wald_upper : float
        p ± z·se_cluster truncated to [0, 1]; NaN when p is 0 or 1 or K = 1.
    method : str
        CI method of the unadjusted and effective-n intervals.
    level : float
        Confidence level.
    note : str
        0/0, and the design-effect conventions applied (boundary rule, truncation at 1).
    wald_note : str
        Why the Wald interval is truncated or not estimable.
    """

    estimate: float
    lower: float
    upper: float
    k: int
    n: int
    n_clusters: int
    se_cluster: float
    design_effect: float
    n_eff: float
    effective_lower: float
    effective_upper: float
    wald_lower: float
    wald_upper: float
    method: str
    level: float
    note: str = ""
    wald_note: str = ""


def clustered_proportion_ci(
    x: object, cluster: object, method: str = "wilson", level: float = 0.95
) -> ClusteredProportionCI:
    """Proportion of clustered binary units with ratio-estimator (Rao & Scott) adjustment.

    Parameters
    ----------
    x : array_like of bool or 0/1
        One value per unit of the denominator (e.g. the test result of each diseased lesion).
    cluster : array_like
        Cluster label of each unit (e.g. patient_id), same length.
    method : str
        CI method (:data:`nethelpers.config.CI_METHODS`) of the unadjusted and effective-n
        intervals.
    level : float
        Confidence level.

    Returns
    -------
    ClusteredProportionCI
        See the module docstring for the exact formulas. With every cluster of size 1,
        ``design_effect == 1.0``, ``n_eff == n`` and the effective-n interval equals the
        unadjusted interval exactly.
    """
    check_method(method)
    level = check_level(level)
    xv = binary_array(x, "x")
    codes = cluster_codes(cluster)
    if codes.size != xv.size:
        raise ValueError(f"x has {xv.size} values but cluster has {codes.size}")
    n_units = int(xv.size)
    k = int(xv.sum())
    nan = math.nan
    if n_units == 0:
        return ClusteredProportionCI(nan, nan, nan, 0, 0, 0, nan, nan, nan, nan, nan, nan, nan,
                                     method, level, NOT_ESTIMABLE_0_0)
    p = k / n_units
    lower, upper = (float(v) for v in interval_bounds(k, n_units, method, level))
    var_cluster, n_clusters = _ratio_variance(xv, codes, p)
    notes = []
    wald_note = ""
    if 0.0 < p < 1.0 and n_clusters >= 2:
        var_units, _ = _ratio_variance(xv, np.arange(n_units), p)
        deff = var_cluster / var_units
        z = _z(level)
        se = math.sqrt(var_cluster)
        wald_lower, wald_upper = p - z * se, p + z * se
        if wald_lower < 0.0 or wald_upper > 1.0:
            wald_note = "Wald interval truncated to [0, 1]"
        elif se == 0.0:
            wald_note = "ratio-estimator variance is 0: Wald interval has zero width"
        wald_lower, wald_upper = max(0.0, wald_lower), min(1.0, wald_upper)
    elif n_clusters >= 2:
        # 0 % or 100 %: the design effect cannot be estimated. Use the smallest design effect
        # of the tables one unit away (one unit flipped, in each cluster in turn): the
        # interval then never narrows when one more lesion is missed (a worst-case design
        # effect would make 60/60 look less certain than 59/60).
        deff = _boundary_design_effect(xv, codes, n_units)
        se = math.sqrt(var_cluster)
        wald_lower = wald_upper = nan
        notes.append(
            f"design effect not estimable at {p:.0%}: the smallest design effect of the tables "
            f"with one unit changed ({deff:.4g}) is used"
        )
        wald_note = f"Wald interval not estimable (estimate is {p:.0%})"
    else:
        nk = np.bincount(codes).astype(float)
        deff = math.fsum(nk * nk) / n_units
        se = wald_lower = wald_upper = nan
        notes.append(
            f"design effect not estimable (only one cluster): worst case sum(n_k^2)/N = "
            f"{deff:.4g} (intra-cluster correlation 1) used"
        )
        wald_note = "Wald interval not estimable (only one cluster)"
    deff_used = max(deff, 1.0)
    if deff < 1.0:
        notes.append(f"design effect {deff:.4g} < 1 truncated to 1 for the effective-n interval")
    k_eff, n_eff = k / deff_used, n_units / deff_used
    eff_lower, eff_upper = (float(v) for v in interval_bounds(k_eff, n_eff, method, level))
    return ClusteredProportionCI(
        p, lower, upper, k, n_units, n_clusters, se, deff, n_eff, eff_lower, eff_upper,
        wald_lower, wald_upper, method, level, _join(*notes), wald_note,
    )


@dataclass(frozen=True)
class GEEProportion:
    """Intercept-only GEE (binomial, independence, robust SE) of a clustered proportion.

    Attributes
    ----------
    estimate : float
        expit(intercept) = p.
    se : float
        Robust SE on the probability scale (delta method): sqrt(Σ(x_k - p n_k)²)/N.
    se_logit : float
        Robust (sandwich) SE of the intercept, as R geepack's ``Std.err``.
    lower, upper : float
        expit(intercept ± z·se_logit).
    se_ratio : float
        ``se · sqrt(K/(K-1))``: the ratio-estimator SE of :func:`clustered_proportion_ci`.
    n, n_clusters : int
        Units and clusters.
    level : float
        Confidence level.
    method : str
        Description of the model.
    note : str
        Why it is not estimable, or statsmodels warnings.
    """

    estimate: float
    se: float
    se_logit: float
    lower: float
    upper: float
    se_ratio: float
    n: int
    n_clusters: int
    level: float
    method: str = GEE_METHOD
    note: str = ""


def gee_proportion(x: object, cluster: object, level: float = 0.95) -> GEEProportion:
    """Fit ``y ~ 1`` by GEE (statsmodels; binomial, independence, robust SE) per cluster.

    Parameters
    ----------
    x : array_like of bool or 0/1
        One value per unit.
    cluster : array_like
        Cluster label of each unit.
    level : float
        Confidence level of the logit-scale Wald interval.

    Returns
    -------
    GEEProportion
        Not estimable (NaN with a note) when there are no units, the estimate is 0 or 1
        (infinite logit) or there is a single cluster.

    Notes
    -----
    Equals R ``geepack::geeglm(y ~ 1, id = cluster, family = binomial,
    corstr = "independence")`` (estimate and ``Std.err``). statsmodels' robust covariance has
    no small-sample factor, hence ``se_ratio = se · sqrt(K/(K-1))``.
    """
    import statsmodels.api as sm

    level = check_level(level)
    xv = binary_array(x, "x")
    codes = cluster_codes(cluster)
    if codes.size != xv.size:
        raise ValueError(f"x has {xv.size} values but cluster has {codes.size}")
    n_units = int(xv.size)
    n_clusters = int(np.unique(codes).size)
    nan = math.nan
    if n_units == 0:
        return GEEProportion(nan, nan, nan, nan, nan, nan, 0, 0, level, note=NOT_ESTIMABLE_0_0)
    p = float(xv.sum()) / n_units
    if p in (0.0, 1.0) or n_clusters < 2:
        why = "estimate is 0 or 1 (logit infinite)" if n_clusters >= 2 else "only one cluster"
        return GEEProportion(p, nan, nan, nan, nan, nan, n_units, n_clusters, level,
                             note=f"GEE not estimable: {why}")
    order = np.argsort(codes, kind="stable")
    model = sm.GEE(
        xv[order],
        np.ones((n_units, 1)),
        groups=codes[order],
        family=sm.families.Binomial(),
        cov_struct=sm.cov_struct.Independence(),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit()
    beta = float(fit.params[0])
    se_logit = float(fit.bse[0])
    est = float(1.0 / (1.0 + math.exp(-beta)))
    se = est * (1.0 - est) * se_logit
    z = _z(level)
    lower = float(1.0 / (1.0 + math.exp(-(beta - z * se_logit))))
    upper = float(1.0 / (1.0 + math.exp(-(beta + z * se_logit))))
    se_ratio = se * math.sqrt(n_clusters / (n_clusters - 1))
    note = _join(*(f"statsmodels: {w.message}" for w in caught))
    return GEEProportion(est, se, se_logit, lower, upper, se_ratio, n_units, n_clusters, level,
                         note=note)


# ---------------------------------------------------------------------------------------------
# Ratios
# ---------------------------------------------------------------------------------------------
def _ratio_row(measure: str, tp: int, fp: int, fn: int, tn: int, level: float,
               zero_cell: str) -> dict:
    """LR+, LR- or DOR with its log-method interval and the zero-cell rule."""
    method = DOR_METHOD if measure == "dor" else LR_METHOD
    nan = math.nan
    row = {"measure": measure, "estimate": nan, "lower": nan, "upper": nan, "method": method,
           "numerator": pd.NA, "denominator": pd.NA, "note": ""}
    own = {"lr_positive": {"TP": tp, "FP": fp}, "lr_negative": {"FN": fn, "TN": tn},
           "dor": {"TP": tp, "FP": fp, "FN": fn, "TN": tn}}[measure]
    if tp + fn == 0 or fp + tn == 0:
        row["note"] = "not estimable: " + ("no diseased units" if tp + fn == 0
                                           else "no non-diseased units")
        return row
    zero_0_0 = {"lr_positive": tp == 0 and fp == 0, "lr_negative": fn == 0 and tn == 0,
                "dor": tp * tn == 0 and fp * fn == 0}[measure]
    if zero_0_0:
        row["note"] = "not estimable: 0/0 (" + ", ".join(f"{c} = 0" for c, v in own.items()
                                                         if v == 0) + ")"
        return row
    zeros = [c for c, v in own.items() if v == 0]
    a, b, c, d = float(tp), float(fp), float(fn), float(tn)
    if zeros:
        if zero_cell == "none":
            cells = ", ".join(z + " = 0" for z in zeros)
            row["note"] = f"not estimable: {cells} (zero_cell='none')"
            return row
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
        row["note"] = (f"Haldane correction: 0.5 added to each cell because "
                       f"{', '.join(z + ' = 0' for z in zeros)}")
    if measure == "lr_positive":
        est = (a / (a + c)) / (b / (b + d))
        var = 1 / a - 1 / (a + c) + 1 / b - 1 / (b + d)
    elif measure == "lr_negative":
        est = (c / (a + c)) / (d / (b + d))
        var = 1 / c - 1 / (a + c) + 1 / d - 1 / (b + d)
    else:
        est = (a * d) / (b * c)
        var = 1 / a + 1 / b + 1 / c + 1 / d
    flat = {"lr_positive": {"FN": fn, "TN": tn}, "lr_negative": {"TP": tp, "FP": fp},
            "dor": {}}[measure]
    if (flat and not any(flat.values())) or not var > 0.0:
        # e.g. LR- with TP = FP = 0: sensitivity 0/n and 1 - specificity 0/m, the ratio is
        # n/n over m/m = 1 and its log-method variance 1/FN - 1/FN + 1/TN - 1/TN is 0.
        cells = ", ".join(f"{c} = 0" for c in flat) or "zero cells"
        row.update(estimate=est)
        row["note"] = _join(row["note"], NOT_ESTIMABLE_SE_0 + f" ({cells})")
        return row
    half = _z(level) * math.sqrt(var)
    row.update(estimate=est, lower=math.exp(math.log(est) - half),
               upper=math.exp(math.log(est) + half))
    return row


def ratio_measures(
    tp: int, fp: int, fn: int, tn: int, level: float = 0.95,
    zero_cell: Literal["haldane", "none"] = "haldane",
) -> pd.DataFrame:
    """LR+, LR- and DOR of a 2x2 table with log-method intervals.

    Parameters
    ----------
    tp, fp, fn, tn : int
        Cells of the 2x2 table.
    level : float
        Confidence level.
    zero_cell : {"haldane", "none"}
        Zero-cell rule; see the module docstring.

    Returns
    -------
    pandas.DataFrame
        Rows ``lr_positive, lr_negative, dor``; columns ``measure, estimate, lower, upper,
        method, numerator, denominator, note`` (numerator/denominator are <NA>: ratios are not
        proportions).
    """
    level = check_level(level)
    if zero_cell not in ZERO_CELL:
        raise ValueError(f"zero_cell must be one of {ZERO_CELL}, got {zero_cell!r}")
    _check_cells(tp, fp, fn, tn)
    rows = [_ratio_row(m, int(tp), int(fp), int(fn), int(tn), level, zero_cell) for m in RATIOS]
    return _frame(rows)


def _check_cells(*cells: object) -> None:
    for v in cells:
        if not (float(v) == int(v) and int(v) >= 0):
            raise ValueError(f"2x2 cells must be non-negative integers, got {cells}")


def _frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["numerator"] = df["numerator"].astype("Int64")
    df["denominator"] = df["denominator"].astype("Int64")
    return df


def _proportion_row(measure: str, k: int, n: int, method: str, level: float) -> dict:
    if n == 0:
        est = lower = upper = math.nan
        note = NOT_ESTIMABLE_0_0
    else:
        est = k / n
        lower, upper = (float(v) for v in interval_bounds(k, n, method, level))
        note = ""
    return {"measure": measure, "estimate": est, "lower": lower, "upper": upper,
            "method": method, "numerator": k, "denominator": n, "note": note}


def accuracy_from_counts(
    tp: int, fp: int, fn: int, tn: int, method: str = "wilson", level: float = 0.95,
    zero_cell: Literal["haldane", "none"] = "haldane",
) -> pd.DataFrame:
    """Unclustered accuracy table from the four cells (the table of :func:`diagnostic_accuracy`).

    Parameters
    ----------
    tp, fp, fn, tn : int
        Cells of the 2x2 table.
    method : str
        CI method of the proportions.
    level : float
        Confidence level.
    zero_cell : {"haldane", "none"}
        Zero-cell rule of the ratios.

    Returns
    -------
    pandas.DataFrame
        One row per measure of :data:`MEASURES`.
    """
    check_method(method)
    level = check_level(level)
    _check_cells(tp, fp, fn, tn)
    tp, fp, fn, tn = int(tp), int(fp), int(fn), int(tn)
    fracs = {"sensitivity": (tp, tp + fn), "specificity": (tn, tn + fp),
             "ppv": (tp, tp + fp), "npv": (tn, tn + fn), "accuracy": (tp + tn, tp + fp + fn + tn)}
    rows = [_proportion_row(m, *fracs[m], method, level) for m in PROPORTIONS]
    rows += [_ratio_row(m, tp, fp, fn, tn, level, zero_cell) for m in RATIOS]
    return _frame(rows)


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccuracyResult:
    """Result of :func:`diagnostic_accuracy`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per measure (:data:`MEASURES`); see :func:`diagnostic_accuracy`.
    counts : dict
        ``{"TP": ..., "FP": ..., "FN": ..., "TN": ...}`` after indeterminate handling.
    n : int
        Units analysed.
    method : str
        CI method of the proportions.
    level : float
        Confidence level.
    indeterminate : str
        How missing test results were handled.
    n_indeterminate : int
        Number of missing test results (excluded or reclassified).
    cluster : str or None
        Cluster column, if any.
    n_clusters : int or None
        Number of clusters among the analysed units.
    cluster_ci : str or None
        ``"effective-n"`` or ``"wald"`` when clustered.
    """

    table: pd.DataFrame
    counts: dict[str, int]
    n: int
    method: str
    level: float
    indeterminate: str
    n_indeterminate: int
    cluster: str | None = None
    n_clusters: int | None = None
    cluster_ci: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """A copy of the tidy table."""
        return self.table.copy()

    @property
    def indeterminate_note(self) -> str:
        """A sentence for the report, e.g. ``"2 indeterminate test results excluded"``."""
        if self.n_indeterminate == 0:
            return "no indeterminate test results"
        what = {"exclude": "excluded", "positive": "counted as positive",
                "negative": "counted as negative"}[self.indeterminate]
        return f"{self.n_indeterminate} indeterminate test result(s) {what}"


def diagnostic_accuracy(
    df: pd.DataFrame,
    test: str,
    truth: str,
    cluster: str | None = None,
    method: str = "wilson",
    level: float = 0.95,
    *,
    indeterminate: Literal["error", "exclude", "positive", "negative"] = "error",
    cluster_ci: Literal["effective-n", "wald"] = "effective-n",
    gee: bool = False,
    zero_cell: Literal["haldane", "none"] = "haldane",
) -> AccuracyResult:
    """Sensitivity, specificity, PPV, NPV, accuracy, LR+, LR- and DOR with intervals.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per unit (patient, or lesion).
    test : str
        Column of the index test result: bool or 0/1; missing = indeterminate.
    truth : str
        Column of the reference standard: bool or 0/1; missing values are an error.
    cluster : str, optional
        Column of the cluster (e.g. ``"patient_id"`` for lesion-level rows). Adds the
        cluster-adjusted columns.
    method : str
        CI method of the proportions (:data:`nethelpers.config.CI_METHODS`).
    level : float
        Confidence level.
    indeterminate : {"error", "exclude", "positive", "negative"}
        What to do with missing test results.
    cluster_ci : {"effective-n", "wald"}
        Which cluster-adjusted interval fills ``cluster_lower``/``cluster_upper``.
    gee : bool
        Add the GEE cross-check columns (needs ``cluster``).
    zero_cell : {"haldane", "none"}
        Zero-cell rule of LR+, LR-, DOR.

    Returns
    -------
    AccuracyResult
        ``table`` columns: ``measure, estimate, lower, upper, method, numerator, denominator,
        note``; with ``cluster`` also ``n_clusters, se_cluster, design_effect, n_eff,
        cluster_lower, cluster_upper, cluster_method``; with ``gee`` also ``gee_estimate,
        gee_se, gee_lower, gee_upper``. Not-estimable cells are NaN and the row's ``note``
        says why.

    Raises
    ------
    ValueError
        Unknown column or option, values other than bool/0/1, missing truth or cluster
        values, or missing test values with ``indeterminate="error"``.
    """
    check_method(method)
    level = check_level(level)
    if indeterminate not in INDETERMINATE:
        raise ValueError(f"indeterminate must be one of {INDETERMINATE}, got {indeterminate!r}")
    if cluster_ci not in CLUSTER_CI:
        raise ValueError(f"cluster_ci must be one of {CLUSTER_CI}, got {cluster_ci!r}")
    if zero_cell not in ZERO_CELL:
        raise ValueError(f"zero_cell must be one of {ZERO_CELL}, got {zero_cell!r}")
    if gee and cluster is None:
        raise ValueError("gee=True needs a cluster column")
    for col in (test, truth) + ((cluster,) if cluster is not None else ()):
        if col not in df.columns:
            raise ValueError(f"no column {col!r} in the table (columns: {list(df.columns)})")

    y = binary_array(df[truth], truth)
    t = binary_array(df[test], test, allow_missing=True)
    codes = cluster_codes(df[cluster], cluster) if cluster is not None else None
    missing = np.isnan(t)
    n_ind = int(missing.sum())
    if n_ind and indeterminate == "error":
        raise ValueError(
            f"{test!r} has {n_ind} missing (indeterminate) value(s) of {len(t)}; choose "
            "indeterminate='exclude', 'positive' or 'negative'"
        )
    if indeterminate == "exclude":
        keep = ~missing
        y, t = y[keep], t[keep]
        codes = codes[keep] if codes is not None else None
    elif indeterminate in ("positive", "negative"):
        t = np.where(missing, 1.0 if indeterminate == "positive" else 0.0, t)

    pos, dis = t == 1.0, y == 1.0
    tp, fp = int(np.sum(pos & dis)), int(np.sum(pos & ~dis))
    fn, tn = int(np.sum(~pos & dis)), int(np.sum(~pos & ~dis))
    table = accuracy_from_counts(tp, fp, fn, tn, method, level, zero_cell)

    n_clusters = None
    if codes is not None:
        n_clusters = int(np.unique(codes).size)
        subsets = {"sensitivity": (dis, pos), "specificity": (~dis, ~pos), "ppv": (pos, dis),
                   "npv": (~pos, ~dis), "accuracy": (np.ones_like(pos), pos == dis)}
        cluster_method = ("ratio-wald" if cluster_ci == "wald" else f"{method}-effective-n")
        extra = {c: [] for c in ("n_clusters", "se_cluster", "design_effect", "n_eff",
                                 "cluster_lower", "cluster_upper", "cluster_method")}
        gee_cols = {c: [] for c in ("gee_estimate", "gee_se", "gee_lower", "gee_upper")}
        notes = list(table["note"])
        for i, measure in enumerate(MEASURES):
            if measure in RATIOS:
                for c in extra:
                    extra[c].append(pd.NA if c == "n_clusters" else
                                    ("" if c == "cluster_method" else math.nan))
                for c in gee_cols:
                    gee_cols[c].append(math.nan)
                notes[i] = _join(notes[i], NOT_CLUSTER_ADJUSTED)
                continue
            rows, success = subsets[measure]
            res = clustered_proportion_ci(success[rows], codes[rows], method, level)
            lo, hi = ((res.wald_lower, res.wald_upper) if cluster_ci == "wald"
                      else (res.effective_lower, res.effective_upper))
            vals = (res.n_clusters, res.se_cluster, res.design_effect, res.n_eff, lo, hi,
                    cluster_method)
            for c, v in zip(extra, vals, strict=True):
                extra[c].append(v)
            if res.n > 0:
                notes[i] = _join(notes[i], res.note,
                                 res.wald_note if cluster_ci == "wald" else "")
            if gee:
                g = gee_proportion(success[rows], codes[rows], level)
                for c, v in zip(gee_cols, (g.estimate, g.se, g.lower, g.upper), strict=True):
                    gee_cols[c].append(v)
                if g.note and g.note != NOT_ESTIMABLE_0_0:
                    notes[i] = _join(notes[i], g.note)
        for c, v in extra.items():
            table[c] = v
        table["n_clusters"] = table["n_clusters"].astype("Int64")
        if gee:
            for c, v in gee_cols.items():
                table[c] = v
        table["note"] = notes
        cols = [c for c in table.columns if c != "note"] + ["note"]
        table = table[cols]

    return AccuracyResult(
        table=table,
        counts={"TP": tp, "FP": fp, "FN": fn, "TN": tn},
        n=tp + fp + fn + tn,
        method=method,
        level=level,
        indeterminate=indeterminate,
        n_indeterminate=n_ind,
        cluster=cluster,
        n_clusters=n_clusters,
        cluster_ci=cluster_ci if cluster is not None else None,
    )
