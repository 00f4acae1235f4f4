"""Saving a review session: the current scan, every edited scan, autosave, restore.

A mixin of :class:`nethelpers.review.ReviewSession`. Saves go into the session's set
(``set_reader``: the reader's own, or the consensus with the adjudicator as ``saved_by``),
conditioned on the version the edits started from (:class:`~nethelpers.rois.RoiConflictError`
when someone saved the set since). Lesion-matching decisions a saved version carries are
written right after it into the set's ``matches.csv`` (:mod:`nethelpers.reviewmatchsave`);
when that write fails they stay pending, the scan counts as unsaved, and the next save (or
autosave) writes only the log, with the version already saved.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers.reviewscan import LoadedScan
from nethelpers.rois import RoiConflictError, RoiStore, RoiVersion

__all__ = ["SavingMixin"]


class SavingMixin:
    """Saving the session's scans (mixin of ``ReviewSession``)."""

    reader: str
    set_reader: str
    current: str
    store: RoiStore
    _scans: dict[str, Any]
    _cur: Any
    # provided by the session: reload(scan_id), _log_matches(cur, version) (reviewmatchsave)

    # -- saving ------------------------------------------------------------------------------
    def save(self, note: str = "") -> RoiVersion | None:
        """Save the current scan's ROIs and reads as a new version (None if nothing changed).

        A scan whose last save could not write its matching decisions (:meth:`log_only`)
        writes only them, with the version already saved (returned; None: still pending).

        Raises
        ------
        nethelpers.rois.RoiConflictError
            Someone saved this scan since it was opened; nothing is lost: reload, or
            :meth:`save_anyway` to keep both.
        """
        cur = self._cur
        if not cur.dirty:
            return self._retry_match_log(cur) if cur.unsaved else None
        return self._save(cur, note, cur.parent)

    def log_only(self, scan_id: str | None = None) -> bool:
        """Whether a scan's only unsaved work is matching decisions its log did not take."""
        cur = self._scans.get(scan_id or self.current)
        return cur is not None and cur.unsaved and not cur.dirty

    def _retry_match_log(self, cur: LoadedScan) -> RoiVersion | None:
        """Write the pending decisions with the version saved (None: they stay pending)."""
        if cur.version is None or not self._log_matches(cur, cur.version):
            return None
        return cur.version

    def _save_or_log(self, cur: LoadedScan, note: str) -> RoiVersion | None:
        return (self._save(cur, note, cur.parent) if cur.dirty
                else self._retry_match_log(cur))

    def save_anyway(self, note: str = "") -> RoiVersion:
        """Save as the newest version even if someone saved in between (both are kept)."""
        return self._save(self._cur, note or "saved over a newer version", None)

    def _save(self, cur: LoadedScan, note: str, parent: int | None) -> RoiVersion:
        image = sitk.GetImageFromArray(cur.state.labels)
        image.CopyInformation(cur.images.pet)
        version = self.store.save(cur.images.job.scan_id, image, cur.state.table,
                                  reader=self.set_reader, note=note, parent=parent,
                                  reads=cur.state.reads, series_uid=cur.images.series_uid,
                                  saved_by=self.reader)
        cur.version = version
        cur.dirty = False
        loaded = self.store.load(cur.images.job.scan_id, version.version,
                                 reader=self.set_reader)
        cur.state.table = loaded.table.copy()            # times filled in by the store
        self._log_matches(cur, version)          # matching decisions this version carries
        return version

    def save_all(self, note: str = "") -> list[RoiVersion]:
        """Save every scan with unsaved edits (a conflict raises, as in :meth:`save`)."""
        saved = [self._save_or_log(cur, note) for cur in self._scans.values() if cur.unsaved]
        return [v for v in saved if v is not None]

    def autosave(self, note: str = "autosave") -> tuple[list[RoiVersion], list[str]]:
        """Save every edited scan that nobody else saved meanwhile.

        Returns
        -------
        list of RoiVersion
            The versions saved.
        list of str
            Scans skipped because of a conflict (they stay unsaved, for the reader to decide).
        """
        saved, conflicts = [], []
        for scan_id, cur in self._scans.items():
            if not cur.unsaved:
                continue
            try:
                version = self._save_or_log(cur, note)
            except RoiConflictError:
                conflicts.append(scan_id)
                continue
            if version is not None:
                saved.append(version)
        return saved, conflicts

    def restore(self, version: int) -> RoiVersion:
        """Bring back an earlier version of the current scan (saved as the newest).

        Raises
        ------
        nethelpers.rois.RoiConflictError
            Someone saved the scan since it was opened: reload first.
        """
        scan_id = self.current
        cur = self._cur
        restored = self.store.restore(scan_id, version, reader=self.set_reader,
                                      parent=cur.parent, saved_by=self.reader)
        self.reload(scan_id)
        return restored

    def history(self) -> pd.DataFrame:
        """Saved versions of the current scan (this reader's set)."""
        return self.store.history(self.current, reader=self.set_reader)
