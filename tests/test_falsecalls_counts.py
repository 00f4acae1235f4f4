"""Counts-only SPECT in the visual-call × rule tables: never a count in an SUV column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nethelpers import falsecalls
from nethelpers.scores import ScoreRules


def _case():
    lesions = pd.DataFrame({
        "patient_id": ["P1", "P2"], "scan_id": ["P1-SPECT", "P2-SPECT"],
        "tracer": ["HYNIC-TOC"] * 2, "modality": ["SPECT/CT"] * 2,
        "lesion_id": ["P1-L01", "P2-L01"], "site": ["liver", "liver"],
        "truth": ["malignant"] * 2, "malignant": [True, True],
        "call": ["negative", "negative"], "test": [False, False], "cause": ["", ""]})
    # P1: counts-only (lesion 300 counts, liver 200 counts); P2: quantitative (SUV 6 vs 4)
    m = pd.DataFrame([
        {"scan_id": "P1-SPECT", "roi": "lesion", "lesion_id": "P1-L01", "quantity": "counts",
         "suv_max": np.nan, "suv_mean": np.nan, "counts_max": 300.0, "counts_mean": 150.0},
        {"scan_id": "P1-SPECT", "roi": "liver", "lesion_id": "", "quantity": "counts",
         "suv_max": np.nan, "suv_mean": np.nan, "counts_max": 260.0, "counts_mean": 200.0},
        {"scan_id": "P2-SPECT", "roi": "lesion", "lesion_id": "P2-L01", "quantity": "SUV",
         "suv_max": 6.0, "suv_mean": 3.0, "counts_max": np.nan, "counts_mean": np.nan},
        {"scan_id": "P2-SPECT", "roi": "liver", "lesion_id": "", "quantity": "SUV",
         "suv_max": 5.0, "suv_mean": 4.0, "counts_max": np.nan, "counts_mean": np.nan}])
    for col, value in (("patient_id", None), ("tracer", "HYNIC-TOC"), ("modality", "SPECT/CT")):
        m[col] = m["scan_id"].str[:2] if value is None else value
    return lesions, m


def test_discordant_counts_lesion_has_its_ratio_and_no_suv():
    lesions, m = _case()
    disc = falsecalls.discordant_lesions(lesions, m, ScoreRules()).set_index("lesion_id")
    # both above the liver (300/200 and 6/4), both read negative: discordant
    assert disc["discordance"].tolist() == ["above reference, read negative"] * 2
    counts, suv = disc.loc["P1-L01"], disc.loc["P2-L01"]
    assert np.isnan(counts["suv_max"]) and np.isnan(counts["liver_suv_mean"])
    assert counts["quantity"] == "counts" and counts["lesion_to_liver"] == 1.5
    assert (suv["suv_max"], suv["liver_suv_mean"], suv["lesion_to_liver"]) == (6.0, 4.0, 1.5)
    assert suv["quantity"] == "SUV"


def test_gallery_captions_say_counts_ratio_on_counts_spect():
    lesions, m = _case()
    disc = falsecalls.discordant_lesions(lesions, m, ScoreRules())
    chosen = falsecalls.gallery_selection(disc, ScoreRules()).set_index("lesion_id")
    assert chosen.loc["P1-L01", "caption"] == (
        "P1-L01 liver (HYNIC-TOC SPECT/CT), counts max / liver mean 1.50, read negative")
    assert chosen.loc["P2-L01", "caption"] == (
        "P2-L01 liver (HYNIC-TOC SPECT/CT), SUVmax 6.0 (liver 4.0), read negative")
    assert "SUV" not in chosen.loc["P1-L01", "caption"]
