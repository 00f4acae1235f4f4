"""What kind of ROI a structure drawn elsewhere is, from its name and its RT type.

Workstations (MIM, Eclipse, RayStation, Slicer...) name structures freely: ``Liver``,
``LIVER_ref``, ``Leber``, ``Aorta desc``, ``BloodPool``, ``Muscle_gluteus``, ``Lesion 3``,
``Liver met 2``, ``GTV_node``. :func:`infer_roi_kind` maps a name (and the structure's
RTROIInterpretedType (3006,00A4), when there is one) onto the ROI kinds of
:data:`nethelpers.rois.ROI_KINDS`, or to None for structures that are neither a lesion nor
a reference region (the body outline, the couch, organs at risk such as ``Kidney_L``).

Rules, in order (case-insensitive; the name is cut into words at spaces, punctuation,
digits and camelCase humps):

1. A lesion word in the name (lesion, met(s), metastasis, tumo(u)r, node, LN, nodule,
   mass, primary, focus, GTV/CTV/PTV, NET): a lesion - ``Liver met 2`` is a lesion.
2. Exactly one reference region named (see :data:`REFERENCE_WORDS`): that region, whatever
   the interpreted type (workstations often give every structure the same default type;
   a tumour in the liver is named as such, e.g. ``GTV_liver``, ``Liver les 1``).
3. Interpreted type GTV, CTV or PTV: a lesion.
4. Interpreted type EXTERNAL, SUPPORT, BOLUS, MARKER, ... (:data:`OTHER_TYPES`), or ORGAN
   (an organ that is not a reference region), or a body-outline word (body, external,
   skin, outline, couch, table) in the name: None.
5. Anything else (no or another interpreted type, any other name): a lesion.
"""

from __future__ import annotations

import re

__all__ = ["BODY_WORDS", "LESION_TYPES", "LESION_WORDS", "OTHER_TYPES", "REFERENCE_WORDS",
           "infer_roi_kind", "name_words"]

#: Words that name a reference region (lower case; multi-word entries are consecutive words).
REFERENCE_WORDS: dict[str, tuple[str, ...]] = {
    "liver": ("liver", "leber", "hepar", "foie"),
    "spleen": ("spleen", "milz"),
    "blood_pool": ("blood pool", "bloodpool", "blood", "bp", "mbp", "aorta", "aortic",
                   "aorte", "bloodpoolaorta"),
    "muscle": ("muscle", "muscles", "muskel", "gluteus", "gluteal", "psoas", "paraspinal"),
}
#: Words that make a structure a lesion whatever region it also names.
LESION_WORDS = frozenset({
    "lesion", "lesions", "les", "met", "mets", "metastasis", "metastases", "tumor", "tumour",
    "node", "nodes", "ln", "nodule", "mass", "primary", "focus", "gtv", "ctv", "ptv", "net",
})
#: Words of structures that are the patient's outline or equipment.
BODY_WORDS = frozenset({"body", "external", "skin", "outline", "couch", "table"})
#: RTROIInterpretedType values of a target volume (a lesion).
LESION_TYPES = frozenset({"GTV", "CTV", "PTV"})
#: RTROIInterpretedType values that are neither a lesion nor a reference region.
OTHER_TYPES = frozenset({
    "EXTERNAL", "SUPPORT", "BOLUS", "FIXATION", "MARKER", "ISOCENTER", "REGISTRATION",
    "CONTROL", "CAVITY", "CONTRAST_AGENT", "DOSE_REGION", "AVOIDANCE", "TREATED_VOLUME",
    "IRRAD_VOLUME", "BRACHY_CHANNEL", "BRACHY_ACCESSORY", "BRACHY_SRC_APP",
    "BRACHY_CHNL_SHLD", "DOSE_MEASUREMENT",
})


def name_words(name: str) -> list[str]:
    """The lower-case words of a structure name (split at non-letters and camelCase).

    Parameters
    ----------
    name : str
        A structure name, e.g. ``"LiverRef_3cm"``.

    Returns
    -------
    list of str
        E.g. ``["liver", "ref", "cm"]``.
    """
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", str(name))
    return re.findall(r"[a-z]+", spaced.lower())


def _regions(words: list[str]) -> set[str]:
    joined = " " + " ".join(words) + " "
    return {kind for kind, names in REFERENCE_WORDS.items()
            if any(f" {n} " in joined for n in names)}


def infer_roi_kind(name: str, interpreted_type: str = "") -> str | None:
    """The ROI kind of a structure, or None when it is neither lesion nor reference region.

    Parameters
    ----------
    name : str
        ROIName (3006,0026).
    interpreted_type : str
        RTROIInterpretedType (3006,00A4); empty when absent.

    Returns
    -------
    str or None
        ``"lesion"``, ``"liver"``, ``"spleen"``, ``"blood_pool"``, ``"muscle"``, or None
        (see the module docstring for the rules).
    """
    kind = str(interpreted_type or "").strip().upper()
    words = name_words(name)
    if LESION_WORDS.intersection(words):
        return "lesion"
    regions = _regions(words)
    if len(regions) == 1:
        return regions.pop()
    if kind in LESION_TYPES:
        return "lesion"
    if kind in OTHER_TYPES or kind == "ORGAN" or BODY_WORDS.intersection(words):
        return None
    return "lesion"
