"""Display logic of the reading layout without a screen: windows, colour bar, cursor values."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import SimpleITK as sitk

from nethelpers.viewer._qt.lineruler import axis_lengths_mm, line_length_mm
from nethelpers.viewer.display import (
    CT_WINDOWS,
    DisplaySettings,
    anatomy_window,
    colour_bar,
    cursor_text,
    cursor_values,
    fusion_rgba,
    inverted_grey_rgba,
    mr_percentile_window,
    nice_ticks,
    presets_for,
)


def test_suv_window_defaults_by_tracer_and_overrides():
    s = DisplaySettings()
    assert s.suv_limits("DOTATATE") == (1.0, 15.0)      # plots.style.SUV_WINDOW
    assert s.suv_limits("FDG") == (1.0, 7.0)
    assert s.suv_limits("HYNIC-TOC") == (1.0, 10.0)     # the default of any other tracer
    custom = s.with_(suv_lower=2.0, suv_upper=12.0)
    assert custom.suv_limits("FDG") == (2.0, 12.0)
    assert custom.mip_limits("FDG") == (0.0, 12.0)
    assert s.with_(mip_suv_upper=5.0).mip_limits("DOTATATE") == (0.0, 5.0)


@pytest.mark.parametrize("changes, field", [
    ({"suv_lower": 5.0, "suv_upper": 4.0}, "upper limit"),
    ({"pet_opacity": 1.5}, "pet_opacity"),
    ({"ct_preset": "brain"}, "CT window"),
    ({"mr_preset": "T9"}, "MR window"),
    ({"pet_alpha_ramp": 1.0}, "pet_alpha_ramp"),
])
def test_settings_refuse_impossible_values(changes, field):
    with pytest.raises(ValueError, match=field):
        DisplaySettings(**changes)


def test_ct_presets_are_width_level_windows():
    s = DisplaySettings()
    assert list(CT_WINDOWS) == ["soft tissue", "liver", "bone", "lung"]
    assert anatomy_window(None, "CT", s) == (-160.0, 240.0)            # W400 L40
    assert anatomy_window(None, "CT", s, "liver") == (-15.0, 135.0)    # W150 L60
    assert anatomy_window(None, "CT", s, "lung") == (-1350.0, 150.0)   # W1500 L-600
    assert anatomy_window(None, "CT", s, "bone") == (-450.0, 1050.0)   # W1500 L300


def test_mr_presets_are_percentiles_of_the_voxels_above_zero():
    rng = np.random.default_rng(1)
    mr = np.zeros((20, 30, 40), dtype=np.float32)
    body = rng.gamma(4.0, 100.0, size=(10, 20, 30)).astype(np.float32)
    mr[5:15, 5:25, 5:35] = body
    s = DisplaySettings()
    assert presets_for("MR", s) == ["auto", "wide", "narrow"]          # never greyed out
    for name, (lo, hi) in s.mr_presets.items():
        expected = np.percentile(body.ravel(), [lo, hi])               # zeros left out
        np.testing.assert_allclose(anatomy_window(mr, "MR", s, name), expected, rtol=1e-6)
    assert mr_percentile_window(np.zeros((3, 3)), (1, 99)) == (0.0, 1.0)
    with pytest.raises(ValueError, match="MR window"):
        anatomy_window(mr, "MR", s, "soft tissue")


def test_nice_ticks_steps_and_ends():
    assert nice_ticks(0, 10) == [0, 2, 4, 6, 8, 10]
    assert nice_ticks(0, 7) == [0, 2, 4, 6]
    assert nice_ticks(1, 15) == [5, 10, 15]
    assert nice_ticks(0, 0.8) == [0, 0.2, 0.4, 0.6, 0.8]
    with pytest.raises(ValueError):
        nice_ticks(3, 3)


def test_colour_bar_ticks_positions_and_title():
    bar = colour_bar((1.0, 15.0), fusion_rgba())
    assert bar.title == "SUV"
    assert bar.ticks == [5, 10, 15] and bar.labels == ["5", "10", "15"]
    np.testing.assert_allclose(bar.positions, [(5 - 1) / 14, (10 - 1) / 14, 1.0])
    assert bar.limits == (1.0, 15.0)


def test_fusion_colour_table_is_transparent_below_and_fades_in():
    rgba = fusion_rgba("inferno", n=101, alpha_ramp=0.2)
    ref = matplotlib.colormaps["inferno"](np.linspace(0, 1, 101))
    np.testing.assert_allclose(rgba[:, :3], ref[:, :3])                # the colours themselves
    assert rgba[0, 3] == 0.0                                           # at/below lower: none
    np.testing.assert_allclose(rgba[10, 3], 0.5)                       # half-way up the ramp
    assert np.all(rgba[20:, 3] == 1.0)
    sharp = fusion_rgba("inferno", n=11, alpha_ramp=0.0)
    assert sharp[0, 3] == 0.0 and np.all(sharp[1:, 3] == 1.0)


def test_inverted_grey_white_to_black():
    rgba = inverted_grey_rgba(5)
    np.testing.assert_allclose(rgba[:, 0], [1.0, 0.75, 0.5, 0.25, 0.0])
    assert np.all(rgba[:, 0] == rgba[:, 2]) and np.all(rgba[:, 3] == 1.0)


def _image(arr, spacing, origin):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    return img


def _scan(anatomy_kind="CT"):
    pet = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6) / 10.0
    ct = (np.arange(8 * 10 * 12, dtype=np.float32).reshape(8, 10, 12) - 500.0)
    images = SimpleNamespace(
        pet=_image(pet, (4.0, 4.0, 3.0), (-10.0, -20.0, -30.0)),
        anatomy=_image(ct, (2.0, 2.0, 1.5), (-11.0, -21.0, -30.5)),
        anatomy_kind=anatomy_kind, job=SimpleNamespace(scan_id="S", tracer="FDG"))
    return images, pet, ct


def test_cursor_values_at_a_world_point():
    images, pet, ct = _scan()
    # world (z, y, x) = origin + index * spacing, indices chosen in the test
    k, j, i = 2, 3, 4
    world = (-30.0 + k * 3.0, -20.0 + j * 4.0, -10.0 + i * 4.0)
    ck, cj, ci = (round((w - o) / s) for w, o, s in zip(world, (-30.5, -21.0, -11.0),
                                                          (1.5, 2.0, 2.0), strict=True))
    values = cursor_values(images, world)
    assert values == {"SUV": pytest.approx(pet[k, j, i]), "HU": pytest.approx(ct[ck, cj, ci])}
    assert cursor_text(images, world) == f"SUV {pet[k, j, i]:.2f} | HU {ct[ck, cj, ci]:.0f}"
    images.anatomy_kind = "MR"
    assert "MR" in cursor_values(images, world)
    assert cursor_text(images, (1e4, 0.0, 0.0)) == "outside the scan"


def test_cursor_values_pet_only_when_no_anatomy():
    images, pet, _ = _scan()
    images.anatomy, images.anatomy_kind = None, ""
    assert cursor_values(images, (-30.0, -20.0, -10.0)) == {"SUV": pytest.approx(pet[0, 0, 0])}


def test_ruler_lengths_in_mm_from_patient_geometry():
    spacing = np.array([3.0, 4.0, 4.0])                 # z, y, x mm
    origin = np.array([-30.0, -20.0, -10.0])
    a, b = np.array([5, 10, 12]), np.array([5, 17, 3])  # voxel indices in one axial plane
    c, d = np.array([5, 12, 6]), np.array([5, 14, 9])
    world = [np.array([origin + a * spacing, origin + b * spacing]),
             np.array([origin + c * spacing, origin + d * spacing])]
    long_mm = np.hypot(7 * 4.0, 9 * 4.0)
    short_mm = np.hypot(2 * 4.0, 3 * 4.0)
    assert line_length_mm(world[0]) == pytest.approx(long_mm)
    assert axis_lengths_mm(world[::-1]) == (pytest.approx(long_mm), pytest.approx(short_mm))
    assert axis_lengths_mm(world[:1]) == (pytest.approx(long_mm), None)
    assert axis_lengths_mm([]) == (None, None)


def test_parameters_review_display_defaults_equal_the_display_defaults():
    """``review.display`` in the parameters and DisplaySettings keep one set of defaults."""
    from nethelpers.config import params_from_dict
    from nethelpers.viewer._qt.reading import display_settings

    params = params_from_dict({"study": {"name": "t", "data_root": "/nonexistent"}})
    assert display_settings(params) == DisplaySettings()
    changed = params_from_dict({"study": {"name": "t", "data_root": "/nonexistent"},
                                "review": {"display": {"pet_opacity": 0.5,
                                                       "ct_preset": "liver"}}})
    settings = display_settings(changed)
    assert settings.pet_opacity == 0.5 and settings.ct_preset == "liver"
    assert settings.ct_windows["liver"] == (150.0, 60.0)


def test_the_adjudicators_line_names_each_readers_call():
    import pandas as pd

    from nethelpers.viewer._qt.adjudication import readers_line

    wide = pd.DataFrame([{"lesion_id": "L1", "call_R1": "positive", "krenning_R1": "3",
                          "confidence_R1": "4", "call_R2": "equivocal", "krenning_R2": "2",
                          "confidence_R2": ""},
                         {"lesion_id": "L2", "call_R1": "negative", "krenning_R1": "",
                          "confidence_R1": "", "call_R2": None, "krenning_R2": None,
                          "confidence_R2": None}])
    assert readers_line(wide, "L1") == ("R1: positive, Krenning 3, confidence 4 · "
                                        "R2: equivocal, Krenning 2")
    assert readers_line(wide, "L2") == "R1: negative · R2: not read"
    assert readers_line(wide.iloc[:0], "L1") == "R1: not read · R2: not read"
    assert readers_line(pd.DataFrame({"lesion_id": []}), "L1") == (
        "no reader has saved calls on this scan")
