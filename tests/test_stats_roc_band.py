"""The bootstrap confidence band of an ROC curve's sensitivity at fixed specificities."""

from __future__ import annotations

import numpy as np
import pytest

from nethelpers.stats.roc_analysis import roc


def _drawn_curve(r, spec):
    """The curve as drawn (coords joined by lines), read at each specificity by a loop."""
    c = r.coords()
    pts = sorted(zip(1 - c["specificity"], c["sensitivity"], strict=True))
    out = []
    for s in spec:
        q = 1 - s
        on = [tpr for fpr, tpr in pts if abs(fpr - q) < 1e-15]
        if on:
            out.append(max(on))
            continue
        for (f0, t0), (f1, t1) in zip(pts, pts[1:], strict=False):
            if f0 < q < f1:
                out.append(t0 + (q - f0) / (f1 - f0) * (t1 - t0))
                break
    return np.array(out)


@pytest.mark.parametrize("flip", [False, True])
def test_observed_band_centre_is_the_drawn_curve(flip):
    rng = np.random.default_rng(3)
    y = np.r_[np.ones(40), np.zeros(55)]
    score = np.round(rng.normal(y, 1.0), 1)          # heavy ties
    r = roc(y, -score if flip else score)
    assert r.direction == (">" if flip else "<")
    spec = np.linspace(0, 1, 21)
    band = r.sensitivity_band(spec, n_boot=50, seed=1)
    np.testing.assert_allclose(band["sensitivity"], _drawn_curve(r, spec), rtol=0, atol=1e-12)
    np.testing.assert_allclose(band["fpr"], 1 - spec)
    assert (band["lower"] <= band["upper"]).all()


def test_band_equals_a_loop_over_the_same_replicates():
    rng = np.random.default_rng(5)
    y = np.r_[np.ones(30), np.zeros(35)]
    score = np.round(rng.normal(y, 1.2), 1)
    r = roc(y, score)
    spec = np.array([0.0, 0.3, 0.5, 0.77, 0.9, 1.0])
    band = r.sensitivity_band(spec, n_boot=40, seed=11, level=0.9)
    draw = np.random.default_rng(11)
    reps = []
    for _ in range(40):
        ci = draw.integers(0, r.n_cases, size=r.n_cases)
        co = draw.integers(0, r.n_controls, size=r.n_controls)
        rb = roc(np.r_[np.ones(r.n_cases), np.zeros(r.n_controls)],
                 np.r_[r.cases[ci], r.controls[co]], direction="<")
        reps.append(_drawn_curve(rb, spec))
    reps = np.array(reps)
    np.testing.assert_allclose(band["lower"], np.quantile(reps, 0.05, axis=0), atol=1e-12)
    np.testing.assert_allclose(band["upper"], np.quantile(reps, 0.95, axis=0), atol=1e-12)


def test_the_drawn_curve_lies_inside_its_band_with_ties():
    """Integer SUVs (heavy ties): the observed curve sits within the 95 % band (reviewer's
    case, where a best-operating-point band excluded the drawn curve)."""
    rng = np.random.default_rng(8)
    y = np.r_[np.ones(25), np.zeros(35)]
    score = np.round(rng.gamma(2 + 2 * y, 1.5))
    r = roc(y, score)
    band = r.sensitivity_band(n_boot=500, seed=3)
    inside = (band["sensitivity"] >= band["lower"] - 1e-12) & (
        band["sensitivity"] <= band["upper"] + 1e-12)
    assert inside.mean() >= 0.95


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
