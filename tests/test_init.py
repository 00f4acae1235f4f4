"""`nethelpers init`: a new study folder scaffolded from a DICOM tree.

The truth is the demo generator's own tables (clinical/scans.csv, patients.csv and
truth/scans.csv of the ideal study) and the DICOM headers read with plain pydicom.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pydicom
import pytest
import yaml
from pydicom.uid import generate_uid

from nethelpers.cohort import load_cohort
from nethelpers.config import load_params
from nethelpers.files import tree_digest
from nethelpers.initscans import REASONS, plan_scans
from nethelpers.studyinit import InitError, init_study, summary_text
from nethelpers.vocabulary import Vocabulary

ALL_NOTEBOOKS = ["01_cohort", "02_roi_review", "03_quantification", "04_tracer_comparison",
                 "05_diagnostic_accuracy"]
TAG = {"PET/CT": "PETCT", "PET/MR": "PETMR", "SPECT/CT": "SPECTCT"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nethelpers", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _header(folder: Path) -> pydicom.Dataset:
    return pydicom.dcmread(sorted(folder.iterdir())[0], stop_before_pixels=True)


@pytest.fixture(scope="module")
def run(ideal_study, tmp_path_factory):
    """`nethelpers init` on the ideal demo's DICOM tree, run from another folder."""
    cwd = tmp_path_factory.mktemp("init_cwd")
    out = tmp_path_factory.mktemp("init") / "My Study!"
    before = tree_digest(ideal_study / "dicom")
    done = _cli("init", str(ideal_study / "dicom"), "-o", str(out), "-q", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return {"out": out, "done": done, "before": before, "after": tree_digest(ideal_study /
                                                                               "dicom")}


@pytest.fixture(scope="module")
def truth(ideal_study):
    """The demo's scans with the DICOM PatientID of each and the expected pseudonym."""
    scans = _csv(ideal_study / "clinical" / "scans.csv")
    scans["dicom_id"] = [str(_header(ideal_study / d).PatientID) for d in scans["pet_dir"]]
    first = scans.groupby("dicom_id")["scan_date"].min().reset_index()
    order = first.sort_values(["scan_date", "dicom_id"])["dicom_id"].tolist()
    scans["pseudonym"] = scans["dicom_id"].map({k: f"P{i:03d}" for i, k in
                                                enumerate(order, start=1)})
    return scans


def test_finds_exactly_the_demo_scans(run, truth, ideal_study):
    got = _csv(run["out"] / "clinical" / "scans.csv").set_index("pet_series_uid")
    want = truth.set_index("pet_series_uid")
    assert sorted(got.index) == sorted(want.index)
    for column in ("tracer", "modality", "scan_date", "study_uid", "anat_series_uid", "model"):
        assert got.loc[want.index, column].tolist() == want[column].tolist(), column
    expected_ids = [f"{p}-{t}-{TAG[m]}" for p, t, m in
                    zip(want["pseudonym"], want["tracer"], want["modality"], strict=True)]
    assert got.loc[want.index, "scan_id"].tolist() == expected_ids
    assert got.loc[want.index, "patient_id"].tolist() == want["pseudonym"].tolist()
    for column in ("pet_dir", "anat_dir"):   # relative to data_root = the study folder
        mine = [(run["out"] / d).resolve() for d in got.loc[want.index, column]]
        assert mine == [(ideal_study / d).resolve() for d in want[column]], column
    assert run["before"] == run["after"]     # the DICOM tree was not written to


def test_patients_prefilled_from_headers(run, truth, ideal_study):
    got = _csv(run["out"] / "clinical" / "patients.csv").set_index("patient_id")
    demo = _csv(ideal_study / "clinical" / "patients.csv").set_index("patient_id")
    per_scan = _csv(ideal_study / "truth" / "scans.csv").set_index("scan_id")
    assert sorted(got.index) == sorted(truth["pseudonym"].unique())
    for pseudonym, own in truth.groupby("pseudonym"):
        own = own.sort_values("scan_date")
        first = own.iloc[0]
        row, demo_row = got.loc[pseudonym], demo.loc[first["patient_id"]]
        assert row["sex"] == demo_row["sex"]
        # weight of the first scan's header; the demo draws it around the patient's weight
        assert float(row["weight_kg"]) == float(per_scan.loc[first["scan_id"], "weight_kg"])
        assert abs(float(row["weight_kg"]) - float(demo_row["weight_kg"])) < 3.0
        # PatientSize is written in m with 2 decimals
        assert float(row["height_cm"]) == pytest.approx(
            round(float(demo_row["height_cm"]) / 100, 2) * 100)
        birth = str(_header(ideal_study / first["pet_dir"]).PatientBirthDate)
        b, f = date.fromisoformat(f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"), \
            date.fromisoformat(first["scan_date"])
        assert int(row["age"]) == f.year - b.year - ((f.month, f.day) < (b.month, b.day))
        for column in ("group", "final_diagnosis", "disease_present", "reference_standard"):
            assert row[column] == ""


def test_pseudonyms_map_back_to_the_headers(run, truth, ideal_study):
    private = run["out"] / "private"
    path = private / "pseudonyms.csv"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "never" in (private / "README.txt").read_text().lower()
    table = _csv(path).set_index("pseudonym")
    scans = _csv(run["out"] / "clinical" / "scans.csv")
    assert sorted(table.index) == sorted(scans["patient_id"].unique())
    for row in scans.itertuples():
        ds = _header((run["out"] / row.pet_dir).resolve())
        assert table.loc[row.patient_id, "patient_id"] == str(ds.PatientID)
        assert table.loc[row.patient_id, "patient_name"] == str(ds.PatientName)
        assert table.loc[row.patient_id, "birth_date"] == str(ds.PatientBirthDate)


def _identifiers(dicom: Path) -> set[str]:
    found: set[str] = set()
    for folder in {p.parent for p in dicom.rglob("*.dcm")}:
        ds = _header(folder)
        name, birth = str(ds.PatientName), str(ds.PatientBirthDate)
        found |= {str(ds.PatientID), name, birth, f"{birth[:4]}-{birth[4:6]}-{birth[6:]}"}
        found |= {part for part in name.split("^") if len(part) >= 4}
    return found


def test_nothing_identifying_outside_private(run, ideal_study):
    identifiers = _identifiers(ideal_study / "dicom")
    assert len(identifiers) >= 12      # 3 patients: ID, name, 2 name parts, 2 dates
    out = run["out"]
    files = [p for p in out.rglob("*") if p.is_file()]
    public = [p for p in files if "private" not in p.relative_to(out).parts]
    assert len(public) >= 6
    texts = {p: p.read_bytes().decode("utf-8", "replace") for p in public}
    texts["stdout"] = run["done"].stdout + run["done"].stderr
    leaks = [(str(k), i) for k, text in texts.items() for i in identifiers if i in text]
    assert leaks == []
    control = (out / "private" / "pseudonyms.csv").read_text()   # the scan can find them
    assert sum(i in control for i in identifiers) >= 9


def test_parameters_validate_with_every_notebook(run, ideal_study):
    out = run["out"]
    text = (out / "parameters.yaml").read_text()
    params = load_params(out / "parameters.yaml")
    assert params.study.name == "My_Study"
    assert params.study.data_root == out.resolve()
    assert params.study.dicom == (ideal_study / "dicom").resolve()
    assert params.report.notebooks == ALL_NOTEBOOKS
    assert params.report.output == out.resolve() / "reports" / "My_Study"
    assert params.quantify.output == out.resolve() / "derived" / "quantify"
    assert params.vocabulary == Vocabulary()          # the demo's tracers are all known
    raw = yaml.safe_load(text)
    assert len(raw["vocabulary"]["tracers"]) == len(Vocabulary().tracers)   # written out
    lines = text.splitlines()
    reader = next(i for i, line in enumerate(lines) if line.strip().startswith("reader:"))
    assert any("FILL IN:" in line for line in lines[reader - 3:reader])
    patients = next(i for i, line in enumerate(lines) if line.strip().startswith("patients:"))
    note = " ".join(lines[patients - 4:patients])
    assert "# FILL IN:" in note and "final_diagnosis" in note and "reference_standard" in note
    assert "private" not in "".join(v for v in map(str, raw["study"].values()))


def test_cohort_loads_without_exclusions(run, truth):
    cohort = load_cohort(load_params(run["out"] / "parameters.yaml"))
    assert len(cohort.exclusions) == 0
    assert cohort.missing == {}
    assert len(cohort.patients) == truth["pseudonym"].nunique()
    assert len(cohort.scans) == len(truth)
    assert len(cohort.lesions) == 0 and len(cohort.reads) == 0


def test_summary_names_pseudonyms_and_next_steps(run):
    stdout = run["done"].stdout
    assert "3 patient(s) (P001..P003), 8 scan(s)" in stdout
    assert "nethelpers report -f" in stdout and "--patient P001" in stdout


def test_non_empty_study_folder_is_refused(ideal_study, tmp_path):
    study = tmp_path / "study"
    study.mkdir()
    (study / "notes.txt").write_text("mine")
    done = _cli("init", str(ideal_study / "dicom"), "-o", str(study), cwd=tmp_path)
    assert done.returncode == 2
    assert "not empty" in done.stderr and "-o" in done.stderr
    assert [p.name for p in study.iterdir()] == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["study"]     # no staging left behind


def test_study_folder_inside_the_dicom_tree_is_refused(ideal_study):
    with pytest.raises(InitError, match="never written to"):
        init_study(ideal_study / "dicom", ideal_study / "dicom" / "study")
    assert not (ideal_study / "dicom" / "study").exists()


# --------------------------------------------------------------------------------------
# A tree with the real-world cases: NAC + AC, a lone CT, an unknown and an unnamed tracer
# --------------------------------------------------------------------------------------


def _rewrite(src: Path, dst: Path, change) -> None:
    dst.mkdir(parents=True)
    for path in sorted(src.iterdir()):
        ds = pydicom.dcmread(path)
        change(ds)
        ds.save_as(dst / path.name)


def _nac(series_uid: str):
    def change(ds):
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = 1                 # listed before the AC series (number 4)
        ds.SeriesDescription = "PET WB NAC"
        ds.CorrectedImage = ["DECY", "RAN", "NORM"]
    return change


def _psma(ds):
    item = ds.RadiopharmaceuticalInformationSequence[0]
    item.Radiopharmaceutical = "Ga68-PSMA-11"
    del item.RadiopharmaceuticalCodeSequence
    ds.SeriesDescription = "PET WB AC"


def _unnamed(ds):
    del ds.RadiopharmaceuticalInformationSequence
    ds.SeriesDescription = "PET WB AC"


@pytest.fixture(scope="module")
def variants(ideal_study, tmp_path_factory):
    truth = _csv(ideal_study / "clinical" / "scans.csv").set_index("scan_id")
    root = tmp_path_factory.mktemp("variants") / "dicom"
    ac = truth.loc["P002-DOTATATE-PETCT"]
    shutil.copytree(ideal_study / ac["pet_dir"], root / "a" / "PT")
    shutil.copytree(ideal_study / ac["anat_dir"], root / "a" / "CT")
    nac_uid = generate_uid()
    _rewrite(ideal_study / ac["pet_dir"], root / "a" / "PT_NAC", _nac(nac_uid))
    lone = truth.loc["P002-FDG-PETCT"]
    shutil.copytree(ideal_study / lone["anat_dir"], root / "b" / "CT")
    psma = truth.loc["P001-FDG-PETCT"]
    _rewrite(ideal_study / psma["pet_dir"], root / "c" / "PT", _psma)
    shutil.copytree(ideal_study / psma["anat_dir"], root / "c" / "CT")
    unnamed = truth.loc["P003-FDG-PETCT"]
    _rewrite(ideal_study / unnamed["pet_dir"], root / "d" / "PT", _unnamed)
    shutil.copytree(ideal_study / unnamed["anat_dir"], root / "d" / "CT")
    study = root.parent / "study"
    result = init_study(root, study)
    return {"result": result, "study": study, "truth": truth, "nac_uid": nac_uid}


def test_prefers_the_attenuation_corrected_pet(variants):
    truth, result = variants["truth"], variants["result"]
    scans = result.scans.set_index("scan_id")
    # first scan dates: 2025-01-13 (demo P002), 01-18 (demo P001), 02-03 (demo P003)
    assert list(scans.index) == ["P001-DOTATATE-PETCT", "P002-PSMA-PETCT",
                                 "P003-unknown-PETCT"]
    assert scans.loc["P001-DOTATATE-PETCT", "pet_series_uid"] == \
        truth.loc["P002-DOTATATE-PETCT", "pet_series_uid"]
    skipped = result.skipped.set_index("series_uid")
    assert skipped.loc[variants["nac_uid"], "reason"] == REASONS["not_ac"]
    assert "series 4" in skipped.loc[variants["nac_uid"], "detail"]
    on_disk = _csv(variants["study"] / "derived" / "init_skipped.csv")
    assert sorted(on_disk["series_uid"]) == sorted(skipped.index)


def test_lone_ct_is_listed_as_skipped(variants):
    lone = variants["truth"].loc["P002-FDG-PETCT", "anat_series_uid"]
    skipped = variants["result"].skipped.set_index("series_uid")
    assert len(skipped) == 2                               # the NAC PET and the lone CT
    assert skipped.loc[lone, "reason"] == REASONS["lone_anat"]
    assert skipped.loc[lone, "patient"] == "P001"          # the pseudonym, never the ID
    assert skipped.loc[lone, "modality"] == "CT"
    text = summary_text(variants["result"])
    assert f"1 {REASONS['lone_anat']}" in text and f"1 {REASONS['not_ac']}" in text


def test_unknown_tracers_join_the_vocabulary(variants):
    params = load_params(variants["study"] / "parameters.yaml")
    vocabulary = params.vocabulary
    assert vocabulary.family("PSMA") == "other" and vocabulary.family("unknown") == "other"
    assert vocabulary.tracer_names[:5] == Vocabulary().tracer_names
    text = (variants["study"] / "parameters.yaml").read_text()
    assert "# FILL IN: PSMA: found in the DICOM headers as 'PSMA'" in text
    assert "# FILL IN: unknown: no radiopharmaceutical" in text
    cohort = load_cohort(params, strict=True)
    assert sorted(cohort.scans["tracer"].astype(str)) == ["DOTATATE", "PSMA", "unknown"]


def test_no_scan_exits_2_and_writes_nothing(ideal_study, tmp_path):
    truth = _csv(ideal_study / "clinical" / "scans.csv").set_index("scan_id")
    shutil.copytree(ideal_study / truth.loc["P001-FDG-PETCT", "anat_dir"], tmp_path / "d" / "CT")
    done = _cli("init", str(tmp_path / "d"), "-o", str(tmp_path / "s"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no scan found" in done.stderr and f"1 {REASONS['lone_anat']}" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


# --------------------------------------------------------------------------------------
# plan_scans on a hand-written index: SPECT, no companion, SEG, failed QC
# --------------------------------------------------------------------------------------


def _series(**values) -> dict:
    from nethelpers.dicom.seriesqc import SERIES_COLUMNS

    row = dict.fromkeys(SERIES_COLUMNS, "")
    row.update(patient_id="X1", study_date="20240102", series_number=1, qc="ok", n_slices=100,
               series_datetime="2024-01-02T10:00:00", files=(), directory="x")
    row.update(values)
    return row


def test_plan_scans_names_spect_and_skips_what_is_not_a_scan(tmp_path):
    rows = [
        _series(series_uid="nm", study_uid="s1", modality="NM", tracer="HYNIC-TOC",
                radionuclide="99mTc", frame_of_reference_uid="f1"),
        _series(series_uid="ct1", study_uid="s1", modality="CT", frame_of_reference_uid="f1"),
        _series(series_uid="ct2", study_uid="s1", modality="CT", frame_of_reference_uid="f9"),
        _series(series_uid="pt", study_uid="s2", modality="PT", tracer="FDG", system="PET"),
        _series(series_uid="bad", study_uid="s3", modality="PT", tracer="FDG", qc="fail",
                qc_reasons="missing slices: 3"),
        _series(series_uid="seg", study_uid="s1", modality="SEG"),
        _series(series_uid="us", study_uid="s1", modality="US"),
    ]
    plan = plan_scans(pd.DataFrame(rows), tmp_path)
    assert plan.scans[["pet_series_uid", "anat_series_uid", "modality", "tracer"]].values.tolist() \
        == [["nm", "ct1", "SPECT/CT", "HYNIC-TOC"]]        # the CT of its frame of reference
    reasons = plan.skipped.set_index("series_uid")["reason"].to_dict()
    assert reasons == {"pt": REASONS["no_anat"], "bad": REASONS["qc"],
                       "seg": REASONS["not_image"], "us": REASONS["other"],
                       "ct2": REASONS["extra_anat"]}
    assert plan.tracers_added == {}
