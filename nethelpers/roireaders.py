"""Reader folders of the ROI store, and the migration of single-set stores to them.

Each reader keeps their own ROI set of a scan (blinded reads): ``<root>/<scan_id>/<reader>/
v000001/``. A reader's name becomes a folder name: letters, digits, ``_``, ``-`` and ``.``
are kept as they are; every other character (a space, a slash, an accent) is stored
percent-encoded as its UTF-8 bytes, so ``"Dr Smith"`` is the folder ``Dr%20Smith`` and the name
comes back exactly from the folder. Names that cannot be a reader folder are refused: empty,
longer than :data:`MAX_READER_LENGTH`, starting with ``.`` (hidden and staging folders), a
version number (``v000001``: the old layout), or with control characters.

Stores written before readers had their own sets hold the versions directly under
``<scan_id>/``. Such a chain was one shared set (each version an edit of the one before,
whoever saved it), so :func:`migrate_scan` moves it whole, unchanged, into ONE reader's folder:
that of the reader who saved its newest version (what a cohort run measured before;
:data:`UNKNOWN_READER` when that cannot be read). One ``rename`` per version: the files, their
checksums and the version numbers stay as they were, and each version's own saver stays in its
``meta.json`` (shown as ``saved_by``). Its reads are a shared set's, not an independent
reader's: :mod:`nethelpers.storereads` leaves them out of the cohort. It is idempotent (a
second run finds nothing to move) and a version whose target already exists is refused, never
overwritten. The store migrates a scan on first use; ``nethelpers rois migrate`` does the whole
store at once.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, unquote

from nethelpers.files import fsync_dir
from nethelpers.roitables import RoiStoreError

__all__ = ["MAX_READER_LENGTH", "MIGRATION_LOG", "UNKNOWN_READER", "Migrated",
           "legacy_versions", "migrate_scan", "reader_folder", "reader_name"]

#: Longest reader name (characters).
MAX_READER_LENGTH = 64
#: Reader folder of an old version whose meta.json names no reader (or cannot be read).
UNKNOWN_READER = "unknown-reader"
#: Written in the scan folder by a migration: which version went where, and when.
MIGRATION_LOG = "migration.json"
VERSION_DIR = re.compile(r"^v(\d{6})$")
_SAFE = "_-."


@dataclass(frozen=True)
class Migrated:
    """One version moved by a migration: scan, number and the reader folder it went to."""

    scan_id: str
    version: int
    reader: str


def reader_folder(reader: str) -> str:
    """The folder name of a reader's ROI set (see the module text for the rules).

    Raises
    ------
    RoiStoreError
        The name cannot name a reader folder; the message says what to use.
    """
    name = str(reader).strip()
    if not name:
        raise RoiStoreError("name the reader (reader=...): each reader keeps their own ROI set")
    if unicodedata.normalize("NFKC", name) != name or any(
            unicodedata.category(c) == "Cf" for c in name):
        plain = "".join(c for c in unicodedata.normalize("NFKC", name)
                        if unicodedata.category(c) != "Cf")
        raise RoiStoreError(f"reader name {name!r} holds invisible or compatibility characters "
                            f"(a copy-paste?): it would open a second set for the same "
                            f"reader; type it plainly, e.g. {plain!r}")
    if len(name) > MAX_READER_LENGTH or name.startswith(".") or VERSION_DIR.match(name) or any(
            ord(c) < 32 for c in name):
        raise RoiStoreError(f"reader name {name[:MAX_READER_LENGTH]!r}: use up to "
                            f"{MAX_READER_LENGTH} characters, not starting with '.', not a "
                            "version number like v000001 (initials such as 'AB' are best)")
    return quote(name, safe=_SAFE)


def reader_name(folder: str) -> str:
    """The reader a folder of the store belongs to (inverse of :func:`reader_folder`)."""
    return unquote(folder)


def legacy_versions(scan_dir: Path) -> list[str]:
    """Version folders directly under a scan folder (the single-set layout), sorted."""
    if not scan_dir.is_dir():
        return []
    return sorted(d for d in os.listdir(scan_dir) if VERSION_DIR.match(d))


def _recorded_reader(version_dir: Path) -> str:
    try:
        meta = json.loads((version_dir / "meta.json").read_text(encoding="utf-8"))
        return reader_folder(str(meta.get("reader", "")))
    except (OSError, ValueError, AttributeError):   # RoiStoreError is a ValueError
        return UNKNOWN_READER


def migrate_scan(scan_dir: Path) -> list[Migrated]:
    """Move a scan's single-set versions into their readers' folders (see module text).

    Parameters
    ----------
    scan_dir : pathlib.Path
        ``<root>/<scan_id>``.

    Returns
    -------
    list of Migrated
        The versions moved now (empty when there was nothing to move).

    Raises
    ------
    RoiStoreError
        A target folder exists already (nothing is overwritten) or the store is read-only.
    """
    moved: list[Migrated] = []
    names = legacy_versions(scan_dir)
    # the whole chain goes into ONE set: that of the reader who saved its newest version
    # (what a cohort run measured). Each version was an edit of the one before, whoever
    # saved it, so the chain is one shared set, never several independent reads; each
    # version's own saver stays in its meta.json (shown as saved_by).
    folder = _chain_folder(scan_dir, names)
    for name in names:
        source = scan_dir / name
        target = scan_dir / folder / name
        if target.exists():
            raise RoiStoreError(
                f"{scan_dir.name}/{name} in the ROI store: cannot move it to "
                f"{scan_dir.name}/{folder}/{name}, which exists already; compare the two "
                "folders and move the old one aside by hand (nothing was overwritten)")
        try:
            (scan_dir / folder).mkdir(exist_ok=True)
            os.rename(source, target)
        except FileNotFoundError:      # another process moved it meanwhile
            continue
        except OSError as exc:
            raise RoiStoreError(
                f"{scan_dir.name}/{name} in the ROI store: this version is in the old "
                f"single-set layout and cannot be moved to {folder}/ ({exc.strerror}); run "
                "'nethelpers rois migrate -f <parameters.yaml>' with write access") from None
        fsync_dir(scan_dir / folder)
        moved.append(Migrated(scan_dir.name, int(name[1:]), reader_name(folder)))
    if moved:
        fsync_dir(scan_dir)
        _log(scan_dir, moved)
    return moved


def _chain_folder(scan_dir: Path, names: list[str]) -> str:
    """The reader folder of a single-set chain: its newest version's saver.

    A migration stopped half-way has moved the newest versions already: the chain then
    goes on into the folder holding the highest version number.
    """
    if not names:
        return UNKNOWN_READER
    newest = int(names[-1][1:])
    for sub in sorted(d for d in scan_dir.iterdir() if d.is_dir() and not VERSION_DIR.match(
            d.name) and not d.name.startswith(".")):
        moved = [int(v[1:]) for v in legacy_versions(sub)]
        if moved and max(moved) > newest:
            return sub.name
    return _recorded_reader(scan_dir / names[-1])


def _log(scan_dir: Path, moved: list[Migrated]) -> None:
    """Append the moves to the scan's migration log (outside every version folder)."""
    path = scan_dir / MIGRATION_LOG
    try:
        log = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []
    except (OSError, ValueError):
        log = []
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    log += [{"version": m.version, "reader": m.reader, "moved_at": when,
             "to": f"{reader_folder(m.reader)}/v{m.version:06d}"} for m in moved]
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
