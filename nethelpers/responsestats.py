"""Statistics of the report's response section: category counts, agreement, recurrence.

Inputs are the tables of :func:`nethelpers.response.patient_response` (one row per patient
of a scan-type pair; ``modality`` added by the caller) and the cohort's tables.

:func:`category_counts`
    Patients per category (CMR, PMR, SMD, PMD, every one kept, zeros too) with the proportion
    of the patients *with a category* and its CI (the study's ``stats.ci_method``), and one
    row of the patients without a category, whose note gives the reasons and their counts.
:func:`category_agreement`
    PET/CT against PET/MR of the same tracer, patients with a category on both: the 4 x 4
    cross-table, the proportion of agreement (CI as above), Cohen's kappa and the linearly
    weighted kappa (the categories are ordinal: CMR < PMR < SMD < PMD; weights 1 - |i-j|/3),
    each with the Wald CI of the Fleiss-Cohen-Everitt (1969) SE (:func:`nethelpers.stats.
    cohen_kappa`; statsmodels' weighted variance equals that formula, tested here; psych's
    differs, see :mod:`nethelpers.stats.agreement`); and responder (CMR, PMR) against
    non-responder (SMD, PMD): proportion of agreement and kappa. Fewer than ``min_pairs``
    such patients: the rows stay, without numbers, and say so.
:func:`recurrence_detection` (from :mod:`nethelpers.responserecurrence`)
    Sensitivity and specificity of the reader's new lesions at follow-up for a recurrence
    (a malignant lesion first present at follow-up), per tracer x modality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nethelpers.configreaders import ReadersConfig
from nethelpers.groups import NOT_RECORDED
from nethelpers.responsecriteria import CATEGORIES
from nethelpers.responserecurrence import RecurrenceDetection, recurrence_detection
from nethelpers.stats import cohen_kappa, proportion_ci, proportion_ci_table

__all__ = ["CATEGORIES", "NOT_CATEGORISED", "RESPONDERS", "CategoryAgreement",
           "RecurrenceDetection", "category_agreement", "category_counts",
           "recurrence_detection"]

RESPONDERS = ("CMR", "PMR")
"""Categories of a responder; SMD and PMD are non-responders."""
NOT_CATEGORISED = "not categorised"
"""The ``category`` of the row counting the patients without a category."""
DEFAULT_MIN_PAIRS: int = ReadersConfig.model_fields["min_pairs"].default
"""Fewest patients for a kappa: the study's ``readers.min_pairs``."""


def _need(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column {', '.join(map(repr, missing))} (columns: "
                         f"{', '.join(map(str, frame.columns))})")


def _categories(frame: pd.DataFrame, name: str) -> pd.Series:
    """The category column as text, NA where not categorised; an unknown value raises."""
    cats = frame["category"].astype(object).where(frame["category"].notna(), None)
    cats = cats.map(lambda v: None if v is None or not str(v).strip() else str(v).strip())
    bad = sorted(set(cats.dropna()) - set(CATEGORIES))
    if bad:
        raise ValueError(f"{name}: column category has {', '.join(map(repr, bad))}: use "
                         f"{', '.join(CATEGORIES)} or leave it empty (not categorised)")
    return cats


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), NOT_RECORDED).astype(str)


def _unique_patients(frame: pd.DataFrame, keys: list[str], name: str, fix: str) -> None:
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        first = frame.loc[dup, keys].astype(str).iloc[0]
        times = int((frame[keys].astype(str) == first).all(axis=1).sum())
        raise ValueError(f"{name}: patient {first['patient_id']} appears {times} "
                         f"times in {', '.join(f'{k} {first[k]}' for k in keys[1:])}: a "
                         f"patient counts once; {fix}")


def _reasons(reasons: pd.Series) -> str:
    counts = reasons.map(lambda v: str(v).strip() if pd.notna(v) and str(v).strip()
                         else "reason not given").value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return "; ".join(f"{why} ({n})" for why, n in order)


def category_counts(responses: pd.DataFrame, by: Sequence[str] = ("tracer", "modality"),
                    level: float = 0.95, method: str = "wilson") -> pd.DataFrame:
    """Patients per response category with proportions and CIs, per group.

    Parameters
    ----------
    responses : pandas.DataFrame
        Rows of :func:`nethelpers.response.patient_response` (``patient_id``, ``category``,
        ``reason``, optionally ``rule_set``) with the ``by`` columns.
    by : sequence of str
        Columns of the groups (default tracer and modality: one scan type each).
    level : float
        Confidence level.
    method : str
        CI method of the proportions (``stats.ci_method``).

    Returns
    -------
    pandas.DataFrame
        Per group five rows, ``category`` CMR, PMR, SMD, PMD and ``not categorised``:
        the ``by`` columns, ``rule_set`` (when given), ``category``, ``n``,
        ``denominator`` (patients with a category; for the last row all patients),
        ``n_patients``, ``proportion``, ``proportion_lower``, ``proportion_upper``
        (n / patients with a category; NaN on the last row), ``method``, ``level``, ``note``
        (the last row: how many of how many, and the reasons with their counts).

    Raises
    ------
    ValueError
        A missing column, an unknown category, or a patient twice in one group.
    """
    by = list(by)
    if not by:
        raise ValueError("category_counts: by needs a column (e.g. tracer): the categories "
                         "of two tracers are not one count")
    _need(responses, ["patient_id", "category", *by], "responses")
    cats = _categories(responses, "responses")
    _unique_patients(responses, ["patient_id", *by], "responses",
                     "give one pair per patient, or group by modality too")
    work = responses.assign(_cat=cats)
    for col in by:
        work[col] = _text(work[col])
    rows = []
    for key, group in work.groupby(by, sort=True) if len(work) else []:
        head = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        if "rule_set" in group.columns:
            head["rule_set"] = ", ".join(sorted(set(_text(group["rule_set"])) - {""}))
        judged = group["_cat"].dropna()
        counts = [int((judged == c).sum()) for c in CATEGORIES]
        ci = proportion_ci_table(counts, len(judged), method, level)
        for c, k, est in zip(CATEGORIES, counts, ci.itertuples(), strict=True):
            rows.append(head | {
                "category": c, "n": k, "denominator": len(judged), "n_patients": len(group),
                "proportion": est.estimate, "proportion_lower": est.lower,
                "proportion_upper": est.upper, "method": method, "level": level,
                "note": "" if len(judged) else "no patient of this group has a category"})
        na = group[group["_cat"].isna()]
        why = _reasons(na["reason"]) if "reason" in na.columns else "reasons not given"
        rows.append(head | {
            "category": NOT_CATEGORISED, "n": len(na), "denominator": len(group),
            "n_patients": len(group), "proportion": np.nan, "proportion_lower": np.nan,
            "proportion_upper": np.nan, "method": "", "level": level,
            "note": f"{len(na)} of {len(group)} patients not categorised: {why}"
                    if len(na) else ""})
    columns = [*by, *(["rule_set"] if "rule_set" in responses.columns else []), "category",
               "n", "denominator", "n_patients", "proportion", "proportion_lower",
               "proportion_upper", "method", "level", "note"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class CategoryAgreement:
    """PET/MR against PET/CT response categories (:func:`category_agreement`).

    Attributes
    ----------
    table : pandas.DataFrame
        Per tracer five rows (``measure``): ``proportion_agreement``, ``kappa``,
        ``kappa_linear``, ``responder_proportion_agreement``, ``responder_kappa``; columns
        ``tracer, measure, estimate, lower, upper, method, n`` (patients with a category on
        both), ``n_both_scans`` (patients with both responses), ``level, note``.
    crosstab : pandas.DataFrame
        Per tracer the 4 x 4 counts and margins: ``tracer``, ``PET/CT category`` (CMR, PMR,
        SMD, PMD, then ``total``), ``PET/MR CMR``, ..., ``PET/MR PMD``, ``total``.
    """

    table: pd.DataFrame
    crosstab: pd.DataFrame


MEASURES = ("proportion_agreement", "kappa", "kappa_linear", "responder_proportion_agreement",
            "responder_kappa")


def _modality(frame: pd.DataFrame, name: str, expected: str) -> pd.DataFrame:
    _need(frame, ["patient_id", "tracer", "category"], name)
    if "modality" in frame.columns:
        other = sorted(set(_text(frame["modality"])) - {expected})
        if other:
            raise ValueError(f"{name}: has rows of modality {', '.join(other)}: pass the "
                             f"{expected} responses only")
    _unique_patients(frame.assign(tracer=_text(frame["tracer"])), ["patient_id", "tracer"],
                     name, "give one response per patient and tracer")
    return pd.DataFrame({"patient_id": frame["patient_id"].astype(str),
                         "tracer": _text(frame["tracer"]), "category": _categories(frame, name)})


def _crosstab(tracer: str, a: pd.Series, b: pd.Series) -> pd.DataFrame:
    table = pd.crosstab(pd.Categorical(a, CATEGORIES), pd.Categorical(b, CATEGORIES),
                        dropna=False).reindex(index=CATEGORIES, columns=CATEGORIES, fill_value=0)
    table.loc["total"] = table.sum(axis=0)
    out = table.rename(columns=lambda c: f"PET/MR {c}")
    out["total"] = table.sum(axis=1)
    out = out.rename_axis(index="PET/CT category", columns=None).reset_index()
    return out.assign(tracer=tracer)[
        ["tracer", "PET/CT category", *(f"PET/MR {c}" for c in CATEGORIES), "total"]]


def _kappa_row(a: pd.Series, b: pd.Series, cats: Sequence[str], weighting: str,
               level: float) -> dict:
    k = cohen_kappa(list(a), list(b), weighting=weighting, categories=list(cats), level=level)
    lower, upper, note = k.lower, k.upper, k.note
    if k.se == 0.0:     # perfect agreement: the Wald interval collapses to the point
        lower = upper = float("nan")
        note = "; ".join(t for t in (note, "no interval: the Wald SE is 0 at perfect agreement "
                                     "(see the proportion of agreement's interval)") if t)
    return {"estimate": k.kappa, "lower": lower, "upper": upper,
            "method": f"Cohen's kappa, {weighting}{' weights' * (weighting != 'unweighted')}; "
                      f"{k.ci_method}", "note": note}


def _responder(categories: pd.Series) -> pd.Series:
    return categories.isin(RESPONDERS).map({True: "responder", False: "non-responder"})


def _agreement_rows(a: pd.Series, b: pd.Series, level: float, method: str) -> list[dict]:
    """The five agreement rows of one tracer's patients (PET/CT ``a``, PET/MR ``b``)."""
    def agreement(measure: str, x: pd.Series, y: pd.Series) -> dict:
        ci = proportion_ci(int((x.to_numpy() == y.to_numpy()).sum()), len(x), method, level)
        return {"measure": measure, "estimate": ci.estimate, "lower": ci.lower,
                "upper": ci.upper, "method": method, "note": ""}

    ra, rb = _responder(a), _responder(b)
    binary = ("responder", "non-responder")
    return [agreement("proportion_agreement", a, b),
            {"measure": "kappa"} | _kappa_row(a, b, CATEGORIES, "unweighted", level),
            {"measure": "kappa_linear"} | _kappa_row(a, b, CATEGORIES, "linear", level),
            agreement("responder_proportion_agreement", ra, rb),
            {"measure": "responder_kappa"} | _kappa_row(ra, rb, binary, "unweighted", level)]


def category_agreement(petct: pd.DataFrame, petmr: pd.DataFrame, level: float = 0.95,
                       method: str = "wilson", min_pairs: int = DEFAULT_MIN_PAIRS
                       ) -> CategoryAgreement:
    """Agreement of the response category between PET/CT and PET/MR, per tracer.

    Parameters
    ----------
    petct, petmr : pandas.DataFrame
        Responses (:func:`nethelpers.response.patient_response`) of the PET/CT and of the
        PET/MR pairs: ``patient_id, tracer, category`` (a ``modality`` column, when given,
        must be PET/CT, respectively PET/MR). Either may be empty.
    level : float
        Confidence level.
    method : str
        CI method of the proportions of agreement (``stats.ci_method``).
    min_pairs : int
        Fewest patients with a category on both for any agreement statistic (default the
        study's ``readers.min_pairs``, 5).

    Returns
    -------
    CategoryAgreement
        One block of rows per tracer of either table; statistics NaN with a note when there
        are too few patients or a kappa is undefined (one category only).

    Raises
    ------
    ValueError
        A missing column, an unknown category, a wrong modality, a patient twice.
    """
    if min_pairs < 2:
        raise ValueError(f"min_pairs must be at least 2 (a kappa needs 2 patients), got "
                         f"{min_pairs}")
    ct, mr = _modality(petct, "petct", "PET/CT"), _modality(petmr, "petmr", "PET/MR")
    both = ct.merge(mr, on=["patient_id", "tracer"], suffixes=("_ct", "_mr"))
    rows, tables = [], []
    for tracer in sorted(set(ct["tracer"]) | set(mr["tracer"])):
        pairs = both[both["tracer"] == tracer]
        judged = pairs.dropna(subset=["category_ct", "category_mr"])
        head = {"tracer": tracer, "n": len(judged), "n_both_scans": len(pairs),
                "level": level}
        tables.append(_crosstab(tracer, judged["category_ct"], judged["category_mr"]))
        if len(judged) < min_pairs:
            why = (f"not estimated: needs at least {min_pairs} patients with a category on "
                   f"both PET/CT and PET/MR, there are {len(judged)}"
                   + (f" ({len(pairs) - len(judged)} of {len(pairs)} with both responses "
                      "lack a category)" if len(pairs) > len(judged) else ""))
            rows += [head | {"measure": m, "estimate": np.nan, "lower": np.nan,
                             "upper": np.nan, "method": "", "note": why} for m in MEASURES]
            continue
        for row in _agreement_rows(judged["category_ct"], judged["category_mr"], level,
                                   method):
            rows.append(head | row)
    columns = ["tracer", "measure", "estimate", "lower", "upper", "method", "n",
               "n_both_scans", "level", "note"]
    crosstab = (pd.concat(tables, ignore_index=True) if tables else
                _crosstab("", pd.Series([], dtype=object), pd.Series([], dtype=object)).iloc[:0])
    return CategoryAgreement(pd.DataFrame(rows, columns=columns), crosstab)

