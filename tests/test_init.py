"""`nethelpers init`: a new study folder scaffolded from a DICOM tree.

The truth is the demo generator's own tables (clinical/scans.csv, patients.csv and
truth/scans.csv of the ideal study) and the DICOM headers read with plain pydicom.
"""

from __future__ import annotations

import os
import shlex
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
from nethelpers.initparams import params_text
from nethelpers.initscans import REASONS, plan_scans
from nethelpers.studyinit import InitError, init_study, summary_text
from nethelpers.vocabulary import Vocabulary

ALL_NOTEBOOKS = ["01_cohort", "02_roi_review", "03_quantification", "04_tracer_comparison",
                 "05_diagnostic_accuracy", "06_response"]
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
    # a patient's second scan of a type (P003's follow-ups) is numbered -2 in date order
    base = [f"{p}-{t}-{TAG[m]}" for p, t, m in
            zip(want["pseudonym"], want["tracer"], want["modality"], strict=True)]
    rank = want.assign(_base=base).groupby("_base")["scan_date"].rank(method="first")
    expected_ids = [b if r == 1 else f"{b}-{int(r)}" for b, r in zip(base, rank, strict=True)]
    assert sum(r > 1 for r in rank) == 2
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
    assert "3 patient(s) (P001..P003), 10 scan(s)" in stdout   # P003: 2 follow-ups
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
    assert skipped.loc[variants["nac_uid"], "detail"] == (
        "series 4 'PET WB DOTATATE AC' (attenuation-corrected) was used; this one is not "
        "attenuation-corrected")
    on_disk = _csv(variants["study"] / "private" / "init_skipped.csv")
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


def test_plan_scans_keeps_the_study_apart_when_the_patient_id_is_missing(tmp_path):
    rows = [_series(series_uid=f"pt{k}", study_uid=f"s{k}", modality="PT", tracer="FDG",
                    patient_id="", companion_series_uid=f"ct{k}") for k in (1, 2)]
    rows += [_series(series_uid=f"ct{k}", study_uid=f"s{k}", modality="CT", patient_id="")
             for k in (1, 2)]
    plan = plan_scans(pd.DataFrame(rows), tmp_path)
    assert plan.scans["patient_key"].nunique() == 2
    assert plan.people["patient_id"].tolist() == ["", ""]


# --------------------------------------------------------------------------------------
# Duplicate PET series: a lossy copy, a JPEG 2000 copy and a DERIVED copy of one series
# --------------------------------------------------------------------------------------


def _copy(series_uid: str, number: int, description: str, extra=None):
    """A copy of a series with new UIDs, listed before the original (lower number and UID)."""
    def change(ds):
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = number
        ds.SeriesDescription = description
        if extra is not None:
            extra(ds)
    return change


def _lossy_marked(ds):            # decompressed from a lossy copy: only the flag tells
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = "12"
    ds.LossyImageCompressionMethod = "ISO_15444_1"


def _jpeg2000_lossy(ds):
    from pydicom.uid import JPEG2000

    ds.compress(JPEG2000, j2k_cr=[20])      # lossy JPEG 2000, no LossyImageCompression set


def _derived(ds):
    ds.ImageType = ["DERIVED", "SECONDARY"]


@pytest.fixture(scope="module")
def copies(ideal_study, tmp_path_factory):
    truth = _csv(ideal_study / "clinical" / "scans.csv").set_index("scan_id")
    scan = truth.loc["P002-DOTATATE-PETCT"]
    root = tmp_path_factory.mktemp("copies") / "dicom"
    shutil.copytree(ideal_study / scan["pet_dir"], root / "s" / "PT")
    shutil.copytree(ideal_study / scan["anat_dir"], root / "s" / "CT")
    uids = {"marked": "1.2.3.1", "j2k": "1.2.3.2", "derived": "1.2.3.3"}   # < original UID
    _rewrite(ideal_study / scan["pet_dir"], root / "s" / "PT_LOSSY",
             _copy(uids["marked"], 1, "PET WB AC lossy", _lossy_marked))
    _rewrite(ideal_study / scan["pet_dir"], root / "s" / "PT_J2K",
             _copy(uids["j2k"], 2, "PET WB AC J2K", _jpeg2000_lossy))
    _rewrite(ideal_study / scan["pet_dir"], root / "s" / "PT_DERIVED",
             _copy(uids["derived"], 3, "PET WB AC MPR", _derived))
    result = init_study(root, root.parent / "study")
    original = _header(ideal_study / scan["pet_dir"])
    return {"result": result, "uids": uids, "original": original,
            "pet_uid": scan["pet_series_uid"]}


def test_the_lossless_original_pet_is_used(copies):
    result = copies["result"]
    assert result.scans["pet_series_uid"].tolist() == [copies["pet_uid"]]
    skipped = result.skipped.set_index("series_uid")
    assert sorted(skipped.index) == sorted(copies["uids"].values())
    assert set(skipped["reason"]) == {REASONS["duplicate"]}
    ds = copies["original"]
    used = f"series {ds.SeriesNumber} '{ds.SeriesDescription}'"
    assert used == "series 4 'PET WB DOTATATE AC'"
    uids = copies["uids"]
    assert skipped.loc[uids["marked"], "detail"] == (
        f"{used} (lossless) was used; this one is lossy (LossyImageCompression is 01)")
    assert skipped.loc[uids["j2k"], "detail"] == (
        f"{used} (lossless) was used; this one is lossy (stored in JPEG 2000, a lossy "
        "transfer syntax)")
    assert skipped.loc[uids["derived"], "detail"] == (
        f"{used} (ImageType ORIGINAL) was used; this one is DERIVED")


def test_duplicates_rank_in_the_documented_order():
    from nethelpers.initrank import rank_key

    def member(uid, **changes):
        row = {"qc": "ok", "qc_reasons": "", "n_slices": 200, "series_number": 9,
               "series_uid": uid}
        header = {"CorrectedImage": ["ATTN", "DECY"], "ImageType": ["ORIGINAL", "PRIMARY"],
                  "lossy": ""}
        for key, value in changes.items():
            (header if key in header else row)[key] = value
        return {"row": row, "header": header}

    # each differs from the best by one trait; listed best first, shuffled by their UIDs
    members = [
        member("9.0"),
        member("8.1", series_uid="9.1"),                      # equal rank, higher UID
        member("7", series_number=10),
        member("6", n_slices=199),
        member("5", qc="warn", qc_reasons="slice spacing deviates"),
        member("4", ImageType=["DERIVED", "PRIMARY"]),
        member("3", qc="warn", qc_reasons="lossy compression (1.2.840.10008.1.2.4.91): x"),
        member("2", CorrectedImage=[]),                       # attenuation not stated
        member("1", CorrectedImage=["DECY"]),                 # not attenuation-corrected
    ]
    ranked = sorted(reversed(members), key=rank_key)
    assert [m["row"]["series_uid"] for m in ranked] == [m["row"]["series_uid"]
                                                         for m in members]
    # lossless DERIVED beats lossy ORIGINAL; lossy attenuation-corrected beats lossless NAC
    lossy_original = member("1", lossy="LossyImageCompression is 01")
    assert rank_key(member("2", ImageType=["DERIVED"])) < rank_key(lossy_original)
    assert rank_key(lossy_original) < rank_key(member("0", CorrectedImage=["DECY"]))


# --------------------------------------------------------------------------------------
# Two people sharing PatientID "ANON", and a person without a scan in a named folder
# --------------------------------------------------------------------------------------

PLANTED = "Doe_Jane_19700101"       # a patient's name in a folder name of the DICOM tree


def _patient(patient_id: str, birth: str | None = None):
    def change(ds):
        ds.PatientID = patient_id
        if birth is not None:
            ds.PatientBirthDate = birth
    return change


@pytest.fixture(scope="module")
def anon(ideal_study, tmp_path_factory):
    """Demo P002 (DOTATATE, 2025-01-13) and demo P001 (FDG, 01-18) both written as ANON."""
    truth = _csv(ideal_study / "clinical" / "scans.csv").set_index("scan_id")
    root = tmp_path_factory.mktemp("anon") / "dicom"
    for folder, scan_id in (("a", "P002-DOTATATE-PETCT"), ("b", "P001-FDG-PETCT")):
        for column, name in (("pet_dir", "PT"), ("anat_dir", "CT")):
            _rewrite(ideal_study / truth.loc[scan_id, column], root / folder / name,
                     _patient("ANON"))
    # demo P002's lone CT of another study, its birth date left empty: still demo P002
    _rewrite(ideal_study / truth.loc["P002-FDG-PETCT", "anat_dir"], root / "c" / "CT",
             _patient("ANON", birth=""))
    # a third person's lone CT (no scan at all), in a folder named after her
    _rewrite(ideal_study / truth.loc["P003-FDG-PETCT", "anat_dir"], root / PLANTED / "CT",
             _patient("LONE-7"))
    study = root.parent / "study"
    done = _cli("init", str(root), "-o", str(study), "-q", cwd=root.parent)
    assert done.returncode == 0, done.stderr
    names = {scan_id: str(_header(ideal_study / truth.loc[scan_id, "pet_dir"]).PatientName)
             for scan_id in ("P002-DOTATATE-PETCT", "P001-FDG-PETCT", "P003-FDG-PETCT")}
    return {"root": root, "study": study, "done": done, "names": names}


def test_people_sharing_a_patient_id_stay_apart(anon):
    study = anon["study"]
    scans = _csv(study / "clinical" / "scans.csv")
    assert scans[["scan_id"]].values.ravel().tolist() == ["P001-DOTATATE-PETCT",
                                                          "P002-FDG-PETCT"]
    table = _csv(study / "private" / "pseudonyms.csv").set_index("pseudonym")
    assert table.index.tolist() == ["P001", "P002", "X001"]
    assert table["patient_id"].tolist() == ["ANON", "ANON", "LONE-7"]
    assert table["patient_name"].tolist() == [anon["names"]["P002-DOTATATE-PETCT"],
                                              anon["names"]["P001-FDG-PETCT"],
                                              anon["names"]["P003-FDG-PETCT"]]
    assert table["n_scans"].tolist() == ["1", "1", "0"]
    assert len(_csv(study / "clinical" / "patients.csv")) == 2
    warning = ("P001 and P002 share a PatientID but differ in name or birth date: kept "
               "apart; check private/pseudonyms.csv")
    assert f"warning: {warning}" in anon["done"].stdout
    assert anon["done"].stdout.count("share a PatientID") == 1   # not LONE-7


def test_skipped_series_details_are_private(anon):
    study = anon["study"]
    private = _csv(study / "private" / "init_skipped.csv")
    assert stat.S_IMODE((study / "private" / "init_skipped.csv").stat().st_mode) == 0o600
    by_folder = private.set_index("dicom_dir")["patient"].to_dict()
    root = Path(os.path.relpath(anon["root"], study)).as_posix()
    # the CT without birth date is demo P002's (P001); the third person's is X001
    assert by_folder == {f"{root}/c/CT": "P001", f"{root}/{PLANTED}/CT": "X001"}
    assert set(private["reason"]) == {REASONS["lone_anat"]}
    public = _csv(study / "derived" / "init_skipped.csv")
    assert public.columns.tolist() == ["patient", "modality", "reason", "n_series"]
    assert public.values.tolist() == [["P001", "CT", REASONS["lone_anat"], "1"],
                                      ["", "CT", REASONS["lone_anat"], "1"]]
    caches = sorted(p.name for p in (study / "private").glob("dicom-index.cache*"))
    assert caches and all(name.startswith("dicom-index.cache") for name in caches)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (study / "private").iterdir()}
    assert set(modes.values()) == {0o600}, modes


def test_nothing_under_the_dicom_root_is_printed_or_public(anon):
    study, root = anon["study"], anon["root"]
    folders = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}
    secrets = {*folders - {"a", "b", "c"}, PLANTED, "ANON", "LONE-7", *anon["names"].values()}
    printed = anon["done"].stdout + anon["done"].stderr
    assert [s for s in secrets if s in printed] == []
    public = [p for p in study.rglob("*") if p.is_file() and "private" not in
              p.relative_to(study).parts and p.name != "scans.csv"]
    assert [(p.name, s) for p in public for s in secrets if s in p.read_text()] == []
    # scans.csv keeps the DICOM folders (quantification needs them), never the planted one
    scans = (study / "clinical" / "scans.csv").read_text()
    assert "a/PT" in scans and PLANTED not in scans
    assert PLANTED in (study / "private" / "init_skipped.csv").read_text()   # control


def test_patient_keys_join_a_missing_birth_date_only_when_unambiguous():
    from nethelpers.initpeople import dicom_patient_id, patient_keys

    def h(name, birth):
        return {"PatientName": name, "PatientBirthDate": birth}

    keys = patient_keys(
        ["A", "A", "A", "0", "0", "0", "", ""],
        ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s7"],
        [h("Doe^Jo", "19700101"), h("DOE^JO^^", ""), h("doe^jo", "19700101"),
         h("Roe^Al", "19500505"), h("Poe^Ed", "19600606"), h("", ""),
         h("Roe^Al", "19500505"), h("Poe^Ed", "19600606")])
    assert keys[0] == keys[1] == keys[2]         # case, trailing ^, missing birth date
    assert len({keys[3], keys[4], keys[5]}) == 3  # "0" shared: an empty header fits both
    assert keys[6] == keys[7] != keys[3]         # no PatientID: one key per study
    assert [dicom_patient_id(k) for k in keys] == ["A", "A", "A", "0", "0", "0", "", ""]


def test_parameters_header_commands_run_from_any_folder(run):
    out = run["out"]
    params = out / "parameters.yaml"
    lines = params.read_text().splitlines()
    commands = [shlex.split(line.lstrip("# ")) for line in lines[:10]
                if line.startswith("#   nethelpers ")]
    assert [c[:3] for c in commands] == [["nethelpers", "review", "-f"],
                                         ["nethelpers", "report", "-f"]]
    assert [Path(c[3]) for c in commands] == [params, params]      # absolute, space quoted
    assert "from any folder" in "\n".join(lines[:10])
    printed = [shlex.split(line.split(". ", 1)[1]) for line in run["done"].stdout.splitlines()
               if line.lstrip().startswith(("2. nethelpers", "3. nethelpers"))]
    assert [Path(c[3]) for c in printed] == [params, params]


def test_parameters_header_with_a_relative_file_says_study_folder():
    text = params_text("s", Path("/data/dicom"), Vocabulary(), params_file="parameters.yaml")
    assert "Then, from the study folder:" in text
    assert "#   nethelpers report -f parameters.yaml" in text


def test_scan_folders_are_kept_commented_and_never_printed(run):
    out = run["out"]
    lines = (out / "parameters.yaml").read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("scans:"))
    note = " ".join(" ".join(lines[at - 4:at]).replace("#", " ").split())
    assert "come from the DICOM tree" in note and "patient names" in note
    assert "report never shows them" in note
    scans = _csv(out / "clinical" / "scans.csv")
    dirs = [d for d in [*scans["pet_dir"], *scans["anat_dir"]] if d]
    assert len(dirs) == 20                     # 10 scans x (PET, CT/MR)
    printed = run["done"].stdout + run["done"].stderr
    assert [d for d in dirs if d in printed or Path(d).parent.as_posix() in printed] == []
