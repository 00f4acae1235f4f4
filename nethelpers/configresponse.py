"""The ``response:`` section of the parameters: rules of treatment response between two scans.

Which rule set judges each tracer family (PERCIST 1.0 for FDG; a named SSTR-PET adaptation
for DOTATATE and the other somatostatin-receptor tracers) and every threshold of the rules,
one default each. The PERCIST measurability factors (1.5 x liver mean + 2 x SD) are not
repeated here: they are ``quantify.percist_mean_factor`` and ``quantify.percist_sd_factor``,
the same threshold quantify already uses for the PERCIST MTV. See
:mod:`nethelpers.responsecriteria` for the rules and their sources.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RULE_SET_NAMES", "ResponseConfig"]

#: The rule sets a tracer family can be judged by (see nethelpers.responsecriteria).
RULE_SET_NAMES = ("percist", "suvmax", "tlr", "tsr")

RuleSetName = Literal["percist", "suvmax", "tlr", "tsr"]


class ResponseConfig(BaseModel):
    """How the response between a baseline and a follow-up scan is categorised."""

    model_config = ConfigDict(extra="forbid")

    fdg_criteria: RuleSetName = Field(
        "percist", description="Rule set of FDG scans: percist (PERCIST 1.0, SULpeak of the "
        "hottest measurable lesion), suvmax (the same thresholds on SUVmax), tlr "
        "(tumour-to-liver SUVmax ratio) or tsr (tumour-to-spleen SUVmax ratio).",
    )
    sstr_criteria: RuleSetName = Field(
        "suvmax", description="Rule set of somatostatin-receptor scans (DOTATATE, ...): "
        "suvmax (PERCIST-like relative change of the hottest lesion's SUVmax; no published "
        "SSTR consensus exists), tlr, tsr (Haug 2010) or percist.",
    )
    relative_change: float = Field(
        0.30, gt=0, lt=1, description="Partial response: the target falls by at least this "
        "fraction; progression: it rises by at least this fraction (PERCIST: 0.30).",
    )
    percist_absolute_sul: float = Field(
        0.8, ge=0, description="PERCIST: the target's SULpeak must also change by at least "
        "this many SUL units (0.8).",
    )
    absolute_change: float = Field(
        0.0, ge=0, description="suvmax, tlr and tsr rules: the target must also change by at "
        "least this much in the rule's unit (SUV or ratio); 0: the relative change decides "
        "alone (no published value).",
    )
    percist_reference: Literal["liver", "blood_pool"] = Field(
        "liver", description="PERCIST measurability reference: liver (1.5 x SULmean + 2 SD, "
        "quantify's percist factors) or blood_pool (when the liver is abnormal: "
        "blood_pool_mean_factor x SULmean + blood_pool_sd_factor x SD).",
    )
    blood_pool_mean_factor: float = Field(
        2.0, gt=0, description="PERCIST with the blood-pool reference: this x blood-pool "
        "SULmean + blood_pool_sd_factor x SD (2.0).",
    )
    blood_pool_sd_factor: float = Field(
        2.0, ge=0, description="PERCIST with the blood-pool reference: the SDs of the blood "
        "pool added to the threshold (2.0; PERCIST 1.0 writes the blood-pool threshold once "
        "with and once without this term: 0 for the reading without it).",
    )
    liver_change_relative: float = Field(
        0.20, ge=0, description="PERCIST comparability: a liver SULmean (the blood pool's "
        "with percist_reference blood_pool) that changes between the scans by more than this "
        "fraction of the larger of the two values is stated in the note (0.20).",
    )
    liver_change_sul: float = Field(
        0.3, ge=0, description="... or by more than this many SUL units (0.3).",
    )
    match_max_mm: float = Field(
        15.0, gt=0, description="Lesion matching across time points: a baseline and a "
        "follow-up VOI are proposed as one lesion only when their centres, after the "
        "registration, lie within this distance plus the equivalent-sphere radius of the "
        "larger VOI (mm; nethelpers.lesionmatch).",
    )
    lesions: Literal["called", "malignant", "all"] = Field(
        "called", description="Which lesion VOIs take part in the response (target, new and "
        "gone lesions): called (the index-test reader called the lesion positive on either "
        "scan of the pair, equivocal calls counted as index_test.equivocal says: the "
        "reader's own judgement, blind to the reference standard), malignant (the lesions "
        "table's reference standard says malignant, pending or missing truth kept: a "
        "sensitivity analysis, since it uses the reference standard to choose the targets) "
        "or all (every lesion VOI, physiological and benign foci included).",
    )
