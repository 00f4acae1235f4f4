"""DICOM RT Structure Set import: contours drawn on a workstation as a ROI set on the PET.

:func:`import_rtstruct` is the sibling of :func:`nethelpers.dicom.seg.import_seg`: it reads
an RT Structure Set (SOP class 1.2.840.10008.5.1.4.1.1.481.3, as MIM, Eclipse, RayStation
or 3D Slicer write them) into a ``uint16`` label map on the PET grid and a ROI table that
passes :func:`nethelpers.rois.validate_table`.

The ROI table
-------------
One row per structure (StructureSetROISequence item) that has voxels on the PET grid:

- ``label``: the ROINumber (3006,0022) when it is 1..65535 and not taken, else the next
  free value;
- ``roi``: inferred from ROIName and RTROIInterpretedType by
  :func:`nethelpers.dicom.roi_names.infer_roi_kind` (``kinds=`` overrides it by name);
  structures that are neither a lesion nor a reference region (body outline, couch,
  organs at risk) are left out with a warning, and so is a second structure of a
  reference region already taken;
- ``lesion_id``: the ROIName of a lesion (a repeated name gets ``-<ROINumber>``);
- ``method``: ``imported``;
- ``reader``: the ROIInterpreter (3006,00A6) of the structure's observation, else the
  OperatorsName (0008,1070) of the file, else ``unknown``;
- ``created``: StructureSetDate/Time (3006,0008/0009) as ISO 8601 (empty when absent).

Geometry
--------
Contour points (patient mm) are mapped into the PET grid's index space with its direction
matrix, so a PET of any orientation works as long as the contours lie in planes parallel
to its slices (contours on the CT of the same PET/CT do, at the CT's slice positions).
The in-plane rule (pixel centre inside, even-odd for holes and islands) and the
through-plane rule (nearest contour plane; contours drawn on every other slice are
bridged) are those of :mod:`nethelpers.dicom.contour_raster`. Where structures overlap,
the one with the higher ROINumber wins and a warning says how many voxels changed hands.

Refused (:class:`~nethelpers.dicom.errors.DicomInputError`): a file that is not an RT
Structure Set; a structure in another frame of reference than the PET series; a closed
contour with fewer than 3 points or malformed ContourData; a contour whose points spread
more than ``plane_tolerance_mm`` along the PET slice normal (not planar, or not parallel
to the PET slices). POINT and OPEN_PLANAR/OPEN_NONPLANAR contours enclose nothing and are
ignored with a warning. With an image (not a series) as reference there is no
FrameOfReferenceUID to compare, and the frame of reference is not checked.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk
from pydicom.datadict import tag_for_keyword
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue

from nethelpers.dicom.contour_raster import (
    MAX_BRIDGED_GAP,
    PLANE_TOLERANCE_MM,
    Plane,
    group_planes,
    to_index,
    voxel_slices,
)
from nethelpers.dicom.datetimes import iso_of
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.refseries import Grid, select_series, series_geometry
from nethelpers.dicom.roi_names import infer_roi_kind
from nethelpers.dicom.seg import _lo
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.rois import REFERENCE_ROIS, ROI_KINDS, TABLE_COLUMNS, validate_table

__all__ = ["RTSTRUCT_STORAGE", "import_rtstruct"]

PathLike = str | os.PathLike[str]

#: SOP Class UID of RT Structure Set Storage.
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
_CLOSED = frozenset({"CLOSED_PLANAR", "CLOSEDPLANAR_XOR"})
_OPEN = frozenset({"POINT", "OPEN_PLANAR", "OPEN_NONPLANAR"})
_CONTOUR_DATA = 0x30060050
_MAX_LABEL = np.iinfo(np.uint16).max


def _tag(keyword: str) -> str:
    """``"Keyword (gggg,eeee)"`` for an error message."""
    tag = tag_for_keyword(keyword)
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


@dataclass
class _Structure:
    """One structure of the file: its identity and its contours (patient mm)."""

    number: int
    name: str
    frame_uid: str
    interpreted_type: str = ""
    interpreter: str = ""
    contours: list[np.ndarray] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def what(self) -> str:
        return f"ROI {self.number} {self.name!r}"


def _read(path: Path) -> pydicom.Dataset:
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DicomInputError(f"not a readable DICOM file ({exc})", file=path,
                              fix="pass an RT Structure Set file") from None
    sop_class = str(ds.get("SOPClassUID", "") or "")
    if sop_class != RTSTRUCT_STORAGE:
        what = f"{sop_class} ({ds.get('Modality', 'no modality')})" if sop_class else "none"
        raise DicomInputError(f"not an RT Structure Set: SOP class {what}, expected "
                              f"{RTSTRUCT_STORAGE}", file=path, tag=_tag("SOPClassUID"),
                              fix="pass the RTSTRUCT file (Modality RTSTRUCT); a DICOM SEG "
                              "is read by nethelpers.dicom.seg.import_seg")
    return ds


def _person(value: object) -> str:
    """A PN value (one or several, backslash-separated) as plain text, joined by commas."""
    values = value if isinstance(value, MultiValue) else [value]
    names = [" ".join(str(v or "").replace("^", " ").split()) for v in values]
    return ", ".join(n for n in names if n)


def _structures(ds: pydicom.Dataset, path: Path) -> dict[int, _Structure]:
    """The structures by ROINumber, with their observations (not yet their contours)."""
    items = ds.get("StructureSetROISequence") or []
    if not items:
        raise DicomInputError("the structure set has no structures", file=path,
                              tag=_tag("StructureSetROISequence"),
                              fix="export the structure set with its ROIs")
    frames = [str(f.FrameOfReferenceUID) for f in ds.get("ReferencedFrameOfReferenceSequence",
                                                         []) if "FrameOfReferenceUID" in f]
    out: dict[int, _Structure] = {}
    for item in items:
        if "ROINumber" not in item:
            raise DicomInputError("a structure has no ROINumber", file=path,
                                  tag=_tag("ROINumber"))
        number = int(item.ROINumber)
        if number in out:
            raise DicomInputError(f"ROINumber {number} is used by two structures", file=path,
                                  tag=_tag("ROINumber"), fix="re-export the structure set")
        frame = str(item.get("ReferencedFrameOfReferenceUID", "") or "")
        if not frame and len(set(frames)) == 1:
            frame = frames[0]
        name = " ".join(str(item.get("ROIName", "") or "").split())
        out[number] = _Structure(number, name, frame)
    operator = _person(ds.get("OperatorsName"))
    for obs in ds.get("RTROIObservationsSequence", []):
        number = int(obs.get("ReferencedROINumber", -1))
        if number in out:
            out[number].interpreted_type = str(obs.get("RTROIInterpretedType", "") or "")
            out[number].interpreter = _person(obs.get("ROIInterpreter"))
    for structure in out.values():
        structure.interpreter = structure.interpreter or operator or "unknown"
    return out


def _points(contour: pydicom.Dataset, where: str, path: Path) -> np.ndarray:
    raw = contour.get_item(_CONTOUR_DATA)
    value = None if raw is None else raw.value
    try:
        if isinstance(value, bytes):
            flat = np.array(value.split(b"\\"), dtype=float) if value.strip() else np.zeros(0)
        else:
            flat = np.asarray([] if value is None else np.atleast_1d(value), dtype=float)
    except ValueError:
        flat = np.array([np.nan])
    if flat.size % 3 or not np.all(np.isfinite(flat)):
        raise DicomInputError(f"{where}: ContourData is not a list of x, y, z triplets of "
                              "numbers", file=path, tag=_tag("ContourData"),
                              fix="re-export the structure set")
    points = flat.reshape(-1, 3)
    stated = contour.get("NumberOfContourPoints")
    if stated is not None and int(stated) != len(points):
        raise DicomInputError(f"{where}: NumberOfContourPoints is {int(stated)} but "
                              f"ContourData holds {len(points)} points", file=path,
                              tag=_tag("NumberOfContourPoints"),
                              fix="re-export the structure set")
    return points


def _read_contours(ds: pydicom.Dataset, structures: dict[int, _Structure], path: Path) -> None:
    for roi_contour in ds.get("ROIContourSequence", []):
        number = int(roi_contour.get("ReferencedROINumber", -1))
        if number not in structures:
            raise DicomInputError(f"contours refer to ROI {number}, which the "
                                  "StructureSetROISequence does not describe", file=path,
                                  tag=_tag("ReferencedROINumber"),
                                  fix="re-export the structure set")
        structure = structures[number]
        for n, contour in enumerate(roi_contour.get("ContourSequence", []), start=1):
            where = f"{structure.what}, contour {n}"
            kind = str(contour.get("ContourGeometricType", "") or "").strip().upper()
            if kind in _OPEN:
                structure.ignored[kind] = structure.ignored.get(kind, 0) + 1
                continue
            if kind not in _CLOSED:
                raise DicomInputError(f"{where}: geometric type {kind or '(none)'!r}; "
                                      "expected CLOSED_PLANAR, OPEN_PLANAR or POINT",
                                      file=path, tag=_tag("ContourGeometricType"),
                                      fix="re-export the structure set")
            points = _points(contour, where, path)
            if len(points) < 3:
                raise DicomInputError(f"{where}: a closed contour of {len(points)} point(s) "
                                      "encloses nothing (a closed outline needs at least 3)",
                                      file=path, tag=_tag("NumberOfContourPoints"),
                                      fix=f"delete that contour of {structure.name!r} on the "
                                      "workstation (or draw it again) and re-export")
            structure.contours.append(points)


def _kinds(structures: dict[int, _Structure], kinds: Mapping[str, str] | None,
           path: Path) -> dict[int, str]:
    """ROI kind of every structure to import (by ROINumber); warns about the others."""
    override = {str(k).strip().lower(): str(v) for k, v in (kinds or {}).items()}
    bad = sorted({v for v in override.values() if v not in (*ROI_KINDS, "skip")})
    if bad:
        raise ValueError(f"kinds= values {bad}: use {', '.join(ROI_KINDS)} or 'skip'")
    names = {s.name.lower() for s in structures.values()}
    for key in sorted(set(override) - names):
        warnings.warn(f"{path}: kinds= names {key!r}, which no structure has", UserWarning,
                      stacklevel=3)
    out: dict[int, str] = {}
    first: dict[str, _Structure] = {}
    for number in sorted(structures):
        s = structures[number]
        kind = override.get(s.name.lower()) or infer_roi_kind(s.name, s.interpreted_type)
        if kind in (None, "skip"):
            why = "kinds= says skip" if kind == "skip" else (
                f"{s.interpreted_type or 'untyped'} structure that is neither a lesion nor a "
                "reference region")
            warnings.warn(f"{path}: {s.what} left out ({why}); pass kinds={{{s.name!r}: "
                          "'lesion'}} (or a reference region) to import it", UserWarning,
                          stacklevel=3)
            continue
        if kind in REFERENCE_ROIS and kind in first:
            warnings.warn(f"{path}: {s.what} is a second {kind} structure and is left out; "
                          f"{first[kind].what} is the {kind}. Pass kinds= to choose",
                          UserWarning, stacklevel=3)
            continue
        first.setdefault(kind, s)
        out[number] = kind
    return out


def _check_frame(s: _Structure, pet_frame: str, series_uid: str, path: Path) -> None:
    if pet_frame and s.frame_uid and s.frame_uid != pet_frame:
        raise DicomInputError(
            f"{s.what} is in frame of reference {s.frame_uid}, the PET series {series_uid} "
            f"in {pet_frame}: its contours cannot be placed on the PET without a "
            "registration", file=path, tag=_tag("ReferencedFrameOfReferenceUID"),
            fix="pass the PET series of the same PET/CT or PET/MR (same FrameOfReferenceUID "
            f"(0020,0052)), export the structures on that frame of reference, or leave the "
            f"structure out with kinds={{{s.name!r}: 'skip'}}")


def _planes(s: _Structure, grid: Grid, tolerance_mm: float, path: Path) -> list[Plane]:
    polygons, positions = [], []
    slice_spacing = grid.spacing[2]
    for n, points in enumerate(s.contours, start=1):
        index = to_index(points, grid.origin, grid.spacing, grid.direction)
        along = index[:, 2] * slice_spacing
        spread = float(along.max() - along.min())
        if spread > tolerance_mm:
            raise DicomInputError(
                f"{s.what}, closed contour {n}: its points spread {spread:.3g} mm along the "
                f"PET slice normal (tolerance {tolerance_mm:g} mm): the contour is not planar "
                "or its plane is not parallel to the PET slices", file=path,
                tag=_tag("ContourData"),
                fix="export contours drawn on slices parallel to the PET's (the axial PET or "
                "CT of the same scan), or raise plane_tolerance_mm if the spread is rounding")
        polygons.append(index[:, :2])
        positions.append(float(along.mean()))
    return group_planes(polygons, positions, tolerance_mm)


def _labels(numbers: list[int]) -> dict[int, int]:
    used: set[int] = set()
    out = {}
    for number in numbers:
        label = number if 1 <= number <= _MAX_LABEL and number not in used else 0
        if not label:
            label = max(used, default=0) + 1
            while label in used:
                label += 1
        used.add(label)
        out[number] = label
    return out


def _paint(out: np.ndarray, label: int, planes: list[Plane], grid: Grid,
           max_bridged_gap: float) -> tuple[int, int]:
    """Paint one structure into the label map: its voxels, and those taken from others."""
    voxels = taken = 0
    for k, j0, i0, mask in voxel_slices(planes, grid.size, grid.spacing[2], max_bridged_gap):
        block = out[k, j0:j0 + mask.shape[0], i0:i0 + mask.shape[1]]
        taken += int(np.count_nonzero((block != 0) & (block != label) & mask))
        block[mask] = label
        voxels += int(np.count_nonzero(mask))
    return voxels, taken


def _grid_and_frame(reference: sitk.Image | PathLike | Sequence[PathLike],
                    series_uid: str | None, slice_tolerance: float) -> tuple[Grid, str, str]:
    if isinstance(reference, sitk.Image):
        return Grid.of(reference), "", "(an image)"
    series = series_geometry(select_series(reference, series_uid), slice_tolerance)
    frame = str(series.datasets[0].get("FrameOfReferenceUID", "") or "")
    return Grid.of(series), frame, series.series_uid


def import_rtstruct(
    path: PathLike,
    reference: sitk.Image | PathLike | Sequence[PathLike],
    *,
    series_uid: str | None = None,
    kinds: Mapping[str, str] | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    max_bridged_gap: float = MAX_BRIDGED_GAP,
    plane_tolerance_mm: float = PLANE_TOLERANCE_MM,
) -> tuple[sitk.Image, pd.DataFrame]:
    """Read a DICOM RT Structure Set into a label map on the PET grid and its ROI table.

    Parameters
    ----------
    path : path-like
        The RTSTRUCT file.
    reference : SimpleITK.Image or path-like or sequence of path-like
        The PET grid: an image on it, or the PET series folder or files (a folder with
        several image series is narrowed to its only PET series, or ``series_uid``). The
        contours may have been drawn on the PET or on another image of the same frame of
        reference (the CT of the PET/CT).
    series_uid : str, optional
        SeriesInstanceUID of the PET series when ``reference`` holds several.
    kinds : mapping of str to str, optional
        ROI kind by structure name (case-insensitive), overriding the inferred kind:
        one of :data:`nethelpers.rois.ROI_KINDS`, or ``"skip"`` to leave it out.
    max_bridged_gap : float
        Gaps between a structure's contour planes up to this many plane spacings are filled
        (see :mod:`nethelpers.dicom.contour_raster`).
    slice_tolerance : float
        Largest deviation of a PET slice from a uniform grid, as a fraction of the slice
        spacing (see :mod:`nethelpers.dicom.slicegrid`).
    plane_tolerance_mm : float
        How far (mm) a contour's points may spread along the PET slice normal.

    Returns
    -------
    labels : SimpleITK.Image
        ``uint16`` label map on the reference grid.
    table : pandas.DataFrame
        One row per imported structure (see the module docstring), normalised by
        :func:`nethelpers.rois.validate_table`.

    Raises
    ------
    DicomInputError
        Naming the file and the element: not an RT Structure Set, another frame of
        reference, malformed or non-planar contours, or no structure with voxels.

    Warns
    -----
    UserWarning
        Structures left out (not a lesion or reference region, a second reference region,
        no closed contour, no voxel on the grid), ignored POINT/OPEN contours, overlaps.
    """
    path = Path(path)
    ds = _read(path)
    grid, pet_frame, pet_series = _grid_and_frame(reference, series_uid, slice_tolerance)
    structures = _structures(ds, path)
    _read_contours(ds, structures, path)
    kind_of = _kinds(structures, kinds, path)
    for number in kind_of:
        _check_frame(structures[number], pet_frame, pet_series, path)
    label_of = _labels(sorted(kind_of))
    created, ids = iso_of(ds, "StructureSetDate", "StructureSetTime"), set()

    nx, ny, nz = grid.size
    out = np.zeros((nz, ny, nx), dtype=np.uint16)
    rows, overlap = [], 0
    for number in sorted(kind_of):
        s, label = structures[number], label_of[number]
        for kind, count in s.ignored.items():
            warnings.warn(f"{path}: {s.what}: {count} {kind} contour(s) ignored (only closed "
                          "contours enclose voxels)", UserWarning, stacklevel=2)
        planes = _planes(s, grid, plane_tolerance_mm, path)
        voxels, taken = _paint(out, label, planes, grid, max_bridged_gap)
        overlap += taken
        if voxels == 0:
            why = "no closed contour" if not s.contours else "no voxel centre on the PET grid"
            warnings.warn(f"{path}: {s.what} left out: {why}", UserWarning, stacklevel=2)
            continue
        lesion_id = ""
        if kind_of[number] == "lesion":
            lesion_id = _lo(s.name) or f"roi-{number}"
            lesion_id = f"{lesion_id}-{number}" if lesion_id in ids else lesion_id
            ids.add(lesion_id)
        rows.append({"label": label, "roi": kind_of[number], "lesion_id": lesion_id,
                     "method": "imported", "reader": s.interpreter, "created": created})
    if overlap:
        warnings.warn(f"{path}: structures overlap in {overlap} voxel(s); the later structure "
                      "(higher ROINumber) was kept there", UserWarning, stacklevel=2)
    present = set(np.unique(out).tolist())
    for row in rows:
        if row["label"] not in present:
            warnings.warn(f"{path}: label {row['label']} ({row['lesion_id'] or row['roi']}) "
                          "left out: later structures cover all its voxels", UserWarning,
                          stacklevel=2)
    rows = [r for r in rows if r["label"] in present]
    if not rows:
        raise DicomInputError("no structure has a voxel on the PET grid", file=path,
                              tag=_tag("ROIContourSequence"),
                              fix="pass the PET of the scan the structures were drawn on")
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table = validate_table(table, out, source=f"{path} (structures)")
    return grid.image(out), table
