"""The image series that contours are drawn on: chosen among a folder's files, and its grid.

A DICOM SEG, an RT Structure Set or an SR refers to a PET series; to rebuild or check a label
map on that series' grid, the readers need the series itself: its single-frame images
(read header-only with pydicom), sorted along the slice normal and placed on the grid
:func:`nethelpers.dicom.volume.load_pet` gives (slices within the slice tolerance of a
uniform grid placed on it, see :mod:`nethelpers.dicom.slicegrid`).

- :func:`select_series` picks the series from a folder or file list (one series, or the one
  asked for, or the one a SEG references);
- :func:`series_geometry` sorts it and derives its grid (:class:`ReferenceSeries`);
- :class:`Grid` is a bare grid (of a series or of an image) that can make a label image;
- :func:`geometry_mismatch` and :func:`same_grid` compare grids.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE, SliceGridError, fit_slices
from nethelpers.dicom.volume import series_files

__all__ = [
    "DIRECTION_TOLERANCE",
    "GRID_TOLERANCE_MM",
    "Grid",
    "ReferenceSeries",
    "format_vector",
    "geometry_mismatch",
    "same_grid",
    "select_series",
    "series_geometry",
]

PathLike = str | os.PathLike[str]

#: Grids agree when origin and spacing differ by at most this (mm) ...
GRID_TOLERANCE_MM = 1e-3
#: ... and the direction cosines by at most this.
DIRECTION_TOLERANCE = 1e-5




@dataclass(frozen=True)
class ReferenceSeries:
    """One single-frame image series, slices sorted along the slice normal (ascending)."""

    series_uid: str
    files: tuple[Path, ...]
    datasets: tuple[pydicom.Dataset, ...]
    size: tuple[int, int, int]          # (nx, ny, nz), SimpleITK order
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]

    @property
    def folder(self) -> Path:
        """The folder of the first file."""
        return self.files[0].parent

    @property
    def sop_uids(self) -> tuple[str, ...]:
        """SOPInstanceUID of each slice, in slice order."""
        return tuple(str(ds.SOPInstanceUID) for ds in self.datasets)


def _is_image(ds: pydicom.Dataset) -> bool:
    """A single-frame image with a plane position (not a SEG, RTSTRUCT, SR, DICOMDIR...)."""
    return ("ImagePositionPatient" in ds and "ImageOrientationPatient" in ds
            and "PixelSpacing" in ds and "SeriesInstanceUID" in ds)


def _read_headers(files: list[Path]) -> list[tuple[Path, pydicom.Dataset]]:
    out = []
    for f in files:
        try:
            ds = pydicom.dcmread(f, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
            raise DicomInputError(f"not a readable DICOM file ({exc})", file=f,
                                  fix="remove the file or pass the PET files explicitly"
                                  ) from None
        out.append((f, ds))
    return out


def _series_summary(groups: dict[str, list[tuple[Path, pydicom.Dataset]]]) -> str:
    parts = []
    for uid, items in groups.items():
        ds = items[0][1]
        parts.append(f"{uid} ({ds.get('Modality', '?')}, "
                     f"{str(ds.get('SeriesDescription', '')).strip() or 'no description'}, "
                     f"{len(items)} files)")
    return "; ".join(parts)


def select_series(source: PathLike | Sequence[PathLike], series_uid: str | None,
                   *, prefer: set[str] | None = None) -> list[tuple[Path, pydicom.Dataset]]:
    """The files of one image series among ``source``'s files.

    ``series_uid`` picks a series; otherwise a single image series is taken, else the one
    in ``prefer`` (UIDs a SEG references), else the only PT series; else it is ambiguous.
    """
    files = series_files(source)
    where = files[0].parent if files else Path(str(source))
    headers = _read_headers(files)
    groups: dict[str, list[tuple[Path, pydicom.Dataset]]] = {}
    for f, ds in headers:
        if _is_image(ds):
            groups.setdefault(str(ds.SeriesInstanceUID), []).append((f, ds))
    if not groups:
        raise DicomInputError("holds no single-frame image slices (no ImagePositionPatient)",
                              file=where, fix="pass the folder or files of the PET series")
    if series_uid is not None:
        if series_uid not in groups:
            raise DicomInputError(f"no image of series {series_uid}; it holds "
                                  f"{_series_summary(groups)}", file=where,
                                  tag="SeriesInstanceUID (0020,000E)",
                                  fix="pass the SeriesInstanceUID of the PET series")
        return groups[series_uid]
    if len(groups) == 1:
        return next(iter(groups.values()))
    if prefer:
        hits = [uid for uid in groups if uid in prefer]
        if len(hits) == 1:
            return groups[hits[0]]
    pet = [uid for uid, items in groups.items() if items[0][1].get("Modality") == "PT"]
    if len(pet) == 1:
        return groups[pet[0]]
    raise DicomInputError(f"the files belong to {len(groups)} image series: "
                          f"{_series_summary(groups)}", file=where,
                          tag="SeriesInstanceUID (0020,000E)",
                          fix="pass series_uid= with the PET series' SeriesInstanceUID, or "
                          "the PET files only")


def _floats(ds: pydicom.Dataset, keyword: str, n: int, file: Path) -> np.ndarray:
    value = ds.get(keyword)
    try:
        arr = np.array([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        arr = np.array([])
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        tag = pydicom.datadict.tag_for_keyword(keyword)
        raise DicomInputError(f"missing or invalid ({value!r})", file=file,
                              tag=f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})")
    return arr


def series_geometry(items: list[tuple[Path, pydicom.Dataset]],
                     tolerance: float = DEFAULT_SLICE_TOLERANCE) -> ReferenceSeries:
    """Sort slices along the normal and derive the grid the way volume.load_pet does."""
    f0, ds0 = items[0]
    iop = _floats(ds0, "ImageOrientationPatient", 6, f0)
    pixel = _floats(ds0, "PixelSpacing", 2, f0)
    rows, cols = int(ds0.Rows), int(ds0.Columns)
    frames = int(ds0.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise DicomInputError(f"multi-frame image with {frames} frames; only single-frame "
                              "PET series are supported", file=f0,
                              tag="NumberOfFrames (0028,0008)")
    for f, ds in items[1:]:
        if (not np.allclose(_floats(ds, "ImageOrientationPatient", 6, f), iop, atol=1e-6)
                or int(ds.Rows) != rows or int(ds.Columns) != cols
                or not np.allclose(_floats(ds, "PixelSpacing", 2, f), pixel, atol=1e-6)):
            raise DicomInputError("orientation, matrix size or pixel spacing differs from "
                                  f"{f0.name}: mixed images in one series", file=f,
                                  fix="split the series")
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    ipp = np.array([_floats(ds, "ImagePositionPatient", 3, f) for f, ds in items])
    along = ipp @ normal
    order = np.argsort(along, kind="stable")
    origin = ipp[order[0]]
    if len(items) > 1:
        try:
            placement = fit_slices(along, tolerance)
        except SliceGridError as exc:
            k = min(exc.index, len(order) - 1)
            raise DicomInputError(exc.problem, file=items[order[k]][0],
                                  tag="ImagePositionPatient (0020,0032)", fix=exc.fix) from None
        step = placement.step
        origin = placement.origin(ipp[order[0]], normal)
    else:
        step = float(ds0.get("SpacingBetweenSlices") or ds0.get("SliceThickness") or 0.0)
        if step <= 0:
            raise DicomInputError("a single slice without SpacingBetweenSlices or "
                                  "SliceThickness has no known thickness", file=f0,
                                  tag="SliceThickness (0018,0050)")
    direction = (row[0], col[0], normal[0], row[1], col[1], normal[1], row[2], col[2],
                 normal[2])
    ordered = [items[i] for i in order]
    return ReferenceSeries(
        series_uid=str(ds0.SeriesInstanceUID),
        files=tuple(f for f, _ in ordered),
        datasets=tuple(ds for _, ds in ordered),
        size=(cols, rows, len(items)),
        spacing=(float(pixel[1]), float(pixel[0]), step),
        origin=tuple(float(v) for v in origin),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in direction),
    )


def geometry_mismatch(image: sitk.Image, series: ReferenceSeries) -> list[str]:
    """What differs between an image's grid and the series' grid (empty: the same)."""
    problems = []
    if tuple(image.GetSize()) != series.size:
        problems.append(f"size {tuple(image.GetSize())} vs {series.size}")
    checks = (("spacing", image.GetSpacing(), series.spacing, GRID_TOLERANCE_MM),
              ("origin", image.GetOrigin(), series.origin, GRID_TOLERANCE_MM),
              ("direction", image.GetDirection(), series.direction, DIRECTION_TOLERANCE))
    for name, got, want, tol in checks:
        if np.max(np.abs(np.subtract(got, want))) > tol:
            problems.append(f"{name} {format_vector(got)} vs {format_vector(want)}")
    return problems


def format_vector(values: Sequence[float]) -> str:
    """``(v1, v2, ...)`` with 6 significant digits, for messages."""
    return "(" + ", ".join(f"{v:.6g}" for v in values) + ")"


@dataclass(frozen=True)
class Grid:
    """A bare image grid in SimpleITK order (size (nx, ny, nz), spacing, origin, direction)."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...]

    @classmethod
    def of(cls, image: sitk.Image | ReferenceSeries) -> Grid:
        """The grid of a series or of a 3-D image."""
        if isinstance(image, ReferenceSeries):
            return cls(image.size, image.spacing, image.origin, image.direction)
        if image.GetDimension() != 3:
            raise DicomInputError(f"the reference image is {image.GetDimension()}-D, not 3-D")
        return cls(tuple(image.GetSize()), tuple(image.GetSpacing()),  # type: ignore[arg-type]
                   tuple(image.GetOrigin()), tuple(image.GetDirection()))  # type: ignore[arg-type]

    def image(self, array: np.ndarray) -> sitk.Image:
        """An image of ``array`` (z, y, x) on this grid."""
        img = sitk.GetImageFromArray(array)
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(self.direction)
        return img


def same_grid(a: sitk.Image, b: sitk.Image, *, tolerance_mm: float = GRID_TOLERANCE_MM,
              direction_tolerance: float = DIRECTION_TOLERANCE) -> bool:
    """Whether two images share one grid: same size, origin, spacing and direction.

    Parameters
    ----------
    a, b : SimpleITK.Image
        The images.
    tolerance_mm : float
        Largest difference of origin and spacing (mm).
    direction_tolerance : float
        Largest difference of a direction cosine.

    Returns
    -------
    bool
    """
    return (a.GetSize() == b.GetSize()
            and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tolerance_mm)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tolerance_mm)
            and np.allclose(a.GetDirection(), b.GetDirection(), atol=direction_tolerance))
