"""Saving in the review dock: save (with conflicts), autosave, restore, the version list.

Every save goes through the session to the ROI store (atomic, versioned); a save that meets
a newer version asks the reader (``ask_conflict``: reload or keep both), autosave skips it.
"""

from __future__ import annotations

from typing import Any

from nethelpers.rois import RoiConflictError
from nethelpers.viewer._qt.scanswitch import scan_label

__all__ = ["SavingMixin"]


class SavingMixin:
    """Save, autosave, restore and the versions combo (part of the dock)."""

    def dirty_scans(self) -> list[str]:
        """Scans with unsaved edits."""
        return self.session.dirty_scans()

    def _reload_scan(self, scan_id: str) -> None:
        """Drop a scan's unsaved edits and load its newest version."""
        self.session.reload(scan_id)

    def _save_scan(self, scan_id: str, note: str) -> str:
        """Save one scan, resolving a conflict with :attr:`ask_conflict`.

        Returns ``"saved"``, ``"unchanged"``, ``"reloaded"`` or ``"cancelled"``.
        """
        s = self.session
        home = s.current
        s.open_scan(scan_id)                # edited, hence loaded: cannot fail
        log_only = s.log_only(scan_id)      # saved; only its matching decisions wait
        try:
            try:
                version = s.save(note)
            except RoiConflictError as exc:
                answer = self.ask_conflict(scan_id, exc)
                if answer == "keep":
                    version = s.save_anyway(note or "kept both: saved over a newer version")
                elif answer == "reload":
                    self._reload_scan(scan_id)
                    self.message(f"{scan_id}: reloaded the newest version; your edits "
                                 "of this scan were dropped")
                    return "reloaded"
                else:
                    self.message(f"{scan_id}: not saved (a newer version exists)")
                    return "cancelled"
        finally:
            s.open_scan(home)
        if log_only:
            self.message(f"{scan_id}: matching decisions recorded with v{version.version}"
                         if version is not None else f"{scan_id}: matching decisions still "
                         "not recorded (see the warning); they stay unsaved")
            return "saved" if version is not None else "unchanged"
        if version is None:
            return "unchanged"
        waiting = ("; its matching decisions are not recorded yet (see the warning)"
                   if s.log_only(scan_id) else "")
        self.message(f"{scan_id}: saved as v{version.version}{waiting}")
        return "saved"

    def save(self, note: str | None = None) -> bool:
        """Save every scan with unsaved edits (this one first); True when none is left."""
        note = self.note_edit.text().strip() if note is None else note
        self.push_brush()
        order = sorted(self.dirty_scans(), key=lambda sid: sid != self.session.current)
        if not order:
            self.message("nothing to save")
            return True
        results = [self._save_scan(sid, note) for sid in order]
        if "reloaded" in results:
            self.show_scan()
        else:
            self.refresh_table()
            self.refresh_versions()
            if self.matching_shown():          # decisions now "saved vN"
                self.refresh_matching(self.match_panel_label())
        if "cancelled" not in results:
            self.note_edit.clear()
        return not self.dirty_scans()

    def autosave(self) -> list[Any]:
        """Save every scan with unsaved edits (note "autosave"); conflicts wait for Save."""
        self.push_brush()
        if not self.session.dirty:
            return []
        saved, conflicts = self.session.autosave()
        if saved:
            self.message(f"autosaved {', '.join(v.scan_id for v in saved)}")
        for scan_id in conflicts:
            self.message(f"autosave skipped {scan_id}: someone saved it meanwhile — press "
                         "Save to choose")
        self.refresh_versions()
        if saved and self.matching_shown():        # decisions now "saved vN"
            self.refresh_matching(self.match_panel_label())
        return saved

    def set_autosave(self, seconds: float) -> None:
        """Autosave interval in seconds (0: off)."""
        self.autosave_timer.stop()
        if seconds and seconds > 0:
            self.autosave_timer.start(int(seconds * 1000))

    def restore(self, version: int | None = None) -> bool:
        """Bring back an earlier version of this scan (saved as the newest)."""
        self.push_brush()
        if version is None:
            version = self.version_combo.currentData()
        if version is None:
            self.message("no saved version to restore")
            return False
        s = self.session
        if s.current in self.dirty_scans() and not self.ask_confirm(
                "Restore", f"Restore v{version} of {s.current}? Unsaved edits of this scan "
                "are dropped."):
            return False
        try:
            restored = s.restore(int(version))
        except RoiConflictError as exc:
            self.message(f"restore refused: {exc}")
            return False
        self.show_scan()
        self.message(f"{s.current}: v{version} restored as v{restored.version}")
        return True

    def refresh_versions(self) -> None:
        """The saved versions of this scan (newest first) for Restore."""
        history = self.session.history()
        self.version_combo.clear()
        for rec in history.iloc[::-1].itertuples():
            note = f" · {rec.note}" if isinstance(rec.note, str) and rec.note else ""
            self.version_combo.addItem(f"v{rec.version} · {rec.reader} · {rec.saved_at}{note}",
                                       int(rec.version))
        self.restore_button.setEnabled(len(history) > 1)
        self._mark_dirty_scans()

    def _mark_dirty_scans(self) -> None:
        dirty = set(self.dirty_scans())
        for i in range(self.scan_combo.count()):
            sid = self.scan_combo.itemData(i)
            flag = "  • unsaved" if sid in dirty else ""
            self.scan_combo.setItemText(i, scan_label(sid, self.session.jobs[sid]) + flag)
