"""The bootstrap confidence band of an ROC curve's sensitivity at fixed specificities."""

from __future__ import annotations

import numpy as np
import pytest

from nethelpers.stats.roc_analysis import roc


def _best_sensitivity(r, s):
    c = r.coords()
    return c.loc[c["specificity"] >= s - 1e-12, "sensitivity"].max()


@pytest.mark.parametrize("flip", [False, True])
def test_observed_band_centre_is_the_best_operating_point(flip):
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(40), np.zeros(55)]
    score = np.round(rng.normal(y, 1.0), 1)          # heavy ties
    r = roc(y, -score if flip else score)
    assert r.direction == (">" if flip else "<")
    spec = np.linspace(0, 1, 21)
    band = r.sensitivity_band(spec, n_boot=50, seed=1)
    expected = [_best_sensitivity(r, s) for s in spec]
    np.testing.assert_allclose(band["sensitivity"], expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(band["fpr"], 1 - spec)
    assert (band["lower"] <= band["upper"]).all()


def test_band_equals_a_loop_over_the_same_replicates():
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(30), np.zeros(35)]
    score = rng.normal(y, 1.2)
    r = roc(y, score)
    spec = np.array([0.0, 0.3, 0.5, 0.77, 0.9, 1.0])
    band = r.sensitivity_band(spec, n_boot=40, seed=11, level=0.9)
    draw = np.random.default_rng(11)
    cases_i = draw.integers(0, r.n_cases, size=(40, r.n_cases))
    controls_i = draw.integers(0, r.n_controls, size=(40, r.n_controls))
    reps = np.array([[_best_sensitivity(roc(np.r_[np.ones(r.n_cases), np.zeros(r.n_controls)],
                                            np.r_[r.cases[ci], r.controls[co]],
                                            direction="<"), s) for s in spec]
                     for ci, co in zip(cases_i, controls_i, strict=True)])
    lower = np.quantile(reps, 0.05, axis=0)
    upper = np.quantile(reps, 0.95, axis=0)
    np.testing.assert_allclose(band["lower"], lower, atol=1e-12)
    np.testing.assert_allclose(band["upper"], upper, atol=1e-12)


def test_band_is_seeded_and_checks_its_input():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(20), np.zeros(20)]
    r = roc(y, rng.normal(y, 1.0))
    a = r.sensitivity_band(n_boot=300, seed=4)
    b = r.sensitivity_band(n_boot=300, seed=4)
    assert a.equals(b) and len(a) == 51
    with pytest.raises(ValueError, match=r"specificity must hold values in \[0, 1\]"):
        r.sensitivity_band([0.5, 1.2])
    with pytest.raises(ValueError, match="at least 2 cases"):
        roc([1, 0, 0], [0.9, 0.1, 0.2]).sensitivity_band()
