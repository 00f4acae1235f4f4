"""SUL of Philips CNTS scans: the scanner's SUV factor, the header's weight, our lean body mass.

A Philips series in counts with its SUV scale factor (7053,1000) gave SUVbw but never SUL
("no weight: no SUL") although PatientWeight was there. The check reads the demo's Philips
files with plain pydicom — stored value × RescaleSlope × (7053,1000) found through its
private creator — and multiplies by the lean body mass (Janmahasatian, coded here) over the
weight: the SUL the engine and the cohort run must give.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.dicom import load_pet_series
from nethelpers.dicom.petkeywords import pet_keywords
from nethelpers.dicom.suv import PetHeader, suv_conversion
from nethelpers.quantify import quantify_scan
from nethelpers.scanjobs import ScanJob
from nethelpers.scanmeasures import sul_factor

REFERENCE = Path(__file__).resolve().parent / "data" / "suv_headers"


def janmahasatian_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """Lean body mass (Janmahasatian et al. 2005): 9270 W / (6680 + 216 BMI), women 8780, 244."""
    bmi = weight_kg / height_m**2
    if sex == "M":
        return 9270.0 * weight_kg / (6680.0 + 216.0 * bmi)
    return 9270.0 * weight_kg / (8780.0 + 244.0 * bmi)


def _philips_suv_factor(ds: pydicom.Dataset) -> float:
    block = ds.private_block(0x7053, "Philips PET Private Group")
    return float(block[0x00].value)


@pytest.fixture(scope="module")
def philips(ideal_study):
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv", keep_default_na=False)
    scan = scans[(scans["manufacturer"] == "PHILIPS") & (scans["modality"] == "PET/CT")].iloc[0]
    return ideal_study, scan


def test_philips_cnts_scan_gets_the_sul_of_an_independent_reading(philips):
    study, scan = philips
    folder = study / scan["pet_dir"]
    loaded = load_pet_series(folder)
    assert loaded.provenance["branch"] == ["Units CNTS: Philips SUV scale factor (7053,1000)"]
    header, _ = pet_keywords(loaded.headers[0])
    factor, note = sul_factor(loaded.provenance, header, "lbm")
    assert note == ""
    suv = sitk.GetArrayFromImage(loaded.image)
    checked = 0
    for path in sorted(folder.glob("*.dcm"))[::60]:
        ds = pydicom.dcmread(path)
        assert ds.Units == "CNTS"
        weight, height, sex = float(ds.PatientWeight), float(ds.PatientSize), ds.PatientSex
        suv_bw = ds.pixel_array * float(ds.RescaleSlope) * _philips_suv_factor(ds)
        sul = suv_bw * janmahasatian_kg(weight, height, sex) / weight
        position = [float(v) for v in ds.ImagePositionPatient]
        k = loaded.image.TransformPhysicalPointToIndex(position)[2]
        np.testing.assert_allclose(suv[k] * factor, sul, rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked >= 3
    assert factor == pytest.approx(janmahasatian_kg(weight, height, sex) / weight, rel=1e-12)


def test_the_cohort_run_measures_sul_on_the_philips_scan(philips):
    study, scan = philips
    first = pydicom.dcmread(sorted((study / scan["pet_dir"]).glob("*.dcm"))[0],
                            stop_before_pixels=True)
    weight = float(first.PatientWeight)
    expected = janmahasatian_kg(weight, float(first.PatientSize), first.PatientSex) / weight
    job = ScanJob(scan_id=scan["scan_id"], patient_id=scan["patient_id"],
                  tracer=scan["tracer"], modality=scan["modality"],
                  pet=str(study / scan["pet_dir"]), series_uid=None, rois=str(study / "rois"))
    outcome = quantify_scan(job)
    assert outcome.qc["status"] == "ok", outcome.qc["reason"]
    assert outcome.qc["sul_factor"] == pytest.approx(expected, rel=1e-12)
    assert "no SUL" not in outcome.qc["warnings"]
    rows = outcome.rows
    assert rows["sul_max"].notna().all() and len(rows) > 0
    np.testing.assert_allclose(rows["sul_max"], rows["suv_max"] * expected, rtol=1e-12)


def _published() -> list[dict]:
    return json.loads((REFERENCE / "PHILIPS_CNTS_AND_SUV-instances.json").read_text())


def test_published_philips_header_gives_sul_and_without_weight_says_so():
    instances = _published()
    conv = suv_conversion(PetHeader.from_keywords(instances))
    assert conv.factor == pytest.approx(7.28e-4, rel=1e-12)  # the scanner's own SUV factor
    header = instances[0]
    factor, note = sul_factor(conv.provenance, header, "lbm", height_m=1.60)
    weight = float(header["PatientWeight"])
    assert note == ""
    assert factor == pytest.approx(janmahasatian_kg(weight, 1.60, "F") / weight, rel=1e-12)
    # the weight truly absent: SUVbw still (the scanner's factor), and no SUL, said so
    for inst in instances:
        inst["PatientWeight"] = ""
    bare = suv_conversion(PetHeader.from_keywords(instances))
    assert bare.factor == pytest.approx(7.28e-4, rel=1e-12)
    assert "weight_kg" not in bare.provenance
    assert "PatientWeight" in bare.provenance["body_size"]
    factor, note = sul_factor(bare.provenance, header | {"PatientWeight": ""}, "lbm",
                              height_m=1.60)
    assert math.isnan(factor) and note == "no weight: no SUL"


def test_gml_series_with_a_weight_gets_sul_too():
    # a series stored already as SUVbw (Units GML): SUL = SUV × LBM / weight, weight from it
    instances = _published()
    for inst in instances:
        inst.update(Units="GML", SUVType="BW", PatientSize=1.60)
        inst.pop("PhilipsPETPrivateGroup")
    conv = suv_conversion(PetHeader.from_keywords(instances))
    assert conv.factor == 1.0
    factor, note = sul_factor(conv.provenance, instances[0], "lbm")
    assert note == ""
    assert factor == pytest.approx(janmahasatian_kg(47.0, 1.60, "F") / 47.0, rel=1e-12)
