"""Who is who in a DICOM tree, for ``nethelpers init``: patient keys and the private map.

A patient is a PatientID *and* a PatientName and PatientBirthDate: anonymised exports often
give everybody the same PatientID ("ANON", "0"), and two people must never become one
patient. A series whose header lacks the name or the birth date joins the one person of its
PatientID it agrees with. Keys hold identifiers: they stay in memory and in ``private/``.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

__all__ = ["PEOPLE_COLUMNS", "dicom_patient_id", "patient_keys", "people_table",
           "shared_id_warnings"]

#: Columns of :func:`people_table` (identifiers: written to ``private/`` only).
PEOPLE_COLUMNS = ("patient_key", "patient_id", "patient_name", "birth_date", "study_uids")

#: Joins PatientID, name and birth date in a patient key (no DICOM text value holds it).
_SEP = "\x1f"
_NO_ID = "(no PatientID)"


def _value(header: dict[str, Any], keyword: str) -> str:
    value = header.get(keyword)
    return value.strip() if isinstance(value, str) else ""


def _person(header: dict[str, Any]) -> tuple[str, str]:
    """Normalised PatientName (case, spacing, trailing ``^``) and PatientBirthDate."""
    name = " ".join(_value(header, "PatientName").upper().split()).rstrip("^ ")
    return name, _value(header, "PatientBirthDate")


def _resolve(people: set[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """Map each (name, birth date) of one PatientID to the person it is.

    A pair with an empty value joins the one complete pair it agrees with (a series whose
    header lacks the birth date is still its patient's); otherwise a pair is its own person.
    """
    complete = [p for p in people if all(p)]
    out = {}
    for pair in people:
        fits = [c for c in complete if all(a == b for a, b in zip(pair, c, strict=True) if a)]
        out[pair] = fits[0] if len(fits) == 1 else pair
    return out


def patient_keys(patient_ids: list[str], study_uids: list[str],
                 headers: list[dict[str, Any]]) -> list[str]:
    """The patient key of each series: PatientID, PatientName and PatientBirthDate.

    Parameters
    ----------
    patient_ids, study_uids : list of str
        PatientID and StudyInstanceUID of each series (``""`` when absent).
    headers : list of dict
        ``PatientName`` and ``PatientBirthDate`` of each series' first file (``{}`` when
        unreadable).

    Returns
    -------
    list of str
        One key per series. Two people sharing a PatientID get two keys; a series without a
        PatientID is keyed by its study (never merged with another study).
        :func:`dicom_patient_id` gives the PatientID back.
    """
    people = [_person(h) for h in headers]
    by_id: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for pid, person in zip(patient_ids, people, strict=True):
        by_id[pid].add(person)
    resolved = {pid: _resolve(pairs) for pid, pairs in by_id.items() if pid}
    return [_SEP.join((pid, *resolved[pid][person])) if pid else f"{_NO_ID} study {study}"
            for pid, study, person in zip(patient_ids, study_uids, people, strict=True)]


def dicom_patient_id(key: str) -> str:
    """The DICOM PatientID of a patient key (``""`` for a series without one)."""
    return "" if not key or key.startswith(_NO_ID) else key.split(_SEP)[0]


def people_table(keys: list[str], headers: list[dict[str, Any]],
                 study_uids: list[str | None]) -> pd.DataFrame:
    """One row per patient key: PatientID, name and birth date as first written, studies.

    Parameters
    ----------
    keys : list of str
        :func:`patient_keys` of each series.
    headers : list of dict
        Each series' first-file values.
    study_uids : list
        Each series' StudyInstanceUID; None for a row that is no series (unreadable files).

    Returns
    -------
    pandas.DataFrame
        :data:`PEOPLE_COLUMNS`, in order of first appearance.
    """
    rows: dict[str, dict[str, Any]] = {}
    for key, header, study in zip(keys, headers, study_uids, strict=True):
        if study is None:
            continue
        person = rows.setdefault(key, {"patient_key": key, "patient_id": dicom_patient_id(key),
                                       "patient_name": "", "birth_date": "", "studies": set()})
        person["patient_name"] = person["patient_name"] or _value(header, "PatientName")
        person["birth_date"] = person["birth_date"] or _value(header, "PatientBirthDate")
        person["studies"].add(study)
    for person in rows.values():
        person["study_uids"] = ";".join(sorted(person.pop("studies") - {""}))
    return pd.DataFrame(list(rows.values()), columns=list(PEOPLE_COLUMNS))


def shared_id_warnings(pseudonyms: dict[str, str]) -> list[str]:
    """One warning per PatientID that several people share, naming their pseudonyms only.

    Parameters
    ----------
    pseudonyms : dict
        Patient key → pseudonym (P001 ..., and the identifiers of people without a scan).

    Returns
    -------
    list of str
        ``"P002 and P003 share a PatientID but differ in name or birth date: kept apart;
        check private/pseudonyms.csv"``; empty when no PatientID is shared.
    """
    by_id: dict[str, list[str]] = defaultdict(list)
    for key, pseudonym in pseudonyms.items():
        if dicom_patient_id(key):
            by_id[dicom_patient_id(key)].append(pseudonym)
    out = []
    for names in by_id.values():
        if len(names) > 1:
            names = sorted(names)
            out.append(f"{', '.join(names[:-1])} and {names[-1]} share a PatientID but differ "
                       "in name or birth date: kept apart; check private/pseudonyms.csv")
    return sorted(out)
