"""Subgroups of the accuracy analyses: the region (organ) of each lesion, detection by region.

Detection by region is the lesion-level sensitivity of each index test (tracer × modality) among
the malignant lesions of one region: liver metastases, lymph-node metastases, bone ... A lesion's
region comes from the lesions table's ``site`` through the ``reading:`` parameters
(:mod:`nethelpers.configreading`); a site they do not name is counted as "other" and listed
(:func:`unknown_sites`).

Lesions of one patient are correlated, so each sensitivity carries the cluster-adjusted interval
of :func:`nethelpers.stats.accuracy.clustered_proportion_ci` (ratio estimator, effective sample
size; the same interval as ``cluster_lower``/``cluster_upper`` of the lesion-level accuracy)
with the patient as the cluster, beside the naive interval.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.configreading import ReadingConfig
from nethelpers.pubnumbers import METHOD_WORDS
from nethelpers.stats.accuracy import clustered_proportion_ci

__all__ = ["ALL_REGIONS", "CLUSTER_METHOD", "detection_by_region", "lesion_regions",
           "unknown_sites"]

ALL_REGIONS = "all regions"
"""The ``region`` of rows that sum over every region."""
CLUSTER_METHOD = ("{method}, cluster-adjusted (ratio estimator, effective sample size; "
                  "Rao & Scott 1992)")
"""Method text of the cluster-adjusted interval (``{method}``: the proportion CI method)."""


def _code(value: object) -> str:
    return "" if pd.isna(value) else str(value).strip().lower()


def _region(site: str, config: ReadingConfig) -> str | None:
    """The region of one site code, None when the parameters do not name it."""
    exact = {k.strip().lower(): v for k, v in config.site_regions.items()}
    if site in exact:
        return exact[site]
    prefixes = sorted(config.region_prefixes.items(), key=lambda kv: -len(kv[0]))
    for prefix, region in prefixes:
        if site.startswith(prefix.strip().lower()):
            return region
    return None


def lesion_regions(sites: pd.Series, config: ReadingConfig | None = None) -> pd.Series:
    """The region of each lesion site (unknown or missing sites: ``config.other_region``).

    Parameters
    ----------
    sites : pandas.Series
        Site codes of the lesions table (compared stripped and lower-case).
    config : ReadingConfig, optional
        The ``reading:`` parameters.

    Returns
    -------
    pandas.Series
        Region names, same index.
    """
    config = config or ReadingConfig()
    regions = {s: _region(s, config) for s in {_code(v) for v in sites}}
    return sites.map(lambda v: regions[_code(v)] or config.other_region).astype(object)


def unknown_sites(sites: pd.Series, config: ReadingConfig | None = None) -> list[str]:
    """Site codes the parameters do not name (counted in ``config.other_region``), sorted."""
    config = config or ReadingConfig()
    return sorted({str(v).strip() for v in sites.dropna() if _region(_code(v), config) is None}
                  | ({"(missing)"} if sites.isna().any() else set()))


def _row(keys: dict, g: pd.DataFrame, method: str, level: float) -> dict:
    res = clustered_proportion_ci(g["test"].astype(bool).to_numpy(),
                                  g["patient_id"].astype(str).to_numpy(), method, level)
    return keys | {
        "measure": "sensitivity", "estimate": res.estimate,
        "lower": res.effective_lower, "upper": res.effective_upper,
        "method": CLUSTER_METHOD.format(method=METHOD_WORDS.get(method, method)),
        "numerator": res.k, "denominator": res.n,
        "naive_lower": res.lower, "naive_upper": res.upper,
        "n_patients": res.n_clusters, "design_effect": res.design_effect, "level": level,
        "note": res.note}


def detection_by_region(lesions: pd.DataFrame, config: ReadingConfig | None = None, *,
                        method: str = "wilson", level: float = 0.95) -> pd.DataFrame:
    """Sensitivity of lesion detection per tracer × modality × region, cluster-adjusted.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level` (``patient_id, tracer, modality, site,
        malignant, test``). Only malignant lesions with a test result count (an equivocal
        call excluded by the rule is left out).
    config : ReadingConfig, optional
        The ``reading:`` parameters (site → region, region order).
    method : str
        Proportion CI method of the naive and effective-n intervals.
    level : float
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, region, measure`` ("sensitivity"), ``estimate, lower, upper``
        (cluster-adjusted, patients as clusters), ``method, numerator`` (lesions detected),
        ``denominator`` (malignant lesions read), ``naive_lower, naive_upper, n_patients,
        design_effect, level, note``. One row per region with a malignant lesion read, then
        one row "all regions" per scan type (regions in the parameters' order).
    """
    config = config or ReadingConfig()
    cols = ["tracer", "modality", "region", "measure", "estimate", "lower", "upper", "method",
            "numerator", "denominator", "naive_lower", "naive_upper", "n_patients",
            "design_effect", "level", "note"]
    read = lesions[lesions["test"].notna() & lesions["malignant"].notna()]
    read = read[read["malignant"].astype(bool)]
    if read.empty:
        return pd.DataFrame(columns=cols)
    read = read.assign(region=lesion_regions(read["site"], config).to_numpy())
    order = {r: i for i, r in enumerate(config.regions)}
    rows = []
    for (tracer, modality), g in read.groupby(["tracer", "modality"], sort=True):
        for region in sorted(g["region"].unique(), key=lambda r: order.get(r, len(order))):
            rows.append(_row({"tracer": tracer, "modality": modality, "region": region},
                             g[g["region"] == region], method, level))
        rows.append(_row({"tracer": tracer, "modality": modality, "region": ALL_REGIONS},
                         g, method, level))
    return pd.DataFrame(rows, columns=cols)
