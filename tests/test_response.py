"""Response rules: PERCIST 1.0 worked examples, boundaries, new/gone lesions, SSTR rule sets.

Every expected category is worked out in the test from the published definitions:
PERCIST 1.0 (Wahl RL et al., J Nucl Med 2009;50 Suppl 1:122S-150S) as summarised in the
practical guide (O JH, Lodge MA, Wahl RL, Radiology 2016;280:576-584): measurable lesion
SULpeak >= 1.5 x liver SULmean + 2 x SD; target = the hottest lesion at each time point;
PMR >= 30 % and >= 0.8 SUL fall; PMD >= 30 % and >= 0.8 SUL rise or a new lesion; CMR all
uptake at or below the liver; SMD otherwise. Tumour-to-spleen ratio: Haug AR et al.,
J Nucl Med 2010;51:1349-1356.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from nethelpers.config import ParamsError, params_from_dict
from nethelpers.response import lesion_response, patient_response
from nethelpers.responsecriteria import ResponseRules

NAN = float("nan")
LIVER = (2.0, 0.2)  # SUVmean, SD: PERCIST threshold 1.5 x 2.0 + 2 x 0.2 = 3.4 (SUL = SUV)


def scan(scan_id, lesions, *, patient="P01", tracer="FDG", liver=LIVER, spleen=None,
         blood_pool=None, k=1.0, modality="PET/CT"):
    """Measurement rows of one scan. lesions: {lesion_id: SULpeak or a dict of columns}."""
    ids = {"patient_id": patient, "scan_id": scan_id, "tracer": tracer,
           "modality": modality, "quantity": "SUV"}
    rows = []
    for region, ref in (("liver", liver), ("spleen", spleen), ("blood_pool", blood_pool)):
        if ref is not None:
            mean, sd = ref
            rows.append(ids | {"roi": region, "lesion_id": "", "suv_mean": mean,
                               "suv_sd": sd, "sul_mean": mean * k, "suv_max": mean * 1.5})
    for lesion_id, value in lesions.items():
        value = value if isinstance(value, dict) else {"sul_peak": value}
        sul = value.get("sul_peak", NAN)
        row = {"suv_peak": sul / k, "suv_max": sul / k * 1.25, "mtv_ml": 10.0, "tla": 50.0}
        rows.append(ids | {"roi": "lesion", "lesion_id": lesion_id} | row | value)
    return pd.DataFrame(rows)


def one(baseline, followup, rules=None, scans=None):
    """The single patient row of patient_response."""
    out = patient_response(baseline, followup, rules, scans)
    assert len(out) == 1
    return out.iloc[0]


# --- PERCIST 1.0: target change ------------------------------------------------------------

def test_worked_example_partial_response():
    # 10.0 -> 6.9: -3.1 SUL, -31 %: >= 30 % and >= 0.8 SUL -> PMR
    row = one(scan("B", {"L1": 10.0}), scan("F", {"L1": 6.9}))
    assert row["category"] == "PMR"
    assert row["rule_set"] == "percist" and row["statistic"] == "sul_peak"
    assert "PERCIST 1.0" in row["criteria"] and "Wahl 2009" in row["criteria"]
    assert (row["baseline_target"], row["followup_target"]) == ("L1", "L1")
    assert row["baseline_value"] == 10.0 and row["followup_value"] == 6.9
    assert row["change"] == pytest.approx(-3.1)
    assert row["change_rel"] == pytest.approx(-0.31)
    assert "fell -31.0%" in row["decided_by"] and row["reason"] == ""


@pytest.mark.parametrize(("base", "follow", "category"), [
    (10.0, 7.0, "PMR"),    # exactly -30 % (-3.0 SUL): the boundary is included
    (10.0, 7.01, "SMD"),   # -29.9 %: not enough
    (2.5, 1.7, "PMR"),     # -32 %, exactly -0.8 SUL: included
    (2.5, 1.75, "SMD"),    # exactly -30 % but only -0.75 SUL: the 0.8 rule fails
    (5.0, 6.5, "PMD"),     # exactly +30 %, +1.5 SUL
    (5.0, 6.49, "SMD"),    # +29.8 %
    (2.5, 3.3, "PMD"),     # +32 %, exactly +0.8 SUL
    (2.5, 3.25, "SMD"),    # exactly +30 % but only +0.75 SUL
])
def test_boundaries_of_the_30_percent_and_0_8_sul_rules(base, follow, category):
    # liver SULmean 1.0, SD 0.1: threshold 1.5 + 0.2 = 1.7, so 2.5 is measurable; every
    # follow-up value is above the liver (1.0), so none is CMR
    liver = (1.0, 0.1)
    row = one(scan("B", {"L1": base}, liver=liver), scan("F", {"L1": follow}, liver=liver))
    assert row["category"] == category
    assert row["change"] == pytest.approx(follow - base)


def test_target_switches_lesions():
    # baseline hottest L1 10.0; follow-up L1 6.0 (-40 % on its own) but L2 rose to 7.5, the
    # hottest at follow-up: PERCIST compares 10.0 with 7.5 = -25 % -> SMD, not PMR
    row = one(scan("B", {"L1": 10.0, "L2": 5.0}), scan("F", {"L1": 6.0, "L2": 7.5}))
    assert (row["baseline_target"], row["followup_target"]) == ("L1", "L2")
    assert row["change_rel"] == pytest.approx(-0.25)
    assert row["category"] == "SMD"


def test_baseline_target_is_the_hottest_measurable_lesion():
    # threshold 3.4: L1 3.3 is not measurable, L2 3.5 is -> target L2
    row = one(scan("B", {"L1": 3.3, "L2": 3.5}), scan("F", {"L1": 3.3, "L2": 3.5}))
    assert row["baseline_target"] == "L2" and row["n_measurable_baseline"] == 1
    assert row["category"] == "SMD"
    row = one(scan("B", {"L1": 3.3}), scan("F", {"L1": 3.3}))
    assert pd.isna(row["category"]) and row["decided_by"] == ""
    assert row["reason"] == "no measurable lesion at baseline (SULpeak < 3.4)"


def test_measurability_threshold_on_the_sul_scale():
    # SUL = 0.8 x SUV: liver SUVmean 2.0, SD 0.25 -> SULmean 1.6, SD 0.2 -> 1.5 x 1.6 + 2 x 0.2
    table = lesion_response(scan("B", {"L1": 2.79, "L2": 2.8}, liver=(2.0, 0.25), k=0.8),
                            scan("F", {"L1": 2.79, "L2": 2.8}, liver=(2.0, 0.25), k=0.8))
    assert table["percist_threshold_baseline"].tolist() == pytest.approx([2.8, 2.8])
    assert table["measurable_baseline"].tolist() == [False, True]


# --- new, gone, complete response -----------------------------------------------------------

def test_new_lesion_with_a_stable_target_is_progression():
    row = one(scan("B", {"L1": 10.0}), scan("F", {"L1": 10.0, "L9": 2.0}))
    assert row["category"] == "PMD"
    assert row["decided_by"] == "new lesion(s) at follow-up: L9"
    assert (row["n_new"], row["n_gone"], row["n_baseline"], row["n_followup"]) == (1, 0, 1, 2)


def test_every_lesion_gone_is_complete_response():
    row = one(scan("B", {"L1": 10.0, "L2": 5.0}), scan("F", {}))
    assert row["category"] == "CMR" and row["n_gone"] == 2
    assert pd.isna(row["followup_target"]) and math.isnan(row["followup_value"])


def test_complete_response_needs_every_lesion_at_or_below_liver_and_blood_pool():
    pool = (1.5, 0.3)  # blood pool SULmean 1.5 + 2 x 0.3 = 2.1; liver SULmean 2.0
    # 1.9 <= liver 2.0 and <= 2.1: resolved -> CMR
    assert one(scan("B", {"L1": 10.0}), scan("F", {"L1": 1.9}, blood_pool=pool)
               )["category"] == "CMR"
    # 2.05 is above the liver mean 2.0: not CMR; -79.5 % and -7.95 SUL -> PMR
    assert one(scan("B", {"L1": 10.0}), scan("F", {"L1": 2.05}, blood_pool=pool)
               )["category"] == "PMR"
    # a blood pool of 1.0 + 2 x 0.1 = 1.2: 1.9 is below the liver but not the blood pool
    assert one(scan("B", {"L1": 10.0}), scan("F", {"L1": 1.9}, blood_pool=(1.0, 0.1))
               )["category"] == "PMR"


def test_missing_liver_leaves_the_category_empty_with_the_reason():
    row = one(scan("B", {"L1": 10.0}, liver=None), scan("F", {"L1": 6.0}))
    assert pd.isna(row["category"]) and pd.isna(row["n_measurable_baseline"])
    assert row["reason"] == ("baseline liver: 0 liver ROIs (one needed): measurability "
                             "cannot be judged")
    # a new lesion needs no reference: PMD all the same
    row = one(scan("B", {"L1": 10.0}, liver=None), scan("F", {"L1": 6.0, "L2": 4.0}))
    assert row["category"] == "PMD"
    # follow-up liver missing, a lesion remains: CMR cannot be ruled out
    row = one(scan("B", {"L1": 10.0}), scan("F", {"L1": 6.0}, liver=None))
    assert pd.isna(row["category"])
    assert row["reason"] == "follow-up liver: 0 liver ROIs (one needed): CMR cannot be judged"


def test_follow_up_liver_without_sul_cannot_judge_complete_response():
    # review of issue 19: a follow-up liver ROI without SULmean (no lean body mass) compared
    # NaN with the lesion (False), so a lesion at SULpeak 1.0, below the liver's SUVmean 2.0,
    # was "not resolved" and called PMR; CMR cannot be ruled out: NA with the reason
    follow = scan("F", {"L1": 1.0})
    follow.loc[follow["roi"] == "liver", "sul_mean"] = NAN
    row = one(scan("B", {"L1": 10.0}), follow)
    assert pd.isna(row["category"])
    assert row["reason"] == ("follow-up liver: SULmean missing (no SUL on this scan): CMR "
                             "cannot be judged")


def test_blood_pool_reference_judges_an_abnormal_liver_scan_without_a_liver_roi():
    # review of issue 19: with percist_reference blood_pool (abnormal liver, no liver ROI)
    # every patient without PMD was NA ("follow-up liver: 0 liver ROIs"). PERCIST 1.0:
    # measurable >= 2.0 x blood-pool SULmean (1.5) + 2 x SD (0.1) = 3.2; CMR at or below
    # the blood pool, 1.5 + 2 x 0.1 = 1.7
    rules = ResponseRules(percist_reference="blood_pool")
    pool = (1.5, 0.1)

    def row(follow):
        return one(scan("B", {"L1": 10.0}, liver=None, blood_pool=pool),
                   scan("F", {"L1": follow}, liver=None, blood_pool=pool), rules)

    assert row(6.0)["category"] == "PMR"      # -40 %, -4 SUL
    assert row(9.0)["category"] == "SMD"      # -10 %
    assert row(1.6)["category"] == "CMR"      # <= 1.7
    assert row(1.8)["category"] == "PMR"      # above the blood pool: -82 %, not CMR
    # the blood pool is the reference now: without it at follow-up, CMR cannot be judged
    no_pool = one(scan("B", {"L1": 10.0}, liver=None, blood_pool=pool),
                  scan("F", {"L1": 1.6}, liver=None), rules)
    assert pd.isna(no_pool["category"])
    assert no_pool["reason"] == ("follow-up blood_pool: 0 blood_pool ROIs (one needed): CMR "
                                 "cannot be judged")


def test_missing_sul_leaves_the_category_empty():
    row = one(scan("B", {"L1": 10.0, "L2": {"sul_peak": NAN}}), scan("F", {"L1": 6.0}))
    assert pd.isna(row["category"])
    assert row["reason"] == "baseline sul_peak missing for lesion(s) L2"


# --- per-lesion table -----------------------------------------------------------------------

def test_lesion_table_changes_and_status():
    base = scan("B", {"L1": {"sul_peak": 8.0, "suv_max": 12.0, "mtv_ml": 20.0, "tla": 100.0,
                             "krenning": 4},
                      "L2": {"sul_peak": 4.0, "krenning": 3}})
    follow = scan("F", {"L1": {"sul_peak": 6.0, "suv_max": 9.0, "mtv_ml": 5.0, "tla": 20.0,
                               "krenning": 3},
                        "L3": {"sul_peak": 5.0, "krenning": 4}})
    table = lesion_response(base, follow).set_index("lesion_id")
    assert table["status"].to_dict() == {"L1": "both", "L2": "gone", "L3": "new"}
    l1 = table.loc["L1"]
    assert (l1["sul_peak_change"], l1["sul_peak_change_rel"]) == (-2.0, -0.25)
    assert (l1["suv_max_change"], l1["suv_max_change_rel"]) == (-3.0, -0.25)
    assert (l1["mtv_ml_change"], l1["mtv_ml_change_rel"]) == (-15.0, -0.75)
    assert (l1["tla_change"], l1["tla_change_rel"]) == (-80.0, -0.8)
    assert l1["tlr_baseline"] == 6.0  # SUVmax 12 / liver SUVmean 2
    assert l1["krenning_change"] == -1
    assert pd.isna(table.loc["L2", "krenning_followup"])
    assert math.isnan(table.loc["L3", "sul_peak_change"])
    assert (table["followup_scan_id"] == "F").all()


# --- SSTR rule sets -------------------------------------------------------------------------

def sstr(scan_id, suv_max, *, liver=(5.0, 0.5), spleen=(10.0, 1.0)):
    return scan(scan_id, {"L1": {"suv_max": suv_max, "sul_peak": NAN}}, tracer="DOTATATE",
                liver=liver, spleen=spleen)


def test_sstr_default_is_the_percist_like_suvmax_rule():
    row = one(sstr("B", 20.0), sstr("F", 14.0))  # exactly -30 %
    assert (row["rule_set"], row["statistic"], row["category"]) == ("suvmax", "suv_max", "PMR")
    assert "Liberini 2020" in row["criteria"]
    assert one(sstr("B", 20.0), sstr("F", 26.0))["category"] == "PMD"   # +30 %
    assert one(sstr("B", 20.0), sstr("F", 25.0))["category"] == "SMD"   # +25 %
    # CMR: SUVmax 4.0 <= liver SUVmean 5.0
    assert one(sstr("B", 20.0), sstr("F", 4.0))["category"] == "CMR"



def test_sstr_baseline_target_must_be_above_the_liver():
    # SUVmax 4.0 <= liver SUVmean 5.0 at baseline: nothing to respond, not a CMR
    row = one(sstr("B", 4.0), sstr("F", 3.0))
    assert pd.isna(row["category"]) and row["n_measurable_baseline"] == 0
    assert row["reason"] == "no lesion above the liver at baseline (SUVmax <= liver SUVmean)"
    row = one(sstr("B", 20.0, liver=None), sstr("F", 14.0))
    assert pd.isna(row["category"])
    assert row["reason"].startswith("baseline liver: 0 liver ROIs (one needed)")

def test_tumour_to_spleen_ratio_rule_of_haug():
    # SUVmax unchanged (20), spleen 10 -> 20: T/S 2.0 -> 1.0, -50 %
    base, follow = sstr("B", 20.0), sstr("F", 20.0, spleen=(20.0, 2.0))
    rules = ResponseRules(sstr_criteria="tsr")
    row = one(base, follow, rules)
    assert (row["statistic"], row["category"]) == ("tsr", "PMR")
    assert (row["baseline_value"], row["followup_value"]) == (2.0, 1.0)
    assert "Haug 2010" in row["criteria"]
    assert one(base, follow)["category"] == "SMD"  # the same scans under SUVmax: 0 %
    # no spleen at follow-up: the ratio is missing, no category
    row = one(base, sstr("F", 20.0, spleen=None), rules)
    assert pd.isna(row["category"]) and "tsr missing" in row["reason"]


def test_tumour_to_liver_ratio_rule():
    # T/L 20/5 = 4.0 -> 20/8 = 2.5: -37.5 %
    row = one(sstr("B", 20.0), sstr("F", 20.0, liver=(8.0, 0.8)),
              ResponseRules(sstr_criteria="tlr"))
    assert (row["category"], row["change_rel"]) == ("PMR", pytest.approx(-0.375))


# --- dates, notes, refusals, parameters -----------------------------------------------------

def test_days_between_and_a_follow_up_before_baseline():
    scans = pd.DataFrame({"scan_id": ["B", "F"], "date": ["2024-01-10", "2024-04-10"]})
    assert one(scan("B", {"L1": 10.0}), scan("F", {"L1": 9.0}), scans=scans
               )["days_between"] == 91
    backwards = scans.assign(date=["2024-04-10", "2024-01-10"])
    with pytest.raises(ValueError, match="follow-up scan F is dated before baseline scan B") \
            as err:
        one(scan("B", {"L1": 10.0}), scan("F", {"L1": 9.0}), scans=backwards)
    assert "2024" not in str(err.value)


def test_days_between_reads_the_cohort_scan_date_in_calendar_days():
    # review of issue 19: the scans table of a cohort names the column scan_date; only a
    # "date" column was read, so days_between was always missing. Calendar days, as in
    # nethelpers.timepoints: 10 Jan 15:00 -> 10 Apr 09:00 2024 is 91 days (not 90)
    scans = pd.DataFrame({"scan_id": ["B", "F"],
                          "scan_date": ["2024-01-10 15:00", "2024-04-10 09:00"]})
    assert one(scan("B", {"L1": 10.0}), scan("F", {"L1": 9.0}), scans=scans
               )["days_between"] == 91


def test_notes_liver_drift_and_modality_change():
    row = one(scan("B", {"L1": 10.0}), scan("F", {"L1": 9.0}, liver=(2.5, 0.2),
                                           modality="PET/MR"))
    assert "modality differs: baseline PET/CT, follow-up PET/MR" in row["note"]
    assert "liver SULmean changed 2 -> 2.5" in row["note"]   # +25 %, +0.5 SUL
    assert "no follow-up blood pool ROI" in row["note"]


def test_patients_at_one_time_point_and_refusals():
    out = patient_response(scan("B", {"L1": 10.0}), scan("F", {"L1": 9.0}, patient="P02"))
    assert out.set_index("patient_id")["reason"].to_dict() == {
        "P01": "no follow-up scan", "P02": "no baseline scan"}
    assert lesion_response(scan("B", {"L1": 10.0}), scan("F", {}, patient="P02")).empty
    two = pd.concat([scan("B", {"L1": 10.0}), scan("B2", {"L1": 9.0})])
    with pytest.raises(ValueError, match="patient P01 has 2 scans \\(B, B2\\)"):
        patient_response(two, scan("F", {"L1": 9.0}))
    with pytest.raises(ValueError, match="baseline scan B is FDG, follow-up scan F DOTATATE"):
        patient_response(scan("B", {"L1": 10.0}), sstr("F", 9.0))


def test_rules_from_parameters_reuse_quantify_percist_factors():
    params = params_from_dict({"study": {"name": "s", "data_root": "."},
                               "quantify": {"percist_mean_factor": 1.0},
                               "response": {"sstr_criteria": "tsr"}})
    rules = ResponseRules.from_params(params)
    assert (rules.mean_factor, rules.sd_factor, rules.relative_change) == (1.0, 2.0, 0.3)
    assert rules.rule_set("dotatate").name == "tsr" and rules.rule_set("FDG").name == "percist"
    # threshold 1.0 x 2.0 + 2 x 0.2 = 2.4: SULpeak 3.0 is measurable now (not under 1.5)
    row = one(scan("B", {"L1": 3.0}), scan("F", {"L1": 3.0}), rules)
    assert row["category"] == "SMD"
    with pytest.raises(ParamsError, match="response.sstr_criteria"):
        params_from_dict({"study": {"name": "s", "data_root": "."},
                          "response": {"sstr_criteria": "recist"}})
