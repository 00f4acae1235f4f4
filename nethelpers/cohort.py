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

Extra columns are kept untouched. Codes are matched without regard to case, spaces and
punctuation (``follow up`` is ``follow-up``; the vocabulary's columns also by their aliases)
and stored as ordered categoricals, booleans as pandas ``boolean``, integers as ``Int64``,
dates as ``datetime64``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from nethelpers.files import shown_path
from nethelpers.tableload import (
    SHOW,
    Problems,
    load_lesions,
    load_patients,
    load_reads,
    load_scans,
    load_table,
)
from nethelpers.tablespec import (
    CALLS,
    DIAGNOSES,
    GRADES,
    GROUP_LABELS,
    GROUPS,
    LESIONS,
    MODALITIES,
    NO_LESION,
    PATIENTS,
    READS,
    REFERENCE_STANDARDS,
    SCANS,
    SEXES,
    TABLES,
    TIO_GROUPS,
    TRACERS,
    TRUTHS,
    CohortError,
    Table,
    study_tables,
)
from nethelpers.timepoints import add_time_points, lesions_at_baseline, unreadable_time_points
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

if TYPE_CHECKING:
    from nethelpers.config import Params

__all__ = [
    "CALLS",
    "LESIONS",
    "PATIENTS",
    "READS",
    "SCANS",
    "TABLES",
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
    "study_tables",
]

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
        ``scans`` also carries each scan's time point and the days from its baseline
        (:func:`nethelpers.timepoints.add_time_points`).
    exclusions : pandas.DataFrame
        One row per problem found in lenient mode: ``what, id, reason, action, source``.
        In strict mode a problem raises instead; only the notes on time points are kept
        (a spelling normalised, a scan or a series without a baseline).
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
    problems: Problems,
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
                f"{_at(line)} ({_key_text(child, table, line)}: {child.at[line, column]!r})"
                for line in unknown[unknown].index[:SHOW]
            ]
            more = f" and {unknown.sum() - SHOW} more" if unknown.sum() > SHOW else ""
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
        "source": _source(path, line),
    }


def _at(line: object) -> str:
    """Where a row is: ``line 12`` of its table, or the ROI store version it came from."""
    return str(line) if isinstance(line, str) else f"line {line}"


def _source(path: Path, line: object) -> str:
    """The source of a problem row: ``reads.csv line 12`` or ``ROI store <scan>/<reader> vN``."""
    return str(line) if isinstance(line, str) else f"{path.name} line {line}"


def _excluded_ids(rows: list[dict[str, str]], entity: str) -> set[str]:
    return {r["id"] for r in rows if r["what"] == entity and r["action"] == "excluded"}


def _check_read_consistency(
    reads: pd.DataFrame,
    scans: pd.DataFrame,
    lesions: pd.DataFrame,
    path: Path,
    problems: Problems,
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
        f"{_at(line)} ({reads.at[line, 'scan_id']} of {a[line]} / "
        f"{reads.at[line, 'lesion_id']} of {b[line]})"
        for line in bad[bad].index[:SHOW]
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
    problems = Problems(strict=strict)
    patients = load_table(paths.patients, spec["patients"], problems)
    scans = load_table(paths.scans, spec["scans"], problems)
    lesions = load_table(paths.lesions, LESIONS, problems, optional=True)
    reads = load_table(paths.reads, READS, problems, optional=True)
    missing = {name: shown_path(Path(getattr(paths, name)).resolve(),
                                Path(params.study.data_root).resolve())
               for name in ("lesions", "reads") if not Path(getattr(paths, name)).exists()}

    _check_disease_status(patients, lesions, Path(paths.patients), problems)
    lesions = _reserved_lesion_ids(lesions, Path(paths.lesions), problems)
    reads = _with_store_reads(reads, params, problems)
    reads = _no_lesion_reads(reads, Path(paths.reads), problems)
    excluded = {"patients": _excluded_ids(problems.rows, "patient")}
    parents = {"patients": patients}
    scans = _check_references(scans, SCANS, parents, Path(paths.scans), problems, excluded)
    scans = add_time_points(scans, Path(paths.scans), problems)
    lesions = _check_references(lesions, LESIONS, parents, Path(paths.lesions), problems, excluded)
    excluded |= {
        "scans": _excluded_ids(problems.rows, "scan"),
        "lesions": _excluded_ids(problems.rows, "lesion"),
    }
    parents |= {"scans": scans, "lesions": lesions}
    reads = _check_references(reads, READS, parents, Path(paths.reads), problems, excluded)
    reads = _check_read_consistency(reads, scans, lesions, Path(paths.reads), problems)
    return Cohort(patients, scans, lesions, reads, problems.frame(), vocabulary, missing)


def _with_store_reads(reads: pd.DataFrame, params: Params, problems: Problems) -> pd.DataFrame:
    """The reads table with each reader's newest reads saved in the ROI store.

    The store wins on a difference, stated (:mod:`nethelpers.storereads`).
    """
    from nethelpers.storereads import merge_store_reads, store_reads

    if not Path(params.study.rois).is_dir():
        return reads
    stored, unreadable = store_reads(params.study.rois)
    merged, differ = merge_store_reads(reads, stored)
    rows = [{"what": "read", "id": d["id"], "reason": d["reason"], "action": "store used",
             "source": "ROI store"} for d in differ]
    rows += [{"what": "read", "id": "", "reason": text, "action": "excluded",
              "source": "ROI store"} for text in unreadable]
    if rows:
        problems.report(rows[0]["reason"], rows)
    return merged


def _check_disease_status(patients: pd.DataFrame, lesions: pd.DataFrame, path: Path,
                          problems: Problems) -> None:
    """Flag patients whose disease_present contradicts their diagnosis or their lesions.

    disease_present is the truth of the baseline (the index test): a malignant lesion new at
    a follow-up (``first_time_point``) does not contradict a disease-free baseline.

    The rows are kept (the reference standard is the study's to decide) and listed with
    action ``kept: check`` (strict mode raises).
    """
    present = patients["disease_present"].astype("boolean")
    diagnosis = patients["final_diagnosis"].astype("string")
    at_baseline = lesions_at_baseline(lesions)
    malignant = set(lesions.loc[lesions["malignant"].astype("boolean").fillna(False)
                                .astype(bool) & at_baseline, "patient_id"].astype(str))
    ids = patients["patient_id"].astype(str)
    checks = [
        (present.eq(False).fillna(False) & ids.isin(malignant),
         "disease_present is false but the lesions table has a malignant lesion of this "
         "patient"),
        (present.eq(False).fillna(False) & diagnosis.notna() & diagnosis.ne("none"),
         "disease_present is false but final_diagnosis names a disease"),
        (present.eq(True).fillna(False) & diagnosis.eq("none").fillna(False),
         "disease_present is true but final_diagnosis is none"),
    ]
    if "first_time_point" in lesions.columns:
        bad = unreadable_time_points(lesions["first_time_point"])
        lines = list(bad[bad].index)
        if lines:
            problems.report(
                "lesions table: column first_time_point: not a time point: "
                + ", ".join(f"{_at(line)} ({lesions.at[line, 'lesion_id']})"
                            for line in lines[:SHOW])
                + ". Fix: write baseline, follow-up 1, follow-up 2, ... or leave it empty "
                "(present at baseline).",
                [{"what": "lesion value", "id": str(lesions.at[line, "lesion_id"]),
                  "reason": "first_time_point is not a time point", "action": "kept: check",
                  "source": f"lesions table {_at(line)}"} for line in lines])
    for mask, reason in checks:
        lines = list(mask[mask.astype(bool)].index)
        if not lines:
            continue
        problems.report(
            f"{path}: column disease_present: {reason}: "
            + ", ".join(f"{_at(line)} ({patients.at[line, 'patient_id']})"
                        for line in lines[:SHOW])
            + ". Fix: correct disease_present, final_diagnosis or the lesions' truth.",
            [{"what": "patient value", "id": str(patients.at[line, "patient_id"]),
              "reason": reason, "action": "kept: check", "source": _source(path, line)}
             for line in lines])


def _is_no_lesion(values: pd.Series) -> pd.Series:
    return values.astype("string").str.casefold().eq(NO_LESION).fillna(False).astype(bool)


def _reserved_lesion_ids(lesions: pd.DataFrame, path: Path, problems: Problems) -> pd.DataFrame:
    """Refuse a lesion whose ID is the reserved word of a read with no lesion called."""
    bad = _is_no_lesion(lesions["lesion_id"])
    if not bad.any():
        return lesions
    problems.report(
        f"{path}: column lesion_id: {NO_LESION!r} is reserved (a read with lesion_id "
        f"{NO_LESION} records a scan read with no lesion called) in {int(bad.sum())} row(s): "
        + ", ".join(_at(line) for line in bad[bad].index[:SHOW])
        + ". Fix: give the lesion another ID.",
        [_record(lesions, LESIONS, line, f"lesion_id {NO_LESION!r} is reserved", path)
         for line in bad[bad].index])
    return lesions[~bad]


def _no_lesion_reads(reads: pd.DataFrame, path: Path, problems: Problems) -> pd.DataFrame:
    """Spell every read with no lesion called ``none``; refuse one whose call is not negative."""
    none = _is_no_lesion(reads["lesion_id"])
    if not none.any():
        return reads
    reads = reads.copy()
    reads.loc[none, "lesion_id"] = NO_LESION
    bad = none & reads["call"].astype("string").ne("negative").fillna(True).astype(bool)
    if not bad.any():
        return reads
    problems.report(
        f"{path}: column call: {int(bad.sum())} read(s) with lesion_id {NO_LESION} (a scan read "
        "with no lesion called) have a call other than negative: "
        + ", ".join(f"{_at(line)} ({reads.at[line, 'scan_id']}: {reads.at[line, 'call']!r})"
                    for line in bad[bad].index[:SHOW])
        + ". Fix: a positive or equivocal finding needs its own lesion_id in the lesions "
        "table; a scan with nothing called is one row with call negative.",
        [_record(reads, READS, line, f"lesion_id {NO_LESION} with call "
                 f"{reads.at[line, 'call']!r}: only negative is possible", path)
         for line in bad[bad].index])
    return reads[~bad]


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
