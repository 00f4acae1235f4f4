"""SPECT exports as vendors write them, built with pydicom from the demo writer's output.

Each test edits a small NM object the way a real export differs (Siemens Flash3D counts
without a scale, GE slices with SliceThickness != spacing, xSPECT Units BQML without a Real
World Value Mapping, Hermes detector items, compressed and deflated syntaxes, odd doses and
decay corrections) and checks our reader against an independent one: plain pydicom + numpy
(geometry from PS3.3 C.8.4, values from the header) and SimpleITK (GDCM), never only
against the code under test.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian, JPEGLSLossless, RLELossless

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.nmwrite import (
    SPECT_RADIONUCLIDES,
    SpectSeries,
    write_spect_series,
)
from nethelpers.dicom import index_tree
from nethelpers.dicom.errors import SeriesError, SuvError
from nethelpers.dicom.volume import load_emission_series
from tests.test_nm_write import GRID, INJECTION, PATIENT, START, STUDY, activity, spect

TC_HALF = SPECT_RADIONUCLIDES["99mTc"].half_life_s


def write(folder: Path, grid: Grid = GRID, edit: Callable[[Dataset], None] | None = None,
          **options) -> tuple[np.ndarray, Path]:
    """Write one NM object (values from :func:`activity`) and apply ``edit`` with pydicom."""
    values = activity()
    info = write_spect_series(values, grid, PATIENT, STUDY, dw.SCANNERS["siemens_intevo"],
                              spect(**options), folder)
    if edit is not None:
        ds = pydicom.dcmread(info.files[0])
        edit(ds)
        ds.save_as(info.files[0])
    return values, info.files[0]


def independent(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pydicom + numpy: (frames x scale in file order, patient position of each frame, IOP).

    The scale is the Real World Value Mapping (in Bq/ml when its units say kBq/ml), else
    RescaleSlope, else 1; the geometry the first IPP/IOP found in a detector item, else at
    the top level, placed along row x column by SliceVector and SpacingBetweenSlices.
    """
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.astype(np.float64).reshape(int(ds.NumberOfFrames), ds.Rows,
                                                       ds.Columns)
    if "RealWorldValueMappingSequence" in ds:
        item = ds.RealWorldValueMappingSequence[0]
        unit = {"kbq/ml": 1e3}.get(
            item.MeasurementUnitsCodeSequence[0].CodeValue.lower(), 1.0)
        frames = (frames * float(item.RealWorldValueSlope) + float(
            item.RealWorldValueIntercept)) * unit
    elif "RescaleSlope" in ds:
        frames = frames * float(ds.RescaleSlope) + float(ds.get("RescaleIntercept", 0))
    holders = [*ds.get("DetectorInformationSequence", []), ds]
    holder = next(h for h in holders if "ImagePositionPatient" in h)
    ipp = np.asarray(holder.ImagePositionPatient, float)
    iop = np.asarray(holder.ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    spacing = float(ds.SpacingBetweenSlices)
    positions = np.array([ipp + (s - 1) * spacing * normal for s in ds.SliceVector])
    return frames, positions, iop


def suv_factor(path: Path, decay: bool = True) -> float:
    """SUVbw per Bq/ml from the header: dose in MBq, decay from injection to acquisition."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    item = ds.RadiopharmaceuticalInformationSequence[0]
    dose = float(item.RadionuclideTotalDose) * 1e6
    injection = datetime.strptime(item.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S")
    start = datetime.strptime(ds.AcquisitionDate + ds.AcquisitionTime, "%Y%m%d%H%M%S")
    elapsed = (start - injection).total_seconds() if decay else 0.0
    return float(ds.PatientWeight) * 1000.0 / (
        dose * math.exp(-math.log(2) * elapsed / float(item.RadionuclideHalfLife)))


def check_against_independent(path: Path, factor: float = 1.0) -> None:
    """Our volume vs pydicom + numpy, voxel by voxel, in patient space."""
    loaded = load_emission_series(path.parent)
    ours = sitk.GetArrayFromImage(loaded.image).astype(np.float64)
    frames, positions, iop = independent(path)
    rows, columns = (float(v) for v in pydicom.dcmread(
        path, stop_before_pixels=True).PixelSpacing)
    for f in (0, 5, len(frames) - 1):
        for j, i in ((0, 0), (7, 11), (frames.shape[1] - 1, frames.shape[2] - 1)):
            point = positions[f] + i * columns * iop[:3] + j * rows * iop[3:]
            index = loaded.image.TransformPhysicalPointToIndex(point.tolist())
            np.testing.assert_allclose(loaded.image.TransformIndexToPhysicalPoint(index),
                                       point, atol=1e-4)
            assert ours[index[2], index[1], index[0]] == pytest.approx(
                frames[f, j, i] * factor, rel=1e-5, abs=1e-6)


def check_against_simpleitk(path: Path, factor: float = 1.0) -> None:
    """Our volume vs SimpleITK (GDCM) at the same physical points."""
    loaded = load_emission_series(path.parent)
    reference = sitk.ReadImage(str(path))
    ours = sitk.GetArrayFromImage(loaded.image).astype(np.float64)
    theirs = sitk.GetArrayFromImage(reference).astype(np.float64)
    for index in ((0, 0, 0), (5, 9, 3), tuple(s - 1 for s in reference.GetSize())):
        point = reference.TransformIndexToPhysicalPoint(index)
        mine = loaded.image.TransformPhysicalPointToIndex(point)
        np.testing.assert_allclose(loaded.image.TransformIndexToPhysicalPoint(mine), point,
                                   atol=1e-4)
        assert ours[mine[2], mine[1], mine[0]] == pytest.approx(
            theirs[index[2], index[1], index[0]] * factor, rel=1e-5, abs=1e-6)


# -- vendor shapes ----------------------------------------------------------------------


def _flash3d(ds: Dataset) -> None:          # Siemens Flash3D counts: no scale at all
    for keyword in ("Units", "RescaleSlope", "RescaleIntercept",
                    "RealWorldValueMappingSequence"):
        if keyword in ds:
            del ds[keyword]


def _ge_thick(ds: Dataset) -> None:         # GE: SliceThickness is the FWHM, not the spacing
    ds.SliceThickness = "9.0"


def _anisotropic(ds: Dataset) -> None:
    ds.PixelSpacing = ["3.3", "5.1"]


def _hermes_detectors(ds: Dataset) -> None:  # one item per head, geometry in the first only
    second = Dataset()
    second.CollimatorGridName = "LEHR"
    ds.DetectorInformationSequence.append(second)
    ds.NumberOfDetectors = 2


def _hermes_second_item(ds: Dataset) -> None:  # geometry in the second item only
    first = ds.DetectorInformationSequence[0]
    second = Dataset()
    second.ImagePositionPatient = first.ImagePositionPatient
    second.ImageOrientationPatient = first.ImageOrientationPatient
    del first.ImagePositionPatient, first.ImageOrientationPatient
    ds.DetectorInformationSequence.append(second)


def _top_level_too(ds: Dataset) -> None:    # the same geometry also at the top level
    ds.ImagePositionPatient = ds.DetectorInformationSequence[0].ImagePositionPatient
    ds.ImageOrientationPatient = ds.DetectorInformationSequence[0].ImageOrientationPatient


def _compress(syntax: str) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        if syntax == DeflatedExplicitVRLittleEndian:
            ds.file_meta.TransferSyntaxUID = syntax
        else:
            ds.compress(syntax)
    return edit


OBLIQUE = Grid(GRID.size, GRID.spacing, GRID.origin,
               (1, 0, 0, 0, math.cos(0.3), math.sin(0.3), 0, -math.sin(0.3), math.cos(0.3)))
SHAPES = {
    "siemens-flash3d-counts": ({}, _flash3d, GRID),
    "ge-negative-spacing-thick-slices": ({"negative_spacing": True}, _ge_thick, GRID),
    "anisotropic-pixels": ({}, _anisotropic, GRID),
    "hermes-two-detector-items": ({}, _hermes_detectors, GRID),
    "hermes-geometry-in-second-item": ({}, _hermes_second_item, GRID),
    "geometry-also-at-top-level": ({}, _top_level_too, GRID),
    "oblique-negative-spacing": ({"negative_spacing": True}, None, OBLIQUE),
    "rle": ({}, _compress(RLELossless), GRID),
    "jpeg-ls": ({"counts_per_bqml": 10.0}, _compress(JPEGLSLossless), GRID),
    "deflated": ({"counts_per_bqml": 10.0}, _compress(DeflatedExplicitVRLittleEndian), GRID),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_vendor_shapes_read_like_an_independent_reader(tmp_path, name):
    options, edit, grid = SHAPES[name]
    _, path = write(tmp_path / "NM", grid, edit, **options)
    check_against_independent(path)
    loaded = load_emission_series(path.parent)
    assert (loaded.provenance["system"], loaded.provenance["quantity"]) == ("SPECT", "counts")
    if name not in ("hermes-geometry-in-second-item", "deflated"):   # GDCM: item 1, no deflate
        check_against_simpleitk(path)


def test_xspect_units_bqml_without_a_mapping_is_suv(tmp_path):
    """Units BQML + RescaleSlope, no Real World Value Mapping: SUV from the header."""
    def edit(ds: Dataset) -> None:
        del ds.RealWorldValueMappingSequence
    _, path = write(tmp_path / "NM", edit=edit, quantitative=True)
    factor = suv_factor(path)
    check_against_independent(path, factor)
    check_against_simpleitk(path, factor)       # GDCM applies the rescale: Bq/ml
    provenance = load_emission_series(path.parent).provenance
    assert provenance["factor"] == pytest.approx(factor, rel=1e-9)
    assert provenance["value_scale"] == "RescaleSlope (0028,1053)"
    assert provenance["n_slices"] == GRID.shape[0]       # not the one header of the rules


def test_a_mapping_in_kbq_per_ml_is_read_in_bq_per_ml(tmp_path):
    def edit(ds: Dataset) -> None:
        item = ds.RealWorldValueMappingSequence[0]
        item.RealWorldValueSlope = float(item.RealWorldValueSlope) / 1000.0
        item.MeasurementUnitsCodeSequence[0].CodeValue = "kBq/mL"
        del ds.RescaleSlope, ds.RescaleIntercept
    values, path = write(tmp_path / "NM", edit=edit, quantitative=True)
    factor = suv_factor(path)
    check_against_independent(path, factor)
    ours = sitk.GetArrayFromImage(load_emission_series(path.parent).image)
    slope = float(values.max()) / 65535
    assert np.abs(ours - values * factor).max() <= slope * factor      # Bq/ml, not kBq/ml


@pytest.mark.parametrize("where", ["position", "orientation"])
def test_a_top_level_geometry_that_disagrees_is_refused(tmp_path, where):
    def edit(ds: Dataset) -> None:
        _top_level_too(ds)
        if where == "position":
            ds.ImagePositionPatient = [0.0, 0.0, 0.0]
        else:
            ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
    _, path = write(tmp_path / "NM", edit=edit)
    with pytest.raises(SeriesError) as caught:
        load_emission_series(path.parent)
    assert caught.value.tag == "ImagePositionPatient (0020,0032)"
    assert "ambiguous" in caught.value.problem


def test_an_energy_window_vector_that_varies_is_refused_even_unnamed(tmp_path):
    """Two windows told apart only by EnergyWindowVector, the pointer naming SliceVector."""
    def edit(ds: Dataset) -> None:
        ds.EnergyWindowVector = [1, 2] * (int(ds.NumberOfFrames) // 2)
    _, path = write(tmp_path / "NM", edit=edit)
    with pytest.raises(SeriesError) as caught:
        load_emission_series(path.parent)
    assert caught.value.tag == "EnergyWindowVector (0054,0010)"


def test_an_nm_without_position_is_refused_and_indexed_with_the_element(tmp_path):
    def edit(ds: Dataset) -> None:
        del ds.DetectorInformationSequence[0].ImagePositionPatient
    _, path = write(tmp_path / "P" / "NM", edit=edit)
    with pytest.raises(SeriesError) as caught:
        load_emission_series(path.parent)
    assert "ImagePositionPatient" in caught.value.tag and "planar" in caught.value.fix
    row = index_tree(tmp_path, workers=1).iloc[0]
    assert row["qc"] == "fail"
    assert "DetectorInformationSequence (0054,0022) > ImagePositionPatient" in row["qc_reasons"]


# -- numbers: dose and decay ------------------------------------------------------------


def _dose(value: str) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = value
    return edit


@pytest.mark.parametrize("dose", ["0.001", "0.74"])
def test_a_dose_below_one_mbq_is_refused_not_rescaled_twice(tmp_path, dose):
    """0.001 (MBq) was read as 1000 Bq, then by the PET rules as 1000 MBq: SUV 10^6 x off."""
    _, path = write(tmp_path / "NM", edit=_dose(dose), quantitative=True)
    with pytest.raises(SuvError) as caught:
        load_emission_series(path.parent)
    assert caught.value.tag == "RadionuclideTotalDose (0018,1074)"
    assert "dose_bq" in caught.value.fix


def test_a_given_dose_replaces_a_refused_header_dose_as_the_fix_says(tmp_path):
    _, path = write(tmp_path / "NM", edit=_dose("500000"), quantitative=True)
    with pytest.raises(SuvError) as caught:
        load_emission_series(path.parent)
    assert "dose_bq=" in caught.value.fix
    loaded = load_emission_series(path.parent, dose_bq=740e6)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    elapsed = (START - INJECTION).total_seconds()
    factor = float(ds.PatientWeight) * 1000 / (740e6 * 0.5 ** (elapsed / TC_HALF))
    assert loaded.provenance["factor"] == pytest.approx(factor, rel=1e-9)
    assert loaded.provenance["dose_source"] == "given"


def test_decay_correction_admin_written_in_nm_means_no_decay(tmp_path):
    """A vendor DecayCorrection ADMIN: values are at the injection (SUV 1.59x lower at 4 h)."""
    def edit(ds: Dataset) -> None:
        ds.DecayCorrection = "ADMIN"
    _, path = write(tmp_path / "NM", edit=edit, quantitative=True)
    loaded = load_emission_series(path.parent)
    assert loaded.provenance["factor"] == pytest.approx(suv_factor(path, decay=False),
                                                        rel=1e-9)
    assert suv_factor(path) / suv_factor(path, decay=False) > 1.5
    assert any("ADMIN" in w for w in loaded.provenance["warnings"])


def test_decay_correction_none_in_nm_is_refused(tmp_path):
    def edit(ds: Dataset) -> None:
        ds.DecayCorrection = "NONE"
    _, path = write(tmp_path / "NM", edit=edit, quantitative=True)
    with pytest.raises(SuvError) as caught:
        load_emission_series(path.parent)
    assert caught.value.tag == "DecayCorrection (0054,1102)"


# -- privacy ----------------------------------------------------------------------------


def test_no_identifier_or_absolute_path_in_reasons_warnings_or_errors(tmp_path):
    """Identifiers planted in the header and folder names; a damaged and an unplaced NM."""
    who = dw.Patient("Quorvath^Ysolde", "MRN55501", PATIENT.birth_date, "F", 64.0, 1.66)
    needles = ("quorvath", "ysolde", "mrn55501", PATIENT.birth_date.strftime("%Y%m%d"),
               str(tmp_path).lower())
    top = tmp_path / "Quorvath Ysolde MRN55501"
    made = {}
    for name, options, edit in (
            ("good Quorvath", {"quantitative": True}, None),
            ("counts Ysolde", {}, None),
            ("noipp MRN55501", {},
             lambda ds: delattr(ds.DetectorInformationSequence[0], "ImagePositionPatient")),
            ("damaged Ysolde", {}, None)):
        info = write_spect_series(activity(), GRID, who, STUDY, dw.SCANNERS["siemens_intevo"],
                                  SpectSeries(series_uid_seed=name, series_number=9,
                                              description="SPECT", series_datetime=START,
                                              injected_dose_bq=740e6, injection=INJECTION,
                                              **options),
                                  top / name / "NM")
        made[name] = info.files[0]
        if edit is not None:
            ds = pydicom.dcmread(info.files[0])
            edit(ds)
            ds.save_as(info.files[0])
    damaged = made["damaged Ysolde"]
    damaged.write_bytes(damaged.read_bytes()[:-5000])
    texts = []
    series = index_tree(tmp_path, workers=1)
    assert len(series) == 4 and sorted(series["qc"]) == ["fail", "fail", "warn", "warn"]
    texts += list(series["qc_reasons"])
    for name, path in made.items():
        try:
            provenance = load_emission_series(path.parent).provenance
        except (SeriesError, SuvError) as error:
            assert name in ("noipp MRN55501", "damaged Ysolde")
            texts += [error.problem, error.tag or "", error.fix or ""]
        else:
            texts += [*provenance["warnings"], *provenance.get("nm_mapping", []),
                      *provenance.get("nm_notes", []), provenance["value_scale"]]
    joined = "\n".join(texts).lower()
    assert "imagepositionpatient" in joined and "truncated" in joined   # the control
    assert [n for n in needles if n in joined] == []
