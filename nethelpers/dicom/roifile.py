"""Contours from a file, whatever made it: DICOM SEG, RTSTRUCT or a label image.

:func:`read_roi_file` tells the kind from the file itself (SOP Class UID for DICOM, else a
label image SimpleITK reads: NIfTI, NRRD, MetaImage) and returns a ``uint16`` label map on
the PET grid with its ROI table (:data:`nethelpers.rois.TABLE_COLUMNS`), as the ROI store
keeps them.

- **SEG** (:func:`nethelpers.dicom.seg.import_seg`): frames placed by the source image they
  name, else by position; segments become labels with their label as lesion ID. Segments
  that share voxels are refused unless the ``overlap`` policy resolves them
  (:mod:`nethelpers.dicom.segoverlap`).
- **RTSTRUCT** (:func:`nethelpers.dicom.rtstruct.import_rtstruct`): contours rasterised onto
  the PET grid, one label per ROI named after it.
- **Label image**: every non-zero value is one ROI, named by a 3D Slicer ``.seg.nrrd``
  header (``Segment<i>_Name`` / ``_LabelValue``; the kind from the name, as for RTSTRUCT),
  else a lesion named ``label-<value>``; placed on the PET grid by nearest-neighbour
  resampling when its grid differs (with a note).

A ``reader`` given to :func:`read_roi_file` is recorded as the reader of every ROI the file
does not attribute through nethelpers' own SEG rows (instead of the file's own
ContentCreatorName, ROIInterpreter / OperatorsName, or ``unknown``); the notes name both.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.refseries import same_grid
from nethelpers.dicom.roi_names import infer_roi_kind
from nethelpers.dicom.rtstruct import RTSTRUCT_STORAGE
from nethelpers.dicom.seg import LABELMAP_SEGMENTATION_STORAGE, SEGMENTATION_STORAGE
from nethelpers.dicom.segoverlap import DEFAULT_OVERLAP
from nethelpers.rois import TABLE_COLUMNS, validate_table

__all__ = ["LABEL_IMAGE_SUFFIXES", "RoiFile", "read_roi_file", "roi_file_kind"]

#: Label images SimpleITK reads.
LABEL_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
_GEOMETRY_TOL = 1e-3


@dataclass
class RoiFile:
    """ROIs read from a file, on the PET grid.

    Attributes
    ----------
    labels : SimpleITK.Image
        ``uint16`` label map on the PET grid.
    table : pandas.DataFrame
        One row per label (:data:`nethelpers.rois.TABLE_COLUMNS`).
    kind : str
        ``SEG``, ``RTSTRUCT`` or ``label image``.
    notes : list of str
        What was done to place the ROIs (resampling), for the provenance.
    """

    labels: sitk.Image
    table: pd.DataFrame
    kind: str
    notes: list[str] = field(default_factory=list)


def roi_file_kind(path: str | os.PathLike[str]) -> str:
    """``SEG``, ``RTSTRUCT`` or ``label image``; anything else is refused.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str

    Raises
    ------
    DicomInputError
        Not a file, a DICOM object that holds no contours, or an unknown format.
    """
    path = Path(path)
    if not path.is_file():
        raise DicomInputError("no such file", file=path, fix="pass a SEG, RTSTRUCT or label "
                              "image (NIfTI, NRRD) file")
    if path.name.lower().endswith(LABEL_IMAGE_SUFFIXES):
        return "label image"
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"])
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise DicomInputError(f"neither DICOM nor a label image ({exc})", file=path,
                              fix="pass a DICOM SEG or RTSTRUCT, or a label image named "
                              + "/".join(LABEL_IMAGE_SUFFIXES)) from None
    sop = str(ds.get("SOPClassUID", ""))
    if sop in (SEGMENTATION_STORAGE, LABELMAP_SEGMENTATION_STORAGE):
        return "SEG"
    if sop == RTSTRUCT_STORAGE:
        return "RTSTRUCT"
    raise DicomInputError(f"SOP Class {sop or '(none)'} holds no contours", file=path,
                          tag="SOPClassUID (0008,0016)",
                          fix="pass a Segmentation (SEG) or RT Structure Set (RTSTRUCT)")


def _same_grid(a: sitk.Image, b: sitk.Image) -> bool:
    return same_grid(a, b, tolerance_mm=_GEOMETRY_TOL, direction_tolerance=_GEOMETRY_TOL)


def _fmt_tuple(values: Any) -> str:
    return " x ".join(f"{float(v):.4g}" for v in values)


def _label_image(path: Path, pet: sitk.Image) -> RoiFile:
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise DicomInputError(f"unreadable label image ({str(exc).strip()[:200]})", file=path,
                              fix="pass a NIfTI/NRRD/MetaImage label map") from None
    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise DicomInputError(f"a label map must be 3-D with one value per voxel, this is "
                              f"{image.GetDimension()}-D with "
                              f"{image.GetNumberOfComponentsPerPixel()} components", file=path,
                              fix="export the segmentation as one label map (3D Slicer: "
                              "Export to labelmap; overlapping segments become one layer)")
    values = sitk.GetArrayViewFromImage(image)
    if np.issubdtype(values.dtype, np.floating) and not np.all(values == np.round(values)):
        raise DicomInputError("the image holds non-integer values: a label map holds whole "
                              "numbers (0 = background)", file=path,
                              fix="pass the segmentation's label map, not an image")
    if values.min() < 0 or values.max() > np.iinfo(np.uint16).max:
        raise DicomInputError(f"labels from {values.min()} to {values.max()} do not fit "
                              "0-65535", file=path)
    image_meta = {k: image.GetMetaData(k) for k in image.GetMetaDataKeys()}
    image = sitk.Cast(image, sitk.sitkUInt16)
    notes: list[str] = []
    if not _same_grid(image, pet):
        size, spacing = image.GetSize(), image.GetSpacing()
        image = sitk.Resample(image, pet, sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                              sitk.sitkUInt16)
        notes.append(f"{path.name}: the label map is not on the PET grid (size "
                     f"{_fmt_tuple(size)} vs {_fmt_tuple(pet.GetSize())}, spacing "
                     f"{_fmt_tuple(spacing)} vs {_fmt_tuple(pet.GetSpacing())} mm): "
                     "resampled onto it (nearest neighbour); check it was drawn on this PET")
    array = sitk.GetArrayViewFromImage(image)
    present = sorted(int(v) for v in np.unique(array) if v != 0)
    if not present:
        raise DicomInputError("the label map holds no label on the PET grid", file=path,
                              fix="check the label map was drawn on this PET")
    names = _segment_names(image_meta)
    rows = []
    refs: set[str] = set()
    for v in present:
        name = names.get(v, f"label-{v}")
        kind = infer_roi_kind(name) if v in names else "lesion"
        if kind is None or kind in refs:     # e.g. "Body": measured, named, as a lesion
            kind = "lesion"
        if kind != "lesion":
            refs.add(kind)
        rows.append({"label": v, "roi": kind, "lesion_id": name if kind == "lesion" else "",
                     "method": "imported", "reader": "unknown", "created": ""})
    table = validate_table(pd.DataFrame(rows, columns=list(TABLE_COLUMNS)), np.asarray(array),
                           source=f"{path} (labels)")
    return RoiFile(image, table, "label image", notes)


def _segment_names(meta: dict[str, str]) -> dict[int, str]:
    """Label value -> segment name from a 3D Slicer ``.seg.nrrd`` header (single layer)."""
    names: dict[int, str] = {}
    i = 0
    while f"Segment{i}_Name" in meta:
        value = meta.get(f"Segment{i}_LabelValue", "")
        if value.strip().isdigit():
            names[int(value)] = meta[f"Segment{i}_Name"].strip() or f"label-{value.strip()}"
        i += 1
    return names


def _record_reader(rois: RoiFile, reader: str, name: str) -> None:
    """Record ``reader`` for every ROI of a RTSTRUCT or label image, noting the file's own."""
    own = sorted(set(rois.table["reader"]) - {"", "unknown"})
    said = (f"the {rois.kind} names {', '.join(repr(r) for r in own)}" if own
            else f"the {rois.kind} names no reader")
    rois.table = rois.table.assign(reader=reader)
    rois.notes.append(f"{name}: ROIs recorded as drawn by {reader!r} (the reader given); "
                      f"{said}")


def read_roi_file(path: str | os.PathLike[str], pet_series: Any, pet: sitk.Image, *,
                  reader: str | None = None, overlap: str = DEFAULT_OVERLAP,
                  **tolerances: float) -> RoiFile:
    """Read a SEG, RTSTRUCT or label image into a label map on the PET grid.

    Parameters
    ----------
    path : path-like
        The ROI file.
    pet_series : path-like or sequence of path-like
        The PET series folder or files (SEG and RTSTRUCT are matched to its instances).
    pet : SimpleITK.Image
        The PET image, loaded from ``pet_series`` (its grid is the label map's).
    reader : str, optional
        Who drew the ROIs (recorded in the table) when the file does not say it through
        nethelpers' own SEG rows; the notes keep what the file says.
    overlap : str
        SEG segments that share voxels: ``"refuse"`` (default) or ``"lesions-win"``
        (:mod:`nethelpers.dicom.segoverlap`).
    **tolerances : float
        ``slice_tolerance`` (and for a SEG ``position_tolerance``), passed on.

    Returns
    -------
    RoiFile

    Raises
    ------
    DicomInputError
        The file holds no contours, they cannot be placed on the PET grid, or SEG segments
        overlap (:class:`nethelpers.dicom.segoverlap.SegmentOverlapError`).
    """
    path = Path(path)
    kind = roi_file_kind(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if kind == "label image":
            rois = _label_image(path, pet)
        elif kind == "SEG":
            from nethelpers.dicom.seg import import_seg

            labels, table = import_seg(path, pet_series, overlap=overlap, reader=reader,
                                       **tolerances)
            rois = RoiFile(labels, table, kind)
        else:
            from nethelpers.dicom.rtstruct import import_rtstruct

            tolerances.pop("position_tolerance", None)
            labels, table = import_rtstruct(path, pet_series, **tolerances)
            rois = RoiFile(labels, table, kind)
    # what the readers left out or changed goes with the numbers, not only to stderr
    rois.notes.extend(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    if reader and kind != "SEG":
        _record_reader(rois, reader, path.name)
    if not _same_grid(rois.labels, pet):
        rois.labels = sitk.Resample(rois.labels, pet, sitk.Transform(),
                                    sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
        rois.notes.append(f"{path.name}: ROIs resampled onto the PET grid (nearest neighbour)")
    _check_sides(rois, path)
    return rois


def _centre_x(labels: sitk.Image, array: np.ndarray, label: int) -> float:
    """Patient x (LPS: + is the patient's left) of a label's centre of mass."""
    index = np.argwhere(array == label).mean(axis=0)[::-1]        # (x, y, z) index
    return labels.TransformContinuousIndexToPhysicalPoint(index.tolist())[0]


def _check_sides(rois: RoiFile, path: Path) -> None:
    """Refuse ROIs whose liver lies on the patient's left of their spleen: mirrored.

    A label map written with the wrong handedness (LPS stored as RAS, a flipped array)
    lands on the PET grid without any geometric complaint; the liver and spleen swap
    sides and every number is silently wrong. Situs inversus is the one true exception.
    """
    table = rois.table
    refs = {r: int(table.loc[table["roi"] == r, "label"].iloc[0])
            for r in ("liver", "spleen") if (table["roi"] == r).any()}
    if len(refs) < 2:
        return
    array = sitk.GetArrayViewFromImage(rois.labels)
    if not all(np.any(array == v) for v in refs.values()):
        return
    liver, spleen = (_centre_x(rois.labels, array, refs[r]) for r in ("liver", "spleen"))
    if liver > spleen:
        raise DicomInputError(
            f"the liver ROI lies on the patient's left of the spleen ROI (x {liver:.0f} vs "
            f"{spleen:.0f} mm): the ROIs are mirrored left-right on this PET", file=path,
            fix="re-export the label map with the PET's orientation (a NIfTI written as RAS "
            "but read as LPS, or a flipped array, does this); for a patient with situs "
            "inversus rename the liver/spleen ROIs so they are measured as lesions")
