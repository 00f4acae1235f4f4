"""The study's questions answered in plain sentences, from the report's saved tables.

``index.html`` opens with one short paragraph per protocol question (diagnosis, staging,
DOTATATE versus FDG, PET/MR versus PET/CT, TIO localisation, PRRT eligibility, SSTR SPECT when
the study has it, false calls and readers). Every number in a sentence is read from a table the
notebooks saved (``<report>/tables/<name>.csv``), the same numbers the pages show; nothing is
recomputed here. Each :class:`Answer` keeps, beside its text, every number it quotes as a
:class:`Value` (table, row, column, raw text), so a test can check each against its table.
A question whose tables are missing says in one line what it waits for, never a number.

The sentences of each question live in :mod:`nethelpers.answerquestions` (the older tables)
and :mod:`nethelpers.answerpaired` (paired accuracy, staging change, false calls, readers); a
question whose code fails says so in its place and the index is still written.

Numbers are written the way :func:`format_value` documents (proportions as whole percent,
p as ``< 0.001`` or three decimals, differences in percentage points with one decimal).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from nethelpers.pubformat import _interval
from nethelpers.pubnumbers import fmt_number, fmt_p

__all__ = ["Answer", "Tables", "Value", "build_answers", "format_value", "interval", "method_words",
           "no_ci_words"]

PRODUCERS = {
    "accuracy_patient_level": "05", "accuracy_lesion_level": "05",
    "accuracy_patient_level_by_group": "05", "detection_by_region": "05",
    "false_call_causes": "05", "false_calls": "05", "visual_vs_rule": "05",
    "interreader_agreement": "05", "accuracy_by_reader": "05", "sstr_rads_patient": "05",
    "mcnemar_dotatate_vs_fdg": "04", "difference_dotatate_minus_fdg": "04",
    "flip_flop_by_grade": "04", "agreement_petmr_petct": "04",
    "paired_accuracy_petmr_petct": "04", "staging_change": "04",
    "mcnemar_dotatate_vs_hynic": "04", "difference_dotatate_minus_hynic": "04",
    "response_categories": "06", "response_pair_summary": "06",
    "response_agreement_petmr_petct": "06", "recurrence_accuracy": "06",
    "tio_detection": "04", "tio_mcnemar": "04",
    "prrt_eligibility": "03", "patient_groups": "01",
}
"""The notebook (number) that writes each table an answer reads."""

_METHODS = {
    "wilson": "Wilson",
    "wilson-cc": "continuity-corrected Wilson",
    "clopper-pearson": "Clopper–Pearson",
    "wilson-effective-n": "Wilson, cluster-adjusted",
    "obuchowski": "clustered McNemar test",
    "exact": "exact McNemar test",
    "ratio-wald": "cluster-adjusted Wald",
    "ratio-score": "cluster-adjusted score interval",
}
"""Short words of the method codes of the tables (the full texts are in the Methods section)."""

_METHOD_TEXTS = (
    ("score interval inverting the clustered mcnemar", "cluster-adjusted score interval"),
    ("cluster-adjusted wald", "cluster-adjusted Wald"),
    ("cluster bootstrap", "patient bootstrap"),
    ("wilson, cluster-adjusted", "Wilson, cluster-adjusted"),
    ("wilson", "Wilson"),
    ("newcombe", "Newcombe"),
    ("clustered mcnemar", "clustered McNemar test"),
    ("exact mcnemar", "exact McNemar test"),
    ("mcnemar", "McNemar test"),
)
"""Short words of a method's full text, by the first phrase it contains (in this order)."""

ROWS = "rows"
"""The ``column`` of a :class:`Value` that counts the table's rows matching ``where``."""


def method_words(code: str) -> str:
    """Return the short words a sentence uses for a table's method code or text.

    An answer names a method in a few words ("Wilson, cluster-adjusted", "patient
    bootstrap"); the full description belongs to the Methods section
    (:mod:`nethelpers.methods`). An unknown text is cut before its first parenthesis,
    semicolon or comma.
    """
    text = code.strip()
    if text.lower() in _METHODS:
        return _METHODS[text.lower()]
    for phrase, words in _METHOD_TEXTS:
        if phrase in text.lower():
            return words
    return re.split(r"\s*[(;,]", text, maxsplit=1)[0]


def interval(lower: str, upper: str) -> str:
    """Two formatted bounds joined as the tables join them ("0.65–0.85", "−0.19 to 0.77")."""
    return _interval(lower, upper)


_NO_CI_CLUSTERS = re.compile(r"at least (\d+) clusters.*?there (?:are|is) (\d+)")


def no_ci_words(note: str) -> str:
    """Say shortly why a table gives no interval, from its note ("no CI: fewer than 5 patients").

    Parameters
    ----------
    note : str
        The row's ``note`` cell.

    Returns
    -------
    str
    """
    found = _NO_CI_CLUSTERS.search(note)
    if found:
        return f"no CI: fewer than {found.group(1)} patients"
    return "no CI (see the table's note)" if note else "no CI"


def format_value(raw: str, kind: str) -> str:
    """Format a table's raw text the way the answers write it.

    Parameters
    ----------
    raw : str
        The cell as saved in the CSV.
    kind : {"percent", "count", "p", "decimal2", "points", "percent100", "text", "method"}
        ``percent``: a proportion 0–1 as whole percent (``0.9179`` → ``"92"``); ``percent100``:
        a percentage as whole percent; ``count``: an integer; ``p``: the publication rule of
        :func:`nethelpers.pubnumbers.fmt_p` (``"< 0.001"``, ``"0.054"``, ``"0.23"``,
        ``"> 0.99"``); ``decimal2``: two decimals (κ, ICC); ``points``: a difference of
        proportions in percentage points with one decimal; negative numbers carry a true
        minus sign (U+2212); ``method``: :func:`method_words`; ``text``: as is.

    Returns
    -------
    str
    """
    if kind == "text":
        return raw
    if kind == "method":
        return method_words(raw)
    if kind == "p":
        return fmt_p(raw)
    if kind == "percent":
        return fmt_number(raw, "proportion", decimals=0, percent=True)
    if kind in ("percent100", "count"):
        return fmt_number(raw, "percent", decimals=0)
    if kind == "decimal2":
        return fmt_number(raw, "coefficient", decimals=2)
    if kind == "points":
        return fmt_number(float(raw) * 100, "percent", decimals=1)
    raise ValueError(f"unknown kind {kind!r}")


@dataclass(frozen=True)
class Value:
    """One number (or word) an answer quotes, and where it comes from.

    Attributes
    ----------
    table : str
        The table's name (``tables/<table>.csv``).
    where : tuple of (column, value)
        The row selector: the rows whose columns hold these texts (one row unless
        ``column`` is :data:`ROWS`).
    column : str
        The column read; :data:`ROWS` for the number of rows matching ``where``;
        ``"sum:<column>"`` for the sum of that column over them.
    raw : str
        The cell's text as saved (for :data:`ROWS`, the count).
    kind : str
        How it is written (:func:`format_value`).
    """

    table: str
    where: tuple[tuple[str, str], ...]
    column: str
    raw: str
    kind: str

    @property
    def text(self) -> str:
        """The value as the sentence writes it."""
        return format_value(self.raw, self.kind)


@dataclass
class Answer:
    """The answer to one study question.

    Attributes
    ----------
    key : str
        Short identifier (``diagnosis``, ``staging``, ...).
    question : str
        The question as a heading.
    text : str
        The paragraph (empty while waiting).
    values : dict of str to Value
        Every number of ``text`` by a readable name.
    waits_for : str
        One line naming the missing tables ("" when complete).
    """

    key: str
    question: str
    text: str = ""
    values: dict[str, Value] = field(default_factory=dict)
    waits_for: str = ""


class Tables:
    """The saved tables of a report folder, read once each as text (missing → None).

    Parameters
    ----------
    folder : str or Path
        The ``tables`` folder of a report.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._cache: dict[str, pd.DataFrame | None] = {}

    def get(self, name: str) -> pd.DataFrame | None:
        """Return the table ``name`` (all cells text, blanks as ""), or None if absent."""
        if name not in self._cache:
            path = self.folder / f"{name}.csv"
            self._cache[name] = (pd.read_csv(path, dtype=str, keep_default_na=False)
                                 if path.is_file() else None)
        return self._cache[name]


class Writer:
    """Builds one answer: reads tables, records each quoted value, collects sentences."""

    def __init__(self, tables: Tables, key: str, question: str, level: float) -> None:
        self.tables = tables
        self.answer = Answer(key, question)
        self.level = f"{100 * level:g} %"
        self.alpha = 1 - level
        self.sentences: list[str] = []
        self.missing: list[str] = []

    def table(self, name: str, required: bool = True) -> pd.DataFrame | None:
        """The table ``name``; a missing required one is named in ``waits_for``."""
        frame = self.tables.get(name)
        if frame is None and required:
            self.missing.append(name)
        return frame

    def value(self, name: str, table: str, row: pd.Series, keys: tuple[str, ...],
              column: str, kind: str) -> str:
        """Record the cell ``row[column]`` (row found by ``keys``) and return it formatted."""
        where = tuple((k, str(row[k])) for k in keys)
        value = Value(table, where, column, str(row[column]), kind)
        self.answer.values[name] = value
        return value.text

    def count(self, name: str, table: str, where: dict[str, str], n: int,
              column: str | None = None) -> str:
        """Record a count of rows of ``table`` matching ``where`` and return it formatted.

        The count is of the rows (:data:`ROWS`), or the sum of ``column`` over them
        (``"sum:<column>"``).
        """
        value = Value(table, tuple(where.items()), f"sum:{column}" if column else ROWS, str(n),
                      "count")
        self.answer.values[name] = value
        return value.text

    def proportion(self, name: str, table: str, row: pd.Series, keys: tuple[str, ...],
                   unit: str = "", clustered: bool = False, method: bool = True) -> str:
        """``"79 % (209/264 lesions; 95 % CI 71–85 %, Wilson)"`` from an estimate row.

        ``clustered``: the ``cluster_lower``/``cluster_upper`` interval when the row has one;
        ``method=False``: without the method (the sentence names it once).
        """
        num = self.value(f"{name}: numerator", table, row, keys, "numerator", "count")
        den = self.value(f"{name}: denominator", table, row, keys, "denominator", "count")
        of = f"{num}/{den}{' ' + unit if unit else ''}"
        if not row.get("estimate", ""):
            return f"not estimable ({of})"
        est = self.value(name, table, row, keys, "estimate", "percent")
        lo_col, hi_col, how = "lower", "upper", "method"
        if clustered and row.get("cluster_lower", ""):
            lo_col, hi_col = "cluster_lower", "cluster_upper"
            how = "cluster_method" if row.get("cluster_method", "") else how
        if not (is_number(row.get(lo_col, "")) and is_number(row.get(hi_col, ""))):
            return f"{est} % ({of}; {self.ci(name, table, row, keys, lo_col, hi_col, 'percent')})"
        ci = self.ci(name, table, row, keys, lo_col, hi_col, "percent") + " %"
        if not method:
            return f"{est} % ({of}; {ci})"
        words = self.value(f"{name}: method", table, row, keys, how, "method")
        return f"{est} % ({of}; {ci}, {words})"

    def ci(self, name: str, table: str, row: pd.Series, keys: tuple[str, ...],
           lower: str = "lower", upper: str = "upper", kind: str = "decimal2",
           level: str | None = None) -> str:
        """``"95 % CI 0.65–0.85"`` (``"−0.19 to 0.77"`` with a negative bound), or why none.

        Both bounds are recorded as values; a missing bound gives the reason of the row's
        ``note`` in a few words (:func:`no_ci_words`), the note recorded, and no number.
        """
        if is_number(row.get(lower, "")) and is_number(row.get(upper, "")):
            lo = self.value(f"{name}: lower", table, row, keys, lower, kind)
            hi = self.value(f"{name}: upper", table, row, keys, upper, kind)
            return f"{level or self.level} CI {interval(lo, hi)}"
        why = str(row.get("note", ""))
        if why:
            self.value(f"{name}: no CI", table, row, keys, "note", "text")
        return no_ci_words(why)

    def say(self, sentence: str) -> None:
        """Add a sentence (a capital first, a full stop last)."""
        if sentence:
            self.sentences.append(sentence[0].upper() + sentence[1:].rstrip(".") + ".")

    def finish(self) -> Answer:
        """The answer: its sentences, and one line for what it waits for."""
        self.answer.text = " ".join(self.sentences)
        if self.missing:
            names = ", ".join(f"{n}.csv" + (f" (notebook {PRODUCERS[n]})" if n in PRODUCERS
                                            else "") for n in dict.fromkeys(self.missing))
            self.answer.waits_for = f"Waits for tables/{names}." if len(self.missing) == 1 \
                else f"Waits for the tables {names}."
        elif not self.sentences:
            self.answer.waits_for = "Its tables hold no estimable result yet."
        return self.answer


def rows(frame: pd.DataFrame, **where: str) -> pd.DataFrame:
    """The rows of ``frame`` whose columns hold the given texts (absent columns: no rows)."""
    mask = pd.Series(True, index=frame.index)
    for column, text in where.items():
        if column not in frame:
            return frame.iloc[0:0]
        mask &= frame[column] == text
    return frame[mask]


def scan_types(frame: pd.DataFrame) -> Iterator[tuple[str, str]]:
    """The (tracer, modality) pairs of a table, in their order of appearance."""
    if {"tracer", "modality"} <= set(frame.columns):
        yield from dict.fromkeys(zip(frame["tracer"], frame["modality"], strict=True))


def first(frame: pd.DataFrame) -> pd.Series | None:
    """The first row, or None."""
    return None if frame.empty else frame.iloc[0]


def is_number(text: str) -> bool:
    """Whether a cell holds a finite number."""
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def p_words(p: str) -> str:
    """``"p = 0.054"``, ``"p < 0.001"`` or ``"p > 0.99"`` from a formatted p value."""
    return f"p {p}" if p[:1] in "<>" else f"p = {p}"


def build_answers(tables: str | Path | Tables, level: float = 0.95) -> list[Answer]:
    """Answer every study question from a report's saved tables.

    Parameters
    ----------
    tables : str, Path or Tables
        The report's ``tables`` folder.
    level : float
        The confidence level of the report's intervals (``stats.ci_level``).

    Returns
    -------
    list of Answer
        In the protocol's order; the SSTR SPECT answer only when the study has SPECT tables.
    """
    from nethelpers.answerquestions import QUESTIONS

    source = tables if isinstance(tables, Tables) else Tables(tables)
    answers = []
    for key, question, write, optional in QUESTIONS:
        writer = Writer(source, key, question, level)
        try:
            write(writer)
        except Exception as error:  # noqa: BLE001 - a bug here must not cost the report
            writer.sentences = []
            writer.answer.values = {}
            writer.missing = []
            answer = writer.finish()
            answer.waits_for = (f"Not written: {type(error).__name__} while reading its tables "
                                "(a bug in nethelpers.answers; the tables are under Tables).")
            answers.append(answer)
            continue
        answer = writer.finish()
        if optional and not answer.text:
            continue
        answers.append(answer)
    return answers


Question = tuple[str, str, Callable[[Writer], None], bool]
"""(key, heading, writer function, shown only when it has text)."""
