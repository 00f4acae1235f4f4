"""Load DICOM series as SimpleITK images: PET in SUV, CT in HU, MR; resample between grids.

A series is read in two passes: headers first (stopping at the pixel data), so slices can be
sorted along the slice normal, checked (one orientation, one size, uniform spacing, no
missing or duplicate slices) and, for PET, converted to SUV factors by
:mod:`nethelpers.dicom.suv`; then each slice's pixel bytes are read once and scaled straight
into the float32 output (``SUV = stored · RescaleSlope · factor``), written straight into the
SimpleITK image's buffer: peak memory is about one output volume plus the headers.

Geometry: SimpleITK's direction columns are the row direction, the column direction and
their cross product (the slice normal); the origin is the first slice's ImagePositionPatient
after sorting along the normal. Arrays from ``sitk.GetArrayFromImage`` are (z, y, x).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.dicom.codecs import decode_pixels, warnings_for
from nethelpers.dicom.errors import SeriesError, SuvError
from nethelpers.dicom.index import NON_DICOM_SUFFIXES
from nethelpers.dicom.rawread import (
    RawDataset,
    RawHeader,
    RawReadError,
    keyword_tag,
    read_header,
)
from nethelpers.dicom.slicegrid import (
    DEFAULT_SLICE_TOLERANCE,
    SliceGrid,
    SliceGridError,
    fit_slices,
)
from nethelpers.dicom.suv import PetHeader, SuvConversion, suv_conversion

__all__ = [
    "LoadedSeries",
    "load_ct",
    "load_mr",
    "load_pet",
    "load_series",
    "resample_like",
    "series_files",
]

_PHILIPS_CREATOR = "Philips PET Private Group"
_GE_CREATOR = "GEMS_PETD_01"


_SERIES_UID = keyword_tag("SeriesInstanceUID")
_SOP_UID = keyword_tag("SOPInstanceUID")
_MODALITY = keyword_tag("Modality")
_IPP = keyword_tag("ImagePositionPatient")
_IOP = keyword_tag("ImageOrientationPatient")
_SPACING = keyword_tag("PixelSpacing")
_ROWS = keyword_tag("Rows")
_COLS = keyword_tag("Columns")
_BITS = keyword_tag("BitsAllocated")
_BITS_STORED = keyword_tag("BitsStored")
_REPR = keyword_tag("PixelRepresentation")
_SAMPLES = keyword_tag("SamplesPerPixel")
_FRAMES = keyword_tag("NumberOfFrames")
_SLOPE = keyword_tag("RescaleSlope")
_INTERCEPT = keyword_tag("RescaleIntercept")

_PET_TEXT = (
    "Modality", "SeriesInstanceUID", "Units", "SUVType", "DecayCorrection", "CorrectedImage",
    "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime",
    "PatientSex", "TimezoneOffsetFromUTC",
)
_PET_NUMBERS = (
    "FrameReferenceTime", "ActualFrameDuration", "PatientWeight", "PatientSize",
    "RescaleSlope", "RescaleIntercept",
)
_ISOTOPE_TEXT = ("Radiopharmaceutical", "RadiopharmaceuticalStartTime",
                 "RadiopharmaceuticalStartDateTime")
_ISOTOPE_NUMBERS = ("RadionuclideTotalDose", "RadionuclideHalfLife")


@dataclass
class LoadedSeries:
    """A series read from disk.

    Attributes
    ----------
    image : SimpleITK.Image
        The volume (float32 unless stated otherwise).
    files : tuple of pathlib.Path
        Files in slice order (along the normal, ascending).
    headers : list of RawHeader
        Raw headers in the same order.
    modality : str
        Modality of the series.
    provenance : dict
        For PET, the SUV provenance; empty otherwise.
    """

    image: sitk.Image
    files: tuple[Path, ...]
    headers: list[RawHeader]
    modality: str
    provenance: dict[str, Any] = field(default_factory=dict)


def series_files(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The candidate files of a series: a folder's files (not recursive) or a list.

    Parameters
    ----------
    path : path-like or sequence of path-like
        A series folder or the files themselves.

    Returns
    -------
    list of pathlib.Path
    """
    if isinstance(path, (str, os.PathLike)):
        folder = Path(path)
        if folder.is_file():
            return [folder]
        if not folder.is_dir():
            raise SeriesError("no such file or folder", file=folder,
                              fix="pass a series folder or its files")
        files = sorted(
            p for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".")
            and p.suffix.lower() not in NON_DICOM_SUFFIXES
        )
        if not files:
            raise SeriesError("the folder holds no files", file=folder)
        return files
    return [Path(p) for p in path]


def _headers(files: list[Path], series_uid: str | None) -> tuple[list[Path], list[RawHeader]]:
    headers: list[RawHeader] = []
    kept: list[Path] = []
    for f in files:
        try:
            h = read_header(f)
        except RawReadError as exc:
            raise SeriesError(f"unreadable: {exc}", file=f,
                              fix="remove the file or restore it from the archive") from None
        headers.append(h)
        kept.append(f)
    uids = {h.text(_SERIES_UID) for h in headers}
    if series_uid is not None:
        pairs = [(f, h) for f, h in zip(kept, headers, strict=True)
                 if h.text(_SERIES_UID) == series_uid]
        if not pairs:
            raise SeriesError(f"no file of series {series_uid}", file=files[0].parent,
                              tag="SeriesInstanceUID (0020,000E)")
        kept, headers = [p[0] for p in pairs], [p[1] for p in pairs]
    elif len(uids) > 1:
        raise SeriesError(
            f"the files belong to {len(uids)} series ({', '.join(sorted(map(str, uids)))[:200]})",
            file=files[0].parent,
            tag="SeriesInstanceUID (0020,000E)",
            fix="pass series_uid= (see `nethelpers index`) or separate the series",
        )
    return kept, headers


def _same(headers: list[RawHeader], files: list[Path], tag: int, label: str) -> Any:
    values = [h.raw(tag) for h in headers]
    first = values[0]
    for f, v in zip(files, values, strict=True):
        if v != first:
            raise SeriesError(f"differs between slices ({first!r} vs {v!r}): mixed images",
                              file=f, tag=label, fix="split the series")
    return first


@dataclass(frozen=True)
class _Geometry:
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


def _geometry(headers: list[RawHeader], files: list[Path],
              tolerance: float = DEFAULT_SLICE_TOLERANCE) -> _Geometry:
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
    return _Geometry(
        order=order,
        origin=tuple(float(v) for v in origin),  # type: ignore[arg-type]
        spacing=(float(spacing[1]), float(spacing[0]), float(step)),
        direction=tuple(float(v) for v in direction),
        shape=(len(files), rows, cols),
        placement=placement,
    )


def _dtype(header: RawHeader, file: Path) -> np.dtype:
    bits = header.int(_BITS)
    signed = header.int(_REPR) == 1
    samples = header.int(_SAMPLES) or 1
    if samples != 1:
        raise SeriesError(f"{samples} samples per pixel: not a grey-scale image", file=file,
                          tag="SamplesPerPixel (0028,0002)")
    kinds = {8: "i1" if signed else "u1", 16: "i2" if signed else "u2",
             32: "i4" if signed else "u4"}
    if bits not in kinds:
        raise SeriesError(f"BitsAllocated {bits} is not supported", file=file,
                          tag="BitsAllocated (0028,0100)")
    return np.dtype(("<" if header.little_endian else ">") + kinds[bits])


def _slice_pixels(file: Path, header: RawHeader, count: int, dtype: np.dtype) -> np.ndarray:
    """Stored values of one slice (flat), read without touching the rest of the file."""
    if header.pixel_offset is not None and not header.encapsulated and not header.via_pydicom:
        nbytes = count * dtype.itemsize
        with open(file, "rb") as fh:
            fh.seek(header.pixel_offset)
            data = fh.read(nbytes)
        if len(data) < nbytes:
            raise SeriesError(f"pixel data truncated ({len(data)} of {nbytes} bytes)", file=file,
                              tag="PixelData (7FE0,0010)", fix="restore the file")
        values = np.frombuffer(data, dtype=dtype, count=count)
        _check_bits_stored(values, header, file)
        return values
    return decode_pixels(file).reshape(-1)  # compressed, deflated, big endian: codecs.py


def _check_bits_stored(values: np.ndarray, header: RawHeader, file: Path) -> None:
    """Refuse stored values that do not fit BitsStored (overlay bits, a wrong header).

    Decoders (pydicom) mask such values to BitsStored and sign-extend them, the raw path
    would not: the same file would give two different SUVs. Neither is trustworthy.
    """
    bits = header.int(_BITS_STORED)
    if bits is None or bits >= 8 * values.dtype.itemsize or values.size == 0:
        return
    signed = values.dtype.kind == "i"
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    lo, hi = int(values.min()), int(values.max())
    if lo < low or hi > high:
        raise SeriesError(
            f"stored values {lo} to {hi} do not fit BitsStored {bits} ({low} to {high}): the "
            "high bits hold something else (overlays) or the header is wrong", file=file,
            tag="BitsStored (0028,0101)",
            fix="re-export the series from the scanner or PACS; do not edit BitsStored by "
            "hand, the values' meaning depends on it")


def _read_volume(
    files: list[Path],
    headers: list[RawHeader],
    geometry: _Geometry,
    scale: np.ndarray,
    offset: np.ndarray,
    out_dtype: type = np.float32,
) -> sitk.Image:
    """Scale each slice (``stored · scale_k + offset_k``) into one image."""
    nz, ny, nx = geometry.shape
    dtype = _dtype(headers[0], files[0])
    pixel_type = {np.float32: sitk.sitkFloat32, np.float64: sitk.sitkFloat64}[out_dtype]
    image = sitk.Image([nx, ny, nz], pixel_type)
    volume = _writable_view(image, (nz, ny, nx), out_dtype)
    for k, i in enumerate(geometry.order):
        stored = _slice_pixels(files[i], headers[i], ny * nx, dtype).reshape(ny, nx)
        target = volume[k]
        if scale[i] == 1.0 and offset[i] == 0.0:
            target[...] = stored
        else:
            np.multiply(stored, scale[i], out=target, casting="unsafe")
            if offset[i] != 0.0:
                target += offset[i]
    del volume
    image.SetOrigin(geometry.origin)
    image.SetSpacing(geometry.spacing)
    image.SetDirection(geometry.direction)
    return image


def _writable_view(image: sitk.Image, shape: tuple[int, int, int], dtype: type) -> np.ndarray:
    """A writable numpy view of a freshly created image's own buffer.

    SimpleITK only hands out read-only views; filling the image through its buffer avoids
    a second copy of the volume (``GetImageFromArray`` copies), which halves peak memory.
    Safe here because the image was just created and nobody else holds it; the caller must
    keep the image alive while the view is in use (the view does not reference it).
    """
    view = sitk.GetArrayViewFromImage(image)
    if view.shape != shape or view.dtype != np.dtype(dtype) or not view.flags.c_contiguous:
        raise AssertionError("unexpected SimpleITK buffer layout")
    address = view.__array_interface__["data"][0]
    ctype = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
    buffer = (ctype[np.dtype(dtype)] * view.size).from_address(address)
    return np.ctypeslib.as_array(buffer).reshape(shape)


def _rescale(headers: list[RawHeader]) -> tuple[np.ndarray, np.ndarray]:
    slopes = np.array([h.float(_SLOPE, 1.0) for h in headers], dtype=np.float64)
    intercepts = np.array([h.float(_INTERCEPT, 0.0) for h in headers], dtype=np.float64)
    return slopes, intercepts


def load_series(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
) -> LoadedSeries:
    """Load any single-frame image series with its rescale applied (float32).

    Parameters
    ----------
    path : path-like or sequence of path-like
        Series folder or files.
    series_uid : str, optional
        Select one series when the folder holds several.
    slice_tolerance : float
        Largest deviation of a slice from a uniform grid, as a fraction of the slice spacing
        (see :mod:`nethelpers.dicom.slicegrid`).

    Returns
    -------
    LoadedSeries
        ``provenance`` holds ``geometry`` and, when slices were placed on a uniform grid,
        ``warnings``.
    """
    return _load_plain(path, series_uid, None, slice_tolerance)


def _load_plain(path: Any, series_uid: str | None, modality: str | None,
                slice_tolerance: float = DEFAULT_SLICE_TOLERANCE) -> LoadedSeries:
    """Read a series with its rescale applied; check its modality when given."""
    files, headers = _headers(series_files(path), series_uid)
    from nethelpers.dicom import multiframe  # here: multiframe imports this module

    if any(multiframe.is_multiframe(h) for h in headers):  # Enhanced / Legacy Converted
        return multiframe.load_multiframe(files, headers, modality=modality,
                                          slice_tolerance=slice_tolerance)
    if modality is not None:
        _expect_modality(headers, files, modality)
    geometry = _geometry(headers, files, slice_tolerance)
    slopes, intercepts = _rescale(headers)
    image = _read_volume(files, headers, geometry, slopes, intercepts)
    provenance: dict[str, Any] = {"geometry": geometry.record()}
    if geometry.note():
        provenance["warnings"] = [geometry.note()]
    return _loaded(image, files, headers, geometry, provenance)


def _loaded(image: sitk.Image, files: list[Path], headers: list[RawHeader], geometry: _Geometry,
            provenance: dict[str, Any]) -> LoadedSeries:
    order = geometry.order
    return LoadedSeries(
        image=image,
        files=tuple(files[i] for i in order),
        headers=[headers[i] for i in order],
        modality=headers[0].text(_MODALITY) or "",
        provenance=provenance,
    )


def _expect_modality(headers: list[RawHeader], files: list[Path], wanted: str) -> None:
    modality = headers[0].text(_MODALITY)
    if modality != wanted:
        raise SeriesError(f"Modality is {modality}, not {wanted}", file=files[0],
                          tag="Modality (0008,0060)", fix=f"pass a {wanted} series")


def load_ct(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
) -> sitk.Image:
    """Load a CT series in Hounsfield units (float32).

    Parameters
    ----------
    path : path-like or sequence of path-like
        Series folder or files.
    series_uid : str, optional
        Select one series when the folder holds several.
    slice_tolerance : float
        See :func:`load_series`.

    Returns
    -------
    SimpleITK.Image
    """
    return _load_plain(path, series_uid, "CT", slice_tolerance).image


def load_mr(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
) -> sitk.Image:
    """Load an MR series (float32, rescale applied when present); see :func:`load_ct`."""
    return _load_plain(path, series_uid, "MR", slice_tolerance).image


def _item_keywords(item: RawDataset) -> dict[str, Any]:
    out: dict[str, Any] = {k: item.text(keyword_tag(k)) for k in _ISOTOPE_TEXT}
    out.update({k: item.float(keyword_tag(k)) for k in _ISOTOPE_NUMBERS})
    codes = item.seq(keyword_tag("RadionuclideCodeSequence"))
    if codes:
        meaning = codes[0].text(keyword_tag("CodeMeaning"))
        out["RadionuclideCodeSequence"] = [{"CodeMeaning": meaning}]
    return out


def pet_keywords(header: RawHeader) -> tuple[dict[str, Any], list[str]]:
    """The SUV-relevant values of one PET file as a keyword mapping.

    Parameters
    ----------
    header : RawHeader
        A full header (private elements included).

    Returns
    -------
    dict
        Keyword -> value, the isotope item under RadiopharmaceuticalInformationSequence,
        Philips and GE private values under ``PhilipsSUVScaleFactor``,
        ``PhilipsActivityConcentrationScaleFactor`` and ``GEScanDateTime``.
    list of str
        Warnings (private elements read without their creator).
    """
    out: dict[str, Any] = {k: header.text(keyword_tag(k)) for k in _PET_TEXT}
    out.update({k: header.float(keyword_tag(k)) for k in _PET_NUMBERS})
    out["CorrectedImage"] = header.texts(keyword_tag("CorrectedImage"))
    items = header.seq(keyword_tag("RadiopharmaceuticalInformationSequence"))
    if items:
        out["RadiopharmaceuticalInformationSequence"] = [_item_keywords(items[0])]
    notes: list[str] = []
    for name, group, creator, element in (
        ("PhilipsSUVScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x00),
        ("PhilipsActivityConcentrationScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x09),
        ("GEScanDateTime", 0x0009, _GE_CREATOR, 0x0D),
    ):
        raw, note = header.private(group, creator, element)
        if raw is not None:
            text = raw.decode("latin-1").strip(" \x00")
            if text:
                out[name] = text
                if note:
                    notes.append(note)
    return out, notes


def load_pet(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    norm: str = "bw",
    *,
    series_uid: str | None = None,
    weight_kg: float | None = None,
    height_m: float | None = None,
    sex: str | None = None,
    dose_bq: float | None = None,
    injection: datetime | None = None,
    half_life_s: float | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
) -> tuple[sitk.Image, dict[str, Any]]:
    """Load a PET series as SUV (float32) with the provenance of the conversion.

    Parameters
    ----------
    path : path-like or sequence of path-like
        Series folder or files.
    norm : str
        ``bw`` (default), ``lbm`` (SUL, Janmahasatian), ``lbm-james`` (James 128),
        ``lbm-james120``, ``bsa`` (cm²/ml) or ``ibw``.
    series_uid : str, optional
        Select one series when the folder holds several.
    weight_kg, height_m, sex, dose_bq, injection, half_life_s : optional
        Clinical-record values that replace or supply header values (recorded).
    slice_tolerance : float
        Largest deviation of a slice from a uniform grid, as a fraction of the slice spacing;
        slices within it are placed on the grid and the provenance says so (``geometry``
        ``slice_placement`` and a warning).

    Returns
    -------
    SimpleITK.Image
        SUV volume.
    dict
        Provenance (see :func:`nethelpers.dicom.suv.suv_conversion`), plus ``files`` (count)
        and ``geometry`` (with ``slice_placement`` when slices were placed on the grid).

    Raises
    ------
    SuvError
        When the SUV cannot be computed without guessing.
    SeriesError
        When the files do not form one regular volume.
    """
    loaded = load_pet_series(path, norm, series_uid=series_uid, weight_kg=weight_kg,
                             height_m=height_m, sex=sex, dose_bq=dose_bq, injection=injection,
                             half_life_s=half_life_s, slice_tolerance=slice_tolerance)
    return loaded.image, loaded.provenance


def load_pet_series(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    norm: str = "bw",
    *,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    **overrides: Any,
) -> LoadedSeries:
    """Like :func:`load_pet`, returning the :class:`LoadedSeries` (files and headers too).

    Parameters
    ----------
    path : path-like or sequence of path-like
        Series folder or files.
    norm : str
        SUV normalisation.
    series_uid : str, optional
        Select one series.
    slice_tolerance : float
        See :func:`load_pet`.
    **overrides
        ``weight_kg``, ``height_m``, ``sex``, ``dose_bq``, ``injection``, ``half_life_s``.

    Returns
    -------
    LoadedSeries
    """
    files, headers = _headers(series_files(path), series_uid)
    from nethelpers.dicom import multiframe  # here: multiframe imports this module

    if any(multiframe.is_multiframe(h) for h in headers):  # Enhanced / Legacy Converted
        return multiframe.load_multiframe(files, headers, modality="PT", norm=norm,
                                          slice_tolerance=slice_tolerance, **overrides)
    _expect_modality(headers, files, "PT")
    for f, h in zip(files, headers, strict=True):
        slope = h.float(_SLOPE)
        if slope is None or not math.isfinite(slope) or slope <= 0:
            raise SuvError(
                "missing" if slope is None else f"{slope:g} is not a positive scale",
                file=f, tag="RescaleSlope (0028,1053)",
                fix="re-export the series: without its slope a PET slice has no scale",
            )
    geometry = _geometry(headers, files, slice_tolerance)
    keywords = [pet_keywords(h) for h in headers]
    notes = sorted({n for _, ns in keywords for n in ns})
    pet = PetHeader.from_keywords([k for k, _ in keywords], [str(f) for f in files], notes)
    conversion: SuvConversion = suv_conversion(pet, norm, **overrides)
    slopes, _ = _rescale(headers)  # intercepts are 0 (checked by the SUV rules)
    image = _read_volume(files, headers, geometry, slopes * conversion.factors,
                         np.zeros(len(files)))
    provenance = dict(conversion.provenance)
    provenance["geometry"] = geometry.record()
    if geometry.note():
        provenance["warnings"] = [*provenance.get("warnings", []), geometry.note()]
    if lossy := warnings_for(headers):  # lossy transfer syntax or LossyImageCompression 01
        provenance["warnings"] = [*provenance.get("warnings", []), *lossy]
    return _loaded(image, files, headers, geometry, provenance)


def resample_like(
    image: sitk.Image,
    reference: sitk.Image,
    *,
    interpolation: str = "linear",
    default: float = 0.0,
) -> sitk.Image:
    """Resample ``image`` onto the grid of ``reference`` (same patient space, no transform).

    Parameters
    ----------
    image : SimpleITK.Image
        Image to resample (e.g. the PET in SUV).
    reference : SimpleITK.Image
        Grid to resample onto (e.g. the CT or MR).
    interpolation : str
        ``"linear"`` (images), ``"nearest"`` (label maps) or ``"bspline"``.
    default : float
        Value outside ``image``.

    Returns
    -------
    SimpleITK.Image
        Same pixel type as ``image``.
    """
    modes = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor,
             "bspline": sitk.sitkBSpline}
    if interpolation not in modes:
        raise ValueError(f"interpolation must be one of {', '.join(modes)}")
    return sitk.Resample(image, reference, sitk.Transform(), modes[interpolation], default,
                         image.GetPixelID())


def provenance_json(provenance: dict[str, Any]) -> str:
    """Format a provenance record as indented JSON."""
    return json.dumps(provenance, indent=2, default=str)
