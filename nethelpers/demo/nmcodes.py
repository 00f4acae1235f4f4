"""Codes, half-lives and energy windows of single-photon radionuclides and SPECT tracers.

Radionuclide codes are the SNOMED CT codes of DICOM CID 18 "Isotopes in Radiopharmaceuticals",
radiopharmaceutical codes those of CID 25 (both checked against pydicom's concept
dictionary); half-lives are NNDC values; the windows are the usual photopeak windows
(99mTc: 140.5 keV, 15 %: 129.96-151.04 keV).
"""

from __future__ import annotations

from dataclasses import dataclass

from nethelpers.demo import dicomwrite as dw

__all__ = ["SPECT_RADIONUCLIDES", "SPECT_RADIOPHARMACEUTICALS", "EnergyWindow", "SpectNuclide"]


@dataclass(frozen=True)
class EnergyWindow:
    """One energy window: name and range in keV."""

    name: str
    lower_kev: float
    upper_kev: float


def _window(name: str, peak_kev: float, width: float) -> EnergyWindow:
    return EnergyWindow(name, round(peak_kev * (1 - width / 2), 2),
                        round(peak_kev * (1 + width / 2), 2))


@dataclass(frozen=True)
class SpectNuclide:
    """A single-photon radionuclide: its code (DICOM CID 18), half-life and photopeaks."""

    code: dw.Code
    half_life_s: float
    windows: tuple[EnergyWindow, ...]


#: Single-photon radionuclides: SNOMED CT codes of CID 18 "Isotopes in Radiopharmaceuticals"
#: (checked against pydicom's concept dictionary), half-lives (NNDC), usual photopeak windows.
SPECT_RADIONUCLIDES: dict[str, SpectNuclide] = {
    "99mTc": SpectNuclide(dw.Code("72454006", "SCT", "^99m^Technetium"), 21624.12,
                          (_window("Tc99m", 140.5, 0.15),)),
    "177Lu": SpectNuclide(dw.Code("447553000", "SCT", "^177^Lutetium"), 574300.8,
                          (_window("Lu177", 208.4, 0.20),)),
    "111In": SpectNuclide(dw.Code("56609000", "SCT", "^111^Indium"), 242326.1,
                          (_window("In111_171", 171.3, 0.20), _window("In111_245", 245.4, 0.20))),
    "123I": SpectNuclide(dw.Code("21572004", "SCT", "^123^Iodine"), 47592.0,
                         (_window("I123", 159.0, 0.15),)),
}

#: (tracer, radionuclide) -> Radiopharmaceutical text and code (CID 25 where DICOM has one;
#: 99mTc-HYNIC-TOC has no code and is written as text only).
SPECT_RADIOPHARMACEUTICALS: dict[tuple[str, str], tuple[str, dw.Code | None]] = {
    ("HYNIC-TOC", "99mTc"): ("Tc99m-HYNIC-TOC", None),
    ("DOTATATE", "177Lu"): ("Lu177-DOTATATE", dw.Code("781259000", "SCT",
                                                      "Lutetium^177^ DOTATATE")),
    ("pentetreotide", "111In"): ("In111-pentetreotide (Octreoscan)",
                                 dw.Code("446800006", "SCT", "Indium^111 Pentetreotide")),
}
