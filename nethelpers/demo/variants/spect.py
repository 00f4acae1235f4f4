"""SPECT variants: one demo PET's activity rewritten as the SPECT objects vendors write.

The activity (Bq/ml) of a demo PET series, read with plain pydicom and averaged over 2x2x2
voxel blocks (SPECT-sized voxels), is written by :func:`nethelpers.demo.nmwrite.write_spect_series`
as the activity at the SPECT acquisition start, in a study of its own:

- ``spect/nm-counts``: 99mTc-HYNIC-TOC, NM multi-frame, counts only (Symbia Intevo);
- ``spect/nm-quant``: the same in Bq/ml (Real World Value Mapping + Units BQML);
- ``spect/pt-xspect-lu177``: 177Lu-DOTATATE as PET Image Storage slices from a SPECT system
  (Siemens xSPECT Quant style), 24 h after a 7.4 GBq therapy;
- ``spect/nm-ge-negative-spacing``: a GE Discovery NM/CT 670 reconstruction whose frames run
  head to foot with a negative SpacingBetweenSlices (OHIF/Viewers issue 4352,
  rordenlab/dcm2niix issue 885): accepted, the same volume;
- ``spect/refused/nm-scatter-window``: a GE object holding the photopeak and a scatter-window
  reconstruction told apart by EnergyWindowVector: refused (two volumes in one object).

Each entry's ``truth`` holds what the tests need to recompute the values independently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.nmwrite import SPECT_RADIONUCLIDES, SpectSeries, write_spect_series

__all__ = ["BLOCK", "SPECT_VARIANTS", "SpectVariant", "pet_activity", "write_spect_variants"]

#: Voxels averaged per axis (PET ~2-4 mm -> SPECT ~4-8 mm).
BLOCK = 2
#: Time from the injection to the SPECT acquisition start (h): 99mTc and 177Lu.
_DELAY_H = {"99mTc": 4.0, "177Lu": 24.0}
_DOSE_BQ = {"99mTc": 740e6, "177Lu": 7.4e9}
#: Counts-only calibration of the counts variants (counts per Bq/ml).
COUNTS_PER_BQML = 0.05

#: name -> (tracer, radionuclide, SpectSeries options, scanner preset, refused)
SPECT_VARIANTS: dict[str, tuple[str, str, dict[str, Any], str, bool]] = {
    "nm-counts": ("HYNIC-TOC", "99mTc", {"counts_per_bqml": COUNTS_PER_BQML},
                  "siemens_intevo", False),
    "nm-quant": ("HYNIC-TOC", "99mTc", {"quantitative": True}, "siemens_intevo", False),
    "pt-xspect-lu177": ("DOTATATE", "177Lu", {"storage": "PT", "quantitative": True},
                        "siemens_intevo", False),
    "nm-ge-negative-spacing": ("HYNIC-TOC", "99mTc",
                               {"counts_per_bqml": COUNTS_PER_BQML, "negative_spacing": True},
                               "ge_nmct670", False),
    "nm-scatter-window": ("HYNIC-TOC", "99mTc",
                          {"counts_per_bqml": COUNTS_PER_BQML, "scatter_window": True},
                          "ge_nmct670", True),
}


@dataclass(frozen=True)
class SpectVariant:
    """One written SPECT variant: its name, folder and truth."""

    name: str
    directory: Path
    truth: dict[str, Any]


def pet_activity(pet_dir: Path) -> tuple[np.ndarray, Grid, Any]:
    """A PET series' activity (stored x RescaleSlope, Bq/ml), its grid and first header.

    Parameters
    ----------
    pet_dir : pathlib.Path
        A single-frame PET series folder (axial, uniform slices, as the demo writes them).

    Returns
    -------
    numpy.ndarray
        ``(nz, ny, nx)`` float64, slices ascending along the normal.
    Grid
        Its geometry.
    pydicom.dataset.Dataset
        The first slice's header (patient and study values).
    """
    import pydicom

    slices = [pydicom.dcmread(p) for p in sorted(Path(pet_dir).glob("*.dcm"))]
    iop = np.asarray(slices[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    slices.sort(key=lambda ds: float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)))
    volume = np.stack([ds.pixel_array * float(ds.RescaleSlope) for ds in slices])
    first = np.asarray(slices[0].ImagePositionPatient, float)
    step = float(np.dot(np.asarray(slices[1].ImagePositionPatient, float) - first, normal))
    row_mm, col_mm = (float(v) for v in slices[0].PixelSpacing)
    direction = np.column_stack([iop[:3], iop[3:], normal]).reshape(-1)
    grid = Grid((volume.shape[2], volume.shape[1], volume.shape[0]), (col_mm, row_mm, step),
                tuple(first), tuple(float(v) for v in direction))
    return volume, grid, slices[0]


def _blocks(volume: np.ndarray, grid: Grid, block: int) -> tuple[np.ndarray, Grid]:
    nz, ny, nx = (s // block for s in volume.shape)
    cut = volume[:nz * block, :ny * block, :nx * block]
    averaged = cut.reshape(nz, block, ny, block, nx, block).mean(axis=(1, 3, 5))
    shift = grid.index_to_world(np.full(3, (block - 1) / 2.0))
    spacing = tuple(s * block for s in grid.spacing)
    return averaged, Grid((nx, ny, nz), spacing, tuple(float(v) for v in shift), grid.direction)


def _patient(ds: Any) -> dw.Patient:
    born = str(ds.get("PatientBirthDate", "") or "19700101")
    return dw.Patient(str(ds.PatientName), str(ds.PatientID),
                      date(int(born[:4]), int(born[4:6]), int(born[6:8])),
                      str(ds.get("PatientSex", "O") or "O"), float(ds.PatientWeight),
                      float(ds.PatientSize) if ds.get("PatientSize") else None)


def write_spect_variants(pet_dir: Path, out: Path, *, block: int = BLOCK) -> list[SpectVariant]:
    """Write every SPECT variant of one demo PET series under ``out/spect``.

    Parameters
    ----------
    pet_dir : pathlib.Path
        The demo PET series whose activity is used.
    out : pathlib.Path
        The variants folder.
    block : int
        Voxels averaged per axis.

    Returns
    -------
    list of SpectVariant
        ``truth``: tracer, radionuclide, storage, quantitative, counts_per_bqml,
        injected_dose_bq, injection and acquisition_start (ISO), half_life_s, weight_kg,
        block, refused (and the refused element).
    """
    volume, grid, first = pet_activity(Path(pet_dir))
    activity, spect_grid = _blocks(volume, grid, block)
    activity = np.maximum(activity, 0.0)
    patient = _patient(first)
    start = datetime(2024, 1, 15, 13, 0, 0)
    study = dw.Study(dw.make_uid(first.StudyInstanceUID, "spect-variants"), start,
                     "SPECTVAR", "SPECT/CT variants", dw.make_uid(first.StudyInstanceUID,
                                                                    "spect-for"),
                     "Demo Hospital", "Variant^Doctor")
    written = []
    for number, (name, (tracer, nuclide, options, preset, refused)) in enumerate(
            SPECT_VARIANTS.items(), start=20):
        injection = start - timedelta(hours=_DELAY_H[nuclide])
        spect = SpectSeries(series_uid_seed=f"{first.SeriesInstanceUID}-{name}",
                            series_number=number, description=f"SPECT {name}",
                            series_datetime=start, tracer=tracer, radionuclide=nuclide,
                            half_life_s=SPECT_RADIONUCLIDES[nuclide].half_life_s,
                            injected_dose_bq=_DOSE_BQ[nuclide], injection=injection, **options)
        folder = out / "spect" / ("refused" if refused else "") / name
        write_spect_series(activity.astype(np.float32), spect_grid, patient, study,
                           dw.SCANNERS[preset], spect, folder / spect.storage)
        truth = {"tracer": tracer, "radionuclide": nuclide, "storage": spect.storage,
                 "quantitative": spect.quantitative, "counts_per_bqml": spect.counts_per_bqml,
                 "injected_dose_bq": spect.injected_dose_bq, "injection": injection.isoformat(),
                 "acquisition_start": start.isoformat(), "half_life_s": spect.half_life_s,
                 "weight_kg": patient.weight_kg, "block": block, "refused": refused}
        if refused:
            truth["refused_element"] = "EnergyWindowVector (0054,0010)"
        written.append(SpectVariant(f"spect/{name}", folder / spect.storage, truth))
    return written
