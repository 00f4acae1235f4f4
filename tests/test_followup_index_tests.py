"""Follow-up scans are not index tests: the diagnostic analyses count each baseline once.

The 6-patient demo has follow-up scans (P003: DOTATATE PET/CT and PET/MR; P004: DOTATATE
PET/CT), recorded in clinical/scans.csv's ``time_point``. Every expected number is worked out
here from the demo's CSV files with plain pandas (time point, reads, truth), never with the
code under test; the numbers in the comments are those of a baseline-only copy of the study.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nethelpers import readings, sstrrads
from nethelpers.cohort import load_cohort
from nethelpers.config import params_from_dict
from nethelpers.inventory import FOLLOW_UP, FOLLOW_UP_ROW, follow_up_counts, scan_totals
from nethelpers.plots import index_test_flow, participant_flow
from nethelpers.stardtables import alternative_diagnoses
from tests.test_cohort import assert_no_overlap, cohort_from


@pytest.fixture(scope="module")
def cohort(demo_study):
    return load_cohort(params_from_dict({"study": {"name": "t", "data_root": str(demo_study)}}))


@pytest.fixture(scope="module")
def csv(demo_study) -> dict[str, pd.DataFrame]:
    """The demo's tables as written, read with plain pandas."""
    root = Path(demo_study)
    return {"scans": pd.read_csv(root / "clinical" / "scans.csv"),
            "patients": pd.read_csv(root / "clinical" / "patients.csv"),
            "reads": pd.read_csv(root / "reads" / "reads.csv"),
            "lesions": pd.read_csv(root / "truth" / "lesions.csv")}


def _baseline(csv) -> pd.DataFrame:
    scans = csv["scans"]
    return scans[scans["time_point"] == "baseline"]


def test_the_demo_has_follow_up_scans_with_reads(csv):
    scans = csv["scans"]
    later = scans[scans["time_point"] != "baseline"]
    assert set(later["patient_id"]) == {"P003", "P004"} and len(later) == 3
    assert set(later["scan_id"]) <= set(csv["reads"]["scan_id"])  # read: they could leak in


def test_sstr_rads_counts_each_baseline_once(cohort, csv):
    les = sstrrads.sstr_rads_lesions(cohort)
    pat = sstrrads.sstr_rads_patients(les, cohort.patients)
    later = set(csv["scans"].loc[csv["scans"]["time_point"] != "baseline", "scan_id"])
    assert not later & set(les["scan_id"]) and not later & set(pat["scan_id"])
    acc = sstrrads.sstr_rads_accuracy(pat, "disease_present", cluster=None)
    base = _baseline(csv).merge(csv["patients"][["patient_id", "disease_present"]])
    r1 = csv["reads"][csv["reads"]["reader"] == "R1"]
    for modality, n in (("PET/CT", 5), ("PET/MR", 3)):  # 7 and 4 with the follow-ups
        read = base[(base["tracer"] == "DOTATATE") & (base["modality"] == modality)
                    & base["scan_id"].isin(r1["scan_id"])]
        diseased = int(read["disease_present"].astype(bool).sum())
        sens = acc[(acc["measure"] == "sensitivity") & (acc["reader"] == "R1")
                   & (acc["modality"] == modality)].iloc[0]
        assert sens["denominator"] == diseased == n
    # lesion level: R1's malignant lesion reads on the baseline DOTATATE PET/CT
    lesion_acc = sstrrads.sstr_rads_accuracy(les, "malignant", cluster="patient_id")
    petct = base[(base["tracer"] == "DOTATATE") & (base["modality"] == "PET/CT")]
    malignant = set(csv["lesions"].loc[csv["lesions"]["malignant"].astype(bool), "lesion_id"])
    calls = r1[r1["scan_id"].isin(petct["scan_id"]) & r1["lesion_id"].isin(malignant)]
    sens = lesion_acc[(lesion_acc["measure"] == "sensitivity") & (lesion_acc["reader"] == "R1")
                      & (lesion_acc["modality"] == "PET/CT")].iloc[0]
    assert sens["denominator"] == len(calls) == 26  # 39 with the follow-ups


def test_patient_level_and_flow_leave_follow_ups_out_of_the_branches(cohort, csv):
    results = readings.patient_level(cohort, "R1")
    base = _baseline(csv)
    assert set(results["scan_id"]) == set(base["scan_id"]) and not results["repeat"].any()
    acc = readings.accuracy_by(results, ["tracer", "modality"], test="test",
                               truth="disease_present")
    r1 = set(csv["reads"].loc[csv["reads"]["reader"] == "R1", "scan_id"])
    for (tracer, modality), g in base.groupby(["tracer", "modality"]):
        unread = int((~g["scan_id"].isin(r1)).sum())
        row = acc[(acc["tracer"] == tracer) & (acc["modality"] == modality)].iloc[0]
        assert row["n_excluded"] == unread  # the follow-ups are not "excluded" results
    flow = readings.index_test_flow(results, cohort.patients, "negative", cohort.scans)
    later = csv["scans"][csv["scans"]["time_point"] != "baseline"]
    for (tracer, modality), g in flow.groupby(["tracer", "modality"]):
        type_ = (csv["scans"]["tracer"] == tracer) & (csv["scans"]["modality"] == modality)
        assert g["scans"].sum() == ((base["tracer"] == tracer)
                                    & (base["modality"] == modality)).sum()
        expected = int(((later["tracer"] == tracer) & (later["modality"] == modality)).sum())
        assert set(g["follow_up_scans"]) == {expected}
        assert type_.sum() == g["scans"].sum() + expected
    assert "repeat scan" not in set(flow["result"])
    petct = flow[(flow["tracer"] == "DOTATATE") & (flow["modality"] == "PET/CT")]
    assert petct["scans"].sum() == 6 and set(petct["follow_up_scans"]) == {2}
    without = readings.index_test_flow(results, cohort.patients, "negative")
    assert "follow_up_scans" not in without.columns


def test_index_test_flow_figure_counts_follow_ups_beside_the_index_test():
    flow = pd.DataFrame({
        "tracer": "DOTATATE", "modality": "PET/CT", "eligible": 6, "patients_tested": 6,
        "not_tested": 0, "result": ["positive", "negative", "indeterminate"],
        "scans": [5, 1, 0], "counted_as": ["positive", "negative", "negative"],
        "histopathology": [5, 0, 0], "follow_up": [0, 1, 0], "no_reference": 0,
        "disease_present": [5, 0, 0], "disease_absent": [0, 1, 0], "follow_up_scans": 2})
    fig = index_test_flow(flow, "DOTATATE", "PET/CT")
    texts = [t.get_text() for t in fig.texts]
    note = ("Follow-up scans\nn = 2\n(not index tests:\ntreatment response,\nnotebook 06)")
    assert note in texts
    assert not any(t.startswith("Repeat scan") for t in texts)
    assert_no_overlap(fig)
    both = index_test_flow(flow.assign(not_tested=1, eligible=7), "DOTATATE", "PET/CT")
    assert f"No DOTATATE PET/CT scan\nn = 1\n\n{note}" in [t.get_text() for t in both.texts]
    none = index_test_flow(flow.assign(follow_up_scans=0), "DOTATATE", "PET/CT")
    assert len(none.texts) == len(fig.texts) - 1  # no side box at all


def test_participant_flow_counts_index_tests_and_follow_ups_apart(cohort, csv):
    texts = [t.get_text() for t in participant_flow(cohort).texts]
    scans = csv["scans"][csv["scans"]["patient_id"] == "P003"]  # History of NET
    base = scans[scans["time_point"] == "baseline"]
    lines = [f"{t} {m}: {len(g)}" for (t, m), g in base.groupby(["tracer", "modality"])]
    later = len(scans) - len(base)
    expected = "\n".join([f"Scans: {len(base)}", *lines, "", f"Follow-up scans: {later}",
                          "(notebook 06)"])
    assert expected in texts
    assert expected.startswith("Scans: 3\n") and later == 2  # "Scans: 5" before


def test_scan_totals_split_the_follow_up_scans(cohort, csv):
    totals = scan_totals(cohort).set_index("group")
    scans = csv["scans"].merge(csv["patients"][["patient_id", "group"]])
    later = scans[scans["time_point"] != "baseline"]
    label = later["tracer"] + " " + later["modality"]
    row = totals.loc[FOLLOW_UP_ROW]
    for combo in [c for c in totals.columns if " " in c]:
        assert row[combo] == int((label == combo).sum())
    assert row["patients"] == later["patient_id"].nunique() == 2
    assert row["total"] == row[FOLLOW_UP] == len(later) == 3
    assert totals.loc["Overall", "total"] == len(scans) == 19   # every scan, as before
    assert totals.loc["Overall", "DOTATATE PET/CT"] == 8
    assert totals.loc["Overall", FOLLOW_UP] == len(later)
    per_group = later.groupby("group").size()
    assert totals.loc["history_net", FOLLOW_UP] == per_group["history_net"] == 2
    assert totals.loc["suspected_net", FOLLOW_UP] == 0
    assert list(totals.index)[-2:] == ["Overall", FOLLOW_UP_ROW]
    new = int((csv["lesions"]["first_time_point"] != "baseline").sum())
    assert follow_up_counts(cohort) == {"Follow-up scans (notebook 06)": 3,
                                        "Lesions new at a follow-up": new}
    assert new == 1


def test_a_study_without_follow_up_has_no_follow_up_column_or_row(tmp_path):
    c = cohort_from(tmp_path)
    totals = scan_totals(c)
    assert FOLLOW_UP not in totals.columns and FOLLOW_UP_ROW not in set(totals["group"])
    assert follow_up_counts(c) == {}


def test_alternative_diagnoses_leave_out_lesions_new_at_follow_up():
    patients = pd.DataFrame({"patient_id": ["A"], "disease_present": [True]})
    lesions = pd.DataFrame({
        "lesion_id": ["A1", "A2", "A3"], "malignant": [False, False, True],
        "truth": ["benign", "benign", "malignant"],
        "description": ["haemangioma", "fracture", ""],
        "reference_standard": ["follow-up", "follow-up", "histopathology"],
        "first_time_point": ["baseline", "follow-up 1", "baseline"]})
    table = alternative_diagnoses(patients, lesions)
    assert table["diagnosis"].tolist() == ["benign: haemangioma"]
    assert table["denominator"].tolist() == [1]  # 2 with the lesion new at follow-up
    every = alternative_diagnoses(patients, lesions.drop(columns="first_time_point"))
    assert sorted(every["diagnosis"]) == ["benign: fracture", "benign: haemangioma"]
    assert every["denominator"].tolist() == [2, 2]
