"""Pixel values of single-frame slices, scaled straight into one float volume.

Each slice's pixel bytes are read once: uncompressed data straight from the file offset the
header reader found (checked against BitsStored), everything else through
:mod:`nethelpers.dicom.codecs`; ``stored · scale + offset`` is written into the SimpleITK
image's own buffer, so peak memory is about one output volume.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from nethelpers.dicom.codecs import decode_pixels
from nethelpers.dicom.errors import SeriesError
from nethelpers.dicom.rawread import RawHeader, keyword_tag
from nethelpers.dicom.slicegeometry import SliceGeometry

__all__ = ["pixel_dtype", "read_volume", "slice_pixels", "writable_view"]

_BITS = keyword_tag("BitsAllocated")
_BITS_STORED = keyword_tag("BitsStored")
_REPR = keyword_tag("PixelRepresentation")
_SAMPLES = keyword_tag("SamplesPerPixel")


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
