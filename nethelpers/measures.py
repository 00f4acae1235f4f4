"""Uptake measures of one VOI: SUVmax, SUVmean, SUVpeak, volume, MTV, TLA.

Definitions (quoted by the report):

- **SUVmax**: the hottest voxel of the VOI.
- **SUVmean**, **SD**: mean and sample standard deviation (ddof = 1) of the VOI's voxels.
- **SUVpeak** (PERCIST, IBSI "global intensity peak"): the highest mean over a sphere of
  1 cm³ (radius 6.2035 mm) centred on a voxel of the VOI; the sphere holds every image voxel
  whose centre lies within the radius, whether or not it belongs to the VOI, and voxels
  beyond the image edge are left out of the mean. Only the VOI's bounding box is searched.
  SUVpeak can therefore exceed the VOI's SUVmax when a hotter structure lies within 6.2 mm
  of the edge of a small VOI (a small bone lesion beside the bladder).
- **Volume**: number of voxels × voxel volume, in ml.
- **MTV**: volume of the VOI's voxels ``>=`` a threshold: 41 % of the VOI's SUVmax (EANM),
  or the PERCIST liver threshold ``1.5 × liver mean + 2 × liver SD``. The threshold is a
  linear function of the image, so MTV is the same in SUV and SUL.
- **TLA** (total lesion activity; TLG on FDG) = SUVmean of the MTV voxels × MTV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nethelpers.voi import ball_offsets, bounding_box

__all__ = [
    "PEAK_RADIUS_MM",
    "VoiStats",
    "percist_threshold",
    "suv_peak",
    "threshold_volume",
    "voi_stats",
    "voxel_volume_ml",
]

#: Radius of a 1 cm³ sphere: (3 / (4 pi))^(1/3) cm.
PEAK_RADIUS_MM = 10.0 * (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0)


def voxel_volume_ml(spacing: Sequence[float]) -> float:
    """Volume of one voxel in ml from its ``(sx, sy, sz)`` spacing in mm."""
    return float(np.prod(np.asarray(spacing, dtype=float))) / 1000.0


@dataclass(frozen=True)
class VoiStats:
    """Voxel statistics of one VOI.

    Attributes
    ----------
    n_voxels : int
        Voxels in the VOI.
    volume_ml : float
        Its volume.
    suv_max, suv_mean, suv_sd : float
        Hottest voxel, mean, sample SD (NaN for fewer than two voxels).
    max_index : tuple of int
        ``(z, y, x)`` of the hottest voxel (the first in C order on ties).
    """

    n_voxels: int
    volume_ml: float
    suv_max: float
    suv_mean: float
    suv_sd: float
    max_index: tuple[int, int, int]


def voi_stats(suv: np.ndarray, mask: np.ndarray, spacing: Sequence[float]) -> VoiStats:
    """SUVmax, SUVmean, SD and volume of a VOI.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV (or SUL) volume ``(z, y, x)``.
    mask : numpy.ndarray
        Boolean VOI of the same shape.
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.

    Returns
    -------
    VoiStats
        Statistics in float64.

    Raises
    ------
    ValueError
        Empty VOI or shapes that differ.
    """
    if suv.shape != mask.shape:
        raise ValueError(f"VOI shape {mask.shape} differs from the image's {suv.shape}")
    box = bounding_box(mask)
    if box is None:
        raise ValueError("the VOI is empty")
    local = mask[box]
    values = suv[box][local].astype(np.float64)
    k = int(np.argmax(values))
    where = np.argwhere(local)[k]
    return VoiStats(
        n_voxels=int(values.size),
        volume_ml=values.size * voxel_volume_ml(spacing),
        suv_max=float(values[k]),
        suv_mean=float(values.mean()),
        suv_sd=float(values.std(ddof=1)) if values.size > 1 else float("nan"),
        max_index=tuple(int(s.start + w) for s, w in zip(box, where, strict=True)),
    )


def suv_peak(suv: np.ndarray, mask: np.ndarray, spacing: Sequence[float],
             radius_mm: float = PEAK_RADIUS_MM) -> tuple[float, tuple[int, int, int]]:
    """SUVpeak: the highest mean of a sphere of ``radius_mm`` centred in the VOI.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume ``(z, y, x)``.
    mask : numpy.ndarray
        Boolean VOI; sphere centres are its voxels.
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    radius_mm : float
        Default 6.2035 mm (1 cm³).

    Returns
    -------
    float
        SUVpeak.
    tuple of int
        ``(z, y, x)`` of the sphere centre (the first in C order on ties).

    Raises
    ------
    ValueError
        Empty VOI or shapes that differ.

    Notes
    -----
    The sphere means are sums over the ball's voxel offsets, gathered at the VOI voxels only
    (cost: VOI voxels × ball voxels), in float64, over the VOI's bounding box grown by the
    ball radius; outside the image nothing is added and the divisor counts only voxels
    inside the image.
    """
    if suv.shape != mask.shape:
        raise ValueError(f"VOI shape {mask.shape} differs from the image's {suv.shape}")
    offsets = ball_offsets(spacing, radius_mm)
    reach = np.abs(offsets).max(axis=0)
    box = bounding_box(mask, reach)
    if box is None:
        raise ValueError("the VOI is empty")
    local = suv[box].astype(np.float64)
    pad = [(int(r), int(r)) for r in reach]
    padded = np.pad(local, pad)
    inside = np.pad(np.ones(local.shape, dtype=np.float64), pad)
    centres = np.argwhere(mask[box]) + reach
    total = np.zeros(len(centres))
    count = np.zeros(len(centres))
    flat = padded.ravel()
    flat_inside = inside.ravel()
    strides = np.array([padded.shape[1] * padded.shape[2], padded.shape[2], 1])
    base = centres @ strides
    for off in offsets @ strides:
        total += flat[base + off]
        count += flat_inside[base + off]
    means = total / count
    k = int(np.argmax(means))
    centre = tuple(int(s.start + c - r)
                   for s, c, r in zip(box, centres[k], reach, strict=True))
    return float(means[k]), centre


def threshold_volume(suv: np.ndarray, mask: np.ndarray, threshold: float) -> np.ndarray:
    """The voxels of a VOI at or above a threshold (the metabolic/molecular tumour volume).

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume.
    mask : numpy.ndarray
        Boolean VOI.
    threshold : float
        SUV cut (inclusive).

    Returns
    -------
    numpy.ndarray
        Boolean mask, a subset of ``mask``.
    """
    return mask & (suv >= threshold)


def percist_threshold(liver_mean: float, liver_sd: float, *, mean_factor: float = 1.5,
                      sd_factor: float = 2.0) -> float:
    """The PERCIST 1.0 liver threshold: ``1.5 × liver mean + 2 × liver SD`` (Wahl 2009).

    Parameters
    ----------
    liver_mean, liver_sd : float
        Mean and SD of the 3 cm liver reference sphere.
    mean_factor, sd_factor : float
        The factors (PERCIST's 1.5 and 2).

    Returns
    -------
    float
        The threshold, in the unit of the inputs.
    """
    if not (np.isfinite(liver_mean) and np.isfinite(liver_sd)):
        return float("nan")
    return mean_factor * liver_mean + sd_factor * liver_sd
