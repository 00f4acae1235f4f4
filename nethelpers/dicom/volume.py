"""Load DICOM series as SimpleITK images: PET in SUV, CT in HU, MR; resample between grids.

SPECT (NM reconstructions, PT from SPECT systems) loads with :func:`load_emission_series`
(:mod:`nethelpers.dicom.spectload`): SUV when quantitative, counts otherwise.

A series is read in two passes: headers first (stopping at the pixel data), so slices can be
sorted along the slice normal, checked (one orientation, one size, uniform spacing, no
missing or duplicate slices) and, for PET, converted to SUV factors by
:mod:`nethelpers.dicom.suv`; then each slice's pixel bytes are read once and scaled straight
into the float32 output (``SUV = stored · RescaleSlope · factor``), written straight into the
SimpleITK image's buffer: peak memory is about one output volume plus the headers.

The grid comes from :mod:`nethelpers.dicom.slicegeometry`, the pixels from
:mod:`nethelpers.dicom.pixels`, a PET's SUV-relevant header values from
:mod:`nethelpers.dicom.petkeywords`; multi-frame objects go to
:mod:`nethelpers.dicom.multiframe`. Arrays from ``sitk.GetArrayFromImage`` are (z, y, x).
"""

from __future__ import annotations

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

from nethelpers.dicom.codecs import warnings_for
from nethelpers.dicom.errors import SeriesError, SuvError
from nethelpers.dicom.index import NON_DICOM_SUFFIXES
from nethelpers.dicom.nmimage import is_nm_object
from nethelpers.dicom.petkeywords import pet_keywords
from nethelpers.dicom.pixels import read_volume
from nethelpers.dicom.rawread import (
    RawHeader,
    RawReadError,
    keyword_tag,
    read_header,
)
from nethelpers.dicom.slicegeometry import SliceGeometry, slice_geometry
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.dicom.suv import PetHeader, SuvConversion, suv_conversion

__all__ = [
    "LoadedSeries",
    "load_ct",
    "load_emission_series",
    "load_mr",
    "load_pet",
    "load_series",
    "pet_keywords",
    "resample_like",
    "series_files",
]

_SERIES_UID = keyword_tag("SeriesInstanceUID")
_MODALITY = keyword_tag("Modality")
_SLOPE = keyword_tag("RescaleSlope")
_INTERCEPT = keyword_tag("RescaleIntercept")

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

    if any(multiframe.is_multiframe(h) or is_nm_object(h) for h in headers):  # Enhanced, NM
        return multiframe.load_multiframe(files, headers, modality=modality,
                                          slice_tolerance=slice_tolerance)
    if modality is not None:
        _expect_modality(headers, files, modality)
    geometry = slice_geometry(headers, files, slice_tolerance)
    slopes, intercepts = _rescale(headers)
    image = read_volume(files, headers, geometry, slopes, intercepts)
    provenance: dict[str, Any] = {"geometry": geometry.record()}
    if geometry.note():
        provenance["warnings"] = [geometry.note()]
    return _loaded(image, files, headers, geometry, provenance)


def _loaded(image: sitk.Image, files: list[Path], headers: list[RawHeader], geometry: SliceGeometry,
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
    from nethelpers.dicom.spectload import emission  # here: spectload imports this module

    files, headers = _headers(series_files(path), series_uid)
    return emission(files, headers, norm, slice_tolerance, overrides, counts_ok=False)


def load_emission_series(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    norm: str = "bw",
    *,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    **overrides: Any,
) -> LoadedSeries:
    """Load a PET or SPECT series: SUV where the values are activity, else counts.

    Parameters
    ----------
    path : path-like or sequence of path-like
        Series folder or files (an NM object is one file).
    norm : str
        SUV normalisation (see :func:`load_pet`).
    series_uid : str, optional
        Select one series.
    slice_tolerance : float
        See :func:`load_pet`.
    **overrides
        ``weight_kg``, ``height_m``, ``sex``, ``dose_bq``, ``injection``, ``half_life_s``.

    Returns
    -------
    LoadedSeries
        See :func:`nethelpers.dicom.spectload.emission`: SUV for PET and quantitative SPECT
        (``provenance["system"]`` PET or SPECT, ``["quantity"]`` SUV), counts for
        counts-only SPECT (``["quantity"]`` counts, no factor).
    """
    from nethelpers.dicom.spectload import emission  # here: spectload imports this module

    files, headers = _headers(series_files(path), series_uid)
    return emission(files, headers, norm, slice_tolerance, overrides, counts_ok=True)


def _load_pet_slices(files: list[Path], headers: list[RawHeader], norm: str,
                     slice_tolerance: float, overrides: dict[str, Any]) -> LoadedSeries:
    """A single-frame PET series in SUV (the SUV rules of :mod:`nethelpers.dicom.suv`)."""
    for f, h in zip(files, headers, strict=True):
        slope = h.float(_SLOPE)
        if slope is None or not math.isfinite(slope) or slope <= 0:
            raise SuvError(
                "missing" if slope is None else f"{slope:g} is not a positive scale",
                file=f, tag="RescaleSlope (0028,1053)",
                fix="re-export the series: without its slope a PET slice has no scale",
            )
    geometry = slice_geometry(headers, files, slice_tolerance)
    keywords = [pet_keywords(h) for h in headers]
    notes = sorted({n for _, ns in keywords for n in ns})
    pet = PetHeader.from_keywords([k for k, _ in keywords], [str(f) for f in files], notes)
    conversion: SuvConversion = suv_conversion(pet, norm, **overrides)
    slopes, _ = _rescale(headers)  # intercepts are 0 (checked by the SUV rules)
    image = read_volume(files, headers, geometry, slopes * conversion.factors,
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
