"""What the "Lesion matching" panel says: column headers, cell texts, tooltips, its header.

Plain functions (no Qt) of :class:`nethelpers.reviewproposals.MatchProposals`, so every word a
physician reads is tested without a screen. The columns put what a reader decides on first
(the dock is about 420 px wide): status, the follow-up VOI, the proposed baseline lesion,
what the reader confirmed; then the numbers behind the proposal.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from nethelpers.reviewproposals import AMBIGUOUS_MM, AMBIGUOUS_RATIO

__all__ = ["HEADER_TIPS", "MATCH_HEADERS", "NUMERIC_COLUMNS", "confirmed_text", "header_text",
           "proposal_cells", "row_tooltip", "status_text"]

#: Columns of the panel, in order.
MATCH_HEADERS = ("Status", "Follow-up VOI", "Baseline lesion", "Confirmed",
                 "Distance after registration (mm)", "Allowed (mm)", "Next candidate (mm)")
#: Columns right-aligned (numbers).
NUMERIC_COLUMNS = frozenset({4, 5, 6})
#: Tooltip of each column header.
HEADER_TIPS = (
    "matched: the follow-up VOI is proposed as a baseline lesion; new: no baseline lesion "
    "near it (absent at baseline); gone: a baseline lesion with no VOI drawn at follow-up "
    "(disappeared, or not drawn yet). ⚠ marks rows to check first.",
    "The VOI drawn on this follow-up scan: its lesion ID now (its label value in the "
    "row's tooltip).",
    "The baseline lesion proposed for it (through the registration).",
    "What you confirmed for this VOI, and whether it is saved (vN: the ROI version).",
    "Distance between the follow-up VOI and the baseline lesion once the baseline is "
    "carried onto the follow-up by the registration.",
    "The largest distance at which the two can be one lesion: response.match_max_mm plus "
    "the radius of the larger VOI.",
    "Distance to the nearest other candidate (another VOI or lesion). When it is close to "
    f"the distance (under {AMBIGUOUS_RATIO:g}×, or under {AMBIGUOUS_MM:g} mm) the row is "
    "ambiguous: check it by eye.",
)
_DECIDED = {"accept": "accepted", "new": "marked new", "reassign": "reassigned",
            "swap": "IDs swapped"}


def _mm(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    return "" if math.isnan(number) else f"{number:.1f}"


def status_text(status: str, ambiguous: bool, id_conflict: str) -> str:
    """The status cell: ``matched``, ``new`` or ``gone``, with ⚠ what to check."""
    flags = (["ambiguous"] if ambiguous else []) + (
        [f"carries {id_conflict}"] if id_conflict else [])
    return f"{status} ⚠ {', '.join(flags)}" if flags else str(status)


def row_tooltip(rec: Any, ambiguous: bool, id_conflict: str) -> str:
    """The tooltip of a row: its status in words and why it is flagged."""
    status = rec["status"]
    if status == "gone":
        text = (f"{rec['baseline_lesion_id']}: no VOI drawn at follow-up (the lesion "
                "disappeared, or is not drawn yet)")
    elif status == "new":
        text = "No baseline lesion within the allowed distance: proposed new (absent at baseline)"
    else:
        text = f"Proposed as baseline lesion {rec['baseline_lesion_id']}"
    if not pd.isna(rec["followup_label"]):
        text = f"Follow-up VOI label {int(rec['followup_label'])}. {text}"
    if ambiguous:
        text += (f". Ambiguous: another candidate lies {_mm(rec['second_best_mm'])} mm away; "
                 "check by eye")
    if id_conflict:
        text += (f". The VOI carries the ID of another baseline lesion ({id_conflict}): "
                 "check which lesion it is")
    return text


def proposal_cells(rec: Any, confirmed: str = "", ambiguous: bool = False,
                   id_conflict: str = "") -> list[str]:
    """The texts of one proposal row (a ``MatchProposals.rows`` record), in panel order."""
    follow = ("" if pd.isna(rec["followup_label"]) else rec["followup_lesion_id"]
              or f"- (label {int(rec['followup_label'])})")
    return [status_text(str(rec["status"]), ambiguous, id_conflict), follow,
            str(rec["baseline_lesion_id"] or ""), confirmed, _mm(rec["distance_mm"]),
            _mm(rec["gate_mm"]), _mm(rec["second_best_mm"])]


def confirmed_text(decision: dict[str, Any] | None) -> str:
    """The Confirmed cell of a VOI's newest decision (``""``: none, or revoked)."""
    if decision is None or decision.get("decision") not in _DECIDED:
        return ""
    saved = str(decision.get("roi_version") or "")
    return f"{_DECIDED[decision['decision']]}, {f'saved v{saved}' if saved else 'unsaved'}"


def header_text(current: str, proposals: Any, registration_shown: bool,
                log_problem: str = "") -> str:
    """The lines above the table: what is compared, what to check first, counts.

    Parameters
    ----------
    current : str
        The follow-up shown.
    proposals : MatchProposals
        What is shown.
    registration_shown : bool
        The dock already shows this registration (the pane beside): not repeated.
    log_problem : str
        Why the saved decisions cannot be shown (a damaged log), or "".
    """
    rows = proposals.rows
    lines = [f"{current}: {proposals.baseline.text}."]
    if proposals.problem:
        lines.append(f"⚠ {proposals.problem[0].upper()}{proposals.problem[1:]}: Accept and "
                     "New are off.")
    reg = proposals.registration
    if proposals.poor:
        which = "above" if registration_shown else reg.summary
        lines.append(f"⚠ Poor registration ({which}): check every proposal by eye; each "
                     "decision asks for confirmation.")
    elif not registration_shown:
        lines.append(f"Registration: {reg.summary}.")
    counts = rows["status"].value_counts()
    lines.append(f"{counts.get('matched', 0)} matched, {counts.get('new', 0)} new, "
                 f"{counts.get('gone', 0)} gone (no VOI drawn here).")
    checks = proposals.checks()
    n_amb, n_ids = int(checks["ambiguous"].sum()), int((checks["id_conflict"] != "").sum())
    if n_amb or n_ids:
        what = ([f"{n_amb} ambiguous"] if n_amb else []) + (
            [f"{n_ids} carrying another baseline lesion's ID"] if n_ids else [])
        lines.append(f"⚠ Check first: {', '.join(what)}.")
    if log_problem:
        lines.append(f"⚠ Saved decisions not shown: {log_problem}")
    return " ".join(lines)
