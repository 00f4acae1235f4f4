"""Which baseline a follow-up scan is compared with (lesion matching in the review).

A follow-up's baseline is the patient's scan of the same tracer and modality at time point
``baseline`` (:mod:`nethelpers.timepoints`); without one, the same tracer on another
modality, stated in :attr:`BaselineChoice.how`; a reader may also choose any other scan
(:data:`BY_HAND`). Used by :mod:`nethelpers.reviewmatch`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["BY_HAND", "OTHER_MODALITY", "SAME_SERIES", "BaselineChoice", "MatchError",
           "baseline_of", "days_between"]

#: How a baseline was chosen (:attr:`BaselineChoice.how`).
SAME_SERIES = "same tracer and modality"
OTHER_MODALITY = "same tracer on {modality}: no baseline {tracer} {own} scan"
BY_HAND = "chosen by the reader"


class MatchError(ValueError):
    """Matching that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class BaselineChoice:
    """The baseline a follow-up scan is compared with.

    Attributes
    ----------
    followup_scan, baseline_scan : str
        The two scans.
    time_point : str
        The follow-up's time point (``follow-up 1``, ...; empty when chosen by hand).
    how : str
        :data:`SAME_SERIES`, :data:`OTHER_MODALITY` (filled in) or :data:`BY_HAND`.
    days : int or None
        Days from the baseline to the follow-up (scan dates).
    """

    followup_scan: str
    baseline_scan: str
    time_point: str
    how: str
    days: int | None

    @property
    def text(self) -> str:
        """One line for the reader, e.g. ``follow-up 1 of P004-DOTATATE-PETCT (126 days)``."""
        notes = ([f"{self.days} days"] if self.days is not None else []) + (
            [] if self.how == SAME_SERIES else [self.how])
        when = f" ({'; '.join(notes)})" if notes else ""
        if not self.time_point:
            return f"compared with {self.baseline_scan}{when}"
        return f"{self.time_point} of {self.baseline_scan}{when}"


def baseline_of(scans: pd.DataFrame, scan_id: str, available: Any = None
                ) -> BaselineChoice | None:
    """The baseline of a follow-up scan: same tracer and modality, else same tracer.

    Parameters
    ----------
    scans : pandas.DataFrame
        The patient's scans: ``scan_id, patient_id, tracer, modality, scan_date`` and
        ``time_point`` (recorded or derived: :func:`nethelpers.timepoints.time_points`).
    scan_id : str
        The scan read.
    available : collection of str, optional
        The scans that may be the baseline (the session's PET scans); default all.

    Returns
    -------
    BaselineChoice or None
        None when the scan is a baseline itself, has no time point, or is not in ``scans``.

    Raises
    ------
    MatchError
        A follow-up whose patient has no baseline scan of its tracer.
    nethelpers.tablespec.CohortError
        The recorded time points cannot be right (the message names the scans).
    """
    from nethelpers.timepoints import BASELINE, TIME_POINT_COLUMNS, time_points

    tp = scans if set(TIME_POINT_COLUMNS) <= set(scans.columns) else time_points(scans)
    tp = tp.assign(scan_id=tp["scan_id"].astype(str))
    row = tp[tp["scan_id"] == scan_id]
    if row.empty or pd.isna(row["time_point"].iloc[0]) or row["time_point"].iloc[0] == BASELINE:
        return None
    me = row.iloc[0]
    base = tp[(tp["patient_id"].astype(str) == str(me["patient_id"]))
              & tp["time_point"].eq(BASELINE).fillna(False).astype(bool)
              & (tp["tracer"].astype(str) == str(me["tracer"]))]
    if available is not None:
        base = base[base["scan_id"].isin(set(available))]
    same = base[base["modality"].astype(str) == str(me["modality"])]
    how = SAME_SERIES
    if same.empty:
        if base.empty:
            raise MatchError(f"{scan_id} is {me['time_point']}, but the patient has no baseline "
                             f"{me['tracer']} scan to compare it with; choose the scan to "
                             "compare it with (Beside, in the review)")
        same = base.sort_values(["modality", "scan_id"], key=lambda s: s.astype(str))
        how = OTHER_MODALITY.format(modality=same["modality"].iloc[0], tracer=me["tracer"],
                                    own=me["modality"])
    first = same.iloc[0]
    return BaselineChoice(scan_id, str(first["scan_id"]), str(me["time_point"]), how,
                          days_between(first.get("scan_date"), me.get("scan_date")))


def days_between(start: Any, end: Any) -> int | None:
    """Days from ``start`` to ``end`` (dates; None when either is missing)."""
    try:
        days = (pd.Timestamp(end).normalize() - pd.Timestamp(start).normalize()).days
    except (TypeError, ValueError):
        return None
    return None if pd.isna(days) else int(days)
