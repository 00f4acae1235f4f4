"""Diagnostic accuracy tables as a journal prints them.

:func:`accuracy_table` turns a tidy accuracy frame (the output of
:func:`nethelpers.readings.accuracy_by`: one row per scan type [group, reader] and measure,
with ``estimate``/``lower``/``upper``/``numerator``/``denominator``/``method``/``note`` and the
2×2 counts ``tp``/``fp``/``fn``/``tn``) into ONE row per scan type (and group, reader, ...):

* the scan type "DOTATATE PET/CT" (``tracer`` and ``modality`` joined), then the other key
  columns (``group``, ``reader``, ``unit``) as they come;
* the 2×2 counts once: TP, FP, FN, TN;
* one column per measure, each cell "0.83 (0.59–0.94) 14/17": the proportion with its
  interval (2 decimals, as every proportion of the report, :mod:`nethelpers.pubnumbers`), then
  numerator/denominator; LR+, LR− and DOR on request ("4.7 (1.2–18)");
* the interval method said once, in a footnote, not on every row; where a row carries a
  cluster-adjusted interval (``cluster_lower``/``cluster_upper``: lesions clustered within
  patients) that interval is shown and the footnote says so; the naive one stays in the CSV;
* a value that cannot be estimated is a dash with a lettered footnote (the row's ``note``);
  equivocal calls excluded and scans without a reference standard are counted in a footnote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import pandas as pd

from nethelpers.pubformat import DASH, PubTable, _sup, ci_label
from nethelpers.pubnumbers import METHOD_WORDS, column_label, fmt_number

__all__ = ["MEASURES", "RATIOS", "accuracy_cell", "accuracy_table"]

MEASURES = ("sensitivity", "specificity", "ppv", "npv", "accuracy")
"""Proportions shown by default, in this order."""
RATIOS = ("lr_positive", "lr_negative", "dor")
"""Likelihood ratios and the diagnostic odds ratio (shown on request)."""
COUNTS = ("tp", "fp", "fn", "tn")
STAT_COLUMNS = frozenset({
    "measure", "estimate", "lower", "upper", "method", "numerator", "denominator", "note",
    "tp", "fp", "fn", "tn", "n_excluded", "n_no_reference", "n_clusters", "se_cluster",
    "design_effect", "n_eff", "cluster_lower", "cluster_upper", "cluster_method", "level",
})
"""Columns of an accuracy frame that are not keys of a row."""
KEY_LABELS = {"group": "Group", "reader": "Reader", "unit": "Level", "scan_type": "Scan type"}
TRUNCATED = re.compile(r"design effect [\d.]+ < 1 truncated to 1")
MARKS = "abcdefghijklmnoprstuvwxyz"


def _missing(value: object) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _count(value: object) -> str:
    return DASH if _missing(value) else str(int(round(float(value))))


def accuracy_cell(estimate: float, lower: float, upper: float, numerator: float | None = None,
                  denominator: float | None = None, kind: str = "proportion") -> str:
    """One cell: "0.83 (0.59–0.94) 14/17" (a ratio: "4.7 (1.2–18)"); "" when not estimable.

    Parameters
    ----------
    estimate, lower, upper : float
        The estimate and its interval (a missing bound leaves the interval out).
    numerator, denominator : float, optional
        The counts of a proportion.
    kind : str
        ``"proportion"`` or ``"lr"`` (:func:`nethelpers.pubnumbers.quantity`).

    Returns
    -------
    str
    """
    if _missing(estimate):
        return ""
    est = fmt_number(estimate, kind)
    places = len(est.split(".")[1]) if kind != "lr" and "." in est else None
    text = est
    if not _missing(lower) and not _missing(upper):
        low, high = fmt_number(lower, kind, places), fmt_number(upper, kind, places)
        text += f" ({low}{DASH}{high})"
    if not _missing(numerator) and not _missing(denominator):
        text += f" {_count(numerator)}/{_count(denominator)}"
    return text


def _note(text: object) -> str:
    if _missing(text):
        return ""
    text = str(text).strip()
    if TRUNCATED.search(text):      # one footnote for every row, not one per design effect
        return ("design effect below 1 truncated to 1 for the cluster-adjusted "
                "(effective-n) interval")
    return text


def _keys(frame: pd.DataFrame) -> list[str]:
    keys = [c for c in frame.columns if c not in STAT_COLUMNS]
    if "tracer" in keys and "modality" in keys:
        at = min(keys.index("tracer"), keys.index("modality"))
        keys = [k for k in keys if k not in ("tracer", "modality")]
        keys.insert(at, "scan_type")
    return keys


def _methods(frame: pd.DataFrame, clustered: pd.Series) -> list[str]:
    words = lambda values: ", ".join(dict.fromkeys(  # noqa: E731
        METHOD_WORDS.get(str(v), str(v)) for v in values if not _missing(v)))
    ci = ci_label(frame)
    ratio = frame["measure"].isin(RATIOS)
    plain = words(frame.loc[~clustered & ~ratio, "method"]) if "method" in frame else ""
    notes = []
    if plain:
        notes.append(f"Proportions with their {ci} ({plain}) and numerator/denominator.")
    logs = words(frame.loc[ratio, "method"]) if "method" in frame else ""
    if logs:
        notes.append(f"LR+, LR− and DOR with their {ci} ({logs}).")
    if clustered.any():
        method = words(frame.loc[clustered, "cluster_method"]) if "cluster_method" in frame \
            else ""
        notes.append(f"Lesion level: {ci} adjusted for the clustering of lesions within "
                     f"patients ({method or 'cluster-adjusted'}); the interval that treats "
                     "lesions as independent is in the CSV table.")
    return notes


def accuracy_table(frame: pd.DataFrame, caption: str | None = None,
                   measures: Sequence[str] = MEASURES, *, ratios: bool = False,
                   labels: Mapping[str, str] | None = None,
                   notes: Sequence[str] | None = None) -> PubTable:
    """Format a tidy accuracy frame as one row per scan type [group, reader].

    Parameters
    ----------
    frame : pandas.DataFrame
        ``readings.accuracy_by`` output (or a subset of its rows and columns; a frame with
        ``cluster_lower``/``cluster_upper`` shows those intervals where they are present).
    caption : str, optional
        Caption above the table.
    measures : sequence of str
        The proportions shown, in order (measures absent from the frame are left out).
    ratios : bool
        Also show LR+, LR− and DOR.
    labels : mapping, optional
        Labels of key columns (``{"group": "Patient group"}``).
    notes : sequence of str, optional
        Footnotes added after the automatic ones.

    Returns
    -------
    PubTable
        ``.frame`` all strings, the method footnote first.
    """
    df = frame.reset_index(drop=True).copy()
    if "tracer" in df and "modality" in df:
        df["scan_type"] = df["tracer"].astype(str) + " " + df["modality"].astype(str)
    keys = _keys(frame)
    clustered = (df["cluster_lower"].notna() & df["cluster_upper"].notna()
                 if {"cluster_lower", "cluster_upper"} <= set(df) else
                 pd.Series(False, index=df.index))
    shown = [m for m in (*measures, *(RATIOS if ratios else ())) if m in set(df["measure"])]
    names = {**KEY_LABELS, **dict(labels or {})}
    header = [names.get(k, column_label(k)) for k in keys]
    counts = [c for c in COUNTS if c in df]
    header += [c.upper() for c in counts] + [column_label(m) for m in shown]
    marks: dict[str, str] = {}
    rows, excluded, no_reference = [], [], []
    for key, block in df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]:
        key = key if isinstance(key, tuple) else (key,)
        first = block.iloc[0]
        row = [DASH if _missing(k) else str(k) for k in key]
        row += [_count(first[c]) for c in counts]
        for measure in shown:
            hit = block[block["measure"] == measure]
            if hit.empty:
                row.append(DASH)
                continue
            r, i = hit.iloc[0], hit.index[0]
            low, high = ((r["cluster_lower"], r["cluster_upper"]) if clustered[i]
                         else (r.get("lower"), r.get("upper")))
            kind = "lr" if measure in RATIOS else "proportion"
            frac = (r.get("numerator"), r.get("denominator")) if kind == "proportion" \
                else (None, None)
            cell = accuracy_cell(r["estimate"], low, high, *frac, kind=kind) or DASH
            note = _note(r.get("note"))
            if note:
                cell += _sup(marks.setdefault(note, MARKS[len(marks) % len(MARKS)]))
            row.append(cell)
        label = " ".join(row[:len(keys)])
        for column, bucket in (("n_excluded", excluded), ("n_no_reference", no_reference)):
            if column in block and not _missing(first[column]) and float(first[column]) > 0:
                bucket.append(f"{label} {_count(first[column])}")
        rows.append(row)
    footnotes = _methods(df[df["measure"].isin(shown)], clustered[df["measure"].isin(shown)])
    footnotes += [f"{_sup(m)} {n}" for n, m in marks.items()]
    if excluded:
        footnotes.append("Equivocal calls excluded: " + "; ".join(excluded) + ".")
    if no_reference:
        footnotes.append("Without a reference standard (left out): " + "; ".join(no_reference)
                         + ".")
    if any(cell == DASH for row in rows for cell in row[len(keys):]):
        footnotes.append(f"{DASH} not estimable (no case in its denominator).")
    footnotes += [str(n) for n in (notes or ())]
    table = pd.DataFrame(rows, columns=header).astype(str)
    numeric = [False] * len(keys) + [True] * (len(header) - len(keys))
    return PubTable(table, caption, footnotes, numeric)
