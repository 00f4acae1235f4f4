"""SPECT: which series are SPECT, which are quantitative, and quantitative SPECT to SUV.

A series is SPECT when it is an NM object, or a PT object whose radionuclide is a
single-photon emitter (99mTc, 111In, 123I, 177Lu, 201Tl, 67Ga) or whose scanner is a SPECT
system (Siemens Symbia/Intevo xSPECT, GE Discovery NM/CT, ...). Such a series is named
SPECT everywhere, never PET.

Quantitative SPECT holds activity concentration (Bq/ml): an NM object with a Real World
Value Mapping in Bq/ml or Units BQML, or a PT object with Units BQML (xSPECT Quant). It
converts to SUV through the PET SUV rules (:mod:`nethelpers.dicom.suv`); for an NM object
the header is mapped to the keywords those rules take:

- Units BQML; DecayCorrection START with the decay reference = the acquisition start
  (AcquisitionDate/Time, which also stands in for SeriesDate/Time): SPECT activity is the
  activity at the start of the acquisition, there is no DecayCorrection element in NM;
  a DecayCorrection (0054,1102) written by a vendor (PET Series module) is honoured when
  START or ADMIN (with a warning) and refused otherwise;
- CorrectedImage as written, DECY added (for the reference above): ATTN must be there;
- RadionuclideTotalDose in MBq as the NM IOD defines it (PS3.3 C.8.4.10.1.7); a value of
  10^6 or more can only be Bq (vendors that write Bq): read so, with a warning; a value in
  between, or below 1 MBq, is refused (unless the dose is given: then it is not read).

Counts-only SPECT has no activity calibration: it is loaded as counts and measured as
ratios (lesion/background, lesion/liver), never as SUV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.rawread import RawDataset, keyword_tag

__all__ = ["COUNTS_FIX", "SINGLE_PHOTON", "SPECT_MODELS", "emission_system", "header_system",
           "is_counts_pt", "nm_pet_keywords", "spect_isotope"]

#: Radionuclides imaged by single-photon emission (a PT object of one is SPECT).
SINGLE_PHOTON = frozenset({"99mTc", "111In", "123I", "177Lu", "201Tl", "67Ga"})
#: Model names of SPECT systems (lower case) that may store reconstructions as PT objects.
SPECT_MODELS = ("symbia", "intevo", "discovery nm", "nm/ct", "optima nm", "infinia",
                "brightview", "anyscan", "veriton", "starguide")
#: The fix of every refusal of counts-only SPECT as SUV.
COUNTS_FIX = ("counts-only SPECT has no activity calibration: it is measured as ratios "
              "(quantify), not SUV; for SUV, reconstruct it in Bq/ml (quantitative SPECT)")

_T = {k: keyword_tag(k) for k in (
    "Modality", "ManufacturerModelName", "RadiopharmaceuticalInformationSequence",
    "RadiopharmaceuticalCodeSequence", "RadionuclideCodeSequence", "CodeValue", "CodeMeaning",
    "Radiopharmaceutical", "RadionuclideHalfLife", "SeriesDescription", "Units",
    "SeriesInstanceUID", "CorrectedImage", "AcquisitionDate", "AcquisitionTime", "SeriesDate",
    "SeriesTime", "PatientWeight", "PatientSize", "PatientSex", "TimezoneOffsetFromUTC",
    "RadionuclideTotalDose", "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime", "AcquisitionDateTime", "DecayCorrection",
)}
_MBQ_BELOW = 1e5     # NM doses below this are MBq (100 GBq: beyond any administration)
_BQ_FROM = 1e6       # and from this on they can only be Bq
_MBQ_FROM = 1.0      # and below 1 MBq no administered activity (the SUV rules' 1e6 Bq floor)


def emission_system(modality: str | None, radionuclide: str | None = None,
                    model: str | None = None) -> str:
    """``"SPECT"`` or ``"PET"`` for an emission series (``""`` for other modalities).

    Parameters
    ----------
    modality : str
        Modality (``"NM"``, ``"PT"``, ...).
    radionuclide : str, optional
        Canonical radionuclide name (``"99mTc"``, ``"177Lu"``, ...).
    model : str, optional
        ManufacturerModelName.

    Returns
    -------
    str
    """
    if modality == "NM":
        return "SPECT"
    if modality != "PT":
        return ""
    if radionuclide in SINGLE_PHOTON:
        return "SPECT"
    low = (model or "").lower()
    return "SPECT" if any(m in low for m in SPECT_MODELS) else "PET"


def spect_isotope(header: RawDataset) -> dict[str, str]:
    """Tracer and radionuclide named from the first radiopharmaceutical item.

    Parameters
    ----------
    header : RawDataset
        A file's (or frame's) header.

    Returns
    -------
    dict
        ``tracer`` and ``radionuclide`` (``""`` when unknown); empty without an item.
    """
    from nethelpers.dicom.tracers import radionuclide_name, tracer_name

    items = header.seq(_T["RadiopharmaceuticalInformationSequence"])
    if not items:
        return {}
    item = items[0]
    code = item.seq(_T["RadiopharmaceuticalCodeSequence"])
    nuclide = item.seq(_T["RadionuclideCodeSequence"])
    text = item.text(_T["Radiopharmaceutical"])
    return {
        "tracer": tracer_name(code[0].text(_T["CodeValue"]) if code else None,
                              code[0].text(_T["CodeMeaning"]) if code else None, text,
                              header.text(_T["SeriesDescription"])),
        "radionuclide": radionuclide_name(nuclide[0].text(_T["CodeMeaning"]) if nuclide
                                          else None, text,
                                          item.float(_T["RadionuclideHalfLife"]),
                                          single_photon=header.text(_T["Modality"]) == "NM"),
    }


def header_system(header: RawDataset) -> str:
    """``"SPECT"``, ``"PET"`` or ``""`` for a file's header (see :func:`emission_system`)."""
    modality = header.text(_T["Modality"])
    nuclide = spect_isotope(header).get("radionuclide") if modality == "PT" else None
    return emission_system(modality, nuclide, header.text(_T["ManufacturerModelName"]))


def is_counts_pt(header: RawDataset) -> bool:
    """A PT object from a SPECT system whose Units are not an activity (CNTS, PROPCNTS, ...)."""
    units = (header.text(_T["Units"]) or "").upper()
    return header_system(header) == "SPECT" and units not in ("BQML", "GML", "CM2ML")


def _nm_dose(item: RawDataset, file: Path, warnings: list[str], notes: list[str], *,
             given: bool = False) -> float | None:
    """The NM dose in Bq (MBq in the header), None when missing or replaced by ``given``."""
    dose = item.float(_T["RadionuclideTotalDose"])
    if given:
        notes.append("RadionuclideTotalDose not used: the injected activity was given")
        return None
    if dose is None or dose <= 0:
        return None   # the SUV rules refuse it, naming the element
    if dose < _MBQ_FROM:   # in Bq it would be re-read as MBq by the SUV rules: refuse here
        raise SuvError(f"{dose:g} MBq (the NM unit) is below any administered activity",
                       file=file, tag="RadionuclideTotalDose (0018,1074)",
                       fix="pass the injected activity in Bq (dose_bq= / --dose) or correct "
                           "RadionuclideTotalDose (in MBq) in the export")
    if dose < _MBQ_BELOW:
        notes.append(f"RadionuclideTotalDose {dose:g} read in MBq, as the NM IOD defines it "
                     "(PS3.3 C.8.4.10.1.7)")
        return dose * 1e6
    if dose >= _BQ_FROM:
        warnings.append(f"RadionuclideTotalDose {dose:g} is written in Bq although the NM "
                        "IOD defines MBq: read as Bq")
        return dose
    raise SuvError(f"{dose:g} is neither a plausible dose in MBq (as the NM IOD defines it) "
                   "nor in Bq", file=file, tag="RadionuclideTotalDose (0018,1074)",
                   fix="pass the injected activity in Bq (dose_bq= / --dose)")


def _nm_decay(header: RawDataset, file: Path, warnings: list[str]) -> tuple[str, str]:
    """DecayCorrection of an NM object (START unless a vendor wrote ADMIN) and its note."""
    written = (header.text(_T["DecayCorrection"]) or "").strip().upper()
    if written in ("", "START"):
        return "START", ("DecayCorrection START, decay reference = acquisition start (NM "
                         "values are the activity at the start of the acquisition)"
                         + ("" if not written else "; DecayCorrection START written"))
    if written == "ADMIN":
        warnings.append("DecayCorrection ADMIN written in the NM object (a vendor extension): "
                        "values read as decay-corrected to the administration")
        return "ADMIN", "DecayCorrection ADMIN as written: no decay from injection to scan"
    raise SuvError(f"DecayCorrection {written} in an NM object: the time its activity refers "
                   "to is not the acquisition start, and the frame timing to correct it is "
                   "not in an NM header", file=file, tag="DecayCorrection (0054,1102)",
                   fix="re-export the reconstruction decay-corrected to the acquisition start "
                       "(START) or to the administration (ADMIN)")


def nm_pet_keywords(header: RawDataset, file: Path, slope: float, intercept: float, *,
                    dose_given: bool = False) -> tuple[dict[str, Any], list[str], list[str]]:
    """The keyword mapping the SUV rules take, for a quantitative NM object.

    Parameters
    ----------
    header : RawDataset
        The NM object's header.
    file : pathlib.Path
        The file (for messages).
    slope, intercept : float
        The value scale (:func:`nethelpers.dicom.nmimage.nm_scale`), Bq/ml per stored value.
    dose_given : bool
        The injected activity is given (``dose_bq``): RadionuclideTotalDose is not read.

    Returns
    -------
    dict
        One instance's keywords (Units BQML, DecayCorrection START -- ADMIN when a vendor
        wrote it --, reference = the acquisition start, the dose in Bq).
    list of str
        Warnings (a dose written in Bq, a missing acquisition time).
    list of str
        Notes for the provenance's ``nm_mapping`` (how each value was mapped).
    """
    text = {k: header.text(_T[k]) for k in ("SeriesInstanceUID", "PatientSex",
                                            "TimezoneOffsetFromUTC", "AcquisitionDate",
                                            "AcquisitionTime", "AcquisitionDateTime",
                                            "SeriesDate", "SeriesTime")}
    warnings: list[str] = []
    decay, decay_note = _nm_decay(header, file, warnings)
    notes = ["Units BQML from the NM value scale", decay_note]
    date = text["AcquisitionDate"]
    time = text["AcquisitionTime"]
    if not (date and time) and text["AcquisitionDateTime"]:
        date, time = text["AcquisitionDateTime"][:8], text["AcquisitionDateTime"][8:]
    if not (date and time):
        date, time = text["SeriesDate"], text["SeriesTime"]
        if date and time:
            warnings.append("AcquisitionDate/Time missing: SeriesDate/Time taken as the "
                            "acquisition start")
    corrected = [c.upper() for c in header.texts(_T["CorrectedImage"])]
    if "DECY" not in corrected:
        corrected.append("DECY")
        notes.append("CorrectedImage: DECY added (values at the acquisition start)")
    out: dict[str, Any] = {
        "SeriesInstanceUID": text["SeriesInstanceUID"], "Units": "BQML",
        "DecayCorrection": decay, "CorrectedImage": corrected,
        "SeriesDate": date, "SeriesTime": time, "AcquisitionDate": date,
        "AcquisitionTime": time, "PatientSex": text["PatientSex"],
        "TimezoneOffsetFromUTC": text["TimezoneOffsetFromUTC"],
        "PatientWeight": header.float(_T["PatientWeight"]),
        "PatientSize": header.float(_T["PatientSize"]),
        "RescaleSlope": slope, "RescaleIntercept": intercept,
    }
    items = header.seq(_T["RadiopharmaceuticalInformationSequence"])
    if items:
        item = items[0]
        nuclide = item.seq(_T["RadionuclideCodeSequence"])
        out["RadiopharmaceuticalInformationSequence"] = [{
            "Radiopharmaceutical": item.text(_T["Radiopharmaceutical"]),
            "RadiopharmaceuticalStartTime": item.text(_T["RadiopharmaceuticalStartTime"]),
            "RadiopharmaceuticalStartDateTime":
                item.text(_T["RadiopharmaceuticalStartDateTime"]),
            "RadionuclideTotalDose": _nm_dose(item, file, warnings, notes,
                                              given=dose_given),
            "RadionuclideHalfLife": item.float(_T["RadionuclideHalfLife"]),
            "RadionuclideCodeSequence": [{"CodeMeaning": nuclide[0].text(_T["CodeMeaning"])}]
            if nuclide else [],
        }]
    return out, warnings, notes
