"""Notebook 04 on the 6-patient demo report: paired accuracy and staging recounted."""

from __future__ import annotations

import pandas as pd
import pytest

from nethelpers.stats import mcnemar

pytestmark = pytest.mark.slow


def test_paired_accuracy_and_staging_recounted_from_the_pairs(demo_report, demo_study):
    tables = demo_report["out"] / "tables"
    pairs = pd.read_csv(tables / "pairs_petmr_petct.csv")
    acc = pd.read_csv(tables / "paired_accuracy_petmr_petct.csv")
    read = pairs.dropna(subset=["call_a", "call_b"])  # default rule: equivocal = negative
    mal = read[read.malignant.astype(bool)]
    lesions = acc[(acc.unit == "lesions") & (acc.measure == "sensitivity")].set_index("quantity")
    assert lesions.loc["PET/MR", "numerator"] == (mal.call_a == "positive").sum()
    assert lesions.loc["PET/CT", "denominator"] == len(mal)
    ta, tb = mal.call_a == "positive", mal.call_b == "positive"
    test = mcnemar(ta, tb, cluster=mal.patient_id)
    primary = lesions[lesions.primary & lesions.index.str.startswith("difference")].iloc[0]
    if pd.notna(test.p):
        assert primary.p == pytest.approx(test.p, rel=1e-12)
    assert {"primary", "method", "test"} <= set(acc.columns)
    # staging: every NET patient with a malignant lesion read on both DOTATATE and FDG PET/CT
    patients = pd.read_csv(demo_study / "clinical/patients.csv")
    net = set(patients.loc[patients.final_diagnosis == "NET", "patient_id"])
    fdg = pd.read_csv(tables / "pairs_dotatate_fdg.csv")
    everyone = fdg[fdg.malignant.astype(bool)]
    fdg_mal = everyone[everyone.patient_id.isin(net)]
    change = pd.read_csv(tables / "staging_change.csv")
    left = change.outcome.str.startswith("left out")
    first = change[(change.b == "FDG PET/CT") & ~left]
    assert set(first.denominator) == {fdg_mal.patient_id.nunique()}
    others = change[(change.b == "FDG PET/CT") & left]           # TIO patients, counted apart
    assert others.numerator.sum() == everyone.patient_id.nunique() - fdg_mal.patient_id.nunique()
    a_only = (fdg_mal.test_a.fillna(False).astype(bool)
              & ~fdg_mal.test_b.fillna(False).astype(bool))
    expected = a_only.groupby(fdg_mal.patient_id).any().sum()
    row = first[first.outcome.str.startswith("a lesion detected only with DOTATATE")].iloc[0]
    assert row.numerator == expected
    netpet_out = pd.read_csv(tables / "netpet_excluded.csv")
    assert set(netpet_out.final_diagnosis) <= {"TIO", "none", "not recorded"}
    page = (demo_report["out"] / "04_tracer_comparison.html").read_text()
    assert "score interval" in page and "linear" in page
