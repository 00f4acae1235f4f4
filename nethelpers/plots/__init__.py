"""Figures of the report (matplotlib, no pyplot state), all in one style.

- :mod:`~nethelpers.plots.style`: :func:`figure_style`, the palette;
- :mod:`~nethelpers.plots.flow`: the participant flow diagram;
- :mod:`~nethelpers.plots.stats`: ROC curves, forest plots, Bland-Altman, paired plots.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: public name -> submodule; imported on first use, so ``nethelpers.plots.style`` (the SUV
#: windows the napari review needs) does not pull in matplotlib's figures (0.5 s)
_WHERE = {"index_test_flow": "flow", "participant_flow": "flow", "RocCurve": "stats",
          "bland_altman_plot": "stats", "forest_plot": "stats", "paired_plot": "stats",
          "roc_curve": "stats", "roc_plot": "stats", "stacked_bar": "stats",
          "strip_plot": "stats", "uptake_scatter": "stats", "OKABE_ITO": "style",
          "STYLE": "style", "figure_style": "style", "waterfall_plot": "waterfall"}

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
    "waterfall_plot",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(f"nethelpers.plots.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
