"""A lesion outside a scan's field of view is not in its image: the demo reader cannot call it.

P035 of the 60-patient seed-0 demo has a culprit tumour in the distal femur, below the
vertex-to-mid-thigh field of view of both its DOTATATE PET/CT and its HYNIC-TOC SPECT/CT.
"""

from __future__ import annotations

import numpy as np

from nethelpers.demo.cohort_sim import simulate_patient
from nethelpers.demo.imaging import scan_grid
from nethelpers.demo.readers import READERS, lesions_in_view, simulate_reads


def _z_range(grid):
    """Slice centres' z extent, by hand (identity direction: z = origin + k * spacing)."""
    z0 = grid.origin[2]
    return z0, z0 + (grid.size[2] - 1) * grid.spacing[2]


def test_a_lesion_below_the_field_of_view_gets_no_read():
    p = simulate_patient(34, 0)
    assert p.patient_id == "P035"
    femur = next(les for les in p.lesions if les.site == "bone_femur")
    for scan in p.scans:
        grid = scan_grid(p, scan, "PT" if scan.system == "PET" else scan.storage)
        lo, hi = _z_range(grid)
        z = float(scan.pose.to_patient(np.asarray(femur.center))[2])
        assert z + femur.diameter_mm / 2 < lo - grid.spacing[2] / 2, scan.scan_id  # wholly out
        seen = lesions_in_view(p, scan, grid)
        assert seen == {les.lesion_id for les in p.lesions} - {femur.lesion_id}
        rows = simulate_reads(p, scan, np.random.default_rng(1), visible=seen)
        assert {r["lesion_id"] for r in rows} == seen
        assert len(rows) == len(seen) * len(READERS)
        # the lesions in view are read as without the filter (same random draws)
        every = simulate_reads(p, scan, np.random.default_rng(1))
        assert [r for r in every if r["lesion_id"] in seen] == rows


def test_a_scan_with_no_lesion_in_view_is_read_with_nothing_called():
    p = simulate_patient(34, 0)
    scan = p.scans[0]
    rows = simulate_reads(p, scan, np.random.default_rng(1), visible=set())
    assert [(r["lesion_id"], r["call"]) for r in rows] == [("none", "negative")] * len(READERS)
