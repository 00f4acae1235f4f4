"""Time points of the scans: baseline, follow-up 1, 2, ... and the days between them.

A patient's scans of one tracer on one modality form a series over time. Each scan gets

- ``time_point``: ``baseline``, ``follow-up 1``, ``follow-up 2``, ...;
- ``time_point_source``: ``recorded`` (the scans table's ``time_point`` column, normalised),
  ``derived from scan_date`` (no value recorded: the first scan by date is the baseline, the
  next follow-up 1, ...), ``refused`` (the recorded values cannot be right: see below) or
  ``not derived`` (no value recorded and the recorded ones of its series leave no place for
  it, e.g. a scan dated before the recorded baseline);
- ``days_from_baseline``: days from the baseline scan of its series (negative before it;
  missing when the series has no baseline);
- ``days_from_previous``: days from the previous time point of its series (missing for the
  baseline).

Recorded values are read in their common spellings (``BL``, ``t0``, ``FU1``, ``follow up 1``,
``F/U 2``, ``t3``, ...). A series whose recorded time points contradict the scan dates (a
follow-up dated before its baseline, two scans with the same time point) is refused: its
time points are left missing and the problem names the scans and the fix. The baseline is
the index test of the diagnostic analyses (:func:`nethelpers.readings.repeat_scans`): a
recorded baseline stays the index test even when an unrecorded scan is dated before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nethelpers.tablespec import CohortError

if TYPE_CHECKING:
    from nethelpers.tableload import Problems

__all__ = ["BASELINE", "DERIVED", "NOT_DERIVED", "RECORDED", "REFUSED", "SERIES",
           "TIME_POINT_COLUMNS", "add_time_points", "is_baseline", "is_follow_up",
           "lesions_at_baseline",
           "normalise_time_point", "time_point_or_none", "unreadable_time_points",
           "pairs", "time_point_label", "time_points"]

BASELINE = "baseline"
RECORDED = "recorded"
DERIVED = "derived from scan_date"
REFUSED = "refused"
NOT_DERIVED = "not derived"
SERIES = ("patient_id", "tracer", "modality")
"""A series over time: the scans of one patient, tracer and modality."""
TIME_POINT_COLUMNS = ("time_point", "time_point_source", "days_from_baseline",
                      "days_from_previous")
"""Columns :func:`time_points` gives every scan."""

_BASELINE_KEYS = {"baseline", "bl", "base", "t0", "tp0", "timepoint0"}
_FOLLOW_UP = re.compile(r"^(?:followup|fu|t|tp|timepoint)0*([1-9]\d*)$")
_ALLOWED = ("baseline (or BL, t0) or follow-up N with N = 1, 2, ... (or FUN, follow up N, "
            "F/U N, tN)")


def time_point_label(rank: int) -> str:
    """Return the label of time point ``rank`` (0: ``baseline``, n: ``follow-up n``)."""
    return BASELINE if rank == 0 else f"follow-up {rank}"


def _rank(label: str) -> int:
    """Return the rank of a normalised label (inverse of :func:`time_point_label`)."""
    return 0 if label == BASELINE else int(label.rsplit(" ", 1)[1])


def normalise_time_point(value: object) -> str | None:
    """Read a recorded time point in its common spellings.

    Parameters
    ----------
    value : object
        A cell of the ``time_point`` column: ``baseline``, ``BL``, ``t0``, ``follow-up 1``,
        ``FU1``, ``follow up 1``, ``F/U 1``, ``t1``, ... (case, spaces, hyphens,
        underscores and slashes ignored; a dot is not: ``FU1.5`` is refused, not read as 15).

    Returns
    -------
    str or None
        ``baseline`` or ``follow-up N``; None for an empty cell.

    Raises
    ------
    ValueError
        The value is not a time point (``follow-up`` without its number, ``FU0``, text).
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if not str(value).strip():
        return None
    key = re.sub(r"[\s\-_/]", "", str(value).casefold())
    if key in _BASELINE_KEYS:
        return BASELINE
    match = _FOLLOW_UP.match(key)
    if match:
        return time_point_label(int(match.group(1)))
    raise ValueError(f"{str(value)!r} is not a time point; allowed: {_ALLOWED}")


def time_point_or_none(value: object) -> str | None:
    """A cell's time point; None for an empty cell or a value that is not a time point."""
    try:
        return normalise_time_point(value)
    except ValueError:
        return None


def _time_point_column(table: pd.DataFrame, column: str = "time_point") -> pd.Series:
    """Every row's time point (None: empty, not a time point, or no such column)."""
    if column not in table.columns:
        return pd.Series(None, index=table.index, dtype=object)
    # as objects: a string column's .map skips its missing cells (NA would stay NA)
    return table[column].astype(object).map(time_point_or_none).astype(object)


def is_baseline(scans: pd.DataFrame) -> pd.Series:
    """Return True for the scans whose ``time_point`` column says baseline.

    Parameters
    ----------
    scans : pandas.DataFrame
        A scans table, with or without a ``time_point`` column.

    Returns
    -------
    pandas.Series of bool
        False everywhere when the column is absent or a value is not a time point.
    """
    return _time_point_column(scans).eq(BASELINE).fillna(False).astype(bool)


def is_follow_up(scans: pd.DataFrame) -> pd.Series:
    """Return True for the scans whose ``time_point`` names a follow-up (``follow-up N``).

    Parameters
    ----------
    scans : pandas.DataFrame
        A scans table, with or without a ``time_point`` column.

    Returns
    -------
    pandas.Series of bool
        False where the column is absent, empty, baseline or not a time point.
    """
    point = _time_point_column(scans)
    return (point.notna() & point.ne(BASELINE)).fillna(False).astype(bool)


def lesions_at_baseline(lesions: pd.DataFrame) -> pd.Series:
    """Return True for the lesions present at baseline (not new at a follow-up).

    Parameters
    ----------
    lesions : pandas.DataFrame
        A lesions table, with or without a ``first_time_point`` column.

    Returns
    -------
    pandas.Series of bool
        False where ``first_time_point`` names a follow-up; True where it is empty, says
        baseline, or is not a time point (the cohort's load reports such a value).
    """
    point = _time_point_column(lesions, "first_time_point")
    return (point.isna() | point.eq(BASELINE)).fillna(True).astype(bool)


def unreadable_time_points(values: pd.Series) -> pd.Series:
    """Return True for the non-empty values that are not a time point in any spelling."""
    def bad(value: object) -> bool:
        try:
            normalise_time_point(value)
        except ValueError:
            return True
        return False

    return values.map(bad).astype(bool)


@dataclass(frozen=True)
class Finding:
    """One thing :func:`_assign` found: a problem (refused) or a note (accepted)."""

    lines: tuple[object, ...]
    """Index labels of the scans concerned (CSV line numbers in a cohort)."""
    scan_ids: tuple[str, ...]
    reason: str
    action: str
    fix: str = ""

    @property
    def problem(self) -> bool:
        """Whether the data cannot be right (raised in strict mode)."""
        return bool(self.fix)


def _days(later: pd.Timestamp, earlier: pd.Timestamp) -> int:
    return int((later.normalize() - earlier.normalize()).days)


def _read_recorded(scans: pd.DataFrame, findings: list[Finding]) -> pd.Series:
    """The recorded time points, normalised (missing when empty or not a time point)."""
    raw = scans["time_point"] if "time_point" in scans.columns else pd.Series(
        pd.NA, index=scans.index, dtype="object")
    out = pd.Series(pd.NA, index=scans.index, dtype="object")
    for line, value in raw.items():
        scan_id = str(scans.at[line, "scan_id"])
        try:
            label = normalise_time_point(value)
        except ValueError as exc:
            findings.append(Finding((line,), (scan_id,), f"time_point {exc}", "set to missing",
                                    "correct the value, or leave the cell empty to derive "
                                    "it from scan_date."))
            continue
        if label is not None and str(value).strip() != label:
            findings.append(Finding((line,), (scan_id,),
                                    f"time_point {str(value).strip()!r} read as {label!r}",
                                    "normalised"))
        out[line] = label
    return out


def _series_conflict(group: pd.DataFrame) -> Finding | None:
    """A recorded time point that cannot be right in its series, or None."""
    rec = group[group["_recorded"].notna()]
    dup = rec[rec.duplicated("_recorded", keep=False)]
    if len(dup):
        ids = tuple(dup["_id"])
        return Finding(tuple(group.index), tuple(group["_id"]),
                       f"scans {', '.join(ids)} are all recorded as {dup['_recorded'].iloc[0]!r}",
                       "time point set to missing",
                       "give each scan of a patient, tracer and modality its own time point "
                       "(keep one row of a repeated acquisition), or leave time_point empty "
                       "to derive it from scan_date.")
    rec = rec.assign(_rank=rec["_recorded"].map(_rank)).sort_values("_rank")
    for (_, early), (_, late) in zip(rec.iloc[:-1].iterrows(), rec.iloc[1:].iterrows(),
                                     strict=True):
        if late["scan_date"] < early["scan_date"]:
            days = _days(early["scan_date"], late["scan_date"])
            return Finding(tuple(group.index), tuple(group["_id"]),
                           f"{late['_id']} ({late['_recorded']}) is dated {days} day(s) "
                           f"before {early['_id']} ({early['_recorded']})",
                           "time point set to missing",
                           "correct the scan_date or the time_point of one of them (a "
                           "follow-up comes after its baseline).")
    return None


def _series_time_points(group: pd.DataFrame, findings: list[Finding]) -> pd.DataFrame:
    """Time points of one series (rows sorted by scan_date, then scan_id)."""
    out = pd.DataFrame({"time_point": pd.Series(pd.NA, index=group.index, dtype="object"),
                        "time_point_source": REFUSED}, index=group.index)
    conflict = _series_conflict(group)
    if conflict is not None:
        findings.append(conflict)
        return out
    recorded = group["_recorded"]
    derived = pd.Series([time_point_label(i) for i in range(len(group))], index=group.index)
    out["time_point"] = recorded
    out.loc[recorded.notna(), "time_point_source"] = RECORDED
    unrecorded = recorded.isna()
    if unrecorded.any():
        if recorded[~unrecorded].eq(derived[~unrecorded]).all():
            out.loc[unrecorded, "time_point"] = derived[unrecorded]
            out.loc[unrecorded, "time_point_source"] = DERIVED
        else:
            out.loc[unrecorded, "time_point_source"] = NOT_DERIVED
            lines = tuple(unrecorded[unrecorded].index)
            findings.append(Finding(
                lines, tuple(group.loc[list(lines), "_id"]),
                "time_point not recorded and not derived from scan_date: the recorded time "
                "points of its patient, tracer and modality are not in scan_date order with "
                "it (a recorded baseline after it wins)", "time point missing"))
    return out


def _days_columns(group: pd.DataFrame, findings: list[Finding]) -> pd.DataFrame:
    """``days_from_baseline`` and ``days_from_previous`` of one series."""
    out = pd.DataFrame({"days_from_baseline": pd.Series(pd.NA, index=group.index,
                                                        dtype="Int64"),
                        "days_from_previous": pd.Series(pd.NA, index=group.index,
                                                        dtype="Int64")})
    placed = group[group["time_point"].notna()]
    if placed.empty:
        return out
    base = placed[placed["time_point"] == BASELINE]
    if base.empty:
        findings.append(Finding(tuple(group.index), tuple(group["_id"]),
                                "no baseline scan of this patient, tracer and modality: "
                                "days_from_baseline missing", "kept: check"))
    else:
        start = base["scan_date"].iloc[0]
        out["days_from_baseline"] = [_days(d, start) for d in group["scan_date"]]
    order = placed.assign(_rank=placed["time_point"].map(_rank)).sort_values("_rank")
    previous = order["scan_date"].shift(1)
    for line, date, prev in zip(order.index, order["scan_date"], previous, strict=True):
        if not pd.isna(prev):
            out.at[line, "days_from_previous"] = _days(date, prev)
    return out


def _derived(work: pd.DataFrame) -> pd.DataFrame:
    """Time points of the series without any recorded one, all at once (sorted by date)."""
    series = work.groupby(list(SERIES), sort=False)
    rank = series.cumcount()
    first = series["scan_date"].transform("first")
    previous = series["scan_date"].shift(1)
    return work.assign(
        time_point=[time_point_label(int(r)) for r in rank],
        time_point_source=DERIVED,
        days_from_baseline=(work["scan_date"].dt.normalize() - first.dt.normalize()).dt.days,
        days_from_previous=(work["scan_date"].dt.normalize()
                            - previous.dt.normalize()).dt.days.astype("Int64"))


def _assign(scans: pd.DataFrame) -> tuple[pd.DataFrame, list[Finding]]:
    """Time points of every scan, and what was found on the way."""
    missing = [c for c in ("scan_id", *SERIES, "scan_date") if c not in scans.columns]
    if missing:
        raise CohortError(f"scans table lacks column(s) {', '.join(missing)}. Fix: add them.")
    dates = pd.to_datetime(scans["scan_date"])
    if dates.isna().any():
        ids = ", ".join(scans.loc[dates.isna(), "scan_id"].astype(str))
        raise CohortError(f"scans without a scan_date: {ids}. Fix: fill in the scan_date.")
    findings: list[Finding] = []
    work = scans[["scan_id", *SERIES]].astype(str).assign(
        scan_date=dates, _id=scans["scan_id"].astype(str),
        _recorded=_read_recorded(scans, findings))
    work = work.sort_values(["scan_date", "_id"], kind="stable")
    keys = list(SERIES)
    any_recorded = work["_recorded"].notna().groupby([work[k] for k in keys]).transform("any")
    parts = [_derived(work[~any_recorded])]
    for _, group in work[any_recorded].groupby(keys, sort=False):
        group = group.join(_series_time_points(group, findings))
        parts.append(group.join(_days_columns(group, findings)))
    out = pd.concat(parts)
    out = out.loc[scans.index]
    out["time_point"] = out["time_point"].astype("string")
    out["time_point_source"] = out["time_point_source"].astype("string")
    out["scan_date"] = dates
    columns = ["scan_id", *SERIES, "scan_date", *TIME_POINT_COLUMNS]
    return out[columns].astype({"days_from_baseline": "Int64",
                                "days_from_previous": "Int64"}), findings


def time_points(scans: pd.DataFrame) -> pd.DataFrame:
    """Give every scan its time point and the days from its baseline and previous scan.

    Parameters
    ----------
    scans : pandas.DataFrame
        ``scan_id, patient_id, tracer, modality, scan_date`` and optionally ``time_point``
        (recorded values, in any common spelling; empty cells are derived from scan_date).

    Returns
    -------
    pandas.DataFrame
        Same index as ``scans``: ``scan_id, patient_id, tracer, modality, scan_date``
        and :data:`TIME_POINT_COLUMNS` (see the module docstring).

    Raises
    ------
    CohortError
        A recorded value is not a time point, a follow-up is dated before an earlier time
        point of its series, or two scans of a series share a time point: the message names
        the scans and the fix.
    """
    out, findings = _assign(scans)
    for found in findings:
        if found.problem:
            raise CohortError(f"scans: column time_point: {found.reason} "
                              f"(scan_id {', '.join(found.scan_ids)}). Fix: {found.fix}")
    return out


def add_time_points(scans: pd.DataFrame, path: Path, problems: Problems) -> pd.DataFrame:
    """Add the time point columns to a loaded scans table (:func:`load_cohort`).

    Rows and the other columns are unchanged; ``time_point`` is replaced by its normalised
    (or derived) value. A refused value raises in strict mode; in lenient mode it and every
    note (a normalised spelling, a scan without a time point, a series without a baseline)
    become rows of the cohort's exclusions (the notes in both modes).

    Parameters
    ----------
    scans : pandas.DataFrame
        The scans table after its checks, indexed by CSV line number.
    path : Path
        The scans file; messages and records name the file only (never an absolute path).
    problems : Problems
        The load's problem collector.

    Returns
    -------
    pandas.DataFrame
        ``scans`` with :data:`TIME_POINT_COLUMNS`.
    """
    assigned, findings = _assign(scans)
    for found in findings:
        records = [{"what": "scan value", "id": scan_id, "reason": found.reason,
                    "action": found.action, "source": f"{path.name} {_where(line)}"}
                   for line, scan_id in zip(found.lines, found.scan_ids, strict=True)]
        if found.problem:
            problems.report(f"{path.name}: column time_point: {found.reason} "
                            f"(scan_id {', '.join(found.scan_ids)}). Fix: {found.fix}",
                            records)
        else:
            problems.rows.extend(records)
    out = scans.copy()
    for column in TIME_POINT_COLUMNS:
        out[column] = assigned[column]
    return out


def _where(line: object) -> str:
    return f"line {line}" if isinstance(line, int) else str(line)


def _with_time_points(scans: pd.DataFrame) -> pd.DataFrame:
    """``scans`` with its time points (as given when a cohort already carries them)."""
    if set(TIME_POINT_COLUMNS) <= set(scans.columns):
        return scans
    return time_points(scans)


def pairs(scans: pd.DataFrame, a: str = BASELINE, b: str = "follow-up 1") -> pd.DataFrame:
    """Pair the scans of two time points of every patient, tracer and modality.

    Parameters
    ----------
    scans : pandas.DataFrame
        ``cohort.scans`` (time points already given) or a scans table for
        :func:`time_points`.
    a, b : str
        The two time points, in any spelling :func:`normalise_time_point` reads
        (default baseline and follow-up 1).

    Returns
    -------
    pandas.DataFrame
        One row per series with both: ``patient_id, tracer, modality, scan_id_a,
        scan_id_b, time_point_a, time_point_b, days`` (days from scan a to scan b).
    """
    first, second = normalise_time_point(a), normalise_time_point(b)
    if first is None or second is None or first == second:
        raise ValueError(f"pairs need two different time points; got {a!r} and {b!r}")
    tp = _with_time_points(scans)
    cols = ["scan_id", *SERIES, "scan_date"]
    left = tp.loc[tp["time_point"].eq(first).fillna(False).astype(bool), cols]
    right = tp.loc[tp["time_point"].eq(second).fillna(False).astype(bool), cols]
    keys = list(SERIES)
    joined = left.astype({k: str for k in keys}).merge(
        right.astype({k: str for k in keys}), on=keys, suffixes=("_a", "_b"))
    days = [_days(pd.Timestamp(y), pd.Timestamp(x))
            for x, y in zip(joined["scan_date_a"], joined["scan_date_b"], strict=True)]
    out = joined.assign(time_point_a=first, time_point_b=second,
                        days=pd.array(days, dtype="Int64"))
    out = out.sort_values(keys, kind="stable").reset_index(drop=True)
    return out[[*keys, "scan_id_a", "scan_id_b", "time_point_a", "time_point_b", "days"]]
