"""Time points of the scans: recorded or derived from scan_date, days between, pairs.

The expected days are computed in each test with :mod:`datetime` (independent of pandas).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from nethelpers.cohort import CohortError, load_cohort, load_scans
from nethelpers.config import params_from_dict
from nethelpers.readings import repeat_scans
from nethelpers.timepoints import (
    DERIVED,
    NOT_DERIVED,
    RECORDED,
    REFUSED,
    normalise_time_point,
    pairs,
    time_points,
)


def _days(a: str, b: str) -> int:
    return (date.fromisoformat(b) - date.fromisoformat(a)).days


def _scans(rows: list[tuple[str, str, str, str, str, str]]) -> pd.DataFrame:
    """A scans table: (scan_id, patient_id, tracer, modality, scan_date, time_point)."""
    return pd.DataFrame(rows, columns=["scan_id", "patient_id", "tracer", "modality",
                                       "scan_date", "time_point"])


# P1 DOTATATE PET/CT: three scans listed out of date order; P1 FDG PET/CT: one scan;
# P2 DOTATATE PET/MR: two scans.
PLANTED = [
    ("P1-D-3", "P1", "DOTATATE", "PET/CT", "2024-09-02", ""),
    ("P1-D-1", "P1", "DOTATATE", "PET/CT", "2024-01-15", ""),
    ("P1-F-1", "P1", "FDG", "PET/CT", "2024-01-16", ""),
    ("P1-D-2", "P1", "DOTATATE", "PET/CT", "2024-04-29", ""),
    ("P2-D-2", "P2", "DOTATATE", "PET/MR", "2025-03-01", ""),
    ("P2-D-1", "P2", "DOTATATE", "PET/MR", "2024-12-30", ""),
]


def test_time_points_are_derived_from_scan_date_order():
    tp = time_points(_scans(PLANTED)).set_index("scan_id")
    expected = {  # scan: (time point, days from baseline, days from previous)
        "P1-D-1": ("baseline", 0, None),
        "P1-D-2": ("follow-up 1", _days("2024-01-15", "2024-04-29"),
                   _days("2024-01-15", "2024-04-29")),
        "P1-D-3": ("follow-up 2", _days("2024-01-15", "2024-09-02"),
                   _days("2024-04-29", "2024-09-02")),
        "P1-F-1": ("baseline", 0, None),  # another tracer: its own series
        "P2-D-1": ("baseline", 0, None),
        "P2-D-2": ("follow-up 1", _days("2024-12-30", "2025-03-01"),
                   _days("2024-12-30", "2025-03-01")),
    }
    for scan, (point, from_base, from_prev) in expected.items():
        row = tp.loc[scan]
        assert row["time_point"] == point, scan
        assert row["time_point_source"] == DERIVED
        assert row["days_from_baseline"] == from_base, scan
        assert (pd.isna(row["days_from_previous"]) if from_prev is None
                else row["days_from_previous"] == from_prev), scan
    assert tp.loc["P1-D-3", "days_from_baseline"] == 231  # by hand: 16+29+31+...+2
    assert tp.loc["P2-D-2", "days_from_previous"] == 61  # across the year end


@pytest.mark.parametrize(("spelling", "label"), [
    ("baseline", "baseline"), ("BL", "baseline"), ("Baseline", "baseline"), ("t0", "baseline"),
    ("FU1", "follow-up 1"), ("follow up 1", "follow-up 1"), ("Follow-Up 1", "follow-up 1"),
    ("F/U 2", "follow-up 2"), ("fu_02", "follow-up 2"), ("t1", "follow-up 1"),
    ("T12", "follow-up 12"), ("followup3", "follow-up 3"), ("", None), (None, None),
])
def test_recorded_spellings_are_normalised(spelling, label):
    assert normalise_time_point(spelling) == label


@pytest.mark.parametrize("bad", ["follow-up", "FU0", "week 12", "FU1.5", "pre", "-"])
def test_a_value_that_is_not_a_time_point_is_refused(bad):
    with pytest.raises(ValueError, match="is not a time point; allowed: baseline"):
        normalise_time_point(bad)
    rows = [("S1", "P1", "FDG", "PET/CT", "2024-01-01", bad)]
    with pytest.raises(CohortError, match=r"S1.*Fix: correct the value, or leave the cell"):
        time_points(_scans(rows))


def test_recorded_time_points_win_and_are_normalised():
    rows = [("S1", "P1", "FDG", "PET/CT", "2024-01-01", "BL"),
            ("S2", "P1", "FDG", "PET/CT", "2024-02-01", "FU2"),  # follow-up 1 not scanned
            ("S3", "P1", "FDG", "PET/MR", "2024-03-01", "follow-up 1")]  # no baseline
    tp = time_points(_scans(rows)).set_index("scan_id")
    assert tp["time_point"].tolist() == ["baseline", "follow-up 2", "follow-up 1"]
    assert set(tp["time_point_source"]) == {RECORDED}
    assert tp.loc["S2", "days_from_baseline"] == _days("2024-01-01", "2024-02-01") == 31
    assert tp.loc["S2", "days_from_previous"] == 31  # previous time point present: baseline
    assert pd.isna(tp.loc["S3", "days_from_baseline"])  # its series has no baseline


def test_a_follow_up_dated_before_its_baseline_is_refused():
    rows = [("S1", "P1", "DOTATATE", "PET/CT", "2024-03-01", "baseline"),
            ("S2", "P1", "DOTATATE", "PET/CT", "2024-01-30", "FU1")]
    with pytest.raises(CohortError) as err:
        time_points(_scans(rows))
    text = str(err.value)
    days = _days("2024-01-30", "2024-03-01")
    assert f"S2 (follow-up 1) is dated {days} day(s) before S1 (baseline)" in text
    assert "Fix: correct the scan_date or the time_point" in text
    assert "2024" not in text  # no dates in messages: days only


def test_two_scans_with_one_time_point_are_refused():
    rows = [("S1", "P1", "DOTATATE", "PET/CT", "2024-03-01", "baseline"),
            ("S2", "P1", "DOTATATE", "PET/CT", "2024-03-02", "BL")]
    with pytest.raises(CohortError, match=r"scans S1, S2 are all recorded as 'baseline'"):
        time_points(_scans(rows))


def test_pairs_give_the_scans_and_days_of_two_time_points():
    scans = _scans(PLANTED)
    found = pairs(scans)
    assert found[["patient_id", "scan_id_a", "scan_id_b"]].values.tolist() == [
        ["P1", "P1-D-1", "P1-D-2"], ["P2", "P2-D-1", "P2-D-2"]]
    assert found["days"].tolist() == [_days("2024-01-15", "2024-04-29"),
                                      _days("2024-12-30", "2025-03-01")]
    later = pairs(scans, "FU1", "follow up 2")  # any spelling
    assert later[["scan_id_a", "scan_id_b"]].values.tolist() == [["P1-D-2", "P1-D-3"]]
    assert later["days"].tolist() == [_days("2024-04-29", "2024-09-02")]
    with pytest.raises(ValueError, match="two different time points"):
        pairs(scans, "BL", "t0")


def test_repeat_scans_agree_with_the_time_points():
    scans = _scans(PLANTED).assign(scan_date=lambda d: pd.to_datetime(d["scan_date"]))
    tp = time_points(scans)
    assert repeat_scans(tp) == set(tp.loc[tp["time_point"] != "baseline", "scan_id"])
    assert repeat_scans(scans) == repeat_scans(tp)  # derived: the first by date
    # conflict: a scan without a time point dated before the recorded baseline
    rows = [("S0", "P1", "DOTATATE", "PET/CT", "2023-11-20", ""),
            ("S1", "P1", "DOTATATE", "PET/CT", "2024-01-10", "BL"),
            ("S2", "P1", "DOTATATE", "PET/CT", "2024-06-10", "FU1")]
    conflict = _scans(rows).assign(scan_date=lambda d: pd.to_datetime(d["scan_date"]))
    tp = time_points(conflict).set_index("scan_id")
    assert pd.isna(tp.loc["S0", "time_point"])
    assert tp.loc["S0", "time_point_source"] == NOT_DERIVED
    assert tp.loc["S0", "days_from_baseline"] == -_days("2023-11-20", "2024-01-10") == -51
    assert repeat_scans(conflict) == {"S0", "S2"}  # the recorded baseline is the index test
    assert repeat_scans(conflict.drop(columns="time_point")) == {"S1", "S2"}
    # a follow-up whose series has no baseline (PET/MR only at follow-up) is no index test
    rows = [("S1", "P1", "DOTATATE", "PET/CT", "2024-01-10", "BL"),
            ("S2", "P1", "DOTATATE", "PET/MR", "2024-06-10", "FU1"),
            ("S3", "P2", "DOTATATE", "PET/CT", "2024-06-10", "follow-up 2")]
    alone = _scans(rows).assign(scan_date=lambda d: pd.to_datetime(d["scan_date"]))
    assert repeat_scans(alone) == {"S2", "S3"}


# --------------------------------------------------------------------------------------------
# the cohort load
# --------------------------------------------------------------------------------------------


def _cohort(ideal_study, scans_csv, strict: bool = False):
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                         "tables": {"scans": str(scans_csv)}}})
    return load_cohort(params, strict=strict)


def test_cohort_scans_carry_time_points_without_changing_the_table(ideal_study):
    path = ideal_study / "clinical" / "scans.csv"
    cohort = _cohort(ideal_study, path)
    scans = cohort.scans
    table = pd.read_csv(path)
    assert len(scans) == len(table) > 0
    # the demo records its time points: P003's two follow-ups, every other scan baseline
    assert list(scans["time_point"]) == list(table["time_point"])
    assert (scans["time_point_source"] == RECORDED).all()
    base = scans[scans["time_point"] == "baseline"]
    assert (base["days_from_baseline"] == 0).all() and base["days_from_previous"].isna().all()
    later = scans[scans["time_point"] == "follow-up 1"].set_index("scan_id")
    assert sorted(later.index) == ["P003-DOTATATE-PETCT-FU1", "P003-DOTATATE-PETMR-FU1"]
    dates = pd.to_datetime(table.set_index("scan_id")["scan_date"])
    for scan_id in later.index:
        days = (dates[scan_id] - dates[scan_id.removesuffix("-FU1")]).days
        assert later.loc[scan_id, "days_from_baseline"] == later.loc[
            scan_id, "days_from_previous"] == days
    plain = load_scans(path)  # the table loader alone: every other column unchanged
    pd.testing.assert_frame_equal(scans.drop(columns=["time_point", "time_point_source",
                                                      "days_from_baseline",
                                                      "days_from_previous"]),
                                  plain.drop(columns="time_point"))
    assert cohort.exclusions.empty


def test_a_follow_up_row_loads_with_its_time_point_and_days(ideal_study, tmp_path):
    table = pd.read_csv(ideal_study / "clinical" / "scans.csv", dtype=str,
                        keep_default_na=False)
    first = table.iloc[0].copy()
    later = (date.fromisoformat(first["scan_date"]) + pd.Timedelta(days=97)).isoformat()
    follow = first.copy()
    follow["scan_id"], follow["scan_date"] = first["scan_id"] + "-FU1", later[:10]
    table = pd.concat([table, follow.to_frame().T], ignore_index=True)
    table["time_point"] = [""] * (len(table) - 1) + ["FU1"]
    path = tmp_path / "scans.csv"
    table.to_csv(path, index=False)
    cohort = _cohort(ideal_study, path)
    scans = cohort.scans.set_index("scan_id")
    row = scans.loc[follow["scan_id"]]
    assert (row["time_point"], row["time_point_source"]) == ("follow-up 1", RECORDED)
    assert row["days_from_baseline"] == row["days_from_previous"] == 97
    assert scans.loc[first["scan_id"], "time_point"] == "baseline"
    note = cohort.exclusions.set_index("id").loc[follow["scan_id"]]
    assert note["action"] == "normalised" and "'FU1' read as 'follow-up 1'" in note["reason"]
    assert note["source"] == f"scans.csv line {len(table) + 1}"
    # the other rows' time points erased: derived, P003's later scans are follow-ups too
    assert repeat_scans(cohort.scans) == {follow["scan_id"], "P003-DOTATATE-PETCT-FU1",
                                          "P003-DOTATATE-PETMR-FU1"}


def test_a_cohort_with_a_follow_up_before_baseline_keeps_its_rows(ideal_study, tmp_path):
    table = pd.read_csv(ideal_study / "clinical" / "scans.csv", dtype=str,
                        keep_default_na=False)
    first = table.iloc[0].copy()
    early = first.copy()
    early["scan_id"] = first["scan_id"] + "-X"
    early["scan_date"] = (date.fromisoformat(first["scan_date"])
                          - pd.Timedelta(days=10)).isoformat()[:10]
    table = pd.concat([table, early.to_frame().T], ignore_index=True)
    table["time_point"] = ["baseline"] + [""] * (len(table) - 2) + ["follow-up 1"]
    path = tmp_path / "scans.csv"
    table.to_csv(path, index=False)
    with pytest.raises(CohortError) as err:
        _cohort(ideal_study, path, strict=True)
    assert str(err.value).startswith("scans.csv: column time_point: ")  # no absolute path
    assert f"{early['scan_id']} (follow-up 1) is dated 10 day(s) before" in str(err.value)
    cohort = _cohort(ideal_study, path)
    assert len(cohort.scans) == len(table)  # refused time points, not refused scans
    refused = cohort.scans[cohort.scans["time_point_source"] == REFUSED]
    assert set(refused["scan_id"]) == {first["scan_id"], early["scan_id"]}
    assert refused["time_point"].isna().all() and refused["days_from_baseline"].isna().all()
    rows = cohort.exclusions[cohort.exclusions["action"] == "time point set to missing"]
    assert set(rows["id"]) == {first["scan_id"], early["scan_id"]}


def test_an_unreadable_time_point_is_set_to_missing_and_derived(ideal_study, tmp_path):
    table = pd.read_csv(ideal_study / "clinical" / "scans.csv", dtype=str,
                        keep_default_na=False)
    table["time_point"] = ["week 12"] + [""] * (len(table) - 1)
    path = tmp_path / "scans.csv"
    table.to_csv(path, index=False)
    cohort = _cohort(ideal_study, path)
    row = cohort.scans.set_index("scan_id").loc[table.at[0, "scan_id"]]
    assert (row["time_point"], row["time_point_source"]) == ("baseline", DERIVED)
    (note,) = cohort.exclusions.to_dict("records")
    assert (note["id"], note["action"], note["source"]) == (
        table.at[0, "scan_id"], "set to missing", "scans.csv line 2")
    assert "'week 12' is not a time point" in note["reason"]
