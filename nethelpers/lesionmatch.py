"""Propose which follow-up VOI is which baseline lesion; flag new and disappeared lesions.

Each lesion VOI of the two scans is placed at its point (:func:`nethelpers.reviewmarkers.voi_point`:
its centre of mass, or its SUVmax voxel when the SUV is given). The baseline points are mapped
into the follow-up's patient space by the registration of the two scans with the **baseline
as the FIXED scan and the follow-up as the MOVING scan**: :attr:`ScanRegistration.transform
<nethelpers.registration.ScanRegistration.transform>` then maps a baseline point to the
follow-up (the ITK convention), exactly for rigid and B-spline alike, so no inverse is
needed; ``None`` means the same patient coordinates (one frame of reference). Distances are
therefore in millimetres of the follow-up's patient space.

A baseline and a follow-up VOI can only be one lesion when their distance is within the
gate: ``match_max_mm`` (``response.match_max_mm``, 15 mm) plus the equivalent-sphere radius
of the larger VOI (a big lesion that shrinks or grows on one side moves its centre by up to
its size). Among the pairs within the gate, the assignment is one-to-one and globally optimal
(:func:`scipy.optimize.linear_sum_assignment`): the least total of the pairs' distances plus
half the largest gate for each VOI left unmatched -- greedy nearest-neighbour matching can
pair a lesion with its neighbour's successor and leave the neighbour unmatched, and "as many
pairs as possible" can swap two identities when a lesion disappears and a new one appears
beside a lesion that persists. VOIs left over are *new* (follow-up only) or
*gone* (baseline only). It is a proposal: the reader confirms it, first where ``id_agrees`` is
False (the reader's lesion IDs say otherwise) and where ``second_best_mm`` is close to
``distance_mm`` (an ambiguous match).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy.optimize import linear_sum_assignment

from nethelpers.configresponse import ResponseConfig
from nethelpers.reviewmarkers import voi_point

__all__ = ["DEFAULT_MATCH_MAX_MM", "MATCH_COLUMNS", "STATUSES", "match_lesions"]

#: Default of the gate's fixed part (mm): ``response.match_max_mm``.
DEFAULT_MATCH_MAX_MM: float = ResponseConfig.model_fields["match_max_mm"].default
#: The statuses of a row of :func:`match_lesions`.
STATUSES = ("matched", "new", "gone")
#: Columns of :func:`match_lesions`.
MATCH_COLUMNS = ["baseline_label", "baseline_lesion_id", "followup_label", "followup_lesion_id",
                 "distance_mm", "gate_mm", "status", "id_agrees", "second_best_mm"]
_TABLE_NEEDS = ("label", "roi", "lesion_id")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _lesions(labels: sitk.Image, table: pd.DataFrame, suv: np.ndarray | None,
             which: str) -> pd.DataFrame:
    """The lesion VOIs of one scan: label, lesion_id, point (LPS mm) and equivalent radius.

    Raises
    ------
    ValueError
        A table without the columns, or a lesion row whose label has no voxel.
    """
    missing = [c for c in _TABLE_NEEDS if c not in table.columns]
    if missing:
        raise ValueError(f"{which} ROI table: no column {', '.join(missing)}; a ROI table "
                         "of the ROI store has label, roi and lesion_id")
    if labels.GetDimension() != 3:
        raise ValueError(f"{which} label map: {labels.GetDimension()}-D; a 3-D label map "
                         "on the PET grid is needed")
    rows = table.loc[table["roi"].map(_text) == "lesion"]
    array = sitk.GetArrayViewFromImage(labels)
    counts = np.bincount(array.ravel().astype(np.int64)) if array.size else np.zeros(1, int)
    voxel_mm3 = float(np.prod(labels.GetSpacing()))
    out = []
    ids = rows["lesion_id"].map(_text)
    for label, lesion_id in zip(rows["label"].astype(int), ids, strict=True):
        point = voi_point(labels, label, suv=suv)
        if point is None:
            raise ValueError(f"{which} ROI table: label {label} (lesion {lesion_id or '-'}) "
                             "has no voxel in the label map; redraw the VOI or delete its row")
        volume = float(counts[label]) * voxel_mm3
        out.append({"label": label, "lesion_id": lesion_id, "point": np.asarray(point),
                    "radius_mm": (3.0 * volume / (4.0 * math.pi)) ** (1.0 / 3.0)})
    return pd.DataFrame(out, columns=["label", "lesion_id", "point", "radius_mm"])


def _mapped(points: list[np.ndarray], transform: sitk.Transform | None) -> np.ndarray:
    """Baseline points in the follow-up's patient space, shape (n, 3)."""
    if transform is None:
        return np.asarray(points, dtype=float).reshape(-1, 3)
    if not isinstance(transform, sitk.Transform):
        raise TypeError("transform: a SimpleITK.Transform mapping baseline points to the "
                        "follow-up (ScanRegistration.transform, baseline fixed), or None")
    return np.array([transform.TransformPoint([float(v) for v in p]) for p in points],
                    dtype=float).reshape(-1, 3)


def _assign(distance: np.ndarray, gate: np.ndarray) -> list[tuple[int, int]]:
    """One-to-one pairs within the gate with the least total cost.

    The cost is the pairs' distances plus, for every VOI left unmatched (gone or new), half
    the largest gate. An isolated pair within the gate therefore always matches (its
    distance is below the two VOIs' unmatched cost), but a lesion that stays put is never
    traded for two long pairs: when a lesion disappears and a new one appears beside a
    lesion that persists, pairing the persistent lesion with itself and leaving the other
    two gone and new costs less than two pairs across the neighbours.
    """
    n, m = distance.shape
    if n == 0 or m == 0:
        return []
    allowed = distance <= gate
    unmatched = float(gate.max()) / 2.0
    big = 4.0 * (float(np.where(allowed, distance, 0.0).sum()) + (n + m) * unmatched) + 1.0
    cost = np.full((n + m, m + n), big)
    cost[:n, :m] = np.where(allowed, distance, big)
    cost[:n, m:][np.eye(n, dtype=bool)] = unmatched      # baseline i: gone
    cost[n:, :m][np.eye(m, dtype=bool)] = unmatched      # follow-up j: new
    cost[n:, m:] = 0.0
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True)
            if i < n and j < m and allowed[i, j]]


def _nearest(values: np.ndarray) -> float:
    return float(values.min()) if values.size else math.nan


def match_lesions(baseline_labels: sitk.Image, baseline_table: pd.DataFrame,
                  followup_labels: sitk.Image, followup_table: pd.DataFrame,
                  transform: sitk.Transform | None = None, *,
                  max_mm: float = DEFAULT_MATCH_MAX_MM,
                  baseline_suv: np.ndarray | None = None,
                  followup_suv: np.ndarray | None = None) -> pd.DataFrame:
    """Propose the follow-up VOI of each baseline lesion and the reverse; flag new and gone.

    Parameters
    ----------
    baseline_labels, followup_labels : SimpleITK.Image
        The two scans' label maps (each on its own grid).
    baseline_table, followup_table : pandas.DataFrame
        Their ROI tables (``label``, ``roi``, ``lesion_id`` as the ROI store keeps them);
        only ``roi == "lesion"`` rows take part.
    transform : SimpleITK.Transform, optional
        Maps a baseline point (LPS mm) to the follow-up: ``ScanRegistration.transform`` of
        the registration with the baseline FIXED and the follow-up MOVING. None: the same
        patient coordinates.
    max_mm : float
        Fixed part of the gate (``response.match_max_mm``); a pair farther apart than this
        plus the equivalent-sphere radius of the larger VOI is never matched.
    baseline_suv, followup_suv : numpy.ndarray, optional
        SUV volumes ``(z, y, x)`` on the label maps' grids: the points are then the SUVmax
        voxels instead of the centres of mass.

    Returns
    -------
    pandas.DataFrame
        :data:`MATCH_COLUMNS`, one row per baseline VOI (in label order: matched or gone),
        then one per unmatched follow-up VOI (new). ``distance_mm`` and ``gate_mm`` are
        the matched pair's (NaN otherwise). ``id_agrees`` (nullable boolean): matched, both
        IDs given -> the IDs are equal; gone (new) with an ID -> the ID is absent from the
        follow-up (baseline) table, i.e. the reader did not link it either; NA without
        IDs. ``second_best_mm``: matched -> the distance to the nearest other candidate of
        either VOI; gone/new -> the distance to the nearest VOI of the other scan (NaN
        when there is none).

    Raises
    ------
    ValueError
        A ROI table without its columns, or a lesion row without voxels.
    """
    if not max_mm > 0:
        raise ValueError(f"max_mm {max_mm}: must be > 0 (response.match_max_mm)")
    base = _lesions(baseline_labels, baseline_table, baseline_suv, "baseline")
    follow = _lesions(followup_labels, followup_table, followup_suv, "follow-up")
    b_points = _mapped(list(base["point"]), transform)
    f_points = np.asarray(list(follow["point"]), dtype=float).reshape(-1, 3)
    distance = np.linalg.norm(b_points[:, None, :] - f_points[None, :, :], axis=2)
    gate = max_mm + np.maximum.outer(base["radius_mm"].to_numpy(float),
                                     follow["radius_mm"].to_numpy(float))
    pairs = dict(_assign(distance, gate.reshape(distance.shape)))
    partner_of = {j: i for i, j in pairs.items()}
    base_ids = {x for x in base["lesion_id"] if x}
    follow_ids = {x for x in follow["lesion_id"] if x}
    rows = []
    for i, b in base.iterrows():
        row = {"baseline_label": b["label"], "baseline_lesion_id": b["lesion_id"]}
        j = pairs.get(i)
        if j is None:
            rows.append({**row, "followup_label": pd.NA, "followup_lesion_id": "",
                         "status": "gone", "second_best_mm": _nearest(distance[i]),
                         "id_agrees": (b["lesion_id"] not in follow_ids) if b["lesion_id"]
                         else pd.NA})
            continue
        f = follow.iloc[j]
        others = np.concatenate([np.delete(distance[i], j), np.delete(distance[:, j], i)])
        rows.append({**row, "followup_label": f["label"], "followup_lesion_id": f["lesion_id"],
                     "distance_mm": distance[i, j], "gate_mm": gate[i, j], "status": "matched",
                     "second_best_mm": _nearest(others),
                     "id_agrees": (b["lesion_id"] == f["lesion_id"])
                     if b["lesion_id"] and f["lesion_id"] else pd.NA})
    for j, f in follow.iterrows():
        if j in partner_of:
            continue
        rows.append({"baseline_label": pd.NA, "baseline_lesion_id": "",
                     "followup_label": f["label"], "followup_lesion_id": f["lesion_id"],
                     "status": "new", "second_best_mm": _nearest(distance[:, j]),
                     "id_agrees": (f["lesion_id"] not in base_ids) if f["lesion_id"]
                     else pd.NA})
    return _typed(pd.DataFrame(rows, columns=MATCH_COLUMNS))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Stable dtypes, also for an empty result."""
    return frame.astype({"baseline_label": "Int64", "followup_label": "Int64",
                         "baseline_lesion_id": str, "followup_lesion_id": str,
                         "distance_mm": float, "gate_mm": float, "status": str,
                         "id_agrees": "boolean", "second_best_mm": float})
