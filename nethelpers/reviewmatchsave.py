"""The reader's matching decisions, saved with the ROI version that carries them, or pending.

A mixin of :class:`nethelpers.review.ReviewSession` (through
:class:`nethelpers.reviewmatch.MatchingMixin`; no Qt). A decision is pending in the scan's
edit state (``ScanState.matches``) until a save: right after the ROI version is written,
the decisions it carries go to the set's ``matches.csv`` (:mod:`nethelpers.reviewmatchlog`),
with a ``revoked`` row for every earlier decision the version no longer carries. When the log
cannot be written (damaged, no permission) the ROI version stays saved and the decisions stay
pending: the scan still counts as unsaved (the dirty check, the close prompt, autosave) and
the next save writes only the log (:meth:`MatchLogMixin._log_matches` with the version
already saved).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from nethelpers.reviewmatchlog import (
    MATCH_LOG_COLUMNS,
    MatchLogError,
    append_match_log,
    read_match_log,
    revoked_rows,
)

__all__ = ["MatchLogMixin"]


class MatchLogMixin:
    """Decisions saved and pending (mixin of the session)."""

    params: Any
    reader: str
    set_reader: str
    current: str
    _scans: dict[str, Any]
    # provided by the session: _warn(text)

    def match_decisions(self, scan_id: str | None = None) -> pd.DataFrame:
        """A scan's decisions: saved (``roi_version`` set), then pending (not saved yet).

        Raises
        ------
        nethelpers.reviewmatchlog.MatchLogError
            The saved log cannot be read (:meth:`pending_decisions` still can).
        """
        scan_id = scan_id or self.current
        saved = read_match_log(self.params.study.rois, scan_id, self.set_reader)
        return pd.concat([saved, self.pending_decisions(scan_id)], ignore_index=True)

    def pending_decisions(self, scan_id: str | None = None) -> pd.DataFrame:
        """A scan's decisions not written to its log yet (:data:`MATCH_LOG_COLUMNS`)."""
        loaded = self._scans.get(scan_id or self.current)
        pending = loaded.state.matches if loaded is not None else []
        rows = pd.DataFrame(pending, columns=list(MATCH_LOG_COLUMNS)).astype(object)
        return rows.fillna("")

    def _log_matches(self, cur: Any, version: Any) -> bool:
        """Write the decisions a just-saved version carries (called by the save).

        Returns
        -------
        bool
            True when nothing is left pending.
        """
        pending = list(cur.state.matches)
        table = cur.state.table
        lesions = table[table["roi"] == "lesion"]
        ids = dict(zip(lesions["label"].astype(int), lesions["lesion_id"].astype(str),
                       strict=True))
        newest = {int(d["followup_label"]): d for d in pending}
        carried = {lab for lab, d in newest.items() if ids.get(lab) == d["confirmed_lesion_id"]}
        dropped = sorted(set(newest) - carried)
        if dropped:
            self._warn(f"{version.scan_id}: matching decision(s) on VOI label(s) "
                       f"{', '.join(map(str, dropped))} not recorded: the VOI was deleted or "
                       "renamed before the save; confirm it again")
        keep = [d for d in pending if int(d["followup_label"]) in carried]
        root = self.params.study.rois
        try:
            saved = read_match_log(root, version.scan_id, self.set_reader)
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            revoked = revoked_rows([*saved.to_dict("records"), *keep], ids, self.reader, now)
            if keep or revoked:
                append_match_log(root, version.scan_id, self.set_reader, [*keep, *revoked],
                                 version.version)
        except MatchLogError as exc:
            if not pending:                  # nothing pending: only the revoked rows wait
                self._warn(f"{exc}; decisions this version no longer carries are not marked "
                           "revoked in it")
                return True
            self._warn(f"{exc}; the decisions stay pending (the scan counts as unsaved) until "
                       "a save writes them")
            return False
        except Exception as exc:  # noqa: BLE001 - the ROI version is saved: never undo that
            self._warn(f"{version.scan_id}: matching decisions not recorded "
                       f"({type(exc).__name__}); they stay pending (the scan counts as "
                       "unsaved) until a save writes them")
            return False
        cur.state.matches = []
        return True
