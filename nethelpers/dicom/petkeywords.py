"""The SUV-relevant values of one PET file, as the keyword mapping the SUV rules take."""

from __future__ import annotations

from typing import Any

from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag

__all__ = ["pet_keywords"]

_PHILIPS_CREATOR = "Philips PET Private Group"
_GE_CREATOR = "GEMS_PETD_01"


_PET_TEXT = (
    "Modality", "SeriesInstanceUID", "Units", "SUVType", "DecayCorrection", "CorrectedImage",
    "SeriesDate", "SeriesTime", "AcquisitionDate", "AcquisitionTime", "AcquisitionDateTime",
    "PatientSex", "TimezoneOffsetFromUTC",
)
_PET_NUMBERS = (
    "FrameReferenceTime", "ActualFrameDuration", "PatientWeight", "PatientSize",
    "RescaleSlope", "RescaleIntercept",
)
_ISOTOPE_TEXT = ("Radiopharmaceutical", "RadiopharmaceuticalStartTime",
                 "RadiopharmaceuticalStartDateTime")
_ISOTOPE_NUMBERS = ("RadionuclideTotalDose", "RadionuclideHalfLife")


def _item_keywords(item: RawDataset) -> dict[str, Any]:
    out: dict[str, Any] = {k: item.text(keyword_tag(k)) for k in _ISOTOPE_TEXT}
    out.update({k: item.float(keyword_tag(k)) for k in _ISOTOPE_NUMBERS})
    codes = item.seq(keyword_tag("RadionuclideCodeSequence"))
    if codes:
        meaning = codes[0].text(keyword_tag("CodeMeaning"))
        out["RadionuclideCodeSequence"] = [{"CodeMeaning": meaning}]
    return out


def pet_keywords(header: RawHeader) -> tuple[dict[str, Any], list[str]]:
    """The SUV-relevant values of one PET file as a keyword mapping.

    Parameters
    ----------
    header : RawHeader
        A full header (private elements included).

    Returns
    -------
    dict
        Keyword -> value, the isotope item under RadiopharmaceuticalInformationSequence,
        Philips and GE private values under ``PhilipsSUVScaleFactor``,
        ``PhilipsActivityConcentrationScaleFactor`` and ``GEScanDateTime``.
    list of str
        Warnings (private elements read without their creator).
    """
    out: dict[str, Any] = {k: header.text(keyword_tag(k)) for k in _PET_TEXT}
    out.update({k: header.float(keyword_tag(k)) for k in _PET_NUMBERS})
    out["CorrectedImage"] = header.texts(keyword_tag("CorrectedImage"))
    items = header.seq(keyword_tag("RadiopharmaceuticalInformationSequence"))
    if items:
        out["RadiopharmaceuticalInformationSequence"] = [_item_keywords(items[0])]
    notes: list[str] = []
    for name, group, creator, element in (
        ("PhilipsSUVScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x00),
        ("PhilipsActivityConcentrationScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x09),
        ("GEScanDateTime", 0x0009, _GE_CREATOR, 0x0D),
    ):
        raw, note = header.private(group, creator, element)
        if raw is not None:
            text = raw.decode("latin-1").strip(" \x00")
            if text:
                out[name] = text
                if note:
                    notes.append(note)
    return out, notes
