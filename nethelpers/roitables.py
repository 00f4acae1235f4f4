"""What a ROI set holds: the ROI table, the reader's reads, and their checks.

A ROI set is a ``uint16`` label map (0 background) in the PET grid's geometry with a table of
its labels (:data:`TABLE_COLUMNS`) and, optionally, the reader's calls per lesion
(:data:`READ_COLUMNS`). The store (:mod:`nethelpers.roistore`) saves and versions them; this
module only checks and normalises them, so importers (DICOM SEG, RTSTRUCT) use the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

__all__ = [
    "AXIS_COLUMNS",
    "CALLS",
    "METHODS",
    "READ_COLUMNS",
    "REFERENCE_ROIS",
    "ROI_KINDS",
    "TABLE_COLUMNS",
    "RoiConflictError",
    "RoiSet",
    "RoiStoreError",
    "RoiVersion",
    "empty_reads",
    "geometry",
    "table_from_rows",
    "validate_reads",
    "validate_table",
]

#: What a ROI is: a lesion (with its lesion_id) or a reference region of normal tissue.
ROI_KINDS = ("lesion", "liver", "spleen", "blood_pool", "muscle")
#: Reference regions (every ROI kind but ``lesion``).
REFERENCE_ROIS = ROI_KINDS[1:]
#: How a ROI was drawn.
METHODS = ("manual", "sphere", "threshold", "click-grow", "imported")
#: Columns of a ROI table, in order.
TABLE_COLUMNS = ("label", "roi", "lesion_id", "method", "reader", "created")
#: Optional diameters a reader measures with the line tool (mm, >= 0).
AXIS_COLUMNS = ("long_axis_mm", "short_axis_mm")
#: Columns of the reader's calls saved with a version (one row per lesion_id; the reader is
#: the version's): site, visual call, modified Krenning, confidence 1-5, free-text note, and
#: the long and short axis in mm.
READ_COLUMNS = ("lesion_id", "site", "call", "krenning", "confidence", "note", *AXIS_COLUMNS)
#: The visual calls.
CALLS = ("positive", "negative", "equivocal")
_MAX_LABEL = np.iinfo(np.uint16).max


class RoiStoreError(ValueError):
    """A ROI set that cannot be saved or loaded as it is; the message names what and how."""


class RoiConflictError(RoiStoreError):
    """Someone saved a newer version since the one an edit started from."""


@dataclass(frozen=True)
class RoiVersion:
    """One saved version of a scan's ROIs.

    Attributes
    ----------
    scan_id : str
        The scan.
    version : int
        1, 2, ... in the order saved.
    reader : str
        Whose ROI set it belongs to (each reader keeps their own, blinded to the others).
    saved_at : str
        When, ISO 8601 in UTC.
    note : str
        Free text given at save (e.g. "restored v2").
    parent : int or None
        The version the edit started from (None: a first or unconditioned save).
    restored_from : int or None
        For a restore, the version copied.
    path : pathlib.Path
        The version's folder.
    series_uid : str or None
        SeriesInstanceUID of the PET series the ROIs were drawn on (None: not recorded, as
        in versions saved before it was; :mod:`nethelpers.roiseries` checks it).
    saved_by : str
        Who pressed save when it was not the set's reader (an adjudicator saving the
        consensus, a data manager restoring); '' when the reader saved.
    consensus : dict or None
        For a consensus set: ``readers``, ``adjudicator`` and the ``adjudicated`` lesion IDs
        (:mod:`nethelpers.consensus`).
    store_format : int
        The store format it was saved in (1: the single-set store, before readers had their
        own sets; its calls were shared by every reader).
    """

    scan_id: str
    version: int
    reader: str
    saved_at: str
    note: str
    parent: int | None
    restored_from: int | None
    path: Path
    series_uid: str | None = None
    saved_by: str = ""
    consensus: dict[str, Any] | None = field(default=None, compare=False)
    store_format: int = 1


@dataclass
class RoiSet:
    """A scan's ROIs: a label map with its geometry and the table of its labels.

    Attributes
    ----------
    labels : SimpleITK.Image
        ``uint16`` label map; 0 is background.
    table : pandas.DataFrame
        One row per label with :data:`TABLE_COLUMNS`.
    version : RoiVersion or None
        Where it was loaded from (None for a set not yet saved).
    reads : pandas.DataFrame
        The reader's calls per lesion (:data:`READ_COLUMNS`); empty if none were saved.
    """

    labels: sitk.Image
    table: pd.DataFrame
    version: RoiVersion | None = None
    reads: pd.DataFrame = field(default_factory=lambda: empty_reads())

    @property
    def array(self) -> np.ndarray:
        """The label map as a ``(z, y, x)`` numpy array (a copy)."""
        return sitk.GetArrayFromImage(self.labels)

    def label_of(self, *, roi: str | None = None, lesion_id: str | None = None) -> int:
        """The label value of a reference region or of a lesion.

        Parameters
        ----------
        roi : str, optional
            A reference region, e.g. ``"liver"``.
        lesion_id : str, optional
            A lesion.

        Returns
        -------
        int
            The label.

        Raises
        ------
        KeyError
            No ROI (or more than one) matches.
        """
        if (roi is None) == (lesion_id is None):
            raise TypeError("give exactly one of roi= or lesion_id=")
        rows = (self.table[self.table["lesion_id"] == lesion_id] if lesion_id is not None
                else self.table[self.table["roi"] == roi])
        if len(rows) != 1:
            what = f"lesion {lesion_id}" if lesion_id is not None else f"ROI {roi!r}"
            raise KeyError(f"{what}: {len(rows)} rows in the ROI table (expected 1)")
        return int(rows["label"].iloc[0])


def _now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def validate_table(table: pd.DataFrame, labels: np.ndarray | None = None,
                   source: str = "ROI table") -> pd.DataFrame:
    """Check a ROI table (and its label map) and return it normalised.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns :data:`TABLE_COLUMNS`; ``lesion_id`` is required for lesions and must be
        empty for reference regions; reference regions appear at most once.
    labels : numpy.ndarray, optional
        The label map: every non-zero value in it must have a row.
    source : str
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        The table with the columns in order, ``label`` as int, text columns as str,
        sorted by label.

    Raises
    ------
    RoiStoreError
        Naming the column, the rows and what is allowed.
    """
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise RoiStoreError(f"{source}: missing column(s) {', '.join(missing)}; "
                            f"a ROI table has {', '.join(TABLE_COLUMNS)}")
    out = table.loc[:, list(TABLE_COLUMNS)].copy()
    labels_col = pd.to_numeric(out["label"], errors="coerce")
    bad = ~np.isfinite(labels_col) | (labels_col % 1 != 0) | (labels_col < 1) | (
        labels_col > _MAX_LABEL)
    if bad.any():
        raise RoiStoreError(f"{source}: column label must hold whole numbers 1..{_MAX_LABEL}; "
                            f"bad values {out['label'][bad].tolist()}")
    out["label"] = labels_col.astype(int)
    for col in TABLE_COLUMNS[1:]:
        out[col] = out[col].fillna("").astype(str).str.strip()
    dup = out["label"][out["label"].duplicated()].unique().tolist()
    if dup:
        raise RoiStoreError(f"{source}: label(s) {dup} appear more than once")
    for col, allowed in (("roi", ROI_KINDS), ("method", METHODS)):
        wrong = sorted(set(out[col]) - set(allowed))
        if wrong:
            raise RoiStoreError(f"{source}: column {col} has {wrong}; allowed: "
                                f"{', '.join(allowed)}")
    lesion = out["roi"] == "lesion"
    no_id = lesion & (out["lesion_id"] == "")
    if no_id.any():
        raise RoiStoreError(f"{source}: lesion label(s) {out['label'][no_id].tolist()} "
                            "have no lesion_id; give the patient's lesion_id (shared by all "
                            "scans of the patient)")
    if (~lesion & (out["lesion_id"] != "")).any():
        raise RoiStoreError(f"{source}: reference region(s) carry a lesion_id; leave lesion_id "
                            "empty for liver, spleen, blood_pool and muscle")
    for col, rows in (("lesion_id", out[lesion]), ("roi", out[~lesion])):
        twice = rows[col][rows[col].duplicated()].unique().tolist()
        if twice:
            raise RoiStoreError(f"{source}: {col} {twice} has more than one label; merge them "
                                "into one label")
    if (out["reader"] == "").any():
        raise RoiStoreError(f"{source}: column reader is empty in label(s) "
                            f"{out['label'][out['reader'] == ''].tolist()}; name who drew it")
    if labels is not None:
        present = np.unique(labels)
        unknown = sorted(set(present[present != 0].tolist()) - set(out["label"]))
        if unknown:
            raise RoiStoreError(f"{source}: label value(s) {unknown} are in the label map but "
                                "not in the table; add rows for them or erase them")
    return out.sort_values("label", kind="stable").reset_index(drop=True)


def empty_reads() -> pd.DataFrame:
    """An empty reads table with :data:`READ_COLUMNS` (text columns)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in READ_COLUMNS})


def validate_reads(reads: pd.DataFrame, source: str = "reads") -> pd.DataFrame:
    """Check the reader's calls and return them normalised (text columns, sorted by lesion).

    Parameters
    ----------
    reads : pandas.DataFrame
        :data:`READ_COLUMNS` (missing ones are added empty); ``call`` in positive /
        negative / equivocal or empty, ``krenning`` 0-4 or empty, ``confidence`` 1-5 or
        empty, ``long_axis_mm`` / ``short_axis_mm`` a number >= 0 (mm) or empty, the short
        axis not longer than the long one; one row per lesion_id.
    source : str
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        All columns as text ('' for missing), sorted by lesion_id.

    Raises
    ------
    RoiStoreError
        Naming the column, the values and what is allowed.
    """
    out = reads.copy()
    for col in READ_COLUMNS:
        if col not in out.columns:
            out[col] = ""
    out = out.loc[:, list(READ_COLUMNS)]
    for col in READ_COLUMNS:
        values = out[col].astype(object).where(out[col].notna(), "")
        out[col] = pd.Series([str(int(v)) if isinstance(v, float) and v.is_integer()
                              else str(v).strip() for v in values], index=out.index,
                             dtype=object)          # text even when empty (never float)
    if (out["lesion_id"] == "").any():
        raise RoiStoreError(f"{source}: every read needs its lesion_id")
    twice = out["lesion_id"][out["lesion_id"].duplicated()].unique().tolist()
    if twice:
        raise RoiStoreError(f"{source}: lesion_id {twice} has more than one read")
    checks = (("call", set(CALLS)), ("krenning", {"0", "1", "2", "3", "4"}),
              ("confidence", {"1", "2", "3", "4", "5"}))
    for col, allowed in checks:
        wrong = sorted(set(out[col]) - allowed - {""})
        if wrong:
            raise RoiStoreError(f"{source}: column {col} has {wrong}; allowed: "
                                f"{', '.join(sorted(allowed))} or empty")
    for col in AXIS_COLUMNS:
        out[col] = [_axis_text(v, col, source) for v in out[col]]
    both = (out["long_axis_mm"] != "") & (out["short_axis_mm"] != "")
    longer = both & (out["short_axis_mm"].where(both, "0").astype(float)
                     > out["long_axis_mm"].where(both, "0").astype(float))
    if longer.any():
        raise RoiStoreError(f"{source}: lesion(s) {out['lesion_id'][longer].tolist()} have a "
                            "short axis longer than the long axis; swap them")
    return out.sort_values("lesion_id", kind="stable").reset_index(drop=True)


def _as_label_image(labels: sitk.Image, source: str) -> sitk.Image:
    """The label map as a 3-D uint16 image (refusing negative or non-integer values)."""
    if labels.GetDimension() != 3 or labels.GetNumberOfComponentsPerPixel() != 1:
        raise RoiStoreError(f"{source}: a label map is a scalar 3-D image; got "
                            f"{labels.GetDimension()}-D with "
                            f"{labels.GetNumberOfComponentsPerPixel()} component(s)")
    if labels.GetPixelID() == sitk.sitkUInt16:
        return labels
    arr = sitk.GetArrayViewFromImage(labels)
    if arr.size and (arr.min() < 0 or arr.max() > _MAX_LABEL or not np.all(arr == np.round(arr))):
        raise RoiStoreError(f"{source}: label values must be whole numbers 0..{_MAX_LABEL}")
    return sitk.Cast(labels, sitk.sitkUInt16)


def geometry(image: sitk.Image) -> dict[str, list[float]]:
    """Size, spacing, origin and direction of an image as plain lists (for meta.json)."""
    return {"size": list(image.GetSize()), "spacing": list(image.GetSpacing()),
            "origin": list(image.GetOrigin()), "direction": list(image.GetDirection())}




def _axis_text(value: str, column: str, source: str) -> str:
    """A diameter in mm as text ('' when empty), refusing what is not a number >= 0."""
    if value == "":
        return ""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not np.isfinite(number) or number < 0:
        raise RoiStoreError(f"{source}: column {column} has {value!r}; give the diameter in "
                            "mm as a number >= 0, or leave it empty")
    return f"{number:g}"


def table_from_rows(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A ROI table from row dicts (missing columns empty), validated.

    Parameters
    ----------
    rows : sequence of dict
        Each with at least ``label``, ``roi`` and ``reader``.

    Returns
    -------
    pandas.DataFrame
        See :func:`validate_table`.
    """
    df = pd.DataFrame(list(rows))
    for col in TABLE_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    return validate_table(df)
