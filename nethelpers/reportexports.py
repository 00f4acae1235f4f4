"""What the report runner writes after the notebooks: STARD 21b/22 tables and the exports.

:func:`write_stard_tables` writes the tables of STARD 2015 items 21b and 22 from the checked
study tables (before ``index.html``, whose checklist links them). :func:`make_exports` writes,
after ``index.html`` of a complete run, ``methods.md`` (always), ``tables.docx`` and
``report.pdf`` (``report.exports``), timing each; one that fails, or is skipped because
Chromium is missing, is recorded with its note and never breaks the report.
:func:`export_notes` reads those records back from ``provenance.json`` for the console.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

from nethelpers.reportdir import ReportDir

__all__ = ["export_notes", "make_exports", "write_stard_tables"]


def write_stard_tables(run: Any) -> None:
    """Tables of STARD 21b and 22 from the run's checked study tables (``run.cohort``).

    Parameters
    ----------
    run : nethelpers.report._Run
        The report run (its cohort, folder, parameters and pseudonymiser).
    """
    from nethelpers.stard import stard_tables

    if run.cohort is None:
        return
    folder = ReportDir(run.out, run.params, run.privacy)
    cohort = run.cohort
    try:
        tables = stard_tables(cohort.patients, cohort.scans, cohort.lesions)
    except Exception as exc:  # the checklist then marks items 21b and 22 as not there
        warnings.warn(f"STARD 21b/22 tables not written: {type(exc).__name__}: "
                      f"{run.privacy.text(str(exc))}", stacklevel=3)
        return
    for name, table in tables.items():
        folder.table(table, name)


def _export_steps(run: Any) -> list[tuple[str, Any]]:
    """(name, make) of every export of the run, in order; ``make()`` returns the file."""
    from nethelpers.exportdocx import export_docx
    from nethelpers.exportpdf import export_pdf
    from nethelpers.methods import methods_paragraph, write_methods

    study = run.params.study.name
    steps: list[tuple[str, Any]] = [("methods", lambda: write_methods(run.params, run.out))]
    if "docx" in run.params.report.exports:
        steps.append(("docx", lambda: export_docx(
            run.out, f"{study}: tables", methods_paragraph(run.params, run.out),
            group_labels=run.params.vocabulary.group_labels)))
    if "pdf" in run.params.report.exports:
        steps.append(("pdf", lambda: export_pdf(run.out, run.done,
                                                title=f"{study}: statistical report")))
    return steps


def make_exports(run: Any) -> None:
    """Make the exports of a run into ``run.exports``; never raise.

    Parameters
    ----------
    run : nethelpers.report._Run
        A complete run whose ``index.html`` is written. Each export's record is
        ``status`` (ok, skipped, failed), ``file``, ``note`` and ``seconds``.
    """
    from nethelpers.exportpdf import ChromiumMissing

    for name, make in _export_steps(run):
        start = time.perf_counter()
        record: dict[str, Any] = {"status": "ok", "file": None, "note": None}
        try:
            record["file"] = make().name
        except ChromiumMissing as exc:
            record.update(status="skipped", note=str(exc))
        except Exception as exc:  # an export never breaks the report: it is listed
            record.update(status="failed", note=f"{type(exc).__name__}: {exc}")
        record["seconds"] = round(time.perf_counter() - start, 1)
        run.exports[name] = run.privacy.json(record)
        if record["note"]:
            warnings.warn(f"export {name} {record['status']}: "
                          f"{run.privacy.text(record['note'])}", stacklevel=3)


def export_notes(out: str | Path) -> list[str]:
    """Exports of a report that failed or were skipped, as console lines (from provenance).

    Parameters
    ----------
    out : str or Path
        The report folder.

    Returns
    -------
    list of str
        One line per export that is not ``ok``, with its note (e.g. how to install Chromium).
    """
    path = Path(out) / "provenance.json"
    if not path.is_file():
        return []
    exports = json.loads(path.read_text(encoding="utf-8")).get("exports") or {}
    return [f"export {name} {r.get('status')}: {r.get('note')}" for name, r in exports.items()
            if r.get("status") != "ok"]
