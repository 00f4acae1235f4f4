"""nethelpers.staging: staging change counted on a hand-built cohort."""

from __future__ import annotations

import pandas as pd

from nethelpers.staging import staging_change, staging_patients


def _pairs() -> pd.DataFrame:
    # patient, lesion, region, malignant, detected on A, detected on B
    rows = [
        ("P1", "L1", "pancreas", True, True, True),
        ("P1", "L2", "liver", True, True, False),       # A finds the liver: distant on A only
        ("P1", "L3", "liver", True, False, False),
        ("P2", "L1", "lymph nodes", True, True, True),
        ("P2", "L2", "bone", True, False, True),        # B finds bone
        ("P2", "L3", "liver", False, True, True),       # false positives do not stage
        ("P3", "L1", "liver", True, True, True),
        ("P3", "L2", "liver", True, True, pd.NA),       # excluded call on B: not detected
        ("P4", "L1", "bone", False, True, False),       # no malignant lesion: not counted
        ("P5", "L1", "bowel", True, False, False),      # none on both
    ]
    frame = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "region", "malignant",
                                        "test_a", "test_b"])
    return frame.astype({"test_b": "boolean"})


# every patient of _pairs() has a NET; P6 (TIO) and P7 (no diagnosis) are added where needed
PATIENTS = pd.DataFrame({"patient_id": ["P1", "P2", "P3", "P4", "P5", "P6", "P7"],
                         "final_diagnosis": ["NET"] * 5 + ["TIO", pd.NA]})


def test_per_patient_counts_regions_and_categories():
    per = staging_patients(_pairs(), patients=PATIENTS).set_index("patient_id")
    assert list(per.index) == ["P1", "P2", "P3", "P5"]
    assert per.loc["P1", ["detected_a", "detected_b", "a_only", "b_only"]].tolist() == [2, 1, 1, 0]
    assert per.loc["P1", "regions_a_only"] == "liver"
    assert per.loc["P1", ["category_a", "category_b", "change"]].tolist() == [
        "distant", "locoregional", "A higher"]
    assert per.loc["P2", ["a_only", "b_only", "regions_b_only"]].tolist() == [0, 1, "bone"]
    assert per.loc["P2", "change"] == "B higher"
    assert per.loc["P3", ["a_only", "n_regions_a_only", "change"]].tolist() == [1, 0, "same"]
    assert per.loc["P5", ["category_a", "category_b"]].tolist() == ["none", "none"]


def test_change_table_counts_with_denominator():
    per = staging_patients(_pairs(), patients=PATIENTS)
    change = staging_change(per, ("A", "B")).set_index("outcome")
    assert set(change["denominator"]) == {4}
    n = change["numerator"]
    assert n["a lesion detected only with A"] == 2          # P1, P3
    assert n["a lesion detected only with B"] == 1          # P2
    assert n["more lesions detected with A"] == 2
    assert n["a region (organ) detected only with A"] == 1  # P1 liver
    assert n["distant disease detected only with A"] == 1
    assert n["distant disease detected only with B"] == 1   # P2 bone
    assert n["same category"] == 2                          # P3, P5
    assert change.loc["a lesion detected only with A", "patient_ids"] == "P1, P3"


def test_empty_pairs():
    assert staging_patients(_pairs().iloc[:0], patients=PATIENTS).empty
    change = staging_change(staging_patients(_pairs().iloc[:0], patients=PATIENTS), ("A", "B"))
    assert set(change["numerator"]) == {0} and set(change["denominator"]) == {0}


def test_tio_and_undiagnosed_patients_are_left_out_with_the_reason():
    tio = pd.DataFrame([("P6", "T1", "bone", True, True, False),     # phosphaturic tumour
                        ("P7", "L1", "liver", True, False, True)],
                       columns=["patient_id", "lesion_id", "region", "malignant", "test_a",
                                "test_b"]).astype({"test_b": "boolean"})
    pairs = pd.concat([_pairs(), tio], ignore_index=True)
    per = staging_patients(pairs, patients=PATIENTS).set_index("patient_id")
    assert per.loc["P6", "left_out"] == ("final diagnosis TIO: staging change is analysed in "
                                         "NET patients only")
    assert per.loc["P7", "left_out"].startswith("final diagnosis not recorded:")
    assert (per.loc[["P1", "P2", "P3", "P5"], "left_out"] == "").all()
    change = staging_change(per.reset_index(), ("A", "B")).set_index("outcome")
    # the NET counts are those without P6 and P7: P6's bone tumour is no distant disease
    assert n_without(change) == 4
    assert change.loc["distant disease detected only with A", "numerator"] == 1   # P1 only
    assert change.loc["distant disease detected only with B", "numerator"] == 1   # P2 only
    left = change[change.index.str.startswith("left out: ")]
    assert list(left["numerator"]) == [1, 1] and set(left["denominator"]) == {6}
    assert list(left["patient_ids"]) == ["P6", "P7"]


def n_without(change: pd.DataFrame) -> int:
    rows = change[~change.index.str.startswith("left out")]
    assert rows["denominator"].nunique() == 1
    return int(rows["denominator"].iloc[0])
