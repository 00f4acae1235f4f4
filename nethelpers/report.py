"""The statistical report: run the notebooks with papermill, render HTML, record provenance.

A report is a folder ``reports/<run>/``::

    index.html            study, run date, summary numbers, links to everything below
    <notebook>.html       each executed notebook rendered without code (nbconvert)
    notebooks/            the executed notebooks (.ipynb, with outputs)
    tables/<name>.csv     every table the notebooks wrote (no timestamps: diffable)
    figures/<name>.png    every figure, 200 dpi, and the same as .svg
    provenance.json       versions, validated parameters, git commit, input fingerprints

Notebooks receive two parameters, ``params_file`` and ``output_dir`` (absolute paths), and
save what they produce through :class:`ReportDir`. The run date appears only in
``index.html`` and ``provenance.json``. Nothing read from DICOM headers, and no path inside
the DICOM tree, is written by this module.
"""

from __future__ import annotations

import csv
import html
import importlib.metadata
import json
import platform
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
from matplotlib.figure import Figure

from nethelpers.config import Params, load_params
from nethelpers.files import study_fingerprint, tree_digest

__all__ = [
    "DEFAULT_NOTEBOOKS_DIR",
    "alt_text",
    "ReportDir",
    "ReportError",
    "provenance",
    "render_html",
    "report_notes",
    "run_report",
    "tree_digest",
]

DEFAULT_NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
"""The notebooks shipped with nethelpers (``report.notebooks_dir`` overrides it)."""

TEMPLATES = Path(__file__).resolve().parent / "templates"
"""nbconvert templates: ``nethelpers_lab`` is JupyterLab's with figures' alt text."""

MARKER = ".nethelpers-report"
"""File that marks a folder as a report (only such folders are cleared for a new run)."""

VERSIONED = (
    "nethelpers",
    "numpy",
    "pandas",
    "scipy",
    "pydicom",
    "SimpleITK",
    "statsmodels",
    "matplotlib",
    "papermill",
    "nbconvert",
    "pydantic",
)
WAITING = "analyses_waiting"
"""Table of the sections that wait for data (:meth:`ReportDir.waiting`)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ReportError(RuntimeError):
    """The report could not be produced (a notebook failed, or the setup is wrong)."""


# --------------------------------------------------------------------------------------------
# saving outputs from notebooks
# --------------------------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(
            f"output name {name!r}: use letters, digits, '_', '-', '.' (no folders, no spaces)"
        )
    return name


@dataclass
class ReportDir:
    """The output folder of a report, as seen from a notebook.

    Parameters
    ----------
    root : str or Path
        The report folder (the notebook parameter ``output_dir``).

    Examples
    --------
    >>> out = ReportDir(output_dir)  # doctest: +SKIP
    >>> out.table(table.formatted, "table1")  # doctest: +SKIP
    PosixPath('.../tables/table1.csv')
    >>> out.figure(fig, "flow")  # doctest: +SKIP
    {'png': PosixPath('.../figures/flow.png'), 'svg': PosixPath('.../figures/flow.svg')}
    """

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    @property
    def tables(self) -> Path:
        """Return the folder of the CSV tables."""
        return self.root / "tables"

    @property
    def figures(self) -> Path:
        """Return the folder of the figures."""
        return self.root / "figures"

    def table(self, df: pd.DataFrame, name: str, index: bool = False) -> Path:
        """Write a table as ``tables/<name>.csv`` (UTF-8, Unix line ends, no timestamps).

        Parameters
        ----------
        df : pandas.DataFrame
            The table.
        name : str
            File name without extension.
        index : bool
            Write the index as a column.

        Returns
        -------
        Path
            The CSV file.
        """
        path = self.tables / f"{_check_name(name)}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=index, lineterminator="\n", encoding="utf-8")
        return path

    def figure(self, fig: Figure, name: str, dpi: int = 200,
               formats: tuple[str, ...] = ("png", "svg")) -> dict[str, Path]:
        """Write a figure as ``figures/<name>.png`` and ``figures/<name>.svg``.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        name : str
            File name without extension.
        dpi : int
            Resolution of the PNG.
        formats : tuple of str
            ``png`` and/or ``svg``; image galleries (raster by nature) are PNG only.

        Returns
        -------
        dict
            ``{"png": path, "svg": path}`` for the formats written.
        """
        from nethelpers.plots import figure_style

        unknown = set(formats) - {"png", "svg"}
        if unknown or not formats:
            raise ValueError(f"formats must be png and/or svg, got {formats}")
        base = self.figures / _check_name(name)
        base.parent.mkdir(parents=True, exist_ok=True)
        paths = {f: base.with_suffix(f".{f}") for f in formats}
        with figure_style():
            if "png" in paths:
                fig.savefig(paths["png"], dpi=dpi, metadata={"Software": None})
            if "svg" in paths:
                fig.savefig(paths["svg"], metadata={"Date": None, "Creator": None})
        return paths

    def show(self, fig: Figure, name: str, alt: str | None = None, retina: bool = True,
             **kwargs: Any) -> Any:
        """Save a figure (:meth:`figure`) and return its PNG for display, with alt text.

        Parameters
        ----------
        fig : matplotlib.figure.Figure
            The figure.
        name : str
            File name without extension.
        alt : str, optional
            Text alternative of the image in the HTML report; default built from the
            figure's titles and axis labels (:func:`alt_text`).
        retina : bool
            Display at half the pixel size (sharp on high-resolution screens).
        **kwargs
            Passed to :meth:`figure` (``dpi``, ``formats``).

        Returns
        -------
        IPython.display.Image
            The saved PNG at screen size, carrying ``alt`` in its output metadata (nbconvert
            writes it into the ``<img>`` tag).
        """
        from IPython.display import Image

        paths = self.figure(fig, name, **kwargs)
        return Image(filename=paths["png"], retina=retina,
                     metadata={"alt": alt or alt_text(fig, name)})

    def summary(self, items: Mapping[str, object], notebook: str) -> Path:
        """Write the headline numbers of a notebook for ``index.html``.

        Parameters
        ----------
        items : mapping
            Label → value (e.g. ``{"Patients analysed": 58}``), in display order.
        notebook : str
            Name of the notebook writing them (file ``tables/summary_<notebook>.csv``).

        Returns
        -------
        Path
            The CSV file (columns ``item, value``).
        """
        frame = pd.DataFrame({"item": list(items), "value": [str(v) for v in items.values()]})
        return self.table(frame, f"summary_{notebook}")

    def waiting(self, section: str, needs: str) -> Any:
        """Record that a section waits for data, and return the note to display in its place.

        The notes of a run are gathered in ``tables/analyses_waiting.csv`` (columns
        ``section, waits_for``; a section recorded again replaces its row), which
        ``index.html`` lists under "Analyses waiting for data".

        Parameters
        ----------
        section : str
            The section, e.g. ``"05 · Lesion-level accuracy"``.
        needs : str
            What is missing and how to provide it (from :mod:`nethelpers.readiness`).

        Returns
        -------
        IPython.display.Markdown
            ``**section: not yet.** needs``.
        """
        from IPython.display import Markdown

        path = self.tables / f"{WAITING}.csv"
        rows = (pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file()
                else pd.DataFrame(columns=["section", "waits_for"]))
        rows = rows[rows["section"] != section]
        rows = pd.concat([rows, pd.DataFrame({"section": [section], "waits_for": [needs]})],
                         ignore_index=True)
        self.table(rows, WAITING)
        return Markdown(f"**{section}: not yet.** {needs}")


def alt_text(fig: Figure, name: str = "") -> str:
    """Describe a figure from its titles and axis labels (a default text alternative).

    A figure without axes text (a flow diagram) is described by its text boxes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    name : str
        Its file name, used when the figure has no text.

    Returns
    -------
    str
        E.g. ``"Liver reference (3 cm sphere) per scan: Liver SUVmean (g/ml) by scan type."``
    """
    parts = []
    title = fig.get_suptitle()
    if title:
        parts.append(title)
    for ax in fig.axes:
        x, y = ax.get_xlabel().replace("\n", " "), ax.get_ylabel().replace("\n", " ")
        head = ax.get_title().replace("\n", " ")
        axes = " against ".join(t for t in (y, x) if t)
        text = ": ".join(t for t in (head, axes) if t)
        if text:
            parts.append(text)
    if not parts:  # a diagram: its text boxes, in drawing order
        parts = [" ".join(t.get_text().split()) for t in fig.texts if t.get_text().strip()]
    if not parts:
        return f"Figure {name}".strip()
    text = "; ".join(dict.fromkeys(parts)) + "."
    return text if len(text) <= 400 else text[:399].rstrip() + "…"


# --------------------------------------------------------------------------------------------
# provenance
# --------------------------------------------------------------------------------------------


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_state() -> dict[str, Any]:
    """Return the commit and dirty flag of the nethelpers checkout (nulls outside git)."""
    inside = _git("rev-parse", "--is-inside-work-tree") == "true"
    if not inside:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def provenance(params: Params) -> dict[str, Any]:
    """Describe what a report was made from: versions, parameters, git state, inputs.

    Parameters
    ----------
    params : Params
        Validated parameters.

    Returns
    -------
    dict
        ``versions``, ``parameters`` (as validated), ``git`` (``commit``, ``dirty``) and
        ``inputs``: sha256 of every input table and a listing digest of the DICOM tree and
        the ROI store (see :func:`tree_digest`).
    """
    return {
        "versions": _versions(),
        "parameters": params.model_dump(mode="json"),
        "git": _git_state(),
        "inputs": study_fingerprint(params.study),
    }


# --------------------------------------------------------------------------------------------
# running notebooks
# --------------------------------------------------------------------------------------------


def render_html(notebook: str | Path, html_path: str | Path, title: str = "") -> Path:
    """Render an executed notebook to HTML without code input (nbconvert).

    Equivalent to ``jupyter nbconvert --to html --no-input``; markdown and outputs are kept,
    and each figure shown by :meth:`ReportDir.show` keeps its text alternative.

    Parameters
    ----------
    notebook : str or Path
        The executed ``.ipynb``.
    html_path : str or Path
        Destination.
    title : str
        Page title (default: the notebook's file name).

    Returns
    -------
    Path
        The HTML file.
    """
    from nbconvert import HTMLExporter

    notebook, html_path = Path(notebook), Path(html_path)
    node = nbformat.read(notebook, as_version=4)
    exporter = HTMLExporter(
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        extra_template_basedirs=[str(TEMPLATES)],
        template_name="nethelpers_lab",
    )
    resources = {"metadata": {"name": title or notebook.stem}}
    body, _ = exporter.from_notebook_node(node, resources=resources)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def _cell_number(source_nb: Path, cell_source: str) -> int | None:
    """Return the 1-based position of a failing cell in the source notebook (None if not found)."""
    node = nbformat.read(source_nb, as_version=4)
    for i, cell in enumerate(node.cells, start=1):
        if cell.cell_type == "code" and cell.source.strip() == cell_source.strip():
            return i
    return None


def _failure_message(name: str, source_nb: Path, executed: Path, exc: Exception) -> str:
    from papermill.exceptions import PapermillExecutionError

    kept = f"The executed notebook is kept at {executed}."
    if isinstance(exc, PapermillExecutionError):
        number = _cell_number(source_nb, exc.source)
        where = f"cell {number}" if number else f"cell index {exc.cell_index}"
        return (
            f"notebook {name} failed at {where} (In [{exc.exec_count}]): "
            f"{exc.ename}: {str(exc.evalue).rstrip('.')}. {kept}"
        )
    return f"notebook {name} failed: {type(exc).__name__}: {str(exc).rstrip('.')}. {kept}"


@dataclass
class _Run:
    """State of one report run, for index.html and provenance.json."""

    params: Params
    params_file: Path
    out: Path
    notebooks: list[str]
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    finished: datetime | None = None
    done: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _check_output(out: Path) -> None:
    """Refuse an output that is not a folder, or a non-empty folder that is not a report."""
    if out.exists() and not out.is_dir():
        raise ReportError(f"report output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ReportError(
            f"report output {out} is not empty and is not a nethelpers report; "
            "choose another folder (report.output or --output) or empty it"
        )


def _prepare_output(out: Path) -> Path:
    """Create the report folder; clear a previous report there, refuse any other content."""
    _check_output(out)
    if out.is_dir():
        for child in out.iterdir():
            if child.name != MARKER:
                shutil.rmtree(child) if child.is_dir() else child.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("This folder is a nethelpers report; a new run replaces it.\n")
    for sub in ("notebooks", "tables", "figures"):
        (out / sub).mkdir(exist_ok=True)
    return out


def _execute(run: _Run, name: str, notebooks_dir: Path) -> None:
    """Execute one notebook with papermill and render it; raise ReportError on failure."""
    import papermill

    source = notebooks_dir / f"{name}.ipynb"
    executed = run.out / "notebooks" / f"{name}.ipynb"
    report = run.params.report
    parameters: dict[str, Any] = {"params_file": str(run.params_file), "output_dir": str(run.out)}
    try:
        if "interactive" in papermill.inspect_notebook(str(source)):
            parameters["interactive"] = False  # widgets degrade to static output in a report
        papermill.execute_notebook(
            str(source),
            str(executed),
            parameters=parameters,
            kernel_name=report.kernel,
            cwd=str(notebooks_dir),
            progress_bar=False,
            log_output=False,
            execution_timeout=report.timeout,
        )
    except Exception as exc:  # papermill, nbclient (timeouts, dead kernels), jupyter_client
        message = _failure_message(name, source, executed, exc)
        if executed.is_file():
            render_html(executed, run.out / f"{name}.html", f"{run.params.study.name}: {name}")
        raise ReportError(message) from exc
    render_html(executed, run.out / f"{name}.html", f"{run.params.study.name}: {name}")


def _scrub(text: str, params: Params) -> str:
    """Hide the DICOM root in a message, so no path inside the DICOM tree is shown."""
    return text.replace(str(params.study.dicom), "<dicom>")


def _status(run: _Run) -> str:
    if run.done == run.notebooks:
        return "ok"
    return "failed" if run.error else "interrupted"


def _write_provenance(run: _Run) -> Path:
    record = {
        "report": "nethelpers",
        "study": run.params.study.name,
        "status": _status(run),
        "error": _scrub(run.error, run.params) if run.error else None,
        "started": run.started.isoformat(timespec="seconds"),
        "finished": run.finished.isoformat(timespec="seconds") if run.finished else None,
        "params_file": str(run.params_file),
        "notebooks": run.notebooks,
        "notebooks_completed": run.done,
        "notebook_seconds": run.seconds,
    } | provenance(run.params)
    path = run.out / "provenance.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


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

    checklist = stard_checklist(run.params, run.out, _versions())
    ReportDir(run.out).table(checklist, "stard_checklist")
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


def _read_table(run: _Run, name: str) -> pd.DataFrame | None:
    path = run.out / "tables" / f"{name}.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _html_rows(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in frame[list(columns)].itertuples(index=False))
    return f"<table class='stard'><tr>{head}</tr>{body}</table>"


def _section_left_out(run: _Run) -> str:
    """Patients and scans left out (data checks, quantification): STARD items 16 and 19."""
    from nethelpers.exclusions import exclusion_table

    cohort, qc = _read_table(run, "exclusions"), _read_table(run, "quantification_qc")
    if cohort is None and qc is None:
        return ""
    table = exclusion_table(cohort, qc)
    ReportDir(run.out).table(table, "left_out")
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
    table = _read_table(run, WAITING)
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

    tables = Path(out) / "tables"
    lines: list[str] = []
    left = tables / "left_out.csv"
    if left.is_file():
        text = format_exclusions(pd.read_csv(left, dtype=str, keep_default_na=False))
        lines.extend(text.splitlines())
    waiting = tables / f"{WAITING}.csv"
    if waiting.is_file():
        rows = pd.read_csv(waiting, dtype=str, keep_default_na=False)
        if len(rows):
            lines.append(f"{len(rows)} section(s) wait for data:")
            lines.extend(f"  {r.section}: {r.waits_for}" for r in rows.itertuples())
    return lines


def _write_index(run: _Run) -> Path:
    study = html.escape(run.params.study.name)
    date = run.started.strftime("%Y-%m-%d %H:%M %Z")
    error = (
        f"<p class='error'>Report incomplete: {html.escape(_scrub(run.error, run.params))}</p>"
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


# --------------------------------------------------------------------------------------------
# the entry point
# --------------------------------------------------------------------------------------------


def _notebook_list(
    params: Params, notebooks: Sequence[str] | None, notebooks_dir: str | Path | None
) -> tuple[list[str], Path]:
    folder = Path(notebooks_dir or params.report.notebooks_dir or DEFAULT_NOTEBOOKS_DIR)
    names = [n.removesuffix(".ipynb") for n in (notebooks or params.report.notebooks)]
    missing = [n for n in names if not (folder / f"{n}.ipynb").is_file()]
    if missing:
        available = sorted(p.stem for p in folder.glob("*.ipynb"))
        raise ReportError(
            f"notebook(s) {', '.join(missing)} not found in {folder}; "
            f"available: {', '.join(available) or 'none'}"
        )
    return names, folder.resolve()


def run_report(
    params_path: str | Path,
    output: str | Path | None = None,
    notebooks: Sequence[str] | None = None,
    progress: bool = True,
    notebooks_dir: str | Path | None = None,
) -> Path:
    """Produce the report: validate parameters, run the notebooks, write HTML and provenance.

    Parameters
    ----------
    params_path : str or Path
        Parameters YAML (validated before anything runs).
    output : str or Path, optional
        Report folder; default ``report.output`` of the parameters. A previous report there
        is replaced; a non-empty folder that is not a report is refused.
    notebooks : sequence of str, optional
        Names of the notebooks to run, in order; default ``report.notebooks``.
    progress : bool
        Show a progress bar (one step per notebook).
    notebooks_dir : str or Path, optional
        Folder of the notebooks; default ``report.notebooks_dir``, else those of nethelpers.

    Returns
    -------
    Path
        The report folder (holding ``index.html``).

    Raises
    ------
    nethelpers.config.ParamsError
        The parameters do not validate (nothing is run).
    nethelpers.cohort.CohortError
        The patients or scans table is missing or lacks a required column, or a code is not
        in the study's vocabulary (nothing is run; the message names the file, the rows and
        the fix). Problems of single rows do not stop the report: they are listed.
    ReportError
        A notebook is missing or fails. The message names the notebook, the cell and the
        exception; the executed notebook, its HTML, ``index.html`` and ``provenance.json``
        are still written.
    """
    from tqdm.auto import tqdm

    from nethelpers.cohort import load_cohort

    params_file = Path(params_path).expanduser().resolve()
    params = load_params(params_file)
    names, folder = _notebook_list(params, notebooks, notebooks_dir)
    out = Path(output).expanduser().resolve() if output else params.report.output
    _check_output(out)
    load_cohort(params)  # tables that cannot be read at all stop here, before any notebook
    out = _prepare_output(out)
    run = _Run(params, params_file, out, names)
    try:
        for name in tqdm(names, desc="report", unit="notebook", disable=not progress):
            start = time.perf_counter()
            try:
                _execute(run, name, folder)
            finally:
                run.seconds[name] = round(time.perf_counter() - start, 1)
            run.done.append(name)
    except ReportError as exc:
        run.error = str(exc)
        raise
    finally:
        run.finished = datetime.now().astimezone()
        _write_provenance(run)
        _write_index(run)
    return out
