"""Descriptive tables of the cohort: Table 1 and the scan inventory.

Conventions (state them under Table 1 in a paper): continuous variables as mean ± SD (sample
SD, n − 1) or median [IQR] (quartiles by linear interpolation, R's default type 7);
categorical variables as n (%) with the non-missing patients of the column as denominator.
NET grade and Ki-67 are described among patients with a final diagnosis of NET; FGF23 and
phosphate among patients of the TIO groups (other columns show "–").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from nethelpers.cohort import (
    DIAGNOSES,
    GRADES,
    GROUP_LABELS,
    MODALITIES,
    REFERENCE_STANDARDS,
    SEXES,
    TIO_GROUPS,
    TRACERS,
    Cohort,
)

__all__ = [
    "OVERALL",
    "Table1",
    "bmi",
    "continuous_summary",
    "scan_inventory",
    "scan_totals",
    "table1",
]

OVERALL = "Overall"
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


def _is_net(df: pd.DataFrame) -> pd.Series:
    return df["final_diagnosis"].astype("string").eq("NET").fillna(False)


def _is_tio_group(df: pd.DataFrame) -> pd.Series:
    return df["group"].astype("string").isin(TIO_GROUPS).fillna(False)


VARIABLES = (
    Variable("Age, years", "age", "mean"),
    Variable("Age, years", "age", "median"),
    Variable("Sex", "sex", "category", SEXES, {"F": "Female", "M": "Male"}),
    Variable("Weight, kg", "weight_kg", "mean"),
    Variable("Height, cm", "height_cm", "mean"),
    Variable("BMI, kg/m²", "bmi", "mean"),
    Variable("Final diagnosis", "final_diagnosis", "category", DIAGNOSES, {"none": "None"}),
    Variable(
        "Reference standard",
        "reference_standard",
        "category",
        REFERENCE_STANDARDS,
        {"histopathology": "Histopathology", "follow-up": "Follow-up"},
    ),
    Variable("NET grade", "grade", "category", GRADES, None, _is_net, "NET"),
    Variable("Ki-67, %", "ki67", "median", (), None, _is_net, "NET"),
    Variable("FGF23, RU/ml", "fgf23_ru_ml", "median", (), None, _is_tio_group, "TIO groups", 0),
    Variable(
        "Phosphate, mmol/l", "phosphate_mmol_l", "mean", (), None, _is_tio_group, "TIO groups", 2
    ),
)


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


def _summarise(df: pd.DataFrame, group: str) -> list[dict[str, object]]:
    """Compute all Table 1 numbers for one column (a group or overall); ``variable`` = column."""
    rows: list[dict[str, object]] = [
        {"variable": "patients", "level": "", "group": group, "n": len(df)}
    ]
    done: set[str] = set()
    for var in VARIABLES:
        if var.column in done:
            continue
        done.add(var.column)
        if var.subset is _is_tio_group and group != OVERALL and group not in TIO_GROUPS:
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
        return DASH
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


def _format(numeric: pd.DataFrame, groups: list[str]) -> pd.DataFrame:
    """Lay the numeric table out for a paper."""
    index = numeric.set_index(["variable", "level", "group"])
    headers = {
        g: f"{GROUP_LABELS.get(g, g)} (n = {int(index.loc[('patients', '', g), 'n'])})"
        for g in groups
    }

    def lookup(variable: str, level: str, group: str) -> pd.Series | None:
        key = (variable, level, group)
        return index.loc[key] if key in index.index else None

    lines: list[dict[str, str]] = []
    for var in VARIABLES:
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
        else:
            cells = {
                headers[g]: _cell(lookup(var.column, "", g), var.kind, var.digits) for g in groups
            }
            lines.append({"Characteristic": _line_label(var)} | cells)
    return pd.DataFrame(lines, columns=["Characteristic", *headers.values()])


def table1(patients: pd.DataFrame, by: str = "group") -> Table1:
    """Describe demographics and clinical characteristics by group and overall.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table from :func:`nethelpers.cohort.load_patients` (or ``Cohort.patients``).
    by : str
        Grouping column (ordered categorical: groups appear in the protocol's order; groups
        without patients are left out).

    Returns
    -------
    Table1
        ``numeric`` (tidy, every number) and ``formatted`` (paper layout).
    """
    df = patients.copy()
    df["bmi"] = bmi(df)
    column = df[by]
    if isinstance(column.dtype, pd.CategoricalDtype):
        groups = [str(g) for g in column.cat.categories if (column == g).any()]
    else:
        groups = sorted(column.dropna().astype(str).unique())
    rows: list[dict[str, object]] = []
    for group in groups:
        rows += _summarise(df[column.astype("string") == group], group)
    rows += _summarise(df, OVERALL)
    numeric = pd.DataFrame(rows).reindex(columns=list(NUMERIC_COLUMNS))
    numeric["level"] = numeric["level"].fillna("")
    for col in ("n", "denominator", "n_missing"):
        numeric[col] = numeric[col].astype("Int64")
    return Table1(numeric=numeric, formatted=_format(numeric, [*groups, OVERALL]))


# --------------------------------------------------------------------------------------------
# scan inventory
# --------------------------------------------------------------------------------------------


def _combos(scans: pd.DataFrame) -> list[str]:
    """List the ``tracer modality`` labels present in the scans, in protocol order."""
    present = set(zip(scans["tracer"].astype(str), scans["modality"].astype(str), strict=True))
    return [f"{t} {m}" for t in TRACERS for m in MODALITIES if (t, m) in present]


def scan_inventory(cohort: Cohort) -> pd.DataFrame:
    """Count scans per patient, by tracer and modality.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pandas.DataFrame
        One row per patient (all patients, also those without scans): ``patient_id``,
        ``group``, one integer column per ``tracer modality`` present in the study, and
        ``total``.
    """
    scans = cohort.scans
    combos = _combos(scans)
    label = scans["tracer"].astype(str) + " " + scans["modality"].astype(str)
    counts = pd.crosstab(scans["patient_id"].astype(str), label).reindex(columns=combos)
    out = cohort.patients[["patient_id", "group"]].reset_index(drop=True).copy()
    out["patient_id"] = out["patient_id"].astype(str)
    out = out.merge(counts, left_on="patient_id", right_index=True, how="left")
    out[combos] = out[combos].fillna(0).astype(int)
    out["total"] = out[combos].sum(axis=1).astype(int)
    return out.sort_values(["group", "patient_id"]).reset_index(drop=True)


def scan_totals(cohort: Cohort) -> pd.DataFrame:
    """Count scans and patients per group, by tracer and modality, with a total row.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pandas.DataFrame
        One row per group present (protocol order) and a last ``Overall`` row: ``group``,
        ``patients``, one column per ``tracer modality`` with the number of scans, and
        ``total``.
    """
    inventory = scan_inventory(cohort)
    combos = [c for c in inventory.columns if c not in ("patient_id", "group", "total")]
    grouped = inventory.groupby("group", observed=True, sort=True)
    per_group = grouped[[*combos, "total"]].sum()
    per_group.insert(0, "patients", grouped.size())
    per_group.index = per_group.index.astype(str)
    overall = per_group.sum().to_frame(OVERALL).T
    out = pd.concat([per_group, overall]).astype(int)
    out.index.name = "group"
    return out.reset_index()
