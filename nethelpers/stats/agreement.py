"""Agreement between two readings: Cohen's kappa, intraclass correlation, Bland-Altman.

Used for PET/MR versus PET/CT (detection calls, Krenning scores, SUVs) and reader versus
reader. Every function names its method in its result; the reference numbers are R's
(``tests/reference/agreement_reference.R``), reproduced to 1e-10 or better unless stated.

Cohen's kappa (:func:`cohen_kappa`)
-----------------------------------
Unweighted kappa (Cohen 1960) or weighted kappa (Cohen 1968) of two raters on a common,
ordered set of K categories. Categories are taken in the order given by ``categories``
(default: the sorted union of the observed values); categories that neither rater used still
count: they occupy a position in the weights. With an unused middle category (e.g. Krenning
grade 1 on a 0-4 scale) the weighted kappa changes when the category set is given (tested).

*Weights* are agreement weights on category positions i, j = 0..K-1 (equally spaced, whatever
the category labels are):

- ``"quadratic"``: w = 1 - (i - j)² / (K - 1)² (Fleiss & Cohen 1973). This is what
  ``psych::cohen.kappa`` reports as ``weighted.kappa`` when no weight matrix is given.
- ``"linear"``: w = 1 - |i - j| / (K - 1) (Cicchetti & Allison 1971), psych's
  ``cohen.kappa(x, w = 1 - abs(outer(1:K, 1:K, "-")) / (K - 1))``.

kappa_w = (po_w - pe_w) / (1 - pe_w) with po_w = Σ w_ij p_ij and pe_w = Σ w_ij p_i. p_.j;
unweighted kappa is the special case w = identity. The estimate is computed by statsmodels
``cohens_kappa`` and equals psych's ``kappa`` / ``weighted.kappa`` (to 1e-12, tested).

*Standard error*: the large-sample (non-null) variance of Fleiss, Cohen & Everitt (1969),
as statsmodels computes it; the CI is the Wald interval kappa ± z·SE, clipped to [-1, 1] as
psych clips it (``note`` says when). For unweighted kappa this equals psych::cohen.kappa's
``var.kappa`` and ``confid`` exactly. For weighted kappa, psych 2.2.9 does **not** compute
the Fleiss-Cohen-Everitt variance: its ``roww <- rowSums(w * rs)`` multiplies row i of the
weights by that row's own marginal instead of averaging the weights over the row marginals
(Σ_i p_i. w_ij), and on the Krenning reference data its ``var.weighted`` comes out negative,
is set to 0, and its weighted CI collapses to the point estimate. We keep the textbook
formula; the R reference script checks it against an independent base-R implementation,
and the tests record psych's deviation so that a future psych fix is noticed.

*Undefined kappa*: when both raters put every subject in one and the same category, chance
agreement is 1 and kappa = 0/0. The result then has ``kappa``, ``se``, ``lower`` and
``upper`` NaN and a ``note`` that says why (observed agreement is 1); no exception, so that a
table of kappas over subgroups can still be built. (psych returns NA with a message.)

*Weighting by name*: ``weighting="unweighted" | "linear" | "quadratic"`` is the same choice
as ``weights`` and is returned as ``KappaResult.weighting``, so a table can state it.

*Clustered subjects* (lesions within patients): ``cluster=`` gives each subject's patient;
``se``, ``lower`` and ``upper`` then come from a cluster bootstrap percentile interval
(:mod:`nethelpers.stats.clusterboot`: patients resampled with all their lesions, seeded,
quantile type 7) and ``ci_method`` says so. The estimate does not change. :func:`icc` takes
the same ``cluster=`` and replaces its F-based bounds the same way (F and p stay the ANOVA
ones, which assume independent targets).

Intraclass correlation (:func:`icc`)
-----------------------------------
The six forms of Shrout & Fleiss (1979) from the two-way ANOVA mean squares of an n × k table
(n targets rated by each of k raters), with the names of McGraw & Wong (1996):

========  ===========  ==========  ==============  ===================  =======
psych     S&F 1979     M&W 1996    model           definition           unit
========  ===========  ==========  ==============  ===================  =======
ICC1      ICC(1,1)     ICC(1)      one-way random  absolute agreement   single
ICC2      ICC(2,1)     ICC(A,1)    two-way random  absolute agreement   single
ICC3      ICC(3,1)     ICC(C,1)    two-way mixed   consistency          single
ICC1k     ICC(1,k)     ICC(k)      one-way random  absolute agreement   average
ICC2k     ICC(2,k)     ICC(A,k)    two-way random  absolute agreement   average
ICC3k     ICC(3,k)     ICC(C,k)    two-way mixed   consistency          average
========  ===========  ==========  ==============  ===================  =======

(McGraw & Wong compute ICC(A,1) the same way under the random and the mixed two-way model,
and ICC(C,1) likewise; the model column gives Shrout & Fleiss' cases 1-3.) With MSR (targets),
MSW (within targets), MSC (raters), MSE (residual): ICC(1,1) = (MSR - MSW)/(MSR + (k-1)MSW),
ICC(2,1) = (MSR - MSE)/(MSR + (k-1)MSE + k(MSC - MSE)/n), ICC(3,1) = (MSR - MSE)/(MSR +
(k-1)MSE), and the average-measure forms are their Spearman-Brown step-ups. F tests: MSR/MSW
on (n-1, n(k-1)) df for the one-way forms, MSR/MSE on (n-1, (n-1)(k-1)) df otherwise.
Confidence intervals exactly as ``psych::ICC`` computes them: the F-based intervals of Shrout &
Fleiss (1979) for ICC(1,1), ICC(3,1), ICC(1,k), ICC(3,k); for ICC(2,1) the interval with
Satterthwaite's approximate df v (Shrout & Fleiss 1979; McGraw & Wong 1996, Table 7); for
ICC(2,k) the ICC(2,1) bounds stepped up by Spearman-Brown (algebraically the McGraw & Wong
ICC(A,k) bounds with the same F quantiles). Spearman-Brown is not monotone below
-1/(k-1): when the ICC(2,1) lower bound falls there (near-zero or negative ICC with few targets)
psych's ICC(2,k) "lower" bound comes out above the upper one. We report psych's numbers and say
so in the ``note`` column rather than silently changing them.

The reference is ``psych::ICC(x, lmer = FALSE)`` (the ANOVA computation; matched to 1e-12).
psych's default ``lmer = TRUE`` needs lme4 (not installed with R here) and estimates the
variance components by REML: with complete data and non-negative ANOVA variance components
this gives the same mean squares up to the optimiser's tolerance; when the ANOVA estimate of a
component is negative, REML truncates it at 0 and psych's numbers differ from Shrout & Fleiss.
Incomplete targets: ``psych::ICC(x, lmer = FALSE)`` stops with "missing data were found for N
cases" (it does not drop them). Here ``missing="error"`` (the default) raises, naming how many
ratings and targets are incomplete; ``missing="drop"`` drops incomplete targets, which equals
``psych::ICC(na.omit(x), lmer = FALSE)``, and reports them (column ``n_dropped``,
``attrs["dropped_targets"]``).

Bland-Altman (:func:`bland_altman`)
-----------------------------------
Differences d = a - b (or log ratios log(a/b) with ``ratio=True``). bias = mean(d), sd = SD(d)
(n - 1), limits of agreement bias ± z·sd with z = Φ⁻¹((1 + coverage)/2) (1.959964 for 95 %,
not the rounded 1.96 or the 2 of Bland & Altman 1986). CI of the bias: bias ± t(n-1)·sd/√n.
CI of the limits of agreement (``loa_ci``):

- ``"exact"`` (default): Carkeet (2015). A limit θ = μ ± zσ is a normal quantile; with
  T = (θ - d̄)/(s/√n) ~ non-central t(n - 1, ±z√n), the interval is
  d̄ ± s·t'_q(n - 1, z√n)/√n at q = (1 ∓ level)/2. Exact for normal differences.
- ``"approximate"``: Bland & Altman (1986, 1999): SE(limit) ≈ √(3 s²/n), interval
  limit ± t(n-1)·SE. It approximates the variance (1/n + z²/(2(n-1)))·s² and is too
  narrow for small n.

``ratio=True`` analyses log(a) - log(b) (natural logs; a and b must be > 0) and reports the
back-transformed bias (geometric mean ratio a/b), limits and CIs as ratios; ``sd`` stays on the
log scale. Use it when the differences grow with the magnitude, as SUV differences do.
Proportional bias: the ordinary least-squares regression of d on the pair means (a + b)/2
(on the log scale with ``ratio=True``: log ratio on the mean of the logs), slope with its
t-based CI and two-sided p (Bland & Altman 1999, section 3).

Missing values are never dropped silently: NaN in the input raises an error naming the count.

References
----------
Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
clinical measurement. Lancet 1986;i:307-310.
Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat Methods Med Res
1999;8:135-160.
Carkeet A. Exact parametric confidence intervals for Bland-Altman limits of agreement. Optom
Vis Sci 2015;92:e71-e80.
Cicchetti DV, Allison T. A new procedure for assessing reliability of scoring EEG sleep
recordings. Am J EEG Technol 1971;11:101-110.
Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46.
Cohen J. Weighted kappa: nominal scale agreement with provision for scaled disagreement or
partial credit. Psychol Bull 1968;70:213-220.
Fleiss JL, Cohen J. The equivalence of weighted kappa and the intraclass correlation
coefficient as measures of reliability. Educ Psychol Meas 1973;33:613-619.
Fleiss JL, Cohen J, Everitt BS. Large sample standard errors of kappa and weighted kappa.
Psychol Bull 1969;72:323-327.
McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients.
Psychol Methods 1996;1:30-46.
Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol
Bull 1979;86:420-428.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as _sm_cohens_kappa

from nethelpers.stats.clusterboot import (
    boot_method,
    cluster_codes,
    cluster_draws,
    icc_replicates,
    kappa_replicates,
    percentile_ci,
)
from nethelpers.stats.paired import paired_arrays

__all__ = [
    "ICC_FORMS",
    "BlandAltmanResult",
    "KappaResult",
    "bland_altman",
    "cohen_kappa",
    "icc",
]

KappaWeights = Literal["linear", "quadratic"]
Weighting = Literal["unweighted", "linear", "quadratic"]


def _check_level(level: float, name: str = "level") -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {level!r}")
    return level


def _z(level: float) -> float:
    """Two-sided standard-normal quantile Φ⁻¹((1 + level)/2)."""
    return float(stats.norm.ppf(0.5 + level / 2.0))


# ------------------------------------------------------------------------------------------
# Cohen's kappa
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KappaResult:
    """Cohen's (weighted) kappa with its large-sample CI.

    Attributes
    ----------
    kappa : float
        Kappa (weighted if ``weights`` is not ``"unweighted"``); NaN only when undefined (see
        ``note``).
    se : float
        Fleiss-Cohen-Everitt (1969) large-sample standard error.
    lower, upper : float
        Wald CI at ``level``, clipped to [-1, 1].
    n : int
        Number of rated subjects (pairs of ratings).
    weights : str
        ``"unweighted"``, ``"linear"`` or ``"quadratic"``.
    method : str
        Full description of estimator, weights, SE and CI.
    level : float
        Confidence level.
    categories : tuple
        The ordered category set the table and the weights use.
    observed_agreement : float
        Proportion of subjects with identical ratings (unweighted).
    table : pandas.DataFrame
        K × K table of counts, rows rater a, columns rater b.
    note : str
        Why kappa is undefined or the CI was clipped; empty otherwise.
    ci_method : str
        ``"Wald (Fleiss-Cohen-Everitt 1969 SE)"`` or the cluster bootstrap's description.
    n_clusters, n_boot, seed : int or None
        Clusters, replicates and seed of the cluster bootstrap (None without ``cluster``).

    ``weighting`` (property) is ``weights``: ``"unweighted"``, ``"linear"`` or
    ``"quadratic"``.
    """

    kappa: float
    se: float
    lower: float
    upper: float
    n: int
    weights: str
    method: str
    level: float
    categories: tuple
    observed_agreement: float
    table: pd.DataFrame = field(compare=False, repr=False)
    note: str = ""
    ci_method: str = "Wald (Fleiss-Cohen-Everitt 1969 SE)"
    n_clusters: int | None = None
    n_boot: int | None = None
    seed: int | None = None

    @property
    def weighting(self) -> str:
        """The weighting, in words a methods section quotes (same as ``weights``)."""
        return self.weights


def _ratings(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)


def cohen_kappa(
    rater_a: Sequence[Hashable] | np.ndarray | pd.Series,
    rater_b: Sequence[Hashable] | np.ndarray | pd.Series,
    *,
    weights: KappaWeights | None = None,
    categories: Sequence[Hashable] | None = None,
    level: float = 0.95,
    weighting: Weighting | None = None,
    cluster: Sequence[Hashable] | np.ndarray | pd.Series | None = None,
    n_boot: int = 2000,
    seed: int | None = None,
) -> KappaResult:
    """Cohen's kappa (unweighted, linear or quadratic weights) of two raters, R psych-compatible.

    Parameters
    ----------
    rater_a, rater_b : sequence
        Ratings of the same subjects by the two raters (numbers or labels), in the same order.
    weights : {None, "linear", "quadratic"}
        None: unweighted kappa. ``"quadratic"`` is psych::cohen.kappa's ``weighted.kappa``
        (default weights); ``"linear"`` uses 1 - |i - j|/(K - 1). Weights use category
        *positions* in ``categories`` (equal spacing).
    categories : sequence, optional
        The full ordered category set, e.g. ``range(5)`` for Krenning 0-4. Categories that no
        rater used still count in the weights. Default: the categories of a pandas
        Categorical input, else the sorted union of the observed values (psych's default);
        for weighted kappa of non-numeric labels give it explicitly.
    level : float
        Confidence level of the Wald interval.
    weighting : {"unweighted", "linear", "quadratic"}, optional
        The weighting by name (what a methods section states); the same as ``weights``
        (``"unweighted"`` = None). Give one of the two; both must agree if both are given.
    cluster : sequence, optional
        The cluster (patient) of each subject (lesion). When given, ``se``, ``lower`` and
        ``upper`` come from a cluster bootstrap (:mod:`nethelpers.stats.clusterboot`)
        instead of the Wald interval, which assumes independent subjects.
    n_boot : int
        Bootstrap replicates (with ``cluster``).
    seed : int, optional
        Seed of the bootstrap (the project's ``stats.seed``).

    Returns
    -------
    KappaResult
        See the module docstring for the conventions (SE, clipping, undefined kappa).

    Raises
    ------
    ValueError
        Unequal lengths, missing ratings (the count is named), fewer than 2 subjects, ratings
        that mix numbers and text, ratings outside ``categories``, duplicated categories,
        unknown ``weights``, or weighted kappa of unordered labels without ``categories``.
    """
    level = _check_level(level)
    weights = _resolve_weighting(weights, weighting)
    a = _ratings(rater_a, "rater_a")
    b = _ratings(rater_b, "rater_b")
    if a.size != b.size:
        raise ValueError(f"rater_a and rater_b differ in length ({a.size} vs {b.size})")
    miss_a = pd.isna(a)
    miss_b = pd.isna(b)
    n_missing = int(np.sum(miss_a | miss_b))
    if n_missing:
        raise ValueError(
            f"{n_missing} of {a.size} subjects have a missing rating (rater_a: "
            f"{int(miss_a.sum())}, rater_b: {int(miss_b.sum())}); kappa needs complete pairs: "
            "drop those subjects explicitly and report how many were dropped"
        )
    n = int(a.size)
    if n < 2:
        raise ValueError(f"kappa needs at least 2 rated subjects, got {n}")
    kinds = {("number" if _is_number(v) else type(v).__name__) for v in (*a.tolist(),
                                                                           *b.tolist())}
    if len(kinds) > 1:
        raise ValueError(
            f"the ratings mix types ({', '.join(sorted(kinds))}): 2 and '2' would count as "
            "different categories; convert both raters' columns to one type first")
    if categories is None:
        declared = [list(v.dtype.categories) for v in (rater_a, rater_b)
                    if isinstance(getattr(v, "dtype", None), pd.CategoricalDtype)]
        if declared:                       # a pandas Categorical declares its category set
            if any(d != declared[0] for d in declared):
                raise ValueError("rater_a and rater_b are categoricals with different "
                                 "categories; give categories=[...] explicitly")
            categories = declared[0]

    if categories is None:
        observed = list(dict.fromkeys([*a.tolist(), *b.tolist()]))
        if all(_is_number(v) for v in observed):
            cats = sorted(observed)
        else:
            if weights is not None:
                raise ValueError(
                    "weighted kappa needs ordered categories: the ratings are not all numbers, "
                    "so pass categories=[...] in their order"
                )
            cats = sorted(observed, key=str)
    else:
        cats = list(categories)
        if len(set(cats)) != len(cats):
            raise ValueError(f"categories contains duplicates: {cats!r}")
    index = {c: i for i, c in enumerate(cats)}
    unknown = sorted({v for v in [*a.tolist(), *b.tolist()] if v not in index}, key=str)
    if unknown:
        raise ValueError(f"ratings not in categories {cats!r}: {unknown!r}")
    k = len(cats)
    ia = np.array([index[v] for v in a], dtype=int)
    ib = np.array([index[v] for v in b], dtype=int)
    counts = np.zeros((k, k), dtype=float)
    np.add.at(counts, (ia, ib), 1.0)
    table = pd.DataFrame(counts.astype(int), index=pd.Index(cats, name="rater_a"),
                         columns=pd.Index(cats, name="rater_b"))
    observed_agreement = float(np.trace(counts) / n)
    wname = "unweighted" if weights is None else weights

    z = _z(level)
    if weights is None:
        desc = "Cohen's kappa (unweighted)"
    elif weights == "quadratic":
        desc = (f"Cohen's weighted kappa, quadratic agreement weights 1-(i-j)^2/(K-1)^2 "
                f"(Fleiss-Cohen; psych::cohen.kappa default) on K={k} ordered categories")
    else:
        desc = (f"Cohen's weighted kappa, linear agreement weights 1-|i-j|/(K-1) "
                f"(Cicchetti-Allison) on K={k} ordered categories")
    method = (f"{desc}; SE: Fleiss, Cohen & Everitt (1969) large-sample; "
              f"{100 * level:g}% Wald CI clipped to [-1, 1]")

    rows = counts.sum(axis=1) / n
    cols = counts.sum(axis=0) / n
    if float(np.dot(rows, cols)) >= 1.0:
        used = cats[int(ia[0])]
        note = (f"kappa undefined: both raters rated all {n} subjects {used!r} (one category), "
                "so chance agreement is 1 and kappa = 0/0; observed agreement is 1")
        nan = float("nan")
        return KappaResult(nan, nan, nan, nan, n, wname, method, level, tuple(cats),
                           observed_agreement, table, note)

    # statsmodels also computes sqrt(var) and z = kappa / se0, which warn at perfect agreement
    with np.errstate(invalid="ignore", divide="ignore"):
        if weights is None:
            res = _sm_cohens_kappa(counts)
        else:
            res = _sm_cohens_kappa(counts, weights=np.arange(k, dtype=float), wt=weights)
    kappa = float(res.kappa)
    var = float(res.var_kappa)
    # The FCE variance is Σ p A² - (Σ p A)² >= 0; rounding can leave -1e-18 at perfect agreement.
    if var < 0.0:
        var = 0.0
    se = math.sqrt(var)
    if cluster is not None:
        wmat = (np.eye(k) if weights is None else
                _agreement_weights(k, weights))
        codes, g = cluster_codes(cluster, n)
        boot = percentile_ci(kappa_replicates(ia, ib, k, wmat, codes,
                                              cluster_draws(g, n_boot, seed)), level, g)
        ci = boot_method(g, int(n_boot), seed, level)
        method = f"{desc}; {ci}"
        return KappaResult(kappa, boot.se, boot.lower, boot.upper, n, wname, method, level,
                           tuple(cats), observed_agreement, table, boot.note, ci,
                           g, int(n_boot), seed)
    lower, upper = kappa - z * se, kappa + z * se
    notes = []
    if lower < -1.0 or upper > 1.0:
        notes.append(f"CI clipped to [-1, 1] (unclipped {lower:.6g} to {upper:.6g})")
        lower, upper = max(lower, -1.0), min(upper, 1.0)
    return KappaResult(kappa, se, lower, upper, n, wname, method, level, tuple(cats),
                       observed_agreement, table, "; ".join(notes))


def _resolve_weighting(weights: str | None, weighting: str | None) -> KappaWeights | None:
    """One weighting from ``weights`` (None/linear/quadratic) and ``weighting`` (by name)."""
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', got {weights!r}")
    if weighting is None:
        return weights
    if weighting not in ("unweighted", "linear", "quadratic"):
        raise ValueError("weighting must be 'unweighted', 'linear' or 'quadratic', got "
                         f"{weighting!r}")
    named = None if weighting == "unweighted" else weighting
    if weights is not None and weights != named:
        raise ValueError(f"weights={weights!r} and weighting={weighting!r} disagree; give one")
    return named


def _agreement_weights(k: int, weights: str) -> np.ndarray:
    """K × K agreement weights on category positions (see the module docstring)."""
    i = np.arange(k, dtype=float)
    d = np.abs(i[:, None] - i[None, :]) / max(k - 1, 1)
    return 1.0 - d**2 if weights == "quadratic" else 1.0 - d


# ------------------------------------------------------------------------------------------
# Intraclass correlation
# ------------------------------------------------------------------------------------------

#: The six forms: psych type, Shrout & Fleiss name, McGraw & Wong name, model, definition, unit.
ICC_FORMS: tuple[tuple[str, str, str, str, str, str], ...] = (
    ("ICC1", "ICC(1,1)", "ICC(1)", "one-way random", "absolute agreement", "single"),
    ("ICC2", "ICC(2,1)", "ICC(A,1)", "two-way random", "absolute agreement", "single"),
    ("ICC3", "ICC(3,1)", "ICC(C,1)", "two-way mixed", "consistency", "single"),
    ("ICC1k", "ICC(1,k)", "ICC(k)", "one-way random", "absolute agreement", "average"),
    ("ICC2k", "ICC(2,k)", "ICC(A,k)", "two-way random", "absolute agreement", "average"),
    ("ICC3k", "ICC(3,k)", "ICC(C,k)", "two-way mixed", "consistency", "average"),
)

_ICC_CI_METHODS = {
    "ICC1": "F-based (Shrout & Fleiss 1979)",
    "ICC2": "F-based with Satterthwaite df (Shrout & Fleiss 1979; McGraw & Wong 1996)",
    "ICC3": "F-based (Shrout & Fleiss 1979)",
    "ICC1k": "F-based (Shrout & Fleiss 1979)",
    "ICC2k": "Spearman-Brown step-up of the ICC(2,1) bounds (Shrout & Fleiss 1979; as psych)",
    "ICC3k": "F-based (Shrout & Fleiss 1979)",
}


def _icc_matrix(
    data: Any, targets: str | None, raters: str | None, ratings: str | None
) -> pd.DataFrame:
    long_args = (targets, raters, ratings)
    if any(v is not None for v in long_args):
        if not all(v is not None for v in long_args):
            raise ValueError("long format needs all of targets=, raters= and ratings=")
        if not isinstance(data, pd.DataFrame):
            raise TypeError("long format (targets=, raters=, ratings=) needs a DataFrame")
        missing_cols = [c for c in long_args if c not in data.columns]
        if missing_cols:
            raise ValueError(f"columns not in data: {missing_cols!r}")
        dup = data.duplicated([targets, raters], keep=False)
        if dup.any():
            raise ValueError(
                f"{int(dup.sum())} rows share a (target, rater) pair with another row; each "
                "target must have at most one rating per rater"
            )
        wide = data.pivot(index=targets, columns=raters, values=ratings)
    elif isinstance(data, pd.DataFrame):
        wide = data.copy()
    else:
        arr = np.asarray(data, dtype=float)
        if arr.ndim != 2:
            raise ValueError(f"data must be a 2-D targets × raters table, got shape {arr.shape}")
        wide = pd.DataFrame(arr)
    try:
        wide = wide.apply(pd.to_numeric)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"ratings must be numeric: {exc}") from exc
    return wide.astype(float)


def icc(
    data: pd.DataFrame | np.ndarray | Sequence[Sequence[float]],
    *,
    targets: str | None = None,
    raters: str | None = None,
    ratings: str | None = None,
    missing: Literal["error", "drop"] = "error",
    level: float = 0.95,
    cluster: str | Sequence[Hashable] | np.ndarray | pd.Series | None = None,
    n_boot: int = 2000,
    seed: int | None = None,
) -> pd.DataFrame:
    """The six Shrout & Fleiss intraclass correlations with F tests and CIs (psych::ICC).

    Parameters
    ----------
    data : DataFrame or array-like
        Wide: one row per target (lesion, patient), one column per rater (reader, modality).
        Long: a DataFrame with the columns named by ``targets``, ``raters`` and ``ratings``
        (a target without a row for some rater counts as a missing rating).
    targets, raters, ratings : str, optional
        Column names for long format (all three or none).
    missing : {"error", "drop"}
        ``"error"``: raise if any rating is missing (NaN), naming how many ratings and
        targets. ``"drop"``: drop targets with a missing rating (= psych::ICC(na.omit(x))) and
        report them in ``n_dropped`` and ``attrs["dropped_targets"]``.
    level : float
        Confidence level (psych's ``1 - alpha``).
    cluster : str or sequence, optional
        The cluster (patient) of each target: one label per row of wide data, or (long
        format) the name of a column constant within each target. When given, ``lower`` and
        ``upper`` are cluster bootstrap percentile intervals (:mod:`nethelpers.stats.
        clusterboot`; ``ci_method`` says so, column ``n_clusters``); F and p stay the ANOVA
        ones, which assume independent targets.
    n_boot : int
        Bootstrap replicates (with ``cluster``).
    seed : int, optional
        Seed of the bootstrap (the project's ``stats.seed``).

    Returns
    -------
    pandas.DataFrame
        One row per form in the order ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k, with columns
        ``type`` (psych), ``shrout_fleiss``, ``mcgraw_wong``, ``model``, ``definition``,
        ``unit``, ``icc``, ``F``, ``df1``, ``df2``, ``p``, ``lower``, ``upper``, ``level``,
        ``ci_method``, ``n_targets``, ``n_raters``, ``n_dropped``, ``note`` (empty unless the
        interval is degenerate, see the module docstring). ``attrs`` holds ``anova`` (mean
        squares), ``dropped_targets`` and ``method``.

    Raises
    ------
    ValueError
        Missing ratings with ``missing="error"``, fewer than 2 targets or raters, non-finite
        or non-numeric ratings, duplicated (target, rater) rows, no residual variation
        (MSE = 0, e.g. perfect agreement: the F statistics are infinite and the F-based CIs
        undefined) or no variation between targets (MSR = 0: the average-measure ICCs are
        -infinite).
    """
    level = _check_level(level)
    if missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {missing!r}")
    wide = _icc_matrix(data, targets, raters, ratings)
    groups = None if cluster is None else _target_clusters(data, wide, targets, cluster)
    values = wide.to_numpy(dtype=float)
    if np.isinf(values).any():
        raise ValueError(f"{int(np.isinf(values).sum())} ratings are infinite")
    nan_cells = np.isnan(values)
    incomplete = nan_cells.any(axis=1)
    dropped: list = []
    if incomplete.any():
        msg = (f"{int(nan_cells.sum())} missing rating(s) in {int(incomplete.sum())} of "
               f"{values.shape[0]} targets")
        if missing == "error":
            raise ValueError(
                f"{msg}: pass missing='drop' to drop the incomplete targets (psych::ICC(x, "
                "lmer=FALSE) stops here too; psych::ICC(na.omit(x), lmer=FALSE) drops them)"
            )
        dropped = list(wide.index[incomplete])
        values = values[~incomplete]
        groups = None if groups is None else groups[~incomplete]
    n, k = values.shape
    if n < 2:
        raise ValueError(f"ICC needs at least 2 complete targets, got {n}")
    if k < 2:
        raise ValueError(f"ICC needs at least 2 raters, got {k}")

    grand = values.mean()
    centred = values - grand
    row_means = centred.mean(axis=1)
    col_means = centred.mean(axis=0)
    ss_total = float(np.sum(centred**2))
    ss_rows = float(k * np.sum(row_means**2))
    ss_cols = float(n * np.sum(col_means**2))
    resid = centred - row_means[:, None] - col_means[None, :]
    ss_err = float(np.sum(resid**2))
    if ss_total == 0.0 or ss_err <= 1e-20 * ss_total:
        raise ValueError(
            "no residual variation (MSE = 0): the raters agree perfectly or differ only by "
            "constant offsets; the ICC F statistics are infinite and the F-based CIs undefined"
        )
    if ss_rows <= 1e-20 * ss_total:
        raise ValueError(
            "no variation between targets (MSR = 0): every target has the same mean rating, "
            "the average-measure ICCs are -infinite and the F statistics 0"
        )
    df_r, df_c, df_e, df_w = n - 1, k - 1, (n - 1) * (k - 1), n * (k - 1)
    # numpy scalars: the step-up at ICC(2,1) = -1/(k-1) divides by 0 -> inf, flagged in ``note``
    msr = np.float64(ss_rows / df_r)
    msc = np.float64(ss_cols / df_c)
    mse = np.float64(ss_err / df_e)
    msw = np.float64((ss_cols + ss_err) / df_w)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = _icc_table(n, k, msr, msc, mse, msw, level, dropped,
                         (ss_rows, ss_cols, ss_err), (df_r, df_c, df_e, df_w))
    if groups is not None:
        out = _icc_cluster_ci(out, values, groups, level, n_boot, seed)
    return out


def _target_clusters(data: Any, wide: pd.DataFrame, targets: str | None,
                     cluster: Any) -> np.ndarray:
    """The cluster label of each row of ``wide``."""
    if isinstance(cluster, str):
        if targets is None or not isinstance(data, pd.DataFrame) or cluster not in data:
            raise ValueError("cluster given by column name needs long format data with that "
                             "column")
        per_target = data.groupby(targets)[cluster].nunique(dropna=False)
        if (per_target > 1).any():
            raise ValueError(f"{int((per_target > 1).sum())} target(s) have more than one "
                             f"{cluster!r}; a target (lesion) belongs to one cluster")
        return (data.drop_duplicates(targets).set_index(targets)[cluster]
                .reindex(wide.index).to_numpy(dtype=object))
    arr = np.asarray(cluster, dtype=object)
    if arr.ndim != 1 or arr.size != len(wide):
        raise ValueError(f"cluster must have one label per target ({len(wide)}), got shape "
                         f"{arr.shape}")
    return arr


def _icc_cluster_ci(out: pd.DataFrame, values: np.ndarray, groups: np.ndarray, level: float,
                    n_boot: int, seed: int | None) -> pd.DataFrame:
    """Replace the F-based bounds by cluster bootstrap percentile bounds."""
    codes, g = cluster_codes(groups, len(values))
    reps = icc_replicates(values, codes, cluster_draws(g, n_boot, seed))
    ci = boot_method(g, int(n_boot), seed, level)
    out = out.copy()
    for i, ptype in enumerate(out["type"]):
        boot = percentile_ci(reps[ptype], level, g)
        out.loc[i, ["lower", "upper"]] = [boot.lower, boot.upper]
        out.loc[i, "note"] = "; ".join(v for v in (boot.note,) if v)
    out["ci_method"] = ci
    out["n_clusters"] = g
    out.attrs["method"] += f"; CIs: {ci} instead of the F-based ones"
    return out


def _icc_table(n: int, k: int, msr: np.float64, msc: np.float64, mse: np.float64,
               msw: np.float64, level: float, dropped: list, ss: tuple, dfs: tuple
               ) -> pd.DataFrame:
    ss_rows, ss_cols, ss_err = ss
    df_r, df_c, df_e, df_w = dfs

    icc1 = (msr - msw) / (msr + (k - 1) * msw)
    icc2 = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
    icc3 = (msr - mse) / (msr + (k - 1) * mse)
    icc1k = (msr - msw) / msr
    icc2k = (msr - mse) / (msr + (msc - mse) / n)
    icc3k = (msr - mse) / msr
    f11 = msr / msw
    f21 = msr / mse
    p11 = float(stats.f.sf(f11, df_r, df_w))
    p21 = float(stats.f.sf(f21, df_r, df_e))

    alpha = 1.0 - level
    q = 1.0 - alpha / 2.0
    f1l = f11 / stats.f.ppf(q, df_r, df_w)
    f1u = f11 * stats.f.ppf(q, df_w, df_r)
    f3l = f21 / stats.f.ppf(q, df_r, df_e)
    f3u = f21 * stats.f.ppf(q, df_e, df_r)
    l1, u1 = (f1l - 1) / (f1l + (k - 1)), (f1u - 1) / (f1u + k - 1)
    l3, u3 = (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)
    l1k, u1k = 1 - 1 / f1l, 1 - 1 / f1u
    l3k, u3k = 1 - 1 / f3l, 1 - 1 / f3u
    # ICC(2,1): Satterthwaite df as in Shrout & Fleiss (1979) and psych::ICC.
    fj = msc / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fs_u = stats.f.ppf(q, n - 1, v)
    fs_l = stats.f.ppf(q, v, n - 1)
    l2 = n * (msr - fs_u * mse) / (fs_u * (k * msc + (k * n - k - n) * mse) + n * msr)
    u2 = n * (fs_l * msr - mse) / (k * msc + (k * n - k - n) * mse + n * fs_l * msr)
    l2k = l2 * k / (1 + l2 * (k - 1))
    u2k = u2 * k / (1 + u2 * (k - 1))

    est = [icc1, icc2, icc3, icc1k, icc2k, icc3k]
    fstat = [f11, f21, f21, f11, f21, f21]
    df1 = [df_r] * 6
    df2 = [df_w, df_e, df_e, df_w, df_e, df_e]
    pval = [p11, p21, p21, p11, p21, p21]
    lower = [l1, l2, l3, l1k, l2k, l3k]
    upper = [u1, u2, u3, u1k, u2k, u3k]
    rows = []
    for i, (ptype, sf, mw, model, definition, unit) in enumerate(ICC_FORMS):
        notes = []
        if ptype == "ICC2k" and min(1 + (k - 1) * icc2, 1 + (k - 1) * l2) <= 1e-9:
            notes.append("ICC(2,1) or its lower bound is at or below -1/(k-1), where the "
                         "Spearman-Brown step-up is not monotone: this ICC(2,k) row is not "
                         "meaningful (psych::ICC reports the same numbers)")
        if not lower[i] <= upper[i]:
            notes.append("lower bound > upper bound: treat this interval as uninformative")
        elif not lower[i] <= est[i] <= upper[i]:
            notes.append("the estimate lies outside its interval (as in psych::ICC)")
        note = "; ".join(notes)
        rows.append({
            "type": ptype, "shrout_fleiss": sf, "mcgraw_wong": mw, "model": model,
            "definition": definition, "unit": unit, "icc": float(est[i]),
            "F": float(fstat[i]), "df1": float(df1[i]), "df2": float(df2[i]),
            "p": float(pval[i]), "lower": float(lower[i]), "upper": float(upper[i]),
            "level": level, "ci_method": _ICC_CI_METHODS[ptype], "n_targets": n,
            "n_raters": k, "n_dropped": len(dropped), "note": note,
        })
    out = pd.DataFrame(rows)
    out.attrs["anova"] = pd.DataFrame(
        {"df": [df_r, df_c, df_e, df_w], "SS": [ss_rows, ss_cols, ss_err, ss_cols + ss_err],
         "MS": [msr, msc, mse, msw]},
        index=pd.Index(["targets", "raters", "residual", "within targets"], name="source"),
    )
    out.attrs["dropped_targets"] = dropped
    out.attrs["method"] = (
        "Intraclass correlations of Shrout & Fleiss (1979) from two-way ANOVA mean squares, "
        "named also as McGraw & Wong (1996); F-based CIs as psych::ICC(lmer=FALSE)"
        + (f"; {len(dropped)} incomplete target(s) dropped" if dropped else "")
    )
    return out


# ------------------------------------------------------------------------------------------
# Bland-Altman
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlandAltmanResult:
    """Bland-Altman analysis of two paired measurements.

    On the ratio scale (``scale == "ratio"``) ``bias``, the limits and every CI are ratios
    a/b (back-transformed from natural logs) and ``sd`` is the SD of log(a/b).

    Attributes
    ----------
    bias : float
        Mean difference a - b (ratio scale: geometric mean ratio a/b).
    sd : float
        SD of the differences (ratio scale: of the log ratios), n - 1 denominator.
    lower_loa, upper_loa : float
        Limits of agreement bias ∓ z·sd (back-transformed on the ratio scale).
    bias_ci, lower_loa_ci, upper_loa_ci : tuple of float
        Confidence intervals at ``level``.
    n : int
        Number of pairs.
    method : str
        Full description of the analysis.
    loa_ci_method : str
        ``"exact"`` (Carkeet 2015) or ``"approximate"`` (Bland & Altman 1986/1999).
    level, coverage : float
        CI level; proportion of differences the limits are meant to contain.
    z : float
        Multiplier of the SD in the limits, Φ⁻¹((1 + coverage)/2).
    scale : str
        ``"difference"`` or ``"ratio"``.
    prop_bias_slope, prop_bias_intercept, prop_bias_p : float
        OLS regression of the difference on the pair mean (log scale for ratios).
    prop_bias_slope_ci : tuple of float
        t-based CI of the slope at ``level``.
    note : str
        Explains any NaN (e.g. all pair means equal: no regression); empty otherwise.
    """

    bias: float
    sd: float
    lower_loa: float
    upper_loa: float
    bias_ci: tuple[float, float]
    lower_loa_ci: tuple[float, float]
    upper_loa_ci: tuple[float, float]
    n: int
    method: str
    loa_ci_method: str
    level: float
    coverage: float
    z: float
    scale: str
    prop_bias_slope: float
    prop_bias_slope_ci: tuple[float, float]
    prop_bias_intercept: float
    prop_bias_p: float
    note: str = ""


def bland_altman(
    a: Sequence[float] | np.ndarray | pd.Series,
    b: Sequence[float] | np.ndarray | pd.Series,
    *,
    level: float = 0.95,
    coverage: float = 0.95,
    loa_ci: Literal["exact", "approximate"] = "exact",
    ratio: bool = False,
) -> BlandAltmanResult:
    """Bland-Altman bias and limits of agreement with CIs and a proportional-bias test.

    Parameters
    ----------
    a, b : array-like
        Paired measurements (e.g. SUVmax on PET/CT and on PET/MR); differences are a - b.
    level : float
        Confidence level of every CI.
    coverage : float
        Proportion of differences between the limits (0.95: bias ± 1.959964·sd).
    loa_ci : {"exact", "approximate"}
        CI of the limits: Carkeet (2015) non-central t (default) or Bland & Altman's
        √(3 s²/n) with t quantiles.
    ratio : bool
        Analyse log(a) - log(b) and report ratios a/b (requires a, b > 0).

    Returns
    -------
    BlandAltmanResult

    Raises
    ------
    ValueError
        Unequal lengths, missing or infinite values (the count is named), fewer than 3 pairs,
        non-positive values with ``ratio=True``, or invalid ``level``/``coverage``/``loa_ci``.
    """
    level = _check_level(level)
    coverage = _check_level(coverage, "coverage")
    if loa_ci not in ("exact", "approximate"):
        raise ValueError(f"loa_ci must be 'exact' or 'approximate', got {loa_ci!r}")
    x, y = paired_arrays(a, b, ("a", "b"))
    n = int(x.size)
    if n < 3:
        raise ValueError(f"Bland-Altman needs at least 3 pairs (SD, regression), got {n}")
    if ratio:
        n_bad = int(np.sum((x <= 0) | (y <= 0)))
        if n_bad:
            raise ValueError(f"ratio=True needs positive values; {n_bad} pairs have a value <= 0")
        lx, ly = np.log(x), np.log(y)
        d = lx - ly
        m = (lx + ly) / 2.0
    else:
        d = x - y
        m = (x + y) / 2.0

    bias = float(np.mean(d))
    sd = float(np.std(d, ddof=1))
    z = _z(coverage)
    lo, up = bias - z * sd, bias + z * sd
    g = (1.0 - level) / 2.0
    tq = float(stats.t.ppf(1.0 - g, n - 1))
    bias_ci = (bias - tq * sd / math.sqrt(n), bias + tq * sd / math.sqrt(n))
    if loa_ci == "exact":
        nc = z * math.sqrt(n)
        t_lo = float(stats.nct.ppf(g, n - 1, nc))
        t_hi = float(stats.nct.ppf(1.0 - g, n - 1, nc))
        up_ci = (bias + sd * t_lo / math.sqrt(n), bias + sd * t_hi / math.sqrt(n))
        lo_ci = (bias - sd * t_hi / math.sqrt(n), bias - sd * t_lo / math.sqrt(n))
        ci_desc = ("exact CI of the limits (Carkeet 2015: non-central t, df n-1, "
                   "ncp z*sqrt(n))")
    else:
        se = math.sqrt(3.0 * sd**2 / n)
        lo_ci = (lo - tq * se, lo + tq * se)
        up_ci = (up - tq * se, up + tq * se)
        ci_desc = "approximate CI of the limits (Bland & Altman 1986/1999: SE = sqrt(3 s^2/n), t)"

    # Proportional bias: OLS of d on m.
    notes = []
    mm = m - m.mean()
    sxx = float(np.sum(mm**2))
    if sxx == 0.0:
        slope = intercept = p_slope = float("nan")
        slope_ci = (float("nan"), float("nan"))
        notes.append("all pair means are equal: no proportional-bias regression (NaN)")
    else:
        slope = float(np.sum(mm * (d - d.mean())) / sxx)
        intercept = float(d.mean() - slope * m.mean())
        resid = d - intercept - slope * m
        s2 = float(np.sum(resid**2) / (n - 2))
        se_slope = math.sqrt(s2 / sxx)
        tq2 = float(stats.t.ppf(1.0 - g, n - 2))
        slope_ci = (slope - tq2 * se_slope, slope + tq2 * se_slope)
        if se_slope == 0.0:
            p_slope = float("nan")
            notes.append("differences lie exactly on a line: slope p-value undefined (NaN)")
        else:
            p_slope = float(2.0 * stats.t.sf(abs(slope / se_slope), n - 2))

    if ratio:
        def tr(v: float) -> float:
            return math.exp(v)
        scale = "ratio"
        what = "ratios a/b (natural-log differences, back-transformed; sd on the log scale)"
    else:
        def tr(v: float) -> float:
            return v
        scale = "difference"
        what = "differences a - b"
    method = (f"Bland-Altman on {what}: bias = mean, limits bias -/+ {z:.6f}*sd "
              f"({100 * coverage:g}% coverage); {100 * level:g}% t CI of the bias; {ci_desc}; "
              "proportional bias: OLS of the difference on the pair mean")
    return BlandAltmanResult(
        bias=tr(bias), sd=sd, lower_loa=tr(lo), upper_loa=tr(up),
        bias_ci=(tr(bias_ci[0]), tr(bias_ci[1])),
        lower_loa_ci=(tr(lo_ci[0]), tr(lo_ci[1])),
        upper_loa_ci=(tr(up_ci[0]), tr(up_ci[1])),
        n=n, method=method, loa_ci_method=loa_ci, level=level, coverage=coverage, z=z,
        scale=scale, prop_bias_slope=slope, prop_bias_slope_ci=slope_ci,
        prop_bias_intercept=intercept, prop_bias_p=p_slope, note="; ".join(notes),
    )
