"""The paper tables as a Word document (python-docx): ``tables.docx`` of a report.

Table 1, the patient- and lesion-level accuracy, the comparisons (McNemar tests and
differences of accuracy) and the agreement, each read from the report's tidy CSV table
(``tables/<name>.csv``), formatted by the one formatter of the report
(:func:`nethelpers.pubformat.pub_table`) and written with its caption above and its footnotes
below, numbered in the order they appear. The methods paragraph
(:func:`nethelpers.methods.methods_paragraph`) comes first, ready to paste. A table the run did
not produce is named at the end as not produced, never silently dropped. Cells are the
formatter's strings: the numbers are those of the HTML report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["DOCX_NAME", "PAPER_TABLES", "PaperTable", "export_docx", "paper_table"]

DOCX_NAME = "tables.docx"
"""File name of the document in the report folder."""


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: which CSV, its caption, the columns shown, its footnotes.

    Attributes
    ----------
    name : str
        The CSV in ``tables/`` (without ``.csv``).
    caption : str
        Caption after "Table N." (numbered when written).
    columns : tuple of str
        Source columns shown, in order (empty: all; see ``pub_table(columns=...)``).
    notes : tuple of str
        Footnotes added after the formatter's own.
    accuracy : bool
        A tidy accuracy table, printed one row per scan type [group] with a column per
        measure (:func:`nethelpers.pubaccuracy.accuracy_table`, LR+/LR−/DOR included).
    labels : tuple of (column, label) pairs
        Column headings that differ from the formatter's (``pub_table(labels=...)``).
    decimals : tuple of (column, decimals) pairs
        Decimals that differ from the formatter's: a difference of proportions gets 3, so an
        interval that crosses 0 by less than 0.005 never reads "0.00".
    """

    name: str
    caption: str
    columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    accuracy: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    decimals: tuple[tuple[str, int], ...] = ()


PAPER_TABLES = (
    PaperTable("table1", "Baseline characteristics of the patients, per protocol group."),
    PaperTable("accuracy_patient_level", "Patient-level diagnostic accuracy of each index test "
               "(tracer × modality) against the reference standard.", accuracy=True),
    PaperTable("accuracy_patient_level_by_group", "Patient-level accuracy per protocol group.",
               accuracy=True),
    PaperTable("accuracy_lesion_level", "Lesion-level diagnostic accuracy of each index test, "
               "with intervals adjusted for several lesions per patient.", accuracy=True),
    PaperTable("mcnemar_dotatate_vs_fdg", "DOTATATE versus FDG PET: paired detection "
               "(McNemar tests).", (),
               ("Discordant pairs: positive on one tracer only. The clustered test (Obuchowski "
                "1998) is the primary one.",)),
    PaperTable("difference_dotatate_minus_fdg", "Difference in accuracy, DOTATATE minus FDG "
               "PET, on the lesions or patients with both.",
               ("unit", "measure", "estimate_a", "estimate_b", "estimate", "lower", "upper",
                "method", "n", "n_clusters"),
               ("The score interval inverts the clustered McNemar test and is the primary one "
                "(it excludes 0 exactly when p < 0.05); the Wald interval is shown beside it.",),
               labels=(("estimate_a", "DOTATATE"), ("estimate_b", "FDG"),
                       ("estimate", "Difference (95% CI)")),
               decimals=(("estimate", 3),)),
    PaperTable("paired_accuracy_petmr_petct", "PET/MR versus PET/CT: paired accuracy on the "
               "lesions and patients examined with both.",
               ("unit", "measure", "quantity", "estimate", "lower", "upper", "method",
                "numerator", "denominator", "n_clusters", "test", "p", "note"),
               decimals=(("estimate", 3),)),
    PaperTable("agreement_petmr_petct", "Agreement between PET/MR and PET/CT: visual calls "
               "(κ) and SUVmax (ratio limits of agreement, ICC)."),
    PaperTable("interreader_agreement", "Inter-reader agreement."),
    PaperTable("response_categories", "Response category at follow-up per scan type "
               "(PERCIST 1.0 for FDG; the study's SSTR rule set for DOTATATE).",
               ("tracer", "modality", "rule_set", "category", "n", "denominator",
                "proportion", "proportion_lower", "proportion_upper", "note"),
               ("Proportions of the patients with a category; the last row of each scan type "
                "counts the patients without one, with the reasons.",)),
    PaperTable("recurrence_accuracy", "Detection of recurrence at follow-up (a new lesion "
               "called positive against a malignant lesion first present at follow-up).",
               ("tracer", "modality", "measure", "estimate", "lower", "upper", "method",
                "numerator", "denominator", "note")),
)
"""The paper's tables, in order; those a run did not write are listed as not produced."""


def paper_table(out: str | Path, spec: PaperTable,
                group_labels: Mapping[str, str] | None = None):
    """Read one table of a report and format it (``None`` when the CSV is missing or empty).

    Parameters
    ----------
    out : str or Path
        The report folder.
    spec : PaperTable
        Which table, its caption, columns and footnotes.
    group_labels : mapping, optional
        Group code -> label (``vocabulary.group_labels``) for a ``group`` column.

    Returns
    -------
    nethelpers.pubformat.PubTable or None
    """
    from nethelpers.pubaccuracy import accuracy_table
    from nethelpers.pubformat import pub_table

    path = Path(out) / "tables" / f"{spec.name}.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    if frame.empty:
        return None
    if group_labels and "group" in frame.columns:
        frame["group"] = frame["group"].map(lambda code: group_labels.get(code, code))
    if spec.accuracy:
        return accuracy_table(frame, caption=spec.caption, ratios=True,
                              notes=list(spec.notes))
    columns = [c for c in spec.columns if c in frame.columns] or None
    return pub_table(frame, caption=spec.caption, columns=columns, notes=list(spec.notes),
                     labels=dict(spec.labels) or None, decimals=dict(spec.decimals) or None)


def _repeat_header(row) -> None:
    """Mark a table row as a header row repeated on every page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    props = row._tr.get_or_add_trPr()
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    props.append(flag)


def _write_table(document, number: int, table) -> None:
    from docx.shared import Pt

    caption = document.add_paragraph()
    caption.add_run(f"Table {number}. ").bold = True
    caption.add_run(table.caption or "")
    frame = table.frame
    grid = document.add_table(rows=1, cols=frame.shape[1])
    grid.style = "Table Grid"
    for cell, label in zip(grid.rows[0].cells, frame.columns, strict=True):
        cell.text = str(label)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    _repeat_header(grid.rows[0])
    for values in frame.itertuples(index=False):
        for cell, value in zip(grid.add_row().cells, values, strict=True):
            cell.text = str(value)
    for row in grid.rows:
        for cell in row.cells:
            for run in cell.paragraphs[0].runs:
                run.font.size = Pt(8)
    for note in table.footnotes:
        para = document.add_paragraph(note)
        for run in para.runs:
            run.font.size = Pt(8)


def _landscape(document) -> None:
    from docx.enum.section import WD_ORIENT
    from docx.shared import Cm

    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))


def export_docx(out: str | Path, title: str, methods: str = "",
                tables: Sequence[PaperTable] = PAPER_TABLES, name: str = DOCX_NAME,
                group_labels: Mapping[str, str] | None = None) -> Path:
    """Write the paper tables of a report (and its methods paragraph) as a .docx.

    Parameters
    ----------
    out : str or Path
        The report folder (tables are read from ``tables/``).
    title : str
        Heading of the document (the study's name).
    methods : str
        The methods paragraph (:func:`nethelpers.methods.methods_paragraph`); "" for none.
    tables : sequence of PaperTable
        The tables, in order.
    name : str
        File name in ``out``.
    group_labels : mapping, optional
        Group code -> label, for the tables with a ``group`` column.

    Returns
    -------
    Path
        The document. A table that is missing is named under "Not produced in this run".
    """
    from docx import Document

    out = Path(out)
    document = Document()
    _landscape(document)
    document.core_properties.title = title
    document.add_heading(title, level=1)
    if methods:
        document.add_heading("Statistical methods", level=2)
        for paragraph in methods.split("\n\n"):
            document.add_paragraph(paragraph.strip())
    document.add_heading("Tables", level=2)
    missing: list[str] = []
    number = 0
    for spec in tables:
        table = paper_table(out, spec, group_labels)
        if table is None:
            missing.append(spec.name)
            continue
        number += 1
        _write_table(document, number, table)
    if missing:
        document.add_heading("Not produced in this run", level=2)
        document.add_paragraph("; ".join(f"{m} (tables/{m}.csv)" for m in missing))
    target = out / name
    partial = target.with_name(target.name + ".partial")
    document.save(str(partial))
    partial.replace(target)
    return target
