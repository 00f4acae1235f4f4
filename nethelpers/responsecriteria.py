"""Rule sets of metabolic / molecular treatment response and the decision they make.

Four rule sets, named in the parameters (``response.fdg_criteria``, ``response.sstr_criteria``)
and in the ``criteria`` column of every response table, each with its source:

``percist``
    PERCIST 1.0: Wahl RL, Jacene H, Kasamon Y, Lodge MA. From RECIST to PERCIST: evolving
    considerations for PET response criteria in solid tumors. *J Nucl Med*
    2009;50 Suppl 1:122S-150S, doi:10.2967/jnumed.108.057307; applied as in O JH, Lodge MA,
    Wahl RL. Practical PERCIST: a simplified guide to PET response criteria in solid tumors
    1.0. *Radiology* 2016;280:576-584, doi:10.1148/radiol.2016142043. Statistic: SULpeak.
    A lesion is *measurable* when SULpeak >= 1.5 x liver SULmean + 2 x liver SD (3 cm liver
    sphere; ``quantify.percist_mean_factor`` / ``percist_sd_factor``), or, with
    ``percist_reference: blood_pool`` (abnormal liver), >= 2.0 x blood-pool SULmean + 2 SD
    (``blood_pool_mean_factor`` / ``blood_pool_sd_factor``: PERCIST 1.0 writes this threshold
    once with and once without the + 2 SD term; 0 gives the reading without it).
    The *target* is the single hottest lesion at each time point, not necessarily the same
    lesion: at baseline the hottest measurable lesion, at follow-up the hottest lesion.
``suvmax``
    The PERCIST thresholds applied to the SUVmax of the hottest lesion. The baseline target
    is the hottest lesion above the liver (SUVmax > liver SUVmean, the study's positivity
    rule: the analogue of PERCIST measurability), the follow-up target the hottest lesion.
    A study adaptation for SSTR PET: no consensus SSTR-PET response criteria exist
    (Liberini V, Huellner MW, Grimaldi S, et al. The challenge of evaluating response to
    peptide receptor radionuclide therapy in gastroenteropancreatic neuroendocrine tumors:
    the present and the future. *Diagnostics* 2020;10:1083,
    doi:10.3390/diagnostics10121083).
``tlr``
    The same thresholds on the tumour-to-liver ratio (lesion SUVmax / liver SUVmean of the
    same scan), which cancels a global change of uptake between the scans; a study adaptation
    after Haug 2010 (next), with the liver as the reference.
``tsr``
    The same thresholds on the tumour-to-spleen ratio (lesion SUVmax / spleen SUVmean): Haug
    AR, Auernhammer CJ, Wängler B, et al. 68Ga-DOTATATE PET/CT for the early prediction of
    response to somatostatin receptor-mediated radionuclide therapy in patients with
    well-differentiated neuroendocrine tumors. *J Nucl Med* 2010;51:1349-1356,
    doi:10.2967/jnumed.110.075002. Haug et al. compared any decrease with stable or increased
    ratios; here the study's ``relative_change`` threshold applies.

The decision (:func:`categorise`), the same for every rule set, in this order:

1. **PMD** when a lesion is new at follow-up (a lesion_id with a lesion ROI at follow-up and
   none at baseline: PERCIST's "new lesion typical of cancer", here a lesion the reader drew;
   it needs no reference and no measurable baseline disease).
2. No category (NA, with the reason) when the baseline has no target: no lesion, no
   measurable lesion (PERCIST; the other rule sets: none above the liver), a missing
   reference, or a missing statistic.
3. **PMD** when the target rises by >= ``relative_change`` (30 %) AND by >= the absolute
   minimum (PERCIST 0.8 SUL units; ``absolute_change`` for the other rule sets).
4. **CMR** when every lesion at follow-up is gone (no ROI) or resolved: its value at or below
   the follow-up liver mean (PERCIST: SULpeak <= liver SULmean, and, when a blood pool ROI
   was measured, <= its SULmean + 2 SD; with ``percist_reference: blood_pool`` the blood
   pool is required and the liver applies when measured; the other rule sets: SUVmax <=
   liver SUVmean). NA when a remaining lesion cannot be judged (no follow-up reference, or
   no SUL on it).
5. **PMR** when the target falls by >= ``relative_change`` AND by >= the absolute minimum.
6. **SMD** otherwise.

Boundaries are inclusive (O et al. 2016: ">= 30 %" and ">= 0.8"; PERCIST 1.0's table writes
">30 %" and ">0.8" for progression) and compared with a tolerance of 1e-9, so that a change
of exactly 30 % or 0.8 written in decimals meets the rule (the same tolerance applies to
measurability and to "at or below the liver"). Not applied: PERCIST's visual
criteria (unequivocal progression of non-target lesions, the TLG +75 % secondary rule,
"typical of cancer" beyond the reader's drawing).

PERCIST's comparability conditions (Wahl 2009, PERCIST 1.0 table; O et al. 2016) are noted,
never refused (:func:`nethelpers.response.patient_response`'s ``note``): a reference SULmean
(the liver; the blood pool with ``percist_reference: blood_pool``) that changes by more than
``liver_change_relative`` (20 %) of the larger of the two values or by more than
``liver_change_sul`` (0.3 SUL); a different modality or scanner (manufacturer and model of
the scans table; PERCIST: the same scanner, or the same model at the same site); a follow-up
on the day of its baseline. Not checked: the uptake times within 15 min of each other and
the injected doses within 20 % (neither is in the measurement rows nor in the scans table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nethelpers.configresponse import RULE_SET_NAMES
from nethelpers.scores import FDG_TRACER, SSTR_TRACERS

__all__ = ["CATEGORIES", "RULE_SETS", "ResponseRules", "RuleSet", "TOLERANCE", "categorise"]

#: Response categories, best first.
CATEGORIES = ("CMR", "PMR", "SMD", "PMD")
#: Tolerance of the threshold comparisons (a change of exactly 30 % meets the rule).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class RuleSet:
    """One named rule set: what is compared, and where it comes from."""

    name: str
    statistic: str
    label: str


RULE_SETS = {
    "percist": RuleSet("percist", "sul_peak",
                       "PERCIST 1.0 SULpeak (Wahl 2009 J Nucl Med 50:122S; O 2016 "
                       "Radiology 280:576)"),
    "suvmax": RuleSet("suvmax", "suv_max",
                      "PERCIST-like SUVmax, SSTR adaptation (no consensus: Liberini 2020 "
                      "Diagnostics 10:1083)"),
    "tlr": RuleSet("tlr", "tlr",
                   "tumour-to-liver SUVmax ratio, adaptation of Haug 2010 J Nucl Med "
                   "51:1349"),
    "tsr": RuleSet("tsr", "tsr", "tumour-to-spleen SUVmax ratio (Haug 2010 J Nucl Med "
                   "51:1349)"),
}
assert tuple(RULE_SETS) == RULE_SET_NAMES


@dataclass(frozen=True)
class ResponseRules:
    """Parameters of the response rules (defaults: the study's; see the module docstring).

    Parameters
    ----------
    fdg_criteria, sstr_criteria : str
        Rule set (a :data:`RULE_SETS` key) of FDG and of somatostatin-receptor scans.
    relative_change : float
        Fraction the target must fall (PMR) or rise (PMD) by. Default 0.30.
    percist_absolute_sul : float
        PERCIST: SUL units the target must also change by. Default 0.8.
    absolute_change : float
        suvmax, tlr, tsr: the target must also change by this much. Default 0.
    percist_reference : {"liver", "blood_pool"}
        Reference of PERCIST measurability. Default liver.
    mean_factor, sd_factor : float
        PERCIST liver threshold factors (quantify's ``percist_mean_factor`` 1.5 and
        ``percist_sd_factor`` 2).
    blood_pool_mean_factor, blood_pool_sd_factor : float
        PERCIST blood-pool threshold: factor x SULmean + sd factor x SD. Defaults 2.0, 2.0.
    liver_change_relative, liver_change_sul : float
        A reference SULmean changing between the scans by more than this fraction of the
        larger value, or by more than this many SUL units, is noted (0.20, 0.3).
    sstr_tracers, fdg_tracers : frozenset of str
        Tracer names of the two families (upper case).
    """

    fdg_criteria: str = "percist"
    sstr_criteria: str = "suvmax"
    relative_change: float = 0.30
    percist_absolute_sul: float = 0.8
    absolute_change: float = 0.0
    percist_reference: str = "liver"
    mean_factor: float = 1.5
    sd_factor: float = 2.0
    blood_pool_mean_factor: float = 2.0
    blood_pool_sd_factor: float = 2.0
    liver_change_relative: float = 0.20
    liver_change_sul: float = 0.3
    sstr_tracers: frozenset[str] = SSTR_TRACERS
    fdg_tracers: frozenset[str] = frozenset({FDG_TRACER})

    def __post_init__(self) -> None:
        for name in ("fdg_criteria", "sstr_criteria"):
            if getattr(self, name) not in RULE_SETS:
                raise ValueError(f"{name} {getattr(self, name)!r}: one of "
                                 + ", ".join(RULE_SETS))
        if self.percist_reference not in ("liver", "blood_pool"):
            raise ValueError(f"percist_reference {self.percist_reference!r}: liver or "
                             "blood_pool")
        for name in ("sstr_tracers", "fdg_tracers"):
            object.__setattr__(self, name, frozenset(str(t).upper() for t in getattr(self, name)))

    @classmethod
    def from_params(cls, params: Any) -> ResponseRules:
        """The rules of ``params.response``, quantify's PERCIST factors, the vocabulary.

        The measurability factors are ``quantify.percist_mean_factor`` and
        ``percist_sd_factor``; the tracer families are the vocabulary's.

        Parameters
        ----------
        params : nethelpers.config.Params
            Validated parameters.

        Returns
        -------
        ResponseRules
        """
        vocab = params.vocabulary
        return cls(**params.response.model_dump(exclude={"match_max_mm", "lesions"}),
                   mean_factor=params.quantify.percist_mean_factor,
                   sd_factor=params.quantify.percist_sd_factor,
                   sstr_tracers=vocab.sstr_tracers, fdg_tracers=vocab.fdg_tracers)

    def rule_set(self, tracer: str) -> RuleSet | None:
        """The rule set of a tracer (None when it is neither FDG nor SSTR)."""
        tracer = str(tracer).strip().upper()
        if tracer in self.fdg_tracers:
            return RULE_SETS[self.fdg_criteria]
        if tracer in self.sstr_tracers:
            return RULE_SETS[self.sstr_criteria]
        return None

    def absolute_minimum(self, rule_set: RuleSet) -> float:
        """The absolute change the target must also reach under ``rule_set``."""
        return self.percist_absolute_sul if rule_set.name == "percist" else self.absolute_change


@dataclass(frozen=True)
class Decision:
    """A category (None: not determined) and the rule that decided it, or why none."""

    category: str | None
    decided_by: str


def categorise(rules: ResponseRules, rule_set: RuleSet, *, new: list[str],
               baseline_value: float | None, followup_value: float | None,
               resolved: bool | None, no_target_reason: str = "",
               unresolved_reason: str = "") -> Decision:
    """Apply the decision of the module docstring to one patient.

    Parameters
    ----------
    rules : ResponseRules
        Thresholds.
    rule_set : RuleSet
        The rule set (names the statistic and the absolute minimum).
    new : list of str
        lesion_ids new at follow-up.
    baseline_value, followup_value : float or None
        The targets' values (None: no baseline target / no lesion at follow-up).
    resolved : bool or None
        Every follow-up lesion gone or at or below the liver; None: cannot be judged.
    no_target_reason, unresolved_reason : str
        Why there is no baseline target / why resolution cannot be judged.

    Returns
    -------
    Decision
    """
    if new:
        return Decision("PMD", "new lesion(s) at follow-up: " + ", ".join(new))
    if baseline_value is None:
        return Decision(None, no_target_reason or "no baseline target")
    stat = rule_set.statistic
    minimum = rules.absolute_minimum(rule_set)
    rel_t = rules.relative_change
    # the absolute clause is named only when the rule has one (PERCIST's 0.8 SUL)
    rise = f" and >= +{minimum:g}" if minimum else ""
    fall = f" and <= -{minimum:g}" if minimum else ""
    either = f" with +/-{minimum:g}" if minimum else ""
    if followup_value is not None:
        change = followup_value - baseline_value
        rel = change / baseline_value
        if rel >= rel_t - TOLERANCE and change >= minimum - TOLERANCE:
            return Decision("PMD", f"target {stat} rose {rel:+.1%} ({change:+.3g}): "
                                   f">= +{rel_t:.0%}{rise}")
    if resolved is None:
        return Decision(None, unresolved_reason or "resolution cannot be judged")
    if resolved:
        return Decision("CMR", "every lesion gone or at or below the liver at follow-up")
    assert followup_value is not None  # a remaining lesion is the follow-up target
    change = followup_value - baseline_value
    rel = change / baseline_value
    if rel <= -rel_t + TOLERANCE and change <= -minimum + TOLERANCE:
        return Decision("PMR", f"target {stat} fell {rel:+.1%} ({change:+.3g}): "
                               f"<= -{rel_t:.0%}{fall}")
    return Decision("SMD", f"target {stat} changed {rel:+.1%} ({change:+.3g}): neither "
                           f"+/-{rel_t:.0%}{either}")
