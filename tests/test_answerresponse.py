"""The answer on treatment response: sentences from notebook 06's tables, numbers traced."""

from __future__ import annotations

from nethelpers.answers import build_answers

CATEGORIES = ("tracer,modality,rule_set,category,n,denominator,n_patients,proportion,"
              "proportion_lower,proportion_upper,method,level,note\n") + """\
DOTATATE,PET/CT,suvmax,CMR,0,20,22,0.0,0.0,0.1611,wilson,0.95,
DOTATATE,PET/CT,suvmax,PMR,6,20,22,0.3,0.1455,0.5190,wilson,0.95,
DOTATATE,PET/CT,suvmax,SMD,9,20,22,0.45,0.2582,0.6579,wilson,0.95,
DOTATATE,PET/CT,suvmax,PMD,5,20,22,0.25,0.1119,0.4687,wilson,0.95,
DOTATATE,PET/CT,suvmax,not categorised,2,22,22,,,,,0.95,2 of 22 patients not categorised
"""
PAIRS = ("tracer,modality,n_pairs,n_judged,n_categorised,days_median,days_q1,days_q3,"
         "days_min,days_max,not_judged\n") + """\
DOTATATE,PET/CT,22,22,20,227.0,134.25,249.5,104.0,269.0,
"""
AGREEMENT = """tracer,measure,estimate,lower,upper,method,n,n_both_scans,level,note
DOTATATE,proportion_agreement,0.9,0.5958,0.9821,wilson,10,10,0.95,
DOTATATE,kappa,0.85,0.6,1.0,"Cohen's kappa, unweighted; Wald",10,10,0.95,
DOTATATE,kappa_linear,0.8793,0.7,1.0,"Cohen's kappa, linear weights; Wald",10,10,0.95,
"""
RECURRENCE = """tracer,modality,measure,estimate,lower,upper,method,numerator,denominator,level,note
DOTATATE,PET/CT,sensitivity,0.875,0.5291,0.9776,wilson,7,8,0.95,
DOTATATE,PET/CT,specificity,1.0,0.8064,1.0,wilson,16,16,0.95,
"""


def _write(folder, **tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    return folder


def test_response_answer_says_categories_agreement_and_recurrence(tmp_path):
    folder = _write(tmp_path / "tables", response_categories=CATEGORIES,
                    response_pair_summary=PAIRS, response_agreement_petmr_petct=AGREEMENT,
                    recurrence_accuracy=RECURRENCE)
    answer = {a.key: a for a in build_answers(folder)}["response"]
    assert answer.text == (
        "DOTATATE PET/CT: 20 patients with a response category, median 227 days apart (range "
        "104–269): CMR 0, PMR 6 (30 %; 95 % CI 15–52 %), SMD 9, PMD 5 (25 %; 95 % CI "
        "11–47 %); 2 without a category (reasons in response_categories.csv). PET/MR and "
        "PET/CT gave the same DOTATATE response category in 90 % of 10 patients (95 % CI "
        "60–98 %); linearly weighted κ 0.88 (95 % CI 0.70–1.00). Recurrence at follow-up on "
        "DOTATATE PET/CT: sensitivity 88 % (7/8 scans; 95 % CI 53–98 %, Wilson), specificity "
        "100 % (16/16 scans; 95 % CI 81–100 %, Wilson).")
    # every quoted number is a recorded cell of its table
    traced = {v.table for v in answer.values.values()}
    assert traced == {"response_categories", "response_pair_summary",
                      "response_agreement_petmr_petct", "recurrence_accuracy"}


def test_no_response_table_no_answer(tmp_path):
    folder = _write(tmp_path / "tables")
    answer = {a.key: a for a in build_answers(folder)}.get("response")
    assert answer is None or (answer.text == "" and "response_categories" in answer.waits_for)
