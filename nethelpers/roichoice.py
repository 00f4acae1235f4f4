"""Which reader's ROI set of a scan to measure or show, when several readers drew one.

Each reader keeps their own ROI set of a scan (:mod:`nethelpers.roistore`). Whoever measures
(quantify) or shows (the gallery, the browser, the review status) one set per scan takes the
set of a named reader, by default the index-test reader (``index_test.reader``). A scan that
reader drew nothing on (the consensus, as a rule: it is made of calls) falls back to the
newest set of the first other reader, in the order of their names, that holds ROIs -- never
by save time, so which VOIs are measured does not change when someone saves -- and says so
in a note: the numbers are then another reader's, which the caller states. Without a
reader, the first reader's set in that order.
"""

from __future__ import annotations

from nethelpers.roistore import RoiStore
from nethelpers.roitables import RoiSet

__all__ = ["fallback_note", "roi_set_for"]


def fallback_note(reader: str, other: str, version: int) -> str:
    """The note of a scan measured or shown on another reader's set than the one asked for."""
    return (f"reader {reader} drew no ROIs on this scan; used reader {other}'s newest set "
            f"(v{version})")


def roi_set_for(store: RoiStore, scan_id: str, reader: str | None) -> tuple[RoiSet | None, str]:
    """The ROI set of a scan to use: the reader's newest, else the first other reader's.

    Parameters
    ----------
    store : RoiStore
        The ROI store.
    scan_id : str
        The scan.
    reader : str, optional
        Whose set (the index-test reader, as a rule); None: the newest set of any reader.

    Returns
    -------
    RoiSet or None
        None when no reader saved ROIs on the scan. A reader's newest set that holds no ROI
        (all deleted) is used only when no other reader's set holds one.
    str
        :func:`fallback_note` when the reader drew none here and another reader's set is
        used instead; else empty.

    Raises
    ------
    RoiStoreError
        The chosen version cannot be read (a file changed since it was saved, ...).
    """
    own = store.latest(scan_id, reader=reader) if reader is not None else None
    mine = store.load(scan_id, own.version, reader=reader) if own is not None else None
    if mine is not None and not mine.table.empty:
        return mine, ""
    # a fixed order (the readers' names), never the save time: which VOIs are measured must
    # not change because someone saved a scan
    others = sorted((v for r in store.readers(scan_id) if r != reader
                     if (v := store.latest(scan_id, reader=r)) is not None),
                    key=lambda v: (v.reader.casefold(), v.reader))
    first = None
    for version in others:
        rois = store.load(scan_id, version.version, reader=version.reader)
        note = fallback_note(reader, version.reader, version.version) if reader else ""
        if not rois.table.empty:
            return rois, note
        first = first or (rois, note)
    if mine is not None:
        return mine, ""                                      # empty, but the reader's own
    return first or (None, "")                               # every set empty: the first
