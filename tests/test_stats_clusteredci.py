"""The score interval that inverts the clustered McNemar test (nethelpers.stats.clusteredci).

The truth is re-derived here in numpy from Obuchowski (1998): the ratio estimator of each
proportion p̂_j = Σx_jk / N, its variance K/(K-1)·Σ(x_jk - p̂_j·n_k)²/N² and covariance
K/(K-1)·Σ(x_1k - p̂_1·n_k)(x_2k - p̂_2·n_k)/N²; under a hypothesised difference θ0 the two
proportions are centred at values whose difference is θ0 (at θ0 = 0: the pooled mean). The
interval is then found by brute force on a grid, never with the quadratic of the module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethelpers.stats.clusteredci import clustered_score_interval
from nethelpers.stats.mcnemar import clustered_mcnemar_counts, paired_difference

DATA = Path(__file__).parent / "data" / "clustered_mcnemar"
#: Published Obuchowski statistics and p (tests/data/clustered_mcnemar/README.md).
PUBLISHED = {"thyroids": (2.85714285714, 0.0909689480),
             "psychiatry": (7.18584070796, 0.00734811147)}


def _counts(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"cbp_{name}_contingency.csv")


def _obuchowski_parts(counts: pd.DataFrame, theta0: float | np.ndarray):
    """Numerator and null-restricted variance of p̂_1 - p̂_2 at θ0 (Obuchowski 1998)."""
    x1 = (counts.ak + counts.bk).to_numpy(float)  # test A positive per cluster
    x2 = (counts.ak + counts.ck).to_numpy(float)
    n_k = counts[["ak", "bk", "ck", "dk"]].sum(axis=1).to_numpy(float)
    k, n = len(n_k), n_k.sum()
    p1, p2 = x1.sum() / n, x2.sum() / n
    theta0 = np.atleast_1d(np.asarray(theta0, float))
    # centre the two proportions at values whose difference is θ0 (and whose mean is pooled)
    c1 = (p1 + p2) / 2 + theta0[:, None] / 2
    c2 = (p1 + p2) / 2 - theta0[:, None] / 2
    r1, r2 = x1 - c1 * n_k, x2 - c2 * n_k
    factor = k / (k - 1) / n**2
    var = factor * ((r1**2).sum(1) + (r2**2).sum(1) - 2 * (r1 * r2).sum(1))
    return p1 - p2 - theta0, var


def _accepted(counts: pd.DataFrame, grid: np.ndarray, level: float) -> np.ndarray:
    num, var = _obuchowski_parts(counts, grid)
    with np.errstate(divide="ignore", invalid="ignore"):
        return grid[num**2 / var <= stats.chi2.isf(1 - level, 1)]


def _grid_interval(counts: pd.DataFrame, level: float):
    """Smallest and largest accepted θ0 in [-1, 1]: a coarse grid, then a fine one (1e-7)."""
    coarse = _accepted(counts, np.linspace(-1.0, 1.0, 2001), level)
    bounds = []
    for edge, pick in ((coarse.min(), np.min), (coarse.max(), np.max)):
        fine = np.clip(np.linspace(edge - 1e-3, edge + 1e-3, 20001), -1.0, 1.0)
        bounds.append(float(pick(_accepted(counts, fine, level))))
    return tuple(bounds)


def _score(counts: pd.DataFrame, level: float = 0.95):
    d = (counts.bk - counts.ck).to_numpy()
    n_k = counts[["ak", "bk", "ck", "dk"]].sum(axis=1).to_numpy()
    return clustered_score_interval(d, n_k, level)


@pytest.mark.parametrize("name", ["thyroids", "psychiatry"])
def test_null_variance_reproduces_the_published_obuchowski_statistic(name):
    num, var = _obuchowski_parts(_counts(name), 0.0)
    assert float(num[0] ** 2 / var[0]) == pytest.approx(PUBLISHED[name][0], rel=1e-9)


@pytest.mark.parametrize("name", ["thyroids", "psychiatry"])
@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_score_interval_equals_brute_force_inversion(name, level):
    counts = _counts(name)
    res = _score(counts, level)
    lo, hi = _grid_interval(counts, level)
    assert res.lower == pytest.approx(lo, abs=2e-7)
    assert res.upper == pytest.approx(hi, abs=2e-7)
    assert res.note == ""


@pytest.mark.parametrize("name", ["thyroids", "psychiatry"])
def test_interval_at_level_one_minus_p_touches_zero(name):
    """The interval inverts the test: at level 1 - p (published p) a bound is exactly 0."""
    counts = _counts(name)
    res = _score(counts, 1.0 - PUBLISHED[name][1])
    assert min(abs(res.lower), abs(res.upper)) == pytest.approx(0.0, abs=1e-8)
    # and at 0.95 it excludes 0 exactly when the published p < 0.05
    res95 = _score(counts)
    assert (res95.lower > 0 or res95.upper < 0) == (PUBLISHED[name][1] < 0.05)


def test_excludes_zero_iff_clustered_test_rejects_on_random_cohorts():
    rng = np.random.default_rng(16)
    disagree_wald = 0
    for _ in range(150):
        k = int(rng.integers(6, 30))
        n_k = rng.integers(1, 8, size=k)
        pa, pb = rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
        cells = []
        for n in n_k:
            a_pos = rng.random(n) < pa
            b_pos = rng.random(n) < pb
            cells.append([np.sum(a_pos & b_pos), np.sum(a_pos & ~b_pos),
                          np.sum(~a_pos & b_pos), np.sum(~a_pos & ~b_pos)])
        counts = pd.DataFrame(cells, columns=["ak", "bk", "ck", "dk"])
        test = clustered_mcnemar_counts(*(counts[c] for c in counts.columns))
        res = _score(counts)
        if not np.isfinite(test.p) or not np.isfinite(res.lower):
            continue
        excludes = res.lower > 0 or res.upper < 0
        assert excludes == (test.p < 0.05), (counts.to_dict("list"), test.p, res)
        # the Wald interval (unrestricted variance) is the one that can disagree
        num, _ = _obuchowski_parts(counts, 0.0)
        d = (counts.bk - counts.ck).to_numpy(float)
        nk = counts.sum(axis=1).to_numpy(float)
        theta = d.sum() / nk.sum()
        wvar = k / (k - 1) * np.sum((d - theta * nk) ** 2) / nk.sum() ** 2
        half = stats.norm.isf(0.025) * np.sqrt(wvar)
        disagree_wald += (abs(theta) > half) != (test.p < 0.05)
    assert disagree_wald > 0  # the baseline's problem does occur; the score interval fixes it


def test_few_clusters_unbounded_hull_matches_grid():
    counts = pd.DataFrame({"ak": [5, 2, 0], "bk": [4, 0, 1], "ck": [0, 1, 0],
                           "dk": [1, 0, 0]})
    res = _score(counts)
    lo, hi = _grid_interval(counts, 0.95)
    assert "unbounded" in res.note
    assert (res.lower, res.upper) == pytest.approx((lo, hi), abs=2e-7)


def test_no_discordant_pairs_is_not_defined():
    res = clustered_score_interval([0, 0, 0], [3, 2, 4])
    assert np.isnan(res.lower) and np.isnan(res.upper) and "not defined" in res.note
    with pytest.raises(ValueError, match="n_k > 0"):
        clustered_score_interval([1], [0])


def test_paired_difference_ratio_score_and_wald_rows():
    """Units expanded from the thyroid counts; sensitivity among all (truth all True)."""
    counts = _counts("thyroids")
    ta, tb, cl = [], [], []
    for k, row in enumerate(counts.itertuples()):
        for (u, v), m in (((1, 1), row.ak), ((1, 0), row.bk), ((0, 1), row.ck),
                          ((0, 0), row.dk)):
            ta += [u] * m
            tb += [v] * m
            cl += [k] * m
    truth = np.ones(len(ta), dtype=bool)
    score = paired_difference(ta, tb, truth, cluster=cl, method="ratio-score").iloc[0]
    lo, hi = _grid_interval(counts, 0.95)
    assert (score.lower, score.upper) == pytest.approx((lo, hi), abs=2e-7)
    wald = paired_difference(ta, tb, truth, cluster=cl, method="ratio-wald").iloc[0]
    # Wald: unrestricted variance = the Obuchowski variance centred at the estimate itself
    num, var = _obuchowski_parts(counts, float(wald.difference))
    half = stats.norm.isf(0.025) * np.sqrt(var[0])
    assert (wald.lower, wald.upper) == pytest.approx(
        (wald.difference - half, wald.difference + half), rel=1e-12)
    with pytest.raises(ValueError, match="clustered methods"):
        paired_difference(ta, tb, truth, method="ratio-score")
