"""Wilcoxon signed-rank and paired t against R (wilcox.test, t.test), scipy and enumeration.

Reference numbers: tests/data/stats_reference/agreement_reference.json, written by
tests/reference/agreement_reference.R (R 4.2.2).
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from nethelpers.stats.paired import (
    PairedTResult,
    WilcoxonResult,
    _r_qnorm,
    paired_t,
    wilcoxon,
)

REF = Path(__file__).parent / "data" / "stats_reference" / "agreement_reference.json"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(REF.read_text())


def _all_wilcoxon_cases() -> list[tuple[str, dict]]:
    w = json.loads(REF.read_text())["wilcoxon"]
    named = [(k, v) for k, v in w.items() if k != "random"]
    return named + [(f"random{i:02d}", v) for i, v in enumerate(w["random"])]


WILCOXON_CASES = _all_wilcoxon_cases()


@pytest.mark.parametrize(("name", "case"), WILCOXON_CASES, ids=[n for n, _ in WILCOXON_CASES])
def test_wilcoxon_equals_r(name, case):
    """V, p, (pseudo)median, CI and reported conf.level of wilcox.test(paired, conf.int)."""
    res = wilcoxon(case["x"], case["y"], level=case["level"], tol_root=case["tol_root"])
    assert isinstance(res, WilcoxonResult)
    assert res.statistic == case["V"]
    assert res.p == pytest.approx(case["p"], rel=1e-12, abs=1e-300)
    # R's uniroot is ported, so even the approximate CI matches far below tol.root
    assert res.estimate == pytest.approx(case["estimate"], abs=1e-12)
    assert res.lower == pytest.approx(case["lower"], abs=1e-12)
    assert res.upper == pytest.approx(case["upper"], abs=1e-12)
    assert res.ci_level == pytest.approx(case["conf_level"], abs=1e-15)
    assert res.method.startswith(case["method"])
    assert res.exact == ("exact" in case["method"])
    assert (res.ci_level < case["level"]) == ("not achievable" in res.note)


def test_reference_covers_the_branches(ref):
    w = ref["wilcoxon"]
    assert "exact" in w["exact12"]["method"] and "exact" in w["n49"]["method"]
    assert "continuity" in w["n50"]["method"]  # R: exact only for n < 50
    assert "continuity" in w["ties_zeros20"]["method"]
    assert w["small3"]["conf_level"] < 0.95 and w["approx_small5"]["conf_level"] < 0.95
    random = w["random"]
    assert sum("exact" in c["method"] for c in random) >= 2
    assert sum(np.any(np.subtract(c["x"], c["y"]) == 0) for c in random) >= 8
    assert {c["tol_root"] for c in random} == {1e-4, 1e-8}


def test_r_default_zero_and_tie_handling(ref):
    c = ref["wilcoxon"]["ties_zeros20"]
    res = wilcoxon(c["x"], c["y"])
    d = np.subtract(c["x"], c["y"])
    assert res.n == 20 and res.n_zero == int(np.sum(d == 0)) == 3 and res.n_used == 17
    assert res.ties and not res.exact and res.z is not None
    # R drops zeros *before* ranking = scipy zero_method="wilcox" with the normal approximation
    s = stats.wilcoxon(c["x"], c["y"], zero_method="wilcox", correction=True, method="approx")
    assert res.p == pytest.approx(s.pvalue, rel=1e-13)
    nz = d[d != 0]
    ranks = stats.rankdata(np.abs(nz))
    assert res.statistic == ranks[nz > 0].sum()
    assert "zeros dropped before ranking" in res.method


def test_exact_branch_equals_scipy_exact(ref):
    c = ref["wilcoxon"]["exact12"]
    res = wilcoxon(c["x"], c["y"])
    s = stats.wilcoxon(c["x"], c["y"], method="exact")
    assert res.exact and res.z is None
    assert res.p == pytest.approx(s.pvalue, rel=1e-13)
    walsh = [(a + b) / 2 for a, b in itertools.combinations_with_replacement(
        np.subtract(c["x"], c["y"]), 2)]
    assert res.estimate == res.hodges_lehmann == pytest.approx(np.median(walsh), abs=1e-14)


def test_r_qnorm_port_equals_r_bits():
    """R's qnorm digits printed with %.17g (R 4.2.2), for wilcox.test's alpha = 1 - 0.95."""
    assert _r_qnorm((1 - 0.95) / 2, lower_tail=False) == 1.9599639845400536
    assert _r_qnorm(0.025, lower_tail=False) == 1.9599639845400538
    assert _r_qnorm(0.05) == -1.6448536269514726
    assert _r_qnorm(0.2, lower_tail=False) == 0.84162123357291441
    assert _r_qnorm(0.2) == -0.84162123357291418
    for p in (1e-10, 1e-4, 0.01, 0.3, 0.5, 0.77, 0.999):
        assert _r_qnorm(p) == pytest.approx(stats.norm.ppf(p), rel=1e-14)


def test_pratt_equals_scipy(ref):
    for c in [ref["wilcoxon"]["ties_zeros20"], *ref["wilcoxon"]["random"]]:
        res = wilcoxon(c["x"], c["y"], convention="pratt")
        s = stats.wilcoxon(c["x"], c["y"], zero_method="pratt", correction=True,
                           method="approx")
        assert res.p == pytest.approx(s.pvalue, rel=1e-12)
        d = np.subtract(c["x"], c["y"])
        assert res.n_used == d.size
        assert res.statistic == stats.rankdata(np.abs(d))[d > 0].sum()


def _enumerated_p(d: np.ndarray) -> float:
    nz = d[d != 0]
    r = stats.rankdata(np.abs(nz))
    v = r[nz > 0].sum()
    values = np.array([sum(signs) for signs in itertools.product(*[(0.0, ri) for ri in r])])
    if v > nz.size * (nz.size + 1) / 4:
        p = np.mean(values >= v - 1e-9)
    else:
        p = np.mean(values <= v + 1e-9)
    return min(1.0, 2 * p)


@pytest.mark.parametrize("seed", range(6))
def test_exact_convention_equals_enumeration(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.gamma(3, 2, size=13), 0)
    y = np.round(x + rng.normal(0.5, 1.5, size=13), 0)
    res = wilcoxon(x, y, convention="exact")
    assert res.exact
    assert res.p == pytest.approx(_enumerated_p(x - y), rel=1e-12)


def test_exact_convention_without_ties_equals_r_exact(ref):
    for key in ("exact12", "n49", "small5"):
        c = ref["wilcoxon"][key]
        assert wilcoxon(c["x"], c["y"], convention="exact").p == pytest.approx(c["p"],
                                                                               rel=1e-12)


def test_tol_root_brings_r_close_to_the_jump_points(ref):
    coarse = ref["wilcoxon"]["ties_zeros20"]
    fine = ref["wilcoxon"]["ties_zeros20_tol"]
    res = wilcoxon(fine["x"], fine["y"], tol_root=1e-10)
    assert res.lower == pytest.approx(-1.5, abs=1e-9) and res.upper == pytest.approx(0.5, abs=1e-9)
    assert abs(coarse["lower"] - res.lower) < 1e-4
    assert "tol.root 1e-10" in res.ci_method


def test_hodges_lehmann_includes_zero_differences():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    y = np.array([1.0, 1.5, 3.0, 2.5, 6.5])
    res = wilcoxon(x, y)
    d = x - y
    walsh = [(a + b) / 2 for a, b in itertools.combinations_with_replacement(d, 2)]
    assert res.hodges_lehmann == pytest.approx(np.median(walsh), abs=1e-15)


def test_wilcoxon_edge_cases():
    with pytest.raises(ValueError, match="all 3 differences are zero"):
        wilcoxon([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="2 of 4 pairs have a missing value"):
        wilcoxon([1.0, np.nan, 3.0, 4.0], [1.0, 2.0, 3.0, np.nan])
    with pytest.raises(ValueError, match="differ in length"):
        wilcoxon([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="no pairs"):
        wilcoxon([], [])
    with pytest.raises(ValueError, match="convention"):
        wilcoxon([1.0, 2.0], [2.0, 1.0], convention="zsplit")
    with pytest.raises(ValueError, match="infinite"):
        wilcoxon([1.0, np.inf], [2.0, 1.0])
    with pytest.raises(ValueError, match="more than 1000"):
        wilcoxon(np.arange(1001.0) + 0.5, np.zeros(1001), convention="exact")
    # one non-zero difference and two zeros (as R: V = 1, p = 1, CI NaN, midrange estimate)
    one = wilcoxon([1.0, 2.0, 3.5], [1.0, 2.0, 3.0])
    assert one.p == 1.0 and not one.exact and one.n_used == 1  # zeros force the approximation
    assert math.isnan(one.lower) and "not computable" in one.note and one.estimate == 0.5
    single = wilcoxon([3.5], [3.0])  # as R: exact, p = 1, CI [0.5, 0.5] at conf.level 0
    assert single.exact and single.p == 1.0 and single.lower == single.upper == 0.5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=2, max_size=35),
       st.sampled_from(["R", "pratt", "exact"]))
def test_wilcoxon_properties(pairs, convention):
    x = np.array([p[0] for p in pairs], dtype=float) / 2
    y = np.array([p[1] for p in pairs], dtype=float) / 2
    d = x - y
    assume(np.any(d != 0))
    res = wilcoxon(x, y, convention=convention, tol_root=1e-10)
    assert 0.0 <= res.p <= 1.0
    swapped = wilcoxon(y, x, convention=convention, tol_root=1e-10)
    n_rank = res.n_used
    assert swapped.statistic + res.statistic == pytest.approx(
        n_rank * (n_rank + 1) / 2 - (res.n_zero * (res.n_zero + 1) / 2
                                     if convention == "pratt" else 0))
    assert swapped.p == pytest.approx(res.p, rel=1e-9, abs=1e-15)
    if not math.isnan(res.lower):
        assert res.lower <= res.upper
        assert swapped.lower == pytest.approx(-res.upper, abs=1e-8)
        assert swapped.upper == pytest.approx(-res.lower, abs=1e-8)
    assert swapped.hodges_lehmann == pytest.approx(-res.hodges_lehmann, abs=1e-12)


# ------------------------------------------------------------------------------------------
# paired t
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["exact12", "ties_zeros20", "ties_zeros20_90"])
def test_paired_t_equals_r(ref, case):
    c = ref["ttest"][case]
    res = paired_t(c["x"], c["y"], level=c["level"])
    assert isinstance(res, PairedTResult)
    assert res.mean_difference == pytest.approx(c["estimate"], rel=1e-13)
    assert res.t == pytest.approx(c["t"], rel=1e-13)
    assert res.df == c["df"]
    assert res.p == pytest.approx(c["p"], rel=1e-12)
    assert res.lower == pytest.approx(c["lower"], rel=1e-13)
    assert res.upper == pytest.approx(c["upper"], rel=1e-13)
    assert res.se == pytest.approx(c["stderr"], rel=1e-13)


def test_paired_t_edge_cases():
    with pytest.raises(ValueError, match="constant"):
        paired_t([1.0, 2.0, 3.0], [0.5, 1.5, 2.5])
    with pytest.raises(ValueError, match="at least 2 pairs"):
        paired_t([1.0], [2.0])
    with pytest.raises(ValueError, match="1 of 3 pairs have a missing value"):
        paired_t([1.0, 2.0, 3.0], [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="level"):
        paired_t([1.0, 2.0, 3.0], [1.0, 2.5, 2.0], level=0)
