"""The ``review:`` section of the parameters: the napari review's protocol numbers.

Every default lives here, once; ``parameters/*.yaml`` may override any key under ``review:``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DisplayConfig", "ReviewConfig"]


class DisplayConfig(BaseModel):
    """How the review shows a scan: CT/MR windows, the fused PET, the MIP, the colour bar.

    The defaults equal :class:`nethelpers.viewer.display.DisplaySettings`' (a test keeps
    them in step); the upper SUV of each tracer is ``plots.style``'s ``suv_window``.
    """

    model_config = ConfigDict(extra="forbid")

    ct_preset: str = Field("soft tissue", description="CT window shown first (a ct_windows key).")
    ct_windows: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"soft tissue": (400.0, 40.0), "liver": (150.0, 60.0),
                                 "bone": (1500.0, 300.0), "lung": (1500.0, -600.0)},
        description="CT windows: name -> [width, level] HU.")
    mr_preset: str = Field("auto", description="MR window shown first (an mr_presets key).")
    mr_presets: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"auto": (1.0, 99.5), "wide": (0.5, 99.9),
                                 "narrow": (5.0, 95.0)},
        description="MR windows: name -> [low, high] percentiles of the voxels above zero.")
    pet_colormap: str = Field("inferno", description="matplotlib colour map of the fused PET.")
    pet_alpha_ramp: float = Field(
        0.2, ge=0.0, lt=1.0, description="Fraction of the SUV window over which the fused "
        "PET fades in from transparent (0: a sharp threshold).")
    pet_opacity: float = Field(0.7, ge=0.0, le=1.0,
                               description="Opacity of the fused PET over the CT or MR.")
    suv_lower: float = Field(1.0, ge=0.0, description="SUV at and below which the fused PET "
                             "is transparent (the anatomy shows alone).")
    suv_upper: float | None = Field(None, gt=0.0, description="Upper SUV of the PET window; "
                                    "null: by tracer (DOTATATE 15, FDG 7, others 10).")
    mip_suv_upper: float | None = Field(None, gt=0.0, description="Upper SUV of the "
                                        "inverted-grey MIP; null: the PET window's.")
    colour_bar_ticks: int = Field(6, ge=2, description="Most ticks on the SUV colour bar.")


class ReviewConfig(BaseModel):
    """How the review grows a lesion VOI from a click and shows a scan."""

    model_config = ConfigDict(extra="forbid")

    display: DisplayConfig = Field(default_factory=DisplayConfig)

    min_contrast: float = Field(
        1.5, ge=1.0, le=10.0,
        description="Click-to-VOI is refused when the peak SUV found from the click is below "
        "this multiple of the local background (median SUV 20-30 mm around the peak): a click "
        "in normal tissue finds a noise maximum, not a lesion (the reader draws a faint lesion "
        "by hand with the brush). 1: refuse only a peak not above the background. 1.5 from "
        "the demo (6 patients, blur and noise): clicks in normal liver reach 1.11-2.71x "
        "(median 1.28; 9 % of 210 reach 1.5), clicks at the true centres of lesions at least "
        "1.5x as hot as liver 1.68x and more (40 of 40 kept).",
    )
