"""Look for planted identifiers and absolute paths in every file of a report (the PHI test).

:func:`scan_artefacts` reads every file under a folder and reports each planted string
(a *needle*) and each forbidden pattern (absolute paths) it finds, wherever it hides:

- text files (HTML, CSV, Markdown, SVG, ...) as they are, HTML-unescaped and URL-decoded;
- JSON and notebooks string by string after JSON decoding (so ``\\/`` and ``\\u00e1``
  escapes do not hide a needle), keys and numbers included;
- images: the text chunks of PNG files (tEXt, zTXt, iTXt), EXIF and other metadata, also of
  images embedded as base64 in notebooks (``image/png`` outputs) and as ``data:`` URIs in
  HTML; embedded SVG is read as text;
- zip containers (.xlsx, .docx, ...) member by member; PDF by its text (pypdf); any other
  file as Latin-1 text.

Matching ignores case; a needle is also looked for HTML-escaped, URL-encoded and
JSON-escaped. Base64 blobs are decoded, never searched as text (they would match short
needles by chance). Text drawn into the pixels of a PNG is not read: figures are also
written as SVG, where matplotlib keeps each text as a comment.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

__all__ = ["ABSOLUTE_PATH_PATTERNS", "MIN_NEEDLE", "Leak", "scan_artefacts"]

#: Absolute paths that must not reach an artefact: home and temporary folders on Linux,
#: macOS and Windows, mounted volumes, Windows drives and UNC shares.
ABSOLUTE_PATH_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in (
    r"/home/", r"/root/", r"/tmp/", r"/Users/", r"/private/var/", r"/var/folders/",
    r"/mnt/", r"/media/", r"/Volumes/",
    r"(?<![A-Za-z0-9])[A-Za-z]:\\(?=[A-Za-z0-9_.$~ -])",    # C:\Users\...
    r"(?<![A-Za-z0-9\\])\\\\[A-Za-z0-9_.-]+\\[A-Za-z0-9_$.-]+",  # \\server\share
))

#: Shorter needles are refused: they would be found by chance.
MIN_NEEDLE = 4

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".tif", ".tiff", ".bmp"}
_ZIP_SUFFIXES = {".zip", ".xlsx", ".docx", ".pptx", ".odt", ".ods"}
_JSON_SUFFIXES = {".json", ".ipynb", ".geojson"}
_IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_DATA_URI = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w-]+=[\w.-]+)*(?P<b64>;base64)?,"
    r"(?P<data>[A-Za-z0-9+/=%\s]{16,})")
_CONTEXT = 30


@dataclass(frozen=True)
class Leak:
    """One needle (or forbidden pattern) found in one place of one artefact.

    Attributes
    ----------
    file : str
        The artefact, relative to the scanned folder (posix).
    where : str
        Where inside it: a JSON path (``cells[3].outputs[0].data.image/png``), a zip member,
        ``png text``, ``data-uri[2] image/png``; empty for the file's own text.
    needle : str
        The planted string, or the pattern that matched.
    form : str
        How it was written: ``as is``, ``html-escaped``, ``url-encoded``, ``json-escaped``,
        ``html-unescaped text``, ``url-decoded text``, or ``pattern``.
    context : str
        About 60 characters around the first occurrence.
    count : int
        Occurrences in this place.
    """

    file: str
    where: str
    needle: str
    form: str
    context: str
    count: int = 1

    def __str__(self) -> str:
        where = f" [{self.where}]" if self.where else ""
        times = f" ({self.count}x)" if self.count > 1 else ""
        return f"{self.file}{where}: {self.needle!r}{times} {self.form}: ...{self.context}..."


# --------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------


def _variants(needle: str) -> dict[str, str]:
    """The ways an artefact may write a needle: variant -> form."""
    forms = [
        (needle, "as is"),
        (html.escape(needle), "html-escaped"),
        (html.escape(needle, quote=False), "html-escaped"),
        (quote(needle, safe=""), "url-encoded"),
        (quote(needle, safe="/"), "url-encoded"),
        (quote_plus(needle), "url-encoded"),
        (json.dumps(needle)[1:-1], "json-escaped"),
        (json.dumps(needle)[1:-1].replace("/", "\\/"), "json-escaped"),
        (json.dumps(needle, ensure_ascii=False)[1:-1], "json-escaped"),
    ]
    out: dict[str, str] = {}
    for variant, form in forms:
        out.setdefault(variant, form)
    return out


def _trie_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the words, the longest at each position (a trie)."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(c) + build(child) for c, child in sorted(node.items()) if c]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return re.compile(build(trie) or r"(?!x)x")


class _Matcher:
    """Every variant of every needle, lower-cased, in one trie regex."""

    def __init__(self, needles: Iterable[str]) -> None:
        self.variants: dict[str, tuple[str, str]] = {}
        for needle in needles:
            if len(needle.strip()) < MIN_NEEDLE:
                raise ValueError(f"needle {needle!r} is shorter than {MIN_NEEDLE} characters: "
                                 "it would be found by chance")
            for variant, form in _variants(needle).items():
                self.variants.setdefault(variant.lower(), (needle, form))
        self.pattern = _trie_pattern(self.variants)

    def find(self, text: str) -> Iterator[tuple[int, int, str, str]]:
        """(start, end, needle, form) of every match in the text, case ignored."""
        for match in self.pattern.finditer(text.lower()):
            if match.end() > match.start():
                yield match.start(), match.end(), *self.variants[match.group()]


def _forms_of(text: str) -> Iterator[tuple[str, str]]:
    """The text as written, HTML-unescaped and URL-decoded (when that changes it)."""
    yield "", text
    seen = {text}
    for label, decode in (("html-unescaped text", html.unescape),
                          ("url-decoded text", unquote), ("url-decoded text", unquote_plus)):
        try:
            other = decode(text)
        except ValueError:
            continue
        if other not in seen:
            seen.add(other)
            yield label, other


# --------------------------------------------------------------------------------------------
# reading every kind of file into text segments
# --------------------------------------------------------------------------------------------


def _image_text(data: bytes, where: str) -> Iterator[tuple[str, str]]:
    """The text an image carries: PNG text chunks, EXIF and other metadata."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            parts = [f"{k}: {v}" for k, v in getattr(image, "text", {}).items()]
            for key, value in image.info.items():
                if isinstance(value, bytes):
                    value = value.decode("latin-1")
                parts.append(f"{key}: {value}")
            parts += [f"exif {k}: {v}" for k, v in image.getexif().items()]
    except Exception:  # noqa: BLE001 - not an image PIL reads: search its bytes
        yield where, data.decode("latin-1")
        return
    yield (f"{where} image text".strip(), "\n".join(parts))


def _decode_blob(payload: str, is_base64: bool) -> bytes | None:
    if not is_base64:
        return unquote(payload).encode("utf-8")
    try:
        return base64.b64decode(re.sub(r"\s+", "", payload), validate=True)
    except (binascii.Error, ValueError):
        return None


def _text(text: str, where: str) -> Iterator[tuple[str, str]]:
    """A text segment with its ``data:`` URIs decoded (and removed from the text)."""
    blobs: list[tuple[str, bytes]] = []

    def cut(match: re.Match[str]) -> str:
        data = _decode_blob(match["data"], bool(match["b64"]))
        if data is None:
            return match.group()  # not base64 after all: search it as text
        blobs.append((match["mime"] or "text/plain", data))
        return f"data:{match['mime']};(decoded below)"

    yield where, _DATA_URI.sub(cut, text)
    for i, (mime, data) in enumerate(blobs):
        inner = f"{where} data-uri[{i}] {mime}".strip()
        if mime.startswith("image/") and "svg" not in mime:
            yield from _image_text(data, inner)
        elif mime.startswith("text/") or mime.endswith(("xml", "json", "javascript")):
            yield from _text(data.decode("utf-8", "replace"), inner)
        # fonts and other binary payloads carry no text worth searching


def _json(value: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every key, string and number of a JSON document; base64 images decoded."""
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            yield inner, str(key)
            if key in _IMAGE_MIMES and isinstance(item, str | list):
                payload = "".join(item) if isinstance(item, list) else item
                data = _decode_blob(payload, True)
                if data is not None:
                    yield from _image_text(data, inner)
                    continue
            yield from _json(item, inner)
    elif isinstance(value, list):
        if value and all(isinstance(v, str) for v in value) and \
                all(v.endswith("\n") for v in value[:-1]):  # a notebook's multi-line string
            yield from _text("".join(value), where)
            return
        for i, item in enumerate(value):
            yield from _json(item, f"{where}[{i}]")
    elif value is not None:
        yield from _text(str(value), where)


def _decode_text(data: bytes) -> str:
    """UTF-8, UTF-16 with a byte-order mark, else Latin-1 (which reads any byte)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return data.decode("utf-16", "replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pdf_text(data: bytes, where: str) -> Iterator[tuple[str, str]]:
    """A PDF's metadata, bookmarks and the text of every page (pypdf); its raw bytes are
    compressed streams, where a short pattern matches by chance and a needle hides."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    meta = " ".join(str(v) for v in (reader.metadata or {}).values())
    yield from _text(meta, f"{where} metadata".strip())
    yield from _text(" ".join(o.title for o in reader.outline if hasattr(o, "title")),
                     f"{where} bookmarks".strip())
    for i, page in enumerate(reader.pages):
        yield from _text(page.extract_text() or "", f"{where} page {i + 1}".strip())


def _segments(data: bytes, suffix: str, where: str = "") -> Iterator[tuple[str, str]]:
    """The text segments of one file's bytes (recursing into zip members)."""
    if suffix in _IMAGE_SUFFIXES:
        yield from _image_text(data, where)
        return
    if suffix == ".pdf" or data[:5] == b"%PDF-":
        yield from _pdf_text(data, where)
        return
    if suffix in _ZIP_SUFFIXES or data[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    member = archive.read(name)
                    yield from _segments(member, Path(name).suffix.lower(),
                                         f"{where} {name}".strip())
            return
        except zipfile.BadZipFile:
            pass
    text = _decode_text(data)
    if suffix in _JSON_SUFFIXES:
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            yield from _json(document, where)
            return
    yield from _text(text, where)


def _context(text: str, start: int, end: int) -> str:
    return " ".join(text[max(0, start - _CONTEXT):end + _CONTEXT].split())


def _scan_segment(text: str, matcher: _Matcher, patterns: list[re.Pattern[str]]
                  ) -> dict[str, tuple[str, str, int]]:
    """needle -> (form, context of the first match, count) in one segment.

    The count is the largest over the forms of the text (as written, HTML-unescaped,
    URL-decoded), so one occurrence is not counted once per form.
    """
    out: dict[str, tuple[str, str, int]] = {}
    for label, form_text in _forms_of(text):
        hits: dict[str, tuple[str, str, int]] = {}
        for start, end, needle, form in matcher.find(form_text):
            first = hits.get(needle)
            hits[needle] = ((label or form, _context(form_text, start, end), 1) if first is None
                            else (first[0], first[1], first[2] + 1))
        for pattern in patterns:
            spans = [m.span() for m in pattern.finditer(form_text)]
            if spans:
                hits[pattern.pattern] = (label or "pattern", _context(form_text, *spans[0]),
                                         len(spans))
        for needle, hit in hits.items():
            if needle not in out or hit[2] > out[needle][2]:
                out[needle] = hit if needle not in out else (*out[needle][:2], hit[2])
    return out


def scan_artefacts(folder: str | Path, needles: Iterable[str],
                   forbidden_patterns: Iterable[re.Pattern[str]] = ABSOLUTE_PATH_PATTERNS,
                   ) -> list[Leak]:
    """Every needle and forbidden pattern found in the files under a folder.

    Parameters
    ----------
    folder : path-like
        A report folder (or a quantification output); every file below it is read.
    needles : iterable of str
        Strings that must not appear (each at least :data:`MIN_NEEDLE` characters); matched
        case-insensitively, also HTML-escaped, URL-encoded and JSON-escaped.
    forbidden_patterns : iterable of re.Pattern
        Patterns that must not match (default :data:`ABSOLUTE_PATH_PATTERNS`).

    Returns
    -------
    list of Leak
        One per file, place and needle (the first occurrence's context, and the count),
        sorted by file. Empty: nothing found.

    Raises
    ------
    ValueError
        A needle is too short to be looked for.
    """
    folder = Path(folder)
    matcher = _Matcher(needles)
    patterns = list(forbidden_patterns)
    found: dict[tuple[str, str, str], Leak] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        for where, text in _segments(path.read_bytes(), path.suffix.lower()):
            for needle, (form, context, count) in _scan_segment(text, matcher, patterns).items():
                old = found.get((rel, where, needle))
                found[(rel, where, needle)] = Leak(
                    rel, where, needle, *((form, context) if old is None else
                                          (old.form, old.context)),
                    count + (old.count if old else 0))
    return sorted(found.values(), key=lambda k: (k.file, k.where, k.needle))
