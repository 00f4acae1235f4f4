"""What every extra napari canvas of the reading views shares: clicks, screenshots, closing.

The MIP and the slice views are each a ``napari.components.ViewerModel`` drawn by its own
``QtViewer``. A click (press and release without a drag) acts; a drag is napari's own (pan,
or rotate the MIP). Closing deletes the Qt canvas for good.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["ExtraCanvas", "close_canvas", "on_click_only"]


def on_click_only(event: Any, action: Callable[[Any], None]) -> Iterator[None]:
    """A napari mouse-drag callback body: ``action(event)`` after a click, not a drag.

    Use as ``yield from on_click_only(event, ...)`` in a drag callback.
    """
    if event.type != "mouse_press" or event.button != 1:
        return
    dragged = False
    yield
    while event.type == "mouse_move":
        dragged = True
        yield
    if not dragged:
        action(event)


def close_canvas(qt: Any) -> None:
    """Close an extra napari canvas for good: Qt deletes it, napari stops counting it.

    napari keeps a weak set of live QtViewers (its test fixture fails on any left over); a
    closed extra canvas is dropped from it here rather than when the garbage collector next
    reaches the cycles of its callbacks.
    """
    from napari._qt.qt_viewer import QtViewer

    qt.close()
    qt.deleteLater()
    QtViewer._instances.discard(qt)


class ExtraCanvas:
    """Base of the extra canvases: ``model`` (ViewerModel) and ``qt`` (its QtViewer)."""

    model: Any
    qt: Any
    _kept: dict[str, Any]

    def screenshot(self) -> np.ndarray:
        """The canvas as an RGBA array (needs a shown widget under a display)."""
        return np.asarray(self.qt.screenshot(flash=False))

    def close(self) -> None:
        """Close the canvas (its layers go with it) and let Qt delete it."""
        close_canvas(self.qt)
        self._kept.clear()
