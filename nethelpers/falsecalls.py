"""Causes of false calls, and the reader's visual call against the protocol's rule (notebook 05).

The protocol asks for "special attention to the causes of false-positive and false-negative
results". A *false negative* (FN) is a malignant lesion the index test counts negative (called
negative, or equivocal when equivocal calls count negative); a *false positive* (FP) is a
benign or physiological lesion it counts positive. Each false call carries the reader's free
text; :func:`normalise_causes` maps it to a controlled cause with the rules of the ``reading:``
parameters (:mod:`nethelpers.configreading`), keeps the text beside it, and counts a false call
without text as "not recorded".

:func:`false_call_causes` counts them per cause × error × tracer × modality × region with their
denominators: FN out of the malignant lesions read, FP out of the benign or physiological
lesions read (a lesion read = a lesion call with a test result and a truth; on that scan type
and in that region).

:func:`visual_vs_rule` crosses the reader's call with the protocol's quantitative rule (lesion
SUVmax > liver SUVmean on the same scan: :attr:`nethelpers.scores.ScoreRules.positivity_text`),
and :func:`discordant_lesions` lists the lesions where the two disagree: the call as counted
(``test``, equivocal by ``index_test.equivocal``) positive and the rule negative, or the
reverse. Each discordant lesion is labelled by the call as the reader made it ("above
reference, read negative", "above reference, read equivocal", "at or below reference, read
positive", ...), the same cells as the cross-table of :func:`visual_vs_rule`, so the counts of
the two tables agree label by label.
"""

from __future__ import annotations

import re

import pandas as pd

from nethelpers.configreading import ReadingConfig
from nethelpers.scores import ScoreRules, lesion_scores
from nethelpers.subgroups import ALL_REGIONS, lesion_regions

__all__ = ["ABOVE", "AT_OR_BELOW", "NOT_MEASURED", "cause_crosstab", "classify_false_calls",
           "discordant_lesions", "error_text", "gallery_selection",
           "false_call_causes", "normalise_causes", "unmatched_causes", "visual_vs_rule"]

ABOVE, AT_OR_BELOW, NOT_MEASURED = "above reference", "at or below reference", "not measured"
"""The protocol rule's result on a lesion (``rule`` column of :func:`visual_vs_rule`)."""
ERRORS = {"FN": "malignant lesions read", "FP": "benign or physiological lesions read"}
"""The denominator of each error type, in words."""
CALLS = ("positive", "equivocal", "negative")


def _texts(values: pd.Series) -> pd.Series:
    """Reader's texts stripped, missing and blank as ''."""
    return values.astype("string").fillna("").str.strip().astype(str)


def normalise_causes(texts: pd.Series, config: ReadingConfig | None = None) -> pd.DataFrame:
    """The controlled cause of each reader's text.

    Parameters
    ----------
    texts : pandas.Series
        Free texts (missing or blank: no cause recorded).
    config : ReadingConfig, optional
        The ``reading:`` parameters (defaults when omitted).

    Returns
    -------
    pandas.DataFrame
        Same index: ``cause`` (a controlled cause, ``config.unmatched`` when no rule matches,
        ``config.not_recorded`` when there is no text), ``cause_detail`` (the rule's named
        organ or lesion, '' when none) and ``cause_text`` (the text as written, stripped).
    """
    config = config or ReadingConfig()
    rules = [(re.compile(r.pattern, re.IGNORECASE), r.cause, r.detail)
             for r in config.cause_rules]
    text = _texts(texts)

    def match(value: str) -> tuple[str, str]:
        if not value:
            return config.not_recorded, ""
        for pattern, cause, detail in rules:
            if pattern.search(value):
                return cause, detail
        return config.unmatched, ""

    pairs = [match(v) for v in text]
    return pd.DataFrame({"cause": [p[0] for p in pairs], "cause_detail": [p[1] for p in pairs],
                         "cause_text": text.to_numpy()}, index=texts.index)


def unmatched_causes(texts: pd.Series, config: ReadingConfig | None = None) -> list[str]:
    """The distinct texts no rule matches (counted as ``config.unmatched``), sorted."""
    config = config or ReadingConfig()
    rules = [re.compile(r.pattern, re.IGNORECASE) for r in config.cause_rules]
    text = _texts(texts)
    return sorted({v for v in text if v and not any(p.search(v) for p in rules)})


def classify_false_calls(errors: pd.DataFrame, config: ReadingConfig | None = None
                         ) -> pd.DataFrame:
    """The false calls with their controlled cause, detail, the reader's text and region.

    Parameters
    ----------
    errors : pandas.DataFrame
        :func:`nethelpers.readings.false_calls` (``error, tracer, modality, site, cause``...).
    config : ReadingConfig, optional
        The ``reading:`` parameters.

    Returns
    -------
    pandas.DataFrame
        ``errors`` with ``cause`` replaced by the controlled cause and ``region``,
        ``cause_detail``, ``cause_text`` added.
    """
    config = config or ReadingConfig()
    out = errors.drop(columns=["cause"]).copy()
    out["region"] = lesion_regions(out["site"], config).to_numpy()
    causes = normalise_causes(errors["cause"], config)
    for col in causes.columns:
        out[col] = causes[col].to_numpy()
    return out


def _read(lesions: pd.DataFrame) -> pd.DataFrame:
    """Lesion calls with a test result and a truth."""
    return lesions[lesions["test"].notna() & lesions["malignant"].notna()].copy()


def _denominators(read: pd.DataFrame) -> pd.DataFrame:
    """Lesions read per error type × tracer × modality × region (and every region)."""
    read = read.assign(error=read["malignant"].astype(bool).map({True: "FN", False: "FP"}))
    keys = ["error", "tracer", "modality"]
    by_region = read.groupby([*keys, "region"], observed=True).size()
    overall = read.groupby(keys, observed=True).size()
    overall.index = pd.MultiIndex.from_tuples([(*k, ALL_REGIONS) for k in overall.index],
                                              names=[*keys, "region"])
    return pd.concat([by_region, overall]).rename("denominator").reset_index()


def false_call_causes(lesions: pd.DataFrame, errors: pd.DataFrame,
                      config: ReadingConfig | None = None) -> pd.DataFrame:
    """Counts of false calls per cause × error × tracer × modality × region, with denominators.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level` (the denominators).
    errors : pandas.DataFrame
        :func:`classify_false_calls` of the same lesions.
    config : ReadingConfig, optional
        The ``reading:`` parameters (order of causes and regions).

    Returns
    -------
    pandas.DataFrame
        ``error, tracer, modality, region, cause, numerator, denominator, denominator_of``:
        one row per combination with at least one false call, plus rows with ``region`` "all
        regions" (sum over regions); ``numerator`` the false calls of that cause, ``denominator``
        the malignant (FN) or benign/physiological (FP) lesions read in that stratum,
        ``denominator_of`` says which in words. Sorted by error, tracer, modality, region
        (the parameters' order), cause (idem).
    """
    config = config or ReadingConfig()
    read = _read(lesions)
    read["region"] = lesion_regions(read["site"], config).to_numpy()
    keys = ["error", "tracer", "modality", "region", "cause"]
    counts = errors.groupby(keys, observed=True).size()
    overall = errors.groupby(["error", "tracer", "modality", "cause"], observed=True).size()
    overall.index = pd.MultiIndex.from_tuples(
        [(e, t, m, ALL_REGIONS, c) for e, t, m, c in overall.index], names=keys)
    out = pd.concat([counts, overall]).rename("numerator").reset_index()
    out = out.merge(_denominators(read), on=["error", "tracer", "modality", "region"],
                    how="left")
    out["denominator"] = out["denominator"].fillna(0).astype(int)
    out["denominator_of"] = out["error"].map(ERRORS)
    region_order = {r: i for i, r in enumerate([ALL_REGIONS, *config.regions])}
    cause_order = {c: i for i, c in enumerate([*config.causes, config.not_recorded])}
    out = out.assign(_r=out["region"].map(region_order), _c=out["cause"].map(cause_order))
    out = out.sort_values(["error", "tracer", "modality", "_r", "_c"], kind="stable")
    return out.drop(columns=["_r", "_c"]).reset_index(drop=True)


def cause_crosstab(causes: pd.DataFrame, error: str, config: ReadingConfig | None = None
                   ) -> pd.DataFrame:
    """Display table of one error type: causes (rows) × scan types (columns), "n/N" cells.

    Parameters
    ----------
    causes : pandas.DataFrame
        :func:`false_call_causes`.
    error : {"FN", "FP"}
        Which error type.
    config : ReadingConfig, optional
        Order of the causes.

    Returns
    -------
    pandas.DataFrame
        ``cause`` then one column per tracer and modality, cells "k/N" (every region);
        a cause absent on a scan type is "0/N".
    """
    config = config or ReadingConfig()
    rows = causes[(causes["error"] == error) & (causes["region"] == ALL_REGIONS)]
    if rows.empty:
        return pd.DataFrame(columns=["cause"])
    rows = rows.assign(scan=rows["tracer"] + " " + rows["modality"])
    denominators = rows.groupby("scan")["denominator"].first()
    wide = rows.pivot_table(index="cause", columns="scan", values="numerator", aggfunc="sum",
                            fill_value=0)
    order = [c for c in [*config.causes, config.not_recorded] if c in wide.index]
    wide = wide.loc[order]
    cells = {scan: [f"{int(k)}/{int(denominators[scan])}" for k in wide[scan]]
             for scan in wide.columns}
    return pd.DataFrame({"cause": order, **cells})


def _rule_values(measurements: pd.DataFrame, rules: ScoreRules) -> pd.DataFrame:
    """One row per lesion ROI: its rule result, lesion value and reference value."""
    scored = lesion_scores(measurements.reset_index(drop=True), rules)
    scored = scored[scored["roi"].astype(str).str.strip().str.lower() == "lesion"]
    dup = scored.duplicated(["scan_id", "lesion_id"], keep=False)
    if dup.any():
        first = scored.loc[dup, ["scan_id", "lesion_id"]].iloc[0]
        raise ValueError(
            f"measurements hold {int(dup.sum())} lesion rows for one scan and lesion (e.g. "
            f"{first['scan_id']} {first['lesion_id']}): which VOI the protocol rule uses "
            "would be a guess; keep one VOI per lesion and scan (e.g. one reader's)")
    ref = f"ref_{rules.positivity_reference}"
    out = scored[["scan_id", "lesion_id", "positive", rules.lesion_statistic, ref]].rename(
        columns={"positive": "rule_positive", rules.lesion_statistic: "lesion_value",
                 ref: "reference_value"})
    # counts-only SPECT: the rule compares counts (scores.py), which are never shown as SUV;
    # the ratio lesion / reference is the same on either scale
    counts = (scored["quantity"].astype("string").str.lower().eq("counts").fillna(False)
              .astype(bool) if "quantity" in scored else pd.Series(False, index=scored.index))
    own = "counts_" + rules.lesion_statistic.removeprefix("suv_")
    lesion = pd.to_numeric(out["lesion_value"], errors="coerce")
    if counts.any() and own in scored:
        lesion = lesion.where(~counts, pd.to_numeric(scored[own], errors="coerce"))
    out = out.assign(quantity=counts.map({True: "counts", False: "SUV"}),
                     ratio=lesion / pd.to_numeric(out["reference_value"], errors="coerce"))
    out.loc[counts, ["lesion_value", "reference_value"]] = float("nan")
    return out


def _value_names(rules: ScoreRules) -> dict[str, str]:
    """Names of the rule's two values in the tables, e.g. ``suv_max``, ``liver_suv_mean``."""
    return {"lesion_value": rules.lesion_statistic,
            "reference_value": f"{rules.positivity_reference}_{rules.reference_statistic}",
            "ratio": f"lesion_to_{rules.positivity_reference}"}


def _with_rule(lesions: pd.DataFrame, measurements: pd.DataFrame, rules: ScoreRules
               ) -> pd.DataFrame:
    out = lesions.merge(_rule_values(measurements, rules), on=["scan_id", "lesion_id"],
                        how="left")
    pos = out["rule_positive"].astype("boolean")
    out["rule"] = pos.map({True: ABOVE, False: AT_OR_BELOW}).astype(object).where(
        pos.notna(), NOT_MEASURED)
    return out


def visual_vs_rule(lesions: pd.DataFrame, measurements: pd.DataFrame,
                   rules: ScoreRules | None = None) -> pd.DataFrame:
    """The reader's call × the protocol's rule, counted per tracer and modality.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level` (every lesion call, with or without truth).
    measurements : pandas.DataFrame
        The measurement table (one lesion VOI per scan and lesion).
    rules : ScoreRules, optional
        The positivity rule (default: SUVmax > 1 × liver SUVmean).

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, call, rule, n, rule_text``: every call (positive, equivocal,
        negative) × rule result (above reference, at or below reference, not measured) of
        each scan type, zeros included; ``rule_text`` the rule in words.
    """
    rules = rules or ScoreRules()
    joined = _with_rule(lesions, measurements, rules)
    rows = []
    for (tracer, modality), g in joined.groupby(["tracer", "modality"], sort=True):
        calls = [*CALLS, *sorted(set(g["call"]) - set(CALLS))]
        for call in calls:
            for rule in (ABOVE, AT_OR_BELOW, NOT_MEASURED):
                n = int(((g["call"] == call) & (g["rule"] == rule)).sum())
                rows.append({"tracer": tracer, "modality": modality, "call": call,
                             "rule": rule, "n": n})
    out = pd.DataFrame(rows, columns=["tracer", "modality", "call", "rule", "n"])
    out["rule_text"] = rules.positivity_text
    return out


def discordant_lesions(lesions: pd.DataFrame, measurements: pd.DataFrame,
                       rules: ScoreRules | None = None,
                       config: ReadingConfig | None = None) -> pd.DataFrame:
    """Lesions whose call (as counted) and the protocol's rule disagree.

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`nethelpers.readings.lesion_level`.
    measurements : pandas.DataFrame
        The measurement table.
    rules : ScoreRules, optional
        The positivity rule.
    config : ReadingConfig, optional
        Regions and causes.

    Returns
    -------
    pandas.DataFrame
        ``discordance`` ("<rule>, read <call>" with the call as the reader made it: "above
        reference, read negative", "above reference, read equivocal" when equivocal calls
        count negative, "at or below reference, read positive", "at or below reference, read
        equivocal" when they count positive), ``patient_id, scan_id, tracer, modality,
        lesion_id, site, region, truth, call, rule``, the lesion and reference values of the
        rule (``suv_max``, ``liver_suv_mean`` by default; empty on counts-only SPECT),
        their ratio (``lesion_to_liver``, on every scale), ``quantity`` (SUV or counts),
        ``cause, cause_detail, cause_text`` (the reader's note, normalised like the false
        calls'; an empty note is "not recorded" only on a false call, and blank on a lesion
        read correctly or without a truth, which needs no cause).
        Lesions not measured are never discordant. Sorted by discordance, scan, lesion.
    """
    rules = rules or ScoreRules()
    config = config or ReadingConfig()
    joined = _with_rule(lesions, measurements, rules)
    known = joined[joined["test"].notna() & joined["rule_positive"].notna()]
    test = known["test"].astype(bool)
    rule = known["rule_positive"].astype(bool)
    out = known[test != rule].copy()
    side = rule[test != rule].map({True: ABOVE, False: AT_OR_BELOW})
    out["discordance"] = side + ", read " + out["call"].astype(str)
    out["region"] = lesion_regions(out["site"], config).to_numpy()
    causes = normalise_causes(out["cause"], config)
    malignant = out["malignant"].astype("boolean")
    false_call = (malignant.notna() & (out["test"].astype(bool) != malignant)).fillna(False)
    causes.loc[~false_call.astype(bool) & (causes["cause"] == config.not_recorded),
               "cause"] = ""
    out = out.drop(columns=["cause"]).join(causes)
    cols = ["discordance", "patient_id", "scan_id", "tracer", "modality", "lesion_id", "site",
            "region", "truth", "call", "rule", "lesion_value", "reference_value", "ratio",
            "quantity", "cause", "cause_detail", "cause_text"]
    out = out[cols].sort_values(["discordance", "scan_id", "lesion_id"]).reset_index(drop=True)
    return out.rename(columns=_value_names(rules))


def error_text(errors: pd.DataFrame, lesions: pd.DataFrame, error: str) -> str:
    """One error type counted with its denominator in words, e.g. "12 of 80 malignant ...".

    Parameters
    ----------
    errors : pandas.DataFrame
        :func:`classify_false_calls` (or :func:`nethelpers.readings.false_calls`).
    lesions : pandas.DataFrame
        The lesion calls the errors come from (:func:`nethelpers.readings.lesion_level`).
    error : {"FN", "FP"}
        Which error type.

    Returns
    -------
    str
        "k of N <denominator>" pooled over every scan type (lesion reads).
    """
    read = _read(lesions)
    n = int((read["malignant"].astype(bool) == (error == "FN")).sum())
    return f"{int((errors['error'] == error).sum())} of {n} {ERRORS[error]}"


def gallery_selection(discordant: pd.DataFrame, rules: ScoreRules | None = None,
                      limit: int = 24) -> pd.DataFrame:
    """The most discordant lesions, with a caption each, for the image gallery.

    Parameters
    ----------
    discordant : pandas.DataFrame
        :func:`discordant_lesions`.
    rules : ScoreRules, optional
        The rule (names of its value columns).
    limit : int
        At most this many lesions (``reading.discordant_gallery``).

    Returns
    -------
    pandas.DataFrame
        ``scan_id, lesion_id, caption``: the lesions farthest from the reference first
        (largest |log(lesion value / reference value)|, then scan and lesion ID), caption
        e.g. ``"P012-L03 liver (FDG PET/CT), SUVmax 7.1 (liver 5.2), read negative"``.
    """
    import numpy as np

    rules = rules or ScoreRules()
    names = _value_names(rules)
    value, ref = discordant[names["lesion_value"]], discordant[names["reference_value"]]
    ratio = discordant[names["ratio"]] if names["ratio"] in discordant else value / ref
    stat = {"suv_max": "SUVmax", "suv_peak": "SUVpeak"}[rules.lesion_statistic]
    region = rules.positivity_reference.replace("_", " ")
    out = discordant.assign(_far=np.abs(np.log(ratio)), _ratio=ratio)
    out = out.sort_values(["_far", "scan_id", "lesion_id"], ascending=[False, True, True],
                          kind="stable").head(max(int(limit), 0))
    counts = (out["quantity"] == "counts" if "quantity" in out
              else pd.Series(False, index=out.index))
    caption = [f"{r.lesion_id} {r.site} ({r.tracer} {r.modality}), "
               + (f"counts max / {region} mean {q:.2f}" if c else f"{stat} {v:.1f} "
                  f"({region} {f:.1f})") + f", read {r.call}"
               for r, v, f, q, c in zip(out.itertuples(), out[names["lesion_value"]],
                                        out[names["reference_value"]], out["_ratio"], counts,
                                        strict=True)]
    return pd.DataFrame({"scan_id": out["scan_id"].to_numpy(),
                         "lesion_id": out["lesion_id"].to_numpy(), "caption": caption})
