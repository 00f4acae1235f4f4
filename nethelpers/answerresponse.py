"""The answer on treatment response and recurrence (notebook 06's tables).

Per scan type: the patients with a baseline and a follow-up, the days between the scans, the
response categories with the share of partial and progressive disease; then the agreement of
the category between PET/MR and PET/CT, and the detection of recurrence. Every number is a
recorded cell of ``response_pair_summary``, ``response_categories``,
``response_agreement_petmr_petct`` or ``recurrence_accuracy`` (:mod:`nethelpers.answers`).
"""

from __future__ import annotations

import pandas as pd

from nethelpers.answers import Writer, first, is_number, rows, scan_types

__all__ = ["response"]

_CATEGORIES = ("CMR", "PMR", "SMD", "PMD")
_SYSTEMS = {"PET/CT": "PET/CT", "PET/MR": "PET/MR"}


def _name(tracer: str, modality: str) -> str:
    return f"{tracer} {modality}"


def _days(w: Writer, tracer: str, modality: str) -> str:
    """``"median 227 days apart (range 104–269)"`` from the pair summary, or ''."""
    name = "response_pair_summary"
    table = w.table(name, required=False)
    row = None if table is None else first(rows(table, tracer=tracer, modality=modality))
    if row is None or not is_number(row.get("days_median", "")):
        return ""
    keys = ("tracer", "modality")
    tag = f"{_name(tracer, modality)}: days"
    median = w.value(f"{tag} median", name, row, keys, "days_median", "count")
    lo = w.value(f"{tag} min", name, row, keys, "days_min", "count")
    hi = w.value(f"{tag} max", name, row, keys, "days_max", "count")
    return f", median {median} days apart (range {lo}–{hi})"


def _categories(w: Writer, tracer: str, modality: str, mine: pd.DataFrame) -> None:
    name, keys = "response_categories", ("tracer", "modality", "category")
    tag = _name(tracer, modality)
    by = {row["category"]: row for _, row in mine.iterrows()}
    judged = by.get("PMD")
    if judged is None:
        return
    den = w.value(f"{tag}: patients with a category", name, judged, keys, "denominator",
                  "count")
    parts = []
    for category in _CATEGORIES:
        row = by.get(category)
        if row is None:
            continue
        n = w.value(f"{tag}: {category}", name, row, keys, "n", "count")
        if category in ("PMR", "PMD") and is_number(row.get("proportion", "")):
            share = w.value(f"{tag}: {category} share", name, row, keys, "proportion",
                            "percent")
            ci = w.ci(f"{tag}: {category} share", name, row, keys, "proportion_lower",
                      "proportion_upper", "percent")
            parts.append(f"{category} {n} ({share} %; {ci} %)")
        else:
            parts.append(f"{category} {n}")
    noun = "patient" if den == "1" else "patients"
    text = f"{_name(tracer, modality)}: {den} {noun} with a response category"
    text += _days(w, tracer, modality) + ": " + ", ".join(parts)
    missing = by.get("not categorised")
    if missing is not None and is_number(missing.get("n", "")) and int(missing["n"]) > 0:
        k = w.value(f"{tag}: not categorised", name, missing, keys, "n", "count")
        text += f"; {k} without a category (reasons in response_categories.csv)"
    w.say(text)


def _agreement(w: Writer) -> None:
    name = "response_agreement_petmr_petct"
    table = w.table(name, required=False)
    if table is None or table.empty:
        return
    keys = ("tracer", "measure")
    for tracer in dict.fromkeys(table["tracer"]):
        same = first(rows(table, tracer=tracer, measure="proportion_agreement"))
        kappa = first(rows(table, tracer=tracer, measure="kappa_linear"))
        if same is None or not is_number(same.get("estimate", "")):
            continue
        tag = f"{tracer} PET/MR vs PET/CT category"
        n = w.value(f"{tag}: patients", name, same, keys, "n", "count")
        est = w.value(f"{tag}: agreement", name, same, keys, "estimate", "percent")
        ci = w.ci(f"{tag}: agreement", name, same, keys, kind="percent")
        text = (f"PET/MR and PET/CT gave the same {tracer} response category in {est} % of "
                f"{n} patients ({ci} %)")
        if kappa is not None and is_number(kappa.get("estimate", "")):
            k = w.value(f"{tag}: kappa", name, kappa, keys, "estimate", "decimal2")
            text += (f"; linearly weighted κ {k} "
                     f"({w.ci(f'{tag}: kappa', name, kappa, keys)})")
        w.say(text)


def _recurrence(w: Writer) -> None:
    name = "recurrence_accuracy"
    table = w.table(name, required=False)
    if table is None or table.empty:
        return
    keys = ("tracer", "modality", "measure")
    for tracer, modality in scan_types(table):
        sens = first(rows(table, tracer=tracer, modality=modality, measure="sensitivity"))
        spec = first(rows(table, tracer=tracer, modality=modality, measure="specificity"))
        if sens is None or spec is None:
            continue
        tag = f"{_name(tracer, modality)} recurrence"
        w.say(f"Recurrence at follow-up on {_name(tracer, modality)}: sensitivity "
              f"{w.proportion(f'{tag} sensitivity', name, sens, keys, 'scans')}, specificity "
              f"{w.proportion(f'{tag} specificity', name, spec, keys, 'scans')}")


def response(w: Writer) -> None:
    """Treatment response per scan type, PET/MR against PET/CT, and recurrence."""
    table = w.table("response_categories")
    if table is None or table.empty:
        return
    for tracer, modality in scan_types(table):
        _categories(w, tracer, modality, rows(table, tracer=tracer, modality=modality))
    _agreement(w)
    _recurrence(w)
