"""The review dock widget: a thin Qt shell over :class:`nethelpers.review.ReviewSession`.

Every action (add a lesion by a click, reference spheres, delete, undo, reads, seen / not
seen, save, restore) calls one session method and redraws; the widget keeps no state of its
own beyond what is on screen and which click action is pending.

Keyboard (in the canvas and in this widget; not while typing in a text field):

=============  ==========================================================================
A              add a lesion: the next click grows its VOI
L / S          liver (3 cm) / spleen (2 cm) reference sphere at the next click
Y / N          the selected lesion (recorded on another scan) is seen here (next click
               draws it) / not seen (call "negative")
Delete         delete the selected lesion's VOI on this scan (Backspace too)
Ctrl+Z         undo (also brush strokes: they are pushed to the session; napari's own
               labels undo/redo, Ctrl+Shift+Z, is switched off)
Ctrl+S         save
PgDown / PgUp  next / previous lesion
Escape         cancel the pending click action
=============  ==========================================================================

Dialogs are injectable for tests and scripts: :attr:`ReviewWidget.ask_close`,
:attr:`ReviewWidget.ask_conflict` and :attr:`ReviewWidget.ask_confirm`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtCore import QEvent, QObject, QSize, Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from nethelpers.rois import CALLS, READ_COLUMNS, RoiConflictError, RoiStoreError
from nethelpers.viewer.layers import (
    CT_WINDOWS,
    ScanLayers,
    add_scan_layers,
    anatomy_limits,
    index_to_world,
    remove_scan_layers,
    suv_window,
    world_to_index,
)

__all__ = ["COLUMNS", "SHORTCUTS", "ReviewWidget"]

#: Table columns: (field of ``ReviewSession.lesion_table()``, header).
COLUMNS = (
    ("lesion_id", "Lesion"), ("site", "Site"), ("call", "Call"), ("krenning", "Krenning"),
    ("confidence", "Confidence"), ("note", "Note"), ("suv_max", "SUVmax"),
    ("suv_peak", "SUVpeak"), ("volume_ml", "Volume ml"), ("tb_liver", "T/B liver"),
    ("on_scan", "On this scan"),
)
#: Columns of ``ReviewSession.lesion_table()``.
_FRAME_COLUMNS = ("lesion_id", "label", *READ_COLUMNS[1:], "suv_max", "suv_peak", "volume_ml",
                  "tb_liver", "on_scan")
_EDITABLE = {"site", "call", "krenning", "confidence", "note"}
_CHOICES = {"call": ("", *CALLS), "krenning": ("", "0", "1", "2", "3", "4"),
            "confidence": ("", "1", "2", "3", "4", "5")}
_DIGITS = {"suv_max": 2, "suv_peak": 2, "volume_ml": 2, "tb_liver": 2}

_CTRL = Qt.KeyboardModifier.ControlModifier
_SHIFT = Qt.KeyboardModifier.ShiftModifier
_ALT = Qt.KeyboardModifier.AltModifier
_META = Qt.KeyboardModifier.MetaModifier
#: Keyboard shortcuts: (Qt key, modifiers "" / "ctrl" / "ctrl+shift") -> action (see the
#: module docstring). Ctrl+Shift+Z is taken too: napari's own redo of a brush stroke would
#: bypass the session (its undo is the session's).
SHORTCUTS: dict[tuple[Any, str], str] = {
    (Qt.Key.Key_A, ""): "add",
    (Qt.Key.Key_L, ""): "liver",
    (Qt.Key.Key_S, ""): "spleen",
    (Qt.Key.Key_Y, ""): "seen",
    (Qt.Key.Key_N, ""): "not_seen",
    (Qt.Key.Key_Delete, ""): "delete",
    (Qt.Key.Key_Backspace, ""): "delete",
    (Qt.Key.Key_Z, "ctrl"): "undo",
    (Qt.Key.Key_Z, "ctrl+shift"): "redo",
    (Qt.Key.Key_S, "ctrl"): "save",
    (Qt.Key.Key_PageDown, ""): "next",
    (Qt.Key.Key_PageUp, ""): "previous",
    (Qt.Key.Key_Escape, ""): "cancel",
}
_PENDING_TEXT = {
    "add": "click on the lesion to grow its VOI",
    "liver": "click in the right liver lobe for the 3 cm reference sphere",
    "spleen": "click in the spleen for the 2 cm reference sphere",
    "seen": "click on {lesion} to draw it on this scan",
}
_KEYS = {(int(getattr(key, "value", key)), mods): action
         for (key, mods), action in SHORTCUTS.items()}
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class _ChoiceDelegate(QStyledItemDelegate):
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


def _ask_warning(parent: QWidget, title: str, text: str, info: str,
                 choices: list[tuple[str, str, QMessageBox.ButtonRole]]) -> str:
    """A warning box with the given buttons and Cancel; the chosen answer, else "cancel"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(info)
    buttons = {box.addButton(label, role): answer for label, answer, role in choices}
    box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return buttons.get(box.clickedButton(), "cancel")


def _ask_close_dialog(parent: QWidget, scans: list[str]) -> str:
    return _ask_warning(
        parent, "Unsaved lesion edits", "Unsaved edits on " + ", ".join(scans) + ".",
        "Save them before closing?",
        [("Save", "save", QMessageBox.ButtonRole.AcceptRole),
         ("Discard", "discard", QMessageBox.ButtonRole.DestructiveRole)])


def _ask_conflict_dialog(parent: QWidget, scan_id: str, error: Exception) -> str:
    return _ask_warning(
        parent, "Someone saved this scan meanwhile", str(error),
        "Reload: drop your edits of this scan and show the newest version.\n"
        "Keep both: save yours as the newest; the other version stays in the history.",
        [("Reload", "reload", QMessageBox.ButtonRole.DestructiveRole),
         ("Keep both", "keep", QMessageBox.ButtonRole.AcceptRole)])


def _ask_confirm_dialog(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


class ReviewWidget(QWidget):
    """Dock widget of a patient's review in a napari viewer.

    Parameters
    ----------
    viewer : napari.Viewer
        The viewer (its window gets the close warning, its canvas the click handler).
    session : nethelpers.review.ReviewSession
        The review.
    autosave_s : float
        Save every scan with unsaved edits this often (note "autosave"); 0: never.

    Attributes
    ----------
    layers : ScanLayers or None
        The current scan's layers.
    pending : str or None
        The action the next canvas click performs: ``add``, ``liver``, ``spleen``, ``seen``.
    ask_close : callable(list of str) -> str
        Asked on closing the window with unsaved edits: ``"save"``, ``"discard"`` or
        ``"cancel"``. Default: a message box.
    ask_conflict : callable(str, Exception) -> str
        Asked when a save meets a newer version: ``"reload"``, ``"keep"`` or ``"cancel"``.
    ask_confirm : callable(str, str) -> bool
        Yes/no (title, text), e.g. before a restore drops unsaved edits.
    messages : list of str
        Everything shown in the status line, oldest first.
    frame : pandas.DataFrame or None
        What the lesion table shows (``ReviewSession.lesion_table()``; after a click-to-VOI
        the previous frame with the new lesion's row from ``add_lesion_at``).
    """

    def __init__(self, viewer: Any, session: Any, *, autosave_s: float = 180.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.session = session
        self.layers: ScanLayers | None = None
        self.pending: str | None = None
        self.pending_lesion: str | None = None
        self._mode_before: str | None = None
        self._lesion_ids: list[str] = []
        self._markers = pd.DataFrame(columns=["lesion_id", "z", "y", "x"])
        self.frame: pd.DataFrame | None = None
        self._filling = False
        self._closed = False
        self._brush_pending = False
        self.messages: list[str] = []
        self.ask_close: Callable[[list[str]], str] = lambda scans: _ask_close_dialog(self, scans)
        self.ask_conflict: Callable[[str, Exception], str] = (
            lambda scan, exc: _ask_conflict_dialog(self, scan, exc))
        self.ask_confirm: Callable[[str, str], bool] = (
            lambda title, text: _ask_confirm_dialog(self, title, text))
        self._build()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.timeout.connect(self.autosave)
        self.set_autosave(autosave_s)
        self.viewer.mouse_drag_callbacks.append(self._on_mouse)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self.show_scan()

    # -- layout ------------------------------------------------------------------------------
    def _build(self) -> None:
        s = self.session
        layout = QVBoxLayout(self)
        self.title = QLabel(f"<b>{s.patient_id}</b> · reader <b>{s.reader}</b>")
        layout.addWidget(self.title)

        row = QHBoxLayout()
        row.addWidget(QLabel("Scan"))
        self.scan_combo = QComboBox()
        for sid in s.scan_ids:
            job = s.jobs[sid]
            self.scan_combo.addItem(f"{sid}  ({job.tracer} {job.modality})", sid)
        self.scan_combo.currentIndexChanged.connect(self._on_scan_combo)
        row.addWidget(self.scan_combo, 1)
        layout.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Window"))
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(CT_WINDOWS))
        self.window_combo.currentTextChanged.connect(self._on_window)
        row.addWidget(self.window_combo)
        row.addWidget(QLabel("SUV 0 –"))
        self.suv_spin = QDoubleSpinBox()
        self.suv_spin.setRange(0.5, 200.0)
        self.suv_spin.setSingleStep(1.0)
        self.suv_spin.setDecimals(1)
        self.suv_spin.valueChanged.connect(self._on_suv_max)
        row.addWidget(self.suv_spin)
        layout.addLayout(row)

        grid = QGridLayout()
        self.buttons: dict[str, QPushButton] = {}
        specs = [("add", "Add lesion (A)", self.add_lesion),
                 ("liver", "Liver sphere (L)", self.liver_sphere),
                 ("spleen", "Spleen sphere (S)", self.spleen_sphere),
                 ("delete", "Delete (Del)", self.delete_selected),
                 ("undo", "Undo (Ctrl+Z)", self.undo),
                 ("save", "Save (Ctrl+S)", self.save),
                 ("seen", "Seen (Y)", self.seen),
                 ("not_seen", "Not seen (N)", self.not_seen),
                 ("cancel", "Cancel click (Esc)", self.cancel_pending)]
        for i, (key, text, slot) in enumerate(specs):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, f=slot: f())
            grid.addWidget(button, i // 3, i % 3)
            self.buttons[key] = button
        layout.addLayout(grid)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([h for _, h in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.SelectedClicked)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustIgnored)
        for field, choices in _CHOICES.items():
            col = [f for f, _ in COLUMNS].index(field)
            self.table.setItemDelegateForColumn(col, _ChoiceDelegate(choices, self.table))
        self.table.cellClicked.connect(self._on_cell_clicked)
        # arrow keys move the selection too: the brush must follow it, not the last click
        self.table.itemSelectionChanged.connect(self._set_brush_label)
        self.table.cellChanged.connect(self._on_cell_changed)
        layout.addWidget(self.table, 1)

        self.reference_label = QLabel("")
        layout.addWidget(self.reference_label)

        row = QHBoxLayout()
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note for the next save (optional)")
        row.addWidget(self.note_edit, 1)
        layout.addLayout(row)

        row = QHBoxLayout()
        row.addWidget(QLabel("Versions"))
        self.version_combo = QComboBox()
        row.addWidget(self.version_combo, 1)
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(lambda _=False: self.restore())
        row.addWidget(self.restore_button)
        layout.addLayout(row)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Leave the canvas most of the window (the table scrolls sideways)."""
        return QSize(480, 720)

    # -- messages ----------------------------------------------------------------------------
    def message(self, text: str) -> None:
        """Show a line in the status label (and keep it in :attr:`messages`)."""
        self.messages.append(text)
        self.status.setText(text)

    # -- scans and layers --------------------------------------------------------------------
    def show_scan(self) -> None:
        """(Re)draw the current scan: its layers, table, markers, references and versions.

        When the layers already show this scan (after a restore or a reload: same images,
        other ROIs) only the ROIs, markers and numbers are redrawn, and the view is kept.
        """
        s = self.session
        self.cancel_pending()
        if self._layers_ok() and self.layers.pet.metadata.get("scan_id") == s.current:
            self.refresh()
            self.refresh_versions()
            return
        self._markers = s.markers()
        old = self.layers
        self.layers = None
        remove_scan_layers(self.viewer, old)
        images = s.images
        top = suv_window(images.job.tracer)
        self.layers = add_scan_layers(self.viewer, images, s.labels, self._markers,
                                      ct_preset=self.window_combo.currentText(), suv_max=top)
        self.layers.rois.events.paint.connect(self._on_paint)
        self.viewer.layers.selection.active = self.layers.rois
        self._filling = True
        try:
            self.suv_spin.setValue(top)
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

    def select_scan(self, scan_id: str) -> None:
        """Show another scan of the patient (unsaved edits of every scan are kept)."""
        if scan_id == self.session.current and self.layers is not None:
            return
        self.push_brush()
        self.session.open_scan(scan_id)
        self.show_scan()

    def _on_scan_combo(self, index: int) -> None:
        if self._filling or index < 0:
            return
        self.select_scan(self.scan_combo.itemData(index))

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

    def _layers_ok(self) -> bool:
        """Whether the ROI layer is still in the viewer (other layers may be removed freely)."""
        return self.layers is not None and self.layers.rois in self.viewer.layers

    def _layer_ok(self, layer: Any) -> bool:
        return layer is not None and layer in self.viewer.layers

    def refresh_labels(self) -> None:
        """Show the session's label map (a copy: brush strokes go back via set_labels)."""
        if self._layers_ok():
            self.layers.rois.data = self.session.labels.copy()

    def refresh_markers(self) -> None:
        """Lesions recorded on other scans but not on this one."""
        self._markers = self.session.markers()
        if self._layers_ok():
            self.layers.set_markers(self._markers)

    def refresh_references(self) -> None:
        """Liver / spleen reference numbers of this scan."""
        parts = []
        table = self.session.table
        for roi in ("liver", "spleen"):
            rows = table[table["roi"] == roi]
            if rows.empty:
                parts.append(f"{roi}: none (press {roi[0].upper()})")
                continue
            numbers = self.session.measure(int(rows["label"].iloc[0]))
            parts.append(f"{roi} SUVmean {numbers['suv_mean']:.2f} "
                         f"({numbers['volume_ml']:.1f} ml)")
        self.reference_label.setText("Reference: " + " · ".join(parts))

    def refresh_versions(self) -> None:
        """The saved versions of this scan (newest first) for Restore."""
        history = self.session.history()
        self.version_combo.clear()
        for rec in history.iloc[::-1].itertuples():
            note = f" · {rec.note}" if isinstance(rec.note, str) and rec.note else ""
            self.version_combo.addItem(f"v{rec.version} · {rec.reader} · {rec.saved_at}{note}",
                                       int(rec.version))
        self.restore_button.setEnabled(len(history) > 1)
        self._mark_dirty_scans()

    def _mark_dirty_scans(self) -> None:
        dirty = set(self.dirty_scans())
        for i in range(self.scan_combo.count()):
            sid = self.scan_combo.itemData(i)
            job = self.session.jobs[sid]
            flag = "  • unsaved" if sid in dirty else ""
            self.scan_combo.setItemText(i, f"{sid}  ({job.tracer} {job.modality}){flag}")

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
        marker_ids = set(self._markers["lesion_id"])
        self._filling = True
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(frame))
            self._lesion_ids = frame["lesion_id"].tolist()
            for r, rec in enumerate(frame.to_dict("records")):
                on_scan = bool(rec["on_scan"])
                for c, (field, _) in enumerate(COLUMNS):
                    value = rec[field]
                    if field == "on_scan":
                        text = ("yes" if on_scan else
                                "marker" if rec["lesion_id"] in marker_ids else "no")
                    elif field in _DIGITS:
                        text = _fmt(value, _DIGITS[field])
                    else:
                        text = "" if value is None or (isinstance(value, float)
                                                       and math.isnan(value)) else str(value)
                    item = QTableWidgetItem(text)
                    flags = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled
                    if field in _EDITABLE:
                        flags |= Qt.ItemFlag.ItemIsEditable
                    item.setFlags(flags)
                    if field in _DIGITS:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                              | Qt.AlignmentFlag.AlignVCenter)
                    if not on_scan:
                        item.setForeground(Qt.GlobalColor.gray)
                    self.table.setItem(r, c, item)
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
        if frame is None or list(frame.columns) != list(_FRAME_COLUMNS):
            return self.session.lesion_table()
        reads = self.session.reads.set_index("lesion_id")
        row: dict[str, Any] = {"lesion_id": voi.lesion_id, "label": voi.label}
        row |= {c: (reads.at[voi.lesion_id, c] if voi.lesion_id in reads.index else "")
                for c in READ_COLUMNS[1:]}
        row |= {"suv_max": voi.suv_max, "suv_peak": voi.suv_peak, "volume_ml": voi.volume_ml,
                "tb_liver": voi.tb_liver, "on_scan": True}
        rest = frame[frame["lesion_id"] != voi.lesion_id]
        out = pd.concat([rest, pd.DataFrame([row], columns=frame.columns)], ignore_index=True)
        return out.sort_values("lesion_id", kind="stable").reset_index(drop=True)

    def refresh(self, select: str | None = None, *, labels: bool = True, markers: bool = True,
                references: bool = True) -> None:
        """Redraw after an edit: labels, markers, table, references (skip what is unchanged)."""
        if labels:
            self.refresh_labels()
        if markers:
            self.refresh_markers()
        self.refresh_table(select)
        if references:
            self.refresh_references()
        self._set_brush_label()

    # -- selection and navigation --------------------------------------------------------------
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
        self.viewer.dims.set_point(range(3), tuple(float(v) for v in world))
        scene = getattr(self.viewer, "scene", None)              # napari >= 0.9
        camera = scene.camera if scene is not None else self.viewer.camera
        center = list(camera.center)
        for axis in self.viewer.dims.displayed:
            center[len(center) - self.viewer.dims.ndim + axis] = float(world[axis])
        camera.center = tuple(center)
        return True

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

    # -- reads -------------------------------------------------------------------------------
    def _on_cell_changed(self, row: int, column: int) -> None:
        if self._filling or not 0 <= row < len(self._lesion_ids):
            return
        field = COLUMNS[column][0]
        if field not in _EDITABLE:
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

    # -- click actions -----------------------------------------------------------------------
    def start(self, action: str, lesion_id: str | None = None) -> None:
        """Arm a click action: the next click on the canvas performs it."""
        if action not in _PENDING_TEXT:
            raise ValueError(f"click action {action!r}: one of {', '.join(_PENDING_TEXT)}")
        self.pending, self.pending_lesion = action, lesion_id
        if self._layers_ok() and self.layers.rois.mode != "pan_zoom":
            self._mode_before = self.layers.rois.mode        # a click must not paint
            self.layers.rois.mode = "pan_zoom"
        self.message(_PENDING_TEXT[action].format(lesion=lesion_id) + " (Esc cancels)")

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
        if self.pending is None or event.type != "mouse_press" or event.button != 1:
            return
        press = np.asarray(event.position, dtype=float)
        dragged = False
        yield
        while event.type == "mouse_move":
            dragged = True
            yield
        if not dragged:
            self.handle_click(press)

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
                voi = self.session.add_lesion_at(index, lesion_id=lesion_id)
                # A new VOI takes no voxel of another ROI: the other lesions' numbers, the
                # references and the other markers stay; the table gets the new row only
                self._markers = self._markers[self._markers["lesion_id"] != voi.lesion_id]
                self.refresh_labels()
                if self._layers_ok():
                    self.layers.set_markers(self._markers)
                self.refresh_table(voi.lesion_id, frame=self._with_voi(voi))
                self._set_brush_label()
                tb = "" if math.isnan(voi.tb_liver) else f" · T/B liver {voi.tb_liver:.2f}"
                warn = ("  ⚠ reached its bounding sphere: check it or draw it by hand"
                        if voi.touches_bound else "")
                self.message(f"{voi.lesion_id}: SUVmax {voi.suv_max:.2f} · SUVpeak "
                             f"{voi.suv_peak:.2f} · {voi.volume_ml:.2f} ml{tb}{warn}")
                return voi
            center = world_to_index(pet, world_zyx, continuous=True)
            numbers = self.session.place_reference(action, center)
            self.refresh()
            self.message(f"{action} sphere: SUVmean {numbers['suv_mean']:.2f} ± "
                         f"{numbers['suv_sd']:.2f} ({numbers['volume_ml']:.1f} ml)")
            return numbers
        except (ValueError, KeyError) as exc:
            self.message(f"{action}: {exc}")
            return None

    # -- edits -------------------------------------------------------------------------------
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

    # -- saving ------------------------------------------------------------------------------
    def dirty_scans(self) -> list[str]:
        """Scans with unsaved edits."""
        return self.session.dirty_scans()

    def _reload_scan(self, scan_id: str) -> None:
        """Drop a scan's unsaved edits and load its newest version."""
        self.session.reload(scan_id)

    def _save_scan(self, scan_id: str, note: str) -> str:
        """Save one scan, resolving a conflict with :attr:`ask_conflict`.

        Returns ``"saved"``, ``"unchanged"``, ``"reloaded"`` or ``"cancelled"``.
        """
        s = self.session
        home = s.current
        s.open_scan(scan_id)
        try:
            try:
                version = s.save(note)
            except RoiConflictError as exc:
                answer = self.ask_conflict(scan_id, exc)
                if answer == "keep":
                    version = s.save_anyway(note or "kept both: saved over a newer version")
                elif answer == "reload":
                    self._reload_scan(scan_id)
                    self.message(f"{scan_id}: reloaded the newest version; your edits "
                                 "of this scan were dropped")
                    return "reloaded"
                else:
                    self.message(f"{scan_id}: not saved (a newer version exists)")
                    return "cancelled"
        finally:
            s.open_scan(home)
        if version is None:
            return "unchanged"
        self.message(f"{scan_id}: saved as v{version.version}")
        return "saved"

    def save(self, note: str | None = None) -> bool:
        """Save every scan with unsaved edits (this one first); True when none is left."""
        note = self.note_edit.text().strip() if note is None else note
        self.push_brush()
        order = sorted(self.dirty_scans(), key=lambda sid: sid != self.session.current)
        if not order:
            self.message("nothing to save")
            return True
        results = [self._save_scan(sid, note) for sid in order]
        if "reloaded" in results:
            self.show_scan()
        else:
            self.refresh_table()
            self.refresh_versions()
        if "cancelled" not in results:
            self.note_edit.clear()
        return not self.dirty_scans()

    def autosave(self) -> list[Any]:
        """Save every scan with unsaved edits (note "autosave"); conflicts wait for Save."""
        self.push_brush()
        if not self.session.dirty:
            return []
        saved, conflicts = self.session.autosave()
        if saved:
            self.message(f"autosaved {', '.join(v.scan_id for v in saved)}")
        for scan_id in conflicts:
            self.message(f"autosave skipped {scan_id}: someone saved it meanwhile — press "
                         "Save to choose")
        self.refresh_versions()
        return saved

    def set_autosave(self, seconds: float) -> None:
        """Autosave interval in seconds (0: off)."""
        self.autosave_timer.stop()
        if seconds and seconds > 0:
            self.autosave_timer.start(int(seconds * 1000))

    def restore(self, version: int | None = None) -> bool:
        """Bring back an earlier version of this scan (saved as the newest)."""
        self.push_brush()
        if version is None:
            version = self.version_combo.currentData()
        if version is None:
            self.message("no saved version to restore")
            return False
        s = self.session
        if s.current in self.dirty_scans() and not self.ask_confirm(
                "Restore", f"Restore v{version} of {s.current}? Unsaved edits of this scan "
                "are dropped."):
            return False
        try:
            restored = s.restore(int(version))
        except RoiConflictError as exc:
            self.message(f"restore refused: {exc}")
            return False
        self.show_scan()
        self.message(f"{s.current}: v{version} restored as v{restored.version}")
        return True

    # -- keys and closing --------------------------------------------------------------------
    def run_shortcut(self, action: str) -> bool:
        """Run the action of a keyboard shortcut (:data:`SHORTCUTS`)."""
        if action == "cancel":
            if self.pending is None:
                return False
            self.cancel_pending()
            return True
        handlers = {"redo": lambda: self.message("no redo: draw again (Ctrl+Z undoes)"),
                    "add": self.add_lesion, "liver": self.liver_sphere,
                    "spleen": self.spleen_sphere, "seen": self.seen, "not_seen": self.not_seen,
                    "delete": self.delete_selected, "undo": self.undo, "save": self.save,
                    "next": lambda: self._step(1), "previous": lambda: self._step(-1)}
        handlers[action]()
        return True

    def _owns(self, obj: QObject) -> bool:
        """Whether a key event's receiver is the canvas (QtViewer) or this widget."""
        if not obj.isWidgetType() or isinstance(obj, _TEXT_INPUTS):
            return False
        if isinstance(obj, QComboBox) and obj.isEditable():
            return False
        if self.table.state() == QAbstractItemView.State.EditingState:
            return False
        if obj is self or self.isAncestorOf(obj):
            return True
        qt_viewer = getattr(getattr(self.viewer, "window", None), "_qt_viewer", None)
        return qt_viewer is not None and (obj is qt_viewer or qt_viewer.isAncestorOf(obj))

    def _shortcut_of(self, event: Any) -> str | None:
        mods = event.modifiers()
        if mods & (_ALT | _META):
            return None
        names = [name for flag, name in ((_CTRL, "ctrl"), (_SHIFT, "shift")) if mods & flag]
        return _KEYS.get((int(event.key()), "+".join(names)))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Shortcuts (before napari's keymaps and menus) and the close warning."""
        kind = event.type()
        if kind == QEvent.Type.KeyPress or kind == QEvent.Type.ShortcutOverride:
            if self._closed or not self._owns(obj):
                return False
            action = self._shortcut_of(event)
            if action is None or (action == "cancel" and self.pending is None):
                return False
            event.accept()
            if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                self.run_shortcut(action)
            return True
        if kind == QEvent.Type.Close and not self._closed:
            window = getattr(getattr(self.viewer, "window", None), "_qt_window", None)
            if obj is window:
                return self._on_window_close(event)
        return False

    def _on_window_close(self, event: QEvent) -> bool:
        """The viewer window is closing: warn about unsaved edits (True: close refused)."""
        # napari's Viewer.close() removes every layer first: a scripted close is not asked;
        # a reader's close (any layer left, even with some layers removed) always is
        self.push_brush()
        if self.session.dirty and len(self.viewer.layers) > 0:
            answer = self.ask_close(self.dirty_scans())
            if answer == "cancel" or (answer == "save" and not self.save()):
                event.ignore()
                self.message("closing cancelled: unsaved edits")
                return True
        self.shutdown()
        return False

    def shutdown(self) -> None:
        """Stop the autosave timer and release the canvas hooks (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.autosave_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        callbacks = self.viewer.mouse_drag_callbacks
        if self._on_mouse in callbacks:
            callbacks.remove(self._on_mouse)
