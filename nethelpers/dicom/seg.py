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
reader = the reader given to :func:`import_seg`, else ContentCreatorName (or ``unknown``).
Segments that share voxels are refused, naming each pair and what they share, unless an
explicit policy resolves them (``overlap="lesions-win"``: a lesion keeps every voxel, the
reference region it overlaps gives them up, in the provenance); the ROI store holds one
label per voxel, and no segment loses voxels silently (:mod:`nethelpers.dicom.segoverlap`).
Where frames go: :mod:`nethelpers.dicom.segframes`; the rows: :mod:`nethelpers.dicom.segrows`.
BINARY, FRACTIONAL (occupancy/probability >= 0.5) and LABELMAP SEGs are read.
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
    Grid,
    ReferenceSeries,
    geometry_mismatch,
    select_series,
    series_geometry,
)
from nethelpers.dicom.segframes import (
    SEG_POSITION_TOLERANCE,
    frame_segments,
    frame_slices,
    referenced_instances,
    referenced_series,
    slice_masks,
)
from nethelpers.dicom.segoverlap import DEFAULT_OVERLAP, compose_label_map
from nethelpers.dicom.segrows import (
    JSON_FORMAT,
    JSON_KEY,
    LO_MAX,
    layer_segments,
    reader_note,
    segment_row,
    segment_rows,
)
from nethelpers.dicom.segrows import lo as _lo
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.files import atomic_write
from nethelpers.rois import ROI_KINDS, TABLE_COLUMNS, validate_table

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

_ST_MAX = 1024            # SegmentDescription is ST

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
        text = text[: LO_MAX - 1] + "^"
    return text[:LO_MAX]


def _tracking_uid(row: pd.Series, pet: ReferenceSeries) -> str:
    if row["roi"] == "lesion":
        seed = ["nethelpers-lesion", str(pet.datasets[0].get("PatientID", "")),
                row["lesion_id"]]
    else:
        seed = ["nethelpers-reference", pet.series_uid, row["roi"]]
    return str(generate_uid(entropy_srcs=seed))


def _segment_json(row: pd.Series) -> str:
    payload: dict[str, Any] = {JSON_KEY: JSON_FORMAT, "label": int(row["label"])}
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


def import_seg(
    path: PathLike,
    reference: sitk.Image | PathLike | Sequence[PathLike],
    *,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    position_tolerance: float = SEG_POSITION_TOLERANCE,
    overlap: str = DEFAULT_OVERLAP,
    reader: str | None = None,
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
    overlap : str
        Segments that share voxels: ``"refuse"`` (default) or ``"lesions-win"`` (a lesion
        keeps its voxels, the reference region it overlaps gives them up), see
        :mod:`nethelpers.dicom.segoverlap`.
    reader : str, optional
        Who drew the segments of other tools (the table's ``reader``), instead of the SEG's
        ContentCreatorName; the warning names both. Segments :func:`export_seg` wrote keep
        the reader of their own row.

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
    nethelpers.dicom.segoverlap.SegmentOverlapError
        Segments share voxels that the ``overlap`` policy does not resolve: every pair is
        named (numbers, labels, voxels and ml shared), with the fix.

    Warns
    -----
    UserWarning
        What goes into the provenance: the voxels reference regions gave to lesions under
        ``overlap="lesions-win"``, a ``reader`` given for another tool's segments (with the
        SEG's own ContentCreatorName), a SEG that carries no reference to check against.
    """
    path = Path(path)
    try:
        seg = hd.seg.segread(path)
    except (InvalidDicomError, OSError, ValueError, AttributeError, TypeError) as exc:
        raise DicomInputError(f"not a readable DICOM Segmentation ({exc})", file=path,
                              fix="pass a DICOM SEG file") from None

    referenced = referenced_series(seg)
    sop_index: dict[str, int] | None = None
    if isinstance(reference, sitk.Image):
        grid = Grid.of(reference)
    else:
        items = select_series(reference, None, prefer=referenced)
        series = series_geometry(items, slice_tolerance)
        sop_index = {uid: k for k, uid in enumerate(series.sop_uids)}
        instances = referenced_instances(seg)
        if referenced:
            ok = series.series_uid in referenced
        else:
            ok = not instances or bool(instances & set(series.sop_uids))
            if not instances:
                warnings.warn(f"{path.name}: the SEG references no series; matched on geometry "
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
    rows, foreign = segment_rows(seg, reader)
    if not rows:
        raise DicomInputError("the SEG describes no segments", file=path,
                              tag="SegmentSequence (0062,0002)")
    n_frames = int(seg.get("NumberOfFrames", 1) or 1)
    slices, _ = frame_slices(seg, grid, path, sop_index, position_tolerance)
    seg_type = str(seg.get("SegmentationType", "BINARY")).upper()
    labelmap = seg_type == "LABELMAP" or str(seg.SOPClassUID) == LABELMAP_SEGMENTATION_STORAGE
    numbers = None if labelmap else frame_segments(seg, n_frames, path)
    threshold = (0.5 * float(seg.get("MaximumFractionalValue", 1) or 1)
                 if seg_type == "FRACTIONAL" else None)
    masks = slice_masks(seg, slices, numbers, rows, path, threshold=threshold)
    out, notes = compose_label_map(masks, (nz, ny, nx), layer_segments(seg, rows),
                                   voxel_ml=float(np.prod(grid.spacing)) / 1000.0,
                                   overlap=overlap, file=path.name)
    if reader and foreign:
        notes.append(reader_note(seg, path.name, foreign, reader))
    for note in notes:
        warnings.warn(note, UserWarning, stacklevel=2)

    table = pd.DataFrame([rows[n] for n in sorted(rows)], columns=list(TABLE_COLUMNS))
    table = validate_table(table, out, source=f"{path.name} (segments)")
    return grid.image(out), table
