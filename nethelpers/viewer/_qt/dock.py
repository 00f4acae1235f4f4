"""The review dock widget: a thin Qt shell over :class:`nethelpers.review.ReviewSession`.

It assembles the parts of :mod:`nethelpers.viewer._qt`: the scan list and layer cache
(:mod:`.scanswitch`), the lesion table (:mod:`.lesiontable`), click actions and edits
(:mod:`.clicks`), saving (:mod:`.saving`), keys and closing (:mod:`.shortcuts`), the
message boxes (:mod:`.dialogs`), the reading views beside the canvas (:mod:`.reading`:
MIP, coronal, sagittal, a registered second scan, the axis ruler) and, on a follow-up scan,
lesion matching against its baseline (:mod:`.matching`). Every action calls one
session method and redraws; the widget keeps no state of its own beyond what is on screen,
which click action is pending and the layers of the scans shown before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from qtpy.QtCore import QSize, Qt, QTimer
from qtpy.QtWidgets import (
    QApplication,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from nethelpers.viewer._qt.adjudication import AdjudicationMixin
from nethelpers.viewer._qt.clicks import ClickMixin
from nethelpers.viewer._qt.dialogs import (
    ask_close_dialog,
    ask_confirm_dialog,
    ask_conflict_dialog,
)
from nethelpers.viewer._qt.lesiontable import LesionTableMixin, make_table
from nethelpers.viewer._qt.matching import MatchingMixin
from nethelpers.viewer._qt.reading import ReadingMixin
from nethelpers.viewer._qt.saving import SavingMixin
from nethelpers.viewer._qt.scanswitch import ScanSwitchMixin, narrow_combo, scan_label
from nethelpers.viewer._qt.shortcuts import ShortcutsMixin
from nethelpers.viewer.layers import CT_WINDOWS, ScanLayers

__all__ = ["ReviewWidget"]

_PROBLEM_STYLE = "color: #e8a33d;"
#: lines of problems and warnings shown before they scroll
_MESSAGE_LINES = 6
#: rows of the lesion table always shown (a follow-up's matching panel shares the height)
_TABLE_ROWS = 4


class ReviewWidget(ScanSwitchMixin, LesionTableMixin, ClickMixin, SavingMixin, ShortcutsMixin,
                   ReadingMixin, AdjudicationMixin, MatchingMixin, QWidget):
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
    scan_layers : dict of str to ScanLayers
        The layers of every scan shown so far (the current one in the viewer).
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
    problems : list of str
        Everything shown in the problem line (a scan that failed to load), oldest first.
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
        self.scan_layers: dict[str, ScanLayers] = {}
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
        self.problems: list[str] = []
        self.ask_close: Callable[[list[str]], str] = lambda scans: ask_close_dialog(self, scans)
        self.ask_conflict: Callable[[str, Exception], str] = (
            lambda scan, exc: ask_conflict_dialog(self, scan, exc))
        self.ask_confirm: Callable[[str, str], bool] = (
            lambda title, text: ask_confirm_dialog(self, title, text))
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
        role = (f"adjudicator <b>{s.reader}</b> of the {s.set_reader} read"
                if getattr(s, "set_reader", s.reader) != s.reader else f"reader <b>{s.reader}</b>")
        self.title = QLabel(f"<b>{s.patient_id}</b> · {role}")
        layout.addWidget(self.title)
        layout.addLayout(self._scan_row())
        layout.addLayout(self._window_row())
        layout.addLayout(self._beside_row())
        layout.addWidget(self.registration_label)
        layout.addLayout(self._button_grid())
        self.table = make_table()
        self.table.cellClicked.connect(self._on_cell_clicked)
        # arrow keys move the selection too: the brush must follow it, not the last click
        self.table.itemSelectionChanged.connect(self._set_brush_label)
        self.table.cellChanged.connect(self._on_cell_changed)
        self.table.setMinimumHeight(self.fontMetrics().lineSpacing() * 2 * (_TABLE_ROWS + 1))
        layout.addWidget(self.table, 1)
        layout.addWidget(self._adjudication_label())
        layout.addWidget(self._match_box(), 1)          # follow-up scans only
        self.table.itemSelectionChanged.connect(self.refresh_adjudication)
        self.reference_label = QLabel("")
        self.reference_label.setWordWrap(True)
        layout.addWidget(self.reference_label)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("note for the next save (optional)")
        layout.addWidget(self.note_edit)
        row = QHBoxLayout()
        row.addWidget(QLabel("Versions"))
        self.version_combo = narrow_combo(20)
        row.addWidget(self.version_combo, 1)
        self.restore_button = QPushButton("Restore")
        self.restore_button.clicked.connect(lambda _=False: self.restore())
        row.addWidget(self.restore_button)
        layout.addLayout(row)
        self.problem = self._wrapped_label(_PROBLEM_STYLE)
        self.warnings_label = self._wrapped_label(_PROBLEM_STYLE)
        self.status = self._wrapped_label("")
        self.message_area = self._message_area(self.problem, self.warnings_label)
        layout.addWidget(self.message_area)
        layout.addWidget(self.status)                 # the last message: always in view

    def _message_area(self, *labels: QLabel) -> QScrollArea:
        """The problem and warning lines, scrolled beyond a few lines.

        Many warnings never squeeze the lesion and matching tables.
        """
        inner = QWidget()
        box = QVBoxLayout(inner)
        box.setContentsMargins(0, 0, 0, 0)
        for label in labels:
            box.addWidget(label)
        area = QScrollArea()
        area.setWidget(inner)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        area.setMaximumHeight(self.fontMetrics().lineSpacing() * _MESSAGE_LINES)
        return area

    @staticmethod
    def _wrapped_label(style: str) -> QLabel:
        label = QLabel("")
        label.setWordWrap(True)
        if style:
            label.setStyleSheet(style)
        return label

    def _scan_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Scan"))
        self.scan_combo = narrow_combo()
        for sid in self.session.scan_ids:
            self.scan_combo.addItem(scan_label(sid, self.session.jobs[sid]), sid)
        self.scan_combo.currentIndexChanged.connect(self._on_scan_combo)
        row.addWidget(self.scan_combo, 1)
        return row

    def _window_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        label = QLabel("Window")
        row.addWidget(label)
        self.window_combo = QComboBox()
        self.window_combo.addItems(list(CT_WINDOWS))
        self.window_combo.currentTextChanged.connect(self._on_window)
        row.addWidget(self.window_combo)
        suv_label = QLabel("SUV 0 –")
        row.addWidget(suv_label)
        self.suv_spin = QDoubleSpinBox()
        self.suv_spin.setRange(0.5, 200.0)
        self.suv_spin.setSingleStep(1.0)
        self.suv_spin.setDecimals(1)
        self.suv_spin.valueChanged.connect(self._on_suv_max)
        row.addWidget(self.suv_spin)
        self.window_widgets = [label, self.window_combo, suv_label, self.suv_spin]
        return row

    def _button_grid(self) -> QGridLayout:
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
        return grid

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Leave the canvas most of the window (the table scrolls sideways)."""
        return QSize(480, 720)

    # -- messages ----------------------------------------------------------------------------
    def message(self, text: str) -> None:
        """Show a line in the status label (and keep it in :attr:`messages`)."""
        self.messages.append(text)
        self.status.setText(text)
        self.refresh_warnings()

    def show_problem(self, text: str) -> None:
        """Show (or, with ``""``, clear) the problem line; a problem is also a message."""
        self.problem.setText(f"⚠ {text}" if text else "")
        if text:
            self.problems.append(text)
            self.message(text)
        else:
            self.refresh_warnings()

    def refresh_warnings(self) -> None:
        """Show the session's warnings (e.g. a companion CT or MR not found)."""
        warnings = list(getattr(self.session, "warnings", []))
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.message_area.setVisible(bool(self.problem.text() or warnings))

    # -- redraw ------------------------------------------------------------------------------
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
        if labels and self.matching_shown():       # a VOI drawn, deleted or edited
            self.refresh_matching(self.match_panel_label())

    def push_brush(self) -> None:
        """Push brush strokes to the session; on a follow-up, propose again from them."""
        pending = self._brush_pending
        super().push_brush()
        if pending and self.matching_shown():
            self.refresh_matching(self.match_panel_label())

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
            mean = (f"SUVmean {numbers['suv_mean']:.2f}" if self.session.images.quantity == "SUV"
                    else f"mean {numbers['counts_mean']:.0f} counts")   # counts-only SPECT
            parts.append(f"{roi} {mean} ({numbers['volume_ml']:.1f} ml)")
        self.reference_label.setText("Reference: " + " · ".join(parts))
