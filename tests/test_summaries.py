"""Summary tables of the quantification: hand-made inputs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nethelpers import summaries


def _lesions():
    return pd.DataFrame({
        "patient_id": ["P1", "P1", "P2", "P2", "P3", "P4"],
        "tracer": ["DOTATATE"] * 5 + ["FDG"],
        "modality": ["PET/CT"] * 6,
        "group": ["prrt_net", "prrt_net", "prrt_net", "prrt_net", "prrt_net", "prrt_net"],
        "malignant": [True, True, True, False, True, True],
        "krenning": pd.array([3, 4, 2, 1, pd.NA, pd.NA], dtype="Int64"),
        "site": ["liver", "liver", "bone", "bone", "node", "node"],
        "suv_max": [10.0, 20.0, 6.0, 2.0, 5.0, 8.0],
        "suv_peak": [8.0, 15.0, 5.0, 1.5, 4.0, 7.0],
        "tb_liver": [1.2, 2.5, 0.8, 0.3, np.nan, 3.0],
    })


def test_prrt_eligibility_rule():
    out = summaries.prrt_eligibility(_lesions()).set_index("patient_id")
    # P1: both malignant lesions Krenning >= 3; P2: its malignant lesion is 2 (the benign 1
    # does not count); P3: no scored lesion; P4: FDG only, not on the DOTATATE scan
    assert out["eligible"].to_dict() == {"P1": "yes", "P2": "no", "P3": "not assessable"}
    assert out.loc["P1", "n_krenning_3_4"] == 2 and out.loc["P2", "min_krenning"] == 2


def test_krenning_distribution_counts_and_percentages():
    out = summaries.krenning_distribution(_lesions())
    counts = out.set_index("krenning")["n_lesions"].to_dict()
    assert counts == {"1": 1, "2": 1, "3": 1, "4": 1, "not scored": 1}
    assert out["pct"].sum() == 100.0


def test_uptake_summary_median_and_iqr():
    out = summaries.uptake_summary(_lesions(), ["tracer", "site"]).set_index(["tracer", "site"])
    liver = out.loc[("DOTATATE", "liver")]
    assert liver["n_lesions"] == 2 and liver["n_patients"] == 1
    assert liver["suv_max_median"] == 15.0
    assert liver["suv_max_q1"] == 12.5 and liver["suv_max_q3"] == 17.5   # numpy linear
    node = out.loc[("DOTATATE", "node")]
    assert np.isnan(node["tb_liver_median"])                             # NaN, not 0


def test_liver_reference_and_qc_summaries():
    m = pd.DataFrame({"roi": ["liver"] * 3 + ["lesion"], "tracer": ["FDG"] * 4,
                      "modality": ["PET/CT"] * 4, "suv_mean": [2.0, 2.2, 2.4, 9.0]})
    liver = summaries.liver_reference_summary(m).iloc[0]
    assert (liver["n"], liver["median"], liver["min"], liver["max"]) == (3, 2.2, 2.0, 2.4)
    assert liver["cv_pct"] == pytest.approx(np.std([2.0, 2.2, 2.4], ddof=1) / 2.2 * 100, rel=1e-12)
    qc = pd.DataFrame({"scan_id": ["A", "B", "C"], "status": ["ok", "failed", "ok"],
                       "reason": ["", "SuvError: no dose", ""]})
    out = summaries.qc_summary(qc).set_index("status")
    assert out.loc["ok", "n_scans"] == 2 and out.loc["failed", "reasons"] == "B: SuvError: no dose"
