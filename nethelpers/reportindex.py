"""The report's index.html: the answers first, methods, summary, waiting, left out, STARD, links.

Written after the notebooks ran (or failed), from what they saved in the report folder.
"""

from __future__ import annotations

import csv
import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from nethelpers.answers import Answer, build_answers
from nethelpers.provenance import versions
from nethelpers.reportdir import WAITING, ReportDir, read_table

if TYPE_CHECKING:
    from nethelpers.report import _Run

__all__ = ["report_notes", "write_index"]


# --------------------------------------------------------------------------------------------
# index.html: the context of the template templates/index/index.html.j2
# --------------------------------------------------------------------------------------------

SUPERSEDED = ("Patient-level sensitivity", "False calls (lesions)")
"""Summary items the answers state better (with their denominators and CIs): left out."""


def _summary(run: _Run) -> list[dict[str, Any]]:
    """The headline counts of each notebook (``tables/summary_<notebook>.csv``)."""
    parts = []
    for name in run.notebooks:
        path = run.out / "tables" / f"summary_{name}.csv"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", newline="") as stream:
            items = [(row["item"], row["value"]) for row in csv.DictReader(stream)
                     if not row["item"].startswith(SUPERSEDED)]
        if items:
            parts.append({"name": name, "rows": items})
    return parts


def _notebooks(run: _Run) -> list[dict[str, str]]:
    states = []
    for name in run.notebooks:
        page = run.out / f"{name}.html"
        state = "ok" if name in run.done else "failed" if page.exists() else "not run"
        states.append({"name": name, "state": state})
    return states


def _files(run: _Run) -> dict[str, list[str]]:
    """Tables, charts (PNG + SVG) and image galleries (PNG only) of the report folder."""
    pngs = sorted((run.out / "figures").glob("*.png"))
    return {
        "tables": [p.stem for p in sorted((run.out / "tables").glob("*.csv"))],
        "charts": [p.stem for p in pngs if p.with_suffix(".svg").is_file()],
        "galleries": [p.stem for p in pngs if not p.with_suffix(".svg").is_file()],
    }


def _stard(run: _Run) -> list[dict[str, Any]]:
    """The STARD 2015 items addressed (also written as tables/stard_checklist.csv)."""
    from nethelpers.stard import stard_checklist

    checklist = stard_checklist(run.params, run.out, versions())
    _report_dir(run).table(checklist, "stard_checklist")
    return [{"item": r.item, "topic": r.topic, "status": r.status, "how": r.how,
             "files": [f for f in str(r.files).split(";") if f]}
            for r in checklist.itertuples()]


def _left_out(run: _Run) -> list[dict[str, str]] | None:
    """Patients and scans left out (data checks, quantification): STARD items 16 and 19."""
    from nethelpers.exclusions import exclusion_table

    cohort = read_table(run.out, "exclusions")
    qc = read_table(run.out, "quantification_qc")
    if cohort is None and qc is None:
        return None
    table = exclusion_table(cohort, qc)
    _report_dir(run).table(table, "left_out")
    columns = ["stage", "what", "id", "status", "reason"]
    return [dict(zip(columns, map(str, row), strict=True))
            for row in table[columns].itertuples(index=False)]


def _waiting(run: _Run) -> list[dict[str, str]]:
    """Sections that could not run yet, and the data each waits for."""
    table = read_table(run.out, WAITING)
    if table is None:
        return []
    return table[["section", "waits_for"]].to_dict("records")


def _methods(run: _Run) -> list[str]:
    """The methods paragraph(s) of :mod:`nethelpers.methods`, when that module is there."""
    try:
        from nethelpers.methods import methods_paragraph  # type: ignore[attr-defined]
    except ImportError:
        return []
    try:
        text = methods_paragraph(run.params, run.out)
    except Exception as error:  # noqa: BLE001 - the index is written whatever fails
        return [f"The methods paragraph could not be written ({type(error).__name__}); "
                "see methods.md when it exists."]
    return [" ".join(p.split()) for p in str(text).split("\n\n") if p.strip()]


def _exports(run: _Run) -> list[dict[str, str]]:
    """Links to the report's PDF and Word exports, when they were written."""
    labels = {".pdf": "The whole report as PDF", ".docx": "The paper tables (Word)"}
    return [{"href": p.name, "label": f"{labels[p.suffix]} ({p.name})"}
            for suffix in labels for p in sorted(run.out.glob(f"*{suffix}"))]


def _answers(run: _Run) -> list[Answer]:
    return build_answers(run.out / "tables", level=run.params.stats.ci_level)


_ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates" / "index"),
                   autoescape=True, trim_blocks=True, keep_trailing_newline=True,
                   undefined=StrictUndefined)


def report_notes(out: str | Path) -> list[str]:
    """What a finished report left out and what it waits for, as lines for the console.

    Parameters
    ----------
    out : str or Path
        The report folder.

    Returns
    -------
    list of str
        The table of patients and scans left out (``tables/left_out.csv``), then one line
        per section waiting for data (``tables/analyses_waiting.csv``).
    """
    from nethelpers.exclusions import format_exclusions

    lines: list[str] = []
    left = read_table(Path(out), "left_out")
    if left is not None:
        lines.extend(format_exclusions(left).splitlines())
    rows = read_table(Path(out), WAITING)
    if rows is not None and len(rows):
        lines.append(f"{len(rows)} section(s) wait for data:")
        lines.extend(f"  {r.section}: {r.waits_for}" for r in rows.itertuples())
    return lines


def _report_dir(run: _Run) -> ReportDir:
    """The run's report folder, writing through the run's pseudonymiser."""
    return ReportDir(run.out, run.params, run.privacy)


def write_index(run: _Run) -> Path:
    """Write ``index.html`` of a run (finished, failed or interrupted); return its path.

    The page is the template ``templates/index/index.html.j2`` (autoescaped): the answers to
    the study questions first (:mod:`nethelpers.answers`), the methods paragraph, the links to
    the exports, then the headline counts, what waits and what was left out, STARD, notebooks,
    tables and figures.
    """
    context = {
        "study": run.params.study.name,
        "date": run.started.strftime("%Y-%m-%d %H:%M %Z"),
        "params_name": run.params_file.name,
        "version": importlib.metadata.version("nethelpers"),
        "error": run.privacy.text(run.error) if run.error else "",
        "answers": _answers(run),
        "methods": _methods(run),
        "exports": _exports(run),
        "summary": _summary(run),
        "waiting": _waiting(run),
        "left_out": _left_out(run),
        "stard": _stard(run),
        "notebooks": _notebooks(run),
        **_files(run),
    }
    page = _ENV.get_template("index.html.j2").render(**context)
    path = run.out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
