"""Every demo seed generates: lesions and liver references placed as promised (issue 15).

``nethelpers demo --seed 5`` and ``--seed 8`` used to stop with "could not place a point in
the requested region": rejection sampling gave up in a crowded organ (the liver reference
sphere beside large metastases, the small uncinate process beside a pancreatic tumour). The
part that failed is checked here for seeds 0-50 and 60 patients, without writing DICOM;
the promises (centre inside its region with the site's margin, 2 mm between lesions, the
liver reference 6 mm clear of organs and lesions) are recomputed with numpy from the
anatomy's shapes, not with the generator's own tests.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from nethelpers.demo import cohort_sim as cs
from nethelpers.demo.anatomy import Cylinder, Ellipsoid, Tissue
from nethelpers.demo.followup_sim import lesions_at
from nethelpers.demo.placement import PlacementError, grid_point, place_point, point_in
from nethelpers.demo.readers import _liver_reference

SEEDS = range(51)
PATIENTS = 60
#: Margin (mm) of a lesion centre inside its site's region, by lesion radius r (the
#: generator's promise; 0 for every other site).
MARGIN = {"pancreas": lambda r: 0.5 * r, "liver": lambda r: r + 4.0}
GAP_MM = 2.0          # between two lesions' spheres
REFERENCE_RADIUS, REFERENCE_GAP = 15.0, 6.0
#: (seed, patient index) whose lesions stopped ``nethelpers demo`` before the fix.
FAILED_BEFORE = {(8, 41), (9, 23), (12, 9), (16, 36), (23, 41), (27, 51), (37, 27), (37, 46),
                 (48, 11)}


@cache
def cohort() -> tuple[tuple[int, cs.Patient], ...]:
    """Seeds 0-50 × 60 patients (the part of ``nethelpers demo`` that failed), once."""
    return tuple((seed, cs.simulate_patient(i, seed)) for seed in SEEDS
                 for i in range(PATIENTS))


def _inside(shape, points: np.ndarray, margin: float) -> np.ndarray:
    """The shape's equation, semi-axes (and a cylinder's ends) moved ``margin`` inwards.

    ``points`` is ``(3,)`` or ``(n, 3)``; returns a bool or ``(n,)`` bools.
    """
    q = np.atleast_2d(points)
    if isinstance(shape, Ellipsoid):
        semi = np.maximum(np.asarray(shape.semi) - margin, 0.5)
        inside = np.sum(((q - np.asarray(shape.center)) / semi) ** 2, axis=1) <= 1.0
    else:
        assert isinstance(shape, Cylinder)
        semi = np.maximum(np.asarray(shape.semi_xy) - margin, 0.5)
        inside = ((np.sum(((q[:, :2] - np.asarray(shape.center_xy)) / semi) ** 2, axis=1) <= 1.0)
                  & (q[:, 2] >= shape.z0 + margin) & (q[:, 2] <= shape.z1 - margin))
    return inside if np.ndim(points) == 2 else bool(inside[0])


def _region(p: cs.Patient, site: str) -> list:
    """The shapes of a site, from the anatomy (organs, marrow) and the site regions."""
    anatomy = p.anatomy
    marrow = [s for s in anatomy.bone_shapes if s.tissue == Tissue.MARROW]
    femur_z = -800.0 * anatomy.body.zscale
    bones = {
        "bone_spine": [s for s in marrow if isinstance(s, Cylinder) and s.center_xy[0] == 0.0],
        "bone_pelvis": [s for s in marrow if isinstance(s, Ellipsoid)],
        "bone_femur": [s for s in marrow if isinstance(s, Cylinder) and s.center_xy[0] != 0.0
                       and s.z1 < femur_z],
        "bone_humerus": [s for s in marrow if isinstance(s, Cylinder) and s.center_xy[0] != 0.0
                         and s.z1 >= femur_z],
    }
    organs = {"pancreas": Tissue.PANCREAS, "liver": Tissue.LIVER, "uncinate": Tissue.UNCINATE}
    regions = cs._regions(anatomy.body.zscale, anatomy.body.girth)
    named = {"small_bowel": "smallbowel", "lymph_node_mesenteric": "node_mesenteric",
             "lymph_node_paraaortic": "node_paraaortic",
             "lymph_node_mediastinal": "node_mediastinal", "soft_tissue_thigh": "thigh_soft",
             "head_sinonasal": "sinonasal", "accessory_spleen": "splenic_hilum"}
    if site in bones:
        return bones[site]
    if site in organs:
        return anatomy.organ(organs[site])
    return regions[named[site]]


def _free_grid_points(shapes: list, margin: float, spheres: list[tuple[np.ndarray, float]],
                      step: float = 0.5) -> int:
    """How many points of a ``step`` grid lie ``margin`` inside and clear of ``spheres``."""
    free = 0
    for shape in shapes:
        lo, hi = shape.bounds()
        axes = [np.arange(a, b + step, step) for a, b in zip(lo, hi, strict=True)]
        points = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        keep = _inside(shape, points, margin)
        for centre, reach in spheres:
            keep &= np.linalg.norm(points - centre, axis=1) > reach
        free += int(keep.sum())
    return free


@pytest.mark.slow      # ~3 s: 3060 simulated patients (no DICOM)
def test_every_seed_places_every_lesion_inside_its_region():
    left_out = []
    for seed, p in cohort():
        lesions = p.lesions
        assert [les.lesion_id for les in lesions] == [
            f"{p.patient_id}-L{n:02d}" for n in range(1, len(lesions) + 1)]
        for les in lesions:
            r = (les.diameter_mm - 0.05) / 2.0          # diameters are rounded to 0.1 mm
            margin = MARGIN.get(les.site, lambda r: 0.0)(r)
            shapes = _region(p, les.site)
            assert any(_inside(s, les.center, margin) for s in shapes), (
                seed, les.lesion_id, les.site)
        for n, a in enumerate(lesions):
            for b in lesions[:n]:
                gap = np.linalg.norm(a.center - b.center) - (a.diameter_mm + b.diameter_mm) / 2
                assert gap > GAP_MM - 0.06, (seed, a.lesion_id, b.lesion_id)   # 0.1 mm rounding
        left_out += [(seed, p, *u) for u in p.unplaced]
    # only patients that could not be generated before lost a focus: a physiological
    # uncinate focus beside a pancreatic tumour, whose region is really full (below)
    assert {(seed, p.index) for seed, p, *_ in left_out} <= FAILED_BEFORE
    assert len(left_out) >= 1
    for seed, p, site, desc, d, before in left_out:
        assert site == "uncinate" and desc.startswith("prominent physiological")
        spheres = [(les.center, les.diameter_mm / 2 + d / 2 + GAP_MM)
                   for les in p.lesions[:before]]
        margin = MARGIN.get(site, lambda r: 0.0)(d / 2)
        assert _free_grid_points(_region(p, site), margin, spheres) == 0, (seed, p.patient_id)


@pytest.mark.slow      # ~2 s: the liver sphere of 3060 patients
def test_every_seed_places_the_liver_reference():
    """The 3 cm liver sphere of reader R1's ROIs, drawn as ``nethelpers demo`` draws it."""
    for seed, p in cohort():
        present = lesions_at(p, p.scans[0])     # the first (baseline) scan's lesions
        point = _liver_reference(p, np.random.default_rng([seed, p.index, 200, 0]),
                                 REFERENCE_RADIUS, present)
        margin = REFERENCE_RADIUS + REFERENCE_GAP
        assert _inside(p.anatomy.organ(Tissue.LIVER)[0], point, margin), (seed, p.patient_id)
        for les in present:         # lesions are kept 4 mm + the margin away
            distance = np.linalg.norm(point - les.center)
            assert distance > les.diameter_mm / 2 + 4.0 + margin, (seed, les.lesion_id)
        for tissue in (Tissue.KIDNEY, Tissue.ADRENAL, Tissue.PANCREAS, Tissue.UNCINATE,
                       Tissue.LUNG, Tissue.BLOOD, Tissue.MYOCARDIUM):
            for organ in p.anatomy.organ(tissue):
                if isinstance(organ, Ellipsoid):
                    assert not _inside(organ, point, -margin), (seed, p.patient_id, tissue)


def test_grid_point_finds_the_room_rejection_sampling_misses():
    # a 10 mm sphere, covered but for a cap 1.5 mm high by a placed sphere and its clearance
    region = Ellipsoid(0, (0.0, 0.0, 0.0), (10.0, 10.0, 10.0))
    placed = [Ellipsoid(0, (-9.0, 0.0, 0.0), (13.0, 13.0, 13.0))]
    with pytest.raises(PlacementError):
        point_in([region], np.random.default_rng(1), avoid=placed, clearance=4.5, tries=20)
    points = [grid_point([region], np.random.default_rng(seed), avoid=placed, clearance=4.5)
              for seed in range(5)]
    points.append(place_point([region], np.random.default_rng(1), avoid=placed,
                              clearance=4.5))
    for point in points:
        assert np.linalg.norm(point) <= 10.0                       # in the region
        assert np.linalg.norm(point - (-9.0, 0.0, 0.0)) > 17.5     # clear of the sphere
    assert len({tuple(q) for q in points}) > 1                     # drawn, not always one
    with pytest.raises(PlacementError, match="no room"):            # a full region
        grid_point([region], np.random.default_rng(0), avoid=placed, clearance=12.0)
