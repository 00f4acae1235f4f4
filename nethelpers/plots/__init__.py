"""Figures of the report (matplotlib, no pyplot state), all in one style.

- :mod:`~nethelpers.plots.style`: :func:`figure_style`, the palette;
- :mod:`~nethelpers.plots.flow`: the participant flow diagram;
- :mod:`~nethelpers.plots.stats`: ROC curves, forest plots, Bland-Altman, paired plots.
"""

from nethelpers.plots.flow import index_test_flow, participant_flow
from nethelpers.plots.stats import (
    RocCurve,
    bland_altman_plot,
    forest_plot,
    paired_plot,
    roc_curve,
    roc_plot,
    stacked_bar,
    strip_plot,
    uptake_scatter,
)
from nethelpers.plots.style import OKABE_ITO, STYLE, figure_style

__all__ = [
    "OKABE_ITO",
    "STYLE",
    "RocCurve",
    "bland_altman_plot",
    "figure_style",
    "forest_plot",
    "index_test_flow",
    "paired_plot",
    "participant_flow",
    "roc_curve",
    "roc_plot",
    "stacked_bar",
    "strip_plot",
    "uptake_scatter",
]
