"""The lesion table of the review dock: columns, drop-down editors, selection and reads.

One row per lesion of the patient (``ReviewSession.lesion_table()``): the reader's read
(site, call, Krenning, confidence, note: editable) and the numbers on this scan. Selecting
a row moves the view to the lesion and sets the brush label; editing a read cell records it
with ``ReviewSession.set_read``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QObject, Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QComboBox,
    QHeaderView,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from nethelpers.rois import CALLS, READ_COLUMNS, RoiStoreError
from nethelpers.viewer.layers import index_to_world

__all__ = ["COLUMNS", "ChoiceDelegate", "LesionTableMixin", "centre_view", "make_table"]

#: Table columns: (field of ``ReviewSession.lesion_table()``, header).
COLUMNS = (
    ("lesion_id", "Lesion"), ("site", "Site"), ("call", "Call"), ("krenning", "Krenning"),
    ("confidence", "Confidence"), ("note", "Note"), ("suv_max", "SUVmax"),
    ("suv_peak", "SUVpeak"), ("volume_ml", "Volume ml"), ("tb_liver", "T/B liver"),
    ("on_scan", "On this scan"),
)
#: Columns of ``ReviewSession.lesion_table()``.
FRAME_COLUMNS = ("lesion_id", "label", *READ_COLUMNS[1:], "suv_max", "suv_peak", "volume_ml",
                 "tb_liver", "counts_max", "counts_peak", "on_scan")
#: Counts-only SPECT: the SUV columns show the counts (their own header), never as SUV.
COUNTS_FIELDS = {"suv_max": ("counts_max", "Max counts"), "suv_peak": ("counts_peak",
                                                                       "Peak counts")}
EDITABLE = {"site", "call", "krenning", "confidence", "note"}
CHOICES = {"call": ("", *CALLS), "krenning": ("", "0", "1", "2", "3", "4"),
           "confidence": ("", "1", "2", "3", "4", "5")}
DIGITS = {"suv_max": 2, "suv_peak": 2, "volume_ml": 2, "tb_liver": 2, "counts_max": 0,
          "counts_peak": 0}


def centre_view(viewer: Any, world: Any) -> None:
    """Move a viewer's slice to a world point ``(z, y, x)`` and centre its camera on it."""
    viewer.dims.set_point(range(3), tuple(float(v) for v in world))
    scene = getattr(viewer, "scene", None)                    # napari >= 0.9
    camera = scene.camera if scene is not None else viewer.camera
    center = list(camera.center)
    for axis in viewer.dims.displayed:
        center[len(center) - viewer.dims.ndim + axis] = float(world[axis])
    camera.center = tuple(center)


class ChoiceDelegate(QStyledItemDelegate):
    """A drop-down editor for the call, Krenning and confidence cells."""

    def __init__(self, choices: tuple[str, ...], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.choices = choices

    def createEditor(self, parent, option, index):  # noqa: N802 - Qt API
        box = QComboBox(parent)
        box.addItems(list(self.choices))
        return box

    def setEditorData(self, editor, index):  # noqa: N802 - Qt API
        value = str(index.data() or "")
        editor.setCurrentIndex(max(0, editor.findText(value)))

    def setModelData(self, editor, model, index):  # noqa: N802 - Qt API
        model.setData(index, editor.currentText())


def _fmt(value: Any, digits: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.{digits}f}"


def _cell_text(field: str, value: Any, on_scan: bool, is_marker: bool) -> str:
    if field == "on_scan":
        return "yes" if on_scan else "marker" if is_marker else "no"
    if field in DIGITS:
        return _fmt(value, DIGITS[field])
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    return "" if missing else str(value)


def make_table(parent: QWidget | None = None) -> QTableWidget:
    """The empty lesion table: one selected row at a time, drop-downs for the coded reads."""
    table = QTableWidget(0, len(COLUMNS), parent)
    table.setHorizontalHeaderLabels([h for _, h in COLUMNS])
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                          | QAbstractItemView.EditTrigger.EditKeyPressed
                          | QAbstractItemView.EditTrigger.SelectedClicked)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
    fields = [f for f, _ in COLUMNS]
    for field, choices in CHOICES.items():
        table.setItemDelegateForColumn(fields.index(field), ChoiceDelegate(choices, table))
    return table


def shown_columns(quantity: str = "SUV") -> list[tuple[str, str]]:
    """The (field, header) of each column for a scan on ``quantity`` (SUV or counts)."""
    if quantity != "counts":
        return list(COLUMNS)
    return [COUNTS_FIELDS.get(field, (field, header)) for field, header in COLUMNS]


def fill_table(table: QTableWidget, frame: pd.DataFrame, marker_ids: set[str],
               quantity: str = "SUV") -> None:
    """Write a lesion frame into the table (signals of the caller's choice stay blocked).

    For counts-only SPECT (``quantity="counts"``) the SUVmax and SUVpeak columns show the
    counts statistics under their own headers.
    """
    columns = shown_columns(quantity)
    table.setHorizontalHeaderLabels([h for _, h in columns])
    table.setRowCount(len(frame))
    for r, rec in enumerate(frame.to_dict("records")):
        on_scan = bool(rec["on_scan"])
        for c, (field, _) in enumerate(columns):
            item = QTableWidgetItem(_cell_text(field, rec.get(field), on_scan,
                                               rec["lesion_id"] in marker_ids))
            flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
            if field in EDITABLE:
                flags |= Qt.ItemFlag.ItemIsEditable
            item.setFlags(flags)
            if field in DIGITS:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if not on_scan:
                item.setForeground(Qt.GlobalColor.gray)
            table.setItem(r, c, item)


class LesionTableMixin:
    """Table filling, row selection, navigation to a lesion and reads (part of the dock)."""

    def refresh_table(self, select: str | None = None, frame: pd.DataFrame | None = None
                      ) -> pd.DataFrame:
        """Fill the lesion table; keep or set the selection.

        Parameters
        ----------
        select : str, optional
            Lesion to select (default: the one selected).
        frame : pandas.DataFrame, optional
            The table's content; default ``session.lesion_table()``.
        """
        select = select or self.selected_lesion()
        frame = self.session.lesion_table() if frame is None else frame
        self.frame = frame
        self._filling = True
        self.table.blockSignals(True)
        try:
            fill_table(self.table, frame, set(self._markers["lesion_id"]),
                       self.session.images.quantity)
            self._lesion_ids = frame["lesion_id"].tolist()
            if select in self._lesion_ids:
                self.table.selectRow(self._lesion_ids.index(select))
            self.table.resizeColumnsToContents()
        finally:
            self.table.blockSignals(False)
            self._filling = False
        self._mark_dirty_scans()
        return frame

    def _with_voi(self, voi: Any) -> pd.DataFrame:
        """The table's frame with a new lesion VOI's row (its numbers from add_lesion_at)."""
        frame = self.frame
        if frame is None or list(frame.columns) != list(FRAME_COLUMNS):
            return self.session.lesion_table()
        reads = self.session.reads.set_index("lesion_id")
        row: dict[str, Any] = {"lesion_id": voi.lesion_id, "label": voi.label}
        row |= {c: (reads.at[voi.lesion_id, c] if voi.lesion_id in reads.index else "")
                for c in READ_COLUMNS[1:]}
        row |= {"suv_max": voi.suv_max, "suv_peak": voi.suv_peak, "volume_ml": voi.volume_ml,
                "tb_liver": voi.tb_liver, "counts_max": voi.counts_max,
                "counts_peak": voi.counts_peak, "on_scan": True}
        rest = frame[frame["lesion_id"] != voi.lesion_id]
        out = pd.concat([rest, pd.DataFrame([row], columns=frame.columns)], ignore_index=True)
        return out.sort_values("lesion_id", kind="stable").reset_index(drop=True)

    def selected_lesion(self) -> str | None:
        """The lesion of the selected table row (None without a selection)."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        if len(rows) != 1:
            return None
        row = rows.pop()
        return self._lesion_ids[row] if 0 <= row < len(self._lesion_ids) else None

    def select_lesion(self, lesion_id: str, jump: bool = True) -> None:
        """Select a lesion's row (and move the view to it)."""
        if lesion_id not in self._lesion_ids:
            raise KeyError(f"lesion {lesion_id} is not in the table")
        self.table.selectRow(self._lesion_ids.index(lesion_id))
        self._set_brush_label()
        if jump:
            self.jump_to(lesion_id)

    def _on_cell_clicked(self, row: int, column: int) -> None:
        if 0 <= row < len(self._lesion_ids):
            self.select_lesion(self._lesion_ids[row])

    def _step(self, delta: int) -> None:
        if not self._lesion_ids:
            return
        current = self.selected_lesion()
        i = self._lesion_ids.index(current) + delta if current in self._lesion_ids else 0
        self.select_lesion(self._lesion_ids[i % len(self._lesion_ids)])

    def lesion_position(self, lesion_id: str) -> np.ndarray | None:
        """World position (z, y, x mm) of a lesion: its SUVmax here, else its marker."""
        s = self.session
        if (s.table["lesion_id"] == lesion_id).any():
            return index_to_world(s.images.pet, s.lesion_centre(lesion_id))
        rows = self._markers[self._markers["lesion_id"] == lesion_id]
        if not rows.empty:
            return index_to_world(s.images.pet, rows[["z", "y", "x"]].iloc[0].to_numpy(float))
        return None

    def jump_to(self, lesion_id: str) -> bool:
        """Centre the view on a lesion (slice and camera); False when it has no position."""
        world = self.lesion_position(lesion_id)
        if world is None:
            self.message(f"{lesion_id} has no VOI on this scan and no marker from another")
            return False
        centre_view(self.viewer, world)
        return True

    def _on_cell_changed(self, row: int, column: int) -> None:
        if self._filling or not 0 <= row < len(self._lesion_ids):
            return
        field = COLUMNS[column][0]
        if field not in EDITABLE:
            return
        lesion_id = self._lesion_ids[row]
        value = self.table.item(row, column).text().strip()
        self.set_read(lesion_id, **{field: value})

    def set_read(self, lesion_id: str, **values: Any) -> bool:
        """Record the reader's call on a lesion (site, call, krenning, confidence, note)."""
        try:
            self.session.set_read(lesion_id, **values)
        except (RoiStoreError, ValueError) as exc:
            self.message(f"not recorded: {exc}")
            self.refresh_table(lesion_id)
            return False
        self.message(f"{lesion_id}: " + ", ".join(f"{k} {v or '(empty)'}"
                                                   for k, v in values.items()))
        self.refresh_table(lesion_id)
        return True
