"""Clinical, scan, lesion and read tables: load, validate, join.

Four tidy tables describe a study (one row per thing, stable pseudonymous IDs):

========  ====================================  =========================================
table     one row per                           key
========  ====================================  =========================================
patients  patient                               ``patient_id``
scans     scan (tracer x modality x date)       ``scan_id`` -> ``patient_id``
lesions   lesion, shared by all scans            ``lesion_id`` -> ``patient_id``
reads     scan x lesion x reader                ``scan_id, lesion_id, reader``
========  ====================================  =========================================

Every table is checked on load: required columns, duplicate IDs, unknown codes, non-numeric or
implausible values, unparseable dates and booleans, references to unknown patients, scans or
lesions. Each problem names the file, the column, the offending rows (CSV line numbers and
IDs) and how to fix it.

Two modes
---------
``strict=True`` raises :class:`CohortError` at the first problem. ``strict=False`` (the
default of :func:`load_cohort`) goes on and records every problem in an exclusions table
(``what, id, reason, action``): a row with a bad ID, code or required value is excluded
(and so are the scans, lesions and reads hanging from it); a bad value in an optional column
is set to missing. A table without a required column cannot be read in either mode.

Extra columns are kept untouched. Codes are matched case-insensitively and stored as ordered
categoricals, booleans as pandas ``boolean``, integers as ``Int64``, dates as ``datetime64``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from nethelpers.vocabulary import DEFAULT_VOCABULARY, VOCABULARY_KEYS, Vocabulary, code_key

if TYPE_CHECKING:
    from nethelpers.config import Params

__all__ = [
    "CALLS",
    "DIAGNOSES",
    "GRADES",
    "GROUPS",
    "GROUP_LABELS",
    "MODALITIES",
    "NO_LESION",
    "REFERENCE_STANDARDS",
    "SEXES",
    "TIO_GROUPS",
    "TRACERS",
    "TRUTHS",
    "Cohort",
    "CohortError",
    "load_cohort",
    "load_lesions",
    "load_patients",
    "load_reads",
    "load_scans",
    "reads_joined",
]

GROUPS = DEFAULT_VOCABULARY.group_codes
"""Patient groups of the protocol, in the protocol's order (the default vocabulary)."""

GROUP_LABELS = DEFAULT_VOCABULARY.group_labels
"""Readable label of every group code of the default vocabulary."""

TIO_GROUPS = DEFAULT_VOCABULARY.tio_groups
"""Groups whose Table 1 columns show FGF23 and phosphate (default vocabulary)."""

SEXES = ("F", "M")
TRACERS = DEFAULT_VOCABULARY.tracer_names
MODALITIES = DEFAULT_VOCABULARY.modality_names
DIAGNOSES = tuple(DEFAULT_VOCABULARY.diagnoses)
REFERENCE_STANDARDS = ("histopathology", "follow-up")
GRADES = ("G1", "G2", "G3")
TRUTHS = ("malignant", "benign", "physiological")
CALLS = ("positive", "negative", "equivocal")

NO_LESION = "none"
"""``lesion_id`` of a read that records a scan read with no lesion called (call negative)."""

MISSING = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL")
"""Cell values read as missing. ``none`` is not one of them: it is a diagnosis code."""

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}
_SHOW = 5  # offending rows shown in a message

Kind = Literal["id", "text", "code", "int", "float", "bool", "date"]


class CohortError(ValueError):
    """A study table that cannot be loaded as it is."""


@dataclass(frozen=True)
class Column:
    """Specification of one column of a study table.

    Parameters
    ----------
    name : str
        Column name in the CSV header.
    kind : {"id", "text", "code", "int", "float", "bool", "date"}
        How values are parsed.
    required : bool
        The column must be present and every value non-empty; a bad value excludes the row.
        Optional columns may be absent (they are added empty) and bad values become missing.
    codes : tuple of str, optional
        Allowed values of a ``code`` column, in their display order.
    low, high : float, optional
        Plausible range (inclusive unless ``low_open``).
    low_open : bool
        ``low`` itself is not plausible (e.g. a weight of 0 kg).
    unit : str
        Unit shown in messages.
    lookup : tuple of (str, str)
        For a column coded by the study's vocabulary: ``(key, code)`` pairs, the key being
        :func:`nethelpers.vocabulary.code_key` of a code or alias.
    vocabulary_key : str
        The parameters key holding the codes (``vocabulary.tracers``); an unknown code in
        such a column is an error in both modes (it is the vocabulary or the cell to fix,
        never a row to drop silently).
    why : str
        Why a required column is required, added to messages (``quantify.norm is lbm``).
    """

    name: str
    kind: Kind
    required: bool = False
    codes: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    unit: str = ""
    lookup: tuple[tuple[str, str], ...] = ()
    vocabulary_key: str = ""
    why: str = ""

    def allowed(self) -> str:
        """Describe the allowed values, for error messages."""
        if self.kind == "code":
            return "one of " + ", ".join(self.codes)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "date":
            return "a date YYYY-MM-DD"
        if self.kind in ("int", "float"):
            low = "" if self.low is None else f"{self.low:g} {'<' if self.low_open else '≤'} "
            high = "" if self.high is None else f" ≤ {self.high:g}"
            unit = f" {self.unit}" if self.unit else ""
            kind = "an integer" if self.kind == "int" else "a number"
            bounds = f" with {low}{self.name}{high}{unit}" if (low or high) else ""
            return kind + bounds
        return "a non-empty value"


@dataclass(frozen=True)
class Table:
    """Specification of one study table.

    Parameters
    ----------
    name : str
        Table name (``patients``, ``scans``, ...).
    entity : str
        What one row is, for the exclusions table (``patient``, ``scan``, ...).
    key : tuple of str
        Columns that identify a row uniquely.
    columns : tuple of Column
        Known columns; any other column is kept as text.
    references : tuple of (str, str)
        ``(column, table)`` pairs: the column's values must be keys of that table.
    """

    name: str
    entity: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    references: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> Column:
        """Return the specification of column ``name``."""
        return next(col for col in self.columns if col.name == name)


HEIGHT_NORMS = ("lbm", "lbm-james", "lbm-james120", "bsa", "ibw")
"""SUV normalisations that need the patient's height (``quantify.norm``)."""


def _coded(name: str, vocabulary: Vocabulary, required: bool) -> Column:
    """A column coded by the study's vocabulary (codes and aliases)."""
    return Column(name, "code", required=required, codes=vocabulary.codes(name),
                  lookup=tuple(vocabulary.lookup(name).items()),
                  vocabulary_key=VOCABULARY_KEYS[name])


def study_tables(vocabulary: Vocabulary = DEFAULT_VOCABULARY,
                 height_for: str | None = None) -> dict[str, Table]:
    """Return the specifications of the four study tables for one study.

    Only what every analysis needs is required: a patient's ID, a scan's ID, patient,
    tracer, modality and date, a lesion's ID, patient and truth, a read's keys and call.
    Everything else may be left empty; the analyses that need a value leave out, and count,
    the rows without it.

    Parameters
    ----------
    vocabulary : Vocabulary
        Codes of the group, final_diagnosis, tracer and modality columns.
    height_for : str, optional
        The SUV normalisation (``quantify.norm``) when it needs the height (lean body
        mass, BSA, ideal body weight): ``height_cm`` becomes required.

    Returns
    -------
    dict
        ``{"patients": Table, "scans": Table, "lesions": Table, "reads": Table}``.
    """
    need_height = height_for in HEIGHT_NORMS
    patients = Table(
        "patients",
        "patient",
        ("patient_id",),
        (
            Column("patient_id", "id", required=True),
            _coded("group", vocabulary, required=False),
            Column("age", "int", low=0, high=120, unit="years"),
            Column("sex", "code", codes=SEXES),
            Column("weight_kg", "float", low=0, high=400, low_open=True, unit="kg"),
            Column("height_cm", "float", required=need_height, low=50, high=250, unit="cm",
                   why=f"quantify.norm is {height_for}" if need_height else ""),
            _coded("final_diagnosis", vocabulary, required=False),
            Column("disease_present", "bool"),
            Column("reference_standard", "code", codes=REFERENCE_STANDARDS),
            Column("grade", "code", codes=GRADES),
            Column("ki67", "float", low=0, high=100, unit="%"),
            Column("primary_site", "text"),
            Column("fgf23_ru_ml", "float", low=0, high=100000, unit="RU/ml"),
            Column("phosphate_mmol_l", "float", low=0, high=10, unit="mmol/l"),
        ),
    )
    scans = Table(
        "scans",
        "scan",
        ("scan_id",),
        (
            Column("scan_id", "id", required=True),
            Column("patient_id", "id", required=True),
            _coded("tracer", vocabulary, required=True),
            _coded("modality", vocabulary, required=True),
            Column("scan_date", "date", required=True),
            Column("study_uid", "text"),
            Column("pet_series_uid", "text"),
            Column("anat_series_uid", "text"),
            Column("pet_dir", "text"),
            Column("anat_dir", "text"),
            Column("manufacturer", "text"),
            Column("model", "text"),
        ),
        references=(("patient_id", "patients"),),
    )
    return {"patients": patients, "scans": scans, "lesions": LESIONS, "reads": READS}


LESIONS = Table(
    "lesions",
    "lesion",
    ("lesion_id",),
    (
        Column("patient_id", "id", required=True),
        Column("lesion_id", "id", required=True),
        Column("site", "text"),
        Column("diameter_mm", "float", low=0, high=500, low_open=True, unit="mm"),
        Column("truth", "code", required=True, codes=TRUTHS),
        Column("malignant", "bool", required=True),
        Column("reference_standard", "code", codes=REFERENCE_STANDARDS),
        Column("true_suv_dotatate", "float", low=0, high=1000),
        Column("true_suv_fdg", "float", low=0, high=1000),
        Column("description", "text"),
    ),
    references=(("patient_id", "patients"),),
)

READS = Table(
    "reads",
    "read",
    ("scan_id", "lesion_id", "reader"),
    (
        Column("scan_id", "id", required=True),
        Column("lesion_id", "id", required=True),
        Column("reader", "id", required=True),
        Column("call", "code", required=True, codes=CALLS),
        Column("krenning", "int", low=0, high=4),
        Column("confidence", "int", low=1, high=5),
        Column("cause", "text"),
    ),
    references=(("scan_id", "scans"), ("lesion_id", "lesions")),
)

_DEFAULT = study_tables()
PATIENTS = _DEFAULT["patients"]
SCANS = _DEFAULT["scans"]

TABLES = {table.name: table for table in (PATIENTS, SCANS, LESIONS, READS)}

EXCLUSION_COLUMNS = ("what", "id", "reason", "action", "source")


# --------------------------------------------------------------------------------------------
# problems: raised (strict) or collected (lenient)
# --------------------------------------------------------------------------------------------


@dataclass
class _Problems:
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
    for i in list(index)[:_SHOW]:
        value = df.at[i, column] if column in df.columns else ""
        parts.append(f"line {_line(i)} ({_row_id(df, table, i)}: {value!r})")
    more = f" and {len(index) - _SHOW} more" if len(index) > _SHOW else ""
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
    """Map codes (case-insensitively, or by the vocabulary's aliases); return (parsed, bad)."""
    if col.lookup:
        parsed = values.map(code_key).map(dict(col.lookup))
    else:
        parsed = values.str.lower().map({code.lower(): code for code in col.codes})
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
    """Parse and check one table, reporting problems to a :class:`_Problems`."""

    def __init__(self, df: pd.DataFrame, path: Path, table: Table, problems: _Problems):
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
            f"{', '.join(col.codes)} (and their aliases). Fix: correct the cells, or add "
            f"the code (or an alias of an existing one) to {col.vocabulary_key} in the "
            "parameters file.")

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


def _load(path: str | Path, table: Table, problems: _Problems,
          optional: bool = False) -> pd.DataFrame:
    """Read, parse and check one table (without references to other tables).

    An ``optional`` table whose file does not exist loads as an empty table with its
    columns (the analyses that need it say so).
    """
    path = Path(path)
    if optional and not path.exists():
        raw = pd.DataFrame({col.name: pd.Series(dtype=str) for col in table.columns})
    else:
        raw = _read_csv(path, table)
    df = _check_columns(raw, path, table)
    loader = _Loader(df, path, table, problems)
    parsed = loader.parse()
    loader.check_duplicates()
    return loader.frame(parsed)


def _collector(strict: bool, exclusions: list[dict[str, str]] | None) -> _Problems:
    problems = _Problems(strict=strict)
    if exclusions is not None:
        problems.rows = exclusions
    return problems


def load_patients(
    path: str | Path, *, strict: bool = True, exclusions: list[dict[str, str]] | None = None
) -> pd.DataFrame:
    """Load and check the patients table (clinical/patients.csv).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    strict : bool
        Raise :class:`CohortError` at the first problem (default). If False, exclude rows
        with a bad ID, code or required value, set bad optional values to missing, go on.
    exclusions : list of dict, optional
        In lenient mode, receives one record per problem (``what, id, reason, action,
        source``).

    Returns
    -------
    pandas.DataFrame
        One row per patient, indexed by CSV line number. Codes are ordered categoricals,
        booleans ``boolean``, integers ``Int64``. Unknown columns are kept as text.

    Raises
    ------
    CohortError
        File missing or unreadable, required column missing, or (strict) any bad value;
        the message names the file, the column, the first offending rows and the fix.
    """
    return _load(path, PATIENTS, _collector(strict, exclusions))


def load_scans(
    path: str | Path, *, strict: bool = True, exclusions: list[dict[str, str]] | None = None
) -> pd.DataFrame:
    """Load and check the scans table (clinical/scans.csv).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    strict : bool
        Raise :class:`CohortError` at the first problem (default). If False, exclude rows
        with a bad ID, code or required value, set bad optional values to missing, go on.
    exclusions : list of dict, optional
        In lenient mode, receives one record per problem (``what, id, reason, action,
        source``).

    Returns
    -------
    pandas.DataFrame
        One row per scan, indexed by CSV line number. Codes are ordered categoricals,
        booleans ``boolean``, integers ``Int64``, ``scan_date`` datetime64. Unknown
        columns are kept as text.

    Raises
    ------
    CohortError
        File missing or unreadable, required column missing, or (strict) any bad value;
        the message names the file, the column, the first offending rows and the fix.
    """
    return _load(path, SCANS, _collector(strict, exclusions))


def load_lesions(
    path: str | Path, *, strict: bool = True, exclusions: list[dict[str, str]] | None = None
) -> pd.DataFrame:
    """Load and check the lesions table (truth/lesions.csv).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    strict : bool
        Raise :class:`CohortError` at the first problem (default). If False, exclude rows
        with a bad ID, code or required value, set bad optional values to missing, go on.
    exclusions : list of dict, optional
        In lenient mode, receives one record per problem (``what, id, reason, action,
        source``).

    Returns
    -------
    pandas.DataFrame
        One row per lesion, indexed by CSV line number. Codes are ordered categoricals,
        booleans ``boolean``, integers ``Int64``. Unknown columns are kept as text.

    Raises
    ------
    CohortError
        File missing or unreadable, required column missing, or (strict) any bad value;
        the message names the file, the column, the first offending rows and the fix.
    """
    return _load(path, LESIONS, _collector(strict, exclusions))


def load_reads(
    path: str | Path, *, strict: bool = True, exclusions: list[dict[str, str]] | None = None
) -> pd.DataFrame:
    """Load and check the reads table (reads/reads.csv).

    Parameters
    ----------
    path : str or Path
        The CSV file.
    strict : bool
        Raise :class:`CohortError` at the first problem (default). If False, exclude rows
        with a bad ID, code or required value, set bad optional values to missing, go on.
    exclusions : list of dict, optional
        In lenient mode, receives one record per problem (``what, id, reason, action,
        source``).

    Returns
    -------
    pandas.DataFrame
        One row per read, indexed by CSV line number. Codes are ordered categoricals,
        booleans ``boolean``, integers ``Int64``. Unknown columns are kept as text.

    Raises
    ------
    CohortError
        File missing or unreadable, required column missing, or (strict) any bad value;
        the message names the file, the column, the first offending rows and the fix.
    """
    return _load(path, READS, _collector(strict, exclusions))


# --------------------------------------------------------------------------------------------
# the cohort: four tables checked against each other
# --------------------------------------------------------------------------------------------


@dataclass
class Cohort:
    """The checked tables of a study.

    Attributes
    ----------
    patients, scans, lesions, reads : pandas.DataFrame
        The tables as returned by the ``load_*`` functions, restricted to rows whose
        references resolve (scans of known patients, reads of known scans and lesions).
    exclusions : pandas.DataFrame
        One row per problem found in lenient mode: ``what, id, reason, action, source``.
        Empty in strict mode (a problem raises instead).
    vocabulary : Vocabulary
        The codes of the study (``vocabulary`` of the parameters).
    missing : dict
        Optional tables (``lesions``, ``reads``) that were not provided → the file looked
        for, relative to ``study.data_root``.
    """

    patients: pd.DataFrame
    scans: pd.DataFrame
    lesions: pd.DataFrame
    reads: pd.DataFrame
    exclusions: pd.DataFrame
    vocabulary: Vocabulary = field(default_factory=lambda: DEFAULT_VOCABULARY)
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def excluded_patients(self) -> list[str]:
        """Return the IDs of patients excluded from the analysis."""
        rows = self.exclusions[
            (self.exclusions["what"] == "patient") & (self.exclusions["action"] == "excluded")
        ]
        return sorted(set(rows["id"]))

    def summary(self) -> dict[str, int]:
        """Return the headline counts of the cohort."""
        return {
            "patients analysed": len(self.patients),
            "patients excluded": len(self.excluded_patients),
            "scans": len(self.scans),
            "lesions": len(self.lesions),
            "reads": len(self.reads),
            "problems recorded": len(self.exclusions),
        }


def _check_references(
    child: pd.DataFrame,
    table: Table,
    parents: dict[str, pd.DataFrame],
    path: Path,
    problems: _Problems,
    excluded: dict[str, set[str]],
) -> pd.DataFrame:
    """Drop rows of ``child`` whose references point at unknown or excluded parent rows."""
    keep = pd.Series(True, index=child.index)
    for column, parent_name in table.references:
        parent = parents[parent_name]
        parent_key = TABLES[parent_name].key[0]
        known = set(parent[parent_key].astype(str))
        if table.name == "reads" and column == "lesion_id":
            known.add(NO_LESION)  # a scan read with no lesion called
        values = child[column].astype(str)
        dropped = values.isin(excluded.get(parent_name, set())) & ~values.isin(known)
        unknown = ~values.isin(known) & ~dropped & keep
        if unknown.any():
            rows = [
                f"line {line} ({_key_text(child, table, line)}: {child.at[line, column]!r})"
                for line in unknown[unknown].index[:_SHOW]
            ]
            more = f" and {unknown.sum() - _SHOW} more" if unknown.sum() > _SHOW else ""
            message = (
                f"{path}: column {column}: {unknown.sum()} row(s) point at a "
                f"{TABLES[parent_name].entity} missing from the {parent_name} table: "
                f"{', '.join(rows)}{more}. Fix: add the {TABLES[parent_name].entity} to "
                f"{parent_name} or correct the {column}."
            )
            problems.report(
                message,
                [
                    _record(
                        child,
                        table,
                        line,
                        f"{column} {child.at[line, column]!r} is not in the {parent_name} table",
                        path,
                    )
                    for line in unknown[unknown].index
                ],
            )
        cascade = dropped & keep
        problems.rows.extend(
            _record(
                child,
                table,
                line,
                f"{TABLES[parent_name].entity} {child.at[line, column]} was excluded",
                path,
            )
            for line in cascade[cascade].index
        )
        keep &= ~(unknown | dropped)
    return child[keep]


def _key_text(df: pd.DataFrame, table: Table, line: int) -> str:
    return "/".join(str(df.at[line, col]) for col in table.key)


def _record(df: pd.DataFrame, table: Table, line: int, reason: str, path: Path) -> dict:
    return {
        "what": table.entity,
        "id": _key_text(df, table, line),
        "reason": reason,
        "action": "excluded",
        "source": f"{path.name} line {line}",
    }


def _excluded_ids(rows: list[dict[str, str]], entity: str) -> set[str]:
    return {r["id"] for r in rows if r["what"] == entity and r["action"] == "excluded"}


def _check_read_consistency(
    reads: pd.DataFrame,
    scans: pd.DataFrame,
    lesions: pd.DataFrame,
    path: Path,
    problems: _Problems,
) -> pd.DataFrame:
    """Drop reads whose scan and lesion belong to different patients."""
    scan_patient = scans.set_index("scan_id")["patient_id"].astype(str)
    lesion_patient = lesions.set_index("lesion_id")["patient_id"].astype(str)
    a = reads["scan_id"].astype(str).map(scan_patient)
    b = reads["lesion_id"].astype(str).map(lesion_patient)
    bad = a.notna() & b.notna() & (a != b) & (reads["lesion_id"].astype(str) != NO_LESION)
    if not bad.any():
        return reads
    rows = ", ".join(
        f"line {line} ({reads.at[line, 'scan_id']} of {a[line]} / "
        f"{reads.at[line, 'lesion_id']} of {b[line]})"
        for line in bad[bad].index[:_SHOW]
    )
    problems.report(
        f"{path}: columns scan_id, lesion_id: {bad.sum()} read(s) pair a scan and a lesion "
        f"of different patients: {rows}. Fix: correct the scan_id or lesion_id.",
        [
            _record(reads, READS, line, "scan and lesion belong to different patients", path)
            for line in bad[bad].index
        ],
    )
    return reads[~bad]


def load_cohort(params: Params, *, strict: bool = False) -> Cohort:
    """Load the four study tables named in the parameters and check them together.

    Parameters
    ----------
    params : Params
        Validated parameters (``params.study.tables`` gives the files).
    strict : bool
        Raise :class:`CohortError` at the first problem. Default False: record problems in
        ``Cohort.exclusions``, drop what cannot be used and go on.

    Returns
    -------
    Cohort
        The checked tables and the exclusions.

    Raises
    ------
    CohortError
        The patients or scans table is missing, a table lacks a required column, or a code
        is not in the study's vocabulary (all in both modes), or any problem (strict). The
        lesions and reads tables are optional: absent, they load empty and
        ``Cohort.missing`` names them.
    """
    paths = params.study.tables
    vocabulary = params.vocabulary
    spec = study_tables(vocabulary, params.quantify.norm)
    problems = _Problems(strict=strict)
    patients = _load(paths.patients, spec["patients"], problems)
    scans = _load(paths.scans, spec["scans"], problems)
    lesions = _load(paths.lesions, LESIONS, problems, optional=True)
    reads = _load(paths.reads, READS, problems, optional=True)
    missing = {name: _relative(Path(getattr(paths, name)), Path(params.study.data_root))
               for name in ("lesions", "reads") if not Path(getattr(paths, name)).exists()}

    excluded = {"patients": _excluded_ids(problems.rows, "patient")}
    parents = {"patients": patients}
    scans = _check_references(scans, SCANS, parents, Path(paths.scans), problems, excluded)
    lesions = _check_references(lesions, LESIONS, parents, Path(paths.lesions), problems, excluded)
    excluded |= {
        "scans": _excluded_ids(problems.rows, "scan"),
        "lesions": _excluded_ids(problems.rows, "lesion"),
    }
    parents |= {"scans": scans, "lesions": lesions}
    reads = _check_references(reads, READS, parents, Path(paths.reads), problems, excluded)
    reads = _check_read_consistency(reads, scans, lesions, Path(paths.reads), problems)
    return Cohort(patients, scans, lesions, reads, problems.frame(), vocabulary, missing)


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (no absolute path in a report)."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def reads_joined(cohort: Cohort) -> pd.DataFrame:
    """Join every read with its scan, lesion and patient.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pandas.DataFrame
        One row per read with ``patient_id, group, tracer, modality, scan_date, site, truth,
        malignant`` and the read's own columns; the index is reset.
    """
    scans = cohort.scans[["scan_id", "patient_id", "tracer", "modality", "scan_date"]]
    lesions = cohort.lesions[["lesion_id", "site", "truth", "malignant"]]
    groups = cohort.patients[["patient_id", "group", "final_diagnosis", "disease_present"]]
    out = (
        cohort.reads.reset_index(drop=True)
        .merge(scans, on="scan_id", how="left", validate="many_to_one")
        .merge(lesions, on="lesion_id", how="left", validate="many_to_one")
        .merge(groups, on="patient_id", how="left", validate="many_to_one")
    )
    first = ["patient_id", "group", "scan_id", "tracer", "modality", "lesion_id", "reader"]
    return out[first + [c for c in out.columns if c not in first]]
