"""The statistical report: run the notebooks with papermill, render HTML, record provenance.

A report is a folder ``reports/<run>/``::

    index.html            study, run date, summary numbers, links to everything below
    <notebook>.html       each executed notebook rendered without code (nbconvert)
    notebooks/            the executed notebooks (.ipynb, with outputs)
    tables/<name>.csv     every table the notebooks wrote (no timestamps: diffable)
    figures/<name>.png    every figure, 200 dpi, and the same as .svg
    provenance.json       versions, validated parameters, git commit, input fingerprints
    methods.md            the statistical methods paragraph (nethelpers.methods)
    tables.docx           the paper tables (report.exports: docx; nethelpers.exportdocx)
    report.pdf            index and every page in one PDF (report.exports: pdf; headless
                          Chromium, nethelpers.exportpdf)

Notebooks receive two parameters, ``params_file`` and ``output_dir`` (absolute paths), and
save what they produce through :class:`ReportDir` (:mod:`nethelpers.reportdir`); the
index page is :mod:`nethelpers.reportindex`, the provenance :mod:`nethelpers.provenance`.
The exports (:mod:`nethelpers.reportexports`) are made after ``index.html`` of a complete
run, each timed; one that fails (or
is skipped: no Chromium) is listed in ``provenance.json`` and on the console, and the HTML
report is complete all the same. The run date appears only in ``index.html`` and
``provenance.json``. Nothing read from DICOM
headers, and no path inside the DICOM tree, is written by this module.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat

from nethelpers.config import Params, load_params
from nethelpers.files import tree_digest
from nethelpers.privacy import Pseudonymiser, for_params
from nethelpers.provenance import provenance
from nethelpers.reportdir import WAITING, ReportDir, alt_text
from nethelpers.reportexports import export_notes, make_exports, write_stard_tables
from nethelpers.reportindex import report_notes as _index_notes
from nethelpers.reportindex import write_index
from nethelpers.reportseal import seal_notebook, seal_tree

__all__ = [
    "DEFAULT_NOTEBOOKS_DIR",
    "WAITING",
    "alt_text",
    "ReportDir",
    "ReportError",
    "ReportSetupError",
    "export_notes",
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

class ReportError(RuntimeError):
    """The report could not be produced (a notebook failed, or the setup is wrong)."""


class ReportSetupError(ReportError):
    """The report was refused before any notebook ran (output folder, notebook names)."""


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
    privacy: Pseudonymiser = field(default_factory=Pseudonymiser)
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    finished: datetime | None = None
    done: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    cohort: Any = None
    exports: dict[str, dict[str, Any]] = field(default_factory=dict)


def _check_output(out: Path) -> None:
    """Refuse an output that is not a folder, or a non-empty folder that is not a report."""
    if out.exists() and not out.is_dir():
        raise ReportSetupError(f"report output {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise ReportSetupError(
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
            seal_notebook(executed, run.privacy, name)
            render_html(executed, run.out / f"{name}.html", f"{run.params.study.name}: {name}")
        raise ReportError(message) from exc
    seal_notebook(executed, run.privacy, name)
    render_html(executed, run.out / f"{name}.html", f"{run.params.study.name}: {name}")


def _status(run: _Run) -> str:
    if run.done == run.notebooks:
        return "ok"
    return "failed" if run.error else "interrupted"


def _write_provenance(run: _Run, sealed: dict[str, int]) -> Path:
    """provenance.json; every path in it is relative to a labelled root (``<data>/...``)."""
    record = {
        "report": "nethelpers",
        "study": run.params.study.name,
        "status": _status(run),
        "error": run.error,
        "params_file": str(run.params_file),
        "notebooks": run.notebooks,
        "notebooks_completed": run.done,
        "notebook_seconds": run.seconds,
        "exports": run.exports,
        "privacy": {"calendar_dates": run.params.report.calendar_dates,
                    "replaced_in_final_pass": sealed},
    } | provenance(run.params)
    # the run's own time is not a patient's date: it is kept, everything else pseudonymised
    record = {"started": run.started.isoformat(timespec="seconds"),
              "finished": run.finished.isoformat(timespec="seconds") if run.finished else None
              } | run.privacy.json(record)
    path = run.out / "provenance.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def report_notes(out: str | Path) -> list[str]:
    """What a finished report left out, what it waits for and which exports did not work.

    Parameters
    ----------
    out : str or Path
        The report folder.

    Returns
    -------
    list of str
        :func:`nethelpers.reportindex.report_notes`, then :func:`export_notes`.
    """
    return _index_notes(out) + export_notes(out)


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
        raise ReportSetupError(
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
    cohort = load_cohort(params)  # tables that cannot be read stop here, before any notebook
    privacy = for_params(params, cohort, params_file=params_file)
    out = _prepare_output(out)
    run = _Run(params, params_file, out, names, privacy, cohort=cohort)
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
        write_stard_tables(run)
        _write_provenance(run, {})
        write_index(run)
        sealed = seal_tree(out, privacy)
        if _status(run) == "ok":  # exports of a complete report, from its sealed pages
            make_exports(run)
            write_index(run)  # again: it links the exports written (run.exports: statuses)
            sealed |= seal_tree(out, privacy)
            _write_provenance(run, sealed)
        elif sealed:
            _write_provenance(run, sealed)
        if sealed:  # a slip elsewhere, contained here: say so in the provenance and the log
            warnings.warn(f"the report's final privacy pass replaced study paths or folder "
                          f"names in {len(sealed)} file(s): {', '.join(sorted(sealed))}",
                          stacklevel=2)
    return out
