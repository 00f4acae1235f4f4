"""nethelpers.pairedaccuracy: PET/MR vs PET/CT paired accuracy against independent counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethelpers.pairedaccuracy import paired_accuracy
from nethelpers.stats.clusteredci import SCORE_METHOD


def _lesions() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    n = 60
    frame = pd.DataFrame({
        "patient_id": [f"P{i % 12:02d}" for i in range(n)],
        "lesion_id": [f"L{i}" for i in range(n)],
        "malignant": rng.random(n) < 0.7,
        "test_a": rng.random(n) < 0.6,
        "test_b": rng.random(n) < 0.8,
    })
    frame["test_b"] = frame["test_b"].astype("boolean")
    frame.loc[5, "test_b"] = pd.NA  # an excluded equivocal call: left out
    return frame


def _patients() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": list("ABCDEFGHIJ"),
                         "disease_present": [True] * 8 + [False] * 2,
                         "test_a": [True, True, True, True, True, True, False, True, False,
                                    True],
                         "test_b": [False, False, False, False, False, True, False, True,
                                    False, False]})


def test_lesion_rows_against_pandas_counts_and_obuchowski_formula():
    lesions = _lesions()
    table = paired_accuracy(lesions, None, ("PET/MR", "PET/CT"))
    kept = lesions.drop(index=5)
    mal = kept[kept.malignant]
    sens = table[(table.unit == "lesions") & (table.measure == "sensitivity")]
    a_row = sens[sens.quantity == "PET/MR"].iloc[0]
    assert (a_row.numerator, a_row.denominator) == (mal.test_a.sum(), len(mal))
    assert a_row.estimate == pytest.approx(mal.test_a.mean())
    b_row = sens[sens.quantity == "PET/CT"].iloc[0]
    assert b_row.numerator == mal.test_b.astype(bool).sum()
    diff = sens[sens.quantity.str.startswith("difference") & sens.primary].iloc[0]
    assert diff.estimate == pytest.approx(mal.test_a.mean() - mal.test_b.astype(float).mean())
    assert diff.method == SCORE_METHOD
    # Obuchowski (1998) statistic by hand: (K-1)/K (ΣD_k)² / ΣD_k², D_k = b_k - c_k
    d_k = (mal.test_a.astype(int) - mal.test_b.astype(int)).groupby(mal.patient_id).sum()
    k = d_k.size
    x2 = (k - 1) / k * d_k.sum() ** 2 / (d_k**2).sum()
    assert diff.statistic == pytest.approx(x2, rel=1e-12)
    assert diff.p == pytest.approx(stats.chi2.sf(x2, 1), rel=1e-12)
    assert (diff.lower > 0 or diff.upper < 0) == (diff.p < 0.05)
    wald = sens[sens.quantity.str.startswith("difference") & ~sens.primary].iloc[0]
    assert "Wald" in wald.method and np.isnan(wald.p)
    # specificity: correct = negative call among benign lesions
    ben = kept[~kept.malignant]
    spec = table[(table.measure == "specificity") & (table.quantity == "PET/CT")].iloc[0]
    assert spec.numerator == (~ben.test_b.astype(bool)).sum()
    assert spec.n_clusters == ben.patient_id.nunique()


def test_patient_rows_exact_mcnemar_against_binomial():
    table = paired_accuracy(_lesions().iloc[:0], _patients(), ("PET/MR", "PET/CT"))
    assert set(table.unit) == {"patients"}
    diff = table[(table.measure == "sensitivity")
                 & table.quantity.str.startswith("difference")].iloc[0]
    # diseased: A only 5 (A..E), B only 0
    assert (diff.a_only, diff.b_only, diff.pairs) == (5, 0, 8)
    assert diff.p == pytest.approx(stats.binomtest(5, 5, 0.5).pvalue, rel=1e-12)
    assert diff.estimate == pytest.approx(7 / 8 - 2 / 8)
    assert "Newcombe" in diff.method and "separate constructions" in diff.note
    spec_a = table[(table.measure == "specificity") & (table.quantity == "PET/MR")].iloc[0]
    assert (spec_a.numerator, spec_a.denominator) == (1, 2)
    assert spec_a.method == "Wilson"
