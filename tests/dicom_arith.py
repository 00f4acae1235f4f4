"""Plain SUVbw arithmetic straight from PET headers, independent of nethelpers' own code.

Only the branches the demo writes: BQML (decay reference = SeriesDateTime unless it lies after
the acquisition, then GE's private scan datetime) and Philips CNTS with its SUV scale factor.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom


def _dt(date: str, time: str) -> datetime:
    time = time if "." in time else time + ".0"
    return datetime.strptime(date + time, "%Y%m%d%H%M%S.%f")


def read_suv_volume(series_dir: Path) -> tuple[np.ndarray, list[float]]:
    """SUVbw volume ``(nz, ny, nx)`` sorted by slice z, and the slice z positions."""
    datasets = [pydicom.dcmread(f) for f in sorted(Path(series_dir).glob("*.dcm"))]
    datasets.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    first = datasets[0]
    if first.Units == "CNTS":
        factor = float(first[0x7053, 0x1000].value)
    else:
        assert first.Units == "BQML"
        iso = first.RadiopharmaceuticalInformationSequence[0]
        dose = float(iso.RadionuclideTotalDose)
        half = float(iso.RadionuclideHalfLife)
        if "RadiopharmaceuticalStartDateTime" in iso:
            inj = datetime.strptime(iso.RadiopharmaceuticalStartDateTime[:14], "%Y%m%d%H%M%S")
        else:
            inj = _dt(first.SeriesDate, iso.RadiopharmaceuticalStartTime)
        series = _dt(first.SeriesDate, first.SeriesTime)
        earliest = min(_dt(d.AcquisitionDate, d.AcquisitionTime) for d in datasets)
        ref = series
        if series > earliest:
            ref = datetime.strptime(str(first[0x0009, 0x100D].value)[:14], "%Y%m%d%H%M%S")
        decayed = dose * 2.0 ** (-(ref - inj).total_seconds() / half)
        factor = float(first.PatientWeight) * 1000.0 / decayed
    vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept)
                    for d in datasets])
    return vol * factor, [float(d.ImagePositionPatient[2]) for d in datasets]
