"""Codes of the TID 1500 measurement reports nethelpers writes and reads (see sr.py).

SUV concepts, UCUM units and calculation methods per normalisation (PS3.16 CID 7180,
CID 85, and the 1264xx DCM methods), the derivations of the SUV statistics, and a reader of
one code from a code sequence that knows LongCodeValue (UCUM units such as
``{SUVlbm(Janma)}g/ml`` are longer than the 16 characters of CodeValue).
"""

from __future__ import annotations

from dataclasses import dataclass

import pydicom
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

__all__ = ["ML", "SUV_KINDS", "SUV_STATS", "SuvKind", "code_of", "mass_unit", "statistic"]

#: Milliliter, as UCUM and dcmqi write it.
ML = Code("ml", "UCUM", "milliliter")
_MASS = {"g": Code("g", "UCUM", "gram"), "cm2": Code("cm2", "UCUM", "square centimeter")}


@dataclass(frozen=True)
class SuvKind:
    """One SUV normalisation: its concept, UCUM unit, calculation method and mass unit.

    Attributes
    ----------
    concept : pydicom.sr.coding.Code
        The measurement concept (126401 SUVbw, ...).
    unit : pydicom.sr.coding.Code
        The UCUM unit, annotation first as dcmqi and Slicer write it (``{SUVbw}g/ml``).
    method : pydicom.sr.coding.Code
        The SUV calculation method (126410 SUV body weight calculation method, ...).
    mass : str
        ``g`` or ``cm2``: the unit of SUV x ml (TLA / TLG).
    """

    concept: Code
    unit: Code
    method: Code
    mass: str


def _unit(annotation: str, base: str, meaning: str) -> Code:
    return Code(f"{{{annotation}}}{base}", "UCUM", f"Standardized Uptake Value {meaning}")


#: SUV kinds by canonical norm name (:data:`nethelpers.dicom.bodysize.NORMS`).
SUV_KINDS = {
    "bw": SuvKind(codes.DCM.Suvbw, _unit("SUVbw", "g/ml", "body weight"),
                  codes.DCM.SUVBodyWeightCalculationMethod, "g"),
    "lbm-janma": SuvKind(codes.DCM.SuvlbmJanma,
                         _unit("SUVlbm(Janma)", "g/ml", "lean body mass (Janma)"),
                         codes.DCM.SUVLeanBodyMassCalculationJanmahasatianMethod, "g"),
    "lbm-james": SuvKind(codes.DCM.SuvlbmJames128,
                         _unit("SUVlbm(James128)", "g/ml",
                               "lean body mass (James 128 multiplier)"),
                         codes.DCM.SUVLeanBodyMassCalculationMethodUsing128Multiplier, "g"),
    "lbm-james120": SuvKind(codes.DCM.Suvlbm,
                            _unit("SUVlbm", "g/ml", "lean body mass (James)"),
                            codes.DCM.SUVLeanBodyMassCalculationMethod, "g"),
    "bsa": SuvKind(codes.DCM.Suvbsa, _unit("SUVbsa", "cm2/ml", "body surface area"),
                   codes.DCM.SUVBodySurfaceAreaCalculationMethod, "cm2"),
    "ibw": SuvKind(codes.DCM.Suvibw, _unit("SUVibw", "g/ml", "ideal body weight"),
                   codes.DCM.SUVIdealBodyWeightCalculationMethod, "g"),
}

#: (column suffix, derivation) of the SUV statistics, in writing order.
SUV_STATS = (("mean", codes.SCT.Mean), ("max", codes.SCT.Maximum),
             ("peak", codes.DCM.PeakValueWithinROI), ("sd", codes.SCT.StandardDeviation))

_STATISTICS = ((codes.SCT.Mean, "mean"), (codes.SCT.Maximum, "max"),
               (codes.SCT.Minimum, "min"), (codes.DCM.PeakValueWithinROI, "peak"),
               (codes.SCT.StandardDeviation, "sd"), (codes.SCT.Median, "median"))


def mass_unit(kind: SuvKind) -> Code:
    """The UCUM unit of SUV x ml for an SUV kind (gram, or cm2 for SUVbsa)."""
    return _MASS[kind.mass]


def statistic(derivation: Code | None) -> str:
    """Short name of a derivation: mean, max, min, peak, sd, median, else its meaning.

    Old SRT codes (R-00317 "Mean", ...) compare equal to their SNOMED CT successors.
    """
    if derivation is None:
        return ""
    for code, name in _STATISTICS:
        if derivation == code:
            return name
    return derivation.meaning.lower()


def code_of(item: pydicom.Dataset, sequence: str) -> Code | None:
    """The first code of ``item``'s code sequence ``sequence``, or None.

    Parameters
    ----------
    item : pydicom.Dataset
        A content item or other dataset.
    sequence : str
        Keyword of the code sequence, e.g. ``"ConceptNameCodeSequence"``.

    Returns
    -------
    pydicom.sr.coding.Code or None
        From CodeValue, LongCodeValue or URNCodeValue (in that order).
    """
    seq = item.get(sequence)
    if not seq:
        return None
    c = seq[0]
    value = next((str(c.get(k)) for k in ("CodeValue", "LongCodeValue", "URNCodeValue")
                  if c.get(k)), None)
    if value is None:
        return None
    return Code(value, str(c.get("CodingSchemeDesignator", "")), str(c.get("CodeMeaning", "")))
