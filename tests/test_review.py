"""The review session (no Qt): clicks, references, reads, undo, markers, save and restore."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from nethelpers.config import params_from_dict
from nethelpers.quantify import quantify_scan, scan_jobs
from nethelpers.review import ReviewSession
from nethelpers.rois import RoiConflictError, RoiStore


@pytest.fixture()
def params(demo_study, tmp_path):
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    return params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                       "rois": str(tmp_path / "rois")}})


def _patient(demo_study) -> str:
    return pd.read_csv(demo_study / "clinical" / "scans.csv")["patient_id"].iloc[0]


def _truth_index(session, demo_study, lesion_id):
    pos = pd.read_csv(demo_study / "truth" / "lesion_positions.csv")
    row = pos[(pos.scan_id == session.current) & (pos.lesion_id == lesion_id)].iloc[0]
    return session.images.pet.TransformPhysicalPointToIndex((row.x_mm, row.y_mm, row.z_mm)
                                                            )[::-1]


def test_session_opens_the_patients_scans_with_anatomy(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    mine = scans[scans.patient_id == s.patient_id]
    assert sorted(s.scan_ids) == sorted(mine.scan_id)
    assert s.current == s.scan_ids[0] and "DOTATATE" in s.current
    assert s.images.anatomy_kind == "CT" and s.images.anatomy is not None
    assert s.labels.shape == s.images.suv.shape and s.labels.dtype == np.uint16
    assert s.version.version == 1 and not s.dirty
    with pytest.raises(KeyError, match="has no PET scan"):
        ReviewSession(params, "P999", "AB")
    with pytest.raises(ValueError, match="name the reader"):
        ReviewSession(params, s.patient_id, " ")


def test_click_on_a_lesion_gives_the_numbers_quantify_saves(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    seed = _truth_index(s, demo_study, lesion)
    s.delete(lesion_id=lesion)
    voi = s.add_lesion_at(seed, lesion_id=lesion)
    assert voi.lesion_id == lesion and voi.volume_ml > 0 and not voi.touches_bound
    assert (s.table.loc[s.table.lesion_id == lesion, "method"] == "click-grow").all()
    s.save("click")
    job = next(j for j in scan_jobs(params) if j.scan_id == s.current)
    saved = quantify_scan(job).rows.set_index("lesion_id").loc[lesion]
    assert voi.suv_max == pytest.approx(saved["suv_max"], rel=1e-12)
    assert voi.suv_peak == pytest.approx(saved["suv_peak"], rel=1e-12)
    assert voi.volume_ml == pytest.approx(saved["volume_ml"], rel=1e-12)
    assert voi.tb_liver == pytest.approx(saved["tb_liver"], rel=1e-12)
    # the VOI holds the hottest voxel near the click, at 41 % of it
    peak = s.lesion_centre(lesion)
    assert s.images.suv[peak] == pytest.approx(voi.suv_max)
    with pytest.raises(ValueError, match="already has a VOI"):
        s.add_lesion_at(seed, lesion_id=lesion)


def test_new_lesions_get_new_ids_and_references_move(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    known = s.known_lesions()
    new_id = s.next_lesion_id()
    assert new_id not in known and new_id.startswith(s.patient_id + "-L")
    liver_before = int((s.labels == 1).sum())
    centre = np.argwhere(s.labels == 1).mean(axis=0)
    stats = s.place_reference("liver", tuple(centre + [0, 0, 1]))
    assert int((s.labels == 1).sum()) == pytest.approx(liver_before, rel=0.1)
    assert stats["volume_ml"] == pytest.approx(int((s.labels == 1).sum()) * 0.064)
    assert (s.table.roi == "liver").sum() == 1
    with pytest.raises(ValueError, match="reference region 'kidney'"):
        s.place_reference("kidney", (1, 1, 1))


def test_undo_reads_brush_edits_and_delete(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    before = s.labels.copy()
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.delete(lesion_id=lesion)
    assert lesion not in set(s.table.lesion_id) and s.dirty
    assert s.undo() and lesion in set(s.table.lesion_id)
    np.testing.assert_array_equal(s.labels, before)
    s.set_read(lesion, call="positive", krenning=3, confidence=4, site="liver",
               note="typical")
    row = s.reads.set_index("lesion_id").loc[lesion]
    assert (row.call, row.krenning, row.confidence) == ("positive", "3", "4")
    with pytest.raises(ValueError, match="unknown read field"):
        s.set_read(lesion, colour="red")
    # a brush stroke with a new label becomes a manual lesion VOI
    edited = s.labels.copy()
    edited[5:7, 60:62, 60:62] = 99
    s.set_labels(edited, lesion_id="P000-L99")
    row = s.table.set_index("label").loc[99]
    assert (row.roi, row.lesion_id, row.method, row.reader) == (
        "lesion", "P000-L99", "manual", "AB")
    table = s.lesion_table().set_index("lesion_id")
    assert table.loc[lesion, "call"] == "positive" and table.loc["P000-L99", "on_scan"]


def test_save_reload_conflict_and_restore(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    assert s.save() is None                                  # nothing changed
    s.set_read(lesion, call="equivocal")
    v2 = s.save("first read")
    assert (v2.version, v2.reader, v2.note, v2.parent) == (2, "AB", "first read", 1)
    other = ReviewSession(params, s.patient_id, "CD")        # a second reader opens it
    assert other.reads.set_index("lesion_id").loc[lesion, "call"] == "equivocal"
    other.delete(lesion_id=lesion)
    other.save("CD removes it")
    s.set_read(lesion, call="positive")
    with pytest.raises(RoiConflictError, match="saved since by CD"):
        s.save()
    assert s.save_anyway().version == 4                      # both kept
    restored = s.restore(2)
    assert restored.restored_from == 2 and restored.version == 5
    assert lesion in set(s.table.lesion_id) and not s.dirty
    assert s.reads.set_index("lesion_id").loc[lesion, "call"] == "equivocal"
    assert s.history()["reader"].tolist() == ["R1", "AB", "CD", "AB", "AB"]


def test_markers_carry_lesions_of_other_scans_to_this_one(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    first, second = s.scan_ids[0], s.scan_ids[1]
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    expected_peak = s.lesion_centre(lesion)
    expected_mm = s.images.pet.TransformIndexToPhysicalPoint(
        [int(v) for v in expected_peak[::-1]])
    s.open_scan(second)
    if lesion in set(s.table.lesion_id):
        s.delete(lesion_id=lesion)                           # not recorded here (yet)
    markers = s.markers().set_index("lesion_id")
    assert lesion in markers.index and markers.loc[lesion, "from_scan"] == first
    np.testing.assert_allclose(markers.loc[lesion, ["x_mm", "y_mm", "z_mm"]].astype(float),
                               expected_mm, atol=1e-6)
    idx = s.images.pet.TransformPhysicalPointToContinuousIndex(expected_mm)[::-1]
    np.testing.assert_allclose(markers.loc[lesion, ["z", "y", "x"]].astype(float), idx,
                               atol=1e-6)
    # edits on the first scan were kept while the second was open
    assert s.current == second
    s.open_scan(first)
    assert lesion in set(s.table.lesion_id)


def test_save_all_saves_every_edited_scan(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    a, b = s.scan_ids[:2]
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.set_read(lesion, call="positive")
    s.open_scan(b)
    s.set_read(lesion, call="negative")
    saved = s.save_all(note="autosave")
    assert sorted(v.scan_id for v in saved) == sorted([a, b]) and not s.dirty
    store = RoiStore(params.study.rois)
    assert store.load(a).reads.set_index("lesion_id").loc[lesion, "call"] == "positive"
    assert store.load(b).reads.set_index("lesion_id").loc[lesion, "call"] == "negative"
    assert store.latest(a).note == "autosave"


def test_brush_marks_only_touched_vois_manual_and_empty_reads_take_text(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    lesions = s.table[s.table.roi == "lesion"]
    first, second = int(lesions.label.iloc[0]), int(lesions.label.iloc[1])
    s.set_read(lesions.lesion_id.iloc[0], call="positive")
    s.set_read(lesions.lesion_id.iloc[0], call="")          # cleared again
    s.save()
    reopened = ReviewSession(params, s.patient_id, "AB")
    assert (reopened.reads["call"] == "").all()
    reopened.set_read(lesions.lesion_id.iloc[1], krenning=2)   # text into a saved table
    edited = reopened.labels.copy()
    z, y, x = np.argwhere(edited == first)[0]
    edited[z, y, x] = 0                                        # one voxel erased
    reopened.set_labels(edited)
    methods = reopened.table.set_index("label")["method"]
    assert methods[first] == "manual" and methods[second] == "sphere"
    assert reopened.dirty_scans() == [reopened.current]
    reopened.reload()
    assert reopened.dirty_scans() == [] and (reopened.labels == first).sum() == (
        s.labels == first).sum()


def test_lesion_table_numbers_equal_single_measures(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    table = s.lesion_table().set_index("lesion_id")
    for _, row in table[table.on_scan].iterrows():
        single = s.measure(int(row.label))
        assert row.suv_max == pytest.approx(single["suv_max"], rel=1e-12)
        assert row.tb_liver == pytest.approx(single["tb_liver"], rel=1e-12)


def test_new_ids_never_reuse_a_read_and_the_table_hides_the_truth_list(demo_study, tmp_path):
    """Reviewer's cases: a deleted lesion's read keeps its ID out of use; the reader's table
    lists lesions with VOIs or reads only, never the reference-standard list."""
    (tmp_path / "rois").mkdir()
    params = params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                         "rois": str(tmp_path / "rois")}})
    pid = _patient(demo_study)
    s = ReviewSession(params, pid, "AB")                   # nothing saved for this patient
    truth = pd.read_csv(demo_study / "truth" / "lesions.csv")
    truth_ids = set(truth.loc[truth.patient_id == pid, "lesion_id"])
    assert s.lesion_table().empty                            # blinded: no truth rows
    first = s.next_lesion_id()
    assert first not in truth_ids                            # but no clash with the truth IDs
    s.set_read(first, call="positive", krenning=4)
    assert s.next_lesion_id() != first                      # a read alone reserves the ID
    assert s.lesion_table()["lesion_id"].tolist() == [first]


def test_moving_a_reference_never_erases_a_lesion_with_its_label(params, demo_study):
    """A lesion may carry label 1 (e.g. imported from a SEG): moving the liver sphere uses the
    liver row's own label."""
    s = ReviewSession(params, _patient(demo_study), "AB")
    liver = int(s.table.loc[s.table.roi == "liver", "label"].iloc[0])
    lesion = s.table[s.table.roi == "lesion"].iloc[0]
    relabelled = s.labels.copy()
    relabelled[s.labels == liver] = 40
    relabelled[s.labels == int(lesion.label)] = liver
    s._cur.state.labels = relabelled
    table = s.table.copy()
    table.loc[table.roi == "liver", "label"] = 40
    table.loc[table.lesion_id == lesion.lesion_id, "label"] = liver
    s._cur.state.table = table
    voxels = int((s.labels == liver).sum())
    centre = np.argwhere(s.labels == 40).mean(axis=0)
    s.place_reference("liver", tuple(centre + [0, 0, 1]))
    assert int((s.labels == liver).sum()) == voxels          # the lesion is untouched
    assert (s.labels == 40).any() and set(s.table.loc[s.table.roi == "liver", "label"]) == {40}


def test_autosave_skips_a_conflicting_scan_and_restore_checks_the_parent(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "AB")
    a, b = s.scan_ids[:2]
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.set_read(lesion, call="positive")
    s.open_scan(b)
    s.set_read(lesion, call="negative")
    other = ReviewSession(params, s.patient_id, "CD")
    other.set_read(lesion, call="equivocal")
    other.save("CD first")                                   # CD saves scan a meanwhile
    saved, conflicts = s.autosave()
    assert [v.scan_id for v in saved] == [b] and conflicts == [a]
    assert s.dirty_scans() == [a]
    s.open_scan(a)
    with pytest.raises(RoiConflictError):
        s.restore(1)                                         # would silently undo CD's save
