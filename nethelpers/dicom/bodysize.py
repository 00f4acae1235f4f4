"""Body-size normalisers for SUV: body weight, lean body mass, body surface area, ideal weight.

All functions take weight in kg and height in m and return the normaliser in the unit SUV
needs: grams (SUVbw, SUL, SUVibw in g/ml) or cm² (SUVbsa in cm²/ml). Sex ``"O"`` (other)
gets the mean of the male and female formulas.

Formulas
--------
- James (1976), as used by DICOM ``LBM`` (male constant 120) and ``LBMJAMES128`` (128):
  male ``1.10 W − k (W / H_cm)²``, female ``1.07 W − 148 (W / H_cm)²``.
- Janmahasatian et al. (2005), the SUL of PERCIST and DICOM ``LBMJANMA``:
  male ``9270 W / (6680 + 216 BMI)``, female ``9270 W / (8780 + 244 BMI)``.
- Du Bois & Du Bois (1916): ``BSA = 0.007184 W^0.425 H_cm^0.725`` m².
- Ideal body weight after Sugawara et al. (1999, Radiology 213:521): male
  ``48.0 + 1.06 (H_cm − 152)``, female ``45.5 + 0.91 (H_cm − 152)`` kg.

The James formula is a parabola in weight: it peaks at ``W* = a H_cm² / (2k)`` and falls to
zero at ``2 W*``. Beyond its peak it is known to break down (Morgan 1994); we warn there and
refuse where it gives no positive mass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "NORMS",
    "SUV_TYPE_NORMS",
    "Normaliser",
    "bsa_du_bois_m2",
    "canonical_norm",
    "ibw_sugawara_kg",
    "lbm_james_kg",
    "lbm_janmahasatian_kg",
    "normaliser",
]

#: Normalisations by name -> (description, unit of the normaliser).
NORMS: dict[str, tuple[str, str]] = {
    "bw": ("body weight", "g"),
    "lbm-janma": ("lean body mass, Janmahasatian 2005 (SUL)", "g"),
    "lbm-james": ("lean body mass, James 1976 with male constant 128 (DICOM LBMJAMES128)", "g"),
    "lbm-james120": ("lean body mass, James 1976 with male constant 120 (DICOM LBM)", "g"),
    "bsa": ("body surface area, Du Bois 1916", "cm2"),
    "ibw": ("ideal body weight, Sugawara 1999", "g"),
}
_ALIASES = {"lbm": "lbm-janma", "sul": "lbm-janma", "lbm-james128": "lbm-james"}

#: DICOM SUVType (0054,1006) -> our norm name.
SUV_TYPE_NORMS: dict[str, str] = {
    "BW": "bw",
    "LBM": "lbm-james120",
    "LBMJAMES128": "lbm-james",
    "LBMJANMA": "lbm-janma",
    "BSA": "bsa",
    "IBW": "ibw",
}


def canonical_norm(norm: str) -> str:
    """Return the canonical name of a normalisation (``lbm`` and ``sul`` mean Janmahasatian).

    Parameters
    ----------
    norm : str
        A name from :data:`NORMS` or an alias (``lbm``, ``sul``, ``lbm-james128``).

    Returns
    -------
    str
    """
    name = _ALIASES.get(norm.lower(), norm.lower())
    if name not in NORMS:
        choices = ", ".join([*NORMS, *_ALIASES])
        raise ValueError(f"unknown SUV normalisation {norm!r}; choose one of {choices}")
    return name


def _by_sex(sex: str, male: float, female: float) -> float:
    if sex == "M":
        return male
    if sex == "F":
        return female
    if sex == "O":
        return (male + female) / 2.0
    raise ValueError(f"sex must be M, F or O, got {sex!r}")


def lbm_james_kg(
    weight_kg: float, height_m: float, sex: str, male_constant: float = 128.0
) -> float:
    """Lean body mass after James (kg); ``male_constant`` 128 (DICOM LBMJAMES128) or 120.

    Parameters
    ----------
    weight_kg, height_m : float
        Weight and height.
    sex : str
        ``"M"``, ``"F"`` or ``"O"``.
    male_constant : float
        The constant of the male formula.

    Returns
    -------
    float
    """
    ratio2 = (weight_kg / (height_m * 100.0)) ** 2
    male = 1.10 * weight_kg - male_constant * ratio2
    female = 1.07 * weight_kg - 148.0 * ratio2
    return _by_sex(sex, male, female)


def james_peak_weight_kg(height_m: float, sex: str, male_constant: float = 128.0) -> float:
    """Weight (kg) above which the James formula decreases with weight."""
    h2 = (height_m * 100.0) ** 2
    male = 1.10 * h2 / (2.0 * male_constant)
    female = 1.07 * h2 / (2.0 * 148.0)
    # for "O" the mean formula peaks where the mean derivative is zero
    if sex == "O":
        return (1.10 + 1.07) * h2 / (2.0 * (male_constant + 148.0))
    return _by_sex(sex, male, female)


def lbm_janmahasatian_kg(weight_kg: float, height_m: float, sex: str) -> float:
    """Lean body mass after Janmahasatian et al. 2005 (kg).

    Parameters
    ----------
    weight_kg, height_m : float
        Weight and height.
    sex : str
        ``"M"``, ``"F"`` or ``"O"``.

    Returns
    -------
    float
    """
    bmi = weight_kg / height_m**2
    male = 9270.0 * weight_kg / (6680.0 + 216.0 * bmi)
    female = 9270.0 * weight_kg / (8780.0 + 244.0 * bmi)
    return _by_sex(sex, male, female)


def bsa_du_bois_m2(weight_kg: float, height_m: float) -> float:
    """Body surface area after Du Bois & Du Bois 1916 (m²).

    Parameters
    ----------
    weight_kg, height_m : float
        Weight and height.

    Returns
    -------
    float
    """
    return 0.007184 * weight_kg**0.425 * (height_m * 100.0) ** 0.725


def ibw_sugawara_kg(height_m: float, sex: str) -> float:
    """Ideal body weight after Sugawara et al. 1999 (kg).

    Parameters
    ----------
    height_m : float
        Height.
    sex : str
        ``"M"``, ``"F"`` or ``"O"``.

    Returns
    -------
    float
    """
    h_cm = height_m * 100.0
    return _by_sex(sex, 48.0 + 1.06 * (h_cm - 152.0), 45.5 + 0.91 * (h_cm - 152.0))


@dataclass(frozen=True)
class Normaliser:
    """The body-size value an SUV is normalised by.

    Attributes
    ----------
    norm : str
        Canonical norm name (a key of :data:`NORMS`).
    value : float
        The normaliser in ``unit``.
    unit : str
        ``"g"`` or ``"cm2"``; the SUV is then in g/ml or cm²/ml.
    formula : str
        Human-readable description.
    warnings : tuple of str
        Caveats (e.g. James beyond its peak).
    """

    norm: str
    value: float
    unit: str
    formula: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def suv_unit(self) -> str:
        """Unit of the resulting SUV."""
        return "g/ml" if self.unit == "g" else "cm2/ml"


class BodySizeError(ValueError):
    """The body-size inputs a normalisation needs are missing or give no valid value."""

    def __init__(self, problem: str, needs: str) -> None:
        self.needs = needs
        super().__init__(problem)


def normaliser(norm: str, weight_kg: float, height_m: float | None, sex: str | None) -> Normaliser:
    """Compute the normaliser of ``norm`` for one patient.

    Parameters
    ----------
    norm : str
        Normalisation name (see :func:`canonical_norm`).
    weight_kg : float
        Body weight, > 0.
    height_m : float or None
        Height; needed by every norm but ``bw``.
    sex : str or None
        ``"M"``, ``"F"`` or ``"O"``; needed by the LBM and IBW norms.

    Returns
    -------
    Normaliser

    Raises
    ------
    BodySizeError
        When height or sex is missing for a norm that needs it, or the formula gives no
        positive value; ``needs`` names the missing input (``"height"``, ``"sex"``).
    """
    name = canonical_norm(norm)
    description, unit = NORMS[name]
    if name == "bw":
        return Normaliser(name, weight_kg * 1000.0, unit, description)
    if height_m is None:
        raise BodySizeError(f"{description} needs the patient's height", "height")
    if name == "bsa":
        return Normaliser(name, bsa_du_bois_m2(weight_kg, height_m) * 1e4, unit, description)
    if sex not in ("M", "F", "O"):
        raise BodySizeError(f"{description} needs the patient's sex (M, F or O)", "sex")
    warnings: list[str] = []
    if name == "ibw":
        kg = ibw_sugawara_kg(height_m, sex)
    elif name == "lbm-janma":
        kg = lbm_janmahasatian_kg(weight_kg, height_m, sex)
    else:
        k = 128.0 if name == "lbm-james" else 120.0
        kg = lbm_james_kg(weight_kg, height_m, sex, k)
        peak = james_peak_weight_kg(height_m, sex, k)
        if weight_kg > peak:
            warnings.append(
                f"James LBM breaks down above {peak:.1f} kg at {height_m:.2f} m (it falls as "
                f"weight rises); {weight_kg:g} kg is beyond it. Prefer norm 'lbm' "
                "(Janmahasatian) for this patient."
            )
    if not kg > 0:
        raise BodySizeError(
            f"{description} gives {kg:.1f} kg for {weight_kg:g} kg, {height_m:g} m, sex {sex}: "
            "the formula does not apply; use norm 'lbm' (Janmahasatian) or 'bw'",
            "formula",
        )
    return Normaliser(name, kg * 1000.0, unit, description, tuple(warnings))
