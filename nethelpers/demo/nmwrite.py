r"""Write SPECT reconstructions as DICOM: one NM multi-frame object, or PT slices (xSPECT style).

``storage="NM"`` writes ONE NM Image Storage file (SOP class 1.2.840.10008.5.1.4.1.1.20),
ImageType ``ORIGINAL\PRIMARY\RECON TOMO\EMISSION``, one frame per slice. What PS3.3
asks of a RECON TOMO object, and what is written:

- NM Multi-frame (C.8.4.8): FrameIncrementPointer = SliceVector (0054,0080) only (the
  RECON TOMO row of C.8.4.8.1.1); SliceVector 1..n and NumberOfSlices (0054,0081);
  NumberOfEnergyWindows and NumberOfDetectors (Type 1) are written (1 and 1). The
  Energy Window / Detector / Rotation vectors are written only when the frame increment
  pointer names them (the refused two-window variant).
- NM Detector (C.8.4.10): one DetectorInformationSequence item holding the geometry of the
  reconstruction: ImagePositionPatient of the first frame and ImageOrientationPatient.
- NM Reconstruction (C.8.4.15): SpacingBetweenSlices and SliceThickness. Its sign gives the
  stacking direction: frame f lies at ``IPP + f * SpacingBetweenSlices * (row x column)``;
  GE writes negative spacings (OHIF/Viewers issue 4352, rordenlab/dcm2niix issue 885).
- NM TOMO Acquisition (C.8.4.12): NumberOfRotations 1 and a RotationInformationSequence.
- NM Isotope (C.8.4.10): EnergyWindowInformationSequence (99mTc: 140.5 keV photopeak, 15 %
  window, 129.96-151.04 keV) and RadiopharmaceuticalInformationSequence. Its
  RadionuclideTotalDose is in **MBq** (C.8.4.10.1.7 says MegaBecquerels for NM, unlike the
  PET module's Bq); the reader reads it so (see :mod:`nethelpers.dicom.spect`).
- NM/PET Patient Orientation codes, PatientWeight/Size, AcquisitionDate/Time = acquisition
  start. ActualFrameDuration is the time per view, in the RotationInformationSequence item
  (60 views per head: the acquisition lasts 60 x ActualFrameDuration); PS3.3 forbids it at
  the top level of a RECON TOMO object.
- Standard extended (dciodvfy warns; vendors write them and SUV needs them):
  RadionuclideHalfLife and RadiopharmaceuticalStartDateTime in the radiopharmaceutical item,
  Units, RescaleSlope/RescaleIntercept.

Counts-only SPECT (``quantitative=False``) stores ``activity x counts_per_bqml`` as unsigned
16-bit counts, without Units; counts above 65535 are scaled by one RescaleSlope (and a Real
World Value Mapping in UCUM ``{counts}``, as Hermes writes counts: UCL/STIR issue 1123).
Quantitative SPECT (``quantitative=True``) stores Bq/ml through a RealWorldValueMappingSequence
(MeasurementUnitsCodeSequence UCUM ``Bq/ml``, as PS3.16 CID 84 spells it; slope; intercept 0)
*and* Units (0054,1001) BQML with the same RescaleSlope. What we could establish: the
standard's place for NM activity concentration is the Real World Value Mapping (NM Image
module); GDCM, and so SimpleITK, ignores it and applies only a rescale (UCL/STIR issue 1123),
so a file with the mapping alone reads as raw stored values there; Units belongs to the PET
Series module. How Siemens xSPECT Quant and GE Q.Metrix store Bq/ml in NM objects could not
be confirmed here (no conformance statement of either was found): the writer writes both
representations, and the reader accepts either and refuses them when they disagree.

Stored values: ``stored x slope`` reproduces the input within ``slope / 2`` (slope
``max / 65535`` for Bq/ml, 1 for counts below 65536); counts are rounded to whole counts.

``storage="PT"`` writes PET Image Storage slices from a SPECT system (Siemens xSPECT style)
through :func:`nethelpers.demo.dicomwrite.write_pet_series`: Units BQML, DecayCorrection
START with the reference = acquisition start, CorrectedImage ATTN\SCAT\DECY, the SPECT
system's preset, the single-photon radionuclide and no positron fraction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.nmcodes import (
    SPECT_RADIONUCLIDES,
    SPECT_RADIOPHARMACEUTICALS,
    EnergyWindow,
    SpectNuclide,
)

__all__ = ["NM_IMAGE_STORAGE", "SPECT_RADIONUCLIDES", "SPECT_RADIOPHARMACEUTICALS",
           "EnergyWindow", "SpectNuclide", "SpectSeries", "write_spect_series"]

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_UINT16_MAX = 65535
_COUNTS_UNITS = dw.Code("{counts}", "UCUM", "Counts")
_BQML_UNITS = dw.Code("Bq/ml", "UCUM", "Becquerels/milliliter")   # CID 84 spelling


@dataclass(frozen=True, kw_only=True)
class SpectSeries(dw._SeriesBase):
    """Header values of a SPECT reconstruction (all keyword-only).

    Parameters
    ----------
    tracer, radionuclide : str
        A key of :data:`SPECT_RADIOPHARMACEUTICALS` (``"HYNIC-TOC"``/``"99mTc"``,
        ``"DOTATATE"``/``"177Lu"``, ``"pentetreotide"``/``"111In"``).
    half_life_s : float
        RadionuclideHalfLife (s); default 99mTc, 6.0067 h.
    injected_dose_bq : float
        Injected activity (Bq); written in MBq in NM objects, in Bq in PT objects.
    injection : datetime.datetime
        RadiopharmaceuticalStartDateTime.
    acquisition_duration_s : float
        ActualFrameDuration of the whole acquisition (s).
    storage : str
        ``"NM"``: one NM multi-frame file; ``"PT"``: PET Image Storage slices (quantitative only).
    quantitative : bool
        True: Bq/ml (NM: Units + Real World Value Mapping; PT: Units BQML). False: counts.
    counts_per_bqml : float
        Counts-only calibration: stored counts = activity x this (a demo truth, never written).
    fwhm_mm : float
        Resolution of the reconstruction; written in ConvolutionKernel text only.
    negative_spacing : bool
        NM only: write the frames in reverse slice order with a negative SpacingBetweenSlices
        (GE style); the volume read back is the same.
    scatter_window : bool
        NM only: also reconstruct a lower scatter window (30 % of the counts) into the same
        object, frames told apart by EnergyWindowVector (a GE export seen in practice;
        our reader refuses it).
    radiopharmaceutical_text : str, optional
        Overrides the Radiopharmaceutical (0018,0031) text.
    collimator : str
        CollimatorGridName (e.g. ``"LEHR"``, ``"MELP"``).
    """

    patient_position: str | None = None
    tracer: str = "HYNIC-TOC"
    radionuclide: str = "99mTc"
    half_life_s: float = 21624.12
    injected_dose_bq: float
    injection: datetime
    acquisition_duration_s: float = 1200.0
    storage: str = "NM"
    quantitative: bool = False
    counts_per_bqml: float = 1.0
    fwhm_mm: float = 12.0
    negative_spacing: bool = False
    scatter_window: bool = False
    radiopharmaceutical_text: str | None = None
    collimator: str = "LEHR"

    def __post_init__(self) -> None:
        dw._check_choice("storage", self.storage, ("NM", "PT"))
        if (self.tracer, self.radionuclide) not in SPECT_RADIOPHARMACEUTICALS:
            raise ValueError(f"tracer/radionuclide {self.tracer}/{self.radionuclide}; expected "
                             f"one of {sorted(SPECT_RADIOPHARMACEUTICALS)}")
        if self.storage == "PT" and not self.quantitative:
            raise ValueError("storage='PT' is quantitative SPECT (Bq/ml): set quantitative=True")
        if self.storage == "PT" and (self.negative_spacing or self.scatter_window):
            raise ValueError("negative_spacing and scatter_window are NM-only variants")
        for name in ("half_life_s", "injected_dose_bq", "acquisition_duration_s",
                     "counts_per_bqml", "fwhm_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")

    @property
    def nuclide(self) -> SpectNuclide:
        """The radionuclide's code, half-life and energy windows."""
        return SPECT_RADIONUCLIDES[self.radionuclide]


dw_doc = dw._SERIES_BASE_DOC.lstrip("\n")
SpectSeries.__doc__ = (SpectSeries.__doc__ or "").rstrip() + "\n" + dw_doc


def write_spect_series(
    activity_bqml: np.ndarray,
    grid: Grid,
    patient: dw.Patient,
    study: dw.Study,
    scanner: dw.Scanner,
    spect: SpectSeries,
    out_dir: Path,
) -> dw.SeriesInfo:
    """Write a SPECT reconstruction as one NM multi-frame file or as PT slices.

    Parameters
    ----------
    activity_bqml : numpy.ndarray
        ``(nz, ny, nx)`` activity concentration (Bq/ml) at the acquisition start
        (``spect.series_datetime``), non-negative (OSEM images are).
    grid : Grid
        Geometry of ``activity_bqml``.
    patient, study, scanner : Patient, Study, Scanner
        Patient, study and equipment values (a SPECT/CT preset such as
        ``SCANNERS["siemens_intevo"]``).
    spect : SpectSeries
        Series values.
    out_dir : pathlib.Path
        Directory of the series (created if missing).

    Returns
    -------
    SeriesInfo
        UID, directory, the file(s) and the RescaleSlope of each slice k.

    Raises
    ------
    ValueError
        Shape mismatch, non-finite or negative values.
    """
    values, (low, _) = dw._checked_volume(activity_bqml, grid)
    if low < 0:
        raise ValueError(f"SPECT activity must be non-negative (minimum {low:g}): clip it")
    if spect.storage == "PT":
        return _write_pt(values, grid, patient, study, scanner, spect, Path(out_dir))
    return _write_nm(values, grid, patient, study, scanner, spect, Path(out_dir))


# --------------------------------------------------------------------------------------
# PT storage (xSPECT style)
# --------------------------------------------------------------------------------------


def _write_pt(values: np.ndarray, grid: Grid, patient: dw.Patient, study: dw.Study,
              scanner: dw.Scanner, spect: SpectSeries, out_dir: Path) -> dw.SeriesInfo:
    text, drug = SPECT_RADIOPHARMACEUTICALS[(spect.tracer, spect.radionuclide)]
    isotope: dict[str, Any] = {
        "RadionuclidePositronFraction": None,
        "Radiopharmaceutical": spect.radiopharmaceutical_text or text,
        "RadionuclideCodeSequence": DicomSequence([spect.nuclide.code.to_item()]),
        "RadiopharmaceuticalCodeSequence": (DicomSequence([drug.to_item()])
                                            if drug is not None else None),
    }
    pet = dw.PetSeries(
        series_uid_seed=spect.series_uid_seed, series_number=spect.series_number,
        description=spect.description, series_datetime=spect.series_datetime,
        content_datetime=spect.content_datetime, body_part=spect.body_part,
        patient_position=spect.patient_position,
        extra={"CollimatorType": "PARA", **dict(spect.extra)},
        tracer="HYNIC-TOC", radionuclide="99mTc",   # placeholders: the item is overridden
        half_life_s=spect.half_life_s, positron_fraction=0.0,
        injected_dose_bq=spect.injected_dose_bq, injection=spect.injection,
        bed_starts=[spect.series_datetime], bed_slices=[(0, grid.shape[0])],
        frame_duration_s=spect.acquisition_duration_s,
        decay_reference=spect.series_datetime, decay_correction="START", units="BQML",
        corrected_image=("ATTN", "SCAT", "DECY"),
        reconstruction="xSPECT Quant OSCGM", convolution_kernel=_kernel(spect),
        attenuation_correction_method="CT", randoms_correction_method="NONE",
        scatter_correction_method="TEW", isotope_extra=isotope,
    )
    return dw.write_pet_series(values, grid, patient, study, scanner, pet, out_dir)


def _kernel(spect: SpectSeries) -> str:
    return f"GAUSSIAN {spect.fwhm_mm:g} mm"


# --------------------------------------------------------------------------------------
# NM storage
# --------------------------------------------------------------------------------------


def _frame_order(grid: Grid, negative: bool) -> tuple[list[int], float]:
    """Slice k of each frame and the signed SpacingBetweenSlices.

    The spacing is positive when the grid's k axis runs along row x column, negative when
    against it; ``negative`` writes the frames the other way round.
    """
    m = grid.matrix
    sign = 1.0 if float(np.dot(np.cross(m[:, 0], m[:, 1]), m[:, 2])) > 0 else -1.0
    order = list(range(grid.shape[0]))
    if negative:
        order.reverse()
        sign = -sign
    return order, sign * float(grid.spacing[2])


def _quantise(values: np.ndarray, spect: SpectSeries) -> tuple[np.ndarray, float, bool]:
    """Stored uint16 volume, its slope and whether the slope must be written."""
    data = values.astype(np.float64)
    if not spect.quantitative:
        data = data * spect.counts_per_bqml
    peak = float(data.max()) if data.size else 0.0
    if not spect.quantitative and round(peak) <= _UINT16_MAX:
        return np.rint(data).astype("<u2"), 1.0, False
    if peak == 0.0:
        return np.zeros(data.shape, "<u2"), 1.0, spect.quantitative
    slope = float(dw._ds(peak / _UINT16_MAX * (1.0 + 1e-12)))
    stored = np.clip(np.rint(data / slope), 0, _UINT16_MAX).astype("<u2")
    return stored, slope, True


def _write_nm(values: np.ndarray, grid: Grid, patient: dw.Patient, study: dw.Study,
              scanner: dw.Scanner, spect: SpectSeries, out_dir: Path) -> dw.SeriesInfo:
    stored, slope, scaled = _quantise(values, spect)
    order, spacing = _frame_order(grid, spect.negative_spacing)
    frames = [stored[k] for k in order]
    n_windows = 1
    if spect.scatter_window:
        frames += [np.rint(f * 0.3).astype("<u2") for f in frames]
        n_windows = 2
    ds = dw._base_dataset(NM_IMAGE_STORAGE, "NM", patient, study, scanner, spect)
    _add_nm_image(ds, grid, spect, order, spacing, n_windows)
    _add_nm_isotope(ds, spect, n_windows)
    if scaled:
        _add_scaling(ds, slope, quantitative=spect.quantitative)
    ds.PixelData = b"".join(f.tobytes() for f in frames)
    sop_uid = dw.make_uid(spect.series_uid_seed, "instance", 0)
    ds.SOPInstanceUID = sop_uid
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
    ds.InstanceNumber = 1
    dw._apply_overrides(ds, spect.extra)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "00001.dcm"
    ds.save_as(path, enforce_file_format=True)
    return dw.SeriesInfo(series_uid=spect.series_uid, directory=out_dir, n_files=1,
                         files=(path,), rescale_slopes=tuple([slope] * grid.shape[0]))


def _add_nm_image(ds: Dataset, grid: Grid, spect: SpectSeries, order: list[int],
                  spacing: float, n_windows: int) -> None:
    """NM Image, Multi-frame, Detector, TOMO Acquisition and Reconstruction modules."""
    nx, ny, nz = grid.size
    sx, sy, sz = grid.spacing
    start = spect.series_datetime
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.AcquisitionDate = dw._da(start)
    ds.AcquisitionTime = dw._tm(start)
    ds.CountsAccumulated = None   # Type 2: not meaningful for a reconstruction
    ds.CorrectedImage = ["UNIF", "COR", "ATTN", "SCAT"] + (["DECY"] if spect.quantitative
                                                           else [])
    # Image Pixel / NM Image Pixel
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ny
    ds.Columns = nx
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [dw._ds(sy), dw._ds(sx)]
    # NM Multi-frame
    ds.NumberOfFrames = nz * n_windows
    if n_windows > 1:
        ds.FrameIncrementPointer = [0x00540010, 0x00540080]
        ds.EnergyWindowVector = [w + 1 for w in range(n_windows) for _ in range(nz)]
        ds.SliceVector = [f + 1 for _ in range(n_windows) for f in range(nz)]
    else:
        ds.FrameIncrementPointer = 0x00540080
        ds.SliceVector = [f + 1 for f in range(nz)]
    ds.NumberOfSlices = nz
    ds.NumberOfDetectors = 1
    # NM Detector: the geometry of the reconstruction
    detector = Dataset()
    detector.CollimatorGridName = spect.collimator
    detector.CollimatorType = "PARA"
    detector.FieldOfViewShape = "RECTANGLE"
    detector.FieldOfViewDimensions = [533, 387]
    detector.FocalDistance = 0
    detector.ImagePositionPatient = [dw._ds(v) for v in grid.slice_position(order[0])]
    detector.ImageOrientationPatient = [dw._ds(v) for v in grid.image_orientation]
    ds.DetectorInformationSequence = DicomSequence([detector])
    # NM TOMO Acquisition: two heads, 60 stops of 3 degrees each over 180 degrees
    rotation = Dataset()
    rotation.StartAngle = "0"
    rotation.AngularStep = "3"
    rotation.RotationDirection = "CW"
    rotation.ScanArc = "180"
    rotation.ActualFrameDuration = int(round(spect.acquisition_duration_s * 1000.0 / 60))
    rotation.NumberOfFramesInRotation = 60
    ds.NumberOfRotations = 1
    ds.RotationInformationSequence = DicomSequence([rotation])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    # NM Reconstruction
    ds.SpacingBetweenSlices = dw._ds(spacing)
    ds.SliceThickness = dw._ds(sz)
    ds.ReconstructionDiameter = dw._ds(max(nx * sx, ny * sy))
    ds.ConvolutionKernel = _kernel(spect)
    # NM/PET Patient Orientation
    orientation = dw._RECUMBENT.to_item()
    orientation.PatientOrientationModifierCodeSequence = DicomSequence([dw._SUPINE.to_item()])
    ds.PatientOrientationCodeSequence = DicomSequence([orientation])
    ds.PatientGantryRelationshipCodeSequence = DicomSequence([dw._HEADFIRST.to_item()])


def _add_nm_isotope(ds: Dataset, spect: SpectSeries, n_windows: int) -> None:
    """NM Isotope module: energy windows and the radiopharmaceutical (dose in MBq)."""
    windows = list(spect.nuclide.windows)
    if n_windows > 1:
        peak = windows[0]
        width = peak.upper_kev - peak.lower_kev
        windows = [peak, EnergyWindow("Scatter", round(peak.lower_kev - width, 2),
                                      peak.lower_kev)]
    items = []
    for window in windows:
        energy = Dataset()
        energy.EnergyWindowLowerLimit = dw._ds(window.lower_kev)
        energy.EnergyWindowUpperLimit = dw._ds(window.upper_kev)
        item = Dataset()
        item.EnergyWindowRangeSequence = DicomSequence([energy])
        item.EnergyWindowName = window.name
        items.append(item)
    ds.EnergyWindowInformationSequence = DicomSequence(items)
    ds.NumberOfEnergyWindows = len(items)
    text, drug = SPECT_RADIOPHARMACEUTICALS[(spect.tracer, spect.radionuclide)]
    radio = Dataset()
    radio.RadionuclideCodeSequence = DicomSequence([spect.nuclide.code.to_item()])
    radio.RadiopharmaceuticalRoute = "Intravenous"
    radio.RadiopharmaceuticalStartTime = dw._tm(spect.injection)
    radio.RadiopharmaceuticalStartDateTime = dw._dt(spect.injection)
    radio.RadionuclideTotalDose = dw._ds(spect.injected_dose_bq / 1e6)   # MBq (C.8.4.10.1.7)
    radio.RadionuclideHalfLife = dw._ds(spect.half_life_s)
    radio.Radiopharmaceutical = spect.radiopharmaceutical_text or text
    if drug is not None:
        radio.RadiopharmaceuticalCodeSequence = DicomSequence([drug.to_item()])
    ds.RadiopharmaceuticalInformationSequence = DicomSequence([radio])


def _add_scaling(ds: Dataset, slope: float, *, quantitative: bool) -> None:
    """Real World Value Mapping (Bq/mL or {counts}) and the same RescaleSlope."""
    item = Dataset()
    item.add(DataElement(0x00409216, "US", 0))            # RealWorldValueFirstValueMapped
    item.add(DataElement(0x00409211, "US", _UINT16_MAX))  # RealWorldValueLastValueMapped
    item.RealWorldValueIntercept = 0.0
    item.RealWorldValueSlope = float(slope)
    units = _BQML_UNITS if quantitative else _COUNTS_UNITS
    item.LUTExplanation = units.meaning
    item.LUTLabel = "BQML" if quantitative else "COUNTS"
    item.MeasurementUnitsCodeSequence = DicomSequence([units.to_item()])
    ds.RealWorldValueMappingSequence = DicomSequence([item])
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = dw._ds(slope)
    if quantitative:
        ds.Units = "BQML"
