"""A line ruler for a lesion's long and short axis, in millimetres of the patient.

The ruler is a napari Shapes layer in world coordinates (patient LPS mm, ``(z, y, x)``), so
a line's length is its length in mm whatever the voxel spacing of the images. A reader draws
up to two lines on the axial view: the longer is the long axis, the other the short axis.
Every finished line (added, moved, deleted) hands both lengths to ``on_measure`` as
``on_measure(long_axis_mm=..., short_axis_mm=...)`` (``short_axis_mm`` None with one line).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LineRuler", "axis_lengths_mm", "line_length_mm"]

RULER_COLOR = "orange"
RULER_WIDTH_PX = 1.5
RULER_NAME = "ruler (mm)"
#: data events of a finished edit (not the intermediate "adding"/"changing" ones)
_FINISHED = {"added", "changed", "removed"}


def line_length_mm(line) -> float:
    """Length of a line given by two world points ``(z, y, x)`` in mm."""
    pts = np.asarray(line, dtype=float)
    if pts.shape[0] != 2:
        raise ValueError(f"a line has 2 points; got {pts.shape[0]}")
    return float(np.linalg.norm(pts[1, -3:] - pts[0, -3:]))


def axis_lengths_mm(lines) -> tuple[float | None, float | None]:
    """Long and short axis from up to two measured lines (the last two drawn).

    Parameters
    ----------
    lines : sequence of array-like
        Lines, each two world points ``(z, y, x)`` mm, in the order drawn.

    Returns
    -------
    tuple
        ``(long_axis_mm, short_axis_mm)``: the longer and the shorter of the last two lines;
        ``(length, None)`` for one line, ``(None, None)`` for none.
    """
    lengths = [line_length_mm(line) for line in list(lines)[-2:]]
    if not lengths:
        return (None, None)
    if len(lengths) == 1:
        return (lengths[0], None)
    return (max(lengths), min(lengths))


class LineRuler:
    """The ruler layer in a napari viewer and its measurement callback.

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
        The (axial) viewer to measure in.
    on_measure : callable, optional
        ``on_measure(long_axis_mm=..., short_axis_mm=...)`` after every finished edit.

    Attributes
    ----------
    layer : napari.layers.Shapes
        The ruler lines (world mm).
    """

    def __init__(self, viewer: Any, on_measure: Any = None) -> None:
        self.viewer = viewer
        self.on_measure = on_measure
        self.layer = viewer.add_shapes(
            ndim=3, name=RULER_NAME, edge_color=RULER_COLOR, face_color="transparent",
            edge_width=RULER_WIDTH_PX, metadata={"role": "ruler"})
        self.layer.current_edge_color = RULER_COLOR
        self.layer.current_edge_width = RULER_WIDTH_PX
        self.layer.events.data.connect(self._on_data)

    def start(self) -> None:
        """Select the ruler and start drawing lines."""
        self.viewer.layers.selection.active = self.layer
        self.layer.mode = "add_line"

    def lines(self) -> list[np.ndarray]:
        """The drawn lines in world ``(z, y, x)`` mm, in the order drawn."""
        out = []
        for data, kind in zip(self.layer.data, self.layer.shape_type, strict=True):
            if kind in ("line", "path") and len(data) >= 2:
                pts = np.asarray(data, dtype=float)[[0, -1]]
                out.append(np.array([self.layer.data_to_world(p) for p in pts])[:, -3:])
        return out

    def lengths(self) -> tuple[float | None, float | None]:
        """``(long_axis_mm, short_axis_mm)`` of the drawn lines."""
        return axis_lengths_mm(self.lines())

    def record(self) -> tuple[float | None, float | None]:
        """Hand the current lengths to ``on_measure`` (also done after every edit)."""
        long_mm, short_mm = self.lengths()
        if self.on_measure is not None and long_mm is not None:
            self.on_measure(long_axis_mm=long_mm, short_axis_mm=short_mm)
        return long_mm, short_mm

    def clear(self) -> None:
        """Remove the lines (for the next lesion)."""
        self.layer.events.data.disconnect(self._on_data)
        try:
            self.layer.data = []
        finally:
            self.layer.events.data.connect(self._on_data)

    def remove(self) -> None:
        """Take the ruler layer out of the viewer."""
        self.layer.events.data.disconnect(self._on_data)
        if self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)

    def _on_data(self, event: Any) -> None:
        if str(getattr(event, "action", "changed")) in _FINISHED:
            self.record()
