"""Nothing left out silently: SPECT scans, unknown series, runs from another folder.

The quantification of a real study meets scans it does not measure (SPECT), scans whose PET
series is named only by its UID, and users who do not run it from the DICOM root. Each is
either measured right or listed with its reason, and the commands say so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from nethelpers.config import params_from_dict
from nethelpers.exclusions import exclusion_table, format_exclusions
from nethelpers.quantify import quantify_cohort, scan_jobs

REPO = Path(__file__).resolve().parents[1]


def _scans_without_dirs(study: Path, out: Path) -> Path:
    """The demo's scans table with the folders blanked: only the series UIDs remain."""
    scans = pd.read_csv(study / "clinical/scans.csv", dtype=str, keep_default_na=False)
    scans["pet_dir"] = ""
    scans["anat_dir"] = ""
    path = out / "scans_uid_only.csv"
    scans.to_csv(path, index=False)
    return path


def test_series_found_by_uid_resolve_against_the_dicom_root(ideal_study, tmp_path,
                                                            monkeypatch):
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study), "tables": {
        "scans": str(_scans_without_dirs(ideal_study, tmp_path))}}})
    monkeypatch.chdir(tmp_path)  # not the DICOM root, not the repository
    jobs = scan_jobs(params)
    assert jobs and all(not job.problem for job in jobs)
    for job in jobs:
        folder = Path(job.pet)
        assert folder.is_absolute() and folder.is_dir()
        # an independent check: the folder's first file is a slice of that series
        first = sorted(folder.iterdir())[0]
        assert pydicom.dcmread(first, stop_before_pixels=True).SeriesInstanceUID == (
            job.series_uid)
    result = quantify_cohort(params, scheduler="sync", progress=False, jobs=jobs[:1])
    assert result.qc["status"].tolist() == ["ok"]


def test_an_unknown_series_uid_fails_with_the_fix(ideal_study, tmp_path):
    path = _scans_without_dirs(ideal_study, tmp_path)
    scans = pd.read_csv(path, dtype=str, keep_default_na=False)
    scans.loc[0, "pet_series_uid"] = "1.2.3.999"
    scans.to_csv(path, index=False)
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                         "tables": {"scans": str(path)}}})
    job = scan_jobs(params)[0]
    result = quantify_cohort(params, scheduler="sync", progress=False, jobs=[job])
    reason = result.qc["reason"].item()
    assert result.qc["status"].item() == "failed"
    assert "1.2.3.999" in reason and "pet_dir" in reason and "study.dicom" in reason


def test_a_spect_scan_without_its_series_is_listed_as_failed(ideal_study, tmp_path):
    scans = pd.read_csv(ideal_study / "clinical/scans.csv", dtype=str, keep_default_na=False)
    spect = scans.iloc[[0]].assign(scan_id="P001-HYNIC-SPECTCT", tracer="99mTc-HYNIC-TOC",
                                   modality="SPECT-CT", pet_dir="", pet_series_uid="",
                                   anat_dir="")
    path = tmp_path / "scans.csv"
    pd.concat([scans, spect]).to_csv(path, index=False)
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                         "tables": {"scans": str(path)}},
                               "quantify": {"output": str(tmp_path / "q")}})
    assert "P001-HYNIC-SPECTCT" in {j.scan_id for j in scan_jobs(params)}  # SPECT is measured
    result = quantify_cohort(params, scheduler="sync", progress=False)
    qc = result.qc.set_index("scan_id")
    assert len(qc) == len(scans) + 1  # every scan of the table has a QC row
    row = qc.loc["P001-HYNIC-SPECTCT"]
    assert (row["status"], row["tracer"], row["modality"]) == ("failed", "HYNIC-TOC",
                                                               "SPECT/CT")
    assert "neither pet_dir nor pet_series_uid" in row["reason"]
    assert (qc.drop(index="P001-HYNIC-SPECTCT")["status"] == "ok").all()
    table = exclusion_table(result.exclusions, result.qc)
    assert table[["stage", "id", "status"]].values.tolist() == [
        ["quantification", "P001-HYNIC-SPECTCT", "failed"]]


def test_exclusion_table_merges_data_checks_and_quantification():
    cohort_ex = pd.DataFrame([
        {"what": "patient", "id": "P004", "reason": "duplicate patient_id", "action": "excluded",
         "source": "patients.csv line 5"},
        {"what": "patient value", "id": "P001", "reason": "weight_kg '0'",
         "action": "set to missing", "source": "patients.csv line 2"},
        {"what": "scan", "id": "P004-FDG-PETCT", "reason": "patient P004 was excluded",
         "action": "excluded", "source": "scans.csv line 6"},
        {"what": "read", "id": "P004-FDG-PETCT/L1/R1",
         "reason": "scan P004-FDG-PETCT was excluded", "action": "excluded",
         "source": "reads.csv line 3"},
        {"what": "lesion", "id": "P003-L01", "reason": "truth 'maligant': unknown code",
         "action": "excluded", "source": "lesions.csv line 4"}])
    qc = pd.DataFrame([
        {"scan_id": "P004-FDG-PETCT", "status": "excluded", "reason": "scans table: …"},
        {"scan_id": "P002-FDG-PETCT", "status": "skipped", "reason": "no ROIs saved"},
        {"scan_id": "P003-FDG-PETCT", "status": "ok", "reason": ""}])
    table = exclusion_table(cohort_ex, qc)
    # the scan and read that only followed patient P004 are not repeated
    assert table[["stage", "what", "id", "status"]].values.tolist() == [
        ["data checks", "patient", "P004", "excluded"],
        ["data checks", "patient value", "P001", "set to missing"],
        ["data checks", "lesion", "P003-L01", "excluded"],
        ["quantification", "scan", "P002-FDG-PETCT", "skipped"]]
    assert table.loc[0, "reason"] == "duplicate patient_id (patients.csv line 5)"
    text = format_exclusions(table)
    assert text.splitlines()[0] == ("left out: 2 excluded (data checks), 1 set to missing "
                                    "(data checks), 1 skipped (quantification)")
    assert "  skipped  scan    P002-FDG-PETCT: no ROIs saved" in text
    assert format_exclusions(exclusion_table(None, None)) == ""


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nethelpers", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_quantify_command_from_another_folder_lists_and_fails_when_nothing_is_measured(
        ideal_study, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    uid_only = _scans_without_dirs(ideal_study, tmp_path)
    params = tmp_path / "p.yaml"
    params.write_text("study:\n  name: t\n"
                      f"  data_root: {ideal_study}\n  tables:\n    scans: {uid_only}\n"
                      f"quantify:\n  output: {tmp_path / 'q'}\n  scheduler: sync\n")
    done = _run(["quantify", "-f", str(params), "-q"], elsewhere)
    assert done.returncode == 0, done.stderr
    qc = pd.read_csv(tmp_path / "q" / "qc.csv")
    assert (qc["status"] == "ok").all() and len(qc) == len(pd.read_csv(uid_only))
    # no ROIs at all: every scan is listed as skipped and the command fails
    empty = tmp_path / "no_rois.yaml"
    empty.write_text(params.read_text().replace(
        "  tables:", f"  rois: {tmp_path / 'empty_store'}\n  tables:"))
    done = _run(["quantify", "-f", str(empty), "-q"], elsewhere)
    assert done.returncode == 1
    assert "nothing was measured" in done.stderr
    n = len(qc)
    assert f"left out: {n} skipped (quantification)" in done.stdout
    assert done.stdout.count("no ROIs saved for this scan") == n
