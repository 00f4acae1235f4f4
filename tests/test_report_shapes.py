"""Any real study through the report: the shapes real studies have, each to a complete report.

A study with one tracer only, without PET/MR, of a single patient, without reads, without a
liver VOI, and a study straight from ``nethelpers init`` (DICOM and headers only: no ROIs,
no truth, no reads) each run all five notebooks to the end. Sections without their input
show what they wait for, and index.html lists them; nothing that can be computed is lost.

The six reports run once per session, two at a time, from a folder that is neither the
repository nor the study (every path must resolve against its documented root).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from nethelpers.rois import RoiStore
from tests.shapes import NOTEBOOKS, SHAPES

ALL = (*SHAPES, "init")

pytestmark = pytest.mark.slow


def _waiting(run: dict) -> pd.DataFrame:
    path = run["out"] / "tables" / "analyses_waiting.csv"
    return (pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file()
            else pd.DataFrame(columns=["section", "waits_for"]))


def _table(run: dict, name: str) -> pd.DataFrame:
    return pd.read_csv(run["out"] / "tables" / f"{name}.csv")


@pytest.mark.parametrize("shape", ALL)
def test_every_shape_gives_a_complete_report(shape_reports, shape):
    run = shape_reports[shape]
    done = run["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((run["out"] / "provenance.json").read_text())
    assert record["status"] == "ok"
    assert record["notebooks_completed"] == NOTEBOOKS
    for name in NOTEBOOKS:
        assert (run["out"] / f"{name}.html").is_file()
    index = (run["out"] / "index.html").read_text()
    assert "Report incomplete" not in index
    assert f"report: {run['out'] / 'index.html'}" in done.stdout


def test_a_study_without_reads_measures_and_waits_for_reads(shape_reports):
    run = shape_reports["no_reads"]
    waiting = _waiting(run)
    reads_notes = waiting[waiting["waits_for"].str.contains("reads table")]
    # every accuracy and detection section waits, naming the table and where it goes
    assert len(reads_notes) >= 3
    assert reads_notes["waits_for"].str.contains("reads/reads.csv").all()
    assert set(reads_notes["section"].str[:2]) >= {"04", "05"}
    # ... while the quantification is complete
    qc = _table(run, "quantification_qc")
    assert (qc["status"] == "ok").all()
    index = (run["out"] / "index.html").read_text()
    assert "Analyses waiting for data" in index
    assert "wait for data:" in run["done"].stdout


def test_a_study_without_liver_vois_measures_lesions_and_waits_for_the_liver(shape_reports):
    run = shape_reports["no_liver"]
    waiting = _waiting(run)
    assert waiting["waits_for"].str.contains("liver reference VOI").any()
    m = pd.read_csv(run["study"].parent / "q_no_liver" / "measurements.csv")
    store = RoiStore(run["study"] / "rois")
    expected = sum(int((store.load(s).table["roi"] == "lesion").sum()) for s in store.scans())
    lesions = m[m["roi"] == "lesion"]
    assert len(lesions) == expected > 0  # every lesion VOI of the store is measured
    assert lesions["suv_max"].notna().all()
    assert lesions["tb_liver"].isna().all() and not (m["roi"] == "liver").any()


def test_a_single_tracer_study_has_no_tracer_comparison(shape_reports):
    run = shape_reports["one_tracer"]
    accuracy = _table(run, "accuracy_patient_level")
    assert set(accuracy["tracer"]) == {"DOTATATE"}
    waiting = _waiting(run)
    assert waiting["section"].str.startswith("04").any()


def test_a_study_without_petmr_waits_only_for_the_petmr_comparison(shape_reports):
    run = shape_reports["no_petmr"]
    accuracy = _table(run, "accuracy_patient_level")
    assert set(accuracy["modality"]) == {"PET/CT"}
    waiting = _waiting(run)
    assert waiting["section"].str.contains("PET/MR").any()
    assert not waiting["waits_for"].str.contains("reads table|liver reference").any()


def test_a_single_patient_study(shape_reports):
    run = shape_reports["single_patient"]
    inventory = _table(run, "scan_inventory")
    assert inventory["patient_id"].nunique() == 1


def test_a_study_from_init_reports_what_it_waits_for(shape_reports, ideal_study):
    run = shape_reports["init"]
    waiting = _waiting(run)
    text = " ".join(waiting["waits_for"])
    for needed in ("nethelpers review", "lesions table", "reads table"):
        assert needed in text, needed
    left_out = _table(run, "left_out")
    n_scans = len(pd.read_csv(ideal_study / "clinical" / "scans.csv"))
    assert len(left_out) == n_scans
    assert (left_out["status"] == "skipped").all()
    assert left_out["reason"].str.contains("no ROIs saved").all()
    assert f"left out: {n_scans} skipped (quantification)" in run["done"].stdout
