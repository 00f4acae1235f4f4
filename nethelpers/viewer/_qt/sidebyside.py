"""A second scan of the patient beside the current one, resampled onto the current grid.

The other scan (PET/MR next to PET/CT, FDG next to DOTATATE) is resampled with a
``SimpleITK.Transform`` in ITK's convention: it maps a point of the *current* (fixed) scan's
patient space to the *other* (moving) scan's, exactly what ``sitk.Resample`` needs. The
identity (no registration) shows the other scan in its own patient coordinates. The pane is
an axial canvas on the current scan's grid, so one world point is the same anatomy in both
panes (after registration) and the crosshair and slice are shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.viewer._qt.orthoviews import SliceView
from nethelpers.viewer.display import DisplaySettings

__all__ = ["ResampledScan", "SideBySidePane", "resample_scan"]

#: values outside the other scan: SUV 0, air for CT, 0 for MR
OUTSIDE = {"PET": 0.0, "CT": -1000.0, "MR": 0.0}


@dataclass
class ResampledScan:
    """The other scan on the current scan's grids.

    Attributes
    ----------
    images : nethelpers.review.ScanImages
        The other scan (its job, tracer, anatomy kind).
    pet : SimpleITK.Image
        Its PET (SUV) on the current PET grid.
    anatomy : SimpleITK.Image or None
        Its anatomy on the current anatomy grid (or the current PET grid when the current
        scan has no anatomy).
    """

    images: Any
    pet: sitk.Image
    anatomy: sitk.Image | None


def _resample(moving: sitk.Image, reference: sitk.Image, transform: sitk.Transform,
              outside: float) -> sitk.Image:
    return sitk.Resample(sitk.Cast(moving, sitk.sitkFloat32), reference, transform,
                         sitk.sitkLinear, outside, sitk.sitkFloat32)


def resample_scan(other: Any, current: Any, transform: sitk.Transform | None = None
                  ) -> ResampledScan:
    """Resample another scan's PET and anatomy onto the current scan's grids.

    Parameters
    ----------
    other : nethelpers.review.ScanImages
        The scan to show beside (moving).
    current : nethelpers.review.ScanImages
        The scan being read (fixed): its PET grid, and its anatomy grid for the anatomy.
    transform : SimpleITK.Transform, optional
        Fixed (current) point -> moving (other) point, LPS mm; default identity.

    Returns
    -------
    ResampledScan
    """
    tx = transform if transform is not None else sitk.Transform(3, sitk.sitkIdentity)
    pet = _resample(other.pet, current.pet, tx, OUTSIDE["PET"])
    anatomy = None
    if other.anatomy is not None:
        reference = current.anatomy if current.anatomy is not None else current.pet
        anatomy = _resample(other.anatomy, reference, tx, OUTSIDE.get(other.anatomy_kind, 0.0))
    return ResampledScan(other, pet, anatomy)


def _transform_key(transform: sitk.Transform | None) -> str:
    """What identifies a transform for the cache (its kind and parameters)."""
    if transform is None:
        return "identity"
    return f"{transform.GetName()} {transform.GetParameters()} {transform.GetFixedParameters()}"


class SideBySidePane(SliceView):
    """An axial canvas with another scan resampled onto the current grid, its own fusion.

    Attributes
    ----------
    resampled : ResampledScan or None
        What it shows.
    """

    def __init__(self, title: str = "other scan") -> None:
        super().__init__("axial", title=title)
        self.resampled: ResampledScan | None = None
        self._resampled: dict[str, ResampledScan] = {}

    def show_other(self, other: Any, current: Any, settings: DisplaySettings,
                   transform: sitk.Transform | None = None) -> ResampledScan:
        """Resample ``other`` onto ``current``'s grids and show it fused (no ROIs)."""
        key = f"{other.job.scan_id} on {current.job.scan_id} {_transform_key(transform)}"
        self.resampled = self._resampled.get(key)
        if self.resampled is None:
            self.resampled = resample_scan(other, current, transform)
            self._resampled[key] = self.resampled
        self.show(other, None, settings, key=key, pet=self.resampled.pet,
                  anatomy=self.resampled.anatomy)
        self.model.title = f"{other.job.scan_id} on {current.job.scan_id}"
        return self.resampled

    def suv_at(self, world_zyx) -> float | None:
        """SUV of the resampled other scan at a world point (nearest voxel), None outside."""
        from nethelpers.viewer.layers import world_to_index

        if self.resampled is None:
            return None
        index = world_to_index(self.resampled.pet, world_zyx)
        if index is None:
            return None
        return float(np.asarray(sitk.GetArrayViewFromImage(self.resampled.pet))[index])
