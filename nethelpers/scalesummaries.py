"""Notebook 03's summaries when some scans are counts-only SPECT: each number on its own scale.

PET and quantitative SPECT are measured in SUV; counts-only SPECT (``quantity`` "counts" in
the measurements) has no SUV, only counts and the ratios that do not depend on the scale
(T/B liver, spleen and shell). These wrap :mod:`nethelpers.summaries` so that no SUV summary
mixes in counts and every table says which scale a line is on:

- :func:`uptake_by_scale`: median [IQR] per tracer, modality, scale and site or group; the
  SUV columns are empty on the counts lines, the T/B columns filled on both.
- :func:`liver_reference_by_scale`: the liver SUVmean (an SUV QC) over the SUV scans only; the
  counts livers listed apart (their mean counts are no SUV and do not enter it).
- :func:`krenning_by_scale`: the Krenning distribution with a ``scale`` column (on counts the
  grade compares lesion and references of the same scan: the ratios).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from nethelpers import summaries
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = ["SCALE_TEXT", "UPTAKE_VALUES", "krenning_by_scale", "liver_reference_by_scale",
           "uptake_by_scale"]

#: What each scale's Krenning compares (the ``scale`` column).
SCALE_TEXT = {"SUV": "SUV (SUVmax vs liver and spleen SUVmean)",
              "counts": "counts ratios (T/B liver and spleen; no SUV)"}
#: Uptake measures summarised: SUV on SUV scans, the T/B ratios on every scan.
UPTAKE_VALUES = ("suv_max", "suv_peak", "tb_liver", "tb_spleen", "tb_shell")


def _quantity(frame: pd.DataFrame) -> pd.Series:
    """The scale of each row (``"SUV"`` where the column is missing or empty)."""
    if "quantity" not in frame.columns:
        return pd.Series("SUV", index=frame.index, dtype=object)
    return frame["quantity"].astype(object).where(frame["quantity"].notna(), "SUV")


def uptake_by_scale(lesion_rows: pd.DataFrame, by: Sequence[str],
                    values: Sequence[str] = UPTAKE_VALUES,
                    vocabulary: Vocabulary | None = None) -> pd.DataFrame:
    """Median [IQR] of lesion uptake per group and scale (:func:`summaries.uptake_summary`).

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`nethelpers.summaries.lesion_measurements`.
    by : sequence of str
        Grouping columns, e.g. ``("tracer", "modality", "site")``; ``quantity`` is added
        after ``modality`` (or last).
    values : sequence of str
        Measures; the SUV ones are empty on counts lines.
    vocabulary : Vocabulary, optional
        Order of tracers, modalities and groups.

    Returns
    -------
    pandas.DataFrame
        :func:`summaries.uptake_summary`'s columns with ``quantity`` ("SUV" or "counts").
    """
    rows = lesion_rows.assign(quantity=_quantity(lesion_rows))
    keys = list(by)
    keys.insert(keys.index("modality") + 1 if "modality" in keys else len(keys), "quantity")
    return summaries.uptake_summary(rows, keys, values, vocabulary)


def liver_reference_by_scale(measurements: pd.DataFrame, vocabulary: Vocabulary | None = None
                             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The liver SUVmean per scan type over the SUV scans; the counts livers listed apart.

    Parameters
    ----------
    measurements : pandas.DataFrame
        measurements.csv.
    vocabulary : Vocabulary, optional
        Order of tracers and modalities.

    Returns
    -------
    suv : pandas.DataFrame
        :func:`summaries.liver_reference_summary` of the SUV scans.
    counts : pandas.DataFrame
        ``scan_id, tracer, modality, liver_counts_mean``: the counts-only SPECT livers (no
        SUV; empty when there is none).
    """
    scale = _quantity(measurements)
    suv = summaries.liver_reference_summary(measurements[scale == "SUV"], vocabulary)
    livers = measurements[(scale == "counts") & (measurements["roi"] == "liver")]
    counts = livers.reindex(columns=["scan_id", "tracer", "modality", "liver_counts_mean"])
    return suv, counts.sort_values("scan_id").reset_index(drop=True)


def krenning_by_scale(lesion_rows: pd.DataFrame, group: str | Sequence[str] | None = None,
                      vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> pd.DataFrame:
    """The Krenning distribution per tracer, modality and scale (SUV, or counts ratios).

    Parameters
    ----------
    lesion_rows : pandas.DataFrame
        From :func:`nethelpers.summaries.lesion_measurements` (``krenning`` scored on
        either scale by :mod:`nethelpers.scores`).
    group : str or sequence of str, optional
        Only these patient groups.
    vocabulary : Vocabulary
        SSTR tracers and their order.

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, scale, krenning, n_lesions, pct`` (:data:`SCALE_TEXT` in
        ``scale``; ``pct`` within tracer x modality x scale).
    """
    scale = _quantity(lesion_rows)
    parts = []
    for quantity in ("SUV", "counts"):
        part = summaries.krenning_distribution(lesion_rows[scale == quantity], group,
                                               vocabulary)
        part.insert(2, "scale", SCALE_TEXT[quantity])
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    order = {t: i for i, t in enumerate(vocabulary.tracer_names)}
    modality = {m: i for i, m in enumerate(vocabulary.modality_names)}
    out = out.assign(_t=out["tracer"].map(order), _m=out["modality"].map(modality))
    out = out.sort_values(["_t", "_m"], kind="stable", na_position="last")
    return out.drop(columns=["_t", "_m"]).reset_index(drop=True)
