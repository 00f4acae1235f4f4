"""A review session's scans: images, their edit state, and how they are loaded.

Loading reads the PET (SUV) -- or the SPECT: in SUV when quantitative, in counts when it has
no activity calibration (``ScanImages.quantity``) --, its CT or MR and the reader's newest
saved ROI set. A missing or
unreadable CT/MR is not a reason to refuse the scan: it opens PET-only and a warning says what
is missing (scan, series, path relative to ``study.data_root``). ROIs saved on another PET
series are not shown (and never re-saved), with a warning. Another reader's ROIs are never
loaded; only their reference regions when ``readers.share_reference_regions`` allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.quantify import ScanJob
from nethelpers.rois import REFERENCE_ROIS, RoiStore, RoiVersion, empty_reads

__all__ = ["LesionVoi", "LoadedScan", "ScanImages", "ScanState", "anat_dirs", "empty_table",
           "load_scan"]


@dataclass
class ScanImages:
    """One scan's images: PET (or SPECT) and its anatomy (CT or MR), as SimpleITK images.

    Attributes
    ----------
    job : ScanJob
        Where the scan's PET lies, its tracer and modality.
    pet : SimpleITK.Image
        SUV (body weight), float32; counts for counts-only SPECT (``quantity``).
    anatomy : SimpleITK.Image or None
        CT (HU) or MR of the same study, on its own grid; None when not found.
    anatomy_kind : str
        ``"CT"``, ``"MR"`` or ``""``.
    series_uid : str or None
        SeriesInstanceUID of the PET, from its headers (saved with every ROI version).
    quantity : str
        ``"SUV"`` (PET, quantitative SPECT) or ``"counts"`` (counts-only SPECT: its numbers
        are counts and ratios, never SUV).
    """

    job: ScanJob
    pet: sitk.Image
    anatomy: sitk.Image | None
    anatomy_kind: str
    series_uid: str | None = None
    quantity: str = "SUV"

    @property
    def suv(self) -> np.ndarray:
        """The image's values ``(z, y, x)``: SUV, or counts (``quantity``); a read-only view."""
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
        The measures (T/B against the liver reference; NaN without one; SUV NaN on
        counts-only SPECT).
    touches_bound : bool
        The click-grown VOI reached its bounding sphere: check it (or draw it by hand).
    quantity : str
        ``"SUV"`` or ``"counts"`` (counts-only SPECT).
    counts_max, counts_peak : float
        Counts-only SPECT: the VOI's maximum and peak in counts (NaN otherwise).
    """

    lesion_id: str
    label: int
    suv_max: float
    suv_peak: float
    volume_ml: float
    tb_liver: float
    touches_bound: bool = False
    quantity: str = "SUV"
    counts_max: float = float("nan")
    counts_peak: float = float("nan")

    @property
    def text(self) -> str:
        """The VOI's numbers in words, in its unit (SUV, or counts for counts-only SPECT).

        E.g. ``SUVmax 8.10 · SUVpeak 6.92 · 3.40 ml · T/B liver 1.62``, or
        ``counts max 912 · counts peak 780 · 3.40 ml · T/B liver 1.62``.
        """
        if self.quantity == "counts":
            values = f"counts max {self.counts_max:.0f} · counts peak {self.counts_peak:.0f}"
        else:
            values = f"SUVmax {self.suv_max:.2f} · SUVpeak {self.suv_peak:.2f}"
        tb = "" if np.isnan(self.tb_liver) else f" · T/B liver {self.tb_liver:.2f}"
        return f"{values} · {self.volume_ml:.2f} ml{tb}"


@dataclass
class ScanState:
    """What an edit changes (and undo brings back): labels, ROI table, reads.

    ``matches``: the reader's lesion-matching decisions not saved yet
    (:mod:`nethelpers.reviewmatch`; written with the next ROI version).
    """

    labels: np.ndarray
    table: pd.DataFrame
    reads: pd.DataFrame
    matches: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LoadedScan:
    """A scan open in the session: images, edit state, the version edits start from."""

    images: ScanImages
    state: ScanState
    version: RoiVersion | None
    undo: list[ScanState] = field(default_factory=list)
    dirty: bool = False

    @property
    def parent(self) -> int:
        """The saved version the edits start from (0: none yet), for the conflict check."""
        return self.version.version if self.version else 0

    @property
    def unsaved(self) -> bool:
        """Edits not saved, or matching decisions not written to the log yet."""
        return self.dirty or bool(self.state.matches)




def empty_table() -> pd.DataFrame:
    """An empty ROI table with its columns typed."""
    return pd.DataFrame({"label": pd.Series(dtype=int), "roi": pd.Series(dtype=str),
                         "lesion_id": pd.Series(dtype=str), "method": pd.Series(dtype=str),
                         "reader": pd.Series(dtype=str), "created": pd.Series(dtype=str)})


def _anatomy(job: ScanJob, anat_dir: str, warn: Callable[[str], None]
             ) -> tuple[sitk.Image | None, str]:
    """The CT or MR of a scan, or None with a warning naming what is missing."""
    from nethelpers.dicom.volume import load_ct, load_mr

    kind = "MR" if job.modality == "PET/MR" else "CT"
    if job.anatomy is None:
        where = (f"its folder {anat_dir} (anat_dir in the scans table, relative to "
                 "study.data_root) does not exist" if anat_dir
                 else "the scans table gives no anat_dir for it")
        warn(f"{job.scan_id}: no {kind} found: {where}; the scan opens PET-only")
        return None, ""
    try:
        return (load_mr if kind == "MR" else load_ct)(job.anatomy), kind
    except Exception as exc:  # noqa: BLE001 - the PET is still worth reading
        warn(f"{job.scan_id}: the {kind} in {anat_dir} cannot be read ({exc}); the scan opens "
             "PET-only")
        return None, ""


def load_scan(job: ScanJob, options: Any, store: RoiStore, reader: str, *, anat_dir: str = "",
              share_from: list[str] | None = None,
              warn: Callable[[str], None] = lambda text: None) -> LoadedScan:
    """Load a scan's images and the reader's newest ROI set (raises when the PET cannot load).

    PET and quantitative SPECT load in SUV, counts-only SPECT in counts
    (:func:`nethelpers.dicom.volume.load_emission_series`; ``ScanImages.quantity``).

    Parameters
    ----------
    job : ScanJob
        The scan.
    options : QuantifyOptions
        SUV normalisation.
    store : RoiStore
        The ROI store.
    reader : str
        Whose ROI set (a reader sees only their own).
    anat_dir : str
        The CT/MR folder of the scans table (to name it when it is missing).
    share_from : list of str, optional
        Readers whose reference regions (liver, spleen, ...) are offered when ``reader`` has
        no set yet (``readers.share_reference_regions``); None: none are.
    warn : callable
        Receives each warning.

    Returns
    -------
    LoadedScan
        Images, state and the version the edits start from.
    """
    from nethelpers.dicom.volume import load_emission_series
    from nethelpers.quantify import labels_on
    from nethelpers.roiseries import RoiSeriesError, check_roi_series, series_uid_of

    loaded = load_emission_series(job.pet, options.norm, series_uid=job.series_uid)
    pet = loaded.image
    anatomy, kind = _anatomy(job, anat_dir, warn)
    images = ScanImages(job, pet, anatomy, kind, series_uid_of(loaded.headers),
                        quantity=str(loaded.provenance.get("quantity", "SUV")))
    shape = sitk.GetArrayViewFromImage(pet).shape
    version = store.latest(job.scan_id, reader=reader)
    state = ScanState(np.zeros(shape, dtype=np.uint16), empty_table(), empty_reads())
    try:
        check_roi_series(version, images.series_uid)
    except RoiSeriesError as exc:  # never show (and re-save) ROIs of another PET series
        warn(f"{exc} (the scan opens without them; every saved version is kept)")
        return LoadedScan(images, state, version)
    if version is not None:
        rois = store.load(job.scan_id, version.version, reader=reader)
        labels, _ = labels_on(pet, rois.labels, rois.table)
        state = ScanState(labels.astype(np.uint16), rois.table.copy(), rois.reads.copy())
    elif share_from:
        state = _shared_references(images, store, share_from, state, warn)
    return LoadedScan(images, state, version)


def _shared_references(images: ScanImages, store: RoiStore, readers: list[str],
                       state: ScanState, warn: Callable[[str], None]) -> ScanState:
    """The reference regions of the newest other reader's set (never lesions or reads)."""
    from nethelpers.quantify import labels_on
    from nethelpers.roiseries import RoiSeriesError, check_roi_series

    job, pet = images.job, images.pet
    versions = [v for r in readers if (v := store.latest(job.scan_id, reader=r)) is not None]
    for version in sorted(versions, key=lambda v: (v.saved_at, v.version), reverse=True):
        try:
            rois = store.load(job.scan_id, version.version, reader=version.reader)
            check_roi_series(rois.version, images.series_uid)
        except (RoiSeriesError, ValueError):
            continue
        refs = rois.table[rois.table["roi"].isin(REFERENCE_ROIS)].reset_index(drop=True)
        if refs.empty:
            continue
        labels, _ = labels_on(pet, rois.labels, refs)
        keep = np.isin(labels, refs["label"].to_numpy())
        warn(f"{job.scan_id}: reference region(s) {', '.join(refs['roi'])} of reader "
             f"{version.reader} offered (readers.share_reference_regions); their lesions and "
             "calls are not shown")
        return ScanState(np.where(keep, labels, 0).astype(np.uint16), refs, state.reads)
    return state


def anat_dirs(path: str | Path) -> dict[str, str]:
    """``scan_id -> anat_dir`` of the scans table ('' when empty or unreadable)."""
    try:
        scans = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        return {}
    if "anat_dir" not in scans.columns or "scan_id" not in scans.columns:
        return {}
    return dict(zip(scans["scan_id"], scans["anat_dir"], strict=True))
