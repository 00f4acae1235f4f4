"""Flow diagrams (STARD 2015): the participant flow, and the flow of each index test.

The index tests are each patient's baseline scans. A scan at a follow-up time point is not an
index test: both diagrams count it apart, in a note that sends the reader to notebook 06
(treatment response); a repeat scan (a later scan of a type without a follow-up time point,
:func:`nethelpers.readings.repeat_scans`) is counted apart in the participant flow and is a
branch "Repeat scan (excluded)" of its index test's flow.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from nethelpers.cohort import Cohort
from nethelpers.groups import NOT_RECORDED, group_label, group_order, patient_groups
from nethelpers.inventory import scan_types
from nethelpers.plots.style import figure_style
from nethelpers.readings import repeat_scans
from nethelpers.timepoints import is_follow_up

__all__ = ["index_test_flow", "participant_flow"]

_HEAD = "#e8f1f8"
_BOX = {"boxstyle": "round,pad=0.45", "linewidth": 0.8, "edgecolor": "#333333"}
_COLUMN_GAP = 0.18  # inches between boxes of one row
_ROW_GAP = 0.32  # inches between rows
_MARGIN = 0.1  # inches around the drawing
_LABEL_WIDTH = 1.05  # inches of the left column holding the row labels


@dataclass
class _Box:
    """A text box of the flow diagram; positions in inches from the bottom left."""

    text: Text
    column: float  # centre x in column units (0, 1, ...)
    row: int
    width: float = 0.0
    height: float = 0.0
    x: float = 0.0
    y: float = 0.0  # centre

    @property
    def top(self) -> float:
        """Return the y of the top edge."""
        return self.y + self.height / 2

    @property
    def bottom(self) -> float:
        """Return the y of the bottom edge."""
        return self.y - self.height / 2


def _lines(counts: dict[str, int], title: str, total: int | None = None) -> str:
    head = f"{title}: {total}" if total is not None else title
    return "\n".join([head] + [f"{k}: {v}" for k, v in counts.items()])


def _not_index_tests(scans: pd.DataFrame, all_scans: pd.DataFrame) -> tuple[pd.Series, str]:
    """Which of ``scans`` are not index tests, and the lines that count them ("" if none).

    Follow-up scans (a follow-up time point) and repeat scans (another later scan of a type,
    :func:`nethelpers.readings.repeat_scans` of every scan ``all_scans``) are counted apart.
    """
    later = is_follow_up(scans)
    repeats = scans["scan_id"].astype(str).isin(repeat_scans(all_scans)) & ~later
    lines = []
    if later.any():
        lines.append(f"Follow-up scans: {int(later.sum())}\n(notebook 06)")
    if repeats.any():
        lines.append(f"Repeat scans: {int(repeats.sum())}\n(excluded)")
    return later | repeats, "\n".join(lines)


def _group_texts(cohort: Cohort, patients: pd.DataFrame) -> list[str]:
    """Texts of the boxes under one group: index tests, reference standard, outcome.

    The scans box counts the index tests (baseline scans) by tracer and modality, then the
    follow-up and repeat scans apart when there are any. A patient without a reference
    standard or a final diagnosis is counted on a line "Not recorded" (shown only when there
    is one).
    """
    ids = set(patients["patient_id"].astype(str))
    scans = cohort.scans[cohort.scans["patient_id"].astype(str).isin(ids)]
    apart, aside = _not_index_tests(scans, cohort.scans)
    scans = scans[~apart]
    tracer, modality = scans["tracer"].astype(str), scans["modality"].astype(str)
    combos = {
        f"{t} {m}": int(((tracer == t) & (modality == m)).sum())
        for t, m in scan_types(scans, cohort.vocabulary)
    }
    combos = {k: v for k, v in combos.items() if v} or {"none": 0}
    reference = patients["reference_standard"].astype("string")
    ref = {
        "Histopathology": int(reference.eq("histopathology").sum()),
        "Follow-up": int(reference.eq("follow-up").sum()),
    }
    if reference.isna().any():
        ref[NOT_RECORDED] = int(reference.isna().sum())
    present = patients["disease_present"].astype("boolean")
    outcome = {
        "Disease present": int(present.eq(True).sum()),
        "Disease absent": int(present.eq(False).sum()),
    }
    if present.isna().any():
        outcome[NOT_RECORDED] = int(present.isna().sum())
    return [
        _lines(combos, "Scans", len(scans)) + (f"\n\n{aside}" if aside else ""),
        _lines(ref, "Reference standard"),
        _lines(outcome, "Final diagnosis"),
    ]


def _add_box(fig: Figure, text: str, column: float, row: int, face: str) -> _Box:
    artist = fig.text(
        0,
        0,
        text,
        ha="center",
        va="center",
        multialignment="center",
        bbox=_BOX | {"facecolor": face},
    )
    return _Box(artist, column, row)


def _measure(fig: Figure, boxes: list[_Box]) -> None:
    """Measure every box (inches) with the figure's renderer."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    for box in boxes:
        box.text.update_bbox_position_size(renderer)
        extent = box.text.get_bbox_patch().get_window_extent(renderer)
        box.width = extent.width / fig.dpi
        box.height = extent.height / fig.dpi


def _layout(boxes: list[_Box], top: _Box, side: _Box | None) -> tuple[float, float]:
    """Place every box (inches) on a grid sized from the measures; return figure size."""
    grid = [b for b in boxes if b.row > 0]
    column_width = max(b.width for b in grid) + _COLUMN_GAP
    n_columns = int(max(b.column for b in grid)) + 1
    n_rows = max(b.row for b in boxes) + 1
    heights = [max(b.height for b in boxes if b.row == r) for r in range(n_rows)]
    y = sum(heights) + _ROW_GAP * (n_rows - 1) + _MARGIN
    ys = []
    for h in heights:
        ys.append(y - h / 2)
        y -= h + _ROW_GAP
    x0 = _LABEL_WIDTH + _MARGIN
    for box in grid:
        box.x, box.y = x0 + (box.column + 0.5) * column_width, ys[box.row]
    top.x, top.y = x0 + n_columns * column_width / 2, ys[0]
    if side is not None:
        side.x, side.y = top.x + (top.width + side.width) / 2 + 2 * _COLUMN_GAP, ys[0]
    right = max(b.x + b.width / 2 for b in boxes)
    return right + _MARGIN, ys[0] + heights[0] / 2 + _MARGIN


def _apply(fig: Figure, boxes: list[_Box], size: tuple[float, float]) -> None:
    """Size the figure and move every text to its box position."""
    fig.set_size_inches(*size)
    for box in boxes:
        box.text.set_position((box.x / size[0], box.y / size[1]))


def _arrow(fig: Figure, x0: float, y0: float, x1: float, y1: float, head: bool = True) -> None:
    """Draw a line (with an arrow head) between two points given in inches."""
    w, h = fig.get_size_inches()
    fig.add_artist(
        FancyArrowPatch(
            (x0 / w, y0 / h),
            (x1 / w, y1 / h),
            transform=fig.transFigure,
            arrowstyle="-|>,head_length=4,head_width=2.2" if head else "-",
            mutation_scale=1,
            linewidth=0.8,
            color="#333333",
            shrinkA=0,
            shrinkB=0,
        )
    )


def _connect(
    fig: Figure, top: _Box, side: _Box | None, groups: list[_Box], columns: list[list[_Box]]
) -> None:
    """Draw the exclusion arrow, the enrolment fan-out and the arrows down each column."""
    if side is not None:
        _arrow(fig, top.x + top.width / 2, top.y, side.x - side.width / 2, side.y)
    bus = (top.bottom + max(g.top for g in groups)) / 2
    _arrow(fig, top.x, top.bottom, top.x, bus, head=False)
    if len(groups) > 1:
        _arrow(fig, groups[0].x, bus, groups[-1].x, bus, head=False)
    for group in groups:
        _arrow(fig, group.x, bus, group.x, group.top)
    for column in columns:
        for upper, lower in zip(column, column[1:], strict=False):
            _arrow(fig, upper.x, upper.bottom, lower.x, lower.top)


def _row_labels(fig: Figure, ys: list[float], labels: list[str]) -> None:
    w, h = fig.get_size_inches()
    for y, label in zip(ys, labels, strict=True):
        fig.text(_MARGIN / w, y / h, label, ha="left", va="center", fontweight="bold")


ROW_LABELS = ("Enrolment", "Group", "Index tests", "Reference\nstandard", "Final\ndiagnosis")


def participant_flow(cohort: Cohort, wrap: int = 20) -> Figure:
    """Draw the participant flow diagram (STARD style).

    Enrolled patients (and those excluded because of data problems) → patients per group of
    the study (``cohort.vocabulary``: its labels, its order; patients without a group in a
    last box "Not recorded") → index tests: baseline scans per tracer and modality (follow-up
    scans, analysed in notebook 06, and repeat scans counted apart below them) → reference
    standard (histopathology or follow-up) → final diagnosis (target condition present or
    absent); a patient without a reference standard or a final diagnosis is counted as not
    recorded.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort (``cohort.exclusions`` gives the excluded patients).
    wrap : int
        Characters per line of the group labels.

    Returns
    -------
    matplotlib.figure.Figure
        The diagram, sized from its text so that no two boxes overlap; save it with
        :meth:`nethelpers.report.ReportDir.figure`.

    Raises
    ------
    ValueError
        The cohort has no patients.
    """
    patients = cohort.patients
    if patients.empty:
        raise ValueError("participant_flow: the cohort has no patients to draw")
    groups = patient_groups(patients)
    n_excluded = len(cohort.excluded_patients)
    columns = []
    for group in group_order(groups, cohort.vocabulary):
        members = patients[groups == group]
        label = textwrap.fill(group_label(group, cohort.vocabulary), wrap)
        columns.append([(f"{label}\nn = {len(members)}", _HEAD),
                        *((t, "white") for t in _group_texts(cohort, members))])
    side = f"Excluded: data problems\nn = {n_excluded}\n(see exclusions table)"
    return _draw(f"Patients enrolled\nn = {len(patients) + n_excluded}",
                 side if n_excluded else None, columns, ROW_LABELS)


def _draw(top_text: str, side_text: str | None, columns: list[list[tuple[str, str]]],
          row_labels: tuple[str, ...] | list[str]) -> Figure:
    """Draw a flow diagram: one top box (and an exclusion box beside it) over columns.

    ``columns`` holds, per column, ``(text, face colour)`` of its boxes from row 1 down.
    """
    with figure_style():
        fig = Figure(dpi=100)
        top = _add_box(fig, top_text, 0, 0, "white")
        side = _add_box(fig, side_text, 0, 0, "#f7f7f7") if side_text else None
        placed = [[_add_box(fig, text, i, row, face)
                   for row, (text, face) in enumerate(column, start=1)]
                  for i, column in enumerate(columns)]
        boxes = [top, *([side] if side else []), *(b for c in placed for b in c)]
        _measure(fig, boxes)
        size = _layout(boxes, top, side)
        _apply(fig, boxes, size)
        _connect(fig, top, side, [c[0] for c in placed], placed)
        ys = [max(b.y for b in boxes if b.row == r) for r in range(len(row_labels))]
        _row_labels(fig, ys, list(row_labels))
    return fig


INDEX_TEST_ROWS = ("Eligible", "Index test", "Reference\nstandard", "Target\ncondition")
_RESULT_TEXT = {"positive": "Positive", "negative": "Negative",
                "indeterminate": "Indeterminate", "not read": "Not read",
                "repeat scan": "Repeat scan"}


def index_test_flow(flow: pd.DataFrame, tracer: str, modality: str) -> Figure:
    """Draw the STARD 2015 flow diagram of one index test (a tracer on a modality).

    Eligible patients (those without this scan beside them) → index test positive, negative
    or indeterminate (with the rule that counted indeterminate results), not read, repeat
    scan → reference standard (histopathology, follow-up, none) → target condition present
    or absent. Follow-up scans of this tracer and modality (``follow_up_scans`` of the flow
    table) are not index tests: the box beside the top counts them and names notebook 06.

    Parameters
    ----------
    flow : pandas.DataFrame
        :func:`nethelpers.readings.index_test_flow` (every index test; one is drawn).
    tracer, modality : str
        The index test, e.g. ``"DOTATATE"``, ``"PET/CT"``.

    Returns
    -------
    matplotlib.figure.Figure
        The diagram; the top box names the index test.

    Raises
    ------
    ValueError
        ``flow`` has no row for this index test.
    """
    rows = flow[(flow["tracer"] == tracer) & (flow["modality"] == modality)]
    if rows.empty:
        raise ValueError(f"index_test_flow: no {tracer} {modality} scans in the flow table")
    first = rows.iloc[0]
    columns = []
    for rec in rows.itertuples():
        head = f"{_RESULT_TEXT[rec.result]}\nn = {rec.scans}"
        if rec.result in ("indeterminate", "not read", "repeat scan"):
            how = rec.counted_as
            head += "\n(excluded)" if how == "excluded" else f"\n(counted {how})"
        methods = {"Histopathology": rec.histopathology, "Follow-up": rec.follow_up}
        if getattr(rec, "method_not_recorded", 0):
            methods["Method not recorded"] = rec.method_not_recorded
        reference = _lines(methods | {"None": rec.no_reference}, "Reference standard")
        target = _lines({"Present": rec.disease_present, "Absent": rec.disease_absent},
                        "Target condition")
        columns.append([(head, _HEAD), (reference, "white"), (target, "white")])
    top = (f"Eligible patients\nn = {first.eligible}\n"
           f"Index test {tracer} {modality}: {first.patients_tested}")
    sides = [f"No {tracer} {modality} scan\nn = {first.not_tested}"] if first.not_tested else []
    follow_ups = first.get("follow_up_scans", 0)
    if pd.notna(follow_ups) and follow_ups:
        sides.append(f"Follow-up scans\nn = {int(follow_ups)}\n(not index tests:\n"
                     "treatment response,\nnotebook 06)")
    return _draw(top, "\n\n".join(sides) or None, columns, INDEX_TEST_ROWS)
