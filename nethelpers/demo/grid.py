"""Voxel grids in DICOM patient coordinates (LPS, millimetres)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """An axial voxel grid in DICOM patient coordinates (LPS, mm).

    Arrays on this grid are indexed ``(k, j, i)`` = (slice, row, column), like SimpleITK's
    ``GetArrayFromImage``. Voxel ``(i, j, k)`` has its centre at
    ``origin + direction @ (i * sx, j * sy, k * sz)``.

    Parameters
    ----------
    size : tuple of int
        ``(nx, ny, nz)``: columns, rows, slices.
    spacing : tuple of float
        ``(sx, sy, sz)`` in mm: column spacing, row spacing, slice spacing.
    origin : tuple of float
        Centre of voxel ``(0, 0, 0)`` in mm (LPS).
    direction : tuple of float
        Row-major 3x3 matrix whose columns are the unit vectors of the i, j, k axes
        (SimpleITK convention). Identity means rows run to the patient's left, columns to
        posterior and slices to superior.
    """

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Numpy shape ``(nz, ny, nx)`` of an array on this grid."""
        nx, ny, nz = self.size
        return (nz, ny, nx)

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 direction matrix (columns are the i, j, k unit vectors)."""
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def index_to_world(self, ijk: np.ndarray) -> np.ndarray:
        """Map continuous indices ``(..., 3)`` in (i, j, k) order to LPS mm."""
        ijk = np.asarray(ijk, dtype=float)
        return np.asarray(self.origin) + (ijk * np.asarray(self.spacing)) @ self.matrix.T

    def world_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Map LPS mm points ``(..., 3)`` to continuous (i, j, k) indices."""
        xyz = np.asarray(xyz, dtype=float) - np.asarray(self.origin)
        return (xyz @ self.matrix) / np.asarray(self.spacing)

    def slice_position(self, k: int) -> np.ndarray:
        """ImagePositionPatient (centre of the first voxel) of slice ``k``."""
        return self.index_to_world(np.array([0.0, 0.0, float(k)]))

    @property
    def image_orientation(self) -> list[float]:
        """ImageOrientationPatient: row direction (i axis) then column direction (j axis)."""
        m = self.matrix
        return [float(v) for v in (*m[:, 0], *m[:, 1])]

    def to_sitk(self, array: np.ndarray):
        """Wrap a ``(nz, ny, nx)`` array as a SimpleITK image with this geometry."""
        import SimpleITK as sitk

        if array.shape != self.shape:
            raise ValueError(f"array shape {array.shape} does not match grid shape {self.shape}")
        img = sitk.GetImageFromArray(array)
        img.SetSpacing([float(s) for s in self.spacing])
        img.SetOrigin([float(o) for o in self.origin])
        img.SetDirection([float(d) for d in self.direction])
        return img
