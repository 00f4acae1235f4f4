"""Multi-frame PET: Legacy Converted Enhanced (highdicom) and Enhanced PET (demo writer).

For one series of each vendor style of the ideal study (P001 Siemens BQML, P002 GE BQML
with SeriesTime after the acquisition so the GE private scan datetime is the decay
reference, P003 Philips CNTS with the private SUV factor), both multi-frame copies must give
the single-frame SUV volume bit for bit: the stored integers and the RescaleSlope texts are
the same, the SUV rules get the same values per frame, and the reader scales with the same
float64 multiply and one float32 rounding. Independently, plain pydicom + numpy on the
multi-frame file (stored frames x per-frame slope x an SUV factor computed in the test from
the header values) must equal the loaded volume to float32 rounding (one ulp: the test
multiplies in another order), and highdicom's volume of the file must sit at the same
patient coordinates.
"""

from __future__ import annotations

import math
import shutil
from datetime import datetime

import highdicom as hd
import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.dataset import Dataset

from nethelpers.demo.variants.enhanced import write_enhanced_pet, write_legacy_converted
from nethelpers.dicom import (
    SeriesError,
    SuvError,
    index_tree,
    load_ct,
    load_mr,
    load_pet_series,
    load_series,
)
from nethelpers.dicom.volume import pet_keywords

VENDORS = {
    "siemens": ("P001/P001-FDG-PETCT", "SIEMENS"),
    "ge": ("P002/P002-FDG-PETCT", "GE MEDICAL SYSTEMS"),
    "philips": ("P003/P003-DOTATATE-PETCT", "Philips"),
}
KINDS = {"legacy": "Legacy Converted Enhanced PET", "enhanced": "Enhanced PET"}
CASES = [(v, k) for v in VENDORS for k in KINDS]


@pytest.fixture(scope="module")
def copies(ideal_study, tmp_path_factory):
    """Per vendor: the single-frame series folder and its two multi-frame copies."""
    out = tmp_path_factory.mktemp("multiframe")
    found = {}
    for vendor, (rel, manufacturer) in VENDORS.items():
        series = ideal_study / "dicom" / rel / "PT"
        first = pydicom.dcmread(next(series.iterdir()), stop_before_pixels=True)
        assert first.Manufacturer == manufacturer  # the centre the test means
        found[vendor] = {"series": series,
                         "legacy": write_legacy_converted(series, out / vendor),
                         "enhanced": write_enhanced_pet(series, out / vendor)}
    return found


@pytest.fixture(scope="module")
def single(copies):
    """The single-frame SUV load of each vendor's series (the reference)."""
    return {vendor: load_pet_series(paths["series"]) for vendor, paths in copies.items()}


# --------------------------------------------------------------------------------------
# Same SUV as the single-frame series
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("vendor", "kind"), CASES)
def test_same_suv_volume_as_single_frame(copies, single, vendor, kind):
    loaded = load_pet_series(copies[vendor][kind])
    reference = single[vendor]
    ours, theirs = loaded.image, reference.image
    np.testing.assert_allclose(ours.GetOrigin(), theirs.GetOrigin(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.GetSpacing(), theirs.GetSpacing(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.GetDirection(), theirs.GetDirection(), rtol=0, atol=1e-6)
    a, b = sitk.GetArrayViewFromImage(ours), sitk.GetArrayViewFromImage(theirs)
    assert a.shape == b.shape and a.shape[0] > 200
    np.testing.assert_array_equal(a, b)  # bit for bit (see the module docstring)
    assert loaded.provenance["factor"] == reference.provenance["factor"]
    assert loaded.provenance["object"] == KINDS[kind]
    assert loaded.files == (copies[vendor][kind],)
    assert len(loaded.headers) == a.shape[0]
    keywords, _ = pet_keywords(loaded.headers[0])  # what quantify reads for the SUL
    assert keywords["Units"] == ("CNTS" if vendor == "philips" else "BQML")
    assert keywords["PatientSex"] in ("M", "F")


def test_provenance_names_the_enhanced_sources(copies, single):
    ge = load_pet_series(copies["ge"]["enhanced"]).provenance
    assert ge["reference_source"] == "DecayCorrectionDateTime (0018,9701)"
    assert single["ge"].provenance["reference_source"] == "GE (0009,100D)"
    assert ge["reference_time"] == single["ge"].provenance["reference_time"]
    assert ge["reference_time"] == "2025-01-23T12:26:00"
    assert ge["sources"]["Units"] == (
        "RealWorldValueMappingSequence MeasurementUnitsCodeSequence 'Bq/ml'")
    assert ge["sources"]["RescaleSlope"] == (
        "PerFrameFunctionalGroupsSequence > PixelValueTransformationSequence")
    assert ge["sources"]["AcquisitionDateTime"].endswith("FrameAcquisitionDateTime")
    legacy = load_pet_series(copies["ge"]["legacy"]).provenance
    assert legacy["reference_source"] == "GE (0009,100D)"  # the classic rules, unchanged
    assert legacy["sources"]["Units"] == (
        "SharedFunctionalGroupsSequence > UnassignedSharedConvertedAttributesSequence")
    philips = load_pet_series(copies["philips"]["legacy"]).provenance
    assert philips["branch"] == ["Units CNTS: Philips SUV scale factor (7053,1000)"]


def test_plain_load_applies_the_per_frame_rescale(copies):
    multi = load_series(copies["siemens"]["enhanced"])
    plain = load_series(copies["siemens"]["series"])
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(multi.image),
                                  sitk.GetArrayViewFromImage(plain.image))
    assert multi.provenance["object"] == "Enhanced PET"


def _convert(series, cls, out, **kwargs):
    """A highdicom Legacy Converted Enhanced copy of a single-frame series."""
    slices = [pydicom.dcmread(f) for f in sorted(series.iterdir())]
    image = cls(slices, series_instance_uid=hd.UID(), series_number=99,
                sop_instance_uid=hd.UID(), instance_number=1, **kwargs)
    image.save_as(out)
    return out


def test_rle_compressed_frames_decode_to_the_same_suv(copies, single, tmp_path):
    path = _convert(copies["philips"]["series"], hd.legacy.LegacyConvertedEnhancedPETImage,
                    tmp_path / "rle.dcm", transfer_syntax_uid="1.2.840.10008.1.2.5")
    assert pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID == (
        "1.2.840.10008.1.2.5")
    loaded = load_pet_series(path)  # held: an array view does not keep its image alive
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(loaded.image),
                                  sitk.GetArrayViewFromImage(single["philips"].image))


@pytest.mark.parametrize(("rel", "kind", "loader"), [
    ("P002/P002-FDG-PETCT/CT", "LegacyConvertedEnhancedCTImage", load_ct),
    ("P001/P001-DOTATATE-PETMR/MR", "LegacyConvertedEnhancedMRImage", load_mr),
])
def test_legacy_converted_anatomy_equals_the_series(ideal_study, tmp_path, rel, kind, loader):
    series = ideal_study / "dicom" / rel
    path = _convert(series, getattr(hd.legacy, kind), tmp_path / "anatomy.dcm")
    ours, theirs = loader(path), loader(series)
    assert ours.GetSize() == theirs.GetSize() and ours.GetSize()[2] > 200
    np.testing.assert_allclose(ours.GetOrigin(), theirs.GetOrigin(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(ours.GetSpacing(), theirs.GetSpacing(), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(ours),
                                  sitk.GetArrayViewFromImage(theirs))
    if kind.endswith("CTImage"):  # the per-frame intercept was applied: air is -1000 HU
        assert float(sitk.GetArrayViewFromImage(ours).min()) <= -1000


# --------------------------------------------------------------------------------------
# Independent readers: pydicom + numpy with the SUV factor by hand; highdicom's geometry
# --------------------------------------------------------------------------------------


def _dt(text) -> datetime:
    text = str(text)
    return datetime.strptime(text[:14].ljust(14, "0"), "%Y%m%d%H%M%S")


def _hand_factor(ds: Dataset) -> float:
    """SUVbw per rescaled unit, from the header values, for these three files' branches."""
    shared = ds.SharedFunctionalGroupsSequence[0]
    unassigned = (shared.UnassignedSharedConvertedAttributesSequence[0]
                  if "UnassignedSharedConvertedAttributesSequence" in shared else Dataset())

    def find(key):
        return ds[key].value if key in ds else unassigned[key].value

    frame0 = ds.PerFrameFunctionalGroupsSequence[0]
    if "RealWorldValueMappingSequence" in frame0:
        units = frame0.RealWorldValueMappingSequence[0].MeasurementUnitsCodeSequence[0].CodeValue
    else:
        units = find("Units")
    if units in ("CNTS", "{counts}"):
        return float(find((0x7053, 0x1000)))  # Philips SUV factor per count after slope
    assert units in ("BQML", "Bq/ml")
    isotope = find("RadiopharmaceuticalInformationSequence")[0]
    dose = float(isotope.RadionuclideTotalDose)
    half = float(isotope.RadionuclideHalfLife)
    if "RadiopharmaceuticalStartDateTime" in isotope:
        injection = _dt(isotope.RadiopharmaceuticalStartDateTime)
    else:  # GE style: a time of day on the series date (before the scan here)
        injection = _dt(ds.SeriesDate + isotope.RadiopharmaceuticalStartTime)
    if "DecayCorrectionDateTime" in ds:
        assert ds.DecayCorrected == "YES"
        reference = _dt(ds.DecayCorrectionDateTime)
    else:
        series = _dt(ds.SeriesDate + ds.SeriesTime)
        starts = [_dt(f.FrameContentSequence[0].FrameAcquisitionDateTime)
                  for f in ds.PerFrameFunctionalGroupsSequence]
        reference = series if series <= min(starts) else _dt(find((0x0009, 0x100D)))
    decayed = dose * 2.0 ** (-(reference - injection).total_seconds() / half)
    return float(ds.PatientWeight) * 1000.0 / decayed


@pytest.mark.parametrize(("vendor", "kind"), CASES)
def test_pydicom_frames_times_slope_times_hand_factor(copies, vendor, kind):
    path = copies[vendor][kind]
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.astype(np.float64)
    groups = ds.PerFrameFunctionalGroupsSequence
    slopes = np.array([float(g.PixelValueTransformationSequence[0].RescaleSlope)
                       for g in groups])
    iop = np.array(ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
                   .ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    along = np.array([np.dot(g.PlanePositionSequence[0].ImagePositionPatient, normal)
                      for g in groups])
    order = np.argsort(along)
    expected = frames[order] * slopes[order][:, None, None] * _hand_factor(ds)
    loaded = sitk.GetArrayFromImage(load_pet_series(path).image)
    np.testing.assert_allclose(loaded, expected, rtol=1.2e-7, atol=0)  # float32: one ulp
    assert expected.max() > 5  # lesions/bladder: a real SUV range, not an empty image


@pytest.mark.parametrize(("vendor", "kind"), [("ge", "enhanced"), ("ge", "legacy"),
                                               ("philips", "enhanced")])
def test_geometry_matches_highdicom(copies, vendor, kind):
    path = copies[vendor][kind]
    image = load_pet_series(path).image
    volume = hd.imread(path).get_volume()
    n = volume.shape[0]
    affine = volume.affine
    theirs = (affine @ np.c_[np.arange(n), np.zeros(n), np.zeros(n), np.ones(n)].T).T[:, :3]
    ours = np.array([image.TransformIndexToPhysicalPoint((0, 0, k)) for k in range(n)])
    normal = np.array(image.GetDirection()).reshape(3, 3)[:, 2]
    theirs = theirs[np.argsort(theirs @ normal)]
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    corner = np.array(image.TransformIndexToPhysicalPoint((0, 0, 0)))
    np.testing.assert_allclose(np.array(image.TransformIndexToPhysicalPoint((1, 0, 0))) - corner,
                               affine[:3, 2], atol=1e-9)  # one column
    np.testing.assert_allclose(np.array(image.TransformIndexToPhysicalPoint((0, 1, 0))) - corner,
                               affine[:3, 1], atol=1e-9)  # one row


# --------------------------------------------------------------------------------------
# The index row
# --------------------------------------------------------------------------------------


def test_index_lists_the_multiframe_objects_like_the_series(copies, tmp_path):
    shutil.copytree(copies["ge"]["series"], tmp_path / "single")
    shutil.copytree(copies["ge"]["series"].parent / "CT", tmp_path / "ct")  # the companion
    for kind in KINDS:
        (tmp_path / kind).mkdir()
        shutil.copy(copies["ge"][kind], tmp_path / kind)
    table = index_tree(tmp_path, workers=1).set_index("directory")
    single = table.loc["single"]
    assert single["qc"] == "ok" and single["system"] == "PET/CT"
    for kind, name in KINDS.items():
        row = table.loc[kind]
        assert row["n_files"] == 1 and row["n_slices"] == single["n_slices"] == 310
        for column in ("rows", "columns", "pixel_spacing_x_mm", "pixel_spacing_y_mm",
                       "slice_spacing_mm", "slice_thickness_mm", "origin_x", "origin_y",
                       "origin_z", "extent_z_mm"):
            assert float(row[column]) == pytest.approx(float(single[column]), abs=1e-6), column
        for column in ("orientation", "tracer", "radionuclide", "units", "acquisition_start",
                       "acquisition_end", "series_datetime", "system"):
            assert row[column] == single[column], column
        assert row["tracer"] == "FDG" and row["units"] == "BQML"
        assert row["qc"] == "warn"
        assert row["qc_reasons"] == f"multi-frame {name} object: 310 frames in one file"


# --------------------------------------------------------------------------------------
# Refusals
# --------------------------------------------------------------------------------------


def _edited(copies, tmp_path, edit):
    ds = pydicom.dcmread(copies["siemens"]["enhanced"])
    edit(ds)
    path = tmp_path / "edited.dcm"
    ds.save_as(path)
    return path


def test_missing_decay_correction_datetime_is_refused(copies, tmp_path):
    path = _edited(copies, tmp_path, lambda ds: delattr(ds, "DecayCorrectionDateTime"))
    with pytest.raises(SuvError) as info:
        load_pet_series(path)
    assert str(path) in info.value.file
    assert info.value.tag == "DecayCorrectionDateTime (0018,9701)"
    assert "DecayCorrected is YES" in info.value.problem
    assert "single-frame series" in info.value.fix


def test_missing_units_is_refused(copies, tmp_path):
    def drop_units(ds):
        for group in ds.PerFrameFunctionalGroupsSequence:
            del group.RealWorldValueMappingSequence
    path = _edited(copies, tmp_path, drop_units)
    with pytest.raises(SuvError) as info:
        load_pet_series(path)
    assert str(path) in info.value.file
    assert info.value.tag == "MeasurementUnitsCodeSequence (0040,08EA)"
    assert "RealWorldValueMappingSequence (0040,9096)" in info.value.problem
    assert "re-export" in info.value.fix


def test_a_unit_suv_cannot_come_from_is_refused(copies, tmp_path):
    def proportional(ds):
        for group in ds.PerFrameFunctionalGroupsSequence:
            code = group.RealWorldValueMappingSequence[0].MeasurementUnitsCodeSequence[0]
            code.CodeValue, code.CodeMeaning = "{propcounts}", "Proportional to counts"
    with pytest.raises(SuvError, match="'{propcounts}' .* is not one SUV") as info:
        load_pet_series(_edited(copies, tmp_path, proportional))
    assert info.value.tag == "MeasurementUnitsCodeSequence (0040,08EA)"
    assert "Bq/ml" in info.value.fix


def test_real_world_slope_that_is_not_the_rescale_is_refused(copies, tmp_path):
    def double(ds):
        item = ds.PerFrameFunctionalGroupsSequence[7].RealWorldValueMappingSequence[0]
        item.RealWorldValueSlope = 2 * item.RealWorldValueSlope
    with pytest.raises(SuvError) as info:
        load_pet_series(_edited(copies, tmp_path, double))
    assert info.value.file.endswith("(frame 8)")
    assert info.value.tag == "RealWorldValueSlope (0040,9225)"


def test_decay_reference_after_the_scan_start_is_refused(copies, tmp_path):
    path = _edited(copies, tmp_path, lambda ds: setattr(
        ds, "DecayCorrectionDateTime", ds.PerFrameFunctionalGroupsSequence[-1]
        .FrameContentSequence[0].FrameAcquisitionDateTime))
    with pytest.raises(SuvError, match="after the first frame's acquisition start") as info:
        load_pet_series(path)
    assert info.value.tag == "DecayCorrectionDateTime (0018,9701)"


def test_mixed_orientation_is_refused(copies, tmp_path):
    def tilt(ds):
        orientation = ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence
        del ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence
        for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
            item = Dataset()
            item.ImageOrientationPatient = ([1, 0, 0, 0, 0.9950042, -0.0998334] if k == 4
                                            else orientation[0].ImageOrientationPatient)
            group.PlaneOrientationSequence = [item]
    path = _edited(copies, tmp_path, tilt)
    with pytest.raises(SeriesError) as info:
        load_pet_series(path)
    assert info.value.file == str(path)
    assert info.value.tag == "ImageOrientationPatient (0020,0037)"
    assert info.value.problem.startswith("frames of mixed orientation: frame 5 has")
    assert "split the frames" in info.value.fix


def test_two_frames_at_one_position_are_refused_as_a_time_series(copies, tmp_path):
    def repeat(ds):
        groups = ds.PerFrameFunctionalGroupsSequence
        groups[1].PlanePositionSequence = groups[0].PlanePositionSequence
    with pytest.raises(SeriesError, match="same position") as info:
        load_pet_series(_edited(copies, tmp_path, repeat))
    assert "dynamic or gated" in info.value.fix


def test_a_series_of_several_multiframe_files_is_refused(copies, tmp_path):
    for name in ("a.dcm", "b.dcm"):
        shutil.copy(copies["siemens"]["enhanced"], tmp_path / name)
    with pytest.raises(SeriesError, match="files are not joined") as info:
        load_pet_series(tmp_path)
    assert info.value.tag == "NumberOfFrames (0028,0008)"


def test_decay_corrected_no_follows_the_per_frame_decay_rule(copies, tmp_path):
    def undecayed(ds):
        ds.DecayCorrected = "NO"
        del ds.DecayCorrectionDateTime
    path = _edited(copies, tmp_path, undecayed)
    loaded = load_pet_series(path)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    isotope = ds.RadiopharmaceuticalInformationSequence[0]
    lam = math.log(2) / float(isotope.RadionuclideHalfLife)
    injection = _dt(isotope.RadiopharmaceuticalStartDateTime)
    expected = []
    for group in ds.PerFrameFunctionalGroupsSequence:  # file order, as slice_factors
        content = group.FrameContentSequence[0]
        start = (_dt(content.FrameAcquisitionDateTime) - injection).total_seconds()
        x = lam * float(content.FrameAcquisitionDuration) / 1000.0
        decayed = float(isotope.RadionuclideTotalDose) * math.exp(-lam * start) * (
            -math.expm1(-x) / x)
        expected.append(float(ds.PatientWeight) * 1000.0 / decayed)
    assert loaded.provenance["branch"][1].startswith("DecayCorrection NONE")
    np.testing.assert_allclose(loaded.provenance["slice_factors"], expected, rtol=1e-12)
    assert len(set(expected)) > 1  # several beds: the factors differ per frame
