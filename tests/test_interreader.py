"""Inter-reader agreement (kappa, ICC, cluster CIs) and per-reader accuracy on the demo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import cohens_kappa as sm_kappa

from nethelpers import interreader
from nethelpers.agreement import modality_agreement
from nethelpers.cohort import load_cohort
from nethelpers.config import load_params
from tests.test_cohort import write_params
from tests.test_comparisons import _agreement_pairs, _hand_icc_a1

ORDER = ["negative", "equivocal", "positive"]


@pytest.fixture
def cohort(demo_study, tmp_path):
    return load_cohort(load_params(write_params(tmp_path / "p.yaml", demo_study,
                                                tmp_path / "o")))


def _csv_pairs(study, baseline_only: bool = True) -> pd.DataFrame:
    """Lesions both readers read on one scan, straight from the CSV files.

    The index tests are the baseline scans (the demo's scans.csv records the time point);
    ``baseline_only=False`` keeps the follow-up scans too.
    """
    reads = pd.read_csv(study / "reads" / "reads.csv")
    reads = reads[reads["lesion_id"] != "none"]
    scans = pd.read_csv(study / "clinical" / "scans.csv")
    if baseline_only:
        scans = scans[scans["time_point"] == "baseline"]
    scans = scans[["scan_id", "patient_id", "tracer", "modality"]]
    a, b = (reads[reads["reader"] == r] for r in ("R1", "R2"))
    return a.merge(b, on=["scan_id", "lesion_id"], suffixes=("_a", "_b")).merge(scans,
                                                                               on="scan_id")


def test_pairs_and_agreement_equal_independent_computations(cohort, demo_study):
    pairs = interreader.reader_pairs(cohort, "R1", "R2")
    csv = _csv_pairs(demo_study)
    assert len(pairs) == len(csv) > 20
    # the follow-up scans' pairs (P003, P004) are not index tests: left out
    every = _csv_pairs(demo_study, baseline_only=False)
    assert len(every) > len(csv) and not set(pairs["scan_id"]) - set(csv["scan_id"])
    table = interreader.interreader_agreement(pairs, ("R1", "R2"), weighting="quadratic",
                                              n_boot=200, seed=5)
    for (tracer, modality), g in csv.groupby(["tracer", "modality"]):
        rows = table[(table["tracer"] == tracer) & (table["modality"] == modality)]
        kap = rows[rows["quantity"] == "visual call"].iloc[0]
        counts = pd.crosstab(pd.Categorical(g["call_a"], ORDER),
                             pd.Categorical(g["call_b"], ORDER), dropna=False).to_numpy()
        want = sm_kappa(counts, weights=np.arange(3.0), wt="quadratic").kappa
        if len(g) < 5:   # the 6-patient demo's two HYNIC-TOC SPECT/CTs: too few lesions
            assert np.isnan(kap["estimate"]) and "needs at least 5 lesions" in kap["note"]
            continue
        assert kap["estimate"] == pytest.approx(want, abs=1e-12)
        assert kap["weighting"] == "quadratic" and "quadratic" in kap["method"]
        assert "cluster bootstrap" in kap["method"]
        assert kap["n"] == len(g) and kap["n_patients"] == g["patient_id"].nunique()
        if kap["n_patients"] >= 5:
            assert kap["lower"] <= kap["estimate"] <= kap["upper"]
        else:   # too few patients for a cluster bootstrap: no interval, and the row says so
            assert np.isnan(kap["lower"]) and "needs at least 5 clusters" in kap["note"]
        if tracer in ("DOTATATE", "HYNIC-TOC"):   # SSTR reads carry a Krenning score
            icc_row = rows[rows["quantity"] == "Krenning score"].iloc[0]
            values = g[["krenning_a", "krenning_b"]].to_numpy(dtype=float)
            assert icc_row["estimate"] == pytest.approx(_hand_icc_a1(values), abs=1e-12)
            assert icc_row["statistic"] == "ICC(A,1)" and "cluster" in icc_row["method"]
        else:   # FDG reads carry no Krenning score: no ICC row
            assert set(rows["quantity"]) == {"visual call"}


def test_too_few_pairs_keep_their_row_with_a_note(cohort):
    pairs = interreader.reader_pairs(cohort, "R1", "R2").head(3)
    table = interreader.interreader_agreement(pairs, ("R1", "R2"), n_boot=50, seed=1)
    assert table["estimate"].isna().all()
    assert table["note"].str.contains("needs at least 5 lesions").all()


def test_accuracy_by_reader_counts_each_readers_calls(cohort, demo_study):
    acc = interreader.accuracy_by_reader(cohort, interreader.readers_of(cohort), "negative")
    # the two readers and their consensus (last), each checked against the CSV files below
    assert interreader.readers_of(cohort) == ["R1", "R2", "consensus"]
    assert interreader.independent_readers(cohort) == ["R1", "R2"]
    assert set(acc["reader"]) == {"R1", "R2", "consensus"}
    assert set(acc["unit"]) == {"patient", "lesion"}
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    truth = pd.read_csv(demo_study / "truth" / "lesions.csv")[["lesion_id", "malignant"]]
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    scans = scans.loc[scans["time_point"] == "baseline", ["scan_id", "tracer", "modality"]]
    r = reads.merge(truth, on="lesion_id").merge(scans, on="scan_id")  # index tests only
    lesion = acc[(acc["unit"] == "lesion") & (acc["measure"] == "sensitivity")]
    for row in lesion.itertuples():
        sub = r[(r["reader"] == row.reader) & (r["tracer"] == row.tracer)
                & (r["modality"] == row.modality) & r["malignant"]]
        assert (row.numerator, row.denominator) == ((sub["call"] == "positive").sum(),
                                                    len(sub))
    assert set(lesion["reader"]) == {"R1", "R2", "consensus"}
    assert lesion["cluster_method"].notna().all()


def test_modality_agreement_weighting_and_cluster_bootstrap():
    pairs = _agreement_pairs()
    few = modality_agreement(pairs, ("PET/MR", "PET/CT"), cluster="patient_id",
                             n_boot=100, seed=3).table.iloc[0]
    assert np.isnan(few["kappa_lower"]) and "needs at least 5 clusters" in few["note"]
    # the same lesions in 8 patients (each patient's pairs copied under a new id)
    more = pd.concat([pairs, pairs.assign(patient_id=pairs["patient_id"] + "2")],
                     ignore_index=True)
    plain = modality_agreement(more, ("PET/MR", "PET/CT")).table.iloc[0]
    boot = modality_agreement(more, ("PET/MR", "PET/CT"), cluster="patient_id", n_boot=300,
                              seed=3).table.iloc[0]
    assert boot["kappa"] == pytest.approx(plain["kappa"])
    assert boot["icc_a1"] == pytest.approx(plain["icc_a1"])
    assert "cluster bootstrap" in boot["ci_method"] and plain["ci_method"].startswith("Wald")
    assert boot["kappa_lower"] <= boot["kappa"] <= boot["kappa_upper"]
    assert boot["icc_lower"] <= boot["icc_a1"] <= boot["icc_upper"]
    lin = modality_agreement(pairs, ("PET/MR", "PET/CT"), weighting="linear").table.iloc[0]
    counts = pd.crosstab(pd.Categorical(pairs["call_a"], ORDER),
                         pd.Categorical(pairs["call_b"], ORDER), dropna=False).to_numpy()
    assert lin["kappa"] == pytest.approx(
        sm_kappa(counts, weights=np.arange(3.0), wt="linear").kappa, abs=1e-12)
    assert lin["kappa_weighting"] == "linear" and plain["kappa_weighting"] == "unweighted"


def test_sstr_rads_category_kappa_and_uptake_grade_label(cohort, demo_study):
    from nethelpers.sstrrads import lesion_category

    pairs = interreader.reader_pairs(cohort, "R1", "R2")
    table = interreader.interreader_agreement(pairs, ("R1", "R2"), weighting="quadratic",
                                              n_boot=200, seed=5)
    csv = _csv_pairs(demo_study)
    truth = pd.read_csv(demo_study / "truth" / "lesions.csv")[["lesion_id", "site"]]
    sstr = csv[csv["tracer"] == "DOTATATE"].merge(truth, on="lesion_id")
    for s in ("_a", "_b"):   # the category number by hand from each reader's fields
        sstr["rads" + s] = [int(lesion_category(int(u), c, str(t) == "True",
                                                site.startswith("bone"))[0])
                            for u, c, t, site in zip(sstr["sstr_uptake" + s],
                                                     sstr["anatomic_correlate" + s],
                                                     sstr["site_typical" + s], sstr["site"],
                                                     strict=True)]
    assert "SSTR-RADS uptake scale" not in set(table["quantity"])
    for modality, g in sstr.groupby("modality"):
        rows = table[(table["tracer"] == "DOTATATE") & (table["modality"] == modality)]
        assert "uptake grade (0–4)" in set(rows["quantity"])
        kap = rows[rows["quantity"] == "SSTR-RADS category"].iloc[0]
        cats = [1, 2, 3, 4, 5]
        counts = pd.crosstab(pd.Categorical(g["rads_a"], cats), pd.Categorical(g["rads_b"], cats),
                             dropna=False).to_numpy()
        want = sm_kappa(counts, weights=np.arange(5.0), wt="linear").kappa
        assert kap["weighting"] == "linear" and kap["n"] == len(g)
        assert kap["estimate"] == pytest.approx(want, abs=1e-12)
    # FDG has no SSTR-RADS: no category row
    fdg = table[table["tracer"] == "FDG"]
    assert "SSTR-RADS category" not in set(fdg["quantity"])
