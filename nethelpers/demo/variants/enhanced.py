"""Multi-frame copies of a demo PET series: Legacy Converted Enhanced PET and Enhanced PET.

Newer scanners and PACS archive PET as one multi-frame object instead of one file per
slice. The two kinds a site meets are written here from a single-frame PET series:

- :func:`write_legacy_converted` converts with highdicom's
  ``LegacyConvertedEnhancedPETImage`` (an independent converter): the classic attributes
  move into the functional groups or, where the standard has no place for them (Units,
  DecayCorrection, the isotope, Philips and GE private elements), into the Unassigned
  Shared/Per-Frame Converted Attributes sequences.
- :func:`write_enhanced_pet` writes a true Enhanced PET Image (1.2.840.10008.5.1.4.1.1.130)
  with pydicom: the Enhanced PET Isotope, Acquisition, Image and Corrections modules,
  units as a Real World Value Mapping (UCUM ``Bq/ml`` or ``{counts}``), the decay reference
  as DecayCorrected YES + DecayCorrectionDateTime, per-frame position, rescale, timing
  and decay factor. ``dciodvfy`` (Debian package dicom3tools) reports no error on it, only
  warnings for the zero revolution time and prompt counts, which the demo does not simulate
  (acquisition values the demo has no truth for are plausible constants, never read).

Stored pixel values and RescaleSlope texts are copied unchanged, frame ``k`` being the
slice of InstanceNumber ``k + 1`` (head first), so the SUV volume of a copy equals that of
the original bit for bit. UIDs derive from the original series UID: the same input gives
the same UIDs.

The decay reference of an Enhanced PET copy is the classic START reference: SeriesDateTime
when it is not after the first acquisition, else the GE private scan datetime (0009,100D);
ADMIN gives the injection time and NONE gives DecayCorrected NO. A series whose reference
is neither is refused (ValueError) rather than guessed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian

from nethelpers.demo.dicomwrite import (
    IMPLEMENTATION_CLASS_UID,
    IMPLEMENTATION_VERSION_NAME,
    Code,
    make_uid,
)
from nethelpers.dicom.volume import series_files

__all__ = ["ENHANCED_PET_STORAGE", "write_enhanced_pet", "write_legacy_converted"]

ENHANCED_PET_STORAGE = "1.2.840.10008.5.1.4.1.1.130"
_PET_STORAGE = "1.2.840.10008.5.1.4.1.1.128"

#: Classic Units -> UCUM code and meaning (CID 84 "PET Units").
_UNITS = {"BQML": ("Bq/ml", "Becquerels/milliliter"), "CNTS": ("{counts}", "Counts")}
#: Classic CorrectedImage code -> Enhanced PET Corrections flag.
_CORRECTIONS = {
    "DECY": "DecayCorrected", "ATTN": "AttenuationCorrected", "SCAT": "ScatterCorrected",
    "DTIM": "DeadTimeCorrected", "MOTN": "GantryMotionCorrected",
    "PMOT": "PatientMotionCorrected", "CLN": "CountLossNormalizationCorrected",
    "RAN": "RandomsCorrected", "RADL": "NonUniformRadialSamplingCorrected",
    "DCAL": "SensitivityCalibrated", "NORM": "DetectorNormalizationCorrection",
}
_COPIED = (
    "SpecificCharacterSet", "PatientName", "PatientID", "PatientBirthDate", "PatientSex",
    "PatientAge", "PatientSize", "PatientWeight", "StudyInstanceUID", "StudyDate", "StudyTime",
    "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription", "SeriesDate",
    "SeriesTime", "SeriesDescription", "BodyPartExamined", "FrameOfReferenceUID",
    "PositionReferenceIndicator", "Manufacturer", "InstitutionName", "StationName",
    "ManufacturerModelName", "DeviceSerialNumber", "SoftwareVersions", "TimezoneOffsetFromUTC",
    "ContentDate", "ContentTime", "InstanceCreationDate", "InstanceCreationTime",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "CountsSource",
    "RandomsCorrectionMethod", "ScatterCorrectionMethod",
)
_INTRAVENOUS = Code("47625008", "SCT", "Intravenous route")
_WHOLE_BODY = Code("38266002", "SCT", "Entire body")
_TRANSVERSE = Code("62824007", "SCT", "Transverse")  # codes checked in pydicom.sr.codedict
#: Acquisition and frame-correction values a real scanner records and the demo has no truth
#: for (Type 1C in Enhanced PET): plausible constants, never read by nethelpers.
_PLACEHOLDERS = {
    "TransverseDetectorSeparation": 820.0, "AxialDetectorDimension": 261.0,
    "CoincidenceWindowWidth": 4.7, "SliceSensitivityFactor": 1.0,
    "ScatterFractionFactor": 0.35, "DeadTimeFactor": 1.0,
}


def _read_series(series_dir: str | Path) -> list[Dataset]:
    """The slices of a single-frame PET series, InstanceNumber order (head first)."""
    slices = [pydicom.dcmread(f) for f in series_files(series_dir)]
    if not slices:
        raise ValueError(f"{series_dir}: no files")
    for ds in slices:
        if ds.SOPClassUID != _PET_STORAGE:
            raise ValueError(f"{ds.filename}: not a single-frame PET Image ({ds.SOPClassUID})")
        if ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian:
            raise ValueError(f"{ds.filename}: only Explicit VR Little Endian is copied")
    if len({ds.SeriesInstanceUID for ds in slices}) != 1:
        raise ValueError(f"{series_dir}: the files belong to several series")
    return sorted(slices, key=lambda ds: int(ds.InstanceNumber))


def write_legacy_converted(series_dir: str | Path, out_dir: str | Path) -> Path:
    """Convert a PET series to one Legacy Converted Enhanced PET file with highdicom.

    Parameters
    ----------
    series_dir : path-like
        A single-frame PET series folder.
    out_dir : path-like
        Folder to write ``legacy-converted-pet.dcm`` into (created).

    Returns
    -------
    pathlib.Path
        The file written.
    """
    import highdicom as hd

    slices = _read_series(series_dir)
    uid = slices[0].SeriesInstanceUID
    image = hd.legacy.LegacyConvertedEnhancedPETImage(
        slices, series_instance_uid=make_uid(uid, "legacy-converted", "series"),
        series_number=int(slices[0].SeriesNumber) + 100,
        sop_instance_uid=make_uid(uid, "legacy-converted", "instance"), instance_number=1)
    for keyword in ("InstanceCreationDate", "InstanceCreationTime"):  # deterministic output
        setattr(image, keyword, slices[0].get(keyword, ""))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "legacy-converted-pet.dcm"
    image.save_as(path)
    return path


# --------------------------------------------------------------------------------------
# Enhanced PET
# --------------------------------------------------------------------------------------


def _dt(value: datetime) -> str:
    return value.strftime("%Y%m%d%H%M%S") + (f".{value.microsecond:06d}"
                                              if value.microsecond else "")


def _parse(date: str, time: str) -> datetime:
    return datetime.strptime(date + time.split(".")[0].ljust(6, "0"), "%Y%m%d%H%M%S") + \
        timedelta(microseconds=int((time.split(".") + ["0"])[1].ljust(6, "0")[:6]))


def _acquisition(ds: Dataset) -> datetime:
    text = ds.get("AcquisitionDateTime")
    if text:
        return _parse(str(text)[:8], str(text)[8:])
    return _parse(ds.AcquisitionDate, ds.AcquisitionTime)


def _injection(first: Dataset, start: datetime) -> datetime:
    item = first.RadiopharmaceuticalInformationSequence[0]
    text = item.get("RadiopharmaceuticalStartDateTime")
    if text:
        return _parse(str(text)[:8], str(text)[8:])
    injection = _parse(first.SeriesDate, item.RadiopharmaceuticalStartTime)
    return injection - timedelta(days=1) if injection > start else injection


def _decay_reference(first: Dataset, start: datetime) -> tuple[str, datetime | None]:
    """(DecayCorrected, DecayCorrectionDateTime) of the classic series (module docstring)."""
    mode = first.DecayCorrection
    if mode == "NONE":
        return "NO", None
    if mode == "ADMIN":
        return "YES", _injection(first, start)
    series = _parse(first.SeriesDate, first.SeriesTime)
    if series <= start:
        return "YES", series
    ge = first.get((0x0009, 0x100D))
    if ge is not None and first.get((0x0009, 0x0010)) and \
            first[0x0009, 0x0010].value == "GEMS_PETD_01":
        text = str(ge.value)
        return "YES", _parse(text[:8], text[8:])
    raise ValueError(f"{first.filename}: SeriesTime is after the acquisition and there is no "
                     "GE scan datetime: the decay reference is not known")


def _code(code: Code) -> DicomSequence:
    return DicomSequence([code.to_item()])


def _item(**values: object) -> DicomSequence:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return DicomSequence([item])


def _isotope(first: Dataset, start: datetime) -> DicomSequence:
    source = first.RadiopharmaceuticalInformationSequence[0]
    item = Dataset()
    for keyword in ("RadionuclideTotalDose", "RadionuclideHalfLife",
                    "RadionuclidePositronFraction", "RadionuclideCodeSequence",
                    "RadiopharmaceuticalCodeSequence"):
        if keyword in source:
            setattr(item, keyword, source[keyword].value)
    item.RadiopharmaceuticalStartDateTime = _dt(_injection(first, start))
    item.RadiopharmaceuticalAgentNumber = 1
    item.AdministrationRouteCodeSequence = _code(_INTRAVENOUS)
    return DicomSequence([item])


def _corrections(ds: Dataset, first: Dataset, start: datetime) -> None:
    """Enhanced PET Corrections module from CorrectedImage and DecayCorrection."""
    codes = set(first.CorrectedImage)
    for code, keyword in _CORRECTIONS.items():
        setattr(ds, keyword, "YES" if code in codes else "NO")
    decayed, reference = _decay_reference(first, start)
    if (decayed == "YES") != ("DECY" in codes):
        raise ValueError(f"{first.filename}: DecayCorrection and CorrectedImage disagree")
    if reference is not None:
        ds.DecayCorrectionDateTime = _dt(reference)
    if "ATTN" in codes:
        method = str(first.get("AttenuationCorrectionMethod", "")).upper()
        ds.AttenuationCorrectionSource = "MR" if method.startswith("MR") else "CT"
        ds.AttenuationCorrectionTemporalRelationship = (
            "SIMULTANEOUS" if ds.AttenuationCorrectionSource == "MR" else "CONCURRENT")


def _real_world(units: str, slope: str, signed: bool) -> DicomSequence:
    code, meaning = _UNITS[units]
    item = Dataset()
    vr = "SS" if signed else "US"
    item.add_new(0x00409216, vr, -32768 if signed else 0)  # RealWorldValueFirstValueMapped
    item.add_new(0x00409211, vr, 32767 if signed else 65535)  # RealWorldValueLastValueMapped
    item.RealWorldValueIntercept = 0.0
    item.RealWorldValueSlope = float(slope)
    item.LUTExplanation = f"PET {meaning}"
    item.LUTLabel = units
    item.MeasurementUnitsCodeSequence = _code(Code(code, "UCUM", meaning))
    return DicomSequence([item])


def _iterations(method: str) -> tuple[int, int]:
    """Iterations and subsets of a ReconstructionMethod such as ``OSEM3D 4i5s``."""
    import re

    match = re.search(r"(\d+)i(\d+)s", method)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 1)


def _frame_centre(ds: Dataset) -> list[float]:
    """Patient coordinates (mm) of the centre of a slice."""
    iop = [float(v) for v in ds.ImageOrientationPatient]
    dy, dx = (float(v) for v in ds.PixelSpacing)
    half_x, half_y = (int(ds.Columns) - 1) / 2 * dx, (int(ds.Rows) - 1) / 2 * dy
    return [float(ds.ImagePositionPatient[i]) + half_x * iop[i] + half_y * iop[3 + i]
            for i in range(3)]


def _acquisition_module(ds: Dataset, bed_seconds: float) -> None:
    """Enhanced PET Acquisition module of a whole-body step-and-shoot ring scanner."""
    ds.AcquisitionStartCondition = "MANU"
    ds.AcquisitionTerminationCondition = "TIME"
    ds.TerminationTimeThreshold = bed_seconds
    ds.TableMotion = "STATIC"
    ds.TimeOfFlightInformationUsed = "TRUE"
    ds.ViewCodeSequence = _code(_TRANSVERSE)
    ds.TypeOfDetectorMotion = "STATIONARY"
    ds.DetectorGeometry = "CYLINDRICAL_RING"
    ds.TransverseDetectorSeparation = _PLACEHOLDERS["TransverseDetectorSeparation"]
    ds.AxialDetectorDimension = _PLACEHOLDERS["AxialDetectorDimension"]
    ds.CoincidenceWindowWidth = _PLACEHOLDERS["CoincidenceWindowWidth"]
    ds.EnergyWindowRangeSequence = _item(EnergyWindowLowerLimit="435",
                                         EnergyWindowUpperLimit="585")
    ds.CollimatorType = "NONE"


def _shared_groups(first: Dataset) -> Dataset:
    shared = Dataset()
    shared.PixelMeasuresSequence = _item(
        PixelSpacing=first.PixelSpacing, SliceThickness=first.SliceThickness,
        SpacingBetweenSlices=first.get("SpacingBetweenSlices", first.SliceThickness))
    shared.PlaneOrientationSequence = _item(ImageOrientationPatient=first.ImageOrientationPatient)
    shared.PETFrameTypeSequence = _item(
        FrameType=["ORIGINAL", "PRIMARY", "VOLUME", "NONE"], PixelPresentation="MONOCHROME",
        VolumetricProperties="VOLUME", VolumeBasedCalculationTechnique="NONE")
    shared.PETFrameAcquisitionSequence = _item(
        TableHeight=first.get("TableHeight", "150"), GantryDetectorTilt="0",
        GantryDetectorSlew="0", DataCollectionDiameter=first.get("DataCollectionDiameter",
                                                                  "700"))
    shared.PETDetectorMotionDetailsSequence = _item(RotationDirection="CW", RevolutionTime=0.0)
    iterations, subsets = _iterations(str(first.get("ReconstructionMethod", "")))
    shared.PETReconstructionSequence = _item(
        ReconstructionType="3D", ReconstructionAlgorithm="MLEM",  # OSEM: ordered-subset MLEM
        IterativeReconstructionMethod="YES", NumberOfIterations=iterations,
        NumberOfSubsets=subsets,
        ReconstructionDiameter=str(float(first.PixelSpacing[1]) * int(first.Columns)))
    shared.RadiopharmaceuticalUsageSequence = _item(RadiopharmaceuticalAgentNumber=1)
    shared.FrameAnatomySequence = _item(AnatomicRegionSequence=_code(_WHOLE_BODY),
                                        FrameLaterality="U")
    shared.FrameVOILUTSequence = _item(WindowCenter="0", WindowWidth="65536")
    return shared


def _frame_group(ds: Dataset, k: int, reference: datetime | None, units: str) -> Dataset:
    group = Dataset()
    start = _acquisition(ds)
    duration = float(ds.ActualFrameDuration)
    content = Dataset()
    content.FrameAcquisitionDateTime = _dt(start)
    if reference is not None and "FrameReferenceTime" in ds:
        content.FrameReferenceDateTime = _dt(
            reference + timedelta(milliseconds=float(ds.FrameReferenceTime)))
    else:
        content.FrameReferenceDateTime = _dt(start + timedelta(milliseconds=duration / 2))
    content.FrameAcquisitionDuration = duration
    content.TemporalPositionIndex = 1
    content.StackID = "1"
    content.InStackPositionNumber = k + 1
    content.DimensionIndexValues = [1, k + 1]
    group.FrameContentSequence = DicomSequence([content])
    group.PlanePositionSequence = _item(ImagePositionPatient=ds.ImagePositionPatient)
    centre = _frame_centre(ds)
    group.PETPositionSequence = _item(TablePosition=centre[2],
                                      DataCollectionCenterPatient=centre,
                                      ReconstructionTargetCenterPatient=centre)
    group.PixelValueTransformationSequence = _item(
        RescaleIntercept=ds.get("RescaleIntercept", "0"), RescaleSlope=ds.RescaleSlope,
        RescaleType="US")
    group.RealWorldValueMappingSequence = _real_world(units, ds.RescaleSlope,
                                                      ds.PixelRepresentation == 1)
    factors = Dataset()
    if "DecayFactor" in ds:
        factors.DecayFactor = ds.DecayFactor
    factors.PrimaryPromptsCountsAccumulated = 0  # not simulated
    for keyword in ("SliceSensitivityFactor", "ScatterFractionFactor", "DeadTimeFactor"):
        setattr(factors, keyword, str(_PLACEHOLDERS[keyword]))
    group.PETFrameCorrectionFactorsSequence = DicomSequence([factors])
    return group


def _dimensions(ds: Dataset, uid: str) -> None:
    ds.DimensionOrganizationSequence = _item(DimensionOrganizationUID=uid)
    ds.DimensionOrganizationType = "3D"
    index = []
    for pointer in (0x00209056, 0x00209057):  # StackID, InStackPositionNumber
        item = Dataset()
        item.DimensionOrganizationUID = uid
        item.DimensionIndexPointer = pointer
        item.FunctionalGroupPointer = 0x00209111  # FrameContentSequence
        index.append(item)
    ds.DimensionIndexSequence = DicomSequence(index)


def _private_blocks(slices: list[Dataset], ds: Dataset) -> None:
    """Copy the series-constant private elements (vendor SUV factors, scan datetime)."""
    first = slices[0]
    for element in first:
        if element.tag.is_private and all(
                s.get(element.tag) is not None and s[element.tag].value == element.value
                for s in slices):
            ds.add(element)


def write_enhanced_pet(series_dir: str | Path, out_dir: str | Path) -> Path:
    """Write a PET series as one Enhanced PET Image file (pydicom).

    Parameters
    ----------
    series_dir : path-like
        A single-frame PET series folder (Units BQML or CNTS).
    out_dir : path-like
        Folder to write ``enhanced-pet.dcm`` into (created).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    ValueError
        Units other than BQML/CNTS, a decay reference that is not known, inconsistent
        corrections, or files that are not one uncompressed single-frame PET series.
    """
    slices = _read_series(series_dir)
    first = slices[0]
    units = str(first.Units)
    if units not in _UNITS:
        raise ValueError(f"{first.filename}: Units {units} are not written as Enhanced PET")
    start = min(_acquisition(s) for s in slices)
    end = max(_acquisition(s) + timedelta(milliseconds=float(s.ActualFrameDuration))
              for s in slices)
    uid = first.SeriesInstanceUID
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ENHANCED_PET_STORAGE
    ds.file_meta.MediaStorageSOPInstanceUID = make_uid(uid, "enhanced", "instance")
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    ds.file_meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    for keyword in _COPIED:
        if keyword in first:
            setattr(ds, keyword, first[keyword].value)
    ds.SOPClassUID = ENHANCED_PET_STORAGE
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = make_uid(uid, "enhanced", "series")
    ds.SeriesNumber = int(first.SeriesNumber) + 200
    ds.Modality = "PT"
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.AcquisitionDateTime = _dt(start)
    ds.AcquisitionDuration = (end - start).total_seconds()
    ds.ContentQualification = "PRODUCT"
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.PresentationLUTShape = "IDENTITY"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    ds.RadiopharmaceuticalInformationSequence = _isotope(first, start)
    _acquisition_module(ds, float(first.ActualFrameDuration) / 1000.0)
    _corrections(ds, first, start)
    ds.AcquisitionContextSequence = DicomSequence([])
    _dimensions(ds, make_uid(uid, "enhanced", "dimensions"))
    reference = ds.get("DecayCorrectionDateTime")
    reference_dt = _parse(reference[:8], reference[8:]) if reference else None
    ds.SharedFunctionalGroupsSequence = DicomSequence([_shared_groups(first)])
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(
        [_frame_group(s, k, reference_dt, units) for k, s in enumerate(slices)])
    ds.NumberOfFrames = len(slices)
    _private_blocks(slices, ds)
    ds.PixelData = b"".join(s.PixelData for s in slices)
    ds["PixelData"].VR = "OW"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "enhanced-pet.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path
