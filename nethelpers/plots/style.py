"""The look of every report figure: one style, one palette (matplotlib, no pyplot state).

Every figure is built inside :func:`figure_style`, the one place that sets the look of the
report: font sizes readable at 100 % in print, a colour-blind-safe palette (Okabe-Ito),
editable text in SVG, 200 dpi PNG. Figures are :class:`matplotlib.figure.Figure` objects
created without pyplot, so notebooks display them once and nothing leaks between figures.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
from cycler import cycler
from matplotlib.axis import Axis
from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter, NullLocator

__all__ = ["DEFAULT_SUV_WINDOW", "OKABE_ITO", "STYLE", "SUV_WINDOW", "figure_style",
           "log_axis", "log_ticks", "suv_window"]

OKABE_ITO = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
"""Colour-blind-safe palette (Okabe & Ito 2008), in the order figures use it."""

STYLE: dict[str, object] = {
    "font.family": "DejaVu Sans",
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.0,
    "ytick.labelsize": 7.0,
    "legend.fontsize": 7.0,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.8,
    "lines.linewidth": 1.2,
    "axes.prop_cycle": cycler(color=list(OKABE_ITO)),
    "image.cmap": "viridis",
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "svg.fonttype": "none",
    "svg.hashsalt": "nethelpers",
    "pdf.fonttype": 42,
}
"""rcParams of every report figure."""

@contextmanager
def figure_style() -> Iterator[None]:
    """Apply the report's figure style (:data:`STYLE`) within a ``with`` block.

    Yields
    ------
    None
        Figures created (and saved) inside the block use the style.
    """
    with mpl.rc_context(STYLE):
        yield


#: Upper SUV of a PET display per tracer (the lower end is 0), for figures and the viewer:
#: DOTATATE 0-15 puts the liver (about 7) mid-scale, FDG 0-7 the liver (about 2.5) in the
#: lower third.
SUV_WINDOW: dict[str, float] = {"DOTATATE": 15.0, "FDG": 7.0}
DEFAULT_SUV_WINDOW = 10.0


def suv_window(tracer: str) -> float:
    """Upper SUV of the PET display for a tracer (:data:`SUV_WINDOW`, default 10)."""
    return SUV_WINDOW.get(str(tracer).upper(), DEFAULT_SUV_WINDOW)


LOG_STEPS = ((1, 2, 5), (1, 1.5, 2, 3, 5, 7), (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8))
"""Mantissas of the ticks of a log axis, the coarsest that gives at least three ticks wins."""


def log_ticks(low: float, high: float) -> list[float]:
    """Ticks of a log axis from ``low`` to ``high`` in plain numbers (0.5, 1, 2, 5, 10, 20).

    Parameters
    ----------
    low, high : float
        The axis range (positive).

    Returns
    -------
    list of float
        The coarsest 1-2-5 (then 1-1.5-2-3-5-7, then finer) sequence with at least three
        ticks in the range; the range's ends rounded to 2 significant figures when even the
        finest has fewer than two (with the significant figures that keep them apart).
    """
    if not (low > 0 and high > low):
        raise ValueError(f"log_ticks: need 0 < low < high, got {low}, {high}")
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks: list[float] = []
    for steps in LOG_STEPS:
        ticks = [float(f"{m * 10.0 ** k:.6g}") for k in range(first, last + 1) for m in steps]
        ticks = [t for t in ticks if low <= t <= high]
        if len(ticks) >= 3:
            return ticks
    if len(ticks) >= 2:
        return ticks
    for digits in (2, 3, 4):
        ends = sorted({float(f"{low:.{digits}g}"), float(f"{high:.{digits}g}")})
        if len(ends) == 2:
            return ends
    return [low, high]


def log_axis(axis: Axis, low: float, high: float) -> None:
    """Make an axis logarithmic, labelled in plain numbers (1, 2, 5, 10), never 10⁰.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis``.
    low, high : float
        The range shown (positive); the limits are set to it.
    """
    ax = axis.axes
    if axis is ax.xaxis:
        ax.set_xscale("log")
        ax.set_xlim(low, high)
    else:
        ax.set_yscale("log")
        ax.set_ylim(low, high)
    ticks = log_ticks(low, high)
    axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
