"""Multi-frame objects as one flat header per frame: the functional groups lifted in.

One file holds every slice as a frame; what a single-frame series writes in each file sits
in the functional groups: ``SharedFunctionalGroupsSequence`` (5200,9229) for values of all
frames, ``PerFrameFunctionalGroupsSequence`` (5200,9230) for each frame's own (position,
rescale, acquisition time). Legacy Converted objects keep the classic attributes the
standard has no place for in ``UnassignedSharedConvertedAttributesSequence`` (0020,9170)
and ``UnassignedPerFrameConvertedAttributesSequence`` (0020,9171).

:func:`frame_views` turns the file into one flat header per frame, read with the same
getters as a single-frame file: the top level, then the shared functional groups, then the
frame's own, each more specific layer replacing the values before it (the unassigned
sequences first within a layer, so a standard macro wins over a converted copy). A private
block is taken whole from one layer. Identity and pixel-description elements (UIDs,
Modality, Rows, Columns, Bits*) stay those of the top level. A frame's acquisition time is
its FrameAcquisitionDateTime (FrameContentSequence), never the object's start. Every value
remembers where it came from; SUV-relevant values found in two layers with different values
are collected as conflicts (the PET reader refuses them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nethelpers.dicom.errors import SeriesError
from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag

__all__ = [
    "ENHANCED_SOP_CLASSES",
    "FrameViews",
    "frame_views",
    "is_multiframe",
    "object_name",
]

#: SOP classes read as multi-frame volumes, with the name the provenance gives them.
ENHANCED_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.130": "Enhanced PET",
    "1.2.840.10008.5.1.4.1.1.128.1": "Legacy Converted Enhanced PET",
    "1.2.840.10008.5.1.4.1.1.2.1": "Enhanced CT",
    "1.2.840.10008.5.1.4.1.1.2.2": "Legacy Converted Enhanced CT",
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR",
}

_SHARED = keyword_tag("SharedFunctionalGroupsSequence")
_PER_FRAME = keyword_tag("PerFrameFunctionalGroupsSequence")
_FRAMES = keyword_tag("NumberOfFrames")
_SOP_CLASS = keyword_tag("SOPClassUID")
_RWV = keyword_tag("RealWorldValueMappingSequence")
_UNASSIGNED = frozenset((keyword_tag("UnassignedSharedConvertedAttributesSequence"),
                         keyword_tag("UnassignedPerFrameConvertedAttributesSequence")))
#: Never copied into a frame's view: the frame structure itself and the pixel data.
_NOT_IN_VIEW = frozenset((_SHARED, _PER_FRAME, _FRAMES, 0x7FE00008, 0x7FE00009, 0x7FE00010))
#: Elements whose top-level value stands for the object (a converted copy never replaces it).
_TOP_WINS = frozenset(keyword_tag(k) for k in (
    "SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "Modality",
    "FrameOfReferenceUID", "SpecificCharacterSet", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "SamplesPerPixel",
    "PhotometricInterpretation",
))
#: SUV-relevant elements that must agree wherever they are found.
_CHECKED = frozenset(keyword_tag(k) for k in (
    "PatientWeight", "PatientSize", "PatientSex", "Units", "SUVType", "DecayCorrection",
    "CorrectedImage", "RescaleSlope", "RescaleIntercept", "TimezoneOffsetFromUTC",
))
_TOP = "top level"


def is_multiframe(header: RawDataset) -> bool:
    """True for a multi-frame object: NumberOfFrames above 1 or functional groups present.

    Parameters
    ----------
    header : RawDataset
        A file's header.

    Returns
    -------
    bool
    """
    frames = header.int(_FRAMES)
    return (frames is not None and frames > 1) or _PER_FRAME in header


def object_name(header: RawDataset) -> str:
    """The kind of object, e.g. ``"Enhanced PET"`` (``"multi-frame <SOP class>"`` otherwise)."""
    sop = header.text(_SOP_CLASS) or ""
    return ENHANCED_SOP_CLASSES.get(sop, f"multi-frame {sop or 'object'}")


# --------------------------------------------------------------------------------------
# One flat header per frame
# --------------------------------------------------------------------------------------


@dataclass
class FrameViews:
    """The frames of one multi-frame file as flat single-frame headers.

    Attributes
    ----------
    file : pathlib.Path
        The file.
    object : str
        ``"Enhanced PET"``, ``"Legacy Converted Enhanced PET"``, ... (see
        :data:`ENHANCED_SOP_CLASSES`).
    headers : list of RawHeader
        One per frame, in file order: the top level with the functional groups lifted in
        (``NumberOfFrames`` and the pixel data left out; ``path`` is the file).
    sources : list of dict
        Per frame, tag -> where the value came from, e.g.
        ``"PerFrameFunctionalGroupsSequence > PixelValueTransformationSequence"``.
    real_world : list of list of RawDataset
        Per frame, the RealWorldValueMappingSequence items (per-frame, else shared).
    conflicts : list of (str, str)
        SUV-relevant elements found with different values in two layers: the keyword and
        both values with their places.
    """

    file: Path
    object: str
    headers: list[RawHeader]
    sources: list[dict[int, str]]
    real_world: list[list[RawDataset]]
    conflicts: list[tuple[str, str]]

    def frame_name(self, index: int) -> str:
        """The file and frame number (1-based) for messages."""
        return f"{self.file} (frame {index + 1})"


def _layers(group_item: RawDataset | None, label: str) -> list[tuple[str, RawDataset]]:
    """The single-item macro sequences of a functional-group item, unassigned ones first."""
    if group_item is None:
        return []
    out: list[tuple[int, str, RawDataset]] = []
    for tag, value in group_item.elements.items():
        is_sequence = group_item.vrs.get(tag) == "SQ" or isinstance(value, list)
        if tag == _RWV or not is_sequence:
            continue
        items = group_item.seq(tag)
        if len(items) == 1:
            out.append((0 if tag in _UNASSIGNED else 1, f"{label} > {_keyword(tag)}", items[0]))
    out.sort(key=lambda entry: entry[0])
    return [(name, item) for _, name, item in out]


def _keyword(tag: int) -> str:
    from pydicom.datadict import keyword_for_tag

    return keyword_for_tag(tag) or f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _same_value(a: RawDataset, b: RawDataset, tag: int) -> bool:
    ta, tb = a.text(tag), b.text(tag)
    if ta == tb:
        return True
    try:
        fa, fb = a.floats(tag), b.floats(tag)
    except Exception:  # noqa: BLE001 - text that is not numeric simply differs
        return False
    return fa is not None and fb is not None and np.allclose(fa, fb, rtol=1e-9, atol=0)


def _apply(view: RawHeader, sources: dict[int, str], label: str, layer: RawDataset,
           conflicts: list[tuple[str, str]]) -> None:
    """Copy a layer's elements into a frame's view (a private group as one block)."""
    for group in {tag >> 16 for tag in layer.elements if (tag >> 16) & 1}:
        for tag in [t for t in view.elements if t >> 16 == group]:
            del view.elements[tag]
            view.vrs.pop(tag, None)
            sources.pop(tag, None)
    for tag, value in layer.elements.items():
        if tag in _NOT_IN_VIEW or (tag in _TOP_WINS and tag in view.elements):
            continue
        if tag in _CHECKED and tag in view.elements:
            probe = RawDataset({tag: value}, {tag: layer.vrs.get(tag, "UN")},
                               layer.little_endian, layer.encodings)
            if not _same_value(view, probe, tag):
                conflicts.append((_keyword(tag), f"{view.text(tag)!r} in {sources[tag]} "
                                  f"but {probe.text(tag)!r} in {label}"))
        view.elements[tag] = value
        view.vrs[tag] = layer.vrs.get(tag, "UN")
        sources[tag] = label


def frame_views(header: RawHeader, file: Path | None = None) -> FrameViews:
    """Flatten a multi-frame header into one single-frame-like header per frame.

    Parameters
    ----------
    header : RawHeader
        The file's full header (:func:`~nethelpers.dicom.rawread.read_header`).
    file : pathlib.Path, optional
        The file (default ``header.path``).

    Returns
    -------
    FrameViews

    Raises
    ------
    SeriesError
        When the object has no per-frame functional groups or their count is not
        NumberOfFrames.
    """
    path = Path(file if file is not None else header.path or "<buffer>")
    name = object_name(header)
    per_frame = header.seq(_PER_FRAME)
    frames = header.int(_FRAMES) or 1
    if not per_frame:
        raise SeriesError(
            f"{name} with {frames} frames has no PerFrameFunctionalGroupsSequence: its "
            "frames have no positions", file=path,
            tag="PerFrameFunctionalGroupsSequence (5200,9230)",
            fix="convert it to single-frame files (e.g. dcm2niix, or the vendor's export)")
    if len(per_frame) != frames:
        raise SeriesError(
            f"{len(per_frame)} per-frame functional group items for NumberOfFrames {frames}",
            file=path, tag="PerFrameFunctionalGroupsSequence (5200,9230)",
            fix="restore the file from the archive")
    shared_items = header.seq(_SHARED)
    shared = shared_items[0] if shared_items else None
    shared_layers = _layers(shared, "SharedFunctionalGroupsSequence")
    shared_rwv = shared.seq(_RWV) if shared is not None else []
    top = {t: v for t, v in header.elements.items() if t not in _NOT_IN_VIEW}
    conflicts: list[tuple[str, str]] = []
    views: list[RawHeader] = []
    all_sources: list[dict[int, str]] = []
    real_world: list[list[RawDataset]] = []
    for item in per_frame:
        view = RawHeader(dict(top), {t: header.vrs.get(t, "UN") for t in top},
                         header.little_endian, header.encodings, path=path,
                         transfer_syntax=header.transfer_syntax,
                         implicit_vr=header.implicit_vr, via_pydicom=header.via_pydicom)
        sources = dict.fromkeys(top, _TOP)
        for label, layer in (*shared_layers, *_layers(item, "PerFrameFunctionalGroupsSequence")):
            _apply(view, sources, label, layer, conflicts)
        _acquisition_from_one_layer(view, sources)
        views.append(view)
        all_sources.append(sources)
        real_world.append(item.seq(_RWV) or shared_rwv)
    return FrameViews(path, name, views, all_sources, real_world,
                      list(dict.fromkeys(conflicts)))


_ACQ = tuple(keyword_tag(k) for k in ("AcquisitionDateTime", "AcquisitionDate",
                                      "AcquisitionTime"))
_FRAME_ACQ = keyword_tag("FrameAcquisitionDateTime")


def _acquisition_from_one_layer(view: RawHeader, sources: dict[int, str]) -> None:
    """A frame's acquisition time: FrameAcquisitionDateTime, else the most specific layer's.

    The top-level AcquisitionDateTime of an enhanced object is the start of the whole
    acquisition; it must not shadow a frame's own time.
    """
    if view.text(_FRAME_ACQ):
        view.elements[_ACQ[0]] = view.elements[_FRAME_ACQ]
        view.vrs[_ACQ[0]] = "DT"
        sources[_ACQ[0]] = f"{sources[_FRAME_ACQ]} FrameAcquisitionDateTime"
        return
    labels = [sources.get(t) for t in _ACQ]
    own = [lab for lab in labels if lab is not None and lab != _TOP]
    if own and labels[0] == _TOP:  # a frame's AcquisitionDate/Time beats the object's
        del view.elements[_ACQ[0]]
        sources.pop(_ACQ[0], None)
