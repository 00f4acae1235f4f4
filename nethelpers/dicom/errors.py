"""Errors raised on DICOM input: each names the file, the element and the fix."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DicomInputError", "SeriesError", "SuvError"]


class DicomInputError(ValueError):
    """DICOM input that cannot be used as it is.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str or pathlib.Path, optional
        The file (or series directory) the problem was found in.
    tag : str, optional
        The element, as ``"Keyword (gggg,eeee)"``.
    fix : str, optional
        What the user can do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        tag: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.tag = tag
        self.fix = fix
        parts = [p for p in (self.file, tag) if p]
        text = ": ".join([*parts, problem])
        if fix:
            text += f" Fix: {fix}"
        super().__init__(text)


class SuvError(DicomInputError):
    """A PET series whose values cannot be converted to SUV without guessing."""


class SeriesError(DicomInputError):
    """A series that cannot be assembled into one volume (missing, mixed or duplicate slices)."""
