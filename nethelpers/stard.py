"""The STARD 2015 items a report addresses, and where (the checklist of ``index.html``).

STARD 2015 (Bossuyt et al., BMJ 2015;351:h5527) lists 30 items (34 with their parts) a
report of a diagnostic accuracy study should give. The checklist lists every one of them: the
ones that belong to the manuscript (title, background, registration, funding) are marked
*manuscript* with what to write there; the report addresses the ones that come from the data
and the analysis, including 21b (alternative diagnoses of those without the target
condition) and 22 (time from index test to reference standard), whose tables the report
runner writes from the checked tables (:func:`stard_tables`). For each,
:func:`stard_checklist` says how the report addresses it, in words built from the validated
parameters, and links the tables and figures that do. An item whose files are missing is
marked so, never silently dropped: *waiting* (with what for) when its sections recorded
that they wait for data (``tables/analyses_waiting.csv``), *not written* when its notebook ran
to the end (a section with nothing to show, e.g. no ROC curve without a malignant lesion),
else *incomplete* (the notebook was not run or failed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nethelpers.config import Params
from nethelpers.stardtables import ALTERNATIVES, INTERVALS

__all__ = ["STARD_ITEMS", "StardItem", "stard_checklist", "stard_tables"]

SOFTWARE = ("nethelpers", "numpy", "scipy", "pandas", "statsmodels")
"""Packages whose versions the checklist names beside the statistical methods."""


@dataclass(frozen=True)
class StardItem:
    """One STARD 2015 item as the report addresses it.

    Attributes
    ----------
    item : str
        STARD 2015 item number, e.g. ``"12a"`` (each item has exactly one row).
    topic : str
        The item in short.
    text : str or callable
        How the report addresses it, or ``(params, versions) -> str`` when that depends on
        the parameters.
    files : tuple of str
        Report files (relative paths, ``*`` allowed) that address it.
    notebook : str
        Notebook(s) that write them (named when they are missing).
    sections : tuple of str
        The notebook sections that write them, as named in ``analyses_waiting.csv`` (e.g.
        ``"05 · Cut-offs"``): when files are missing, what these sections wait for is the
        status. Empty: every waiting section of ``notebook``.
    waits_for : str
        What the item waits for when its files are missing and no section says (e.g. an
        optional column of the study's tables).
    manuscript : bool
        The item belongs to the manuscript: ``text`` says what to write there.
    """

    item: str
    topic: str
    text: str | Callable[[Params, dict[str, str | None]], str]
    files: tuple[str, ...]
    notebook: str
    sections: tuple[str, ...] = ()
    waits_for: str = ""
    manuscript: bool = False


FLOW = ("Participant flow from enrolment through groups, index tests and reference standard "
        "to the final diagnosis; and for each index test (tracer × modality) the eligible "
        "patients, those without the scan, positive, negative and indeterminate results, "
        "the reference standard received and the target condition. The index tests are the "
        "baseline scans; follow-up scans are counted apart (treatment response, notebook "
        "06).")


CROSS_TAB = ("2×2 tables (TP, FP, FN, TN) of every index test against the reference standard, "
             "at patient level (per group too) and at lesion level. Beside them, n_excluded "
             "counts the results left out of the 2×2 table: indeterminate results excluded by "
             "the rule (index_test.equivocal = exclude) and, at patient level, scans not read "
             "by the index-test reader; n_no_reference counts those without a "
             "reference-standard result.")


def _indeterminate(p: Params, v: dict[str, str | None]) -> str:
    def how(rule: str) -> str:
        return "excluded" if rule == "exclude" else f"counted {rule}"

    rule = p.index_test
    return (f"An equivocal call is an indeterminate index-test result. Main analysis: "
            f"{how(rule.equivocal)}; sensitivity analysis at lesion level: "
            f"{how(rule.equivocal_sensitivity)}. At patient level a scan whose only "
            "non-negative calls are equivocal is indeterminate; the flow diagrams show that "
            "branch and the rule applied, and a branch for scans not read. Equivocal calls "
            "are counted per scan type.")


MISSING = ("Rows failing the data checks are excluded with everything that depends on them, "
           "each listed with its reason; scans that could not be measured are listed with "
           "theirs. A patient without disease_present (the reference-standard result) is left "
           "out of the patient-level accuracy and counted (n_no_reference); a lesion without "
           "truth is left out of the lesion-level accuracy and counted, its reads still count "
           "at patient level; a scan without any read of the index-test reader is not read "
           "(left out and counted in the flow, never counted negative; a scan read with "
           "nothing called is one negative read with lesion_id none); a scan at a follow-up "
           "time point is not an index test (notebook 06, treatment response, compares it "
           "with its baseline; the flow diagrams count it apart); when a patient has "
           "several other scans of one type, the first is the index test and the others are "
           "counted as repeats. Every row left out is listed in left_out.csv (exclusions.csv and "
           "quantification_qc.csv hold the details).")


UNITS = ("Patient level: one result per scan, positive when any lesion is called positive; "
         "target condition the final diagnosis. Lesion level: one result per scan × lesion, "
         "target condition a malignant lesion; lesions are clustered within patients: "
         "ratio-estimator variance (Rao & Scott 1992) with an effective-sample-size "
         "interval, clustered McNemar (Obuchowski 1998) and clustered AUC (Obuchowski "
         "1997). Tracer comparisons pair lesions within patients; the uptake of two tracers "
         "is described per tracer, not tested against each other.")


def _precision(p: Params, v: dict[str, str | None]) -> str:
    from nethelpers.methods import CI_WORDS

    software = ", ".join(f"{k} {v.get(k) or '?'}" for k in SOFTWARE)
    how = f"{CI_WORDS[p.stats.ci_method]} interval" if p.stats.ci_method in CI_WORDS else (
        p.stats.ci_method)
    return (f"{p.stats.ci_level:.0%} confidence intervals: proportions by the {how} "
            "(cluster-adjusted at lesion level); LR+, LR− and DOR by the log method; AUC by "
            f"DeLong; bootstrap intervals seeded ({p.stats.seed}). Python "
            f"{v.get('python') or '?'}; {software}. Methods checked against R (pROC, psych, "
            "geepack, base R) in the test suite.")


def _methods_14(p: Params, v: dict[str, str | None]) -> str:
    """Item 14 in one row: units of analysis and clustering, then intervals and software."""
    return f"{UNITS} {_precision(p, v)}"


def _cutoffs(p: Params, v: dict[str, str | None]) -> str:
    from nethelpers.scores import ScoreRules

    rule = ScoreRules(**p.scores.model_dump()).positivity_text
    return ("Visual calls: positive, negative or equivocal, by the reader. Quantitative test: "
            f"pre-specified cut-off of the protocol, {rule}. Youden cut-offs of SUVmax and T/B "
            "are exploratory (chosen on the same data, optimistic), labelled so and printed "
            "with the digits that reproduce their 2×2 tables.")


BASELINE = ("Table 1 per protocol group: demographics, body size, final diagnosis and "
            "reference standard, NET grade and Ki-67, FGF23 and phosphate.")


ESTIMATES = ("Sensitivity, specificity, PPV, NPV, accuracy, LR+, LR− and DOR with intervals "
             "per tracer × modality, at patient level and (cluster-adjusted) lesion level; "
             "forest plots; ROC AUC of SUVmax and T/B; the false calls with their causes.")


PATIENTS, LESIONS = "05 · Patient-level accuracy", "05 · Lesion-level accuracy"
ROC, FLOW_05 = "05 · ROC of SUVmax and T/B", "05 · Flow of each index test"

def _manuscript(item: str, topic: str, text: str) -> StardItem:
    return StardItem(item, topic, text, (), "", manuscript=True)


def _index_test(p: Params, v: dict[str, str | None]) -> str:
    return (f"Index tests: the visual calls of reader {p.index_test.reader} on each tracer × "
            "modality (68Ga-DOTATATE and 18F-FDG PET on PET/CT and PET/MR, 99mTc-HYNIC-TOC "
            "SPECT/CT in the protocol); the scans with "
            "their scanners are listed per index test. Acquisition and reconstruction "
            "protocols belong to the manuscript.")


def _reference(p: Params, v: dict[str, str | None]) -> str:
    return ("Reference standard: the final diagnosis by histopathology or follow-up "
            "(patients' reference_standard; lesions' truth), counted per group in Table 1. "
            "Target condition: disease present (patient level), a malignant lesion (lesion "
            "level).")


def _variability(p: Params, v: dict[str, str | None]) -> str:
    return ("Pre-specified: accuracy per protocol group and per tracer × modality; the "
            "sensitivity analysis of equivocal calls "
            f"(counted {p.index_test.equivocal_sensitivity}). Exploratory: Youden cut-offs "
            "and the subgroups by region; labelled so where they appear.")


ALTERNATIVES_TEXT = ("Patients without the target condition by final diagnosis and reference "
                     "standard; lesions present at baseline that are not malignant by truth "
                     "(benign, physiological) and description, with their reference "
                     "standard.")

INTERVAL_TEXT = ("Days from each index test (the patient's baseline scan of each type; "
                 "follow-up scans are analysed in notebook 06, treatment response) to the "
                 "reference standard (the patients' "
                 "reference_date: histopathology, end of follow-up), per tracer × modality: "
                 "median [IQR], range, and how many references preceded the scan. Clinical "
                 "interventions between index test and reference standard (e.g. treatment "
                 "started before surgery) are not in the study's tables: state them in the "
                 "manuscript.")

RUNNER = "(report runner)"

STARD_ITEMS = (
    _manuscript("1", "Title or abstract: identification as a study of diagnostic accuracy",
                "Name at least one measure of accuracy (sensitivity, specificity, AUC) in "
                "the title or abstract."),
    _manuscript("2", "Structured abstract", "Design, methods, results and conclusions; the "
                "report's summary gives the headline numbers."),
    _manuscript("3", "Scientific and clinical background, intended use of the index test",
                "Intended use and clinical role of SSTR and FDG PET on PET/CT and PET/MR."),
    _manuscript("4", "Study objectives and hypotheses", "The protocol's questions."),
    _manuscript("5", "Data collection planned before the index test and reference "
                "standard (prospective study)", "Prospective study: state it."),
    _manuscript("6", "Eligibility criteria", "Per protocol group (the groups of Table 1)."),
    _manuscript("7", "On what basis eligible participants were identified",
                "Symptoms, previous results, registry."),
    _manuscript("8", "Where and when eligible participants were identified",
                "Setting, centres and dates of recruitment."),
    _manuscript("9", "Consecutive, random or convenience series", "State the series."),
    StardItem("10a", "Index test, in sufficient detail to allow replication", _index_test,
              ("tables/scan_inventory.csv", "tables/index_test_flow.csv"),
              "01_cohort, 05_diagnostic_accuracy", ("01 · Scan inventory", FLOW_05)),
    StardItem("10b", "Reference standard, in sufficient detail to allow replication",
              _reference, ("tables/table1.csv",), "01_cohort", ("01 · Table 1",)),
    _manuscript("11", "Rationale for choosing the reference standard",
                "Why histopathology or follow-up, and their duration."),
    StardItem("12a", "Index test positivity cut-offs: pre-specified vs exploratory",
              _cutoffs, ("tables/cutoffs.csv", "tables/roc_auc.csv"), "05_diagnostic_accuracy",
              (ROC, "05 · Cut-offs")),
    _manuscript("12b", "Reference standard positivity cut-offs or categories",
                "Histopathological criteria of malignancy; what follow-up counted as "
                "disease."),
    _manuscript("13a", "Whether clinical information and reference standard results were "
                "available to the readers of the index test",
                "State the blinding of the readers (in the ROI store, readers are blinded "
                "to each other)."),
    _manuscript("13b", "Whether clinical information and index test results were available "
                "to the assessors of the reference standard", "State it."),
    StardItem("14", "Methods for estimating or comparing measures of diagnostic accuracy: "
              "units of analysis, clustering, confidence intervals, software",
              _methods_14,
              ("tables/accuracy_lesion_level.csv", "tables/mcnemar_dotatate_vs_fdg.csv",
               "provenance.json"),
              "04_tracer_comparison, 05_diagnostic_accuracy",
              ("04 · SSTR versus FDG PET: detection", LESIONS)),
    StardItem("15", "Indeterminate index test results and how they were handled",
              _indeterminate,
              ("tables/indeterminate_results.csv", "tables/index_test_flow.csv",
               "tables/accuracy_lesion_level_equivocal_*.csv"), "05_diagnostic_accuracy",
              ("05 · Indeterminate results", FLOW_05)),
    StardItem("16", "Missing data and exclusions", MISSING,
              ("tables/left_out.csv", "tables/exclusions.csv", "tables/quantification_qc.csv"),
              "01_cohort, 03_quantification"),
    StardItem("17", "Analyses of variability in accuracy: pre-specified vs exploratory",
              _variability,
              ("tables/accuracy_patient_level_by_group.csv",
               "tables/accuracy_lesion_level_equivocal_*.csv"), "05_diagnostic_accuracy",
              (PATIENTS, "05 · Indeterminate results")),
    _manuscript("18", "Intended sample size and how it was determined",
                "The protocol's sample size calculation."),
    StardItem("19", "Flow of participants (diagram), per index test", FLOW,
              ("figures/participant_flow.png", "figures/flow_*.png",
               "tables/index_test_flow.csv", "tables/left_out.csv"),
              "01_cohort, 05_diagnostic_accuracy", ("01 · Participant flow", FLOW_05)),
    StardItem("20", "Baseline characteristics", BASELINE, ("tables/table1.csv",), "01_cohort",
              ("01 · Table 1",)),
    StardItem("21a", "Distribution of severity of disease in those with the target condition",
              "NET grade and Ki-67 per group (Table 1); lesions per patient and site in the "
              "lesion-level tables.", ("tables/table1.csv",), "01_cohort", ("01 · Table 1",)),
    StardItem("21b", "Distribution of alternative diagnoses in those without the target "
              "condition", ALTERNATIVES_TEXT, (f"tables/{ALTERNATIVES}.csv",), RUNNER,
              waits_for="the patients table's disease_present (no patient without the "
              "target condition is known)"),
    StardItem("22", "Time interval and clinical interventions between index test and "
              "reference standard", INTERVAL_TEXT, (f"tables/{INTERVALS}.csv",), RUNNER,
              waits_for="the optional reference_date column of the patients table (date of "
              "the histopathology or of the end of follow-up)"),
    StardItem("23", "Cross tabulation of index test and reference standard (2×2)", CROSS_TAB,
              ("tables/accuracy_patient_level.csv", "tables/accuracy_lesion_level.csv",
               "tables/accuracy_patient_level_by_group.csv"), "05_diagnostic_accuracy",
              (PATIENTS, LESIONS)),
    StardItem("24", "Estimates of accuracy and their precision", ESTIMATES,
              ("figures/forest_patient_level.png", "figures/forest_lesion_level.png",
               "figures/roc_*.png", "tables/false_calls.csv"), "05_diagnostic_accuracy",
              (PATIENTS, LESIONS, ROC, "05 · False positives and false negatives")),
    _manuscript("25", "Adverse events from the index test or the reference standard",
                "State any (radiation dose, contrast reactions, biopsy complications)."),
    _manuscript("26", "Study limitations", "Bias, statistical uncertainty, generalisability."),
    _manuscript("27", "Implications for practice", "Intended use and clinical role."),
    _manuscript("28", "Registration number and name of registry", "Give them."),
    _manuscript("29", "Where the full study protocol can be accessed", "Give it."),
    _manuscript("30", "Sources of funding and role of funders", "Give them."),
)
"""Every STARD 2015 item, in item order (those of the manuscript marked so)."""


def _found(out: Path, patterns: tuple[str, ...]) -> tuple[list[str], list[str]]:
    found, missing = [], []
    for pattern in patterns:
        hits = sorted(p.relative_to(out).as_posix() for p in out.glob(pattern) if p.is_file())
        (found.extend(hits) if hits else missing.append(pattern))
    return found, missing


def _waiting(out: Path, entry: StardItem) -> str:
    """What the sections of ``entry`` wait for (analyses_waiting.csv), or ""."""
    from nethelpers.readiness import gist
    from nethelpers.report import WAITING

    path = out / "tables" / f"{WAITING}.csv"
    if not path.is_file():
        return ""
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    if entry.sections:
        rows = rows[rows["section"].isin(entry.sections)]
    else:
        prefixes = tuple(f"{name.strip()[:2]} · " for name in entry.notebook.split(","))
        rows = rows[rows["section"].str.startswith(prefixes)]
    if rows.empty:
        return ""
    needs = "; ".join(dict.fromkeys(gist(text) for text in rows["waits_for"]))
    return f"waiting: {needs} ({'; '.join(rows['section'])})"


def _not_written(out: Path, entry: StardItem, missing: list[str]) -> str:
    """Why files are missing when no section waits: the notebook failed or wrote none."""
    names = [n.strip() for n in entry.notebook.split(",")]
    files = ", ".join(missing)
    if all((out / "tables" / f"summary_{name}.csv").is_file() for name in names):
        return (f"not written: {files} ({entry.notebook} ran to the end; the section says "
                "why there is nothing to show)")
    return f"incomplete: {files} missing (from {entry.notebook})"


def stard_checklist(params: Params, out: str | Path,
                    versions: dict[str, str | None]) -> pd.DataFrame:
    """List the STARD 2015 items the report addresses, how, and in which files.

    Parameters
    ----------
    params : Params
        Validated parameters (the rules quoted in the text).
    out : str or Path
        The report folder (files are looked up there).
    versions : dict
        Package versions (``provenance.json``'s ``versions``).

    Returns
    -------
    pandas.DataFrame
        One row per item, every STARD 2015 item in order: ``item, topic, status``
        (``manuscript`` for an item the manuscript gives, ``how`` saying what to write;
        ``addressed``; ``waiting: …`` saying what for and naming the sections, when files
        are missing and the item's sections (or an optional column) wait for data;
        ``not written`` when its notebooks ran to the end; else ``incomplete`` naming the
        notebook whose files are missing),
        ``how`` and ``files`` (``;``-separated relative paths).
    """
    out = Path(out)
    rows = []
    for entry in STARD_ITEMS:
        found, missing = _found(out, entry.files)
        if entry.manuscript:
            status = "manuscript"
        elif not missing:
            status = "addressed"
        else:
            status = (_waiting(out, entry)
                      or (f"waiting: {entry.waits_for}" if entry.waits_for else "")
                      or _not_written(out, entry, missing))
        rows.append({"item": entry.item, "topic": entry.topic, "status": status,
                     "how": entry.text if isinstance(entry.text, str)
                     else entry.text(params, versions), "files": ";".join(found)})
    return pd.DataFrame(rows)


def stard_tables(patients: pd.DataFrame, scans: pd.DataFrame,
                 lesions: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """The tables of items 21b and 22 the report runner writes (name -> table).

    Parameters
    ----------
    patients, scans : pandas.DataFrame
        The checked patients and scans tables.
    lesions : pandas.DataFrame, optional
        The checked lesions table.

    Returns
    -------
    dict
        :data:`~nethelpers.stardtables.ALTERNATIVES` (item 21b) when any patient or lesion
        is without the target condition; :data:`~nethelpers.stardtables.INTERVALS` (item
        22) when the patients table has a reference date. An item without its table is
        listed as waiting, saying for what.
    """
    from nethelpers.stardtables import alternative_diagnoses, time_to_reference

    tables = {ALTERNATIVES: alternative_diagnoses(patients, lesions),
              INTERVALS: time_to_reference(patients, scans)}
    if INTERVALS in tables and tables[INTERVALS]["n"].sum() == 0:
        del tables[INTERVALS]
    return {name: table for name, table in tables.items() if len(table)}
