"""TIO: culprit-tumour localisation by SSTR PET, SSTR SPECT and FDG PET (notebook 4).

In tumour-induced osteomalacia (TIO) one small phosphaturic mesenchymal tumour causes the
disease, and imaging has one job: find it. The unit is therefore the *patient*, the target
his *culprit* (the malignant lesion(s) of the lesions table, the reference standard), and a
scan type detects it when the index-test reader calls a culprit ``lesion_id`` positive (an
equivocal call counts as ``index_test.equivocal`` says; an excluded equivocal call on a
culprit, with no positive one, leaves the patient out of that scan type's rate). A culprit
that the reader did not call at all on a read scan is missed.

The scan types are the roles of :mod:`nethelpers.scantypes` (:data:`ROLES`): the SSTR PET
(⁶⁸Ga-DOTATATE PET/CT in the protocol), the SSTR SPECT (⁹⁹ᵐTc-HYNIC-TOC SPECT/CT) and the
FDG PET on the SSTR PET's modality. Each patient contributes the first scan of each type
that the reader read (:func:`nethelpers.readings.patient_level`: repeats left out).

Tables (one function each):

- :func:`detection_rates` (``tio_detection``): culprit detection per scan type (Wilson), and
  where TIO patients without a tumour exist (after surgery, no residual), the patients with a
  positive scan (false positives), described with the same interval;
- :func:`paired_detection` (``tio_mcnemar``): each pair of scan types on the patients with
  both: discordant counts, exact conditional McNemar test (two-sided binomial on the
  discordant pairs) and Newcombe's (1998, method 10) interval of the paired difference;
- :func:`localisation` (``tio_localisation``): per scan type, positive scans whose positive
  call is on the culprit (correct) or only elsewhere (false localisation); per pair, patients
  positive on both whose positive calls share a culprit;
The culprits' sizes are in :mod:`nethelpers.tiosize`, their uptake and the clinical variables
in :mod:`nethelpers.tiouptake`.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.scantypes import ScanTypes
from nethelpers.stats import mcnemar, paired_difference, proportion_ci

__all__ = ["CULPRIT", "NO_TUMOUR", "ROLES", "TEST_WORDS", "culprit_reads", "detection_rates",
           "headline", "localisation", "paired_detection", "present_roles", "read_scans",
           "tio_cases"]

ROLES = ("sstr_pet", "sstr_spect", "fdg_pet")
"""The three index tests of the TIO arm, in the order the tables list them."""

CULPRIT = "culprit"
"""Status of a TIO patient with at least one malignant lesion (the culprit)."""

NO_TUMOUR = "no tumour"
"""Status of a TIO patient without a malignant lesion and ``disease_present`` False."""

UNKNOWN = "tumour status unknown"
"""Status of any other TIO patient (no malignant lesion, disease present or not recorded)."""

TEST_WORDS = ("exact conditional McNemar test (two-sided binomial test of the discordant "
              "pairs, b ~ Bin(b + c, 1/2))")
"""The paired test, in words a methods section can quote."""

NEWCOMBE_WORDS = "Newcombe (1998) method 10"
"""The interval of the paired difference, in words."""


def _ids(values: pd.Series) -> str:
    """Lesion or patient IDs as one sorted ``;``-joined text ("" for none)."""
    return ";".join(sorted({str(v) for v in values}))


def present_roles(types: ScanTypes) -> list[str]:
    """The roles of :data:`ROLES` that the study's scans fill, in order."""
    return [r for r in ROLES if getattr(types, r) is not None]


def tio_cases(cohort: Any) -> pd.DataFrame:
    """The TIO patients with their culprit status.

    Parameters
    ----------
    cohort : nethelpers.cohort.Cohort
        ``patients`` (``group``, ``disease_present``), ``lesions`` (``malignant``) and
        ``vocabulary`` (its groups with ``tio=True``).

    Returns
    -------
    pandas.DataFrame
        One row per patient of a TIO group: ``patient_id, group, status, culprits,
        n_culprits``; ``status`` is :data:`CULPRIT`, :data:`NO_TUMOUR` or :data:`UNKNOWN`,
        ``culprits`` the ``;``-joined lesion IDs of the malignant lesions.
    """
    patients = cohort.patients
    groups = set(cohort.vocabulary.tio_groups)
    tio = patients[patients["group"].astype(str).isin(groups)][
        ["patient_id", "group", "disease_present"]].copy()
    tio["group"] = tio["group"].astype(str)
    lesions = cohort.lesions
    if len(lesions):
        malignant = lesions[lesions["malignant"].astype("boolean").fillna(False).astype(bool)]
        found = malignant.groupby("patient_id")["lesion_id"].agg(_ids)
    else:
        found = pd.Series(dtype=object)
    tio["culprits"] = tio["patient_id"].map(found).fillna("")
    tio["n_culprits"] = tio["culprits"].map(lambda s: len(s.split(";")) if s else 0)
    absent = tio["disease_present"].astype("boolean").eq(False).fillna(False).astype(bool)
    tio["status"] = np.where(tio["n_culprits"] > 0, CULPRIT, np.where(absent, NO_TUMOUR, UNKNOWN))
    cols = ["patient_id", "group", "status", "culprits", "n_culprits"]
    return tio[cols].sort_values("patient_id").reset_index(drop=True)


def read_scans(results: pd.DataFrame, types: ScanTypes, patients: pd.Series) -> pd.DataFrame:
    """Each patient's first read scan of each present role.

    Parameters
    ----------
    results : pandas.DataFrame
        :func:`nethelpers.readings.patient_level` (``read``, ``repeat``, ``test``).
    types : ScanTypes
        The study's scan types.
    patients : pandas.Series
        The patient IDs wanted.

    Returns
    -------
    pandas.DataFrame
        ``role, scan_type, patient_id, scan_id, positive`` (the scan's patient-level result).
    """
    frames = []
    for role in present_roles(types):
        st = getattr(types, role)
        rows = results[(results["tracer"] == st.tracer) & (results["modality"] == st.modality)
                       & results["read"].astype(bool) & ~results["repeat"].astype(bool)
                       & results["patient_id"].isin(set(patients))]
        rows = rows.sort_values("scan_id").drop_duplicates("patient_id")
        frames.append(pd.DataFrame({"role": role, "scan_type": st.label,
                                    "patient_id": rows["patient_id"].astype(str),
                                    "scan_id": rows["scan_id"].astype(str),
                                    "positive": rows["test"].astype("boolean")}))
    cols = ["role", "scan_type", "patient_id", "scan_id", "positive"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def culprit_reads(cases: pd.DataFrame, lesions: pd.DataFrame, results: pd.DataFrame,
                  types: ScanTypes) -> pd.DataFrame:
    """One row per TIO patient × scan type read: positive, culprit detected, where.

    Parameters
    ----------
    cases, lesions, results, types
        As for :func:`culprit_lesion_reads`.

    Returns
    -------
    pandas.DataFrame
        ``role, scan_type, patient_id, group, status, scan_id, positive, detected,
        culprit_hits, elsewhere``: ``positive`` is the scan's patient-level result,
        ``detected`` (patients with a culprit only) True when a culprit was called positive,
        NA when no culprit was but one's equivocal call is excluded, else False;
        ``culprit_hits`` and ``elsewhere`` the ``;``-joined lesion IDs called positive on a
        culprit and on any other lesion.
    """
    scans = read_scans(results, types, cases["patient_id"])
    out = scans.merge(cases, on="patient_id")
    positive = lesions[lesions["test"].astype("boolean").fillna(False).astype(bool)]
    hits = positive.groupby("scan_id")["lesion_id"].agg(lambda s: set(map(str, s)))
    tests = lesions.set_index(["scan_id", "lesion_id"])["test"].astype("boolean")
    rows = []
    for row in out.itertuples(index=False):
        culprits = set(row.culprits.split(";")) if row.culprits else set()
        called = hits.get(row.scan_id, set())
        detected: Any = pd.NA
        if row.status == CULPRIT:
            mine = [tests.get((row.scan_id, c), False) for c in culprits]
            known = [bool(v) for v in mine if not pd.isna(v)]
            detected = True if any(known) else (pd.NA if len(known) < len(mine) else False)
        rows.append({"detected": detected, "culprit_hits": _ids(called & culprits),
                     "elsewhere": _ids(called - culprits)})
    extra = pd.DataFrame(rows, columns=["detected", "culprit_hits", "elsewhere"])
    out = pd.concat([out.reset_index(drop=True), extra], axis=1)
    out["detected"] = out["detected"].astype("boolean")
    cols = ["role", "scan_type", "patient_id", "group", "status", "scan_id", "positive",
            "detected", "culprit_hits", "elsewhere"]
    return out[cols]


def _rate(scan_type: str, measure: str, values: pd.Series, ids: pd.Series, level: float,
          note: str) -> dict:
    """One proportion row: k = values True among the non-missing, Wilson interval."""
    known = values.dropna().astype(bool)
    ci = proportion_ci(int(known.sum()), int(known.size), "wilson", level)
    return {"scan_type": scan_type, "measure": measure, "estimate": ci.estimate,
            "lower": ci.lower, "upper": ci.upper, "method": "wilson", "level": level,
            "numerator": ci.k, "denominator": ci.n, "excluded": int(values.isna().sum()),
            "patient_ids": _ids(ids[values.fillna(False).astype(bool)]),
            "note": "; ".join(filter(None, (note, ci.note)))}


def detection_rates(reads: pd.DataFrame, types: ScanTypes, level: float = 0.95
                    ) -> pd.DataFrame:
    """Culprit detection per scan type, and false-positive patients without a tumour.

    Parameters
    ----------
    reads : pandas.DataFrame
        :func:`culprit_reads`.
    types : ScanTypes
        The study's scan types (each present role gets its rows, read or not).
    level : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        Per present role: a row ``culprit detected`` (patients with a culprit and that scan
        read; ``excluded``: excluded equivocal calls) and, where TIO patients without a tumour
        had that scan read, a row ``false-positive patients (no tumour)``; columns
        ``scan_type, role, measure, estimate, lower, upper, method, level, numerator,
        denominator, excluded, patient_ids, note`` (``patient_ids``: the detected, or the
        false-positive, patients).
    """
    rows = []
    for role in present_roles(types):
        st = getattr(types, role)
        mine = reads[reads["role"] == role]
        culprit = mine[mine["status"] == CULPRIT]
        rows.append(_rate(st.label, "culprit detected", culprit["detected"],
                          culprit["patient_id"], level,
                          "" if len(culprit) else f"no TIO patient with a culprit had a {st} "
                                                  "read") | {"role": role})
        free = mine[mine["status"] == NO_TUMOUR]
        if len(free):
            rows.append(_rate(st.label, "false-positive patients (no tumour)", free["positive"],
                              free["patient_id"], level,
                              "described: TIO patients without a tumour (e.g. after surgery, "
                              "no residual) whose scan was positive") | {"role": role})
    cols = ["scan_type", "role", "measure", "estimate", "lower", "upper", "method", "level",
            "numerator", "denominator", "excluded", "patient_ids", "note"]
    return pd.DataFrame(rows, columns=cols)


def _pairs(types: ScanTypes) -> list[tuple[str, str]]:
    """The pairs of present roles, in :data:`ROLES` order (SSTR PET first)."""
    return list(combinations(present_roles(types), 2))


def paired_detection(reads: pd.DataFrame, types: ScanTypes, level: float = 0.95
                     ) -> pd.DataFrame:
    """Each pair of scan types on the patients with a culprit who had both read.

    Parameters
    ----------
    reads : pandas.DataFrame
        :func:`culprit_reads`.
    types : ScanTypes
        The study's scan types.
    level : float
        Confidence level of Newcombe's interval.

    Returns
    -------
    pandas.DataFrame
        One row per pair (A, B): ``a, b, patients, both, a_only, b_only, neither, rate_a,
        rate_b, difference, lower, upper, difference_method, method, test, p, note``.
        ``method`` is ``"exact"`` (the test's code), ``test`` its words; ``p`` is NaN when
        there is no discordant pair (the test is not defined), and every number is NaN
        when no patient had both.
    """
    rows = []
    culprit = reads[(reads["status"] == CULPRIT) & reads["detected"].notna()]
    wide = culprit.pivot(index="patient_id", columns="role", values="detected")
    for ra, rb in _pairs(types):
        a, b = getattr(types, ra), getattr(types, rb)
        both = (wide[[ra, rb]].dropna() if {ra, rb} <= set(wide.columns)
                else pd.DataFrame(columns=[ra, rb]))
        row: dict[str, Any] = {"a": a.label, "b": b.label, "patients": len(both),
                               "method": "exact", "test": TEST_WORDS,
                               "difference_method": NEWCOMBE_WORDS, "level": level}
        if both.empty:
            rows.append(row | {"note": f"not tested: no patient with a culprit had both a {a} "
                                       f"and a {b} read"})
            continue
        xa, xb = both[ra].astype(bool), both[rb].astype(bool)
        test = mcnemar(xa, xb, method="exact")
        diff = paired_difference(xa, xb, np.ones(len(both), dtype=bool), level=level,
                                 method="newcombe").iloc[0]
        rows.append(row | {
            "both": test.a, "a_only": test.b, "b_only": test.c, "neither": test.d,
            "rate_a": diff["estimate_a"], "rate_b": diff["estimate_b"],
            "difference": diff["difference"], "lower": diff["lower"], "upper": diff["upper"],
            "p": test.p, "patient_ids": _ids(both.index),
            "note": "; ".join(filter(None, (
                test.note or "p conditional on the discordant pairs (the Newcombe interval "
                             "is not)", f"exploratory: {len(both)} patients")))})
    cols = ["a", "b", "patients", "both", "a_only", "b_only", "neither", "rate_a", "rate_b",
            "difference", "lower", "upper", "difference_method", "level", "method", "test",
            "p", "patient_ids", "note"]
    return pd.DataFrame(rows, columns=cols)


def localisation(reads: pd.DataFrame, types: ScanTypes, level: float = 0.95) -> pd.DataFrame:
    """Where the positive calls lie: on the culprit, elsewhere, and the same in two scans.

    Parameters
    ----------
    reads : pandas.DataFrame
        :func:`culprit_reads` (patients with a culprit are used).
    types : ScanTypes
        The study's scan types.
    level : float
        Confidence level of the Wilson intervals.

    Returns
    -------
    pandas.DataFrame
        ``comparison, measure, estimate, lower, upper, method, level, numerator,
        denominator, patient_ids, note``. Per scan type (denominator: its positive scans of
        patients with a culprit): ``correct localisation`` (a positive call on a culprit),
        ``false localisation`` (positive calls only on other lesions) and ``culprit and
        elsewhere`` (the culprit and another lesion called). Per pair ``A vs B``
        (denominator: patients positive on both): ``same culprit`` (the two scans' positive
        calls share a culprit ``lesion_id``).
    """
    culprit = reads[(reads["status"] == CULPRIT)
                    & reads["positive"].fillna(False).astype(bool)]
    rows = []

    def add(comparison: str, measure: str, hit: pd.Series, ids: pd.Series, note: str) -> None:
        row = _rate(comparison, measure, hit, ids, level, note)
        rows.append(row | {"comparison": row.pop("scan_type")})

    for role in present_roles(types):
        mine = culprit[culprit["role"] == role]
        on = mine["culprit_hits"] != ""
        off = mine["elsewhere"] != ""
        label = getattr(types, role).label
        add(label, "correct localisation", on, mine["patient_id"],
            "a positive call on a culprit lesion_id")
        add(label, "false localisation", ~on & off, mine["patient_id"],
            "positive calls only on lesions other than the culprit")
        add(label, "culprit and elsewhere", on & off, mine["patient_id"],
            "the culprit and another lesion called positive")
    for ra, rb in _pairs(types):
        a = culprit[culprit["role"] == ra].set_index("patient_id")["culprit_hits"]
        b = culprit[culprit["role"] == rb].set_index("patient_id")["culprit_hits"]
        common = a.index.intersection(b.index)
        same = pd.Series([bool(set(filter(None, a[p].split(";")))
                               & set(filter(None, b[p].split(";")))) for p in common],
                         index=common, dtype=bool)
        add(f"{getattr(types, ra).label} vs {getattr(types, rb).label}", "same culprit", same,
            pd.Series(common, index=common), "patients positive on both whose positive calls "
                                             "share a culprit lesion_id")
    cols = ["comparison", "measure", "estimate", "lower", "upper", "method", "level",
            "numerator", "denominator", "patient_ids", "note"]
    return pd.DataFrame(rows, columns=cols)


def headline(detection: pd.DataFrame) -> dict[str, str]:
    """The culprit detection of each scan type in words, for the notebook's summary.

    Parameters
    ----------
    detection : pandas.DataFrame
        :func:`detection_rates`.

    Returns
    -------
    dict
        ``"TIO culprit detected, <scan type>"`` → ``"4/5 patients (80 %)"``.
    """
    rows = detection[detection["measure"] == "culprit detected"]
    return {f"TIO culprit detected, {r.scan_type}": (
        f"{r.numerator}/{r.denominator} patients"
        + (f" ({100 * r.estimate:.0f} %)" if r.denominator else "")) for r in rows.itertuples()}
