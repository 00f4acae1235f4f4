"""Review status (notebook 02) and the study gallery's choice of scans and its failures."""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.config import load_params
from nethelpers.plots.gallery import study_gallery
from nethelpers.quantify import scan_jobs
from nethelpers.reviewstatus import STATUS_COLUMNS, review_counts, review_status
from nethelpers.rois import RoiStore, table_from_rows


def _labels(*labels: int) -> sitk.Image:
    arr = np.zeros((4, 5, 6), dtype=np.uint16)
    for k, label in enumerate(labels):
        arr[k, :2, :2] = label
    return sitk.GetImageFromArray(arr)


def _table(reader: str, lesions: int) -> pd.DataFrame:
    rows = [{"label": 1, "roi": "liver", "method": "sphere", "reader": reader},
            {"label": 2, "roi": "spleen", "method": "sphere", "reader": reader}]
    rows += [{"label": 10 + k, "roi": "lesion", "lesion_id": f"P1-L{k}", "method": "manual",
              "reader": reader} for k in range(lesions)]
    return table_from_rows(rows)


def test_review_status_of_saved_waiting_and_unknown_scans(tmp_path):
    store = RoiStore(tmp_path / "rois")
    store.save("S1", _labels(1, 2, 10, 11), _table("R1", 2), reader="R1",
               reads=pd.DataFrame({"lesion_id": ["P1-L0", "P1-L1"],
                                   "call": ["positive", ""]}))
    store.save("S1", _labels(1, 2, 10), _table("R1", 1), reader="R1", parent=1, saved_by="R2")
    store.save("ZZ", _labels(1), _table("R1", 0).iloc[:1], reader="R1")
    out = review_status(store, ["S1", "S2"])
    assert list(out.columns) == list(STATUS_COLUMNS)
    assert out["scan_id"].tolist() == ["S1", "S2", "ZZ"]
    s1, s2, zz = (out.iloc[i] for i in range(3))
    # S1: the newest version (2, of R1's set, saved by R2) with one lesion; its reads were not
    # carried over
    assert (s1["saved"], s1["version"], s1["reader"]) == (True, 2, "R1")
    assert (s1["lesion_vois"], s1["references"], s1["calls_recorded"]) == (1, "liver, spleen", 0)
    assert s1["note"] == ""
    assert (s2["saved"], s2["lesion_vois"]) == (False, 0) and pd.isna(s2["version"])
    assert "no ROIs saved yet" in s2["note"]
    assert zz["saved"] and zz["references"] == "liver" and "not in the scans table" in zz["note"]
    first = review_status(store, ["S1"]).set_index("scan_id")
    assert first.loc["S1", "version"] == 2
    only = review_status(store)                       # without the study's scans: no flags
    assert only["scan_id"].tolist() == ["S1", "ZZ"] and (only["note"] == "").all()


def test_review_status_shows_the_readers_set_and_says_when_it_falls_back(tmp_path):
    store = RoiStore(tmp_path / "rois")
    store.save("S1", _labels(1, 2, 10, 11), _table("R1", 2), reader="R1",
               saved_at="2025-01-09T10:00:00+00:00")
    store.save("S1", _labels(1, 10), _table("R2", 1).iloc[[0, 2]], reader="R2",
               saved_at="2025-01-09T11:00:00+00:00")                               # newer
    store.save("S2", _labels(1, 10), _table("R2", 1).iloc[[0, 2]], reader="R2")
    # no reader named: the first reader's set by name, though R2 saved later (a fixed choice)
    first = review_status(store).set_index("scan_id")
    assert first.loc["S1", ["reader", "lesion_vois", "references"]].tolist() == [
        "R1", 2, "liver, spleen"]
    r1 = review_status(store, ["S1", "S2"], reader="R1").set_index("scan_id")
    assert r1.loc["S1", ["version", "reader", "lesion_vois", "note"]].tolist() == [
        1, "R1", 2, ""]
    assert r1.loc["S2", "reader"] == "R2"          # R1 drew nothing on S2: R2's set, stated
    assert r1.loc["S2", "note"] == ("reader R1 drew no ROIs on this scan; used reader R2's "
                                    "newest set (v1)")
    assert review_counts(r1) == {"Scans with saved ROIs": 2, "Lesion VOIs": 3}


def test_review_counts_count_the_study_scans_only(tmp_path):
    store = RoiStore(tmp_path / "rois")
    store.save("S1", _labels(1, 2, 10, 11), _table("R1", 2), reader="R1")
    store.save("ZZ", _labels(1, 10), _table("R1", 1).iloc[[0, 2]], reader="R1")  # not in study
    status = review_status(store, ["S1", "S2"])
    assert "nethelpers review -f <parameters file> --patient" in status.iloc[1]["note"]
    assert review_counts(status) == {"Scans with saved ROIs": 1, "Lesion VOIs": 2,
                                     "Scans with saved ROIs not in the scans table": 1}
    clean = review_status(store, ["S1", "ZZ"])
    assert review_counts(clean) == {"Scans with saved ROIs": 2, "Lesion VOIs": 3}
    nothing = review_status(RoiStore(tmp_path / "none"), ["S1"])
    assert review_counts(nothing) == {"Scans with saved ROIs": 0, "Lesion VOIs": 0}


def test_calls_recorded_counts_the_lesions_with_a_call(tmp_path):
    store = RoiStore(tmp_path / "rois")
    store.save("S1", _labels(1, 2, 10, 11), _table("R1", 2), reader="R1",
               reads=pd.DataFrame({"lesion_id": ["P1-L0", "P1-L1"],
                                   "call": ["positive", ""]}))
    assert review_status(store).loc[0, "calls_recorded"] == 1


def test_review_status_of_an_empty_store(tmp_path):
    empty = review_status(RoiStore(tmp_path / "nothing"))
    assert empty.empty and list(empty.columns) == list(STATUS_COLUMNS)
    waiting = review_status(RoiStore(tmp_path / "nothing"), ["A", "B"])
    assert waiting["saved"].tolist() == [False, False]
    assert waiting["lesion_vois"].sum() == 0


@pytest.fixture(scope="module")
def ideal(ideal_study, tmp_path_factory):
    """The ideal demo study with a copy of its ROI store (one scan's ROIs removed)."""
    tmp = tmp_path_factory.mktemp("gallery")
    shutil.copytree(ideal_study / "rois", tmp / "rois")
    (tmp / "p.yaml").write_text(f"study:\n  name: t\n  data_root: {ideal_study}\n"
                                f"  rois: {tmp / 'rois'}\n")
    params = load_params(tmp / "p.yaml")
    removed = scan_jobs(params)[-1].scan_id
    shutil.rmtree(tmp / "rois" / removed)
    return params, removed


@pytest.mark.slow
def test_gallery_draws_scans_with_saved_rois_and_lists_unreadable_ones(ideal):
    params, removed = ideal
    jobs = scan_jobs(params)
    assert removed in {j.scan_id for j in jobs}
    patient = jobs[0].patient_id
    mine = [j for j in jobs if j.patient_id == patient and j.scan_id != removed]
    broken = dataclasses.replace(mine[0], pet=str(params.study.data_root / "dicom/DOE_JOHN"))
    skipped: dict[str, str] = {}
    names = [name for name, _ in study_gallery(params, jobs=[broken, *mine[1:]],
                                               progress=False, skipped=skipped)]
    assert names == [f"{kind}_{j.scan_id}" for j in mine[1:] for kind in ("gallery", "mip")]
    assert list(skipped) == [broken.scan_id]
    assert "DOE_JOHN" not in skipped[broken.scan_id] and "/" not in skipped[broken.scan_id]
    every = [name for name, _ in study_gallery(params, progress=False)]
    assert f"gallery_{removed}" not in every                 # no saved ROIs: not drawn
    assert len(every) == 2 * (len(jobs) - 1)
    with pytest.raises(Exception):                           # noqa: B017 - any failure
        list(study_gallery(params, jobs=[broken], progress=False))


def test_calls_recorded_counts_the_study_reads_table(tmp_path):
    """The calls of a study live in its reads table (cohort.reads), not in the ROI store."""
    store = RoiStore(tmp_path / "rois")
    store.save("S1", _labels(1, 2, 10, 12), _table("R1", 3), reader="R1",
               reads=pd.DataFrame({"lesion_id": ["P1-L2"], "call": ["negative"]}))
    store.save("S2", _labels(1, 2, 10), _table("R1", 1), reader="R1")
    reads = pd.DataFrame({
        "scan_id": ["S1", "S1", "S1", "S1", "S2", "S3"],
        "lesion_id": ["P1-L0", "P1-L0", "P1-L1", "P1-L1", "P1-L0", "P1-L0"],
        "reader": ["R1", "R2", "R1", "R2", "R1", "R1"],
        "call": ["positive", "equivocal", None, " ", "negative", "positive"],
    })
    assert review_status(store)["calls_recorded"].tolist() == [1, 0]       # store only
    status = review_status(store, ["S1", "S2", "S3"], reads=reads).set_index("scan_id")
    # S1: L0 (two readers, one lesion) + L2 from the store; L1 has only blank calls
    assert status["calls_recorded"].to_dict() == {"S1": 2, "S2": 1, "S3": 0}


def test_calls_recorded_of_the_demo_study(ideal_study, tmp_path):
    """Every saved demo scan counts the lesions called in reads/reads.csv (it printed 0)."""
    from nethelpers.cohort import load_cohort

    (tmp_path / "p.yaml").write_text(f"study:\n  name: t\n  data_root: {ideal_study}\n")
    params = load_params(tmp_path / "p.yaml")
    status = review_status(RoiStore(params.study.rois),
                           reads=load_cohort(params).reads).set_index("scan_id")
    reads = pd.read_csv(ideal_study / "reads" / "reads.csv", dtype=str)   # independent truth
    expected = reads[reads["call"].fillna("").str.strip() != ""].groupby("scan_id")[
        "lesion_id"].nunique()
    saved = expected[expected.index.isin(status.index)]
    assert len(saved) >= 3 and saved.min() > 0
    assert status.loc[saved.index, "calls_recorded"].tolist() == saved.tolist()
