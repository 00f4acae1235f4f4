"""A SEG segment as a ROI-table row: nethelpers' own JSON, or inferred for other tools.

:func:`nethelpers.dicom.seg.export_seg` keeps every table row verbatim as JSON in its
segment's SegmentDescription (``{"nethelpers_roi": 1, "label": 7, "roi": "lesion", ...}``);
:func:`segment_row` reads it back. Segments of other tools get a row inferred from the
segment (:func:`segment_rows`): label = segment number (or the next free value), ``roi``
from the property type code (liver, spleen, blood/aorta, muscle; anything else a lesion
named by its SegmentLabel), method ``imported``, reader = the reader given, else the SEG's
ContentCreatorName (or ``unknown``), created = its ContentDate/Time.
"""

from __future__ import annotations

import json
from typing import Any

import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from nethelpers.dicom.datetimes import iso_of
from nethelpers.dicom.segoverlap import LayerSegment
from nethelpers.rois import METHODS, TABLE_COLUMNS

__all__ = [
    "JSON_FORMAT",
    "JSON_KEY",
    "LO_MAX",
    "code_of",
    "layer_segments",
    "lo",
    "reader_note",
    "segment_row",
    "segment_rows",
]

#: Key (and format version) of the JSON kept in each segment's SegmentDescription.
JSON_KEY = "nethelpers_roi"
JSON_FORMAT = 1
LO_MAX = 64              # SegmentLabel is LO

#: Property types of other tools' segments that name a reference region.
_FOREIGN_TYPES: dict[str, tuple[Code, ...]] = {
    "liver": (codes.SCT.Liver,),
    "spleen": (codes.SCT.Spleen,),
    "blood_pool": (codes.SCT.Blood, codes.SCT.Aorta, codes.SCT.DescendingAorta,
                   codes.SCT.ThoracicAorta, codes.SCT.AscendingAorta, codes.SCT.AorticArch,
                   codes.SCT.AbdominalAorta),
    "muscle": (codes.SCT.SkeletalMuscle, codes.SCT.MuscleTissue, codes.SCT.Muscle),
}
_BACKGROUND = Code("125040", "DCM", "Background")


def lo(text: str) -> str:
    """Text as a DICOM LO value: one line, no backslash, at most 64 characters."""
    return " ".join(str(text).replace("\\", "/").split())[:LO_MAX]


def segment_row(item: pydicom.Dataset) -> dict[str, Any] | None:
    """The ROI-table row :func:`export_seg` keeps in a segment's description, or None.

    Parameters
    ----------
    item : pydicom.Dataset
        An item of the SEG's SegmentSequence.

    Returns
    -------
    dict or None
        The row (:data:`nethelpers.rois.TABLE_COLUMNS`), None for other tools' segments.
    """
    text = str(item.get("SegmentDescription", "") or "")
    if JSON_KEY not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(JSON_KEY) != JSON_FORMAT:
        return None
    if not all(c in data for c in TABLE_COLUMNS):
        return None
    return {c: data[c] for c in TABLE_COLUMNS}


def code_of(item: pydicom.Dataset, sequence: str) -> Code | None:
    """The first code of a code sequence of ``item`` (None when absent or incomplete)."""
    seq = item.get(sequence)
    if not seq:
        return None
    c = seq[0]
    try:
        return Code(str(c.CodeValue), str(c.CodingSchemeDesignator),
                    str(c.get("CodeMeaning", "")))
    except AttributeError:
        return None


def _foreign_roi(item: pydicom.Dataset) -> str:
    kind = code_of(item, "SegmentedPropertyTypeCodeSequence")
    if kind is not None:
        for roi, known in _FOREIGN_TYPES.items():
            if any(kind == k for k in known):      # pydicom maps SRT codes to SCT
                return roi
    return "lesion"


def _creator(seg: pydicom.Dataset) -> str:
    name = seg.get("ContentCreatorName")
    text = " ".join(str(name or "").replace("^", " ").split())
    return text or "unknown"


def segment_rows(seg: pydicom.Dataset, reader: str | None = None
                  ) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """A table row per described segment (keyed by segment number), and the foreign ones.

    Foreign segments are drawn by ``reader`` when given, else by the ContentCreatorName.
    """
    rows: dict[int, dict[str, Any]] = {}
    foreign: list[int] = []
    for item in seg.get("SegmentSequence", []):
        number = int(item.SegmentNumber)
        kind = code_of(item, "SegmentedPropertyTypeCodeSequence")
        if number == 0 or (kind is not None and kind == _BACKGROUND):
            continue                                   # a LABELMAP's background
        row = segment_row(item)
        if row is None:
            foreign.append(number)
            rows[number] = {"label": None, "roi": _foreign_roi(item),
                            "lesion_id": lo(item.get("SegmentLabel", "") or ""),
                            "method": "imported", "reader": reader or _creator(seg),
                            "created": iso_of(seg, "ContentDate", "ContentTime")}
        else:
            row["method"] = row["method"] if row["method"] in METHODS else "imported"
            rows[number] = row
    # Foreign segments: label = segment number unless taken; reference regions at most
    # once (a second liver becomes a lesion named by its label); unique lesion_ids.
    used = {int(r["label"]) for n, r in rows.items() if n not in foreign}
    refs = {r["roi"] for n, r in rows.items() if n not in foreign and r["roi"] != "lesion"}
    ids = {r["lesion_id"] for n, r in rows.items() if n not in foreign and r["roi"] == "lesion"}
    for number in foreign:
        row = rows[number]
        label = number
        while label in used:
            label = max(used) + 1
        used.add(label)
        row["label"] = label
        if row["roi"] != "lesion":
            if row["roi"] in refs:
                row["roi"] = "lesion"
            else:
                refs.add(row["roi"])
                row["lesion_id"] = ""
        if row["roi"] == "lesion":
            lesion_id = row["lesion_id"] or f"segment-{number}"
            if lesion_id in ids:
                lesion_id = f"{lesion_id}-{number}"
            ids.add(lesion_id)
            row["lesion_id"] = lesion_id
    return rows, foreign


def layer_segments(seg: pydicom.Dataset, rows: dict[int, dict[str, Any]]
                   ) -> dict[int, LayerSegment]:
    """Each segment's number, SegmentLabel, kind and label value, for the overlap check."""
    names = {int(item.SegmentNumber): str(item.get("SegmentLabel", "") or "")
             for item in seg.get("SegmentSequence", [])}
    return {n: LayerSegment(number=n, name=names.get(n) or row["lesion_id"] or row["roi"],
                            roi=str(row["roi"]), label=int(row["label"]))
            for n, row in rows.items()}


def reader_note(seg: pydicom.Dataset, name: str, numbers: list[int], reader: str) -> str:
    """Provenance of a reader given for segments another tool wrote."""
    creator = _creator(seg)
    said = (f"the SEG names {creator!r} as its content creator (ContentCreatorName)"
            if creator != "unknown" else "the SEG names no content creator")
    return (f"{name}: segment(s) {', '.join(map(str, numbers))} recorded as drawn by "
            f"{reader!r} (the reader given); {said}")
