"""Paired comparisons of two scan types (notebook 4): detection, uptake and agreement.

:func:`paired_lesions` (lesions read on both), :func:`paired_measurements` (lesion VOIs
measured on both, reads or not) and :func:`paired_patients` put the results of two scan types
of the same patients side by side (``_a`` and ``_b`` columns); each other function turns such
pairs into one report table (the agreement of two modalities is in
:mod:`nethelpers.agreement`). Detection compares reads; uptake compares measurements. A
statistic that the data cannot support (too few pairs, all differences zero, perfect
agreement) is not dropped: its row stays, with NaN values and a ``note`` saying which
statistic needs what and how many there were.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.agreement import Agreement, modality_agreement
from nethelpers.scantypes import ScanType, column_name

__all__ = ["MEASURED", "Agreement", "agreement_pairs", "compare_detection", "detection_table",
           "modality_agreement", "paired_lesions", "paired_long", "paired_measurements",
           "paired_patients", "wilcoxon_table"]

MEASURED = ("suv_max", "tb_liver", "lesion_to_liver", "positive")
"""Measurement columns :func:`paired_lesions` and :func:`paired_measurements` carry per side."""

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


def paired_measurements(measurements: pd.DataFrame, a: tuple[str, str], b: tuple[str, str],
                        lesions: pd.DataFrame | None = None, *,
                        exclude: Collection[str] = ()) -> pd.DataFrame:
    """Lesion VOIs measured on two scan types of the same patient, side by side (no reads).

    A lesion enters when its VOI (the same ``lesion_id``, shared by every scan of a patient)
    was measured on a scan of type ``a`` and on a scan of type ``b`` of its patient, whether
    or not a reader called it: uptake is a measurement, not a read.

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv (``patient_id, scan_id, tracer, modality, roi, lesion_id`` and the
        :data:`MEASURED` columns); rows with ``roi == "lesion"`` are used.
    a, b : tuple of str
        ``(tracer, modality)`` of the two scan types.
    lesions : pandas.DataFrame, optional
        The lesions table (``lesion_id, site, malignant``): adds the lesion's site and
        reference-standard malignancy (NA without the table or for a lesion not in it).
    exclude : collection of str
        Scan IDs left out, e.g. the repeat scans (not a patient's first of its type:
        :func:`nethelpers.readings.repeat_scans`).

    Returns
    -------
    pandas.DataFrame
        One row per lesion measured on both: ``patient_id, lesion_id, site, malignant,
        scan_id_a``, the :data:`MEASURED` columns suffixed ``_a``, then the same for ``b``,
        sorted by patient and lesion. A patient with several measured scans of one type (not
        excluded) contributes its first by scan_id.
    """
    cols = [c for c in MEASURED if c in measurements]
    if len(measurements):
        rows = measurements[(measurements["roi"] == "lesion") & measurements["lesion_id"].notna()
                            & ~measurements["scan_id"].astype(str).isin(set(exclude))]
    else:
        rows = pd.DataFrame(columns=["patient_id", "scan_id", "tracer", "modality", "roi",
                                     "lesion_id", *cols])

    def side(key: tuple[str, str], suffix: str) -> pd.DataFrame:
        own = rows[(rows["tracer"].astype(str) == key[0])
                   & (rows["modality"].astype(str) == key[1])]
        first = own.groupby("patient_id")["scan_id"].transform("min")
        own = own[own["scan_id"] == first][["patient_id", "lesion_id", "scan_id", *cols]]
        return own.rename(columns={c: f"{c}_{suffix}" for c in ["scan_id", *cols]})

    out = side(a, "a").merge(side(b, "b"), on=["patient_id", "lesion_id"], how="inner")
    out["lesion_id"] = out["lesion_id"].astype(str)
    info = pd.DataFrame(columns=["lesion_id", "site", "malignant"])
    if lesions is not None and len(lesions):
        info = lesions[["lesion_id", "site", "malignant"]].astype({"lesion_id": str})
    out = out.merge(info, on="lesion_id", how="left")
    out["malignant"] = out["malignant"].astype("boolean")
    front = ["patient_id", "lesion_id", "site", "malignant"]
    out = out[front + [c for c in out.columns if c not in front]]
    return out.sort_values(["patient_id", "lesion_id"]).reset_index(drop=True)


def agreement_pairs(read_pairs: pd.DataFrame, measured_pairs: pd.DataFrame) -> pd.DataFrame:
    """Lesions read on both scan types or measured on both, in one table.

    Parameters
    ----------
    read_pairs : pandas.DataFrame
        :func:`paired_lesions` (empty when there are no reads): its calls are kept.
    measured_pairs : pandas.DataFrame
        :func:`paired_measurements`: its values are kept.

    Returns
    -------
    pandas.DataFrame
        One row per lesion in either, for :func:`modality_agreement`: the columns of
        ``measured_pairs`` (NA for a lesion not measured on both) and ``call_a, call_b``
        (NA for a lesion not read on both).
    """
    keys, calls = ["patient_id", "lesion_id"], ["site", "malignant", "call_a", "call_b"]
    reads = read_pairs[keys + calls] if len(read_pairs) else pd.DataFrame(columns=keys + calls)
    out = measured_pairs.merge(reads, on=keys, how="outer", suffixes=("", "_read"))
    for col in ("site", "malignant"):
        out[col] = out[col].astype(object).where(out[col].notna(), out.pop(f"{col}_read"))
    return out.sort_values(keys).reset_index(drop=True)


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


DIFFERENCE_WORDS = {
    "ratio-score": ("cluster-adjusted score interval inverting the clustered McNemar test "
                    "(null-restricted ratio-estimator variance, Obuchowski 1998)"),
    "ratio-wald": ("cluster-adjusted Wald interval (unrestricted ratio-estimator variance, "
                   "Obuchowski 1998)"),
    "newcombe": "Newcombe (1998) method 10",
}
"""The difference intervals by code, in words a methods section can quote."""


def _named_differences(data: pd.DataFrame, wald: pd.DataFrame, truth: str,
                       cluster: str | None, level: float) -> pd.DataFrame:
    """The differences with their interval named; clustered: the score interval first.

    The clustered McNemar test uses the variance under H0, the Wald interval the variance at
    the estimate, so they can disagree near p = 0.05: the score interval (same variance as
    the test) is the primary one and the Wald interval is kept beside it, ``primary`` False.
    """
    from nethelpers.stats import paired_difference

    frames = [wald.assign(primary=cluster is None)]
    if cluster is not None:
        score = paired_difference(
            data["test_a"].astype(bool), data["test_b"].astype(bool), data[truth].astype(bool),
            cluster=data[cluster], level=level, method="ratio-score")
        frames.insert(0, score.assign(primary=True))
    out = pd.concat(frames, ignore_index=True)
    out.insert(1, "estimate", out["difference"])
    out["method_code"] = out["method"]
    out["method"] = out["method"].map(DIFFERENCE_WORDS).fillna(out["method"])
    return out


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
        The paired differences A − B of sensitivity and specificity, with ``unit``,
        ``estimate`` (= ``difference``), ``method`` in words, ``method_code`` and
        ``primary``: for lesions the score interval that inverts the clustered McNemar test
        (primary: excludes 0 exactly when its p < 1 − level) and the cluster-adjusted Wald
        interval (``primary`` False; unrestricted variance); for patients Newcombe's.
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
        diffs.append(_named_differences(usable, diff, truth, cluster, level).assign(unit=unit))
    detection = pd.concat(tests, ignore_index=True).rename(columns=names)
    detection.insert(0, "b", b.label)
    detection.insert(0, "a", a.label)
    detection.insert(0, "unit", detection.pop("unit"))
    difference = (pd.concat(diffs, ignore_index=True) if diffs
                  else pd.DataFrame(columns=["measure", "unit"]))
    return detection, difference
