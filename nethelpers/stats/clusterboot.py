"""Cluster (patient) bootstrap of agreement statistics: kappa and ICC with cluster-aware CIs.

Lesions of one patient are not independent: their calls and uptake share the patient's
physiology, scan and reader. Wald (kappa) and F-based (ICC) intervals assume independent
subjects and are too narrow when several lesions come from one patient. The cluster bootstrap
(Davison & Hinkley 1997, section 3.8; Field & Welsh 2007) resamples whole clusters (patients)
with replacement, keeps every lesion of a drawn patient, recomputes the statistic, and takes
the percentile interval of the replicates.

Conventions (the project's seeded bootstrap, as :mod:`nethelpers.stats.roc_analysis`):

- clusters are taken in the sorted order of their labels (``numpy.unique``);
- ``rng = numpy.random.default_rng(seed)``; the draws are one call
  ``rng.integers(0, G, size=(n_boot, G))`` (G clusters): replicate b uses clusters
  ``draws[b]``, each with all its subjects (a cluster drawn twice counts twice);
- the interval is the percentile interval at ``(1 - level)/2`` and ``(1 + level)/2`` with
  quantile type 7 (``numpy.quantile`` linear, R's default); the standard error is the
  standard deviation (n - 1) of the replicates;
- fewer than :data:`MIN_CLUSTERS` clusters give no interval (NaN bounds and a note): with
  2-4 patients the resampling distribution has too few distinct replicates to mean anything;
- replicates where the statistic is undefined (kappa: chance agreement 1, i.e. both readers
  put every drawn lesion in one category; ICC: no variation at all, or an infinite
  average-measure ICC) are dropped and counted in the note. A replicate in which the readers
  agree perfectly has ICC 1 and is kept.

The same seed and data give the same numbers. Replicates are computed from per-cluster
sufficient statistics (kappa: the K × K count table of each cluster; ICC: counts, sums and
sums of squares of each cluster's targets), so one replicate costs O(G) whatever the number
of lesions. The tests recompute the replicates independently, one concatenated data set per
replicate.

References
----------
Davison AC, Hinkley DV. Bootstrap methods and their application. Cambridge University Press,
1997.
Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-390.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MIN_CLUSTERS", "ClusterBoot", "boot_method", "cluster_codes", "cluster_draws",
           "icc_replicates", "kappa_replicates", "percentile_ci"]


#: Fewest clusters (patients) for a cluster bootstrap interval.
MIN_CLUSTERS = 5


@dataclass(frozen=True)
class ClusterBoot:
    """Result of a cluster bootstrap of one statistic.

    Attributes
    ----------
    se : float
        Standard deviation (n - 1) of the valid replicates.
    lower, upper : float
        Percentile interval (quantile type 7).
    n_clusters : int
        Number of clusters (patients).
    n_valid : int
        Replicates where the statistic was defined.
    note : str
        How many replicates were dropped as undefined; empty otherwise.
    """

    se: float
    lower: float
    upper: float
    n_clusters: int
    n_valid: int
    note: str = ""


def boot_method(n_clusters: int, n_boot: int, seed: int | None, level: float) -> str:
    """Words for a methods section naming the cluster bootstrap."""
    return (f"{100 * level:g}% cluster bootstrap percentile CI (patients resampled with all "
            f"their lesions; {n_clusters} clusters, {n_boot} replicates, seed {seed}, "
            "quantile type 7)")


def cluster_codes(cluster: Sequence[Any] | np.ndarray, n: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 of the clusters in sorted label order, and G.

    Raises
    ------
    ValueError
        Wrong length or missing cluster labels. A single cluster is accepted: the interval
        of :func:`percentile_ci` is then not given (a study of one patient still gets its
        estimate).
    """
    arr = np.asarray(cluster, dtype=object)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"cluster must have one label per subject ({n}), got shape {arr.shape}")
    missing = int(sum(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr))
    if missing:
        raise ValueError(f"{missing} subject(s) have no cluster label; every lesion needs its "
                         "patient")
    labels = np.array([str(v) for v in arr])
    _, codes = np.unique(labels, return_inverse=True)
    return codes.astype(int), int(codes.max()) + 1


def cluster_draws(n_clusters: int, n_boot: int, seed: int | None) -> np.ndarray:
    """The (n_boot, G) cluster indices of every replicate (see the module conventions)."""
    if int(n_boot) != n_boot or n_boot < 2:
        raise ValueError(f"n_boot must be an integer >= 2, got {n_boot}")
    rng = np.random.default_rng(seed)
    return rng.integers(0, n_clusters, size=(int(n_boot), n_clusters))


def _multiplicity(draws: np.ndarray, n_clusters: int) -> np.ndarray:
    """How often each cluster is drawn in each replicate, shape (n_boot, G)."""
    b = draws.shape[0]
    flat = (np.arange(b)[:, None] * n_clusters + draws).ravel()
    return np.bincount(flat, minlength=b * n_clusters).reshape(b, n_clusters).astype(float)


def percentile_ci(replicates: np.ndarray, level: float, n_clusters: int,
                  min_clusters: int = MIN_CLUSTERS) -> ClusterBoot:
    """Percentile interval and SE of the defined replicates, with a note of the dropped."""
    nan = float("nan")
    needed = max(min_clusters, 2)
    if n_clusters < needed:
        return ClusterBoot(nan, nan, nan, n_clusters, 0,
                           f"no cluster bootstrap interval: it needs at least {needed} "
                           f"clusters (patients), there are {n_clusters}")
    reps = np.asarray(replicates, dtype=float)
    ok = reps[np.isfinite(reps)]
    dropped = reps.size - ok.size
    note = (f"{dropped} of {reps.size} bootstrap replicates undefined and dropped"
            if dropped else "")
    if ok.size < 2:
        return ClusterBoot(nan, nan, nan, n_clusters, int(ok.size),
                           "fewer than 2 bootstrap replicates defined: no interval")
    lo, up = np.quantile(ok, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return ClusterBoot(float(np.std(ok, ddof=1)), float(lo), float(up), n_clusters,
                       int(ok.size), note)


def kappa_replicates(ia: np.ndarray, ib: np.ndarray, k: int, weights: np.ndarray,
                     codes: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Kappa of every replicate (NaN where chance agreement is 1).

    Parameters
    ----------
    ia, ib : numpy.ndarray
        Category positions 0..K-1 of the two raters.
    k : int
        Number of categories K.
    weights : numpy.ndarray
        K × K agreement weights (identity for unweighted kappa).
    codes : numpy.ndarray
        Cluster code of each subject.
    draws : numpy.ndarray
        :func:`cluster_draws` output.
    """
    g = draws.shape[1]
    per_cluster = np.zeros((g, k * k))
    np.add.at(per_cluster, (codes, ia * k + ib), 1.0)
    counts = _multiplicity(draws, g) @ per_cluster            # (B, K*K)
    n = counts.sum(axis=1)
    p = counts.reshape(-1, k, k) / n[:, None, None]
    rows, cols = p.sum(axis=2), p.sum(axis=1)
    po = np.einsum("bij,ij->b", p, weights)
    pe = np.einsum("bi,bj,ij->b", rows, cols, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        kap = (po - pe) / (1.0 - pe)
    kap[pe >= 1.0 - 1e-12] = np.nan
    return kap


def icc_replicates(values: np.ndarray, codes: np.ndarray, draws: np.ndarray
                   ) -> dict[str, np.ndarray]:
    """The six Shrout & Fleiss ICCs of every replicate from per-cluster sufficient statistics.

    Parameters
    ----------
    values : numpy.ndarray
        n × k complete ratings (targets × raters).
    codes : numpy.ndarray
        Cluster code of each target (row).
    draws : numpy.ndarray
        :func:`cluster_draws` output.

    Returns
    -------
    dict
        psych type (``ICC1`` ... ``ICC3k``) -> replicates (NaN where undefined).
    """
    n_t, k = values.shape
    g = draws.shape[1]
    rows = values.sum(axis=1)
    stats_ = np.zeros((g, 4 + k))        # n, S, Q, sum R_i^2, column sums
    np.add.at(stats_, codes, np.column_stack([np.ones(n_t), rows, (values**2).sum(axis=1),
                                              rows**2, values]))
    agg = _multiplicity(draws, g) @ stats_
    n, s, q, rr, cs = agg[:, 0], agg[:, 1], agg[:, 2], agg[:, 3], agg[:, 4:]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = s**2 / (n * k)
        ss_t = q - corr
        ss_r = rr / k - corr
        ss_c = (cs**2).sum(axis=1) / n - corr
        ss_e = ss_t - ss_r - ss_c
        msr, msc = ss_r / (n - 1), ss_c / (k - 1)
        mse, msw = ss_e / ((n - 1) * (k - 1)), (ss_c + ss_e) / (n * (k - 1))
        # A replicate whose drawn patients agree perfectly (MSE = 0) has ICC 1: kept (the
        # point estimate refuses it only because its F-based CI is undefined). Undefined:
        # no variation at all (0/0), and non-finite values (percentile_ci drops them).
        bad = (ss_t <= 1e-12 * np.maximum(np.abs(q), 1e-300)) | (n < 2)
        out = {
            "ICC1": (msr - msw) / (msr + (k - 1) * msw),
            "ICC2": (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n),
            "ICC3": (msr - mse) / (msr + (k - 1) * mse),
            "ICC1k": (msr - msw) / msr,
            "ICC2k": (msr - mse) / (msr + (msc - mse) / n),
            "ICC3k": (msr - mse) / msr,
        }
    for v in out.values():
        v[bad] = np.nan
    return out
