"""TIO three-way comparison (notebook 4): planted tables whose answers are counted by hand.

The planted study: five patients with suspected TIO, each with one culprit (T0x-L01), two
after surgery without a tumour, one NET patient who must never count. Reader R1's calls:

==========  =====================  ====================  =======================
patient     DOTATATE PET/CT        HYNIC-TOC SPECT/CT    FDG PET/CT
==========  =====================  ====================  =======================
T01 (12mm)  culprit +              culprit +             culprit −
T02 (6mm)   culprit +              culprit −             no scan
T03 (8mm)   culprit +              L02 + (elsewhere)     culprit +
T04 (20mm)  L02 + (elsewhere)      culprit +             culprit −
T05 (15mm)  culprit + and L02 +    culprit equivocal     culprit +
T06 (none)  L01 + (benign)         L01 −                 read, nothing called
T07 (none)  read, nothing called   no scan               no scan
N01 (NET)   L01 +                  —                     —
==========  =====================  ====================  =======================
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from nethelpers import readings, scantypes, tiocompare, tiosize, tiouptake
from nethelpers.cohort import load_cohort
from nethelpers.config import load_params
from nethelpers.stats import paired_difference
from tests.test_cohort import write_params, write_study

PATIENTS = """\
patient_id,group,age,sex,weight_kg,height_cm,final_diagnosis,disease_present,reference_standard,grade,ki67,primary_site,fgf23_ru_ml,phosphate_mmol_l
T01,suspected_tio,50,M,80,180,TIO,true,histopathology,,,,400,0.40
T02,suspected_tio,41,F,60,160,TIO,true,histopathology,,,,150,0.60
T03,suspected_tio,62,F,70,170,TIO,true,histopathology,,,,900,0.30
T04,suspected_tio,55,M,90,175,TIO,true,histopathology,,,,250,0.55
T05,suspected_tio,47,F,55,165,TIO,true,histopathology,,,,600,0.35
T06,tio_post_surgery,35,M,75,180,none,false,follow-up,,,,40,1.10
T07,tio_post_surgery,38,F,65,170,none,false,follow-up,,,,35,1.20
N01,suspected_net,60,M,85,178,NET,true,histopathology,G1,2,pancreas,,
"""

_SCAN = "{p}-{t}-{m},{p},{tracer},{modality},2024-01-0{d},,,,,,,"
_TYPES = {"D": ("DOTATATE", "PETCT", "DOTATATE", "PET/CT"),
          "S": ("HYNIC", "SPECTCT", "HYNIC-TOC", "SPECT/CT"),
          "F": ("FDG", "PETCT", "FDG", "PET/CT")}
_HAS = {"T01": "DSF", "T02": "DS", "T03": "DSF", "T04": "DSF", "T05": "DSF", "T06": "DSF",
        "T07": "D", "N01": "D"}


def _scan_id(patient: str, kind: str) -> str:
    t, m, _, _ = _TYPES[kind]
    return f"{patient}-{t}-{m}"


SCANS = ("scan_id,patient_id,tracer,modality,scan_date,study_uid,pet_series_uid,"
         "anat_series_uid,pet_dir,anat_dir,manufacturer,model\n" + "\n".join(
             _SCAN.format(p=p, t=_TYPES[k][0], m=_TYPES[k][1], tracer=_TYPES[k][2],
                          modality=_TYPES[k][3], d=i + 1)
             for p, kinds in _HAS.items() for i, k in enumerate(kinds)) + "\n")

LESIONS = """\
patient_id,lesion_id,site,diameter_mm,truth,malignant,reference_standard
T01,T01-L01,bone_femur,12,malignant,true,histopathology
T02,T02-L01,bone_rib,6,malignant,true,histopathology
T03,T03-L01,soft_tissue_foot,8,malignant,true,histopathology
T03,T03-L02,bone_spine,10,benign,false,follow-up
T04,T04-L01,head_sinonasal,20,malignant,true,histopathology
T04,T04-L02,uncinate,14,physiological,false,follow-up
T05,T05-L01,bone_pelvis,15,malignant,true,histopathology
T05,T05-L02,bone_spine,9,benign,false,follow-up
T06,T06-L01,bone_spine,7,benign,false,follow-up
N01,N01-L01,pancreas,20,malignant,true,histopathology
"""

CALLS = [  # (patient, kind, lesion or "none", call)
    ("T01", "D", "L01", "positive"), ("T01", "S", "L01", "positive"),
    ("T01", "F", "L01", "negative"),
    ("T02", "D", "L01", "positive"), ("T02", "S", "L01", "negative"),
    ("T03", "D", "L01", "positive"), ("T03", "S", "L01", "negative"),
    ("T03", "S", "L02", "positive"), ("T03", "F", "L01", "positive"),
    ("T04", "D", "L01", "negative"), ("T04", "D", "L02", "positive"),
    ("T04", "S", "L01", "positive"), ("T04", "F", "L01", "negative"),
    ("T05", "D", "L01", "positive"), ("T05", "D", "L02", "positive"),
    ("T05", "S", "L01", "equivocal"), ("T05", "F", "L01", "positive"),
    ("T06", "D", "L01", "positive"), ("T06", "S", "L01", "negative"),
    ("T06", "F", "none", "negative"),
    ("T07", "D", "none", "negative"),
    ("N01", "D", "L01", "positive"),
]
READS = "scan_id,lesion_id,reader,call,krenning,confidence,cause\n" + "\n".join(
    f"{_scan_id(p, k)},{'none' if lesion == 'none' else f'{p}-{lesion}'},R1,{call},,4,"
    for p, k, lesion, call in CALLS) + "\n"

DOTA, SPECT, FDG = "DOTATATE PET/CT", "HYNIC-TOC SPECT/CT", "FDG PET/CT"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tio")
    root = write_study(tmp / "study", patients=PATIENTS, scans=SCANS, lesions=LESIONS,
                       reads=READS)
    params = load_params(write_params(tmp / "p.yaml", root, tmp / "out"))
    found = load_cohort(params)
    assert found.exclusions.empty, found.exclusions.to_dict("records")
    return found


def _inputs(cohort, equivocal: str = "negative"):
    lesions = readings.lesion_level(cohort, "R1", equivocal)
    results = readings.patient_level(cohort, "R1", equivocal)
    types = scantypes.pick_scan_types(cohort.scans, cohort.vocabulary)
    cases = tiocompare.tio_cases(cohort)
    return cases, lesions, results, types


@pytest.fixture(scope="module")
def planted(cohort):
    cases, lesions, results, types = _inputs(cohort)
    reads = tiocompare.culprit_reads(cases, lesions, results, types)
    culprits = tiosize.culprit_lesion_reads(cases, lesions, results, types, cohort.lesions)
    return {"cases": cases, "types": types, "reads": reads, "culprits": culprits}


def _wilson(k: int, n: int) -> tuple[float, float]:
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def test_tio_cases_are_the_tio_groups_with_their_culprits(planted):
    cases = planted["cases"].set_index("patient_id")
    assert list(cases.index) == ["T01", "T02", "T03", "T04", "T05", "T06", "T07"]  # no N01
    assert (cases.loc["T01":"T05", "status"] == tiocompare.CULPRIT).all()
    assert (cases.loc[["T06", "T07"], "status"] == tiocompare.NO_TUMOUR).all()
    assert cases.loc["T03", "culprits"] == "T03-L01" and cases.loc["T06", "n_culprits"] == 0
    types = planted["types"]
    assert (types.sstr_pet.label, types.sstr_spect.label, types.fdg_pet.label) == (
        DOTA, SPECT, FDG)


def test_detection_rates_and_wilson_intervals(planted):
    table = tiocompare.detection_rates(planted["reads"], planted["types"])
    rows = table.set_index(["scan_type", "measure"])
    # by hand: DOTATATE T01 T02 T03 T05 of T01-T05; SPECT T01 T04 (T05 equivocal -> negative);
    # FDG T03 T05 of T01 T03 T04 T05 (T02 had no FDG)
    for scan, k, n, ids in ((DOTA, 4, 5, "T01;T02;T03;T05"), (SPECT, 2, 5, "T01;T04"),
                            (FDG, 2, 4, "T03;T05")):
        row = rows.loc[(scan, "culprit detected")]
        assert (row.numerator, row.denominator, row.patient_ids) == (k, n, ids)
        assert row.estimate == pytest.approx(k / n)
        assert (row.lower, row.upper) == pytest.approx(_wilson(k, n), abs=1e-12)
        assert row.method == "wilson" and row.excluded == 0
    # false positives among the patients without a tumour: T06 on DOTATATE only
    fp = {s: rows.loc[(s, "false-positive patients (no tumour)")] for s in (DOTA, SPECT, FDG)}
    assert (fp[DOTA].numerator, fp[DOTA].denominator, fp[DOTA].patient_ids) == (1, 2, "T06")
    assert (fp[SPECT].numerator, fp[SPECT].denominator) == (0, 1)
    assert (fp[FDG].numerator, fp[FDG].denominator) == (0, 1)      # T06's "none" row: negative
    assert (fp[DOTA].lower, fp[DOTA].upper) == pytest.approx(_wilson(1, 2), abs=1e-12)


def test_an_excluded_equivocal_culprit_call_leaves_the_patient_out(cohort):
    cases, lesions, results, types = _inputs(cohort, "exclude")
    reads = tiocompare.culprit_reads(cases, lesions, results, types)
    row = tiocompare.detection_rates(reads, types).set_index(["scan_type", "measure"]).loc[
        (SPECT, "culprit detected")]
    assert (row.numerator, row.denominator, row.excluded) == (2, 4, 1)
    cases, lesions, results, types = _inputs(cohort, "positive")
    reads = tiocompare.culprit_reads(cases, lesions, results, types)
    row = tiocompare.detection_rates(reads, types).set_index(["scan_type", "measure"]).loc[
        (SPECT, "culprit detected")]
    assert (row.numerator, row.denominator) == (3, 5)


def test_paired_exact_mcnemar_and_newcombe(planted):
    table = tiocompare.paired_detection(planted["reads"], planted["types"]).set_index(["a", "b"])
    assert list(table.index) == [(DOTA, SPECT), (DOTA, FDG), (SPECT, FDG)]
    # DOTATATE vs SPECT on T01-T05: both T01; DOTATATE only T02 T03 T05; SPECT only T04
    row = table.loc[(DOTA, SPECT)]
    assert (row.patients, row.both, row.a_only, row.b_only, row.neither) == (5, 1, 3, 1, 0)
    assert row.p == pytest.approx(10 / 16, abs=1e-12)      # 2·P(X <= 1), X ~ Bin(4, 1/2)
    assert row.p == pytest.approx(stats.binomtest(3, 4, 0.5).pvalue, abs=1e-12)
    assert (row.rate_a, row.rate_b, row.difference) == pytest.approx((0.8, 0.4, 0.4))
    lo, hi = _newcombe10(1, 3, 1, 0)
    assert (row.lower, row.upper) == pytest.approx((lo, hi), abs=1e-12)
    assert row.method == "exact" and "conditional" in row.test
    # DOTATATE vs FDG on T01 T03 T04 T05: T01 DOTATATE only, T03 T05 both, T04 neither
    row = table.loc[(DOTA, FDG)]
    assert (row.patients, row.both, row.a_only, row.b_only, row.neither) == (4, 2, 1, 0, 1)
    assert row.p == pytest.approx(stats.binomtest(1, 1, 0.5).pvalue) == 1.0
    # SPECT vs FDG: T01 T04 SPECT only, T03 T05 FDG only
    row = table.loc[(SPECT, FDG)]
    assert (row.both, row.a_only, row.b_only, row.neither) == (0, 2, 2, 0)
    assert row.difference == 0.0 and row.p == pytest.approx(1.0)
    assert (row.lower, row.upper) == pytest.approx(_newcombe10(0, 2, 2, 0), abs=1e-12)


def _newcombe10(a: int, b: int, c: int, d: int, z: float = 1.959963984540054
                ) -> tuple[float, float]:
    """Newcombe (1998) method 10, written out from the paper (independent of the package)."""
    n = a + b + c + d

    def wilson(k: int) -> tuple[float, float]:
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return centre - half, centre + half

    p1, p2 = (a + b) / n, (a + c) / n
    (l1, u1), (l2, u2) = wilson(a + b), wilson(a + c)
    big_a = (a + b) * (c + d) * (a + c) * (b + d)
    big_b = a * d - b * c
    big_c = big_b - n / 2 if big_b > n / 2 else (big_b if big_b < 0 else 0.0)
    phi = big_c / math.sqrt(big_a) if big_a else 0.0
    dl = math.sqrt((p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2)
    du = math.sqrt((u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2)
    return p1 - p2 - dl, p1 - p2 + du


def test_newcombe_and_exact_mcnemar_reproduce_published_values():
    """Cavo et al. (2012) in Fagerland, Lydersen & Laake (2017, ch. 8): a, b, c, d = 59, 6, 16, 80.

    Published: Newcombe square-and-add difference -0.0621 (95 % CI -0.1186 to -0.0046).
    """
    a, b, c, d = 59, 6, 16, 80
    ta = np.repeat([1, 1, 0, 0], [a, b, c, d]).astype(bool)
    tb = np.repeat([1, 0, 1, 0], [a, b, c, d]).astype(bool)
    row = paired_difference(ta, tb, np.ones(ta.size, bool), method="newcombe").iloc[0]
    assert round(row.difference, 4) == -0.0621
    assert (round(row.lower, 4), round(row.upper, 4)) == (-0.1186, -0.0046)
    assert (row.lower, row.upper) == pytest.approx(_newcombe10(a, b, c, d), abs=1e-12)
    reads = pd.DataFrame({"patient_id": np.repeat([f"P{i:03d}" for i in range(ta.size)], 2),
                          "role": np.tile(["sstr_pet", "sstr_spect"], ta.size),
                          "status": tiocompare.CULPRIT,
                          "detected": pd.array(np.column_stack([ta, tb]).ravel(),
                                               dtype="boolean")})
    types = scantypes.ScanTypes(scantypes.ScanType("DOTATATE", "PET/CT"), None, None,
                                scantypes.ScanType("HYNIC-TOC", "SPECT/CT"), None)
    out = tiocompare.paired_detection(reads, types).iloc[0]
    assert out.p == pytest.approx(stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-12)
    assert round(out.p, 4) == 0.0525          # R: binom.test(6, 22)$p.value = 0.05248
    assert (out.lower, out.upper) == pytest.approx((row.lower, row.upper), abs=1e-15)


def test_localisation_on_the_culprit_and_elsewhere(planted):
    table = tiocompare.localisation(planted["reads"], planted["types"]).set_index(
        ["comparison", "measure"])
    # DOTATATE positive: T01 T02 T03 (culprit), T04 (elsewhere only), T05 (culprit + L02)
    assert table.loc[(DOTA, "correct localisation"), ["numerator", "denominator"]].tolist() == [
        4, 5]
    assert table.loc[(DOTA, "false localisation"), "patient_ids"] == "T04"
    assert table.loc[(DOTA, "culprit and elsewhere"), "patient_ids"] == "T05"
    # SPECT positive: T01 T04 on the culprit, T03 on L02 only
    assert table.loc[(SPECT, "correct localisation"), ["numerator", "denominator"]].tolist() == [
        2, 3]
    assert table.loc[(SPECT, "false localisation"), "patient_ids"] == "T03"
    row = table.loc[(SPECT, "correct localisation")]
    assert (row.lower, row.upper) == pytest.approx(_wilson(2, 3), abs=1e-12)
    # positive on both DOTATATE and SPECT: T01 (same culprit), T03 (SPECT elsewhere), T04
    # (DOTATATE elsewhere)
    pair = table.loc[(f"{DOTA} vs {SPECT}", "same culprit")]
    assert (pair.numerator, pair.denominator, pair.patient_ids) == (1, 3, "T01")
    pair = table.loc[(f"{DOTA} vs {FDG}", "same culprit")]
    assert (pair.numerator, pair.denominator) == (2, 2)                 # T03, T05


def test_size_of_the_culprits_detected_and_missed(planted):
    table = tiosize.size_summary(planted["culprits"], planted["types"]).set_index(
        ["scan_type", "status"])
    dota = table.loc[(DOTA, "detected")]          # 12, 6, 8, 15
    assert dota.culprits == 4 and dota["min"] == 6 and dota["max"] == 15
    assert dota["median"] == pytest.approx(np.median([12, 6, 8, 15]))
    assert (dota.q1, dota.q3) == pytest.approx(np.percentile([12, 6, 8, 15], [25, 75]))
    assert table.loc[(DOTA, "missed"), ["culprits", "min"]].tolist() == [1, 20]
    spect = table.loc[(SPECT, "missed")]          # T02 6, T03 8, T05 15 (equivocal)
    assert spect.culprits == 3 and spect["median"] == 8 and spect["min"] == 6
    assert table.loc[(SPECT, "detected"), "min"] == 12   # smallest SPECT-detected culprit
    calls = planted["culprits"].set_index(["scan_type", "patient_id"])["call"]
    assert calls[(SPECT, "T05")] == "equivocal"


def _measurements(quantity: bool) -> pd.DataFrame:
    rows = [  # patient, kind, lesion, suv_max, tb_liver, tb_shell
        ("T01", "D", "L01", 20.0, 4.0, 8.0), ("T01", "S", "L01", 900.0, 2.0, 3.0),
        ("T02", "D", "L01", 8.0, 1.5, 5.0), ("T03", "D", "L01", 30.0, 6.0, 9.0),
        ("T03", "D", "L02", 5.0, 1.0, 2.0), ("T04", "D", "L01", 10.0, 2.5, 4.0),
        ("T04", "S", "L01", 700.0, 3.0, 4.0), ("T05", "D", "L01", 25.0, 5.0, 7.0),
        ("T05", "F", "L01", 4.0, 1.8, 2.5), ("N01", "D", "L01", 40.0, 9.0, 12.0),
    ]
    frame = pd.DataFrame([{
        "patient_id": p, "scan_id": _scan_id(p, k), "tracer": _TYPES[k][2],
        "modality": _TYPES[k][3], "roi": "lesion", "lesion_id": f"{p}-{lid}", "suv_max": s,
        "tb_liver": tl, "tb_shell": ts} for p, k, lid, s, tl, ts in rows])
    if quantity:
        frame["quantity"] = np.where(frame["modality"] == "SPECT/CT", "counts", "SUV")
    return frame


@pytest.mark.parametrize("quantity", [True, False])
def test_uptake_is_described_per_scan_type_and_counts_are_never_suv(planted, quantity):
    uptake = tiouptake.culprit_uptake(_measurements(quantity), planted["cases"],
                                      planted["types"])
    assert "N01" not in set(uptake["patient_id"]) and "T03-L02" not in set(uptake["lesion_id"])
    table = tiouptake.uptake_summary(uptake, planted["types"]).set_index(
        ["scan_type", "measurement"])
    suv, liver = tiouptake.VALUES["suv_max"], tiouptake.VALUES["tb_liver"]
    dota = table.loc[(DOTA, suv)]
    assert dota.culprits == 5 and dota["median"] == 20.0           # 20, 8, 30, 10, 25
    assert (dota.q1, dota.q3) == pytest.approx(np.percentile([20, 8, 30, 10, 25], [25, 75]))
    spect = table.loc[(SPECT, suv)]                                # counts: never an SUV
    assert spect.culprits == 0 and "no SUV" in spect.note
    ratio = table.loc[(SPECT, liver)]
    assert (ratio.culprits, ratio["median"], ratio["min"]) == (2, 2.5, 2.0)
    assert table.loc[(FDG, liver), "culprits"] == 1
    figure_data = tiouptake.per_patient(uptake)
    assert len(figure_data[figure_data.role == "sstr_pet"]) == 5


def test_spearman_rho_and_its_bonett_wright_interval():
    x = [400, 150, 900, 250, 600, 30, 75]
    y = [4.0, 1.5, 6.0, 2.5, 5.0, 1.6, 0.9]
    r = tiouptake.spearman_ci(x, y, level=0.95)
    rho = stats.spearmanr(x, y).statistic
    assert r["rho"] == pytest.approx(rho, abs=1e-12) and r["n"] == 7
    # independent: Fisher z, SE sqrt((1 + rho²/2)/(n - 3)) (Bonett & Wright 2000)
    se = math.sqrt((1 + rho**2 / 2) / 4)
    z = stats.norm.ppf(0.975)
    assert r["lower"] == pytest.approx(math.tanh(math.atanh(rho) - z * se), abs=1e-12)
    assert r["upper"] == pytest.approx(math.tanh(math.atanh(rho) + z * se), abs=1e-12)
    assert "Bonett-Wright" in r["method"]
    ties = tiouptake.spearman_ci([1, 2, 2, 3, 5], [2, 1, 4, 4, 6])
    assert ties["rho"] == pytest.approx(stats.spearmanr([1, 2, 2, 3, 5], [2, 1, 4, 4, 6])
                                        .statistic, abs=1e-12)
    few = tiouptake.spearman_ci([1, 2], [3, 4])
    assert math.isnan(few["rho"]) and "at least 3" in few["note"]
    perfect = tiouptake.spearman_ci([1, 2, 3, 4], [2, 3, 5, 9])
    assert perfect["rho"] == 1.0 and math.isnan(perfect["lower"]) and "no CI" in perfect["note"]


def test_clinical_variables_against_the_culprit_uptake(planted, cohort):
    uptake = tiouptake.per_patient(tiouptake.culprit_uptake(
        _measurements(True), planted["cases"], planted["types"]))
    table = tiouptake.clinical_correlations(cohort.patients, uptake, planted["types"])
    rows = table.set_index(["variable", "scan_type", "measure"])
    row = rows.loc[(tiouptake.CLINICAL["fgf23_ru_ml"], DOTA, "suv_max")]
    fgf23 = [400, 150, 900, 250, 600]                 # T01..T05; T03's culprit SUVmax 30
    assert row.n == 5
    assert row.rho == pytest.approx(stats.spearmanr(fgf23, [20, 8, 30, 10, 25]).statistic)
    row = rows.loc[(tiouptake.CLINICAL["phosphate_mmol_l"], SPECT, "tb_liver")]
    assert row.n == 2 and math.isnan(row.rho)         # two SPECT culprits measured
    assert not ((rows.index.get_level_values("scan_type") != DOTA)
                & (rows.index.get_level_values("measure") == "suv_max")).any()


def test_figures_draw_from_the_planted_tables(planted):
    from nethelpers import tioplots

    order = [DOTA, SPECT, FDG]
    fig = tioplots.size_strip(planted["culprits"], order)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "DOTATATE\nPET/CT\ndetected\nn = 4"
    assert labels[3] == "HYNIC-TOC\nSPECT/CT\nmissed\nn = 3"
    uptake = tiouptake.per_patient(tiouptake.culprit_uptake(
        _measurements(True), planted["cases"], planted["types"]))
    fig = tioplots.uptake_paired(uptake, "tb_liver", order)
    have = uptake.dropna(subset=["tb_liver"]).groupby("scan_type")["patient_id"].nunique()
    units = uptake.dropna(subset=["tb_liver"])["patient_id"].nunique()
    drawn = [o for o in order if o in have.index]
    complete = int((uptake.dropna(subset=["tb_liver"]).groupby("patient_id")["scan_type"]
                    .nunique() == len(drawn)).sum())
    assert units == 5 and complete < units      # some patients lack a scan type
    assert fig.axes[0].get_title() == f"n = {units} units, {complete} with all {len(drawn)}"
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == [f"{o}\nn = {have[o]}" for o in drawn]
    patients = pd.DataFrame({"patient_id": ["T01", "T04"], "fgf23_ru_ml": [400.0, 250.0],
                             "phosphate_mmol_l": [0.4, 0.55]})
    fig = tioplots.clinical_scatter(patients, uptake)
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == [
        f"{DOTA} (n = 2)", f"{SPECT} (n = 2)"]          # T05 (FDG) has no value here


def test_the_answers_page_states_the_three_way_result(planted, tmp_path):
    from nethelpers.answers import build_answers
    from tests.test_answers import check_values

    reads, types = planted["reads"], planted["types"]
    tiocompare.detection_rates(reads, types).to_csv(tmp_path / "tio_detection.csv", index=False)
    tiocompare.paired_detection(reads, types).to_csv(tmp_path / "tio_mcnemar.csv", index=False)
    answer = {a.key: a for a in build_answers(tmp_path)}["tio"]
    assert answer.text.startswith(
        "The culprit tumour of the TIO patients was detected by DOTATATE PET/CT 80 % (4/5 "
        "patients; 95 % CI 38–96 %); HYNIC-TOC SPECT/CT 40 % (2/5 patients; 95 % CI 12–77 %); "
        "FDG PET/CT 50 % (2/4 patients; 95 % CI 15–85 %) (intervals Wilson). Of 5 TIO patients "
        "with a culprit read on both DOTATATE PET/CT and HYNIC-TOC SPECT/CT, 3 had it detected "
        "by DOTATATE PET/CT only and 1 by HYNIC-TOC SPECT/CT only (exact conditional McNemar "
        "test, p = 0.62); difference 40.0 percentage points (95 % CI ")
    assert "Newcombe" in answer.text and "(no discordant" not in answer.text
    assert check_values(answer, tmp_path) >= 30
    # the Wilson bounds quoted are those of statsmodels
    assert [round(100 * v) for v in _wilson(4, 5)] == [38, 96]


def test_without_spect_the_other_two_scan_types_are_still_compared(planted):
    from dataclasses import replace

    types = replace(planted["types"], sstr_spect=None)
    assert tiocompare.present_roles(types) == ["sstr_pet", "fdg_pet"]
    detection = tiocompare.detection_rates(planted["reads"], types)
    assert set(detection["scan_type"]) == {DOTA, FDG}
    pairs = tiocompare.paired_detection(planted["reads"], types)
    assert pairs[["a", "b"]].values.tolist() == [[DOTA, FDG]]
    assert "SPECT" in types.needs("sstr_spect")            # the notebook's waiting note


@pytest.mark.slow
def test_the_notebook_section_waits_without_spect_or_tio_patients(shape_reports):
    run = shape_reports["no_petmr"]                       # 3 NET patients: no TIO, no SPECT
    assert run["done"].returncode == 0, run["done"].stderr[-2000:]
    waiting = pd.read_csv(run["out"] / "tables" / "analyses_waiting.csv", dtype=str,
                          keep_default_na=False).set_index("section")["waits_for"]
    assert "No patient of a TIO group" in waiting["04 · TIO: culprit detection"]
    assert "SPECT" in waiting["04 · TIO: SSTR SPECT/CT"]
    assert not (run["out"] / "tables" / "tio_detection.csv").exists()


@pytest.mark.slow
def test_the_demo_report_recounts_the_tio_detection(demo_report, demo_study):
    tables = demo_report["out"] / "tables"
    detection = pd.read_csv(tables / "tio_detection.csv")
    patients = pd.read_csv(demo_study / "clinical/patients.csv")
    lesions = pd.read_csv(demo_study / "truth/lesions.csv")
    scans = pd.read_csv(demo_study / "clinical/scans.csv")
    reads = pd.read_csv(demo_study / "reads/reads.csv").merge(scans, on="scan_id")
    tio = set(patients.loc[patients.group.isin(["suspected_tio", "tio_post_surgery"]),
                           "patient_id"])
    culprits = set(lesions.loc[lesions.malignant.astype(bool)
                               & lesions.patient_id.isin(tio), "lesion_id"])
    r1 = reads[(reads.reader == "R1") & reads.patient_id.isin(tio)]
    assert (r1.tracer == "HYNIC-TOC").any(), "the demo has HYNIC-TOC SPECT/CT reads"
    for (tracer, modality), own in r1.groupby(["tracer", "modality"]):
        if modality == "PET/MR":
            continue
        with_culprit = own[own.patient_id.isin(lesions.loc[lesions.lesion_id.isin(culprits),
                                                           "patient_id"])]
        hit = with_culprit[with_culprit.lesion_id.isin(culprits)
                           & (with_culprit.call == "positive")]
        row = detection[(detection.scan_type == f"{tracer} {modality}")
                        & (detection.measure == "culprit detected")].iloc[0]
        assert row.denominator == with_culprit.patient_id.nunique()
        assert row.numerator == hit.patient_id.nunique()
    mcn = pd.read_csv(tables / "tio_mcnemar.csv")
    assert {"DOTATATE PET/CT", "HYNIC-TOC SPECT/CT"} <= set(mcn.a) | set(mcn.b)


def test_counts_ratios_are_not_labelled_suv_and_small_pairs_are_exploratory(planted):
    """Review of issue 18: a counts-only SPECT's T/B is lesion max / liver mean (no SUVmax),
    and the paired note neither calls the Newcombe interval conditional nor hides n."""
    assert "SUV" not in tiouptake.VALUES["tb_liver"] and "SUV" not in tiouptake.VALUES[
        "tb_shell"]
    uptake = tiouptake.per_patient(tiouptake.culprit_uptake(
        _measurements(False), planted["cases"], planted["types"]))   # SPECT in counts
    from nethelpers import tioplots

    fig = tioplots.uptake_paired(uptake, "tb_liver", [DOTA, SPECT, FDG])
    assert "SUV" not in fig.axes[0].get_ylabel()
    table = tiocompare.paired_detection(planted["reads"], planted["types"]).set_index(["a", "b"])
    note = table.loc[(DOTA, SPECT), "note"]
    assert "exploratory: 5 patients" in note and "Newcombe interval is not" in note
    assert "exploratory: 4 patients" in table.loc[(DOTA, FDG), "note"]
