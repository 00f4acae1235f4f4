"""The study's vocabulary: patient groups, diagnoses, tracers and modalities.

The codes a study may write in its tables are parameters (section ``vocabulary`` of the
parameters file), so a centre whose groups, tracers or scanners differ from the protocol's
changes a list instead of the code. The defaults are the protocol's.

Tracers and modalities have aliases: a table may say ``Ga68-DOTATATE``, ``DOTA-TATE`` or
``68Ga DOTATATE`` and the analysis sees ``DOTATATE``. Codes and aliases are matched without
regard to case, spaces and punctuation (``PET-CT``, ``petct`` and ``PET/CT`` are one code).
Every tracer belongs to a family (``sstr``: a somatostatin-receptor ligand; ``fdg``; ``other``),
and every modality to a system (``PET`` or ``SPECT``): the analyses ask for the family and the
system, never for a name, so a study of ⁶⁸Ga-DOTATOC runs the same report as one of DOTATATE.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "DEFAULT_VOCABULARY",
    "VOCABULARY_KEYS",
    "GroupTerm",
    "ModalityTerm",
    "TracerTerm",
    "Vocabulary",
    "VocabularyError",
    "code_key",
    "how_to_add",
]


class VocabularyError(ValueError):
    """A code that the vocabulary of the parameters does not know."""


RESERVED = ("not recorded", "overall", "none")
"""Words the report uses for missing values and totals: never a group or diagnosis code or
label (``none`` is the default diagnosis of disease-free patients, and is allowed there)."""


def code_key(text: str) -> str:
    """Return the matching key of a code: case-folded letters and digits only.

    Unicode is normalised first (NFKC), so superscript mass numbers (``⁶⁸Ga``) read as
    digits, and letters of any script are kept (``Gruppe Ä`` and ``Gruppe Ö`` differ).

    Parameters
    ----------
    text : str
        A code or alias as written, e.g. ``"Ga-68 DOTA-TATE"``.

    Returns
    -------
    str
        E.g. ``"ga68dotatate"``.
    """
    return re.sub(r"[\W_]", "", unicodedata.normalize("NFKC", str(text)).casefold())


class _Term(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GroupTerm(_Term):
    """One patient group of the protocol."""

    code: str = Field(min_length=1, description="Code written in patients.csv (group column).")
    label: str = Field("", description="Readable label for tables and figures (default: code).")
    tio: bool = Field(False, description="A tumour-induced osteomalacia group (FGF23, "
                      "phosphate in Table 1).")
    prrt: bool = Field(False, description="A group assessed for PRRT eligibility (Krenning).")


class TracerTerm(_Term):
    """One tracer, its family and the other names it is written under."""

    name: str = Field(min_length=1, description="Canonical name used in every table.")
    family: Literal["sstr", "fdg", "other"] = Field(
        description="sstr (somatostatin-receptor ligand), fdg, or other.")
    aliases: list[str] = Field(default_factory=list,
                               description="Other spellings accepted in scans.csv.")


class ModalityTerm(_Term):
    """One imaging modality (the emission system and its anatomical companion)."""

    name: str = Field(min_length=1, description="Canonical name, e.g. PET/CT.")
    system: Literal["PET", "SPECT"] = Field(description="Emission system: PET or SPECT.")
    aliases: list[str] = Field(default_factory=list,
                               description="Other spellings accepted in scans.csv.")


def _default_groups() -> list[GroupTerm]:
    return [
        GroupTerm(code="suspected_net", label="Suspected NET (diagnosis)"),
        GroupTerm(code="staging_net", label="Confirmed NET (staging)"),
        GroupTerm(code="history_net", label="History of NET (recurrence, response)"),
        GroupTerm(code="prrt_net", label="Inoperable or metastatic NET (PRRT)", prrt=True),
        GroupTerm(code="suspected_tio", label="Suspected TIO (localisation)", tio=True),
        GroupTerm(code="tio_post_surgery", label="TIO after surgery", tio=True),
    ]


def _default_tracers() -> list[TracerTerm]:
    return [
        TracerTerm(name="DOTATATE", family="sstr",
                   aliases=["Ga68-DOTATATE", "68Ga-DOTATATE", "Ga-68 DOTATATE", "DOTA-TATE",
                            "68Ga-DOTA-TATE", "[68Ga]Ga-DOTA-TATE", "NETSPOT",
                            "oxodotreotide"]),
        TracerTerm(name="FDG", family="fdg",
                   aliases=["18F-FDG", "F18-FDG", "FDG-F18", "[18F]FDG", "fluorodeoxyglucose",
                            "fludeoxyglucose"]),
        TracerTerm(name="HYNIC-TOC", family="sstr",
                   aliases=["99mTc-HYNIC-TOC", "Tc99m-HYNIC-TOC", "HYNIC-TOC-Tc99m",
                            "[99mTc]Tc-HYNIC-TOC", "Tektrotyd"]),
        TracerTerm(name="DOTATOC", family="sstr",
                   aliases=["68Ga-DOTATOC", "Ga68-DOTATOC", "DOTA-TOC", "[68Ga]Ga-DOTA-TOC",
                            "edotreotide", "SomaKit TOC"]),
        TracerTerm(name="DOTANOC", family="sstr",
                   aliases=["68Ga-DOTANOC", "Ga68-DOTANOC", "DOTA-NOC", "[68Ga]Ga-DOTA-NOC"]),
    ]


def _default_modalities() -> list[ModalityTerm]:
    return [
        ModalityTerm(name="PET/CT", system="PET", aliases=["PET-CT"]),
        ModalityTerm(name="PET/MR", system="PET", aliases=["PET-MR", "PET/MRI", "PET-MRI"]),
        ModalityTerm(name="SPECT/CT", system="SPECT", aliases=["SPECT-CT"]),
    ]


class Vocabulary(_Term):
    """The codes of a study's tables (section ``vocabulary`` of the parameters).

    A list given in the parameters replaces the default list as a whole; ``nethelpers init``
    writes the defaults into the new study's parameters so they can be edited in place.
    """

    groups: list[GroupTerm] = Field(default_factory=_default_groups, min_length=1,
                                    description="Patient groups (group column of patients).")
    diagnoses: list[str] = Field(default_factory=lambda: ["NET", "TIO", "none"], min_length=1,
                                 description="Final diagnoses (final_diagnosis column); "
                                 "'none' for patients without the disease.")
    tracers: list[TracerTerm] = Field(default_factory=_default_tracers, min_length=1,
                                      description="Tracers (tracer column of scans).")
    modalities: list[ModalityTerm] = Field(default_factory=_default_modalities, min_length=1,
                                           description="Modalities (modality column of scans).")

    @model_validator(mode="after")
    def _unique(self) -> Vocabulary:
        _check_reserved("vocabulary.groups", [g.code for g in self.groups]
                        + [g.label for g in self.groups if g.label], allow=())
        _check_reserved("vocabulary.diagnoses", self.diagnoses, allow=("none",))
        labels = [g.label or g.code for g in self.groups]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"vocabulary.groups: label {twice[0]!r} names two groups; "
                             "each group needs its own label")
        _check_unique("vocabulary.groups", [(g.code, g.code) for g in self.groups])
        _check_unique("vocabulary.diagnoses", [(d, d) for d in self.diagnoses])
        _check_unique("vocabulary.tracers",
                      [(n, t.name) for t in self.tracers for n in (t.name, *t.aliases)])
        _check_unique("vocabulary.modalities",
                      [(n, m.name) for m in self.modalities for n in (m.name, *m.aliases)])
        return self

    # -- codes in display order ---------------------------------------------------------------

    @property
    def group_codes(self) -> tuple[str, ...]:
        """Group codes, in the order of the parameters."""
        return tuple(g.code for g in self.groups)

    @property
    def group_labels(self) -> dict[str, str]:
        """Readable label of every group code."""
        return {g.code: g.label or g.code for g in self.groups}

    @property
    def tio_groups(self) -> tuple[str, ...]:
        """Codes of the tumour-induced osteomalacia groups."""
        return tuple(g.code for g in self.groups if g.tio)

    @property
    def prrt_groups(self) -> tuple[str, ...]:
        """Codes of the groups assessed for PRRT eligibility."""
        return tuple(g.code for g in self.groups if g.prrt)

    @property
    def tracer_names(self) -> tuple[str, ...]:
        """Canonical tracer names, in the order of the parameters."""
        return tuple(t.name for t in self.tracers)

    @property
    def modality_names(self) -> tuple[str, ...]:
        """Canonical modality names, in the order of the parameters."""
        return tuple(m.name for m in self.modalities)

    @property
    def sstr_tracers(self) -> frozenset[str]:
        """Names of the somatostatin-receptor tracers."""
        return frozenset(t.name for t in self.tracers if t.family == "sstr")

    @property
    def fdg_tracers(self) -> frozenset[str]:
        """Names of the FDG tracers."""
        return frozenset(t.name for t in self.tracers if t.family == "fdg")

    @property
    def pet_modalities(self) -> tuple[str, ...]:
        """Modalities of PET systems, in the order of the parameters."""
        return tuple(m.name for m in self.modalities if m.system == "PET")

    @property
    def spect_modalities(self) -> tuple[str, ...]:
        """Modalities of SPECT systems."""
        return tuple(m.name for m in self.modalities if m.system == "SPECT")

    # -- lookups ------------------------------------------------------------------------------

    def lookup(self, column: str) -> dict[str, str]:
        """Return the matching key → canonical code of one coded column.

        Parameters
        ----------
        column : {"group", "final_diagnosis", "tracer", "modality"}
            The column of the study tables.

        Returns
        -------
        dict
            :func:`code_key` of every code and alias → its canonical code.
        """
        if column == "group":
            pairs = [(g.code, g.code) for g in self.groups]
        elif column == "final_diagnosis":
            pairs = [(d, d) for d in self.diagnoses]
        elif column == "tracer":
            pairs = [(n, t.name) for t in self.tracers for n in (t.name, *t.aliases)]
        elif column == "modality":
            pairs = [(n, m.name) for m in self.modalities for n in (m.name, *m.aliases)]
        else:
            raise KeyError(f"no vocabulary for column {column!r}")
        return {code_key(name): code for name, code in pairs}

    def canonical(self, column: str, value: str) -> str:
        """Return the canonical code of ``value`` in ``column``.

        Raises
        ------
        VocabularyError
            The value is not a code or alias; the message lists the codes and the key.
        """
        code = self.lookup(column).get(code_key(value))
        if code is None:
            raise VocabularyError(
                f"{column} {value!r} is not in the vocabulary; allowed: "
                f"{', '.join(self.codes(column))}. Fix: correct the value, or "
                f"{how_to_add(column)}.")
        return code

    def codes(self, column: str) -> tuple[str, ...]:
        """Return the canonical codes of one coded column, in display order."""
        return {"group": self.group_codes, "final_diagnosis": tuple(self.diagnoses),
                "tracer": self.tracer_names, "modality": self.modality_names}[column]

    def family(self, tracer: str) -> str:
        """Return the family (``sstr``, ``fdg``, ``other``) of a canonical tracer name."""
        for t in self.tracers:
            if t.name == tracer:
                return t.family
        return "other"

    def system(self, modality: str) -> str:
        """Return the system (``PET`` or ``SPECT``) of a canonical modality name."""
        for m in self.modalities:
            if m.name == modality:
                return m.system
        return ""


VOCABULARY_KEYS = {"group": "vocabulary.groups", "final_diagnosis": "vocabulary.diagnoses",
                   "tracer": "vocabulary.tracers", "modality": "vocabulary.modalities"}
"""The parameters key that holds the codes of each coded column."""


def how_to_add(column: str) -> str:
    """How to make a new code of ``column`` known, for error messages."""
    key = VOCABULARY_KEYS[column]
    if column in ("tracer", "modality"):
        return f"add it (or an alias of an existing entry, under its aliases) to {key}"
    return f"add it to {key}"


def _check_reserved(key: str, names: list[str], allow: tuple[str, ...]) -> None:
    """Refuse codes and labels the report uses for missing values and totals."""
    for name in names:
        folded = " ".join(str(name).casefold().split())
        if folded in RESERVED and folded not in allow:
            raise ValueError(f"{key}: {name!r} is a word the report uses for missing values "
                             "or totals; choose another code or label")


def _check_unique(key: str, names: list[tuple[str, str]]) -> None:
    """Refuse a name (or alias) that matches two codes, or an empty name."""
    seen: dict[str, str] = {}
    for name, code in names:
        k = code_key(name)
        if not k:
            raise ValueError(f"{key}: {name!r} has no letter or digit")
        if k in seen and seen[k] != code:
            raise ValueError(f"{key}: {name!r} names both {seen[k]} and {code}; "
                             "each code and alias must name one entry")
        if k in seen and name == code and seen[k] == code and names.count((name, code)) > 1:
            raise ValueError(f"{key}: {name!r} is listed twice")
        seen[k] = code


DEFAULT_VOCABULARY = Vocabulary()
"""The protocol's vocabulary (the default of every parameters file)."""
