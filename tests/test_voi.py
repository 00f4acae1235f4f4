"""VOI helpers: spheres, click-to-grow and background shells, against brute-force geometry."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from nethelpers.voi import (
    LIVER_SPHERE_RADIUS_MM,
    grow_from_click,
    shell_mask,
    sphere_mask,
)


def _dist2(shape, spacing, centre_zyx):
    sp = np.asarray(spacing, dtype=float)[::-1]
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return (((grid - np.asarray(centre_zyx)) * sp) ** 2).sum(axis=-1)


@pytest.mark.parametrize("centre", [(10.0, 12.3, 9.7), (0.0, 0.0, 0.0), (19.6, 2.2, 25.0)])
def test_sphere_mask_is_exact(centre):
    shape, spacing = (20, 24, 26), (2.0, 2.5, 3.0)
    got = sphere_mask(shape, spacing, centre, 11.0)
    assert np.array_equal(got, _dist2(shape, spacing, centre) <= 11.0**2)


def test_liver_sphere_volume_is_that_of_a_3cm_ball():
    assert LIVER_SPHERE_RADIUS_MM == 15.0
    got = sphere_mask((60, 60, 60), (1.0, 1.0, 1.0), (30.2, 29.9, 30.1), 15.0)
    assert got.sum() / 1000.0 == pytest.approx(4 / 3 * np.pi * 15**3 / 1000, rel=0.01)


def test_sphere_on_an_oblique_grid_is_round_in_millimetres():
    img = sitk.Image(30, 30, 30, sitk.sitkUInt8)
    img.SetSpacing((2.0, 2.0, 3.0))
    img.SetDirection(sitk.VersorRigid3DTransform([0.2, 0.1, 0.3, 0.927]).GetMatrix())
    img.SetOrigin((-20.0, 5.0, 100.0))
    point = img.TransformContinuousIndexToPhysicalPoint((14.3, 15.1, 12.7))
    centre = img.TransformPhysicalPointToContinuousIndex(point)[::-1]
    mask = sphere_mask(sitk.GetArrayViewFromImage(img).shape, img.GetSpacing(), centre, 9.0)
    for k, j, i in np.argwhere(mask):
        p = img.TransformIndexToPhysicalPoint((int(i), int(j), int(k)))
        assert np.linalg.norm(np.subtract(p, point)) <= 9.0 + 1e-9
    assert mask.sum() == (_dist2(mask.shape, img.GetSpacing(), centre) <= 81.0).sum()


def _phantom():
    """Background 1, a 10 mm-radius lesion of SUV 8 (2 mm voxels) and a hot organ nearby."""
    shape, spacing = (40, 40, 40), (2.0, 2.0, 2.0)
    suv = np.ones(shape, dtype=np.float32)
    lesion = _dist2(shape, spacing, (20, 20, 15)) <= 10.0**2
    suv[lesion] = 8.0
    suv[5:12, 5:12, 30:38] = 20.0                      # a hot organ 30 mm away
    return suv, spacing, lesion


def test_click_grows_the_lesion_exactly_and_finds_its_peak():
    suv, spacing, lesion = _phantom()
    suv = suv.copy()
    suv[20, 21, 16] = 9.0                              # the hottest voxel, off the click
    got = grow_from_click(suv, (22, 19, 14), spacing)
    assert got.peak == (20, 21, 16) and got.suv_max == 9.0
    assert got.background == 1.0                       # the shell 20-30 mm out is background
    assert got.threshold == pytest.approx(1.0 + 0.5 * (9.0 - 1.0))
    assert np.array_equal(got.mask, lesion)            # 5.0 cut: lesion yes, background no
    assert not got.touches_bound
    plain = grow_from_click(suv, (22, 19, 14), spacing, fraction=0.41, background=False)
    assert plain.threshold == pytest.approx(0.41 * 9.0) and plain.background == 0.0
    assert np.array_equal(plain.mask, lesion)


def test_click_on_a_faint_lesion_beside_a_hot_organ_finds_the_lesion():
    """The peak is the lesion's own maximum, not the hotter organ 8 mm away; the
    background-adapted cut keeps the VOI to the lesion."""
    shape, spacing = (40, 40, 40), (2.0, 2.0, 2.0)
    suv = np.full(shape, 2.0, dtype=np.float32)
    lesion = _dist2(shape, spacing, (20, 20, 12)) <= 6.0**2
    suv[lesion] = 5.0
    organ = _dist2(shape, spacing, (20, 20, 26)) <= 10.0**2   # 8 mm from the lesion's edge
    suv[organ] = 20.0
    got = grow_from_click(suv, (20, 20, 12), spacing)
    assert got.suv_max == 5.0 and got.peak[2] < 16
    assert np.array_equal(got.mask, lesion)
    old = grow_from_click(suv, (20, 20, 12), spacing, fraction=0.41, background=False,
                          search_mm=0.5)
    assert np.array_equal(old.mask, lesion)            # from the lesion's own peak, also fine
    cold = np.full(shape, 7.0, dtype=np.float32)
    cold[lesion] = 4.0                                  # colder than its background
    with pytest.raises(ValueError, match="no focal uptake"):
        grow_from_click(cold, (20, 20, 12), spacing)


def test_click_respects_exclusions_and_reports_leaks():
    suv, spacing, lesion = _phantom()
    half = np.zeros_like(lesion)
    half[:, :, :15] = True
    got = grow_from_click(suv, (20, 20, 17), spacing, exclude=half)
    assert np.array_equal(got.mask, lesion & ~half)
    # a click on uniform background grows into everything up to the bound: flagged
    leak = grow_from_click(np.ones((30, 30, 30), np.float32), (15, 15, 15), (2.0, 2.0, 2.0),
                           max_radius_mm=20.0, background=False)
    assert leak.touches_bound
    assert np.array_equal(leak.mask, _dist2((30, 30, 30), (2, 2, 2), (15, 15, 15)) <= 400.0)


def test_click_errors_are_clear():
    suv, spacing, _ = _phantom()
    with pytest.raises(ValueError, match="outside the volume"):
        grow_from_click(suv, (40, 0, 0), spacing)
    with pytest.raises(ValueError, match=r"fraction must lie in \(0, 1\)"):
        grow_from_click(suv, (20, 20, 15), spacing, fraction=1.2)
    inside = np.zeros(suv.shape, dtype=bool)
    inside[18:23, 18:23, 13:18] = True
    with pytest.raises(ValueError, match="lies inside another VOI"):
        grow_from_click(suv, (20, 20, 15), spacing, search_mm=0, exclude=inside)
    with pytest.raises(ValueError, match="no focal uptake"):
        grow_from_click(np.zeros((5, 5, 5), np.float32), (2, 2, 2), spacing)


@pytest.mark.parametrize(("spacing", "other_x"), [
    ((2.0, 2.5, 3.0), 32),
    # fine voxels: the other lesion lies beyond the shell, within the gap of it (a crop of
    # the shell's own reach would not see it)
    ((1.65, 1.65, 1.65), 38),
])
def test_shell_is_the_distance_band_minus_other_lesions_hot_and_air(spacing, other_x):
    shape = (40, 44, 48)
    labels = np.zeros(shape, dtype=np.uint16)
    lesion = _dist2(shape, spacing, (20, 22, 20)) <= 8.0**2
    labels[lesion] = 11
    other = _dist2(shape, spacing, (20, 22, other_x)) <= 5.0**2
    labels[other] = 12
    suv = np.full(shape, 2.0, dtype=np.float32)
    suv[:, :8, :] = 30.0                               # a hot organ
    suv[:6, :, :] = 0.0                                # air
    got = shell_mask(labels, 11, spacing, gap_mm=4.0, width_mm=8.0, suv=suv,
                     hot_above=10.0, min_suv=0.1)
    # brute force: distance of every voxel to the nearest lesion voxel
    sp = np.asarray(spacing)[::-1]
    grid = np.argwhere(np.ones(shape, bool))
    def nearest(mask):
        pts = np.argwhere(mask) * sp
        from scipy.spatial import cKDTree
        d, _ = cKDTree(pts).query(grid * sp)
        return d.reshape(shape)
    d_lesion = nearest(lesion)
    d_other = nearest(other)
    expected = ((d_lesion > 4.0) & (d_lesion <= 12.0) & (d_other > 4.0) & (suv <= 10.0)
                & (suv >= 0.1))
    assert np.array_equal(got, expected)
    assert got.sum() > 100 and not (got & lesion).any() and not (got & other).any()


def test_shell_arguments_are_checked():
    labels = np.zeros((5, 5, 5), np.uint16)
    with pytest.raises(ValueError, match="need the SUV volume"):
        shell_mask(labels, 1, (1, 1, 1), hot_above=3.0)
    with pytest.raises(ValueError, match="width_mm > 0"):
        shell_mask(labels, 1, (1, 1, 1), width_mm=0)
    assert not shell_mask(labels, 1, (1, 1, 1)).any()      # empty VOI: empty shell


def test_click_in_normal_liver_refused_at_lesions_accepted(demo_study):
    """review.min_contrast on a blurred, noisy demo scan: the generator's own tissue map gives
    the normal liver; truth positions and true SUVs give the lesions."""
    import pandas as pd
    from scipy import ndimage

    from nethelpers.configreview import ReviewConfig
    from nethelpers.demo.anatomy import LESION_LABEL0, Tissue, paint
    from nethelpers.demo.cohort_sim import simulate_patient
    from nethelpers.demo.imaging import scan_grid

    scan_id, min_contrast = "P002-DOTATATE-PETCT", ReviewConfig().min_contrast
    assert min_contrast == 1.5
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv").set_index("scan_id")
    reader = sitk.ImageSeriesReader()                 # an independent reader, not ours
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(
        str(demo_study / scans.at[scan_id, "pet_dir"])))
    reader.SetOutputPixelType(sitk.sitkFloat32)
    pet = reader.Execute()
    truth = pd.read_csv(demo_study / "truth" / "scans.csv").set_index("scan_id")
    suv = sitk.GetArrayFromImage(pet) * np.float32(truth.at[scan_id, "suv_bw_factor_g_per_bq"])
    spacing = pet.GetSpacing()

    patient = simulate_patient(1, 0)
    scan = next(s for s in patient.scans if s.scan_id == scan_id)
    tissue = paint(scan_grid(patient, scan, "PT"), scan.pose, patient.anatomy)
    assert tissue.shape == suv.shape
    far = ndimage.distance_transform_edt(tissue < LESION_LABEL0, sampling=spacing[::-1]) > 30
    inside = ndimage.distance_transform_edt(tissue == Tissue.LIVER, sampling=spacing[::-1]) > 10
    points = np.argwhere(inside & far)
    picks = points[np.random.default_rng(0).choice(len(points), 20, replace=False)]
    refused = 0
    for idx in picks:
        grow_from_click(suv, idx, spacing)            # today's click: a "lesion" of liver
        try:
            grow_from_click(suv, idx, spacing, min_contrast=min_contrast)
        except ValueError as exc:
            refused += 1
            assert "review.min_contrast" in str(exc) and "brush" in str(exc)
            assert f"{min_contrast:g}" in str(exc)
    assert refused >= 18, refused                      # measured: 18 of 20 (noise peaks)

    lesions = pd.read_csv(demo_study / "truth" / "lesions.csv").set_index("lesion_id")
    positions = pd.read_csv(demo_study / "truth" / "lesion_positions.csv")
    hot = 0
    for row in positions[positions["scan_id"] == scan_id].itertuples():
        if lesions.at[row.lesion_id, "true_suv_dotatate"] < 1.5 * truth.at[scan_id,
                                                                          "true_suv_liver"]:
            continue                                    # fainter than 1.5x liver: may go
        hot += 1
        idx = pet.TransformPhysicalPointToIndex((row.x_mm, row.y_mm, row.z_mm))[::-1]
        grown = grow_from_click(suv, idx, spacing, min_contrast=min_contrast)
        assert grown.contrast >= min_contrast and grown.mask[idx]
    assert hot == 8                                   # P002's lesions hotter than 1.5x liver
