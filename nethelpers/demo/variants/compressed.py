"""A copy of a demo series in a compressed (or deflated) transfer syntax, as PACS export it.

:func:`write_compressed` rewrites every file of a series in one transfer syntax and keeps
everything else, UIDs included, so a test can compare the copy with its original. The
encoders are those a site would meet, each from a maintained package:

- Deflated Explicit VR Little Endian: pydicom (zlib).
- RLE Lossless: pydicom's ``compress`` (pylibjpeg-rle, or pydicom's own encoder).
- JPEG-LS lossless and near-lossless: pydicom's ``compress`` with pyjpegls (CharLS).
- JPEG 2000 lossless and lossy: pydicom's ``compress`` with pylibjpeg-openjpeg.
- JPEG Lossless (Process 14, and its selection value 1) and JPEG baseline: GDCM
  (``python-gdcm``); only the encoded pixel data of GDCM's output are kept.
- JPEG extended 12-bit: dcmtk's ``dcmcjpeg +ee +rm`` (Debian package ``dcmtk``; GDCM
  writes a 16-bit-precision frame that is no valid JPEG); the pixel data and the
  ``RescaleSlope``/``RescaleIntercept`` dcmtk chose for them are kept.

JPEG baseline holds 8-bit and JPEG extended 12-bit samples: for those two syntaxes the
series is first re-quantised, per slice, to unsigned 8 or 12 bits with a new
``RescaleSlope`` (``BitsAllocated``/``BitsStored``/``HighBit``/``PixelRepresentation``
change; negative values become 0). Lossy copies get ``LossyImageCompression`` "01", its
method and ratio (``mark_lossy=False`` leaves them out, as some exporters do); the
SOPInstanceUID is kept although DICOM wants a new one after lossy compression. For
JPEG-LS near-lossless of signed samples the values are first clipped NEAR away from the
ends of their range: JPEG-LS codes two's complement as unsigned, so a hot voxel at +32767
would otherwise wrap around to about -32768 (pydicom refuses to encode such arrays).

The encoders other than pydicom's are only needed to write these variants (``dev``
extras of the project, plus dcmtk for JPEG extended); they are imported when used.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from nethelpers.dicom.volume import series_files

__all__ = [
    "DEFAULT_J2K_RATIO",
    "DEFAULT_JLS_ERROR",
    "DEFAULT_JPEG_QUALITY",
    "ENCODERS",
    "requantise",
    "write_compressed",
]

#: Compression ratio of lossy JPEG 2000 (one quality layer).
DEFAULT_J2K_RATIO = 10.0
#: Largest absolute error (NEAR) of JPEG-LS near-lossless, in stored units.
DEFAULT_JLS_ERROR = 2
#: IJG quality factor of JPEG baseline and extended.
DEFAULT_JPEG_QUALITY = 90

DEFLATED = "1.2.840.10008.1.2.1.99"
RLE = "1.2.840.10008.1.2.5"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEG_LS = "1.2.840.10008.1.2.4.80"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"

#: Transfer syntax -> the encoder :func:`write_compressed` uses for it.
ENCODERS: dict[str, str] = {
    DEFLATED: "pydicom",
    RLE: "pydicom",
    JPEG_LS: "pyjpegls",
    JPEG_LS_NEAR: "pyjpegls",
    J2K_LOSSLESS: "pylibjpeg-openjpeg",
    J2K: "pylibjpeg-openjpeg",
    JPEG_LOSSLESS: "python-gdcm",
    JPEG_LOSSLESS_SV1: "python-gdcm",
    JPEG_BASELINE: "python-gdcm",
    JPEG_EXTENDED: "dcmtk",
}

#: LossyImageCompressionMethod (0028,2114) of the lossy syntaxes.
_LOSSY_METHOD = {JPEG_BASELINE: "ISO_10918_1", JPEG_EXTENDED: "ISO_10918_1",
                 JPEG_LS_NEAR: "ISO_14495_1", J2K: "ISO_15444_1"}
#: Sample precision the syntax holds (others hold the series' own).
_PRECISION = {JPEG_BASELINE: 8, JPEG_EXTENDED: 12}
_PIXEL_MODULE = ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated", "BitsStored",
                 "PixelRepresentation", "PhotometricInterpretation")


def _ds_text(value: float) -> str:
    """A DS string (at most 16 characters) a hair above ``value`` (never below it)."""
    return f"{value * (1 + 1e-9):.10g}"


def requantise(ds: Dataset, bits: int) -> None:
    """Re-store a slice as unsigned ``bits``-bit samples with a new RescaleSlope (in place).

    Parameters
    ----------
    ds : pydicom.dataset.Dataset
        An uncompressed single-frame grey-scale slice with RescaleSlope (intercept 0).
    bits : int
        8 (stored in 8-bit words) or 12 (stored in 16-bit words).
    """
    values = ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1.0))
    top = (1 << bits) - 1
    peak = float(values.max())
    slope = _ds_text(peak / top) if peak > 0 else "1"
    stored = np.clip(np.rint(values / float(slope)), 0, top)
    allocated = 8 if bits <= 8 else 16
    ds.BitsAllocated = allocated
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope = slope
    ds.PixelData = stored.astype(np.uint8 if allocated == 8 else "<u2").tobytes()
    ds["PixelData"].VR = "OB" if allocated == 8 else "OW"
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
        if keyword in ds:
            del ds[keyword]


def _gdcm(syntax: str, quality: int | None) -> Callable[[Path, Path], None]:
    def encode(src: Path, dst: Path) -> None:
        try:
            import gdcm
        except ImportError:
            raise RuntimeError(f"writing {syntax} needs GDCM: pip install python-gdcm") from None
        reader = gdcm.ImageReader()
        reader.SetFileName(str(src))
        if not reader.Read():
            raise RuntimeError(f"GDCM cannot read {src}")
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.GetTSType(syntax)))
        if quality is not None:
            codec = gdcm.JPEGCodec()
            codec.SetLossless(False)
            codec.SetQuality(float(quality))
            change.SetUserCodec(codec)
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise RuntimeError(f"GDCM cannot encode {src} as {syntax}")
        writer = gdcm.ImageWriter()
        writer.SetFileName(str(dst))
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise RuntimeError(f"GDCM cannot write {dst}")

    return encode


def _dcmtk_extended(quality: int) -> Callable[[Path, Path], None]:
    def encode(src: Path, dst: Path) -> None:
        exe = shutil.which("dcmcjpeg")
        if exe is None:
            raise RuntimeError("writing JPEG extended 12-bit needs dcmtk's dcmcjpeg: "
                               "apt-get install dcmtk")
        # +rm: rescale the samples into 12 bits with a new RescaleSlope (the default, an
        # identity rescale, clips every value above 4095); +un: keep the SOPInstanceUID
        subprocess.run([exe, "+ee", "+q", str(quality), "+rm", "+un", str(src), str(dst)],
                       check=True, capture_output=True)

    return encode


def _graft(ds: Dataset, syntax: str, encode: Callable[[Path, Path], None]) -> None:
    """Encode ``ds`` with an external encoder; keep its pixel data and rescale only."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.dcm", Path(tmp) / "out.dcm"
        ds.save_as(src, enforce_file_format=True)
        encode(src, dst)
        encoded = pydicom.dcmread(dst)
    if str(encoded.file_meta.TransferSyntaxUID) != syntax:
        raise RuntimeError(f"the encoder wrote {encoded.file_meta.TransferSyntaxUID}, "
                           f"not {syntax}")
    changed = [k for k in _PIXEL_MODULE if encoded.get(k) != ds.get(k)]
    if changed:
        raise RuntimeError(f"the encoder changed {', '.join(changed)}")
    for keyword in ("RescaleSlope", "RescaleIntercept"):  # dcmtk rescales lossy JPEG
        if keyword in encoded:
            setattr(ds, keyword, encoded[keyword].value)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encoded.PixelData
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True


def _within_jls_range(ds: Dataset, jls_error: int) -> np.ndarray:
    """Stored values clipped NEAR away from a signed range's ends (else they wrap around).

    JPEG-LS codes two's complement samples as unsigned: a reconstruction error of up to
    NEAR at +32767 would decode as about -32768. pydicom refuses such arrays; this clip
    (at most NEAR stored units, within the lossy error anyway) is what a careful encoder
    does.
    """
    stored = ds.pixel_array
    if ds.PixelRepresentation != 1 or not jls_error:
        return stored
    half = 1 << (int(ds.BitsStored) - 1)
    return np.clip(stored, -half + jls_error, half - 1 - jls_error).astype(stored.dtype)


def _encode(ds: Dataset, syntax: str, j2k_ratio: float, jls_error: int,
            jpeg_quality: int) -> None:
    if syntax == DEFLATED:
        ds.file_meta.TransferSyntaxUID = syntax
    elif syntax == RLE:
        ds.compress(syntax, generate_instance_uid=False)
    elif syntax == JPEG_LS:
        ds.compress(syntax, encoding_plugin="pyjpegls", generate_instance_uid=False)
    elif syntax == JPEG_LS_NEAR:
        ds.compress(syntax, _within_jls_range(ds, jls_error), encoding_plugin="pyjpegls",
                    jls_error=jls_error, generate_instance_uid=False)
    elif syntax == J2K_LOSSLESS:
        ds.compress(syntax, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    elif syntax == J2K:
        ds.compress(syntax, encoding_plugin="pylibjpeg", j2k_cr=[j2k_ratio],
                    generate_instance_uid=False)
    elif syntax in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1):
        _graft(ds, syntax, _gdcm(syntax, None))
    elif syntax == JPEG_BASELINE:
        _graft(ds, syntax, _gdcm(syntax, jpeg_quality))
    elif syntax == JPEG_EXTENDED:
        _graft(ds, syntax, _dcmtk_extended(jpeg_quality))
    else:
        raise ValueError(f"no encoder for transfer syntax {syntax}; one of "
                         f"{', '.join(ENCODERS)}")


def _mark_lossy(ds: Dataset, syntax: str, raw_bytes: int) -> None:
    compressed = len(ds.PixelData)
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = f"{raw_bytes / compressed:.4g}"
    ds.LossyImageCompressionMethod = _LOSSY_METHOD[syntax]


def write_compressed(
    series_dir: str | Path,
    out_dir: str | Path,
    syntax: str,
    *,
    j2k_ratio: float = DEFAULT_J2K_RATIO,
    jls_error: int = DEFAULT_JLS_ERROR,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
    mark_lossy: bool = True,
) -> list[Path]:
    """Write a copy of a single-frame series in another transfer syntax.

    Parameters
    ----------
    series_dir : path-like
        A series folder (uncompressed, one file per slice), e.g. a demo PET.
    out_dir : path-like
        Folder for the copy (created); files keep their names.
    syntax : str
        Transfer Syntax UID, one of :data:`ENCODERS`.
    j2k_ratio : float
        Compression ratio of lossy JPEG 2000 (1.2.840.10008.1.2.4.91).
    jls_error : int
        Largest error of JPEG-LS near-lossless (1.2.840.10008.1.2.4.81), stored units.
    jpeg_quality : int
        IJG quality of JPEG baseline and extended (1.2.840.10008.1.2.4.50 and .51).
    mark_lossy : bool
        Add LossyImageCompression "01", its ratio and method to lossy copies.

    Returns
    -------
    list of pathlib.Path
        The files written, in the order of the originals' names.

    Raises
    ------
    ValueError
        For a syntax without an encoder here.
    RuntimeError
        When an encoder is missing or fails.
    """
    if syntax not in ENCODERS:
        raise ValueError(f"no encoder for transfer syntax {syntax}; one of "
                         f"{', '.join(ENCODERS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for source in series_files(series_dir):
        ds = pydicom.dcmread(source)
        if syntax in _PRECISION:
            requantise(ds, _PRECISION[syntax])
        raw_bytes = len(ds.PixelData)
        _encode(ds, syntax, j2k_ratio, jls_error, jpeg_quality)
        if mark_lossy and syntax in _LOSSY_METHOD:
            _mark_lossy(ds, syntax, raw_bytes)
        path = out / source.name
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written
