"""The scan types a study's comparisons use, chosen by tracer family and modality system.

Notebook 4 compares "the SSTR PET tracer" with FDG, the SSTR tracer on two PET systems
(PET/MR against PET/CT) and SSTR SPECT with SSTR PET. Which tracer and which modality play
each role is read from the study's scans and its vocabulary (``sstr_tracers``,
``fdg_tracers``, ``pet_modalities``, ``spect_modalities``), never from a name, so a study of
⁶⁸Ga-DOTATOC gets the same sections as one of ⁶⁸Ga-DOTATATE, with its own tracer in the
titles. A role the study's scans cannot fill is None, and :meth:`ScanTypes.needs` says why
in one sentence for the report.

Rules (ties go to the order of the vocabulary):

- ``sstr_pet``: the SSTR tracer with the most PET scans, on the PET modality where it has
  the most scans (the protocol's PET/CT);
- ``fdg_pet``: the FDG tracer with the most scans on that same modality;
- ``sstr_other_pet``: the same SSTR tracer on the PET modality, other than ``sstr_pet``'s,
  where it has the most scans (the protocol's PET/MR);
- ``sstr_spect``: the SSTR tracer and SPECT modality with the most scans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = ["ROLES", "ScanType", "ScanTypes", "column_name", "describe_study", "paired_reads",
           "pick_scan_types"]

ROLES = {
    "sstr_pet": "SSTR PET",
    "fdg_pet": "FDG PET",
    "sstr_other_pet": "SSTR PET on a second PET system",
    "sstr_spect": "SSTR SPECT",
}
"""The roles a scan type plays in the comparisons, with a generic label."""

NEEDED = {
    "sstr_pet": "an SSTR PET",
    "fdg_pet": "an FDG PET on the same PET modality",
    "sstr_other_pet": "a second SSTR PET (same tracer) on another PET modality",
    "sstr_spect": "an SSTR SPECT",
}
"""What a comparison needs of each role, for the notes."""


@dataclass(frozen=True)
class ScanType:
    """One index test: a tracer on a modality."""

    tracer: str
    modality: str

    @property
    def key(self) -> tuple[str, str]:
        """``(tracer, modality)``, as :func:`nethelpers.comparisons.paired_lesions` takes it."""
        return (self.tracer, self.modality)

    @property
    def label(self) -> str:
        """E.g. ``"DOTATATE PET/CT"``."""
        return f"{self.tracer} {self.modality}"

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class ScanTypes:
    """The scan type of each comparison role (None: the study has none).

    Attributes
    ----------
    sstr_pet, fdg_pet, sstr_other_pet, sstr_spect : ScanType or None
        See the module docstring.
    vocabulary : nethelpers.vocabulary.Vocabulary
        Where the families and systems came from (named in the notes).
    fdg_any : ScanType or None
        The FDG tracer and PET modality with the most scans, whatever the SSTR PET: tells a
        study without FDG PET from one whose FDG PET is elsewhere (named in the notes).
    """

    sstr_pet: ScanType | None
    fdg_pet: ScanType | None
    sstr_other_pet: ScanType | None
    sstr_spect: ScanType | None
    vocabulary: Any
    fdg_any: ScanType | None = None

    def name(self, role: str) -> str:
        """The scan type's label, or the role's generic label when the study has none."""
        found = getattr(self, role)
        return found.label if found is not None else ROLES[role]

    def tracer(self, role: str) -> str:
        """The scan type's tracer, or the role's generic label when the study has none."""
        found = getattr(self, role)
        return found.tracer if found is not None else ROLES[role]

    def needs(self, *roles: str) -> str:
        """Return a note naming what the study's scans lack for ``roles`` ("" when nothing).

        Each missing scan type is named once, by what is actually missing: a study with FDG
        PET but no SSTR PET lacks the SSTR PET (not the FDG PET), and the second PET system
        of a study without SSTR PET is not named besides it.

        Parameters
        ----------
        *roles : str
            Keys of :data:`ROLES`: the scan types a comparison needs.

        Returns
        -------
        str
            One sentence, e.g. ``"The scans table has no PET scan of an SSTR tracer (…):
            this comparison needs an SSTR PET and an FDG PET on the same PET modality of the
            same patient (…)."``.
        """
        roles = tuple(r for r in ROLES if r in roles)
        missing = dict.fromkeys(self._why(r) for r in roles if getattr(self, r) is None)
        if not missing:
            return ""
        needed = " and ".join(NEEDED[r] for r in roles)
        return ("The scans table has " + "; and ".join(missing) + f": this comparison needs "
                f"{needed} of the same patient (tracer families and modality systems are set "
                "in vocabulary.tracers and vocabulary.modalities of the parameters).")

    def _why(self, role: str) -> str:
        """What the scans lack for ``role`` (which has no scan type), in a clause."""
        v = self.vocabulary
        sstr = ", ".join(t for t in v.tracer_names if t in v.sstr_tracers) or "none"
        fdg = ", ".join(t for t in v.tracer_names if t in v.fdg_tracers) or "none"
        pet = ", ".join(v.pet_modalities) or "none"
        no_sstr = (f"no PET scan of an SSTR tracer (SSTR tracers of the vocabulary: {sstr}; "
                   f"PET modalities: {pet})")
        if role == "sstr_spect":
            spect = ", ".join(v.spect_modalities) or "none"
            return (f"no SPECT scan of an SSTR tracer (SPECT modalities of the vocabulary: "
                    f"{spect}; SSTR tracers: {sstr})")
        if self.sstr_pet is None:
            if role == "fdg_pet" and self.fdg_any is None:
                return f"no PET scan of an FDG tracer (FDG tracers of the vocabulary: {fdg})"
            return no_sstr
        main = self.sstr_pet.modality
        if role == "fdg_pet":
            elsewhere = (f"; the study's FDG PET is on {self.fdg_any.modality}, and the "
                         "comparison pairs scans of one modality" if self.fdg_any else "")
            return f"no FDG scan on {main} (FDG tracers of the vocabulary: {fdg}{elsewhere})"
        return (f"no {self.sstr_pet.tracer} scan on a second PET modality besides {main} "
                f"(PET modalities of the vocabulary: {pet})")

    def describe(self) -> str:
        """One line per role: which scan type plays it, for the notebook's output."""
        return "\n".join(f"{ROLES[r]}: {getattr(self, r) or 'none in this study'}"
                         for r in ROLES)


def _most(counts: pd.Series, order: list[str]) -> str | None:
    """The index label with the largest count (> 0); ties go to ``order``."""
    counts = counts[counts > 0]
    if counts.empty:
        return None
    rank = {name: i for i, name in enumerate(order)}
    return min(counts.index, key=lambda k: (-int(counts[k]), rank.get(k, len(rank)), k))


def pick_scan_types(scans: pd.DataFrame, vocabulary: Any) -> ScanTypes:
    """Choose the scan type of each comparison role from a study's scans.

    Parameters
    ----------
    scans : pandas.DataFrame
        The scans table (``tracer``, ``modality``; canonical names).
    vocabulary : nethelpers.vocabulary.Vocabulary
        ``cohort.vocabulary``: the tracer families and modality systems.

    Returns
    -------
    ScanTypes
        The rules are those of the module docstring.
    """
    data = scans[["tracer", "modality"]].astype(str)
    tracers, modalities = list(vocabulary.tracer_names), list(vocabulary.modality_names)
    pet = data[data["modality"].isin(vocabulary.pet_modalities)]
    spect = data[data["modality"].isin(vocabulary.spect_modalities)]

    def count(frame: pd.DataFrame, column: str) -> pd.Series:
        return frame[column].value_counts()

    sstr_pet = fdg_pet = other_pet = spect_type = None
    tracer = _most(count(pet[pet["tracer"].isin(vocabulary.sstr_tracers)], "tracer"), tracers)
    if tracer is not None:
        own = pet[pet["tracer"] == tracer]
        main = _most(count(own, "modality"), modalities)
        sstr_pet = ScanType(tracer, str(main))
        other = _most(count(own[own["modality"] != main], "modality"), modalities)
        other_pet = ScanType(tracer, other) if other is not None else None
        on_main = pet[(pet["modality"] == main) & pet["tracer"].isin(vocabulary.fdg_tracers)]
        fdg = _most(count(on_main, "tracer"), tracers)
        fdg_pet = ScanType(fdg, str(main)) if fdg is not None else None
    sstr_spect = spect[spect["tracer"].isin(vocabulary.sstr_tracers)]
    if len(sstr_spect):
        label = _most((sstr_spect["tracer"] + "\t" + sstr_spect["modality"]).value_counts(),
                      [f"{t}\t{m}" for t in tracers for m in modalities])
        spect_type = ScanType(*str(label).split("\t"))
    fdg_pet_scans = pet[pet["tracer"].isin(vocabulary.fdg_tracers)]
    fdg_any = None
    if len(fdg_pet_scans):
        label = _most((fdg_pet_scans["tracer"] + "\t" + fdg_pet_scans["modality"]).value_counts(),
                      [f"{t}\t{m}" for t in tracers for m in modalities])
        fdg_any = ScanType(*str(label).split("\t"))
    return ScanTypes(sstr_pet, fdg_pet, other_pet, spect_type, vocabulary, fdg_any)


def describe_study(cohort: Any) -> str:
    """Name the scans of a study by tracer and modality, in one sentence.

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        The loaded study (``scans``, ``vocabulary``).

    Returns
    -------
    str
        E.g. ``"Scans in this study: 12 DOTATOC PET/CT, 10 FDG PET/CT."``: SSTR tracers
        first, then FDG, then the others, each family in the vocabulary's order of tracers,
        then of modalities; ``"Scans in this study: none yet."`` for an empty scans table.
    """
    scans = cohort.scans[["tracer", "modality"]].astype(str)
    if scans.empty:
        return "Scans in this study: none yet."
    v = cohort.vocabulary
    rank = {name: i for i, name in enumerate([*v.tracer_names, *v.modality_names])}
    family = {t: 0 for t in v.sstr_tracers} | {t: 1 for t in v.fdg_tracers}
    counts = scans.value_counts()
    keys = sorted(counts.index, key=lambda k: (family.get(k[0], 2), rank.get(k[0], len(rank)),
                                               k[0], rank.get(k[1], len(rank)), k[1]))
    return "Scans in this study: " + ", ".join(
        f"{counts[k]} {k[0]} {k[1]}" for k in keys) + "."


def column_name(tracer: str) -> str:
    """A tracer's short name for column names: lower case, up to the first separator.

    E.g. ``"DOTATATE"`` → ``"dotatate"``, ``"HYNIC-TOC"`` → ``"hynic"``, ``"FDG"`` →
    ``"fdg"`` (so the demo's columns ``dotatate_only``, ``fdg_only``, ``hynic_only`` keep
    their names and a DOTATOC study gets ``dotatoc_only``).
    """
    parts = [p for p in re.split(r"[^0-9a-z]+", tracer.lower()) if p]
    return parts[0] if parts else "tracer"


def paired_reads(types: ScanTypes, a: str, b: str, lesions: pd.DataFrame | None, *,
                 reader: str, measurements: pd.DataFrame | None = None,
                 waits: str = "") -> tuple[pd.DataFrame, str]:
    """Lesions read on the scan types of roles ``a`` and ``b``, or why there are none.

    Parameters
    ----------
    types : ScanTypes
        From :func:`pick_scan_types`.
    a, b : str
        Roles (keys of :data:`ROLES`), e.g. ``"sstr_pet"`` and ``"fdg_pet"``.
    lesions : pandas.DataFrame or None
        :func:`nethelpers.readings.lesion_level` (None when the reads are not there).
    reader : str
        The index-test reader (named in the note).
    measurements : pandas.DataFrame, optional
        measurements.csv, passed to :func:`nethelpers.comparisons.paired_lesions`.
    waits : str
        A note that already stops the section (e.g. from
        :func:`nethelpers.readiness.needs_reads`); returned as it is.

    Returns
    -------
    pairs : pandas.DataFrame
        :func:`nethelpers.comparisons.paired_lesions` (empty when there is a note).
    note : str
        Empty when there is at least one pair; else the first of: the roles the scans do
        not fill (no reads can make up for a scan type the study does not have), ``waits``,
        no patient with a read of both.
    """
    from nethelpers.comparisons import paired_lesions

    note = types.needs(a, b) or waits
    if note or lesions is None:
        return pd.DataFrame(), note or "The reads are not there yet."
    sa, sb = getattr(types, a), getattr(types, b)
    pairs = paired_lesions(lesions, sa.key, sb.key, measurements)
    if pairs.empty:
        note = (f"No patient had both a {sa} and a {sb} read by reader {reader}: the "
                f"comparison needs the same lesion (lesion_id) called on both scans of a "
                "patient in the reads table.")
    return pairs, note
