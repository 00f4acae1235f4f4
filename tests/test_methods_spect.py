"""The methods paragraph: the radionuclide, SPECT vs PET detection and the TIO sample size."""

from __future__ import annotations

import pandas as pd

from nethelpers.config import params_from_dict
from nethelpers.methods import methods_paragraph

VERSIONS = {"python": "3.11.7", "nethelpers": "0.1.0"}


def _params():
    return params_from_dict({"study": {"name": "t", "data_root": "."}})


def _write(folder, name, rows):
    (folder / "tables").mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(folder / "tables" / f"{name}.csv", index=False)


def test_a_report_without_spect_says_nothing_of_it(tmp_path):
    _write(tmp_path, "quantification_qc", [
        {"scan_id": "P1-FDG-PETCT", "modality": "PET/CT", "quantity": "SUV", "warnings": ""}])
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    for absent in ("SPECT", "TIO", "exploratory", "culprit"):
        assert absent not in text, absent


def test_spect_measurement_spect_vs_pet_and_tio_are_described(tmp_path):
    warn = "SPECT (99mTc), counts only: counts_* columns and ratios (T/B, MTV), SUV columns empty"
    _write(tmp_path, "quantification_qc", [
        {"scan_id": "P1-DOTATATE-PETCT", "modality": "PET/CT", "quantity": "SUV",
         "warnings": ""},
        {"scan_id": "P1-HYNIC-TOC-SPECTCT", "modality": "SPECT/CT", "quantity": "counts",
         "warnings": warn},
        {"scan_id": "P2-HYNIC-TOC-SPECTCT", "modality": "SPECT/CT", "quantity": "SUV",
         "warnings": "SPECT (99mTc), quantitative (Bq/ml): SUV as for PET"}])
    _write(tmp_path, "mcnemar_dotatate_vs_hynic", [
        {"unit": "lesions", "a": "DOTATATE PET/CT", "b": "HYNIC-TOC SPECT/CT",
         "method": "exact"},
        {"unit": "lesions", "a": "DOTATATE PET/CT", "b": "HYNIC-TOC SPECT/CT",
         "method": "obuchowski"}])
    # the TIO tables of a run: 6 and 3 patients with a culprit had the scan types read
    _write(tmp_path, "tio_detection", [
        {"scan_type": "DOTATATE PET/CT", "measure": "culprit detected", "denominator": 6},
        {"scan_type": "DOTATATE PET/CT", "measure": "false-positive patients (no tumour)",
         "denominator": 9},
        {"scan_type": "FDG PET/CT", "measure": "culprit detected", "denominator": 3}])
    _write(tmp_path, "tio_mcnemar", [{"a": "DOTATATE PET/CT", "b": "FDG PET/CT", "p": 0.5}])
    _write(tmp_path, "tio_clinical", [{"variable": "FGF23 (RU/ml)", "n": 5}])
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert "SPECT/CT was acquired with 99mTc." in text
    assert "Quantitative SPECT (Bq/ml) was converted to SUV" in text
    assert "no SUV, SUL or TLA was given for counts-only SPECT" in text
    assert ("Paired detection by DOTATATE PET/CT and HYNIC-TOC SPECT/CT (patients who had "
            "both) was compared with the exact McNemar test") in text
    assert "exact conditional McNemar test" in text and "Newcombe (1998) method 10" in text
    assert "Bonett–Wright" in text
    # the sample size is the largest culprit denominator (not the no-tumour row's 9)
    assert ("(at most 6 patients with a culprit per scan type) these analyses are "
            "exploratory") in text
    assert text.count("\n\n") == 2                      # still three paragraphs
