"""The editing actions of a review session: lesions by a click, reference spheres, brush edits.

A mixin of :class:`nethelpers.review.ReviewSession` (which holds the scans, the undo stack and
the saves); every action here changes only the current scan's state, after a checkpoint.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nethelpers.measures import voi_stats
from nethelpers.reviewscan import LesionVoi
from nethelpers.voi import LIVER_SPHERE_RADIUS_MM, grow_from_click, sphere_mask

__all__ = ["REFERENCE_LABELS", "SPLEEN_SPHERE_RADIUS_MM", "EditingMixin"]

#: Spleen reference: a 2 cm sphere.
SPLEEN_SPHERE_RADIUS_MM = 10.0
#: Preferred label of each reference region.
REFERENCE_LABELS = {"liver": 1, "spleen": 2, "blood_pool": 3, "muscle": 4}
_FIRST_LESION_LABEL = 11


class EditingMixin:
    """Drawing and editing the current scan's ROIs (mixin of ``ReviewSession``)."""

    reader: str
    table: pd.DataFrame
    labels: np.ndarray
    images: Any
    current: str
    _cur: Any
    # provided by the session: _checkpoint(), undo(), next_lesion_id(), measure(label)

    def _new_row(self, label: int, roi: str, lesion_id: str, method: str) -> pd.DataFrame:
        row = {"label": label, "roi": roi, "lesion_id": lesion_id, "method": method,
               "reader": self.reader, "created": ""}
        return pd.DataFrame([row])

    def add_lesion_at(self, seed_zyx: tuple[int, int, int], lesion_id: str | None = None,
                      fraction: float | None = None) -> LesionVoi:
        """Add a lesion VOI grown from a click (background-adapted threshold, bounded).

        Parameters
        ----------
        seed_zyx : tuple of int
            The clicked voxel of the PET.
        lesion_id : str, optional
            The lesion (e.g. one recorded on another scan); default a new ID.
        fraction : float, optional
            Position of the cut between the local background and SUVmax; default 0.5
            (see :func:`nethelpers.voi.grow_from_click`).

        Returns
        -------
        LesionVoi
            Its label and measures.
        """
        lesion_id = lesion_id or self.next_lesion_id()
        if (self.table["lesion_id"] == lesion_id).any():
            raise ValueError(f"lesion {lesion_id} already has a VOI on {self.current}; delete "
                             "it first or edit it with the brush")
        grown = grow_from_click(self.images.suv, seed_zyx, self.images.spacing,
                                fraction=fraction or 0.5, exclude=self.labels > 0,
                                min_contrast=self.params.review.min_contrast,
                                unit=self.images.quantity)
        label = self.free_label()
        self._checkpoint()
        self._cur.state.labels[grown.mask] = label
        self._cur.state.table = pd.concat(
            [self.table, self._new_row(label, "lesion", lesion_id, "click-grow")],
            ignore_index=True)
        measured = self.measure(label)
        return LesionVoi(lesion_id, label, measured["suv_max"], measured["suv_peak"],
                         measured["volume_ml"], measured["tb_liver"], grown.touches_bound,
                         self.images.quantity, measured["counts_max"], measured["counts_peak"])

    def place_reference(self, roi: str, center_zyx: tuple[float, float, float],
                        radius_mm: float | None = None) -> dict[str, float]:
        """Place (or move) a reference sphere: liver 3 cm, spleen 2 cm by default.

        Returns
        -------
        dict
            ``suv_mean``, ``suv_sd``, ``volume_ml`` of the sphere (over voxels not already
            in another ROI).
        """
        if roi not in REFERENCE_LABELS:
            raise ValueError(f"reference region {roi!r}: one of {', '.join(REFERENCE_LABELS)}")
        radius = radius_mm or (LIVER_SPHERE_RADIUS_MM if roi == "liver"
                               else SPLEEN_SPHERE_RADIUS_MM)
        rows = self.table[self.table["roi"] == roi]
        if not rows.empty:
            label = int(rows["label"].iloc[0])         # the region's own label, whatever it is
        else:
            used = set(self.table["label"].astype(int))
            preferred = REFERENCE_LABELS[roi]
            label = preferred if preferred not in used else next(
                v for v in range(1, 65536) if v not in used)
        self._checkpoint()
        state = self._cur.state
        state.labels[state.labels == label] = 0
        ball = sphere_mask(state.labels.shape, self.images.spacing, center_zyx, radius)
        ball &= state.labels == 0
        if not ball.any():
            self.undo()
            raise ValueError(f"the {roi} sphere at {tuple(center_zyx)} has no free voxel")
        state.labels[ball] = label
        state.table.loc[state.table["roi"] == roi, ["reader", "method", "created"]] = [
            self.reader, "sphere", ""]                      # moved: now this reader's sphere
        if not (state.table["roi"] == roi).any():
            state.table = pd.concat([state.table, self._new_row(label, roi, "", "sphere")],
                                    ignore_index=True).sort_values("label", kind="stable")
            state.table = state.table.reset_index(drop=True)
        stats = voi_stats(self.images.suv, ball, self.images.spacing)
        return {"suv_mean": stats.suv_mean, "suv_sd": stats.suv_sd,
                "volume_ml": stats.volume_ml}

    def delete(self, lesion_id: str | None = None, roi: str | None = None) -> None:
        """Delete a lesion's VOI (its read stays) or a reference region."""
        table = self.table
        rows = table[table["lesion_id"] == lesion_id] if lesion_id else table[table["roi"] == roi]
        if rows.empty:
            raise KeyError(f"no ROI for {lesion_id or roi} on {self.current}")
        label = int(rows["label"].iloc[0])
        self._checkpoint()
        state = self._cur.state
        state.labels[state.labels == label] = 0
        state.table = table[table["label"] != label].reset_index(drop=True)

    def set_labels(self, labels: np.ndarray, lesion_id: str | None = None) -> None:
        """Take a label map edited in the viewer (brush, eraser) as the new state.

        Parameters
        ----------
        labels : numpy.ndarray
            The edited map (same shape).
        lesion_id : str, optional
            For a label painted that has no row yet: the lesion it draws (a manual VOI).
        """
        if labels.shape != self.labels.shape:
            raise ValueError(f"edited labels {labels.shape} differ from {self.labels.shape}")
        present = set(np.unique(labels).tolist()) - {0}
        unknown = sorted(present - set(self.table["label"]))
        changed = np.unique(np.concatenate([self.labels[labels != self.labels],
                                            labels[labels != self.labels]]))
        changed = set(changed.tolist()) - {0}
        self._checkpoint()
        state = self._cur.state
        state.labels = labels.astype(np.uint16, copy=True)
        for label in unknown:
            lid = lesion_id or self.next_lesion_id()
            state.table = pd.concat([state.table, self._new_row(label, "lesion", lid, "manual")],
                                    ignore_index=True)
            lesion_id = None
        for label in set(state.table["label"]) - present:     # erased completely
            state.table = state.table[state.table["label"] != label]
        state.table = state.table.sort_values("label", kind="stable").reset_index(drop=True)
        edited = state.table["label"].isin(changed) & state.table["roi"].eq("lesion")
        state.table.loc[edited, "method"] = "manual"        # only the VOIs the brush touched

    def free_label(self) -> int:
        """The lowest label from 11 up that no ROI of the current scan uses (a new lesion)."""
        used = set(self.table["label"].astype(int))
        label = _FIRST_LESION_LABEL
        while label in used:
            label += 1
        return label

