"""Paired binary comparisons of two tests on the same units: McNemar tests and paired differences.

Notation: for each unit (patient or lesion) both tests A and B are read; a = A+ B+,
b = A+ B- , c = A- B+, d = A- B-; n = a + b + c + d pairs. Clustered: the same counts
a_k, b_k, c_k, d_k per cluster k = 1..K (n_k = a_k + b_k + c_k + d_k, N = Σn_k) and the
cluster's imbalance D_k = b_k - c_k.

:func:`mcnemar` methods
-----------------------
Unclustered (one pair per independent unit):

``"exact"``
    Exact conditional (binomial) McNemar test: two-sided p of b ~ Bin(b + c, 1/2), by statsmodels
    ``mcnemar(exact=True)``; equals R ``binom.test(b, b + c)$p.value``. ``statistic`` is b
    (as R's binom.test reports it; statsmodels reports min(b, c)).
``"chi2"``
    (b - c)² / (b + c), χ²₁; statsmodels ``mcnemar(exact=False, correction=False)``; equals R
    ``mcnemar.test(correct=FALSE)``.
``"chi2-cc"``
    Edwards' continuity correction (max(|b - c| - 1, 0))² / (b + c), χ²₁; equals R
    ``mcnemar.test(correct=TRUE)``, which applies no correction when b = c (statistic 0,
    p = 1). statsmodels ``mcnemar(correction=True)`` returns (|b - c| - 1)²/(b + c) > 0
    when b = c, so it is not used for this method.

Clustered (several pairs per patient; all χ²₁):

``"obuchowski"`` (Obuchowski 1998)
    (p̂_A - p̂_B)² / var̂₀ with the ratio-estimator variance of p̂_A - p̂_B, both proportions
    centred at their pooled mean (under H0), factor K/(K-1); algebraically
    X² = (K-1)/K · (ΣD_k)² / ΣD_k² (the simplification given by Yang et al. 2010).
``"durkalski"`` (Durkalski et al. 2003)
    X² = (Σ D_k/n_k)² / Σ (D_k/n_k)².
``"yang"`` (Yang, Sun & Hardin 2010, the modified Obuchowski statistic X²_mo)
    X² = (K-1)/K · (ΣD_k)² / (½ Σ[(D_k - n_k·D̄)² + D_k²]), D̄ = ΣD_k / N: the variance averages
    the null-centred and the unrestricted ratio-estimator forms.
``"eliasziw"`` (Eliasziw & Donner 1991)
    The unclustered McNemar χ² divided by the variance-inflation factor
    C = 1 + (n_c - 1)·ρ̃, where ρ̃ is the ANOVA intracluster correlation of the four pair types
    rescaled to the discordant pairs and n_c the adjusted mean number of discordant pairs per
    cluster, as implemented in the CRAN package clust.bin.pair 0.1.1.

All four reproduce the statistics and p-values published for the ``thyroids`` (Obuchowski 1998)
and ``psychiatry`` (Petryshen et al. 1989; Eliasziw & Donner 1991) data sets to 1e-9
(tests/data/clustered_mcnemar).

One pair per cluster (every n_k = 1, K = n) - what each reduces to (tested exactly):

- Durkalski = the unclustered McNemar χ² without correction, (b - c)²/(b + c).
- Obuchowski = (n-1)/n × that McNemar χ² (the K/(K-1) factor of its variance).
- Yang = (n-1)/n · (b - c)² / ((b + c) - (b - c)²/(2n)): not a McNemar statistic (the
  unrestricted half of its variance subtracts the squared mean difference).
- Eliasziw is not defined (the within-cluster mean square divides by n̄ - 1 = 0): NaN with a
  note.

Degenerate data: no discordant pairs (b + c = 0), or a clustered variance of 0
(every cluster has b_k = c_k), give statistic and p NaN with a note (R's mcnemar.test
returns NaN too; binom.test refuses n = 0).

:func:`paired_difference`
-------------------------
Difference of paired sensitivities (among diseased units) and specificities (among
non-diseased units), A minus B, with a confidence interval:

``"newcombe"`` (default, unclustered)
    Newcombe (1998) method 10: the Wilson score limits of the two paired proportions combined
    with the correlation φ̂ = C/sqrt((a+b)(c+d)(a+c)(b+d)), where B = ad - bc and C = B - n/2
    if B > n/2, 0 if 0 <= B <= n/2, B if B < 0 (φ̂ = 0 if a margin is 0), as given by
    Fagerland, Lydersen & Laake (2017, section 8.5) and Altman et al. (2000, p. 52).
``"wald"`` (unclustered)
    (b - c)/n ± z·sqrt(((b + c)/n - ((b - c)/n)²)/n), truncated to [-1, 1].
``"ratio-wald"`` (default when clustered)
    (b - c)/N ± z·sqrt(K/(K-1)·Σ(D_k - θ̂·n_k)²/N²), truncated to [-1, 1]: the ratio-estimator
    (unrestricted Obuchowski 1998) variance of the difference, K = clusters with at least one
    unit in the denominator. With one unit per cluster its variance is exactly n/(n-1) times
    the unclustered Wald variance (tested).
``"ratio-score"`` (clustered)
    The interval that inverts the Obuchowski clustered McNemar test (variance restricted to
    each hypothesised θ0): it excludes 0 exactly when that test's p < 1 - level, unlike
    ``"ratio-wald"``, whose unrestricted variance can disagree with the test near p = 0.05
    (:mod:`nethelpers.stats.clusteredci`).

References
----------
Altman DG, Machin D, Bryant TN, Gardner MJ. Statistics with confidence, 2nd ed. BMJ Books, 2000.
Durkalski VL, Palesch YY, Lipsitz SR, Rust PF. Analysis of clustered matched-pair data. Stat Med
2003;22:2417-2428.
Eliasziw M, Donner A. Application of the McNemar test to non-independent matched pair data.
Stat Med 1991;10:1981-1991.
Fagerland MW, Lydersen S, Laake P. Statistical analysis of contingency tables. CRC Press, 2017.
McNemar Q. Note on the sampling error of the difference between correlated proportions or
percentages. Psychometrika 1947;12:153-157.
Newcombe RG. Improved confidence intervals for the difference between binomial proportions
based on paired data. Stat Med 1998;17:2635-2650.
Obuchowski NA. On the comparison of correlated proportions for clustered data. Stat Med
1998;17:1495-1507.
Yang Z, Sun X, Hardin JW. A note on the tests for clustered matched-pair binary data. Biom J
2010;52:638-652.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar as _sm_mcnemar

from nethelpers.stats.accuracy import binary_array, cluster_codes
from nethelpers.stats.clusteredci import clustered_score_interval
from nethelpers.stats.proportions import NOT_ESTIMABLE_0_0, check_level, interval_bounds

__all__ = [
    "CLUSTERED_METHODS",
    "McNemarResult",
    "UNCLUSTERED_METHODS",
    "clustered_mcnemar_counts",
    "mcnemar",
    "paired_difference",
]

UNCLUSTERED_METHODS = ("exact", "chi2", "chi2-cc")
CLUSTERED_METHODS = ("obuchowski", "durkalski", "yang", "eliasziw")
DIFFERENCE_METHODS = ("newcombe", "wald", "ratio-wald", "ratio-score")
CLUSTERED_DIFFERENCE_METHODS = ("ratio-wald", "ratio-score")


@dataclass(frozen=True)
class McNemarResult:
    """A McNemar-type test of marginal homogeneity of two paired binary tests.

    Attributes
    ----------
    statistic : float
        χ²₁ statistic (for ``"exact"``: b, the count of A+ B- pairs).
    p : float
        Two-sided p-value.
    method : str
        One of :data:`UNCLUSTERED_METHODS` or :data:`CLUSTERED_METHODS`.
    b, c : int
        Discordant pairs: A+ B- and A- B+.
    n : int
        Pairs.
    a, d : int
        Concordant pairs: A+ B+ and A- B-.
    n_clusters : int or None
        Clusters (None for unclustered methods).
    df : int or None
        Degrees of freedom of the χ² reference (None for the exact test).
    note : str
        Why the test is not defined, if it is not.
    """

    statistic: float
    p: float
    method: str
    b: int
    c: int
    n: int
    a: int
    d: int
    n_clusters: int | None = None
    df: int | None = 1
    note: str = ""


def _pairs(test_a: object, test_b: object) -> tuple[np.ndarray, np.ndarray]:
    xa = binary_array(test_a, "test_a")
    xb = binary_array(test_b, "test_b")
    if xa.size != xb.size:
        raise ValueError(f"test_a has {xa.size} values but test_b has {xb.size}")
    return xa, xb


def _unclustered(a: int, b: int, c: int, d: int, method: str) -> McNemarResult:
    n = a + b + c + d
    nan = math.nan
    df = None if method == "exact" else 1
    if b + c == 0:
        return McNemarResult(nan, nan, method, b, c, n, a, d, None, df,
                             "no discordant pairs (b + c = 0): test not defined")
    table = np.array([[a, b], [c, d]])
    if method == "exact":
        p = float(_sm_mcnemar(table, exact=True).pvalue)
        return McNemarResult(float(b), p, method, b, c, n, a, d, None, None)
    if method == "chi2":
        res = _sm_mcnemar(table, exact=False, correction=False)
        return McNemarResult(float(res.statistic), float(res.pvalue), method, b, c, n, a, d)
    stat = max(abs(b - c) - 1, 0) ** 2 / (b + c)
    return McNemarResult(float(stat), float(stats.chi2.sf(stat, 1)), method, b, c, n, a, d)


def _eliasziw(ak: np.ndarray, bk: np.ndarray, ck: np.ndarray, dk: np.ndarray) -> float:
    """Eliasziw & Donner (1991) χ², following clust.bin.pair 0.1.1 (NaN when undefined)."""
    cells = np.column_stack([ak, bk, ck, dk]).astype(float)
    nk = cells.sum(axis=1)
    n_clusters = nk.size
    total = nk.sum()
    n_bar = total / n_clusters
    n0 = n_bar - np.sum((nk - n_bar) ** 2) / (n_clusters * (n_clusters - 1) * n_bar)
    p_hat = cells.sum(axis=0) / total
    bms = np.sum((cells - nk[:, None] * p_hat) ** 2 / nk[:, None]) / n_clusters
    wms = np.sum(cells * (nk[:, None] - cells) / nk[:, None]) / (n_clusters * (n_bar - 1.0))
    rho_star = (bms - wms) / (bms + (n0 - 1.0) * wms)
    odds = (1.0 - rho_star) / rho_star
    rho = 1.0 / (1.0 + p_hat[1] * odds + p_hat[2] * odds)
    s_k = bk + ck
    k_d = np.sum(s_k >= 1)
    s_bar = s_k.sum() / k_d
    s0 = s_bar - (np.sum((s_k - s_bar) ** 2) - (n_clusters - k_d) * s_bar**2) / (
        k_d * (k_d - 1) * s_bar
    )
    n_c = s0 + k_d * (s_bar - s0)
    inflation = 1.0 + (n_c - 1.0) * rho
    b, c = bk.sum(), ck.sum()
    return float((b - c) ** 2 / (b + c) / inflation)


def clustered_mcnemar_counts(
    ak: object, bk: object, ck: object, dk: object, method: str = "obuchowski"
) -> McNemarResult:
    """Clustered McNemar test from per-cluster counts (the layout of R clust.bin.pair).

    Parameters
    ----------
    ak, bk, ck, dk : array_like of int
        Per cluster: pairs A+ B+, A+ B-, A- B+, A- B- (one entry per cluster).
    method : {"obuchowski", "durkalski", "yang", "eliasziw"}
        See the module docstring.

    Returns
    -------
    McNemarResult
        χ²₁ statistic and p; NaN with a note when the statistic is not defined.
    """
    if method not in CLUSTERED_METHODS:
        raise ValueError(f"clustered method must be one of {CLUSTERED_METHODS}, got {method!r}")
    arrs = [np.asarray(v, dtype=float).ravel() for v in (ak, bk, ck, dk)]
    if len({a.size for a in arrs}) != 1:
        raise ValueError("ak, bk, ck and dk must have the same length")
    for a in arrs:
        if np.any(~np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
            raise ValueError("cluster counts must be non-negative integers")
    ak_, bk_, ck_, dk_ = arrs
    nk = ak_ + bk_ + ck_ + dk_
    if np.any(nk == 0):
        raise ValueError(f"{int(np.sum(nk == 0))} cluster(s) have no pairs")
    n_clusters = int(nk.size)
    a, b, c, d = (int(v.sum()) for v in arrs)
    n = a + b + c + d
    nan = math.nan

    def result(stat: float, note: str = "") -> McNemarResult:
        if not math.isfinite(stat):
            return McNemarResult(nan, nan, method, b, c, n, a, d, n_clusters, 1,
                                 note or "statistic not defined for these data")
        return McNemarResult(stat, float(stats.chi2.sf(stat, 1)), method, b, c, n, a, d,
                             n_clusters, 1, note)

    if b + c == 0:
        return result(nan, "no discordant pairs (b + c = 0): test not defined")
    if n_clusters < 2:
        return result(nan, "one cluster: the clustered variance is not estimable")
    diff = bk_ - ck_
    if method == "eliasziw":
        if np.all(nk == 1):
            return result(nan, "Eliasziw-Donner is not defined when every cluster has one pair "
                               "(intracluster correlation not estimable)")
        with np.errstate(divide="ignore", invalid="ignore"):
            return result(_eliasziw(ak_, bk_, ck_, dk_))
    if method == "durkalski":
        w = diff / nk
        den = math.fsum(w * w)
        num = math.fsum(w) ** 2
    else:
        den = math.fsum(diff * diff)
        if method == "yang":
            mean_diff = diff.sum() / nk.sum()
            den = 0.5 * math.fsum((diff - nk * mean_diff) ** 2 + diff * diff)
        num = (n_clusters - 1) / n_clusters * diff.sum() ** 2
    if den == 0.0:
        return result(nan, "clustered variance is 0 (every cluster has b_k = c_k): "
                           "statistic 0/0")
    return result(num / den)


def mcnemar(
    test_a: object,
    test_b: object,
    cluster: object | None = None,
    method: str | None = None,
) -> McNemarResult:
    """McNemar test of two binary tests read on the same units, optionally clustered.

    Parameters
    ----------
    test_a, test_b : array_like of bool or 0/1
        Results of the two tests, one value per unit (no missing values).
    cluster : array_like, optional
        Cluster label of each unit (e.g. patient_id for lesions).
    method : str, optional
        Unclustered: ``"exact"`` (default), ``"chi2"``, ``"chi2-cc"``; clustered:
        ``"obuchowski"`` (default), ``"durkalski"``, ``"yang"``, ``"eliasziw"``. An unclustered
        method with ``cluster`` given, or a clustered one without, is an error.

    Returns
    -------
    McNemarResult
    """
    xa, xb = _pairs(test_a, test_b)
    if method is None:
        method = "exact" if cluster is None else "obuchowski"
    if method not in UNCLUSTERED_METHODS + CLUSTERED_METHODS:
        raise ValueError(
            f"unknown method {method!r}: use {UNCLUSTERED_METHODS} or, with cluster, "
            f"{CLUSTERED_METHODS}"
        )
    if cluster is None:
        if method in CLUSTERED_METHODS:
            raise ValueError(f"method {method!r} needs cluster labels")
        a = int(np.sum((xa == 1) & (xb == 1)))
        b = int(np.sum((xa == 1) & (xb == 0)))
        c = int(np.sum((xa == 0) & (xb == 1)))
        return _unclustered(a, b, c, xa.size - a - b - c, method)
    if method in UNCLUSTERED_METHODS:
        raise ValueError(
            f"method {method!r} ignores clustering; use one of {CLUSTERED_METHODS}, or call "
            "without cluster for the unclustered test"
        )
    codes = cluster_codes(cluster)
    if codes.size != xa.size:
        raise ValueError(f"tests have {xa.size} values but cluster has {codes.size}")
    k = int(codes.max()) + 1 if codes.size else 0
    counts = [np.bincount(codes, weights=((xa == u) & (xb == v)).astype(float), minlength=k)
              for u, v in ((1, 1), (1, 0), (0, 1), (0, 0))]
    return clustered_mcnemar_counts(*counts, method=method)


# ---------------------------------------------------------------------------------------------
# Difference of paired proportions
# ---------------------------------------------------------------------------------------------
def _newcombe10(a: int, b: int, c: int, d: int, level: float) -> tuple[float, float]:
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    (l1, l2), (u1, u2) = interval_bounds([a + b, a + c], n, "wilson", level)
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    cross = a * d - b * c
    corr = cross - n / 2 if cross > n / 2 else (0.0 if cross >= 0 else cross)
    phi = corr / math.sqrt(margins) if margins > 0 else 0.0
    theta = p1 - p2
    lower = theta - math.sqrt(max((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                                  + (u2 - p2) ** 2, 0.0))
    upper = theta + math.sqrt(max((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                                  + (p2 - l2) ** 2, 0.0))
    return float(lower), float(upper)


def _difference_row(measure: str, xa: np.ndarray, xb: np.ndarray, codes: np.ndarray | None,
                    method: str, level: float) -> dict:
    a = int(np.sum((xa == 1) & (xb == 1)))
    b = int(np.sum((xa == 1) & (xb == 0)))
    c = int(np.sum((xa == 0) & (xb == 1)))
    d = int(xa.size) - a - b - c
    n = a + b + c + d
    nan = math.nan
    n_clusters = int(np.unique(codes).size) if codes is not None else pd.NA
    row = {"measure": measure, "estimate_a": nan, "estimate_b": nan, "difference": nan,
           "lower": nan, "upper": nan, "method": method, "level": level, "n": n,
           "n_clusters": n_clusters, "a": a, "b": b, "c": c, "d": d, "note": ""}
    if n == 0:
        row["note"] = NOT_ESTIMABLE_0_0
        return row
    theta = (b - c) / n
    row.update(estimate_a=(a + b) / n, estimate_b=(a + c) / n, difference=theta)
    z = float(stats.norm.isf((1.0 - level) / 2.0))
    if method == "newcombe":
        lower, upper = _newcombe10(a, b, c, d, level)
    elif method == "ratio-score":
        if n_clusters < 2:
            row["note"] = "one cluster: the clustered variance is not estimable"
            return row
        size = np.bincount(codes).astype(float)
        score = clustered_score_interval(np.bincount(codes, weights=xa - xb)[size > 0],
                                         size[size > 0], level)
        lower, upper, row["note"] = score.lower, score.upper, score.note
    else:
        if method == "wald":
            var = ((b + c) / n - theta * theta) / n
        else:
            if n_clusters < 2:
                row["note"] = "one cluster: the clustered variance is not estimable"
                return row
            diff = np.bincount(codes, weights=xa - xb)
            size = np.bincount(codes).astype(float)
            used = size > 0
            resid = diff[used] - theta * size[used]
            var = n_clusters / (n_clusters - 1) * math.fsum(resid * resid) / (n * n)
        half = z * math.sqrt(max(var, 0.0))
        lower, upper = theta - half, theta + half
        if lower < -1.0 or upper > 1.0:
            row["note"] = "Wald interval truncated to [-1, 1]"
        lower, upper = max(-1.0, lower), min(1.0, upper)
    row.update(lower=lower, upper=upper)
    return row


def paired_difference(
    test_a: object,
    test_b: object,
    truth: object,
    cluster: object | None = None,
    level: float = 0.95,
    method: str | None = None,
) -> pd.DataFrame:
    """Difference of paired sensitivities and specificities of tests A and B (A minus B).

    Parameters
    ----------
    test_a, test_b : array_like of bool or 0/1
        Results of the two tests on the same units (no missing values).
    truth : array_like of bool or 0/1
        Reference standard of each unit.
    cluster : array_like, optional
        Cluster label of each unit (e.g. patient_id for lesions).
    level : float
        Confidence level.
    method : {"newcombe", "wald", "ratio-wald", "ratio-score"}, optional
        Default ``"newcombe"`` without ``cluster``, ``"ratio-wald"`` with it. The clustered
        methods: ``"ratio-wald"`` (unrestricted variance) and ``"ratio-score"`` (inverts the
        clustered McNemar test, so it excludes 0 exactly when that test's p < 1 - level:
        :mod:`nethelpers.stats.clusteredci`).

    Returns
    -------
    pandas.DataFrame
        Rows ``sensitivity`` (diseased units; "positive" = test positive) and ``specificity``
        (non-diseased units; "positive" = test negative); columns ``measure, estimate_a,
        estimate_b, difference, lower, upper, method, level, n, n_clusters, a, b, c, d, note``
        where a, b, c, d count units correct on both, on A only, on B only, on neither.
    """
    level = check_level(level)
    xa, xb = _pairs(test_a, test_b)
    y = binary_array(truth, "truth")
    if y.size != xa.size:
        raise ValueError(f"tests have {xa.size} values but truth has {y.size}")
    if method is None:
        method = "newcombe" if cluster is None else "ratio-wald"
    if method not in DIFFERENCE_METHODS:
        raise ValueError(f"method must be one of {DIFFERENCE_METHODS}, got {method!r}")
    if (method in CLUSTERED_DIFFERENCE_METHODS) != (cluster is not None):
        raise ValueError(f"{method!r}: the clustered methods {CLUSTERED_DIFFERENCE_METHODS} "
                         "each needs cluster, and a cluster needs one of them")
    codes = None
    if cluster is not None:
        codes = cluster_codes(cluster)
        if codes.size != xa.size:
            raise ValueError(f"tests have {xa.size} values but cluster has {codes.size}")
    rows = []
    for measure, sel, flip in (("sensitivity", y == 1, False), ("specificity", y == 0, True)):
        ua, ub = xa[sel], xb[sel]
        if flip:
            ua, ub = 1.0 - ua, 1.0 - ub
        rows.append(_difference_row(measure, ua, ub, codes[sel] if codes is not None else None,
                                    method, level))
    out = pd.DataFrame(rows)
    out["n_clusters"] = out["n_clusters"].astype("Int64")
    return out
