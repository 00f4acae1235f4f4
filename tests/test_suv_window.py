"""Decay times that cannot be right are refused: negative, or beyond the nuclide's window.

An FDG injection typed 7 h late as a time of day only was read as the previous day, 9.8
half-lives before the scan, and gave SUVmax ≈ 13 900 with exit 0. The expected SUVs and
decay times here come from the decay law (e^−λt) and the header values written by the tests
(or read back with plain pydicom), not from the engine.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta

import numpy as np
import pydicom
import pytest

from nethelpers.cli import main
from nethelpers.config import QuantifyConfig
from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.variants.damaged import write_injection_off
from nethelpers.dicom import load_pet
from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.tracers import DECAY_WINDOW_H, DECAY_WINDOW_HALF_LIVES
from nethelpers.scanmeasures import QuantifyOptions
from tests.test_dicomwrite import GRID, PATIENT, STUDY, T0, activity, pet_series
from tests.test_suv import DOSE, F18, INJ, SUV_TRUE, WEIGHT, _da, _tm, convert, instances

FLUORINE = "^18^Fluorine"


def _fdg(**kwargs) -> list[dict]:
    return instances(half_life=F18, nuclide=FLUORINE, **kwargs)


def _at(hours: float) -> dict:
    """Header changes putting the series (decay reference) ``hours`` after INJ."""
    return {"series": INJ + timedelta(hours=hours)}


def test_the_defaults_are_the_parameters_defaults():
    config = QuantifyConfig()
    assert config.max_decay_h == DECAY_WINDOW_H
    assert config.max_decay_half_lives == DECAY_WINDOW_HALF_LIVES
    # what a PET physicist would defend: a delayed FDG scan at 4 h and 68Ga at 3 h pass
    assert DECAY_WINDOW_H["18F"] >= 4 and DECAY_WINDOW_H["68Ga"] >= 3
    assert DECAY_WINDOW_H["99mTc"] >= 24


def test_time_only_fdg_injection_7_h_late_is_refused_not_read_as_the_previous_day():
    truth = INJ
    typed = truth + timedelta(hours=7)  # 16:00 typed for 09:00, no date
    insts = _fdg(iso_RadiopharmaceuticalStartDateTime=None,
                 iso_RadiopharmaceuticalStartTime=_tm(typed))
    scan_start = truth + timedelta(minutes=60)
    previous_day_h = (scan_start - (typed - timedelta(days=1))).total_seconds() / 3600
    assert previous_day_h == pytest.approx(18.0)
    with pytest.raises(SuvError) as info:
        convert(insts)
    exc = info.value
    assert exc.tag == "RadiopharmaceuticalStartTime (0018,1072)"
    assert "previous day" in exc.problem and f"{previous_day_h:.1f} h" in exc.problem
    assert f"{previous_day_h * 3600 / F18:.1f} half-lives" in exc.problem
    assert "6 h window for 18F" in exc.problem
    assert "--injection YYYY-MM-DDTHH:MM[:SS]" in exc.fix
    # the true date-time given: the SUV of the decay law
    suv, conv = convert(insts, injection=truth)
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)
    assert conv.provenance["decay_time_s"] == 3600.0


def test_a_real_midnight_crossing_is_still_the_previous_day():
    injected = datetime(2024, 3, 5, 23, 20)  # FDG at 23:20, scan at 00:20 the next day
    insts = _fdg(inj=injected, iso_RadiopharmaceuticalStartDateTime=None)
    suv, conv = convert(insts)
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)
    assert conv.provenance["decay_time_s"] == 3600.0
    assert "previous day" in conv.provenance["injection_source"]


@pytest.mark.parametrize(("hours", "accepted"), [(5.9, True), (6.1, False)])
def test_fdg_window_edge(hours, accepted):
    insts = _fdg(**_at(hours))
    if not accepted:
        with pytest.raises(SuvError, match=r"decay time 6\.1 h \(3\.3 half-lives\).*6 h window "
                                           r"for 18F.*injection date or time"):
            convert(insts)
        return
    suv, conv = convert(insts)
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)
    # SUV factor = weight / decayed dose, decay by the law
    decayed = DOSE * math.exp(-math.log(2) * hours * 3600 / F18)
    assert conv.factor == pytest.approx(WEIGHT * 1000 / decayed, rel=1e-12)
    assert conv.provenance["decay_window_s"] == 6 * 3600


def test_ga68_window_is_4_h_and_the_window_is_a_parameter():
    insts = instances(**_at(4.5))  # 68Ga
    with pytest.raises(SuvError, match="4 h window for 68Ga"):
        convert(insts)
    options = QuantifyOptions.from_config(QuantifyConfig(max_decay_h={"68Ga": 5.0}))
    suv, conv = convert(insts, **options.suv_options())
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)
    assert conv.provenance["decay_window_s"] == 5 * 3600
    # nuclides the parameters leave out keep their default
    with pytest.raises(SuvError, match="6 h window for 18F"):
        convert(_fdg(**_at(6.5)), **options.suv_options())


def test_an_unknown_nuclide_gets_a_window_in_half_lives():
    half = 14544.0  # 44Sc, not among the known nuclides
    sc44 = {"half_life": half, "nuclide": "^44^Scandium", "iso_Radiopharmaceutical": "44Sc-PSMA"}
    inside = instances(**sc44, **_at(4.9 * half / 3600))
    suv, conv = convert(inside)
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)
    assert conv.provenance["decay_window_s"] == pytest.approx(5 * half)
    beyond = instances(**sc44, **_at(5.1 * half / 3600))
    with pytest.raises(SuvError, match="5 half-life window for an unnamed radionuclide"):
        convert(beyond)
    suv, _ = convert(beyond, max_decay_half_lives=6.0)
    np.testing.assert_allclose(suv, SUV_TRUE, rtol=1e-12)


def test_negative_decay_times_are_refused_for_start_and_none():
    late = INJ + timedelta(hours=2)  # injection written after the scan, with its date
    for decay in ("START", "NONE"):
        insts = _fdg(decay=decay, iso_RadiopharmaceuticalStartDateTime=_da(late) + _tm(late))
        with pytest.raises(SuvError, match="negative decay time"):
            convert(insts)


def test_a_given_injection_beyond_the_window_is_refused_as_given():
    with pytest.raises(SuvError) as info:
        convert(_fdg(), injection=INJ - timedelta(hours=8))
    assert info.value.tag is None and "injection (given)" in info.value.problem
    assert info.value.fix == "check the given injection date and time"


def test_config_refuses_a_misspelt_nuclide(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="mass number first"):
        QuantifyConfig(max_decay_h={"F18": 8.0})
    with pytest.raises(ValidationError, match="mass number first"):
        QuantifyConfig(max_decay_h={"18F": 0.0})


# --------------------------------------------------------------------------------------
# The demo's variant, read back with pydicom and refused by load_pet and the CLI
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def late_fdg(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("late")
    fdg = dataclasses.replace(pet_series(), tracer="FDG", radionuclide="18F", half_life_s=F18,
                              description="WB FDG")
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"],
                        fdg, tmp / "src")
    return tmp, write_injection_off(tmp / "src", tmp / "late" / "PT", hours=7.0)


def test_demo_variant_writes_a_time_only_injection_7_h_late(late_fdg):
    _, damaged = late_fdg
    for path in damaged.files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        item = ds.RadiopharmaceuticalInformationSequence[0]
        assert "RadiopharmaceuticalStartDateTime" not in item
        assert str(item.RadiopharmaceuticalStartTime) == damaged.truth["written_time"]
    assert damaged.truth["injection"] == T0.isoformat()
    assert damaged.truth["written_time"] == (T0 + timedelta(hours=7)).strftime("%H%M%S")


def test_load_pet_and_the_cli_refuse_the_variant_with_the_fix(late_fdg, capsys):
    tmp, damaged = late_fdg
    with pytest.raises(SuvError, match="previous day.*6 h window for 18F"):
        load_pet(damaged.directory)
    assert main(["suv", str(damaged.directory), "-o", str(tmp / "s.nii.gz")]) == 2
    err = capsys.readouterr().err
    assert "RadiopharmaceuticalStartTime (0018,1072)" in err and "--injection" in err
    assert not (tmp / "s.nii.gz").exists()
    # the true injection given: the SUV of the original series
    original, _ = load_pet(tmp / "src")
    fixed, prov = load_pet(damaged.directory, injection=datetime.fromisoformat(
        damaged.truth["injection"]))
    import SimpleITK as sitk

    np.testing.assert_allclose(sitk.GetArrayFromImage(fixed), sitk.GetArrayFromImage(original),
                               rtol=1e-6)
    assert prov["injection_source"] == "given"
    assert prov["half_life_s"] == F18  # the series' own half-life (18F, not 68Ga)
