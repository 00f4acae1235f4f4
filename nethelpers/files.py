"""Small file utilities shared by the ROI store and the report."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["sha256_file"]


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
