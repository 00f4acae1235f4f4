"""Committing a ROI version: staging folder, fsync, and the rename that makes it a version.

The write path of :class:`nethelpers.roistore.RoiStore`. A version is written into a hidden
staging folder of the reader's set, every file and the folder are fsync'ed, and the folder
is renamed to its version number in one step: a process killed mid-save leaves only a
staging folder (ignored by readers, removed a day later), and two processes saving into one
set at once cannot take the same number (the second rename fails; it takes the next one, or
raises the conflict when it started from a version that is no longer the newest).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers.files import fsync_dir, fsync_file, sha256_file
from nethelpers.roireaders import reader_name
from nethelpers.roitables import RoiStoreError

__all__ = ["LABELS_FILE", "META_FILE", "READS_FILE", "TABLE_FILE", "clean_staging",
           "commit_version", "new_staging", "same_but_case"]

LABELS_FILE, TABLE_FILE, META_FILE = "labels.nrrd", "rois.csv", "meta.json"
READS_FILE = "reads.csv"
_STAGING = ".staging-"
_STALE_STAGING_S = 24 * 3600.0


def new_staging(set_dir: Path) -> Path:
    """A new, empty staging folder in a reader's set (unique per host, process and call)."""
    staging = set_dir / f"{_STAGING}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir()
    return staging


def same_but_case(set_dir: Path) -> None:
    """Refuse a reader whose folder differs from another only in case (one on macOS)."""
    if set_dir.parent.is_dir():
        for d in set_dir.parent.iterdir():
            if d.name != set_dir.name and d.name.casefold() == set_dir.name.casefold():
                raise RoiStoreError(
                    f"reader {reader_name(set_dir.name)!r}: scan {set_dir.parent.name} has "
                    f"the set of reader {reader_name(d.name)!r}, which differs only in "
                    "case (one folder on macOS and Windows); use that spelling")


def commit_version(set_dir: Path, staging: Path, image: sitk.Image, table: pd.DataFrame,
                   reads: pd.DataFrame | None, meta: dict[str, Any], *,
                   numbers: Callable[[Path], list[int]],
                   conflict: Callable[[str, str, int, int], None]) -> int:
    """Write a version into its staging folder and rename it to the next free number.

    Parameters
    ----------
    set_dir : pathlib.Path
        The reader's set (``<root>/<scan_id>/<reader>``).
    staging : pathlib.Path
        An empty staging folder in it (:func:`new_staging`).
    image, table, reads : SimpleITK.Image, pandas.DataFrame, pandas.DataFrame or None
        The validated label map, ROI table and reads (None: saved without reads).
    meta : dict
        The version's metadata; ``files`` (checksums) and ``version`` are filled in here.
    numbers : callable
        The version numbers saved in a set folder.
    conflict : callable
        ``(scan_id, reader, parent, newest)``; raises the conflict when ``meta["parent"]``
        is given and is not the newest version.

    Returns
    -------
    int
        The version number taken.
    """
    sitk.WriteImage(image, str(staging / LABELS_FILE), useCompression=True)
    table.to_csv(staging / TABLE_FILE, index=False)
    files = [LABELS_FILE, TABLE_FILE]
    if reads is not None:
        reads.to_csv(staging / READS_FILE, index=False)
        files.append(READS_FILE)
    meta["files"] = {name: sha256_file(staging / name) for name in files}
    parent = meta["parent"]
    for attempt in range(1000):
        saved = numbers(set_dir)
        newest = saved[-1] if saved else 0
        if parent is not None and newest != parent:
            conflict(meta["scan_id"], meta["reader"], parent, newest)
        number = newest + 1
        meta["version"] = number
        (staging / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        for name in (*files, META_FILE):
            fsync_file(staging / name)
        fsync_dir(staging)
        target = set_dir / f"v{number:06d}"
        try:
            if target.exists():
                raise FileExistsError(errno.EEXIST, "exists", str(target))
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise RoiStoreError(f"{meta['scan_id']}/{set_dir.name}/{target.name} in the "
                                    f"ROI store: cannot write the ROI version "
                                    f"({exc.strerror}); check permissions and free space"
                                    ) from None
            time.sleep(0.001 * (attempt % 10))
            continue                       # someone else took this number: try the next
        fsync_dir(set_dir)
        return number
    raise RoiStoreError(f"{meta['scan_id']}/{set_dir.name} in the ROI store: could not claim "
                        "a version number after 1000 tries")


def clean_staging(set_dir: Path) -> None:
    """Remove staging folders left by crashed saves more than a day ago."""
    cutoff = time.time() - _STALE_STAGING_S
    for d in set_dir.iterdir():
        if d.name.startswith(_STAGING):
            try:
                if d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass
