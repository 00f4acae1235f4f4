"""Static review figures for the report: a gallery of every lesion and a MIP per scan.

PET (SUV, hot colours) is fused over the CT or MR (grey), both on the PET grid, with each
VOI's outline. Slices go through the lesion's SUVmax voxel. Orientation is radiological:
the patient's right on the left of an axial image, anterior at the top; head at the top of
coronal images. These figures are for the papermill run of notebook 02 (no napari, no
screen); the interactive review is :mod:`nethelpers.viewer`. Drawn in parallel over scans:
:mod:`nethelpers.plots.galleryjobs`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import SimpleITK as sitk
from matplotlib.figure import Figure

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.volume import resample_like
from nethelpers.measures import voi_stats
from nethelpers.plots.style import OKABE_ITO, figure_style, suv_window
from nethelpers.rois import RoiStoreError
from nethelpers.roiseries import RoiSeriesError

__all__ = ["LesionPeak", "failure_parts", "failure_reason", "lesion_gallery", "lesion_peaks",
           "redact_paths", "scan_figures", "scan_images", "scan_mip", "study_gallery"]

_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[\\/][^\s'\"]+")


def redact_paths(text: str) -> str:
    """First line of an error message, with every absolute path replaced by ``…``."""
    lines = str(text).strip().splitlines()
    return _PATH.sub("…", lines[0] if lines else "")[:200]


def failure_reason(exc: BaseException, shown: Callable[[str], str] | None = None) -> str:
    """Why a scan's image could not be shown, without anything that could identify a patient.

    A :class:`~nethelpers.dicom.errors.DicomInputError` names the element, not the file: its
    problem is shown (paths removed), as is a
    :class:`~nethelpers.roiseries.RoiSeriesError` (scan ID and series UIDs) and a
    :class:`~nethelpers.rois.RoiStoreError` (scan ID, version and file of the ROI store)
    through ``shown``. Any other message may quote a path (folders are often named after
    the patient) and is withheld.

    Parameters
    ----------
    exc : BaseException
        The failure.
    shown : callable, optional
        Turns a message into what a report may show
        (:class:`nethelpers.scanjobs.ShownText`); default: absolute paths replaced by ``…``.

    Returns
    -------
    str
        E.g. ``"SeriesError: Modality is None, not PT"``.
    """
    name, message = failure_parts(exc)
    return name if message is None else f"{name}: {(shown or _no_paths)(message)}"


def failure_parts(exc: BaseException) -> tuple[str, str | None]:
    """The exception's name and the message a report may show once pseudonymised.

    The message is None when it is withheld (it may quote a path); a worker process sends
    these parts (plain strings) and the caller pseudonymises them (:func:`failure_reason`).
    """
    if isinstance(exc, DicomInputError):
        return type(exc).__name__, redact_paths(exc.problem)
    if isinstance(exc, RoiSeriesError | RoiStoreError):  # scan IDs, UIDs, store files
        return type(exc).__name__, str(exc)
    return f"{type(exc).__name__} (message withheld: it may quote a path)", None


def _no_paths(text: str) -> str:
    """``text`` on one line, every absolute path replaced by ``…`` (nothing cut)."""
    return _PATH.sub("…", " ".join(str(text).split()))

def _anatomy_on_pet(pet: sitk.Image, anatomy: sitk.Image | None) -> np.ndarray | None:
    if anatomy is None:
        return None
    return sitk.GetArrayFromImage(resample_like(anatomy, pet, default=-1000.0))


def _anatomy_box(pet: sitk.Image, anatomy: sitk.Image | None, whole: np.ndarray | None,
                 box: tuple[slice, slice, slice]) -> np.ndarray | None:
    """The CT or MR on the PET voxels of ``box`` (``z, y, x`` slices within the PET).

    Cut from ``whole`` (the anatomy on the whole PET grid) when given, else resampled on
    those voxels only: the same values (the same points are interpolated), a fraction of the
    time of a whole-body resampling.
    """
    if anatomy is None:
        return None
    if whole is not None:
        return whole[box]
    zs, ys, xs = box
    return sitk.GetArrayFromImage(resample_like(anatomy, pet[xs, ys, zs], default=-1000.0))


class LesionPeak(NamedTuple):
    """A lesion VOI's hottest voxel: ``suv_max``, ``lesion_id``, ``label``, ``index`` (z, y, x)."""

    suv_max: float
    lesion_id: str
    label: int
    index: tuple[int, int, int]


def lesion_peaks(pet: sitk.Image, labels: np.ndarray, table: pd.DataFrame) -> list[LesionPeak]:
    """The SUVmax voxel of every lesion VOI of a scan, in the order of the ROI table.

    One pass over the label map finds every VOI's bounding box; each VOI is then measured
    in its box (:func:`nethelpers.measures.voi_stats`, the same voxel as on the whole
    volume). Lesions whose label has no voxel are left out.
    """
    from scipy import ndimage

    suv = sitk.GetArrayViewFromImage(pet)
    boxes = ndimage.find_objects(labels)
    peaks = []
    for rec in table[table["roi"] == "lesion"].itertuples():
        label = int(rec.label)
        box = boxes[label - 1] if 0 < label <= len(boxes) else None
        if box is None:
            continue
        stats = voi_stats(suv[box], labels[box] == label, pet.GetSpacing())
        index = tuple(s.start + i for s, i in zip(box, stats.max_index, strict=True))
        peaks.append(LesionPeak(stats.suv_max, rec.lesion_id, label, index))
    return peaks


def _grey_window(anatomy: np.ndarray | None, kind: str) -> tuple[float, float]:
    """The grey window: fixed for CT (``anatomy`` may be None), the 1-99th centile for MR."""
    if kind == "CT":
        return -160.0, 240.0                       # soft tissue: W400 / L40
    lo, hi = np.percentile(anatomy[anatomy > 0], [1, 99]) if (anatomy > 0).any() else (0, 1)
    return float(lo), float(hi)


def _panel(ax, pet2d, anat2d, mask2d, extent, vmax, window, title) -> None:
    if anat2d is not None:
        ax.imshow(anat2d, cmap="gray", vmin=window[0], vmax=window[1], extent=extent,
                  interpolation="bilinear", origin="upper")
        ax.imshow(pet2d, cmap="hot", vmin=0, vmax=vmax, alpha=0.55, extent=extent,
                  interpolation="bilinear", origin="upper")
    else:
        ax.imshow(pet2d, cmap="gray_r", vmin=0, vmax=vmax, extent=extent, origin="upper")
    if mask2d.any():
        ax.contour(mask2d.astype(float), levels=[0.5], colors=[OKABE_ITO[2]], linewidths=0.8,
                   extent=extent, origin="upper")
    # y given: where matplotlib would put it over axes without ticks, and then it does not
    # measure the axes' ticks for it twice per panel (a tenth of a gallery's drawing)
    ax.set_title(title, fontsize=6.5, y=1.0)
    ax.set_xticks([])       # hidden anyway; without ticks matplotlib lays out none (faster)
    ax.set_yticks([])
    ax.set_axis_off()


def lesion_gallery(pet: sitk.Image, labels: np.ndarray, table: pd.DataFrame, *,
                   anatomy: sitk.Image | None = None, anatomy_kind: str = "CT",
                   tracer: str = "", title: str = "", half_width_mm: float = 40.0,
                   measurements: pd.DataFrame | None = None, max_lesions: int = 12,
                   peaks: Sequence[LesionPeak] | None = None, reuse: bool = False) -> Figure:
    """One row per lesion: axial and coronal PET/anatomy fusion through its SUVmax.

    Parameters
    ----------
    pet : SimpleITK.Image
        SUV image.
    labels : numpy.ndarray
        ROI label map ``(z, y, x)`` on the PET grid.
    table : pandas.DataFrame
        ROI table (``label``, ``roi``, ``lesion_id``).
    anatomy : SimpleITK.Image, optional
        CT or MR of the scan (resampled onto the PET grid for display).
    anatomy_kind : str
        ``"CT"`` or ``"MR"`` (sets the grey window).
    tracer : str
        Sets the SUV window (:func:`suv_window`).
    title : str
        Figure title (use pseudonyms only).
    half_width_mm : float
        Half the field of view of each panel.
    measurements : pandas.DataFrame, optional
        Rows of measurements.csv for the scan (``lesion_id``, ``suv_max``, ``volume_ml``,
        ``tb_liver``), shown under each lesion.
    max_lesions : int
        At most this many lesions (the largest SUVmax first).
    peaks : sequence of LesionPeak, optional
        :func:`lesion_peaks` of the scan, when already known.
    reuse : bool
        Draw into this process's gallery figure, emptied of the previous gallery (its axes
        kept: building them is a third of a gallery's time). The figure returned is then
        valid only until the next call with ``reuse``: render it at once. The picture is
        the same as a new figure's.

    Returns
    -------
    matplotlib.figure.Figure
        The gallery; a scan without lesion VOIs gives a figure saying so.
    """
    suv = sitk.GetArrayViewFromImage(pet)
    sx, sy, sz = pet.GetSpacing()
    # CT: a fixed window, the CT resampled under the panels only; MR: a window from the
    # whole volume on the PET grid
    whole = _anatomy_on_pet(pet, anatomy) if anatomy_kind != "CT" else None
    window = _grey_window(whole, anatomy_kind) if anatomy is not None else (0.0, 1.0)
    vmax, unit = display_scale(pet, tracer)
    peaks = sorted(lesion_peaks(pet, labels, table) if peaks is None else peaks,
                   key=lambda p: -p.suv_max)[:max_lesions]
    measured = (measurements.set_index("lesion_id")
                if measurements is not None and not measurements.empty else None)
    with figure_style():
        n = max(len(peaks), 1)
        if peaks and title and reuse:
            fig, axes = _reused_rows(n, title)
        else:
            fig = Figure(figsize=(4.2, 2.0 * n + 0.4), dpi=100)
            if title:
                fig.suptitle(title, fontsize=8)
            if not peaks:
                ax = fig.add_subplot()
                ax.text(0.5, 0.5, "no lesion VOI on this scan", ha="center", va="center")
                ax.axis("off")
                return fig
            axes = fig.subplots(n, 2, squeeze=False)
        hx, hy, hz = (int(round(half_width_mm / s)) for s in (sx, sy, sz))
        nz, ny, nx = suv.shape
        for row, (value, lesion_id, label, (k, j, i)) in enumerate(peaks):
            ys, xs = slice(max(j - hy, 0), min(j + hy + 1, ny)), slice(max(i - hx, 0),
                                                                        min(i + hx + 1, nx))
            zs = slice(max(k - hz, 0), min(k + hz + 1, nz))
            ext_ax = [xs.start * sx, xs.stop * sx, ys.stop * sy, ys.start * sy]
            ext_co = [xs.start * sx, xs.stop * sx, zs.start * sz, zs.stop * sz]
            text = (f"{lesion_id}  SUVmax {value:.1f}" if unit == "SUV"
                    else f"{lesion_id}  max {value:.0f} counts")
            if measured is not None and lesion_id in measured.index:
                m = measured.loc[lesion_id]
                text += f", {float(m['volume_ml']):.1f} ml, T/B {float(m['tb_liver']):.1f}"
            anat = _anatomy_box(pet, anatomy, whole, (slice(k, k + 1), ys, xs))
            _panel(axes[row, 0], suv[k, ys, xs], None if anat is None else anat[0],
                   labels[k, ys, xs] == label, ext_ax, vmax, window, f"axial · {text}")
            # coronal: head at the top (flip z so that the first row is superior)
            anat = _anatomy_box(pet, anatomy, whole, (zs, slice(j, j + 1), xs))
            _panel(axes[row, 1], suv[zs, j, xs][::-1],
                   None if anat is None else anat[:, 0][::-1], (labels[zs, j, xs] == label)[::-1],
                   ext_co, vmax, window, "coronal")
        fig.subplots_adjust(hspace=0.35, wspace=0.05)
    return fig


_REUSED: dict[str, Figure] = {}
"""This process's gallery figure (:func:`lesion_gallery` with ``reuse``)."""


def _reused_rows(n: int, title: str) -> tuple[Figure, np.ndarray]:
    """The process's gallery figure with ``n`` empty rows of two panels, sized for them.

    Positions as :meth:`Figure.subplots` then ``subplots_adjust`` would give; panels of
    earlier, longer galleries are emptied and hidden; nothing of a previous gallery is left
    (images, outlines, titles, data limits).
    """
    fig = _REUSED.get("gallery")
    if fig is None:
        fig = _REUSED["gallery"] = Figure(dpi=100)
        fig.subplots_adjust(hspace=0.35, wspace=0.05)
    fig.set_size_inches(4.2, 2.0 * n + 0.4)
    fig.suptitle(title, fontsize=8)
    grid = fig.add_gridspec(n, 2)
    pool = fig.axes
    for ax in pool:
        for artist in [*ax.images, *ax.collections]:
            artist.remove()
        ax.set_title("")
        ax.ignore_existing_data_limits = True        # the next image sets the data limits
        ax.set_visible(False)
    axes = np.empty((n, 2), dtype=object)
    for row in range(n):
        for col in range(2):
            if 2 * row + col < len(pool):
                ax = axes[row, col] = pool[2 * row + col]
                ax.set_subplotspec(grid[row, col])
                ax.set_visible(True)
            else:
                axes[row, col] = fig.add_subplot(grid[row, col])
    return fig, axes


def display_scale(pet: sitk.Image, tracer: str) -> tuple[float, str]:
    """The upper end of a scan's display and its unit (``"SUV"`` or ``"counts"``).

    The tracer's SUV window; for counts-only SPECT (metadata ``quantity`` "counts", set by
    :func:`nethelpers.dicom.volume.load_emission_series`) the counts window of
    :func:`nethelpers.viewer.emission.counts_window`.
    """
    if pet.HasMetaDataKey("quantity") and pet.GetMetaData("quantity") == "counts":
        from nethelpers.viewer.emission import counts_window

        return counts_window(sitk.GetArrayViewFromImage(pet))[1], "counts"
    return suv_window(tracer), "SUV"


def scan_mip(pet: sitk.Image, labels: np.ndarray, table: pd.DataFrame, *, tracer: str = "",
             title: str = "", peaks: Sequence[LesionPeak] | None = None) -> Figure:
    """Coronal maximum-intensity projection of a scan with its lesions marked and named.

    Parameters
    ----------
    pet : SimpleITK.Image
        SUV image.
    labels : numpy.ndarray
        ROI label map on the PET grid.
    table : pandas.DataFrame
        ROI table.
    tracer : str
        Sets the SUV window.
    title : str
        Figure title (pseudonyms only).
    peaks : sequence of LesionPeak, optional
        :func:`lesion_peaks` of the scan, when already known.

    Returns
    -------
    matplotlib.figure.Figure
        Inverse grey MIP (the reading convention), head at the top, each lesion's SUVmax
        marked with its ID.
    """
    suv = sitk.GetArrayViewFromImage(pet)
    sx, _, sz = pet.GetSpacing()
    mip = suv.max(axis=1)[::-1]                   # (z, x), superior first
    nz, nx = mip.shape
    with figure_style():
        fig = Figure(figsize=(2.6, 2.6 * nz * sz / (nx * sx) + 0.3), dpi=100)
        ax = fig.add_subplot()
        ax.imshow(mip, cmap="gray_r", vmin=0, vmax=display_scale(pet, tracer)[0],
                  extent=[0, nx * sx, 0, nz * sz], interpolation="bilinear")
        for peak in lesion_peaks(pet, labels, table) if peaks is None else peaks:
            k, _, i = peak.index
            ax.plot(i * sx, k * sz, marker="o", markersize=7, markerfacecolor="none",
                    markeredgecolor=OKABE_ITO[3], markeredgewidth=1.0)
            ax.annotate(str(peak.lesion_id).split("-")[-1], (i * sx, k * sz),
                        xytext=(5, 3), textcoords="offset points", fontsize=5.5,
                        color=OKABE_ITO[3])
        ax.set_axis_off()
        ax.set_title(title or "MIP", fontsize=7.5, y=1.0)   # y: as in _panel
    return fig


def _anatomy_kind(modality: str) -> str:
    """``MR`` for a PET/MR scan, else ``CT``."""
    return "MR" if "MR" in str(modality).upper().split("/")[-1] else "CT"


def scan_images(job: Any, store: Any, norm: str = "bw", reader: str | None = None
                ) -> tuple[sitk.Image, np.ndarray, pd.DataFrame, sitk.Image | None, str]:
    """The SUV image of a scan, its newest saved ROIs on the PET grid and its CT or MR.

    Parameters
    ----------
    job : nethelpers.quantify.ScanJob
        The scan.
    store : nethelpers.rois.RoiStore
        The ROI store (a scan without saved ROIs gets an empty label map).
    norm : str
        SUV normalisation.
    reader : str, optional
        Whose ROI set (``index_test.reader``); a scan that reader drew nothing on shows the
        newest set of another reader (:func:`nethelpers.roichoice.roi_set_for`); None: the
        newest set of any reader.

    Returns
    -------
    tuple
        ``(pet, labels, table, anatomy, kind)``: anatomy is None without ``anat_dir``;
        kind is ``"CT"`` or ``"MR"``.

    Raises
    ------
    nethelpers.roiseries.RoiSeriesError
        The saved ROIs were drawn on another PET series than the one loaded for the scan.
    """
    from nethelpers.dicom.volume import load_ct, load_emission_series, load_mr
    from nethelpers.roichoice import roi_set_for
    from nethelpers.roiseries import check_roi_series, series_uid_of
    from nethelpers.scanmeasures import labels_on

    loaded = load_emission_series(job.pet, norm, series_uid=job.series_uid)
    pet = loaded.image
    labels = np.zeros(pet.GetSize()[::-1], dtype=np.uint16)
    table = pd.DataFrame(columns=["label", "roi", "lesion_id"])
    rois, _ = roi_set_for(store, job.scan_id, reader)
    if rois is not None:
        check_roi_series(rois.version, series_uid_of(loaded.headers))  # raises: another PET
        labels, table = labels_on(pet, rois.labels, rois.table)[0], rois.table
    kind = _anatomy_kind(job.modality)
    anatomy = None
    if job.anatomy:
        anatomy = (load_mr if kind == "MR" else load_ct)(job.anatomy)
    return pet, labels, table, anatomy, kind


def scan_figures(job: Any, store: Any, norm: str = "bw", *, max_lesions: int = 12,
                 reader: str | None = None, reuse: bool = False) -> tuple[Figure, Figure]:
    """The lesion gallery and the MIP of one PET scan with its newest saved ROIs.

    Parameters
    ----------
    job : nethelpers.quantify.ScanJob
        The scan: its PET series (resolved by :func:`nethelpers.quantify.scan_jobs`) and its
        CT or MR.
    store : nethelpers.rois.RoiStore
        The ROI store (a scan without saved ROIs is drawn without VOIs).
    norm : str
        SUV normalisation (``quantify.norm``).
    max_lesions : int
        Lesions in the gallery (largest SUVmax first).
    reader : str, optional
        Whose ROI set (:func:`scan_images`).
    reuse : bool
        The gallery drawn into this process's gallery figure (:func:`lesion_gallery`):
        render it before the next call.

    Returns
    -------
    tuple of Figure
        ``(gallery, mip)``; titles carry the scan ID (a pseudonym), tracer and modality.

    Raises
    ------
    nethelpers.roiseries.RoiSeriesError
        The saved ROIs were drawn on another PET series than the one loaded for the scan.
    """
    pet, labels, table, anatomy, kind = scan_images(job, store, norm, reader)
    title = f"{job.scan_id} ({job.tracer} {job.modality})"
    peaks = lesion_peaks(pet, labels, table)
    gallery = lesion_gallery(pet, labels, table, anatomy=anatomy, anatomy_kind=kind,
                             tracer=job.tracer, title=title, max_lesions=max_lesions,
                             peaks=peaks, reuse=reuse)
    return gallery, scan_mip(pet, labels, table, tracer=job.tracer, title=title, peaks=peaks)


def study_gallery(params: Any, patient_ids: Sequence[str] | None = None, *,
                  max_lesions: int = 12, progress: bool = True,
                  jobs: Sequence[Any] | None = None, saved_only: bool = True,
                  skipped: dict[str, str] | None = None) -> Iterator[tuple[str, Figure]]:
    """Yield ``(name, figure)`` pairs: a lesion gallery and a MIP for every reviewed PET scan.

    The scans and their PET series are those of :func:`nethelpers.quantify.scan_jobs`
    (SPECT too: counts-only SPECT in its own counts window); the ROIs are the newest saved
    version of each scan. One scan after the
    other, in this process; the report draws the same figures in parallel as PNG files
    (:func:`nethelpers.plots.galleryjobs.render_study_gallery`, same bytes).

    Parameters
    ----------
    params : nethelpers.config.Params
        The study (scans, ROI store, ``quantify.norm``).
    patient_ids : sequence of str, optional
        Default: every patient with a PET scan.
    max_lesions : int
        Lesions per gallery (largest SUVmax first).
    progress : bool
        Show a progress bar over scans.
    jobs : sequence of nethelpers.quantify.ScanJob, optional
        The scans (default: :func:`nethelpers.quantify.scan_jobs` of the parameters).
    saved_only : bool
        Only scans with saved ROIs (default); False: every PET scan.
    skipped : dict, optional
        Given, a scan whose images cannot be read, or whose PET series cannot be found
        (its job's ``problem``), is left out and recorded here (``scan_id → reason``,
        pseudonymised, :func:`failure_reason`), and a scan already recorded in it (e.g. by
        :func:`nethelpers.reviewstatus.review_status`) is not drawn; else the error is
        raised.

    Yields
    ------
    tuple of (str, matplotlib.figure.Figure)
        ``gallery_<scan_id>`` and ``mip_<scan_id>``; titles carry scan IDs (pseudonyms).
    """
    from tqdm.auto import tqdm

    from nethelpers.quantify import scan_jobs
    from nethelpers.rois import RoiStore
    from nethelpers.scanjobs import ShownText

    store = RoiStore(params.study.rois)
    jobs = list(scan_jobs(params) if jobs is None else jobs)
    if patient_ids is not None:
        wanted = {str(p) for p in patient_ids}
        jobs = [j for j in jobs if j.patient_id in wanted]
    if saved_only:
        saved = set(store.scans())
        jobs = [j for j in jobs if j.scan_id in saved]
    jobs = sorted(jobs, key=lambda j: (j.patient_id, j.scan_id))
    shown = ShownText(params, jobs=jobs)
    for job in tqdm(jobs, desc="gallery", unit="scan", disable=not progress):
        if skipped is not None and job.scan_id in skipped:
            continue                                      # already listed as failed
        if skipped is not None and job.problem:
            skipped[job.scan_id] = shown(job.problem)
            continue
        try:
            gallery, mip = scan_figures(job, store, params.quantify.norm,
                                        max_lesions=max_lesions,
                                        reader=params.index_test.reader)
        except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the rest
            if skipped is None:
                raise
            skipped[job.scan_id] = failure_reason(exc, shown)
            continue
        yield f"gallery_{job.scan_id}", gallery
        yield f"mip_{job.scan_id}", mip
