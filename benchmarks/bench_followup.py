"""Follow-up on the 60-patient demo: lesion matching and response against the truth, timed.

For every baseline / follow-up pair of the demo (48 pairs: DOTATATE PET/CT and PET/MR, FDG
PET/CT), the follow-up is registered onto the baseline (``register_scans``, the study's
default ``registration:``) and reader R1's VOIs are matched (``match_lesions``). Counted
against the truth lesion IDs: truth pairs found, false matches, new and gone lesions flagged.
Anchor in the same run: SimpleITK's ImageSeriesReader loading the two anatomy series of the
pair (the registration's own input).

With ``--measurements`` (a ``measurements.csv`` of the same demo, e.g. after ``nethelpers
report``), each lesion's measured category (:func:`nethelpers.responsecohort.lesion_category`)
is compared with the category of its true SUVs by the same rules (:func:`truth_categories`;
the malignant lesions, ``lesions="malignant"``, as the truth side takes them),
for all lesions present at both time points, for those at least 2 x FWHM across at both, and
for the evaluable ones (that size, and a true SUV at least 1.5 x its host tissue's).

Usage::

    .venv/bin/python benchmarks/bench_followup.py --demo data/demo [--measurements m.csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from nethelpers.config import params_from_dict
from nethelpers.dicom.volume import load_ct, load_mr, load_pet_series
from nethelpers.lesionmatch import match_lesions
from nethelpers.quantify import scan_jobs
from nethelpers.registration import register_scans
from nethelpers.review import ScanImages
from nethelpers.rois import RoiStore

FU = "-FU1"


def _images(job) -> ScanImages:
    pet = load_pet_series(job.pet, "bw", series_uid=job.series_uid).image
    kind = "MR" if job.modality == "PET/MR" else "CT"
    return ScanImages(job, pet, (load_mr if kind == "MR" else load_ct)(job.anatomy), kind)


def _anchor(job_a, job_b) -> float:
    start = time.perf_counter()
    for job in (job_a, job_b):
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(job.anatomy)))
        reader.Execute()
    return time.perf_counter() - start


def matching(root: Path) -> pd.DataFrame:
    """One row per pair: truth pairs, found, false matches, new/gone right, seconds."""
    params = params_from_dict({"study": {"name": "bench", "data_root": str(root)},
                               "quantify": {"output": str(root / ".bench")}})
    jobs = {j.scan_id: j for j in scan_jobs(params)}
    store = RoiStore(root / "rois")
    rows = []
    for follow in sorted(s for s in jobs if s.endswith(FU)):
        base = follow.removesuffix(FU)
        start = time.perf_counter()
        reg = register_scans(_images(jobs[base]), _images(jobs[follow]))
        a, b = store.load(base, reader="R1"), store.load(follow, reader="R1")
        result = match_lesions(a.labels, a.table, b.labels, b.table, reg.transform)
        seconds = time.perf_counter() - start
        ids_a = set(a.table.loc[a.table["roi"] == "lesion", "lesion_id"])
        ids_b = set(b.table.loc[b.table["roi"] == "lesion", "lesion_id"])
        pairs = result[result["status"] == "matched"]
        right = pairs["baseline_lesion_id"] == pairs["followup_lesion_id"]
        new = set(result.loc[result["status"] == "new", "followup_lesion_id"])
        gone = set(result.loc[result["status"] == "gone", "baseline_lesion_id"])
        rows.append({"pair": follow, "registration": reg.kind,
                     "truth_pairs": len(ids_a & ids_b), "found": int(right.sum()),
                     "false": int((~right).sum()), "new_truth": len(ids_b - ids_a),
                     "new_right": len(new & (ids_b - ids_a)),
                     "gone_truth": len(ids_a - ids_b), "gone_right": len(gone & (ids_a - ids_b)),
                     "seconds": round(seconds, 2),
                     "anchor_seconds": round(_anchor(jobs[base], jobs[follow]), 2)})
    return pd.DataFrame(rows)


def _lbm_factor(sex: str, weight_kg: float, height_cm: float) -> float:
    """SUL / SUV = lean body mass / weight (Janmahasatian 2005), written out here."""
    bmi = weight_kg / (height_cm / 100.0) ** 2
    lbm = 9270.0 * weight_kg / ((6680.0 + 216.0 * bmi) if sex == "M" else (8780.0 + 244.0 * bmi))
    return lbm / weight_kg


def truth_categories(root: Path, seed: int = 0) -> pd.DataFrame:
    """Each lesion's category from its true SUVs by the study's default rules.

    ``rel`` = follow-up / baseline - 1 of the true SUV; PMR/PMD need |rel| >= 30 % and, for
    FDG (PERCIST), |change| >= 0.8 SUL (true SUV change x LBM / weight of the follow-up). A
    lesion is *evaluable* when it is at least 2 x FWHM across at both time points (the
    partial-volume limit) and its true SUV is at least 1.5 x its host tissue's (the contrast
    a VOI's maximum can stand out from).
    """
    from nethelpers.demo.cohort_sim import simulate_patient
    from nethelpers.demo.readers import host_tissue

    course = pd.read_csv(root / "truth" / "lesion_course.csv")
    scans = pd.read_csv(root / "truth" / "scans.csv").set_index("scan_id")
    patients = pd.read_csv(root / "clinical" / "patients.csv").set_index("patient_id")
    rows = []
    for follow in sorted(s for s in scans.index if s.endswith(FU)):
        base = follow.removesuffix(FU)
        p = simulate_patient(int(scans.loc[follow, "patient_id"][1:]) - 1, seed)
        tracer = scans.loc[follow, "tracer"]
        by_id = {les.lesion_id: les for les in p.lesions}
        a = course[course["scan_id"] == base].set_index("lesion_id")
        b = course[course["scan_id"] == follow].set_index("lesion_id")
        sul = _lbm_factor(patients.loc[p.patient_id, "sex"], scans.loc[follow, "weight_kg"],
                          patients.loc[p.patient_id, "height_cm"])
        fwhm = scans.loc[follow, "fwhm_mm"]
        for lesion_id in a.index:
            if not (a.loc[lesion_id, "present"] and b.loc[lesion_id, "present"]):
                continue
            s0, s1 = a.loc[lesion_id, "true_suv"], b.loc[lesion_id, "true_suv"]
            rel, change = s1 / s0 - 1.0, (s1 - s0) * (sul if tracer == "FDG" else 1.0)
            minimum = 0.8 if tracer == "FDG" else 0.0
            word = ("progressing" if rel >= 0.3 - 1e-9 and change >= minimum - 1e-9 else
                    "responding" if rel <= -0.3 + 1e-9 and change <= -minimum + 1e-9 else
                    "stable")
            host = p.organ_suv[tracer][int(host_tissue(by_id[lesion_id]))]
            rows.append({"followup_scan_id": follow, "lesion_id": lesion_id,
                         "truth_rule": word, "true_rel": rel,
                         "size_ok": min(a.loc[lesion_id, "diameter_mm"],
                                        b.loc[lesion_id, "diameter_mm"]) >= 2.0 * fwhm,
                         "contrast_ok": min(s0, s1) >= 1.5 * host})
    return pd.DataFrame(rows)


def truth_patients(root: Path, rules) -> pd.DataFrame:
    """Each pair's patient category from measurement rows built from the truth.

    Lesion SUVmax = SUVpeak = true SUV, SULpeak = true SUV x LBM / weight, the liver's true
    SUV with SD 0; malignant lesions only (``response.lesions``).
    """
    from nethelpers.response import patient_response

    course = pd.read_csv(root / "truth" / "lesion_course.csv")
    malignant = pd.read_csv(root / "truth" / "lesions.csv").query("malignant")["lesion_id"]
    course = course[course["lesion_id"].isin(malignant) & course["present"]]
    scans = pd.read_csv(root / "truth" / "scans.csv").set_index("scan_id")
    patients = pd.read_csv(root / "clinical" / "patients.csv").set_index("patient_id")

    def rows(scan_id: str) -> pd.DataFrame:
        s = scans.loc[scan_id]
        pat = patients.loc[s["patient_id"]]
        f = _lbm_factor(pat["sex"], s["weight_kg"], pat["height_cm"])
        base = {"patient_id": s["patient_id"], "scan_id": scan_id, "tracer": s["tracer"],
                "modality": s["modality"], "quantity": "SUV"}
        out = [base | {"roi": "liver", "lesion_id": "", "suv_mean": s["true_suv_liver"],
                       "suv_sd": 0.0, "sul_mean": s["true_suv_liver"] * f}]
        out += [base | {"roi": "lesion", "lesion_id": r.lesion_id, "suv_max": r.true_suv,
                        "suv_peak": r.true_suv, "sul_peak": r.true_suv * f}
                for r in course[course["scan_id"] == scan_id].itertuples()]
        return pd.DataFrame(out)

    frames = []
    for follow in sorted(s for s in scans.index if s.endswith(FU)):
        got = patient_response(rows(follow.removesuffix(FU)), rows(follow), rules)
        frames.append(got.assign(followup_scan_id=follow))
    return pd.concat(frames, ignore_index=True)


def categories(root: Path, measurements: Path) -> pd.DataFrame:
    """Measured lesion category against the truth's, per lesion (both time points)."""
    from nethelpers.cohort import load_cohort
    from nethelpers.responsecohort import cohort_response
    from nethelpers.responsecriteria import ResponseRules

    params = params_from_dict({"study": {"name": "bench", "data_root": str(root)},
                               "quantify": {"output": str(root / ".bench")}})
    response = cohort_response(load_cohort(params), pd.read_csv(measurements),
                               ResponseRules.from_params(params), reader="R1",
                               lesions="malignant")
    les = response.lesions.merge(truth_categories(root), on=["followup_scan_id", "lesion_id"],
                                 how="inner")
    les["evaluable"] = les["size_ok"] & les["contrast_ok"]
    les["agree"] = les["lesion_category"] == les["truth_rule"]
    return les


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, default=Path("data/demo"))
    parser.add_argument("--measurements", type=Path)
    args = parser.parse_args()
    table = matching(args.demo)
    print(table.to_string(index=False))
    total = table[["truth_pairs", "found", "false", "new_truth", "new_right", "gone_truth",
                   "gone_right"]].sum()
    print(total.to_string())
    print(f"false match rate {total['false'] / max(total['found'] + total['false'], 1):.2%}; "
          f"seconds per pair median {table['seconds'].median():.2f} "
          f"(anchor {table['anchor_seconds'].median():.2f})")
    if args.measurements:
        les = categories(args.demo, args.measurements)
        by = les.groupby(["tracer", "modality"]).agg(
            lesions=("agree", "size"), agree=("agree", "sum"), size_ok=("size_ok", "sum"),
            evaluable=("evaluable", "sum"),
            agree_size_ok=("agree", lambda s: int(s[les.loc[s.index, "size_ok"]].sum())),
            agree_evaluable=("agree", lambda s: int(s[les.loc[s.index, "evaluable"]].sum())))
        print(by.to_string())
        print(les.loc[~les["agree"], ["followup_scan_id", "lesion_id", "lesion_category",
                                      "truth_rule", "true_rel", "size_ok",
                                      "contrast_ok"]].round(3).to_string())
        print(patients_against_truth(args.demo, args.measurements).to_string(index=False))


def patients_against_truth(root: Path, measurements: Path) -> pd.DataFrame:
    """The measured patient categories beside those of the truth, disagreements only."""
    from nethelpers.cohort import load_cohort
    from nethelpers.responsecohort import cohort_response
    from nethelpers.responsecriteria import ResponseRules

    params = params_from_dict({"study": {"name": "bench", "data_root": str(root)},
                               "quantify": {"output": str(root / ".bench")}})
    rules = ResponseRules.from_params(params)
    got = cohort_response(load_cohort(params), pd.read_csv(measurements), rules,
                          lesions="malignant").patients
    truth = truth_patients(root, rules)[["followup_scan_id", "category", "decided_by"]]
    both = got.merge(truth, on="followup_scan_id", suffixes=("", "_truth"))
    same = both["category"].fillna("NA") == both["category_truth"].fillna("NA")
    print(f"patient categories equal to the truth's: {int(same.sum())} of {len(both)}")
    return both.loc[~same, ["followup_scan_id", "category", "category_truth", "decided_by",
                            "decided_by_truth"]]

if __name__ == "__main__":
    main()
