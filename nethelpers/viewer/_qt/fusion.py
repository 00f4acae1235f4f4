"""napari layers of a fused scan from :mod:`nethelpers.viewer.display` settings.

Used by the reading layout's extra canvases and usable on the main canvas's layers too:
:func:`style_anatomy` and :func:`style_pet` restyle existing layers (grey anatomy, opaque;
PET by alpha blending over it with its own opacity, transparent at and below the lower SUV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.viewer.display import (
    DisplaySettings,
    anatomy_window,
    emission_limits,
    fusion_rgba,
    inverted_grey_rgba,
    value_unit,
)
from nethelpers.viewer.layers import layer_geometry, roi_colormap

__all__ = ["FusedLayers", "add_fused_layers", "napari_colormap", "restyle", "style_anatomy",
           "style_mip", "style_pet"]

ROI_OPACITY = 0.8


def napari_colormap(rgba: np.ndarray, name: str) -> Any:
    """A napari colour map from an ``(n, 4)`` RGBA table (evenly spaced controls)."""
    from napari.utils.colormaps import Colormap

    return Colormap(colors=np.asarray(rgba, dtype=np.float32), name=name,
                    interpolation="linear")


def style_anatomy(layer: Any, kind: str, settings: DisplaySettings,
                  preset: str | None = None) -> None:
    """Grey, opaque, windowed by a CT or MR preset (the MR window from its own voxels)."""
    limits = anatomy_window(np.asarray(layer.data) if kind == "MR" else None, kind,
                            settings, preset)
    layer.colormap = "gray"
    layer.blending = "opaque"
    layer.opacity = 1.0
    lo, hi = layer.contrast_limits_range
    layer.contrast_limits_range = (min(lo, limits[0]), max(hi, limits[1]))
    layer.contrast_limits = limits


def style_pet(layer: Any, tracer: str, settings: DisplaySettings, *, over_anatomy: bool,
              images: Any = None) -> None:
    """The fused PET: colour map with a transparent lower end, alpha-blended over the anatomy.

    Parameters
    ----------
    layer : napari.layers.Image
        The PET in SUV.
    tracer : str
        Its tracer (default SUV window).
    settings : DisplaySettings
        Colour map, opacity, SUV window.
    over_anatomy : bool
        True: translucent over the anatomy; False (PET alone): opaque.
    images : nethelpers.review.ScanImages, optional
        The scan: counts-only SPECT takes its own counts window
        (:func:`~nethelpers.viewer.display.emission_limits`); default the tracer's SUV window.
    """
    limits = (emission_limits(images, settings) if images is not None
              else settings.suv_limits(tracer))
    rgba = fusion_rgba(settings.pet_colormap, alpha_ramp=settings.pet_alpha_ramp)
    layer.colormap = napari_colormap(rgba, "PET fusion")
    layer.blending = "translucent_no_depth" if over_anatomy else "opaque"
    layer.opacity = settings.pet_opacity if over_anatomy else 1.0
    hi = max(limits[1], float(np.max(layer.data)), 1.0)
    layer.contrast_limits_range = (min(0.0, limits[0]), hi)
    layer.contrast_limits = limits


def style_mip(layer: Any, tracer: str, settings: DisplaySettings,
              limits: tuple[float, float] | None = None) -> None:
    """PET alone in inverted grey, maximum intensity projection in 3-D.

    ``limits``: the window in the image's unit (:func:`nethelpers.viewer.emission.mip_limits`;
    default the tracer's SUV window).
    """
    limits = settings.mip_limits(tracer) if limits is None else limits
    layer.colormap = napari_colormap(inverted_grey_rgba(), "inverted grey")
    layer.blending = "translucent"
    layer.opacity = 1.0
    layer.rendering = "mip"
    layer.contrast_limits_range = (0.0, max(limits[1], float(np.max(layer.data)), 1.0))
    layer.contrast_limits = limits


@dataclass
class FusedLayers:
    """The layers of one scan in one canvas."""

    anatomy: Any | None
    pet: Any
    rois: Any | None

    def all(self) -> list[Any]:
        """The layers, bottom to top."""
        return [x for x in (self.anatomy, self.pet, self.rois) if x is not None]


def add_fused_layers(model: Any, images: Any, labels: np.ndarray | None,
                     settings: DisplaySettings, *, pet: sitk.Image | None = None,
                     anatomy: sitk.Image | None = None) -> FusedLayers:
    """Add a scan's fused layers (anatomy, PET, ROI contours) to a napari viewer model.

    Parameters
    ----------
    model : napari.components.ViewerModel
        Where to add them.
    images : nethelpers.review.ScanImages
        The scan (tracer, anatomy kind; its images unless ``pet``/``anatomy`` are given).
    labels : numpy.ndarray or None
        ROI label map on the PET grid, shown as contours. The layer shares this array (no
        copy): call ``layer.refresh()`` after the main canvas changed it.
    settings : DisplaySettings
        Windows, colour map, opacity.
    pet, anatomy : SimpleITK.Image, optional
        Images to show instead of the scan's own (e.g. resampled onto another grid).
    """
    pet_img = pet if pet is not None else images.pet
    anat_img = anatomy if anatomy is not None else images.anatomy
    scan_id = images.job.scan_id
    anat_layer = None
    if anat_img is not None and images.anatomy_kind in ("CT", "MR"):
        anat_layer = model.add_image(
            sitk.GetArrayViewFromImage(anat_img), name=f"{images.anatomy_kind} {scan_id}",
            metadata={"role": "anatomy", "kind": images.anatomy_kind},
            **layer_geometry(anat_img))
        style_anatomy(anat_layer, images.anatomy_kind, settings)
    pet_layer = model.add_image(
        sitk.GetArrayViewFromImage(pet_img),
        name=f"{getattr(images.job, 'system', 'PET')} {value_unit(images)} {scan_id}",
        metadata={"role": "pet", "tracer": images.job.tracer, "scan_id": scan_id,
                  "unit": value_unit(images)},
        **layer_geometry(pet_img))
    style_pet(pet_layer, images.job.tracer, settings, over_anatomy=anat_layer is not None,
              images=images)
    rois = None
    if labels is not None:
        rois = model.add_labels(labels, name=f"ROIs {scan_id}", opacity=ROI_OPACITY,
                                colormap=roi_colormap(), metadata={"role": "rois"},
                                **layer_geometry(pet_img))
        rois.contour = 1
        rois.editable = False
    return FusedLayers(anat_layer, pet_layer, rois)


def restyle(layers: FusedLayers, images: Any, settings: DisplaySettings) -> None:
    """Apply display settings to a scan's kept layers (anatomy window, fused PET)."""
    if layers.anatomy is not None:
        style_anatomy(layers.anatomy, images.anatomy_kind, settings)
    style_pet(layers.pet, images.job.tracer, settings, over_anatomy=layers.anatomy is not None,
              images=images)
