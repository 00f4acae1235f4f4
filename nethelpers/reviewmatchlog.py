"""The reader's lesion-matching decisions on a follow-up scan: a small log beside the ROIs.

When a reader confirms which baseline lesion a follow-up VOI is (:mod:`nethelpers.reviewmatch`),
the VOI's ``lesion_id`` changes in the ROI table and is saved like every other edit: a new,
atomic, checksummed ROI version. *Why* it changed -- what was proposed, what the reader
confirmed, who, when -- is kept in one append-only table per follow-up scan and reader set,
beside that set's versions::

    <study.rois>/<followup scan_id>/<reader>/v000007/...      the ROI version (unchanged layout)
                                            /matches.csv      the decisions (MATCH_LOG_COLUMNS)

A decision is written right after the ROI version that carries it, naming that version
(``roi_version``), so no row ever names a version that was not saved; a save that fails
leaves the decisions pending in the session. The file is rewritten whole through a
temporary file and a rename (:func:`nethelpers.files.atomic_write`): a reader of it sees the
old table or the new one. Rows are never changed or removed; a decision the reader revises
later is a new row, and a decision a later version no longer carries (undone after its save,
the VOI renamed or deleted) gets a ``revoked`` row with that version (:func:`revoked_rows`):
the newest row of a label always agrees with the newest ROI version. The ROI
store ignores the file (it lists only ``vNNNNNN`` folders), and a reader's log lies in their
own set, blinded like their ROIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.files import atomic_write
from nethelpers.roireaders import reader_folder

__all__ = ["DECISIONS", "MATCH_LOG_COLUMNS", "MATCH_LOG_FILE", "MatchLogError", "append_match_log",
           "match_log_path", "read_match_log", "revoked_rows"]

#: The log's file name in a reader's set folder.
MATCH_LOG_FILE = "matches.csv"
#: What a reader can decide for a follow-up VOI: accept the proposal, new, reassign; swap:
#: the other VOI of an accepted or reassigned one that exchanged IDs with it; revoked: the
#: VOI's newest decision is no longer carried by the ROI version (written at its save).
DECISIONS = ("accept", "new", "reassign", "swap", "revoked")
#: Columns of the log, in order.
MATCH_LOG_COLUMNS = (
    "decision_id",          # unique (hex); a decision is written once
    "decided_at",           # ISO 8601 UTC
    "decided_by",           # who decided (the reader, or the adjudicator of a consensus)
    "followup_scan", "baseline_scan",
    "baseline_how",         # how the baseline was chosen (same series, other modality, by hand)
    "registration",         # the registration's one-line summary (kind, body Dice, verdict)
    "followup_label",       # the follow-up VOI's label in the ROI version
    "lesion_id_before",     # its lesion_id before the decision
    "proposed_status",      # matched or new (lesionmatch)
    "proposed_lesion_id",   # the baseline lesion proposed ("" for new)
    "distance_mm", "gate_mm", "second_best_mm",
    "decision",             # DECISIONS
    "confirmed_status",     # matched or new ("" for revoked)
    "confirmed_lesion_id",  # the VOI's lesion_id after the decision ("" revoked: deleted)
    "roi_version",          # the ROI version of the set that carries it
)


class MatchLogError(RuntimeError):
    """A decisions log that cannot be read or written; the message names it and the fix."""


def match_log_path(rois_root: str | Path, scan_id: str, reader: str) -> Path:
    """The decisions log of a scan in a reader's set: ``<root>/<scan>/<reader>/matches.csv``."""
    return Path(rois_root) / scan_id / reader_folder(reader) / MATCH_LOG_FILE


def _shown(scan_id: str, reader: str) -> str:
    """The log as it is named in messages: relative to the ROI store, never absolute."""
    return f"{scan_id}/{reader_folder(reader)}/{MATCH_LOG_FILE} in the ROI store"


def read_match_log(rois_root: str | Path, scan_id: str, reader: str) -> pd.DataFrame:
    """The decisions saved for a scan in a reader's set (empty when none).

    Returns
    -------
    pandas.DataFrame
        :data:`MATCH_LOG_COLUMNS`, all text, oldest first.

    Raises
    ------
    MatchLogError
        The file cannot be read or lacks columns (it is never overwritten then).
    """
    path = match_log_path(rois_root, scan_id, reader)
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=str) for c in MATCH_LOG_COLUMNS})
    try:
        log = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise MatchLogError(f"{_shown(scan_id, reader)}: unreadable ({type(exc).__name__}); "
                            "restore it from backup, or move it away to start a new log "
                            "(the ROI versions keep the confirmed lesion IDs)") from None
    missing = [c for c in MATCH_LOG_COLUMNS if c not in log.columns]
    if missing:
        raise MatchLogError(f"{_shown(scan_id, reader)}: no column {', '.join(missing)}; "
                            "restore it from backup, or move it away to start a new log")
    return log[list(MATCH_LOG_COLUMNS)]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:.2f}"
    text = str(value)
    return "" if text in ("<NA>", "nan") else text


def append_match_log(rois_root: str | Path, scan_id: str, reader: str,
                     decisions: list[dict[str, Any]], roi_version: int) -> int:
    """Add decisions to a scan's log (those already in it, by ``decision_id``, are skipped).

    Parameters
    ----------
    rois_root : path
        The ROI store folder (``study.rois``).
    scan_id, reader : str
        The follow-up scan and whose set.
    decisions : list of dict
        Rows with the keys of :data:`MATCH_LOG_COLUMNS` (``roi_version`` is set here).
    roi_version : int
        The ROI version just saved that carries them.

    Returns
    -------
    int
        How many rows were added.

    Raises
    ------
    MatchLogError
        The existing log cannot be read, or the file cannot be written.
    """
    log = read_match_log(rois_root, scan_id, reader)
    seen = set(log["decision_id"])
    rows = [{c: _cell(d.get(c)) for c in MATCH_LOG_COLUMNS} | {"roi_version": str(roi_version)}
            for d in decisions if str(d.get("decision_id")) not in seen]
    if not rows:
        return 0
    out = pd.concat([log, pd.DataFrame(rows, columns=list(MATCH_LOG_COLUMNS))],
                    ignore_index=True)
    path = match_log_path(rois_root, scan_id, reader)
    try:
        with atomic_write(path, "w", encoding="utf-8") as fh:
            out.to_csv(fh, index=False, lineterminator="\n")
    except OSError as exc:
        raise MatchLogError(f"{_shown(scan_id, reader)}: cannot write "
                            f"({exc.strerror or type(exc).__name__}); check permissions and "
                            "free space") from None
    return len(rows)


def revoked_rows(decisions: list[dict[str, Any]], lesion_ids: dict[int, str], decided_by: str,
                 decided_at: str) -> list[dict[str, Any]]:
    """``revoked`` rows for the labels whose newest decision a new ROI version does not carry.

    Parameters
    ----------
    decisions : list of dict
        The log's rows and the decisions about to be added, oldest first.
    lesion_ids : dict of int to str
        The new version's lesion VOIs: label -> lesion_id.
    decided_by, decided_at : str
        Who saved, and when (ISO 8601 UTC).

    Returns
    -------
    list of dict
        One row per label whose newest decision (not itself ``revoked``) confirmed another
        lesion_id than the VOI now carries, or whose VOI is gone: ``lesion_id_before`` the
        confirmed ID, ``confirmed_lesion_id`` the ID now ("" when no lesion VOI has the
        label). ``decision_id`` is derived from the revoked decision's, so a retry adds none.
    """
    newest: dict[int, dict[str, Any]] = {}
    for d in decisions:
        newest[int(float(d["followup_label"]))] = d
    out = []
    for label, d in sorted(newest.items()):
        now = lesion_ids.get(label, "")
        if _cell(d.get("decision")) == "revoked" or now == _cell(d.get("confirmed_lesion_id")):
            continue
        out.append({c: "" for c in MATCH_LOG_COLUMNS} | {
            "decision_id": f"{_cell(d.get('decision_id'))}-revoked", "decided_at": decided_at,
            "decided_by": decided_by, "followup_scan": _cell(d.get("followup_scan")),
            "baseline_scan": _cell(d.get("baseline_scan")),
            "baseline_how": _cell(d.get("baseline_how")), "followup_label": label,
            "lesion_id_before": _cell(d.get("confirmed_lesion_id")), "decision": "revoked",
            "confirmed_lesion_id": now})
    return out
