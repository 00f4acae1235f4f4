"""What an analysis still waits for: the notes a report shows instead of a section.

A study grows into its report: first the scans, then the ROIs, then the reference-standard
truth and the readers' calls. Every notebook section checks its inputs with the functions
below; each returns an empty string when the section can run, else one sentence naming what
is missing and how to provide it. The notebook then shows the note (recorded by
:meth:`nethelpers.report.ReportDir.waiting` for ``index.html``) and goes on with the next
section, so a report always completes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

__all__ = [
    "TABLE_HELP",
    "needs_column",
    "needs_measurements",
    "needs_reads",
    "needs_reference",
    "needs_rows",
    "needs_table",
]

TABLE_HELP = {
    "lesions": ("one row per lesion, shared by every scan of a patient, with its "
                "reference-standard truth (columns patient_id, lesion_id, truth, malignant; "
                "optional site, diameter_mm, reference_standard)"),
    "reads": ("one row per scan × lesion × reader with the visual call (columns scan_id, "
              "lesion_id, reader, call; optional krenning, confidence, cause)"),
}
"""What each optional table holds, for the notes."""


def needs_table(cohort: Any, *names: str) -> str:
    """Return a note if any of the optional tables ``names`` is missing or empty.

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        The loaded cohort.
    *names : str
        ``"lesions"`` and/or ``"reads"``.

    Returns
    -------
    str
        Empty when every table has rows; else e.g. ``"the lesions table
        (truth/lesions.csv) is not there yet: …"``.
    """
    notes = []
    for name in names:
        where = cohort.missing.get(name)
        if where is not None:
            notes.append(f"the {name} table ({where}) is not there yet: add it with "
                         f"{TABLE_HELP[name]}; its path is study.tables.{name} of the "
                         "parameters")
        elif getattr(cohort, name).empty:
            notes.append(f"the {name} table has no rows yet: fill it with {TABLE_HELP[name]}")
    return _sentence(notes)


def needs_reads(cohort: Any, reader: str) -> str:
    """Return a note if there is no truth or no read by the index-test ``reader``.

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        The loaded cohort.
    reader : str
        ``index_test.reader`` of the parameters.

    Returns
    -------
    str
        Empty when the lesions table has rows and ``reader`` read at least one scan.
    """
    note = needs_table(cohort, "lesions", "reads")
    if note:
        return note
    if not (cohort.reads["reader"].astype(str) == reader).any():
        found = sorted(set(cohort.reads["reader"].astype(str)))
        return _sentence([f"the reads table has no read by reader {reader!r} (readers "
                          f"found: {', '.join(found)}): set index_test.reader in the "
                          "parameters to the reader whose calls are the index test"])
    return ""


def needs_column(frame: pd.DataFrame, column: str, what: str, how: str) -> str:
    """Return a note if ``column`` of ``frame`` has no value at all.

    Parameters
    ----------
    frame : pandas.DataFrame
        A study table (e.g. the patients).
    column : str
        The column needed.
    what : str
        What the rows are, e.g. ``"patients"``.
    how : str
        How to provide it, e.g. ``"fill disease_present (true/false) in patients.csv"``.

    Returns
    -------
    str
        Empty when at least one row has a value.
    """
    if column in frame.columns and frame[column].notna().any():
        return ""
    return _sentence([f"no {what} has a {column} yet: {how}"])


def needs_rows(frame: pd.DataFrame, what: str, how: str) -> str:
    """Return a note if ``frame`` is empty.

    Parameters
    ----------
    frame : pandas.DataFrame
        The input of a section (e.g. the pairs of two scan types).
    what : str
        What is missing, e.g. ``"no patient had both a DOTATATE and an FDG PET/CT read"``.
    how : str
        How it comes about, e.g. ``"read both scans of a patient"``.

    Returns
    -------
    str
        Empty when ``frame`` has rows.
    """
    return "" if len(frame) else _sentence([f"{what}: {how}"])


def needs_measurements(measurements: pd.DataFrame, qc: pd.DataFrame | None = None) -> str:
    """Return a note if no scan has been measured.

    Parameters
    ----------
    measurements : pandas.DataFrame
        ``QuantifyResult.measurements``.
    qc : pandas.DataFrame, optional
        ``QuantifyResult.qc``: counts the scans without saved ROIs and the failures.

    Returns
    -------
    str
        Empty when at least one ROI was measured.
    """
    if len(measurements):
        return ""
    detail = ""
    if qc is not None and len(qc):
        counts = qc["status"].value_counts()
        detail = " (" + ", ".join(f"{n} {status}" for status, n in counts.items()) + ")"
    return _sentence([f"no scan has been measured yet{detail}: draw and save the VOIs of each "
                      "scan with `nethelpers review` (or import SEG/RTSTRUCT with "
                      "`nethelpers rois import`), then run the report again"])


def needs_reference(measurements: pd.DataFrame, regions: Iterable[str] = ("liver",)) -> str:
    """Return a note if no scan has a VOI of the reference ``regions``.

    Parameters
    ----------
    measurements : pandas.DataFrame
        ``QuantifyResult.measurements`` (column ``roi``).
    regions : iterable of str
        Reference regions needed, e.g. ``("liver",)`` or ``("liver", "spleen")``.

    Returns
    -------
    str
        Empty when every region has at least one VOI.
    """
    rois = set(measurements["roi"].astype(str)) if "roi" in measurements else set()
    lacking = [r for r in regions if r not in rois]
    if not lacking:
        return ""
    return _sentence([f"no scan has a {' or '.join(lacking)} reference VOI yet: draw it in "
                      "the review widget (the liver reference is a 3 cm sphere in the right "
                      "lobe); T/B ratios, positivity, Krenning and NETPET are computed "
                      "against it"])


def _sentence(parts: list[str]) -> str:
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
