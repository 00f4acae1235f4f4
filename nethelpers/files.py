"""Small file utilities: checksums, fsync, and writing a file so no reader sees half of it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "fsync_dir", "fsync_file", "sha256_file", "shown_path",
           "study_fingerprint", "tree_digest"]


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks.

    Parameters
    ----------
    path : path-like
        The file.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a written file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to disk, where the platform allows."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:          # platforms without directory handles (Windows)
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb",
                 encoding: str | None = None) -> Iterator[IO]:
    """Write ``path`` through a temporary file beside it, fsync'ed and renamed into place.

    A reader sees the old file or the new one, never half of it; on an error the temporary
    file is removed and the old file stays. The new file gets the permissions a plain
    ``open()`` would give it.

    Parameters
    ----------
    path : path-like
        The destination.
    mode : str
        ``"wb"`` or ``"w"``.
    encoding : str, optional
        Text encoding for ``"w"``.

    Yields
    ------
    file object
        The temporary file to write.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())        # mkstemp makes it private (0600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def tree_digest(root: str | Path) -> dict[str, Any] | None:
    """Fingerprint a folder tree from its listing, without reading file contents.

    Each file contributes ``relative/path<TAB>size<TAB>mtime-nanoseconds`` (sorted, POSIX
    separators); the sha256 of those lines identifies the tree. Symbolic links are followed,
    each folder and file once (:func:`nethelpers.treewalk.walk_tree`: a loop or a dangling
    link is left out, never an error). Pixel data are not read, so a 3 GB DICOM tree is
    fingerprinted in the time of a directory walk; an edit that keeps a file's size and
    restores its mtime goes unnoticed. No path is returned.

    Parameters
    ----------
    root : str or Path
        The folder.

    Returns
    -------
    dict or None
        ``{"files": n, "bytes": total, "sha256": hex}``, or None if the folder is absent.
    """
    from nethelpers.treewalk import walk_tree

    root = Path(root)
    if not root.is_dir():
        return None
    files = walk_tree(root).files
    total = sum(size for _, size, _ in files)
    lines = [f"{rel.replace(os.sep, '/')}\t{size}\t{mtime}" for rel, size, mtime in files]
    digest = hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
    return {"files": len(lines), "bytes": total, "sha256": digest}


def shown_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else its name: never an absolute path.

    Parameters
    ----------
    path, root : Path
        Compared as given (resolve them first to see through symbolic links).

    Returns
    -------
    str
        E.g. ``"clinical/patients.csv"``.
    """
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def _table_fingerprint(path: Path, data_root: Path) -> dict[str, Any]:
    shown = shown_path(path, data_root)
    if not path.is_file():
        return {"path": shown, "bytes": None, "sha256": None}
    return {"path": shown, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def study_fingerprint(study: Any) -> dict[str, Any]:
    """Fingerprint a study's inputs: every table's sha256, the DICOM and ROI trees' listings.

    Parameters
    ----------
    study : nethelpers.config.StudyConfig
        The ``study`` section of validated parameters.

    Returns
    -------
    dict
        ``tables`` (name → path relative to ``data_root``, bytes, sha256), ``dicom`` and
        ``rois`` (:func:`tree_digest`). No path inside the DICOM tree is returned.
    """
    tables = {name: _table_fingerprint(Path(getattr(study.tables, name)), study.data_root)
              for name in type(study.tables).model_fields}
    return {"tables": tables, "dicom": tree_digest(study.dicom), "rois": tree_digest(study.rois)}
