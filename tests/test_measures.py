"""VOI measures: SUVpeak against a brute-force sphere search, analytic volumes, PERCIST."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethelpers.measures import (
    PEAK_RADIUS_MM,
    percist_threshold,
    suv_peak,
    threshold_volume,
    voi_stats,
    voxel_volume_ml,
)
from nethelpers.voi import ball_offsets


def naive_peak(suv, mask, spacing, radius=PEAK_RADIUS_MM):
    """Brute force: for every VOI voxel, the mean of all image voxels within the radius."""
    sp = np.asarray(spacing, dtype=float)[::-1]
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in suv.shape], indexing="ij"), axis=-1)
    best, where = -np.inf, None
    for c in np.argwhere(mask):
        d2 = (((grid - c) * sp) ** 2).sum(axis=-1)
        value = suv[d2 <= radius**2].astype(np.float64).mean()
        if value > best:
            best, where = value, tuple(int(v) for v in c)
    return best, where


def test_peak_sphere_is_one_millilitre():
    assert 4.0 / 3.0 * np.pi * PEAK_RADIUS_MM**3 == pytest.approx(1000.0, rel=1e-12)
    assert round(PEAK_RADIUS_MM, 4) == 6.2035


@pytest.mark.parametrize(("spacing", "count"), [
    ((4.0, 4.0, 4.0), 19),          # centre, 6 faces, 12 edges (5.66 mm); corners 6.93 > r
    ((2.0, 2.0, 2.0), 123),
    ((4.0, 4.0, 2.0), 39),          # 9, 9, 5, 1 voxels at 0, ±2, ±4, ±6 mm
])
def test_ball_offsets_count_voxel_centres_inside(spacing, count):
    off = ball_offsets(spacing, PEAK_RADIUS_MM)
    assert len(off) == count
    assert tuple(off[0]) == (0, 0, 0)
    # brute force over a generous cube
    r = 5
    cube = np.stack(np.meshgrid(*[np.arange(-r, r + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
    d2 = ((cube * np.asarray(spacing)[::-1]) ** 2).sum(axis=1)
    assert len(off) == int((d2 <= PEAK_RADIUS_MM**2).sum())


@pytest.mark.parametrize("spacing", [(4.0, 4.0, 4.0), (2.0, 2.0, 3.0), (2.7, 2.7, 2.0),
                                     (1.5, 4.0, 3.27)])
def test_suv_peak_equals_brute_force(spacing):
    rng = np.random.default_rng(7)
    suv = rng.gamma(2.0, 2.0, size=(14, 15, 16)).astype(np.float32)
    mask = np.zeros(suv.shape, dtype=bool)
    mask[3:9, 2:6, 5:12] = rng.random((6, 4, 7)) < 0.6
    mask[0, 0, 0] = mask[13, 14, 15] = True          # corners: spheres cut by the image edge
    value, where = suv_peak(suv, mask, spacing)
    expected, expected_where = naive_peak(suv, mask, spacing)
    assert value == pytest.approx(expected, rel=1e-12)
    assert where == expected_where


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), radius=st.floats(2.0, 9.0),
       sx=st.sampled_from([1.0, 2.0, 2.5, 4.0]), sz=st.sampled_from([1.5, 2.0, 3.0, 5.0]))
def test_suv_peak_property_matches_brute_force(seed, radius, sx, sz):
    rng = np.random.default_rng(seed)
    suv = rng.random((7, 8, 9))
    mask = rng.random(suv.shape) < 0.15
    mask[rng.integers(0, 7), rng.integers(0, 8), rng.integers(0, 9)] = True
    value, _ = suv_peak(suv, mask, (sx, sx, sz), radius)
    expected, _ = naive_peak(suv, mask, (sx, sx, sz), radius)
    assert value == pytest.approx(expected, rel=1e-12)
    assert value <= suv[mask].max() + 1e-12 or value <= suv.max()


def test_peak_of_a_uniform_sphere_is_its_value_and_max_is_exact():
    sp = (2.0, 2.0, 2.0)
    z, y, x = np.mgrid[:30, :30, :30]
    inside = ((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2) * 4.0 <= 12.0**2
    suv = np.where(inside, 7.25, 1.0).astype(np.float32)
    stats = voi_stats(suv, inside, sp)
    assert stats.suv_max == 7.25 and stats.suv_mean == 7.25 and stats.suv_sd == 0.0
    peak, where = suv_peak(suv, inside, sp)
    assert peak == 7.25
    # the VOI grown by 2 voxels holds background: the peak is still the core
    grown = ((z - 15) ** 2 + (y - 15) ** 2 + (x - 15) ** 2) * 4.0 <= 16.0**2
    assert suv_peak(suv, grown, sp)[0] == 7.25


def test_voi_stats_match_numpy():
    rng = np.random.default_rng(1)
    suv = rng.normal(5, 1, (10, 11, 12)).astype(np.float32)
    mask = rng.random(suv.shape) < 0.3
    s = voi_stats(suv, mask, (2.0, 3.0, 4.0))
    v = suv[mask].astype(np.float64)
    assert s.n_voxels == mask.sum()
    assert s.volume_ml == pytest.approx(mask.sum() * 24.0 / 1000.0)
    assert s.suv_mean == pytest.approx(v.mean(), rel=1e-14)
    assert s.suv_sd == pytest.approx(v.std(ddof=1), rel=1e-12)
    assert s.suv_max == v.max() and suv[s.max_index] == v.max()
    one = np.zeros_like(mask)
    one[2, 3, 4] = True
    assert np.isnan(voi_stats(suv, one, (1, 1, 1)).suv_sd)
    with pytest.raises(ValueError, match="empty"):
        voi_stats(suv, np.zeros_like(mask), (1, 1, 1))
    with pytest.raises(ValueError, match="differs"):
        suv_peak(suv, mask[:5], (1, 1, 1))


def _partial_volume_sphere(n: int, spacing: float, radius: float, sub: int = 6) -> np.ndarray:
    """Fraction of each voxel inside a sphere centred in the volume (sub^3 supersampling)."""
    centre = (n - 1) / 2.0 * spacing + 0.37           # off the voxel lattice
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    frac = np.zeros((n, n, n))
    axis = np.arange(n) * spacing
    for dz in offsets:
        for dy in offsets:
            for dx in offsets:
                z = (axis + dz * spacing - centre) ** 2
                y = (axis + dy * spacing - centre) ** 2
                x = (axis + dx * spacing - centre) ** 2
                frac += (z[:, None, None] + y[None, :, None] + x[None, None, :]) <= radius**2
    return frac / sub**3


@pytest.mark.parametrize(("radius", "spacing", "rel"), [(15.0, 1.0, 0.02), (20.0, 2.0, 0.03),
                                                        (25.0, 4.0, 0.05)])
def test_mtv_of_a_sphere_matches_its_analytic_volume(radius, spacing, rel):
    """Blur-free sphere with partial volume on zero background: MTV at 50 % of the maximum is
    the sphere's volume to within the voxelisation error; at 41 % a little more."""
    n = int(2 * radius / spacing) + 8
    suv = 6.0 * _partial_volume_sphere(n, spacing, radius)
    voi = np.ones(suv.shape, dtype=bool)
    analytic = 4.0 / 3.0 * np.pi * radius**3 / 1000.0
    stats = voi_stats(suv, voi, (spacing,) * 3)
    assert stats.suv_max == 6.0
    ml = voxel_volume_ml((spacing,) * 3)
    half = threshold_volume(suv, voi, 0.5 * stats.suv_max).sum() * ml
    assert half == pytest.approx(analytic, rel=rel)
    mtv41 = threshold_volume(suv, voi, 0.41 * stats.suv_max).sum() * ml
    assert half <= mtv41 <= analytic * (1 + 3 * rel)


def test_threshold_is_inclusive_and_inside_the_voi():
    suv = np.array([[[1.0, 4.1, 10.0, 20.0]]])
    voi = np.array([[[True, True, True, False]]])
    assert threshold_volume(suv, voi, 4.1).tolist() == [[[False, True, True, False]]]


def test_percist_threshold():
    assert percist_threshold(2.0, 0.3) == pytest.approx(3.6)
    assert percist_threshold(7.5, 0.8, mean_factor=1.0, sd_factor=0.0) == 7.5
    assert np.isnan(percist_threshold(float("nan"), 0.3))
