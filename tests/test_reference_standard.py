"""The reference standard of a study still being filled in: counted, never guessed.

A lesion whose truth is pending, a patient whose disease status or its method is not
recorded, a patient scanned twice with one tracer, a disease status that contradicts the
lesions: each is counted where it belongs, with the 2×2 tables worked out by hand from the
hand-made study of tests/test_cohort.py.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nethelpers import readings
from nethelpers.cohort import CohortError, load_cohort
from nethelpers.config import load_params
from tests.test_cohort import LESIONS, PATIENTS, READS, SCANS, edit, write_params, write_study


def _cohort(tmp_path: Path, strict: bool = False, **tables: str):
    root = write_study(tmp_path / "study", **tables)
    return load_cohort(load_params(write_params(tmp_path / "p.yaml", root, tmp_path / "o")),
                       strict=strict)


def _row(frame, **where):
    mask = True
    for key, value in where.items():
        mask = mask & (frame[key] == value)
    return frame[mask].iloc[0]


def test_a_lesion_with_pending_truth_keeps_its_reads(tmp_path):
    lesions = edit(LESIONS, "P005,P005-L01,femur,9,malignant,true",
                   "P005,P005-L01,femur,9,,")
    c = _cohort(tmp_path, lesions=lesions)
    assert c.exclusions.empty and "P005-L01" in set(c.lesions["lesion_id"])
    # R1 called P005-L01 positive on P005-DOTATATE-PETCT: the scan stays positive (TP)
    patients = readings.patient_level(c, "R1")
    assert bool(_row(patients, scan_id="P005-DOTATATE-PETCT")["test"]) is True
    by_scan = readings.accuracy_by(patients, ["tracer", "modality"], test="test",
                                   truth="disease_present")
    sens = _row(by_scan, tracer="DOTATATE", modality="PET/CT", measure="sensitivity")
    # diseased patients with a read DOTATATE PET/CT: P001 (positive), P005 (positive);
    # P003 and P004 have no R1 read on it (not read)
    assert (sens["tp"], sens["fn"]) == (2, 0)
    # ... and the lesion leaves the lesion-level accuracy, counted
    lesion = readings.lesion_level(c, "R1")
    acc = readings.accuracy_by(lesion, ["tracer", "modality"], test="test", truth="malignant",
                               cluster="patient_id")
    row = _row(acc, tracer="DOTATATE", modality="PET/CT", measure="sensitivity")
    assert (row["tp"], row["fn"], row["n_no_reference"]) == (1, 0, 1)


def test_flow_boxes_add_up_when_the_reference_standard_is_partly_recorded(tmp_path):
    # P002: disease status not recorded; P004: status recorded, method (reference_standard)
    # not recorded
    patients = edit(PATIENTS, "P002,suspected_net,60,F,60,160,none,false,follow-up",
                    "P002,suspected_net,60,F,60,160,none,,follow-up")
    patients = edit(patients, "P004,staging_net,40,M,90,175,NET,true,histopathology",
                    "P004,staging_net,40,M,90,175,NET,true,")
    reads = READS + "P004-DOTATATE-PETCT,P004-L01,R1,positive,3,5,\n"
    c = _cohort(tmp_path, patients=patients, reads=reads)
    results = readings.patient_level(c, "R1")
    flow = readings.index_test_flow(results, c.patients, "negative")
    parts = flow[["histopathology", "follow_up", "method_not_recorded", "no_reference"]]
    assert (parts.sum(axis=1) == flow["scans"]).all()
    petmr = _row(flow, tracer="DOTATATE", modality="PET/MR", result="indeterminate")
    assert (petmr["scans"], petmr["no_reference"], petmr["follow_up"]) == (1, 1, 0)
    positive = _row(flow, tracer="DOTATATE", modality="PET/CT", result="positive")
    # P001 (histopathology), P004 (method not recorded), P005 (histopathology)
    assert (positive["scans"], positive["histopathology"],
            positive["method_not_recorded"]) == (3, 2, 1)
    # P002 has no reference standard: out of the 2x2, counted
    acc = readings.accuracy_by(results, ["tracer", "modality"], test="test",
                               truth="disease_present")
    mr = acc[(acc["tracer"] == "DOTATATE") & (acc["modality"] == "PET/MR")]
    assert mr["measure"].tolist() == ["not estimable"]  # listed with the reason, not dropped
    assert (mr["n_no_reference"].item(), mr["tp"].item() + mr["tn"].item()) == (1, 0)
    assert "1 without a reference standard" in mr["note"].item()


def test_a_second_scan_months_later_is_a_follow_up_not_an_index_test(tmp_path):
    # no time_point column: the second scan of a type is follow-up 1 (derived from its date)
    scans = SCANS + "P001-DOTATATE-PETCT-2,P001,DOTATATE,PET/CT,2024-07-10,,,,,,,\n"
    reads = READS + "P001-DOTATATE-PETCT-2,P001-L01,R1,positive,3,5,\n"
    c = _cohort(tmp_path, scans=scans, reads=reads)
    assert c.scans.set_index("scan_id").loc["P001-DOTATATE-PETCT-2", "time_point"] == (
        "follow-up 1")
    assert readings.repeat_scans(c.scans) == {"P001-DOTATATE-PETCT-2"}
    results = readings.patient_level(c, "R1")
    assert "P001-DOTATATE-PETCT-2" not in set(results["scan_id"])  # no row: not an index test
    assert not results["repeat"].any()
    acc = readings.accuracy_by(results, ["tracer", "modality"], test="test",
                               truth="disease_present")
    sens = _row(acc, tracer="DOTATATE", modality="PET/CT", measure="sensitivity")
    # P001 once, P005; left out: the unread P003, P004 and P006, not the follow-up
    assert (sens["tp"], sens["fn"], sens["n_excluded"]) == (2, 0, 3)
    flow = readings.index_test_flow(results, c.patients, "negative", c.scans)
    petct = flow[(flow["tracer"] == "DOTATATE") & (flow["modality"] == "PET/CT")]
    assert "repeat scan" not in set(petct["result"])  # a follow-up is not a repeat scan
    assert set(petct["follow_up_scans"]) == {1} and set(flow["follow_up_scans"]) == {0, 1}
    # the branches add up to the five baseline scans (P001, P003-P006), the follow-up apart
    assert petct["scans"].sum() == 5 and set(petct["patients_tested"]) == {5}
    lesion = readings.lesion_level(c, "R1")
    assert "P001-DOTATATE-PETCT-2" not in set(lesion["scan_id"])


def test_a_repeat_scan_does_not_count_the_patient_twice(tmp_path):
    # recorded baseline; a scan of the same type dated before it has no time point: a repeat
    lines = SCANS.splitlines()
    scans = "\n".join([lines[0] + ",time_point",
                       *(f"{row},baseline" if row.startswith("P001-DOTATATE-PETCT,") else
                         f"{row}," for row in lines[1:]),
                       "P001-DOTATATE-PETCT-0,P001,DOTATATE,PET/CT,2024-01-03,,,,,,,,"]) + "\n"
    reads = READS + "P001-DOTATATE-PETCT-0,P001-L01,R1,positive,3,5,\n"
    c = _cohort(tmp_path, scans=scans, reads=reads)
    assert pd.isna(c.scans.set_index("scan_id").loc["P001-DOTATATE-PETCT-0", "time_point"])
    assert readings.repeat_scans(c.scans) == {"P001-DOTATATE-PETCT-0"}
    results = readings.patient_level(c, "R1")
    repeat = _row(results, scan_id="P001-DOTATATE-PETCT-0")
    assert bool(repeat["repeat"]) and repeat["test"] is not True
    acc = readings.accuracy_by(results, ["tracer", "modality"], test="test",
                               truth="disease_present")
    sens = _row(acc, tracer="DOTATATE", modality="PET/CT", measure="sensitivity")
    assert (sens["tp"], sens["fn"]) == (2, 0)  # P001 once, P005
    flow = readings.index_test_flow(results, c.patients, "negative", c.scans)
    row = _row(flow, tracer="DOTATATE", modality="PET/CT", result="repeat scan")
    assert (row["scans"], row["counted_as"], row["follow_up_scans"]) == (1, "excluded", 0)
    lesion = readings.lesion_level(c, "R1")
    assert "P001-DOTATATE-PETCT-0" not in set(lesion["scan_id"])


def test_a_disease_status_that_contradicts_the_lesions_is_flagged(tmp_path):
    patients = edit(PATIENTS, "P001,suspected_net,50,M,80,180,NET,true",
                    "P001,suspected_net,50,M,80,180,NET,false")
    c = _cohort(tmp_path, patients=patients)
    flagged = c.exclusions[c.exclusions["id"] == "P001"]
    assert set(flagged["action"]) == {"kept: check"}
    assert {"disease_present is false but the lesions table has a malignant lesion of this "
            "patient", "disease_present is false but final_diagnosis names a disease"} == set(
        flagged["reason"])
    assert "P001" in set(c.patients["patient_id"])  # kept
    with pytest.raises(CohortError, match="Fix: correct disease_present"):
        _cohort(tmp_path / "strict", strict=True, patients=patients)
