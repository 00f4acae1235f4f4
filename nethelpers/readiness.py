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
    "REVIEW_COMMAND",
    "TABLE_HELP",
    "Waiting",
    "gist",
    "needs_column",
    "needs_malignant",
    "needs_measurements",
    "needs_reads",
    "needs_reference",
    "needs_results",
    "needs_rows",
    "needs_table",
]

REVIEW_COMMAND = "`nethelpers review -f <parameters file> --patient <patient_id>`"
"""The command that draws and saves a patient's VOIs and calls, for the notes."""

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
                      f"scan with {REVIEW_COMMAND} (or import SEG/RTSTRUCT with "
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


def needs_malignant(cohort: Any, what: str) -> str:
    """Return a note if no lesion is known to be malignant (no lesions table, or none).

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        The loaded cohort.
    what : str
        The analysis of malignant lesions, e.g. ``"the flip-flop pattern"``.

    Returns
    -------
    str
        Empty when the lesions table has a malignant lesion.
    """
    note = needs_table(cohort, "lesions")
    if note:
        return f"{note[:-1]}; {what} is a property of malignant lesions, which it names."
    if cohort.lesions["malignant"].astype("boolean").fillna(False).any():
        return ""
    return _sentence([f"no lesion of the lesions table is malignant (column malignant): {what} "
                      "is a property of malignant lesions, so there is nothing to show"])


def needs_results(frame: pd.DataFrame, *, truth: str, equivocal: str, what: str,
                  fill: str) -> str:
    """Return a note if no row of ``frame`` has both a test result and a known ``truth``.

    The note says why: nothing read, every result indeterminate and excluded by the rule,
    or no reference standard for the rows with a result.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`nethelpers.readings.patient_level` (``test``, ``read``, ``n_equivocal``) or
        :func:`nethelpers.readings.lesion_level` (``test``, ``call``).
    truth : str
        The reference-standard column, e.g. ``"disease_present"`` or ``"malignant"``.
    equivocal : str
        ``index_test.equivocal``: the rule applied to equivocal calls.
    what : str
        The unit in words, e.g. ``"scan"`` or ``"lesion call"``.
    fill : str
        How to provide the truth, e.g. ``"fill disease_present (true/false) in the patients
        table from the reference standard"``.

    Returns
    -------
    str
        Empty when at least one row has both.
    """
    read = frame[frame["read"].astype(bool)] if "read" in frame else frame
    if read.empty:
        return _sentence([f"no {what} has been read yet by the index-test reader: record the "
                          f"calls with {REVIEW_COMMAND} or in the reads table"])
    results = read[read["test"].notna()]
    if results.empty:
        if equivocal == "exclude":
            return _sentence([f"all {len(read)} {what} results were indeterminate (equivocal) "
                              "and are excluded under index_test.equivocal = exclude: the "
                              "section Indeterminate results reports them, with the "
                              "sensitivity analysis under index_test.equivocal_sensitivity"])
        return _sentence([f"no {what} has a result yet: record the calls"])
    if results[truth].notna().any():
        return ""
    return _sentence([f"no {what} with a result has its reference standard ({truth}) yet: "
                      f"{fill}"])


def gist(note: str) -> str:
    """The short form of a note: what is missing, without how to provide it.

    Parameters
    ----------
    note : str
        A note of this module (clauses separated by ``"; "``, each ``what: how``), or a
        note already shortened by :class:`Waiting` (``"Same as … above: gist."``).

    Returns
    -------
    str
        The ``what`` of each clause, e.g. ``"the lesions table has no rows yet; the reads
        table has no rows yet"`` (lower case, no final period).
    """
    if note.startswith("Same as ") and " above: " in note:
        note = note.split(" above: ", 1)[1]
    heads, what, telling_how = [], [], False
    for clause in _split_top(note.strip().rstrip("."), "; "):
        head, *how = _split_top(clause, ": ")
        if telling_how and not how:  # a clause of the how: not a new what
            continue
        what.append(head)
        telling_how = bool(how)
        if how:
            heads.append("; ".join(what))
            what = []
    text = "; ".join(heads + what)
    return text[:1].lower() + text[1:]


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses (at its first occurrence for ": ")."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and i >= start and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            if sep == ": ":
                break
    return [*parts, text[start:]]


class Waiting:
    """Show a notebook's waiting notes, each in full once and then by reference.

    When several sections of a notebook wait for the same input, the first carries the
    full note and the others ``"Same as <first section> above: <gist>."``, both in the
    notebook and in ``tables/analyses_waiting.csv`` (one row per waiting section).

    Parameters
    ----------
    report : nethelpers.report.ReportDir
        The report folder (its :meth:`~nethelpers.report.ReportDir.waiting` records them).
    """

    def __init__(self, report: Any) -> None:
        self.report = report
        self.first: dict[str, str] = {}

    def text(self, section: str, note: str) -> str:
        """The note as recorded for ``section``: full the first time, else by reference."""
        first = self.first.setdefault(note, section)
        if first == section:
            return note
        return f"Same as {first} above: {gist(note)}."

    def __call__(self, section: str, note: str) -> Any:
        """Record that ``section`` waits for ``note``; return the Markdown to display."""
        return self.report.waiting(section, self.text(section, note))


def _sentence(parts: list[str]) -> str:
    if not parts:
        return ""
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."
