"""Read the measurements of a DICOM SR TID 1500 Measurement Report into a table.

Reads the reports :func:`nethelpers.dicom.sr.export_sr` writes and those of other tools
(dcmqi, 3D Slicer's QuantitativeReporting, highdicom) with plain pydicom, walking the
content tree: Imaging Measurements (126010, DCM) > Measurement Group (125007, DCM) > its
NUM items. Concept names are matched by code, and pydicom's code comparison treats the old
SRT codes of early dcmqi reports as their SNOMED CT successors.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.srcodes import code_of, statistic

__all__ = ["SR_COLUMNS", "read_sr_measurements"]

#: Columns of :func:`read_sr_measurements`: one row per (measurement group, measurement).
SR_COLUMNS = ("group", "tracking_id", "tracking_uid", "segmentation_uid", "segment_number",
              "source_series_uid", "finding", "finding_site", "concept", "concept_code",
              "derivation", "statistic", "method", "value", "unit", "unit_meaning")


def _children(item: pydicom.Dataset, name: Code, value_type: str) -> list[pydicom.Dataset]:
    return [c for c in item.get("ContentSequence", [])
            if c.get("ValueType") == value_type and code_of(c, "ConceptNameCodeSequence") == name]


def _first_text(item: pydicom.Dataset, name: Code, value_type: str, keyword: str) -> str:
    hits = _children(item, name, value_type)
    return str(hits[0].get(keyword, "") or "") if hits else ""


def _first_meaning(item: pydicom.Dataset, name: Code) -> str:
    hits = _children(item, name, "CODE")
    code = code_of(hits[0], "ConceptCodeSequence") if hits else None
    return code.meaning if code is not None else ""


def _group_info(group: pydicom.Dataset, index: int) -> dict[str, Any]:
    """What a measurement group says about all its measurements."""
    info: dict[str, Any] = {
        "group": index,
        "tracking_id": _first_text(group, codes.DCM.TrackingIdentifier, "TEXT", "TextValue"),
        "tracking_uid": _first_text(group, codes.DCM.TrackingUniqueIdentifier, "UIDREF",
                                    "UID"),
        "segmentation_uid": "",
        "segment_number": pd.NA,
        "source_series_uid": _first_text(group, codes.DCM.SourceSeriesForSegmentation,
                                         "UIDREF", "UID"),
        "finding": _first_meaning(group, codes.DCM.Finding),
        "finding_site": _first_meaning(group, codes.SCT.FindingSite),
        "method": _first_meaning(group, codes.SCT.MeasurementMethod),
    }
    segments = _children(group, codes.DCM.ReferencedSegment, "IMAGE")
    if segments and segments[0].get("ReferencedSOPSequence"):
        ref = segments[0].ReferencedSOPSequence[0]
        info["segmentation_uid"] = str(ref.get("ReferencedSOPInstanceUID", ""))
        number = ref.get("ReferencedSegmentNumber")
        if number is not None:
            info["segment_number"] = int(number[0] if isinstance(number, Sequence) else number)
    return info


def _num(item: pydicom.Dataset, group_method: str) -> dict[str, Any]:
    """One NUM item: its concept, derivation, method, value and unit."""
    name = code_of(item, "ConceptNameCodeSequence")
    derivations = _children(item, codes.DCM.Derivation, "CODE")
    derivation = code_of(derivations[0], "ConceptCodeSequence") if derivations else None
    value, unit = math.nan, None
    measured = item.get("MeasuredValueSequence")
    if measured:
        mv = measured[0]
        if "FloatingPointValue" in mv:
            value = float(mv.FloatingPointValue)
        elif mv.get("NumericValue") is not None:
            value = float(mv.NumericValue)
        unit = code_of(mv, "MeasurementUnitsCodeSequence")
    return {
        "concept": name.meaning if name else "",
        "concept_code": f"{name.scheme_designator}:{name.value}" if name else "",
        "derivation": derivation.meaning if derivation else "",
        "statistic": statistic(derivation),
        "method": _first_meaning(item, codes.SCT.MeasurementMethod) or group_method,
        "value": value,
        "unit": unit.value if unit else "",
        "unit_meaning": unit.meaning if unit else "",
    }


def read_sr_measurements(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the measurements of a TID 1500 Measurement Report (ours, dcmqi's, Slicer's).

    Parameters
    ----------
    path : path-like
        The SR file.

    Returns
    -------
    pandas.DataFrame
        One row per numeric measurement of each measurement group, columns
        :data:`SR_COLUMNS`: ``group`` (1-based, in document order), ``tracking_id``,
        ``tracking_uid``, ``segmentation_uid`` and ``segment_number`` (the Referenced
        Segment; empty / NA when the group references none), ``source_series_uid``,
        ``finding`` and ``finding_site`` (code meanings), ``concept`` (e.g. ``SUVbw``,
        ``Volume``, ``Total Lesion Glycolysis``), ``concept_code`` (``scheme:value`` as
        written), ``derivation`` (code meaning, e.g. ``Mean``), ``statistic`` (``mean``,
        ``max``, ``min``, ``peak``, ``sd``, ``median``, another derivation's meaning in lower
        case, or empty), ``method`` (the measurement's own Measurement Method, else the
        group's), ``value`` (FloatingPointValue when present, else the DS NumericValue; NaN
        when there is none), ``unit`` (UCUM code as written: ``{SUVbw}g/ml`` or the newer
        ``g/ml{SUVbw}``) and ``unit_meaning``.

    Raises
    ------
    DicomInputError
        The file is not a readable SR document or holds no Imaging Measurements container.
    """
    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomInputError(f"not a readable DICOM file ({exc})", file=path,
                              fix="pass a DICOM SR Measurement Report") from None
    if ds.get("Modality") != "SR" or ds.get("ValueType") != "CONTAINER":
        raise DicomInputError(f"not a structured report (Modality {ds.get('Modality', '?')})",
                              file=path, tag="Modality (0008,0060)",
                              fix="pass a DICOM SR Measurement Report (TID 1500)")
    containers = _children(ds, codes.DCM.ImagingMeasurements, "CONTAINER")
    if not containers:
        raise DicomInputError("the report holds no Imaging Measurements container (126010, "
                              "DCM): not a TID 1500 Measurement Report", file=path,
                              tag="ContentSequence (0040,A730)",
                              fix="pass a DICOM SR Measurement Report (TID 1500)")
    rows = []
    index = 0
    for container in containers:
        for group in _children(container, codes.DCM.MeasurementGroup, "CONTAINER"):
            index += 1
            info = _group_info(group, index)
            rows.extend(info | _num(item, info["method"])
                        for item in group.get("ContentSequence", [])
                        if item.get("ValueType") == "NUM")
    table = pd.DataFrame(rows, columns=list(SR_COLUMNS))
    table["segment_number"] = table["segment_number"].astype("Int64")
    table["value"] = table["value"].astype(float)
    return table
