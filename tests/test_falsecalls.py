"""Causes of false calls, the visual call × protocol rule table, and the reading parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from nethelpers import falsecalls, readings
from nethelpers.cohort import load_cohort
from nethelpers.config import Params
from nethelpers.configreading import ReadingConfig
from nethelpers.demo import readers
from nethelpers.scores import ScoreRules
from tests.conftest import ROOT

CONFIG = ReadingConfig()

#: The controlled cause each demo spelling family must map to (written here, not computed).
EXPECTED = {"small": "small lesion below resolution", "sstr": "low SSTR expression",
            "fdg": "low FDG avidity", "liver": "masking by background",
            "contrast": "masking by background", "accessory_spleen": "benign lesion",
            "uncinate": "physiological uptake", "lymph_node_mesenteric": "inflammation/infection",
            "bone_spine": "benign lesion", "bone_pelvis": "benign lesion"}


def test_every_demo_spelling_maps_to_its_controlled_cause():
    assert set(readers._SPELLINGS) == set(EXPECTED)
    for key, texts in readers._SPELLINGS.items():
        got = falsecalls.normalise_causes(pd.Series([t.format(d="8") for t in texts]))
        assert list(got["cause"]) == [EXPECTED[key]] * len(texts), key
        assert list(got["cause_text"]) == [t.format(d="8") for t in texts]


def test_the_small_lesion_mm_variants_collapse_into_one_cause():
    texts = pd.Series([f"small lesion ({d} mm) below PET resolution" for d in range(5, 11)])
    got = falsecalls.normalise_causes(texts)
    assert set(got["cause"]) == {"small lesion below resolution"}
    assert got["cause_text"].nunique() == 6


def test_missing_and_unmatched_causes_are_counted_never_dropped():
    texts = pd.Series([None, "  ", "lung nodule of unknown meaning", "small-bowel uptake"],
                      index=[10, 11, 12, 13])
    got = falsecalls.normalise_causes(texts)
    assert list(got.index) == [10, 11, 12, 13]
    assert list(got["cause"]) == ["not recorded", "not recorded", "other", "other"]
    assert falsecalls.unmatched_causes(texts) == ["lung nodule of unknown meaning",
                                                  "small-bowel uptake"]
    named = falsecalls.normalise_causes(pd.Series(["physiological uncinate-process uptake"]))
    assert named.loc[0, "cause_detail"] == "uncinate process"


def test_reading_parameters_refuse_an_unknown_cause_or_region_and_a_bad_pattern():
    with pytest.raises(ValueError, match="cause_rules\\[0\\].cause 'typo'"):
        ReadingConfig(cause_rules=[{"pattern": "x", "cause": "typo"}])
    with pytest.raises(ValueError, match="not a valid regular expression"):
        ReadingConfig(cause_rules=[{"pattern": "(", "cause": "other"}])
    with pytest.raises(ValueError, match="regions"):
        ReadingConfig(site_regions={"liver": "hepar"})


def test_the_template_documents_the_reading_defaults():
    data = yaml.safe_load((ROOT / "parameters" / "study_template.yaml").read_text())
    assert ReadingConfig(**data["reading"]) == CONFIG
    assert Params.model_validate({"study": {"name": "s", "data_root": "."}}).reading == CONFIG


def _lesions() -> pd.DataFrame:
    """Eight hand-made lesion calls of two patients on two scan types."""
    rows = [  # patient, tracer, site, malignant, call, cause
        ("P1", "FDG", "liver", True, "negative", "too small (6mm)"),
        ("P1", "FDG", "liver", True, "positive", ""),
        ("P1", "FDG", "bone_spine", True, "equivocal", ""),
        ("P2", "FDG", "lymph_node_mesenteric", False, "positive", "reactive node"),
        ("P2", "FDG", "liver", False, "negative", ""),
        ("P1", "DOTATATE", "liver", True, "negative", "SSTR-negative, G3"),
        ("P2", "DOTATATE", "uncinate", False, "positive", "physiological uptake, uncinate"),
        ("P2", "DOTATATE", "pancreas", None, "positive", ""),
    ]
    df = pd.DataFrame(rows, columns=["patient_id", "tracer", "site", "malignant", "call",
                                     "cause"])
    df["modality"] = "PET/CT"
    df["scan_id"] = df["patient_id"] + "-" + df["tracer"]
    df["lesion_id"] = [f"{p}-L{i}" for i, p in enumerate(df["patient_id"])]
    df["malignant"] = df["malignant"].astype("boolean")
    df["truth"] = df["malignant"].map({True: "malignant", False: "benign"}).fillna("")
    df["test"] = readings._test(df["call"], "negative")
    return df


def test_cause_counts_and_denominators_match_an_independent_count():
    lesions = _lesions()
    errors = falsecalls.classify_false_calls(readings.false_calls(lesions), CONFIG)
    table = falsecalls.false_call_causes(lesions, errors, CONFIG)
    every = table[table["region"] == "all regions"].set_index(["error", "tracer", "cause"])
    # FDG: malignant read 3 (2 missed: one small, one equivocal without cause); benign 2 (1 FP)
    assert every.loc[("FN", "FDG", "small lesion below resolution"), "numerator"] == 1
    assert every.loc[("FN", "FDG", "not recorded"), "numerator"] == 1
    assert set(every.xs("FDG", level="tracer").loc["FN", "denominator"]) == {3}
    assert every.loc[("FP", "FDG", "inflammation/infection"), ["numerator", "denominator"]
                     ].tolist() == [1, 2]
    # DOTATATE: the lesion without truth is in no denominator
    assert every.loc[("FN", "DOTATATE", "low SSTR expression"), "denominator"] == 1
    assert every.loc[("FP", "DOTATATE", "physiological uptake"), "denominator"] == 1
    # by region, against a plain pandas count
    regional = table[table["region"] != "all regions"]
    fdg_liver_fn = regional[(regional["tracer"] == "FDG") & (regional["region"] == "liver")
                            & (regional["error"] == "FN")]
    assert fdg_liver_fn["numerator"].sum() == 1 and set(fdg_liver_fn["denominator"]) == {2}
    assert table.groupby("region")["numerator"].sum()["all regions"] == len(errors) == 5
    assert falsecalls.error_text(errors, lesions, "FN") == "3 of 4 malignant lesions read"


def _measurements(lesions: pd.DataFrame, suv: list[float], liver: float) -> pd.DataFrame:
    rows = [{"patient_id": r.patient_id, "scan_id": r.scan_id, "tracer": r.tracer,
             "modality": r.modality, "roi": "lesion", "lesion_id": r.lesion_id,
             "suv_max": s, "suv_mean": np.nan} for r, s in zip(lesions.itertuples(), suv,
                                                                 strict=True) if s is not None]
    for scan in lesions[["patient_id", "scan_id", "tracer", "modality"]].drop_duplicates(
            ).itertuples():
        rows.append({"patient_id": scan.patient_id, "scan_id": scan.scan_id,
                     "tracer": scan.tracer, "modality": scan.modality, "roi": "liver",
                     "lesion_id": "", "suv_max": np.nan, "suv_mean": liver})
    return pd.DataFrame(rows)


def test_visual_vs_rule_against_a_hand_built_example():
    lesions = _lesions()
    # liver SUVmean 5 everywhere: above (> 5), at (= 5, not positive), below, not measured
    suv = [7.0, 4.0, 5.0, 9.0, 3.0, 6.0, 2.0, None]
    m = _measurements(lesions, suv, 5.0)
    table = falsecalls.visual_vs_rule(lesions, m, ScoreRules())
    n = table.set_index(["tracer", "call", "rule"])["n"]
    assert n[("FDG", "negative", "above reference")] == 1          # 7 > 5, read negative
    assert n[("FDG", "negative", "at or below reference")] == 1    # 3
    assert n[("FDG", "positive", "at or below reference")] == 1    # 4
    assert n[("FDG", "positive", "above reference")] == 1          # 9
    assert n[("FDG", "equivocal", "at or below reference")] == 1   # 5 = liver: not above
    assert n[("DOTATATE", "positive", "not measured")] == 1
    assert n.groupby(level="tracer").sum().to_dict() == {"DOTATATE": 3, "FDG": 5}
    assert set(table["rule_text"]) == {"SUVmax > 1 × liver SUVmean"}
    disc = falsecalls.discordant_lesions(lesions, m, ScoreRules(), CONFIG)
    # above & counted negative: P1-L0 (7, negative), P1-L5 (6, negative);
    # at/below & read positive: P1-L1 (4), P2-L6 (2); equivocal at 5 counts negative: agrees
    assert disc["lesion_id"].tolist() == ["P1-L5", "P1-L0", "P1-L1", "P2-L6"]
    assert disc["discordance"].tolist()[:2] == ["above reference, read negative"] * 2
    assert disc.loc[0, "suv_max"] == 6.0 and disc.loc[0, "liver_suv_mean"] == 5.0
    assert disc.loc[3, "cause"] == "physiological uptake"


def test_two_vois_of_one_lesion_are_refused():
    lesions = _lesions()
    m = _measurements(lesions, [7.0] * 8, 5.0)
    m = pd.concat([m, m.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match="2 lesion rows for one scan and lesion"):
        falsecalls.visual_vs_rule(lesions, m)


def test_demo_reads_give_varied_spellings_and_every_cause_is_controlled(demo_study):
    reads = pd.read_csv(demo_study / "reads" / "reads.csv", keep_default_na=False)
    texts = pd.Series(reads["cause"].replace("", None).dropna().unique())
    causes = falsecalls.normalise_causes(texts)
    assert falsecalls.unmatched_causes(texts) == []
    assert set(causes["cause"]) <= set(CONFIG.causes) - {"other"}
    assert causes.groupby("cause")["cause_text"].nunique().max() >= 2  # several spellings
    cohort_reads = reads[reads["lesion_id"] != "none"]
    assert (cohort_reads["call"] == "equivocal").any()


def test_demo_false_calls_without_a_cause_are_not_recorded(demo_study, tmp_path):
    from nethelpers.config import load_params
    from tests.conftest import write_demo_params
    params = load_params(write_demo_params(tmp_path / "p.yaml", demo_study, tmp_path / "o",
                                           tmp_path / "q"))
    lesions = readings.lesion_level(load_cohort(params), "R1")
    errors = falsecalls.classify_false_calls(
        readings.false_calls(lesions[lesions["malignant"].notna()]), params.reading)
    blank = errors["cause_text"] == ""
    assert (errors.loc[blank, "cause"] == "not recorded").all()
    assert (errors.loc[~blank, "cause"] != "not recorded").all()
    table = falsecalls.false_call_causes(lesions, errors, params.reading)
    every = table[table["region"] == "all regions"]
    assert every["numerator"].sum() == len(errors)


@pytest.mark.slow
def test_notebook_05_shows_the_false_call_and_subgroup_sections(demo_report):
    out = demo_report["out"]
    tables = out / "tables"
    lesion_reads = pd.read_csv(tables / "lesion_level_results.csv")
    versus = pd.read_csv(tables / "visual_vs_rule.csv")
    assert versus["n"].sum() == len(lesion_reads)
    causes = pd.read_csv(tables / "false_call_causes.csv")
    errors = pd.read_csv(tables / "false_calls.csv", keep_default_na=False)
    every = causes[causes["region"] == "all regions"]
    assert every["numerator"].sum() == len(errors)
    assert set(errors["cause"]) <= {*CONFIG.causes, CONFIG.not_recorded}
    region = pd.read_csv(tables / "detection_by_region.csv")
    malignant = lesion_reads[lesion_reads["malignant"] == True]  # noqa: E712
    every_region = region[region["region"] == "all regions"]
    assert every_region["denominator"].sum() == malignant["test"].notna().sum()
    assert (tables / "visual_vs_rule_discordant.csv").exists()
    page = (out / "05_diagnostic_accuracy.html").read_text()
    for title in ("False positives and false negatives", "The visual call and the protocol",
                  "Accuracy by patient group", "Detection by organ"):
        assert title in page


def test_gallery_selection_takes_the_farthest_from_the_reference_first():
    lesions = _lesions()
    m = _measurements(lesions, [7.0, 4.0, 5.0, 9.0, 3.0, 6.0, 2.0, None], 5.0)
    disc = falsecalls.discordant_lesions(lesions, m)
    chosen = falsecalls.gallery_selection(disc, ScoreRules(), limit=2)
    # |log(x / 5)|: 2 -> 0.92, 7 -> 0.34, 6 -> 0.18, 4 -> 0.22
    assert chosen["lesion_id"].tolist() == ["P2-L6", "P1-L0"]
    assert chosen["caption"].tolist()[1] == (
        "P1-L0 liver (FDG PET/CT), SUVmax 7.0 (liver 5.0), read negative")
    assert falsecalls.gallery_selection(disc, limit=0).empty


def test_discordant_labels_follow_the_call_and_correct_reads_have_no_cause():
    lesions = _lesions()
    m = _measurements(lesions, [7.0, 4.0, 8.0, 9.0, 6.5, 6.0, 2.0, None], 5.0)
    disc = falsecalls.discordant_lesions(lesions, m, ScoreRules(), CONFIG).set_index(
        "lesion_id")
    assert disc.loc["P1-L2", "discordance"] == "above reference, read equivocal"  # FN, 8 > 5
    assert disc.loc["P1-L0", "discordance"] == "above reference, read negative"
    assert disc.loc["P2-L4", "discordance"] == "above reference, read negative"   # benign
    assert disc.loc["P1-L1", "discordance"] == "at or below reference, read positive"
    # false calls keep their cause ("not recorded" when the reader wrote none) ...
    assert disc.loc["P1-L2", "cause"] == "not recorded"
    assert disc.loc["P1-L5", "cause"] == "low SSTR expression"
    assert disc.loc["P2-L6", "cause"] == "physiological uptake"
    # ... a correctly read lesion (benign read negative, malignant read positive) has none
    assert disc.loc["P2-L4", "cause"] == "" and disc.loc["P1-L1", "cause"] == ""
    # every discordance label counts what the cross-table counts in its cell
    table = falsecalls.visual_vs_rule(lesions, m, ScoreRules())
    for (tracer, label), g in disc.groupby(["tracer", "discordance"]):
        rule, call = label.split(", read ")
        cell = table[(table["tracer"] == tracer) & (table["rule"] == rule)
                     & (table["call"] == call)]
        assert int(cell["n"].iloc[0]) == len(g), label
    assert len(disc) == 6
