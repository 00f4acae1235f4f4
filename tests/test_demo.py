"""The demo generator: cohort content, DICOM headers, geometry, truth recovery, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.cli import main
from nethelpers.demo.cohort_sim import GROUPS, simulate_patient
from nethelpers.demo.generate import generate_demo
from nethelpers.demo.imaging import ImagingOptions, scan_grid
from nethelpers.demo.uptake import sphere_center_recovery
from nethelpers.rois import RoiStore
from tests.dicom_arith import read_suv_volume


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    files = {"patients": "clinical/patients", "scans": "clinical/scans",
             "lesions": "truth/lesions", "truth_scans": "truth/scans",
             "lesion_positions": "truth/lesion_positions", "reads": "reads/reads",
             "lesion_course": "truth/lesion_course"}
    return {key: pd.read_csv(root / f"{name}.csv") for key, name in files.items()}


def _first_file(root: Path, rel: str) -> pydicom.Dataset:
    return pydicom.dcmread(sorted((root / rel).glob("*.dcm"))[0])


# --- cohort content -------------------------------------------------------------------


def test_six_patients_cover_every_group_and_truth_class(demo_study):
    t = _tables(demo_study)
    pts = t["patients"]
    assert list(pts.patient_id) == [f"P00{i}" for i in range(1, 7)]
    assert sorted(pts.group) == sorted(GROUPS)
    assert (~pts.disease_present).sum() >= 1          # true negatives exist
    assert set(pts.final_diagnosis) == {"NET", "TIO", "none"}
    assert set(t["lesions"].truth) == {"malignant", "benign", "physiological"}
    tio = pts[pts.group.str.contains("tio")]
    assert tio.grade.isna().all() and tio.fgf23_ru_ml.notna().all()
    net = pts[pts.final_diagnosis == "NET"]
    ki67_ok = {"G1": (0, 3), "G2": (3, 20), "G3": (20, 100)}
    for _, row in net.iterrows():
        lo, hi = ki67_ok[row.grade]
        assert lo <= row.ki67 <= hi


def test_scans_per_protocol(demo_study):
    t = _tables(demo_study)
    scans, pts = t["scans"], t["patients"]
    # follow-ups (history of NET, PRRT: P003, P004) are tested in test_followup_demo.py
    assert sorted(scans.loc[scans.time_point != "baseline", "scan_id"]) == [
        "P003-DOTATATE-PETCT-FU1", "P003-DOTATATE-PETMR-FU1", "P004-DOTATATE-PETCT-FU1"]
    scans = scans[scans.time_point == "baseline"]
    dota_ct = scans[(scans.tracer == "DOTATATE") & (scans.modality == "PET/CT")]
    assert set(dota_ct.patient_id) == set(pts.patient_id)      # everyone
    petmr = scans[scans.modality == "PET/MR"]
    assert len(petmr) == 3
    for _, mr in petmr.iterrows():                             # same day, after the PET/CT
        ct = dota_ct[dota_ct.patient_id == mr.patient_id].iloc[0]
        assert mr.scan_date == ct.scan_date
    fdg = scans[scans.tracer == "FDG"]
    assert len(fdg) >= 4 and (fdg.modality == "PET/CT").all()
    tr = t["truth_scans"].set_index("scan_id")
    # doses per protocol: DOTATATE 2 MBq/kg (max 200, +5 %/-10 %), FDG 3.7-5.4 MBq/kg
    dota = tr[tr.tracer == "DOTATATE"]
    assert (dota.injected_dose_mbq <= 200 * 1.05 + 1e-9).all()
    assert np.all(dota.injected_dose_mbq / dota.weight_kg <= 2.0 * 1.05 + 1e-9)
    f = tr[tr.tracer == "FDG"]
    assert np.all((f.injected_dose_mbq / f.weight_kg).between(3.7 - 1e-6, 5.4 + 1e-6))
    assert tr[tr.modality != "SPECT/CT"].uptake_min.between(44, 140).all()
    assert (tr[tr.modality == "PET/MR"].uptake_min > 60).all()


def test_petmr_and_fdg_spread_over_every_group():
    """PET/MR for half of every group (no confounding of PET/MR vs PET/CT by group)."""
    patients = [simulate_patient(i, 0) for i in range(60)]
    by_group = {}
    for p in patients:
        mods = {(s.tracer, s.modality) for s in p.scans}
        counts = by_group.setdefault(p.group, [0, 0, 0])
        counts[0] += 1
        counts[1] += ("DOTATATE", "PET/MR") in mods
        counts[2] += ("FDG", "PET/CT") in mods
    for group, (n, petmr, fdg) in by_group.items():
        assert petmr == n // 2, group
        assert fdg >= 1, group
    total_fdg = sum(c[2] for c in by_group.values())
    assert 36 <= total_fdg <= 44               # about two thirds of 60


def test_flip_flop_by_grade():
    """G1/G2 lesions take up DOTATATE more than FDG; G3 the reverse (median over a cohort)."""
    rows = []
    for i in range(60):
        p = simulate_patient(i, 0)
        for les in p.lesions:
            if les.malignant and p.grade:
                rows.append((p.grade, les.suv["DOTATATE"], les.suv["FDG"]))
    df = pd.DataFrame(rows, columns=["grade", "dota", "fdg"])
    med = df.groupby("grade")[["dota", "fdg"]].median()
    assert med.loc["G1", "dota"] > 4 * med.loc["G1", "fdg"]
    assert med.loc["G3", "fdg"] > 1.5 * med.loc["G3", "dota"]


def test_reads_cover_every_scan_lesion_reader(demo_study):
    t = _tables(demo_study)
    reads, lesions, scans = t["reads"], t["lesions"], t["scans"]
    # readers R1 and R2 and their consensus read every lesion of every scan of the patient
    # that is on the scan (a follow-up: not the gone ones, and the new ones too)
    present = t["lesion_positions"].groupby("scan_id").size()
    expected = 3 * int(scans.scan_id.map(present).fillna(0).sum())
    assert len(reads) == expected
    assert reads.groupby("reader").size().to_dict() == {r: expected // 3
                                                        for r in ("R1", "R2", "consensus")}
    assert set(reads.call) <= {"positive", "negative", "equivocal"}
    merged = reads.merge(lesions[["lesion_id", "malignant"]], on="lesion_id")
    fp = merged[(merged.call == "positive") & ~merged.malignant]
    fn = merged[(merged.call == "negative") & merged.malignant]
    assert fp.cause.notna().all() and fn.cause.notna().all()
    agree = merged[((merged.call == "positive") & merged.malignant)
                   | ((merged.call == "negative") & ~merged.malignant)]
    assert agree.cause.isna().all()
    dota = reads[reads.scan_id.str.contains("DOTATATE")]
    assert dota.krenning.between(0, 4).all()
    assert reads[reads.scan_id.str.contains("FDG")].krenning.isna().all()


def test_no_phi_in_tables(demo_study):
    phi = set()
    for d in sorted((demo_study / "dicom").glob("*/*/PT")):
        ds = _first_file(demo_study, str(d.relative_to(demo_study)))
        phi |= {str(ds.PatientName), ds.PatientID, ds.PatientBirthDate,
                str(ds.PatientName).split("^")[0]}
    assert len(phi) >= 6
    for csv in demo_study.rglob("*.csv"):
        text = csv.read_text()
        for value in phi:
            assert value not in text, f"{value} leaked into {csv}"


# --- DICOM headers ----------------------------------------------------------------------


def test_pet_headers_follow_vendor_styles(demo_study):
    t = _tables(demo_study)
    truth = t["truth_scans"].set_index("scan_id")
    seen = set()
    for _, s in t["scans"][t["scans"].modality != "SPECT/CT"].iterrows():
        ds = _first_file(demo_study, s.pet_dir)
        tr = truth.loc[s.scan_id]
        iso = ds.RadiopharmaceuticalInformationSequence[0]
        assert ds.Modality == "PT" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.128"
        assert {"ATTN", "DECY"} <= set(ds.CorrectedImage)
        assert ds.DecayCorrection == "START" and float(ds.RescaleIntercept) == 0
        assert float(iso.RadionuclideHalfLife) == {"DOTATATE": 4062.6, "FDG": 6586.2}[s.tracer]
        assert float(iso.RadionuclideTotalDose) == pytest.approx(tr.injected_dose_mbq * 1e6)
        assert float(ds.PatientWeight) == pytest.approx(tr.weight_kg)
        assert str(ds.PatientName) != s.patient_id and ds.PatientID.startswith("MRN")
        has_dt = "RadiopharmaceuticalStartDateTime" in iso
        assert has_dt == (tr.radiopharm_time_style == "datetime")
        if tr.vendor == "PHILIPS":
            assert ds.Units == "CNTS"
            assert float(ds[0x7053, 0x1009].value) == pytest.approx(tr.bqml_per_count)
            seen.add("philips")
        else:
            assert ds.Units == "BQML"
        if tr.vendor == "GE":
            assert (0x0009, 0x100D) in ds
            seen.add("ge")
        if tr.vendor == "SIEMENS":
            series = ds.SeriesDate + ds.SeriesTime
            assert series < ds.AcquisitionDate + ds.AcquisitionTime    # series before acq
            seen.add("siemens")
    assert seen == {"philips", "ge", "siemens"}


def test_per_slice_rescale_slopes_differ(demo_study):
    s = _tables(demo_study)["scans"].iloc[0]
    slopes = {float(pydicom.dcmread(f, stop_before_pixels=True).RescaleSlope)
              for f in sorted((demo_study / s.pet_dir).glob("*.dcm"))}
    assert len(slopes) > 50


def test_geometry_pet_ct_mr(demo_study):
    t = _tables(demo_study)
    for _, s in t["scans"][t["scans"].modality != "SPECT/CT"].iterrows():   # SPECT: its test
        p = simulate_patient(int(s.patient_id[1:]) - 1, 0)
        scan = next(x for x in p.scans if x.scan_id == s.scan_id)
        for rel, kind in ((s.pet_dir, "PT"), (s.anat_dir, s.anat_dir[-2:])):
            reader = sitk.ImageSeriesReader()
            files = reader.GetGDCMSeriesFileNames(str(demo_study / rel))
            reader.SetFileNames(files)
            reader.MetaDataDictionaryArrayUpdateOn()
            img = reader.Execute()
            g = scan_grid(p, scan, kind)
            assert img.GetSize() == g.size
            np.testing.assert_allclose(img.GetSpacing(), g.spacing, atol=1e-6)
            np.testing.assert_allclose(img.GetOrigin(), g.origin, atol=1e-3)
            np.testing.assert_allclose(img.GetDirection(), g.direction, atol=1e-9)
        pet = _first_file(demo_study, s.pet_dir)
        anat = _first_file(demo_study, s.anat_dir)
        assert pet.FrameOfReferenceUID == anat.FrameOfReferenceUID
        assert pet.StudyInstanceUID == anat.StudyInstanceUID == s.study_uid
        assert anat.Modality == ("CT" if s.modality == "PET/CT" else "MR")


def test_ct_hounsfield_units(ideal_study):
    s = _tables(ideal_study)["scans"].iloc[0]
    img = sitk.ReadImage(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(
        str(ideal_study / s.anat_dir)))
    hu = sitk.GetArrayFromImage(img)
    values, counts = np.unique(hu, return_counts=True)
    top = set(values[np.argsort(counts)[-4:]].astype(int))
    assert {-1000, -100, 45} <= top           # air, fat, muscle dominate a noise-free CT


# --- truth recovered from the DICOM ---------------------------------------------------


def _core_values(vol, grid_origin, spacing, z_positions, centre, radius):
    """Voxels whose 2x2x2 sub-samples all lie inside the sphere."""
    nz, ny, nx = vol.shape
    zz, yy, xx = np.meshgrid(np.asarray(z_positions), grid_origin[1] + spacing[1] * np.arange(ny),
                             grid_origin[0] + spacing[0] * np.arange(nx), indexing="ij")
    d = np.sqrt((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (zz - centre[2]) ** 2)
    reach = np.sqrt(np.sum((np.asarray(spacing) / 4.0) ** 2))
    return vol[d <= radius - reach - 1e-6]


def test_true_suv_recovered_in_lesion_cores(ideal_study):
    """Blur- and noise-free study: plain header arithmetic gives the true SUV within 1 %."""
    t = _tables(ideal_study)
    lesions = t["lesions"].set_index("lesion_id")
    pos = t["lesion_positions"]
    truth = pd.read_csv(ideal_study / "truth/scans.csv").set_index("scan_id")
    checked = 0
    for _, s in t["scans"].iterrows():
        vol, zs = read_suv_volume(ideal_study / s.pet_dir)
        ds = _first_file(ideal_study, s.pet_dir)
        origin = [float(v) for v in ds.ImagePositionPatient]
        spacing = [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]), zs[1] - zs[0]]
        for _, row in pos[pos.scan_id == s.scan_id].iterrows():
            les = lesions.loc[row.lesion_id]
            core = _core_values(vol, origin, spacing, zs, (row.x_mm, row.y_mm, row.z_mm),
                                les.diameter_mm / 2.0)
            if core.size == 0:
                continue
            expected = les[f"true_suv_{s.tracer.lower()}"]
            course = t["lesion_course"]        # a follow-up: the lesion's SUV at that time
            at = course[(course.scan_id == s.scan_id) & (course.lesion_id == row.lesion_id)]
            if len(at):
                expected = at["true_suv"].iloc[0]
                core = _core_values(vol, origin, spacing, zs, (row.x_mm, row.y_mm, row.z_mm),
                                    at["diameter_mm"].iloc[0] / 2.0)
                if core.size == 0:
                    continue
            if s.modality == "PET/MR" and les.in_bone:
                expected *= 0.85
            np.testing.assert_allclose(core, expected, rtol=0.01,
                                       err_msg=f"{s.scan_id} {row.lesion_id}")
            checked += 1
        # the liver reference sphere (3 cm, right lobe) holds pure liver
        roi = RoiStore(ideal_study / "rois").load(s.scan_id).array
        liver = vol[roi == 1]
        assert liver.size > 100
        np.testing.assert_allclose(liver, truth.loc[s.scan_id, "true_suv_liver"], rtol=0.01)
    assert checked >= 10


def test_resolution_and_noise_are_realistic(demo_study):
    """Blurred small lesions lose contrast as the sphere recovery predicts; liver noise ~10 %."""
    t = _tables(demo_study)
    truth = pd.read_csv(demo_study / "truth/scans.csv").set_index("scan_id")
    s = t["scans"].iloc[0]
    vol, _ = read_suv_volume(demo_study / s.pet_dir)
    roi = RoiStore(demo_study / "rois").load(s.scan_id).array
    liver = vol[roi == 1]
    # correlated noise: ~216 voxels hold ~10 independent samples, so the mean's SE is ~3 %
    assert liver.mean() == pytest.approx(truth.loc[s.scan_id, "true_suv_liver"], rel=0.10)
    assert 0.05 < liver.std() / liver.mean() < 0.2
    assert sphere_center_recovery(5, 6) < 0.5 < sphere_center_recovery(20, 6) < 1.0


# --- determinism and the command ------------------------------------------------------


def _digest(root: Path) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file()}


def test_same_seed_same_bytes(tmp_path):
    a = generate_demo(tmp_path / "a", 1, seed=7, workers=1, progress=False)
    b = generate_demo(tmp_path / "b", 1, seed=7, workers=2, progress=False)
    c = generate_demo(tmp_path / "c", 1, seed=8, workers=1, progress=False)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert len(da) > 500 and da == db
    assert da["clinical/patients.csv"] != dc["clinical/patients.csv"]


def test_cli_if_missing_keeps_complete_study(demo_study, capsys):
    marker = json.loads((demo_study / "demo.json").read_text())
    assert marker["patients"] == 6 and marker["n_files"] > 5000
    before = (demo_study / "demo.json").stat().st_mtime_ns
    assert main(["demo", "--out", str(demo_study), "--patients", "6", "--seed", "0",
                 "--if-missing", "-q"]) == 0
    assert (demo_study / "demo.json").stat().st_mtime_ns == before
    assert "kept" in capsys.readouterr().out


def test_if_missing_replaces_an_older_format(tmp_path):
    from nethelpers.demo.generate import DEMO_FORMAT, is_complete

    out = generate_demo(tmp_path / "d", 1, seed=3, workers=1, progress=False)
    assert is_complete(out, 1, 3, ImagingOptions())
    assert not is_complete(out, 2, 3, ImagingOptions())
    meta = json.loads((out / "demo.json").read_text())
    (out / "demo.json").write_text(json.dumps({**meta, "format": DEMO_FORMAT - 1}))
    assert not is_complete(out, 1, 3, ImagingOptions())
    assert main(["demo", "--out", str(out), "--patients", "1", "--seed", "3", "--if-missing",
                 "-q", "--workers", "1"]) == 0
    assert json.loads((out / "demo.json").read_text())["format"] == DEMO_FORMAT


def test_cli_refuses_to_overwrite(demo_study, capsys):
    assert main(["demo", "--out", str(demo_study), "--patients", "2", "-q"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    import nethelpers.demo.generate as gen

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(gen, "_write_tables", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        gen.generate_demo(tmp_path / "x", 1, workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_ideal_options_recorded(ideal_study):
    meta = json.loads((ideal_study / "demo.json").read_text())
    assert meta["options"] == {"blur": False, "noise": False}
    assert ImagingOptions() == ImagingOptions(blur=True, noise=True)
