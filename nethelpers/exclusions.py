"""What was left out of an analysis, and why: one table for the console and the report.

Patients and scans leave an analysis at two stages: the data checks of the study tables
(:func:`nethelpers.cohort.load_cohort`: a duplicated ID, a scan of an unknown patient, …) and
the quantification (:func:`nethelpers.quantify.quantify_cohort`: a PET that cannot be read,
no ROIs saved yet, a SPECT scan that is not measured). :func:`exclusion_table` puts both in
one table, as STARD 2015 items 16 (missing data) and 19 (flow of participants) ask;
:func:`format_exclusions` prints it for the ``quantify`` and ``report`` commands.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["EXCLUSION_COLUMNS", "exclusion_table", "format_exclusions"]

EXCLUSION_COLUMNS = ("stage", "what", "id", "status", "reason")
"""Columns of :func:`exclusion_table`."""

_CASCADE = r" was excluded$"  # a row that left with its patient or scan (listed there)


def exclusion_table(cohort_exclusions: pd.DataFrame | None,
                    qc: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per patient or scan left out, with the stage and the reason.

    Parameters
    ----------
    cohort_exclusions : pandas.DataFrame, optional
        ``Cohort.exclusions`` (``what, id, reason, action, source``). Every row is listed
        (patients, scans, lesions and reads excluded; values set to missing) except the
        rows that only followed an excluded patient, scan or lesion.
    qc : pandas.DataFrame, optional
        ``QuantifyResult.qc``: every scan that failed or was skipped (the rows of scans
        the data checks excluded repeat them and are not listed again).

    Returns
    -------
    pandas.DataFrame
        :data:`EXCLUSION_COLUMNS`: ``stage`` is ``data checks`` or ``quantification``,
        ``status`` is ``excluded``, ``set to missing``, ``failed`` or ``skipped``.
    """
    rows = []
    listed: set[str] = set()
    if cohort_exclusions is not None and len(cohort_exclusions):
        ex = cohort_exclusions
        keep = ~ex["reason"].astype(str).str.contains(_CASCADE)
        for rec in ex[keep].itertuples(index=False):
            source = f" ({rec.source})" if str(rec.source) else ""
            rows.append({"stage": "data checks", "what": rec.what, "id": rec.id,
                         "status": rec.action, "reason": f"{rec.reason}{source}"})
            if rec.what == "scan":
                listed.add(str(rec.id))
    if qc is not None and len(qc):
        # status "excluded" repeats the data checks (the scan or its patient, listed above)
        for rec in qc[qc["status"].isin(["failed", "skipped"])].itertuples(index=False):
            if str(rec.scan_id) in listed:
                continue
            rows.append({"stage": "quantification", "what": "scan", "id": rec.scan_id,
                         "status": rec.status, "reason": rec.reason})
    return pd.DataFrame(rows, columns=list(EXCLUSION_COLUMNS)).astype("string")


def format_exclusions(table: pd.DataFrame, limit: int = 30, width: int = 110) -> str:
    """Text table of :func:`exclusion_table` for a terminal (empty string if nothing).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`exclusion_table`.
    limit : int
        Rows shown; the rest are counted.
    width : int
        Characters of a reason shown before it is cut with "…".

    Returns
    -------
    str
        A heading with the counts by stage and status, then one line per row.
    """
    if table.empty:
        return ""
    counts = table.groupby(["stage", "status"], sort=False).size()
    head = "left out: " + ", ".join(f"{n} {status} ({stage})"
                                   for (stage, status), n in counts.items())
    lines = [head]
    for rec in table.head(limit).itertuples(index=False):
        reason = str(rec.reason)
        reason = reason if len(reason) <= width else reason[:width - 1] + "…"
        lines.append(f"  {rec.status:<8} {rec.what:<7} {rec.id}: {reason}")
    if len(table) > limit:
        lines.append(f"  … and {len(table) - limit} more (see the exclusions table)")
    return "\n".join(lines)
