"""Paired comparisons (FDG vs DOTATATE, PET/MR vs PET/CT): Wilcoxon signed-rank and paired t.

Both take the paired values x and y of the same units (patients or lesions) and analyse the
differences d = x - y, as R's ``wilcox.test(x, y, paired = TRUE)`` and
``t.test(x, y, paired = TRUE)`` do. Missing values are never dropped silently: a NaN raises an
error naming the count (R drops incomplete pairs without a word). Only two-sided tests.

Wilcoxon signed-rank test (:func:`wilcoxon`)
--------------------------------------------
The statistic is R's V: the sum of the ranks of |d| (average ranks for ties) over the
positive differences. Conventions (``convention``):

``"R"`` (default) - exactly R's ``wilcox.test(x, y, paired = TRUE, conf.int = TRUE)``
(stats:::wilcox.test.default, R 4.2):

- zero differences are **dropped before ranking** (``x <- x[x != 0]``: Wilcoxon's original
  rule, scipy ``zero_method="wilcox"``); n is the number of non-zero differences;
- if n < 50 and there are neither ties among |d| nor zero differences: the exact null
  distribution of V (``psignrank``), p = min(1, 2·P(V' <= V)) or 2·P(V' >= V);
- otherwise the normal approximation with the tie-corrected variance
  n(n+1)(2n+1)/24 - Σ(t³ - t)/48 and a continuity correction of 0.5 towards the mean
  (also when n >= 50 without ties: R's cut-off is n < 50, scipy's "auto" differs).

  R does not keep zero differences: it drops them, and their presence only forces the normal
  approximation. scipy's ``wilcoxon(zero_method="wilcox", correction=True,
  method="approx")`` gives the same p whenever R uses the approximation (tested), but not in
  R's exact case, and scipy's default ``method="auto"`` uses a permutation p for n <= 13 with
  ties or zeros.

``"pratt"`` - Pratt (1959): zero differences take part in the ranking, then their ranks are
dropped; normal approximation with the mean and variance adjusted for the zeros (Cureton
1967) and continuity correction; equals scipy ``wilcoxon(zero_method="pratt",
correction=True, method="approx")`` (tested). V is the sum of the positive ranks.

``"exact"`` - zeros dropped (as R), then the exact *conditional* (permutation) distribution of
V given the observed average ranks, by enumeration of all 2^n sign patterns (a convolution over
the doubled ranks): exact also with ties (R refuses an exact p with ties or zeros). Up to 1000
non-zero differences (about a second).

Estimate and confidence interval (all conventions: R's algorithm, on the non-zero
differences): in R's exact case the Hodges-Lehmann estimate (median of the Walsh averages
(d_i + d_j)/2, i <= j) and the interval between Walsh averages at ``qsignrank`` positions,
deterministic (matched to 1e-12); R lowers the reported ``conf.level`` when the requested
level is not achievable, and so does ``ci_level``. In R's normal-approximation case R inverts
the continuity-corrected z statistic with ``uniroot`` (tolerance ``tol.root``, default 1e-4)
and takes the root of the uncorrected z statistic as the "(pseudo)median"; both are step
functions, so R's numbers lie within about ``tol_root`` of the jump points and depend on the
iterations of R's root finder. We port R's ``R_zeroin2`` (Brent's zeroin, src/library/stats/
src/zeroin.c) and R's ``qnorm`` (AS 241; scipy's quantile differs in the last bit, enough to
change the root finder's path), and evaluate the same z function with the same
floating-point operations, so the CI and estimate reproduce R's to 1e-12, not merely to the
tolerance (tested on 50 data sets; pass ``tol_root`` to mirror R's ``tol.root``).
``hodges_lehmann`` is always the textbook Hodges-Lehmann estimator, the median of the Walsh
averages of *all* n differences (zeros included), which R's approximate branch does not
report (it needs n(n+1)/2 averages in memory: fine for hundreds of pairs, heavy for 10^4).

Paired t test (:func:`paired_t`)
--------------------------------
Mean difference, its t interval, t, df = n - 1 and the two-sided p from scipy
``ttest_rel``; equals R ``t.test(x, y, paired = TRUE)``. Constant differences raise (R's
criterion for "data are essentially constant", SE < 10·eps·|mean|, or SE = 0).

References
----------
Cureton EE. The normal approximation to the signed-rank sampling distribution when zero
differences are present. J Am Stat Assoc 1967;62:1068-1069.
Hodges JL, Lehmann EL. Estimates of location based on rank tests. Ann Math Stat
1963;34:598-611.
Hollander M, Wolfe DA. Nonparametric Statistical Methods. 2nd ed. Wiley; 1999 (chapter 3).
Pratt JW. Remarks on zeros and ties in the Wilcoxon signed rank procedures. J Am Stat Assoc
1959;54:655-667.
Wilcoxon F. Individual comparisons by ranking methods. Biometrics Bull 1945;1:80-83.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import ndtri

__all__ = ["PairedTResult", "WilcoxonResult", "paired_t", "wilcoxon"]

Convention = Literal["R", "pratt", "exact"]
_DBL_EPSILON = float(np.finfo(float).eps)
_EXACT_MAX_N = 1000


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    return level


def paired_arrays(a: Any, b: Any, names: tuple[str, str] = ("x", "y"), hint: str = ""
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Two paired samples as float arrays, refusing what cannot be paired.

    Parameters
    ----------
    a, b : array-like
        The paired values, same length, one-dimensional.
    names : tuple of str
        Their names in error messages.
    hint : str
        Appended to the missing-value message.

    Returns
    -------
    tuple of numpy.ndarray

    Raises
    ------
    ValueError
        Not one-dimensional, unequal lengths, missing values (counted, never dropped) or
        infinite values.
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"{names[0]} and {names[1]} must be one-dimensional")
    if x.size != y.size:
        raise ValueError(f"{names[0]} and {names[1]} differ in length ({x.size} vs {y.size})")
    nan_x, nan_y = np.isnan(x), np.isnan(y)
    n_nan = int(np.sum(nan_x | nan_y))
    if n_nan:
        raise ValueError(
            f"{n_nan} of {x.size} pairs have a missing value ({names[0]}: {int(nan_x.sum())}, "
            f"{names[1]}: {int(nan_y.sum())}); drop those pairs explicitly (and report them)"
            + hint
        )
    n_inf = int(np.sum(np.isinf(x) | np.isinf(y)))
    if n_inf:
        raise ValueError(f"{n_inf} of {x.size} pairs have an infinite value")
    return x, y


def _paired_differences(x: Any, y: Any) -> np.ndarray:
    a, b = paired_arrays(x, y, ("x", "y"), " - R would drop them silently")
    return a - b


# ------------------------------------------------------------------------------------------
# Signed-rank distributions
# ------------------------------------------------------------------------------------------


def _signrank_pmf(twice_ranks: np.ndarray) -> np.ndarray:
    """Null pmf of 2V over 0..Σ 2r: each rank enters with probability 1/2 (sign flip).

    With integer ranks and n < 53 every probability is a dyadic rational computed exactly.
    """
    total = int(np.sum(twice_ranks))
    pmf = np.zeros(total + 1)
    pmf[0] = 1.0
    top = 0
    for r in (int(v) for v in twice_ranks):
        pmf[r: top + r + 1] += pmf[: top + 1]  # numpy buffers the overlapping operands
        pmf[: top + r + 1] *= 0.5
        top += r
    return pmf


def _psignrank_counts(n: int) -> np.ndarray:
    """Number of subsets of {1..n} with each sum 0..n(n+1)/2 (R's csignrank), exact."""
    total = n * (n + 1) // 2
    counts = np.zeros(total + 1, dtype=np.int64)
    counts[0] = 1
    top = 0
    for r in range(1, n + 1):
        counts[r: top + r + 1] += counts[: top + 1].copy()
        top += r
    return counts


def _psignrank(q: float, n: int, counts: np.ndarray, lower_tail: bool = True) -> float:
    """R's psignrank(q, n, lower.tail), summing the same terms in the same order."""
    x = float(round(q + 1e-7))
    total = n * (n + 1) / 2
    if x < 0:
        return 0.0 if lower_tail else 1.0
    if x >= total:
        return 1.0 if lower_tail else 0.0
    f = math.exp(-n * math.log(2.0))
    acc = 0.0
    if x <= n * (n + 1) / 4:
        for i in range(int(x) + 1):
            acc += float(counts[i]) * f
    else:
        x = total - x
        for i in range(int(x)):
            acc += float(counts[i]) * f
        lower_tail = not lower_tail
    return acc if lower_tail else 0.5 - acc + 0.5


def _qsignrank(p: float, n: int, counts: np.ndarray) -> int:
    """R's qsignrank(p, n) (lower tail) with its 10·DBL_EPSILON fuzz."""
    f = math.exp(-n * math.log(2.0))
    acc = 0.0
    q = 0
    if p <= 0.5:
        x = p - 10 * _DBL_EPSILON
        while True:
            acc += float(counts[q]) * f
            if acc >= x:
                return q
            q += 1
    x = 1 - p + 10 * _DBL_EPSILON
    while True:
        acc += float(counts[q]) * f
        if acc > x:
            return n * (n + 1) // 2 - q
        q += 1


def _r_qnorm(p: float, lower_tail: bool = True) -> float:
    """R's qnorm(p, 0, 1, lower.tail) (Wichura's AS 241, nmath/qnorm.c), operation by operation.

    The CI code of wilcox.test feeds qnorm's value into uniroot; scipy's ``ndtri`` differs from
    R's qnorm in the last bit, which can change the root finder's path (by up to tol.root).
    Only the branches for min(p, 1 - p) >= exp(-25) are ported; beyond that scipy is used.
    """
    p_ = p if lower_tail else (0.5 - p + 0.5)
    q = p_ - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        return q * (((((((r * 2509.0809287301226727
                          + 33430.575583588128105) * r + 67265.770927008700853) * r
                        + 45921.953931549871457) * r + 13731.693765509461125) * r
                      + 1971.5909503065514427) * r + 133.14166789178437745) * r
                    + 3.387132872796366608) / (((((((r * 5226.495278852854561
                                                     + 28729.085735721942674) * r
                                                    + 39307.89580009271061) * r
                                                   + 21213.794301586595867) * r
                                                  + 5394.1960214247511077) * r
                                                 + 687.1870074920579083) * r
                                                + 42.313330701600911252) * r + 1.0)
    tail = (p if not lower_tail else 0.5 - p + 0.5) if q > 0 else p_
    if tail <= 0.0:
        return math.inf if q > 0 else -math.inf
    r = math.sqrt(-math.log(tail))
    if r > 5.0:
        val = abs(float(ndtri(tail)))
    else:
        r += -1.6
        val = (((((((r * 7.7454501427834140764e-4
                     + 0.0227238449892691845833) * r + 0.24178072517745061177)
                   * r + 1.27045825245236838258) * r
                  + 3.64784832476320460504) * r + 5.7694972214606914055)
                * r + 4.6303378461565452959) * r
               + 1.42343711074968357734) / (((((((r * 1.05075007164441684324e-9
                                                  + 5.475938084995344946e-4) * r
                                                 + 0.0151986665636164571966) * r
                                                + 0.14810397642748007459) * r
                                               + 0.68976733498510000455) * r
                                              + 1.6763848301838038494) * r
                                             + 2.05319162663775882187) * r + 1.0)
    return -val if q < 0 else val


# ------------------------------------------------------------------------------------------
# R's root finder (uniroot -> R_zeroin2), ported operation by operation
# ------------------------------------------------------------------------------------------


def _r_zeroin2(f: Callable[[float], float], ax: float, bx: float, fa: float, fb: float,
               tol: float, maxit: int = 1000) -> float:
    """Brent's zeroin as R's ``R_zeroin2`` (src/library/stats/src/zeroin.c)."""
    a, b = ax, bx
    c, fc = a, fa
    it = maxit + 1
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    while it:
        it -= 1
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _DBL_EPSILON * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0.0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0.0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _uniroot(f: Callable[[float], float], lower: float, upper: float, tol: float,
             f_lower: float | None = None, f_upper: float | None = None) -> float:
    if not lower < upper:
        raise ValueError("lower < upper is not fulfilled")
    fl = f(lower) if f_lower is None else f_lower
    fu = f(upper) if f_upper is None else f_upper
    if math.isnan(fl) or math.isnan(fu):
        raise ValueError("function value at an end point is NaN")
    if fl * fu > 0:
        raise ValueError("f() values at end points not of opposite sign")
    return _r_zeroin2(f, lower, upper, fl, fu, tol)


def _r_w(x: np.ndarray, d: float, correct: bool) -> float:
    """The z statistic of R's wilcox.test CI code, W(d), for the non-zero differences x."""
    xd = x - d
    xd = xd[xd != 0]
    nx = xd.size
    dr = stats.rankdata(np.abs(xd))
    zd = float(np.sum(dr[xd > 0])) - nx * (nx + 1) / 4
    _, nties = np.unique(dr, return_counts=True)
    tie_sum = float(np.sum(nties.astype(float) ** 3 - nties))
    sigma = math.sqrt(nx * (nx + 1) * (2 * nx + 1) / 24 - tie_sum / 48)
    corr = (0.5 * float(np.sign(zd))) if correct else 0.0
    if sigma == 0.0:
        return float("nan")
    return (zd - corr) / sigma


def _walsh(x: np.ndarray) -> np.ndarray:
    i, j = np.triu_indices(x.size)
    return np.sort((x[i] + x[j]) / 2)


# ------------------------------------------------------------------------------------------
# Results
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test of paired data with an estimate and CI of the shift.

    Attributes
    ----------
    statistic : float
        R's V: sum of the ranks of the positive differences x - y.
    p : float
        Two-sided p-value.
    method : str
        Full description (R's method name, zero and tie handling, CI method).
    convention : str
        ``"R"``, ``"pratt"`` or ``"exact"``.
    n : int
        Number of pairs.
    n_zero : int
        Number of zero differences.
    n_used : int
        Differences entering the null distribution (n - n_zero; n for Pratt's ranking).
    ties : bool
        Whether the non-zero |differences| have ties.
    exact : bool
        Whether p comes from an exact distribution.
    z : float or None
        Normal-approximation statistic (after continuity correction); None when exact.
    estimate : float
        R's "(pseudo)median": Hodges-Lehmann in R's exact case, the root of R's uncorrected z
        function otherwise (see module docstring).
    estimate_method : str
        How ``estimate`` was obtained.
    lower, upper : float
        Confidence interval of the location shift (NaN only with ``note``).
    level : float
        Requested confidence level.
    ci_level : float
        Level R reports for the interval (lowered when the request is not achievable).
    ci_method : str
        How the interval was obtained.
    hodges_lehmann : float
        Median of the Walsh averages of all n differences.
    note : str
        Warnings R would give (level not achievable) or why a value is NaN.
    """

    statistic: float
    p: float
    method: str
    convention: str
    n: int
    n_zero: int
    n_used: int
    ties: bool
    exact: bool
    z: float | None
    estimate: float
    estimate_method: str
    lower: float
    upper: float
    level: float
    ci_level: float
    ci_method: str
    hodges_lehmann: float
    note: str = ""


@dataclass(frozen=True)
class PairedTResult:
    """Paired t test: mean difference x - y with its t interval.

    Attributes
    ----------
    mean_difference, lower, upper : float
        Mean of x - y and its CI at ``level``.
    t, df, p : float
        t statistic, degrees of freedom n - 1, two-sided p.
    se, sd : float
        Standard error of the mean difference and SD of the differences.
    n : int
        Number of pairs.
    level : float
        Confidence level.
    method : str
        Description.
    """

    mean_difference: float
    lower: float
    upper: float
    t: float
    df: float
    p: float
    se: float
    sd: float
    n: int
    level: float
    method: str


# ------------------------------------------------------------------------------------------
# Wilcoxon
# ------------------------------------------------------------------------------------------


def _r_confint(nz: np.ndarray, exact_branch: bool, level: float, tol_root: float
               ) -> tuple[float, float, float, float, str, str, list[str]]:
    """R's conf.int = TRUE part: (estimate, lower, upper, ci_level, est_method, ci_method)."""
    n = nz.size
    notes: list[str] = []
    alpha = 1.0 - level
    if exact_branch:
        counts = _psignrank_counts(n)
        w = _walsh(nz)
        qu = _qsignrank(alpha / 2, n, counts)
        if qu == 0:
            qu = 1
        ql = n * (n + 1) // 2 - qu
        achieved = 2 * _psignrank(math.trunc(qu) - 1, n, counts)
        lower, upper = float(w[qu - 1]), float(w[ql])
        ci_level = level
        if achieved - alpha > alpha / 2:
            ci_level = 1 - float(f"{achieved:.2g}")
            notes.append(f"requested conf.level not achievable: R reports {ci_level:g}")
        est = float(np.median(w))
        return (est, lower, upper, ci_level, "Hodges-Lehmann (median of Walsh averages)",
                "Walsh averages at exact signed-rank quantiles (qsignrank), as R", notes)

    mumin, mumax = float(np.min(nz)), float(np.max(nz))
    w_min = _r_w(nz, mumin, True)
    w_max = _r_w(nz, mumax, True) if math.isfinite(w_min) else float("nan")
    est_method = f"root of the uncorrected z function (R's uniroot, tol.root {tol_root:g})"
    ci_method = ("inversion of the continuity-corrected normal approximation "
                 f"(R's uniroot, tol.root {tol_root:g})")
    if not math.isfinite(w_max):
        notes.append("confidence interval not computable: all non-zero differences are equal "
                     "(R returns NaN and the midrange)")
        return ((mumin + mumax) / 2, float("nan"), float("nan"), 0.0,
                "midrange (R, when the CI is not computable)", ci_method, notes)

    def wdiff(zq: float) -> Callable[[float], float]:
        return lambda d: _r_w(nz, d, True) - zq

    def root(zq: float) -> float:
        return _uniroot(wdiff(zq), mumin, mumax, tol_root, w_min - zq, w_max - zq)

    ci_level = level
    while True:
        mindiff = w_min - _r_qnorm(alpha / 2, lower_tail=False)
        maxdiff = w_max - _r_qnorm(alpha / 2)
        if mindiff < 0 or maxdiff > 0:
            alpha = alpha * 2
        else:
            break
    if alpha >= 1 or 1 - level < alpha * 0.75:
        ci_level = 1 - min(1.0, alpha)
        notes.append(f"requested conf.level not achievable: R reports {ci_level:g}")
    if alpha < 1:
        lower = root(_r_qnorm(alpha / 2, lower_tail=False))
        upper = root(_r_qnorm(alpha / 2))
    else:
        lower = upper = float(np.median(nz))
    est = _uniroot(lambda d: _r_w(nz, d, False), mumin, mumax, tol_root)
    return est, lower, upper, ci_level, est_method, ci_method, notes


def wilcoxon(
    x: Sequence[float] | np.ndarray | pd.Series,
    y: Sequence[float] | np.ndarray | pd.Series,
    *,
    convention: Convention = "R",
    level: float = 0.95,
    tol_root: float = 1e-4,
) -> WilcoxonResult:
    """Wilcoxon signed-rank test of paired x, y (two-sided) with estimate and CI, as R.

    Parameters
    ----------
    x, y : array-like
        Paired values; the differences are x - y (R's order).
    convention : {"R", "pratt", "exact"}
        Zero/tie handling and p-value (module docstring). Default reproduces
        ``wilcox.test(x, y, paired = TRUE)``.
    level : float
        Confidence level of the interval (R's ``conf.level``).
    tol_root : float
        Tolerance of the root finder in R's approximate CI (R's ``tol.root``, default 1e-4).

    Returns
    -------
    WilcoxonResult

    Raises
    ------
    ValueError
        Unequal lengths, missing or infinite values (the count is named), no pairs, all
        differences zero (the test is undefined), more than 1000 non-zero differences with
        ``convention="exact"``, unknown convention or invalid level.
    """
    level = _check_level(level)
    if convention not in ("R", "pratt", "exact"):
        raise ValueError(f"convention must be 'R', 'pratt' or 'exact', got {convention!r}")
    if not tol_root > 0:
        raise ValueError(f"tol_root must be > 0, got {tol_root!r}")
    d = _paired_differences(x, y)
    n_all = int(d.size)
    if n_all == 0:
        raise ValueError("no pairs")
    zero = d == 0
    n_zero = int(zero.sum())
    nz = d[~zero]
    n = int(nz.size)
    if n == 0:
        raise ValueError(
            f"all {n_all} differences are zero: the signed-rank test is undefined (R gives NaN)"
        )
    r = stats.rankdata(np.abs(nz))
    v = float(np.sum(r[nz > 0]))
    ties = bool(np.unique(r).size != r.size)
    _, nties = np.unique(r, return_counts=True)
    tie_sum = float(np.sum(nties.astype(float) ** 3 - nties))
    r_exact_branch = n < 50 and not ties and n_zero == 0

    z: float | None = None
    if convention == "R":
        if r_exact_branch:
            counts = _psignrank_counts(n)
            if v > n * (n + 1) / 4:
                p1 = _psignrank(v - 1, n, counts, lower_tail=False)
            else:
                p1 = _psignrank(v, n, counts)
            p = min(2 * p1, 1.0)
            exact = True
            name = "Wilcoxon signed rank exact test"
            how = "exact null distribution (no ties, no zeros, n < 50)"
        else:
            zc = v - n * (n + 1) / 4
            sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - tie_sum / 48)
            z = (zc - float(np.sign(zc)) * 0.5) / sigma
            p = 2 * min(float(stats.norm.cdf(z)), float(stats.norm.sf(z)))
            exact = False
            name = "Wilcoxon signed rank test with continuity correction"
            why = []
            if n_zero:
                why.append(f"{n_zero} zero difference(s)")
            if ties:
                why.append("ties")
            if n >= 50:
                why.append("n >= 50")
            how = ("normal approximation with tie-corrected variance and continuity "
                   f"correction ({', '.join(why)})")
        n_used = n
        method = f"{name} (R wilcox.test convention: zeros dropped before ranking; {how})"
    elif convention == "exact":
        if n > _EXACT_MAX_N:
            raise ValueError(
                f"convention='exact' convolves over all 2^n sign patterns; n = {n} non-zero "
                f"differences is more than {_EXACT_MAX_N}: use convention='R' (normal "
                "approximation)"
            )
        pmf = _signrank_pmf(np.rint(2 * r).astype(int))
        two_v = int(round(2 * v))
        if v > n * (n + 1) / 4:
            p1 = float(np.sum(pmf[two_v:]))
        else:
            p1 = float(np.sum(pmf[: two_v + 1]))
        p = min(2 * p1, 1.0)
        exact = True
        n_used = n
        method = ("Wilcoxon signed rank exact test (zeros dropped before ranking; exact "
                  "conditional distribution of V given the average ranks)")
    else:  # Pratt
        ra = stats.rankdata(np.abs(d))
        v = float(np.sum(ra[d > 0]))
        mean = (n_all * (n_all + 1) - n_zero * (n_zero + 1)) / 4
        var24 = (n_all * (n_all + 1) * (2 * n_all + 1) - n_zero * (n_zero + 1) * (2 * n_zero + 1))
        _, nt = np.unique(ra[d != 0], return_counts=True)
        ts = float(np.sum(nt.astype(float) ** 3 - nt))
        sigma = math.sqrt((var24 - ts / 2) / 24)
        zc = v - mean
        z = (zc - float(np.sign(zc)) * 0.5) / sigma
        p = 2 * min(float(stats.norm.cdf(z)), float(stats.norm.sf(z)))
        exact = False
        n_used = n_all
        method = ("Wilcoxon signed rank test, Pratt (1959) zero handling: zeros ranked, their "
                  "ranks dropped; normal approximation (Cureton 1967) with tie-corrected "
                  "variance and continuity correction")

    est, lower, upper, ci_level, est_method, ci_method, notes = _r_confint(
        nz, r_exact_branch, level, tol_root)
    hl = float(np.median(_walsh(d)))
    return WilcoxonResult(
        statistic=v, p=float(p), method=method, convention=convention, n=n_all,
        n_zero=n_zero, n_used=n_used, ties=ties, exact=exact, z=z, estimate=float(est),
        estimate_method=est_method, lower=float(lower), upper=float(upper), level=level,
        ci_level=float(ci_level), ci_method=ci_method, hodges_lehmann=hl,
        note="; ".join(notes),
    )


# ------------------------------------------------------------------------------------------
# Paired t
# ------------------------------------------------------------------------------------------


def paired_t(
    x: Sequence[float] | np.ndarray | pd.Series,
    y: Sequence[float] | np.ndarray | pd.Series,
    level: float = 0.95,
) -> PairedTResult:
    """Paired t test of x - y with the t interval of the mean difference (R t.test).

    Parameters
    ----------
    x, y : array-like
        Paired values; the differences are x - y.
    level : float
        Confidence level.

    Returns
    -------
    PairedTResult

    Raises
    ------
    ValueError
        Unequal lengths, missing or infinite values (the count is named), fewer than 2 pairs,
        or constant differences (R: "data are essentially constant").
    """
    level = _check_level(level)
    d = _paired_differences(x, y)
    n = int(d.size)
    if n < 2:
        raise ValueError(f"paired t test needs at least 2 pairs, got {n}")
    mean = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    se = sd / math.sqrt(n)
    if se < 10 * _DBL_EPSILON * abs(mean) or se == 0.0:
        raise ValueError("the differences are (essentially) constant: t is undefined")
    x_arr = np.asarray(x, dtype=float)
    y_arr = np.asarray(y, dtype=float)
    res = stats.ttest_rel(x_arr, y_arr)
    ci = res.confidence_interval(confidence_level=level)
    return PairedTResult(
        mean_difference=mean, lower=float(ci.low), upper=float(ci.high),
        t=float(res.statistic), df=float(res.df), p=float(res.pvalue), se=se, sd=sd, n=n,
        level=level,
        method=f"paired t test of x - y (two-sided), {100 * level:g}% t interval (scipy ttest_rel)",
    )
