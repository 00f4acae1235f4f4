"""The inputs of an SR export: the SEG, its segments, and the PET series it was drawn on.

Header-only reads for :func:`nethelpers.dicom.sr.export_sr`: the SEG is checked to be a
Segmentation, its segments are described by what an SR measurement group needs of them
(tracking identifier and UID, finding, finding site, and the names a measurement-table row
matches them by), and the PET instances are picked among the given files as the series the
SEG references.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.seg import (
    LABELMAP_SEGMENTATION_STORAGE,
    SEGMENTATION_STORAGE,
    segment_row,
)
from nethelpers.dicom.srcodes import code_of
from nethelpers.dicom.volume import series_files

__all__ = ["Segment", "pet_instances", "read_seg", "segments"]

PathLike = str | os.PathLike[str]

_UNREADABLE = (InvalidDicomError, OSError, ValueError, EOFError)


@dataclass(frozen=True)
class Segment:
    """What an SR measurement group needs of one SEG segment.

    Attributes
    ----------
    number : int
        SegmentNumber.
    ours : tuple of str or None
        ``(roi, name)`` from the table row export_seg keeps in SegmentDescription (name is
        the lesion_id of a lesion, the ROI name otherwise); None for other tools' SEGs.
    names : frozenset of str
        SegmentLabel and TrackingID, what rows match other tools' segments by.
    tracking_id, tracking_uid : str
        The segment's TrackingID / TrackingUID, or a name and a UID derived from the SEG's
        SOPInstanceUID and the segment number when it has none.
    finding, site : pydicom.sr.coding.Code or None
        SegmentedPropertyType and AnatomicRegion.
    """

    number: int
    ours: tuple[str, str] | None
    names: frozenset[str]
    tracking_id: str
    tracking_uid: str
    finding: Code | None
    site: Code | None

    def matches(self, roi: str, name: str) -> bool:
        """Whether a table row (its roi, and its lesion_id or roi as name) is this segment."""
        if self.ours is not None:
            return self.ours == (roi, name)
        return name in self.names


def _our_name(item: pydicom.Dataset) -> tuple[str, str] | None:
    """(roi, name) from the row export_seg keeps in SegmentDescription, else None."""
    row = segment_row(item)
    if row is None:
        return None
    roi = str(row["roi"])
    return roi, str(row["lesion_id"]) if roi == "lesion" else roi


def segments(seg: pydicom.Dataset) -> list[Segment]:
    """The segments of a SEG (a LABELMAP SEG's background segment 0 left out).

    Parameters
    ----------
    seg : pydicom.Dataset
        The SEG, as :func:`read_seg` returns it.

    Returns
    -------
    list of Segment
    """
    out = []
    for item in seg.get("SegmentSequence", []):
        number = int(item.SegmentNumber)
        if number == 0:
            continue
        ours = _our_name(item)
        label = str(item.get("SegmentLabel", "") or "").strip()
        tracking_id = str(item.get("TrackingID", "") or "").strip()
        tracking_uid = str(item.get("TrackingUID", "") or "").strip()
        out.append(Segment(
            number=number, ours=ours, names=frozenset({label, tracking_id} - {""}),
            tracking_id=tracking_id or (ours[1] if ours else label) or f"segment {number}",
            tracking_uid=tracking_uid or str(generate_uid(
                entropy_srcs=["nethelpers-sr", str(seg.SOPInstanceUID), str(number)])),
            finding=code_of(item, "SegmentedPropertyTypeCodeSequence"),
            site=code_of(item, "AnatomicRegionSequence")))
    return out


def read_seg(path: Path) -> pydicom.Dataset:
    """Read a SEG's header (no pixel data), refusing anything but a Segmentation.

    Parameters
    ----------
    path : pathlib.Path
        The SEG file.

    Returns
    -------
    pydicom.Dataset

    Raises
    ------
    DicomInputError
        Unreadable, not a Segmentation Storage instance, or without segments.
    """
    fix = "pass the SEG of the ROIs (nethelpers.dicom.seg.export_seg)"
    try:
        seg = pydicom.dcmread(path, stop_before_pixels=True)
    except _UNREADABLE as exc:
        raise DicomInputError(f"not a readable DICOM file ({exc})", file=path, fix=fix
                              ) from None
    sop_class = str(seg.get("SOPClassUID", ""))
    if sop_class not in (SEGMENTATION_STORAGE, LABELMAP_SEGMENTATION_STORAGE):
        raise DicomInputError(f"SOP class {sop_class or '(none)'} is not a Segmentation",
                              file=path, tag="SOPClassUID (0008,0016)", fix=fix)
    if not seg.get("SegmentSequence"):
        raise DicomInputError("the SEG describes no segments", file=path,
                              tag="SegmentSequence (0062,0002)", fix=fix)
    return seg


def _referenced_series(seg: pydicom.Dataset) -> set[str]:
    return {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])
            if "SeriesInstanceUID" in item}


def _image_series(files: list[Path]) -> dict[str, list[pydicom.Dataset]]:
    """Headers of the single-frame images among ``files``, by SeriesInstanceUID."""
    groups: dict[str, list[pydicom.Dataset]] = {}
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except _UNREADABLE as exc:
            raise DicomInputError(f"not a readable DICOM file ({exc})", file=f,
                                  fix="remove the file or pass the PET files explicitly"
                                  ) from None
        if "ImagePositionPatient" in ds and "SeriesInstanceUID" in ds:
            groups.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    return groups


def pet_instances(source: PathLike | Sequence[PathLike], series_uid: str | None,
                  seg: pydicom.Dataset, seg_path: Path) -> list[pydicom.Dataset]:
    """The headers of the PET series a SEG was drawn on, among ``source``'s files.

    Parameters
    ----------
    source : path-like or sequence of path-like
        The PET series folder or files (other series may be there too).
    series_uid : str or None
        The PET SeriesInstanceUID; default the one series the SEG references.
    seg : pydicom.Dataset
        The SEG.
    seg_path : pathlib.Path
        Its file, for messages.

    Returns
    -------
    list of pydicom.Dataset
        One header per instance, in file order.

    Raises
    ------
    DicomInputError
        A file is unreadable, no (or more than one) series matches, the SEG references
        another series, or the series is not PET.
    """
    files = series_files(source)
    where = files[0].parent if files else Path(str(source))
    groups = _image_series(files)
    referenced = _referenced_series(seg)
    if series_uid is None:
        hits = [uid for uid in groups if uid in referenced] if referenced else list(groups)
        if len(hits) != 1:
            raise DicomInputError(
                f"the SEG references series {', '.join(sorted(referenced)) or '(none)'}; "
                f"{len(hits)} of the image series here match "
                f"({', '.join(sorted(groups)) or 'none'})", file=where,
                tag="SeriesInstanceUID (0020,000E)",
                fix="pass the PET series the SEG was drawn on (or series_uid=)")
        series_uid = hits[0]
    if series_uid not in groups:
        raise DicomInputError(f"no image of series {series_uid}", file=where,
                              tag="SeriesInstanceUID (0020,000E)",
                              fix="pass the folder or files of that PET series")
    if referenced and series_uid not in referenced:
        raise DicomInputError(f"the SEG references series {', '.join(sorted(referenced))}, "
                              f"not the PET series {series_uid}", file=seg_path,
                              tag="ReferencedSeriesSequence (0008,1115)",
                              fix="pass the PET series the SEG was drawn on")
    pet = groups[series_uid]
    if str(pet[0].get("Modality", "")) != "PT":
        raise DicomInputError(f"series {series_uid} is {pet[0].get('Modality', '?')}, not PET: "
                              "SUV measurements refer to a PET series", file=where,
                              tag="Modality (0008,0060)", fix="pass the PET series")
    return pet
