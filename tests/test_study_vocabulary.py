"""Table 1, scan tables, flow diagram and cohort browser of a study with its own vocabulary.

A hand-made study whose parameters define their own groups (``registry_net`` "Registry NET",
a PRRT group; the TIO group listed first), tracers (``DOTATOC`` of family sstr, FDG) and
modalities (PET/MR listed before PET/CT), and whose patients table is only partly filled in:
two patients without a group, one without a final diagnosis or reference standard, one
without an age. Every expected number below is counted by hand from the CSV text.
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nethelpers.browser import _Browser, cohort_browser
from nethelpers.cohort import load_cohort
from nethelpers.config import params_from_dict
from nethelpers.plots import participant_flow
from nethelpers.tables import (
    NOT_RECORDED,
    group_table,
    label_groups,
    scan_inventory,
    scan_totals,
    table1,
)
from tests.test_cohort import assert_no_overlap

VOCABULARY = {
    "groups": [
        {"code": "suspected_tio", "label": "Suspected TIO", "tio": True},
        {"code": "registry_net", "label": "Registry NET", "prrt": True},
        {"code": "control", "label": "Controls"},
    ],
    "diagnoses": ["NET", "TIO", "none"],
    "tracers": [
        {"name": "DOTATOC", "family": "sstr", "aliases": ["68Ga-DOTATOC"]},
        {"name": "FDG", "family": "fdg"},
    ],
    "modalities": [
        {"name": "PET/MR", "system": "PET"},
        {"name": "PET/CT", "system": "PET"},
    ],
}

PATIENTS = """\
patient_id,group,age,sex,weight_kg,height_cm,final_diagnosis,disease_present,reference_standard,fgf23_ru_ml
R01,registry_net,50,F,70,170,NET,true,histopathology,
R02,registry_net,60,M,80,180,NET,true,follow-up,
R03,suspected_tio,40,F,60,165,TIO,true,histopathology,180
R04,,70,M,90,175,,,,
R05,control,,F,,,none,false,follow-up,
R06,,55,F,65,160,NET,,histopathology,
"""

SCANS = """\
scan_id,patient_id,tracer,modality,scan_date
R01-A,R01,68Ga-DOTATOC,PET/CT,2024-01-01
R01-B,R01,FDG,PET/CT,2024-01-02
R02-A,R02,DOTATOC,PET/MR,2024-01-03
R04-A,R04,DOTATOC,PET/CT,2024-01-04
R06-A,R06,FDG,PET/MR,2024-01-05
"""

LABELS = ["Suspected TIO", "Registry NET", "Controls", NOT_RECORDED]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocab") / "study"
    (root / "clinical").mkdir(parents=True)
    (root / "clinical/patients.csv").write_text(PATIENTS)
    (root / "clinical/scans.csv").write_text(SCANS)
    params = params_from_dict({"study": {"name": "registry", "data_root": str(root)},
                               "vocabulary": VOCABULARY})
    return params, load_cohort(params)


def test_cohort_loads_without_lesions_reads_or_groups(study):
    _, cohort = study
    assert set(cohort.missing) == {"lesions", "reads"}
    assert cohort.patients["group"].isna().sum() == 2
    assert cohort.scans["tracer"].astype(str).tolist() == ["DOTATOC", "FDG", "DOTATOC",
                                                           "DOTATOC", "FDG"]


def test_group_table_lists_the_vocabulary_and_the_patients_without_a_group(study):
    _, cohort = study
    groups = group_table(cohort.patients, cohort.vocabulary)
    assert groups["label"].tolist() == LABELS
    assert groups["patients"].tolist() == [1, 2, 1, 2]
    assert groups.set_index("group").loc["registry_net", "prrt"]


def test_table1_columns_follow_the_vocabulary_with_a_not_recorded_column(study):
    _, cohort = study
    t = table1(cohort.patients, vocabulary=cohort.vocabulary)
    f = t.formatted.set_index("Characteristic")
    assert list(f.columns) == ["Suspected TIO (n = 1)", "Registry NET (n = 2)",
                               "Controls (n = 1)", "Not recorded (n = 2)", "Overall (n = 6)"]
    num = t.numeric.set_index(["variable", "level", "group"])
    # age: R04 70 and R06 55 without a group; R05 has none recorded
    assert num.loc[("age", "", NOT_RECORDED), "mean"] == pytest.approx(62.5)
    assert num.loc[("age", "", "Overall"), "n"] == 5
    assert num.loc[("age", "", "Overall"), "n_missing"] == 1
    assert f.loc["Age, years, mean ± SD", "Controls (n = 1)"] == "– (1 missing)"
    # final diagnosis: NET 3, TIO 1, none 1 of the 5 recorded; R04 not recorded
    assert num.loc[("final_diagnosis", "NET", "Overall"), "n"] == 3
    assert num.loc[("final_diagnosis", "NET", "Overall"), "denominator"] == 5
    assert num.loc[("final_diagnosis", "NET", "Overall"), "percent"] == pytest.approx(60.0)
    assert f.loc["  NET", "Overall (n = 6)"] == "3 (60%)"
    lines = list(f.index)
    dx = lines.index("Final diagnosis, n (%)")
    assert lines[dx + 4] == "  Not recorded, n"                  # after NET, TIO, None
    row = t.formatted.iloc[dx + 4]
    assert row.tolist()[1:] == ["0", "0", "0", "1", "1"]
    ref = lines.index("Reference standard, n (%)")
    assert lines[ref + 3] == "  Not recorded, n"
    assert t.formatted.iloc[ref + 3].tolist()[1:] == ["0", "0", "0", "1", "1"]
    sex = lines.index("Sex, n (%)")
    assert lines[sex + 3] != "  Not recorded, n"                 # every sex recorded
    # FGF23 only in the TIO group of this vocabulary (listed first)
    fgf23 = "FGF23, RU/ml, median [IQR] (TIO groups only)"
    assert f.loc[fgf23, "Suspected TIO (n = 1)"] == "180 [180–180]"
    assert f.loc[fgf23, "Registry NET (n = 2)"] == "–"


def test_scan_inventory_and_totals_in_vocabulary_order(study):
    _, cohort = study
    inventory = scan_inventory(cohort)
    combos = ["DOTATOC PET/MR", "DOTATOC PET/CT", "FDG PET/MR", "FDG PET/CT"]
    assert list(inventory.columns) == ["patient_id", "group", *combos, "total"]
    assert inventory["patient_id"].tolist() == ["R03", "R01", "R02", "R05", "R04", "R06"]
    assert inventory["group"].tolist() == ["suspected_tio", "registry_net", "registry_net",
                                           "control", NOT_RECORDED, NOT_RECORDED]
    assert inventory["total"].tolist() == [0, 2, 1, 0, 1, 1]
    totals = scan_totals(cohort).set_index("group")
    assert list(totals.index) == ["suspected_tio", "registry_net", "control", NOT_RECORDED,
                                  "Overall"]
    assert totals.loc[NOT_RECORDED, "patients"] == 2
    assert totals.loc[NOT_RECORDED, "DOTATOC PET/CT"] == 1
    assert totals.loc[NOT_RECORDED, "FDG PET/MR"] == 1
    assert totals.loc["Overall", "patients"] == 6 and totals.loc["Overall", "total"] == 5
    shown = label_groups(totals.reset_index(), cohort.vocabulary)["group"].tolist()
    assert shown == [*LABELS, "Overall"]


def test_participant_flow_draws_the_vocabulary_groups_and_not_recorded(study):
    _, cohort = study
    fig = participant_flow(cohort)
    texts = [t.get_text() for t in fig.texts]
    assert "Patients enrolled\nn = 6" in texts
    heads = ["Suspected TIO\nn = 1", "Registry NET\nn = 2", "Controls\nn = 1",
             "Not recorded\nn = 2"]
    assert all(h in texts for h in heads)
    x = [fig.texts[texts.index(h)].get_position()[0] for h in heads]
    assert x == sorted(x)                                        # left to right in order
    assert "Scans: 2\nDOTATOC PET/CT: 1\nFDG PET/MR: 1" in texts     # the two without group
    assert "Scans: 3\nDOTATOC PET/MR: 1\nDOTATOC PET/CT: 1\nFDG PET/CT: 1" in texts
    assert "Reference standard\nHistopathology: 1\nFollow-up: 0\nNot recorded: 1" in texts
    assert "Final diagnosis\nDisease present: 0\nDisease absent: 0\nNot recorded: 2" in texts
    assert "Final diagnosis\nDisease present: 2\nDisease absent: 0" in texts
    assert_no_overlap(fig)


def _static(params, cohort, **kwargs) -> list[dict]:
    InteractiveShell.instance()
    try:
        with capture_output() as captured:
            assert cohort_browser(params, cohort, interactive=False, **kwargs) is None
    finally:
        InteractiveShell.clear_instance()
    return [out.data for out in captured.outputs]


def test_browser_shows_labels_and_not_recorded(study):
    from io import StringIO

    params, cohort = study
    view = _Browser(params, cohort, "R1", None)
    assert view.summary("R04") == ("<b>R04</b> · Not recorded · final diagnosis not recorded"
                                   " · grade – · reference standard not recorded")
    assert view.summary("R01").startswith("<b>R01</b> · Registry NET · final diagnosis NET")
    index = view.index()
    assert index["group"].tolist() == ["Registry NET", "Registry NET", "Suspected TIO",
                                       NOT_RECORDED, "Controls", NOT_RECORDED]
    assert list(index.columns) == ["patient_id", "group", "DOTATOC PET/MR", "DOTATOC PET/CT",
                                   "FDG PET/MR", "FDG PET/CT", "scans", "lesions"]
    assert index["scans"].tolist() == [2, 1, 0, 1, 0, 1]
    assert view.lesions("R01").empty                              # no lesions table yet
    widget = cohort_browser(params, cohort)
    labels = [label for label, _ in widget.children[0].options]
    assert labels[3] == "R04 · Not recorded" and labels[0] == "R01 · Registry NET"
    outputs = _static(params, cohort, reader="R1", static_patients=6)
    html = "".join(o.get("text/html", "") for o in outputs)
    assert "R04-A: <i>no image: no DICOM series recorded" in html
    shown = pd.read_html(StringIO(outputs[0]["text/html"]))[0]
    assert shown["group"].tolist() == index["group"].tolist()


def test_default_vocabulary_callers_are_unchanged(tmp_path):
    """Without a vocabulary argument Table 1 uses the protocol's labels, as before."""
    from tests.test_cohort import cohort_from

    cohort = cohort_from(tmp_path)
    t = table1(cohort.patients)
    assert t.formatted.columns[1] == "Suspected NET (diagnosis) (n = 3)"
    assert "  Not recorded, n" not in set(t.formatted["Characteristic"])


def test_missing_group_of_every_patient_gives_one_not_recorded_column(tmp_path):
    root = tmp_path / "s"
    (root / "clinical").mkdir(parents=True)
    (root / "clinical/patients.csv").write_text("patient_id\nA1\nA2\n")
    (root / "clinical/scans.csv").write_text("scan_id,patient_id,tracer,modality,scan_date\n")
    params = params_from_dict({"study": {"name": "t", "data_root": str(root)}})
    cohort = load_cohort(params)
    t = table1(cohort.patients, vocabulary=cohort.vocabulary)
    assert list(t.formatted.columns) == ["Characteristic", "Not recorded (n = 2)",
                                         "Overall (n = 2)"]
    assert scan_totals(cohort)["group"].tolist() == [NOT_RECORDED, "Overall"]
    texts = [x.get_text() for x in participant_flow(cohort).texts]
    assert "Not recorded\nn = 2" in texts and "Scans: 0\nnone: 0" in texts


def test_group_order_and_labels_of_codes_missing_values_and_unknown_codes(study):
    import numpy as np

    from nethelpers.groups import group_label, group_order, patient_groups

    _, cohort = study
    vocabulary = cohort.vocabulary
    order = group_order(["b_other", NOT_RECORDED, "control", None, "a_other", "suspected_tio"],
                        vocabulary)
    assert order == ["suspected_tio", "control", "a_other", "b_other", NOT_RECORDED]
    assert group_order(["z", "y"], vocabulary, by="sex") == ["y", "z"]
    assert [group_label(g, vocabulary) for g in ("registry_net", None, np.nan, pd.NA, "x")] == [
        "Registry NET", NOT_RECORDED, NOT_RECORDED, NOT_RECORDED, "x"]
    assert patient_groups(cohort.patients).tolist() == [
        "registry_net", "registry_net", "suspected_tio", NOT_RECORDED, "control", NOT_RECORDED]
