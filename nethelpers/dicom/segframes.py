"""Where each frame of a DICOM SEG goes: its reference series, slice and segment.

A SEG frame names the segment it belongs to (ReferencedSegmentNumber) and, in most
writers, the source image it was derived from (DerivationImageSequence); its plane position
says where it lies. :func:`frame_slices` places every frame on a slice of the reference
grid (by the source image it names, else by position within a fraction of a voxel) and
:func:`slice_masks` reads the frames slice by slice as one boolean mask per segment, the
form :mod:`nethelpers.dicom.segoverlap` composes into a label map.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from pathlib import Path

import numpy as np
import pydicom

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.refseries import GRID_TOLERANCE_MM, Grid
from nethelpers.dicom.refseries import format_vector as _fmt

__all__ = [
    "SEG_POSITION_TOLERANCE",
    "frame_segments",
    "frame_slices",
    "frame_source",
    "functional",
    "referenced_instances",
    "referenced_series",
    "slice_masks",
]

#: Frames without a usable source-image reference are placed by position when they lie
#: within this fraction of a voxel (per axis) of a grid plane: float32 positions written by
#: Slicer/dcmqi are 0.01-0.05 mm off, a real mismatch is half a voxel or more.
SEG_POSITION_TOLERANCE = 0.25


def functional(seg: pydicom.Dataset, index: int, sequence: str) -> pydicom.Dataset | None:
    """Item of a functional group macro for frame ``index`` (per-frame, else shared)."""
    per_frame = seg.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and index < len(per_frame) and sequence in per_frame[index]:
        return per_frame[index][sequence][0]
    shared = seg.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence][0]
    return None


def referenced_series(seg: pydicom.Dataset) -> set[str]:
    """SeriesInstanceUIDs the SEG references (ReferencedSeriesSequence, also other studies')."""
    uids = {str(item.SeriesInstanceUID) for item in seg.get("ReferencedSeriesSequence", [])
            if "SeriesInstanceUID" in item}
    for study in seg.get("StudiesContainingOtherReferencedInstancesSequence", []):
        uids |= {str(item.SeriesInstanceUID)
                 for item in study.get("ReferencedSeriesSequence", [])
                 if "SeriesInstanceUID" in item}
    return uids


def referenced_instances(seg: pydicom.Dataset) -> set[str]:
    """SOPInstanceUIDs the SEG references (per series, and as its frames' source images)."""
    uids: set[str] = set()
    for series in seg.get("ReferencedSeriesSequence", []):
        uids |= {str(i.ReferencedSOPInstanceUID)
                 for i in series.get("ReferencedInstanceSequence", [])}
    for frame in seg.get("PerFrameFunctionalGroupsSequence", []):
        for derivation in frame.get("DerivationImageSequence", []):
            uids |= {str(s.ReferencedSOPInstanceUID)
                     for s in derivation.get("SourceImageSequence", [])}
    return uids


def frame_source(seg: pydicom.Dataset, index: int) -> str | None:
    """The SOPInstanceUID of the image frame ``index`` was derived from, if it says so."""
    per_frame = seg.get("PerFrameFunctionalGroupsSequence")
    if per_frame is None or index >= len(per_frame):
        return None
    uids = {str(source.ReferencedSOPInstanceUID)
            for derivation in per_frame[index].get("DerivationImageSequence", [])
            for source in derivation.get("SourceImageSequence", [])
            if "ReferencedSOPInstanceUID" in source}
    return uids.pop() if len(uids) == 1 else None


def frame_slices(seg: pydicom.Dataset, grid: Grid, path: Path,
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
        orient = functional(seg, i, "PlaneOrientationSequence")
        measures = functional(seg, i, "PixelMeasuresSequence")
        position = functional(seg, i, "PlanePositionSequence")
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
        source = frame_source(seg, i) if sop_index else None
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


def frame_segments(seg: pydicom.Dataset, n_frames: int, path: Path) -> list[int]:
    """The segment number of each frame (ReferencedSegmentNumber); a frame without is refused."""
    out = []
    for i in range(n_frames):
        ident = functional(seg, i, "SegmentIdentificationSequence")
        if ident is None or "ReferencedSegmentNumber" not in ident:
            raise DicomInputError(f"frame {i + 1} names no segment", file=path,
                                  tag="ReferencedSegmentNumber (0062,000B)")
        out.append(int(ident.ReferencedSegmentNumber))
    return out


def slice_masks(seg: pydicom.Dataset, slices: list[int], segments: list[int] | None,
                numbers: Collection[int], path: Path, *, threshold: float | None = None
                ) -> Iterator[tuple[int, dict[int, np.ndarray]]]:
    """The SEG's frames, slice by slice, as one boolean mask per segment.

    Parameters
    ----------
    seg : highdicom.seg.Segmentation
        The SEG (frames are read one at a time).
    slices : list of int
        The reference slice of each frame (:func:`frame_slices`).
    segments : list of int or None
        The segment number of each frame (:func:`frame_segments`); None for a LABELMAP
        SEG, whose frames hold segment numbers as pixel values.
    numbers : collection of int
        The segments to read (a LABELMAP's other values, e.g. background, are skipped).
    path : pathlib.Path
        The SEG file, for error messages.
    threshold : float, optional
        A FRACTIONAL SEG's stored value from which a pixel belongs to the segment; default
        any non-zero value.

    Yields
    ------
    k : int
        A slice with at least one frame, in ascending order.
    masks : dict of int to numpy.ndarray
        ``(rows, columns)`` mask per segment with a frame on that slice (several frames of
        one segment on one slice are united).

    Raises
    ------
    DicomInputError
        A frame refers to a segment outside ``numbers``.
    """
    by_slice: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(slices):
        by_slice[k].append(i)
    for k in sorted(by_slice):
        masks: dict[int, np.ndarray] = {}
        for i in by_slice[k]:
            frame = np.asarray(seg.get_stored_frame(i, as_index=True))
            if segments is None:
                parts = {n: frame == n for n in np.unique(frame[frame != 0]).tolist()
                         if n in numbers}
            else:
                number = segments[i]
                if number not in numbers:
                    raise DicomInputError(f"frame {i + 1} refers to segment {number}, which the "
                                          "SegmentSequence does not describe", file=path,
                                          tag="ReferencedSegmentNumber (0062,000B)")
                parts = {number: frame > 0 if threshold is None else frame >= threshold}
            for n, mask in parts.items():
                masks[n] = masks[n] | mask if n in masks else mask
        yield k, masks
