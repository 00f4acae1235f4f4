"""Empirical ROC analysis: AUC with DeLong or bootstrap CIs, paired tests, Youden, clustered AUC.

Every number here reproduces R's pROC (1.18) where pROC is deterministic; the test suite checks
it against ``tests/reference/roc_reference.R`` to 1e-12. Each result names its method.

Conventions (state them in the report)
--------------------------------------
Classes
    ``y_true`` may be bool, 0/1 or any two labels; ``positive`` names the case (diseased)
    label (default 1, which also matches ``True``). Every other observation is a control.
    More than two labels, a missing label or a single class raise :class:`ValueError`.
Missing and infinite scores
    Never dropped silently: a NaN score raises :class:`ValueError` naming how many (pROC's
    default ``na.rm=TRUE`` drops them); ±Inf is refused too (pROC returns NaN for it).
Direction
    ``"<"``: controls score lower, a *higher* score means positive (observation positive when
    score >= threshold). ``">"``: a *lower* score means positive (score <= threshold).
    ``"auto"`` is pROC's rule: ``"<"`` if median(controls) <= median(cases), else ``">"``
    (the tie goes to ``"<"``). The rule is decided on the medians, not on the AUC, so an
    auto-direction AUC can be below 0.5; the direction used and why are kept in the result
    (:attr:`Roc.direction`, :attr:`Roc.direction_rule`).
AUC
    The empirical (trapezoidal) AUC = Mann-Whitney U / (m n) with ties counted 1/2, computed
    exactly from midranks (equals pROC ``auc``).
DeLong
    Variance from the structural components (placements) of DeLong, DeLong & Clarke-Pearson
    (1988), computed in O(n log n) from midranks as in Sun & Xu (2014) in float64:
    var = s²(V10)/m + s²(V01)/n with sample variances around the AUC (pROC ``var(roc)``).
    CI = AUC ± z·se, then clipped to [0, 1] exactly as pROC ``ci.auc(method="delong")`` does
    (the clipped bound is reported as 0 or 1; ``se`` is not altered). A DeLong variance needs
    at least 2 cases and 2 controls: with fewer we raise (pROC returns NA). A zero variance
    (all scores tied, or perfect separation) gives the degenerate interval pROC gives
    ([0.5, 0.5], [1, 1]), with a ``note``.
Paired DeLong test
    Z = (AUC_a - AUC_b) / sqrt(Var_a + Var_b - 2 Cov_ab), two-sided normal p, CI of the
    difference d ± z·se (not clipped): pROC ``roc.test(method="delong", paired=TRUE)``. With a
    zero standard error and d = 0 we return Z = 0, p = 1 (pROC's rule). Unpaired (two samples):
    pROC's Welch-type statistic with Satterthwaite df and a t p-value; our CI uses the same t.
Bootstrap
    pROC's scheme: stratified resampling (cases and controls separately, pROC's default) or
    resampling of all observations (replicates that lose a class are dropped and counted, as
    pROC drops their NA). Percentile interval: R ``quantile`` type 7 (= numpy "linear");
    ``se`` is the replicates' standard deviation. Replicates are computed all at once
    (in fixed-size chunks for large n) from a seeded :class:`numpy.random.Generator`; the same
    seed and data give the same numbers. They cannot equal pROC's (different RNG): the tests
    compare within a Monte-Carlo tolerance. The bootstrap comparison reports pROC's statistic
    D = (AUC_a - AUC_b) / sd(bootstrap differences) with a two-sided normal p, and the
    percentile interval of the differences.
Thresholds (:meth:`Roc.coords`)
    As pROC: -Inf, the midpoints between consecutive distinct observed values, +Inf
    (midpoints of values beyond 1e100 in magnitude computed as a/2 + b/2; a midpoint of two
    adjacent doubles that rounds onto the lower one is moved to the upper one so it still
    separates them). Rows in pROC's order (increasing specificity). scikit-learn's
    ``roc_curve`` uses observed values instead, so its thresholds differ.
Youden (:meth:`Roc.youden`)
    J = sensitivity + specificity - 1 maximised over the thresholds of :meth:`Roc.coords`
    (pROC's ``coords(r, "best", best.method="youden")``, whose "youden" column is
    sensitivity + specificity, i.e. J + 1). Ties are decided in exact integer arithmetic
    (tp·n + tn·m); pROC compares floating-point sums, which can drop a genuinely tied
    threshold (e.g. 0.2 + 0.7 != 0.1 + 0.8 in floating point), so our tie set contains
    pROC's and is larger only in that case. Of tied thresholds we report the first in pROC's
    row order, i.e. the one with the highest sensitivity, and list all of them in ``ties``. A
    data-driven cut-off is **exploratory**: it is optimistic on the data that chose it.
Clustered AUC (:func:`clustered_auc`)
    Obuchowski (1997): structural components summed per cluster (patient),
    S10 = I10/((I10-1)M) Σ(V10_i - m_i θ)², S01 = I01/((I01-1)N) Σ(V01_i - n_i θ)²,
    S11 = I/(I-1) Σ(V10_i - m_i θ)(V01_i - n_i θ), var = S10/M + S01/N + 2 S11/(MN), with I
    clusters, I10 (I01) of them holding a case (control), M cases and N controls in all.
    With one unit per cluster, I10 = M, I01 = N and S11 = 0, so the variance is *exactly*
    DeLong's: Σ(V10 - θ)²/(M(M-1)) + Σ(V01 - θ)²/(N(N-1)). The K/(K-1) factors are the
    cluster-level counterpart of DeLong's 1/(m-1) sample-variance normalisation, not an extra
    small-sample inflation. Checked against the public R implementation ``doAUCcluster``
    (adapted from the Cleveland Clinic's ``funcs_clusteredROC.R``) to 1e-12. The CI is
    clipped to [0, 1] like DeLong's (doAUCcluster does not clip).

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated
receiver operating characteristic curves: a nonparametric approach. Biometrics
1988;44:837-845.
Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under
correlated receiver operating characteristic curves. IEEE Signal Process Lett
2014;21:1389-1393.
Obuchowski NA. Nonparametric analysis of clustered ROC curve data. Biometrics
1997;53:567-578.
Robin X, Turck N, Hainard A, et al. pROC: an open-source package for R and S+ to analyze and
compare ROC curves. BMC Bioinformatics 2011;12:77.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

__all__ = [
    "AucCI",
    "AucComparison",
    "Roc",
    "YoudenResult",
    "clustered_auc",
    "compare_auc",
    "compare_clustered_auc",
    "roc",
]

Direction = Literal["auto", "<", ">"]

#: Elements per bootstrap chunk (replicates × (observations + groups)); fixes the chunking,
#: hence the random stream, for given data, ``n_boot`` and seed.
_BOOT_ELEMENTS = 1 << 21


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AucCI:
    """An AUC with its confidence interval.

    Attributes
    ----------
    auc : float
        The empirical AUC of the data (for the bootstrap too, not the replicates' median).
    lower, upper : float
        Confidence limits (DeLong and Obuchowski: clipped to [0, 1]).
    se : float
        Standard error (DeLong/Obuchowski: square root of the variance; bootstrap: standard
        deviation of the replicates).
    method : str
        The method in words, e.g. ``"DeLong (midrank algorithm of Sun & Xu 2014) ..."``.
    level : float
        Confidence level.
    n_boot : int or None
        Bootstrap replicates used (None for analytic methods).
    seed : int or None
        The seed given to the bootstrap.
    n_clusters : int or None
        Number of clusters (clustered AUC only).
    note : str
        Anything the reader must know (degenerate interval, dropped replicates); "" if none.
    """

    auc: float
    lower: float
    upper: float
    se: float
    method: str
    level: float
    n_boot: int | None = None
    seed: int | None = None
    n_clusters: int | None = None
    note: str = ""


@dataclass(frozen=True)
class AucComparison:
    """Two AUCs compared: the difference A - B with its CI and a two-sided test of equality.

    Attributes
    ----------
    auc_a, auc_b : float
        The two AUCs.
    difference : float
        ``auc_a - auc_b``.
    lower, upper : float
        Confidence limits of the difference (not clipped).
    z : float
        Test statistic: DeLong/Obuchowski Z, pROC's bootstrap D, or (unpaired DeLong) the
        Welch-type t statistic.
    p : float
        Two-sided p-value.
    method : str
        The method in words.
    level : float
        Confidence level of the interval.
    se : float
        Standard error of the difference (bootstrap: standard deviation of the differences).
    df : float or None
        Degrees of freedom (unpaired DeLong only).
    n_boot, seed : int or None
        Bootstrap replicates used and the seed.
    direction_a, direction_b : str
        The direction used for each score.
    note : str
        Anything the reader must know; "" if none.
    """

    auc_a: float
    auc_b: float
    difference: float
    lower: float
    upper: float
    z: float
    p: float
    method: str
    level: float
    se: float
    df: float | None = None
    n_boot: int | None = None
    seed: int | None = None
    direction_a: str = ""
    direction_b: str = ""
    note: str = ""


@dataclass(frozen=True)
class YoudenResult:
    """The threshold maximising Youden's J — an **exploratory** cut-off.

    A cut-off chosen on the data that evaluate it is optimistic; report it as exploratory and
    validate it on other data.

    Attributes
    ----------
    threshold : float
        The threshold (pROC placement, see :meth:`Roc.coords`); an observation is positive
        when score >= threshold (direction ``"<"``) or score <= threshold (``">"``).
    sensitivity, specificity : float
        At that threshold.
    j : float
        Youden's J = sensitivity + specificity - 1 (pROC prints J + 1 as "youden").
    tp, fp, tn, fn : int
        The 2×2 table at that threshold.
    direction : str
        Direction of the ROC curve.
    ties : tuple of float
        Every threshold with the same maximal J, in pROC's row order (the first is reported).
    method : str
        The rule in words.
    level : float or None
        Confidence level of the bootstrap intervals (None without ``ci=True``).
    threshold_ci, sensitivity_ci, specificity_ci, j_ci : tuple of float or None
        Bootstrap percentile intervals of the optimal threshold and its operating point
        (each replicate re-optimises J with the same tie rule).
    n_boot, seed : int or None
        Bootstrap replicates and seed.
    """

    threshold: float
    sensitivity: float
    specificity: float
    j: float
    tp: int
    fp: int
    tn: int
    fn: int
    direction: str
    ties: tuple[float, ...]
    method: str
    level: float | None = None
    threshold_ci: tuple[float, float] | None = None
    sensitivity_ci: tuple[float, float] | None = None
    specificity_ci: tuple[float, float] | None = None
    j_ci: tuple[float, float] | None = None
    n_boot: int | None = None
    seed: int | None = None


# ---------------------------------------------------------------------------------------------
# Input handling
# ---------------------------------------------------------------------------------------------
def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return level


def _z(level: float) -> float:
    return float(stats.norm.ppf(1.0 - (1.0 - level) / 2.0))


def _as_1d(x: ArrayLike, name: str) -> np.ndarray:
    arr = x.to_numpy() if isinstance(x, pd.Series | pd.Index) else np.asarray(x)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _scores(score: ArrayLike, name: str) -> np.ndarray:
    raw = _as_1d(score, name)
    try:
        s = raw.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be numeric ({exc})") from None
    n_nan = int(np.isnan(s).sum())
    if n_nan:
        raise ValueError(
            f"{name} has {n_nan} NaN value{'s' if n_nan > 1 else ''} of {s.size}; drop or "
            "impute them explicitly (missing scores are never dropped silently)")
    n_inf = int(np.isinf(s).sum())
    if n_inf:
        raise ValueError(f"{name} has {n_inf} infinite value{'s' if n_inf > 1 else ''}; "
                         "ROC thresholds need finite scores (pROC refuses them too)")
    return s


def _is_case(y_true: ArrayLike, positive: Any, n: int, name: str = "y_true") -> np.ndarray:
    y = _as_1d(y_true, name)
    if y.size != n:
        raise ValueError(f"{name} has {y.size} values but the score has {n}")
    missing = pd.isna(y)
    if missing.any():
        raise ValueError(f"{name} has {int(missing.sum())} missing label(s)")
    labels = [lab.item() if isinstance(lab, np.generic) else lab for lab in pd.unique(y)]
    if len(labels) > 2:
        raise ValueError(f"{name} has {len(labels)} labels {labels[:6]}; an ROC curve needs "
                         "exactly two (case and control)")
    if positive is None:
        if not set(labels) <= {0, 1}:       # True/False and 1.0/0.0 compare equal to 1/0
            raise ValueError(f"{name} has labels {labels}: say which one is the case with "
                             "positive=<label> (only 0/1 and False/True are taken as "
                             "control/case without it)")
        positive = 1
    is_case = np.asarray(y == positive, dtype=bool)
    m = int(is_case.sum())
    if m == 0 and len(labels) == 2:
        raise ValueError(f"positive={positive!r} is not among the labels of {name} "
                         f"{labels}; pass positive=<the case label>")
    if m == 0 or m == n:
        raise ValueError(f"{name} has a single class: {m} case(s) (label {positive!r}) and "
                         f"{n - m} control(s) (labels present: {labels}); an ROC curve "
                         "needs both")
    return is_case


def _median_sorted(s: np.ndarray) -> float:
    """Median of sorted values as R computes it (mean of the two middle values, no overflow)."""
    k = s.size // 2
    if s.size % 2:
        return float(s[k])
    a, b = float(s[k - 1]), float(s[k])
    mid = (a + b) / 2.0
    return mid if math.isfinite(mid) else a / 2.0 + b / 2.0


@dataclass(frozen=True)
class _Ranks:
    """Tie-aware counts of the raw scores from one sort of the pooled data.

    ``below[i]``: controls below case i plus 1/2 per tie; ``case_below[j]``: cases below
    control j plus 1/2 per tie (exact half-integers, original order). These are the midrank
    differences of Sun & Xu (2014) (pooled midrank minus within-class midrank).
    """

    sorted_cases: np.ndarray
    sorted_controls: np.ndarray
    below: np.ndarray
    case_below: np.ndarray


def _ranks(x: np.ndarray, y: np.ndarray) -> _Ranks:
    m = x.size
    z = np.concatenate([x, y])
    order = np.argsort(z)
    zs = z[order]
    case_sorted = order < m
    new_group = np.empty(zs.size, dtype=bool)
    new_group[0] = True
    np.not_equal(zs[1:], zs[:-1], out=new_group[1:])
    group = np.cumsum(new_group) - 1  # distinct-value group of each sorted observation
    k = int(group[-1]) + 1
    n_case = np.bincount(group[case_sorted], minlength=k)
    n_ctrl = np.bincount(group[~case_sorted], minlength=k)
    # per group: observations of the other class strictly below, plus half of those tied
    ctrl_below = (np.cumsum(n_ctrl) - n_ctrl) + 0.5 * n_ctrl
    case_below_g = (np.cumsum(n_case) - n_case) + 0.5 * n_case
    below = np.empty(m)
    below[order[case_sorted]] = ctrl_below[group[case_sorted]]
    case_below = np.empty(y.size)
    case_below[order[~case_sorted] - m] = case_below_g[group[~case_sorted]]
    return _Ranks(zs[case_sorted], zs[~case_sorted], below, case_below)


def _direction(rk: _Ranks, direction: str) -> tuple[str, str]:
    if direction in ("<", ">"):
        what = "higher" if direction == "<" else "lower"
        return direction, f"fixed '{direction}': a {what} score means positive"
    if direction != "auto":
        raise ValueError(f"direction must be 'auto', '<' or '>', got {direction!r}")
    mc, mx = _median_sorted(rk.sorted_controls), _median_sorted(rk.sorted_cases)
    if mc <= mx:
        return "<", (f"auto (pROC rule): median of controls {mc:.6g} <= median of cases "
                     f"{mx:.6g}, so '<' (a higher score means positive)")
    return ">", (f"auto (pROC rule): median of controls {mc:.6g} > median of cases {mx:.6g}, "
                 "so '>' (a lower score means positive)")


def _oriented(x: np.ndarray, direction: str) -> np.ndarray:
    """Scores turned so that larger means more positive (negation is exact)."""
    return x if direction == "<" else -x


# ---------------------------------------------------------------------------------------------
# Core computations
# ---------------------------------------------------------------------------------------------
def _placements(rk: _Ranks, direction: str) -> tuple[np.ndarray, np.ndarray, float]:
    """DeLong structural components and the AUC (Sun & Xu 2014 midrank algorithm).

    Returns V10 (per case: share of controls it outranks, ties 1/2), V01 (per control: share
    of cases that outrank it, ties 1/2) and AUC = U/(mn): exact counts, one rounding each.
    """
    m, n = rk.below.size, rk.case_below.size
    if direction == "<":
        below, above = rk.below, m - rk.case_below
    else:  # a lower score is positive: the mirror image, still exact
        below, above = n - rk.below, rk.case_below
    u = float(below.sum())  # exact: a sum of half-integers < 2**53
    return below / n, above / m, u / (float(m) * float(n))


def _proc_thresholds(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Threshold pROC places between consecutive distinct values lo < hi (lo may be -inf).

    Oriented scale (larger = positive): a midpoint that rounds onto ``lo`` (adjacent doubles)
    is moved to ``hi``, pROC's fix for direction "<" (its fix for ">" is the mirror image).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        t1 = (lo + hi) / 2.0
        t2 = lo / 2.0 + hi / 2.0
    t = np.where(np.abs(t1) > 1e100, t2, t1)
    return np.where((t == lo) & np.isfinite(lo), hi, t)


def _to_raw(t_oriented: np.ndarray, direction: str) -> np.ndarray:
    return t_oriented if direction == "<" else -t_oriented + 0.0  # + 0.0: no -0.0


@dataclass(frozen=True)
class _Curve:
    """The empirical ROC curve on the oriented scale: one row per pROC threshold."""

    t_oriented: np.ndarray  # K + 1 thresholds, ascending
    tp: np.ndarray
    fp: np.ndarray
    tn: np.ndarray
    fn: np.ndarray


def _curve(x: np.ndarray, y: np.ndarray) -> _Curve:
    m, n = x.size, y.size
    u, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
    k = u.size
    case_counts = np.bincount(inv[:m], minlength=k)
    ctrl_counts = np.bincount(inv[m:], minlength=k)
    fn = np.concatenate([[0], np.cumsum(case_counts)])
    tn = np.concatenate([[0], np.cumsum(ctrl_counts)])
    lo = np.concatenate([[-np.inf], u])
    hi = np.concatenate([u, [np.inf]])
    return _Curve(_proc_thresholds(lo, hi), m - fn, n - tn, tn, fn)


def _best_youden(tp: np.ndarray, tn: np.ndarray, m: int, n: int) -> np.ndarray:
    """Indices of the maximal J in exact integer arithmetic (J·m·n + m·n = tp·n + tn·m)."""
    crit = tp.astype(np.int64) * n + tn.astype(np.int64) * m
    return np.flatnonzero(crit == crit.max())


def _percentile(values: np.ndarray, level: float) -> tuple[float, float]:
    """Equal-tailed percentile interval, R ``quantile`` type 7 written as R computes it.

    (1 - h)·x[lo] + h·x[hi], no interpolation between equal neighbours, so an infinite
    threshold (a replicate whose best cut is ±Inf) gives ±Inf, never NaN.
    """
    a = (1.0 - level) / 2.0
    x = np.sort(values)
    out = []
    for p in (a, 1.0 - a):
        index = (x.size - 1) * p
        lo, hi = math.floor(index), math.ceil(index)
        q = float(x[lo])
        h = index - lo
        if h > 0 and x[hi] != q:
            q = (1.0 - h) * q + h * float(x[hi])
        out.append(q)
    return out[0], out[1]


def _curve_sensitivity(x: np.ndarray, y: np.ndarray, fpr: np.ndarray) -> np.ndarray:
    """Sensitivity of the drawn empirical curve at false-positive rates ``fpr``.

    ``x`` cases and ``y`` controls, oriented (larger = more positive). The curve's points are
    (1 - specificity, sensitivity) at every threshold, joined by straight lines in the order
    of increasing fpr then sensitivity; where it is vertical the highest point is taken.
    """
    m, n = x.size, y.size
    t = np.unique(np.concatenate([x, y]))
    tp = m - np.searchsorted(np.sort(x), t, side="left")        # cases >= t
    tn = np.searchsorted(np.sort(y), t, side="left")            # controls < t
    f = np.r_[1.0 - tn / n, 0.0]                                 # + the threshold +Inf
    s = np.r_[tp / m, 0.0]
    order = np.lexsort((s, f))
    f, s = f[order], s[order]
    u, first = np.unique(f, return_index=True)
    last = np.r_[first[1:] - 1, f.size - 1]
    bottom, top = s[first], s[last]
    j = np.searchsorted(u, fpr, side="left")
    at = np.minimum(j, u.size - 1)
    exact = u[at] == fpr
    k = np.clip(j, 1, u.size - 1)
    frac = (fpr - u[k - 1]) / (u[k] - u[k - 1])
    between = top[k - 1] + frac * (bottom[k] - top[k - 1])
    return np.where(exact, top[at], between)


# ---------------------------------------------------------------------------------------------
# Bootstrap engine: replicate counts per distinct value, all replicates of a chunk at once
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Groups:
    """Distinct oriented values and the group code of every case and control."""

    values: np.ndarray
    case_codes: np.ndarray
    ctrl_codes: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray, y: np.ndarray) -> _Groups:
        u, inv = np.unique(np.concatenate([x, y]), return_inverse=True)
        return cls(u, inv[: x.size], inv[x.size:])

    @property
    def k(self) -> int:
        return self.values.size


def _group_counts(codes: np.ndarray, k: int) -> np.ndarray:
    """(b, draws) group codes -> (b, k) counts."""
    b = codes.shape[0]
    flat = (codes + k * np.arange(b, dtype=np.int64)[:, None]).ravel()
    return np.bincount(flat, minlength=b * k).reshape(b, k)


def _boot_draws(rng: np.random.Generator, b: int, m: int, n: int,
                stratified: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Indices of one chunk: stratified (cases (b, m), controls (b, n)) or all units (b, m+n)."""
    if stratified:
        return rng.integers(0, m, size=(b, m)), rng.integers(0, n, size=(b, n))
    return rng.integers(0, m + n, size=(b, m + n)), None


def _counts_from_draws(groups: _Groups, draws: tuple[np.ndarray, np.ndarray | None]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Per replicate and group: (case counts D, control counts C), each (b, k)."""
    k = groups.k
    first, second = draws
    if second is not None:
        return _group_counts(groups.case_codes[first], k), _group_counts(
            groups.ctrl_codes[second], k)
    m = groups.case_codes.size
    all_codes = np.concatenate([groups.case_codes, groups.ctrl_codes])
    codes = all_codes[first]
    is_case = first < m
    big = k + 1  # a spare group collects the other class
    d = _group_counts(np.where(is_case, codes, k), big)[:, :k]
    c = _group_counts(np.where(is_case, k, codes), big)[:, :k]
    return d, c


def _auc_from_counts(d: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC per replicate, exact integer numerator; NaN if a class is missing."""
    below = np.cumsum(c, axis=1) - c
    u2 = (d * (2 * below + c)).sum(axis=1)
    mb = d.sum(axis=1)
    nb = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return u2 / (2.0 * mb * nb)


def _chunks(n_boot: int, per_replicate: int) -> Iterator[int]:
    size = max(1, min(n_boot, _BOOT_ELEMENTS // max(per_replicate, 1)))
    done = 0
    while done < n_boot:
        b = min(size, n_boot - done)
        yield b
        done += b


def _check_boot(n_boot: int) -> int:
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot}")
    return int(n_boot)


def _boot_method(stratified: bool, n_boot: int, seed: int | None) -> str:
    kind = "stratified (cases and controls resampled separately)" if stratified else (
        "non-stratified (all observations resampled)")
    return (f"bootstrap percentile, {kind}, {n_boot} replicates, seed {seed}, "
            "quantile type 7")


def _dropped_note(n_dropped: int, n_boot: int) -> str:
    if not n_dropped:
        return ""
    return (f"{n_dropped} of {n_boot} replicates had no case or no control and were dropped "
            "(as pROC drops their NA)")


# ---------------------------------------------------------------------------------------------
# The ROC curve
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Roc:
    """An empirical ROC curve (build it with :func:`roc`).

    Attributes
    ----------
    auc : float
        Empirical AUC (Mann-Whitney, ties 1/2); equals pROC ``auc``.
    n_cases, n_controls : int
        Numbers of cases (label ``positive``) and controls.
    direction : str
        ``"<"`` (higher score = positive) or ``">"`` (lower score = positive).
    direction_rule : str
        How the direction was chosen.
    positive : object
        The case label.
    level : float
        Default confidence level of :meth:`ci` and :meth:`youden`.
    cases, controls : numpy.ndarray
        The scores of the cases and of the controls, in input order (read-only).
    """

    auc: float
    n_cases: int
    n_controls: int
    direction: str
    direction_rule: str
    positive: Any
    level: float
    cases: np.ndarray = field(repr=False)
    controls: np.ndarray = field(repr=False)

    # -- cached pieces ------------------------------------------------------------------------
    @cached_property
    def _x(self) -> np.ndarray:
        return _oriented(self.cases, self.direction)

    @cached_property
    def _y(self) -> np.ndarray:
        return _oriented(self.controls, self.direction)

    @cached_property
    def _ranks(self) -> _Ranks:
        return _ranks(self.cases, self.controls)

    @cached_property
    def _delong(self) -> tuple[np.ndarray, np.ndarray]:
        v10, v01, _ = _placements(self._ranks, self.direction)
        return v10, v01

    @cached_property
    def _curve(self) -> _Curve:
        return _curve(self._x, self._y)

    def _need_two_per_class(self, what: str) -> None:
        if self.n_cases < 2 or self.n_controls < 2:
            raise ValueError(
                f"{what} needs at least 2 cases and 2 controls, got {self.n_cases} case(s) "
                f"and {self.n_controls} control(s): the DeLong variance divides by "
                "(n_cases - 1) and (n_controls - 1) and a resampled single observation has no "
                "spread (pROC returns NA for the DeLong CI)")

    def delong_variance(self) -> float:
        """DeLong variance of the AUC (pROC ``var(roc)``).

        Returns
        -------
        float
            s²(V10)/m + s²(V01)/n with the sample variances taken around the AUC.
        """
        self._need_two_per_class("The DeLong variance")
        v10, v01 = self._delong
        m, n = self.n_cases, self.n_controls
        sx = float(np.sum((v10 - self.auc) ** 2)) / (m - 1)
        sy = float(np.sum((v01 - self.auc) ** 2)) / (n - 1)
        return sx / m + sy / n

    # -- confidence interval ------------------------------------------------------------------
    def ci(self, method: Literal["delong", "bootstrap"] = "delong", n_boot: int = 2000,
           seed: int | None = None, stratified: bool = True,
           level: float | None = None) -> AucCI:
        """Confidence interval of the AUC.

        Parameters
        ----------
        method : {"delong", "bootstrap"}
            DeLong (pROC ``ci.auc(method="delong")``, clipped to [0, 1]) or bootstrap
            percentile interval (pROC ``ci.auc(method="bootstrap")``).
        n_boot : int
            Bootstrap replicates.
        seed : int, optional
            Seed of the bootstrap's :func:`numpy.random.default_rng`.
        stratified : bool
            Resample cases and controls separately (pROC's default) or all observations.
        level : float, optional
            Confidence level; default :attr:`level`.

        Returns
        -------
        AucCI

        Raises
        ------
        ValueError
            Fewer than 2 cases or 2 controls, or an unknown method.
        """
        level = _check_level(self.level if level is None else level)
        if method == "delong":
            var = self.delong_variance()
            se = math.sqrt(var)
            z = _z(level)
            lower = min(max(self.auc - z * se, 0.0), 1.0)
            upper = min(max(self.auc + z * se, 0.0), 1.0)
            note = ""
            if se == 0.0:
                note = ("DeLong variance is 0 (perfect separation or all scores tied): the "
                        "interval is degenerate, as in pROC")
            return AucCI(self.auc, lower, upper, se,
                         "DeLong (midrank algorithm of Sun & Xu 2014), Wald interval "
                         "clipped to [0, 1] as pROC ci.auc", level, note=note)
        if method == "bootstrap":
            self._need_two_per_class("A bootstrap CI")
            n_boot = _check_boot(n_boot)
            aucs = self._boot_aucs(n_boot, seed, stratified)
            ok = aucs[np.isfinite(aucs)]
            if ok.size < 2:
                raise ValueError("fewer than 2 bootstrap replicates had both classes")
            lower, upper = _percentile(ok, level)
            return AucCI(self.auc, lower, upper, float(np.std(ok, ddof=1)),
                         _boot_method(stratified, n_boot, seed), level, n_boot=n_boot,
                         seed=seed, note=_dropped_note(n_boot - ok.size, n_boot))
        raise ValueError(f"method must be 'delong' or 'bootstrap', got {method!r}")

    def _boot_aucs(self, n_boot: int, seed: int | None, stratified: bool) -> np.ndarray:
        groups = _Groups.of(self._x, self._y)
        rng = np.random.default_rng(seed)
        m, n = self.n_cases, self.n_controls
        out = []
        for b in _chunks(n_boot, m + n + 3 * groups.k):
            d, c = _counts_from_draws(groups, _boot_draws(rng, b, m, n, stratified))
            out.append(_auc_from_counts(d, c))
        return np.concatenate(out)

    # -- confidence band of the curve ---------------------------------------------------------
    def sensitivity_band(self, specificity: ArrayLike | None = None, n_boot: int = 2000,
                         seed: int | None = None, level: float | None = None) -> pd.DataFrame:
        """Bootstrap confidence band of the sensitivity at fixed specificities.

        At each specificity ``s`` the sensitivity is read off the empirical curve drawn as
        pROC draws it: its points (:meth:`coords`) joined by straight lines, linear between
        neighbouring points and the highest sensitivity where the curve is vertical at
        ``1 - s``. Cases and controls are resampled separately (stratified, as pROC
        ``ci.se``), and the band is the equal-tailed percentile interval (R type 7) of the
        replicates at each ``s``. The observed column is the drawn curve itself, so the curve
        always lies inside its band's definition.

        Parameters
        ----------
        specificity : array-like, optional
            Specificities in [0, 1]; default 0, 0.02, ..., 1.
        n_boot : int
            Bootstrap replicates.
        seed : int, optional
            Seed of the generator (the same seed gives the same band).
        level : float, optional
            Confidence level; default the curve's.

        Returns
        -------
        pandas.DataFrame
            ``specificity``, ``fpr`` (1 − specificity), ``sensitivity`` (observed),
            ``lower``, ``upper``; the ``band`` of :class:`nethelpers.plots.RocCurve`.
        """
        level = _check_level(self.level if level is None else level)
        n_boot = _check_boot(n_boot)
        self._need_two_per_class("A bootstrap band")
        spec = (np.linspace(0.0, 1.0, 51) if specificity is None
                else np.asarray(specificity, dtype=float).ravel())
        if spec.size == 0 or np.any(~np.isfinite(spec)) or spec.min() < 0 or spec.max() > 1:
            raise ValueError("specificity must hold values in [0, 1]")
        fpr = 1.0 - spec
        m, n = self.n_cases, self.n_controls
        observed = _curve_sensitivity(self._x, self._y, fpr)
        rng = np.random.default_rng(seed)
        boot = np.empty((n_boot, spec.size))
        for b in range(n_boot):
            boot[b] = _curve_sensitivity(self._x[rng.integers(0, m, size=m)],
                                         self._y[rng.integers(0, n, size=n)], fpr)
        bounds = np.array([_percentile(boot[:, j], level) for j in range(spec.size)])
        return pd.DataFrame({"specificity": spec, "fpr": fpr, "sensitivity": observed,
                             "lower": bounds[:, 0], "upper": bounds[:, 1]})

    # -- coordinates --------------------------------------------------------------------------
    def coords(self) -> pd.DataFrame:
        """Every threshold of the empirical curve, as pROC ``coords(r, "all")``.

        Returns
        -------
        pandas.DataFrame
            Columns ``threshold``, ``sensitivity``, ``specificity``, ``tp``, ``fp``, ``tn``,
            ``fn``; rows in pROC's order (increasing specificity): -Inf … +Inf for ``"<"``,
            +Inf … -Inf for ``">"``. Thresholds are -Inf, the midpoints between consecutive
            distinct observed values and +Inf. Positive means score >= threshold (``"<"``)
            or score <= threshold (``">"``). The counts are exact integers (pROC derives its
            tp/fp/tn/fn from the proportions in floating point, e.g. 12.999999999999996).
        """
        c = self._curve
        m, n = self.n_cases, self.n_controls
        df = pd.DataFrame({
            "threshold": _to_raw(c.t_oriented, self.direction),
            "sensitivity": c.tp / m,
            "specificity": c.tn / n,
            "tp": c.tp, "fp": c.fp, "tn": c.tn, "fn": c.fn,
        })
        df.attrs["direction"] = self.direction
        return df

    # -- Youden -------------------------------------------------------------------------------
    def youden(self, ci: bool = False, n_boot: int = 2000, seed: int | None = None,
               stratified: bool = True, level: float | None = None) -> YoudenResult:
        """Threshold maximising Youden's J (exploratory), optionally with bootstrap CIs.

        Its J equals pROC ``coords(r, "best", best.method="youden")``. On an exact tie we
        report the threshold with the highest sensitivity (pROC's first row) and list all in
        ``ties``; pROC, adding in floating point, may split such a tie and report another
        of them. A data-driven cut-off is exploratory: it is optimistic on the data
        that chose it and must be validated elsewhere.

        Parameters
        ----------
        ci : bool
            Add bootstrap percentile intervals of the optimal threshold, sensitivity,
            specificity and J (like pROC ``ci.coords(r, "best")``; each replicate
            re-optimises J and breaks ties by the highest sensitivity, where pROC's default
            ``best.policy="stop"`` stops).
        n_boot : int
            Bootstrap replicates.
        seed : int, optional
            Seed of the bootstrap.
        stratified : bool
            Resample cases and controls separately (default) or all observations.
        level : float, optional
            Confidence level; default :attr:`level`.

        Returns
        -------
        YoudenResult
        """
        c = self._curve
        m, n = self.n_cases, self.n_controls
        best = _best_youden(c.tp, c.tn, m, n)
        i = int(best[0])
        raw = _to_raw(c.t_oriented, self.direction)
        sens, spec = c.tp[i] / m, c.tn[i] / n
        method = ("Youden's J = sensitivity + specificity - 1 maximised over pROC thresholds; "
                  "ties in exact arithmetic, the highest-sensitivity threshold reported; "
                  "exploratory (optimistic on the data that chose it)")
        res = dict(threshold=float(raw[i]), sensitivity=float(sens), specificity=float(spec),
                   j=float((c.tp[i] * n + c.tn[i] * m - m * n) / (m * n)),
                   tp=int(c.tp[i]), fp=int(c.fp[i]), tn=int(c.tn[i]), fn=int(c.fn[i]),
                   direction=self.direction, ties=tuple(float(t) for t in raw[best]),
                   method=method)
        if not ci:
            return YoudenResult(**res)
        self._need_two_per_class("A bootstrap CI")
        level = _check_level(self.level if level is None else level)
        n_boot = _check_boot(n_boot)
        boot = self._boot_youden(n_boot, seed, stratified)
        ok = np.isfinite(boot[:, 1])
        rows = boot[ok]
        if rows.shape[0] < 2:
            raise ValueError("fewer than 2 bootstrap replicates had both classes")
        cis = [_percentile(rows[:, j], level) for j in range(4)]
        res["method"] = method + "; " + _boot_method(stratified, n_boot, seed) + (
            f"; {_dropped_note(int((~ok).sum()), n_boot)}" if (~ok).any() else "")
        return YoudenResult(**res, level=level, threshold_ci=cis[0], sensitivity_ci=cis[1],
                            specificity_ci=cis[2], j_ci=cis[3], n_boot=n_boot, seed=seed)

    def _boot_youden(self, n_boot: int, seed: int | None, stratified: bool) -> np.ndarray:
        """(n_boot, 4): threshold, sensitivity, specificity, J of each replicate's best cut."""
        groups = _Groups.of(self._x, self._y)
        k = groups.k
        rng = np.random.default_rng(seed)
        m, n = self.n_cases, self.n_controls
        idx = np.arange(k)
        out = []
        for b in _chunks(n_boot, m + n + 8 * k):
            d, c = _counts_from_draws(groups, _boot_draws(rng, b, m, n, stratified))
            mb = d.sum(axis=1)
            nb = c.sum(axis=1)
            zero = np.zeros((b, 1), dtype=np.int64)
            fn = np.concatenate([zero, np.cumsum(d, axis=1)], axis=1)
            tn = np.concatenate([zero, np.cumsum(c, axis=1)], axis=1)
            tp = mb[:, None] - fn
            crit = tp * nb[:, None] + tn * mb[:, None]
            cut = np.argmax(crit, axis=1)  # first maximum = highest sensitivity
            rows = np.arange(b)
            present = (d + c) > 0
            below = np.maximum.accumulate(np.where(present, idx, -1), axis=1)
            above = np.minimum.accumulate(np.where(present, idx, k)[:, ::-1], axis=1)[:, ::-1]
            below = np.concatenate([np.full((b, 1), -1), below], axis=1)[rows, cut]
            above = np.concatenate([above, np.full((b, 1), k)], axis=1)[rows, cut]
            lo = np.where(below >= 0, groups.values[np.clip(below, 0, k - 1)], -np.inf)
            hi = np.where(above < k, groups.values[np.clip(above, 0, k - 1)], np.inf)
            thr = _to_raw(_proc_thresholds(lo, hi), self.direction)
            with np.errstate(invalid="ignore", divide="ignore"):
                sens = tp[rows, cut] / mb
                spec = tn[rows, cut] / nb
            valid = (mb > 0) & (nb > 0)
            block = np.column_stack([thr, sens, spec, sens + spec - 1.0])
            block[~valid] = np.nan
            out.append(block)
        return np.concatenate(out)


def roc(y_true: ArrayLike, score: ArrayLike, *, positive: Any = None,
        direction: Direction = "auto", level: float = 0.95) -> Roc:
    """Build the empirical ROC curve of ``score`` against ``y_true``.

    Parameters
    ----------
    y_true : array-like
        True class: bool, 0/1 or two labels.
    score : array-like of float
        Test result (e.g. SUVmax). NaN or ±Inf raise.
    positive : object, optional
        Label of the cases. Default: 1 (or ``True``) when the labels are 0/1 or False/True;
        any other labels (e.g. 1/2, strings) must name the case explicitly, so a 1/2 coding
        is never read the wrong way round.
    direction : {"auto", "<", ">"}
        ``"<"``: higher score = positive; ``">"``: lower score = positive; ``"auto"``: pROC's
        rule, ``"<"`` if median(controls) <= median(cases), else ``">"``.
    level : float
        Default confidence level of the CIs.

    Returns
    -------
    Roc

    Raises
    ------
    ValueError
        NaN or infinite scores (with their count), a single class (with the counts), more
        than two labels, ``positive`` not among the labels, mismatched lengths.
    """
    level = _check_level(level)
    s = _scores(score, "score")
    is_case = _is_case(y_true, positive, s.size)
    cases, controls = s[is_case], s[~is_case]
    cases.setflags(write=False)
    controls.setflags(write=False)
    rk = _ranks(cases, controls)
    used, rule = _direction(rk, direction)
    v10, v01, auc = _placements(rk, used)
    r = Roc(auc=auc, n_cases=cases.size, n_controls=controls.size, direction=used,
            direction_rule=rule, positive=1 if positive is None else positive, level=level,
            cases=cases,
            controls=controls)
    r.__dict__["_ranks"], r.__dict__["_delong"] = rk, (v10, v01)  # pre-fill the caches
    return r


# ---------------------------------------------------------------------------------------------
# Comparing two AUCs
# ---------------------------------------------------------------------------------------------
def _direction_note(ra: Roc, rb: Roc) -> str:
    if ra.direction == rb.direction:
        return ""
    return (f"the curves have different directions ({ra.direction!r} and {rb.direction!r}); "
            "pROC warns that DeLong's test should not be applied to them")


def compare_auc(y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike, *,
                method: Literal["delong", "bootstrap"] = "delong", n_boot: int = 2000,
                seed: int | None = None, paired: bool = True, stratified: bool = True,
                level: float = 0.95, positive: Any = None, direction: Direction = "auto",
                y_true_b: ArrayLike | None = None) -> AucComparison:
    """Compare the AUCs of two scores: difference A - B, its CI and a two-sided test.

    Parameters
    ----------
    y_true : array-like
        True class of the observations of ``score_a`` (and of ``score_b`` when paired).
    score_a, score_b : array-like of float
        The two scores. Paired: the same observations, in the same order.
    method : {"delong", "bootstrap"}
        DeLong (pROC ``roc.test(method="delong")``) or bootstrap (pROC
        ``roc.test(method="bootstrap")``: D = difference / sd of the bootstrap differences,
        normal p; CI from the percentiles of the differences).
    n_boot : int
        Bootstrap replicates.
    seed : int, optional
        Seed of the bootstrap.
    paired : bool
        Paired (correlated) curves — the same patients with both tests — or unpaired.
    stratified : bool
        Bootstrap: resample cases and controls separately (pROC's default).
    level : float
        Confidence level of the CI of the difference.
    positive : object
        Case label.
    direction : {"auto", "<", ">"}
        Applied to each score separately (``"auto"``: pROC's rule per score).
    y_true_b : array-like, optional
        Unpaired only: the classes of ``score_b`` when it comes from other patients.

    Returns
    -------
    AucComparison

    Raises
    ------
    ValueError
        Invalid input (see :func:`roc`), paired with ``y_true_b``, mismatched lengths, or
        fewer than 2 cases or 2 controls.
    """
    level = _check_level(level)
    if paired and y_true_b is not None:
        raise ValueError("y_true_b is for unpaired data; use paired=False")
    ra = roc(y_true, score_a, positive=positive, direction=direction, level=level)
    rb = roc(y_true if y_true_b is None else y_true_b, score_b, positive=positive,
             direction=direction, level=level)
    for r in (ra, rb):
        r._need_two_per_class("Comparing AUCs")
    d = ra.auc - rb.auc
    notes = [_direction_note(ra, rb)]
    if method == "delong":
        if paired:
            res = _delong_paired(ra, rb, level)
        else:
            res = _delong_unpaired(ra, rb, level)
        notes.append(res.pop("note"))
        return AucComparison(ra.auc, rb.auc, d, direction_a=ra.direction,
                             direction_b=rb.direction, level=level,
                             note="; ".join(n for n in notes if n), **res)
    if method == "bootstrap":
        n_boot = _check_boot(n_boot)
        diffs = _boot_diffs(ra, rb, n_boot, seed, paired, stratified)
        ok = diffs[np.isfinite(diffs)]
        if ok.size < 2:
            raise ValueError("fewer than 2 bootstrap replicates had both classes")
        sd = float(np.std(ok, ddof=1))
        if sd == 0.0 and d == 0.0:
            z = 0.0
        else:
            with np.errstate(divide="ignore"):
                z = float(np.float64(d) / sd)
        p = float(2.0 * stats.norm.sf(abs(z)))
        lower, upper = _percentile(ok, level)
        kind = "paired" if paired else "unpaired"
        notes.append(_dropped_note(n_boot - ok.size, n_boot))
        return AucComparison(
            ra.auc, rb.auc, d, lower, upper, z, p,
            f"bootstrap test ({kind}) as pROC roc.test: D = difference / sd of the bootstrap "
            f"differences, two-sided normal p; CI: {_boot_method(stratified, n_boot, seed)}",
            level, sd, n_boot=n_boot, seed=seed, direction_a=ra.direction,
            direction_b=rb.direction, note="; ".join(n for n in notes if n))
    raise ValueError(f"method must be 'delong' or 'bootstrap', got {method!r}")


def _delong_paired(ra: Roc, rb: Roc, level: float) -> dict[str, Any]:
    m, n = ra.n_cases, ra.n_controls
    xa, ya = ra._delong
    xb, yb = rb._delong
    ea, eb = xa - ra.auc, xb - rb.auc
    fa, fb = ya - ra.auc, yb - rb.auc
    sx = np.array([[ea @ ea, ea @ eb], [eb @ ea, eb @ eb]]) / (m - 1)
    sy = np.array([[fa @ fa, fa @ fb], [fb @ fa, fb @ fb]]) / (n - 1)
    s = sx / m + sy / n
    var = (s[0, 0] - s[1, 0]) - (s[0, 1] - s[1, 1])  # L S L' with L = (1, -1), pROC's order
    sig = math.sqrt(max(float(var), 0.0))
    d = ra.auc - rb.auc
    note = ""
    if sig == 0.0:
        if d == 0.0:
            z = 0.0
            note = "standard error of the difference is 0 and the AUCs are equal: Z = 0 (pROC)"
        else:
            z = math.copysign(math.inf, d)
            note = "standard error of the difference is 0: Z is infinite (pROC gives the same)"
    else:
        z = d / sig
    crit = _z(level)
    return dict(lower=d - crit * sig, upper=d + crit * sig, z=z,
                p=float(2.0 * stats.norm.cdf(-abs(z))),
                method="DeLong test for two correlated (paired) ROC curves (pROC roc.test), "
                       "Wald CI of the difference",
                se=sig, note=note)


def _delong_unpaired(ra: Roc, rb: Roc, level: float) -> dict[str, Any]:
    sr, ss = ra.delong_variance(), rb.delong_variance()
    ntr, nts = ra.n_cases + ra.n_controls, rb.n_cases + rb.n_controls
    se = math.sqrt(sr + ss)
    d = ra.auc - rb.auc
    if se == 0.0:
        raise ValueError("both DeLong variances are 0: the unpaired test is undefined")
    t = d / se
    df = (sr + ss) ** 2 / (sr**2 / (ntr - 1) + ss**2 / (nts - 1))
    crit = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, df))
    return dict(lower=d - crit * se, upper=d + crit * se, z=t,
                p=float(2.0 * stats.t.cdf(-abs(t), df)), df=float(df),
                method="DeLong test for two unpaired ROC curves (pROC roc.test, paired=FALSE): "
                       "Welch-type t with Satterthwaite df; CI d ± t(df)·se",
                se=se, note="")


def _boot_diffs(ra: Roc, rb: Roc, n_boot: int, seed: int | None, paired: bool,
                stratified: bool) -> np.ndarray:
    ga, gb = _Groups.of(ra._x, ra._y), _Groups.of(rb._x, rb._y)
    rng = np.random.default_rng(seed)
    ma, na, mb, nb = ra.n_cases, ra.n_controls, rb.n_cases, rb.n_controls
    per = ma + na + mb + nb + 3 * (ga.k + gb.k)
    out = []
    for b in _chunks(n_boot, per):
        draws_a = _boot_draws(rng, b, ma, na, stratified)
        draws_b = draws_a if paired else _boot_draws(rng, b, mb, nb, stratified)
        auc_a = _auc_from_counts(*_counts_from_draws(ga, draws_a))
        auc_b = _auc_from_counts(*_counts_from_draws(gb, draws_b))
        out.append(auc_a - auc_b)
    return np.concatenate(out)


# ---------------------------------------------------------------------------------------------
# Clustered data (Obuchowski 1997)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _ClusterTerms:
    auc: float
    a: np.ndarray  # per cluster: V10_i - m_i θ
    b: np.ndarray  # per cluster: V01_i - n_i θ
    m_total: int
    n_total: int
    i10: int
    i01: int
    k: int
    direction: str


def _cluster_codes(cluster: ArrayLike, n: int) -> tuple[np.ndarray, int]:
    c = _as_1d(cluster, "cluster")
    if c.size != n:
        raise ValueError(f"cluster has {c.size} values but the score has {n}")
    if pd.isna(c).any():
        raise ValueError(f"cluster has {int(pd.isna(c).sum())} missing value(s)")
    codes, uniques = pd.factorize(c)
    return codes, len(uniques)


def _cluster_terms(y_true: ArrayLike, score: ArrayLike, codes: np.ndarray, k: int,
                   positive: Any, direction: Direction) -> _ClusterTerms:
    r = roc(y_true, score, positive=positive, direction=direction)
    s = _scores(score, "score")
    is_case = _is_case(y_true, positive, s.size)
    v10, v01 = r._delong
    cc, cn = codes[is_case], codes[~is_case]
    m_i = np.bincount(cc, minlength=k)
    n_i = np.bincount(cn, minlength=k)
    v10_i = np.bincount(cc, weights=v10, minlength=k)
    v01_i = np.bincount(cn, weights=v01, minlength=k)
    i10, i01 = int((m_i > 0).sum()), int((n_i > 0).sum())
    if i10 < 2 or i01 < 2:
        raise ValueError(
            f"Obuchowski's variance needs at least 2 clusters with a case and 2 with a "
            f"control; got {i10} and {i01} of {k} clusters")
    return _ClusterTerms(r.auc, v10_i - m_i * r.auc, v01_i - n_i * r.auc, r.n_cases,
                         r.n_controls, i10, i01, k, r.direction)


def _obuchowski_cov(s: _ClusterTerms, t: _ClusterTerms) -> float:
    """Obuchowski's (co)variance of two AUCs on the same clustered units."""
    mm, nn, k = s.m_total, s.n_total, s.k
    s10 = s.i10 / ((s.i10 - 1) * mm) * float(s.a @ t.a)
    s01 = s.i01 / ((s.i01 - 1) * nn) * float(s.b @ t.b)
    s11 = k / (k - 1) * float(s.a @ t.b)
    s11t = k / (k - 1) * float(t.a @ s.b)
    return s10 / mm + s01 / nn + (s11 + s11t) / (mm * nn)


_OBUCHOWSKI = ("Obuchowski (1997) nonparametric clustered AUC: cluster sums of DeLong "
               "components, factors I10/(I10-1), I01/(I01-1), I/(I-1)")


def clustered_auc(y_true: ArrayLike, score: ArrayLike, cluster: ArrayLike, *,
                  level: float = 0.95, positive: Any = None,
                  direction: Direction = "auto") -> AucCI:
    """AUC of clustered data (several lesions per patient) with Obuchowski's (1997) CI.

    Parameters
    ----------
    y_true : array-like
        True class of each unit (lesion).
    score : array-like of float
        Test result of each unit.
    cluster : array-like
        Cluster (patient) of each unit; any hashable labels.
    level : float
        Confidence level.
    positive : object
        Case label.
    direction : {"auto", "<", ">"}
        As :func:`roc` (``"auto"`` decided on the units).

    Returns
    -------
    AucCI
        Wald interval θ ± z·se clipped to [0, 1]; ``n_clusters`` set. With one unit per
        cluster the variance equals DeLong's exactly.

    Raises
    ------
    ValueError
        Invalid input, or fewer than 2 clusters holding a case or a control.
    """
    level = _check_level(level)
    s = _scores(score, "score")
    codes, k = _cluster_codes(cluster, s.size)
    t = _cluster_terms(y_true, s, codes, k, positive, direction)
    var = _obuchowski_cov(t, t)
    if var < 0.0:
        raise ValueError(f"Obuchowski variance is negative ({var:.3g}); the data are too few")
    se = math.sqrt(var)
    z = _z(level)
    note = "" if se > 0.0 else "variance is 0: the interval is degenerate"
    return AucCI(t.auc, min(max(t.auc - z * se, 0.0), 1.0), min(max(t.auc + z * se, 0.0), 1.0),
                 se, f"{_OBUCHOWSKI}; Wald interval clipped to [0, 1]; direction "
                     f"{t.direction!r}", level, n_clusters=k, note=note)


def compare_clustered_auc(y_true: ArrayLike, score_a: ArrayLike, score_b: ArrayLike,
                          cluster: ArrayLike, *, level: float = 0.95, positive: Any = None,
                          direction: Direction = "auto") -> AucComparison:
    """Paired comparison of two AUCs on clustered data (Obuchowski 1997 covariance).

    Parameters
    ----------
    y_true : array-like
        True class of each unit.
    score_a, score_b : array-like of float
        The two tests' results on the same units.
    cluster : array-like
        Cluster (patient) of each unit.
    level : float
        Confidence level of the CI of the difference.
    positive : object
        Case label.
    direction : {"auto", "<", ">"}
        Applied to each score separately.

    Returns
    -------
    AucComparison
        Difference A - B, Wald CI, Z = difference / se and its two-sided normal p. With one
        unit per cluster it equals the paired DeLong test.
    """
    level = _check_level(level)
    sa, sb = _scores(score_a, "score_a"), _scores(score_b, "score_b")
    if sa.size != sb.size:
        raise ValueError(f"score_a has {sa.size} values and score_b {sb.size}")
    codes, k = _cluster_codes(cluster, sa.size)
    ta = _cluster_terms(y_true, sa, codes, k, positive, direction)
    tb = _cluster_terms(y_true, sb, codes, k, positive, direction)
    var = _obuchowski_cov(ta, ta) + _obuchowski_cov(tb, tb) - 2.0 * _obuchowski_cov(ta, tb)
    se = math.sqrt(max(var, 0.0))
    d = ta.auc - tb.auc
    note = ""
    if ta.direction != tb.direction:
        note = f"the curves have different directions ({ta.direction!r}, {tb.direction!r})"
    if se == 0.0:
        z = 0.0 if d == 0.0 else math.copysign(math.inf, d)
        note = "; ".join(x for x in (note, "standard error of the difference is 0") if x)
    else:
        z = d / se
    crit = _z(level)
    return AucComparison(ta.auc, tb.auc, d, d - crit * se, d + crit * se, z,
                         float(2.0 * stats.norm.cdf(-abs(z))),
                         f"{_OBUCHOWSKI}; paired, Wald CI of the difference", level, se,
                         direction_a=ta.direction, direction_b=tb.direction, note=note)
