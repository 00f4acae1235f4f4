"""Markers of lesions recorded on a patient's other scans, and the readers' calls side by side.

A marker places a lesion recorded on another scan onto the current one, for the reader to
decide "seen / not seen" here. The point is the centre of the lesion's VOI there (its centre
of mass, from the label map alone: the same whether that scan is open or not, and not moved
by noise as the SUVmax voxel is -- in the noisy demo the SUVmax voxel of a 24 mm node lies
6 mm from its centre). The point goes through ``point_map``: in the napari review the
registration of the two scans (:mod:`nethelpers.registrationstore`), which loads the other
scan once to register it; a scan that cannot be loaded or registered costs a warning and its
markers, not the markers of the others (None: the same patient coordinates).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.measures import voi_stats
from nethelpers.reviewscan import empty_table
from nethelpers.rois import READ_COLUMNS, RoiStore, RoiStoreError

__all__ = ["MARKER_COLUMNS", "MarkersMixin", "PointMap", "marker_rows", "readers_side_by_side",
           "voi_point"]

#: A registration between two scans: ``(from_scan, to_scan, point_lps_mm) -> point_lps_mm``.
PointMap = Callable[[str, str, tuple[float, float, float]], tuple[float, float, float]]
#: Columns of :func:`marker_rows`.
MARKER_COLUMNS = ["lesion_id", "from_scan", "x_mm", "y_mm", "z_mm", "z", "y", "x"]


def voi_point(labels: sitk.Image | np.ndarray, label: int, *, suv: np.ndarray | None = None,
              reference: sitk.Image | None = None) -> tuple[float, float, float] | None:
    """A VOI's point in patient space (LPS mm): its SUVmax voxel, else its centre of mass.

    Parameters
    ----------
    labels : SimpleITK.Image or numpy.ndarray
        The label map (an array needs ``reference`` for its geometry).
    label : int
        The VOI's label.
    suv : numpy.ndarray, optional
        The SUV volume on the same grid: the point is then the SUVmax voxel.
    reference : SimpleITK.Image, optional
        The image whose geometry an array ``labels`` has.

    Returns
    -------
    tuple of float or None
        None when the label has no voxel.
    """
    image = labels if isinstance(labels, sitk.Image) else reference
    array = sitk.GetArrayViewFromImage(labels) if isinstance(labels, sitk.Image) else labels
    mask = array == int(label)
    if image is None or not mask.any():
        return None
    if suv is not None:
        index = voi_stats(suv, mask, image.GetSpacing()).max_index
    else:
        index = tuple(np.argwhere(mask).mean(axis=0))
    return tuple(image.TransformContinuousIndexToPhysicalPoint(
        [float(v) for v in index[::-1]]))


def marker_rows(here: sitk.Image, current: str, lesions: Sequence[tuple[str, str, tuple]],
                point_map: PointMap | None) -> pd.DataFrame:
    """Markers on the current PET from points of lesions on other scans.

    Parameters
    ----------
    here : SimpleITK.Image
        The current scan's PET (its grid).
    current : str
        The current scan.
    lesions : sequence of (lesion_id, from_scan, point_lps_mm)
        One point per lesion.
    point_map : callable, optional
        ``(from_scan, to_scan, point) -> point``; None: same patient coordinates.

    Returns
    -------
    pandas.DataFrame
        :data:`MARKER_COLUMNS` (``z, y, x`` continuous indices of the current PET).
    """
    rows = []
    for lesion_id, from_scan, point in lesions:
        mapped = point_map(from_scan, current, tuple(point)) if point_map else tuple(point)
        idx = here.TransformPhysicalPointToContinuousIndex([float(v) for v in mapped])[::-1]
        rows.append({"lesion_id": lesion_id, "from_scan": from_scan, "x_mm": mapped[0],
                     "y_mm": mapped[1], "z_mm": mapped[2], "z": idx[0], "y": idx[1],
                     "x": idx[2]})
    return pd.DataFrame(rows, columns=MARKER_COLUMNS)


def readers_side_by_side(store: RoiStore, scan_id: str, readers: Sequence[str]
                         ) -> tuple[pd.DataFrame, list[str]]:
    """Each reader's newest saved calls on a scan, one row per lesion (for the adjudicator).

    Parameters
    ----------
    store : RoiStore
        The ROI store.
    scan_id : str
        The scan.
    readers : sequence of str
        The independent readers (never the consensus).

    Returns
    -------
    pandas.DataFrame
        ``lesion_id`` then ``<field>_<reader>`` for each read field and reader; a reader who
        did not read a lesion has empty cells.
    list of str
        Warnings: a reader with no saved reads, or whose reads cannot be verified.
    """
    wide = pd.DataFrame({"lesion_id": pd.Series(dtype=object)})
    warnings = []
    for reader in readers:
        try:
            _, reads = store.load_reads(scan_id, reader=reader)
        except RoiStoreError as exc:
            warnings.append(f"{scan_id}: no reads of {reader} ({exc})")
            continue
        renamed = reads.rename(columns={c: f"{c}_{reader}" for c in READ_COLUMNS[1:]})
        wide = wide.merge(renamed, on="lesion_id", how="outer")
    return wide.fillna("").sort_values("lesion_id", kind="stable").reset_index(drop=True), warnings


class MarkersMixin:
    """Markers from the other scans; the readers' calls side by side (adjudicator)."""

    reader: str
    set_reader: str
    consensus_reader: str
    current: str
    store: RoiStore
    table: pd.DataFrame
    images: Any
    jobs: dict[str, Any]
    point_map: PointMap | None
    _scans: dict[str, Any]
    # provided by the session: _stored(scan_id), _warn(text)

    def markers(self) -> pd.DataFrame:
        """Lesions recorded on the patient's other scans but not on this one.

        Each is placed at the centre of its VOI on the other scan (the edited VOI when that
        scan is open, else its saved one; a scan whose ROIs cannot be read is a warning, the
        others still give markers), carried through :attr:`point_map` (default: the same
        patient coordinates) onto this scan's PET grid, for the reader to decide "seen /
        not seen" here.

        Returns
        -------
        pandas.DataFrame
            ``lesion_id, from_scan, x_mm, y_mm, z_mm, z, y, x`` (continuous indices).
        """
        here = set(self.table["lesion_id"])
        points: list[tuple[str, str, tuple]] = []
        for scan_id in self.jobs:
            if scan_id == self.current:
                continue
            loaded = self._scans.get(scan_id)
            stored = None if loaded is not None else self._stored(scan_id)
            table = (loaded.state.table if loaded is not None
                     else stored.table if stored is not None else empty_table())
            lesions = table[(table["roi"] == "lesion") & ~table["lesion_id"].isin(here)]
            for rec in lesions.itertuples():
                if any(p[0] == rec.lesion_id and p[1] == scan_id for p in points):
                    continue
                try:
                    point = (voi_point(loaded.state.labels, int(rec.label),
                                       reference=loaded.images.pet)
                             if loaded is not None else voi_point(stored.labels, int(rec.label)))
                except Exception as exc:  # noqa: BLE001 - one bad scan: a warning
                    self._warn(f"{scan_id}: no marker for {rec.lesion_id} ({exc})")
                    continue
                if point is not None:
                    points.append((rec.lesion_id, scan_id, point))
        frames, placed = [], set()
        # per scan in review order, the lesions no earlier scan placed: a scan whose point
        # map fails costs its markers only, and its lesions come from the next scan
        for scan_id in dict.fromkeys(p[1] for p in points):
            mine = [p for p in points if p[1] == scan_id and p[0] not in placed]
            if not mine:
                continue
            try:
                frames.append(marker_rows(self.images.pet, self.current, mine, self.point_map))
            except Exception as exc:  # noqa: BLE001 - a failing registration: say so
                self._warn(f"{self.current}: markers from {scan_id} not placed: the point map "
                           f"failed ({exc})")
                continue
            placed |= {p[0] for p in mine}
        if not frames:
            return marker_rows(self.images.pet, self.current, [], None)
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]

    def readers_calls(self) -> pd.DataFrame:
        """The independent readers' newest saved calls on the current scan, side by side.

        For the adjudicator: ``lesion_id`` then ``<field>_<reader>`` per read field and reader
        (every reader with a saved set but the consensus); the consensus being built is
        :attr:`reads`. Refused to a reader (blinded): only an adjudicating session sees it.
        """
        if self.set_reader != self.consensus_reader:
            raise PermissionError(f"reader {self.reader} reads blinded to the other readers; "
                                  "open the session with adjudicate=True to see their calls")
        readers = [r for r in self.store.readers(self.current)
                   if r.casefold() != self.consensus_reader.casefold()]
        readers = [r for r in readers if self._independent(r)]
        wide, warnings = readers_side_by_side(self.store, self.current, readers)
        for text in warnings:
            self._warn(text)
        return wide

    def _independent(self, reader: str) -> bool:
        """Whether a reader's newest set on this scan is their own read.

        Not a set migrated from the single-set store, whose calls were shared; a warning
        when it is.
        """
        from nethelpers.roisaving import STORE_FORMAT

        newest = self.store.latest(self.current, reader=reader)
        if newest is None or newest.store_format >= STORE_FORMAT:
            return True
        self._warn(f"{self.current}: {reader}'s calls come from the single-set store (shared "
                   "by every reader then), not an independent read: left out of the "
                   f"adjudication until {reader} saves again")
        return False

    def adopt_agreements(self) -> tuple[list[str], list[str]]:
        """The adjudicator's start on a scan: the readers' agreed calls enter the consensus.

        Every lesion on which the independent readers' newest saved calls agree (call and
        Krenning; :func:`nethelpers.consensus.make_consensus`) gets that call in the
        consensus being built, unless the adjudicator recorded one already; the others are
        left for the adjudicator to decide.

        Returns
        -------
        list of str
            The lesions whose agreed call was adopted now.
        list of str
            The lesions still to decide (a disagreement, or read by one reader only).
        """
        from nethelpers.consensus import make_consensus

        wide = self.readers_calls()            # refused to a blinded reader
        readers = sorted(c[len("call_"):] for c in wide.columns if c.startswith("call_"))
        if len(readers) < 2:
            return [], sorted(wide["lesion_id"])
        rows = [{"lesion_id": r["lesion_id"], "reader": reader, "call": r[f"call_{reader}"],
                 "krenning": r.get(f"krenning_{reader}", "")}
                for _, r in wide.iterrows() for reader in readers
                if str(r[f"call_{reader}"] or "").strip() not in ("", "nan")]
        done = make_consensus(pd.DataFrame(rows, columns=["lesion_id", "reader", "call",
                                                          "krenning"]),
                              readers, name=self.consensus_reader)
        have = set(self.reads.loc[self.reads["call"].astype(str) != "", "lesion_id"])
        adopted = []
        for rec in done.reads.itertuples():
            if rec.lesion_id not in have:
                krenning = "" if pd.isna(rec.krenning) else str(rec.krenning)
                self.set_read(rec.lesion_id, call=rec.call, krenning=krenning)
                adopted.append(rec.lesion_id)
        return adopted, sorted(set(done.unresolved["lesion_id"]) - have)

