"""Is a saved ROI version what its reader saved? Its files against the checksums it records.

Every version the ROI store writes (:class:`nethelpers.rois.RoiStore`, store format 1, the
only format there has been) lists in its ``meta.json`` the SHA-256 of each file it holds:
``files: {"labels.nrrd": ..., "rois.csv": ..., "reads.csv": ...}`` (reads.csv only when the
reader's calls were saved). A version is loaded only when its label map and table, and its
reads when present, are listed there and match. A ``meta.json`` without checksums was not
written by the store (made or edited by hand): nothing tells its label map from an altered
one, so it is refused like a changed file, never measured unverified. There is no older
layout to upgrade.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nethelpers.files import sha256_file

__all__ = ["checksum_problem", "refusal"]


def checksum_problem(folder: Path, meta: Mapping[str, Any], *, required: Sequence[str],
                     optional: Sequence[str] = ()) -> str | None:
    """What keeps a version's files from being verified, or None when they all match.

    Parameters
    ----------
    folder : pathlib.Path
        The version's folder.
    meta : mapping
        Its ``meta.json``.
    required : sequence of str
        Files every version holds (label map, table): each must be listed.
    optional : sequence of str
        Files a version may hold (reads): listed whenever present.

    Returns
    -------
    str or None
        One sentence naming the file and what is wrong (no path), or None.
    """
    listed = meta.get("files")
    if not isinstance(listed, dict) or not listed:
        return ("its meta.json records no checksums (no 'files' entry), so its label map "
                "and table cannot be verified; every version nethelpers saves records them, "
                "so this meta.json was written or edited outside nethelpers")
    present = [name for name in optional if (folder / name).is_file()]
    unlisted = [name for name in (*required, *present) if name not in listed]
    if unlisted:
        return (f"its meta.json records no checksum for {', '.join(unlisted)}, so "
                f"{'it' if len(unlisted) == 1 else 'they'} cannot be verified (edited "
                "outside nethelpers)")
    for name, digest in listed.items():
        path = folder / str(name)
        if not path.is_file():
            return f"{name} is missing (checksum mismatch: meta.json lists it)"
        if not isinstance(digest, str) or sha256_file(path) != digest.strip().lower():
            return f"{name} changed since it was saved (checksum mismatch)"
    return None


def refusal(scan_id: str, version: int, earlier: Sequence[int], problem: str, *,
            reader: str | None = None, folder: str | None = None) -> str:
    """The error of a version that fails its checksums: which one, what, and the fix.

    Parameters
    ----------
    scan_id : str
        The scan (a pseudonym).
    version : int
        The version refused.
    earlier : sequence of int
        The scan's versions saved before it.
    problem : str
        From :func:`checksum_problem`.
    reader, folder : str, optional
        The reader whose set it is and that set's folder (:mod:`nethelpers.roireaders`).

    Returns
    -------
    str
        One line; the folder is shown relative to the ROI store.
    """
    who = f", reader {reader}" if reader else ""
    you = reader if reader else "<you>"
    folder = f"{scan_id}/{folder + '/' if folder else ''}v{version:06d}"
    text = f"scan {scan_id}{who}, ROI version {version} ({folder} in the ROI store): {problem}."
    backup = f"restore the folder {folder} from backup"
    if earlier:
        fix = (f"load an earlier version ({', '.join(map(str, earlier))}) or make it the "
               f"newest again: nethelpers rois restore {scan_id} {earlier[-1]} -f "
               f"<parameters.yaml> --reader {you}; or {backup}")
    else:
        fix = (f"{backup}, or draw the ROIs again (nethelpers review) or re-import them "
               f"(nethelpers rois import {scan_id} <file> -f <parameters.yaml> --reader {you})")
    return f"{text} Fix: {fix}"
