"""Uptake of the same lesions on two tracers, described per tracer (notebook 4).

SUVs of two different tracers are not on one scale: ⁶⁸Ga-DOTATATE SUV reflects somatostatin
receptor density and ⁶⁸Ga kinetics, FDG SUV glucose metabolism, each with its own
biodistribution, noise and partial-volume behaviour. A paired test of SSTR SUVmax minus FDG
SUVmax (the Wilcoxon test the report used to show) therefore answers no clinical question: a
"higher" DOTATATE SUV does not mean better detection. What a PET physicist accepts instead:

- each tracer's SUVmax described on its own (median, quartiles) for the lesions measured on
  both, with the number of lesions and patients;
- the tumour-to-liver ratio (lesion SUVmax / liver SUVmean of the same scan) of each tracer,
  described the same way: it normalises each tracer to its own reference organ (and is the
  protocol's positivity rule), so the share of lesions above the liver is comparable as a
  *phenotype*, not as one scale. The caveat stays: liver uptake differs between tracers and
  patients, so even ratios are described, not tested against each other.

Detection (which tracer finds more malignant lesions) is compared on the readers' calls,
with the clustered McNemar test (:mod:`nethelpers.comparisons`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from nethelpers.tables import continuous_summary

__all__ = ["VALUES", "uptake_by_tracer"]

VALUES = {"suv_max": "SUVmax (g/ml)", "lesion_to_liver": "lesion-to-liver ratio (SUVmax / "
          "liver SUVmean)"}
"""The measurements described per tracer, with their labels."""


def uptake_by_tracer(pairs: pd.DataFrame, names: tuple[str, str], *,
                     values: dict[str, str] | None = None) -> pd.DataFrame:
    """Each tracer's uptake of the lesions measured on both, described (no cross-tracer test).

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`nethelpers.comparisons.paired_measurements`: ``patient_id``,
        ``<value>_a``, ``<value>_b`` and ``positive_a``/``positive_b`` (the protocol's
        positivity rule) when measured.
    names : tuple of str
        The tracers of side A and side B, e.g. ``("DOTATATE", "FDG")``.
    values : dict, optional
        Measurement column -> label (default :data:`VALUES`); missing columns are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per measurement × tracer: ``measurement, tracer, lesions, patients, median,
        q1, q3, min, max`` (quartiles by linear interpolation) and ``above_rule, ruled``
        (lesions positive by the protocol's rule, out of those with a rule result; on the
        ratio rows only), ``note``.
    """
    values = VALUES if values is None else values
    rows: list[dict[str, Any]] = []
    for col, label in values.items():
        for side, tracer in zip(("a", "b"), names, strict=True):
            name = f"{col}_{side}"
            if name not in pairs:
                continue
            data = pairs.dropna(subset=[name])
            s = continuous_summary(data[name])
            row: dict[str, Any] = {
                "measurement": label, "tracer": tracer, "lesions": s["n"],
                "patients": int(data["patient_id"].nunique()), "median": s["median"],
                "q1": s["q1"], "q3": s["q3"], "min": s["min"], "max": s["max"],
                "above_rule": pd.NA, "ruled": pd.NA,
                "note": "descriptive: SUVs of two tracers are not on one scale"}
            rule = f"positive_{side}"
            if col == "lesion_to_liver" and rule in data:
                known = data[rule].dropna().astype(bool)
                row |= {"above_rule": int(known.sum()), "ruled": int(known.size),
                        "note": "descriptive: each tracer normalised to its own liver"}
            rows.append(row)
    return pd.DataFrame(rows, columns=["measurement", "tracer", "lesions", "patients",
                                       "median", "q1", "q3", "min", "max", "above_rule",
                                       "ruled", "note"])
