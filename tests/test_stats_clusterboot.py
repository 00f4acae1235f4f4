"""Cluster (patient) bootstrap CIs of kappa and ICC, and the named kappa weighting.

Truth: statsmodels for the unclustered kappa, a hand two-way ANOVA for the ICC, and a plain
re-computation of every bootstrap replicate (concatenate the drawn patients' lesions, compute
the statistic from scratch) with the documented draw convention.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

from nethelpers.stats import cohen_kappa, icc
from tests.test_comparisons import _hand_icc_a1


def _clustered_calls(seed: int = 3, n_patients: int = 15) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(n_patients):
        for _ in range(int(rng.integers(1, 7))):
            a = int(rng.integers(0, 3))
            b = a if rng.random() < 0.7 else int(rng.integers(0, 3))
            x = rng.normal(5, 2)
            rows.append({"patient": f"P{p:02d}", "a": a, "b": b,
                         "suv_a": x + rng.normal(0, 0.7), "suv_b": x + rng.normal(0, 0.7)})
    return pd.DataFrame(rows)


def _sm(a: np.ndarray, b: np.ndarray, wt: str | None) -> float:
    table = pd.crosstab(a, b).reindex(index=range(3), columns=range(3), fill_value=0)
    if wt is None:
        return float(sm_kappa(table.to_numpy()).kappa)
    return float(sm_kappa(table.to_numpy(), weights=np.arange(3.0), wt=wt).kappa)


def _draws(data: pd.DataFrame, n_boot: int, seed: int) -> list[pd.DataFrame]:
    """The documented convention: sorted clusters, one rng.integers((n_boot, G)) call."""
    labels = np.unique(data["patient"].astype(str))
    draws = np.random.default_rng(seed).integers(0, len(labels), size=(n_boot, len(labels)))
    by = {lab: grp for lab, grp in data.groupby("patient")}
    return [pd.concat([by[labels[j]] for j in row], ignore_index=True) for row in draws]


@pytest.mark.parametrize("weighting", ["unweighted", "linear", "quadratic"])
def test_cluster_kappa_equals_an_independent_recomputation(weighting):
    data = _clustered_calls()
    wt = None if weighting == "unweighted" else weighting
    res = cohen_kappa(data["a"], data["b"], weighting=weighting, categories=range(3),
                      cluster=data["patient"], n_boot=150, seed=11)
    # the estimate is statsmodels' unclustered kappa; the weighting is in the output
    assert res.kappa == pytest.approx(_sm(data["a"], data["b"], wt), abs=1e-12)
    assert res.weighting == weighting and res.weights == weighting
    assert res.n_clusters == 15 and res.n_boot == 150 and res.seed == 11
    assert "cluster bootstrap" in res.method and "15 clusters" in res.ci_method
    reps = np.array([_sm(d["a"], d["b"], wt) for d in _draws(data, 150, 11)])
    lo, up = np.quantile(reps, [0.025, 0.975])
    assert (res.lower, res.upper) == pytest.approx((lo, up), abs=1e-10)
    assert res.se == pytest.approx(reps.std(ddof=1), abs=1e-10)
    # same seed, same numbers
    again = cohen_kappa(data["a"], data["b"], weighting=weighting, categories=range(3),
                        cluster=data["patient"], n_boot=150, seed=11)
    assert (again.lower, again.upper) == (res.lower, res.upper)


def test_duplicated_lesions_narrow_wald_but_not_the_cluster_interval():
    """Five identical copies of each patient's lesion: Wald shrinks by √5, the cluster CI not."""
    data = _clustered_calls().groupby("patient").head(1).reset_index(drop=True)
    copies = pd.concat([data] * 5, ignore_index=True)
    one = cohen_kappa(data["a"], data["b"], cluster=data["patient"], n_boot=300, seed=2)
    five = cohen_kappa(copies["a"], copies["b"], cluster=copies["patient"], n_boot=300, seed=2)
    assert five.kappa == pytest.approx(one.kappa)
    assert (five.lower, five.upper) == pytest.approx((one.lower, one.upper), abs=1e-12)
    wald1 = cohen_kappa(data["a"], data["b"])
    wald5 = cohen_kappa(copies["a"], copies["b"])
    assert wald5.se == pytest.approx(wald1.se / np.sqrt(5), rel=1e-9)
    assert wald1.ci_method.startswith("Wald") and wald1.n_clusters is None


def test_cluster_icc_equals_an_independent_recomputation():
    data = _clustered_calls(seed=5)
    out = icc(data[["suv_a", "suv_b"]], cluster=data["patient"], n_boot=120, seed=4)
    plain = icc(data[["suv_a", "suv_b"]])
    a1 = out.set_index("mcgraw_wong").loc["ICC(A,1)"]
    x = data[["suv_a", "suv_b"]].to_numpy()
    assert a1["icc"] == pytest.approx(_hand_icc_a1(x), abs=1e-12)
    assert list(out["icc"]) == pytest.approx(list(plain["icc"]), abs=1e-14)
    assert (out["n_clusters"] == 15).all() and out["ci_method"].str.contains("cluster").all()
    reps = [_hand_icc_a1(d[["suv_a", "suv_b"]].to_numpy()) for d in _draws(data, 120, 4)]
    lo, up = np.quantile(reps, [0.025, 0.975])
    assert (a1["lower"], a1["upper"]) == pytest.approx((lo, up), abs=1e-9)


def test_cluster_icc_long_format_by_column_name():
    data = _clustered_calls(seed=6).reset_index(names="lesion")
    long = data.melt(id_vars=["lesion", "patient"], value_vars=["suv_a", "suv_b"],
                     var_name="reader", value_name="suv")
    by_name = icc(long, targets="lesion", raters="reader", ratings="suv", cluster="patient",
                  n_boot=100, seed=1)
    by_array = icc(data.set_index("lesion")[["suv_a", "suv_b"]], cluster=data["patient"],
                   n_boot=100, seed=1)
    assert list(by_name["lower"]) == pytest.approx(list(by_array["lower"]), abs=1e-12)
    bad = long.assign(patient=np.where(long["reader"] == "suv_a", long["patient"], "X"))
    with pytest.raises(ValueError, match="more than one 'patient'"):
        icc(bad, targets="lesion", raters="reader", ratings="suv", cluster="patient")


def test_weighting_argument_checks():
    a, b = [0, 1, 2, 2, 1], [0, 1, 1, 2, 2]
    assert cohen_kappa(a, b, weighting="linear").kappa == pytest.approx(
        cohen_kappa(a, b, weights="linear").kappa)
    assert cohen_kappa(a, b, weighting="unweighted").weighting == "unweighted"
    with pytest.raises(ValueError, match="disagree"):
        cohen_kappa(a, b, weights="linear", weighting="quadratic")
    with pytest.raises(ValueError, match="weighting must be"):
        cohen_kappa(a, b, weighting="squared")
    one = cohen_kappa(a, b, cluster=["P"] * 5)   # one patient: the estimate, no interval
    assert one.kappa == pytest.approx(cohen_kappa(a, b).kappa)
    assert np.isnan(one.lower) and "there are 1" in one.note
    with pytest.raises(ValueError, match="no cluster label"):
        cohen_kappa(a, b, cluster=["P", None, "Q", "Q", "P"])


def test_fewer_than_five_patients_give_no_cluster_interval():
    data = _clustered_calls(n_patients=4)
    res = cohen_kappa(data["a"], data["b"], cluster=data["patient"], n_boot=50, seed=1)
    assert res.kappa == pytest.approx(_sm(data["a"], data["b"], None), abs=1e-12)
    assert np.isnan(res.lower) and np.isnan(res.upper)
    assert "needs at least 5 clusters (patients), there are 4" in res.note
    out = icc(data[["suv_a", "suv_b"]], cluster=data["patient"], n_boot=50, seed=1)
    assert out["lower"].isna().all() and out["note"].str.contains("at least 5").all()
