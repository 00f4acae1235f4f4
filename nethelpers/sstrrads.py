"""SSTR-RADS 1.0 per lesion and per patient from the readers' structured SSTR PET reads.

SSTR-RADS version 1.0 (Werner RA, Solnes LB, Javadi MS, Weich A, Gorin MA, Pienta KJ,
Higuchi T, Buck AK, Pomper MG, Rowe SP, Lapa C. SSTR-RADS version 1.0 as a reporting system
for SSTR PET imaging and selection of potential PRRT candidates: a proposed standardization
framework. J Nucl Med 2018;59:1085-1091, doi:10.2967/jnumed.117.206631) scores every focus of
an SSTR PET on a 5-point scale of how likely it is a neuroendocrine tumour site, from the
uptake intensity (against blood pool, liver and spleen), the site (typical of NET or not,
soft tissue or bone) and the anatomic correlate on the CT or MR. It is reciprocal to PSMA-RADS
1.0 (Rowe et al., J Nucl Med 2018;59:479-485). The patient's category is the highest of the
lesions'; every SSTR PET scan the reader read is a patient-level row, and a scan read with no
focus (a read with lesion_id ``none``) is SSTR-RADS-1. Only index tests are scored: the reads of
follow-up and repeat scans (:func:`nethelpers.readings.repeat_scans`) are left out (notebook 06
compares a follow-up with its baseline).

What the reads must carry (columns of the reads table, optional; :mod:`nethelpers.tablespec`):

- ``sstr_uptake`` 0-4: 0 no focal uptake; 1 at or below blood pool; 2 above blood pool, at
  or below liver; 3 above liver, at or below spleen; 4 above spleen;
- ``anatomic_correlate``: ``suspicious`` (a finding on CT/MR suggestive of tumour), ``benign``
  (characterised as benign on anatomic imaging or by biopsy) or ``none``;
- ``site_typical``: whether the site is typical of NET (true) or atypical (false);
- bone or soft tissue comes from the lesion's ``site`` (bone when it starts with ``bone``,
  parameter ``bone``).

Rule table (applied in this order; u = ``sstr_uptake``; "intense" = u >= ``intense_from``,
default 2, i.e. clearly above blood pool; "equivocal" = 1 <= u < ``intense_from``, i.e. about
blood pool):

==========  ====================================================  =========================
category    definition (Werner et al. 2018)                       rule on the read
==========  ====================================================  =========================
1           benign: normal biodistribution, or a lesion           correlate benign and u <= 1;
            characterised as benign without abnormal uptake       or u = 0 with no suspicious
                                                                  correlate
2A          likely benign, soft tissue: uptake in a benign        correlate benign, u >= 2,
            lesion or at a soft-tissue site atypical of NET       soft tissue; or site
                                                                  atypical, not intense, soft
2B          likely benign, bone: uptake in a lesion               as 2A in bone
            characterised as benign (e.g. degenerative)
            or atypical of NET in bone
3A          equivocal uptake in a soft-tissue site typical of     site typical, equivocal
            NET (e.g. a lymph node) without an anatomic finding   uptake, correlate none or
                                                                  suspicious, soft tissue
3B          equivocal uptake in bone without an anatomic finding  as 3A in bone
3C          intense uptake at a site highly atypical of NET       site atypical, intense,
            (consider another tumour)                             correlate not benign
3D          lesion suggestive of tumour on anatomic imaging but   correlate suspicious, u <= 1
            lacking uptake (e.g. dedifferentiated tumour)
4           intense uptake at a site typical of NET without a     site typical, intense,
            definitive finding on anatomic imaging                correlate none
5           intense uptake at a site typical of NET with a        site typical, intense,
            corresponding finding on anatomic imaging             correlate suspicious
==========  ====================================================  =========================

Equivocal uptake at a typical site with a suspicious correlate is indeterminate and scored 3A
or 3B (the paper names 3A/3B without an anatomic finding and 3D with a finding but no uptake;
equivocal uptake with a finding is neither, and is not evidence enough for 4 or 5). With the
default ``intense_from`` = 2 this case cannot arise (a suspicious correlate with u <= 1 is 3D);
it arises for u from 2 to ``intense_from`` - 1 when ``intense_from`` is 3 or 4.

The category numbers order 1 < 2 < 3 < 4 < 5 (subcategories share their number); SSTR-RADS 4
and 5 are the categories Werner et al. consider positive for NET, so ``>= 4`` is the index
test of the accuracy tables. Reads without the three fields get no category (NA) and are
counted; a scan type none of whose reads carry them is listed in the note, never scored.
The categories encode the published definitions; the numeric boundary between "equivocal" and
"intense", ``intense_from`` (parameter ``readers.sstr_intense_from``), is this study's choice,
not the paper's (the paper describes them in words): check it against the study protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from nethelpers.cohort import NO_LESION, Cohort, reads_joined
from nethelpers.readings import repeat_scans

__all__ = ["CATEGORIES", "FIELDS", "SCAN_KEYS", "lesion_category", "sstr_rads_accuracy",
           "sstr_rads_counts", "sstr_rads_lesions", "sstr_rads_patients"]

#: Categories in report order.
CATEGORIES = ("1", "2A", "2B", "3A", "3B", "3C", "3D", "4", "5")

#: Read columns SSTR-RADS needs.
FIELDS = ("sstr_uptake", "anatomic_correlate", "site_typical")

#: The columns that identify one scan read by one reader (a patient-level row).
SCAN_KEYS = ("patient_id", "scan_id", "tracer", "modality", "reader")


def lesion_category(uptake: int, correlate: str, site_typical: bool, in_bone: bool,
                    intense_from: int = 2) -> str:
    """SSTR-RADS 1.0 category of one focus (see the rule table in the module docstring).

    Parameters
    ----------
    uptake : int
        ``sstr_uptake`` 0-4.
    correlate : {"suspicious", "benign", "none"}
        Anatomic correlate on CT/MR.
    site_typical : bool
        The site is typical of NET.
    in_bone : bool
        The focus is in bone (subcategories B).
    intense_from : int
        Smallest uptake grade that counts as intense (default 2: above blood pool).

    Returns
    -------
    str
        One of :data:`CATEGORIES`.
    """
    u = int(uptake)
    if not 0 <= u <= 4:
        raise ValueError(f"sstr_uptake must be 0-4, got {uptake!r}")
    if correlate not in ("suspicious", "benign", "none"):
        raise ValueError(f"anatomic_correlate must be suspicious, benign or none, got "
                         f"{correlate!r}")
    if not 2 <= intense_from <= 4:
        raise ValueError(f"intense_from must be 2, 3 or 4, got {intense_from!r}")
    b = "B" if in_bone else "A"
    intense = u >= intense_from
    if correlate == "benign":
        return "1" if u <= 1 else f"2{b}"
    if correlate == "suspicious" and u <= 1:
        return "3D"
    if u == 0:
        return "1"
    if not site_typical:
        return "3C" if intense else f"2{b}"
    if not intense:  # equivocal at a typical site, correlate none or suspicious
        return f"3{b}"
    return "5" if correlate == "suspicious" else "4"


def _number(category: Any) -> float:
    return float(str(category)[0]) if isinstance(category, str) and category else float("nan")


def sstr_rads_lesions(cohort: Cohort, *, intense_from: int = 2, bone: str = "bone"
                      ) -> pd.DataFrame:
    """SSTR-RADS category of every lesion read on an SSTR PET scan, by every reader.

    Index tests only: the reads of a patient's follow-up and repeat scans
    (:func:`nethelpers.readings.repeat_scans`) are left out, from the lesions and from
    ``attrs["scans_read"]``, so that a patient counts once per scan type.

    Parameters
    ----------
    cohort : Cohort
        The loaded study.
    intense_from : int
        See :func:`lesion_category`.
    bone : str
        Sites starting with this are bone.

    Returns
    -------
    pandas.DataFrame
        ``patient_id, scan_id, tracer, modality, reader, lesion_id, site, truth, malignant,
        sstr_uptake, anatomic_correlate, site_typical, category, category_number`` (category
        NA when a field is missing). SSTR PET: a tracer of family ``sstr`` on a PET modality.
        ``attrs["note"]`` says which reads could not be scored and why;
        ``attrs["scans_read"]`` holds every SSTR PET scan read, as tuples of
        :data:`SCAN_KEYS` (including the scans read with no lesion, which have no row here).
    """
    reads = reads_joined(cohort)
    reads = reads[~reads["scan_id"].astype(str).isin(repeat_scans(cohort.scans))]
    pet = reads["modality"].astype(str).isin(cohort.vocabulary.pet_modalities)
    sstr_pet = reads["tracer"].astype(str).isin(cohort.vocabulary.sstr_tracers) & pet
    keep = sstr_pet & (reads["lesion_id"].astype(str) != NO_LESION)
    read = reads.loc[sstr_pet, list(SCAN_KEYS)].astype(str).drop_duplicates()
    scans_read = tuple(sorted(read.itertuples(index=False, name=None)))
    out = reads[keep].copy()
    for col in FIELDS:
        if col not in out:
            out[col] = pd.NA
    complete = out[list(FIELDS)].notna().all(axis=1)
    in_bone = out["site"].astype("string").str.startswith(bone).fillna(False).astype(bool)
    out["category"] = pd.Series(pd.NA, index=out.index, dtype="string")
    scored = out[complete]
    out.loc[complete, "category"] = [
        lesion_category(u, str(c), bool(t), bool(b), intense_from)
        for u, c, t, b in zip(scored["sstr_uptake"], scored["anatomic_correlate"],
                              scored["site_typical"], in_bone[complete], strict=True)]
    out["category_number"] = out["category"].map(_number).astype(float)
    missing = int((~complete).sum())
    note = ""
    if out.empty:
        note = "no lesion read on an SSTR PET scan (a somatostatin-receptor tracer on PET)"
    elif missing:
        note = (f"{missing} of {len(out)} SSTR PET lesion reads lack "
                f"{', '.join(FIELDS)}: not scored (SSTR-RADS needs the uptake scale, the "
                "anatomic correlate and whether the site is typical of NET)")
    cols = ["patient_id", "scan_id", "tracer", "modality", "reader", "lesion_id", "site",
            "truth", "malignant", *FIELDS, "category", "category_number"]
    out = out[cols].astype({"tracer": str, "modality": str}).reset_index(drop=True)
    out.attrs["note"] = note
    out.attrs["scans_read"] = scans_read
    return out


def sstr_rads_patients(lesions: pd.DataFrame, patients: pd.DataFrame,
                       scans_read: Iterable[tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Patient (scan) category: the highest lesion category on the scan by each reader.

    Every scan the reader read is a row: a scan read with no lesion (lesion_id ``none``) has
    no focus and is SSTR-RADS-1 (``n_lesions`` 0). Scans whose lesion reads all lack the
    fields get no category; the subcategories of the highest lesions are listed
    (``categories``).

    Parameters
    ----------
    lesions : pandas.DataFrame
        :func:`sstr_rads_lesions`.
    patients : pandas.DataFrame
        The cohort's patients (``disease_present``).
    scans_read : iterable of tuple, optional
        The scans read, as tuples of :data:`SCAN_KEYS`; default
        ``lesions.attrs["scans_read"]`` (set by :func:`sstr_rads_lesions`).

    Returns
    -------
    pandas.DataFrame
        ``patient_id, scan_id, tracer, modality, reader, category_number, categories,
        n_lesions, n_scored, disease_present``.

    Raises
    ------
    ValueError
        Without ``scans_read`` nor ``lesions.attrs["scans_read"]``: the scans read with no
        lesion would be left out silently.
    """
    if scans_read is None:
        if "scans_read" not in lesions.attrs:
            raise ValueError("sstr_rads_patients needs the scans read (scans_read, or the "
                             "lesions of sstr_rads_lesions): scans read with no lesion are "
                             "SSTR-RADS-1 and must be counted")
        scans_read = lesions.attrs["scans_read"]
    keys = list(SCAN_KEYS)
    groups = {tuple(str(v) for v in k): g for k, g in lesions.groupby(keys, sort=True)}
    every = sorted(set(groups) | {tuple(str(v) for v in k) for k in scans_read})
    empty = lesions.iloc[0:0]
    rows = []
    for key in every:
        g = groups.get(key, empty)
        scored = g[g["category"].notna()]
        if g.empty:  # read with no focus: SSTR-RADS-1
            top, cats = 1.0, ["1"]
        else:
            top = scored["category_number"].max() if len(scored) else float("nan")
            cats = sorted(set(scored.loc[scored["category_number"] == top, "category"]))
        rows.append(dict(zip(keys, key, strict=True)) | {
            "category_number": top, "categories": ", ".join(cats),
            "n_lesions": len(g), "n_scored": len(scored)})
    out = pd.DataFrame(rows, columns=[*keys, "category_number", "categories", "n_lesions",
                                      "n_scored"])
    out["category_number"] = out["category_number"].astype(float)
    truth = patients[["patient_id", "disease_present"]].astype({"patient_id": str})
    return out.merge(truth, on="patient_id", how="left")


def sstr_rads_counts(frame: pd.DataFrame, column: str, truth: str) -> pd.DataFrame:
    """Count of each category per tracer, modality and reader, with the malignant among them.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`sstr_rads_lesions` (``column="category"``, ``truth="malignant"``) or
        :func:`sstr_rads_patients` (``column="category_number"``,
        ``truth="disease_present"``).
    column : str
        The category column.
    truth : str
        The boolean truth column (counted in ``n_positive_truth``).

    Returns
    -------
    pandas.DataFrame
        ``tracer, modality, reader, category, n, n_positive_truth`` (tidy: one row per
        category present, plus ``not scored``).
    """
    data = frame.copy()
    if column == "category_number":
        data["category"] = data[column].map(
            lambda v: "not scored" if pd.isna(v) else str(int(v)))
    else:
        data["category"] = data[column].astype("string").fillna("not scored")
    data["_truth"] = data[truth].astype("boolean")
    out = (data.groupby(["tracer", "modality", "reader", "category"], sort=True)
           .agg(n=("category", "size"),
                n_positive_truth=("_truth", lambda t: int(t.fillna(False).sum())))
           .reset_index())
    order = {c: i for i, c in enumerate(["1", "2", *CATEGORIES[1:3], "3", *CATEGORIES[3:],
                                           "not scored"])}
    return out.sort_values(["tracer", "modality", "reader", "category"],
                           key=lambda s: s.map(order) if s.name == "category" else s
                           ).reset_index(drop=True)


def sstr_rads_accuracy(frame: pd.DataFrame, truth: str, *, cluster: str | None,
                       threshold: int = 4, **ci: Any) -> pd.DataFrame:
    """Accuracy of SSTR-RADS >= ``threshold`` as the positive test, per scan type and reader.

    Parameters
    ----------
    frame : pandas.DataFrame
        Lesions (``truth="malignant"``, ``cluster="patient_id"``) or patients
        (``truth="disease_present"``, ``cluster=None``).
    truth : str
        Boolean truth column.
    cluster : str or None
        Cluster column of the cluster-adjusted CIs (lesion level: ``patient_id``).
    threshold : int
        Smallest positive category number (4: SSTR-RADS 4 and 5).
    **ci
        ``method`` and ``level`` of :func:`nethelpers.readings.accuracy_by`.
    """
    from nethelpers.readings import accuracy_by

    data = frame.copy()
    data["test"] = pd.Series(data["category_number"] >= threshold, dtype="boolean")
    data.loc[data["category_number"].isna(), "test"] = pd.NA
    data[truth] = data[truth].astype("boolean")
    out = accuracy_by(data, ["tracer", "modality", "reader"], test="test", truth=truth,
                      cluster=cluster, **ci)
    return out.assign(test=f"SSTR-RADS >= {threshold}")
