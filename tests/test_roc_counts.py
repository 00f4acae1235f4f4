"""ROC of SUVmax on a scan type with counts-only SPECT: said to be on quantitative scans only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nethelpers import rocanalysis


def _case():
    """Six SPECT lesions: P1/P2 quantitative (SUV), P3/P4 counts-only (no SUV, ratios)."""
    lesions = pd.DataFrame({
        "scan_id": ["P1-S", "P1-S", "P2-S", "P2-S", "P3-S", "P4-S"],
        "lesion_id": ["a", "b", "c", "d", "e", "f"],
        "patient_id": ["P1", "P1", "P2", "P2", "P3", "P4"],
        "tracer": "HYNIC-TOC", "modality": "SPECT/CT",
        "malignant": [True, False, True, False, True, False]})
    m = pd.DataFrame({
        "scan_id": lesions["scan_id"], "lesion_id": lesions["lesion_id"], "roi": "lesion",
        "quantity": ["SUV"] * 4 + ["counts"] * 2,
        "suv_max": [8.0, 3.0, 6.0, 4.0, np.nan, np.nan],
        "tb_liver": [1.6, 0.6, 1.2, 0.8, 1.9, 0.5], "positive": True})
    return lesions, m


def test_suvmax_roc_names_the_counts_only_lesions_it_leaves_out():
    lesions, m = _case()
    data = rocanalysis.scored_lesions(lesions, m)
    table = rocanalysis.roc_analysis(data).table.set_index("measure")
    suv, tb = table.loc["SUVmax"], table.loc["T/B liver"]
    assert (suv.n_malignant, suv.n_other, suv.n_not_measured) == (2, 2, 2)
    assert suv.auc == 1.0                                      # 8, 6 above 3, 4
    assert "quantitative scans only" in suv.note and "2 lesions on counts-only" in suv.note
    assert (tb.n_malignant, tb.n_other, tb.n_not_measured) == (3, 3, 0)
    assert "counts-only" not in str(tb.note)                   # the ratio uses every scan
    both = table.loc["SUVmax − T/B liver (DeLong)"]
    assert "2 lesions on counts-only" in both.note


def test_pet_only_scan_types_have_no_such_note():
    lesions, m = _case()
    m = m.assign(quantity="SUV", suv_max=[8.0, 3.0, 6.0, 4.0, 7.0, 2.0])
    table = rocanalysis.roc_analysis(rocanalysis.scored_lesions(lesions, m)).table
    assert not table["note"].fillna("").str.contains("counts-only").any()


def test_the_prespecified_rule_on_counts_spect_is_named_on_counts():
    lesions, m = _case()
    data = rocanalysis.scored_lesions(lesions, m)
    analysis = rocanalysis.roc_analysis(data)
    cut = rocanalysis.cutoff_table(data, "SUVmax > 1 × liver SUVmean", analysis)
    pre = cut[cut["kind"] == "pre-specified (protocol)"].iloc[0]
    assert pre["cutoff"] == ("SUVmax > 1 × liver SUVmean (counts-only SPECT: max > 1 × liver "
                             "mean counts)")
    # the counts of the rule: every lesion called positive, 3 malignant of 6
    assert (pre["tp"], pre["fp"]) == (3, 3)
    pet = rocanalysis.cutoff_table(rocanalysis.scored_lesions(lesions, m.assign(
        quantity="SUV", suv_max=[8.0, 3.0, 6.0, 4.0, 7.0, 2.0])), "SUVmax > 1 × liver SUVmean",
        analysis)
    assert pet.loc[pet["kind"] == "pre-specified (protocol)", "cutoff"].iloc[0] == (
        "SUVmax > 1 × liver SUVmean")
