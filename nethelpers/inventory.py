"""The scan inventory: scans per patient and per group, by tracer and modality.

Tracers, modalities and groups are listed in the order of the study's vocabulary
(``cohort.vocabulary``); patients without a recorded group are counted under
:data:`nethelpers.groups.NOT_RECORDED`.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.cohort import Cohort
from nethelpers.groups import OVERALL, group_order, patient_groups
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = ["scan_inventory", "scan_totals", "scan_types"]


def scan_types(scans: pd.DataFrame, vocabulary: Vocabulary = DEFAULT_VOCABULARY
               ) -> list[tuple[str, str]]:
    """List the ``(tracer, modality)`` pairs present in the scans, in the vocabulary's order.

    Parameters
    ----------
    scans : pandas.DataFrame
        Scans table (``tracer``, ``modality``).
    vocabulary : Vocabulary
        The study's tracers and modalities, in display order.

    Returns
    -------
    list of tuple
        Pairs of the vocabulary first (tracer order, then modality order), then any other
        pair found, sorted.
    """
    present = set(zip(scans["tracer"].astype(str), scans["modality"].astype(str), strict=True))
    known = [(t, m) for t in vocabulary.tracer_names for m in vocabulary.modality_names
             if (t, m) in present]
    return known + sorted(present - set(known))


def _combos(scans: pd.DataFrame, vocabulary: Vocabulary) -> list[str]:
    """List the ``tracer modality`` labels present in the scans, in the vocabulary's order."""
    return [f"{t} {m}" for t, m in scan_types(scans, vocabulary)]


def scan_inventory(cohort: Cohort) -> pd.DataFrame:
    """Count scans per patient, by tracer and modality.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pandas.DataFrame
        One row per patient (all patients, also those without scans): ``patient_id``,
        ``group`` (the code; :data:`NOT_RECORDED` when missing), one integer column per
        ``tracer modality`` present in the study (vocabulary order), and ``total``; rows
        sorted by group (vocabulary order) and patient.
    """
    scans = cohort.scans
    vocabulary = cohort.vocabulary
    combos = _combos(scans, vocabulary)
    label = scans["tracer"].astype(str) + " " + scans["modality"].astype(str)
    counts = pd.crosstab(scans["patient_id"].astype(str), label).reindex(columns=combos)
    out = pd.DataFrame({"patient_id": cohort.patients["patient_id"].astype(str).to_numpy(),
                        "group": patient_groups(cohort.patients).to_numpy()})
    out = out.merge(counts, left_on="patient_id", right_index=True, how="left")
    out[combos] = out[combos].fillna(0).astype(int)
    out["total"] = out[combos].sum(axis=1).astype(int)
    rank = {g: i for i, g in enumerate(group_order(out["group"], vocabulary))}
    out = out.assign(_rank=out["group"].map(rank))
    out = out.sort_values(["_rank", "patient_id"], kind="stable").drop(columns="_rank")
    return out.reset_index(drop=True)


def scan_totals(cohort: Cohort) -> pd.DataFrame:
    """Count scans and patients per group, by tracer and modality, with a total row.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    pandas.DataFrame
        One row per group present (vocabulary order, :data:`NOT_RECORDED` last) and a last
        ``Overall`` row: ``group``, ``patients``, one column per ``tracer modality`` with the
        number of scans, and ``total``.
    """
    inventory = scan_inventory(cohort)
    combos = [c for c in inventory.columns if c not in ("patient_id", "group", "total")]
    order = group_order(inventory["group"], cohort.vocabulary)
    grouped = inventory.groupby("group", sort=False)
    per_group = grouped[[*combos, "total"]].sum().reindex(order)
    per_group.insert(0, "patients", grouped.size().reindex(order))
    per_group.index = per_group.index.astype(str)
    overall = per_group.sum().to_frame(OVERALL).T
    out = pd.concat([per_group, overall]).astype(int)
    out.index.name = "group"
    return out.reset_index()
