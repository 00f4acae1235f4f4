"""The SUV-relevant header of a PET series, and the reading of its values.

:class:`PetHeader` holds one keyword mapping per slice (from files or published JSON
header sets), :class:`SuvConversion` the result of the SUV rules, and
:class:`HeaderReader` reads typed values (numbers, codes, dates, times on UTC or local)
and turns what cannot be read into a :class:`~nethelpers.dicom.errors.SuvError` naming the
file and the element. The rules themselves are :mod:`nethelpers.dicom.suv`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from pydicom.datadict import tag_for_keyword

from nethelpers.dicom.datetimes import parse_da, parse_dt, parse_tm
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.tracers import DecayWindow

__all__ = ["ISOTOPE_KEYS", "SERIES_KEYS", "HeaderReader", "Overrides", "PetHeader",
           "SuvConversion", "blank", "tag_name"]

_PRIVATE_TAGS = {
    "PhilipsSUVScaleFactor": "Philips SUV scale factor (7053,1000)",
    "PhilipsActivityConcentrationScaleFactor": "Philips activity concentration factor (7053,1009)",
    "GEScanDateTime": "GE scan datetime (0009,100D)",
}
ISOTOPE_KEYS = (
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
    "Radiopharmaceutical",
)
#: Series-level keywords that must agree across the slices of one series.
SERIES_KEYS = (
    "Units",
    "SUVType",
    "DecayCorrection",
    "SeriesDate",
    "SeriesTime",
    "PatientWeight",
    "PatientSize",
    "PatientSex",
    "CorrectedImage",
    "TimezoneOffsetFromUTC",
    *ISOTOPE_KEYS,
    "GEScanDateTime",
)


def tag_name(keyword: str) -> str:
    """Return ``"Keyword (gggg,eeee)"`` for a DICOM keyword (private names pass through)."""
    if keyword in _PRIVATE_TAGS:
        return _PRIVATE_TAGS[keyword]
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


# --------------------------------------------------------------------------------------
# Header model
# --------------------------------------------------------------------------------------


def _flatten(instance: Mapping[str, Any]) -> dict[str, Any]:
    """Lift the first RadiopharmaceuticalInformationSequence item's keys to the top level."""
    flat = dict(instance)
    items = flat.pop("RadiopharmaceuticalInformationSequence", None) or []
    if items:
        first = items[0]
        for key in ISOTOPE_KEYS:
            if key in first and flat.get(key) in (None, ""):
                flat[key] = first[key]
        codes = first.get("RadionuclideCodeSequence") or []
        if codes and "RadionuclideCodeMeaning" not in flat:
            flat["RadionuclideCodeMeaning"] = codes[0].get("CodeMeaning")
    # cornerstone-style JSON keeps Philips private values in a sub-dictionary
    philips = instance.get("PhilipsPETPrivateGroup") or {}
    if philips.get("SUVScaleFactor") not in (None, ""):
        flat.setdefault("PhilipsSUVScaleFactor", philips["SUVScaleFactor"])
    if philips.get("ActivityConcentrationScaleFactor") not in (None, ""):
        flat.setdefault(
            "PhilipsActivityConcentrationScaleFactor", philips["ActivityConcentrationScaleFactor"]
        )
    if instance.get("GEPrivatePostInjectionDateTime") not in (None, ""):
        flat.setdefault("GEScanDateTime", instance["GEPrivatePostInjectionDateTime"])
    return flat


def blank(value: Any) -> bool:
    """Whether a header value is missing (None) or only spaces."""
    return value is None or (isinstance(value, str) and not value.strip())


@dataclass(frozen=True)
class PetHeader:
    """The SUV-relevant header values of one PET series, one mapping per slice.

    Attributes
    ----------
    instances : tuple of dict
        Per-slice keyword -> value (str or number; lists for multi-valued elements). The
        isotope values may sit at the top level or in RadiopharmaceuticalInformationSequence.
        Private values use the names ``PhilipsSUVScaleFactor``,
        ``PhilipsActivityConcentrationScaleFactor`` and ``GEScanDateTime``.
    files : tuple of str
        The file of each slice (used in messages); default ``"<instance i>"``.
    notes : tuple of str
        Warnings collected while reading (e.g. a private element read without its creator).
    """

    instances: tuple[dict[str, Any], ...]
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()

    @classmethod
    def from_keywords(
        cls,
        instances: Sequence[Mapping[str, Any]],
        files: Sequence[str] | None = None,
        notes: Sequence[str] = (),
    ) -> PetHeader:
        """Build from per-instance keyword mappings (e.g. JSON header sets).

        Parameters
        ----------
        instances : sequence of mapping
            One mapping per slice.
        files : sequence of str, optional
            File names in the same order.
        notes : sequence of str
            Reading warnings to carry into the provenance.

        Returns
        -------
        PetHeader
        """
        if not instances:
            raise SuvError("no PET instances given")
        names = tuple(files) if files is not None else tuple(
            f"<instance {i}>" for i in range(len(instances))
        )
        if len(names) != len(instances):
            raise ValueError("files and instances differ in length")
        return cls(tuple(_flatten(i) for i in instances), names, tuple(notes))

    @property
    def first(self) -> dict[str, Any]:
        """The first slice's values (series-level values are checked to agree)."""
        return self.instances[0]

    @property
    def n_slices(self) -> int:
        """Number of slices."""
        return len(self.instances)


# --------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------


@dataclass
class SuvConversion:
    """Per-slice SUV factors and how they were obtained.

    Attributes
    ----------
    factors : numpy.ndarray
        ``float64`` of length n_slices: SUV = U × factor, where U is the rescaled pixel value
        (RescaleSlope · stored + RescaleIntercept) in the header's Units.
    provenance : dict
        JSON-serialisable record: norm, units, branch taken, injection and reference times,
        half-life, dose, decayed dose, body size, normaliser, factor(s) and warnings.
    """

    factors: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def factor(self) -> float | None:
        """The single factor when every slice has the same one (else None)."""
        f = self.factors
        if f.size and np.all(f == f[0]):
            return float(f[0])
        return None

    @property
    def warnings(self) -> list[str]:
        """Warnings recorded in the provenance."""
        return list(self.provenance.get("warnings", []))


@dataclass(frozen=True)
class Overrides:
    """Values from the clinical record that replace (or supply) the header's."""

    weight_kg: float | None = None
    height_m: float | None = None
    sex: str | None = None
    dose_bq: float | None = None
    injection: datetime | None = None
    half_life_s: float | None = None


class HeaderReader:
    """One conversion's header and state: typed values, provenance, warnings, time zones.

    Parameters
    ----------
    header : PetHeader
        The series.
    norm : str
        The SUV normalisation asked for.
    overrides : Overrides
        Given values that replace the header's.
    window : DecayWindow, optional
        The plausible decay times by radionuclide.
    """

    def __init__(self, header: PetHeader, norm: str, overrides: Overrides,
                 window: DecayWindow | None = None) -> None:
        self.h = header
        self.norm = norm
        self.o = overrides
        self.window = window or DecayWindow()
        self.warnings: list[str] = list(header.notes)
        self.branch: list[str] = []
        self.prov: dict[str, Any] = {}
        # which times were put on UTC (an offset known) and which stayed local, by source
        self.zones: dict[bool, str] = {}

    # -- helpers -------------------------------------------------------------------------
    def fail(self, problem: str, keyword: str | None = None, fix: str | None = None,
             index: int = 0) -> SuvError:
        """A :class:`SuvError` naming the slice's file, the element and the fix."""
        return SuvError(
            problem,
            file=self.h.files[index],
            tag=tag_name(keyword) if keyword else None,
            fix=fix,
        )

    def value(self, keyword: str, index: int = 0) -> Any:
        """A slice's value of ``keyword``; None when missing or blank."""
        v = self.h.instances[index].get(keyword)
        return None if blank(v) else v

    def number(self, keyword: str, index: int = 0) -> float | None:
        """A slice's value as a finite number (the first of a list); None if missing."""
        v = self.value(keyword, index)
        if v is None:
            return None
        if isinstance(v, (list, tuple)):
            v = v[0]
        try:
            x = float(v)
        except (TypeError, ValueError):
            raise self.fail(f"{v!r} is not a number", keyword, index=index) from None
        if not math.isfinite(x):
            raise self.fail(f"{v!r} is not a finite number", keyword, index=index)
        return x

    def text(self, keyword: str, index: int = 0) -> str | None:
        """A slice's value as upper-case text; None if missing."""
        v = self.value(keyword, index)
        return None if v is None else str(v).strip().upper()

    def codes(self, keyword: str) -> list[str]:
        """The first slice's multi-valued codes (e.g. CorrectedImage), upper case."""
        v = self.value(keyword)
        if v is None:
            return []
        items = v.split("\\") if isinstance(v, str) else list(v)
        return [str(x).strip().upper() for x in items]

    def date_of(self, keyword: str, index: int = 0) -> date | None:
        """A DA element of a slice as a date; None if missing."""
        v = self.value(keyword, index)
        if v is None:
            return None
        try:
            return parse_da(str(v))
        except ValueError as exc:
            raise self.fail(str(exc), keyword, index=index) from None

    def utc_offset(self, index: int) -> timedelta | None:
        """TimezoneOffsetFromUTC (0008,0201) of a slice, if present."""
        text = self.value("TimezoneOffsetFromUTC", index)
        if text is None:
            return None
        try:
            _, offset = parse_dt("19700101000000" + str(text).strip())
        except ValueError:
            raise self.fail(f"{text!r} is not an offset like +0100", "TimezoneOffsetFromUTC",
                            index=index) from None
        return offset

    def stamp(self, value: datetime, offset: timedelta | None, index: int, source: str
              ) -> datetime:
        """Put a time on UTC when its offset is known (its own or the file's).

        Otherwise it stays local; which one is remembered, so UTC and local never mix.
        """
        if offset is None:
            offset = self.utc_offset(index)
        self.zones.setdefault(offset is not None, source)
        return value - offset if offset is not None else value

    def check_zones(self) -> None:
        """Refuse comparing times on UTC with local ones."""
        if len(self.zones) > 1:
            raise self.fail(
                f"{self.zones[True]} carries a UTC offset but {self.zones[False]} is local time "
                "and the file has no TimezoneOffsetFromUTC: the times cannot be compared",
                "TimezoneOffsetFromUTC",
                "add TimezoneOffsetFromUTC (0008,0201) or pass the injection time "
                "(injection= / --injection)",
            )

    def datetime_of(self, date_kw: str, time_kw: str, index: int = 0,
                    on: date | None = None) -> datetime | None:
        """A DA + TM pair (or a TM on the date ``on``), on UTC when known."""
        t = self.value(time_kw, index)
        if t is None:
            return None
        d = on if on is not None else self.date_of(date_kw, index)
        if d is None:
            return None
        try:
            value = datetime.combine(d, parse_tm(str(t)))
        except ValueError as exc:
            raise self.fail(str(exc), time_kw, index=index) from None
        return self.stamp(value, None, index, time_kw)

    def dt_of(self, keyword: str, index: int = 0) -> datetime | None:
        """A DT element as a datetime; None (with a warning) if it has no time of day."""
        v = self.value(keyword, index)
        if v is None:
            return None
        text = str(v).strip()
        try:
            value, offset = parse_dt(text)
        except ValueError as exc:
            raise self.fail(str(exc), keyword, index=index) from None
        if len(text.split(".")[0].split("+")[0].split("-")[0]) < 12:
            message = f"{tag_name(keyword)} {text!r} has no time of day: ignored"
            if message not in self.warnings:
                self.warnings.append(message)
            return None
        return self.stamp(value, offset, index, keyword)
