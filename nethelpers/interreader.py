"""Inter-reader agreement and per-reader accuracy (notebook 05, section "Readers").

Two readers who read the same scan, blinded to each other, are compared on the lesions both
read there (on the index tests: the reads of follow-up and repeat scans,
:func:`nethelpers.readings.repeat_scans`, are left out, as in every diagnostic analysis):

- **visual calls** (negative < equivocal < positive): Cohen's kappa, with the weighting a named
  parameter that appears in every row (``weighting``: unweighted, linear or quadratic);
- **SSTR-RADS category** (SSTR PET reads that carry its fields): Cohen's kappa, linear
  weights, on the category number 1-5 (:mod:`nethelpers.sstrrads`; subcategories share their
  number);
- **Krenning score** (SSTR tracers) and any other number both readers record (the readers'
  uptake grade 0-4 ``sstr_uptake``, and SUV or size if the reads carry them): ICC(A,1),
  two-way random effects, absolute agreement, single rater (Shrout & Fleiss ICC(2,1); McGraw &
  Wong 1996). The uptake grade is an input of SSTR-RADS, not SSTR-RADS itself.

Lesions of one patient are correlated, so every interval is a cluster (patient) bootstrap
percentile interval (:mod:`nethelpers.stats.clusterboot`: patients resampled with all their
lesions, seeded by ``stats.seed``); the estimate is the usual one. One row per scan type
(tracer × modality) and quantity. A quantity the pairs cannot support keeps its row with NaN
and a note that says what it needs.

Per-reader accuracy treats each reader as an index test of their own, with exactly the code of
the main analysis (:func:`nethelpers.readings.patient_level` /
:func:`~nethelpers.readings.lesion_level` and :func:`~nethelpers.readings.accuracy_by`,
lesion level cluster-adjusted by patient).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.cohort import NO_LESION, Cohort, reads_joined
from nethelpers.consensus import CONSENSUS_READER
from nethelpers.readings import repeat_scans

__all__ = ["CALL_ORDER", "MEASURES", "SSTR_RADS", "SSTR_RADS_NUMBERS", "accuracy_by_reader",
           "independent_readers", "interreader_agreement", "reader_pairs", "readers_of"]

#: Order of the visual calls for weighted kappa.
CALL_ORDER = ("negative", "equivocal", "positive")

#: Numeric read columns compared by ICC when both readers recorded them.
MEASURES = {"krenning": "Krenning score", "sstr_uptake": "uptake grade (0–4)",
            "suv_max": "SUVmax", "size_mm": "lesion size (mm)"}

#: Pair column and label of the SSTR-RADS category number compared by linear kappa.
SSTR_RADS = ("sstr_rads", "SSTR-RADS category")

#: The SSTR-RADS category numbers (the kappa's ordered categories).
SSTR_RADS_NUMBERS = (1, 2, 3, 4, 5)


def readers_of(cohort: Cohort, consensus: str = CONSENSUS_READER) -> list[str]:
    """The readers with at least one read, sorted, the consensus (if any) last."""
    names = sorted(cohort.reads["reader"].astype(str).unique())
    return [r for r in names if r != consensus] + [r for r in names if r == consensus]


def independent_readers(cohort: Cohort, consensus: str = CONSENSUS_READER) -> list[str]:
    """The readers whose reads are independent: every reader but the consensus, sorted.

    Agreement (kappa, ICC) is measured between these only: the consensus is made from them,
    so its agreement with any of them is inflated by construction.
    """
    return [r for r in readers_of(cohort, consensus) if r.casefold() != consensus.casefold()]


def reader_pairs(cohort: Cohort, reader_a: str, reader_b: str, *,
                 intense_from: int = 2) -> pd.DataFrame:
    """The lesions both readers read on the same scan, side by side.

    Parameters
    ----------
    cohort : Cohort
        The loaded study.
    reader_a, reader_b : str
        The two readers.
    intense_from : int
        SSTR-RADS boundary of "intense" uptake (``readers.sstr_intense_from``; see
        :func:`nethelpers.sstrrads.lesion_category`).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, scan_id, tracer, modality, lesion_id, site, call_a, call_b`` and
        ``<measure>_a, <measure>_b`` for each of :data:`MEASURES` the reads carry, and
        ``sstr_rads_a, sstr_rads_b`` (SSTR-RADS category number; NaN off SSTR PET or where a
        read lacks the fields). Rows ``lesion_id == "none"`` (scan read, nothing called) are
        not lesions and left out, and so are the reads of follow-up and repeat scans (not
        index tests: :func:`nethelpers.readings.repeat_scans`).
    """
    from nethelpers.sstrrads import sstr_rads_lesions

    reads = reads_joined(cohort)
    reads = reads[(reads["lesion_id"].astype(str) != NO_LESION)
                  & ~reads["scan_id"].astype(str).isin(repeat_scans(cohort.scans))]
    sstr = sstr_rads_lesions(cohort, intense_from=intense_from)
    number = sstr[["scan_id", "lesion_id", "reader", "category_number"]].rename(
        columns={"category_number": SSTR_RADS[0]})
    reads = reads.merge(number, on=["scan_id", "lesion_id", "reader"], how="left",
                        validate="one_to_one")
    measures = [m for m in (*MEASURES, SSTR_RADS[0]) if m in reads.columns]
    keep = ["patient_id", "scan_id", "tracer", "modality", "lesion_id", "site", "call",
            *measures]
    key = ["patient_id", "scan_id", "tracer", "modality", "lesion_id", "site"]
    a = reads.loc[reads["reader"].astype(str) == reader_a, keep]
    b = reads.loc[reads["reader"].astype(str) == reader_b, ["scan_id", "lesion_id", "call",
                                                            *measures]]
    out = a.merge(b, on=["scan_id", "lesion_id"], suffixes=("_a", "_b"), how="inner")
    for m in measures:
        for s in ("_a", "_b"):
            out[m + s] = pd.to_numeric(out[m + s], errors="coerce")
    out = out[[*key, "call_a", "call_b", *(m + s for m in measures for s in ("_a", "_b"))]]
    return out.astype({"tracer": str, "modality": str, "call_a": str, "call_b": str}
                      ).reset_index(drop=True)


def _kappa_row(data: pd.DataFrame, weighting: str, boot: dict[str, Any], level: float,
               min_pairs: int, column: str = "call",
               quantity: str = "visual call",
               categories: Sequence[Any] = CALL_ORDER) -> dict[str, Any]:
    from nethelpers.stats import cohen_kappa

    data = data.dropna(subset=[f"{column}_a", f"{column}_b"])
    row: dict[str, Any] = {"quantity": quantity, "statistic": "Cohen's kappa",
                           "weighting": weighting, "n": len(data),
                           "n_patients": data["patient_id"].nunique()}
    if len(data) < min_pairs or row["n_patients"] < 2:
        return row | _empty(f"kappa needs at least {min_pairs} lesions read by both readers "
                            f"in 2 patients; there are {len(data)} in {row['n_patients']}")
    k = cohen_kappa(data[f"{column}_a"], data[f"{column}_b"], weighting=weighting,
                    categories=list(categories), level=level,
                    cluster=data["patient_id"].astype(str).to_numpy(), **boot)
    return row | {"estimate": k.kappa, "lower": k.lower, "upper": k.upper,
                  "method": k.method, "observed_agreement": k.observed_agreement,
                  "note": k.note}


def _icc_row(data: pd.DataFrame, measure: str, boot: dict[str, Any], level: float,
             min_pairs: int) -> dict[str, Any]:
    from nethelpers.stats import icc

    both = data.dropna(subset=[f"{measure}_a", f"{measure}_b"])
    row: dict[str, Any] = {"quantity": MEASURES[measure], "statistic": "ICC(A,1)",
                           "weighting": "", "n": len(both),
                           "n_patients": both["patient_id"].nunique()}
    if len(both) < min_pairs or row["n_patients"] < 2:
        return row | _empty(f"ICC needs at least {min_pairs} lesions with {measure} from "
                            f"both readers in 2 patients; there are {len(both)} in "
                            f"{row['n_patients']}")
    values = both[[f"{measure}_a", f"{measure}_b"]].to_numpy(dtype=float)
    try:
        table = icc(values, level=level, cluster=both["patient_id"].astype(str).to_numpy(),
                    **boot)
    except ValueError as exc:            # e.g. identical ratings: no residual variation
        return row | _empty(f"ICC not estimated: {exc}") | {
            "observed_agreement": float(np.mean(values[:, 0] == values[:, 1]))}
    a1 = table.set_index("mcgraw_wong").loc["ICC(A,1)"]
    method = ("ICC(A,1): two-way random effects, absolute agreement, single rater "
              f"(Shrout & Fleiss ICC(2,1)); {a1['ci_method']}")
    return row | {"estimate": float(a1["icc"]), "lower": float(a1["lower"]),
                  "upper": float(a1["upper"]), "method": method,
                  "observed_agreement": float(np.mean(values[:, 0] == values[:, 1])),
                  "note": str(a1["note"])}


def _empty(note: str) -> dict[str, Any]:
    return {"estimate": np.nan, "lower": np.nan, "upper": np.nan, "method": "",
            "observed_agreement": np.nan, "note": note}


def interreader_agreement(pairs: pd.DataFrame, readers: tuple[str, str], *,
                          weighting: str = "linear", level: float = 0.95,
                          n_boot: int = 2000, seed: int | None = None,
                          min_pairs: int = 5, consensus: str = CONSENSUS_READER) -> pd.DataFrame:
    """Kappa of the calls and SSTR-RADS categories, ICC(A,1) of each numeric read, per scan type.

    Parameters
    ----------
    pairs : pandas.DataFrame
        :func:`reader_pairs`.
    readers : tuple of str
        The two readers' names (written in the table).
    weighting : {"unweighted", "linear", "quadratic"}
        Kappa weighting of the ordered calls negative < equivocal < positive. The kappa of
        the SSTR-RADS category number (1-5) is always linear (named in its row).
    level : float
        Confidence level.
    n_boot, seed : int
        Cluster bootstrap replicates and seed (``stats.seed``).
    min_pairs : int
        Fewest lesions a statistic needs (and 2 patients).
    consensus : str
        The consensus reader's name (``readers.consensus``): refused as one of ``readers``.

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, reader_a, reader_b, quantity, statistic, weighting, estimate,
        lower, upper, method, n, n_patients, observed_agreement, note``: one row per scan
        type and quantity (a measure or the SSTR-RADS category only where some pair carries
        it).
    """
    if consensus in readers:
        raise ValueError(f"agreement with the consensus ({consensus}) is not measured: it is "
                         "made from the readers; compare independent readers only")
    boot = {"n_boot": n_boot, "seed": seed}
    measures = [m for m in MEASURES if f"{m}_a" in pairs.columns]
    rads = f"{SSTR_RADS[0]}_a" in pairs.columns
    rows = []
    for (tracer, modality), g in pairs.groupby(["tracer", "modality"], sort=True):
        head = {"tracer": tracer, "modality": modality, "reader_a": readers[0],
                "reader_b": readers[1]}
        rows.append(head | _kappa_row(g, weighting, boot, level, min_pairs))
        if rads and g[[f"{SSTR_RADS[0]}_a", f"{SSTR_RADS[0]}_b"]].notna().any(axis=None):
            numbers = g.astype({f"{SSTR_RADS[0]}{s}": "Int64" for s in ("_a", "_b")})
            rows.append(head | _kappa_row(numbers, "linear", boot, level, min_pairs,
                                          SSTR_RADS[0], SSTR_RADS[1], SSTR_RADS_NUMBERS))
        for m in measures:
            if g[[f"{m}_a", f"{m}_b"]].notna().any(axis=None):
                rows.append(head | _icc_row(g, m, boot, level, min_pairs))
    columns = ["tracer", "modality", "reader_a", "reader_b", "quantity", "statistic",
               "weighting", "estimate", "lower", "upper", "method", "n", "n_patients",
               "observed_agreement", "note"]
    return pd.DataFrame(rows, columns=columns)


def accuracy_by_reader(cohort: Cohort, readers: Sequence[str], equivocal: str, *,
                       method: str = "wilson", level: float = 0.95) -> pd.DataFrame:
    """Patient- and lesion-level accuracy of each reader as an index test of their own.

    Parameters
    ----------
    cohort : Cohort
        The loaded study.
    readers : sequence of str
        Readers to analyse (e.g. :func:`readers_of`).
    equivocal : {"negative", "positive", "exclude"}
        How an equivocal call counts (``index_test.equivocal``).
    method, level
        Proportion CI method and level.

    Returns
    -------
    pandas.DataFrame
        ``reader, unit`` (patient / lesion), then the columns of
        :func:`nethelpers.readings.accuracy_by` by tracer and modality (lesion level with
        the cluster-adjusted columns, patients as clusters).
    """
    from nethelpers import readings

    frames = []
    for reader in readers:
        pat = readings.accuracy_by(readings.patient_level(cohort, reader, equivocal),
                                   ["tracer", "modality"], test="test",
                                   truth="disease_present", method=method, level=level)
        les = readings.accuracy_by(readings.lesion_level(cohort, reader, equivocal),
                                   ["tracer", "modality"], test="test", truth="malignant",
                                   cluster="patient_id", method=method, level=level)
        for unit, table in (("patient", pat), ("lesion", les)):
            table.insert(0, "unit", unit)
            table.insert(0, "reader", reader)
            frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["reader", "unit"])
    return pd.concat(frames, ignore_index=True)
