"""The cohort's response pipeline: scan pairs, skipped pairs, Krenning joined, lesion words.

Tiny synthetic cohorts (a SimpleNamespace with scans, patients and reads) and measurement
rows written here; expected categories and changes are worked out by hand in the comments.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from nethelpers.responsecohort import cohort_response, lesion_category, pair_summary
from nethelpers.responsecriteria import ResponseRules


def _scans() -> pd.DataFrame:
    rows = [("A-CT-0", "A", "DOTATATE", "PET/CT", "2025-01-10", "baseline"),
            ("A-CT-1", "A", "DOTATATE", "PET/CT", "2025-05-10", "follow-up 1"),
            ("A-MR-0", "A", "DOTATATE", "PET/MR", "2025-01-10", "baseline"),
            ("A-MR-1", "A", "DOTATATE", "PET/MR", "2025-05-10", "follow-up 1"),
            ("B-CT-0", "B", "DOTATATE", "PET/CT", "2025-02-01", "baseline"),
            ("B-CT-1", "B", "DOTATATE", "PET/CT", "2025-08-30", "follow-up 1"),
            ("C-FDG-0", "C", "FDG", "PET/CT", "2025-03-01", "baseline"),
            ("C-FDG-1", "C", "FDG", "PET/CT", "2025-06-01", "follow-up 1"),
            ("D-CT-0", "D", "DOTATATE", "PET/CT", "2025-03-01", "baseline")]
    return pd.DataFrame(rows, columns=["scan_id", "patient_id", "tracer", "modality",
                                       "scan_date", "time_point"])


def _rows(scan: str, patient: str, tracer: str, modality: str, liver: float,
          lesions: dict[str, float]) -> list[dict]:
    base = {"scan_id": scan, "patient_id": patient, "tracer": tracer, "modality": modality,
            "quantity": "SUV"}
    out = [base | {"roi": "liver", "lesion_id": "", "suv_mean": liver, "suv_sd": 0.2 * liver,
                   "sul_mean": 0.7 * liver}]
    out += [base | {"roi": "lesion", "lesion_id": lid, "suv_max": v, "suv_peak": 0.8 * v,
                    "sul_peak": 0.56 * v} for lid, v in lesions.items()]
    return out


def _measurements() -> pd.DataFrame:
    rows = []
    # A PET/CT: L1 20 -> 8 (-60 %), L2 10 -> 9.5 (-5 %); targets: the hottest at each time,
    # L1 20 at baseline, L2 9.5 at follow-up: 9.5 / 20 - 1 = -52.5 % -> PMR
    rows += _rows("A-CT-0", "A", "DOTATATE", "PET/CT", 6.0, {"A-L1": 20.0, "A-L2": 10.0})
    rows += _rows("A-CT-1", "A", "DOTATATE", "PET/CT", 6.0, {"A-L1": 8.0, "A-L2": 9.5})
    # A PET/MR: the same, and a new lesion -> PMD
    rows += _rows("A-MR-0", "A", "DOTATATE", "PET/MR", 5.0, {"A-L1": 18.0, "A-L2": 9.0})
    rows += _rows("A-MR-1", "A", "DOTATATE", "PET/MR", 5.0, {"A-L1": 7.0, "A-L2": 9.0,
                                                              "A-L3": 12.0})
    # B: only the baseline was measured -> skipped
    rows += _rows("B-CT-0", "B", "DOTATATE", "PET/CT", 6.0, {"B-L1": 15.0})
    # C FDG (PERCIST): liver SUL 1.4, SD 0.28 x 0.7 -> threshold 1.5 x 1.4 + 2 x 0.28 = 2.66;
    # L1 SULpeak 0.56 x 10 = 5.6 -> 0.56 x 14 = 7.84: +40 %, +2.24 SUL -> PMD
    rows += _rows("C-FDG-0", "C", "FDG", "PET/CT", 2.0, {"C-L1": 10.0})
    rows += _rows("C-FDG-1", "C", "FDG", "PET/CT", 2.0, {"C-L1": 14.0})
    return pd.DataFrame(rows)


def _cohort(reads: pd.DataFrame | None = None) -> SimpleNamespace:
    patients = pd.DataFrame({"patient_id": ["A", "B", "C", "D"],
                             "group": ["prrt_net", "prrt_net", "history_net", "prrt_net"]})
    return SimpleNamespace(scans=_scans(), patients=patients, reads=reads)


def test_pairs_are_judged_per_tracer_and_modality():
    response = cohort_response(_cohort(), _measurements(), lesions="all")
    got = response.patients.set_index(["patient_id", "modality"])
    assert got.loc[("A", "PET/CT"), "category"] == "PMR"
    assert got.loc[("A", "PET/CT"), "change_rel"] == pytest.approx(-0.525)
    assert got.loc[("A", "PET/CT"), "followup_target"] == "A-L2"
    # the absolute clause is named only where the rule has one (PERCIST 0.8 SUL)
    assert got.loc[("A", "PET/CT"), "decided_by"] == (
        "target suv_max fell -52.5% (-10.5): <= -30%")
    assert got.loc[("C", "PET/CT"), "decided_by"].endswith(">= +30% and >= +0.8")
    assert got.loc[("A", "PET/MR"), "category"] == "PMD"
    assert got.loc[("A", "PET/MR"), "n_new"] == 1
    assert got.loc[("C", "PET/CT"), "category"] == "PMD"
    assert got.loc[("C", "PET/CT"), "rule_set"] == "percist"
    assert got.loc[("C", "PET/CT"), "change"] == pytest.approx(0.56 * 4)
    assert got.loc[("A", "PET/CT"), "days_between"] == 120
    assert got.loc[("A", "PET/CT"), "group"] == "prrt_net"
    assert list(response.patients.columns[:3]) == ["patient_id", "tracer", "modality"]
    # B's follow-up was not measured: listed, not judged; D has no follow-up: no pair
    assert list(response.skipped["patient_id"]) == ["B"]
    assert response.skipped["reason"].iloc[0] == "not measured: B-CT-1"
    assert set(response.pairs["patient_id"]) == {"A", "B", "C"}


def test_lesion_words_follow_the_rule_set_statistic():
    response = cohort_response(_cohort(), _measurements(), lesions="all")
    words = response.lesions.set_index(["lesion_id", "modality"])["lesion_category"]
    assert words[("A-L1", "PET/CT")] == "responding"       # -60 %
    assert words[("A-L2", "PET/CT")] == "stable"           # -5 %
    assert words[("A-L3", "PET/MR")] == "new"
    assert words[("C-L1", "PET/CT")] == "progressing"      # +40 % and +2.24 SUL
    assert set(response.lesions["statistic"]) == {"suv_max", "sul_peak"}


def test_lesion_category_boundaries_and_percist_minimum():
    rules = ResponseRules()
    rows = pd.DataFrame([
        # exactly -30 % of SUVmax: responding (inclusive)
        {"status": "both", "tracer": "DOTATATE", "suv_max_change": -3.0,
         "suv_max_change_rel": -0.30},
        {"status": "both", "tracer": "DOTATATE", "suv_max_change": -2.99,
         "suv_max_change_rel": -0.299},
        {"status": "both", "tracer": "DOTATATE", "suv_max_change": 3.0,
         "suv_max_change_rel": 0.30},
        # FDG: +50 % but only +0.5 SUL: below PERCIST's 0.8 -> stable
        {"status": "both", "tracer": "FDG", "sul_peak_change": 0.5,
         "sul_peak_change_rel": 0.5},
        {"status": "both", "tracer": "FDG", "sul_peak_change": 0.8,
         "sul_peak_change_rel": 0.5},
        {"status": "gone", "tracer": "FDG"},
        {"status": "both", "tracer": "FDG", "sul_peak_change": np.nan,
         "sul_peak_change_rel": np.nan},
        {"status": "both", "tracer": "CHOLINE", "suv_max_change": 5.0,
         "suv_max_change_rel": 0.9},
    ])
    got = lesion_category(rows, rules).tolist()
    assert got[:6] == ["responding", "stable", "progressing", "stable", "progressing", "gone"]
    assert pd.isna(got[6]) and pd.isna(got[7])


def test_krenning_of_the_reader_joins_the_lesions():
    reads = pd.DataFrame([
        {"scan_id": "A-CT-0", "lesion_id": "A-L1", "reader": "R1", "krenning": 4},
        {"scan_id": "A-CT-1", "lesion_id": "A-L1", "reader": "R1", "krenning": 3},
        {"scan_id": "A-CT-1", "lesion_id": "A-L1", "reader": "R2", "krenning": 1},
    ])
    response = cohort_response(_cohort(reads), _measurements(), reader="R1", lesions="all")
    row = response.lesions.set_index(["lesion_id", "modality"]).loc[("A-L1", "PET/CT")]
    assert (row["krenning_baseline"], row["krenning_followup"], row["krenning_change"]) == (
        4, 3, -1)
    l2 = response.lesions.set_index(["lesion_id", "modality"]).loc[("A-L2", "PET/CT")]
    assert pd.isna(l2["krenning_baseline"])


def test_pair_summary_counts_and_days():
    summary = pair_summary(cohort_response(_cohort(), _measurements(), lesions="all")).set_index(
        ["tracer", "modality"])
    ct = summary.loc[("DOTATATE", "PET/CT")]
    # A 120 days, B 210 days (2025-02-01 -> 2025-08-30)
    assert (ct["n_pairs"], ct["n_judged"], ct["n_categorised"]) == (2, 1, 1)
    assert (ct["days_min"], ct["days_median"], ct["days_max"]) == (120, 165, 210)
    assert ct["not_judged"] == "B: not measured: B-CT-1"
    assert summary.loc[("FDG", "PET/CT"), "n_categorised"] == 1


def test_no_pairs_give_empty_tables_with_their_columns():
    scans = _scans()
    scans = scans[scans["time_point"] == "baseline"]
    cohort = SimpleNamespace(scans=scans, patients=pd.DataFrame({"patient_id": ["A"]}),
                             reads=None)
    response = cohort_response(cohort, _measurements(), lesions="all")
    assert response.pairs.empty and response.patients.empty and response.lesions.empty
    assert {"category", "modality", "group"} <= set(response.patients.columns)
    assert pair_summary(response).empty


def _with_lesions(reads=None) -> SimpleNamespace:
    cohort = _cohort(reads)
    # A-L1 malignant, A-L2 physiological (hotter at follow-up than A-L1), A-L3 pending
    cohort.lesions = pd.DataFrame({
        "lesion_id": ["A-L1", "A-L2", "A-L3", "C-L1"], "patient_id": ["A", "A", "A", "C"],
        "truth": ["malignant", "physiological", "pending", "malignant"],
        "malignant": pd.array([True, False, pd.NA, True], dtype="boolean")})
    return cohort


def test_malignant_lesions_only_as_the_sensitivity_analysis():
    response = cohort_response(_with_lesions(), _measurements(), lesions="malignant")
    got = response.patients.set_index(["patient_id", "modality"])
    # without A-L2 the follow-up target is A-L1: 8 / 20 - 1 = -60 %
    assert got.loc[("A", "PET/CT"), "followup_target"] == "A-L1"
    assert got.loc[("A", "PET/CT"), "change_rel"] == pytest.approx(-0.6)
    assert got.loc[("A", "PET/MR"), "category"] == "PMD"          # A-L3 pending: kept, new
    left = response.left_out.set_index("scan_id")
    assert sorted(left.index) == ["A-CT-0", "A-CT-1", "A-MR-0", "A-MR-1"]
    assert set(left["lesion_id"]) == {"A-L2"}
    assert set(left["reason"]) == {"not malignant in the lesions table (truth physiological)"}
    everything = cohort_response(_with_lesions(), _measurements(), lesions="all")
    assert everything.left_out.empty
    assert everything.patients.set_index(["patient_id", "modality"]).loc[
        ("A", "PET/CT"), "followup_target"] == "A-L2"


def test_called_lesions_are_those_the_reader_called_on_either_scan_by_default():
    reads = pd.DataFrame([
        {"scan_id": "A-CT-1", "lesion_id": "A-L1", "reader": "R1", "call": "positive"},
        {"scan_id": "A-CT-0", "lesion_id": "A-L2", "reader": "R1", "call": "negative"},
        {"scan_id": "A-CT-0", "lesion_id": "A-L2", "reader": "R2", "call": "positive"},
        {"scan_id": "C-FDG-0", "lesion_id": "C-L1", "reader": "R1", "call": "equivocal"},
    ])
    response = cohort_response(_with_lesions(reads), _measurements(), reader="R1")
    kept = set(zip(response.lesions["modality"], response.lesions["lesion_id"], strict=True))
    assert kept == {("PET/CT", "A-L1")}          # C-L1 equivocal: negative by default
    assert "not called positive by R1" in response.left_out["reason"].iloc[0]
    positive = cohort_response(_with_lesions(reads), _measurements(), reader="R1",
                               equivocal="positive")
    kept = set(zip(positive.lesions["modality"], positive.lesions["lesion_id"], strict=True))
    assert kept == {("PET/CT", "A-L1"), ("PET/CT", "C-L1")}
    assert "not called positive or equivocal by R1" in positive.left_out["reason"].iloc[0]
    # no reads: nothing is called, every lesion VOI is left out and said so
    nothing = cohort_response(_with_lesions(), _measurements(), reader="R1")
    # the lesion VOIs of the judged pairs: A PET/CT 2 + 2, A PET/MR 2 + 3, C 1 + 1
    assert nothing.lesions.empty and len(nothing.left_out) == 11
    with pytest.raises(ValueError, match="response.lesions 'some'"):
        cohort_response(_with_lesions(), _measurements(), lesions="some")
