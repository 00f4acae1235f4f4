"""Confidence intervals for a binomial proportion k/n, each method named and checked against R.

Methods (the names are :data:`nethelpers.config.CI_METHODS`)
-----------------------------------------------------------
``"wilson"``
    Wilson score interval (Wilson 1927), no continuity correction. Equals R
    ``prop.test(k, n, correct=FALSE)$conf.int``. Computed by statsmodels
    ``proportion_confint(method="wilson")``; the bounds are set to exactly 0 at k = 0 and
    exactly 1 at k = n (as R does).
``"clopper-pearson"``
    Clopper & Pearson (1934) "exact" interval from beta quantiles, lower 0 at k = 0 and upper 1
    at k = n. Equals R ``binom.test(k, n)$conf.int``. Computed by statsmodels
    ``proportion_confint(method="beta")``.
``"wilson-cc"``
    Wilson score interval with continuity correction, Newcombe (1998a) method 4. Equals scipy
    ``binomtest(k, n).proportion_ci(method="wilsoncc")`` (tested). It equals R
    ``prop.test(k, n, correct=TRUE)$conf.int`` for every k except k = n/2: there R drops the
    correction (its ``YATES <- min(0.5, abs(x - n*p))`` with the null p = 0.5 leaks into the
    interval) and returns the uncorrected Wilson interval, which is narrower than the
    Clopper-Pearson interval the correction is meant to approach. We keep Newcombe's definition
    at k = n/2 too; the test suite checks both facts against R.
``"jeffreys"``
    Equal-tailed Jeffreys interval: beta(k + 1/2, n - k + 1/2) quantiles α/2 and 1 - α/2, with
    the boundary convention of Brown, Cai & DasGupta (2001): lower = 0 when k = 0 and
    upper = 1 when k = n. Equals R ``qbeta(c(a/2, 1-a/2), k+0.5, n-k+0.5)`` with that
    convention. statsmodels ``proportion_confint(method="jeffreys")`` does **not** apply the
    convention (its lower bound at k = 0 is > 0); it is applied here.
``"agresti-coull"``
    Agresti & Coull (1998) interval with ñ = n + z², p̃ = (k + z²/2)/ñ,
    p̃ ± z·sqrt(p̃(1 - p̃)/ñ), truncated to [0, 1] (the z² form of Brown, Cai & DasGupta 2001).
    Computed by statsmodels ``proportion_confint(method="agresti_coull")``.

The point estimate is always k/n (also for Agresti-Coull, whose interval is centred on p̃).

Edge cases
----------
- 0/0: not estimable. The result has ``estimate``, ``lower`` and ``upper`` NaN and
  ``note == "0/0: not estimable"``; :meth:`ProportionCI.format` prints
  ``"not estimable (0/0)"``. No exception, so a table of many proportions can be built.
- 0/n and n/n (n > 0): well-defined intervals for every method (lower 0 at k = 0, upper 1 at
  k = n for every method).
- k < 0, k > n, non-integer or non-finite counts, a level outside (0, 1) or an unknown method
  raise :class:`ValueError`.

Non-integer counts (an *effective* number of successes and trials k/deff, n/deff of a
clustered sample) are accepted by :func:`interval_bounds` only; the public functions take
integer counts.

References
----------
Agresti A, Coull BA. Approximate is better than "exact" for interval estimation of binomial
proportions. Am Stat 1998;52:119-126.
Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial proportion. Stat Sci
2001;16:101-133.
Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the case of the
binomial. Biometrika 1934;26:404-413.
Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
methods. Stat Med 1998;17:857-872.
Wilson EB. Probable inference, the law of succession, and statistical inference. J Am Stat
Assoc 1927;22:209-212.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from nethelpers.config import CI_METHODS

__all__ = [
    "CI_METHODS",
    "METHOD_DESCRIPTIONS",
    "NOT_ESTIMABLE_0_0",
    "ProportionCI",
    "check_level",
    "check_method",
    "interval_bounds",
    "proportion_ci",
    "proportion_ci_table",
]

NOT_ESTIMABLE_0_0 = "0/0: not estimable"
"""The ``note`` of a proportion with a zero denominator."""

METHOD_DESCRIPTIONS = {
    "wilson": "Wilson score interval (Wilson 1927); = R prop.test(correct=FALSE)",
    "clopper-pearson": "Clopper-Pearson exact interval (1934); = R binom.test",
    "wilson-cc": "Wilson score interval with continuity correction (Newcombe 1998, method 4)",
    "jeffreys": "Jeffreys equal-tailed interval, lower 0 at k=0 and upper 1 at k=n "
    "(Brown, Cai & DasGupta 2001)",
    "agresti-coull": "Agresti-Coull interval (1998), z-squared form, truncated to [0, 1]",
}
"""One line per CI method, for the methods section of a report."""

_STATSMODELS_NAME = {
    "wilson": "wilson",
    "clopper-pearson": "beta",
    "jeffreys": "jeffreys",
    "agresti-coull": "agresti_coull",
}


def check_method(method: str) -> str:
    """Return ``method`` if it is one of :data:`CI_METHODS`, else raise ``ValueError``."""
    if method not in CI_METHODS:
        raise ValueError(
            f"unknown CI method {method!r}: use one of {', '.join(CI_METHODS)}"
        )
    return method


def check_level(level: float) -> float:
    """Return ``level`` as a float if 0 < level < 1, else raise ``ValueError``."""
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be strictly between 0 and 1, got {level}")
    return level


def _wilson_cc(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Newcombe (1998) method 4 bounds for arrays with n > 0 (k, n may be non-integer)."""
    p = k / n
    z2 = z * z
    denom = 2.0 * (n + z2)
    with np.errstate(invalid="ignore"):
        rad_lo = z2 - 2.0 - 1.0 / n + 4.0 * p * (n * (1.0 - p) + 1.0)
        rad_hi = z2 + 2.0 - 1.0 / n + 4.0 * p * (n * (1.0 - p) - 1.0)
        lower = (2.0 * n * p + z2 - 1.0 - z * np.sqrt(np.maximum(rad_lo, 0.0))) / denom
        upper = (2.0 * n * p + z2 + 1.0 + z * np.sqrt(np.maximum(rad_hi, 0.0))) / denom
    # As R prop.test: the bound is 0 (1) once the corrected proportion p -/+ 1/(2n) reaches
    # 0 (1); for integer counts exactly at k = 0 (k = n), for effective counts below 0.5.
    lower = np.where(k <= 0.5, 0.0, np.clip(lower, 0.0, 1.0))
    upper = np.where(k >= n - 0.5, 1.0, np.clip(upper, 0.0, 1.0))
    return lower, upper


def interval_bounds(
    k: np.ndarray | float,
    n: np.ndarray | float,
    method: str = "wilson",
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``method`` for arrays of counts with n > 0.

    The workhorse behind :func:`proportion_ci`; vectorised and accepting non-integer counts
    (effective sample sizes). No validation beyond ``method`` and ``level``: the caller
    guarantees finite 0 <= k <= n and n > 0.

    Parameters
    ----------
    k, n : array_like
        Successes and trials (broadcast together).
    method : str
        One of :data:`CI_METHODS`.
    level : float
        Confidence level.

    Returns
    -------
    lower, upper : numpy.ndarray
        Bounds in [0, 1]; lower is exactly 0 where k == 0 and upper exactly 1 where k == n;
        lower <= k/n <= upper always.
    """
    check_method(method)
    level = check_level(level)
    k, n = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(n, dtype=float))
    alpha = 1.0 - level
    if k.size == 0:
        return np.empty(k.shape), np.empty(k.shape)
    # Effective (non-integer) counts within 1e-9 of 0 or n are 0 or n: a count of 1e-300
    # means nothing and overflows the beta quantiles of Clopper-Pearson and Jeffreys.
    k = np.where(k < 1e-9, 0.0, np.where(n - k < 1e-9, n, k))
    if method == "wilson-cc":
        lower, upper = _wilson_cc(k, n, float(stats.norm.isf(alpha / 2.0)))
    else:
        lower, upper = proportion_confint(
            k.ravel(), n.ravel(), alpha=alpha, method=_STATSMODELS_NAME[method]
        )
        lower = np.clip(np.asarray(lower, dtype=float).reshape(k.shape), 0.0, 1.0)
        upper = np.clip(np.asarray(upper, dtype=float).reshape(k.shape), 0.0, 1.0)
    # Exact boundary convention, for every method (Brown, Cai & DasGupta 2001 for Jeffreys;
    # the other methods reach the boundary analytically, this removes rounding residue).
    lower = np.where(k <= 0.0, 0.0, lower)
    upper = np.where(k >= n, 1.0, upper)
    # Guard for effective counts only: the Jeffreys lower bound exceeds k/n when 0 < k << 1
    # (k < about 5e-4 at 95 %); integer counts never reach this line's effect (tested).
    p = k / n
    return np.minimum(lower, p), np.maximum(upper, p)


@dataclass(frozen=True)
class ProportionCI:
    """A proportion k/n with its confidence interval and the method that made it.

    Attributes
    ----------
    estimate : float
        k/n (NaN for 0/0).
    lower, upper : float
        Confidence bounds (NaN for 0/0).
    k, n : int
        Successes and trials.
    method : str
        One of :data:`CI_METHODS`.
    level : float
        Confidence level, e.g. 0.95.
    note : str
        Empty, or why the interval is not estimable (``"0/0: not estimable"``).
    """

    estimate: float
    lower: float
    upper: float
    k: int
    n: int
    method: str
    level: float
    note: str = ""

    @property
    def estimable(self) -> bool:
        """False when the denominator is 0."""
        return self.n > 0

    def format(self, digits: int = 1, percent: bool = True) -> str:
        """Text for a report table, e.g. ``"85.0% (72.1-92.9)"`` or ``"not estimable (0/0)"``.

        Parameters
        ----------
        digits : int
            Decimals.
        percent : bool
            Show percentages (True) or proportions.
        """
        if not self.estimable:
            return "not estimable (0/0)"
        scale, unit = (100.0, "%") if percent else (1.0, "")
        e, lo, hi = (scale * v for v in (self.estimate, self.lower, self.upper))
        return f"{e:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def _as_counts(k: object, n: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate integer counts 0 <= k <= n (arrays), raising ValueError with the offending pair."""
    k_arr = np.asarray(k, dtype=float)
    n_arr = np.asarray(n, dtype=float)
    try:
        k_arr, n_arr = np.broadcast_arrays(k_arr, n_arr)
    except ValueError as exc:
        raise ValueError(
            f"k and n have incompatible shapes {k_arr.shape} and {n_arr.shape}"
        ) from exc
    bad = ~(np.isfinite(k_arr) & np.isfinite(n_arr))
    bad |= (k_arr != np.round(k_arr)) | (n_arr != np.round(n_arr))
    bad |= (k_arr < 0) | (k_arr > n_arr)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(
            f"counts must be integers with 0 <= k <= n, got k={k_arr.ravel()[i]}, "
            f"n={n_arr.ravel()[i]}"
        )
    return k_arr, n_arr


def proportion_ci(
    k: int, n: int, method: str = "wilson", level: float = 0.95
) -> ProportionCI:
    """Confidence interval of the proportion k/n.

    Parameters
    ----------
    k : int
        Number of successes (e.g. true positives).
    n : int
        Number of trials (e.g. true positives + false negatives).
    method : str
        One of :data:`CI_METHODS`; see the module docstring for the exact definitions.
    level : float
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    ProportionCI
        For n = 0 the estimate and bounds are NaN and ``note`` says ``"0/0: not estimable"``.

    Raises
    ------
    ValueError
        Unknown method, level outside (0, 1), or counts that are not integers with
        0 <= k <= n.

    Examples
    --------
    >>> proportion_ci(17, 20).format()
    '85.0% (64.0-94.8)'
    """
    check_method(method)
    level = check_level(level)
    k_arr, n_arr = _as_counts(k, n)
    if k_arr.ndim != 0:
        raise ValueError("proportion_ci takes scalar counts; use proportion_ci_table for arrays")
    k_i, n_i = int(k_arr), int(n_arr)
    if n_i == 0:
        nan = math.nan
        return ProportionCI(nan, nan, nan, k_i, n_i, method, level, NOT_ESTIMABLE_0_0)
    lower, upper = interval_bounds(k_i, n_i, method, level)
    return ProportionCI(k_i / n_i, float(lower), float(upper), k_i, n_i, method, level)


def proportion_ci_table(
    k: object, n: object, method: str = "wilson", level: float = 0.95
) -> pd.DataFrame:
    """Vectorised :func:`proportion_ci`: one row per (k, n) pair.

    Parameters
    ----------
    k, n : array_like of int
        Successes and trials, broadcast together.
    method : str
        One of :data:`CI_METHODS`.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``estimate, lower, upper, k, n, method, level, note``; rows with n = 0 have
        NaN estimate and bounds and the note ``"0/0: not estimable"``.
    """
    check_method(method)
    level = check_level(level)
    k_arr, n_arr = _as_counts(k, n)
    k_arr, n_arr = k_arr.ravel(), n_arr.ravel()
    ok = n_arr > 0
    est = np.full(k_arr.shape, np.nan)
    lower = np.full(k_arr.shape, np.nan)
    upper = np.full(k_arr.shape, np.nan)
    est[ok] = k_arr[ok] / n_arr[ok]
    lower[ok], upper[ok] = interval_bounds(k_arr[ok], n_arr[ok], method, level)
    return pd.DataFrame(
        {
            "estimate": est,
            "lower": lower,
            "upper": upper,
            "k": k_arr.astype(np.int64),
            "n": n_arr.astype(np.int64),
            "method": method,
            "level": level,
            "note": np.where(ok, "", NOT_ESTIMABLE_0_0),
        }
    )
