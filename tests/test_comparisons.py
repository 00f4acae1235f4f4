"""Scan types by family, and the paired comparison tables of notebook 4."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethelpers import comparisons, scantypes
from nethelpers.scantypes import ScanType, pick_scan_types
from nethelpers.vocabulary import DEFAULT_VOCABULARY, ModalityTerm, TracerTerm, Vocabulary


def _scans(*types: tuple[str, str, int]) -> pd.DataFrame:
    rows = [(t, m) for t, m, n in types for _ in range(n)]
    return pd.DataFrame(rows, columns=["tracer", "modality"])


# --------------------------------------------------------------------------------------------
# scan types
# --------------------------------------------------------------------------------------------


def test_pick_scan_types_of_the_protocol():
    scans = _scans(("DOTATATE", "PET/CT", 6), ("DOTATATE", "PET/MR", 3), ("FDG", "PET/CT", 5))
    types = pick_scan_types(scans, DEFAULT_VOCABULARY)
    assert types.sstr_pet == ScanType("DOTATATE", "PET/CT")
    assert types.fdg_pet == ScanType("FDG", "PET/CT")
    assert types.sstr_other_pet == ScanType("DOTATATE", "PET/MR")
    assert types.sstr_spect is None
    assert types.needs("sstr_pet", "fdg_pet", "sstr_other_pet") == ""
    note = types.needs("sstr_pet", "sstr_spect")
    assert note.startswith("The scans table has no SPECT scan of an SSTR tracer")
    assert "SPECT modalities of the vocabulary: SPECT/CT" in note
    assert types.name("sstr_spect") == "SSTR SPECT" and types.name("fdg_pet") == "FDG PET/CT"
    assert types.tracer("sstr_pet") == "DOTATATE" and types.tracer("sstr_spect") == "SSTR SPECT"
    assert "SSTR SPECT: none in this study" in types.describe()


def test_a_dotatoc_study_gets_the_same_roles_with_its_own_tracer():
    scans = _scans(("DOTATOC", "PET/CT", 3), ("FDG", "PET/CT", 2), ("HYNIC-TOC", "SPECT/CT", 1),
                   ("DOTATATE", "PET/CT", 1))
    types = pick_scan_types(scans, DEFAULT_VOCABULARY)
    assert types.sstr_pet == ScanType("DOTATOC", "PET/CT")  # the SSTR tracer with most scans
    assert types.sstr_spect == ScanType("HYNIC-TOC", "SPECT/CT")
    assert types.sstr_other_pet is None
    assert types.needs("sstr_other_pet") == (
        "The scans table has no DOTATOC scan on a second PET modality besides PET/CT (PET "
        "modalities of the vocabulary: PET/CT, PET/MR): this comparison needs a second SSTR "
        "PET (same tracer) on another PET modality of the same patient (tracer families and "
        "modality systems are set in vocabulary.tracers and vocabulary.modalities of the "
        "parameters).")


def test_ties_go_to_the_vocabulary_order_and_fdg_follows_the_main_modality():
    tie = _scans(("DOTATOC", "PET/CT", 2), ("DOTATATE", "PET/CT", 2))
    assert pick_scan_types(tie, DEFAULT_VOCABULARY).sstr_pet.tracer == "DOTATATE"
    # the SSTR tracer mostly on PET/MR: that is its main modality, and FDG must be there too
    mr = _scans(("DOTATATE", "PET/MR", 3), ("DOTATATE", "PET/CT", 1), ("FDG", "PET/CT", 4))
    types = pick_scan_types(mr, DEFAULT_VOCABULARY)
    assert types.sstr_pet == ScanType("DOTATATE", "PET/MR")
    assert types.sstr_other_pet == ScanType("DOTATATE", "PET/CT")
    assert types.fdg_pet is None
    assert ("no FDG scan on PET/MR (FDG tracers of the vocabulary: FDG; the study's FDG PET is "
            "on PET/CT, and the comparison pairs scans of one modality)") in types.needs("fdg_pet")
    # no SSTR PET at all: every PET role is empty, and the note says which families count
    fdg_only = pick_scan_types(_scans(("FDG", "PET/CT", 2)), DEFAULT_VOCABULARY)
    assert fdg_only.sstr_pet is fdg_only.fdg_pet is fdg_only.sstr_other_pet is None
    assert "no PET scan of an SSTR tracer (SSTR tracers of the vocabulary: DOTATATE, " \
           "HYNIC-TOC, DOTATOC, DOTANOC" in fdg_only.needs("sstr_pet", "fdg_pet")


def test_needs_names_what_is_actually_missing_once():
    # FDG PET/CT scans but no SSTR PET: the SSTR PET is missing, not the FDG scan
    fdg_only = pick_scan_types(_scans(("FDG", "PET/CT", 3)), DEFAULT_VOCABULARY)
    note = fdg_only.needs("sstr_pet", "fdg_pet")
    assert note.startswith("The scans table has no PET scan of an SSTR tracer (")
    assert "FDG scan" not in note and "no PET scan of an FDG tracer" not in note
    assert (": this comparison needs an SSTR PET and an FDG PET on the same PET modality of "
            "the same patient (") in note
    # PET/MR versus PET/CT without any SSTR PET: said once, not twice
    note = fdg_only.needs("sstr_other_pet", "sstr_pet")
    assert note.count("no PET scan of an SSTR tracer") == 1
    # neither tracer on PET: both are named
    spect_only = pick_scan_types(_scans(("HYNIC-TOC", "SPECT/CT", 1)), DEFAULT_VOCABULARY)
    note = spect_only.needs("sstr_pet", "fdg_pet")
    assert "no PET scan of an SSTR tracer" in note and (
        "; and no PET scan of an FDG tracer (FDG tracers of the vocabulary: FDG)" in note)
    assert spect_only.needs("sstr_spect") == ""


def test_describe_study_counts_scans_by_tracer_and_modality():
    scans = _scans(("FDG", "PET/CT", 10), ("DOTATOC", "PET/CT", 12), ("DOTATOC", "PET/MR", 2),
                   ("HYNIC-TOC", "SPECT/CT", 1))
    cohort = SimpleNamespace(scans=scans, vocabulary=DEFAULT_VOCABULARY)
    # SSTR tracers first (vocabulary order: HYNIC-TOC before DOTATOC), then FDG
    assert scantypes.describe_study(cohort) == (
        "Scans in this study: 1 HYNIC-TOC SPECT/CT, 12 DOTATOC PET/CT, 2 DOTATOC PET/MR, "
        "10 FDG PET/CT.")
    empty = SimpleNamespace(scans=_scans(), vocabulary=DEFAULT_VOCABULARY)
    assert scantypes.describe_study(empty) == "Scans in this study: none yet."


def test_families_and_systems_come_from_the_study_vocabulary():
    vocabulary = Vocabulary(
        tracers=[TracerTerm(name="GA-SSTR", family="sstr"), TracerTerm(name="F-GLU", family="fdg"),
                 TracerTerm(name="TC-SSTR", family="sstr")],
        modalities=[ModalityTerm(name="PETCT-X", system="PET"),
                    ModalityTerm(name="GAMMA", system="SPECT")])
    scans = _scans(("GA-SSTR", "PETCT-X", 2), ("F-GLU", "PETCT-X", 2), ("TC-SSTR", "GAMMA", 1))
    types = pick_scan_types(scans, vocabulary)
    assert types.sstr_pet == ScanType("GA-SSTR", "PETCT-X")
    assert types.fdg_pet == ScanType("F-GLU", "PETCT-X")
    assert types.sstr_spect == ScanType("TC-SSTR", "GAMMA")


def test_column_names_of_tracers():
    assert [scantypes.column_name(t) for t in ("DOTATATE", "HYNIC-TOC", "FDG", "DOTATOC")] == [
        "dotatate", "hynic", "fdg", "dotatoc"]


def _lesions() -> pd.DataFrame:
    """Lesion-level results of 2 patients: A read on SSTR and FDG PET/CT, B on SSTR only."""
    rows = []
    for lesion, calls in {"A1": ("positive", "negative"), "A2": ("positive", "positive")}.items():
        for (tracer, call) in zip(("DOTATATE", "FDG"), calls, strict=True):
            rows.append({"patient_id": "A", "scan_id": f"A-{tracer}", "tracer": tracer,
                         "modality": "PET/CT", "lesion_id": lesion, "site": "liver",
                         "malignant": True, "call": call, "test": call == "positive"})
    rows.append({"patient_id": "B", "scan_id": "B-DOTATATE", "tracer": "DOTATATE",
                 "modality": "PET/CT", "lesion_id": "B1", "site": "liver", "malignant": True,
                 "call": "positive", "test": True})
    return pd.DataFrame(rows)


def test_paired_reads_says_why_there_are_no_pairs():
    scans = _scans(("DOTATATE", "PET/CT", 2), ("FDG", "PET/CT", 1))
    types = pick_scan_types(scans, DEFAULT_VOCABULARY)
    pairs, note = scantypes.paired_reads(types, "sstr_pet", "fdg_pet", _lesions(), reader="R1")
    assert note == "" and sorted(pairs["lesion_id"]) == ["A1", "A2"]
    waits, note = scantypes.paired_reads(types, "sstr_pet", "fdg_pet", None, reader="R1",
                                         waits="The reads table is not there yet.")
    assert waits.empty and note == "The reads table is not there yet."
    _, note = scantypes.paired_reads(types, "sstr_pet", "sstr_spect", _lesions(), reader="R1")
    assert note.startswith("The scans table has no SPECT scan of an SSTR tracer")
    # a scan type the study does not have is named before the reads it would need
    _, note = scantypes.paired_reads(types, "sstr_pet", "sstr_spect", None, reader="R1",
                                     waits="The reads table is not there yet.")
    assert note.startswith("The scans table has no SPECT scan of an SSTR tracer")
    fdg_b = _lesions()
    fdg_b = fdg_b[(fdg_b.patient_id == "B") | (fdg_b.tracer == "DOTATATE")]
    none, note = scantypes.paired_reads(types, "sstr_pet", "fdg_pet", fdg_b, reader="R1")
    assert none.empty
    assert note.startswith("No patient had both a DOTATATE PET/CT and a FDG PET/CT read by "
                           "reader R1")


def _measurements() -> pd.DataFrame:
    """Lesion VOIs (and liver spheres) of patients A (SSTR twice, FDG once) and B (SSTR only)."""
    rows = [("A", "A-SSTR-1", "DOTATATE", "liver", None, 8.0, np.nan),
            ("A", "A-SSTR-1", "DOTATATE", "lesion", "A1", 20.0, 2.5),
            ("A", "A-SSTR-1", "DOTATATE", "lesion", "A2", 12.0, 1.5),
            ("A", "A-SSTR-2", "DOTATATE", "lesion", "A1", 30.0, 3.5),   # a repeat scan
            ("A", "A-SSTR-2", "DOTATATE", "lesion", "A3", 9.0, 1.1),
            ("A", "A-FDG", "FDG", "lesion", "A1", 4.0, 2.0),
            ("A", "A-FDG", "FDG", "lesion", "A3", 6.0, 3.0),
            ("A", "A-FDG", "FDG", "lesion", "A4", 5.0, 2.5),
            ("B", "B-SSTR", "DOTATATE", "lesion", "B1", 15.0, 2.0)]
    frame = pd.DataFrame(rows, columns=["patient_id", "scan_id", "tracer", "roi", "lesion_id",
                                        "suv_max", "tb_liver"])
    return frame.assign(modality="PET/CT", positive=frame["tb_liver"] > 1.0,
                        lesion_to_liver=frame["tb_liver"])


def test_paired_measurements_pairs_lesion_vois_without_reads():
    truth = pd.DataFrame({"patient_id": ["A", "A", "A"], "lesion_id": ["A1", "A2", "A3"],
                          "site": ["liver", "bone", "node"], "malignant": [True, False, True]})
    a, b = ("DOTATATE", "PET/CT"), ("FDG", "PET/CT")
    pairs = comparisons.paired_measurements(_measurements(), a, b, truth)
    # A1 only: A3 is measured on the repeat SSTR scan, not on the patient's first one
    assert pairs["lesion_id"].tolist() == ["A1"]
    row = pairs.iloc[0]
    assert (row["scan_id_a"], row["suv_max_a"], row["scan_id_b"], row["suv_max_b"]) == (
        "A-SSTR-1", 20.0, "A-FDG", 4.0)
    assert (row["site"], bool(row["malignant"]), row["tb_liver_a"]) == ("liver", True, 2.5)
    # leaving the first scan out (a repeat by date) makes the second one the SSTR scan
    later = comparisons.paired_measurements(_measurements(), a, b, truth, exclude={"A-SSTR-1"})
    assert later["lesion_id"].tolist() == ["A1", "A3"]
    assert later["suv_max_a"].tolist() == [30.0, 9.0] and later["suv_max_b"].tolist() == [4, 6]
    assert later["site"].tolist() == ["liver", "node"]
    # without a lesions table: the pairs stand, their malignancy is unknown
    bare = comparisons.paired_measurements(_measurements(), a, b)
    assert bare["lesion_id"].tolist() == ["A1"] and bare["malignant"].isna().all()
    assert comparisons.paired_measurements(_measurements().iloc[:0], a, b).empty
    # the Wilcoxon table takes them as it takes the pairs of reads
    table = comparisons.wilcoxon_table(later).set_index("unit")
    assert table.loc["lesions", "pairs"] == 2 and table.loc["lesions", "V"] == 3.0


def test_agreement_pairs_keep_the_calls_of_reads_and_the_values_of_measurements():
    reads = pd.DataFrame({"patient_id": ["A", "A"], "lesion_id": ["A1", "A9"],
                          "site": ["liver", "bone"], "malignant": [True, True],
                          "call_a": ["positive", "negative"], "call_b": ["positive", "positive"],
                          "suv_max_a": [99.0, 99.0], "suv_max_b": [99.0, 99.0]})
    measured = comparisons.paired_measurements(
        _measurements(), ("DOTATATE", "PET/CT"), ("FDG", "PET/CT"), exclude={"A-SSTR-1"})
    both = comparisons.agreement_pairs(reads, measured).set_index("lesion_id")
    assert both.index.tolist() == ["A1", "A3", "A9"]
    assert both.loc["A1", ["call_a", "suv_max_a"]].tolist() == ["positive", 30.0]
    assert pd.isna(both.loc["A3", "call_a"]) and both.loc["A3", "suv_max_b"] == 6.0
    assert both.loc["A9", "site"] == "bone" and pd.isna(both.loc["A9", "suv_max_a"])
    assert both.loc["A1", "site"] == "liver"  # from the reads when the lesions table is absent
    only_values = comparisons.agreement_pairs(pd.DataFrame(), measured)
    assert only_values["lesion_id"].tolist() == ["A1", "A3"] and only_values["call_a"].isna().all()


# --------------------------------------------------------------------------------------------
# Wilcoxon table
# --------------------------------------------------------------------------------------------


def _uptake_pairs() -> pd.DataFrame:
    """Paired SUVmax of 13 lesions in 7 patients; one lesion lacks its FDG value."""
    patient = ["P1", "P1", "P2", "P3", "P3", "P3", "P4", "P5", "P5", "P6", "P7", "P7", "P7"]
    sstr = [12.0, 8.5, 20.1, 6.3, 14.2, 9.9, 3.1, 25.0, 17.7, 7.4, 11.8, 5.5, 30.2]
    fdg = [4.1, 5.2, 3.3, 7.9, 5.0, np.nan, 6.0, 2.2, 4.4, 3.7, 9.6, 6.1, 8.8]
    return pd.DataFrame({"patient_id": patient, "lesion_id": [f"L{i}" for i in range(13)],
                         "suv_max_a": sstr, "suv_max_b": fdg})


def _hand_wilcoxon(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """R's V (sum of the ranks of positive differences), the exact p and Hodges-Lehmann."""
    d = x - y
    ranks = stats.rankdata(np.abs(d))
    walsh = [(d[i] + d[j]) / 2 for i in range(d.size) for j in range(i, d.size)]
    p = stats.wilcoxon(x, y, method="exact").pvalue
    return float(ranks[d > 0].sum()), float(p), float(np.median(walsh))


def test_wilcoxon_table_equals_scipy_over_patients_and_lesions():
    pairs = _uptake_pairs()
    table = comparisons.wilcoxon_table(pairs).set_index("unit")
    both = pairs.dropna()
    medians = both.groupby("patient_id")[["suv_max_a", "suv_max_b"]].median()
    for unit, data in (("patients (median per patient)", medians), ("lesions", both)):
        v, p, hl = _hand_wilcoxon(data["suv_max_a"].to_numpy(), data["suv_max_b"].to_numpy())
        row = table.loc[unit]
        assert row["pairs"] == len(data)
        assert row["V"] == v
        assert row["p"] == pytest.approx(p, rel=1e-12)
        assert row["hodges_lehmann_estimate"] == pytest.approx(hl, rel=1e-12)
        assert row["lower"] < row["hodges_lehmann_estimate"] < row["upper"]
        assert "exact" in row["method"]
    assert table.loc["lesions", "pairs"] == 12  # the lesion without FDG is left out
    assert table.loc["patients (median per patient)", "note"].startswith("primary")


def test_wilcoxon_table_keeps_a_row_when_the_test_cannot_run():
    one = _uptake_pairs().iloc[:2]  # two lesions of one patient
    table = comparisons.wilcoxon_table(one, min_pairs=2).set_index("unit")
    patients = table.loc["patients (median per patient)"]
    assert patients["pairs"] == 1 and np.isnan(patients["p"])
    assert "not tested: the test needs at least 2 pair(s), there are 1" in patients["note"]
    assert table.loc["lesions", "p"] == pytest.approx(0.5)  # 2 positive differences, exact
    zeros = pd.DataFrame({"patient_id": ["A", "B"], "suv_max_a": [2.0, 3.0],
                          "suv_max_b": [2.0, 3.0]})
    table = comparisons.wilcoxon_table(zeros).set_index("unit")
    assert "all 2 differences are zero" in table.loc["lesions", "note"]
    assert np.isnan(table.loc["lesions", "V"])
    empty = comparisons.wilcoxon_table(pd.DataFrame())
    assert empty["pairs"].tolist() == [0, 0]
    assert empty["note"].str.contains("there are 0").all()


def test_paired_long_puts_both_sides_under_one_column():
    long = comparisons.paired_long(_uptake_pairs(), "suv_max", ("DOTATATE", "FDG"))
    assert len(long) == 24
    assert long.groupby("tracer")["value"].sum().to_dict() == pytest.approx(
        {"DOTATATE": _uptake_pairs().dropna()["suv_max_a"].sum(),
         "FDG": _uptake_pairs().dropna()["suv_max_b"].sum()})
    assert comparisons.paired_long(pd.DataFrame(), "suv_max", ("a", "b")).empty


# --------------------------------------------------------------------------------------------
# detection table
# --------------------------------------------------------------------------------------------


def test_detection_table_names_the_tracers_and_counts_each_unit():
    lesion_pairs = pd.DataFrame({
        "patient_id": ["A", "A", "B", "B", "C", "D"],
        "malignant": [True, True, True, False, True, True],
        "test_a": [True, True, False, True, True, True],
        "test_b": [False, True, False, False, False, pd.NA],
    }).astype({"test_b": "boolean"})
    patient_pairs = pd.DataFrame({"patient_id": ["A", "B", "C"],
                                  "disease_present": [True, True, pd.NA],
                                  "test_a": [True, True, True], "test_b": [True, False, False]})
    sstr, spect = ScanType("DOTATATE", "PET/CT"), ScanType("HYNIC-TOC", "SPECT/CT")
    tests, diff = comparisons.detection_table(lesion_pairs, sstr, spect,
                                              patient_pairs=patient_pairs)
    lesions = tests[tests.unit == "lesions"].set_index("method")
    assert list(lesions.index) == ["exact", "obuchowski"]
    # malignant pairs with both results: A1 (a only), A2 (both), B1 (neither), C1 (a only)
    assert lesions.loc["exact", ["dotatate_only", "hynic_only", "both", "neither"]].tolist() == [
        2, 0, 1, 1]
    assert set(tests["a"]) == {"DOTATATE PET/CT"} and set(tests["b"]) == {"HYNIC-TOC SPECT/CT"}
    patients = tests[tests.unit == "patients"]
    assert patients["method"].tolist() == ["exact"]
    assert patients[["dotatate_only", "both", "units"]].iloc[0].tolist() == [1, 1, 2]
    sens = diff[(diff.unit == "lesions") & (diff.measure == "sensitivity")].iloc[0]
    assert sens["difference"] == pytest.approx(3 / 4 - 1 / 4)
    # no patient pair with a known truth: a row that says so, not an error
    unknown = patient_pairs.assign(disease_present=pd.NA)
    tests, diff = comparisons.detection_table(lesion_pairs, sstr, spect, patient_pairs=unknown)
    row = tests[tests.unit == "patients"].iloc[0]
    assert row["units"] == 0 and np.isnan(row["p"])
    assert row["note"] == "not tested: no patient pair has both results and a known disease present"
    assert set(diff["unit"]) == {"lesions"}
    # one tracer on two modalities: the columns cannot be named by tracer
    same, _ = comparisons.detection_table(lesion_pairs, sstr, ScanType("DOTATATE", "PET/MR"))
    assert {"a_only", "b_only"} <= set(same.columns)


# --------------------------------------------------------------------------------------------
# PET/MR versus PET/CT agreement
# --------------------------------------------------------------------------------------------


def _agreement_pairs() -> pd.DataFrame:
    site = ["liver", "liver", "bone_spine", "lymph_node", "bone_pelvis", "liver", None,
            "pancreas"]
    mr = [10.0, 6.0, 4.0, 12.0, 3.0, 8.0, 5.0, 15.0]
    ct = [11.0, 5.5, 5.1, 12.5, 3.9, 7.0, 5.5, 14.0]
    calls_a = ["positive", "positive", "negative", "positive", "equivocal", "positive",
               "negative", "positive"]
    calls_b = ["positive", "negative", "positive", "positive", "equivocal", "positive",
               "negative", "positive"]
    return pd.DataFrame({"patient_id": list("AABBCCDD"), "lesion_id": [f"L{i}" for i in range(8)],
                         "site": site, "call_a": calls_a, "call_b": calls_b, "suv_max_a": mr,
                         "suv_max_b": ct})


def _hand_kappa(a: list[str], b: list[str]) -> float:
    cats = sorted(set(a) | set(b))
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    pe = sum((a.count(c) / n) * (b.count(c) / n) for c in cats)
    return (po - pe) / (1 - pe)


def _hand_icc_a1(x: np.ndarray) -> float:
    """McGraw & Wong ICC(A,1) from the two-way ANOVA mean squares."""
    n, k = x.shape
    grand = x.mean()
    msr = k * ((x.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    resid = x - x.mean(axis=1, keepdims=True) - x.mean(axis=0, keepdims=True) + grand
    mse = (resid ** 2).sum() / ((n - 1) * (k - 1))
    return (msr - mse) / (msr + (k - 1) * mse + k / n * (msc - mse))


def test_modality_agreement_equals_hand_computations():
    pairs = _agreement_pairs()
    result = comparisons.modality_agreement(pairs, ("PET/MR", "PET/CT"))
    table = result.table.set_index("lesions")
    assert list(table.index) == ["all lesions", "bone lesions", "other lesions"]
    row = table.loc["all lesions"]
    assert (row["n_calls"], row["n"]) == (8, 8)
    assert row["kappa"] == pytest.approx(_hand_kappa(list(pairs.call_a), list(pairs.call_b)))
    logs = np.log(pairs.suv_max_a / pairs.suv_max_b)
    z = stats.norm.ppf(0.975)
    assert row["ratio_bias"] == pytest.approx(np.exp(logs.mean()))
    assert row["ratio_loa_lower"] == pytest.approx(np.exp(logs.mean() - z * logs.std(ddof=1)))
    assert row["ratio_loa_upper"] == pytest.approx(np.exp(logs.mean() + z * logs.std(ddof=1)))
    values = pairs[["suv_max_a", "suv_max_b"]].to_numpy()
    assert row["icc_a1"] == pytest.approx(_hand_icc_a1(values))
    # bone: 2 pairs < 3, kept with a note; the lesion without a site is in "all" only
    bone = table.loc["bone lesions"]
    assert bone["n"] == 2 and np.isnan(bone["kappa"]) and np.isnan(bone["ratio_bias"])
    assert "kappa not estimated: needs at least 3 pairs of calls, there are 2" in bone["note"]
    assert "need at least 3 pairs with suv_max on both, there are 2" in bone["note"]
    assert "1 lesion pair(s) without a site left out" in bone["note"]
    other = table.loc["other lesions"]
    assert other["n"] == 5
    other_pairs = pairs[pairs.site.notna() & ~pairs.site.fillna("").str.startswith("bone")]
    assert other["ratio_bias"] == pytest.approx(
        np.exp(np.log(other_pairs.suv_max_a / other_pairs.suv_max_b).mean()))
    fig = result.figure
    assert fig["label_a"] == "PET/MR" and fig["ratio"] is True and len(fig["a"]) == 8
    assert fig["bias"] == pytest.approx(row["ratio_bias"])


def test_modality_agreement_degenerate_inputs():
    pairs = _agreement_pairs()
    strict = comparisons.modality_agreement(pairs, ("PET/MR", "PET/CT"), min_pairs=9)
    assert strict.figure is None
    assert strict.table["note"].str.contains("needs at least 9 pairs").all()
    with pytest.raises(ValueError, match="at least 3"):
        comparisons.modality_agreement(pairs, ("PET/MR", "PET/CT"), min_pairs=2)
    # reads but no measurements: kappa is still estimated
    unmeasured = pairs.assign(suv_max_a=np.nan)
    result = comparisons.modality_agreement(unmeasured, ("PET/MR", "PET/CT"))
    row = result.table.set_index("lesions").loc["all lesions"]
    assert row["n"] == 0 and not np.isnan(row["kappa"]) and result.figure is None
    # identical values: Bland-Altman is defined (no spread), the ICC is not: the row says so
    same = pairs.assign(suv_max_b=pairs["suv_max_a"])
    row = comparisons.modality_agreement(same, ("PET/MR", "PET/CT")).table.iloc[0]
    assert row["ratio_bias"] == pytest.approx(1.0) and np.isnan(row["icc_a1"])
    assert "ICC not estimated: no residual variation" in row["note"]
