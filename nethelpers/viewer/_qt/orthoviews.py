"""Coronal and sagittal canvases of the fused scan with a linked crosshair (radiological).

napari's world is patient LPS millimetres in ``(z, y, x)`` order (see
:mod:`nethelpers.viewer.layers`). Radiological convention on screen:

* axial (the main canvas): rows ``y`` downward (anterior up), columns ``x`` rightward
  (patient's right, LPS ``-x``, on the screen's left) -- napari's default;
* coronal: the plane ``y = const``; rows ``z`` *upward* (head up) via the camera's
  ``orientation2d = ("up", "right")``, columns ``x`` rightward (patient's right on the left);
* sagittal: the plane ``x = const``; rows ``z`` upward, columns ``y`` rightward (anterior on
  the left, the patient facing left).

The data are never flipped: only the camera's orientation changes, so world coordinates of
clicks stay patient millimetres.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nethelpers.viewer._qt.canvas import ExtraCanvas, on_click_only
from nethelpers.viewer._qt.fusion import FusedLayers, add_fused_layers, restyle
from nethelpers.viewer.display import DisplaySettings

__all__ = ["PLANES", "SliceView"]

#: plane -> (sliced world axis, dims order, camera orientation2d)
PLANES: dict[str, tuple[int, tuple[int, int, int], tuple[str, str]]] = {
    "axial": (0, (0, 1, 2), ("down", "right")),
    "coronal": (1, (1, 0, 2), ("up", "right")),
    "sagittal": (2, (2, 0, 1), ("up", "right")),
}
CROSSHAIR_COLOR = "yellow"
#: share of the canvas the fitted scan fills
FIT = 0.95
#: crosshair line width on screen (napari draws shape edges in world units: rescaled on zoom)
CROSSHAIR_WIDTH_PX = 1.5


class SliceView(ExtraCanvas):
    """One extra napari canvas showing one plane of a fused scan, with a crosshair.

    Parameters
    ----------
    plane : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"`` (:data:`PLANES`).
    title : str, optional
        Name of the view model.

    Attributes
    ----------
    model : napari.components.ViewerModel
        The view's state (layers, dims, camera).
    qt : napari.qt.QtViewer
        Its canvas widget.
    layers : FusedLayers or None
        The scan's layers in this view.
    on_click : callable or None
        Called with the world point ``(z, y, x)`` of a click (not a drag).
    on_move : callable or None
        Called with the world point under the mouse.
    """

    def __init__(self, plane: str, title: str | None = None) -> None:
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        if plane not in PLANES:
            raise ValueError(f"plane {plane!r}: one of {', '.join(PLANES)}")
        self.plane = plane
        self.axis, order, orientation = PLANES[plane]
        self.model = ViewerModel(title=title or plane)
        self.qt = QtViewer(self.model)
        self.qt.setMinimumSize(160, 160)
        self.model.dims.ndisplay = 2
        self._order = order
        self._orientation = orientation
        self.layers: FusedLayers | None = None
        self._kept: dict[str, FusedLayers] = {}
        self._styled: dict[str, DisplaySettings] = {}
        self.crosshair: Any = None
        self.point = np.zeros(3)
        self.on_click: Any = None
        self.on_move: Any = None
        self.model.mouse_drag_callbacks.append(self._drag)
        self.model.mouse_move_callbacks.append(self._move)
        self.model.scene.camera.events.zoom.connect(self._rezoom)

    # -- content ---------------------------------------------------------------------------
    def clear(self) -> None:
        """Hide the scan shown (its layers are kept for a switch back; see :meth:`show`)."""
        if self.layers is not None:
            for layer in self.layers.all():
                layer.visible = False
        self.layers = None

    def show(self, images: Any, labels: np.ndarray | None, settings: DisplaySettings,
             key: str | None = None, **images_override: Any) -> FusedLayers:
        """Show a scan (hiding the one shown) and orient the camera radiologically.

        Each scan's layers are built once and kept, hidden, for a switch back (removing a
        layer from a shown canvas costs a full garbage collection in napari, and removing a
        Shapes layer crashes vispy under Mesa); a scan shown again gets its labels and the
        current display settings.

        Parameters
        ----------
        images : nethelpers.review.ScanImages
            The scan.
        labels : numpy.ndarray or None
            Its ROI label map (shared, not copied).
        settings : DisplaySettings
            Windows, colour map, opacity.
        key : str, optional
            Cache key (default the scan ID; give another when ``images_override`` differs).
        **images_override : SimpleITK.Image
            ``pet=`` / ``anatomy=``: images to show instead of the scan's own.
        """
        self.clear()
        key = key or images.job.scan_id
        cached = self._kept.get(key)
        if cached is None:
            cached = add_fused_layers(self.model, images, labels, settings, **images_override)
            self._kept[key] = cached
        else:
            for layer in cached.all():
                layer.visible = True
            if labels is not None and cached.rois is not None and cached.rois.data is not labels:
                cached.rois.data = labels
            if self._styled.get(key) is not settings:      # settings changed since
                restyle(cached, images, settings)
        self.layers = cached
        self._styled[key] = settings
        if self.crosshair is None:
            self.crosshair = self.model.add_shapes(
                ndim=3, name="crosshair", opacity=1.0, blending="translucent_no_depth",
                metadata={"role": "crosshair"})   # no depth test: always drawn over the images
            self.crosshair.editable = False
        elif self.model.layers.index(self.crosshair) != len(self.model.layers) - 1:
            self.model.layers.move(self.model.layers.index(self.crosshair),
                                   len(self.model.layers))   # on top of new layers
        self.orient()
        self.fit()
        return self.layers

    def fit(self) -> None:
        """Fit the whole scan in the canvas at its current size (the body head to feet)."""
        if self.layers is None:
            return
        lo, hi = self.world_extent()
        size = np.maximum(hi - lo, 1e-6)
        rows, cols = self.model.dims.displayed[-2:]
        h, w = self.model.canvas.size
        if h < 2 or w < 2:                    # not laid out yet
            self.model.reset_view()
            return
        mid = (lo + hi) / 2.0
        # in 2-D the camera centre's last two values are the displayed (row, column) axes
        self.model.scene.camera.center = (0.0, float(mid[rows]), float(mid[cols]))
        self.model.scene.camera.zoom = FIT * min(h / size[rows], w / size[cols])

    def orient(self) -> None:
        """Dims order and camera orientation of the plane (head up, patient's right left)."""
        self.model.dims.order = self._order
        self.model.scene.camera.orientation2d = self._orientation

    def refresh_labels(self) -> None:
        """Redraw the ROI contours (after the shared label array changed)."""
        if self.layers is not None and self.layers.rois is not None:
            self.layers.rois.refresh()

    # -- crosshair -------------------------------------------------------------------------
    def world_extent(self) -> np.ndarray:
        """``(2, 3)`` world bounding box of the shown scan's layers (min, max)."""
        if self.layers is None:
            return np.asarray(self.model.layers.extent.world, dtype=float)[:, -3:]
        boxes = np.array([np.asarray(layer.extent.world, dtype=float)[:, -3:]
                          for layer in self.layers.all()])
        return np.array([boxes[:, 0].min(axis=0), boxes[:, 1].max(axis=0)])

    def set_point(self, world_zyx) -> None:
        """Move the slice to the point and draw the crosshair through it."""
        self.point = np.asarray(world_zyx, dtype=float)[-3:]
        if self.layers is None:
            return
        self.model.dims.set_point(self.axis, float(self.point[self.axis]))
        self._draw_crosshair()

    def _draw_crosshair(self) -> None:
        if self.crosshair is None:
            return
        lo, hi = self.world_extent()
        at = np.array(self.point, dtype=float)
        # the shapes show on the slice they lie in: use the slice the dims actually took
        at[self.axis] = float(self.model.dims.point[self.axis])
        rows, cols = (ax for ax in range(3) if ax != self.axis)
        lines = []
        for along in (rows, cols):
            a, b = at.copy(), at.copy()
            a[along], b[along] = lo[along], hi[along]
            lines.append(np.array([a, b]))
        self.crosshair.data = []
        self.crosshair.add_lines(lines, edge_color=CROSSHAIR_COLOR, edge_width=self._width_mm())

    def _width_mm(self) -> float:
        return CROSSHAIR_WIDTH_PX / max(float(self.model.scene.camera.zoom), 1e-6)

    def _rezoom(self, event: Any = None) -> None:
        if self.crosshair is not None and len(self.crosshair.data):
            self.crosshair.selected_data = set(range(len(self.crosshair.data)))
            self.crosshair.current_edge_width = self._width_mm()
            self.crosshair.selected_data = set()

    # -- mouse -----------------------------------------------------------------------------
    def _drag(self, model: Any, event: Any):
        yield from on_click_only(event, lambda e: self.click(e.position))

    def _move(self, model: Any, event: Any) -> None:
        if self.on_move is not None:
            self.on_move(np.asarray(event.position, dtype=float)[-3:])

    def click(self, world_zyx) -> None:
        """What a click at a world point does (for scripts and tests)."""
        if self.on_click is not None:
            self.on_click(np.asarray(world_zyx, dtype=float)[-3:])

    def close(self) -> None:
        """Close the canvas (its layers go with it) and let Qt delete it."""
        super().close()
        self.layers = None
