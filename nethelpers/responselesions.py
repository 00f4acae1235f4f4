"""The two time points' measurements read per patient and matched lesion by lesion.

Part of :mod:`nethelpers.response` (which documents the input and the derived values):
:func:`matched_scans` reads each time point's measurement table into one :class:`ScanView`
per patient (references and lesion statistics) and builds the per-lesion change table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.responsecriteria import TOLERANCE, ResponseRules

__all__ = ["CHANGE_STATISTICS", "ScanView", "matched_scans", "percist_cut"]

CHANGE_STATISTICS = ("suv_max", "suv_peak", "sul_peak", "mtv_ml", "tla", "tlr", "tsr")
_REGIONS = ("liver", "spleen", "blood_pool")
#: Numeric columns read from the measurement rows (converted once per table).
_NUMERIC = ("suv_max", "suv_peak", "sul_peak", "sul_mean", "mtv_ml", "tla", "krenning",
            "counts_max", "counts_mean", "counts_sd", "suv_mean", "suv_sd")
#: Columns read from lesion / reference rows that cannot be negative (refused when they are).
_NON_NEGATIVE = {
    ("lesion",): ("suv_max", "suv_peak", "sul_peak", "sul_mean", "mtv_ml", "tla",
                  "counts_max"),
    _REGIONS: ("suv_mean", "suv_sd", "sul_mean", "counts_mean", "counts_sd"),
}


@dataclass
class ScanView:
    """One patient's scan at one time point: identifiers, references, lesions.

    ``refs`` maps liver, spleen and blood_pool to their ``mean``, ``sd`` (SUV, or counts on
    counts-only SPECT), ``sul_mean`` and ``sul_sd``, or to {} with the reason in
    ``ref_reason``; ``lesions`` holds the lesions' statistics indexed by lesion_id.
    """

    scan_id: str
    tracer: str
    modality: str
    quantity: str
    lesions: pd.DataFrame                      # index lesion_id, numeric statistics
    refs: dict[str, dict[str, float]] = field(default_factory=dict)
    ref_reason: dict[str, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else (
        str(value).strip())


def _num(rows: pd.DataFrame, col: str) -> pd.Series:
    if col not in rows.columns:
        return pd.Series(np.nan, index=rows.index, dtype="float64")
    return pd.to_numeric(rows[col], errors="coerce").astype("float64")


def _reference(rows: pd.DataFrame, region: str, counts: bool) -> tuple[dict[str, float], str]:
    """A reference region's mean/SD on the SUV (or counts) and SUL scales, or why not."""
    part = rows.loc[rows["roi"] == region]
    if len(part) != 1:
        return {}, f"{len(part)} {region} ROIs (one needed)"
    mean_col = "counts_mean" if counts else "suv_mean"
    mean = float(_num(part, mean_col).iloc[0])
    if not (np.isfinite(mean) and mean > 0):
        return {}, f"{region} {mean_col} missing or <= 0"
    sd = float(_num(part, "counts_sd" if counts else "suv_sd").iloc[0])
    sul_mean = float(_num(part, "sul_mean").iloc[0])
    sul_sd = sd * sul_mean / mean if np.isfinite(sul_mean) else float("nan")
    return {"mean": mean, "sd": sd, "sul_mean": sul_mean, "sul_sd": sul_sd}, ""


def _scans(meas: pd.DataFrame, when: str) -> dict[str, ScanView]:
    """Every patient's scan of one time point; refuses two scans of one patient."""
    table = meas.copy()
    for col in ("patient_id", "scan_id", "tracer", "modality", "roi", "lesion_id", "quantity"):
        table[col] = table[col].map(_text) if col in table.columns else ""
    table["roi"] = table["roi"].str.lower()
    table["tracer"] = table["tracer"].str.upper()
    for col in _NUMERIC:          # once for the table, not per patient
        if col in table.columns:
            table[col] = _num(table, col)
    _refuse_negative(table, when)
    out: dict[str, ScanView] = {}
    for patient, rows in table.groupby("patient_id", sort=True):
        scan_ids = sorted(set(rows["scan_id"]))
        if len(scan_ids) != 1:
            raise ValueError(f"{when} measurements: patient {patient} has {len(scan_ids)} "
                             f"scans ({', '.join(scan_ids)}); give one scan per patient and "
                             "time point")
        lesions = rows.loc[rows["roi"] == "lesion"]
        if (lesions["lesion_id"] == "").any():
            raise ValueError(f"{when} scan {scan_ids[0]}: lesion ROI without lesion_id cannot "
                             "be matched across time points; give every lesion its lesion_id")
        dup = sorted(set(lesions.loc[lesions["lesion_id"].duplicated(), "lesion_id"]))
        if dup:
            raise ValueError(f"{when} scan {scan_ids[0]}: lesion(s) {', '.join(dup)} measured "
                             "twice; keep one ROI per lesion")
        counts = (rows["quantity"] == "counts").any()
        scan = ScanView(scan_ids[0], rows["tracer"].iloc[0], rows["modality"].iloc[0],
                     "counts" if counts else "SUV", _lesion_values(lesions, counts))
        for region in _REGIONS:
            ref, why = _reference(rows, region, counts)
            scan.refs[region], scan.ref_reason[region] = ref, why
        for region, col in (("liver", "tlr"), ("spleen", "tsr")):
            mean = scan.refs[region].get("mean", np.nan)
            scan.lesions[col] = scan.lesions["_max"] / mean
        out[str(patient)] = scan
    return out


def _refuse_negative(rows: pd.DataFrame, when: str) -> None:
    """Refuse a negative uptake, SD or volume on a lesion or reference ROI.

    Raises
    ------
    ValueError
        Naming the time point, the scan, the lesion (or reference ROI) and the column.
    """
    for kinds, columns in _NON_NEGATIVE.items():
        part = rows.loc[rows["roi"].isin(kinds)]
        for col in columns:
            values = _num(part, col)
            bad = values < 0
            if bad.any():
                at = bad.to_numpy().nonzero()[0][0]
                roi, lesion = part["roi"].iloc[at], part["lesion_id"].iloc[at]
                scan_id = part["scan_id"].iloc[at]
                what = f"lesion {lesion}" if roi == "lesion" else f"{roi} ROI"
                raise ValueError(
                    f"{when} scan {scan_id}, {what}: {col} = {values.iloc[at]:g} is negative, "
                    "which no uptake, SD or volume can be; re-run the measurement of this "
                    "scan (nethelpers quantify) or correct the value in its measurement row")


def _lesion_values(lesions: pd.DataFrame, counts: bool) -> pd.DataFrame:
    """Numeric statistics of the lesion ROIs, indexed by lesion_id."""
    values = pd.DataFrame(index=pd.Index(lesions["lesion_id"], name="lesion_id"))
    for col in ("suv_max", "suv_peak", "sul_peak", "mtv_ml", "tla", "krenning"):
        values[col] = _num(lesions, col).to_numpy()
    values["_max"] = _num(lesions, "counts_max" if counts else "suv_max").to_numpy()
    values["_has_krenning"] = "krenning" in lesions.columns
    return values


def percist_cut(scan: ScanView, rules: ResponseRules) -> tuple[float, str]:
    """The PERCIST measurability threshold (SUL) of a scan, or NaN and why not.

    Parameters
    ----------
    scan : ScanView
        The scan.
    rules : ResponseRules
        Reference region and factors.

    Returns
    -------
    float
        factor x reference SULmean + SD factor x SD (liver: ``mean_factor``, ``sd_factor``;
        blood pool: ``blood_pool_mean_factor``, ``blood_pool_sd_factor``).
    str
        Empty, or why there is no threshold.
    """
    region = rules.percist_reference
    ref = scan.refs[region]
    if not ref:
        return float("nan"), f"{region}: {scan.ref_reason[region]}"
    factor, sds = ((rules.mean_factor, rules.sd_factor) if region == "liver" else
                   (rules.blood_pool_mean_factor, rules.blood_pool_sd_factor))
    value = factor * ref["sul_mean"] + sds * ref["sul_sd"]
    if not np.isfinite(value):
        return float("nan"), f"{region} SULmean or SD missing (no SUL on this scan)"
    return float(value), ""


def matched_scans(baseline: pd.DataFrame, followup: pd.DataFrame, rules: ResponseRules
                  ) -> tuple[dict[str, ScanView], dict[str, ScanView], pd.DataFrame]:
    """Each time point's scans by patient and the lesion table of the patients with both.

    Parameters
    ----------
    baseline, followup : pandas.DataFrame
        Measurement tables, one scan per patient each.
    rules : ResponseRules
        PERCIST measurability factors.

    Returns
    -------
    dict, dict, pandas.DataFrame
        patient_id -> :class:`ScanView` at baseline and at follow-up, and the rows of
        :func:`nethelpers.response.lesion_response`.

    Raises
    ------
    ValueError
        Two scans of one patient, a lesion ROI without lesion_id or measured twice, or two
        tracers for one patient.
    """
    base, follow = _scans(baseline, "baseline"), _scans(followup, "follow-up")
    for patient in sorted(set(base) & set(follow)):
        if base[patient].tracer != follow[patient].tracer:
            raise ValueError(f"patient {patient}: baseline scan {base[patient].scan_id} is "
                             f"{base[patient].tracer}, follow-up scan {follow[patient].scan_id}"
                             f" {follow[patient].tracer}; compare scans of one tracer")
    frames = [_patient_lesions(p, base[p], follow[p], rules)
              for p in sorted(set(base) & set(follow))]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["patient_id", "lesion_id", "status"])
    return base, follow, table


def _patient_lesions(patient: str, base: ScanView, follow: ScanView, rules: ResponseRules
                     ) -> pd.DataFrame:
    """One row per lesion of one patient: values at both times and their changes."""
    ids = sorted(set(base.lesions.index) | set(follow.lesions.index))
    out = pd.DataFrame({"patient_id": patient, "lesion_id": ids,
                        "baseline_scan_id": base.scan_id, "followup_scan_id": follow.scan_id})
    in_b = np.isin(ids, base.lesions.index)
    in_f = np.isin(ids, follow.lesions.index)
    out["status"] = np.select([in_b & in_f, in_f], ["both", "new"], default="gone")
    for stat in CHANGE_STATISTICS:
        b = base.lesions[stat].reindex(ids).to_numpy()
        f = follow.lesions[stat].reindex(ids).to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(b > 0, (f - b) / b, np.nan)
        out[f"{stat}_baseline"], out[f"{stat}_followup"] = b, f
        out[f"{stat}_change"], out[f"{stat}_change_rel"] = f - b, rel
    if base.lesions["_has_krenning"].any() or follow.lesions["_has_krenning"].any():
        kb = base.lesions["krenning"].reindex(ids).to_numpy()
        kf = follow.lesions["krenning"].reindex(ids).to_numpy()
        out["krenning_baseline"] = pd.array(kb, dtype="Float64").astype("Int64")
        out["krenning_followup"] = pd.array(kf, dtype="Float64").astype("Int64")
        out["krenning_change"] = out["krenning_followup"] - out["krenning_baseline"]
    for when, scan in (("baseline", base), ("followup", follow)):
        cut, _ = percist_cut(scan, rules)
        sul = out[f"sul_peak_{when}"].to_numpy()
        meets = np.where(np.isfinite(sul), sul >= cut - TOLERANCE, False)
        measurable = pd.array(meets, dtype="boolean")
        measurable[~(np.isfinite(sul) & np.isfinite(cut))] = pd.NA
        out[f"percist_threshold_{when}"] = cut
        out[f"measurable_{when}"] = measurable
    return out


