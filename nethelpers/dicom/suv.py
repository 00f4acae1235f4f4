"""Vendor-neutral PET SUV rules: from header values to per-slice SUV factors with provenance.

The rules are those of ``DESIGN.md`` (after QIBA and the IBSI SUV manual):

1. Preconditions: Modality PT; CorrectedImage has ATTN, and DECY unless DecayCorrection is
   NONE; RescaleIntercept 0; PatientWeight > 0 (> 1000 means grams); dose > 0 (a value
   below 10 000 can only be MBq and is converted, with a warning).
2. Per-slice activity ``U = RescaleSlope_slice · stored + RescaleIntercept`` (slopes differ).
3. Units: BQML; CNTS via Philips (7053,1000) SUV factor, else (7053,1009) Bq/ml factor,
   else refused; GML / CM2ML are already normalised (SUVType BW, LBM, LBMJAMES128,
   LBMJANMA, IBW, BSA) and are converted between norms by the ratio of normalisers.
4. Injection: RadiopharmaceuticalStartDateTime, else RadiopharmaceuticalStartTime on the
   series date; a time-only injection after the scan start was the day before (midnight),
   unless that puts it beyond the decay window (then the time is wrong: refused).
   Decay times are refused when negative or beyond the radionuclide's window
   (:class:`nethelpers.dicom.tracers.DecayWindow`: 6 h for 18F, 4 h for 68Ga, ...).
5. Decay correction: ADMIN -> no decay; NONE -> per-frame decay and in-frame correction;
   START -> reference = SeriesDateTime if not after the earliest acquisition, else GE
   (0009,100D), else per image AcquisitionDateTime − FrameReferenceTime + Tave, else the
   earliest acquisition (with a warning).
6. Half-life from RadionuclideHalfLife only.
7. Norms: see :mod:`nethelpers.dicom.bodysize`.
8. Every conversion returns its provenance: branch, times, factors, warnings.

The input is a list of per-instance keyword mappings (:class:`PetHeader` builds it from
files or from JSON), so the same code runs on real series and on published header sets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from pydicom.datadict import tag_for_keyword

from nethelpers.dicom.bodysize import (
    NORMS,
    SUV_TYPE_NORMS,
    BodySizeError,
    Normaliser,
    canonical_norm,
    normaliser,
)
from nethelpers.dicom.datetimes import parse_da, parse_dt, parse_tm
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.tracers import HALF_LIVES_S, DecayWindow, radionuclide_name

__all__ = [
    "KNOWN_HALF_LIVES_S",
    "PetHeader",
    "SuvConversion",
    "frame_average_time_s",
    "suv_conversion",
]

#: Half-lives (s) used only to cross-check the header, never to replace it.
KNOWN_HALF_LIVES_S = HALF_LIVES_S

_PRIVATE_TAGS = {
    "PhilipsSUVScaleFactor": "Philips SUV scale factor (7053,1000)",
    "PhilipsActivityConcentrationScaleFactor": "Philips activity concentration factor (7053,1009)",
    "GEScanDateTime": "GE scan datetime (0009,100D)",
}
_ISOTOPE_KEYS = (
    "RadionuclideTotalDose",
    "RadionuclideHalfLife",
    "RadiopharmaceuticalStartTime",
    "RadiopharmaceuticalStartDateTime",
    "Radiopharmaceutical",
)
#: Series-level keywords that must agree across the slices of one series.
_SERIES_KEYS = (
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
    *_ISOTOPE_KEYS,
    "GEScanDateTime",
)
#: The fix of an injection time that cannot be right.
_INJECTION_FIX = (
    "give the injection date and time (--injection YYYY-MM-DDTHH:MM[:SS] of nethelpers suv "
    "and measure, injection= in Python), or correct RadiopharmaceuticalStartDateTime "
    "(0018,1078) in the export"
)


def tag_name(keyword: str) -> str:
    """Return ``"Keyword (gggg,eeee)"`` for a DICOM keyword (private names pass through)."""
    if keyword in _PRIVATE_TAGS:
        return _PRIVATE_TAGS[keyword]
    tag = tag_for_keyword(keyword)
    if tag is None:
        return keyword
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


def frame_average_time_s(half_life_s: float, frame_duration_s: float) -> float:
    """Decay-weighted mean time of a frame from its start: ``ln(λT / (1 − e^−λT)) / λ``.

    Parameters
    ----------
    half_life_s, frame_duration_s : float
        Half-life and frame duration in s.

    Returns
    -------
    float
        Tave in s (``T / 2`` without decay).
    """
    lam = math.log(2.0) / half_life_s
    x = lam * frame_duration_s
    if x < 1e-9:
        return frame_duration_s / 2.0
    return math.log(x / -math.expm1(-x)) / lam


# --------------------------------------------------------------------------------------
# Header model
# --------------------------------------------------------------------------------------


def _flatten(instance: Mapping[str, Any]) -> dict[str, Any]:
    """Lift the first RadiopharmaceuticalInformationSequence item's keys to the top level."""
    flat = dict(instance)
    items = flat.pop("RadiopharmaceuticalInformationSequence", None) or []
    if items:
        first = items[0]
        for key in _ISOTOPE_KEYS:
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


def _blank(value: Any) -> bool:
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


# --------------------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Overrides:
    weight_kg: float | None = None
    height_m: float | None = None
    sex: str | None = None
    dose_bq: float | None = None
    injection: datetime | None = None
    half_life_s: float | None = None


class _Rules:
    """One conversion: holds the header, the collected provenance and warnings."""

    def __init__(self, header: PetHeader, norm: str, overrides: _Overrides,
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
        return SuvError(
            problem,
            file=self.h.files[index],
            tag=tag_name(keyword) if keyword else None,
            fix=fix,
        )

    def value(self, keyword: str, index: int = 0) -> Any:
        v = self.h.instances[index].get(keyword)
        return None if _blank(v) else v

    def number(self, keyword: str, index: int = 0) -> float | None:
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
        v = self.value(keyword, index)
        return None if v is None else str(v).strip().upper()

    def codes(self, keyword: str) -> list[str]:
        v = self.value(keyword)
        if v is None:
            return []
        items = v.split("\\") if isinstance(v, str) else list(v)
        return [str(x).strip().upper() for x in items]

    def date_of(self, keyword: str, index: int = 0) -> date | None:
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

    # -- 1. preconditions ----------------------------------------------------------------
    def check_consistency(self) -> None:
        first = [(key, self.h.first.get(key)) for key in _SERIES_KEYS]
        for index, inst in enumerate(self.h.instances[1:], start=1):
            get = inst.get
            for key, a in first:
                b = get(key)
                if a == b or (_blank(a) and _blank(b)):
                    continue
                if str(a).strip() != str(b).strip():
                    raise self.fail(
                        f"differs between slices ({a!r} in {self.h.files[0]}, {b!r} here): "
                        "the series mixes acquisitions or patients",
                        key,
                        "split the series or remove the foreign files",
                        index=index,
                    )

    def check_overrides(self) -> None:
        o = self.o
        checks = (
            ("PatientWeight", o.weight_kg, 0.0, 700.0, "kg", "weight_kg= / --weight"),
            ("PatientSize", o.height_m, 0.3, 2.8, "m", "height_m= / --height"),
            ("RadionuclideTotalDose", o.dose_bq, 1e6, 1e11, "Bq", "dose_bq= / --dose"),
            ("RadionuclideHalfLife", o.half_life_s, 0.0, math.inf, "s",
             "half_life_s= / --half-life"),
        )
        for keyword, value, low, high, unit, how in checks:
            if value is None:
                continue
            if not (math.isfinite(value) and low < value <= high):
                raise self.fail(
                    f"the given value {value:g} {unit} is outside ({low:g}, {high:g}] {unit}",
                    keyword, f"pass the value in {unit} ({how})",
                )

    def check_preconditions(self) -> None:
        self.check_overrides()
        modality = self.text("Modality")
        if modality is not None and modality != "PT":
            raise self.fail(f"Modality is {modality}, not PT", "Modality",
                            "pass a PET series")
        corrected = self.codes("CorrectedImage")
        decay = self.decay_correction()
        if "ATTN" not in corrected:
            raise self.fail(
                "CorrectedImage lacks ATTN: the image is not attenuation-corrected, so its "
                "values are not activity concentrations",
                "CorrectedImage",
                "use the attenuation-corrected (AC) series",
            )
        if decay != "NONE" and "DECY" not in corrected:
            raise self.fail(
                f"DecayCorrection is {decay} but CorrectedImage lacks DECY: the header "
                "contradicts itself",
                "CorrectedImage",
                "check the series with the vendor; SUV would be a guess",
            )
        if decay == "NONE" and "DECY" in corrected:
            raise self.fail(
                "DecayCorrection is NONE but CorrectedImage lists DECY: the header "
                "contradicts itself",
                "DecayCorrection",
                "check the series with the vendor; SUV would be a guess",
            )
        for index in range(self.h.n_slices):
            intercept = self.number("RescaleIntercept", index) or 0.0
            if intercept != 0.0:
                raise self.fail(
                    f"RescaleIntercept is {intercept:g}, not 0: PET values with an offset "
                    "are not a plain activity scale",
                    "RescaleIntercept",
                    "re-export the series from the scanner without an intercept",
                    index=index,
                )

    def decay_correction(self) -> str:
        value = self.text("DecayCorrection")
        if value is None:
            raise self.fail(
                "is missing: it is not known whether the values are decay-corrected",
                "DecayCorrection",
                "re-export the series with its PET Series module",
            )
        if value not in ("START", "ADMIN", "NONE"):
            raise self.fail(f"is {value!r}; expected START, ADMIN or NONE", "DecayCorrection")
        return value

    # -- body size -----------------------------------------------------------------------
    def body_overridden(self) -> bool:
        return any(v is not None for v in (self.o.weight_kg, self.o.height_m, self.o.sex))

    def timing_overridden(self) -> bool:
        return any(v is not None for v in (self.o.dose_bq, self.o.injection, self.o.half_life_s))

    def weight_kg(self, header_only: bool = False) -> float:
        header = self.number("PatientWeight")
        if self.o.weight_kg is not None and not header_only:
            if header is not None and abs(header - self.o.weight_kg) > 1e-9 * header:
                message = f"weight {self.o.weight_kg:g} kg given overrides PatientWeight {header:g}"
                if message not in self.warnings:
                    self.warnings.append(message)
            self.prov["weight_source"] = "given"
            return float(self.o.weight_kg)
        if header is None or header <= 0:
            raise self.fail(
                "is missing or not positive: SUV needs the body weight",
                "PatientWeight",
                "pass the weight measured on the day (weight_kg= / --weight)",
            )
        if not header_only:
            self.prov["weight_source"] = "PatientWeight"
        if header > 1000.0:
            message = f"PatientWeight {header:g} read as grams ({header / 1000:g} kg)"
            if message not in self.warnings:
                self.warnings.append(message)
            return header / 1000.0
        return header

    def height_m(self, header_only: bool = False) -> float | None:
        if self.o.height_m is not None and not header_only:
            self.prov["height_source"] = "given"
            return float(self.o.height_m)
        header = self.number("PatientSize")
        if header is None or header <= 0:
            return None
        if not header_only:
            self.prov["height_source"] = "PatientSize"
        if header > 3.0:
            if 50.0 <= header <= 250.0:
                message = f"PatientSize {header:g} read as cm ({header / 100:g} m)"
                if message not in self.warnings:
                    self.warnings.append(message)
                return header / 100.0
            raise self.fail(f"{header:g} m is not a height", "PatientSize",
                            "pass the height in m (height_m= / --height)")
        return header

    def sex(self, header_only: bool = False) -> str | None:
        if self.o.sex is not None and not header_only:
            return self.o.sex.upper()
        return self.text("PatientSex")

    def normaliser(self, norm: str, header_only: bool = False) -> Normaliser:
        """The normaliser of ``norm``.

        ``header_only`` ignores the given body-size values (what the scanner used for an SUV
        it stored).
        """
        weight = self.weight_kg(header_only)
        height = self.height_m(header_only) if norm != "bw" else None
        sex = self.sex(header_only) if norm not in ("bw", "bsa") else None
        try:
            result = normaliser(norm, weight, height, sex)
        except BodySizeError as exc:
            keyword = {"height": "PatientSize", "sex": "PatientSex"}.get(exc.needs)
            fix = {
                "height": "pass the height (height_m= / --height)",
                "sex": "pass the sex (sex= / --sex M|F|O)",
            }.get(exc.needs, "choose another norm")
            raise self.fail(str(exc), keyword, fix) from None
        if not header_only:
            self.prov.update(weight_kg=weight, height_m=height, sex=sex)
        self.warnings.extend(w for w in result.warnings if w not in self.warnings)
        return result

    # -- dose, half-life, times ----------------------------------------------------------
    def dose_bq(self) -> float:
        if self.o.dose_bq is not None:
            self.prov["dose_source"] = "given"
            return float(self.o.dose_bq)
        dose = self.number("RadionuclideTotalDose")
        if dose is None or dose <= 0:
            raise self.fail(
                "is missing or not positive: SUV needs the injected activity",
                "RadionuclideTotalDose",
                "pass the injected activity in Bq (dose_bq= / --dose)",
            )
        self.prov["dose_source"] = "RadionuclideTotalDose"
        if dose < 1.0:
            raise self.fail(
                f"{dose:g} is not a plausible injected activity in Bq or MBq",
                "RadionuclideTotalDose",
                "pass the injected activity in Bq (dose_bq= / --dose)",
            )
        if dose < 1e4:
            self.warnings.append(
                f"RadionuclideTotalDose {dose:g} can only be MBq: read as {dose * 1e6:g} Bq"
            )
            return dose * 1e6
        if dose < 1e6:
            raise self.fail(
                f"{dose:g} Bq is neither a plausible activity in Bq nor in MBq",
                "RadionuclideTotalDose",
                "pass the injected activity in Bq (dose_bq= / --dose)",
            )
        return dose

    def half_life_s(self) -> float:
        if self.o.half_life_s is not None:
            self.prov["half_life_source"] = "given"
            half = float(self.o.half_life_s)
        else:
            half = self.number("RadionuclideHalfLife")
            if half is None or half <= 0:
                raise self.fail(
                    "is missing or not positive: decay cannot be computed (68Ga and 18F "
                    "differ, so no default is assumed)",
                    "RadionuclideHalfLife",
                    "pass the half-life in s (half_life_s= / --half-life)",
                )
            self.prov["half_life_source"] = "RadionuclideHalfLife"
        nuclide = self.radionuclide()
        if nuclide in KNOWN_HALF_LIVES_S:
            known = KNOWN_HALF_LIVES_S[nuclide]
            if abs(half - known) > 0.01 * known:
                source = "given" if self.o.half_life_s is not None else "header"
                self.warnings.append(
                    f"half-life {half:g} s does not match {nuclide} ({known:g} s); "
                    f"the {source} value is used"
                )
        return half

    def radionuclide(self) -> str | None:
        meaning = self.value("RadionuclideCodeMeaning")
        return radionuclide_name(None if meaning is None else str(meaning)) or None

    def decay_limit(self, half: float) -> tuple[float, str]:
        """The longest plausible decay time (s) of this series' radionuclide, and its rule."""
        text = self.value("Radiopharmaceutical")
        nuclide = self.radionuclide() or radionuclide_name(
            None, None if text is None else str(text), half)
        return self.window.limit(nuclide, half)

    def injection_tag(self) -> str | None:
        """The element the injection time came from (None when given)."""
        source = self.prov.get("injection_source", "")
        if source == "given":
            return None
        if source.startswith("RadiopharmaceuticalStartDateTime"):
            return "RadiopharmaceuticalStartDateTime"
        return "RadiopharmaceuticalStartTime"

    def check_window(self, times: np.ndarray, half: float, to: str) -> None:
        """Refuse a decay time beyond the radionuclide's window (a wrong date or time)."""
        longest = float(np.max(times))
        limit, rule = self.decay_limit(half)
        self.prov["decay_window_s"] = limit
        if longest <= limit:
            return
        source = self.prov.get("injection_source", "")
        given = source == "given"
        raise self.fail(
            f"decay time {longest / 3600:.1f} h ({longest / half:.1f} half-lives) from the "
            f"injection ({source}) to the {to} is beyond {rule}: the injection date or time, "
            "or the half-life, is wrong",
            self.injection_tag(),
            "check the given injection date and time" if given else _INJECTION_FIX,
            index=int(np.argmax(times)),
        )

    def acquisition(self, index: int) -> datetime | None:
        dt = self.dt_of("AcquisitionDateTime", index)
        if dt is not None:
            return dt
        return self.datetime_of("AcquisitionDate", "AcquisitionTime", index)

    def acquisitions(self) -> list[datetime]:
        times = [self.acquisition(i) for i in range(self.h.n_slices)]
        missing = [i for i, t in enumerate(times) if t is None]
        if missing:
            raise self.fail(
                "AcquisitionDate/AcquisitionTime missing: the scan time is unknown",
                "AcquisitionTime",
                "re-export the series with acquisition times",
                index=missing[0],
            )
        return times  # type: ignore[return-value]

    def series_datetime(self) -> datetime | None:
        return self.datetime_of("SeriesDate", "SeriesTime")

    def injection(self, scan_start: datetime, half: float) -> datetime:
        if self.o.injection is not None:
            self.prov["injection_source"] = "given"
            given = self.o.injection
            return self.stamp(given.replace(tzinfo=None), given.utcoffset(), 0,
                              "the given injection time")
        dt = self.dt_of("RadiopharmaceuticalStartDateTime")
        if dt is not None:
            self.prov["injection_source"] = "RadiopharmaceuticalStartDateTime"
            return dt
        day = self.date_of("SeriesDate") or self.date_of("AcquisitionDate")
        if day is None:
            raise self.fail("no SeriesDate to put the injection time on", "SeriesDate")
        injection = self.datetime_of("", "RadiopharmaceuticalStartTime", on=day)
        if injection is None:
            raise self.fail(
                "RadiopharmaceuticalStartDateTime and RadiopharmaceuticalStartTime are both "
                "missing: the injection time is unknown",
                "RadiopharmaceuticalStartTime",
                "pass the injection time (injection= / --injection YYYY-MM-DDTHH:MM:SS)",
            )
        source = "RadiopharmaceuticalStartTime on SeriesDate"
        if injection > scan_start:
            self.check_previous_day(injection, scan_start, half)
            injection -= timedelta(days=1)
            source += ", previous day (injection after scan start: midnight crossed)"
            self.warnings.append(
                "injection time of day is after the scan start: taken as the previous day"
            )
        self.prov["injection_source"] = source
        return injection

    def check_previous_day(self, injection: datetime, scan_start: datetime, half: float
                           ) -> None:
        """Refuse a time-only injection that fits only as the previous day beyond the window."""
        decay = (scan_start - (injection - timedelta(days=1))).total_seconds()
        limit, rule = self.decay_limit(half)
        if decay <= limit:
            return
        after = (injection - scan_start).total_seconds() / 3600
        raise self.fail(
            f"the injection time of day {injection:%H:%M:%S} is {after:.1f} h after the scan "
            f"start {scan_start:%H:%M:%S} and no injection date is given: read as the previous "
            f"day, the decay time would be {decay / 3600:.1f} h ({decay / half:.1f} "
            f"half-lives), beyond {rule}; the injection time is wrong",
            "RadiopharmaceuticalStartTime",
            _INJECTION_FIX,
        )

    def start_references(self, acquisitions: list[datetime], half: float) -> list[datetime]:
        """Rule 5 START: the decay reference time of each slice."""
        earliest = min(acquisitions)
        series = self.series_datetime()
        n = self.h.n_slices
        if series is not None and series <= earliest:
            self.branch.append("reference: SeriesDateTime (not after the earliest acquisition)")
            self.prov["reference_source"] = "SeriesDateTime"
            return [series] * n
        if series is None:
            self.warnings.append("SeriesDate/SeriesTime missing: the series time cannot be used")
        ge = self.dt_of("GEScanDateTime")
        if ge is not None:
            self.branch.append("reference: GE private scan datetime (0009,100D)")
            self.prov["reference_source"] = "GE (0009,100D)"
            return [ge] * n
        frts = [self.number("FrameReferenceTime", i) for i in range(n)]
        durations = [self.number("ActualFrameDuration", i) for i in range(n)]
        if all(f is not None and f > 0 for f in frts) and all(
            d is not None and d > 0 for d in durations
        ):
            refs = [
                acq - timedelta(seconds=frt / 1000.0)  # type: ignore[operator]
                + timedelta(seconds=frame_average_time_s(half, dur / 1000.0))  # type: ignore[operator]
                for acq, frt, dur in zip(acquisitions, frts, durations, strict=True)
            ]
            spread = (max(refs) - min(refs)).total_seconds()
            if spread > 1.0:
                self.warnings.append(
                    f"decay reference back-computed from FrameReferenceTime differs by "
                    f"{spread:.1f} s between slices; each slice uses its own"
                )
            self.branch.append(
                "reference: AcquisitionDateTime − FrameReferenceTime + Tave (post-processed "
                "series: SeriesTime after the acquisition)"
            )
            self.prov["reference_source"] = "FrameReferenceTime back-computation"
            return refs
        self.branch.append("reference: earliest AcquisitionDateTime (fallback)")
        self.prov["reference_source"] = "earliest AcquisitionDateTime"
        self.warnings.append(
            "SeriesTime is after the acquisition and neither GE (0009,100D) nor a usable "
            "FrameReferenceTime is present: the earliest acquisition time is used as the "
            "decay reference; check it against the scanner's SUV"
        )
        return [earliest] * n

    # -- the conversion ------------------------------------------------------------------
    def activity_factors(self) -> np.ndarray:
        """SUV per Bq/ml of each slice (decay-corrected dose, body-size normaliser)."""
        norm = self.normaliser(self.norm)
        self.prov.update(normaliser=norm.value, normaliser_unit=norm.unit,
                         normaliser_formula=norm.formula)
        dose = self.dose_bq()
        self.prov["dose_bq"] = dose
        decay = self.decay_correction()
        n = self.h.n_slices
        if decay == "ADMIN":
            self.branch.append("DecayCorrection ADMIN: values refer to injection, no decay")
            self.prov["decayed_dose_bq"] = dose
            return np.full(n, norm.value / dose)
        half = self.half_life_s()
        lam = math.log(2.0) / half
        acquisitions = self.acquisitions()
        injection = self.injection(min(acquisitions), half)
        self.prov.update(half_life_s=half, injection=injection.isoformat())
        if self.zones.get(True):
            self.prov["times_in"] = "UTC"
        if decay == "START":
            self.branch.append("DecayCorrection START")
            refs = self.start_references(acquisitions, half)
            self.check_zones()
            times = np.array([(r - injection).total_seconds() for r in refs])
            if np.any(times < 0):
                i = int(np.argmin(times))
                raise self.fail(
                    f"negative decay time: the decay reference {refs[i].isoformat()} is "
                    f"before the injection {injection.isoformat()}",
                    "RadiopharmaceuticalStartDateTime",
                    "correct the injection time (injection= / --injection)",
                    index=i,
                )
            decayed = dose * np.exp(-lam * times)
            self.prov["reference_time"] = (
                refs[0].isoformat() if len(set(refs)) == 1
                else [r.isoformat() for r in refs]
            )
        else:
            self.branch.append(
                "DecayCorrection NONE: per-frame decay from injection to frame start, and "
                "in-frame decay (λT / (1 − e^−λT))"
            )
            durations = [self.number("ActualFrameDuration", i) for i in range(n)]
            bad = [i for i, d in enumerate(durations) if d is None or d <= 0]
            if bad:
                raise self.fail(
                    "missing: without the frame duration the in-frame decay is unknown",
                    "ActualFrameDuration",
                    "re-export the series with its PET Image module",
                    index=bad[0],
                )
            self.check_zones()
            starts = np.array([(a - injection).total_seconds() for a in acquisitions])
            if np.any(starts < 0):
                i = int(np.argmin(starts))
                raise self.fail(
                    "negative decay time: the frame starts before the injection",
                    "RadiopharmaceuticalStartDateTime",
                    "correct the injection time (injection= / --injection)",
                    index=i,
                )
            x = lam * np.array(durations, dtype=float) / 1000.0
            in_frame = np.where(x > 1e-12, x / -np.expm1(-np.maximum(x, 1e-300)), 1.0)
            # activity at frame start = mean × in_frame; decayed dose at that time:
            times = starts
            decayed = dose * np.exp(-lam * starts) / in_frame
            self.prov["frame_starts"] = sorted({a.isoformat() for a in acquisitions})
        self.prov["decay_time_s"] = (
            float(times[0]) if np.all(times == times[0]) else [float(t) for t in times]
        )
        self.check_zones()
        self.check_window(times, half, "decay reference" if decay == "START" else "frame start")
        self.prov["decayed_dose_bq"] = (
            float(decayed[0]) if np.all(decayed == decayed[0]) else [float(d) for d in decayed]
        )
        return norm.value / decayed

    def convert(self) -> np.ndarray:
        self.check_consistency()
        self.check_preconditions()
        units = self.text("Units")
        self.prov["units"] = units
        if units == "BQML":
            self.branch.append("Units BQML: values are Bq/ml")
            self.prov["bqml_factor"] = 1.0
            return self.activity_factors()
        if units == "CNTS":
            return self.counts()
        if units in ("GML", "CM2ML"):
            return self.normalised(units)
        if units is None:
            raise self.fail("is missing: the pixel values have no known unit", "Units",
                            "re-export the series with its PET Series module")
        fix = "export the series in BQML (activity concentration) from the scanner"
        if units == "PROPCNTS":
            raise self.fail("PROPCNTS (counts proportional to activity) has no absolute "
                            "scale: SUV cannot be computed", "Units", fix)
        raise self.fail(f"{units!r} cannot be converted to SUV (BQML, CNTS with Philips "
                        "factors, GML and CM2ML can)", "Units", fix)

    def per_slice(self, keyword: str) -> np.ndarray | None:
        """A positive value on every slice as an array, or None if any slice lacks it."""
        values = [self.number(keyword, i) for i in range(self.h.n_slices)]
        if any(v is None or v <= 0 for v in values):
            return None
        return np.array(values, dtype=np.float64)

    def counts(self) -> np.ndarray:
        suv_factor = self.per_slice("PhilipsSUVScaleFactor")
        bqml_factor = self.per_slice("PhilipsActivityConcentrationScaleFactor")
        if bqml_factor is not None and (suv_factor is None or self.timing_overridden()):
            self.branch.append("Units CNTS: Philips activity concentration factor (7053,1009)")
            self.prov["bqml_factor"] = _scalar_or_list(bqml_factor)
            return self.activity_factors() * bqml_factor
        if suv_factor is not None:
            if self.timing_overridden():
                raise self.fail(
                    "a given dose, injection time or half-life cannot be applied to the "
                    "scanner's SUV factor (7053,1000) without (7053,1009)",
                    "PhilipsSUVScaleFactor",
                    "drop the dose/injection/half-life values or export the series in BQML",
                )
            self.branch.append("Units CNTS: Philips SUV scale factor (7053,1000)")
            self.prov["philips_suv_factor"] = _scalar_or_list(suv_factor)
            if bqml_factor is not None:
                self.prov["bqml_factor"] = _scalar_or_list(bqml_factor)
                self.cross_check(float(suv_factor[0]), float(bqml_factor[0]))
            return suv_factor * self.ratio("bw", self.norm)
        raise self.fail(
            "Units CNTS without Philips (7053,1000) or (7053,1009) on every slice: counts "
            "have no activity scale",
            "Units",
            "export the series in BQML from the scanner",
        )

    def cross_check(self, suv_factor: float, bqml_factor: float) -> None:
        """Compare Philips's SUV factor with ours from (7053,1009); warn beyond 2 %."""
        try:
            probe = _Rules(self.h, "bw", _Overrides(), self.window)
            ours = float(np.mean(probe.activity_factors())) * bqml_factor
        except SuvError as exc:
            self.warnings.append(f"Philips SUV factor not cross-checked: {exc.problem}")
            return
        self.prov["philips_cross_check_factor"] = ours
        if abs(ours - suv_factor) > 0.02 * suv_factor:
            self.warnings.append(
                f"Philips SUV factor {suv_factor:g} differs from {ours:g} computed from "
                "(7053,1009), dose and decay by more than 2 %"
            )

    def normalised(self, units: str) -> np.ndarray:
        suv_type = self.text("SUVType")
        default = "BW" if units == "GML" else "BSA"
        if suv_type is None:
            suv_type = default
            self.warnings.append(f"Units {units} without SUVType: assumed {default}")
        if suv_type not in SUV_TYPE_NORMS:
            raise self.fail(f"{suv_type!r} is not a DICOM SUV type", "SUVType",
                            f"expected one of {', '.join(SUV_TYPE_NORMS)}")
        source = SUV_TYPE_NORMS[suv_type]
        if NORMS[source][1] != ("g" if units == "GML" else "cm2"):
            raise self.fail(f"SUVType {suv_type} does not go with Units {units}", "SUVType")
        self.prov["suv_type"] = suv_type
        self.branch.append(f"Units {units}: values are already SUV ({suv_type})")
        if self.timing_overridden():
            raise self.fail(
                f"Units {units}: the values are already SUV; a given dose, injection time or "
                "half-life cannot be applied to them",
                "Units",
                "drop the dose/injection/half-life values",
            )
        if suv_type == "LBM" and source != self.norm:
            self.warnings.append(
                "SUVType LBM read as James's formula with the male constant 120 (DICOM); "
                "some scanners use 128 (LBMJAMES128): check with the vendor"
            )
        return np.full(self.h.n_slices, self.ratio(source, self.norm))

    def record_body_size(self, norm: str) -> None:
        """Record the header's body size behind a scanner-computed SUV, when it is there.

        The SUV needs no body size of ours then (the scanner applied its own), but SUL and
        the other norms do: without it the provenance says why (``body_size``).
        """
        try:
            found = self.normaliser(norm)
        except SuvError as exc:
            self.prov["body_size"] = f"not in the header ({exc.tag or ''} {exc.problem})".strip()
            return
        self.prov.update(normaliser=found.value, normaliser_unit=found.unit,
                         normaliser_formula=found.formula)

    def ratio(self, source: str, target: str) -> float:
        """Factor turning a stored SUV normalised by ``source`` into one by ``target``.

        The stored SUV used the header's body size (as the scanner computed it); the target
        uses the given body size when there is one.
        """
        if source == target and not self.body_overridden():
            self.prov.setdefault("normaliser_formula", NORMS[target][0])
            self.record_body_size(target)
            return 1.0
        a = self.normaliser(source, header_only=True)
        b = self.normaliser(target)
        self.prov.update(normaliser=b.value, normaliser_unit=b.unit,
                         normaliser_formula=b.formula, source_normaliser=a.value)
        self.branch.append(f"converted from {source} (header body size) to {target}: "
                           f"× {b.value:g} / {a.value:g}")
        return b.value / a.value


def _scalar_or_list(values: np.ndarray) -> float | list[float]:
    if np.all(values == values[0]):
        return float(values[0])
    return [float(v) for v in values]


def suv_conversion(
    header: PetHeader,
    norm: str = "bw",
    *,
    weight_kg: float | None = None,
    height_m: float | None = None,
    sex: str | None = None,
    dose_bq: float | None = None,
    injection: datetime | None = None,
    half_life_s: float | None = None,
    max_decay_h: Mapping[str, float] | None = None,
    max_decay_half_lives: float | None = None,
) -> SuvConversion:
    """Apply the SUV rules to a PET series' headers.

    Parameters
    ----------
    header : PetHeader
        Per-slice header values.
    norm : str
        ``bw`` (default), ``lbm`` (= ``lbm-janma``, SUL), ``lbm-james`` (James 128),
        ``lbm-james120``, ``bsa`` (cm²/ml) or ``ibw``.
    weight_kg, height_m, sex, dose_bq, injection, half_life_s : optional
        Values from the clinical record that replace (or supply) the header's; each use is
        recorded in the provenance.
    max_decay_h : mapping of str to float, optional
        Decay window (h) by radionuclide (``quantify.max_decay_h``); nuclides not in it keep
        :data:`nethelpers.dicom.tracers.DECAY_WINDOW_H`.
    max_decay_half_lives : float, optional
        Window of a radionuclide in neither mapping, in half-lives
        (``quantify.max_decay_half_lives``; default
        :data:`nethelpers.dicom.tracers.DECAY_WINDOW_HALF_LIVES`).

    Returns
    -------
    SuvConversion
        Per-slice factors and provenance.

    Raises
    ------
    SuvError
        When the data cannot be converted without guessing; the message names the file,
        the element and the fix.
    """
    name = canonical_norm(norm)
    if sex is not None and sex.upper() not in ("M", "F", "O"):
        raise ValueError(f"sex must be M, F or O, got {sex!r}")
    window = DecayWindow(dict(max_decay_h or {}))
    if max_decay_half_lives is not None:
        window = DecayWindow(window.hours, max_decay_half_lives)
    rules = _Rules(header, name, _Overrides(weight_kg, height_m, sex, dose_bq, injection,
                                            half_life_s), window)
    factors = np.asarray(rules.convert(), dtype=np.float64)
    bad = ~(np.isfinite(factors) & (factors > 0))
    if bad.any():
        raise rules.fail(f"the SUV factor is {factors[bad][0]!r}: the header values give no "
                         "valid conversion", index=int(np.argmax(bad)))
    prov = {
        "norm": name,
        "suv_unit": "cm2/ml" if NORMS[name][1] == "cm2" else "g/ml",
        "series_uid": rules.value("SeriesInstanceUID"),
        "first_file": header.files[0],
        "n_slices": header.n_slices,
        "branch": rules.branch,
        **rules.prov,
    }
    uniform = bool(np.all(factors == factors[0]))
    prov["factor"] = float(factors[0]) if uniform else None
    prov["factor_min"] = float(factors.min())
    prov["factor_max"] = float(factors.max())
    if not uniform:
        prov["slice_factors"] = [float(f) for f in factors]
    prov["warnings"] = list(dict.fromkeys(rules.warnings))
    return SuvConversion(factors, prov)
