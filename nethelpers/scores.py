"""Lesion positivity, the modified Krenning score on PET and the NETPET grade per patient.

Every rule below is the exact rule the code applies; the report can quote it. All
comparisons are exact floating-point comparisons of the stated quantities (no tolerance).

Input: the measurement table, one row per scan × ROI, with the columns ``patient_id``,
``scan_id``, ``tracer``, ``modality``, ``roi`` (``"lesion"`` or a reference region
``"liver"``, ``"spleen"``, ``"blood_pool"``, ``"muscle"``), ``lesion_id`` (shared by all scans
of a patient, empty for reference regions) and the statistics named by :class:`ScoreRules`
(``suv_max`` and ``suv_mean`` by default). Codes are compared case-insensitively after
stripping blanks. A scan's *reference value* for a region is the ``reference_statistic``
(SUVmean) of that region's ROI on the same scan; it is *usable* when exactly one such row
exists and its value is finite and > 0. The *lesion value* is the lesion ROI's
``lesion_statistic`` (SUVmax). On counts-only SPECT (``quantity`` "counts") both are the
counts statistics of the same names (``counts_max``, ``counts_mean``): every rule compares a
lesion with a reference of its own scan, so it is the same rule on the ratio (lesion above
liver is T/B liver > 1, whatever the scale).

Positivity (:func:`lesion_scores`, column ``positive``)
    A lesion ROI is positive when lesion value > ``positivity_factor`` × reference value of
    ``positivity_reference`` on the same scan (default: SUVmax > 1.0 × liver SUVmean). A
    lesion equal to the threshold is **not** positive. NA when the lesion value is missing or
    the scan has no usable reference; NA for reference-region rows. It applies to every tracer.

Modified Krenning score on PET (:func:`lesion_scores`, column ``krenning``)
    Only for lesion ROIs on somatostatin-receptor (SSTR) tracers (:data:`SSTR_TRACERS`). With
    L the lesion value and Li, Sp the liver and spleen reference values of the same scan:
    4 if L > Li and L > Sp; 3 if L > Li and L ≤ Sp; 2 if ``krenning_faint`` × Li < L ≤ Li;
    1 if L ≤ ``krenning_faint`` × Li (default factor 0.5). Ties fall to the lower grade
    (L = Li → 2; L = Sp → 3 when Sp > Li; L = 0.5 × Li → 1). Both references must be usable,
    otherwise NA (also when L ≤ Li, so that a score is only reported on fully referenced
    scans). Grade 0 (no uptake) is never assigned from measurements: a lesion ROI exists only
    where a lesion was delineated. NA for FDG and other non-SSTR tracers.

NETPET grade (:func:`netpet`), after Chan DL, Pavlakis N, Schembri GP, et al. Dual
Somatostatin Receptor/FDG PET/CT Imaging in Metastatic Neuroendocrine Tumours: Proposal for a
Novel Grading Scheme with Prognostic Significance. *Theranostics* 2017;7(5):1149-1158,
doi:10.7150/thno.18068. Chan et al. assigned the grade visually; the thresholds here are this
study's quantitative operationalisation (the parameters of :class:`ScoreRules`).

    *Scans.* One FDG PET scan and one SSTR PET scan (PET/CT or PET/MR) of the same patient.
    SPECT/CT scans are never used (NETPET is defined on PET). FDG scan: PET/CT before PET/MR,
    then the smallest ``scan_id``. SSTR scan: with ``netpet_modality_pairing="same"`` the scan
    of the FDG scan's modality first, else the other modality; with ``"any"`` PET/CT before
    PET/MR; then DOTATATE, DOTATOC, DOTANOC, HYNIC-TOC; then the smallest ``scan_id``.

    *Lesions.* Every ``lesion_id`` with a lesion ROI on at least one of the two paired scans
    (lesions seen only on unpaired scans are not used). A lesion with no ROI on one of the
    two scans is taken as not positive on that scan (a reader who saw nothing drew nothing).
    FDG+ / SSTR+ is the positivity rule above on each scan. The intensity of a lesion on a
    tracer is lesion value / liver reference value *of that scan* (the table's ``tb_liver``
    under the default rules; recomputed here so that it follows ``lesion_statistic``): FDG and
    SSTR intensities are compared relative to each tracer's own liver because absolute SUVs
    of different tracers are not comparable.

    *Lesion grade.* FDG− and SSTR− → P0; FDG− and SSTR+ → P1; FDG+ and SSTR− → P5; FDG+ and
    SSTR+ → with r = intensity_FDG / intensity_SSTR and x = ``netpet_similar`` (0.2):
    r < 1/(1+x) → P2 (FDG lower than SSTR); 1/(1+x) ≤ r ≤ 1+x → P3 (similar, bounds
    included); r > 1+x → P4 (FDG higher than SSTR).

    *Patient grade.* The highest lesion grade (the most discordant lesion drives it); P0 when
    the patient has no lesion on either scan or no positive lesion. A lesion whose grade
    cannot be determined (missing value or reference) leaves the patient NA unless its
    possible grades cannot exceed the grade already reached by determined lesions (e.g. a
    determined P5 lesion). The driving lesion is the determined lesion of the patient's
    grade; ties are broken by the largest r (P2–P4), the largest FDG intensity (P5), the
    largest SSTR intensity (P1), then the smallest ``lesion_id``; none for P0.

Every NA has its reason: ``score_note`` per row of :func:`lesion_scores`, ``reason`` per
patient of :func:`netpet`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FDG_TRACER",
    "NETPET_GRADES",
    "PET_MODALITIES",
    "REFERENCE_REGIONS",
    "SSTR_TRACERS",
    "ScoreRules",
    "lesion_scores",
    "netpet",
    "netpet_lesions",
]

#: Somatostatin-receptor tracers (codes of the ``tracer`` column, upper case).
SSTR_TRACERS = frozenset({"DOTATATE", "DOTATOC", "DOTANOC", "HYNIC-TOC"})
#: The FDG tracer code.
FDG_TRACER = "FDG"
#: PET modalities, in order of preference for NETPET pairing.
PET_MODALITIES = ("PET/CT", "PET/MR")
#: Reference regions a lesion can be compared with.
REFERENCE_REGIONS = ("liver", "spleen", "blood_pool", "muscle")
#: NETPET grades, in increasing order.
NETPET_GRADES = ("P0", "P1", "P2", "P3", "P4", "P5")

LESION = "lesion"
LESION_STATISTICS = ("suv_max", "suv_peak")
REFERENCE_STATISTICS = ("suv_mean", "suv_peak", "suv_max")
PAIRINGS = ("same", "any")
SSTR_ORDER = ("DOTATATE", "DOTATOC", "DOTANOC", "HYNIC-TOC")
KEY_COLUMNS = ("patient_id", "scan_id", "tracer", "modality", "roi", "lesion_id")
NETPET_DTYPE = pd.CategoricalDtype(list(NETPET_GRADES), ordered=True)
_SHOW = 5  # offending rows shown in an error message
_NAMES = {"suv_max": "SUVmax", "suv_mean": "SUVmean", "suv_peak": "SUVpeak"}


@dataclass(frozen=True)
class ScoreRules:
    """Parameters of the scores (defaults are the study's rules).

    Parameters
    ----------
    lesion_statistic : {"suv_max", "suv_peak"}
        Column holding the lesion value compared with references. Default ``"suv_max"``.
    reference_statistic : {"suv_mean", "suv_peak", "suv_max"}
        Column holding the reference-region value. Default ``"suv_mean"``.
    positivity_reference : {"liver", "spleen", "blood_pool", "muscle"}
        Reference region of the positivity rule. Default ``"liver"``.
    positivity_factor : float
        A lesion is positive when lesion value > factor × reference value (strictly).
        Finite and > 0. Default 1.0.
    krenning_faint : float
        Krenning grade 1 when lesion value ≤ faint × liver. 0 < faint < 1. Default 0.5.
    netpet_similar : float
        x: FDG and SSTR intensities are "similar" (P3) when their ratio r satisfies
        1/(1+x) ≤ r ≤ 1+x. Finite and ≥ 0. Default 0.2.
    netpet_modality_pairing : {"same", "any"}
        ``"same"``: prefer the SSTR scan of the FDG scan's modality, else the other;
        ``"any"``: PET/CT before PET/MR whatever the FDG modality. Default ``"same"``.
    sstr_tracers, fdg_tracers : frozenset of str
        Tracer names of the somatostatin-receptor and FDG families (default: the protocol's;
        :meth:`from_params` takes them from the study's vocabulary).
    pet_modalities : tuple of str
        PET modalities, in order of preference for NETPET pairing.

    Raises
    ------
    ValueError
        A value out of range or of the wrong type; the message names the field.
    """

    lesion_statistic: str = "suv_max"
    reference_statistic: str = "suv_mean"
    positivity_reference: str = "liver"
    positivity_factor: float = 1.0
    krenning_faint: float = 0.5
    netpet_similar: float = 0.2
    netpet_modality_pairing: str = "same"
    sstr_tracers: frozenset[str] = SSTR_TRACERS
    fdg_tracers: frozenset[str] = frozenset({FDG_TRACER})
    pet_modalities: tuple[str, ...] = PET_MODALITIES

    @classmethod
    def from_params(cls, params: Any) -> ScoreRules:
        """The rules of ``params.scores`` with the tracer families of ``params.vocabulary``.

        Parameters
        ----------
        params : nethelpers.config.Params
            Validated parameters.

        Returns
        -------
        ScoreRules
            Krenning applies to the vocabulary's SSTR tracers, NETPET pairs its FDG and SSTR
            tracers on its PET modalities.
        """
        vocab = params.vocabulary
        return cls(**params.scores.model_dump(), sstr_tracers=vocab.sstr_tracers,
                   fdg_tracers=vocab.fdg_tracers, pet_modalities=vocab.pet_modalities)

    def __post_init__(self) -> None:
        # measurements are matched on upper-cased tracer and modality codes
        for name in ("sstr_tracers", "fdg_tracers"):
            object.__setattr__(self, name, frozenset(str(t).upper() for t in getattr(self, name)))
        object.__setattr__(self, "pet_modalities",
                           tuple(str(m).upper() for m in self.pet_modalities))
        _check_choice("lesion_statistic", self.lesion_statistic, LESION_STATISTICS)
        _check_choice("reference_statistic", self.reference_statistic, REFERENCE_STATISTICS)
        _check_choice("positivity_reference", self.positivity_reference, REFERENCE_REGIONS)
        _check_choice("netpet_modality_pairing", self.netpet_modality_pairing, PAIRINGS)
        factor = _check_number("positivity_factor", self.positivity_factor)
        if not factor > 0:
            raise ValueError(f"ScoreRules.positivity_factor must be > 0, got {factor!r}")
        faint = _check_number("krenning_faint", self.krenning_faint)
        if not 0 < faint < 1:
            raise ValueError(f"ScoreRules.krenning_faint must be in (0, 1), got {faint!r}")
        similar = _check_number("netpet_similar", self.netpet_similar)
        if not similar >= 0:
            raise ValueError(f"ScoreRules.netpet_similar must be >= 0, got {similar!r}")

    @property
    def positivity_text(self) -> str:
        """The positivity rule in words, e.g. ``"SUVmax > 1 × liver SUVmean"``."""
        region = self.positivity_reference.replace("_", " ")
        return (f"{_NAMES[self.lesion_statistic]} > {self.positivity_factor:g} × {region} "
                f"{_NAMES[self.reference_statistic]}")

    @property
    def ratio_text(self) -> str:
        """The lesion-to-liver ratio in words, e.g. ``"SUVmax / liver SUVmean"``."""
        return f"{_NAMES[self.lesion_statistic]} / liver {_NAMES[self.reference_statistic]}"

    @property
    def similar_bounds(self) -> tuple[float, float]:
        """The closed interval [1/(1+x), 1+x] of FDG/SSTR intensity ratios called similar."""
        high = 1.0 + self.netpet_similar
        return 1.0 / high, high


def _check_choice(field: str, value: object, choices: Sequence[str]) -> None:
    """Raise a ValueError naming ``field`` unless ``value`` is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"ScoreRules.{field} must be one of {list(choices)}, got {value!r}")


def _check_number(field: str, value: object) -> float:
    """Return ``value`` as a float; raise a ValueError naming ``field`` if not a finite real."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"ScoreRules.{field} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"ScoreRules.{field} must be finite, got {value!r}")
    return number


# --------------------------------------------------------------------------------------
# Input checks and normalisation


def _missing_text(values: pd.Series) -> np.ndarray:
    """True where a key value is missing or blank."""
    text = values.astype("string").str.strip()
    return (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)


def _code(values: pd.Series, case: str) -> pd.Series:
    """Codes as stripped text in the given case (missing as '')."""
    text = values.astype("string").str.strip().fillna("")
    text = text.str.upper() if case == "upper" else text.str.lower()
    return text.astype(object)


def _rows(df: pd.DataFrame, mask: np.ndarray) -> str:
    """Readable list of the first offending rows."""
    sub = df.loc[mask]
    shown = ", ".join(
        f"row {idx!r} (scan {row.scan_id!r}, roi {row.roi!r}, lesion {row.lesion_id!r})"
        for idx, row in zip(sub.index[:_SHOW], sub.itertuples(index=False), strict=False)
    )
    more = f" and {len(sub) - _SHOW} more" if len(sub) > _SHOW else ""
    return shown + more


def _normalise(measurements: pd.DataFrame, rules: ScoreRules) -> pd.DataFrame:
    """Validate the measurement table and return its key columns normalised.

    Returns a frame with the input's index and the columns of KEY_COLUMNS (codes normalised,
    ``lesion_id`` as given with missing/blank as ''), ``is_lesion`` and the two statistics as
    float (non-numeric and non-finite as NaN).
    """
    if not isinstance(measurements, pd.DataFrame):
        raise TypeError(f"measurements must be a pandas DataFrame, got {type(measurements)}")
    if not isinstance(rules, ScoreRules):
        raise TypeError(f"rules must be a ScoreRules, got {type(rules)}")
    needed = list(dict.fromkeys([*KEY_COLUMNS, rules.lesion_statistic,
                                 rules.reference_statistic]))
    absent = [c for c in needed if c not in measurements.columns]
    if absent:
        raise ValueError(f"measurement table lacks column(s) {absent}")
    if not measurements.index.is_unique:
        raise ValueError("measurement table index must be unique")
    m = measurements
    out = pd.DataFrame(index=m.index)
    for col in ("patient_id", "scan_id"):
        bad = _missing_text(m[col])
        if bad.any():
            raise ValueError(f"{col} is missing in {int(bad.sum())} row(s), e.g. row(s) "
                             f"{list(m.index[bad][:_SHOW])}")
        out[col] = m[col].to_numpy(dtype=object)
    out["tracer"] = _code(m["tracer"], "upper")
    out["modality"] = _code(m["modality"], "upper")
    out["roi"] = _code(m["roi"], "lower")
    blank = _missing_text(m["lesion_id"])
    out["lesion_id"] = np.where(blank, "", m["lesion_id"].to_numpy(dtype=object))
    out["is_lesion"] = (out["roi"] == LESION).to_numpy(dtype=bool)
    # counts-only SPECT rows (quantity "counts") have no SUV: their scores compare the counts
    # statistics of the same scan (lesion / reference is a ratio, whatever the scale)
    counts = (m["quantity"].astype("string").str.strip().str.lower().eq("counts")
              .fillna(False).to_numpy(dtype=bool) if "quantity" in m.columns
              else np.zeros(len(m), dtype=bool))
    for stat in dict.fromkeys([rules.lesion_statistic, rules.reference_statistic]):
        values = pd.to_numeric(m[stat], errors="coerce").astype("float64").to_numpy()
        on_counts = "counts_" + stat.removeprefix("suv_")
        if counts.any() and on_counts in m.columns:
            values = np.where(counts, pd.to_numeric(m[on_counts], errors="coerce")
                              .astype("float64").to_numpy(), values)
        out[stat] = np.where(np.isfinite(values), values, np.nan)

    unknown = ~out["roi"].isin([LESION, *REFERENCE_REGIONS]).to_numpy(dtype=bool)
    if unknown.any():
        raise ValueError(f"unknown roi value(s) {sorted(set(out['roi'][unknown]))}; expected "
                         f"{[LESION, *REFERENCE_REGIONS]} ({_rows(out, unknown)})")
    for col in ("tracer", "modality"):
        per_scan = out.groupby("scan_id", sort=False)[col].nunique()
        if (per_scan > 1).any():
            raise ValueError(f"scan(s) {list(per_scan.index[per_scan > 1][:_SHOW])} have "
                             f"more than one {col}")
    per_scan = out.groupby("scan_id", sort=False)["patient_id"].nunique()
    if (per_scan > 1).any():
        raise ValueError(f"scan(s) {list(per_scan.index[per_scan > 1][:_SHOW])} belong to "
                         "more than one patient")
    ref_rows = ~out["is_lesion"].to_numpy()
    dup = ref_rows & out.duplicated(["scan_id", "roi"], keep=False).to_numpy()
    if dup.any():
        raise ValueError("a scan has more than one ROI of the same reference region "
                         f"(which one to use would be a guess): {_rows(out, dup)}")
    return out


# --------------------------------------------------------------------------------------
# Row-level scores


def _join(n: int, parts: Iterable[tuple[np.ndarray, np.ndarray | str]]) -> np.ndarray:
    """Join the texts of the parts whose mask is true with '; ' (object array of str)."""
    notes = np.full(n, "", dtype=object)
    for mask, text in parts:
        add = np.where(mask, text, "").astype(object)
        sep = np.where((notes != "") & (add != ""), "; ", "").astype(object)
        notes = notes + sep + add
    return notes


def _references(norm: pd.DataFrame, rules: ScoreRules,
                regions: Sequence[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per row, each region's reference value of the row's scan and why it is unusable.

    Returns ``{region: (value, note)}``: value as given (NaN when the scan has no such ROI)
    and note '' when the reference is usable (finite and > 0).
    """
    stat = rules.reference_statistic
    refs = norm.loc[norm["roi"].isin(regions)]
    out = {}
    for region in regions:
        rows = refs.loc[refs["roi"] == region]
        by_scan = pd.Series(rows[stat].to_numpy(), index=rows["scan_id"].to_numpy())
        present = norm["scan_id"].isin(by_scan.index).to_numpy(dtype=bool)
        value = norm["scan_id"].map(by_scan).astype("float64").to_numpy()
        note = np.select(
            [~present, np.isnan(value), ~(value > 0)],
            [f"no {region} reference on this scan",
             f"{region} reference {stat} is missing on this scan",
             f"{region} reference {stat} is not > 0 on this scan"],
            default="",
        ).astype(object)
        out[region] = (value, note)
    return out


def _score(norm: pd.DataFrame, rules: ScoreRules) -> pd.DataFrame:
    """All row scores plus the per-score reasons (internal columns end in ``_note``)."""
    n = len(norm)
    lesion = norm["is_lesion"].to_numpy(dtype=bool)
    sstr = norm["tracer"].isin(rules.sstr_tracers).to_numpy(dtype=bool)
    value = norm[rules.lesion_statistic].to_numpy(dtype="float64")
    regions = list(dict.fromkeys(["liver", "spleen", rules.positivity_reference]))
    refs = _references(norm, rules, regions)
    liver, liver_note = refs["liver"]
    spleen, spleen_note = refs["spleen"]
    pos_ref, pos_ref_note = refs[rules.positivity_reference]
    has_value = np.isfinite(value)
    value_note = f"lesion {rules.lesion_statistic} is missing"
    liver_ok, spleen_ok, pos_ref_ok = liver_note == "", spleen_note == "", pos_ref_note == ""

    with np.errstate(invalid="ignore", divide="ignore"):
        above_ref = value > rules.positivity_factor * pos_ref
        above_liver = value > liver
        above_spleen = value > spleen
        above_faint = value > rules.krenning_faint * liver
        to_liver = value / liver

    pos_known = lesion & has_value & pos_ref_ok
    positive = pd.arrays.BooleanArray(above_ref & pos_known, ~pos_known)

    kr_known = lesion & sstr & has_value & liver_ok & spleen_ok
    grade = np.select([above_liver & above_spleen, above_liver, above_faint], [4, 3, 2],
                      default=1)
    krenning = pd.arrays.IntegerArray(np.where(kr_known, grade, 0).astype("int64"), ~kr_known)

    ltl_known = lesion & has_value & liver_ok
    lesion_to_liver = np.where(ltl_known, to_liver, np.nan)

    reference_row = (~lesion, "reference region: scores apply to lesion ROIs only")
    missing_value = (lesion & ~has_value, value_note)
    not_sstr = (lesion & ~sstr,
                "krenning applies to SSTR tracers only (" + norm["tracer"].to_numpy() + ")")
    pos_note = _join(n, [reference_row, missing_value, (lesion & ~pos_ref_ok, pos_ref_note)])
    ltl_note = _join(n, [reference_row, missing_value, (lesion & ~liver_ok, liver_note)])
    kr_note = _join(n, [reference_row, not_sstr, missing_value,
                        (lesion & sstr & ~liver_ok, liver_note),
                        (lesion & sstr & ~spleen_ok, spleen_note)])
    region_parts = [(lesion & ~pos_ref_ok, pos_ref_note)]
    if rules.positivity_reference != "liver":
        region_parts.append((lesion & ~liver_ok, liver_note))
    if rules.positivity_reference != "spleen":
        region_parts.append((lesion & sstr & ~spleen_ok, spleen_note))
    score_note = _join(n, [reference_row, missing_value, *region_parts, not_sstr])

    out = pd.DataFrame(index=norm.index)
    out["ref_liver"] = liver
    out["ref_spleen"] = spleen
    if rules.positivity_reference not in ("liver", "spleen"):
        out[f"ref_{rules.positivity_reference}"] = pos_ref
    out["positive"] = pd.Series(positive, index=norm.index)
    out["krenning"] = pd.Series(krenning, index=norm.index)
    out["lesion_to_liver"] = lesion_to_liver
    out["score_note"] = score_note
    out["positive_note"] = pos_note
    out["lesion_to_liver_note"] = ltl_note
    out["krenning_note"] = kr_note
    return out


def lesion_scores(measurements: pd.DataFrame, rules: ScoreRules | None = None) -> pd.DataFrame:
    """Positivity and the modified Krenning score of every lesion ROI.

    Rules (exact; see the module docstring for the full text):

    - ``positive``: lesion value > ``positivity_factor`` × reference value of
      ``positivity_reference`` on the same scan (default SUVmax > 1.0 × liver SUVmean).
      Equality is not positive. NA when the lesion value is missing, the scan has no usable
      reference (no ROI, missing value, value ≤ 0), and on reference-region rows.
    - ``krenning`` (SSTR tracers only), with L the lesion value, Li/Sp the liver/spleen
      reference of the same scan: 4 if L > Li and L > Sp; 3 if L > Li and L ≤ Sp; 2 if
      0.5 × Li < L ≤ Li; 1 if L ≤ 0.5 × Li (0.5 = ``krenning_faint``). NA unless both
      references are usable; NA on FDG and other non-SSTR tracers and on reference rows.

    Parameters
    ----------
    measurements : pandas.DataFrame
        The measurement table (one row per scan × ROI; see the module docstring). The index
        must be unique.
    rules : ScoreRules, optional
        Parameters; ``ScoreRules()`` when omitted.

    Returns
    -------
    pandas.DataFrame
        A copy of ``measurements`` (same index, row order and columns) with added columns:
        ``ref_liver``, ``ref_spleen`` (float: the scan's reference values as given, NaN when
        the scan has no such ROI; ``ref_blood_pool``/``ref_muscle`` too when that region is
        the positivity reference), ``positive`` ("boolean"), ``krenning`` ("Int64", 1–4),
        ``lesion_to_liver`` (float: lesion value / liver reference, the intensity used by
        :func:`netpet`; NaN when not computable) and ``score_note`` (str: why a score of the
        row is NA, '' when none is; several reasons joined with '; ').

    Raises
    ------
    ValueError
        Missing columns, unknown ``roi`` codes, missing patient or scan IDs, a scan with more
        than one patient, tracer or modality, or two ROIs of one reference region on a scan.
    """
    rules = ScoreRules() if rules is None else rules
    norm = _normalise(measurements, rules)
    scores = _score(norm, rules)
    out = measurements.copy()
    for col in scores.columns:
        if not col.endswith("_note") or col == "score_note":
            out[col] = scores[col]
    return out


# --------------------------------------------------------------------------------------
# NETPET


def _text(values: pd.Series) -> pd.Series:
    """Values as Python strings in an object Series, missing as ''."""
    return values.astype("string").fillna("").astype(object)


def _with_na(values: pd.Series) -> np.ndarray:
    """Values as an object array with missing ones as ``pd.NA``."""
    out = values.to_numpy(dtype=object, copy=True)
    out[values.isna().to_numpy()] = pd.NA
    return out


def _first_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The first row per patient after sorting by ``patient_id`` then ``keys``."""
    ordered = frame.sort_values(["patient_id", *keys], kind="stable")
    return ordered.drop_duplicates("patient_id").set_index("patient_id")


def _pair_scans(norm: pd.DataFrame, rules: ScoreRules) -> pd.DataFrame:
    """One row per patient: the paired FDG and SSTR PET scans and why one is missing."""
    scans = norm.drop_duplicates("scan_id")[["patient_id", "scan_id", "tracer", "modality"]]
    scans = scans.assign(scan_key=_text(scans["scan_id"]))
    pet = scans["modality"].isin(rules.pet_modalities)
    mod_rank = {m: i for i, m in enumerate(rules.pet_modalities)}
    order = [*SSTR_ORDER, *sorted(rules.sstr_tracers - set(SSTR_ORDER))]
    tracer_rank = {t: i for i, t in enumerate(order)}
    is_fdg = scans["tracer"].isin(rules.fdg_tracers)
    fdg = scans.loc[pet & is_fdg]
    fdg = fdg.assign(mod_rank=fdg["modality"].map(mod_rank))
    fdg = _first_by(fdg, ["mod_rank", "scan_key"])
    sstr = scans.loc[pet & scans["tracer"].isin(rules.sstr_tracers)]
    fdg_modality = sstr["patient_id"].map(fdg["modality"])
    mismatch = (sstr["modality"] != fdg_modality) & fdg_modality.notna()
    if rules.netpet_modality_pairing == "any":
        mismatch = pd.Series(False, index=sstr.index)
    sstr = sstr.assign(mismatch=mismatch.astype(int), mod_rank=sstr["modality"].map(mod_rank),
                       tracer_rank=sstr["tracer"].map(tracer_rank))
    sstr = _first_by(sstr, ["mismatch", "mod_rank", "tracer_rank", "scan_key"])

    patients = pd.Index(sorted(norm["patient_id"].unique(), key=str), name="patient_id")
    pairs = pd.DataFrame(index=patients)
    pairs["fdg_scan_id"] = fdg["scan_id"].reindex(patients)
    pairs["fdg_modality"] = fdg["modality"].reindex(patients)
    pairs["sstr_scan_id"] = sstr["scan_id"].reindex(patients)
    pairs["sstr_modality"] = sstr["modality"].reindex(patients)
    pairs["sstr_tracer"] = sstr["tracer"].reindex(patients)

    spect_sstr = scans.loc[~pet & scans["tracer"].isin(rules.sstr_tracers)]
    spect_list = spect_sstr.groupby("patient_id")["scan_id"].agg(
        lambda s: ", ".join(map(str, s))).reindex(patients)
    no_fdg = pairs["fdg_scan_id"].isna().to_numpy()
    no_sstr = pairs["sstr_scan_id"].isna().to_numpy()
    spect_text = ("no SSTR PET scan (SSTR imaging on " + _text(spect_list)
                  + " not used: NETPET is defined on PET)").to_numpy(dtype=object)
    sstr_reason = np.where(spect_list.notna().to_numpy(), spect_text, "no SSTR PET scan")
    pairs["scan_reason"] = _join(len(pairs), [(no_fdg, "no FDG PET scan"),
                                              (no_sstr, sstr_reason)])
    n_fdg = scans.loc[pet & is_fdg].groupby("patient_id").size()
    n_sstr = scans.loc[pet & scans["tracer"].isin(rules.sstr_tracers)].groupby("patient_id").size()
    pairs["n_fdg_scans"] = n_fdg.reindex(patients).fillna(0).astype(int)
    pairs["n_sstr_scans"] = n_sstr.reindex(patients).fillna(0).astype(int)
    return pairs


def _lesion_table(norm: pd.DataFrame, scores: pd.DataFrame, pairs: pd.DataFrame,
                  rules: ScoreRules) -> pd.DataFrame:
    """One row per patient × lesion of the paired scans with its NETPET grade interval."""
    rows = norm.join(scores)
    lesions = rows.loc[rows["is_lesion"]]
    blank = lesions["lesion_id"] == ""
    if blank.any():
        raise ValueError("lesion ROI(s) without lesion_id cannot be matched across scans: "
                         f"{_rows(lesions, blank.to_numpy())}")
    dup = lesions.duplicated(["scan_id", "lesion_id"], keep=False).to_numpy()
    if dup.any():
        raise ValueError(f"lesion measured twice on one scan: {_rows(lesions, dup)}")
    cols = ["patient_id", "lesion_id", "scan_id", "positive", "lesion_to_liver",
            "positive_note", "lesion_to_liver_note"]
    parts = {}
    for kind in ("fdg", "sstr"):
        chosen = lesions["scan_id"].isin(pairs[f"{kind}_scan_id"].dropna())
        part = lesions.loc[chosen, cols].rename(columns={
            "scan_id": f"{kind}_roi_scan", "positive": f"{kind}_positive",
            "lesion_to_liver": f"{kind}_intensity", "positive_note": f"{kind}_positive_note",
            "lesion_to_liver_note": f"{kind}_intensity_note"})
        parts[kind] = part
    table = parts["fdg"].merge(parts["sstr"], on=["patient_id", "lesion_id"], how="outer")
    table = table.sort_values(["patient_id", "lesion_id"], key=_text,
                              kind="stable").reset_index(drop=True)

    n = len(table)
    grade_rows = []
    for kind, label in (("fdg", "FDG"), ("sstr", "SSTR")):
        scan = table["patient_id"].map(pairs[f"{kind}_scan_id"])
        has_scan = scan.notna().to_numpy()
        has_roi = table[f"{kind}_roi_scan"].notna().to_numpy()
        pos = table[f"{kind}_positive"].astype("boolean")
        # No ROI on an existing paired scan: not positive. No such scan at all: unknown.
        pos = pos.mask(~has_roi & has_scan, False)
        table[f"{kind}_positive"] = pos
        scan_text = (f"{label} scan " + _text(scan)).to_numpy(dtype=object)
        table[f"{kind}_positive_note"] = _join(n, [
            (~has_scan, f"no {label} PET scan"),
            (has_scan & ~has_roi, scan_text + ": no ROI, taken as not positive"),
            (has_roi, scan_text + ": "
             + table[f"{kind}_positive_note"].fillna("").to_numpy(dtype=object)),
        ])
        table[f"{kind}_intensity_note"] = _join(n, [
            (has_roi, scan_text + ": "
             + table[f"{kind}_intensity_note"].fillna("").to_numpy(dtype=object)),
        ])
        table[f"{kind}_scan_id"] = scan
        grade_rows.append(has_roi)
    table["fdg_intensity"] = table["fdg_intensity"].astype("float64")
    table["sstr_intensity"] = table["sstr_intensity"].astype("float64")

    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = table["fdg_intensity"].to_numpy() / table["sstr_intensity"].to_numpy()
    low, high = rules.similar_bounds
    ratio_known = np.isfinite(ratio)
    both_class = np.select([ratio < low, ratio <= high], [2, 3], default=4)
    table["ratio"] = np.where(ratio_known, ratio, np.nan)

    fdg = table["fdg_positive"]
    sst = table["sstr_positive"]
    fdg_na, sst_na = fdg.isna().to_numpy(), sst.isna().to_numpy()
    fdg_v = fdg.fillna(False).to_numpy(dtype=bool)
    sst_v = sst.fillna(False).to_numpy(dtype=bool)
    tt_lo = np.where(ratio_known, both_class, 2)
    tt_hi = np.where(ratio_known, both_class, 4)
    combos = [  # (fdg, sstr, lowest grade, highest grade)
        (False, False, 0, 0), (False, True, 1, 1), (True, False, 5, 5), (True, True, tt_lo, tt_hi)]
    lo = np.full(n, 9)
    hi = np.full(n, -1)
    for f, s, g_lo, g_hi in combos:
        feasible = (fdg_na | (fdg_v == f)) & (sst_na | (sst_v == s))
        lo = np.where(feasible, np.minimum(lo, g_lo), lo)
        hi = np.where(feasible, np.maximum(hi, g_hi), hi)
    table["grade_low"] = lo
    table["grade_high"] = hi
    determined = lo == hi
    table["grade"] = pd.Categorical.from_codes(np.where(determined, lo, -1),
                                               dtype=NETPET_DTYPE)

    why_ratio = (fdg_v & ~fdg_na & sst_v & ~sst_na & ~ratio_known)
    table["grade_note"] = _join(n, [
        (~determined & fdg_na, table["fdg_positive_note"].to_numpy(dtype=object)),
        (~determined & sst_na, table["sstr_positive_note"].to_numpy(dtype=object)),
        (~determined & why_ratio & ~np.isfinite(table["fdg_intensity"].to_numpy()),
         table["fdg_intensity_note"].to_numpy(dtype=object)),
        (~determined & why_ratio & ~np.isfinite(table["sstr_intensity"].to_numpy()),
         table["sstr_intensity_note"].to_numpy(dtype=object)),
    ])
    # Tie-break key within the top grade: r (P2-P4), FDG intensity (P5), SSTR intensity (P1).
    table["tie_key"] = np.select(
        [np.isin(lo, [2, 3, 4]), lo == 5, lo == 1],
        [table["ratio"], table["fdg_intensity"], table["sstr_intensity"]], default=np.nan)
    keep = ["patient_id", "lesion_id", "fdg_scan_id", "sstr_scan_id", "fdg_positive",
            "sstr_positive", "fdg_intensity", "sstr_intensity", "ratio", "grade",
            "grade_low", "grade_high", "grade_note", "tie_key"]
    return table[keep]


def netpet_lesions(measurements: pd.DataFrame, rules: ScoreRules | None = None
                   ) -> pd.DataFrame:
    """The NETPET grade of every lesion of the paired FDG and SSTR PET scans.

    The rules are those of the module docstring (scan pairing, lesions, lesion grade).

    Parameters
    ----------
    measurements : pandas.DataFrame
        The measurement table.
    rules : ScoreRules, optional
        Parameters; ``ScoreRules()`` when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per patient × lesion_id with a ROI on at least one paired scan, sorted by
        patient and lesion: ``patient_id, lesion_id, fdg_scan_id, sstr_scan_id``,
        ``fdg_positive, sstr_positive`` ("boolean"; False where the lesion has no ROI on an
        existing paired scan, NA where undetermined or the scan is missing),
        ``fdg_intensity, sstr_intensity`` (lesion value / liver reference of that scan),
        ``ratio`` (FDG / SSTR intensity), ``grade`` (ordered categorical P0–P5, NA when
        undetermined), ``grade_low, grade_high`` (the range of grades still possible, 0–5)
        and ``grade_note`` (why ``grade`` is NA, '' otherwise).
    """
    rules = ScoreRules() if rules is None else rules
    norm = _normalise(measurements, rules)
    pairs = _pair_scans(norm, rules)
    table = _lesion_table(norm, _score(norm, rules), pairs, rules)
    return table.drop(columns="tie_key")


def netpet(measurements: pd.DataFrame, rules: ScoreRules | None = None) -> pd.DataFrame:
    """The NETPET grade (P0–P5) of every patient of the measurement table.

    Rules (exact; the module docstring has the full text and the citation, Chan et al.,
    Theranostics 2017;7(5):1149-1158): pair one FDG PET and one SSTR PET scan of the patient
    (FDG PET/CT before PET/MR; SSTR of the same modality first with
    ``netpet_modality_pairing="same"``); per lesion, FDG+/SSTR+ by the positivity rule on
    each scan (no ROI on an existing paired scan = not positive); FDG−SSTR− → P0,
    FDG−SSTR+ → P1, FDG+SSTR− → P5, FDG+SSTR+ → by r = (FDG lesion/FDG liver) /
    (SSTR lesion/SSTR liver): r < 1/(1+x) → P2, 1/(1+x) ≤ r ≤ 1+x → P3, r > 1+x → P4
    (x = ``netpet_similar``); patient grade = the highest lesion grade, P0 without lesions.

    Parameters
    ----------
    measurements : pandas.DataFrame
        The measurement table (one row per scan × ROI).
    rules : ScoreRules, optional
        Parameters; ``ScoreRules()`` when omitted.

    Returns
    -------
    pandas.DataFrame
        One row per patient (every ``patient_id`` of the table, sorted) with columns
        ``patient_id``, ``netpet`` (ordered categorical P0–P5, NA when not gradable),
        ``fdg_scan_id``, ``sstr_scan_id`` (the paired scans, NA when none),
        ``n_lesions`` (lesions with a ROI on either paired scan), ``n_sstr_positive``,
        ``n_fdg_positive``, ``n_fdg_pos_sstr_neg`` ("Int64"; NA when a lesion's status is
        undetermined or the scan is missing), ``driving_lesion_id`` (the lesion that set the
        grade; NA for P0 and when not gradable), ``reason`` (why ``netpet`` is NA, '' when
        graded) and ``note`` (the pairing used and other remarks).

    Raises
    ------
    ValueError
        As :func:`lesion_scores`, and lesion ROIs without ``lesion_id`` or measured twice on
        one scan.
    """
    rules = ScoreRules() if rules is None else rules
    norm = _normalise(measurements, rules)
    pairs = _pair_scans(norm, rules)
    table = _lesion_table(norm, _score(norm, rules), pairs, rules)
    patients = pairs.index

    by = table.groupby("patient_id", sort=False)
    n_lesions = by.size().reindex(patients).fillna(0).astype("int64")

    def count(indicator: pd.Series) -> pd.Series:
        """Number of True per patient, NA if any value of the patient is NA."""
        true = indicator.fillna(False).astype(bool).groupby(table["patient_id"]).sum()
        unknown = indicator.isna().groupby(table["patient_id"]).any()
        counts = true.reindex(patients).fillna(0).astype("Int64")
        return counts.mask(unknown.reindex(patients).fillna(False).astype(bool))

    fdg_pos, sstr_pos = table["fdg_positive"], table["sstr_positive"]
    n_sstr = count(sstr_pos)
    n_fdg = count(fdg_pos)
    n_p5 = count(fdg_pos & ~sstr_pos)
    for counts, col in ((n_sstr, "sstr_scan_id"), (n_fdg, "fdg_scan_id")):
        counts[pairs[col].isna()] = pd.NA
    n_p5[pairs["fdg_scan_id"].isna() | pairs["sstr_scan_id"].isna()] = pd.NA

    max_low = by["grade_low"].max().reindex(patients).fillna(0).astype(int)
    undetermined = table["grade_low"] != table["grade_high"]
    max_high_open = (table.loc[undetermined].groupby("patient_id")["grade_high"].max()
                     .reindex(patients).fillna(-1).astype(int))
    has_scans = (pairs["scan_reason"] == "").to_numpy()
    graded = has_scans & (max_high_open <= max_low).to_numpy()
    grade = pd.Categorical.from_codes(np.where(graded, max_low.to_numpy(), -1),
                                      dtype=NETPET_DTYPE)

    # Driving lesion: a determined lesion of the patient's grade; tie-break documented above.
    top = table.loc[~undetermined].assign(
        patient_grade=table["patient_id"].map(pd.Series(max_low.to_numpy(), index=patients)))
    top = top.loc[(top["grade_low"] == top["patient_grade"]) & (top["grade_low"] > 0)]
    top = top.assign(lesion_key=_text(top["lesion_id"]))
    top = top.sort_values(["patient_id", "tie_key", "lesion_key"],
                          ascending=[True, False, True], na_position="last", kind="stable")
    driving = top.drop_duplicates("patient_id").set_index("patient_id")["lesion_id"]
    driving = driving.reindex(patients).where(graded)

    # Reasons for NA: missing scans first, then the lesions that could still change the grade.
    open_rows = table.loc[undetermined & (table["grade_high"]
                                          > table["patient_id"].map(max_low))]
    lesion_reason = pd.Series("", index=patients, dtype=object)
    if len(open_rows):
        grouped = (open_rows.assign(lesion_key=_text(open_rows["lesion_id"]))
                   .groupby(["patient_id", "grade_note"], sort=True)["lesion_key"]
                   .agg(", ".join).reset_index())
        text = (grouped["grade_note"] + " (lesion " + grouped["lesion_key"] + ")")
        per_patient = text.groupby(grouped["patient_id"]).agg("; ".join)
        lesion_reason = lesion_reason.where(~lesion_reason.index.isin(per_patient.index),
                                            per_patient.reindex(patients))
    scan_reason = pairs["scan_reason"].to_numpy(dtype=object)
    reason = np.where(has_scans, "", scan_reason).astype(object)
    reason = np.where(has_scans & ~graded,
                      "undetermined lesion(s) could change the grade: "
                      + lesion_reason.to_numpy(dtype=object), reason)

    both = has_scans
    pairing = ("FDG " + _text(pairs["fdg_modality"]) + " " + _text(pairs["fdg_scan_id"])
               + " with " + _text(pairs["sstr_tracer"]) + " "
               + _text(pairs["sstr_modality"]) + " " + _text(pairs["sstr_scan_id"])
               ).to_numpy(dtype=object)
    several = (pairs["n_fdg_scans"] > 1) | (pairs["n_sstr_scans"] > 1)
    several_text = ("chosen among " + _text(pairs["n_fdg_scans"]) + " FDG and "
                    + _text(pairs["n_sstr_scans"]) + " SSTR PET scans").to_numpy(object)
    kept_open = (table.loc[undetermined].groupby("patient_id").size()
                 .reindex(patients).fillna(0).astype(int).to_numpy())
    p0 = graded & (max_low.to_numpy() == 0)
    note = _join(len(patients), [
        (both, pairing),
        (both & several.to_numpy(), several_text),
        (graded & (kept_open > 0),
         kept_open.astype(str).astype(object)
         + " undetermined lesion(s) cannot change the grade"),
        (p0, "P0: no positive lesion, no driving lesion"),
    ])

    return pd.DataFrame({
        "patient_id": patients.to_numpy(dtype=object),
        "netpet": grade,
        "fdg_scan_id": _with_na(pairs["fdg_scan_id"]),
        "sstr_scan_id": _with_na(pairs["sstr_scan_id"]),
        "n_lesions": n_lesions.astype("Int64").array,
        "n_sstr_positive": n_sstr.array,
        "n_fdg_positive": n_fdg.array,
        "n_fdg_pos_sstr_neg": n_p5.array,
        "driving_lesion_id": _with_na(driving),
        "reason": reason,
        "note": note,
    })
