"""Statistical figures: what they draw (curves, intervals, labels), not only that they run."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from nethelpers.plots import (
    RocCurve,
    bland_altman_plot,
    forest_plot,
    index_test_flow,
    paired_plot,
    roc_plot,
    stacked_bar,
    uptake_scatter,
)
from tests.test_cohort import assert_no_overlap


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def test_roc_plot_draws_curves_bands_points_and_auc_ci():
    band = pd.DataFrame({"fpr": [0, 0.5, 1], "lower": [0.1, 0.6, 1], "upper": [0.4, 0.9, 1]})
    curves = [RocCurve("SUVmax", [0, 0.2, 1], [0, 0.8, 1], 0.874, (0.801, 0.93), band,
                       point=(0.2, 0.8), point_label="Youden cut-off (exploratory)"),
              RocCurve("T/B liver", [0, 0.4, 1], [0, 0.7, 1], 0.65)]
    fig = roc_plot(curves, title="Lesion level")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "1 − specificity" and ax.get_ylabel() == "Sensitivity"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["SUVmax: AUC 0.87 (95 % CI 0.80–0.93)", "Youden cut-off (exploratory)",
                      "T/B liver: AUC 0.65"]
    assert sum(isinstance(c, PolyCollection) for c in ax.collections) == 1
    line = next(ln for ln in ax.lines if ln.get_label().startswith("SUVmax"))
    np.testing.assert_array_equal(line.get_xdata(), [0, 0.2, 1])
    assert _png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one curve"):
        roc_plot([])


def test_forest_plot_rows_panels_and_texts():
    table = pd.DataFrame({
        "label": ["DOTATATE PET/CT", "FDG PET/CT", "DOTATATE PET/CT", "FDG PET/CT"],
        "measure": ["Sensitivity", "Sensitivity", "Specificity", "Specificity"],
        "estimate": [0.9, 0.5, 0.8, np.nan], "lower": [0.8, 0.3, 0.6, np.nan],
        "upper": [0.95, 0.7, 0.9, np.nan], "n": ["45/50", "25/50", "8/10", "0/0"]})
    fig = forest_plot(table, counts="n")
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert [t.get_text() for t in left.get_yticklabels()] == ["DOTATATE PET/CT", "FDG PET/CT"]
    assert left.get_xlabel() == "Sensitivity (95 % CI)"
    texts = [t.get_text() for t in left.texts]
    assert texts == ["0.90 (0.80–0.95)  45/50", "0.50 (0.30–0.70)  25/50"]
    assert [t.get_text() for t in right.texts][1] == "not estimable  0/0"
    # the CI of the first row is drawn from 0.80 to 0.95
    assert any(np.allclose(ln.get_xdata(), [0.8, 0.95]) for ln in left.lines)
    assert _png(fig)[:4] == b"\x89PNG"


def test_bland_altman_plot_lines_and_bands():
    rng = np.random.default_rng(0)
    b = rng.uniform(2, 20, 40)
    a = b * 1.05 + rng.normal(0, 0.3, 40)
    d = a - b
    bias, sd = d.mean(), d.std(ddof=1)
    fig = bland_altman_plot(a, b, bias=bias, lower_loa=bias - 1.96 * sd,
                            upper_loa=bias + 1.96 * sd, bias_ci=(bias - 0.1, bias + 0.1),
                            lower_loa_ci=(bias - 2.3 * sd, bias - 1.7 * sd),
                            label_a="PET/MR", label_b="PET/CT")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Mean of PET/MR and PET/CT (SUV)"
    assert ax.get_ylabel() == "PET/MR − PET/CT (SUV)"
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 1], d)
    assert len(ax.patches) == 2                      # two CI bands given
    assert {t.get_text().split()[0] for t in ax.texts} == {"bias", "lower", "upper"}
    fig = bland_altman_plot(a, b, bias=1.05, lower_loa=0.9, upper_loa=1.2, ratio=True)
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="paired"):
        bland_altman_plot([1, 2], [1], bias=0, lower_loa=0, upper_loa=0)


def test_paired_plot_one_line_per_unit_and_medians():
    table = pd.DataFrame({"lesion": ["L1", "L1", "L2", "L2", "L3"],
                          "tracer": ["DOTATATE", "FDG", "DOTATATE", "FDG", "DOTATATE"],
                          "suv": [10.0, 3.0, 20.0, 5.0, 8.0]})
    fig = paired_plot(table, unit_id="lesion", condition="tracer", value="suv",
                      ylabel="SUVmax (g/ml)", log=True)
    ax = fig.axes[0]
    assert len(ax.lines) == 4                         # 3 lesions + the medians
    median = ax.lines[-1]
    np.testing.assert_allclose(median.get_ydata(), [10.0, 4.0])
    assert ax.get_ylabel() == "SUVmax (g/ml)" and ax.get_yscale() == "log"
    # L3 has no FDG: each tick says its number of units, the title how many have both
    assert [t.get_text() for t in ax.get_xticklabels()] == ["DOTATATE\nn = 3", "FDG\nn = 2"]
    assert ax.get_title() == "n = 3 units, 2 with all 2"
    complete = paired_plot(table[table.lesion != "L3"], unit_id="lesion", condition="tracer",
                           value="suv").axes[0]
    assert [t.get_text() for t in complete.get_xticklabels()] == ["DOTATATE", "FDG"]
    assert complete.get_title() == "n = 2 paired units"


def test_roc_curve_from_a_fitted_roc():
    from nethelpers.plots import roc_curve
    from nethelpers.stats import roc

    rng = np.random.default_rng(2)
    y = np.r_[np.ones(30), np.zeros(40)]
    r = roc(y, rng.normal(y * 1.2, 1.0))
    curve = roc_curve(r, "SUVmax", youden=True, n_boot=200)
    ci = r.ci()
    assert curve.auc == r.auc and curve.auc_ci == (ci.lower, ci.upper)
    assert curve.fpr[0] == 0.0 and curve.fpr[-1] == 1.0
    assert np.all(np.diff(curve.fpr) >= 0) and np.all(np.diff(curve.tpr) >= 0)
    y_best = r.youden()
    assert curve.point == (1 - y_best.specificity, y_best.sensitivity)
    assert "exploratory" in curve.point_label
    assert len(curve.band) == 51
    fig = roc_plot([curve])
    assert "SUVmax: AUC" in fig.axes[0].get_legend().get_texts()[0].get_text()


def test_uptake_scatter_points_groups_and_quadrant_counts():
    table = pd.DataFrame({"sstr": [3.0, 2.0, 0.5, 0.8, 4.0, -1.0],
                          "fdg": [0.5, 1.5, 4.0, 0.7, 6.0, 2.0],
                          "grade": ["G1", "G1", "G3", "G3", "G2", "G3"]})
    fig = uptake_scatter(table, x="sstr", y="fdg", group="grade", threshold=1.0,
                         xlabel="SSTR lesion/liver", ylabel="FDG lesion/liver")
    ax = fig.axes[0]
    sizes = [len(c.get_offsets()) for c in ax.collections]
    assert sizes == [2, 1, 2]  # G1, G2, G3 (the negative value is left out)
    # each count in its corner: (x above threshold, y above threshold) -> n
    corners = {(t.xy[0] > 1.0, t.xy[1] > 1.0): t.get_text() for t in ax.texts}
    assert corners == {(True, True): "n = 2", (True, False): "n = 1",
                       (False, True): "n = 1", (False, False): "n = 1"}
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "SSTR lesion/liver"
    assert "1 without positive values left out" in ax.get_title()
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["G1 (n = 2)", "G2 (n = 1)", "G3 (n = 2)", "identity"]
    assert _png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="no lesion"):
        uptake_scatter(table.iloc[[5]], x="sstr", y="fdg", group="grade", xlabel="", ylabel="")


def test_stacked_bar_sums_to_100_percent_per_group():
    table = pd.DataFrame({"grade": ["G1", "G3"], "P1": [3, 0], "P5": [1, 4]})
    fig = stacked_bar(table, group="grade", categories=["P1", "P5"], xlabel="Patients (%)")
    ax = fig.axes[0]
    widths = np.array([p.get_width() for p in ax.patches]).reshape(2, 2)  # category x group
    np.testing.assert_allclose(widths.sum(axis=0), [100.0, 100.0])
    np.testing.assert_allclose(widths[:, 0], [75.0, 25.0])
    at = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks(), strict=True)}
    assert at == {"G1 (n = 4)": 1, "G3 (n = 4)": 0}  # the first group at the top
    assert sorted(t.get_text() for t in ax.texts) == ["1", "3", "4"]  # no label on 0 %


def test_index_test_flow_diagram_texts():
    flow = pd.DataFrame({
        "tracer": ["FDG"] * 3, "modality": ["PET/CT"] * 3, "eligible": 10,
        "patients_tested": 8, "not_tested": 2, "result": ["positive", "negative",
                                                          "indeterminate"],
        "scans": [5, 2, 1], "counted_as": ["positive", "negative", "excluded"],
        "histopathology": [4, 0, 1], "follow_up": [1, 2, 0], "no_reference": 0,
        "disease_present": [4, 1, 1], "disease_absent": [1, 1, 0]})
    fig = index_test_flow(flow, "FDG", "PET/CT")
    texts = [t.get_text() for t in fig.texts]
    assert "Eligible patients\nn = 10\nIndex test FDG PET/CT: 8" in texts
    assert "No FDG PET/CT scan\nn = 2" in texts
    assert "Indeterminate\nn = 1\n(excluded)" in texts
    assert "Target condition\nPresent: 4\nAbsent: 1" in texts
    assert "Reference standard\nHistopathology: 0\nFollow-up: 2\nNone: 0" in texts
    assert_no_overlap(fig)
    with pytest.raises(ValueError, match="no DOTATATE PET/MR"):
        index_test_flow(flow, "DOTATATE", "PET/MR")


def _tick_texts(fig, axis: str) -> list[str]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()                         # draw once so the labels exist
    ax = fig.axes[0]
    ticks = ax.xaxis if axis == "x" else ax.yaxis
    major = [t.get_text() for t in ticks.get_ticklabels() if t.get_visible() and t.get_text()]
    minor = [t.get_text() for t in ticks.get_ticklabels(minor=True) if t.get_text()]
    return major + minor


def test_log_ticks_are_plain_1_2_5_numbers():
    from nethelpers.plots.style import log_ticks

    assert log_ticks(0.8, 60) == [1, 2, 5, 10, 20, 50]
    assert log_ticks(0.7, 1.6) == [0.7, 1, 1.5]
    assert log_ticks(2, 3.9) == [2, 2.5, 3]
    assert log_ticks(1.05, 1.12) == [1.05, 1.12]
    with pytest.raises(ValueError):
        log_ticks(0, 1)


@pytest.mark.parametrize("which", ["paired", "bland_altman", "scatter"])
def test_log_axes_are_labelled_in_plain_numbers(which):
    rng = np.random.default_rng(1)
    if which == "paired":
        long = pd.DataFrame({"lesion_id": np.repeat(np.arange(20), 2),
                             "tracer": ["DOTATATE", "FDG"] * 20,
                             "value": rng.uniform(1.5, 40, 40)})
        fig = paired_plot(long, unit_id="lesion_id", condition="tracer", value="value",
                          log=True)
        axes = ["y"]
    elif which == "bland_altman":
        a = rng.uniform(2, 20, 30)
        fig = bland_altman_plot(a, a * rng.uniform(0.6, 1.5, 30), bias=1.05, lower_loa=0.7,
                                upper_loa=1.4, ratio=True)
        axes = ["y"]
    else:
        table = pd.DataFrame({"x": rng.uniform(0.3, 8, 30), "y": rng.uniform(0.3, 8, 30),
                              "g": ["G1", "G2", "G3"] * 10})
        fig = uptake_scatter(table, x="x", y="y", group="g", xlabel="x", ylabel="y",
                             threshold=1.0)
        axes = ["x", "y"]
    for axis in axes:
        texts = _tick_texts(fig, axis)
        assert len(texts) >= 2
        assert all("10^" not in t and "$" not in t and "×" not in t for t in texts), texts
        assert all(float(t.replace("\u2212", "-")) > 0 for t in texts)


def test_roc_plot_names_the_lesions_behind_each_curve_below_the_axes():
    from nethelpers.plots import roc_curve, roc_plot
    from nethelpers.stats import roc

    rng = np.random.default_rng(3)
    small = np.r_[np.ones(20), np.zeros(3)]
    large = np.r_[np.ones(46), np.zeros(7)]
    a = roc_curve(roc(small, rng.normal(small, 1.0)), "SUVmax", band=False)
    b = roc_curve(roc(large, rng.normal(large, 1.0)), "T/B liver", band=False)
    ax = roc_plot([a, b]).axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("SUVmax (20 vs 3): AUC") and legend[1].startswith(
        "T/B liver (46 vs 7): AUC")
    assert ax.get_xlabel() == "1 − specificity"
    # the legend lies below the axes, not over the curves
    fig = ax.figure
    fig.canvas.draw()
    box = ax.get_legend().get_window_extent()
    assert box.y1 < ax.get_window_extent().y0
    same = roc_plot([b, roc_curve(roc(large, rng.normal(large, 1.0)), "SUVpeak", band=False)])
    assert same.axes[0].get_xlabel() == "1 − specificity  (46 positive, 7 negative)"
