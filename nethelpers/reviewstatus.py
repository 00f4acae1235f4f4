"""Review status of a study: which scans have saved ROIs, by whom, with what (notebook 02).

One row per scan: the newest saved version of its ROIs in the ROI store (of the reader
asked for, as a rule the index-test reader; else the newest set of any reader, noted), whose
set it is and when it was saved, how many lesion VOIs and which reference regions it holds,
and how many lesions have a recorded call. Given the study's PET scans, the scans still
waiting for a review are listed too, and ROIs saved under a scan ID that the scans table does
not know are flagged: they are never measured. A scan whose saved ROIs cannot be read (a file
changed since it was saved) is listed as failed with the reason, and the others go on:
:func:`review_failures` makes the table of the scans that could not be reviewed,
:func:`failures_note` its line of text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from nethelpers.readiness import REVIEW_COMMAND
from nethelpers.roichoice import roi_set_for
from nethelpers.rois import RoiStore, RoiStoreError

__all__ = ["FAILED_COLUMNS", "STATUS_COLUMNS", "failures_note", "review_counts",
           "review_failures", "review_status"]

STATUS_COLUMNS = ("scan_id", "saved", "version", "reader", "saved_at", "lesion_vois",
                  "references", "calls_recorded", "note")
"""Columns of the review-status table."""

NOT_SAVED = f"no ROIs saved yet: review the scan with {REVIEW_COMMAND}"
UNKNOWN_SCAN = "not in the scans table: these ROIs are never measured (check the scan_id)"
FAILED = "failed: "
"""Start of the note of a scan whose saved ROIs cannot be read."""

FAILED_COLUMNS = ("scan_id", "patient_id", "tracer", "modality", "status", "reason")
"""Columns of the table of scans that could not be reviewed (``review_failed.csv``)."""


def _called_lesions(reads: pd.DataFrame) -> set[str]:
    """Lesion IDs with a non-blank visual call in a reads table."""
    if reads is None or reads.empty or "call" not in reads or "lesion_id" not in reads:
        return set()
    calls = reads["call"].astype(object).where(reads["call"].notna(), "").astype(str)
    return set(reads.loc[calls.str.strip() != "", "lesion_id"].astype(str))


def _study_calls(reads: pd.DataFrame | None) -> dict[str, set[str]]:
    """Per scan, the lesions with a call in the study's reads table (``cohort.reads``)."""
    if reads is None or reads.empty or "scan_id" not in reads:
        return {}
    return {str(scan): _called_lesions(part) for scan, part in reads.groupby("scan_id")}


def _saved_row(store: RoiStore, scan_id: str, study_calls: set[str] | None = None,
               reader: str | None = None) -> dict[str, object]:
    rois, note = roi_set_for(store, scan_id, reader)
    if rois is None or rois.version is None:           # removed since store.scans() listed it
        raise RoiStoreError(f"{scan_id} in the ROI store: no saved ROIs any more")
    version, table = rois.version, rois.table
    called = _called_lesions(rois.reads) | (study_calls or set())
    return {
        "scan_id": scan_id,
        "saved": True,
        "version": version.version,
        "reader": version.reader,
        "saved_at": version.saved_at,
        "lesion_vois": int((table["roi"] == "lesion").sum()),
        "references": ", ".join(sorted(table.loc[table["roi"] != "lesion", "roi"].astype(str))),
        "calls_recorded": len(called),
        "note": note,
    }


def _failed_row(store: RoiStore, scan_id: str, reason: str,
                reader: str | None = None) -> dict[str, object]:
    try:
        newest = (reader is not None and store.latest(scan_id, reader=reader)) or \
            store.latest(scan_id)
    except RoiStoreError:                       # its metadata cannot be read either
        newest = None
    row: dict[str, object] = {"scan_id": scan_id, "saved": True, "version": pd.NA,
                              "reader": "", "saved_at": "", "lesion_vois": 0,
                              "references": "", "calls_recorded": 0, "note": FAILED + reason}
    if newest is not None:
        row |= {"version": newest.version, "reader": newest.reader,
                "saved_at": newest.saved_at}
    return row


def _redacted(text: str) -> str:
    from nethelpers.plots.gallery import redact_paths

    return redact_paths(text)


def review_status(store: RoiStore, scan_ids: Iterable[str] | None = None, *,
                  failed: dict[str, str] | None = None,
                  shown: Callable[[str], str] | None = None,
                  reads: pd.DataFrame | None = None,
                  reader: str | None = None) -> pd.DataFrame:
    """Return the review status of every scan with saved ROIs (and of every study scan).

    Parameters
    ----------
    store : nethelpers.rois.RoiStore
        The study's ROI store (``params.study.rois``).
    scan_ids : iterable of str, optional
        The study's PET scans (e.g. ``[job.scan_id for job in scan_jobs(params, cohort)]``).
        Given, each of them has a row (``saved`` False for a scan not reviewed yet) and a
        saved scan outside them is flagged in ``note``.
    failed : dict, optional
        Given, a scan whose newest saved version cannot be read is listed (``note``
        ``"failed: <reason>"``, no counts) and recorded here (``scan_id → reason``); else
        the :class:`~nethelpers.rois.RoiStoreError` is raised.
    shown : callable, optional
        Turns a failure's message into what a report may show
        (:class:`nethelpers.scanjobs.ShownText`); default: absolute paths removed.
    reads : pandas.DataFrame, optional
        The study's reads table (``cohort.reads``: ``scan_id``, ``lesion_id``, ``call``).
        The calls of a study usually live there, not in the ROI store (whose ``reads.csv``
        holds only the calls saved from the viewer); without it, ``calls_recorded`` counts
        the store's calls only, which is 0 for a study whose reads come from its tables.
    reader : str, optional
        Whose ROI set each row shows (e.g. ``params.index_test.reader``); a scan that reader
        drew nothing on shows the newest set of another reader, said in ``note``
        (:func:`nethelpers.roichoice.roi_set_for`). Default: the newest set of any reader.

    Returns
    -------
    pandas.DataFrame
        :data:`STATUS_COLUMNS`, one row per scan sorted by ``scan_id``: ``saved`` (bool),
        ``version`` (Int64, missing when not saved), ``reader``, ``saved_at`` (ISO 8601 UTC),
        ``lesion_vois``, ``references`` (reference regions, comma-separated),
        ``calls_recorded`` (lesions of the scan with a visual call by any reader, in the
        store's reads or in ``reads``) and ``note``. Empty (with the
        columns) when nothing is saved and no scan is given.
    """
    saved = store.scans()
    known = None if scan_ids is None else {str(s) for s in scan_ids}
    rows = []
    calls = _study_calls(reads)
    for scan_id in sorted(set(saved) | (known or set())):
        if scan_id in saved:
            try:
                row = _saved_row(store, scan_id, calls.get(scan_id), reader)
            except RoiStoreError as exc:
                if failed is None:
                    raise
                failed[scan_id] = f"RoiStoreError: {(shown or _redacted)(str(exc))}"
                row = _failed_row(store, scan_id, failed[scan_id], reader)
            if known is not None and scan_id not in known:
                row["note"] = UNKNOWN_SCAN
        else:
            row = {"scan_id": scan_id, "saved": False, "version": pd.NA, "reader": "",
                   "saved_at": "", "lesion_vois": 0, "references": "", "calls_recorded": 0,
                   "note": NOT_SAVED}
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
    return out.astype({"saved": bool, "version": "Int64", "lesion_vois": int,
                       "calls_recorded": int})


def review_counts(status: pd.DataFrame, failures: pd.DataFrame | None = None
                  ) -> dict[str, int]:
    """Count the study's reviewed scans and their lesion VOIs (for the notebook's summary).

    Parameters
    ----------
    status : pandas.DataFrame
        :func:`review_status` given the study's scans.
    failures : pandas.DataFrame, optional
        :func:`review_failures`.

    Returns
    -------
    dict
        ``"Scans with saved ROIs"`` (readable) and ``"Lesion VOIs"`` over the study's scans
        only; ``"Scans with saved ROIs not in the scans table"`` (never measured) and
        ``"Scans that could not be reviewed"`` when there are any.
    """
    unknown = status["note"] == UNKNOWN_SCAN
    broken = status["note"].astype(str).str.startswith(FAILED)
    study = status[status["saved"] & ~unknown & ~broken]
    counts = {"Scans with saved ROIs": len(study),
              "Lesion VOIs": int(study["lesion_vois"].sum())}
    if unknown.any():
        counts["Scans with saved ROIs not in the scans table"] = int(unknown.sum())
    if failures is not None and len(failures):
        counts["Scans that could not be reviewed"] = len(failures)
    return counts


def review_failures(failed: Mapping[str, str], jobs: Sequence[Any] = ()) -> pd.DataFrame:
    """The table of the scans that could not be reviewed, one row per scan with the reason.

    Parameters
    ----------
    failed : mapping
        ``scan_id → reason`` (from :func:`review_status` and
        :func:`nethelpers.plots.gallery.study_gallery`).
    jobs : sequence of nethelpers.scanjobs.ScanJob
        The study's PET scans (patient, tracer and modality of each row).

    Returns
    -------
    pandas.DataFrame
        :data:`FAILED_COLUMNS`, sorted by ``scan_id``, ``status`` ``"failed"``; empty (with
        the columns) when every scan could be reviewed.
    """
    by_scan = {job.scan_id: job for job in jobs}
    rows = []
    for scan_id in sorted(failed):
        job = by_scan.get(scan_id)
        rows.append({"scan_id": scan_id, "patient_id": job.patient_id if job else "",
                     "tracer": job.tracer if job else "",
                     "modality": job.modality if job else "", "status": "failed",
                     "reason": failed[scan_id]})
    return pd.DataFrame(rows, columns=list(FAILED_COLUMNS))


def failures_note(failures: pd.DataFrame, table: str = "review_failed.csv") -> str:
    """One line of Markdown on the scans that could not be reviewed.

    Parameters
    ----------
    failures : pandas.DataFrame
        :func:`review_failures`.
    table : str
        Where the table is saved (named in the line).

    Returns
    -------
    str
        E.g. ``"**2 scans could not be reviewed** (P002-FDG-PETCT, ...): ..."``.
    """
    if failures.empty:
        return "Every PET scan with saved ROIs could be read for the review."
    n = len(failures)
    scans = ", ".join(failures["scan_id"].astype(str))
    return (f"**{n} scan{'s' if n > 1 else ''} could not be reviewed** ({scans}): "
            f"{'they are' if n > 1 else 'it is'} left out of the gallery, with the reason in "
            f"`{table}`; the other scans are reviewed as usual.")
