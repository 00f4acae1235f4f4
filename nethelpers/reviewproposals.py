"""The proposals of lesion matching in the review, and what the reader should check first.

:class:`MatchProposals` is what :meth:`nethelpers.review.ReviewSession.match_proposals`
returns (:mod:`nethelpers.reviewmatch`): one row per baseline lesion (matched or gone) and
per unmatched follow-up VOI (new), the lesion IDs a VOI can be reassigned to, and why no
decision can be taken yet (:attr:`MatchProposals.problem`). :func:`row_checks` says which
rows to check by eye before confirming: an *ambiguous* row (another candidate nearly as
close) and an *ID conflict* (the follow-up VOI carries the ID of another baseline lesion).
No Qt here: the panel (:mod:`nethelpers.viewer._qt.matchpanel`) only shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nethelpers.lesionmatch import MATCH_COLUMNS
from nethelpers.reviewbaseline import BaselineChoice, MatchError

__all__ = ["AMBIGUOUS_MM", "AMBIGUOUS_RATIO", "PROPOSAL_COLUMNS", "MatchProposals",
           "row_checks"]

#: Columns of :attr:`MatchProposals.rows`: :data:`~nethelpers.lesionmatch.MATCH_COLUMNS`
#: and the row's point in the follow-up's patient space (LPS mm): the follow-up VOI's
#: centre, or for a gone lesion its baseline centre carried through the registration.
PROPOSAL_COLUMNS = [*MATCH_COLUMNS, "x_mm", "y_mm", "z_mm"]
#: A row is ambiguous when its next candidate lies within this multiple of its distance ...
AMBIGUOUS_RATIO = 2.0
#: ... or closer than this (mm).
AMBIGUOUS_MM = 10.0


@dataclass
class MatchProposals:
    """The proposed baseline lesion of each follow-up VOI, for the reader to confirm.

    Attributes
    ----------
    followup_scan : str
        The follow-up (the session's current scan when proposed).
    baseline : BaselineChoice
        The scan it is compared with and how that was chosen.
    registration : nethelpers.registration.ScanRegistration
        Baseline fixed, follow-up moving (``registration.summary``: kind, quality, verdict).
    rows : pandas.DataFrame
        :data:`PROPOSAL_COLUMNS`: one row per baseline VOI (matched or gone), then one per
        unmatched follow-up VOI (new).
    baseline_ids : tuple of str
        The baseline scan's lesion IDs (a VOI reassigned to one is ``matched``).
    other_ids : tuple of str
        The patient's other lesion IDs, not at baseline: on another scan of the reader's
        set (e.g. a lesion new at follow-up 1 on PET/CT, linked on the PET/MR follow-up).
        A VOI reassigned to one is ``new`` (absent at baseline).
    problem : str
        Why nothing can be accepted yet (empty when all is well), e.g. ``read the baseline
        first (no lesion VOI of R2 on P004-DOTATATE-PETCT)``: every VOI would be proposed
        new.
    """

    followup_scan: str
    baseline: BaselineChoice
    registration: Any
    rows: pd.DataFrame
    baseline_ids: tuple[str, ...]
    other_ids: tuple[str, ...] = ()
    problem: str = ""

    @property
    def gone(self) -> pd.DataFrame:
        """Baseline lesions without a follow-up VOI (disappeared, or not drawn yet)."""
        return self.rows[self.rows["status"] == "gone"].reset_index(drop=True)

    @property
    def poor(self) -> bool:
        """Whether the registration's verdict is poor (every proposal needs checking)."""
        return str(getattr(self.registration, "verdict", "")) == "poor"

    def row_for(self, followup_label: int) -> pd.Series:
        """The proposal of a follow-up VOI (matched or new).

        Raises
        ------
        MatchError
            No follow-up VOI with that label when proposed.
        """
        rows = self.rows[self.rows["followup_label"].eq(int(followup_label)).fillna(False)
                         .astype(bool)]
        if rows.empty:
            raise MatchError(f"{self.followup_scan}: no proposal for the VOI with label "
                             f"{followup_label}; propose again after drawing it")
        return rows.iloc[0]

    def checks(self) -> pd.DataFrame:
        """:func:`row_checks` of these proposals."""
        return row_checks(self.rows, self.baseline_ids)


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def row_checks(rows: pd.DataFrame, baseline_ids: tuple[str, ...] | list[str],
               ratio: float = AMBIGUOUS_RATIO, near_mm: float = AMBIGUOUS_MM
               ) -> pd.DataFrame:
    """What to check by eye in each proposal row.

    Parameters
    ----------
    rows : pandas.DataFrame
        :attr:`MatchProposals.rows`.
    baseline_ids : sequence of str
        The baseline scan's lesion IDs.
    ratio, near_mm : float
        A row is ambiguous when its next candidate (``second_best_mm``) is closer than
        ``ratio`` times its distance (matched rows) or closer than ``near_mm``.

    Returns
    -------
    pandas.DataFrame
        Per row, same index: ``ambiguous`` (bool) and ``id_conflict``: the ID of ANOTHER
        baseline lesion the follow-up VOI carries ("" when none; a VOI whose ID agrees with
        its proposal, or carries a fresh ID, is no conflict).
    """
    base = {str(x) for x in baseline_ids if str(x)}
    ambiguous, conflict = [], []
    for rec in rows.to_dict("records"):
        nxt, dist = _number(rec["second_best_mm"]), _number(rec["distance_mm"])
        near = nxt < near_mm or (rec["status"] == "matched" and nxt < ratio * dist)
        ambiguous.append(bool(near) and not math.isnan(nxt))
        carried = "" if pd.isna(rec["followup_label"]) else str(rec["followup_lesion_id"] or "")
        other = carried in base and carried != str(rec["baseline_lesion_id"] or "")
        conflict.append(carried if other else "")
    return pd.DataFrame({"ambiguous": ambiguous, "id_conflict": conflict}, index=rows.index)
