"""Interval of a clustered paired difference that agrees with the clustered McNemar test.

The clustered McNemar test of Obuchowski (1998) and the cluster-adjusted Wald interval of the
paired difference θ = p_A − p_B (:func:`nethelpers.stats.paired_difference`, ``"ratio-wald"``)
use two different variances of the same ratio estimator θ̂ = ΣD_k / N (D_k = b_k − c_k, the
cluster's imbalance of discordant pairs, n_k its pairs, N = Σn_k, K clusters):

- the test: the variance under H0 (θ = 0), K/(K−1)·ΣD_k²/N² (null-restricted);
- the Wald interval: the variance at θ̂, K/(K−1)·Σ(D_k − θ̂·n_k)²/N² (unrestricted).

So the Wald interval can exclude 0 while the test's p is above α (the baseline report had
p = 0.054 and 0.007 to 0.356). The *score* interval here inverts the test itself: it holds
every θ0 that the clustered McNemar-type statistic with the variance restricted to θ0,

    T(θ0) = (K−1)/K · (Σ(D_k − θ0·n_k))² / Σ(D_k − θ0·n_k)²,

does not reject at level α (T(θ0) ≤ χ²₁,₁₋α). T(0) is exactly Obuchowski's statistic
(K−1)/K·(ΣD_k)²/ΣD_k², so the interval excludes 0 exactly when the test's p < α, and at
level 1 − p one bound is 0. The set is the solution of a quadratic inequality in θ0; when
the quadratic's leading coefficient (K−1)/K·N² − χ²·Σn_k² is not positive (few clusters or
very unequal cluster sizes) the set is unbounded (it may even be two rays); the hull of its
part within [−1, 1] is given, with a note.
With no discordant pairs, or every D_k = θ̂·n_k, the test is undefined and so is the interval.

References
----------
Obuchowski NA. On the comparison of correlated proportions for clustered data. Stat Med
1998;17:1495-1507.
Yang Z, Sun X, Hardin JW. A note on the tests for clustered matched-pair binary data. Biom J
2010;52:638-652.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SCORE_METHOD", "ScoreInterval", "clustered_score_interval"]

SCORE_METHOD = ("cluster-adjusted score interval inverting the clustered McNemar test "
                "(null-restricted ratio-estimator variance, Obuchowski 1998)")
"""How the interval is named in tables and the methods text."""


@dataclass(frozen=True)
class ScoreInterval:
    """Score interval of a clustered paired difference.

    Attributes
    ----------
    estimate, lower, upper : float
        θ̂ = ΣD_k/N and the interval (NaN with ``note`` when not defined).
    level : float
        Confidence level.
    n, n_clusters : int
        Pairs and clusters.
    note : str
        Why the interval is NaN or truncated, '' otherwise.
    """

    estimate: float
    lower: float
    upper: float
    level: float
    n: int
    n_clusters: int
    note: str = ""


def _concave_hull(a2: float, b1: float, c0: float) -> tuple[float, float]:
    """Hull of {θ in [-1, 1]: a2·θ² + b1·θ + c0 <= 0} for a2 <= 0 (NaN if empty)."""
    if a2 == 0.0:
        if b1 == 0.0:
            return (-1.0, 1.0) if c0 <= 0 else (math.nan, math.nan)
        root = -c0 / b1
        return (max(-1.0, root), 1.0) if b1 < 0 else (-1.0, min(1.0, root))
    disc = b1 * b1 - 4.0 * a2 * c0
    if disc <= 0:
        return -1.0, 1.0
    r1, r2 = sorted(((-b1 - math.sqrt(disc)) / (2 * a2), (-b1 + math.sqrt(disc)) / (2 * a2)))
    lower = -1.0 if r1 >= -1.0 else (r2 if r2 <= 1.0 else math.nan)
    upper = 1.0 if r2 <= 1.0 else (r1 if r1 >= -1.0 else math.nan)
    return max(-1.0, lower), min(1.0, upper)


def clustered_score_interval(diff: object, size: object, level: float = 0.95) -> ScoreInterval:
    """Interval of θ = ΣD_k/N that inverts the clustered McNemar (Obuchowski) test.

    Parameters
    ----------
    diff : array_like of int
        Per cluster: D_k = b_k − c_k (pairs positive on A only minus on B only).
    size : array_like of int
        Per cluster: n_k, the cluster's pairs (> 0).
    level : float
        Confidence level.

    Returns
    -------
    ScoreInterval
        See the module docstring.
    """
    d = np.asarray(diff, dtype=float).ravel()
    n_k = np.asarray(size, dtype=float).ravel()
    if d.size != n_k.size:
        raise ValueError(f"diff has {d.size} values but size has {n_k.size}")
    if np.any(n_k <= 0) or np.any(np.abs(d) > n_k):
        raise ValueError("every cluster needs n_k > 0 and |D_k| <= n_k")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    k, n = int(d.size), int(n_k.sum())
    nan = math.nan
    theta = float(d.sum() / n) if n else nan

    def undefined(note: str) -> ScoreInterval:
        return ScoreInterval(theta, nan, nan, level, n, k, note)

    if k < 2:
        return undefined("one cluster: the clustered variance is not estimable")
    if not np.any(d != 0) or math.fsum((d - theta * n_k) ** 2) == 0.0:
        return undefined("no cluster with unequal discordant pairs (every D_k = θ̂·n_k): "
                         "the clustered McNemar test and its interval are not defined")
    c = (k - 1) / k
    q = float(stats.chi2.isf(1.0 - level, 1))
    s_d, s_dd, s_dn, s_nn = d.sum(), math.fsum(d * d), math.fsum(d * n_k), math.fsum(n_k * n_k)
    # c·(ΣD − θ0·N)² − q·Σ(D − θ0·n)² <= 0, a quadratic A θ0² + B θ0 + C <= 0
    a2 = c * n * n - q * s_nn
    b1 = -2.0 * c * n * s_d + 2.0 * q * s_dn
    c0 = c * s_d * s_d - q * s_dd
    note = ""
    if a2 > 0:
        disc = max(b1 * b1 - 4.0 * a2 * c0, 0.0)
        root = math.sqrt(disc)
        lower, upper = (-b1 - root) / (2.0 * a2), (-b1 + root) / (2.0 * a2)
    else:
        # concave (or linear) in θ0: the acceptance set is the outside of the roots,
        # ((-inf, r1] ∪ [r2, inf)) ∩ [-1, 1]; its hull is reported
        lower, upper = _concave_hull(a2, b1, c0)
        note = ("score interval unbounded (few clusters or very unequal cluster sizes): "
                "the set of differences the test does not reject, within [-1, 1], is given")
    if lower < -1.0 or upper > 1.0:
        note = note or "score interval truncated to [-1, 1]"
    return ScoreInterval(theta, max(-1.0, float(lower)), min(1.0, float(upper)), level, n, k,
                         note)
