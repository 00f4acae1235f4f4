"""napari layers of a review: anatomy, PET in SUV, the ROI label map and marker points.

Geometry
--------
napari's world coordinates are patient millimetres (DICOM LPS) in ``(z, y, x)`` order, so
every layer of a scan (CT or MR on its own grid, PET, labels on the PET grid) lines up
wherever its voxels lie. A SimpleITK image maps voxel ``(i, j, k)`` to
``origin + D · diag(spacing) · (i, j, k)``; reversing every axis (napari's data order is
SimpleITK's array order ``(z, y, x)``) gives, for the data index ``(k, j, i)``,
``world = origin[::-1] + P D P · diag(spacing[::-1]) · (k, j, i)`` with ``P`` the
axis-reversing permutation. For the usual axial scan (identity direction) this is napari's
``scale=spacing[::-1]`` and ``translate=origin[::-1]``; any other direction is passed as the
layer's full 4 × 4 ``affine`` (napari renders it; 2-D slicing of an oblique volume is
napari's "non-orthogonal slicing", which it approximates).

Display
-------
* Anatomy in grey: CT with window presets (:data:`CT_WINDOWS`, width/level in HU), MR with
  a percentile window (1st-99.5th percentile of the voxels above zero).
* PET in SUV with the ``inferno`` colormap and additive blending on top of the anatomy
  (fusion), contrast ``0 – SUV_WINDOW[tracer]``:

  - 68Ga-DOTATATE ``0–15``: normal liver (SUVmean ≈ 7) sits in the middle of the scale,
    so a lesion above liver (Krenning 3) stands out while spleen and kidneys (≈ 20–30)
    saturate;
  - 18F-FDG ``0–7``: liver (≈ 2–3) in the lower third, so PERCIST-relevant uptake above
    liver is bright; brain and bladder saturate;
  - any other tracer ``0–10``. The widget lets the reader change the upper limit.
* ROIs as a Labels layer on the PET grid, drawn as contours (the uptake stays visible):
  lesions cyan, liver lime, spleen blue.
* Lesions recorded on other scans as a Points layer (lime rings with their lesion_id;
  continuous PET indices, PET geometry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk

from nethelpers.plots.style import SUV_WINDOW, suv_window

__all__ = [
    "CT_WINDOWS",
    "SUV_WINDOW",
    "ScanLayers",
    "add_scan_layers",
    "anatomy_limits",
    "index_to_world",
    "layer_geometry",
    "mr_window",
    "remove_scan_layers",
    "roi_colormap",
    "suv_window",
    "window_limits",
    "world_to_index",
]

#: CT windows: name -> (width, level) in HU.
CT_WINDOWS: dict[str, tuple[float, float]] = {
    "soft tissue": (400.0, 40.0),
    "bone": (1500.0, 300.0),
    "lung": (1500.0, -600.0),
}
#: MR window: percentiles of the voxels above zero.
MR_PERCENTILES = (1.0, 99.5)

#: ROI colours: label value (the session's reference labels) -> colour; lesions cyan.
REFERENCE_COLORS = {1: "lime", 2: "dodgerblue", 3: "white", 4: "white"}
LESION_COLOR = "cyan"
MARKER_COLOR = "lime"
PET_COLORMAP = "inferno"
PET_OPACITY = 0.85
ROI_OPACITY = 0.8
_AXES = ("z", "y", "x")


def _zyx_matrix(image: sitk.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Direction (3 x 3), spacing and origin of an image in napari's (z, y, x) order."""
    direction = np.asarray(image.GetDirection(), dtype=float).reshape(3, 3)
    rev = direction[::-1, ::-1]                       # P D P: rows and columns reversed
    spacing = np.asarray(image.GetSpacing(), dtype=float)[::-1]
    origin = np.asarray(image.GetOrigin(), dtype=float)[::-1]
    return rev, spacing, origin


def layer_geometry(image: sitk.Image) -> dict[str, Any]:
    """Keyword arguments placing a SimpleITK image's array in napari's world (mm, z-y-x).

    Parameters
    ----------
    image : SimpleITK.Image
        A 3-D image.

    Returns
    -------
    dict
        ``scale`` and ``translate`` when the direction is the identity (to 1e-9), else a
        4 × 4 homogeneous ``affine`` in ``(z, y, x)`` order; and ``axis_labels``.
    """
    if image.GetDimension() != 3:
        raise ValueError(f"a 3-D image is needed; got {image.GetDimension()}-D")
    rev, spacing, origin = _zyx_matrix(image)
    # no ``units``: napari's pint registry costs 0.5 s at the first layer; world units are mm
    common: dict[str, Any] = {"axis_labels": _AXES}
    if np.allclose(rev, np.eye(3), atol=1e-9):
        return {"scale": tuple(spacing), "translate": tuple(origin), **common}
    affine = np.eye(4)
    affine[:3, :3] = rev * spacing[None, :]
    affine[:3, 3] = origin
    return {"affine": affine, **common}


def index_to_world(image: sitk.Image, index_zyx) -> np.ndarray:
    """World position ``(z, y, x)`` mm of a (continuous) array index ``(z, y, x)``."""
    point = image.TransformContinuousIndexToPhysicalPoint(
        [float(v) for v in np.asarray(index_zyx, dtype=float)[::-1]])
    return np.asarray(point, dtype=float)[::-1]


def world_to_index(image: sitk.Image, world_zyx, *, continuous: bool = False):
    """Array index ``(z, y, x)`` of a world position ``(z, y, x)`` mm, or None outside.

    Parameters
    ----------
    image : SimpleITK.Image
        The grid.
    world_zyx : sequence of float
        napari world coordinates (the last three are used).
    continuous : bool
        Return the continuous index (floats) instead of the nearest voxel.
    """
    world = np.asarray(world_zyx, dtype=float)[-3:]
    idx = np.asarray(image.TransformPhysicalPointToContinuousIndex(
        [float(v) for v in world[::-1]]), dtype=float)[::-1]
    shape = np.asarray(image.GetSize())[::-1]
    near = np.rint(idx).astype(int)
    if np.any(near < 0) or np.any(near >= shape):
        return None
    return tuple(float(v) for v in idx) if continuous else tuple(int(v) for v in near)


def window_limits(width: float, level: float) -> tuple[float, float]:
    """Contrast limits ``(level - width/2, level + width/2)``."""
    return (level - width / 2.0, level + width / 2.0)


def mr_window(array: np.ndarray, percentiles: tuple[float, float] = MR_PERCENTILES,
              max_samples: int = 2_000_000) -> tuple[float, float]:
    """An MR window: percentiles of the voxels above zero (a regular subsample if large)."""
    flat = np.asarray(array).reshape(-1)
    step = max(1, flat.size // max_samples)
    sample = flat[::step]
    sample = sample[sample > 0]
    if sample.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(sample, percentiles)
    return (float(lo), float(hi if hi > lo else lo + 1.0))


def anatomy_limits(array: np.ndarray, kind: str, preset: str = "soft tissue"
                   ) -> tuple[float, float]:
    """Contrast limits of the anatomy: a CT window preset, or the MR percentile window."""
    if kind == "CT":
        if preset not in CT_WINDOWS:
            raise ValueError(f"CT window {preset!r}: one of {', '.join(CT_WINDOWS)}")
        return window_limits(*CT_WINDOWS[preset])
    return mr_window(array)


def roi_colormap() -> Any:
    """ROI colours that stand out on the PET's inferno: lesions cyan, references by kind."""
    from napari.utils.colormaps import DirectLabelColormap

    return DirectLabelColormap(color_dict={None: LESION_COLOR, 0: "transparent",
                                           **REFERENCE_COLORS})


def _marker_data(markers: pd.DataFrame | None) -> tuple[np.ndarray, dict[str, Any]]:
    if markers is None or markers.empty:
        return np.zeros((0, 3)), {"lesion_id": np.array([], dtype=object)}
    data = markers[["z", "y", "x"]].to_numpy(dtype=float)
    return data, {"lesion_id": markers["lesion_id"].astype(str).to_numpy(dtype=object)}


@dataclass
class ScanLayers:
    """The napari layers showing one scan."""

    anatomy: Any | None
    pet: Any
    rois: Any
    markers: Any
    hidden_visibility: list[bool] | None = None

    def all(self) -> list[Any]:
        """The layers, bottom to top (anatomy left out when there is none)."""
        return [x for x in (self.anatomy, self.pet, self.rois, self.markers) if x is not None]

    def set_shown(self, shown: bool) -> None:
        """Hide the scan's layers (remembering which were visible) or show them again."""
        layers = self.all()
        if not shown:
            if self.hidden_visibility is None:
                self.hidden_visibility = [lay.visible for lay in layers]
            for lay in layers:
                lay.visible = False
            return
        visible = self.hidden_visibility or [True] * len(layers)
        for lay, vis in zip(layers, visible, strict=True):
            lay.visible = vis
        self.hidden_visibility = None

    def set_markers(self, markers: pd.DataFrame | None) -> None:
        """Show these markers (``lesion_id, z, y, x``: continuous PET indices)."""
        data, features = _marker_data(markers)
        self.markers.data = data
        self.markers.features = pd.DataFrame(features)
        self.markers.text.refresh(self.markers.features)


def add_scan_layers(viewer: Any, images: Any, labels: np.ndarray,
                    markers: pd.DataFrame | None = None, *, ct_preset: str = "soft tissue",
                    suv_max: float | None = None) -> ScanLayers:
    """Add a scan's layers to a napari viewer: anatomy, PET (SUV), ROIs, markers.

    Parameters
    ----------
    viewer : napari.Viewer or napari.components.ViewerModel
        Where to add them.
    images : nethelpers.review.ScanImages
        PET in SUV and its anatomy.
    labels : numpy.ndarray
        The ROI label map ``(z, y, x)`` on the PET grid (the layer gets a copy, so brush
        strokes never change the caller's array).
    markers : pandas.DataFrame, optional
        Lesions recorded on other scans (``lesion_id, z, y, x`` continuous PET indices).
    ct_preset : str
        CT window (:data:`CT_WINDOWS`).
    suv_max : float, optional
        Upper SUV of the display; default by tracer (:func:`suv_window`).

    Returns
    -------
    ScanLayers
    """
    scan_id = images.job.scan_id
    anatomy = None
    if images.anatomy is not None:
        arr = sitk.GetArrayFromImage(images.anatomy)       # a copy: owned by the layer
        anatomy = viewer.add_image(
            arr, name=f"{images.anatomy_kind} {scan_id}", colormap="gray",
            contrast_limits=anatomy_limits(arr, images.anatomy_kind, ct_preset),
            blending="opaque", metadata={"role": "anatomy", "kind": images.anatomy_kind},
            **layer_geometry(images.anatomy))
    pet_geometry = layer_geometry(images.pet)
    top = float(suv_max or suv_window(images.job.tracer))
    suv = sitk.GetArrayFromImage(images.pet)
    unit = "counts" if getattr(images, "quantity", "SUV") == "counts" else "SUV"
    pet = viewer.add_image(
        suv, name=f"{getattr(images.job, 'system', 'PET')} {unit} {scan_id}",
        colormap=PET_COLORMAP,
        contrast_limits=(0.0, top), blending="additive" if anatomy is not None else "opaque",
        opacity=PET_OPACITY,
        metadata={"role": "pet", "tracer": images.job.tracer, "scan_id": scan_id},
        **pet_geometry)
    pet.contrast_limits_range = (0.0, max(top, float(suv.max()), 1.0))
    rois = viewer.add_labels(
        np.array(labels, dtype=np.uint16, copy=True), name=f"ROIs {scan_id}",
        opacity=ROI_OPACITY, metadata={"role": "rois"}, colormap=roi_colormap(),
        **pet_geometry)
    rois.contour = 1
    data, features = _marker_data(markers)
    points = viewer.add_points(
        data, name=f"other scans (approx., not registered) {scan_id}", features=features,
        symbol="ring", size=4,
        face_color="transparent", border_color=MARKER_COLOR, border_width=0.15,
        text={"string": "{lesion_id}", "color": MARKER_COLOR, "size": 9, "anchor": "upper_left"},
        metadata={"role": "markers"}, **pet_geometry)
    return ScanLayers(anatomy, pet, rois, points)


def remove_scan_layers(viewer: Any, layers: ScanLayers | None) -> None:
    """Remove a scan's layers from the viewer (those still in it)."""
    if layers is None:
        return
    for layer in layers.all():
        if layer in viewer.layers:
            viewer.layers.remove(layer)
