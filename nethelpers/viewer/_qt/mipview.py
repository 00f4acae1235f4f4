"""The PET maximum intensity projection: inverted grey, rotatable, click -> hottest voxel.

The MIP is a 3-D napari canvas (``rendering="mip"``) that opens as a coronal projection
with the head (LPS ``+z``) up and the patient's right (LPS ``-x``) on the screen's left: the
camera direction :data:`CORONAL_VIEW` is the one that gives this in napari's 3-D scene
(checked on screenshots by ``tests/test_orthoviews.py``). Dragging rotates it. A click
(press and release without moving) casts the view ray through the volume and jumps to the
voxel of highest SUV along it (:func:`hottest_along_ray`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nethelpers.viewer._qt.canvas import ExtraCanvas, on_click_only
from nethelpers.viewer._qt.fusion import style_mip
from nethelpers.viewer.display import DisplaySettings
from nethelpers.viewer.emission import mip_limits
from nethelpers.viewer.layers import layer_geometry

__all__ = ["CORONAL_VIEW", "MipView", "hottest_along_ray"]

#: camera of the opening view in displayed (z, y, x) world axes: (view direction, up)
CORONAL_VIEW = ((0.0, -1.0, 0.0), (1.0, 0.0, 0.0))
MARKER_COLOR = "red"
#: fraction of the canvas the body fills in the opening view
FIT = 0.95
#: ray samples per voxel
RAY_SAMPLES_PER_VOXEL = 2


def hottest_along_ray(layer: Any, position_world, view_direction_world,
                      dims_displayed=(0, 1, 2)) -> np.ndarray | None:
    """World point ``(z, y, x)`` of the voxel of highest value along a view ray.

    Parameters
    ----------
    layer : napari.layers.Image
        A 3-D image layer (its data and world transform).
    position_world : sequence of float
        A point on the ray, world ``(z, y, x)`` (a click's ``event.position``).
    view_direction_world : sequence of float
        The ray's direction in world coordinates (``event.view_direction``).
    dims_displayed : sequence of int
        The displayed dimensions.

    Returns
    -------
    numpy.ndarray or None
        The centre of the hottest voxel the ray passes through (the one nearest the camera
        among equals), or None when the ray misses the volume.
    """
    start, end = layer.get_ray_intersections(
        np.asarray(position_world, dtype=float), np.asarray(view_direction_world, dtype=float),
        list(dims_displayed), world=True)
    if start is None or end is None:
        return None
    start, end = np.asarray(start, dtype=float)[-3:], np.asarray(end, dtype=float)[-3:]
    n = int(np.ceil(np.linalg.norm(end - start) * RAY_SAMPLES_PER_VOXEL)) + 1
    points = start[None, :] + np.linspace(0.0, 1.0, n)[:, None] * (end - start)[None, :]
    data = np.asarray(layer.data)
    index = np.clip(np.rint(points).astype(int), 0, np.asarray(data.shape) - 1)
    _, first = np.unique(index, axis=0, return_index=True)
    index = index[np.sort(first)]                  # voxels in ray order, camera first
    values = data[index[:, 0], index[:, 1], index[:, 2]]
    best = index[int(np.argmax(values))]
    return np.asarray(layer.data_to_world(best), dtype=float)[-3:]


class MipView(ExtraCanvas):
    """A 3-D canvas with the PET MIP in inverted grey and the crosshair point.

    Attributes
    ----------
    model : napari.components.ViewerModel
        The view's state.
    qt : napari.qt.QtViewer
        Its canvas widget.
    pet : napari.layers.Image or None
        The MIP layer.
    on_jump : callable or None
        Called with the world point ``(z, y, x)`` of the hottest voxel under a click.
    """

    def __init__(self, title: str = "MIP") -> None:
        from napari.components import ViewerModel
        from napari.qt import QtViewer

        self.model = ViewerModel(title=title)
        self.qt = QtViewer(self.model)
        self.qt.setMinimumSize(160, 160)
        self.model.canvas.background_color_override = "white"
        self.pet: Any = None
        self._kept: dict[str, Any] = {}
        self.marker: Any = None
        self.on_jump: Any = None
        self.model.mouse_drag_callbacks.append(self._drag)

    def show(self, images: Any, settings: DisplaySettings) -> Any:
        """Show a scan's PET as an inverted-grey MIP, coronal projection, head up."""
        if self.pet is not None:
            self.pet.visible = False               # kept for a switch back (see SliceView)
        scan_id = images.job.scan_id
        self.pet = self._kept.get(scan_id)
        if self.pet is None:
            self.pet = self.model.add_image(
                np.asarray(images.suv), name=f"MIP {scan_id}",
                metadata={"role": "mip", "scan_id": scan_id}, **layer_geometry(images.pet))
            self._kept[scan_id] = self.pet
        self.pet.visible = True
        style_mip(self.pet, images.job.tracer, settings, mip_limits(images, settings))
        if self.marker is None:
            self.marker = self.model.add_points(
                np.zeros((0, 3)), name="crosshair", symbol="cross", size=12,
                face_color=MARKER_COLOR, border_color=MARKER_COLOR,
                metadata={"role": "crosshair"})
            self.marker.editable = False
        else:
            self.model.layers.move(self.model.layers.index(self.marker), len(self.model.layers))
        self.model.dims.ndisplay = 3
        self.model.reset_view()
        self.coronal()
        return self.pet

    def coronal(self) -> None:
        """Turn the camera to the coronal projection (head up, patient's right on the left), fit."""
        view, up = CORONAL_VIEW
        self.model.scene.camera.set_view_direction(view, up)
        if self.pet is None:
            return
        lo, hi = np.asarray(self.pet.extent.world, dtype=float)[:, -3:]
        size = np.maximum(hi - lo, 1e-6)
        h, w = self.model.canvas.size
        self.model.scene.camera.center = tuple((lo + hi) / 2.0)
        self.model.scene.camera.zoom = FIT * min(h / size[0], w / size[2])

    def set_point(self, world_zyx) -> None:
        """Mark the crosshair point."""
        if self.marker is not None:
            self.marker.data = np.asarray(world_zyx, dtype=float)[-3:][None, :]

    def pick(self, position_world, view_direction_world=None) -> np.ndarray | None:
        """The hottest voxel along the view ray through a point; calls ``on_jump`` with it."""
        if self.pet is None:
            return None
        direction = (self.model.scene.camera.view_direction if view_direction_world is None
                     else view_direction_world)
        hit = hottest_along_ray(self.pet, position_world, direction,
                                self.model.dims.displayed)
        if hit is not None and self.on_jump is not None:
            self.on_jump(hit)
        return hit

    def _drag(self, model: Any, event: Any):
        yield from on_click_only(event, lambda e: self.pick(e.position, e.view_direction))

    def close(self) -> None:
        """Close the canvas (its layers go with it) and let Qt delete it."""
        super().close()
        self.pet = None
