"""Lesion matching in the review dock: a follow-up's VOIs against its baseline.

When the scan shown is a follow-up (``time_point`` of the scans table), the "Lesion matching"
panel (:mod:`.matchpanel`) lists the proposals of
:meth:`nethelpers.review.ReviewSession.match_proposals` against the scan the reader chose in
"Beside" for it, else the follow-up's baseline (a follow-up without a baseline of its tracer
waits for the reader to choose one there). The matching registers the baseline fixed and the
follow-up moving, the pane beside the other way round: for a rigid registration one is the
exact inverse of the other (one registration, one line in the dock); a deformable one is
computed in each direction (no exact inverse: its own quality line in the panel). The reader
confirms each follow-up VOI (:mod:`.matchactions`): Accept the proposal, New, or Reassign.
Selecting a row moves the crosshair (every reading view, the baseline beside included) and
the main canvas to the lesion. On a baseline scan the panel is hidden.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from qtpy.QtWidgets import QWidget

from nethelpers.reviewbaseline import MatchError
from nethelpers.viewer._qt.matchactions import MatchActionsMixin
from nethelpers.viewer._qt.matchpanel import MatchPanel
from nethelpers.viewer._qt.matchtexts import confirmed_text, header_text
from nethelpers.viewer._qt.scanswitch import plain_reason

__all__ = ["MatchingMixin"]


class MatchingMixin(MatchActionsMixin):
    """The lesion-matching panel of the dock (part of ``ReviewWidget``)."""

    match_panel: MatchPanel
    proposals: Any = None
    beside_chosen: dict[str, str]       # scan read -> the scan the reader chose beside it

    def _match_box(self) -> QWidget:
        self.beside_chosen = {}
        self.match_panel = MatchPanel(self._on_match_select, self._on_match_action)
        self.match_panel.hide()
        return self.match_panel

    def matching_shown(self) -> bool:
        """Whether the panel is on (the scan shown is a follow-up)."""
        return not self.match_panel.isHidden()

    def match_panel_label(self) -> int | None:
        """The follow-up VOI label of the selected proposal (None: none selected)."""
        row = self.match_panel.selected_row()
        if self.proposals is None or row is None or row >= len(self.proposals.rows):
            return None
        label = self.proposals.rows["followup_label"].iloc[row]
        return None if pd.isna(label) else int(label)

    def default_beside(self) -> str:
        """The scan shown beside by default: a follow-up's baseline, else none."""
        try:
            choice = self.session.match_baseline()
        except Exception:  # noqa: BLE001 - no baseline found: the pane stays as chosen
            return ""
        return choice.baseline_scan if choice is not None else ""

    def beside_title(self, scan_id: str) -> str:
        """The pane beside's title: ``baseline <scan>`` / ``registered onto the follow-up``."""
        if scan_id and scan_id == self.default_beside():
            return f"baseline {scan_id}\nregistered onto the follow-up"
        return f"{scan_id}\nregistered onto {self.session.current}"

    def compared_scan(self) -> str:
        """The scan the reader chose in Beside for the scan read ("" when none).

        The proposals compare with it; a pair kept from the scan read before (the pane
        follows a scan switch) is not the reader's choice for this scan.
        """
        combo = getattr(self, "beside_combo", None)
        beside = (combo.currentData() if combo is not None else "") or ""
        current = self.session.current
        return beside if beside != current and self.beside_chosen.get(current) == beside else ""

    def refresh_matching(self, select_label: int | None = None) -> None:
        """Propose again for the scan shown (a follow-up), or hide the panel (a baseline)."""
        s = self.session
        self.proposals = None
        try:
            auto, reason = s.match_baseline(), ""
        except MatchError as exc:                # a follow-up without a baseline
            auto, reason = None, plain_reason(exc, self._roots())
        except Exception as exc:  # noqa: BLE001 - e.g. time points that cannot be right
            self.match_panel.show()
            self.match_panel.clear(f"⚠ {plain_reason(exc, self._roots())}")
            return
        if auto is None and not reason:
            self.match_panel.hide()
            return
        self.match_panel.show()
        chosen = self.compared_scan()
        if auto is None and not chosen:
            self.match_panel.clear(f"⚠ {reason}")
            return
        by_hand = chosen if chosen and (auto is None or chosen != auto.baseline_scan) else None
        try:
            self.proposals = s.match_proposals(by_hand)
        except Exception as exc:  # noqa: BLE001 - baseline unreadable, registration failed
            self.match_panel.clear(f"⚠ {s.current} compared with {by_hand or auto.baseline_scan}"
                                   f": no proposals ({plain_reason(exc, self._roots())})")
            return
        rows = self.proposals.rows
        select = None
        if select_label is not None:
            hit = np.flatnonzero(rows["followup_label"].eq(select_label).fillna(False))
            select = int(hit[0]) if hit.size else None
        confirmed, self._log_problem = self._confirmed_texts(rows)
        self.match_panel.fill("", self.proposals, confirmed, select)
        self.refresh_match_header()

    def refresh_match_header(self) -> None:
        """The lines above the proposals (after the pane beside changed its registration)."""
        if self.proposals is not None:
            self.match_panel.header.setText(header_text(
                self.session.current, self.proposals, self._registration_shown(),
                getattr(self, "_log_problem", "")))

    def _registration_shown(self) -> bool:
        """Whether the line above already states the matching's registration (the pane's)."""
        shown, reg = getattr(self, "registration", None), self.proposals.registration
        return (shown is not None
                and {shown.fixed_scan, shown.moving_scan} == {reg.fixed_scan, reg.moving_scan}
                and shown.summary == reg.summary)

    def _confirmed_texts(self, rows: pd.DataFrame) -> tuple[list[str], str]:
        """Per row the reader's newest decision on its VOI (if still carried); a log problem."""
        s, problem = self.session, ""
        try:
            decisions = s.match_decisions()
        except Exception as exc:  # noqa: BLE001 - a damaged log: pending ones, said once
            decisions = s.pending_decisions()
            reason = plain_reason(exc, self._roots())
            if not any(reason in w for w in s.warnings):
                s._warn(reason)
            problem = "the decisions log cannot be read (see the warning below)."
        newest = {str(d["followup_label"]): d for d in decisions.to_dict("records")}
        out = []
        for rec in rows.to_dict("records"):
            d = None if pd.isna(rec["followup_label"]) else newest.get(
                str(int(rec["followup_label"])))
            carried = d is not None and d["confirmed_lesion_id"] == rec["followup_lesion_id"]
            out.append(confirmed_text(d) if carried else "")
        return out, problem

    def _on_match_select(self, row: int) -> None:
        """Crosshair and main canvas to the row's lesion (world z, y, x)."""
        from nethelpers.viewer._qt.lesiontable import centre_view

        if self.proposals is None or not 0 <= row < len(self.proposals.rows):
            return
        rec = self.proposals.rows.iloc[row]
        world = np.array([rec["z_mm"], rec["y_mm"], rec["x_mm"]], dtype=float)
        if getattr(self, "reading", None) is not None:
            self.reading.set_crosshair(world)
        centre_view(self.viewer, world)
