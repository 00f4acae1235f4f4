"""The reading layout: PET MIP, coronal and sagittal views and a second scan, all linked.

The main napari canvas stays the axial view (the review's layers, click-to-VOI). The layout
is one Qt widget to dock beside it::

    layout = ReadingLayout(viewer, on_jump=...)
    viewer.window.add_dock_widget(layout.widget, name="reading layout", area="right")
    layout.set_scan(session.images, scan_layers.rois.data, main_layers=scan_layers)
    layout.set_other(other_images, transform)     # or None to hide the second pane

One crosshair (a world point, patient LPS mm ``(z, y, x)``) links everything: moving the
main canvas's axial slice moves it in ``z``; a click on the main canvas, the coronal or the
sagittal view moves it there; a click on the MIP moves it to the hottest voxel along the
view ray and calls ``on_jump(world_zyx)``. The value under the mouse (SUV and HU or MR, of
whatever canvas) is shown below the views, whatever layer is selected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
from qtpy.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from nethelpers.viewer._qt.displaycontrols import DisplayControls
from nethelpers.viewer._qt.fusion import style_anatomy, style_pet
from nethelpers.viewer._qt.mipview import MipView
from nethelpers.viewer._qt.orthoviews import SliceView
from nethelpers.viewer._qt.sidebyside import SideBySidePane
from nethelpers.viewer.display import DisplaySettings, cursor_text

__all__ = ["ReadingLayout"]


class ReadingLayout:
    """MIP + coronal + sagittal (+ another scan) linked to the main (axial) napari viewer.

    Parameters
    ----------
    viewer : napari.Viewer, optional
        The main viewer (axial). Its slice and clicks drive the crosshair; the crosshair
        moves its slice. None: the layout stands alone (scripts, tests).
    settings : DisplaySettings, optional
        Display settings (default :class:`DisplaySettings`).
    on_jump : callable, optional
        Called with the world point ``(z, y, x)`` after a click on the MIP.

    Attributes
    ----------
    widget : QWidget
        The dock widget.
    mip : MipView
    coronal, sagittal : SliceView
    other : SideBySidePane
        The second scan's pane (hidden until :meth:`set_other`).
    controls : DisplayControls
    cursor : QLabel
        The value under the mouse.
    point : numpy.ndarray
        The crosshair, world ``(z, y, x)`` mm.
    """

    def __init__(self, viewer: Any = None, settings: DisplaySettings | None = None,
                 on_jump: Any = None) -> None:
        self.viewer = viewer
        self.settings = settings or DisplaySettings()
        self.on_jump = on_jump
        self.images: Any = None
        self.other_images: Any = None
        self.transform: sitk.Transform | None = None
        self.main_layers: Any = None
        self.point = np.zeros(3)
        self._syncing = False
        self.mip = MipView()
        self.coronal = SliceView("coronal")
        self.sagittal = SliceView("sagittal")
        self.other = SideBySidePane()
        self.controls = DisplayControls(self.settings, on_change=self.set_display)
        self.cursor = QLabel("")
        self.widget = self._build()
        self.mip.on_jump = self._jump
        for view in (self.coronal, self.sagittal, self.other):
            view.on_click = self.set_crosshair
            view.on_move = self._hover
        if viewer is not None:
            viewer.dims.events.point.connect(self._main_point)
            viewer.mouse_drag_callbacks.append(self._main_click)
            viewer.mouse_move_callbacks.append(self._main_move)

    def _build(self) -> QWidget:
        widget = QWidget()
        outer = QVBoxLayout(widget)
        outer.setContentsMargins(0, 0, 0, 0)
        grid = QGridLayout()
        grid.addWidget(self.mip.qt, 0, 0)          # 2 x 2: MIP, coronal / sagittal, other
        grid.addWidget(self.coronal.qt, 0, 1)
        grid.addWidget(self.sagittal.qt, 1, 0)
        grid.addWidget(self.other.qt, 1, 1)
        self.other.qt.hide()
        outer.addLayout(grid, 1)
        outer.addWidget(self.controls)
        outer.addWidget(self.cursor)
        return widget

    # -- content ---------------------------------------------------------------------------
    def set_scan(self, images: Any, labels: np.ndarray | None = None,
                 main_layers: Any = None) -> None:
        """Show a scan: MIP, coronal, sagittal; crosshair at the centre of its PET.

        Parameters
        ----------
        images : nethelpers.review.ScanImages
            The current scan.
        labels : numpy.ndarray, optional
            Its ROI label map; pass the main canvas's Labels layer ``data`` to share it
            (then :meth:`refresh_labels` after edits redraws the contours here).
        main_layers : object with ``anatomy`` and ``pet`` layers, optional
            The main canvas's layers of this scan (``nethelpers.viewer.layers.ScanLayers``):
            restyled to the same fusion (alpha blending, transparent lower SUV) and colour bar.
        """
        self.images = images
        self.main_layers = main_layers
        self.controls.set_scan(images.anatomy_kind, images.job.tracer, images=images)
        self.mip.show(images, self.settings)
        for view in (self.coronal, self.sagittal):
            view.show(images, labels, self.settings)
        self.set_crosshair(self._start_point(images), move_main=True)
        self._style_main()
        self.fit()
        if self.other_images is not None:
            self.set_other(self.other_images, self.transform)

    def _start_point(self, images: Any) -> np.ndarray:
        """Where the crosshair starts on a scan.

        The main view's point when it lies in the scan (every view then shows the slice the
        main view shows), else the PET's centre.
        """
        size = np.asarray(images.pet.GetSize(), dtype=float)
        centre = np.asarray(images.pet.TransformContinuousIndexToPhysicalPoint(
            [float(v) for v in (size - 1) / 2.0]))[::-1]
        if self.viewer is None:
            return centre
        point = np.asarray(self.viewer.dims.point, dtype=float)[-3:]
        index = np.asarray(images.pet.TransformPhysicalPointToContinuousIndex(
            [float(v) for v in point[::-1]]))
        return point if np.all((index >= -0.5) & (index <= size - 0.5)) else centre

    def set_other(self, images: Any | None, transform: sitk.Transform | None = None) -> None:
        """Show another scan beside (resampled onto the current grid), or hide the pane.

        Parameters
        ----------
        images : nethelpers.review.ScanImages or None
            The other scan; None hides the pane.
        transform : SimpleITK.Transform, optional
            Current (fixed) point -> other (moving) point; default identity.
        """
        self.other_images, self.transform = images, transform
        if images is None or self.images is None:
            self.other.clear()
            self.other.qt.hide()
            return
        self.other.qt.show()                 # first: the camera fits the shown canvas
        self.other.show_other(images, self.images, self.settings, transform)
        self.other.set_point(self.point)

    def fit(self) -> None:
        """Fit each view's scan to its canvas (after a scan change or a resize)."""
        for view in (self.coronal, self.sagittal, self.other):
            view.fit()
        self.mip.coronal()

    def refresh_labels(self) -> None:
        """Redraw the ROI contours in the coronal and sagittal views."""
        for view in (self.coronal, self.sagittal):
            view.refresh_labels()

    def set_display(self, settings: DisplaySettings) -> None:
        """Apply display settings to every view (and the main canvas's anatomy and PET)."""
        self.settings = settings
        panes = [(self.coronal, self.images), (self.sagittal, self.images),
                 (self.other, self.other_images)]
        for view, images in panes:
            if view.layers is None or images is None:
                continue
            if view.layers.anatomy is not None:
                style_anatomy(view.layers.anatomy, images.anatomy_kind, settings)
            style_pet(view.layers.pet, images.job.tracer, settings,
                      over_anatomy=view.layers.anatomy is not None, images=images)
        self._style_main()

    def _style_main(self) -> None:
        """Fuse the main canvas's layers of the current scan like the views."""
        if self.main_layers is None or self.images is None:
            return
        anatomy, pet = self.main_layers.anatomy, self.main_layers.pet
        if anatomy is not None and self.images.anatomy_kind in ("CT", "MR"):
            style_anatomy(anatomy, self.images.anatomy_kind, self.settings)
        if pet is not None:
            style_pet(pet, self.images.job.tracer, self.settings,
                      over_anatomy=anatomy is not None, images=self.images)
            if hasattr(pet, "colorbar"):
                pet.colorbar.visible = True

    # -- crosshair -------------------------------------------------------------------------
    def set_crosshair(self, world_zyx, *, move_main: bool = True) -> None:
        """Move the crosshair to a world point: every view's slice, and the main slice."""
        self.point = np.asarray(world_zyx, dtype=float)[-3:].copy()
        for view in (self.coronal, self.sagittal, self.other):
            view.set_point(self.point)
        self.mip.set_point(self.point)
        if move_main and self.viewer is not None and not self._syncing:
            self._syncing = True
            try:
                self.viewer.dims.set_point(self.viewer.dims.ndim - 3, float(self.point[0]))
            finally:
                self._syncing = False

    def _jump(self, world_zyx: np.ndarray) -> None:
        self.set_crosshair(world_zyx)
        if self.on_jump is not None:
            self.on_jump(np.asarray(world_zyx, dtype=float))

    def _main_point(self, event: Any = None) -> None:
        if self._syncing or self.images is None:
            return
        z = float(self.viewer.dims.point[self.viewer.dims.ndim - 3])
        if z != self.point[0]:
            self._syncing = True
            try:
                self.set_crosshair((z, self.point[1], self.point[2]), move_main=False)
            finally:
                self._syncing = False

    def _main_click(self, viewer: Any, event: Any) -> None:
        if event.type == "mouse_press" and len(event.dims_displayed) == 2:
            self.set_crosshair(np.asarray(event.position, dtype=float)[-3:], move_main=False)

    def _main_move(self, viewer: Any, event: Any) -> None:
        self._hover(np.asarray(event.position, dtype=float)[-3:])

    def _hover(self, world_zyx: np.ndarray) -> None:
        if self.images is None:
            return
        text = cursor_text(self.images, world_zyx)
        if self.other.resampled is not None:
            suv = self.other.suv_at(world_zyx)
            if suv is not None:
                text += f" | other scan SUV {suv:.2f}"
        self.cursor.setText(text)

    def close(self) -> None:
        """Disconnect from the main viewer and close the canvases."""
        if self.viewer is not None:
            self.viewer.dims.events.point.disconnect(self._main_point)
            for callbacks, cb in ((self.viewer.mouse_drag_callbacks, self._main_click),
                                  (self.viewer.mouse_move_callbacks, self._main_move)):
                if cb in callbacks:
                    callbacks.remove(cb)
        for view in (self.mip, self.coronal, self.sagittal, self.other):
            view.close()
