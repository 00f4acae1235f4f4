"""SPECT measured (quantify, scores) and viewed (review session, display), against truth.

The 6-patient demo (``demo_study``) holds two HYNIC-TOC SPECT/CT scans: P005's quantitative
(Bq/ml, NM) and P006's counts-only (NM). Every number is checked against an independent
reading: the NM file read with pydicom + numpy, the saved label map read with SimpleITK, the
SUV computed here from the header values, and the demo generator's truth.
"""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.config import params_from_dict
from nethelpers.quantify import quantify_cohort, scan_jobs
from nethelpers.scores import lesion_scores, netpet

COUNTS_SCAN = "P006-HYNIC-TOC-SPECTCT"
QUANT_SCAN = "P005-HYNIC-TOC-SPECTCT"
#: Columns in SUV units: empty on counts-only SPECT.
SUV_COLUMNS = ["suv_max", "suv_mean", "suv_sd", "suv_peak", "suv_mean_mtv", "tla",
               "tla_percist", "sul_max", "sul_mean", "sul_peak", "liver_suv_mean",
               "spleen_suv_mean", "shell_suv_mean"]


def _params(root: Path, out: Path, **study) -> object:
    return params_from_dict({"study": {"name": "t", "data_root": str(root), **study},
                             "quantify": {"output": str(out)}})


@pytest.fixture(scope="module")
def spect_measured(demo_study, tmp_path_factory):
    params = _params(demo_study, tmp_path_factory.mktemp("q"))
    jobs = [j for j in scan_jobs(params) if j.system == "SPECT"]
    return jobs, quantify_cohort(params, scheduler="sync", progress=False, jobs=jobs)


def _nm(study: Path, scan_id: str) -> pydicom.Dataset:
    patient = scan_id[:4]
    (path,) = sorted((study / "dicom" / patient / scan_id / "NM").glob("*.dcm"))
    return pydicom.dcmread(path)


def _nm_values_and_labels(study: Path, scan_id: str) -> tuple[np.ndarray, np.ndarray,
                                                              pd.DataFrame, pydicom.Dataset]:
    """The NM frames as real values (pydicom) and the saved labels on the same voxels."""
    ds = _nm(study, scan_id)
    slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
    values = ds.pixel_array.astype(np.float64) * slope + float(ds.get("RescaleIntercept", 0.0))
    det = ds.DetectorInformationSequence[0]
    ipp = np.array(det.ImagePositionPatient, dtype=float)
    iop = np.array(det.ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    step = float(ds.SpacingBetweenSlices) * normal
    version = sorted((study / "rois" / scan_id / "R1").glob("v*"))[-1]
    labels_img = sitk.ReadImage(str(version / "labels.nrrd"))
    labels = sitk.GetArrayFromImage(labels_img)
    table = pd.read_csv(version / "rois.csv", dtype={"lesion_id": str})
    assert np.allclose(labels_img.GetSpacing()[:2], [float(v) for v in ds.PixelSpacing])
    on_nm = np.zeros(values.shape, dtype=labels.dtype)
    for f in range(values.shape[0]):
        i, j, k = labels_img.TransformPhysicalPointToIndex(tuple(ipp + f * step))
        assert (i, j) == (0, 0)                       # same in-plane grid
        on_nm[f] = labels[k]
    return values, on_nm, table, ds


def _label(table: pd.DataFrame, roi: str, lesion_id: str | None = None) -> int:
    rows = table[table["roi"] == roi]
    if lesion_id is not None:
        rows = rows[rows["lesion_id"] == lesion_id]
    return int(rows["label"].iloc[0])


def test_spect_scans_are_jobs_and_are_measured(spect_measured):
    jobs, result = spect_measured
    assert sorted(j.scan_id for j in jobs) == [QUANT_SCAN, COUNTS_SCAN]
    qc = result.qc.set_index("scan_id")
    assert (qc["status"] == "ok").all()
    assert qc.loc[COUNTS_SCAN, "quantity"] == "counts"
    assert qc.loc[QUANT_SCAN, "quantity"] == "SUV"
    assert "SPECT (99mTc), counts only" in qc.loc[COUNTS_SCAN, "warnings"]
    assert "SPECT (99mTc), quantitative" in qc.loc[QUANT_SCAN, "warnings"]
    assert pd.isna(qc.loc[COUNTS_SCAN, "suv_factor"]) and qc.loc[QUANT_SCAN, "suv_factor"] > 0


def test_counts_spect_is_measured_by_ratios_never_suv(demo_study, spect_measured):
    """tb_liver of a lesion on counts-only SPECT = lesion max / liver mean of the NM counts
    read with pydicom, on the label map read with SimpleITK; every SUV column is empty."""
    _, result = spect_measured
    m = result.measurements
    rows = m[m["scan_id"] == COUNTS_SCAN].set_index("roi", drop=False)
    assert (rows["quantity"] == "counts").all()
    assert rows[SUV_COLUMNS].isna().all().all()
    values, labels, table, _ = _nm_values_and_labels(demo_study, COUNTS_SCAN)
    lesion_id = table.loc[table["roi"] == "lesion", "lesion_id"].iloc[0]
    lesion = values[labels == _label(table, "lesion", lesion_id)]
    liver = values[labels == _label(table, "liver")]
    spleen = values[labels == _label(table, "spleen")]
    row = m[(m["scan_id"] == COUNTS_SCAN) & (m["lesion_id"] == lesion_id)].iloc[0]
    assert row["counts_max"] == pytest.approx(lesion.max(), rel=1e-6)
    assert row["liver_counts_mean"] == pytest.approx(liver.mean(), rel=1e-6)
    assert row["tb_liver"] == pytest.approx(lesion.max() / liver.mean(), rel=1e-6)
    assert row["tb_spleen"] == pytest.approx(lesion.max() / spleen.mean(), rel=1e-6)
    # MTV at 41 % of the VOI's maximum does not depend on the scale
    voxel_ml = float(np.prod([4.42, 4.42, abs(float(_nm(demo_study, COUNTS_SCAN)
                                                     .SpacingBetweenSlices))])) / 1000
    assert row["mtv_ml"] == pytest.approx((lesion >= 0.41 * lesion.max()).sum() * voxel_ml,
                                          rel=1e-3)
    # the scores read the counts: positivity is lesion max > liver mean, i.e. tb_liver > 1
    assert bool(row["positive"]) == (row["tb_liver"] > 1.0)


def test_quantitative_spect_suvmax_from_the_header(demo_study, spect_measured):
    """SUVmax = Bq/ml (pydicom: stored x slope) x weight / dose decayed to the start."""
    _, result = spect_measured
    values, labels, table, ds = _nm_values_and_labels(demo_study, QUANT_SCAN)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    dose_bq = float(item.RadionuclideTotalDose) * 1e6            # NM: MBq (PS3.3 C.8.4.10)
    injected = datetime.strptime(str(item.RadiopharmaceuticalStartDateTime)[:14],
                                 "%Y%m%d%H%M%S")
    start = datetime.strptime(ds.AcquisitionDate + str(ds.AcquisitionTime)[:6], "%Y%m%d%H%M%S")
    decayed = dose_bq * math.exp(-math.log(2) * (start - injected).total_seconds()
                                 / float(item.RadionuclideHalfLife))
    suv = values * float(ds.PatientWeight) * 1000.0 / decayed
    m = result.measurements
    rows = m[m["scan_id"] == QUANT_SCAN]
    assert (rows["quantity"] == "SUV").all() and rows["counts_max"].isna().all()
    for rec in rows[rows["roi"] == "lesion"].itertuples():
        expected = suv[labels == _label(table, "lesion", rec.lesion_id)].max()
        assert rec.suv_max == pytest.approx(expected, rel=1e-5)
    liver = rows[rows["roi"] == "liver"].iloc[0]
    assert liver["suv_mean"] == pytest.approx(suv[labels == _label(table, "liver")].mean(),
                                              rel=1e-5)


def test_krenning_of_a_spect_lesion_is_the_truths_on_any_scale(demo_study, spect_measured):
    """The P005 culprit (25.6 mm, HYNIC-TOC SPECT): Krenning from the measured ratios equals
    the grade of its expected apparent uptake (the generator's partial-volume model) against
    the truth table's liver and spleen; the same rows on a counts scale (x 123.4, SUV columns
    empty) grade the same."""
    from nethelpers.demo.cohort_sim import simulate_patient
    from nethelpers.demo.readers import apparent_suv

    _, result = spect_measured
    p = simulate_patient(4, 0)
    scan = next(s for s in p.scans if s.scan_id == QUANT_SCAN)
    lesion = next(les for les in p.lesions if les.lesion_id == "P005-L01")
    apparent, _ = apparent_suv(p, scan, lesion)
    truth = pd.read_csv(demo_study / "truth" / "scans.csv").set_index("scan_id")
    li, sp = truth.loc[QUANT_SCAN, ["true_suv_liver", "true_suv_spleen"]]
    expected = 4 if apparent > sp else 3 if apparent > li else 2 if apparent > 0.5 * li else 1
    m = result.measurements
    rows = m[m["scan_id"] == QUANT_SCAN].reset_index(drop=True)
    assert int(rows.loc[rows["lesion_id"] == "P005-L01", "krenning"].iloc[0]) == expected
    counts = rows.drop(columns=["krenning", "positive", "ref_liver", "ref_spleen",
                                "lesion_to_liver", "score_note"])
    for suv_col, counts_col in (("suv_max", "counts_max"), ("suv_mean", "counts_mean"),
                                ("suv_peak", "counts_peak")):
        counts[counts_col] = counts[suv_col] * 123.4
        counts[suv_col] = np.nan
    counts["quantity"] = "counts"
    scored = lesion_scores(counts)
    pd.testing.assert_series_equal(scored["krenning"], rows["krenning"])
    pd.testing.assert_series_equal(scored["positive"], rows["positive"])
    np.testing.assert_allclose(scored["lesion_to_liver"], rows["lesion_to_liver"], rtol=1e-12)


def test_spect_never_enters_netpet(spect_measured):
    _, result = spect_measured
    graded = netpet(result.measurements).set_index("patient_id")
    assert graded["netpet"].isna().all()
    assert graded["sstr_scan_id"].isna().all()
    assert "not used: NETPET is defined on PET" in graded.loc["P005", "reason"]


def test_every_scan_not_measured_is_in_qc_with_its_reason(demo_study, tmp_path):
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv", dtype=str, keep_default_na=False)
    keep = scans[scans["scan_id"].isin([QUANT_SCAN, COUNTS_SCAN])].copy()
    keep.loc[keep["scan_id"] == COUNTS_SCAN, "pet_dir"] = "dicom/P006/moved/NM"   # planted
    quant = keep[keep["scan_id"] == QUANT_SCAN]
    planted = [quant.assign(scan_id="P005-HYNIC-TOC-SPECTCT-2"),          # no ROIs saved
               quant.assign(scan_id="P099-HYNIC-TOC-SPECTCT", patient_id="P099")]  # unknown
    table = tmp_path / "scans.csv"
    pd.concat([keep, *planted]).to_csv(table, index=False)
    params = _params(demo_study, tmp_path / "q", tables={"scans": str(table)})
    result = quantify_cohort(params, scheduler="sync", progress=False)
    qc = result.qc.set_index("scan_id")
    assert sorted(qc.index) == sorted([QUANT_SCAN, COUNTS_SCAN, "P005-HYNIC-TOC-SPECTCT-2",
                                       "P099-HYNIC-TOC-SPECTCT"])
    assert qc.loc[QUANT_SCAN, "status"] == "ok"
    assert qc.loc[COUNTS_SCAN, "status"] == "failed"
    assert "the SPECT series folder is not there" in qc.loc[COUNTS_SCAN, "reason"]
    assert str(demo_study) not in qc.loc[COUNTS_SCAN, "reason"]
    assert qc.loc["P005-HYNIC-TOC-SPECTCT-2", "status"] == "skipped"
    assert qc.loc["P005-HYNIC-TOC-SPECTCT-2", "reason"] == "no ROIs saved for this scan"
    assert qc.loc["P099-HYNIC-TOC-SPECTCT", "status"] == "excluded"
    assert "not in the patients table" in qc.loc["P099-HYNIC-TOC-SPECTCT", "reason"]
    assert set(result.measurements["scan_id"]) == {QUANT_SCAN}


def test_notebook_summaries_keep_each_scale_apart(demo_study, spect_measured, tmp_path):
    """Uptake, liver reference and Krenning tables of notebook 03: counts lines carry the
    ratios only, counts livers stay out of the SUV reference, Krenning says its scale."""
    from nethelpers import scalesummaries, summaries
    from nethelpers.cohort import load_cohort

    _, result = spect_measured
    cohort = load_cohort(_params(demo_study, tmp_path))
    m = result.measurements
    lesions = summaries.lesion_measurements(m, cohort.lesions, cohort.patients)
    uptake = scalesummaries.uptake_by_scale(lesions, ["tracer", "modality", "group"],
                                            vocabulary=cohort.vocabulary)
    counts_line = uptake[uptake["quantity"] == "counts"].iloc[0]
    counts_lesions = m[(m["quantity"] == "counts") & (m["roi"] == "lesion")]
    assert counts_line["n_lesions"] == len(counts_lesions)
    assert pd.isna(counts_line["suv_max_median"]) and pd.isna(counts_line["suv_peak_median"])
    assert counts_line["tb_liver_median"] == pytest.approx(counts_lesions["tb_liver"].median())
    suv_line = uptake[uptake["quantity"] == "SUV"].iloc[0]
    suv_lesions = m[(m["quantity"] == "SUV") & (m["roi"] == "lesion")]
    assert suv_line["suv_max_median"] == pytest.approx(suv_lesions["suv_max"].median())
    liver, counts_livers = scalesummaries.liver_reference_by_scale(m, cohort.vocabulary)
    assert liver["n"].sum() == 1 and counts_livers["scan_id"].tolist() == [COUNTS_SCAN]
    suv_liver = m.loc[(m["scan_id"] == QUANT_SCAN) & (m["roi"] == "liver"), "suv_mean"]
    assert liver["median"].iloc[0] == pytest.approx(float(suv_liver.iloc[0]))
    krenning = scalesummaries.krenning_by_scale(lesions, vocabulary=cohort.vocabulary)
    on_counts = krenning[krenning["scale"].str.startswith("counts")]
    grade = str(int(counts_lesions["krenning"].iloc[0]))
    assert on_counts.set_index("krenning").loc[grade, "n_lesions"] == 1
    assert krenning["n_lesions"].sum() == len(lesions)


def test_counts_measures_are_the_suv_measures_scaled_and_ratios_unchanged():
    """One image measured in SUV and, x 250, in counts: counts columns = 250 x SUV, every
    ratio and volume unchanged, SUV/SUL/TLA columns empty on counts."""
    from nethelpers.quantify import measure_rois
    from nethelpers.rois import table_from_rows

    rng = np.random.default_rng(7)
    suv = (1.0 + 0.1 * rng.standard_normal((30, 30, 30))).astype(np.float32)
    labels = np.zeros(suv.shape, np.uint16)
    suv[5:12, 5:12, 5:12] = 6.0                                    # liver
    labels[6:11, 6:11, 6:11] = 1
    suv[18:26, 18:26, 5:12] = 12.0                                 # spleen
    labels[19:25, 19:25, 6:11] = 2
    suv[14:18, 14:18, 20:24] = 9.0                                 # lesion
    labels[13:19, 13:19, 19:25] = 10
    table = table_from_rows([{"label": label, "roi": roi, "lesion_id": lid, "method": "manual",
                              "reader": "R1"}
                             for label, roi, lid in ((1, "liver", ""), (2, "spleen", ""),
                                                     (10, "lesion", "L1"))])
    spacing = (4.0, 4.0, 4.0)
    a = measure_rois(suv, labels, table, spacing, sul_factor=0.8).set_index("label")
    b = measure_rois(suv * 250.0, labels, table, spacing, sul_factor=0.8,
                     quantity="counts").set_index("label")
    assert (a["quantity"] == "SUV").all() and (b["quantity"] == "counts").all()
    np.testing.assert_allclose(b["counts_max"], 250.0 * a["suv_max"], rtol=1e-6)
    np.testing.assert_allclose(b["liver_counts_mean"], 250.0 * a["liver_suv_mean"], rtol=1e-6)
    for col in ("tb_liver", "tb_spleen", "tb_shell", "mtv_ml", "mtv_percist_ml", "volume_ml"):
        np.testing.assert_allclose(b.loc[10, col], a.loc[10, col], rtol=1e-6)
    assert a.loc[10, "tb_liver"] == pytest.approx(9.0 / 6.0, rel=1e-6)
    assert b[SUV_COLUMNS].isna().all().all() and a.loc[10, SUV_COLUMNS].notna().all()
    with pytest.raises(ValueError, match="quantity 'Bq/ml'"):
        measure_rois(suv, labels, table, spacing, quantity="Bq/ml")
