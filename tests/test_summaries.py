"""Summary tables of the quantification: hand-made inputs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethelpers import summaries
from nethelpers.tables import NOT_RECORDED
from nethelpers.vocabulary import Vocabulary


def _lesions():
    return pd.DataFrame({
        "patient_id": ["P1", "P1", "P2", "P2", "P3", "P4"],
        "tracer": ["DOTATATE"] * 5 + ["FDG"],
        "modality": ["PET/CT"] * 6,
        "group": ["prrt_net", "prrt_net", "prrt_net", "prrt_net", "prrt_net", "prrt_net"],
        "malignant": [True, True, True, False, True, True],
        "krenning": pd.array([3, 4, 2, 1, pd.NA, pd.NA], dtype="Int64"),
        "site": ["liver", "liver", "bone", "bone", "node", "node"],
        "suv_max": [10.0, 20.0, 6.0, 2.0, 5.0, 8.0],
        "suv_peak": [8.0, 15.0, 5.0, 1.5, 4.0, 7.0],
        "tb_liver": [1.2, 2.5, 0.8, 0.3, np.nan, 3.0],
    })


def test_prrt_eligibility_rule():
    out = summaries.prrt_eligibility(_lesions()).set_index("patient_id")
    # P1: both malignant lesions Krenning >= 3; P2: its malignant lesion is 2 (the benign 1
    # does not count); P3: no scored lesion; P4: FDG only, not on the DOTATATE scan
    assert out["eligible"].to_dict() == {"P1": "yes", "P2": "no", "P3": "not assessable"}
    assert out.loc["P1", "n_krenning_3_4"] == 2 and out.loc["P2", "min_krenning"] == 2


def test_krenning_distribution_counts_and_percentages():
    out = summaries.krenning_distribution(_lesions())
    counts = out.set_index("krenning")["n_lesions"].to_dict()
    assert counts == {"1": 1, "2": 1, "3": 1, "4": 1, "not scored": 1}
    assert out["pct"].sum() == 100.0


def test_uptake_summary_median_and_iqr():
    out = summaries.uptake_summary(_lesions(), ["tracer", "site"]).set_index(["tracer", "site"])
    liver = out.loc[("DOTATATE", "liver")]
    assert liver["n_lesions"] == 2 and liver["n_patients"] == 1
    assert liver["suv_max_median"] == 15.0
    assert liver["suv_max_q1"] == 12.5 and liver["suv_max_q3"] == 17.5   # numpy linear
    node = out.loc[("DOTATATE", "node")]
    assert np.isnan(node["tb_liver_median"])                             # NaN, not 0


def test_liver_reference_and_qc_summaries():
    m = pd.DataFrame({"roi": ["liver"] * 3 + ["lesion"], "tracer": ["FDG"] * 4,
                      "modality": ["PET/CT"] * 4, "suv_mean": [2.0, 2.2, 2.4, 9.0]})
    liver = summaries.liver_reference_summary(m).iloc[0]
    assert (liver["n"], liver["median"], liver["min"], liver["max"]) == (3, 2.2, 2.0, 2.4)
    assert liver["cv_pct"] == pytest.approx(np.std([2.0, 2.2, 2.4], ddof=1) / 2.2 * 100, rel=1e-12)
    qc = pd.DataFrame({"scan_id": ["A", "B", "C"], "status": ["ok", "failed", "ok"],
                       "reason": ["", "SuvError: no dose", ""]})
    out = summaries.qc_summary(qc).set_index("status")
    assert out.loc["ok", "n_scans"] == 2 and out.loc["failed", "reasons"] == "B: SuvError: no dose"


# --------------------------------------------------------------------------------------------
# the study's vocabulary, missing groups, empty inputs
# --------------------------------------------------------------------------------------------

REGISTRY = Vocabulary.model_validate({
    "groups": [{"code": "suspected_tio", "tio": True},
               {"code": "registry_net", "label": "Registry NET", "prrt": True},
               {"code": "prrt_net", "label": "not a PRRT group here"}],
    "tracers": [{"name": "DOTATOC", "family": "sstr"}, {"name": "FDG", "family": "fdg"},
                {"name": "DOTATATE", "family": "sstr"}],
    "modalities": [{"name": "PET/CT", "system": "PET"}, {"name": "PET/MR", "system": "PET"}],
})


def _registry_lesions():
    return pd.DataFrame({
        "patient_id": ["Q1", "Q1", "Q1", "Q2", "Q2", "Q3", "Q4"],
        "tracer": ["DOTATOC", "DOTATOC", "DOTATOC", "DOTATOC", "FDG", "DOTATOC", "DOTATATE"],
        "modality": ["PET/MR", "PET/CT", "PET/CT", "PET/MR", "PET/CT", "PET/CT", "PET/CT"],
        "group": ["registry_net"] * 5 + ["prrt_net", "registry_net"],
        "malignant": [True, True, True, True, True, True, True],
        "krenning": pd.array([2, 3, 4, 4, 1, 2, 3], dtype="Int64"),
    })


def test_prrt_eligibility_follows_the_vocabularys_groups_and_sstr_tracers():
    out = summaries.prrt_eligibility(_registry_lesions(), vocabulary=REGISTRY)
    out = out.set_index("patient_id")
    # Q1: its DOTATOC PET/CT (3, 4; PET/CT before PET/MR) -> yes, the PET/MR 2 is not used;
    # Q2: only a DOTATOC PET/MR (4) -> yes; Q3: prrt_net is no PRRT group in this vocabulary;
    # Q4: DOTATATE is an SSTR tracer of this vocabulary too
    assert out["eligible"].to_dict() == {"Q1": "yes", "Q2": "yes", "Q4": "yes"}
    assert out.loc["Q1", ["tracer", "modality", "n_lesions"]].tolist() == ["DOTATOC", "PET/CT", 2]
    assert out.loc["Q2", "modality"] == "PET/MR"
    assert out.loc["Q4", "tracer"] == "DOTATATE"
    # the same lesions under the protocol's vocabulary: only prrt_net is assessed
    default = summaries.prrt_eligibility(_registry_lesions()).set_index("patient_id")
    assert default["eligible"].to_dict() == {"Q3": "no"}


def test_krenning_distribution_counts_the_vocabularys_sstr_tracers_in_its_order():
    out = summaries.krenning_distribution(_registry_lesions(), vocabulary=REGISTRY)
    assert list(dict.fromkeys(zip(out["tracer"], out["modality"], strict=True))) == [
        ("DOTATOC", "PET/CT"), ("DOTATOC", "PET/MR"), ("DOTATATE", "PET/CT")]
    assert out["n_lesions"].sum() == 6                               # the FDG lesion is not
    toc_ct = out[(out.tracer == "DOTATOC") & (out.modality == "PET/CT")]
    assert toc_ct.set_index("krenning")["n_lesions"].to_dict() == {
        "1": 0, "2": 1, "3": 1, "4": 1, "not scored": 0}
    prrt = summaries.krenning_distribution(_registry_lesions(), REGISTRY.prrt_groups, REGISTRY)
    assert prrt["n_lesions"].sum() == 5                              # Q3 (prrt_net) left out


def test_lesion_measurements_count_a_missing_group_as_not_recorded():
    m = pd.DataFrame({"patient_id": ["A", "B", "B"], "scan_id": ["a", "b", "b"],
                      "tracer": ["FDG"] * 3, "modality": ["PET/CT"] * 3,
                      "roi": ["lesion", "lesion", "liver"], "lesion_id": ["A-L1", "B-L1", ""],
                      "suv_max": [4.0, 6.0, 2.0], "suv_peak": [3.0, 5.0, 2.0],
                      "tb_liver": [2.0, np.nan, np.nan]})
    patients = pd.DataFrame({"patient_id": ["A", "B"],
                             "group": pd.Categorical(["registry_net", None],
                                                     categories=REGISTRY.group_codes)})
    lesions = pd.DataFrame({"patient_id": ["A"], "lesion_id": ["A-L1"],
                            "site": pd.array([pd.NA], dtype="string"),
                            "truth": ["malignant"], "malignant": [True]})
    rows = summaries.lesion_measurements(m, lesions, patients)
    assert rows["group"].tolist() == ["registry_net", NOT_RECORDED]
    assert rows["site"].tolist() == ["unknown", "unknown"]           # no site; no lesion row
    assert rows["truth"].isna().tolist() == [False, True]
    by_group = summaries.uptake_summary(rows, ["group"], vocabulary=REGISTRY)
    assert by_group["group"].tolist() == ["registry_net", NOT_RECORDED]
    assert by_group["suv_max_median"].tolist() == [4.0, 6.0]


def test_uptake_summary_in_vocabulary_order_and_empty_input():
    rows = _lesions().assign(tracer=["FDG", "DOTATATE", "FDG", "DOTATATE", "FDG", "DOTATATE"],
                             modality=["PET/MR", "PET/CT"] * 3)
    out = summaries.uptake_summary(rows, ["tracer", "modality"], vocabulary=REGISTRY)
    assert list(zip(out["tracer"], out["modality"], strict=True)) == [
        ("FDG", "PET/MR"), ("DOTATATE", "PET/CT")]                   # REGISTRY: FDG first
    assert summaries.uptake_summary(rows, ["tracer"])["tracer"].tolist() == ["DOTATATE", "FDG"]
    empty = summaries.uptake_summary(rows.iloc[0:0], ["tracer", "site"])
    assert empty.empty and list(empty.columns[:4]) == ["tracer", "site", "n_lesions",
                                                       "n_patients"]


def test_netpet_distribution_with_a_missing_group():
    netpet = pd.DataFrame({"patient_id": ["A", "B", "C"], "netpet": ["P1", None, "P1"],
                           "reason": ["", "no liver reference", ""]})
    patients = pd.DataFrame({"patient_id": ["A", "B", "C"],
                             "group": pd.Categorical(["registry_net", None, "suspected_tio"],
                                                     categories=REGISTRY.group_codes)})
    out = summaries.netpet_distribution(netpet, patients, REGISTRY)
    assert out.values.tolist() == [["suspected_tio", "P1", 1], ["registry_net", "P1", 1],
                                   [NOT_RECORDED, "not graded: no liver reference", 1]]


def test_dual_tracer_patients_need_a_measured_fdg_and_sstr_pet():
    m = pd.DataFrame({"patient_id": ["A", "A", "A", "B", "C", "C"],
                      "scan_id": ["a1", "a1", "a2", "b1", "c1", "c2"],
                      "tracer": ["DOTATOC", "DOTATOC", "FDG", "FDG", "FDG", "HYNIC-TOC"],
                      "modality": ["PET/MR", "PET/MR", "PET/CT", "PET/CT", "PET/CT",
                                   "SPECT/CT"]})
    out = summaries.dual_tracer_patients(m, REGISTRY)
    assert out.values.tolist() == [["A", 1, 1]]                    # C's SSTR scan is SPECT
    assert summaries.dual_tracer_patients(m.iloc[0:0]).empty


def test_liver_reference_summary_without_a_liver_voi_is_empty():
    m = pd.DataFrame({"roi": ["lesion", "spleen"], "tracer": ["FDG"] * 2,
                      "modality": ["PET/CT"] * 2, "suv_mean": [9.0, 3.0]})
    out = summaries.liver_reference_summary(m, REGISTRY)
    assert out.empty and list(out.columns) == ["tracer", "modality", "n", "median", "q1", "q3",
                                               "min", "max", "cv_pct"]


def test_estimate_text_prints_the_interval_or_why_there_is_none():
    from nethelpers.readings import accuracy_by

    results = pd.DataFrame({"scan": ["S"] * 5,
                            "test": pd.array([True, False, True, False, True], dtype="boolean"),
                            "truth": pd.array([False] * 5, dtype="boolean")})
    rows = accuracy_by(results, ["scan"], test="test", truth="truth")
    table = {r.measure: r for r in rows.itertuples(index=False)}  # as the notebook reads them
    assert summaries.estimate_text(table["sensitivity"]) == (
        "not estimable (no patient with the disease)")
    # 2 of 5 negative: 0.40, Wilson interval 0.1176-0.7693 (statsmodels proportion_confint)
    assert summaries.estimate_text(table["specificity"]) == "0.40 (0.12–0.77)"
    assert summaries.estimate_text(table["lr_positive"], unit="lesion") == (
        "not estimable (not enough data)")
    row = pd.Series({"measure": "specificity", "estimate": np.nan, "lower": np.nan,
                     "upper": np.nan})
    assert summaries.estimate_text(row, unit="lesion") == (
        "not estimable (no lesion without the disease)")
    assert summaries.estimate_text(pd.Series({"measure": "ppv", "estimate": 0.5,
                                              "lower": np.nan, "upper": np.nan})) == (
        "0.50 (no interval)")
