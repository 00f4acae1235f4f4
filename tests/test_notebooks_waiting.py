"""Notebooks 01-03 on studies that are not complete yet: each section waits, none fails.

Two studies derived from the ideal 3-patient demo: a new study (patients partly filled in, no
ROIs saved, no lesions and no reads table) and the ``no_liver`` shape (every ROI set without
its liver VOI). The report must complete, list the sections that wait and write the tables
of those that can run, with the numbers of the inputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from nethelpers.report import run_report
from tests.shapes import make_shape

pytestmark = pytest.mark.slow

NOTEBOOKS = "[01_cohort, 02_roi_review, 03_quantification]"


def _params(path: Path, root: Path, tmp: Path, rois: Path | None = None) -> Path:
    rois_line = f"  rois: {rois}\n" if rois else ""
    path.write_text(f"study:\n  name: {root.name}\n  data_root: {root}\n{rois_line}"
                    f"report:\n  output: {tmp / 'out'}\n  notebooks: {NOTEBOOKS}\n"
                    f"quantify:\n  output: {tmp / 'q'}\n  scheduler: sync\n")
    return path


def _waiting(out: Path) -> dict[str, str]:
    rows = pd.read_csv(out / "tables/analyses_waiting.csv")
    return dict(zip(rows["section"], rows["waits_for"], strict=True))


def _summary(out: Path, notebook: str) -> dict[str, str]:
    rows = pd.read_csv(out / f"tables/summary_{notebook}.csv", dtype=str)
    return dict(zip(rows["item"], rows["value"], strict=True))


def test_new_study_without_rois_lesions_reads_or_groups(ideal_study, tmp_path):
    root = tmp_path / "new_study"
    (root / "clinical").mkdir(parents=True)
    (root / "dicom").symlink_to(ideal_study / "dicom", target_is_directory=True)
    (root / "rois").mkdir()
    shutil.copy(ideal_study / "clinical/scans.csv", root / "clinical/scans.csv")
    patients = pd.read_csv(ideal_study / "clinical/patients.csv", dtype=str,
                           keep_default_na=False)
    blank = patients["patient_id"] != patients["patient_id"].iloc[0]
    patients.loc[blank, ["group", "final_diagnosis", "disease_present", "age"]] = ""
    patients.to_csv(root / "clinical/patients.csv", index=False)
    out = run_report(_params(tmp_path / "p.yaml", root, tmp_path), progress=False)

    waiting = _waiting(out)
    assert set(waiting) == {"02 · Review status", "02 · Lesion gallery",
                            "03 · Liver reference", "03 · Uptake by lesion site",
                            "03 · Uptake by patient group", "03 · Krenning score",
                            "03 · PRRT eligibility", "03 · NETPET grade"}
    n_scans = len(pd.read_csv(root / "clinical/scans.csv"))
    assert f"({n_scans} skipped)" in waiting["03 · Liver reference"]
    table1 = pd.read_csv(out / "tables/table1.csv")
    n_blank = int(blank.sum())
    assert table1.columns[-2:].tolist() == [f"Not recorded (n = {n_blank})",
                                             f"Overall (n = {len(patients)})"]
    status = pd.read_csv(out / "tables/review_status.csv")
    assert len(status) == n_scans and not status["saved"].any()
    assert _summary(out, "02_roi_review") == {"Scans with saved ROIs": "0", "Lesion VOIs": "0",
                                              "Gallery figures": "0"}
    assert _summary(out, "03_quantification") == {
        "Scans measured": "0", "Scans not measured": str(n_scans), "Lesion VOIs": "0",
        "PRRT-eligible patients (imaging)": "waiting for data"}
    for table in ("uptake_by_site", "liver_reference", "prrt_eligibility", "gallery_index"):
        assert not (out / f"tables/{table}.csv").exists(), table


def test_no_liver_shape_waits_for_the_liver_and_measures_the_rest(ideal_study, tmp_path):
    root = make_shape(ideal_study, "no_liver", tmp_path / "no_liver")
    out = run_report(_params(tmp_path / "p.yaml", root, tmp_path), progress=False)
    waiting = _waiting(out)
    assert set(waiting) == {"03 · Liver reference", "03 · Krenning score",
                            "03 · PRRT eligibility", "03 · NETPET grade"}
    assert all("no scan has a liver reference voi" in text.lower() for text in waiting.values())
    measured = pd.read_csv(tmp_path / "q/measurements.csv")
    lesions = measured[measured["roi"] == "lesion"]
    assert len(lesions) > 0 and (measured["roi"] != "liver").all()
    by_site = pd.read_csv(out / "tables/uptake_by_site.csv")
    by_group = pd.read_csv(out / "tables/uptake_by_group.csv")
    assert by_site["n_lesions"].sum() == by_group["n_lesions"].sum() == len(lesions)
    assert by_group["tb_liver_median"].isna().all()              # no liver: no T/B
    assert _summary(out, "03_quantification")["Lesion VOIs"] == str(len(lesions))
