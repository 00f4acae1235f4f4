"""The methods paragraph: every rule it states comes from the parameters or the tables."""

from __future__ import annotations

import pandas as pd

from nethelpers.config import params_from_dict
from nethelpers.methods import METHODS_NAME, methods_paragraph, write_methods

VERSIONS = {"python": "3.11.7", "nethelpers": "0.1.0", "numpy": "9.8.7", "scipy": "1.2.3",
            "pandas": "2.2.2", "statsmodels": None}


def _params(**sections):
    return params_from_dict({"study": {"name": "t", "data_root": "."}, **sections})


def test_the_parameters_are_stated():
    text = methods_paragraph(_params(
        stats={"ci_method": "clopper-pearson", "ci_level": 0.9, "seed": 12345},
        index_test={"reader": "R2", "equivocal": "exclude", "equivocal_sensitivity": "negative"},
        scores={"positivity_factor": 1.5},
        quantify={"norm": "lbm", "peak_radius_mm": 6.2035, "mtv_fraction": 0.5}), None, VERSIONS)
    assert "90% confidence intervals by the Clopper–Pearson (exact) method" in text
    assert "reader R2" in text
    assert ("equivocal calls were excluded in the main analysis and counted as negative in a "
            "sensitivity analysis") in text
    assert "SUVmax > 1.5 × liver SUVmean" in text
    assert "normalised to lean body mass by Janmahasatian (SUL)" in text
    assert "radius 6.2 mm (1.0 ml)" in text and "above 50% of SUVmax" in text
    assert "seed 12345" in text
    # versions: those given, a package without a version is not named
    assert "Python 3.11.7" in text and "numpy 9.8.7" in text and "statsmodels" not in text
    assert text.count("\n\n") == 2  # three paragraphs


def test_defaults_and_a_report_without_comparisons(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"tracer": ["FDG"], "method": ["wilson"], "cluster_method":
                  ["wilson-effective-n"]}).to_csv(tmp_path / "tables/accuracy_lesion_level.csv",
                                                  index=False)
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert "95% confidence intervals by the Wilson score method" in text
    assert "counted as negative in the main analysis and counted as positive" in text
    assert "Wilson score interval at the effective sample size" in text
    assert "ratio-estimator variance (Rao & Scott 1992)" in text
    # the run wrote no McNemar, agreement or ROC table: none is described
    for absent in ("McNemar", "κ", "AUC", "PET/MR and PET/CT were compared"):
        assert absent not in text, absent


def test_the_tests_named_in_the_tables_are_quoted(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"unit": ["lesions", "lesions"], "method": ["exact", "obuchowski"]}).to_csv(
        tmp_path / "tables/mcnemar_dotatate_vs_fdg.csv", index=False)
    pd.DataFrame({"measure": ["sensitivity"], "method": ["ratio-wald"]}).to_csv(
        tmp_path / "tables/difference_dotatate_minus_fdg.csv", index=False)
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert ("the exact McNemar test treating units as independent and the clustered McNemar "
            "test (Obuchowski 1998)") in text
    assert ("paired differences of sensitivity and specificity with ratio estimator (Wald) "
            "intervals") in text
    assert "Tests are two-sided." in text
    # only the clustered test recorded: the exact one is not claimed
    pd.DataFrame({"unit": ["lesions"], "method": ["obuchowski"]}).to_csv(
        tmp_path / "tables/mcnemar_dotatate_vs_fdg.csv", index=False)
    assert "exact McNemar" not in methods_paragraph(_params(), tmp_path, VERSIONS)


def test_write_methods_uses_the_versions_of_the_report(tmp_path):
    (tmp_path / "provenance.json").write_text('{"versions": {"python": "3.0.1", '
                                              '"numpy": "0.0.7"}}')
    path = write_methods(_params(), tmp_path)
    assert path == tmp_path / METHODS_NAME
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## Statistical methods\n\n")
    assert "Python 3.0.1 (numpy 0.0.7)" in text


def _write(folder, name, frame):
    (folder / "tables").mkdir(exist_ok=True)
    pd.DataFrame(frame).to_csv(folder / "tables" / f"{name}.csv", index=False)


SCORE = ("cluster-adjusted score interval inverting the clustered McNemar test "
         "(null-restricted ratio-estimator variance, Obuchowski 1998)")
WALD = "cluster-adjusted Wald interval (unrestricted ratio-estimator variance, Obuchowski 1998)"
BOOT = ("95% cluster bootstrap percentile CI (patients resampled with all their lesions; "
        "{k} clusters, 2000 replicates, seed 7, quantile type 7)")


def test_the_primary_difference_interval_is_named_as_such(tmp_path):
    _write(tmp_path, "difference_dotatate_minus_fdg", {
        "measure": ["sensitivity", "sensitivity"], "method": [WALD, SCORE],
        "primary": [False, True]})
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    # the score interval is primary even though the table lists the Wald one first
    assert (f"the paired differences of sensitivity and specificity with the {SCORE} as the "
            f"primary interval and the {WALD} as secondary") in text


def test_paired_petmr_petct_per_unit_with_its_test(tmp_path):
    _write(tmp_path, "paired_accuracy_petmr_petct", {
        "unit": ["lesions"] * 4 + ["patients"] * 3,
        "quantity": ["PET/MR", "PET/CT", "difference (PET/MR − PET/CT)",
                     "difference (PET/MR − PET/CT)", "PET/MR", "PET/CT",
                     "difference (PET/MR − PET/CT)"],
        "method": ["Wilson, effective n"] * 2 + [SCORE, WALD] + ["Wilson"] * 2
        + ["Newcombe (1998) method 10"],
        "primary": [True, True, True, False, True, True, True],
        "test": ["", "", "clustered McNemar (Obuchowski 1998)", "", "", "", "exact McNemar"]})
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert (f"(lesions: proportions with Wilson, effective n intervals, the difference with "
            f"the {SCORE} as the primary interval and the {WALD} as secondary") in text
    assert "tested with the clustered McNemar test (Obuchowski 1998); patients:" in text
    assert ("patients: proportions with Wilson intervals, the difference with the Newcombe "
            "(1998) method 10 as the primary interval, tested with the exact McNemar test)"
            ) in text


def test_readings_sstr_rads_causes_and_the_rule_are_described(tmp_path):
    params = _params(readers={"sstr_intense_from": 3, "sstr_positive_from": 4},
                     reading={"not_recorded": "no cause given"})
    _write(tmp_path, "sstr_rads_lesion", {"category": ["1", "4"], "n": [3, 5]})
    text = methods_paragraph(params, tmp_path, VERSIONS)
    assert "uptake counted as intense from grade 3 (above liver)" in text
    assert ("A patient's category was the highest of the lesions' on that scan, and a scan "
            "read with no focus was SSTR-RADS 1.") in text
    assert "For its accuracy" not in text        # no SSTR-RADS accuracy table in this run
    for absent in ("controlled list", "cross-tabulated", "per region", "staging change"):
        assert absent not in text, absent
    # the threshold is the one the run's table records (3), not the parameter's (4)
    _write(tmp_path, "sstr_rads_patient_accuracy", {"measure": ["sensitivity"],
                                                    "test": ["SSTR-RADS >= 3"]})
    _write(tmp_path, "false_call_causes", {"error": ["FN"], "cause": ["other"]})
    _write(tmp_path, "visual_vs_rule", {"call": ["positive"], "n": [1]})
    text = methods_paragraph(params, tmp_path, VERSIONS)
    assert "For its accuracy, SSTR-RADS 3 (3A–3D), 4 and 5 counted as positive." in text
    causes = "; ".join(params.reading.causes)
    assert f"one cause from a controlled list ({causes})" in text
    assert "low SSTR expression" in causes and causes.endswith("other")
    assert "a false call without a note was counted as 'no cause given'" in text
    assert ("The visual call is the index test; the protocol's rule was not substituted for "
            "it but cross-tabulated against it lesion by lesion (SUVmax > 1 × liver SUVmean "
            "on the same scan)") in text


def test_region_staging_and_agreement_quote_their_tables(tmp_path):
    region = "Wilson, cluster-adjusted (ratio estimator, effective sample size)"
    _write(tmp_path, "detection_by_region", {"region": ["liver", "bone"],
                                             "method": [region, region]})
    _write(tmp_path, "staging_change", {"a": ["DOTATATE PET/CT", "DOTATATE PET/CT"],
                                        "b": ["FDG PET/CT", "FDG PET/CT"]})
    _write(tmp_path, "agreement_petmr_petct", {
        "lesions": ["all lesions", "bone lesions"], "kappa_weighting": ["unweighted"] * 2,
        "ci_method": [BOOT.format(k=26), BOOT.format(k=16)]})
    kappa = ("Cohen's weighted kappa, linear agreement weights 1-|i-j|/(K-1) (Cicchetti-Allison)"
             " on K=3 ordered categories")
    icc = "ICC(A,1): two-way random effects, absolute agreement, single rater"
    _write(tmp_path, "interreader_agreement", {
        "quantity": ["visual call", "Krenning score", "uptake grade (0–4)", "visual call"],
        "method": [f"{kappa}; {BOOT.format(k=52)}", f"{icc}; {BOOT.format(k=52)}",
                   f"{icc}; {BOOT.format(k=52)}", f"{kappa}; {BOOT.format(k=26)}"]})
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert "per region (organ) of the lesion site" in text and f"({region})" in text
    assert ("staging change (DOTATATE PET/CT vs FDG PET/CT) was counted in the patients with "
            "a final diagnosis of NET and at least one malignant lesion read on both scan "
            "types") in text
    assert "locoregional (detected lesions only in lymph nodes, pancreas or bowel)" in text
    one_boot = BOOT.format(k=26).replace("26 clusters, ", "")
    assert ("Agreement between PET/MR and PET/CT: Cohen's κ (unweighted) on the visual calls"
            ) in text
    assert f"intervals of κ and ICC: {one_boot};" in text   # one text for every subset
    assert (f"inter-reader agreement on the lesions both readers read: {kappa} on the visual "
            f"call; {icc} on the Krenning score and uptake grade (0–4); intervals: "
            f"{one_boot}") in text
    assert text.count("cluster bootstrap") == 2


def test_spect_measurement_names_only_the_scales_measured(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"scan_id": ["A", "B", "C"], "modality": ["SPECT/CT", "PET/CT", "SPECT/CT"],
                  "status": ["ok", "ok", "failed"], "quantity": ["counts", "SUV", "SUV"]}).to_csv(
        tmp_path / "tables/quantification_qc.csv", index=False)
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    # the one measured SPECT scan is counts-only; the quantitative one failed: not described
    assert "Counts-only SPECT, which has no activity calibration, was measured by its " in text
    assert "quantitative SPECT" not in text
    everything = methods_paragraph(_params(), None, VERSIONS)
    assert ("Quantitative SPECT (Bq/ml) was converted to SUV in the same way, with the "
            "injected activity decayed to the start of the acquisition") in everything
    assert "counts-only SPECT" in everything


def test_tio_comparison_quotes_its_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"scan_type": ["DOTATATE PET/CT"], "method": ["wilson"]}).to_csv(
        tmp_path / "tables/tio_detection.csv", index=False)
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert ("detection of the culprit tumour (the malignant lesion of the reference standard) "
            "was counted per patient for each scan type with Wilson score intervals") in text
    assert "conditional McNemar" not in text and "Spearman" not in text   # no such tables
    pd.DataFrame({"a": ["x"], "difference_method": ["newcombe"]}).to_csv(
        tmp_path / "tables/tio_mcnemar.csv", index=False)
    pd.DataFrame({"variable": ["fgf23"], "method": ["spearman"]}).to_csv(
        tmp_path / "tables/tio_clinical.csv", index=False)
    text = methods_paragraph(_params(), tmp_path, VERSIONS)
    assert "exact conditional McNemar test (two-sided binomial test" in text
    assert "Spearman's rank correlation with a Fisher z interval" in text
    assert "exploratory" in text


def test_spect_measurement_follows_the_vocabulary_s_spect_modalities(tmp_path):
    (tmp_path / "tables").mkdir()
    pd.DataFrame({"scan_id": ["A", "B"], "modality": ["NM/CT", "PET/CT"],
                  "status": ["ok", "ok"], "quantity": ["counts", "SUV"]}).to_csv(
        tmp_path / "tables/quantification_qc.csv", index=False)
    params = _params(vocabulary={"modalities": [{"name": "PET/CT", "system": "PET"},
                                                {"name": "NM/CT", "system": "SPECT"}]})
    # a SPECT modality named otherwise in this study is still SPECT; its PET/CT is not
    text = methods_paragraph(params, tmp_path, VERSIONS)
    assert "Counts-only SPECT, which has no activity calibration" in text
    assert "Quantitative SPECT" not in text
