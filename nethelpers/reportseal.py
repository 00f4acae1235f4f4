"""The last pass over a report: executed notebooks and every text artefact, pseudonymised.

Tables, notes and messages are pseudonymised where they are made
(:class:`nethelpers.reportdir.ReportDir`, quantify's QC). Two things escape that path and
are handled here, with the same :class:`~nethelpers.privacy.Pseudonymiser`:

- an executed notebook records papermill's absolute paths (``metadata.papermill``, the
  injected-parameters cell) and whatever a cell printed or displayed: paths in tracebacks,
  a frame shown before it was saved;
- any artefact may still hold a known root, series folder or folder name of the DICOM tree
  (a bug elsewhere): :func:`seal_tree` replaces them and says how many it found, so a slip
  is both contained and visible.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat

from nethelpers.files import atomic_write
from nethelpers.privacy import Pseudonymiser

__all__ = ["TEXT_SUFFIXES", "seal_notebook", "seal_tree"]

TEXT_SUFFIXES = (".html", ".csv", ".json", ".svg", ".md", ".txt", ".ipynb")
"""Artefacts read as text by :func:`seal_tree`."""

_HTML_KINDS = ("text/html", "image/svg+xml", "text/markdown", "text/latex")


def _output_text(text: str, kind: str, privacy: Pseudonymiser) -> str:
    if kind in _HTML_KINDS:  # markup: only the study's own strings, dates and UIDs, escaped
        return privacy.markup(text)
    return privacy.text(text)


def _seal_output(output: Any, privacy: Pseudonymiser) -> None:
    if output.get("output_type") == "stream":
        output["text"] = privacy.text(output.get("text", ""))
    elif output.get("output_type") == "error":
        output["evalue"] = privacy.text(output.get("evalue", ""))
        output["traceback"] = [privacy.text(line) for line in output.get("traceback", [])]
    for kind, value in list(output.get("data", {}).items()):
        if kind.startswith("text/") or kind == "image/svg+xml":
            text = "".join(value) if isinstance(value, list) else value
            output["data"][kind] = _output_text(text, kind, privacy)
    metadata = output.get("metadata", {})
    for meta in metadata.values():
        if isinstance(meta, dict) and isinstance(meta.get("alt"), str):
            meta["alt"] = privacy.text(meta["alt"])


def seal_notebook(path: str | Path, privacy: Pseudonymiser, name: str) -> Path:
    """Pseudonymise an executed notebook in place (before it is rendered to HTML).

    Parameters
    ----------
    path : str or Path
        The executed ``.ipynb``.
    privacy : Pseudonymiser
        The study's pseudonymiser (knows the report folder and the parameters' folder).
    name : str
        The notebook's name: papermill's input and output paths become
        ``notebooks/<name>.ipynb``.

    Returns
    -------
    Path
        The notebook, rewritten atomically.
    """
    path = Path(path)
    node = nbformat.read(path, as_version=4)
    run = node.metadata.get("papermill", {})
    if run:
        run["input_path"] = f"notebooks/{name}.ipynb"
        run["output_path"] = f"notebooks/{name}.ipynb"
        run["parameters"] = privacy.json(run.get("parameters", {}))
    for cell in node.cells:
        if cell.cell_type == "code":
            if "injected-parameters" in cell.metadata.get("tags", []):
                cell.source = privacy.text(cell.source)
            for output in cell.get("outputs", []):
                _seal_output(output, privacy)
    with atomic_write(path, "w", encoding="utf-8") as stream:
        nbformat.write(node, stream)
    return path


def _artefacts(root: Path) -> Iterator[Path]:
    for here, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(TEXT_SUFFIXES):
                yield Path(here, name)


def seal_tree(root: str | Path, privacy: Pseudonymiser) -> dict[str, int]:
    """Replace any known root, series folder or DICOM folder name left in an artefact.

    Parameters
    ----------
    root : str or Path
        The report folder (or the quantify output).
    privacy : Pseudonymiser
        The study's pseudonymiser.

    Returns
    -------
    dict
        Artefact (relative path) → number of strings replaced; empty when none was found,
        which is the expected outcome.
    """
    root = Path(root)
    found: dict[str, int] = {}
    for path in _artefacts(root):
        text, replaced = privacy.known_count(
            path.read_text(encoding="utf-8", errors="surrogateescape"),
            escape=path.suffix in (".html", ".svg"))
        if not replaced:
            continue
        found[path.relative_to(root).as_posix()] = replaced
        with atomic_write(path, "wb") as stream:
            stream.write(text.encode("utf-8", errors="surrogateescape"))
    return found
