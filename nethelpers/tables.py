"""Descriptive tables of the cohort: Table 1 (and, re-exported, the scan inventory).

Conventions (state them under Table 1 in a paper): continuous variables as mean ± SD (sample
SD, n − 1) or median [IQR] (quartiles by linear interpolation, R's default type 7);
categorical variables as n (%) with the non-missing patients of the column as denominator.
NET grade and Ki-67 are described among patients with a final diagnosis of NET; FGF23 and
phosphate among patients of the TIO groups (other columns show "–").

The groups, diagnoses, tracers and modalities are the study's own (``cohort.vocabulary`` or
``params.vocabulary``; the protocol's by default), shown with their labels and in their order.
A patient without a recorded group is counted in a column of its own, :data:`NOT_RECORDED`,
never dropped; a missing value is counted as missing, never as a level. The group helpers
live in :mod:`nethelpers.groups`, the scan inventory in :mod:`nethelpers.inventory`; both are
importable from here too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from nethelpers.cohort import GRADES, REFERENCE_STANDARDS, SEXES
from nethelpers.groups import (
    NOT_RECORDED,
    OVERALL,
    group_label,
    group_order,
    group_table,
    label_groups,
    patient_groups,
)
from nethelpers.inventory import scan_inventory, scan_totals, scan_types
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = [
    "NOT_RECORDED",
    "OVERALL",
    "Table1",
    "bmi",
    "continuous_summary",
    "group_label",
    "group_order",
    "group_table",
    "label_groups",
    "patient_groups",
    "scan_inventory",
    "scan_totals",
    "scan_types",
    "table1",
    "variables",
]

DASH = "–"
NUMERIC_COLUMNS = (
    "variable",
    "level",
    "group",
    "n",
    "denominator",
    "percent",
    "n_missing",
    "mean",
    "sd",
    "median",
    "q1",
    "q3",
    "min",
    "max",
)


@dataclass(frozen=True)
class Variable:
    """One block of Table 1.

    Parameters
    ----------
    label : str
        Row label in the paper table (with unit).
    column : str
        Column of the patients table (``bmi`` is derived).
    kind : {"mean", "median", "category"}
        Summary: mean ± SD, median [IQR] or n (%) per level.
    levels : tuple of str
        Levels of a categorical variable, in display order.
    level_labels : dict
        Display labels of levels.
    subset : callable, optional
        Patients the variable is described among (``None``: all patients).
    subset_note : str
        Shown after the label when a subset applies.
    digits : int
        Decimals of a continuous summary in the paper table.
    """

    label: str
    column: str
    kind: str
    levels: tuple[str, ...] = ()
    level_labels: dict[str, str] | None = None
    subset: Callable[[pd.DataFrame], pd.Series] | None = None
    subset_note: str = ""
    digits: int = 1


# --------------------------------------------------------------------------------------------
# Table 1
# --------------------------------------------------------------------------------------------


def _is_net(df: pd.DataFrame) -> pd.Series:
    return df["final_diagnosis"].astype("string").eq("NET").fillna(False)


def variables(vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> tuple[Variable, ...]:
    """Return the blocks of Table 1 for a study's vocabulary.

    Parameters
    ----------
    vocabulary : Vocabulary
        Gives the final diagnoses (levels, in order) and the TIO groups (FGF23, phosphate).

    Returns
    -------
    tuple of Variable
        In the order of the table.
    """
    tio = vocabulary.tio_groups

    def is_tio_group(df: pd.DataFrame) -> pd.Series:
        return df["group"].astype("string").isin(tio).fillna(False)

    return (
        Variable("Age, years", "age", "mean"),
        Variable("Age, years", "age", "median"),
        Variable("Sex", "sex", "category", SEXES, {"F": "Female", "M": "Male"}),
        Variable("Weight, kg", "weight_kg", "mean"),
        Variable("Height, cm", "height_cm", "mean"),
        Variable("BMI, kg/m²", "bmi", "mean"),
        Variable("Final diagnosis", "final_diagnosis", "category",
                 tuple(vocabulary.diagnoses), {"none": "No disease"}),
        Variable(
            "Reference standard",
            "reference_standard",
            "category",
            REFERENCE_STANDARDS,
            {"histopathology": "Histopathology", "follow-up": "Follow-up"},
        ),
        Variable("NET grade", "grade", "category", GRADES, None, _is_net, "NET"),
        Variable("Ki-67, %", "ki67", "median", (), None, _is_net, "NET"),
        Variable("FGF23, RU/ml", "fgf23_ru_ml", "median", (), None, is_tio_group,
                 "TIO groups", 0),
        Variable("Phosphate, mmol/l", "phosphate_mmol_l", "mean", (), None, is_tio_group,
                 "TIO groups", 2),
    )


VARIABLES = variables()
"""The blocks of Table 1 for the default vocabulary."""


def bmi(patients: pd.DataFrame) -> pd.Series:
    """Compute the body-mass index, kg/m², from ``weight_kg`` and ``height_cm``.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table.

    Returns
    -------
    pandas.Series
        weight / height², NaN where either is missing.
    """
    height_m = pd.to_numeric(patients["height_cm"], errors="coerce") / 100.0
    return pd.to_numeric(patients["weight_kg"], errors="coerce") / height_m**2


def continuous_summary(values: pd.Series) -> dict[str, float]:
    """Summarise a numeric series: n, n_missing, mean, sd, median, q1, q3, min, max.

    NaN-safe (missing values are counted, not summarised); an empty series gives NaN.
    Quartiles by linear interpolation.
    """
    x = pd.to_numeric(values, errors="coerce").astype("float64").dropna()
    n = len(x)
    stats = {"n": n, "n_missing": int(values.isna().sum())}
    if n == 0:
        nan = float("nan")
        return stats | dict.fromkeys(("mean", "sd", "median", "q1", "q3", "min", "max"), nan)
    return stats | {
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if n > 1 else float("nan"),
        "median": float(x.median()),
        "q1": float(x.quantile(0.25)),
        "q3": float(x.quantile(0.75)),
        "min": float(x.min()),
        "max": float(x.max()),
    }


def _categorical(values: pd.Series, levels: Sequence[str]) -> list[dict[str, float]]:
    """Count n (%) per level among non-missing values."""
    text = values.astype("string")
    denominator = int(text.notna().sum())
    rows = []
    for level in levels:
        n = int(text.eq(level).fillna(False).sum())
        percent = 100.0 * n / denominator if denominator else float("nan")
        rows.append(
            {
                "level": level,
                "n": n,
                "denominator": denominator,
                "percent": percent,
                "n_missing": int(text.isna().sum()),
            }
        )
    return rows


def _summarise(df: pd.DataFrame, group: str, blocks: tuple[Variable, ...],
               tio_groups: tuple[str, ...]) -> list[dict[str, object]]:
    """Compute all Table 1 numbers for one column (a group or overall); ``variable`` = column."""
    rows: list[dict[str, object]] = [
        {"variable": "patients", "level": "", "group": group, "n": len(df)}
    ]
    done: set[str] = set()
    for var in blocks:
        if var.column in done:
            continue
        done.add(var.column)
        tio_only = var.subset_note == "TIO groups"
        if tio_only and group != OVERALL and group not in tio_groups:
            continue
        values = (df[var.subset(df)] if var.subset is not None else df)[var.column]
        if var.kind == "category":
            for row in _categorical(values, var.levels):
                rows.append({"variable": var.column, "group": group} | row)
        else:
            rows.append({"variable": var.column, "level": "", "group": group}
                        | continuous_summary(values))
    return rows


@dataclass(frozen=True)
class Table1:
    """Table 1 of a cohort, numeric and formatted.

    Attributes
    ----------
    numeric : pandas.DataFrame
        Tidy: one row per variable (the patients column, ``patients`` for the count,
        ``bmi`` derived) × level × group with ``n, denominator, percent,
        n_missing, mean, sd, median, q1, q3, min, max`` (NaN where not applicable).
    formatted : pandas.DataFrame
        For a paper: one row per line of the table (``Characteristic``), one column per
        group plus ``Overall``, headed ``<label> (n = k)``.
    """

    numeric: pd.DataFrame
    formatted: pd.DataFrame


def _fmt(value: float, digits: int = 1) -> str:
    return DASH if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _missing_note(row: pd.Series) -> str:
    missing = row.get("n_missing", 0)
    return f" ({int(missing)} missing)" if pd.notna(missing) and missing > 0 else ""


def _cell(row: pd.Series | None, kind: str, digits: int = 1) -> str:
    """Format one cell of the paper table."""
    if row is None:
        return DASH
    if kind == "category":
        if not row["denominator"]:
            return DASH
        return f"{int(row['n'])} ({row['percent']:.0f}%)"
    if not row["n"]:
        return DASH + _missing_note(row)
    if kind == "mean":
        text = f"{_fmt(row['mean'], digits)} ± {_fmt(row['sd'], digits)}"
    else:
        low, high = _fmt(row["q1"], digits), _fmt(row["q3"], digits)
        text = f"{_fmt(row['median'], digits)} [{low}–{high}]"
    return text + _missing_note(row)


def _line_label(var: Variable, level: str = "") -> str:
    unit_note = f" ({var.subset_note} only)" if var.subset_note else ""
    if var.kind == "category":
        return f"  {(var.level_labels or {}).get(level, level)}"
    summary = "mean ± SD" if var.kind == "mean" else "median [IQR]"
    return f"{var.label}, {summary}{unit_note}"


def _missing_cell(row: pd.Series | None) -> str:
    """The count of patients without a value of a categorical variable."""
    if row is None or pd.isna(row["n_missing"]):
        return DASH
    return str(int(row["n_missing"]))


def _format(numeric: pd.DataFrame, groups: list[str], blocks: tuple[Variable, ...],
            labels: dict[str, str]) -> pd.DataFrame:
    """Lay the numeric table out for a paper."""
    index = numeric.set_index(["variable", "level", "group"])
    headers = {
        g: f"{labels.get(g, g)} (n = {int(index.loc[('patients', '', g), 'n'])})"
        for g in groups
    }

    def lookup(variable: str, level: str, group: str) -> pd.Series | None:
        key = (variable, level, group)
        return index.loc[key] if key in index.index else None

    lines: list[dict[str, str]] = []
    for var in blocks:
        if var.kind == "category":
            note = f" ({var.subset_note} only)" if var.subset_note else ""
            lines.append(
                {"Characteristic": f"{var.label}, n (%){note}"}
                | dict.fromkeys(headers.values(), "")
            )
            for level in var.levels:
                cells = {
                    headers[g]: _cell(lookup(var.column, level, g), "category") for g in groups
                }
                lines.append({"Characteristic": _line_label(var, level)} | cells)
            overall = lookup(var.column, var.levels[0], OVERALL) if var.levels else None
            if overall is not None and pd.notna(overall["n_missing"]) and overall["n_missing"]:
                cells = {headers[g]: _missing_cell(lookup(var.column, var.levels[0], g))
                         for g in groups}
                lines.append({"Characteristic": f"  {NOT_RECORDED}, n"} | cells)
        else:
            cells = {
                headers[g]: _cell(lookup(var.column, "", g), var.kind, var.digits) for g in groups
            }
            lines.append({"Characteristic": _line_label(var)} | cells)
    return pd.DataFrame(lines, columns=["Characteristic", *headers.values()])


def table1(patients: pd.DataFrame, by: str = "group",
           vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> Table1:
    """Describe demographics and clinical characteristics by group and overall.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table from :func:`nethelpers.cohort.load_patients` (or ``Cohort.patients``).
    by : str
        Grouping column. Groups appear in the vocabulary's order (other columns sorted),
        groups without patients are left out, and patients without a value form a last
        column :data:`NOT_RECORDED`.
    vocabulary : Vocabulary
        The study's codes (``cohort.vocabulary``): group labels and order, TIO groups,
        final diagnoses.

    Returns
    -------
    Table1
        ``numeric`` (tidy, every number) and ``formatted`` (paper layout). Categorical
        variables with missing values get a line "Not recorded, n".
    """
    df = patients.copy()
    df["bmi"] = bmi(df)
    column = patient_groups(df, by)
    groups = group_order(column, vocabulary, by)
    blocks = variables(vocabulary)
    rows: list[dict[str, object]] = []
    for group in groups:
        rows += _summarise(df[column == group], group, blocks, vocabulary.tio_groups)
    rows += _summarise(df, OVERALL, blocks, vocabulary.tio_groups)
    numeric = pd.DataFrame(rows).reindex(columns=list(NUMERIC_COLUMNS))
    numeric["level"] = numeric["level"].fillna("")
    for col in ("n", "denominator", "n_missing"):
        numeric[col] = numeric[col].astype("Int64")
    labels = vocabulary.group_labels if by == "group" else {}
    return Table1(numeric=numeric,
                  formatted=_format(numeric, [*groups, OVERALL], blocks, labels))
