"""Canvas clicks and edits of the review dock: click actions, brush strokes, delete, undo.

A click action is armed by a button or key (add a lesion, reference sphere, "seen") and the
next click on the canvas (press and release without a drag, in 2-D) performs it through one
session call. Brush strokes in the ROIs layer are pushed to the session (``set_labels``)
once written, so the session's undo covers them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from qtpy.QtCore import QTimer

from nethelpers.viewer._qt.canvas import on_click_only
from nethelpers.viewer.layers import world_to_index

__all__ = ["PENDING_TEXT", "ClickMixin"]

#: What the status line asks for while a click action is armed.
PENDING_TEXT = {
    "add": "click on the lesion to grow its VOI",
    "liver": "click in the right liver lobe for the 3 cm reference sphere",
    "spleen": "click in the spleen for the 2 cm reference sphere",
    "seen": "click on {lesion} to draw it on this scan",
}


def voi_message(voi: Any) -> str:
    """The status line after a click-to-VOI: its numbers and a leak warning."""
    warn = ("  ⚠ reached its bounding sphere: check it or draw it by hand"
            if voi.touches_bound else "")
    return f"{voi.lesion_id}: {voi.text}{warn}"        # SUV, or counts on counts-only SPECT


class ClickMixin:
    """Click actions, brush pushes, delete and undo (part of the dock)."""

    def start(self, action: str, lesion_id: str | None = None) -> None:
        """Arm a click action: the next click on the canvas performs it."""
        if action not in PENDING_TEXT:
            raise ValueError(f"click action {action!r}: one of {', '.join(PENDING_TEXT)}")
        self.pending, self.pending_lesion = action, lesion_id
        if self._layers_ok() and self.layers.rois.mode != "pan_zoom":
            self._mode_before = self.layers.rois.mode        # a click must not paint
            self.layers.rois.mode = "pan_zoom"
        self.message(PENDING_TEXT[action].format(lesion=lesion_id) + " (Esc cancels)")

    def cancel_pending(self) -> None:
        """Disarm the pending click action."""
        was = self.pending
        self.pending = self.pending_lesion = None
        if self._mode_before is not None and self._layers_ok():
            self.layers.rois.mode = self._mode_before
        self._mode_before = None
        if was:
            self.message("click action cancelled")

    def add_lesion(self) -> None:
        """Next click: grow a new lesion's VOI."""
        self.start("add")

    def liver_sphere(self) -> None:
        """Next click: place the liver reference sphere."""
        self.start("liver")

    def spleen_sphere(self) -> None:
        """Next click: place the spleen reference sphere."""
        self.start("spleen")

    def seen(self, lesion_id: str | None = None) -> None:
        """A lesion recorded on another scan is seen here: the next click draws it."""
        lesion_id = lesion_id or self.selected_lesion()
        if lesion_id is None:
            self.message("select the lesion (a row of the table) first")
            return
        if (self.session.table["lesion_id"] == lesion_id).any():
            self.message(f"{lesion_id} already has a VOI on this scan")
            return
        self.jump_to(lesion_id)
        self.start("seen", lesion_id)

    def not_seen(self, lesion_id: str | None = None) -> None:
        """A lesion recorded on another scan is not seen here: call it negative."""
        lesion_id = lesion_id or self.selected_lesion()
        if lesion_id is None:
            self.message("select the lesion (a row of the table) first")
            return
        if self.set_read(lesion_id, call="negative"):
            self.message(f"{lesion_id}: not seen on {self.session.current} (call negative)")

    def _on_mouse(self, viewer: Any, event: Any):
        """Napari drag callback: a click (press and release, no drag) runs the pending action."""
        if self.pending is None:
            return
        press = np.asarray(event.position, dtype=float)
        yield from on_click_only(event, lambda _: self.handle_click(press))

    def handle_click(self, world_zyx) -> Any:
        """Run the pending action at a world position (z, y, x mm); what the canvas click does.

        Returns
        -------
        LesionVoi, dict or None
            The new lesion's numbers, the reference sphere's numbers, or None (nothing
            pending, outside the PET, or refused: see :attr:`messages`).
        """
        action, lesion_id = self.pending, self.pending_lesion
        if action is None:
            return None
        if self.viewer.dims.ndisplay == 3:
            self.message("clicks place VOIs in 2D only (the depth of a 3D click is unknown): "
                         "switch to 2D and click again")
            return None
        self.push_brush()
        pet = self.session.images.pet
        index = world_to_index(pet, world_zyx)
        if index is None:
            self.message("the click lies outside the PET volume; click again")
            return None
        self.cancel_pending()
        try:
            if action in ("add", "seen"):
                return self._grow_at(index, lesion_id)
            center = world_to_index(pet, world_zyx, continuous=True)
            numbers = self.session.place_reference(action, center)
            self.refresh()
            self.message(f"{action} sphere: SUVmean {numbers['suv_mean']:.2f} ± "
                         f"{numbers['suv_sd']:.2f} ({numbers['volume_ml']:.1f} ml)")
            return numbers
        except (ValueError, KeyError) as exc:
            self.message(f"{action}: {str(exc).strip(chr(39))}")
            return None

    def _grow_at(self, index: tuple[int, int, int], lesion_id: str | None) -> Any:
        """Click-to-VOI at a PET voxel; only the new lesion's row and labels are redrawn."""
        voi = self.session.add_lesion_at(index, lesion_id=lesion_id)
        # A new VOI takes no voxel of another ROI: the other lesions' numbers, the
        # references and the other markers stay; the table gets the new row only
        self._markers = self._markers[self._markers["lesion_id"] != voi.lesion_id]
        self.refresh_labels()
        if self._layers_ok():
            self.layers.set_markers(self._markers)
        self.refresh_table(voi.lesion_id, frame=self._with_voi(voi))
        self._set_brush_label()
        self.message(voi_message(voi))
        return voi

    def delete_selected(self) -> bool:
        """Delete the selected lesion's VOI on this scan (its read stays)."""
        self.push_brush()
        lesion_id = self.selected_lesion()
        if lesion_id is None:
            self.message("select the lesion (a row of the table) to delete its VOI")
            return False
        try:
            self.session.delete(lesion_id=lesion_id)
        except KeyError as exc:
            self.message(str(exc).strip("'\""))
            return False
        self.refresh(select=lesion_id, references=False)
        self.message(f"{lesion_id}: VOI deleted on {self.session.current} (Ctrl+Z undoes)")
        return True

    def undo(self) -> bool:
        """Take back the last edit of this scan."""
        self.push_brush()
        if not self.session.undo():
            self.message("nothing to undo on this scan")
            return False
        self.refresh()
        self.message("undone")
        return True

    def _on_paint(self, event: Any = None) -> None:
        """A brush / fill / eraser stroke in the ROIs layer: push it once it is written.

        napari emits ``paint`` when it records the stroke's undo step, which for a single
        ``Labels.paint`` call is before the voxels are written: the push waits for the
        event loop (or :meth:`push_brush`).
        """
        if not self._brush_pending:
            self._brush_pending = True
            QTimer.singleShot(0, self.push_brush)

    def push_brush(self) -> None:
        """Push the ROIs layer's brush edits to the session (``set_labels``), if any."""
        if not self._brush_pending:
            return
        self._brush_pending = False
        if not self._layers_ok():
            return
        data = np.asarray(self.layers.rois.data)
        table = self.session.table
        new = set(np.unique(data).tolist()) - {0} - set(table["label"].astype(int))
        lesion = self.selected_lesion()
        lesion = lesion if lesion and not (table["lesion_id"] == lesion).any() else None
        try:
            self.session.set_labels(data, lesion_id=lesion if new else None)
        except ValueError as exc:
            self.message(f"brush edit refused: {exc}")
            self.refresh_labels()
            return
        added = self.session.table[self.session.table["label"].isin(new)]
        select = added["lesion_id"].iloc[0] if not added.empty else None
        self.refresh_markers()
        self.refresh_table(select)
        self.refresh_references()
        self._set_brush_label()

    def _set_brush_label(self) -> None:
        """The brush paints the selected lesion's label, else a free lesion label."""
        if not self._layers_ok():
            return
        table = self.session.table
        lesion = self.selected_lesion()
        rows = table[table["lesion_id"] == lesion] if lesion else table.iloc[:0]
        if not rows.empty:
            label = int(rows["label"].iloc[0])
        else:
            label = self.session.free_label()
        self.layers.rois.selected_label = label
