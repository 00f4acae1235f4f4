"""Multi-frame volumes: Enhanced and Legacy Converted Enhanced PET, CT and MR objects.

:func:`load_multiframe` reads one multi-frame file as a volume: its frames, flattened by
:func:`~nethelpers.dicom.frameviews.frame_views`, are placed with
:func:`~nethelpers.dicom.slicegrid.fit_slices` (sorted along the normal, on a uniform grid
within the slice tolerance) and each is scaled by its own RescaleSlope (and, for PET, its SUV
factor) into a float32 SimpleITK image, read once, one frame at a time. PET values follow the
same SUV rules and provenance as single-frame series, the Enhanced PET semantics mapped by
:mod:`nethelpers.dicom.enhancedpet`. ``load_series``, ``load_ct``, ``load_mr``,
``load_pet`` and ``load_pet_series`` hand a multi-frame file here.

What is refused: a series split over several files of which one is multi-frame (a
concatenation is not joined: pass the one file), frames of mixed orientation or pixel
spacing, several frames at one position (dynamic, gated or several stacks: one volume is
read, not a time series), missing or non-uniform frames beyond the tolerance, and multi-frame
objects without functional groups (secondary capture). NM objects (SPECT reconstructions) are
placed by :mod:`nethelpers.dicom.nmimage` and read here like the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.dicom import codecs
from nethelpers.dicom.enhancedpet import enhanced_pet_keywords, finish_provenance
from nethelpers.dicom.errors import DicomInputError, SeriesError, SuvError
from nethelpers.dicom.frameviews import (
    ENHANCED_SOP_CLASSES,
    FrameViews,
    frame_views,
    is_multiframe,
    object_name,
)
from nethelpers.dicom.nmimage import is_nm_object, nm_frame_views
from nethelpers.dicom.pixels import pixel_dtype, writable_view
from nethelpers.dicom.rawread import TS_DEFLATED, RawHeader, keyword_tag
from nethelpers.dicom.slicegeometry import SliceGeometry
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE, SliceGridError, fit_slices
from nethelpers.dicom.suv import PetHeader, suv_conversion
from nethelpers.dicom.volume import LoadedSeries

__all__ = [
    "ENHANCED_SOP_CLASSES",
    "FrameViews",
    "frame_geometry",
    "frame_views",
    "is_multiframe",
    "load_multiframe",
    "object_name",
    "read_frames",
]

_MODALITY = keyword_tag("Modality")
_IOP = keyword_tag("ImageOrientationPatient")
_IPP = keyword_tag("ImagePositionPatient")
_SPACING = keyword_tag("PixelSpacing")
_SLOPE = keyword_tag("RescaleSlope")
_INTERCEPT = keyword_tag("RescaleIntercept")
_RESCALE_TAGS = {"RescaleSlope": "RescaleSlope (0028,1053)",
                 "RescaleIntercept": "RescaleIntercept (0028,1052)"}


# --------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------

_IOP_LABEL = "ImageOrientationPatient (0020,0037)"
_IPP_LABEL = "ImagePositionPatient (0020,0032)"
_SPACING_LABEL = "PixelSpacing (0028,0030)"


def _vector(frames: FrameViews, index: int, tag: int, size: int, label: str) -> list[float]:
    value = frames.headers[index].floats(tag)
    if not value or len(value) != size:
        raise SeriesError(f"missing or invalid in frame {index + 1} (functional groups "
                          "PlaneOrientationSequence, PlanePositionSequence, "
                          "PixelMeasuresSequence)", file=frames.file, tag=label,
                          fix="re-export the object, or the series as single-frame files")
    return value


def _same_for_all(frames: FrameViews, tag: int, size: int, label: str, what: str,
                  atol: float) -> np.ndarray:
    values = np.array([_vector(frames, i, tag, size, label)
                       for i in range(len(frames.headers))])
    bad = np.flatnonzero(np.abs(values - values[0]).max(axis=1) > atol)
    if len(bad):
        k = int(bad[0])
        raise SeriesError(
            f"{what}: frame {k + 1} has {values[k].tolist()}, frame 1 {values[0].tolist()}",
            file=frames.file, tag=label,
            fix="split the frames into one object per orientation/stack (e.g. with "
                "highdicom or dcmtk) and load one of them")
    return values[0]


def frame_geometry(frames: FrameViews, tolerance: float = DEFAULT_SLICE_TOLERANCE
                   ) -> SliceGeometry:
    """Sort the frames along the normal and place them on a uniform grid.

    Parameters
    ----------
    frames : FrameViews
        The flattened frames.
    tolerance : float
        Slice tolerance of :func:`~nethelpers.dicom.slicegrid.fit_slices`.

    Returns
    -------
    nethelpers.dicom.slicegeometry.SliceGeometry
        ``order`` indexes the frames (file order), as for the files of a series.

    Raises
    ------
    SeriesError
        Mixed orientation or pixel spacing, duplicate positions (several time points or
        stacks), missing or non-uniform frames, sheared positions.
    """
    n = len(frames.headers)
    iop = _same_for_all(frames, _IOP, 6, _IOP_LABEL, "frames of mixed orientation", 1e-4)
    spacing = _same_for_all(frames, _SPACING, 2, _SPACING_LABEL,
                            "frames of mixed pixel spacing", 1e-6)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    ipp = np.array([_vector(frames, i, _IPP, 3, _IPP_LABEL) for i in range(n)])
    along = ipp @ normal
    placement = None
    if n > 1:
        try:
            placement = fit_slices(along, tolerance)
        except SliceGridError as exc:
            order = np.argsort(along, kind="stable")
            frame = int(order[min(exc.index, n - 1)]) + 1
            fix = exc.fix
            if exc.kind == "duplicate":
                fix = ("the object holds several frames per position (a dynamic or gated "
                       "acquisition, or several stacks): extract one time point or stack "
                       "(e.g. with highdicom) and load that")
            raise SeriesError(f"frame {frame}: {exc.problem}", file=frames.file,
                              tag=_IPP_LABEL, fix=fix) from None
        order = placement.order
        step = placement.step
        lateral = ipp[order] - ipp[order[0]] - np.outer(placement.positions
                                                        - placement.positions[0], normal)
        if np.abs(lateral).max() > max(1e-2, 0.01 * step):
            raise SeriesError("frame positions are sheared (gantry tilt?): they do not lie "
                              "on the slice normal", file=frames.file, tag=_IPP_LABEL,
                              fix="resample the volume to an orthogonal grid first")
        origin = placement.origin(ipp[order[0]], normal)
    else:
        order = np.zeros(1, dtype=int)
        origin = ipp[0]
        h = frames.headers[0]
        step = h.float(keyword_tag("SpacingBetweenSlices")) or h.float(
            keyword_tag("SliceThickness"))
        if not step or step <= 0:
            raise SeriesError("a single frame without SpacingBetweenSlices or "
                              "SliceThickness has no known thickness", file=frames.file,
                              tag="SliceThickness (0018,0050)")
    h = frames.headers[0]
    direction = (row[0], col[0], normal[0], row[1], col[1], normal[1], row[2], col[2], normal[2])
    return SliceGeometry(
        order=order,
        origin=tuple(float(v) for v in origin),  # type: ignore[arg-type]
        spacing=(float(spacing[1]), float(spacing[0]), float(step)),
        direction=tuple(float(v) for v in direction),
        shape=(n, h.int(keyword_tag("Rows")) or 0, h.int(keyword_tag("Columns")) or 0),
        placement=placement,
    )


# --------------------------------------------------------------------------------------
# Pixels
# --------------------------------------------------------------------------------------


def _scale_into(target: np.ndarray, stored: np.ndarray, scale: float, offset: float) -> None:
    """``stored · scale + offset`` into the float32 target, as the single-frame reader does."""
    if scale == 1.0 and offset == 0.0:
        target[...] = stored
        return
    np.multiply(stored, scale, out=target, casting="unsafe")
    if offset != 0.0:
        target += offset


def _native_frames(file: Path, header: RawHeader, n: int, count: int, dtype: np.dtype):
    """Yield (frame index, stored values) of uncompressed pixel data, one frame at a time."""
    nbytes = count * dtype.itemsize
    if header.pixel_length is not None and header.pixel_length < n * nbytes:
        raise SeriesError(f"pixel data hold {header.pixel_length} bytes, {n} frames need "
                          f"{n * nbytes}", file=file, tag="PixelData (7FE0,0010)",
                          fix="restore the file from the archive")
    assert header.pixel_offset is not None
    with open(file, "rb") as fh:
        fh.seek(header.pixel_offset)
        for i in range(n):
            data = fh.read(nbytes)
            if len(data) < nbytes:
                raise SeriesError(f"pixel data truncated in frame {i + 1}", file=file,
                                  tag="PixelData (7FE0,0010)", fix="restore the file")
            yield i, np.frombuffer(data, dtype=dtype, count=count)


def _decoded_frames(file: Path, header: RawHeader):
    """Yield (frame index, stored values) of compressed, deflated or big-endian pixel data."""
    from pydicom.pixels import iter_pixels

    codec = codecs.codec_for(header.transfer_syntax, file)
    plugin = codecs._plugin(codec, file)  # noqa: SLF001 - the same decoder choice as codecs
    # a deflated file is inflated by dcmread only (iter_pixels' own parser cannot)
    source = (codecs._read(file) if header.transfer_syntax == TS_DEFLATED  # noqa: SLF001
              else file)
    try:
        for i, frame in enumerate(iter_pixels(source, decoding_plugin=plugin)):
            yield i, np.asarray(frame).reshape(-1)
    except DicomInputError:
        raise
    except Exception as exc:  # decoders raise many kinds of errors on damaged data
        raise SeriesError(f"{codec.name} pixel data cannot be decoded: {type(exc).__name__}: "
                          f"{exc}", file=file, tag="PixelData (7FE0,0010)",
                          fix="restore the file from the archive or " + codecs.EXPORT_HINT
                          ) from None


def read_frames(frames: FrameViews, header: RawHeader, geometry: SliceGeometry,
                scale: np.ndarray, offset: np.ndarray) -> sitk.Image:
    """Read every frame once and scale it (``stored · scale_i + offset_i``) into one image.

    Parameters
    ----------
    frames : FrameViews
        The frames (file order).
    header : RawHeader
        The file's header (pixel data location, transfer syntax, pixel description).
    geometry : nethelpers.dicom.slicegeometry.SliceGeometry
        Where each frame goes (``order``).
    scale, offset : numpy.ndarray
        Per frame, in file order.

    Returns
    -------
    SimpleITK.Image
        float32.
    """
    nz, ny, nx = geometry.shape
    dtype = pixel_dtype(header, frames.file)
    slot = np.empty(nz, dtype=int)
    slot[geometry.order] = np.arange(nz)
    image = sitk.Image([nx, ny, nz], sitk.sitkFloat32)
    volume = writable_view(image, (nz, ny, nx), np.float32)
    native = (header.pixel_offset is not None and not header.encapsulated
              and not header.via_pydicom)
    source = (_native_frames(frames.file, header, nz, ny * nx, dtype) if native
              else _decoded_frames(frames.file, header))
    seen = 0
    for i, stored in source:
        if i >= nz or stored.size != ny * nx:
            raise SeriesError(f"frame {i + 1} does not fit {nz} frames of {ny} x {nx}",
                              file=frames.file, tag="PixelData (7FE0,0010)",
                              fix="restore the file from the archive")
        _scale_into(volume[slot[i]], stored.reshape(ny, nx), scale[i], offset[i])
        seen += 1
    if seen != nz:
        raise SeriesError(f"{seen} frames decoded, NumberOfFrames is {nz}", file=frames.file,
                          tag="PixelData (7FE0,0010)", fix="restore the file from the archive")
    del volume
    image.SetOrigin(geometry.origin)
    image.SetSpacing(geometry.spacing)
    image.SetDirection(geometry.direction)
    return image


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def _rescale(frames: FrameViews, pet: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame RescaleSlope and RescaleIntercept (PixelValueTransformationSequence)."""
    slopes, intercepts = [], []
    for i, h in enumerate(frames.headers):
        slope = h.float(_SLOPE)
        if pet and (slope is None or not np.isfinite(slope) or slope <= 0):
            raise SuvError(
                f"{'missing' if slope is None else f'{slope:g} is not a positive scale'} "
                "in PixelValueTransformationSequence (0028,9145) of this frame",
                file=frames.frame_name(i), tag="RescaleSlope (0028,1053)",
                fix="re-export the object: without its slope a PET frame has no scale")
        slopes.append(1.0 if slope is None else slope)
        intercepts.append(h.float(_INTERCEPT, 0.0))
    return np.array(slopes, dtype=np.float64), np.array(intercepts, dtype=np.float64)


def _one_file(files: Sequence[Path], headers: Sequence[RawHeader]) -> tuple[Path, RawHeader]:
    multi = [i for i, h in enumerate(headers) if is_multiframe(h)]
    if len(files) == 1:
        return Path(files[0]), headers[0]
    first = multi[0] if multi else 0
    concatenation = headers[first].text(keyword_tag("ConcatenationUID"))
    what = ("a concatenation (ConcatenationUID): one object split over several files"
            if concatenation else f"{len(files)} files, {len(multi)} of them multi-frame")
    raise SeriesError(
        f"the series is {what}; a multi-frame object is read on its own and files are not "
        "joined", file=Path(files[first]), tag="NumberOfFrames (0028,0008)",
        fix="pass the one multi-frame file (or series_uid= of its series); join a "
            "concatenation first (e.g. dcmtk, or re-export it as one object)")


def load_multiframe(
    files: Sequence[Path],
    headers: Sequence[RawHeader],
    *,
    modality: str | None = None,
    norm: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    **overrides: Any,
) -> LoadedSeries:
    """Load a multi-frame object as a volume; PET as SUV when ``norm`` is given.

    Parameters
    ----------
    files : sequence of pathlib.Path
        The series' files: exactly one multi-frame file.
    headers : sequence of RawHeader
        Their full headers.
    modality : str, optional
        Expected Modality (``"PT"``, ``"CT"``, ``"MR"``).
    norm : str, optional
        SUV normalisation (see :func:`nethelpers.dicom.volume.load_pet`); None returns the
        rescaled values (Bq/ml for a BQML PET).
    slice_tolerance : float
        Largest deviation of a frame from a uniform grid, as a fraction of the spacing.
    **overrides
        ``weight_kg``, ``height_m``, ``sex``, ``dose_bq``, ``injection``, ``half_life_s``.

    Returns
    -------
    LoadedSeries
        ``files`` is the one file; ``headers`` holds one flat header per frame in slice
        order (:func:`frame_views`: the frame's values under their classic keywords, so
        :func:`~nethelpers.dicom.volume.pet_keywords` reads them); ``provenance`` names
        the ``object`` and, for PET, where each SUV value came from (``sources``).

    Raises
    ------
    SeriesError
        Several files, mixed orientation, several frames per position, gaps.
    SuvError
        PET values that cannot be converted without guessing.
    """
    file, header = _one_file(files, headers)
    found = header.text(_MODALITY) or ""
    if modality is not None and found != modality:
        raise SeriesError(f"Modality is {found}, not {modality}", file=file,
                          tag="Modality (0008,0060)", fix=f"pass a {modality} series")
    nm_notes: list[str] = []
    if is_nm_object(header):  # NM RECON TOMO (SPECT): geometry from the NM modules
        frames, scale, nm_notes = nm_frame_views(header, file)
        nm_notes.insert(0, f"values: {scale.units} from {scale.source}")
    else:
        frames = frame_views(header, file)
    for keyword, where in frames.conflicts:  # PET conflicts are refused by the SUV mapping
        if keyword in _RESCALE_TAGS:
            raise SeriesError(f"found twice with different values: {where}", file=file,
                              tag=_RESCALE_TAGS[keyword], fix="check the object with the "
                              "vendor: the pixel scale is ambiguous")
    geometry = frame_geometry(frames, slice_tolerance)
    pet = norm is not None and found == "PT"
    slopes, intercepts = _rescale(frames, pet)
    provenance: dict[str, Any] = {"object": frames.object, "file": str(file),
                                  "frames": len(frames.headers)}
    if pet:
        conversion = _suv(frames, norm, overrides)  # type: ignore[arg-type]
        image = read_frames(frames, header, geometry, slopes * conversion.factors,
                            np.zeros(len(slopes)))
        provenance = {**conversion.provenance, **provenance}
    else:
        image = read_frames(frames, header, geometry, slopes, intercepts)
    provenance["geometry"] = geometry.record()
    if nm_notes:
        provenance["nm_notes"] = nm_notes
    warnings = [w for w in (geometry.note(), *codecs.warnings_for([header])) if w]
    if warnings:
        provenance["warnings"] = [*provenance.get("warnings", []), *warnings]
    order = geometry.order
    return LoadedSeries(image=image, files=(file,), headers=[frames.headers[i] for i in order],
                        modality=found, provenance=provenance)


def _suv(frames: FrameViews, norm: str, overrides: dict[str, Any]) -> Any:
    """The SUV conversion of a PET object's frames (rules of :mod:`nethelpers.dicom.suv`)."""
    keywords, notes, mapping = enhanced_pet_keywords(frames)
    pet = PetHeader.from_keywords(keywords, [frames.frame_name(i) for i in range(len(keywords))],
                                  notes)
    conversion = suv_conversion(pet, norm, **overrides)
    finish_provenance(conversion.provenance, mapping)
    return conversion
