"""Choose a new study's scans from a DICOM index: one per emission series, with its companion.

:func:`plan_scans` reads the series table of :func:`nethelpers.dicom.index.index_tree` and
returns the scans of ``nethelpers init`` (one per PET or SPECT series, with its CT or MR
companion, its tracer named by the study's vocabulary) and every other series with the reason
it is not a scan. Nothing is dropped silently: a series is a scan, the companion of one, or
skipped with its reason.

A PET series whose radionuclide is a single-photon emitter (⁹⁹ᵐTc), or whose scanner is a
SPECT system, is SPECT, like an NM series (a reconstructed one; planar NM is not a scan).
Several emission series of one study, tracer and modality make one scan, ranked by
:mod:`nethelpers.initrank`: attenuation-corrected (CorrectedImage holds ATTN), then not lossy
(lossy transfer syntax or LossyImageCompression 01), then ImageType ORIGINAL before DERIVED,
then QC without warnings, then more slices, then the lower SeriesNumber, then the lower
SeriesInstanceUID. The others are skipped; their detail names the series used and why.

A patient is a PatientID *and* a PatientName and PatientBirthDate
(:func:`nethelpers.initpeople.patient_keys`): two people must never become one.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.dicom.codecs import CODECS, is_lossy
from nethelpers.dicom.rawread import RawReadError, keyword_tag, read_header
from nethelpers.dicom.seriesqc import NON_IMAGE_MODALITIES
from nethelpers.initpeople import PEOPLE_COLUMNS, patient_keys, people_table
from nethelpers.initrank import ac_rank, rank_key, why_skipped
from nethelpers.initrank import cell_text as _text
from nethelpers.vocabulary import TracerTerm, Vocabulary, VocabularyError, code_key

__all__ = ["REASONS", "SCAN_COLUMNS", "ScanPlan", "name_tracer", "plan_scans", "scan_slug"]

from nethelpers.dicom.spect import SINGLE_PHOTON, SPECT_MODELS  # noqa: E402 - re-exported

#: Why a series is not a scan (the ``reason`` column of init_skipped.csv).
REASONS = {
    "qc": "failed QC",
    "no_date": "no study, series or acquisition date",
    "not_ac": "not attenuation-corrected (the AC series of its study is used)",
    "duplicate": "another series of its study, tracer and modality is used",
    "planar": "NM series that is not a SPECT reconstruction (planar or projections)",
    "no_anat": "no CT or MR in its study (PET/CT, PET/MR or SPECT/CT cannot be told)",
    "lone_anat": "CT/MR with no PET or SPECT series in its study",
    "extra_anat": "CT/MR not used: the scan of its study uses another CT/MR series",
    "anat_no_scan": "CT/MR of a study whose PET/SPECT series were skipped",
    "not_image": "not an image series (SEG, RTSTRUCT, SR, ...)",
    "other": "modality neither PET, SPECT, CT nor MR",
    "unreadable": "unreadable files not attributable to a series",
}

_EXTRA = ("PatientName", "PatientBirthDate", "PatientSex", "PatientAge", "PatientWeight",
          "PatientSize", "CorrectedImage", "ImageType", "LossyImageCompression")
_TAGS = {k: keyword_tag(k) for k in _EXTRA}
_READ = frozenset([*_TAGS.values(), keyword_tag("SpecificCharacterSet")])
_SLUG = re.compile(r"[^A-Za-z0-9-]+")


@dataclass
class ScanPlan:
    """The scans and skipped series of a DICOM index (real patient keys, not pseudonyms).

    Attributes
    ----------
    scans : pandas.DataFrame
        One row per scan: ``patient_key, tracer, modality, scan_date, study_uid,
        pet_series_uid, anat_series_uid, pet_path, anat_path, manufacturer, model`` (paths
        absolute), the header values of the emission series (``name, birth_date, sex,
        age, weight, size``) and ``series_datetime``.
    skipped : pandas.DataFrame
        One row per series that is not a scan nor a scan's companion: ``patient_key,
        study_uid, study_date, modality, series_number, series_description, series_uid,
        path, reason, detail``.
    tracers_added : dict
        Tracer names added to the vocabulary → why (for a comment in the parameters).
    vocabulary : Vocabulary
        The vocabulary with the added tracers (family ``other``).
    people : pandas.DataFrame
        One row per patient key of the tree, with or without a scan: ``patient_key,
        patient_id, patient_name, birth_date, study_uids`` (identifiers: private).
    """

    scans: pd.DataFrame
    skipped: pd.DataFrame
    tracers_added: dict[str, str] = field(default_factory=dict)
    vocabulary: Vocabulary = field(default_factory=Vocabulary)
    people: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PEOPLE_COLUMNS))


def _header(root: Path, files: Any) -> dict[str, Any]:
    """Patient, image-type and lossy-compression values of a series' first file."""
    if not isinstance(files, tuple) or not files:
        return {}
    try:
        h = read_header(root / files[0], _READ, stop_after=0x0028FFFF)
    except (RawReadError, OSError, ValueError):
        return {}   # the message would name the file: never shown, the fields stay empty
    out: dict[str, Any] = {k: h.text(_TAGS[k]) or "" for k in
                           ("PatientName", "PatientBirthDate", "PatientSex", "PatientAge")}
    out["PatientWeight"] = h.float(_TAGS["PatientWeight"])
    out["PatientSize"] = h.float(_TAGS["PatientSize"])
    out["CorrectedImage"] = [v.upper() for v in h.texts(_TAGS["CorrectedImage"])]
    out["ImageType"] = [v.upper() for v in h.texts(_TAGS["ImageType"])]
    out["lossy"] = (f"stored in {CODECS[h.transfer_syntax].name}, a lossy transfer syntax"
                    if is_lossy(h.transfer_syntax) else
                    "LossyImageCompression is 01"
                    if (h.text(_TAGS["LossyImageCompression"]) or "").strip() == "01" else "")
    return out


def _system(row: dict[str, Any], header: dict[str, Any]) -> str:
    """PET or SPECT, the emission system of a PT or NM series."""
    if row["modality"] == "NM" or row.get("radionuclide") in SINGLE_PHOTON:
        return "SPECT"
    model = _text(row.get("model")).lower()
    return "SPECT" if any(m in model for m in SPECT_MODELS) else "PET"


def _reconstructed(header: dict[str, Any]) -> bool:
    """An NM series that is a tomographic reconstruction (ImageType value 3), or unknown."""
    kind = header.get("ImageType", [])
    return len(kind) < 3 or "RECON" in kind[2]


def _seconds(iso: Any) -> float:
    text = _text(iso)
    return pd.Timestamp(text).timestamp() if text else float("inf")


def _companion(row: dict[str, Any], system: str, anat: pd.DataFrame) -> dict[str, Any] | None:
    """The CT/MR series paired with an emission series (the index's pairing for PET)."""
    if system == "PET" and row["modality"] == "PT":
        uid = _text(row.get("companion_series_uid")).split(";")[0]
        hit = anat[anat["series_uid"] == uid]
        return hit.iloc[0].to_dict() if uid and len(hit) else None
    pool = anat[(anat["study_uid"] == row["study_uid"]) & (anat["modality"] == "CT")]
    same = pool[pool["frame_of_reference_uid"] == row["frame_of_reference_uid"]]
    pool = same if len(same) else pool
    if not len(pool):
        return None
    score = [(qc == "fail", abs(_seconds(t) - _seconds(row["series_datetime"])))
             for qc, t in zip(pool["qc"], pool["series_datetime"], strict=True)]
    return pool.iloc[min(range(len(score)), key=score.__getitem__)].to_dict()


def _modality(system: str, anat: dict[str, Any] | None, row: dict[str, Any]) -> str:
    if anat is not None:
        return f"{system}/{anat['modality']}"
    if system == "PET" and _text(row.get("system")) == "PET/MR":   # a PET/MR model name
        return "PET/MR"
    return ""


def name_tracer(found: str, vocabulary: Vocabulary) -> tuple[str, str]:
    """Name a tracer found in the headers with the vocabulary's canonical name.

    Parameters
    ----------
    found : str
        :func:`nethelpers.dicom.tracers.tracer_name` of the series (``"other: <text>"`` for
        unrecognised text, ``""`` when nothing names it).
    vocabulary : Vocabulary
        The study's vocabulary.

    Returns
    -------
    tuple of str
        The name, and ``""`` when the vocabulary knows it, else why it must be checked.
    """
    text = found.removeprefix("other:").strip()
    if not code_key(text):
        return "unknown", ("no radiopharmaceutical in the DICOM headers: name the tracer of "
                           "these scans in clinical/scans.csv and here")
    try:
        return vocabulary.canonical("tracer", text), ""
    except VocabularyError:
        return text, (f"found in the DICOM headers as {text!r}, not in the default "
                      "vocabulary: check the name, family and aliases")


def _add_tracer(vocabulary: Vocabulary, name: str) -> Vocabulary:
    terms = [*vocabulary.tracers, TracerTerm(name=name, family="other")]
    return Vocabulary.model_validate({**vocabulary.model_dump(), "tracers":
                                      [t.model_dump() for t in terms]})


def _skip(row: dict[str, Any], key: str, reason: str, detail: str = "") -> dict[str, Any]:
    return {"patient_key": key, "study_uid": _text(row.get("study_uid")),
            "study_date": _text(row.get("study_date")),
            "modality": _text(row.get("modality")),
            "series_number": _text(row.get("series_number")),
            "series_description": _text(row.get("series_description")),
            "series_uid": _text(row.get("series_uid")), "path": _text(row.get("directory")),
            "reason": REASONS[reason], "detail": detail}


def _date(row: dict[str, Any]) -> str:
    study = _text(row.get("study_date"))
    if len(study) == 8 and study.isdigit():
        return f"{study[:4]}-{study[4:6]}-{study[6:]}"
    for column in ("series_datetime", "acquisition_start"):
        if _text(row.get(column)):
            return _text(row[column])[:10]
    return ""


SCAN_COLUMNS = ("patient_key", "tracer", "modality", "scan_date", "study_uid", "pet_series_uid",
                "anat_series_uid", "pet_path", "anat_path", "manufacturer", "model",
                "series_datetime", "name", "birth_date", "sex", "age", "weight", "size")


def _not_emission(row: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The skip record of a series that is neither PET/SPECT nor CT/MR (else None)."""
    modality = _text(row.get("modality"))
    if not _text(row.get("series_uid")):
        return _skip(row, "", "unreadable", _text(row.get("qc_reasons")))
    if modality in NON_IMAGE_MODALITIES:
        return _skip(row, key, "not_image")
    if modality not in ("PT", "NM", "CT", "MR"):
        return _skip(row, key, "other", f"Modality {modality or '(none)'}")
    return None


def _candidate(row: dict[str, Any], key: str, header: dict[str, Any],
               anat: pd.DataFrame) -> dict[str, Any]:
    """An emission series as a scan candidate (with ``row``), or its skip record."""
    # a non-AC PET fails the index's SUV check; it is ranked against its AC sibling below
    if row["qc"] == "fail" and ac_rank(header) != 2:
        return _skip(row, key, "qc", _text(row.get("qc_reasons")))
    system = _system(row, header)
    if row["modality"] == "NM" and not _reconstructed(header):
        return _skip(row, key, "planar", "ImageType " + "\\".join(header.get("ImageType", [])))
    companion = _companion(row, system, anat)
    modality = _modality(system, companion, row)
    if not modality:
        return _skip(row, key, "no_anat", f"{system} series")
    if not _date(row):
        return _skip(row, key, "no_date")
    return {"row": row, "header": header, "anat": companion, "modality": modality}


def plan_scans(series: pd.DataFrame, root: str | os.PathLike[str],
               vocabulary: Vocabulary | None = None) -> ScanPlan:
    """Choose the scans of a DICOM index and list every other series with its reason.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`nethelpers.dicom.index.index_tree`.
    root : path-like
        The indexed folder (the first header of each series is read for patient values).
    vocabulary : Vocabulary, optional
        Default: the protocol's. Tracers it does not know are added (family ``other``).

    Returns
    -------
    ScanPlan
    """
    root = Path(root)
    vocabulary = vocabulary or Vocabulary()
    records = series.to_dict("records")
    readable = [bool(_text(r.get("series_uid"))) for r in records]
    headers = [_header(root, r.get("files")) if ok else {} for r, ok in zip(records, readable,
                                                                            strict=True)]
    keys = patient_keys([_text(r.get("patient_id")) for r in records],
                        [_text(r.get("study_uid")) for r in records], headers)
    anat = series[series["modality"].isin(["CT", "MR"])]
    key_of = dict(zip((_text(r.get("series_uid")) for r in records), keys, strict=True))
    skipped: list[dict[str, Any]] = []
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    added: dict[str, str] = {}
    for row, header, key in zip(records, headers, keys, strict=True):
        skip = _not_emission(row, key)
        if skip is None and row["modality"] in ("PT", "NM"):
            skip = _candidate(row, key, header, anat)
            if "row" in skip:           # a candidate, not a skip record
                tracer, note = name_tracer(_text(row.get("tracer")), vocabulary)
                if note:
                    vocabulary = _add_tracer(vocabulary, tracer)
                    added[tracer] = note
                modality = vocabulary.canonical("modality", skip["modality"])
                groups[(key, _text(row["study_uid"]), tracer, modality)].append(skip)
                continue
        if skip is not None:
            skipped.append(skip)
    scans: list[dict[str, Any]] = []
    for (key, _study, tracer, modality), members in groups.items():
        best, *others = sorted(members, key=rank_key)
        for other in others:
            skipped.append(_skip(other["row"], key, *why_skipped(best, other)))
        scans.append(_scan_row(best, key, tracer, modality, root))
    skipped += _unused_anatomy(anat, scans, records, key_of)
    return ScanPlan(pd.DataFrame(scans, columns=SCAN_COLUMNS),
                    pd.DataFrame(skipped, columns=list(_skip({}, "", "other"))), added,
                    vocabulary, people_table(keys, headers, [
                        _text(r.get("study_uid")) if ok else None
                        for r, ok in zip(records, readable, strict=True)]))


def _scan_row(member: dict[str, Any], key: str, tracer: str, modality: str,
              root: Path) -> dict[str, Any]:
    row, header, anat = member["row"], member["header"], member["anat"]
    return {
        "patient_key": key, "tracer": tracer, "modality": modality, "scan_date": _date(row),
        "study_uid": _text(row["study_uid"]), "pet_series_uid": _text(row["series_uid"]),
        "anat_series_uid": _text(anat["series_uid"]) if anat else "",
        "pet_path": str(root / _text(row["directory"])),
        "anat_path": str(root / _text(anat["directory"])) if anat else "",
        "manufacturer": _text(row.get("manufacturer")), "model": _text(row.get("model")),
        "series_datetime": _text(row.get("series_datetime")),
        "name": header.get("PatientName", ""), "birth_date": header.get("PatientBirthDate", ""),
        "sex": header.get("PatientSex", ""), "age": header.get("PatientAge", ""),
        "weight": header.get("PatientWeight"), "size": header.get("PatientSize"),
    }


def _unused_anatomy(anat: pd.DataFrame, scans: list[dict[str, Any]],
                    records: list[dict[str, Any]],
                    key_of: dict[str, str]) -> list[dict[str, Any]]:
    """CT/MR series that are no scan's companion, with the reason."""
    used = {s["anat_series_uid"] for s in scans}
    scan_studies = {s["study_uid"] for s in scans}
    emission_studies = {_text(r.get("study_uid")) for r in records
                        if _text(r.get("modality")) in ("PT", "NM")}
    out = []
    for row in anat.to_dict("records"):
        if row["series_uid"] in used:
            continue
        study = _text(row["study_uid"])
        reason = ("extra_anat" if study in scan_studies else
                  "anat_no_scan" if study in emission_studies else "lone_anat")
        detail = _text(row.get("qc_reasons")) if row["qc"] == "fail" else ""
        out.append(_skip(row, key_of[_text(row["series_uid"])], reason, detail))
    return out


def scan_slug(tracer: str) -> str:
    """The tracer as written in a scan_id (letters, digits and '-' only)."""
    return _SLUG.sub("", tracer) or "unknown"
