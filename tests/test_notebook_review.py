"""Notebook 02 (lesion review) executed by papermill on the small demo study."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from nethelpers.report import run_report

pytestmark = pytest.mark.slow


def _run(notebook: str, demo_study, tmp_path, rois=None):
    """Run one notebook by papermill on the demo study; its report folder."""
    params = tmp_path / "p.yaml"
    params.write_text(
        f"study:\n  data_root: {demo_study}\n"
        + (f"  rois: {rois}\n" if rois else "")
        + f"report:\n  output: {tmp_path / 'out'}\n  notebooks: [{notebook}]\n"
        f"quantify:\n  output: {tmp_path / 'q'}\n")
    return run_report(params, progress=False)


def test_notebook_02_writes_review_status_and_a_gallery_of_every_scan(demo_study, tmp_path):
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    out = _run("02_roi_review", demo_study, tmp_path, rois=tmp_path / "rois")
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


def test_notebook_03_writes_the_quantification_tables(demo_study, tmp_path):
    out = _run("03_quantification", demo_study, tmp_path)
    tables = out / "tables"
    qc = pd.read_csv(tables / "quantification_qc.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert sorted(qc["scan_id"]) == sorted(scans["scan_id"]) and (qc["status"] == "ok").all()
    measured = pd.read_csv(tmp_path / "q" / "measurements.csv")
    liver = pd.read_csv(tables / "liver_reference.csv")
    assert liver["n"].sum() == (measured["roi"] == "liver").sum()
    truth = pd.read_csv(demo_study / "truth" / "scans.csv").set_index("scan_id")
    dota = measured[(measured.roi == "liver") & (measured.tracer == "DOTATATE")]
    # the 3 cm liver sphere measures the true liver SUV within the noise (about 10 %)
    ratio = dota.set_index("scan_id")["suv_mean"] / truth.loc[dota.scan_id, "true_suv_liver"]
    assert ratio.between(0.85, 1.15).all()
    site = pd.read_csv(tables / "uptake_by_site.csv")
    assert site["n_lesions"].sum() == (measured["roi"] == "lesion").sum()
    krenning = pd.read_csv(tables / "krenning_distribution.csv")
    dota_lesions = measured[(measured.roi == "lesion") & (measured.tracer == "DOTATATE")]
    assert krenning["n_lesions"].sum() == len(dota_lesions)
    netpet = pd.read_csv(tables / "netpet_distribution.csv")
    assert netpet["n_patients"].sum() == scans["patient_id"].nunique()
    assert (out / "figures" / "liver_reference.png").is_file()


def test_notebook_05_accuracy_tables_match_the_reads(demo_study, tmp_path):
    from nethelpers.stats import proportion_ci

    out = _run("05_diagnostic_accuracy", demo_study, tmp_path)
    tables = out / "tables"
    acc = pd.read_csv(tables / "accuracy_patient_level.csv")
    pat = pd.read_csv(tables / "patient_level_results.csv")
    # recount one subgroup from the per-scan results and recompute its Wilson interval
    g = pat[(pat.tracer == "DOTATATE") & (pat.modality == "PET/CT")]
    tp = int((g.test & g.disease_present).sum())
    fn = int((~g.test & g.disease_present).sum())
    row = acc[(acc.tracer == "DOTATATE") & (acc.modality == "PET/CT")
              & (acc.measure == "sensitivity")].iloc[0]
    assert (row.tp, row.fn) == (tp, fn)
    expected = proportion_ci(tp, tp + fn, "wilson")
    assert (row.lower, row.upper) == pytest.approx((expected.lower, expected.upper), abs=1e-12)
    # patient-level test = any lesion called positive by R1 (equivocal counted negative)
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    r1 = reads[reads.reader == "R1"]
    positive_scans = set(r1.loc[r1.call == "positive", "scan_id"])
    assert set(pat.loc[pat.test, "scan_id"]) == positive_scans
    lesion = pd.read_csv(tables / "accuracy_lesion_level.csv")
    assert {"cluster_lower", "cluster_upper", "design_effect"} <= set(lesion.columns)
    sens = lesion[lesion.measure == "sensitivity"]
    assert (sens.cluster_lower <= sens.estimate).all()
    assert (sens.estimate <= sens.cluster_upper).all()
    auc = pd.read_csv(tables / "roc_auc.csv")
    assert auc["auc"].dropna().between(-1, 1).all() and "youden_cutoff_exploratory" in auc
    errors = pd.read_csv(tables / "false_calls.csv")
    les = pd.read_csv(tables / "lesion_level_results.csv")
    known = les[les.test.notna()]
    n_fp = int((known.test.astype(bool) & ~known.malignant.astype(bool)).sum())
    assert (errors.error == "FP").sum() == n_fp


def test_notebook_04_pairs_and_tests_match_the_reads(demo_study, tmp_path):
    from nethelpers.stats import mcnemar

    out = _run("04_tracer_comparison", demo_study, tmp_path)
    tables = out / "tables"
    pairs = pd.read_csv(tables / "pairs_dotatate_fdg.csv")
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    r1 = reads[reads.reader == "R1"]
    dota = r1[r1.scan_id.str.contains("DOTATATE-PETCT")].set_index("lesion_id")["call"]
    fdg = r1[r1.scan_id.str.contains("FDG-PETCT")].set_index("lesion_id")["call"]
    assert sorted(pairs.lesion_id) == sorted(set(dota.index) & set(fdg.index))
    mal = pairs[pairs.malignant.astype(bool)]
    exact = mcnemar(mal.test_a.astype(bool), mal.test_b.astype(bool), method="exact")
    table = pd.read_csv(tables / "mcnemar_dotatate_vs_fdg.csv").set_index("method")
    assert table.loc["exact", "p"] == pytest.approx(exact.p, rel=1e-12)
    assert table.loc["exact", "dotatate_only"] == int((mal.test_a & ~mal.test_b).sum())
    assert "obuchowski" in table.index
    agreement = pd.read_csv(tables / "agreement_petmr_petct.csv").set_index("lesions")
    assert agreement.loc["all lesions", "n"] == len(pd.read_csv(tables / "pairs_petmr_petct.csv"))
    # PET/MR attenuation correction underestimates bone in the demo (factor 0.85)
    if agreement.loc["bone lesions", "n"] >= 3:
        assert agreement.loc["bone lesions", "ratio_bias"] < agreement.loc["other lesions",
                                                                           "ratio_bias"]
    assert (out / "figures" / "bland_altman_petmr_petct.png").is_file()
