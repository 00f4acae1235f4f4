"""nethelpers.stats.roc_analysis against R (pROC, doAUCcluster), brute force and properties.

Reference numbers: tests/reference/roc_reference.R (run it from the repository root to
regenerate tests/data/stats_reference/roc_*.json). Deterministic quantities must agree to
1e-12. Bootstrap numbers come from a different RNG and agree within Monte-Carlo tolerances,
set at >= 4 standard deviations of the difference (estimated from 40 seeds on aSAH):
AUC percentile limits ± 0.02 (SD of one limit ≈ 0.003), bootstrap variance ± 15 % (SD ≈ 3 %),
pROC's bootstrap D ± 0.15 (SD ≈ 0.02) and its p ± 0.04 (SD ≈ 0.006), Youden ci.coords limits
± 0.1 (SD ≈ 0.02; pROC breaks ties at random, we by the highest sensitivity).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nethelpers.stats import roc_analysis as roc_mod
from nethelpers.stats.roc_analysis import (
    AucCI,
    AucComparison,
    Roc,
    YoudenResult,
    clustered_auc,
    compare_auc,
    compare_clustered_auc,
    roc,
)

REF = Path(__file__).parent / "data" / "stats_reference"
TOL = 1e-12


def _load(name: str) -> dict:
    return json.loads((REF / name).read_text())


def _floats(values) -> np.ndarray:
    """JSON list -> float array ("Inf"/"-Inf" strings, null -> NaN)."""
    if not isinstance(values, list):
        values = [values]
    return np.array([math.nan if v is None else float(v) for v in values], dtype=float)


@pytest.fixture(scope="module")
def asah() -> pd.DataFrame:
    return pd.read_csv(REF / "asah.csv")


@pytest.fixture(scope="module")
def asah_ref() -> dict:
    return _load("roc_asah.json")


@pytest.fixture(scope="module")
def synthetic() -> dict[str, pd.DataFrame]:
    df = pd.read_csv(REF / "roc_synthetic.csv")
    return {name: g.reset_index(drop=True) for name, g in df.groupby("dataset", sort=False)}


SYN_REF = _load("roc_synthetic.json")["datasets"]
CLU_REF = _load("roc_clustered.json")


# ---------------------------------------------------------------------------------------------
# Helpers: what pROC reports, checked field by field
# ---------------------------------------------------------------------------------------------
def _proc_float_best(coords: pd.DataFrame) -> list[float]:
    """pROC's own rule: rows whose floating-point se + sp equals the maximum."""
    crit = coords["sensitivity"].to_numpy() + coords["specificity"].to_numpy()
    return list(coords["threshold"].to_numpy()[crit == crit.max()])


def _check_against_proc(r: Roc, ref: dict) -> None:
    assert r.direction == ref["direction"]
    assert (r.n_cases, r.n_controls) == (ref["n_cases"], ref["n_controls"])
    assert r.auc == pytest.approx(ref["auc"], abs=TOL)

    ci_ref = _floats(ref["ci_delong"])
    ci = r.ci("delong")
    assert ci.lower == pytest.approx(ci_ref[0], abs=TOL)
    assert ci.upper == pytest.approx(ci_ref[2], abs=TOL)
    assert ci.se**2 == pytest.approx(ref["var_delong"], abs=TOL)
    assert r.delong_variance() == pytest.approx(ref["var_delong"], abs=TOL)

    co = r.coords()
    rc = ref["coords"]
    np.testing.assert_array_equal(co["threshold"].to_numpy(), _floats(rc["threshold"]))
    for col in ("sensitivity", "specificity"):
        np.testing.assert_allclose(co[col].to_numpy(), _floats(rc[col]), rtol=0, atol=TOL)
    for col in ("tp", "fp", "tn", "fn"):
        # pROC derives the counts from the proportions in floating point (12.999999999999996)
        np.testing.assert_allclose(co[col].to_numpy(), _floats(rc[col]), rtol=0, atol=1e-9)

    best = r.youden()
    proc_best = list(_floats(ref["best_youden"]["threshold"]))
    # pROC's tie set is its floating-point rule applied to these very coordinates ...
    assert proc_best == _proc_float_best(co)
    # ... and is contained in ours (exact arithmetic); equal unless rounding broke a tie
    assert set(proc_best) <= set(best.ties)
    exact = co["tp"] * r.n_controls + co["tn"] * r.n_cases
    assert list(best.ties) == list(co["threshold"][exact == exact.max()])
    if len(proc_best) == len(best.ties):
        i = 0
        assert best.threshold == proc_best[0]
        assert best.sensitivity == pytest.approx(ref["best_youden"]["sensitivity"][i], abs=TOL)
        assert best.specificity == pytest.approx(ref["best_youden"]["specificity"][i], abs=TOL)
        assert best.j + 1 == pytest.approx(ref["best_youden"]["youden"][i], abs=TOL)


# ---------------------------------------------------------------------------------------------
# R reference agreement: aSAH
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key, column, direction", [
    ("s100b", "s100b", "auto"), ("ndka", "ndka", "auto"), ("wfns", "wfns", "auto"),
    ("s100b_gt", "s100b", ">"),
])
def test_asah_matches_proc(asah, asah_ref, key, column, direction):
    r = roc(asah["outcome"], asah[column], positive="Poor", direction=direction)
    _check_against_proc(r, asah_ref["rocs"][key])


@pytest.mark.parametrize("pair", ["s100b_ndka", "s100b_wfns", "ndka_wfns"])
def test_asah_paired_delong_matches_proc(asah, asah_ref, pair):
    a, b = pair.split("_")
    ref = asah_ref["roc_test_delong"][pair]
    res = compare_auc(asah["outcome"], asah[a], asah[b], positive="Poor")
    assert isinstance(res, AucComparison)
    assert res.z == pytest.approx(ref["z"], abs=TOL)
    assert res.p == pytest.approx(ref["p"], abs=TOL)
    assert (res.lower, res.upper) == pytest.approx(tuple(ref["conf_int"]), abs=TOL)
    assert (res.auc_a, res.auc_b) == pytest.approx(tuple(ref["auc"]), abs=TOL)
    assert res.difference == pytest.approx(res.auc_a - res.auc_b, abs=0)
    assert "DeLong" in res.method


def test_asah_unpaired_delong_matches_proc(asah, asah_ref):
    ref = asah_ref["roc_test_delong_unpaired"]
    men = asah["gender"] == "Male"
    res = compare_auc(asah["outcome"][men], asah["s100b"][men], asah["ndka"][~men],
                      y_true_b=asah["outcome"][~men], paired=False, positive="Poor")
    assert res.z == pytest.approx(ref["statistic_d"], abs=TOL)
    assert res.df == pytest.approx(ref["df"], abs=1e-9)
    assert res.p == pytest.approx(ref["p"], abs=TOL)
    assert (res.auc_a, res.auc_b) == pytest.approx(tuple(ref["auc"]), abs=TOL)


def test_asah_bootstrap_within_tolerance(asah, asah_ref):
    ref = asah_ref["bootstrap"]
    r = roc(asah["outcome"], asah["s100b"], positive="Poor")
    ci = r.ci("bootstrap", n_boot=2000, seed=1)
    assert ci.n_boot == 2000 and ci.seed == 1 and "stratified" in ci.method
    assert ci.auc == r.auc
    assert ci.lower == pytest.approx(ref["ci_auc_stratified"][0], abs=0.02)
    assert ci.upper == pytest.approx(ref["ci_auc_stratified"][2], abs=0.02)
    assert ci.se**2 == pytest.approx(ref["var_auc_stratified"], rel=0.15)
    ns = r.ci("bootstrap", n_boot=2000, seed=1, stratified=False)
    assert "non-stratified" in ns.method
    assert ns.lower == pytest.approx(ref["ci_auc_nonstratified"][0], abs=0.02)
    assert ns.upper == pytest.approx(ref["ci_auc_nonstratified"][2], abs=0.02)

    t = compare_auc(asah["outcome"], asah["s100b"], asah["ndka"], positive="Poor",
                    method="bootstrap", n_boot=2000, seed=1)
    assert t.z == pytest.approx(ref["roc_test_s100b_ndka"]["d"], abs=0.15)
    assert t.p == pytest.approx(ref["roc_test_s100b_ndka"]["p"], abs=0.04)
    assert t.lower < t.difference < t.upper

    y = r.youden(ci=True, n_boot=2000, seed=1)
    cc = ref["ci_coords_best_youden"]
    assert y.threshold_ci == pytest.approx((cc["threshold"][0], cc["threshold"][2]), abs=0.1)
    assert y.sensitivity_ci == pytest.approx((cc["sensitivity"][0], cc["sensitivity"][2]),
                                             abs=0.1)
    assert y.specificity_ci == pytest.approx((cc["specificity"][0], cc["specificity"][2]),
                                             abs=0.1)


# ---------------------------------------------------------------------------------------------
# R reference agreement: synthetic sets (heavy ties, small n, degenerate curves, near ties)
# ---------------------------------------------------------------------------------------------
SYN_CASES = [(name, key) for name in SYN_REF for key in ("a", "b", "a_flipped", "b_flipped")]


@pytest.mark.parametrize("name, key", SYN_CASES, ids=[f"{n}-{k}" for n, k in SYN_CASES])
def test_synthetic_matches_proc(synthetic, name, key):
    d = synthetic[name]
    ref = SYN_REF[name]["rocs"][key]
    direction = ref["direction"] if key.endswith("flipped") else "auto"
    r = roc(d["y"], d[key[0]], direction=direction)
    _check_against_proc(r, ref)


@pytest.mark.parametrize("name", list(SYN_REF))
def test_synthetic_paired_delong_matches_proc(synthetic, name):
    d = synthetic[name]
    ref = SYN_REF[name]["roc_test_delong"]
    res = compare_auc(d["y"], d["a"], d["b"])
    assert res.z == pytest.approx(ref["z"], abs=TOL)
    assert res.p == pytest.approx(ref["p"], abs=TOL)
    assert (res.lower, res.upper) == pytest.approx(tuple(ref["conf_int"]), abs=TOL)


def test_youden_float_tie_documented(synthetic):
    """pROC's float comparison drops the tie at 1.5 (1 + 0.7 != 0.9 + 0.8); we keep both."""
    d = synthetic["youden_float_tie"]
    y = roc(d["y"], d["a"]).youden()
    assert y.ties == (1.5, 4.0)
    assert (y.threshold, y.sensitivity, y.specificity) == (1.5, 1.0, 0.7)
    assert y.j == pytest.approx(0.7, abs=1e-15)
    assert SYN_REF["youden_float_tie"]["rocs"]["a"]["best_youden"]["threshold"] == [4]


def test_near_ties_thresholds_separate_adjacent_doubles(synthetic):
    d = synthetic["near_ties"]
    for direction in ("<", ">"):
        co = roc(d["y"], d["a"], direction=direction).coords()
        t = co["threshold"].to_numpy()
        # the threshold between 1 and its successor is the successor (for "<") or 1 (">")
        expected = 1 + 2.0**-52 if direction == "<" else 1.0
        assert expected in t
        assert np.isfinite(t[1:-1]).all()  # huge values: a/2 + b/2, no overflow


# ---------------------------------------------------------------------------------------------
# Clustered AUC: doAUCcluster (R, public CC0 code) and the DeLong relation
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mitotic() -> pd.DataFrame:
    return pd.read_csv(REF / "roc_mitotic_scannerA.csv")


@pytest.mark.parametrize("observer", [f"observer.{k}" for k in range(1, 6)])
def test_clustered_matches_doauccluster_mitotic(mitotic, observer):
    ref = CLU_REF["mitotic"]["single"][observer]
    res = clustered_auc(mitotic["truth"], mitotic[observer], mitotic["roiID"], direction="<")
    assert isinstance(res, AucCI)
    assert res.n_clusters == ref["n_clusters"] == 38
    assert res.auc == pytest.approx(ref["auc"], abs=TOL)
    assert res.se**2 == pytest.approx(ref["var"], abs=TOL)
    assert res.se == pytest.approx(ref["se"], abs=TOL)
    assert (res.lower, res.upper) == pytest.approx(tuple(ref["ci"]), abs=TOL)
    assert "Obuchowski" in res.method


def test_clustered_matches_doauccluster_few_clusters(mitotic):
    ref = CLU_REF["mitotic"]["observer.1_by_wsi"]
    res = clustered_auc(mitotic["truth"], mitotic["observer.1"], mitotic["wsiName"])
    assert res.n_clusters == 4
    assert res.se**2 == pytest.approx(ref["var"], abs=TOL)


@pytest.mark.parametrize("pair", ["observer.1_observer.2", "observer.3_observer.5"])
def test_compare_clustered_matches_doauccluster(mitotic, pair):
    a, b = pair.split("_")
    ref = CLU_REF["mitotic"]["paired"][pair]
    res = compare_clustered_auc(mitotic["truth"], mitotic[a], mitotic[b], mitotic["roiID"],
                                direction="<")
    assert (res.auc_a, res.auc_b) == pytest.approx((ref["auc_a"], ref["auc_b"]), abs=TOL)
    assert abs(res.difference) == pytest.approx(ref["abs_diff"], abs=TOL)
    assert res.se**2 == pytest.approx(ref["var_diff"], abs=TOL)
    assert res.p == pytest.approx(ref["p"], abs=1e-9)


def test_clustered_matches_doauccluster_synthetic():
    d = pd.read_csv(REF / "roc_clustered_synthetic.csv")
    ref = CLU_REF["synthetic"]
    for key in ("a", "b"):
        res = clustered_auc(d["truth"], d[key], d["patient"], direction="<")
        assert res.auc == pytest.approx(ref[key]["auc"], abs=TOL)
        assert res.se**2 == pytest.approx(ref[key]["var"], abs=TOL)
        assert (res.lower, res.upper) == pytest.approx(tuple(ref[key]["ci"]), abs=TOL)
    cmp = compare_clustered_auc(d["truth"], d["a"], d["b"], d["patient"], direction="<")
    assert cmp.se**2 == pytest.approx(ref["a_b"]["var_diff"], abs=TOL)
    assert cmp.difference == pytest.approx(ref["a_b"]["abs_diff"], abs=TOL)
    assert cmp.p == pytest.approx(ref["a_b"]["p"], abs=1e-9)


def test_one_unit_per_cluster_equals_delong_exactly(asah):
    """I10 = M, I01 = N, S11 = 0: Obuchowski's variance *is* DeLong's (pROC var)."""
    ref = CLU_REF["one_unit_per_cluster"]
    ids = np.arange(len(asah))
    c = clustered_auc(asah["outcome"], asah["s100b"], ids, positive="Poor")
    r = roc(asah["outcome"], asah["s100b"], positive="Poor")
    assert c.se**2 == pytest.approx(r.delong_variance(), rel=1e-14)
    assert c.se**2 == pytest.approx(ref["proc_var_delong_s100b"], rel=1e-14)
    assert ref["s100b"]["var"] == pytest.approx(ref["proc_var_delong_s100b"], rel=1e-14)
    d = r.ci()
    assert (c.lower, c.upper) == pytest.approx((d.lower, d.upper), abs=1e-15)
    cc = compare_clustered_auc(asah["outcome"], asah["s100b"], asah["ndka"], ids,
                               positive="Poor")
    dl = compare_auc(asah["outcome"], asah["s100b"], asah["ndka"], positive="Poor")
    assert cc.z == pytest.approx(dl.z, rel=1e-13)
    assert cc.p == pytest.approx(ref["proc_roc_test_s100b_ndka"]["p"], abs=TOL)


def _obuchowski_direct(y, s, cl):
    """Obuchowski (1997) by brute force from the ψ matrix (independent of the module)."""
    y, s, cl = np.asarray(y), np.asarray(s, float), np.asarray(cl)
    x, z = s[y == 1], s[y == 0]
    cx, cz = cl[y == 1], cl[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    mm, nn = len(x), len(z)
    theta = psi.mean()
    ids = np.unique(cl)
    a = np.array([psi[cx == i].sum() / nn - (cx == i).sum() * theta for i in ids])
    b = np.array([psi[:, cz == i].sum() / mm - (cz == i).sum() * theta for i in ids])
    i10 = sum((cx == i).any() for i in ids)
    i01 = sum((cz == i).any() for i in ids)
    k = len(ids)
    s10 = i10 / ((i10 - 1) * mm) * (a @ a)
    s01 = i01 / ((i01 - 1) * nn) * (b @ b)
    s11 = k / (k - 1) * (a @ b)
    return theta, s10 / mm + s01 / nn + 2 * s11 / (mm * nn)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_clustered_equals_direct_formula(seed):
    rng = np.random.default_rng(seed)
    n_pat = int(rng.integers(4, 15))
    sizes = rng.integers(1, 5, n_pat)
    cl = np.repeat(np.arange(n_pat), sizes)
    y = rng.integers(0, 2, cl.size)
    if (np.unique(cl[y == 1]).size < 2) or (np.unique(cl[y == 0]).size < 2):
        return
    s = rng.integers(0, 5, cl.size).astype(float) + y
    theta, var = _obuchowski_direct(y, s, cl)
    res = clustered_auc(y, s, cl, direction="<")
    assert res.auc == pytest.approx(theta, abs=TOL)
    assert res.se**2 == pytest.approx(var, abs=TOL)


# ---------------------------------------------------------------------------------------------
# DeLong: the O(n log n) midrank algorithm equals a direct O(n²) implementation
# ---------------------------------------------------------------------------------------------
def _delong_direct(cases, controls):
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), v10, v01


scores = st.lists(st.integers(-5, 5), min_size=2, max_size=40)
float_scores = st.lists(st.floats(-1e6, 1e6, allow_nan=False, width=32), min_size=2,
                        max_size=40)


def _data(cases, controls):
    s = np.array(cases + controls, dtype=float)
    y = np.r_[np.ones(len(cases), int), np.zeros(len(controls), int)]
    return y, s


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.tuples(scores, scores), st.tuples(float_scores, float_scores)))
def test_delong_fast_equals_direct(data):
    cases, controls = data
    y, s = _data(cases, controls)
    r = roc(y, s, direction="<")
    auc, v10, v01 = _delong_direct(np.array(cases, float), np.array(controls, float))
    assert r.auc == pytest.approx(auc, abs=TOL)
    f10, f01 = r._delong
    np.testing.assert_allclose(f10, v10, rtol=0, atol=TOL)
    np.testing.assert_allclose(f01, v01, rtol=0, atol=TOL)
    var = np.var(v10, ddof=1) / len(cases) + np.var(v01, ddof=1) / len(controls)
    assert r.delong_variance() == pytest.approx(var, abs=TOL)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6), st.integers(0, 6)),
                min_size=6, max_size=40))
def test_paired_delong_equals_direct(rows):
    y = np.array([r[0] for r in rows])
    if y.sum() < 2 or (1 - y).sum() < 2:
        return
    a = np.array([r[1] for r in rows], float)
    b = np.array([r[2] for r in rows], float)
    res = compare_auc(y, a, b, direction="<")
    ta, xa, ya = _delong_direct(a[y == 1], a[y == 0])
    tb, xb, yb = _delong_direct(b[y == 1], b[y == 0])
    m, n = y.sum(), (1 - y).sum()
    var = (np.var(xa - xb, ddof=1) / m + np.var(ya - yb, ddof=1) / n)
    assert res.difference == pytest.approx(ta - tb, abs=TOL)
    assert res.se**2 == pytest.approx(var, abs=TOL)


# ---------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(st.tuples(scores, scores), st.sampled_from(["auto", "<", ">"]))
def test_auc_range_and_delong_ci_order(data, direction):
    y, s = _data(*data)
    r = roc(y, s, direction=direction)
    assert 0.0 <= r.auc <= 1.0
    ci = r.ci()
    assert 0.0 <= ci.lower <= r.auc <= ci.upper <= 1.0
    assert ci.se >= 0.0


@settings(max_examples=100, deadline=None)
@given(st.tuples(scores, scores))
def test_auc_of_negated_score(data):
    y, s = _data(*data)
    a = roc(y, s, direction="<")
    b = roc(y, -s, direction="<")
    assert a.auc == pytest.approx(1.0 - b.auc, abs=TOL)
    # ">" on s is "<" on -s, exactly, including the variance
    c = roc(y, s, direction=">")
    assert c.auc == b.auc
    assert c.delong_variance() == pytest.approx(b.delong_variance(), abs=TOL)


@settings(max_examples=100, deadline=None)
@given(st.tuples(scores, scores), st.sampled_from(["<", ">"]))
def test_invariance_to_monotone_transforms(data, direction):
    y, s = _data(*data)
    base = roc(y, s, direction=direction)
    for t in (np.exp(s / 7.0), s**3 + s, 10.0 * s - 3.0):
        r = roc(y, t, direction=direction)
        assert r.auc == base.auc
        assert r.delong_variance() == pytest.approx(base.delong_variance(), abs=TOL)
        cb, cr = base.coords(), r.coords()
        np.testing.assert_array_equal(cb[["tp", "fp", "tn", "fn"]], cr[["tp", "fp", "tn", "fn"]])
        yb, yr = base.youden(), r.youden()
        assert (yb.sensitivity, yb.specificity, len(yb.ties)) == (
            yr.sensitivity, yr.specificity, len(yr.ties))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(scores, scores))
def test_coords_are_consistent(data):
    y, s = _data(*data)
    r = roc(y, s)
    co = r.coords()
    assert co["threshold"].iloc[0] in (-np.inf, np.inf)
    assert np.all(np.diff(co["specificity"]) >= 0)
    assert np.all((co["tp"] + co["fn"]) == r.n_cases)
    assert np.all((co["tn"] + co["fp"]) == r.n_controls)
    assert len(co) == np.unique(s).size + 1
    # every row is what the threshold rule says
    for row in co.itertuples():
        pos = s >= row.threshold if r.direction == "<" else s <= row.threshold
        assert row.tp == int((pos & (y == 1)).sum())
        assert row.fp == int((pos & (y == 0)).sum())


# ---------------------------------------------------------------------------------------------
# Bootstrap engine: the vectorised replicates equal a replicate-by-replicate computation
# ---------------------------------------------------------------------------------------------
def _replay_draws(seed, n_boot, m, n):
    rng = np.random.default_rng(seed)  # one chunk for small data: cases, then controls
    return rng.integers(0, m, size=(n_boot, m)), rng.integers(0, n, size=(n_boot, n))


@pytest.mark.parametrize("direction", ["<", ">"])
def test_bootstrap_replicates_equal_naive(direction):
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(15, int), np.zeros(20, int)]
    s = np.round(rng.normal(size=35) + 0.8 * y, 1)
    r = roc(y, s, direction=direction)
    n_boot = 50
    ii, jj = _replay_draws(11, n_boot, r.n_cases, r.n_controls)
    aucs = r._boot_aucs(n_boot, 11, True)
    best = r._boot_youden(n_boot, 11, True)
    for b in range(n_boot):
        xb, yb = r.cases[ii[b]], r.controls[jj[b]]
        rb = roc(np.r_[np.ones(xb.size), np.zeros(yb.size)], np.r_[xb, yb],
                 direction=direction)
        assert aucs[b] == pytest.approx(rb.auc, abs=TOL)
        yd = rb.youden()
        assert best[b, 0] == yd.threshold
        assert (best[b, 1], best[b, 2]) == (yd.sensitivity, yd.specificity)


def test_bootstrap_is_deterministic_with_a_seed(asah):
    r = roc(asah["outcome"], asah["ndka"], positive="Poor")
    a = r.ci("bootstrap", n_boot=500, seed=42)
    b = r.ci("bootstrap", n_boot=500, seed=42)
    c = r.ci("bootstrap", n_boot=500, seed=43)
    assert a == b
    assert (a.lower, a.upper) != (c.lower, c.upper)
    y1 = r.youden(ci=True, n_boot=300, seed=5)
    y2 = r.youden(ci=True, n_boot=300, seed=5)
    assert y1 == y2
    t1 = compare_auc(asah["outcome"], asah["s100b"], asah["ndka"], positive="Poor",
                     method="bootstrap", n_boot=300, seed=9, stratified=False)
    t2 = compare_auc(asah["outcome"], asah["s100b"], asah["ndka"], positive="Poor",
                     method="bootstrap", n_boot=300, seed=9, stratified=False)
    assert t1 == t2
    # unseeded runs work and give sensible intervals
    u = r.ci("bootstrap", n_boot=200)
    assert u.seed is None and u.lower < r.auc < u.upper


def test_bootstrap_large_n_is_chunked_and_consistent():
    rng = np.random.default_rng(0)
    n = 20_000
    y = rng.integers(0, 2, n)
    s = rng.normal(size=n) + 0.5 * y
    r = roc(y, s)
    ci = r.ci("bootstrap", n_boot=200, seed=1)
    assert ci.se == pytest.approx(math.sqrt(r.delong_variance()), rel=0.25)


def test_bootstrap_2000_replicates_n500_is_fast():
    rng = np.random.default_rng(1)
    y = np.r_[np.ones(250, int), np.zeros(250, int)]
    s = rng.normal(size=500) + y
    r = roc(y, s)
    r.ci("bootstrap", n_boot=50, seed=0)  # warm-up
    t0 = time.perf_counter()
    ci = r.ci("bootstrap", n_boot=2000, seed=0)
    elapsed = time.perf_counter() - t0
    assert ci.n_boot == 2000
    assert elapsed < 5.0, f"2000 bootstrap replicates at n = 500 took {elapsed:.2f} s"


def test_percentile_is_r_type7_and_never_nan():
    rng = np.random.default_rng(0)
    v = rng.normal(size=1999)
    np.testing.assert_allclose(roc_mod._percentile(v, 0.9), np.quantile(v, [0.05, 0.95]),
                               rtol=0, atol=1e-12)
    # R: quantile(c(-Inf, -Inf, x, Inf), 0.025) is -Inf (numpy's lerp gives NaN)
    w = np.r_[-np.inf, -np.inf, rng.normal(size=40), np.inf]
    lo, hi = roc_mod._percentile(w, 0.95)
    assert lo == -np.inf and np.isfinite(hi)


def test_youden_bootstrap_with_infinite_best_thresholds_has_no_nan():
    y = [1, 1, 1, 0, 0, 0]
    s = [1.0, 2.0, 3.0, 1.0, 2.0, 2.5]
    res = roc(y, s, direction="<").youden(ci=True, n_boot=300, seed=0)
    assert not any(math.isnan(v) for ci in (res.threshold_ci, res.sensitivity_ci,
                                            res.specificity_ci, res.j_ci) for v in ci)


def test_nonstratified_bootstrap_drops_single_class_replicates():
    y = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])
    s = np.arange(10.0)
    r = roc(y, s, direction="<")
    ci = r.ci("bootstrap", n_boot=400, seed=2, stratified=False)
    assert "dropped" in ci.note and ci.lower <= ci.upper


# ---------------------------------------------------------------------------------------------
# Inputs and edge cases
# ---------------------------------------------------------------------------------------------
def test_label_types_agree(asah):
    poor = asah["outcome"] == "Poor"
    a = roc(asah["outcome"], asah["s100b"], positive="Poor")
    b = roc(poor, asah["s100b"])
    c = roc(poor.astype(int).to_numpy(), asah["s100b"].to_list())
    d = roc(poor.astype(int), asah["s100b"], positive=1)
    assert a.auc == b.auc == c.auc == d.auc
    assert b.positive == 1


def test_direction_rule_recorded_and_median_tie_goes_to_less(synthetic):
    d = synthetic["median_tie"]
    r = roc(d["y"], d["a"])
    assert r.direction == "<" and r.auc < 0.5
    assert "median of controls 5 <= median of cases 5" in r.direction_rule
    r2 = roc(synthetic["reverse"]["y"], synthetic["reverse"]["a"])
    assert r2.direction == ">" and "lower score means positive" in r2.direction_rule
    assert "fixed" in roc(d["y"], d["a"], direction=">").direction_rule


def test_single_class_raises_with_counts():
    with pytest.raises(ValueError, match=r"single class: 0 case\(s\).*and 4 control\(s\)"):
        roc([0, 0, 0, 0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=r"single class: 3 case\(s\)"):
        roc([1, 1, 1], [1.0, 2.0, 3.0])


def test_nan_scores_raise_with_count():
    with pytest.raises(ValueError, match="2 NaN values of 5"):
        roc([0, 1, 0, 1, 1], [1.0, np.nan, 2.0, np.nan, 3.0])
    with pytest.raises(ValueError, match="1 infinite value"):
        roc([0, 1, 0, 1], [1.0, np.inf, 2.0, 3.0])
    with pytest.raises(ValueError, match="1 missing label"):
        roc(np.array([0, 1, np.nan, 1]), [1.0, 2.0, 2.0, 3.0])


def test_bad_labels_raise():
    with pytest.raises(ValueError, match="say which one is the case with positive="):
        roc(["a", "b", "a"], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="say which one is the case"):
        roc([1, 2, 2], [1.0, 2.0, 3.0])          # 1/2 coding: never guessed (pROC takes 2)
    with pytest.raises(ValueError, match="positive='c' is not among the labels"):
        roc(["a", "b", "a"], [1.0, 2.0, 3.0], positive="c")
    with pytest.raises(ValueError, match="3 labels"):
        roc([0, 1, 2], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="has 2 values but the score has 3"):
        roc([0, 1], [1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="numeric"):
        roc([0, 1], ["x", "y"])
    with pytest.raises(ValueError, match="direction"):
        roc([0, 1], [1.0, 2.0], direction="up")
    with pytest.raises(ValueError, match="level"):
        roc([0, 1], [1.0, 2.0], level=95)


def test_all_tied_gives_half_and_degenerate_delong():
    r = roc([1, 1, 0, 0, 0], [3.0] * 5)
    assert r.auc == 0.5 and r.direction == "<"
    ci = r.ci()
    assert (ci.lower, ci.upper, ci.se) == (0.5, 0.5, 0.0)
    assert "degenerate" in ci.note
    co = r.coords()
    assert list(co["threshold"]) == [-np.inf, np.inf]
    assert r.youden().ties == (-np.inf, np.inf)


def test_perfect_separation():
    r = roc([1, 1, 1, 0, 0, 0], [4.0, 5.0, 6.0, 1.0, 2.0, 3.0])
    ci = r.ci()
    assert (r.auc, ci.lower, ci.upper, ci.se) == (1.0, 1.0, 1.0, 0.0)
    y = r.youden()
    assert (y.threshold, y.j, y.ties) == (3.5, 1.0, (3.5,))
    both = compare_auc([1, 1, 1, 0, 0, 0], [4.0, 5, 6, 1, 2, 3], [4.0, 5, 6, 1, 2, 3])
    assert (both.z, both.p) == (0.0, 1.0) and "Z = 0" in both.note


def test_one_case_auc_defined_but_cis_raise():
    y = [1, 0, 0, 0, 0]
    s = [3.0, 1.0, 2.0, 4.0, 0.0]
    r = roc(y, s)
    assert r.auc == 0.75
    assert r.youden().sensitivity == 1.0
    with pytest.raises(ValueError, match=r"at least 2 cases and 2 controls, got 1 case"):
        r.ci()
    with pytest.raises(ValueError, match="at least 2 cases"):
        r.ci("bootstrap", seed=1)
    with pytest.raises(ValueError, match="at least 2 cases"):
        r.youden(ci=True)
    with pytest.raises(ValueError, match="at least 2 cases"):
        compare_auc(y, s, s)
    with pytest.raises(ValueError, match="method"):
        roc([1, 1, 0, 0], [1.0, 2, 3, 4]).ci("wald")


def test_compare_auc_arguments():
    y = [1, 1, 1, 0, 0, 0]
    with pytest.raises(ValueError, match="y_true_b is for unpaired"):
        compare_auc(y, [1.0] * 6, [2.0] * 6, y_true_b=y)
    res = compare_auc(y, [3.0, 2, 5, 1, 2, 0], [6.0, 5, 4, 3, 2, 1], paired=False)
    assert res.df is not None and "unpaired" in res.method
    mixed = compare_auc(y, [3.0, 2, 5, 1, 2, 0], [1.0, 2, 3, 4, 5, 6])
    assert mixed.direction_b == ">" and "different directions" in mixed.note
    with pytest.raises(ValueError, match="method"):
        compare_auc(y, [3.0, 2, 5, 1, 2, 0], [6.0, 5, 4, 3, 2, 1], method="venkatraman")


def test_unpaired_bootstrap_two_samples(asah):
    men = asah["gender"] == "Male"
    kw = dict(y_true_b=asah["outcome"][~men], paired=False, positive="Poor",
              method="bootstrap", n_boot=1000, seed=3)
    res = compare_auc(asah["outcome"][men], asah["s100b"][men], asah["ndka"][~men], **kw)
    dl = compare_auc(asah["outcome"][men], asah["s100b"][men], asah["ndka"][~men],
                     y_true_b=asah["outcome"][~men], paired=False, positive="Poor")
    assert "unpaired" in res.method and res.n_boot == 1000
    assert res.difference == dl.difference
    assert res.se == pytest.approx(dl.se, rel=0.2)  # bootstrap SD ≈ DeLong SE


def test_clustered_edge_cases():
    with pytest.raises(ValueError, match="at least 2 clusters with a case"):
        clustered_auc([1, 1, 0, 0], [3.0, 4, 1, 2], ["p1", "p1", "p1", "p2"])
    with pytest.raises(ValueError, match="cluster has 3 values"):
        clustered_auc([1, 1, 0, 0], [3.0, 4, 1, 2], ["p1", "p1", "p2"])
    with pytest.raises(ValueError, match="missing"):
        clustered_auc([1, 1, 0, 0], [3.0, 4, 1, 2], ["p1", None, "p2", "p3"])


def test_results_are_frozen(asah):
    r = roc(asah["outcome"], asah["s100b"], positive="Poor")
    y = r.youden()
    assert isinstance(y, YoudenResult)
    with pytest.raises(AttributeError):
        r.auc = 0.5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        y.threshold = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.cases[0] = 1.0


def test_module_exports():
    assert set(roc_mod.__all__) >= {"roc", "compare_auc", "clustered_auc",
                                    "compare_clustered_auc", "Roc", "AucCI", "AucComparison",
                                    "YoudenResult"}
