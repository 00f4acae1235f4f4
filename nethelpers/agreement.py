"""Agreement of one tracer on two PET modalities (PET/MR versus PET/CT; notebook 4).

Cohen's kappa of the visual calls, and Bland-Altman (on ratios) and ICC(A,1) of a measured
value, for all lesions and for bone lesions separately (MR-based attenuation correction
underestimates bone uptake). The pairs come from :func:`nethelpers.comparisons.agreement_pairs`;
a statistic that the pairs cannot support keeps its row, with NaN values and a note.

The kappa weighting is a named argument and a column (``kappa_weighting``). With
``cluster="patient_id"`` the kappa and ICC intervals are cluster (patient) bootstrap percentile
intervals (:mod:`nethelpers.stats.clusterboot`), since lesions of one patient are not
independent; column ``ci_method`` names the interval either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Agreement", "modality_agreement"]


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


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


#: Order of the visual calls for weighted kappa.
CALL_ORDER = ("negative", "equivocal", "positive")


def _boot_args(data: pd.DataFrame, boot: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of the cluster bootstrap for ``data`` (none without a cluster)."""
    cluster = boot.get("cluster")
    if cluster is None:
        return {}
    return {"cluster": data[cluster].to_numpy(dtype=object), "n_boot": boot["n_boot"],
            "seed": boot["seed"]}


def _kappa(data: pd.DataFrame, level: float, min_pairs: int,
           boot: dict[str, Any] | None = None) -> dict[str, Any]:
    from nethelpers.stats import cohen_kappa

    boot = boot or {}

    calls = data.dropna(subset=["call_a", "call_b"])
    row: dict[str, Any] = {"n_calls": len(calls), "kappa": np.nan, "kappa_lower": np.nan,
                           "kappa_upper": np.nan}
    if len(calls) < min_pairs:
        return row | {"_note": f"kappa not estimated: needs at least {min_pairs} pairs of "
                               f"calls, there are {len(calls)}"}
    weighting = boot.get("weighting", "unweighted")
    cats = None if weighting == "unweighted" else list(CALL_ORDER)
    k = cohen_kappa(calls["call_a"].astype(str), calls["call_b"].astype(str), level=level,
                    weighting=weighting, categories=cats, **_boot_args(calls, boot))
    return row | {"kappa": k.kappa, "kappa_lower": k.lower, "kappa_upper": k.upper,
                  "_ci": k.ci_method, "_note": f"kappa: {k.note}" if k.note else ""}


def _suv(data: pd.DataFrame, value: str, level: float, min_pairs: int,
         boot: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
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
        table = icc(both[[a, b]].to_numpy(dtype=float), level=level,
                    **_boot_args(both, boot or {}))
        a1 = table.set_index("mcgraw_wong").loc["ICC(A,1)"]
        row |= {"icc_a1": a1["icc"], "icc_lower": a1["lower"], "icc_upper": a1["upper"]}
    except ValueError as exc:  # e.g. perfect agreement: the F-based CI is undefined
        notes.append(f"ICC not estimated: {exc}")
    return row | {"_note": _join(*notes)}, (both, ba)


def modality_agreement(pairs: pd.DataFrame, labels: tuple[str, str], *,
                       value: str = "suv_max", level: float = 0.95, min_pairs: int = 3,
                       bone: str = "bone", weighting: str = "unweighted",
                       cluster: str | None = None, n_boot: int = 2000,
                       seed: int | None = None) -> Agreement:
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
    weighting : {"unweighted", "linear", "quadratic"}
        Kappa weighting (weighted: calls ordered negative < equivocal < positive).
    cluster : str, optional
        Column of the cluster (e.g. ``"patient_id"``): kappa and ICC CIs by cluster bootstrap.
    n_boot, seed : int
        Replicates and seed of the cluster bootstrap.

    Returns
    -------
    Agreement
        ``table``: one row per subset (all, bone, other lesions): ``lesions, n_calls,
        kappa, kappa_lower, kappa_upper`` (Cohen's kappa of the calls), ``n`` (pairs with
        the value on both), ``ratio_bias, ratio_loa_lower, ratio_loa_upper`` (Bland-Altman
        on the ratio A/B, exact CIs of the limits), ``icc_a1, icc_lower, icc_upper``
        (ICC(A,1): two-way random, absolute agreement, single measure),
        ``kappa_weighting``, ``ci_method`` (kappa's; the ICC's is the same bootstrap with a
        cluster, else F-based), ``note``.
        ``figure``: the Bland-Altman plot's inputs for all lesions.
    """
    if min_pairs < 3:
        raise ValueError(f"min_pairs must be at least 3 (Bland-Altman's minimum), got "
                         f"{min_pairs}")
    boot = {"weighting": weighting, "cluster": cluster, "n_boot": n_boot, "seed": seed}
    rows, figure = [], None
    for subset, data, note in _subsets(pairs, bone):
        kappa = _kappa(data, level, min_pairs, boot)
        suv, inputs = _suv(data, value, level, min_pairs, boot)
        notes = _join(note, kappa.pop("_note"), suv.pop("_note"))
        ci = kappa.pop("_ci", "")
        rows.append({"lesions": subset, **kappa, **suv, "kappa_weighting": weighting,
                     "ci_method": ci, "note": notes})
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
               "icc_upper", "kappa_weighting", "ci_method", "note"]
    return Agreement(pd.DataFrame(rows)[columns], figure)
