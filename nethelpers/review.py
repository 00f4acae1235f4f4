"""A reader's review of one patient: the logic behind the napari widget, without any Qt.

A :class:`ReviewSession` holds the patient's PET scans (SUV) with their CT or MR, the ROI
label map and table of the scan on screen, and the reader's calls per lesion. Every action
a reader takes (add a lesion by a click, place a reference sphere, edit, delete, undo,
record a call) is a method here, so it is tested without a screen and the widget in
:mod:`nethelpers.viewer` stays a thin shell. Saves go through the ROI store
(:class:`nethelpers.rois.RoiStore`): atomic, versioned, with the reader and the time, and
refused when someone else saved the scan since it was opened.

Coordinates: arrays are ``(z, y, x)`` on the PET grid of the scan; points in patient space
are DICOM LPS millimetres ``(x, y, z)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.measures import voi_stats
from nethelpers.quantify import QuantifyOptions, ScanJob, measure_rois, scan_jobs
from nethelpers.rois import (
    READ_COLUMNS,
    RoiConflictError,
    RoiSet,
    RoiStore,
    RoiStoreError,
    RoiVersion,
    empty_reads,
    validate_reads,
)
from nethelpers.voi import LIVER_SPHERE_RADIUS_MM, grow_from_click, sphere_mask

__all__ = ["LesionVoi", "ReviewSession", "ScanImages", "SPLEEN_SPHERE_RADIUS_MM"]

#: Spleen reference: a 2 cm sphere.
SPLEEN_SPHERE_RADIUS_MM = 10.0
_REFERENCE_LABELS = {"liver": 1, "spleen": 2, "blood_pool": 3, "muscle": 4}
_FIRST_LESION_LABEL = 11
_UNDO_DEPTH = 30


@dataclass
class ScanImages:
    """One scan's images: PET in SUV and its anatomy (CT or MR), as SimpleITK images.

    Attributes
    ----------
    job : ScanJob
        Where the scan's PET lies, its tracer and modality.
    pet : SimpleITK.Image
        SUV (body weight), float32.
    anatomy : SimpleITK.Image or None
        CT (HU) or MR of the same study, on its own grid; None when not found.
    anatomy_kind : str
        ``"CT"``, ``"MR"`` or ``""``.
    series_uid : str or None
        SeriesInstanceUID of the PET, from its headers (saved with every ROI version).
    """

    job: ScanJob
    pet: sitk.Image
    anatomy: sitk.Image | None
    anatomy_kind: str
    series_uid: str | None = None

    @property
    def suv(self) -> np.ndarray:
        """The SUV volume ``(z, y, x)`` (a view of the image's buffer, read-only use)."""
        return sitk.GetArrayViewFromImage(self.pet)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """PET voxel spacing ``(sx, sy, sz)`` in mm."""
        return self.pet.GetSpacing()


@dataclass(frozen=True)
class LesionVoi:
    """What a reader sees after drawing a lesion VOI.

    Attributes
    ----------
    lesion_id : str
        The lesion (shared by all scans of the patient).
    label : int
        Its label value in the scan's map.
    suv_max, suv_peak, volume_ml, tb_liver : float
        The measures (T/B against the liver reference; NaN without one).
    touches_bound : bool
        The click-grown VOI reached its bounding sphere: check it (or draw it by hand).
    """

    lesion_id: str
    label: int
    suv_max: float
    suv_peak: float
    volume_ml: float
    tb_liver: float
    touches_bound: bool = False


@dataclass
class _State:
    labels: np.ndarray
    table: pd.DataFrame
    reads: pd.DataFrame


@dataclass
class _ScanState:
    images: ScanImages
    state: _State
    version: RoiVersion | None
    undo: list[_State] = field(default_factory=list)
    dirty: bool = False

    @property
    def parent(self) -> int:
        """The saved version the edits start from (0: none yet), for the conflict check."""
        return self.version.version if self.version else 0


class ReviewSession:
    """The review of one patient by one reader.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters (study data, ROI store, quantification settings).
    patient_id : str
        The patient.
    reader : str
        Who reviews (recorded in every save and every new ROI).
    scan_id : str, optional
        The scan to open first; default the patient's first PET scan (DOTATATE PET/CT first).

    Raises
    ------
    KeyError
        The patient has no PET scan in the scans table.
    """

    def __init__(self, params: Any, patient_id: str, reader: str,
                 scan_id: str | None = None) -> None:
        if not str(reader).strip():
            raise ValueError("name the reader (reader=...): every save records who made it")
        self.params = params
        self.patient_id = patient_id
        self.reader = str(reader).strip()
        self.options = QuantifyOptions.from_config(params.quantify)
        self.store = RoiStore(params.study.rois)
        jobs = [j for j in scan_jobs(params) if j.patient_id == patient_id]
        if not jobs:
            raise KeyError(f"patient {patient_id} has no PET scan in "
                           f"{params.study.tables.scans}")
        # SSTR PET first, then FDG, then others; PET/CT before PET/MR (vocabulary order)
        vocab = params.vocabulary
        family = {"sstr": 0, "fdg": 1}
        modality = {m: i for i, m in enumerate(vocab.modality_names)}
        jobs.sort(key=lambda j: (family.get(vocab.family(j.tracer), 2),
                                 modality.get(j.modality, 99), j.scan_id))
        self.jobs = {j.scan_id: j for j in jobs}
        self._scans: dict[str, _ScanState] = {}
        self.warnings: list[str] = []
        self._stored_cache: dict[str, RoiSet] = {}
        self.current = ""
        self.open_scan(scan_id or jobs[0].scan_id)

    # -- scans -----------------------------------------------------------------------------
    @property
    def scan_ids(self) -> list[str]:
        """The patient's PET scans, in review order."""
        return list(self.jobs)

    def open_scan(self, scan_id: str) -> ScanImages:
        """Make a scan the current one (loading its images and newest ROIs on first use).

        Unsaved edits of the other scans are kept in memory until saved.
        """
        if scan_id not in self.jobs:
            raise KeyError(f"scan {scan_id} is not a PET scan of patient {self.patient_id}; "
                           f"choose one of {self.scan_ids}")
        self.current = scan_id
        return self._state_of(scan_id).images

    def _state_of(self, scan_id: str) -> _ScanState:
        """A scan's state, loaded on first use (the current scan does not change)."""
        if scan_id not in self._scans:
            self._scans[scan_id] = self._load(self.jobs[scan_id])
        return self._scans[scan_id]

    def _load(self, job: ScanJob) -> _ScanState:
        from nethelpers.dicom.volume import load_ct, load_mr, load_pet_series
        from nethelpers.roiseries import RoiSeriesError, check_roi_series, series_uid_of

        loaded = load_pet_series(job.pet, self.options.norm, series_uid=job.series_uid)
        pet = loaded.image
        anatomy, kind = None, ""
        anat_dir = job.anatomy
        if anat_dir is not None:
            kind = "MR" if job.modality == "PET/MR" else "CT"
            anatomy = (load_mr if kind == "MR" else load_ct)(anat_dir)
        images = ScanImages(job, pet, anatomy, kind, series_uid_of(loaded.headers))
        shape = sitk.GetArrayViewFromImage(pet).shape
        version = self.store.latest(job.scan_id)
        try:
            check_roi_series(version, images.series_uid)
        except RoiSeriesError as exc:  # never show (and re-save) ROIs of another PET series
            self._warn(f"{exc} (the scan opens without them; every saved version is kept)")
            show_saved = False
        else:
            show_saved = version is not None
        if not show_saved:
            state = _State(np.zeros(shape, dtype=np.uint16), _empty_table(), empty_reads())
        else:
            from nethelpers.quantify import labels_on

            rois = self.store.load(job.scan_id, version.version)
            labels, _ = labels_on(pet, rois.labels, rois.table)
            state = _State(labels.astype(np.uint16), rois.table.copy(), rois.reads.copy())
        return _ScanState(images, state, version)

    @property
    def _cur(self) -> _ScanState:
        return self._scans[self.current]

    @property
    def images(self) -> ScanImages:
        """The current scan's images."""
        return self._cur.images

    @property
    def labels(self) -> np.ndarray:
        """The current scan's label map ``(z, y, x)``.

        Edit it through the methods, or pass a brush-edited copy to :meth:`set_labels`.
        """
        return self._cur.state.labels

    @property
    def table(self) -> pd.DataFrame:
        """The current scan's ROI table."""
        return self._cur.state.table

    @property
    def reads(self) -> pd.DataFrame:
        """The reader's calls on the current scan (one row per lesion)."""
        return self._cur.state.reads

    @property
    def dirty(self) -> bool:
        """Whether any scan has edits not yet saved."""
        return any(s.dirty for s in self._scans.values())

    def dirty_scans(self) -> list[str]:
        """The scans with edits not yet saved."""
        return [scan_id for scan_id, s in self._scans.items() if s.dirty]

    def reload(self, scan_id: str | None = None) -> None:
        """Drop a scan's unsaved edits and load its newest saved version (default: current)."""
        scan_id = scan_id or self.current
        if scan_id not in self.jobs:
            raise KeyError(f"scan {scan_id} is not a PET scan of patient {self.patient_id}")
        self._scans.pop(scan_id, None)
        self._state_of(scan_id)

    @property
    def version(self) -> RoiVersion | None:
        """The ROI version the current scan's edits start from."""
        return self._cur.version

    # -- editing -----------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        cur = self._cur
        cur.undo.append(_State(cur.state.labels.copy(), cur.state.table.copy(),
                               cur.state.reads.copy()))
        del cur.undo[:-_UNDO_DEPTH]
        cur.dirty = True

    def undo(self) -> bool:
        """Take back the last edit of the current scan; False when there is nothing to undo."""
        cur = self._cur
        if not cur.undo:
            return False
        cur.state = cur.undo.pop()
        cur.dirty = True
        return True

    def _new_row(self, label: int, roi: str, lesion_id: str, method: str) -> pd.DataFrame:
        row = {"label": label, "roi": roi, "lesion_id": lesion_id, "method": method,
               "reader": self.reader, "created": ""}
        return pd.DataFrame([row])

    def next_lesion_id(self) -> str:
        """A lesion_id used nowhere for the patient (``P001-L07`` style).

        Not in the reference-standard lesions table, not in any scan's ROIs or reads (saved or
        in this session), so a new lesion never inherits another lesion's ID or read.
        """
        used = set(self.known_lesions(include_reference=True))
        for scan_id in self.jobs:
            used |= set(self._reads_of(scan_id)["lesion_id"])
        numbers = [int(m.group(1)) for lid in used
                   if (m := re.match(rf"^{re.escape(self.patient_id)}-L(\d+)$", lid))]
        n = max(numbers, default=0) + 1
        return f"{self.patient_id}-L{n:02d}"

    def known_lesions(self, include_reference: bool = False) -> list[str]:
        """Lesion IDs with a VOI on any scan of the patient (saved or in this session).

        Parameters
        ----------
        include_reference : bool
            Also the IDs of the reference-standard lesions table. The reader's table never
            shows them: listing the truth would unblind the reader.
        """
        ids: set[str] = set()
        path = Path(self.params.study.tables.lesions)
        if include_reference and path.is_file():
            lesions = pd.read_csv(path, dtype=str)
            ids |= set(lesions.loc[lesions["patient_id"] == self.patient_id, "lesion_id"])
        for scan_id in self.jobs:
            table = (self._scans[scan_id].state.table if scan_id in self._scans
                     else self._stored_table(scan_id))
            ids |= set(table.loc[table["lesion_id"] != "", "lesion_id"])
        return sorted(ids)

    def _reads_of(self, scan_id: str) -> pd.DataFrame:
        if scan_id in self._scans:
            return self._scans[scan_id].state.reads
        stored = self._stored(scan_id)
        return stored.reads if stored is not None else empty_reads()

    def _stored(self, scan_id: str) -> RoiSet | None:
        """The newest saved ROI set of a scan not opened here (None: none, or unreadable).

        Loaded once per saved version: the lesion table, the markers and new IDs ask for
        the other scans' tables and reads on every refresh.
        """
        latest = self.store.latest(scan_id)
        if latest is None:
            return None
        cached = self._stored_cache.get(scan_id)
        if cached is None or cached.version.version != latest.version:
            try:
                cached = self.store.load(scan_id, latest.version)
            except RoiStoreError as exc:   # one damaged scan must not block the patient
                self._warn(f"{scan_id}: {exc}")
                return None
            self._stored_cache[scan_id] = cached
        return cached

    def _warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def _stored_table(self, scan_id: str) -> pd.DataFrame:
        """The newest saved table of another scan (empty, with a warning, if unreadable)."""
        stored = self._stored(scan_id)
        return stored.table if stored is not None else _empty_table()

    def add_lesion_at(self, seed_zyx: tuple[int, int, int], lesion_id: str | None = None,
                      fraction: float | None = None) -> LesionVoi:
        """Add a lesion VOI grown from a click (background-adapted threshold, bounded).

        Parameters
        ----------
        seed_zyx : tuple of int
            The clicked voxel of the PET.
        lesion_id : str, optional
            The lesion (e.g. one recorded on another scan); default a new ID.
        fraction : float, optional
            Position of the cut between the local background and SUVmax; default 0.5
            (see :func:`nethelpers.voi.grow_from_click`).

        Returns
        -------
        LesionVoi
            Its label and measures.
        """
        lesion_id = lesion_id or self.next_lesion_id()
        if (self.table["lesion_id"] == lesion_id).any():
            raise ValueError(f"lesion {lesion_id} already has a VOI on {self.current}; delete "
                             "it first or edit it with the brush")
        grown = grow_from_click(self.images.suv, seed_zyx, self.images.spacing,
                                fraction=fraction or 0.5, exclude=self.labels > 0)
        label = self.free_label()
        self._checkpoint()
        self._cur.state.labels[grown.mask] = label
        self._cur.state.table = pd.concat(
            [self.table, self._new_row(label, "lesion", lesion_id, "click-grow")],
            ignore_index=True)
        measured = self.measure(label)
        return LesionVoi(lesion_id, label, measured["suv_max"], measured["suv_peak"],
                         measured["volume_ml"], measured["tb_liver"], grown.touches_bound)

    def place_reference(self, roi: str, center_zyx: tuple[float, float, float],
                        radius_mm: float | None = None) -> dict[str, float]:
        """Place (or move) a reference sphere: liver 3 cm, spleen 2 cm by default.

        Returns
        -------
        dict
            ``suv_mean``, ``suv_sd``, ``volume_ml`` of the sphere (over voxels not already
            in another ROI).
        """
        if roi not in _REFERENCE_LABELS:
            raise ValueError(f"reference region {roi!r}: one of {', '.join(_REFERENCE_LABELS)}")
        radius = radius_mm or (LIVER_SPHERE_RADIUS_MM if roi == "liver"
                               else SPLEEN_SPHERE_RADIUS_MM)
        rows = self.table[self.table["roi"] == roi]
        if not rows.empty:
            label = int(rows["label"].iloc[0])         # the region's own label, whatever it is
        else:
            used = set(self.table["label"].astype(int))
            preferred = _REFERENCE_LABELS[roi]
            label = preferred if preferred not in used else next(
                v for v in range(1, 65536) if v not in used)
        self._checkpoint()
        state = self._cur.state
        state.labels[state.labels == label] = 0
        ball = sphere_mask(state.labels.shape, self.images.spacing, center_zyx, radius)
        ball &= state.labels == 0
        if not ball.any():
            self.undo()
            raise ValueError(f"the {roi} sphere at {tuple(center_zyx)} has no free voxel")
        state.labels[ball] = label
        if not (state.table["roi"] == roi).any():
            state.table = pd.concat([state.table, self._new_row(label, roi, "", "sphere")],
                                    ignore_index=True).sort_values("label", kind="stable")
            state.table = state.table.reset_index(drop=True)
        stats = voi_stats(self.images.suv, ball, self.images.spacing)
        return {"suv_mean": stats.suv_mean, "suv_sd": stats.suv_sd,
                "volume_ml": stats.volume_ml}

    def delete(self, lesion_id: str | None = None, roi: str | None = None) -> None:
        """Delete a lesion's VOI (its read stays) or a reference region."""
        table = self.table
        rows = table[table["lesion_id"] == lesion_id] if lesion_id else table[table["roi"] == roi]
        if rows.empty:
            raise KeyError(f"no ROI for {lesion_id or roi} on {self.current}")
        label = int(rows["label"].iloc[0])
        self._checkpoint()
        state = self._cur.state
        state.labels[state.labels == label] = 0
        state.table = table[table["label"] != label].reset_index(drop=True)

    def set_labels(self, labels: np.ndarray, lesion_id: str | None = None) -> None:
        """Take a label map edited in the viewer (brush, eraser) as the new state.

        Parameters
        ----------
        labels : numpy.ndarray
            The edited map (same shape).
        lesion_id : str, optional
            For a label painted that has no row yet: the lesion it draws (a manual VOI).
        """
        if labels.shape != self.labels.shape:
            raise ValueError(f"edited labels {labels.shape} differ from {self.labels.shape}")
        present = set(np.unique(labels).tolist()) - {0}
        unknown = sorted(present - set(self.table["label"]))
        changed = np.unique(np.concatenate([self.labels[labels != self.labels],
                                            labels[labels != self.labels]]))
        changed = set(changed.tolist()) - {0}
        self._checkpoint()
        state = self._cur.state
        state.labels = labels.astype(np.uint16, copy=True)
        for label in unknown:
            lid = lesion_id or self.next_lesion_id()
            state.table = pd.concat([state.table, self._new_row(label, "lesion", lid, "manual")],
                                    ignore_index=True)
            lesion_id = None
        for label in set(state.table["label"]) - present:     # erased completely
            state.table = state.table[state.table["label"] != label]
        state.table = state.table.sort_values("label", kind="stable").reset_index(drop=True)
        edited = state.table["label"].isin(changed) & state.table["roi"].eq("lesion")
        state.table.loc[edited, "method"] = "manual"        # only the VOIs the brush touched

    def free_label(self) -> int:
        """The lowest label from 11 up that no ROI of the current scan uses (a new lesion)."""
        used = set(self.table["label"].astype(int))
        label = _FIRST_LESION_LABEL
        while label in used:
            label += 1
        return label

    def set_read(self, lesion_id: str, **values: Any) -> None:
        """Record the reader's call on a lesion: site, call, krenning, confidence, note."""
        unknown = set(values) - set(READ_COLUMNS[1:])
        if unknown:
            raise ValueError(f"unknown read field(s) {sorted(unknown)}; use "
                             f"{', '.join(READ_COLUMNS[1:])}")
        reads = self.reads.copy()
        if not (reads["lesion_id"] == lesion_id).any():
            reads = pd.concat([reads, pd.DataFrame([{"lesion_id": lesion_id}])],
                              ignore_index=True)
        for key, value in values.items():
            reads.loc[reads["lesion_id"] == lesion_id, key] = "" if value is None else str(value)
        reads = validate_reads(reads, source=f"read of {lesion_id}")
        self._checkpoint()
        self._cur.state.reads = reads

    # -- numbers -----------------------------------------------------------------------------
    def measure(self, label: int) -> dict[str, float]:
        """SUVmax, SUVpeak, volume and T/B (liver, spleen, shell) of one ROI of this scan."""
        table = self.table
        keep = table[(table["label"] == label) | table["roi"].isin(["liver", "spleen"])]
        rows = measure_rois(self.images.suv, self.labels, keep, self.images.spacing,
                            self.options)
        row = rows[rows["label"] == label].iloc[0]
        return {k: float(row[k]) for k in ("suv_max", "suv_mean", "suv_peak", "volume_ml",
                                           "tb_liver", "tb_spleen", "tb_shell")}

    def lesion_table(self) -> pd.DataFrame:
        """The widget's table: every lesion of the patient with its read and numbers here.

        Returns
        -------
        pandas.DataFrame
            ``lesion_id, label`` (0: no VOI on this scan), ``site, call, krenning,
            confidence, note``, ``suv_max, suv_peak, volume_ml, tb_liver``, ``on_scan``.
        """
        ids = sorted(set(self.known_lesions()) | set(self.reads["lesion_id"]))
        table = self.table.set_index("lesion_id")
        reads = self.reads.set_index("lesion_id")
        measured = (measure_rois(self.images.suv, self.labels, self.table, self.images.spacing,
                                 self.options).set_index("label")
                    if not self.table.empty else pd.DataFrame())        # one pass, all ROIs
        rows = []
        for lid in ids:
            row: dict[str, Any] = {"lesion_id": lid, "label": 0}
            row |= {c: (reads.at[lid, c] if lid in reads.index else "") for c in READ_COLUMNS[1:]}
            if lid in table.index:
                label = int(table.at[lid, "label"])
                row["label"] = label
                row |= {k: float(measured.at[label, k])
                        for k in ("suv_max", "suv_peak", "volume_ml", "tb_liver")}
            row["on_scan"] = lid in table.index
            rows.append(row)
        cols = ["lesion_id", "label", *READ_COLUMNS[1:], "suv_max", "suv_peak", "volume_ml",
                "tb_liver", "on_scan"]
        return pd.DataFrame(rows, columns=cols)

    def lesion_centre(self, lesion_id: str) -> tuple[int, int, int]:
        """The voxel ``(z, y, x)`` of a lesion's SUVmax on this scan (to jump to it)."""
        rows = self.table[self.table["lesion_id"] == lesion_id]
        if rows.empty:
            raise KeyError(f"lesion {lesion_id} has no VOI on {self.current}")
        stats = voi_stats(self.images.suv, self.labels == int(rows["label"].iloc[0]),
                          self.images.spacing)
        return stats.max_index

    def markers(self) -> pd.DataFrame:
        """Lesions recorded on the patient's other scans but not on this one.

        Each is placed at the SUVmax of its VOI on the other scan, carried through patient
        coordinates (mm) onto this scan's PET grid, for the reader to decide "seen / not seen"
        here.

        Returns
        -------
        pandas.DataFrame
            ``lesion_id, from_scan, x_mm, y_mm, z_mm, z, y, x`` (continuous indices).
        """
        here = set(self.table["lesion_id"])
        rows = []
        for scan_id in self.jobs:
            if scan_id == self.current:
                continue
            table = (self._scans[scan_id].state.table if scan_id in self._scans
                     else self._stored_table(scan_id))
            lesions = table[(table["roi"] == "lesion") & ~table["lesion_id"].isin(here)]
            if lesions.empty:
                continue
            state = self._state_of(scan_id)
            other, labels = state.images, state.state.labels
            for rec in lesions.itertuples():
                if any(r["lesion_id"] == rec.lesion_id for r in rows):
                    continue
                mask = labels == int(rec.label)
                if not mask.any():
                    continue
                peak = voi_stats(other.suv, mask, other.spacing).max_index
                point = other.pet.TransformContinuousIndexToPhysicalPoint(
                    [float(v) for v in peak[::-1]])
                idx = self.images.pet.TransformPhysicalPointToContinuousIndex(point)[::-1]
                rows.append({"lesion_id": rec.lesion_id, "from_scan": scan_id,
                             "x_mm": point[0], "y_mm": point[1], "z_mm": point[2],
                             "z": idx[0], "y": idx[1], "x": idx[2]})
        return pd.DataFrame(rows, columns=["lesion_id", "from_scan", "x_mm", "y_mm", "z_mm",
                                           "z", "y", "x"])

    # -- saving ------------------------------------------------------------------------------
    def save(self, note: str = "") -> RoiVersion | None:
        """Save the current scan's ROIs and reads as a new version (None if nothing changed).

        Raises
        ------
        nethelpers.rois.RoiConflictError
            Someone saved this scan since it was opened; nothing is lost: reload, or
            :meth:`save_anyway` to keep both.
        """
        cur = self._cur
        if not cur.dirty:
            return None
        return self._save(cur, note, cur.parent)

    def save_anyway(self, note: str = "") -> RoiVersion:
        """Save as the newest version even if someone saved in between (both are kept)."""
        return self._save(self._cur, note or "saved over a newer version", None)

    def _save(self, cur: _ScanState, note: str, parent: int | None) -> RoiVersion:
        image = sitk.GetImageFromArray(cur.state.labels)
        image.CopyInformation(cur.images.pet)
        version = self.store.save(cur.images.job.scan_id, image, cur.state.table,
                                  reader=self.reader, note=note, parent=parent,
                                  reads=cur.state.reads, series_uid=cur.images.series_uid)
        cur.version = version
        cur.dirty = False
        loaded = self.store.load(cur.images.job.scan_id, version.version)
        cur.state.table = loaded.table.copy()            # times filled in by the store
        return version

    def save_all(self, note: str = "") -> list[RoiVersion]:
        """Save every scan with unsaved edits (a conflict raises, as in :meth:`save`)."""
        return [self._save(cur, note, cur.parent) for cur in self._scans.values() if cur.dirty]

    def autosave(self, note: str = "autosave") -> tuple[list[RoiVersion], list[str]]:
        """Save every edited scan that nobody else saved meanwhile.

        Returns
        -------
        list of RoiVersion
            The versions saved.
        list of str
            Scans skipped because of a conflict (they stay unsaved, for the reader to decide).
        """
        saved, conflicts = [], []
        for scan_id, cur in self._scans.items():
            if not cur.dirty:
                continue
            try:
                saved.append(self._save(cur, note, cur.parent))
            except RoiConflictError:
                conflicts.append(scan_id)
        return saved, conflicts

    def restore(self, version: int) -> RoiVersion:
        """Bring back an earlier version of the current scan (saved as the newest).

        Raises
        ------
        nethelpers.rois.RoiConflictError
            Someone saved the scan since it was opened: reload first.
        """
        scan_id = self.current
        cur = self._cur
        restored = self.store.restore(scan_id, version, reader=self.reader,
                                      parent=cur.parent)
        del self._scans[scan_id]
        self.open_scan(scan_id)
        return restored

    def history(self) -> pd.DataFrame:
        """Saved versions of the current scan."""
        return self.store.history(self.current)


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({"label": pd.Series(dtype=int), "roi": pd.Series(dtype=str),
                         "lesion_id": pd.Series(dtype=str), "method": pd.Series(dtype=str),
                         "reader": pd.Series(dtype=str), "created": pd.Series(dtype=str)})

