"""Decay of the SUV rules: dose, half-life, injection, acquisition and reference times.

Rule 4 and 5 of :mod:`nethelpers.dicom.suv`: the injection time (a time-only injection
after the scan start was the day before, unless that puts it beyond the radionuclide's
decay window), the decay reference of each slice, and the refusal of decay times that
cannot be right (:class:`nethelpers.dicom.tracers.DecayWindow`).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np

from nethelpers.dicom.petheader import HeaderReader
from nethelpers.dicom.tracers import HALF_LIVES_S, radionuclide_name

__all__ = ["INJECTION_FIX", "KNOWN_HALF_LIVES_S", "DecayTimes", "frame_average_time_s"]

#: Half-lives (s) used only to cross-check the header, never to replace it.
KNOWN_HALF_LIVES_S = HALF_LIVES_S

#: The fix of an injection time that cannot be right.
INJECTION_FIX = (
    "give the injection date and time (--injection YYYY-MM-DDTHH:MM[:SS] of nethelpers suv "
    "and measure, injection= in Python), or correct RadiopharmaceuticalStartDateTime "
    "(0018,1078) in the export"
)


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


class DecayTimes(HeaderReader):
    """The dose, half-life and times of one conversion (a part of the SUV rules)."""

    def decay_correction(self) -> str:
        """DecayCorrection: START, ADMIN or NONE (refused otherwise)."""
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

    # -- dose, half-life, times ----------------------------------------------------------
    def dose_bq(self) -> float:
        """The injected activity in Bq: given, else RadionuclideTotalDose (MBq read as such)."""
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
        """The half-life in s: given, else RadionuclideHalfLife (checked, never replaced)."""
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
        """The radionuclide named by RadionuclideCodeMeaning, if any."""
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
            "check the given injection date and time" if given else INJECTION_FIX,
            index=int(np.argmax(times)),
        )

    def acquisition(self, index: int) -> datetime | None:
        """A slice's acquisition time: AcquisitionDateTime, else date + time."""
        dt = self.dt_of("AcquisitionDateTime", index)
        if dt is not None:
            return dt
        return self.datetime_of("AcquisitionDate", "AcquisitionTime", index)

    def acquisitions(self) -> list[datetime]:
        """Every slice's acquisition time (refused when one is missing)."""
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
        """SeriesDate + SeriesTime, if present."""
        return self.datetime_of("SeriesDate", "SeriesTime")

    def injection(self, scan_start: datetime, half: float) -> datetime:
        """The injection time (rule 4): given, else the header's, with its source."""
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
            INJECTION_FIX,
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
