"""Display settings of a reading: PET/CT(MR) fusion, window presets, colour bar, cursor values.

Pure logic (numpy, SimpleITK, matplotlib's colour tables): no Qt, no napari, so every number
a reader sees is tested without a screen. The Qt views (:mod:`nethelpers.viewer._qt`) turn
these settings into napari layers.

Fusion
------
The anatomy is drawn opaque in grey; the PET is drawn *over* it by alpha blending
(``translucent``) with its own opacity and a colour map whose lowest entry is transparent:
every voxel at or below the lower SUV limit shows the anatomy alone, every voxel above it the
PET colour at the PET opacity. (Additive blending of a colour map over a mid-grey CT washes
the fusion out: the grey adds to every colour.)

* CT windows: width/level presets in HU (:data:`CT_WINDOWS`: soft tissue, liver, bone, lung).
* MR windows: percentiles of the MR voxels above zero (:data:`MR_PRESETS`), so an MR in any
  unit has presets.
* PET window: ``lower - upper`` SUV; the default upper limit by tracer is
  :func:`nethelpers.plots.style.suv_window` (the one default of the project's figures).
* PET alone (the MIP): inverted grey (white background, hot = black), ``0 - upper`` SUV.
* SPECT: quantitative SPECT as PET (SUV); counts-only SPECT in its own counts window, its bar
  and cursor saying "counts" (:mod:`nethelpers.viewer.emission`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.plots.style import suv_window
from nethelpers.viewer.emission import (
    COUNTS_LOWER_FRACTION,
    COUNTS_UPPER_PERCENTILE,
    SUV_LABEL,
    counts_window,
    emission_limits,
    value_unit,
)
from nethelpers.viewer.layers import CT_WINDOWS as _BASE_CT_WINDOWS
from nethelpers.viewer.layers import MR_PERCENTILES, PET_COLORMAP, window_limits, world_to_index

__all__ = [
    "CT_WINDOWS",
    "ColourBar",
    "DisplaySettings",
    "MR_PRESETS",
    "anatomy_window",
    "colour_bar",
    "counts_window",
    "cursor_text",
    "cursor_values",
    "emission_limits",
    "fusion_rgba",
    "inverted_grey_rgba",
    "mr_percentile_window",
    "nice_ticks",
    "presets_for",
    "value_unit",
]

#: CT windows: name -> (width, level) in HU; "liver" is the narrow abdominal window.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "soft tissue": _BASE_CT_WINDOWS["soft tissue"],
    "liver": (150.0, 60.0),
    "bone": _BASE_CT_WINDOWS["bone"],
    "lung": _BASE_CT_WINDOWS["lung"],
}
#: MR windows: name -> (low, high) percentiles of the voxels above zero.
MR_PRESETS: dict[str, tuple[float, float]] = {
    "auto": MR_PERCENTILES,
    "wide": (0.5, 99.9),
    "narrow": (5.0, 95.0),
}
#: PET colour map of the fusion (a matplotlib name; the review's) and its opacity.
PET_FUSION_COLORMAP = PET_COLORMAP
PET_FUSION_OPACITY = 0.7
#: Fraction of the PET window over which the fused colour fades in from transparent.
PET_ALPHA_RAMP = 0.2
#: SUV at and below which the fused PET is transparent (the anatomy shows alone).
PET_LOWER_SUV = 1.0
#: Entries of a colour table.
COLOUR_TABLE_SIZE = 256
#: Most ticks on the colour bar.
COLOUR_BAR_TICKS = 6


@dataclass(frozen=True)
class DisplaySettings:
    """How a scan is shown (every number a parameter with one default).

    Attributes
    ----------
    ct_preset : str
        CT window, a key of ``ct_windows``.
    ct_windows : dict
        name -> (width, level) HU.
    mr_preset : str
        MR window, a key of ``mr_presets``.
    mr_presets : dict
        name -> (low, high) percentiles of the MR voxels above zero.
    pet_colormap : str
        matplotlib colour map of the fused PET.
    pet_alpha_ramp : float
        Fraction of the SUV window (from its lower end) over which the fused PET fades in
        from transparent to opaque (0: a sharp threshold).
    pet_opacity : float
        Opacity of the fused PET over the anatomy (0-1).
    suv_lower : float
        SUV at and below which the fused PET is transparent.
    suv_upper : float or None
        Upper SUV of the PET window; None: by tracer (:func:`suv_window`).
    mip_suv_upper : float or None
        Upper SUV of the inverted-grey MIP; None: the PET window's.
    colour_bar_ticks : int
        Most ticks on the SUV colour bar.
    counts_upper_percentile, counts_lower_fraction : float
        Counts-only SPECT window: upper percentile of the voxels > 0, transparent fraction.
    """

    ct_preset: str = "soft tissue"
    ct_windows: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(CT_WINDOWS))
    mr_preset: str = "auto"
    mr_presets: dict[str, tuple[float, float]] = field(
        default_factory=lambda: dict(MR_PRESETS))
    pet_colormap: str = PET_FUSION_COLORMAP
    pet_alpha_ramp: float = PET_ALPHA_RAMP
    pet_opacity: float = PET_FUSION_OPACITY
    suv_lower: float = PET_LOWER_SUV
    suv_upper: float | None = None
    mip_suv_upper: float | None = None
    colour_bar_ticks: int = COLOUR_BAR_TICKS
    counts_upper_percentile: float = COUNTS_UPPER_PERCENTILE
    counts_lower_fraction: float = COUNTS_LOWER_FRACTION

    def __post_init__(self) -> None:
        if self.ct_preset not in self.ct_windows:
            raise ValueError(f"CT window {self.ct_preset!r}: one of {', '.join(self.ct_windows)}")
        if self.mr_preset not in self.mr_presets:
            raise ValueError(f"MR window {self.mr_preset!r}: one of {', '.join(self.mr_presets)}")
        if not 0.0 <= self.pet_alpha_ramp < 1.0:
            raise ValueError(f"pet_alpha_ramp {self.pet_alpha_ramp}: give a fraction from 0 "
                             "to below 1")
        if not 0.0 <= self.pet_opacity <= 1.0:
            raise ValueError(f"pet_opacity {self.pet_opacity}: give a number from 0 to 1")
        if self.suv_upper is not None and self.suv_upper <= self.suv_lower:
            raise ValueError(f"SUV window {self.suv_lower}-{self.suv_upper}: the upper limit "
                             "must be above the lower one")
        if self.colour_bar_ticks < 2:
            raise ValueError("colour_bar_ticks: at least 2")
        if not 0.0 < self.counts_upper_percentile <= 100.0:
            raise ValueError(f"counts_upper_percentile {self.counts_upper_percentile}: give a "
                             "percentile above 0 and up to 100")
        if not 0.0 <= self.counts_lower_fraction < 1.0:
            raise ValueError(f"counts_lower_fraction {self.counts_lower_fraction}: give a "
                             "fraction from 0 to below 1")

    def suv_limits(self, tracer: str) -> tuple[float, float]:
        """The fused PET's SUV window ``(lower, upper)`` for a tracer."""
        upper = float(self.suv_upper if self.suv_upper is not None else suv_window(tracer))
        if upper <= self.suv_lower:
            raise ValueError(f"SUV window {self.suv_lower}-{upper} for {tracer}: the upper "
                             "limit must be above the lower one")
        return (float(self.suv_lower), upper)

    def mip_limits(self, tracer: str) -> tuple[float, float]:
        """The inverted-grey MIP's SUV window ``(0, upper)``."""
        upper = self.mip_suv_upper if self.mip_suv_upper is not None else self.suv_limits(
            tracer)[1]
        return (0.0, float(upper))

    def with_(self, **changes: Any) -> DisplaySettings:
        """A copy with some settings changed (validated)."""
        return replace(self, **changes)


def mr_percentile_window(array: np.ndarray, percentiles: tuple[float, float],
                         max_samples: int = 2_000_000) -> tuple[float, float]:
    """MR contrast limits: percentiles of the voxels above zero (a regular subsample if large).

    Parameters
    ----------
    array : numpy.ndarray
        The MR volume.
    percentiles : tuple of float
        Low and high percentile (0-100).
    max_samples : int
        Voxels used at most (every n-th voxel of a larger volume).

    Returns
    -------
    tuple of float
        ``(low, high)``; ``(0, 1)`` for a volume without a voxel above zero.
    """
    flat = np.asarray(array).reshape(-1)
    sample = flat[::max(1, flat.size // max_samples)]
    sample = sample[sample > 0]
    if sample.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(sample, percentiles)
    return (float(lo), float(hi if hi > lo else lo + 1.0))


def anatomy_window(array: np.ndarray | None, kind: str, settings: DisplaySettings,
                   preset: str | None = None) -> tuple[float, float]:
    """Contrast limits of the anatomy for a preset (CT: width/level; MR: percentiles).

    Parameters
    ----------
    array : numpy.ndarray or None
        The anatomy volume (used for MR only).
    kind : str
        ``"CT"`` or ``"MR"``.
    settings : DisplaySettings
        Presets and the default preset names.
    preset : str, optional
        A preset name of that kind; default the settings' one.
    """
    if kind == "CT":
        name = preset or settings.ct_preset
        if name not in settings.ct_windows:
            raise ValueError(f"CT window {name!r}: one of {', '.join(settings.ct_windows)}")
        return window_limits(*settings.ct_windows[name])
    if kind == "MR":
        name = preset or settings.mr_preset
        if name not in settings.mr_presets:
            raise ValueError(f"MR window {name!r}: one of {', '.join(settings.mr_presets)}")
        if array is None:
            raise ValueError("an MR window needs the MR volume")
        return mr_percentile_window(array, settings.mr_presets[name])
    raise ValueError(f"anatomy kind {kind!r}: CT or MR")


def presets_for(kind: str, settings: DisplaySettings) -> list[str]:
    """The window presets a reader can choose for an anatomy kind (never empty for CT/MR)."""
    if kind == "CT":
        return list(settings.ct_windows)
    if kind == "MR":
        return list(settings.mr_presets)
    return []


def _table(name: str, n: int) -> np.ndarray:
    import matplotlib

    return np.asarray(matplotlib.colormaps[name](np.linspace(0.0, 1.0, n)), dtype=float)


def fusion_rgba(name: str = PET_FUSION_COLORMAP, n: int = COLOUR_TABLE_SIZE,
                alpha_ramp: float = PET_ALPHA_RAMP) -> np.ndarray:
    """The fused PET's colour table ``(n, 4)`` RGBA: the colour map, fading in from transparent.

    With contrast limits ``(lower, upper)`` every SUV at or below ``lower`` takes entry 0
    (transparent: the anatomy shows); alpha rises linearly to 1 over the first
    ``alpha_ramp`` of the window, and stays 1 above.

    Parameters
    ----------
    name : str
        A matplotlib colour map.
    n : int
        Entries.
    alpha_ramp : float
        Fraction of the window over which alpha rises from 0 to 1 (0: only entry 0 is
        transparent).
    """
    rgba = _table(name, n)
    position = np.linspace(0.0, 1.0, n)
    alpha = np.ones(n) if alpha_ramp <= 0 else np.clip(position / alpha_ramp, 0.0, 1.0)
    alpha[0] = 0.0
    rgba[:, 3] = alpha
    return rgba


def inverted_grey_rgba(n: int = COLOUR_TABLE_SIZE) -> np.ndarray:
    """Inverted grey ``(n, 4)`` RGBA: SUV 0 white, the upper limit and above black."""
    grey = np.linspace(1.0, 0.0, n)
    return np.column_stack([grey, grey, grey, np.ones(n)])


def nice_ticks(lower: float, upper: float, max_ticks: int = COLOUR_BAR_TICKS) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) from ``lower`` to ``upper``.

    Both ends are included when they fall on a step (e.g. ``0-10`` -> 0, 2, 4, 6, 8, 10).
    """
    if not upper > lower:
        raise ValueError(f"ticks from {lower} to {upper}: the upper value must be larger")
    span = upper - lower
    for power in range(math.floor(math.log10(span)) - 2, math.floor(math.log10(span)) + 2):
        for mant in (1.0, 2.0, 5.0):
            step = mant * 10.0 ** power
            first = math.ceil(lower / step - 1e-9)
            last = math.floor(upper / step + 1e-9)
            if last - first + 1 <= max_ticks:
                return [round(k * step, 10) + 0.0 for k in range(first, last + 1)]
    return [float(lower), float(upper)]


@dataclass(frozen=True)
class ColourBar:
    """What a colour bar shows: its colours, tick positions and labels, and its title.

    Attributes
    ----------
    rgba : numpy.ndarray
        ``(n, 4)`` colours from the lower to the upper limit.
    limits : tuple of float
        ``(lower, upper)`` SUV at the ends of the bar.
    ticks : list of float
        Tick values (SUV).
    positions : list of float
        Tick positions along the bar (0 = lower end, 1 = upper end).
    labels : list of str
        Tick labels.
    title : str
        The unit: ``"SUV"``, or ``"counts"`` for counts-only SPECT.
    """

    rgba: np.ndarray
    limits: tuple[float, float]
    ticks: list[float]
    positions: list[float]
    labels: list[str]
    title: str = SUV_LABEL


def _label(value: float) -> str:
    return f"{value:g}"


def colour_bar(limits: tuple[float, float], rgba: np.ndarray,
               max_ticks: int = COLOUR_BAR_TICKS, title: str = SUV_LABEL) -> ColourBar:
    """The colour bar of a PET (or SPECT) window.

    Parameters
    ----------
    limits : tuple of float
        ``(lower, upper)`` in the image's unit.
    rgba : numpy.ndarray
        The colour table ``(n, 4)`` used for that window.
    max_ticks : int
        Most ticks.
    title : str
        The unit (:func:`value_unit`): ``"SUV"`` or ``"counts"``.
    """
    lower, upper = (float(v) for v in limits)
    ticks = nice_ticks(lower, upper, max_ticks)
    positions = [(t - lower) / (upper - lower) for t in ticks]
    return ColourBar(np.asarray(rgba, dtype=float), (lower, upper), ticks, positions,
                     [_label(t) for t in ticks], title)


def _sample(image: sitk.Image | None, world_zyx) -> float | None:
    if image is None:
        return None
    index = world_to_index(image, world_zyx)
    if index is None:
        return None
    return float(sitk.GetArrayViewFromImage(image)[index])


def cursor_values(images: Any, world_zyx) -> dict[str, float]:
    """Values at a world point: ``SUV`` (or ``counts``) of the PET/SPECT, ``HU`` or ``MR``.

    Parameters
    ----------
    images : nethelpers.review.ScanImages
        PET in SUV and its anatomy.
    world_zyx : sequence of float
        napari world position ``(z, y, x)`` mm (patient LPS).

    Returns
    -------
    dict
        The values of the images that contain the point (nearest voxel), PET first.
    """
    out: dict[str, float] = {}
    suv = _sample(images.pet, world_zyx)
    if suv is not None:
        out[value_unit(images)] = suv
    anatomy = _sample(images.anatomy, world_zyx)
    if anatomy is not None:
        out["HU" if images.anatomy_kind == "CT" else "MR"] = anatomy
    return out


def cursor_text(images: Any, world_zyx) -> str:
    """One status-bar line: ``SUV 4.21 | HU 35``, ``counts 812 | HU 35``, ``outside the scan``."""
    values = cursor_values(images, world_zyx)
    if not values:
        return "outside the scan"
    parts = []
    for name, value in values.items():
        parts.append(f"{name} {value:.2f}" if name == SUV_LABEL else f"{name} {value:.0f}")
    return " | ".join(parts)
