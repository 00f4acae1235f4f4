"""Enhanced PET header semantics as the classic keywords the SUV rules read.

The SUV rules (:mod:`nethelpers.dicom.suv`) take the classic PET Image keywords. A multi-frame
PET object says the same things elsewhere; each frame's flat header (see
:func:`nethelpers.dicom.frameviews.frame_views`) gets the classic element when it lacks it,
and where the value came from is kept for the provenance (``sources``):

========================  ===============================================================
classic keyword           Enhanced PET (PS3.3 C.8.22) source
========================  ===============================================================
Units, SUVType            RealWorldValueMappingSequence (0040,9096) MeasurementUnitsCode-
                          Sequence (0040,08EA), UCUM (CID 84 "PET Units"): ``Bq/ml`` ->
                          BQML, ``{counts}`` -> CNTS, ``g/ml{SUVbw}`` -> GML/BW, ... The
                          mapping's slope and intercept must equal the frame's RescaleSlope
                          and RescaleIntercept, else which scale the unit applies to is
                          unknown and the object is refused.
DecayCorrection           DecayCorrected (0018,9758): NO -> NONE; YES -> START with the
                          explicit reference DecayCorrectionDateTime (0018,9701) (ADMIN is
                          the case where that is the injection; START with it gives the same
                          SUV and also honours a corrected injection time).
CorrectedImage            the Enhanced PET Corrections flags: DecayCorrected -> DECY,
                          AttenuationCorrected -> ATTN, ScatterCorrected -> SCAT, ...
AcquisitionDateTime       FrameContentSequence FrameAcquisitionDateTime (per frame)
ActualFrameDuration       FrameContentSequence FrameAcquisitionDuration (ms, FD)
RescaleSlope/Intercept    PixelValueTransformationSequence (0028,9145) (same tags)
========================  ===============================================================

The explicit decay reference is handed to the rules as the series time (their START rule
takes SeriesDateTime when it is not after the first acquisition) and the provenance then
names DecayCorrectionDateTime. A reference after the first frame's acquisition start cannot
be expressed that way and is refused. Legacy Converted objects carry the classic elements
themselves (in the unassigned sequences) and follow the classic rules unchanged. A required
value that is missing (Units, DecayCorrected, DecayCorrectionDateTime, AttenuationCorrected)
is refused with the file, the tag and a fix; nothing is assumed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from nethelpers.dicom.datetimes import parse_dt
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.frameviews import FrameViews
from nethelpers.dicom.petkeywords import pet_keywords
from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag

__all__ = ["CORRECTION_CODES", "UCUM_UNITS", "enhanced_pet_keywords", "finish_provenance"]

#: UCUM code of CID 84/85 -> (classic Units, SUVType). Older editions wrote ``{SUVbw}g/ml``.
UCUM_UNITS: dict[str, tuple[str, str | None]] = {
    "Bq/ml": ("BQML", None),
    "{counts}": ("CNTS", None),
    **{code: ("GML", suv_type) for suv_type, names in (
        ("BW", ("g/ml{SUVbw}", "{SUVbw}g/ml")),
        ("LBM", ("g/ml{SUVlbm}", "{SUVlbm}g/ml")),
        ("LBMJAMES128", ("g/ml{SUVlbm(James128)}", "{SUVlbm(James128)}g/ml")),
        ("LBMJANMA", ("g/ml{SUVlbm(Janma)}", "{SUVlbm(Janma)}g/ml")),
        ("IBW", ("g/ml{SUVibw}", "{SUVibw}g/ml")),
    ) for code in names},
    "cm2/ml{SUVbsa}": ("CM2ML", "BSA"),
    "{SUVbsa}cm2/ml": ("CM2ML", "BSA"),
}
#: Enhanced PET Corrections flag -> classic CorrectedImage code.
CORRECTION_CODES: tuple[tuple[str, str], ...] = (
    ("DecayCorrected", "DECY"), ("AttenuationCorrected", "ATTN"), ("ScatterCorrected", "SCAT"),
    ("DeadTimeCorrected", "DTIM"), ("GantryMotionCorrected", "MOTN"),
    ("PatientMotionCorrected", "PMOT"), ("CountLossNormalizationCorrected", "CLN"),
    ("RandomsCorrected", "RAN"), ("NonUniformRadialSamplingCorrected", "RADL"),
    ("SensitivityCalibrated", "DCAL"), ("DetectorNormalizationCorrection", "NORM"),
)
_PREFERRED_UNITS = ("BQML", "CNTS", "GML", "CM2ML")
_T = {k: keyword_tag(k) for k in (
    "Units", "SUVType", "DecayCorrection", "DecayCorrected", "DecayCorrectionDateTime",
    "CorrectedImage", "AttenuationCorrected", "ActualFrameDuration", "FrameAcquisitionDuration",
    "MeasurementUnitsCodeSequence", "CodeValue", "CodeMeaning", "RealWorldValueSlope",
    "RealWorldValueIntercept", "RealWorldValueLUTData", "RescaleSlope", "RescaleIntercept",
    "TimezoneOffsetFromUTC", "AcquisitionDateTime", *(k for k, _ in CORRECTION_CODES),
)}
_UNITS_TAG = "MeasurementUnitsCodeSequence (0040,08EA)"
_DCDT_TAG = "DecayCorrectionDateTime (0018,9701)"
_REEXPORT = ("re-export the object from the scanner, or load the original single-frame "
             "series, whose PET Series module carries it")


def _put(view: RawHeader, sources: dict[int, str], keyword: str, text: str, vr: str,
         source: str) -> None:
    """Add a classic element (text value) to a frame's view."""
    tag = _T[keyword] if keyword in _T else keyword_tag(keyword)
    view.elements[tag] = text.encode("latin-1")
    view.vrs[tag] = vr
    sources[tag] = source


# --------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------


def _mapping_units(item: RawDataset) -> tuple[str, str]:
    codes = item.seq(_T["MeasurementUnitsCodeSequence"])
    if not codes:
        return "", ""
    return (codes[0].text(_T["CodeValue"]) or "", codes[0].text(_T["CodeMeaning"]) or "")


def _units_from_mapping(frames: FrameViews, index: int) -> tuple[str, str | None, str] | None:
    """(Units, SUVType, UCUM code) from the frame's real-world value mapping, if it has one."""
    items = frames.real_world[index]
    if not items:
        return None
    view = frames.headers[index]
    slope = view.float(_T["RescaleSlope"], 1.0)
    intercept = view.float(_T["RescaleIntercept"], 0.0)
    found: list[tuple[str, str | None, str]] = []
    mismatch = unknown = ""
    for item in items:
        code, meaning = _mapping_units(item)
        if code not in UCUM_UNITS:
            unknown = f"{code or 'missing'!r} ({meaning})"
            continue
        rw_slope = item.float(_T["RealWorldValueSlope"])
        rw_intercept = item.float(_T["RealWorldValueIntercept"], 0.0)
        if rw_slope is None:
            kind = ("a lookup table (RealWorldValueLUTData)"
                    if _T["RealWorldValueLUTData"] in item else "without a slope")
            raise SuvError(f"the {code!r} mapping is {kind}, not a linear scale: it is not "
                           "read", file=frames.frame_name(index),
                           tag="RealWorldValueSlope (0040,9225)", fix=_REEXPORT)
        if abs(rw_slope - slope) > 1e-6 * abs(slope) or abs(rw_intercept - intercept) > 1e-9:
            mismatch = (f"RealWorldValueSlope {rw_slope:g} / intercept {rw_intercept:g} of the "
                        f"{code!r} mapping differ from RescaleSlope {slope:g} / intercept "
                        f"{intercept:g}")
            continue
        found.append((*UCUM_UNITS[code], code))
    if not found and not mismatch:
        raise SuvError(
            f"the real-world value unit {unknown} in RealWorldValueMappingSequence (0040,9096) "
            "is not one SUV can be computed from (Bq/ml, {counts} with Philips factors, or "
            "an SUV unit)", file=frames.frame_name(index), tag=_UNITS_TAG,
            fix="export the PET in Bq/ml (activity concentration) from the scanner")
    if not found:
        raise SuvError(f"{mismatch}: which scale the unit applies to is unknown",
                       file=frames.frame_name(index), tag="RealWorldValueSlope (0040,9225)",
                       fix=_REEXPORT)
    found.sort(key=lambda f: _PREFERRED_UNITS.index(f[0]))
    return found[0]


def _map_units(frames: FrameViews, index: int, enhanced: bool) -> str | None:
    view, sources = frames.headers[index], frames.sources[index]
    mapped = _units_from_mapping(frames, index)
    classic = view.text(_T["Units"])
    if mapped is None:
        if classic is None and enhanced:
            raise SuvError(
                "missing: the frame has no RealWorldValueMappingSequence (0040,9096) with "
                "MeasurementUnitsCodeSequence (and no Units (0054,1001)), so its pixel values "
                "have no known unit", file=frames.frame_name(index), tag=_UNITS_TAG,
                fix=_REEXPORT)
        return None
    units, suv_type, code = mapped
    if classic is not None and classic.upper() != units:
        raise SuvError(f"Units (0054,1001) {classic!r} contradicts the real-world value unit "
                       f"{code!r}", file=frames.frame_name(index), tag=_UNITS_TAG,
                       fix="check the object with the vendor; SUV would be a guess")
    label = f"RealWorldValueMappingSequence MeasurementUnitsCodeSequence {code!r}"
    if classic is None:
        _put(view, sources, "Units", units, "CS", label)
        if suv_type is not None and view.text(_T["SUVType"]) is None:
            _put(view, sources, "SUVType", suv_type, "CS", label)
    return code


# --------------------------------------------------------------------------------------
# Decay and corrections
# --------------------------------------------------------------------------------------


def _flag(frames: FrameViews, index: int, keyword: str) -> str | None:
    value = frames.headers[index].text(_T[keyword])
    if value is None:
        return None
    value = value.upper()
    if value not in ("YES", "NO"):
        raise SuvError(f"is {value!r}; expected YES or NO", file=frames.frame_name(index),
                       tag=_label(keyword))
    return value


def _label(keyword: str) -> str:
    tag = _T[keyword] if keyword in _T else keyword_tag(keyword)
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _map_decay(frames: FrameViews, index: int, enhanced: bool) -> str | None:
    """Set DecayCorrection from DecayCorrected; return DecayCorrectionDateTime when used."""
    view, sources = frames.headers[index], frames.sources[index]
    flag = _flag(frames, index, "DecayCorrected")
    classic = view.text(_T["DecayCorrection"])
    if flag is None:
        if classic is None and enhanced:
            raise SuvError("missing: it is not known whether the values are decay-corrected",
                           file=frames.frame_name(index), tag=_label("DecayCorrected"),
                           fix=_REEXPORT)
        return None
    if classic is not None and (classic.upper() == "NONE") != (flag == "NO"):
        raise SuvError(f"DecayCorrection (0054,1102) {classic!r} contradicts DecayCorrected "
                       f"{flag}", file=frames.frame_name(index), tag=_label("DecayCorrected"),
                       fix="check the object with the vendor; SUV would be a guess")
    where = sources.get(_T["DecayCorrected"], "")
    if flag == "NO":
        _put(view, sources, "DecayCorrection", "NONE", "CS", f"DecayCorrected NO ({where})")
        return None
    reference = view.text(_T["DecayCorrectionDateTime"])
    if reference is None:
        raise SuvError("missing although DecayCorrected is YES: the time the values are "
                       "decay-corrected to is unknown", file=frames.frame_name(index),
                       tag=_DCDT_TAG, fix=_REEXPORT)
    _put(view, sources, "DecayCorrection", "START", "CS",
         f"DecayCorrected YES with DecayCorrectionDateTime ({where})")
    return reference


def _map_corrections(frames: FrameViews, index: int, enhanced: bool) -> None:
    view, sources = frames.headers[index], frames.sources[index]
    flags = {k: _flag(frames, index, k) for k, _ in CORRECTION_CODES}
    classic = [c.upper() for c in view.texts(_T["CorrectedImage"])]
    attenuation = flags["AttenuationCorrected"]
    if enhanced and attenuation is None and not classic:
        raise SuvError("missing: it is not known whether the image is attenuation-corrected",
                       file=frames.frame_name(index), tag=_label("AttenuationCorrected"),
                       fix=_REEXPORT)
    if attenuation == "NO" or (attenuation == "YES" and classic and "ATTN" not in classic):
        raise SuvError(
            "the image is not attenuation-corrected (or the header contradicts itself): its "
            "values are not activity concentrations", file=frames.frame_name(index),
            tag=_label("AttenuationCorrected"), fix="use the attenuation-corrected (AC) series")
    if not classic and any(v is not None for v in flags.values()):
        codes = [code for keyword, code in CORRECTION_CODES if flags[keyword] == "YES"]
        _put(view, sources, "CorrectedImage", "\\".join(codes), "CS",
             "Enhanced PET Corrections module flags")


def _map_duration(frames: FrameViews, index: int) -> None:
    view, sources = frames.headers[index], frames.sources[index]
    duration = view.float(_T["FrameAcquisitionDuration"])
    if duration is None:
        return
    classic = view.float(_T["ActualFrameDuration"])
    if classic is not None and abs(classic - duration) > 1.0:
        raise SuvError(f"ActualFrameDuration (0018,1242) {classic:g} ms contradicts "
                       f"FrameAcquisitionDuration {duration:g} ms",
                       file=frames.frame_name(index), tag=_label("FrameAcquisitionDuration"),
                       fix="check the object with the vendor")
    _put(view, sources, "ActualFrameDuration", repr(float(duration)), "DS",
         f"{sources[_T['FrameAcquisitionDuration']]} FrameAcquisitionDuration")


# --------------------------------------------------------------------------------------
# The keyword sets
# --------------------------------------------------------------------------------------


def _local(frames: FrameViews, reference: str) -> datetime:
    """DecayCorrectionDateTime as local time of the file (the zone of its TM values)."""
    name = frames.frame_name(0)
    try:
        value, offset = parse_dt(reference)
    except ValueError as exc:
        raise SuvError(str(exc), file=name, tag=_DCDT_TAG) from None
    if len(reference.strip().split(".")[0][:14]) < 12:
        raise SuvError(f"{reference!r} has no time of day", file=name, tag=_DCDT_TAG,
                       fix=_REEXPORT)
    if offset is None:
        return value
    zone = frames.headers[0].text(_T["TimezoneOffsetFromUTC"])
    if zone is None:
        raise SuvError(f"{reference!r} carries a UTC offset but the file has no "
                       "TimezoneOffsetFromUTC: the times cannot be compared", file=name,
                       tag=_DCDT_TAG, fix="add TimezoneOffsetFromUTC (0008,0201)")
    _, file_offset = parse_dt("19700101000000" + zone.strip())
    return value - offset + (file_offset or timedelta(0))


def _earliest(keywords: list[dict[str, Any]]) -> datetime | None:
    times = []
    for kw in keywords:
        try:
            times.append(parse_dt(str(kw.get("AcquisitionDateTime") or ""))[0])
        except ValueError:
            return None  # the rules name the missing time
    return min(times) if times else None


def enhanced_pet_keywords(frames: FrameViews) -> tuple[list[dict[str, Any]], list[str],
                                                        dict[str, Any]]:
    """The SUV rules' keyword mapping of every frame, Enhanced PET semantics mapped.

    The frames' views get the classic elements they lack (see the module table).

    Parameters
    ----------
    frames : nethelpers.dicom.frameviews.FrameViews
        The flattened frames of a PET object.

    Returns
    -------
    list of dict
        One keyword mapping per frame (file order), as
        :func:`nethelpers.dicom.volume.pet_keywords` makes it.
    list of str
        Reading notes.
    dict
        What :func:`finish_provenance` adds: ``object``, ``sources`` and the decay
        reference taken from DecayCorrectionDateTime, if any.

    Raises
    ------
    SuvError
        Missing or contradictory Units, decay or attenuation information.
    """
    if frames.conflicts:
        keyword, where = frames.conflicts[0]
        raise SuvError(f"found twice with different values: {where}", file=frames.file,
                       tag=_label(keyword), fix="check the object with the vendor; SUV "
                       "would be a guess")
    enhanced = frames.object == "Enhanced PET"
    references, codes = set(), set()
    keywords: list[dict[str, Any]] = []
    notes: set[str] = set()
    for i in range(len(frames.headers)):
        code = _map_units(frames, i, enhanced)
        codes.add(code)
        reference = _map_decay(frames, i, enhanced)
        references.add(reference)
        _map_corrections(frames, i, enhanced)
        _map_duration(frames, i)
        kw, ns = pet_keywords(frames.headers[i])
        keywords.append(kw)
        notes.update(ns)
    mapping: dict[str, Any] = {"object": frames.object, "sources": _sources(frames)}
    if codes - {None}:
        mapping["units_code"] = sorted(c for c in codes if c)[0]
    reference = next(iter(references))
    if len(references) > 1:
        raise SuvError("DecayCorrectionDateTime differs between frames",
                       file=frames.file, tag=_DCDT_TAG, fix=_REEXPORT)
    if reference is not None:
        local = _local(frames, reference)
        earliest = _earliest(keywords)
        if earliest is not None and local > earliest:
            raise SuvError(
                f"{reference!r} is after the first frame's acquisition start "
                f"({earliest.isoformat()}): the SUV rules take a decay reference at or "
                "before the scan start", file=frames.file, tag=_DCDT_TAG,
                fix="load the original single-frame series, or re-export the object with "
                    "decay correction to the scan start or the injection")
        for kw in keywords:
            kw["SeriesDate"] = local.strftime("%Y%m%d")
            kw["SeriesTime"] = local.strftime("%H%M%S.%f")
        mapping["decay_correction_datetime"] = reference
        mapping["sources"]["SeriesTime"] = f"not used: {_DCDT_TAG} is the decay reference"
    return keywords, sorted(notes), mapping


_SUV_KEYWORDS = ("Units", "SUVType", "DecayCorrection", "CorrectedImage", "RescaleSlope",
                 "RescaleIntercept", "AcquisitionDateTime", "AcquisitionTime",
                 "ActualFrameDuration", "FrameReferenceTime", "SeriesTime", "PatientWeight",
                 "PatientSize", "PatientSex", "RadiopharmaceuticalInformationSequence")


def _sources(frames: FrameViews) -> dict[str, str]:
    """Where each SUV value of the frames came from (all frames' places, joined)."""
    out: dict[str, str] = {}
    for keyword in _SUV_KEYWORDS:
        tag = keyword_tag(keyword)
        places = list(dict.fromkeys(s[tag] for s in frames.sources if tag in s))
        if places:
            out[keyword] = places[0] if len(places) == 1 else " | ".join(places)
    return out


_SERIES_BRANCH = "reference: SeriesDateTime (not after the earliest acquisition)"


def finish_provenance(provenance: dict[str, Any], mapping: dict[str, Any]) -> None:
    """Add the object, the sources and the true name of the decay reference, in place.

    Parameters
    ----------
    provenance : dict
        The SUV conversion's provenance.
    mapping : dict
        From :func:`enhanced_pet_keywords`.

    Raises
    ------
    SuvError
        If the rules did not take the DecayCorrectionDateTime handed to them (a guard: the
        reference was checked before).
    """
    provenance["object"] = mapping["object"]
    provenance["sources"] = mapping["sources"]
    if "units_code" in mapping:
        provenance["units_code"] = mapping["units_code"]
    reference = mapping.get("decay_correction_datetime")
    if reference is None:
        return
    provenance["decay_correction_datetime"] = reference
    source = provenance.get("reference_source")
    if source is None:  # a branch without decay (Philips SUV factor, GML, ADMIN)
        return
    if source != "SeriesDateTime":
        raise SuvError("the decay reference could not be applied by the SUV rules",
                       file=provenance.get("first_file"), tag=_DCDT_TAG, fix=_REEXPORT)
    provenance["reference_source"] = _DCDT_TAG
    provenance["branch"] = [
        f"reference: {_DCDT_TAG} (Enhanced PET Corrections module)" if b == _SERIES_BRANCH
        else b for b in provenance.get("branch", [])
    ]
    if provenance.get("decay_time_s") == 0.0:
        provenance["branch"].append("DecayCorrectionDateTime is the injection: values refer "
                                    "to the administration (ADMIN)")
