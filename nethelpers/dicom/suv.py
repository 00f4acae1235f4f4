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
from collections.abc import Mapping
from datetime import datetime

import numpy as np

from nethelpers.dicom.bodysize import NORMS, SUV_TYPE_NORMS, canonical_norm
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.petheader import (
    SERIES_KEYS,
    Overrides,
    PetHeader,
    SuvConversion,
    blank,
    tag_name,
)
from nethelpers.dicom.suvbody import BodySize
from nethelpers.dicom.suvtimes import KNOWN_HALF_LIVES_S, DecayTimes, frame_average_time_s
from nethelpers.dicom.tracers import DecayWindow

__all__ = [
    "KNOWN_HALF_LIVES_S",
    "PetHeader",
    "SuvConversion",
    "frame_average_time_s",
    "suv_conversion",
    "tag_name",
]


class _Rules(DecayTimes, BodySize):
    """One conversion: preconditions, activity to SUV, the branches of the pixel units.

    Reading the header is :class:`~nethelpers.dicom.petheader.HeaderReader`'s, the times
    :class:`~nethelpers.dicom.suvtimes.DecayTimes`' and the body size
    :class:`~nethelpers.dicom.suvbody.BodySize`'s.
    """

    # -- 1. preconditions ----------------------------------------------------------------
    def check_consistency(self) -> None:
        first = [(key, self.h.first.get(key)) for key in SERIES_KEYS]
        for index, inst in enumerate(self.h.instances[1:], start=1):
            get = inst.get
            for key, a in first:
                b = get(key)
                if a == b or (blank(a) and blank(b)):
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
            probe = _Rules(self.h, "bw", Overrides(), self.window)
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
    rules = _Rules(header, name, Overrides(weight_kg, height_m, sex, dose_bq, injection,
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
