"""A reader's review of one patient: the logic behind the napari widget, without any Qt.

A :class:`ReviewSession` holds the patient's PET scans (SUV) with their CT or MR, the ROI
label map and table of the scan on screen, and the reader's calls per lesion. Every action
a reader takes (add a lesion by a click, place a reference sphere, edit, delete, undo,
record a call) is a method here (drawing: :mod:`nethelpers.reviewedit`; numbers:
:mod:`nethelpers.reviewnumbers`; markers: :mod:`nethelpers.reviewmarkers`; saves:
:mod:`nethelpers.reviewsave`), so it is tested without a screen and the widget in
:mod:`nethelpers.viewer` stays a thin shell. Saves go
through the ROI store (:class:`nethelpers.rois.RoiStore`) into the reader's own set: atomic,
versioned, with the reader and the time, and refused when the set was saved since it was
opened. A reader sees only their own VOIs and calls (blinded); an adjudicator
(``adjudicate=True``) edits the consensus set and sees the readers' calls side by side.

A scan that fails to load raises with the reason and leaves the session as it was; missing
CT/MR and other oddities go to :attr:`ReviewSession.warnings` (:mod:`nethelpers.reviewscan`).
Reasons and warnings pass through the study's pseudonymiser: a file of the DICOM tree is shown
as ``<P001/P001-FDG-PETCT>/00131.dcm``, never by its absolute path or its folders' names.

Coordinates: arrays are ``(z, y, x)`` on the PET grid of the scan; points in patient space
are DICOM LPS millimetres ``(x, y, z)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.quantify import QuantifyOptions, ScanJob, scan_jobs
from nethelpers.reviewedit import SPLEEN_SPHERE_RADIUS_MM, EditingMixin
from nethelpers.reviewmarkers import MarkersMixin, PointMap
from nethelpers.reviewmatch import MatchingMixin
from nethelpers.reviewnumbers import NumbersMixin
from nethelpers.reviewsave import SavingMixin
from nethelpers.reviewscan import (
    LesionVoi,
    LoadedScan,
    ScanImages,
    ScanState,
    anat_dirs,
    empty_table,
    load_scan,
)
from nethelpers.rois import (
    READ_COLUMNS,
    RoiSet,
    RoiStore,
    RoiStoreError,
    RoiVersion,
    empty_reads,
    validate_reads,
)

__all__ = ["LesionVoi", "ReviewSession", "ScanImages", "ScanOpenError",
           "SPLEEN_SPHERE_RADIUS_MM"]

_UNDO_DEPTH = 30


class ScanOpenError(RuntimeError):
    """A scan that cannot be opened; its str() is the reason. The session is unchanged."""


class ReviewSession(SavingMixin, EditingMixin, MarkersMixin, NumbersMixin, MatchingMixin):
    """The review of one patient by one reader (or by the adjudicator of the consensus).

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters (study data, ROI store, quantification settings, readers).
    patient_id : str
        The patient.
    reader : str
        Who reviews (recorded in every save and every new ROI); their own ROI set is edited.
    scan_id : str, optional
        The scan to open first; default the patient's first PET scan (DOTATATE PET/CT first).
    adjudicate : bool
        Edit the consensus set (reader ``readers.consensus``) as its adjudicator:
        :meth:`readers_calls` shows the independent readers' calls side by side.

    Attributes
    ----------
    set_reader : str
        Whose ROI set is edited (the reader, or the consensus).
    warnings : list of str
        What the reader should know (missing CT/MR, ROIs of another series, bad other scans).
    point_map : callable or None
        ``(from_scan, to_scan, point_lps_mm) -> point_lps_mm`` used by :meth:`markers`
        (a registration); None: the scans share patient coordinates.
    registrations : SessionRegistrations or None
        The registrations lesion matching uses (:mod:`nethelpers.reviewmatch`); the review
        widget shares its own, None: made on first use.

    Raises
    ------
    KeyError
        The patient has no PET scan in the scans table.
    """

    def __init__(self, params: Any, patient_id: str, reader: str,
                 scan_id: str | None = None, *, adjudicate: bool = False) -> None:
        if not str(reader).strip():
            raise ValueError("name the reader (reader=...): every save records who made it")
        self.params = params
        self.patient_id = patient_id
        self.reader = str(reader).strip()
        readers_cfg = getattr(params, "readers", None)
        self.consensus_reader = str(getattr(readers_cfg, "consensus", "consensus"))
        self.share_references = bool(getattr(readers_cfg, "share_reference_regions", False))
        if self.reader.casefold() == self.consensus_reader.casefold() and not adjudicate:
            raise ValueError(f"reader {self.reader!r} is the consensus: open the session "
                             "with adjudicate=True and your own name as reader")
        self.set_reader = self.consensus_reader if adjudicate else self.reader
        self.options = QuantifyOptions.from_config(params.quantify)
        self.store = RoiStore(params.study.rois)
        self.point_map: PointMap | None = None
        self.registrations: Any = None
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
        self._anat_dirs = anat_dirs(params.study.tables.scans)
        self._scans: dict[str, LoadedScan] = {}
        self.warnings: list[str] = []
        self._stored_cache: dict[str, RoiSet] = {}
        self._shown_text: Any = None
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

        Raises
        ------
        KeyError
            Not a PET scan of the patient.
        ScanOpenError
            The scan cannot be loaded; ``str()`` is the reason. :attr:`current` and every
            loaded scan stay as they were.
        """
        if scan_id not in self.jobs:
            raise KeyError(f"scan {scan_id} is not a PET scan of patient {self.patient_id}; "
                           f"choose one of {self.scan_ids}")
        images = self._state_of(scan_id).images
        self.current = scan_id
        return images

    def images_of(self, scan_id: str) -> ScanImages:
        """A scan's images, loaded on first use without making it current (registration).

        Raises
        ------
        KeyError
            Not a PET scan of the patient.
        ScanOpenError
            The scan cannot be loaded; the session is unchanged.
        """
        if scan_id not in self.jobs:
            raise KeyError(f"scan {scan_id} is not a PET scan of patient {self.patient_id}")
        return self._state_of(scan_id).images

    def _state_of(self, scan_id: str) -> LoadedScan:
        """A scan's state, loaded on first use (the current scan does not change)."""
        if scan_id not in self._scans:
            self._scans[scan_id] = self._load(scan_id)
        return self._scans[scan_id]

    def _load(self, scan_id: str) -> LoadedScan:
        """Load a scan; any failure becomes a :class:`ScanOpenError` naming the reason."""
        job: ScanJob = self.jobs[scan_id]
        others = ([r for r in self.store.readers(scan_id)
                   if r not in (self.set_reader, self.consensus_reader)]
                  if self.share_references else None)
        try:
            return load_scan(job, self.options, self.store, self.set_reader,
                             anat_dir=self._anat_dirs.get(scan_id, ""),
                             share_from=others,
                             warn=self._warn)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the session as it was
            reason = self._shown(str(exc) or type(exc).__name__)
            raise ScanOpenError(f"{scan_id} cannot be opened: {reason}") from exc

    def _shown(self, text: str) -> str:
        """``text`` as it may be shown: DICOM paths pseudonymised, one line."""
        if self._shown_text is None:
            from nethelpers.scanjobs import ShownText

            self._shown_text = ShownText(self.params, jobs=list(self.jobs.values()))
        try:
            return self._shown_text(text)
        except Exception:  # noqa: BLE001 - the pseudonymiser failed: show no path at all
            from nethelpers.plots.gallery import redact_paths

            return redact_paths(text)

    @property
    def _cur(self) -> LoadedScan:
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
        """Whether any scan has edits (or matching decisions) not yet saved."""
        return any(s.unsaved for s in self._scans.values())

    def dirty_scans(self) -> list[str]:
        """The scans with edits not yet saved, or matching decisions not yet in their log."""
        return [scan_id for scan_id, s in self._scans.items() if s.unsaved]

    def reload(self, scan_id: str | None = None) -> None:
        """Drop a scan's unsaved edits and load its newest saved version (default: current)."""
        scan_id = scan_id or self.current
        if scan_id not in self.jobs:
            raise KeyError(f"scan {scan_id} is not a PET scan of patient {self.patient_id}")
        fresh = self._load(scan_id)             # raises, leaving the old state in place
        self._scans[scan_id] = fresh

    @property
    def version(self) -> RoiVersion | None:
        """The ROI version the current scan's edits start from."""
        return self._cur.version

    # -- editing -----------------------------------------------------------------------------
    def _checkpoint(self) -> None:
        cur = self._cur
        cur.undo.append(ScanState(cur.state.labels.copy(), cur.state.table.copy(),
                               cur.state.reads.copy(), list(cur.state.matches)))
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

    def next_lesion_id(self) -> str:
        """A lesion_id used nowhere for the patient, in this reader's own series.

        ``P001-AB-L03``: the patient, the reader (letters and digits of the name; ``CONSENSUS``
        for the adjudicator) and a number. Readers read blinded, so two readers' new lesions
        must never share an ID by chance: the consensus and the kappa would pair two
        different lesions as one. Which reader lesion is which reference-standard lesion is
        decided apart (the reads table maps them), never by a shared counter; the numbers
        also tell a reader nothing of the reference lesions or of other readers.
        """
        prefix = f"{self.patient_id}-{self.reader_tag}-L"
        used = set(self.known_lesions())
        for scan_id in self.jobs:
            used |= set(self._reads_of(scan_id)["lesion_id"])
        numbers = [int(m.group(1)) for lid in used
                   if (m := re.match(rf"^{re.escape(prefix)}(\d+)$", lid))]
        n = max(numbers, default=0) + 1
        return f"{prefix}{n:02d}"

    @property
    def reader_tag(self) -> str:
        """The reader in new lesion IDs, never shared by two names.

        The set's reader name when it is plain letters and digits (``AB``), else its ASCII
        letters and digits with a short hash of the exact name (``JOS-1f3a`` for José,
        ``AB-77c2`` for A.B.).
        """
        import hashlib

        name = self.set_reader
        tag = re.sub(r"[^A-Za-z0-9]", "", name).upper()
        if tag == name.upper() and tag:
            return tag
        digest = hashlib.sha1(name.encode("utf-8")).hexdigest()[:4]
        return f"{tag}-{digest}" if tag else f"R-{digest}"

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
        """The newest saved set of a scan in this reader's store (None: none or unreadable).

        Loaded once per saved version: the lesion table, the markers and new IDs ask for
        the other scans' tables and reads on every refresh.
        """
        try:
            latest = self.store.latest(scan_id, reader=self.set_reader)
            if latest is None:
                return None
            cached = self._stored_cache.get(scan_id)
            if cached is None or cached.version.version != latest.version:
                cached = self.store.load(scan_id, latest.version, reader=self.set_reader)
                self._stored_cache[scan_id] = cached
        except RoiStoreError as exc:   # one damaged scan must not block the patient
            self._warn(f"{scan_id}: {exc}")
            return None
        return cached

    def _warn(self, text: str) -> None:
        text = self._shown(text)
        if text not in self.warnings:
            self.warnings.append(text)

    def _stored_table(self, scan_id: str) -> pd.DataFrame:
        """The newest saved table of another scan (empty, with a warning, if unreadable)."""
        stored = self._stored(scan_id)
        return stored.table if stored is not None else empty_table()

    def set_read(self, lesion_id: str, **values: Any) -> None:
        """Record the reader's call on a lesion.

        Fields: site, call, krenning, confidence, note, and the diameters ``long_axis_mm`` and
        ``short_axis_mm`` (mm, >= 0; the line tool) - each checked by
        :func:`nethelpers.rois.validate_reads` before anything changes.
        """
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
