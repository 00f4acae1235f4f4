"""Drawing VOIs on a PET volume: reference spheres, click-to-grow lesions, background shells.

All functions work on numpy arrays in SimpleITK order ``(z, y, x)`` with the voxel spacing
given as SimpleITK's ``(sx, sy, sz)`` in mm, and on a bounded box around the VOI, so a
click costs milliseconds on a whole-body volume. Distances are physical: with an orthonormal
direction matrix the distance between voxel centres depends only on the spacing, so oblique
grids need no special case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "GrowResult",
    "LIVER_SPHERE_RADIUS_MM",
    "ball_offsets",
    "bounding_box",
    "grow_from_click",
    "shell_mask",
    "sphere_mask",
]

#: The protocol's liver reference: a 3 cm sphere (radius 15 mm) in the right lobe.
LIVER_SPHERE_RADIUS_MM = 15.0

Box = tuple[slice, slice, slice]


def _zyx_spacing(spacing: Sequence[float]) -> np.ndarray:
    """SimpleITK (sx, sy, sz) spacing as a (z, y, x) array, checked positive."""
    sp = np.asarray(spacing, dtype=float)
    if sp.shape != (3,) or not np.all(sp > 0):
        raise ValueError(f"spacing must be three positive values (sx, sy, sz) in mm; got {spacing}")
    return sp[::-1]


def ball_offsets(spacing: Sequence[float], radius_mm: float) -> np.ndarray:
    """Integer ``(dz, dy, dx)`` offsets of the voxels whose centres lie within a ball.

    Parameters
    ----------
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    radius_mm : float
        Ball radius; a voxel belongs when its centre's distance is ``<= radius_mm``.

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` offsets, the centre ``(0, 0, 0)`` first.
    """
    sp = _zyx_spacing(spacing)
    half = np.floor(radius_mm / sp + 1e-9).astype(int)
    grid = np.mgrid[-half[0]:half[0] + 1, -half[1]:half[1] + 1, -half[2]:half[2] + 1]
    off = grid.reshape(3, -1).T
    d2 = ((off * sp) ** 2).sum(axis=1)
    off = off[d2 <= radius_mm**2]            # as sphere_mask: centre distance <= radius
    order = np.lexsort((off[:, 2], off[:, 1], off[:, 0], (off**2).sum(axis=1)))
    return off[order]


def bounding_box(mask: np.ndarray, margin: Sequence[int] = (0, 0, 0)) -> Box | None:
    """The smallest box holding a mask's voxels, grown by ``margin`` voxels and clipped.

    Returns
    -------
    tuple of slice or None
        ``(z, y, x)`` slices, or None for an empty mask.

    Notes
    -----
    Projections (``any`` over axes, the second and third on the occupied slab only) cost a
    fraction of ``scipy.ndimage.find_objects`` on a whole-body volume (0.2 vs 10 ms).
    """
    z = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if z.size == 0:
        return None
    slab = mask[z[0]:z[-1] + 1]
    y = np.flatnonzero(slab.any(axis=(0, 2)))
    x = np.flatnonzero(slab.any(axis=(0, 1)))
    box = (slice(int(z[0]), int(z[-1]) + 1), slice(int(y[0]), int(y[-1]) + 1),
           slice(int(x[0]), int(x[-1]) + 1))
    return grow_box(box, margin, mask.shape)


def grow_box(box: Box, margin: Sequence[int], shape: Sequence[int]) -> Box:
    """A box grown by ``margin`` voxels per axis, clipped to ``shape``."""
    return tuple(slice(max(s.start - m, 0), min(s.stop + m, n))
                 for s, m, n in zip(box, margin, shape, strict=True))


def _squared_distances(lo: Sequence[int], hi: Sequence[int], centre: Sequence[float],
                       sp: np.ndarray) -> np.ndarray:
    """Squared mm distances from ``centre`` (z, y, x index) of the voxels of box [lo, hi)."""
    z, y, x = (((np.arange(a, b) - c) * s) ** 2
               for a, b, c, s in zip(lo, hi, centre, sp, strict=True))
    return z[:, None, None] + y[None, :, None] + x[None, None, :]


def sphere_mask(shape: Sequence[int], spacing: Sequence[float], center_zyx: Sequence[float],
                radius_mm: float) -> np.ndarray:
    """Voxels whose centres lie within a sphere.

    Parameters
    ----------
    shape : sequence of int
        ``(nz, ny, nx)`` of the volume.
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    center_zyx : sequence of float
        Sphere centre as a continuous ``(z, y, x)`` index (from a click, or
        ``image.TransformPhysicalPointToContinuousIndex(point)[::-1]`` for a point in mm).
    radius_mm : float
        Sphere radius in mm (the liver reference: :data:`LIVER_SPHERE_RADIUS_MM`).

    Returns
    -------
    numpy.ndarray
        Boolean mask of ``shape``.
    """
    if radius_mm <= 0:
        raise ValueError(f"radius_mm must be positive; got {radius_mm}")
    sp = _zyx_spacing(spacing)
    c = np.asarray(center_zyx, dtype=float)
    lo = np.maximum(np.floor(c - radius_mm / sp).astype(int), 0)
    hi = np.minimum(np.ceil(c + radius_mm / sp).astype(int) + 1, np.asarray(shape))
    mask = np.zeros(tuple(shape), dtype=bool)
    if np.any(hi <= lo):
        return mask
    inside = _squared_distances(lo, hi, c, sp) <= radius_mm**2
    mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = inside
    return mask


@dataclass(frozen=True)
class GrowResult:
    """A click-to-grow VOI and how it was made.

    Attributes
    ----------
    mask : numpy.ndarray
        Boolean VOI of the volume's shape.
    peak : tuple of int
        ``(z, y, x)`` of the local SUVmax the region grew from.
    suv_max : float
        That maximum.
    background : float
        The local background (median SUV of a shell around the peak; 0 when not used).
    threshold : float
        The SUV cut: ``background + fraction * (suv_max - background)``.
    touches_bound : bool
        True when the region reached the bounding sphere: it leaked into surrounding
        uptake and should be checked (or drawn by hand).
    """

    mask: np.ndarray
    peak: tuple[int, int, int]
    suv_max: float
    background: float
    threshold: float
    touches_bound: bool

    @property
    def contrast(self) -> float:
        """Peak over local background, ``suv_max / background`` (inf without a background)."""
        return self.suv_max / self.background if self.background > 0 else float("inf")


def _climb(smooth: np.ndarray, start: np.ndarray, sp: np.ndarray, limit_mm: float,
           allowed: np.ndarray | None) -> np.ndarray:
    """Steepest ascent over the 26 neighbours, no further than ``limit_mm`` from the start."""
    cur = start.copy()
    shape = np.asarray(smooth.shape)
    while True:
        lo, hi = np.maximum(cur - 1, 0), np.minimum(cur + 2, shape)
        window = smooth[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
        if allowed is not None:
            window = np.where(allowed[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], window, -np.inf)
        nxt = np.array(np.unravel_index(int(np.argmax(window)), window.shape)) + lo
        if (smooth[tuple(nxt)] <= smooth[tuple(cur)]
                or np.linalg.norm((nxt - start) * sp) > limit_mm):
            return cur
        cur = nxt


def grow_from_click(suv: np.ndarray, seed_zyx: Sequence[int], spacing: Sequence[float], *,
                    fraction: float = 0.5, background: bool = True,
                    background_shell_mm: tuple[float, float] = (20.0, 30.0),
                    search_mm: float = 10.0, max_radius_mm: float = 60.0,
                    exclude: np.ndarray | None = None,
                    min_contrast: float | None = None, unit: str = "SUV") -> GrowResult:
    """A lesion VOI from one click: a threshold between the local background and SUVmax.

    1. **Peak.** From the click, climb the image smoothed with a 1-voxel Gaussian to its
       local maximum (no further than ``search_mm``), then take the hottest raw voxel next
       to it. A click on a faint lesion finds that lesion's peak, not a hotter organ nearby
       (the plain "hottest voxel within 10 mm" leaked in half of the demo's lesions).
    2. **Background.** The median SUV of a shell ``background_shell_mm`` from the peak.
    3. **VOI.** Every voxel ``>= background + fraction × (SUVmax − background)`` connected to
       the peak (26-connectivity), within ``max_radius_mm`` of it and not in ``exclude``.
       With ``background=False`` the cut is ``fraction × SUVmax`` (e.g. 41 %, EANM's MTV).

    With ``min_contrast`` a click whose peak is below ``min_contrast ×`` the local background
    is refused: a click in normal tissue (liver, muscle) finds a noise maximum, and growing
    it gives a "lesion" of normal tissue (the review's ``review.min_contrast``, 1.5, was
    chosen on the demo: see :class:`nethelpers.configreview.ReviewConfig`).

    On the demo's lesions (blur and noise, 122 clicks at the true centres of 24 scans) the
    default refuses 4 (colder than their background) and leaks to the bound for 17 % of the
    rest (mostly faint lesions beside hot organs; flagged by ``touches_bound``), against 49 %
    for 41 % of the hottest voxel within 10 mm; the median VOI is 0.86× the true volume
    against 10.8×.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume ``(z, y, x)`` (or counts: see ``unit``).
    seed_zyx : sequence of int
        The clicked voxel.
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    fraction : float
        Position of the cut between background and SUVmax, in (0, 1); default 0.5.
    background : bool
        Correct for the local background (default); False: cut at ``fraction × SUVmax``.
    background_shell_mm : tuple of float
        Inner and outer radius of the background shell around the peak.
    search_mm : float
        How far from the click the peak may lie.
    max_radius_mm : float
        The VOI never extends further than this from the peak.
    exclude : numpy.ndarray, optional
        Boolean mask of voxels the VOI may not take (other VOIs).
    min_contrast : float, optional
        Refuse a peak below this multiple of the local background (with ``background``);
        default None: only a peak not above the background is refused.
    unit : str
        The image's unit, as refusals name it: ``"SUV"``, or ``"counts"`` for counts-only
        SPECT.

    Returns
    -------
    GrowResult
        The VOI, its peak, background, threshold and whether it hit the bound.

    Raises
    ------
    ValueError
        Click outside the volume or inside ``exclude``, bad ``fraction``, or no focal
        uptake (the peak is not above the background, or below ``min_contrast`` times it).
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie in (0, 1); got {fraction}")
    shape = np.asarray(suv.shape)
    seed = np.asarray(seed_zyx, dtype=int)
    if seed.shape != (3,) or np.any(seed < 0) or np.any(seed >= shape):
        raise ValueError(f"seed {tuple(seed_zyx)} lies outside the volume {tuple(shape)}")
    if exclude is not None and exclude[tuple(seed)]:
        raise ValueError(f"the click at {tuple(int(v) for v in seed)} lies inside another VOI")
    sp = _zyx_spacing(spacing)
    reach = max(max_radius_mm, background_shell_mm[1] if background else 0.0) + search_mm
    half = np.ceil(reach / sp).astype(int) + 2
    box = tuple(slice(max(p - h, 0), min(p + h + 1, n))
                for p, h, n in zip(seed, half, shape, strict=True))
    offset = np.array([b.start for b in box])
    crop = np.asarray(suv[box], dtype=np.float64)
    free = None if exclude is None else ~exclude[box]
    smooth = ndimage.gaussian_filter(crop, 1.0)
    top_smooth = _climb(smooth, seed - offset, sp, search_mm, free)
    lo = np.maximum(top_smooth - 1, 0)
    hi = np.minimum(top_smooth + 2, crop.shape)
    near = crop[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    if free is not None:
        near = np.where(free[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], near, -np.inf)
    local_peak = np.array(np.unravel_index(int(np.argmax(near)), near.shape)) + lo
    if crop[tuple(top_smooth)] >= crop[tuple(local_peak)]:     # ties: stay where we climbed
        local_peak = top_smooth
    top = float(crop[tuple(local_peak)])
    dist2 = _squared_distances((0, 0, 0), crop.shape, local_peak, sp)
    bg = 0.0
    if background:
        inner, outer = background_shell_mm
        shell = (dist2 >= inner**2) & (dist2 <= outer**2)
        bg = float(np.median(crop[shell])) if shell.any() else 0.0
    if not top > bg:
        raise ValueError(f"no focal uptake at the click {tuple(int(v) for v in seed)}: its "
                         f"peak {unit} {top:.3g} is not above the local background {bg:.3g}")
    if min_contrast is not None and background and top < min_contrast * bg:
        raise ValueError(
            f"no lesion to grow at the click {tuple(int(v) for v in seed)}: its peak {unit} "
            f"{top:.3g} is {top / bg:.2f}× the local background {bg:.3g} (median {unit} "
            f"{inner:g}-{outer:g} mm around the peak), below the minimum contrast "
            f"{min_contrast:g} (review.min_contrast). Normal tissue has no lesion to grow; "
            "for a faint lesion, draw its VOI by hand with the brush, or lower "
            "review.min_contrast in the parameters")
    threshold = bg + fraction * (top - bg)
    candidate = (crop >= threshold) & (dist2 <= max_radius_mm**2)
    if free is not None:
        candidate &= free
    regions, _ = ndimage.label(candidate, structure=np.ones((3, 3, 3), dtype=bool))
    region = regions == regions[tuple(local_peak)]
    rim = dist2 > (max_radius_mm - sp.max()) ** 2        # the outermost voxel layer
    mask = np.zeros(suv.shape, dtype=bool)
    mask[box] = region
    return GrowResult(mask=mask, peak=tuple(int(v) for v in local_peak + offset),
                      suv_max=top, background=bg, threshold=threshold,
                      touches_bound=bool((region & rim).any()))


def shell_mask(labels: np.ndarray, label: int, spacing: Sequence[float], *,
               gap_mm: float = 5.0, width_mm: float = 10.0, suv: np.ndarray | None = None,
               hot_above: float | None = None, min_suv: float | None = None,
               exclude_labels: Sequence[int] | None = None) -> np.ndarray:
    """A shell of surrounding normal tissue around one VOI (background for T/B).

    The shell holds the voxels whose distance from the VOI lies in
    ``(gap_mm, gap_mm + width_mm]``, minus every other labelled VOI grown by ``gap_mm``
    (other lesions and their spill-out), minus voxels hotter than ``hot_above`` (organs with
    high physiological uptake, e.g. spleen and kidneys on DOTATATE) and colder than
    ``min_suv`` (air outside the body).

    Parameters
    ----------
    labels : numpy.ndarray
        Label map ``(z, y, x)``.
    label : int
        The VOI the shell surrounds.
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    gap_mm, width_mm : float
        Distance of the shell from the VOI and its thickness.
    suv : numpy.ndarray, optional
        SUV volume; needed for ``hot_above`` and ``min_suv``.
    hot_above, min_suv : float, optional
        SUV limits of normal tissue.
    exclude_labels : sequence of int, optional
        Labels whose VOIs are removed from the shell; default every label but ``label``.

    Returns
    -------
    numpy.ndarray
        Boolean mask of the volume's shape (empty if the VOI is empty).
    """
    if gap_mm < 0 or width_mm <= 0:
        raise ValueError(f"need gap_mm >= 0 and width_mm > 0; got {gap_mm}, {width_mm}")
    if (hot_above is not None or min_suv is not None) and suv is None:
        raise ValueError("hot_above and min_suv need the SUV volume (suv=...)")
    sp = _zyx_spacing(spacing)
    voi = labels == label
    # the crop holds the shell and every voxel within gap_mm of it (other VOIs there count)
    reach = np.ceil((2 * gap_mm + width_mm) / sp).astype(int) + 1
    box = bounding_box(voi, reach)
    out = np.zeros(labels.shape, dtype=bool)
    if box is None:
        return out
    local = labels[box]
    dist = ndimage.distance_transform_edt(local != label, sampling=sp)
    shell = (dist > gap_mm) & (dist <= gap_mm + width_mm)
    others = (local != 0) & (local != label) if exclude_labels is None else np.isin(
        local, [v for v in exclude_labels if v != label])
    if others.any():
        if gap_mm > 0:
            near_other = ndimage.distance_transform_edt(~others, sampling=sp) <= gap_mm
        else:
            near_other = others
        shell &= ~near_other
    if suv is not None:
        values = suv[box]
        if hot_above is not None:
            shell &= values <= hot_above
        if min_suv is not None:
            shell &= values >= min_suv
    out[box] = shell
    return out
