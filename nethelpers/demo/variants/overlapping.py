"""A workstation's DICOM SEG whose segments overlap.

Segmentation tools that keep each segment in its own layer (3D Slicer, MIM, syngo.via)
export a BINARY SEG in which segments may share voxels (SegmentsOverlap YES): a whole-liver
reference VOI drawn around a liver metastasis, or two lesion outlines that run into each
other. The ROI store holds one label per voxel, so such a SEG cannot be stored as it is
without one segment losing voxels (:mod:`nethelpers.dicom.segoverlap` refuses it, or, for
lesions inside reference regions, applies an explicit policy). :func:`write_overlapping_seg`
writes one from a demo scan's ROI set (label map + table, :mod:`nethelpers.rois`) as
another tool would:

- one segment per ROI, the lesions first (in label order), then the reference regions;
  no nethelpers JSON in the segment descriptions; SegmentLabel the lesion_id or the
  region's name (``Liver``, ``Spleen``, ...); property codes as in the SEG export;
  ContentCreatorName :data:`WORKSTATION_READER`;
- ``kind="lesion-in-liver"``: the liver segment also holds every voxel of the first lesion
  (a whole-liver VOI around a metastasis: a lesion / reference-region overlap);
- ``kind="lesions"``: the second lesion's segment also holds the first lesion's voxels in
  their upper half (slice index at or above the first lesion's median slice): two lesion
  outlines that run into each other.

The function returns the truth of what it wrote: each segment's voxel count and the voxels
each pair of segments shares.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.demo.variants.rtstruct import REGION_NAMES
from nethelpers.dicom.refseries import select_series, series_geometry
from nethelpers.dicom.seg import _label_array, _write_atomic, segment_codes
from nethelpers.rois import validate_table

__all__ = ["OVERLAP_KINDS", "WORKSTATION_READER", "OverlappingSeg", "write_overlapping_seg"]

PathLike = str | os.PathLike[str]

#: The overlaps :func:`write_overlapping_seg` can write.
OVERLAP_KINDS = ("lesion-in-liver", "lesions")
#: ContentCreatorName of the workstation's SEG (DICOM PN).
WORKSTATION_READER = "Workstation^Reader"


@dataclass(frozen=True)
class OverlappingSeg:
    """An overlapping SEG as written, with its truth.

    Attributes
    ----------
    path : pathlib.Path
        The SEG file.
    segments : tuple of dict
        Per segment: ``number``, ``label`` (SegmentLabel), ``roi`` and ``voxels``.
    overlaps : tuple of dict
        Per pair of segments that share voxels: ``segments`` ``[a, b]`` (a < b) and
        ``voxels``.
    """

    path: Path
    segments: tuple[dict[str, Any], ...]
    overlaps: tuple[dict[str, Any], ...]


def _masks(array: np.ndarray, table: pd.DataFrame, kind: str
           ) -> list[tuple[str, str, np.ndarray]]:
    """(SegmentLabel, roi, mask) per segment, lesions first, with the chosen overlap."""
    lesions = table[table["roi"] == "lesion"]
    regions = table[table["roi"] != "lesion"]
    need_liver = kind == "lesion-in-liver"
    if len(lesions) < (1 if need_liver else 2) or (need_liver and
                                                   not (regions["roi"] == "liver").any()):
        raise ValueError(f"overlap {kind!r} needs a scan with "
                         + ("a lesion and a liver ROI" if need_liver else "two lesions"))
    out = [(str(r["lesion_id"]), "lesion", array == int(r["label"]))
           for _, r in lesions.iterrows()]
    out += [(REGION_NAMES[r["roi"]], str(r["roi"]), array == int(r["label"]))
            for _, r in regions.iterrows()]
    first = out[0][2]
    if kind == "lesion-in-liver":
        i = next(i for i, (_, roi, _) in enumerate(out) if roi == "liver")
        out[i] = (out[i][0], "liver", out[i][2] | first)
    else:
        k = np.nonzero(first)[0]
        upper = first & (np.arange(array.shape[0]) >= np.median(k))[:, None, None]
        out[1] = (out[1][0], "lesion", out[1][2] | upper)
    return out


def write_overlapping_seg(labels: sitk.Image, table: pd.DataFrame, pet: PathLike,
                          out: PathLike, *, kind: str = "lesion-in-liver") -> OverlappingSeg:
    """Write a ROI set as another tool's BINARY SEG with two overlapping segments.

    Parameters
    ----------
    labels : SimpleITK.Image
        The ROI set's label map, on the PET grid.
    table : pandas.DataFrame
        Its table (:data:`nethelpers.rois.TABLE_COLUMNS`).
    pet : path-like
        The PET series folder the ROIs were drawn on.
    out : path-like
        The SEG file to write.
    kind : str
        One of :data:`OVERLAP_KINDS` (see the module docstring).

    Returns
    -------
    OverlappingSeg
        The file and its truth (voxels per segment and per overlapping pair).

    Raises
    ------
    ValueError
        Unknown ``kind``, or a ROI set without the ROIs it needs.
    """
    if kind not in OVERLAP_KINDS:
        raise ValueError(f"kind {kind!r}: use one of {', '.join(OVERLAP_KINDS)}")
    array = _label_array(labels)
    table = validate_table(table, array)
    masks = _masks(array, table, kind)
    series = series_geometry(select_series(pet, None))
    descriptions = []
    for number, (name, roi, _) in enumerate(masks, start=1):
        category, prop = segment_codes(roi)
        descriptions.append(hd.seg.SegmentDescription(
            segment_number=number, segment_label=name, segmented_property_category=category,
            segmented_property_type=prop, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
            tracking_id=name, tracking_uid=hd.UID()))
    stack = np.stack([m for _, _, m in masks], axis=-1).astype(np.uint8)
    seg = hd.seg.Segmentation(
        source_images=list(series.datasets), pixel_array=stack,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=901,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Demo Workstation",
        manufacturer_model_name="Layers", software_versions="1", device_serial_number="1",
        content_label="SEGMENTS", content_creator_name=WORKSTATION_READER,
        omit_empty_frames=True, series_description="Segments (overlapping layers)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(seg, out)
    segments = tuple({"number": n, "label": name, "roi": roi, "voxels": int(m.sum())}
                     for n, (name, roi, m) in enumerate(masks, start=1))
    overlaps = tuple({"segments": [a + 1, b + 1], "voxels": shared}
                     for a, b in combinations(range(len(masks)), 2)
                     if (shared := int(np.count_nonzero(masks[a][2] & masks[b][2]))))
    return OverlappingSeg(out, segments, overlaps)
