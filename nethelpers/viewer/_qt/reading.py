"""The reading views in the review dock: MIP, coronal, sagittal, a second scan and a ruler.

The dock (:mod:`.dock`) keeps the main napari canvas as the axial view; this part adds the
:class:`~nethelpers.viewer._qt.readinglayout.ReadingLayout` beside it (a PET MIP that jumps to
the hottest voxel along a clicked ray, coronal and sagittal views with a linked crosshair,
all in radiological convention), a "beside" list that shows another scan of the patient
registered onto the current one (:mod:`nethelpers.registrationstore`; the registration's
quality is shown), and the line ruler whose long and short axis are recorded with the
selected lesion's read.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtWidgets import QHBoxLayout, QLabel, QPushButton

from nethelpers.viewer._qt.lineruler import LineRuler
from nethelpers.viewer._qt.readinglayout import ReadingLayout
from nethelpers.viewer._qt.scanswitch import narrow_combo, plain_reason, scan_label
from nethelpers.viewer.display import DisplaySettings

__all__ = ["ReadingMixin", "display_settings"]

_NONE = "(none)"
#: shares of the window's width: the reading views, the review dock (the rest: the canvas)
VIEWS_SHARE, DOCK_SHARE = 0.36, 0.22


def display_settings(params: Any) -> DisplaySettings:
    """The display settings of the parameters (``review.display``)."""
    review = getattr(params, "review", None)
    display = getattr(review, "display", None)
    if display is None:
        return DisplaySettings()
    values = display.model_dump()
    for key in ("ct_windows", "mr_presets"):
        values[key] = {k: tuple(v) for k, v in values[key].items()}
    return DisplaySettings(**values)


class ReadingMixin:
    """MIP, coronal, sagittal, a registered second scan and the ruler (part of the dock)."""

    reading: ReadingLayout | None = None
    ruler: LineRuler | None = None
    registration: Any = None
    registrations: Any = None                # SessionRegistrations, shared with the markers

    def _beside_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Beside"))
        self.beside_combo = narrow_combo()
        self.beside_combo.currentIndexChanged.connect(self._on_beside_combo)
        row.addWidget(self.beside_combo, 1)
        self.ruler_button = QPushButton("Measure axes (M)")
        self.ruler_button.clicked.connect(lambda _=False: self.measure_axes())
        row.addWidget(self.ruler_button)
        self.registration_label = QLabel("")
        self.registration_label.setWordWrap(True)
        return row

    def attach_reading_views(self) -> None:
        """Dock the reading views beside the main canvas and add the ruler layer."""
        from qtpy.QtCore import Qt

        if getattr(self, "registrations", None) is None:     # a dock made without open_review
            from nethelpers.registrationstore import SessionRegistrations

            s = self.session
            self.registrations = SessionRegistrations(s.params, s.images_of, s._warn)
        self.reading = ReadingLayout(self.viewer, display_settings(self.session.params),
                                     on_jump=self._on_layout_jump)
        window = getattr(self.viewer, "window", None)
        if window is not None:
            dock = window.add_dock_widget(self.reading.widget, name="Reading views",
                                          area="right")
            mine = getattr(self, "dock_widget", None)
            qt_window = getattr(window, "_qt_window", None)
            if mine is not None and qt_window is not None:
                qt_window.splitDockWidget(dock, mine, Qt.Orientation.Horizontal)
                self._docks = (qt_window, dock, mine)
        self.ruler = LineRuler(self.viewer, on_measure=self._on_measure)
        self._ruler_lesion: str | None = None
        self.table.itemSelectionChanged.connect(self._ruler_follows_selection)
        if self.layers is not None:                  # the ROIs stay the active layer
            self.viewer.layers.selection.active = self.layers.rois
        for widget in getattr(self, "window_widgets", []):
            widget.hide()             # the reading views' controls window every canvas
        self._fill_beside()
        self.refresh_reading_views()
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, self._fit_reading_views)      # once the dock is laid out

    def _fit_reading_views(self) -> None:
        """Size the docks (the axial canvas keeps the largest share) and fit the views."""
        from qtpy.QtCore import Qt

        docks = getattr(self, "_docks", None)
        if docks is not None:
            qt_window, dock, mine = docks
            width = max(qt_window.width(), 1200)
            qt_window.resizeDocks([dock, mine], [int(width * VIEWS_SHARE),
                                                 int(width * DOCK_SHARE)],
                                  Qt.Orientation.Horizontal)
        if self.reading is not None:
            self.reading.fit()

    def _fill_beside(self) -> None:
        s = self.session
        self._filling = True
        try:
            self.beside_combo.clear()
            self.beside_combo.addItem(_NONE, "")
            for sid in s.scan_ids:
                if sid != s.current:
                    self.beside_combo.addItem(scan_label(sid, s.jobs[sid]), sid)
        finally:
            self._filling = False

    def refresh_reading_views(self) -> None:
        """Show the current scan in the reading views (after a scan switch)."""
        if self.reading is None or self.layers is None:
            return
        self.stop_measuring()                    # lines of another scan are not this one's
        beside = self.beside_combo.currentData() or ""
        if beside and beside == self.session.current:      # switched to the scan beside:
            beside = getattr(self, "_shown_scan", "") or ""  # the pair stays, swapped
        beside = beside or self.default_beside()           # a follow-up: its baseline
        self._shown_scan = self.session.current
        self._fill_beside()
        self.reading.other_images = None          # shown again below, for the new pair
        self.reading.set_scan(self.session.images, self.layers.rois.data,
                              main_layers=self.layers)
        self.show_beside(beside)                  # never the current scan: swapped above

    def refresh_reading_labels(self) -> None:
        """Redraw the ROI contours of the coronal and sagittal views after an edit."""
        if self.reading is None or self.layers is None:
            return
        for view in (self.reading.coronal, self.reading.sagittal):
            if view.layers is not None and view.layers.rois is not None:
                view.layers.rois.data = self.layers.rois.data        # shared, not copied

    def _on_beside_combo(self, index: int) -> None:
        if self._filling or index < 0:
            return
        scan_id = self.beside_combo.itemData(index) or ""
        self.beside_chosen[self.session.current] = scan_id    # the reader's, for this scan
        self.show_beside(scan_id)
        self.refresh_matching(self.match_panel_label())     # a follow-up: compared with it

    def show_beside(self, scan_id: str) -> bool:
        """Show another scan of the patient beside the current one, registered onto it.

        Parameters
        ----------
        scan_id : str
            The other scan; ``""`` hides the pane.

        Returns
        -------
        bool
            False when the other scan could not be loaded or registered (the reason shown).
        """
        if self.reading is None:
            return False
        self.registration = None
        if not scan_id:
            self.reading.set_other(None)
            self.registration_label.setText("")
            return True
        s = self.session
        try:
            other = s.images_of(scan_id)
            reg = self.registrations.get(s.current, scan_id)     # the markers' registration
        except Exception as exc:  # noqa: BLE001 - shown in the dock, the review goes on
            self.reading.set_other(None)
            reason = plain_reason(exc, self._roots())
            shown = getattr(s, "_shown", None)           # the study's pseudonymiser
            self.show_problem(f"{scan_id} cannot be shown beside: "
                              f"{shown(reason) if shown else reason}")
            self._set_beside_index("")
            return False
        self.registration = reg
        self.reading.set_other(other, reg.transform)
        title = self.reading.other.model.canvas.overlays["text"]   # the pane, in words
        title.position, title.font_size, title.visible = "top_left", 8, True
        title.text = self.beside_title(scan_id)
        self.refresh_match_header()        # its registration line is now shown above
        self.registration_label.setText(f"Registration {scan_id} → {s.current}: "
                                        f"{reg.summary}")
        self._set_beside_index(scan_id)          # its warnings reached the session's list
        self.refresh_warnings()
        return True

    def _set_beside_index(self, scan_id: str) -> None:
        index = self.beside_combo.findData(scan_id)
        if index >= 0 and index != self.beside_combo.currentIndex():
            self._filling = True
            try:
                self.beside_combo.setCurrentIndex(index)
            finally:
                self._filling = False

    def _on_layout_jump(self, world_zyx: np.ndarray) -> None:
        """A click on the MIP: the main canvas shows that slice, centred on the point."""
        from nethelpers.viewer._qt.lesiontable import centre_view

        centre_view(self.viewer, world_zyx)
        self.message("MIP: hottest voxel along the ray at "
                     + ", ".join(f"{v:.1f}" for v in world_zyx) + " mm (z, y, x)")

    def measure_axes(self) -> None:
        """Start the ruler: draw the long axis, then the short axis, on the selected lesion."""
        if self.ruler is None:
            return
        lesion_id = self.selected_lesion()
        if lesion_id is None:
            self.message("select a lesion in the table first: its axes are recorded with it")
            return
        self.ruler.clear()
        self._ruler_lesion = lesion_id
        self.ruler.start()
        self.message(f"{lesion_id}: draw the long axis, then the short axis (mm)")

    def stop_measuring(self) -> None:
        """End a measurement: its lines go, nothing more is recorded until M again."""
        self._ruler_lesion = None
        if self.ruler is not None:
            self.ruler.clear()

    def _ruler_follows_selection(self) -> None:
        if self._ruler_lesion is not None and self.selected_lesion() != self._ruler_lesion:
            self.stop_measuring()                # the lines were the previous lesion's

    def _on_measure(self, long_axis_mm: float | None = None,
                    short_axis_mm: float | None = None) -> None:
        """Record the ruler's axes with the lesion M was pressed for (only that one)."""
        lesion_id = self._ruler_lesion
        if lesion_id is None or long_axis_mm is None:
            return
        values = {"long_axis_mm": f"{long_axis_mm:.1f}",
                  "short_axis_mm": "" if short_axis_mm is None else f"{short_axis_mm:.1f}"}
        self.set_read(lesion_id, **values)

    def close_reading_views(self) -> None:
        """Disconnect the reading views (the window closes)."""
        if self.reading is not None:
            self.reading.close()
            self.reading = None
