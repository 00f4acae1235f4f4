"""The one formatter of every displayed table: notebook pages, index.html and the .docx.

``pub_table(frame)`` turns a tidy table of raw numbers (the CSV a notebook saves with
``report.table``) into a publication table:

* an estimate with its interval is one cell, "0.79 (0.71–0.85)": ``estimate`` with
  ``lower``/``upper`` (or ``difference``, ``auc``, ... when there is no ``estimate``), any
  ``X`` with ``X_lower``/``X_upper``; a second interval (``cluster_lower``/``cluster_upper``,
  ``delong_lower``...) is a column of its own, "95% CI (cluster-adjusted)";
* a median with its quartiles (``X_median``/``X_q1``/``X_q3``) is "2.13 [1.95–2.41]";
* decimals by quantity and p values by the rules of :mod:`nethelpers.pubnumbers`;
* no index column; column names for people ("ppv" → "PPV"); the values of a ``measure``
  and a ``method`` column spelled out;
* a missing value is a dash, "–", explained in a footnote: by the row's ``note`` when the table
  has one (the notes become lettered footnotes, and the column is dropped), otherwise as
  "not estimable" (a statistic) or "not applicable" (any other column); a column without any
  value is dropped;
* text is never cut: cells wrap (the HTML offers break points in long paths and codes).

``PubTable.frame`` is the all-string table (for a .docx), ``.footnotes`` its footnotes,
``.caption`` its caption; ``_repr_html_`` displays it in a notebook with the CSS classes of the
report template (``pub-table``, ``num``, ``pub-caption``, ``pub-footnotes``;
:mod:`nethelpers.pubhtml`). A blank string cell stays blank (a heading row of Table 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from nethelpers.pubnumbers import (
    EN_DASH,
    METHOD_WORDS,
    VALUE_LABELS,
    column_label,
    fmt_number,
    quantity,
    value_label,
)

__all__ = ["DASH", "PubTable", "pub_table"]

DASH = EN_DASH
NOT_ESTIMABLE = f"{DASH} not estimable"
NOT_APPLICABLE = f"{DASH} not applicable"
MARKS = "abcdefghijklmnoprstuvwxyz"  # no superscript q in Unicode
ANCHORS = ("estimate", "difference", "hodges_lehmann_estimate", "auc", "kappa", "icc",
           "mean", "median")
"""Columns a bare ``lower``/``upper`` pair belongs to, first present wins."""
GENERIC = frozenset({"estimate", "lower", "upper", "difference", "estimate_a", "estimate_b",
                     "cluster_lower", "cluster_upper", "value"})
"""Columns whose quantity is the row's ``measure`` when the table has one."""
PREFIX_WORDS = {"cluster": "cluster-adjusted", "clustered": "cluster-adjusted",
                "delong": "DeLong", "exact": "exact", "bootstrap": "bootstrap",
                "wald": "Wald"}
BLANK = "\u0000blank"
"""What a cell of a blank string returns: shown empty, not as a missing value."""


@dataclass
class PubTable:
    """A formatted table: all-string cells, caption and footnotes.

    Attributes
    ----------
    frame : pandas.DataFrame
        Cells as strings, columns with human labels, no index.
    caption : str or None
    footnotes : list of str
    numeric : list of bool
        Per column: holds numbers (right-aligned in HTML).
    """

    frame: pd.DataFrame
    caption: str | None = None
    footnotes: list[str] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)

    def _repr_html_(self) -> str:
        from nethelpers.pubhtml import to_html

        return to_html(self)

    def __repr__(self) -> str:
        text = self.frame.to_string(index=False)
        parts = [self.caption or "", text, *self.footnotes]
        return "\n".join(part for part in parts if part)


@dataclass
class _Column:
    label: str
    kind: str                   # "single", "interval", "ci_only", "iqr"
    sources: tuple[str, ...]
    statistic: bool = True


def ci_label(frame: pd.DataFrame) -> str:
    """The heading of an interval: "95% CI", or the table's own ``level`` when it has one."""
    if "level" in frame.columns:
        levels = pd.to_numeric(frame["level"], errors="coerce").dropna().unique()
        if len(levels) == 1 and 0 < levels[0] < 1:
            return f"{levels[0] * 100:g}% CI"
    return "95% CI"


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def _plan(frame: pd.DataFrame, ci: str) -> list[_Column]:
    cols = list(frame.columns)
    used: set[str] = set()
    plan: list[_Column] = []
    anchor = next((a for a in ANCHORS if a in cols and f"{a}_lower" not in cols), None)
    owners = _owners(frame, cols)
    for name in cols:
        if name in used:
            continue
        if name in owners:
            low, high = owners[name]
            plan.append(_Column(f"{column_label(name)} ({ci})", "interval", (name, low, high)))
            used |= {name, low, high}
            continue
        low, high = f"{name}_lower", f"{name}_upper"
        if low in cols and high in cols:
            plan.append(_Column(f"{column_label(name)} ({ci})", "interval", (name, low, high)))
            used |= {name, low, high}
        elif name == anchor and "lower" in cols and "upper" in cols:
            plan.append(_Column(f"{column_label(name)} ({ci})", "interval",
                                (name, "lower", "upper")))
            used |= {name, "lower", "upper"}
        elif name.endswith("_median") and {f"{name[:-7]}_q1", f"{name[:-7]}_q3"} <= set(cols):
            base = name[:-7]
            plan.append(_Column(f"{column_label(base)}, median [IQR]", "iqr",
                                (name, f"{base}_q1", f"{base}_q3")))
            used |= {name, f"{base}_q1", f"{base}_q3"}
        elif name == "median" and {"q1", "q3"} <= set(cols):
            plan.append(_Column("Median [IQR]", "iqr", ("median", "q1", "q3")))
            used |= {"median", "q1", "q3"}
        elif name.endswith("_lower") and name[:-6] + "_upper" in cols:
            prefix = name[:-6]
            word = PREFIX_WORDS.get(prefix, column_label(prefix))
            label = f"{ci} ({word})" if prefix in PREFIX_WORDS else column_label(prefix)
            plan.append(_Column(label, "ci_only", (name, prefix + "_upper")))
            used |= {name, prefix + "_upper"}
        elif name.endswith("_upper") and name[:-6] + "_lower" in cols:
            continue                    # planned with its lower bound
        else:
            statistic = _is_numeric(frame[name]) and quantity(name) not in ("count",)
            plan.append(_Column(column_label(name), "single", (name,), statistic))
            used.add(name)
    return plan


def _owners(frame: pd.DataFrame, cols: list[str]) -> dict[str, tuple[str, str]]:
    """Estimates of prefixed bounds: ``icc_a1`` owns ``icc_lower``/``icc_upper``."""
    owners: dict[str, tuple[str, str]] = {}
    for name in cols:
        prefix = name[:-6]
        if not name.endswith("_lower") or prefix + "_upper" not in cols or prefix in cols:
            continue
        owner = next((c for c in cols if c.startswith(prefix + "_") and c not in owners
                      and not c.endswith(("_lower", "_upper")) and _is_numeric(frame[c])),
                     None)
        if owner is not None:
            owners[owner] = (name, prefix + "_upper")
    return owners


def _kind(column: str, row: pd.Series, has_measure: bool) -> str:
    if has_measure and column in GENERIC:
        measure = row.get("measure")
        if isinstance(measure, str) and quantity(measure) != "other":
            return quantity(measure)
    return quantity(column)


def _interval(lower: str, upper: str) -> str:
    if not lower or not upper:
        return ""
    joiner = " to " if lower.startswith("\u2212") or upper.startswith("\u2212") else EN_DASH
    return f"{lower}{joiner}{upper}"


def _cells(col: _Column, row: pd.Series, options: dict) -> str:
    has_measure, decimals, percent = options["measure"], options["decimals"], options["percent"]

    def num(name: str, like: str | None = None) -> str:
        value = row[name]
        kind = _kind(like or name, row, has_measure)
        places = decimals.get(like or name) if isinstance(decimals, Mapping) else decimals
        if _is_scalar_missing(value):
            return ""
        if isinstance(value, str):
            return value
        return fmt_number(value, kind, places, percent)

    if col.kind == "single":
        name = col.sources[0]
        value = row[name]
        if _is_scalar_missing(value):
            return ""
        if isinstance(value, bool) or (hasattr(value, "dtype") and str(value) in ("True",
                                                                                   "False")):
            return "yes" if bool(value) else "no"
        if isinstance(value, (int, float)) or pd.api.types.is_number(value):
            return num(name)
        text = str(value)
        if not text.strip():
            return BLANK                # left blank on purpose (a heading row of Table 1)
        if name == "measure":
            return value_label(text)
        if name.endswith("method"):
            return METHOD_WORDS.get(text, text)
        return VALUE_LABELS.get(name, {}).get(text, text)
    if col.kind == "ci_only":
        like = col.sources[0]
        bounds = [num(col.sources[0], like), num(col.sources[1], like)]
        places = max((len(b.split(".")[1]) for b in bounds if "." in b), default=0)
        if places and not isinstance(decimals, int):    # "0.67–1.00", never "0.67–1"
            bounds = [fmt_number(row[name], _kind(like, row, has_measure), places, percent)
                      if b and "." not in b else b
                      for b, name in zip(bounds, col.sources, strict=True)]
        return _interval(*bounds)
    est = num(col.sources[0])
    if not est:
        return ""
    kind = _kind(col.sources[0], row, has_measure)
    if kind not in ("lr", "count", "p") and not percent and "." in est:
        shared = len(est.split(".")[1])
        decimals = {col.sources[0]: shared}
    lower = num(col.sources[1], col.sources[0])
    upper = num(col.sources[2], col.sources[0])
    if percent and kind == "proportion":
        est += "%"
    bounds = _interval(lower, upper)
    if not bounds:
        return est
    return f"{est} ({bounds})" if col.kind == "interval" else f"{est} [{bounds}]"


def _is_scalar_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        missing = pd.isna(value)
    except (TypeError, ValueError):
        return False
    return bool(missing) if not hasattr(missing, "__len__") else False


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    df = frame.copy()
    named = any(name is not None for name in df.index.names)
    if named or not isinstance(df.index, pd.RangeIndex):
        if named:
            df = df.reset_index()
        else:
            df = df.reset_index(drop=True)
    df.columns = [str(c) if not isinstance(c, tuple) else " ".join(map(str, c)).strip()
                  for c in df.columns]
    keep = [c for c in df.columns if not bool(df[c].isna().all())]
    return df[keep] if len(df) and keep else df     # a column without any value is dropped


def pub_table(frame: pd.DataFrame, caption: str | None = None,
              columns: Sequence[str] | None = None, labels: Mapping[str, str] | None = None,
              notes: Sequence[str] | None = None,
              decimals: int | Mapping[str, int] | None = None, *,
              percent: bool = False) -> PubTable:
    """Format a table of raw numbers for display and publication.

    Parameters
    ----------
    frame : pandas.DataFrame
        The tidy table (raw numbers); its index is dropped unless it is named (then it
        becomes the first columns).
    caption : str, optional
        Caption above the table.
    columns : sequence of str, optional
        Source columns to show, in order (an estimate stands for its merged interval; a
        median for its IQR); ``note``, bounds and ``level`` are used even when not listed.
    labels : mapping, optional
        Labels of source columns that override the automatic ones (``{"estimate": "Value"}``).
    notes : sequence of str, optional
        Footnotes added after the automatic ones.
    decimals : int or mapping, optional
        Decimals of every number, or per source column; overrides the quantity rules.
    percent : bool
        Show proportions as percent ("79.2% (71.4–85.3)").

    Returns
    -------
    PubTable
    """
    df = _prepare(frame)
    ci = ci_label(df)
    row_notes = (df["note"].map(lambda v: "" if _is_scalar_missing(v) else str(v).strip())
                 if "note" in df.columns else None)
    body = df.drop(columns=[c for c in ("note", "level") if c in df.columns])
    plan = _plan(body, ci)
    if columns is not None:
        order = {name: i for i, name in enumerate(columns)}
        plan = sorted((c for c in plan if c.sources[0] in order),
                      key=lambda c: order[c.sources[0]])
    labels = dict(labels or {})
    options = {"measure": "measure" in body.columns, "decimals": decimals or {},
               "percent": percent}
    marks: dict[str, str] = {}
    legend: set[str] = set()
    header = _unique([labels.get(c.sources[0], c.label) for c in plan],
                     [c.sources[0] for c in plan])
    out: dict[str, list[str]] = {label: [] for label in header}
    for i, (_, row) in enumerate(body.iterrows()):
        note = row_notes.iloc[i] if row_notes is not None else ""
        mark = ""
        if note:
            mark = marks.setdefault(note, MARKS[len(marks) % len(MARKS)])
        marked = False
        for col, label in zip(plan, header, strict=True):
            text = _cells(col, row, options)
            if text is BLANK:
                text = ""
            elif not text:
                text = DASH
                if mark:
                    text, marked = f"{DASH}{_sup(mark)}", True
                else:
                    legend.add(NOT_ESTIMABLE if col.statistic else NOT_APPLICABLE)
            out[label].append(text)
        if mark and not marked and header:
            target = next((lab for c, lab in zip(plan, header, strict=True)
                           if c.kind == "interval"), header[0])
            out[target][-1] += _sup(mark)
    table = pd.DataFrame(out, columns=header).astype(str) if header else pd.DataFrame()
    footnotes = [f"{_sup(m)} {n}" for n, m in marks.items()]
    footnotes += sorted(legend) + [str(n) for n in (notes or ())]
    numeric = [c.kind != "single" or _is_numeric(body[c.sources[0]]) for c in plan]
    return PubTable(table, caption, footnotes, numeric)


def _unique(labels: list[str], names: list[str]) -> list[str]:
    """Labels made unique: a repeated one is spelled from its column name ("n_scans")."""
    out: list[str] = []
    for label, name in zip(labels, names, strict=True):
        if label in out:
            label = name.replace("_", " ")
        while label in out:
            label += " "                   # invisible, keeps the header readable
        out.append(label)
    return out


SUPERSCRIPT = str.maketrans("abcdefghijklmnoprstuvwxyz", "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻ")


def _sup(mark: str) -> str:
    return mark.translate(SUPERSCRIPT)
