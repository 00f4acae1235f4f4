"""The methods sentences of SPECT measurement and of the SSTR SPECT comparisons.

:func:`nethelpers.methods.methods_paragraph` adds them: how SPECT was measured (quantitative
SPECT in SUV, counts-only SPECT by its ratios only: :func:`spect_measurement`) and how the
SSTR SPECT was compared (:func:`tio_comparison`: SSTR PET versus SSTR SPECT detection, then
the TIO culprit comparison with its sample size and the word *exploratory*). Like the rest of
the paragraph, a report folder's tables decide what is described (an analysis without its
table is not); without a folder every analysis is described.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.reporttables import has_table, report_table

__all__ = ["spect_comparison", "spect_measurement", "tio_comparison"]

RADIONUCLIDE = re.compile(r"SPECT \(([^)]+)\)")
"""The radionuclide in a SPECT scan's quantify warning, e.g. ``SPECT (99mTc), counts only``."""

QUANTITATIVE = ("Quantitative SPECT (Bq/ml) was converted to SUV in the same way, with the "
                "injected activity decayed to the start of the acquisition (SPECT activity is "
                "not decay-corrected to the injection).")
COUNTS = ("Counts-only SPECT, which has no activity calibration, was measured by its "
          "tumour-to-background ratios (lesion maximum counts over the mean counts of the "
          "liver, the spleen or a shell of surrounding tissue of the same scan), its volumes and "
          "the positivity and Krenning scores on those ratios; no SUV, SUL or TLA was given for "
          "counts-only SPECT.")
APART = ("SPECT values were described apart from PET and never compared with them on one "
         "scale (lower SPECT resolution: different partial-volume losses in small lesions).")




def spect_measurement(params: Any, out: Path | None) -> str:
    """How SPECT scans were measured, "" when a report measured none.

    Parameters
    ----------
    params : Params
        The parameters: the vocabulary says which modalities are SPECT (the SUV rules are
        stated by the PET sentences).
    out : Path or None
        The report folder: the SPECT scans measured (``quantification_qc``, status ok) decide
        which scales are described. None: both.

    Returns
    -------
    str
        Sentences: the radionuclide, SUV for quantitative SPECT, ratios only for counts-only
        SPECT, never pooled with PET.
    """
    if out is None:
        return " ".join((QUANTITATIVE, COUNTS, APART))
    qc = report_table(out, "quantification_qc")
    if qc is None or not {"modality", "quantity"} <= set(qc.columns):
        return ""
    systems = qc["modality"].map(lambda m: params.vocabulary.system(str(m)) or "")
    spect = qc[systems == "SPECT"]          # the vocabulary's SPECT modalities, any name
    if "status" in spect.columns:
        spect = spect[spect["status"].str.lower() == "ok"]
    kinds = set(spect["quantity"].str.lower())
    if not kinds & {"suv", "counts"}:
        return ""
    nuclides = sorted({m for w in spect.get("warnings", pd.Series(dtype=str))
                       for m in RADIONUCLIDE.findall(str(w))})
    parts = [f"SPECT/CT was acquired with {', '.join(nuclides)}." if nuclides else ""]
    parts += [QUANTITATIVE if "suv" in kinds else "", COUNTS if "counts" in kinds else "",
              APART]
    return " ".join(p for p in parts if p)


def spect_comparison(out: Path | None) -> str:
    """How SSTR PET and SSTR SPECT detection were compared, "" without that table."""
    from nethelpers.methods import _mcnemar, _methods_in, _primary_secondary


    if not has_table(out, "mcnemar_dotatate_vs_hynic"):
        return ""
    tests = report_table(out, "mcnemar_dotatate_vs_hynic")
    names = (f"{tests['a'].iloc[0]} and {tests['b'].iloc[0]}"
             if tests is not None and {"a", "b"} <= set(tests.columns)
             else "the SSTR PET and the SSTR SPECT")
    found = _methods_in(out, "mcnemar_dotatate_vs_hynic") or ["exact", "Obuchowski"]
    text = (f"Paired detection by {names} (patients who had both) was compared with "
            f"{_mcnemar(found)}")
    diff = report_table(out, "difference_dotatate_minus_hynic")
    if diff is not None and "method" in diff.columns:
        text += f", the paired differences with {_primary_secondary(diff)}"
    return text + "."


def _tio_size(out: Path | None) -> str:
    """`` (at most n patients with a culprit per scan type)`` from ``tio_detection``."""
    detection = report_table(out, "tio_detection")
    if detection is None or not {"measure", "denominator"} <= set(detection.columns):
        return ""
    n = pd.to_numeric(detection.loc[detection["measure"] == "culprit detected",
                                    "denominator"], errors="coerce")
    return f" (at most {int(n.max())} patients with a culprit per scan type)" if (
        n.notna().any()) else ""


def tio_comparison(out: Path | None) -> str:
    """SSTR SPECT versus PET detection, then the TIO culprit comparison ("" without tables).

    Parameters
    ----------
    out : Path or None
        The report folder (``mcnemar_dotatate_vs_hynic``, ``tio_detection``,
        ``tio_mcnemar``, ``tio_clinical``).

    Returns
    -------
    str
        Sentences naming the tests and intervals, the sample size and *exploratory*.
    """
    from nethelpers.methods import CI_WORDS, _distinct
    from nethelpers.tiocompare import NEWCOMBE_WORDS, TEST_WORDS

    first = spect_comparison(out)
    if not has_table(out, "tio_detection"):
        return first
    how = [CI_WORDS.get(m, m) for m in _distinct(out, "tio_detection", "method")] or [
        CI_WORDS["wilson"]]
    text = ("In the TIO groups, detection of the culprit tumour (the malignant lesion of the "
            "reference standard) was counted per patient for each scan type with "
            f"{' and '.join(how)} intervals")
    if has_table(out, "tio_mcnemar"):
        text += (f"; each pair of scan types was compared on the patients with both by the "
                 f"{TEST_WORDS} with {NEWCOMBE_WORDS} intervals of the paired difference")
    text += ("; the localisation of the positive calls, the diameters of the culprits detected "
             "and missed and their tumour-to-background ratios were described per scan type, "
             "not tested across scan types")
    if has_table(out, "tio_clinical"):
        text += ("; FGF23 and phosphate were set against the culprit's uptake by Spearman's rank "
                 "correlation with a Fisher z interval (Bonett–Wright variance)")
    text += f". With so few patients{_tio_size(out)} these analyses are exploratory."
    return " ".join(t for t in (first, text) if t)
