"""Scan switching in the review dock: the scan list, layers kept per scan, failed loads.

Each scan's layers (anatomy, PET, ROIs, markers) are built once and kept in the viewer:
switching to another scan hides the shown ones and shows the other scan's (its ROIs, markers
and numbers redrawn from the session), instead of adding them again. Hiding, not removing:
napari runs a full garbage collection for every layer removed (about 0.2 s each), and adding
a layer back builds its visual again.

A scan that fails to load (``ReviewSession.open_scan`` raises) changes nothing on screen:
the session is put back on the scan shown (should it have moved), the scan list goes back to
it, and the reason is shown in the dock's problem line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
from qtpy.QtWidgets import QComboBox

from nethelpers.viewer.display import DisplaySettings, emission_limits
from nethelpers.viewer.layers import (
    add_scan_layers,
    anatomy_limits,
    remove_scan_layers,
    suv_window,
)

__all__ = ["ScanSwitchMixin", "narrow_combo", "plain_reason", "scan_label"]

_MARKER_COLUMNS = ["lesion_id", "from_scan", "x_mm", "y_mm", "z_mm", "z", "y", "x"]


def scan_label(scan_id: str, job: Any) -> str:
    """How a scan is named in the dock's lists: ``P001-FDG-PETCT  (FDG PET/CT)``."""
    return f"{scan_id}  ({job.tracer} {job.modality})"


def narrow_combo(characters: int = 14) -> QComboBox:
    """A drop-down list that does not widen the dock to its longest item."""
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(characters)
    return combo


def plain_reason(exc: BaseException | str, roots: list[Any]) -> str:
    """An error's text for the dock: quotes of a KeyError stripped, study roots left out.

    Parameters
    ----------
    exc : Exception or str
        The error.
    roots : list of path
        Folders (study data, ROI store) whose absolute prefix is dropped, so files show
        relative to them.
    """
    text = str(exc).strip().strip("'\"")
    for root in roots:
        if not root:
            continue
        for form in {str(root), str(Path(root).resolve())}:
            text = text.replace(form.rstrip(os.sep) + os.sep, "")
    return text or type(exc).__name__


class ScanSwitchMixin:
    """The scan list, the per-scan layer cache and failed loads (part of the dock)."""

    def _roots(self) -> list[Any]:
        study = getattr(getattr(self.session, "params", None), "study", None)
        return [getattr(study, "data_root", None), getattr(study, "rois", None)]

    def show_scan(self) -> None:
        """(Re)draw the current scan: its layers, table, markers, references and versions.

        When the layers already show this scan (after a restore or a reload: same images,
        other ROIs) only the ROIs, markers and numbers are redrawn, and the view is kept.
        A scan shown before gets its kept layers back (ROIs redrawn from the session).
        """
        s = self.session
        self.cancel_pending()
        if self._layers_ok() and self.layers.pet.metadata.get("scan_id") == s.current:
            self.refresh()
            self.refresh_versions()
            return
        self._markers = self._session_markers()
        if self.layers is not None:
            self.layers.set_shown(False)                  # kept, hidden: no gc, no re-add
        self.layers = None
        images = s.images
        cached = self.scan_layers.get(s.current)
        if cached is not None and all(lay in self.viewer.layers for lay in cached.all()):
            self.layers = cached
            self.refresh_labels()
            cached.set_markers(self._markers)
            if cached.anatomy is not None and images.anatomy_kind == "CT":
                cached.anatomy.contrast_limits = anatomy_limits(
                    None, "CT", self.window_combo.currentText())
            cached.set_shown(True)
            top = float(cached.pet.contrast_limits[1])
        else:
            if cached is not None:                        # a reader removed one of them
                remove_scan_layers(self.viewer, cached)
            top = (suv_window(images.job.tracer) if images.quantity == "SUV"   # counts SPECT:
                   else emission_limits(images, DisplaySettings())[1])      # its own window
            self.layers = add_scan_layers(self.viewer, images, s.labels, self._markers,
                                          ct_preset=self.window_combo.currentText(),
                                          suv_max=top)
            self.layers.rois.events.paint.connect(self._on_paint)
            self.scan_layers[s.current] = self.layers
        self.viewer.layers.selection.active = self.layers.rois
        self._filling = True
        try:
            self.suv_spin.setValue(top)
            self.suv_spin.setEnabled(images.quantity == "SUV")     # an SUV spin: not counts
            self.window_combo.setEnabled(images.anatomy_kind == "CT")
            self.scan_combo.setCurrentIndex(s.scan_ids.index(s.current))
        finally:
            self._filling = False
        self.viewer.title = f"NET review · {s.patient_id} · {s.current} · reader {s.reader}"
        self.viewer.reset_view()
        self.refresh_table()
        self.refresh_references()
        self.refresh_versions()
        self._set_brush_label()
        self.refresh_warnings()
        self.refresh_reading_views()
        self.refresh_matching()
        self.adopt_on_first_show()

    def select_scan(self, scan_id: str) -> bool:
        """Show another scan of the patient (unsaved edits of every scan are kept).

        Returns
        -------
        bool
            False when the scan could not be loaded: the reason is in the problem line and
            everything (session, scan list, canvas) stays on the scan shown.
        """
        s = self.session
        if scan_id == s.current and self.layers is not None:
            return True
        self.push_brush()
        previous = s.current
        try:
            s.open_scan(scan_id)
        except Exception as exc:  # noqa: BLE001 - any failure to load is shown, not raised
            self._scan_failed(scan_id, previous, exc)
            return False
        self.show_problem("")
        self.show_scan()
        return True

    def _scan_failed(self, scan_id: str, previous: str, exc: Exception) -> None:
        """Put the session and the scan list back on ``previous`` and say why."""
        s = self.session
        if s.current != previous:
            s.open_scan(previous)            # loaded already: cannot fail
        self._filling = True
        try:
            self.scan_combo.setCurrentIndex(s.scan_ids.index(previous))
        finally:
            self._filling = False
        self.show_problem(f"{scan_id} could not be opened: "
                          f"{plain_reason(exc, self._roots())}. Still showing {previous}.")
        self.refresh_warnings()

    def _on_scan_combo(self, index: int) -> None:
        if self._filling or index < 0:
            return
        self.select_scan(self.scan_combo.itemData(index))

    def _session_markers(self) -> pd.DataFrame:
        """``session.markers()``; when another scan fails to load, none, and the reason."""
        try:
            return self.session.markers()
        except Exception as exc:  # noqa: BLE001 - a broken other scan must not break this one
            self.show_problem("markers of lesions on the other scans are not shown: "
                              + plain_reason(exc, self._roots()))
            return pd.DataFrame(columns=_MARKER_COLUMNS)

    def drop_cached_layers(self) -> None:
        """Remove the hidden layers of the scans not shown (frees their memory)."""
        shown = self.layers
        for scan_id in [k for k, v in self.scan_layers.items() if v is not shown]:
            remove_scan_layers(self.viewer, self.scan_layers.pop(scan_id))

    def _layers_ok(self) -> bool:
        """Whether the ROI layer is still in the viewer (other layers may be removed freely)."""
        return self.layers is not None and self.layers.rois in self.viewer.layers

    def refresh_labels(self) -> None:
        """Show the session's label map (a copy: brush strokes go back via set_labels)."""
        if self._layers_ok():
            self.layers.rois.data = self.session.labels.copy()
            self.refresh_reading_labels()

    def refresh_markers(self) -> None:
        """Lesions recorded on other scans but not on this one."""
        self._markers = self._session_markers()
        if self._layers_ok():
            self.layers.set_markers(self._markers)

    def _on_window(self, preset: str) -> None:
        if self._filling or self.layers is None or self.layers.anatomy is None:
            return
        if self.layers.anatomy.metadata.get("kind") == "CT":
            self.layers.anatomy.contrast_limits = anatomy_limits(None, "CT", preset)

    def _on_suv_max(self, value: float) -> None:
        if self._filling or self.layers is None:
            return
        pet = self.layers.pet
        low, high = pet.contrast_limits_range
        if value > high:
            pet.contrast_limits_range = (low, value)
        pet.contrast_limits = (0.0, float(value))

