"""Staging change: what one scan type finds in a patient that another does not (notebook 4).

For two scan types read on the same patients (SSTR PET vs FDG PET, PET/MR vs PET/CT), the
lesions each *detects* (true positives: a malignant lesion by the reference standard, called
positive) among the lesions read on both, and the regions (organs) those lesions lie in. Per
patient: lesions and regions found by A only and by B only, and a stage-relevant category of
each scan type:

- ``none``: no malignant lesion detected;
- ``locoregional``: detected lesions only in :data:`LOCOREGIONAL_REGIONS` (the usual primary
  sites of gastro-entero-pancreatic NET and lymph nodes);
- ``distant``: at least one detected lesion in another region (liver, bone, lung, ...).

This category is a simplification to count patients whose disease extent changes; it is not a
TNM stage (regional versus distant lymph nodes depend on the primary, which the lesions table
does not say). The region of a lesion comes from the caller (the one site -> region map of the
``reading:`` parameters), so this module holds no map of its own.

Staging is a NET question: only patients whose final diagnosis is a NET are analysed, by the
selection NETPET uses (:func:`nethelpers.summaries.netpet_net_only`,
:data:`~nethelpers.summaries.NETPET_DIAGNOSES`). A TIO patient's single phosphaturic tumour
is no "distant disease", and a disease-free patient has none: such patients keep their row in
:func:`staging_patients` with the reason in ``left_out``, and :func:`staging_change` counts
them as left out, per final diagnosis.

Denominator: NET patients with at least one malignant lesion read on both scan types (a patient
without one cannot gain or lose a detected lesion).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from nethelpers.summaries import NETPET_DIAGNOSES, netpet_net_only

__all__ = ["CATEGORIES", "LOCOREGIONAL_REGIONS", "staging_change", "staging_patients"]

LOCOREGIONAL_REGIONS = ("lymph nodes", "pancreas", "bowel")
"""Regions whose detected lesions alone make a patient ``locoregional``; any other, ``distant``."""

CATEGORIES = ("none", "locoregional", "distant")
"""Stage-relevant categories, in increasing extent."""


def _category(regions: set[str], locoregional: tuple[str, ...]) -> str:
    if not regions:
        return "none"
    return "locoregional" if regions <= set(locoregional) else "distant"


def _text(regions: set[str]) -> str:
    return ", ".join(sorted(regions))


def _left_out(patient_ids: pd.Series, patients: pd.DataFrame,
              diagnoses: Sequence[str]) -> pd.Series:
    """Reason each patient is left out of the staging analysis ("" for a NET patient)."""
    ids = patient_ids.astype(str)
    kept, _ = netpet_net_only(pd.DataFrame({"patient_id": ids, "netpet": True}),
                              patients.astype({"patient_id": str}), diagnoses)
    dx = (patients.astype({"patient_id": str}).set_index("patient_id")["final_diagnosis"]
          .astype("string"))
    own = ids.map(dx).fillna("not recorded").astype(str)
    reason = "final diagnosis " + own + ": staging change is analysed in NET patients only"
    return reason.where(~ids.isin(set(kept["patient_id"])), "")


def staging_patients(pairs: pd.DataFrame, *, patients: pd.DataFrame, region: str = "region",
                     locoregional: tuple[str, ...] = LOCOREGIONAL_REGIONS,
                     diagnoses: Sequence[str] = NETPET_DIAGNOSES) -> pd.DataFrame:
    """Per patient: detected lesions and regions on A and on B, and the category of each.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`nethelpers.comparisons.paired_lesions` with a ``region`` column:
        ``patient_id, lesion_id, malignant, test_a, test_b``. A call missing on either side
        (an excluded equivocal call) counts as not detected on that side.
    patients : pandas.DataFrame
        The cohort's patients: ``patient_id, final_diagnosis``.
    region : str
        Column of the lesion's region (organ).
    locoregional : tuple of str
        Regions that alone make a patient ``locoregional``.
    diagnoses : sequence of str
        Final diagnoses analysed (those NETPET applies to).

    Returns
    -------
    pandas.DataFrame
        One row per patient with at least one malignant lesion read on both: ``patient_id,
        malignant_lesions, detected_a, detected_b, a_only, b_only`` (lesions),
        ``regions_a, regions_b, regions_a_only, regions_b_only`` (comma-separated),
        ``n_regions_a_only, n_regions_b_only``, ``category_a, category_b`` and ``change``
        (``"A higher"``, ``"B higher"`` or ``"same"``), ``final_diagnosis`` and
        ``left_out`` (the reason a patient is not analysed; empty for a NET patient).
    """
    cols = ["patient_id", "final_diagnosis", "left_out", "malignant_lesions", "detected_a",
            "detected_b", "a_only", "b_only", "regions_a", "regions_b", "regions_a_only",
            "regions_b_only", "n_regions_a_only", "n_regions_b_only", "category_a",
            "category_b", "change"]
    if not len(pairs):
        return pd.DataFrame(columns=cols)
    mal = pairs[pairs["malignant"].astype("boolean").fillna(False).astype(bool)]
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    rows: list[dict[str, Any]] = []
    for patient, data in mal.groupby("patient_id", sort=True):
        da = data["test_a"].astype("boolean").fillna(False).astype(bool)
        db = data["test_b"].astype("boolean").fillna(False).astype(bool)
        ra = set(data.loc[da, region].astype(str))
        rb = set(data.loc[db, region].astype(str))
        ca, cb = _category(ra, locoregional), _category(rb, locoregional)
        change = ("same" if ca == cb else "A higher" if rank[ca] > rank[cb] else "B higher")
        rows.append({"patient_id": patient, "malignant_lesions": len(data),
                     "detected_a": int(da.sum()), "detected_b": int(db.sum()),
                     "a_only": int((da & ~db).sum()), "b_only": int((db & ~da).sum()),
                     "regions_a": _text(ra), "regions_b": _text(rb),
                     "regions_a_only": _text(ra - rb), "regions_b_only": _text(rb - ra),
                     "n_regions_a_only": len(ra - rb), "n_regions_b_only": len(rb - ra),
                     "category_a": ca, "category_b": cb, "change": change})
    out = pd.DataFrame(rows, columns=cols)
    dx = (patients.astype({"patient_id": str}).set_index("patient_id")["final_diagnosis"]
          .astype("string"))
    out["final_diagnosis"] = out["patient_id"].astype(str).map(dx).fillna("not recorded")
    out["left_out"] = _left_out(out["patient_id"], patients, diagnoses)
    return out


def staging_change(per_patient: pd.DataFrame, labels: tuple[str, str]) -> pd.DataFrame:
    """How many patients gain or lose detected lesions, regions and category with A vs B.

    Parameters
    ----------
    per_patient : pandas.DataFrame
        :func:`staging_patients`; only the rows without a ``left_out`` reason are counted.
    labels : tuple of str
        Names of A and B, e.g. ``("DOTATATE PET/CT", "FDG PET/CT")``.

    Returns
    -------
    pandas.DataFrame
        Tidy counts with denominators, one row per outcome: ``a, b, outcome, numerator,
        denominator`` (NET patients with a malignant lesion read on both), ``patient_ids``
        (the pseudonyms behind the count); then one row per reason a patient was left out
        (``outcome`` "left out: <reason>", ``denominator`` all patients with a malignant lesion
        read on both).
    """
    a, b = labels
    left = per_patient["left_out"].fillna("").astype(str)
    p = per_patient[left == ""]
    n = len(p)
    outcomes = [
        (f"more lesions detected with {a}", p["a_only"] > p["b_only"]),
        (f"more lesions detected with {b}", p["b_only"] > p["a_only"]),
        (f"a lesion detected only with {a}", p["a_only"] > 0),
        (f"a lesion detected only with {b}", p["b_only"] > 0),
        (f"a region (organ) detected only with {a}", p["n_regions_a_only"] > 0),
        (f"a region (organ) detected only with {b}", p["n_regions_b_only"] > 0),
        (f"higher category with {a} (none < locoregional < distant)",
         p["change"] == "A higher"),
        (f"higher category with {b} (none < locoregional < distant)",
         p["change"] == "B higher"),
        (f"distant disease detected only with {a}",
         (p["category_a"] == "distant") & (p["category_b"] != "distant")),
        (f"distant disease detected only with {b}",
         (p["category_b"] == "distant") & (p["category_a"] != "distant")),
        ("same category", p["change"] == "same"),
    ]
    rows = [{"a": a, "b": b, "outcome": outcome, "numerator": int(mask.sum()),
             "denominator": n,
             "patient_ids": ", ".join(p.loc[mask, "patient_id"].astype(str))}
            for outcome, mask in outcomes]
    for reason in sorted(set(left) - {""}):
        ids = per_patient.loc[left == reason, "patient_id"].astype(str)
        rows.append({"a": a, "b": b, "outcome": f"left out: {reason}", "numerator": len(ids),
                     "denominator": len(per_patient), "patient_ids": ", ".join(ids)})
    return pd.DataFrame(rows, columns=["a", "b", "outcome", "numerator", "denominator",
                                       "patient_ids"])
