"""Treatment response between a baseline and a follow-up scan, per lesion and per patient.

Input: two measurement tables (the rows of ``measurements.csv``, :data:`nethelpers.scanmeasures.
MEASUREMENT_COLUMNS`), the baseline and the follow-up, with **one scan per patient** in each
(the scans to compare: same tracer; the modality may differ and is then noted). Lesion ROIs
(``roi == "lesion"``) are matched by ``patient_id`` and ``lesion_id``, the lesion shared by
every scan of a patient; reference ROIs (``liver``, ``spleen``, ``blood_pool``) give each
scan's references, usable when exactly one such row exists with a finite mean > 0 (as in
:mod:`nethelpers.scores`). A lesion with a ROI at follow-up only is *new*, at baseline only
*gone* (a reader who saw nothing drew nothing), at both *both*. A negative uptake, SD or
volume on a lesion or reference row cannot be right and is refused, naming the scan, the ROI
and the column.

:func:`lesion_response` gives the per-lesion changes, :func:`patient_response` the category
(CMR/PMR/SMD/PMD) by the rule set of the patient's tracer family; the rules, thresholds and
sources are in :mod:`nethelpers.responsecriteria`; the tables are read and
matched by :mod:`nethelpers.responselesions`. A category that cannot be judged is NA
with the reason; none is invented.

Derived per-lesion values: SUL SD of a reference = its ``suv_sd`` x ``sul_mean`` /
``suv_mean`` (SUL is SUV times one factor per scan); ``tlr`` / ``tsr`` = lesion SUVmax /
liver / spleen SUVmean of the same scan (on counts-only SPECT the counts statistics: ratios do
not depend on the scale), recomputed here rather than read from ``tb_liver``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.responsecriteria import TOLERANCE, ResponseRules, RuleSet, categorise
from nethelpers.responselesions import CHANGE_STATISTICS, ScanView, matched_scans, percist_cut

__all__ = ["CHANGE_STATISTICS", "lesion_response", "patient_response", "response_tables"]


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        str(value).strip())


def lesion_response(baseline: pd.DataFrame, followup: pd.DataFrame,
                    rules: ResponseRules | None = None) -> pd.DataFrame:
    """The change of every lesion between its baseline and follow-up scan.

    Parameters
    ----------
    baseline, followup : pandas.DataFrame
        Measurement tables, one scan per patient each (see the module docstring).
    rules : ResponseRules, optional
        Thresholds (PERCIST measurability); ``ResponseRules()`` when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per patient x lesion_id, for the patients with a scan at both times, sorted:
        ``patient_id, lesion_id, baseline_scan_id, followup_scan_id``, ``status`` (both, new,
        gone), for each of :data:`CHANGE_STATISTICS` ``<stat>_baseline``,
        ``<stat>_followup``, ``<stat>_change`` (follow-up - baseline) and
        ``<stat>_change_rel`` (change / baseline; NaN unless baseline > 0); when the tables
        carry ``krenning``: ``krenning_baseline, krenning_followup, krenning_change``
        ("Int64"); ``percist_threshold_<time>`` (SUL) and ``measurable_<time>`` ("boolean",
        NA when the threshold or SULpeak is missing).

    Raises
    ------
    ValueError
        Two scans of one patient in a table, a lesion ROI without lesion_id or measured twice,
        a negative uptake, SD or volume on a lesion or reference ROI, or a patient whose two
        scans have different tracers.
    """
    rules = ResponseRules() if rules is None else rules
    return matched_scans(baseline, followup, rules)[2]


def patient_response(baseline: pd.DataFrame, followup: pd.DataFrame,
                     rules: ResponseRules | None = None,
                     scans: pd.DataFrame | None = None) -> pd.DataFrame:
    """The response category of every patient (CMR, PMR, SMD, PMD) and what decided it.

    Parameters
    ----------
    baseline, followup : pandas.DataFrame
        Measurement tables, one scan per patient each (see the module docstring).
    rules : ResponseRules, optional
        Rule sets and thresholds; ``ResponseRules()`` when omitted.
    scans : pandas.DataFrame, optional
        The scans table (``scan_id`` and ``scan_date``, as in ``cohort.scans``, or ``date``)
        for ``days_between``: calendar days, as :mod:`nethelpers.timepoints` counts them; its
        ``manufacturer`` and ``model``, when given, for the note of a scanner change.

    Returns
    -------
    pandas.DataFrame
        One row per patient of either table, sorted: ``patient_id, tracer, criteria``
        (rule set and its source), ``rule_set``, ``statistic``, ``category`` (NA when it
        cannot be judged), ``decided_by`` (the rule that decided), ``reason`` (why NA, ''
        otherwise), ``baseline_scan_id, followup_scan_id``, ``baseline_target,
        followup_target`` (lesion_ids; the targets may differ), ``baseline_value,
        followup_value``, ``change, change_rel``, ``n_baseline, n_measurable_baseline``
        (the baseline lesions that could be the target under the patient's rule set:
        PERCIST-measurable for ``percist``, above the liver mean for the others -- so it can
        differ from the count of :func:`lesion_response`'s ``measurable_baseline``, which is
        PERCIST measurability whatever the rule set), ``n_followup, n_new, n_gone``,
        ``days_between`` ("Int64") and ``note`` (what is
        unusual but accepted: PERCIST's comparability conditions, see
        :mod:`nethelpers.responsecriteria`).

    Raises
    ------
    ValueError
        As :func:`lesion_response`; a follow-up dated before its baseline.
    """
    rules = ResponseRules() if rules is None else rules
    return _patients(*matched_scans(baseline, followup, rules), rules, scans)


def response_tables(baseline: pd.DataFrame, followup: pd.DataFrame,
                    rules: ResponseRules | None = None, scans: pd.DataFrame | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`patient_response` and :func:`lesion_response` of the same tables, read once.

    Parameters
    ----------
    baseline, followup, rules, scans
        As :func:`patient_response`.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The patients' and the lesions' table.
    """
    rules = ResponseRules() if rules is None else rules
    base, follow, lesions = matched_scans(baseline, followup, rules)
    return _patients(base, follow, lesions, rules, scans), lesions


def _patients(base: dict[str, ScanView], follow: dict[str, ScanView], lesions: pd.DataFrame,
              rules: ResponseRules, scans: pd.DataFrame | None) -> pd.DataFrame:
    """The rows of :func:`patient_response` from the matched scans."""
    dates, scanners = _dates(scans), _scanners(scans)
    rows = []
    for patient in sorted(set(base) | set(follow)):
        b, f = base.get(patient), follow.get(patient)
        scan = b or f
        assert scan is not None
        rule_set = rules.rule_set(scan.tracer)
        row: dict[str, Any] = {
            "patient_id": patient, "tracer": scan.tracer,
            "criteria": rule_set.label if rule_set else "",
            "rule_set": rule_set.name if rule_set else "",
            "statistic": rule_set.statistic if rule_set else "",
            "baseline_scan_id": b.scan_id if b else pd.NA,
            "followup_scan_id": f.scan_id if f else pd.NA}
        if b is None or f is None or rule_set is None:
            why = ("no baseline scan" if b is None else "no follow-up scan" if f is None
                   else f"tracer {scan.tracer} is neither FDG nor SSTR: no rule set")
            rows.append(row | {"category": pd.NA, "decided_by": "", "reason": why, "note": ""})
            continue
        mine = lesions.loc[lesions["patient_id"] == patient]
        row |= _judge(rules, rule_set, b, f, mine)
        row["days_between"] = _days(patient, b, f, dates)
        row["note"] = "; ".join(filter(None, [row["note"], *_scan_notes(
            b, f, row["days_between"], scanners)]))
        rows.append(row)
    return _patient_frame(rows)


_PATIENT_COLUMNS = (
    "patient_id", "tracer", "criteria", "rule_set", "statistic", "category", "decided_by",
    "reason", "baseline_scan_id", "followup_scan_id", "baseline_target", "followup_target",
    "baseline_value", "followup_value", "change", "change_rel", "n_baseline",
    "n_measurable_baseline", "n_followup", "n_new", "n_gone", "days_between", "note")


def _patient_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    for col in _PATIENT_COLUMNS:
        if col not in out.columns:
            out[col] = pd.NA
    out = out[list(_PATIENT_COLUMNS)]
    for col in ("baseline_value", "followup_value", "change", "change_rel"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in ("n_baseline", "n_measurable_baseline", "n_followup", "n_new", "n_gone",
                "days_between"):
        out[col] = pd.array(out[col].astype(object).where(out[col].notna(), None),
                            dtype="Int64")
    out["category"] = out["category"].astype(object).where(out["category"].notna(), pd.NA)
    return out


def _hottest(values: pd.Series) -> tuple[str | None, float | None]:
    """The lesion with the highest value (ties: smallest lesion_id)."""
    if values.empty:
        return None, None
    ordered = values.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return str(ordered.index[0]), float(ordered.iloc[0])


def _judge(rules: ResponseRules, rule_set: RuleSet, b: ScanView, f: ScanView,
           lesions: pd.DataFrame) -> dict[str, Any]:
    """Targets, resolution and the category of one patient with both scans."""
    stat = rule_set.statistic
    status = lesions.set_index("lesion_id")["status"]
    new = sorted(status.index[status == "new"])
    at_base = lesions.loc[lesions["status"] != "new"].set_index("lesion_id")
    at_follow = lesions.loc[lesions["status"] != "gone"].set_index("lesion_id")
    notes = _notes(rules, rule_set, b, f)
    out: dict[str, Any] = {"n_baseline": len(at_base), "n_followup": len(at_follow),
                           "n_new": len(new), "n_gone": int((status == "gone").sum())}

    no_target, candidates = _candidates(rules, rule_set, b, at_base)
    missing_b = sorted(at_base.index[~np.isfinite(at_base[f"{stat}_baseline"].to_numpy())])
    # a count known to be 0 is 0; NA only when measurability cannot be judged
    out["n_measurable_baseline"] = (0 if at_base.empty else pd.NA if candidates is None
                                    or missing_b else len(candidates))
    missing_f = sorted(at_follow.index[~np.isfinite(at_follow[f"{stat}_followup"].to_numpy())])
    if missing_b:
        no_target = f"baseline {stat} missing for lesion(s) {', '.join(missing_b)}"
    if at_base.empty:
        no_target = "no lesion at baseline"
    base_target, base_value = (None, None) if no_target or candidates is None else (
        _hottest(candidates))
    follow_target, follow_value = _hottest(at_follow[f"{stat}_followup"].dropna())

    resolved, unresolved = _resolution(rules, rule_set, f, at_follow)
    if missing_f:
        resolved, unresolved = None, f"follow-up {stat} missing for lesion(s) " + \
            ", ".join(missing_f)
    decision = categorise(rules, rule_set, new=new, baseline_value=base_value,
                          followup_value=follow_value if not missing_f else None,
                          resolved=resolved, no_target_reason=no_target,
                          unresolved_reason=unresolved)
    out |= {"category": decision.category if decision.category else pd.NA,
            "decided_by": decision.decided_by if decision.category else "",
            "reason": "" if decision.category else decision.decided_by,
            "baseline_target": base_target or pd.NA, "followup_target": follow_target or pd.NA,
            "baseline_value": base_value, "followup_value": follow_value,
            "note": "; ".join(notes)}
    if base_value is not None and follow_value is not None:
        out["change"] = follow_value - base_value
        out["change_rel"] = (follow_value - base_value) / base_value
    return out


def _candidates(rules: ResponseRules, rule_set: RuleSet, b: ScanView, at_base: pd.DataFrame
                ) -> tuple[str, pd.Series | None]:
    """The baseline lesions that can be the target (None: cannot be judged), or why none can.

    PERCIST: the measurable lesions (SULpeak >= the threshold). The other rule sets: the
    lesions above the liver (SUVmax > liver SUVmean, the study's positivity rule), so that a
    lesion already at liver level at baseline is not called a complete response.
    """
    values = at_base[f"{rule_set.statistic}_baseline"]
    if rule_set.name == "percist":
        cut, why = percist_cut(b, rules)
        if not np.isfinite(cut):
            return f"baseline {why}: measurability cannot be judged", None
        keep = at_base["measurable_baseline"].fillna(False).to_numpy(dtype=bool)
        empty = f"no measurable lesion at baseline (SULpeak < {cut:.3g})"
    else:
        if not b.refs["liver"]:
            return (f"baseline liver: {b.ref_reason['liver']}: uptake above the liver cannot "
                    "be judged"), None
        keep = at_base["tlr_baseline"].to_numpy() > 1.0 + TOLERANCE
        empty = "no lesion above the liver at baseline (SUVmax <= liver SUVmean)"
    candidates = values[keep]
    return ("" if len(candidates) else empty), candidates


def _resolution(rules: ResponseRules, rule_set: RuleSet, f: ScanView, at_follow: pd.DataFrame
                ) -> tuple[bool | None, str]:
    """Every follow-up lesion at or below the references? None: cannot judge.

    PERCIST: at or below the SULmean of ``percist_reference`` (the liver; with
    ``blood_pool``, an abnormal liver, the blood pool's SULmean + ``sd_factor`` x SD), which
    must be measured, and below the other reference too when it is. The other rule sets:
    SUVmax at or below the liver SUVmean.
    """
    if at_follow.empty:
        return True, ""
    if rule_set.name != "percist":
        if not f.refs["liver"]:
            return None, f"follow-up liver: {f.ref_reason['liver']}: CMR cannot be judged"
        return bool(np.all(at_follow["tlr_followup"].to_numpy() <= 1.0 + TOLERANCE)), ""
    liver, pool = f.refs["liver"], f.refs["blood_pool"]
    limits = {"liver": liver.get("sul_mean", np.nan),
              "blood_pool": pool.get("sul_mean", np.nan)
              + rules.sd_factor * pool.get("sul_sd", np.nan)}
    region = rules.percist_reference
    if not np.isfinite(limits[region]):
        why = (f.ref_reason[region] if not f.refs[region] else
               "SULmean missing (no SUL on this scan)" if region == "liver" else
               "SULmean or SD missing (no SUL on this scan)")
        return None, f"follow-up {region}: {why}: CMR cannot be judged"
    values = at_follow["sul_peak_followup"].to_numpy()
    below = np.ones(len(values), dtype=bool)
    for limit in limits.values():
        if np.isfinite(limit):
            below &= values <= limit + TOLERANCE
    return bool(np.all(below)), ""


def _notes(rules: ResponseRules, rule_set: RuleSet, b: ScanView, f: ScanView) -> list[str]:
    """What is unusual but accepted: modality change, reference drift, no blood pool for CMR.

    PERCIST assesses a pair only when the reference SULmean (the liver; the blood pool when
    it is the reference) differs by at most ``liver_change_relative`` of the larger of the
    two values and at most ``liver_change_sul`` SUL units (O et al. 2016); a larger change is
    noted, the category is kept.
    """
    notes = []
    if b.modality != f.modality:
        notes.append(f"modality differs: baseline {b.modality}, follow-up {f.modality}")
    region = rules.percist_reference
    lb = b.refs[region].get("sul_mean", np.nan)
    lf = f.refs[region].get("sul_mean", np.nan)
    if rule_set.name == "percist" and np.isfinite(lb) and np.isfinite(lf):
        change = abs(lf - lb)
        if (change > rules.liver_change_sul + TOLERANCE
                or change > rules.liver_change_relative * max(lb, lf) + TOLERANCE):
            notes.append(f"{region.replace('_', ' ')} SULmean changed {lb:.3g} -> {lf:.3g} "
                         f"(PERCIST assesses a pair within {rules.liver_change_relative:.0%} "
                         f"of the larger and {rules.liver_change_sul:g} SUL)")
    if (rule_set.name == "percist" and rules.percist_reference == "liver"
            and not f.refs["blood_pool"]):
        notes.append("no follow-up blood pool ROI: CMR judged against the liver only")
    return notes


def _scan_notes(b: ScanView, f: ScanView, days: Any,
                scanners: dict[str, str]) -> list[str]:
    """Notes from the scans table: a scanner change, a follow-up on the baseline's day."""
    notes = []
    sb, sf = scanners.get(b.scan_id, ""), scanners.get(f.scan_id, "")
    if sb and sf and sb.casefold() != sf.casefold():
        notes.append(f"scanner differs: baseline {sb}, follow-up {sf} (PERCIST: the same "
                     "scanner, or the same model at the same site)")
    if days is not pd.NA and days == 0:
        notes.append("follow-up on the day of its baseline (0 days): a repeat scan, not a "
                     "treatment interval; check the scan dates")
    return notes


def _scanners(scans: pd.DataFrame | None) -> dict[str, str]:
    """scan_id -> "manufacturer model" of the scans table (empty without those columns)."""
    if scans is None or "scan_id" not in scans.columns:
        return {}
    parts = [scans[c].map(_text) if c in scans.columns else pd.Series("", index=scans.index)
             for c in ("manufacturer", "model")]
    names = (parts[0] + " " + parts[1]).str.strip()
    return {_text(s): n for s, n in zip(scans["scan_id"], names, strict=True) if n}


def _dates(scans: pd.DataFrame | None) -> dict[str, pd.Timestamp]:
    column = "scan_date" if scans is not None and "scan_date" in scans.columns else "date"
    if scans is None or column not in scans.columns:
        return {}
    when = pd.to_datetime(scans[column], errors="coerce").dt.normalize()
    return {_text(s): d for s, d in zip(scans["scan_id"], when, strict=True) if pd.notna(d)}


def _days(patient: str, b: ScanView, f: ScanView, dates: dict[str, pd.Timestamp]) -> Any:
    if b.scan_id not in dates or f.scan_id not in dates:
        return pd.NA
    days = int((dates[f.scan_id] - dates[b.scan_id]).days)
    if days < 0:
        raise ValueError(f"patient {patient}: follow-up scan {f.scan_id} is dated before "
                         f"baseline scan {b.scan_id}; swap them or correct the scans table "
                         "date")
    return days

