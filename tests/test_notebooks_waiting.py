"""Notebooks on studies that are not complete yet: each section waits, none fails.

Studies derived from the ideal 3-patient demo: a new study (patients partly filled in, no
ROIs saved, no lesions and no reads table) and the ``no_liver`` shape (every ROI set without
its liver VOI) through notebooks 01-03; the ``no_reads`` shape and a study whose every call is
equivocal (and excluded) through notebooks 03-05. The report must complete, list the
sections that wait and write the tables of those that can run, with the numbers of the
inputs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from nethelpers.report import run_report

pytestmark = pytest.mark.slow

NOTEBOOKS = "[01_cohort, 02_roi_review, 03_quantification]"


def _params(path: Path, root: Path, tmp: Path, rois: Path | None = None,
            notebooks: str = NOTEBOOKS, extra: str = "") -> Path:
    rois_line = f"  rois: {rois}\n" if rois else ""
    path.write_text(f"study:\n  name: {root.name}\n  data_root: {root}\n{rois_line}"
                    f"report:\n  output: {tmp / 'out'}\n  notebooks: {notebooks}\n  exports: []\n"
                    f"quantify:\n  output: {tmp / 'q'}\n  scheduler: sync\n{extra}")
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
    # a section that waits shows "not available" in the summary, never a count of 0
    assert _summary(out, "02_roi_review") == {"Scans with saved ROIs": "0", "Lesion VOIs": "0",
                                              "Gallery figures": "not available"}
    assert _summary(out, "03_quantification") == {
        "Scans measured": "0", "Scans not measured": str(n_scans), "Lesion VOIs": "0",
        "PRRT-eligible patients (imaging)": "not available"}
    # the sections waiting for the same input: the first note in full, the others by reference
    assert "`nethelpers review -f <parameters file> --patient <patient_id>`" in waiting[
        "03 · Liver reference"]
    for section in ("03 · Uptake by lesion site", "03 · NETPET grade"):
        assert waiting[section] == (f"Same as 03 · Liver reference above: no scan has been "
                                    f"measured yet ({n_scans} skipped).")
    assert waiting["02 · Lesion gallery"] == ("Same as 02 · Review status above: no scan has "
                                              "saved ROIs yet.")
    # the first line of each notebook names the study's scans
    scans = pd.read_csv(root / "clinical/scans.csv")
    counts = scans.groupby(["tracer", "modality"]).size()
    for name in ("01_cohort", "02_roi_review", "03_quantification"):
        page = (out / f"{name}.html").read_text()
        assert "Scans in this study: " in page
        for (tracer, modality), n in counts.items():
            assert f"{n} {tracer} {modality}" in page, (name, tracer, modality)
    for table in ("uptake_by_site", "liver_reference", "prrt_eligibility", "gallery_index"):
        assert not (out / f"tables/{table}.csv").exists(), table


def test_no_liver_shape_waits_for_the_liver_and_measures_the_rest(shape_reports):
    run = shape_reports["no_liver"]  # the shape's full report (conftest), not a run of its own
    out = run["out"]
    waiting = {k: v for k, v in _waiting(out).items() if k.startswith(("01", "02", "03"))}
    assert set(waiting) == {"03 · Liver reference", "03 · Krenning score",
                            "03 · PRRT eligibility", "03 · NETPET grade"}
    assert all("no scan has a liver reference voi" in text.lower() for text in waiting.values())
    measured = pd.read_csv(run["quantify"] / "measurements.csv")
    lesions = measured[measured["roi"] == "lesion"]
    assert len(lesions) > 0 and (measured["roi"] != "liver").all()
    # the uptake summaries describe the baseline scans (P003's follow-ups: notebook 06)
    scans = pd.read_csv(run["study"] / "clinical/scans.csv")
    baseline = lesions[lesions["scan_id"].isin(scans.loc[scans["time_point"] == "baseline",
                                                         "scan_id"])]
    assert 0 < len(baseline) < len(lesions)
    by_site = pd.read_csv(out / "tables/uptake_by_site.csv")
    by_group = pd.read_csv(out / "tables/uptake_by_group.csv")
    assert by_site["n_lesions"].sum() == by_group["n_lesions"].sum() == len(baseline)
    assert by_group["tb_liver_median"].isna().all()              # no liver: no T/B
    assert _summary(out, "03_quantification")["Lesion VOIs"] == str(len(lesions))


LATER = "[03_quantification, 04_tracer_comparison, 05_diagnostic_accuracy]"


def test_no_reads_shape_compares_uptake_from_the_measurements(shape_reports):
    run = shape_reports["no_reads"]  # the shape's full report (conftest), not a run of its own
    out, root = run["out"], run["study"]
    waiting = _waiting(out)
    assert {"04 · SSTR versus FDG PET: detection", "05 · Patient-level accuracy"} <= set(waiting)
    # uptake and flip-flop are measurements: they run without a single read
    assert not {"04 · SSTR versus FDG PET: uptake", "04 · Flip-flop by tumour grade",
                "04 · PET/MR versus PET/CT"} & set(waiting)
    m = pd.read_csv(run["quantify"] / "measurements.csv")
    lesion = m[(m["roi"] == "lesion") & (m["modality"] == "PET/CT")]
    sstr = set(lesion.loc[lesion["tracer"] == "DOTATATE", "lesion_id"])
    fdg = set(lesion.loc[lesion["tracer"] == "FDG", "lesion_id"])
    pairs = pd.read_csv(out / "tables/uptake_pairs_dotatate_fdg.csv")
    assert sorted(pairs["lesion_id"]) == sorted(sstr & fdg) and len(pairs) > 0
    uptake = pd.read_csv(out / "tables/uptake_by_tracer_dotatate_fdg.csv")
    assert uptake.loc[uptake.measurement.str.startswith("SUVmax"), "lesions"].tolist() == [
        len(pairs), len(pairs)]
    truth = pd.read_csv(root / "truth/lesions.csv").set_index("lesion_id")["malignant"]
    flip = pd.read_csv(out / "tables/flip_flop_lesions.csv")
    assert sorted(flip["lesion_id"]) == sorted(i for i in sstr & fdg if truth[i])
    agreement = pd.read_csv(out / "tables/agreement_petmr_petct.csv").set_index("lesions")
    assert agreement.loc["all lesions", "n_calls"] == 0 and agreement.loc["all lesions", "n"] > 0
    summary = _summary(out, "04_tracer_comparison")
    assert summary["DOTATATE vs FDG lesion pairs"] == "not available"
    assert summary["DOTATATE vs FDG lesions measured on both"] == str(len(pairs))
    assert _summary(out, "05_diagnostic_accuracy") == {
        "Patient-level sensitivity": "not available",
        "False negatives (lesion reads)": "not available",
        "False positives (lesion reads)": "not available"}
    assert waiting["05 · Lesion-level accuracy"] == (
        "Same as 05 · Patient-level accuracy above: the reads table (reads/reads.csv) is not "
        "there yet.")


def test_every_call_equivocal_and_excluded(ideal_study, tmp_path):
    root = tmp_path / "equivocal"
    for folder in ("clinical", "truth", "reads"):
        shutil.copytree(ideal_study / folder, root / folder)
    for folder in ("dicom", "rois"):
        (root / folder).symlink_to(ideal_study / folder, target_is_directory=True)
    reads = pd.read_csv(root / "reads/reads.csv", dtype=str, keep_default_na=False)
    reads = reads[reads["lesion_id"] != "none"].assign(call="equivocal")
    reads.to_csv(root / "reads/reads.csv", index=False)
    extra = "index_test:\n  equivocal: exclude\n  equivocal_sensitivity: positive\n"
    out = run_report(_params(tmp_path / "p.yaml", root, tmp_path, notebooks=LATER,
                             extra=extra), progress=False)
    waiting = _waiting(out)
    scans = pd.read_csv(root / "clinical/scans.csv")     # index tests: the baseline scans
    r1 = reads[(reads["reader"] == "R1") & reads["scan_id"].isin(
        scans.loc[scans["time_point"] == "baseline", "scan_id"])]
    assert waiting["05 · Patient-level accuracy"].startswith(
        f"All {r1['scan_id'].nunique()} scan results were indeterminate (equivocal) and are "
        "excluded under index_test.equivocal = exclude")
    assert waiting["05 · Lesion-level accuracy"].startswith(
        f"All {len(r1)} lesion call results were indeterminate")
    assert "Indeterminate results" not in " ".join(waiting)
    # the sensitivity analysis counts every call positive: every scan and lesion is positive
    alt = pd.read_csv(out / "tables/accuracy_patient_level_equivocal_positive.csv")
    sens = alt[alt["measure"] == "sensitivity"]
    assert (sens["estimate"] == 1.0).all() and (alt["fn"] == 0).all() and (alt["tn"] == 0).all()
    lesions = pd.read_csv(out / "tables/accuracy_lesion_level_equivocal_positive.csv")
    first = lesions.drop_duplicates(["tracer", "modality"])
    assert (first["tp"] + first["fp"]).sum() == len(r1)
    counts = pd.read_csv(out / "tables/indeterminate_results.csv")
    assert (counts["equivocal"] == counts["lesion_reads"]).all()
    assert counts["equivocal"].sum() == len(r1)
    # ROC of SUVmax does not depend on the calls: it runs
    assert (out / "tables/roc_auc.csv").is_file()
