"""DICOM SEG export/import of ROI sets (nethelpers.dicom.seg): round trips, references, errors."""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import shutil
import warnings
from pathlib import Path

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.dicom import load_pet
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.seg import SEGMENTATION_STORAGE, export_seg, import_seg
from nethelpers.rois import RoiStore, RoiStoreError, validate_table
from tests.test_dicomwrite import GRID, PATIENT, STUDY, activity, pet_series, rotation_z

SCANNER = dw.SCANNERS["siemens_vision"]


def rotation_x(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


# Small grids (nx != ny, sx != sy): axial with an odd frame size (14 x 11 = 154 bits, so
# BINARY frames do not start on byte boundaries), rotated about z, and fully oblique.
AXIAL = GRID
ROTATED = Grid(size=(20, 24, 16), spacing=(4.0, 3.5, 3.0), origin=(12.5, -7.25, 301.0),
               direction=rotation_z(30.0))
OBLIQUE = dataclasses.replace(
    ROTATED, direction=tuple((np.reshape(rotation_z(30.0), (3, 3)) @ rotation_x(20.0))
                             .ravel().tolist()))
GRIDS = {"axial": AXIAL, "rotated": ROTATED, "oblique": OBLIQUE}


def write_pet(folder: Path, grid: Grid, seed: str = "seg-pet") -> dw.SeriesInfo:
    """A small PET series; files are named by InstanceNumber (1 = most superior)."""
    nz = grid.shape[0]
    return dw.write_pet_series(activity(grid), grid, PATIENT, STUDY, SCANNER,
                               pet_series(nz=nz, series_uid_seed=seed), folder)


def make_rois(grid: Grid) -> tuple[sitk.Image, pd.DataFrame]:
    """Labels 2, 3, 5, 7, 30, 40 (not consecutive), every ROI kind and method."""
    nz, ny, nx = grid.shape
    lab = np.zeros(grid.shape, np.uint16)
    lab[1:4, 1:5, 1:6] = 2                                     # liver
    lab[nz - 3:nz, ny - 4:ny, nx - 5:nx] = 3                   # spleen
    lab[5:7, 2:4, nx // 2:nx // 2 + 2] = 5                     # blood pool
    lab[0, ny // 2, :] = 40                                    # muscle, one row
    zz, yy, xx = np.indices(grid.shape)
    sphere = (zz - nz // 2) ** 2 + (yy - ny // 2) ** 2 + (xx - nx // 2) ** 2 <= 5
    lab[sphere] = 7                                            # lesion touching others
    lab[nz - 1, 0, 0] = 30                                     # one-voxel lesion, corner
    table = pd.DataFrame([
        dict(label=2, roi="liver", lesion_id="", method="sphere", reader="AB",
             created="2024-05-06T12:00:00+00:00"),
        dict(label=3, roi="spleen", lesion_id="", method="threshold", reader="AB",
             created="2024-05-06T12:01:00+00:00"),
        dict(label=5, roi="blood_pool", lesion_id="", method="manual", reader="CD",
             created="2024-05-06T12:02:00"),
        dict(label=7, roi="lesion", lesion_id="P001-L03", method="click-grow",
             reader="Zoë", created="2024-05-07"),
        dict(label=30, roi="lesion", lesion_id="P001-L04", method="imported", reader="CD",
             created=""),
        dict(label=40, roi="muscle", lesion_id="", method="manual", reader="AB",
             created="2024-05-06T12:05:00+00:00"),
    ])
    return grid.to_sitk(lab), table


def array(image: sitk.Image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir())}


def assert_same_grid(a: sitk.Image, b: sitk.Image) -> None:
    assert a.GetSize() == b.GetSize()
    np.testing.assert_allclose(a.GetSpacing(), b.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(a.GetOrigin(), b.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(a.GetDirection(), b.GetDirection(), atol=1e-12)


@pytest.fixture
def rotated(tmp_path):
    info = write_pet(tmp_path / "PT", ROTATED)
    labels, table = make_rois(ROTATED)
    return info, labels, table


# ---------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(GRIDS))
def test_round_trip_restores_labels_and_every_table_field(tmp_path, name):
    grid = GRIDS[name]
    info = write_pet(tmp_path / "PT", grid)
    labels, table = make_rois(grid)
    out = export_seg(labels, table, info.directory, tmp_path / "seg" / "rois.dcm")
    assert out == tmp_path / "seg" / "rois.dcm" and out.is_file()

    back, back_table = import_seg(out, info.directory)
    assert back.GetPixelID() == sitk.sitkUInt16
    assert_same_grid(back, labels)
    np.testing.assert_array_equal(array(back), array(labels))
    pd.testing.assert_frame_equal(back_table, validate_table(table))
    assert back_table["label"].tolist() == [2, 3, 5, 7, 30, 40]
    assert back_table["reader"].tolist() == ["AB", "AB", "CD", "Zoë", "CD", "AB"]
    assert back_table["created"].tolist()[3:5] == ["2024-05-07", ""]
    # the same SEG onto a reference image instead of the series
    again, again_table = import_seg(out, labels)
    np.testing.assert_array_equal(array(again), array(labels))
    pd.testing.assert_frame_equal(again_table, back_table)


def test_seg_header_segments_and_codes(rotated, tmp_path):
    info, labels, table = rotated
    out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm",
                     series_description="R1 VOIs", series_number=901)
    ds = pydicom.dcmread(out)
    assert ds.SOPClassUID == SEGMENTATION_STORAGE == "1.2.840.10008.5.1.4.1.1.66.4"
    assert ds.file_meta.MediaStorageSOPClassUID == SEGMENTATION_STORAGE
    assert ds.Modality == "SEG" and ds.SegmentationType == "BINARY"
    assert ds.SeriesDescription == "R1 VOIs" and ds.SeriesNumber == 901
    assert ds.SeriesInstanceUID != info.series_uid
    assert ds.StudyInstanceUID == STUDY.study_uid
    assert ds.PatientID == PATIENT.patient_id
    assert ds.FrameOfReferenceUID == STUDY.frame_of_reference_uid
    assert str(ds.ContentCreatorName) == "AB, CD, Zoë^"
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    segs = ds.SegmentSequence
    assert [int(s.SegmentNumber) for s in segs] == [1, 2, 3, 4, 5, 6]
    assert [s.SegmentLabel for s in segs] == ["liver", "spleen", "blood_pool", "P001-L03",
                                               "P001-L04", "muscle"]
    assert [s.TrackingID for s in segs] == [s.SegmentLabel for s in segs]
    assert len({s.TrackingUID for s in segs}) == 6
    assert [s.SegmentAlgorithmType for s in segs] == [
        "SEMIAUTOMATIC", "SEMIAUTOMATIC", "MANUAL", "SEMIAUTOMATIC", "MANUAL", "MANUAL"]
    algo = segs[3].SegmentationAlgorithmIdentificationSequence[0]
    assert algo.AlgorithmName == "nethelpers click-grow" == segs[3].SegmentAlgorithmName
    assert algo.AlgorithmFamilyCodeSequence[0].CodeMeaning == "Neighborhood Analysis"
    assert "SegmentationAlgorithmIdentificationSequence" not in segs[2]
    # display colours (OHIF needs them): fixed per reference region, distinct lesions
    rgb = [hd.color.CIELabColor.from_dicom_value(s.RecommendedDisplayCIELabValue).to_rgb()
           for s in segs]
    assert rgb[0] == (221, 130, 101) and len(set(rgb)) == 6

    def code(item, seq):
        c = item[seq][0]
        return (c.CodeValue, c.CodingSchemeDesignator)

    cats = [code(s, "SegmentedPropertyCategoryCodeSequence") for s in segs]
    types = [code(s, "SegmentedPropertyTypeCodeSequence") for s in segs]
    assert cats == [("91723000", "SCT"), ("91723000", "SCT"), ("91720002", "SCT"),
                    ("49755003", "SCT"), ("49755003", "SCT"), ("91723000", "SCT")]
    assert types == [("10200004", "SCT"), ("78961009", "SCT"), ("87612001", "SCT"),
                     ("108369006", "SCT"), ("108369006", "SCT"), ("127954009", "SCT")]
    # every code exists in pydicom's dictionaries with that meaning
    assert codes.SCT.Neoplasm.value == "108369006"
    assert codes.SCT.SkeletalMuscle.value == "127954009"
    assert codes.SCT.BodySubstance.value == "91720002"
    # highdicom reads it back as a Segmentation
    seg = hd.seg.segread(out)
    assert seg.number_of_segments == 6
    assert seg.get_segment_description(4).segment_label == "P001-L03"


def test_tracking_uid_of_a_lesion_is_stable_across_exports(rotated, tmp_path):
    info, labels, table = rotated
    a = pydicom.dcmread(export_seg(labels, table, info.directory, tmp_path / "a.dcm"))
    only = sitk.Cast(sitk.Equal(labels, 7) * 7, sitk.sitkUInt16)       # lesion P001-L03 only
    b = pydicom.dcmread(export_seg(only, table[table["label"] == 7], info.directory,
                                   tmp_path / "b.dcm"))
    assert a.SOPInstanceUID != b.SOPInstanceUID
    assert a.SeriesInstanceUID != b.SeriesInstanceUID
    assert b.SegmentSequence[0].SegmentLabel == "P001-L03"
    assert b.SegmentSequence[0].TrackingUID == a.SegmentSequence[3].TrackingUID


# ---------------------------------------------------------------------------------------
# References to the source series
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["axial", "oblique"])
def test_frames_reference_the_source_instance_at_their_position(tmp_path, name):
    grid = GRIDS[name]
    info = write_pet(tmp_path / "PT", grid)
    labels, table = make_rois(grid)
    # file-name order (InstanceNumber, head first) is not the order along the normal
    by_name = sorted(info.files)
    assert by_name != list(info.files) and by_name == list(info.files)[::-1]
    out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm")

    ds = pydicom.dcmread(out)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == info.series_uid
    pet = {str(d.SOPInstanceUID): (k, d) for k, d in
           enumerate(pydicom.dcmread(f, stop_before_pixels=True) for f in info.files)}
    referenced = {str(i.ReferencedSOPInstanceUID)
                  for i in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == set(pet)
    lab = array(labels)
    seg_labels = table["label"].tolist()
    expected_frames = {(n, k) for n, label in enumerate(seg_labels, start=1)
                       for k in range(lab.shape[0]) if np.any(lab[k] == label)}
    assert int(ds.NumberOfFrames) == len(expected_frames)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns))
    seen = set()
    for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        k, pet_ds = pet[str(source.ReferencedSOPInstanceUID)]
        np.testing.assert_allclose(
            [float(v) for v in item.PlanePositionSequence[0].ImagePositionPatient],
            [float(v) for v in pet_ds.ImagePositionPatient], atol=1e-6)
        np.testing.assert_allclose(grid.slice_position(k), [
            float(v) for v in pet_ds.ImagePositionPatient], atol=1e-4)
        np.testing.assert_array_equal(frames[i].astype(bool), lab[k] == seg_labels[number - 1])
        seen.add((number, k))
    assert seen == expected_frames


def test_import_refuses_a_seg_of_another_series(rotated, tmp_path):
    info, labels, table = rotated
    other = write_pet(tmp_path / "PT2", ROTATED, seed="another-pet")
    assert other.series_uid != info.series_uid
    out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm")
    with pytest.raises(DicomInputError) as err:
        import_seg(out, other.directory)
    assert info.series_uid in str(err.value) and other.series_uid in str(err.value)
    assert "ReferencedSeriesSequence" in str(err.value)
    # a reference image on another grid is refused too (frames off its slices)
    shifted = sitk.Image(labels)
    shifted.SetOrigin(np.add(labels.GetOrigin(), (0.0, 0.0, 1.5)).tolist())
    with pytest.raises(DicomInputError, match="not a slice of the reference grid"):
        import_seg(out, shifted)
    small = sitk.RegionOfInterest(labels, [10, 24, 16], [0, 0, 0])
    with pytest.raises(DicomInputError, match="10x24"):
        import_seg(out, small)


def test_several_series_in_one_folder(tmp_path):
    a = write_pet(tmp_path / "A", ROTATED, seed="pet-a")
    b = write_pet(tmp_path / "B", ROTATED, seed="pet-b")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for info, tag in ((a, "a"), (b, "b")):
        for f in info.files:
            shutil.copy(f, mixed / f"{tag}{f.name}")
    labels, table = make_rois(ROTATED)
    with pytest.raises(DicomInputError, match="2 image series") as err:
        export_seg(labels, table, mixed, tmp_path / "x.dcm")
    assert a.series_uid in str(err.value) and "series_uid=" in str(err.value)
    assert not (tmp_path / "x.dcm").exists()
    out = export_seg(labels, table, mixed, tmp_path / "b.dcm", series_uid=b.series_uid)
    assert pydicom.dcmread(out).ReferencedSeriesSequence[0].SeriesInstanceUID == b.series_uid
    # import picks the referenced series out of the mixed folder
    back, back_table = import_seg(out, mixed)
    np.testing.assert_array_equal(array(back), array(labels))
    assert len(back_table) == 6
    with pytest.raises(DicomInputError, match="no image of series 1.2.3"):
        export_seg(labels, table, mixed, tmp_path / "y.dcm", series_uid="1.2.3")


def test_geometry_matches_load_pet(tmp_path):
    """A label map on the grid load_pet builds exports; import onto that image works."""
    info = write_pet(tmp_path / "PT", OBLIQUE)
    pet, _ = load_pet(info.directory)
    lab = np.zeros(array(pet).shape, np.uint16)
    lab[4:9, 5:12, 3:8] = 1
    labels = sitk.GetImageFromArray(lab)
    labels.CopyInformation(pet)
    table = pd.DataFrame([dict(label=1, roi="liver", lesion_id="", method="manual",
                               reader="AB", created="")])
    out = export_seg(labels, table, info.files, tmp_path / "rois.dcm")
    back, back_table = import_seg(out, pet)
    np.testing.assert_array_equal(array(back), lab)
    assert back_table.loc[0, "roi"] == "liver"


# ---------------------------------------------------------------------------------------
# Empty labels, bad input
# ---------------------------------------------------------------------------------------


def with_empty_row(table: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([table, pd.DataFrame([dict(
        label=9, roi="lesion", lesion_id="P001-L09", method="manual", reader="AB",
        created="2024-05-08")])], ignore_index=True)


def test_label_without_voxels_is_left_out_with_a_warning(rotated, tmp_path):
    info, labels, table = rotated
    with pytest.warns(UserWarning, match=r"label 9 \(P001-L09\) has no voxels: left out"):
        out = export_seg(labels, with_empty_row(table), info.directory, tmp_path / "rois.dcm")
    ds = pydicom.dcmread(out)
    assert [s.SegmentLabel for s in ds.SegmentSequence] == [
        "liver", "spleen", "blood_pool", "P001-L03", "P001-L04", "muscle"]
    back, back_table = import_seg(out, info.directory)
    np.testing.assert_array_equal(array(back), array(labels))
    pd.testing.assert_frame_equal(back_table, validate_table(table))   # without label 9


def test_keep_empty_writes_a_segment_without_frames(rotated, tmp_path):
    info, labels, table = rotated
    table = with_empty_row(table)
    with pytest.warns(UserWarning, match=r"label 9 \(P001-L09\) .*segment without frames"):
        out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm",
                         keep_empty=True)
    ds = pydicom.dcmread(out)
    numbers = {s.SegmentLabel: int(s.SegmentNumber) for s in ds.SegmentSequence}
    assert numbers["P001-L09"] == 5           # label order: 2, 3, 5, 7, 9, 30, 40
    framed = {int(f.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
              for f in ds.PerFrameFunctionalGroupsSequence}
    assert framed == {1, 2, 3, 4, 6, 7}
    back, back_table = import_seg(out, info.directory)
    np.testing.assert_array_equal(array(back), array(labels))
    pd.testing.assert_frame_equal(back_table, validate_table(table))
    assert back_table.set_index("label").loc[9, "lesion_id"] == "P001-L09"


def test_all_empty_label_map(rotated, tmp_path):
    info, labels, table = rotated
    empty = sitk.Image(labels.GetSize(), sitk.sitkUInt16)
    empty.CopyInformation(labels)
    with pytest.warns(UserWarning, match="no voxels"), \
            pytest.raises(DicomInputError, match="no label has voxels"):
        export_seg(empty, table.iloc[:2], info.directory, tmp_path / "rois.dcm")
    assert not (tmp_path / "rois.dcm").exists()
    with pytest.warns(UserWarning, match="no voxels"):
        out = export_seg(empty, table.iloc[:2], info.directory, tmp_path / "rois.dcm",
                         keep_empty=True)
    back, back_table = import_seg(out, info.directory)
    assert not array(back).any()
    assert back_table["label"].tolist() == [2, 3]


@pytest.mark.parametrize("change, word", [
    ("origin", "origin"), ("spacing", "spacing"), ("direction", "direction"),
    ("size", "size"),
])
def test_geometry_mismatch_is_refused(rotated, tmp_path, change, word):
    info, labels, table = rotated
    bad = sitk.Image(labels)
    if change == "origin":
        bad.SetOrigin(np.add(labels.GetOrigin(), (0.5, 0.0, 0.0)).tolist())
    elif change == "spacing":
        bad.SetSpacing((4.0, 3.5, 3.1))
    elif change == "direction":
        bad.SetDirection(rotation_z(31.0))
    else:
        bad = sitk.RegionOfInterest(labels, [20, 24, 15], [0, 0, 0])
    before = digest(info.directory)
    with pytest.raises(DicomInputError) as err:
        export_seg(bad, table, info.directory, tmp_path / "rois.dcm")
    text = str(err.value)
    assert word in text and "not on the PET series' grid" in text
    assert "resample the labels onto the PET grid" in err.value.fix
    assert not (tmp_path / "rois.dcm").exists()
    assert digest(info.directory) == before


def test_tiny_float32_geometry_rounding_is_accepted(rotated, tmp_path):
    info, labels, table = rotated
    nifti_like = sitk.Image(labels)
    nifti_like.SetOrigin(np.float32(labels.GetOrigin()).astype(float).tolist())
    nifti_like.SetOrigin(np.add(nifti_like.GetOrigin(), 2e-4).tolist())
    out = export_seg(nifti_like, table, info.directory, tmp_path / "rois.dcm")
    back, _ = import_seg(out, info.directory)
    np.testing.assert_array_equal(array(back), array(labels))


def test_label_missing_from_the_table_is_refused(rotated, tmp_path):
    info, labels, table = rotated
    with pytest.raises(RoiStoreError, match=r"\[40\] are in the label map but not in the table"):
        export_seg(labels, table.iloc[:-1], info.directory, tmp_path / "rois.dcm")
    assert not (tmp_path / "rois.dcm").exists()


def test_not_a_seg_is_refused(rotated, tmp_path):
    info, _, _ = rotated
    with pytest.raises(DicomInputError, match="not a readable DICOM Segmentation"):
        import_seg(info.files[0], info.directory)


# ---------------------------------------------------------------------------------------
# Files: source untouched, atomic output
# ---------------------------------------------------------------------------------------


def test_source_files_are_unchanged(rotated, tmp_path):
    info, labels, table = rotated
    before = digest(info.directory)
    out = export_seg(labels, table, info.directory, tmp_path / "out" / "rois.dcm")
    import_seg(out, info.directory)
    import_seg(out, list(info.files))
    assert digest(info.directory) == before       # same names, same bytes
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["rois.dcm"]


def test_write_is_atomic_and_replaces(rotated, tmp_path, monkeypatch):
    info, labels, table = rotated
    out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm")
    first = out.read_bytes()
    # overwrite: a new instance replaces the old file
    out2 = export_seg(labels, table, info.directory, out)
    assert out2 == out and out.read_bytes() != first
    # the file gets the mode a plain open() gives (not mkstemp's private 0600)
    mask = os.umask(0o022)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask
    second = out.read_bytes()

    # a crash before the rename leaves the previous file and no temporary file
    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        export_seg(labels, table, info.directory, out)
    monkeypatch.undo()
    assert out.read_bytes() == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["PT", "rois.dcm"]


def test_out_folder_and_seg_inside_the_source_folder(rotated, tmp_path):
    info, labels, table = rotated
    # out names the PET folder itself: allowed because out says so
    out = export_seg(labels, table, info.directory, info.directory)
    assert out.parent == info.directory and out.name.startswith("SEG_")
    ds = pydicom.dcmread(out)
    assert out.name == f"SEG_{ds.SOPInstanceUID}.dcm"
    # the SEG in the folder is not mistaken for a slice or a second series
    out2 = export_seg(labels, table, info.directory, tmp_path / "again.dcm")
    back, _ = import_seg(out2, info.directory)
    np.testing.assert_array_equal(array(back), array(labels))


# ---------------------------------------------------------------------------------------
# SEGs made by other tools
# ---------------------------------------------------------------------------------------


def foreign_seg(info: dw.SeriesInfo, pixels: np.ndarray, descriptions, path: Path,
                segmentation_type: str = "BINARY", **kwargs) -> Path:
    sources = [pydicom.dcmread(f) for f in info.files]      # k order = along the normal
    seg = hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type=segmentation_type,
        segment_descriptions=descriptions, series_instance_uid=hd.UID(), series_number=7,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="Other",
        manufacturer_model_name="Tool", software_versions="1", device_serial_number="1",
        content_creator_name="Doe^John", content_date="20240601", content_time="101500",
        **kwargs)
    seg.save_as(path)
    return path


def describe(number: int, label: str, category: Code, kind: Code,
             automatic: bool = True) -> hd.seg.SegmentDescription:
    algo = hd.AlgorithmIdentificationSequence(
        name="Tool", family=codes.DCM.ArtificialIntelligence, version="1") if automatic else None
    return hd.seg.SegmentDescription(
        segment_number=number, segment_label=label, segmented_property_category=category,
        segmented_property_type=kind,
        algorithm_type="AUTOMATIC" if automatic else "MANUAL", algorithm_identification=algo)


FOREIGN = [
    ("Liver", codes.SCT.AnatomicalStructure, codes.SCT.Liver),
    ("Tumour A", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
    ("Spleen", codes.SCT.AnatomicalStructure, Code("T-C3000", "SRT", "Spleen")),
    ("Aorta", codes.SCT.AnatomicalStructure, codes.SCT.Aorta),
    ("Left kidney", codes.SCT.AnatomicalStructure, codes.SCT.Kidney),
    ("Liver", codes.SCT.AnatomicalStructure, codes.SCT.Liver),
]


def test_foreign_seg_imports_with_inferred_rows_and_lesions_win_policy(rotated, tmp_path):
    info, _, _ = rotated
    shape = ROTATED.shape
    stack = np.zeros((*shape, len(FOREIGN)), dtype=np.uint8)
    stack[2:8, 2:10, 2:10, 0] = 1          # liver
    stack[4:6, 4:6, 4:6, 1] = 1            # tumour inside the liver: overlaps 8 voxels
    stack[10:12, 15:20, 12:16, 2] = 1      # spleen (SRT code)
    stack[13, 2:4, 15:17, 3] = 1           # aorta -> blood pool
    stack[0:2, 20:22, 0:2, 4] = 1          # kidney -> lesion named by its label
    stack[15, 23, 19, 5] = 1               # a second "liver" -> lesion
    descriptions = [describe(n, label, cat, kind, automatic=n % 2 == 1)
                    for n, (label, cat, kind) in enumerate(FOREIGN, start=1)]
    path = foreign_seg(info, stack, descriptions, tmp_path / "foreign.dcm")
    assert pydicom.dcmread(path).SegmentsOverlap == "YES"

    with pytest.warns(UserWarning, match="'Liver' \\(liver\\) gave 8 of its 384 voxels"):
        labels, table = import_seg(path, info.directory, overlap="lesions-win")
    expected = np.zeros(shape, np.uint16)
    for n in range(len(FOREIGN)):
        expected[stack[..., n] == 1] = n + 1
    np.testing.assert_array_equal(array(labels), expected)
    assert array(labels)[5, 5, 5] == 2     # the tumour (segment 2) won over the liver
    assert_same_grid(labels, ROTATED.to_sitk(expected))
    assert table["label"].tolist() == [1, 2, 3, 4, 5, 6]
    assert table["roi"].tolist() == ["liver", "lesion", "spleen", "blood_pool", "lesion",
                                     "lesion"]
    assert table["lesion_id"].tolist() == ["", "Tumour A", "", "", "Left kidney", "Liver"]
    assert set(table["method"]) == {"imported"}
    assert set(table["reader"]) == {"Doe John"}
    assert set(table["created"]) == {"2024-06-01T10:15:00"}
    pd.testing.assert_frame_equal(table, validate_table(table))


@pytest.mark.parametrize("segmentation_type", ["LABELMAP", "FRACTIONAL"])
def test_foreign_labelmap_and_fractional_segs(rotated, tmp_path, segmentation_type):
    info, _, _ = rotated
    lab = np.zeros(ROTATED.shape, np.uint8)
    lab[2:5, 3:9, 4:7] = 1
    lab[9:12, 10:14, 12:18] = 2
    descriptions = [describe(1, "Liver", codes.SCT.AnatomicalStructure, codes.SCT.Liver),
                    describe(2, "L1", codes.SCT.MorphologicallyAbnormalStructure,
                             codes.SCT.Lesion)]
    path = foreign_seg(info, lab, descriptions, tmp_path / "f.dcm", segmentation_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        labels, table = import_seg(path, info.directory)
    np.testing.assert_array_equal(array(labels), lab)
    assert table["roi"].tolist() == ["liver", "lesion"]
    assert table["lesion_id"].tolist() == ["", "L1"]


def test_foreign_without_content_creator_reads_unknown(rotated, tmp_path):
    info, labels, table = rotated
    out = export_seg(labels, table, info.directory, tmp_path / "rois.dcm")
    ds = pydicom.dcmread(out)
    for item in ds.SegmentSequence:            # strip our JSON: as if another tool wrote it
        del item.SegmentDescription
    del ds.ContentCreatorName
    ds.save_as(tmp_path / "stripped.dcm")
    back, back_table = import_seg(tmp_path / "stripped.dcm", info.directory)
    # labels are now segment numbers 1..6 in the original label order
    lut = {2: 1, 3: 2, 5: 3, 7: 4, 30: 5, 40: 6}
    expected = np.vectorize(lambda v: lut.get(int(v), 0))(array(labels))
    np.testing.assert_array_equal(array(back), expected)
    assert back_table["roi"].tolist() == ["liver", "spleen", "blood_pool", "lesion", "lesion",
                                          "muscle"]
    assert back_table["lesion_id"].tolist() == ["", "", "", "P001-L03", "P001-L04", ""]
    assert set(back_table["reader"]) == {"unknown"}
    assert set(back_table["method"]) == {"imported"}


# ---------------------------------------------------------------------------------------
# A realistic demo scan
# ---------------------------------------------------------------------------------------


def demo_rois(study: Path, scan_id: str) -> tuple[sitk.Image, pd.DataFrame]:
    """The demo reader's ROIs: labels.nii.gz + labels.csv, or the ROI store's newest version."""
    folder = study / "rois" / scan_id
    if (folder / "labels.nii.gz").exists():
        labels = sitk.Cast(sitk.ReadImage(str(folder / "labels.nii.gz")), sitk.sitkUInt16)
        table = pd.read_csv(folder / "labels.csv", dtype=str, keep_default_na=False)
        return labels, validate_table(table)
    rois = RoiStore(study / "rois").load(scan_id)
    return rois.labels, rois.table


def test_demo_scan_round_trip(ideal_study, tmp_path):
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv")
    scan = scans.iloc[0]
    pet_dir = ideal_study / scan["pet_dir"]
    labels, table = demo_rois(ideal_study, scan["scan_id"])
    assert len(table) >= 3 and {"liver", "spleen", "lesion"} <= set(table["roi"])
    before = digest(pet_dir)
    out = export_seg(labels, table, pet_dir, tmp_path / "demo.dcm")
    back, back_table = import_seg(out, pet_dir)
    np.testing.assert_array_equal(array(back), array(labels))
    pd.testing.assert_frame_equal(back_table, validate_table(table))
    np.testing.assert_allclose(back.GetOrigin(), labels.GetOrigin(), atol=1e-3)
    assert digest(pet_dir) == before
    ds = pydicom.dcmread(out, stop_before_pixels=True)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == pydicom.dcmread(
        next(pet_dir.iterdir()), stop_before_pixels=True).SeriesInstanceUID
