"""The review widget on a follow-up: its baseline beside, the lesion matching panel (Xvfb).

On the 6-patient demo (``demo_study``), P003's and P004's follow-up DOTATATE PET/CT. The
baseline is shown beside by default (a rigid registration: the matching uses the exact
inverse of the pair the pane shows; a deformable one would be registered in each direction),
the panel lists the proposals, a row moves the crosshair of both panes to the lesion (checked
against the generator's truth position and the baseline's uptake under it), New / Reassign /
Accept act and Save records them; the baseline scan hides the panel. Sessions load each scan
once per module and the registrations lie in one folder per module (:mod:`tests.matchsupport`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethelpers.viewer._qt.matchpanel import MATCH_HEADERS, POOR_BACKGROUND
from tests import matchsupport
from tests.matchsupport import P4_FU, cache_loads, study_params
from tests.test_viewer import _never

# the module-scoped fixtures of tests.matchsupport, instantiated once per module
registrations, loaded, params = (matchsupport.registrations, matchsupport.loaded,
                                 matchsupport.params)

pytestmark = pytest.mark.gui

BASELINE, FOLLOW_UP = "P003-DOTATATE-PETCT", "P003-DOTATATE-PETCT-FU1"
STATUS, VOI, LESION, CONFIRMED = (MATCH_HEADERS.index(h) for h in (
    "Status", "Follow-up VOI", "Baseline lesion", "Confirmed"))


@pytest.fixture
def open_follow_up(make_napari_viewer):
    from nethelpers.viewer.app import open_review

    def factory(params, scan_id=FOLLOW_UP, reader="R1", reading_views=False):
        viewer = make_napari_viewer(show=False)
        _, w = open_review(params, scan_id[:4], scan_id=scan_id, reader=reader, viewer=viewer,
                           autosave_s=0, reading_views=reading_views)
        w.ask_conflict, w.ask_close = _never("ask_conflict"), _never("ask_close")
        w.ask_confirm = _never("ask_confirm")
        return viewer, w

    return factory


def _truth_zyx(study: Path, scan_id: str, lesion_id: str) -> np.ndarray:
    truth = pd.read_csv(study / "truth" / "lesion_positions.csv")
    row = truth[(truth.scan_id == scan_id) & (truth.lesion_id == lesion_id)].iloc[0]
    return np.array([row.z_mm, row.y_mm, row.x_mm])


def _row(w, lesion_id: str, column: str = "followup_lesion_id") -> int:
    return int(np.flatnonzero(w.proposals.rows[column] == lesion_id)[0])


def _cell(w, row: int, column: int) -> str:
    return w.match_panel.table.item(row, column).text()


def _fresh_ids(w, prefix: str) -> dict[int, str]:
    """The reader's own IDs on every lesion VOI (as a reader who read blinded)."""
    table = w.session.table.copy()
    lesion = table.roi == "lesion"
    table.loc[lesion, "lesion_id"] = [f"{prefix}{i}" for i in range(lesion.sum())]
    w.session._cur.state.table = table
    w.refresh()
    return dict(zip(table.loc[lesion, "label"].astype(int), table.loc[lesion, "lesion_id"],
                    strict=True))


def test_follow_up_baseline_beside_and_matching_panel(open_follow_up, params, demo_study,
                                                      registrations):
    viewer, w = open_follow_up(params, reading_views=True)
    # the baseline beside by default, the pane's registration the follow-up onto it
    assert w.beside_combo.currentData() == BASELINE and not w.reading.other.qt.isHidden()
    assert (w.registration.fixed_scan, w.registration.moving_scan) == (FOLLOW_UP, BASELINE)
    title = w.reading.other.model.canvas.overlays["text"]
    assert title.visible and title.text == (f"baseline {BASELINE}\nregistered onto the "
                                            "follow-up")
    reg = w.proposals.registration                      # matching: baseline fixed
    assert (reg.fixed_scan, reg.moving_scan) == (BASELINE, FOLLOW_UP)
    pairs = [registrations / "P003" / f"{a}__{b}" for a, b in ((BASELINE, FOLLOW_UP),
                                                                (FOLLOW_UP, BASELINE))]
    assert [p.exists() for p in pairs].count(True) == 1   # rigid: one, and its inverse
    panel = w.match_panel
    assert w.matching_shown() and panel.table.rowCount() == 7
    assert [panel.table.horizontalHeaderItem(i).text() for i in range(7)] == [
        "Status", "Follow-up VOI", "Baseline lesion", "Confirmed",
        "Distance after registration (mm)", "Allowed (mm)", "Next candidate (mm)"]
    assert "by the registration" in panel.table.horizontalHeaderItem(4).toolTip()
    header = panel.header.text()
    assert f"follow-up 1 of {BASELINE}" in header
    assert "6 matched, 1 new, 0 gone (no VOI drawn here)" in header
    assert reg.summary not in header and reg.summary in w.registration_label.text()   # once
    # R1's follow-up IDs are the baseline's: nothing flagged
    assert "⚠" not in header and all("⚠" not in _cell(w, r, STATUS) for r in range(7))

    # a matched row: the crosshair on the lesion, the baseline's lesion under it beside
    panel.table.selectRow(_row(w, "P003-L04"))                  # pelvic bone, 15.7 mm
    truth = _truth_zyx(demo_study, FOLLOW_UP, "P003-L04")
    assert np.linalg.norm(w.reading.point - truth) < 5.0
    assert np.allclose(w.reading.other.point, w.reading.point)
    assert viewer.dims.point[0] == pytest.approx(w.reading.point[0])
    base = w.session.images_of(BASELINE).pet
    at_truth = base.GetPixel(base.TransformPhysicalPointToIndex(
        _truth_zyx(demo_study, BASELINE, "P003-L04")[::-1].tolist()))
    beside = w.reading.other.suv_at(w.reading.point)
    assert beside == pytest.approx(at_truth, rel=0.25) and beside > 10.0    # true SUV 23
    off = w.reading.point + np.array([0.0, 0.0, 40.0])
    assert w.reading.other.suv_at(off) < 0.3 * beside            # not just hot everywhere
    assert _cell(w, _row(w, "P003-L04"), STATUS) == "matched"
    assert "label" in panel.table.item(_row(w, "P003-L04"), VOI).toolTip()

    # New on the new lesion: it keeps its ID (no baseline lesion has it)
    new_row = _row(w, "P003-L07")
    panel.table.selectRow(new_row)
    assert np.linalg.norm(w.reading.point - _truth_zyx(demo_study, FOLLOW_UP, "P003-L07")) < 5
    panel.buttons["new"].click()
    assert _cell(w, new_row, CONFIRMED) == "marked new, unsaved"
    assert panel.selected_row() == new_row

    # Reassign to a lesion another VOI carries: asked, refused, nothing changes
    panel.table.selectRow(_row(w, "P003-L06"))
    assert panel.reassign_to() == "P003-L06"           # the row's own proposal
    panel.reassign_combo.setCurrentIndex(panel.reassign_combo.findData("P003-L05"))
    asked = []
    w.ask_confirm = lambda title, text: asked.append(text) or True
    panel.buttons["reassign"].click()
    assert asked == ["Make the follow-up VOI P003-L06 (label 16) lesion P003-L05? It was "
                     "proposed as P003-L06."]
    assert "P003-L05 already names the VOI" in w.problems[-1]
    assert "P003-L06" in set(w.session.table.lesion_id)

    # Accept, then Save: the decisions are saved with version 2
    panel.table.selectRow(_row(w, "P003-L06"))
    panel.buttons["accept"].click()
    assert w.save(note="")
    assert _cell(w, _row(w, "P003-L06"), CONFIRMED) == "accepted, saved v2"
    log = pd.read_csv(Path(params.study.rois) / FOLLOW_UP / "R1" / "matches.csv")
    assert list(log.decision) == ["new", "accept"] and set(log.roi_version) == {2}

    # on the baseline the panel is hidden; the pair beside stays (swapped)
    assert w.select_scan(BASELINE)
    assert not w.matching_shown() and w.beside_combo.currentData() == FOLLOW_UP


def test_reassign_acts_on_the_selected_rows_proposal_after_a_confirmation(open_follow_up,
                                                                          params):
    _, w = open_follow_up(params, P4_FU)
    fresh = _fresh_ids(w, "P004-R1-L2")
    panel = w.match_panel
    row = _row(w, "P004-L02", "baseline_lesion_id")
    label = int(w.proposals.rows.followup_label.iloc[row])
    panel.table.selectRow(row)
    assert panel.reassign_to() == "P004-L02"             # the list follows the selection
    asked = []
    w.ask_confirm = lambda title, text: asked.append((title, text)) or False
    panel.buttons["reassign"].click()                    # declined: nothing changes
    assert asked == [("Reassign", f"Make the follow-up VOI {fresh[label]} (label {label}) "
                                  "lesion P004-L02? It was proposed as P004-L02.")]
    assert w.session.table.set_index("label").lesion_id[label] == fresh[label]
    w.ask_confirm = lambda title, text: True
    panel.buttons["reassign"].click()
    assert w.session.table.set_index("label").lesion_id[label] == "P004-L02"
    assert w.messages[-1].startswith(f"VOI label {label} confirmed as P004-L02 (reassign)")
    # a new row offers no lesion until the reader chooses one; gone rows take no decision
    gone = _row(w, "gone", "status")
    panel.table.selectRow(gone)
    assert panel.reassign_to() == "" and not any(b.isEnabled() for b in panel.buttons.values())
    # fresh IDs are no conflict: no row is flagged for its IDs
    assert all("carries" not in _cell(w, r, STATUS) for r in range(panel.table.rowCount()))


def test_a_reader_without_baseline_vois_cannot_accept(open_follow_up, params):
    root = Path(params.study.rois)
    import shutil

    shutil.copytree(root / P4_FU / "R1", root / P4_FU / "R9")
    _, w = open_follow_up(params, P4_FU, reader="R9")
    panel = w.match_panel
    assert ("⚠ Read the baseline first (no lesion VOI of R9 on P004-DOTATATE-PETCT): Accept "
            "and New are off.") in panel.header.text()
    panel.table.selectRow(0)
    assert not panel.buttons["accept"].isEnabled() and not panel.buttons["new"].isEnabled()


def test_the_scan_chosen_beside_drives_the_proposals(open_follow_up, demo_study, tmp_path,
                                                     registrations, loaded, monkeypatch):
    cache_loads(monkeypatch, loaded)
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv", dtype=str,
                        keep_default_na=False)
    path = tmp_path / "scans.csv"                    # P003's baselines not in the table
    scans[~scans.scan_id.isin([BASELINE, "P003-DOTATATE-PETMR"])].to_csv(path, index=False)
    params = study_params(demo_study, tmp_path, registrations,
                          study={"tables": {"scans": str(path)}})
    _, w = open_follow_up(params)
    panel = w.match_panel
    assert w.matching_shown() and w.proposals is None and panel.table.rowCount() == 0
    assert "no baseline DOTATATE scan" in panel.header.text()
    assert "choose the scan to compare it with (Beside" in panel.header.text()
    w._fill_beside()                                 # the list, as the reading views fill it
    w._set_beside_index("P003-DOTATATE-PETMR-FU1")   # a pair kept from another scan: no
    w.refresh_matching()                             # choice of the reader's for this one
    assert w.compared_scan() == "" and w.proposals is None
    w.beside_combo.setCurrentIndex(0)                # the reader: (none), then PET/MR FU1
    assert w.proposals is None
    w.beside_combo.setCurrentIndex(w.beside_combo.findData("P003-DOTATATE-PETMR-FU1"))
    assert w.proposals.baseline.baseline_scan == "P003-DOTATATE-PETMR-FU1"
    assert panel.header.text().startswith(f"{FOLLOW_UP}: compared with "
                                          "P003-DOTATATE-PETMR-FU1 (0 days; chosen by the "
                                          "reader).")
    assert panel.table.rowCount() == 7 and "Registration: rigid" in panel.header.text()


def test_a_poor_registration_tints_the_rows_and_every_decision_asks(
        open_follow_up, demo_study, tmp_path, registrations, loaded, monkeypatch):
    cache_loads(monkeypatch, loaded)                 # body Dice 0.98 < 0.99: poor
    params = study_params(demo_study, tmp_path, registrations,
                          registration={"min_dice": 0.99})
    _, w = open_follow_up(params)
    panel = w.match_panel
    assert w.proposals.registration.verdict == "poor"
    assert "⚠ Poor registration (" in panel.header.text()
    assert all(panel.table.item(r, c).background().color().name() == POOR_BACKGROUND
               for r in range(7) for c in range(7))
    row = _row(w, "P003-L04")
    panel.table.selectRow(row)
    asked = []
    w.ask_confirm = lambda title, text: asked.append(title) or False
    for key in ("accept", "new"):
        panel.buttons[key].click()
    assert asked == ["Poor registration"] * 2 and w.messages[-1] == "nothing confirmed"
    assert not w.session.dirty


def test_brush_strokes_are_pushed_before_a_decision(open_follow_up, params, demo_study):
    _, w = open_follow_up(params)
    panel = w.match_panel
    row = _row(w, "P003-L07")                    # new at follow-up
    panel.table.selectRow(row)
    label = int(w.proposals.rows.followup_label.iloc[row])
    # the reader erases the VOI with the brush; the event loop has not pushed it yet
    data = np.asarray(w.layers.rois.data)
    data[data == label] = 0
    w.layers.rois.data = data
    w._brush_pending = True
    panel.buttons["new"].click()                 # pushed first: that VOI is gone
    assert label not in set(w.session.table.label.astype(int))
    assert w.session.pending_decisions().empty
    assert panel.table.rowCount() == 6 and w.proposals.rows.followup_label.notna().all()
    assert w.messages[-1] == ("the proposals changed with your brush edit: check the row, "
                              "then press again")
    # a stroke pushed by the event loop proposes again too
    data = np.asarray(w.layers.rois.data)
    data[data == label - 1] = 0
    w.layers.rois.data = data
    w._brush_pending = True
    w.push_brush()
    assert panel.table.rowCount() == 6 and (w.proposals.rows.status == "gone").sum() == 1


def test_decisions_the_log_refused_keep_the_scan_unsaved(open_follow_up, params):
    _, w = open_follow_up(params)
    panel = w.match_panel
    panel.table.selectRow(_row(w, "P003-L07"))
    panel.buttons["new"].click()
    path = Path(params.study.rois) / FOLLOW_UP / "R1" / "matches.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("garbage\n\"unterminated\n")
    assert not w.save(note="")                  # v2 saved, the log refused: not all saved
    assert w.session.dirty_scans() == [FOLLOW_UP]
    assert _cell(w, _row(w, "P003-L07"), CONFIRMED) == "marked new, unsaved"
    assert "the decisions log cannot be read" in panel.header.text()
    said = [m for m in [*w.messages, *w.session.warnings] if "matches.csv" in m]
    assert len(said) == 1 and not w.problems          # said once, as a warning
    closing = []
    w.ask_close = lambda scans: closing.append(scans) or "cancel"
    from qtpy.QtGui import QCloseEvent

    assert w._on_window_close(QCloseEvent()) and closing == [[FOLLOW_UP]]   # the close asks
    path.unlink()
    assert w.save(note="")
    assert w.messages[-1] == f"{FOLLOW_UP}: matching decisions recorded with v2"
    assert _cell(w, _row(w, "P003-L07"), CONFIRMED) == "marked new, saved v2"
