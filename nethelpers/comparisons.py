"""Paired comparisons of two scan types (notebook 4): detection, uptake and agreement.

:func:`paired_lesions` and :func:`paired_patients` put the results of two scan types of the
same patients side by side (``_a`` and ``_b`` columns); each other function turns such pairs
into one report table. A statistic that the data cannot support (too few pairs, all
differences zero, perfect agreement) is not dropped: its row stays, with NaN values and a
``note`` saying which statistic needs what and how many there were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.scantypes import ScanType, column_name

__all__ = ["MEASURED", "Agreement", "compare_detection", "detection_table",
           "modality_agreement", "paired_lesions", "paired_long", "paired_patients",
           "wilcoxon_table"]

MEASURED = ("suv_max", "tb_liver", "lesion_to_liver", "positive")
"""Measurement columns :func:`paired_lesions` carries for each side."""

UNITS = (("patients (median per patient)", "primary: one pair per patient"),
         ("lesions", "descriptive: lesions of a patient are not independent"))
"""The units of the Wilcoxon table, each with its role."""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


# --------------------------------------------------------------------------------------------
# pairs of two scan types
# --------------------------------------------------------------------------------------------


def paired_lesions(lesions: pd.DataFrame, a: tuple[str, str], b: tuple[str, str],
                   measurements: pd.DataFrame | None = None) -> pd.DataFrame:
    """Lesions read on two scan types of the same patient, side by side.

    Parameters
    ----------
    lesions : pandas.DataFrame
        From :func:`nethelpers.readings.lesion_level`.
    a, b : tuple of str
        ``(tracer, modality)`` of the two scan types, e.g. ``("DOTATATE", "PET/CT")`` and
        ``("FDG", "PET/CT")``.
    measurements : pandas.DataFrame, optional
        measurements.csv: adds ``suv_max``, ``tb_liver``, ``lesion_to_liver`` and
        ``positive`` (the protocol's positivity rule) of each side, suffixed ``_a``/``_b``.

    Returns
    -------
    pandas.DataFrame
        One row per lesion with a read on both: ``patient_id, lesion_id, site, malignant,
        call_a, call_b, test_a, test_b`` (and the SUV columns). A patient with several scans
        of one type contributes its first scan (by scan_id) of that type.
    """
    def side(key: tuple[str, str], suffix: str) -> pd.DataFrame:
        rows = lesions[(lesions["tracer"] == key[0]) & (lesions["modality"] == key[1])]
        first = rows.groupby("patient_id")["scan_id"].transform("min")
        rows = rows[rows["scan_id"] == first]
        keep = rows[["patient_id", "lesion_id", "site", "malignant", "scan_id", "call", "test"]]
        if measurements is not None:
            cols = [c for c in MEASURED if c in measurements]
            m = measurements[measurements["roi"] == "lesion"][["scan_id", "lesion_id", *cols]]
            keep = keep.merge(m, on=["scan_id", "lesion_id"], how="left")
        return keep.rename(columns={c: f"{c}_{suffix}" for c in keep.columns
                                    if c not in ("patient_id", "lesion_id", "site",
                                                 "malignant")})

    out = side(a, "a").merge(side(b, "b").drop(columns=["site", "malignant"]),
                             on=["patient_id", "lesion_id"], how="inner")
    return out.sort_values(["patient_id", "lesion_id"]).reset_index(drop=True)


def paired_patients(results: pd.DataFrame, a: tuple[str, str], b: tuple[str, str]
                    ) -> pd.DataFrame:
    """Patient-level results of two scan types of the same patients, side by side.

    Parameters
    ----------
    results : pandas.DataFrame
        From :func:`nethelpers.readings.patient_level`.
    a, b : tuple of str
        ``(tracer, modality)`` of the two scan types.

    Returns
    -------
    pandas.DataFrame
        One row per patient with both: ``patient_id, disease_present, scan_id_a, test_a,
        scan_id_b, test_b`` (a patient's first scan of each type, by scan_id).
    """
    def side(key: tuple[str, str], suffix: str) -> pd.DataFrame:
        rows = results[(results["tracer"] == key[0]) & (results["modality"] == key[1])]
        rows = rows.sort_values("scan_id").drop_duplicates("patient_id")
        keep = rows[["patient_id", "disease_present", "scan_id", "test"]]
        return keep.rename(columns={"scan_id": f"scan_id_{suffix}", "test": f"test_{suffix}"})

    out = side(a, "a").merge(side(b, "b").drop(columns="disease_present"), on="patient_id")
    return out.sort_values("patient_id").reset_index(drop=True)


def compare_detection(pairs: pd.DataFrame, *, truth: str = "malignant",
                      cluster: str | None = "patient_id", level: float = 0.95
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare two paired index tests: McNemar on the diseased units, paired differences.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`paired_lesions` or :func:`paired_patients`: ``test_a, test_b`` and ``truth``;
        pairs with a missing test (excluded equivocal calls) are left out.
    truth : str
        Boolean column of the target condition.
    cluster : str, optional
        Cluster column (lesions of a patient): adds the clustered McNemar test (Obuchowski)
        and clusters the differences. None for one unit per patient.
    level : float
        Confidence level of the differences.

    Returns
    -------
    detection : pandas.DataFrame
        One row per McNemar test among the diseased units: ``method, statistic, p,
        a_only, b_only, both, neither, units, clusters, note`` (which one is primary, and
        the test's own note, e.g. why p is missing).
    difference : pandas.DataFrame
        :func:`nethelpers.stats.paired_difference` (A − B sensitivity and specificity).
    """
    from nethelpers.stats import mcnemar, paired_difference

    data = pairs.dropna(subset=["test_a", "test_b", truth])
    diseased = data[data[truth].astype(bool)]
    a, b = diseased["test_a"].astype(bool), diseased["test_b"].astype(bool)
    tests = [mcnemar(a, b, method="exact")]
    notes = ["statistic: pairs positive on A only" + (
        "; units treated as independent (clustering ignored)" if cluster else "")]
    if cluster is not None:
        tests.append(mcnemar(a, b, cluster=diseased[cluster]))
        notes.append("primary: accounts for several units per cluster")
    detection = pd.DataFrame([{"method": t.method, "statistic": t.statistic, "p": t.p,
                               "a_only": t.b, "b_only": t.c, "both": t.a, "neither": t.d,
                               "units": t.n, "clusters": t.n_clusters,
                               "note": "; ".join(filter(None, (note, t.note)))}
                              for t, note in zip(tests, notes, strict=True)])
    difference = paired_difference(
        data["test_a"].astype(bool), data["test_b"].astype(bool), data[truth].astype(bool),
        cluster=None if cluster is None else data[cluster], level=level)
    return detection, difference


# --------------------------------------------------------------------------------------------
# uptake: Wilcoxon signed-rank of paired SUVmax
# --------------------------------------------------------------------------------------------


def wilcoxon_table(pairs: pd.DataFrame, *, value: str = "suv_max", level: float = 0.95,
                   min_pairs: int = 1) -> pd.DataFrame:
    """Wilcoxon signed-rank test of a paired value (A − B) over patients and over lesions.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`paired_lesions` with measurements: ``patient_id`` and
        ``<value>_a``, ``<value>_b``. Pairs missing either value are left out.
    value : str
        The measurement, e.g. ``"suv_max"``.
    level : float
        Confidence level of the Hodges-Lehmann interval.
    min_pairs : int
        Fewest pairs a unit needs to be tested (the test itself needs one non-zero
        difference).

    Returns
    -------
    pandas.DataFrame
        Two rows, ``patients (median per patient)`` (each patient's median over its lesion
        pairs: the test to quote) and ``lesions`` (descriptive): ``unit, pairs, V, p,
        hodges_lehmann_estimate, lower, upper, method, note``. A unit with fewer than
        ``min_pairs`` pairs, or whose differences are all zero, has NaN statistics and a
        note saying why.
    """
    from nethelpers.stats import wilcoxon

    a, b = f"{value}_a", f"{value}_b"
    cols = ["patient_id", a, b]
    data = pairs[cols].dropna(subset=[a, b]) if len(pairs) else pd.DataFrame(columns=cols)
    per_patient = data.groupby("patient_id")[[a, b]].median()
    rows = []
    for (unit, role), frame in zip(UNITS, (per_patient, data), strict=True):
        x, y = frame[a].to_numpy(dtype=float), frame[b].to_numpy(dtype=float)
        row: dict[str, Any] = {"unit": unit, "pairs": len(frame), "V": np.nan, "p": np.nan,
                               "hodges_lehmann_estimate": np.nan, "lower": np.nan,
                               "upper": np.nan, "method": "", "note": role}
        if len(frame) < min_pairs:
            row["note"] = _join(role, f"not tested: the test needs at least {min_pairs} "
                                      f"pair(s), there are {len(frame)}")
        elif np.all(x == y):
            row["note"] = _join(role, f"not tested: all {len(frame)} differences are zero "
                                      "(the signed-rank test is undefined)")
        else:
            w = wilcoxon(x, y, level=level)
            row |= {"V": w.statistic, "p": w.p, "hodges_lehmann_estimate": w.estimate,
                    "lower": w.lower, "upper": w.upper, "method": w.method,
                    "note": _join(role, w.note)}
        rows.append(row)
    return pd.DataFrame(rows)


def paired_long(pairs: pd.DataFrame, value: str, names: tuple[str, str], *,
                condition: str = "tracer") -> pd.DataFrame:
    """The pairs measured on both sides in long form, for :func:`nethelpers.plots.paired_plot`.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`paired_lesions` with ``<value>_a`` and ``<value>_b``.
    value : str
        The measurement, e.g. ``"suv_max"``.
    names : tuple of str
        The condition's value of side A and of side B, e.g. ``("DOTATATE", "FDG")``.
    condition : str
        Name of the condition column.

    Returns
    -------
    pandas.DataFrame
        Two rows per pair with both values: the pair's columns, ``<condition>`` and ``value``
        (side A's rows first). Empty when no pair has both.
    """
    a, b = f"{value}_a", f"{value}_b"
    if not len(pairs):
        return pd.DataFrame(columns=["lesion_id", condition, "value"])
    both = pairs.dropna(subset=[a, b])
    return pd.concat([both.assign(**{condition: names[0], "value": both[a]}),
                      both.assign(**{condition: names[1], "value": both[b]})],
                     ignore_index=True)


# --------------------------------------------------------------------------------------------
# detection: McNemar per unit
# --------------------------------------------------------------------------------------------


def detection_table(lesion_pairs: pd.DataFrame, a: ScanType, b: ScanType, *,
                    patient_pairs: pd.DataFrame | None = None, level: float = 0.95
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Detection by two scan types compared (McNemar) per unit, and the paired differences.

    Parameters
    ----------
    lesion_pairs : pandas.DataFrame
        :func:`paired_lesions` (truth ``malignant``, clustered by ``patient_id``).
    a, b : ScanType
        The two scan types (A first): name the ``<a>_only`` and ``<b>_only`` columns.
    patient_pairs : pandas.DataFrame, optional
        :func:`paired_patients` (truth ``disease_present``): adds the patient unit (exact
        McNemar).
    level : float
        Confidence level of the differences.

    Returns
    -------
    detection : pandas.DataFrame
        :func:`compare_detection`'s tests with ``unit``, ``a`` and ``b`` (the scan types)
        first, and the discordant counts named by tracer (``dotatate_only``, ``fdg_only``).
        A unit without a pair having both results and a known truth gets one row whose note
        says so.
    difference : pandas.DataFrame
        The paired differences A − B of sensitivity and specificity, with ``unit``.
    """
    names = {"a_only": f"{column_name(a.tracer)}_only",
             "b_only": f"{column_name(b.tracer)}_only"}
    if names["a_only"] == names["b_only"]:  # one tracer on two modalities
        names = {"a_only": "a_only", "b_only": "b_only"}
    units = [("lesions", lesion_pairs, "malignant", "patient_id")]
    if patient_pairs is not None:
        units.append(("patients", patient_pairs, "disease_present", None))
    tests, diffs = [], []
    for unit, pairs, truth, cluster in units:
        usable = (pairs.dropna(subset=["test_a", "test_b", truth]) if len(pairs)
                  else pairs)
        if usable.empty:
            tests.append(pd.DataFrame([{
                "method": "", "statistic": np.nan, "p": np.nan, "a_only": 0, "b_only": 0,
                "both": 0, "neither": 0, "units": 0, "clusters": np.nan,
                "note": f"not tested: no {unit[:-1]} pair has both results and a known "
                        f"{truth.replace('_', ' ')}"}]).assign(unit=unit))
            continue
        test, diff = compare_detection(pairs, truth=truth, cluster=cluster, level=level)
        tests.append(test.assign(unit=unit))
        diffs.append(diff.assign(unit=unit))
    detection = pd.concat(tests, ignore_index=True).rename(columns=names)
    detection.insert(0, "b", b.label)
    detection.insert(0, "a", a.label)
    detection.insert(0, "unit", detection.pop("unit"))
    difference = (pd.concat(diffs, ignore_index=True) if diffs
                  else pd.DataFrame(columns=["measure", "unit"]))
    return detection, difference


# --------------------------------------------------------------------------------------------
# agreement of one tracer on two modalities (PET/MR vs PET/CT)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    """Agreement of two scan types per lesion subset, and the Bland-Altman figure's inputs.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per subset (see :func:`modality_agreement`).
    figure : dict or None
        Keyword arguments of :func:`nethelpers.plots.bland_altman_plot` for all lesions;
        None when the Bland-Altman analysis of all lesions could not be made (the table's
        note says why).
    """

    table: pd.DataFrame
    figure: dict[str, Any] | None


def _subsets(pairs: pd.DataFrame, bone: str) -> list[tuple[str, pd.DataFrame, str]]:
    """All lesions, bone lesions and the other lesions with a known site."""
    site = pairs["site"].astype("string") if "site" in pairs else pd.Series(
        pd.NA, index=pairs.index, dtype="string")
    in_bone = site.str.startswith(bone).fillna(False).astype(bool)
    unknown = int(site.isna().sum())
    left_out = f"{unknown} lesion pair(s) without a site left out" if unknown else ""
    return [("all lesions", pairs, ""),
            ("bone lesions", pairs[in_bone], left_out),
            ("other lesions", pairs[~in_bone & site.notna()], left_out)]


def _kappa(data: pd.DataFrame, level: float, min_pairs: int) -> dict[str, Any]:
    from nethelpers.stats import cohen_kappa

    calls = data.dropna(subset=["call_a", "call_b"])
    row: dict[str, Any] = {"n_calls": len(calls), "kappa": np.nan, "kappa_lower": np.nan,
                           "kappa_upper": np.nan}
    if len(calls) < min_pairs:
        return row | {"_note": f"kappa not estimated: needs at least {min_pairs} pairs of "
                               f"calls, there are {len(calls)}"}
    k = cohen_kappa(calls["call_a"].astype(str), calls["call_b"].astype(str), level=level)
    return row | {"kappa": k.kappa, "kappa_lower": k.lower, "kappa_upper": k.upper,
                  "_note": f"kappa: {k.note}" if k.note else ""}


def _suv(data: pd.DataFrame, value: str, level: float, min_pairs: int
         ) -> tuple[dict[str, Any], Any]:
    from nethelpers.stats import bland_altman, icc

    a, b = f"{value}_a", f"{value}_b"
    both = data.dropna(subset=[a, b])
    row: dict[str, Any] = {"n": len(both)} | dict.fromkeys(
        ("ratio_bias", "ratio_loa_lower", "ratio_loa_upper", "icc_a1", "icc_lower",
         "icc_upper"), np.nan)
    if len(both) < min_pairs:
        return row | {"_note": f"Bland-Altman and ICC not estimated: need at least "
                               f"{min_pairs} pairs with {value} on both, there are "
                               f"{len(both)}"}, None
    notes, ba = [], None
    try:
        ba = bland_altman(both[a], both[b], ratio=True, level=level)
        row |= {"ratio_bias": ba.bias, "ratio_loa_lower": ba.lower_loa,
                "ratio_loa_upper": ba.upper_loa}
    except ValueError as exc:  # e.g. a value <= 0 on the ratio scale
        notes.append(f"Bland-Altman not estimated: {exc}")
    try:
        table = icc(both[[a, b]].to_numpy(dtype=float), level=level)
        a1 = table.set_index("mcgraw_wong").loc["ICC(A,1)"]
        row |= {"icc_a1": a1["icc"], "icc_lower": a1["lower"], "icc_upper": a1["upper"]}
    except ValueError as exc:  # e.g. perfect agreement: the F-based CI is undefined
        notes.append(f"ICC not estimated: {exc}")
    return row | {"_note": _join(*notes)}, (both, ba)


def modality_agreement(pairs: pd.DataFrame, labels: tuple[str, str], *,
                       value: str = "suv_max", level: float = 0.95, min_pairs: int = 3,
                       bone: str = "bone") -> Agreement:
    """Agreement of one tracer's reads and uptake on two modalities, per lesion subset.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`paired_lesions` of the two scan types (A = e.g. PET/MR,
        B = PET/CT) with measurements (``call_a/_b``, ``<value>_a/_b``, ``site``).
    labels : tuple of str
        Names of A and B in the figure, e.g. ``("PET/MR", "PET/CT")``.
    value : str
        The measurement compared.
    level : float
        Confidence level.
    min_pairs : int
        Fewest pairs each statistic needs (default 3, Bland-Altman's minimum); a subset
        with fewer keeps its row with NaN values and a note.
    bone : str
        Sites starting with this are bone lesions (MR-based attenuation correction
        underestimates bone uptake).

    Returns
    -------
    Agreement
        ``table``: one row per subset (all, bone, other lesions): ``lesions, n_calls,
        kappa, kappa_lower, kappa_upper`` (Cohen's kappa of the calls), ``n`` (pairs with
        the value on both), ``ratio_bias, ratio_loa_lower, ratio_loa_upper`` (Bland-Altman
        on the ratio A/B, exact CIs of the limits), ``icc_a1, icc_lower, icc_upper``
        (ICC(A,1): two-way random, absolute agreement, single measure), ``note``.
        ``figure``: the Bland-Altman plot's inputs for all lesions.
    """
    if min_pairs < 3:
        raise ValueError(f"min_pairs must be at least 3 (Bland-Altman's minimum), got "
                         f"{min_pairs}")
    rows, figure = [], None
    for subset, data, note in _subsets(pairs, bone):
        kappa = _kappa(data, level, min_pairs)
        suv, inputs = _suv(data, value, level, min_pairs)
        notes = _join(note, kappa.pop("_note"), suv.pop("_note"))
        rows.append({"lesions": subset, **kappa, **suv, "note": notes})
        if subset == "all lesions" and inputs is not None and inputs[1] is not None:
            both, ba = inputs
            figure = {"a": both[f"{value}_a"], "b": both[f"{value}_b"], "bias": ba.bias,
                      "lower_loa": ba.lower_loa, "upper_loa": ba.upper_loa,
                      "bias_ci": ba.bias_ci, "lower_loa_ci": ba.lower_loa_ci,
                      "upper_loa_ci": ba.upper_loa_ci, "ratio": True,
                      "label_a": labels[0], "label_b": labels[1], "unit": "SUV",
                      "level": level}
    columns = ["lesions", "n_calls", "kappa", "kappa_lower", "kappa_upper", "n",
               "ratio_bias", "ratio_loa_lower", "ratio_loa_upper", "icc_a1", "icc_lower",
               "icc_upper", "note"]
    return Agreement(pd.DataFrame(rows)[columns], figure)
