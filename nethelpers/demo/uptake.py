"""Tissue values of the phantom: PET SUV per tracer, CT Hounsfield units, MR T1 signal.

Physiological SUVmean values are typical of the literature for 68Ga-DOTATATE (spleen and
kidneys highest, then adrenals, pituitary and liver; e.g. Kuyumcu 2013, Shastry 2010) and
18F-FDG (brain and urine highest, liver about 2; e.g. Ramos 2001, Wang 2007). Each patient's
organ SUVs vary around these medians (log-normal, coefficient of variation about 12 %).

99mTc-HYNIC-TOC (99mTc-EDDA/HYNIC-Tyr3-octreotide, Tektrotyd) at about 4 h: published
quantitative SPECT/CT SUVs of this tracer are few and not reproduced here, so its values are
an ASSUMPTION scaled from DOTATATE to follow the biodistribution the literature describes
(Tektrotyd SmPC; Gabriel et al., J Nucl Med 2003;44:708-716, imaging 4 h after
injection): spleen and kidneys highest (renal
retention of the 99mTc peptide keeps the kidneys as high as the spleen), then liver (about
0.65 x DOTATATE's), pituitary low (SPECT does not resolve it), bone marrow low, bladder high
(renal excretion), some bowel (hepatobiliary), and a non-specific background slightly higher
than on PET (slower blood clearance of the 99mTc peptide).
"""

from __future__ import annotations

import numpy as np

from nethelpers.demo.anatomy import LESION_LABEL0, Tissue

T = Tissue

#: Median physiological SUV per tissue and tracer.
PHYSIOLOGICAL_SUV: dict[str, dict[Tissue, float]] = {
    "DOTATATE": {
        T.AIR: 0.0, T.FAT: 0.25, T.MUSCLE: 0.8, T.LUNG: 0.45, T.BONE: 0.6, T.MARROW: 1.4,
        T.BRAIN: 0.15, T.PITUITARY: 8.0, T.MYOCARDIUM: 1.4, T.BLOOD: 1.8, T.LIVER: 7.5,
        T.SPLEEN: 22.0, T.KIDNEY: 14.0, T.ADRENAL: 10.0, T.PANCREAS: 3.0, T.UNCINATE: 6.5,
        T.BOWEL: 2.2, T.BLADDER: 30.0,
    },
    "FDG": {
        T.AIR: 0.0, T.FAT: 0.3, T.MUSCLE: 0.7, T.LUNG: 0.5, T.BONE: 0.7, T.MARROW: 1.6,
        T.BRAIN: 8.5, T.PITUITARY: 3.0, T.MYOCARDIUM: 4.0, T.BLOOD: 1.7, T.LIVER: 2.2,
        T.SPLEEN: 1.8, T.KIDNEY: 2.8, T.ADRENAL: 1.6, T.PANCREAS: 1.5, T.UNCINATE: 1.5,
        T.BOWEL: 1.8, T.BLADDER: 20.0,
    },
    "HYNIC-TOC": {
        T.AIR: 0.0, T.FAT: 0.3, T.MUSCLE: 0.9, T.LUNG: 0.5, T.BONE: 0.6, T.MARROW: 1.5,
        T.BRAIN: 0.15, T.PITUITARY: 3.0, T.MYOCARDIUM: 1.3, T.BLOOD: 1.6, T.LIVER: 4.8,
        T.SPLEEN: 15.0, T.KIDNEY: 14.0, T.ADRENAL: 4.5, T.PANCREAS: 1.6, T.UNCINATE: 3.0,
        T.BOWEL: 2.6, T.BLADDER: 40.0,
    },
}

#: Between-patient coefficient of variation of organ SUVs (log-normal).
ORGAN_CV = 0.12

#: Mean CT number per tissue (HU).
CT_HU: dict[Tissue, float] = {
    T.AIR: -1000.0, T.FAT: -100.0, T.MUSCLE: 45.0, T.LUNG: -820.0, T.BONE: 900.0,
    T.MARROW: 220.0, T.BRAIN: 35.0, T.PITUITARY: 45.0, T.MYOCARDIUM: 45.0, T.BLOOD: 40.0,
    T.LIVER: 58.0, T.SPLEEN: 48.0, T.KIDNEY: 32.0, T.ADRENAL: 30.0, T.PANCREAS: 40.0,
    T.UNCINATE: 40.0, T.BOWEL: 25.0, T.BLADDER: 8.0,
}

#: T1-weighted (Dixon in-phase like) MR signal per tissue, arbitrary units.
MR_T1: dict[Tissue, float] = {
    T.AIR: 0.0, T.FAT: 900.0, T.MUSCLE: 320.0, T.LUNG: 25.0, T.BONE: 30.0, T.MARROW: 700.0,
    T.BRAIN: 420.0, T.PITUITARY: 450.0, T.MYOCARDIUM: 330.0, T.BLOOD: 150.0, T.LIVER: 480.0,
    T.SPLEEN: 360.0, T.KIDNEY: 380.0, T.ADRENAL: 400.0, T.PANCREAS: 500.0, T.UNCINATE: 500.0,
    T.BOWEL: 280.0, T.BLADDER: 60.0,
}

#: CT and MR appearance of lesions relative to the tissue they sit in.
LESION_HU_OFFSET = -25.0
LESION_MR_FACTOR = 0.75


def patient_organ_suv(tracer: str, rng: np.random.Generator) -> dict[int, float]:
    """Draw one patient's physiological SUVs for a tracer (log-normal around the medians)."""
    sigma = np.sqrt(np.log1p(ORGAN_CV**2))
    out: dict[int, float] = {}
    for tissue, median in PHYSIOLOGICAL_SUV[tracer].items():
        factor = 1.0 if tissue == T.AIR else float(np.exp(rng.normal(0.0, sigma)))
        out[int(tissue)] = median * factor
    return out


def lut(tissue_values: dict[int, float], lesion_values: list[float], default: float = 0.0
        ) -> np.ndarray:
    """A 256-entry lookup table from label to value (tissues, then lesions)."""
    table = np.full(256, default, dtype=np.float32)
    for label, value in tissue_values.items():
        table[label] = value
    for n, value in enumerate(lesion_values):
        table[LESION_LABEL0 + n] = value
    return table


def sphere_center_recovery(diameter_mm: float, fwhm_mm: float) -> float:
    """Fraction of a uniform sphere's activity seen at its centre after Gaussian blurring.

    For a sphere of radius ``r`` convolved with an isotropic Gaussian of standard deviation
    ``s``, the centre value is ``erf(u / sqrt 2) - sqrt(2 / pi) u exp(-u^2 / 2)`` with
    ``u = r / s``.

    Parameters
    ----------
    diameter_mm, fwhm_mm : float
        Sphere diameter and the point-spread function's FWHM.

    Returns
    -------
    float
        The recovery coefficient in (0, 1].
    """
    from scipy.special import erf

    if fwhm_mm <= 0:
        return 1.0
    s = fwhm_mm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    u = diameter_mm / 2.0 / s
    return float(erf(u / np.sqrt(2.0)) - np.sqrt(2.0 / np.pi) * u * np.exp(-(u**2) / 2.0))
