"""Name the tracer and radionuclide of a PET (or SPECT) series from its header text and codes.

Scanners write the radiopharmaceutical in many ways: a SNOMED code in
RadiopharmaceuticalCodeSequence, free text in Radiopharmaceutical (0018,0031) such as
``Ga68-DOTATATE``, ``68Ga-DOTA-TATE``, ``NETSPOT`` or ``Fludeoxyglucose``, and sometimes only
the series description. We match all of them, in that order, to one canonical name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DECAY_WINDOW_H", "DECAY_WINDOW_HALF_LIVES", "HALF_LIVES_S", "TRACER_PATTERNS",
           "DecayWindow", "radionuclide_name", "tracer_name"]

#: Canonical tracer -> pattern over lower-cased text (first match wins, in this order).
TRACER_PATTERNS: dict[str, re.Pattern[str]] = {
    "HYNIC-TOC": re.compile(r"hynic|tektrotyd"),
    "pentetreotide": re.compile(r"pentetreotide|octreoscan|dtpa[\s_-]*octreotide"),
    "DOTATATE": re.compile(r"dota[\s_-]*tate|netspot|dotatate|oxodotreotide|lutathera"),
    "DOTATOC": re.compile(r"dota[\s_-]*toc|edotreotide|somakit"),
    "DOTANOC": re.compile(r"dota[\s_-]*noc"),
    "FDG": re.compile(r"(^|[^a-z])fdg([^a-z]|$)|fluorodeoxyglucose|fludeoxyglucose|deoxyglucose"),
    "FDOPA": re.compile(r"f[\s_-]*dopa|fluorodopa"),
    "PSMA": re.compile(r"psma"),
    "CHOLINE": re.compile(r"cholin"),
}

#: SNOMED CT and retired SNOMED-RT radiopharmaceutical codes -> tracer.
TRACER_CODES: dict[str, str] = {
    "35321007": "FDG",
    "C-B1031": "FDG",
    "724025002": "DOTATATE",
    "C-B1145": "DOTATATE",
    "781259000": "DOTATATE",       # Lutetium^177^ DOTATATE (CID 25)
    "446800006": "pentetreotide",  # Indium^111 Pentetreotide (CID 25)
}

_NUCLIDE_WORDS = (
    ("fluorine", "18F"),
    ("^67^gallium", "67Ga"),
    ("gallium 67", "67Ga"),
    ("gallium-67", "67Ga"),
    ("gallium", "68Ga"),
    ("technetium", "99mTc"),
    ("lutetium", "177Lu"),
    ("indium", "111In"),
    ("thallium", "201Tl"),
    ("^123^iodine", "123I"),
    ("iodine 123", "123I"),
    ("iodine-123", "123I"),
    ("carbon", "11C"),
    ("copper", "64Cu"),
    ("zirconium", "89Zr"),
    ("rubidium", "82Rb"),
    ("nitrogen", "13N"),
    ("oxygen", "15O"),
    ("iodine", "124I"),
)
_NUCLIDE_TEXT = re.compile(
    r"(?:^|[^a-z0-9])(?:(18)\s*-?\s*f|f\s*-?\s*(18)|(68)\s*-?\s*ga|ga\s*-?\s*(68)"
    r"|(99m)\s*-?\s*tc|tc\s*-?\s*(99m)|(177)\s*-?\s*lu|lu\s*-?\s*(177)"
    r"|(111)\s*-?\s*in|in\s*-?\s*(111)|(123)\s*-?\s*i|i\s*-?\s*(123)"
    r"|(201)\s*-?\s*tl|tl\s*-?\s*(201)|(67)\s*-?\s*ga|ga\s*-?\s*(67))(?:[^a-z0-9]|$)"
)
_TEXT_NUCLIDES = {"18": "18F", "68": "68Ga", "99m": "99mTc", "177": "177Lu", "111": "111In",
                  "123": "123I", "201": "201Tl", "67": "67Ga"}
#: Half-lives (s) of known radionuclides: used to name a nuclide from its half-life and to
#: cross-check a header's RadionuclideHalfLife, never to replace it.
HALF_LIVES_S: dict[str, float] = {
    "18F": 6586.2,
    "68Ga": 4062.6,
    "99mTc": 21624.0,
    "11C": 1221.8,
    "13N": 597.9,
    "15O": 122.24,
    "64Cu": 45720.0,
    "89Zr": 282276.0,
    "82Rb": 76.4,
    "124I": 360806.4,
    # single-photon (SPECT) nuclides; NNDC half-lives
    "177Lu": 574300.8,   # 6.647 d
    "111In": 242326.1,   # 2.8047 d
    "123I": 47592.0,     # 13.22 h
    "201Tl": 262837.4,   # 3.0421 d
    "67Ga": 281810.9,    # 3.2617 d: within 1 % of 89Zr, so never named from the half-life
}

#: Longest plausible time (h) from the injection to the decay reference or frame start, by
#: radionuclide: beyond it the injection date or time is wrong, not the scan. Set from the
#: latest imaging time of the clinical and research protocols of each nuclide, with a margin
#: (the same defaults as ``quantify.max_decay_h`` in :mod:`nethelpers.config`):
#: 18F 6 h (FDG at 55-75 min, delayed / dual-time-point to 3-4 h; 3.3 half-lives),
#: 68Ga 4 h (SSTR PET at 45-90 min, delayed to 2-3 h; 3.5 half-lives),
#: 99mTc 30 h (HYNIC-TOC SPECT at 2-4 h and 24 h; 5 half-lives),
#: 64Cu 48 h (DOTATATE at 1 h, SARTATE and antibodies to 24-48 h; 3.8 half-lives),
#: 89Zr 168 h (immuno-PET at 4-7 days), 124I 168 h (dosimetry to 96-144 h),
#: 11C 2 h (choline, methionine, PiB end by 90 min), 13N 0.5 h (ammonia, 0-20 min),
#: 15O 0.25 h (water, first 10 min), 82Rb 0.2 h (rest/stress, first 8 min).
DECAY_WINDOW_H: dict[str, float] = {
    "18F": 6.0,
    "68Ga": 4.0,
    "99mTc": 30.0,
    "64Cu": 48.0,
    "89Zr": 168.0,
    "124I": 168.0,
    "11C": 2.0,
    "13N": 0.5,
    "15O": 0.25,
    "82Rb": 0.2,
}
#: The window of a radionuclide not in :data:`DECAY_WINDOW_H`, in its half-lives (5: 3 % of
#: the activity left, past any imaging protocol).
DECAY_WINDOW_HALF_LIVES = 5.0


@dataclass(frozen=True)
class DecayWindow:
    """The longest plausible decay time of a PET, by radionuclide.

    Attributes
    ----------
    hours : mapping of str to float
        Radionuclide (``"18F"``, ``"68Ga"``, ...) -> hours; a nuclide missing here takes
        its :data:`DECAY_WINDOW_H` default.
    half_lives : float
        The window of a nuclide in neither mapping, in its half-lives.
    """

    hours: Mapping[str, float] = field(default_factory=dict)
    half_lives: float = DECAY_WINDOW_HALF_LIVES

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.hours.items()
               if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0)}
        if bad or not (math.isfinite(self.half_lives) and self.half_lives > 0):
            raise ValueError(f"decay windows must be positive numbers: {bad or self.half_lives}")

    def limit(self, nuclide: str, half_life_s: float) -> tuple[float, str]:
        """The longest plausible decay time and the rule that set it.

        Parameters
        ----------
        nuclide : str
            Canonical radionuclide name, ``""`` when unknown.
        half_life_s : float
            The half-life the conversion uses (s).

        Returns
        -------
        float
            Seconds.
        str
            E.g. ``"the 6 h window for 18F (quantify.max_decay_h)"``.
        """
        hours = self.hours.get(nuclide, DECAY_WINDOW_H.get(nuclide)) if nuclide else None
        if hours is not None:
            return hours * 3600.0, f"the {hours:g} h window for {nuclide} (quantify.max_decay_h)"
        name = nuclide or "an unnamed radionuclide"
        return (self.half_lives * half_life_s,
                f"the {self.half_lives:g} half-life window for {name} "
                "(quantify.max_decay_half_lives)")


def tracer_name(
    code_value: str | None = None,
    code_meaning: str | None = None,
    text: str | None = None,
    description: str | None = None,
) -> str:
    """Return the canonical tracer name, or ``""`` when nothing identifies it.

    Parameters
    ----------
    code_value, code_meaning : str, optional
        RadiopharmaceuticalCodeSequence CodeValue and CodeMeaning.
    text : str, optional
        Radiopharmaceutical (0018,0031).
    description : str, optional
        SeriesDescription, used last.

    Returns
    -------
    str
        ``"DOTATATE"``, ``"FDG"``, ``"HYNIC-TOC"``, ``"pentetreotide"``, ``"DOTATOC"``,
        ``"DOTANOC"``, ``"FDOPA"``, ``"PSMA"``, ``"CHOLINE"``, ``"other: <text>"`` for
        unrecognised text, or ``""``.
    """
    if code_value and code_value.strip() in TRACER_CODES:
        return TRACER_CODES[code_value.strip()]
    for source in (code_meaning, text, description):
        if not source:
            continue
        low = source.lower()
        for name, pattern in TRACER_PATTERNS.items():
            if pattern.search(low):
                return name
    for source in (code_meaning, text):
        if source and source.strip():
            return f"other: {source.strip()}"
    return ""


def radionuclide_name(
    code_meaning: str | None = None,
    text: str | None = None,
    half_life_s: float | None = None,
    single_photon: bool = False,
) -> str:
    """Return ``"18F"``, ``"68Ga"``, ``"99mTc"``, ... or ``""``.

    Parameters
    ----------
    code_meaning : str, optional
        RadionuclideCodeSequence CodeMeaning (e.g. ``^68^Gallium``).
    text : str, optional
        Radiopharmaceutical text (e.g. ``Ga68-DOTATATE``).
    half_life_s : float, optional
        RadionuclideHalfLife, matched to a known nuclide within 1 %.
    single_photon : bool
        The series is an NM object (SPECT or planar): a half-life that fits both 89Zr
        (78.4 h, PET) and 67Ga (78.3 h, single photon) is 67Ga; otherwise 89Zr.

    Returns
    -------
    str
    """
    if code_meaning:
        low = code_meaning.lower()
        for word, nuclide in _NUCLIDE_WORDS:
            if word in low:
                return nuclide
    if text:
        match = _NUCLIDE_TEXT.search(text.lower())
        if match:
            number = next(g for g in match.groups() if g)
            return _TEXT_NUCLIDES[number]
    if half_life_s is not None and math.isfinite(half_life_s) and half_life_s > 0:
        close = [nuclide for nuclide, known in HALF_LIVES_S.items()
                 if abs(half_life_s - known) <= 0.01 * known]
        if len(close) == 1:
            return close[0]
        if set(close) == {"89Zr", "67Ga"}:   # 78.4 h and 78.3 h: by the kind of object
            return "67Ga" if single_photon else "89Zr"
    return ""
