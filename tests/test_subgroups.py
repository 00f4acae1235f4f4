"""Regions of lesion sites and detection by region with cluster-adjusted intervals."""

from __future__ import annotations

import pandas as pd
import pytest

from nethelpers import subgroups
from nethelpers.configreading import ReadingConfig
from nethelpers.stats.accuracy import clustered_proportion_ci


def test_sites_map_to_regions_and_unknown_sites_are_other_and_listed():
    sites = pd.Series(["liver", "Lymph_Node_Mesenteric", "bone_femur", "uncinate",
                       "small_bowel", "kidney", None, " head_sinonasal "])
    got = subgroups.lesion_regions(sites).tolist()
    assert got == ["liver", "lymph nodes", "bone", "pancreas", "bowel", "other", "other",
                   "head and neck"]
    assert subgroups.unknown_sites(sites) == ["(missing)", "kidney"]
    own = ReadingConfig(site_regions={"kidney": "other"}, region_prefixes={})
    assert subgroups.lesion_regions(pd.Series(["bone_femur"]), own).tolist() == ["other"]


def _lesions() -> pd.DataFrame:
    rows = []  # 3 patients: liver lesions detected 1/3, 2/2, 0/1; nodes 2/2; a benign miss
    for patient, hits in (("P1", [1, 0, 0]), ("P2", [1, 1]), ("P3", [0])):
        rows += [(patient, "liver", True, h) for h in hits]
    rows += [("P1", "lymph_node_paraaortic", True, 1), ("P3", "lymph_node_mesenteric", True, 1),
             ("P2", "bone_spine", False, 0), ("P3", "liver", True, None)]
    df = pd.DataFrame(rows, columns=["patient_id", "site", "malignant", "test"])
    df["test"] = df["test"].astype("boolean")
    df["malignant"] = df["malignant"].astype("boolean")
    return df.assign(tracer="DOTATATE", modality="PET/CT")


def test_detection_by_region_equals_the_clustered_estimator_called_directly():
    table = subgroups.detection_by_region(_lesions(), method="wilson", level=0.95)
    assert table["region"].tolist() == ["liver", "lymph nodes", "all regions"]
    liver = table.iloc[0]
    assert (liver["numerator"], liver["denominator"], liver["n_patients"]) == (3, 6, 3)
    ref = clustered_proportion_ci([1, 0, 0, 1, 1, 0], ["P1", "P1", "P1", "P2", "P2", "P3"],
                                  "wilson", 0.95)
    assert liver["estimate"] == pytest.approx(0.5)
    assert (liver["lower"], liver["upper"]) == (ref.effective_lower, ref.effective_upper)
    assert (liver["naive_lower"], liver["naive_upper"]) == (ref.lower, ref.upper)
    assert liver["design_effect"] == ref.design_effect
    assert liver["lower"] < liver["naive_lower"]  # clustering widens this interval
    every = table.iloc[2]
    assert (every["numerator"], every["denominator"]) == (5, 8)  # benign and untested out
    assert "cluster-adjusted" in liver["method"] and liver["method"].startswith("Wilson")


def test_detection_by_region_of_no_malignant_lesion_is_empty_with_columns():
    lesions = _lesions()
    table = subgroups.detection_by_region(lesions[~lesions["malignant"]])
    assert table.empty and {"estimate", "lower", "upper", "denominator"} <= set(table.columns)
