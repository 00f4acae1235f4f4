"""Notebooks 02-05 executed by papermill on the small demo study: the tables they write."""

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
        f"study:\n  name: t\n  data_root: {demo_study}\n"
        + (f"  rois: {rois}\n" if rois else "")
        + f"report:\n  output: {tmp_path / 'out'}\n  notebooks: [{notebook}]\n  exports: []\n"
        f"quantify:\n  output: {tmp_path / 'q'}\n")
    return run_report(params, progress=False)


def test_notebook_02_writes_review_status_and_a_gallery_of_every_scan(demo_study, demo_report):
    out = demo_report["out"]
    status = pd.read_csv(out / "tables" / "review_status.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert sorted(status["scan_id"]) == sorted(scans["scan_id"])
    assert (status["version"] == 1).all() and (status["reader"] == "R1").all()
    # R1 drew every lesion present on the scan (a follow-up: gone lesions not, new ones too)
    present = pd.read_csv(demo_study / "truth" / "lesion_positions.csv").groupby(
        "scan_id").size()
    expected = scans["scan_id"].map(present).fillna(0).astype(int)
    assert status.set_index("scan_id").loc[scans["scan_id"], "lesion_vois"].tolist() == (
        expected.tolist())
    assert (status["references"] == "liver, spleen").all()
    gallery = pd.read_csv(out / "tables" / "gallery_index.csv")["figure"]
    for scan_id in scans["scan_id"]:
        for kind in ("gallery", "mip"):
            assert f"{kind}_{scan_id}.png" in set(gallery)
            assert (out / "figures" / f"{kind}_{scan_id}.png").stat().st_size > 5000
    assert "<img" in (out / "02_roi_review.html").read_text()


def test_notebook_03_writes_the_quantification_tables(demo_study, demo_report):
    out = demo_report["out"]
    tables = out / "tables"
    qc = pd.read_csv(tables / "quantification_qc.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert sorted(qc["scan_id"]) == sorted(scans["scan_id"]) and (qc["status"] == "ok").all()
    measured = pd.read_csv(demo_report["quantify"] / "measurements.csv")
    liver = pd.read_csv(tables / "liver_reference.csv")
    # the SUV liver reference of the baseline scans: counts-only SPECT livers are listed apart
    assert liver["n"].sum() == ((measured["roi"] == "liver") & (measured["quantity"] == "SUV")
                                & measured["scan_id"].isin(scans.loc[
                                    scans["time_point"] == "baseline", "scan_id"])).sum()
    truth = pd.read_csv(demo_study / "truth" / "scans.csv").set_index("scan_id")
    dota = measured[(measured.roi == "liver") & (measured.tracer == "DOTATATE")]
    # the 3 cm liver sphere measures the true liver SUV within the noise (about 10 %)
    ratio = dota.set_index("scan_id")["suv_mean"] / truth.loc[dota.scan_id, "true_suv_liver"]
    assert ratio.between(0.85, 1.15).all()
    # the uptake summaries describe each patient's baseline scans (follow-ups: notebook 06)
    baseline = measured[~measured["scan_id"].isin(
        scans.loc[scans["time_point"] != "baseline", "scan_id"])]
    site = pd.read_csv(tables / "uptake_by_site.csv")
    assert site["n_lesions"].sum() == (baseline["roi"] == "lesion").sum()
    krenning = pd.read_csv(tables / "krenning_distribution.csv")
    sstr_lesions = baseline[(baseline.roi == "lesion")               # PET and SPECT
                            & baseline.tracer.isin(["DOTATATE", "HYNIC-TOC"])]
    assert krenning["n_lesions"].sum() == len(sstr_lesions)
    netpet = pd.read_csv(tables / "netpet_distribution.csv")
    assert netpet["n_patients"].sum() == scans["patient_id"].nunique()
    assert (out / "figures" / "liver_reference.png").is_file()


def test_notebook_05_accuracy_tables_match_the_reads(demo_study, demo_report):
    from nethelpers.stats import proportion_ci

    out = demo_report["out"]
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
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")  # index tests: the baselines
    r1 = r1[r1.scan_id.isin(scans.loc[scans.time_point == "baseline", "scan_id"])]
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


def test_notebook_04_pairs_and_tests_match_the_reads(demo_study, demo_report):
    from nethelpers.stats import mcnemar

    out = demo_report["out"]
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


def test_notebook_04_flip_flop_and_netpet_tables(demo_study, demo_report):
    tables = demo_report["out"] / "tables"
    pairs = pd.read_csv(tables / "pairs_dotatate_fdg.csv")
    both = pairs[pairs.malignant.astype(bool)].dropna(subset=["tb_liver_a", "tb_liver_b"])
    flip = pd.read_csv(tables / "flip_flop_lesions.csv")
    assert sorted(flip.lesion_id) == sorted(both.lesion_id)
    grade = pd.read_csv(demo_study / "clinical" / "patients.csv").set_index("patient_id")["grade"]
    assert (flip.grade == flip.patient_id.map(grade).fillna("no grade")).all()
    tb = both.set_index("lesion_id")
    fdg_only = (tb.tb_liver_b > 1.0) & ~(tb.tb_liver_a > 1.0)
    assert set(flip.loc[flip.pattern == "fdg_only", "lesion_id"]) == set(fdg_only[fdg_only].index)
    by_grade = pd.read_csv(tables / "flip_flop_by_grade.csv")
    assert by_grade["lesions"].sum() == len(both)
    netpet = pd.read_csv(tables / "netpet_by_grade.csv")
    graded = pd.read_csv(demo_report["quantify"] / "patients.csv").dropna(subset=["netpet"])
    diagnosis = pd.read_csv(demo_study / "clinical" / "patients.csv").set_index(
        "patient_id")["final_diagnosis"]
    graded = graded[graded.patient_id.map(diagnosis) == "NET"]  # NETPET: NET patients only
    assert netpet["patients"].sum() == len(graded)
    for p in ("P0", "P1", "P2", "P3", "P4", "P5"):
        assert netpet[p].sum() == (graded.netpet == p).sum()
    uptake = pd.read_csv(tables / "uptake_by_tracer_dotatate_fdg.csv")
    measured = pd.read_csv(tables / "uptake_pairs_dotatate_fdg.csv")
    suv = uptake[uptake.measurement.str.startswith("SUVmax")].set_index("tracer")
    assert suv["lesions"].tolist() == [measured.suv_max_a.notna().sum(),
                                       measured.suv_max_b.notna().sum()]
    assert suv["median"].iloc[0] == pytest.approx(measured.suv_max_a.median())
    summary = pd.read_csv(tables / "summary_04_tracer_comparison.csv").set_index("item")["value"]
    g3 = by_grade.set_index("grade").loc["G3"] if "G3" in set(by_grade.grade) else None
    assert summary["Flip-flop (FDG-only) malignant lesions in G3"] == (
        "no G3 lesions" if g3 is None else
        f"{g3.fdg_only:.0f}/{g3.lesions:.0f} lesions ({g3.fdg_only_percent:.0f} %), "
        f"{g3.patients_fdg_only:.0f} of {g3.patients:.0f} patients")
    page = (demo_report["out"] / "04_tracer_comparison.html").read_text()
    assert "The scans table has no SPECT scan of an SSTR tracer" not in page  # P005, P006
    spect = pd.read_csv(tables / "pairs_dotatate_hynic.csv")
    assert set(spect.patient_id) <= {"P005", "P006"} and len(spect) > 0
    for figure in ("flip_flop_scatter", "netpet_by_grade"):
        assert (demo_report["out"] / "figures" / f"{figure}.svg").is_file()


def test_notebook_05_flow_and_cutoffs_recounted_from_the_inputs(demo_study, demo_report):
    tables = demo_report["out"] / "tables"
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    scans = scans[scans.time_point == "baseline"].copy()  # follow-ups are not index tests
    patients = pd.read_csv(demo_study / "clinical" / "patients.csv").set_index("patient_id")
    r1 = reads[(reads.reader == "R1") & reads.scan_id.isin(scans.scan_id)]
    calls = r1.groupby("scan_id")["call"].agg(
        lambda c: "positive" if (c == "positive").any()
        else "indeterminate" if (c == "equivocal").any() else "negative")
    scans["result"] = scans.scan_id.map(calls).fillna("negative")
    scans["present"] = scans.patient_id.map(patients.disease_present)
    flow = pd.read_csv(tables / "index_test_flow.csv")
    for row in flow.itertuples():
        mine = scans[(scans.tracer == row.tracer) & (scans.modality == row.modality)]
        assert row.patients_tested == mine.patient_id.nunique()
        assert row.eligible == len(patients)
        hits = mine[mine.result == row.result]
        assert row.scans == len(hits), row
        assert row.disease_present == int(hits.present.astype(bool).sum())
        assert row.counted_as == ("negative" if row.result == "indeterminate" else row.result)
        name = f"flow_{row.tracer}_{row.modality.replace('/', '')}.svg"
        assert (demo_report["out"] / "figures" / name).is_file()
    # the pre-specified cut-off: the protocol's positivity (SUVmax > liver SUVmean) per lesion
    m = pd.read_csv(demo_report["quantify"] / "measurements.csv")
    lesions = pd.read_csv(demo_study / "truth" / "lesions.csv").set_index("lesion_id")
    cut = pd.read_csv(tables / "cutoffs.csv")
    pre = cut[cut.kind == "pre-specified (protocol)"].set_index(["tracer", "modality"])
    on_counts = set(m.loc[m.quantity == "counts", "tracer"] + " " + m.loc[m.quantity == "counts",
                                                                          "modality"])
    assert on_counts == {"HYNIC-TOC SPECT/CT"}             # P006's counts-only SPECT
    for (tracer, modality), row in pre.iterrows():
        assert row.cutoff == ("SUVmax > 1 × liver SUVmean" + (
            " (counts-only SPECT: max > 1 × liver mean counts)"
            if f"{tracer} {modality}" in on_counts else ""))
    read_ids = set(zip(r1.scan_id, r1.lesion_id, strict=True))
    lesion_rows = m[(m.roi == "lesion") & m.tb_liver.notna()]
    lesion_rows = lesion_rows[[k in read_ids for k in zip(lesion_rows.scan_id,
                                                          lesion_rows.lesion_id, strict=True)]]
    for (tracer, modality), g in lesion_rows.groupby(["tracer", "modality"]):
        counts = g.quantity == "counts"            # the same rule on the counts of the scan
        positive = (g.suv_max > g.liver_suv_mean).where(~counts,
                                                        g.counts_max > g.liver_counts_mean)
        malignant = g.lesion_id.map(lesions.malignant).astype(bool)
        row = pre.loc[(tracer, modality)]
        assert row.tp == int((positive & malignant).sum())
        assert row.tn == int((~positive & ~malignant).sum())
        assert row.sensitivity == pytest.approx((positive & malignant).sum() / malignant.sum())
    youden = cut[cut.kind.str.startswith("exploratory")]
    roc = pd.read_csv(tables / "roc_auc.csv")      # a curve too small for a cut-off has none
    assert len(youden) == int(roc.youden_cutoff_exploratory.notna().sum()) >= 2 * (len(pre) - 1)
    assert youden.ci.str.contains("optimistic").all()
    # the printed exploratory rule, applied to the measurements, gives the printed 2x2 table
    columns = {"SUVmax": "suv_max", "T/B liver": "tb_liver"}
    for row in youden.itertuples():
        measure, threshold = row.cutoff.split(" >= ")
        g = lesion_rows[(lesion_rows.tracer == row.tracer) & (lesion_rows.modality == row.modality)]
        called = g[columns[measure]] >= float(threshold)
        malignant = g.lesion_id.map(lesions.malignant).astype(bool)
        assert (row.tp, row.fp) == (int((called & malignant).sum()),
                                    int((called & ~malignant).sum())), row.cutoff


def test_notebook_04_compares_hynic_toc_spect_when_present(demo_study, tmp_path):
    """HYNIC-TOC SPECT/CT reads added to the demo: detection against DOTATATE PET/CT."""
    from nethelpers.stats import mcnemar

    root = tmp_path / "study"
    for folder in ("clinical", "truth", "reads"):
        shutil.copytree(demo_study / folder, root / folder)
    for folder in ("dicom", "rois"):  # scans.csv names DICOM folders relative to the root
        (root / folder).symlink_to(demo_study / folder)
    scans = pd.read_csv(root / "clinical" / "scans.csv")
    reads = pd.read_csv(root / "reads" / "reads.csv")
    own = scans.loc[scans.tracer == "HYNIC-TOC", "scan_id"]    # the demo's own SPECT/CTs
    scans, reads = scans[~scans.scan_id.isin(own)], reads[~reads.scan_id.isin(own)]
    dota = reads[reads.scan_id.str.endswith("-DOTATATE-PETCT")]
    patients = sorted(dota.scan_id.str[:4].unique())[:4]
    new_scans, new_reads = [], []
    for pid in patients:
        scan_id = f"{pid}-HYNIC-SPECTCT"
        new_scans.append({"scan_id": scan_id, "patient_id": pid, "tracer": "HYNIC-TOC",
                          "modality": "SPECT/CT", "scan_date": "2025-06-01"})
        mine = dota[dota.scan_id == f"{pid}-DOTATATE-PETCT"].copy()
        # SPECT misses every other lesion reader R1 called positive on the PET
        hits = mine.index[(mine.call == "positive") & (mine.reader == "R1")]
        mine.loc[hits[::2], "call"] = "negative"
        new_reads.append(mine.assign(scan_id=scan_id))
    pd.concat([scans, pd.DataFrame(new_scans)]).to_csv(root / "clinical" / "scans.csv",
                                                       index=False)
    pd.concat([reads, *new_reads]).to_csv(root / "reads" / "reads.csv", index=False)
    params = tmp_path / "p.yaml"
    params.write_text(
        f"study:\n  name: t\n  data_root: {root}\n"
        f"report:\n  output: {tmp_path / 'out'}\n  notebooks: [04_tracer_comparison]\n"
        "  exports: []\n"
        f"quantify:\n  output: {tmp_path / 'q'}\n")
    out = run_report(params, progress=False)
    tables = out / "tables"
    pairs = pd.read_csv(tables / "pairs_dotatate_hynic.csv")
    hynic_reads = pd.concat(new_reads)
    r1 = hynic_reads[hynic_reads.reader == "R1"]
    assert sorted(pairs.lesion_id) == sorted(r1.lesion_id)
    mal = pairs[pairs.malignant.astype(bool)]
    exact = mcnemar(mal.test_a.astype(bool), mal.test_b.astype(bool), method="exact")
    table = pd.read_csv(tables / "mcnemar_dotatate_vs_hynic.csv")
    lesion_exact = table[(table.unit == "lesions") & (table.method == "exact")].iloc[0]
    assert lesion_exact.p == pytest.approx(exact.p, rel=1e-12)
    assert lesion_exact.dotatate_only == int((mal.test_a & ~mal.test_b).sum()) > 0
    assert lesion_exact.hynic_only == 0
    per_patient = table[table.unit == "patients"]
    assert per_patient.method.tolist() == ["exact"]
    diff = pd.read_csv(tables / "difference_dotatate_minus_hynic.csv")
    sens = diff[(diff.unit == "lesions") & (diff.measure == "sensitivity")].iloc[0]
    assert sens.difference == pytest.approx(mal.test_a.mean() - mal.test_b.mean())
    summary = pd.read_csv(tables / "summary_04_tracer_comparison.csv").set_index("item")
    assert int(summary.loc["HYNIC-TOC vs DOTATATE lesion pairs", "value"]) == len(pairs)
