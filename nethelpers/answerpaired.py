"""Sentences of the answers built on the newer tables (:mod:`nethelpers.answers`).

PET/MR versus PET/CT as paired accuracy (``paired_accuracy_petmr_petct``, notebook 04), the
causes of false calls and the visual call against the protocol rule (``false_call_causes``,
``visual_vs_rule``, notebook 05), and the readers (``interreader_agreement``,
``sstr_rads_patient``, notebook 05).
"""

from __future__ import annotations

import pandas as pd

from nethelpers.answers import Writer, first, is_number, p_words, rows, scan_types

__all__ = ["false_call_sentences", "paired_accuracy", "reader_sentences", "staging_change"]

_UNIT_WORDS = {"lesions": "malignant lesions", "patients": "patients with disease"}


def paired_accuracy(w: Writer) -> None:
    """Sensitivity of PET/MR and PET/CT on the units read on both, and their difference."""
    name = "paired_accuracy_petmr_petct"
    table = w.table(name)
    if table is None or "quantity" not in table:
        return
    keys = ("unit", "measure", "quantity")
    for unit in dict.fromkeys(table["unit"]):
        found = rows(table, unit=unit, measure="sensitivity")
        diff = found[found["quantity"].str.startswith("difference")]
        if "primary" in found:
            diff = diff[diff["primary"].str.lower() == "true"]
        labels = [q for q in dict.fromkeys(found["quantity"]) if not q.startswith("difference")]
        row_d = first(diff)
        if len(labels) != 2 or row_d is None:
            continue
        dkeys = keys + (("primary",) if "primary" in table else ())
        tag = f"paired {unit} sensitivity"
        n = w.value(f"{tag}: pairs", name, row_d, dkeys, "pairs", "count")
        parts = []
        for label in labels:
            row = first(rows(found, quantity=label))
            if row is not None:
                parts.append(f"{label} {w.proportion(f'{tag} {label}', name, row, keys)}")
        text = (f"on the {n} {_UNIT_WORDS.get(unit, unit)} read on both, sensitivity was "
                + " and ".join(parts))
        if is_number(row_d.get("estimate", "")):
            d = w.value(f"{tag}: difference", name, row_d, dkeys, "estimate", "points")
            text += f"; the difference {labels[0]} − {labels[1]} was {d} percentage points"
            extra = []
            if is_number(row_d.get("lower", "")) and is_number(row_d.get("upper", "")):
                ci = w.ci(f"{tag}: difference", name, row_d, dkeys, kind="points")
                how = w.value(f"{tag}: difference method", name, row_d, dkeys, "method",
                              "method")
                extra.append(f"{ci}, {how}")
            if is_number(row_d.get("p", "")):
                test = w.value(f"{tag}: test", name, row_d, dkeys, "test", "method")
                p = w.value(f"{tag}: p", name, row_d, dkeys, "p", "p")
                extra.append(f"{test}, {p_words(p)}")
            else:
                extra.append("no test: no discordant pairs to compare"
                             if "no discordant" in row_d.get("note", "")
                             else "the test is not defined here (see the table's note)")
            text += f" ({'; '.join(extra)})"
        w.say(text)


def staging_change(w: Writer) -> None:
    """How many patients gain lesions or a higher category with one scan type or the other."""
    name = "staging_change"
    table = w.table(name)
    if table is None or not {"a", "b", "outcome", "numerator", "denominator"} <= set(table):
        return
    keys = ("a", "b", "outcome")
    for a, b in dict.fromkeys(zip(table["a"], table["b"], strict=True)):
        mine = rows(table, a=a, b=b)
        found = {}
        for kind, start in (("lesions", "more lesions detected with "),
                            ("category", "higher category with ")):
            for side in (a, b):
                hit = mine[mine["outcome"].str.startswith(start + side)]
                if not hit.empty:
                    found[kind, side] = hit.iloc[0]
        if ("lesions", a) not in found or ("lesions", b) not in found:
            continue
        tag = f"{a} vs {b}"
        n = w.value(f"{tag}: patients", name, found["lesions", a], keys, "denominator", "count")
        la = w.value(f"{tag}: more lesions {a}", name, found["lesions", a], keys, "numerator",
                     "count")
        lb = w.value(f"{tag}: more lesions {b}", name, found["lesions", b], keys, "numerator",
                     "count")
        text = (f"of {n} patients read on both {a} and {b}, {la} had more lesions detected "
                f"with {a} and {lb} with {b}")
        if ("category", a) in found and ("category", b) in found:
            zero = all(str(found["category", s]["numerator"]) == "0" for s in (a, b))
            kind = "text" if zero else "count"  # "none" in words, the cells still traced
            ca = w.value(f"{tag}: higher category {a}", name, found["category", a], keys,
                         "numerator", kind)
            cb = w.value(f"{tag}: higher category {b}", name, found["category", b], keys,
                         "numerator", kind)
            outcome = str(found["category", a]["outcome"])
            scale = (f" (categories {outcome[outcome.find('(') + 1:].rstrip(')')})"
                     if "(" in outcome else "")
            text += ("; none was in a higher stage category with either" if zero else
                     f"; {ca} were in a higher stage category with {a} and {cb} with {b}")
            text += scale
        w.say(text)


def _sum(frame: pd.DataFrame, column: str) -> int:
    return int(pd.to_numeric(frame[column], errors="coerce").fillna(0).sum())


_ERROR_WORDS = {"FN": "false negatives", "FP": "false positives"}
_ALL = "all regions"


def false_call_sentences(w: Writer) -> None:
    """False calls per scan type with their denominators and leading cause; call vs rule."""
    name = "false_call_causes"
    table = w.table(name)
    needed = {"error", "tracer", "modality", "region", "cause", "numerator", "denominator"}
    if table is not None and needed <= set(table.columns):
        for error, words in _ERROR_WORDS.items():
            mine = rows(table, error=error, region=_ALL)
            if mine.empty:
                continue
            parts = []
            for tracer, modality in scan_types(mine):
                scan = rows(mine, tracer=tracer, modality=modality)
                where = {"error": error, "tracer": tracer, "modality": modality, "region": _ALL}
                k = w.count(f"{error} {tracer} {modality}", name, where, _sum(scan, "numerator"),
                            column="numerator")
                n = w.value(f"{error} {tracer} {modality}: denominator", name, scan.iloc[0],
                            tuple(where) + ("cause",), "denominator", "count")
                of = scan.iloc[0].get("denominator_of", "") if not parts else ""
                parts.append(f"{tracer} {modality} {k} of {n}{' ' + of if of else ''}")
            by_cause = (mine.assign(_n=pd.to_numeric(mine["numerator"], errors="coerce"))
                        .groupby("cause", sort=False)["_n"].sum())
            total = w.count(f"{error}: all", name, {"error": error, "region": _ALL},
                            int(by_cause.sum()), column="numerator")
            text = f"{words}: {'; '.join(parts)}"
            known = by_cause.drop("not recorded", errors="ignore")
            if len(known) and known.max() > 0:
                top = str(known.idxmax())
                c = w.count(f"{error}: {top}", name, {"error": error, "region": _ALL,
                                                     "cause": top}, int(known.max()),
                            column="numerator")
                text += (f"; over these scans the most frequent cause was {top} ({c} of "
                         f"{total} {words})")
            if by_cause.get("not recorded", 0):
                m = w.count(f"{error}: not recorded", name,
                            {"error": error, "region": _ALL, "cause": "not recorded"},
                            int(by_cause["not recorded"]), column="numerator")
                text += f"; {m} of {total} had no cause recorded"
            w.say(text)
    _visual_vs_rule(w)


def _visual_vs_rule(w: Writer) -> None:
    name = "visual_vs_rule"
    table = w.table(name)
    if table is None or not {"tracer", "modality", "call", "rule", "n"} <= set(table.columns):
        return
    above, below = "above reference", "at or below reference"
    parts = []
    for tracer, modality in scan_types(table):
        mine = rows(table, tracer=tracer, modality=modality)
        a_row = first(rows(mine, call="negative", rule=above))
        b_row = first(rows(mine, call="positive", rule=below))
        if a_row is None or b_row is None:
            continue
        keys = ("tracer", "modality", "call", "rule")
        where = {"tracer": tracer, "modality": modality}
        a = w.value(f"{tracer} {modality}: above read negative", name, a_row, keys, "n", "count")
        na = w.count(f"{tracer} {modality}: above", name, {**where, "rule": above},
                     _sum(rows(mine, rule=above), "n"), column="n")
        b = w.value(f"{tracer} {modality}: below read positive", name, b_row, keys, "n", "count")
        nb = w.count(f"{tracer} {modality}: below", name, {**where, "rule": below},
                     _sum(rows(mine, rule=below), "n"), column="n")
        parts.append(f"on {tracer} {modality}, {a} of {na} lesions above the liver were read "
                     f"negative and {b} of {nb} at or below it were read positive")
    if parts:
        rule = str(table["rule_text"].iloc[0]) if "rule_text" in table else "uptake > liver"
        w.say(f"against the protocol's rule ({rule} is positive), " + "; ".join(parts)
              + " (the discordant lesions are listed in notebook 05)")


def reader_sentences(w: Writer) -> None:
    """Inter-reader agreement per scan type: κ on the visual call, ICC on the scores."""
    name = "interreader_agreement"
    table = w.table(name)
    needed = {"tracer", "modality", "quantity", "statistic", "estimate", "lower", "upper"}
    if table is None or not needed <= set(table.columns):
        return
    keys = ("tracer", "modality", "quantity")
    for tracer, modality in scan_types(table):
        mine = rows(table, tracer=tracer, modality=modality)
        mine = mine[mine["estimate"].map(is_number)]
        parts = []
        for _, row in mine.iterrows():
            tag = f"{tracer} {modality} {row['quantity']}"
            est = w.value(tag, name, row, keys, "estimate", "decimal2")
            ci = w.ci(tag, name, row, keys)
            n = (f" of {w.value(f'{tag}: n', name, row, keys, 'n', 'count')} lesions"
                 if is_number(row.get("n", "")) else "")
            stat = w.value(f"{tag}: statistic", name, row, keys, "statistic", "text")
            weighted = ""
            if "kappa" in stat.lower():
                stat = "κ"
                if row.get("weighting", "") not in ("", "unweighted", "none"):
                    how_w = w.value(f"{tag}: weighting", name, row, keys, "weighting", "text")
                    weighted = f"{how_w}-weighted "
            how = (f", {w.value(f'{tag}: method', name, row, keys, 'method', 'method')}"
                   if row.get("method", "") and not ci.startswith("no CI") else "")
            parts.append(f"on the {row['quantity']}{n} with {weighted}{stat} {est} "
                         f"({ci}{how})")
        if parts:
            who = (f"readers {row['reader_a']} and {row['reader_b']}"
                   if {"reader_a", "reader_b"} <= set(table.columns) else "the two readers")
            w.say(f"on {tracer} {modality}, {who} agreed " + "; ".join(parts))
