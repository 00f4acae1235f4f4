"""The answers of index.html: exact sentences on hand-written tables, and on the demo report
every quoted number equal to its table's cell (re-read and formatted here, independently)."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from nethelpers.answers import ROWS, Answer, build_answers, method_words, no_ci_words

TABLES = {
    "accuracy_patient_level": """\
tracer,modality,measure,estimate,lower,upper,method,numerator,denominator,note
DOTATATE,PET/CT,sensitivity,1.0,0.9179901967742088,1.0,wilson,43,43,
DOTATATE,PET/CT,specificity,0.8235294117647058,0.5897054143116588,0.9380887336237901,wilson,14,17,
DOTATATE,PET/CT,ppv,0.9347826086956522,0.8249725891809578,0.9775721385707115,wilson,43,46,
FDG,PET/CT,sensitivity,0.9428571428571428,0.8139294257983507,0.9841868381428913,wilson,33,35,
FDG,PET/CT,specificity,,,,wilson,0,0,0/0: not estimable
""",
    "accuracy_lesion_level": """\
tracer,modality,measure,estimate,lower,upper,method,numerator,denominator,n_clusters,\
cluster_lower,cluster_upper,cluster_method
DOTATATE,PET/CT,sensitivity,0.7916666666666666,0.7386677228215096,0.8362992769777818,wilson,\
209,264,43,0.713806604111927,0.852715247493009,wilson-effective-n
""",
    "detection_by_region": """\
tracer,modality,region,measure,estimate,lower,upper,method,numerator,denominator
DOTATATE,PET/CT,all regions,sensitivity,0.7,0.6,0.8,"Wilson, cluster-adjusted",148,203
DOTATATE,PET/CT,liver,sensitivity,0.5315,0.44,0.62,"Wilson, cluster-adjusted",59,111
DOTATATE,PET/CT,lymph nodes,sensitivity,0.9878,0.93,0.998,"Wilson, cluster-adjusted",81,82
DOTATATE,PET/CT,bone,sensitivity,0.8,0.6,0.9,"Wilson, cluster-adjusted",8,10
""",
    "staging_change": """\
a,b,outcome,numerator,denominator,patient_ids
DOTATATE PET/CT,FDG PET/CT,more lesions detected with DOTATATE PET/CT,3,5,"P002, P003"
DOTATATE PET/CT,FDG PET/CT,more lesions detected with FDG PET/CT,1,5,P001
DOTATATE PET/CT,FDG PET/CT,higher category with DOTATATE PET/CT (none < distant),2,5,P002
DOTATATE PET/CT,FDG PET/CT,higher category with FDG PET/CT (none < distant),0,5,
""",
    "mcnemar_dotatate_vs_fdg": """\
unit,a,b,method,statistic,p,dotatate_only,fdg_only,both,neither,units,clusters,note
lesions,DOTATATE PET/CT,FDG PET/CT,exact,70.0,0.00013,70,31,95,19,215,,clustering ignored
lesions,DOTATATE PET/CT,FDG PET/CT,obuchowski,3.72,0.05370739607747252,70,31,95,19,215,35.0,\
primary: accounts for clusters
patients,DOTATATE PET/CT,FDG PET/CT,exact,2.0,0.0004,12,0,20,3,35,,
""",
    "difference_dotatate_minus_fdg": """\
measure,estimate_a,estimate_b,difference,lower,upper,method,level,n,n_clusters,unit,primary
sensitivity,0.767,0.586,0.1813953488372093,0.00717142774116869,0.35561926993324994,\
ratio-wald,0.95,215,35,lesions,False
sensitivity,0.767,0.586,0.1813953488372093,-0.012,0.341,ratio-score,0.95,215,35,lesions,True
specificity,0.583,0.917,-0.3333333333333333,-0.5148648481284168,-0.15180181853824976,\
ratio-wald,0.95,24,18,lesions,True
""",
    "paired_accuracy_petmr_petct": """\
unit,measure,quantity,estimate,lower,upper,method,numerator,denominator,pairs,a_only,b_only,\
n_clusters,test,statistic,p,primary,note
lesions,sensitivity,PET/MR,0.76,0.65,0.85,"Wilson, cluster-adjusted",109,143,,,,23,,,,True,
lesions,sensitivity,PET/CT,0.8,0.7,0.88,"Wilson, cluster-adjusted",115,143,,,,23,,,,True,
lesions,sensitivity,difference (PET/MR − PET/CT),-0.042,-0.09,0.004,"cluster-adjusted score \
interval inverting the clustered McNemar test (null-restricted ratio-estimator variance, \
Obuchowski 1998)",,,143,2,8,23,clustered McNemar (Obuchowski 1998),3.1,0.078,True,
lesions,sensitivity,difference (PET/MR − PET/CT),-0.042,-0.085,0.001,Wald,,,143,2,8,23,,,,\
False,
""",
    "agreement_petmr_petct": """\
lesions,n_calls,kappa,kappa_lower,kappa_upper,n,icc_a1,icc_lower,icc_upper,weighting
all lesions,160,0.7542714532539835,0.6483365016019129,0.860206404906054,160,0.98036,0.96666,\
0.98757,unweighted
""",
    "patient_groups": """\
group,label,tio,prrt,patients
suspected_net,Suspected NET (diagnosis),False,False,12
suspected_tio,Suspected TIO (localisation),True,False,6
""",
    "accuracy_patient_level_by_group": """\
tracer,modality,group,measure,estimate,lower,upper,method,numerator,denominator,note
DOTATATE,PET/CT,suspected_tio,sensitivity,1.0,0.5101091635454027,1.0,wilson,4,4,
DOTATATE,PET/CT,suspected_net,sensitivity,1.0,0.6,1.0,wilson,7,7,
""",
    "prrt_eligibility": """\
patient_id,tracer,modality,n_lesions,n_krenning_3_4,min_krenning,eligible
P004,DOTATATE,PET/CT,9,9,3,yes
P010,DOTATATE,PET/CT,9,5,1,no
P014,DOTATATE,PET/CT,8,8,3,yes
P016,DOTATATE,PET/CT,0,0,,not assessable
""",
    "false_call_causes": """\
error,tracer,modality,region,cause,numerator,denominator,denominator_of
FN,DOTATATE,PET/CT,all regions,small lesion,10,264,malignant lesions read
FN,DOTATATE,PET/CT,all regions,not recorded,12,264,malignant lesions read
FN,DOTATATE,PET/CT,liver,small lesion,7,111,malignant lesions read
FN,FDG,PET/CT,all regions,low FDG avidity,40,215,malignant lesions read
FN,FDG,PET/CT,all regions,small lesion,3,215,malignant lesions read
FP,DOTATATE,PET/CT,all regions,physiological uptake,13,35,benign or physiological lesions read
""",
    "visual_vs_rule": """\
tracer,modality,call,rule,n,rule_text
DOTATATE,PET/CT,positive,above reference,200,SUVmax > 1 × liver SUVmean
DOTATATE,PET/CT,positive,at or below reference,20,SUVmax > 1 × liver SUVmean
DOTATATE,PET/CT,negative,above reference,21,SUVmax > 1 × liver SUVmean
DOTATATE,PET/CT,negative,at or below reference,50,SUVmax > 1 × liver SUVmean
DOTATATE,PET/CT,equivocal,above reference,9,SUVmax > 1 × liver SUVmean
DOTATATE,PET/CT,equivocal,not measured,1,SUVmax > 1 × liver SUVmean
""",
    "interreader_agreement": """\
tracer,modality,reader_a,reader_b,quantity,statistic,weighting,estimate,lower,upper,method,n,note
DOTATATE,PET/CT,R1,R2,visual call,Cohen's kappa,linear,0.3548,-0.1851,0.7722,"Cohen's weighted \
kappa, linear agreement weights 1-|i-j|/(K-1) (Cicchetti-Allison) on K=3 ordered categories; 95% \
cluster bootstrap percentile CI (patients resampled with all their lesions; 6 clusters, 2000 \
replicates, seed 20240601, quantile type 7)",250,
DOTATATE,PET/CT,R1,R2,Krenning score,"ICC(A,1)",,0.912,0.85,0.95,cluster bootstrap,240,
DOTATATE,PET/MR,R1,R2,visual call,Cohen's kappa,linear,0.5113,,,"Cohen's weighted kappa; 95% \
cluster bootstrap percentile CI",13,"no cluster bootstrap interval: it needs at least 5 clusters \
(patients), there are 3"
FDG,PET/CT,R1,R2,visual call,Cohen's kappa,linear,,,,,3,
""",
}

EXPECTED = {
    "diagnosis": (
        "Patient-level sensitivity of DOTATATE PET/CT was 100 % (43/43 patients; 95 % CI "
        "92–100 %, Wilson) and specificity 82 % (14/17 patients; 95 % CI 59–94 %, Wilson). "
        "Patient-level sensitivity of FDG PET/CT was 94 % (33/35 patients; 95 % CI 81–98 %, "
        "Wilson) and specificity not estimable (0/0 patients)."),
    "staging": (
        "Lesion-level sensitivity of DOTATATE PET/CT was 79 % (209/264 lesions in 43 "
        "patients; 95 % CI 71–85 %, Wilson, cluster-adjusted). "
        "Among regions with at least 5 malignant lesions, DOTATATE PET/CT detected lesions "
        "least often in liver, 53 % (59/111 lesions; 95 % CI 44–62 %), and most often in "
        "lymph nodes, 99 % (81/82 lesions; 95 % CI 93–100 %); intervals Wilson, "
        "cluster-adjusted. Of 5 patients read on both DOTATATE PET/CT and FDG PET/CT, 3 had "
        "more lesions detected with DOTATATE PET/CT and 1 with FDG PET/CT; 2 were in a higher "
        "stage category with DOTATATE PET/CT and 0 with FDG PET/CT (categories none < "
        "distant)."),
    "tracers": (
        "Of 215 malignant lesions in 35 patients read on both DOTATATE PET/CT and FDG PET/CT, "
        "70 were detected by DOTATATE PET/CT only and 31 by FDG PET/CT only; clustered McNemar "
        "test, p = 0.054. The lesion-level sensitivity difference DOTATATE − FDG "
        "was 18.1 percentage points (95 % CI −1.2 to 34.1, cluster-adjusted score interval). "
        "Of 35 patients with disease read on both DOTATATE PET/CT and FDG PET/CT, "
        "12 were detected by DOTATATE PET/CT only and 0 by FDG PET/CT only; exact McNemar "
        "test, p < 0.001."),
    "petmr": (
        "On the 143 malignant lesions read on both, sensitivity was PET/MR 76 % (109/143; "
        "95 % CI 65–85 %, Wilson, cluster-adjusted) and PET/CT 80 % (115/143; 95 % CI 70–88 %, "
        "Wilson, cluster-adjusted); the difference PET/MR − PET/CT was −4.2 percentage points "
        "(95 % CI −9.0 to 0.4, cluster-adjusted score interval; clustered McNemar test, "
        "p = 0.078). PET/MR and PET/CT agreed on the visual call of 160 lesions read on both "
        "with unweighted κ 0.75 (95 % CI 0.65–0.86) and on SUVmax with ICC(A,1) 0.98 (95 % CI "
        "0.97–0.99)."),
    "tio": (
        "In the group Suspected TIO (localisation), patient-level sensitivity was DOTATATE "
        "PET/CT 100 % (4/4; 95 % CI 51–100 %, Wilson)."),
    "prrt": (
        "2 of 4 patients of the PRRT group were eligible for PRRT by imaging on DOTATATE PET/CT "
        "(modified Krenning score 3 or 4 in every malignant lesion); 1 not assessable."),
    "false_calls": (
        "False negatives: DOTATATE PET/CT 22 of 264 malignant lesions read; FDG PET/CT 43 of "
        "215; over these scans the most frequent cause was low FDG avidity (40 of 65 false "
        "negatives); 12 of 65 had no cause recorded. False positives: DOTATATE PET/CT 13 of 35 "
        "benign or physiological lesions read; over these scans the most frequent cause was "
        "physiological uptake (13 of 13 false positives). Against the "
        "protocol's rule (SUVmax > 1 × liver SUVmean is positive), on DOTATATE PET/CT, 21 of "
        "230 lesions above the liver were read negative and 20 of 70 at or below it were read "
        "positive (the discordant lesions are listed in notebook 05)."),
    "readers": (
        "On DOTATATE PET/CT, readers R1 and R2 agreed on the visual call of 250 lesions with "
        "linear-weighted κ 0.35 (95 % CI −0.19 to 0.77, patient bootstrap); on the Krenning "
        "score of 240 lesions with ICC(A,1) 0.91 (95 % CI 0.85–0.95, patient bootstrap). On "
        "DOTATATE PET/MR, readers R1 and R2 agreed on the visual call of 13 lesions with "
        "linear-weighted κ 0.51 (no CI: fewer than 5 patients)."),
}


def write_tables(folder: Path, names: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in TABLES.items():
        if names is None or name in names:
            (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_sentences_say_exactly_the_expected_text(tmp_path):
    answers = {a.key: a for a in build_answers(write_tables(tmp_path))}
    assert list(answers) == ["diagnosis", "staging", "tracers", "petmr", "tio", "prrt",
                             "false_calls", "readers"]  # no SPECT table: no SPECT answer
    for key, text in EXPECTED.items():
        assert answers[key].text == text, key
        assert answers[key].waits_for == ""


def test_missing_tables_say_what_they_wait_for_and_no_number(tmp_path):
    answers = {a.key: a for a in build_answers(write_tables(tmp_path, ["patient_groups"]))}
    petmr = answers["petmr"]
    assert petmr.text == "" and petmr.values == {}
    assert petmr.waits_for == ("Waits for the tables paired_accuracy_petmr_petct.csv "
                               "(notebook 04), agreement_petmr_petct.csv (notebook 04).")
    assert answers["prrt"].waits_for == "Waits for tables/prrt_eligibility.csv (notebook 03)."
    for answer in answers.values():
        assert not any(ch.isdigit() for ch in answer.text), answer.key
    # a table present but the other missing: the sentences of the present one, and one line
    partial = {a.key: a for a in build_answers(write_tables(
        tmp_path / "p", ["accuracy_lesion_level"]))}["staging"]
    assert partial.text.startswith("Lesion-level sensitivity of DOTATATE PET/CT was 79 %")
    assert partial.waits_for == ("Waits for the tables detection_by_region.csv (notebook 05), "
                                 "staging_change.csv (notebook 04).")


def test_method_words_are_short_and_a_missing_ci_says_why():
    # the full texts of the tables' method columns, as the producers write them
    assert method_words("Cohen's weighted kappa, linear agreement weights 1-|i-j|/(K-1) "
                        "(Cicchetti-Allison) on K=3 ordered categories; 95% cluster bootstrap "
                        "percentile CI (patients resampled; 6 clusters)") == "patient bootstrap"
    assert method_words("Wilson, cluster-adjusted (ratio estimator, effective sample size; "
                        "Rao & Scott 1992)") == "Wilson, cluster-adjusted"
    assert method_words("wilson-effective-n") == "Wilson, cluster-adjusted"
    assert method_words("Newcombe (1998) method 10") == "Newcombe"
    assert method_words("some new method (details; more)") == "some new method"
    assert no_ci_words("kappa: no cluster bootstrap interval: it needs at least 5 clusters "
                       "(patients), there are 3") == "no CI: fewer than 5 patients"
    assert no_ci_words("") == "no CI"


def test_a_test_and_interval_that_disagree_say_which_is_primary(tmp_path):
    folder = write_tables(tmp_path)
    text = TABLES["difference_dotatate_minus_fdg"].replace(
        "-0.012,0.341,ratio-score", "0.004,0.341,ratio-score")  # excludes 0, p = 0.054
    (folder / "difference_dotatate_minus_fdg.csv").write_text(text, encoding="utf-8")
    tracers = {a.key: a for a in build_answers(folder)}["tracers"].text
    assert "(95 % CI 0.4–34.1, cluster-adjusted score interval). The test and the interval " \
           "disagree (they use different variances); the test is the primary analysis." in tracers
    assert "significant" not in tracers
    assert "disagree" not in build_answers(write_tables(tmp_path / "same"))[2].text


def test_spect_answer_only_with_spect_tables(tmp_path):
    folder = write_tables(tmp_path)
    text = TABLES["mcnemar_dotatate_vs_fdg"].replace("FDG PET/CT", "HYNIC-TOC SPECT/CT")
    (folder / "mcnemar_dotatate_vs_hynic.csv").write_text(text, encoding="utf-8")
    spect = {a.key: a for a in build_answers(folder)}["spect"]
    assert spect.text.startswith("Of 215 malignant lesions in 35 patients read on both "
                                 "DOTATATE PET/CT and HYNIC-TOC SPECT/CT, 70 were detected")
    assert spect.waits_for == "Waits for tables/difference_dotatate_minus_hynic.csv " \
                              "(notebook 04)."


# --------------------------------------------------------------------------------------------
# every number against its table, formatted here by the documented rules
# --------------------------------------------------------------------------------------------

def _p(x: float) -> str:
    if x < 0.001:
        return "< 0.001"
    if x > 0.99:
        return "> 0.99"
    return f"{x:.3f}" if x < 0.1 else f"{x:.2f}"


def _minus(text: str) -> str:
    return "−" + text[1:] if text.startswith("-") and text.strip("-0.") else text.lstrip("-")


def expected_text(raw: str, kind: str) -> str | None:
    """The sentence's spelling of a cell, by the rules of the answers (None: words)."""
    if kind in ("text", "method"):
        return None
    x = float(raw)
    return {
        "percent": lambda: str(round(100 * x)),
        "percent100": lambda: str(round(x)),
        "count": lambda: str(round(x)),
        "p": lambda: _p(x),
        "decimal2": lambda: _minus(f"{x:.2f}"),
        "points": lambda: _minus(f"{100 * x:.1f}"),
    }[kind]()


def check_values(answer: Answer, tables: Path) -> int:
    """Assert every value of ``answer`` equals its table; return how many were checked."""
    for name, value in answer.values.items():
        frame = pd.read_csv(tables / f"{value.table}.csv", dtype=str, keep_default_na=False)
        mask = pd.Series(True, index=frame.index)
        for column, text in value.where:
            mask &= frame[column] == text
        selected = frame[mask]
        if value.column == ROWS:
            assert len(selected) == int(value.raw), name
        elif value.column.startswith("sum:"):
            column = value.column.removeprefix("sum:")
            assert pd.to_numeric(selected[column]).sum() == int(value.raw), name
        else:
            assert len(selected) == 1, (name, value.where)
            assert selected.iloc[0][value.column] == value.raw, name
        spelled = expected_text(value.raw, value.kind)
        if spelled is not None:
            assert spelled in answer.text, (name, spelled, answer.text)
    return len(answer.values)


def test_synthetic_values_trace_to_their_tables(tmp_path):
    folder = write_tables(tmp_path)
    assert sum(check_values(a, folder) for a in build_answers(folder)) > 80


@pytest.mark.slow
def test_demo_report_answers_equal_their_tables(demo_report):
    out = demo_report["out"]
    answers = build_answers(out / "tables")
    page = html.unescape((out / "index.html").read_text(encoding="utf-8"))
    checked = 0
    for answer in answers:
        checked += check_values(answer, out / "tables")
        assert answer.question in page
        assert (answer.text or answer.waits_for) in page, answer.key
        assert not answer.waits_for.startswith("Not written"), answer.waits_for
        # a missing bound is said in words, never as an empty interval; methods are short
        assert "CI –" not in answer.text and "–)" not in answer.text, answer.key
        assert "Cicchetti" not in answer.text and "replicates" not in answer.text, answer.key
        assert "significant" not in answer.text, answer.key
    assert checked > 50
    keys = {a.key for a in answers if a.text}
    assert {"diagnosis", "staging", "tracers", "tio", "prrt"} <= keys
    # the answers come first, the counts after them
    assert page.index("What the study found") < page.index("<h2>Summary</h2>")
    assert "False calls (lesions)" not in page
