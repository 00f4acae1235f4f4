"""The reader's matching decisions in the review session: swaps, the log, unsaved work.

On the 6-patient demo (``demo_study``): P003's and P004's follow-up DOTATATE PET/CT, the
reader R1 (whose follow-up VOIs carry the true lesion IDs). The saved ROI versions are read
back with :class:`nethelpers.rois.RoiStore` and the log with pandas, never through the
session under test.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nethelpers.reviewmatch import MatchError
from nethelpers.rois import RoiStore
from tests import matchsupport
from tests.matchsupport import (
    P3_FU,
    P4_FU,
    label_of,
    scrambled,
    session,
)

# the module-scoped fixtures of tests.matchsupport, instantiated once per module
registrations, loaded, params = (matchsupport.registrations, matchsupport.loaded,
                                 matchsupport.params)


def _log(params, scan_id: str) -> pd.DataFrame:
    return pd.read_csv(Path(params.study.rois) / scan_id / "R1" / "matches.csv", dtype=str,
                       keep_default_na=False)


def _saved_ids(params, scan_id: str) -> dict[int, str]:
    table = RoiStore(params.study.rois).load(scan_id, reader="R1").table
    lesions = table[table.roi == "lesion"]
    return dict(zip(lesions.label.astype(int), lesions.lesion_id, strict=True))


def test_swapped_ids_are_exchanged_in_one_undoable_step(params):
    s = session(params, "P004", P4_FU)
    a, b = label_of(s, "P004-L01"), label_of(s, "P004-L02")
    s.set_read("P004-L01", call="positive", krenning="4")
    s.set_read("P004-L02", call="equivocal", krenning="2")
    table = s.table.copy()                       # the reader's IDs of the two swapped
    table.loc[table.label == a, "lesion_id"] = "P004-L02"
    table.loc[table.label == b, "lesion_id"] = "P004-L01"
    s._cur.state.table = table
    s._cur.state.reads = s.reads.replace({"lesion_id": {"P004-L01": "P004-L02",
                                                        "P004-L02": "P004-L01"}})
    proposals = s.match_proposals()
    checks = proposals.checks().set_index(proposals.rows.followup_label)
    assert (checks.at[a, "id_conflict"], checks.at[b, "id_conflict"]) == ("P004-L02",
                                                                          "P004-L01")
    assert s.accept_match(proposals, a) == "P004-L01"          # no refusal: a swap
    ids = s.table.set_index("label").lesion_id
    assert (ids[a], ids[b]) == ("P004-L01", "P004-L02")
    reads = s.reads.set_index("lesion_id")                     # each read stays with its VOI
    assert (reads.at["P004-L01", "krenning"], reads.at["P004-L02", "krenning"]) == ("4", "2")
    pending = s.pending_decisions()
    assert list(zip(pending.followup_label, pending.decision, pending.confirmed_lesion_id,
                    strict=True)) \
        == [(a, "accept", "P004-L01"), (b, "swap", "P004-L02")]
    assert s.undo()                                             # one step takes back both
    ids = s.table.set_index("label").lesion_id
    assert (ids[a], ids[b]) == ("P004-L02", "P004-L01") and s.pending_decisions().empty


def test_a_refused_collision_says_the_true_way_out(params):
    s = session(params, "P004", P4_FU)
    proposals = s.match_proposals()
    a, b = label_of(s, "P004-L01"), label_of(s, "P004-L02")
    # b carries its own proposal: reassigning a to it is refused, and "mark it new" is
    # never suggested for a VOI proposed matched
    with pytest.raises(MatchError) as err:
        s.reassign_match(proposals, a, "P004-L02")
    assert f"P004-L02 already names the VOI with label {b}; it is proposed as P004-L02 too" \
        in str(err.value)
    assert "mark" not in str(err.value) and s.table.set_index("label").lesion_id[a] == \
        "P004-L01"


def test_an_undone_decision_is_revoked_in_the_log_of_the_next_version(params):
    s = session(params, "P003", P3_FU)
    fresh = scrambled(s, "P003-R1-L9")
    proposals = s.match_proposals()
    label = int(proposals.rows.set_index("baseline_lesion_id").at["P003-L02",
                                                                  "followup_label"])
    s.accept_match(proposals, label)
    assert s.save().version == 2
    assert s.undo()                                   # back to the reader's own ID
    assert s.save().version == 3
    assert _saved_ids(params, P3_FU)[label] == fresh[label]
    log = _log(params, P3_FU)
    rows = log[log.followup_label == str(label)]
    assert list(zip(rows.decision, rows.confirmed_lesion_id, rows.roi_version, strict=True)) == [
        ("accept", "P003-L02", "2"), ("revoked", fresh[label], "3")]
    assert rows.lesion_id_before.iloc[-1] == "P003-L02"
    # the newest row of every label agrees with the newest version
    newest = log.groupby("followup_label").tail(1)
    saved = _saved_ids(params, P3_FU)
    assert all(saved[int(r.followup_label)] == r.confirmed_lesion_id
               for r in newest.itertuples())
    other = int(proposals.rows.set_index("baseline_lesion_id").at["P003-L03",
                                                                  "followup_label"])
    s.accept_match(proposals, other)
    assert s.save().version == 4
    s.delete(lesion_id="P003-L03")                    # a confirmed VOI deleted: revoked ""
    assert s.save().version == 5
    log = _log(params, P3_FU)
    assert list(zip(log.followup_label, log.decision, log.confirmed_lesion_id, log.roi_version,
                    strict=True))[2:] == [(str(other), "accept", "P003-L03", "4"),
                                          (str(other), "revoked", "", "5")]
    s.undo()                                          # the VOI back: no decision of its own
    s.save()
    assert len(_log(params, P3_FU)) == 4              # nothing repeated, nothing invented


def test_decisions_the_log_refused_stay_unsaved_until_a_save_writes_them(params):
    s = session(params, "P003", P3_FU)
    scrambled(s, "P003-R1-L9")
    proposals = s.match_proposals()
    label = int(proposals.rows.followup_label.dropna().iloc[0])
    s.accept_match(proposals, label)
    path = Path(params.study.rois) / P3_FU / "R1" / "matches.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"decision_id,decided_at\n\xff\xfe garbage\n")
    version = s.save()
    assert version.version == 2                       # the ROI version is saved ...
    assert any("the decisions stay pending (the scan counts as unsaved)" in w
               for w in s.warnings)
    assert s.dirty and s.dirty_scans() == [P3_FU] and s.log_only()   # ... the decisions not
    assert s.save() is None and s.autosave() == ([], [])              # still damaged
    assert RoiStore(params.study.rois).history(P3_FU, reader="R1").version.max() == 2
    assert len(s.pending_decisions()) == 1
    path.unlink()                                     # repaired: a save writes only the log
    assert s.save().version == 2
    log = _log(params, P3_FU)
    assert list(zip(log.followup_label, log.decision, log.roi_version, strict=True)) == [
        (str(label), "accept", "2")]
    assert not s.dirty and s.save() is None
    assert RoiStore(params.study.rois).history(P3_FU, reader="R1").version.max() == 2
