"""Review status of a study: which scans have saved ROIs, by whom, with what (notebook 02).

One row per scan: the newest saved version of its ROIs in the ROI store, who saved it and
when, how many lesion VOIs and which reference regions it holds, and how many lesions have a
recorded call. Given the study's PET scans, the scans still waiting for a review are listed
too, and ROIs saved under a scan ID that the scans table does not know are flagged: they are
never measured.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from nethelpers.readiness import REVIEW_COMMAND
from nethelpers.rois import RoiStore

__all__ = ["STATUS_COLUMNS", "review_counts", "review_status"]

STATUS_COLUMNS = ("scan_id", "saved", "version", "reader", "saved_at", "lesion_vois",
                  "references", "calls_recorded", "note")
"""Columns of the review-status table."""

NOT_SAVED = f"no ROIs saved yet: review the scan with {REVIEW_COMMAND}"
UNKNOWN_SCAN = "not in the scans table: these ROIs are never measured (check the scan_id)"


def _saved_row(store: RoiStore, scan_id: str) -> dict[str, object]:
    version = store.latest(scan_id)
    rois = store.load(scan_id, version.version)
    table, reads = rois.table, rois.reads
    calls = reads["call"].astype(object).where(reads["call"].notna(), "").astype(str)
    return {
        "scan_id": scan_id,
        "saved": True,
        "version": version.version,
        "reader": version.reader,
        "saved_at": version.saved_at,
        "lesion_vois": int((table["roi"] == "lesion").sum()),
        "references": ", ".join(sorted(table.loc[table["roi"] != "lesion", "roi"].astype(str))),
        "calls_recorded": int((calls.str.strip() != "").sum()),
        "note": "",
    }


def review_status(store: RoiStore, scan_ids: Iterable[str] | None = None) -> pd.DataFrame:
    """Return the review status of every scan with saved ROIs (and of every study scan).

    Parameters
    ----------
    store : nethelpers.rois.RoiStore
        The study's ROI store (``params.study.rois``).
    scan_ids : iterable of str, optional
        The study's PET scans (e.g. ``[job.scan_id for job in scan_jobs(params, cohort)]``).
        Given, each of them has a row (``saved`` False for a scan not reviewed yet) and a
        saved scan outside them is flagged in ``note``.

    Returns
    -------
    pandas.DataFrame
        :data:`STATUS_COLUMNS`, one row per scan sorted by ``scan_id``: ``saved`` (bool),
        ``version`` (Int64, missing when not saved), ``reader``, ``saved_at`` (ISO 8601 UTC),
        ``lesion_vois``, ``references`` (reference regions, comma-separated),
        ``calls_recorded`` (lesions with a visual call) and ``note``. Empty (with the
        columns) when nothing is saved and no scan is given.
    """
    saved = store.scans()
    known = None if scan_ids is None else {str(s) for s in scan_ids}
    rows = []
    for scan_id in sorted(set(saved) | (known or set())):
        if scan_id in saved:
            row = _saved_row(store, scan_id)
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


def review_counts(status: pd.DataFrame) -> dict[str, int]:
    """Count the study's reviewed scans and their lesion VOIs (for the notebook's summary).

    Parameters
    ----------
    status : pandas.DataFrame
        :func:`review_status` given the study's scans.

    Returns
    -------
    dict
        ``"Scans with saved ROIs"`` and ``"Lesion VOIs"`` over the study's scans only, and
        ``"Scans with saved ROIs not in the scans table"`` (never measured) when there are
        any.
    """
    unknown = status["note"] == UNKNOWN_SCAN
    study = status[status["saved"] & ~unknown]
    counts = {"Scans with saved ROIs": len(study),
              "Lesion VOIs": int(study["lesion_vois"].sum())}
    if unknown.any():
        counts["Scans with saved ROIs not in the scans table"] = int(unknown.sum())
    return counts
