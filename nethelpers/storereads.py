"""Reads recorded in the review reach the cohort: the ROI store's reads merged with the table.

The cohort's reads are the reads table together with each reader's newest saved reads in
the ROI store (one version per scan x reader; only reads.csv is read and its checksum
verified). A (scan, lesion, reader) in both with a different call, Krenning score or
confidence is a stated problem and **the store wins**: the store is the reader's own,
versioned record with who and when, written by the workstation; the table is a copy made by
hand (the copying this merge replaces), so when they differ the copy is the one out of date.
The problem row names both values, so a deliberate correction in the table is seen and can be
made in the review instead. Store reads carry no cause; ``note`` becomes ``cause`` only where
the table has none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nethelpers.initrank import cell_text
from nethelpers.rois import STORE_FORMAT, RoiStore, RoiStoreError

__all__ = ["COMPARED", "merge_store_reads", "store_reads"]

#: Columns whose difference between store and table is a stated problem.
COMPARED = ("call", "krenning", "confidence")
#: The reader's measured diameters (the axis ruler), carried from the store into the cohort.
MEASURED = ("long_axis_mm", "short_axis_mm")


def store_reads(root: str | Path, scan_ids: list[str] | None = None
                ) -> tuple[pd.DataFrame, list[str]]:
    """Each reader's newest saved reads per scan.

    Returns
    -------
    pandas.DataFrame
        ``scan_id, lesion_id, reader, call, krenning, confidence, cause, long_axis_mm,
        short_axis_mm, roi_version`` (text).
    list of str
        Problems (a version whose reads cannot be verified is left out and named).
    """
    store = RoiStore(root)
    frames, problems = [], []
    for scan_id in store.scans() if scan_ids is None else scan_ids:
        try:
            readers = store.readers(scan_id)
        except RoiStoreError as exc:
            problems.append(str(exc))
            continue
        for reader in readers:
            try:
                version, reads = store.load_reads(scan_id, reader=reader)
            except RoiStoreError as exc:
                problems.append(str(exc))
                continue
            reads = reads[reads["call"] != ""]
            if reads.empty:
                continue
            if version.store_format < STORE_FORMAT:
                problems.append(f"{scan_id}: the reads of {reader}'s v{version.version} were "
                                "saved in the single-set store (before readers had their own "
                                "sets): a shared set's calls, not an independent read, so "
                                "not used; the reader saves them again in the review to use "
                                "them")
                continue
            frames.append(reads.assign(scan_id=scan_id, reader=reader,
                                       cause=reads["note"],
                                       roi_version=str(version.version)))
    cols = ["scan_id", "lesion_id", "reader", "call", "krenning", "confidence", "cause",
            "long_axis_mm", "short_axis_mm", "roi_version"]
    if not frames:
        return pd.DataFrame(columns=cols), problems
    return pd.concat(frames, ignore_index=True)[cols], problems


def merge_store_reads(table: pd.DataFrame, stored: pd.DataFrame
                      ) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The reads table with the store's reads added (the store wins on a difference).

    Parameters
    ----------
    table : pandas.DataFrame
        The reads table (as loaded).
    stored : pandas.DataFrame
        :func:`store_reads`.

    Returns
    -------
    pandas.DataFrame
        The merged reads: the table's rows not in the store, then the store's rows (with the
        table's other columns, e.g. SSTR-RADS fields, kept where the row was in both).
    list of dict
        One ``{"id", "reason"}`` per row in both that differs, naming both values.
    """
    key = ["scan_id", "lesion_id", "reader"]
    if stored.empty:
        return table, []
    t = table.copy()
    for c in MEASURED:                       # the reader's diameters reach the cohort too
        if c not in t.columns:
            t[c] = np.nan
        t[c] = pd.to_numeric(t[c], errors="coerce")
    stored = stored.copy()
    for c in MEASURED:
        stored[c] = pd.to_numeric(stored[c], errors="coerce") if c in stored.columns else np.nan
    t_key = t[key].astype(str).agg("\x1f".join, axis=1)
    s_key = stored[key].astype(str).agg("\x1f".join, axis=1)
    both = t_key.isin(set(s_key))
    problems = []
    by_key = stored.set_index(s_key)
    for i in t.index[both]:
        new = by_key.loc[t_key[i]]
        old = {c: _text(t.at[i, c]) for c in COMPARED if c in t.columns}
        diff = {c: (old[c], _text(new[c])) for c in old if old[c] != _text(new[c])}
        if diff:
            problems.append({"id": f"{t.at[i, 'scan_id']}/{t.at[i, 'lesion_id']}/"
                                   f"{t.at[i, 'reader']}",
                             "reason": "reads table and ROI store differ ("
                             + ", ".join(f"{c}: table {a!r}, store {b!r}"
                                         for c, (a, b) in diff.items())
                             + "); the store's newest saved read is used"})
        for c in COMPARED:
            if c in t.columns:
                t.at[i, c] = _typed(new[c], t[c])
        for c in MEASURED:
            t.at[i, c] = new[c]
        if "cause" in t.columns and not _text(t.at[i, "cause"]) and _text(new["cause"]):
            t.at[i, "cause"] = new["cause"]
    added = stored[~s_key.isin(set(t_key))]
    extra = pd.DataFrame({c: (added[c] if c in added.columns else pd.NA) for c in t.columns})
    for c in COMPARED:
        if c in extra.columns:
            extra[c] = [_typed(v, t[c]) for v in extra[c]]
    # the table's rows keep their line numbers; a store row is named by its version, so a
    # problem found later points at the right place
    extra.index = [f"ROI store {r.scan_id}/{r.reader} v{r.roi_version}"
                   for r in added.itertuples()]
    out = pd.concat([t, extra.astype(t.dtypes.to_dict(), errors="ignore")])
    return out, problems


def _text(value: object) -> str:
    return cell_text(value).strip()


def _typed(value: object, like: pd.Series) -> object:
    """A store value (text) in the dtype of the table's column ('' -> missing)."""
    text = _text(value)
    if text == "":
        return pd.NA
    if pd.api.types.is_numeric_dtype(like.dtype):
        return int(float(text))
    return text

