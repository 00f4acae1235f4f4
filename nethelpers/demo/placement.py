"""Random points in regions of the phantom: lesion centres and reference-sphere centres.

:func:`place_point` draws a point inside one of a list of shapes, ``margin`` mm inside its
surface (semi-axes shrunk by ``margin``) and clear of spheres already placed. It first tries
rejection sampling (:func:`point_in`, the draw every demo made so far: a study that generated
before generates the same), then, when the region is crowded (a small organ next to large
lesions), every point of a fine grid over the region (:func:`grid_point`): a point is found
whenever the region holds one, so every seed generates. When the region holds none (it is
full), :class:`PlacementError` says so; the caller decides what to leave out.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nethelpers.demo.anatomy import Cylinder, Ellipsoid, Shape

__all__ = ["PlacementError", "grid_point", "place_point", "point_in", "shrunk"]

#: Grid points tried by :func:`grid_point` (the step follows from the region's volume).
GRID_POINTS = 60_000
#: Finest grid step (mm) of :func:`grid_point`.
MIN_STEP_MM = 0.25


class PlacementError(RuntimeError):
    """No point of the region lies ``margin`` inside it and clear of the placed spheres."""


def shrunk(shape: Shape, margin: float) -> Shape:
    """``shape`` with its semi-axes (and a cylinder's ends) moved ``margin`` mm inwards.

    A point of the result is about ``margin`` inside ``shape`` (exactly on the axes;
    up to a few mm less on the flanks of an elongated ellipsoid). Semi-axes never go
    below 0.5 mm.
    """
    if isinstance(shape, Ellipsoid):
        return Ellipsoid(shape.tissue, shape.center,
                         tuple(max(a - margin, 0.5) for a in shape.semi))
    return Cylinder(shape.tissue, shape.center_xy,
                    tuple(max(a - margin, 0.5) for a in shape.semi_xy),
                    shape.z0 + margin, shape.z1 - margin)


def _clear(points: np.ndarray, avoid: list[Ellipsoid], clearance: float) -> np.ndarray:
    """Which of ``points`` (n, 3) lie farther than radius + ``clearance`` from every sphere."""
    ok = np.ones(len(points), dtype=bool)
    for sphere in avoid:
        distance = np.linalg.norm(points - np.asarray(sphere.center), axis=1)
        ok &= distance > sphere.semi[0] + clearance
    return ok


def point_in(shapes: list[Shape], rng: np.random.Generator, margin: float = 0.0,
             avoid: list[Ellipsoid] | None = None, clearance: float = 0.0,
             tries: int = 2000) -> np.ndarray:
    """Draw a point inside one of ``shapes`` at least ``margin`` mm inside its surface.

    Rejection sampling only: see :func:`place_point` for a draw that cannot fail while the
    region has room.

    Parameters
    ----------
    shapes : list of Shape
        Candidate regions (one is chosen at random, weighted by bounding-box volume).
    rng : numpy.random.Generator
        Random source.
    margin : float
        Minimal distance to the shape's surface (approximate for ellipsoids: semi-axes are
        shrunk by ``margin``, see :func:`shrunk`).
    avoid : list of Ellipsoid, optional
        Spheres (lesions already placed) the point must keep ``clearance`` plus their radius
        from.
    clearance : float
        Extra distance to the ``avoid`` spheres (e.g. the new lesion's radius plus a gap).
    tries : int
        Rejection-sampling attempts before giving up.

    Returns
    -------
    numpy.ndarray
        ``(3,)`` body-frame point.

    Raises
    ------
    PlacementError
        No point found in ``tries`` attempts.
    """
    centres = np.array([o.center for o in avoid or []], dtype=float).reshape(-1, 3)
    reach = np.array([o.semi[0] + clearance for o in avoid or []], dtype=float)
    vols = np.array([np.prod(np.subtract(*s.bounds()[::-1])) for s in shapes])
    weights = vols / vols.sum()
    boxes = [s.bounds() for s in shapes]
    inner = [shrunk(s, margin) for s in shapes]
    for _ in range(tries):
        n = rng.choice(len(shapes), p=weights)
        p = rng.uniform(*boxes[n])
        if inner[n].contains(*p) and np.all(np.linalg.norm(p - centres, axis=1) > reach):
            return p
    raise PlacementError(f"could not place a point in the requested region in {tries} tries")


def grid_point(shapes: list[Shape], rng: np.random.Generator, margin: float = 0.0,
               avoid: list[Ellipsoid] | None = None, clearance: float = 0.0,
               accept: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """A point drawn among every point of a fine grid that meets :func:`point_in`'s rules.

    The grid covers the shrunk shapes' bounding boxes with about :data:`GRID_POINTS`
    points (step at least :data:`MIN_STEP_MM`); one of the points inside a shrunk shape,
    clear of ``avoid`` and passing ``accept`` is chosen with ``rng``.

    Parameters
    ----------
    shapes, rng, margin, avoid, clearance
        As in :func:`point_in`.
    accept : callable, optional
        A further rule: ``(n, 3)`` points → ``(n,)`` booleans.

    Returns
    -------
    numpy.ndarray
        ``(3,)`` body-frame point.

    Raises
    ------
    PlacementError
        The region holds no such point (it is full).
    """
    inner = [shrunk(s, margin) for s in shapes]
    boxes = [s.bounds() for s in inner]
    volume = sum(float(np.prod(np.maximum(hi - lo, 0.0))) for lo, hi in boxes)
    step = max(MIN_STEP_MM, (volume / GRID_POINTS) ** (1.0 / 3.0))
    found = []
    for s, (lo, hi) in zip(inner, boxes, strict=True):
        axes = [np.arange(a + step / 2.0, b, step) for a, b in zip(lo, hi, strict=True)]
        if any(len(a) == 0 for a in axes):
            axes = [np.array([(a + b) / 2.0]) for a, b in zip(lo, hi, strict=True)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
        points = points[s.contains(points[:, 0], points[:, 1], points[:, 2])]
        found.append(points[_clear(points, avoid or [], clearance)])
    candidates = np.concatenate(found)
    if accept is not None and len(candidates):
        candidates = candidates[np.asarray(accept(candidates), dtype=bool)]
    if not len(candidates):
        raise PlacementError(
            f"no room: no point {margin:g} mm inside the region is {clearance:g} mm clear of "
            f"the {len(avoid or [])} sphere(s) already placed")
    return candidates[int(rng.integers(len(candidates)))].copy()


def place_point(shapes: list[Shape], rng: np.random.Generator, margin: float = 0.0,
                avoid: list[Ellipsoid] | None = None, clearance: float = 0.0) -> np.ndarray:
    """:func:`point_in`, and :func:`grid_point` when rejection sampling finds nothing.

    Parameters
    ----------
    shapes, rng, margin, avoid, clearance
        As in :func:`point_in`.

    Returns
    -------
    numpy.ndarray
        ``(3,)`` body-frame point.

    Raises
    ------
    PlacementError
        The region holds no such point.
    """
    try:
        return point_in(shapes, rng, margin=margin, avoid=avoid, clearance=clearance)
    except PlacementError:
        return grid_point(shapes, rng, margin=margin, avoid=avoid, clearance=clearance)
