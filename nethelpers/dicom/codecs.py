"""Transfer syntaxes: which ones are read, which package decodes them, which are lossy.

Real PACS exports arrive compressed: JPEG Lossless (Process 14, selection value 1) is the
most common lossless syntax, JPEG 2000 and JPEG-LS follow. :data:`CODECS` lists every
transfer syntax the loader reads, with the package that decodes it through pydicom's pixel
backend (``pylibjpeg`` with its ``libjpeg``, ``openjpeg`` and ``rle`` plugins; pydicom
itself for the native and deflated syntaxes). :func:`decode_pixels` decodes one file with
that package and refuses, naming the file and ``TransferSyntaxUID (0002,0010)``, a syntax
it cannot decode.

Lossy syntaxes (JPEG baseline and extended, JPEG 2000 with irreversible coding allowed,
JPEG-LS near-lossless, HTJ2K) are read but flagged: a PET stored lossy holds values that
are not the scanner's, so its SUVs carry the compression error. :func:`warnings_for`
states that for a series, and also when ``LossyImageCompression (0028,2110)`` says the
pixel data were lossy compressed at some point (e.g. decompressed again before export).

Signed data: pydicom applies ``PixelRepresentation`` and ``BitsStored`` after decoding
(two's complement within ``BitsStored`` bits), so negative PET values survive a JPEG
Lossless or JPEG-LS round trip whose codestream carries unsigned samples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.rawread import RawHeader, keyword_tag

__all__ = [
    "CODECS",
    "TS_TAG",
    "Codec",
    "codec_for",
    "decode_pixels",
    "is_lossy",
    "jpeg_ls_near",
    "warnings_for",
]

JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
RLE = "1.2.840.10008.1.2.5"
#: JPEG's end-of-image and JPEG 2000's end-of-codestream marker.
_END_MARKER = b"\xff\xd9"
#: The element every refusal names.
TS_TAG = "TransferSyntaxUID (0002,0010)"
#: The syntax a refused series should be re-exported in.
EXPORT_HINT = ("re-export the series from the scanner or PACS uncompressed (Explicit VR "
               "Little Endian, 1.2.840.10008.1.2.1) or in a lossless syntax listed in "
               "nethelpers.dicom.codecs.CODECS")

_LOSSY_TAG = keyword_tag("LossyImageCompression")
_LOSSY_METHOD_TAG = keyword_tag("LossyImageCompressionMethod")
_LOSSY_RATIO_TAG = keyword_tag("LossyImageCompressionRatio")


@dataclass(frozen=True)
class Codec:
    """One readable transfer syntax.

    Attributes
    ----------
    uid : str
        Transfer Syntax UID.
    name : str
        Its name in DICOM PS3.6.
    lossy : bool
        The syntax allows irreversible coding: stored values may differ from the scanner's.
    packages : tuple of str
        The pip packages that decode it (empty: pydicom alone).
    plugin : str
        The pydicom decoding plugin used (``""``: pydicom's native decoder).
    """

    uid: str
    name: str
    lossy: bool
    packages: tuple[str, ...]
    plugin: str


_LIBJPEG = ("pylibjpeg", "pylibjpeg-libjpeg")
_OPENJPEG = ("pylibjpeg", "pylibjpeg-openjpeg")

#: Every transfer syntax the loader reads, by UID.
CODECS: dict[str, Codec] = {c.uid: c for c in (
    Codec("1.2.840.10008.1.2", "Implicit VR Little Endian", False, (), ""),
    Codec("1.2.840.10008.1.2.1", "Explicit VR Little Endian", False, (), ""),
    Codec("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian", False, (), ""),
    Codec("1.2.840.10008.1.2.2", "Explicit VR Big Endian", False, (), ""),
    Codec("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)", True, _LIBJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)", True, _LIBJPEG,
          "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.57", "JPEG Lossless, Non-Hierarchical (Process 14)", False,
          _LIBJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.70", "JPEG Lossless, Non-Hierarchical, First-Order "
          "Prediction (Process 14 [Selection Value 1])", False, _LIBJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless", False, _LIBJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.81", "JPEG-LS Lossy (Near-Lossless)", True, _LIBJPEG,
          "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.90", "JPEG 2000 (Lossless Only)", False, _OPENJPEG,
          "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.91", "JPEG 2000", True, _OPENJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 (Lossless Only)", False,
          _OPENJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.202", "High-Throughput JPEG 2000 with RPCL Options "
          "(Lossless Only)", False, _OPENJPEG, "pylibjpeg"),
    Codec("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000", True, _OPENJPEG,
          "pylibjpeg"),
    Codec("1.2.840.10008.1.2.5", "RLE Lossless", False, ("pylibjpeg", "pylibjpeg-rle"),
          "pylibjpeg"),
)}


def codec_for(transfer_syntax: str, file: str | Path | None = None) -> Codec:
    """The codec of a transfer syntax, or a refusal naming the file and the tag.

    Parameters
    ----------
    transfer_syntax : str
        Transfer Syntax UID.
    file : str or pathlib.Path, optional
        The file it was read from (named in the error).

    Returns
    -------
    Codec

    Raises
    ------
    DicomInputError
        When the syntax is not one the loader reads (video, JPIP, JPEG 2000 Part 2,
        retired or unknown syntaxes).
    """
    codec = CODECS.get(transfer_syntax)
    if codec is None:
        raise DicomInputError(
            f"{_describe(transfer_syntax)} is not a transfer syntax this loader decodes",
            file=file, tag=TS_TAG, fix=EXPORT_HINT,
        )
    return codec


def is_lossy(transfer_syntax: str) -> bool:
    """True when a transfer syntax allows irreversible (lossy) coding.

    Parameters
    ----------
    transfer_syntax : str
        Transfer Syntax UID.

    Returns
    -------
    bool
        False for lossless and for unknown syntaxes (those are refused on decoding).
    """
    codec = CODECS.get(transfer_syntax)
    return codec is not None and codec.lossy


def _describe(transfer_syntax: str) -> str:
    from pydicom.uid import UID

    if not transfer_syntax:
        return "no transfer syntax"
    name = UID(transfer_syntax).name
    return f"{transfer_syntax} ({name})" if name != transfer_syntax else transfer_syntax


def _plugin(codec: Codec, file: Path) -> str:
    """The pydicom plugin to decode with: the table's, another installed one, or a refusal."""
    if not codec.plugin:
        return ""
    from pydicom.pixels import get_decoder

    available = get_decoder(codec.uid).available_plugins
    if codec.plugin in available:
        return codec.plugin
    if available:  # e.g. GDCM in an environment without pylibjpeg: let pydicom choose
        return ""
    raise DicomInputError(
        f"{codec.name} ({codec.uid}) needs a decoder that is not installed",
        file=file, tag=TS_TAG,
        fix=f"pip install {' '.join(codec.packages)} (nethelpers depends on them: "
            "reinstalling nethelpers installs them too)",
    )


def _read(file: Path) -> Any:
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    try:
        ds = pydicom.dcmread(file, force=True)
    except Exception as exc:  # pydicom raises many kinds of errors on bad input
        raise DicomInputError(f"unreadable: {type(exc).__name__}: {exc}", file=file,
                              fix="restore the file from the archive") from None
    if not ds.file_meta.get("TransferSyntaxUID"):  # no File Meta: the encoding read is it
        implicit, little = ds.original_encoding
        if little is False:
            ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.2"
        else:
            ds.file_meta.TransferSyntaxUID = (ImplicitVRLittleEndian if implicit
                                              else ExplicitVRLittleEndian)
    return ds


def decode_pixels(file: str | Path) -> np.ndarray:
    """Decode one single-frame file's pixel data to its stored values.

    Parameters
    ----------
    file : str or pathlib.Path
        A DICOM file in any syntax of :data:`CODECS`.

    Returns
    -------
    numpy.ndarray
        (rows, columns) stored values in native byte order, signed when
        ``PixelRepresentation`` is 1 (sign taken from ``BitsStored``).

    Raises
    ------
    DicomInputError
        When the syntax is not read (``TransferSyntaxUID (0002,0010)``), its decoder is not
        installed, or the pixel data cannot be decoded (``PixelData (7FE0,0010)``).
    """
    from pydicom.pixels import pixel_array

    path = Path(file)
    ds = _read(path)
    codec = codec_for(str(ds.file_meta.TransferSyntaxUID), path)
    if "PixelData" not in ds:
        raise DicomInputError("no pixel data", file=path, tag="PixelData (7FE0,0010)",
                              fix="remove the file from the series")
    plugin = _plugin(codec, path)
    if codec.uid != RLE and ds["PixelData"].is_undefined_length:
        _check_complete(ds, codec, path)
    try:
        array = pixel_array(ds, decoding_plugin=plugin)
    except Exception as exc:  # decoders raise many kinds of errors on damaged data
        raise DicomInputError(
            f"{codec.name} pixel data cannot be decoded: {type(exc).__name__}: {exc}",
            file=path, tag="PixelData (7FE0,0010)",
            fix="restore the file from the archive or " + EXPORT_HINT,
        ) from None
    if codec.uid == JPEG_LS_NEAR and int(ds.PixelRepresentation) == 1:
        _check_no_wraparound(array, ds, path)
    expected = (int(ds.Rows), int(ds.Columns))
    if array.shape != expected:
        raise DicomInputError(
            f"decoded pixel data has shape {array.shape}, Rows x Columns is {expected}",
            file=path, tag="PixelData (7FE0,0010)",
            fix="only single-frame grey-scale images are read: " + EXPORT_HINT,
        )
    if not array.dtype.isnative:  # Explicit VR Big Endian
        array = array.astype(array.dtype.newbyteorder("="))
    return array


def jpeg_ls_near(frame: bytes) -> int:
    """The NEAR parameter (largest error) of a JPEG-LS codestream's first scan.

    Parameters
    ----------
    frame : bytes
        One JPEG-LS frame (SOI ... EOI).

    Returns
    -------
    int
        NEAR; 0 (lossless) when no start-of-scan segment is found.
    """
    i = 2  # after SOI
    while i + 4 <= len(frame):
        if frame[i] != 0xFF:
            return 0
        marker = frame[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # SOS: Ls, Ns, Ns x (Ci, Tmi), NEAR, ILV, Al/Ah
            position = i + 5 + 2 * frame[i + 4]
            return frame[position] if position < len(frame) else 0
        i += 2 + int.from_bytes(frame[i + 2 : i + 4], "big")
    return 0


def _check_complete(ds: Any, codec: Codec, path: Path) -> None:
    """Refuse a JPEG-family codestream cut short: libjpeg and OpenJPEG decode one silently.

    Every JPEG, JPEG-LS and JPEG 2000 codestream ends with the marker FFD9 (then at most
    the zero bytes padding the fragment to an even length).
    """
    from pydicom.encaps import generate_frames

    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    if not bytes(frame[-8:]).rstrip(b"\x00").endswith(_END_MARKER):
        raise DicomInputError(
            f"the {codec.name} codestream ({len(frame)} bytes) does not end with its end "
            "marker FFD9: the compressed pixel data are truncated",
            file=path, tag="PixelData (7FE0,0010)",
            fix="restore the file from the archive or re-export the series",
        )


def _check_no_wraparound(array: np.ndarray, ds: Any, path: Path) -> None:
    """Refuse signed JPEG-LS near-lossless data whose lowest values may be wrapped peaks.

    JPEG-LS codes two's complement samples as unsigned numbers: a sample within NEAR of the
    highest value may be reconstructed above it and decode as one of the NEAR lowest values
    (a hot voxel turned into a large negative one).
    """
    from pydicom.encaps import generate_frames

    near = jpeg_ls_near(next(generate_frames(ds.PixelData, number_of_frames=1)))
    low = -(1 << (int(ds.BitsStored) - 1))
    suspect = int(np.count_nonzero(array < low + near))
    if suspect:
        raise DicomInputError(
            f"JPEG-LS near-lossless (NEAR {near}) of signed samples: {suspect} values lie "
            f"within NEAR of the lowest value {low}, where values near the highest one wrap "
            "around; they cannot be told from true values",
            file=path, tag=TS_TAG,
            fix="re-export the series lossless (JPEG-LS Lossless, 1.2.840.10008.1.2.4.80) "
                "or uncompressed (Explicit VR Little Endian, 1.2.840.10008.1.2.1)",
        )


def _text(header: RawHeader, tag: int) -> str:
    value = header.text(tag)
    return "" if value is None else value.strip()


def warnings_for(headers: Sequence[RawHeader]) -> list[str]:
    """Provenance warnings about lossy storage of a series.

    Parameters
    ----------
    headers : sequence of RawHeader
        The series' headers (their transfer syntax and ``LossyImageCompression``).

    Returns
    -------
    list of str
        One sentence per lossy transfer syntax found and one when
        ``LossyImageCompression (0028,2110)`` is ``01`` in any file; empty otherwise.
    """
    out: list[str] = []
    n = len(headers)
    syntaxes = Counter(h.transfer_syntax for h in headers if is_lossy(h.transfer_syntax))
    for uid, count in sorted(syntaxes.items()):
        out.append(
            f"{count} of {n} files are stored in {CODECS[uid].name} ({uid}), a lossy "
            "transfer syntax: the stored values are not the scanner's and the SUVs carry "
            "the compression error"
        )
    marked = [h for h in headers if _text(h, _LOSSY_TAG) == "01"]
    if marked:
        methods = sorted({_text(h, _LOSSY_METHOD_TAG) for h in marked} - {""})
        ratios = sorted({_text(h, _LOSSY_RATIO_TAG) for h in marked} - {""})
        detail = ", ".join(
            part for part in (
                f"method {'/'.join(methods)}" if methods else "",
                f"ratio {'/'.join(ratios)}" if ratios else "",
            ) if part
        )
        out.append(
            f"LossyImageCompression (0028,2110) is 01 in {len(marked)} of {n} files"
            f"{f' ({detail})' if detail else ''}: the pixel data were lossy compressed at "
            "some point and the SUVs carry the compression error"
        )
    return out
