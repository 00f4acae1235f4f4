"""The pseudonymiser: folder names, paths and dates never reach a report artefact."""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import date
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from nethelpers.config import params_from_dict
from nethelpers.privacy import Pseudonymiser, for_params
from nethelpers.reportseal import seal_notebook, seal_tree

PATIENT_DIR = "Pospisil_Petra_MRN8151528"
SCAN_DIR = "2025-01-09 PET Pospisil"
OTHER_DIR = "Novak^Jan 1948"  # a patient folder with no scan in the table


@pytest.fixture
def study(tmp_path: Path) -> dict:
    """A study whose DICOM folders are named after the patient, as PACS exports are."""
    root = tmp_path / "study"
    pet = root / "dicom" / PATIENT_DIR / SCAN_DIR / "PT"
    ct = root / "dicom" / PATIENT_DIR / SCAN_DIR / "CT"
    fdg = root / "dicom" / PATIENT_DIR / "FDG_20250301" / "PET_AC"
    for folder in (pet, ct, fdg, root / "dicom" / OTHER_DIR / "series1"):
        folder.mkdir(parents=True)
    (root / "clinical").mkdir()
    pd.DataFrame({
        "scan_id": ["P007-DOTATATE-PETCT", "P007-FDG-PETCT"],
        "patient_id": ["P007", "P007"], "tracer": ["DOTATATE", "FDG"],
        "modality": ["PET/CT", "PET/CT"], "scan_date": ["2025-01-09", "2025-03-01"],
        "pet_dir": [str(pet.relative_to(root)), str(fdg.relative_to(root))],
        "anat_dir": [str(ct.relative_to(root)), ""],
    }).to_csv(root / "clinical" / "scans.csv", index=False)
    pd.DataFrame({"patient_id": ["P007"]}).to_csv(root / "clinical" / "patients.csv",
                                                  index=False)
    params = params_from_dict({"study": {"name": "s", "data_root": str(root)},
                               "report": {"output": str(tmp_path / "rep")},
                               "quantify": {"output": str(tmp_path / "q")}})
    return {"root": root, "pet": pet, "ct": ct, "fdg": fdg, "params": params,
            "privacy": for_params(params, params_file=tmp_path / "p.yaml"), "tmp": tmp_path}


def assert_no_identifier(text: str, study: dict) -> None:
    """Independent check: plain substring search for every planted name and root."""
    for needle in (PATIENT_DIR, SCAN_DIR, OTHER_DIR, "Pospisil", "MRN8151528", "Novak",
                   "FDG_20250301", str(study["root"]), str(study["tmp"])):
        assert needle not in text, needle


def test_series_folders_become_patient_and_scan_pseudonyms(study):
    privacy = study["privacy"]
    message = (f"cannot read {study['pet']}/IM0042.dcm: truncated; "
               f"{study['ct']}/{PATIENT_DIR}.dcm; folder {study['fdg']} has two series")
    shown = privacy.text(message)
    assert shown == ("cannot read <P007/P007-DOTATATE-PETCT>/IM0042.dcm: truncated; "
                     "<P007/P007-DOTATATE-PETCT>/<P007>.dcm; folder <P007/P007-FDG-PETCT> has "
                     "two series")
    assert_no_identifier(shown, study)


def test_relative_paths_and_bare_folder_names_are_replaced_too(study):
    privacy = study["privacy"]
    relative = f"{PATIENT_DIR}/{SCAN_DIR}/PT/1.2.840.113619.2.55.dcm"
    shown = privacy.text(f"{relative} | dicom/{PATIENT_DIR}/FDG_20250301/PET_AC | "
                         f"patient folder {PATIENT_DIR!r}, other {OTHER_DIR}/series1")
    assert shown == ("<P007/P007-DOTATATE-PETCT>/<uid>.dcm | "
                     "<P007/P007-FDG-PETCT> | patient folder '<P007>', other "
                     "<dicom folder>")
    assert_no_identifier(shown, study)


def test_pseudonyms_and_ordinary_text_are_left_alone(study):
    privacy = study["privacy"]
    text = ("P007-FDG-PETCT: SUVmax 12.5 g/ml, MTV 3.2 ml at 41 % of SUVmax; "
            "see https://doi.org/10.2967/jnumed.118.209494 and 3/5 lesions")
    assert privacy.text(text) == text
    assert privacy.known(text) == text


def test_other_absolute_paths_keep_only_their_name(study):
    privacy = study["privacy"]
    home = os.path.expanduser("~")
    shown = privacy.text(f"File \"{home}/.venv/lib/pydicom/filereader.py\", line 3; "
                         f"{study['tmp']}/rep/tables/qc.csv; {study['tmp']}/p.yaml; "
                         "/srv/pacs/export/x.csv; C:\\Users\\petra\\study.yaml")
    assert shown == ('File "~/filereader.py", line 3; <report>/tables/qc.csv; '
                     "<parameters>/p.yaml; <path>/x.csv; <path>/study.yaml")


@pytest.mark.parametrize("written", ["2025-01-19", "20250119", "19.01.2025", "19/01/2025",
                                     "2025-01-19T08:30:00"])
def test_dates_become_study_days_from_the_first_scan(study, written):
    privacy = study["privacy"]
    shown = privacy.text(f"ROIs saved {written}", patient="P007")
    assert shown.startswith("ROIs saved day 10")  # 2025-01-09 is day 0
    assert privacy.text(f"ROIs saved {written}") .startswith("ROIs saved <date>")
    assert "2025" not in shown and "19" not in shown.replace("day 10", "")


def test_tables_get_study_days_by_scan_and_keep_numbers(study):
    privacy = study["privacy"]
    table = pd.DataFrame({"scan_id": ["P007-FDG-PETCT", "P999-X"],
                          "saved_at": ["2025-03-02T14:56:30", "2025-03-02T14:56:30"],
                          "reason": [f"{study['fdg']} unreadable", ""],
                          "suv_max": [12.5, 20250302.0]})
    shown = privacy.frame(table)
    assert list(shown["saved_at"]) == ["day 52 14:56", "<date> 14:56"]
    assert shown.loc[0, "reason"] == "<P007/P007-FDG-PETCT> unreadable"
    assert list(shown["suv_max"]) == [12.5, 20250302.0]  # numbers are not dates
    calendar = Pseudonymiser(first_scan=privacy.first_scan, calendar_dates=True)
    assert calendar.frame(table).loc[0, "saved_at"] == "2025-03-02T14:56:30"
    # opting in to dates keeps date columns only: free text still hides them
    assert calendar.text("saved 2025-03-02", "P007") == "saved day 52"


def test_known_keeps_base64_and_markup(study):
    privacy = study["privacy"]
    blob = base64.b64encode(os.urandom(300) + b"/tmp/x//y").decode()
    html = f"<img src='data:image/png;base64,{blob}'/><td>{study['pet']}</td>"
    assert privacy.known(html) == (f"<img src='data:image/png;base64,{blob}'/>"
                                   "<td><P007/P007-DOTATATE-PETCT></td>")


def test_sealed_notebook_has_no_absolute_path_or_folder_name(study):
    privacy = study["privacy"]
    tmp = study["tmp"]
    node = nbformat.v4.new_notebook()
    node.metadata["papermill"] = {"input_path": "/work/main/notebooks/03.ipynb",
                                  "output_path": str(tmp / "rep/notebooks/03.ipynb"),
                                  "parameters": {"params_file": str(tmp / "p.yaml"),
                                                 "output_dir": str(tmp / "rep")}}
    injected = nbformat.v4.new_code_cell(f'params_file = "{tmp}/p.yaml"\n'
                                         f'output_dir = "{tmp}/rep"\n')
    injected.metadata["tags"] = ["injected-parameters"]
    failed = nbformat.v4.new_code_cell("quantify()")
    failed.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text=f"reading {study['pet']}\n"),
        nbformat.v4.new_output("error", ename="SuvError", evalue=f"{study['fdg']}: no dose",
                               traceback=[f'File "{tmp}/x.py", line 1',
                                          f"{PATIENT_DIR} on 2025-01-09"]),
        nbformat.v4.new_output("display_data", data={
            "text/html": f"<td>{SCAN_DIR}</td><td>2025-01-09</td>",
            "text/plain": f"{study['ct']}"}),
    ]
    path = tmp / "03.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[injected, failed],
                                            metadata=node.metadata), path)
    seal_notebook(path, privacy, "03_quantification")
    text = path.read_text()
    assert_no_identifier(text, study)
    assert "2025-01-09" not in text
    sealed = json.loads(text)
    assert sealed["metadata"]["papermill"]["parameters"] == {
        "params_file": "<parameters>/p.yaml", "output_dir": "<report>"}
    assert sealed["metadata"]["papermill"]["input_path"] == "notebooks/03_quantification.ipynb"
    assert "".join(sealed["cells"][0]["source"]) == ('params_file = "<parameters>/p.yaml"\n'
                                                     'output_dir = "<report>"\n')
    nbformat.validate(nbformat.read(path, as_version=4))


def test_final_pass_replaces_and_counts_slips(study):
    privacy = study["privacy"]
    out = study["tmp"] / "rep"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "clean.csv").write_text("scan_id,suv\nP007-FDG-PETCT,3.5\n")
    assert seal_tree(out, privacy) == {}
    (out / "tables" / "slip.csv").write_text(f"reason\n{study['pet']}/IM1.dcm\n{PATIENT_DIR}\n")
    (out / "page.html").write_text(f"<p>{study['root']}/dicom</p>")
    assert seal_tree(out, privacy) == {"page.html": 1, "tables/slip.csv": 2}
    for path in (out / "tables" / "slip.csv", out / "page.html"):
        assert_no_identifier(path.read_text(), study)
    assert (out / "tables" / "slip.csv").read_text() == (
        "reason\n<P007/P007-DOTATATE-PETCT>/IM1.dcm\n<P007>\n")
    assert seal_tree(out, privacy) == {}


def test_pseudonymising_twice_changes_nothing_more(study):
    privacy = study["privacy"]
    once = privacy.text(f"{study['pet']}/IM1.dcm; {PATIENT_DIR}/{SCAN_DIR}/PT; 2025-01-19",
                        "P007")
    assert once == "<P007/P007-DOTATATE-PETCT>/IM1.dcm; <P007/P007-DOTATATE-PETCT>; day 10"
    assert privacy.text(once, "P007") == once
    assert privacy.known(once) == once


def test_the_study_seed_is_a_number_not_a_date(study):
    privacy = study["privacy"]
    seed = study["params"].stats.seed
    assert privacy.text(f"bootstrap seed {seed}") == f"bootstrap seed {seed}"
    assert privacy.text("StudyDate 20240602") == "StudyDate <date>"


@pytest.mark.parametrize("day", [date(2025, 1, 9), date(2025, 1, 19), date(2024, 12, 31)])
def test_every_written_form_of_a_date_is_hidden(study, day):
    """Every form the PHI planting writes (ISO, DICOM, European, US, month names)."""
    from nethelpers.demo.variants.phi import date_forms

    privacy = study["privacy"]
    for form in date_forms(day):
        shown = privacy.text(f"biopsy on {form}, see above", "P007")
        assert form not in shown and str(day.year) not in shown, (form, shown)
        assert shown.startswith("biopsy on ") and shown.endswith(", see above")
        days = (day - date(2025, 1, 9)).days  # 2025-01-09 is the patient's day 0
        ambiguous = (re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", form) is not None
                     and day.day <= 12 and day.day != day.month)  # 01/09/2025: which?
        assert shown == ("biopsy on <date>, see above" if ambiguous
                         else f"biopsy on day {days}, see above"), form


def test_uids_are_hidden_but_versions_and_numbers_are_not(study):
    privacy = study["privacy"]
    uid = "1.3.46.670589.5.2.10.20250109103000.1234"
    assert privacy.text(f"series {uid} not found") == "series <uid> not found"
    assert privacy.text("scipy 1.17.1, 10.0.0.1, SUV 2.5") == "scipy 1.17.1, 10.0.0.1, SUV 2.5"


def test_tracebacks_with_colour_codes_lose_their_paths(study):
    privacy = study["privacy"]
    line = f"\x1b[32m{study['root']}/x.py:297\x1b[39m in \x1b[36mload\x1b[39m"
    assert privacy.text(line) == "<data>/x.py:297 in load"


def test_vocabulary_words_and_excluded_scans_as_folder_names(tmp_path):
    """Folders named after a tracer or an excluded scan are not identifiers; a patient's
    folder is the patient even when only one of their scans is in the table."""
    root = tmp_path / "s"
    pet = root / "dicom" / "DOTATATE" / "Novak_Jan" / "P001-DOTATATE-PETCT" / "PET_AC"
    excluded = root / "dicom" / "DOTATATE" / "Novak_Jan" / "P001-FDG-PETCT" / "PET_AC"
    for folder in (pet, excluded, root / "dicom" / "FDG PET" / "Dvorak_Eva"):
        folder.mkdir(parents=True)
    (root / "clinical").mkdir()
    scans = pd.DataFrame({"scan_id": ["P001-DOTATATE-PETCT", "P001-FDG-PETCT"],
                          "patient_id": ["P001", "P001"], "tracer": ["DOTATATE", "FDG"],
                          "modality": ["PET/CT", "PET/CT"],
                          "scan_date": ["2025-01-09", "2025-02-30"],  # an excluded row
                          "pet_dir": [str(pet.relative_to(root)), ""]})
    scans.to_csv(root / "clinical" / "scans.csv", index=False)
    params = params_from_dict({"study": {"name": "s", "data_root": str(root)},
                               "report": {"output": str(tmp_path / "r")}})
    table = scans.iloc[:1]  # the cohort as loaded: the bad row excluded
    privacy = for_params(params, cohort=type("C", (), {"scans": table})())
    text = ("DOTATATE PET/CT and FDG PET/CT; P001-FDG-PETCT excluded; "
            f"{excluded}/IM1.dcm; Novak_Jan; novak_jan; Dvorak_Eva")
    assert privacy.text(text) == (
        "DOTATATE PET/CT and FDG PET/CT; P001-FDG-PETCT excluded; "
        "<P001>/IM1.dcm; <P001>; <P001>; <dicom folder>")


def test_labels_are_escaped_in_html_and_svg(study):
    out = study["tmp"] / "rep"
    out.mkdir()
    (out / "page.html").write_text(f"<td>{PATIENT_DIR}</td>")
    (out / "fig.svg").write_text(f"<svg><text>{study['pet']}</text></svg>")
    assert seal_tree(out, study["privacy"]) == {"page.html": 1, "fig.svg": 1}
    assert (out / "page.html").read_text() == "<td>&lt;P007&gt;</td>"
    assert (out / "fig.svg").read_text() == (
        "<svg><text>&lt;P007/P007-DOTATATE-PETCT&gt;</text></svg>")


def test_roots_with_spaces_are_labelled_in_provenance(tmp_path):
    rois = tmp_path / "ROI store Pospisil Petra"
    tables = tmp_path / "Pospisil Petra tables"
    params = params_from_dict({"study": {"name": "s", "data_root": str(tmp_path / "d"),
                                         "rois": str(rois),
                                         "tables": {"reads": str(tables / "reads.csv")}}})
    privacy = for_params(params)
    shown = privacy.json(params.model_dump(mode="json"))
    assert shown["study"]["rois"] == "<rois>"
    assert shown["study"]["tables"]["reads"] == "<tables>/reads.csv"
    assert "Pospisil" not in json.dumps(shown) and str(tmp_path) not in json.dumps(shown)
