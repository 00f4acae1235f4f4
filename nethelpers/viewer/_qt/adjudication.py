"""The adjudicator's view in the review dock: every reader's call on the selected lesion.

A reader reads blinded (the session shows only their own VOIs and calls). A session opened
with ``adjudicate=True`` edits the consensus set; for the selected lesion this line shows
what each independent reader saved (call, Krenning, confidence), so the adjudicator decides
the disagreements with the readers' calls in view.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from qtpy.QtWidgets import QLabel

__all__ = ["AdjudicationMixin", "readers_line"]

_FIELDS = (("call", ""), ("krenning", "Krenning "), ("confidence", "confidence "))


def readers_line(wide: pd.DataFrame, lesion_id: str) -> str:
    """One line of every reader's call on a lesion, from ``ReviewSession.readers_calls()``.

    Parameters
    ----------
    wide : pandas.DataFrame
        ``lesion_id`` then ``<field>_<reader>`` columns.
    lesion_id : str
        The lesion.

    Returns
    -------
    str
        e.g. ``"R1: positive, Krenning 3 · R2: equivocal, Krenning 2"``; a reader who did not
        read the lesion: ``"R2: not read"``.
    """
    readers = sorted({c[len("call_"):] for c in wide.columns if c.startswith("call_")})
    rows = wide[wide["lesion_id"] == lesion_id]
    parts = []
    for reader in readers:
        row = rows.iloc[0] if not rows.empty else None
        values = [f"{label}{row[f'{field}_{reader}']}" for field, label in _FIELDS
                  if row is not None and str(row.get(f"{field}_{reader}", "") or "").strip()
                  and str(row[f"{field}_{reader}"]) != "nan"]
        parts.append(f"{reader}: {', '.join(values) if values else 'not read'}")
    return " · ".join(parts) if parts else "no reader has saved calls on this scan"


class AdjudicationMixin:
    """The readers' calls on the selected lesion, for the adjudicator (part of the dock)."""

    def _adjudication_label(self) -> QLabel:
        self.adjudication = QLabel("")
        self.adjudication.setWordWrap(True)
        self._adopted_scans: set[str] = set()
        self.adjudication.setVisible(self._adjudicating())
        return self.adjudication

    def _adjudicating(self) -> bool:
        s = self.session
        return getattr(s, "set_reader", None) == getattr(s, "consensus_reader", "")

    def refresh_adjudication(self, *_: Any) -> None:
        """Show the readers' calls on the selected lesion (adjudicating sessions only)."""
        if not self._adjudicating():
            return
        lesion_id = self.selected_lesion()
        if lesion_id is None:
            self.adjudication.setText("Readers: select a lesion to see their calls")
            return
        self.adjudication.setText("Readers: " + readers_line(self.session.readers_calls(),
                                                             lesion_id))

    def adopt_on_first_show(self) -> None:
        """On an adjudicator's first view of a scan: adopt the readers' agreed calls."""
        if not self._adjudicating():
            return
        scan = self.session.current
        if scan in self._adopted_scans:
            return
        self._adopted_scans.add(scan)
        try:
            adopted, left = self.session.adopt_agreements()
        except Exception as exc:  # noqa: BLE001 - shown; the adjudicator decides by hand
            self.message(f"agreed calls not adopted: {exc}")
            return
        self.refresh_table()
        self.message(f"{scan}: the readers agree on {len(adopted)} lesion(s), adopted; "
                     f"{len(left)} to decide" + (f": {', '.join(left)}" if left else ""))
