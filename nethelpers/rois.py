"""The ROI store: per scan, a label map and its table, saved atomically and versioned.

What a reader draws is never lost. Every save becomes a new, immutable version that records
who saved it and when; an earlier version is restored by saving a copy of it as the newest,
so history only grows. Layout of a store folder (``study.rois`` in the parameters)::

    <root>/<scan_id>/v000001/labels.nrrd   label map (uint16) in the PET grid's geometry
                             rois.csv      one row per label (see TABLE_COLUMNS)
                             reads.csv     optional: the reader's calls (READ_COLUMNS)
                             meta.json     version, reader, time, parent, checksums and
                                           the SeriesInstanceUID of the PET it was drawn on
                    /v000002/ ...

A version is written into a hidden staging folder, every file and the folder are fsync'ed,
and the folder is renamed to its version number in one step. A process killed mid-save
leaves only a staging folder, which readers ignore; the last good version stays intact. Two
processes saving at once cannot both take the same number: the second rename fails and it
takes the next one (or, given the ``parent`` it started from, raises a conflict).
A version is loaded only when its files match the checksums its meta.json records; one that
does not, or whose meta.json records none, is refused (:mod:`nethelpers.roichecks`).
NRRD keeps the geometry in double precision (NIfTI rounds it to float32) and opens in
3D Slicer; :mod:`nethelpers.dicom.seg` exports a version as DICOM SEG.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers import __version__
from nethelpers.files import fsync_dir, fsync_file, sha256_file
from nethelpers.roichecks import checksum_problem, refusal

__all__ = [
    "METHODS",
    "READ_COLUMNS",
    "REFERENCE_ROIS",
    "ROI_KINDS",
    "TABLE_COLUMNS",
    "RoiConflictError",
    "RoiSet",
    "RoiStore",
    "RoiStoreError",
    "RoiVersion",
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
#: Columns of the reader's calls saved with a version (one row per lesion_id; the reader is
#: the version's): site, visual call, modified Krenning, confidence 1-5, free-text note.
READ_COLUMNS = ("lesion_id", "site", "call", "krenning", "confidence", "note")
CALLS = ("positive", "negative", "equivocal")

STORE_FORMAT = 1
LABELS_FILE, TABLE_FILE, META_FILE = "labels.nrrd", "rois.csv", "meta.json"
READS_FILE = "reads.csv"
_VERSION_DIR = re.compile(r"^v(\d{6})$")
_SCAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_STAGING = ".staging-"
_STALE_STAGING_S = 24 * 3600.0
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
        Who saved it.
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
        empty, one row per lesion_id.
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


class RoiStore:
    """A folder of versioned ROI sets, one sub-folder per scan.

    Parameters
    ----------
    root : str or Path
        The store folder (created on the first save).

    Examples
    --------
    >>> store = RoiStore("data/demo/rois")                       # doctest: +SKIP
    >>> rois = store.load("P001-DOTATATE-PETCT")                   # latest version
    >>> v = store.save("P001-DOTATATE-PETCT", rois.labels, rois.table, reader="AB",
    ...                parent=rois.version.version)               # doctest: +SKIP
    >>> store.restore("P001-DOTATATE-PETCT", 1, reader="AB")      # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # -- reading ---------------------------------------------------------------------------
    def _scan_dir(self, scan_id: str) -> Path:
        if not isinstance(scan_id, str) or not _SCAN_ID.match(scan_id):
            raise RoiStoreError(f"scan_id {scan_id!r}: use letters, digits, '_', '-' and '.' "
                                "only (it names a folder)")
        return self.root / scan_id

    def scans(self) -> list[str]:
        """Scan IDs that have at least one saved version, sorted."""
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir()
                      if d.is_dir() and _SCAN_ID.match(d.name) and self._numbers(d))

    @staticmethod
    def _numbers(scan_dir: Path) -> list[int]:
        if not scan_dir.is_dir():
            return []
        return sorted(int(m.group(1)) for d in os.listdir(scan_dir)
                      if (m := _VERSION_DIR.match(d)))

    def _meta(self, scan_id: str, number: int) -> dict[str, Any]:
        path = self._scan_dir(scan_id) / f"v{number:06d}" / META_FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            shown = f"{scan_id}/v{number:06d}/{META_FILE}"
            raise RoiStoreError(f"scan {scan_id}, ROI version {number} ({shown} in the ROI "
                                f"store): unreadable version metadata ({type(exc).__name__}); "
                                "restore the file from backup or load another version"
                                ) from None

    def _version(self, scan_id: str, number: int) -> RoiVersion:
        meta = self._meta(scan_id, number)
        return RoiVersion(scan_id=scan_id, version=number, reader=meta.get("reader", ""),
                          saved_at=meta.get("saved_at", ""), note=meta.get("note", ""),
                          parent=meta.get("parent"), restored_from=meta.get("restored_from"),
                          path=self._scan_dir(scan_id) / f"v{number:06d}",
                          series_uid=meta.get("series_uid") or None)

    def versions(self, scan_id: str) -> list[RoiVersion]:
        """Every saved version of a scan, oldest first (empty if none)."""
        return [self._version(scan_id, n) for n in self._numbers(self._scan_dir(scan_id))]

    def latest(self, scan_id: str) -> RoiVersion | None:
        """The newest version of a scan, or None if it has none."""
        numbers = self._numbers(self._scan_dir(scan_id))
        return self._version(scan_id, numbers[-1]) if numbers else None

    def history(self, scan_id: str) -> pd.DataFrame:
        """The versions of a scan: version, reader, saved_at, note, parent, restored_from."""
        cols = ["version", "reader", "saved_at", "note", "parent", "restored_from"]
        rows = [{c: getattr(v, c) for c in cols} for v in self.versions(scan_id)]
        out = pd.DataFrame(rows, columns=cols)
        for col in ("version", "parent", "restored_from"):
            out[col] = out[col].astype("Int64")
        return out

    def load(self, scan_id: str, version: int | None = None) -> RoiSet:
        """Load a version of a scan's ROIs (default: the newest).

        Parameters
        ----------
        scan_id : str
            The scan.
        version : int, optional
            The version number; default the newest.

        Returns
        -------
        RoiSet
            Label map, table and the version they came from.

        Raises
        ------
        RoiStoreError
            No such version, or its files cannot be verified: a file missing, changed, or
            without a checksum in meta.json (:mod:`nethelpers.roichecks`; named, with the
            fix).
        """
        numbers = self._numbers(self._scan_dir(scan_id))
        if not numbers:
            raise RoiStoreError(f"{self._scan_dir(scan_id)}: no saved ROIs for scan {scan_id}; "
                                "draw them in the review viewer or check study.rois")
        number = numbers[-1] if version is None else int(version)
        if number not in numbers:
            raise RoiStoreError(f"scan {scan_id}: no version {number}; saved versions are "
                                f"{numbers}")
        info = self._version(scan_id, number)
        problem = checksum_problem(info.path, self._meta(scan_id, number),
                                   required=(LABELS_FILE, TABLE_FILE), optional=(READS_FILE,))
        if problem:
            raise RoiStoreError(refusal(scan_id, number, [n for n in numbers if n < number],
                                        problem))
        labels = sitk.ReadImage(str(info.path / LABELS_FILE))
        table = pd.read_csv(info.path / TABLE_FILE, dtype=str, keep_default_na=False)
        table = validate_table(table, source=str(info.path / TABLE_FILE))
        reads = empty_reads()
        if (info.path / READS_FILE).is_file():
            reads = validate_reads(pd.read_csv(info.path / READS_FILE, dtype=str,
                                               keep_default_na=False),
                                   source=str(info.path / READS_FILE))
        return RoiSet(labels=_as_label_image(labels, str(info.path / LABELS_FILE)),
                      table=table, version=info, reads=reads)

    # -- writing ---------------------------------------------------------------------------
    def save(self, scan_id: str, labels: sitk.Image, table: pd.DataFrame, *, reader: str,
             note: str = "", parent: int | None = None, saved_at: str | None = None,
             restored_from: int | None = None, reads: pd.DataFrame | None = None,
             series_uid: str | None = None) -> RoiVersion:
        """Save a scan's ROIs as a new version (atomic; nothing earlier is changed).

        Parameters
        ----------
        scan_id : str
            The scan.
        labels : SimpleITK.Image
            The label map, in the geometry of the PET series it was drawn on.
        table : pandas.DataFrame
            One row per label (:data:`TABLE_COLUMNS`); checked by :func:`validate_table`.
        reader : str
            Who saves (recorded in the version).
        note : str
            Free text kept with the version.
        parent : int, optional
            The version this edit started from (0 for "no version yet"). If another save
            happened since, :class:`RoiConflictError` is raised instead of silently taking
            its place; without ``parent`` the save always becomes the newest version.
        saved_at : str, optional
            ISO time to record instead of now (importing an older reading).
        restored_from : int, optional
            Set by :meth:`restore`.
        reads : pandas.DataFrame, optional
            The reader's calls per lesion (:func:`validate_reads`), kept with the version.
        series_uid : str, optional
            SeriesInstanceUID of the PET series the ROIs were drawn on (read from its
            headers, not from the scans table). Measuring checks it against the PET loaded
            for the scan (:func:`nethelpers.roiseries.check_roi_series`); without it that
            check cannot be made.

        Returns
        -------
        RoiVersion
            The new version.

        Raises
        ------
        RoiStoreError
            Invalid labels or table, or the store cannot be written.
        RoiConflictError
            ``parent`` is not the newest version any more.
        """
        if not str(reader).strip():
            raise RoiStoreError("save: name the reader who saves (reader=...)")
        source = f"scan {scan_id}"
        scan_dir = self._scan_dir(scan_id)
        image = _as_label_image(labels, source)
        table = validate_table(table, sitk.GetArrayViewFromImage(image), source=source)
        reads = validate_reads(reads, source=f"{source} reads") if reads is not None else None
        saved_at = saved_at or _now_utc()
        table.loc[table["created"] == "", "created"] = saved_at   # new ROIs: drawn now
        scan_dir.mkdir(parents=True, exist_ok=True)
        self._clean_staging(scan_dir)
        staging = scan_dir / f"{_STAGING}{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            number = self._write_and_commit(scan_dir, staging, image, table, reads,
                                            reader=reader, note=note, parent=parent,
                                            saved_at=saved_at, restored_from=restored_from,
                                            scan_id=scan_id, series_uid=series_uid)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return self._version(scan_id, number)

    def _write_and_commit(self, scan_dir: Path, staging: Path, image: sitk.Image,
                          table: pd.DataFrame, reads: pd.DataFrame | None, *, scan_id: str,
                          reader: str, note: str,
                          parent: int | None, saved_at: str,
                          restored_from: int | None, series_uid: str | None) -> int:
        sitk.WriteImage(image, str(staging / LABELS_FILE), useCompression=True)
        table.to_csv(staging / TABLE_FILE, index=False)
        files = [LABELS_FILE, TABLE_FILE]
        if reads is not None:
            reads.to_csv(staging / READS_FILE, index=False)
            files.append(READS_FILE)
        meta = {
            "format": STORE_FORMAT, "scan_id": scan_id, "reader": str(reader).strip(),
            "saved_at": saved_at, "note": note, "parent": parent,
            "restored_from": restored_from,
            "series_uid": str(series_uid).strip() if series_uid else None,
            "host": socket.gethostname(),
            "nethelpers": __version__, "geometry": geometry(image),
            "labels": table["label"].tolist(),
            "files": {name: sha256_file(staging / name) for name in files},
        }
        for attempt in range(1000):
            numbers = self._numbers(scan_dir)
            newest = numbers[-1] if numbers else 0
            if parent is not None and newest != parent:
                self._conflict(scan_id, parent, newest)
            number = newest + 1
            meta["version"] = number
            (staging / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
            for name in (*files, META_FILE):
                fsync_file(staging / name)
            fsync_dir(staging)
            target = scan_dir / f"v{number:06d}"
            try:
                if target.exists():
                    raise FileExistsError(errno.EEXIST, "exists", str(target))
                os.rename(staging, target)
            except OSError as exc:
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise RoiStoreError(f"{target}: cannot write the ROI version ({exc}); "
                                        "check permissions and free space") from None
                time.sleep(0.001 * (attempt % 10))
                continue                       # someone else took this number: try the next
            fsync_dir(scan_dir)
            return number
        raise RoiStoreError(f"{scan_dir}: could not claim a version number after 1000 tries")

    def _conflict(self, scan_id: str, parent: int, newest: int) -> None:
        who = self._version(scan_id, newest) if newest else None
        by = f" by {who.reader} at {who.saved_at}" if who else ""
        raise RoiConflictError(
            f"scan {scan_id}: your edit started from version {parent}, but version {newest} "
            f"was saved since{by}. Load the newest version and redo the edit, or save with "
            "parent=None to keep both (yours becomes the newest)")

    def restore(self, scan_id: str, version: int, *, reader: str, note: str | None = None,
                parent: int | None = None) -> RoiVersion:
        """Make an earlier version the newest again by saving a copy of it.

        Parameters
        ----------
        scan_id : str
            The scan.
        version : int
            The version to bring back.
        reader : str
            Who restores (recorded).
        note : str, optional
            Default ``"restored vN"``.
        parent : int, optional
            The version the reader is looking at; a newer save raises
            :class:`RoiConflictError` (as in :meth:`save`).

        Returns
        -------
        RoiVersion
            The new version (its ``restored_from`` is ``version``; its ``series_uid`` that
            of the version copied: the ROIs are still those drawn on that PET series).
        """
        old = self.load(scan_id, version)
        has_reads = (self._scan_dir(scan_id) / f"v{version:06d}" / READS_FILE).is_file()
        return self.save(scan_id, old.labels, old.table, reader=reader,
                         note=note if note is not None else f"restored v{version}",
                         restored_from=version, reads=old.reads if has_reads else None,
                         parent=parent,
                         series_uid=old.version.series_uid if old.version else None)

    @staticmethod
    def _clean_staging(scan_dir: Path) -> None:
        """Remove staging folders left by crashed saves more than a day ago."""
        cutoff = time.time() - _STALE_STAGING_S
        for d in scan_dir.iterdir():
            if d.name.startswith(_STAGING):
                try:
                    if d.stat().st_mtime < cutoff:
                        shutil.rmtree(d, ignore_errors=True)
                except OSError:
                    pass


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
