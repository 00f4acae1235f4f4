"""The numbers a reader sees in a review session: one ROI's measures, the lesion table.

A mixin of :class:`nethelpers.review.ReviewSession`; the measures are those of
:func:`nethelpers.quantify.measure_rois` on the current scan's SUV and label map, so the
lesion table shows what a cohort quantification saves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from nethelpers.measures import voi_stats
from nethelpers.quantify import measure_rois
from nethelpers.rois import READ_COLUMNS

__all__ = ["NumbersMixin"]

#: The numbers of a lesion in the review's lesion table (one scale filled, see quantity).
_NUMBERS = ("suv_max", "suv_peak", "volume_ml", "tb_liver", "counts_max", "counts_peak")


class NumbersMixin:
    """Measures of the current scan's ROIs (mixin of ``ReviewSession``)."""

    current: str
    images: Any
    labels: np.ndarray
    table: pd.DataFrame
    reads: pd.DataFrame
    options: Any
    # provided by the session: known_lesions()

    def measure(self, label: int) -> dict[str, float]:
        """SUVmax, SUVpeak, volume and T/B (liver, spleen, shell) of one ROI of this scan.

        On counts-only SPECT the SUV values are NaN and ``counts_max``, ``counts_mean``,
        ``counts_peak`` hold its counts (the T/B ratios are the same either way).
        """
        table = self.table
        keep = table[(table["label"] == label) | table["roi"].isin(["liver", "spleen"])]
        rows = measure_rois(self.images.suv, self.labels, keep, self.images.spacing,
                            self.options, quantity=self.images.quantity)
        row = rows[rows["label"] == label].iloc[0]
        return {k: float(row[k]) for k in ("suv_max", "suv_mean", "suv_peak", "volume_ml",
                                           "tb_liver", "tb_spleen", "tb_shell", "counts_max",
                                           "counts_mean", "counts_peak")}

    def lesion_table(self) -> pd.DataFrame:
        """The widget's table: every lesion of the patient with its read and numbers here.

        Returns
        -------
        pandas.DataFrame
            ``lesion_id, label`` (0: no VOI on this scan), ``site, call, krenning,
            confidence, note``, ``suv_max, suv_peak, volume_ml, tb_liver, counts_max,
            counts_peak`` (SUV columns empty on counts-only SPECT, counts columns empty on
            SUV scans), ``on_scan``.
        """
        ids = sorted(set(self.known_lesions()) | set(self.reads["lesion_id"]))
        table = self.table.set_index("lesion_id")
        reads = self.reads.set_index("lesion_id")
        measured = (measure_rois(self.images.suv, self.labels, self.table, self.images.spacing,
                                 self.options, quantity=self.images.quantity).set_index("label")
                    if not self.table.empty else pd.DataFrame())        # one pass, all ROIs
        rows = []
        for lid in ids:
            row: dict[str, Any] = {"lesion_id": lid, "label": 0}
            row |= {c: (reads.at[lid, c] if lid in reads.index else "") for c in READ_COLUMNS[1:]}
            if lid in table.index:
                label = int(table.at[lid, "label"])
                row["label"] = label
                row |= {k: float(measured.at[label, k]) for k in _NUMBERS}
            row["on_scan"] = lid in table.index
            rows.append(row)
        cols = ["lesion_id", "label", *READ_COLUMNS[1:], *_NUMBERS, "on_scan"]
        return pd.DataFrame(rows, columns=cols)

    def lesion_centre(self, lesion_id: str) -> tuple[int, int, int]:
        """The voxel ``(z, y, x)`` of a lesion's SUVmax on this scan (to jump to it)."""
        rows = self.table[self.table["lesion_id"] == lesion_id]
        if rows.empty:
            raise KeyError(f"lesion {lesion_id} has no VOI on {self.current}")
        stats = voi_stats(self.images.suv, self.labels == int(rows["label"].iloc[0]),
                          self.images.spacing)
        return stats.max_index
