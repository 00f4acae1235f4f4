"""SPECT in the DICOM layer: NM reader, SPECT -> SUV or counts, index, CLI, variants.

Truth is the writer's input; SUV is recomputed here from it (activity x weight / dose
decayed from the injection to the acquisition start), never taken from the code under test.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from nethelpers.cli import main
from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.nmwrite import SPECT_RADIONUCLIDES, SpectSeries, write_spect_series
from nethelpers.demo.variants.spect import SPECT_VARIANTS, write_spect_variants
from nethelpers.dicom import index_tree, load_pet, load_pet_series, summarise_index
from nethelpers.dicom.errors import SeriesError, SuvError
from nethelpers.dicom.suvqc import COUNTS_NOTE
from nethelpers.dicom.volume import load_emission_series
from tests.test_nm_write import GRID, INJECTION, PATIENT, START, STUDY, activity, read_nm, spect

TC_HALF = SPECT_RADIONUCLIDES["99mTc"].half_life_s
LU_HALF = SPECT_RADIONUCLIDES["177Lu"].half_life_s


def suv_factor(weight_kg, dose_bq, injection, start, half_life_s):
    """SUVbw per Bq/ml: weight (g) / dose decayed from injection to acquisition start."""
    decay = (start - injection).total_seconds()
    return weight_kg * 1000.0 / (dose_bq * math.exp(-math.log(2) * decay / half_life_s))


def write_nm(folder: Path, values=None, scanner="siemens_intevo", study=STUDY, **options):
    values = activity() if values is None else values
    info = write_spect_series(values, GRID, PATIENT, study, dw.SCANNERS[scanner],
                              spect(**options), folder)
    return values, info


def array(loaded) -> np.ndarray:
    return sitk.GetArrayFromImage(loaded.image).astype(np.float64)


def test_counts_nm_loads_as_counts_with_spect_provenance(tmp_path):
    values, _ = write_nm(tmp_path / "NM", counts_per_bqml=0.5)
    loaded = load_emission_series(tmp_path / "NM")
    np.testing.assert_array_equal(array(loaded), np.rint(values.astype(np.float64) * 0.5))
    prov = loaded.provenance
    assert (prov["system"], prov["quantity"], prov["units"]) == ("SPECT", "counts", "counts")
    assert (prov["radionuclide"], prov["tracer"]) == ("99mTc", "HYNIC-TOC")
    assert "factor" not in prov and loaded.modality == "NM"
    assert prov["geometry"]["origin_mm"] == pytest.approx(list(GRID.origin))
    assert prov["geometry"]["spacing_mm"] == pytest.approx(list(GRID.spacing))
    assert any("counts-only SPECT" in w for w in prov["warnings"])


def test_quantitative_nm_is_suv_computed_from_the_writer_inputs(tmp_path):
    values, info = write_nm(tmp_path / "NM", quantitative=True)
    _, _, slope, _ = read_nm(info.files[0])
    loaded = load_emission_series(tmp_path / "NM")
    factor = suv_factor(PATIENT.weight_kg, 740e6, INJECTION, START, TC_HALF)
    got = array(loaded)
    assert np.abs(got - values * factor).max() <= (slope / 2) * factor * 1.001 + 1e-6
    prov = loaded.provenance
    assert (prov["system"], prov["quantity"]) == ("SPECT", "SUV")
    assert prov["factor"] == pytest.approx(factor, rel=1e-9)
    assert prov["dose_bq"] == pytest.approx(740e6) and prov["reference_time"] == START.isoformat()
    assert any("MBq" in note for note in prov["nm_mapping"])
    # load_pet_series takes quantitative SPECT too, saying SPECT
    assert load_pet_series(tmp_path / "NM").provenance["system"] == "SPECT"


def test_pt_stored_177lu_spect_is_spect_suv(tmp_path):
    values = activity(peak=3000.0)
    lu = SpectSeries(series_uid_seed="lu", series_number=3, description="xSPECT Quant",
                     series_datetime=START, tracer="DOTATATE", radionuclide="177Lu",
                     half_life_s=LU_HALF, injected_dose_bq=7.4e9, injection=INJECTION,
                     storage="PT", quantitative=True)
    write_spect_series(values, GRID, PATIENT, STUDY, dw.SCANNERS["siemens_intevo"], lu,
                       tmp_path / "PT")
    image, prov = load_pet(tmp_path / "PT")
    factor = suv_factor(PATIENT.weight_kg, 7.4e9, INJECTION, START, LU_HALF)
    got = sitk.GetArrayFromImage(image).astype(np.float64)
    np.testing.assert_allclose(got, values * factor, rtol=1e-4, atol=values.max() * factor / 3e4)
    assert prov["system"] == "SPECT" and prov["quantity"] == "SUV"
    assert (prov["radionuclide"], prov["tracer"]) == ("177Lu", "DOTATATE")
    assert prov["factor"] == pytest.approx(factor, rel=1e-9)


def test_pet_loaders_refuse_counts_spect_naming_file_and_field(tmp_path):
    write_nm(tmp_path / "NM")
    for load in (load_pet_series, load_pet):
        with pytest.raises(SuvError) as caught:
            load(tmp_path / "NM")
        error = caught.value
        assert error.file.endswith("00001.dcm")
        assert error.tag == "RealWorldValueMappingSequence (0040,9096)"
        assert "ratios" in error.fix and "counts-only SPECT" in str(error)


def test_negative_spacing_gives_the_same_volume_and_says_so(tmp_path):
    write_nm(tmp_path / "up", counts_per_bqml=1.0)
    write_nm(tmp_path / "down", counts_per_bqml=1.0, negative_spacing=True)
    up, down = load_emission_series(tmp_path / "up"), load_emission_series(tmp_path / "down")
    np.testing.assert_array_equal(array(up), array(down))
    assert up.image.GetOrigin() == pytest.approx(down.image.GetOrigin())
    assert up.image.GetDirection() == pytest.approx(down.image.GetDirection())
    assert any("negative" in n for n in down.provenance["nm_notes"])


def test_nm_that_is_not_one_volume_is_refused(tmp_path):
    write_nm(tmp_path / "scatter", scatter_window=True)
    with pytest.raises(SeriesError) as caught:
        load_emission_series(tmp_path / "scatter")
    assert caught.value.tag == "EnergyWindowVector (0054,0010)"
    assert "2 energy windows" in caught.value.problem
    write_nm(tmp_path / "planar", extra={"ImageType": ["ORIGINAL", "PRIMARY", "STATIC",
                                                        "EMISSION"]})
    with pytest.raises(SeriesError) as caught:
        load_emission_series(tmp_path / "planar")
    assert caught.value.tag == "ImageType (0008,0008)" and "planar" in caught.value.problem


def test_a_rescale_that_contradicts_the_mapping_is_refused(tmp_path):
    write_nm(tmp_path / "NM", quantitative=True, extra={"RescaleSlope": "2.5"})
    with pytest.raises(SeriesError) as caught:
        load_emission_series(tmp_path / "NM")
    assert caught.value.tag == "RescaleSlope (0028,1053)"


def test_dose_written_in_bq_is_read_as_bq_with_a_warning(tmp_path):
    values, info = write_nm(tmp_path / "NM", quantitative=True)
    ds = pydicom.dcmread(info.files[0])
    ds.RadiopharmaceuticalInformationSequence[0].RadionuclideTotalDose = "740000000"
    ds.save_as(info.files[0])
    prov = load_emission_series(tmp_path / "NM").provenance
    assert prov["dose_bq"] == pytest.approx(740e6)
    assert any("written in Bq" in w for w in prov["warnings"])


def _tree(root: Path) -> dict[str, str]:
    """A tiny tree: NM counts + CT (one study and frame of reference), NM Bq/ml, PT 177Lu."""
    _, nm = write_nm(root / "P1" / "NM")
    ct_grid = Grid((16, 16, 8), (9.6, 9.6, 12.0), GRID.origin)
    ct = dw.CtSeries(series_uid_seed="ct", series_number=2, description="CT",
                     series_datetime=START)
    ct_info = dw.write_ct_series(np.zeros(ct_grid.shape), ct_grid, PATIENT, STUDY,
                                 dw.SCANNERS["siemens_intevo"], ct, root / "P1" / "CT")
    other = dw.Study("1.2.826.0.1.3680043.8.498.7", START, "ACC7", "SPECT", "1.2.826.0.1.9",
                     "Demo", "Ref^Doc")
    _, quant = write_nm(root / "P1" / "NMQ", study=other, scanner="ge_nmct670",
                        quantitative=True)
    lu = SpectSeries(series_uid_seed="lu-tree", series_number=4, description="xSPECT",
                     series_datetime=START, tracer="DOTATATE", radionuclide="177Lu",
                     half_life_s=LU_HALF, injected_dose_bq=7.4e9, injection=INJECTION,
                     storage="PT", quantitative=True)
    lu_info = write_spect_series(activity(), GRID, PATIENT, other,
                                 dw.SCANNERS["siemens_intevo"], lu, root / "P1" / "LU")
    return {"nm": nm.series_uid, "ct": ct_info.series_uid, "quant": quant.series_uid,
            "lu": lu_info.series_uid}


def test_index_lists_spect_with_tracer_radionuclide_and_ct(tmp_path):
    uids = _tree(tmp_path)
    series = index_tree(tmp_path, workers=1).set_index("series_uid")
    nm = series.loc[uids["nm"]]
    assert (nm["modality"], nm["system"], nm["tracer"], nm["radionuclide"]) == (
        "NM", "SPECT/CT", "HYNIC-TOC", "99mTc")
    assert nm["companion_series_uid"] == uids["ct"] and nm["units"] == "counts"
    assert (nm["qc"], nm["qc_reasons"]) == ("warn", COUNTS_NOTE)
    assert nm["n_slices"] == nm["expected_slices"] == GRID.shape[0] and nm["n_files"] == 1
    assert nm["slice_spacing_mm"] == pytest.approx(GRID.spacing[2])
    assert (nm["origin_x"], nm["origin_y"], nm["origin_z"]) == pytest.approx(GRID.origin)
    assert series.loc[uids["ct"], "system"] == "SPECT/CT"
    quant = series.loc[uids["quant"]]
    assert (quant["units"], quant["system"]) == ("BQML", "SPECT")
    assert "SUV:" not in quant["qc_reasons"]            # the SUV rules accept it
    lu = series.loc[uids["lu"]]
    assert (lu["modality"], lu["system"], lu["radionuclide"], lu["tracer"]) == (
        "PT", "SPECT", "177Lu", "DOTATATE")
    text = summarise_index(series.reset_index())
    assert "SPECT tracer: DOTATATE 1 (177Lu), HYNIC-TOC 2 (99mTc)" in text
    assert "PET tracer" not in text


def test_cli_suv_refuses_counts_and_converts_quantitative_spect(tmp_path, capsys):
    write_nm(tmp_path / "counts")
    assert main(["suv", str(tmp_path / "counts"), "-o", str(tmp_path / "c.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "counts-only SPECT" in err and "RealWorldValueMappingSequence" in err
    assert str(tmp_path) not in err                       # no absolute path
    values, _ = write_nm(tmp_path / "quant", quantitative=True)
    assert main(["suv", str(tmp_path / "quant"), "-o", str(tmp_path / "q.nii.gz")]) == 0
    prov = json.loads(capsys.readouterr().out)
    assert prov["system"] == "SPECT" and prov["quantity"] == "SUV"
    suv = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "q.nii.gz")))
    factor = suv_factor(PATIENT.weight_kg, 740e6, INJECTION, START, TC_HALF)
    assert float(suv.max()) == pytest.approx(float(values.max()) * factor, rel=1e-4)


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """The SPECT variants of a small PET written here (fast; same code as write_variants)."""
    root = tmp_path_factory.mktemp("spect-variants")
    pet = dw.PetSeries(series_uid_seed="var-pet", series_number=1, description="PET",
                       series_datetime=START, tracer="DOTATATE", radionuclide="68Ga",
                       half_life_s=4062.6, positron_fraction=0.889, injected_dose_bq=150e6,
                       injection=INJECTION, bed_starts=[START], bed_slices=[(0, 24)],
                       frame_duration_s=120.0)
    grid = Grid((32, 30, 24), (2.4, 2.3, 2.2), (-40.0, -35.0, -20.0))
    dw.write_pet_series(activity(), grid, PATIENT, STUDY, dw.SCANNERS["siemens_vision"], pet,
                        root / "PET")
    return root, {v.name: v for v in write_spect_variants(root / "PET", root)}


def _pet_blocks(root: Path) -> np.ndarray:
    """The PET's Bq/ml averaged over 2x2x2 blocks, with pydicom + numpy (independent)."""
    slices = sorted((pydicom.dcmread(p) for p in (root / "PET").glob("*.dcm")),
                    key=lambda ds: float(ds.ImagePositionPatient[2]))
    volume = np.stack([ds.pixel_array * float(ds.RescaleSlope) for ds in slices])
    nz, ny, nx = (s // 2 for s in volume.shape)
    return volume[:2 * nz, :2 * ny, :2 * nx].reshape(nz, 2, ny, 2, nx, 2).mean(axis=(1, 3, 5))


@pytest.mark.parametrize("name", sorted(SPECT_VARIANTS))
def test_each_variant_reads_back_with_ours_and_an_independent_reader(variants, name):
    root, written = variants
    variant = written[f"spect/{name}"]
    truth = variant.truth
    expected = _pet_blocks(root)
    if truth["refused"]:
        with pytest.raises(SeriesError) as caught:
            load_emission_series(variant.directory)
        assert caught.value.tag == truth["refused_element"]
        return
    loaded = load_emission_series(variant.directory)
    ours = array(loaded)
    if truth["storage"] == "NM":
        independent, _, slope, _ = read_nm(next(variant.directory.glob("*.dcm")))
    else:
        slices = sorted((pydicom.dcmread(p) for p in variant.directory.glob("*.dcm")),
                        key=lambda ds: float(ds.ImagePositionPatient[2]))
        independent = np.stack([ds.pixel_array * float(ds.RescaleSlope) for ds in slices])
        slope = max(float(ds.RescaleSlope) for ds in slices)
    if truth["quantitative"]:
        factor = suv_factor(truth["weight_kg"], truth["injected_dose_bq"],
                            datetime.fromisoformat(truth["injection"]),
                            datetime.fromisoformat(truth["acquisition_start"]),
                            truth["half_life_s"])
        np.testing.assert_allclose(ours, independent * factor, rtol=1e-5, atol=1e-7)
        assert np.abs(independent - expected).max() <= slope / 2 * 1.001 + 1e-3
        assert loaded.provenance["quantity"] == "SUV"
    else:
        np.testing.assert_array_equal(ours, independent)
        np.testing.assert_array_equal(independent, np.rint(expected.astype(np.float32)
                                                           * truth["counts_per_bqml"]))
        assert loaded.provenance["quantity"] == "counts"
    assert loaded.provenance["system"] == "SPECT"
    assert loaded.provenance["radionuclide"] == truth["radionuclide"]


def test_lesion_to_background_ratio_survives_writing_and_reading(tmp_path):
    """A 10:1 sphere blurred at 12 mm FWHM: the ratio read back is the blurred truth's."""
    k, j, i = np.indices(GRID.shape)
    centre = np.array(GRID.shape) / 2
    mm = np.stack([(k - centre[0]) * GRID.spacing[2], (j - centre[1]) * GRID.spacing[1],
                   (i - centre[2]) * GRID.spacing[0]])
    sphere = np.sqrt((mm ** 2).sum(axis=0)) <= 10.0
    truth = np.where(sphere, 50000.0, 5000.0)
    sigma = [12.0 / (2 * math.sqrt(2 * math.log(2))) / s for s in
             (GRID.spacing[2], GRID.spacing[1], GRID.spacing[0])]
    blurred = ndimage.gaussian_filter(truth, sigma, mode="nearest")
    background = np.sqrt((mm ** 2).sum(axis=0)) >= 40.0
    expected = blurred[sphere].max() / blurred[background].mean()
    assert 2.0 < expected < 10.0                       # partial volume: well below 10:1
    write_nm(tmp_path / "NM", values=blurred.astype(np.float32), counts_per_bqml=0.5)
    ours = array(load_emission_series(tmp_path / "NM"))
    independent, _, _, _ = read_nm(tmp_path / "NM" / "00001.dcm")
    ratio_ours = ours[sphere].max() / ours[background].mean()
    ratio_independent = independent[sphere].max() / independent[background].mean()
    assert ratio_ours == pytest.approx(ratio_independent, rel=1e-12)
    assert ratio_ours == pytest.approx(expected, rel=2e-3)   # counts rounding (~2500 counts)


def test_a_ct_in_another_frame_of_reference_is_linked_with_a_warning(tmp_path):
    import dataclasses

    _, nm = write_nm(tmp_path / "P1" / "NM")
    ct_study = dataclasses.replace(STUDY, frame_of_reference_uid="1.2.826.0.1.3680043.8.498.99")
    ct_grid = Grid((16, 16, 8), (9.6, 9.6, 12.0), GRID.origin)
    ct = dw.CtSeries(series_uid_seed="ct-other-for", series_number=2, description="CT",
                     series_datetime=START)
    ct_info = dw.write_ct_series(np.zeros(ct_grid.shape), ct_grid, PATIENT, ct_study,
                                 dw.SCANNERS["siemens_intevo"], ct, tmp_path / "P1" / "CT")
    series = index_tree(tmp_path, workers=1).set_index("series_uid")
    row = series.loc[nm.series_uid]
    assert (row["system"], row["companion_series_uid"]) == ("SPECT/CT", ct_info.series_uid)
    # the independent check: the two files really carry different frames of reference
    nm_for = pydicom.dcmread(nm.files[0], stop_before_pixels=True).FrameOfReferenceUID
    ct_for = pydicom.dcmread(ct_info.files[0], stop_before_pixels=True).FrameOfReferenceUID
    assert nm_for != ct_for
    assert row["qc"] == "warn"
    assert "its CT is in another frame of reference" in row["qc_reasons"]


def test_the_loaded_image_carries_its_scale(tmp_path):
    write_nm(tmp_path / "NM")
    counts = load_emission_series(tmp_path / "NM")
    assert counts.provenance["quantity"] == "counts"
    assert counts.image.GetMetaData("quantity") == "counts"   # figures tell counts by it
    write_nm(tmp_path / "NMQ", quantitative=True)
    assert load_emission_series(tmp_path / "NMQ").image.GetMetaData("quantity") == "SUV"
