"""Detection of recurrence at follow-up: the reader's new lesions against the truth.

Per follow-up scan (a scan at ``followup`` whose series, the patient's scans of one tracer
and modality, has a scan at ``baseline``):

- **test positive** when the reader called positive, on the follow-up scan, a lesion that is
  *new*: its lesion_id has no positive or equivocal call of that reader on the baseline scan
  of the same series, and no lesion VOI there (``vois``, when given). A lesion the reader saw
  at baseline is a known lesion whatever it does later, even a lesion that the truth says is
  new (then the reader's baseline call was a false positive of another finding), and a
  lesion present at baseline that the reader missed then and calls at follow-up is a new
  finding for the reader (a false positive when the patient has no true new lesion). A new
  lesion called equivocal counts by the study's ``index_test.equivocal`` rule: negative,
  positive, or exclude (the scan is then indeterminate), as at the patient level of
  :mod:`nethelpers.readings`;
- **truth positive** when the lesions table has a malignant lesion of the patient first
  present at the follow-up (``first_time_point``, any spelling of
  :func:`nethelpers.timepoints.normalise_time_point`). The truth is missing (the scan is
  left out and counted) when no lesion makes it positive but a lesion with a pending
  reference (``malignant`` empty) or an unknown first time point could.

A follow-up scan is also left out, and counted, when it or its baseline was not read by the
reader (no read row at all: an unread scan is never negative) or its series has no baseline.
Sensitivity and specificity with CIs come from
:func:`nethelpers.stats.accuracy.accuracy_from_counts`, per tracer x modality.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from nethelpers.groups import NOT_RECORDED
from nethelpers.readings import EQUIVOCAL_RULES
from nethelpers.stats.accuracy import accuracy_from_counts
from nethelpers.tablespec import CALLS, NO_LESION
from nethelpers.timepoints import (
    BASELINE,
    SERIES,
    TIME_POINT_COLUMNS,
    time_point_or_none,
    time_points,
)

__all__ = ["RecurrenceDetection", "recurrence_detection"]

RESULTS = ("TP", "FP", "FN", "TN")


def _need(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no column {', '.join(map(repr, missing))} (columns: "
                         f"{', '.join(map(str, frame.columns))})")


def _text(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), NOT_RECORDED).astype(str)


@dataclass(frozen=True)
class RecurrenceDetection:
    """Detection of recurrence at follow-up (:func:`recurrence_detection`).

    Attributes
    ----------
    patients : pandas.DataFrame
        One row per follow-up scan: ``patient_id, tracer, modality, baseline_scan_id,
        followup_scan_id, new_positive, new_equivocal`` (lesion_ids the reader called and
        had not seen at baseline, ", "-joined), ``true_new`` (malignant lesions first present
        at the follow-up), ``test``, ``truth`` ("boolean", NA when not analysable),
        ``result`` (TP, FP, FN, TN or ""), ``note`` (why not analysable).
    counts : pandas.DataFrame
        Per tracer x modality: ``n_followup_scans, tp, fp, fn, tn, n_not_read,
        n_no_baseline, n_indeterminate, n_no_reference, equivocal`` (the rule). Each scan
        left out is counted once, by its first reason in that order: the four cells and
        the four counts add up to ``n_followup_scans``.
    accuracy : pandas.DataFrame
        Per tracer x modality, ``measure`` sensitivity and specificity: ``estimate, lower,
        upper, method, numerator, denominator, level, note``.
    """

    patients: pd.DataFrame
    counts: pd.DataFrame
    accuracy: pd.DataFrame


def _time_point(value: str, name: str) -> str:
    label = time_point_or_none(value)
    if label is None:
        raise ValueError(f"{name} {value!r} is not a time point: use baseline or follow-up N")
    return label


def _malignant(lesions: pd.DataFrame) -> pd.Series:
    if "malignant" in lesions.columns:
        return lesions["malignant"].astype("boolean")
    _need(lesions, ["truth"], "lesions (malignant or truth)")
    truth = lesions["truth"].astype("string").str.strip().str.lower()
    return truth.map({"malignant": True, "benign": False, "physiological": False}
                     ).astype("boolean")


def _truth(lesions: pd.DataFrame, followup: str) -> dict[str, tuple[object, str, str]]:
    """Per patient: (truth or NA, malignant lesions new at ``followup``, why NA)."""
    _need(lesions, ["patient_id", "lesion_id", "first_time_point"], "lesions")
    raw = lesions["first_time_point"].astype("string").str.strip()
    empty = raw.isna() | raw.eq("").fillna(True)
    # empty: present at baseline (the lesions table's convention); a value that is not a
    # time point (the cohort's load reported it) leaves the lesion's time unknown
    first = raw.map(time_point_or_none).where(~empty, BASELINE)
    unknown = first.isna()
    malignant = _malignant(lesions)
    new = first.eq(followup).fillna(False)
    sure = malignant.fillna(False).astype(bool) & new
    maybe = (malignant.isna() & (new | unknown)) | (malignant.fillna(False).astype(bool)
                                                    & unknown)
    out: dict[str, tuple[object, str, str]] = {}
    for patient, idx in lesions.groupby(lesions["patient_id"].astype(str)).groups.items():
        ids = ", ".join(sorted(lesions.loc[sure.loc[idx][sure.loc[idx]].index, "lesion_id"]
                               .astype(str)))
        if ids or not maybe.loc[idx].any():
            out[patient] = (bool(ids), ids, "")
        else:
            out[patient] = (pd.NA, "", "no reference: a lesion with a pending truth or a "
                            "first_time_point that is not a time point could be a new "
                            "malignant lesion")
    return out


def _reader_reads(reads: pd.DataFrame, reader: str) -> pd.DataFrame:
    _need(reads, ["scan_id", "lesion_id", "reader", "call"], "reads")
    mine = reads[reads["reader"].astype(str) == reader]
    if mine.empty:
        raise ValueError(f"reader {reader!r} has no reads; readers: "
                         f"{', '.join(sorted(reads['reader'].astype(str).unique()))}")
    mine = pd.DataFrame({"scan_id": mine["scan_id"].astype(str),
                         "lesion_id": mine["lesion_id"].astype(str),
                         "call": mine["call"].astype(str).str.strip().str.lower()})
    bad = sorted(set(mine["call"]) - set(CALLS))
    if bad:
        raise ValueError(f"reads: column call has {', '.join(map(repr, bad))}: use "
                         f"{', '.join(CALLS)}")
    return mine


def _seen(reads: pd.DataFrame, vois: pd.DataFrame | None, reader: str) -> dict[str, set]:
    """Per scan: lesion_ids the reader called positive or equivocal, or drew a VOI of."""
    called = reads[reads["call"].isin(("positive", "equivocal"))
                   & (reads["lesion_id"] != NO_LESION)]
    seen: dict[str, set] = {}
    for scan, ids in called.groupby("scan_id")["lesion_id"]:
        seen.setdefault(str(scan), set()).update(ids)
    if vois is not None:
        _need(vois, ["scan_id", "lesion_id"], "vois")
        keep = vois["lesion_id"].notna()
        if "roi" in vois.columns:
            keep &= vois["roi"].astype(str) == "lesion"
        if "reader" in vois.columns:
            keep &= vois["reader"].astype(str) == reader
        for scan, ids in vois[keep].groupby(vois["scan_id"].astype(str))["lesion_id"]:
            seen.setdefault(scan, set()).update(ids.astype(str))
    return seen


def _test(scan: pd.DataFrame, seen: set, equivocal: str) -> tuple[object, str, str]:
    """(test, new positive ids, new equivocal ids) of one follow-up scan's lesion reads."""
    new = scan[(scan["lesion_id"] != NO_LESION) & ~scan["lesion_id"].isin(seen)]
    pos = sorted(new.loc[new["call"] == "positive", "lesion_id"])
    eqv = sorted(new.loc[new["call"] == "equivocal", "lesion_id"])
    test: object = True if pos else (
        {"positive": True, "negative": False, "exclude": pd.NA}[equivocal] if eqv else False)
    return test, ", ".join(pos), ", ".join(eqv)


def recurrence_detection(scans: pd.DataFrame, lesions: pd.DataFrame, reads: pd.DataFrame, *,
                         reader: str, equivocal: str = "negative",
                         vois: pd.DataFrame | None = None, baseline: str = "baseline",
                         followup: str = "follow-up 1", level: float = 0.95,
                         method: str = "wilson") -> RecurrenceDetection:
    """Sensitivity and specificity of the reader's new lesions for recurrence at follow-up.

    Parameters
    ----------
    scans, lesions, reads : pandas.DataFrame
        ``cohort.scans`` (time points given or derived), ``cohort.lesions`` (with
        ``first_time_point`` and ``malignant`` or ``truth``), ``cohort.reads``.
    reader : str
        Whose calls (``index_test.reader``).
    equivocal : {"negative", "positive", "exclude"}
        How a new lesion called equivocal counts (``index_test.equivocal``).
    vois : pandas.DataFrame, optional
        Lesion VOIs (``scan_id, lesion_id``; ``roi`` and ``reader`` used when present, e.g.
        measurements.csv): a lesion with a VOI of the reader at baseline is not new.
    baseline, followup : str
        The two time points.
    level : float
        Confidence level.
    method : str
        CI method (``stats.ci_method``).

    Returns
    -------
    RecurrenceDetection
        A follow-up scan is not analysable (test or truth NA, counted) when it or its
        baseline was not read by ``reader``, its series has no baseline scan, its only new
        calls are equivocal under ``"exclude"``, or its truth is missing.

    Raises
    ------
    ValueError
        A missing column, an unknown call or time point, a reader without reads.
    """
    if equivocal not in EQUIVOCAL_RULES:
        raise ValueError(f"equivocal must be one of {', '.join(EQUIVOCAL_RULES)}; got "
                         f"{equivocal!r}")
    base, follow = _time_point(baseline, "baseline"), _time_point(followup, "followup")
    tp = scans if set(TIME_POINT_COLUMNS) <= set(scans.columns) else time_points(scans)
    tp = tp.assign(**{k: _text(tp[k]) for k in SERIES}, scan_id=tp["scan_id"].astype(str))
    at = tp["time_point"].astype("string")
    series = (tp.loc[at.eq(follow).fillna(False).astype(bool), [*SERIES, "scan_id"]]
              .merge(tp.loc[at.eq(base).fillna(False).astype(bool), [*SERIES, "scan_id"]],
                     on=list(SERIES), how="left", suffixes=("_followup", "_baseline")))
    mine = _reader_reads(reads, reader)
    seen, truth = _seen(mine, vois, reader), _truth(lesions, follow)
    by_scan = dict(tuple(mine.groupby("scan_id")))
    rows = []
    for s in series.sort_values(list(SERIES)).itertuples(index=False):
        fu, bl = s.scan_id_followup, s.scan_id_baseline
        row = {"patient_id": s.patient_id, "tracer": s.tracer, "modality": s.modality,
               "baseline_scan_id": bl, "followup_scan_id": fu}
        test, pos, eqv = _test(by_scan.get(fu, mine.iloc[:0]), seen.get(str(bl), set()),
                               equivocal)
        known, ids, why = truth.get(s.patient_id, (False, "", ""))
        notes = ["no baseline scan of this tracer and modality" if pd.isna(bl) else
                 f"follow-up scan not read by {reader}" if fu not in by_scan else
                 f"baseline scan not read by {reader}" if bl not in by_scan else ""]
        if notes[0]:
            test, pos, eqv = pd.NA, "", ""
        elif test is pd.NA:
            notes[0] = f"indeterminate: new lesion(s) only equivocal ({eqv}), excluded"
        notes.append(why)
        note = "; ".join(n for n in notes if n)
        result = "" if note else RESULTS[(not test) * 2 + (not known)]
        rows.append(row | {"new_positive": pos, "new_equivocal": eqv, "true_new": ids,
                           "test": test, "truth": known, "result": result, "note": note})
    patients = pd.DataFrame(rows, columns=[
        "patient_id", "tracer", "modality", "baseline_scan_id", "followup_scan_id",
        "new_positive", "new_equivocal", "true_new", "test", "truth", "result", "note"])
    patients[["test", "truth"]] = patients[["test", "truth"]].astype("boolean")
    return RecurrenceDetection(patients, *_detection_tables(patients, equivocal, level,
                                                            method))


def _detection_tables(patients: pd.DataFrame, equivocal: str, level: float,
                      method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    counts, accuracy = [], []
    for (tracer, modality), g in patients.groupby(["tracer", "modality"], sort=True):
        n = {r: int((g["result"] == r).sum()) for r in ("TP", "FP", "FN", "TN")}
        note = g["note"]
        counts.append({"tracer": tracer, "modality": modality, "n_followup_scans": len(g),
                       "tp": n["TP"], "fp": n["FP"], "fn": n["FN"], "tn": n["TN"],
                       "n_not_read": int(note.str.match(r"(follow-up|baseline) scan not "
                                                        "read").sum()),
                       "n_no_baseline": int(note.str.startswith("no baseline").sum()),
                       "n_indeterminate": int(note.str.startswith("indeterminate").sum()),
                       "n_no_reference": int(note.str.startswith("no reference").sum()),
                       "equivocal": equivocal})
        table = accuracy_from_counts(n["TP"], n["FP"], n["FN"], n["TN"], method, level)
        for row in table[table["measure"].isin(("sensitivity", "specificity"))].to_dict(
                "records"):
            accuracy.append({"tracer": tracer, "modality": modality} | row
                            | {"level": level})
    count_cols = ["tracer", "modality", "n_followup_scans", "tp", "fp", "fn", "tn",
                  "n_not_read", "n_no_baseline", "n_indeterminate", "n_no_reference",
                  "equivocal"]
    acc_cols = ["tracer", "modality", "measure", "estimate", "lower", "upper", "method",
                "numerator", "denominator", "level", "note"]
    return (pd.DataFrame(counts, columns=count_cols),
            pd.DataFrame(accuracy, columns=acc_cols))
