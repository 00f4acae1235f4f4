"""The scan inventory: scans per patient and per group, by tracer and modality.

Tracers, modalities and groups are listed in the order of the study's vocabulary
(``cohort.vocabulary``); patients without a recorded group are counted under
:data:`nethelpers.groups.NOT_RECORDED`.

The counts are of every scan, at every time point. When some scans are at a follow-up time
point (:func:`nethelpers.timepoints.is_follow_up`), the tables say how many: a column
:data:`FOLLOW_UP` (the follow-up scans among the patient's or group's total) and a last row
:data:`FOLLOW_UP_ROW` of :func:`scan_totals` (the follow-up scans per tracer and modality).
The follow-up scans are not index tests: notebook 06 (treatment response) analyses them.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.cohort import Cohort
from nethelpers.groups import OVERALL, group_order, patient_groups
from nethelpers.timepoints import is_follow_up, lesions_at_baseline
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = ["FOLLOW_UP", "FOLLOW_UP_ROW", "follow_up_counts", "scan_inventory", "scan_totals",
           "scan_types"]

FOLLOW_UP = "follow_up"
"""Column of the follow-up scans among the total (only when the study has any)."""

FOLLOW_UP_ROW = "Overall: follow-up scans"
"""Last row of :func:`scan_totals`: the follow-up scans (only when the study has any)."""


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
        ``tracer modality`` present in the study (vocabulary order), and ``total``, then
        :data:`FOLLOW_UP` (how many of the total are at a follow-up time point) when any
        scan is; rows sorted by group (vocabulary order) and patient.
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
    later = is_follow_up(scans)
    if later.any():
        per_patient = scans.loc[later, "patient_id"].astype(str).value_counts()
        out[FOLLOW_UP] = out["patient_id"].map(per_patient).fillna(0).astype(int)
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
        One row per group present (vocabulary order, :data:`NOT_RECORDED` last) and an
        ``Overall`` row: ``group``, ``patients``, one column per ``tracer modality`` with the
        number of scans, and ``total``. When some scans are at a follow-up time point, a
        column :data:`FOLLOW_UP` (how many of the total) and a last row
        :data:`FOLLOW_UP_ROW`: the follow-up scans per tracer and modality, ``patients``
        those with one (already counted in the rows above).
    """
    inventory = scan_inventory(cohort)
    extra = [FOLLOW_UP] if FOLLOW_UP in inventory.columns else []
    combos = [c for c in inventory.columns
              if c not in ("patient_id", "group", "total", *extra)]
    order = group_order(inventory["group"], cohort.vocabulary)
    grouped = inventory.groupby("group", sort=False)
    per_group = grouped[[*combos, "total", *extra]].sum().reindex(order)
    per_group.insert(0, "patients", grouped.size().reindex(order))
    per_group.index = per_group.index.astype(str)
    rows = [per_group, per_group.sum().to_frame(OVERALL).T]
    if extra:
        rows.append(_follow_up_row(cohort.scans, [*per_group.columns]))
    out = pd.concat(rows).astype(int)
    out.index.name = "group"
    return out.reset_index()


def _follow_up_row(scans: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The row :data:`FOLLOW_UP_ROW`: follow-up scans per ``tracer modality`` column."""
    later = scans[is_follow_up(scans)]
    label = later["tracer"].astype(str) + " " + later["modality"].astype(str)
    row = {c: int((label == c).sum()) for c in columns}
    row |= {"patients": later["patient_id"].astype(str).nunique(), "total": len(later),
            FOLLOW_UP: len(later)}
    return pd.DataFrame([row], index=[FOLLOW_UP_ROW], columns=columns)


def follow_up_counts(cohort: Cohort) -> dict[str, int]:
    """Count what belongs to a follow-up time point, for a notebook's summary.

    Parameters
    ----------
    cohort : Cohort
        A loaded cohort.

    Returns
    -------
    dict
        ``Follow-up scans (notebook 06)``: the scans at a follow-up time point (among all
        scans); ``Lesions new at a follow-up``: the lesions whose ``first_time_point`` is a
        follow-up (among all lesions). Only the non-zero counts: a study without follow-up
        gives an empty dict.
    """
    counts = {"Follow-up scans (notebook 06)": int(is_follow_up(cohort.scans).sum()),
              "Lesions new at a follow-up": int((~lesions_at_baseline(cohort.lesions)).sum())}
    return {k: v for k, v in counts.items() if v}
