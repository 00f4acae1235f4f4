"""The table of the lesion-matching panel: its columns, and one proposal per row.

Texts and tooltips come from :mod:`.matchtexts`; here only how they look: numbers right-
aligned, gone rows grey, the status of a row to check first in amber, and every row tinted
when the registration is poor.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtGui import QBrush, QColor
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from nethelpers.viewer._qt.matchtexts import (
    HEADER_TIPS,
    MATCH_HEADERS,
    NUMERIC_COLUMNS,
    proposal_cells,
    row_tooltip,
)

__all__ = ["CHECK_COLOUR", "POOR_BACKGROUND", "fill_row", "make_table"]

#: Row background when the registration is poor; the ⚠ status text colour.
POOR_BACKGROUND, CHECK_COLOUR = "#5c4310", "#e8a33d"


def make_table(row_height: int) -> QTableWidget:
    """An empty proposals table: read-only, one row selected at a time, compact rows."""
    table = QTableWidget(0, len(MATCH_HEADERS))
    table.setHorizontalHeaderLabels(list(MATCH_HEADERS))
    for c, tip in enumerate(HEADER_TIPS):
        table.horizontalHeaderItem(c).setToolTip(tip)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(row_height)
    table.setWordWrap(False)
    return table


def fill_row(table: QTableWidget, r: int, rec: dict[str, Any], confirmed: str,
             check: dict[str, Any], poor: bool) -> None:
    """Row ``r``: a proposal record, its Confirmed text, its checks (``row_checks``)."""
    amb, ids = bool(check["ambiguous"]), str(check["id_conflict"])
    tip = row_tooltip(rec, amb, ids)
    for c, text in enumerate(proposal_cells(rec, confirmed, amb, ids)):
        item = QTableWidgetItem(text)
        item.setToolTip(tip)
        if c in NUMERIC_COLUMNS:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if rec["status"] == "gone":
            item.setForeground(Qt.GlobalColor.gray)
        if c == 0 and (amb or ids):
            item.setForeground(QBrush(QColor(CHECK_COLOUR)))
        if poor:
            item.setBackground(QBrush(QColor(POOR_BACKGROUND)))
        table.setItem(r, c, item)
