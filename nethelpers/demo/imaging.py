"""Turn a simulated patient into images: PET or SPECT (Bq/ml), CT (HU) and MR, and write them.

PET physics: the true SUV map is voxelised with 2x2x2 supersampling (partial volume at
edges), optionally blurred with the scanner's Gaussian PSF and given count-dependent,
spatially correlated noise; voxel activity = SUV x decayed dose / weight (Bq/ml at the
decay-correction reference time, DecayCorrection START).

SPECT (HYNIC-TOC SPECT/CT, :mod:`nethelpers.demo.spect_sim`) is the same phantom on the
SPECT grid (128 matrix, 4.42-4.8 mm voxels) with the system's 10-14 mm PSF and noisier,
smoother noise; its activity is the concentration at the acquisition start. It is written
by :func:`nethelpers.demo.nmwrite.write_spect_series` as one NM object (Bq/ml, or counts =
Bq/ml x ``scan.counts_per_bqml``) under ``<scan_id>/NM``, with its low-dose CT in the same
frame of reference under ``<scan_id>/CT``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo import nmwrite, spect_sim
from nethelpers.demo.anatomy import Tissue, paint
from nethelpers.demo.cohort_sim import (
    CT_MATRIX,
    CT_SPACING,
    MR_MATRIX,
    MR_SPACING,
    PET_MATRIX,
    PET_SPACING,
    PETMR_BONE_BIAS,
    RADIONUCLIDE,
    SPECT_RADIONUCLIDE,
    Patient,
    Scan,
)
from nethelpers.demo.followup_sim import anatomy_at, lesions_at
from nethelpers.demo.grid import Grid
from nethelpers.demo.uptake import CT_HU, MR_T1, lut

_SCANNER_PRESET = {
    ("SIEMENS", "PET/CT"): "siemens_vision", ("GE", "PET/CT"): "ge_dmi",
    ("PHILIPS", "PET/CT"): "philips_vereos", ("SIEMENS", "PET/MR"): "siemens_mmr",
    ("GE", "PET/MR"): "ge_signa",
    **{(system.vendor, spect_sim.MODALITY): system.preset for system in spect_sim.SYSTEMS},
}

#: Gaussian correlation length (voxels) of the PET noise.
PET_NOISE_CORRELATION = 0.8


@dataclass(frozen=True)
class ImagingOptions:
    """Physics switches of the generator (a blur- and noise-free study has exact cores)."""

    blur: bool = True
    noise: bool = True


def scan_grid(p: Patient, scan: Scan, kind: str) -> Grid:
    """The voxel grid of a scan's PET, SPECT, CT or MR series (axial, centred on the isocentre).

    Parameters
    ----------
    p : Patient
        The patient (body size sets the axial extent).
    scan : Scan
        The scan (its pose sets the table position).
    kind : str
        ``"PT"`` or ``"NM"`` (the emission series: PET, or SPECT on a SPECT/CT scan),
        ``"CT"`` or ``"MR"``.

    Returns
    -------
    Grid
        Vertex to mid-thigh, matrix and spacing of the modality.
    """
    if kind in ("PT", "NM") and scan.system == "SPECT":
        voxel = next(s.voxel_mm for s in spect_sim.SYSTEMS if s.vendor == scan.vendor)
        spacing, n = (voxel, voxel, voxel), spect_sim.SPECT_MATRIX
    elif kind in ("PT", "NM"):
        spacing, n = PET_SPACING[scan.vendor], PET_MATRIX
    elif kind == "CT":
        spacing, n = CT_SPACING, CT_MATRIX
    else:
        spacing, n = MR_SPACING, MR_MATRIX
    z0, z1 = p.anatomy.body.fov_z
    tz = scan.pose.translation[2]
    nz = int(np.ceil((z1 - z0) / spacing[2])) + 1
    half = (n - 1) / 2.0
    origin = (-half * spacing[0], -half * spacing[1], tz + z0)
    return Grid(size=(n, n, nz), spacing=tuple(float(s) for s in spacing),
                origin=tuple(round(float(o), 4) for o in origin))


def _fine_grid(grid: Grid) -> Grid:
    """The grid with half the spacing whose 2x2x2 blocks make up the voxels of ``grid``."""
    sp = np.asarray(grid.spacing) / 2.0
    shift = grid.matrix @ (-sp / 2.0)
    return Grid(size=tuple(2 * s for s in grid.size), spacing=tuple(sp),
                origin=tuple(np.asarray(grid.origin) + shift), direction=grid.direction)


def true_suv_image(p: Patient, scan: Scan, grid: Grid) -> np.ndarray:
    """The noise-free, blur-free SUV image of a scan (2x2x2 supersampled voxels).

    PET/MR scans get the MR-attenuation bias in bone (tissue and lesions in bone).
    """
    organ = dict(p.organ_suv[scan.tracer])
    present = lesions_at(p, scan)
    lesion = [les.suv[scan.tracer] for les in present]
    if scan.modality == "PET/MR":
        for t in (Tissue.BONE, Tissue.MARROW):
            organ[int(t)] *= PETMR_BONE_BIAS
        lesion = [v * PETMR_BONE_BIAS if les.in_bone else v
                  for v, les in zip(lesion, present, strict=True)]
    table = lut(organ, lesion)
    labels = paint(_fine_grid(grid), scan.pose, anatomy_at(p, scan))
    out = np.zeros(grid.shape, dtype=np.float32)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):      # one sub-lattice at a time: no full-size float copy
                out += table[labels[dz::2, dy::2, dx::2]]
    return out * np.float32(0.125)


def _correlated_noise(shape: tuple[int, ...], rng: np.random.Generator, sigma: float
                      ) -> np.ndarray:
    """Unit-variance Gaussian noise with a Gaussian autocorrelation (sigma in voxels)."""
    white = rng.standard_normal(shape, dtype=np.float32)
    smooth = gaussian_filter(white, sigma)
    return smooth / np.float32(smooth.std())


def pet_suv_image(p: Patient, scan: Scan, grid: Grid, options: ImagingOptions,
                  rng: np.random.Generator) -> np.ndarray:
    """The reconstructed SUV image (PET or SPECT): truth, PSF blur, then count-dependent noise.

    The noise has the scan's coefficient of variation in the liver and a Gaussian correlation
    of :data:`PET_NOISE_CORRELATION` voxels on PET, the SPECT protocol's on SPECT.
    """
    img = true_suv_image(p, scan, grid)
    if options.blur:
        sigma_mm = scan.fwhm_mm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        img = gaussian_filter(img, sigma=[sigma_mm / s for s in grid.spacing[::-1]])
    if options.noise:
        liver = p.organ_suv[scan.tracer][int(Tissue.LIVER)]
        c = scan.noise_cv_liver * np.sqrt(liver)
        correlation = (PET_NOISE_CORRELATION if scan.system == "PET"
                       else spect_sim.PROTOCOL.noise_correlation_voxels)
        noise = _correlated_noise(img.shape, rng, correlation)
        img = np.maximum(img + np.float32(c) * np.sqrt(np.maximum(img, 0)) * noise, 0)
    return img.astype(np.float32)


def ct_image(p: Patient, scan: Scan, grid: Grid, options: ImagingOptions,
             rng: np.random.Generator) -> np.ndarray:
    """CT in HU: tissue and lesion CT numbers plus 12 HU quantum noise.

    Values below -1024 HU (noise in air) are left to the writer, which stores them at its
    -1024 floor.
    """
    table = lut({int(k): v for k, v in CT_HU.items()}, [les.hu for les in lesions_at(p, scan)],
                default=CT_HU[Tissue.MUSCLE])
    img = table[paint(grid, scan.pose, anatomy_at(p, scan))]
    if options.noise:
        img += np.float32(12.0) * rng.standard_normal(img.shape, dtype=np.float32)
    return img


def mr_image(p: Patient, scan: Scan, grid: Grid, options: ImagingOptions,
             rng: np.random.Generator) -> np.ndarray:
    """T1-weighted MR: tissue signal, a smooth coil bias field and Rician noise."""
    table = lut({int(k): v for k, v in MR_T1.items()},
                [les.mr_factor * MR_T1[Tissue.MUSCLE] for les in lesions_at(p, scan)])
    img = table[paint(grid, scan.pose, anatomy_at(p, scan))]
    nz, ny, nx = img.shape
    yy, xx = np.meshgrid(np.linspace(-1, 1, ny), np.linspace(-1, 1, nx), indexing="ij")
    img *= (1.0 + 0.15 * np.cos(1.3 * xx) * np.cos(0.9 * yy)).astype(np.float32)[None]
    if options.noise:
        re = img + np.float32(12.0) * rng.standard_normal(img.shape, dtype=np.float32)
        im = np.float32(12.0) * rng.standard_normal(img.shape, dtype=np.float32)
        img = np.sqrt(re * re + im * im)
    return np.clip(img, 0, 65535)


def bed_slices(grid: Grid, scan: Scan) -> list[tuple[int, int]]:
    """Slice ranges of the bed positions, head first (bed 0 holds the most superior slices)."""
    nz = grid.shape[0]
    n_beds = len(scan.bed_starts)
    edges = np.linspace(nz, 0, n_beds + 1).round().astype(int)
    return [(int(edges[b + 1]), int(edges[b])) for b in range(n_beds)]


def _dicom_patient(p: Patient, scan: Scan) -> dw.Patient:
    return dw.Patient(name=p.name, patient_id=p.mrn, birth_date=p.birth_date, sex=p.sex,
                      weight_kg=scan.weight_kg, height_m=round(p.height_cm / 100.0, 2))


def _study(p: Patient, scan: Scan, seed: int) -> dw.Study:
    return dw.Study(
        study_uid=dw.make_uid(seed, scan.scan_id, "study"),
        study_datetime=scan.injection,
        accession=f"A{p.index:03d}{scan.injection:%y%m%d%H%M}",
        description=f"{scan.modality} {scan.tracer} whole body",
        frame_of_reference_uid=dw.make_uid(seed, scan.scan_id, "for"),
        institution="Demo University Hospital",
        referring_physician="Referrer^Fake",
    )


def pet_series(p: Patient, scan: Scan, grid: Grid, seed: int) -> dw.PetSeries:
    """The PET header values of a scan (vendor style, timing, units)."""
    nuclide, half_life, positron = RADIONUCLIDE[scan.tracer]
    philips = scan.units == "CNTS"
    return dw.PetSeries(
        series_uid_seed=f"{seed}/{scan.scan_id}/PT",
        series_number=3 if scan.vendor != "GE" else 4,
        description=f"PET WB {scan.tracer} AC",
        series_datetime=scan.series_datetime,
        tracer=scan.tracer, radionuclide=nuclide, half_life_s=half_life,
        positron_fraction=positron, injected_dose_bq=scan.injected_dose_bq,
        injection=scan.injection, bed_starts=scan.bed_starts, bed_slices=bed_slices(grid, scan),
        frame_duration_s=scan.frame_duration_s, decay_reference=scan.decay_reference,
        units=scan.units, radiopharm_time_style=scan.radiopharm_time_style,
        philips_bqml_per_count=scan.bqml_per_count if philips else None,
        philips_suv_factor=scan.bqml_per_count * scan.suv_factor if philips else None,
        ge_scan_datetime=scan.bed_starts[0] if scan.ge_private else None,
        acquisition_datetime_element=philips,
        convolution_kernel=f"GAUSSIAN {scan.fwhm_mm:.1f} mm",
        attenuation_correction_method="CT" if scan.modality == "PET/CT" else "MR-based (Dixon)",
    )


def write_scan(p: Patient, scan: Scan, root: Path, seed: int, options: ImagingOptions
               ) -> dict[str, object]:
    """Simulate and write one scan's PET (or SPECT) and companion CT/MR series.

    Returns
    -------
    dict
        Series UIDs, directories relative to ``root`` and the PET grid (for ROIs and truth).
    """
    rng = np.random.default_rng([seed, p.index, 100, p.scans.index(scan)])
    if scan.system == "SPECT":
        return _write_spect_scan(p, scan, root, seed, options, rng)
    patient = _dicom_patient(p, scan)
    study = _study(p, scan, seed)
    scanner = dw.SCANNERS[_SCANNER_PRESET[(scan.vendor, scan.modality)]]
    base = root / "dicom" / p.patient_id / scan.scan_id
    pet_grid = scan_grid(p, scan, "PT")
    suv = pet_suv_image(p, scan, pet_grid, options, rng)
    activity = suv / np.float32(scan.suv_factor)
    pet_info = dw.write_pet_series(activity, pet_grid, patient, study, scanner,
                                   pet_series(p, scan, pet_grid, seed), base / "PT")
    anat_kind = "CT" if scan.modality == "PET/CT" else "MR"
    anat_grid = scan_grid(p, scan, anat_kind)
    before = scan.bed_starts[0] - timedelta(minutes=4 if anat_kind == "CT" else 1)
    if anat_kind == "CT":
        ct = dw.CtSeries(series_uid_seed=f"{seed}/{scan.scan_id}/CT", series_number=2,
                         description="CT WB low dose AC", series_datetime=before)
        anat = dw.write_ct_series(ct_image(p, scan, anat_grid, options, rng), anat_grid,
                                  patient, study, scanner, ct, base / "CT")
    else:
        mr = dw.MrSeries(series_uid_seed=f"{seed}/{scan.scan_id}/MR", series_number=2,
                         description="T1 VIBE Dixon WB in", series_datetime=before)
        anat = dw.write_mr_series(mr_image(p, scan, anat_grid, options, rng), anat_grid,
                                  patient, study, scanner, mr, base / "MR")
    return {
        "study_uid": study.study_uid, "pet_series_uid": pet_info.series_uid,
        "anat_series_uid": anat.series_uid,
        "pet_dir": str((base / "PT").relative_to(root)),
        "anat_dir": str((base / anat_kind).relative_to(root)),
        "pet_grid": pet_grid, "n_files": pet_info.n_files + anat.n_files,
    }


def spect_series(scan: Scan, seed: int) -> nmwrite.SpectSeries:
    """The SPECT header values of a SPECT/CT scan (storage, calibration, timing)."""
    nuclide, half_life = SPECT_RADIONUCLIDE[scan.tracer]
    recon = "xSPECT Quant" if scan.quantitative else "OSEM AC SC"
    return nmwrite.SpectSeries(
        series_uid_seed=f"{seed}/{scan.scan_id}/{scan.storage}", series_number=3,
        description=f"SPECT WB {scan.tracer} {recon}", series_datetime=scan.series_datetime,
        tracer=scan.tracer, radionuclide=nuclide, half_life_s=half_life,
        injected_dose_bq=scan.injected_dose_bq, injection=scan.injection,
        acquisition_duration_s=scan.frame_duration_s * len(scan.bed_starts),
        storage=scan.storage, quantitative=scan.quantitative,
        counts_per_bqml=scan.counts_per_bqml or 1.0, fwhm_mm=scan.fwhm_mm,
    )


def _write_spect_scan(p: Patient, scan: Scan, root: Path, seed: int, options: ImagingOptions,
                      rng: np.random.Generator) -> dict[str, object]:
    """Simulate and write a SPECT/CT scan: the SPECT, then its low-dose CT (same frame)."""
    scanner = dw.SCANNERS[_SCANNER_PRESET[(scan.vendor, scan.modality)]]
    patient = _dicom_patient(p, scan)
    study = _study(p, scan, seed)
    base = root / "dicom" / p.patient_id / scan.scan_id
    grid = scan_grid(p, scan, scan.storage)
    activity = pet_suv_image(p, scan, grid, options, rng) / np.float32(scan.suv_factor)
    emission = nmwrite.write_spect_series(activity, grid, patient, study, scanner,
                                          spect_series(scan, seed), base / scan.storage)
    ct_grid = scan_grid(p, scan, "CT")
    after = scan.bed_starts[-1] + timedelta(seconds=scan.frame_duration_s + 60.0)
    ct = dw.CtSeries(series_uid_seed=f"{seed}/{scan.scan_id}/CT", series_number=2,
                     description="CT low dose AC SPECT", series_datetime=after,
                     kvp=130.0 if scan.vendor == "SIEMENS" else 120.0, tube_current_ma=30,
                     convolution_kernel="B31s" if scan.vendor == "SIEMENS" else "STANDARD")
    anat = dw.write_ct_series(ct_image(p, scan, ct_grid, options, rng), ct_grid, patient,
                              study, scanner, ct, base / "CT")
    return {
        "study_uid": study.study_uid, "pet_series_uid": emission.series_uid,
        "anat_series_uid": anat.series_uid,
        "pet_dir": str((base / scan.storage).relative_to(root)),
        "anat_dir": str((base / "CT").relative_to(root)),
        "pet_grid": grid, "n_files": emission.n_files + anat.n_files,
    }
