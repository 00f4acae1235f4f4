"""Figures of the statistical results: ROC curves, forest plots, Bland-Altman, paired plots.

The functions take plain numbers (arrays, tidy tables, small records), not fitted objects, so
any estimate, from :mod:`nethelpers.stats` or elsewhere, can be drawn; each figure labels its
axes with units and draws every confidence interval it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nethelpers.plots.style import OKABE_ITO, figure_style, log_axis

__all__ = ["RocCurve", "bland_altman_plot", "forest_plot", "paired_plot", "roc_curve",
           "roc_plot", "strip_plot"]


def _ci_text(estimate: float, lower: float, upper: float, digits: int = 2) -> str:
    if not np.isfinite(estimate):
        return "not estimable"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return f"{estimate:.{digits}f}"
    return f"{estimate:.{digits}f} ({lower:.{digits}f}–{upper:.{digits}f})"


@dataclass(frozen=True)
class RocCurve:
    """One ROC curve to draw.

    Attributes
    ----------
    label : str
        Legend label (e.g. "SUVmax, DOTATATE PET/CT").
    fpr, tpr : sequence of float
        The empirical curve: 1 − specificity and sensitivity at each threshold.
    auc : float
        Area under the curve.
    auc_ci : tuple of float, optional
        Its confidence interval (lower, upper).
    band : pandas.DataFrame, optional
        Confidence band of the sensitivity: columns ``fpr``, ``lower``, ``upper``.
    point : tuple of float, optional
        An operating point ``(fpr, tpr)``, e.g. the Youden cut-off or the visual read.
    point_label : str
        Its legend text.
    """

    label: str
    fpr: Sequence[float]
    tpr: Sequence[float]
    auc: float
    auc_ci: tuple[float, float] | None = None
    band: pd.DataFrame | None = None
    point: tuple[float, float] | None = None
    point_label: str = ""
    n: tuple[int, int] | None = None


def roc_curve(r, label: str, *, ci: str | None = "delong", band: bool = True,
              youden: bool = False, n_boot: int = 2000, seed: int | None = 0) -> RocCurve:
    """A :class:`RocCurve` from a :class:`nethelpers.stats.Roc`: the curve, AUC CI, band, point.

    Parameters
    ----------
    r : nethelpers.stats.Roc
        The fitted curve.
    label : str
        Legend label.
    ci : {"delong", "bootstrap"} or None
        Method of the AUC's CI in the legend (None: no CI).
    band : bool
        Draw the bootstrap band of the sensitivity (:meth:`Roc.sensitivity_band`).
    youden : bool
        Mark the Youden cut-off, labelled exploratory.
    n_boot : int
        Bootstrap replicates of the band (and of a bootstrap CI).
    seed : int, optional
        Seed of the bootstraps (fixed by default: the figure is reproducible).

    Returns
    -------
    RocCurve
        Ready for :func:`roc_plot`.
    """
    coords = r.coords()
    fpr = (1.0 - coords["specificity"]).to_numpy()
    tpr = coords["sensitivity"].to_numpy()
    order = np.lexsort((tpr, fpr))
    auc_ci = None
    if ci is not None:
        res = r.ci(method=ci, n_boot=n_boot, seed=seed)
        auc_ci = (res.lower, res.upper)
    sens_band = r.sensitivity_band(n_boot=n_boot, seed=seed) if band else None
    point, point_label = None, ""
    if youden:
        y = r.youden()
        point = (1.0 - y.specificity, y.sensitivity)
        point_label = f"Youden cut-off {y.threshold:.3g} (exploratory)"
    return RocCurve(label, fpr[order], tpr[order], r.auc, auc_ci, sens_band, point, point_label,
                    (int(r.n_cases), int(r.n_controls)))


def roc_plot(curves: Sequence[RocCurve], *, title: str | None = None, level: float = 0.95,
             size: float = 3.4) -> Figure:
    """ROC curves with their AUC (CI) in the legend, confidence bands and operating points.

    Parameters
    ----------
    curves : sequence of RocCurve
        One or more curves (colours in the report palette, in order).
    title : str, optional
        Axes title.
    level : float
        Confidence level, for the legend text.
    size : float
        Width and height in inches.

    Returns
    -------
    matplotlib.figure.Figure
        Square axes: x "1 − specificity", y "sensitivity", the chance diagonal dashed; the
        legend below the axes (never over the curves). The numbers of positives and
        negatives go in the x label when every curve has the same, else in each curve's
        legend entry ("SUVmax (20 vs 3)").
    """
    if not curves:
        raise ValueError("roc_plot: give at least one curve")
    pct = f"{100 * level:g} %"
    sizes = {c.n for c in curves if c.n is not None}
    entries = len(curves) + sum(c.point is not None and bool(c.point_label) for c in curves)
    below = 0.42 + 0.19 * entries            # inches under the axes: x label, then the legend
    height = size + below
    with figure_style():
        fig = Figure(figsize=(size, height), dpi=100)
        side = size - 0.75                   # the square axes, in inches
        ax = fig.add_axes((0.62 / size, (below + 0.45) / height, side / size, side / height))
        ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=0.8,
                label="_chance")
        for i, c in enumerate(curves):
            colour = OKABE_ITO[i % len(OKABE_ITO)]
            if c.band is not None and not c.band.empty:
                ax.fill_between(c.band["fpr"], c.band["lower"], c.band["upper"],
                                color=colour, alpha=0.18, linewidth=0, step=None,
                                label=f"_{c.label} band")
            auc = f"AUC {c.auc:.2f}"
            if c.auc_ci is not None:
                auc += f" ({pct} CI {c.auc_ci[0]:.2f}–{c.auc_ci[1]:.2f})"
            name = c.label if len(sizes) < 2 or c.n is None else (
                f"{c.label} ({c.n[0]} vs {c.n[1]})")   # curves on different lesions
            ax.plot(np.asarray(c.fpr, dtype=float), np.asarray(c.tpr, dtype=float),
                    color=colour, label=f"{name}: {auc}")
            if c.point is not None:
                ax.plot([c.point[0]], [c.point[1]], marker="o", markersize=5, color=colour,
                        markeredgecolor="black", linestyle="none",
                        label=c.point_label or f"_{c.label} point")
        ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="1 − specificity",
               ylabel="Sensitivity", aspect="equal")
        if title:
            ax.set_title(title)
        if len(sizes) == 1:                  # one set of lesions: its size in the x label
            cases, controls = next(iter(sizes))
            ax.set_xlabel(f"1 − specificity  ({cases} positive, {controls} negative)")
        ax.legend(loc="upper left", bbox_to_anchor=(-0.62 / side, -0.42 / side),
                  frameon=False, borderaxespad=0.0)
    return fig


def forest_plot(table: pd.DataFrame, *, label: str = "label", estimate: str = "estimate",
                lower: str = "lower", upper: str = "upper", panel: str | None = "measure",
                counts: str | None = None, xlim: tuple[float, float] = (0.0, 1.0),
                xlabel: str = "Estimate", level: float = 0.95) -> Figure:
    """Point estimates with confidence intervals, one row per label, one panel per measure.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy: one row per label × panel with the estimate and its CI.
    label, estimate, lower, upper : str
        Column names.
    panel : str, optional
        Column whose values get one panel each (e.g. sensitivity | specificity).
    counts : str, optional
        Column of text shown after the CI (e.g. "45/53").
    xlim : tuple of float
        Axis range (proportions: 0 to 1).
    xlabel : str
        x-axis label; the confidence level is appended.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    matplotlib.figure.Figure
        The plot; rows keep the order of first appearance in ``table``. Estimates that are
        not estimable are written as such, not drawn.
    """
    if table.empty:
        raise ValueError("forest_plot: the table is empty")
    panels = list(dict.fromkeys(table[panel])) if panel else [None]
    labels = list(dict.fromkeys(table[label]))
    height = 0.6 + 0.28 * len(labels)
    with figure_style():
        fig = Figure(figsize=(2.9 * len(panels) + 1.4, height), dpi=100)
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        y = np.arange(len(labels))[::-1]
        where = dict(zip(labels, y, strict=True))
        for ax, name in zip(axes, panels, strict=True):
            rows = table if name is None else table[table[panel] == name]
            for row in rows.itertuples(index=False):
                r = row._asdict()
                yy = where[r[label]]
                est, lo, hi = (float(r[c]) for c in (estimate, lower, upper))
                if np.isfinite(est):
                    if np.isfinite(lo) and np.isfinite(hi):
                        ax.plot([lo, hi], [yy, yy], color="black", linewidth=1.0)
                    ax.plot([est], [yy], marker="s", color=OKABE_ITO[0], markersize=4)
                text = _ci_text(est, lo, hi)
                if counts:
                    text += f"  {r[counts]}"
                ax.annotate(text, xy=(1.02, yy), xycoords=("axes fraction", "data"),
                            va="center", fontsize=6.5)
            ax.set_xlim(*xlim)
            ax.set_xlabel(f"{name if name is not None else xlabel} ({100 * level:g} % CI)")
            ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        axes[0].set_yticks(y, labels)
        axes[0].set_ylim(-0.7, len(labels) - 0.3)
        fig.subplots_adjust(wspace=0.75)
    return fig


def bland_altman_plot(a: Sequence[float], b: Sequence[float], *, bias: float, lower_loa: float,
                      upper_loa: float, bias_ci: tuple[float, float] | None = None,
                      lower_loa_ci: tuple[float, float] | None = None,
                      upper_loa_ci: tuple[float, float] | None = None, ratio: bool = False,
                      label_a: str = "A", label_b: str = "B", unit: str = "SUV",
                      level: float = 0.95) -> Figure:
    """Bland-Altman plot: differences against means, the bias and limits of agreement with CIs.

    Parameters
    ----------
    a, b : sequence of float
        Paired measurements (e.g. SUVmax on PET/MR and on PET/CT).
    bias, lower_loa, upper_loa : float
        The estimates (on the ratio scale when ``ratio``).
    bias_ci, lower_loa_ci, upper_loa_ci : tuple of float, optional
        Their confidence intervals, drawn as shaded bands.
    ratio : bool
        Plot ratios ``a / b`` on a log axis instead of differences.
    label_a, label_b : str
        Names of the two methods.
    unit : str
        Unit of the measurements.
    level : float
        Confidence level of the intervals.

    Returns
    -------
    matplotlib.figure.Figure
        The plot.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError("bland_altman_plot: a and b must be paired and non-empty")
    mean = (a + b) / 2.0
    y = a / b if ratio else a - b
    pct = f"{100 * level:g} %"
    with figure_style():
        fig = Figure(figsize=(4.2, 3.2), dpi=100)
        ax = fig.add_subplot()
        ax.scatter(mean, y, s=10, color=OKABE_ITO[0], alpha=0.8, linewidths=0)
        for value, ci, text in ((bias, bias_ci, "bias"), (lower_loa, lower_loa_ci, "lower LoA"),
                                (upper_loa, upper_loa_ci, "upper LoA")):
            style = "-" if text == "bias" else "--"
            ax.axhline(value, color="black", linestyle=style, linewidth=1.0)
            if ci is not None:
                ax.axhspan(ci[0], ci[1], color=OKABE_ITO[1], alpha=0.2, linewidth=0)
            ax.annotate(f"{text} {value:.3g}", xy=(1.01, value),
                        xycoords=("axes fraction", "data"), va="center", fontsize=6.5)
        ax.axhline(1.0 if ratio else 0.0, color="#999999", linewidth=0.6)
        if ratio:                       # ratios on a log axis labelled 0.5, 1, 2 (never 10⁰)
            shown = np.concatenate([y[y > 0], [v for v in (bias, lower_loa, upper_loa)
                                               if v is not None and v > 0]])
            log_axis(ax.yaxis, float(shown.min()) / 1.1, float(shown.max()) * 1.1)
        ax.set_xlabel(f"Mean of {label_a} and {label_b} ({unit})")
        ax.set_ylabel(f"{label_a} / {label_b}" if ratio
                      else f"{label_a} − {label_b} ({unit})")
        ax.set_title(f"Bias and {pct} limits of agreement (shaded: {pct} CIs)", fontsize=7.5)
    return fig


def paired_plot(table: pd.DataFrame, *, unit_id: str, condition: str, value: str,
                order: Sequence[str] | None = None, ylabel: str | None = None,
                log: bool = False) -> Figure:
    """Paired (spaghetti) plot: one line per unit across conditions, medians in bold.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy: one row per unit × condition.
    unit_id : str
        Column naming the unit (e.g. lesion_id).
    condition : str
        Column of the condition (e.g. tracer).
    value : str
        Column of the value (e.g. suv_max).
    order : sequence of str, optional
        Conditions in the order drawn (default: order of first appearance).
    ylabel : str, optional
        y-axis label (default the value column).
    log : bool
        Logarithmic y axis (SUVs spanning decades), labelled in plain numbers (1, 2, 5, 10).
        A linear axis is easier to read: use it unless the values span a decade or more.

    Returns
    -------
    matplotlib.figure.Figure
        The plot; units missing a condition are drawn as single points. When some units
        miss a condition, each tick says its number of units, the title how many have all
        conditions, and the median line joins the medians of each condition's own units.
    """
    if table.empty:
        raise ValueError("paired_plot: the table is empty")
    order = list(order) if order is not None else list(dict.fromkeys(table[condition]))
    wide = table.pivot_table(index=unit_id, columns=condition, values=value, aggfunc="first")
    wide = wide.reindex(columns=order)
    x = np.arange(len(order))
    with figure_style():
        fig = Figure(figsize=(1.2 + 1.1 * len(order), 3.2), dpi=100)
        ax = fig.add_subplot()
        for _, row in wide.iterrows():
            ax.plot(x, row.to_numpy(dtype=float), color="#888888", linewidth=0.6, alpha=0.7,
                    marker="o", markersize=2.5)
        medians = wide.median(axis=0).to_numpy(dtype=float)
        counts = wide.notna().sum(axis=0).astype(int).tolist()
        complete = int(wide.notna().all(axis=1).sum())
        ax.plot(x, medians, color=OKABE_ITO[3], linewidth=2.2, marker="D", markersize=5,
                label="median" if complete == len(wide) else "median of each condition's units")
        ax.set_xticks(x, order if complete == len(wide) else
                      [f"{name}\nn = {k}" for name, k in zip(order, counts, strict=True)])
        ax.set_xlim(-0.4, len(order) - 0.6)
        values = wide.to_numpy(dtype=float)
        values = values[np.isfinite(values) & (values > 0)]
        if log and values.size:         # labelled 1, 2, 5, 10, 20 (never 10⁰)
            log_axis(ax.yaxis, float(values.min()) / 1.15, float(values.max()) * 1.15)
        ax.set_ylabel(ylabel or value)
        ax.legend(loc="best")
        ax.set_title(f"n = {len(wide)} paired units" if complete == len(wide) else
                     f"n = {len(wide)} units, {complete} with all {len(order)}", fontsize=7.5)
    return fig


def uptake_scatter(table: pd.DataFrame, *, x: str, y: str, group: str, xlabel: str,
                   ylabel: str, threshold: float | None = None,
                   order: Sequence[str] | None = None, title: str = "") -> Figure:
    """Log-log scatter of two uptake measures per lesion, coloured by group.

    Drawn for the flip-flop pattern: SSTR against FDG lesion-to-liver ratio by tumour grade.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per lesion.
    x, y : str
        Columns of the two measures (positive values; others are left out and counted).
    group : str
        Column of the colour groups (e.g. grade).
    xlabel, ylabel : str
        Axis labels with units.
    threshold : float, optional
        Positivity threshold on both axes: dashed lines split the plot into quadrants,
        each labelled with its count.
    order : sequence of str, optional
        Groups in legend order (default sorted).
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        The scatter, the identity line dotted; the legend gives each group's lesions.
    """
    data = table[[x, y, group]].copy()
    data[group] = data[group].astype(str)
    valid = (data[x] > 0) & (data[y] > 0)
    data = data[valid]
    if data.empty:
        raise ValueError("uptake_scatter: no lesion has positive values on both axes")
    order = list(order) if order is not None else sorted(data[group].unique())
    with figure_style():
        fig = Figure(figsize=(3.6, 3.4), dpi=100)
        ax = fig.add_subplot()
        markers = "osD^v<>P"
        for k, name in enumerate(order):
            part = data[data[group] == name]
            if part.empty:
                continue
            ax.scatter(part[x], part[y], s=12, marker=markers[k % len(markers)],
                       color=OKABE_ITO[k % len(OKABE_ITO)], alpha=0.75, linewidths=0,
                       label=f"{name} (n = {len(part)})")
        low = min(data[x].min(), data[y].min()) / 1.3
        high = max(data[x].max(), data[y].max()) * 1.3
        ax.plot([low, high], [low, high], color="#888888", linestyle=":", linewidth=0.8,
                label="identity")
        if threshold is not None:
            ax.axvline(threshold, color="black", linestyle="--", linewidth=0.7)
            ax.axhline(threshold, color="black", linestyle="--", linewidth=0.7)
            above_x, above_y = data[x] > threshold, data[y] > threshold
            for (cx, cy), n in {((high, high)): int((above_x & above_y).sum()),
                                ((high, low)): int((above_x & ~above_y).sum()),
                                ((low, high)): int((~above_x & above_y).sum()),
                                ((low, low)): int((~above_x & ~above_y).sum())}.items():
                ax.annotate(f"n = {n}", (cx, cy), xytext=(-3 if cx == high else 3,
                                                         -3 if cy == high else 3),
                            textcoords="offset points", fontsize=6.5, color="#444444",
                            ha="right" if cx == high else "left",
                            va="top" if cy == high else "bottom")
        for axis in (ax.xaxis, ax.yaxis):   # plain numbers (0.5, 1, 2, 5), never 10⁰
            log_axis(axis, low, high)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0))
        dropped = int((~valid).sum())
        note = f"; {dropped} without positive values left out" if dropped else ""
        ax.set_title(title or f"{len(data)} lesions{note}", fontsize=7.5)
    return fig


def stacked_bar(table: pd.DataFrame, *, group: str, categories: Sequence[str], xlabel: str,
                title: str = "") -> Figure:
    """Horizontal bars of percentages, one bar per group, stacked by category.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per group with a count column per category.
    group : str
        Column naming the group (one bar each, in table order, first at the top).
    categories : sequence of str
        Count columns, stacked left to right.
    xlabel : str
        Label of the percentage axis.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        Each bar sums to 100 %; its n is written beside it, each segment's count inside it.
    """
    if table.empty:
        raise ValueError("stacked_bar: the table is empty")
    counts = table[list(categories)].to_numpy(dtype=float)
    totals = counts.sum(axis=1)
    shares = np.divide(100 * counts, totals[:, None], out=np.zeros_like(counts),
                       where=totals[:, None] > 0)
    y = np.arange(len(table))[::-1]
    with figure_style():
        fig = Figure(figsize=(4.2, 0.9 + 0.38 * len(table)), dpi=100)
        ax = fig.add_subplot()
        left = np.zeros(len(table))
        for k, name in enumerate(categories):
            colour = OKABE_ITO[k % len(OKABE_ITO)]
            ax.barh(y, shares[:, k], left=left, color=colour, height=0.7, label=name,
                    edgecolor="white", linewidth=0.5)
            for yi, x0, w, n in zip(y, left, shares[:, k], counts[:, k], strict=True):
                if w >= 6:
                    ax.text(x0 + w / 2, yi, f"{n:.0f}", ha="center", va="center",
                            fontsize=6.5, color="white" if k in (0, 3, 7) else "black")
            left += shares[:, k]
        ax.set_yticks(y, [f"{g} (n = {t:.0f})" for g, t in zip(table[group], totals,
                                                                 strict=True)])
        ax.set_xlim(0, 100)
        ax.set_xlabel(xlabel)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
        if title:
            ax.set_title(title)
    return fig


def strip_plot(table: pd.DataFrame, *, group: str, value: str, ylabel: str,
               order: Sequence[str] | None = None, title: str = "") -> Figure:
    """Every value as a point per group, with the median and interquartile range drawn.

    Parameters
    ----------
    table : pandas.DataFrame
        Tidy: one row per observation.
    group : str
        Column of the group (one column of points each).
    value : str
        Column of the values.
    ylabel : str
        y-axis label with its unit.
    order : sequence of str, optional
        Groups in the order drawn.
    title : str
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure
        Points jittered deterministically (no random state), median as a bar, IQR as a line;
        the n of each group under its name.
    """
    if table.empty:
        raise ValueError("strip_plot: the table is empty")
    order = list(order) if order is not None else sorted(table[group].astype(str).unique())
    with figure_style():
        fig = Figure(figsize=(1.2 + 0.9 * len(order), 3.0), dpi=100)
        ax = fig.add_subplot()
        labels = []
        for x, name in enumerate(order):
            v = pd.to_numeric(table.loc[table[group].astype(str) == name, value],
                              errors="coerce").dropna().to_numpy(dtype=float)
            labels.append(f"{name}\nn = {v.size}")
            if v.size == 0:
                continue
            jitter = (np.arange(v.size) % 7 - 3) * 0.04
            ax.scatter(x + jitter, v, s=9, color=OKABE_ITO[0], alpha=0.7, linewidths=0)
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            ax.plot([x - 0.25, x + 0.25], [med, med], color="black", linewidth=1.6)
            ax.plot([x, x], [q1, q3], color="black", linewidth=0.9)
        ax.set_xticks(range(len(order)), labels)
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
    return fig
