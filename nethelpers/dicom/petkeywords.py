"""The SUV-relevant values of one PET file, as the keyword mapping the SUV rules take."""

from __future__ import annotations

from typing import Any

from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag

__all__ = ["PET_TAGS", "pet_keywords"]

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
_PRIVATE = (
    ("PhilipsSUVScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x00),
    ("PhilipsActivityConcentrationScaleFactor", 0x7053, _PHILIPS_CREATOR, 0x09),
    ("GEScanDateTime", 0x0009, _GE_CREATOR, 0x0D),
)
# tags looked up once (pydicom's dictionary is slow to ask per file)
_TEXT_TAGS = tuple((k, keyword_tag(k)) for k in _PET_TEXT)
_NUMBER_TAGS = tuple((k, keyword_tag(k)) for k in _PET_NUMBERS)
_ITEM_TEXT_TAGS = tuple((k, keyword_tag(k)) for k in _ISOTOPE_TEXT)
_ITEM_NUMBER_TAGS = tuple((k, keyword_tag(k)) for k in _ISOTOPE_NUMBERS)
_CORRECTED = keyword_tag("CorrectedImage")
_ISOTOPE_SEQ = keyword_tag("RadiopharmaceuticalInformationSequence")
_NUCLIDE_SEQ = keyword_tag("RadionuclideCodeSequence")
_MEANING = keyword_tag("CodeMeaning")

#: Every top-level tag :func:`pet_keywords` reads, private blocks included: a header read
#: with only these tags gives the same keywords as a full one.
PET_TAGS: frozenset[int] = frozenset(
    [t for _, t in _TEXT_TAGS + _NUMBER_TAGS]
    + [_CORRECTED, _ISOTOPE_SEQ]
    + [group << 16 | block for group in (0x7053, 0x0009) for block in range(0x10, 0x100)]
    + [group << 16 | block << 8 | element for _, group, _, element in _PRIVATE
       for block in range(0x10, 0x100)]
)


_MEMO: dict[tuple[Any, ...], Any] = {}
_MEMO_SIZE = 4096


def _get(ds: RawDataset, tag: int, kind: str) -> Any:
    """``ds.text``, ``ds.float`` or ``ds.texts`` of ``tag``, remembered by its raw bytes.

    The slices of a series repeat most values byte for byte (an index reads thousands):
    the value depends only on the bytes, the VR, the byte order and the character set,
    which make the key; the getter itself decodes each new one.
    """
    raw = ds.elements.get(tag)
    if type(raw) is not bytes:
        return getattr(ds, kind)(tag)
    key = (kind, tag, raw, ds.vrs.get(tag), ds.little_endian, ds.encodings)
    value = _MEMO.get(key, _MEMO)
    if value is _MEMO:
        value = getattr(ds, kind)(tag)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        _MEMO[key] = value
    return list(value) if type(value) is list else value


def _item_keywords(item: RawDataset) -> dict[str, Any]:
    out: dict[str, Any] = {k: _get(item, t, "text") for k, t in _ITEM_TEXT_TAGS}
    out.update({k: _get(item, t, "float") for k, t in _ITEM_NUMBER_TAGS})
    codes = item.seq(_NUCLIDE_SEQ)
    if codes:
        out["RadionuclideCodeSequence"] = [{"CodeMeaning": _get(codes[0], _MEANING, "text")}]
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
    out: dict[str, Any] = {k: _get(header, t, "text") for k, t in _TEXT_TAGS}
    out.update({k: _get(header, t, "float") for k, t in _NUMBER_TAGS})
    out["CorrectedImage"] = _get(header, _CORRECTED, "texts")
    items = header.seq(_ISOTOPE_SEQ)
    if items:
        out["RadiopharmaceuticalInformationSequence"] = [_item_keywords(items[0])]
    notes: list[str] = []
    groups = {tag >> 16 for tag in header.elements}  # most files hold none of the blocks
    for name, group, creator, element in _PRIVATE:
        if group not in groups:
            continue
        raw, note = header.private(group, creator, element)
        if raw is not None:
            text = raw.decode("latin-1").strip(" \x00")
            if text:
                out[name] = text
                if note:
                    notes.append(note)
    return out, notes
