"""The demo's 99mTc-HYNIC-TOC SPECT/CT (issue 18): cohort, physics, NM files read back, truth.

The NM files are read back with plain pydicom + numpy (geometry from the NM Detector and
Reconstruction modules, values = stored x RescaleSlope) and checked against SimpleITK and the
truth tables; nothing here reads them with the package's own reader. The 6-patient demo has
SPECT for P005 (Siemens Symbia Intevo Bold, quantitative Bq/ml) and P006 (GE Discovery NM/CT
670, counts only).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from scipy.ndimage import gaussian_filter1d
from scipy.special import erf

from nethelpers.demo.cohort_sim import simulate_patient
from nethelpers.demo.imaging import ImagingOptions, scan_grid, write_scan
from nethelpers.demo.readers import consensus_rows, lesions_in_view, simulate_reads
from nethelpers.demo.spect_sim import PROTOCOL
from nethelpers.demo.uptake import sphere_center_recovery
from nethelpers.rois import RoiStore

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
SLICE_VECTOR = 0x00540080
TC99M_HALF_LIFE_S = 21624.12
SPECT_IDS = ["P005-HYNIC-TOC-SPECTCT", "P006-HYNIC-TOC-SPECTCT"]
TIO_GROUPS = {"suspected_tio", "tio_post_surgery"}


def _tables(root: Path) -> dict[str, pd.DataFrame]:
    names = {"scans": "clinical/scans", "truth": "truth/scans", "lesions": "truth/lesions",
             "positions": "truth/lesion_positions", "patients": "clinical/patients",
             "reads": "reads/reads"}
    return {k: pd.read_csv(root / f"{v}.csv") for k, v in names.items()}


def _nm_file(root: Path, scan_id: str) -> Path:
    row = _tables(root)["scans"].set_index("scan_id").loc[scan_id]
    files = sorted((root / row.pet_dir).glob("*.dcm"))
    assert len(files) == 1                      # one multi-frame object
    return files[0]


def read_nm(path: Path) -> tuple[np.ndarray, dict, pydicom.Dataset]:
    """An NM RECON TOMO object as ``(volume, geometry, dataset)``, with pydicom and numpy.

    ``volume[k, j, i]`` is stored x RescaleSlope + RescaleIntercept (1, 0 when absent), its
    frames in SliceVector order; geometry: ``origin`` (centre of the first voxel of the
    first frame), ``spacing`` (column, row, |SpacingBetweenSlices|) and ``direction`` (3x3,
    columns: row direction, column direction, slice direction; the slice direction is the
    row x column normal times the sign of SpacingBetweenSlices).
    """
    ds = pydicom.dcmread(path)
    assert ds.SOPClassUID == NM_IMAGE_STORAGE and ds.FrameIncrementPointer == SLICE_VECTOR
    frames = ds.pixel_array.astype(np.float64).reshape(int(ds.NumberOfFrames), ds.Rows,
                                                       ds.Columns)
    slope = float(ds.get("RescaleSlope", 1.0))
    intercept = float(ds.get("RescaleIntercept", 0.0))
    order = np.argsort(np.asarray(ds.SliceVector, dtype=int))
    volume = frames[order] * slope + intercept
    detector = ds.DetectorInformationSequence[0]
    iop = np.asarray(detector.ImageOrientationPatient, dtype=float)
    row, col = iop[:3], iop[3:]
    dz = float(ds.SpacingBetweenSlices)
    direction = np.column_stack([row, col, np.sign(dz) * np.cross(row, col)])
    geometry = {"origin": np.asarray(detector.ImagePositionPatient, dtype=float),
                "spacing": np.array([float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]),
                                     abs(dz)]),
                "direction": direction, "size": (ds.Columns, ds.Rows, volume.shape[0])}
    return volume, geometry, ds


def _voxel_centres(geometry: dict, shape: tuple[int, int, int]) -> np.ndarray:
    """``(nz, ny, nx, 3)`` LPS centres of every voxel."""
    k, j, i = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    ijk = np.stack([i, j, k], -1) * geometry["spacing"]
    return geometry["origin"] + ijk @ geometry["direction"].T


def blurred_sphere(rho: np.ndarray, radius: float, fwhm: float) -> np.ndarray:
    """Value at distance ``rho`` from the centre of a unit sphere blurred by a 3D Gaussian.

    The convolution of the sphere's indicator with an isotropic Gaussian of SD ``s``, in
    closed form (radial integral of the Gaussian over the ball).
    """
    s = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
    rho = np.maximum(np.asarray(rho, dtype=float), 1e-6)
    a, b = (radius - rho) / s, (radius + rho) / s
    return (0.5 * (erf(a / np.sqrt(2)) + erf(b / np.sqrt(2)))
            - s / (rho * np.sqrt(2 * np.pi)) * (np.exp(-a**2 / 2) - np.exp(-b**2 / 2)))


def _noise_autocorrelation(sigma: float, max_lag: int = 6) -> np.ndarray:
    """Autocorrelation by lag (voxels) of white noise smoothed by a Gaussian of ``sigma`` voxels.

    Computed from the discrete kernel (scipy's ``gaussian_filter1d`` of a delta), one axis;
    the 3D autocorrelation is the product over the axes.
    """
    delta = np.zeros(4 * max_lag + 1)
    delta[2 * max_lag] = 1.0
    k = gaussian_filter1d(delta, sigma)
    return np.array([np.dot(k[: len(k) - lag], k[lag:]) for lag in range(max_lag + 1)]) / (
        np.dot(k, k))


def _mean_and_se(values: np.ndarray, indices: np.ndarray, sd: np.ndarray
                 ) -> tuple[float, float]:
    """Mean of correlated voxels (``indices``: their (k, j, i)) and its standard error.

    The demo's noise is white noise smoothed by a Gaussian of the SPECT protocol's
    correlation length (a truth of the generator), scaled by each voxel's SD ``sd``.
    """
    r = _noise_autocorrelation(PROTOCOL.noise_correlation_voxels)
    lags = np.abs(indices[:, None, :] - indices[None, :, :])
    rho = np.prod(np.where(lags < len(r), r[np.minimum(lags, len(r) - 1)], 0.0), axis=-1)
    return float(values.mean()), float(np.sqrt((np.outer(sd, sd) * rho).sum())
                                       / len(values))


def _liver_cv(volume: np.ndarray, liver: np.ndarray, truth: pd.Series) -> float:
    """The liver ROI's CV, checked against the truth's (SPECT: 0.15-0.25 per voxel)."""
    cv = float(volume[liver].std() / volume[liver].mean())
    assert 0.15 <= truth.noise_cv_liver <= 0.25
    assert cv == pytest.approx(truth.noise_cv_liver, rel=0.3)
    return truth.noise_cv_liver


def _activity_bqml(truth: pd.Series, suv: float) -> float:
    """Bq/ml of an SUV at the acquisition start, from the truth table's dose, times, weight."""
    elapsed = (datetime.fromisoformat(truth.series_datetime)
               - datetime.fromisoformat(truth.injection)).total_seconds()
    dose = truth.injected_dose_mbq * 1e6 * 2.0 ** (-elapsed / truth.half_life_s)
    return suv * dose / (truth.weight_kg * 1000.0)


# --- cohort ----------------------------------------------------------------------------


def test_six_patient_demo_has_spect_for_p005_and_p006_only(demo_study, ideal_study):
    t = _tables(demo_study)
    spect = t["scans"][t["scans"].modality == "SPECT/CT"]
    assert spect.scan_id.tolist() == SPECT_IDS
    assert (spect.tracer == "HYNIC-TOC").all()
    for _, s in spect.iterrows():
        assert s.pet_dir == f"dicom/{s.patient_id}/{s.scan_id}/NM"
        assert s.anat_dir == f"dicom/{s.patient_id}/{s.scan_id}/CT"
    groups = t["patients"].set_index("patient_id").group
    assert set(groups[spect.patient_id]) == TIO_GROUPS
    truth = t["truth"].set_index("scan_id")
    s = truth.loc[SPECT_IDS]
    assert s.model.tolist() == ["Symbia Intevo Bold", "Discovery NM/CT 670"]
    assert s.quantitative.tolist() == [True, False]
    assert s.counts_per_bqml.isna().tolist() == [True, False]
    assert (s.half_life_s == TC99M_HALF_LIFE_S).all() and (s.system == "SPECT").all()
    assert s.injected_dose_mbq.between(555, 925).all() and s.fwhm_mm.between(10, 14).all()
    assert s.uptake_min.between(210, 270).all()
    # PET rows: quantitative, no counts calibration, stored as PT
    pet = truth.drop(index=SPECT_IDS)
    assert pet.quantitative.all() and pet.counts_per_bqml.isna().all()
    assert (pet.storage == "PT").all() and (s.storage == "NM").all()
    # the SPECT came 1-14 days before the DOTATATE PET/CT
    scans = t["scans"].set_index("scan_id")
    for sid in SPECT_IDS:
        pet_day = scans.loc[sid.replace("HYNIC-TOC-SPECTCT", "DOTATATE-PETCT"), "scan_date"]
        days = (pd.Timestamp(pet_day) - pd.Timestamp(scans.loc[sid, "scan_date"])).days
        assert 1 <= days <= 14
    # every lesion has a HYNIC-TOC truth: 0.4-0.7 x its DOTATATE SUV (a splenule: the spleen)
    les = t["lesions"]
    ratio = les.true_suv_hynic_toc / les.true_suv_dotatate
    assert ratio[les.site != "accessory_spleen"].between(0.4 - 1e-3, 0.7 + 1e-3).all()
    # the 3 noise-free patients have no TIO patient, so no SPECT
    ideal = _tables(ideal_study)
    assert not (ideal["scans"].modality == "SPECT/CT").any()
    assert not ideal["patients"].group.isin(TIO_GROUPS).any()


def test_spect_reads_carry_krenning_but_no_sstr_rads(demo_study):
    reads = _tables(demo_study)["reads"]
    spect = reads[reads.scan_id.isin(SPECT_IDS)]
    lesions = _tables(demo_study)["lesions"]
    n_lesions = lesions.patient_id.value_counts()
    assert len(spect) == 3 * (n_lesions["P005"] + n_lesions["P006"])    # R1, R2, consensus
    assert spect.krenning.between(0, 4).all()
    assert (spect[spect.call == "negative"].krenning == 0).all()
    assert spect[["sstr_uptake", "anatomic_correlate", "site_typical"]].isna().all().all()


def test_sixty_patients_pet_finds_more_tio_culprits_than_spect():
    """Consensus reads over the 60-patient cohort (no DICOM): PET >= SPECT, some PET-only."""
    detected = {"DOTATATE": set(), "HYNIC-TOC": set()}
    culprits, spect_patients, net_spect, vendors = set(), [], [], []
    for i in range(60):
        p = simulate_patient(i, 0)
        spect = [s for s in p.scans if s.modality == "SPECT/CT"]
        if p.group in TIO_GROUPS:
            assert len(spect) == 1
        elif spect:
            net_spect.append(p.index)
        if spect:
            s = spect[0]
            spect_patients.append(p.index)
            vendors.append(s.vendor)
            pet = next(x for x in p.scans if x.tracer == "DOTATATE" and x.modality == "PET/CT")
            assert 1 <= (pet.injection.date() - s.injection.date()).days <= 14
            assert 210 <= s.uptake_min <= 270 and s.half_life_s == TC99M_HALF_LIFE_S
            assert s.quantitative == (s.vendor == "SIEMENS")
        if p.group not in TIO_GROUPS:
            continue
        ids = {les.lesion_id for les in p.lesions if les.malignant}
        culprits |= ids
        for k, scan in enumerate(p.scans):
            if scan.tracer in detected and scan.modality != "PET/MR":
                grid = scan_grid(p, scan, "PT" if scan.system == "PET" else scan.storage)
                reads = simulate_reads(p, scan, np.random.default_rng([0, i, 300, k]),
                                       visible=lesions_in_view(p, scan, grid))
                reads = consensus_rows(reads, np.random.default_rng([0, i, 400, k]))
                detected[scan.tracer] |= {r["lesion_id"] for r in reads
                                          if r["lesion_id"] in ids and r["call"] == "positive"}
    assert 2 <= len(net_spect) <= 6 and min(net_spect) >= 6      # a handful of NET patients
    assert [i for i in spect_patients if i < 6] == [4, 5]
    assert vendors == ["SIEMENS", "GE"] * (len(vendors) // 2) + ["SIEMENS"] * (len(vendors) % 2)
    pet, spect = detected["DOTATATE"], detected["HYNIC-TOC"]
    # seed 0: 6 culprits, PET finds 5, SPECT 3; P016 (14 mm, sinonasal) and P036 (12.5 mm,
    # humerus) are found by PET only; P035's (distal femur) lies below both fields of view,
    # so neither reader calls it (it was "found" by both before the review of issue 18)
    assert len(culprits) == 6
    assert len(pet) >= len(spect) and len(pet - spect) >= 1
    assert (len(pet), len(spect)) == (5, 3) and "P035-L01" not in pet | spect
    assert pet - spect == {"P016-L01", "P036-L01"}


def test_pet_scans_of_the_first_six_patients_are_unchanged():
    """Values pinned from the generator before SPECT was added (issue 18)."""
    doses = {"P001-DOTATATE-PETCT": 160.98, "P002-FDG-PETCT": 292.98,
             "P003-DOTATATE-PETMR": 115.12, "P005-FDG-PETCT": 367.42,
             "P006-DOTATATE-PETCT": 141.15}
    reads = {"P002-FDG-PETCT": "nnpppennnnnneeee", "P003-DOTATATE-PETCT": "pppppepppnnp",
             "P005-DOTATATE-PETMR": "pppn", "P006-DOTATATE-PETCT": "np"}
    lesions = {"P001-L05": (11.0, 4.8918, 3.0275), "P004-L10": (11.8, 6.6593, 2.7956),
               "P005-L01": (25.6, 9.4431, 2.4593), "P006-L01": (8.5, 4.9982, 2.9069)}
    seen = 0
    for i in range(6):
        p = simulate_patient(i, 0)
        assert [s.modality for s in p.scans][-1:] == (["SPECT/CT"] if i in (4, 5) else
                                                      [p.scans[-1].modality])
        for k, s in enumerate(p.scans):
            if s.scan_id in doses:
                assert round(s.injected_dose_bq / 1e6, 2) == doses[s.scan_id]
                seen += 1
            if s.scan_id in reads:
                got = simulate_reads(p, s, np.random.default_rng([0, i, 300, k]))
                assert "".join(r["call"][0] for r in got) == reads[s.scan_id]
                seen += 1
        for les in p.lesions:
            if les.lesion_id in lesions:
                d, dota, fdg = lesions[les.lesion_id]
                assert (les.diameter_mm, round(les.suv["DOTATATE"], 4),
                        round(les.suv["FDG"], 4)) == (d, dota, fdg)
                seen += 1
    assert seen == len(doses) + len(reads) + len(lesions)


# --- the NM files ----------------------------------------------------------------------


@pytest.mark.parametrize("scan_id", SPECT_IDS)
def test_simpleitk_reads_the_pydicom_geometry(demo_study, scan_id):
    path = _nm_file(demo_study, scan_id)
    volume, geo, ds = read_nm(path)
    img = sitk.ReadImage(str(path))
    assert img.GetSize() == geo["size"]
    np.testing.assert_allclose(img.GetOrigin(), geo["origin"], atol=1e-4)
    np.testing.assert_allclose(img.GetSpacing(), geo["spacing"], atol=1e-6)
    np.testing.assert_allclose(np.reshape(img.GetDirection(), (3, 3)), geo["direction"],
                               atol=1e-9)
    # SimpleITK's stored values match pydicom's (its rescale: slope, or none for counts)
    np.testing.assert_allclose(sitk.GetArrayFromImage(img), volume, rtol=1e-6, atol=1e-6)
    # the generator's SPECT grid: 128 matrix, the vendor's voxel
    p = simulate_patient(int(scan_id[1:4]) - 1, 0)
    grid = scan_grid(p, p.scans[-1], "NM")
    assert geo["size"] == grid.size and grid.size[:2] == (128, 128)
    np.testing.assert_allclose(geo["spacing"], grid.spacing, atol=1e-6)
    np.testing.assert_allclose(geo["origin"], grid.origin, atol=1e-3)
    voxel = {"SIEMENS": 4.795, "GE": 4.42}[p.scans[-1].vendor]
    np.testing.assert_allclose(geo["spacing"], voxel)
    # its CT shares the frame of reference and the study; R1's ROIs lie on the SPECT grid
    row = _tables(demo_study)["scans"].set_index("scan_id").loc[scan_id]
    ct = pydicom.dcmread(sorted((demo_study / row.anat_dir).glob("*.dcm"))[0],
                         stop_before_pixels=True)
    assert ct.Modality == "CT" and ct.FrameOfReferenceUID == ds.FrameOfReferenceUID
    assert ct.StudyInstanceUID == ds.StudyInstanceUID == row.study_uid
    labels = RoiStore(demo_study / "rois").load(scan_id).labels
    assert labels.GetSize() == geo["size"]
    np.testing.assert_allclose(labels.GetOrigin(), geo["origin"], atol=1e-3)
    np.testing.assert_allclose(labels.GetSpacing(), geo["spacing"], atol=1e-6)


@pytest.mark.parametrize("scan_id", SPECT_IDS)
def test_values_are_counts_or_bqml_as_the_truth_says(demo_study, scan_id):
    """Counts-only: Bq/ml x counts_per_bqml; quantitative: SUV x decayed dose / weight.

    Measured in R1's liver and spleen spheres. Tolerance: 4 standard errors of the ROI mean
    (the liver CV of the truth, checked in the image, and the protocol's noise correlation)
    plus 3 % for the
    blur at the sphere's edge (its 15 mm radius lies 6 mm inside the liver, about one PSF SD).
    """
    volume, geo, ds = read_nm(_nm_file(demo_study, scan_id))
    truth = _tables(demo_study)["truth"].set_index("scan_id").loc[scan_id]
    labels = sitk.GetArrayFromImage(RoiStore(demo_study / "rois").load(scan_id).labels)
    liver = labels == 1
    cv = _liver_cv(volume, liver, truth)
    scale = 1.0 if truth.quantitative else truth.counts_per_bqml
    for label, organ in ((1, "liver"), (2, "spleen")):
        mask = labels == label
        expected = _activity_bqml(truth, truth[f"true_suv_{organ}"]) * scale
        liver_value = _activity_bqml(truth, truth.true_suv_liver) * scale
        # the noise SD grows with the square root of the value: CV cv at the liver's value
        sd = np.full(mask.sum(), cv * np.sqrt(liver_value * expected))
        mean, se = _mean_and_se(volume[mask], np.argwhere(mask), sd)
        assert mean == pytest.approx(expected, rel=4 * se / expected + 0.03), organ
    if truth.quantitative:
        # the header's own numbers give the SUV: weight, dose (MBq in NM), start and half-life
        radio = ds.RadiopharmaceuticalInformationSequence[0]
        start = datetime.strptime(ds.AcquisitionDate + ds.AcquisitionTime.split(".")[0],
                                  "%Y%m%d%H%M%S")
        injected = datetime.strptime(radio.RadiopharmaceuticalStartDateTime[:14],
                                     "%Y%m%d%H%M%S")
        decayed = float(radio.RadionuclideTotalDose) * 1e6 * 2.0 ** (
            -(start - injected).total_seconds() / float(radio.RadionuclideHalfLife))
        suv = volume[liver].mean() * float(ds.PatientWeight) * 1000.0 / decayed
        assert suv == pytest.approx(truth.true_suv_liver, rel=0.15)
        assert ds.Units == "BQML"
    else:
        assert "Units" not in ds
        stored = ds.pixel_array
        assert stored.dtype == np.uint16 and float(ds.get("RescaleSlope", 1.0)) == 1.0


@pytest.fixture(scope="module")
def blurred_spect(tmp_path_factory) -> Path:
    """P005's and P006's SPECT/CT written again, blurred but noise-free (about 1 s).

    By the generator's own ``write_scan`` (same grid, timing and calibration as in the
    6-patient demo, so R1's ROIs of the demo lie on it).
    """
    root = tmp_path_factory.mktemp("spect_blurred")
    for index in (4, 5):
        p = simulate_patient(index, 0)
        write_scan(p, p.scans[-1], root, 0, ImagingOptions(noise=False))
    return root


def _lesion_core(volume: np.ndarray, geo: dict, lesion: pd.Series, position: pd.Series,
                 truth: pd.Series) -> dict:
    """A lesion's central voxels (within half its radius) and their expected SUV.

    Expected voxel by voxel: host + (lesion - host) x the blurred sphere's profile at the
    voxel's distance (host: muscle, the tissue around the sinonasal and thigh tumours).
    """
    centre = position[["x_mm", "y_mm", "z_mm"]].to_numpy(float)
    radius = lesion.diameter_mm / 2.0
    ijk = np.linalg.solve(geo["direction"] * geo["spacing"], centre - geo["origin"])
    lo = np.maximum(np.floor(ijk - radius / geo["spacing"]).astype(int), 0)[::-1]
    hi = np.ceil(ijk + radius / geo["spacing"]).astype(int)[::-1] + 1
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    rho = np.full(volume.shape, np.inf)
    box_geo = {**geo, "origin": geo["origin"] + geo["direction"] @ (lo[::-1] * geo["spacing"])}
    rho[box] = np.linalg.norm(_voxel_centres(box_geo, rho[box].shape) - centre, axis=-1)
    core = rho <= radius / 2.0
    profile = blurred_sphere(rho[core], radius, truth.fwhm_mm)
    host, suv = truth.true_suv_muscle, lesion.true_suv_hynic_toc
    return {"core": core, "profile": profile,
            "expected_suv": host + (suv - host) * profile,
            "shortfall": 1.0 - float(profile.mean())}


def _recovered_lesions(t: dict[str, pd.DataFrame], scan_id: str, min_recovery: float = 0.5):
    """(lesion, position, centre recovery) of the scan's lesions recovered at least that much."""
    lesions = t["lesions"].set_index("lesion_id")
    fwhm = t["truth"].set_index("scan_id").loc[scan_id, "fwhm_mm"]
    positions = t["positions"]
    for _, pos in positions[positions.scan_id == scan_id].iterrows():
        les = lesions.loc[pos.lesion_id]
        rc = sphere_center_recovery(les.diameter_mm, fwhm)
        assert blurred_sphere(0.0, les.diameter_mm / 2.0, fwhm) == pytest.approx(rc, rel=1e-6)
        if rc >= min_recovery:
            yield les, pos, rc


def test_blurred_lesion_to_liver_ratio_is_the_truth_times_the_recovery(demo_study,
                                                                       blurred_spect):
    """Noise-free: the ratio within 3 %, far from the unrecovered truth (P005-L01, rc 0.92).

    Measured: the mean of the lesion's central voxels over the mean of R1's liver sphere.
    Tolerance: the surroundings (air, fat, bone, brain, muscle) lie within 1 SUV of the host,
    times the profile's shortfall; 1 % for the blur at the liver sphere's edge.
    The values also follow the truth's calibration: Bq/ml, or Bq/ml x counts_per_bqml.
    """
    t = _tables(demo_study)
    truth = t["truth"].set_index("scan_id")
    checked = []
    for scan_id in SPECT_IDS:
        tr = truth.loc[scan_id]
        pet_dir = t["scans"].set_index("scan_id").loc[scan_id, "pet_dir"]
        volume, geo, _ = read_nm(next((blurred_spect / pet_dir).glob("*.dcm")))
        labels = RoiStore(demo_study / "rois").load(scan_id).labels
        np.testing.assert_allclose(labels.GetOrigin(), geo["origin"], atol=1e-3)
        liver = sitk.GetArrayFromImage(labels) == 1
        scale = 1.0 if tr.quantitative else tr.counts_per_bqml
        expected_liver = _activity_bqml(tr, tr.true_suv_liver) * scale
        assert volume[liver].mean() == pytest.approx(expected_liver, rel=0.01)
        for les, pos, _ in _recovered_lesions(t, scan_id):
            c = _lesion_core(volume, geo, les, pos, tr)
            measured = volume[c["core"]].mean() / volume[liver].mean()
            expected = c["expected_suv"].mean() / tr.true_suv_liver
            tol = c["shortfall"] * 1.0 / tr.true_suv_liver + 0.01 * expected
            assert measured == pytest.approx(expected, abs=tol), pos.lesion_id
            truth_ratio = les.true_suv_hynic_toc / tr.true_suv_liver
            assert abs(truth_ratio - measured) > 4 * tol          # the recovery is seen
            checked.append(pos.lesion_id)
    assert checked == ["P005-L01"]


def test_noisy_lesion_to_liver_ratio_within_the_noise(demo_study):
    """The 6-patient demo (noise on): the same ratio within 4 standard errors.

    The standard errors come from the noise (the truth's liver CV, checked in the image, the
    SD growing with the square root of the value, and the protocol's correlation), for the
    lesion core and for the liver sphere; plus the surroundings' spread as in the noise-free
    test.
    """
    t = _tables(demo_study)
    truth = t["truth"].set_index("scan_id")
    checked = []
    for scan_id in SPECT_IDS:
        volume, geo, _ = read_nm(_nm_file(demo_study, scan_id))
        tr = truth.loc[scan_id]
        labels = sitk.GetArrayFromImage(RoiStore(demo_study / "rois").load(scan_id).labels)
        liver = labels == 1
        cv = _liver_cv(volume, liver, tr)
        unit = volume[liver].mean() / tr.true_suv_liver              # image units per SUV
        liver_sd = np.full(liver.sum(), cv * volume[liver].mean())
        liver_mean, liver_se = _mean_and_se(volume[liver], np.argwhere(liver), liver_sd)
        for les, pos, _ in _recovered_lesions(t, scan_id):
            c = _lesion_core(volume, geo, les, pos, tr)
            sd = cv * np.sqrt(tr.true_suv_liver * c["expected_suv"]) * unit
            mean, se = _mean_and_se(volume[c["core"]], np.argwhere(c["core"]), sd)
            measured = mean / liver_mean
            expected = c["expected_suv"].mean() / tr.true_suv_liver
            rel_se = np.hypot(se / mean, liver_se / liver_mean)
            tol = 4.0 * rel_se * expected + c["shortfall"] * 1.0 / tr.true_suv_liver
            assert measured == pytest.approx(expected, abs=tol), pos.lesion_id
            checked.append(pos.lesion_id)
    assert checked == ["P005-L01"]
