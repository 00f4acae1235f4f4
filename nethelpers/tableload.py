"""Read and check one study table: parse every column, report each problem.

Each problem names the file, the column, the offending rows (CSV line numbers and IDs) and
how to fix it; :class:`Problems` raises it (strict) or keeps it as exclusion records
(lenient). :mod:`nethelpers.cohort` checks the tables against each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from nethelpers.tablespec import (
    ALIASED,
    EXCLUSION_COLUMNS,
    LESIONS,
    MISSING,
    PATIENTS,
    READS,
    SCANS,
    CohortError,
    Column,
    Table,
)
from nethelpers.vocabulary import code_key, how_to_add

__all__ = ["SHOW", "Problems", "load_lesions", "load_patients", "load_reads", "load_scans",
           "load_table"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
SHOW = 5
"""Offending rows shown in a message."""

# --------------------------------------------------------------------------------------------
# problems: raised (strict) or collected (lenient)
# --------------------------------------------------------------------------------------------


@dataclass
class Problems:
    """Collects problems of one load; raises at the first one when strict."""

    strict: bool
    rows: list[dict[str, str]] = field(default_factory=list)

    def report(
        self,
        message: str,
        records: Sequence[dict[str, str]] = (),
    ) -> None:
        """Raise ``message`` (strict) or keep the exclusion ``records`` (lenient)."""
        if self.strict:
            raise CohortError(message)
        self.rows.extend(records)

    def frame(self) -> pd.DataFrame:
        """Return the collected exclusions as a table."""
        return pd.DataFrame(self.rows, columns=list(EXCLUSION_COLUMNS)).astype("string")


def _line(index: int) -> int:
    """CSV line number of a data row (the header is line 1)."""
    return int(index) + 2


def _row_id(df: pd.DataFrame, table: Table, index: int) -> str:
    """Readable ID of a row: its key values, or its line number if they are empty."""
    values = [df.at[index, col] for col in table.key if col in df.columns]
    values = [str(v) for v in values if isinstance(v, str) and v]
    return "/".join(values) if values else f"line {_line(index)}"


def _rows_text(df: pd.DataFrame, table: Table, index: Sequence[int], column: str) -> str:
    """List the first offending rows: ``line 4 (P003: '0')``."""
    parts = []
    for i in list(index)[:SHOW]:
        value = df.at[i, column] if column in df.columns else ""
        parts.append(f"line {_line(i)} ({_row_id(df, table, i)}: {value!r})")
    more = f" and {len(index) - SHOW} more" if len(index) > SHOW else ""
    return ", ".join(parts) + more


# --------------------------------------------------------------------------------------------
# reading and parsing
# --------------------------------------------------------------------------------------------


def _read_csv(path: Path, table: Table) -> pd.DataFrame:
    """Read a table as stripped text (every cell a str, missing as '')."""
    if not path.is_file():
        raise CohortError(
            f"{path}: {table.name} table not found. Fix: create it or set "
            f"study.tables.{table.name} in the parameters file."
        )
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CohortError(f"{path}: cannot read {table.name} as CSV: {exc}") from None
    df.columns = [str(col).strip() for col in df.columns]
    df = df.apply(lambda col: col.str.strip()).reset_index(drop=True)
    return df.mask(df.isin(MISSING), "")


def _check_columns(df: pd.DataFrame, path: Path, table: Table) -> pd.DataFrame:
    """Fail on missing required columns; add absent optional ones (empty)."""
    missing = [col.name for col in table.columns if col.required and col.name not in df.columns]
    if missing:
        raise CohortError(
            f"{path}: {table.name} table lacks required column(s) {', '.join(missing)}; "
            f"found: {', '.join(df.columns)}. Fix: add the column(s) to the header "
            f"(names are case-sensitive)."
        )
    for col in table.columns:
        if col.name not in df.columns:
            df[col.name] = ""
    return df


def _parse_code(values: pd.Series, col: Column) -> tuple[pd.Series, pd.Series]:
    """Map codes ignoring case, spaces and punctuation (and by the vocabulary's aliases).

    Returns (parsed, bad-mask).
    """
    lookup = dict(col.lookup) or {code_key(code): code for code in col.codes}
    parsed = values.map(code_key).map(lookup)
    bad = values.ne("") & parsed.isna()
    return parsed, bad


def _parse_bool(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    low = values.str.lower()
    parsed = pd.Series(pd.NA, index=values.index, dtype="boolean")
    parsed[low.isin(_TRUE)] = True
    parsed[low.isin(_FALSE)] = False
    bad = values.ne("") & parsed.isna()
    return parsed, bad


def _parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    parsed = pd.to_datetime(values.where(values.ne("")), format="%Y-%m-%d", errors="coerce")
    bad = values.ne("") & parsed.isna()
    return parsed, bad


def _parse_number(values: pd.Series, col: Column) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse numbers; return (parsed, not-a-number mask, implausible mask)."""
    parsed = pd.to_numeric(values.where(values.ne("")), errors="coerce").astype("float64")
    not_number = values.ne("") & parsed.isna()
    if col.kind == "int":
        not_number |= parsed.notna() & (parsed != np.round(parsed))
    low_bad = (
        pd.Series(False, index=values.index)
        if col.low is None
        else (parsed <= col.low if col.low_open else parsed < col.low)
    )
    high_bad = pd.Series(False, index=values.index) if col.high is None else parsed > col.high
    implausible = parsed.notna() & ~not_number & (low_bad | high_bad)
    if col.kind == "int":
        parsed = parsed.where(~not_number).round().astype("Int64")
    return parsed, not_number, implausible


def _fix_hint(col: Column) -> str:
    if col.required and col.why:
        return f"Required because {col.why}. Fix: fill in the value."
    if col.required:
        return "Fix: correct the value in the file."
    return "Fix: correct the value or leave the cell empty if unknown."


class _Loader:
    """Parse and check one table, reporting problems to a :class:`Problems`."""

    def __init__(self, df: pd.DataFrame, path: Path, table: Table, problems: Problems):
        self.df = df
        self.path = path
        self.table = table
        self.problems = problems
        self.drop: set[int] = set()

    def flag(self, col: Column, mask: pd.Series, problem: str, allowed: str) -> None:
        """Report rows in ``mask``: excluded (required column) or value set missing."""
        index = [i for i in mask[mask].index if i not in self.drop]
        if not index:
            return
        message = (
            f"{self.path}: column {col.name}: {problem} in {len(index)} row(s): "
            f"{_rows_text(self.df, self.table, index, col.name)}. Allowed: {allowed}. "
            f"{_fix_hint(col)}"
        )
        action = "excluded" if col.required else "set to missing"
        records = [
            {
                "what": self.table.entity if col.required else f"{self.table.entity} value",
                "id": _row_id(self.df, self.table, i),
                "reason": f"{col.name} {self.df.at[i, col.name]!r}: {problem}; allowed: {allowed}",
                "action": action,
                "source": f"{self.path.name} line {_line(i)}",
            }
            for i in index
        ]
        self.problems.report(message, records)
        if col.required:
            self.drop.update(index)

    def parse(self) -> dict[str, pd.Series]:
        """Parse every known column; return the parsed series by name."""
        parsed: dict[str, pd.Series] = {}
        for col in self.table.columns:
            raw = self.df[col.name].astype(str)
            if col.required:
                self.flag(col, raw.eq(""), "empty value", col.allowed())
            parsed[col.name] = self._parse_column(raw, col)
        return parsed

    def _parse_column(self, raw: pd.Series, col: Column) -> pd.Series:
        if col.kind == "code":
            values, bad = _parse_code(raw, col)
            if col.vocabulary_key and bad.any():
                self._unknown_vocabulary(col, raw, bad)
            self.flag(col, bad, "unknown code", col.allowed())
            return pd.Categorical(values, categories=list(col.codes), ordered=True)
        if col.kind == "bool":
            values, bad = _parse_bool(raw)
            self.flag(col, bad, "not a boolean", col.allowed())
            return values
        if col.kind == "date":
            values, bad = _parse_date(raw)
            self.flag(col, bad, "not a date", col.allowed())
            return values
        if col.kind in ("int", "float"):
            values, not_number, implausible = _parse_number(raw, col)
            kind = "an integer" if col.kind == "int" else "numeric"
            self.flag(col, not_number, f"not {kind}", col.allowed())
            self.flag(col, implausible, "implausible value", col.allowed())
            return values.where(~(not_number | implausible))
        return raw.where(raw.ne("")).astype("string")

    def _unknown_vocabulary(self, col: Column, raw: pd.Series, bad: pd.Series) -> None:
        """Raise for codes the vocabulary does not know (in both modes)."""
        unknown = sorted(set(raw[bad]))
        index = list(bad[bad].index)
        raise CohortError(
            f"{self.path}: column {col.name}: {len(unknown)} code(s) not in the study's "
            f"vocabulary: {', '.join(map(repr, unknown))} in {len(index)} row(s): "
            f"{_rows_text(self.df, self.table, index, col.name)}. Allowed: "
            f"{', '.join(col.codes)}{' (and their aliases)' if col.name in ALIASED else ''}. "
            f"Fix: correct the cells, or {how_to_add(col.name)} in the parameters file.")

    def check_duplicates(self) -> None:
        """Report rows whose key appears more than once (all copies are excluded)."""
        key = list(self.table.key)
        dup = self.df.duplicated(key, keep=False) & self.df[key].ne("").all(axis=1)
        if not dup.any():
            return
        col = self.table.column(key[-1])
        index = [i for i in dup[dup].index if i not in self.drop]
        if not index:
            return
        names = " + ".join(key)
        message = (
            f"{self.path}: column {names}: duplicate ID in {len(index)} row(s): "
            f"{_rows_text(self.df, self.table, index, col.name)}. Allowed: each {names} once. "
            "Fix: remove the repeated rows or give them distinct IDs."
        )
        records = [
            {
                "what": self.table.entity,
                "id": _row_id(self.df, self.table, i),
                "reason": f"duplicate {names} (appears on several lines)",
                "action": "excluded",
                "source": f"{self.path.name} line {_line(i)}",
            }
            for i in index
        ]
        self.problems.report(message, records)
        self.drop.update(index)

    def frame(self, parsed: dict[str, pd.Series]) -> pd.DataFrame:
        """Assemble the parsed table without the excluded rows; keep extra columns."""
        out = self.df.copy()
        for name, values in parsed.items():
            out[name] = values
        extra = [c for c in out.columns if c not in parsed]
        for name in extra:
            out[name] = out[name].where(out[name].ne("")).astype("string")
        keep = [i for i in out.index if i not in self.drop]
        out = out.loc[keep, [c.name for c in self.table.columns] + extra]
        out.index = pd.Index([_line(i) for i in keep], name="line")
        return out


def load_table(path: str | Path, table: Table, problems: Problems,
          optional: bool = False) -> pd.DataFrame:
    """Read, parse and check one table (without references to other tables).

    An ``optional`` table whose file does not exist loads as an empty table with its
    columns (the analyses that need it say so).
    """
    path = Path(path)
    if optional and (not path.exists() or _blank(path)):
        raw = pd.DataFrame({col.name: pd.Series(dtype=str) for col in table.columns})
    else:
        raw = _read_csv(path, table)
    df = _check_columns(raw, path, table)
    loader = _Loader(df, path, table, problems)
    parsed = loader.parse()
    loader.check_duplicates()
    return loader.frame(parsed)


def _blank(path: Path) -> bool:
    """A file with nothing but white space (an empty table saved by a spreadsheet)."""
    return path.is_file() and path.stat().st_size < 4096 and not path.read_bytes().strip()


def _collector(strict: bool, exclusions: list[dict[str, str]] | None) -> Problems:
    problems = Problems(strict=strict)
    if exclusions is not None:
        problems.rows = exclusions
    return problems


def _loader_of(table: Table, where: str, one_row: str):
    """The public loader of one study table (same parameters, its own docstring)."""

    def load(path: str | Path, *, strict: bool = True,
             exclusions: list[dict[str, str]] | None = None) -> pd.DataFrame:
        return load_table(path, table, _collector(strict, exclusions))

    load.__name__ = load.__qualname__ = f"load_{table.name}"
    load.__doc__ = f"""Load and check the {table.name} table ({where}).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    strict : bool
        Raise :class:`CohortError` at the first problem (default). If False, exclude rows
        with a bad ID or required value, set bad optional values to missing, go on.
    exclusions : list of dict, optional
        In lenient mode, receives one record per problem (``what, id, reason, action,
        source``).

    Returns
    -------
    pandas.DataFrame
        One row per {one_row}, indexed by CSV line number. Codes are ordered categoricals,
        booleans ``boolean``, integers ``Int64``, dates ``datetime64``. Unknown columns are
        kept as text.

    Raises
    ------
    CohortError
        File missing or unreadable, required column missing, a code unknown to the
        vocabulary, or (strict) any bad value; the message names the file, the column, the
        first offending rows and the fix.
    """
    return load


load_patients = _loader_of(PATIENTS, "clinical/patients.csv", "patient")
load_scans = _loader_of(SCANS, "clinical/scans.csv", "scan")
load_lesions = _loader_of(LESIONS, "truth/lesions.csv", "lesion")
load_reads = _loader_of(READS, "reads/reads.csv", "read")
