"""RTSTRUCT import (nethelpers.dicom.rtstruct) and the demo workstation that writes it.

Ground truth comes from outside the code under test: the demo's ROI label maps, an
independent rasteriser (matplotlib.path.Path.contains_points per polygon, XOR-ed, at voxel
centres found with SimpleITK's own index transform), analytic spheres and hand-worked
slice/plane assignments.
"""

from __future__ import annotations

import math
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from matplotlib.path import Path as MplPath

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.variants.outlines import circle
from nethelpers.demo.variants.rtstruct import (
    REGION_NAMES,
    Structure,
    write_rtstruct,
    write_structure_set,
)
from nethelpers.dicom.contour_raster import slice_planes
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.roi_names import infer_roi_kind
from nethelpers.dicom.rtstruct import RTSTRUCT_STORAGE, import_rtstruct
from nethelpers.rois import RoiStore
from tests.test_dicomwrite import CT, PATIENT, STUDY, activity, pet_series, rotation_z

SCANNER = dw.SCANNERS["siemens_vision"]
SCAN = "P001-DOTATATE-PETCT"
CREATED = datetime(2025, 1, 9, 14, 56, 30)


def rotation_x(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


AXIAL = Grid(size=(24, 22, 18), spacing=(4.0, 4.0, 3.27), origin=(-46.0, -42.0, -30.0))
OBLIQUE = Grid(size=(20, 24, 16), spacing=(4.0, 3.5, 3.0), origin=(12.5, -7.25, 301.0),
               direction=tuple((np.reshape(rotation_z(30.0), (3, 3)) @ rotation_x(20.0))
                               .ravel().tolist()))
CT_GRID = Grid(size=(40, 40, 40), spacing=(2.0, 2.0, 1.25), origin=(-39.0, -39.0, -25.0))


def write_pet(folder: Path, grid: Grid, seed: str = "rt-pet") -> Path:
    dw.write_pet_series(activity(grid), grid, PATIENT, STUDY, SCANNER,
                        pet_series(nz=grid.shape[0], series_uid_seed=seed), folder)
    return folder


def write_ct(folder: Path, grid: Grid) -> Path:
    dw.write_ct_series(np.zeros(grid.shape), grid, PATIENT, STUDY, SCANNER, CT, folder)
    return folder


def empty_image(grid: Grid) -> sitk.Image:
    return grid.to_sitk(np.zeros(grid.shape, np.uint8))


def reference_raster(image: sitk.Image, contours: list[np.ndarray]) -> np.ndarray:
    """Independent rasteriser: per slice, XOR of contains_points of each polygon.

    Contour points (mm) go to continuous indices with SimpleITK's transform; a contour is
    on the slice its (rounded) k index names; voxel centres are integer (i, j).
    """
    nx, ny, nz = image.GetSize()
    out = np.zeros((nz, ny, nx), bool)
    jj, ii = np.mgrid[0:ny, 0:nx]
    centres = np.c_[ii.ravel(), jj.ravel()]
    for points in contours:
        index = np.array([image.TransformPhysicalPointToContinuousIndex(p.tolist())
                          for p in points])
        k = int(round(index[:, 2].mean()))
        assert np.allclose(index[:, 2], k, atol=1e-4)
        inside = MplPath(index[:, :2]).contains_points(centres).reshape(ny, nx)
        out[k] ^= inside
    return out


def to_mm(grid: Grid, ij: np.ndarray, k: float) -> np.ndarray:
    return grid.index_to_world(np.c_[ij, np.full(len(ij), float(k))])


def read_contours(path: Path) -> dict[int, list[np.ndarray]]:
    ds = pydicom.dcmread(path)
    return {int(item.ReferencedROINumber):
            [np.reshape(np.array(c.ContourData, float), (-1, 3)) for c in item.ContourSequence]
            for item in ds.ROIContourSequence}


@pytest.fixture(scope="module")
def demo_scan(ideal_study) -> tuple[Path, Path, sitk.Image, pd.DataFrame]:
    folder = ideal_study / "dicom" / "P001" / SCAN
    rois = RoiStore(ideal_study / "rois").load(SCAN)
    return folder / "PT", folder / "CT", rois.labels, rois.table


# ---------------------------------------------------------------------------------------
# Round trips on a demo scan's R1 ROI set
# ---------------------------------------------------------------------------------------


def test_round_trip_on_the_pet_is_exact(demo_scan, tmp_path):
    pt, ct, labels, table = demo_scan
    out = write_rtstruct(labels, table, pt, tmp_path / "rs.dcm", created=CREATED)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back, back_table = import_rtstruct(out, pt)
    original = sitk.GetArrayFromImage(labels)
    assert back.GetPixelID() == sitk.sitkUInt16
    assert np.array_equal(sitk.GetArrayFromImage(back), original)
    assert back.GetOrigin() == pytest.approx(labels.GetOrigin(), abs=1e-3)
    for column in ("label", "roi", "lesion_id", "reader"):
        assert back_table[column].tolist() == table[column].tolist()
    assert set(back_table["method"]) == {"imported"}
    assert set(back_table["created"]) == {"2025-01-09T14:56:30"}
    # the PET and CT files together: narrowed to the PET series
    both = sorted(pt.iterdir()) + sorted(ct.iterdir())
    again, _ = import_rtstruct(out, both)
    assert np.array_equal(sitk.GetArrayFromImage(again), original)


def test_workstation_outlines_fill_the_mask_with_an_independent_rasteriser(demo_scan,
                                                                           tmp_path):
    pt, _, labels, table = demo_scan
    out = write_rtstruct(labels, table, pt, tmp_path / "rs.dcm")
    original = sitk.GetArrayFromImage(labels)
    contours = read_contours(out)
    assert sorted(contours) == sorted(table["label"].tolist())
    for label, items in contours.items():
        filled = reference_raster(labels, items)
        assert np.array_equal(filled, original == label), label


def test_structure_set_header_references_the_pet(demo_scan, tmp_path):
    pt, _, labels, table = demo_scan
    ds = pydicom.dcmread(write_rtstruct(labels, table, pt, tmp_path / "rs.dcm",
                                        created=CREATED, operator="Doe^Jane"))
    pet = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(pt.iterdir())]
    assert ds.SOPClassUID == ds.file_meta.MediaStorageSOPClassUID == RTSTRUCT_STORAGE
    assert RTSTRUCT_STORAGE == "1.2.840.10008.5.1.4.1.1.481.3"
    assert ds.Modality == "RTSTRUCT" and ds.StructureSetDate == "20250109"
    assert ds.StudyInstanceUID == pet[0].StudyInstanceUID
    assert ds.PatientID == pet[0].PatientID and str(ds.OperatorsName) == "Doe^Jane"
    frame = ds.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == pet[0].FrameOfReferenceUID
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == pet[0].StudyInstanceUID
    series = study.RTReferencedSeriesSequence[0]
    assert series.SeriesInstanceUID == pet[0].SeriesInstanceUID
    assert ({i.ReferencedSOPInstanceUID for i in series.ContourImageSequence}
            == {p.SOPInstanceUID for p in pet})
    names = [r.ROIName for r in ds.StructureSetROISequence]
    assert names == ["Liver", "Spleen", "P001-L01", "P001-L02", "P001-L03", "P001-L04",
                     "P001-L05"]
    assert [int(r.ROINumber) for r in ds.StructureSetROISequence] == table["label"].tolist()
    assert [o.RTROIInterpretedType for o in ds.RTROIObservationsSequence] == [
        "ORGAN", "ORGAN", "GTV", "GTV", "GTV", "GTV", "GTV"]
    assert [str(o.ROIInterpreter) for o in ds.RTROIObservationsSequence] == ["R1"] * 7
    assert list(ds.ROIContourSequence[0].ROIDisplayColor) == [221, 130, 101]
    # every contour names the PET slice at its own z (LPS, axial PET)
    z_of = {p.SOPInstanceUID: float(p.ImagePositionPatient[2]) for p in pet}
    n = 0
    for item in ds.ROIContourSequence:
        for contour in item.ContourSequence:
            z = np.reshape(np.array(contour.ContourData, float), (-1, 3))[:, 2]
            uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
            assert contour.ContourGeometricType == "CLOSED_PLANAR"
            assert np.allclose(z, z_of[uid], atol=1e-3)
            n += 1
    # the demo's ROIs are balls: one outline per label per slice it is on, no holes
    original = sitk.GetArrayFromImage(labels)
    assert n == sum(int((original == v).any(axis=(1, 2)).sum()) for v in table["label"]) == 45


def test_round_trip_drawn_on_the_ct(demo_scan, tmp_path):
    # CT 3 mm, PET 4 mm voxels, same orientation: every PET voxel centre is within 1.5 mm of
    # the centre of the CT voxel that samples it, and that CT voxel's nearest PET voxel is
    # the same one (1.5 < 2 mm): CT-resampled, CT-traced contours must give the map back.
    pt, ct, labels, table = demo_scan
    out = write_rtstruct(labels, table, pt, tmp_path / "rs_ct.dcm", on="ct",
                         ct_series_dir=ct)
    ds = pydicom.dcmread(out)
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(ct.iterdir())]
    ct_files = {h.SOPInstanceUID: float(h.ImagePositionPatient[2]) for h in headers}
    contour = ds.ROIContourSequence[2].ContourSequence[0]
    uid = contour.ContourImageSequence[0].ReferencedSOPInstanceUID
    assert uid in ct_files
    assert float(contour.ContourData[2]) == pytest.approx(ct_files[uid], abs=1e-3)
    back, back_table = import_rtstruct(out, pt)
    original = sitk.GetArrayFromImage(labels)
    assert np.array_equal(sitk.GetArrayFromImage(back), original)
    assert back_table["lesion_id"].tolist() == table["lesion_id"].tolist()


def test_every_other_pet_slice_fills_the_slices_between(demo_scan, tmp_path):
    pt, _, labels, table = demo_scan
    out = write_rtstruct(labels, table, pt, tmp_path / "rs.dcm", every_other_slice=True)
    back, _ = import_rtstruct(out, pt)
    got, original = sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(labels)
    for label in table["label"]:
        slices = np.flatnonzero((original == label).any(axis=(1, 2)))
        drawn = np.unique(np.r_[slices[::2], slices[-1]])
        for k in range(slices[0], slices[-1] + 1):
            # hand rule: drawn slices are exact; a skipped one copies the lower neighbour
            # (equidistant from the two drawn slices around it: the tie goes to the lower)
            source = k if k in drawn else k - 1
            assert np.array_equal(got[k] == label, original[source] == label), (label, k)
        assert not (got[: slices[0]] == label).any()
        assert not (got[slices[-1] + 1:] == label).any()


# ---------------------------------------------------------------------------------------
# Hand-made contours against the independent rasteriser
# ---------------------------------------------------------------------------------------


def hand_made(grid: Grid) -> dict[int, list[np.ndarray]]:
    """A ring with an island in its hole, a triangle, an irregular polygon (index space)."""
    ring = [to_mm(grid, circle((9.3, 11.1), 8.2, 64), 4),
            to_mm(grid, circle((9.3, 11.1), 4.7, 48), 4),     # the hole
            to_mm(grid, circle((9.6, 10.8), 2.1, 24), 4)]     # the island in the hole
    triangle = [to_mm(grid, np.array([[1.2, 2.3], [15.7, 4.1], [6.4, 19.6]]), 9)]
    odd = [to_mm(grid, np.array([[2.2, 1.3], [17.8, 3.1], [12.3, 9.4], [18.1, 20.6],
                                 [3.4, 17.2], [7.7, 9.9]]), 12)]
    return {3: ring, 5: triangle, 8: odd}


@pytest.mark.parametrize("grid", [AXIAL, OBLIQUE], ids=["axial", "oblique"])
def test_hand_made_contours_agree_with_an_independent_rasteriser(grid, tmp_path):
    pt = write_pet(tmp_path / "PT", grid)
    shapes = hand_made(grid)
    structures = [Structure(n, f"Lesion {n}", tuple(c)) for n, c in shapes.items()]
    out = write_structure_set(structures, pt, tmp_path / "rs.dcm")
    back, table = import_rtstruct(out, pt)
    got = sitk.GetArrayFromImage(back)
    image = empty_image(grid)
    for number, contours in read_contours(out).items():
        expected = reference_raster(image, contours)
        assert np.array_equal(got == number, expected), number
    assert table["lesion_id"].tolist() == ["Lesion 3", "Lesion 5", "Lesion 8"]
    # the ring: the hole is empty, the island filled again (independent analytic check)
    ring = got[4] == 3
    assert ring[11, 9] and not ring[11, 13] and ring[11, 16]
    assert 135 < int(ring.sum()) < 175


def test_contours_not_parallel_to_the_pet_slices_are_refused(tmp_path):
    pt = write_pet(tmp_path / "PT", OBLIQUE)
    axial = np.c_[circle((30.0, 10.0), 10.0, 32), np.full(32, 320.0)]
    out = write_structure_set([Structure(1, "Lesion", (axial,))], pt, tmp_path / "rs.dcm")
    with pytest.raises(DicomInputError) as err:
        import_rtstruct(out, pt)
    assert str(out) in str(err.value) and "ContourData (3006,0050)" in str(err.value)
    assert "not parallel" in str(err.value)


# ---------------------------------------------------------------------------------------
# Contours drawn on a finer CT: an analytic sphere
# ---------------------------------------------------------------------------------------


CENTRE = np.array([1.3, -2.1, -2.2])
RADIUS = 18.0


def sphere_contours(every_other: bool = False) -> list[np.ndarray]:
    z = CT_GRID.origin[2] + CT_GRID.spacing[2] * np.arange(CT_GRID.size[2])
    z = z[np.abs(z - CENTRE[2]) < RADIUS]
    if every_other:
        z = np.unique(np.r_[z[::2], z[-1]])
    return [np.c_[circle(CENTRE[:2], math.sqrt(RADIUS**2 - (zc - CENTRE[2]) ** 2), 256),
                  np.full(256, zc)] for zc in z]


@pytest.fixture(scope="module")
def pet_ct(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("petct")
    return write_pet(tmp / "PT", AXIAL), write_ct(tmp / "CT", CT_GRID), tmp


def misplaced(mask: np.ndarray, plane_spacing: float) -> int:
    """Voxels on the wrong side of the sphere farther from its surface than the rule allows.

    The nearest contour plane stands in for up to half a plane spacing along z (and the
    256-gon for the circle): within that band of the surface either answer is right.
    """
    kk, jj, ii = np.indices(AXIAL.shape)
    dist = np.linalg.norm(AXIAL.index_to_world(np.stack([ii, jj, kk], -1)) - CENTRE, axis=-1)
    band = 0.5 * plane_spacing + RADIUS * (1 - math.cos(math.pi / 256)) + 1e-6
    return int(np.count_nonzero(mask & (dist > RADIUS + band))
               + np.count_nonzero(~mask & (dist < RADIUS - band)))


def test_sphere_drawn_on_the_ct_has_its_volume_and_centre_on_the_pet(pet_ct):
    pt, ct, tmp = pet_ct
    contours = sphere_contours()
    out = write_structure_set([Structure(1, "Lesion 1", tuple(contours))], ct,
                              tmp / "sphere.dcm")
    ds = pydicom.dcmread(out)
    study = ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    assert study.RTReferencedSeriesSequence[0].SeriesInstanceUID == pydicom.dcmread(
        next(ct.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    back, _ = import_rtstruct(out, pt)
    mask = sitk.GetArrayFromImage(back) == 1
    voxel = float(np.prod(AXIAL.spacing))
    truth = 4.0 / 3.0 * math.pi * RADIUS**3
    assert abs(mask.sum() * voxel / truth - 1.0) < 0.03
    k, j, i = np.nonzero(mask)
    centres = AXIAL.index_to_world(np.c_[i, j, k])
    assert np.all(np.abs(centres.mean(axis=0) - CENTRE) < 0.5 * np.array(AXIAL.spacing))
    assert misplaced(mask, CT_GRID.spacing[2]) == 0


def test_sphere_drawn_on_every_other_ct_slice_is_filled_between(pet_ct):
    pt, ct, tmp = pet_ct
    full = import_rtstruct(write_structure_set(
        [Structure(1, "Lesion 1", tuple(sphere_contours()))], ct, tmp / "a.dcm"), pt)[0]
    half = import_rtstruct(write_structure_set(
        [Structure(1, "Lesion 1", tuple(sphere_contours(every_other=True)))], ct,
        tmp / "b.dcm"), pt)[0]
    a, b = sitk.GetArrayFromImage(full) == 1, sitk.GetArrayFromImage(half) == 1
    truth = 4.0 / 3.0 * math.pi * RADIUS**3
    assert abs(b.sum() * float(np.prod(AXIAL.spacing)) / truth - 1.0) < 0.05
    slices = np.flatnonzero(b.any(axis=(1, 2)))
    assert np.array_equal(slices, np.arange(slices[0], slices[-1] + 1))   # no empty slice
    assert len(slices) >= 11
    assert misplaced(b, 2 * CT_GRID.spacing[2]) == 0
    assert (a != b).sum() / a.sum() < 0.08


def test_slice_plane_rule_by_hand():
    # planes every 3 mm (a CT) onto 4 mm slices: slice 1 (z = 4) takes the plane at 3 mm;
    # z = 8 is 2 mm past the last plane, more than half the 3 mm plane spacing
    assert slice_planes([0.0, 3.0, 6.0], 4.0, 5).tolist() == [0, 1, -1, -1, -1]
    # every other slice (planes 8 mm apart): z = 4 is bridged, the tie goes to the lower
    assert slice_planes([0.0, 8.0], 4.0, 5).tolist() == [0, 0, 1, -1, -1]
    # two lesions in one structure, 32 mm apart at a 4 mm plane spacing: not joined
    assert slice_planes([0.0, 4.0, 8.0, 40.0, 44.0], 4.0, 12).tolist() == [
        0, 1, 2, -1, -1, -1, -1, -1, -1, -1, 3, 4]
    # one missing plane (gap = 2 plane spacings) is bridged, three are not
    assert slice_planes([0.0, 4.0, 12.0], 4.0, 4).tolist() == [0, 1, 1, 2]
    assert slice_planes([0.0, 4.0, 20.0], 4.0, 6).tolist() == [0, 1, -1, -1, -1, 2]
    # a single plane stands for one grid slice, both on an exact tie
    assert slice_planes([5.0], 4.0, 4).tolist() == [-1, 0, -1, -1]
    assert slice_planes([6.0], 4.0, 4).tolist() == [-1, 0, 0, -1]


# ---------------------------------------------------------------------------------------
# Kinds, warnings and refusals
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "rt_type", "kind"), [
    ("Liver", "ORGAN", "liver"), ("LIVER_ref", "", "liver"), ("Leber 3cm", "", "liver"),
    ("Spleen", "ORGAN", "spleen"), ("Aorta desc", "", "blood_pool"),
    ("BloodPool", "ORGAN", "blood_pool"), ("Muscle_gluteus", "", "muscle"),
    ("Liver met 2", "", "lesion"), ("GTV_node", "", "lesion"), ("L1", "", "lesion"),
    ("Liver", "GTV", "liver"), ("GTV_liver", "ORGAN", "lesion"), ("Kidney_L", "PTV", "lesion"),
    ("Kidney_L", "ORGAN", None), ("liver spleen", "ORGAN", None), ("liver spleen", "", "lesion"),
    ("BODY", "", None),
    ("External", "EXTERNAL", None), ("Couch", "SUPPORT", None), ("Lesion 3", "ORGAN", "lesion"),
])
def test_roi_kind_from_name_and_type(name, rt_type, kind):
    assert infer_roi_kind(name, rt_type) == kind


def test_workstation_region_names_are_recognised():
    assert {kind: infer_roi_kind(name, "ORGAN") for kind, name in REGION_NAMES.items()} == {
        "liver": "liver", "spleen": "spleen", "blood_pool": "blood_pool", "muscle": "muscle"}


def square(grid: Grid, i0: float, j0: float, size: float, k: int) -> np.ndarray:
    ij = np.array([[i0, j0], [i0 + size, j0], [i0 + size, j0 + size], [i0, j0 + size]])
    return to_mm(grid, ij, k)


def test_structures_left_out_overlaps_and_ignored_contours(tmp_path):
    pt = write_pet(tmp_path / "PT", AXIAL)
    point = Structure(9, "Marker", (square(AXIAL, 3, 3, 4, 2),), interpreted_type="MARKER")
    structures = [
        Structure(2, "Liver", (square(AXIAL, 1.5, 1.5, 6, 3),), interpreted_type="ORGAN"),
        Structure(4, "BODY", (square(AXIAL, 0.5, 0.5, 20, 3),), interpreted_type="EXTERNAL"),
        Structure(6, "Lesion A", (square(AXIAL, 4.5, 4.5, 6, 3),)),     # overlaps the liver
        Structure(7, "liver copy", (square(AXIAL, 15.5, 15.5, 2, 3),),  # a second liver
                  interpreted_type="ORGAN"),
        Structure(8, "Far away", (square(AXIAL, 60.5, 60.5, 3, 3),)),   # off the grid
        point,
    ]
    out = write_structure_set(structures, pt, tmp_path / "rs.dcm")
    ds = pydicom.dcmread(out)                   # make structure 9 a POINT, 6 gets a line
    ds.ROIContourSequence[5].ContourSequence[0].ContourGeometricType = "POINT"
    line = pydicom.Dataset()
    line.ContourGeometricType = "OPEN_PLANAR"
    line.NumberOfContourPoints = 2
    line.ContourData = [0.0, 0.0, -20.19, 4.0, 4.0, -20.19]
    ds.ROIContourSequence[2].ContourSequence.append(line)
    ds.save_as(out)
    with pytest.warns(UserWarning) as caught:
        labels, table = import_rtstruct(out, pt)
    text = "\n".join(str(w.message) for w in caught)
    assert "ROI 4 'BODY' left out" in text
    assert "ROI 7 'liver copy' is a second liver structure" in text
    assert "ROI 8 'Far away' left out: no voxel centre on the PET grid" in text
    assert "ROI 6 'Lesion A': 1 OPEN_PLANAR contour(s) ignored" in text
    assert "ROI 9 'Marker' left out" in text           # MARKER type
    # overlap: liver covers centres 2..7, the lesion 5..10 (both axes): 3 x 3 change hands
    assert "overlap in 9 voxel(s)" in text
    got = sitk.GetArrayFromImage(labels)
    assert table["label"].tolist() == [2, 6] and table["roi"].tolist() == ["liver", "lesion"]
    assert int((got == 2).sum()) == 36 - 9 and int((got == 6).sum()) == 36
    assert table["reader"].tolist() == ["unknown", "unknown"]


def test_kinds_override_and_reader_from_operator(tmp_path):
    pt = write_pet(tmp_path / "PT", AXIAL)
    structures = [Structure(1, "Kidney_L", (square(AXIAL, 1.5, 1.5, 4, 3),),
                            interpreted_type="ORGAN"),
                  Structure(2, "Aorta", (square(AXIAL, 8.5, 8.5, 2, 3),), interpreter="Roe^R")]
    out = write_structure_set(structures, pt, tmp_path / "rs.dcm", operator="Doe^Jane",
                              created=CREATED)
    labels, table = import_rtstruct(out, pt, kinds={"kidney_l": "lesion"})
    assert table["roi"].tolist() == ["lesion", "blood_pool"]
    assert table["lesion_id"].tolist() == ["Kidney_L", ""]
    assert table["reader"].tolist() == ["Doe Jane", "Roe R"]
    assert table["created"].tolist() == ["2025-01-09T14:56:30"] * 2
    assert int((sitk.GetArrayFromImage(labels) == 1).sum()) == 16


def edit(path: Path, change) -> Path:
    ds = pydicom.dcmread(path)
    change(ds)
    ds.save_as(path)
    return path


@pytest.fixture
def one_roi(tmp_path):
    pt = write_pet(tmp_path / "PT", AXIAL)
    out = write_structure_set([Structure(1, "Lesion", (square(AXIAL, 2.5, 2.5, 5, 4),))],
                              pt, tmp_path / "rs.dcm")
    return pt, out


def test_another_frame_of_reference_is_refused(one_roi):
    pt, out = one_roi

    def other_frame(ds):
        ds.StructureSetROISequence[0].ReferencedFrameOfReferenceUID = "1.2.3.4"
        ds.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.4"

    edit(out, other_frame)
    with pytest.raises(DicomInputError) as err:
        import_rtstruct(out, pt)
    message = str(err.value)
    assert str(out) in message and "ReferencedFrameOfReferenceUID (3006,0024)" in message
    assert "1.2.3.4" in message and STUDY.frame_of_reference_uid in message
    assert "Fix:" in message
    # onto an image there is no frame of reference to compare: imported
    labels, _ = import_rtstruct(out, empty_image(AXIAL))
    assert int((sitk.GetArrayFromImage(labels) == 1).sum()) == 25


def test_not_an_rtstruct_is_refused(one_roi):
    pt, _ = one_roi
    slice_file = sorted(pt.iterdir())[0]
    with pytest.raises(DicomInputError) as err:
        import_rtstruct(slice_file, pt)
    assert str(slice_file) in str(err.value) and "SOPClassUID (0008,0016)" in str(err.value)
    text_file = pt.parent / "notes.txt"
    text_file.write_text("not dicom")
    with pytest.raises(DicomInputError, match="not a readable DICOM file"):
        import_rtstruct(text_file, pt)


def test_malformed_contours_are_refused(one_roi):
    pt, out = one_roi

    def two_points(ds):
        contour = ds.ROIContourSequence[0].ContourSequence[0]
        contour.ContourData = list(contour.ContourData)[:6]
        contour.NumberOfContourPoints = 2

    edit(out, two_points)
    with pytest.raises(DicomInputError) as err:
        import_rtstruct(out, pt)
    assert str(out) in str(err.value)
    assert "NumberOfContourPoints (3006,0046)" in str(err.value)
    assert "ROI 1 'Lesion', contour 1" in str(err.value) and "2 point(s)" in str(err.value)

    def wrong_count(ds):
        ds.ROIContourSequence[0].ContourSequence[0].NumberOfContourPoints = 5

    edit(out, wrong_count)
    with pytest.raises(DicomInputError, match="NumberOfContourPoints is 5 but ContourData "
                                              "holds 2 points"):
        import_rtstruct(out, pt)

    def tilted(ds):
        contour = ds.ROIContourSequence[0].ContourSequence[0]
        points = np.reshape(np.array(contour.ContourData, float), (-1, 3))[:2]
        points = np.r_[points, points[:1] + [0.0, 8.0, 1.5]]
        contour.ContourData = points.ravel().tolist()
        contour.NumberOfContourPoints = 3

    edit(out, tilted)
    with pytest.raises(DicomInputError, match=r"ContourData \(3006,0050\).*spread 1\.5 mm"):
        import_rtstruct(out, pt)


# ---------------------------------------------------------------------------------------
# Speed: a whole-body grid with 20 structures
# ---------------------------------------------------------------------------------------


def test_whole_body_grid_with_20_structures_is_fast(pet_ct):
    pt, _, tmp = pet_ct
    grid = Grid(size=(200, 200, 300), spacing=(4.0, 4.0, 3.0), origin=(-398.0, -398.0, -900.0))
    radii = np.random.default_rng(0).uniform(8.0, 30.0, 19)
    spheres = [((0.0, 0.0, -500.0), 80.0)] + [      # a liver and 19 lesions apart
        ((-300.0 + 75.0 * (n % 9), 120.0 + 7.0 * n, -800.0 + 300.0 * (n // 9)), float(r))
        for n, r in enumerate(radii)]
    structures = []
    for n, (centre, r) in enumerate(spheres, start=1):
        z = np.arange(centre[2] - r + 1.0, centre[2] + r, 2.0)    # 2 mm CT-like planes
        structures.append(Structure(n, "Liver" if n == 1 else f"Lesion {n}", tuple(
            np.c_[circle(centre[:2], math.sqrt(r * r - (zc - centre[2]) ** 2), 200),
                  np.full(200, zc)] for zc in z)))
    out = write_structure_set(structures, pt, tmp / "wb.dcm")
    reference = empty_image(grid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        start = time.perf_counter()
        labels, table = import_rtstruct(out, reference)
        elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"{elapsed:.2f} s"
    assert len(table) == 20 and table["roi"].iloc[0] == "liver"
    counts = np.bincount(sitk.GetArrayFromImage(labels).ravel(), minlength=21)[1:]
    r = np.array([r for _, r in spheres])
    error = np.abs(counts * 48.0 / (4.0 / 3.0 * math.pi * r**3) - 1)    # 4 x 4 x 3 mm voxels
    assert np.all(error[r >= 15] < 0.03) and np.all(error < 0.2)      # 8 mm balls: 45 voxels


def test_two_single_plane_drawings_far_apart_stay_two_slices():
    """A structure holding two lesions, each drawn on one plane 40 mm apart, covers one PET
    slice per drawing: the plane spacing is capped at the grid's, so the 40 mm gap between
    them is neither filled nor smeared over (found by review: 19 slices before the fix)."""
    from nethelpers.dicom.contour_raster import slice_planes

    planes = slice_planes([32.7, 72.7], 3.27, 40)
    assert np.flatnonzero(planes == 0).tolist() == [10]
    assert np.flatnonzero(planes == 1).tolist() == [22]
    # drawn on every other slice (6.54 mm): the slices between are still filled
    every_other = slice_planes(np.arange(5) * 6.54 + 32.7, 3.27, 40)
    assert (every_other[10:19] >= 0).all() and (every_other[19:] == -1).all()
