"""nethelpers.uptakecompare and the NET-only NETPET selection (nethelpers.summaries)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethelpers import summaries
from nethelpers.uptakecompare import uptake_by_tracer


def test_uptake_described_per_tracer_without_a_test():
    rng = np.random.default_rng(2)
    pairs = pd.DataFrame({"patient_id": list("AABBC"),
                          "suv_max_a": rng.uniform(5, 40, 5), "suv_max_b": rng.uniform(1, 9, 5),
                          "lesion_to_liver_a": [3.0, 0.5, 2.0, np.nan, 4.0],
                          "lesion_to_liver_b": [0.8, 1.5, 0.9, 2.0, 1.2],
                          "positive_a": [True, False, True, pd.NA, True],
                          "positive_b": [False, True, False, True, True]})
    table = uptake_by_tracer(pairs, ("DOTATATE", "FDG"))
    assert "p" not in table.columns
    suv = table[table.measurement.str.startswith("SUVmax")].set_index("tracer")
    assert suv.loc["FDG", "median"] == pytest.approx(np.median(pairs.suv_max_b))
    assert suv.loc["DOTATATE", "q1"] == pytest.approx(np.percentile(pairs.suv_max_a, 25))
    ratio = table[table.measurement.str.startswith("lesion-to-liver")].set_index("tracer")
    assert ratio.loc["DOTATATE", ["lesions", "patients", "above_rule", "ruled"]].tolist() == [
        4, 3, 3, 4]
    assert ratio.loc["DOTATATE", "median"] == pytest.approx(2.5)


def test_netpet_only_for_net_patients():
    netpet = pd.DataFrame({"patient_id": list("ABCDE"),
                           "netpet": ["P1", "P5", None, "P2", "P3"]})
    patients = pd.DataFrame({"patient_id": list("ABCDE"),
                             "final_diagnosis": ["NET", "TIO", "none", "NET", None],
                             "grade": ["G1", None, None, "G2", None]})
    kept, excluded = summaries.netpet_net_only(netpet, patients)
    assert kept["patient_id"].tolist() == ["A", "D"]
    ex = excluded.set_index("final_diagnosis")
    assert ex.loc["TIO"].tolist() == [1, 1]
    assert ex.loc["none"].tolist() == [1, 0]
    assert ex.loc["not recorded"].tolist() == [1, 1]
    assert summaries.netpet_by_grade(kept, patients)["patients"].sum() == 2
