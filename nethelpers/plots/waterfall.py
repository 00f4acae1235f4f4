"""Waterfall plot of the per-patient response: the change of the target, coloured by category.

One figure per scan type (tracer x modality) and rule set: one bar per patient, from the
largest rise on the left to the largest fall on the right, height the relative change of the
rule set's statistic (the ``change_rel`` of :func:`nethelpers.response.patient_response`,
in percent), coloured by the response category. A patient without a category, or with a
category but no change (a new lesion with no baseline target, every lesion gone at
follow-up), has no bar: such patients are listed under the plot with the reason, never drawn
as 0. The dashed lines are the rule's relative threshold (``response.relative_change``); a
bar beyond it may still be SMD when the absolute minimum (PERCIST 0.8 SUL) is not reached.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from nethelpers.configresponse import ResponseConfig
from nethelpers.plots.style import OKABE_ITO, figure_style
from nethelpers.pubnumbers import column_label
from nethelpers.responsecriteria import CATEGORIES

__all__ = ["CATEGORY_COLOURS", "waterfall_plot"]

CATEGORY_COLOURS = {"CMR": OKABE_ITO[0], "PMR": OKABE_ITO[2], "SMD": OKABE_ITO[1],
                    "PMD": OKABE_ITO[3]}
"""Colour of each category (Okabe-Ito: blue, bluish green, orange, vermillion)."""
STATISTIC_LABELS = {"tlr": "tumour-to-liver ratio", "tsr": "tumour-to-spleen ratio"}
"""Words of the statistics :func:`nethelpers.pubnumbers.column_label` does not spell."""
DEFAULT_RELATIVE_CHANGE: float = ResponseConfig.model_fields["relative_change"].default
MAX_LABELS = 30
"""Most bars that still get their patient ID as a tick label."""


def _one(responses: pd.DataFrame, column: str) -> str:
    """The single value of ``column`` (empty when absent); several values raise."""
    if column not in responses.columns:
        return ""
    values = sorted({str(v).strip() for v in responses[column].dropna()} - {""})
    if len(values) > 1:
        raise ValueError(f"waterfall_plot: column {column} has {', '.join(values)}: draw one "
                         f"{column} per figure (filter the responses first)")
    return values[0] if values else ""


def _category(value: object) -> str | None:
    if value is None or pd.isna(value) or not str(value).strip():
        return None
    text = str(value).strip()
    if text not in CATEGORIES:
        raise ValueError(f"waterfall_plot: category {text!r}: use {', '.join(CATEGORIES)} "
                         "or leave it empty")
    return text


def _missing_reason(row: pd.Series, category: object) -> str:
    if category is None or pd.isna(category):
        reason = str(row.get("reason", "") or "").strip()
        return f"no category: {reason}" if reason and reason != "nan" else "no category"
    missing = [w for w in ("baseline", "followup")
               if not np.isfinite(pd.to_numeric(row.get(f"{w}_value"), errors="coerce"))]
    words = {"baseline": "no baseline value", "followup": "no follow-up value"}
    return f"{category}, {' and '.join(words[w] for w in missing) or 'no change'}"


def _days(responses: pd.DataFrame) -> str:
    if "days_between" not in responses.columns:
        return ""
    days = pd.to_numeric(responses["days_between"], errors="coerce").dropna()
    if days.empty:
        return ""
    return (f"Days between scans: median {days.median():g} (range {days.min():g}–"
            f"{days.max():g}).")


def waterfall_plot(responses: pd.DataFrame, *,
                   relative_change: float = DEFAULT_RELATIVE_CHANGE,
                   max_labels: int = MAX_LABELS, title: str | None = None) -> Figure:
    """One bar per patient: the relative change of the target, sorted, coloured by category.

    Parameters
    ----------
    responses : pandas.DataFrame
        Rows of :func:`nethelpers.response.patient_response` of one scan type and rule set:
        ``patient_id, category, change_rel`` and, when present, ``tracer, modality,
        rule_set, statistic, reason, baseline_value, followup_value, days_between``.
    relative_change : float
        The rule's threshold (``response.relative_change``), drawn dashed at +/- it.
    max_labels : int
        Patient IDs (pseudonyms) label the bars when there are at most this many.
    title : str, optional
        Axes title (default: tracer and modality).

    Returns
    -------
    matplotlib.figure.Figure
        Bars in order of decreasing change (ties by patient_id), heights in percent; the
        legend gives each category's bars; patients not drawn are listed under the axes.

    Raises
    ------
    ValueError
        An empty table, a missing column, an unknown category, several tracers, modalities,
        rule sets or statistics in one table, a threshold outside (0, 1).
    """
    if responses.empty:
        raise ValueError("waterfall_plot: the table is empty")
    missing = [c for c in ("patient_id", "category", "change_rel") if c not in responses]
    if missing:
        raise ValueError(f"waterfall_plot: no column {', '.join(missing)}")
    if not 0 < relative_change < 1:
        raise ValueError(f"waterfall_plot: relative_change must be in (0, 1), got "
                         f"{relative_change}")
    tracer, modality = _one(responses, "tracer"), _one(responses, "modality")
    rule_set, statistic = _one(responses, "rule_set"), _one(responses, "statistic")
    data = responses.assign(_id=responses["patient_id"].astype(str),
                            _cat=[_category(v) for v in responses["category"]],
                            _pct=100.0 * pd.to_numeric(responses["change_rel"],
                                                       errors="coerce"))
    drawn = data["_cat"].notna() & np.isfinite(data["_pct"])
    bars = data[drawn].sort_values(["_pct", "_id"], ascending=[False, True], kind="stable")
    left_out = [f"{r['_id']} ({_missing_reason(r, r['_cat'])})"
                for _, r in data[~drawn].sort_values("_id").iterrows()]
    stat = STATISTIC_LABELS.get(statistic, column_label(statistic)) if statistic else "target"
    note = " ".join(filter(None, [
        f"Not drawn ({len(left_out)}): {'; '.join(left_out)}." if left_out else "",
        _days(responses)]))
    return _draw(bars, note, relative_change, max_labels,
                 title if title is not None else " ".join(filter(None, (tracer, modality))),
                 f"Change of target {stat} (%)"
                 + (f"\nrule set: {rule_set}" if rule_set else ""))


#: Hatch of the bars whose PMD a new lesion decided (the bar is the target's change).
NEW_LESION_HATCH = "////"


def _by_new_lesion(bars: pd.DataFrame) -> np.ndarray:
    """Whether each bar's category was decided by a new lesion (``decided_by``)."""
    if "decided_by" not in bars.columns:
        return np.zeros(len(bars), dtype=bool)
    text = bars["decided_by"].astype("string").fillna("")
    return (text.str.startswith("new lesion") & (bars["_cat"] == "PMD")).to_numpy(dtype=bool)


def _draw(bars: pd.DataFrame, note: str, relative_change: float, max_labels: int,
          title: str, ylabel: str) -> Figure:
    """The figure: axes of fixed height, legend on the right, the note wrapped below."""
    n = len(bars)
    labelled = 0 < n <= max_labels
    width = min(7.2, max(4.2, 2.4 + 0.14 * n))
    lines = textwrap.wrap(note, width=int(width * 15)) if note else []
    below = (0.62 if labelled else 0.3) + 0.16 * len(lines) + 0.1     # inches
    axes_h, top = 2.3, 0.35
    height = below + axes_h + top
    threshold = 100.0 * relative_change
    with figure_style():
        fig = Figure(figsize=(width, height), dpi=100)
        ax = fig.add_axes((0.75 / width, below / height, (width - 2.1) / width,
                           axes_h / height))
        x = np.arange(n)
        patches = ax.bar(x, bars["_pct"].to_numpy(dtype=float), width=0.8,
                         color=[CATEGORY_COLOURS[c] for c in bars["_cat"]], linewidth=0)
        by_new = _by_new_lesion(bars)
        for patch, new in zip(patches, by_new, strict=True):
            if new:     # PMD decided by a new lesion, whatever the target did
                patch.set_hatch(NEW_LESION_HATCH)
                patch.set_edgecolor("white")
        ax.axhline(0.0, color="#666666", linewidth=0.6)
        for y in (threshold, -threshold):
            ax.axhline(y, color="black", linestyle="--", linewidth=0.8)
        values = bars["_pct"].to_numpy(dtype=float)
        low = min(-threshold, values.min() if n else 0.0)
        high = max(threshold, values.max() if n else 0.0)
        pad = 0.08 * (high - low)
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlim(-0.7, max(n, 1) - 0.3)
        if labelled:
            ax.set_xticks(x, list(bars["_id"]), rotation=90, fontsize=6.5)
        else:
            ax.set_xticks([])
        if n == 0:
            ax.text(0.5, 0.5, "No patient has a category and a change to draw",
                    transform=ax.transAxes, ha="center", va="center", fontsize=8)
        ax.set_xlabel(f"Patients (n = {n}), largest rise to largest fall")
        ax.set_ylabel(ylabel)
        if title:
            ax.set_title(title)
        handles = [Patch(color=CATEGORY_COLOURS[c],
                         label=f"{c} (n = {int((bars['_cat'] == c).sum())})")
                   for c in CATEGORIES]
        if by_new.any():
            handles.append(Patch(facecolor=CATEGORY_COLOURS["PMD"], edgecolor="white",
                                 hatch=NEW_LESION_HATCH,
                                 label=f"  of which by a new lesion (n = {int(by_new.sum())})"))
        handles.append(Line2D([], [], color="black", linestyle="--", linewidth=0.8,
                              label=f"±{threshold:g} %"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        if lines:
            fig.text(0.12 / width, 0.08 / height, "\n".join(lines), ha="left",
                     va="bottom", fontsize=7, linespacing=1.3)
    return fig
