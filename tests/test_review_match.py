"""Lesion matching in the review session (no Qt): baseline, proposals, decisions, the log.

On the 6-patient demo (``demo_study``: blur and noise): P003 (history of NET) has a new
lesion at follow-up (P003-L07), P004 (PRRT) a lesion gone (P004-L03). The follow-up VOIs'
lesion IDs are scrambled before matching, so only the images and the registration can pair
them; the expected pairs come from the generator's truth (``truth/lesion_positions.csv``:
the true lesion nearest each VOI's centre, computed here with numpy from the label map the
demo wrote; ``truth/lesions.csv``: first time point; ``truth/lesion_course.csv``: present).
One registration per follow-up is computed per module and reused from the store.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethelpers.reviewmatch import (
    BY_HAND,
    SAME_SERIES,
    MatchError,
    baseline_of,
)
from nethelpers.reviewmatchlog import MATCH_LOG_COLUMNS, MatchLogError, read_match_log
from nethelpers.reviewproposals import row_checks
from nethelpers.rois import RoiStore
from tests import matchsupport
from tests.matchsupport import (
    P3_BL,
    P3_FU,
    P3_MR,
    P3_MR_FU,
    P4_BL,
    P4_FU,
    cache_loads,
    study_params,
    truth_point,
)
from tests.matchsupport import scrambled as _scrambled
from tests.matchsupport import session as _session
from tests.matchsupport import voi_truth as _voi_truth

# the module-scoped fixtures of tests.matchsupport, instantiated once per module
registrations, loaded, params = (matchsupport.registrations, matchsupport.loaded,
                                 matchsupport.params)


def test_baseline_of_a_follow_up_same_series_then_other_modality():
    scans = pd.DataFrame({
        "scan_id": ["A-CT", "A-MR", "A-CT-FU1", "A-MR-FU1", "A-FDG-FU1", "B-CT"],
        "patient_id": ["A", "A", "A", "A", "A", "B"],
        "tracer": ["DOTATATE", "DOTATATE", "DOTATATE", "DOTATATE", "FDG", "DOTATATE"],
        "modality": ["PET/CT", "PET/MR", "PET/CT", "PET/MR", "PET/CT", "PET/CT"],
        "scan_date": ["2025-01-10", "2025-01-10", "2025-07-01", "2025-07-03", "2025-07-02",
                      "2025-01-01"],
        "time_point": ["BL", "baseline", "FU1", "follow up 1", "follow-up 1", "baseline"]})
    ct = baseline_of(scans, "A-CT-FU1")
    assert (ct.baseline_scan, ct.time_point, ct.how, ct.days) == (
        "A-CT", "follow-up 1", SAME_SERIES, 172)            # 2025-01-10 -> 2025-07-01
    assert baseline_of(scans, "A-MR-FU1").baseline_scan == "A-MR"
    # the PET/MR baseline not among the session's scans: the PET/CT, stated
    fallback = baseline_of(scans, "A-MR-FU1", available={"A-CT", "A-CT-FU1", "A-MR-FU1"})
    assert fallback.baseline_scan == "A-CT" and fallback.days == 174
    assert fallback.how == "same tracer on PET/CT: no baseline DOTATATE PET/MR scan"
    assert fallback.text == ("follow-up 1 of A-CT (174 days; same tracer on PET/CT: no "
                             "baseline DOTATATE PET/MR scan)")
    assert ct.text == "follow-up 1 of A-CT (172 days)"
    assert baseline_of(scans, "A-CT") is None and baseline_of(scans, "B-CT") is None
    with pytest.raises(MatchError, match="A-FDG-FU1 is follow-up 1.*no baseline FDG scan"):
        baseline_of(scans, "A-FDG-FU1")


def test_proposals_pair_every_truth_lesion_and_flag_new(params, demo_study):
    s = _session(params, "P003", P3_FU)
    choice = s.match_baseline()
    assert (choice.baseline_scan, choice.how) == (P3_BL, SAME_SERIES)
    _scrambled(s)
    proposals = s.match_proposals()
    truth_fu, truth_bl = _voi_truth(demo_study, P3_FU), _voi_truth(demo_study, P3_BL)
    assert max(d for _, d in [*truth_fu.values(), *truth_bl.values()]) < 4.0
    first = pd.read_csv(demo_study / "truth" / "lesions.csv").set_index("lesion_id")[
        "first_time_point"]
    rows = proposals.rows[proposals.rows.followup_label.notna()]
    assert len(rows) == len(truth_fu) == 7
    for rec in rows.itertuples():
        lesion = truth_fu[int(rec.followup_label)][0]
        if first[lesion] == "baseline":
            assert rec.status == "matched" and rec.baseline_lesion_id == lesion
            assert truth_bl[int(rec.baseline_label)][0] == lesion
            assert rec.distance_mm < 5.0 < rec.second_best_mm
            assert not rec.id_agrees                        # Q-IDs: the reader's IDs differ
        else:                                               # P003-L07: new at follow-up
            assert (lesion, rec.status) == ("P003-L07", "new")
            assert pd.isna(rec.baseline_label) and rec.id_agrees   # no baseline ID either
    assert (rows.status == "new").sum() == 1 and proposals.gone.empty


def test_transform_direction_baseline_point_lands_on_the_follow_up(params, demo_study):
    s = _session(params, "P004", P4_FU)
    proposals = s.match_proposals()
    reg = proposals.registration
    assert (reg.fixed_scan, reg.moving_scan) == (P4_BL, P4_FU)
    truth = pd.read_csv(demo_study / "truth" / "lesion_positions.csv")
    at = truth.set_index(["scan_id", "lesion_id"])[["x_mm", "y_mm", "z_mm"]]
    for lesion in ("P004-L01", "P004-L08"):          # mesenteric node, spine
        base, follow = at.loc[(P4_BL, lesion)].to_numpy(), at.loc[(P4_FU, lesion)].to_numpy()
        assert np.linalg.norm(base - follow) > 20.0   # the patient lies elsewhere
        mapped = np.asarray(reg.transform.TransformPoint(base.tolist()))
        assert np.linalg.norm(mapped - follow) < 3.0
        wrong_way = np.asarray(reg.transform.GetInverse().TransformPoint(base.tolist()))
        assert np.linalg.norm(wrong_way - follow) > 20.0
    # the gone lesion: P004-L03 is absent at follow-up (truth), listed with its place
    course = pd.read_csv(demo_study / "truth" / "lesion_course.csv")
    absent = course[(course.scan_id == P4_FU) & ~course.present.astype(bool)].lesion_id
    assert list(proposals.gone.baseline_lesion_id) == list(absent) == ["P004-L03"]
    gone_at = proposals.gone[["x_mm", "y_mm", "z_mm"]].to_numpy(float)[0]
    expected = reg.transform.TransformPoint(at.loc[(P4_BL, "P004-L03")].tolist())
    assert np.linalg.norm(gone_at - np.asarray(expected)) < 5.0   # VOI centre vs truth


def test_accept_and_new_are_saved_with_their_decisions(params, demo_study):
    s = _session(params, "P003", P3_FU)
    scrambled = _scrambled(s)
    proposals = s.match_proposals()
    for rec in proposals.rows[proposals.rows.followup_label.notna()].itertuples():
        s.accept_match(proposals, int(rec.followup_label))
    new_label = int(proposals.rows.loc[proposals.rows.status == "new",
                                       "followup_label"].iloc[0])
    new_id = scrambled[new_label]
    # a Q-ID is no baseline ID: the new lesion keeps its (scrambled) ID
    assert s.table.set_index("label").at[new_label, "lesion_id"] == new_id
    version = s.save()
    saved = RoiStore(params.study.rois).load(P3_FU, reader="R1")
    assert saved.version.version == version.version == 2
    lesions = saved.table[saved.table.roi == "lesion"]
    ids = dict(zip(lesions.label.astype(int), lesions.lesion_id, strict=True))
    truth = _voi_truth(demo_study, P3_FU)
    expected = {label: (lid if lid != "P003-L07" else new_id) for label, (lid, _) in
                truth.items()}
    assert ids == expected                      # every baseline lesion's true ID
    log = pd.read_csv(Path(params.study.rois) / P3_FU / "R1" / "matches.csv", dtype=str,
                      keep_default_na=False)
    assert list(log.columns) == list(MATCH_LOG_COLUMNS) and len(log) == 7
    assert set(log.roi_version) == {"2"} and set(log.decided_by) == {"R1"}
    assert set(log.baseline_scan) == {P3_BL} and set(log.decision) == {"accept"}
    row = log[log.followup_label == str(new_label)].iloc[0]
    assert (row.proposed_status, row.confirmed_status, row.confirmed_lesion_id,
            row.lesion_id_before) == ("new", "new", new_id, new_id)
    matched = log[log.proposed_status == "matched"]
    assert (matched.proposed_lesion_id == matched.confirmed_lesion_id).all()
    assert sorted(matched.confirmed_lesion_id) == [f"P003-L0{i}" for i in range(1, 7)]
    assert "rigid CT-CT" in row.registration
    assert s.match_decisions().roi_version.tolist() == ["2"] * 7       # none pending


def test_new_reassign_collisions_reads_and_undo(params, demo_study):
    s = _session(params, "P004", P4_FU)
    proposals = s.match_proposals()
    table = s.table.set_index("lesion_id")
    l01, l02 = int(table.at["P004-L01", "label"]), int(table.at["P004-L02", "label"])
    s.set_read("P004-L02", call="positive", krenning="3")
    # a baseline ID on a VOI marked new: a new ID, the review's way, used nowhere
    known = set(s.known_lesions(include_reference=True))
    new_id = s.mark_new(proposals, l02)
    assert re.fullmatch(r"P004-R1-L\d\d", new_id) and new_id not in known
    reads = s.reads.set_index("lesion_id")
    assert (reads.at[new_id, "call"], reads.at[new_id, "krenning"]) == ("positive", "3")
    assert "P004-L02" not in reads.index             # the read moved with the VOI
    # one VOI per lesion: P004-L01 names another VOI here
    with pytest.raises(MatchError, match="P004-L01 already names the VOI with label"):
        s.reassign_match(proposals, l02, "P004-L01")
    with pytest.raises(MatchError, match="not a lesion of the baseline"):
        s.reassign_match(proposals, l02, new_id)
    assert s.reassign_match(proposals, l02, "P004-L03") == "P004-L03"   # the reader's call
    pending = s.match_decisions()
    assert list(pending.decision) == ["new", "reassign"]
    assert list(pending.proposed_lesion_id) == ["P004-L02"] * 2
    assert s.undo() and list(s.match_decisions().decision) == ["new"]    # undone: dropped
    assert s.table.set_index("label").at[l02, "lesion_id"] == new_id
    # a decision whose VOI is deleted before the save is not recorded (with a warning)
    s.accept_match(proposals, l01)
    s.delete(lesion_id="P004-L01")
    s.save()
    log = read_match_log(params.study.rois, P4_FU, "R1")
    assert list(log.decision) == ["new"] and list(log.confirmed_lesion_id) == [new_id]
    assert any(f"label(s) {l01} not recorded" in w for w in s.warnings)


def test_baseline_chosen_by_hand_and_refusals(params, demo_study):
    s = _session(params, "P004", P4_BL)
    assert s.match_baseline() is None
    with pytest.raises(MatchError, match="not a follow-up scan"):
        s.match_proposals()
    with pytest.raises(MatchError, match="compare P004-DOTATATE-PETCT with another"):
        s.match_proposals(P4_BL)
    # any other scan, chosen by hand (here the follow-up: its registration is the inverse)
    by_hand = s.match_proposals(P4_FU)
    dates = pd.read_csv(demo_study / "clinical" / "scans.csv", parse_dates=["scan_date"]
                        ).set_index("scan_id")["scan_date"]
    days = (dates[P4_BL] - dates[P4_FU]).days
    assert by_hand.baseline.how == BY_HAND and by_hand.baseline.days == days < -90
    assert by_hand.baseline.text == f"compared with {P4_FU} ({days} days; chosen by the reader)"
    assert list(by_hand.rows.status).count("new") == 1            # P004-L03, seen the other way
    s.open_scan(P4_FU)
    with pytest.raises(MatchError, match="the proposals are for P004-DOTATATE-PETCT,"):
        s.accept_match(by_hand, int(by_hand.rows.followup_label.dropna().iloc[0]))


def test_a_damaged_log_is_refused_never_overwritten(tmp_path):
    folder = tmp_path / "S1" / "Dr%20A"
    folder.mkdir(parents=True)
    (folder / "matches.csv").write_text("decision_id,decided_at\nx,y\n")
    with pytest.raises(MatchLogError) as err:
        read_match_log(tmp_path, "S1", "Dr A")
    assert "S1/Dr%20A/matches.csv in the ROI store: no column decided_by" in str(err.value)
    assert str(tmp_path) not in str(err.value)


def _ball(s, centre_lps: np.ndarray, radius_mm: float) -> np.ndarray:
    """The voxels of the current scan within ``radius_mm`` of a point (plain numpy)."""
    pet = s.images.pet
    index = np.array(pet.TransformPhysicalPointToContinuousIndex(centre_lps.tolist()))[::-1]
    spacing = np.array(pet.GetSpacing())[::-1]
    grid = np.indices(s.labels.shape)
    dist2 = sum(((g - i) * sp) ** 2 for g, i, sp in zip(grid, index, spacing, strict=True))
    return dist2 <= radius_mm ** 2


def test_a_lesion_that_stays_is_not_traded_for_a_gone_and_a_new_neighbour(params, demo_study):
    # the reviewer's P003 case: L05 gone at follow-up (its VOI deleted) and a new lesion
    # 16 mm from L04 on the side away from L05; L04 must stay L04
    s = _session(params, "P003", P3_FU)
    p4, p5 = (truth_point(demo_study, P3_FU, f"P003-L0{i}") for i in (4, 5))
    s.delete(lesion_id="P003-L05")
    centre = p4 - 16.0 * (p5 - p4) / np.linalg.norm(p5 - p4)
    labels = s.labels.copy()
    added = s.free_label()
    labels[_ball(s, centre, 5.0) & (labels == 0)] = added
    s.set_labels(labels, lesion_id="ADDED")
    rows = s.match_proposals().rows
    by_base = rows[rows.baseline_lesion_id != ""].set_index("baseline_lesion_id")
    assert (by_base.at["P003-L04", "status"], by_base.at["P003-L04", "followup_lesion_id"]) \
        == ("matched", "P003-L04")
    assert by_base.at["P003-L05", "status"] == "gone"
    new = rows[rows.followup_label.eq(added).fillna(False)].iloc[0]
    assert (new.status, new.followup_lesion_id) == ("new", "ADDED")
    # the trap is real: the added VOI lies within the gate of a baseline lesion
    assert new.second_best_mm < 15.0 + 5.0


def test_a_reader_without_baseline_vois_is_told_to_read_it_first(params):
    root = Path(params.study.rois)                 # R9 read the follow-up only
    shutil.copytree(root / P4_FU / "R1", root / P4_FU / "R9")
    s = _session(params, "P004", P4_FU, reader="R9")
    proposals = s.match_proposals()
    assert proposals.problem == f"read the baseline first (no lesion VOI of R9 on {P4_BL})"
    assert set(proposals.rows.status) == {"new"} and proposals.baseline_ids == ()
    label = int(proposals.rows.followup_label.iloc[0])
    for act in (s.accept_match, s.mark_new):
        with pytest.raises(MatchError, match=re.escape(f"{P4_FU}: read the baseline first")):
            act(proposals, label)
    assert not s.dirty and s.pending_decisions().empty
    # a reader who read it gets no problem
    assert _session(params, "P004", P4_FU).match_proposals().problem == ""


def test_a_follow_up_without_baseline_is_compared_with_a_scan_chosen_by_hand(
        demo_study, tmp_path, registrations, loaded, monkeypatch):
    cache_loads(monkeypatch, loaded)
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv", dtype=str,
                        keep_default_na=False)
    path = tmp_path / "scans.csv"                 # P003's baselines not (yet) in the table
    scans[~scans.scan_id.isin([P3_BL, P3_MR])].to_csv(path, index=False)
    params = study_params(demo_study, tmp_path, registrations,
                          study={"tables": {"scans": str(path)}})
    s = _session(params, "P003", P3_FU)
    with pytest.raises(MatchError, match="no baseline DOTATATE scan.*Beside, in the review"):
        s.match_baseline()
    with pytest.raises(MatchError, match="no baseline DOTATATE scan"):
        s.match_proposals()
    proposals = s.match_proposals(P3_MR_FU)           # the reader's choice: works
    assert (proposals.baseline.baseline_scan, proposals.baseline.how) == (P3_MR_FU, BY_HAND)
    assert proposals.baseline.days == 0 and proposals.problem == ""
    rows = proposals.rows                              # same day: every lesion matched
    assert (rows.status == "matched").all() and len(rows) == 7
    assert (rows.baseline_lesion_id == rows.followup_lesion_id).all()


def test_reassign_offers_the_patients_lesions_not_at_baseline(params, demo_study):
    # P003-L07 is new at follow-up 1: confirmed on the PET/CT follow-up, it is linked on
    # the PET/MR follow-up, whose baseline (the PET/MR) never had it
    first = pd.read_csv(demo_study / "truth" / "lesions.csv").set_index("lesion_id")
    assert first.at["P003-L07", "first_time_point"] == "follow-up 1"
    s = _session(params, "P003", P3_MR_FU)
    truth = {label: lid for label, (lid, _) in _voi_truth(demo_study, P3_MR_FU).items()}
    ids = _scrambled(s, "P003-R1-L9")
    proposals = s.match_proposals()
    assert proposals.baseline.baseline_scan == P3_MR
    assert "P003-L07" not in proposals.baseline_ids and "P003-L07" in proposals.other_ids
    assert not set(proposals.other_ids) & set(proposals.baseline_ids)
    assert not set(proposals.other_ids) & set(ids.values())      # this scan's own: none
    l07 = next(label for label, lid in truth.items() if lid == "P003-L07")
    assert proposals.row_for(l07).status == "new"
    assert s.reassign_match(proposals, l07, "P003-L07") == "P003-L07"
    decision = s.pending_decisions().iloc[-1]
    assert (decision.decision, decision.confirmed_status, decision.lesion_id_before) == (
        "reassign", "new", ids[l07])
    with pytest.raises(MatchError, match="nor of another scan of patient P003"):
        s.reassign_match(proposals, l07, "P003-L99")


def test_row_checks_flag_ambiguous_rows_and_another_baseline_lesions_id():
    rows = pd.DataFrame({
        "status": ["matched", "matched", "matched", "matched", "new", "gone", "new"],
        "followup_label": pd.array([11, 12, 13, 14, 15, None, 16], dtype="Int64"),
        "followup_lesion_id": ["A", "fresh", "B", "A2", "C", "", "fresh2"],
        "baseline_lesion_id": ["A", "B", "C", "A2", "", "D", ""],
        "distance_mm": [2.0, 3.0, 6.0, 4.0, np.nan, np.nan, np.nan],
        "second_best_mm": [30.0, 5.9, 11.0, 9.5, 25.0, 8.0, np.nan]})
    checks = row_checks(rows, ("A", "A2", "B", "C", "D"))
    # 5.9 < 2 x 3.0; 11.0 < 2 x 6.0; 9.5 < 10 mm; gone 8 mm < 10 mm; nothing else
    assert list(checks.ambiguous) == [False, True, True, True, False, True, False]
    # B's VOI proposed as C carries B; the new VOI carries C; a fresh ID is no conflict
    assert list(checks.id_conflict) == ["", "", "B", "", "C", "", ""]


def test_the_panel_words_say_what_each_row_is_and_what_to_check():
    from types import SimpleNamespace

    from nethelpers.reviewbaseline import BaselineChoice
    from nethelpers.reviewproposals import MatchProposals
    from nethelpers.viewer._qt.matchtexts import (
        confirmed_text,
        header_text,
        proposal_cells,
        row_tooltip,
    )

    rows = pd.DataFrame({
        "baseline_label": pd.array([11, 12, 13, None], dtype="Int64"),
        "baseline_lesion_id": ["P9-L01", "P9-L02", "P9-L03", ""],
        "followup_label": pd.array([21, 22, None, 23], dtype="Int64"),
        "followup_lesion_id": ["P9-L01", "P9-L03", "", "P9-R1-L04"],
        "distance_mm": [1.234, 4.0, np.nan, np.nan], "gate_mm": [17.5, 18.0, np.nan, np.nan],
        "status": ["matched", "matched", "gone", "new"],
        "id_agrees": [True, False, True, True],
        "second_best_mm": [40.0, 6.5, 30.0, 25.0],
        "x_mm": 0.0, "y_mm": 0.0, "z_mm": 0.0})
    reg = SimpleNamespace(summary="rigid CT-CT (Mattes MI): body Dice 0.70 (0.90 before), poor",
                          verdict="poor")
    proposals = MatchProposals("FU", BaselineChoice("FU", "BL", "follow-up 1",
                                                    "same tracer and modality", 120),
                               reg, rows, ("P9-L01", "P9-L02", "P9-L03"))
    checks = proposals.checks().to_dict("records")
    cells = [proposal_cells(r, "", c["ambiguous"], c["id_conflict"])
             for r, c in zip(rows.to_dict("records"), checks, strict=True)]
    assert cells[0] == ["matched", "P9-L01", "P9-L01", "", "1.2", "17.5", "40.0"]
    assert cells[1][:3] == ["matched ⚠ ambiguous, carries P9-L03", "P9-L03", "P9-L02"]
    assert cells[2][:3] == ["gone", "", "P9-L03"] and cells[3][:3] == ["new", "P9-R1-L04", ""]
    assert row_tooltip(rows.iloc[2], False, "") == (
        "P9-L03: no VOI drawn at follow-up (the lesion disappeared, or is not drawn yet)")
    assert row_tooltip(rows.iloc[1], True, "P9-L03").startswith(
        "Follow-up VOI label 22. Proposed as baseline lesion P9-L02. Ambiguous: another "
        "candidate lies 6.5 mm away")
    assert "(above)" in header_text("FU", proposals, registration_shown=True)
    assert header_text("FU", proposals, registration_shown=False) == (
        "FU: follow-up 1 of BL (120 days). ⚠ Poor registration (rigid CT-CT (Mattes MI): body "
        "Dice 0.70 (0.90 before), poor): check every proposal by eye; each decision asks for "
        "confirmation. 2 matched, 1 new, 1 gone (no VOI drawn here). ⚠ Check first: 1 "
        "ambiguous, 1 carrying another baseline lesion's ID.")
    assert confirmed_text({"decision": "accept", "roi_version": "3"}) == "accepted, saved v3"
    assert confirmed_text({"decision": "swap", "roi_version": ""}) == "IDs swapped, unsaved"
    assert confirmed_text({"decision": "revoked", "roi_version": "4"}) == ""
