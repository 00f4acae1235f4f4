"""Kappa, ICC and Bland-Altman against R (psych, base R), published values and properties.

Reference numbers: tests/data/stats_reference/agreement_reference.json, written by
tests/reference/agreement_reference.R (R 4.2.2, psych 2.2.9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from nethelpers.stats.agreement import (
    ICC_FORMS,
    BlandAltmanResult,
    KappaResult,
    bland_altman,
    cohen_kappa,
    icc,
)

REF_DIR = Path(__file__).parent / "data" / "stats_reference"


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads((REF_DIR / "agreement_reference.json").read_text())


@pytest.fixture(scope="module")
def krenning(ref) -> tuple[list, list]:
    return ref["kappa"]["data"]["petct"], ref["kappa"]["data"]["petmr"]


def _matrix(case: dict) -> np.ndarray:
    return np.array(case["data"], dtype=float).reshape(case["nrow"], case["ncol"])


# ------------------------------------------------------------------------------------------
# Cohen's kappa
# ------------------------------------------------------------------------------------------


def test_krenning_csv_is_the_json_data(krenning):
    csv = pd.read_csv(REF_DIR / "agreement_krenning.csv")
    assert csv["petct"].tolist() == krenning[0]
    assert csv["petmr"].tolist() == krenning[1]
    assert 1 not in set(krenning[0]) | set(krenning[1])  # grade 1 unused by both readers


@pytest.mark.parametrize(("case", "categories", "level"), [
    ("levels_0_4", range(5), 0.95),
    ("levels_inferred", None, 0.95),
    ("alpha_0_10", range(5), 0.90),
])
def test_unweighted_kappa_equals_psych(ref, krenning, case, categories, level):
    r = ref["kappa"][case]
    res = cohen_kappa(*krenning, categories=categories, level=level)
    assert isinstance(res, KappaResult)
    assert res.kappa == pytest.approx(r["kappa"], abs=1e-12)
    assert res.se**2 == pytest.approx(r["var_kappa"], abs=1e-12)
    assert res.lower == pytest.approx(r["lower"], abs=1e-12)
    assert res.upper == pytest.approx(r["upper"], abs=1e-12)
    assert res.n == r["n"] == 40
    assert res.weights == "unweighted"
    assert "Fleiss, Cohen & Everitt" in res.method


@pytest.mark.parametrize(("weights", "categories", "psych_case", "fce_case"), [
    ("quadratic", range(5), "levels_0_4", "fce_quadratic_0_4"),
    ("quadratic", None, "levels_inferred", "fce_quadratic_inferred"),
    ("linear", range(5), "linear_levels_0_4", "fce_linear_0_4"),
])
def test_weighted_kappa_equals_psych_and_fce_variance(ref, krenning, weights, categories,
                                                      psych_case, fce_case):
    psych = ref["kappa"][psych_case]
    fce = ref["kappa"][fce_case]
    res = cohen_kappa(*krenning, weights=weights, categories=categories)
    # the estimate: psych::cohen.kappa's weighted.kappa
    assert res.kappa == pytest.approx(psych["weighted_kappa"], abs=1e-12)
    assert res.kappa == pytest.approx(fce["kappa"], abs=1e-12)
    # the SE/CI: Fleiss-Cohen-Everitt (1969), written out independently in base R
    assert res.se**2 == pytest.approx(fce["var"], abs=1e-12)
    assert res.lower == pytest.approx(fce["lower"], abs=1e-12)
    assert res.upper == pytest.approx(fce["upper"], abs=1e-12)
    assert res.weights == weights


def test_psych_weighted_variance_deviation_is_documented(ref, krenning):
    """psych 2.2.9's var.weighted is not FCE: here it is negative, set to 0 by psych.

    If a future psych fixes it, this test fails when the reference is regenerated: then drop
    the caveat in the agreement module docstring.
    """
    psych = ref["kappa"]["levels_0_4"]
    assert psych["var_weighted"] == 0
    assert psych["weighted_lower"] == psych["weighted_upper"] == psych["weighted_kappa"]
    res = cohen_kappa(*krenning, weights="quadratic", categories=range(5))
    assert res.se > 0.05
    assert res.lower < res.kappa < res.upper


def test_unused_middle_category_changes_weighted_but_not_unweighted_kappa(krenning):
    full = cohen_kappa(*krenning, weights="quadratic", categories=[0, 1, 2, 3, 4])
    inferred = cohen_kappa(*krenning, weights="quadratic")
    assert inferred.categories == (0, 2, 3, 4)
    assert full.categories == (0, 1, 2, 3, 4)
    assert abs(full.kappa - inferred.kappa) > 1e-3
    assert full.table.shape == (5, 5)
    assert full.table.loc[1].sum() == 0 and full.table[1].sum() == 0
    assert cohen_kappa(*krenning, categories=range(5)).kappa == pytest.approx(
        cohen_kappa(*krenning).kappa, abs=1e-15)


def test_unused_edge_category_does_not_change_weighted_kappa(krenning):
    a = cohen_kappa(*krenning, weights="linear", categories=range(5))
    b = cohen_kappa(*krenning, weights="linear", categories=range(6))  # grade 5: unused, at the end
    assert a.kappa == pytest.approx(b.kappa, abs=1e-14)
    assert a.se == pytest.approx(b.se, abs=1e-14)


def test_cohen_1968_published_kappa(ref):
    """Cohen (1968), Table 1, n = 200: kappa = .492 (psych's help: 'cohen reports .492')."""
    r = ref["kappa"]["cohen1968"]
    counts = np.array(r["table_counts"], dtype=int).reshape(3, 3)
    a = np.repeat(np.repeat(np.arange(3), 3), counts.ravel())
    b = np.repeat(np.tile(np.arange(3), 3), counts.ravel())
    res = cohen_kappa(a, b)
    assert round(res.kappa, 3) == 0.492
    assert res.kappa == pytest.approx(r["kappa"], abs=1e-12)
    assert res.lower == pytest.approx(r["lower"], abs=1e-12)
    assert res.upper == pytest.approx(r["upper"], abs=1e-12)
    assert cohen_kappa(a, b, weights="quadratic").kappa == pytest.approx(
        r["weighted_kappa"], abs=1e-12)


def test_ci_clipped_like_psych(ref):
    r = ref["kappa"]["clipped"]
    res = cohen_kappa(r["a"], r["b"])
    assert res.kappa == pytest.approx(r["kappa"], abs=1e-12)
    assert res.lower == pytest.approx(r["lower"], abs=1e-12)
    assert res.upper == r["upper"] == 1.0
    assert "clipped" in res.note


def test_kappa_perfect_agreement():
    res = cohen_kappa([0, 1, 2, 2, 3], [0, 1, 2, 2, 3], weights="quadratic")
    assert res.kappa == pytest.approx(1.0, abs=1e-15)
    assert res.se == pytest.approx(0.0, abs=1e-7)
    assert res.upper == pytest.approx(1.0, abs=1e-12)
    assert res.observed_agreement == 1.0


@pytest.mark.parametrize("categories", [None, range(5)])
@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_kappa_single_category_is_nan_with_note(categories, weights):
    res = cohen_kappa([4, 4, 4], [4, 4, 4], weights=weights, categories=categories)
    assert math.isnan(res.kappa) and math.isnan(res.se)
    assert math.isnan(res.lower) and math.isnan(res.upper)
    assert "undefined" in res.note and "chance agreement is 1" in res.note
    assert res.observed_agreement == 1.0


def test_kappa_labels_with_explicit_order():
    a = ["neg", "pos", "equivocal", "pos"]
    b = ["neg", "pos", "pos", "pos"]
    order = ["neg", "equivocal", "pos"]
    res = cohen_kappa(a, b, weights="linear", categories=order)
    codes = {c: i for i, c in enumerate(order)}
    ref = cohen_kappa([codes[v] for v in a], [codes[v] for v in b], weights="linear",
                      categories=range(3))
    assert res.kappa == pytest.approx(ref.kappa, abs=1e-15)
    with pytest.raises(ValueError, match="ordered categories"):
        cohen_kappa(a, b, weights="linear")
    unweighted = cohen_kappa([codes[v] for v in a], [codes[v] for v in b])
    assert cohen_kappa(a, b).kappa == pytest.approx(unweighted.kappa, abs=1e-15)


def test_kappa_input_errors():
    with pytest.raises(ValueError, match="2 of 4 subjects have a missing rating"):
        cohen_kappa([1, None, 2, 3], [1, 2, np.nan, 3])
    with pytest.raises(ValueError, match="differ in length"):
        cohen_kappa([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="not in categories"):
        cohen_kappa([1, 2, 7], [1, 2, 3], categories=range(5))
    with pytest.raises(ValueError, match="duplicates"):
        cohen_kappa([1, 2], [1, 2], categories=[1, 2, 2])
    with pytest.raises(ValueError, match="at least 2"):
        cohen_kappa([1], [1])
    with pytest.raises(ValueError, match="weights must be"):
        cohen_kappa([1, 2], [1, 2], weights="squared")
    with pytest.raises(ValueError, match="level"):
        cohen_kappa([1, 2], [1, 2], level=95)


ratings = st.lists(st.integers(0, 4), min_size=2, max_size=40)


@settings(max_examples=60, deadline=None)
@given(ratings, st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_of_identical_ratings_is_one(a, weights):
    assume(len(set(a)) >= 2)
    res = cohen_kappa(a, a, weights=weights, categories=range(5))
    assert res.kappa == pytest.approx(1.0, abs=1e-12)
    assert res.upper == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=2, max_size=60),
       st.sampled_from([None, "linear", "quadratic"]))
def test_kappa_properties(pairs, weights):
    a, b = (list(v) for v in zip(*pairs, strict=True))
    res = cohen_kappa(a, b, weights=weights, categories=range(5))
    if math.isnan(res.kappa):
        assert res.note
        return
    assert -1.0 <= res.lower <= res.kappa + 1e-12
    assert res.kappa - 1e-12 <= res.upper <= 1.0
    assert res.kappa <= 1.0 + 1e-12
    swapped = cohen_kappa(b, a, weights=weights, categories=range(5))
    assert swapped.kappa == pytest.approx(res.kappa, abs=1e-12)
    assert swapped.se**2 == pytest.approx(res.se**2, abs=1e-12)  # se = sqrt(var ~ 1e-16) at var 0


# ------------------------------------------------------------------------------------------
# ICC
# ------------------------------------------------------------------------------------------

ICC_COLS = [("icc", "ICC"), ("F", "F"), ("df1", "df1"), ("df2", "df2"), ("lower", "lower"),
            ("upper", "upper")]


@pytest.mark.parametrize("case", ["sf", "suv3", "weak", "two_raters"])
def test_icc_equals_psych(ref, case):
    r = ref["icc"][case]
    out = icc(_matrix(r))
    assert out["type"].tolist() == r["type"]
    for col, rcol in ICC_COLS:
        np.testing.assert_allclose(out[col].to_numpy(), np.array(r[rcol], dtype=float),
                                   rtol=1e-11, atol=1e-12, err_msg=col)
    np.testing.assert_allclose(out["p"].to_numpy(), np.array(r["p"], dtype=float), rtol=1e-9,
                               atol=1e-15)
    assert (out["n_dropped"] == 0).all()


def test_icc_level_equals_psych_alpha(ref):
    out = icc(_matrix(ref["icc"]["suv3"]), level=0.90)
    r = ref["icc"]["alpha_0_10"]
    np.testing.assert_allclose(out["lower"], r["lower"], rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(out["upper"], r["upper"], rtol=1e-11, atol=1e-12)


def test_icc_shrout_fleiss_1979_published_values(ref):
    """Shrout & Fleiss (1979), Table 4 example (6 targets, 4 judges)."""
    out = icc(_matrix(ref["icc"]["sf"])).set_index("shrout_fleiss")
    published = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71, "ICC(1,k)": 0.44,
                 "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}
    for form, value in published.items():
        assert round(out.loc[form, "icc"], 2) == value


def test_icc_names_and_columns(ref):
    out = icc(_matrix(ref["icc"]["sf"]))
    assert list(out["mcgraw_wong"]) == ["ICC(1)", "ICC(A,1)", "ICC(C,1)", "ICC(k)", "ICC(A,k)",
                                        "ICC(C,k)"]
    assert [tuple(row) for row in out[["type", "shrout_fleiss", "mcgraw_wong", "model",
                                       "definition", "unit"]].itertuples(index=False)] == list(
        ICC_FORMS)
    assert (out["n_targets"] == 6).all() and (out["n_raters"] == 4).all()
    assert out.attrs["anova"].loc["residual", "df"] == 15
    assert "Shrout & Fleiss" in out.attrs["method"]
    assert (out["note"] == "").all()


def test_icc_missing_error_and_drop(ref):
    r = ref["icc"]["na_omit"]
    x = _matrix(r)
    with pytest.raises(ValueError, match=r"3 missing rating\(s\) in 2 of 12 targets"):
        icc(x)
    # psych::ICC(x, lmer = FALSE) also refuses ("missing data were found for 2 cases")
    assert "missing data were found for 2 cases" in ref["icc"]["na_error"]
    out = icc(pd.DataFrame(x, index=[f"L{i}" for i in range(1, 13)]), missing="drop")
    assert out.attrs["dropped_targets"] == ["L2", "L7"]
    assert (out["n_dropped"] == 2).all() and (out["n_targets"] == 10).all()
    assert "2 incomplete target(s) dropped" in out.attrs["method"]
    for col, rcol in ICC_COLS:
        np.testing.assert_allclose(out[col], np.array(r[rcol], dtype=float), rtol=1e-11,
                                   atol=1e-12)


def test_icc_long_format_equals_wide(ref):
    x = _matrix(ref["icc"]["suv3"])
    wide = pd.DataFrame(x, index=[f"L{i}" for i in range(12)], columns=["ct1", "ct2", "mr1"])
    long = wide.rename_axis("lesion").reset_index().melt(
        id_vars="lesion", var_name="reader", value_name="suvmax").sample(frac=1, random_state=1)
    a = icc(wide)
    b = icc(long, targets="lesion", raters="reader", ratings="suvmax")
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-13)
    # a lesion without a PET/MR row is a missing rating
    with pytest.raises(ValueError, match=r"1 missing rating\(s\) in 1 of 12"):
        icc(long.iloc[1:], targets="lesion", raters="reader", ratings="suvmax")
    with pytest.raises(ValueError, match="share a \\(target, rater\\) pair"):
        icc(pd.concat([long, long.iloc[:1]]), targets="lesion", raters="reader",
            ratings="suvmax")
    with pytest.raises(ValueError, match="all of targets"):
        icc(long, targets="lesion")


def test_icc_degenerate_inputs():
    with pytest.raises(ValueError, match="MSE = 0"):
        icc([[1.0, 1.0], [2.0, 2.0], [5.0, 5.0]])
    with pytest.raises(ValueError, match="MSE = 0"):  # constant offset: consistency 1
        icc([[0.1, 1.1], [0.2, 1.2], [0.7, 1.7]])
    with pytest.raises(ValueError, match="MSR = 0"):
        icc([[0.0, 0.25], [0.25, 0.0]])
    with pytest.raises(ValueError, match="at least 2 complete targets"):
        icc([[1.0, 2.0]])
    with pytest.raises(ValueError, match="at least 2 raters"):
        icc([[1.0], [2.0]])
    with pytest.raises(ValueError, match="infinite"):
        icc([[1.0, np.inf], [2.0, 3.0]])
    with pytest.raises(ValueError, match="missing"):
        icc([[1.0, 2.0], [2.0, 3.0]], missing="ignore")


def test_icc2k_psych_artefact_is_flagged(ref):
    out = icc(_matrix(ref["icc"]["weak"])).set_index("type")
    r = ref["icc"]["weak"]
    assert out.loc["ICC2k", "lower"] == pytest.approx(r["lower"][4], rel=1e-11)
    assert out.loc["ICC2k", "lower"] > out.loc["ICC2k", "upper"]  # psych's number, kept
    assert "not monotone" in out.loc["ICC2k", "note"]


def _spearman_brown(r: float, k: int) -> float:
    return k * r / (1 + (k - 1) * r)


@settings(max_examples=80, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(2, 12), st.integers(2, 5)),
              elements=st.integers(0, 40).map(lambda v: v / 4)),
       st.floats(0.5, 0.99))
def test_icc_properties(x, level):
    try:
        out = icc(x, level=level)
    except ValueError as exc:
        assert "MSE = 0" in str(exc) or "MSR = 0" in str(exc)
        return
    k = x.shape[1]
    v = out.set_index("type")
    for single, avg in (("ICC1", "ICC1k"), ("ICC2", "ICC2k"), ("ICC3", "ICC3k")):
        s = v.loc[single, "icc"]
        if abs(1 + (k - 1) * s) > 1e-8:
            assert v.loc[avg, "icc"] == pytest.approx(_spearman_brown(s, k), rel=1e-9, abs=1e-9)
        if s >= 0:
            assert v.loc[avg, "icc"] >= s - 1e-12
    anova = out.attrs["anova"]["MS"]
    if anova["raters"] >= anova["residual"] and anova["targets"] >= anova["residual"]:
        assert v.loc["ICC2", "icc"] <= v.loc["ICC3", "icc"] + 1e-12
    for form in ("ICC1", "ICC3", "ICC1k", "ICC3k"):  # monotone functions of one F statistic
        assert v.loc[form, "lower"] <= v.loc[form, "icc"] + 1e-9
        assert v.loc[form, "icc"] <= v.loc[form, "upper"] + 1e-9
    icc2k_meaningful = 1 + (k - 1) * v.loc["ICC2", "icc"] > 1e-9
    forms = v.index if icc2k_meaningful else v.index.drop("ICC2k")
    assert (v.loc[forms, "icc"] <= 1 + 1e-12).all()
    if not icc2k_meaningful:  # psych's ICC(2,k) can then exceed 1: flagged
        assert "not monotone" in v.loc["ICC2k", "note"]
    assert ((v["p"] >= 0) & (v["p"] <= 1)).all()
    for form in v.index:
        if not v.loc[form, "lower"] <= v.loc[form, "upper"]:
            assert v.loc[form, "note"]


# ------------------------------------------------------------------------------------------
# Bland-Altman
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["pefr", "suv", "suv_ratio", "suv_90"])
@pytest.mark.parametrize("loa_ci", ["exact", "approximate"])
def test_bland_altman_equals_r(ref, case, loa_ci):
    r = ref["bland_altman"][case]
    res = bland_altman(r["a"], r["b"], ratio=r["ratio"], level=r["level"],
                       coverage=r["coverage"], loa_ci=loa_ci)
    assert isinstance(res, BlandAltmanResult)
    tr = np.exp if r["ratio"] else (lambda v: np.asarray(v, dtype=float))
    key = "exact" if loa_ci == "exact" else "approx"
    # R's qt(p, df, ncp) inverts its non-central t by iteration (~1e-11 relative)
    rtol = 1e-9 if loa_ci == "exact" else 1e-12
    assert res.bias == pytest.approx(float(tr(r["bias"])), rel=1e-12)
    assert res.sd == pytest.approx(r["sd"], rel=1e-12)
    assert res.z == pytest.approx(r["z"], rel=1e-15)
    assert res.lower_loa == pytest.approx(float(tr(r["lower_loa"])), rel=1e-12)
    assert res.upper_loa == pytest.approx(float(tr(r["upper_loa"])), rel=1e-12)
    np.testing.assert_allclose(res.bias_ci, tr(r["bias_ci"]), rtol=1e-12)
    np.testing.assert_allclose(res.lower_loa_ci, tr(r[f"{key}_lower_loa_ci"]), rtol=rtol)
    np.testing.assert_allclose(res.upper_loa_ci, tr(r[f"{key}_upper_loa_ci"]), rtol=rtol)
    assert res.prop_bias_slope == pytest.approx(r["slope"], rel=1e-10)
    assert res.prop_bias_intercept == pytest.approx(r["intercept"], rel=1e-10, abs=1e-12)
    assert res.prop_bias_p == pytest.approx(r["slope_p"], rel=1e-9)
    np.testing.assert_allclose(res.prop_bias_slope_ci, r["slope_ci"], rtol=1e-10)
    assert res.loa_ci_method == loa_ci
    assert res.scale == ("ratio" if r["ratio"] else "difference")
    assert ("Carkeet" in res.method) == (loa_ci == "exact")


def test_bland_altman_1986_published_pefr(ref):
    """Bland & Altman (1986): mean difference -2.1, SD 38.8, limits -79.7 to 75.5 l/min."""
    r = ref["bland_altman"]["pefr"]
    res = bland_altman(r["a"], r["b"])
    assert round(res.bias, 1) == -2.1
    assert round(res.sd, 1) == 38.8
    assert round(round(res.bias, 1) - 2 * round(res.sd, 1), 1) == -79.7
    assert round(round(res.bias, 1) + 2 * round(res.sd, 1), 1) == 75.5
    assert res.n == 17


def test_bland_altman_default_is_exact_and_wider_than_approximate(ref):
    r = ref["bland_altman"]["pefr"]
    exact = bland_altman(r["a"], r["b"])
    approx = bland_altman(r["a"], r["b"], loa_ci="approximate")
    assert exact.loa_ci_method == "exact"
    assert np.diff(exact.upper_loa_ci)[0] > np.diff(approx.upper_loa_ci)[0]


def test_exact_loa_ci_coverage_by_simulation():
    """The Carkeet interval covers mu + z sigma in 95 % of normal samples (n = 8)."""
    n, reps = 8, 20000
    res = bland_altman(np.arange(n, dtype=float) + np.array([0, 1, 0, 2, 1, 0, 3, 1]),
                       np.arange(n, dtype=float))
    c_lo = (res.upper_loa_ci[0] - res.bias) / res.sd
    c_hi = (res.upper_loa_ci[1] - res.bias) / res.sd
    approx = bland_altman(np.arange(n, dtype=float) + np.array([0, 1, 0, 2, 1, 0, 3, 1]),
                          np.arange(n, dtype=float), loa_ci="approximate")
    a_lo = (approx.upper_loa_ci[0] - approx.bias) / approx.sd
    a_hi = (approx.upper_loa_ci[1] - approx.bias) / approx.sd
    rng = np.random.default_rng(20240611)
    d = rng.normal(size=(reps, n))
    m, s = d.mean(axis=1), d.std(axis=1, ddof=1)
    theta = res.z
    exact_cov = np.mean((m + c_lo * s <= theta) & (theta <= m + c_hi * s))
    approx_cov = np.mean((m + a_lo * s <= theta) & (theta <= m + a_hi * s))
    assert abs(exact_cov - 0.95) < 0.006
    assert approx_cov < 0.94  # the sqrt(3 s^2/n) interval is too narrow at n = 8


def test_bland_altman_ratio_is_the_log_analysis(ref):
    r = ref["bland_altman"]["suv"]
    res = bland_altman(r["a"], r["b"], ratio=True)
    logs = bland_altman(np.log(r["a"]), np.log(r["b"]))
    assert res.bias == pytest.approx(math.exp(logs.bias), rel=1e-14)
    assert res.upper_loa_ci[1] == pytest.approx(math.exp(logs.upper_loa_ci[1]), rel=1e-14)
    assert res.sd == pytest.approx(logs.sd, rel=1e-14)
    assert res.prop_bias_slope == pytest.approx(logs.prop_bias_slope, rel=1e-12)
    assert "ratio" in res.method


def test_bland_altman_errors():
    with pytest.raises(ValueError, match="1 of 4 pairs have a missing value"):
        bland_altman([1.0, 2.0, np.nan, 4.0], [1.0, 2.0, 3.0, 4.5])
    with pytest.raises(ValueError, match="differ in length"):
        bland_altman([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 3 pairs"):
        bland_altman([1.0, 2.0], [1.5, 2.5])
    with pytest.raises(ValueError, match="positive"):
        bland_altman([1.0, 0.0, 3.0], [1.0, 2.0, 3.0], ratio=True)
    with pytest.raises(ValueError, match="loa_ci"):
        bland_altman([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], loa_ci="bootstrap")
    with pytest.raises(ValueError, match="coverage"):
        bland_altman([1.0, 2.0, 3.0], [1.0, 2.0, 3.5], coverage=1.0)


def test_bland_altman_degenerate_regressions_are_noted():
    res = bland_altman([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])  # every pair mean is 2
    assert math.isnan(res.prop_bias_slope) and "pair means are equal" in res.note
    res = bland_altman([1.0, 2.0, 4.0], [0.5, 1.5, 3.5])  # constant difference 0.5
    assert res.sd == 0.0 and res.lower_loa == res.upper_loa == 0.5
    assert res.upper_loa_ci == (0.5, 0.5)
    assert math.isnan(res.prop_bias_p) and "exactly on a line" in res.note


finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(finite, finite), min_size=3, max_size=40),
       st.sampled_from(["exact", "approximate"]), st.floats(0.5, 0.99))
def test_bland_altman_properties(pairs, loa_ci, level):
    a, b = (np.array(v) for v in zip(*pairs, strict=True))
    res = bland_altman(a, b, loa_ci=loa_ci, level=level)
    tol = 1e-9 * (1 + abs(res.bias) + res.sd)
    assert res.lower_loa <= res.bias + tol and res.bias <= res.upper_loa + tol
    for est, ci in ((res.bias, res.bias_ci), (res.lower_loa, res.lower_loa_ci),
                    (res.upper_loa, res.upper_loa_ci)):
        assert ci[0] <= est + tol and est <= ci[1] + tol
    swapped = bland_altman(b, a, loa_ci=loa_ci, level=level)
    assert swapped.bias == pytest.approx(-res.bias, abs=tol)
    assert swapped.upper_loa == pytest.approx(-res.lower_loa, abs=tol)
    assert swapped.lower_loa_ci[0] == pytest.approx(-res.upper_loa_ci[1], abs=tol)


def test_kappa_refuses_mixed_types_and_uses_declared_categories():
    """Reviewer's cases: 1 vs '1' are not silently two categories; a Categorical's declared
    categories (Krenning 0-4 with grade 1 unused) count like categories=range(5)."""
    with pytest.raises(ValueError, match="mix types"):
        cohen_kappa([1, 2, 3, 2, 1], ["1", "2", "3", "2", "1"])
    a = [0, 2, 3, 4, 4, 2, 3, 0, 4, 3]
    b = [0, 2, 4, 4, 3, 2, 3, 2, 4, 3]
    explicit = cohen_kappa(a, b, weights="quadratic", categories=range(5))
    declared = cohen_kappa(pd.Categorical(a, categories=range(5)),
                           pd.Categorical(b, categories=range(5)), weights="quadratic")
    assert declared.kappa == explicit.kappa and declared.categories == explicit.categories
    assert cohen_kappa(a, b, weights="quadratic").kappa != explicit.kappa
    series = cohen_kappa(pd.Series(a, dtype=pd.CategoricalDtype(range(5))),
                         pd.Series(b, dtype=pd.CategoricalDtype(range(5))), weights="quadratic")
    assert series.kappa == explicit.kappa
