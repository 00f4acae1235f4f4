"""The report's index.html: summary, waiting analyses, what was left out, STARD, links.

Written after the notebooks ran (or failed), from what they saved in the report folder.
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nethelpers.provenance import versions
from nethelpers.reportdir import WAITING, ReportDir, read_table

if TYPE_CHECKING:
    from nethelpers.report import _Run

__all__ = ["report_notes", "write_index"]


# --------------------------------------------------------------------------------------------
# index.html
# --------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #ddd}
table{border-collapse:collapse}td,th{padding:.15rem .8rem .15rem 0;text-align:left}
td.num{text-align:right}.meta{color:#555}.error{background:#fde8e8;border:1px solid #d55e00;
padding:.6rem;white-space:pre-wrap}figure{display:inline-block;margin:0 1rem 1rem 0}
figure img{max-width:28rem;border:1px solid #ddd}
table.stard td{vertical-align:top;padding-bottom:.5rem;font-size:.92rem}.warn{color:#a33}
"""


def _summary_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as stream:
        return [(row["item"], row["value"]) for row in csv.DictReader(stream)]


def _section_summary(run: _Run) -> str:
    parts = []
    for name in run.notebooks:
        path = run.out / "tables" / f"summary_{name}.csv"
        if not path.is_file():
            continue
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td class='num'>{html.escape(v)}</td></tr>"
            for k, v in _summary_rows(path)
        )
        parts.append(f"<h3>{html.escape(name)}</h3><table>{rows}</table>")
    return "<h2>Summary</h2>" + ("".join(parts) or "<p>No summary was written.</p>")


def _section_notebooks(run: _Run) -> str:
    items = []
    for name in run.notebooks:
        page = run.out / f"{name}.html"
        state = "" if name in run.done else " <em>(failed)</em>" if page.exists() else None
        if state is None:
            items.append(f"<li>{html.escape(name)} <em>(not run)</em></li>")
            continue
        items.append(
            f"<li><a href='{name}.html'>{html.escape(name)}</a>{state} "
            f"(<a href='notebooks/{name}.ipynb'>executed notebook</a>)</li>"
        )
    return "<h2>Notebooks</h2><ul>" + "".join(items) + "</ul>"


def _section_files(run: _Run) -> str:
    tables = sorted((run.out / "tables").glob("*.csv"))
    links = "".join(f"<li><a href='tables/{p.name}'>{html.escape(p.stem)}</a></li>" for p in tables)
    pngs = sorted((run.out / "figures").glob("*.png"))
    charts = [p for p in pngs if p.with_suffix(".svg").is_file()]
    images = [p for p in pngs if not p.with_suffix(".svg").is_file()]  # galleries: PNG only
    figures = "".join(
        f"<figure><a href='figures/{p.stem}.svg'><img src='figures/{p.name}' loading='lazy' "
        f"alt='Figure {html.escape(p.stem)}'></a><figcaption>{html.escape(p.stem)} "
        f"(<a href='figures/{p.name}'>PNG</a>, <a href='figures/{p.stem}.svg'>SVG</a>)"
        "</figcaption></figure>"
        for p in charts
    )
    gallery = "".join(f"<li><a href='figures/{p.name}'>{html.escape(p.stem)}</a></li>"
                      for p in images)
    if gallery:
        gallery = (f"<details><summary>Image galleries ({len(images)} PNG)</summary>"
                   f"<ul>{gallery}</ul></details>")
    return (
        f"<h2>Tables</h2><ul>{links or '<li>none</li>'}</ul>"
        f"<h2>Figures</h2>{figures or ('' if gallery else '<p>none</p>')}{gallery}"
    )


def _files_links(files: str) -> str:
    links = []
    for rel in filter(None, files.split(";")):
        name = html.escape(Path(rel).name)
        links.append(f"<a href='{html.escape(rel)}'>{name}</a>")
    return ", ".join(links)


def _section_stard(run: _Run) -> str:
    """The STARD 2015 items addressed (also written as tables/stard_checklist.csv)."""
    from nethelpers.stard import stard_checklist

    checklist = stard_checklist(run.params, run.out, versions())
    _report_dir(run).table(checklist, "stard_checklist")
    rows = "".join(
        f"<tr><td>{html.escape(r.item)}</td><td>{html.escape(r.topic)}"
        + ("" if r.status == "addressed"
           else f"<br><em class='warn'>{html.escape(r.status)}</em>")
        + f"</td><td>{html.escape(r.how)}</td><td>{_files_links(r.files)}</td></tr>"
        for r in checklist.itertuples()
    )
    return (
        "<h2>STARD 2015 items addressed</h2><p class='meta'>The items of the checklist "
        "(Bossuyt et al., BMJ 2015) that come from the data and the analysis; the others "
        "belong to the manuscript.</p><table class='stard'><tr><th>Item</th><th>Topic</th>"
        f"<th>How the report addresses it</th><th>Where</th></tr>{rows}</table>"
    )


def _html_rows(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame[list(columns)].itertuples(index=False))
    return f"<table class='stard'><tr>{head}</tr>{body}</table>"


def _section_left_out(run: _Run) -> str:
    """Patients and scans left out (data checks, quantification): STARD items 16 and 19."""
    from nethelpers.exclusions import exclusion_table

    cohort = read_table(run.out, "exclusions")
    qc = read_table(run.out, "quantification_qc")
    if cohort is None and qc is None:
        return ""
    table = exclusion_table(cohort, qc)
    _report_dir(run).table(table, "left_out")
    if table.empty:
        return ("<h2>Patients and scans left out</h2><p>None: every patient and scan passed "
                "the data checks and was measured.</p>")
    return ("<h2>Patients and scans left out</h2><p class='meta'>From the data checks of the "
            "study tables and from the quantification (STARD 2015 items 16, missing data, "
            "and 19, flow); also in "
            "<a href='tables/left_out.csv'>left_out.csv</a>.</p>"
            + _html_rows(table, ["stage", "what", "id", "status", "reason"]))


def _section_waiting(run: _Run) -> str:
    """Sections that could not run yet, and the data each waits for."""
    table = read_table(run.out, WAITING)
    if table is None or table.empty:
        return ""
    return ("<h2>Analyses waiting for data</h2><p class='meta'>These sections ran without "
            "their input and show a note instead of results; provide the data and run the "
            "report again.</p>" + _html_rows(table, ["section", "waits_for"]))


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
    """Write ``index.html`` of a run (finished, failed or interrupted); return its path."""
    study = html.escape(run.params.study.name)
    date = run.started.strftime("%Y-%m-%d %H:%M %Z")
    error = (
        f"<p class='error'>Report incomplete: {html.escape(run.privacy.text(run.error))}</p>"
        if run.error
        else ""
    )
    version = importlib.metadata.version("nethelpers")
    body = (
        f"<h1>{study}: statistical report</h1>"
        f"<p class='meta'>Run on {html.escape(date)} from "
        f"<code>{html.escape(run.params_file.name)}</code> with nethelpers {version}. "
        f"<a href='provenance.json'>Provenance</a> (versions, parameters, input "
        f"fingerprints).</p>{error}"
        + _section_summary(run)
        + _section_waiting(run)
        + _section_left_out(run)
        + _section_stard(run)
        + _section_notebooks(run)
        + _section_files(run)
    )
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{study}: report</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )
    path = run.out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
