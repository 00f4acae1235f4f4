"""The SPECT writer (NM multi-frame and PT slices) read back by independent readers.

Truth is the writer's input. The files are read with plain pydicom + numpy (a reader
written here from PS3.3 C.8.4: frames, DetectorInformationSequence IPP/IOP, SliceVector,
SpacingBetweenSlices along row x column), with SimpleITK (GDCM) and checked by dciodvfy.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from datetime import date, datetime

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.nmwrite import SPECT_RADIONUCLIDES, SpectSeries, write_spect_series

GRID = Grid((32, 30, 24), (4.8, 4.6, 4.4), (-75.0, -70.0, -40.0))
PATIENT = dw.Patient("Spect^Test", "MRN777", date(1961, 5, 4), "F", 64.0, 1.66)
STUDY = dw.Study("1.2.826.0.1.3680043.8.498.1", datetime(2024, 2, 1, 9, 0),
                 "ACC9", "SPECT/CT", "1.2.826.0.1.3680043.8.498.2", "Demo", "Ref^Doc")
START = datetime(2024, 2, 1, 13, 5, 0)
INJECTION = datetime(2024, 2, 1, 9, 2, 30)


def activity(seed: int = 0, peak: float = 40000.0) -> np.ndarray:
    """A non-negative Bq/ml volume with structure along every axis."""
    rng = np.random.default_rng(seed)
    k, j, i = np.indices(GRID.shape)
    return (peak * (0.2 + 0.8 * rng.random(GRID.shape)) * (1 + k) / GRID.shape[0]
            * (1 + 0.01 * j + 0.02 * i)).astype(np.float32) / 2.5


def spect(**options) -> SpectSeries:
    return SpectSeries(series_uid_seed=f"t-{sorted(options.items())}", series_number=9,
                       description="SPECT", series_datetime=START, injected_dose_bq=740e6,
                       injection=INJECTION, **options)


def write(tmp_path, values=None, **options):
    values = activity() if values is None else values
    info = write_spect_series(values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_intevo"],
                              spect(**options), tmp_path / "NM")
    return values, info


def read_nm(path):
    """Independent reader: (volume ascending along the normal, positions, slope, dataset)."""
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.astype(np.float64).reshape(int(ds.NumberOfFrames), ds.Rows,
                                                       ds.Columns)
    slope = 1.0
    if "RealWorldValueMappingSequence" in ds:
        item = ds.RealWorldValueMappingSequence[0]
        slope = float(item.RealWorldValueSlope)
        frames = frames * slope + float(item.RealWorldValueIntercept)
    detector = ds.DetectorInformationSequence[0]
    ipp = np.asarray(detector.ImagePositionPatient, float)
    iop = np.asarray(detector.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    spacing = float(ds.SpacingBetweenSlices)
    positions = np.array([ipp + (s - 1) * spacing * normal for s in ds.SliceVector])
    order = np.argsort(positions @ normal)
    return frames[order], positions[order], slope, ds


def test_counts_nm_recovers_the_counts_and_geometry_exactly(tmp_path):
    values, info = write(tmp_path, counts_per_bqml=1.5)
    assert info.n_files == 1 and info.files[0].parent == tmp_path / "NM"
    volume, positions, slope, ds = read_nm(info.files[0])
    np.testing.assert_array_equal(volume, np.rint(values.astype(np.float64) * 1.5))
    expected = np.array([GRID.slice_position(k) for k in range(GRID.shape[0])])
    np.testing.assert_allclose(positions, expected, atol=1e-6)
    assert slope == 1.0 and "Units" not in ds and "RescaleSlope" not in ds
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20" and ds.Modality == "NM"
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    assert ds.FrameIncrementPointer == 0x00540080 and ds.NumberOfSlices == GRID.shape[0]
    assert ds.PixelRepresentation == 0 and ds.BitsAllocated == 16
    window = ds.EnergyWindowInformationSequence[0].EnergyWindowRangeSequence[0]
    assert (float(window.EnergyWindowLowerLimit), float(window.EnergyWindowUpperLimit)) == (
        pytest.approx(140.5 * 0.925, abs=0.005), pytest.approx(140.5 * 1.075, abs=0.005))
    item = ds.RadiopharmaceuticalInformationSequence[0]
    assert float(item.RadionuclideTotalDose) == pytest.approx(740.0)    # MBq in NM objects
    assert item.RadionuclideCodeSequence[0].CodeValue == "72454006"
    assert float(item.RadionuclideHalfLife) == pytest.approx(21624.12)
    assert item.Radiopharmaceutical == "Tc99m-HYNIC-TOC"
    assert ds.AcquisitionTime == "130500" and ds.ManufacturerModelName == "Symbia Intevo Bold"
    rotation = ds.RotationInformationSequence[0]
    assert int(rotation.ActualFrameDuration) * int(rotation.NumberOfFramesInRotation) == 1200000


def test_quantitative_nm_holds_bqml_within_half_a_step(tmp_path):
    values, info = write(tmp_path, quantitative=True)
    volume, _, slope, ds = read_nm(info.files[0])
    assert slope == pytest.approx(float(values.max()) / 65535, rel=1e-9)
    assert np.abs(volume - values).max() <= slope / 2 + 1e-9 * float(values.max())
    item = ds.RealWorldValueMappingSequence[0]
    assert item.MeasurementUnitsCodeSequence[0].CodeValue == "Bq/ml"
    assert item.MeasurementUnitsCodeSequence[0].CodingSchemeDesignator == "UCUM"
    assert ds.Units == "BQML" and float(ds.RescaleSlope) == pytest.approx(slope, rel=1e-12)
    assert "DECY" in ds.CorrectedImage and "ATTN" in ds.CorrectedImage


def test_counts_above_16_bits_get_one_slope_with_counts_units(tmp_path):
    values, info = write(tmp_path, counts_per_bqml=10.0)
    volume, _, slope, ds = read_nm(info.files[0])
    assert float(values.max()) * 10 > 65535 and slope > 1
    assert ds.RealWorldValueMappingSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == (
        "{counts}")
    assert np.abs(volume - values.astype(np.float64) * 10).max() <= slope / 2 * (1 + 1e-9)


def test_negative_spacing_writes_the_same_volume_head_to_foot(tmp_path):
    values, info = write(tmp_path, counts_per_bqml=1.0, negative_spacing=True)
    volume, positions, _, ds = read_nm(info.files[0])
    assert float(ds.SpacingBetweenSlices) == pytest.approx(-4.4)
    first = np.asarray(ds.DetectorInformationSequence[0].ImagePositionPatient, float)
    np.testing.assert_allclose(first, GRID.slice_position(GRID.shape[0] - 1), atol=1e-6)
    np.testing.assert_array_equal(volume, np.rint(values.astype(np.float64)))
    np.testing.assert_allclose(positions, [GRID.slice_position(k)
                                           for k in range(GRID.shape[0])], atol=1e-6)


@pytest.mark.parametrize("negative", [False, True])
def test_simpleitk_reads_the_same_geometry_and_values(tmp_path, negative):
    """GDCM places NM frames by the detector item's IPP/IOP and the signed spacing.

    With a negative SpacingBetweenSlices GDCM keeps the file's frame order and returns a
    direction whose slice column is -normal: the same voxels in patient space (this is
    what PS3.3 C.8.4.15 says), so both readers agree point by point.
    """
    values, info = write(tmp_path, counts_per_bqml=1.0, negative_spacing=negative)
    image = sitk.ReadImage(str(info.files[0]))
    assert image.GetSize() == GRID.size
    np.testing.assert_allclose(image.GetSpacing(), GRID.spacing, atol=1e-6)
    array = sitk.GetArrayFromImage(image).astype(np.float64)
    sign = -1.0 if negative else 1.0
    np.testing.assert_allclose(np.asarray(image.GetDirection()).reshape(3, 3)[:, 2],
                               [0, 0, sign], atol=1e-9)
    for k in (0, 7, GRID.shape[0] - 1):
        file_k = GRID.shape[0] - 1 - k if negative else k
        np.testing.assert_allclose(image.TransformIndexToPhysicalPoint((0, 0, file_k)),
                                   GRID.slice_position(k), atol=1e-5)
        np.testing.assert_array_equal(array[file_k], np.rint(values[k].astype(np.float64)))


def test_simpleitk_applies_the_rescale_of_quantitative_nm(tmp_path):
    values, info = write(tmp_path, quantitative=True)
    _, _, slope, _ = read_nm(info.files[0])
    array = sitk.GetArrayFromImage(sitk.ReadImage(str(info.files[0])))
    assert np.abs(array - values).max() <= slope / 2 + 1e-6 * float(values.max())


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) missing")
@pytest.mark.parametrize("options", [{}, {"quantitative": True}, {"negative_spacing": True}])
def test_dciodvfy_finds_no_error(tmp_path, options):
    _, info = write(tmp_path, **options)
    result = subprocess.run(["dciodvfy", str(info.files[0])], capture_output=True, text=True,
                            timeout=60)
    report = result.stdout + result.stderr
    assert "NMImage" in report
    assert [line for line in report.splitlines() if line.startswith("Error")] == []


def test_pt_storage_is_xspect_style_177lu(tmp_path):
    values = activity(peak=3000.0)
    lu = SpectSeries(series_uid_seed="lu", series_number=3, description="xSPECT Quant",
                     series_datetime=START, tracer="DOTATATE", radionuclide="177Lu",
                     half_life_s=SPECT_RADIONUCLIDES["177Lu"].half_life_s,
                     injected_dose_bq=7.4e9, injection=INJECTION, storage="PT",
                     quantitative=True)
    info = write_spect_series(values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_intevo"], lu,
                              tmp_path / "PT")
    assert info.n_files == GRID.shape[0]
    for k, path in enumerate(info.files):
        ds = pydicom.dcmread(path)
        stored = ds.pixel_array * float(ds.RescaleSlope)
        assert np.abs(stored - values[k]).max() <= float(ds.RescaleSlope) / 2 * (1 + 1e-9)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    assert ds.Modality == "PT" and ds.Units == "BQML" and ds.DecayCorrection == "START"
    assert "RadionuclidePositronFraction" not in item
    assert item.RadionuclideCodeSequence[0].CodeValue == "447553000"
    assert item.RadiopharmaceuticalCodeSequence[0].CodeValue == "781259000"
    assert float(item.RadionuclideTotalDose) == pytest.approx(7.4e9)   # Bq in PET objects
    assert ds.SeriesTime == "130500" and ds.AcquisitionTime == "130500"
    assert ds.ManufacturerModelName == "Symbia Intevo Bold"


def test_writer_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match="non-negative"):
        write(tmp_path, values=activity() - 1000.0)
    with pytest.raises(ValueError, match="quantitative"):
        spect(storage="PT")
    with pytest.raises(ValueError, match="tracer/radionuclide"):
        spect(tracer="FDG")
    assert math.isclose(SPECT_RADIONUCLIDES["99mTc"].half_life_s / 3600, 6.0067, rel_tol=1e-4)
