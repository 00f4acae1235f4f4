"""The publication-table formatter against hand-written expected strings."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from nethelpers.pubformat import pub_table
from nethelpers.pubnumbers import column_label, fmt_number, fmt_p


@pytest.mark.parametrize(("p", "text"), [
    (2.523673e-28, "< 0.001"), (0.000999, "< 0.001"), (0.001, "0.001"), (0.0043, "0.004"),
    (0.05370739607747252, "0.054"), (0.0995, "0.100"), (0.1, "0.10"), (0.234, "0.23"),
    (0.994, "> 0.99"), (1.0, "> 0.99"), (float("nan"), ""), (None, ""),
])
def test_p_values(p, text):
    assert fmt_p(p) == text


@pytest.mark.parametrize(("value", "kind", "text"), [
    (229.513, "lr", "230"), (22.94, "lr", "23"), (5.6667, "lr", "5.7"), (0.01389, "lr", "0.014"),
    (0.79166, "proportion", "0.79"), (1.0, "proportion", "1.00"), (12.0, "count", "12"),
    (129.4514, "neff", "129.5"), (7.3534, "suv", "7.35"), (25.3696, "suv", "25.4"),
    (0.7542, "coefficient", "0.75"), (-0.3333, "proportion", "\u22120.33"),
    (-0.0001, "proportion", "0.00"), (53.846, "percent", "53.8"), (70.0, "statistic", "70"),
    (3.7217, "statistic", "3.72"), (True, "other", "yes"), (np.inf, "other", ""),
])
def test_numbers_by_quantity(value, kind, text):
    assert fmt_number(value, kind) == text


def test_percent_on_request():
    assert fmt_number(0.79166, "proportion", percent=True) == "79.2"


@pytest.mark.parametrize(("name", "label"), [
    ("ppv", "PPV"), ("lr_positive", "LR+"), ("lr_negative", "LR−"), ("suv_max", "SUVmax"),
    ("n_lesions", "Lesions"), ("tb_liver", "T/B (liver)"), ("fdg_only", "FDG only"),
    ("Characteristic", "Characteristic"), ("kappa", "κ"), ("sensitivity", "Sensitivity"),
])
def test_column_labels(name, label):
    assert column_label(name) == label


def accuracy() -> pd.DataFrame:
    return pd.DataFrame({
        "measure": ["sensitivity", "lr_positive", "specificity"],
        "estimate": [0.7916666, 229.513, np.nan],
        "lower": [0.7386677, 31.9, np.nan],
        "upper": [0.8362992, 1651.2, np.nan],
        "cluster_lower": [0.713806, np.nan, np.nan],
        "cluster_upper": [0.852715, np.nan, np.nan],
        "method": ["wilson", "log (Simel 1991)", "wilson"],
        "numerator": [209, np.nan, 0],
        "denominator": [264, np.nan, 0],
        "note": ["", "", "no reference-negative lesion"],
    }, index=[5, 6, 7])


def test_estimate_and_intervals_merge():
    table = pub_table(accuracy(), caption="Table 2")
    assert list(table.frame.columns) == ["Measure", "Estimate (95% CI)",
                                         "95% CI (cluster-adjusted)", "Method", "Numerator",
                                         "Denominator"]
    assert table.frame.iloc[0].tolist() == ["Sensitivity", "0.79 (0.74–0.84)", "0.71–0.85",
                                            "Wilson", "209", "264"]
    assert table.frame.iloc[1, :2].tolist() == ["LR+", "230 (32–1651)"]
    assert table.caption == "Table 2"


def test_missing_values_are_dashes_with_the_rows_note():
    table = pub_table(accuracy())
    row = table.frame.iloc[2].tolist()
    assert row == ["Specificity", "–ᵃ", "–ᵃ", "Wilson", "0", "0"]
    assert table.footnotes[0] == "ᵃ no reference-negative lesion"
    # the LR+ row has no note: its dashes are "not applicable" (counts) and "not estimable"
    assert table.frame.iloc[1, 2] == "–"
    assert "– not estimable" in table.footnotes and "– not applicable" in table.footnotes
    assert not table.frame.isin(["nan", "NaN", "None"]).any().any()


def test_no_note_column_gives_the_legend_only():
    frame = pd.DataFrame({"group": ["a", None], "auc": [0.8123, np.nan],
                          "auc_lower": [0.7, np.nan], "auc_upper": [0.9, np.nan]})
    table = pub_table(frame)
    assert table.frame.values.tolist() == [["a", "0.81 (0.70–0.90)"], ["–", "–"]]
    assert table.footnotes == ["– not applicable", "– not estimable"]


def test_negative_intervals_use_to():
    frame = pd.DataFrame({"measure": ["specificity"], "difference": [-0.3333],
                          "lower": [-0.5149], "upper": [-0.1518], "level": [0.95]})
    table = pub_table(frame)
    assert table.frame.iloc[0].tolist() == ["Specificity", "−0.33 (−0.51 to −0.15)"]
    assert table.frame.columns[1] == "Difference (95% CI)"


def test_median_iqr_and_prefixed_owner():
    frame = pd.DataFrame({"suv_max_median": [18.0114], "suv_max_q1": [8.5216],
                          "suv_max_q3": [21.4794], "icc_a1": [0.98036], "icc_lower": [0.96666],
                          "icc_upper": [0.98756], "n_lesions": [12.0]})
    table = pub_table(frame)
    assert table.frame.iloc[0].tolist() == ["18.0 [8.5–21.5]", "0.98 (0.97–0.99)", "12"]
    assert list(table.frame.columns) == ["SUVmax, median [IQR]", "ICC(A,1) (95% CI)", "Lesions"]


def test_columns_labels_decimals_and_notes():
    frame = pd.DataFrame({"tracer": ["FDG"], "p": [0.0537], "statistic": [3.72177],
                          "hodges_lehmann_estimate": [10.8107], "lower": [7.03],
                          "upper": [13.74]})
    table = pub_table(frame, columns=["tracer", "hodges_lehmann_estimate", "p"],
                      labels={"tracer": "Tracer used"}, decimals={"hodges_lehmann_estimate": 1},
                      notes=["Wilcoxon signed rank test."])
    assert list(table.frame.columns) == ["Tracer used", "Hodges–Lehmann estimate (95% CI)", "p"]
    assert table.frame.iloc[0].tolist() == ["FDG", "10.8 (7.0–13.7)", "0.054"]
    assert table.footnotes == ["Wilcoxon signed rank test."]


def test_index_dropped_unless_named():
    frame = pd.DataFrame({"n": [1, 2]}, index=["x", "y"])
    assert pub_table(frame).frame.columns.tolist() == ["n"]
    named = frame.rename_axis("grade")
    assert pub_table(named).frame.values.tolist() == [["x", "1"], ["y", "2"]]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.classes += [v for k, v in attrs if k == "class"]

    def handle_data(self, data):
        self.text.append(data)


def test_html_has_caption_footnotes_and_break_points():
    long_text = "lesions/" + "very_long_code_" * 4 + "end"
    frame = pd.DataFrame({"site": [long_text], "estimate": [0.5], "lower": [0.4],
                          "upper": [0.6], "note": ["x & y"]})
    html = pub_table(frame, caption="Cap <1>")._repr_html_()
    parser = _Cells()
    parser.feed(html)
    assert {"caption", "thead", "tbody", "ul", "li"} <= set(parser.tags)
    assert {"pub-table", "pub-caption", "pub-footnotes", "num", "text"} <= set(parser.classes)
    assert "Cap &lt;1&gt;" in html and "x &amp; y" in html
    assert "very_<wbr>long_<wbr>" in html and "…" not in html
    assert "".join(parser.text).count(long_text) == 1       # whole, never cut
    assert "<th></th>" not in html                          # no index header


def test_whole_frame_is_strings_and_sizes_match():
    table = pub_table(accuracy())
    assert table.frame.map(type).eq(str).all().all()
    assert len(table.numeric) == table.frame.shape[1]
    assert math.isclose(len(table.frame), 3)


def test_labels_that_collide_stay_apart():
    frame = pd.DataFrame({"status": ["ok", "failed"], "n_scans": [130, 2],
                          "scans": ["", "P002-FDG-PETCT, P003-FDG-PETCT"]})
    table = pub_table(frame)
    assert list(table.frame.columns) == ["Status", "Scans", "scans"]
    assert table.frame.values.tolist() == [["ok", "130", ""],
                                           ["failed", "2", "P002-FDG-PETCT, P003-FDG-PETCT"]]


def test_long_tokens_without_separators_get_break_points():
    uid = "1" * 30 + "2" * 30
    html = pub_table(pd.DataFrame({"uid": [uid]}))._repr_html_()
    cell = html.split('<td class="num">')[-1].split("</td>")[0] if '"num"' in html else \
        html.split('<td class="text">')[-1].split("</td>")[0]
    assert cell.replace("<wbr>", "") == uid
    assert max(len(piece) for piece in cell.split("<wbr>")) <= 20


@pytest.mark.parametrize("dtype", ["string", "object", "float", "Int64"])
def test_empty_and_typed_frames(dtype):
    empty = pd.DataFrame({"lesion_id": [], "cause": []}).astype(dtype)
    table = pub_table(empty, caption="None yet")
    assert list(table.frame.columns) == ["Lesion", "Cause"] and table.frame.empty
    assert "No rows" in table._repr_html_()
    typed = pd.DataFrame({"cause": ["small lesion", None]}, dtype="string")
    assert pub_table(typed).frame["Cause"].tolist() == ["small lesion", "–"]


def test_a_greek_letter_keeps_its_case_in_a_column_label():
    from nethelpers.pubnumbers import column_label

    assert column_label("kappa_weighting") == "κ weighting"
    assert column_label("n_not_measured") == "n not measured"
