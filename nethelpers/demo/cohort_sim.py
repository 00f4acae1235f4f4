"""Simulate the demo cohort: patients, lesions with tracer-specific uptake, and scans.

Everything here is plain data (no pixels): the imaging module turns it into DICOM. Patient
``i`` depends only on ``(seed, i)``, so a 6-patient study is the first six patients of the
60-patient one; the first six patients cover all six protocol groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from nethelpers.demo.anatomy import (
    Anatomy,
    BodyShape,
    Cylinder,
    Ellipsoid,
    Pose,
    Tissue,
    build_anatomy,
    scaled_ellipsoid,
)
from nethelpers.demo.placement import PlacementError, place_point
from nethelpers.demo.uptake import patient_organ_suv

#: Protocol groups, in the order patients are allocated (a repeating block of ten).
GROUPS = (
    "suspected_net", "staging_net", "history_net", "prrt_net", "suspected_tio",
    "tio_post_surgery",
)
_ALLOCATION = GROUPS + ("suspected_net", "staging_net", "history_net", "prrt_net")

#: Radionuclide per tracer, with half-life (s) and positron fraction.
RADIONUCLIDE = {
    "DOTATATE": ("68Ga", 4062.6, 0.889),
    "FDG": ("18F", 6586.2, 0.967),
}

#: Radionuclide per SPECT tracer, with half-life (s): 99mTc 6.0067 h.
SPECT_RADIONUCLIDE = {"HYNIC-TOC": ("99mTc", 21624.12)}

#: PET scanners per centre: (manufacturer key, PET/CT model, PET/MR model).
CENTRES = ("SIEMENS", "GE", "PHILIPS")

#: PET voxel spacing (x, y, z) mm and reconstructed resolution (FWHM mm) per scanner family.
PET_SPACING = {"SIEMENS": (4.0, 4.0, 4.0), "GE": (3.9, 3.9, 3.27), "PHILIPS": (4.0, 4.0, 4.0)}
PET_FWHM = {"SIEMENS": 5.0, "GE": 5.5, "PHILIPS": 6.0, "SIEMENS_MR": 6.5, "GE_MR": 6.0}
PET_MATRIX = 128
CT_SPACING = (3.0, 3.0, 3.0)
CT_MATRIX = 168
MR_SPACING = (3.125, 3.125, 4.0)
MR_MATRIX = 160

#: Attenuation of PET/MR in bone: MR-based attenuation maps treat bone as soft tissue, so
#: activity in and next to bone is underestimated (about 10-20 %, e.g. Samarin 2012).
PETMR_BONE_BIAS = 0.85

_FIRST = ("Anna", "Jan", "Maria", "Peter", "Eva", "Tomas", "Lucie", "Martin", "Jana", "Pavel",
          "Petra", "Jiri", "Hana", "Karel", "Alena", "Josef", "Vera", "Milan", "Ivana", "Lukas")
_LAST = ("Novak", "Svoboda", "Dvorak", "Cerny", "Prochazka", "Kucera", "Vesely", "Horak",
         "Nemec", "Marek", "Pospisil", "Hajek", "Jelinek", "Kral", "Ruzicka", "Benes", "Fiala",
         "Sedlacek", "Dolezal", "Zeman")


@dataclass
class Lesion:
    """One focus of uptake with its reference-standard truth."""

    lesion_id: str
    site: str
    description: str
    truth: str                    # malignant / benign / physiological
    diameter_mm: float
    center: np.ndarray            # body frame, mm
    in_bone: bool
    suv: dict[str, float]         # true SUV per tracer (uniform sphere)
    hu: float                     # CT number
    mr_factor: float              # T1 signal relative to the host tissue
    reference_standard: str

    @property
    def malignant(self) -> bool:
        """Whether the reference standard calls it tumour."""
        return self.truth == "malignant"


@dataclass
class Scan:
    """One PET or SPECT examination with its companion CT or MR, and every header choice.

    A SPECT/CT scan (:mod:`nethelpers.demo.spect_sim`) uses the PET fields alike: its bed
    starts and frame duration are those of its SPECT bed positions, ``decay_reference`` is
    the acquisition start (SPECT activity is not decay-corrected to the injection) and
    ``units`` is ``BQML`` (quantitative) or ``CNTS`` (counts only).
    """

    scan_id: str
    patient_id: str
    tracer: str
    modality: str                 # PET/CT or PET/MR
    vendor: str                   # SIEMENS / GE / PHILIPS
    model: str
    injection: datetime
    injected_dose_bq: float
    weight_kg: float
    series_datetime: datetime
    bed_starts: list[datetime]
    frame_duration_s: float
    decay_reference: datetime
    units: str                    # BQML / CNTS
    radiopharm_time_style: str    # datetime / time
    ge_private: bool
    post_processed: bool          # SeriesTime after the acquisition
    bqml_per_count: float | None
    pose: Pose
    fwhm_mm: float
    noise_cv_liver: float
    counts_per_bqml: float | None = None   # counts-only SPECT: stored counts per Bq/ml
    storage: str = "PT"                    # emission series storage: "PT" or "NM"

    @property
    def system(self) -> str:
        """``"SPECT"`` for SPECT/CT, else ``"PET"``."""
        return "SPECT" if self.modality.startswith("SPECT") else "PET"

    @property
    def quantitative(self) -> bool:
        """Whether the emission series holds activity (Bq/ml), not counts only."""
        return self.counts_per_bqml is None

    @property
    def half_life_s(self) -> float:
        """Physical half-life of the tracer's radionuclide."""
        if self.tracer in SPECT_RADIONUCLIDE:
            return SPECT_RADIONUCLIDE[self.tracer][1]
        return RADIONUCLIDE[self.tracer][1]

    @property
    def uptake_min(self) -> float:
        """Minutes from injection to the decay-correction reference time."""
        return (self.decay_reference - self.injection).total_seconds() / 60.0

    @property
    def decayed_dose_bq(self) -> float:
        """Injected activity decayed to the reference time."""
        dt = (self.decay_reference - self.injection).total_seconds()
        return self.injected_dose_bq * 2.0 ** (-dt / self.half_life_s)

    @property
    def suv_factor(self) -> float:
        """SUVbw per Bq/ml (g/Bq): weight in grams over the decayed dose."""
        return self.weight_kg * 1000.0 / self.decayed_dose_bq


@dataclass
class Patient:
    """A simulated patient: clinical data, fake identifiers, anatomy, lesions and scans."""

    index: int
    patient_id: str
    group: str
    age: int
    sex: str
    height_cm: float
    weight_kg: float
    final_diagnosis: str
    disease_present: bool
    reference_standard: str
    grade: str | None
    ki67: float | None
    primary_site: str | None
    fgf23: float | None
    phosphate: float | None
    name: str
    mrn: str
    birth_date: date
    anatomy: Anatomy
    organ_suv: dict[str, dict[int, float]]
    lesions: list[Lesion] = field(default_factory=list)
    scans: list[Scan] = field(default_factory=list)
    #: Lesions drawn but left out, their region full: (site, description, diameter in mm,
    #: number of lesions placed before).
    unplaced: list[tuple[str, str, float, int]] = field(default_factory=list)
    #: Follow-up truth (:class:`nethelpers.demo.followup_sim.Followup`), None without one.
    followup: Any = None


def _rng(seed: int, index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, index, stream])


def _nth_in_group(index: int) -> int:
    """How many earlier patients share this patient's group."""
    group = _ALLOCATION[index % len(_ALLOCATION)]
    return sum(1 for i in range(index) if _ALLOCATION[i % len(_ALLOCATION)] == group)


def _disease_present(group: str, k: int) -> bool:
    """Deterministic quotas of disease per group (k: rank of the patient in the group)."""
    if group in ("staging_net", "prrt_net"):
        return True
    if group == "suspected_net":
        return k % 5 not in (1, 3)          # 60 % NET
    if group == "history_net":
        return k % 2 == 0                   # 50 % recurrence
    if group == "suspected_tio":
        return k % 3 != 2                   # 67 % localised
    return k % 5 in (1, 3)                  # TIO after surgery: 40 % residual or relapse


def _regions(zs: float, girth: float) -> dict[str, list]:
    """Body-frame regions lesions are placed in, per site."""
    t = Tissue

    def e(c: tuple, s: tuple) -> Ellipsoid:
        return scaled_ellipsoid(t.MUSCLE, c, s, zs)

    return {
        "node_mesenteric": [e((-10, -20, -720), (45, 25, 35))],
        "node_paraaortic": [e((-22, 38, -690), (8, 8, 40)), e((35, 38, -690), (8, 8, 40))],
        "node_mediastinal": [e((0, -5, -390), (14, 14, 35))],
        "smallbowel": [e((-45, -30, -790), (45, 30, 40))],
        "splenic_hilum": [e((62, 30, -590), (14, 14, 18))],
        "sinonasal": [e((0, -62, -150), (14, 12, 14))],
        "thigh_soft": [Cylinder(int(t.MUSCLE), (-82.0 * girth, -20.0), (40.0, 30.0),
                                -1040.0 * zs, -900.0 * zs),
                       Cylinder(int(t.MUSCLE), (82.0 * girth, -20.0), (40.0, 30.0),
                                -1040.0 * zs, -900.0 * zs)],
    }


def _marrow(anatomy: Anatomy, which: str) -> list:
    """Marrow shapes of a bone group: spine, pelvis, femur or humerus."""
    marrow = [s for s in anatomy.bone_shapes if s.tissue == Tissue.MARROW]
    spine = [s for s in marrow if isinstance(s, Cylinder) and abs(s.center_xy[0]) < 1]
    pelvis = [s for s in marrow if isinstance(s, Ellipsoid)]
    limbs = [s for s in marrow if isinstance(s, Cylinder) and abs(s.center_xy[0]) >= 1]
    femur = [s for s in limbs if s.z1 < -800 * anatomy.body.zscale]
    humerus = [s for s in limbs if s not in femur]
    return {"spine": spine, "pelvis": pelvis, "femur": femur, "humerus": humerus}[which]


def _net_uptake(grade: str, rng: np.random.Generator) -> dict[str, float]:
    """True lesion SUVs of a NET by grade: flip-flop between SSTR and glucose metabolism."""
    dota_median, fdg_median = {"G1": (26.0, 2.2), "G2": (20.0, 3.6), "G3": (5.0, 11.0)}[grade]
    dota = dota_median * np.exp(rng.normal(0.0, 0.45))
    fdg = fdg_median * np.exp(rng.normal(0.0, 0.35))
    return {"DOTATATE": float(np.clip(dota, 1.5, 90.0)), "FDG": float(np.clip(fdg, 1.0, 35.0))}


def _place(anatomy: Anatomy, regions: dict, site: str, d: float, rng: np.random.Generator,
           placed: list[Ellipsoid]) -> tuple[np.ndarray, bool]:
    """Centre of a lesion of diameter ``d`` at ``site``, and whether it lies in bone."""
    r = d / 2.0
    t = Tissue
    table = {
        "pancreas": (anatomy.organ(t.PANCREAS), r * 0.5, False),
        "liver": (anatomy.organ(t.LIVER), r + 4.0, False),
        "small_bowel": (regions["smallbowel"], 0.0, False),
        "lymph_node_mesenteric": (regions["node_mesenteric"], 0.0, False),
        "lymph_node_paraaortic": (regions["node_paraaortic"], 0.0, False),
        "lymph_node_mediastinal": (regions["node_mediastinal"], 0.0, False),
        "soft_tissue_thigh": (regions["thigh_soft"], 0.0, False),
        "head_sinonasal": (regions["sinonasal"], 0.0, False),
        "accessory_spleen": (regions["splenic_hilum"], 0.0, False),
        "uncinate": (anatomy.organ(t.UNCINATE), 0.0, False),
    }
    if site.startswith("bone_"):          # bone_spine, bone_pelvis, bone_femur, bone_humerus
        shapes, margin, in_bone = _marrow(anatomy, site.removeprefix("bone_")), 0.0, True
    else:
        shapes, margin, in_bone = table[site]
    point = place_point(shapes, rng, margin=margin, avoid=placed, clearance=r + 2.0)
    return point, in_bone


_NET_CT = {"liver": 30.0, "pancreas": 45.0, "small_bowel": 45.0}


def _lesion(lid: str, site: str, description: str, truth: str, d: float, suv: dict,
            anatomy: Anatomy, regions: dict, rng: np.random.Generator,
            placed: list[Ellipsoid], ref: str, lytic: bool = False) -> Lesion:
    center, in_bone = _place(anatomy, regions, site, d, rng, placed)
    if in_bone:
        hu = 70.0 if lytic else 550.0
    else:
        hu = _NET_CT.get(site, 42.0)
    placed.append(Ellipsoid(0, tuple(center), (d / 2.0,) * 3))
    return Lesion(lid, site, description, truth, round(float(d), 1), center, in_bone, suv, hu,
                  0.45 if in_bone else 0.8, ref)


def _net_lesions(p: Patient, rng: np.random.Generator) -> list[tuple]:
    """(site, description, diameter) of each malignant NET lesion of a patient."""
    out: list[tuple] = []
    g = p.group
    primary = {"pancreas": ("pancreas", "primary pancreatic NET"),
               "small bowel": ("small_bowel", "primary small-bowel (ileal) NET")}
    if p.primary_site in primary and g != "history_net" and (g != "prrt_net" or rng.random() < 0.6):
        site, desc = primary[p.primary_site]
        out.append((site, desc, rng.uniform(10, 32)))
    counts = {
        "suspected_net": {"node": rng.integers(0, 3), "liver": rng.integers(0, 2), "bone": 0},
        "staging_net": {"node": rng.integers(1, 5), "liver": rng.integers(0, 6),
                        "bone": rng.integers(0, 3)},
        "history_net": {"node": rng.integers(1, 3), "liver": rng.integers(0, 3),
                        "bone": rng.integers(0, 2)},
        "prrt_net": {"node": rng.integers(1, 4), "liver": rng.integers(3, 9),
                     "bone": rng.integers(0, 4)},
    }[g]
    node_sites = ("lymph_node_mesenteric", "lymph_node_paraaortic", "lymph_node_mediastinal")
    for _ in range(int(counts["node"])):
        out.append((str(rng.choice(node_sites, p=[0.5, 0.35, 0.15])), "lymph-node metastasis",
                    rng.uniform(6, 25)))
    for _ in range(int(counts["liver"])):
        out.append(("liver", "liver metastasis", float(np.exp(rng.uniform(np.log(5), np.log(40))))))
    for _ in range(int(counts["bone"])):
        out.append((str(rng.choice(["bone_spine", "bone_pelvis", "bone_femur"])),
                    "bone metastasis", rng.uniform(6, 20)))
    return out


_TIO_SITES = (
    ("bone_femur", "phosphaturic mesenchymal tumour, femur", True),
    ("soft_tissue_thigh", "phosphaturic mesenchymal tumour, thigh soft tissue", False),
    ("bone_pelvis", "phosphaturic mesenchymal tumour, pelvis", True),
    ("bone_humerus", "phosphaturic mesenchymal tumour, humerus", True),
    ("head_sinonasal", "phosphaturic mesenchymal tumour, sinonasal", False),
)

_MIMICS = (
    ("accessory_spleen", "accessory spleen (splenule)", "benign", (8, 14)),
    ("lymph_node_mesenteric", "reactive (inflammatory) lymph node", "benign", (8, 14)),
    ("bone_spine", "degenerative bone change", "benign", (8, 14)),
    ("bone_pelvis", "healing insufficiency fracture", "benign", (8, 16)),
)


def _mimic_uptake(site: str, organ_suv: dict[str, dict[int, float]], rng) -> dict[str, float]:
    if site == "accessory_spleen":
        return {"DOTATATE": organ_suv["DOTATATE"][Tissue.SPLEEN],
                "FDG": organ_suv["FDG"][Tissue.SPLEEN]}
    if site.startswith("lymph"):
        return {"DOTATATE": rng.uniform(2.5, 5.0), "FDG": rng.uniform(3.0, 6.5)}
    return {"DOTATATE": rng.uniform(3.0, 7.0), "FDG": rng.uniform(2.0, 4.0)}


def _add_lesions(p: Patient, rng: np.random.Generator) -> None:
    """Create the patient's lesions (malignant, benign mimics and physiological foci).

    Each lesion's centre lies inside its site's region (see :func:`_place` for the margins),
    and its sphere keeps 2 mm from every lesion placed before it. A lesion whose region has
    no such place left (a physiological uncinate focus beside a pancreatic-head tumour) is
    left out and listed in ``p.unplaced``; the lesions are numbered L01, L02, ... as placed.
    """
    body = p.anatomy.body
    regions = _regions(body.zscale, body.girth)
    placed: list[Ellipsoid] = []
    specs: list[tuple] = []
    if p.disease_present and p.final_diagnosis == "NET":
        for site, desc, d in _net_lesions(p, rng):
            specs.append((site, desc, "malignant", d, _net_uptake(p.grade, rng), False))
    if p.disease_present and p.final_diagnosis == "TIO":
        site, desc, lytic = _TIO_SITES[int(rng.integers(len(_TIO_SITES)))]
        d = rng.uniform(8, 30) if p.group == "suspected_tio" else rng.uniform(6, 15)
        suv = {"DOTATATE": float(np.clip(10.0 * np.exp(rng.normal(0, 0.5)), 2.5, 60)),
               "FDG": float(np.clip(2.0 * np.exp(rng.normal(0, 0.3)), 1.0, 6))}
        specs.append((site, desc, "malignant", d, suv, lytic))
    if rng.random() < 0.3:
        site, desc, truth, (d0, d1) = _MIMICS[int(rng.integers(len(_MIMICS)))]
        specs.append((site, desc, truth, rng.uniform(d0, d1),
                      _mimic_uptake(site, p.organ_suv, rng), False))
    if rng.random() < 0.25:
        dota = float(rng.uniform(12.0, 20.0))
        specs.append(("uncinate", "prominent physiological uncinate-process uptake",
                      "physiological", rng.uniform(14, 20),
                      {"DOTATATE": dota, "FDG": p.organ_suv["FDG"][Tissue.PANCREAS]}, False))
    for site, desc, truth, d, suv, lytic in specs:
        ref = p.reference_standard if truth == "malignant" else "follow-up"
        lesion_id = f"{p.patient_id}-L{len(p.lesions) + 1:02d}"
        try:
            p.lesions.append(_lesion(lesion_id, site, desc, truth, d, suv, p.anatomy, regions,
                                     rng, placed, ref, lytic))
        except PlacementError:   # its region is full (a small organ beside large lesions)
            p.unplaced.append((site, desc, float(d), len(p.lesions)))


def _clinical(index: int, seed: int) -> dict:
    """Group, demographics, diagnosis and labs of patient ``index``."""
    rng = _rng(seed, index, 0)
    group = _ALLOCATION[index % len(_ALLOCATION)]
    present = _disease_present(group, _nth_in_group(index))
    tio = group in ("suspected_tio", "tio_post_surgery")
    sex = "F" if rng.random() < 0.5 else "M"
    height = rng.normal(176, 7) if sex == "M" else rng.normal(163, 6)
    bmi = float(np.clip(rng.normal(26, 4), 18, 40))
    weight = bmi * (height / 100) ** 2
    age = int(np.clip(rng.normal(48 if tio else 59, 12), 20, 85))
    out = dict(group=group, disease_present=present, sex=sex, height_cm=round(float(height), 1),
               weight_kg=round(float(weight), 1), age=age, grade=None, ki67=None,
               primary_site=None, fgf23=None, phosphate=None)
    if tio:
        out["final_diagnosis"] = "TIO" if present else "none"
        active = present or group == "suspected_tio"
        out["fgf23"] = round(float(rng.uniform(150, 800) if active else rng.uniform(20, 90)), 0)
        out["phosphate"] = round(float(rng.uniform(0.3, 0.7) if active else rng.uniform(0.8, 1.4)),
                                 2)
        out["reference_standard"] = "histopathology" if present else "follow-up"
        if group == "tio_post_surgery":
            out["primary_site"] = "resected PMT"
        return out
    net_known = group in ("staging_net", "history_net", "prrt_net") or present
    out["final_diagnosis"] = "NET" if present else "none"
    if net_known:
        out["grade"] = str(rng.choice(["G1", "G2", "G3"], p=[0.4, 0.4, 0.2]))
        lo, hi = {"G1": (0.5, 2.9), "G2": (3.0, 20.0), "G3": (21.0, 60.0)}[out["grade"]]
        out["ki67"] = round(float(rng.uniform(lo, hi)), 1)
        out["primary_site"] = str(rng.choice(["pancreas", "small bowel", "unknown"],
                                             p=[0.4, 0.5, 0.1]))
    if group == "suspected_net" and not present:
        out["grade"] = out["ki67"] = out["primary_site"] = None
    if present or group in ("staging_net", "prrt_net"):
        out["reference_standard"] = "histopathology"
    else:
        out["reference_standard"] = "follow-up"
    return out


def _pose(rng: np.random.Generator, table_z: float) -> Pose:
    return Pose(translation=(float(rng.uniform(-15, 15)), float(rng.uniform(-10, 25)), table_z),
                roll_deg=float(rng.uniform(-3, 3)))


def _scan(p: Patient, tracer: str, modality: str, centre: str, injection: datetime,
          start: datetime, rng: np.random.Generator, post_processed: bool, pose: Pose) -> Scan:
    """Assemble one scan's acquisition and header choices."""
    weight = round(p.weight_kg + float(rng.normal(0, 0.8)), 1)
    if tracer == "DOTATATE":
        dose_mbq = min(2.0 * weight, 200.0) * rng.uniform(0.9, 1.05)
        frame = 180.0
    else:
        dose_mbq = weight * float(np.clip(rng.normal(4.2, 0.4), 3.7, 5.4))
        frame = 150.0
    vendor = centre if modality == "PET/CT" else ("GE" if centre == "GE" else "SIEMENS")
    model = {
        ("SIEMENS", "PET/CT"): "Biograph Vision 600", ("GE", "PET/CT"): "Discovery MI",
        ("PHILIPS", "PET/CT"): "Vereos PET/CT", ("SIEMENS", "PET/MR"): "Biograph_mMR",
        ("GE", "PET/MR"): "SIGNA PET/MR",
    }[(vendor, modality)]
    fov = -p.anatomy.body.fov_z[0] + p.anatomy.body.fov_z[1]
    n_beds = int(np.ceil(fov / 200.0))
    bed_starts = [start + timedelta(seconds=b * (frame + 6.0)) for b in range(n_beds)]
    if vendor == "SIEMENS":
        series = start - timedelta(seconds=3)
        reference = series
    elif post_processed:
        series = bed_starts[-1] + timedelta(seconds=frame) + timedelta(minutes=27)
        reference = start
    else:
        series = start
        reference = start
    fwhm = PET_FWHM[vendor if modality == "PET/CT" else f"{vendor}_MR"]
    return Scan(
        scan_id=f"{p.patient_id}-{tracer}-{modality.replace('/', '')}",
        patient_id=p.patient_id, tracer=tracer, modality=modality, vendor=vendor, model=model,
        injection=injection, injected_dose_bq=round(dose_mbq, 2) * 1e6, weight_kg=weight,
        series_datetime=series, bed_starts=bed_starts, frame_duration_s=frame,
        decay_reference=reference, units="CNTS" if vendor == "PHILIPS" else "BQML",
        radiopharm_time_style="datetime" if vendor == "SIEMENS" or tracer == "FDG" and
        vendor == "PHILIPS" else "time",
        ge_private=vendor == "GE", post_processed=post_processed,
        bqml_per_count=round(float(rng.uniform(0.6, 1.6)), 4) if vendor == "PHILIPS" else None,
        pose=pose, fwhm_mm=fwhm, noise_cv_liver=float(rng.uniform(0.09, 0.13)),
    )


def _add_scans(p: Patient, rng: np.random.Generator) -> None:
    """DOTATATE PET/CT for all; PET/MR the same day for about half; FDG another day."""
    centre = CENTRES[p.index % 3]
    day0 = date(2025, 1, 6) + timedelta(days=7 * p.index + int(rng.integers(0, 4)))
    inj = datetime.combine(day0, datetime.min.time()) + timedelta(
        hours=8, minutes=30 + 20 * int(rng.integers(0, 8)))
    uptake = timedelta(minutes=int(rng.integers(45, 76)))
    table_z = float(rng.uniform(-40, 40))
    ct = _scan(p, "DOTATATE", "PET/CT", centre, inj, inj + uptake, rng, False,
               _pose(rng, table_z))
    p.scans.append(ct)
    ct_end = ct.bed_starts[-1] + timedelta(seconds=ct.frame_duration_s)
    block, position = divmod(p.index, len(_ALLOCATION))
    if (block + position) % 2 == 0:          # half of every group, whatever its position
        start = ct_end + timedelta(minutes=int(rng.integers(15, 41)))
        p.scans.append(_scan(p, "DOTATATE", "PET/MR", centre, inj, start, rng, False,
                             _pose(rng, float(rng.uniform(-40, 40)))))
    # FDG on another day for about two thirds: a fixed share of each group (more where
    # dedifferentiation matters: staging and PRRT candidates), spread evenly over its ranks.
    fdg_share = {"staging_net": 0.85, "prrt_net": 0.85, "history_net": 0.7,
                 "suspected_net": 0.6, "suspected_tio": 0.5, "tio_post_surgery": 0.35}
    share, k = fdg_share[p.group], _nth_in_group(p.index)
    if int((k + 1) * share + 0.5) > int(k * share + 0.5) or p.index < 4:
        day = day0 + timedelta(days=int(rng.integers(2, 22)))
        inj_f = datetime.combine(day, datetime.min.time()) + timedelta(
            hours=8, minutes=10 * int(rng.integers(0, 30)))
        start = inj_f + timedelta(minutes=int(rng.integers(55, 71)))
        p.scans.append(_scan(p, "FDG", "PET/CT", centre, inj_f, start, rng,
                             centre == "GE" and p.index % 2 == 1,
                             _pose(rng, float(rng.uniform(-40, 40)))))


def simulate_patient(index: int, seed: int) -> Patient:
    """Simulate patient ``index`` of the study made with ``seed``.

    Parameters
    ----------
    index : int
        0-based patient number; the pseudonym is ``P{index + 1:03d}``.
    seed : int
        Study seed.

    Returns
    -------
    Patient
        Clinical data, fake identifiers, anatomy, lesions and scans.
    """
    c = _clinical(index, seed)
    rng = _rng(seed, index, 1)
    body = BodyShape(height_mm=c["height_cm"] * 10.0,
                     bmi=c["weight_kg"] / (c["height_cm"] / 100.0) ** 2)
    organ_suv = {t: patient_organ_suv(t, _rng(seed, index, 2 + n))
                 for n, t in enumerate(RADIONUCLIDE)}
    first = _FIRST[int(rng.integers(len(_FIRST)))]
    last = _LAST[int(rng.integers(len(_LAST)))]
    birth = date(2025 - c["age"], 1, 1) + timedelta(days=int(rng.integers(0, 365)))
    p = Patient(
        index=index, patient_id=f"P{index + 1:03d}", group=c["group"], age=c["age"],
        sex=c["sex"], height_cm=c["height_cm"], weight_kg=c["weight_kg"],
        final_diagnosis=c["final_diagnosis"], disease_present=c["disease_present"],
        reference_standard=c["reference_standard"], grade=c["grade"], ki67=c["ki67"],
        primary_site=c["primary_site"], fgf23=c["fgf23"], phosphate=c["phosphate"],
        name=f"{last}^{first}", mrn=f"MRN{int(rng.integers(1_000_000, 9_999_999))}",
        birth_date=birth, anatomy=build_anatomy(body), organ_suv=organ_suv,
    )
    _add_lesions(p, _rng(seed, index, 10))
    p.anatomy.lesions = [Ellipsoid(0, tuple(les.center), (les.diameter_mm / 2.0,) * 3)
                         for les in p.lesions]
    _add_scans(p, _rng(seed, index, 20))
    # they build on this module's classes
    from nethelpers.demo.followup_sim import add_followup
    from nethelpers.demo.spect_sim import add_spect

    add_spect(p, seed)
    add_followup(p, seed)
    return p
