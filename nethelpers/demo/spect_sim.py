"""99mTc-HYNIC-TOC SPECT/CT of the demo cohort: who has one, when, on which system, and uptake.

Every TIO patient (groups suspected_tio and tio_post_surgery) has one 99mTc-HYNIC-TOC
SPECT/CT, 1-14 days before the 68Ga-DOTATATE PET/CT (the widely available SPECT as the first
localisation attempt, the PET/CT after it, as in intra-patient comparisons such as Gabriel et
al., J Nucl Med 2003;44:708-716, 2-22 days apart); so the reference standard still follows
the last scan. A third of the PRRT candidates among the NET patients has one too (Krenning
scoring before PRRT; :attr:`SpectProtocol.net_share`), never one of the first six patients:
the 6-patient test demo has SPECT for P005 and P006 only.

Physics (defaults of :class:`SpectProtocol`): 99mTc (half-life 21624.12 s = 6.0067 h),
555-925 MBq (typically 740), imaging 3.5-4.5 h after injection, 20-30 min of whole-body
multi-bed SPECT (the demo covers vertex to mid-thigh like its PET; real protocols often do
SPECT of chest and abdomen with planar whole-body images), matrix 128, liver noise CV
0.15-0.25 per voxel with a Gaussian correlation of 0.6 voxels (a correlation volume of about
1 ml: a 3 cm liver VOI holds about 15 independent samples, so its mean varies by about 5 %
between realisations, as repeated SPECT liver VOIs do). The SPECT/CT systems alternate over
the cohort's SPECT scans (:data:`SYSTEMS`):

- Siemens Symbia Intevo Bold, 4.795 mm voxels, xSPECT Quant reconstruction with resolution
  recovery (10-12 mm FWHM): quantitative, Bq/ml (its sensitivity calibration is traceable to
  a dose calibrator);
- GE Discovery NM/CT 670, 4.42 mm voxels, OSEM (12-14 mm FWHM): counts only (quantitation
  needs a sensitivity factor applied outside the image, e.g. on the workstation). The stored
  counts per Bq/ml follow from the camera: two heads of ``sensitivity_cps_per_mbq`` each,
  times the voxel volume, times the time per bed position.

SPECT activity is the concentration at the acquisition start (no decay correction to the
injection): SUV = activity x weight / (dose decayed from injection to the acquisition start).

Lesion uptake: each lesion's HYNIC-TOC SUV is its DOTATATE SUV times a factor drawn from
``lesion_factor`` (0.4-0.7: Tyr3-octreotide binds SSTR2 with lower affinity than
Tyr3-octreotate, and 4 h gives less specific contrast), an accessory spleen takes the
spleen's HYNIC-TOC SUV. Small culprit tumours in bone that PET finds and SPECT misses then
follow from SPECT's partial-volume loss at 10-14 mm FWHM in the reader model
(:mod:`nethelpers.demo.readers`); no size is drawn differently for SPECT.

Random streams of patient ``i`` (seed ``s``): ``[s, i, 30]`` lesion factors, ``[s, i, 31]``
the scan, ``[s, i, 32]`` organ SUVs; none is used elsewhere, so every PET, CT and MR file and
every other truth value is the same as without SPECT.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from nethelpers.demo.anatomy import Tissue
from nethelpers.demo.cohort_sim import (
    _ALLOCATION,
    Patient,
    Scan,
    _nth_in_group,
    _pose,
    _rng,
)
from nethelpers.demo.uptake import patient_organ_suv

TRACER = "HYNIC-TOC"
MODALITY = "SPECT/CT"
TIO_GROUPS = ("suspected_tio", "tio_post_surgery")


@dataclass(frozen=True)
class SpectSystem:
    """A SPECT/CT system and how its reconstructions are stored.

    Parameters
    ----------
    vendor, model : str
        Vendor key (SIEMENS / GE) and ManufacturerModelName.
    preset : str
        Key of :data:`nethelpers.demo.dicomwrite.SCANNERS`.
    voxel_mm : float
        Isotropic voxel size of the reconstruction.
    fwhm_mm : tuple of float
        Range of the reconstructed resolution (drawn per scan).
    quantitative : bool
        Bq/ml (True) or counts only (False).
    axial_fov_mm : float
        Axial field of view of one bed position.
    sensitivity_cps_per_mbq : float
        Planar sensitivity of one head with its low-energy collimator (99mTc).
    """

    vendor: str
    model: str
    preset: str
    voxel_mm: float
    fwhm_mm: tuple[float, float]
    quantitative: bool
    axial_fov_mm: float
    sensitivity_cps_per_mbq: float


#: The SPECT/CT systems, used in turn by the cohort's SPECT scans.
SYSTEMS = (
    SpectSystem("SIEMENS", "Symbia Intevo Bold", "siemens_intevo", 4.795, (10.0, 12.0), True,
                387.0, 91.0),
    SpectSystem("GE", "Discovery NM/CT 670", "ge_nmct670", 4.42, (12.0, 14.0), False,
                400.0, 92.0),
)

#: Matrix of the SPECT reconstructions.
SPECT_MATRIX = 128


@dataclass(frozen=True)
class SpectProtocol:
    """The HYNIC-TOC SPECT/CT protocol of the demo (ranges are drawn uniformly per scan).

    Parameters
    ----------
    dose_mbq : tuple of float
        Typical injected activity, its SD and the allowed range (MBq).
    uptake_h : tuple of float
        Hours from injection to the acquisition start.
    acquisition_min : tuple of float
        Total acquisition time (all bed positions), minutes.
    days_before_pet : tuple of int
        Days from the SPECT to the DOTATATE PET/CT.
    noise_cv_liver : tuple of float
        Noise coefficient of variation in the liver.
    noise_correlation_voxels : float
        Gaussian correlation length of the noise (voxels).
    lesion_factor : tuple of float
        Lesion HYNIC-TOC SUV over its DOTATATE SUV.
    net_share : dict
        Share of a NET group with SPECT, spread evenly over the group's ranks.
    first_net : int
        NET patients before this index never have SPECT (keeps the 6-patient demo small).
    """

    dose_mbq: tuple[float, float, float, float] = (740.0, 70.0, 555.0, 925.0)
    uptake_h: tuple[float, float] = (3.5, 4.5)
    acquisition_min: tuple[float, float] = (20.0, 30.0)
    days_before_pet: tuple[int, int] = (1, 14)
    noise_cv_liver: tuple[float, float] = (0.15, 0.25)
    noise_correlation_voxels: float = 0.6
    lesion_factor: tuple[float, float] = (0.4, 0.7)
    net_share: tuple[tuple[str, float], ...] = (("prrt_net", 1.0 / 3.0),)
    first_net: int = 6


#: The protocol the demo uses.
PROTOCOL = SpectProtocol()


def has_spect(index: int, protocol: SpectProtocol = PROTOCOL) -> bool:
    """Whether patient ``index`` has a HYNIC-TOC SPECT/CT (no random draw).

    Every TIO patient does; a NET group's share ``s`` of its patients does, spread over its
    ranks ``k`` (``round((k + 1) s) > round(k s)``), from patient ``first_net`` on.
    """
    group = _ALLOCATION[index % len(_ALLOCATION)]
    if group in TIO_GROUPS:
        return True
    share = dict(protocol.net_share).get(group, 0.0)
    k = _nth_in_group(index)
    return index >= protocol.first_net and int((k + 1) * share + 0.5) > int(k * share + 0.5)


def spect_system(index: int, protocol: SpectProtocol = PROTOCOL) -> SpectSystem:
    """The system of patient ``index``'s SPECT: the systems alternate over the SPECT scans."""
    rank = sum(has_spect(i, protocol) for i in range(index))
    return SYSTEMS[rank % len(SYSTEMS)]


def _lesion_uptake(p: Patient, rng: np.random.Generator, protocol: SpectProtocol) -> None:
    """Every lesion's HYNIC-TOC SUV (one factor drawn per lesion, in lesion order)."""
    spleen = p.organ_suv[TRACER][int(Tissue.SPLEEN)]
    for les in p.lesions:
        factor = float(rng.uniform(*protocol.lesion_factor))
        les.suv[TRACER] = spleen if les.site == "accessory_spleen" else (
            factor * les.suv["DOTATATE"])


def counts_per_bqml(system: SpectSystem, bed_s: float) -> float:
    """Stored counts per Bq/ml of a counts-only reconstruction (6 significant digits).

    Two heads of ``system.sensitivity_cps_per_mbq`` (cps per MBq) collect from a voxel of
    ``system.voxel_mm`` cubed (ml) for the time of one bed position ``bed_s``.
    """
    voxel_ml = system.voxel_mm**3 / 1000.0
    value = 2.0 * system.sensitivity_cps_per_mbq * 1e-6 * voxel_ml * bed_s
    return float(f"{value:.6g}")


def _spect_scan(p: Patient, system: SpectSystem, rng: np.random.Generator,
                protocol: SpectProtocol) -> Scan:
    """Assemble the SPECT/CT scan of a patient (acquisition and header choices)."""
    pet = next(s for s in p.scans if s.tracer == "DOTATATE" and s.modality == "PET/CT")
    lo, hi = protocol.days_before_pet
    day = pet.injection.date() - timedelta(days=int(rng.integers(lo, hi + 1)))
    injection = datetime.combine(day, datetime.min.time()) + timedelta(
        hours=8, minutes=15 * int(rng.integers(0, 13)))
    start = injection + timedelta(minutes=round(60.0 * float(rng.uniform(*protocol.uptake_h))))
    mean, sd, dmin, dmax = protocol.dose_mbq
    dose_mbq = float(np.clip(rng.normal(mean, sd), dmin, dmax))
    weight = round(p.weight_kg + float(rng.normal(0, 0.8)), 1)
    fov = p.anatomy.body.fov_z[1] - p.anatomy.body.fov_z[0]
    n_beds = int(np.ceil(fov / system.axial_fov_mm))
    total_s = 60.0 * float(rng.uniform(*protocol.acquisition_min))
    bed_s = float(round(total_s / n_beds))
    bed_starts = [start + timedelta(seconds=b * (bed_s + 20.0)) for b in range(n_beds)]
    fwhm = round(float(rng.uniform(*system.fwhm_mm)), 1)
    noise = float(rng.uniform(*protocol.noise_cv_liver))
    pose = _pose(rng, float(rng.uniform(-40, 40)))
    return Scan(
        scan_id=f"{p.patient_id}-{TRACER}-{MODALITY.replace('/', '')}",
        patient_id=p.patient_id, tracer=TRACER, modality=MODALITY, vendor=system.vendor,
        model=system.model, injection=injection, injected_dose_bq=round(dose_mbq, 2) * 1e6,
        weight_kg=weight, series_datetime=start, bed_starts=bed_starts, frame_duration_s=bed_s,
        decay_reference=start, units="BQML" if system.quantitative else "CNTS",
        radiopharm_time_style="datetime", ge_private=False, post_processed=False,
        bqml_per_count=None, pose=pose, fwhm_mm=fwhm, noise_cv_liver=noise,
        counts_per_bqml=None if system.quantitative else counts_per_bqml(system, bed_s),
        storage="NM",
    )


def add_spect(p: Patient, seed: int, protocol: SpectProtocol = PROTOCOL) -> None:
    """Give a patient HYNIC-TOC uptake (organs, every lesion) and, if due, its SPECT/CT.

    The SPECT/CT is appended after the PET scans, so their scan numbers (which seed their
    images, ROIs and reads) stay as they were.
    """
    p.organ_suv[TRACER] = patient_organ_suv(TRACER, _rng(seed, p.index, 32))
    _lesion_uptake(p, _rng(seed, p.index, 30), protocol)
    if has_spect(p.index, protocol):
        p.scans.append(_spect_scan(p, spect_system(p.index, protocol),
                                   _rng(seed, p.index, 31), protocol))
