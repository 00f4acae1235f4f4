"""One pseudonymiser for every string that reaches a report artefact.

Report artefacts (HTML, CSV, executed notebooks, SVG/PNG text, JSON) are shared with
co-authors and journals; the DICOM tree they come from is not. Folder names of PACS exports
carry patient names and record numbers (``Pospisil_Petra_MRN8151528/``), error messages
carry paths, and dates are identifiers. :class:`Pseudonymiser` rewrites a string so that:

- a folder of a scan's series, or any path inside it, becomes ``<P001/P001-FDG-PETCT>``
  (patient and scan pseudonyms of the scans table), a folder holding one patient's scans
  ``<P001>``, any other folder under the DICOM root ``<dicom folder>``; those folder
  names are replaced wherever they appear, not only in paths;
- file names inside the DICOM tree are kept only when they carry no letters beyond a
  DICOM-style prefix (``IM0001.dcm``, ``1.2.840...dcm``), else become ``<file>``;
- the study's other roots become ``<dicom>``, ``<data>``, ``<derived>``, ``<report>``,
  ``<parameters>``, the home folder ``~``, any other absolute path ``<path>/<its name>``;
- dates (ISO, DICOM ``YYYYMMDD``, ``DD.MM.YYYY``, ``DD/MM/YYYY``) become study days, the
  days from the patient's first scan (``day 12``), or ``<date>`` when the patient is not
  known; ``report.calendar_dates: true`` keeps dates in tables (never in free text).

:func:`for_params` builds it from validated parameters; the report uses the same one for
notebooks' tables (:class:`nethelpers.reportdir.ReportDir`), provenance and the final pass
over every artefact (:mod:`nethelpers.reportseal`).
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.privacytree import (
    GENERIC,
    distinctive,
    inherited,
    own_words,
    scan_folders,
    tree_labels,
)
from nethelpers.regextrie import literal_trie

__all__ = ["DATE_PATTERN", "Pseudonymiser", "for_params", "study_days"]

_SAFE_FILE = re.compile(r"^(?:[A-Z]{1,4}[_-]?)?[0-9][0-9._-]*(?:\.(?:dcm|ima|img|dicom))?$",
                        re.IGNORECASE)
"""File names kept inside the DICOM tree: digits, dots and a short DICOM-style prefix."""

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MON = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"

DATE_PATTERN = re.compile(
    r"(?<![\w.])(?:"
    rf"(?P<iso>{_YEAR}(?P<isep>[-/.])(?:0[1-9]|1[0-2])(?P=isep)(?:0[1-9]|[12]\d|3[01]))"
    r"(?P<time>[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?"
    rf"|(?P<dicom>{_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))"
    r"(?P<dtime>(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d(?:\.\d+)?)?)?"
    rf"|(?P<dmy>(?P<a>\d{{1,2}})(?P<sep>\.\s?|/|-)(?P<b>\d{{1,2}})(?P=sep)(?P<y>{_YEAR}))"
    rf"|(?P<dmony>(?P<d1>{_DAY})(?:st|nd|rd|th)?[\s.-]+(?P<m1>{_MONTH})[\s,.-]+(?P<y1>{_YEAR}))"
    rf"|(?P<mondy>(?P<m2>{_MONTH})\s+(?P<d2>{_DAY})(?:st|nd|rd|th)?,?\s+(?P<y2>{_YEAR}))"
    r")(?![\w])",
    re.IGNORECASE,
)
"""Dates in free text: ISO (``-``, ``/`` or ``.``, with an optional time), DICOM DA/DT,
day-first numeric (``9.1.2025``, ``09/01/2025``), and with month names (``9 Jan 2025``,
``09-Jan-2025``, ``January 9, 2025``)."""

_UID = re.compile(r"(?<![\w.])[0-2](?:\.(?:0|[1-9]\d*)){4,}(?![\w]|\.\d)")
"""DICOM UIDs (five components or more): they are identifiers, and vendors embed dates."""

_ABSOLUTE = re.compile(r"(?<![\w.~<>/\\:+=%-])(?:/|[A-Za-z]:\\|\\\\)[^\s'\"<>|;,()\[\]{}]*")
_LABELLED_REST = re.compile(r"(<[^<>\s]+>)((?:[/\\][^\s/\\'\"<>|:;,()\[\]{}]+)+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _parse_date(match: re.Match[str]) -> tuple[date | None, str]:
    """The date of a :data:`DATE_PATTERN` match (None: ambiguous) and its time (``HH:MM``)."""
    if match["iso"]:
        y, m, d = re.split(r"[-/.]", match["iso"])
        return date(int(y), int(m), int(d)), (match["time"] or "")[1:6]
    if match["dicom"]:
        text, raw = match["dicom"], match["dtime"] or ""
        clock = f"{raw[:2]}:{raw[2:4]}" if raw else ""
        return date(int(text[:4]), int(text[4:6]), int(text[6:])), clock
    if match["dmy"]:
        a, b, y = int(match["a"]), int(match["b"]), int(match["y"])
        if match["sep"] == "/" and a <= 12 and b <= 12 and a != b:
            return None, ""  # 01/09/2025: 1 September or January 9? Neither is shown.
        day, month = (b, a) if match["sep"] == "/" and a <= 12 < b else (a, b)
        return date(y, month, day), ""
    if match["dmony"]:
        day, month, year = match["d1"], match["m1"], match["y1"]
    else:
        day, month, year = match["d2"], match["m2"], match["y2"]
    return date(int(year), _MONTHS.index(month[:3].lower()) + 1, int(day)), ""


def study_days(value: date, first: date) -> str:
    """``day N``: days from the patient's first scan (``day 0``), negative before it."""
    return f"day {(value - first).days}"


@dataclass(frozen=True)
class Pseudonymiser:
    """Rewrite strings for report artefacts (see the module docstring).

    Parameters
    ----------
    folders : mapping
        Absolute folder → label, e.g. ``/data/dicom/Smith_J/PET`` → ``<P001/P001-FDG-PETCT>``.
    names : mapping
        Folder name → label, replaced wherever it appears as a token.
    roots : mapping
        Absolute root → label (``<dicom>``, ``<data>``, ...), for paths outside known folders.
    relative : mapping
        A folder's path relative to the DICOM root or ``data_root`` (two parts or more) →
        its label, as messages show them.
    first_scan : mapping
        Patient pseudonym → date of the first scan (study day 0).
    scan_patient : mapping
        Scan ID → patient pseudonym (a table row with a scan ID finds its patient).
    calendar_dates : bool
        Keep dates in table columns of dates (``report.calendar_dates``).
    not_dates : frozenset of str
        Numbers of the study's own that only look like ``YYYYMMDD`` dates (the seeds of the
        parameters, e.g. ``20240601``): kept.
    """

    folders: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    roots: Mapping[str, str] = field(default_factory=dict)
    relative: Mapping[str, str] = field(default_factory=dict)
    first_scan: Mapping[str, date] = field(default_factory=dict)
    scan_patient: Mapping[str, str] = field(default_factory=dict)
    calendar_dates: bool = False
    not_dates: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        pairs = [(k, v) for k, v in self.folders.items() if k]
        pairs += [(k, v) for k, v in self.roots.items() if k]
        # longest first, so a scan folder wins over the DICOM root that holds it
        prefixes = sorted((p for p, _ in pairs), key=len, reverse=True)
        object.__setattr__(self, "_prefix_labels", dict(pairs))
        object.__setattr__(self, "_prefix", re.compile(literal_trie(
            prefixes, after=r"(?![\w.-])")) if pairs else None)  # a trie: linear in the text
        names = sorted((n for n in self.names if n), key=len, reverse=True)
        rel = sorted((r for r in self.relative if r), key=len, reverse=True)
        object.__setattr__(self, "_relative", re.compile(literal_trie(
            rel, before=r"(?<![\w/.<-])", after=r"(?![\w>-])")) if rel else None)
        object.__setattr__(self, "_dicom_labels",
                           set(self.folders.values()) | {"<dicom>", "<dicom folder>"})
        object.__setattr__(self, "_names", re.compile(literal_trie(
            names, before=r"(?<![\w<-])", after=r"(?![\w>-])", lower=True), re.IGNORECASE)
            if names else None)
        object.__setattr__(self, "_name_labels", {n.casefold(): v for n, v in self.names.items()})

    # -- strings -----------------------------------------------------------------------------

    def text(self, value: Any, patient: str | None = None) -> str:
        """Pseudonymise free text: paths, folder names and dates.

        Parameters
        ----------
        value : object
            Converted with ``str``; ``None`` gives "".
        patient : str, optional
            Patient pseudonym, so dates become study days; else ``<date>``.

        Returns
        -------
        str
        """
        if value is None:
            return ""
        text = self.known(_ANSI.sub("", str(value)))
        text = _ABSOLUTE.sub(lambda m: self._other_path(m.group(0)), text)
        text = _LABELLED_REST.sub(self._rest, text)
        text = DATE_PATTERN.sub(lambda m: self._date(m, patient), text)
        return _UID.sub("<uid>", text)

    def known(self, text: str, escape: bool = False) -> str:
        """Replace only the known roots, folders and folder names (for whole files).

        Whole artefacts (HTML with embedded images, notebook JSON) are rewritten with this:
        unlike :meth:`text` it never touches a string that is not one of the study's own
        paths or folder names, so base64 data and URLs stay intact.

        Parameters
        ----------
        text : str
            The text.
        escape : bool
            Insert the labels HTML-escaped (``&lt;P001&gt;``), for HTML and SVG.
        """
        return self.known_count(text, escape)[0]

    def markup(self, text: str) -> str:
        """HTML or SVG as a report may show it: :meth:`known` escaped, dates and UIDs hidden."""
        text = DATE_PATTERN.sub("&lt;date&gt;", self.known(text, escape=True))
        return _UID.sub("&lt;uid&gt;", text)

    def known_count(self, text: str, escape: bool = False) -> tuple[str, int]:
        """:meth:`known` and the number of strings it replaced."""
        total = 0
        shown = html.escape if escape else str
        for pattern, labels, key in (
                (self._prefix, self._prefix_labels, str),  # type: ignore[attr-defined]
                (self._relative, self.relative, str),  # type: ignore[attr-defined]
                (self._names, self._name_labels, str.casefold)):  # type: ignore[attr-defined]
            if pattern is not None:
                text, n = pattern.subn(
                    lambda m, lab=labels, k=key: shown(lab[k(m.group(0))]), text)
                total += n
        return text, total

    def day(self, value: Any, patient: str | None) -> Any:
        """A date or date-time value of a table cell as a study day (or kept, if opted in)."""
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return value
        if self.calendar_dates:
            return value
        text = value.isoformat() if isinstance(value, date | datetime) else str(value)
        match = DATE_PATTERN.fullmatch(text.strip())
        if not match:
            return self.text(text, patient)
        return self._date(match, patient)

    # -- tables and JSON ---------------------------------------------------------------------

    def frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A copy of a table whose text cells are pseudonymised; dates become study days.

        The patient of a row is its ``patient_id``, else the patient of its ``scan_id``.
        Column names are pseudonymised too. Numbers are left alone.
        """
        out = df.copy()
        patients = self._row_patients(out)
        for column in out.columns:
            series = out[column]
            if pd.api.types.is_datetime64_any_dtype(series):
                out[column] = [self.day(v, p) for v, p in zip(series, patients, strict=True)]
            elif series.dtype == object or pd.api.types.is_string_dtype(series):
                out[column] = [v if not isinstance(v, str) else self._cell(v, p)
                               for v, p in zip(series, patients, strict=True)]
        out.columns = [self.text(c) if isinstance(c, str) else c for c in out.columns]
        if out.index.dtype == object:
            out.index = [self.text(i) if isinstance(i, str) else i for i in out.index]
        return out

    def json(self, value: Any) -> Any:
        """Every string of a JSON-like structure (keys too) through :meth:`text`."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(k) if isinstance(k, str) else k: self.json(v)
                    for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.json(v) for v in value]
        return value

    # -- helpers -----------------------------------------------------------------------------

    def _cell(self, value: str, patient: str | None) -> str:
        match = DATE_PATTERN.fullmatch(value.strip())
        if match and self.calendar_dates:
            return value
        return self.text(value, patient)

    def _row_patients(self, df: pd.DataFrame) -> list[str | None]:
        if "patient_id" in df.columns:
            return [p if isinstance(p, str) else None for p in df["patient_id"]]
        if "scan_id" in df.columns:
            return [self.scan_patient.get(s) if isinstance(s, str) else None
                    for s in df["scan_id"]]
        return [None] * len(df)

    def _date(self, match: re.Match[str], patient: str | None) -> str:
        if match.group(0) in self.not_dates:
            return match.group(0)
        try:
            day, clock = _parse_date(match)
        except ValueError:  # e.g. 31.02.2025: not a date, but keep nothing that looks like one
            return "<date>"
        if day is None:
            return "<date>"
        first = self.first_scan.get(patient) if patient else None
        shown = "<date>" if first is None else study_days(day, first)
        return shown + (f" {clock}" if clock else "")

    def _other_path(self, path: str) -> str:
        if path in ("/", "//") or len(path) < 2:
            return path
        home = os.path.expanduser("~")
        inside_home = home not in ("/", "") and (path == home or path.startswith(home + os.sep))
        name = _safe_name(re.split(r"[/\\]", path.rstrip("/\\"))[-1])
        return ("~/" if inside_home else "<path>/") + name

    def _rest(self, match: re.Match[str]) -> str:
        label, rest = match.group(1), match.group(2)
        if label not in self._dicom_labels:  # type: ignore[attr-defined]
            return label + rest  # below <data>, <report>...: the study's own names
        parts = [p for p in re.split(r"[/\\]", rest) if p]
        return label + "".join(
            "/" + (p if _SAFE_FILE.match(p) or p.lower() in GENERIC else "<file>") for p in parts)


def _safe_name(name: str) -> str:
    return name if _SAFE_FILE.match(name) or re.fullmatch(r"[\w.-]{1,40}", name) else "<file>"


# --------------------------------------------------------------------------------------------
# building it for a study
# --------------------------------------------------------------------------------------------


def for_params(params: Any, cohort: Any | None = None, jobs: Iterable[Any] = (),
               params_file: str | os.PathLike[str] | None = None) -> Pseudonymiser:
    """The pseudonymiser of a study's report.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters (roots, ``report.calendar_dates``).
    cohort : nethelpers.cohort.Cohort, optional
        The loaded cohort (default: loaded leniently; an unreadable scans table gives a
        pseudonymiser of the roots only).
    jobs : iterable of ScanJob
        Scan jobs whose series folders were found in the DICOM index.
    params_file : path-like, optional
        The parameters file: its folder becomes ``<parameters>``.

    Returns
    -------
    Pseudonymiser
    """
    scans = _scans_table(params, cohort)
    dicom = Path(params.study.dicom).resolve()
    folders = tree_labels(dicom, scan_folders(params, scans, jobs))
    own = own_words(params, scans)
    names: dict[str, str] = {}
    for folder, label in sorted(folders.items(), key=lambda kv: len(kv[0].parts)):
        if distinctive(folder.name, own):
            key = next((n for n in names if n.casefold() == folder.name.casefold()), None)
            if key is None:
                names[folder.name] = label
            elif names[key] != label:  # one name in several patients' folders
                names[key] = ("<dicom folder>" if inherited(names[key]) != inherited(label)
                              else inherited(label))
    study = params.study
    roots = {}
    for path, label in ((params.report.notebooks_dir, "<notebooks>"),
                        (params_file and Path(params_file).parent, "<parameters>"),
                        *((getattr(study.tables, t).parent, "<tables>")
                          for t in type(study.tables).model_fields),
                        (study.data_root, "<data>"), (study.rois, "<rois>"),
                        (params.quantify.output, "<derived>"), (params.report.output, "<report>"),
                        (study.dicom, "<dicom>")):
        if path:  # later wins: a folder that is two roots shows as the more specific one
            for form in {str(Path(path)), str(Path(path).resolve())}:
                roots[form] = label
    first = _first_scans(scans)
    scan_patient = {str(s): str(p) for s, p in zip(scans.get("scan_id", []),
                                                   scans.get("patient_id", []), strict=True)}
    relative: dict[str, str] = {}
    for base in (dicom, Path(params.study.data_root).resolve()):
        for folder, label in folders.items():
            if base in folder.parents and len(folder.relative_to(base).parts) >= 2:
                relative.setdefault(folder.relative_to(base).as_posix(), label)
    return Pseudonymiser(folders={str(k): v for k, v in folders.items()}, names=names,
                         relative=relative,
                         roots=roots, first_scan=first, scan_patient=scan_patient,
                         calendar_dates=bool(getattr(params.report, "calendar_dates", False)),
                         not_dates=frozenset({str(params.stats.seed), str(params.demo.seed)}))


def _scans_table(params: Any, cohort: Any | None) -> pd.DataFrame:
    if cohort is not None:
        return cohort.scans
    from nethelpers.cohort import CohortError, load_cohort

    try:
        return load_cohort(params).scans
    except (CohortError, OSError, ValueError):
        return pd.DataFrame(columns=["scan_id", "patient_id", "scan_date"])


def _first_scans(scans: pd.DataFrame) -> dict[str, date]:
    if "scan_date" not in scans.columns or scans.empty:
        return {}
    dates = pd.to_datetime(scans["scan_date"], errors="coerce")
    first = dates.groupby(scans["patient_id"].astype(str)).min().dropna()
    return {str(p): d.date() for p, d in first.items()}
