"""The look of every report figure: one style, one palette (matplotlib, no pyplot state).

Every figure is built inside :func:`figure_style`, the one place that sets the look of the
report: font sizes readable at 100 % in print, a colour-blind-safe palette (Okabe-Ito),
editable text in SVG, 200 dpi PNG. Figures are :class:`matplotlib.figure.Figure` objects
created without pyplot, so notebooks display them once and nothing leaks between figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib as mpl
from cycler import cycler

__all__ = ["DEFAULT_SUV_WINDOW", "OKABE_ITO", "STYLE", "SUV_WINDOW", "figure_style", "suv_window"]

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
