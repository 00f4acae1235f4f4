"""A whole-body anatomical phantom made of analytic shapes, painted onto voxel grids.

The body lives in its own frame (mm): x to the patient's left, y posterior, z superior, with
z = 0 at the vertex and the mid-sagittal, mid-coronal line of the torso at x = y = 0 (so the
body extends to negative z). A :class:`Pose` places the body on the scanner table: DICOM patient
coordinates (LPS) = ``rotation @ body + translation``. Shapes are painted in order onto a
``uint8`` label map, later ones overwriting earlier ones, so organs override the trunk and
lesions override organs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from nethelpers.demo.grid import Grid

#: Reference adult height (mm) for which the organ coordinates below are written.
REFERENCE_HEIGHT_MM = 1700.0

#: First label used for lesions; lesion ``n`` (0-based) is painted as ``LESION_LABEL0 + n``.
LESION_LABEL0 = 100


class Tissue(IntEnum):
    """Tissue labels of the phantom (values of the label map)."""

    AIR = 0
    FAT = 1
    MUSCLE = 2
    LUNG = 3
    BONE = 4
    MARROW = 5
    BRAIN = 6
    PITUITARY = 7
    MYOCARDIUM = 8
    BLOOD = 9
    LIVER = 10
    SPLEEN = 11
    KIDNEY = 12
    ADRENAL = 13
    PANCREAS = 14
    UNCINATE = 15
    BOWEL = 16
    BLADDER = 17


@dataclass(frozen=True)
class Ellipsoid:
    """An axis-aligned ellipsoid in the body frame."""

    tissue: int
    center: tuple[float, float, float]
    semi: tuple[float, float, float]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of the bounding box (body frame, mm)."""
        c, s = np.asarray(self.center), np.asarray(self.semi)
        return c - s, c + s

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside."""
        cx, cy, cz = self.center
        a, b, c = self.semi
        return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0 - ((z - cz) / c) ** 2


@dataclass(frozen=True)
class Cylinder:
    """An elliptic cylinder along the body's z axis, from ``z0`` to ``z1`` (z0 < z1)."""

    tissue: int
    center_xy: tuple[float, float]
    semi_xy: tuple[float, float]
    z0: float
    z1: float

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of the bounding box (body frame, mm)."""
        cx, cy = self.center_xy
        a, b = self.semi_xy
        return np.array([cx - a, cy - b, self.z0]), np.array([cx + a, cy + b, self.z1])

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Boolean mask of the points inside."""
        cx, cy = self.center_xy
        a, b = self.semi_xy
        in_plane = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1.0
        return in_plane & ((z >= self.z0) & (z <= self.z1))


Shape = Ellipsoid | Cylinder


@dataclass(frozen=True)
class Pose:
    """Placement of the body on the scanner: ``patient_xyz = rotation @ body_xyz + translation``.

    ``roll_deg`` rotates about the body's long axis (the patient lying slightly tilted),
    ``yaw_deg`` about the antero-posterior axis.
    """

    translation: tuple[float, float, float]
    roll_deg: float = 0.0
    yaw_deg: float = 0.0

    @property
    def rotation(self) -> np.ndarray:
        """The 3x3 rotation matrix."""
        r, w = np.deg2rad(self.roll_deg), np.deg2rad(self.yaw_deg)
        roll = np.array([[np.cos(r), -np.sin(r), 0.0], [np.sin(r), np.cos(r), 0.0], [0, 0, 1.0]])
        yaw = np.array([[np.cos(w), 0.0, np.sin(w)], [0.0, 1.0, 0.0], [-np.sin(w), 0.0, np.cos(w)]])
        return roll @ yaw

    def to_patient(self, body_xyz: np.ndarray) -> np.ndarray:
        """Map body-frame points ``(..., 3)`` to DICOM patient coordinates (LPS mm)."""
        return np.asarray(body_xyz, dtype=float) @ self.rotation.T + np.asarray(self.translation)

    def to_body(self, patient_xyz: np.ndarray) -> np.ndarray:
        """Map DICOM patient coordinates ``(..., 3)`` to the body frame."""
        return (np.asarray(patient_xyz, dtype=float) - np.asarray(self.translation)) @ self.rotation


@dataclass(frozen=True)
class BodyShape:
    """Size parameters of one patient's body."""

    height_mm: float
    bmi: float

    @property
    def zscale(self) -> float:
        """Longitudinal scale relative to the reference adult."""
        return self.height_mm / REFERENCE_HEIGHT_MM

    @property
    def girth(self) -> float:
        """Transverse scale of the trunk (grows with BMI)."""
        return float(np.clip(np.sqrt(self.bmi / 24.0), 0.8, 1.35))

    @property
    def fat_mm(self) -> float:
        """Subcutaneous fat thickness."""
        return float(np.clip(4.0 + 1.6 * (self.bmi - 18.0), 4.0, 40.0))

    @property
    def trunk_semi(self) -> tuple[float, float]:
        """Semi-axes (x, y) of the trunk."""
        return 140.0 * self.girth, 100.0 * self.girth

    @property
    def fov_z(self) -> tuple[float, float]:
        """Axial extent of a vertex-to-mid-thigh scan in the body frame (z0 < z1)."""
        return -1000.0 * self.zscale, 15.0


@dataclass
class Anatomy:
    """The ordered shapes of one body, and the lesions painted on top of them."""

    body: BodyShape
    shapes: list[Shape]
    lesions: list[Ellipsoid] = field(default_factory=list)
    bone_shapes: list[Shape] = field(default_factory=list)

    def organ(self, tissue: Tissue) -> list[Shape]:
        """The shapes painted with ``tissue`` (e.g. both kidneys)."""
        return [s for s in self.shapes if s.tissue == tissue]


def scaled_ellipsoid(t: Tissue, c: tuple, s: tuple, zs: float) -> Ellipsoid:
    """An ellipsoid with reference-adult coordinates scaled longitudinally by ``zs``."""
    return Ellipsoid(int(t), (c[0], c[1], c[2] * zs), (s[0], s[1], s[2] * zs))



def _bone_tube(
    center_xy: tuple[float, float], r_outer: float, r_inner: float, z0: float, z1: float
) -> list[Cylinder]:
    """A long bone: cortical cylinder with a marrow core."""
    return [
        Cylinder(int(Tissue.BONE), center_xy, (r_outer, r_outer), z0, z1),
        Cylinder(int(Tissue.MARROW), center_xy, (r_inner, r_inner), z0, z1),
    ]


def build_anatomy(body: BodyShape) -> Anatomy:
    """Build the phantom's shapes for one patient.

    Parameters
    ----------
    body : BodyShape
        Height and BMI of the patient.

    Returns
    -------
    Anatomy
        Shapes in painting order (trunk first, small organs last), no lesions yet.
    """
    zs = body.zscale
    e = scaled_ellipsoid
    tx, ty = body.trunk_semi
    fat = body.fat_mm
    z_pelvis_floor = -900.0 * zs
    z_shoulder = -255.0 * zs
    z_thigh_end = -1060.0 * zs
    arm_x = tx + 38.0
    t = Tissue
    shapes: list[Shape] = [
        # trunk and neck: fat envelope with muscle inside
        Cylinder(int(t.FAT), (0.0, 0.0), (tx, ty), z_pelvis_floor, z_shoulder),
        Cylinder(int(t.MUSCLE), (0.0, 0.0), (tx - fat, ty - fat), z_pelvis_floor, z_shoulder),
        Cylinder(int(t.MUSCLE), (0.0, 10.0), (55.0, 55.0), -265.0 * zs, -180.0 * zs),
        # thighs (to mid-thigh) and arms at the sides
        Cylinder(int(t.FAT), (-82.0 * body.girth, 0.0), (78.0 * body.girth,) * 2,
                 z_thigh_end, -860.0 * zs),
        Cylinder(int(t.FAT), (82.0 * body.girth, 0.0), (78.0 * body.girth,) * 2,
                 z_thigh_end, -860.0 * zs),
        Cylinder(int(t.MUSCLE), (-82.0 * body.girth, 0.0), (78.0 * body.girth - fat,) * 2,
                 z_thigh_end, -860.0 * zs),
        Cylinder(int(t.MUSCLE), (82.0 * body.girth, 0.0), (78.0 * body.girth - fat,) * 2,
                 z_thigh_end, -860.0 * zs),
        Cylinder(int(t.MUSCLE), (-arm_x, 0.0), (36.0, 38.0), -880.0 * zs, -275.0 * zs),
        Cylinder(int(t.MUSCLE), (arm_x, 0.0), (36.0, 38.0), -880.0 * zs, -275.0 * zs),
        # head: scalp, skull, brain, pituitary
        e(t.MUSCLE, (0, 5, -112), (78, 98, 112), zs),
        e(t.BONE, (0, 5, -112), (72, 92, 105), zs),
        e(t.BRAIN, (0, 5, -108), (65, 85, 95), zs),
        e(t.PITUITARY, (0, 2, -148), (6, 5, 4), zs),
        # thorax
        e(t.LUNG, (-68, 8, -400), (58, 72, 125), zs),
        e(t.LUNG, (72, 8, -400), (52, 72, 120), zs),
        e(t.MYOCARDIUM, (28, -22, -450), (52, 48, 55), zs),
        e(t.BLOOD, (28, -22, -450), (36, 32, 38), zs),
        Cylinder(int(t.BLOOD), (12.0, 42.0), (11.0, 11.0), -740.0 * zs, -430.0 * zs),
        # abdomen: bowel first so the solid organs override it
        e(t.BOWEL, (0, -25, -760), (105, 55, 85), zs),
        e(t.LIVER, (-58, 0, -585), (100, 80, 78), zs),
        e(t.SPLEEN, (92, 45, -575), (33, 42, 52), zs),
        e(t.KIDNEY, (-68, 55, -660), (28, 24, 52), zs),
        e(t.KIDNEY, (68, 55, -650), (28, 24, 52), zs),
        e(t.ADRENAL, (-52, 45, -590), (9, 6, 14), zs),
        e(t.ADRENAL, (52, 45, -585), (9, 6, 14), zs),
        e(t.PANCREAS, (30, 22, -622), (62, 13, 13), zs),
        e(t.PANCREAS, (-30, 20, -635), (20, 16, 20), zs),
        e(t.UNCINATE, (-28, 30, -655), (9, 9, 10), zs),
        e(t.BLADDER, (0, -30, -865), (40, 32, 34), zs),
    ]
    bones: list[Shape] = [
        # spine (cervical to sacrum), pelvis, femora, humeri
        *_bone_tube((0.0, 68.0), 17.0, 13.0, -880.0 * zs, -185.0 * zs),
        e(t.BONE, (-92, 32, -815), (48, 22, 62), zs),
        e(t.BONE, (92, 32, -815), (48, 22, 62), zs),
        e(t.MARROW, (-92, 32, -815), (42, 16, 56), zs),
        e(t.MARROW, (92, 32, -815), (42, 16, 56), zs),
        *_bone_tube((-88.0 * body.girth, 5.0), 15.0, 10.0, z_thigh_end, -870.0 * zs),
        *_bone_tube((88.0 * body.girth, 5.0), 15.0, 10.0, z_thigh_end, -870.0 * zs),
        *_bone_tube((-arm_x, 2.0), 12.0, 8.0, -580.0 * zs, -285.0 * zs),
        *_bone_tube((arm_x, 2.0), 12.0, 8.0, -580.0 * zs, -285.0 * zs),
    ]
    # bones go before the organs of the abdomen would hide them: paint after the trunk and
    # before the head and organs, so organs never get a bone core.
    n_trunk = 9
    ordered = shapes[:n_trunk] + bones + shapes[n_trunk:]
    return Anatomy(body=body, shapes=ordered, bone_shapes=bones)


def _box_indices(
    grid: Grid, pose: Pose, lo: np.ndarray, hi: np.ndarray
) -> tuple[slice, ...] | None:
    """Index slices ``(k, j, i)`` of the grid voxels that may lie in a body-frame box."""
    corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1])
                        for z in (lo[2], hi[2])])
    ijk = grid.world_to_index(pose.to_patient(corners))
    lo_i = np.floor(ijk.min(axis=0)).astype(int) - 1
    hi_i = np.ceil(ijk.max(axis=0)).astype(int) + 2
    size = np.asarray(grid.size)
    lo_i = np.clip(lo_i, 0, size)
    hi_i = np.clip(hi_i, 0, size)
    if np.any(hi_i <= lo_i):
        return None
    return (slice(lo_i[2], hi_i[2]), slice(lo_i[1], hi_i[1]), slice(lo_i[0], hi_i[0]))


def _body_coords(grid: Grid, pose: Pose, box: tuple[slice, ...]) -> tuple[np.ndarray, ...]:
    """Body-frame coordinates (x, y, z arrays broadcastable to the box) of its voxel centres.

    When slices are perpendicular to the body's long axis (axial grid, no yaw), x and y
    depend only on the in-plane index and z only on the slice: the arrays are then returned
    as ``(1, nj, ni)`` and ``(nk, 1, 1)`` so shape tests cost one 3-D operation.
    """
    k = np.arange(box[0].start, box[0].stop, dtype=np.float32)[:, None, None]
    j = np.arange(box[1].start, box[1].stop, dtype=np.float32)[None, :, None]
    i = np.arange(box[2].start, box[2].stop, dtype=np.float32)[None, None, :]
    # patient = origin + D @ (i sx, j sy, k sz); body = R^T (patient - t)
    a = pose.rotation.T @ grid.matrix @ np.diag(grid.spacing)
    b = pose.rotation.T @ (np.asarray(grid.origin) - np.asarray(pose.translation))
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    if np.allclose(a[:2, 2], 0.0, atol=1e-9) and np.allclose(a[2, :2], 0.0, atol=1e-9):
        x = a[0, 0] * i + a[0, 1] * j + b[0]
        y = a[1, 0] * i + a[1, 1] * j + b[1]
        return x, y, a[2, 2] * k + b[2]
    return tuple(a[r, 0] * i + a[r, 1] * j + a[r, 2] * k + b[r] for r in range(3))


def paint_shapes(grid: Grid, pose: Pose, items: list[tuple[Shape, int]],
                 labels: np.ndarray | None = None) -> np.ndarray:
    """Paint ``(shape, value)`` pairs in order onto a label map (later ones overwrite).

    Parameters
    ----------
    grid : Grid
        Target voxel grid (patient coordinates).
    pose : Pose
        Where the body frame lies in patient coordinates.
    items : list of (Shape, int)
        Body-frame shapes and the label each paints.
    labels : numpy.ndarray, optional
        ``uint8`` map to paint into (default: a new zero map of ``grid.shape``).

    Returns
    -------
    numpy.ndarray
        The label map; a voxel takes the value of the last shape containing its centre.
    """
    if labels is None:
        labels = np.zeros(grid.shape, dtype=np.uint8)
    for shape, value in items:
        box = _box_indices(grid, pose, *shape.bounds())
        if box is None:
            continue
        x, y, z = _body_coords(grid, pose, box)
        labels[box][shape.contains(x, y, z)] = value
    return labels


def paint(grid: Grid, pose: Pose, anatomy: Anatomy) -> np.ndarray:
    """Paint the anatomy and its lesions onto a label map.

    Parameters
    ----------
    grid : Grid
        Target voxel grid (patient coordinates).
    pose : Pose
        Where the body lies in patient coordinates for this scan.
    anatomy : Anatomy
        Shapes and lesions; lesion ``n`` gets label ``LESION_LABEL0 + n``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` labels, shape ``grid.shape``; a voxel takes the label of the last shape
        containing its centre.
    """
    if len(anatomy.lesions) > 255 - LESION_LABEL0:
        raise ValueError(f"at most {255 - LESION_LABEL0} lesions per patient")
    items = [(s, s.tissue) for s in anatomy.shapes]
    items += [(les, LESION_LABEL0 + n) for n, les in enumerate(anatomy.lesions)]
    return paint_shapes(grid, pose, items)

