"""A demo "workstation" that exports a ROI set as a DICOM RT Structure Set.

Clinical workstations (MIM, Eclipse, RayStation, Slicer) hand contours over as an RT
Structure Set: one structure per ROI, each a stack of closed planar contours on the slices
of the image it was drawn on. :func:`write_rtstruct` writes a ROI set (label map + table,
:mod:`nethelpers.rois`) that way, so that :func:`nethelpers.dicom.rtstruct.import_rtstruct`
can be tested on what such a workstation sends:

- structure = ROI: ROINumber = label, ROIName = lesion_id or the region's name (``Liver``,
  ``Spleen``, ``Blood pool``, ``Muscle``), RTROIInterpretedType GTV (lesions) or ORGAN,
  ROIInterpreter = the table's reader, ROIGenerationAlgorithm MANUAL or SEMIAUTOMATIC,
  ROIDisplayColor as in the SEG export;
- contours: on every slice of the drawing image, the outline of each 4-connected component
  of the mask and of each hole, as separate CLOSED_PLANAR contours (patient mm). Drawn on
  the PET (``on="pet"``), they trace pixel edges, so the pixel-centre rule fills exactly
  the mask again. Drawn on the CT (``on="ct"``), the mask is first resampled onto the CT
  grid (nearest neighbour) and traced there, at the CT's slice positions;
- ``every_other_slice=True`` keeps the contours of every other contoured slice of each
  structure (first, third, ..., and always the last), as a reader who relies on
  interpolation between drawn slices;
- references: each contour's ContourImageSequence names the image slice it lies on; the
  ReferencedFrameOfReferenceSequence holds RTReferencedStudy -> RTReferencedSeries with
  every slice of the drawing image.

:func:`write_structure_set` writes any set of contours (hand-made or analytic) the same
way. The dataset is written with pydicom: highdicom has no RTSTRUCT writer, and rt-utils
(last release 2023-01) needs OpenCV and traces pixel centres rather than pixel edges.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import format_number_as_ds

from nethelpers import __version__
from nethelpers.demo.dicomwrite import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from nethelpers.demo.variants.outlines import mask_outlines
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.refseries import (
    ReferenceSeries,
    geometry_mismatch,
    select_series,
    series_geometry,
)
from nethelpers.dicom.rtstruct import RTSTRUCT_STORAGE
from nethelpers.dicom.seg import _LESION_RGB, _ROI_RGB, _label_array, _lo, _write_atomic
from nethelpers.rois import validate_table

__all__ = ["REGION_NAMES", "Structure", "write_rtstruct", "write_structure_set"]

PathLike = str | os.PathLike[str]

#: ROIName of each reference region.
REGION_NAMES = {"liver": "Liver", "spleen": "Spleen", "blood_pool": "Blood pool",
                "muscle": "Muscle"}
#: Contours within this distance (mm) of an image slice reference that slice.
ON_SLICE_MM = 0.01
_STUDY_COMPONENT = "1.2.840.10008.3.1.2.3.1"     # Detached Study Management SOP Class
_SEMIAUTOMATIC = frozenset({"sphere", "threshold", "click-grow"})


@dataclass(frozen=True)
class Structure:
    """One structure to write: its identity and its contours.

    Attributes
    ----------
    number : int
        ROINumber.
    name : str
        ROIName.
    contours : tuple of numpy.ndarray
        ``(n, 3)`` closed planar contours in patient mm (LPS).
    interpreted_type : str
        RTROIInterpretedType (``GTV``, ``ORGAN``, ``EXTERNAL``, ...).
    interpreter : str
        ROIInterpreter (DICOM PN).
    colour : tuple of int
        ROIDisplayColor (sRGB).
    algorithm : str
        ROIGenerationAlgorithm (``MANUAL``, ``SEMIAUTOMATIC``, ``AUTOMATIC``).
    """

    number: int
    name: str
    contours: tuple[np.ndarray, ...]
    interpreted_type: str = "GTV"
    interpreter: str = ""
    colour: tuple[int, int, int] = (255, 215, 0)
    algorithm: str = "MANUAL"


def _image_ref(ds: Dataset) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = ds.SOPClassUID
    ref.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    return ref


def _slice_of(points: np.ndarray, image: ReferenceSeries) -> int | None:
    """The slice of ``image`` a contour lies on, or None."""
    normal = np.asarray(image.direction, dtype=float).reshape(3, 3)[:, 2]
    along = float(np.mean((points - np.asarray(image.origin)) @ normal))
    k = round(along / image.spacing[2])
    if abs(along - k * image.spacing[2]) <= ON_SLICE_MM and 0 <= k < image.size[2]:
        return int(k)
    return None


def _frame_of_reference(image: ReferenceSeries) -> Dataset:
    first = image.datasets[0]
    series = Dataset()
    series.SeriesInstanceUID = image.series_uid
    series.ContourImageSequence = DicomSequence([_image_ref(ds) for ds in image.datasets])
    study = Dataset()
    study.ReferencedSOPClassUID = _STUDY_COMPONENT
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = DicomSequence([series])
    frame = Dataset()
    frame.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame.RTReferencedStudySequence = DicomSequence([study])
    return frame


def _contour_item(points: np.ndarray, number: int, image: ReferenceSeries) -> Dataset:
    item = Dataset()
    k = _slice_of(points, image)
    if k is not None:
        item.ContourImageSequence = DicomSequence([_image_ref(image.datasets[k])])
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.NumberOfContourPoints = len(points)
    item.ContourNumber = number
    item.ContourData = [format_number_as_ds(float(v)) for v in np.asarray(points).ravel()]
    return item


def _base(image: ReferenceSeries, when: datetime, label: str, operator: str,
          series_number: int) -> Dataset:
    src = image.datasets[0]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = RTSTRUCT_STORAGE
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = RTSTRUCT_STORAGE
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.InstanceCreationDate = ds.StructureSetDate = when.strftime("%Y%m%d")
    ds.InstanceCreationTime = ds.StructureSetTime = when.strftime("%H%M%S")
    for keyword in ("PatientName", "PatientID", "PatientBirthDate", "PatientSex",
                    "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName",
                    "StudyID", "AccessionNumber", "StudyDescription"):
        setattr(ds, keyword, src.get(keyword, ""))
    ds.Modality = "RTSTRUCT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = _lo(f"{label} on {src.get('Modality', 'image')}")
    ds.OperatorsName = operator
    ds.Manufacturer = "nethelpers"
    ds.ManufacturerModelName = "demo workstation"
    ds.SoftwareVersions = __version__
    ds.StructureSetLabel = _lo(label)[:16]
    ds.StructureSetName = _lo(label)
    return ds


def write_structure_set(
    structures: Sequence[Structure],
    image_series: PathLike | Sequence[PathLike],
    out_path: PathLike,
    *,
    label: str = "ROIS",
    operator: str = "",
    created: datetime | None = None,
    series_number: int = 901,
) -> Path:
    """Write contours as an RT Structure Set that references the image they were drawn on.

    Parameters
    ----------
    structures : sequence of Structure
        The structures, in the order to write them.
    image_series : path-like or sequence of path-like
        The image series (folder or files) the contours were drawn on: patient, study,
        frame of reference and the referenced slices come from it. A contour that lies
        on none of its slices (within :data:`ON_SLICE_MM`) gets no ContourImageSequence
        (it is optional, type 3).
    out_path : path-like
        The file to write; an existing folder means ``<out_path>/RS_<SOPInstanceUID>.dcm``.
    label : str
        StructureSetLabel / StructureSetName.
    operator : str
        OperatorsName (DICOM PN).
    created : datetime.datetime, optional
        StructureSetDate/Time; default now.
    series_number : int
        SeriesNumber of the RTSTRUCT series.

    Returns
    -------
    pathlib.Path
        The file written.
    """
    return _write_set(structures, series_geometry(select_series(image_series, None)),
                      Path(out_path), label, operator, created, series_number)


def _write_set(structures: Sequence[Structure], image: ReferenceSeries, out: Path, label: str,
               operator: str, created: datetime | None, series_number: int) -> Path:
    ds = _base(image, created or datetime.now(), label, operator, series_number)
    frame = _frame_of_reference(image)
    ds.ReferencedFrameOfReferenceSequence = DicomSequence([frame])
    rois, contours, observations = [], [], []
    for n, s in enumerate(structures, start=1):
        roi = Dataset()
        roi.ROINumber = int(s.number)
        roi.ReferencedFrameOfReferenceUID = frame.FrameOfReferenceUID
        roi.ROIName = _lo(s.name)
        roi.ROIGenerationAlgorithm = s.algorithm
        rois.append(roi)
        item = Dataset()
        item.ROIDisplayColor = [int(c) for c in s.colour]
        item.ContourSequence = DicomSequence(
            [_contour_item(np.asarray(c, float), i, image)
             for i, c in enumerate(s.contours, start=1)])
        item.ReferencedROINumber = int(s.number)
        contours.append(item)
        obs = Dataset()
        obs.ObservationNumber = n
        obs.ReferencedROINumber = int(s.number)
        obs.RTROIInterpretedType = s.interpreted_type
        obs.ROIInterpreter = s.interpreter
        observations.append(obs)
    ds.StructureSetROISequence = DicomSequence(rois)
    ds.ROIContourSequence = DicomSequence(contours)
    ds.RTROIObservationsSequence = DicomSequence(observations)
    if out.is_dir():
        out = out / f"RS_{ds.SOPInstanceUID}.dcm"
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(ds, out)
    return out


def _sub_grid(mask: sitk.Image, image: ReferenceSeries) -> sitk.Image:
    """An empty image on the part of ``image``'s grid that covers the mask's bounding box."""
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(mask))
    corners = np.array([mask.TransformContinuousIndexToPhysicalPoint((float(a), float(b),
                                                                      float(c)))
                        for a in (i.min() - 0.5, i.max() + 0.5)
                        for b in (j.min() - 0.5, j.max() + 0.5)
                        for c in (k.min() - 0.5, k.max() + 0.5)])
    matrix = np.asarray(image.direction, dtype=float).reshape(3, 3)
    spacing = np.asarray(image.spacing, dtype=float)
    index = ((corners - np.asarray(image.origin)) @ matrix) / spacing
    top = np.array(image.size) - 1
    lo = np.clip(np.floor(index.min(axis=0)).astype(int), 0, top)
    hi = np.clip(np.ceil(index.max(axis=0)).astype(int), 0, top)
    sub = sitk.Image(*(hi - lo + 1).tolist(), sitk.sitkUInt8)
    sub.SetSpacing(image.spacing)
    sub.SetDirection(image.direction)
    sub.SetOrigin(tuple(np.asarray(image.origin) + matrix @ (lo * spacing)))
    return sub


def _traced(mask: sitk.Image, every_other_slice: bool) -> list[np.ndarray]:
    """Contours (patient mm) of a binary mask on its own grid, slice by slice."""
    arr = sitk.GetArrayViewFromImage(mask).astype(bool)
    slices = np.flatnonzero(arr.any(axis=(1, 2)))
    if every_other_slice and len(slices) > 2:
        slices = np.unique(np.r_[slices[::2], slices[-1]])
    origin = np.asarray(mask.GetOrigin())
    spacing = np.asarray(mask.GetSpacing())
    matrix = np.asarray(mask.GetDirection()).reshape(3, 3)
    out = []
    for k in slices.tolist():
        for loop in mask_outlines(arr[k]):
            index = np.c_[loop, np.full(len(loop), float(k))]
            out.append(origin + (index * spacing) @ matrix.T)
    return out


def _mask_on(labels: sitk.Image, value: int, image: ReferenceSeries | None) -> sitk.Image:
    mask = sitk.Cast(labels == value, sitk.sitkUInt8)
    if image is None:
        return mask
    return sitk.Resample(mask, _sub_grid(mask, image), sitk.Transform(),
                         sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def write_rtstruct(
    labels: sitk.Image,
    table: pd.DataFrame,
    reference_series_dir: PathLike | Sequence[PathLike],
    out_path: PathLike,
    *,
    on: str = "pet",
    ct_series_dir: PathLike | Sequence[PathLike] | None = None,
    every_other_slice: bool = False,
    label: str = "ROIS",
    operator: str | None = None,
    created: datetime | None = None,
    series_number: int = 901,
) -> Path:
    """Export a ROI set as an RT Structure Set, drawn on the PET or on the CT.

    Parameters
    ----------
    labels : SimpleITK.Image
        The label map on the PET grid.
    table : pandas.DataFrame
        Its ROI table (:func:`nethelpers.rois.validate_table`).
    reference_series_dir : path-like or sequence of path-like
        The PET series the labels are on (their grid is checked against it).
    out_path : path-like
        The file to write (or an existing folder, see :func:`write_structure_set`).
    on : {"pet", "ct"}
        The image the contours are drawn on.
    ct_series_dir : path-like or sequence of path-like, optional
        The CT series of the same frame of reference; required for ``on="ct"``.
    every_other_slice : bool
        Keep only every other contoured slice of each structure (and its last).
    label : str
        StructureSetLabel.
    operator : str, optional
        OperatorsName; default the table's readers.
    created : datetime.datetime, optional
        StructureSetDate/Time; default now.
    series_number : int
        SeriesNumber of the RTSTRUCT.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DicomInputError
        The labels are not on the PET grid, or the CT is in another frame of reference.
    ValueError
        ``on`` is not ``"pet"``/``"ct"`` or the CT series is missing.
    """
    if on not in ("pet", "ct"):
        raise ValueError(f"on={on!r}: use 'pet' or 'ct'")
    array = _label_array(labels)
    table = validate_table(table, array, source="ROI table")
    pet = series_geometry(select_series(reference_series_dir, None))
    problems = geometry_mismatch(labels, pet)
    if problems:
        raise DicomInputError("the label map is not on the PET series' grid: "
                              + "; ".join(problems), file=pet.folder,
                              fix="pass the PET series the labels were drawn on")
    image = pet
    if on == "ct":
        if ct_series_dir is None:
            raise ValueError("on='ct' needs ct_series_dir")
        image = series_geometry(select_series(ct_series_dir, None))
        pet_frame = pet.datasets[0].get("FrameOfReferenceUID")
        ct_frame = image.datasets[0].get("FrameOfReferenceUID")
        if pet_frame != ct_frame:
            raise DicomInputError(f"the CT is in frame of reference {ct_frame}, the PET in "
                                  f"{pet_frame}", file=image.folder,
                                  tag="FrameOfReferenceUID (0020,0052)",
                                  fix="pass the CT of the same PET/CT")
    present = set(np.unique(array).tolist())
    structures = []
    lesion_rank = 0
    for row in table.itertuples(index=False):
        if int(row.label) not in present:
            continue
        mask = _mask_on(labels, int(row.label), image if on == "ct" else None)
        lesion = row.roi == "lesion"
        colour = _LESION_RGB[lesion_rank % len(_LESION_RGB)] if lesion else _ROI_RGB[row.roi]
        lesion_rank += lesion
        structures.append(Structure(
            number=int(row.label),
            name=row.lesion_id if lesion else REGION_NAMES[row.roi],
            contours=tuple(_traced(mask, every_other_slice)),
            interpreted_type="GTV" if lesion else "ORGAN",
            interpreter=str(row.reader),
            colour=colour,
            algorithm="SEMIAUTOMATIC" if row.method in _SEMIAUTOMATIC else "MANUAL",
        ))
    if operator is None:
        operator = "\\".join(dict.fromkeys(str(r) for r in table["reader"])) or ""
    return _write_set(structures, image, Path(out_path), label, operator, created,
                      series_number)
