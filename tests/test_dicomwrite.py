"""Tests of nethelpers.demo.dicomwrite: valid, deterministic DICOM with selectable headers."""

from __future__ import annotations

import dataclasses
import functools
import io
import math
import os
import re
import shutil
import subprocess
import sys
import time
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.filewriter import dcmwrite

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid

T0 = datetime(2024, 5, 6, 9, 30, 0)
HALF_LIFE_GA68 = 4062.6

PATIENT = dw.Patient(
    name="Doe^Jane",
    patient_id="MRN4821937",
    birth_date=date(1961, 3, 14),
    sex="F",
    weight_kg=72.5,
    height_m=1.68,
)
STUDY = dw.Study(
    study_uid=dw.make_uid("test-study"),
    study_datetime=T0,
    accession="ACC0042",
    description="PET/CT DOTATATE",
    frame_of_reference_uid=dw.make_uid("test-for"),
    institution="Demo Hospital",
    referring_physician="Smith^John",
)


def rotation_z(degrees: float) -> tuple[float, ...]:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return (c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0)


# nx != ny and sx != sy so that a row/column swap cannot pass unnoticed.
GRID = Grid(size=(14, 11, 12), spacing=(4.0, 3.5, 3.0), origin=(-30.0, -20.0, -100.0))
ROTATED = dataclasses.replace(GRID, origin=(12.5, -7.25, 301.0), direction=rotation_z(30.0))


def pet_series(nz: int = 12, **changes) -> dw.PetSeries:
    """Three beds of 3 min, bed 0 at the head (largest k), decay-corrected to series start."""
    edges = np.linspace(0, nz, 4).astype(int)
    bed_slices = [(int(edges[3 - b - 1]), int(edges[3 - b])) for b in range(3)]
    series_start = T0 + timedelta(minutes=60)
    base = dw.PetSeries(
        series_uid_seed="test-pet",
        series_number=3,
        description="WB DOTATATE",
        series_datetime=series_start,
        tracer="DOTATATE",
        radionuclide="68Ga",
        half_life_s=HALF_LIFE_GA68,
        positron_fraction=0.889,
        injected_dose_bq=152.3e6,
        injection=T0,
        bed_starts=[series_start + timedelta(seconds=185 * b) for b in range(3)],
        bed_slices=bed_slices,
        frame_duration_s=180.0,
    )
    return dataclasses.replace(base, **changes)


CT = dw.CtSeries(
    series_uid_seed="test-ct",
    series_number=2,
    description="CT WB",
    series_datetime=T0 + timedelta(minutes=55),
)
MR = dw.MrSeries(
    series_uid_seed="test-mr",
    series_number=4,
    description="T1 VIBE Dixon in-phase",
    series_datetime=T0 + timedelta(minutes=55),
)


def activity(grid: Grid, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.gamma(2.0, 3000.0, size=grid.shape)
    values[0] = 0.0  # an all-zero slice: slope must be 1, not 0
    return values


def hounsfield(grid: Grid, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(-1100.0, 2500.0, size=grid.shape)


def read_strict(path: Path) -> pydicom.Dataset:
    """Read a file and decode every element with warnings raised as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = pydicom.dcmread(path)
        for elem in ds.iterall():
            _ = elem.value
        _ = ds.pixel_array
    return ds


def by_slice(info: dw.SeriesInfo) -> list[pydicom.Dataset]:
    """Datasets in slice index (k) order."""
    return [read_strict(f) for f in info.files]


def read_sitk_series(directory: Path, pixel_type: int | None = None) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(directory)))
    if pixel_type is not None:
        reader.SetOutputPixelType(pixel_type)
    return reader.Execute()


def acquisition_datetime(ds: pydicom.Dataset) -> datetime:
    return datetime.strptime(ds.AcquisitionDate + ds.AcquisitionTime.split(".")[0], "%Y%m%d%H%M%S")


# ---------------------------------------------------------------------------------------
# 1. pydicom read-back, values within quantisation
# ---------------------------------------------------------------------------------------


def test_pet_reads_cleanly_and_reproduces_activity(tmp_path):
    values = activity(GRID)
    info = dw.write_pet_series(
        values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet_series(), tmp_path
    )
    assert info.n_files == GRID.shape[0] == len(list(tmp_path.glob("*.dcm")))
    for k, ds in enumerate(by_slice(info)):
        slope = float(ds.RescaleSlope)
        assert slope == info.rescale_slopes[k] > 0
        assert float(ds.RescaleIntercept) == 0.0
        assert ds.PixelRepresentation == 1 and ds.BitsStored == 16
        peak = np.abs(values[k]).max()
        expected_slope = peak / 32767 if peak > 0 else 1.0
        assert slope == pytest.approx(expected_slope, rel=1e-9)
        error = np.abs(ds.pixel_array * slope - values[k])
        assert error.max() <= slope / 2 * (1 + 1e-9)
    assert info.rescale_slopes[0] == 1.0  # the all-zero slice


def test_ct_and_mr_read_cleanly_and_reproduce_values(tmp_path):
    hu = hounsfield(GRID)
    ct = dw.write_ct_series(
        hu, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], CT, tmp_path / "ct"
    )
    for k, ds in enumerate(by_slice(ct)):
        assert ds.PatientPosition == "HFS" and ds.ImageType[2] == "AXIAL"
        assert (float(ds.RescaleSlope), float(ds.RescaleIntercept)) == (1.0, -1024.0)
        restored = ds.pixel_array.astype(float) - 1024.0
        np.testing.assert_allclose(restored, np.maximum(hu[k], -1024.0), atol=0.5)
    signal = np.random.default_rng(2).uniform(0.0, 4000.0, size=GRID.shape)
    mr = dw.write_mr_series(
        signal, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_mmr"], MR, tmp_path / "mr"
    )
    for k, ds in enumerate(by_slice(mr)):
        assert ds.PixelRepresentation == 0 and "RescaleSlope" not in ds
        np.testing.assert_allclose(ds.pixel_array, signal[k], atol=0.5)
        assert float(ds.MagneticFieldStrength) == 3.0
        assert float(ds.ImagingFrequency) == pytest.approx(127.732436, abs=1e-6)
        assert (ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType) == ("GR", "SP", "3D")


def test_common_headers_and_slice_numbering(tmp_path):
    info = dw.write_pet_series(
        activity(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["ge_dmi"], pet_series(), tmp_path
    )
    datasets = by_slice(info)
    ds = datasets[0]
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.file_meta.ImplementationClassUID == dw.IMPLEMENTATION_CLASS_UID
    assert ds.file_meta.ImplementationVersionName == dw.IMPLEMENTATION_VERSION_NAME
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == dw.PET_IMAGE_STORAGE
    assert (str(ds.PatientName), ds.PatientID, ds.PatientBirthDate) == (
        "Doe^Jane",
        "MRN4821937",
        "19610314",
    )
    assert (ds.PatientAge, float(ds.PatientWeight), float(ds.PatientSize)) == ("063Y", 72.5, 1.68)
    assert (ds.Modality, ds.Units, ds.DecayCorrection, ds.CountsSource) == (
        "PT",
        "BQML",
        "START",
        "EMISSION",
    )
    assert list(ds.SeriesType) == ["WHOLE BODY", "IMAGE"]
    assert list(ds.CorrectedImage) == ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    assert ds.NumberOfSlices == GRID.shape[0]
    assert (ds.SeriesDate, ds.SeriesTime) == ("20240506", "103000")
    assert ds.FrameOfReferenceUID == STUDY.frame_of_reference_uid
    assert ds.Manufacturer == "GE MEDICAL SYSTEMS"
    assert ds.PatientOrientationCodeSequence[0].CodeValue == "102538003"
    assert ds.PatientGantryRelationshipCodeSequence[0].CodeMeaning == "headfirst"
    assert "PatientPosition" not in ds  # replaced by the NM/PET orientation codes
    _, vendor_like = write_one(tmp_path / "hfs", pet_series(patient_position="HFS"))
    assert vendor_like[0].PatientPosition == "HFS"
    isotope = ds.RadiopharmaceuticalInformationSequence[0]
    assert isotope.RadionuclideCodeSequence[0].CodeValue == "35337001"  # ^68^Gallium
    assert isotope.RadiopharmaceuticalCodeSequence[0].CodeValue == "724025002"
    assert float(isotope.RadionuclideTotalDose) == 152.3e6
    assert float(isotope.RadionuclideHalfLife) == HALF_LIFE_GA68
    # InstanceNumber 1 is the most superior slice (largest z); ImageIndex follows it.
    z = [float(d.ImagePositionPatient[2]) for d in datasets]
    numbers = [int(d.InstanceNumber) for d in datasets]
    assert numbers[int(np.argmax(z))] == 1 and sorted(numbers) == list(range(1, len(z) + 1))
    assert all(int(d.ImageIndex) == int(d.InstanceNumber) for d in datasets)
    assert all(
        float(d.SliceLocation) == pytest.approx(zk) for d, zk in zip(datasets, z, strict=True)
    )
    assert len({d.SOPInstanceUID for d in datasets}) == len(datasets)
    assert [float(v) for v in ds.PixelSpacing] == [3.5, 4.0]  # row spacing (sy) first


# ---------------------------------------------------------------------------------------
# 2. SimpleITK geometry and values
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid", [GRID, ROTATED], ids=["identity", "rotated-30deg-about-z"])
def test_sitk_series_reader_reproduces_grid(tmp_path, grid):
    values = activity(grid)
    dw.write_pet_series(
        values, grid, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet_series(), tmp_path
    )
    image = read_sitk_series(tmp_path, sitk.sitkFloat64)
    np.testing.assert_allclose(image.GetOrigin(), grid.origin, atol=1e-6)
    np.testing.assert_allclose(image.GetSpacing(), grid.spacing, atol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), grid.direction, atol=1e-6)
    # GDCM reads every file with its own ImageIO, so each slice gets its own RescaleSlope:
    # with a float output type the result matches the input within half that slope.
    array = sitk.GetArrayFromImage(image)
    slopes = np.array([max(np.abs(s).max() / 32767, 1.0 * (s.max() == 0)) for s in values])
    assert np.all(np.abs(array - values).max(axis=(1, 2)) <= slopes / 2 * (1 + 1e-9))


def test_sitk_default_pixel_type_follows_the_first_file(tmp_path):
    """Pitfall for loaders: without SetOutputPixelType the series reader takes the pixel
    type of the first (lowest) file. Slice 0 is all zero (slope 1), so the whole volume
    comes back as int16: each slice's slope is applied, then truncated to integers.
    """
    values = activity(GRID)
    dw.write_pet_series(
        values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet_series(), tmp_path
    )
    image = read_sitk_series(tmp_path)
    assert image.GetPixelID() == sitk.sitkInt16
    error = np.abs(sitk.GetArrayFromImage(image) - values)
    assert 0.5 < error.max() < 1.5  # integer truncation, not the quantisation error


def test_sitk_reads_ct_geometry(tmp_path):
    hu = hounsfield(ROTATED)
    dw.write_ct_series(hu, ROTATED, PATIENT, STUDY, dw.SCANNERS["ge_dmi"], CT, tmp_path)
    image = read_sitk_series(tmp_path)
    np.testing.assert_allclose(image.GetOrigin(), ROTATED.origin, atol=1e-6)
    np.testing.assert_allclose(image.GetDirection(), ROTATED.direction, atol=1e-6)
    np.testing.assert_allclose(
        sitk.GetArrayFromImage(image), np.rint(np.maximum(hu, -1024.0)), atol=1e-6
    )


# ---------------------------------------------------------------------------------------
# 3. dcm2niix
# ---------------------------------------------------------------------------------------

# dcm2niix is a dev dependency (the PyPI wheel: Debian 12's 2022 build mis-sorts multi-bed
# PET). DCM2NIIX=/path/to/dcm2niix selects another build.
_VENV_DCM2NIIX = Path(sys.executable).parent / "dcm2niix"
DCM2NIIX = (os.environ.get("DCM2NIIX")
            or (str(_VENV_DCM2NIIX) if _VENV_DCM2NIIX.exists() else shutil.which("dcm2niix")))


def needs_dcm2niix(test):
    """Run ``test`` only with dcm2niix present; its absence is a broken setup, not a skip."""
    def wrapper(*args, **kwargs):
        assert DCM2NIIX, "dcm2niix not found: `make setup` installs it (pip install -e .[dev])"
        return test(*args, **kwargs)

    return functools.wraps(test)(wrapper)

# dcm2niix warnings that valid PET headers cannot avoid:
# - v1.0.20220720 (Debian 12) prints this for every PET series carrying FrameReferenceTime,
#   which the PET Image module makes Type 1 (even when it is the same on every slice);
# - later versions ask for PatientPosition, which the PET IOD forbids next to the
#   Patient Orientation Code Sequence (dciodvfy reports it as an error).
BENIGN_PET_WARNINGS = (
    "Warning: Reordering volumes based on FrameReferenceTime (0054,1300; issue 577)",
    "Warning: Patient Position (0018,5100) not specified (issue 642).",
)


def dcm2niix_version() -> int:
    out = subprocess.run([DCM2NIIX, "-v"], capture_output=True, text=True).stdout
    match = re.search(r"v1\.0\.(\d{8})", out)
    return int(match.group(1)) if match else 0


def convert(directory: Path, out: Path) -> tuple[subprocess.CompletedProcess, sitk.Image]:
    out.mkdir()
    result = subprocess.run(
        [DCM2NIIX, "-z", "n", "-f", "vol", "-o", str(out), str(directory)],
        capture_output=True,
        text=True,
    )
    niftis = sorted(out.glob("*.nii"))
    return result, (sitk.ReadImage(str(niftis[0])) if len(niftis) == 1 else None)


def assert_same_world(nifti: sitk.Image, grid: Grid, expected: np.ndarray, atol: float) -> None:
    """Every grid voxel centre lands on a NIfTI voxel centre holding the same value."""
    nx, ny, nz = grid.size
    ijk = np.stack(np.meshgrid(range(nx), range(ny), range(nz), indexing="ij"), -1).reshape(-1, 3)
    world = grid.index_to_world(ijk)
    matrix = np.asarray(nifti.GetDirection()).reshape(3, 3)
    continuous = ((world - np.asarray(nifti.GetOrigin())) @ matrix) / np.asarray(nifti.GetSpacing())
    index = np.rint(continuous).astype(int)
    np.testing.assert_allclose(continuous, index, atol=1e-3)
    array = sitk.GetArrayFromImage(nifti)  # (z, y, x) of the NIfTI's own grid
    got = array[index[:, 2], index[:, 1], index[:, 0]]
    want = expected[ijk[:, 2], ijk[:, 1], ijk[:, 0]]
    np.testing.assert_allclose(got, want, atol=atol)


def warnings_and_errors(
    result: subprocess.CompletedProcess, allowed: tuple[str, ...] = ()
) -> list[str]:
    """Lines of dcm2niix output that mention a warning or an error, minus ``allowed``."""
    lines = (result.stdout + result.stderr).splitlines()
    flagged = [line for line in lines if re.search(r"warning|error", line, re.IGNORECASE)]
    return [line for line in flagged if line.strip() not in allowed]


@needs_dcm2niix
def test_dcm2niix_converts_ct_cleanly(tmp_path):
    hu = hounsfield(ROTATED)
    dw.write_ct_series(
        hu, ROTATED, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], CT, tmp_path / "dcm"
    )
    result, nifti = convert(tmp_path / "dcm", tmp_path / "nii")
    assert result.returncode == 0 and warnings_and_errors(result) == []
    assert_same_world(nifti, ROTATED, np.rint(np.maximum(hu, -1024.0)), atol=1e-3)


@needs_dcm2niix
def test_dcm2niix_converts_single_bed_pet_cleanly(tmp_path):
    values = activity(ROTATED)
    nz = ROTATED.shape[0]
    pet = pet_series(bed_starts=[T0 + timedelta(minutes=60)], bed_slices=[(0, nz)])
    info = dw.write_pet_series(
        values, ROTATED, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet, tmp_path / "dcm"
    )
    result, nifti = convert(tmp_path / "dcm", tmp_path / "nii")
    assert result.returncode == 0 and warnings_and_errors(result, BENIGN_PET_WARNINGS) == []
    # dcm2niix applies each slice's slope and writes float32.
    assert_same_world(nifti, ROTATED, values, atol=max(info.rescale_slopes) / 2 + 1e-2)


@needs_dcm2niix
def test_dcm2niix_converts_multi_bed_pet(tmp_path):
    """Whole-body PET with one FrameReferenceTime per bed, the first bed at the head.

    dcm2niix v1.0.20220720 (Debian 12) sorts such series by FrameReferenceTime as if they
    were dynamic frames and refuses them (rordenlab/dcm2niix issue 698, fixed in 2023); the
    headers are what real multi-bed scanners write, so this is expected to fail there.
    """
    if dcm2niix_version() <= 20220720:
        pytest.xfail("dcm2niix <= v1.0.20220720 mis-sorts multi-bed PET (issue 698)")
    values = activity(GRID)
    dw.write_pet_series(
        values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet_series(), tmp_path / "d"
    )
    result, nifti = convert(tmp_path / "d", tmp_path / "nii")
    assert result.returncode == 0 and warnings_and_errors(result, BENIGN_PET_WARNINGS) == []
    assert_same_world(nifti, GRID, values, atol=np.abs(values).max() / 32767)


# ---------------------------------------------------------------------------------------
# 4. Header variants
# ---------------------------------------------------------------------------------------


def write_one(tmp_path: Path, pet: dw.PetSeries, scanner: str = "philips_vereos", values=None):
    values = activity(GRID) if values is None else values
    info = dw.write_pet_series(values, GRID, PATIENT, STUDY, dw.SCANNERS[scanner], pet, tmp_path)
    return info, by_slice(info)


def test_philips_cnts_with_private_creator(tmp_path):
    values = activity(GRID)
    pet = pet_series(units="CNTS", philips_bqml_per_count=2.5, philips_suv_factor=1.234e-4)
    info, datasets = write_one(tmp_path, pet, values=values)
    for k, ds in enumerate(datasets):
        assert ds.Units == "CNTS"
        assert ds[0x7053, 0x0010].value == "Philips PET Private Group"
        assert ds[0x7053, 0x1000].VR == "DS" and float(ds[0x7053, 0x1000].value) == 1.234e-4
        assert float(ds[0x7053, 0x1009].value) == 2.5
        counts = ds.pixel_array * float(ds.RescaleSlope)
        assert np.abs(counts * 2.5 - values[k]).max() <= info.rescale_slopes[k] / 2 * 2.5 + 1e-9


def test_philips_factors_without_private_creator(tmp_path):
    pet = pet_series(
        units="CNTS",
        philips_bqml_per_count=2.5,
        philips_suv_factor=1.234e-4,
        philips_private_creator=False,
    )
    _, datasets = write_one(tmp_path, pet)
    for ds in datasets:
        assert (0x7053, 0x0010) not in ds
        assert float(ds[0x7053, 0x1000].value) == 1.234e-4
        assert float(ds[0x7053, 0x1009].value) == 2.5


def test_cnts_without_factors_stores_counts_as_given(tmp_path):
    values = activity(GRID)
    info, datasets = write_one(tmp_path, pet_series(units="CNTS"), values=values)
    for k, ds in enumerate(datasets):
        assert (0x7053, 0x1000) not in ds and (0x7053, 0x1009) not in ds
        assert np.abs(ds.pixel_array * info.rescale_slopes[k] - values[k]).max() <= (
            info.rescale_slopes[k] / 2 * (1 + 1e-9)
        )


def test_ge_private_scan_datetime(tmp_path):
    scan = T0 + timedelta(minutes=58, seconds=7)
    _, datasets = write_one(tmp_path, pet_series(ge_scan_datetime=scan), scanner="ge_dmi")
    for ds in datasets:
        assert ds[0x0009, 0x0010].value == "GEMS_PETD_01"
        assert ds[0x0009, 0x100D].VR == "DT"
        assert ds[0x0009, 0x100D].value == "20240506102807.00"
    _, plain = write_one(tmp_path / "plain", pet_series(), scanner="ge_dmi")
    assert (0x0009, 0x100D) not in plain[0] and (0x0009, 0x0010) not in plain[0]


@pytest.mark.parametrize("style", ["datetime", "time"])
def test_radiopharmaceutical_time_style(tmp_path, style):
    injection = datetime(2024, 5, 6, 9, 30, 15, 250000)
    _, datasets = write_one(tmp_path, pet_series(injection=injection, radiopharm_time_style=style))
    isotope = datasets[0].RadiopharmaceuticalInformationSequence[0]
    assert isotope.RadiopharmaceuticalStartTime == "093015.250000"
    if style == "datetime":
        assert isotope.RadiopharmaceuticalStartDateTime == "20240506093015.250000"
    else:
        assert "RadiopharmaceuticalStartDateTime" not in isotope


def test_unit_faults_dose_in_mbq_and_weight_in_grams(tmp_path):
    _, datasets = write_one(tmp_path, pet_series(dose_in_mbq=True, weight_in_grams=True))
    ds = datasets[0]
    assert float(ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose) == 152.3
    assert float(ds.PatientWeight) == 72500.0


def test_extra_overrides_and_deletions(tmp_path):
    pet = pet_series(
        extra={
            "SeriesType": ["STATIC", "IMAGE"],  # series-level override
            "PatientSize": None,  # series-level deletion
            "DecayFactor": None,  # per-slice deletion
            "FrameReferenceTime": "0",  # per-slice override
            "CorrectedImage": ["ATTN", "SCAT"],
        },
        isotope_extra={"RadionuclideHalfLife": None, "Radiopharmaceutical": "Ga-68 DOTA-TATE"},
        suv_type="BW",
        units="GML",
    )
    _, datasets = write_one(tmp_path, pet)
    for ds in datasets:
        assert list(ds.SeriesType) == ["STATIC", "IMAGE"]
        assert "PatientSize" not in ds and "DecayFactor" not in ds
        assert float(ds.FrameReferenceTime) == 0.0
        assert list(ds.CorrectedImage) == ["ATTN", "SCAT"]
        assert (ds.Units, ds.SUVType) == ("GML", "BW")
        isotope = ds.RadiopharmaceuticalInformationSequence[0]
        assert "RadionuclideHalfLife" not in isotope
        assert isotope.Radiopharmaceutical == "Ga-68 DOTA-TATE"
    with pytest.raises(ValueError, match="not a DICOM keyword"):
        write_one(tmp_path / "bad", pet_series(extra={"NotAKeyword": 1}))


@pytest.mark.parametrize(
    ("decay_correction", "reference"),
    [
        ("START", None),  # defaults to the series datetime
        ("START", T0 + timedelta(minutes=61, seconds=3.5)),
        ("ADMIN", None),  # defaults to the injection
        ("NONE", None),
    ],
)
def test_frame_reference_time_recovers_decay_reference(tmp_path, decay_correction, reference):
    pet = pet_series(decay_correction=decay_correction, decay_reference=reference)
    _, datasets = write_one(tmp_path, pet)
    expected = pet.reference_datetime
    assert expected == reference or (
        reference is None
        and expected == (T0 if decay_correction == "ADMIN" else pet.series_datetime)
    )
    lam = math.log(2) / HALF_LIFE_GA68
    starts = set()
    for ds in datasets:
        assert ds.DecayCorrection == decay_correction
        half_life = float(ds.RadiopharmaceuticalInformationSequence[0].RadionuclideHalfLife)
        t_ave = dw.frame_average_time_s(half_life, float(ds.ActualFrameDuration) / 1000)
        frt = float(ds.FrameReferenceTime) / 1000
        acquired = acquisition_datetime(ds)
        starts.add(acquired)
        recovered = acquired - timedelta(seconds=frt) + timedelta(seconds=t_ave)
        assert abs((recovered - expected).total_seconds()) < 1e-3
        if decay_correction == "NONE":
            assert "DecayFactor" not in ds
        else:
            assert float(ds.DecayFactor) == pytest.approx(math.exp(lam * frt), rel=1e-12)
    assert starts == set(pet.bed_starts)


def test_frame_average_time():
    # Tave = ln(λT / (1 − e^(−λT))) / λ; for 68Ga and 3 min it is just under T/2.
    lam = math.log(2) / HALF_LIFE_GA68
    t_ave = dw.frame_average_time_s(HALF_LIFE_GA68, 180.0)
    assert t_ave == pytest.approx(math.log(lam * 180 / (1 - math.exp(-lam * 180))) / lam)
    assert 89.0 < t_ave < 90.0
    assert dw.frame_average_time_s(1e30, 10.0) == 5.0


def test_acquisition_datetime_element_and_tracer_codes(tmp_path):
    pet = pet_series(
        acquisition_datetime_element=True, tracer="FDG", radionuclide="18F", half_life_s=6586.2
    )
    _, datasets = write_one(tmp_path, pet)
    for ds in datasets:
        assert ds.AcquisitionDateTime == ds.AcquisitionDate + ds.AcquisitionTime
    isotope = datasets[0].RadiopharmaceuticalInformationSequence[0]
    assert isotope.RadionuclideCodeSequence[0].CodeMeaning == "^18^Fluorine"
    assert isotope.RadiopharmaceuticalCodeSequence[0].CodeMeaning == "Fluorodeoxyglucose F^18^"
    hynic = pet_series(tracer="HYNIC-TOC", radionuclide="99mTc", half_life_s=21624.0)
    _, datasets = write_one(tmp_path / "hynic", hynic)
    isotope = datasets[0].RadiopharmaceuticalInformationSequence[0]
    assert "RadiopharmaceuticalCodeSequence" not in isotope  # no DICOM code: text only
    assert isotope.RadionuclideCodeSequence[0].CodeValue == "72454006"


# ---------------------------------------------------------------------------------------
# Determinism, encoder correctness, validation
# ---------------------------------------------------------------------------------------


def test_output_is_byte_identical_across_runs(tmp_path):
    values = activity(GRID)
    runs = []
    for name in ("a", "b"):
        info = dw.write_pet_series(
            values,
            GRID,
            PATIENT,
            STUDY,
            dw.SCANNERS["siemens_vision"],
            pet_series(),
            tmp_path / name,
        )
        runs.append([f.read_bytes() for f in info.files])
    assert runs[0] == runs[1]
    other = dw.write_pet_series(
        values,
        GRID,
        PATIENT,
        STUDY,
        dw.SCANNERS["siemens_vision"],
        pet_series(series_uid_seed="another"),
        tmp_path / "c",
    )
    assert (
        read_strict(other.files[0]).SeriesInstanceUID
        != read_strict(tmp_path / "a" / other.files[0].name).SeriesInstanceUID
    )


def test_files_are_what_pydicom_dcmwrite_would_write(tmp_path):
    """The cached-fragment encoder lays files out exactly like pydicom.dcmwrite."""
    scanner = dw.SCANNERS["ge_signa"]
    private = pet_series(ge_scan_datetime=T0, philips_suv_factor=1e-4, philips_bqml_per_count=3.0)
    faulty = pet_series(
        philips_suv_factor=1e-4,
        philips_private_creator=False,
        extra={"DecayFactor": None, "PatientSize": None, "FrameReferenceTime": "12.5"},
    )
    values = activity(GRID)
    infos = [
        dw.write_pet_series(values, GRID, PATIENT, STUDY, scanner, private, tmp_path / "p1"),
        dw.write_pet_series(values, GRID, PATIENT, STUDY, scanner, faulty, tmp_path / "p2"),
        dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, CT, tmp_path / "ct"),
        dw.write_mr_series(
            np.full(GRID.shape, 100.0), GRID, PATIENT, STUDY, scanner, MR, tmp_path / "mr"
        ),
    ]
    for info in infos:
        for path in (info.files[0], info.files[5], info.files[-1]):
            buffer = io.BytesIO()
            dcmwrite(buffer, pydicom.dcmread(path), enforce_file_format=True)
            assert buffer.getvalue() == path.read_bytes()


def test_invalid_inputs_are_refused(tmp_path):
    scanner = dw.SCANNERS["siemens_vision"]
    values = activity(GRID)
    nz = GRID.shape[0]
    with pytest.raises(ValueError, match="belong to no bed"):
        dw.write_pet_series(
            values,
            GRID,
            PATIENT,
            STUDY,
            scanner,
            pet_series(bed_slices=[(0, 4), (4, 8), (9, nz)]),
            tmp_path,
        )
    with pytest.raises(ValueError, match="belongs to beds"):
        dw.write_pet_series(
            values,
            GRID,
            PATIENT,
            STUDY,
            scanner,
            pet_series(bed_slices=[(0, 5), (4, 8), (8, nz)]),
            tmp_path,
        )
    with pytest.raises(ValueError, match="does not match grid shape"):
        dw.write_pet_series(values[:-1], GRID, PATIENT, STUDY, scanner, pet_series(), tmp_path)
    bad = values.copy()
    bad[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        dw.write_pet_series(bad, GRID, PATIENT, STUDY, scanner, pet_series(), tmp_path)
    with pytest.raises(ValueError, match="cannot be stored"):
        dw.write_ct_series(
            np.full(GRID.shape, 70000.0), GRID, PATIENT, STUDY, scanner, CT, tmp_path
        )
    with pytest.raises(ValueError, match=r"\[0, 65535\]"):
        dw.write_mr_series(np.full(GRID.shape, -5.0), GRID, PATIENT, STUDY, scanner, MR, tmp_path)
    with pytest.raises(ValueError, match="field_strength_t"):
        dw.write_mr_series(np.ones(GRID.shape), GRID, PATIENT, STUDY, scanner, MR, tmp_path)
    with pytest.raises(ValueError, match="decay_correction"):
        pet_series(decay_correction="LATER")
    assert list(tmp_path.glob("*.dcm")) == []  # nothing written by a refused call


# ---------------------------------------------------------------------------------------
# 6. Speed
# ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_write_speed(tmp_path, record_property):
    """Files per second at the demo's series sizes (informational; the floor is lenient).

    CPU time is reported next to wall time because disk speed and machine load vary.
    """
    pet_grid = Grid(size=(128, 128, 250), spacing=(4.0, 4.0, 3.0), origin=(-254.0, -254.0, -900.0))
    ct_grid = Grid(size=(170, 170, 280), spacing=(3.0, 3.0, 3.0), origin=(-254.0, -254.0, -900.0))
    scanner = dw.SCANNERS["siemens_vision"]
    pet_values, hu = activity(pet_grid), hounsfield(ct_grid)
    jobs = {
        "pet": lambda: dw.write_pet_series(
            pet_values, pet_grid, PATIENT, STUDY, scanner, pet_series(nz=250), tmp_path / "pet"
        ),
        "ct": lambda: dw.write_ct_series(hu, ct_grid, PATIENT, STUDY, scanner, CT, tmp_path / "ct"),
    }
    for name, job in jobs.items():
        cpu, wall = time.process_time(), time.perf_counter()
        info = job()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        record_property(f"{name}_files_per_s_cpu", round(info.n_files / cpu))
        record_property(f"{name}_files_per_s_wall", round(info.n_files / wall))
        print(f"{name}: {info.n_files / cpu:.0f} files/s (CPU), {info.n_files / wall:.0f} (wall)")
        # ~2000 files/s on an idle machine; only a gross regression should fail here.
        assert info.n_files / cpu > 200
