"""Notebook 02 (lesion review) executed by papermill on the small demo study."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from nethelpers.report import run_report

pytestmark = pytest.mark.slow


def test_notebook_02_writes_review_status_and_a_gallery_of_every_scan(demo_study, tmp_path):
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    params = tmp_path / "p.yaml"
    params.write_text(
        f"study:\n  data_root: {demo_study}\n  rois: {tmp_path / 'rois'}\n"
        f"report:\n  output: {tmp_path / 'out'}\n  notebooks: [02_roi_review]\n")
    out = run_report(params, progress=False)
    status = pd.read_csv(out / "tables" / "review_status.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert sorted(status["scan_id"]) == sorted(scans["scan_id"])
    assert (status["version"] == 1).all() and (status["reader"] == "R1").all()
    lesions = pd.read_csv(demo_study / "truth" / "lesions.csv")
    per_patient = lesions.groupby("patient_id").size()
    expected = scans["patient_id"].map(per_patient).fillna(0).astype(int)
    assert status.set_index("scan_id").loc[scans["scan_id"], "lesion_vois"].tolist() == (
        expected.tolist())
    assert (status["references"] == "liver, spleen").all()
    gallery = pd.read_csv(out / "tables" / "gallery_index.csv")["figure"]
    for scan_id in scans["scan_id"]:
        for kind in ("gallery", "mip"):
            assert f"{kind}_{scan_id}.png" in set(gallery)
            assert (out / "figures" / f"{kind}_{scan_id}.png").stat().st_size > 5000
    assert "<img" in (out / "02_roi_review.html").read_text()
