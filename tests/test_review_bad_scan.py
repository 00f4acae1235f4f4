"""One bad scan never stops the report: notebook 02 and quantify list it as failed and go on."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.config import load_params
from nethelpers.quantify import ScanJob, quantify_cohort
from nethelpers.report import run_report
from nethelpers.reviewstatus import failures_note, review_counts, review_failures, review_status
from nethelpers.rois import RoiStore, RoiStoreError, table_from_rows

ABSOLUTE = re.compile(r"(?:^|[\s'\"(=])/[\w.-]")


@pytest.fixture(scope="module")
def broken_study(ideal_study, tmp_path_factory):
    """The ideal study with one scan's PET folder deleted and another's label map changed."""
    tmp = tmp_path_factory.mktemp("bad_scan")
    root = tmp / "study"
    shutil.copytree(ideal_study, root)
    scans = pd.read_csv(root / "clinical" / "scans.csv")
    gone = scans.iloc[1]                                   # its PET folder is deleted
    changed = scans[scans["patient_id"] != gone["patient_id"]].iloc[0]
    shutil.rmtree(root / gone["pet_dir"])
    version = root / "rois" / changed["scan_id"] / "R1" / "v000001"     # the demo reader
    image = sitk.ReadImage(str(version / "labels.nrrd"))
    labels = sitk.GetArrayFromImage(image)
    labels[labels == labels.max()] = 0                     # a lesion erased by hand
    edited = sitk.GetImageFromArray(labels)
    edited.CopyInformation(image)
    sitk.WriteImage(edited, str(version / "labels.nrrd"), useCompression=True)
    recorded = json.loads((version / "meta.json").read_text())["files"]["labels.nrrd"]
    assert hashlib.sha256((version / "labels.nrrd").read_bytes()).hexdigest() != recorded
    params = tmp / "p.yaml"
    params.write_text(f"study:\n  name: bad\n  data_root: {root}\n"
                      f"report:\n  output: {tmp / 'out'}\n  notebooks: [02_roi_review]\n"
                      "  exports: []\n"
                      f"quantify:\n  output: {tmp / 'q'}\n")
    return {"params": params, "root": root, "tmp": tmp, "scans": scans,
            "gone": gone["scan_id"], "changed": changed["scan_id"]}


def _assert_reasons(reasons: pd.Series, study: dict) -> None:
    """The two scans, each with the failing field, and no path."""
    assert sorted(reasons.index) == sorted([study["gone"], study["changed"]])
    assert reasons[study["gone"]].startswith("pet_dir of the scans table: the PET series "
                                             "folder is not there")
    assert "labels.nrrd" in reasons[study["changed"]]
    assert "checksum" in reasons[study["changed"]]
    for reason in reasons:
        assert str(study["tmp"]) not in reason and not ABSOLUTE.search(reason), reason


@pytest.mark.slow
def test_notebook_02_lists_the_bad_scans_as_failed_and_draws_the_others(broken_study):
    study = broken_study
    out = run_report(study["params"], progress=False)          # completes: no exception
    failed = pd.read_csv(out / "tables" / "review_failed.csv").set_index("scan_id")
    assert (failed["status"] == "failed").all()
    _assert_reasons(failed["reason"], study)
    scans = study["scans"].set_index("scan_id")
    assert failed["patient_id"].tolist() == scans.loc[failed.index, "patient_id"].tolist()
    others = sorted(set(scans.index) - {study["gone"], study["changed"]})
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert figures == {f"{kind}_{s}.png" for s in others for kind in ("gallery", "mip")}
    status = pd.read_csv(out / "tables" / "review_status.csv").set_index("scan_id")
    assert status.loc[study["changed"], "note"].startswith("failed: RoiStoreError: ")
    assert (status.loc[others, "note"].fillna("") == "").all()
    summary = pd.read_csv(out / "tables" / "summary_02_roi_review.csv").set_index("item")
    assert str(summary.loc["Scans that could not be reviewed", "value"]) == "2"
    assert str(summary.loc["Gallery figures", "value"]) == str(2 * len(others))
    html = (out / "02_roi_review.html").read_text()
    assert "2 scans could not be reviewed" in html
    for artefact in (html, (out / "notebooks" / "02_roi_review.ipynb").read_text()):
        assert str(study["root"]) not in artefact


@pytest.mark.slow
def test_quantify_fails_the_same_two_scans_only(broken_study):
    study = broken_study
    result = quantify_cohort(load_params(study["params"]), scheduler="sync", progress=False)
    qc = result.qc.set_index("scan_id")
    failed = qc[qc["status"] == "failed"]
    _assert_reasons(failed["reason"], study)
    assert (qc.drop(failed.index)["status"] == "ok").all()
    assert len(qc) == len(study["scans"])
    measured = set(result.measurements["scan_id"])
    assert measured == set(study["scans"]["scan_id"]) - set(failed.index)


def test_review_status_lists_an_unreadable_version_as_failed_and_goes_on(tmp_path):
    store = RoiStore(tmp_path / "DOE_JOHN_rois")
    arr = np.zeros((4, 5, 6), dtype=np.uint16)
    arr[0, :2, :2], arr[1, :2, :2] = 1, 11
    table = table_from_rows([{"label": 1, "roi": "liver", "method": "sphere", "reader": "R1"},
                             {"label": 11, "roi": "lesion", "lesion_id": "P1-L1",
                              "method": "manual", "reader": "R1"}])
    for scan in ("S1", "S2"):
        store.save(scan, sitk.GetImageFromArray(arr), table, reader="R1")
    edited = arr.copy()
    edited[1] = 0                                           # the lesion erased by hand
    sitk.WriteImage(sitk.GetImageFromArray(edited), str(store.root / "S2/R1/v000001/labels.nrrd"))
    with pytest.raises(RoiStoreError):                       # not asked to list failures
        review_status(store, ["S1", "S2", "S3"])
    failed: dict[str, str] = {}
    status = review_status(store, ["S1", "S2", "S3"], failed=failed).set_index("scan_id")
    assert list(failed) == ["S2"] and failed["S2"].startswith("RoiStoreError: ")
    assert "labels.nrrd" in failed["S2"] and "checksum" in failed["S2"]
    assert str(tmp_path) not in failed["S2"] and "DOE_JOHN" not in failed["S2"]
    assert status.loc["S2", "note"] == "failed: " + failed["S2"]
    assert (status.loc["S2", "version"], status.loc["S2", "reader"]) == (1, "R1")
    assert status.loc["S1", "lesion_vois"] == 1 and status.loc["S1", "note"] == ""
    jobs = [ScanJob("S2", "P1", "FDG", "PET/CT", "", None, str(store.root))]
    failures = review_failures(failed, jobs)
    assert failures.to_dict("records") == [{"scan_id": "S2", "patient_id": "P1",
                                            "tracer": "FDG", "modality": "PET/CT",
                                            "status": "failed", "reason": failed["S2"]}]
    assert review_counts(status.reset_index(), failures) == {
        "Scans with saved ROIs": 1, "Lesion VOIs": 1, "Scans that could not be reviewed": 1}
    assert failures_note(failures).startswith("**1 scan could not be reviewed** (S2)")
    none = review_failures({}, jobs)
    assert none.empty and list(none.columns) == list(failures.columns)
    assert "Every PET scan" in failures_note(none)
