"""The "Lesion matching" panel: proposals of a follow-up's VOIs, Accept / New / Reassign.

One row per proposal of :meth:`nethelpers.review.ReviewSession.match_proposals`, in the
columns and words of :mod:`.matchtexts` (status first, ⚠ on the rows to check first, a
tooltip on every header and row; :mod:`.matchtable`). Selecting a row puts its proposed
baseline lesion in the "Reassign to" list (nothing for a new row: choose one), so Reassign
never acts on a lesion the reader did not see. A poor registration tints every row. Only Qt
here: the dock (:mod:`.matching`) fills it and acts on its buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from qtpy.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nethelpers.viewer._qt.matchtable import POOR_BACKGROUND, fill_row, make_table
from nethelpers.viewer._qt.matchtexts import MATCH_HEADERS

__all__ = ["MATCH_HEADERS", "MatchPanel", "NOT_AT_BASELINE", "POOR_BACKGROUND"]

#: Suffix of a "Reassign to" choice that is no baseline lesion.
NOT_AT_BASELINE = " (not at baseline)"


class MatchPanel(QWidget):
    """Proposals table and the reader's buttons.

    Parameters
    ----------
    on_select : callable(int)
        Called with the row selected.
    on_action : callable(str)
        ``"accept"``, ``"new"`` or ``"reassign"`` (the lesion: :meth:`reassign_to`).
    """

    def __init__(self, on_select: Callable[[int], None], on_action: Callable[[str], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.on_select, self.on_action = on_select, on_action
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title = QLabel("<b>Lesion matching</b>")
        self.header = QLabel("")
        self.header.setWordWrap(True)
        layout.addWidget(self.title)
        layout.addWidget(self.header)
        self.table = make_table(self.fontMetrics().height() + 8)
        self.table.itemSelectionChanged.connect(self._selected)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for key, text in (("accept", "Accept"), ("new", "New"), ("reassign", "Reassign to")):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, k=key: self.on_action(k))
            row.addWidget(button)
            self.buttons[key] = button
        self.reassign_combo = QComboBox()
        self.reassign_combo.setToolTip("The lesion Reassign gives the selected VOI: the row's "
                                       "proposal, or one you choose")
        row.addWidget(self.reassign_combo, 1)
        layout.addLayout(row)
        self.proposals: Any = None
        self.decidable = False

    def fill(self, header: str, proposals: Any, confirmed: list[str],
             select: int | None = None) -> None:
        """Show the proposals (``confirmed``: one text per row) and the reassign choices."""
        self.header.setText(header)
        self.proposals = proposals
        self.decidable = not proposals.problem
        rows = proposals.rows
        checks = proposals.checks()
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(rows))
            for r, (rec, done, flag) in enumerate(zip(rows.to_dict("records"), confirmed,
                                                      checks.to_dict("records"), strict=True)):
                fill_row(self.table, r, rec, done, flag, proposals.poor)
            self._fill_combo(proposals.baseline_ids, proposals.other_ids)
            if select is not None and 0 <= select < len(rows):
                self.table.selectRow(select)
            self._follow_selection()
            self.table.resizeColumnsToContents()
        finally:
            self.table.blockSignals(False)
        self._enable()

    def _fill_combo(self, baseline_ids: tuple[str, ...], other_ids: tuple[str, ...]) -> None:
        self.reassign_combo.blockSignals(True)
        try:
            self.reassign_combo.clear()
            for lesion_id in baseline_ids:
                self.reassign_combo.addItem(lesion_id, lesion_id)
            for lesion_id in other_ids:
                self.reassign_combo.addItem(lesion_id + NOT_AT_BASELINE, lesion_id)
        finally:
            self.reassign_combo.blockSignals(False)

    def clear(self, header: str = "") -> None:
        """No proposals (the reason, if any, in the header)."""
        self.header.setText(header)
        self.proposals = None
        self.decidable = False
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        self.table.blockSignals(False)
        self.reassign_combo.clear()
        self._enable()

    def selected_row(self) -> int | None:
        """The selected row, or None."""
        rows = {i.row() for i in self.table.selectedIndexes()}
        return rows.pop() if len(rows) == 1 else None

    def reassign_to(self) -> str:
        """The lesion chosen in the reassign list ("" when none is)."""
        return str(self.reassign_combo.currentData() or "")

    def _selected(self) -> None:
        self._follow_selection()
        self._enable()
        row = self.selected_row()
        if row is not None:
            self.on_select(row)

    def _follow_selection(self) -> None:
        """The reassign list shows the selected row's proposal (nothing for new or gone)."""
        row = self.selected_row()
        rows = self.proposals.rows if self.proposals is not None else pd.DataFrame()
        index = -1
        if row is not None and row < len(rows) and rows["status"].iloc[row] == "matched":
            index = self.reassign_combo.findData(str(rows["baseline_lesion_id"].iloc[row]))
        self.reassign_combo.setCurrentIndex(index)

    def _enable(self) -> None:
        row = self.selected_row()
        rows = self.proposals.rows if self.proposals is not None else pd.DataFrame()
        voi = row is not None and row < len(rows) and rows["status"].iloc[row] != "gone"
        self.buttons["accept"].setEnabled(voi and self.decidable)
        self.buttons["new"].setEnabled(voi and self.decidable)
        self.buttons["reassign"].setEnabled(voi and self.reassign_combo.count() > 0)
