"""Numbers and labels of publication tables: decimals by quantity, p values, column names.

The conventions (state them once in a paper's methods or under its tables):

* **Proportions** (sensitivity, specificity, PPV, NPV, accuracy, prevalence, detection rate)
  and differences of proportions: 2 decimals ("0.79"), or as percent with 1 decimal
  ("79.2%") when the caller asks for percent.
* **Agreement and discrimination coefficients** (κ, ICC, AUC, correlation): 2 decimals.
* **Likelihood ratios and the diagnostic odds ratio**: 2 significant figures, but never fewer
  digits than the integer part has (0.047, 4.7, 23, 229); a formatted value keeps its
  integer part whole.
* **SUV and SUL**: 2 decimals below 10, 1 decimal from 10 ("2.13", "25.4"); volumes (MTV,
  TLA/TLG, ml) 1 decimal.
* **Ratios** (T/B, design effect, ratio bias and limits of agreement) and test statistics:
  2 decimals.
* **Percentages** already in percent (``pct``, ``percent``): 1 decimal.
* **Counts**: integers, never "12.0"; an effective sample size (``n_eff``): 1 decimal.
* **p values** (AMA Manual of Style, with 3 decimals kept near 0.05): "< 0.001" below 0.001,
  3 decimals below 0.1 ("0.054", "0.004"), 2 decimals from 0.1 ("0.23"), "> 0.99" above 0.99.
* **Negative numbers** carry a true minus sign (U+2212); an interval is written with an en dash
  ("0.71–0.85"), or with "to" when a bound is negative ("−0.51 to −0.15").

A column's quantity is inferred from its name (:func:`quantity`); in a long table whose
``measure`` column names the quantity of each row, the generic ``estimate``/``lower``/
``upper``/``difference`` columns take the row's measure.
"""

from __future__ import annotations

import math
import re

__all__ = ["MINUS", "VALUE_LABELS", "column_label", "fmt_number", "fmt_p", "quantity",
           "value_label"]

MINUS = "\u2212"
EN_DASH = "\u2013"

COUNT_NAMES = frozenset({
    "n", "tp", "fp", "fn", "tn", "numerator", "denominator", "patients", "lesions", "scans",
    "clusters", "units", "pairs", "reads", "calls", "total", "a", "b", "c", "d", "both",
    "neither", "version", "lesion_vois", "calls_recorded", "krenning", "sstr_only", "fdg_only",
    "dotatate_only", "events",
})
PROPORTION_WORDS = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "prevalence",
                    "proportion", "detection", "rate", "youden_index")
COEFFICIENT_WORDS = ("kappa", "icc", "auc", "rho", "correlation", "alpha", "tau")
LR_NAMES = frozenset({"lr_positive", "lr_negative", "lr+", "lr-", "lr−", "dor", "plr", "nlr",
                      "diagnostic_odds_ratio", "positive_likelihood_ratio",
                      "negative_likelihood_ratio"})
P_NAMES = frozenset({"p", "p_value", "pvalue", "p_exact", "p_asymptotic", "p_adjusted"})

DECIMALS = {"proportion": 2, "coefficient": 2, "ratio": 2, "statistic": 2, "percent": 1,
            "volume": 1, "neff": 1, "other": 2}
"""Decimals of each quantity with fixed decimals (SUV, LR, counts and p have rules)."""

WORDS = {
    "ppv": "PPV", "npv": "NPV", "dor": "DOR", "auc": "AUC", "icc": "ICC", "kappa": "κ",
    "lr_positive": "LR+", "lr_negative": "LR−", "suv": "SUV", "sul": "SUL", "mtv": "MTV",
    "tla": "TLA", "tlg": "TLG", "tb": "T/B", "sd": "SD", "iqr": "IQR", "ci": "CI",
    "id": "ID", "pet": "PET", "ct": "CT", "mr": "MR", "fdg": "FDG", "sstr": "SSTR",
    "q1": "Q1", "q3": "Q3", "tp": "TP", "fp": "FP", "fn": "FN", "tn": "TN", "pct": "%",
    "cv": "CV", "loa": "limits of agreement", "netpet": "NETPET", "prrt": "PRRT",
    "tio": "TIO", "net": "NET", "roi": "ROI", "voi": "VOI", "vois": "VOIs", "hl": "HL",
    "n": "n", "p": "p", "eff": "effective", "delong": "DeLong", "prrt_eligible": "PRRT eligible",
    "fgf23": "FGF23", "bmi": "BMI", "ki67": "Ki-67", "stard": "STARD", "sstr-rads": "SSTR-RADS",
    "dotatate": "DOTATATE", "percent": "%", "pct_": "%",
}
"""Token spellings of column names (and of the values of a ``measure`` column)."""

LABELS = {
    "suv_max": "SUVmax", "suv_mean": "SUVmean", "suv_peak": "SUVpeak", "sul_peak": "SULpeak",
    "tb_liver": "T/B (liver)", "tb_spleen": "T/B (spleen)", "tb_background": "T/B (background)",
    "lr_positive": "LR+", "lr_negative": "LR−", "icc_a1": "ICC(A,1)", "kappa": "κ",
    "n_eff": "Effective n", "n_clusters": "Clusters", "n_patients": "Patients",
    "n_lesions": "Lesions", "n_scans": "Scans", "n_calls": "Calls", "n": "n", "p": "p",
    "p_value": "p", "design_effect": "Design effect", "se_cluster": "SE (cluster)",
    "hodges_lehmann_estimate": "Hodges–Lehmann estimate", "estimate_a": "Estimate A",
    "estimate_b": "Estimate B", "cv_pct": "CV (%)", "pct": "%", "percent": "%",
    "youden_cutoff_exploratory": "Youden cut-off (exploratory)",
    "ratio_bias": "Ratio bias", "ratio_loa": "Ratio limits of agreement",
    "patient_id": "Patient", "scan_id": "Scan", "lesion_id": "Lesion",
}
"""Whole-name labels, before the token rules of :data:`WORDS`."""

METHOD_WORDS = {
    "wilson": "Wilson", "wilson-effective-n": "Wilson (effective n)", "exact": "exact",
    "obuchowski": "Obuchowski", "ratio-wald": "ratio estimator (Wald)",
    "clopper-pearson": "Clopper–Pearson", "delong": "DeLong",
}
"""Spellings of method codes found in ``method`` columns."""

VALUE_LABELS = {
    "final_diagnosis": {"none": "No disease"}, "diagnosis": {"none": "No disease"},
}
"""Spellings of coded cell values per column (the final diagnosis "none", as Table 1 reads)."""


def quantity(name: str) -> str:
    """Return the quantity a column (or a ``measure`` value) holds, from its name.

    Parameters
    ----------
    name : str
        Column name or measure name, e.g. ``"sensitivity"``, ``"lr_positive"``, ``"suv_max"``.

    Returns
    -------
    str
        One of ``"p"``, ``"lr"``, ``"count"``, ``"neff"``, ``"percent"``, ``"proportion"``,
        ``"coefficient"``, ``"suv"``, ``"volume"``, ``"ratio"``, ``"statistic"``, ``"other"``.
    """
    key = str(name).strip().lower().replace(" ", "_")
    if key in P_NAMES or key.startswith("p_value"):
        return "p"
    if key in LR_NAMES or key.startswith(("lr_", "dor")):
        return "lr"
    if key == "n_eff":
        return "neff"
    if key in COUNT_NAMES or key.startswith("n_") or key.endswith(("_n", "_count")):
        return "count"
    if key.endswith(("pct", "percent")) or key in {"%", "cv"}:
        return "percent"
    if any(word in key for word in PROPORTION_WORDS):
        return "proportion"
    if any(word in key for word in COEFFICIENT_WORDS):
        return "coefficient"
    if key.startswith(("suv", "sul")) or "_suv" in key or key in {"suvmax", "suvmean"}:
        return "suv"
    if any(word in key for word in ("mtv", "tla", "tlg", "volume", "_ml")):
        return "volume"
    if key.startswith(("tb_", "t/b")) or any(w in key for w in ("ratio", "design_effect")):
        return "ratio"
    if key in {"statistic", "z", "chi2", "v", "w", "u", "t", "f"}:
        return "statistic"
    return "other"


def _finite(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _signed(text: str) -> str:
    return text.replace("-", MINUS) if text.startswith("-") else text


def fmt_p(value: object) -> str:
    """Format a p value by the convention of the module docstring ("< 0.001", "0.054").

    Parameters
    ----------
    value : float
        The p value; ``None``/NaN give ``""``.

    Returns
    -------
    str
    """
    p = _finite(value)
    if p is None:
        return ""
    if p < 0.001:
        return "< 0.001"
    if p > 0.99:
        return "> 0.99"
    if p < 0.1:
        text = f"{p:.3f}"
        return "0.100" if text == "0.100" else text
    return f"{p:.2f}"


def decimals_for(kind: str, value: float) -> int:
    """Return the decimals of one value of a quantity (see the module docstring).

    Parameters
    ----------
    kind : str
        A quantity of :func:`quantity`.
    value : float
        The value (SUV, LR and unknown quantities depend on its size).

    Returns
    -------
    int
    """
    if kind == "count":
        return 0 if float(value).is_integer() else 1
    if kind == "lr":
        if value == 0:
            return 2
        return max(0, 1 - math.floor(math.log10(abs(value))))
    if kind == "suv":
        return 2 if abs(value) < 10 else 1
    if kind in ("other", "statistic") and float(value).is_integer():
        return 0
    return DECIMALS.get(kind, 2)


def fmt_number(value: object, kind: str = "other", decimals: int | None = None,
               percent: bool = False) -> str:
    """Format one number of a publication table.

    Parameters
    ----------
    value : float
        The number; ``None``/NaN/inf give ``""`` (the table shows a dash).
    kind : str
        Its quantity (:func:`quantity`).
    decimals : int, optional
        Decimals that override the quantity's rule.
    percent : bool
        Show a proportion as percent (× 100, 1 decimal unless ``decimals``).

    Returns
    -------
    str
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if kind == "p":
        return fmt_p(value)
    number = _finite(value)
    if number is None:
        return ""
    if percent and kind == "proportion":
        number *= 100
        kind = "percent"
    places = decimals if decimals is not None else decimals_for(kind, number)
    text = f"{number:.{places}f}"
    if re.fullmatch(r"-0(\.0*)?", text):           # no "−0.00"
        text = text[1:]
    return _signed(text)


def _tokens(name: str) -> str:
    words = [WORDS.get(token.lower(), token) for token in re.split(r"[_\s]+", name) if token]
    text = " ".join(words)
    latin = text[:1].isascii()          # "κ weighting" keeps its small kappa
    return text[:1].upper() + text[1:] if latin and text[0].islower() and text[:2] != "n " \
        else text


def column_label(name: str) -> str:
    """Return the human label of a column name ("ppv" → "PPV", "lr_positive" → "LR+").

    Parameters
    ----------
    name : str
        Column name.

    Returns
    -------
    str
    """
    key = str(name)
    if key.lower() in LABELS:
        return LABELS[key.lower()]
    if key.lower() in WORDS:
        word = WORDS[key.lower()]
        return word if not word[:1].islower() or len(word) == 1 else word.capitalize()
    if key != key.lower() or " " in key:           # already written for people
        return key
    return _tokens(key)


def value_label(value: str) -> str:
    """Return the label of a ``measure`` value ("ppv" → "PPV"); other text is kept.

    Parameters
    ----------
    value : str
        Value of a ``measure`` column.

    Returns
    -------
    str
    """
    key = str(value)
    if key.lower() in LABELS or key.lower() in WORDS:
        return column_label(key)
    if re.fullmatch(r"[a-z0-9_]+", key) and "_" in key:
        return _tokens(key)
    return key[:1].upper() + key[1:] if key.islower() and key.isalpha() else key
