"""Registration of a patient's scans: markers land on the lesion (demo truth), store, quality."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.config import ParamsError, params_from_dict
from nethelpers.configregistration import RegistrationConfig
from nethelpers.dicom.volume import load_ct, load_mr, load_pet_series
from nethelpers.quantify import scan_jobs
from nethelpers.registration import ScanRegistration, frame_of_reference_uid, judge, register_scans
from nethelpers.registrationsteps import working_image
from nethelpers.registrationstore import (
    image_fingerprint,
    point_map_for,
    registration_for,
    store_root,
)
from nethelpers.review import ScanImages

CT, MR, FDG = "P001-DOTATATE-PETCT", "P001-DOTATATE-PETMR", "P001-FDG-PETCT"


def _params(root: Path, out: Path, **registration):
    return params_from_dict({"study": {"name": "t", "data_root": str(root)},
                             "quantify": {"output": str(out)},
                             "registration": registration})


def _load_scans(root: Path, ids: tuple[str, ...] = (CT, MR, FDG)) -> dict[str, ScanImages]:
    params = _params(root, root / "unused")
    out = {}
    for job in scan_jobs(params):
        if job.scan_id in ids:
            pet = load_pet_series(job.pet, "bw", series_uid=job.series_uid).image
            kind = "MR" if job.modality == "PET/MR" else "CT"
            anatomy = (load_mr if kind == "MR" else load_ct)(job.anatomy)
            out[job.scan_id] = ScanImages(job, pet, anatomy, kind)
    return out


def _truth(root: Path, scan_id: str) -> pd.DataFrame:
    table = pd.read_csv(root / "truth" / "lesion_positions.csv")
    return table[table["scan_id"] == scan_id].set_index("lesion_id")[["x_mm", "y_mm", "z_mm"]]


@pytest.fixture(scope="module")
def ideal(ideal_study, tmp_path_factory):
    """P001's three scans (noise-free) and their registrations onto the DOTATATE PET/CT."""
    scans = _load_scans(ideal_study)
    params = _params(ideal_study, tmp_path_factory.mktemp("reg"))
    regs = {m: registration_for(params, scans[CT], scans[m]) for m in (MR, FDG)}
    return {"root": ideal_study, "scans": scans, "params": params, "regs": regs}


def _errors(root: Path, reg: ScanRegistration) -> tuple[np.ndarray, np.ndarray]:
    """Per lesion: distance before (patient coordinates) and after mapping moving -> fixed."""
    fixed, moving = _truth(root, reg.fixed_scan), _truth(root, reg.moving_scan)
    common = fixed.index.intersection(moving.index)
    assert len(common) >= 3
    before = np.linalg.norm(fixed.loc[common].values - moving.loc[common].values, axis=1)
    after = np.array([np.linalg.norm(np.subtract(reg.to_fixed(tuple(moving.loc[lid])),
                                                 fixed.loc[lid].values)) for lid in common])
    return before, after


@pytest.mark.parametrize("moving", [MR, FDG])
def test_truth_lesions_land_within_5_mm_after_registration(ideal, moving):
    reg = ideal["regs"][moving]
    before, after = _errors(ideal["root"], reg)
    assert before.min() > 5.0            # what the issue saw: markers land off the lesion
    assert after.max() < 5.0
    assert after.max() < 1.0             # noise-free: far better than the 5 mm asked for
    assert reg.kind == ("rigid CT-MR (Mattes MI)" if moving == MR else "rigid CT-CT (Mattes MI)")
    assert reg.verdict == "good" and not reg.warnings
    assert reg.quality["body_dice_after"] > reg.quality["body_dice_before"]
    assert reg.headline == reg.quality["body_dice_after"] > 0.9


def test_noisy_pet_ct_to_pet_mr_within_5_mm(demo_study, tmp_path):
    scans = _load_scans(demo_study, (CT, MR))
    reg = register_scans(scans[CT], scans[MR])
    before, after = _errors(demo_study, reg)
    assert before.min() > 5.0 and after.max() < 5.0


def test_pet_to_pet_without_anatomy_is_stated_and_lands(ideal):
    scans = ideal["scans"]
    moving = replace(scans[MR], anatomy=None, anatomy_kind="")
    reg = register_scans(scans[CT], moving)
    assert reg.kind == f"rigid PET-PET (Mattes MI; no CT or MR on {MR})"
    assert _errors(ideal["root"], reg)[1].max() < 5.0


def test_rigid_inverse_round_trip(ideal):
    reg = ideal["regs"][MR]
    rng = np.random.default_rng(0)
    for p in rng.uniform([-200, -200, -1000], [200, 200, -300], size=(20, 3)):
        back = reg.to_fixed(reg.to_moving(tuple(p)))
        assert np.linalg.norm(np.subtract(back, p)) < 0.1
        assert reg.invert_point(reg.to_moving(tuple(p)))[1] == 0.0
    assert reg.exact_inverse
    inverse = reg.inverse()
    p = (10.0, -20.0, -700.0)
    assert (inverse.fixed_scan, inverse.moving_scan) == (MR, CT)
    assert np.allclose(inverse.to_moving(reg.to_moving(p)), p, atol=1e-6)


def test_resample_puts_the_moving_lesion_on_the_fixed_lesion(ideal):
    scans, reg = ideal["scans"], ideal["regs"][FDG]
    fixed, moving = _truth(ideal["root"], CT), _truth(ideal["root"], FDG)
    lid = fixed.index.intersection(moving.index)[0]
    on_fixed = reg.resample(scans[FDG].pet, scans[CT].pet)
    assert on_fixed.GetSize() == scans[CT].pet.GetSize()

    def value(image, point):   # plain numpy: nearest voxel from origin and spacing (identity)
        idx = np.rint((np.asarray(point) - image.GetOrigin()) / image.GetSpacing()).astype(int)
        return float(sitk.GetArrayViewFromImage(image)[idx[2], idx[1], idx[0]])

    truth_value = value(scans[FDG].pet, moving.loc[lid].values)
    assert value(on_fixed, fixed.loc[lid].values) == pytest.approx(truth_value, rel=0.2)
    unregistered = sitk.Resample(scans[FDG].pet, scans[CT].pet)
    assert value(unregistered, fixed.loc[lid].values) != pytest.approx(truth_value, rel=0.2)


def test_store_reuses_the_saved_transform_and_its_reverse(ideal):
    params, scans, reg = ideal["params"], ideal["scans"], ideal["regs"][MR]
    folder = store_root(params) / "P001" / f"{CT}__{MR}"
    record = json.loads((folder / "registration.json").read_text())
    assert record["fingerprints"] == {CT: image_fingerprint(scans[CT]),
                                      MR: image_fingerprint(scans[MR])}
    assert record["simpleitk"] == sitk.Version_VersionString()
    assert record["settings"]["working_spacing_mm"] == 6.0 and "output" not in record["settings"]
    assert sitk.ReadTransform(str(folder / "transform.tfm")).GetParameters() == pytest.approx(
        reg.transform.GetParameters(), abs=1e-9)
    start = time.perf_counter()
    again = registration_for(params, scans[CT], scans[MR])
    assert time.perf_counter() - start < 0.5            # loaded, not registered (about 1.5 s)
    assert again.quality == reg.quality and again.kind == reg.kind
    p = (30.0, 40.0, -800.0)
    assert np.allclose(again.to_moving(p), reg.to_moving(p), atol=1e-6)
    reverse = registration_for(params, scans[MR], scans[CT])
    assert not (store_root(params) / "P001" / f"{MR}__{CT}").exists()   # the exact inverse
    assert np.allclose(reverse.to_moving(reg.to_moving(p)), p, atol=1e-6)


def test_a_changed_series_or_setting_is_registered_again(ideal, tmp_path, monkeypatch):
    params = _params(ideal["root"], tmp_path)
    calls = []

    def fake(fixed, moving, settings):
        calls.append(settings.iterations)
        return ScanRegistration(fixed.job.scan_id, moving.job.scan_id, "rigid CT-MR (fake)",
                                sitk.TranslationTransform(3, (1.0, 2.0, float(len(calls)))),
                                {"headline": 0.95, "body_dice_before": 0.8,
                                 "body_dice_after": 0.95}, "good", [],
                                RegistrationConfig().model_dump(mode="json"))

    monkeypatch.setattr("nethelpers.registrationstore.register_scans", fake)
    monkeypatch.setattr("nethelpers.registrationstore.method_settings",
                        lambda s: s.model_dump(mode="json"))
    scans = ideal["scans"]
    assert registration_for(params, scans[CT], scans[MR]).to_moving((0, 0, 0)) == (1, 2, 1)
    assert registration_for(params, scans[CT], scans[MR]).to_moving((0, 0, 0)) == (1, 2, 1)
    assert len(calls) == 1
    changed = sitk.Image(scans[MR].anatomy)
    changed[10, 10, 10] = changed[10, 10, 10] + 1.0
    moved = replace(scans[MR], anatomy=changed)
    assert image_fingerprint(moved) != image_fingerprint(scans[MR])
    assert registration_for(params, scans[CT], moved).to_moving((0, 0, 0)) == (1, 2, 2)
    other = _params(ideal["root"], tmp_path, iterations=50)
    assert registration_for(other, scans[CT], moved).to_moving((0, 0, 0)) == (1, 2, 3)
    assert calls == [200, 200, 50]


def test_an_unwritable_store_costs_the_cache_not_the_registration(ideal, tmp_path,
                                                                     monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    params = _params(ideal["root"], tmp_path, output=str(blocker / "registration"))
    monkeypatch.setattr("nethelpers.registrationstore.register_scans",
                        lambda fixed, moving, settings: ScanRegistration(
                            fixed.job.scan_id, moving.job.scan_id, "rigid CT-MR (fake)",
                            sitk.TranslationTransform(3, (1.0, 2.0, 3.0)),
                            {"headline": 0.95, "body_dice_before": 0.8,
                             "body_dice_after": 0.95}, "good", [],
                            RegistrationConfig().model_dump(mode="json")))
    scans = ideal["scans"]
    reg = registration_for(params, scans[CT], scans[MR])
    assert reg.to_moving((0.0, 0.0, 0.0)) == (1.0, 2.0, 3.0)      # used all the same
    assert len(reg.warnings) == 1 and "not saved (NotADirectoryError" in reg.warnings[0]
    assert str(tmp_path) not in reg.warnings[0]                     # no path shown


def _fake_images(scan_id: str, frame: str, image: sitk.Image) -> SimpleNamespace:
    return SimpleNamespace(job=SimpleNamespace(scan_id=scan_id, patient_id="P"), pet=image,
                           anatomy=image, anatomy_kind="CT", frame_of_reference_uid=frame)


def test_same_scan_or_frame_of_reference_is_identity(ideal):
    scans = ideal["scans"]
    assert register_scans(scans[CT], scans[CT]).kind == "identity (same scan)"
    image = sitk.Image(4, 4, 4, sitk.sitkFloat32)
    reg = register_scans(_fake_images("A", "1.2.3", image), _fake_images("B", "1.2.3", image))
    assert (reg.kind, reg.verdict, reg.to_moving((1, 2, 3))) == (
        "identity (same frame of reference)", "identity", (1.0, 2.0, 3.0))
    # the UID read from the PET equals the CT's, read by plain pydicom (one acquisition)
    ct_file = sorted(Path(scans[CT].job.anatomy).iterdir())[0]
    assert frame_of_reference_uid(scans[CT]) == pydicom.dcmread(ct_file).FrameOfReferenceUID
    assert frame_of_reference_uid(scans[CT]) != frame_of_reference_uid(scans[MR])


def test_poor_registration_is_a_warning_with_every_marker(ideal):
    reg = ideal["regs"][MR]
    strict = RegistrationConfig(min_dice=0.99)
    poor = judge(ScanRegistration(reg.fixed_scan, reg.moving_scan, reg.kind, reg.transform,
                                  dict(reg.quality)), strict)
    assert poor.verdict == "poor"
    dice = f"{reg.quality['body_dice_after']:.2f}"
    assert poor.warnings == [f"registration of {MR} onto {CT} is poor (body Dice {dice} below "
                             "0.99): markers carried between them may miss the lesion; check "
                             "them by eye"]
    # the review's point map passes the warning on (once per pair)
    params = ideal["params"].model_copy(update={"registration": strict})
    warnings: list[str] = []
    point_map = point_map_for(params, ideal["scans"].__getitem__, warnings.append)
    moving, fixed = _truth(ideal["root"], MR), _truth(ideal["root"], CT)
    lid = moving.index[0]
    for _ in range(2):
        mapped = point_map(MR, CT, tuple(moving.loc[lid]))
    assert np.linalg.norm(np.subtract(mapped, fixed.loc[lid].values)) < 5.0
    assert warnings == poor.warnings


def test_deformable_recovers_a_smooth_local_shift(ideal):
    """A known 10 mm bump (no truth in the demo needs one): B-spline within 3 mm."""
    ct = working_image(ideal["scans"][CT].anatomy, 6.0)
    ct = ct[:, :, 80:140]                                    # the abdomen: 360 mm
    size = np.array(ct.GetSize())
    centre = np.array(ct.TransformContinuousIndexToPhysicalPoint((size / 2).tolist()))
    zyx = np.indices(size[::-1]).reshape(3, -1).T[:, ::-1]
    points = np.asarray(ct.GetOrigin()) + zyx * 6.0
    bump = 10.0 * np.exp(-np.sum((points - centre) ** 2, axis=1) / (2 * 50.0 ** 2))
    field = np.zeros_like(points)
    field[:, 0], field[:, 1] = bump, 0.5 * bump
    image = sitk.GetImageFromArray(field.reshape(*size[::-1], 3), isVector=True)
    image.CopyInformation(ct)
    shift = sitk.DisplacementFieldTransform(image)          # moving(y) = fixed(shift(y))
    moved = sitk.Resample(ct, ct, shift, sitk.sitkLinear, -1000.0)
    reg = register_scans(_fake_images("F", "1", ct), _fake_images("M", "2", moved),
                         RegistrationConfig(deformable="always"))
    assert reg.kind == "rigid+B-spline CT-CT (Mattes MI)" and not reg.exact_inverse
    near = np.argsort(-bump)[:400:40]                       # where it moved 8-11 mm
    for i in near:
        truth = shift.TransformPoint(points[i].tolist())
        mapped, residual = reg.invert_point(tuple(points[i]))
        assert np.linalg.norm(np.subtract(points[i], truth)) > 5.0
        assert np.linalg.norm(np.subtract(mapped, truth)) < 3.0
        assert residual < 0.05
        assert np.linalg.norm(np.subtract(reg.to_moving(mapped), points[i])) < 0.05
    with pytest.raises(ValueError, match="deformable and has no exact inverse"):
        reg.inverse()


def test_settings_are_validated_and_the_store_defaults_beside_quantify(tmp_path):
    base = {"study": {"name": "t", "data_root": str(tmp_path)}}
    with pytest.raises(ParamsError, match=r"registration: .*shrink_factors .* end with 1"):
        params_from_dict({**base, "registration": {"shrink_factors": [2, 4],
                                                   "smoothing_sigmas_mm": [1, 0]}})
    with pytest.raises(ParamsError, match="registration.deformable"):
        params_from_dict({**base, "registration": {"deformable": "sometimes"}})
    params = params_from_dict({**base, "quantify": {"output": "q"}}, base_dir=tmp_path)
    assert store_root(params) == tmp_path / "q" / "registration"
    params = params_from_dict({**base, "registration": {"output": "reg"}}, base_dir=tmp_path)
    assert store_root(params) == tmp_path / "reg"
