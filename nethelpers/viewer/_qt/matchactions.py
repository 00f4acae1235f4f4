"""The reader's buttons of the lesion-matching panel: Accept, New, Reassign (dock part).

Each action first pushes pending brush strokes to the session (the proposals are made again
from them; when the selected row's proposal changed, nothing is confirmed and the reader
looks again), then asks when it must: Reassign always names the VOI and the lesion it gets,
and with a poor registration every decision asks. A swap (the reader's IDs of two VOIs
exchanged) is one decision and one undo step.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nethelpers.viewer._qt.matchpanel import NOT_AT_BASELINE
from nethelpers.viewer._qt.scanswitch import plain_reason

__all__ = ["MatchActionsMixin"]


def _key(rec: Any) -> tuple[str, str, str]:
    """What the reader saw of a row: VOI label, status, proposed lesion."""
    label = "" if pd.isna(rec["followup_label"]) else str(int(rec["followup_label"]))
    return label, str(rec["status"]), str(rec["baseline_lesion_id"])


class MatchActionsMixin:
    """Accept / New / Reassign of the matching panel (part of ``ReviewWidget``)."""

    def _selected_record(self) -> Any:
        row = self.match_panel.selected_row()
        if self.proposals is None or row is None or row >= len(self.proposals.rows):
            return None
        return self.proposals.rows.iloc[row]

    def _on_match_action(self, action: str) -> None:
        seen = self._selected_record()
        self.push_brush()                  # strokes not pushed yet: the proposals follow
        rec = self._selected_record()
        if seen is not None and (rec is None or _key(seen) != _key(rec)):
            self.message("the proposals changed with your brush edit: check the row, then "
                         "press again")
            return
        if rec is None:
            self.message("select a follow-up VOI in the lesion matching table first")
            return
        if pd.isna(rec["followup_label"]):
            self.message(f"{rec['baseline_lesion_id']} has no VOI on this scan: nothing to "
                         "confirm (draw it, or leave it gone)")
            return
        target = self.match_panel.reassign_to() if action == "reassign" else ""
        if action == "reassign" and not target:
            self.message("choose the lesion to reassign the VOI to in the list first")
            return
        if not self._asked(action, rec, target):
            self.message("nothing confirmed")
            return
        self._act(action, int(rec["followup_label"]), target)

    def _asked(self, action: str, rec: Any, target: str) -> bool:
        """The reader's yes where one is needed (Reassign; any decision on a poor registration)."""
        voi = f"{rec['followup_lesion_id'] or '-'} (label {int(rec['followup_label'])})"
        proposed = rec["baseline_lesion_id"] or "new"
        poor = self.proposals.poor
        warning = (f"The registration is poor ({self.proposals.registration.summary}): the "
                   "proposals may be wrong. " if poor else "")
        if action == "reassign":
            where = NOT_AT_BASELINE if target not in self.proposals.baseline_ids else ""
            return self.ask_confirm("Reassign", f"{warning}Make the follow-up VOI {voi} "
                                    f"lesion {target}{where}? It was proposed as {proposed}.")
        if not poor:
            return True
        what = "new (absent at baseline)" if action == "new" else proposed
        return self.ask_confirm("Poor registration", f"{warning}Confirm the follow-up VOI "
                                f"{voi} as {what} anyway?")

    def _act(self, action: str, label: int, target: str) -> None:
        s = self.session
        before = dict(zip(s.table["label"].astype(int), s.table["lesion_id"], strict=True))
        try:
            if action == "accept":
                lesion_id = s.accept_match(self.proposals, label)
            elif action == "new":
                lesion_id = s.mark_new(self.proposals, label)
            else:
                lesion_id = s.reassign_match(self.proposals, label, target)
        except Exception as exc:  # noqa: BLE001 - refused: the reason in the dock
            self.show_problem(f"not confirmed: {plain_reason(exc, self._roots())}")
            return
        after = dict(zip(s.table["label"].astype(int), s.table["lesion_id"], strict=True))
        swapped = [lab for lab in after if lab != label and after[lab] != before.get(lab)]
        text = f"VOI label {label} confirmed as {lesion_id} ({action})"
        if swapped:
            text += (f"; VOI label {swapped[0]} now {after[swapped[0]]}: the two IDs were "
                     "swapped (Ctrl+Z undoes both)")
        self.message(f"{text}; save to keep it")
        self.refresh(lesion_id, labels=False, references=False)
        self.refresh_matching(select_label=label)
