"""Loading series from real DICOM files: SUV volumes for every vendor branch, CT, MR, geometry.

Fixtures are written with the demo writer; expected SUVs come from the activity we wrote and
first-principles decay arithmetic, and the demo's independent header arithmetic
(tests/dicom_arith.py) and ground truth.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.demo import dicomwrite as dw
from nethelpers.dicom import (
    SeriesError,
    SuvError,
    load_ct,
    load_mr,
    load_pet,
    load_pet_series,
    load_series,
    resample_like,
)
from tests.dicom_arith import read_suv_volume
from tests.test_dicomwrite import (
    CT,
    GRID,
    HALF_LIFE_GA68,
    MR,
    PATIENT,
    ROTATED,
    STUDY,
    T0,
    activity,
    hounsfield,
    pet_series,
)

LAM = math.log(2) / HALF_LIFE_GA68
DOSE = 152.3e6


def write(tmp_path, pet=None, values=None, grid=GRID, scanner="siemens_vision"):
    pet = pet or pet_series()
    values = activity(grid) if values is None else values
    dw.write_pet_series(values, grid, PATIENT, STUDY, dw.SCANNERS[scanner], pet, tmp_path)
    return values


def expected_suv(values, pet, *, weight_kg=PATIENT.weight_kg):
    """SUVbw of activity decay-corrected to ``pet.reference_datetime``."""
    t = (pet.reference_datetime - pet.injection).total_seconds()
    return values * weight_kg * 1000.0 / (DOSE * math.exp(-LAM * t))


def array(image):
    return sitk.GetArrayFromImage(image)


def quantisation(values, factor):
    """Largest error int16 storage allows: half a slope step per slice, in SUV."""
    peak = np.abs(values).reshape(values.shape[0], -1).max(axis=1)
    return (peak / 32767 / 2 * factor).max() * 1.0001 + 1e-12


def test_bqml_series_to_suv_with_geometry(tmp_path):
    pet = pet_series()
    values = write(tmp_path, pet)
    image, prov = load_pet(tmp_path)
    suv = expected_suv(values, pet)
    factor = prov["factor"]
    assert factor == pytest.approx(PATIENT.weight_kg * 1000 / (DOSE * math.exp(-LAM * 3600)),
                                   rel=1e-12)
    assert image.GetPixelID() == sitk.sitkFloat32
    np.testing.assert_allclose(array(image), suv, atol=quantisation(values, factor), rtol=1e-6)
    assert image.GetSize() == GRID.size
    np.testing.assert_allclose(image.GetSpacing(), GRID.spacing)
    np.testing.assert_allclose(image.GetOrigin(), GRID.origin)
    np.testing.assert_allclose(image.GetDirection(), GRID.direction, atol=1e-12)
    assert prov["reference_source"] == "SeriesDateTime"
    assert prov["geometry"]["size"] == list(GRID.size)
    json.dumps(prov)


def test_independent_arithmetic_agrees(tmp_path):
    write(tmp_path)
    image, _ = load_pet(tmp_path)
    independent, _ = read_suv_volume(tmp_path)
    np.testing.assert_allclose(array(image), independent, rtol=2e-7, atol=1e-6)


def test_rotated_grid_matches_simpleitk_geometry(tmp_path):
    write(tmp_path, values=activity(ROTATED), grid=ROTATED)
    image, _ = load_pet(tmp_path)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    reader.SetOutputPixelType(sitk.sitkFloat64)
    reference = reader.Execute()
    np.testing.assert_allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-4)
    np.testing.assert_allclose(image.GetSpacing(), reference.GetSpacing(), atol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), reference.GetDirection(), atol=1e-6)
    # same voxels up to the SUV factor
    ratio = array(image).astype(float) / np.where(array(reference) == 0, 1, array(reference))
    factor = load_pet_series(tmp_path).provenance["factor"]
    np.testing.assert_allclose(ratio[array(reference) != 0], factor, rtol=1e-6)


def test_per_slice_slopes_are_applied(tmp_path):
    values = activity(GRID)
    values[3] *= 1000.0  # one hot slice: its slope differs by 1000x
    write(tmp_path, values=values)
    image, prov = load_pet(tmp_path)
    np.testing.assert_allclose(array(image), expected_suv(values, pet_series()),
                               atol=quantisation(values, prov["factor"]), rtol=1e-6)


def test_philips_counts_with_and_without_private_creator(tmp_path):
    values = activity(GRID)
    pet = pet_series()
    write(tmp_path / "bqml", pet, values=values)
    bqml_factor = load_pet_series(tmp_path / "bqml").provenance["factor"]
    for creator in (True, False):
        folder = tmp_path / f"cnts-{creator}"
        counts = dataclasses.replace(pet, units="CNTS", philips_bqml_per_count=2.5,
                                     philips_suv_factor=bqml_factor * 2.5,
                                     philips_private_creator=creator)
        write(folder, counts, values=values, scanner="philips_vereos")
        image, prov = load_pet(folder)
        np.testing.assert_allclose(array(image), expected_suv(values, pet), rtol=1e-5,
                                   atol=quantisation(values, bqml_factor))
        assert prov["branch"][0] == "Units CNTS: Philips SUV scale factor (7053,1000)"
        missing = [w for w in prov["warnings"] if "private creator" in w]
        assert bool(missing) is (not creator)
        # another norm: the scanner's SUV × normaliser / weight
        sul_image, sul = load_pet(folder, "lbm")
        assert sul["branch"][-1].startswith("converted from bw (header body size) to lbm-janma")
        ratio = sul["normaliser"] / (PATIENT.weight_kg * 1000)
        np.testing.assert_allclose(array(sul_image), array(image) * ratio, rtol=1e-6)


def test_ge_post_processed_series(tmp_path):
    scan = T0 + timedelta(minutes=60)
    pet = pet_series(series_datetime=scan + timedelta(hours=1), decay_reference=scan,
                     bed_starts=[scan + timedelta(seconds=185 * b) for b in range(3)],
                     ge_scan_datetime=scan)
    values = write(tmp_path, pet, scanner="ge_dmi")
    image, prov = load_pet(tmp_path)
    assert prov["reference_source"] == "GE (0009,100D)"
    np.testing.assert_allclose(array(image), expected_suv(values, pet), rtol=1e-5,
                               atol=quantisation(values, prov["factor"]))


def test_post_processed_series_back_computed_from_frame_reference_time(tmp_path):
    scan = T0 + timedelta(minutes=60, seconds=3.5)
    pet = pet_series(series_datetime=scan + timedelta(hours=1), decay_reference=scan,
                     bed_starts=[scan + timedelta(seconds=185 * b) for b in range(3)])
    values = write(tmp_path, pet)
    image, prov = load_pet(tmp_path)
    assert prov["reference_source"] == "FrameReferenceTime back-computation"
    # FrameReferenceTime is written with 16-character DS precision: agreement to 1e-6
    np.testing.assert_allclose(array(image), expected_suv(values, pet), rtol=1e-5,
                               atol=quantisation(values, prov["factor_max"]))


def test_dose_in_mbq_weight_in_grams_and_start_time_only(tmp_path):
    pet = pet_series(dose_in_mbq=True, weight_in_grams=True, radiopharm_time_style="time")
    values = write(tmp_path, pet)
    image, prov = load_pet(tmp_path)
    np.testing.assert_allclose(array(image), expected_suv(values, pet), rtol=1e-5,
                               atol=quantisation(values, prov["factor"]))
    assert len(prov["warnings"]) == 2
    assert prov["injection_source"] == "RadiopharmaceuticalStartTime on SeriesDate"


def test_admin_and_none_decay_correction_files(tmp_path):
    pet = pet_series(decay_correction="ADMIN")
    values = write(tmp_path / "admin", pet)  # activity as at injection
    image, prov = load_pet(tmp_path / "admin")
    np.testing.assert_allclose(array(image), values * PATIENT.weight_kg * 1000 / DOSE,
                               rtol=1e-5, atol=quantisation(values, prov["factor"]))
    # NONE: each bed holds the mean activity over its frame, not decay-corrected
    pet = pet_series(decay_correction="NONE",
                     corrected_image=("ATTN", "SCAT", "DTIM", "RAN", "NORM"))
    true_suv = activity(GRID) * 1e-4
    stored = np.empty_like(true_suv)
    for (k0, k1), start in zip(pet.bed_slices, pet.bed_starts, strict=True):
        t0 = (start - pet.injection).total_seconds()
        duration = pet.frame_duration_ms / 1000
        mean_decay = (math.exp(-LAM * t0) - math.exp(-LAM * (t0 + duration))) / (LAM * duration)
        stored[k0:k1] = true_suv[k0:k1] * DOSE / (PATIENT.weight_kg * 1000) * mean_decay
    write(tmp_path / "none", pet, values=stored)
    image, prov = load_pet(tmp_path / "none")
    assert prov["factor"] is None and len(set(prov["slice_factors"])) == 3
    np.testing.assert_allclose(array(image), true_suv, rtol=1e-5,
                               atol=quantisation(stored, prov["factor_max"]))


def test_gml_series_needs_no_dose(tmp_path):
    pet = pet_series(units="GML", suv_type="BW", isotope_extra={"RadionuclideTotalDose": None})
    suv = activity(GRID) * 1e-3
    write(tmp_path, pet, values=suv)
    image, prov = load_pet(tmp_path)
    assert prov["factor"] == 1.0
    np.testing.assert_allclose(array(image), suv, atol=quantisation(suv, 1.0), rtol=1e-6)


@pytest.mark.parametrize(
    ("changes", "isotope", "pattern"),
    [
        ({"extra": {"RescaleIntercept": "1"}}, {}, r"RescaleIntercept \(0028,1052\)"),
        ({"units": "PROPCNTS"}, {}, r"Units \(0054,1001\): PROPCNTS"),
        ({}, {"RadionuclideTotalDose": None}, r"RadionuclideTotalDose \(0018,1074\)"),
        ({"extra": {"RescaleSlope": None}}, {}, r"RescaleSlope \(0028,1053\): missing"),
        ({"corrected_image": ("DECY", "SCAT")}, {}, r"lacks ATTN"),
    ],
)
def test_refusals_name_the_file(tmp_path, changes, isotope, pattern):
    write(tmp_path, pet_series(isotope_extra=isotope, **changes))
    with pytest.raises(SuvError, match=pattern) as info:
        load_pet(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_slice_duplicates_and_mixed_series_are_refused(tmp_path):
    write(tmp_path / "pet")
    missing = tmp_path / "missing"
    shutil.copytree(tmp_path / "pet", missing)
    (missing / "00005.dcm").unlink()
    with pytest.raises(SeriesError, match="a slice is missing"):
        load_pet(missing)
    dup = tmp_path / "dup"
    shutil.copytree(tmp_path / "pet", dup)
    shutil.copy(dup / "00005.dcm", dup / "copy.dcm")
    with pytest.raises(SeriesError, match="same position"):
        load_pet(dup)
    mixed = tmp_path / "mixed"
    shutil.copytree(tmp_path / "pet", mixed)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"],
                       dataclasses.replace(CT), tmp_path / "ct")
    shutil.copy(tmp_path / "ct" / "00001.dcm", mixed / "ct.dcm")
    with pytest.raises(SeriesError, match="belong to 2 series"):
        load_pet(mixed)
    # picking one series by UID works
    uid = pydicom.dcmread(mixed / "00001.dcm", stop_before_pixels=True).SeriesInstanceUID
    image, _ = load_pet(mixed, series_uid=uid)
    assert image.GetSize() == GRID.size
    with pytest.raises(SeriesError, match="Modality is PT, not CT"):
        load_ct(tmp_path / "pet")


def test_non_uniform_spacing_is_refused(tmp_path):
    write(tmp_path)
    path = tmp_path / "00004.dcm"
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + 1.0
    ds.save_as(path)
    with pytest.raises(SeriesError, match="non-uniform spacing"):
        load_pet(tmp_path)


def test_ct_and_mr_values(tmp_path):
    hu = hounsfield(GRID)
    dw.write_ct_series(hu, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], CT,
                       tmp_path / "ct")
    ct = load_ct(tmp_path / "ct")
    np.testing.assert_allclose(array(ct), np.rint(np.maximum(hu, -1024)), atol=1e-3)
    signal = np.random.default_rng(2).uniform(0.0, 4000.0, size=GRID.shape)
    dw.write_mr_series(signal, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_mmr"], MR,
                       tmp_path / "mr")
    mr = load_mr(tmp_path / "mr")
    np.testing.assert_allclose(array(mr), np.rint(signal))
    loaded = load_series(tmp_path / "mr")
    assert loaded.modality == "MR" and len(loaded.files) == GRID.shape[0]


def test_resample_pet_onto_ct_grid_and_back(tmp_path):
    pet = sitk.Image(GRID.size, sitk.sitkFloat32)
    pet.SetSpacing(GRID.spacing)
    pet.SetOrigin(GRID.origin)
    z, y, x = np.meshgrid(*(np.arange(n, dtype=float) for n in GRID.shape), indexing="ij")
    ramp = (2.0 * x + 3.0 * y - z).astype(np.float32)  # linear: interpolation is exact
    image = sitk.GetImageFromArray(ramp)
    image.CopyInformation(pet)
    fine = sitk.Image([2 * n for n in GRID.size], sitk.sitkFloat32)
    fine.SetSpacing([s / 2 for s in GRID.spacing])
    fine.SetOrigin([o - s / 4 for o, s in zip(GRID.origin, GRID.spacing, strict=True)])
    up = resample_like(image, fine, default=np.nan)
    back = resample_like(up, image, default=np.nan)
    inner = (slice(1, -1),) * 3
    np.testing.assert_allclose(array(back)[inner], ramp[inner], atol=1e-4)
    labels = sitk.Cast(image > 10, sitk.sitkUInt8)
    assert set(np.unique(array(resample_like(labels, fine, interpolation="nearest")))) <= {0, 1}


def test_ideal_demo_pet_matches_truth_and_independent_arithmetic(ideal_study):
    truth = pd.read_csv(ideal_study / "truth" / "scans.csv")
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv").merge(truth, on="scan_id")
    assert set(scans["vendor"]) == {"SIEMENS", "GE", "PHILIPS"}
    for _, scan in scans.iterrows():
        folder = ideal_study / scan["pet_dir"]
        image, prov = load_pet(folder)
        independent, _ = read_suv_volume(folder)
        np.testing.assert_allclose(array(image), independent, rtol=2e-6, atol=1e-5)
        if scan["units"] == "BQML":
            assert prov["factor"] == pytest.approx(scan["suv_bw_factor_g_per_bq"], rel=1e-9)
        else:  # Philips CNTS: per count = per Bq/ml × Bq/ml per count
            assert prov["factor"] == pytest.approx(
                scan["suv_bw_factor_g_per_bq"] * scan["bqml_per_count"], rel=1e-6)


def test_cli_suv_writes_image_and_provenance(tmp_path):
    pet = pet_series()
    values = write(tmp_path / "pet", pet)
    out = tmp_path / "out" / "suv.nii.gz"
    done = subprocess.run(
        [sys.executable, "-m", "nethelpers", "suv", str(tmp_path / "pet"), "-o", str(out),
         "--norm", "lbm"],
        capture_output=True, text=True, check=True,
    )
    prov = json.loads(done.stdout)
    assert prov["norm"] == "lbm-janma" and prov["output"] == str(out)
    image = sitk.ReadImage(str(out))
    bw_factor = expected_suv(np.ones(1), pet)[0]
    from nethelpers.dicom.bodysize import lbm_janmahasatian_kg

    lbm = lbm_janmahasatian_kg(PATIENT.weight_kg, PATIENT.height_m, PATIENT.sex)
    np.testing.assert_allclose(array(image), values * bw_factor * lbm / PATIENT.weight_kg,
                               rtol=1e-5, atol=quantisation(values, prov["factor"]))
    failed = subprocess.run(
        [sys.executable, "-m", "nethelpers", "suv", str(tmp_path / "pet"), "-o", str(out),
         "--norm", "lbm", "--sex", "X"], capture_output=True, text=True,
    )
    assert failed.returncode == 2


def test_values_beyond_bits_stored_are_refused(tmp_path):
    """BitsStored 12 over 16-bit values: a decoder masks them, the raw path would not, so
    the SUV would depend on the transfer syntax (found by review). Refused instead."""
    write(tmp_path)
    path = tmp_path / "00004.dcm"
    ds = pydicom.dcmread(path)
    assert int(np.abs(ds.pixel_array).max()) > 2047          # the demo's values use 16 bits
    ds.BitsStored, ds.HighBit = 12, 11
    ds.save_as(path)
    with pytest.raises(SeriesError, match="do not fit BitsStored 12") as info:
        load_pet(tmp_path)
    assert str(path) in str(info.value) and "BitsStored (0028,0101)" in str(info.value)
