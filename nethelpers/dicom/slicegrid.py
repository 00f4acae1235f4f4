"""Slice positions as scanners write them: placed on a uniform grid, or refused with the reason.

A series is a volume only when its slices, sorted along the slice normal, lie on a uniform
grid. Scanners round: a GE multi-bed PET writes 3.27 mm steps with 3.19/3.29 mm at the bed
boundaries, every slice within 0.04 mm of a uniform grid. Such a series is accepted: its
slices are placed on the least-squares uniform grid (slice ``k`` at ``first + k·step``) when
every slice lies within ``tolerance × step`` of it, and the largest deviation is reported
(provenance, index QC ``warn``). What is not rounding is refused, each with its own reason:

============  ================================================================================
kind          what was found
============  ================================================================================
duplicate     two slices at the same position (copies, or several acquisitions in one series)
overlap       a step under half the spacing: overlapping bed positions that were not merged
missing       a step of about two or more spacings: files are missing
non-uniform   steps that fit no uniform grid within the tolerance (a real gap, mixed series)
============  ================================================================================

A series whose steps, and every slice's distance from ``first + k · median step``, agree to
``max(1 µm, 1 % of the step)`` (every series written by a tool that does not round) keeps
the geometry it always had: the first slice's position as origin and the median step, bit
for bit. Small steps that add up (positions rounded to 0.01 mm over hundreds of slices) are
not regular: they get the least-squares grid, or a refusal, like any other rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_SLICE_TOLERANCE",
    "DUPLICATE_MM",
    "SliceGrid",
    "SliceGridError",
    "fit_slices",
]

#: Largest deviation of a slice from the uniform grid, as a fraction of the slice spacing.
DEFAULT_SLICE_TOLERANCE = 0.10
#: Slices closer than this along the normal (mm) are at the same position.
DUPLICATE_MM = 1e-3
#: Steps within max(this mm, this fraction of the step) of the median are exactly regular.
_EXACT_MM = 1e-3
_EXACT_FRACTION = 0.01
#: A step below this fraction of the spacing is an overlap; above MISSING_FACTOR, a gap.
_OVERLAP_FRACTION = 0.5
_MISSING_FACTOR = 1.5


class SliceGridError(ValueError):
    """Slice positions that do not form one volume.

    Attributes
    ----------
    kind : str
        ``duplicate``, ``overlap``, ``missing`` or ``non-uniform``.
    index : int
        Position in sorted order of the slice *after* the first problem (the file to name).
    problem : str
        What was found, with the distances in mm.
    fix : str
        What the user can do, true for this kind.
    """

    def __init__(self, kind: str, index: int, problem: str, fix: str) -> None:
        self.kind = kind
        self.index = index
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} Fix: {fix}")


@dataclass(frozen=True)
class SliceGrid:
    """Where the slices of a series are placed.

    Attributes
    ----------
    order : numpy.ndarray
        Indices that sort the input positions along the normal (ascending).
    positions : numpy.ndarray
        The measured positions along the normal, sorted (mm).
    first : float
        Position of slice 0 on the grid (mm along the normal).
    step : float
        Slice spacing (mm).
    max_deviation_mm : float
        Largest distance of a measured position from its grid position.
    tolerance : float
        The tolerance used, as a fraction of the spacing.
    regular : bool
        The steps were exactly regular (no placement needed).
    """

    order: np.ndarray
    positions: np.ndarray
    first: float
    step: float
    max_deviation_mm: float
    tolerance: float
    regular: bool

    @property
    def placed(self) -> bool:
        """True when slices were moved onto the grid (scanner rounding)."""
        return not self.regular

    def origin(self, first_position: np.ndarray, normal: np.ndarray) -> np.ndarray:
        """The grid's origin: the first slice's ImagePositionPatient moved onto the grid.

        Parameters
        ----------
        first_position : numpy.ndarray
            ImagePositionPatient of the first slice in sorted order.
        normal : numpy.ndarray
            The slice normal.

        Returns
        -------
        numpy.ndarray
            Unchanged (bit for bit) for a regular series.
        """
        return np.asarray(first_position, float) + (self.first - self.positions[0]) * normal

    def note(self) -> str:
        """One sentence for warnings and QC, empty for a regular series."""
        if self.regular:
            return ""
        return (f"slice positions deviate up to {self.max_deviation_mm:.3f} mm "
                f"({100 * self.max_deviation_mm / self.step:.1f} % of the {self.step:.4g} mm "
                "spacing) from a uniform grid and were placed on it (tolerance "
                f"{100 * self.tolerance:g} %)")

    def provenance(self) -> dict[str, float | bool]:
        """The facts of the placement, for a provenance record."""
        return {"placed_on_uniform_grid": self.placed, "step_mm": self.step,
                "max_deviation_mm": self.max_deviation_mm,
                "tolerance_fraction": self.tolerance}


def _check_tolerance(tolerance: float) -> None:
    if not 0 <= tolerance < 0.5:
        raise ValueError(f"slice tolerance {tolerance!r} must be a fraction of the spacing "
                         "in [0, 0.5)")


def fit_slices(along: np.ndarray, tolerance: float = DEFAULT_SLICE_TOLERANCE) -> SliceGrid:
    """Sort slice positions along the normal and place them on a uniform grid.

    Parameters
    ----------
    along : numpy.ndarray
        Each slice's ImagePositionPatient projected on the slice normal (mm), in file order;
        at least two.
    tolerance : float
        Largest accepted deviation from the uniform grid, as a fraction of the spacing.

    Returns
    -------
    SliceGrid

    Raises
    ------
    SliceGridError
        Duplicate positions, overlapping beds, missing slices or spacing that is not
        uniform within the tolerance.
    """
    _check_tolerance(tolerance)
    along = np.asarray(along, dtype=float)
    if along.size < 2:
        raise ValueError("fit_slices needs at least two slices")
    order = np.argsort(along, kind="stable")
    pos = along[order]
    steps = np.diff(pos)
    dup = np.flatnonzero(steps < DUPLICATE_MM)
    if len(dup):
        k = int(dup[0])
        raise SliceGridError(
            "duplicate", k + 1,
            f"two slices at the same position ({pos[k]:.3f} mm); the series holds "
            "duplicates or several acquisitions",
            "remove the duplicate files, or split the acquisitions (AcquisitionNumber, "
            "AcquisitionTime) into separate series")
    step = float(np.median(steps))
    exact = max(_EXACT_MM, _EXACT_FRACTION * step)
    drift = float(np.max(np.abs(pos - pos[0] - step * np.arange(len(pos)))))
    if np.all(np.abs(steps - step) <= exact) and drift <= exact:
        return SliceGrid(order=order, positions=pos, first=float(pos[0]), step=step,
                         max_deviation_mm=drift, tolerance=tolerance, regular=True)
    over = np.flatnonzero(steps < _OVERLAP_FRACTION * step)
    if len(over):
        k = int(over[0])
        raise SliceGridError(
            "overlap", k + 1,
            f"slices overlap: {steps[k]:.3f} mm between two slices at {pos[k]:.2f} mm, "
            f"{step:.3f} mm elsewhere (overlapping bed positions that were not merged?)",
            "export the reconstructed (merged) whole-body series, or split the bed "
            "positions into separate series")
    gaps = np.flatnonzero(steps > _MISSING_FACTOR * step)
    if len(gaps):
        k = int(gaps[0])
        missing = int(round(steps[k] / step)) - 1
        raise SliceGridError(
            "missing", k + 1,
            f"{'a slice is' if missing == 1 else f'about {missing} slices are'} missing: "
            f"{steps[k]:.3f} mm between slices at {pos[k]:.2f} and {pos[k + 1]:.2f} mm, "
            f"{step:.3f} mm elsewhere",
            "restore the missing files from the archive (or re-export the series)")
    index = np.arange(len(pos), dtype=float)
    fit_step, first = np.polyfit(index, pos, 1)
    deviation = pos - (first + fit_step * index)
    worst = int(np.argmax(np.abs(deviation)))
    max_dev = float(abs(deviation[worst]))
    if max_dev > tolerance * fit_step:
        raise SliceGridError(
            "non-uniform", worst,
            f"non-uniform spacing: steps from {steps.min():.3f} to {steps.max():.3f} mm; the "
            f"slice at {pos[worst]:.2f} mm is {max_dev:.3f} mm "
            f"({100 * max_dev / fit_step:.1f} % of the {fit_step:.3f} mm spacing) off a "
            f"uniform grid, beyond the {100 * tolerance:g} % tolerance",
            "if this is scanner rounding, raise the slice tolerance (slice_tolerance= in "
            f"Python, --slice-tolerance on the command line) above {max_dev / fit_step:.2f}; "
            "otherwise the series is not one regular volume: resample it onto a uniform "
            "grid before loading")
    return SliceGrid(order=order, positions=pos, first=float(first), step=float(fit_step),
                     max_deviation_mm=max_dev, tolerance=tolerance, regular=False)
