"""The four study tables: their columns, codes and what each requires.

A column is an ID, text, a code, a number, a boolean or a date; it may be required (the row
is excluded without it) or optional (a bad value becomes missing). The codes of the group,
final_diagnosis, tracer and modality columns come from the study's vocabulary
(:mod:`nethelpers.vocabulary`), so :func:`study_tables` builds the specifications per study;
the module constants describe the protocol's default vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from nethelpers.vocabulary import DEFAULT_VOCABULARY, VOCABULARY_KEYS, Vocabulary

__all__ = [
    "ALIASED", "ANATOMIC_CORRELATES", "CALLS", "DIAGNOSES", "EXCLUSION_COLUMNS", "GRADES",
    "GROUPS", "GROUP_LABELS", "HEIGHT_NORMS", "LESIONS", "MISSING", "MODALITIES", "NO_LESION",
    "PATIENTS", "READS", "REFERENCE_STANDARDS", "SCANS", "SEXES", "SSTR_UPTAKE", "TABLES",
    "TIO_GROUPS", "TRACERS", "TRUTHS",
    "Column", "CohortError", "Table", "study_tables",
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
ANATOMIC_CORRELATES = ("suspicious", "benign", "none")
"""``anatomic_correlate`` of a read (SSTR-RADS): the finding on the CT or MR at the focus is
suspicious of tumour, characterised as benign, or there is none."""
SSTR_UPTAKE = ("no uptake", "at or below blood pool", "above blood pool, at or below liver",
               "above liver, at or below spleen", "above spleen")
"""Meaning of ``sstr_uptake`` 0-4 (the uptake grade SSTR-RADS reads; index = value)."""

ALIASED = ("tracer", "modality")  # vocabulary columns whose entries have aliases

NO_LESION = "none"
"""``lesion_id`` of a read that records a scan read with no lesion called (call negative)."""

MISSING = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL")
"""Cell values read as missing. ``none`` is not one of them: it is a diagnosis code."""

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
    tracer, modality and date, a lesion's ID and patient, a read's keys and call. A lesion
    whose truth is pending keeps its reads (they count at patient level) and is left out of
    the lesion-level accuracy, counted.
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
            Column("reference_date", "date"),           # STARD 22: index test to reference
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
            # baseline / follow-up N, any common spelling; empty: derived from scan_date
            # (nethelpers.timepoints)
            Column("time_point", "text"),
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
        Column("truth", "code", codes=TRUTHS),      # pending: left out of lesion accuracy
        Column("malignant", "bool"),                # ... and counted (n_no_reference)
        Column("reference_standard", "code", codes=REFERENCE_STANDARDS),
        Column("true_suv_dotatate", "float", low=0, high=1000),
        Column("true_suv_fdg", "float", low=0, high=1000),
        Column("description", "text"),
        # the time point the lesion is first present at: baseline (also when empty) or a
        # follow-up (a new lesion: recurrence or progression; nethelpers.timepoints)
        Column("first_time_point", "text"),
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
        # SSTR-RADS 1.0 (nethelpers.sstrrads), for SSTR PET reads; optional
        Column("sstr_uptake", "int", low=0, high=4),
        Column("anatomic_correlate", "code", codes=ANATOMIC_CORRELATES),
        Column("site_typical", "bool"),
        # the reader's long and short axis (the review's ruler); optional
        Column("long_axis_mm", "float", low=0, high=1000, unit="mm"),
        Column("short_axis_mm", "float", low=0, high=1000, unit="mm"),
    ),
    references=(("scan_id", "scans"), ("lesion_id", "lesions")),
)

_DEFAULT = study_tables()
PATIENTS = _DEFAULT["patients"]
SCANS = _DEFAULT["scans"]

TABLES = {table.name: table for table in (PATIENTS, SCANS, LESIONS, READS)}

EXCLUSION_COLUMNS = ("what", "id", "reason", "action", "source")

