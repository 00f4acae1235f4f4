"""Do a scan's saved ROIs belong to the PET loaded for it? The PET series check.

ROIs are stored per ``scan_id`` (:class:`nethelpers.rois.RoiStore`), and the scans table says
which PET series a ``scan_id`` is. When that table changes under the store (rebuilt with
renumbered pseudonyms, an edited ``pet_dir``), the ROIs of one scan would be measured on
another PET, maybe of another patient: on the same grid no geometry check notices, and the
numbers are silently wrong. Each saved version therefore records the SeriesInstanceUID of
the PET it was drawn on (``meta.json``), and whoever measures or shows the ROIs compares it
with the series actually loaded (:func:`check_roi_series`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nethelpers.rois import RoiStoreError, RoiVersion

__all__ = ["NO_SERIES_WARNING", "RoiSeriesError", "check_roi_series", "series_uid_of"]

#: The QC warning of a version saved without its PET series UID (stores written before).
NO_SERIES_WARNING = ("ROIs saved without their PET series UID: cannot check they belong to "
                     "this PET")


class RoiSeriesError(RoiStoreError):
    """A scan's ROIs were drawn on another PET series than the one loaded for the scan."""


def series_uid_of(headers: Sequence[Any]) -> str | None:
    """The SeriesInstanceUID of a loaded series, read from its first header.

    Parameters
    ----------
    headers : sequence of nethelpers.dicom.rawread.RawHeader
        ``LoadedSeries.headers`` (one series: they share the UID).

    Returns
    -------
    str or None
        The UID; None when the series has no header or the element is absent or empty.
    """
    from nethelpers.dicom.rawread import keyword_tag

    if not headers:
        return None
    return headers[0].text(keyword_tag("SeriesInstanceUID")) or None


def check_roi_series(version: RoiVersion | None, pet_series_uid: str | None) -> str:
    """Check that a ROI version was drawn on the PET series loaded for its scan.

    Parameters
    ----------
    version : RoiVersion or None
        The version measured (None: a set not saved yet, nothing to check).
    pet_series_uid : str or None
        SeriesInstanceUID of the PET loaded for the scan (:func:`series_uid_of`).

    Returns
    -------
    str
        ``""`` when the UIDs agree, else :data:`NO_SERIES_WARNING` for a version saved
        without its UID (it can be measured, unchecked).

    Raises
    ------
    RoiSeriesError
        The version records another series (or the loaded PET has none): naming both UIDs
        and the fix.
    """
    if version is None:
        return ""
    if not version.series_uid:
        return NO_SERIES_WARNING
    if version.series_uid == pet_series_uid:
        return ""
    loaded = pet_series_uid or "(no SeriesInstanceUID in its headers)"
    raise RoiSeriesError(
        f"scan {version.scan_id}: ROI version v{version.version} was drawn on PET series "
        f"{version.series_uid}, but the PET loaded for this scan is series {loaded}. The "
        "scans table now points this scan_id at another PET series than the one its ROIs "
        "were drawn on: correct pet_dir/pet_series_uid, or re-draw/re-import the ROIs")
