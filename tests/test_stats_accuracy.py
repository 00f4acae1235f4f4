"""nethelpers.stats.proportions and nethelpers.stats.accuracy against R and by their properties.

R reference numbers: tests/reference/accuracy_reference.R -> tests/data/stats_reference/.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from nethelpers import config
from nethelpers.stats.accuracy import (
    MEASURES,
    accuracy_from_counts,
    clustered_proportion_ci,
    diagnostic_accuracy,
    gee_proportion,
    ratio_measures,
)
from nethelpers.stats.proportions import (
    CI_METHODS,
    interval_bounds,
    proportion_ci,
    proportion_ci_table,
)

REF = Path(__file__).parent / "data" / "stats_reference"
TOL = 1e-10


def _json(name: str) -> dict:
    return json.loads((REF / name).read_text())


@pytest.fixture(scope="module")
def lesions() -> pd.DataFrame:
    return pd.read_csv(REF / "accuracy_lesions.csv")


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return pd.DataFrame(_json("accuracy_proportions.json")["cases"])


# ---------------------------------------------------------------------------------------------
# Proportions
# ---------------------------------------------------------------------------------------------
def test_ci_methods_are_the_config_tuple():
    assert CI_METHODS is config.CI_METHODS
    assert CI_METHODS == ("wilson", "clopper-pearson", "wilson-cc", "jeffreys", "agresti-coull")


@pytest.mark.parametrize(
    "method, col",
    [("clopper-pearson", "cp"), ("wilson", "wilson"), ("jeffreys", "jeffreys"),
     ("agresti-coull", "ac")],
)
def test_proportion_ci_matches_r(grid, method, col):
    for level, g in grid.groupby("level"):
        lo, hi = interval_bounds(g["k"].to_numpy(), g["n"].to_numpy(), method, level)
        np.testing.assert_allclose(lo, g[f"{col}_lower"], rtol=0, atol=TOL)
        np.testing.assert_allclose(hi, g[f"{col}_upper"], rtol=0, atol=TOL)
        for row in g.head(12).itertuples():  # the scalar API gives the same numbers
            ci = proportion_ci(int(row.k), int(row.n), method, level)
            assert ci.lower == pytest.approx(getattr(row, f"{col}_lower"), abs=TOL)
            assert ci.upper == pytest.approx(getattr(row, f"{col}_upper"), abs=TOL)


def test_wilson_cc_matches_r_except_at_half(grid):
    """R prop.test(correct=TRUE) = Newcombe method 4 except at k = n/2 (R drops the correction)."""
    half = 2 * grid["k"] == grid["n"]
    for level, g in grid.groupby("level"):
        lo, hi = interval_bounds(g["k"].to_numpy(), g["n"].to_numpy(), "wilson-cc", level)
        h = (2 * g["k"] == g["n"]).to_numpy()
        np.testing.assert_allclose(lo[~h], g["r_wilson_cc_lower"][~h], rtol=0, atol=TOL)
        np.testing.assert_allclose(hi[~h], g["r_wilson_cc_upper"][~h], rtol=0, atol=TOL)
        # at k = n/2 R returns the uncorrected Wilson interval; ours is wider (corrected)
        np.testing.assert_allclose(g["r_wilson_cc_lower"][h], g["wilson_lower"][h], atol=1e-12)
        assert np.all(lo[h] < g["r_wilson_cc_lower"][h] - 1e-6)
        assert np.all(hi[h] > g["r_wilson_cc_upper"][h] + 1e-6)
    assert half.sum() > 10


def test_wilson_cc_equals_scipy():
    for n in range(1, 61):
        for k in range(n + 1):
            for level in (0.9, 0.95):
                ci = binomtest(k, n).proportion_ci(method="wilsoncc", confidence_level=level)
                ours = proportion_ci(k, n, "wilson-cc", level)
                assert ours.lower == pytest.approx(ci.low, abs=1e-14)
                assert ours.upper == pytest.approx(ci.high, abs=1e-14)


def test_zero_over_zero_is_not_estimable():
    for method in CI_METHODS:
        ci = proportion_ci(0, 0, method)
        assert math.isnan(ci.estimate) and math.isnan(ci.lower) and math.isnan(ci.upper)
        assert ci.note == "0/0: not estimable"
        assert not ci.estimable
        assert ci.format() == "not estimable (0/0)"
    t = proportion_ci_table([0, 3], [0, 4])
    assert t["note"].tolist() == ["0/0: not estimable", ""]
    assert math.isnan(t["estimate"][0]) and t["estimate"][1] == 0.75


@pytest.mark.parametrize("method", CI_METHODS)
def test_boundaries_are_defined(method):
    for n in (1, 2, 7, 60, 1000):
        zero, full = proportion_ci(0, n, method), proportion_ci(n, n, method)
        assert zero.estimate == 0.0 and zero.lower == 0.0 and 0.0 < zero.upper < 1.0
        assert full.estimate == 1.0 and full.upper == 1.0 and 0.0 < full.lower < 1.0
        assert zero.upper == pytest.approx(1.0 - full.lower, abs=1e-12)  # symmetry
        assert zero.note == "" and full.note == ""


def test_format_and_fields():
    ci = proportion_ci(17, 20)
    assert (ci.k, ci.n, ci.method, ci.level) == (17, 20, "wilson", 0.95)
    assert ci.format() == "85.0% (64.0-94.8)"
    assert ci.format(digits=3, percent=False) == "0.850 (0.640-0.948)"
    with pytest.raises(AttributeError):
        ci.estimate = 0.5  # frozen


@pytest.mark.parametrize(
    "k, n, method, level",
    [(3, 2, "wilson", 0.95), (-1, 5, "wilson", 0.95), (1.5, 5, "wilson", 0.95),
     (1, float("nan"), "wilson", 0.95), (1, 5, "wald", 0.95), (1, 5, "wilson", 1.0),
     (1, 5, "wilson", 0.0), (1, 5, "Wilson", 0.95)],
)
def test_bad_input_raises(k, n, method, level):
    with pytest.raises(ValueError):
        proportion_ci(k, n, method, level)


def test_table_equals_scalar_calls():
    k = np.array([0, 1, 5, 9, 10, 0])
    n = np.array([10, 10, 10, 10, 10, 0])
    for method in CI_METHODS:
        t = proportion_ci_table(k, n, method, 0.9)
        for i in range(len(k)):
            ci = proportion_ci(int(k[i]), int(n[i]), method, 0.9)
            np.testing.assert_equal([t["estimate"][i], t["lower"][i], t["upper"][i]],
                                    [ci.estimate, ci.lower, ci.upper])
            assert t["method"][i] == method and t["note"][i] == ci.note


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 3000), frac=st.floats(0, 1), level=st.floats(0.5, 0.999),
       method=st.sampled_from(CI_METHODS))
def test_property_bounds_ordered_in_unit_interval(n, frac, level, method):
    k = int(round(frac * n))
    ci = proportion_ci(k, n, method, level)
    assert 0.0 <= ci.lower <= ci.estimate <= ci.upper <= 1.0
    if k == 0:
        assert ci.lower == 0.0
    if k == n:
        assert ci.upper == 1.0
    wider = proportion_ci(k, n, method, min(level + 0.0005, 0.9999))
    assert wider.lower <= ci.lower + 1e-12 and wider.upper >= ci.upper - 1e-12


@settings(max_examples=200, deadline=None)
@given(n=st.floats(1.0, 500.0), frac=st.floats(0, 1), method=st.sampled_from(CI_METHODS))
def test_property_fractional_counts(n, frac, method):
    """Effective (non-integer) counts of clustered data give valid intervals too."""
    k = frac * n
    lo, hi = interval_bounds(k, n, method, 0.95)
    assert 0.0 <= lo <= k / n + 1e-12 and k / n - 1e-12 <= hi <= 1.0


# ---------------------------------------------------------------------------------------------
# Ratios: LR+, LR-, DOR
# ---------------------------------------------------------------------------------------------
def test_ratios_match_r():
    for case in _json("accuracy_ratios.json")["cases"]:
        t = ratio_measures(case["tp"], case["fp"], case["fn"], case["tn"], case["level"])
        t = t.set_index("measure")
        for m in ("lr_positive", "lr_negative", "dor"):
            ref = case[m]
            got = t.loc[m, ["estimate", "lower", "upper"]].to_numpy(dtype=float)
            if ref[0] is None:
                assert np.all(np.isnan(got)), (case, m)
                assert t.loc[m, "note"].startswith("not estimable"), t.loc[m, "note"]
                continue
            if ref[1] == ref[2] == ref[0]:
                # R writes the degenerate interval "1 (1–1)" of a zero log-method SE (LR- with
                # TP = FP = 0); nethelpers keeps R's estimate and gives no interval.
                assert got[0] == pytest.approx(ref[0], rel=1e-12), (case, m)
                assert np.all(np.isnan(got[1:])), (case, m)
                continue
            np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=f"{case} {m}")
            corrected = t.loc[m, "note"].startswith("Haldane correction")
            assert corrected == case[f"{m}_corrected"], (case, m)


def test_ratio_notes_and_methods():
    t = ratio_measures(20, 0, 3, 15).set_index("measure")
    assert t.loc["lr_positive", "note"] == (
        "Haldane correction: 0.5 added to each cell because FP = 0")
    assert t.loc["lr_negative", "note"] == ""
    assert t.loc["lr_positive", "method"] == "log (Simel 1991)"
    assert t.loc["dor", "method"] == "log (Woolf)"
    none = ratio_measures(20, 0, 3, 15, zero_cell="none").set_index("measure")
    assert math.isnan(none.loc["lr_positive", "estimate"])
    assert none.loc["lr_positive", "note"] == "not estimable: FP = 0 (zero_cell='none')"
    assert none.loc["lr_negative", "estimate"] == pytest.approx((3 / 23) / (15 / 15))
    zero = ratio_measures(0, 0, 5, 5).set_index("measure")
    assert zero.loc["lr_positive", "note"] == "not estimable: 0/0 (TP = 0, FP = 0)"
    # LR- with TP = FP = 0 is 5/5 over 5/5 = 1, log-method SE sqrt(1/5 - 1/5 + 1/5 - 1/5) = 0
    assert zero.loc["lr_negative", "estimate"] == 1.0
    assert math.isnan(zero.loc["lr_negative", "lower"])
    assert math.isnan(zero.loc["lr_negative", "upper"])
    assert zero.loc["lr_negative", "note"] == (
        "interval not estimable: zero cells in the 2×2 table make the log-method SE 0 "
        "(TP = 0, FP = 0)")
    nodis = ratio_measures(0, 2, 0, 5).set_index("measure")
    assert (nodis["note"] == "not estimable: no diseased units").all()
    with pytest.raises(ValueError):
        ratio_measures(1, 2, 3, 4, zero_cell="add")
    with pytest.raises(ValueError):
        ratio_measures(1, -2, 3, 4)


def test_zero_log_se_gives_no_interval_in_the_group_table():
    # FDG PET/CT, TIO after surgery in the 60-patient demo: no positive scan (TP = FP = 0),
    # FN = TN = 1; the report printed LR- "1.0 (1.0–1.0)".
    acc = accuracy_from_counts(0, 0, 1, 1).set_index("measure")
    assert acc.loc["lr_negative", "estimate"] == pytest.approx((1 / 1) / (1 / 1))
    assert np.isnan(acc.loc["lr_negative", ["lower", "upper"]].to_numpy(dtype=float)).all()
    assert "zero cells in the 2×2 table" in acc.loc["lr_negative", "note"]
    # LR+ with FN = TN = 0 (every unit positive) is the mirror case
    lrp = ratio_measures(4, 3, 0, 0).set_index("measure").loc["lr_positive"]
    assert lrp["estimate"] == 1.0 and math.isnan(lrp["lower"]) and math.isnan(lrp["upper"])
    assert lrp["note"].endswith("(FN = 0, TN = 0)")
    # one cell away the SE is positive again and the interval is back, around the estimate
    near = accuracy_from_counts(1, 0, 2, 3).set_index("measure").loc["lr_negative"]
    assert near["lower"] < near["estimate"] < near["upper"]
    # a Haldane-corrected ratio never has a zero SE: the DOR of the same table is 0/0
    assert acc.loc["dor", "note"] == "not estimable: 0/0 (TP = 0, FP = 0)"


# ---------------------------------------------------------------------------------------------
# The accuracy table
# ---------------------------------------------------------------------------------------------
def test_unclustered_table(lesions):
    res = diagnostic_accuracy(lesions, "test_a", "truth")
    assert res.counts == {"TP": 57, "FP": 10, "FN": 9, "TN": 34}
    assert res.n == 110 and res.n_clusters is None and res.cluster_ci is None
    t = res.to_frame()
    assert t["measure"].tolist() == list(MEASURES)
    assert list(t.columns) == ["measure", "estimate", "lower", "upper", "method", "numerator",
                               "denominator", "note"]
    t = t.set_index("measure")
    expect = {"sensitivity": (57, 66), "specificity": (34, 44), "ppv": (57, 67),
              "npv": (34, 43), "accuracy": (91, 110)}
    for m, (k, n) in expect.items():
        ci = proportion_ci(k, n)
        assert (t.loc[m, "numerator"], t.loc[m, "denominator"]) == (k, n)
        assert t.loc[m, ["estimate", "lower", "upper"]].tolist() == [ci.estimate, ci.lower,
                                                                      ci.upper]
        assert t.loc[m, "method"] == "wilson"
    pd.testing.assert_frame_equal(res.table, accuracy_from_counts(57, 10, 9, 34))
    assert res.to_frame() is not res.table


def test_clustered_matches_r_ratio_estimator_and_geepack(lesions):
    ref = _json("accuracy_clustered.json")
    for test in ("test_a", "test_b"):
        res = diagnostic_accuracy(lesions, test, "truth", cluster="patient", gee=True)
        wald = diagnostic_accuracy(lesions, test, "truth", cluster="patient", cluster_ci="wald")
        t, tw = res.table.set_index("measure"), wald.table.set_index("measure")
        assert res.n_clusters == 30
        for m in ("sensitivity", "specificity", "ppv", "npv", "accuracy"):
            r = ref[test][m]
            row = t.loc[m]
            assert (row["numerator"], row["denominator"], row["n_clusters"]) == (
                r["k"], r["n"], r["n_clusters"])
            assert row["estimate"] == pytest.approx(r["estimate"], abs=1e-15)
            assert row["se_cluster"] == pytest.approx(r["se_ratio"], rel=1e-12)
            assert row["design_effect"] == pytest.approx(r["design_effect"], rel=1e-12)
            assert row["n_eff"] == pytest.approx(r["effective_n"], rel=1e-12)
            assert row["cluster_lower"] == pytest.approx(r["effective_wilson_lower"], abs=TOL)
            assert row["cluster_upper"] == pytest.approx(r["effective_wilson_upper"], abs=TOL)
            assert row["cluster_method"] == "wilson-effective-n"
            assert tw.loc[m, "cluster_lower"] == pytest.approx(r["wald_lower"], abs=TOL)
            assert tw.loc[m, "cluster_upper"] == pytest.approx(r["wald_upper"], abs=TOL)
            assert tw.loc[m, "cluster_method"] == "ratio-wald"
            # GEE (statsmodels) = R geepack, estimate and robust SE
            assert row["gee_estimate"] == pytest.approx(r["gee_estimate"], abs=1e-10)
            assert row["gee_se"] == pytest.approx(r["gee_se"], rel=1e-10)
            assert row["gee_lower"] == pytest.approx(r["gee_lower"], abs=1e-10)
            assert row["gee_upper"] == pytest.approx(r["gee_upper"], abs=1e-10)
            # the relation: ratio-estimator SE = GEE robust SE * sqrt(K/(K-1))
            k = row["n_clusters"]
            assert row["se_cluster"] == pytest.approx(row["gee_se"] * math.sqrt(k / (k - 1)),
                                                      rel=1e-12)
        for m in ("lr_positive", "lr_negative", "dor"):
            assert math.isnan(t.loc[m, "cluster_lower"]) and pd.isna(t.loc[m, "n_clusters"])
            assert "ratio: not cluster-adjusted" in t.loc[m, "note"]


def test_gee_proportion_matches_geepack_logit_se(lesions):
    ref = _json("accuracy_clustered.json")["test_a"]["sensitivity"]
    d = lesions[lesions["truth"] == 1]
    g = gee_proportion(d["test_a"], d["patient"])
    assert math.log(g.estimate / (1 - g.estimate)) == pytest.approx(ref["gee_logit"], abs=1e-10)
    assert g.se_logit == pytest.approx(ref["gee_se_logit"], rel=1e-10)
    assert g.se_ratio == pytest.approx(ref["se_ratio"], rel=1e-12)
    assert g.n == 66 and g.n_clusters == 28 and g.note == ""
    assert "independence" in g.method and "robust" in g.method
    # not estimable at 0 or 1 (infinite logit) and with one cluster
    assert "not estimable" in gee_proportion([1, 1, 1], ["a", "b", "b"]).note
    assert "one cluster" in gee_proportion([1, 0, 1], ["a", "a", "a"]).note


@pytest.mark.parametrize("method", CI_METHODS)
def test_clusters_of_size_one_equal_unclustered(lesions, method):
    d = lesions.assign(unit=np.arange(len(lesions))[::-1])  # one unit per cluster
    res = diagnostic_accuracy(d, "test_b", "truth", cluster="unit", method=method, gee=True)
    t = res.table.iloc[:5]
    assert (t["design_effect"] == 1.0).all()
    assert (t["n_eff"] == t["denominator"].astype(float)).all()
    assert (t["cluster_lower"] == t["lower"]).all() and (t["cluster_upper"] == t["upper"]).all()
    # Wald: variance p(1-p)/(N-1) (the K/(K-1) factor), GEE: p(1-p)/N
    p, n = t["estimate"], t["denominator"].astype(float)
    np.testing.assert_allclose(t["se_cluster"], np.sqrt(p * (1 - p) / (n - 1)), rtol=1e-13)
    np.testing.assert_allclose(t["gee_se"], np.sqrt(p * (1 - p) / n), rtol=1e-9)


@settings(max_examples=150, deadline=None)
@given(x=st.lists(st.booleans(), min_size=2, max_size=80), seed=st.integers(0, 2**32 - 1),
       method=st.sampled_from(CI_METHODS), level=st.sampled_from([0.9, 0.95, 0.99]))
def test_property_singletons_exact(x, seed, method, level):
    labels = np.random.default_rng(seed).permutation(len(x)).astype(str)
    c = clustered_proportion_ci(x, labels, method, level)
    ci = proportion_ci(sum(x), len(x), method, level)
    assert c.design_effect == 1.0 and c.n_eff == len(x)
    assert (c.effective_lower, c.effective_upper) == (ci.lower, ci.upper)
    assert (c.lower, c.upper) == (ci.lower, ci.upper)


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=1, max_size=25),
       data=st.data(), method=st.sampled_from(CI_METHODS))
def test_property_clustered_bounds(sizes, data, method):
    n = sum(sizes)
    x = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    labels = np.repeat(np.arange(len(sizes)), sizes)
    c = clustered_proportion_ci(x, labels, method)
    assert 0.0 <= c.effective_lower <= c.estimate <= c.effective_upper <= 1.0
    assert c.design_effect >= 0 and c.n_eff <= n
    # never narrower than the unadjusted interval (design effect truncated at 1)
    assert c.effective_lower <= c.lower + 1e-12 and c.effective_upper >= c.upper - 1e-12
    if not math.isnan(c.wald_lower):
        assert 0.0 <= c.wald_lower <= c.estimate <= c.wald_upper <= 1.0


def _deff(x, sizes):
    """Ratio-estimator design effect from first principles (clusters given by sizes)."""
    x = np.asarray(x, dtype=float)
    n, k = x.size, len(sizes)
    p = x.mean()
    starts = np.cumsum([0, *sizes[:-1]])
    xk = np.array([x[s:s + m].sum() for s, m in zip(starts, sizes, strict=True)])
    var_c = k / (k - 1) * np.sum((xk - p * np.asarray(sizes)) ** 2) / n**2
    var_u = n / (n - 1) * np.sum((x - p) ** 2) / n**2
    return var_c / var_u


def test_design_effect_at_the_boundary_is_the_smallest_one_unit_away():
    # sensitivity 100 %: not estimable -> the smallest design effect of the tables with one
    # lesion missed (in cluster a, b or c)
    x = [1] * 9
    labels = ["a"] * 5 + ["b"] * 3 + ["c"]
    c = clustered_proportion_ci(x, labels)
    flips = []
    for i in (0, 5, 8):
        y = np.ones(9)
        y[i] = 0
        flips.append(_deff(y, [5, 3, 1]))
    assert c.design_effect == pytest.approx(min(flips), rel=1e-12)
    d = max(c.design_effect, 1.0)
    lo, hi = interval_bounds(9 / d, 9 / d, "wilson")
    assert (c.effective_lower, c.effective_upper) == (float(lo), float(hi)) and hi == 1.0
    assert math.isnan(c.wald_lower) and "Wald interval not estimable" in c.wald_note
    assert "one unit changed" in c.note
    assert c.se_cluster == 0.0
    one = clustered_proportion_ci([1, 0, 1, 1], ["p"] * 4)
    assert one.n_clusters == 1 and one.design_effect == 4.0 and one.n_eff == 1.0
    assert "only one cluster" in one.note and math.isnan(one.se_cluster)


def test_design_effect_below_one_is_truncated():
    # alternating clusters: within-cluster anti-correlation gives a design effect < 1
    x = [1, 0] * 10
    labels = np.repeat(np.arange(10), 2)
    c = clustered_proportion_ci(x, labels)
    assert c.design_effect == 0.0 and c.n_eff == 20
    assert (c.effective_lower, c.effective_upper) == (c.lower, c.upper)
    assert "truncated to 1" in c.note
    assert c.wald_lower == c.wald_upper == 0.5 and "zero width" in c.wald_note


def test_wald_truncation_note():
    x = [1] * 18 + [0, 0]
    labels = np.repeat(np.arange(5), 4)
    res = diagnostic_accuracy(pd.DataFrame({"t": x, "y": 1, "p": labels}), "t", "y",
                              cluster="p", cluster_ci="wald")
    row = res.table.set_index("measure").loc["sensitivity"]
    assert row["cluster_upper"] == 1.0 and "Wald interval truncated to [0, 1]" in row["note"]


def test_indeterminate_handling(lesions):
    d = lesions.copy()
    d["test_a"] = d["test_a"].astype("float")
    d.loc[[0, 5, 9], "test_a"] = np.nan
    with pytest.raises(ValueError, match="3 missing"):
        diagnostic_accuracy(d, "test_a", "truth")
    ex = diagnostic_accuracy(d, "test_a", "truth", indeterminate="exclude")
    assert ex.n == 107 and ex.n_indeterminate == 3 and ex.indeterminate == "exclude"
    assert ex.indeterminate_note == "3 indeterminate test result(s) excluded"
    pos = diagnostic_accuracy(d, "test_a", "truth", indeterminate="positive")
    neg = diagnostic_accuracy(d, "test_a", "truth", indeterminate="negative")
    assert pos.n == neg.n == 110
    assert pos.counts["TP"] + pos.counts["FP"] == neg.counts["TP"] + neg.counts["FP"] + 3
    clustered = diagnostic_accuracy(d, "test_a", "truth", cluster="patient",
                                    indeterminate="exclude")
    assert clustered.table["denominator"].iloc[4] == 107
    with pytest.raises(ValueError, match="indeterminate must be"):
        diagnostic_accuracy(d, "test_a", "truth", indeterminate="drop")
    full = diagnostic_accuracy(lesions, "test_a", "truth")
    assert full.indeterminate_note == "no indeterminate test results"


def test_input_errors(lesions):
    d = lesions.copy()
    d["truth"] = d["truth"].astype(float)
    d.loc[[1, 2], "truth"] = np.nan
    with pytest.raises(ValueError, match="'truth' has 2 missing"):
        diagnostic_accuracy(d, "test_a", "truth", indeterminate="exclude")
    bad = lesions.assign(test_a=lesions["test_a"] * 2)
    with pytest.raises(ValueError, match="must be boolean or 0/1"):
        diagnostic_accuracy(bad, "test_a", "truth")
    with pytest.raises(ValueError, match="no column 'nope'"):
        diagnostic_accuracy(lesions, "nope", "truth")
    with pytest.raises(ValueError, match="gee=True needs a cluster"):
        diagnostic_accuracy(lesions, "test_a", "truth", gee=True)
    with pytest.raises(ValueError, match="'patient' has 1 missing"):
        diagnostic_accuracy(lesions.assign(patient=lesions["patient"].where(
            lesions.index != 3)), "test_a", "truth", cluster="patient")
    with pytest.raises(ValueError, match="unknown CI method"):
        diagnostic_accuracy(lesions, "test_a", "truth", method="exact")
    with pytest.raises(ValueError, match="cluster_ci"):
        diagnostic_accuracy(lesions, "test_a", "truth", cluster="patient", cluster_ci="boot")


def test_boolean_and_nullable_columns(lesions):
    d = pd.DataFrame({"t": lesions["test_a"].astype(bool),
                      "y": lesions["truth"].astype("boolean")})
    assert diagnostic_accuracy(d, "t", "y").counts == {"TP": 57, "FP": 10, "FN": 9, "TN": 34}
    d["t"] = d["t"].astype("boolean")
    d.loc[0, "t"] = pd.NA
    assert diagnostic_accuracy(d, "t", "y", indeterminate="exclude").n == 109


def test_no_diseased_units_is_not_estimable():
    d = pd.DataFrame({"t": [0, 1, 0, 0], "y": [0, 0, 0, 0], "p": ["a", "a", "b", "c"]})
    t = diagnostic_accuracy(d, "t", "y", cluster="p").table.set_index("measure")
    assert math.isnan(t.loc["sensitivity", "estimate"])
    assert t.loc["sensitivity", "note"] == "0/0: not estimable"
    assert math.isnan(t.loc["sensitivity", "cluster_lower"])
    assert t.loc["specificity", "estimate"] == 0.75
    assert t.loc["lr_positive", "note"].startswith("not estimable: no diseased units")
    assert math.isnan(t.loc["ppv", "lower"]) is False  # PPV = 0/1 is estimable


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 12), min_size=2, max_size=15),
       method=st.sampled_from(CI_METHODS), data=st.data())
def test_cluster_interval_never_narrows_with_one_more_miss(sizes, method, data):
    """At 100 % (and 0 %) the design effect is not estimable; the rule used keeps the
    cluster-adjusted bounds monotone: one more missed lesion never raises the lower bound."""
    codes = np.repeat(np.arange(len(sizes)), sizes)
    all_hit = clustered_proportion_ci(np.ones(codes.size), codes, method)
    none_hit = clustered_proportion_ci(np.zeros(codes.size), codes, method)
    j = data.draw(st.integers(0, len(sizes) - 1))
    one_miss = np.ones(codes.size)
    one_miss[np.flatnonzero(codes == j)[0]] = 0.0
    miss = clustered_proportion_ci(one_miss, codes, method)
    hit = clustered_proportion_ci(1.0 - one_miss, codes, method)
    assert all_hit.effective_lower >= miss.effective_lower - 1e-12
    assert none_hit.effective_upper <= hit.effective_upper + 1e-12
    assert all_hit.effective_upper == 1.0 and none_hit.effective_lower == 0.0
    assert "one unit changed" in all_hit.note


def test_cluster_interval_at_100_percent_example():
    """Reviewer's example: 14 patients, 95 lesions all detected."""
    sizes = [11, 3, 7, 12, 9, 12, 11, 3, 6, 1, 4, 8, 6, 2]
    codes = np.repeat(np.arange(len(sizes)), sizes)
    full = clustered_proportion_ci(np.ones(95), codes)
    # the smallest design effect one unit away is 0.904 (< 1, truncated): Wilson 95/95
    assert full.design_effect == pytest.approx(0.9045, abs=1e-4)
    assert full.effective_lower == pytest.approx(95 / (95 + 1.959963984540054**2), rel=1e-12)
