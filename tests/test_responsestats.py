"""Response statistics: category counts, PET/MR vs PET/CT agreement, recurrence detection.

Every expected number is computed here independently: counts by hand, the Wilson interval
from its formula (Wilson 1927), Clopper-Pearson from scipy's beta quantiles, Cohen's kappa
and the linearly weighted kappa from their definitions (Cohen 1960, 1968) and their
large-sample variance from Fleiss, Cohen & Everitt (1969), written out in numpy below (the
formula of tests/reference/agreement_reference.R).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethelpers.pubformat import pub_table
from nethelpers.responsestats import (
    NOT_CATEGORISED,
    category_agreement,
    category_counts,
    recurrence_detection,
)

Z = stats.norm.ppf(0.975)
CATS = ["CMR", "PMR", "SMD", "PMD"]


def wilson(k: int, n: int, z: float = Z) -> tuple[float, float]:
    """Wilson (1927) score interval, written out."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def kappa_fce(a: list[str], b: list[str], cats: list[str], weights: str) -> tuple[float, float]:
    """(Weighted) kappa and its Fleiss-Cohen-Everitt (1969) large-sample SE, by hand."""
    k = len(cats)
    idx = {c: i for i, c in enumerate(cats)}
    p = np.zeros((k, k))
    for x, y in zip(a, b, strict=True):
        p[idx[x], idx[y]] += 1
    n = p.sum()
    p /= n
    d = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    w = np.eye(k) if weights == "unweighted" else 1 - d / (k - 1)
    r, c = p.sum(axis=1), p.sum(axis=0)
    po, pe = (w * p).sum(), (w * np.outer(r, c)).sum()
    wr, wc = w @ c, w.T @ r
    big_a = w * (1 - pe) - np.add.outer(wr, wc) * (1 - po)
    var = ((p * big_a**2).sum() - (po * pe - 2 * pe + po) ** 2) / (n * (1 - pe) ** 4)
    return (po - pe) / (1 - pe), math.sqrt(var)


# ---------------------------------------------------------------------------------------
# category_counts
# ---------------------------------------------------------------------------------------
def responses() -> pd.DataFrame:
    """DOTATATE PET/CT: 6 patients (2 not categorised); PET/MR: 3, all SMD; FDG: all NA."""
    rows = [("P01", "DOTATATE", "PET/CT", "PMR", ""), ("P02", "DOTATATE", "PET/CT", "PMD", ""),
            ("P03", "DOTATATE", "PET/CT", "PMR", ""), ("P04", "DOTATATE", "PET/CT", None,
                                                       "no follow-up scan"),
            ("P05", "DOTATATE", "PET/CT", "PMR", ""),
            ("P06", "DOTATATE", "PET/CT", None, "no lesion above the liver at baseline"),
            ("P01", "DOTATATE", "PET/MR", "SMD", ""), ("P02", "DOTATATE", "PET/MR", "SMD", ""),
            ("P03", "DOTATATE", "PET/MR", "SMD", ""),
            ("P01", "FDG", "PET/CT", None, "no follow-up scan"),
            ("P02", "FDG", "PET/CT", None, "no follow-up scan")]
    out = pd.DataFrame(rows, columns=["patient_id", "tracer", "modality", "category", "reason"])
    return out.assign(rule_set=np.where(out["tracer"] == "FDG", "percist", "suvmax"))


def test_category_counts_hand_counts_and_wilson_intervals():
    table = category_counts(responses())
    ct = table[(table["tracer"] == "DOTATATE") & (table["modality"] == "PET/CT")]
    # every category kept, zeros too, in order, then the row of the not categorised
    assert list(ct["category"]) == [*CATS, NOT_CATEGORISED]
    assert list(ct["n"]) == [0, 3, 0, 1, 2]
    assert list(ct["denominator"]) == [4, 4, 4, 4, 6] and set(ct["n_patients"]) == {6}
    assert set(ct["rule_set"]) == {"suvmax"}
    for row in ct.iloc[:4].itertuples():
        assert row.proportion == pytest.approx(row.n / 4)
        assert (row.proportion_lower, row.proportion_upper) == pytest.approx(
            wilson(row.n, 4), abs=1e-12)
    na = ct.iloc[4]
    assert np.isnan(na["proportion"])
    assert na["note"] == ("2 of 6 patients not categorised: no follow-up scan (1); no lesion "
                          "above the liver at baseline (1)")


def test_category_counts_one_category_only_and_all_not_categorised():
    table = category_counts(responses())
    mr = table[table["modality"] == "PET/MR"].set_index("category")
    assert list(mr["n"]) == [0, 0, 3, 0, 0]
    assert mr.loc["SMD", "proportion"] == 1.0
    assert mr.loc["SMD", "proportion_lower"] == pytest.approx(wilson(3, 3)[0])
    assert mr.loc["SMD", "proportion_upper"] == 1.0 and mr.loc["CMR", "proportion_lower"] == 0
    assert mr.loc[NOT_CATEGORISED, "note"] == ""      # every patient has a category
    fdg = table[table["tracer"] == "FDG"].set_index("category")
    assert list(fdg["n"]) == [0, 0, 0, 0, 2] and set(fdg["denominator"][:4]) == {0}
    assert fdg["proportion"][:4].isna().all()
    assert set(fdg["note"][:4]) == {"no patient of this group has a category"}
    assert fdg.loc[NOT_CATEGORISED, "note"].endswith("no follow-up scan (2)")


def test_category_counts_by_tracer_needs_one_row_per_patient():
    with pytest.raises(ValueError, match="patient P01 appears 2 times in tracer DOTATATE"):
        category_counts(responses(), by=("tracer",))
    one = category_counts(responses()[lambda d: d["modality"] == "PET/CT"], by=("tracer",))
    assert list(one.loc[one["tracer"] == "DOTATATE", "n"]) == [0, 3, 0, 1, 2]


def test_category_counts_clopper_pearson_and_level():
    table = category_counts(responses(), method="clopper-pearson", level=0.90)
    row = table[(table["modality"] == "PET/CT") & (table["category"] == "PMR")].iloc[0]
    assert row["proportion_lower"] == pytest.approx(stats.beta.ppf(0.05, 3, 2), abs=1e-10)
    assert row["proportion_upper"] == pytest.approx(stats.beta.ppf(0.95, 4, 1), abs=1e-10)
    assert row["level"] == 0.90 and row["method"] == "clopper-pearson"


def test_category_counts_refuses_what_cannot_be_right_and_takes_an_empty_table():
    with pytest.raises(ValueError, match="no column 'modality'"):
        category_counts(responses().drop(columns="modality"))
    with pytest.raises(ValueError, match="'PR'"):
        category_counts(responses().assign(category="PR"))
    empty = category_counts(responses().iloc[:0])
    assert empty.empty and "proportion_lower" in empty.columns


def test_category_counts_formats_with_the_reasons_as_footnotes():
    table = category_counts(responses()[lambda d: d["tracer"] == "DOTATATE"])
    pub = pub_table(table, percent=True)
    assert pub.frame.iloc[1]["Proportion (95% CI)"] == "75.0% (30.1–95.4)"
    lo, hi = wilson(3, 4)
    assert (round(100 * lo, 1), round(100 * hi, 1)) == (30.1, 95.4)
    assert any("no follow-up scan (1)" in f for f in pub.footnotes)


# ---------------------------------------------------------------------------------------
# category_agreement
# ---------------------------------------------------------------------------------------
CT = ["CMR", "PMR", "SMD", "PMD", "PMD", "SMD", "PMR", "SMD", "PMR", "SMD"]
MR = ["CMR", "SMD", "SMD", "PMD", "SMD", "SMD", "PMR", "PMR", "PMR", "SMD"]


def pair_frames(ct=CT, mr=MR, tracer="DOTATATE") -> tuple[pd.DataFrame, pd.DataFrame]:
    ids = [f"P{i:02d}" for i in range(len(ct))]
    return (pd.DataFrame({"patient_id": ids, "tracer": tracer, "modality": "PET/CT",
                          "category": ct}),
            pd.DataFrame({"patient_id": ids, "tracer": tracer, "modality": "PET/MR",
                          "category": mr}))


def test_category_agreement_kappas_against_the_definitions():
    res = category_agreement(*pair_frames())
    t = res.table.set_index("measure")
    assert list(t.index) == ["proportion_agreement", "kappa", "kappa_linear",
                             "responder_proportion_agreement", "responder_kappa"]
    assert set(t["n"]) == {10} and set(t["n_both_scans"]) == {10}
    agree = sum(a == b for a, b in zip(CT, MR, strict=True))
    assert agree == 7
    assert t.loc["proportion_agreement", "estimate"] == 0.7
    assert (t.loc["proportion_agreement", "lower"], t.loc["proportion_agreement", "upper"]) == \
        pytest.approx(wilson(7, 10), abs=1e-12)
    for measure, weights in (("kappa", "unweighted"), ("kappa_linear", "linear")):
        kappa, se = kappa_fce(CT, MR, CATS, weights)
        assert t.loc[measure, "estimate"] == pytest.approx(kappa, abs=1e-12)
        lower, upper = max(-1, kappa - Z * se), min(1, kappa + Z * se)
        assert (t.loc[measure, "lower"], t.loc[measure, "upper"]) == pytest.approx(
            (lower, upper), abs=1e-12)
    # the linear weights by hand: po_w = 1 - mean(|i - j|)/3 over the patients
    dist = [abs(CATS.index(a) - CATS.index(b)) for a, b in zip(CT, MR, strict=True)]
    assert 1 - np.mean(dist) / 3 == pytest.approx(1 - 3 / 30)
    # responders CMR/PMR against SMD/PMD: 2 x 2
    rc = ["R" if c in ("CMR", "PMR") else "N" for c in CT]
    rm = ["R" if c in ("CMR", "PMR") else "N" for c in MR]
    assert t.loc["responder_proportion_agreement", "estimate"] == pytest.approx(0.8)
    kappa, se = kappa_fce(rc, rm, ["R", "N"], "unweighted")
    assert t.loc["responder_kappa", "estimate"] == pytest.approx(kappa, abs=1e-12)
    assert t.loc["responder_kappa", "lower"] == pytest.approx(kappa - Z * se, abs=1e-12)
    assert "linear" in t.loc["kappa_linear", "method"]


def test_category_agreement_crosstab_keeps_every_category():
    ct, mr = pair_frames(ct=["PMR", "SMD", "SMD", "PMD", "SMD"],
                         mr=["PMR", "SMD", "PMD", "PMD", "SMD"])
    cross = category_agreement(ct, mr).crosstab.set_index("PET/CT category")
    assert list(cross.index) == [*CATS, "total"]
    assert list(cross.columns) == ["tracer", "PET/MR CMR", "PET/MR PMR", "PET/MR SMD",
                                   "PET/MR PMD", "total"]
    counts = cross.drop(columns="tracer")
    assert counts.loc["CMR"].tolist() == [0, 0, 0, 0, 0]        # zero row kept
    assert counts.loc["SMD"].tolist() == [0, 0, 2, 1, 3]
    assert counts.loc["total"].tolist() == [0, 1, 2, 2, 5]


def test_category_agreement_too_few_patients_gives_no_number():
    ct, mr = pair_frames()
    mr.loc[4:, "category"] = None                               # 4 judged on both
    res = category_agreement(ct, mr, min_pairs=5)
    assert res.table[["estimate", "lower", "upper"]].isna().all().all()
    assert set(res.table["n"]) == {4} and set(res.table["n_both_scans"]) == {10}
    assert set(res.table["note"]) == {
        "not estimated: needs at least 5 patients with a category on both PET/CT and "
        "PET/MR, there are 4 (6 of 10 with both responses lack a category)"}
    assert res.crosstab.set_index("PET/CT category").loc["total", "total"] == 4
    assert category_agreement(ct, mr, min_pairs=4).table["estimate"].notna().all()


def test_category_agreement_without_petmr_pairs_and_with_one_category():
    ct, mr = pair_frames()
    res = category_agreement(ct, mr.iloc[:0])
    assert set(res.table["n"]) == {0} and res.table["estimate"].isna().all()
    assert res.crosstab.drop(columns=["tracer", "PET/CT category"]).to_numpy().sum() == 0
    same = category_agreement(*pair_frames(ct=["SMD"] * 6, mr=["SMD"] * 6)).table
    t = same.set_index("measure")
    assert t.loc["proportion_agreement", "estimate"] == 1.0
    assert np.isnan(t.loc["kappa", "estimate"]) and "kappa undefined" in t.loc["kappa", "note"]
    assert np.isnan(t.loc["kappa_linear", "estimate"])


def test_perfect_agreement_gives_kappa_one_without_a_degenerate_interval():
    cats = ["CMR", "PMR", "SMD", "PMD", "SMD", "PMR"]
    t = category_agreement(*pair_frames(ct=cats, mr=cats)).table.set_index("measure")
    assert t.loc["kappa", "estimate"] == 1.0 and t.loc["kappa_linear", "estimate"] == 1.0
    assert np.isnan(t.loc["kappa", "lower"]) and np.isnan(t.loc["kappa", "upper"])
    assert "Wald SE is 0 at perfect agreement" in t.loc["kappa", "note"]
    # the proportion of agreement keeps its Wilson interval; at x = n = 6 the Wilson lower
    # bound (p + z²/2n - z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n) reduces to n / (n + z²)
    z = stats.norm.ppf(0.975)
    assert t.loc["proportion_agreement", "lower"] == pytest.approx(6 / (6 + z * z), rel=1e-9)


def test_category_agreement_per_tracer_and_refusals():
    ct, mr = pair_frames()
    fct, fmr = pair_frames(ct=["PMD"] * 3, mr=["PMD"] * 3, tracer="FDG")
    res = category_agreement(pd.concat([ct, fct]), pd.concat([mr, fmr]))
    assert list(dict.fromkeys(res.table["tracer"])) == ["DOTATATE", "FDG"]
    assert res.table.loc[res.table["tracer"] == "FDG", "estimate"].isna().all()
    with pytest.raises(ValueError, match="petmr: has rows of modality PET/CT"):
        category_agreement(ct, ct)
    with pytest.raises(ValueError, match="patient P00 appears 2 times"):
        category_agreement(pd.concat([ct, ct]), mr)


# ---------------------------------------------------------------------------------------
# recurrence_detection
# ---------------------------------------------------------------------------------------
def study() -> dict[str, pd.DataFrame]:
    """Ten patients with a DOTATATE PET/CT follow-up and what each one tests."""
    scans, lesions, reads = [], [], []

    def scan(p, tp, tracer="DOTATATE", modality="PET/CT", day=0):
        sid = f"{p}-{tracer}-{modality}-{tp}"
        scans.append((sid, p, tracer, modality, pd.Timestamp("2024-01-01")
                      + pd.Timedelta(days=day), tp))
        return sid

    def lesion(p, lid, malignant, first):
        lesions.append((p, lid, malignant, first))

    def read(sid, lid, call, reader="R1"):
        reads.append((sid, lid, reader, call))

    def pair(p):
        return scan(p, "baseline"), scan(p, "FU1", day=150)

    b, f = pair("P01")                 # TP: L2 new, malignant, called
    lesion("P01", "P01-L1", True, "baseline")
    lesion("P01", "P01-L2", True, "follow-up 1")
    read(b, "P01-L1", "positive")
    read(f, "P01-L1", "positive")
    read(f, "P01-L2", "positive")
    b, f = pair("P02")                 # TN: both lesions seen at baseline (one equivocal)
    lesion("P02", "P02-L1", True, "BL")
    lesion("P02", "P02-L2", True, "baseline")
    read(b, "P02-L1", "positive")
    read(b, "P02-L2", "equivocal")
    read(f, "P02-L1", "positive")
    read(f, "P02-L2", "positive")
    b, f = pair("P03")                 # FN: new malignant lesion not called
    lesion("P03", "P03-L1", True, "follow-up 1")
    read(b, "none", "negative")
    read(f, "none", "negative")
    b, f = pair("P04")                 # FP: the new lesion is benign
    lesion("P04", "P04-L1", False, "follow-up 1")
    read(b, "none", "negative")
    read(f, "P04-L1", "positive")
    b, f = pair("P05")                 # FP: missed at baseline, called at follow-up
    lesion("P05", "P05-L1", True, "baseline")
    read(b, "P05-L1", "negative")
    read(f, "P05-L1", "positive")
    b, f = pair("P06")                 # new malignant lesion called equivocal
    lesion("P06", "P06-L1", True, "FU1")
    read(b, "none", "negative")
    read(f, "P06-L1", "equivocal")
    b, f = pair("P07")                 # follow-up not read by R1 (R2 read it)
    lesion("P07", "P07-L1", True, "follow-up 1")
    read(b, "none", "negative")
    read(f, "P07-L1", "positive", reader="R2")
    f = scan("P08", "FU1", day=150)    # no baseline of this series
    lesion("P08", "P08-L1", True, "follow-up 1")
    read(f, "P08-L1", "positive")
    b, f = pair("P09")                 # the only new lesion's truth is pending
    lesion("P09", "P09-L1", None, "follow-up 1")
    read(b, "none", "negative")
    read(f, "P09-L1", "positive")
    b, f = pair("P10")                 # a VOI at baseline makes the lesion known
    lesion("P10", "P10-L1", True, "baseline")
    read(b, "none", "negative")
    read(f, "P10-L1", "positive")
    b, f = scan("P01", "baseline", "FDG"), scan("P01", "FU1", "FDG", day=151)
    read(b, "none", "negative")        # FDG of P01: recurrence missed: FN
    read(f, "none", "negative")
    vois = pd.DataFrame({"scan_id": ["P10-DOTATATE-PET/CT-baseline"] * 2,
                         "lesion_id": ["P10-L1", "P10-L1"], "roi": ["lesion", "lesion"],
                         "reader": ["R1", "R2"]})
    return {"scans": pd.DataFrame(scans, columns=["scan_id", "patient_id", "tracer",
                                                  "modality", "scan_date", "time_point"]),
            "lesions": pd.DataFrame(lesions, columns=["patient_id", "lesion_id", "malignant",
                                                      "first_time_point"]),
            "reads": pd.DataFrame(reads, columns=["scan_id", "lesion_id", "reader", "call"]),
            "vois": vois}


def detect(equivocal="negative", with_vois=True, **kw):
    s = study()
    return recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R1",
                                equivocal=equivocal, vois=s["vois"] if with_vois else None,
                                **kw)


def test_recurrence_detection_results_per_patient():
    res = detect()
    p = res.patients[res.patients["tracer"] == "DOTATATE"].set_index("patient_id")
    assert p["result"].to_dict() == {
        "P01": "TP", "P02": "TN", "P03": "FN", "P04": "FP", "P05": "FP", "P06": "FN",
        "P07": "", "P08": "", "P09": "", "P10": "TN"}
    assert p.loc["P01", "new_positive"] == "P01-L2" and p.loc["P01", "true_new"] == "P01-L2"
    assert p.loc["P06", "new_equivocal"] == "P06-L1"
    assert p.loc["P07", "note"] == "follow-up scan not read by R1"
    assert p.loc["P08", "note"] == "no baseline scan of this tracer and modality"
    assert p.loc["P09", "note"].startswith("no reference")
    assert pd.isna(p.loc["P09", "truth"]) and bool(p.loc["P09", "test"])
    assert res.patients.set_index(["patient_id", "tracer"]).loc[("P01", "FDG"), "result"] == "FN"


def test_recurrence_detection_sensitivity_specificity_against_wilson():
    res = detect()
    counts = res.counts.set_index("tracer")
    dota = counts.loc["DOTATATE"]
    assert (dota["tp"], dota["fp"], dota["fn"], dota["tn"]) == (1, 2, 2, 2)
    assert (dota["n_not_read"], dota["n_no_baseline"], dota["n_indeterminate"],
            dota["n_no_reference"]) == (1, 1, 0, 1)
    cells = ["tp", "fp", "fn", "tn", "n_not_read", "n_no_baseline", "n_indeterminate",
             "n_no_reference"]
    assert (counts[cells].sum(axis=1) == counts["n_followup_scans"]).all()
    acc = res.accuracy[res.accuracy["tracer"] == "DOTATATE"].set_index("measure")
    assert acc.loc["sensitivity", "estimate"] == pytest.approx(1 / 3)
    assert (acc.loc["sensitivity", "lower"], acc.loc["sensitivity", "upper"]) == \
        pytest.approx(wilson(1, 3), abs=1e-12)
    assert acc.loc["specificity", "estimate"] == pytest.approx(2 / 4)
    assert (acc.loc["specificity", "lower"], acc.loc["specificity", "upper"]) == \
        pytest.approx(wilson(2, 4), abs=1e-12)
    assert (acc.loc["specificity", "numerator"], acc.loc["specificity", "denominator"]) == (2, 4)
    fdg = res.accuracy[res.accuracy["tracer"] == "FDG"].set_index("measure")
    assert fdg.loc["sensitivity", "estimate"] == 0.0
    assert np.isnan(fdg.loc["specificity", "estimate"])    # 0/0: no patient without


@pytest.mark.parametrize(("rule", "result", "cells", "indeterminate"),
                         [("negative", "FN", (1, 2, 2, 2), 0),
                          ("positive", "TP", (2, 2, 1, 2), 0),
                          ("exclude", "", (1, 2, 1, 2), 1)])
def test_recurrence_detection_equivocal_rule(rule, result, cells, indeterminate):
    res = detect(equivocal=rule)
    p = res.patients.set_index(["patient_id", "tracer"])
    assert p.loc[("P06", "DOTATATE"), "result"] == result
    dota = res.counts.set_index("tracer").loc["DOTATATE"]
    assert (dota["tp"], dota["fp"], dota["fn"], dota["tn"]) == cells
    assert dota["n_indeterminate"] == indeterminate and dota["equivocal"] == rule


def test_recurrence_detection_vois_and_time_points():
    without = detect(with_vois=False).patients.set_index(["patient_id", "tracer"])
    assert without.loc[("P10", "DOTATATE"), "result"] == "FP"      # no VOI: new for R1
    s = study()
    s["lesions"].loc[s["lesions"]["lesion_id"] == "P02-L2", "first_time_point"] = "week 12"
    # not a time point (the cohort's load reports it): P02's malignant L2 could be new, so
    # its truth is unknown (was TN); the section goes on (it does not stop the report)
    odd = recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R1")
    p02 = odd.patients.set_index(["patient_id", "tracer"]).loc[("P02", "DOTATATE")]
    assert pd.isna(p02["truth"]) and p02["result"] == ""
    assert "not a time point could be a new malignant lesion" in p02["note"]
    with pytest.raises(ValueError, match="reader 'R9' has no reads; readers: R1, R2"):
        recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R9")
    with pytest.raises(ValueError, match="no column 'first_time_point'"):
        recurrence_detection(s["scans"], s["lesions"].drop(columns="first_time_point"),
                             s["reads"], reader="R1")
    # the truth from the truth column when malignant is absent; a later follow-up is not new
    s = study()
    s["lesions"]["truth"] = s["lesions"]["malignant"].map(
        {True: "malignant", False: "benign"})
    s["lesions"] = s["lesions"].drop(columns="malignant")
    res = recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R1",
                               vois=s["vois"])
    assert res.patients.equals(detect().patients)
    s["lesions"].loc[s["lesions"]["lesion_id"] == "P03-L1", "first_time_point"] = "FU2"
    res = recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R1")
    assert res.patients.set_index("patient_id").loc["P03", "result"] == "TN"


def test_category_counts_by_group_names_a_missing_group():
    data = responses()[lambda d: d["modality"] == "PET/CT"].assign(
        group=["prrt_net", "prrt_net", None, "history_net", "history_net", "history_net",
               "prrt_net", "prrt_net"])
    table = category_counts(data, by=("tracer", "group"))
    dota = table[table["tracer"] == "DOTATATE"]
    assert list(dict.fromkeys(dota["group"])) == ["Not recorded", "history_net", "prrt_net"]
    assert list(dota.loc[dota["group"] == "prrt_net", "n"]) == [0, 1, 0, 1, 0]
    assert list(dota.loc[dota["group"] == "history_net", "n"]) == [0, 1, 0, 0, 2]
    with pytest.raises(ValueError, match="by needs a column"):
        category_counts(data, by=())


def test_recurrence_detection_on_the_demo_follow_up(demo_study):
    """The loaded demo cohort: every follow-up scan judged, truth as the generator wrote it."""
    import csv

    from nethelpers.cohort import load_cohort
    from nethelpers.config import params_from_dict

    params = params_from_dict({"study": {"name": "demo6", "data_root": str(demo_study)}})
    cohort = load_cohort(params)
    res = recurrence_detection(cohort.scans, cohort.lesions, cohort.reads,
                               reader=params.index_test.reader,
                               equivocal=params.index_test.equivocal)
    with open(demo_study / "clinical" / "scans.csv", newline="") as fh:
        follow = sorted(r["scan_id"] for r in csv.DictReader(fh)
                        if r["time_point"] == "follow-up 1")
    with open(demo_study / "truth" / "lesions.csv", newline="") as fh:
        recurred = {r["patient_id"] for r in csv.DictReader(fh)
                    if r["malignant"] == "True" and r["first_time_point"] == "follow-up 1"}
    assert follow, "the demo has follow-up scans"
    p = res.patients
    assert sorted(p["followup_scan_id"]) == follow
    assert (p["note"] == "").all()                      # every follow-up read, baseline too
    assert {r.patient_id: bool(r.truth) for r in p.itertuples()} == {
        pid: pid in recurred for pid in p["patient_id"]}
    counts = res.counts[["tp", "fp", "fn", "tn"]].sum(axis=1)
    assert (counts == res.counts["n_followup_scans"]).all()


def test_recurrence_empty_first_time_point_is_baseline():
    """The lesions table's convention: an empty first_time_point is a baseline lesion."""
    s = study()
    s["lesions"].loc[s["lesions"]["lesion_id"] == "P02-L2", "first_time_point"] = ""
    p02 = recurrence_detection(s["scans"], s["lesions"], s["reads"], reader="R1").patients
    assert p02.set_index(["patient_id", "tracer"]).loc[("P02", "DOTATATE"), "result"] == "TN"
