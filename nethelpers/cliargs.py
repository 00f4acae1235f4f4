"""Value types of the ``nethelpers`` options: each refuses a bad value with what to give.

argparse prints ``nethelpers <command>: error: argument <option>: <message>`` and exits 2,
so a bad value never reaches the library (nor a traceback).
"""

from __future__ import annotations

import argparse
from datetime import datetime

__all__ = ["IMAGE_SUFFIXES", "at_least_one", "image_file", "injection_time", "slice_tolerance"]

#: Image formats ``suv`` writes (SimpleITK, by the file name's ending).
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd", ".hdr", ".img",
                  ".vtk", ".gipl", ".tif", ".tiff")


def injection_time(text: str) -> datetime:
    """``--injection``: a full date-time; a time alone could be on either day, so refused."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        value = None
    if value is None or "T" not in text.strip().upper().replace(" ", "T"):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date and time: give the injection as YYYY-MM-DDTHH:MM[:SS] "
            "(a time alone is refused: it could be on the scan day or the day before)")
    return value


def at_least_one(text: str) -> int:
    """A whole number of at least 1 (``--patients``, ``--workers``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def slice_tolerance(text: str) -> float:
    """``--slice-tolerance``: a fraction of the slice spacing in [0, 0.5)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a fraction of the slice spacing in [0, 0.5) (0.05 is 5 %)")
    return value


def image_file(text: str) -> str:
    """``suv -o``: a file name SimpleITK knows how to write (by its ending)."""
    if not text.lower().endswith(IMAGE_SUFFIXES):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an image file name: end it with .nii.gz (NIfTI), .nrrd, .mha "
            "or another of " + ", ".join(IMAGE_SUFFIXES))
    return text
