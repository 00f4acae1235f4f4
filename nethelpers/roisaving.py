"""Saving into the ROI store: a new version, a conflict refused, an earlier version restored.

Part of :class:`nethelpers.roistore.RoiStore` (a mixin: the store's reading side lives in
:mod:`nethelpers.roistore`, the atomic write itself in :mod:`nethelpers.roicommit`).
"""

from __future__ import annotations

import shutil
import socket
from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers import __version__
from nethelpers.roicommit import (
    READS_FILE,
    clean_staging,
    commit_version,
    new_staging,
    same_but_case,
)
from nethelpers.roitables import (
    RoiConflictError,
    RoiStoreError,
    RoiVersion,
    _as_label_image,
    _now_utc,
    geometry,
    validate_reads,
    validate_table,
)

__all__ = ["STORE_FORMAT", "RoiSavingMixin"]

#: 2: one set per reader (``<scan>/<reader>/vNNNNNN``); 1: one set per scan.
STORE_FORMAT = 2


class RoiSavingMixin:
    """``save`` and ``restore`` of :class:`~nethelpers.roistore.RoiStore`."""

    _set_dir: Any
    _scan_dir: Any
    _numbers: Any
    latest: Any
    load: Any

    def save(self, scan_id: str, labels: sitk.Image, table: pd.DataFrame, *, reader: str,
             note: str = "", parent: int | None = None, saved_at: str | None = None,
             restored_from: int | None = None, reads: pd.DataFrame | None = None,
             series_uid: str | None = None, saved_by: str | None = None,
             consensus: dict[str, Any] | None = None) -> RoiVersion:
        """Save a scan's ROIs as a new version of a reader's set (atomic; nothing earlier changes).

        Parameters
        ----------
        scan_id : str
            The scan.
        labels : SimpleITK.Image
            The label map, in the geometry of the PET series it was drawn on.
        table : pandas.DataFrame
            One row per label (:data:`~nethelpers.roitables.TABLE_COLUMNS`).
        reader : str
            Whose set (each reader keeps their own; :func:`~nethelpers.roireaders.reader_folder`).
        note : str
            Free text kept with the version.
        parent : int, optional
            The version of this set the edit started from (0 for "no version yet"). If
            another save happened since, :class:`RoiConflictError` is raised instead of
            silently taking its place; without ``parent`` the save always becomes the newest.
        saved_at : str, optional
            ISO time to record instead of now (importing an older reading).
        restored_from : int, optional
            Set by :meth:`restore`.
        reads : pandas.DataFrame, optional
            The reader's calls per lesion (:func:`~nethelpers.roitables.validate_reads`).
        series_uid : str, optional
            SeriesInstanceUID of the PET series the ROIs were drawn on (checked when measured,
            :func:`nethelpers.roiseries.check_roi_series`).
        saved_by : str, optional
            Who saves, when not the reader (the adjudicator of a consensus); recorded.
        consensus : dict, optional
            For a consensus set: readers, adjudicator, adjudicated lesions (recorded).

        Returns
        -------
        RoiVersion
            The new version.

        Raises
        ------
        RoiStoreError
            Invalid labels, table or reader name, or the store cannot be written.
        RoiConflictError
            ``parent`` is not the newest version of the set any more.
        """
        if not str(reader).strip():
            raise RoiStoreError("save: name the reader whose set this is (reader=...)")
        reader = str(reader).strip()
        source = f"scan {scan_id}"
        set_dir = self._set_dir(scan_id, reader)
        same_but_case(set_dir)
        image = _as_label_image(labels, source)
        table = validate_table(table, sitk.GetArrayViewFromImage(image), source=source)
        reads = validate_reads(reads, source=f"{source} reads") if reads is not None else None
        saved_at = saved_at or _now_utc()
        table.loc[table["created"] == "", "created"] = saved_at   # new ROIs: drawn now
        set_dir.mkdir(parents=True, exist_ok=True)
        clean_staging(set_dir)
        staging = new_staging(set_dir)
        meta = {"format": STORE_FORMAT, "scan_id": scan_id, "reader": reader,
                "saved_by": str(saved_by).strip() if saved_by and str(saved_by).strip() != reader
                else "", "saved_at": saved_at, "note": note, "parent": parent,
                "restored_from": restored_from,
                "series_uid": str(series_uid).strip() if series_uid else None,
                "host": socket.gethostname(), "nethelpers": __version__,
                "geometry": geometry(image), "labels": table["label"].tolist()}
        if consensus:
            meta["consensus"] = consensus
        try:
            number = commit_version(set_dir, staging, image, table, reads, meta,
                                    numbers=self._numbers, conflict=self._conflict)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        return self._version(scan_id, reader, number)

    def _conflict(self, scan_id: str, reader: str, parent: int, newest: int) -> None:
        if newest < parent:
            raise RoiConflictError(
                f"scan {scan_id}, reader {reader}: your edit started from version {parent}, "
                f"but this reader's set has {'none' if not newest else f'{newest} as newest'}; "
                "load the reader's newest version (each reader saves only into their own set)")
        who = self._version(scan_id, reader, newest) if newest else None
        by = f" by {who.saved_by or who.reader} at {who.saved_at}" if who else ""
        raise RoiConflictError(
            f"scan {scan_id}, reader {reader}: your edit started from version {parent}, but "
            f"version {newest} was saved since{by}. Load the newest version and redo the edit, "
            "or save with parent=None to keep both (yours becomes the newest)")

    def restore(self, scan_id: str, version: int, *, reader: str, note: str | None = None,
                parent: int | None = None, saved_by: str | None = None) -> RoiVersion:
        """Make an earlier version of a reader's set the newest again by saving a copy of it.

        Parameters
        ----------
        scan_id : str
            The scan.
        version : int
            The version to bring back.
        reader : str
            Whose set.
        note : str, optional
            Default ``"restored vN"``.
        parent : int, optional
            The version the reader is looking at; a newer save raises
            :class:`RoiConflictError` (as in :meth:`save`).
        saved_by : str, optional
            Who restores, when not the reader (recorded).

        Returns
        -------
        RoiVersion
            The new version (its ``restored_from`` is ``version``; its ``series_uid`` that
            of the version copied: the ROIs are still those drawn on that PET series).
        """
        old = self.load(scan_id, version, reader=reader)
        has_reads = old.version is not None and (old.version.path / READS_FILE).is_file()
        return self.save(scan_id, old.labels, old.table, reader=reader,
                         note=note if note is not None else f"restored v{version}",
                         restored_from=version, reads=old.reads if has_reads else None,
                         parent=parent, saved_by=saved_by,
                         series_uid=old.version.series_uid if old.version else None,
                         consensus=old.version.consensus if old.version else None)
