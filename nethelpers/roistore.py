"""The ROI store: per scan and reader, a label map and its table, saved atomically and versioned.

What a reader draws is never lost. Every save becomes a new, immutable version that records
whose set it is, who saved it and when; an earlier version is restored by saving a copy of it
as the newest, so history only grows. Each reader keeps their own set of a scan, blinded to
the others' (:mod:`nethelpers.roireaders` says how a reader's name becomes a folder, and
how stores of the older single-set layout are migrated on first use). Layout of a store
folder (``study.rois`` in the parameters)::

    <root>/<scan_id>/<reader>/v000001/labels.nrrd   label map (uint16) in the PET grid
                                      rois.csv      one row per label (TABLE_COLUMNS)
                                      reads.csv     optional: the reader's calls
                                      meta.json     version, reader, saved_by, time,
                                                    parent, checksums, PET SeriesInstanceUID
                             /v000002/ ...
                    /<other reader>/v000001/ ...

Version numbers count per reader set (a migrated set keeps its old numbers, gaps included).
A version is written (:mod:`nethelpers.roicommit`) into a hidden staging folder, every file
and the folder are fsync'ed, and the folder is renamed to its version number in one step. A
process killed mid-save leaves only a staging folder, which readers ignore; the last good
version stays intact. Two processes saving into one set at once cannot both take the same
number: the second rename fails and it takes the next one (or, given the ``parent`` it
started from, raises a conflict).
A version is loaded only when its files match the checksums its meta.json records; one that
does not, or whose meta.json records none, is refused (:mod:`nethelpers.roichecks`).
NRRD keeps the geometry in double precision and opens in 3D Slicer; :mod:`nethelpers.dicom.seg`
exports a version as DICOM SEG.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers.roichecks import checksum_problem, refusal
from nethelpers.roicommit import (
    LABELS_FILE,
    META_FILE,
    READS_FILE,
    TABLE_FILE,
)
from nethelpers.roireaders import (
    VERSION_DIR,
    Migrated,
    legacy_versions,
    migrate_scan,
    reader_folder,
    reader_name,
)
from nethelpers.roisaving import STORE_FORMAT, RoiSavingMixin
from nethelpers.roitables import (
    RoiSet,
    RoiStoreError,
    RoiVersion,
    _as_label_image,
    empty_reads,
    validate_reads,
    validate_table,
)

__all__ = ["LABELS_FILE", "META_FILE", "READS_FILE", "STORE_FORMAT", "TABLE_FILE", "RoiStore"]

_SCAN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class RoiStore(RoiSavingMixin):
    """A folder of versioned ROI sets, one sub-folder per scan and, in it, per reader.

    Parameters
    ----------
    root : str or Path
        The store folder (created on the first save).

    Attributes
    ----------
    notes : list of str
        What the store did on its own (migrations of old single-set scans), for the caller
        to show.

    Notes
    -----
    ``reader=`` names whose set a method reads. Without it, :meth:`latest` and :meth:`load`
    take the newest set of any reader (by save time), :meth:`versions` and :meth:`history`
    list every reader's versions; a review session always passes its reader.

    Examples
    --------
    >>> store = RoiStore("data/demo/rois")                                # doctest: +SKIP
    >>> rois = store.load("P001-DOTATATE-PETCT", reader="R1")             # newest of R1
    >>> v = store.save("P001-DOTATATE-PETCT", rois.labels, rois.table, reader="R1",
    ...                parent=rois.version.version)                       # doctest: +SKIP
    >>> store.restore("P001-DOTATATE-PETCT", 1, reader="R1")              # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.notes: list[str] = []
        self._migrated: set[str] = set()

    # -- folders ---------------------------------------------------------------------------
    def _scan_dir(self, scan_id: str) -> Path:
        if not isinstance(scan_id, str) or not _SCAN_ID.match(scan_id):
            raise RoiStoreError(f"scan_id {scan_id!r}: use letters, digits, '_', '-' and '.' "
                                "only (it names a folder)")
        scan_dir = self.root / scan_id
        if scan_id not in self._migrated:
            self._note(migrate_scan(scan_dir))
            self._migrated.add(scan_id)
        return scan_dir

    def _note(self, moved: list[Migrated]) -> None:
        if moved:
            by: dict[str, list[int]] = {}
            for m in moved:
                by.setdefault(m.reader, []).append(m.version)
            self.notes.append(
                f"scan {moved[0].scan_id}: moved {len(moved)} version(s) of the old single-set "
                "ROI store into their readers' sets, unchanged ("
                + "; ".join(f"{r}: {', '.join(map(str, v))}" for r, v in by.items()) + ")")

    def _set_dir(self, scan_id: str, reader: str) -> Path:
        return self._scan_dir(scan_id) / reader_folder(reader)

    def migrate(self) -> list[Migrated]:
        """Move every scan's single-set versions into their readers' sets (idempotent)."""
        if not self.root.is_dir():
            return []
        moved = []
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and _SCAN_ID.match(d.name) and legacy_versions(d):
                found = migrate_scan(d)
                self._note(found)
                moved += found
        return moved

    def scans(self) -> list[str]:
        """Scan IDs with at least one saved version (of any reader), sorted."""
        if not self.root.is_dir():
            return []
        return sorted(d.name for d in self.root.iterdir()
                      if d.is_dir() and _SCAN_ID.match(d.name)
                      and (legacy_versions(d) or self._folders(d)))

    def _folders(self, scan_dir: Path) -> list[str]:
        """Reader folders of a scan that hold at least one version."""
        if not scan_dir.is_dir():
            return []
        return sorted(d.name for d in scan_dir.iterdir()
                      if d.is_dir() and not d.name.startswith(".")
                      and not VERSION_DIR.match(d.name) and self._numbers(d))

    def readers(self, scan_id: str) -> list[str]:
        """The readers with a saved ROI set of a scan, sorted."""
        return [reader_name(f) for f in self._folders(self._scan_dir(scan_id))]

    @staticmethod
    def _numbers(set_dir: Path) -> list[int]:
        if not set_dir.is_dir():
            return []
        return sorted(int(m.group(1)) for d in os.listdir(set_dir)
                      if (m := VERSION_DIR.match(d)))

    # -- reading ---------------------------------------------------------------------------
    def _meta(self, scan_id: str, reader: str, number: int) -> dict[str, Any]:
        shown = f"{scan_id}/{reader_folder(reader)}/v{number:06d}"
        try:
            return json.loads((self.root / shown / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RoiStoreError(f"scan {scan_id}, reader {reader}, ROI version {number} "
                                f"({shown}/{META_FILE} in the ROI store): unreadable version "
                                f"metadata ({type(exc).__name__}); restore the file from "
                                "backup or load another version") from None

    def _version(self, scan_id: str, reader: str, number: int) -> RoiVersion:
        meta = self._meta(scan_id, reader, number)
        return RoiVersion(scan_id=scan_id, version=number, reader=reader,
                          saved_at=meta.get("saved_at", ""), note=meta.get("note", ""),
                          parent=meta.get("parent"), restored_from=meta.get("restored_from"),
                          path=self._set_dir(scan_id, reader) / f"v{number:06d}",
                          series_uid=meta.get("series_uid") or None,
                          saved_by=meta.get("saved_by") or _other_saver(meta, reader),
                          consensus=meta.get("consensus") or None,
                          store_format=_format(meta))

    def _readers_or(self, scan_id: str, reader: str | None) -> list[str]:
        return self.readers(scan_id) if reader is None else [str(reader).strip()]

    def versions(self, scan_id: str, *, reader: str | None = None) -> list[RoiVersion]:
        """Saved versions of a reader's set, oldest first (all readers: by save time)."""
        out = [self._version(scan_id, r, n) for r in self._readers_or(scan_id, reader)
               for n in self._numbers(self._set_dir(scan_id, r))]
        if reader is None:
            out.sort(key=lambda v: (v.saved_at, v.reader, v.version))
        return out

    def latest(self, scan_id: str, *, reader: str | None = None) -> RoiVersion | None:
        """The newest version of a reader's set (any reader: the newest saved), or None."""
        newest = []
        for r in self._readers_or(scan_id, reader):
            numbers = self._numbers(self._set_dir(scan_id, r))
            if numbers:
                newest.append(self._version(scan_id, r, numbers[-1]))
        return max(newest, key=lambda v: (v.saved_at, v.version, v.reader), default=None)

    def history(self, scan_id: str, *, reader: str | None = None) -> pd.DataFrame:
        """Versions: version, reader, saved_by, saved_at, note, parent, restored_from."""
        cols = ["version", "reader", "saved_by", "saved_at", "note", "parent", "restored_from"]
        rows = [{c: getattr(v, c) for c in cols}
                for v in self.versions(scan_id, reader=reader)]
        out = pd.DataFrame(rows, columns=cols)
        for col in ("version", "parent", "restored_from"):
            out[col] = out[col].astype("Int64")
        return out

    def _locate(self, scan_id: str, version: int | None, reader: str | None) -> RoiVersion:
        """The version to load: a reader's (newest or numbered) or, without reader, any's."""
        if reader is None:
            if version is None:
                found = self.latest(scan_id)
                if found is None:
                    raise RoiStoreError(f"{scan_id} in the ROI store: no saved ROIs for scan "
                                        f"{scan_id}; draw them in the review viewer or check "
                                        "study.rois")
                return found
            saved = {r: self._numbers(self._set_dir(scan_id, r)) for r in self.readers(scan_id)}
            owners = [r for r, numbers in saved.items() if int(version) in numbers]
            if len(owners) > 1:
                raise RoiStoreError(f"scan {scan_id}: version {version} is in the sets of "
                                    f"readers {', '.join(owners)}; name the reader (reader=...)")
            if not owners:
                raise RoiStoreError(f"scan {scan_id}: no version {version}; saved versions are "
                                    + ("; ".join(f"{n} (reader {r})" for r, n in saved.items())
                                       or "none: draw ROIs in the review viewer"))
            reader = owners[0]
        numbers = self._numbers(self._set_dir(scan_id, reader))
        if not numbers:
            raise RoiStoreError(f"{scan_id}/{reader_folder(reader)} in the ROI store: no saved "
                                f"ROIs for scan {scan_id} by reader {reader}; draw them in the "
                                "review viewer or check study.rois")
        number = numbers[-1] if version is None else int(version)
        if number not in numbers:
            raise RoiStoreError(f"scan {scan_id}, reader {reader}: no version {number}; saved "
                                f"versions are {numbers}")
        return self._version(scan_id, reader, number)

    def _verified(self, info: RoiVersion, required: tuple[str, ...],
                  optional: tuple[str, ...]) -> None:
        folder = reader_folder(info.reader)
        meta = self._meta(info.scan_id, info.reader, info.version)
        problem = checksum_problem(info.path, meta, required=required, optional=optional)
        if problem:
            earlier = [n for n in self._numbers(info.path.parent) if n < info.version]
            raise RoiStoreError(refusal(info.scan_id, info.version, earlier, problem,
                                        reader=info.reader, folder=folder))

    def load(self, scan_id: str, version: int | None = None, *,
             reader: str | None = None) -> RoiSet:
        """Load a version of a scan's ROIs (default: the newest of the reader's set).

        Parameters
        ----------
        scan_id : str
            The scan.
        version : int, optional
            The version number; default the newest.
        reader : str, optional
            Whose set; default the newest set of any reader (a numbered version then must
            belong to exactly one reader).

        Returns
        -------
        RoiSet
            Label map, table, reads and the version they came from.

        Raises
        ------
        RoiStoreError
            No such version, or its files cannot be verified: a file missing, changed, or
            without a checksum in meta.json (:mod:`nethelpers.roichecks`; named, with the
            fix).
        """
        info = self._locate(scan_id, version, reader)
        self._verified(info, (LABELS_FILE, TABLE_FILE), (READS_FILE,))
        shown = f"{scan_id}/{reader_folder(info.reader)}/v{info.version:06d}"
        labels = sitk.ReadImage(str(info.path / LABELS_FILE))
        table = pd.read_csv(info.path / TABLE_FILE, dtype=str, keep_default_na=False)
        table = validate_table(table, source=f"{shown}/{TABLE_FILE}")
        return RoiSet(labels=_as_label_image(labels, f"{shown}/{LABELS_FILE}"),
                      table=table, version=info, reads=self._reads(info))

    def _reads(self, info: RoiVersion) -> pd.DataFrame:
        if not (info.path / READS_FILE).is_file():
            return empty_reads()
        shown = f"{info.scan_id}/{reader_folder(info.reader)}/v{info.version:06d}/{READS_FILE}"
        return validate_reads(pd.read_csv(info.path / READS_FILE, dtype=str,
                                          keep_default_na=False), source=shown)

    def load_reads(self, scan_id: str, *, reader: str,
                   version: int | None = None) -> tuple[RoiVersion, pd.DataFrame]:
        """A version's reads only (checksum of reads.csv verified; no label map read).

        Returns
        -------
        RoiVersion
            The version.
        pandas.DataFrame
            Its reads (empty when it was saved without).
        """
        info = self._locate(scan_id, version, reader)
        self._verified(info, (), (READS_FILE,))
        return info, self._reads(info)

    # -- writing ---------------------------------------------------------------------------


def _format(meta: dict[str, Any]) -> int:
    """The store format a version's meta.json records (1 when it records none)."""
    try:
        return int(meta.get("format", 1))
    except (TypeError, ValueError):
        return 1


def _other_saver(meta: dict[str, Any], reader: str) -> str:
    """Who saved a version migrated from a single-set store, when not the set's reader."""
    saver = str(meta.get("reader") or "").strip()
    return saver if saver and saver != reader else ""
