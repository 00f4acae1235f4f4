"""ROI measurements as a DICOM SR TID 1500 Measurement Report, referencing the SEG and PET.

:func:`export_sr` writes the measurements of one scan (the rows
:func:`nethelpers.quantify.measure_rois` returns) as one Comprehensive SR instance made with
highdicom, in the pattern 3D Slicer's QuantitativeReporting and dcmqi write and read (the
model is dcmqi's ``sr-example``, a PET SEG with its SR). :func:`read_sr_measurements`
(:mod:`nethelpers.dicom.srread`) reads such a report - ours or another tool's - into a table.

What the report holds
---------------------
- SOP class Comprehensive SR (1.2.840.10008.5.1.4.1.1.88.33), as dcmqi writes: the report
  has no 3D coordinates, and older QuantitativeReporting releases load TID 1500 only from
  Enhanced or Comprehensive SR (newer ones take Comprehensive 3D SR too).
- Root: TID 1500 "Imaging Measurement Report" (126000, DCM), English, a device observer
  (``observer``, default ``nethelpers``), procedure reported (44139-4, LN, "PET whole body")
  and a TID 1600 Image Library listing every instance of the PET series. Evidence: every
  PET instance and the SEG. Containers are SEPARATE, as dcmqi writes them.
- One TID 1411 Volumetric ROI measurement group per table row that has a segment in the
  SEG, in segment-number order (Slicer pairs groups with segments by position), items in
  the template's order:

  - Tracking Identifier / Tracking Unique Identifier: the segment's TrackingID and
    TrackingUID (export_seg writes the lesion_id or ROI name and a stable UID); a SEG
    without them gets the row's name and a UID derived from the SEG and segment number.
  - Finding: the segment's property type (Neoplasm for lesions, Liver, Spleen, Blood,
    Skeletal muscle for reference regions, see :func:`nethelpers.dicom.seg.segment_codes`).
  - Referenced Segment (121191, DCM): the SEG instance and segment number, and Source
    series for segmentation (121232, DCM) = the PET SeriesInstanceUID, as dcmqi writes it
    (DCMTK's TID 1411 requires that item; highdicom's ``from_segmentation`` would list the
    source images instead).
  - Measurement Method (HAS CONCEPT MOD, TID 1419 row 1, as dcmqi; highdicom 0.28 writes it
    as CONTAINS and after the measurements' references, both corrected here): the SUV
    calculation method of ``suv_norm`` (126410 SUV body weight calculation method, ...).
  - Finding Site: the segment's anatomic region when the SEG has one, else the organ of a
    liver, spleen or muscle reference region; none for lesions and the blood pool.
  - Measurements, each only when its column is present and finite (NaN is left out):
    ``suv_mean``, ``suv_max``, ``suv_peak``, ``suv_sd`` as the SUV concept of ``suv_norm``
    (126401 SUVbw, ...) with derivation Mean, Maximum (SCT), Peak Value Within ROI (DCM),
    Standard Deviation (SCT); ``volume_ml`` as Volume (118565006, SCT) in ml, method Sum of
    segmented voxel method for volume (126030, DCM); ``sul_mean``, ``sul_max``,
    ``sul_peak`` as the SUV concept of ``sul_norm`` (126405 SUVlbm(Janma) for ``lbm``) with
    its calculation method; then the lesion-only ``mtv_ml`` as Metabolic Volume (126032,
    DCM) in ml and ``tla`` as Total Lesion Glycolysis (126033, DCM) in g (cm2 for SUVbsa).
    Slicer tabulates every group by the items of the first one, so the items common to all
    ROIs come first.

SUV units are written as dcmqi and Slicer write them, ``{SUVbw}g/ml`` (UCUM annotation
first); PS3.16 CID 85 now lists the same units as ``g/ml{SUVbw}``. Both are the same UCUM
unit and :func:`read_sr_measurements` reads either. MTV and TLA are measured on the voxels
of the segment at or above ``mtv_fraction`` x SUVmax, not on the whole segment, so each
carries a TID 4019 algorithm identification stating that threshold. DICOM has no
tracer-neutral "total lesion activity" code: TLA goes under Total Lesion Glycolysis (SUVmean
x metabolic volume) for every tracer.

Not written: a Real World Value Map reference (nethelpers computes SUV itself and writes no
RWVM object), time point and session.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import pandas as pd
import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from nethelpers import __version__
from nethelpers.dicom.bodysize import canonical_norm
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.seg import segment_codes
from nethelpers.dicom.srcodes import ML, SUV_KINDS, SUV_STATS, SuvKind, mass_unit
from nethelpers.dicom.srinputs import Segment, pet_instances, read_seg, segments
from nethelpers.dicom.srread import SR_COLUMNS, read_sr_measurements
from nethelpers.files import atomic_write

__all__ = ["SR_COLUMNS", "export_sr", "read_sr_measurements"]

PathLike = str | os.PathLike[str]

_LO_MAX = 64
_ORGAN_SITES = {"liver": codes.SCT.Liver, "spleen": codes.SCT.Spleen,
                "muscle": codes.SCT.SkeletalMuscle}
#: TID 1411 order of the group's items before its measurements (as dcmqi writes them).
_GROUP_ORDER = (codes.DCM.TrackingIdentifier, codes.DCM.TrackingUniqueIdentifier,
                codes.DCM.Finding, codes.DCM.ReferencedSegment,
                codes.DCM.SourceSeriesForSegmentation, codes.SCT.MeasurementMethod,
                codes.SCT.FindingSite)


# ---------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------


def _finite(row: pd.Series, column: str) -> float | None:
    value = row.get(column)
    try:
        number = float(value)                          # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _threshold_algorithm(fraction: float, what: str) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(
        name="nethelpers metabolic volume", version=__version__,
        parameters=[f"voxels of the segment >= {fraction:g} x SUVmax", what])


def _measurements(row: pd.Series, suv: SuvKind, sul: SuvKind | None,
                  mtv_fraction: float) -> list[hd.sr.Measurement]:
    out = []
    for suffix, derivation in SUV_STATS:
        value = _finite(row, f"suv_{suffix}")
        if value is not None:
            out.append(hd.sr.Measurement(name=suv.concept, value=value, unit=suv.unit,
                                         derivation=derivation))
    value = _finite(row, "volume_ml")
    if value is not None:
        out.append(hd.sr.Measurement(name=codes.SCT.Volume, value=value, unit=ML,
                                     method=codes.DCM.SumOfSegmentedVoxelMethodForVolume))
    if sul is not None:
        for suffix, derivation in SUV_STATS[:3]:
            value = _finite(row, f"sul_{suffix}")
            if value is not None:
                out.append(hd.sr.Measurement(name=sul.concept, value=value, unit=sul.unit,
                                             derivation=derivation, method=sul.method))
    # lesion-only measurements last: Slicer tabulates every group by the first one's items
    value = _finite(row, "mtv_ml")
    if value is not None:
        out.append(hd.sr.Measurement(
            name=codes.DCM.MetabolicVolume, value=value, unit=ML,
            algorithm_id=_threshold_algorithm(mtv_fraction, "volume of those voxels")))
    value = _finite(row, "tla")
    if value is not None:
        out.append(hd.sr.Measurement(
            name=codes.DCM.TotalLesionGlycolysis, value=value, unit=mass_unit(suv),
            algorithm_id=_threshold_algorithm(mtv_fraction,
                                              "SUVmean of those voxels x their volume")))
    return out


def _group(segment: Segment, roi: str, seg: pydicom.Dataset, pet_series_uid: str,
           method: Code, measurements: list[hd.sr.Measurement]
           ) -> hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations:
    site = segment.site or _ORGAN_SITES.get(roi)
    group = hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=segment.tracking_uid,
                                                     identifier=segment.tracking_id),
        referenced_segment=hd.sr.ReferencedSegment(
            sop_class_uid=str(seg.SOPClassUID), sop_instance_uid=str(seg.SOPInstanceUID),
            segment_number=segment.number,
            source_series=hd.sr.SourceSeriesForSegmentation(pet_series_uid)),
        finding_type=segment.finding or segment_codes(roi)[1],
        method=method,
        finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
        measurements=measurements,
    )
    # highdicom 0.28 appends the segment reference after the measurements and writes the
    # group's Measurement Method as CONTAINS: restore TID 1411 order and TID 1419 row 1.
    items = sorted(group[0].ContentSequence, key=_template_rank)
    for item in items:
        if item.name == codes.SCT.MeasurementMethod:
            item.RelationshipType = "HAS CONCEPT MOD"
    group[0].ContentSequence = hd.sr.ContentSequence(items)
    return group


def _template_rank(item: hd.sr.ContentItem) -> int:
    """Position of a group item in TID 1411 (measurements keep their order, last)."""
    for rank, name in enumerate(_GROUP_ORDER):
        if item.name == name:
            return rank
    return len(_GROUP_ORDER)


def _separate(item: pydicom.Dataset) -> None:
    """Mark every container SEPARATE: its items are not one continuous text."""
    if item.get("ValueType") == "CONTAINER":
        item.ContinuityOfContent = "SEPARATE"
    for child in item.get("ContentSequence", []):
        _separate(child)


def _rows_and_segments(measurements: pd.DataFrame, candidates: list[Segment], seg_path: Path
                       ) -> list[tuple[pd.Series, Segment]]:
    """Pair each table row with its segment; rows without one are left out with a warning."""
    missing = [c for c in ("roi", "lesion_id") if c not in measurements.columns]
    if missing:
        raise ValueError(f"the measurement table lacks column(s) {', '.join(missing)}: pass "
                         "the table nethelpers.quantify.measure_rois returns")
    if "scan_id" in measurements.columns and measurements["scan_id"].nunique() > 1:
        raise ValueError(f"the measurements hold {measurements['scan_id'].nunique()} scans; "
                         "an SR reports one scan: pass measurements[measurements.scan_id == "
                         "...] with that scan's SEG and PET")
    pairs: list[tuple[pd.Series, Segment]] = []
    taken: dict[int, str] = {}
    for _, row in measurements.iterrows():
        roi = str(row["roi"])
        name = str(row["lesion_id"]) if roi == "lesion" else roi
        hits = [s for s in candidates if s.matches(roi, name)]
        if not hits:
            warnings.warn(f"{seg_path}: no segment of the SEG is {name!r} ({roi}): its "
                          "measurements are left out of the SR", UserWarning, stacklevel=3)
            continue
        if len(hits) > 1:
            raise DicomInputError(f"segments {', '.join(str(s.number) for s in hits)} are all "
                                  f"named {name!r}", file=seg_path, tag="SegmentLabel (0062,0005)",
                                  fix="give every segment its own label and TrackingID")
        segment = hits[0]
        if segment.number in taken:
            raise ValueError(f"rows {taken[segment.number]!r} and {name!r} both measure segment "
                             f"{segment.number}: pass one row per ROI (one reader)")
        taken[segment.number] = name
        pairs.append((row, segment))
    return pairs


def _observer(name: str) -> hd.sr.ObservationContext:
    device = hd.sr.DeviceObserverIdentifyingAttributes(
        uid=str(generate_uid(entropy_srcs=["nethelpers-device-observer", name])),
        name=name[:_LO_MAX], manufacturer_name="nethelpers",
        model_name=f"nethelpers {__version__}"[:_LO_MAX])
    return hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=codes.cid270.Device, observer_identifying_attributes=device))


def _patient_source(pet: pydicom.Dataset) -> pydicom.Dataset:
    """The first PET header with the type 2 patient/study attributes highdicom copies."""
    ds = copy.deepcopy(pet)
    for keyword in ("PatientID", "PatientName", "PatientBirthDate", "PatientSex",
                    "AccessionNumber", "StudyID", "StudyDate", "StudyTime"):
        if keyword not in ds:
            setattr(ds, keyword, None)
    return ds


def export_sr(
    measurements: pd.DataFrame,
    seg_path: PathLike,
    pet_series: PathLike | Sequence[PathLike],
    out: PathLike,
    *,
    observer: str = "nethelpers",
    suv_norm: str = "bw",
    sul_norm: str | None = "lbm",
    mtv_fraction: float = 0.41,
    series_uid: str | None = None,
    series_number: int = 901,
    series_description: str = "nethelpers measurements",
) -> Path:
    """Write one scan's ROI measurements as a DICOM SR TID 1500 Measurement Report.

    Parameters
    ----------
    measurements : pandas.DataFrame
        One row per ROI of one scan, as :func:`nethelpers.quantify.measure_rois` returns
        (columns ``roi`` and ``lesion_id`` identify the ROI; the measurement columns used are
        listed in the module docstring; missing columns and NaN values are left out).
    seg_path : path-like
        The SEG of the same ROIs (:func:`nethelpers.dicom.seg.export_seg`, or another tool's
        SEG whose segments are named by TrackingID or SegmentLabel = lesion_id / ROI name).
    pet_series : path-like or sequence of path-like
        The PET series folder or files the SEG references (header-only reads).
    out : path-like
        The SR file to write (its folder is created). An existing folder means
        ``<out>/SR_<SOPInstanceUID>.dcm``.
    observer : str
        Name of the device observer (the software that measured).
    suv_norm : str
        The SUV normalisation of the ``suv_*`` columns (``QuantifyOptions.norm``): ``bw``,
        ``lbm`` (Janmahasatian), ``lbm-james``, ``lbm-james120``, ``bsa`` or ``ibw``.
    sul_norm : str or None
        The normalisation of the ``sul_*`` columns (``QuantifyOptions.sul_norm``); None, or
        the same as ``suv_norm``, leaves them out.
    mtv_fraction : float
        The SUVmax fraction ``mtv_ml`` and ``tla`` were measured at
        (``QuantifyOptions.mtv_fraction``), stated in their algorithm identification.
    series_uid : str, optional
        SeriesInstanceUID of the PET series, when ``pet_series`` holds several that the SEG
        does not tell apart.
    series_number : int
        SeriesNumber of the SR.
    series_description : str
        SeriesDescription of the SR.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    DicomInputError
        The SEG is not a readable Segmentation, it references another series than the PET,
        the series is not PET, two segments share a name, or no row has a segment and a
        finite measurement.
    ValueError
        Unknown normalisation, a table of several scans, without ``roi``/``lesion_id``, or
        with two rows for one segment.

    Warns
    -----
    UserWarning
        For each row without a segment (an empty ROI is not in the SEG) or without any
        finite measurement: it is left out.
    """
    suv = SUV_KINDS[canonical_norm(suv_norm)]
    sul = None if sul_norm is None else SUV_KINDS[canonical_norm(sul_norm)]
    if sul is suv:
        sul = None
    seg_path = Path(seg_path)
    seg = read_seg(seg_path)
    pet = pet_instances(pet_series, series_uid, seg, seg_path)
    pet_uid = str(pet[0].SeriesInstanceUID)

    groups = []
    pairs = _rows_and_segments(measurements, segments(seg), seg_path)
    for row, segment in sorted(pairs, key=lambda pair: pair[1].number):
        items = _measurements(row, suv, sul, mtv_fraction)
        if not items:
            warnings.warn(f"{segment.tracking_id!r} has no finite measurement: left out of "
                          "the SR", UserWarning, stacklevel=2)
            continue
        groups.append(_group(segment, str(row["roi"]), seg, pet_uid, suv.method, items))
    if not groups:
        raise DicomInputError("no table row has a segment in the SEG and a finite "
                              "measurement: the SR would be empty", file=seg_path,
                              fix="pass the measurements of the ROIs this SEG holds")

    report = hd.sr.MeasurementReport(
        observation_context=_observer(observer),
        procedure_reported=codes.cid100.PETWholeBody,
        imaging_measurements=groups,
        referenced_images=pet,
    )
    texts = [series_description, observer, *(str(g.tracking_identifier) for g in groups)]
    extra: dict[str, Any] = {}
    if not all(t.isascii() for t in texts):
        extra["specific_character_set"] = "ISO_IR 192"
    _separate(report[0])
    sr = hd.sr.ComprehensiveSR(
        evidence=[_patient_source(pet[0]), *pet[1:], seg],
        content=report[0],
        series_instance_uid=hd.UID(),
        series_number=int(series_number),
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="nethelpers",
        is_complete=True,
        series_description=" ".join(series_description.split())[:_LO_MAX],
        software_versions=__version__,
        **extra,
    )
    out = Path(out)
    if out.is_dir():
        out = out / f"SR_{sr.SOPInstanceUID}.dcm"
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as fh:
        sr.save_as(fh, enforce_file_format=True)
    return out
