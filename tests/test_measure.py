"""``nethelpers measure``: one PET and a ROI file (SEG, RTSTRUCT, label image), no study.

Truth: the demo generator's SUV factor (truth/scans.csv) applied by plain pydicom + numpy,
and the numbers of a cohort run (``quantify_scan``) on the same ROIs.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.cli import main
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.seg import export_seg
from nethelpers.measure import MEASURE_COLUMNS, PROVENANCE_COLUMNS, measure_file
from nethelpers.quantify import ScanJob, quantify_scan
from nethelpers.rois import RoiStore

SCAN = "P001-DOTATATE-PETCT"      # Siemens-style BQML, RadiopharmaceuticalStartDateTime
SAME = ["n_voxels", "volume_ml", "suv_max", "suv_mean", "suv_sd", "suv_peak", "mtv_ml",
        "tla", "mtv_percist_ml", "sul_max", "sul_mean", "sul_peak", "tb_liver", "tb_spleen",
        "tb_shell"]


@pytest.fixture(scope="module")
def scan(ideal_study, tmp_path_factory):
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv").set_index("scan_id")
    pet = ideal_study / scans.loc[SCAN, "pet_dir"]
    rois = RoiStore(ideal_study / "rois").load(SCAN)
    tmp = tmp_path_factory.mktemp("measure")
    seg = export_seg(rois.labels, rois.table, pet, tmp / "seg.dcm")
    return {"pet": pet, "rois": rois, "seg": seg, "tmp": tmp, "root": ideal_study,
            "row": scans.loc[SCAN]}


def _independent_suv(pet_dir, factor: float) -> np.ndarray:
    """Stored value x RescaleSlope x the generator's SUV factor, slices sorted along z."""
    slices = []
    for f in sorted(pet_dir.glob("*.dcm")):
        ds = pydicom.dcmread(f)
        z = float(ds.ImagePositionPatient[2])
        slices.append((z, ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope)))
    slices.sort(key=lambda s: s[0])
    return np.stack([s[1] for s in slices]) * factor


def test_seg_numbers_agree_with_pydicom_numpy_and_the_generator(scan):
    rows, prov = measure_file(scan["pet"], scan["seg"])
    truth = pd.read_csv(scan["root"] / "truth" / "scans.csv").set_index("scan_id").loc[SCAN]
    suv = _independent_suv(scan["pet"], float(truth["suv_bw_factor_g_per_bq"]))
    labels = sitk.GetArrayFromImage(scan["rois"].labels)
    voxel_ml = float(np.prod(scan["rois"].labels.GetSpacing())) / 1000.0
    assert len(rows) == len(scan["rois"].table) >= 3
    for _, r in rows.iterrows():
        values = suv[labels == r["label"]]
        assert r["suv_max"] == pytest.approx(values.max(), rel=1e-6)
        assert r["suv_mean"] == pytest.approx(values.mean(), rel=1e-6)
        assert r["volume_ml"] == pytest.approx(values.size * voxel_ml, rel=1e-6)
    assert prov["factor"] == pytest.approx(float(truth["suv_bw_factor_g_per_bq"]), rel=1e-6)
    assert list(rows.columns) == list(MEASURE_COLUMNS + PROVENANCE_COLUMNS)
    assert set(rows["roi_source"]) == {"SEG"} and set(rows["suv_norm"]) == {"bw"}
    named = dict(zip(rows["label"], rows["roi"], strict=True))
    table = scan["rois"].table.set_index("label")
    for label, name in named.items():
        expected = table.loc[label, "lesion_id"] or table.loc[label, "roi"]
        assert name == expected


def test_seg_numbers_equal_a_cohort_run(scan):
    rows, _ = measure_file(scan["pet"], scan["seg"])
    job = ScanJob(scan_id=SCAN, patient_id="P001", tracer="DOTATATE", modality="PET/CT",
                  pet=str(scan["pet"]), series_uid=None, rois=str(scan["root"] / "rois"))
    outcome = quantify_scan(job)
    assert outcome.qc["status"] == "ok"
    cohort = outcome.rows.set_index("label")[SAME].sort_index()
    mine = rows.set_index("label")[SAME].sort_index()
    pd.testing.assert_frame_equal(mine.astype(float), cohort.astype(float))


def test_label_image_with_slicer_segment_names(scan):
    """A 3D Slicer .seg.nrrd (single layer): names give the ROI kinds; numbers as the SEG's."""
    labels = scan["rois"].labels
    table = scan["rois"].table
    image = sitk.Image(labels)
    for i, (_, r) in enumerate(table.iterrows()):
        name = {"liver": "Liver reference", "spleen": "Spleen"}.get(r["roi"], r["lesion_id"])
        image.SetMetaData(f"Segment{i}_Name", name)
        image.SetMetaData(f"Segment{i}_LabelValue", str(int(r["label"])))
        image.SetMetaData(f"Segment{i}_Layer", "0")
    path = scan["tmp"] / "labels.seg.nrrd"
    sitk.WriteImage(image, str(path))
    rows, prov = measure_file(scan["pet"], path)
    by_seg, _ = measure_file(scan["pet"], scan["seg"])
    assert prov["roi_file"]["kind"] == "label image"
    assert set(rows["roi_kind"]) == set(table["roi"])
    pd.testing.assert_frame_equal(rows.set_index("label")[SAME],
                                  by_seg.set_index("label")[SAME])
    plain = scan["tmp"] / "plain.nii.gz"
    sitk.WriteImage(labels, str(plain))
    rows, _ = measure_file(scan["pet"], plain)
    assert set(rows["roi"]) == {f"label-{int(v)}" for v in table["label"]}


def test_label_image_on_another_grid_is_resampled_with_a_note(scan):
    labels = scan["rois"].labels
    coarse = sitk.Resample(labels, [s // 2 for s in labels.GetSize()], sitk.Transform(),
                           sitk.sitkNearestNeighbor, labels.GetOrigin(),
                           [2 * s for s in labels.GetSpacing()], labels.GetDirection(), 0,
                           labels.GetPixelID())
    path = scan["tmp"] / "coarse.nrrd"
    sitk.WriteImage(coarse, str(path))
    rows, _ = measure_file(scan["pet"], path)
    assert rows["warnings"].str.contains("not on the PET grid").all()
    assert rows["warnings"].str.contains("resampled onto it").all()


def test_files_without_contours_are_refused(scan, tmp_path):
    ct = next((scan["pet"].parent / "CT").glob("*.dcm"))
    with pytest.raises(DicomInputError, match="holds no contours") as info:
        measure_file(scan["pet"], ct)
    assert "SOPClassUID (0008,0016)" in str(info.value)
    junk = tmp_path / "notes.txt"
    junk.write_text("not an image")
    with pytest.raises(DicomInputError, match="neither DICOM nor a label image"):
        measure_file(scan["pet"], junk)
    floats = tmp_path / "suv.nii.gz"
    sitk.WriteImage(sitk.Cast(scan["rois"].labels, sitk.sitkFloat32) * 0.5, str(floats))
    with pytest.raises(DicomInputError, match="non-integer"):
        measure_file(scan["pet"], floats)


def test_cli_writes_the_table_and_the_provenance(scan, tmp_path, capsys):
    out = tmp_path / "out" / "lesions.csv"
    assert main(["measure", str(scan["pet"]), str(scan["seg"]), "-o", str(out)]) == 0
    table = pd.read_csv(out)
    direct, _ = measure_file(scan["pet"], scan["seg"])
    np.testing.assert_allclose(table["suv_max"], direct["suv_max"], rtol=1e-12)
    prov = json.loads((tmp_path / "out" / "lesions.provenance.json").read_text())
    assert prov["roi_file"]["kind"] == "SEG" and prov["norm"] == "bw"
    assert f"{len(direct)} ROIs (SEG)" in capsys.readouterr().out
    assert main(["measure", str(scan["pet"]), str(scan["seg"]), "--norm", "lbm"]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert set(printed["suv_norm"]) == {"lbm-janma"}        # Janmahasatian
    np.testing.assert_allclose(printed["suv_max"], direct["sul_max"], rtol=1e-6)
    assert main(["measure", str(scan["pet"]), str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize("source", ["seg", "nifti"])
def test_sr_holds_the_measured_values(scan, tmp_path, source):
    """The SR (TID 1500) read back with plain pydicom holds each ROI's SUVmax, mean, volume."""
    from nethelpers.dicom.sr import read_sr_measurements

    roi_file = scan["seg"]
    if source == "nifti":
        roi_file = tmp_path / "labels.nii.gz"
        sitk.WriteImage(scan["rois"].labels, str(roi_file))
    rows, prov = measure_file(scan["pet"], roi_file, sr=tmp_path / "sr.dcm")
    seg = prov["sr"]["seg"]
    assert (seg == str(scan["seg"])) == (source == "seg")
    ds = pydicom.dcmread(prov["sr"]["sr"])
    assert ds.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    evidence = {str(i.ReferencedSOPInstanceUID)
                for s in ds.CurrentRequestedProcedureEvidenceSequence
                for r in s.ReferencedSeriesSequence for i in r.ReferencedSOPSequence}
    assert str(pydicom.dcmread(seg, stop_before_pixels=True).SOPInstanceUID) in evidence
    values = read_sr_measurements(prov["sr"]["sr"])
    suv = values[values["concept"] == "SUVbw"]
    for _, r in rows.iterrows():
        mine = suv[suv["tracking_id"] == r["roi"]] if source == "seg" else \
            suv[suv["tracking_id"] == f"label-{int(r['label'])}"]
        by = dict(zip(mine["statistic"], mine["value"], strict=True))
        assert by["max"] == pytest.approx(r["suv_max"], rel=1e-12)
        assert by["mean"] == pytest.approx(r["suv_mean"], rel=1e-12)


@pytest.mark.parametrize("on", ["pet", "ct"])
def test_rtstruct_from_a_workstation_gives_the_seg_numbers(scan, on):
    """A reader's ROIs as an RTSTRUCT (drawn on the PET, or on the CT of the same frame of
    reference) measure as the SEG of the same ROIs and as the cohort run."""
    from nethelpers.demo.variants.rtstruct import write_rtstruct

    ct = scan["pet"].parent / "CT"
    path = write_rtstruct(scan["rois"].labels, scan["rois"].table, scan["pet"],
                          scan["tmp"] / f"rtstruct-{on}.dcm", on=on,
                          ct_series_dir=ct if on == "ct" else None)
    rows, prov = measure_file(scan["pet"], path)
    by_seg, _ = measure_file(scan["pet"], scan["seg"])
    assert prov["roi_file"]["kind"] == "RTSTRUCT"
    key = ["roi_kind", "roi"]
    mine = rows.set_index(key)[SAME].sort_index()
    theirs = by_seg.set_index(key)[SAME].sort_index()
    pd.testing.assert_frame_equal(mine, theirs)


def test_rois_import_takes_rtstruct_seg_and_label_images(scan, tmp_path, capsys):
    """`nethelpers rois import` saves any ROI file as a new version of the scan's ROI set."""
    import shutil

    from nethelpers.demo.variants.rtstruct import write_rtstruct

    root = tmp_path / "study"
    shutil.copytree(scan["root"], root, ignore=shutil.ignore_patterns("variants"))
    params = tmp_path / "p.yaml"
    params.write_text(f"study:\n  name: t\n  data_root: {root}\n")
    rtstruct = write_rtstruct(scan["rois"].labels, scan["rois"].table, scan["pet"],
                              tmp_path / "rs.dcm")
    nifti = tmp_path / "labels.nii.gz"
    sitk.WriteImage(scan["rois"].labels, str(nifti))
    store = RoiStore(root / "rois")
    for n, path in enumerate((rtstruct, scan["seg"], nifti), start=2):
        assert main(["rois", "import", SCAN, str(path), "--reader", "R1", "--by", "AB", "-f",
                     str(params)]) == 0                 # into the demo reader R1's set
        version = store.load(SCAN)
        assert version.version.version == n
        assert (version.version.reader, version.version.saved_by) == ("R1", "AB")
        np.testing.assert_array_equal(version.array, sitk.GetArrayViewFromImage(
            scan["rois"].labels))
    assert "RTSTRUCT" in store.load(SCAN, 2).version.note
    assert main(["rois", "import", SCAN, str(scan["pet"] / "00001.dcm"), "--reader", "AB",
                 "-f", str(params)]) == 2
    assert "holds no contours" in capsys.readouterr().err


def test_a_mirrored_label_map_is_refused(scan, tmp_path):
    """The data flipped left-right under an unchanged header (or an LPS map read as RAS):
    the geometry fits, so only anatomy can tell - the liver lands on the patient's left."""
    labels = scan["rois"].labels
    flipped = sitk.GetImageFromArray(sitk.GetArrayFromImage(labels)[:, :, ::-1].copy())
    flipped.CopyInformation(labels)
    path = tmp_path / "flipped.seg.nrrd"
    for i, (_, r) in enumerate(scan["rois"].table.iterrows()):      # Slicer segment names
        flipped.SetMetaData(f"Segment{i}_Name", r["lesion_id"] or r["roi"].title())
        flipped.SetMetaData(f"Segment{i}_LabelValue", str(int(r["label"])))
    sitk.WriteImage(flipped, str(path))
    with pytest.raises(DicomInputError, match="mirrored left-right") as info:
        measure_file(scan["pet"], path)
    assert "situs inversus" in info.value.fix
    straight = tmp_path / "straight.seg.nrrd"
    named = sitk.Image(labels)
    for key in flipped.GetMetaDataKeys():
        named.SetMetaData(key, flipped.GetMetaData(key))
    sitk.WriteImage(named, str(straight))
    assert len(measure_file(scan["pet"], straight)[0]) == len(scan["rois"].table)


def test_structures_left_out_are_listed_with_the_numbers(scan, tmp_path):
    """An RTSTRUCT's BODY outline is left out: the CSV's warnings say so, not only stderr."""
    from nethelpers.demo.variants.rtstruct import write_rtstruct

    path = write_rtstruct(scan["rois"].labels, scan["rois"].table, scan["pet"],
                          tmp_path / "rs.dcm")
    ds = pydicom.dcmread(path)
    ds.StructureSetROISequence[0].ROIName = "BODY"
    ds.RTROIObservationsSequence[0].RTROIInterpretedType = "EXTERNAL"
    ds.save_as(path)
    rows, prov = measure_file(scan["pet"], path)
    assert len(rows) == len(scan["rois"].table) - 1
    assert rows["warnings"].str.contains("BODY").all()
    assert any("BODY" in n for n in prov["roi_file"]["notes"])


def test_clinical_height_serves_every_norm_that_needs_it(scan, tmp_path):
    """No PatientSize in the header: SUVibw needs the clinical height, and gets it (a norm
    list of measure's own once left ibw out). Checked against the Sugawara formula."""
    import shutil

    pet = tmp_path / "PT"
    shutil.copytree(scan["pet"], pet)
    for f in pet.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.PatientSize = None
        ds.save_as(f)
    with pytest.raises(DicomInputError, match="needs the patient's height"):
        measure_file(pet, scan["seg"], norm="ibw")
    bw, _ = measure_file(pet, scan["seg"])
    ibw, prov = measure_file(pet, scan["seg"], norm="ibw", height_m=1.7, sex="M")
    assert prov["height_m"] == 1.7
    ideal_kg = 48.0 + 1.06 * (170.0 - 152.0)        # Sugawara 1999, male
    ratio = ideal_kg / prov["weight_kg"]
    np.testing.assert_allclose(ibw["suv_max"], bw["suv_max"] * ratio, rtol=1e-6)
