"""The lesion gallery drawn in parallel over scans (worker processes), as PNG files.

Drawing a scan's gallery (read its PET and CT or MR, fuse, render the PNG) takes about half a
second; a 60-patient study has 130 scans, which made the gallery three quarters of the
report's time. Each scan is drawn by a worker process (:func:`render_study_gallery`), or by
the caller when ``workers`` is 1: the PNG bytes are the same either way (one scan, one figure,
rendered by the same code with no time stamp). A scan that fails is listed with its reason
(pseudonymised by the caller, :func:`nethelpers.plots.gallery.failure_reason`) and the
others are drawn.

:func:`lesion_tiles` draws any list of lesions, one tile per lesion with its caption (e.g. the
discordant lesions of the false-call analysis), the scans read in parallel likewise.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import textwrap
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["GalleryResult", "lesion_tiles", "render_study_gallery", "run_scans"]


@dataclass
class GalleryResult:
    """What :func:`render_study_gallery` wrote.

    Attributes
    ----------
    figures : list of Path
        The PNG files, in scan order (``gallery_<scan>.png`` then ``mip_<scan>.png``).
    alt : dict
        File name → text alternative (titles of the figure; scan IDs are pseudonyms).
    failed : dict
        ``scan_id`` → why it could not be drawn (pseudonymised).
    """

    figures: list[Path] = field(default_factory=list)
    alt: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """File names of the figures (``gallery_P001-FDG-PETCT.png``...)."""
        return [p.name for p in self.figures]

    def images(self, privacy: Any, first: int = 2) -> list[Any]:
        """The first figures as images to display, each with its text alternative.

        Parameters
        ----------
        privacy : nethelpers.privacy.Pseudonymiser
            The report's pseudonymiser (``ReportDir.privacy``): the alt text passes it.
        first : int
            How many.

        Returns
        -------
        list of IPython.display.Image
        """
        from IPython.display import Image

        return [Image(filename=str(path), retina=False,
                      metadata={"alt": privacy.text(self.alt[path.name])})
                for path in self.figures[:first]]


def _workers(params: Any, workers: int | None, n_tasks: int) -> int:
    wanted = workers or getattr(params.quantify, "workers", None) or os.cpu_count() or 1
    return max(1, min(int(wanted), n_tasks))


def run_scans(function: Callable[[Any], Any], tasks: Sequence[Any], workers: int, *,
              progress: bool = True, desc: str = "gallery") -> Iterator[Any]:
    """Yield ``function(task)`` for every task, in the order of ``tasks``.

    Parameters
    ----------
    function : callable
        A module-level function (picklable); it must catch its own errors.
    tasks : sequence
        Picklable arguments, one per scan.
    workers : int
        Worker processes (spawned: safe in a Jupyter kernel); 1 runs in this process.
    progress : bool
        A progress bar (tqdm) over the scans.
    desc : str
        Its label.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=len(tasks), desc=desc, unit="scan", disable=not progress)
    try:
        if workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield function(task)
                bar.update()
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for result in pool.map(function, tasks, chunksize=1):
                yield result
                bar.update()
    finally:
        bar.close()


# -- the study gallery ---------------------------------------------------------------------


PNG_COMPRESS_LEVEL = 3
"""zlib level of the gallery's PNG files: as small as matplotlib's RGBA at level 6, 2.5x faster."""


def _png(fig: Figure, dpi: int, compress_level: int = PNG_COMPRESS_LEVEL) -> bytes:
    """The figure as PNG bytes: the pixels of :meth:`nethelpers.reportdir.ReportDir.figure`.

    The same picture as ``savefig`` with the report's tight bounding box, drawn once instead
    of twice (the box is measured without drawing), and written as RGB when every pixel is
    opaque (no alpha channel to compress). No time stamp: the same figure gives the same bytes.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure (its canvas is replaced by an Agg canvas).
    dpi : int
        Resolution.
    compress_level : int
        zlib level, 0-9.

    Returns
    -------
    bytes
    """
    import matplotlib as mpl

    from nethelpers.plots import figure_style

    buffer = io.BytesIO()
    shown, canvas = fig.dpi, fig.canvas
    try:
        with figure_style():
            fig.dpi = dpi                  # the renderer savefig would measure the box with
            box = fig.get_tightbbox(_OpaquePngCanvas(fig, compress_level).get_renderer())
            pad = mpl.rcParams["savefig.pad_inches"]
            fig.savefig(buffer, format="png", dpi=dpi, bbox_inches=box.padded(pad, pad))
    finally:
        fig.dpi = shown
        fig.set_canvas(canvas)
    return buffer.getvalue()


class _OpaquePngCanvas(FigureCanvasAgg):
    """An Agg canvas whose PNG is RGB when the picture is opaque (zlib level of its own)."""

    def __init__(self, figure: Figure, compress_level: int) -> None:
        super().__init__(figure)
        self.compress_level = compress_level

    def print_png(self, filename_or_obj: Any, **_: Any) -> None:
        """Draw once and write the PNG (no text chunks: no software name, no time).

        savefig's other arguments (colours, bounding box) are applied by savefig itself.
        """
        from PIL import Image

        FigureCanvasAgg.draw(self)
        rgba = np.asarray(self.buffer_rgba())
        pixels = rgba[..., :3] if (rgba[..., 3] == 255).all() else rgba
        dpi = self.figure.dpi
        Image.fromarray(np.ascontiguousarray(pixels)).save(
            filename_or_obj, format="png", dpi=(dpi, dpi), compress_level=self.compress_level)


def _draw_scan(task: tuple) -> tuple[str, list[tuple[str, bytes, str]], tuple | None]:
    """Worker: ``(scan_id, [(name, png, alt), ...], failure parts or None)``."""
    from nethelpers.plots.gallery import failure_parts, scan_figures
    from nethelpers.reportdir import alt_text
    from nethelpers.rois import RoiStore

    job, rois, norm, max_lesions, dpi, reader = task
    try:
        gallery, mip = scan_figures(job, RoiStore(rois), norm, max_lesions=max_lesions,
                                    reader=reader, reuse=True)   # rendered right below
        out = []
        for name, fig in ((f"gallery_{job.scan_id}", gallery), (f"mip_{job.scan_id}", mip)):
            out.append((name, _png(fig, dpi), alt_text(fig, name)))
        return job.scan_id, out, None
    except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the rest
        return job.scan_id, [], failure_parts(exc)


def _study_jobs(params: Any, jobs: Iterable[Any] | None, patient_ids: Sequence[str] | None,
                saved_only: bool) -> list[Any]:
    from nethelpers.quantify import scan_jobs
    from nethelpers.rois import RoiStore

    jobs = list(scan_jobs(params) if jobs is None else jobs)
    if patient_ids is not None:
        wanted = {str(p) for p in patient_ids}
        jobs = [j for j in jobs if j.patient_id in wanted]
    if saved_only:
        saved = set(RoiStore(params.study.rois).scans())
        jobs = [j for j in jobs if j.scan_id in saved]
    return sorted(jobs, key=lambda j: (j.patient_id, j.scan_id))


def render_study_gallery(params: Any, figures_dir: str | Path, *,
                         jobs: Iterable[Any] | None = None,
                         patient_ids: Sequence[str] | None = None, max_lesions: int = 12,
                         dpi: int = 110, workers: int | None = None, progress: bool = True,
                         saved_only: bool = True, skipped: dict[str, str] | None = None
                         ) -> GalleryResult:
    """Write a lesion gallery and a MIP (PNG) for every reviewed PET scan, in parallel.

    The figures are those of :func:`nethelpers.plots.gallery.study_gallery`; a scan that
    cannot be drawn is listed in ``failed`` (never raised) and the others are drawn.

    Parameters
    ----------
    params : nethelpers.config.Params
        The study (scans, ROI store, ``quantify.norm``, ``quantify.workers``).
    figures_dir : str or Path
        Where the PNG files go (``ReportDir.figures``).
    jobs : iterable of nethelpers.quantify.ScanJob, optional
        The scans (default: :func:`nethelpers.quantify.scan_jobs`).
    patient_ids : sequence of str, optional
        Only these patients.
    max_lesions : int
        Lesions per gallery (largest SUVmax first).
    dpi : int
        Resolution of the PNG files.
    workers : int, optional
        Worker processes; default ``quantify.workers``, else one per core; 1 draws here.
    progress : bool
        A progress bar over the scans.
    saved_only : bool
        Only scans with saved ROIs (default); False: every PET scan.
    skipped : dict, optional
        Scans already known to fail (``scan_id → reason``, e.g. from
        :func:`nethelpers.reviewstatus.review_status`): not drawn. The failures of this
        run are added to it as well as returned.

    Returns
    -------
    GalleryResult
        The files written (in scan order), their text alternatives and the failures.
    """
    from nethelpers.files import atomic_write
    from nethelpers.scanjobs import ShownText

    known = dict(skipped or {})
    jobs = _study_jobs(params, jobs, patient_ids, saved_only)
    shown = ShownText(params, jobs=jobs)
    result = GalleryResult()
    todo = []
    for job in jobs:
        if job.scan_id in known:
            continue
        if job.problem:
            result.failed[job.scan_id] = shown(job.problem)
            continue
        todo.append((job, str(params.study.rois), params.quantify.norm, max_lesions, dpi,
                     params.index_test.reader))
    folder = Path(figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    count = _workers(params, workers, len(todo))
    for scan_id, figures, failure in run_scans(_draw_scan, todo, count, progress=progress):
        if failure is not None:
            name, message = failure
            result.failed[scan_id] = name if message is None else f"{name}: {shown(message)}"
            continue
        for name, png, alt in figures:
            path = folder / f"{name}.png"
            with atomic_write(path, "wb") as stream:
                stream.write(png)
            result.figures.append(path)
            result.alt[path.name] = alt
    if skipped is not None:
        skipped.update(result.failed)
    return result


# -- any list of lesions ---------------------------------------------------------------------


def _cut_tiles(task: tuple) -> list[tuple[int, dict | None, tuple | None]]:
    """Worker: one axial PET/anatomy tile per requested lesion of one scan."""
    import SimpleITK as sitk

    from nethelpers.measures import voi_stats
    from nethelpers.plots.gallery import (
        _anatomy_box,
        _anatomy_on_pet,
        _grey_window,
        display_scale,
        failure_parts,
        scan_images,
    )
    from nethelpers.rois import RoiStore

    job, rois, norm, wanted, half_width_mm, reader = task
    try:
        pet, labels, table, anatomy, kind = scan_images(job, RoiStore(rois), norm, reader)
    except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the rest
        return [(i, None, failure_parts(exc)) for i, _ in wanted]
    suv = sitk.GetArrayViewFromImage(pet)
    whole = _anatomy_on_pet(pet, anatomy) if kind != "CT" else None  # CT: only under tiles
    window = _grey_window(whole, kind) if anatomy is not None else (0.0, 1.0)
    sx, sy, _ = pet.GetSpacing()
    hx, hy = (int(round(half_width_mm / s)) for s in (sx, sy))
    lesions = table[table["roi"] == "lesion"].set_index("lesion_id")
    out = []
    for i, lesion_id in wanted:
        mask = (labels == int(lesions.loc[lesion_id, "label"])
                if lesion_id in lesions.index else np.zeros(0, bool))
        if not mask.any():
            out.append((i, None, ("LesionNotFound", f"{lesion_id} has no VOI in the saved "
                                                    f"ROIs of {job.scan_id}")))
            continue
        k, j, x = voi_stats(suv, mask, pet.GetSpacing()).max_index
        ys = slice(max(j - hy, 0), min(j + hy + 1, suv.shape[1]))
        xs = slice(max(x - hx, 0), min(x + hx + 1, suv.shape[2]))
        extent = [xs.start * sx, xs.stop * sx, ys.stop * sy, ys.start * sy]
        anat = _anatomy_box(pet, anatomy, whole, (slice(k, k + 1), ys, xs))
        out.append((i, {"pet": np.array(suv[k, ys, xs]), "mask": mask[k, ys, xs],
                        "anat": None if anat is None else anat[0], "extent": extent,
                        "vmax": display_scale(pet, job.tracer)[0], "window": window}, None))
    return out


def lesion_tiles(params: Any, lesions: Sequence[tuple[str, str]],
                 captions: Sequence[str] | None = None, *, jobs: Iterable[Any] | None = None,
                 columns: int = 4, half_width_mm: float = 40.0, workers: int | None = None,
                 progress: bool = True, failed: dict[str, str] | None = None) -> Figure:
    """A figure of lesions, one axial PET/CT (or PET/MR) tile each with its caption.

    Each tile goes through the lesion's SUVmax voxel, its VOI outlined (newest saved ROIs),
    in the order given; the scans are read in parallel.

    Parameters
    ----------
    params : nethelpers.config.Params
        The study.
    lesions : sequence of (str, str)
        ``(scan_id, lesion_id)`` pairs, e.g. the discordant lesions of the false-call table.
    captions : sequence of str, optional
        One per lesion (e.g. ``"P012-L03 liver, SUVmax 7.1, read negative"``); default
        ``"<lesion_id> (<scan_id>)"``. Use pseudonyms only.
    jobs : iterable of nethelpers.quantify.ScanJob, optional
        The scans (default: :func:`nethelpers.quantify.scan_jobs`).
    columns : int
        Tiles per row.
    half_width_mm : float
        Half the field of view of a tile.
    workers : int, optional
        Worker processes (default ``quantify.workers``, else one per core).
    progress : bool
        A progress bar over the scans.
    failed : dict, optional
        Given, a lesion that cannot be drawn (scan unreadable or not in the scans table,
        lesion without a VOI) is recorded here (``"<scan_id> <lesion_id>" → reason``,
        pseudonymised) and its tile says so; else a :class:`ValueError` is raised.

    Returns
    -------
    matplotlib.figure.Figure
        The tiles (a figure saying so when the list is empty).
    """
    from nethelpers.plots.gallery import _panel
    from nethelpers.plots.style import figure_style
    from nethelpers.scanjobs import ShownText

    lesions = [(str(s), str(lesion)) for s, lesion in lesions]
    captions = list(captions) if captions is not None else [f"{lesion} ({s})"
                                                            for s, lesion in lesions]
    if len(captions) != len(lesions):
        raise ValueError(f"{len(captions)} captions for {len(lesions)} lesions")
    by_id = {j.scan_id: j for j in _study_jobs(params, jobs, None, saved_only=False)}
    shown = ShownText(params, jobs=list(by_id.values()))
    tiles: dict[int, dict] = {}
    problems: dict[int, str] = {}
    wanted: dict[str, list[tuple[int, str]]] = {}
    for i, (scan_id, lesion_id) in enumerate(lesions):
        job = by_id.get(scan_id)
        if job is None or job.problem:
            problems[i] = (shown(job.problem) if job
                           else f"{scan_id} is not a PET scan of the scans table")
        else:
            wanted.setdefault(scan_id, []).append((i, lesion_id))
    tasks = [(by_id[s], str(params.study.rois), params.quantify.norm, w, half_width_mm,
              params.index_test.reader) for s, w in sorted(wanted.items())]
    for result in run_scans(_cut_tiles, tasks, _workers(params, workers, len(tasks)),
                            progress=progress, desc="lesion tiles"):
        for i, tile, failure in result:
            if tile is not None:
                tiles[i] = tile
            else:
                name, message = failure
                problems[i] = name if message is None else f"{name}: {shown(message)}"
    if problems and failed is None:
        i = min(problems)
        raise ValueError(f"{lesions[i][0]} {lesions[i][1]}: {problems[i]}")
    for i, reason in problems.items():
        failed[f"{lesions[i][0]} {lesions[i][1]}"] = reason  # type: ignore[index]
    with figure_style():
        rows = max(1, -(-len(lesions) // columns))
        fig = Figure(figsize=(2.0 * columns, 2.15 * rows), dpi=100)
        if not lesions:
            ax = fig.add_subplot()
            ax.text(0.5, 0.5, "no lesion to show", ha="center", va="center")
            ax.set_axis_off()
            return fig
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for i, ax in enumerate(axes):
            if i >= len(lesions):
                ax.set_axis_off()
            elif i in tiles:
                t = tiles[i]
                _panel(ax, t["pet"], t["anat"], t["mask"], t["extent"], t["vmax"],
                       t["window"], textwrap.fill(captions[i], 34))
            else:
                ax.text(0.5, 0.5, "not available", ha="center", va="center", fontsize=6)
                ax.set_title(textwrap.fill(captions[i], 34), fontsize=6.5)
                ax.set_axis_off()
        fig.subplots_adjust(hspace=0.3, wspace=0.05)
    return fig
