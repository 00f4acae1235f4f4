"""Treatment response of a cohort: every baseline / follow-up pair of scans, judged.

:func:`nethelpers.timepoints.pairs` pairs each patient's scans of two time points per tracer
and modality (a PET/CT follow-up is compared with the PET/CT baseline, a PET/MR with the
PET/MR). The two scans' rows of ``measurements.csv`` go through
:func:`nethelpers.response.patient_response` and :func:`~nethelpers.response.lesion_response`,
one scan type at a time; the reader's Krenning scores (the index test's reader, from the
reads table) join the lesion rows so that the Krenning change is reported too.

A pair whose scan was not measured (no row in the measurements, a scan quantify left out)
is not judged: it is listed in ``skipped`` with the reason, and the cohort goes on.

Only tumour lesions take part (``response.lesions``), so that a physiological focus (the
uncinate process) or a benign one (a reactive node) is not the hottest "target", a "new
lesion" or a "gone" one: by default (``called``) the lesions the index-test reader called
positive on either scan of the pair (equivocal calls as ``index_test.equivocal`` counts
them) -- the reader's own judgement, blind to the reference standard, as a response read is;
``malignant`` keeps the lesions the lesions table calls malignant (truth pending or missing:
kept) -- a sensitivity analysis, since it chooses the targets by the reference standard;
``all`` every lesion VOI. The lesion VOIs left out are listed in ``left_out``.

:func:`lesion_category` names each lesion's own change with the patient rule set's statistic
and thresholds: ``responding`` (fell by the relative and the absolute minimum), ``stable``,
``progressing`` (rose by both), ``new`` or ``gone`` -- the words of the demo's truth courses
(:mod:`nethelpers.demo.followup_sim`), so a measured category can be compared with the truth.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.response import patient_response, response_tables
from nethelpers.responsecriteria import TOLERANCE, ResponseRules
from nethelpers.timepoints import BASELINE, pairs

__all__ = ["LESION_CATEGORIES", "CohortResponse", "cohort_response", "lesion_category",
           "pair_summary"]

#: A lesion's own change, in the words of the demo's truth.
LESION_CATEGORIES = ("responding", "stable", "progressing", "new", "gone")
_LEFT_OUT_COLUMNS = ["patient_id", "scan_id", "lesion_id", "reason"]
#: Which lesion VOIs take part (``response.lesions``).
LESION_SELECTIONS = ("called", "malignant", "all")
_SKIPPED_COLUMNS = ["patient_id", "tracer", "modality", "baseline_scan_id", "followup_scan_id",
                    "reason"]


@dataclass
class CohortResponse:
    """The response tables of a cohort.

    Attributes
    ----------
    pairs : pandas.DataFrame
        The scan pairs (:func:`nethelpers.timepoints.pairs`).
    patients : pandas.DataFrame
        :func:`~nethelpers.response.patient_response` rows of every judged pair, with
        ``modality`` and ``group``.
    lesions : pandas.DataFrame
        :func:`~nethelpers.response.lesion_response` rows with ``tracer``, ``modality``,
        ``rule_set``, ``statistic`` and ``lesion_category``.
    skipped : pandas.DataFrame
        Pairs not judged and why.
    left_out : pandas.DataFrame
        Lesion VOIs of judged pairs not taking part: ``patient_id, scan_id, lesion_id,
        reason``.
    """

    pairs: pd.DataFrame
    patients: pd.DataFrame
    lesions: pd.DataFrame
    skipped: pd.DataFrame
    left_out: pd.DataFrame = dataclasses.field(default_factory=lambda: pd.DataFrame(
        columns=_LEFT_OUT_COLUMNS))


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else (
        str(value).strip())


def _with_krenning(rows: pd.DataFrame, reads: pd.DataFrame | None, reader: str | None
                   ) -> pd.DataFrame:
    """Measurement rows with the reader's Krenning score of each lesion (when read)."""
    if reads is None or reader is None or "krenning" not in reads.columns:
        return rows
    mine = reads.loc[reads["reader"].astype(str) == reader, ["scan_id", "lesion_id",
                                                             "krenning"]]
    mine = mine.assign(scan_id=mine["scan_id"].astype(str),
                       lesion_id=mine["lesion_id"].astype(str),
                       krenning=pd.to_numeric(mine["krenning"], errors="coerce"))
    mine = mine.drop_duplicates(["scan_id", "lesion_id"])
    out = rows.drop(columns=["krenning"], errors="ignore").assign(
        _scan=rows["scan_id"].astype(str), _lesion=rows["lesion_id"].map(_text))
    out = out.merge(mine.rename(columns={"scan_id": "_scan", "lesion_id": "_lesion"}),
                    on=["_scan", "_lesion"], how="left")
    return out.drop(columns=["_scan", "_lesion"])


def lesion_category(lesions: pd.DataFrame, rules: ResponseRules) -> pd.Series:
    """Each lesion's own change in words (:data:`LESION_CATEGORIES`), NA when not judged.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`~nethelpers.response.lesion_response` rows with ``tracer``.
    rules : ResponseRules
        The rule set per tracer family (its statistic) and the thresholds.

    Returns
    -------
    pandas.Series
        Same index; a lesion of a tracer without a rule set, or without the statistic at
        either time, is NA.
    """
    out = pd.Series(pd.NA, index=lesions.index, dtype=object)
    for i, row in lesions.iterrows():
        status = _text(row.get("status"))
        if status in ("new", "gone"):
            out[i] = status
            continue
        rule_set = rules.rule_set(_text(row.get("tracer")))
        if rule_set is None:
            continue
        change = float(pd.to_numeric(row.get(f"{rule_set.statistic}_change"), errors="coerce"))
        rel = float(pd.to_numeric(row.get(f"{rule_set.statistic}_change_rel"),
                                  errors="coerce"))
        if not (np.isfinite(change) and np.isfinite(rel)):
            continue
        minimum, threshold = rules.absolute_minimum(rule_set), rules.relative_change
        if rel >= threshold - TOLERANCE and change >= minimum - TOLERANCE:
            out[i] = "progressing"
        elif rel <= -threshold + TOLERANCE and change <= -minimum + TOLERANCE:
            out[i] = "responding"
        else:
            out[i] = "stable"
    return out


def _selection(meas: pd.DataFrame, cohort: Any, kept: pd.DataFrame, how: str,
               reader: str | None, equivocal: str) -> pd.Series:
    """Why each lesion row of the paired scans is left out ('' = it takes part)."""
    why = pd.Series("", index=meas.index, dtype=object)
    lesion = meas["roi"].map(_text).str.lower().eq("lesion")
    ids = meas["lesion_id"].map(_text)
    if how == "all":
        return why
    if how == "malignant":
        table = getattr(cohort, "lesions", None)
        if table is None or "malignant" not in table.columns or table.empty:
            return why
        malignant = pd.Series(table["malignant"].astype("boolean").to_numpy(),
                              index=table["lesion_id"].astype(str))
        truth = (table.set_index(table["lesion_id"].astype(str))["truth"].astype(str)
                 if "truth" in table.columns else pd.Series(dtype=str))
        not_tumour = ids.map(malignant).eq(False).fillna(False).astype(bool) & lesion
        why[not_tumour] = ("not malignant in the lesions table (truth "
                           + ids[not_tumour].map(truth).fillna("not malignant") + ")")
        return why
    if how != "called":
        raise ValueError(f"response.lesions {how!r}: one of {', '.join(LESION_SELECTIONS)}")
    reads = getattr(cohort, "reads", None)
    called: set[tuple[str, str]] = set()
    if reads is not None and reader is not None and len(reads):
        tumour = ("positive", "equivocal") if equivocal == "positive" else ("positive",)
        mine = reads.loc[(reads["reader"].astype(str) == reader)
                         & reads["call"].astype(str).isin(tumour)]
        other = dict(zip(kept["scan_id_a"].astype(str), kept["scan_id_b"].astype(str),
                         strict=True))
        other |= {b: a for a, b in other.items()}
        for scan, lesion_id in zip(mine["scan_id"].astype(str), mine["lesion_id"].astype(str),
                                   strict=True):
            called |= {(scan, lesion_id), (other.get(scan, scan), lesion_id)}
    keys = list(zip(meas["scan_id"].astype(str), ids, strict=True))
    out = pd.Series([k not in called for k in keys], index=meas.index) & lesion
    counted = "positive or equivocal" if equivocal == "positive" else "positive"
    why[out] = f"not called {counted} by {reader} on either scan of the pair"
    return why


def _judge(pair_rows: pd.DataFrame, meas: pd.DataFrame, rules: ResponseRules,
           scans: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """patient_response and lesion_response of the pairs of one tracer x modality."""
    base = meas.loc[meas["scan_id"].isin(pair_rows["scan_id_a"])]
    follow = meas.loc[meas["scan_id"].isin(pair_rows["scan_id_b"])]
    return response_tables(base, follow, rules, scans=scans)


def cohort_response(cohort: Any, measurements: pd.DataFrame, rules: ResponseRules | None = None,
                    *, reader: str | None = None, lesions: str = "called",
                    equivocal: str = "negative", a: str = BASELINE, b: str = "follow-up 1"
                    ) -> CohortResponse:
    """Judge every baseline / follow-up pair of a cohort's scans.

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        The study (scans with their time points, patients with their group, reads).
    measurements : pandas.DataFrame
        ``measurements.csv`` rows (:func:`nethelpers.quantify.load_results`).
    rules : ResponseRules, optional
        Rule sets and thresholds (:meth:`ResponseRules.from_params`); defaults when omitted.
    reader : str, optional
        Whose Krenning scores join the lesions, and whose calls ``lesions="called"`` reads
        (the index test's reader); None: none.
    lesions : {"called", "malignant", "all"}
        Which lesion VOIs take part (``response.lesions``; see the module docstring).
    equivocal : {"negative", "positive", "exclude"}
        How ``lesions="called"`` counts an equivocal call (``index_test.equivocal``):
        positive keeps the lesion, else it is left out.
    a, b : str
        The two time points (default baseline and follow-up 1).

    Returns
    -------
    CohortResponse
    """
    rules = ResponseRules() if rules is None else rules
    paired = pairs(cohort.scans, a, b)
    measured = set(measurements["scan_id"].astype(str)) if len(measurements) else set()
    skipped = []
    keep = []
    for row in paired.itertuples(index=False):
        missing = [s for s in (row.scan_id_a, row.scan_id_b) if str(s) not in measured]
        if missing:
            skipped.append({"patient_id": row.patient_id, "tracer": row.tracer,
                            "modality": row.modality, "baseline_scan_id": row.scan_id_a,
                            "followup_scan_id": row.scan_id_b,
                            "reason": "not measured: " + ", ".join(map(str, missing))})
        else:
            keep.append(row)
    kept = pd.DataFrame(keep, columns=paired.columns)
    meas = _with_krenning(measurements.assign(scan_id=measurements["scan_id"].astype(str)),
                          getattr(cohort, "reads", None), reader)
    meas = meas.loc[meas["scan_id"].isin(set(kept["scan_id_a"]) | set(kept["scan_id_b"]))]
    why = _selection(meas, cohort, kept, lesions, reader, equivocal)
    left_out = meas.loc[why != "", ["patient_id", "scan_id", "lesion_id"]].assign(
        reason=why[why != ""])
    meas = meas.loc[why == ""]
    groups = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))["group"] if (
        "group" in cohort.patients.columns) else pd.Series(dtype=object)
    patient_frames, lesion_frames = [], []
    for (tracer, modality), rows in kept.groupby(["tracer", "modality"], sort=True):
        patients, lesions = _judge(rows, meas, rules, cohort.scans)
        patient_frames.append(patients.assign(modality=modality))
        rule_set = rules.rule_set(str(tracer))
        lesion_frames.append(lesions.assign(
            tracer=tracer, modality=modality, rule_set=rule_set.name if rule_set else "",
            statistic=rule_set.statistic if rule_set else ""))
    patients = (pd.concat(patient_frames, ignore_index=True) if patient_frames
                else patient_response(meas.iloc[:0], meas.iloc[:0], rules).assign(modality=""))
    patients.insert(2, "modality", patients.pop("modality"))
    patients["group"] = patients["patient_id"].astype(str).map(groups)
    lesions = pd.concat(lesion_frames, ignore_index=True) if lesion_frames else pd.DataFrame(
        columns=["patient_id", "lesion_id", "status", "tracer", "modality", "rule_set",
                 "statistic"])
    lesions["lesion_category"] = lesion_category(lesions, rules)
    return CohortResponse(paired, patients, lesions,
                          pd.DataFrame(skipped, columns=_SKIPPED_COLUMNS),
                          left_out.reset_index(drop=True)[_LEFT_OUT_COLUMNS])


def pair_summary(response: CohortResponse) -> pd.DataFrame:
    """The scan pairs per tracer and modality and the time between their scans.

    Parameters
    ----------
    response : CohortResponse
        :func:`cohort_response`.

    Returns
    -------
    pandas.DataFrame
        One row per tracer x modality with a pair: ``tracer, modality, n_pairs, n_judged``
        (measured at both times), ``n_categorised`` (a category, not NA), ``days_median,
        days_q1, days_q3, days_min, days_max`` (calendar days from baseline to follow-up,
        over every pair) and ``not_judged`` (the skipped pairs' reasons).
    """
    rows = []
    paired = response.pairs
    for (tracer, modality), group in paired.groupby(["tracer", "modality"], sort=True):
        days = pd.to_numeric(group["days"], errors="coerce").dropna().astype(float)
        judged = response.patients.loc[(response.patients["tracer"] == tracer)
                                       & (response.patients["modality"] == modality)]
        skipped = response.skipped.loc[(response.skipped["tracer"] == tracer)
                                       & (response.skipped["modality"] == modality)]
        q = days.quantile([0.25, 0.5, 0.75]) if len(days) else pd.Series(
            np.nan, index=[0.25, 0.5, 0.75])
        rows.append({
            "tracer": tracer, "modality": modality, "n_pairs": len(group),
            "n_judged": len(judged), "n_categorised": int(judged["category"].notna().sum()),
            "days_median": q[0.5], "days_q1": q[0.25], "days_q3": q[0.75],
            "days_min": days.min() if len(days) else np.nan,
            "days_max": days.max() if len(days) else np.nan,
            "not_judged": "; ".join(f"{r.patient_id}: {r.reason}"
                                    for r in skipped.itertuples(index=False)),
        })
    return pd.DataFrame(rows, columns=["tracer", "modality", "n_pairs", "n_judged",
                                       "n_categorised", "days_median", "days_q1", "days_q3",
                                       "days_min", "days_max", "not_judged"])
