"""The ``reading:`` section of the parameters: causes of false calls and regions of sites.

Readers write the cause of a false-positive or false-negative call in free text ("small lesion
(8 mm) below PET resolution", "too small, PVE", "SSTR-negative G3"). The analysis counts
*controlled* causes: every text is matched against ``cause_rules`` in order, and the first rule
whose regular expression is found in the text (case-insensitive) gives its controlled ``cause``
and, where the rule names one, its ``detail`` (the named organ of physiological uptake, the
named benign lesion). A text that no rule matches is counted as :attr:`ReadingConfig.unmatched`
("other") and listed, so a rule can be added; a false call without any text is counted as
:attr:`ReadingConfig.not_recorded`. The reader's text is always kept beside the cause.

The region (organ) of a lesion comes from the lesions table's ``site`` through ``site_regions``
(exact site code, case-insensitive) and then ``region_prefixes`` (e.g. every ``bone_*`` site is
bone); a site neither names is counted in :attr:`ReadingConfig.other_region` and listed.

Every default lives here, once; ``parameters/*.yaml`` may override any key under ``reading:``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["CAUSES", "CauseRule", "ReadingConfig", "REGIONS"]

CAUSES = (
    "small lesion below resolution",
    "low SSTR expression",
    "low FDG avidity",
    "physiological uptake",
    "inflammation/infection",
    "benign lesion",
    "masking by background",
    "motion/misregistration",
    "other",
)
"""The controlled causes of a false call, in the order tables list them."""

REGIONS = ("liver", "lymph nodes", "bone", "pancreas", "bowel", "lung", "spleen",
           "soft tissue", "head and neck", "other")
"""The regions (organs) of lesions, in the order tables list them."""


class CauseRule(BaseModel):
    """One matching rule: a regular expression searched in the reader's text.

    Parameters
    ----------
    pattern : str
        Python regular expression, searched case-insensitively anywhere in the text.
    cause : str
        The controlled cause (one of :attr:`ReadingConfig.causes`).
    detail : str
        The named organ or lesion (e.g. ``"uncinate process"``), empty when none.
    """

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(min_length=1)
    cause: str = Field(min_length=1)
    detail: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"pattern {value!r} is not a valid regular expression: {exc}"
                             ) from None
        return value


def _rule(pattern: str, cause: str, detail: str = "") -> CauseRule:
    return CauseRule(pattern=pattern, cause=cause, detail=detail)


#: Specific names first (a benign lesion, an organ), then the mechanisms; the first match wins.
DEFAULT_RULES = (
    _rule(r"accessory spleen|splen(ule|unculus)", "benign lesion", "accessory spleen"),
    _rule(r"uncinate", "physiological uptake", "uncinate process"),
    _rule(r"fractur", "benign lesion", "fracture"),
    _rule(r"degenerat|osteoarthr|osteophyt", "benign lesion", "degenerative bone change"),
    _rule(r"ha?emangioma", "benign lesion", "haemangioma"),
    _rule(r"adenoma", "benign lesion", "adenoma"),
    _rule(r"inflamm|reactive|infect|abscess|granulom|sarcoid", "inflammation/infection"),
    _rule(r"motion|misregist|misalign|breathing|respirat", "motion/misregistration"),
    _rule(r"(mask|obscur|hidden).*liver|liver.*(mask|obscur|hidden|background)",
          "masking by background", "liver"),
    _rule(r"mask|obscur|hidden|background|contrast", "masking by background"),
    _rule(r"small(?![- ]?(bowel|intestine))|sub-?cent|partial[- ]volume|\bPVE\b|resolution",
          "small lesion below resolution"),
    _rule(r"SSTR|somatostatin|receptor|dedifferentiat|poorly differentiated|\bG3\b",
          "low SSTR expression"),
    _rule(r"FDG|glycoly|avid|well[- ]differentiated|low[- ]grade", "low FDG avidity"),
    _rule(r"physiolog", "physiological uptake"),
    _rule(r"benign", "benign lesion"),
)

DEFAULT_SITE_REGIONS = {
    "liver": "liver", "pancreas": "pancreas", "uncinate": "pancreas",
    "small_bowel": "bowel", "large_bowel": "bowel", "colon": "bowel", "rectum": "bowel",
    "stomach": "bowel", "duodenum": "bowel", "lung": "lung", "spleen": "spleen",
    "accessory_spleen": "spleen", "head_sinonasal": "head and neck",
}
DEFAULT_REGION_PREFIXES = {"lymph_node": "lymph nodes", "bone": "bone",
                           "soft_tissue": "soft tissue", "head": "head and neck"}


class ReadingConfig(BaseModel):
    """The ``reading:`` section: controlled causes of false calls and regions of sites."""

    model_config = ConfigDict(extra="forbid")

    causes: list[str] = Field(default_factory=lambda: list(CAUSES),
                              description="Controlled causes of a false call, in table order.")
    cause_rules: list[CauseRule] = Field(
        default_factory=lambda: [r.model_copy() for r in DEFAULT_RULES],
        description="Reader's text -> controlled cause: the first rule whose pattern is found "
        "(case-insensitive) applies.")
    unmatched: str = Field("other", description="Cause of a text no rule matches (listed).")
    not_recorded: str = Field("not recorded", description="Cause of a false call without text.")
    regions: list[str] = Field(default_factory=lambda: list(REGIONS),
                               description="Regions (organs), in table order.")
    site_regions: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_SITE_REGIONS),
        description="Lesion site code -> region (exact code, case-insensitive).")
    region_prefixes: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_REGION_PREFIXES),
        description="Site code prefix -> region, for sites site_regions does not name.")
    other_region: str = Field("other", description="Region of a site nothing names (listed).")
    discordant_gallery: int = Field(
        24, ge=0, description="Discordant lesions (visual call vs protocol rule) shown as "
        "image tiles, the most discordant first (0: no gallery).")

    @model_validator(mode="after")
    def _known_names(self) -> ReadingConfig:
        causes = set(self.causes)
        if self.unmatched not in causes:
            raise ValueError(f"reading.unmatched {self.unmatched!r} is not one of "
                             f"reading.causes {self.causes}")
        if self.not_recorded in causes:
            raise ValueError(f"reading.not_recorded {self.not_recorded!r} must differ from "
                             "every reading.causes entry (a missing cause is not a cause)")
        for i, rule in enumerate(self.cause_rules):
            if rule.cause not in causes:
                raise ValueError(f"reading.cause_rules[{i}].cause {rule.cause!r} is not one "
                                 f"of reading.causes {self.causes}")
        regions = set(self.regions)
        if self.other_region not in regions:
            raise ValueError(f"reading.other_region {self.other_region!r} is not one of "
                             f"reading.regions {self.regions}")
        for key, mapping in (("site_regions", self.site_regions),
                             ("region_prefixes", self.region_prefixes)):
            bad = sorted({v for v in mapping.values() if v not in regions})
            if bad:
                raise ValueError(f"reading.{key} maps to region(s) {bad} not in "
                                 f"reading.regions {self.regions}")
        return self
