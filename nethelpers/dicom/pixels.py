"""Pixel values of single-frame slices, scaled straight into one float volume.

Each slice's pixel bytes are read once: uncompressed data straight from the file offset the
header reader found (checked against BitsStored), everything else through
:mod:`nethelpers.dicom.codecs`; ``stored · scale + offset`` is written into the SimpleITK
image's own buffer, so peak memory is about one output volume.

:func:`pixel_data_problem` tells, without decoding, whether a file holds all its pixel data
(the index's check of truncated files).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nethelpers.dicom.codecs import decode_pixels
from nethelpers.dicom.errors import SeriesError
from nethelpers.dicom.rawread import TS_DEFLATED, RawHeader, keyword_tag
from nethelpers.dicom.slicegeometry import SliceGeometry

__all__ = ["PIXEL_TAGS", "pixel_data_problem", "pixel_dtype", "read_volume", "slice_pixels",
           "writable_view"]

_BITS = keyword_tag("BitsAllocated")
_BITS_STORED = keyword_tag("BitsStored")
_REPR = keyword_tag("PixelRepresentation")
_SAMPLES = keyword_tag("SamplesPerPixel")
_ROWS = keyword_tag("Rows")
_COLUMNS = keyword_tag("Columns")
_FRAMES = keyword_tag("NumberOfFrames")
#: The tags :func:`pixel_data_problem` needs in the header.
PIXEL_TAGS = frozenset((_BITS, _SAMPLES, _ROWS, _COLUMNS, _FRAMES))
_ITEM = b"\xfe\xff\x00\xe0"
_SEQUENCE_END = b"\xfe\xff\xdd\xe0"


def _expected_bytes(header: RawHeader, rows: int | None, columns: int | None,
                    frames: int | None) -> int | None:
    """Rows × Columns × BitsAllocated/8 × SamplesPerPixel × NumberOfFrames (None: unknown)."""
    if not rows or not columns:
        return None
    bits = header.int(_BITS)
    if not bits:
        return None
    samples = header.int(_SAMPLES) or 1
    return (rows * columns * (frames or 1) * samples * bits + 7) // 8


def _fragments_problem(file: str | Path, offset: int, size: int, frames: int) -> str | None:
    """Walk the item headers of encapsulated pixel data: each fragment within the file."""
    count = -1  # the first item is the Basic Offset Table
    with open(file, "rb") as fh:
        pos = offset
        while pos + 8 <= size:
            fh.seek(pos)
            head = fh.read(8)
            if head[:4] == _SEQUENCE_END:
                break
            if head[:4] != _ITEM:
                return f"truncated pixel data: item {count + 1} at byte {pos} is not a fragment"
            length = int.from_bytes(head[4:], "little")
            if pos + 8 + length > size:
                return (f"truncated pixel data: fragment {count + 1} needs {length} bytes, "
                        f"{size - pos - 8} left in the file")
            count += 1
            pos += 8 + length
    if count < frames:
        return (f"truncated pixel data: {max(count, 0)} fragment(s) for {frames} frame(s) "
                "of encapsulated pixel data")
    return None


def pixel_data_problem(header: RawHeader, file: str | Path, size: int,
                       shape: tuple[int | None, int | None, int | None] | None = None
                       ) -> str | None:
    """Why a file's pixel data are incomplete, read from the header and the file size only.

    Native pixel data must hold Rows × Columns × BitsAllocated/8 × SamplesPerPixel ×
    NumberOfFrames bytes, within the file; encapsulated pixel data must hold at least one
    fragment per frame, each within the file (item headers are read, nothing is decoded).

    Parameters
    ----------
    header : RawHeader
        Read up to the pixel data (with :data:`PIXEL_TAGS`).
    file : str or pathlib.Path
        The file (encapsulated data: its item headers are read).
    size : int
        The file's size in bytes.
    shape : (int or None, int or None, int or None), optional
        Rows, Columns and NumberOfFrames when the caller has read them already.

    Returns
    -------
    str or None
        ``"truncated pixel data: N of M bytes"`` and the like; None when complete, when the
        object has no image (no Rows) or when the header reader did not locate the data
        (deflated files).
    """
    rows, columns, frames = shape or (header.int(_ROWS), header.int(_COLUMNS),
                                      header.int(_FRAMES))
    expected = _expected_bytes(header, rows, columns, frames)
    if expected is None:
        return None
    if header.encapsulated:
        offset = header.items_offset
        if offset is None:
            return None
        return _fragments_problem(file, offset, size, frames or 1)
    if header.pixel_offset is None or header.pixel_length is None:
        if header.via_pydicom or header.transfer_syntax == TS_DEFLATED:
            return None  # deflated or read by pydicom: the offset is not known
        return f"truncated pixel data: 0 of {expected} bytes (no Pixel Data element)"
    present = min(header.pixel_length, max(size - header.pixel_offset, 0))
    if present < expected:
        return f"truncated pixel data: {present} of {expected} bytes"
    return None


def pixel_dtype(header: RawHeader, file: Path) -> np.dtype:
    """The numpy type of the stored values (grey-scale, 8/16/32 bits, signed or not)."""
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


def slice_pixels(file: Path, header: RawHeader, count: int, dtype: np.dtype) -> np.ndarray:
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


def read_volume(
    files: list[Path],
    headers: list[RawHeader],
    geometry: SliceGeometry,
    scale: np.ndarray,
    offset: np.ndarray,
    out_dtype: type = np.float32,
) -> sitk.Image:
    """Scale each slice (``stored · scale_k + offset_k``) into one image."""
    nz, ny, nx = geometry.shape
    dtype = pixel_dtype(headers[0], files[0])
    pixel_type = {np.float32: sitk.sitkFloat32, np.float64: sitk.sitkFloat64}[out_dtype]
    image = sitk.Image([nx, ny, nz], pixel_type)
    volume = writable_view(image, (nz, ny, nx), out_dtype)
    for k, i in enumerate(geometry.order):
        stored = slice_pixels(files[i], headers[i], ny * nx, dtype).reshape(ny, nx)
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


def writable_view(image: sitk.Image, shape: tuple[int, int, int], dtype: type) -> np.ndarray:
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
