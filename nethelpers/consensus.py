"""The consensus read: the readers' calls where they agree, the adjudicator's where they do not.

Rules (stated in the report):

- a lesion on a scan is **agreed** when every independent reader read it and their values of
  the compared fields (``call`` and ``krenning`` by default) are equal: the consensus adopts
  them automatically (``basis = "agreement"``);
- otherwise (different values, or a reader who did not read the lesion) it is a
  **disagreement**: only the adjudicator's decision fills it (``basis = "adjudicated"``).
  A disagreement without a decision is listed in ``unresolved`` and has no consensus row -
  never silently picked;
- the other columns of a consensus row (confidence, cause, SSTR-RADS fields, ...) come from
  the first listed reader whose call equals the consensus call;
- a ``none`` row (scan read, nothing called) is adopted when every reader has one.

The consensus is saved as the reader named once in the parameters (``readers.consensus``,
default ``consensus``): in the reads table, and in the ROI store with the adjudicator as
``saved_by`` and the adjudicated lesions recorded (:func:`save_consensus`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nethelpers.initrank import cell_text
from nethelpers.roitables import CALLS
from nethelpers.tablespec import NO_LESION

__all__ = ["CONSENSUS_READER", "Consensus", "make_consensus", "save_consensus"]

#: Default name of the consensus reader (``readers.consensus`` in the parameters).
CONSENSUS_READER = "consensus"


@dataclass
class Consensus:
    """A consensus read and what it took.

    Attributes
    ----------
    reads : pandas.DataFrame
        The consensus rows: the key columns, ``reader`` (the consensus name), the read
        columns, ``basis`` (agreement / adjudicated) and ``adjudicator``.
    disagreements : pandas.DataFrame
        Every disagreement: the key, ``<field>_<reader>`` per compared field and reader.
    unresolved : pandas.DataFrame
        The disagreements without a decision (no consensus row).
    adjudicator : str
        Who decided ('' when nothing needed deciding).
    """

    reads: pd.DataFrame
    disagreements: pd.DataFrame
    unresolved: pd.DataFrame
    adjudicator: str


def _text(value: Any) -> str:
    return cell_text(value).strip()


def make_consensus(reads: pd.DataFrame, readers: Sequence[str], *,
                   decisions: Mapping[Any, Mapping[str, Any]] | None = None,
                   adjudicator: str = "", name: str = CONSENSUS_READER,
                   fields: Sequence[str] = ("call", "krenning")) -> Consensus:
    """Build the consensus of independent readers (see the module text for the rules).

    Parameters
    ----------
    reads : pandas.DataFrame
        One row per (``scan_id``,) ``lesion_id`` and ``reader``; other readers' rows (and
        earlier consensus rows) are ignored.
    readers : sequence of str
        The independent readers (at least two).
    decisions : mapping, optional
        The adjudicator's decisions on disagreements: key ``(scan_id, lesion_id)`` (or
        ``lesion_id`` when the reads have no ``scan_id``) -> ``{"call": ..., "krenning": ...}``
        (missing fields are empty).
    adjudicator : str
        Who decided; required with decisions.
    name : str
        The consensus reader's name (``readers.consensus``).
    fields : sequence of str
        The fields that must agree.

    Returns
    -------
    Consensus

    Raises
    ------
    ValueError
        Fewer than two readers, the consensus among them, decisions without an adjudicator,
        a decision on a lesion the readers agree on or that nobody read, or a call not
        positive / negative / equivocal.
    """
    readers = [str(r) for r in readers]
    if len(readers) < 2 or name in readers:
        raise ValueError(f"a consensus needs two or more independent readers (not {name!r}); "
                         f"got {readers}")
    decisions = dict(decisions or {})
    if decisions and not str(adjudicator).strip():
        raise ValueError("name the adjudicator who made the decisions (adjudicator=...)")
    key = [c for c in ("scan_id", "lesion_id") if c in reads.columns]
    mine = reads[reads["reader"].astype(str).isin(readers)].copy()
    for col in mine.columns:
        if col not in key and col != "reader":
            mine[col] = mine[col].map(_text)
    columns = [c for c in mine.columns if c not in (*key, "reader", "basis", "adjudicator")]
    rows, disagreements = [], []
    for k, group in mine.groupby(key, sort=True):
        k = k if isinstance(k, tuple) else (k,)
        by = {r: g.iloc[0] for r, g in group.groupby("reader")}
        ident = dict(zip(key, k, strict=True))
        lookup = k if len(k) > 1 else k[0]
        if ident["lesion_id"] == NO_LESION:
            if set(by) == set(readers):
                rows.append(ident | {c: by[readers[0]][c] for c in columns}
                            | {"basis": "agreement", "adjudicator": ""})
            continue
        values = {r: tuple(by[r].get(f, "") for f in fields) for r in by}
        agreed = set(by) == set(readers) and len(set(values.values())) == 1
        if agreed:
            if lookup in decisions:
                raise ValueError(f"{ident}: the readers agree; there is nothing to decide")
            chosen, basis = dict(zip(fields, values[readers[0]], strict=True)), "agreement"
        else:
            disagreements.append(ident | {f"{f}_{r}": (by[r].get(f, "") if r in by else "")
                                          for f in fields for r in readers})
            if lookup not in decisions:
                continue
            decision = decisions.pop(lookup)
            chosen = {f: _text(decision.get(f, "")) for f in fields}
            if chosen.get("call", "positive") not in CALLS:
                raise ValueError(f"{ident}: call {chosen['call']!r}; one of {', '.join(CALLS)}")
            basis = "adjudicated"
        source = next((by[r] for r in readers if r in by and by[r].get("call") ==
                       chosen.get("call")), None)
        extra = {c: (source[c] if source is not None else "") for c in columns if c not in fields}
        rows.append(ident | extra | chosen | {"basis": basis, "adjudicator":
                                              str(adjudicator) if basis == "adjudicated" else ""})
    if decisions:
        raise ValueError(f"decision(s) on {sorted(map(str, decisions))}: no reader read them")
    out = pd.DataFrame(rows, columns=[*key, *columns, "basis", "adjudicator"])
    out.insert(len(key), "reader", name)
    dis = pd.DataFrame(disagreements, columns=[*key, *(f"{f}_{r}" for f in fields
                                                      for r in readers)])
    decided = set(map(tuple, out.loc[out["basis"] == "adjudicated", key].to_numpy().tolist()))
    # a boolean Series, never a bare list: an empty list would select no *columns*
    open_ = pd.Series([tuple(v) not in decided for v in dis[key].to_numpy().tolist()],
                      index=dis.index, dtype=bool)
    unresolved = dis.loc[open_]
    return Consensus(out, dis, unresolved.reset_index(drop=True),
                     str(adjudicator) if decided else "")


def save_consensus(store: Any, scan_id: str, consensus: Consensus, *, readers: Sequence[str],
                   labels: Any, table: pd.DataFrame | None = None,
                   name: str = CONSENSUS_READER, parent: int | None = None) -> Any:
    """Save a scan's consensus reads as a version of the consensus set in the ROI store.

    Parameters
    ----------
    store : nethelpers.rois.RoiStore
        The ROI store.
    scan_id : str
        The scan.
    consensus : Consensus
        :func:`make_consensus` (rows of other scans are ignored).
    readers : sequence of str
        The readers it was made from (recorded).
    labels : SimpleITK.Image
        The consensus VOIs' label map (e.g. an adjudicator's, or an empty map on the PET grid).
    table : pandas.DataFrame, optional
        Its ROI table (default: none, for an empty map).
    name : str
        The consensus reader (``readers.consensus``).
    parent : int, optional
        The consensus version the adjudicator started from (conflict check).

    Returns
    -------
    nethelpers.rois.RoiVersion
        The saved version: ``reader`` the consensus, ``saved_by`` the adjudicator,
        ``consensus`` the readers and the adjudicated lesions.
    """
    from nethelpers.rois import READ_COLUMNS, table_from_rows

    rows = consensus.reads
    if "scan_id" in rows.columns:
        rows = rows[rows["scan_id"] == scan_id]
    rows = rows[rows["lesion_id"] != NO_LESION]
    reads = pd.DataFrame({c: rows[c] if c in rows.columns else "" for c in READ_COLUMNS})
    adjudicated = sorted(rows.loc[rows["basis"] == "adjudicated", "lesion_id"])
    who = consensus.adjudicator or "agreement"
    return store.save(scan_id, labels, table if table is not None else table_from_rows([]),
                      reader=name, saved_by=who, parent=parent, reads=reads,
                      note=f"consensus of {', '.join(readers)}",
                      consensus={"readers": list(readers), "adjudicator": consensus.adjudicator,
                                 "adjudicated": adjudicated})
