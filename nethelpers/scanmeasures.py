"""Every ROI of one scan measured: the rows of ``measurements.csv`` (and ``nethelpers measure``).

:func:`measure_rois` takes an SUV volume, a label map on its grid and the ROI table, and
gives one row per ROI: SUVmax, SUVmean, SD, SUVpeak, volume, MTV at a fraction of SUVmax
and at the PERCIST liver threshold, TLA, SUL and T/B against the liver and spleen
references and a shell of surrounding normal tissue; the definitions are in
:mod:`nethelpers.measures`. :func:`labels_on` brings a label map onto the PET grid and
:func:`sul_factor` turns the SUV into SUL. The settings are :class:`QuantifyOptions`.

Counts-only SPECT (no activity calibration) is measured on its counts with
``quantity="counts"``: what does not depend on the scale is kept (volumes, MTV at a fraction
of the VOI's maximum, the PERCIST MTV -- its threshold is linear in the image --, and the
ratios T/B liver, spleen and shell), the raw counts statistics go to their own columns
(:data:`COUNTS_COLUMNS`: ``counts_max``, ``counts_mean``, ...), and every SUV, SUL and TLA
column stays empty: never an SUV pretending. The ``quantity`` column says which scale a row
is on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import ndimage

from nethelpers.dicom.refseries import same_grid
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.measures import (
    PEAK_RADIUS_MM,
    percist_threshold,
    suv_peak,
    threshold_volume,
    voi_stats,
)
from nethelpers.voi import grow_box, shell_mask

__all__ = ["COUNTS_COLUMNS", "GEOMETRY_TOLERANCE_MM", "MEASUREMENT_COLUMNS", "QUANTITIES",
           "QuantifyOptions", "labels_on", "measure_rois", "sul_factor"]

#: Columns of measurements.csv, in order (scores from nethelpers.scores follow).
MEASUREMENT_COLUMNS = (
    "patient_id", "scan_id", "tracer", "modality", "roi", "label", "lesion_id", "method",
    "reader", "roi_version", "quantity", "n_voxels", "volume_ml", "suv_max", "suv_mean",
    "suv_sd", "suv_peak", "mtv_ml", "suv_mean_mtv", "tla", "mtv_percist_ml", "tla_percist",
    "sul_max", "sul_mean", "sul_peak", "liver_suv_mean", "spleen_suv_mean",
    "shell_suv_mean", "shell_volume_ml", "tb_liver", "tb_spleen", "tb_shell",
    "counts_max", "counts_mean", "counts_sd", "counts_peak", "liver_counts_mean",
    "spleen_counts_mean", "shell_counts_mean", "note",
)
#: The scales a scan is measured on: SUV (PET, quantitative SPECT) or counts (counts-only
#: SPECT, measured by its ratios).
QUANTITIES = ("SUV", "counts")
#: Counts-only SPECT: each SUV statistic's counts column (the SUV column stays empty).
COUNTS_COLUMNS = {"suv_max": "counts_max", "suv_mean": "counts_mean", "suv_sd": "counts_sd",
                  "suv_peak": "counts_peak", "liver_suv_mean": "liver_counts_mean",
                  "spleen_suv_mean": "spleen_counts_mean",
                  "shell_suv_mean": "shell_counts_mean"}
#: Columns in SUV units with no counts equivalent (empty for counts-only SPECT).
_SUV_ONLY = ("suv_mean_mtv", "tla", "tla_percist", "sul_max", "sul_mean", "sul_peak")
#: Labels may differ from the PET grid by this much (mm; direction cosines / 1000).
GEOMETRY_TOLERANCE_MM = 1e-3


@dataclass(frozen=True)
class QuantifyOptions:
    """Measurement settings (the ``quantify`` section of the parameters; see config.py)."""

    norm: str = "bw"
    sul_norm: str = "lbm"
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE
    #: radionuclide -> hours (a mapping, kept as sorted pairs); empty: the defaults
    max_decay_h: Mapping[str, float] | tuple[tuple[str, float], ...] = ()
    max_decay_half_lives: float | None = None
    peak_radius_mm: float = PEAK_RADIUS_MM
    mtv_fraction: float = 0.41
    percist_mean_factor: float = 1.5
    percist_sd_factor: float = 2.0
    shell_gap_mm: float = 5.0
    shell_width_mm: float = 10.0
    shell_hot_factor: float | None = 1.5
    shell_min_suv: float = 0.1
    #: counts-only SPECT: the shell leaves out voxels below this x the liver reference mean
    #: (air; SUV 0.1 against an SSTR liver SUVmean of about 5); without a liver, voxels <= 0
    shell_min_liver_fraction: float = 0.02
    shell_min_ml: float = 1.0

    def __post_init__(self) -> None:
        # a plain, sorted tuple of pairs: options are hashed and sent to dask workers
        object.__setattr__(self, "max_decay_h", tuple(sorted(dict(self.max_decay_h).items())))

    @classmethod
    def from_config(cls, config: Any) -> QuantifyOptions:
        """Options from a :class:`nethelpers.config.QuantifyConfig`."""
        return cls(**{k: getattr(config, k) for k in cls.__dataclass_fields__})

    def suv_options(self) -> dict[str, Any]:
        """The SUV conversion's settings (decay window), as keyword arguments."""
        return {"max_decay_h": dict(self.max_decay_h),
                "max_decay_half_lives": self.max_decay_half_lives}


def labels_on(pet: sitk.Image, labels: sitk.Image, table: pd.DataFrame | None = None
              ) -> tuple[np.ndarray, str]:
    """The label map on the PET grid: as it is, or resampled (nearest neighbour) with a note.

    Parameters
    ----------
    pet : SimpleITK.Image
        The SUV image.
    labels : SimpleITK.Image
        The ROI label map.
    table : pandas.DataFrame, optional
        The ROI table; resampled ROIs that all vanish are an error.

    Returns
    -------
    numpy.ndarray
        ``(z, y, x)`` labels on the PET grid.
    str
        Empty, or a note that the labels were resampled.

    Raises
    ------
    ValueError
        The label map, resampled, holds none of its ROIs: it does not overlap the PET
        series (drawn on another scan?).
    """
    if same_grid(pet, labels, tolerance_mm=GEOMETRY_TOLERANCE_MM, direction_tolerance=1e-6):
        return sitk.GetArrayFromImage(labels), ""
    out = sitk.GetArrayFromImage(sitk.Resample(labels, pet, sitk.Transform(),
                                               sitk.sitkNearestNeighbor, 0, labels.GetPixelID()))
    wanted = set(table["label"].astype(int)) if table is not None else set()
    if wanted and not wanted & set(np.unique(out).tolist()):
        raise ValueError(
            "the ROI label map does not overlap this PET series (grid "
            f"{labels.GetSize()} at {tuple(round(v, 1) for v in labels.GetOrigin())} vs PET "
            f"{pet.GetSize()} at {tuple(round(v, 1) for v in pet.GetOrigin())}); were the "
            "ROIs drawn on another scan? Draw them on this scan's PET")
    return out, "ROIs resampled onto the PET grid (nearest neighbour)"


def _reference(suv: np.ndarray, labels: np.ndarray, boxes: list, table: pd.DataFrame,
               roi: str, spacing: Sequence[float]) -> tuple[float, float]:
    rows = table[table["roi"] == roi]
    if rows.empty:
        return float("nan"), float("nan")
    label = int(rows["label"].iloc[0])
    box = boxes[label - 1] if label <= len(boxes) else None
    if box is None:
        return float("nan"), float("nan")
    stats = voi_stats(suv[box], labels[box] == label, spacing)
    return stats.suv_mean, stats.suv_sd


def _ratio(a: float, b: float) -> float:
    return a / b if np.isfinite(a) and np.isfinite(b) and b > 0 else float("nan")


def measure_rois(suv: np.ndarray, labels: np.ndarray, table: pd.DataFrame,
                 spacing: Sequence[float], options: QuantifyOptions = QuantifyOptions(),
                 sul_factor: float = float("nan"), quantity: str = "SUV") -> pd.DataFrame:
    """Measure every ROI of one scan.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume ``(z, y, x)`` (counts with ``quantity="counts"``).
    labels : numpy.ndarray
        Label map on the same grid.
    table : pandas.DataFrame
        ROI table (:data:`nethelpers.rois.TABLE_COLUMNS`).
    spacing : sequence of float
        ``(sx, sy, sz)`` in mm.
    options : QuantifyOptions
        Thresholds and shell settings.
    sul_factor : float
        SUL / SUV (lean body mass / body weight); NaN leaves the sul_* columns empty.
    quantity : {"SUV", "counts"}
        The image's scale. ``"counts"`` (counts-only SPECT): the statistics go to the
        counts columns (:data:`COUNTS_COLUMNS`), the SUV, SUL and TLA columns stay empty,
        volumes, MTVs and T/B ratios are kept (they do not depend on the scale), and the
        shell's air cut-off is ``shell_min_liver_fraction`` x the liver mean.

    Returns
    -------
    pandas.DataFrame
        One row per ROI with the measurement columns from ``roi`` to ``note`` (the
        scan's identifiers are added by the caller).

    Raises
    ------
    ValueError
        ``quantity`` is not one of :data:`QUANTITIES`.
    """
    if quantity not in QUANTITIES:
        raise ValueError(f"quantity {quantity!r}: one of {', '.join(QUANTITIES)}")
    boxes = ndimage.find_objects(labels)        # one pass: every label's bounding box
    liver_mean, liver_sd = _reference(suv, labels, boxes, table, "liver", spacing)
    spleen_mean, _ = _reference(suv, labels, boxes, table, "spleen", spacing)
    hot_above = (options.shell_hot_factor * liver_mean
                 if options.shell_hot_factor is not None and np.isfinite(liver_mean) else None)
    min_value = _shell_floor(options, quantity, liver_mean)
    percist = percist_threshold(liver_mean, liver_sd, mean_factor=options.percist_mean_factor,
                                sd_factor=options.percist_sd_factor)
    lesion_labels = table.loc[table["roi"] == "lesion", "label"].astype(int).tolist()
    voxel_ml = float(np.prod(spacing)) / 1000.0
    sp_zyx = np.asarray(spacing, dtype=float)[::-1]
    # crops hold every voxel a measure looks at: the peak sphere, and the shell with the
    # other lesions within the shell's gap of it
    reach_mm = max(options.peak_radius_mm, 2 * options.shell_gap_mm + options.shell_width_mm)
    margin = np.ceil(reach_mm / sp_zyx).astype(int) + 2
    rows = []
    for rec in table.itertuples(index=False):
        label = int(rec.label)
        row: dict[str, Any] = {"roi": rec.roi, "label": label, "lesion_id": rec.lesion_id,
                               "method": rec.method, "reader": rec.reader}
        notes = []
        box = boxes[label - 1] if label <= len(boxes) else None
        if box is None:
            rows.append(row | {"n_voxels": 0, "volume_ml": 0.0,
                               "note": "empty ROI: no voxel on the image grid"})
            continue
        box = grow_box(box, margin, labels.shape)
        local_suv, local_labels = suv[box], labels[box]
        mask = local_labels == label
        stats = voi_stats(local_suv, mask, spacing)
        peak, _ = suv_peak(local_suv, mask, spacing, options.peak_radius_mm)
        row |= {"n_voxels": stats.n_voxels, "volume_ml": stats.volume_ml,
                "suv_max": stats.suv_max, "suv_mean": stats.suv_mean, "suv_sd": stats.suv_sd,
                "suv_peak": peak, "liver_suv_mean": liver_mean, "spleen_suv_mean": spleen_mean}
        if rec.roi == "lesion" and not np.isfinite(stats.suv_max):
            notes.append("the VOI holds voxels without a value (NaN): no MTV, TLA or T/B")
        elif rec.roi == "lesion":
            mtv = threshold_volume(local_suv, mask, options.mtv_fraction * stats.suv_max)
            mtv_mean = float(local_suv[mtv].astype(np.float64).mean())
            mtv_ml = int(mtv.sum()) * voxel_ml
            row |= {"mtv_ml": mtv_ml, "suv_mean_mtv": mtv_mean, "tla": mtv_mean * mtv_ml}
            if np.isfinite(percist):
                pmask = threshold_volume(local_suv, mask, percist)
                p_ml = int(pmask.sum()) * voxel_ml
                p_mean = float(local_suv[pmask].astype(np.float64).mean()) if p_ml else 0.0
                row |= {"mtv_percist_ml": p_ml, "tla_percist": p_mean * p_ml}
            else:
                notes.append("no liver reference: no PERCIST MTV")
            shell = shell_mask(local_labels, label, spacing, gap_mm=options.shell_gap_mm,
                               width_mm=options.shell_width_mm, suv=local_suv,
                               hot_above=hot_above,
                               min_suv=min_value,
                               exclude_labels=[v for v in lesion_labels if v != label])
            shell_ml = int(shell.sum()) * voxel_ml
            row["shell_volume_ml"] = shell_ml
            if shell_ml >= max(options.shell_min_ml, voxel_ml):
                row["shell_suv_mean"] = float(local_suv[shell].astype(np.float64).mean())
            else:
                notes.append(f"background shell {shell_ml:.2f} ml < {options.shell_min_ml} ml: "
                             "no tb_shell")
            row |= {"tb_liver": _ratio(stats.suv_max, liver_mean),
                    "tb_spleen": _ratio(stats.suv_max, spleen_mean),
                    "tb_shell": _ratio(stats.suv_max, row.get("shell_suv_mean", np.nan))}
            if not np.isfinite(liver_mean):
                notes.append("no liver reference on this scan")
                if options.shell_hot_factor is not None:
                    notes.append("shell keeps hot organs (their cut-off needs the liver)")
            if not np.isfinite(spleen_mean):
                notes.append("no spleen reference on this scan")
        if np.isfinite(sul_factor):
            row |= {"sul_max": stats.suv_max * sul_factor, "sul_mean": stats.suv_mean * sul_factor,
                    "sul_peak": peak * sul_factor}
        row["note"] = "; ".join(notes)
        rows.append(row)
    out = pd.DataFrame(rows)
    for col in MEASUREMENT_COLUMNS[4:]:
        if col not in out.columns:
            out[col] = np.nan
    out["note"] = out["note"].fillna("")
    out["quantity"] = quantity
    if quantity == "counts":
        for suv_col, counts_col in COUNTS_COLUMNS.items():
            out[counts_col] = out[suv_col]
            out[suv_col] = np.nan
        out[list(_SUV_ONLY)] = np.nan
    return out[list(MEASUREMENT_COLUMNS[4:])]


def _shell_floor(options: QuantifyOptions, quantity: str, liver_mean: float) -> float:
    """The shell's air cut-off on the image's scale (SUV, or a fraction of the liver)."""
    if quantity == "SUV":
        return options.shell_min_suv
    if np.isfinite(liver_mean):
        return options.shell_min_liver_fraction * liver_mean
    return float(np.finfo(np.float32).tiny)            # counts > 0


def sul_factor(provenance: dict[str, Any], header: dict[str, Any], sul_norm: str, *,
               height_m: float | None = None, sex: str | None = None) -> tuple[float, str]:
    """SUL / SUV: the SUV's normaliser over the lean body mass, so SUL = SUV x this.

    Weight as the SUV engine used it; height and sex from the header (PatientSize,
    PatientSex), else the clinical record's ``height_m`` and ``sex``.

    Parameters
    ----------
    provenance : dict
        The SUV conversion's provenance (weight, normaliser).
    header : dict
        The PET's keyword values (:func:`nethelpers.dicom.volume.pet_keywords`).
    sul_norm : str
        Lean-body-mass formula (``lbm``, ``lbm-james``, ``lbm-james120``).
    height_m, sex : optional
        From the clinical record, when the header lacks them.

    Returns
    -------
    float
        SUL / SUV, NaN when it cannot be computed.
    str
        Empty, or why there is no SUL.
    """
    from nethelpers.dicom.bodysize import BodySizeError, normaliser

    weight = provenance.get("weight_kg")
    height = provenance.get("height_m") or header.get("PatientSize") or height_m
    sex = provenance.get("sex") or (header.get("PatientSex") or "").strip().upper() or sex
    if not weight:
        return float("nan"), "no weight: no SUL"
    if not provenance.get("normaliser"):
        return float("nan"), "no SUL: the SUV conversion recorded no normaliser"
    try:
        lbm = normaliser(sul_norm, weight, height, sex)
    except BodySizeError as exc:
        return float("nan"), f"no SUL: {exc}"
    # SUV = activity x normaliser / dose, so SUL = SUV x lbm / normaliser (for SUVbsa the
    # factor is in g/cm2 and turns cm2/ml into g/ml)
    return lbm.value / provenance["normaliser"], ""
