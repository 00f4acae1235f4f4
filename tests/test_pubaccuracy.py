"""Accuracy tables as a journal prints them: hand-made tidy frames, exact expected strings."""

from __future__ import annotations

import pandas as pd

from nethelpers.pubaccuracy import accuracy_cell, accuracy_table
from nethelpers.pubformat import pub_table
from nethelpers.pubhtml import to_html

NAN = float("nan")


def _rows(scan, measures, counts, extra=None):
    tp, fp, fn, tn = counts
    rows = []
    for measure, est, low, high, num, den, note in measures:
        rows.append({**(extra or {}), "tracer": scan[0], "modality": scan[1],
                     "measure": measure, "estimate": est, "lower": low, "upper": high,
                     "method": "wilson", "numerator": num, "denominator": den, "note": note,
                     "tp": tp, "fp": fp, "fn": fn, "tn": tn, "n_excluded": 0,
                     "n_no_reference": 0})
    return rows


def test_patient_level_one_row_per_scan_type_counts_once_method_in_a_footnote():
    frame = pd.DataFrame(
        _rows(("DOTATATE", "PET/CT"), [
            ("sensitivity", 14 / 17, 0.5897, 0.9381, 14, 17, ""),
            ("specificity", 5 / 6, 0.4365, 0.9699, 5, 6, ""),
            ("lr_positive", 4.9412, 0.8, 30.2, NAN, NAN, "")], (14, 1, 3, 5))
        + _rows(("FDG", "PET/CT"), [
            ("sensitivity", 9 / 17, 0.3096, 0.7383, 9, 17, ""),
            ("specificity", NAN, NAN, NAN, 0, 0, "0/0: not estimable"),
            ("lr_positive", NAN, NAN, NAN, NAN, NAN, "0/0: not estimable")], (9, 0, 8, 0)))
    frame.loc[frame["measure"] == "lr_positive", "method"] = "log"
    frame.loc[frame["tracer"] == "FDG", "n_excluded"] = 2
    table = accuracy_table(frame, caption="Patient level", ratios=True)
    assert table.caption == "Patient level"
    assert list(table.frame.columns) == ["Scan type", "TP", "FP", "FN", "TN", "Sensitivity",
                                         "Specificity", "LR+"]
    assert table.frame.values.tolist() == [
        ["DOTATATE PET/CT", "14", "1", "3", "5", "0.82 (0.59–0.94) 14/17",
         "0.83 (0.44–0.97) 5/6", "4.9 (0.80–30)"],
        ["FDG PET/CT", "9", "0", "8", "0", "0.53 (0.31–0.74) 9/17", "–ᵃ", "–ᵃ"]]
    assert table.footnotes == [
        "Proportions with their 95% CI (Wilson) and numerator/denominator.",
        "LR+, LR− and DOR with their 95% CI (log).",
        "ᵃ 0/0: not estimable",
        "Equivocal calls excluded: FDG PET/CT 2."]
    assert table.numeric == [False, True, True, True, True, True, True, True]


def test_lesion_level_shows_the_cluster_adjusted_interval_and_says_so():
    rows = _rows(("DOTATATE", "PET/MR"), [
        ("sensitivity", 8 / 9, 0.5650, 0.9801, 8, 9, "design effect 0.7778 < 1 truncated to 1 "
         "for the effective-n interval"),
        ("specificity", 0.25, 0.0456, 0.6994, 1, 4, "design effect 0.6 < 1 truncated to 1 for "
         "the effective-n interval")], (8, 3, 1, 1))
    frame = pd.DataFrame(rows).assign(cluster_lower=[0.5, 0.01], cluster_upper=[0.99, 0.81],
                                      cluster_method="wilson-effective-n", n_clusters=3)
    table = accuracy_table(frame)
    assert table.frame.values.tolist() == [
        ["DOTATATE PET/MR", "8", "3", "1", "1", "0.89 (0.50–0.99) 8/9ᵃ",
         "0.25 (0.01–0.81) 1/4ᵃ"]]     # the clustered bounds, not 0.57–0.98 / 0.05–0.70
    assert table.footnotes == [
        "Lesion level: 95% CI adjusted for the clustering of lesions within patients (Wilson "
        "(effective n)); the interval that treats lesions as independent is in the CSV table.",
        "ᵃ design effect below 1 truncated to 1 for the cluster-adjusted (effective-n) "
        "interval"]


def test_group_and_reader_keys_stay_columns_in_their_order():
    frame = pd.DataFrame(
        _rows(("DOTATATE", "PET/CT"), [("sensitivity", 1.0, 0.2065, 1.0, 1, 1, "")],
              (1, 0, 0, 0), {"reader": "R2", "unit": "patient"})
        + _rows(("DOTATATE", "PET/CT"), [("sensitivity", 0.5, 0.0945, 0.9055, 1, 2, "")],
                (1, 0, 1, 0), {"reader": "R2", "unit": "lesion"}))
    table = accuracy_table(frame, measures=["sensitivity", "specificity"])
    assert list(table.frame.columns) == ["Reader", "Level", "Scan type", "TP", "FP", "FN", "TN",
                                         "Sensitivity"]
    assert table.frame.values.tolist() == [
        ["R2", "patient", "DOTATATE PET/CT", "1", "0", "0", "0", "1.00 (0.21–1.00) 1/1"],
        ["R2", "lesion", "DOTATATE PET/CT", "1", "0", "1", "0", "0.50 (0.09–0.91) 1/2"]]


def test_accuracy_cell_and_its_html_wrap_only_before_the_counts():
    assert accuracy_cell(0.0, 0.0, 0.7935, 0, 1) == "0.00 (0.00–0.79) 0/1"
    assert accuracy_cell(229.513, 14.2, 3710.0, kind="lr") == "230 (14–3710)"
    assert accuracy_cell(NAN, NAN, NAN, 0, 0) == ""
    html = to_html(accuracy_table(pd.DataFrame(_rows(
        ("FDG", "PET/CT"), [("sensitivity", 9 / 17, 0.3096, 0.7383, 9, 17, "")], (9, 0, 8, 0)))))
    assert ('<td class="num split"><span class="nw">0.53 (0.31–0.74)</span> '
            '<span class="nw">9/17</span></td>') in html


def test_a_final_diagnosis_none_reads_no_disease():
    table = pub_table(pd.DataFrame({"final_diagnosis": ["TIO", "none"], "n_patients": [1, 2]}))
    assert table.frame.values.tolist() == [["TIO", "1"], ["No disease", "2"]]


def test_a_bound_of_one_keeps_the_decimals_of_its_pair():
    frame = pd.DataFrame({"measure": ["SUVmax"], "auc": [0.8397], "delong_lower": [0.6724],
                          "delong_upper": [1.0]})
    assert pub_table(frame).frame.values.tolist() == [["SUVmax", "0.84", "0.67–1.00"]]
