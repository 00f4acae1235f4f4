"""Lesion matching across time points: mapped centres, gate, global assignment, IDs.

Tiny synthetic label maps (40 x 40 x 30 voxels of 4 mm) with 2 x 2 x 2-voxel cubes as VOIs.
Expected points and distances are computed here with numpy from the voxel indices the test
places (a cube's centre of mass is its corner index + 0.5 voxel) and, for the rigid case, a
rotation matrix built and applied here -- never from the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.configresponse import ResponseConfig
from nethelpers.lesionmatch import DEFAULT_MATCH_MAX_MM, MATCH_COLUMNS, match_lesions
from nethelpers.roitables import table_from_rows

SPACING = 4.0
SIZE_XYZ = (40, 40, 30)
CUBE = 2                                         # voxels per side
# equivalent-sphere radius of a 2x2x2 cube of 4 mm voxels: V = 512 mm^3
RADIUS = (3 * (CUBE * SPACING) ** 3 / (4 * math.pi)) ** (1 / 3)
GATE = DEFAULT_MATCH_MAX_MM + RADIUS             # 15 + 4.96 mm


def label_map(corners, origin=(0.0, 0.0, 0.0)):
    """A label map with cube i + 1 at voxel corner (x, y, z) of ``corners``."""
    array = np.zeros(SIZE_XYZ[::-1], dtype=np.uint16)
    for label, (x, y, z) in enumerate(corners, start=1):
        array[z:z + CUBE, y:y + CUBE, x:x + CUBE] = label
    image = sitk.GetImageFromArray(array)
    image.SetSpacing([SPACING] * 3)
    image.SetOrigin(origin)
    return image


def centre(corner, origin=(0.0, 0.0, 0.0)):
    """Physical centre of mass of the cube at a voxel corner (x, y, z)."""
    return np.asarray(origin) + SPACING * (np.asarray(corner, float) + (CUBE - 1) / 2)


def table(ids, extra=()):
    rows = [{"label": i, "roi": "lesion", "lesion_id": lid, "reader": "R1",
             "method": "manual"}
            for i, lid in enumerate(ids, start=1)]
    rows += [{"label": len(ids) + k + 1, "roi": roi, "reader": "R1", "method": "manual"}
             for k, roi in enumerate(extra)]
    return table_from_rows(rows)


def rotation(degrees_z, degrees_x):
    """R = Rz @ Rx, built here."""
    a, b = math.radians(degrees_z), math.radians(degrees_x)
    rz = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    return rz @ rx


def row_of(result, *, baseline=None, followup=None):
    key, value = ("baseline_label", baseline) if baseline else ("followup_label", followup)
    rows = result[result[key] == value]
    assert len(rows) == 1
    return rows.iloc[0]


def test_the_default_gate_is_the_configs():
    assert DEFAULT_MATCH_MAX_MM == ResponseConfig().match_max_mm == 15.0


def test_rigid_transform_finds_every_pair_and_flags_new_and_gone():
    base_corners = [(10, 10, 8), (25, 12, 10), (15, 28, 18), (28, 26, 20), (18, 18, 12)]
    centre_rot = np.array([80.0, 80.0, 60.0])
    r, t = rotation(8.0, 5.0), np.array([20.0, -22.0, 12.0])   # lesions move 29-36 mm
    fu_origin = (10.0, -20.0, 4.0)
    # follow-up VOIs at the nearest voxel corner of T(baseline centre); lesion 5 disappears
    mapped = [r @ (centre(c) - centre_rot) + centre_rot + t for c in base_corners[:4]]
    fu_corners = [tuple(int(v) for v in np.round((m - fu_origin) / SPACING - (CUBE - 1) / 2))
                  for m in mapped]
    fu_corners.append((5, 33, 4))                       # new: far from every lesion
    transform = sitk.Euler3DTransform()
    transform.SetCenter(centre_rot.tolist())
    transform.SetMatrix(r.ravel().tolist())
    transform.SetTranslation(t.tolist())

    result = match_lesions(label_map(base_corners), table(["L1", "L2", "L3", "L4", "L5"],
                                                          extra=("liver",)),
                           label_map(fu_corners, fu_origin),
                           table(["L1", "L2", "L3", "L4", "L9"], extra=("spleen",)), transform)

    assert list(result.columns) == MATCH_COLUMNS
    assert len(result) == 6                        # 4 matched + 1 gone + 1 new; no references
    for k in range(4):
        row = row_of(result, baseline=k + 1)
        assert row["status"] == "matched" and row["followup_label"] == k + 1
        expected = np.linalg.norm(mapped[k] - centre(fu_corners[k], fu_origin))
        assert row["distance_mm"] == pytest.approx(expected, abs=1e-6)
        assert row["distance_mm"] < SPACING
        assert row["gate_mm"] == pytest.approx(GATE)
        assert bool(row["id_agrees"]) is True
    gone = row_of(result, baseline=5)
    assert gone["status"] == "gone" and pd.isna(gone["followup_label"])
    mapped5 = r @ (centre(base_corners[4]) - centre_rot) + centre_rot + t
    nearest = min(np.linalg.norm(mapped5 - centre(c, fu_origin)) for c in fu_corners)
    assert gone["second_best_mm"] == pytest.approx(nearest, abs=1e-6)
    assert gone["second_best_mm"] > GATE
    new = row_of(result, followup=5)
    assert (new["status"], new["followup_lesion_id"]) == ("new", "L9")
    assert bool(new["id_agrees"]) is True          # L9 is not a baseline ID either

    # the control: without the registration no lesion finds its own follow-up VOI
    unregistered = match_lesions(label_map(base_corners), table(list("ABCDE")),
                                 label_map(fu_corners, fu_origin), table(list("ABCDE")))
    own = unregistered["baseline_label"] == unregistered["followup_label"]
    assert not own.fillna(False).any()


def test_a_near_pair_beyond_the_gate_is_not_matched_but_within_it_is():
    base = label_map([(10, 10, 10), (25, 25, 10)])
    # lesion 1 moved 6 voxels (24 mm > gate 19.96), lesion 2 moved 4 voxels (16 mm < gate)
    follow = label_map([(16, 10, 10), (29, 25, 10)])
    result = match_lesions(base, table(["L1", "L2"]), follow, table(["L1", "L2"]))
    assert row_of(result, baseline=1)["status"] == "gone"
    assert row_of(result, baseline=1)["second_best_mm"] == pytest.approx(24.0)
    assert row_of(result, followup=1)["status"] == "new"
    assert bool(row_of(result, followup=1)["id_agrees"]) is False   # the reader linked it
    pair = row_of(result, baseline=2)
    assert (pair["status"], pair["followup_label"]) == ("matched", 2)
    assert pair["distance_mm"] == pytest.approx(16.0)
    # a wider gate (20 + 4.96 = 24.96 mm > 24 mm) takes the first pair too
    wider = match_lesions(base, table(["L1", "L2"]), follow, table(["L1", "L2"]), max_mm=20.0)
    assert (wider["status"] == "matched").sum() == 2
    with pytest.raises(ValueError, match="max_mm"):
        match_lesions(base, table(["L1", "L2"]), follow, table(["L1", "L2"]), max_mm=0)


def test_global_assignment_beats_greedy_nearest_neighbour():
    # baseline A (x=10), B (x=13); follow-up P (x=12), Q (x=16): all moved ~ +8..12 mm
    base_corners, fu_corners = [(10, 20, 10), (13, 20, 10)], [(12, 20, 10), (16, 20, 10)]
    b = np.array([centre(c) for c in base_corners])
    f = np.array([centre(c) for c in fu_corners])
    d = np.linalg.norm(b[:, None] - f[None], axis=2)       # A-P 8, A-Q 24, B-P 4, B-Q 12
    # greedy: the globally nearest pair first (B-P), then A-Q which is beyond the gate
    i, j = np.unravel_index(np.argmin(d), d.shape)
    assert (i, j) == (1, 0) and d[0, 1] > GATE
    result = match_lesions(label_map(base_corners), table(["A", "B"]),
                           label_map(fu_corners), table(["A", "B"]))
    assert (result["status"] == "matched").all() and len(result) == 2
    a, bb = row_of(result, baseline=1), row_of(result, baseline=2)
    assert (a["followup_label"], bb["followup_label"]) == (1, 2)
    assert (a["distance_mm"], bb["distance_mm"]) == pytest.approx((d[0, 0], d[1, 1]))
    # A-P is ambiguous: B is 4 mm from P, closer than A's 8 mm
    assert a["second_best_mm"] == pytest.approx(d[1, 0])


def test_identity_path_none_and_an_identity_transform_agree():
    corners = [(10, 10, 10), (20, 22, 14)]
    follow = [(11, 10, 10), (20, 21, 15)]
    expected = [np.linalg.norm(centre(a) - centre(b)) for a, b in zip(corners, follow, strict=True)]
    none = match_lesions(label_map(corners), table(["L1", "L2"]), label_map(follow),
                         table(["L1", "L2"]))
    ident = match_lesions(label_map(corners), table(["L1", "L2"]), label_map(follow),
                          table(["L1", "L2"]), sitk.Euler3DTransform())
    assert list(none["distance_mm"]) == pytest.approx(expected)
    pd.testing.assert_frame_equal(none, ident)
    with pytest.raises(TypeError, match="SimpleITK.Transform"):
        match_lesions(label_map(corners), table(["L1", "L2"]), label_map(follow),
                      table(["L1", "L2"]), np.eye(4))


def test_lesion_id_disagreement_is_flagged_and_missing_ids_are_na():
    corners = [(10, 10, 10), (25, 25, 10), (10, 30, 20)]
    follow = [(10, 10, 11), (25, 25, 11), (10, 30, 21)]
    base_table = pd.DataFrame({"label": [1, 2, 3], "roi": "lesion",
                               "lesion_id": ["L1", "L2", ""]})
    fu_table = pd.DataFrame({"label": [1, 2, 3], "roi": "lesion",
                             "lesion_id": ["L2", "L2", "L3"]})
    result = match_lesions(label_map(corners), base_table, label_map(follow), fu_table)
    assert (result["status"] == "matched").all()
    assert bool(row_of(result, baseline=1)["id_agrees"]) is False   # L1 proposed, read L2
    assert bool(row_of(result, baseline=2)["id_agrees"]) is True
    assert pd.isna(row_of(result, baseline=3)["id_agrees"])         # no baseline ID


def test_empty_maps():
    empty = label_map([])
    none = match_lesions(empty, table([]), empty, table([], extra=("liver",)))
    assert len(none) == 0 and list(none.columns) == MATCH_COLUMNS
    follow = [(10, 10, 10), (20, 20, 10)]
    result = match_lesions(empty, table([], extra=("liver",)), label_map(follow),
                           table(["N1", "N2"]))
    assert list(result["status"]) == ["new", "new"]
    assert list(result["followup_label"]) == [1, 2]
    assert result["second_best_mm"].isna().all() and result["distance_mm"].isna().all()
    gone = match_lesions(label_map(follow), table(["L1", "L2"]), empty, table([]))
    assert list(gone["status"]) == ["gone", "gone"]


def test_suvmax_points_when_the_suv_is_given():
    base, follow = label_map([(10, 10, 10)]), label_map([(10, 10, 10)])
    suv_b = np.ones(SIZE_XYZ[::-1])
    suv_f = np.ones(SIZE_XYZ[::-1])
    suv_b[10, 10, 10] = 5.0                      # (z, y, x) corner voxel
    suv_f[11, 11, 11] = 5.0                      # opposite corner
    result = match_lesions(base, table(["L1"]), follow, table(["L1"]),
                           baseline_suv=suv_b, followup_suv=suv_f)
    assert result["distance_mm"].iloc[0] == pytest.approx(SPACING * math.sqrt(3))
    plain = match_lesions(base, table(["L1"]), follow, table(["L1"]))
    assert plain["distance_mm"].iloc[0] == pytest.approx(0.0)


def test_what_cannot_be_placed_is_refused():
    base = label_map([(10, 10, 10)])
    ghost = pd.DataFrame({"label": [1, 7], "roi": "lesion", "lesion_id": ["L1", "L7"]})
    with pytest.raises(ValueError, match=r"baseline ROI table: label 7 \(lesion L7\) has no "
                       "voxel") as info:
        match_lesions(base, ghost, base, table(["L1"]))
    assert "/" not in str(info.value)
    with pytest.raises(ValueError, match="follow-up ROI table: no column lesion_id"):
        match_lesions(base, table(["L1"]), base, pd.DataFrame({"label": [1], "roi": "lesion"}))


def test_a_persistent_lesion_is_not_traded_for_two_pairs_across_its_neighbours():
    """Review finding: lesion B (16 mm from A) disappears and a new lesion appears 16 mm on
    A's other side. Two pairs (A -> new, B -> A) fit the gate, but A stays where it is: the
    proposal keeps A -> A, B gone, the new VOI new (total 0 + 2 x gate/2 = 19.96 against
    16 + 16 = 32 for the two pairs)."""
    base = label_map([(10, 10, 10), (14, 10, 10)])               # A, B: 16 mm apart
    follow = label_map([(10, 10, 10), (6, 10, 10)])              # A, a new lesion
    result = match_lesions(base, table(["A", "B"]), follow, table(["F1", "F2"]))
    a = row_of(result, baseline=1)
    assert (a["status"], a["followup_label"], a["distance_mm"]) == ("matched", 1, 0.0)
    assert a["second_best_mm"] == pytest.approx(16.0)
    assert row_of(result, baseline=2)["status"] == "gone"
    assert row_of(result, followup=2)["status"] == "new"
