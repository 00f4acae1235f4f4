"""The methods sentences of the response analysis: parameters and report tables decide them."""

from __future__ import annotations

from nethelpers.config import params_from_dict
from nethelpers.methods import methods_paragraph
from nethelpers.methodsresponse import response_methods


def _params(**response):
    return params_from_dict({"study": {"name": "t", "data_root": "/nonexistent"},
                             "response": response})


def _tables(tmp_path, *names):
    (tmp_path / "tables").mkdir(exist_ok=True)
    for name in names:
        (tmp_path / "tables" / f"{name}.csv").write_text("a,b\n1,2\n")
    return tmp_path


def test_no_response_table_no_sentence(tmp_path):
    assert response_methods(_params(), _tables(tmp_path)) == ""
    assert "Treatment response" not in methods_paragraph(_params(), _tables(tmp_path),
                                                         versions={})


def test_rule_sets_and_thresholds_come_from_the_parameters(tmp_path):
    out = _tables(tmp_path, "response_patients")
    text = response_methods(_params(sstr_criteria="tsr", relative_change=0.25,
                                    percist_absolute_sul=0.6, absolute_change=1.5), out)
    assert "FDG response followed PERCIST 1.0" in text
    assert "1.5 × liver SULmean + 2 SD" in text
    assert "tumour-to-spleen SUVmax ratio" in text
    assert "at least 25%" in text and "0.6 SUL units" in text and "(1.5 under" in text
    assert "PET/MR" not in text and "recurrence" not in text
    assert "called positive on either scan, blind to the reference standard" in text
    assert "sensitivity analysis" in response_methods(_params(lesions="malignant"), out)
    both = response_methods(_params(), _tables(tmp_path, "response_agreement_petmr_petct",
                                               "recurrence_accuracy"))
    assert "Cohen's κ (unweighted and linearly weighted)" in both
    assert "sensitivity and specificity" in both
    assert "Treatment response" in methods_paragraph(_params(), out, versions={})


def test_without_a_folder_everything_is_described():
    text = response_methods(_params())
    assert "SUVmax of the hottest lesion" in text and "recurrence" in text
