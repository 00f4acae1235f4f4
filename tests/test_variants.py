"""The demo writes every real-world variant (nethelpers demo --variants), and each one reads.

Truth: the original demo series; the independent reader is SimpleITK (GDCM) on the files.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import SimpleITK as sitk

from nethelpers.cli import main
from nethelpers.demo.variants import VARIANT_SYNTAXES, write_variants
from nethelpers.demo.variants.spect import SPECT_VARIANTS
from nethelpers.dicom import index_tree, load_pet
from nethelpers.measure import measure_file


@pytest.fixture(scope="module")
def variants(ideal_study, tmp_path_factory):
    out = tmp_path_factory.mktemp("variants") / "variants"
    manifest = json.loads(write_variants(ideal_study, out).read_text())
    return ideal_study, out, {v["variant"]: v for v in manifest["variants"]}, manifest


SPECT_NAMES = {f"spect/{name}" for name in SPECT_VARIANTS}


def test_every_variant_is_written(variants):
    _, _, by_name, manifest = variants
    expected = {"jitter", "enhanced/legacy-converted", "enhanced/enhanced-pet", "seg",
                "rtstruct/on-pet", "rtstruct/on-ct", "seg/overlap-lesion-in-liver",
                "seg/overlap-lesions", "damaged/truncated", "damaged/no-weight",
                "damaged/injection-7h-time-only",
                *(f"compressed/{n}" for n in VARIANT_SYNTAXES), *SPECT_NAMES}
    assert set(by_name) == expected and manifest["skipped"] == []


def _suv(path):
    image, prov = load_pet(path)
    return sitk.GetArrayFromImage(image), prov


@pytest.mark.parametrize("name", [n for n in VARIANT_SYNTAXES if n != "j2k-lossy"])
def test_lossless_copies_give_the_original_suv_bit_for_bit(variants, name):
    root, out, by_name, _ = variants
    entry = by_name[f"compressed/{name}"]
    original, _ = _suv(root / entry["source"])
    copy, prov = _suv(out / entry["path"])
    np.testing.assert_array_equal(copy, original)
    assert not any("lossy" in w for w in prov["warnings"])
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(out / entry["path"])))
    gdcm = sitk.GetArrayFromImage(reader.Execute()).astype(np.float64)
    np.testing.assert_allclose(copy, gdcm * prov["factor"], rtol=2e-6, atol=1e-6)


def test_lossy_copy_is_close_and_says_so(variants):
    root, out, by_name, _ = variants
    entry = by_name["compressed/j2k-lossy"]
    original, _ = _suv(root / entry["source"])
    copy, prov = _suv(out / entry["path"])
    assert np.abs(copy - original).max() <= 0.05 * original.max()
    assert any("lossy" in w.lower() for w in prov["warnings"])


def test_index_of_the_variants_fails_nothing(variants):
    _, out, by_name, _ = variants
    series = index_tree(out, workers=1)
    damaged = series["directory"].str.startswith("damaged/")  # must fail: test_index_suvqc
    assert set(series.loc[damaged, "qc"]) == {"fail"} and damaged.sum() == 3
    refused = series["directory"].str.startswith("spect/refused/")  # test_spect_dicom
    assert set(series.loc[refused, "qc"]) == {"fail"} and refused.sum() == 1
    series = series[~(damaged | refused)]
    assert not (series["qc"] == "fail").any(), series[["directory", "qc_reasons"]]
    jitter = series[series["directory"] == "jitter/PT"].iloc[0]
    assert jitter["qc"] == "warn"
    assert jitter["slice_deviation_mm"] == pytest.approx(by_name["jitter"]["max_deviation_mm"],
                                                         abs=2e-3)


def test_contours_measure_alike(variants):
    root, out, by_name, _ = variants
    pet = root / by_name["seg"]["source"]
    tables = {name: measure_file(pet, out / by_name[name]["path"])[0]
              .set_index(["roi_kind", "roi"]).sort_index()
              for name in ("seg", "rtstruct/on-pet", "rtstruct/on-ct")}
    for name in ("rtstruct/on-pet", "rtstruct/on-ct"):
        np.testing.assert_array_equal(tables[name]["n_voxels"], tables["seg"]["n_voxels"])
        np.testing.assert_array_equal(tables[name]["suv_max"], tables["seg"]["suv_max"])


def test_cli_keeps_a_complete_demo_and_adds_variants(variants, tmp_path, capsys):
    from nethelpers.demo.generate import generate_demo

    study = generate_demo(tmp_path / "one", n_patients=1, seed=3, progress=False)
    before = sorted(p.name for p in (study / "dicom").rglob("*") if p.is_file())
    assert main(["demo", "--out", str(study), "--patients", "1", "--seed", "3",
                 "--if-missing", "--variants", "-q"]) == 0
    assert "kept" in capsys.readouterr().out
    assert sorted(p.name for p in (study / "dicom").rglob("*") if p.is_file()) == before
    assert (study / "variants" / "variants.json").is_file()
