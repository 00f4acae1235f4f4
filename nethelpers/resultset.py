"""Files written as one set: staged, checksummed, swapped in under a lock, read verified.

Users open the files where they always were (``<folder>/measurements.csv``); a record file
(``quantify.json``) is the commit record of the set. :func:`write_set`, holding the folder's
:class:`~nethelpers.locking.FolderLock`:

1. writes every file into ``<folder>/.staging-<set id>/`` and fsyncs it, so a failure while
   writing (disk full, killed) leaves the current set untouched;
2. records each file's sha256, the set's ID, who wrote it and which set it replaces in the
   record, written last into the staging folder;
3. renames the files into the folder, the record last, and removes the staging folder.

A reader (:func:`read_set`) reads the record and each file's bytes once, and accepts them
only if every file's sha256 is the one the record lists: the set it returns is one writer's
complete set, since the bytes it parses are the bytes it checked. A reader that comes
during the renames sees files of the new set under the old record, and reads again while
a writer holds the lock; a set left mixed by a writer that died mid-rename, or edited by
hand, is refused with the files that do not match. Sets form a chain: each record names
the set it replaced, so no set is replaced without a trace.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nethelpers.files import fsync_dir, fsync_file, sha256_file
from nethelpers.locking import FolderLock, lock_holder

__all__ = ["SET_FORMAT", "SETTLE_S", "ResultSet", "ResultSetError", "current_set", "read_set",
           "write_set"]

SET_FORMAT = 1
"""Version of the set record (the ``set`` entry of the record file)."""

SETTLE_S = 5.0
"""How long a reader retries a set that does not match while a writer holds the lock."""

_STAGING = ".staging-"


class ResultSetError(ValueError):
    """A folder whose files do not form one complete set (the message says which and why)."""


@dataclass(frozen=True)
class ResultSet:
    """A complete set read from a folder.

    Attributes
    ----------
    record : dict
        The record file's content (with ``set`` and ``files``).
    data : dict
        File name → bytes, each matching its sha256 in ``record["files"]``.
    """

    record: dict[str, Any]
    data: dict[str, bytes]

    @property
    def set_id(self) -> str:
        """The set's ID."""
        return str(self.record["set"]["id"])


def _now() -> datetime:
    return datetime.now(timezone.utc)


def current_set(folder: str | os.PathLike[str], record_name: str) -> dict[str, Any] | None:
    """The ``set`` entry of the record in a folder (not verified), or None."""
    try:
        record = json.loads((Path(folder) / record_name).read_bytes())
    except (OSError, ValueError):
        return None
    entry = record.get("set") if isinstance(record, dict) else None
    return entry if isinstance(entry, dict) else None


def _clean_staging(folder: Path) -> None:
    """Remove staging folders of writers that died (the caller holds the lock)."""
    for child in folder.iterdir():
        if child.name.startswith(_STAGING) and child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def _swap(source: Path, target: Path) -> None:
    """Rename one staged file into place (a test widens the race window here)."""
    os.replace(source, target)


def write_set(folder: str | os.PathLike[str], files: Mapping[str, bytes],
              record: Mapping[str, Any], *, record_name: str, lock: FolderLock
              ) -> dict[str, Any]:
    """Write files and their record into a folder as one set (see the module docstring).

    Parameters
    ----------
    folder : str or Path
        The folder (created).
    files : mapping
        File name → content.
    record : mapping
        JSON-serialisable content of the record file; ``set`` and ``files`` are added (a
        ``set`` or ``files`` entry given is replaced).
    record_name : str
        The record file's name (e.g. ``quantify.json``), written last.
    lock : FolderLock
        The folder's lock, taken (or re-entered) while writing.

    Returns
    -------
    dict
        The record written: ``set`` holds ``id``, ``written_at``, ``host``, ``pid`` and
        ``replaces`` (the ``set`` entry of the record replaced, or None).

    Raises
    ------
    nethelpers.locking.FolderLockedError
        Another process holds the lock past its timeout (nothing is written).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with lock:
        _clean_staging(folder)
        now = _now()
        set_id = f"{now:%Y%m%dT%H%M%S}Z-{uuid.uuid4().hex[:12]}"
        staging = folder / f"{_STAGING}{set_id}"
        staging.mkdir()
        try:
            for name, content in files.items():
                (staging / name).write_bytes(content)
                fsync_file(staging / name)
            replaced = current_set(folder, record_name)
            entry = {"format": SET_FORMAT, "id": set_id,
                     "written_at": now.isoformat(timespec="microseconds"),
                     "host": socket.gethostname(), "pid": os.getpid(),
                     "replaces": {k: replaced.get(k) for k in ("id", "written_at", "host", "pid")}
                     if replaced else None}
            out = {k: v for k, v in record.items() if k not in ("set", "files")}
            out |= {"set": entry, "files": {n: sha256_file(staging / n) for n in files}}
            (staging / record_name).write_text(json.dumps(out, indent=1, default=str) + "\n",
                                               encoding="utf-8")
            fsync_file(staging / record_name)
            fsync_dir(staging)
            for name in (*files, record_name):     # the record last: it commits the set
                _swap(staging / name, folder / name)
            fsync_dir(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return out


def _mismatched(record: dict[str, Any], data: dict[str, bytes | None],
                names: Sequence[str]) -> list[str]:
    import hashlib

    listed = record.get("files") or {}
    return [n for n in names if data.get(n) is None or n not in listed
            or hashlib.sha256(data[n]).hexdigest() != listed[n]]  # type: ignore[arg-type]


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def read_set(folder: str | os.PathLike[str], names: Sequence[str], *, record_name: str,
             lock_name: str, settle_s: float = SETTLE_S) -> ResultSet:
    """Read a folder's set, every file checked against the record (see the module docstring).

    Parameters
    ----------
    folder : str or Path
        The folder.
    names : sequence of str
        The files of the set (besides the record).
    record_name : str
        The record file.
    lock_name : str
        Name of the writers' lock (:class:`~nethelpers.locking.FolderLock`): while it is
        held, a set that does not match is read again, up to ``settle_s`` seconds.
    settle_s : float
        See ``lock_name``.

    Returns
    -------
    ResultSet
        The record and the bytes of every file, all of one set.

    Raises
    ------
    ResultSetError
        No record, a record without a set entry (written before sets existed), or files
        missing or not matching it (named, with the set ID).
    """
    folder = Path(folder)
    lock = folder / f".{lock_name}.lock"
    deadline = time.monotonic() + settle_s
    retried = False
    while True:
        raw = _read(folder / record_name)
        if raw is None:
            raise ResultSetError(f"no {record_name}: nothing saved yet")
        try:
            record = json.loads(raw)
        except ValueError:
            raise ResultSetError(f"{record_name} is not valid JSON") from None
        if not isinstance(record, dict) or not isinstance(record.get("set"), dict):
            raise ResultSetError(f"{record_name} has no set record (written by an older "
                                 "nethelpers, whose sets could mix two runs)")
        data = {n: _read(folder / n) for n in names}
        bad = _mismatched(record, data, names)
        if not bad:
            return ResultSet(record, {n: data[n] or b"" for n in names})
        writing = lock_holder(lock) is not None
        if (writing and time.monotonic() < deadline) or not retried:
            retried = True                 # a writer may have finished between the reads
            time.sleep(0.01)
            continue
        raise ResultSetError(
            f"{', '.join(bad)} missing or not the file{'s' if len(bad) > 1 else ''} of set "
            f"{record['set'].get('id')} recorded in {record_name} (changed since written, or "
            "left by a run that stopped while writing)")
