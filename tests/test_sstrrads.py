"""SSTR-RADS 1.0 (Werner et al., J Nucl Med 2018): categories, patient level, demo reads."""

from __future__ import annotations

import pandas as pd
import pytest

from nethelpers import sstrrads
from nethelpers.cohort import load_cohort
from nethelpers.config import load_params
from nethelpers.demo.readers import ATYPICAL_NET_SITES, CORRELATE_MIN_MM
from nethelpers.sstrrads import lesion_category
from tests.test_cohort import write_params

# (uptake, correlate, site typical, bone) -> category, from the paper's definitions
CASES = [
    # 1: benign lesion without abnormal uptake; normal biodistribution (no focus)
    ((0, "benign", True, False), "1"),
    ((1, "benign", True, True), "1"),
    ((0, "none", True, False), "1"),
    # 2A/2B: likely benign, soft tissue / bone (benign correlate with uptake; atypical site)
    ((3, "benign", True, False), "2A"),
    ((4, "benign", True, True), "2B"),        # e.g. degenerative change with uptake
    ((1, "none", False, False), "2A"),
    ((1, "none", False, True), "2B"),
    # 3A/3B: equivocal uptake (about blood pool), typical site, no anatomic finding
    ((1, "none", True, False), "3A"),          # e.g. a lymph node at blood-pool level
    ((1, "none", True, True), "3B"),
    # 3C: intense uptake, site highly atypical of NET
    ((4, "none", False, False), "3C"),
    ((3, "suspicious", False, True), "3C"),
    # 3D: suspicious on CT/MR but no uptake
    ((0, "suspicious", True, False), "3D"),
    ((1, "suspicious", True, True), "3D"),
    # 4: intense uptake, typical site, no definitive anatomic finding
    ((2, "none", True, False), "4"),
    ((4, "none", True, True), "4"),
    # 5: intense uptake, typical site, corresponding anatomic finding
    ((3, "suspicious", True, False), "5"),
    ((2, "suspicious", True, True), "5"),
]


@pytest.mark.parametrize(("args", "expected"), CASES)
def test_lesion_categories_follow_the_published_definitions(args, expected):
    assert lesion_category(*args) == expected


def test_intense_threshold_is_a_parameter_and_inputs_are_checked():
    # uptake above blood pool but not above liver: intense by default, equivocal from 3
    assert lesion_category(2, "none", True, False) == "4"
    assert lesion_category(2, "none", True, False, intense_from=3) == "3A"
    with pytest.raises(ValueError, match="0-4"):
        lesion_category(5, "none", True, False)
    with pytest.raises(ValueError, match="anatomic_correlate"):
        lesion_category(2, "maybe", True, False)


def _cohort(study, tmp_path):
    return load_cohort(load_params(write_params(tmp_path / "p.yaml", study, tmp_path / "o")))


def test_demo_reads_carry_the_fields_from_the_truth(demo_study):
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    truth = pd.read_csv(demo_study / "truth" / "lesions.csv")
    # a lesion's size on a follow-up scan is its size there (truth/lesion_course.csv)
    course = pd.read_csv(demo_study / "truth" / "lesion_course.csv")[
        ["scan_id", "lesion_id", "diameter_mm"]].rename(columns={"diameter_mm": "at_scan"})
    r = reads.merge(scans[["scan_id", "tracer"]], on="scan_id").merge(
        truth[["lesion_id", "site", "diameter_mm", "malignant"]], on="lesion_id", how="left")
    r = r.merge(course, on=["scan_id", "lesion_id"], how="left")
    r["diameter_mm"] = r["at_scan"].fillna(r["diameter_mm"])
    sstr = r[(r["tracer"] == "DOTATATE") & (r["lesion_id"] != "none")]
    assert len(sstr) > 20
    assert sstr[["sstr_uptake", "anatomic_correlate", "site_typical"]].notna().all(axis=None)
    assert set(sstr["sstr_uptake"].astype(int)) <= set(range(5))
    fdg = r[r["tracer"] == "FDG"]
    assert fdg[["sstr_uptake", "anatomic_correlate", "site_typical"]].isna().all(axis=None)
    # the correlate and the site follow the truth table
    suspicious = sstr["malignant"].astype(bool) & (sstr["diameter_mm"] >= CORRELATE_MIN_MM)
    assert ((sstr["anatomic_correlate"] == "suspicious") == suspicious).all()
    atypical = sstr["site"].isin(ATYPICAL_NET_SITES)
    assert (sstr["site_typical"].astype(str) == (~atypical).astype(str)).all()


def test_categories_and_patient_maximum_on_the_demo(demo_study, tmp_path):
    cohort = _cohort(demo_study, tmp_path)
    les = sstrrads.sstr_rads_lesions(cohort)
    assert les.attrs["note"] == ""
    assert set(les["tracer"]) == {"DOTATATE"} and les["category"].notna().all()
    # every category equals the rule applied by hand to the row
    for row in les.itertuples():
        assert row.category == lesion_category(
            int(row.sstr_uptake), row.anatomic_correlate, bool(row.site_typical),
            str(row.site).startswith("bone"))
    pat = sstrrads.sstr_rads_patients(les, cohort.patients)
    top = les.groupby(["scan_id", "reader"])["category_number"].max()
    assert pat.set_index(["scan_id", "reader"])["category_number"].equals(
        top.reindex(pat.set_index(["scan_id", "reader"]).index))
    counts = sstrrads.sstr_rads_counts(les, "category", "malignant")
    assert counts["n"].sum() == len(les)
    acc = sstrrads.sstr_rads_accuracy(les, "malignant", cluster="patient_id")
    sens = acc[(acc["measure"] == "sensitivity") & (acc["reader"] == "R1")]
    for row in sens.itertuples():
        sub = les[(les["reader"] == "R1") & (les["tracer"] == row.tracer)
                  & (les["modality"] == row.modality) & les["malignant"].astype(bool)]
        assert row.numerator == int((sub["category_number"] >= 4).sum())
        assert row.denominator == len(sub)


def test_reads_without_the_fields_are_not_scored(demo_study, tmp_path):
    cohort = _cohort(demo_study, tmp_path)
    cohort.reads = cohort.reads.drop(columns=list(sstrrads.FIELDS))
    les = sstrrads.sstr_rads_lesions(cohort)
    assert les["category"].isna().all() and len(les) > 0
    assert "lack sstr_uptake, anatomic_correlate, site_typical" in les.attrs["note"]
    counts = sstrrads.sstr_rads_counts(les, "category", "malignant")
    assert set(counts["category"]) == {"not scored"}


def test_equivocal_uptake_with_a_suspicious_correlate_is_indeterminate():
    # u = 2 is equivocal when intense starts at 3: a suspicious correlate gives 3A/3B, not 5
    assert lesion_category(2, "suspicious", True, False, intense_from=3) == "3A"
    assert lesion_category(3, "suspicious", True, True, intense_from=4) == "3B"
    assert lesion_category(3, "suspicious", True, False, intense_from=3) == "5"


def test_scans_read_with_no_lesion_are_sstr_rads_1(demo_study, tmp_path):
    cohort = _cohort(demo_study, tmp_path)
    reads = cohort.reads
    sstr_scans = cohort.scans[cohort.scans["tracer"] == "DOTATATE"]["scan_id"]
    read_scans = reads[reads["scan_id"].isin(sstr_scans)
                       & (reads["lesion_id"].astype(str) != "none")]["scan_id"]
    emptied = str(read_scans.iloc[0])  # a scan with lesion reads: now read "none" by R1 and R2
    # as a reads.csv row "scan,none,R1,negative,,5,,,," loads: no SSTR-RADS fields
    template = {c: pd.NA for c in reads.columns} | {"lesion_id": "none", "call": "negative",
                                                    "confidence": 5}
    new = pd.DataFrame([template | {"scan_id": emptied, "reader": r} for r in ("R1", "R2")])
    cohort.reads = pd.concat([reads[reads["scan_id"].astype(str) != emptied], new],
                             ignore_index=True)
    les = sstrrads.sstr_rads_lesions(cohort)
    assert emptied not in set(les["scan_id"].astype(str))
    pat = sstrrads.sstr_rads_patients(les, cohort.patients)
    # one row per SSTR PET index scan (baseline) and reader that was read, by hand
    baseline = cohort.scans[cohort.scans["time_point"] == "baseline"]
    joined = cohort.reads.merge(baseline[["scan_id", "tracer", "modality"]], on="scan_id")
    expected = joined[joined["tracer"] == "DOTATATE"][["scan_id", "reader"]].drop_duplicates()
    assert len(pat) == len(expected)
    assert set(zip(pat["scan_id"], pat["reader"], strict=True)) == set(
        zip(expected["scan_id"].astype(str), expected["reader"].astype(str), strict=True))
    row = pat[pat["scan_id"] == emptied]
    assert list(row["category_number"]) == [1.0, 1.0]
    assert list(row["n_lesions"]) == [0, 0] and list(row["categories"]) == ["1", "1"]
    # every "none" scan of the demo counts as SSTR-RADS 1, so negative at the >= 4 threshold
    nones = joined[(joined["tracer"] == "DOTATATE") & (joined["lesion_id"] == "none")]
    got = pat.set_index(["scan_id", "reader"]).loc[
        list(zip(nones["scan_id"].astype(str), nones["reader"].astype(str), strict=True)),
        "category_number"]
    assert (got == 1.0).all() and len(got) == len(nones)
    acc = sstrrads.sstr_rads_accuracy(pat, "disease_present", cluster=None)
    spec = acc[(acc["measure"] == "specificity") & (acc["reader"] == "R1")].iloc[0]
    r1 = pat[pat["reader"] == "R1"].merge(cohort.patients[["patient_id"]].astype(str))
    healthy = r1[~r1["disease_present"].astype(bool)]
    assert spec.denominator == len(healthy)
    assert spec.numerator == int((healthy["category_number"] < 4).sum())
    with pytest.raises(ValueError, match="scans read"):
        sstrrads.sstr_rads_patients(les.copy().pipe(lambda f: f.attrs.clear() or f),
                                    cohort.patients)
