"""Slice positions as scanners write them (nethelpers.dicom.slicegrid) and who uses them.

Truth: the demo writer's PET series and the GE-style jittered copy of it
(nethelpers.demo.variants.jitter), read back independently with pydicom + numpy and
SimpleITK's series reader.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.demo.variants.jitter import write_jittered
from nethelpers.dicom import SeriesError, index_tree, load_pet
from nethelpers.dicom.seg import export_seg, import_seg
from nethelpers.dicom.slicegrid import SliceGridError, fit_slices
from nethelpers.rois import RoiStore

GE_SCAN = "P002-FDG-PETCT"   # the ideal study's GE centre (Discovery MI, 3.27 mm slices)


# ------------------------------------------------------------------ fit_slices on numbers


def ge_positions(n: int = 89, step: float = 3.27, bed: int = 22) -> np.ndarray:
    """A GE whole-body: 3.27 mm steps, 3.19 / 3.29 mm at alternate bed boundaries."""
    steps = np.full(n - 1, step)
    for j, k in enumerate(range(bed - 1, n - 1, bed)):
        steps[k] += (-0.08, 0.02)[j % 2]
    return np.concatenate([[-500.0], -500.0 + np.cumsum(steps)])


def test_regular_series_keeps_first_slice_and_median_step():
    pos = -100.0 + 2.5 * np.arange(40)
    rng = np.random.default_rng(1)
    shuffled = rng.permutation(pos)
    grid = fit_slices(shuffled)
    assert grid.regular and not grid.placed and grid.note() == ""
    assert grid.first == -100.0 and grid.step == 2.5
    np.testing.assert_array_equal(shuffled[grid.order], pos)


def test_ge_bed_boundaries_are_placed_on_the_least_squares_grid():
    pos = ge_positions()
    steps = np.round(np.diff(pos), 2)
    assert set(steps.tolist()) == {3.27, 3.19, 3.29}
    grid = fit_slices(pos[::-1])            # files in any order
    assert grid.placed
    # independent least squares: numpy.linalg.lstsq on [1, k]
    k = np.arange(len(pos))
    (first, step), *_ = np.linalg.lstsq(np.c_[np.ones_like(k), k], pos, rcond=None)
    assert grid.step == pytest.approx(step, abs=1e-9)
    assert grid.first == pytest.approx(first, abs=1e-9)
    dev = np.abs(pos - (first + step * k)).max()
    assert grid.max_deviation_mm == pytest.approx(dev, abs=1e-9)
    assert 0.03 < dev < 0.05          # "every slice within 0.04 mm of a uniform grid"
    assert "placed on it" in grid.note() and "tolerance 10 %" in grid.note()


@pytest.mark.parametrize(
    ("edit", "kind", "words"),
    [
        (lambda p: np.delete(p, 30), "missing", "a slice is missing"),
        (lambda p: np.delete(p, [30, 31, 32]), "missing", "about 3 slices are missing"),
        (lambda p: np.insert(p, 30, p[30]), "duplicate", "same position"),
        (lambda p: np.insert(p, 30, p[30] + 1.0), "overlap", "slices overlap"),
        (lambda p: np.where(np.arange(len(p)) >= 44, p + 0.9, p), "non-uniform",
         "non-uniform spacing"),
    ],
)
def test_what_is_not_rounding_is_refused(edit, kind, words):
    with pytest.raises(SliceGridError) as info:
        fit_slices(edit(ge_positions()))
    assert info.value.kind == kind
    assert words in info.value.problem


def test_tolerance_is_a_parameter():
    pos = ge_positions()
    with pytest.raises(SliceGridError) as info:
        fit_slices(pos, tolerance=0.01)
    assert info.value.kind == "non-uniform"
    assert "raise the slice tolerance" in info.value.fix and "above 0.01" in info.value.fix
    with pytest.raises(ValueError, match="fraction"):
        fit_slices(pos, tolerance=0.6)


# ------------------------------------------------------------------ the GE-style demo variant


@pytest.fixture(scope="module")
def jittered(ideal_study, tmp_path_factory):
    src = ideal_study / "dicom" / "P002" / GE_SCAN / "PT"
    out = tmp_path_factory.mktemp("jitter") / "dicom" / "P002" / "jittered" / "PT"
    return src, write_jittered(src, out)


def _independent_positions(folder: Path) -> np.ndarray:
    """ImagePositionPatient · normal of every file, sorted, with plain pydicom."""
    out = []
    for f in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        iop = np.array(ds.ImageOrientationPatient, float)
        out.append(np.array(ds.ImagePositionPatient, float) @ np.cross(iop[:3], iop[3:]))
    return np.sort(out)


def test_jittered_pet_gives_the_original_suv_volume(jittered):
    src, jit = jittered
    pos = _independent_positions(jit.directory)
    steps = np.round(np.diff(pos), 2)
    assert {3.19, 3.27, 3.29} <= set(steps.tolist())
    original, _ = load_pet(src)
    image, prov = load_pet(jit.directory)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(image),
                                  sitk.GetArrayViewFromImage(original))
    # the grid: least squares through the measured positions (numpy, independently)
    k = np.arange(len(pos))
    step, first = np.polyfit(k, pos, 1)
    assert image.GetSpacing()[2] == pytest.approx(step, abs=1e-9)
    assert image.GetOrigin()[2] == pytest.approx(first, abs=1e-6)
    dev = np.abs(pos - (first + step * k)).max()
    placement = prov["geometry"]["slice_placement"]
    assert placement["max_deviation_mm"] == pytest.approx(dev, abs=1e-6)
    assert placement["max_deviation_mm"] == pytest.approx(jit.max_deviation_mm, abs=1e-5)
    assert placement["tolerance_fraction"] == 0.1
    assert any("placed on it" in w for w in prov["warnings"])


def test_simpleitk_reads_the_jittered_series_to_the_same_values(jittered):
    """SimpleITK (GDCM) as the second reader: same pixels x slope, our SUV = its Bq/ml x factor."""
    _, jit = jittered
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(jit.directory)))
    theirs = reader.Execute()
    image, prov = load_pet(jit.directory)
    ours = sitk.GetArrayViewFromImage(image)
    bqml = sitk.GetArrayViewFromImage(theirs).astype(np.float64)
    np.testing.assert_allclose(ours, bqml * prov["factor"], rtol=2e-6, atol=1e-6)
    assert theirs.GetOrigin()[2] == pytest.approx(image.GetOrigin()[2], abs=0.05)


def test_tolerance_below_the_rounding_refuses_with_file_tag_and_fix(jittered):
    _, jit = jittered
    with pytest.raises(SeriesError) as info:
        load_pet(jit.directory, slice_tolerance=0.005)
    text = str(info.value)
    assert str(jit.directory) in text and "ImagePositionPatient (0020,0032)" in text
    assert "non-uniform spacing" in text and "raise the slice tolerance" in text


def test_a_missing_slice_in_a_jittered_series_is_still_refused(jittered, tmp_path):
    _, jit = jittered
    broken = tmp_path / "PT"
    shutil.copytree(jit.directory, broken)
    victim = sorted(broken.glob("*.dcm"))[100]
    victim.unlink()
    with pytest.raises(SeriesError, match="a slice is missing") as info:
        load_pet(broken)
    assert "restore the missing files" in info.value.fix


def test_index_warns_on_jitter_and_fails_on_a_gap(jittered, tmp_path):
    _, jit = jittered
    tree = jit.directory.parents[2]
    series = index_tree(tree, workers=1)
    row = series.iloc[0]
    assert row["qc"] == "warn", row["qc_reasons"]
    assert "placed on it" in row["qc_reasons"]
    assert row["slice_deviation_mm"] == pytest.approx(jit.max_deviation_mm, abs=2e-3)
    broken = tmp_path / "tree" / "P" / "S" / "PT"
    shutil.copytree(jit.directory, broken)
    sorted(broken.glob("*.dcm"))[100].unlink()
    again = index_tree(tmp_path / "tree", workers=1).iloc[0]
    assert again["qc"] == "fail" and "missing slices" in again["qc_reasons"]
    strict = index_tree(tree, workers=1, slice_tolerance=0.005).iloc[0]
    assert strict["qc"] == "fail" and "non-uniform spacing" in strict["qc_reasons"]


# ------------------------------------------------------------------ SEG frames on such grids


def _r1(ideal_study):
    return RoiStore(ideal_study / "rois").load(GE_SCAN)


def test_seg_on_the_jittered_pet_round_trips_by_source_instance(ideal_study, jittered,
                                                                tmp_path):
    _, jit = jittered
    rois = _r1(ideal_study)
    image, _ = load_pet(jit.directory)
    labels = sitk.GetImageFromArray(sitk.GetArrayFromImage(rois.labels))
    labels.CopyInformation(image)
    seg = export_seg(labels, rois.table, jit.directory, tmp_path / "seg.dcm")
    back, table = import_seg(seg, jit.directory)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back),
                                  sitk.GetArrayViewFromImage(labels))
    assert list(table["lesion_id"]) == list(rois.table["lesion_id"])


def _shift_frames(seg_path: Path, dz: float, drop_sources: bool) -> Path:
    """A Slicer/dcmqi-like SEG: frame positions float32-rounded off the grid by ``dz``."""
    ds = pydicom.dcmread(seg_path)
    for frame in ds.PerFrameFunctionalGroupsSequence:
        pos = frame.PlanePositionSequence[0]
        ipp = [float(v) for v in pos.ImagePositionPatient]
        ipp[2] = float(np.float32(ipp[2] + dz))
        pos.ImagePositionPatient = [f"{v:.6g}" for v in ipp]
        if drop_sources:
            del frame.DerivationImageSequence
    out = seg_path.with_name(f"shifted_{dz}_{drop_sources}.dcm")
    ds.save_as(out)
    return out


@pytest.mark.parametrize("drop_sources", [False, True], ids=["by-uid", "by-position"])
def test_seg_frames_off_the_grid_by_float32_rounding_are_placed(ideal_study, tmp_path,
                                                                drop_sources):
    rois = _r1(ideal_study)
    pet = ideal_study / "dicom" / "P002" / GE_SCAN / "PT"
    seg = export_seg(rois.labels, rois.table, pet, tmp_path / "seg.dcm")
    shifted = _shift_frames(seg, 0.045, drop_sources)
    back, _ = import_seg(shifted, pet)
    expected = sitk.GetArrayViewFromImage(rois.labels)
    np.testing.assert_array_equal(sitk.GetArrayViewFromImage(back), expected)


def test_seg_frames_half_a_slice_off_are_refused(ideal_study, tmp_path):
    rois = _r1(ideal_study)
    pet = ideal_study / "dicom" / "P002" / GE_SCAN / "PT"
    seg = export_seg(rois.labels, rois.table, pet, tmp_path / "seg.dcm")
    by_position = _shift_frames(seg, 1.6, drop_sources=True)
    with pytest.raises(Exception, match="not a slice of the reference grid") as info:
        import_seg(by_position, pet)
    assert "ImagePositionPatient (0020,0032)" in str(info.value)
    contradicting = _shift_frames(seg, 1.7, drop_sources=False)
    with pytest.raises(Exception, match="contradicts itself"):
        import_seg(contradicting, pet)


def test_small_rounding_that_adds_up_is_not_taken_as_regular():
    """Positions rounded to 0.01 mm with a 2.027 mm spacing: every step is 2.03 or 2.02 mm
    (within 1 % of the median), but first + 2.03 k ends 0.8 mm off the last slice."""
    true = 2.027 * np.arange(300)
    rounded = np.round(true, 2)
    grid = fit_slices(rounded)
    assert grid.placed
    assert grid.step == pytest.approx(2.027, abs=1e-4)
    k = np.arange(300)
    assert np.abs(grid.first + grid.step * k - true).max() < 0.01
    steps = np.concatenate([np.full(100, 4.0), np.full(100, 4.035)])
    with pytest.raises(SliceGridError, match="non-uniform"):
        fit_slices(np.concatenate([[0.0], np.cumsum(steps)]), tolerance=0.05)
