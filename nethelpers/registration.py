"""Register two scans of one patient, so a lesion marked on one lands on the other.

Scans of one patient (DOTATATE and FDG on different days, PET/CT and PET/MR the same day) lie
differently on the table: the same lesion has patient coordinates 10-70 mm apart. The
registration maps points between them:

- **Identity** when nothing moved: the same scan, or the same FrameOfReferenceUID (one
  acquisition: a PET and its own CT). Stated in ``kind``.
- **Rigid** (Euler 3-D) on the anatomy: CT to CT (Mattes mutual information, or mean squares
  with ``registration.ct_metric``), CT to MR and MR to MR (Mattes mutual information). The
  images are smoothed and resampled to ``working_spacing_mm`` (6 mm) and registered in a
  pyramid, the metric sampled on a fraction of the fixed body mask; the start aligns the
  centres of the body masks. About 1 s per pair.
- **PET to PET** (Mattes mutual information) when either scan has no CT or MR, stated in
  ``kind``.
- **B-spline** after the rigid step where the body moved (``deformable: auto`` when the rigid
  body Dice is below ``deformable_below_dice``; ``always``; ``never``, the default: on the
  demo's CT to MR pairs, where nothing bent, it improved the body Dice but moved lesions
  by 2-26 mm, so it is opt-in). It recovers a smooth 10 mm shift to about 2 mm (tested).

Quality: the Dice of the two body masks after registration (the headline the review shows),
with the Dice before, the final metric and the time. Below ``min_dice`` (or more than
``max_dice_loss`` worse than before) the registration is *poor*: its warning goes with every
marker it carries, never silently.

Transforms follow the ITK convention: :attr:`ScanRegistration.transform` maps a point of the
FIXED scan's patient space (LPS mm) to the MOVING scan's; :meth:`ScanRegistration.to_fixed`
inverts it (exactly for rigid, iteratively with a stated residual for B-spline).
:mod:`nethelpers.registrationstore` saves registrations with the scans and reuses them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.configregistration import RegistrationConfig
from nethelpers.registrationsteps import (
    body_dice,
    body_mask,
    bspline_step,
    rigid_step,
    working_image,
)

__all__ = ["ScanRegistration", "frame_of_reference_uid", "judge", "method_settings",
           "register_scans"]

Point = tuple[float, float, float]


@dataclass
class ScanRegistration:
    """A registration of a MOVING scan onto a FIXED scan of the same patient.

    Attributes
    ----------
    fixed_scan, moving_scan : str
        The scans' IDs.
    kind : str
        What was done, e.g. ``"rigid CT-MR (Mattes MI)"``, ``"rigid+B-spline CT-CT (Mattes
        MI)"``, ``"rigid PET-PET (Mattes MI; no anatomy on ...)"``, ``"identity (same frame of
        reference)"``.
    transform : SimpleITK.Transform
        Maps a fixed-scan point (LPS mm) to the moving scan.
    quality : dict
        ``headline`` (the number the review shows: body Dice after), ``body_dice_before``,
        ``body_dice_after``, ``body_dice_rigid``, ``final_metric``, ``seconds``.
    verdict : str
        ``"good"``, ``"poor"`` or ``"identity"``.
    warnings : list of str
        Why the registration is poor, or other oddities (empty when good).
    settings : dict
        The ``registration:`` settings it was made with.
    """

    fixed_scan: str
    moving_scan: str
    kind: str
    transform: sitk.Transform
    quality: dict[str, float] = field(default_factory=dict)
    verdict: str = "good"
    warnings: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            self._inverse: sitk.Transform | None = self.transform.GetInverse()
        except RuntimeError:  # B-spline: no closed-form inverse
            self._inverse = None

    @property
    def headline(self) -> float:
        """The quality number the review shows (body Dice after registration; 1 for identity)."""
        return float(self.quality.get("headline", float("nan")))

    @property
    def summary(self) -> str:
        """One line for the dock.

        E.g. ``"rigid CT-MR (Mattes MI): body Dice 0.96 (0.89 before), good"``.
        """
        if self.verdict == "identity":
            return self.kind
        return (f"{self.kind}: body Dice {self.headline:.2f} "
                f"({self.quality.get('body_dice_before', float('nan')):.2f} before), "
                f"{self.verdict}")

    @property
    def exact_inverse(self) -> bool:
        """Whether :meth:`to_fixed` is exact (rigid, identity) rather than iterative."""
        return self._inverse is not None

    def to_moving(self, point: Point) -> Point:
        """Map a fixed-scan point (LPS mm) to the moving scan."""
        return tuple(float(v) for v in self.transform.TransformPoint(_xyz(point)))

    def to_fixed(self, point: Point) -> Point:
        """Map a moving-scan point (LPS mm) to the fixed scan (see :meth:`invert_point`)."""
        return self.invert_point(point)[0]

    def invert_point(self, point: Point) -> tuple[Point, float]:
        """Map a moving-scan point to the fixed scan, with the residual of the inverse.

        Rigid: the exact inverse (residual 0). B-spline: fixed-point iterations
        ``x <- x + (p - T(x))`` from the rigid inverse, at most ``inverse_iterations``, until
        ``|T(x) - p| < inverse_tolerance_mm``.

        Returns
        -------
        tuple
            The point and ``|T(x) - p|`` in mm (state it when it is not small).
        """
        p = np.asarray(_xyz(point))
        if self._inverse is not None:
            return tuple(float(v) for v in self._inverse.TransformPoint(p.tolist())), 0.0
        settings = RegistrationConfig.model_validate(self.settings or {})
        x = np.asarray(_rigid_part(self.transform).GetInverse().TransformPoint(p.tolist()))
        residual = float("inf")
        for _ in range(settings.inverse_iterations):
            error = p - np.asarray(self.transform.TransformPoint(x.tolist()))
            residual = float(np.linalg.norm(error))
            if residual < settings.inverse_tolerance_mm:
                break
            x = x + error
        return tuple(float(v) for v in x), residual

    def resample(self, moving_image: sitk.Image, reference_image: sitk.Image,
                 interpolator: int = sitk.sitkLinear, default_value: float | None = None
                 ) -> sitk.Image:
        """Resample an image of the moving scan onto a grid of the fixed scan.

        Parameters
        ----------
        moving_image : SimpleITK.Image
            PET, CT, MR or a label map of the moving scan (same frame of reference).
        reference_image : SimpleITK.Image
            The fixed scan's grid (e.g. its PET).
        interpolator : int
            ``sitk.sitkLinear`` (default), ``sitk.sitkNearestNeighbor`` for labels, ...
        default_value : float, optional
            Outside the moving image; default its minimum (air on CT, 0 on PET).
        """
        if default_value is None:
            default_value = float(np.min(sitk.GetArrayViewFromImage(moving_image)))
        return sitk.Resample(moving_image, reference_image, self.transform, interpolator,
                             default_value, moving_image.GetPixelID())

    def inverse(self) -> ScanRegistration:
        """The same registration with fixed and moving swapped (exact inverses only).

        Raises
        ------
        ValueError
            A B-spline registration has no exact inverse: register the other way round.
        """
        if self._inverse is None:
            raise ValueError(f"the registration of {self.moving_scan} onto {self.fixed_scan} "
                             "is deformable and has no exact inverse; register "
                             f"{self.fixed_scan} onto {self.moving_scan} instead")
        return ScanRegistration(self.moving_scan, self.fixed_scan, self.kind, self._inverse,
                                dict(self.quality), self.verdict, list(self.warnings),
                                dict(self.settings))


def _xyz(point: Any) -> list[float]:
    values = [float(v) for v in point]
    if len(values) != 3:
        raise ValueError(f"a point is (x, y, z) in mm; got {point!r}")
    return values


def _rigid_part(transform: sitk.Transform) -> sitk.Transform:
    """The first (outermost, rigid) transform of a rigid+B-spline composite."""
    composite = sitk.CompositeTransform(transform)
    return composite.GetNthTransform(0) if composite.GetNumberOfTransforms() else transform


def frame_of_reference_uid(images: Any) -> str | None:
    """The FrameOfReferenceUID of a scan's PET (from one header; None when unknown).

    Uses ``images.frame_of_reference_uid`` when the loader set it, else reads the first PET
    file of the scan's series.
    """
    known = getattr(images, "frame_of_reference_uid", None)
    if known:
        return str(known)
    import pydicom

    from nethelpers.dicom.volume import series_files

    job = images.job
    wanted = getattr(images, "series_uid", None) or getattr(job, "series_uid", None)
    try:
        files = series_files(job.pet)
    except Exception:  # noqa: BLE001 - an unreadable folder: unknown, register instead
        return None
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[
                "SeriesInstanceUID", "FrameOfReferenceUID"])
        except Exception:  # noqa: BLE001 - not DICOM: try the next file
            continue
        if wanted and str(ds.get("SeriesInstanceUID", "")) != wanted:
            continue
        return str(ds.get("FrameOfReferenceUID", "")) or None
    return None


def method_settings(settings: RegistrationConfig) -> dict[str, Any]:
    """The settings that shape a registration (all but where it is stored and how judged)."""
    return settings.model_dump(mode="json", exclude={"output", "min_dice", "max_dice_loss"})


def _identity(fixed: Any, moving: Any, why: str, settings: RegistrationConfig
              ) -> ScanRegistration:
    return ScanRegistration(fixed.job.scan_id, moving.job.scan_id, f"identity ({why})",
                            sitk.Euler3DTransform(), {"headline": 1.0}, "identity", [],
                            method_settings(settings))


def _pair(fixed: Any, moving: Any) -> tuple[sitk.Image, sitk.Image, str, str, str]:
    """The images to register, their kinds and the note of a PET fallback."""
    if fixed.anatomy is not None and moving.anatomy is not None:
        return fixed.anatomy, moving.anatomy, fixed.anatomy_kind, moving.anatomy_kind, ""
    missing = [s.job.scan_id for s in (fixed, moving) if s.anatomy is None]
    return fixed.pet, moving.pet, "PT", "PT", f"; no CT or MR on {', '.join(missing)}"


def register_scans(fixed: Any, moving: Any, settings: RegistrationConfig | None = None
                   ) -> ScanRegistration:
    """Register the MOVING scan onto the FIXED scan of the same patient.

    Parameters
    ----------
    fixed, moving : nethelpers.review.ScanImages
        The scans' images (``pet``, ``anatomy``, ``anatomy_kind``, ``job.scan_id``).
    settings : RegistrationConfig, optional
        The ``registration:`` parameters; default their defaults.

    Returns
    -------
    ScanRegistration
        Identity for the same scan or frame of reference; else rigid (and B-spline where
        needed) with its quality and verdict.
    """
    settings = settings or RegistrationConfig()
    if fixed.job.scan_id == moving.job.scan_id:
        return _identity(fixed, moving, "same scan", settings)
    fixed_for = frame_of_reference_uid(fixed)
    if fixed_for is not None and fixed_for == frame_of_reference_uid(moving):
        return _identity(fixed, moving, "same frame of reference", settings)
    start = time.perf_counter()
    f_image, m_image, f_kind, m_kind, note = _pair(fixed, moving)
    f_work = working_image(f_image, settings.working_spacing_mm)
    m_work = working_image(m_image, settings.working_spacing_mm)
    f_mask, m_mask = body_mask(f_work, f_kind, settings), body_mask(m_work, m_kind, settings)
    mattes = not (f_kind == m_kind == "CT" and settings.ct_metric == "mean_squares")
    metric = "Mattes MI" if mattes else "mean squares"
    rigid, final_metric, iterations = rigid_step(f_work, m_work, f_mask, m_mask, settings,
                                                 mattes)
    before = body_dice(f_mask, m_mask, sitk.Euler3DTransform())
    dice_rigid = body_dice(f_mask, m_mask, rigid)
    transform: sitk.Transform = rigid
    step = "rigid"
    if settings.deformable == "always" or (
            settings.deformable == "auto" and dice_rigid < settings.deformable_below_dice):
        bspline, final_metric = bspline_step(f_work, m_work, f_mask, rigid, settings, mattes)
        transform = sitk.CompositeTransform([rigid, bspline])
        step = "rigid+B-spline"
    after = dice_rigid if transform is rigid else body_dice(f_mask, m_mask, transform)
    quality = {"headline": after, "body_dice_before": before, "body_dice_after": after,
               "body_dice_rigid": dice_rigid, "final_metric": final_metric,
               "iterations": float(iterations),
               "seconds": round(time.perf_counter() - start, 3)}
    f_name = "PET" if f_kind == "PT" else f_kind
    m_name = "PET" if m_kind == "PT" else m_kind
    kind = f"{step} {f_name}-{m_name} ({metric}{note})"
    reg = ScanRegistration(fixed.job.scan_id, moving.job.scan_id, kind, transform, quality,
                           "good", [], method_settings(settings))
    judge(reg, settings)
    return reg


def judge(reg: ScanRegistration, settings: RegistrationConfig) -> ScanRegistration:
    """Set the verdict (good / poor) and its warning from the quality and ``min_dice``."""
    if reg.verdict == "identity":
        return reg
    after, before = reg.quality["body_dice_after"], reg.quality["body_dice_before"]
    reasons = []
    if not after >= settings.min_dice:
        reasons.append(f"body Dice {after:.2f} below {settings.min_dice:.2f}")
    if after + settings.max_dice_loss < before:
        reasons.append(f"body Dice fell from {before:.2f} to {after:.2f}")
    reg.verdict = "poor" if reasons else "good"
    reg.warnings = [f"registration of {reg.moving_scan} onto {reg.fixed_scan} is poor "
                    f"({'; '.join(reasons)}): markers carried between them may miss the "
                    "lesion; check them by eye"] if reasons else []
    return reg
