"""DICOM SEG export and import of a scan's ROI set, referencing the source PET series.

A ROI set (see :mod:`nethelpers.rois`) is a ``uint16`` label map in the geometry of the PET
series it was drawn on plus a table with one row per label. :func:`export_seg` writes it as
one DICOM Segmentation Storage instance (SOP class 1.2.840.10008.5.1.4.1.1.66.4, BINARY
segmentation type, the form 3D Slicer and OHIF read best) made with highdicom from the PET
slices themselves, so every frame references the PET instance it was drawn on and the SEG
opens on top of the PET series. :func:`import_seg` reads it back (or a SEG made by another
tool) into a label map on the PET grid and a table that passes
:func:`nethelpers.rois.validate_table`.

How the ROI set is encoded
--------------------------
- One segment per table row (with voxels, see below), numbered 1..n in label order; the
  label map is passed to highdicom as segment numbers. Segment label: the lesion_id
  of a lesion, the ROI name (``liver``, ``spleen``, ...) of a reference region.
- Segmented property category / type (SNOMED CT, from CID 7150 / 7151):

  ============  ===========================================  ==============================
  roi           category                                     type
  ============  ===========================================  ==============================
  lesion        49755003 Morphologically Abnormal Structure  108369006 Neoplasm
  liver         91723000 Anatomical Structure                10200004 Liver
  spleen        91723000 Anatomical Structure                78961009 Spleen
  blood_pool    91720002 Body Substance                      87612001 Blood
  muscle        91723000 Anatomical Structure                127954009 Skeletal muscle
  ============  ===========================================  ==============================

- Algorithm type: MANUAL for ``manual`` and ``imported``; SEMIAUTOMATIC for ``sphere``,
  ``threshold`` and ``click-grow``, with a Segmentation Algorithm Identification naming
  ``nethelpers <method>`` and its version.
- TrackingID is the lesion_id (lesions) or the ROI name; the TrackingUID is derived from
  PatientID + lesion_id for lesions (the same lesion keeps its UID across scans and
  exports) and from the PET SeriesInstanceUID + ROI name for reference regions.
- Every row is kept verbatim as JSON in the segment's SegmentDescription (0062,0006), e.g.
  ``{"nethelpers_roi": 1, "label": 7, "roi": "lesion", "lesion_id": "P001-L03", ...}``:
  Slicer shows it as the segment's description and names the segment by its label. On
  import it restores label, roi, lesion_id, method, reader and created exactly.
- Each segment has a RecommendedDisplayCIELabValue (fixed colours for the reference
  regions, a cycling palette for lesions): some OHIF versions hang on SEGs without it
  (OHIF issue #3939).
- ContentCreatorName is the reader (or the readers, joined by ``", "``) of the table.
- A table row whose label has no voxels is left out with a warning (default): segments
  without any frame are legal DICOM, and highdicom writes them, but OHIF 3.x releases up
  to 3.8 hang while loading them (OHIF issue #3991) - and the ROI store stays the record
  of the full table. ``keep_empty=True`` keeps them as frameless segments, so the table
  round-trips exactly. A label in the map without a row is an error
  (:func:`nethelpers.rois.validate_table`).

SEGs from other tools
---------------------
Segments without our JSON get label = segment number (or the next free value when that is
taken), ``roi`` inferred from the property type code (liver, spleen, blood/aorta, muscle;
anything else is a lesion whose lesion_id is the segment label), method ``imported`` and
reader = ContentCreatorName (or ``unknown``). Overlapping segments are flattened with the
later segment winning, and a warning says how many voxels changed hands. BINARY,
FRACTIONAL (occupancy/probability >= 0.5) and LABELMAP SEGs are read.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from nethelpers import __version__
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.refseries import (
    GRID_TOLERANCE_MM,
    Grid,
    ReferenceSeries,
    geometry_mismatch,
    select_series,
    series_geometry,
)
from nethelpers.dicom.refseries import format_vector as _fmt
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.files import atomic_write
from nethelpers.rois import METHODS, ROI_KINDS, TABLE_COLUMNS, validate_table

__all__ = [
    "LABELMAP_SEGMENTATION_STORAGE",
    "SEGMENTATION_STORAGE",
    "export_seg",
    "import_seg",
    "segment_codes",
    "segment_row",
]

PathLike = str | os.PathLike[str]

#: SOP Class UID of (binary/fractional) Segmentation Storage.
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
LABELMAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"

#: Key (and format version) of the JSON kept in each segment's SegmentDescription.
_JSON_KEY = "nethelpers_roi"
_JSON_FORMAT = 1
_ST_MAX = 1024            # SegmentDescription is ST
_LO_MAX = 64              # SegmentLabel is LO

#: Frames without a usable source-image reference are placed by position when they lie
#: within this fraction of a voxel (per axis) of a grid plane: float32 positions written by
#: Slicer/dcmqi are 0.01-0.05 mm off, a real mismatch is half a voxel or more.
SEG_POSITION_TOLERANCE = 0.25

_CATEGORY = {
    "lesion": codes.SCT.MorphologicallyAbnormalStructure,   # 49755003
    "liver": codes.SCT.AnatomicalStructure,                 # 91723000
    "spleen": codes.SCT.AnatomicalStructure,
    "blood_pool": codes.SCT.BodySubstance,                  # 91720002
    "muscle": codes.SCT.AnatomicalStructure,
}
_TYPE = {
    "lesion": codes.SCT.Neoplasm,                           # 108369006
    "liver": codes.SCT.Liver,                               # 10200004
    "spleen": codes.SCT.Spleen,                             # 78961009
    "blood_pool": codes.SCT.Blood,                          # 87612001
    "muscle": codes.SCT.SkeletalMuscle,                     # 127954009
}
#: Property types of other tools' segments that name a reference region.
_FOREIGN_TYPES: dict[str, tuple[Code, ...]] = {
    "liver": (codes.SCT.Liver,),
    "spleen": (codes.SCT.Spleen,),
    "blood_pool": (codes.SCT.Blood, codes.SCT.Aorta, codes.SCT.DescendingAorta,
                   codes.SCT.ThoracicAorta, codes.SCT.AscendingAorta, codes.SCT.AorticArch,
                   codes.SCT.AbdominalAorta),
    "muscle": (codes.SCT.SkeletalMuscle, codes.SCT.MuscleTissue, codes.SCT.Muscle),
}
#: Algorithm family (CID 7162) of each semi-automatic method.
_FAMILY = {
    "sphere": codes.DCM.ManualProcessing,          # a reader places and sizes the sphere
    "threshold": codes.DCM.HistogramAnalysis,
    "click-grow": codes.DCM.NeighborhoodAnalysis,  # region growing from a seed
}
_SEMIAUTOMATIC = frozenset(_FAMILY)
#: Display colours (sRGB) of the reference regions; lesions cycle through _LESION_RGB.
_ROI_RGB = {
    "liver": (221, 130, 101),
    "spleen": (157, 108, 162),
    "blood_pool": (206, 40, 40),
    "muscle": (192, 104, 88),
}
_LESION_RGB = ((255, 215, 0), (0, 190, 255), (60, 220, 60), (255, 105, 180),
               (255, 140, 0), (0, 230, 200), (170, 90, 255), (240, 240, 240))
_BACKGROUND = Code("125040", "DCM", "Background")


def segment_codes(roi: str) -> tuple[Code, Code]:
    """The segmented property category and type codes used for a ROI kind.

    Parameters
    ----------
    roi : str
        One of :data:`nethelpers.rois.ROI_KINDS`.

    Returns
    -------
    category, type : pydicom.sr.coding.Code
        SNOMED CT codes (see the module docstring for the table).
    """
    if roi not in _TYPE:
        raise ValueError(f"roi {roi!r}: use one of {', '.join(ROI_KINDS)}")
    return _CATEGORY[roi], _TYPE[roi]


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def _label_array(labels: sitk.Image) -> np.ndarray:
    if not isinstance(labels, sitk.Image):
        raise TypeError("labels must be a SimpleITK image (the ROI label map)")
    if labels.GetDimension() != 3 or labels.GetNumberOfComponentsPerPixel() != 1:
        raise DicomInputError(f"the label map must be a scalar 3-D image; got "
                              f"{labels.GetDimension()}-D with "
                              f"{labels.GetNumberOfComponentsPerPixel()} component(s)")
    arr = sitk.GetArrayFromImage(labels)
    if arr.dtype != np.uint16:
        if arr.size and (arr.min() < 0 or arr.max() > np.iinfo(np.uint16).max
                         or not np.array_equal(arr, np.round(arr))):
            raise DicomInputError("label values must be whole numbers 0..65535",
                                  fix="pass the uint16 label map of the ROI set")
        arr = arr.astype(np.uint16)
    return arr


def _person_name(text: str) -> str:
    """A PN value highdicom accepts: no separators inside, a caret marks family name only."""
    text = " ".join(text.replace("\\", " ").replace("=", " ").split())
    if "^" not in text:
        text = text[: _LO_MAX - 1] + "^"
    return text[:_LO_MAX]


def _lo(text: str) -> str:
    return " ".join(str(text).replace("\\", "/").split())[:_LO_MAX]


def _tracking_uid(row: pd.Series, pet: ReferenceSeries) -> str:
    if row["roi"] == "lesion":
        seed = ["nethelpers-lesion", str(pet.datasets[0].get("PatientID", "")),
                row["lesion_id"]]
    else:
        seed = ["nethelpers-reference", pet.series_uid, row["roi"]]
    return str(generate_uid(entropy_srcs=seed))


def _segment_json(row: pd.Series) -> str:
    payload: dict[str, Any] = {_JSON_KEY: _JSON_FORMAT, "label": int(row["label"])}
    payload.update({c: str(row[c]) for c in TABLE_COLUMNS[1:]})
    text = json.dumps(payload, separators=(",", ":"))
    if len(text) > _ST_MAX:
        raise DicomInputError(f"label {int(row['label'])}: its table row takes {len(text)} "
                              f"characters, more than the {_ST_MAX} a SegmentDescription "
                              "holds", fix="shorten the reader or created text")
    return text


def _segment_description(number: int, row: pd.Series, pet: ReferenceSeries, rgb: tuple[int, ...]
                         ) -> hd.seg.SegmentDescription:
    roi, method = row["roi"], row["method"]
    category, kind = segment_codes(roi)
    name = row["lesion_id"] if roi == "lesion" else roi
    algorithm = None
    algorithm_type = hd.seg.SegmentAlgorithmTypeValues.MANUAL
    if method in _SEMIAUTOMATIC:
        algorithm_type = hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC
        algorithm = hd.AlgorithmIdentificationSequence(
            name=f"nethelpers {method}", family=_FAMILY[method], version=__version__,
            source="nethelpers", parameters={"method": method})
    desc = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=_lo(name),
        segmented_property_category=category,
        segmented_property_type=kind,
        algorithm_type=algorithm_type,
        algorithm_identification=algorithm,
        tracking_id=_lo(name),
        tracking_uid=_tracking_uid(row, pet),
        display_color=hd.color.CIELabColor.from_rgb(*rgb),
    )
    desc.SegmentDescription = _segment_json(row)
    return desc


def _write_atomic(dataset: pydicom.Dataset, out: Path) -> None:
    """Write the SEG so that no reader ever sees half a file (:func:`files.atomic_write`)."""
    with atomic_write(out) as fh:
        dataset.save_as(fh, enforce_file_format=True)


def export_seg(
    labels: sitk.Image,
    table: pd.DataFrame,
    source: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    series_description: str = "nethelpers ROIs",
    series_number: int = 900,
    content_creator: str | None = None,
    series_uid: str | None = None,
    keep_empty: bool = False,
) -> Path:
    """Write a ROI set as a DICOM SEG that references the PET series it was drawn on.

    Parameters
    ----------
    labels : SimpleITK.Image
        The label map (0 = background), in the geometry of the PET series.
    table : pandas.DataFrame
        One row per label, columns :data:`nethelpers.rois.TABLE_COLUMNS`; checked (and
        normalised) by :func:`nethelpers.rois.validate_table`.
    source : path-like or sequence of path-like
        The PET series folder or its files. The slices are read header-only.
    out : path-like
        The SEG file to write (its folder is created). An existing folder means
        ``<out>/SEG_<SOPInstanceUID>.dcm``. Nothing is written anywhere else; writing into
        the PET folder happens only if ``out`` points there.
    series_description : str
        SeriesDescription of the SEG.
    series_number : int
        SeriesNumber of the SEG.
    content_creator : str, optional
        ContentCreatorName (DICOM PN, e.g. ``"Doe^Jane"``); default the table's reader(s).
    series_uid : str, optional
        SeriesInstanceUID of the PET series, when ``source`` holds several series.
    keep_empty : bool
        Keep table rows whose label has no voxels as segments without frames (the table
        then round-trips exactly). Default False: they are left out, with a warning,
        because some viewers (OHIF up to 3.8) hang on frameless segments.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DicomInputError
        The source is not one readable PET series, the label map's grid (size, spacing,
        origin, direction) differs from the PET series' grid, or no label has voxels
        (without ``keep_empty``).
    nethelpers.rois.RoiStoreError
        The table is invalid or a label in the map has no row.

    Warns
    -----
    UserWarning
        For every table row whose label has no voxels (left out, or with ``keep_empty``
        written as a segment without frames).

    Notes
    -----
    Frames are matched to the PET instances by their position along the slice normal
    (``ImagePositionPatient · normal``), not by file name or InstanceNumber. Empty frames
    are omitted. The file is written to a temporary name in the target folder and renamed
    into place, so a reader never sees half a file.
    """
    array = _label_array(labels)
    table = validate_table(table, array, source="ROI table")
    pet = series_geometry(select_series(source, series_uid))
    problems = geometry_mismatch(labels, pet)
    if problems:
        raise DicomInputError(
            "the label map is not on the PET series' grid: " + "; ".join(problems)
            + " (label map vs PET)", file=pet.folder,
            fix="resample the labels onto the PET grid (nethelpers.dicom.resample_like("
            "labels, pet_image, interpolation='nearest')) or pass the PET series the "
            "labels were drawn on")

    if len(table) == 0:
        raise DicomInputError("the ROI set is empty: a SEG needs at least one segment",
                              fix="draw a ROI first")
    present = set(np.unique(array).tolist())
    empty = [int(v) for v in table["label"] if int(v) not in present]
    for _, row in table[table["label"].isin(empty)].iterrows():
        what = row["lesion_id"] or row["roi"]
        warnings.warn(f"label {int(row['label'])} ({what}) has no voxels: "
                      + ("exported as a segment without frames" if keep_empty
                         else "left out of the SEG (keep_empty=True keeps it)"),
                      UserWarning, stacklevel=2)
    exported = table if keep_empty else table[~table["label"].isin(empty)]
    if len(exported) == 0:
        raise DicomInputError("no label has voxels: the SEG would hold no segment",
                              fix="draw the ROIs first, or pass keep_empty=True")
    numbers = np.arange(1, len(exported) + 1)
    lut = np.zeros(int(table["label"].max()) + 1, dtype=np.uint16)
    lut[exported["label"].to_numpy()] = numbers
    segments = lut[array]
    lesion_rank = (exported["roi"] == "lesion").cumsum() - 1
    colours = [_ROI_RGB[row["roi"]] if row["roi"] != "lesion"
               else _LESION_RGB[int(rank) % len(_LESION_RGB)]
               for (_, row), rank in zip(exported.iterrows(), lesion_rank, strict=True)]
    descriptions = [_segment_description(int(n), row, pet, rgb)
                    for n, (_, row), rgb in zip(numbers, exported.iterrows(), colours,
                                                strict=True)]

    if content_creator is None:
        readers = list(dict.fromkeys(exported["reader"].tolist()))
        content_creator = ", ".join(readers) if readers else "unknown"
    creator = _person_name(content_creator)
    texts = [creator, series_description, *exported["lesion_id"], *exported["reader"]]
    extra: dict[str, Any] = {}
    if not all(t.isascii() for t in texts):
        extra["specific_character_set"] = "ISO_IR 192"

    seg = hd.seg.Segmentation(
        source_images=list(pet.datasets),
        pixel_array=segments.astype(np.uint8) if len(exported) < 256 else segments,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=int(series_number),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="nethelpers",
        manufacturer_model_name="nethelpers",
        software_versions=__version__,
        device_serial_number="none",
        content_label="ROIS",
        content_description=_lo(f"ROIs of {pet.datasets[0].get('SeriesDescription', 'PET')}"),
        content_creator_name=creator,
        omit_empty_frames=True,
        series_description=_lo(series_description),
        **extra,
    )

    out = Path(out)
    if out.is_dir():
        out = out / f"SEG_{seg.SOPInstanceUID}.dcm"
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(seg, out)
    return out


# ---------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------


def _functional(seg: pydicom.Dataset, index: int, sequence: str) -> pydicom.Dataset | None:
    """Item of a functional group macro for frame ``index`` (per-frame, else shared)."""
    per_frame = seg.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and index < len(per_frame) and sequence in per_frame[index]:
        return per_frame[index][sequence][0]
    shared = seg.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence][0]
    return None


def _referenced_series(seg: pydicom.Dataset) -> set[str]:
    uids = {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])
            if "SeriesInstanceUID" in item}
    for study in seg.get("StudiesContainingOtherReferencedInstancesSequence", []):
        uids |= {str(item.SeriesInstanceUID)
                 for item in study.get("ReferencedSeriesSequence", [])
                 if "SeriesInstanceUID" in item}
    return uids


def _referenced_instances(seg: pydicom.Dataset) -> set[str]:
    uids: set[str] = set()
    for series in seg.get("ReferencedSeriesSequence", []):
        uids |= {str(i.ReferencedSOPInstanceUID)
                 for i in series.get("ReferencedInstanceSequence", [])}
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in frame.get("DerivationImageSequence", []):
            uids |= {str(s.ReferencedSOPInstanceUID)
                     for s in derivation.get("SourceImageSequence", [])}
    return uids


def _frame_source(seg: pydicom.Dataset, index: int) -> str | None:
    """The SOPInstanceUID of the image frame ``index`` was derived from, if it says so."""
    per_frame = seg.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or index >= len(per_frame):
        return None
    uids = {str(source.ReferencedSOPInstanceUID)
            for derivation in per_frame[index].get("DerivationImageSequence", [])
            for source in derivation.get("SourceImageSequence", [])
            if "ReferencedSOPInstanceUID" in source}
    return uids.pop() if len(uids) == 1 else None


def _frame_slices(seg: pydicom.Dataset, grid: Grid, path: Path,
                  sop_index: dict[str, int] | None = None,
                  tolerance: float = SEG_POSITION_TOLERANCE) -> tuple[list[int], int]:
    """The reference slice k of each SEG frame, and how many frames were placed by UID.

    A frame that names its source image (DerivationImageSequence > SourceImageSequence >
    ReferencedSOPInstanceUID) of the reference series goes on that image's slice; its plane
    position must then lie within half a voxel of the slice (else the SEG contradicts
    itself). Other frames are placed by position, within ``tolerance`` of a voxel per axis.
    """
    nx, ny, nz = grid.size
    if int(seg.Rows) != ny or int(seg.Columns) != nx:
        raise DicomInputError(f"SEG frames are {seg.Columns}x{seg.Rows} pixels, the reference "
                              f"grid {nx}x{ny}", file=path, tag="Rows/Columns (0028,0010/11)",
                              fix="pass the PET series the SEG was drawn on")
    matrix = np.asarray(grid.direction, dtype=float).reshape(3, 3)
    spacing = np.asarray(grid.spacing, dtype=float)
    origin = np.asarray(grid.origin, dtype=float)
    tol = np.maximum(GRID_TOLERANCE_MM, tolerance * spacing)
    n_frames = int(seg.get("NumberOfFrames", 1) or 1)
    slices = []
    by_uid = 0
    for i in range(n_frames):
        orient = _functional(seg, i, "PlaneOrientationSequence")
        measures = _functional(seg, i, "PixelMeasuresSequence")
        position = _functional(seg, i, "PlanePositionSequence")
        if orient is None or position is None:
            raise DicomInputError(f"frame {i + 1} has no plane position/orientation",
                                  file=path, tag="PlanePositionSequence (0020,9113)")
        iop = np.array([float(v) for v in orient.ImageOrientationPatient])
        if (np.max(np.abs(iop[:3] - matrix[:, 0])) > 1e-4
                or np.max(np.abs(iop[3:] - matrix[:, 1])) > 1e-4):
            raise DicomInputError(f"frame {i + 1} orientation {_fmt(iop)} differs from the "
                                  f"reference grid's {_fmt([*matrix[:, 0], *matrix[:, 1]])}",
                                  file=path, tag="ImageOrientationPatient (0020,0037)",
                                  fix="pass the PET series the SEG was drawn on")
        if measures is not None and "PixelSpacing" in measures:
            ps = [float(v) for v in measures.PixelSpacing]
            if abs(ps[0] - spacing[1]) > tol[1] or abs(ps[1] - spacing[0]) > tol[0]:
                raise DicomInputError(f"frame {i + 1} pixel spacing {_fmt(ps)} differs from "
                                      f"the reference grid's {_fmt(spacing[1::-1])}",
                                      file=path, tag="PixelSpacing (0028,0030)",
                                      fix="pass the PET series the SEG was drawn on")
        ipp = np.array([float(v) for v in position.ImagePositionPatient])
        index = (matrix.T @ (ipp - origin)) / spacing
        source = _frame_source(seg, i) if sop_index else None
        if source is not None and source in sop_index:  # type: ignore[operator]
            k = sop_index[source]  # type: ignore[index]
            offset_mm = np.abs(index - [0.0, 0.0, k]) * spacing
            if np.any(offset_mm > 0.5 * spacing):
                raise DicomInputError(
                    f"frame {i + 1} names source image {source} (slice {k + 1}) but lies at "
                    f"{_fmt(ipp)} mm, {_fmt(offset_mm)} mm away from it", file=path,
                    tag="ImagePositionPatient (0020,0032)",
                    fix="the SEG contradicts itself: re-export it from the segmentation tool")
            by_uid += 1
            slices.append(k)
            continue
        k = int(round(index[2]))
        offset_mm = np.abs(index - [0.0, 0.0, k]) * spacing
        if np.any(offset_mm > tol) or not 0 <= k < nz:
            raise DicomInputError(f"frame {i + 1} at {_fmt(ipp)} mm is not a slice of the "
                                  f"reference grid (index {_fmt(index)}; {_fmt(offset_mm)} "
                                  f"mm off, tolerance {_fmt(tol)} mm)", file=path,
                                  tag="ImagePositionPatient (0020,0032)",
                                  fix="pass the PET series the SEG was drawn on")
        slices.append(k)
    return slices, by_uid


def _frame_segments(seg: pydicom.Dataset, n_frames: int, path: Path) -> list[int]:
    out = []
    for i in range(n_frames):
        ident = _functional(seg, i, "SegmentIdentificationSequence")
        if ident is None or "ReferencedSegmentNumber" not in ident:
            raise DicomInputError(f"frame {i + 1} names no segment", file=path,
                                  tag="ReferencedSegmentNumber (0062,000B)")
        out.append(int(ident.ReferencedSegmentNumber))
    return out


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
    if _JSON_KEY not in text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get(_JSON_KEY) != _JSON_FORMAT:
        return None
    if not all(c in data for c in TABLE_COLUMNS):
        return None
    return {c: data[c] for c in TABLE_COLUMNS}


def _code_of(item: pydicom.Dataset, sequence: str) -> Code | None:
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
    kind = _code_of(item, "SegmentedPropertyTypeCodeSequence")
    if kind is not None:
        for roi, known in _FOREIGN_TYPES.items():
            if any(kind == k for k in known):      # pydicom maps SRT codes to SCT
                return roi
    return "lesion"


def _creator(seg: pydicom.Dataset) -> str:
    name = seg.get("ContentCreatorName")
    text = " ".join(str(name or "").replace("^", " ").split())
    return text or "unknown"


def _content_datetime(seg: pydicom.Dataset) -> str:
    date = str(seg.get("ContentDate", "") or "")
    time = str(seg.get("ContentTime", "") or "").split(".")[0]
    if len(date) != 8 or not date.isdigit():
        return ""
    iso = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    if len(time) >= 4 and time.isdigit():
        iso += f"T{time[:2]}:{time[2:4]}:{time[4:6] or '00'}"
    return iso


def _segment_rows(seg: pydicom.Dataset) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """A table row per described segment (keyed by segment number), and the foreign ones."""
    rows: dict[int, dict[str, Any]] = {}
    foreign: list[int] = []
    for item in seg.get("SegmentSequence", []):
        number = int(item.SegmentNumber)
        kind = _code_of(item, "SegmentedPropertyTypeCodeSequence")
        if number == 0 or (kind is not None and kind == _BACKGROUND):
            continue                                   # a LABELMAP's background
        row = segment_row(item)
        if row is None:
            foreign.append(number)
            rows[number] = {"label": None, "roi": _foreign_roi(item),
                            "lesion_id": _lo(item.get("SegmentLabel", "") or ""),
                            "method": "imported", "reader": _creator(seg),
                            "created": _content_datetime(seg)}
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


def import_seg(
    path: PathLike,
    reference: sitk.Image | PathLike | Sequence[PathLike],
    *,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    position_tolerance: float = SEG_POSITION_TOLERANCE,
) -> tuple[sitk.Image, pd.DataFrame]:
    """Read a DICOM SEG into a label map on the PET grid and its ROI table.

    Parameters
    ----------
    path : path-like
        The SEG file.
    reference : SimpleITK.Image or path-like or sequence of path-like
        The grid to rebuild the label map on: an image on the PET grid, or the PET series
        folder or files. For a series, the SEG must reference it (ReferencedSeriesSequence
        or the frames' source instances); a folder with several series is narrowed to the
        series the SEG references.
    slice_tolerance : float
        Slice-placement tolerance of the reference series (see
        :mod:`nethelpers.dicom.slicegrid`).
    position_tolerance : float
        Frames that name a source image of the reference series go on that image's slice;
        other frames must lie within this fraction of a voxel (per axis) of a grid plane.

    Returns
    -------
    labels : SimpleITK.Image
        ``uint16`` label map on the reference grid.
    table : pandas.DataFrame
        One row per segment, normalised by :func:`nethelpers.rois.validate_table`. For a
        SEG written by :func:`export_seg` labels and rows are exactly those exported; for
        other SEGs see the module docstring.

    Raises
    ------
    DicomInputError
        The file is not a readable SEG, it references another series than the reference
        (both SeriesInstanceUIDs are named), or its frames do not lie on the reference grid.

    Warns
    -----
    UserWarning
        When segments overlap (the later segment wins) or a SEG carries no reference to
        check against.
    """
    path = Path(path)
    try:
        seg = hd.seg.segread(path)
    except (InvalidDicomError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise DicomInputError(f"not a readable DICOM Segmentation ({exc})", file=path,
                              fix="pass a DICOM SEG file") from None

    referenced = _referenced_series(seg)
    sop_index: dict[str, int] | None = None
    if isinstance(reference, sitk.Image):
        grid = Grid.of(reference)
    else:
        items = select_series(reference, None, prefer=referenced)
        series = series_geometry(items, slice_tolerance)
        sop_index = {uid: k for k, uid in enumerate(series.sop_uids)}
        instances = _referenced_instances(seg)
        if referenced:
            ok = series.series_uid in referenced
        else:
            ok = not instances or bool(instances & set(series.sop_uids))
            if not instances:
                warnings.warn(f"{path}: the SEG references no series; matched on geometry "
                              "only", UserWarning, stacklevel=2)
        if not ok:
            seg_uids = ", ".join(sorted(referenced)) or "(instances only)"
            raise DicomInputError(
                f"the SEG references series {seg_uids}, but the reference is series "
                f"{series.series_uid}", file=path,
                tag="ReferencedSeriesSequence (0008,1115)",
                fix="pass the PET series the SEG was drawn on")
        grid = Grid.of(series)

    nx, ny, nz = grid.size
    rows, foreign = _segment_rows(seg)
    if not rows:
        raise DicomInputError("the SEG describes no segments", file=path,
                              tag="SegmentSequence (0062,0002)")
    n_frames = int(seg.get("NumberOfFrames", 1) or 1)
    slices, _ = _frame_slices(seg, grid, path, sop_index, position_tolerance)
    seg_type = str(seg.get("SegmentationType", "BINARY")).upper()
    labelmap = seg_type == "LABELMAP" or str(seg.SOPClassUID) == LABELMAP_SEGMENTATION_STORAGE
    frame_segments = None if labelmap else _frame_segments(seg, n_frames, path)
    max_fraction = float(seg.get("MaximumFractionalValue", 1) or 1)

    out = np.zeros((nz, ny, nx), dtype=np.uint16)
    overlap = 0
    # Paint segments in ascending number so that, where they overlap, the later one wins.
    order = sorted(range(n_frames),
                   key=lambda i: (0 if frame_segments is None else frame_segments[i], i))
    for i in order:
        frame = np.asarray(seg.get_stored_frame(i, as_index=True))
        k = slices[i]
        if labelmap:
            values = np.unique(frame[frame != 0])
            for number in values.tolist():
                if number in rows:
                    mask = frame == number
                    overlap += int(np.count_nonzero(out[k][mask] != 0))
                    out[k][mask] = rows[number]["label"]
            continue
        number = frame_segments[i]  # type: ignore[index]
        if number not in rows:
            raise DicomInputError(f"frame {i + 1} refers to segment {number}, which the "
                                  "SegmentSequence does not describe", file=path,
                                  tag="ReferencedSegmentNumber (0062,000B)")
        mask = frame > 0 if seg_type != "FRACTIONAL" else frame >= 0.5 * max_fraction
        label = rows[number]["label"]
        overlap += int(np.count_nonzero((out[k] != 0) & (out[k] != label) & mask))
        out[k][mask] = label
    if overlap:
        warnings.warn(f"{path}: segments overlap in {overlap} voxel(s); the later segment "
                      "(higher segment number) was kept there", UserWarning, stacklevel=2)

    table = pd.DataFrame([rows[n] for n in sorted(rows)], columns=list(TABLE_COLUMNS))
    table = validate_table(table, out, source=f"{path} (segments)")
    return grid.image(out), table
