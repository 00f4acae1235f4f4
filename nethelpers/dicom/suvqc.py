"""The SUV verdict of a PET series in the DICOM index: the SUV rules themselves, on headers.

The index says ``fail`` for exactly what :func:`nethelpers.dicom.suv.suv_conversion` refuses,
with its reason text (the file, the element and the fix), and ``warn`` with its warnings: it
runs that function on the keyword mappings kept for each PET file
(:func:`nethelpers.dicom.petkeywords.pet_keywords`), so there is no second list of
preconditions to drift apart. The conversion is the default one of ``nethelpers suv`` and
``quantify``: body-weight SUV, the header's values and the default decay windows. A weight,
dose or injection time that only the clinical record holds cannot be known here; the fix in
the reason says what to pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.suv import PetHeader, suv_conversion

__all__ = ["COUNTS_NOTE", "PREFIX", "multiframe_suv_qc", "nm_suv_qc", "series_suv_qc"]

#: What starts every reason and note of this check in ``qc_reasons``.
PREFIX = "SUV: "
#: The note (a warn, not a fail) of counts-only SPECT.
COUNTS_NOTE = PREFIX + "counts-only SPECT: measured as ratios (no activity calibration)"


def _verdict(header: PetHeader, finish: Any = None) -> tuple[list[str], list[str]]:
    try:
        conversion = suv_conversion(header, "bw")
        if finish is not None:
            finish(conversion.provenance)
    except DicomInputError as exc:
        return [PREFIX + str(exc)], []
    except Exception as exc:  # noqa: BLE001 - a bug in the check must not stop the index
        return [], [f"{PREFIX}not checked (unexpected {type(exc).__name__}: {exc})"]
    return [], [PREFIX + w for w in conversion.warnings]


def series_suv_qc(keywords: Sequence[tuple[dict[str, Any], list[str]] | str | None],
                  names: Sequence[str]) -> tuple[list[str], list[str]]:
    """What ``nethelpers suv`` would refuse in, or warn about, a single-frame PET series.

    Parameters
    ----------
    keywords : sequence of (dict, list of str), str or None
        Per file: the SUV keywords and reading notes (:func:`pet_keywords`), or why they
        could not be read (a value that is not a number: refused as the reader would), or
        None for a file that is not PET (then nothing is checked: the series fails for
        mixing modalities).
    names : sequence of str
        The files' names, as the reasons show them (relative, never absolute).

    Returns
    -------
    list of str
        The refusal (``"SUV: <file>: <element>: <problem> Fix: <fix>"``), or empty.
    list of str
        The conversion's warnings, each prefixed ``"SUV: "``.
    """
    if not keywords or any(k is None for k in keywords):
        return [], []
    for name, entry in zip(names, keywords, strict=True):
        if isinstance(entry, str):
            return [f"{PREFIX}{name}: {entry}"], []
    notes = sorted({n for _, ns in keywords for n in ns})  # type: ignore[misc]
    header = PetHeader.from_keywords([k for k, _ in keywords], list(names), notes)  # type: ignore[misc]
    return _verdict(header)


def multiframe_suv_qc(path: Path, name: str) -> tuple[list[str], list[str]]:
    """:func:`series_suv_qc` for a multi-frame PET object (Enhanced or Legacy Converted).

    Parameters
    ----------
    path : pathlib.Path
        The file (its header is read in full: the frames' functional groups).
    name : str
        Its name in the reasons.

    Returns
    -------
    list of str, list of str
        As :func:`series_suv_qc`.
    """
    from nethelpers.dicom.enhancedpet import enhanced_pet_keywords, finish_provenance
    from nethelpers.dicom.frameviews import frame_views
    from nethelpers.dicom.rawread import RawReadError, read_header

    try:
        frames = frame_views(read_header(path), Path(name))
        keywords, notes, mapping = enhanced_pet_keywords(frames)
    except DicomInputError as exc:
        return [PREFIX + str(exc)], []
    except (RawReadError, OSError):
        return [], []  # unreadable: the multi-frame check already says so
    header = PetHeader.from_keywords(
        keywords, [frames.frame_name(i) for i in range(len(keywords))], notes)
    return _verdict(header, lambda provenance: finish_provenance(provenance, mapping))


def nm_suv_qc(path: Path, name: str) -> tuple[list[str], list[str]]:
    """:func:`series_suv_qc` for an NM SPECT reconstruction (one multi-frame file).

    Quantitative SPECT (Bq/ml) runs the SUV rules on the NM header mapped by
    :func:`nethelpers.dicom.spect.nm_pet_keywords`; counts-only SPECT gets
    :data:`COUNTS_NOTE` (a warn: it is measured as ratios, not refused).

    Parameters
    ----------
    path : pathlib.Path
        The file (its header is read in full).
    name : str
        Its name in the reasons.

    Returns
    -------
    list of str, list of str
        As :func:`series_suv_qc`.
    """
    from nethelpers.dicom.nmimage import nm_scale
    from nethelpers.dicom.rawread import RawReadError, read_header
    from nethelpers.dicom.spect import nm_pet_keywords

    try:
        header = read_header(path)
        scale = nm_scale(header, Path(name))
        if scale.units == "counts":
            return [], [COUNTS_NOTE]
        keywords, warnings, _ = nm_pet_keywords(header, Path(name), scale.slope,
                                                scale.intercept)
    except DicomInputError as exc:
        return [PREFIX + str(exc)], []
    except (RawReadError, OSError):
        return [], []  # unreadable: the multi-frame check already says so
    refused, notes = _verdict(PetHeader.from_keywords([keywords], [name]))
    return refused, [*notes, *(PREFIX + w for w in warnings)]
