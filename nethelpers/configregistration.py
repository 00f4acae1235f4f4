"""The ``registration:`` section of the parameters: how scans of one patient are registered.

Markers of lesions found on another scan of the same patient (DOTATATE and FDG, PET/CT and
PET/MR) are carried through a rigid registration of the scans' anatomy (CT or MR; PET when
one scan has none), optionally refined by a B-spline where the body moved. Every number of
the method is a key here with one default; ``parameters/*.yaml`` may override any of them
under ``registration:``. See :mod:`nethelpers.registration` for the method.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

__all__ = ["RegistrationConfig"]


class RegistrationConfig(BaseModel):
    """How two scans of one patient are registered, judged and stored."""

    model_config = ConfigDict(extra="forbid")

    output: Path | None = Field(
        None, description="Registration store folder (one sub-folder per patient and scan "
        "pair: transform.tfm and registration.json); relative to the parameters file; null: "
        "<quantify.output>/registration.",
    )
    working_spacing_mm: float = Field(
        6.0, gt=0, le=20, description="Isotropic voxel size (mm) the images are smoothed and "
        "resampled to before registering (the finest level of the pyramid).",
    )
    shrink_factors: list[int] = Field(
        [2, 1], min_length=1, description="Pyramid levels: shrink factor of each level "
        "relative to working_spacing_mm, coarsest first, ending with 1.",
    )
    smoothing_sigmas_mm: list[float] = Field(
        [6.0, 0.0], min_length=1, description="Gaussian smoothing (mm) of each pyramid level.",
    )
    initialise: Literal["moments", "geometry"] = Field(
        "moments", description="Rigid start: centres of the body masks (moments) or of the "
        "image volumes (geometry).",
    )
    ct_metric: Literal["mattes", "mean_squares"] = Field(
        "mattes", description="Metric of CT to CT registration (CT to MR, MR to MR and PET to "
        "PET always use Mattes mutual information).",
    )
    histogram_bins: int = Field(32, ge=8, le=256,
                                description="Histogram bins of Mattes mutual information.")
    sampling_fraction: float = Field(
        0.2, gt=0, le=1, description="Fraction of the fixed body-mask voxels sampled (at "
        "random, seeded) by the metric at each level.",
    )
    seed: int = Field(20240601, ge=0, description="Seed of the metric's random sampling.")
    iterations: int = Field(200, ge=1, description="Most optimiser iterations per level (rigid).")
    learning_rate: float = Field(
        2.0, gt=0, description="First step of the rigid optimiser (mm, scaled by physical "
        "shift).",
    )
    min_step: float = Field(0.01, gt=0, description="The rigid optimiser stops below this step.")
    body_ct_hu: float = Field(-500.0, description="Body mask of CT: voxels above this (HU).")
    body_mr_fraction: float = Field(
        0.1, gt=0, lt=1, description="Body mask of MR: voxels above this fraction of the "
        "99th percentile signal.",
    )
    body_pet_suv: float = Field(0.1, gt=0, description="Body mask of PET: voxels above this SUV.")
    min_dice: float = Field(
        0.90, gt=0, le=1, description="Quality: the registration is poor (a warning with every "
        "carried marker) when the body masks' Dice after registration is below this, or below "
        "the Dice before.",
    )
    max_dice_loss: float = Field(
        0.01, ge=0, lt=1, description="Quality: the registration is also poor when the body "
        "Dice after is more than this below the Dice before.",
    )
    deformable: Literal["auto", "never", "always"] = Field(
        "never", description="B-spline refinement after the rigid step: never (default: on CT "
        "to MR it bends the body outline at the lesions' cost), auto (when the rigid body Dice "
        "is below deformable_below_dice) or always.",
    )
    deformable_below_dice: float = Field(
        0.95, gt=0, le=1, description="deformable: auto refines when the rigid Dice is below this.",
    )
    bspline_mesh_mm: float = Field(
        80.0, gt=0, description="B-spline control point spacing (mm): larger is smoother.",
    )
    bspline_sampling_fraction: float = Field(
        0.02, gt=0, le=1, description="Fraction of the fixed voxels the B-spline's metric "
        "samples (it costs far more per sample than the rigid step).",
    )
    bspline_iterations: int = Field(15, ge=1,
                                    description="Most optimiser iterations of the B-spline.")
    inverse_iterations: int = Field(
        50, ge=1, description="Most fixed-point iterations of the B-spline's inverse.")
    inverse_tolerance_mm: float = Field(
        0.01, gt=0, description="The B-spline's inverse stops when the mapped point is this "
        "close (mm); a larger residual is stated.",
    )

    @model_validator(mode="after")
    def _levels_and_paths(self, info: ValidationInfo) -> RegistrationConfig:
        if len(self.shrink_factors) != len(self.smoothing_sigmas_mm):
            raise ValueError("shrink_factors and smoothing_sigmas_mm need one value per pyramid "
                             f"level; got {len(self.shrink_factors)} and "
                             f"{len(self.smoothing_sigmas_mm)}")
        if self.shrink_factors[-1] != 1 or min(self.shrink_factors) < 1:
            raise ValueError("shrink_factors are >= 1 and end with 1 (the working spacing); "
                             f"got {self.shrink_factors}")
        if self.output is not None:
            base = Path((info.context or {}).get("base_dir", Path.cwd()))
            path = Path(self.output).expanduser()
            self.output = path if path.is_absolute() else (base / path).resolve()
        return self
