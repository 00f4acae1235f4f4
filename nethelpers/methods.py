"""The statistical methods paragraph of a report, generated from its parameters and tables.

:func:`methods_paragraph` writes the methods a paper needs, ready to paste: the index test
and its equivocal rule, the quantitative positivity rule, the SUV normalisation and
measurement definitions, the confidence-interval method and level, the adjustment for
lesions clustered within patients, the tests with their conventions, and the software with
its versions. Parameters give the rules; when a report folder is given, the methods named in
its tables (``method`` columns) are quoted, and an analysis the run did not produce is not
described. :func:`write_methods` writes it to ``methods.md`` of the report; the same text goes
into ``tables.docx`` and onto ``index.html``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from nethelpers.config import Params
from nethelpers.methodsresponse import response_methods
from nethelpers.methodsspect import spect_measurement, tio_comparison
from nethelpers.reporttables import has_table, report_table

__all__ = ["METHODS_NAME", "methods_paragraph", "write_methods"]

METHODS_NAME = "methods.md"
"""File name of the methods paragraph in the report folder."""

CI_WORDS = {"wilson": "Wilson score", "clopper-pearson": "Clopper–Pearson (exact)",
            "wilson-cc": "continuity-corrected Wilson", "jeffreys": "Jeffreys",
            "agresti-coull": "Agresti–Coull"}
NORM_WORDS = {"bw": "body weight (SUVbw)", "lbm": "lean body mass by Janmahasatian (SUL)",
              "lbm-james": "lean body mass by James (SUL)",
              "lbm-james120": "lean body mass by James, 120 cap (SUL)",
              "bsa": "body surface area by Du Bois (SUVbsa)", "ibw": "ideal body weight (SUVibw)"}
SOFTWARE = ("nethelpers", "numpy", "scipy", "pandas", "statsmodels", "pydicom", "SimpleITK")
"""Packages named with their versions (the rest are in provenance.json)."""




def _methods_in(out: Path | None, name: str, column: str = "method") -> list[str]:
    """The distinct method codes of a table's column, in words (first-seen order)."""
    from nethelpers.pubnumbers import METHOD_WORDS

    frame = report_table(out, name)
    if frame is None or column not in frame.columns:
        return []
    codes = [c for c in dict.fromkeys(frame[column]) if c]
    return [METHOD_WORDS.get(c, c) for c in codes]


def _distinct(out: Path | None, name: str, column: str) -> list[str]:
    """The distinct non-empty values of a table's column, in first-seen order."""
    frame = report_table(out, name)
    if frame is None or column not in frame.columns:
        return []
    return [v for v in dict.fromkeys(frame[column]) if v]


def _rows(out: Path | None, name: str, **equal: object) -> pd.DataFrame | None:
    """The rows of a table whose columns equal the given values (as text), or None."""
    frame = report_table(out, name)
    if frame is None or any(c not in frame.columns for c in equal):
        return None
    for column, value in equal.items():
        frame = frame[frame[column].str.lower() == str(value).lower()]
    return frame if len(frame) else None


def _words(items: list[str], conjunction: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c`` (or another conjunction)."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


CLUSTER_COUNT = re.compile(r"\b\d+ clusters?, ")
"""The per-row cluster count inside a bootstrap CI description (dropped to merge rows)."""


def _ci_methods(texts: list[str]) -> list[str]:
    """Distinct interval descriptions, the per-row number of clusters left out."""
    return list(dict.fromkeys(CLUSTER_COUNT.sub("", t) for t in texts if t))


def _equivocal(rule: str) -> str:
    return "excluded" if rule == "exclude" else f"counted as {rule}"


def _index_test(p: Params) -> str:
    from nethelpers.scores import ScoreRules

    rule = ScoreRules(**p.scores.model_dump()).positivity_text
    return (f"The index test was the visual call (positive, negative or equivocal) of reader "
            f"{p.index_test.reader} for each tracer × modality; equivocal calls were "
            f"{_equivocal(p.index_test.equivocal)} in the main analysis and "
            f"{_equivocal(p.index_test.equivocal_sensitivity)} in a sensitivity analysis. "
            f"The protocol's quantitative positivity rule was {rule}. Accuracy was "
            "estimated at patient level (one result per scan, positive when any lesion was "
            "called positive; target condition the final diagnosis by the reference "
            "standard) and at lesion level (target condition a malignant lesion).")


UPTAKE_WORDS = {2: "above blood pool", 3: "above liver", 4: "above spleen"}
"""SSTR-RADS uptake grade (``readers.sstr_intense_from``) in words."""
POSITIVE_WORDS = {2: "SSTR-RADS 2 to 5", 3: "SSTR-RADS 3 (3A–3D), 4 and 5",
                  4: "SSTR-RADS 4 and 5", 5: "SSTR-RADS 5"}
"""SSTR-RADS categories counted positive from ``readers.sstr_positive_from``."""


def _sstr_positive_from(p: Params, out: Path | None) -> int:
    """The threshold the run's SSTR-RADS accuracy tables record, else the parameter's."""
    for name in ("sstr_rads_lesion_accuracy", "sstr_rads_patient_accuracy"):
        for test in _distinct(out, name, "test"):
            found = re.fullmatch(r"SSTR-RADS >= (\d)", test.strip())
            if found:
                return int(found.group(1))
    return p.readers.sstr_positive_from


def _sstr_rads(p: Params, out: Path | None) -> str:
    if not (has_table(out, "sstr_rads_lesion") or has_table(out, "sstr_rads_patient")):
        return ""
    grade = p.readers.sstr_intense_from
    text = ("SSTR-RADS 1.0 (Werner et al. 2018) was scored for every focus of the SSTR PET "
            "scans from the readers' structured reads (uptake graded against blood pool, liver "
            "and spleen; the anatomic correlate on CT or MR; site typical of NET or not); "
            f"uptake counted as intense from grade {grade} "
            f"({UPTAKE_WORDS.get(grade, f'grade {grade}')}). A patient's category was the "
            "highest of the lesions' on that scan, and a scan read with no focus was "
            "SSTR-RADS 1.")
    if (has_table(out, "sstr_rads_lesion_accuracy")
            or has_table(out, "sstr_rads_patient_accuracy")):
        k = _sstr_positive_from(p, out)
        text += (f" For its accuracy, {POSITIVE_WORDS.get(k, f'SSTR-RADS {k} and above')} "
                 "counted as positive.")
    return text


def _visual_vs_rule(p: Params, out: Path | None) -> str:
    if not has_table(out, "visual_vs_rule"):
        return ""
    from nethelpers.scores import ScoreRules

    rule = ScoreRules(**p.scores.model_dump()).positivity_text
    return ("The visual call is the index test; the protocol's rule was not substituted for "
            f"it but cross-tabulated against it lesion by lesion ({rule} on the same scan), "
            "and the lesions where the two disagree are listed.")


def _causes(p: Params, out: Path | None) -> str:
    if not has_table(out, "false_call_causes"):
        return ""
    r = p.reading
    return ("Each false-negative lesion (malignant, counted negative) and false-positive "
            "lesion (benign or physiological, counted positive) was given one cause from a "
            f"controlled list ({'; '.join(r.causes)}) by matching the reader's free-text note "
            "against the rules of the parameters (first matching rule; the note is kept "
            f"beside the cause; a note no rule matches is '{r.unmatched}'); a false call "
            f"without a note was counted as '{r.not_recorded}'. Denominators were the "
            "malignant lesions read (false negatives) and the benign or physiological lesions "
            "read (false positives) of each scan type.")


def _measurement(p: Params) -> str:
    q = p.quantify
    sphere_ml = 4 / 3 * math.pi * q.peak_radius_mm ** 3 / 1000
    sul = NORM_WORDS.get(q.sul_norm, q.sul_norm).replace(" (SUL)", "")
    return (f"SUVs were normalised to {NORM_WORDS.get(q.norm, q.norm)}; SUL used {sul}. "
            f"SUVmax was the hottest voxel, SUVpeak the highest mean of a sphere of radius "
            f"{q.peak_radius_mm:.1f} mm ({sphere_ml:.1f} ml), MTV the volume above "
            f"{q.mtv_fraction:.0%} of SUVmax, and the tumour-to-background ratio lesion SUVmax "
            "over the background's SUVmean.")


def _intervals(p: Params, out: Path | None) -> str:
    level = f"{p.stats.ci_level:.0%}"
    how = CI_WORDS.get(p.stats.ci_method, p.stats.ci_method)
    text = (f"Proportions (sensitivity, specificity, PPV, NPV, accuracy) are given with "
            f"{level} confidence intervals by the {how} method; likelihood ratios and the "
            "diagnostic odds ratio with log-method intervals.")
    if has_table(out, "accuracy_lesion_level"):
        found = _methods_in(out, "accuracy_lesion_level", "cluster_method")
        effective = not found or any("effective" in f for f in found)
        interval = (f"a {how} interval at the effective sample size (n divided by the design "
                    "effect, never above n)" if effective else ", ".join(found) + " intervals")
        text += (" At lesion level, where a patient contributes several lesions, the "
                 "intervals were adjusted for clustering within patients: ratio-estimator "
                 f"variance (Rao & Scott 1992) with {interval}.")
    if has_table(out, "detection_by_region"):
        found = _distinct(out, "detection_by_region", "method")
        how_region = f" ({'; '.join(found)})" if found else ""
        text += (" Detection (sensitivity among malignant lesions) was also given per region "
                 "(organ) of the lesion site, as mapped by the parameters, with intervals "
                 f"adjusted for clustering within patients{how_region}.")
    return text


def _mcnemar(found: list[str]) -> str:
    tests = []
    if "exact" in found:
        tests.append("the exact McNemar test treating units as independent")
    if "Obuchowski" in found:
        tests.append("the clustered McNemar test (Obuchowski 1998), primary for lesions "
                     "within patients")
    tests += [f for f in found if f not in ("exact", "Obuchowski")]
    return " and ".join(tests)


SCORE_WALD = ("the cluster-adjusted score interval that inverts the clustered McNemar test "
              "(null-restricted ratio-estimator variance; Obuchowski 1998) as the primary "
              "interval, so that it excludes 0 exactly when the test is significant, and the "
              "cluster-adjusted Wald interval (unrestricted variance) as a secondary one, "
              "which can disagree with the test near p = 0.05")
"""The two difference intervals without a report (the notebook's primary and secondary)."""


def _primary_secondary(frame: pd.DataFrame) -> str:
    """The interval methods of difference rows: primary first, then the secondary ones."""
    from nethelpers.pubnumbers import METHOD_WORDS

    def named(rows: pd.Series) -> list[str]:
        return [METHOD_WORDS.get(m, m) for m in dict.fromkeys(rows) if m]

    if "primary" not in frame.columns:
        return _words(named(frame["method"])) + " intervals"
    first = named(frame.loc[frame["primary"] == "True", "method"])
    other = named(frame.loc[frame["primary"] != "True", "method"])
    text = f"the {_words(first)} as the primary interval" if first else ""
    if other:
        text += (" and " if text else "") + (f"the {_words(other)} as secondary (its variance "
                                             "differs from the test's, so the two can "
                                             "disagree near p = 0.05)")
    return text


def _dotatate_fdg(out: Path | None) -> list[str]:
    parts = []
    if has_table(out, "mcnemar_dotatate_vs_fdg"):
        found = _methods_in(out, "mcnemar_dotatate_vs_fdg") or ["exact", "Obuchowski"]
        parts.append(f"Paired detection by DOTATATE and FDG PET was compared with "
                     f"{_mcnemar(found)}")
    if has_table(out, "difference_dotatate_minus_fdg"):
        frame = report_table(out, "difference_dotatate_minus_fdg")
        how = SCORE_WALD if frame is None or "method" not in frame.columns else (
            _primary_secondary(frame))
        parts.append(f"the paired differences of sensitivity and specificity with {how}")
    return parts


def _petmr_petct(out: Path | None) -> str:
    if not has_table(out, "paired_accuracy_petmr_petct"):
        return ""
    frame = report_table(out, "paired_accuracy_petmr_petct")
    if frame is None or not {"unit", "quantity", "method"} <= set(frame.columns):
        return ("PET/MR and PET/CT were compared as paired accuracy on the lesions and "
                f"patients examined with both: proportions, and differences with {SCORE_WALD}")
    units = []
    for unit in dict.fromkeys(frame["unit"]):
        rows = frame[frame["unit"] == unit]
        diff = rows["quantity"].str.startswith("difference")
        single = _words([m for m in dict.fromkeys(rows.loc[~diff, "method"]) if m])
        text = f"{unit}: proportions with {single} intervals" if single else f"{unit}:"
        if diff.any():
            text += f", the difference with {_primary_secondary(rows[diff])}"
            tests = [t if "test" in t else t.replace("McNemar", "McNemar test", 1)
                     for t in dict.fromkeys(rows.get("test", pd.Series(dtype=str))) if t]
            if tests:
                text += f", tested with the {_words(tests)}"
        units.append(text)
    return ("PET/MR and PET/CT were compared as paired accuracy on the units examined with "
            "both (" + "; ".join(units) + ")")


def _staging(out: Path | None) -> str:
    if not has_table(out, "staging_change"):
        return ""
    from nethelpers.staging import LOCOREGIONAL_REGIONS

    pairs = []
    frame = report_table(out, "staging_change")
    if frame is not None and {"a", "b"} <= set(frame.columns):
        pairs = [f"{a} vs {b}" for a, b in dict.fromkeys(zip(frame["a"], frame["b"],
                                                             strict=True))]
    which = f" ({'; '.join(pairs)})" if pairs else ""
    return (f"staging change{which} was counted in the patients with a final diagnosis of "
            "NET and at least one malignant lesion read on both scan types (a TIO tumour is "
            "not staged): the malignant lesions and regions each detected, "
            "and the detected extent of each scan type as none, locoregional (detected lesions "
            f"only in {_words(list(LOCOREGIONAL_REGIONS), 'or')}) or distant (any other region), a "
            "count of changed extent, not a TNM stage; these counts are not tested")


def _comparisons(out: Path | None) -> str:
    parts = _dotatate_fdg(out)
    parts += [t for t in (_petmr_petct(out), _staging(out)) if t]
    if not parts:
        return ""
    return "; ".join(parts) + ". Tests are two-sided."


KAPPA_WORDS = {"unweighted": "unweighted", "linear": "linear weights",
               "quadratic": "quadratic weights"}


def _petmr_agreement(out: Path | None) -> str:
    if not has_table(out, "agreement_petmr_petct"):
        return ""
    weights = [KAPPA_WORDS.get(w, w) for w in _distinct(out, "agreement_petmr_petct",
                                                       "kappa_weighting")]
    cis = _ci_methods(_distinct(out, "agreement_petmr_petct", "ci_method"))
    kappa = f"Cohen's κ ({_words(weights)})" if weights else "Cohen's κ"
    text = (f"Agreement between PET/MR and PET/CT: {kappa} on the visual calls and, for "
            "SUVmax, the ratio limits of agreement (Bland–Altman on the log scale) and "
            "ICC(A,1)")
    if cis:
        text += f"; intervals of κ and ICC: {'; '.join(cis)}"
    return text


def _interreader(p: Params, out: Path | None) -> str:
    if not has_table(out, "interreader_agreement"):
        return ""
    frame = report_table(out, "interreader_agreement")
    if frame is None or not {"quantity", "method"} <= set(frame.columns):
        weighting = KAPPA_WORDS.get(p.readers.kappa_weighting, p.readers.kappa_weighting)
        return (f"inter-reader agreement on the lesions both readers read: Cohen's κ "
                f"({weighting}) on the visual calls and ICC(A,1), with cluster bootstrap "
                f"intervals (patients resampled, {p.readers.n_boot} replicates)")
    statistics, cis = [], []
    for method in dict.fromkeys(frame["method"]):
        what, _, ci = method.partition("; ")
        quantities = _words(list(dict.fromkeys(frame.loc[frame["method"] == method,
                                                         "quantity"])))
        statistics.append(f"{what} on the {quantities}")
        cis.append(ci)
    statistics = list(dict.fromkeys(statistics))
    text = f"inter-reader agreement on the lesions both readers read: {'; '.join(statistics)}"
    found = _ci_methods(cis)
    if found:
        text += f"; intervals: {'; '.join(found)}"
    return text


def _agreement(p: Params, out: Path | None) -> str:
    parts = [t for t in (_petmr_agreement(out), _interreader(p, out)) if t]
    if has_table(out, "accuracy_by_reader"):
        parts.append("accuracy was also given for each reader")
    return ("; ".join(parts) + ".") if parts else ""


def _roc(out: Path | None) -> str:
    if not has_table(out, "roc_auc"):
        return ""
    return ("ROC curves of SUVmax and T/B were summarised by the empirical AUC with DeLong "
            "intervals (and cluster-adjusted intervals at lesion level, Obuchowski 1997); "
            "Youden-optimal cut-offs are exploratory, chosen on the same data.")


def _software(p: Params, versions: Mapping[str, str | None]) -> str:
    named = ", ".join(f"{k} {versions[k]}" for k in SOFTWARE if versions.get(k))
    return (f"Analyses were run in Python {versions.get('python') or '(version not recorded)'}"
            f" ({named}); resampling used the seed {p.stats.seed}. The parameters, package "
            "versions and input fingerprints are recorded in the report's provenance.json.")


def _versions(out: Path | None) -> dict[str, str | None]:
    if out is not None and (out / "provenance.json").is_file():
        recorded = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
        if isinstance(recorded.get("versions"), dict):
            return recorded["versions"]
    from nethelpers.provenance import versions

    return versions()


def methods_paragraph(params: Params, out: str | Path | None = None,
                      versions: Mapping[str, str | None] | None = None) -> str:
    """The statistical methods of a report in words, ready to paste into a paper.

    Parameters
    ----------
    params : Params
        The validated parameters of the report (rules, CI method and level, SUV
        normalisation, seed).
    out : str or Path, optional
        The report folder: the methods named in its tables are quoted and analyses whose
        table is missing are left out. None: every analysis, as the parameters define it.
    versions : mapping, optional
        Package versions (``provenance.json``'s ``versions``); default: those recorded in
        ``out/provenance.json``, else those installed.

    Returns
    -------
    str
        Paragraphs separated by a blank line (plain text; no HTML, no Markdown markup).
    """
    folder = Path(out) if out is not None else None
    found = dict(versions) if versions is not None else _versions(folder)
    first = " ".join(s for s in (_index_test(params), _visual_vs_rule(params, folder),
                                 _sstr_rads(params, folder), _causes(params, folder),
                                 _measurement(params), spect_measurement(params, folder)) if s)
    second = " ".join(s for s in (_intervals(params, folder), _comparisons(folder),
                                  tio_comparison(folder), _agreement(params, folder),
                                  _roc(folder), response_methods(params, folder)) if s)
    return "\n\n".join([first, second, _software(params, found)])


def write_methods(params: Params, out: str | Path,
                  versions: Mapping[str, str | None] | None = None) -> Path:
    """Write :func:`methods_paragraph` of a report to ``<out>/methods.md``; return the path."""
    out = Path(out)
    text = methods_paragraph(params, out, versions)
    path = out / METHODS_NAME
    path.write_text(f"## Statistical methods\n\n{text}\n", encoding="utf-8")
    return path
