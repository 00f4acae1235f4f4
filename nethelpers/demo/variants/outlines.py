"""Outlines of a 2-D mask along pixel edges, the way a workstation stores a drawn region.

:func:`mask_outlines` traces every boundary between mask and background pixels as closed
polygons whose vertices are pixel corners (half-integer indices): the outer boundary of
each 4-connected component and the boundary of each hole, as separate polygons. Filled
again by the pixel-centre and even-odd rules (:mod:`nethelpers.dicom.contour_raster`),
these polygons give back the mask exactly, because a pixel centre is inside the traced
polygons iff the pixel is in the mask, and no centre lies on an edge.

Where two mask pixels touch only at a corner, the trace keeps to the pixel it came along,
so diagonal neighbours get separate outlines that touch at that corner (the even-odd fill
does not depend on how the edges are chained into polygons, only viewers do).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

__all__ = ["circle", "mask_outlines"]


def _edges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed boundary edges: start corner, end corner (x, y) and the pixel of each.

    Corner ``(x, y)`` is the pixel corner at index ``(x - 0.5, y - 0.5)``. Edges run
    clockwise around mask pixels on screen (x right, y down): top left-to-right, right
    top-to-bottom, bottom right-to-left, left bottom-to-top.
    """
    m = np.pad(np.asarray(mask, dtype=bool), 1)
    core = m[1:-1, 1:-1]
    sides = (
        (core & ~m[:-2, 1:-1], (0, 0), (1, 0)),     # top
        (core & ~m[1:-1, 2:], (1, 0), (1, 1)),      # right
        (core & ~m[2:, 1:-1], (1, 1), (0, 1)),      # bottom
        (core & ~m[1:-1, :-2], (0, 1), (0, 0)),     # left
    )
    starts, ends, pixels = [], [], []
    nx = mask.shape[1]
    for where, (sx, sy), (ex, ey) in sides:
        j, i = np.nonzero(where)
        starts.append(np.c_[i + sx, j + sy])
        ends.append(np.c_[i + ex, j + ey])
        pixels.append(j * nx + i)
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(pixels)


def _simplify(loop: np.ndarray) -> np.ndarray:
    """Drop vertices where the outline goes straight on."""
    before = loop - np.roll(loop, 1, axis=0)
    after = np.roll(loop, -1, axis=0) - loop
    turn = before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0]
    return loop[turn != 0]


def mask_outlines(mask: np.ndarray) -> list[np.ndarray]:
    """Closed pixel-edge outlines of a 2-D mask, holes included.

    Parameters
    ----------
    mask : numpy.ndarray
        ``(ny, nx)`` boolean mask, indexed ``[j, i]``.

    Returns
    -------
    list of numpy.ndarray
        ``(n, 2)`` float arrays of ``(i, j)`` indices of the corners of each closed
        outline (the last vertex joins the first), at half-integers; outer boundaries and
        holes run in opposite senses.
    """
    starts, ends, pixels = _edges(mask)
    outgoing: dict[tuple[int, int], list[int]] = defaultdict(list)
    for e, (x, y) in enumerate(starts.tolist()):
        outgoing[(x, y)].append(e)
    used = np.zeros(len(starts), dtype=bool)
    loops = []
    for first in range(len(starts)):
        if used[first]:
            continue
        vertices, e = [], first
        while not used[e]:
            used[e] = True
            vertices.append(starts[e])
            options = outgoing[tuple(ends[e].tolist())]
            if len(options) > 1:           # corner touch: keep to the same pixel
                options = [o for o in options if pixels[o] == pixels[e]] or options
            e = options[0]
        loops.append(_simplify(np.asarray(vertices, dtype=float)) - 0.5)
    return loops


def circle(center: tuple[float, float], radius: float, n_points: int = 128) -> np.ndarray:
    """A regular polygon inscribed in a circle.

    Parameters
    ----------
    center : tuple of float
        Centre ``(u, v)``.
    radius : float
        Circumradius.
    n_points : int
        Number of vertices.

    Returns
    -------
    numpy.ndarray
        ``(n_points, 2)`` vertices.
    """
    angle = np.linspace(0.0, 2.0 * np.pi, n_points, endpoint=False)
    return np.c_[center[0] + radius * np.cos(angle), center[1] + radius * np.sin(angle)]
