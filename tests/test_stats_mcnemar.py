"""nethelpers.stats.mcnemar: published clustered statistics, R references, reductions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethelpers.stats.mcnemar import (
    CLUSTERED_METHODS,
    McNemarResult,
    clustered_mcnemar_counts,
    mcnemar,
    paired_difference,
)

DATA = Path(__file__).parent / "data"
REF = DATA / "stats_reference"

# Published values (tests/data/clustered_mcnemar/README.md): statistic, p
PUBLISHED = {
    "thyroids": {
        "mcnemar": (4.50000000000, 0.0338948535),
        "obuchowski": (2.85714285714, 0.0909689480),
        "durkalski": (2.31506849315, 0.1281256567),
        "eliasziw": (3.66158604802, 0.0556806047),
        "yang": (3.13165974354, 0.0767855290),
    },
    "psychiatry": {
        "mcnemar": (11.84507042254, 0.000578141890),
        "obuchowski": (7.18584070796, 0.00734811147),
        "durkalski": (7.54226687048, 0.00602681706),
        "eliasziw": (10.22589620702, 0.00138482436),
        "yang": (8.42855926467, 0.00369372897),
    },
}
SIZES = {"thyroids": (21, 51), "psychiatry": (29, 135)}


def _counts(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / "clustered_mcnemar" / f"cbp_{name}_contingency.csv")


def _units(counts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expand per-cluster counts to one row per pair (test_a, test_b, cluster)."""
    a, b, cl = [], [], []
    for k, row in enumerate(counts.itertuples()):
        for (u, v), m in (((1, 1), row.ak), ((1, 0), row.bk), ((0, 1), row.ck), ((0, 0), row.dk)):
            a += [u] * m
            b += [v] * m
            cl += [f"c{k}"] * m
    return np.array(a), np.array(b), np.array(cl)


def _pairs(a: int, b: int, c: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    ta = np.r_[np.ones(a + b), np.zeros(c + d)]
    tb = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    return ta, tb


@pytest.mark.parametrize("name", ["thyroids", "psychiatry"])
@pytest.mark.parametrize("method", CLUSTERED_METHODS)
def test_published_clustered_statistics(name, method):
    counts = _counts(name)
    stat, p = PUBLISHED[name][method]
    res = clustered_mcnemar_counts(counts.ak, counts.bk, counts.ck, counts.dk, method)
    assert res.statistic == pytest.approx(stat, abs=1e-9)
    assert res.p == pytest.approx(p, abs=1e-9)
    assert (res.n_clusters, res.n) == SIZES[name]
    assert res.method == method and res.df == 1 and res.note == ""
    # the same from unit-level data
    ta, tb, cl = _units(counts)
    unit = mcnemar(ta, tb, cluster=cl, method=method)
    assert unit.statistic == pytest.approx(res.statistic, rel=1e-14)
    assert (unit.a, unit.b, unit.c, unit.d) == (res.a, res.b, res.c, res.d)


@pytest.mark.parametrize("name", ["thyroids", "psychiatry"])
def test_published_unclustered_mcnemar(name):
    ta, tb, _ = _units(_counts(name))
    stat, p = PUBLISHED[name]["mcnemar"]
    res = mcnemar(ta, tb, method="chi2")
    assert res.statistic == pytest.approx(stat, abs=1e-9)
    assert res.p == pytest.approx(p, abs=1e-9)
    assert res.n_clusters is None


def test_default_methods():
    ta, tb, cl = _units(_counts("thyroids"))
    assert mcnemar(ta, tb).method == "exact"
    assert mcnemar(ta, tb, cluster=cl).method == "obuchowski"


def test_unclustered_matches_r():
    ref = json.loads((REF / "accuracy_mcnemar.json").read_text())
    for case in ref["cases"] + [ref["lesions_diseased"]]:
        ta, tb = _pairs(case["a"], case["b"], case["c"], case["d"])
        for method, stat_key, p_key in (("chi2", "chi2", "chi2_p"),
                                        ("chi2-cc", "chi2_cc", "chi2_cc_p"),
                                        ("exact", None, "exact_p")):
            res = mcnemar(ta, tb, method=method)
            assert (res.b, res.c, res.n) == (case["b"], case["c"], len(ta))
            if case["b"] + case["c"] == 0:  # R: NaN statistic; binom.test refuses n = 0
                assert math.isnan(res.statistic) and math.isnan(res.p)
                assert res.note.startswith("no discordant pairs")
                assert case["chi2"] is None and case["exact_p"] is None
                continue
            assert res.p == pytest.approx(case[p_key], abs=1e-12), (case, method)
            if stat_key:
                assert res.statistic == pytest.approx(case[stat_key], abs=1e-12), (case, method)
            else:
                assert res.statistic == case["b"] and res.df is None


def test_chi2_cc_with_equal_discordant_counts_follows_r():
    """R applies no correction when b = c (statistic 0); statsmodels would give 1/(b + c)."""
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    ta, tb = _pairs(3, 4, 4, 5)
    res = mcnemar(ta, tb, method="chi2-cc")
    assert res.statistic == 0.0 and res.p == 1.0
    assert sm_mcnemar([[3, 4], [4, 5]], exact=False, correction=True).statistic == 0.125


@settings(max_examples=200, deadline=None)
@given(a=st.integers(0, 30), b=st.integers(0, 30), c=st.integers(0, 30), d=st.integers(0, 30),
       seed=st.integers(0, 2**32 - 1))
def test_property_one_pair_per_cluster(a, b, c, d, seed):
    """What each clustered statistic reduces to with clusters of size 1 (n = K pairs)."""
    ta, tb = _pairs(a, b, c, d)
    n = len(ta)
    if n < 2:
        return
    labels = np.random.default_rng(seed).permutation(n)
    plain = mcnemar(ta, tb, method="chi2")
    durk = mcnemar(ta, tb, labels, "durkalski")
    obu = mcnemar(ta, tb, labels, "obuchowski")
    yang = mcnemar(ta, tb, labels, "yang")
    eli = mcnemar(ta, tb, labels, "eliasziw")
    assert math.isnan(eli.statistic) and math.isnan(eli.p)
    if b + c == 0:
        for r in (plain, durk, obu, yang):
            assert math.isnan(r.statistic) and math.isnan(r.p)
        return
    assert "one pair" in eli.note
    assert durk.statistic == plain.statistic  # exactly McNemar without correction
    assert durk.p == plain.p
    assert obu.statistic == pytest.approx((n - 1) / n * plain.statistic, rel=1e-14)
    assert yang.statistic == pytest.approx(
        (n - 1) / n * (b - c) ** 2 / ((b + c) - (b - c) ** 2 / (2 * n)), rel=1e-13)


def test_degenerate_clustered_data():
    # every cluster balanced (b_k = c_k): clustered variance 0 -> not defined
    res = clustered_mcnemar_counts([1, 0], [1, 2], [1, 2], [0, 3], "obuchowski")
    assert math.isnan(res.statistic) and "b_k = c_k" in res.note
    none = clustered_mcnemar_counts([1, 2], [0, 0], [0, 0], [3, 1], "yang")
    assert math.isnan(none.p) and none.note.startswith("no discordant pairs")
    one = clustered_mcnemar_counts([1], [3], [1], [0], "durkalski")
    assert math.isnan(one.statistic) and "one cluster" in one.note
    balanced = clustered_mcnemar_counts([1, 0, 2], [2, 0, 1], [0, 2, 1], [0, 1, 1], "obuchowski")
    assert balanced.statistic == 0.0 and balanced.p == 1.0
    with pytest.raises(ValueError, match="no pairs"):
        clustered_mcnemar_counts([0, 1], [0, 1], [0, 0], [0, 0])
    with pytest.raises(ValueError, match="non-negative integers"):
        clustered_mcnemar_counts([0.5, 1], [0, 1], [1, 0], [0, 0])


def test_method_and_cluster_mismatch():
    ta, tb, cl = _units(_counts("thyroids"))
    with pytest.raises(ValueError, match="needs cluster"):
        mcnemar(ta, tb, method="yang")
    with pytest.raises(ValueError, match="ignores clustering"):
        mcnemar(ta, tb, cluster=cl, method="chi2")
    with pytest.raises(ValueError, match="unknown method"):
        mcnemar(ta, tb, method="mid-p")
    with pytest.raises(ValueError, match="missing"):
        mcnemar([1, None, 0], [1, 0, 0])
    with pytest.raises(ValueError, match="test_b has 2"):
        mcnemar([1, 0, 0], [1, 0])


def test_result_is_frozen():
    res = mcnemar([1, 0, 1, 1], [0, 0, 1, 0])
    assert isinstance(res, McNemarResult)
    with pytest.raises(AttributeError):
        res.p = 0.0


# ---------------------------------------------------------------------------------------------
# Paired differences
# ---------------------------------------------------------------------------------------------
def test_paired_difference_matches_r():
    ref = json.loads((REF / "accuracy_paired.json").read_text())
    for case in ref["cases"]:
        ta, tb = _pairs(case["a"], case["b"], case["c"], case["d"])
        truth = np.ones(len(ta))
        for method in ("newcombe", "wald"):
            t = paired_difference(ta, tb, truth, level=case["level"], method=method)
            row = t.set_index("measure").loc["sensitivity"]
            assert row["difference"] == pytest.approx(case["difference"], abs=1e-15)
            assert row["lower"] == pytest.approx(case[f"{method}_lower"], abs=1e-12), case
            assert row["upper"] == pytest.approx(case[f"{method}_upper"], abs=1e-12), case
            assert (row["a"], row["b"], row["c"], row["d"]) == (
                case["a"], case["b"], case["c"], case["d"])
            assert row["method"] == method
        spec = t.set_index("measure").loc["specificity"]
        assert spec["note"] == "0/0: not estimable" and math.isnan(spec["difference"])


def test_paired_difference_clustered_matches_r():
    ref = json.loads((REF / "accuracy_paired.json").read_text())["lesions_clustered"]
    les = pd.read_csv(REF / "accuracy_lesions.csv")
    t = paired_difference(les.test_a, les.test_b, les.truth, cluster=les.patient)
    t = t.set_index("measure")
    for m in ("sensitivity", "specificity"):
        r = ref[m]
        assert t.loc[m, "method"] == "ratio-wald"
        assert (t.loc[m, "n"], t.loc[m, "n_clusters"]) == (r["n"], r["n_clusters"])
        for col in ("estimate_a", "estimate_b", "difference", "lower", "upper"):
            assert t.loc[m, col] == pytest.approx(r[col], abs=1e-12), (m, col)
    # specificity orientation: "a" counts non-diseased units negative on both tests
    non = les[les.truth == 0]
    assert t.loc["specificity", "a"] == int(((non.test_a == 0) & (non.test_b == 0)).sum())


@settings(max_examples=150, deadline=None)
@given(a=st.integers(0, 25), b=st.integers(0, 25), c=st.integers(0, 25), d=st.integers(0, 25),
       seed=st.integers(0, 2**32 - 1))
def test_property_paired_difference(a, b, c, d, seed):
    ta, tb = _pairs(a, b, c, d)
    n = len(ta)
    if n < 2:
        return
    truth = np.ones(n)
    newc = paired_difference(ta, tb, truth).iloc[0]
    assert -1.0 <= newc["lower"] <= newc["difference"] <= newc["upper"] <= 1.0
    wald = paired_difference(ta, tb, truth, method="wald").iloc[0]
    labels = np.random.default_rng(seed).permutation(n)
    clus = paired_difference(ta, tb, truth, cluster=labels).iloc[0]
    assert -1.0 <= clus["lower"] <= clus["difference"] <= clus["upper"] <= 1.0
    if "truncated" not in wald["note"] + clus["note"]:
        # one unit per cluster: ratio-estimator variance = n/(n-1) x Wald variance
        hw_w = (wald["upper"] - wald["lower"]) / 2
        hw_c = (clus["upper"] - clus["lower"]) / 2
        assert hw_c**2 == pytest.approx(n / (n - 1) * hw_w**2, rel=1e-12, abs=1e-15)


def test_paired_difference_errors():
    with pytest.raises(ValueError, match="needs cluster"):
        paired_difference([1, 0], [1, 1], [1, 1], method="ratio-wald")
    with pytest.raises(ValueError, match="needs cluster"):
        paired_difference([1, 0], [1, 1], [1, 1], cluster=["a", "b"], method="newcombe")
    with pytest.raises(ValueError, match="method must be"):
        paired_difference([1, 0], [1, 1], [1, 1], method="tango")
    with pytest.raises(ValueError, match="truth"):
        paired_difference([1, 0], [1, 1], [1])
    one = paired_difference([1, 0, 1], [1, 1, 0], [1, 1, 1], cluster=["p", "p", "p"])
    assert "one cluster" in one["note"].iloc[0]
