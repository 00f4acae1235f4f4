"""The methods sentences of treatment response and recurrence (notebook 06).

:func:`nethelpers.methods.methods_paragraph` adds :func:`response_methods`: the rule set of
each tracer family with its thresholds (from the parameters), how lesions are followed
across time points, and -- when their tables are in the report folder -- the agreement of
PET/MR with PET/CT and the detection of recurrence. Like the rest of the paragraph, a report
folder's tables decide what is described; without a folder every analysis is described.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nethelpers.reporttables import has_table
from nethelpers.responsecriteria import RULE_SETS

__all__ = ["response_methods"]

_RULE_WORDS = {
    "percist": "PERCIST 1.0 (Wahl 2009; O 2016): the SULpeak of the hottest lesion at each "
               "time point, measurable at baseline when at least {mean:g} × liver SULmean + "
               "{sd:g} SD",
    "suvmax": "the SUVmax of the hottest lesion at each time point (a PERCIST-like "
              "adaptation; no consensus SSTR-PET criteria exist)",
    "tlr": "the tumour-to-liver SUVmax ratio of the hottest lesion (after Haug 2010)",
    "tsr": "the tumour-to-spleen SUVmax ratio of the hottest lesion (Haug 2010)",
}


_SELECTION = {
    "called": "Target, new and disappeared lesions were those the index-test reader "
              "({reader}) called positive on either scan, blind to the reference standard.",
    "malignant": "Target, new and disappeared lesions were those with a malignant reference "
                 "standard (a sensitivity analysis: targets chosen with the reference "
                 "standard).",
    "all": "Every lesion with a VOI took part, physiological and benign foci included.",
}


def _rule(params: Any, name: str) -> str:
    q = params.quantify
    return _RULE_WORDS[name].format(mean=q.percist_mean_factor, sd=q.percist_sd_factor)


def _thresholds(params: Any) -> str:
    r = params.response
    minimum = (f" and by at least {r.percist_absolute_sul:g} SUL units under PERCIST"
               + (f" ({r.absolute_change:g} under the other rules)" if r.absolute_change
                  else ""))
    return (f"Partial response needed a fall of the target by at least "
            f"{r.relative_change:.0%}{minimum}, progression the same rise or a new lesion; "
            "complete response, every lesion gone or at or below the liver")


def response_methods(params: Any, out: str | Path | None = None) -> str:
    """Describe the response analysis of a report, or '' when it has none.

    Parameters
    ----------
    params : nethelpers.config.Params
        The parameters (rule sets, thresholds, PERCIST factors).
    out : str or Path, optional
        The report folder; None describes every analysis.

    Returns
    -------
    str
        Sentences (plain text), empty when the report has no response table.
    """
    folder = Path(out) if out is not None else None
    if not has_table(folder, "response_patients"):
        return ""
    r = params.response
    fdg, sstr = RULE_SETS[r.fdg_criteria].name, RULE_SETS[r.sstr_criteria].name
    text = ("Treatment response compared each follow-up scan with the baseline scan of the "
            "same patient, tracer and modality, with the days between them; each lesion kept "
            "the identifier the reader gave it at every time point (the review proposed the "
            "matches after registering the follow-up CT or MR to the baseline). "
            f"{_SELECTION[r.lesions].format(reader=params.index_test.reader)} "
            f"FDG response followed {_rule(params, fdg)}; somatostatin-receptor response "
            f"followed {_rule(params, sstr)}. {_thresholds(params)}.")
    extra = []
    if has_table(folder, "response_agreement_petmr_petct"):
        extra.append("the agreement of the category between PET/MR and PET/CT by the "
                     "proportion of agreement and Cohen's κ (unweighted and linearly weighted)")
    if has_table(folder, "recurrence_accuracy"):
        extra.append("the detection of recurrence (a new lesion called positive at follow-up "
                     "against a malignant lesion first present then) by sensitivity and "
                     "specificity")
    if extra:
        text += " We report " + " and ".join(extra) + "."
    return text
