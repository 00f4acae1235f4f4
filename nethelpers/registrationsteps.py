"""The SimpleITK steps of a scan registration: working images, body masks, rigid, B-spline, Dice.

Every step takes SimpleITK images in patient space (LPS mm) and the ``registration:``
settings (:class:`nethelpers.configregistration.RegistrationConfig`); transforms follow the
ITK convention: they map a point of the FIXED image to the MOVING image.
:mod:`nethelpers.registration` puts them together.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi

from nethelpers.configregistration import RegistrationConfig

__all__ = ["body_dice", "body_mask", "bspline_step", "rigid_step", "working_image"]

#: In-plane (axial) connectivity only: holes (lungs, bowel gas) are filled slice by slice.
_AXIAL_FILL = np.zeros((3, 3, 3), dtype=bool)
_AXIAL_FILL[1] = ndi.generate_binary_structure(2, 1)


def working_image(image: sitk.Image, spacing_mm: float) -> sitk.Image:
    """Smooth (Gaussian, sigma half the new spacing) and resample onto an isotropic grid.

    Parameters
    ----------
    image : SimpleITK.Image
        CT, MR or PET on its own grid.
    spacing_mm : float
        The new voxel size.

    Returns
    -------
    SimpleITK.Image
        float32 over the same extent; outside values are the image's minimum.
    """
    image = sitk.Cast(image, sitk.sitkFloat32)
    size = [max(2, int(round(n * s / spacing_mm)))
            for n, s in zip(image.GetSize(), image.GetSpacing(), strict=True)]
    floor = float(np.min(sitk.GetArrayViewFromImage(image)))
    smooth = sitk.SmoothingRecursiveGaussian(image, spacing_mm / 2.0)
    return sitk.Resample(smooth, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(),
                         (spacing_mm,) * 3, image.GetDirection(), floor, sitk.sitkFloat32)


def body_mask(image: sitk.Image, kind: str, settings: RegistrationConfig) -> sitk.Image:
    """The patient's body: threshold, holes filled per axial slice, largest component.

    Parameters
    ----------
    image : SimpleITK.Image
        A working image (see :func:`working_image`).
    kind : str
        ``"CT"`` (HU threshold), ``"MR"`` (fraction of the 99th percentile) or ``"PT"`` (SUV).
    settings : RegistrationConfig
        ``body_ct_hu``, ``body_mr_fraction``, ``body_pet_suv``.

    Returns
    -------
    SimpleITK.Image
        uint8 mask (1 = body) on the image's grid.
    """
    values = sitk.GetArrayViewFromImage(image)
    if kind == "CT":
        threshold = settings.body_ct_hu
    elif kind == "MR":
        threshold = settings.body_mr_fraction * float(np.percentile(values, 99))
    else:
        threshold = settings.body_pet_suv
    mask = ndi.binary_fill_holes(values > threshold, _AXIAL_FILL)
    labels, n = ndi.label(mask)
    if n > 1:
        counts = np.bincount(labels.ravel())
        counts[0] = 0
        mask = labels == int(counts.argmax())
    out = sitk.GetImageFromArray(mask.astype(np.uint8))
    out.CopyInformation(image)
    return out


def body_dice(fixed_mask: sitk.Image, moving_mask: sitk.Image, transform: sitk.Transform
              ) -> float:
    """Dice of the body masks after mapping, counted where both scans have image data.

    Parameters
    ----------
    fixed_mask, moving_mask : SimpleITK.Image
        Body masks (:func:`body_mask`).
    transform : SimpleITK.Transform
        Fixed point to moving point.

    Returns
    -------
    float
        ``2 |F and M| / (|F| + |M|)`` over the fixed voxels whose mapped point lies inside the
        moving image (a field of view that ends earlier is not a misregistration); NaN when
        the scans do not overlap.
    """
    moved = sitk.Resample(moving_mask, fixed_mask, transform, sitk.sitkNearestNeighbor, 0)
    inside = sitk.Resample(moving_mask * 0 + 1, fixed_mask, transform,
                           sitk.sitkNearestNeighbor, 0)
    keep = sitk.GetArrayViewFromImage(inside) > 0
    a = (sitk.GetArrayViewFromImage(fixed_mask) > 0) & keep
    b = (sitk.GetArrayViewFromImage(moved) > 0) & keep
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else float("nan")


def _method(settings: RegistrationConfig, fixed_mask: sitk.Image, mattes: bool,
            sampling: float) -> sitk.ImageRegistrationMethod:
    """A registration method with the metric, sampling, mask and pyramid of the settings."""
    reg = sitk.ImageRegistrationMethod()
    if mattes:
        reg.SetMetricAsMattesMutualInformation(settings.histogram_bins)
    else:
        reg.SetMetricAsMeanSquares()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    reg.SetMetricSamplingPercentage(sampling, settings.seed)
    reg.SetMetricFixedMask(sitk.BinaryDilate(fixed_mask, [2, 2, 2]))
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetShrinkFactorsPerLevel(list(settings.shrink_factors))
    reg.SetSmoothingSigmasPerLevel(list(settings.smoothing_sigmas_mm))
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    return reg


def rigid_step(fixed: sitk.Image, moving: sitk.Image, fixed_mask: sitk.Image,
               moving_mask: sitk.Image, settings: RegistrationConfig, mattes: bool = True
               ) -> tuple[sitk.Euler3DTransform, float, int]:
    """Rigid (Euler 3-D) registration, multi-resolution, from centred body masks.

    Parameters
    ----------
    fixed, moving : SimpleITK.Image
        Working images.
    fixed_mask, moving_mask : SimpleITK.Image
        Their body masks (the fixed one, dilated, limits the metric's samples).
    settings : RegistrationConfig
        Pyramid, metric, optimiser and initialisation settings.
    mattes : bool
        Mattes mutual information (else mean squares: same modality only).

    Returns
    -------
    tuple
        The transform (fixed to moving), the final metric value, the optimiser iterations of
        the last level.
    """
    if settings.initialise == "moments":
        a, b = sitk.Cast(fixed_mask, sitk.sitkFloat32), sitk.Cast(moving_mask, sitk.sitkFloat32)
        how = sitk.CenteredTransformInitializerFilter.MOMENTS
    else:
        a, b, how = fixed, moving, sitk.CenteredTransformInitializerFilter.GEOMETRY
    start = sitk.CenteredTransformInitializer(a, b, sitk.Euler3DTransform(), how)
    reg = _method(settings, fixed_mask, mattes, settings.sampling_fraction)
    reg.SetOptimizerAsRegularStepGradientDescent(
        learningRate=settings.learning_rate, minStep=settings.min_step,
        numberOfIterations=settings.iterations, relaxationFactor=0.5)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetInitialTransform(start, inPlace=True)
    reg.Execute(fixed, moving)
    return start, float(reg.GetMetricValue()), int(reg.GetOptimizerIteration())


def bspline_step(fixed: sitk.Image, moving: sitk.Image, fixed_mask: sitk.Image,
                 rigid: sitk.Transform, settings: RegistrationConfig, mattes: bool = True
                 ) -> tuple[sitk.BSplineTransform, float]:
    """B-spline refinement on top of a rigid transform (the rigid one stays fixed).

    Returns
    -------
    tuple
        The B-spline (applied to fixed points before ``rigid``), the final metric value.
    """
    mesh = [max(1, int(round(n * s / settings.bspline_mesh_mm)))
            for n, s in zip(fixed.GetSize(), fixed.GetSpacing(), strict=True)]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh, order=3)
    reg = _method(settings, fixed_mask, mattes, settings.bspline_sampling_fraction)
    reg.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5,
                             numberOfIterations=settings.bspline_iterations,
                             maximumNumberOfCorrections=5, maximumNumberOfFunctionEvaluations=
                             4 * settings.bspline_iterations)
    reg.SetMovingInitialTransform(rigid)
    reg.SetInitialTransform(bspline, inPlace=True)
    reg.Execute(fixed, moving)
    return bspline, float(reg.GetMetricValue())
