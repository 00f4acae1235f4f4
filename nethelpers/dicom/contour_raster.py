"""Planar contours in patient coordinates onto a voxel grid (the rules an RTSTRUCT needs).

A region drawn on a workstation is a stack of closed polygons, each lying in one plane of
the image it was drawn on. This module turns such a stack into voxels of another grid of
the same frame of reference and orientation (the PET), with three rules:

In-plane: pixel centres and the even-odd rule
    A voxel belongs to the region when its *centre* lies inside. All polygons of one plane
    combine by the even-odd rule: a centre is inside when a ray from it crosses the
    polygons' edges an odd number of times, so a polygon inside another is a hole and an
    island inside a hole is filled again, whatever the order or orientation of the
    polygons (and "keyhole" outlines come out right too). A centre exactly on an edge is
    decided by the half-open crossing test (an edge counts for rows ``min(y) <= y <
    max(y)`` and crossings strictly left of the centre): the same edge shared by two
    adjacent polygons never puts a centre in both. Only the bounding box of a plane's
    polygons is scanned, one row at a time (a scanline fill), so the cost grows with the
    polygons' extent, not with the grid.

Through-plane: nearest contour plane
    Contours are grouped into *planes* (positions along the grid's slice normal within
    :data:`PLANE_TOLERANCE_MM` are one plane). Let ``d`` be the region's plane spacing: the
    smallest distance between two of its consecutive planes (for a single plane, the
    grid's slice spacing). A grid slice whose centre lies

    - within ``d/2`` of a plane (strictly), or
    - between two consecutive planes at most ``max_bridged_gap * d`` apart
      (:data:`MAX_BRIDGED_GAP`, i.e. a skipped plane: contours drawn on every other slice),

    takes the polygons of the *nearest* plane (on a tie, the lower plane, i.e. the one at
    the smaller position along the normal). Each plane thus stands for a slab of its own
    thickness ``d`` - the way a treatment-planning system computes a structure's volume -
    and sampling that slab stack at the grid's slice centres is nearest-neighbour
    resampling in z. Wider gaps are kept as gaps (two lesions in one structure are not
    joined). A single plane stands for one grid slice (``<= d/2``, so it never falls
    between two slices). A region drawn on every other slice only has ``d`` = twice the
    drawing slice spacing, so its first and last planes reach up to half a drawing slice
    further than drawn: the slice thickness of the drawing image is not in the contours.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "MAX_BRIDGED_GAP",
    "PLANE_TOLERANCE_MM",
    "Plane",
    "fill_even_odd",
    "group_planes",
    "slice_planes",
    "to_index",
    "voxel_slices",
]

#: Contour points may lie this far (mm) from their plane along the grid's slice normal;
#: contours whose positions differ by no more than this are on the same plane.
PLANE_TOLERANCE_MM = 0.1
#: Gaps between consecutive contour planes up to this many plane spacings are filled.
MAX_BRIDGED_GAP = 2.0
_TIE_MM = 1e-3            # distances closer than this to d/2 count as exactly d/2


@dataclass(frozen=True)
class Plane:
    """The polygons of one region on one plane parallel to the grid's slices.

    Attributes
    ----------
    position_mm : float
        Position along the grid's slice normal, in mm from the grid origin (slice ``k``
        has its centre at ``k * slice_spacing``).
    polygons : tuple of numpy.ndarray
        ``(n, 2)`` arrays of continuous ``(i, j)`` indices (column, row) of the vertices.
    """

    position_mm: float
    polygons: tuple[np.ndarray, ...]


def to_index(points_mm: np.ndarray, origin: Sequence[float], spacing: Sequence[float],
             direction: Sequence[float]) -> np.ndarray:
    """Patient coordinates (mm, LPS) to continuous ``(i, j, k)`` indices of a grid.

    Parameters
    ----------
    points_mm : numpy.ndarray
        ``(n, 3)`` points.
    origin, spacing : sequence of float
        The grid's origin (centre of voxel 0) and spacing, SimpleITK order.
    direction : sequence of float
        Row-major 3x3 matrix whose columns are the i, j, k unit vectors (SimpleITK).

    Returns
    -------
    numpy.ndarray
        ``(n, 3)`` continuous indices; integer values are voxel centres.
    """
    matrix = np.asarray(direction, dtype=float).reshape(3, 3)
    offset = np.asarray(points_mm, dtype=float) - np.asarray(origin, dtype=float)
    return (offset @ matrix) / np.asarray(spacing, dtype=float)


def group_planes(polygons: Sequence[np.ndarray], positions_mm: Sequence[float],
                 tolerance_mm: float = PLANE_TOLERANCE_MM) -> list[Plane]:
    """Group polygons by their position along the slice normal.

    Parameters
    ----------
    polygons : sequence of numpy.ndarray
        ``(n, 2)`` continuous ``(i, j)`` indices of each polygon.
    positions_mm : sequence of float
        Each polygon's position along the normal (mm from the grid origin).
    tolerance_mm : float
        Positions within this distance of the previous one join its plane.

    Returns
    -------
    list of Plane
        Sorted by position; a plane's position is the mean of its polygons'.
    """
    order = np.argsort(np.asarray(positions_mm, dtype=float), kind="stable")
    planes: list[Plane] = []
    group: list[int] = []
    for index in order.tolist():
        if group and positions_mm[index] - positions_mm[group[-1]] > tolerance_mm:
            planes.append(_plane(polygons, positions_mm, group))
            group = []
        group.append(index)
    if group:
        planes.append(_plane(polygons, positions_mm, group))
    return planes


def _plane(polygons: Sequence[np.ndarray], positions: Sequence[float],
           group: list[int]) -> Plane:
    return Plane(float(np.mean([positions[i] for i in group])),
                 tuple(polygons[i] for i in group))


def slice_planes(positions_mm: Sequence[float], slice_spacing: float, n_slices: int,
                 max_bridged_gap: float = MAX_BRIDGED_GAP) -> np.ndarray:
    """The plane each grid slice takes its polygons from (the through-plane rule).

    Parameters
    ----------
    positions_mm : sequence of float
        Sorted, distinct plane positions along the normal (mm from the grid origin).
    slice_spacing : float
        The grid's slice spacing (mm); slice ``k`` is centred at ``k * slice_spacing``.
    n_slices : int
        Number of grid slices.
    max_bridged_gap : float
        Gaps up to this many plane spacings are filled (see the module docstring).

    Returns
    -------
    numpy.ndarray
        ``(n_slices,)`` int: the index of the plane for each slice, -1 for none.
    """
    p = np.asarray(positions_mm, dtype=float)
    out = np.full(n_slices, -1, dtype=int)
    if p.size == 0 or n_slices == 0:
        return out
    z = np.arange(n_slices) * float(slice_spacing)
    upper = np.clip(np.searchsorted(p, z), 0, p.size - 1)
    lower = np.clip(upper - 1, 0, p.size - 1)
    take_lower = np.abs(z - p[lower]) <= np.abs(z - p[upper])
    nearest = np.where(take_lower, lower, upper)
    dist = np.abs(z - p[nearest])
    if p.size == 1:
        covered = dist <= 0.5 * slice_spacing + _TIE_MM
    else:
        gaps = np.diff(p)
        # the drawing plane spacing, never more than the grid's own: two planes far apart
        # are two drawings (two lesions in one structure), not one slab between them
        d = min(float(gaps.min()), float(slice_spacing))
        covered = dist < 0.5 * d - _TIE_MM
        left = np.searchsorted(p, z, side="right") - 1
        between = (left >= 0) & (left < p.size - 1)
        bridged = np.zeros(n_slices, dtype=bool)
        bridged[between] = gaps[left[between]] <= max_bridged_gap * d + _TIE_MM
        covered |= bridged
    out[covered] = nearest[covered]
    return out


def fill_even_odd(polygons: Sequence[np.ndarray], nx: int, ny: int
                  ) -> tuple[int, int, np.ndarray] | None:
    """Pixel centres inside a set of polygons by the even-odd rule (the in-plane rule).

    Parameters
    ----------
    polygons : sequence of numpy.ndarray
        ``(n, 2)`` continuous ``(i, j)`` indices of the vertices of each closed polygon
        (the last vertex joins the first).
    nx, ny : int
        Columns and rows of the grid slice.

    Returns
    -------
    (j0, i0, mask) or None
        ``mask[r, c]`` is pixel ``(i0 + c, j0 + r)``; None when no pixel centre of the
        grid lies inside the polygons' bounding box.
    """
    points = np.concatenate([np.asarray(p, dtype=float) for p in polygons])
    i0 = max(math.ceil(points[:, 0].min()), 0)
    i1 = min(math.floor(points[:, 0].max()), nx - 1)
    j0 = max(math.ceil(points[:, 1].min()), 0)
    j1 = min(math.floor(points[:, 1].max()), ny - 1)
    if i0 > i1 or j0 > j1:
        return None
    n_rows, n_cols = j1 - j0 + 1, i1 - i0 + 1
    rows, cols = [], []
    for poly in polygons:
        r, c = _crossings(np.asarray(poly, dtype=float), j0, j1, i0, n_cols)
        rows.append(r)
        cols.append(c)
    flat = np.concatenate(rows) * (n_cols + 1) + np.concatenate(cols)
    toggles = np.bincount(flat, minlength=n_rows * (n_cols + 1)).reshape(n_rows, n_cols + 1)
    inside = (np.cumsum(toggles, axis=1) & 1).astype(bool)
    return j0, i0, inside[:, :n_cols]


def _crossings(poly: np.ndarray, j0: int, j1: int, i0: int, n_cols: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """Row and first-toggled column of every edge/row crossing of one polygon.

    An edge crosses row ``y`` when ``min(y1, y2) <= y < max(y1, y2)``; the crossing at
    ``x`` toggles every pixel centre ``i > x``, i.e. from column ``floor(x) + 1``.
    """
    x1, y1 = poly[:, 0], poly[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    lo, hi = np.minimum(y1, y2), np.maximum(y1, y2)
    r_lo = np.maximum(np.ceil(lo), j0).astype(np.int64)
    r_hi = np.minimum(np.ceil(hi) - 1, j1).astype(np.int64)
    count = np.maximum(r_hi - r_lo + 1, 0)
    count[hi == lo] = 0                                    # horizontal edges never cross
    total = int(count.sum())
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    edge = np.repeat(np.arange(poly.shape[0]), count)
    start = np.cumsum(count) - count
    y = (r_lo[edge] + (np.arange(total) - start[edge])).astype(float)
    x = x1[edge] + (y - y1[edge]) * (x2[edge] - x1[edge]) / (y2[edge] - y1[edge])
    col = np.clip(np.floor(x).astype(np.int64) + 1 - i0, 0, n_cols)
    return y.astype(np.int64) - j0, col


def voxel_slices(planes: Sequence[Plane], size: Sequence[int], slice_spacing: float,
                 max_bridged_gap: float = MAX_BRIDGED_GAP
                 ) -> Iterator[tuple[int, int, int, np.ndarray]]:
    """The voxels of one region, slice by slice, as bounding-box masks.

    Parameters
    ----------
    planes : sequence of Plane
        The region's planes, sorted by position (:func:`group_planes`).
    size : sequence of int
        Grid size ``(nx, ny, nz)``, SimpleITK order.
    slice_spacing : float
        The grid's slice spacing (mm).
    max_bridged_gap : float
        See :func:`slice_planes`.

    Yields
    ------
    (k, j0, i0, mask)
        Slice ``k`` holds the region at ``[j0:j0 + mask.shape[0], i0:i0 + mask.shape[1]]``
        where ``mask`` is True; slices without a voxel are skipped.
    """
    nx, ny, nz = (int(v) for v in size)
    which = slice_planes([p.position_mm for p in planes], slice_spacing, nz, max_bridged_gap)
    filled: dict[int, tuple[int, int, np.ndarray] | None] = {}
    for k in np.flatnonzero(which >= 0).tolist():
        index = int(which[k])
        if index not in filled:
            filled[index] = fill_even_odd(planes[index].polygons, nx, ny)
        piece = filled[index]
        if piece is not None and piece[2].any():
            yield k, piece[0], piece[1], piece[2]
