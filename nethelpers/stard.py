"""The STARD 2015 items a report addresses, and where (the checklist of ``index.html``).

STARD 2015 (Bossuyt et al., BMJ 2015;351:h5527) lists 30 items a report of a diagnostic
accuracy study should give. Most belong to the manuscript (title, background, registration,
funding); the report addresses the ones that come from the data and the analysis. For each,
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

__all__ = ["STARD_ITEMS", "StardItem", "stard_checklist"]

SOFTWARE = ("nethelpers", "numpy", "scipy", "pandas", "statsmodels")
"""Packages whose versions the checklist names beside the statistical methods."""


@dataclass(frozen=True)
class StardItem:
    """One STARD 2015 item as the report addresses it.

    Attributes
    ----------
    item : str
        STARD 2015 item number, e.g. ``"12a"`` (one item may have several rows).
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
    """

    item: str
    topic: str
    text: str | Callable[[Params, dict[str, str | None]], str]
    files: tuple[str, ...]
    notebook: str
    sections: tuple[str, ...] = ()


FLOW = ("Participant flow from enrolment through groups, index tests and reference standard "
        "to the final diagnosis; and for each index test (tracer × modality) the eligible "
        "patients, those without the scan, positive, negative and indeterminate results, "
        "the reference standard received and the target condition.")


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
           "nothing called is one negative read with lesion_id none); when a patient has "
           "several scans of one type, the first is the index test and the others are counted "
           "as repeats. Every row left out is listed in left_out.csv (exclusions.csv and "
           "quantification_qc.csv hold the details).")


UNITS = ("Patient level: one result per scan, positive when any lesion is called positive; "
         "target condition the final diagnosis. Lesion level: one result per scan × lesion, "
         "target condition a malignant lesion; lesions are clustered within patients: "
         "ratio-estimator variance (Rao & Scott 1992) with an effective-sample-size "
         "interval, clustered McNemar (Obuchowski 1998) and clustered AUC (Obuchowski "
         "1997). Tracer comparisons pair lesions within patients; the Wilcoxon test of "
         "uptake is also given over patients.")


def _precision(p: Params, v: dict[str, str | None]) -> str:
    software = ", ".join(f"{k} {v.get(k) or '?'}" for k in SOFTWARE)
    return (f"{p.stats.ci_level:.0%} confidence intervals: proportions {p.stats.ci_method} "
            "(cluster-adjusted at lesion level); LR+, LR− and DOR by the log method; AUC by "
            f"DeLong; bootstrap intervals seeded ({p.stats.seed}). Python "
            f"{v.get('python') or '?'}; {software}. Methods checked against R (pROC, psych, "
            "geepack, base R) in the test suite.")


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

STARD_ITEMS = (
    StardItem("12a", "Index test positivity cut-offs: pre-specified vs exploratory",
              _cutoffs, ("tables/cutoffs.csv", "tables/roc_auc.csv"), "05_diagnostic_accuracy",
              (ROC, "05 · Cut-offs")),
    StardItem("14", "Methods for estimating and comparing accuracy: units of analysis, "
              "clustering", UNITS,
              ("tables/accuracy_lesion_level.csv", "tables/mcnemar_dotatate_vs_fdg.csv"),
              "04_tracer_comparison, 05_diagnostic_accuracy",
              ("04 · SSTR versus FDG PET: detection", LESIONS)),
    StardItem("14", "Methods: confidence intervals and software versions", _precision,
              ("provenance.json",), "(report runner)"),
    StardItem("15", "Indeterminate index test results and how they were handled",
              _indeterminate,
              ("tables/indeterminate_results.csv", "tables/index_test_flow.csv",
               "tables/accuracy_lesion_level_equivocal_*.csv"), "05_diagnostic_accuracy",
              ("05 · Indeterminate results", FLOW_05)),
    StardItem("16", "Missing data and exclusions", MISSING,
              ("tables/left_out.csv", "tables/exclusions.csv", "tables/quantification_qc.csv"),
              "01_cohort, 03_quantification"),
    StardItem("19", "Flow of participants (diagram), per index test", FLOW,
              ("figures/participant_flow.png", "figures/flow_*.png",
               "tables/index_test_flow.csv", "tables/left_out.csv"),
              "01_cohort, 05_diagnostic_accuracy", ("01 · Participant flow", FLOW_05)),
    StardItem("20", "Baseline characteristics", BASELINE, ("tables/table1.csv",), "01_cohort",
              ("01 · Table 1",)),
    StardItem("23", "Cross tabulation of index test and reference standard (2×2)", CROSS_TAB,
              ("tables/accuracy_patient_level.csv", "tables/accuracy_lesion_level.csv",
               "tables/accuracy_patient_level_by_group.csv"), "05_diagnostic_accuracy",
              (PATIENTS, LESIONS)),
    StardItem("24", "Estimates of accuracy and their precision", ESTIMATES,
              ("figures/forest_patient_level.png", "figures/forest_lesion_level.png",
               "figures/roc_*.png", "tables/false_calls.csv"), "05_diagnostic_accuracy",
              (PATIENTS, LESIONS, ROC, "05 · False positives and false negatives")),
)
"""The STARD 2015 items the report addresses, in item order."""


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
        One row per item: ``item, topic, status`` (``addressed``; ``waiting: …`` saying
        what for and naming the sections, when files are missing and the item's sections
        wait for data; ``not written`` when its notebooks ran to the end; else
        ``incomplete`` naming the notebook whose files are missing),
        ``how`` and ``files`` (``;``-separated relative paths).
    """
    out = Path(out)
    rows = []
    for entry in STARD_ITEMS:
        found, missing = _found(out, entry.files)
        status = "addressed" if not missing else (
            _waiting(out, entry) or _not_written(out, entry, missing))
        rows.append({"item": entry.item, "topic": entry.topic, "status": status,
                     "how": entry.text if isinstance(entry.text, str)
                     else entry.text(params, versions), "files": ";".join(found)})
    return pd.DataFrame(rows)
