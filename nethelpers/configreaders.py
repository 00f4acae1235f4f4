"""The ``readers:`` section of the parameters: inter-reader agreement and SSTR-RADS.

Every default lives here, once; ``parameters/*.yaml`` may override any key under ``readers:``.
The bootstrap seed is the report's ``stats.seed``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReadersConfig"]


class ReadersConfig(BaseModel):
    """Inter-reader agreement (notebook 05, section Readers) and SSTR-RADS 1.0."""

    model_config = ConfigDict(extra="forbid")

    kappa_weighting: Literal["unweighted", "linear", "quadratic"] = Field(
        "linear", description="Weighting of Cohen's kappa of the ordered visual calls "
        "(negative < equivocal < positive); stated in every table row.")
    n_boot: int = Field(
        2000, ge=200, description="Replicates of the cluster (patient) bootstrap of the kappa "
        "and ICC intervals.")
    min_pairs: int = Field(
        5, ge=3, description="Fewest lesions read by both readers (in at least 2 patients) "
        "for a kappa or ICC.")
    sstr_intense_from: int = Field(
        2, ge=2, le=4, description="SSTR-RADS: smallest uptake grade (sstr_uptake) that is "
        "'intense' (2: above blood pool; 3: above liver; 4: above spleen).")
    consensus: str = Field(
        "consensus", min_length=1, description="Reader name of the consensus read (made from "
        "the independent readers by an adjudicator); never in the kappa/ICC.")
    share_reference_regions: bool = Field(
        False, description="A reader without ROIs on a scan is offered the reference regions "
        "(liver, spleen, ...) of another reader's newest set; never their lesions or calls.")
    sstr_positive_from: int = Field(
        4, ge=2, le=5, description="SSTR-RADS category from which a lesion or patient counts "
        "positive in the accuracy tables (4: SSTR-RADS 4 and 5).")
