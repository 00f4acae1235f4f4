"""Quantification against the demo generator's ground truth, and the cohort run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from scipy import ndimage

from nethelpers.cli import main
from nethelpers.config import params_from_dict
from nethelpers.demo.anatomy import Tissue, paint
from nethelpers.demo.cohort_sim import simulate_patient
from nethelpers.demo.imaging import scan_grid, true_suv_image
from nethelpers.demo.readers import LESION_ROI0
from nethelpers.measures import suv_peak
from nethelpers.quantify import (
    MEASUREMENT_COLUMNS,
    QuantifyError,
    QuantifyOptions,
    load_results,
    quantify_cohort,
    quantify_scan,
    scan_jobs,
)
from nethelpers.rois import RoiStore, table_from_rows

REQUIRED = ["patient_id", "scan_id", "tracer", "modality", "roi", "lesion_id", "suv_max",
            "suv_mean", "suv_peak", "volume_ml", "mtv_ml", "tla", "tb_liver", "tb_spleen",
            "tb_shell", "krenning"]


def _params(root, out, **quantify):
    return params_from_dict({"study": {"name": "t", "data_root": str(root)},
                             "quantify": {"output": str(out), **quantify}})


def _patient_scan(scan_id: str):
    p = simulate_patient(int(scan_id[1:4]) - 1, 0)
    return p, next(s for s in p.scans if s.scan_id == scan_id)


# --------------------------------------------------------------------------------------------
# ground truth
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ideal_measured(ideal_study, tmp_path_factory):
    params = _params(ideal_study, tmp_path_factory.mktemp("q"))
    return quantify_cohort(params, scheduler="sync", progress=False)


def test_blur_free_spheres_give_exact_suvmax_and_suvpeak(ideal_study, ideal_measured):
    """Where a lesion is the hottest thing in its VOI and wide enough for the 1 cm³ sphere to
    fit in its uniform core (diameter >= 22 mm on 4 mm voxels), SUVmax and SUVpeak are its
    true SUV (to the int16 storage precision, 2e-4)."""
    m = ideal_measured.measurements
    exact = 0
    for scan_id, rows in m.groupby("scan_id"):
        p, scan = _patient_scan(scan_id)
        grid = scan_grid(p, scan, "PT")
        truth = true_suv_image(p, scan, grid)
        labels = RoiStore(ideal_study / "rois").load(scan_id).array
        spacing = grid.spacing
        for row in rows.itertuples():
            voi = labels == row.label
            # every ROI: the measured values are those of the true image
            assert row.suv_max == pytest.approx(truth[voi].max(), rel=2e-4, abs=1e-4)
            assert row.suv_peak == pytest.approx(suv_peak(truth, voi, spacing)[0], rel=2e-4)
            assert row.suv_mean == pytest.approx(truth[voi].mean(), rel=2e-4)
            if row.roi != "lesion":
                continue
            n = row.label - LESION_ROI0
            lesion = p.lesions[n - 1]
            true = lesion.suv[scan.tracer] * (0.85 if scan.modality == "PET/MR"
                                              and lesion.in_bone else 1.0)
            if lesion.diameter_mm >= 22 and np.isclose(truth[voi].max(), true, rtol=1e-6):
                assert row.suv_max == pytest.approx(true, rel=2e-4)
                assert row.suv_peak == pytest.approx(true, rel=2e-4)
                exact += 1
    assert exact >= 3


def test_reference_spheres_measure_the_true_organ_suv(ideal_study, ideal_measured):
    truth = pd.read_csv(ideal_study / "truth" / "scans.csv").set_index("scan_id")
    m = ideal_measured.measurements
    liver = m[m["roi"] == "liver"].set_index("scan_id")
    # the 3 cm liver sphere holds pure liver: exact on a blur-free, noise-free scan
    np.testing.assert_allclose(liver["suv_mean"], truth.loc[liver.index, "true_suv_liver"],
                               rtol=2e-4)
    lesions = m[m["roi"] == "lesion"]
    np.testing.assert_allclose(lesions["tb_liver"],
                               lesions["suv_max"] / lesions["liver_suv_mean"], rtol=1e-12)
    assert ideal_measured.qc["status"].eq("ok").all()


def test_large_uniform_organ_mean_within_two_percent(demo_study, tmp_path):
    """Noise and blur on: the whole liver (eroded 2 voxels, lesions out) measures its truth."""
    truth = pd.read_csv(demo_study / "truth" / "scans.csv").set_index("scan_id")
    jobs = scan_jobs(_params(demo_study, tmp_path))
    store = RoiStore(tmp_path / "rois")
    checked = []
    for job in jobs[:4]:
        p, scan = _patient_scan(job.scan_id)
        grid = scan_grid(p, scan, "PT")
        tissue = paint(grid, scan.pose, p.anatomy)
        liver = ndimage.binary_erosion(tissue == int(Tissue.LIVER), iterations=2)
        labels = np.where(liver, 1, 0).astype(np.uint16)
        store.save(job.scan_id, grid.to_sitk(labels),
                   table_from_rows([{"label": 1, "roi": "liver", "method": "manual",
                                     "reader": "truth"}]), reader="truth")
        out = quantify_scan(dataclasses.replace(job, rois=str(store.root)))
        row = out.rows.iloc[0]
        assert row["volume_ml"] > 300
        assert row["suv_mean"] == pytest.approx(truth.loc[job.scan_id, "true_suv_liver"],
                                                rel=0.02)
        checked.append(job.scan_id)
    assert len(checked) == 4


def test_sul_is_suv_times_lean_over_total_body_mass(demo_study, tmp_path):
    import pydicom

    from nethelpers.dicom.bodysize import lbm_janmahasatian_kg

    params = _params(demo_study, tmp_path)
    job = scan_jobs(params)[0]
    result = quantify_cohort(params, scheduler="sync", progress=False, jobs=[job])
    qc = result.qc.iloc[0]
    first = pydicom.dcmread(sorted(p for p in (demo_study / job.pet).iterdir())[0],
                            stop_before_pixels=True)
    patients = pd.read_csv(demo_study / "clinical" / "patients.csv").set_index("patient_id")
    height = float(first.get("PatientSize") or patients.loc[job.patient_id, "height_cm"] / 100)
    sex = first.get("PatientSex") or patients.loc[job.patient_id, "sex"]
    weight = float(first.PatientWeight)
    factor = lbm_janmahasatian_kg(weight, height, sex) / weight
    assert qc["sul_factor"] == pytest.approx(factor, rel=1e-12)
    m = result.measurements
    np.testing.assert_allclose(m["sul_max"], m["suv_max"] * factor, rtol=1e-12)
    np.testing.assert_allclose(m["sul_peak"], m["suv_peak"] * factor, rtol=1e-12)
    # the SUL does not depend on the norm the suv_* columns use
    for norm in ("lbm", "bsa", "ibw"):
        other = quantify_scan(job, QuantifyOptions(norm=norm))
        np.testing.assert_allclose(other.rows["sul_max"], m["sul_max"], rtol=1e-6)
        assert not np.allclose(other.rows["suv_max"], m["suv_max"], rtol=1e-3)


# --------------------------------------------------------------------------------------------
# the cohort run
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_sync(demo_study, tmp_path_factory):
    params = _params(demo_study, tmp_path_factory.mktemp("q"))
    return params, quantify_cohort(params, scheduler="sync", progress=False)


def test_cohort_measures_every_roi_of_every_scan(demo_study, demo_sync):
    _, result = demo_sync
    m = result.measurements
    assert list(m.columns[:len(MEASUREMENT_COLUMNS)]) == list(MEASUREMENT_COLUMNS)
    assert set(REQUIRED) <= set(m.columns)
    store = RoiStore(demo_study / "rois")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert sorted(m["scan_id"].unique()) == sorted(scans["scan_id"])
    expected_rows = sum(len(store.load(s).table) for s in scans["scan_id"])
    assert len(m) == expected_rows
    assert (m["roi_version"] == 1).all()
    assert result.qc["status"].eq("ok").all() and len(result.qc) == len(scans)
    lesions = m[(m["roi"] == "lesion") & (m["quantity"] == "SUV")]   # counts SPECT: no SUV
    assert lesions[["suv_max", "suv_peak", "mtv_ml", "tla", "tb_liver", "tb_shell"]].notna(
    ).all().all()
    # SUVpeak (IBSI) may exceed the VOI's SUVmax only through a hotter neighbour within
    # 6.2 mm of a small VOI's edge: rare
    assert (lesions["suv_peak"] > lesions["suv_max"]).mean() < 0.05
    assert (lesions["mtv_ml"] <= lesions["volume_ml"] + 1e-9).all()
    np.testing.assert_allclose(lesions["tla"], lesions["suv_mean_mtv"] * lesions["mtv_ml"])
    dota = lesions[lesions["tracer"] == "DOTATATE"]
    assert dota["krenning"].notna().all() and lesions[lesions["tracer"] == "FDG"][
        "krenning"].isna().all()
    patients = result.patients
    assert sorted(patients["patient_id"]) == sorted(scans["patient_id"].unique())
    assert patients["netpet"].notna().sum() + patients["reason"].fillna("").ne("").sum() >= len(
        patients)


def test_dask_workers_give_the_same_numbers(demo_sync):
    params, sync = demo_sync
    result = quantify_cohort(params, workers=2, progress=False)
    assert "2 worker" in result.info["scheduler"]
    pd.testing.assert_frame_equal(result.measurements, sync.measurements)
    pd.testing.assert_frame_equal(result.patients, sync.patients)
    pd.testing.assert_frame_equal(result.qc.drop(columns="seconds"),
                                  sync.qc.drop(columns="seconds"))


def test_a_failing_scan_is_listed_and_the_others_go_on(demo_study, tmp_path):
    params = _params(demo_study, tmp_path)
    jobs = scan_jobs(params)[:3]
    jobs[0] = dataclasses.replace(jobs[0], pet=str(tmp_path / "gone"))
    jobs[1] = dataclasses.replace(jobs[1], rois=str(tmp_path / "empty-store"))
    result = quantify_cohort(params, scheduler="sync", progress=False, jobs=jobs)
    qc = result.qc.set_index("scan_id")
    assert qc.loc[jobs[0].scan_id, "status"] == "failed"
    assert "SeriesError" in qc.loc[jobs[0].scan_id, "reason"]
    assert "no such file or folder" in qc.loc[jobs[0].scan_id, "reason"]
    assert qc.loc[jobs[1].scan_id, "status"] == "skipped"
    assert qc.loc[jobs[1].scan_id, "reason"] == "no ROIs saved for this scan"
    assert qc.loc[jobs[2].scan_id, "status"] == "ok"
    assert set(result.measurements["scan_id"]) == {jobs[2].scan_id}
    with pytest.raises(QuantifyError, match=f"scan {jobs[0].scan_id}: SeriesError"):
        quantify_cohort(params, scheduler="sync", progress=False, jobs=jobs, strict=True)


def test_rois_on_another_grid_are_resampled_with_a_note(demo_study, tmp_path):
    job = scan_jobs(_params(demo_study, tmp_path))[0]
    rois = RoiStore(demo_study / "rois").load(job.scan_id)
    ref = rois.labels
    fine = sitk.Resample(ref, [s * 2 for s in ref.GetSize()], sitk.Transform(),
                         sitk.sitkNearestNeighbor, ref.GetOrigin(),
                         [s / 2 for s in ref.GetSpacing()], ref.GetDirection(), 0,
                         ref.GetPixelID())
    store = RoiStore(tmp_path / "rois")
    store.save(job.scan_id, fine, rois.table, reader="R9")
    moved = quantify_scan(dataclasses.replace(job, rois=str(store.root)))
    same = quantify_scan(job)
    assert "ROIs resampled onto the PET grid" in moved.qc["warnings"]
    lesion = same.rows["roi"] == "lesion"
    # half-voxel shifted sampling keeps most voxels: SUVmax of the lesions agrees closely
    np.testing.assert_allclose(moved.rows.loc[lesion, "suv_max"],
                               same.rows.loc[lesion, "suv_max"], rtol=0.15)


def test_options_come_from_the_parameters(demo_study, tmp_path):
    params = _params(demo_study, tmp_path, mtv_fraction=0.5, shell_gap_mm=0.0)
    opts = QuantifyOptions.from_config(params.quantify)
    assert opts.mtv_fraction == 0.5 and opts.shell_gap_mm == 0.0
    job = scan_jobs(params)[0]
    a = quantify_scan(job, QuantifyOptions()).rows
    b = quantify_scan(job, opts).rows
    lesion = a["roi"] == "lesion"
    assert (b.loc[lesion, "mtv_ml"].values <= a.loc[lesion, "mtv_ml"].values).all()
    assert (b.loc[lesion, "mtv_ml"].values < a.loc[lesion, "mtv_ml"].values).any()


def test_cli_writes_the_tables(demo_study, tmp_path, capsys):
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(f"study:\n  name: t\n  data_root: {demo_study}\n"
                         "quantify:\n  output: out\n")
    assert main(["quantify", "-f", str(yaml_file), "--scheduler", "sync", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "scans (" in printed and "ok)" in printed
    out = tmp_path / "out"
    m = pd.read_csv(out / "measurements.csv")
    assert set(REQUIRED) <= set(m.columns)
    assert (out / "patients.csv").is_file() and (out / "qc.csv").is_file()
    assert "netpet" in pd.read_csv(out / "patients.csv").columns
    bad = tmp_path / "bad.yaml"
    bad.write_text("quantify:\n  mtv_fraction: 2\n")
    assert main(["quantify", "-f", str(bad), "--scheduler", "sync", "-q"]) == 2
    assert "quantify.mtv_fraction" in capsys.readouterr().err


def test_an_existing_dask_cluster_runs_it_by_address(demo_sync):
    """`--scheduler ADDRESS`: the tasks go to a running dask.distributed scheduler."""
    import logging

    from distributed import LocalCluster

    params, sync = demo_sync
    jobs = scan_jobs(params)[:3]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.CRITICAL) as cluster:
        result = quantify_cohort(params, scheduler=cluster.scheduler_address, progress=False,
                                 jobs=jobs)
    assert result.info["scheduler"] == cluster.scheduler_address
    expected = sync.measurements[sync.measurements["scan_id"].isin([j.scan_id for j in jobs])]
    pd.testing.assert_frame_equal(
        result.measurements[list(MEASUREMENT_COLUMNS)].reset_index(drop=True),
        expected[list(MEASUREMENT_COLUMNS)].reset_index(drop=True))


def test_scans_the_cohort_checks_exclude_are_listed(demo_study, tmp_path):
    scans = (demo_study / "clinical" / "scans.csv").read_text()
    scans += "P099-FDG-PETCT,P099,FDG,PET/CT,2025-02-01,,,,,,,\n"
    (tmp_path / "scans.csv").write_text(scans)
    params = params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                         "tables": {"scans": str(tmp_path / "scans.csv")}},
                               "quantify": {"output": str(tmp_path / "q")}})
    result = quantify_cohort(params, scheduler="sync", progress=False)
    qc = result.qc.set_index("scan_id")
    assert qc.loc["P099-FDG-PETCT", "status"] == "excluded"
    assert "not in the patients table" in qc.loc["P099-FDG-PETCT", "reason"]
    assert (qc.drop(index="P099-FDG-PETCT")["status"] == "ok").all()
    from nethelpers.cohort import CohortError

    with pytest.raises(CohortError, match="P099"):
        quantify_cohort(params, scheduler="sync", progress=False, strict=True)


def test_nothing_measured_still_gives_the_qc_table(demo_study, tmp_path):
    job = dataclasses.replace(scan_jobs(_params(demo_study, tmp_path))[0],
                              rois=str(tmp_path / "none"))
    result = quantify_cohort(_params(demo_study, tmp_path), scheduler="sync", progress=False,
                             jobs=[job])
    assert result.measurements.empty and result.patients.empty
    assert result.qc["status"].tolist() == ["skipped"]


def test_rois_of_another_scan_fail_with_the_reason(demo_study, tmp_path):
    job = scan_jobs(_params(demo_study, tmp_path))[0]
    rois = RoiStore(demo_study / "rois").load(job.scan_id)
    moved = sitk.Image(rois.labels)
    moved.SetOrigin([v + 5000.0 for v in rois.labels.GetOrigin()])
    store = RoiStore(tmp_path / "rois")
    store.save(job.scan_id, moved, rois.table, reader="R9")
    out = quantify_scan(dataclasses.replace(job, rois=str(store.root)))
    assert out.qc["status"] == "failed"
    assert "does not overlap this PET series" in out.qc["reason"]


def test_nan_voxels_and_missing_liver_are_named_not_hidden():
    from nethelpers.quantify import measure_rois

    suv = np.ones((20, 20, 20), dtype=np.float32)
    labels = np.zeros(suv.shape, dtype=np.uint16)
    labels[5:9, 5:9, 5:9] = 11
    labels[12:16, 12:16, 12:16] = 12
    suv[6, 6, 6] = np.nan
    suv[13:15, 13:15, 13:15] = 5.0
    table = table_from_rows([
        {"label": 11, "roi": "lesion", "lesion_id": "L1", "method": "manual", "reader": "A"},
        {"label": 12, "roi": "lesion", "lesion_id": "L2", "method": "manual", "reader": "A"}])
    rows = measure_rois(suv, labels, table, (2.0, 2.0, 2.0)).set_index("lesion_id")
    assert np.isnan(rows.loc["L1", "mtv_ml"]) and np.isnan(rows.loc["L1", "tla"])
    assert "NaN" in rows.loc["L1", "note"]
    assert rows.loc["L2", "mtv_ml"] == pytest.approx(8 * 0.008)
    assert np.isnan(rows.loc["L2", "tb_liver"])
    assert "no liver reference" in rows.loc["L2", "note"]
    assert "shell keeps hot organs" in rows.loc["L2", "note"]


def test_saved_results_are_reused_only_while_their_inputs_are_unchanged(demo_study, demo_sync,
                                                                          tmp_path):
    import os
    import shutil

    from nethelpers.quantify import write_results

    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    shutil.copy(demo_study / "clinical" / "patients.csv", tmp_path / "patients.csv")
    study = {"name": "t", "data_root": str(demo_study), "rois": str(tmp_path / "rois"),
             "tables": {"patients": str(tmp_path / "patients.csv")}}
    data = {"study": study, "quantify": {"output": str(tmp_path / "q")}}
    params = params_from_dict(data)
    assert load_results(params).info["source"] == "measured"  # nothing saved yet
    result = quantify_cohort(params, scheduler="sync", progress=False)
    write_results(result, tmp_path / "q")
    saved = load_results(params)
    assert saved.info["source"] == "saved"
    assert saved.patients["netpet"].fillna("").tolist() == (
        result.patients["netpet"].astype(object).fillna("").tolist())
    expected = demo_sync[1].measurements  # the same ROIs, measured separately
    assert saved.measurements["suv_max"].to_numpy() == pytest.approx(
        expected["suv_max"].to_numpy(), rel=1e-9, nan_ok=True)   # NaN: counts-only SPECT
    # parameters that change the numbers
    other = params_from_dict(data | {"quantify": {"output": str(tmp_path / "q"),
                                                  "mtv_fraction": 0.5}})
    assert load_results(other).info["source"] == "measured"
    scores = params_from_dict(data | {"scores": {"positivity_factor": 2.0}})
    scores.quantify.output = tmp_path / "q"
    assert load_results(scores).info["source"] == "measured"
    # where the results go, how many workers, and the readers' calls do not matter
    moved = params_from_dict(data | {"quantify": {"output": str(tmp_path / "q"), "workers": 3}})
    assert load_results(moved).info["source"] == "saved"
    reads = params_from_dict({"study": study | {"tables": study["tables"] | {
        "reads": str(demo_study / "clinical" / "patients.csv")}},
        "quantify": {"output": str(tmp_path / "q")}})
    assert load_results(reads).info["source"] == "saved"
    saved_at = (tmp_path / "q" / "measurements.csv").stat().st_mtime_ns
    # a clinical value changed (a weight: the SUL depends on it)
    text = (tmp_path / "patients.csv").read_text()
    (tmp_path / "patients.csv").write_text(text.replace(",F,", ",F,1", 1))
    assert load_results(params).info["source"] == "measured"
    (tmp_path / "patients.csv").write_text(text)
    assert load_results(params).info["source"] == "saved"
    # a saved table edited by hand
    table = tmp_path / "q" / "measurements.csv"
    original = table.read_bytes()
    table.write_bytes(original.replace(b",", b";", 1))
    assert load_results(params).info["source"] == "measured"
    table.write_bytes(original)
    saved_at = table.stat().st_mtime_ns
    # an ROI saved since (here: a file of the store touched) makes them stale
    first = next(p for p in sorted((tmp_path / "rois").rglob("*")) if p.is_file())
    os.utime(first, (1e9, 1e9))
    assert load_results(params).info["source"] == "measured"
    assert table.stat().st_mtime_ns == saved_at  # stale results are not overwritten
