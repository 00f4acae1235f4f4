"""The STARD 2015 checklist: what its texts say and how a missing file is marked."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd

from nethelpers.config import params_from_dict
from nethelpers.stard import CROSS_TAB, MISSING, STARD_ITEMS, stard_checklist

STUDY = {"study": {"name": "t", "data_root": "."}}  # the keys every study must give

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _report(tmp_path: Path, waiting: list[tuple[str, str]]) -> Path:
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables/table1.csv").write_text("x\n")
    pd.DataFrame(waiting, columns=["section", "waits_for"]).to_csv(
        tmp_path / "tables/analyses_waiting.csv", index=False)
    return tmp_path


def test_a_missing_file_of_a_waiting_section_says_what_it_waits_for(tmp_path):
    reads = ("The reads table (reads/reads.csv) is not there yet: add it with one row per "
             "scan; its path is study.tables.reads of the parameters.")
    out = _report(tmp_path, [
        ("05 · Patient-level accuracy", reads),
        ("05 · ROC of SUVmax and T/B", "Same as 05 · Patient-level accuracy above: the reads "
                                       "table (reads/reads.csv) is not there yet."),
        ("04 · SSTR SPECT versus SSTR PET", "The scans table has no SPECT scan: it needs one.")])
    table = stard_checklist(params_from_dict(STUDY), out, {})
    status = dict(zip(table["item"] + " " + table["topic"].str[:12], table["status"],
                      strict=True))
    assert status["12a Index test p"] == ("waiting: the reads table (reads/reads.csv) is not "
                                          "there yet (05 · ROC of SUVmax and T/B)")
    assert status["24 Estimates of"] == (
        "waiting: the reads table (reads/reads.csv) is not there yet (05 · Patient-level "
        "accuracy; 05 · ROC of SUVmax and T/B)")
    assert status["20 Baseline cha"] == "addressed"
    # a missing file whose sections did not wait is a failure, not a wait
    assert status["15 Indeterminat"].startswith(
        "incomplete: tables/indeterminate_results.csv, tables/index_test_flow.csv")
    # an item without named sections: every waiting section of its notebooks
    assert status["16 Missing data"].startswith("incomplete:")  # 01 and 03 do not wait


def test_without_analyses_waiting_a_missing_file_is_incomplete(tmp_path):
    (tmp_path / "tables").mkdir()
    table = stard_checklist(params_from_dict(STUDY), tmp_path, {}).set_index("item")
    report = table[table["status"] != "manuscript"]
    optional = report.loc[["21b", "22"]]   # tables of the runner, from optional data
    assert optional["status"].str.startswith("waiting: the ").all()
    assert report.drop(["21b", "22"])["status"].str.startswith("incomplete: ").all()


def test_a_file_missing_after_its_notebook_ran_to_the_end_is_not_written(tmp_path):
    # notebook 05 completed (its summary is there) but drew no ROC curve (no malignant lesion)
    out = _report(tmp_path, [])
    for name in ("accuracy_patient_level", "accuracy_lesion_level", "false_calls"):
        (out / f"tables/{name}.csv").write_text("x\n")
    (out / "figures").mkdir()
    for name in ("forest_patient_level", "forest_lesion_level"):
        (out / f"figures/{name}.png").write_bytes(b"png")
    estimates = stard_checklist(params_from_dict(STUDY), out, {}).set_index("item").loc["24"]
    assert estimates["status"].startswith("incomplete: figures/roc_*.png missing")
    (out / "tables/summary_05_diagnostic_accuracy.csv").write_text("item,value\n")
    estimates = stard_checklist(params_from_dict(STUDY), out, {}).set_index("item").loc["24"]
    assert estimates["status"] == (
        "not written: figures/roc_*.png (05_diagnostic_accuracy ran to the end; the section "
        "says why there is nothing to show)")


def test_the_sections_named_by_the_checklist_exist_in_the_notebooks():
    sources = " ".join(c.source for path in sorted(NOTEBOOKS.glob("0*.ipynb"))
                       for c in nbformat.read(path, as_version=4).cells)
    named = {s for item in STARD_ITEMS for s in item.sections}
    assert len(named) == 11
    for section in named:
        assert f'waiting("{section}"' in sources, section


def test_texts_name_every_way_a_result_is_left_out():
    assert "indeterminate results excluded by the rule" in CROSS_TAB
    assert "scans not read by the index-test reader" in CROSS_TAB
    assert "n_no_reference" in CROSS_TAB
    for phrase in ("left out of the patient-level accuracy and counted (n_no_reference)",
                   "a lesion without truth is left out of the lesion-level accuracy",
                   "its reads still count at patient level",
                   "the first is the index test and the others are counted as repeats",
                   "a scan at a follow-up time point is not an index test",
                   "listed in left_out.csv"):
        assert phrase in MISSING, phrase
    files = {item.item: item.files for item in STARD_ITEMS}
    assert "tables/left_out.csv" in files["16"] and "tables/left_out.csv" in files["19"]


def test_every_stard_2015_item_appears_once_in_order(tmp_path):
    # STARD 2015 (Bossuyt et al. 2015): 30 items, 34 with their parts a/b
    items = [str(i) for i in range(1, 10)] + ["10a", "10b", "11", "12a", "12b", "13a", "13b"]
    items += [str(i) for i in range(14, 21)] + ["21a", "21b"] + [str(i) for i in range(22, 31)]
    assert len(items) == 34
    assert [entry.item for entry in STARD_ITEMS] == items
    (tmp_path / "tables").mkdir()
    table = stard_checklist(params_from_dict(STUDY), tmp_path, {})
    assert table["item"].tolist() == items


def test_item_14_states_the_interval_method_in_words():
    params = params_from_dict({**STUDY, "stats": {"ci_method": "clopper-pearson"}})
    how = stard_checklist(params, Path("/nonexistent"), {"python": "3.11.7"}).set_index(
        "item").loc["14", "how"]
    assert "proportions by the Clopper–Pearson (exact) interval" in how
    assert "clopper-pearson" not in how
    assert "Rao & Scott 1992" in how and "Python 3.11.7" in how   # units and software, one row
    how = stard_checklist(params_from_dict(STUDY), Path("/nonexistent"), {}).set_index(
        "item").loc["14", "how"]
    assert "95% confidence intervals: proportions by the Wilson score interval" in how
    assert "wilson" not in how


def test_the_index_tests_include_the_spect_of_the_protocol():
    """STARD 10a names every index test of the protocol, the TIO arm's SPECT/CT too."""
    from nethelpers.stard import _index_test

    text = _index_test(params_from_dict({"study": {"name": "t", "data_root": "."}}), {})
    assert "99mTc-HYNIC-TOC SPECT/CT" in text and "18F-FDG PET" in text
