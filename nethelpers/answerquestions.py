"""The sentences of each study question (:mod:`nethelpers.answers`), one function each.

Each function reads the tables its question needs through a :class:`~nethelpers.answers.Writer`
(which records every value it quotes) and adds plain sentences; a missing table is noted by
the writer, never filled in.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.answers import Question, Writer, first, is_number, p_words, rows, scan_types

__all__ = ["QUESTIONS"]

_KEYS = ("tracer", "modality", "measure")


def _name(tracer: str, modality: str) -> str:
    return f"{tracer} {modality}"


def diagnosis(w: Writer) -> None:
    """Patient-level sensitivity and specificity per scan type."""
    name = "accuracy_patient_level"
    table = w.table(name)
    if table is None:
        return
    for tracer, modality in scan_types(table):
        scan = _name(tracer, modality)
        parts = []
        for measure in ("sensitivity", "specificity"):
            row = first(rows(table, tracer=tracer, modality=modality, measure=measure))
            if row is not None:
                text = w.proportion(f"{scan} {measure}", name, row, _KEYS, "patients")
                parts.append(f"{measure} {text}")
        if parts:
            w.say(f"Patient-level {parts[0].replace(' ', ' of ' + scan + ' was ', 1)}"
                  + (f" and {parts[1]}" if len(parts) > 1 else ""))


def staging(w: Writer) -> None:
    """Lesion-level sensitivity (cluster-adjusted), detection by region, staging change."""
    name = "accuracy_lesion_level"
    table = w.table(name)
    if table is not None:
        for tracer, modality in scan_types(table):
            row = first(rows(table, tracer=tracer, modality=modality, measure="sensitivity"))
            if row is None:
                continue
            scan = _name(tracer, modality)
            unit = "lesions"
            if is_number(row.get("n_clusters", "")):
                n = w.value(f"{scan} lesion sensitivity: patients", name, row, _KEYS,
                            "n_clusters", "count")
                unit = f"lesions in {n} patients"
            text = w.proportion(f"{scan} lesion sensitivity", name, row, _KEYS, unit,
                                clustered=True)
            w.say(f"lesion-level sensitivity of {scan} was {text}")
    _by_region(w)
    from nethelpers.answerpaired import staging_change

    staging_change(w)


MIN_REGION_LESIONS = 5
"""Regions with fewer malignant lesions read are not named as the best or worst detected."""


def _by_region(w: Writer) -> None:
    name = "detection_by_region"
    table = w.table(name)
    if table is None or "region" not in table:
        return
    keys = ("tracer", "modality", "region")
    for tracer, modality in scan_types(table):
        found = rows(table, tracer=tracer, modality=modality)
        found = found[found["estimate"].map(is_number) & (found["region"] != "all regions")
                      & (pd.to_numeric(found["denominator"], errors="coerce")
                         >= MIN_REGION_LESIONS)]
        if len(found) < 2:
            continue
        order = found.assign(_x=found["estimate"].astype(float)).sort_values("_x", kind="stable")
        low, high = order.iloc[0], order.iloc[-1]
        scan = _name(tracer, modality)
        lo = w.proportion(f"{scan} detection {low['region']}", name, low, keys, "lesions",
                          method=False)
        hi = w.proportion(f"{scan} detection {high['region']}", name, high, keys, "lesions",
                          method=False)
        how = w.value(f"{scan} detection: method", name, high, keys, "method", "method")
        w.say(f"among regions with at least {MIN_REGION_LESIONS} malignant lesions, {scan} "
              f"detected lesions least often in {low['region'].replace('_', ' ')}, {lo}, and "
              f"most often in {high['region'].replace('_', ' ')}, {hi}; intervals {how}")


def _mcnemar_sentence(w: Writer, name: str, unit: str) -> None:
    table = w.table(name)
    if table is None:
        return
    found = rows(table, unit=unit) if "unit" in table else table
    primary = found[found.get("note", found.index.astype(str)).astype(str)
                    .str.contains("primary")]
    row = first(primary) if not primary.empty else first(found)
    if row is None or not is_number(row.get("p", "")):
        return
    keys = tuple(k for k in ("unit", "method") if k in table)
    only = [c for c in table.columns if c.endswith("_only")]
    a, b = str(row.get("a", "A")), str(row.get("b", "B"))
    words = "malignant lesions" if unit == "lesions" else "patients with disease"
    n = w.value(f"{a} vs {b} {unit}: pairs", name, row, keys, "units", "count")
    clusters = ""
    if is_number(row.get("clusters", "")):
        k = w.value(f"{a} vs {b} {unit}: patients", name, row, keys, "clusters", "count")
        clusters = f" in {k} patients"
    counts = ""
    if len(only) == 2:
        x = w.value(f"{a} vs {b} {unit}: {a} only", name, row, keys, only[0], "count")
        y = w.value(f"{a} vs {b} {unit}: {b} only", name, row, keys, only[1], "count")
        counts = f", {x} were detected by {a} only and {y} by {b} only"
    p = w.value(f"{a} vs {b} {unit}: p", name, row, keys, "p", "p")
    method = w.value(f"{a} vs {b} {unit}: test", name, row, keys, "method", "method")
    w.say(f"of {n} {words}{clusters} read on both {a} and {b}{counts}; "
          f"{method}, {p_words(p)}")


def _difference_sentence(w: Writer, name: str, unit: str, sides: str) -> None:
    table = w.table(name)
    if table is None:
        return
    found = rows(table, measure="sensitivity")
    if "unit" in table:
        found = rows(found, unit=unit)
    if "primary" in table:  # the interval that goes with the test (others shown beside it)
        found = found[found["primary"].str.lower() == "true"]
    row = first(found)
    if row is None or not is_number(row.get("difference", "")):
        return
    keys = tuple(k for k in ("measure", "unit", "primary") if k in table)
    label = f"{name} {unit}"
    d = w.value(f"{label}: difference", name, row, keys, "difference", "points")
    level = f"{100 * float(row['level']):g} %" if is_number(row.get("level", "")) else w.level
    ci = w.ci(label, name, row, keys, kind="points", level=level)
    method = w.value(f"{label}: method", name, row, keys, "method", "method")
    wide = ("; unbounded with so few patients" if "unbounded" in str(row.get("note", ""))
            else "")
    w.say(f"the {unit[:-1]}-level sensitivity difference {sides} was {d} percentage points "
          f"({ci}, {method}{wide})")


def _test_and_interval(w: Writer, unit: str, difference: str) -> None:
    """Say which is primary when the test (``<unit>: p``) and the difference's CI disagree."""
    p = next((v for k, v in w.answer.values.items() if k.endswith(f" {unit}: p")), None)
    lo = w.answer.values.get(f"{difference}: lower")
    hi = w.answer.values.get(f"{difference}: upper")
    if p is None or lo is None or hi is None:
        return
    rejects = float(p.raw) < w.alpha
    excludes = float(lo.raw) > 0 or float(hi.raw) < 0
    if rejects != excludes:
        w.say("the test and the interval disagree (they use different variances); the test is "
              "the primary analysis")


def tracers(w: Writer) -> None:
    """DOTATATE versus FDG: paired detection, the difference, the flip-flop in G3."""
    _mcnemar_sentence(w, "mcnemar_dotatate_vs_fdg", "lesions")
    _difference_sentence(w, "difference_dotatate_minus_fdg", "lesions", "DOTATATE − FDG")
    _test_and_interval(w, "lesions", "difference_dotatate_minus_fdg lesions")
    _mcnemar_sentence(w, "mcnemar_dotatate_vs_fdg", "patients")
    name = "flip_flop_by_grade"
    table = w.table(name, required=False)
    row = None if table is None else first(rows(table, grade="G3"))
    if row is not None and is_number(row.get("fdg_only_percent", "")):
        keys = ("grade",)
        n = w.value("G3 FDG-only lesions", name, row, keys, "fdg_only", "count")
        of = w.value("G3 lesions", name, row, keys, "lesions", "count")
        pct = w.value("G3 FDG-only percent", name, row, keys, "fdg_only_percent", "percent100")
        w.say(f"in G3 tumours {n} of {of} malignant lesions ({pct} %) were seen on FDG only "
              "(the flip-flop of poorly differentiated NET)")


def spect(w: Writer) -> None:
    """SSTR SPECT versus SSTR PET (only when the study has SPECT)."""
    if w.table("mcnemar_dotatate_vs_hynic", required=False) is None:
        return
    _mcnemar_sentence(w, "mcnemar_dotatate_vs_hynic", "lesions")
    _difference_sentence(w, "difference_dotatate_minus_hynic", "lesions", "PET − SPECT")
    _mcnemar_sentence(w, "mcnemar_dotatate_vs_hynic", "patients")


def petmr(w: Writer) -> None:
    """PET/MR versus PET/CT: paired accuracy and agreement."""
    from nethelpers.answerpaired import paired_accuracy

    paired_accuracy(w)
    name = "agreement_petmr_petct"
    table = w.table(name)
    row = None if table is None else first(rows(table, lesions="all lesions"))
    if row is None or not is_number(row.get("kappa", "")):
        return
    keys = ("lesions",)
    n = w.value("agreement: lesions", name, row, keys, "n_calls", "count")
    k = w.value("agreement: kappa", name, row, keys, "kappa", "decimal2")
    ci = w.ci("agreement: kappa", name, row, keys, "kappa_lower", "kappa_upper")
    column = next((c for c in ("kappa_weighting", "weighting") if row.get(c, "")), "")
    weighting = (f"{w.value('agreement: kappa weighting', name, row, keys, column, 'text')} "
                 if column else "")
    how = (f"; {w.value('agreement: CI method', name, row, keys, 'ci_method', 'method')}"
           if row.get("ci_method", "") and not ci.startswith("no CI") else "")
    text = (f"PET/MR and PET/CT agreed on the visual call of {n} lesions read on both with "
            f"{weighting}κ {k} ({ci}{how})")
    if is_number(row.get("icc_a1", "")):
        icc = w.value("agreement: ICC", name, row, keys, "icc_a1", "decimal2")
        ici = w.ci("agreement: ICC", name, row, keys, "icc_lower", "icc_upper")
        text += f" and on SUVmax with ICC(A,1) {icc} ({ici})"
    w.say(text)


def tio(w: Writer) -> None:
    """TIO localisation: sensitivity in the TIO groups, then the three-way culprit detection."""
    _tio_groups(w)
    _tio_detection(w)
    _tio_pairs(w)


def _tio_groups(w: Writer) -> None:
    groups = w.table("patient_groups")
    name = "accuracy_patient_level_by_group"
    table = w.table(name)
    if groups is None or table is None:
        return
    keys = ("tracer", "modality", "group", "measure")
    for g in groups[groups["tio"].str.lower() == "true"].itertuples():
        parts = []
        for tracer, modality in scan_types(table):
            row = first(rows(table, tracer=tracer, modality=modality, group=g.group,
                             measure="sensitivity"))
            if row is not None:
                scan = _name(tracer, modality)
                text = w.proportion(f"{g.group} {scan} sensitivity", name, row, keys)
                parts.append(f"{scan} {text}")
        if parts:
            w.say(f"in the group {g.label}, patient-level sensitivity was "
                  + "; ".join(parts))


def _tio_detection(w: Writer) -> None:
    """Culprit detection per scan type (``tio_detection``, notebook 04), when written."""
    name = "tio_detection"
    table = w.table(name, required=False)
    if table is None or "measure" not in table:
        return
    keys = ("scan_type", "measure")
    found = rows(table, measure="culprit detected")
    found = found[pd.to_numeric(found["denominator"], errors="coerce") > 0]
    parts = []
    for _, row in found.iterrows():
        text = w.proportion(f"TIO culprit {row['scan_type']}", name, row, keys, "patients",
                            method=False)
        parts.append(f"{row['scan_type']} {text}")
    if parts:
        how = w.value("TIO culprit detection: method", name, found.iloc[0], keys, "method",
                      "method")
        w.say("the culprit tumour of the TIO patients was detected by " + "; ".join(parts)
              + f" (intervals {how})")


def _tio_pairs(w: Writer) -> None:
    """Each pair of scan types on the TIO patients with both (``tio_mcnemar``, notebook 04)."""
    name = "tio_mcnemar"
    table = w.table(name, required=False)
    if table is None or "a_only" not in table:
        return
    keys = ("a", "b")
    for _, row in table.iterrows():
        if not is_number(row.get("both", "")):
            continue
        a, b = row["a"], row["b"]
        tag = f"TIO {a} vs {b}"
        n = w.value(f"{tag}: patients", name, row, keys, "patients", "count")
        x = w.value(f"{tag}: {a} only", name, row, keys, "a_only", "count")
        y = w.value(f"{tag}: {b} only", name, row, keys, "b_only", "count")
        text = (f"of {n} TIO patients with a culprit read on both {a} and {b}, {x} had it "
                f"detected by {a} only and {y} by {b} only")
        if is_number(row.get("p", "")):
            p = w.value(f"{tag}: p", name, row, keys, "p", "p")
            text += f" (exact conditional McNemar test, {p_words(p)})"
        else:
            text += " (no discordant patient: not tested)"
        if is_number(row.get("difference", "")):
            d = w.value(f"{tag}: difference", name, row, keys, "difference", "points")
            ci = w.ci(tag, name, row, keys, kind="points")
            how = w.value(f"{tag}: interval", name, row, keys, "difference_method", "method")
            text += f"; difference {d} percentage points ({ci}, {how})"
        w.say(text)


def prrt(w: Writer) -> None:
    """PRRT eligibility by imaging (Krenning score)."""
    name = "prrt_eligibility"
    table = w.table(name)
    if table is None or table.empty:
        return
    for tracer, modality in scan_types(table):
        mine = rows(table, tracer=tracer, modality=modality)
        where = {"tracer": tracer, "modality": modality}
        n = w.count(f"{tracer} {modality}: PRRT patients", name, where, len(mine))
        yes = rows(mine, eligible="yes")
        k = w.count(f"{tracer} {modality}: eligible", name, {**where, "eligible": "yes"},
                    len(yes))
        open_ = rows(mine, eligible="not assessable")
        extra = ""
        if len(open_):
            m = w.count(f"{tracer} {modality}: not assessable", name,
                        {**where, "eligible": "not assessable"}, len(open_))
            extra = f"; {m} not assessable"
        w.say(f"{k} of {n} patients of the PRRT group were eligible for PRRT by imaging "
              f"on {_name(tracer, modality)} (modified Krenning score 3 or 4 in every malignant "
              f"lesion){extra}")


def false_calls(w: Writer) -> None:
    """Causes of false calls and the visual call against the protocol rule."""
    from nethelpers.answerpaired import false_call_sentences

    false_call_sentences(w)


def response(w: Writer) -> None:
    """Treatment response and recurrence (notebook 06)."""
    from nethelpers.answerresponse import response as sentences

    sentences(w)


def readers(w: Writer) -> None:
    """Inter-reader agreement and SSTR-RADS."""
    from nethelpers.answerpaired import reader_sentences

    reader_sentences(w)


QUESTIONS: list[Question] = [
    ("diagnosis", "Diagnosis: how accurate is each scan per patient?", diagnosis, False),
    ("staging", "Staging: how many lesions does each scan find?", staging, False),
    ("tracers", "DOTATATE versus FDG", tracers, False),
    ("petmr", "PET/MR versus PET/CT", petmr, False),
    ("tio", "TIO: localising the tumour", tio, False),
    ("prrt", "PRRT eligibility", prrt, False),
    ("spect", "SSTR SPECT versus SSTR PET", spect, True),
    ("response", "Treatment response and recurrence at follow-up", response, True),
    ("false_calls", "False positives and false negatives", false_calls, False),
    ("readers", "Readers", readers, False),
]
"""Every question, in the protocol's order."""
