"""The full report of the 6-patient demo: reproducible, PHI-free, STARD items, provenance."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pydicom
import pytest

from nethelpers.report import run_report
from tests.conftest import ALL_NOTEBOOKS

pytestmark = pytest.mark.slow


def _phi_values(study: Path) -> dict[str, set[str]]:
    """PatientName, PatientID, PatientBirthDate (and AccessionNumber) of every scan's DICOM."""
    scans = pd.read_csv(study / "clinical" / "scans.csv")
    values: dict[str, set[str]] = {"PatientName": set(), "PatientID": set(),
                                   "PatientBirthDate": set(), "AccessionNumber": set()}
    for folder in pd.concat([scans["pet_dir"], scans["anat_dir"]]).dropna():
        first = min(p for p in (study / folder).iterdir() if p.is_file())
        ds = pydicom.dcmread(first, stop_before_pixels=True)
        name = ds.PatientName
        values["PatientName"] |= {str(name), f"{name.given_name} {name.family_name}",
                                  f"{name.family_name}, {name.given_name}", name.family_name}
        patient_id = str(ds.PatientID)
        values["PatientID"] |= {patient_id, patient_id.lstrip("MRN")}
        values["PatientBirthDate"].add(str(ds.PatientBirthDate))
        if str(ds.get("AccessionNumber", "")).strip():
            values["AccessionNumber"].add(str(ds.AccessionNumber).strip())
    return values


def _patterns(values: dict[str, set[str]]) -> dict[str, re.Pattern[str]]:
    """Case-insensitive patterns of each value, birth dates in the usual written forms too."""
    out = {}
    for field, found in values.items():
        forms = set()
        for v in found:
            if field == "PatientBirthDate":
                y, m, d = v[:4], v[4:6], v[6:8]
                forms |= {v, f"{y}-{m}-{d}", f"{d}.{m}.{y}", f"{d}/{m}/{y}", f"{m}/{d}/{y}"}
            else:
                forms.add(v)
        if forms:
            alternatives = "|".join(re.escape(f.casefold()) for f in sorted(forms))
            out[field] = re.compile(r"(?<![0-9a-z])(?:" + alternatives + r")(?![0-9a-z])")
    return out


def _leaks(texts: dict[str, str], patterns: dict[str, re.Pattern[str]]) -> list[str]:
    """Every identifier found: ``"<field> <value> in <where>"`` (HTML entities decoded)."""
    found = []
    for where, text in texts.items():
        folded = html.unescape(text).casefold()
        for field, pattern in patterns.items():
            found += [f"{field} {m.group()} in {where}" for m in pattern.finditer(folded)]
    return found


def _report_texts(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8", "replace")
            for p in root.rglob("*") if p.is_file()}


def test_demo_headers_carry_phi_to_look_for(demo_study, tmp_path):
    values = _phi_values(demo_study)
    patients = pd.read_csv(demo_study / "clinical" / "patients.csv")
    ids = {v for v in values["PatientID"] if v.startswith("MRN")}
    assert len(ids) == len(patients)  # one MRN per patient, not the pseudonym
    assert not values["PatientID"] & set(patients["patient_id"])
    assert all(re.fullmatch(r"\d{8}", b) for b in values["PatientBirthDate"])
    assert sum("^" in n for n in values["PatientName"]) == len(patients)  # Family^Given
    # the scan finds a planted leak in any casing, HTML-escaped, or as a written date
    patterns = _patterns(values)
    name = next(n for n in values["PatientName"] if "^" in n)
    birth = sorted(values["PatientBirthDate"])[0]
    planted = {"a.csv": f"x,{sorted(ids)[0].lower()}\n",
               "b.html": f"<td>{name.split('^')[1]} {name.split('^')[0].upper()}</td>",
               "c.svg": f"<text>{birth[6:8]}.{birth[4:6]}.{birth[:4]}</text>",
               "d.json": json.dumps({"who": name.replace("^", "&#94;")})}
    found = _leaks(planted, patterns)
    assert {f.split(" in ")[1] for f in found} == set(planted), found


def test_no_patient_identifier_in_any_report_file(demo_study, demo_report):
    texts = _report_texts(demo_report["out"])
    assert len(texts) > 100  # notebooks, HTML, CSV, PNG, SVG, provenance
    assert _leaks(texts, _patterns(_phi_values(demo_study))) == []


def test_no_patient_identifier_drawn_into_png_only_figures(demo_study, demo_report):
    """The galleries and MIPs are PNG only: their text is checked where it is drawn."""
    from matplotlib.text import Text

    from nethelpers.config import load_params
    from nethelpers.plots.gallery import study_gallery

    params = load_params(demo_report["params"])
    texts = {}
    for name, fig in study_gallery(params, progress=False):
        texts[name] = "\n".join(t.get_text() for t in fig.findobj(Text))
    assert len(texts) == 2 * len(pd.read_csv(demo_study / "clinical" / "scans.csv"))
    assert all("P0" in t for t in texts.values())  # titles carry the pseudonymous scan IDs
    assert _leaks(texts, _patterns(_phi_values(demo_study))) == []


def test_two_runs_give_identical_tables_and_figures(demo_report):
    first = demo_report["out"]
    # the notebooks with seeded resampling and most figures; 02-03 draw and measure the same
    # way each time (their outputs are compared with truth in their own tests)
    again = ["01_cohort", "04_tracer_comparison", "05_diagnostic_accuracy"]
    params = demo_report["tmp"] / "again.yaml"     # the same, without the PDF/.docx exports
    params.write_text(demo_report["params"].read_text().replace("report:\n",
                                                                "report:\n  exports: []\n"))
    second = run_report(params, output=demo_report["tmp"] / "again", notebooks=again,
                        progress=False)

    def files(root: Path) -> dict[str, bytes]:
        paths = [*root.glob("tables/*.csv"), *root.glob("figures/*")]
        return {p.relative_to(root).as_posix(): p.read_bytes() for p in paths}

    a, b = files(first), files(second)
    assert len(b) > 45 and set(b) <= set(a)
    b.pop("tables/stard_checklist.csv")  # lists where each item is: 02-03 did not run
    a = {name: a[name] for name in b}
    differ = sorted(name for name in a if a[name] != b[name])
    assert differ == []
    # the seeded bootstraps: Youden intervals and ROC bands are in the tables above
    assert "exploratory (Youden J on these data)" in a["tables/cutoffs.csv"].decode()


def test_every_notebook_ran_and_rendered_with_alt_text(demo_report):
    out = demo_report["out"]
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["status"] == "ok" and prov["notebooks_completed"] == ALL_NOTEBOOKS
    assert list(prov["notebook_seconds"]) == ALL_NOTEBOOKS
    assert all(0 < t < 600 for t in prov["notebook_seconds"].values())
    for name in ALL_NOTEBOOKS:
        page = (out / f"{name}.html").read_text()
        assert "<img" in page, name
        assert "No description has been provided for this image" not in page, name
        assert "params_file" not in page, name  # no code
    flow = (out / "05_diagnostic_accuracy.html").read_text()
    assert re.search(r'<img alt="Eligible patients n = 6 Index test DOTATATE PET/CT: \d', flow)


def test_report_runner_passes_interactive_false_for_static_output(demo_study, demo_report):
    out = demo_report["out"]
    for name in ALL_NOTEBOOKS:  # 01 (cohort browser) and 02 (napari) declare it
        nb = nbformat.read(out / "notebooks" / f"{name}.ipynb", as_version=4)
        cell = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
        declares = name in ("01_cohort", "02_roi_review")
        assert ("interactive = False" in cell.source) == declares, name
        assert ("interactive" in cell.source) == declares, name
    page = (out / "01_cohort.html").read_text()
    assert "Cohort index" in page
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    for scan_id in scans.loc[scans.patient_id == "P001", "scan_id"]:
        assert scan_id in page
    assert "jupyter-widgets" not in page  # static, not a widget placeholder


def test_index_lists_stard_items_with_their_files(demo_report):
    out = demo_report["out"]
    checklist = pd.read_csv(out / "tables" / "stard_checklist.csv", dtype=str)
    report_items = ["10a", "10b", "12a", "14", "15", "16", "17", "19", "20", "21a", "21b",
                    "22", "23", "24"]
    assert checklist.loc[checklist["status"] != "manuscript", "item"].tolist() == report_items
    assert len(checklist["item"].unique()) == 34  # every STARD 2015 item, with its parts
    checklist = checklist[checklist["status"] != "manuscript"]
    assert (checklist["status"] == "addressed").all(), checklist[["item", "status"]]
    for files in checklist["files"]:
        for rel in files.split(";"):
            assert (out / rel).is_file(), rel
    flows = checklist.set_index("item").loc["19", "files"].split(";")
    assert sum(f.startswith("figures/flow_") for f in flows) == 4  # one per index test (SPECT)
    how = dict(zip(checklist["topic"], checklist["how"], strict=True))
    assert "counted negative; sensitivity analysis at lesion level: counted positive" in how[
        "Indeterminate index test results and how they were handled"]
    software = how[next(t for t in how if t.startswith("Methods for estimating"))]
    prov = json.loads((out / "provenance.json").read_text())
    assert f"numpy {prov['versions']['numpy']}" in software
    assert "proportions by the Wilson score interval" in software
    assert "seeded (20240601)" in software
    assert "SUVmax > 1 × liver SUVmean" in how[
        "Index test positivity cut-offs: pre-specified vs exploratory"]
    page = (out / "index.html").read_text()
    assert "<h2>STARD 2015 items addressed</h2>" in page
    assert "href='figures/flow_FDG_PETCT.png'" in page
    assert "Image galleries (" in page  # PNG-only galleries are listed, not thumbnailed
    assert "href='figures/gallery_P001-DOTATATE-PETCT.svg'" not in page


def test_provenance_fingerprints_the_demo_inputs(demo_study, demo_report):
    prov = json.loads((demo_report["out"] / "provenance.json").read_text())
    inputs = prov["inputs"]
    n_dicom = sum(1 for p in (demo_study / "dicom").rglob("*") if p.is_file())
    assert inputs["dicom"]["files"] == n_dicom
    assert inputs["rois"]["files"] == sum(1 for p in (demo_study / "rois").rglob("*")
                                          if p.is_file())
    assert inputs["tables"]["reads"]["path"] == "reads/reads.csv"
    assert prov["parameters"]["index_test"] == {"reader": "R1", "equivocal": "negative",
                                                "equivocal_sensitivity": "positive"}
    quantified = json.loads((demo_report["quantify"] / "quantify.json").read_text())
    # what notebooks 04-05 reuse was measured from these inputs (the reads do not matter)
    inputs["tables"].pop("reads")
    assert quantified["inputs"]["study"] == inputs


def test_both_readers_and_the_consensus_have_their_accuracy_in_the_report(demo_study,
                                                                           demo_report):
    """Issue 17: two independent readers and their adjudicated consensus, each with its
    accuracy; the consensus never enters the inter-reader agreement (it is made from them)."""
    tables = demo_report["out"] / "tables"
    by_reader = pd.read_csv(tables / "accuracy_by_reader.csv")
    assert {"R1", "R2", "consensus"} <= set(by_reader["reader"])
    # the consensus's patient-level sensitivity on DOTATATE PET/CT, counted by hand
    reads = pd.read_csv(demo_study / "reads" / "reads.csv", dtype=str)
    lesions = pd.read_csv(demo_study / "truth" / "lesions.csv", dtype=str)
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv", dtype=str)
    patients = pd.read_csv(demo_study / "clinical" / "patients.csv", dtype=str)
    ours = reads[reads["reader"] == "consensus"].merge(scans[["scan_id", "patient_id",
                                                             "tracer", "modality"]])
    ours = ours[(ours["tracer"] == "DOTATATE") & (ours["modality"] == "PET/CT")]
    positive = set(ours.loc[ours["call"] == "positive", "patient_id"])
    scanned = set(scans.loc[(scans["tracer"] == "DOTATATE") & (scans["modality"] == "PET/CT"),
                            "patient_id"])
    diseased = set(patients.loc[patients["disease_present"] == "True", "patient_id"]) & scanned
    assert len(lesions) and diseased                     # the demo has disease to find
    row = by_reader[(by_reader["reader"] == "consensus") & (by_reader["unit"] == "patient")
                    & (by_reader["tracer"] == "DOTATATE") & (by_reader["modality"] == "PET/CT")
                    & (by_reader["measure"] == "sensitivity")].iloc[0]
    assert (int(row["numerator"]), int(row["denominator"])) == (
        len(diseased & positive), len(diseased))
    agreement = pd.read_csv(tables / "interreader_agreement.csv", dtype=str)
    assert not agreement.apply(lambda col: col.str.contains("consensus", na=False)).any().any()
