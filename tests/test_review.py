"""The review session (no Qt): clicks, references, reads, undo, markers, save and restore."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.config import params_from_dict
from nethelpers.quantify import quantify_scan, scan_jobs
from nethelpers.review import ReviewSession, ScanOpenError
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
    s = ReviewSession(params, _patient(demo_study), "R1")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    mine = scans[scans.patient_id == s.patient_id]
    assert sorted(s.scan_ids) == sorted(mine.scan_id)
    assert s.current == s.scan_ids[0] and "DOTATATE" in s.current
    assert s.images.anatomy_kind == "CT" and s.images.anatomy is not None
    assert s.labels.shape == s.images.suv.shape and s.labels.dtype == np.uint16
    assert s.version.version == 1 and not s.dirty
    with pytest.raises(KeyError, match="has no PET scan"):
        ReviewSession(params, "P999", "R1")
    with pytest.raises(ValueError, match="name the reader"):
        ReviewSession(params, s.patient_id, " ")


def test_click_on_a_lesion_gives_the_numbers_quantify_saves(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "R1")
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
    s = ReviewSession(params, _patient(demo_study), "R1")
    known = s.known_lesions()
    new_id = s.next_lesion_id()
    assert new_id not in known and new_id.startswith(s.patient_id + "-R1-L")
    # blinded readers never share a new ID by chance (the consensus pairs lesions by ID)
    other = ReviewSession(params, _patient(demo_study), "R 2")
    assert re.fullmatch(rf"{s.patient_id}-R2-[0-9a-f]{{4}}-L01", other.next_lesion_id())
    assert other.next_lesion_id() != s.next_lesion_id()
    liver_before = int((s.labels == 1).sum())
    centre = np.argwhere(s.labels == 1).mean(axis=0)
    stats = s.place_reference("liver", tuple(centre + [0, 0, 1]))
    assert int((s.labels == 1).sum()) == pytest.approx(liver_before, rel=0.1)
    assert stats["volume_ml"] == pytest.approx(int((s.labels == 1).sum()) * 0.064)
    assert (s.table.roi == "liver").sum() == 1
    with pytest.raises(ValueError, match="reference region 'kidney'"):
        s.place_reference("kidney", (1, 1, 1))


def test_undo_reads_brush_edits_and_delete(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "R1")
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
        "lesion", "P000-L99", "manual", "R1")
    table = s.lesion_table().set_index("lesion_id")
    assert table.loc[lesion, "call"] == "positive" and table.loc["P000-L99", "on_scan"]


def test_save_reload_conflict_and_restore(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "R1")
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    assert s.save() is None                                  # nothing changed
    s.set_read(lesion, call="equivocal")
    v2 = s.save("first read")
    assert (v2.version, v2.reader, v2.note, v2.parent) == (2, "R1", "first read", 1)
    other = ReviewSession(params, s.patient_id, "R1")        # R1 on a second workstation
    assert other.reads.set_index("lesion_id").loc[lesion, "call"] == "equivocal"
    other.delete(lesion_id=lesion)
    other.save("CD removes it")
    s.set_read(lesion, call="positive")
    with pytest.raises(RoiConflictError, match="version 3 was saved since by R1"):
        s.save()
    assert s.save_anyway().version == 4                      # both kept
    restored = s.restore(2)
    assert restored.restored_from == 2 and restored.version == 5
    assert lesion in set(s.table.lesion_id) and not s.dirty
    assert s.reads.set_index("lesion_id").loc[lesion, "call"] == "equivocal"
    history = s.history()
    assert history["reader"].tolist() == ["R1"] * 5             # one reader's set
    assert history["note"].tolist()[1:] == ["first read", "CD removes it",
                                            "saved over a newer version", "restored v2"]


def test_markers_carry_lesions_of_other_scans_to_this_one(params, demo_study):
    s = ReviewSession(params, _patient(demo_study), "R1")
    first, second = s.scan_ids[0], s.scan_ids[1]
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    # the centre of mass of its VOI on the first scan (plain numpy), in patient mm
    label = int(s.table.loc[s.table.lesion_id == lesion, "label"].iloc[0])
    centre = np.argwhere(s.labels == label).mean(axis=0)
    expected_mm = s.images.pet.TransformContinuousIndexToPhysicalPoint(
        [float(v) for v in centre[::-1]])
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
    s = ReviewSession(params, _patient(demo_study), "R1")
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
    s = ReviewSession(params, _patient(demo_study), "R1")
    lesions = s.table[s.table.roi == "lesion"]
    first, second = int(lesions.label.iloc[0]), int(lesions.label.iloc[1])
    s.set_read(lesions.lesion_id.iloc[0], call="positive")
    s.set_read(lesions.lesion_id.iloc[0], call="")          # cleared again
    s.save()
    reopened = ReviewSession(params, s.patient_id, "R1")
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
    s = ReviewSession(params, _patient(demo_study), "R1")
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
    s = ReviewSession(params, pid, "R1")                   # nothing saved for this patient
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
    s = ReviewSession(params, _patient(demo_study), "R1")
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
    s = ReviewSession(params, _patient(demo_study), "R1")
    a, b = s.scan_ids[:2]
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.set_read(lesion, call="positive")
    s.open_scan(b)
    s.set_read(lesion, call="negative")
    other = ReviewSession(params, s.patient_id, "R1")
    other.set_read(lesion, call="equivocal")
    other.save("CD first")                                   # CD saves scan a meanwhile
    saved, conflicts = s.autosave()
    assert [v.scan_id for v in saved] == [b] and conflicts == [a]
    assert s.dirty_scans() == [a]
    s.open_scan(a)
    with pytest.raises(RoiConflictError):
        s.restore(1)                                         # would silently undo CD's save


# --------------------------------------------------------------------------------------------
# independent readers: blinding, shared reference regions, the adjudicator's view
# --------------------------------------------------------------------------------------------


def _with(params, **readers):
    """The same parameters with other ``readers:`` settings."""
    return params.model_copy(update={"readers": params.readers.model_copy(update=readers)})


def test_a_second_reader_is_blinded_and_offered_only_reference_regions_if_allowed(
        params, demo_study):
    pid = _patient(demo_study)
    r1 = ReviewSession(params, pid, "R1")
    scan = r1.current
    lesion = r1.table.loc[r1.table.roi == "lesion", "lesion_id"].iloc[0]
    r1.set_read(lesion, call="positive", krenning=3)
    assert r1.save("R1's read").version == 2
    r2 = ReviewSession(params, pid, "R2", scan_id=scan)
    assert r2.version is None and int(r2.labels.max()) == 0 and not r2.warnings
    assert r2.table.empty and r2.reads.empty and r2.lesion_table().empty
    assert r2.markers().empty                        # no lesion of R1's other scans either
    with pytest.raises(PermissionError, match="blinded"):
        r2.readers_calls()
    # sharing on: R1's reference regions, voxel for voxel (read from R1's files directly)
    version = Path(params.study.rois) / scan / "R1" / "v000002"
    saved = sitk.GetArrayFromImage(sitk.ReadImage(str(version / "labels.nrrd")))
    rows = pd.read_csv(version / "rois.csv", keep_default_na=False)
    refs = rows[rows["roi"] != "lesion"]
    assert len(refs) >= 2 and (rows["roi"] == "lesion").any()
    shared = ReviewSession(_with(params, share_reference_regions=True), pid, "R2", scan_id=scan)
    assert sorted(shared.table["roi"]) == sorted(refs["roi"])
    assert (shared.table["lesion_id"] == "").all() and shared.reads.empty
    for ref in refs.itertuples():
        mine = int(shared.table.loc[shared.table.roi == ref.roi, "label"].iloc[0])
        np.testing.assert_array_equal(shared.labels == mine, saved == ref.label)
    assert np.isin(shared.labels, list(shared.table["label"]) + [0]).all()
    assert len(shared.warnings) == 1 and "of reader R1 offered" in shared.warnings[0]
    # R2 saves into R2's own set: R1's set is untouched
    shared.set_read(lesion, call="negative")
    assert (shared.save().reader, shared.version.version) == ("R2", 1)
    assert RoiStore(params.study.rois).latest(scan, reader="R1").version == 2


def test_the_adjudicator_sees_both_readers_calls_and_edits_the_consensus(params, demo_study):
    pid = _patient(demo_study)
    scan = ReviewSession(params, pid, "R1").current
    for reader, call in (("R1", "positive"), ("R2", "negative")):
        s = ReviewSession(params, pid, reader, scan_id=scan)
        s.set_read(f"{pid}-L01", call=call, confidence=4)
        s.save()
    with pytest.raises(ValueError, match="adjudicate=True"):
        ReviewSession(params, pid, "consensus")
    adj = ReviewSession(params, pid, "ADJ", scan_id=scan, adjudicate=True)
    assert adj.set_reader == "consensus" and adj.reads.empty        # no consensus saved yet
    wide = adj.readers_calls().set_index("lesion_id")
    assert wide.loc[f"{pid}-L01", ["call_R1", "call_R2"]].tolist() == ["positive", "negative"]
    assert wide.loc[f"{pid}-L01", ["confidence_R1", "confidence_R2"]].tolist() == ["4", "4"]
    adj.set_read(f"{pid}-L01", call="positive")
    v = adj.save("adjudicated")
    assert (v.reader, v.saved_by) == ("consensus", "ADJ")


def test_the_adjudicator_starts_from_the_readers_agreed_calls(params, demo_study):
    pid = _patient(demo_study)
    scan = ReviewSession(params, pid, "R1").current
    calls = {"R1": {"L01": ("positive", "3"), "L02": ("positive", "3"), "L03": ("equivocal", "2"),
                    "L04": ("negative", "0")},
             "R2": {"L01": ("positive", "2"), "L02": ("positive", "3"),
                    "L04": ("negative", "0")}}
    for reader, mine in calls.items():
        s = ReviewSession(params, pid, reader, scan_id=scan)
        for lesion, (call, krenning) in mine.items():
            s.set_read(f"{pid}-{lesion}", call=call, krenning=krenning)
        s.save()
    with pytest.raises(PermissionError, match="blinded"):
        ReviewSession(params, pid, "R2", scan_id=scan).adopt_agreements()
    adj = ReviewSession(params, pid, "ADJ", scan_id=scan, adjudicate=True)
    adj.set_read(f"{pid}-L04", call="equivocal")                  # decided already: kept
    adopted, left = adj.adopt_agreements()
    # by hand: both readers, same call and Krenning -> adopted; L01 (Krenning 3 vs 2) and
    # L03 (R1 only) are the adjudicator's; and every other lesion R1's saved set had
    wide = adj.readers_calls().set_index("lesion_id")
    agree = {lid for lid, r in wide.iterrows()
             if str(r["call_R1"]) not in ("", "nan") and r["call_R1"] == r["call_R2"]
             and r["krenning_R1"] == r["krenning_R2"]}
    assert f"{pid}-L02" in agree and f"{pid}-L01" not in agree
    assert set(adopted) == agree - {f"{pid}-L04"}
    assert {f"{pid}-L01", f"{pid}-L03"} <= set(left) and not set(left) & set(adopted)
    reads = adj.reads.set_index("lesion_id")
    assert reads.loc[f"{pid}-L02", ["call", "krenning"]].tolist() == ["positive", "3"]
    assert reads.loc[f"{pid}-L04", "call"] == "equivocal"
    assert adj.adopt_agreements() == ([], sorted(left))          # nothing twice


# --------------------------------------------------------------------------------------------
# robustness: a scan that fails to open, a missing MR; markers through a point map
# --------------------------------------------------------------------------------------------

ABSOLUTE = re.compile(r"(?:^|[\s'\"(=])/[\w.-]")


def _light_copy(demo: Path, root: Path, patient: str, drop_slice: str, no_anatomy: str) -> None:
    """The demo study by symlinks, with one PET slice of ``drop_slice`` missing and the CT/MR
    folder of ``no_anatomy`` gone (the demo itself is never changed)."""
    root.mkdir(parents=True)
    for name in ("clinical", "truth", "reads"):
        (root / name).symlink_to(demo / name, target_is_directory=True)
    shutil.copytree(demo / "rois", root / "rois")
    for scan_dir in sorted((demo / "dicom" / patient).iterdir()):
        for series in sorted(scan_dir.iterdir()):
            target = root / "dicom" / patient / scan_dir.name / series.name
            if scan_dir.name == no_anatomy and series.name != "PT":
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if scan_dir.name == drop_slice and series.name == "PT":
                files = sorted(series.iterdir())
                del files[len(files) // 2]                      # a slice in the middle
                target.mkdir()
                for f in files:
                    (target / f.name).symlink_to(f)
            else:
                target.symlink_to(series, target_is_directory=True)


@pytest.fixture()
def damaged(demo_study, tmp_path):
    pid = _patient(demo_study)
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    mine = scans[scans.patient_id == pid]
    bad = mine.loc[mine.tracer == "FDG", "scan_id"].iloc[0]
    no_mr = mine.loc[mine.modality == "PET/MR", "scan_id"].iloc[0]
    root = tmp_path / "DOE_JANE_study"                    # an identifying folder: never shown
    _light_copy(demo_study, root, pid, bad, no_mr)
    params = params_from_dict({"study": {"name": "t", "data_root": str(root)}})
    return {"params": params, "pid": pid, "bad": bad, "no_mr": no_mr, "root": root}


def test_a_scan_that_fails_to_open_leaves_the_session_on_the_previous_scan(damaged):
    d = damaged
    s = ReviewSession(d["params"], d["pid"], "R1")
    good = s.current
    assert good != d["bad"] and not s.warnings
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.set_read(lesion, call="positive")                     # an unsaved edit
    labels, table, reads, version = s.labels.copy(), s.table.copy(), s.reads.copy(), s.version
    with pytest.raises(ScanOpenError) as err:
        s.open_scan(d["bad"])
    reason = str(err.value)
    assert reason.startswith(f"{d['bad']} cannot be opened: <{d['pid']}/{d['bad']}>/")
    assert "ImagePositionPatient (0020,0032): a slice is missing" in reason and "Fix:" in reason
    assert str(d["root"]) not in reason and "DOE_JANE" not in reason
    assert not ABSOLUTE.search(reason) and "\n" not in reason
    # nothing changed: the same scan, its edits, its version
    assert s.current == good and s.images.job.scan_id == good
    np.testing.assert_array_equal(s.labels, labels)
    pd.testing.assert_frame_equal(s.table, table)
    pd.testing.assert_frame_equal(s.reads, reads)
    assert s.version == version and s.dirty_scans() == [good]
    # ... and fully working: measure, markers, save, and the refusal is repeatable
    label = int(table.loc[table.lesion_id == lesion, "label"].iloc[0])
    assert s.measure(label)["suv_max"] > 0
    assert list(s.markers().columns)[:2] == ["lesion_id", "from_scan"]
    saved = s.save("after a failed open")
    assert (saved.scan_id, saved.version) == (good, 2)
    with pytest.raises(ScanOpenError):
        s.open_scan(d["bad"])
    with pytest.raises(ScanOpenError):                      # for a registration: the same
        s.images_of(d["bad"])
    other = s.images_of(d["no_mr"])                         # loaded, not made current
    assert other.job.scan_id == d["no_mr"] and other.anatomy is None
    assert s.current == good and not s.dirty


def test_a_missing_mr_opens_pet_only_and_says_what_is_missing(damaged):
    d = damaged
    s = ReviewSession(d["params"], d["pid"], "R1", scan_id=d["no_mr"])
    assert s.current == d["no_mr"] and s.images.anatomy is None
    assert (s.table["roi"] == "lesion").any()                # its ROIs are there
    assert len(s.warnings) == 1
    text = s.warnings[0]
    assert text.startswith(f"{d['no_mr']}: no MR found: its folder <{d['pid']}/{d['no_mr']}>")
    assert "anat_dir in the scans table" in text and text.endswith("the scan opens PET-only")
    assert str(d["root"]) not in text and "DOE_JANE" not in text and not ABSOLUTE.search(text)


def test_markers_go_through_the_point_map_by_exactly_its_shift(params, demo_study):
    pid = _patient(demo_study)
    first_scan = ReviewSession(params, pid, "R1").scan_ids[0]
    second = [sid for sid in ReviewSession(params, pid, "R1").scan_ids if sid != first_scan][0]
    s = ReviewSession(params, pid, "R1", scan_id=second)    # the first scan is not loaded
    version = Path(params.study.rois) / first_scan / "R1" / "v000001"
    rows = pd.read_csv(version / "rois.csv", keep_default_na=False)
    lesion_row = rows[(rows["roi"] == "lesion")].iloc[0]
    lesion = lesion_row["lesion_id"]
    if lesion in set(s.table.lesion_id):
        s.delete(lesion_id=lesion)
    # independent truth: the centre of mass of the saved VOI, by SimpleITK + numpy
    saved = sitk.ReadImage(str(version / "labels.nrrd"))
    centre = np.argwhere(sitk.GetArrayFromImage(saved) == lesion_row["label"]).mean(axis=0)
    expected = np.array(saved.TransformContinuousIndexToPhysicalPoint(centre[::-1].tolist()))
    plain = s.markers().set_index("lesion_id")
    assert plain.loc[lesion, "from_scan"] == first_scan
    np.testing.assert_allclose(plain.loc[lesion, ["x_mm", "y_mm", "z_mm"]].astype(float),
                               expected, atol=1e-9)
    shift = np.array([7.5, -3.25, 12.0])
    calls = []

    def moved(from_scan, to_scan, point):
        calls.append((from_scan, to_scan))
        return tuple(np.asarray(point) + shift)

    s.point_map = moved
    mapped = s.markers().set_index("lesion_id")
    np.testing.assert_allclose(mapped.loc[lesion, ["x_mm", "y_mm", "z_mm"]].astype(float),
                               expected + shift, atol=1e-9)
    pet = s.images.pet
    matrix = np.reshape(pet.GetDirection(), (3, 3)) @ np.diag(pet.GetSpacing())
    index = np.linalg.solve(matrix, expected + shift - np.array(pet.GetOrigin()))
    np.testing.assert_allclose(mapped.loc[lesion, ["z", "y", "x"]].astype(float), index[::-1],
                               atol=1e-9)
    assert calls and set(calls) <= {(sid, second) for sid in s.scan_ids if sid != second}
    s.point_map = lambda *a: (_ for _ in ()).throw(RuntimeError("no registration"))
    assert s.markers().empty and "the point map failed" in s.warnings[-1]


def test_a_lesion_whose_first_scan_cannot_be_mapped_comes_from_the_next(params, demo_study):
    """Markers per scan in review order: when one scan's registration fails, a lesion also
    drawn on another scan is placed from that one (not lost with the failing scan)."""
    pid = _patient(demo_study)
    order = ReviewSession(params, pid, "R1").scan_ids
    first, second, third = order[:3]
    r1 = ReviewSession(params, pid, "R1", scan_id=first)
    lesion = r1.table.loc[r1.table.roi == "lesion", "lesion_id"].iloc[0]
    s = ReviewSession(params, pid, "R1", scan_id=second)           # the same lesion drawn
    if lesion not in set(s.table.lesion_id):                          # on the second scan
        s.add_lesion_at(_truth_index(s, demo_study, lesion), lesion_id=lesion)
        s.save()
    s = ReviewSession(params, pid, "R1", scan_id=third)
    if lesion in set(s.table.lesion_id):
        s.delete(lesion_id=lesion)

    def only_second(from_scan, to_scan, point):
        if from_scan == first:
            raise RuntimeError("no registration")
        return point

    assert s.markers().set_index("lesion_id").loc[lesion, "from_scan"] == first
    s.point_map = only_second
    markers = s.markers().set_index("lesion_id")
    assert markers.loc[lesion, "from_scan"] == second
    assert any(f"markers from {first} not placed" in w for w in s.warnings)


def test_reader_tags_never_collide_and_shared_sets_are_not_adjudicated(params, demo_study):
    pid = _patient(demo_study)
    tags = {name: ReviewSession(params, pid, name).reader_tag
            for name in ("AB", "A.B.", "José", "Jos", "王伟", "李娜")}
    assert tags["AB"] == "AB" and tags["Jos"] == "JOS"
    assert len(set(tags.values())) == len(tags)                     # six names, six tags
    assert all(re.fullmatch(r"[A-Z0-9]+(-[0-9a-f]{4})?", t) for t in tags.values())
    # a set migrated from the single-set store (format 1) is no independent read
    scan = ReviewSession(params, pid, "R1").current
    for reader in ("R2", "R3"):
        s = ReviewSession(params, pid, reader, scan_id=scan)
        s.set_read(f"{pid}-L01", call="positive", krenning=3)
        s.save()
    meta = Path(params.study.rois) / scan / "R3" / "v000001" / "meta.json"
    meta.write_text(meta.read_text().replace('"format": 2', '"format": 1'))
    adj = ReviewSession(params, pid, "ADJ", scan_id=scan, adjudicate=True)
    wide = adj.readers_calls()
    assert "call_R3" not in wide.columns and "call_R2" in wide.columns
    assert any("R3's calls come from the single-set store" in w for w in adj.warnings)


def test_a_store_read_the_cohort_drops_is_named_by_its_store_version(params, demo_study):
    """A read saved in the review whose lesion is not in the lesions table (a reader's own
    lesion ID) is listed against its ROI store version, not against a line of reads.csv."""
    from nethelpers.cohort import load_cohort

    pid = _patient(demo_study)
    s = ReviewSession(params, pid, "R2")
    own = s.next_lesion_id()
    s.set_read(own, call="positive", krenning=3)
    s.save()
    problems = load_cohort(params).exclusions
    rows = problems[problems.astype(str).apply(lambda c: c.str.contains(own)).any(axis=1)]
    assert len(rows) == 1
    text = " ".join(rows.astype(str).iloc[0])
    assert f"ROI store {s.current}/R2 v1" in text and "reads.csv line" not in text
