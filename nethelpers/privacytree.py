"""Which folders of a study's DICOM tree are whose: the labels of the pseudonymiser.

A folder holding a scan's series is that scan (``<P001/P001-FDG-PETCT>``), a folder of one
patient's scans that patient (``<P001>``), any other ``<dicom folder>``; folder names that
could identify someone are replaced wherever they appear (:mod:`nethelpers.privacy`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["GENERIC", "distinctive", "inherited", "own_words", "scan_folders", "tree_labels"]

GENERIC = {"dicom", "dcm", "pet", "ct", "mr", "pt", "nm", "spect", "series", "images",
            "image", "study", "studies", "data", "export", "files", "seg", "rtstruct", "sr",
            "ac", "nac", "ctac", "mrac", "wb", "whole", "body", "static", "recon", "fused",
            "petct", "petmr", "low", "dose", "ldct", "scan", "scans", "axial", "mip", "attn",
            "corrected", "uncorrected", "old", "new", "copy", "raw", "original", "derived"}
"""Words of series folder names that identify no one."""


def distinctive(name: str, own: set[str] = frozenset()) -> bool:  # type: ignore[assignment]
    """A folder name that may identify someone, so it is replaced wherever it appears.

    Names made only of the study's own words (``own``: pseudonyms and vocabulary,
    casefolded), generic series words (``PET_AC``, ``FDG PET``) and small numbers are not.
    """
    words = [w for w in re.split(r"[\s_,^.+-]+", name.casefold()) if w]
    if name.casefold() in own or all(w in own or w in GENERIC or re.fullmatch(r"\d{1,3}", w)
                                      for w in words):
        return False
    return len(name) >= 8 or any(c.isdigit() for c in name) and len(name) >= 4 or any(
        c in name for c in "_ ,^")


def scan_folders(params: Any, scans: pd.DataFrame, jobs: Iterable[Any]) -> dict[Path, str]:
    """Absolute series folder → ``<P001/scan>`` for every scan of the table and the jobs."""
    root = Path(params.study.data_root)
    found: dict[Path, str] = {}
    for row in scans.itertuples(index=False):
        label = f"<{row.patient_id}/{row.scan_id}>"
        for column in ("pet_dir", "anat_dir"):
            value = getattr(row, column, None)
            if isinstance(value, str) and value:
                found[(root / value).resolve()] = label
    for job in jobs:
        label = f"<{job.patient_id}/{job.scan_id}>"
        for value in (job.pet, job.anatomy):
            if value:
                found[Path(value).resolve()] = label
    return found


def tree_labels(dicom: Path, scans: dict[Path, str], max_folders: int = 200_000
                 ) -> dict[Path, str]:
    """Label every folder of the DICOM tree: a scan's, one patient's, or ``<dicom folder>``.

    A folder is labelled as a scan when it directly holds that scan's series folders and no
    other scan's; above that, as the patient when every scan below is theirs. A folder the
    scans table does not name takes the label of the nearest labelled folder above it.
    """
    below: dict[Path, set[str]] = {}
    for folder, label in scans.items():
        for parent in folder.parents:
            if parent == dicom or dicom not in parent.parents:
                break
            below.setdefault(parent, set()).add(label)
    labels = dict(scans)
    for folder, found in below.items():
        if folder in labels:
            continue
        patients = {label.strip("<>").split("/")[0] for label in found}
        direct = {scans[f] for f in scans if f.parent == folder}
        labels[folder] = (next(iter(found)) if len(found) == 1 and direct == found else
                          f"<{next(iter(patients))}>" if len(patients) == 1 else "<dicom folder>")
    if dicom.is_dir():
        count = 0
        for here, dirs, _ in os.walk(dicom):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for d in dirs:
                path = Path(here, d)
                if path not in labels:
                    inside = next((labels[p] for p in path.parents if p in labels), None)
                    labels[path] = inherited(inside)
            count += len(dirs)
            if count > max_folders:
                break
    return labels


def inherited(label: str | None) -> str:
    """The label of an unnamed folder below ``label``: the patient's, never a scan's."""
    if label is None:
        return "<dicom folder>"
    return f"<{label.strip('<>').split('/')[0]}>" if "/" in label else label


def own_words(params: Any, scans: pd.DataFrame) -> set[str]:
    """The study's own words, casefolded: they never identify anyone, even as folder names.

    The pseudonyms of every table row (excluded rows too) and the vocabulary's codes,
    aliases and labels.
    """
    words = {str(v) for c in ("scan_id", "patient_id") if c in scans for v in scans[c]}
    tables = params.study.tables
    for path, columns in ((tables.scans, ("scan_id", "patient_id")),
                          (tables.patients, ("patient_id",)),
                          (tables.lesions, ("patient_id", "lesion_id"))):
        try:
            raw = pd.read_csv(path, dtype=str, usecols=lambda c, keep=columns: c in keep)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        words |= {v for c in raw.columns for v in raw[c].dropna()}

    def strings(value: Any) -> Iterable[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, Mapping):
            for item in value.values():
                yield from strings(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from strings(item)

    words |= set(strings(params.vocabulary.model_dump()))
    return {w.casefold() for w in words}
