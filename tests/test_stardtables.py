"""STARD 21b and 22 from the demo's tables, checked against plain csv + datetime counts."""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from datetime import date

import pandas as pd
import pytest

from nethelpers.cohort import load_cohort
from nethelpers.config import params_from_dict
from nethelpers.stard import STARD_ITEMS, stard_checklist, stard_tables
from nethelpers.stardtables import ALTERNATIVES, INTERVALS, time_to_reference


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def cohort(demo_study):
    params = params_from_dict({"study": {"name": "t", "data_root": str(demo_study)}})
    return load_cohort(params)


def test_every_stard_2015_item_is_listed_once_in_order():
    items = list(dict.fromkeys(i.item for i in STARD_ITEMS))
    expected = [str(n) for n in range(1, 31)]
    for split in ("10", "12", "13", "21"):
        expected[expected.index(split)] = f"{split}a"
        expected.insert(expected.index(f"{split}a") + 1, f"{split}b")
    assert items == expected  # 30 items, 34 with their parts, STARD 2015 order
    manuscript = {i.item for i in STARD_ITEMS if i.manuscript}
    assert {"1", "2", "18", "28", "30"} <= manuscript
    assert not {"21b", "22", "23", "24"} & manuscript


def test_time_to_reference_in_days_per_index_test(demo_study, cohort):
    patients = {r["patient_id"]: r for r in _rows(demo_study / "clinical/patients.csv")}
    days: dict[tuple[str, str], list[int]] = {}
    follow_up: list[int] = []
    for scan in _rows(demo_study / "clinical/scans.csv"):
        ref = date.fromisoformat(patients[scan["patient_id"]]["reference_date"])
        delta = (ref - date.fromisoformat(scan["scan_date"])).days
        if scan["time_point"] != "baseline":  # not an index test (notebook 06)
            follow_up.append(delta)
            continue
        days.setdefault((scan["tracer"], scan["modality"]), []).append(delta)
    # the demo's follow-ups (P003, P004) are there, some after the reference standard
    assert len(follow_up) == 3 and min(follow_up) < 0
    table = time_to_reference(cohort.patients, cohort.scans).set_index(["tracer", "modality"])
    assert set(table.index) == set(days)
    for key, values in days.items():
        row = table.loc[key]
        assert row["n"] == row["scans"] == len(values)
        assert row["days_median"] == statistics.median(values)
        assert (row["days_min"], row["days_max"]) == (min(values), max(values))
        assert row["n_reference_before_scan"] == sum(v < 0 for v in values) == 0
    # demo: histopathology 2-6 weeks after the last scan, follow-up 12-15 months
    assert 14 <= min(min(v) for v in days.values())
    assert max(max(v) for v in days.values()) <= 365 + 90 + 30


def test_alternative_diagnoses_of_those_without_the_target_condition(demo_study, cohort):
    free = [r for r in _rows(demo_study / "clinical/patients.csv")
            if r["disease_present"] == "False"]
    benign = [r for r in _rows(demo_study / "truth/lesions.csv") if r["malignant"] == "False"]
    assert benign, "the demo has benign or physiological lesions"
    table = stard_tables(cohort.patients, cohort.scans, cohort.lesions)[ALTERNATIVES]
    lesions = table[table["level"] == "lesion"]
    expected = Counter(f"{r['truth']}: {r['description']}" for r in benign)
    assert dict(lesions.groupby("diagnosis")["n"].sum()) == dict(expected)
    assert (lesions["denominator"] == len(benign)).all()
    patients = table[table["level"] == "patient"]
    assert patients["n"].sum() == len(free)
    assert (patients["denominator"] == len(free)).all() if free else patients.empty


def test_without_reference_date_item_22_waits_for_the_column(tmp_path, cohort):
    tables = stard_tables(cohort.patients.drop(columns="reference_date"), cohort.scans,
                          cohort.lesions)
    assert INTERVALS not in tables and ALTERNATIVES in tables
    (tmp_path / "tables").mkdir()
    for name, table in tables.items():
        table.to_csv(tmp_path / "tables" / f"{name}.csv", index=False)
    checklist = stard_checklist(params_from_dict({"study": {"name": "t", "data_root": "."}}),
                                tmp_path, {}).set_index("item")
    assert checklist.loc["21b", "status"] == "addressed"
    assert checklist.loc["21b", "files"] == f"tables/{ALTERNATIVES}.csv"
    assert checklist.loc["22", "status"].startswith(
        "waiting: the optional reference_date column of the patients table")
    assert (checklist.loc[["1", "25", "30"], "status"] == "manuscript").all()
    assert pd.isna(time_to_reference(cohort.patients.drop(columns="reference_date"),
                                     cohort.scans)["n"].max())
