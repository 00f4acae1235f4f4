"""The grid of a single-frame image series, from its headers.

Slices are sorted along the slice normal (the cross product of the row and column
directions of ImageOrientationPatient) and placed on a uniform grid by
:func:`nethelpers.dicom.slicegrid.fit_slices`; orientation, matrix size, pixel spacing and
pixel format must be the same in every file. SimpleITK's direction columns are the row
direction, the column direction and the slice normal; the origin is the first slice's
ImagePositionPatient (moved onto the grid when slices were placed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nethelpers.dicom.errors import SeriesError
from nethelpers.dicom.rawread import RawHeader, keyword_tag
from nethelpers.dicom.slicegrid import (
    DEFAULT_SLICE_TOLERANCE,
    SliceGrid,
    SliceGridError,
    fit_slices,
)

__all__ = ["SliceGeometry", "slice_geometry"]

_IPP = keyword_tag("ImagePositionPatient")
_IOP = keyword_tag("ImageOrientationPatient")
_SPACING = keyword_tag("PixelSpacing")
_ROWS = keyword_tag("Rows")
_COLS = keyword_tag("Columns")
_BITS = keyword_tag("BitsAllocated")
_REPR = keyword_tag("PixelRepresentation")
_FRAMES = keyword_tag("NumberOfFrames")


def _same(headers: list[RawHeader], files: list[Path], tag: int, label: str) -> Any:
    values = [h.raw(tag) for h in headers]
    first = values[0]
    for f, v in zip(files, values, strict=True):
        if v != first:
            raise SeriesError(f"differs between slices ({first!r} vs {v!r}): mixed images",
                              file=f, tag=label, fix="split the series")
    return first


@dataclass(frozen=True)
class SliceGeometry:
    """Slice order and the grid of a series (shape is (nz, ny, nx))."""

    order: np.ndarray
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    direction: tuple[float, ...]
    shape: tuple[int, int, int]
    placement: SliceGrid | None = None

    def record(self) -> dict[str, Any]:
        """The geometry for a provenance record (with the slice placement, if any)."""
        out: dict[str, Any] = {"size": [self.shape[2], self.shape[1], self.shape[0]],
                               "spacing_mm": list(self.spacing),
                               "origin_mm": list(self.origin),
                               "direction": list(self.direction)}
        if self.placement is not None and self.placement.placed:
            out["slice_placement"] = self.placement.provenance()
        return out

    def note(self) -> str:
        """The placement sentence (empty when the slices were regular)."""
        return self.placement.note() if self.placement is not None else ""


def slice_geometry(headers: list[RawHeader], files: list[Path],
                   tolerance: float = DEFAULT_SLICE_TOLERANCE) -> SliceGeometry:
    """Sort the slices along the normal, check them and place them on a uniform grid."""
    for tag, label in ((_IOP, "ImageOrientationPatient (0020,0037)"),
                       (_ROWS, "Rows (0028,0010)"), (_COLS, "Columns (0028,0011)"),
                       (_SPACING, "PixelSpacing (0028,0030)"),
                       (_BITS, "BitsAllocated (0028,0100)"),
                       (_REPR, "PixelRepresentation (0028,0103)")):
        _same(headers, files, tag, label)
    frames = headers[0].int(_FRAMES)
    if frames is not None and frames > 1:
        raise SeriesError(f"multi-frame object with {frames} frames; only single-frame "
                          "series are read", file=files[0], tag="NumberOfFrames (0028,0008)",
                          fix="convert it with dcm2niix or SimpleITK")
    iop = headers[0].floats(_IOP)
    spacing = headers[0].floats(_SPACING)
    if not iop or len(iop) != 6:
        raise SeriesError("missing or invalid", file=files[0],
                          tag="ImageOrientationPatient (0020,0037)")
    if not spacing or len(spacing) != 2:
        raise SeriesError("missing or invalid", file=files[0], tag="PixelSpacing (0028,0030)")
    row = np.array(iop[:3])
    col = np.array(iop[3:])
    normal = np.cross(row, col)
    positions = []
    for f, h in zip(files, headers, strict=True):
        ipp = h.floats(_IPP)
        if not ipp or len(ipp) != 3:
            raise SeriesError("missing or invalid", file=f,
                              tag="ImagePositionPatient (0020,0032)")
        positions.append(ipp)
    ipp = np.array(positions)
    along = ipp @ normal
    placement: SliceGrid | None = None
    if len(files) > 1:
        try:
            placement = fit_slices(along, tolerance)
        except SliceGridError as exc:
            order = np.argsort(along, kind="stable")
            k = min(exc.index, len(order) - 1)
            raise SeriesError(exc.problem, file=files[order[k]],
                              tag="ImagePositionPatient (0020,0032)", fix=exc.fix) from None
        order = placement.order
        step = placement.step
        lateral = (ipp[order] - ipp[order[0]]
                   - np.outer(placement.positions - placement.positions[0], normal))
        if np.abs(lateral).max() > max(1e-2, 0.01 * step):
            raise SeriesError("slice positions are sheared (gantry tilt?): they do not lie "
                              "on the slice normal", file=files[order[-1]],
                              tag="ImagePositionPatient (0020,0032)",
                              fix="resample the series to an orthogonal grid first")
        origin = placement.origin(ipp[order[0]], normal)
    else:
        order = np.zeros(1, dtype=int)
        origin = ipp[0]
        step = headers[0].float(keyword_tag("SpacingBetweenSlices")) or headers[0].float(
            keyword_tag("SliceThickness"))
        if not step or step <= 0:
            raise SeriesError("a single slice without SpacingBetweenSlices or SliceThickness "
                              "has no known thickness", file=files[0],
                              tag="SliceThickness (0018,0050)")
    direction = (row[0], col[0], normal[0], row[1], col[1], normal[1], row[2], col[2], normal[2])
    rows = headers[0].int(_ROWS) or 0
    cols = headers[0].int(_COLS) or 0
    return SliceGeometry(
        order=order,
        origin=tuple(float(v) for v in origin),  # type: ignore[arg-type]
        spacing=(float(spacing[1]), float(spacing[0]), float(step)),
        direction=tuple(float(v) for v in direction),
        shape=(len(files), rows, cols),
        placement=placement,
    )
