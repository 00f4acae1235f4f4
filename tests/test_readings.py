"""Index-test results: STARD flow counts, cut-off tables, paired detection comparisons."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethelpers import comparisons, cutoffs, readings, summaries
from nethelpers.cohort import load_cohort
from nethelpers.config import load_params
from nethelpers.scores import ScoreRules
from nethelpers.stats import mcnemar, paired_difference, roc
from tests.test_cohort import write_params, write_study


@pytest.fixture
def cohort(tmp_path):
    study = write_study(tmp_path / "study")
    return load_cohort(load_params(write_params(tmp_path / "p.yaml", study, tmp_path / "o")))


def _results() -> pd.DataFrame:
    """Patient-level results of 5 scans of one index test and 1 of another."""
    return pd.DataFrame({
        "patient_id": ["A", "B", "C", "D", "E", "A"],
        "group": ["g"] * 6,
        "scan_id": ["A1", "B1", "C1", "D1", "E1", "A2"],
        "tracer": ["DOTATATE"] * 5 + ["FDG"],
        "modality": ["PET/CT"] * 6,
        "test": pd.array([True, False, False, True, False, True], dtype="boolean"),
        "disease_present": pd.array([True, True, False, False, True, True], dtype="boolean"),
        "n_positive": [2, 0, 0, 1, 0, 1],
        "n_equivocal": [1, 1, 0, 0, 0, 0],
    })


def _patients() -> pd.DataFrame:
    return pd.DataFrame({
        "patient_id": list("ABCDEF"),
        "reference_standard": ["histopathology", "histopathology", "follow-up", "follow-up",
                               "histopathology", "follow-up"],
        "disease_present": pd.array([True, True, False, False, True, False], dtype="boolean"),
        "grade": ["G1", "G3", None, "G2", "G3", None],
    })


def test_index_test_flow_counts_each_branch():
    flow = readings.index_test_flow(_results(), _patients(), "negative")
    dota = flow[flow.tracer == "DOTATATE"].set_index("result")
    assert list(dota.index) == ["positive", "negative", "indeterminate"]
    assert (dota["eligible"] == 6).all() and (dota["patients_tested"] == 5).all()
    assert (dota["not_tested"] == 1).all()
    # A (2 positive calls) and D positive; B only equivocal -> indeterminate; C, E negative
    assert dota["scans"].tolist() == [2, 2, 1]
    assert dota.loc["positive", ["disease_present", "disease_absent"]].tolist() == [1, 1]
    assert dota.loc["negative", ["disease_present", "disease_absent"]].tolist() == [1, 1]
    assert dota.loc["indeterminate", "disease_present"] == 1
    assert dota.loc["indeterminate", "counted_as"] == "negative"
    assert dota.loc["positive", ["histopathology", "follow_up"]].tolist() == [1, 1]
    assert dota.loc["negative", ["histopathology", "follow_up"]].tolist() == [1, 1]
    fdg = flow[flow.tracer == "FDG"].set_index("result")
    assert fdg["scans"].tolist() == [1, 0, 0] and fdg["not_tested"].iloc[0] == 5
    # the rule is recorded, the counts do not depend on it
    other = readings.index_test_flow(_results(), _patients(), "exclude")
    assert other["scans"].tolist() == flow["scans"].tolist()
    assert set(other.loc[other.result == "indeterminate", "counted_as"]) == {"excluded"}
    # a scan not read at all by the reader is its own branch, left out of the analysis
    unread = _results().assign(read=[True, True, True, False, True, True])
    branch = readings.index_test_flow(unread, _patients(), "negative").set_index(
        ["tracer", "result"])
    assert branch.loc[("DOTATATE", "not read"), ["scans", "counted_as"]].tolist() == [
        1, "excluded"]
    assert branch.loc[("DOTATATE", "positive"), "scans"] == 1  # D is no longer positive
    assert ("FDG", "not read") not in branch.index
    with pytest.raises(ValueError, match="equivocal must be one of"):
        readings.index_test_flow(_results(), _patients(), "maybe")


def test_index_test_flow_of_the_handmade_cohort(cohort):
    results = readings.patient_level(cohort, "R1")
    flow = readings.index_test_flow(results, cohort.patients, "negative")
    assert flow.groupby(["tracer", "modality"])["scans"].sum().to_dict() == (
        cohort.scans.astype({"tracer": str, "modality": str})
        .groupby(["tracer", "modality"]).size().to_dict())
    total = flow[["disease_present", "disease_absent", "no_reference"]].sum(axis=1)
    assert (total == flow["scans"]).all()


def test_prespecified_cutoff_equals_the_accuracy_of_the_rule():
    data = pd.DataFrame({
        "tracer": ["DOTATATE"] * 8, "modality": ["PET/CT"] * 8,
        "patient_id": ["A", "A", "B", "B", "C", "C", "D", "D"],
        "positive": [True, True, False, True, False, False, True, np.nan],
        "malignant": [True, True, True, False, False, False, True, True],
    })
    table = cutoffs.prespecified_cutoff(data, "positive", "SUVmax > 1 × liver SUVmean",
                                         cluster=None)
    row = table.iloc[0]
    assert row["kind"] == "pre-specified (protocol)"
    assert row["cutoff"] == "SUVmax > 1 × liver SUVmean"
    # the NaN test is left out: 4 malignant with a result, 3 positive; 3 benign, 1 positive
    assert (row.tp, row.fn, row.fp, row.tn) == (3, 1, 1, 2)
    assert row["sensitivity"] == pytest.approx(0.75)
    assert row["specificity"] == pytest.approx(2 / 3)
    from nethelpers.stats import proportion_ci

    ci = proportion_ci(3, 4, method="wilson")
    assert (row.sensitivity_lower, row.sensitivity_upper) == pytest.approx((ci.lower, ci.upper))
    assert row["n_excluded"] == 1


def test_prespecified_cutoff_takes_the_cluster_adjusted_interval():
    rng = np.random.default_rng(7)
    patients = np.repeat([f"P{i}" for i in range(12)], 6)
    # lesions of one patient agree: a design effect above 1
    agrees = np.repeat(rng.random(12) < 0.6, 6)
    data = pd.DataFrame({"tracer": "DOTATATE", "modality": "PET/CT", "patient_id": patients,
                         "malignant": True, "positive": agrees})
    data.loc[data.index % 6 == 0, "malignant"] = False
    row = cutoffs.prespecified_cutoff(data, "positive", "rule").iloc[0]
    acc = readings.accuracy_by(data, ["tracer", "modality"], test="positive",
                               truth="malignant", cluster="patient_id").set_index("measure")
    assert acc.at["sensitivity", "design_effect"] > 1.5
    assert (row.sensitivity_lower, row.sensitivity_upper) == pytest.approx(
        (acc.at["sensitivity", "cluster_lower"], acc.at["sensitivity", "cluster_upper"]))
    assert row.sensitivity_lower < acc.at["sensitivity", "lower"]  # wider than naive


def test_youden_cutoff_printed_rule_gives_the_printed_table():
    # two neighbours 2e-4 apart: a 4-digit threshold would classify one of them wrongly
    scores = np.array([1.0, 2.0, 2.445048, 2.445263, 3.0, 4.0, 5.0, 0.5, np.nan])
    malignant = np.array([False, False, False, True, True, True, False, False, True])
    data = pd.DataFrame({"tracer": "FDG", "modality": "PET/CT", "suv_max": scores,
                         "malignant": malignant,
                         "patient_id": ["A", "A", "B", "B", "C", "C", "D", "D", "E"]})
    ok = ~np.isnan(scores)
    best = roc(malignant[ok], scores[ok], direction="<").youden()
    assert best.threshold == pytest.approx((2.445048 + 2.445263) / 2)
    row = cutoffs.youden_cutoff(data, "suv_max", best, "SUVmax", cluster=None)
    assert row["kind"] == "exploratory (Youden J on these data)"
    printed = float(row["cutoff"].removeprefix("SUVmax >= "))
    assert printed == 2.4452  # fewest digits that classify the observed values alike
    called = scores[ok] >= printed
    m = malignant[ok]
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (
        int((called & m).sum()), int((called & ~m).sum()), int((~called & m).sum()),
        int((~called & ~m).sum()))
    assert (row["tp"], row["fp"], row["fn"], row["tn"]) == (best.tp, best.fp, best.fn, best.tn)
    assert row["n_excluded"] == 1  # the lesion without a score
    assert "optimistic" in row["ci"]
    clustered = cutoffs.youden_cutoff(data, "suv_max", best, "SUVmax")
    assert "cluster-adjusted (patient_id)" in clustered["ci"]


def test_compare_detection_equals_direct_tests():
    rng = np.random.default_rng(3)
    n = 40
    pairs = pd.DataFrame({
        "patient_id": [f"P{i // 4}" for i in range(n)],
        "malignant": rng.random(n) < 0.7,
        "test_a": rng.random(n) < 0.8,
        "test_b": rng.random(n) < 0.5,
    })
    pairs["test_b"] = pairs["test_b"].astype("boolean")
    pairs.loc[3, "test_b"] = pd.NA  # an excluded equivocal call
    detection, difference = comparisons.compare_detection(pairs)
    kept = pairs.drop(index=3)
    mal = kept[kept.malignant]
    exact = mcnemar(mal.test_a.astype(bool), mal.test_b.astype(bool), method="exact")
    clustered = mcnemar(mal.test_a.astype(bool), mal.test_b.astype(bool),
                        cluster=mal.patient_id)
    assert detection["method"].tolist() == [exact.method, clustered.method]
    assert detection["p"].tolist() == pytest.approx([exact.p, clustered.p], rel=1e-12)
    assert detection.loc[0, "a_only"] == int((mal.test_a & ~mal.test_b.astype(bool)).sum())
    direct = paired_difference(kept.test_a.astype(bool), kept.test_b.astype(bool),
                               kept.malignant, cluster=kept.patient_id)
    pd.testing.assert_frame_equal(difference, direct)
    single, _ = comparisons.compare_detection(pairs, cluster=None)
    assert single["method"].tolist() == ["exact"]


def test_paired_patients_first_scan_of_each_type():
    results = _results()
    extra = results.iloc[[0]].assign(scan_id="A0", test=pd.array([False], dtype="boolean"))
    pairs = comparisons.paired_patients(pd.concat([results, extra]), ("DOTATATE", "PET/CT"),
                                     ("FDG", "PET/CT"))
    assert pairs["patient_id"].tolist() == ["A"]
    assert pairs.loc[0, "scan_id_a"] == "A0" and not pairs.loc[0, "test_a"]
    assert pairs.loc[0, "scan_id_b"] == "A2" and pairs.loc[0, "test_b"]


def test_positivity_text():
    assert ScoreRules().positivity_text == "SUVmax > 1 × liver SUVmean"
    rules = ScoreRules(lesion_statistic="suv_peak", positivity_reference="blood_pool",
                       positivity_factor=1.5)
    assert rules.positivity_text == "SUVpeak > 1.5 × blood pool SUVmean"
    assert rules.ratio_text == "SUVpeak / liver SUVmean"


def test_flip_flop_summary_quadrants_by_grade():
    sstr = [3.0, 2.0, 0.5, 2.0, 0.8, 5.0, np.nan]
    fdg = [0.5, 1.5, 4.0, 0.9, 0.7, 5.0, 2.0]
    pairs = pd.DataFrame({
        "patient_id": ["A", "A", "B", "C", "E", "E", "F"],
        "lesion_id": ["A1", "A2", "B1", "C1", "E1", "E2", "F1"],
        "site": ["liver"] * 7,
        "malignant": [True, True, True, True, True, False, True],
        "lesion_to_liver_a": sstr, "lesion_to_liver_b": fdg,
        # the protocol's rule decides, not a threshold on the ratio: C1 is positive on FDG
        # (e.g. against another reference region) although its ratio is 0.9
        "positive_a": [True, True, False, True, False, True, None],
        "positive_b": [False, True, True, True, False, True, True],
    })
    lesions, table = summaries.flip_flop_summary(pairs, _patients())
    # E2 is benign, F1 lacks an SSTR result: both left out
    assert sorted(lesions["lesion_id"]) == ["A1", "A2", "B1", "C1", "E1"]
    pattern = lesions.set_index("lesion_id")["pattern"]
    assert pattern.to_dict() == {"A1": "sstr_only", "A2": "both", "B1": "fdg_only",
                                 "C1": "both", "E1": "neither"}
    t = table.set_index("grade")
    assert list(t.index) == ["G1", "G3", "no grade"]
    assert t.loc["G1", ["lesions", "sstr_only", "both", "fdg_only"]].tolist() == [2, 1, 1, 0]
    assert t.loc["G3", ["patients", "lesions", "fdg_only", "neither"]].tolist() == [2, 2, 1, 1]
    assert t.loc["G3", "fdg_only_percent"] == pytest.approx(50.0)
    assert t.loc["G3", "patients_fdg_only"] == 1
    assert t.loc["G1", "tb_sstr_median"] == pytest.approx(2.5)
    assert lesions.set_index("lesion_id").loc["C1", "tb_fdg"] == 0.9


def test_netpet_by_grade_crosstab():
    netpet = pd.DataFrame({"patient_id": list("ABCDE"),
                           "netpet": ["P1", "P5", None, "P2", "P5"]})
    table = summaries.netpet_by_grade(netpet, _patients()).set_index("grade")
    assert list(table.columns) == ["P0", "P1", "P2", "P3", "P4", "P5", "patients"]
    assert table.loc["G1"].tolist() == [0, 1, 0, 0, 0, 0, 1]
    assert table.loc["G3", "P5"] == 2 and table.loc["G3", "patients"] == 2
    assert table.loc["G2", "P2"] == 1
    assert table["patients"].sum() == 4  # C has no NETPET grade


# --------------------------------------------------------------------------------------------
# read / not read, the "none" rows, missing truth
# --------------------------------------------------------------------------------------------


def _handmade(tmp_path, **replace):
    from tests.test_cohort import TABLES

    reads = TABLES["reads"][1] + replace.pop("extra_reads", "")
    study = write_study(tmp_path / "s", reads=reads, **replace)
    return load_cohort(load_params(write_params(tmp_path / "p.yaml", study, tmp_path / "o")))


def test_a_scan_without_reads_is_not_read_never_negative(tmp_path):
    results = readings.patient_level(_handmade(tmp_path), "R1").set_index("scan_id")
    # P006 has no lesion and no read: not read (was counted negative, a false negative if
    # the patient had been diseased); P003 has a lesion and no read: not read either
    for scan in ("P006-DOTATATE-PETCT", "P003-DOTATATE-PETCT", "P005-HYNIC-SPECTCT"):
        assert not results.loc[scan, "read"] and pd.isna(results.loc[scan, "test"]), scan
    assert results.loc["P001-DOTATATE-PETCT", "test"] and results.loc["P001-DOTATATE-PETCT",
                                                                      "read"]
    assert not results.loc["P001-FDG-PETCT", "test"]  # read, its lesion called negative
    # P004's DOTATATE scan was read by nobody: not read (only its FDG scan was)
    assert not results.loc["P004-DOTATATE-PETCT", "read"]
    assert results["read"].sum() == 5  # the scans R1 has a read row on


def test_a_none_read_records_a_scan_read_with_no_lesion_called(tmp_path):
    extra = ("P006-DOTATATE-PETCT,none,R1,negative,,5,\n"
             "P003-DOTATATE-PETCT,none,R1,negative,,4,\n"
             "P005-HYNIC-SPECTCT,none,R2,negative,,4,\n")
    cohort = _handmade(tmp_path, extra_reads=extra)
    results = readings.patient_level(cohort, "R1").set_index("scan_id")
    row = results.loc["P006-DOTATATE-PETCT"]
    assert row["read"] and pd.notna(row["test"]) and not row["test"] and row["n_reads"] == 0
    # P003 has a malignant lesion and the reader called nothing: a false negative
    row = results.loc["P003-DOTATATE-PETCT"]
    assert row["read"] and pd.notna(row["test"]) and not row["test"] and row["disease_present"]
    # R2's "none" read does not make the scan read by R1
    assert not results.loc["P005-HYNIC-SPECTCT", "read"]
    lesions = readings.lesion_level(cohort, "R1")
    assert "none" not in set(lesions["lesion_id"]) and len(lesions) == 5
    acc = readings.accuracy_by(results.reset_index(), ["tracer", "modality"], test="test",
                               truth="disease_present").set_index(["tracer", "modality",
                                                                   "measure"])
    dota = acc.loc[("DOTATATE", "PET/CT", "sensitivity")]
    # DOTATATE PET/CT read: P001 (TP), P003 (FN), P005 (TP), P006 (TN); P004 not read
    assert (dota.tp, dota.fn, dota.fp, dota.tn) == (2, 1, 0, 1)
    assert dota.n_excluded == 1


def test_accuracy_by_leaves_out_and_counts_a_missing_truth():
    df = _results().astype({"disease_present": "boolean"})
    df.loc[1, "disease_present"] = pd.NA  # B: no reference standard recorded
    acc = readings.accuracy_by(df, ["tracer", "modality"], test="test", truth="disease_present")
    dota = acc[(acc.tracer == "DOTATATE") & (acc.measure == "sensitivity")].iloc[0]
    # A (TP), E (FN) diseased with a truth; B left out
    assert (dota.tp, dota.fn, dota.n_no_reference) == (1, 1, 1)
    empty = readings.accuracy_by(df.assign(test=pd.NA), ["tracer", "modality"], test="test",
                                 truth="disease_present", cluster="patient_id")
    # nothing estimable: one row per subgroup says so, with every column
    assert set(empty["measure"]) == {"not estimable"}
    assert len(empty) == df.groupby(["tracer", "modality"]).ngroups
    assert {"measure", "estimate", "cluster_lower", "n_no_reference"} <= set(empty.columns)
    none = readings.accuracy_by(df.iloc[0:0], ["tracer", "modality"], test="test",
                                truth="disease_present", cluster="patient_id")
    assert none.empty and "cluster_lower" in none.columns


def test_missing_group_is_not_recorded_and_indeterminate_counts(tmp_path):
    from tests.test_cohort import PATIENTS

    patients = PATIENTS.replace("P001,suspected_net,", "P001,,")
    cohort = _handmade(tmp_path, patients=patients)
    results = readings.patient_level(cohort, "R1").set_index("scan_id")
    assert results.loc["P001-DOTATATE-PETCT", "group"] == "Not recorded"
    lesions = readings.lesion_level(cohort, "R1")
    assert set(lesions.loc[lesions.patient_id == "P001", "group"]) == {"Not recorded"}
    counts = readings.indeterminate_counts(lesions).set_index(["tracer", "modality"])
    assert counts.loc[("DOTATATE", "PET/MR")].tolist() == [1, 1]  # P002's equivocal call
    assert counts["lesion_reads"].sum() == len(lesions)
    assert counts["equivocal"].sum() == int((lesions.call == "equivocal").sum())
