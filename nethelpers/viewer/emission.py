"""The unit and window of an emission image: SUV (PET, quantitative SPECT) or counts.

Counts-only SPECT has no activity calibration, so it is never shown as SUV: its window comes
from the scan's own counts (:func:`counts_window`), and its colour bar and the value under the
cursor say "counts" (:func:`value_unit`). PET and quantitative SPECT take the SUV window of
their tracer (:func:`emission_limits`). Pure numpy/SimpleITK: no Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

if TYPE_CHECKING:
    from nethelpers.viewer.display import DisplaySettings

__all__ = ["COUNTS_LABEL", "COUNTS_LOWER_FRACTION", "COUNTS_UPPER_PERCENTILE", "SUV_LABEL",
           "counts_window", "emission_limits", "mip_limits", "value_unit"]

#: The label of the colour bar and of PET values under the cursor.
SUV_LABEL = "SUV"
#: The label of counts-only SPECT values (no activity calibration: never SUV).
COUNTS_LABEL = "counts"
#: Counts-only SPECT window: its upper end is this percentile of the voxels above zero ...
COUNTS_UPPER_PERCENTILE = 99.5
#: ... and the fused SPECT is transparent at and below this fraction of the upper end.
COUNTS_LOWER_FRACTION = 0.1


def value_unit(images: Any) -> str:
    """What the emission image's values are: ``"SUV"`` or ``"counts"`` (counts-only SPECT).

    Parameters
    ----------
    images : nethelpers.review.ScanImages
        The scan (its ``quantity``; an object without one is SUV).
    """
    return COUNTS_LABEL if getattr(images, "quantity", SUV_LABEL) == COUNTS_LABEL else SUV_LABEL


def counts_window(array: np.ndarray, upper_percentile: float = COUNTS_UPPER_PERCENTILE,
                  lower_fraction: float = COUNTS_LOWER_FRACTION,
                  max_samples: int = 2_000_000) -> tuple[float, float]:
    """A counts-only SPECT window from the scan's own counts.

    Parameters
    ----------
    array : numpy.ndarray
        The counts volume.
    upper_percentile : float
        The upper end: this percentile of the voxels above zero (the body; hot organs and
        the bladder lie above it).
    lower_fraction : float
        The lower end (transparent at and below) as a fraction of the upper end.
    max_samples : int
        Voxels used at most (every n-th voxel of a larger volume).

    Returns
    -------
    tuple of float
        ``(lower, upper)`` counts; ``(0, 1)`` for a volume without a voxel above zero.
    """
    flat = np.asarray(array).reshape(-1)
    sample = flat[::max(1, flat.size // max_samples)]
    sample = sample[np.isfinite(sample) & (sample > 0)]
    if sample.size == 0:
        return (0.0, 1.0)
    upper = float(np.percentile(sample, upper_percentile))
    if not upper > 0:
        upper = float(sample.max())
    return (lower_fraction * upper, upper)


def emission_limits(images: Any, settings: DisplaySettings) -> tuple[float, float]:
    """The fused window ``(lower, upper)`` of a scan, in its own unit (:func:`value_unit`).

    PET and quantitative SPECT: the SUV window of the tracer (:meth:`DisplaySettings.
    suv_limits`); counts-only SPECT: :func:`counts_window` of its counts.
    """
    if value_unit(images) == SUV_LABEL:
        return settings.suv_limits(images.job.tracer)
    return counts_window(sitk.GetArrayViewFromImage(images.pet),
                         settings.counts_upper_percentile, settings.counts_lower_fraction)


def mip_limits(images: Any, settings: DisplaySettings) -> tuple[float, float]:
    """The inverted-grey MIP window ``(0, upper)`` of a scan, in its own unit.

    PET and quantitative SPECT: :meth:`DisplaySettings.mip_limits` of the tracer (SUV);
    counts-only SPECT: 0 to the upper end of its :func:`counts_window` (an SUV window of a
    few units would turn every voxel of the body black).
    """
    if value_unit(images) == SUV_LABEL:
        return settings.mip_limits(images.job.tracer)
    return (0.0, emission_limits(images, settings)[1])
