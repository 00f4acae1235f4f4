"""Lesions across time points in the review: proposals, and the reader's confirmation.

A mixin of :class:`nethelpers.review.ReviewSession` (no Qt). When the scan on screen is a
follow-up (``time_point`` of the scans table, :mod:`nethelpers.timepoints`), its baseline is
the patient's scan of the same tracer and modality at time point ``baseline``; without one,
the same tracer on another modality (stated in :attr:`BaselineChoice.how`;
:mod:`nethelpers.reviewbaseline`), or a scan the reader chooses (the review's "Beside" list;
a follow-up without any baseline of its tracer is compared only with a scan chosen so). The
two scans are registered with the **baseline FIXED and the follow-up MOVING** (the session's
:class:`~nethelpers.registrationstore.SessionRegistrations`): its transform maps a baseline
point to the follow-up, as :func:`nethelpers.lesionmatch.match_lesions` needs. The
side-by-side pane registers the other way round (the scan beside moving onto the one read):
for a rigid registration the two are one registration and its exact inverse; a deformable one
(``registration.deformable`` auto/always) has no exact inverse, so the two directions are
computed separately and can differ by a few millimetres (each states its own quality). The
two scans' current lesion VOIs (the reader's own set, unsaved edits included) are matched:
each follow-up VOI gets its proposed baseline lesion (``matched``) or none (``new``), each
baseline lesion left over is ``gone`` (no VOI drawn at follow-up). A reader without any
lesion VOI on the baseline is told to read it first (:attr:`MatchProposals.problem`) and
cannot accept: every VOI would be "new".

The reader confirms per follow-up VOI (each an undoable edit of the current scan):

- :meth:`MatchingMixin.accept_match` -- the proposal: ``matched`` gives the VOI the baseline
  lesion's ``lesion_id``; ``new`` is :meth:`~MatchingMixin.mark_new`;
- :meth:`MatchingMixin.mark_new` -- a lesion absent at baseline: the VOI keeps its
  ``lesion_id`` when no baseline VOI and no other VOI of the scan carries it, else it gets a
  new one the review's way (:meth:`~nethelpers.review.ReviewSession.next_lesion_id`, used
  nowhere for the patient);
- :meth:`MatchingMixin.reassign_match` -- another lesion, chosen by the reader: a baseline
  lesion (``matched``), or a lesion of the patient not at baseline (``new``; e.g. a lesion
  new on the PET/CT follow-up, linked on the PET/MR follow-up).

The VOI's read on this scan moves with its ``lesion_id``. A ``lesion_id`` that already names
another VOI of the scan is refused (never two VOIs of one lesion) -- unless that VOI is
proposed as the first VOI's current lesion: the reader's IDs are swapped, and the two VOIs
exchange them in one undoable step. Every decision (who, when, what was proposed, what was
confirmed) is saved with the ROI version that carries it, in the set's ``matches.csv``
(:mod:`nethelpers.reviewmatchsave`, :mod:`nethelpers.reviewmatchlog`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.lesionmatch import match_lesions
from nethelpers.reviewbaseline import (
    BY_HAND,
    OTHER_MODALITY,
    SAME_SERIES,
    BaselineChoice,
    MatchError,
    baseline_of,
    days_between,
)
from nethelpers.reviewmarkers import voi_point
from nethelpers.reviewmatchsave import MatchLogMixin
from nethelpers.reviewproposals import PROPOSAL_COLUMNS, MatchProposals
from nethelpers.rois import validate_reads

__all__ = ["OTHER_MODALITY", "PROPOSAL_COLUMNS", "SAME_SERIES", "BY_HAND", "BaselineChoice",
           "MatchError", "MatchProposals", "MatchingMixin", "baseline_of"]


def _label_image(labels: np.ndarray, pet: sitk.Image) -> sitk.Image:
    image = sitk.GetImageFromArray(np.asarray(labels))
    image.CopyInformation(pet)
    return image


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _lesion_ids(table: pd.DataFrame) -> set[str]:
    return {str(x) for x in table.loc[table["roi"] == "lesion", "lesion_id"] if str(x)}


class MatchingMixin(MatchLogMixin):
    """Baseline and follow-up: proposals and the reader's decisions (mixin of the session)."""

    params: Any
    patient_id: str
    reader: str
    set_reader: str
    current: str
    jobs: dict[str, Any]
    table: pd.DataFrame
    labels: np.ndarray
    images: Any
    _cur: Any
    _scans: dict[str, Any]
    registrations: Any = None
    _match_scans: pd.DataFrame | None = None
    # provided by the session: _state_of(scan_id), _checkpoint(), next_lesion_id(), _warn(),
    # _stored_table(scan_id), images_of(scan_id)

    # -- which baseline --------------------------------------------------------------------
    def _patient_scans(self) -> pd.DataFrame:
        """The patient's rows of the scans table with time points (read once per session)."""
        if self._match_scans is None:
            from nethelpers.tableload import load_scans
            from nethelpers.timepoints import time_points

            scans = load_scans(self.params.study.tables.scans, strict=False)
            mine = scans[scans["patient_id"].astype(str) == str(self.patient_id)]
            self._match_scans = time_points(mine.reset_index(drop=True))
        return self._match_scans

    def match_baseline(self, scan_id: str | None = None) -> BaselineChoice | None:
        """The baseline of a follow-up scan (default the current one); None for a baseline.

        Raises
        ------
        MatchError
            A follow-up without a baseline scan of its tracer among the patient's scans
            (compare it with a scan chosen by hand: ``match_proposals(baseline=...)``).
        """
        return baseline_of(self._patient_scans(), scan_id or self.current, self.jobs)

    def _match_registrations(self) -> Any:
        if self.registrations is None:
            from nethelpers.registrationstore import SessionRegistrations

            self.registrations = SessionRegistrations(self.params, self.images_of, self._warn)
        return self.registrations

    # -- proposals ---------------------------------------------------------------------------
    def match_proposals(self, baseline: str | None = None) -> MatchProposals:
        """Propose the baseline lesion of each VOI of the current (follow-up) scan.

        Parameters
        ----------
        baseline : str, optional
            Compare with this scan (chosen by the reader); default :meth:`match_baseline`.
            A follow-up without a baseline of its tracer counts as having none: the scan
            given is used.

        Returns
        -------
        MatchProposals
            With :attr:`~MatchProposals.problem` set when the reader has no lesion VOI on
            the scan compared with (read it first; nothing can be accepted before).

        Raises
        ------
        MatchError
            No scan given and the current scan is not a follow-up or has no baseline; or
            the scan given is the current scan or not the patient's.
        nethelpers.review.ScanOpenError
            The baseline cannot be loaded.
        """
        followup = self.current
        try:
            auto = self.match_baseline()
            reason = ""
        except MatchError as exc:                 # a follow-up without a baseline: none
            auto, reason = None, str(exc)
        if baseline is None:
            if auto is None:
                raise MatchError(reason or f"{followup} is not a follow-up scan (time_point "
                                 "of the scans table); choose the scan to compare it with")
            choice = auto
        else:
            if baseline == followup or baseline not in self.jobs:
                raise MatchError(f"{baseline}: compare {followup} with another PET scan of "
                                 f"patient {self.patient_id}")
            choice = (auto if auto is not None and auto.baseline_scan == baseline
                      else BaselineChoice(followup, baseline, "", BY_HAND,
                                          self._days_between(baseline, followup)))
        base = self._state_of(choice.baseline_scan)
        reg = self._match_registrations().get(choice.baseline_scan, followup)
        base_labels = _label_image(base.state.labels, base.images.pet)
        follow_labels = _label_image(self.labels, self.images.pet)
        rows = match_lesions(base_labels, base.state.table, follow_labels, self.table,
                             reg.transform, max_mm=self.params.response.match_max_mm)
        points = [self._row_point(r, base_labels, follow_labels, reg) for r in rows.itertuples()]
        rows[["x_mm", "y_mm", "z_mm"]] = np.asarray(points, dtype=float).reshape(-1, 3)
        base_ids = _lesion_ids(base.state.table)
        unread = not (base.state.table["roi"] == "lesion").any()
        problem = (f"read the baseline first (no lesion VOI of {self.set_reader} on "
                   f"{choice.baseline_scan})" if unread else "")
        return MatchProposals(followup, choice, reg, rows[PROPOSAL_COLUMNS],
                              tuple(sorted(base_ids)),
                              self._other_ids(choice.baseline_scan, base_ids), problem)

    def _other_ids(self, baseline_scan: str, base_ids: set[str]) -> tuple[str, ...]:
        """Lesion IDs of the reader's set on the patient's other scans, not at baseline."""
        ids: set[str] = set()
        for scan_id in self.jobs:
            if scan_id in (self.current, baseline_scan):
                continue
            loaded = self._scans.get(scan_id)
            ids |= _lesion_ids(loaded.state.table if loaded is not None
                               else self._stored_table(scan_id))
        return tuple(sorted(ids - base_ids))

    def _days_between(self, first: str, second: str) -> int | None:
        dates = self._patient_scans().set_index("scan_id")["scan_date"]
        return days_between(dates.get(first), dates.get(second))

    @staticmethod
    def _row_point(row: Any, base_labels: sitk.Image, follow_labels: sitk.Image,
                   reg: Any) -> tuple[float, float, float]:
        if not pd.isna(row.followup_label):
            return voi_point(follow_labels, int(row.followup_label))
        return reg.to_moving(voi_point(base_labels, int(row.baseline_label)))

    # -- decisions ---------------------------------------------------------------------------
    def accept_match(self, proposals: MatchProposals, followup_label: int) -> str:
        """Confirm the proposal of a follow-up VOI; return its lesion_id now.

        ``matched``: the VOI takes the proposed baseline lesion's ID (when another VOI
        carries it and is proposed as this VOI's current lesion, the two exchange IDs);
        ``new``: as :meth:`mark_new`.

        Raises
        ------
        MatchError
            :attr:`MatchProposals.problem` (e.g. the baseline not read yet), or the ID
            names another VOI of this scan that is not simply swapped with this one.
        """
        self._decidable(proposals)
        row = proposals.row_for(followup_label)
        if row["status"] == "new":
            return self._new_id(proposals, followup_label, "accept")
        return self._confirm(proposals, followup_label, str(row["baseline_lesion_id"]),
                             "accept", "matched")

    def mark_new(self, proposals: MatchProposals, followup_label: int) -> str:
        """Confirm a follow-up VOI as a lesion absent at baseline; return its lesion_id now."""
        self._decidable(proposals)
        return self._new_id(proposals, followup_label, "new")

    def reassign_match(self, proposals: MatchProposals, followup_label: int,
                       lesion_id: str) -> str:
        """Make a follow-up VOI the given lesion (the reader's own choice).

        A baseline lesion (:attr:`MatchProposals.baseline_ids`) is confirmed ``matched``; a
        lesion of the patient not at baseline (:attr:`MatchProposals.other_ids`) ``new``.

        Raises
        ------
        MatchError
            Neither, or its ID names another VOI of this scan (not a swap).
        """
        if lesion_id in proposals.baseline_ids:
            status = "matched"
        elif lesion_id in proposals.other_ids:
            status = "new"
        else:
            choices = ", ".join((*proposals.baseline_ids, *proposals.other_ids))
            raise MatchError(f"{lesion_id} is not a lesion of the baseline "
                             f"{proposals.baseline.baseline_scan} nor of another scan of "
                             f"patient {self.patient_id}; choose one of {choices or '(none)'}")
        return self._confirm(proposals, followup_label, lesion_id, "reassign", status)

    def _decidable(self, proposals: MatchProposals) -> None:
        if proposals.problem:
            raise MatchError(f"{proposals.followup_scan}: {proposals.problem}, then propose "
                             "again")

    def _new_id(self, proposals: MatchProposals, followup_label: int, decision: str) -> str:
        before = self._voi_id(proposals, followup_label)
        others = set(self.table.loc[self.table["label"].astype(int) != int(followup_label),
                                    "lesion_id"])
        keep = before and before not in proposals.baseline_ids and before not in others
        return self._confirm(proposals, followup_label, before if keep else self.next_lesion_id(),
                             decision, "new")

    def _voi_id(self, proposals: MatchProposals, followup_label: int) -> str:
        if proposals.followup_scan != self.current:
            raise MatchError(f"the proposals are for {proposals.followup_scan}, the scan shown "
                             f"is {self.current}: propose again")
        rows = self.table[(self.table["label"].astype(int) == int(followup_label))
                          & (self.table["roi"] == "lesion")]
        if rows.empty:
            raise MatchError(f"{self.current}: no lesion VOI with label {followup_label}; "
                             "propose again")
        return str(rows["lesion_id"].iloc[0])

    def _holder(self, proposals: MatchProposals, followup_label: int, lesion_id: str,
                before: str) -> int | None:
        """The other VOI carrying ``lesion_id`` when the two simply swap IDs, else None.

        Raises
        ------
        MatchError
            Another VOI carries the ID and is not proposed as this VOI's current lesion.
        """
        table = self.table
        rows = table[(table["lesion_id"] == lesion_id)
                     & (table["label"].astype(int) != int(followup_label))]
        if rows.empty:
            return None
        holder = int(rows["label"].iloc[0])
        head = f"{self.current}: lesion {lesion_id} already names the VOI with label {holder}"
        try:
            proposal = proposals.row_for(holder)
        except MatchError:
            raise MatchError(f"{head}, drawn after the proposals; propose again") from None
        wanted = str(proposal["baseline_lesion_id"]) if proposal["status"] == "matched" else ""
        if before and wanted == before:          # the reader's IDs are swapped
            return holder
        if wanted == lesion_id:
            advice = (f"it is proposed as {lesion_id} too: check which VOI is {lesion_id}, "
                      "and change the other one first")
        elif wanted:
            advice = f"accept its proposal ({wanted}) first"
        else:
            advice = "mark it new first (it is proposed new)"
        raise MatchError(f"{head}; {advice} (one VOI per lesion)")

    def _confirm(self, proposals: MatchProposals, followup_label: int, lesion_id: str,
                 decision: str, status: str) -> str:
        before = self._voi_id(proposals, followup_label)
        holder = self._holder(proposals, followup_label, lesion_id, before)
        self._checkpoint()
        state = self._cur.state
        labels = state.table["label"].astype(int)
        state.table.loc[labels == int(followup_label), "lesion_id"] = lesion_id
        state.matches.append(self._decision(proposals, followup_label, before, decision,
                                            status, lesion_id))
        if holder is not None:                   # one step: both VOIs exchange their IDs
            state.table.loc[labels == holder, "lesion_id"] = before
            state.reads = self._swapped_reads(state.reads, before, lesion_id)
            state.matches.append(self._decision(proposals, holder, lesion_id, "swap",
                                                "matched", before))
        elif before != lesion_id:
            state.reads = self._moved_read(state.reads, before, lesion_id)
        return lesion_id

    def _decision(self, proposals: MatchProposals, followup_label: int, before: str,
                  decision: str, status: str, lesion_id: str) -> dict[str, Any]:
        """One row of the decisions log (``roi_version`` is set when saved)."""
        proposed = proposals.row_for(followup_label)
        reg = proposals.registration
        return {
            "decision_id": uuid.uuid4().hex, "decided_at": _now(), "decided_by": self.reader,
            "followup_scan": self.current, "baseline_scan": proposals.baseline.baseline_scan,
            "baseline_how": proposals.baseline.how,
            "registration": getattr(reg, "summary", ""), "followup_label": int(followup_label),
            "lesion_id_before": before, "proposed_status": proposed["status"],
            "proposed_lesion_id": proposed["baseline_lesion_id"],
            "distance_mm": proposed["distance_mm"], "gate_mm": proposed["gate_mm"],
            "second_best_mm": proposed["second_best_mm"], "decision": decision,
            "confirmed_status": status, "confirmed_lesion_id": lesion_id}

    def _moved_read(self, reads: pd.DataFrame, before: str, after: str) -> pd.DataFrame:
        """The VOI's read under its new ID (it replaces a read recorded for that ID here)."""
        if not (reads["lesion_id"] == before).any():
            return reads
        if (reads["lesion_id"] == after).any():
            self._warn(f"{self.current}: the read recorded for {after} was replaced by the "
                       f"read of the VOI confirmed as {after} (formerly {before})")
        reads = reads[reads["lesion_id"] != after].copy()
        reads.loc[reads["lesion_id"] == before, "lesion_id"] = after
        return validate_reads(reads, source=f"reads of {self.current}")

    def _swapped_reads(self, reads: pd.DataFrame, first: str, second: str) -> pd.DataFrame:
        """The reads of two VOIs that exchanged their IDs: each read stays with its VOI."""
        swap = {first: second, second: first}
        reads = reads.copy()
        reads["lesion_id"] = [swap.get(x, x) for x in reads["lesion_id"]]
        return validate_reads(reads, source=f"reads of {self.current}")
