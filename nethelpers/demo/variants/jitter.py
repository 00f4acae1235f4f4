"""A GE-style multi-bed PET whose slice positions are rounded at the bed boundaries.

A GE Discovery whole-body FDG PET of several bed positions writes 3.27 mm slice steps with
3.19 and 3.29 mm at the bed boundaries: every slice lies within about 0.04 mm of a uniform
grid, nothing is missing. :func:`write_jittered` writes such a copy of a demo PET series:
the slices of bed ``j`` (bed = AcquisitionTime, as the demo writes it) move along the slice
normal by the sum of the boundary deltas before it, the pixel data stay as they are. The
true SUV volume is therefore the original's, on a grid that the slices deviate from by the
returned ``max_deviation_mm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid

__all__ = ["BOUNDARY_DELTAS_MM", "JitteredSeries", "write_jittered"]

#: Change of the slice step at successive bed boundaries (mm), cycled: 3.27 -> 3.19, 3.29.
BOUNDARY_DELTAS_MM = (-0.08, 0.02)


@dataclass(frozen=True)
class JitteredSeries:
    """What :func:`write_jittered` wrote.

    Attributes
    ----------
    directory : pathlib.Path
        The new series folder.
    files : tuple of pathlib.Path
        Its files.
    shifts_mm : numpy.ndarray
        Shift of each slice along the normal, in ascending slice order (mm).
    max_deviation_mm : float
        Largest distance of a slice from the least-squares uniform grid (mm).
    series_uid : str
        The copy's SeriesInstanceUID (new, derived from the original's).
    """

    directory: Path
    files: tuple[Path, ...]
    shifts_mm: np.ndarray
    max_deviation_mm: float
    series_uid: str


def _ds(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def write_jittered(series_dir: str | Path, out_dir: str | Path, *,
                   deltas_mm: Sequence[float] = BOUNDARY_DELTAS_MM,
                   new_uids: bool = True) -> JitteredSeries:
    """Copy a single-frame PET series with its bed boundaries' slice steps changed.

    Parameters
    ----------
    series_dir : path-like
        A demo PET series folder (one file per slice; beds told apart by AcquisitionTime).
    out_dir : path-like
        The new series folder (created).
    deltas_mm : sequence of float
        Step change at the 1st, 2nd, ... bed boundary, cycled.
    new_uids : bool
        Give the copy new Series and SOP Instance UIDs (derived from the originals), so it
        can sit in the same DICOM tree as the original.

    Returns
    -------
    JitteredSeries

    Raises
    ------
    ValueError
        The series has a single bed position (no boundary to round at).
    """
    series_dir, out_dir = Path(series_dir), Path(out_dir)
    datasets = [pydicom.dcmread(f) for f in sorted(series_dir.glob("*.dcm"))]
    iop = np.array([float(v) for v in datasets[0].ImageOrientationPatient])
    normal = np.cross(iop[:3], iop[3:])
    along = np.array([np.array([float(v) for v in ds.ImagePositionPatient]) @ normal
                      for ds in datasets])
    order = np.argsort(along, kind="stable")
    beds = [str(datasets[i].AcquisitionTime) for i in order]
    boundaries = [k for k in range(1, len(beds)) if beds[k] != beds[k - 1]]
    if not boundaries:
        raise ValueError(f"{series_dir}: a single bed position has no boundary to jitter")
    shifts = np.zeros(len(order))
    for n, k in enumerate(boundaries):
        shifts[k:] += deltas_mm[n % len(deltas_mm)]
    index = np.arange(len(order), dtype=float)
    placed = along[order] + shifts
    fit = np.polyfit(index, placed, 1)
    deviation = float(np.max(np.abs(placed - np.polyval(fit, index))))
    out_dir.mkdir(parents=True, exist_ok=True)
    series_uid = str(datasets[0].SeriesInstanceUID)
    if new_uids:
        series_uid = generate_uid(entropy_srcs=[series_uid, "jitter"])
    files = []
    for shift, i in zip(shifts, order, strict=True):
        ds = datasets[i]
        ipp = np.array([float(v) for v in ds.ImagePositionPatient]) + shift * normal
        ds.ImagePositionPatient = [_ds(v) for v in ipp]
        if "SliceLocation" in ds:
            ds.SliceLocation = _ds(float(ds.SliceLocation) + shift * normal[2])
        if new_uids:
            ds.SeriesInstanceUID = series_uid
            ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), "jitter"])
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = out_dir / f"{int(ds.InstanceNumber):05d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return JitteredSeries(out_dir, tuple(files), shifts, deviation, series_uid)
