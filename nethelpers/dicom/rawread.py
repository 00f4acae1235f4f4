"""Fast raw DICOM header reader: a minimal element walker with a pydicom fallback.

``pydicom.dcmread(stop_before_pixels=True)`` plus value conversion costs about 1 ms per
file, too slow to index tens of thousands of files. This module walks the elements of
the common encodings itself (Explicit VR Little Endian, which includes every compressed
transfer syntax, and Implicit VR Little Endian) with :mod:`struct` and slices, keeping
the raw value bytes of the requested tags; values are converted only when asked for, by
the getters of :class:`RawDataset`.

Anything unusual goes to ``pydicom.dcmread(..., stop_before_pixels=True, force=True)`` and
is converted into the same :class:`RawHeader` (``via_pydicom=True``): Explicit VR Big
Endian, Deflated Explicit VR Little Endian, a dataset whose VR encoding contradicts its
transfer syntax, unknown VR codes, odd value lengths, undefined-length values that are
not sequences (other than the top-level Pixel Data), a Command group (0000,eeee) in a
file, malformed item structure. Files that are not DICOM at all, or are cut before the
walk is done, raise :class:`RawReadError` without trying pydicom.

Tags are plain ints ``group << 16 | element``: ``0x00100010`` is PatientName.
"""

from __future__ import annotations

import io
import os
import struct
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "TS_DEFLATED",
    "TS_EXPLICIT_BE",
    "TS_EXPLICIT_LE",
    "TS_IMPLICIT_LE",
    "RawDataset",
    "RawHeader",
    "RawReadError",
    "keyword_tag",
    "parse_buffer",
    "pixel_bytes",
    "read_header",
]

TS_IMPLICIT_LE = "1.2.840.10008.1.2"
TS_EXPLICIT_LE = "1.2.840.10008.1.2.1"
TS_DEFLATED = "1.2.840.10008.1.2.1.99"
TS_EXPLICIT_BE = "1.2.840.10008.1.2.2"

_ITEM = 0xFFFEE000
_ITEM_DELIMITER = 0xFFFEE00D
_SEQUENCE_DELIMITER = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_CHARSET = 0x00080005
_CHARSET_SET = frozenset((_CHARSET,))
_TRANSFER_SYNTAX = 0x00020010
_PIXEL_DATA = 0x7FE00010
#: Float Pixel Data, Double Float Pixel Data, Pixel Data: pydicom's stop_before_pixels tags.
_PIXEL_TAGS = frozenset((0x7FE00008, 0x7FE00009, _PIXEL_DATA))
_NESTED_LIMIT = 0xFFFDFFFF  # inside items every tag above this is an item/delimiter tag
_NOTHING: frozenset[int] = frozenset()
_MAX_DEPTH = 64

#: Explicit VRs with a 2-byte length, and with 2 reserved bytes plus a 4-byte length.
_SHORT_VRS = {
    vr.encode(): vr
    for vr in ("AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split())
}
_LONG_VRS = {vr.encode(): vr for vr in "OB OD OF OL OV OW SQ SV UC UN UR UT UV".split()}
#: VRs whose text pydicom decodes with the Specific Character Set (others: ISO 8859-1).
_CHARSET_VRS = frozenset(("SH", "LO", "ST", "LT", "UC", "UT", "PN"))
#: Binary numeric VRs: struct code and item size.
_BINARY_VRS = {
    "US": ("H", 2),
    "SS": ("h", 2),
    "UL": ("I", 4),
    "SL": ("i", 4),
    "SV": ("q", 8),
    "UV": ("Q", 8),
    "FL": ("f", 4),
    "FD": ("d", 8),
    "OF": ("f", 4),
    "OD": ("d", 8),
}
_INT_CODES = frozenset("HhIiqQ")
#: Python codecs that need no escape-sequence handling (fast decode path).
_PLAIN_CODECS = frozenset(("iso8859", "latin_1", "UTF8", "utf_8", "utf-8", "ascii"))
_DEFAULT_ENCODINGS = ("iso8859",)
_STRIP = " \0"

_unpack_explicit = struct.Struct("<HH2sH").unpack_from
_unpack_implicit = struct.Struct("<HHI").unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from


class RawReadError(Exception):
    """The file is not DICOM, is truncated, or is malformed beyond what pydicom reads."""


class _Fallback(Exception):
    """Internal: the walker met something it leaves to pydicom."""


class _NeedMore(Exception):
    """Internal: the walk ran past the end of a partial buffer."""

    def __init__(self, needed: int, exact: bool = False) -> None:
        super().__init__(needed)
        self.needed = needed
        self.exact = exact


def keyword_tag(keyword: str) -> int:
    """The tag (``group << 16 | element``) of a DICOM keyword from pydicom's dictionary."""
    from pydicom.datadict import tag_for_keyword

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(f"{keyword!r} is not a DICOM keyword")
    return tag


def _tag_str(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


# --------------------------------------------------------------------------------------
# Value conversion helpers
# --------------------------------------------------------------------------------------

_VR_CACHE: dict[int, str] = {}
_ENCODINGS_CACHE: dict[bytes, tuple[str, ...]] = {}


def _dictionary_vr(tag: int) -> str:
    """VR of an Implicit VR element: pydicom's dictionary, LO for private creators, else UN."""
    vr = _VR_CACHE.get(tag)
    if vr is None:
        from pydicom.datadict import DicomDictionary, dictionary_VR

        element = tag & 0xFFFF
        if element == 0:
            vr = "UL"  # group length
        elif (tag >> 16) & 1:
            vr = "LO" if 0x10 <= element <= 0xFF else "UN"
        else:
            entry = DicomDictionary.get(tag)
            if entry is not None:
                vr = entry[0]
            else:
                try:
                    vr = dictionary_VR(tag)  # repeater groups (50xx, 60xx, ...)
                except KeyError:
                    vr = "UN"
        if vr == "NONE":
            vr = "UN"
        _VR_CACHE[tag] = vr
    return vr


def _encodings(raw: bytes | None) -> tuple[str, ...]:
    """Python codecs of a raw Specific Character Set value (pydicom's conversion)."""
    if not raw:
        return _DEFAULT_ENCODINGS
    cached = _ENCODINGS_CACHE.get(raw)
    if cached is None:
        from pydicom.charset import convert_encodings

        parts = [part.strip(_STRIP) for part in raw.decode("latin-1").split("\\")]
        cached = tuple(convert_encodings(parts[0] if len(parts) == 1 else parts))
        if len(_ENCODINGS_CACHE) < 1024:
            _ENCODINGS_CACHE[raw] = cached
    return cached


def _decode(value: bytes, vr: str, encodings: tuple[str, ...]) -> str:
    """Decode a text value the way pydicom does for its VR."""
    if vr not in _CHARSET_VRS or encodings is _DEFAULT_ENCODINGS:
        return value.decode("latin-1")
    codec = encodings[0]
    if b"\x1b" not in value and codec in _PLAIN_CODECS:
        try:
            return value.decode(codec)
        except UnicodeDecodeError:
            pass  # pydicom warns and uses replacement characters
    from pydicom.charset import decode_bytes
    from pydicom.valuerep import TEXT_VR_DELIMS

    return decode_bytes(value, list(encodings), TEXT_VR_DELIMS)


def _strip_pn(text: str) -> str:
    """Drop empty trailing person name component groups ("A^B=" -> "A^B"), as pydicom."""
    return text.rstrip("=").rstrip(_STRIP) if text.endswith("=") else text


def _resolve_ambiguous(vr: str, dataset: RawDataset) -> str:
    """Pick one VR of an ambiguous dictionary VR ('US or SS', 'OB or OW', ...)."""
    if " or " not in vr:
        return vr
    if vr.startswith("US or SS"):
        representation = dataset.elements.get(0x00280103)
        if isinstance(representation, bytes) and len(representation) >= 2:
            signed = representation[0 if dataset.little_endian else 1]
            return "SS" if signed == 1 else "US"
        return "US"
    if vr.startswith("US"):
        return "US"
    return "OW"


# --------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------


@dataclass
class RawDataset:
    """Raw element values of one dataset (a file's top level or a sequence item).

    Parameters
    ----------
    elements : dict of int to bytes or list of RawDataset
        Tag -> value bytes exactly as stored (padding kept); sequences -> their items.
    vrs : dict of int to str
        Tag -> VR: as stored for Explicit VR, pydicom's dictionary VR for Implicit VR
        (possibly ambiguous such as ``"US or SS"``; ``"UN"`` for unknown and private
        tags, ``"LO"`` for private creators), ``"SQ"`` for sequences.
    little_endian : bool
        Byte order of binary values.
    encodings : tuple of str
        Python codecs of the Specific Character Set in force (items inherit their
        parent's unless they hold their own (0008,0005)).

    Notes
    -----
    Every getter returns None (or ``default``) when the tag is absent or its value empty.
    """

    elements: dict[int, bytes | list[RawDataset]]
    vrs: dict[int, str]
    little_endian: bool = True
    encodings: tuple[str, ...] = _DEFAULT_ENCODINGS

    def __contains__(self, tag: int) -> bool:
        return tag in self.elements

    def _bytes(self, tag: int) -> bytes | None:
        value = self.elements.get(tag)
        if not value:
            return None
        if isinstance(value, list):
            raise TypeError(f"{_tag_str(tag)} is a sequence; use seq()")
        return value

    def raw(self, tag: int) -> bytes | None:
        """Raw value bytes of ``tag``.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.

        Returns
        -------
        bytes or None
            The value as stored, None when absent or empty.

        Raises
        ------
        TypeError
            If ``tag`` is a sequence.
        """
        return self._bytes(tag)

    def text(self, tag: int, default: str | None = None) -> str | None:
        """Decoded text of ``tag``, leading/trailing spaces and NULs stripped.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.
        default : str, optional
            Returned when the tag is absent or empty.

        Returns
        -------
        str or None
            The whole value, backslashes of multi-valued elements included.
        """
        value = self._bytes(tag)
        if value is None:
            return default
        vr = self.vrs.get(tag, "UN")
        text = _decode(value, vr, self.encodings).strip(_STRIP)
        if vr == "PN":
            text = _strip_pn(text)
        return text if text else default

    def texts(self, tag: int) -> list[str]:
        """Values of a multi-valued text element, each stripped.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.

        Returns
        -------
        list of str
            Empty when the tag is absent or empty.
        """
        value = self._bytes(tag)
        if value is None:
            return []
        vr = self.vrs.get(tag, "UN")
        text = _decode(value, vr, self.encodings)
        if not text.strip(_STRIP):
            return []
        parts = [part.strip(_STRIP) for part in text.split("\\")]
        return [_strip_pn(part) for part in parts] if vr == "PN" else parts

    def _numbers(self, tag: int, first: bool, as_int: bool) -> list[Any] | None:
        value = self._bytes(tag)
        if value is None:
            return None
        vr = _resolve_ambiguous(self.vrs.get(tag, "UN"), self)
        binary = _BINARY_VRS.get(vr)
        if binary is not None:
            code, size = binary
            if len(value) % size:
                raise RawReadError(
                    f"{_tag_str(tag)}: {vr} value of {len(value)} bytes is not a multiple of {size}"
                )
            count = 1 if first else len(value) // size
            order = "<" if self.little_endian else ">"
            numbers = list(struct.unpack_from(f"{order}{count}{code}", value))
            if not as_int:
                return [float(number) for number in numbers]
            if code in _INT_CODES:
                return numbers
            return [_as_int(number, tag) for number in numbers]
        text = value.decode("latin-1")
        if not text.strip(_STRIP):
            return None
        parts = text.split("\\", 1)[:1] if first else text.split("\\")
        result = []
        for part in parts:
            part = part.strip(_STRIP)
            if not part:
                if first:
                    return None
                raise RawReadError(f"{_tag_str(tag)}: empty value in {text!r}")
            try:
                number = float(part)
            except ValueError:
                raise RawReadError(f"{_tag_str(tag)}: {part!r} is not a number") from None
            if as_int:
                try:
                    number = int(part)
                except ValueError:
                    number = _as_int(number, tag)
            result.append(number)
        return result

    def float(self, tag: int, default: float | None = None) -> float | None:
        """First value of a DS/IS text or a binary numeric element, as float.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.
        default : float, optional
            Returned when the tag is absent or empty.

        Returns
        -------
        float or None

        Raises
        ------
        RawReadError
            If the value is not a number.
        """
        numbers = self._numbers(tag, first=True, as_int=False)
        return numbers[0] if numbers else default

    def floats(self, tag: int) -> list[float] | None:
        """All values of a DS/IS text or a binary numeric element, as floats.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.

        Returns
        -------
        list of float or None
            None when the tag is absent or empty.

        Raises
        ------
        RawReadError
            If a value is not a number.
        """
        return self._numbers(tag, first=False, as_int=False)

    def int(self, tag: int, default: int | None = None) -> int | None:
        """First value of an IS text or a binary integer element, as int.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.
        default : int, optional
            Returned when the tag is absent or empty.

        Returns
        -------
        int or None
            Integral text such as ``"3.0"`` gives 3.

        Raises
        ------
        RawReadError
            If the value is not an integer.
        """
        numbers = self._numbers(tag, first=True, as_int=True)
        return numbers[0] if numbers else default

    def seq(self, tag: int) -> list[RawDataset]:
        """Items of a sequence.

        Parameters
        ----------
        tag : int
            ``group << 16 | element``.

        Returns
        -------
        list of RawDataset
            Empty when the tag is absent. A value kept as bytes (e.g. a private
            sequence in Implicit VR with a defined length, VR UN) is parsed as an
            Implicit VR Little Endian sequence.

        Raises
        ------
        RawReadError
            If a bytes value is not a sequence.
        """
        value = self.elements.get(tag)
        if not value:
            return []
        if isinstance(value, list):
            return value
        if not self.little_endian or value[:4] != b"\xfe\xff\x00\xe0":
            raise RawReadError(f"{_tag_str(tag)} is not a sequence")
        walker = _Walker(value, True, f"{_tag_str(tag)} value")
        try:
            items, _ = walker.sequence(0, len(value), True, None, self.encodings)
        except _Fallback as exc:
            raise RawReadError(f"{_tag_str(tag)}: malformed sequence ({exc})") from None
        return items or []

    def private(
        self, group: int, creator: str, element_low: int
    ) -> tuple[bytes | None, str | None]:
        """Raw value of a private element located through its private creator.

        Parameters
        ----------
        group : int
            Odd group, e.g. ``0x7053``.
        creator : str
            Private creator text, e.g. ``"Philips PET Private Group"`` (compared after
            stripping spaces and NULs, case-sensitive).
        element_low : int
            Element offset in the block, ``0x00``-``0xFF``.

        Returns
        -------
        value : bytes or None
            Raw value of ``(group, xx << 8 | element_low)`` where ``(group, 00xx)`` holds
            ``creator``. If no block has that creator and ``(group, 0010)`` is absent,
            the value of the usual block ``(group, 10ee)``, if any.
        warning : str or None
            ``"private creator '<creator>' missing; read (gggg,10ee) by raw tag"`` when
            the value was read by raw tag, else None.
        """
        base = group << 16
        creator_tags = [tag for tag in self.elements if base | 0x10 <= tag <= base | 0xFF]
        for tag in sorted(creator_tags):
            if self.text(tag) == creator:
                return self.raw(base | (tag & 0xFF) << 8 | element_low), None
        if (base | 0x10) in self.elements:
            return None, None  # block 0x10 belongs to another creator
        fallback = base | 0x1000 | element_low
        value = self.raw(fallback)
        if value is None:
            return None, None
        return value, f"private creator '{creator}' missing; read {_tag_str(fallback)} by raw tag"


def _as_int(number: float, tag: int) -> int:
    if number != number or number in (float("inf"), float("-inf")) or number != round(number):
        raise RawReadError(f"{_tag_str(tag)}: {number!r} is not an integer")
    return int(number)


@dataclass
class RawHeader(RawDataset):
    """Raw header of a DICOM file (see :class:`RawDataset` for the getters).

    Parameters
    ----------
    path : pathlib.Path or None
        File read (None for a buffer without a name).
    transfer_syntax : str
        (0002,0010), ``""`` when there is no File Meta Information.
    implicit_vr : bool
        The dataset is Implicit VR.
    pixel_offset, pixel_length : int or None
        Offset in the file (buffer) and length of the native Pixel Data value, when the
        walk reached it; None otherwise and for encapsulated pixel data.
    encapsulated : bool
        Pixel Data has an undefined length (compressed fragments).
    items_offset : int or None
        Offset of the first item (Basic Offset Table) of encapsulated Pixel Data.
    via_pydicom : bool
        The pydicom fallback produced this header.
    """

    path: Path | None = None
    transfer_syntax: str = ""
    implicit_vr: bool = False
    pixel_offset: int | None = None
    pixel_length: int | None = None
    encapsulated: bool = False
    items_offset: int | None = None
    via_pydicom: bool = False


# --------------------------------------------------------------------------------------
# The walker
# --------------------------------------------------------------------------------------


class _Walker:
    """Element walker over a (possibly partial) buffer of a file."""

    def __init__(self, buf: bytes | memoryview, complete: bool, path: Path | str | None) -> None:
        self.buf = buf
        self.n = len(buf)
        self.complete = complete
        self.path = path
        # outside the buffer of a partial read: "need more", never "truncated"
        self.horizon = self.n if complete else sys.maxsize
        self.pixel: tuple[int, int | None] | None = None  # (value offset, length or None)
        self.depth = 0  # sequence nesting

    @property
    def name(self) -> str:
        """File name for messages."""
        return "<buffer>" if self.path is None else str(self.path)

    def short(self, needed: int, pos: int, what: str) -> None:
        """Raise: need more bytes (partial buffer) or truncated (complete buffer)."""
        if not self.complete:
            raise _NeedMore(needed)
        raise RawReadError(
            f"{self.name}: truncated at offset {pos} ({what}; needs {needed} bytes, "
            f"file has {self.n})"
        )

    def looks_implicit(self, pos: int) -> bool:
        """Apply pydicom's test: bytes 4-5 of the first element are not two capital letters."""
        if pos + 6 > self.n:
            if not self.complete:
                raise _NeedMore(pos + 6)
            return False
        a, b = self.buf[pos + 4], self.buf[pos + 5]
        return not (0x40 < a < 0x5B and 0x40 < b < 0x5B)

    def walk(
        self,
        pos: int,
        end: int,
        implicit: bool,
        wanted: Collection[int] | None,
        encodings: tuple[str, ...],
        *,
        top_limit: int | None = None,
        stop_after: int = 0xFFFFFFFF,
        delimited: bool = False,
    ) -> tuple[dict, dict, int, tuple[str, ...]]:
        """Walk the elements of one dataset.

        ``end`` bounds the dataset (item end or the buffer horizon); ``delimited`` items
        end at an Item Delimitation Item. ``top_limit`` (top level only) is the largest
        tag walked without a check for pixel data and ``stop_after``. Returns the
        elements, VRs, the position after the dataset and the encodings in force.
        """
        if implicit:
            return self.walk_implicit(pos, end, wanted, encodings, top_limit, stop_after, delimited)
        buf = self.buf
        n = self.n
        bound = end if end < n else n  # common case: the value ends before this
        elements: dict[int, Any] = {}
        vrs: dict[int, str] = {}
        limit = _NESTED_LIMIT if top_limit is None else top_limit
        keep_all = wanted is None
        unpack = _unpack_explicit
        short_vr = _SHORT_VRS.get
        while pos < end:
            try:
                group, element, vrb, length = unpack(buf, pos)
            except struct.error:
                self.short(pos + 8, pos, "element header")
            tag = group << 16 | element
            if tag > limit:
                done = self.special_tag(tag, pos, False, top_limit, stop_after, delimited)
                if done is not None:
                    return elements, vrs, done, encodings
            vr = short_vr(vrb)
            if vr is None:
                vr = _LONG_VRS.get(vrb)
                if vr is None:
                    raise _Fallback(f"unknown VR {vrb!r} of {_tag_str(tag)} at offset {pos}")
                if pos + 12 > n:
                    self.short(pos + 12, pos, f"{_tag_str(tag)} header")
                length = _unpack_u32(buf, pos + 8)[0]
                pos += 12
                if vr == "UN" and length != 0xFFFFFFFF and not group & 1:
                    known = _dictionary_vr(tag)  # pydicom's replace_un_with_known_vr
                    if known != "SQ":
                        vr = known
            else:
                pos += 8
            value_end = pos + length
            if value_end > bound:
                if length == 0xFFFFFFFF:
                    if vr != "SQ" and vr != "UN":  # UN: PS3.5 6.2.2, a sequence
                        raise _Fallback(f"undefined length {vr} {_tag_str(tag)} at {pos}")
                    keep = keep_all or tag in wanted
                    items, pos = self.sequence(
                        pos, None, False, None if keep else _NOTHING, encodings
                    )
                    if keep:
                        elements[tag] = items
                        vrs[tag] = "SQ"
                    continue
                self.overrun(tag, pos, length, end)
            if length & 1:
                raise _Fallback(f"odd length {length} of {_tag_str(tag)} at offset {pos}")
            if keep_all or tag in wanted:
                if vr == "SQ":
                    elements[tag], _ = self.sequence(pos, value_end, False, None, encodings)
                else:
                    elements[tag] = buf[pos:value_end]
                vrs[tag] = vr
                if tag == 0x00080005:  # always wanted (see _parse)
                    encodings = _encodings(bytes(buf[pos:value_end]))
            pos = value_end
        return elements, vrs, self.walk_end(pos, top_limit, delimited), encodings

    def walk_implicit(
        self,
        pos: int,
        end: int,
        wanted: Collection[int] | None,
        encodings: tuple[str, ...],
        top_limit: int | None,
        stop_after: int,
        delimited: bool,
    ) -> tuple[dict, dict, int, tuple[str, ...]]:
        """:meth:`walk` for Implicit VR Little Endian."""
        buf = self.buf
        n = self.n
        bound = end if end < n else n
        elements: dict[int, Any] = {}
        vrs: dict[int, str] = {}
        limit = _NESTED_LIMIT if top_limit is None else top_limit
        keep_all = wanted is None
        unpack = _unpack_implicit
        vr_cache = _VR_CACHE
        while pos < end:
            try:
                group, element, length = unpack(buf, pos)
            except struct.error:
                self.short(pos + 8, pos, "element header")
            tag = group << 16 | element
            if tag > limit:
                done = self.special_tag(tag, pos, True, top_limit, stop_after, delimited)
                if done is not None:
                    return elements, vrs, done, encodings
            pos += 8
            value_end = pos + length
            if value_end > bound:
                if length == 0xFFFFFFFF:
                    vr = vr_cache.get(tag) or _dictionary_vr(tag)
                    if vr == "UN" and group & 1:
                        if pos + 4 > n:
                            self.short(pos + 4, pos, f"{_tag_str(tag)} value")
                        if _unpack_u32(buf, pos)[0] == 0xE000FFFE:  # an Item: a sequence
                            vr = "SQ"
                    if vr != "SQ":
                        raise _Fallback(f"undefined length {vr} {_tag_str(tag)} at {pos}")
                    keep = keep_all or tag in wanted
                    items, pos = self.sequence(
                        pos, None, True, None if keep else _NOTHING, encodings
                    )
                    if keep:
                        elements[tag] = items
                        vrs[tag] = "SQ"
                    continue
                self.overrun(tag, pos, length, end)
            if length & 1:
                raise _Fallback(f"odd length {length} of {_tag_str(tag)} at offset {pos}")
            if keep_all or tag in wanted:
                vr = vr_cache.get(tag) or _dictionary_vr(tag)
                if vr == "SQ":
                    elements[tag], _ = self.sequence(pos, value_end, True, None, encodings)
                else:
                    elements[tag] = buf[pos:value_end]
                vrs[tag] = vr
                if tag == 0x00080005:  # always wanted (see _parse)
                    encodings = _encodings(bytes(buf[pos:value_end]))
            pos = value_end
        return elements, vrs, self.walk_end(pos, top_limit, delimited), encodings

    def special_tag(
        self,
        tag: int,
        pos: int,
        implicit: bool,
        top_limit: int | None,
        stop_after: int,
        delimited: bool,
    ) -> int | None:
        """Handle a tag above the walk's limit: return the end position, or None to go on."""
        if top_limit is not None:
            if tag in _PIXEL_TAGS and tag <= stop_after:
                self.locate_pixels(pos, implicit)
                return pos
            if tag > stop_after:
                return pos
            if tag >> 16 == 0xFFFE:
                raise _Fallback(f"{_tag_str(tag)} at top level, offset {pos}")
            return None
        if tag == _ITEM_DELIMITER and delimited:
            return pos + 8
        raise _Fallback(f"unexpected {_tag_str(tag)} at offset {pos}")

    def overrun(self, tag: int, pos: int, length: int, end: int) -> None:
        """Raise for a value running past its dataset: need more, truncated or malformed."""
        value_end = pos + length
        if value_end > end and end < self.n:
            raise _Fallback(f"{_tag_str(tag)} at {pos} runs past the end of its item")
        self.short(value_end, pos, f"value of {_tag_str(tag)}, length {length}")

    def walk_end(self, pos: int, top_limit: int | None, delimited: bool) -> int:
        """Position after a walk that reached its end bound."""
        if delimited:
            if pos >= self.n:
                self.short(pos + 8, pos, "item delimiter")
            raise _Fallback(f"undefined-length item runs past its sequence at {pos}")
        if top_limit is not None and not self.complete:
            raise _NeedMore(pos + 8)
        return pos

    def sequence(
        self,
        pos: int,
        end: int | None,
        implicit: bool,
        wanted: Collection[int] | None,
        encodings: tuple[str, ...],
    ) -> tuple[list[RawDataset] | None, int]:
        """Walk the items of a sequence value (``end`` None: undefined length).

        ``wanted`` None keeps every element of every item; an empty collection only
        walks the structure (an unwanted sequence). Returns the items (None when not
        kept) and the position after the sequence.
        """
        buf = self.buf
        keep = wanted is None
        items: list[RawDataset] | None = [] if keep else None
        bound = self.horizon if end is None else end
        self.depth += 1
        if self.depth > _MAX_DEPTH:  # no RecursionError on crafted input
            raise _Fallback(f"sequences nested more than {_MAX_DEPTH} deep at offset {pos}")
        while True:
            if end is not None and pos >= end:
                break
            if pos + 8 > min(bound, self.n):
                if pos + 8 > self.n:
                    self.short(pos + 8, pos, "sequence item header")
                raise _Fallback(f"item header at {pos} runs past the end of its sequence")
            group, element, length = _unpack_implicit(buf, pos)
            tag = group << 16 | element
            pos += 8
            if tag == _SEQUENCE_DELIMITER:
                if end is not None:
                    raise _Fallback(f"sequence delimiter in a defined-length sequence at {pos}")
                break
            if tag != _ITEM:
                raise _Fallback(f"{_tag_str(tag)} instead of an item at offset {pos - 8}")
            if length == _UNDEFINED:
                item_implicit = implicit or self.looks_implicit(pos)
                elements, vrs, pos, item_encodings = self.walk(
                    pos, bound, item_implicit, wanted, encodings, delimited=True
                )
            else:
                item_end = pos + length
                if item_end > bound:
                    if item_end > self.n:
                        self.short(item_end, pos, f"item of length {length}")
                    raise _Fallback(f"item at {pos} runs past the end of its sequence")
                if keep:
                    item_implicit = implicit or (length > 0 and self.looks_implicit(pos))
                    elements, vrs, _, item_encodings = self.walk(
                        pos, item_end, item_implicit, None, encodings
                    )
                pos = item_end
            if items is not None:
                items.append(RawDataset(elements, vrs, True, item_encodings))
        self.depth -= 1
        return items, pos

    def locate_pixels(self, pos: int, implicit: bool) -> None:
        """Record offset and length of the top-level pixel data element at ``pos``."""
        header = 8 if implicit else 12
        if pos + header > self.n:
            if not self.complete:
                raise _NeedMore(pos + header, exact=True)
            raise RawReadError(
                f"{self.name}: truncated at offset {pos} (Pixel Data element header)"
            )
        buf = self.buf
        if implicit:
            length = _unpack_u32(buf, pos + 4)[0]
        elif bytes(buf[pos + 4 : pos + 6]) in _LONG_VRS:
            length = _unpack_u32(buf, pos + 8)[0]
        else:
            length = _unpack_u32(buf, pos + 4)[0] >> 16
            header = 8
        if length == _UNDEFINED:
            self.pixel = (pos + header, None)
        else:
            self.pixel = (pos + header, length)


def _parse(
    buf: bytes | memoryview,
    complete: bool,
    wanted: frozenset[int] | None,
    stop_after: int | None,
    path: Path | None,
) -> RawHeader:
    """Walk preamble, File Meta Information and dataset (raises _Fallback, _NeedMore)."""
    walker = _Walker(buf, complete, path)
    n = walker.n
    if n == 0:
        raise RawReadError(f"{walker.name}: not a DICOM file (empty)")
    if buf[128:132] == b"DICM":
        pos = 132
    elif n < 132 and not complete:
        raise _NeedMore(132)
    else:
        pos = 0
        _check_plausible_start(buf, complete, walker.name)
    if pos + 8 > n and not complete:
        raise _NeedMore(pos + 8)
    # File Meta Information: Explicit VR Little Endian, group 0002
    elements: dict[int, Any] = {}
    vrs: dict[int, str] = {}
    transfer_syntax = ""
    if buf[pos : pos + 2] == b"\x02\x00":
        if walker.looks_implicit(pos):
            raise _Fallback("Implicit VR File Meta Information")
        elements, vrs, pos, _ = walker.walk(
            pos, walker.horizon, False, None, _DEFAULT_ENCODINGS,
            top_limit=0x0002FFFF, stop_after=0x0002FFFF,
        )  # fmt: skip
        for tag in elements:
            if tag >> 16 != 2:  # e.g. group 0000/0001 after the meta group
                raise _Fallback(f"{_tag_str(tag)} in the File Meta Information")
        value = elements.get(_TRANSFER_SYNTAX)
        if isinstance(value, (bytes, bytearray, memoryview)):
            transfer_syntax = bytes(value).decode("latin-1").strip(_STRIP)
        if wanted is not None:
            elements = {t: v for t, v in elements.items() if t in wanted}
            vrs = {t: vrs[t] for t in elements}
    # Dataset
    encodings = _DEFAULT_ENCODINGS
    if pos >= n and complete:  # no dataset
        implicit = transfer_syntax == TS_IMPLICIT_LE or not transfer_syntax
    else:
        if pos + 6 > n:
            walker.short(pos + 6, pos, "first dataset element")
        found_implicit = walker.looks_implicit(pos)
        if not transfer_syntax:  # guess like pydicom
            implicit = found_implicit
            if not implicit and (buf[pos] | buf[pos + 1] << 8) >= 1024:
                raise _Fallback("Explicit VR Big Endian dataset without File Meta Information")
        elif transfer_syntax == TS_IMPLICIT_LE:
            implicit = True
        elif transfer_syntax == TS_EXPLICIT_BE or transfer_syntax == TS_DEFLATED:
            raise _Fallback(f"transfer syntax {transfer_syntax}")
        else:
            implicit = False
        if found_implicit != implicit:
            raise _Fallback("dataset VR encoding contradicts the transfer syntax")
        if buf[pos : pos + 2] == b"\x00\x00":
            raise _Fallback("Command Set group (0000,eeee)")
        stop = 0xFFFFFFFF if stop_after is None else stop_after
        drop_charset = wanted is not None and _CHARSET not in wanted
        data_elements, data_vrs, pos, encodings = walker.walk(
            pos, walker.horizon, implicit, wanted | _CHARSET_SET if drop_charset else wanted,
            _DEFAULT_ENCODINGS, top_limit=min(stop, 0x7FE00007), stop_after=stop,
        )  # fmt: skip
        if drop_charset and _CHARSET in data_elements:
            del data_elements[_CHARSET], data_vrs[_CHARSET]
        if elements:
            elements.update(data_elements)
            vrs.update(data_vrs)
        else:
            elements, vrs = data_elements, data_vrs
    header = RawHeader(
        elements,
        vrs,
        True,
        encodings,
        path=path,
        transfer_syntax=transfer_syntax,
        implicit_vr=implicit,
    )
    if walker.pixel is not None:
        offset, length = walker.pixel
        if length is None:
            header.encapsulated = True
            header.items_offset = offset
        else:
            header.pixel_offset = offset
            header.pixel_length = length
    return header


#: VR codes pydicom accepts when it guesses the encoding of a file without meta.
_VALUE_VRS = frozenset(vr for vr in list(_SHORT_VRS.values()) + list(_LONG_VRS.values()))


def _check_plausible_start(buf: bytes | memoryview, complete: bool, name: str) -> None:
    """Reject a file without 'DICM' whose first bytes are not a DICOM element."""
    n = len(buf)
    if n < 8:
        raise RawReadError(f"{name}: not a DICOM file (only {n} bytes, no 'DICM' prefix)")
    group_le = buf[0] | buf[1] << 8
    group_be = buf[1] | buf[0] << 8
    vr = bytes(buf[4:6]).decode("latin-1")
    reason = None
    if vr in _VALUE_VRS:
        if group_le & 1 and group_be & 1:
            reason = "odd group"
    else:
        length = _unpack_u32(buf, 4)[0]
        if group_le & 1:
            reason = "odd group"
        elif length != _UNDEFINED and (length & 1 or (complete and 8 + length > n)):
            reason = f"first element length {length} is odd or exceeds the file"
        elif length != _UNDEFINED and not complete and length > 1 << 26:
            reason = f"first element length {length} is absurd"
    if reason is not None:
        raise RawReadError(
            f"{name}: not a DICOM file (no 'DICM' prefix and the first bytes are not a "
            f"DICOM element: {reason})"
        )


# --------------------------------------------------------------------------------------
# pydicom fallback
# --------------------------------------------------------------------------------------


def _from_pydicom(
    source: Path | bytes | memoryview,
    wanted: Collection[int] | None,
    stop_after: int | None,
    path: Path | None,
    reason: str,
) -> RawHeader:
    """Read with pydicom and convert to a RawHeader (``via_pydicom=True``)."""
    import pydicom

    name = str(path) if path is not None else "<buffer>"
    try:
        if isinstance(source, Path):
            with open(source, "rb") as fp:
                ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
                end = fp.tell()
                size = os.fstat(fp.fileno()).st_size
                fp.seek(end)
                tail = fp.read(12)
        else:
            fp = io.BytesIO(bytes(source))
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
            end = fp.tell()
            size = len(source)
            tail = bytes(source[end : end + 12])
        little_endian = bool(ds.is_little_endian if ds.is_little_endian is not None else True)
        implicit = bool(ds.is_implicit_VR)
        for raw in ds._dict.values():  # the encoding pydicom found, not the declared one
            if getattr(raw, "is_implicit_VR", None) is not None:
                implicit = bool(raw.is_implicit_VR)
                break
        transfer_syntax = str(ds.file_meta.get("TransferSyntaxUID", "") or "")
        elements: dict[int, Any] = {}
        vrs: dict[int, str] = {}
        for tag, raw in ds.file_meta._dict.items():
            if wanted is None or tag in wanted:
                elements[tag], vrs[tag] = _pydicom_value(ds.file_meta, tag, raw, True, ())
        encodings = _encodings(_pydicom_charset(ds, little_endian))
        stop = 0xFFFFFFFF if stop_after is None else stop_after
        for tag, raw in ds._dict.items():
            if tag > stop or tag in _PIXEL_TAGS or not (wanted is None or tag in wanted):
                continue
            elements[tag], vrs[tag] = _pydicom_value(ds, tag, raw, little_endian, encodings)
    except RawReadError:
        raise
    except Exception as exc:  # pydicom raises many kinds of errors on bad input
        raise RawReadError(
            f"{name}: unreadable ({reason}; pydicom: {type(exc).__name__}: {exc})"
        ) from exc
    header = RawHeader(
        elements,
        vrs,
        little_endian,
        encodings,
        path=path,
        transfer_syntax=transfer_syntax,
        implicit_vr=implicit,
        via_pydicom=True,
    )
    if transfer_syntax != TS_DEFLATED and len(tail) >= 8 and stop >= _PIXEL_DATA:
        order = "<" if little_endian else ">"
        group, element = struct.unpack_from(f"{order}HH", tail)
        if (group << 16 | element) in _PIXEL_TAGS:
            # the pixel element's own encoding: pydicom may have switched VR encoding
            if tail[4:6].decode("latin-1") not in _VALUE_VRS:
                offset, length = end + 8, struct.unpack_from(f"{order}I", tail, 4)[0]
            elif len(tail) >= 12:
                offset, length = end + 12, struct.unpack_from(f"{order}I", tail, 8)[0]
            else:
                offset, length = None, None
            if length == _UNDEFINED:
                header.encapsulated = True
                header.items_offset = offset
            elif offset is not None and offset <= size:
                header.pixel_offset, header.pixel_length = offset, length
    return header


def _pydicom_charset(ds: Any, little_endian: bool) -> bytes | None:
    raw = ds._dict.get(_CHARSET)
    if raw is None:
        return None
    value = getattr(raw, "value", None)
    if isinstance(value, bytes) or value is None:
        return value
    return _encode_pydicom_element(ds[_CHARSET], little_endian)


def _pydicom_value(
    ds: Any, tag: int, raw: Any, little_endian: bool, encodings: tuple[str, ...]
) -> tuple[bytes | list[RawDataset], str]:
    """Raw bytes (or items) and VR of one pydicom element (raw or converted)."""
    from pydicom.dataelem import RawDataElement

    vr = raw.VR
    if isinstance(raw, RawDataElement):
        if vr is None:
            vr = _dictionary_vr(tag)
        if vr != "SQ":
            return (raw.value if raw.value is not None else b""), vr
        raw = ds[tag]  # converts the sequence
    if raw.VR == "SQ":
        items = []
        for item in raw.value:
            item_encodings = encodings
            charset = item._dict.get(_CHARSET)
            if charset is not None:
                item_encodings = _encodings(_pydicom_charset(item, little_endian))
            elements: dict[int, Any] = {}
            vrs: dict[int, str] = {}
            for item_tag, item_raw in item._dict.items():
                elements[item_tag], vrs[item_tag] = _pydicom_value(
                    item, item_tag, item_raw, little_endian, item_encodings
                )
            items.append(RawDataset(elements, vrs, little_endian, item_encodings))
        return items, "SQ"
    return _encode_pydicom_element(raw, little_endian), str(raw.VR)


def _encode_pydicom_element(elem: Any, little_endian: bool) -> bytes:
    """Value bytes of an already converted pydicom DataElement (re-encoded)."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    fp = DicomBytesIO()
    fp.is_little_endian = little_endian
    fp.is_implicit_VR = True
    write_data_element(fp, elem)
    data = fp.getvalue()
    length = struct.unpack_from("<I" if little_endian else ">I", data, 4)[0]
    if length == _UNDEFINED:
        return data[8:-8]
    return data[8 : 8 + length]


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def _wanted(tags: Collection[int] | None) -> frozenset[int] | None:
    if tags is None or isinstance(tags, frozenset):
        return tags
    return frozenset(tags)


def parse_buffer(
    buf: bytes | memoryview,
    tags: Collection[int] | None = None,
    *,
    stop_after: int | None = None,
    path: Path | None = None,
) -> RawHeader:
    """Parse the header of a complete DICOM file held in memory.

    Parameters
    ----------
    buf : bytes or memoryview
        The whole file.
    tags : collection of int, optional
        Top-level tags to keep (sequences among them are kept with all their items);
        None keeps every element. (0008,0005) is always used for the encodings.
    stop_after : int, optional
        Stop at the first top-level tag above this one; otherwise stop at Pixel Data
        or the end of the data.
    path : pathlib.Path, optional
        Name used in error messages and stored in the header.

    Returns
    -------
    RawHeader
        Values are copies (bytes) of slices of ``buf``.

    Raises
    ------
    RawReadError
        Not DICOM, truncated, or unreadable by pydicom either.
    """
    wanted = _wanted(tags)
    path = Path(path) if path is not None else None
    try:
        header = _parse(buf, True, wanted, stop_after, path)
    except _Fallback as exc:
        return _from_pydicom(buf, wanted, stop_after, path, str(exc))
    if not isinstance(buf, bytes):
        _materialize(header)
    return header


def _materialize(dataset: RawDataset) -> None:
    """Turn memoryview/bytearray value slices into bytes, recursively."""
    elements = dataset.elements
    for tag, value in elements.items():
        if isinstance(value, list):
            for item in value:
                _materialize(item)
        elif not isinstance(value, bytes):
            elements[tag] = bytes(value)


def read_header(
    path: str | os.PathLike[str],
    tags: Collection[int] | None = None,
    *,
    stop_after: int | None = None,
    chunk: int = 16384,
) -> RawHeader:
    """Read the header of a DICOM file, reading only as much of it as needed.

    Parameters
    ----------
    path : str or os.PathLike
        DICOM file.
    tags : collection of int, optional
        Top-level tags to keep; None keeps every element (see :func:`parse_buffer`).
    stop_after : int, optional
        Stop at the first top-level tag above this one (e.g. ``0x0054FFFF``).
    chunk : int
        Bytes read first; the buffer grows (at least doubling) while the walk needs
        more. Pixel data is never read beyond its element header.

    Returns
    -------
    RawHeader
        ``pixel_offset`` is an offset in the file.

    Raises
    ------
    RawReadError
        Not DICOM, truncated, or unreadable by pydicom either.
    """
    path = Path(path)
    wanted = _wanted(tags)
    try:
        with open(path, "rb") as fp:
            buf = fp.read(chunk)
            complete = len(buf) < chunk
            file_size = None
            while True:
                try:
                    return _parse(buf, complete, wanted, stop_after, path)
                except _NeedMore as more:
                    if file_size is None:
                        file_size = os.fstat(fp.fileno()).st_size
                    size = more.needed if more.exact else max(more.needed, 2 * len(buf))
                    size = min(size, file_size)  # garbage lengths: never allocate beyond
                    if size > len(buf):
                        buf += fp.read(size - len(buf))
                    complete = len(buf) >= file_size or len(buf) < size
    except _Fallback as exc:
        reason = str(exc)
    except OSError as exc:
        raise RawReadError(f"{path}: cannot read ({exc})") from exc
    return _from_pydicom(path, wanted, stop_after, path, reason)


def pixel_bytes(header: RawHeader, buf: bytes | memoryview) -> bytes | memoryview:
    """The native Pixel Data value located by ``header`` in ``buf`` (the whole file).

    Parameters
    ----------
    header : RawHeader
        Header with ``pixel_offset`` and ``pixel_length``.
    buf : bytes or memoryview
        The file content.

    Returns
    -------
    bytes or memoryview
        ``buf[pixel_offset : pixel_offset + pixel_length]``.

    Raises
    ------
    RawReadError
        No native pixel data was located, or ``buf`` is too short.
    """
    name = header.path if header.path is not None else "<buffer>"
    if header.pixel_offset is None or header.pixel_length is None:
        what = "encapsulated" if header.encapsulated else "not located"
        raise RawReadError(f"{name}: no native Pixel Data ({what})")
    end = header.pixel_offset + header.pixel_length
    if len(buf) < end:
        raise RawReadError(
            f"{name}: truncated Pixel Data (value at offset {header.pixel_offset} needs "
            f"{header.pixel_length} bytes, buffer ends after {len(buf) - header.pixel_offset})"
        )
    return buf[header.pixel_offset : end]
