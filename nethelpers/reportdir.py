"""What a notebook saves into its report: tables, figures with alt text, summaries, notes.

Notebooks receive the report folder as ``output_dir`` and save through :class:`ReportDir`:
``tables/<name>.csv``, ``figures/<name>.png|svg``, the headline numbers of ``index.html``
and the sections that wait for data (:data:`WAITING`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from nethelpers.privacy import Pseudonymiser, for_params

__all__ = ["FIGURE_DPI", "WAITING", "ReportDir", "alt_text", "read_table"]

FIGURE_DPI = 300
"""Resolution of the PNG of a report figure shown at full page width (:meth:`ReportDir.show`)."""

WAITING = "analyses_waiting"
"""Table of the sections that wait for data (:meth:`ReportDir.waiting`)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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
    params : nethelpers.config.Params, optional
        The study's parameters: tables and notes pass its pseudonymiser.
    pseudonymiser : Pseudonymiser, optional
        One already built for the study (the report run's); default: built from ``params``.

    Examples
    --------
    >>> out = ReportDir(output_dir, params)  # doctest: +SKIP
    >>> out.table(table.formatted, "table1")  # doctest: +SKIP
    PosixPath('.../tables/table1.csv')
    >>> out.figure(fig, "flow")  # doctest: +SKIP
    {'png': PosixPath('.../figures/flow.png'), 'svg': PosixPath('.../figures/flow.svg')}
    """

    root: Path
    params: Any = None
    pseudonymiser: Pseudonymiser | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    @property
    def privacy(self) -> Pseudonymiser:
        """The study's pseudonymiser (:mod:`nethelpers.privacy`).

        The one given, else built from the parameters on first use. Without parameters it
        still hides absolute paths and turns dates into ``<date>``.
        """
        if self.pseudonymiser is None:
            self.pseudonymiser = (for_params(self.params) if self.params is not None
                                  else Pseudonymiser())
        return self.pseudonymiser

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

        Its text passes the study's pseudonymiser (:attr:`privacy`): paths and folder names
        under the DICOM root become ``<patient/scan>`` pseudonyms and dates study days.

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
        self.privacy.frame(df).to_csv(path, index=index, lineterminator="\n", encoding="utf-8")
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
            A report figure: saved at :data:`FIGURE_DPI` (unless ``dpi`` is given), shown at
            the full width of the page (sharp on high-resolution screens and in print).
            ``False``: an image shown at its pixel size (the lesion gallery).
        **kwargs
            Passed to :meth:`figure` (``dpi``, ``formats``).

        Returns
        -------
        IPython.display.Image
            The saved PNG, carrying in its output metadata ``alt`` (written into the ``<img>``
            tag), ``href`` (the SVG, else the PNG, relative to the report pages: a click
            opens it) and ``figure`` (``"figure"`` or ``"gallery"``, the CSS class
            ``nh-figure``/``nh-gallery`` of the report template).
        """
        from IPython.display import Image

        if retina:
            kwargs.setdefault("dpi", FIGURE_DPI)
        paths = self.figure(fig, name, **kwargs)
        full = paths.get("svg", paths["png"])
        return Image(filename=paths["png"], retina=retina,
                     metadata={"alt": self.privacy.text(alt or alt_text(fig, name)),
                               "href": f"{self.figures.name}/{full.name}",
                               "figure": "figure" if retina else "gallery"})

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

        rows = read_table(self.root, WAITING)
        if rows is None:
            rows = pd.DataFrame(columns=["section", "waits_for"])
        rows = rows[rows["section"] != section]
        rows = pd.concat([rows, pd.DataFrame({"section": [section], "waits_for": [needs]})],
                         ignore_index=True)
        self.table(rows, WAITING)
        shown = html.escape(self.privacy.text(needs), quote=False)  # <P001> is no HTML tag
        return Markdown(f"**{section}: not yet.** {shown}")


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


def read_table(out: Path, name: str) -> pd.DataFrame | None:
    """A table the notebooks wrote into the report ``out``, as text (None if absent)."""
    path = out / "tables" / f"{name}.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype=str, keep_default_na=False)
