"""Truth tables for positivity, the modified Krenning score and the NETPET grade."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nethelpers.scores import (
    NETPET_GRADES,
    SSTR_TRACERS,
    ScoreRules,
    lesion_scores,
    netpet,
    netpet_lesions,
)

STUDY = {"study": {"name": "t", "data_root": "."}}  # the keys every study must give
NAN = float("nan")
ABSENT = object()  # no ROI row at all for a reference region


def scan(patient, scan_id, tracer, modality="PET/CT", *, liver=1.0, spleen=2.0,
         lesions=None, blood_pool=ABSENT):
    """Rows of one scan: reference ROIs (unless ABSENT) and lesions {lesion_id: suv_max}."""
    rows = []
    for region, value in (("liver", liver), ("spleen", spleen), ("blood_pool", blood_pool)):
        if value is ABSENT:
            continue
        rows.append({"patient_id": patient, "scan_id": scan_id, "tracer": tracer,
                     "modality": modality, "roi": region, "lesion_id": "",
                     "suv_max": NAN if value is None else value * 1.5,
                     "suv_mean": NAN if value is None else value,
                     "suv_peak": NAN, "tb_liver": NAN, "tb_spleen": NAN})
    for lesion_id, value in (lesions or {}).items():
        suv_max, suv_peak = value if isinstance(value, tuple) else (value, NAN)
        rows.append({"patient_id": patient, "scan_id": scan_id, "tracer": tracer,
                     "modality": modality, "roi": "lesion", "lesion_id": lesion_id,
                     "suv_max": suv_max, "suv_mean": suv_max * 0.6, "suv_peak": suv_peak,
                     "tb_liver": 999.0, "tb_spleen": 999.0})  # deliberately stale
    return rows


def table(*scans):
    return pd.DataFrame([row for rows in scans for row in rows])


def lesion_rows(scored):
    return scored[scored["roi"] == "lesion"].set_index("lesion_id")


def grades(result):
    return dict(zip(result["patient_id"], result["netpet"].astype(object), strict=True))


def is_na(value):
    return value is pd.NA or (isinstance(value, float) and math.isnan(value)) or value is None


# --------------------------------------------------------------------------------------
# Positivity


def test_positivity_truth_table_with_tie():
    m = table(scan("A", "A-FDG", "FDG", liver=2.0, lesions={
        "below": 1.0, "tie": 2.0, "just_above": 2.0000001, "above": 6.0, "missing": NAN}))
    out = lesion_scores(m)
    assert out["positive"].dtype == "boolean"
    les = lesion_rows(out)
    assert list(les["positive"].astype(object)) == [False, False, True, True, pd.NA]
    assert les.loc["missing", "score_note"].startswith("lesion suv_max is missing")
    assert les.loc["tie", "ref_liver"] == 2.0
    assert les.loc["tie", "ref_spleen"] == 2.0
    # Reference rows get no positivity and say why.
    refs = out[out["roi"] != "lesion"]
    assert refs["positive"].isna().all()
    assert refs["krenning"].isna().all()
    assert (refs["score_note"] == "reference region: scores apply to lesion ROIs only").all()


@pytest.mark.parametrize(("liver", "note"), [
    (ABSENT, "no liver reference on this scan"),
    (None, "liver reference suv_mean is missing on this scan"),
    (0.0, "liver reference suv_mean is not > 0 on this scan"),
])
def test_positivity_unusable_liver_is_na_with_note(liver, note):
    m = table(scan("A", "A-DOTA", "DOTATATE", liver=liver, lesions={"L1": 10.0}),
              scan("A", "A-FDG", "FDG", liver=1.0, lesions={"L1": 10.0}))
    out = lesion_scores(m)
    les = out[out["roi"] == "lesion"].set_index("scan_id")
    assert les.loc["A-DOTA", "positive"] is pd.NA
    assert les.loc["A-DOTA", "krenning"] is pd.NA
    assert note in les.loc["A-DOTA", "score_note"]
    assert math.isnan(les.loc["A-DOTA", "lesion_to_liver"])
    # The other scan of the patient is unaffected.
    assert les.loc["A-FDG", "positive"] == True  # noqa: E712
    assert les.loc["A-FDG", "lesion_to_liver"] == 10.0


def test_positivity_factor_and_other_references():
    m = table(scan("A", "S1", "FDG", liver=2.0, spleen=3.0, blood_pool=1.0,
                   lesions={"a": 2.9, "b": 3.0, "c": 3.1}))
    les = lesion_rows(lesion_scores(m, ScoreRules(positivity_factor=1.5)))
    assert list(les["positive"].astype(object)) == [False, False, True]  # 1.5 x 2.0 = 3.0
    les = lesion_rows(lesion_scores(m, ScoreRules(positivity_reference="spleen")))
    assert list(les["positive"].astype(object)) == [False, False, True]  # > spleen 3.0
    out = lesion_scores(m, ScoreRules(positivity_reference="blood_pool", positivity_factor=3.0))
    les = lesion_rows(out)
    assert list(les["ref_blood_pool"]) == [1.0, 1.0, 1.0]
    assert list(les["positive"].astype(object)) == [False, False, True]
    # A scan without the chosen reference: NA with its note, Krenning unaffected.
    m2 = table(scan("A", "S2", "DOTATATE", liver=2.0, spleen=3.0, lesions={"a": 5.0}))
    les = lesion_rows(lesion_scores(m2, ScoreRules(positivity_reference="blood_pool")))
    assert les.loc["a", "positive"] is pd.NA
    assert les.loc["a", "score_note"] == "no blood_pool reference on this scan"
    assert les.loc["a", "krenning"] == 4


def test_lesion_statistic_suv_peak_and_tb_liver_not_used():
    m = table(scan("A", "S1", "DOTATATE", liver=2.0, spleen=4.0,
                   lesions={"a": (10.0, 1.5), "b": (10.0, NAN)}))
    les = lesion_rows(lesion_scores(m, ScoreRules(lesion_statistic="suv_peak")))
    assert les.loc["a", "positive"] == False  # noqa: E712  # peak 1.5 <= liver 2.0
    assert les.loc["a", "krenning"] == 2
    assert les.loc["a", "lesion_to_liver"] == 0.75
    assert les.loc["b", "positive"] is pd.NA
    assert les.loc["b", "score_note"].startswith("lesion suv_peak is missing")
    les = lesion_rows(lesion_scores(m))
    assert les.loc["a", "lesion_to_liver"] == 5.0  # suv_max / liver, not the stale tb_liver


def test_lesion_scores_keeps_input_rows_index_and_columns():
    m = table(scan("A", "S1", "FDG", lesions={"a": 3.0}),
              scan("A", "S2", "DOTATATE", lesions={"a": 3.0}))
    m.index = [10 * i + 7 for i in range(len(m))]
    out = lesion_scores(m)
    assert list(out.index) == list(m.index)
    assert list(out.columns[: len(m.columns)]) == list(m.columns)
    pd.testing.assert_frame_equal(out[m.columns], m)
    for col in ("ref_liver", "ref_spleen", "positive", "krenning", "score_note"):
        assert col in out.columns
    assert "positive_note" not in out.columns
    assert out["krenning"].dtype == "Int64"


# --------------------------------------------------------------------------------------
# Modified Krenning score


def test_krenning_boundaries():
    values = {"k1_low": 0.5, "k1_at_faint": 1.0, "k2_above_faint": 1.0000001, "k2_at_liver": 2.0,
              "k3_above_liver": 2.0000001, "k3_at_spleen": 4.0, "k4_above_spleen": 4.0000001,
              "k4_high": 40.0}
    m = table(scan("A", "S1", "DOTATATE", liver=2.0, spleen=4.0, lesions=values))
    les = lesion_rows(lesion_scores(m))
    expected = [int(name[1]) for name in values]
    assert list(les["krenning"].astype(int)) == expected
    assert (les["score_note"] == "").all()
    # Positivity (> liver) is Krenning >= 3 under the default rules.
    assert list(les["positive"].astype(bool)) == [k >= 3 for k in expected]


def test_krenning_faint_parameter():
    m = table(scan("A", "S1", "DOTATATE", liver=2.0, spleen=4.0,
                   lesions={"a": 0.5, "b": 0.6, "c": 1.0}))
    les = lesion_rows(lesion_scores(m, ScoreRules(krenning_faint=0.25)))
    assert list(les["krenning"].astype(int)) == [1, 2, 2]


def test_krenning_spleen_below_liver_requires_above_both_for_4():
    m = table(scan("A", "S1", "DOTATATE", liver=3.0, spleen=2.0,
                   lesions={"between": 2.5, "above_both": 3.5}))
    les = lesion_rows(lesion_scores(m))
    assert les.loc["between", "krenning"] == 2
    assert les.loc["above_both", "krenning"] == 4


def test_krenning_only_on_sstr_tracers():
    m = table(scan("A", "F", "FDG", liver=2.0, spleen=4.0, lesions={"a": 10.0}),
              scan("A", "T", "DOTATOC", liver=2.0, spleen=4.0, lesions={"a": 10.0}),
              scan("A", "N", "dotanoc ", liver=2.0, spleen=4.0, lesions={"a": 3.0}),
              scan("A", "H", "HYNIC-TOC", "SPECT/CT", liver=2.0, spleen=4.0,
                   lesions={"a": 1.0}))
    les = lesion_scores(m)
    les = les[les["roi"] == "lesion"].set_index("scan_id")
    assert les.loc["F", "krenning"] is pd.NA
    assert les.loc["F", "score_note"] == "krenning applies to SSTR tracers only (FDG)"
    assert les.loc["F", "positive"] == True  # noqa: E712
    assert les.loc["T", "krenning"] == 4
    assert les.loc["N", "krenning"] == 3  # codes are case- and blank-insensitive
    assert les.loc["H", "krenning"] == 1
    assert SSTR_TRACERS == {"DOTATATE", "DOTATOC", "DOTANOC", "HYNIC-TOC"}


def test_krenning_missing_spleen_is_na_with_note_positivity_kept():
    m = table(scan("A", "S1", "DOTATATE", liver=2.0, spleen=ABSENT,
                   lesions={"low": 0.5, "high": 10.0}),
              scan("A", "S2", "DOTATATE", liver=2.0, spleen=None, lesions={"low": 0.5}))
    out = lesion_scores(m)
    les = out[out["roi"] == "lesion"]
    assert les["krenning"].isna().all()
    assert list(les["score_note"]) == ["no spleen reference on this scan"] * 2 + [
        "spleen reference suv_mean is missing on this scan"]
    assert list(les["positive"].astype(object)) == [False, True, False]
    assert les["ref_spleen"].isna().all()


@settings(max_examples=200, deadline=None)
@given(
    liver=st.floats(0.1, 20), spleen=st.floats(0.1, 40), faint=st.floats(0.01, 0.99),
    values=st.lists(st.floats(0, 100), min_size=2, max_size=20),
)
def test_krenning_monotone_in_lesion_value(liver, spleen, faint, values):
    values = sorted(values)
    lesions = {f"L{i:02d}": v for i, v in enumerate(values)}
    m = table(scan("A", "S1", "DOTATATE", liver=liver, spleen=spleen, lesions=lesions))
    les = lesion_rows(lesion_scores(m, ScoreRules(krenning_faint=faint)))
    k = les.loc[list(lesions), "krenning"].astype(int).to_numpy()
    assert set(k) <= {1, 2, 3, 4}
    assert (np.diff(k) >= 0).all()
    assert list(les["positive"].astype(bool)) == [v > liver for v in values]


# --------------------------------------------------------------------------------------
# NETPET


def dual(patient, fdg=None, sstr=None, *, fdg_liver=1.0, sstr_liver=1.0, **kw):
    """An FDG PET/CT and a DOTATATE PET/CT scan of one patient (lesions: {id: suv_max})."""
    return [*scan(patient, f"{patient}-FDG", "FDG", liver=fdg_liver, lesions=fdg, **kw),
            *scan(patient, f"{patient}-DOTA", "DOTATATE", liver=sstr_liver, lesions=sstr, **kw)]


def test_netpet_one_patient_per_grade():
    m = table(
        dual("p0", {"L1": 0.8}, {"L1": 1.0}),            # neither positive (tie on SSTR)
        dual("p0none"),                                   # no lesion at all
        dual("p1", {"L1": 1.0}, {"L1": 5.0}),            # SSTR+ FDG- (FDG tie)
        dual("p2", {"L1": 2.0}, {"L1": 10.0}),           # r = 0.2
        dual("p3", {"L1": 5.0}, {"L1": 5.0}),            # r = 1
        dual("p4", {"L1": 10.0}, {"L1": 2.0}),           # r = 5
        dual("p5", {"L1": 5.0}, {"L1": 0.5}),            # FDG+ SSTR-
        # r uses each tracer's own liver: 4/2 vs 16/8, absolute SUVs differ fourfold -> P3
        dual("p3rel", {"L1": 4.0}, {"L1": 16.0}, fdg_liver=2.0, sstr_liver=8.0),
    )
    out = netpet(m).set_index("patient_id")
    assert list(out.index) == sorted(out.index)
    assert out["netpet"].dtype == pd.CategoricalDtype(list(NETPET_GRADES), ordered=True)
    assert out["netpet"].astype(str).to_dict() == {
        "p0": "P0", "p0none": "P0", "p1": "P1", "p2": "P2", "p3": "P3", "p3rel": "P3",
        "p4": "P4", "p5": "P5"}
    assert (out["reason"] == "").all()
    assert out.loc["p4", "driving_lesion_id"] == "L1"
    assert is_na(out.loc["p0", "driving_lesion_id"])
    assert "P0: no positive lesion" in out.loc["p0", "note"]
    assert out.loc["p0none", "n_lesions"] == 0
    assert out.loc["p0none", "n_fdg_positive"] == 0
    assert out.loc["p5", "fdg_scan_id"] == "p5-FDG"
    assert out.loc["p5", "sstr_scan_id"] == "p5-DOTA"
    counts = out[["n_lesions", "n_sstr_positive", "n_fdg_positive", "n_fdg_pos_sstr_neg"]]
    assert counts.loc["p5"].tolist() == [1, 0, 1, 1]
    assert counts.loc["p3"].tolist() == [1, 1, 1, 0]
    assert counts.loc["p1"].tolist() == [1, 1, 0, 0]
    assert counts.dtypes.eq("Int64").all()


def test_netpet_highest_lesion_grade_wins_and_driving_lesion():
    m = table(
        dual("mix", {"a": 0.5, "b": 5.0, "c": 10.0, "d": 3.0},
             {"a": 6.0, "b": 5.0, "c": 2.0, "d": 0.9}),     # P1, P3, P4, P5
        dual("mix4", {"a": 0.5, "b": 5.0, "c": 10.0}, {"a": 6.0, "b": 5.0, "c": 2.0}),
        dual("tie4", {"a": 4.0, "b": 9.0, "c": 8.0}, {"a": 2.0, "b": 3.0, "c": 2.0}),  # r 2, 3, 4
        dual("tie5", {"a": 3.0, "b": 7.0, "c": 5.0}, {"a": 0.5, "b": 0.5, "c": 0.5}),
        dual("tie1", {"a": 0.5, "b": 0.5, "c": 0.5}, {"a": 4.0, "b": 9.0, "c": 9.0}),
    )
    out = netpet(m).set_index("patient_id")
    assert grades(out.reset_index()) == {"mix": "P5", "mix4": "P4", "tie4": "P4", "tie5": "P5",
                                         "tie1": "P1"}
    assert out.loc["mix", "driving_lesion_id"] == "d"
    assert out.loc["mix4", "driving_lesion_id"] == "c"
    assert out.loc["tie4", "driving_lesion_id"] == "c"   # largest FDG/SSTR ratio
    assert out.loc["tie5", "driving_lesion_id"] == "b"   # largest FDG intensity
    assert out.loc["tie1", "driving_lesion_id"] == "b"   # largest SSTR intensity, then id
    assert out.loc["mix", ["n_lesions", "n_sstr_positive", "n_fdg_positive",
                           "n_fdg_pos_sstr_neg"]].tolist() == [4, 3, 3, 1]
    per_lesion = netpet_lesions(m)
    mix = per_lesion[per_lesion["patient_id"] == "mix"].set_index("lesion_id")
    assert mix["grade"].astype(str).to_dict() == {"a": "P1", "b": "P3", "c": "P4", "d": "P5"}
    assert mix.loc["c", "ratio"] == 5.0


def test_netpet_missing_scans_are_na_with_reason():
    m = table(
        scan("noF", "noF-DOTA", "DOTATATE", lesions={"a": 5.0, "b": 0.5}),
        scan("noS", "noS-FDG", "FDG", lesions={"a": 5.0}),
        scan("spect", "spect-FDG", "FDG", lesions={"a": 5.0}),
        scan("spect", "spect-HYN", "HYNIC-TOC", "SPECT/CT", lesions={"a": 5.0}),
        scan("none", "none-HYN", "HYNIC-TOC", "SPECT/CT", lesions={"a": 5.0}),
    )
    out = netpet(m).set_index("patient_id")
    assert out["netpet"].isna().all()
    assert out.loc["noF", "reason"] == "no FDG PET scan"
    assert out.loc["noS", "reason"] == "no SSTR PET scan"
    assert out.loc["spect", "reason"] == ("no SSTR PET scan (SSTR imaging on spect-HYN not used: "
                                          "NETPET is defined on PET)")
    assert out.loc["none", "reason"].startswith("no FDG PET scan; no SSTR PET scan")
    assert out.loc["noF", "sstr_scan_id"] == "noF-DOTA"
    assert is_na(out.loc["noF", "fdg_scan_id"])
    assert out.loc["noF", "n_lesions"] == 2
    assert out.loc["noF", "n_sstr_positive"] == 1
    assert out.loc["noF", "n_fdg_positive"] is pd.NA
    assert out.loc["noF", "n_fdg_pos_sstr_neg"] is pd.NA
    assert out.loc["noS", "n_fdg_positive"] == 1
    assert out.loc["noS", "n_sstr_positive"] is pd.NA
    assert is_na(out.loc["noS", "driving_lesion_id"])


def test_netpet_lesion_on_one_scan_only():
    m = table(
        dual("fdg_only", {"a": 5.0, "b": 3.0}, {"a": 5.0}),   # b: FDG+ no SSTR ROI -> P5
        dual("sstr_only", {"a": 0.5}, {"a": 0.5, "b": 6.0}),  # b: SSTR+ no FDG ROI -> P1
        dual("fdg_only_neg", {"a": 0.5}, None),               # FDG- no SSTR ROI -> P0
    )
    out = netpet(m).set_index("patient_id")
    assert grades(out.reset_index()) == {"fdg_only": "P5", "sstr_only": "P1",
                                         "fdg_only_neg": "P0"}
    assert out.loc["fdg_only", "driving_lesion_id"] == "b"
    assert out.loc["fdg_only", "n_fdg_pos_sstr_neg"] == 1
    assert out.loc["sstr_only", "driving_lesion_id"] == "b"
    assert out.loc["fdg_only_neg", "n_lesions"] == 1
    les = netpet_lesions(m).set_index(["patient_id", "lesion_id"])
    assert les.loc[("fdg_only", "b"), "sstr_positive"] == False  # noqa: E712
    assert math.isnan(les.loc[("fdg_only", "b"), "sstr_intensity"])


def test_netpet_modality_pairing():
    m = table(
        # FDG on PET/CT and PET/MR, DOTATATE on both: PET/CT with PET/CT.
        scan("both", "both-FDG-MR", "FDG", "PET/MR", lesions={"a": 10.0}),
        scan("both", "both-FDG-CT", "FDG", "PET/CT", lesions={"a": 5.0}),
        scan("both", "both-DOTA-MR", "DOTATATE", "PET/MR", lesions={"a": 2.0}),
        scan("both", "both-DOTA-CT", "DOTATATE", "PET/CT", lesions={"a": 5.0}),
        # FDG on PET/MR only: "same" pairs PET/MR (P3), "any" pairs PET/CT (P4).
        scan("mr", "mr-FDG", "FDG", "PET/MR", lesions={"a": 5.0}),
        scan("mr", "mr-DOTA-CT", "DOTATATE", "PET/CT", lesions={"a": 2.0}),
        scan("mr", "mr-DOTA-MR", "DOTATATE", "PET/MR", lesions={"a": 5.0}),
        # Only another modality available: taken anyway.
        scan("other", "other-FDG", "FDG", "PET/CT", lesions={"a": 5.0}),
        scan("other", "other-DOTA-MR", "DOTATATE", "PET/MR", lesions={"a": 5.0}),
    )
    same = netpet(m).set_index("patient_id")
    assert same.loc["both", ["fdg_scan_id", "sstr_scan_id"]].tolist() == ["both-FDG-CT",
                                                                          "both-DOTA-CT"]
    assert same.loc["both", "netpet"] == "P3"
    assert "chosen among 2 FDG and 2 SSTR PET scans" in same.loc["both", "note"]
    assert same.loc["mr", "sstr_scan_id"] == "mr-DOTA-MR"
    assert same.loc["mr", "netpet"] == "P3"
    assert same.loc["mr", "note"].startswith("FDG PET/MR mr-FDG with DOTATATE PET/MR mr-DOTA-MR")
    assert same.loc["other", "sstr_scan_id"] == "other-DOTA-MR"
    any_ = netpet(m, ScoreRules(netpet_modality_pairing="any")).set_index("patient_id")
    assert any_.loc["mr", "sstr_scan_id"] == "mr-DOTA-CT"
    assert any_.loc["mr", "netpet"] == "P4"
    assert any_.loc["both", "sstr_scan_id"] == "both-DOTA-CT"


def test_netpet_sstr_tracer_order_and_lesions_of_unpaired_scans_ignored():
    m = table(
        scan("p", "p-FDG", "FDG", lesions={"a": 5.0}),
        scan("p", "p-TOC", "DOTATOC", lesions={"a": 5.0}),
        scan("p", "p-TATE", "DOTATATE", lesions={"a": 5.0}),
        scan("p", "p-MR", "DOTATATE", "PET/MR", lesions={"a": 5.0, "z": 9.0}),
    )
    out = netpet(m).set_index("patient_id")
    assert out.loc["p", "sstr_scan_id"] == "p-TATE"
    assert out.loc["p", "n_lesions"] == 1  # z is only on the unpaired PET/MR scan
    assert out.loc["p", "netpet"] == "P3"


@pytest.mark.parametrize(("similar", "fdg", "sstr", "grade"), [
    (0.2, 6.0, 5.0, "P3"),          # r = 1.2 = 1 + x: similar (bound included)
    (0.2, 6.000001, 5.0, "P4"),     # just above 1 + x
    (0.2, 5.0, 6.0, "P3"),          # r = 1/1.2: similar (bound included)
    (0.2, 4.999999, 6.0, "P2"),     # just below 1/(1+x)
    (0.25, 2.5, 2.0, "P3"),         # r = 1.25
    (0.25, 2.0, 2.5, "P3"),         # r = 0.8
    (0.25, 2.6, 2.0, "P4"),
    (0.25, 1.9, 2.5, "P2"),
    (0.0, 3.0, 3.0, "P3"),          # x = 0: only equal intensities are similar
    (0.0, 3.000001, 3.0, "P4"),
    (0.0, 2.999999, 3.0, "P2"),
    (1.0, 6.0, 3.0, "P3"),          # r = 2 = 1 + x
    (1.0, 1.5, 3.0, "P3"),          # r = 0.5 = 1/(1+x)
])
def test_netpet_similar_boundaries(similar, fdg, sstr, grade):
    m = table(dual("p", {"a": fdg}, {"a": sstr}))
    out = netpet(m, ScoreRules(netpet_similar=similar))
    assert out.loc[0, "netpet"] == grade
    assert ScoreRules(netpet_similar=similar).similar_bounds == (1 / (1 + similar), 1 + similar)


def test_netpet_missing_liver_reference_is_na_with_reason():
    m = table(
        dual("ok", {"a": 5.0}, {"a": 5.0}),
        scan("noliv", "noliv-FDG", "FDG", liver=ABSENT, lesions={"a": 5.0, "b": 2.0}),
        scan("noliv", "noliv-DOTA", "DOTATATE", lesions={"a": 5.0, "b": 2.0}),
        # Spleen is not needed for NETPET.
        dual("nospl", {"a": 5.0}, {"a": 5.0}, spleen=ABSENT),
    )
    out = netpet(m).set_index("patient_id")
    assert out.loc["ok", "netpet"] == "P3"
    assert out.loc["nospl", "netpet"] == "P3"
    assert out.loc["noliv", "netpet"] is np.nan or pd.isna(out.loc["noliv", "netpet"])
    assert out.loc["noliv", "reason"] == (
        "undetermined lesion(s) could change the grade: FDG scan noliv-FDG: no liver "
        "reference on this scan (lesion a, b)")
    assert out.loc["noliv", "n_fdg_positive"] is pd.NA
    assert out.loc["noliv", "n_sstr_positive"] == 2
    assert is_na(out.loc["noliv", "driving_lesion_id"])


def test_netpet_undetermined_lesion_only_matters_if_it_could_raise_the_grade():
    m = table(
        # b is undetermined (FDG value missing) but a is already P5: graded P5.
        dual("p5", {"a": 5.0, "b": NAN}, {"a": 0.5, "b": 5.0}),
        # b undetermined (P1..P4 possible) with a at P1: not gradable.
        dual("p1", {"a": 0.5, "b": NAN}, {"a": 5.0, "b": 5.0}),
        # b: FDG+ with its SSTR value missing (P2..P5 possible), a at P3: not gradable.
        dual("ratio", {"a": 5.0, "b": 5.0}, {"a": 5.0, "b": NAN}),
    )
    out = netpet(m).set_index("patient_id")
    assert out.loc["p5", "netpet"] == "P5"
    assert out.loc["p5", "driving_lesion_id"] == "a"
    assert out.loc["p5", "reason"] == ""
    assert "1 undetermined lesion(s) cannot change the grade" in out.loc["p5", "note"]
    assert out.loc["p5", "n_fdg_positive"] is pd.NA  # b's FDG status is unknown
    assert out.loc["p5", "n_sstr_positive"] == 1
    assert pd.isna(out.loc["p1", "netpet"])
    assert out.loc["p1", "reason"] == (
        "undetermined lesion(s) could change the grade: FDG scan p1-FDG: lesion suv_max is "
        "missing (lesion b)")
    assert pd.isna(out.loc["ratio", "netpet"])
    assert "SSTR scan ratio-DOTA: lesion suv_max is missing (lesion b)" in out.loc[
        "ratio", "reason"]
    les = netpet_lesions(m).set_index(["patient_id", "lesion_id"])
    assert les.loc[("p1", "b"), ["grade_low", "grade_high"]].tolist() == [1, 4]
    assert les.loc[("ratio", "b"), ["grade_low", "grade_high"]].tolist() == [2, 5]
    assert les.loc[("p5", "a"), "grade"] == "P5"


def test_netpet_with_other_positivity_reference_undetermined_ratio():
    # Positivity against blood pool; the FDG liver is missing so r is unknown: P2..P4.
    m = table(
        scan("p", "p-FDG", "FDG", liver=ABSENT, blood_pool=1.0, lesions={"a": 5.0}),
        scan("p", "p-DOTA", "DOTATATE", liver=1.0, blood_pool=1.0, lesions={"a": 5.0}),
    )
    rules = ScoreRules(positivity_reference="blood_pool")
    les = netpet_lesions(m, rules).iloc[0]
    assert (les["fdg_positive"], les["sstr_positive"]) == (True, True)
    assert (les["grade_low"], les["grade_high"]) == (2, 4)
    assert les["grade_note"] == "FDG scan p-FDG: no liver reference on this scan"
    out = netpet(m, rules).iloc[0]
    assert pd.isna(out["netpet"])
    assert "no liver reference" in out["reason"]


# --------------------------------------------------------------------------------------
# Rules and input validation


@pytest.mark.parametrize(("field", "value"), [
    ("lesion_statistic", "suv_mean"),
    ("lesion_statistic", 1),
    ("reference_statistic", "tb_liver"),
    ("positivity_reference", "kidney"),
    ("positivity_factor", 0.0),
    ("positivity_factor", -1.0),
    ("positivity_factor", float("inf")),
    ("positivity_factor", "1"),
    ("positivity_factor", True),
    ("krenning_faint", 0.0),
    ("krenning_faint", 1.0),
    ("krenning_faint", float("nan")),
    ("netpet_similar", -0.1),
    ("netpet_similar", float("nan")),
    ("netpet_modality_pairing", "strict"),
])
def test_invalid_rules_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"ScoreRules\.{field}"):
        ScoreRules(**{field: value})


def test_rules_defaults_and_frozen():
    rules = ScoreRules()
    assert dataclasses.asdict(rules) == {
        "lesion_statistic": "suv_max", "reference_statistic": "suv_mean",
        "positivity_reference": "liver", "positivity_factor": 1.0, "krenning_faint": 0.5,
        "netpet_similar": 0.2, "netpet_modality_pairing": "same",
        "sstr_tracers": frozenset({"DOTATATE", "DOTATOC", "DOTANOC", "HYNIC-TOC"}),
        "fdg_tracers": frozenset({"FDG"}), "pet_modalities": ("PET/CT", "PET/MR")}
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.netpet_similar = 0.3  # type: ignore[misc]
    assert ScoreRules(positivity_factor=2).positivity_factor == 2


def test_invalid_tables_raise():
    good = table(dual("p", {"a": 5.0}, {"a": 5.0}))
    with pytest.raises(ValueError, match="lacks column"):
        lesion_scores(good.drop(columns="suv_mean"))
    bad = good.copy()
    bad.loc[0, "roi"] = "kidney"
    with pytest.raises(ValueError, match="unknown roi"):
        lesion_scores(bad)
    dup = pd.concat([good, good.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one ROI of the same reference"):
        lesion_scores(dup)
    two_patients = good.copy()
    two_patients.loc[0, "patient_id"] = "q"
    with pytest.raises(ValueError, match="more than one patient"):
        lesion_scores(two_patients)
    no_id = good.copy()
    no_id.loc[no_id["roi"] == "lesion", "lesion_id"] = ""
    lesion_scores(no_id)  # positivity does not need lesion IDs
    with pytest.raises(ValueError, match="without lesion_id"):
        netpet(no_id)
    twice = pd.concat([good, good[good["roi"] == "lesion"].iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="measured twice"):
        netpet(twice)


def test_rules_take_the_tracer_families_of_the_vocabulary():
    """A study whose SSTR tracer is named in its own vocabulary gets Krenning and NETPET."""
    from nethelpers.config import params_from_dict

    params = params_from_dict(STUDY | {"vocabulary": {"tracers": [
        {"name": "Ga-SSA", "family": "sstr"}, {"name": "FDG-X", "family": "fdg"}]}})
    rules = ScoreRules.from_params(params)
    assert rules.sstr_tracers == {"GA-SSA"} and rules.fdg_tracers == {"FDG-X"}  # matched upper
    rows = table(scan("P1", "S", "Ga-SSA", liver=6.0, spleen=40.0, lesions={"L1": 30.0}),
                 scan("P1", "F", "FDG-X", liver=2.5, spleen=ABSENT, lesions={"L1": 2.0}))
    scored = lesion_scores(rows, rules)
    lesion = scored[scored["roi"] == "lesion"].set_index("scan_id")
    # liver 6 < 30 <= spleen 40: Krenning 3 on the SSTR scan, no Krenning on FDG
    assert lesion.loc["S", "krenning"] == 3
    assert pd.isna(lesion.loc["F", "krenning"])
    grades = netpet(scored, rules).set_index("patient_id")
    # SSTR positive (30 > 6), FDG negative (2 < 2.5): P1
    assert grades.loc["P1", "netpet"] == "P1"
    # with the default families the same study has no SSTR scan at all
    assert pd.isna(lesion_scores(rows).query("roi == 'lesion'")["krenning"]).all()
