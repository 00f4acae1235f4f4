"""The reading layout under Xvfb: MIP, coronal, sagittal and a second scan, radiological.

One layout (four canvases) is built per module on the blur-free demo's patient P001; the
orientation is checked on screenshots against where the demo's liver really is (from the
PET itself: the voxels at the generator's liver SUV) and the MIP pick against a numpy argmax.
Set NETHELPERS_TEST_SHOTS=<folder> to keep the screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.config import params_from_dict
from nethelpers.review import ReviewSession
from nethelpers.viewer.display import DisplaySettings

pytestmark = pytest.mark.gui

PATIENT = "P001"
SCAN = "P001-DOTATATE-PETCT"
YELLOW = np.array([255, 255, 0])


def _save(name: str, shot: np.ndarray) -> None:
    folder = os.environ.get("NETHELPERS_TEST_SHOTS")
    if folder:
        from imageio import imwrite

        Path(folder).mkdir(parents=True, exist_ok=True)
        imwrite(Path(folder) / f"{name}.png", shot)


def _near(shot: np.ndarray, rgb, tol: float) -> np.ndarray:
    return np.all(np.abs(shot[..., :3].astype(float) - np.asarray(rgb, float)) <= tol, axis=-1)


def _line_row(shot: np.ndarray) -> float:
    """Row of the crosshair's horizontal yellow line."""
    count = _near(shot, YELLOW, 40).sum(axis=1)
    assert count.max() > 50, "no horizontal crosshair line on the screenshot"
    return float(np.flatnonzero(count > 0.8 * count.max()).mean())


def _line_col(shot: np.ndarray) -> float:
    count = _near(shot, YELLOW, 40).sum(axis=0)
    assert count.max() > 50, "no vertical crosshair line on the screenshot"
    return float(np.flatnonzero(count > 0.8 * count.max()).mean())


@pytest.fixture(scope="module")
def session(ideal_study):
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study)}})
    return ReviewSession(params, PATIENT, reader="h4", scan_id=SCAN)


@pytest.fixture(scope="module")
def liver(ideal_study, session):
    """Liver SUV (generator truth) and the world centroid of the PET voxels at that SUV."""
    truth = pd.read_csv(ideal_study / "truth" / "scans.csv").set_index("scan_id")
    suv_liver = float(truth.loc[SCAN, "true_suv_liver"])
    pet = session.images.pet
    arr = sitk.GetArrayViewFromImage(pet)
    idx = np.argwhere(np.abs(arr - suv_liver) < 0.01)
    assert len(idx) > 1000                                   # the organ, not a few voxels
    k, j, i = idx.mean(axis=0)
    # world by hand: origin + spacing * index (identity direction in the demo)
    origin, spacing = np.array(pet.GetOrigin()), np.array(pet.GetSpacing())
    centre = origin[::-1] + spacing[::-1] * np.array([k, j, i])
    assert centre[2] < 0                                      # LPS: the patient's right
    return SimpleNamespace(suv=suv_liver, centre=centre)


@pytest.fixture(scope="module")
def layout(qapp, session, liver):
    from napari.components import ViewerModel

    from nethelpers.viewer._qt.readinglayout import ReadingLayout

    main = ViewerModel()                                     # the main (axial) viewer's model
    main.add_image(session.images.suv, scale=session.images.pet.GetSpacing()[::-1],
                   translate=session.images.pet.GetOrigin()[::-1])
    # the liver mid-scale, opaque: liver-coloured pixels are the liver
    settings = DisplaySettings(suv_lower=liver.suv - 2.0, suv_upper=liver.suv + 2.0,
                               pet_opacity=1.0, pet_alpha_ramp=0.0,
                               mip_suv_upper=2.0 * liver.suv)
    jumps: list = []
    lay = ReadingLayout(main, settings, on_jump=jumps.append)
    lay.jumps = jumps
    lay.main = main
    lay.widget.resize(1000, 800)
    lay.widget.show()
    lay.set_scan(session.images, session.labels.copy())
    qapp.processEvents()
    yield lay
    lay.close()
    lay.widget.close()


def _shot(qapp, view, name):
    qapp.processEvents()
    shot = view.screenshot()
    _save(name, shot)
    assert shot[..., :3].std() > 5                            # a real picture
    return shot


def _left_of_body(is_liver: np.ndarray, is_body: np.ndarray) -> float:
    """How far the liver's centroid lies left of the body's midline on screen, in pixels
    per 100 pixels of the body's width (the canvases' sizes depend on the dock's layout)."""
    assert is_liver.sum() > 200 and is_body.sum() > 2000
    cols = np.argwhere(is_body)[:, 1]
    offset = cols.mean() - np.argwhere(is_liver)[:, 1].mean()
    return float(100.0 * offset / (cols.max() - cols.min() + 1))


def test_coronal_and_mip_show_the_liver_on_the_screens_left(qapp, layout, liver):
    import matplotlib

    layout.set_crosshair(liver.centre)
    mid = np.asarray(matplotlib.colormaps["inferno"](0.5)[:3]) * 255
    shot = _shot(qapp, layout.coronal, "coronal_liver")
    body = shot[..., :3].max(axis=-1) > 30                    # CT body on a black canvas
    assert _left_of_body(_near(shot, mid, 30), body) > 5       # % of the body's width
    # the MIP: inverted grey 0 - 2 x liver, so the liver is mid-grey on white
    mip = _shot(qapp, layout.mip, "mip")
    is_liver = _near(mip, (127.5, 127.5, 127.5), 14)
    assert _left_of_body(is_liver, mip[..., :3].min(axis=-1) < 235) > 5


@pytest.mark.parametrize("plane", ["coronal", "sagittal"])
def test_head_is_up(qapp, layout, liver, plane):
    view = getattr(layout, plane)
    rows = []
    for dz in (+150.0, -150.0):                              # towards the head, the feet
        layout.set_crosshair(liver.centre + np.array([dz, 0.0, 0.0]))
        rows.append(_line_row(_shot(qapp, view, f"{plane}_{dz:+.0f}")))
    head, feet = rows
    assert head < feet - 50                                  # screen rows grow downward


def test_axial_and_coronal_x_runs_from_patient_right_to_left(qapp, layout, liver, session):
    layout.set_other(session.images, None)      # the axial pane (the scan itself: no load)
    for view in (layout.coronal, layout.other):
        cols = []
        for dx in (-100.0, +100.0):                          # patient's right, left
            layout.set_crosshair(liver.centre + np.array([0.0, 0.0, dx]))
            cols.append(_line_col(_shot(qapp, view, f"{view.plane}_{dx:+.0f}")))
        assert cols[0] < cols[1] - 50
    layout.set_other(None)


def test_crosshair_links_views_and_main_slice(qapp, layout, liver):
    point = liver.centre + np.array([10.0, -20.0, 30.0])
    layout.set_crosshair(point)
    step = np.asarray(layout.images.pet.GetSpacing()[::-1])
    assert abs(layout.coronal.model.dims.point[1] - point[1]) <= step[1] / 2 + 1e-6
    assert abs(layout.sagittal.model.dims.point[2] - point[2]) <= step[2] / 2 + 1e-6
    assert abs(layout.main.dims.point[0] - point[0]) <= step[0] / 2 + 1e-6
    # a click on the coronal view moves the sagittal slice and the main (axial) slice
    click = point + np.array([-40.0, 0.0, 25.0])
    layout.coronal.click(click)
    assert abs(layout.sagittal.model.dims.point[2] - click[2]) <= step[2] / 2 + 1e-6
    assert abs(layout.main.dims.point[0] - click[0]) <= step[0] / 2 + 1e-6
    # moving the main viewer's axial slice moves the crosshair's z, nothing else
    layout.main.dims.set_point(0, float(point[0]) - 60.0)
    assert layout.point[0] == pytest.approx(layout.main.dims.point[0])
    assert layout.point[2] == pytest.approx(click[2])


def test_mip_click_jumps_to_the_hottest_voxel_along_the_ray(qapp, layout, ideal_study, session):
    truth = pd.read_csv(ideal_study / "truth" / "lesion_positions.csv")
    row = truth[truth.scan_id == SCAN].iloc[0]
    pet = session.images.pet
    arr = sitk.GetArrayFromImage(pet)
    origin, spacing = np.array(pet.GetOrigin())[::-1], np.array(pet.GetSpacing())[::-1]
    click = np.array([row.z_mm, 0.0, row.x_mm])
    direction = np.asarray(layout.mip.model.scene.camera.view_direction)
    assert abs(abs(direction[1]) - 1.0) < 1e-9                 # coronal projection: along y
    layout.jumps.clear()
    hit = layout.mip.pick(click)
    # independent: the column of voxels along y through the click, nearest the camera first
    k, i = (int(np.rint((click[a] - origin[a]) / spacing[a])) for a in (0, 2))
    column = arr[k, :, i]
    order = np.arange(column.size) if direction[1] > 0 else np.arange(column.size)[::-1]
    j = order[int(np.argmax(column[order]))]
    expected = origin + spacing * np.array([k, j, i])
    np.testing.assert_allclose(hit, expected, atol=1e-3)
    assert column[j] > 2 * np.median(column[column > 0])      # a lesion, not background
    np.testing.assert_allclose(layout.jumps[-1], expected, atol=1e-3)
    np.testing.assert_allclose(layout.point, expected, atol=1e-3)


def test_mip_drag_rotates_without_jumping(layout):
    layout.jumps.clear()

    def run(types):
        event = SimpleNamespace(type="mouse_press", button=1, position=layout.point,
                                view_direction=layout.mip.model.scene.camera.view_direction)
        gen = layout.mip._drag(layout.mip.model, event)
        next(gen)
        for kind in types:
            event.type = kind
            try:
                next(gen)
            except StopIteration:
                break

    run(["mouse_move", "mouse_move", "mouse_release"])
    assert layout.jumps == []
    run(["mouse_release"])
    assert len(layout.jumps) == 1


def test_side_by_side_translation_shows_the_moved_image_in_place(qapp):
    from nethelpers.viewer._qt.sidebyside import SideBySidePane, resample_scan

    shape = (20, 24, 28)
    spacing, origin = (2.0, 2.0, 3.0), (-28.0, -24.0, -30.0)      # x, y, z

    def scan(cube_zyx, scan_id):
        arr = np.zeros(shape, dtype=np.float32)
        k, j, i = cube_zyx
        arr[k:k + 4, j:j + 4, i:i + 4] = 10.0
        img = sitk.GetImageFromArray(arr)
        img.SetSpacing(spacing)
        img.SetOrigin(origin)
        return SimpleNamespace(pet=img, anatomy=None, anatomy_kind="",
                               job=SimpleNamespace(scan_id=scan_id, tracer="FDG"),
                               suv=arr), arr

    current, cur_arr = scan((8, 10, 12), "A")
    # the same cube 3 slices up, 2 rows and 4 columns further in the other scan
    other, _ = scan((11, 12, 16), "B")
    shift_xyz = (4 * spacing[0], 2 * spacing[1], 3 * spacing[2])
    tx = sitk.TranslationTransform(3, shift_xyz)              # current point -> other point
    moved = sitk.GetArrayFromImage(resample_scan(other, current, tx).pet)
    np.testing.assert_allclose(moved, cur_arr, atol=1e-5)
    same = sitk.GetArrayFromImage(resample_scan(other, current, None).pet)
    assert same[12, 13, 17] == 10.0 and same[9, 11, 13] == 0.0   # identity: where it lies
    pane = SideBySidePane()
    pane.show_other(other, current, DisplaySettings(), tx)
    centre_world = np.array(origin[::-1]) + np.array(spacing[::-1]) * np.array([9, 11, 13])
    assert pane.suv_at(centre_world) == 10.0
    assert np.array_equal(np.asarray(pane.layers.pet.data), cur_arr)
    pane.close()


def test_line_ruler_reports_mm_to_the_callback(session):
    from napari.components import ViewerModel

    from nethelpers.viewer._qt.lineruler import LineRuler

    pet = session.images.pet
    viewer = ViewerModel()
    viewer.add_image(session.images.suv, scale=pet.GetSpacing()[::-1],
                     translate=pet.GetOrigin()[::-1])
    got: list = []
    ruler = LineRuler(viewer, on_measure=lambda **v: got.append(v))
    ruler.start()
    assert ruler.layer.mode == "add_line"
    origin, spacing = np.array(pet.GetOrigin())[::-1], np.array(pet.GetSpacing())[::-1]
    world = [origin + spacing * np.array(ix) for ix in
             ((100, 60, 50), (100, 66, 58), (100, 61, 57), (100, 64, 53))]
    ruler.layer.add_lines([np.array(world[:2])])
    ruler.layer.add_lines([np.array(world[2:])])
    long_mm = float(np.hypot(6 * spacing[1], 8 * spacing[2]))
    short_mm = float(np.hypot(3 * spacing[1], 4 * spacing[2]))
    assert got[-1] == {"long_axis_mm": pytest.approx(long_mm),
                       "short_axis_mm": pytest.approx(short_mm)}
    ruler.clear()
    assert ruler.lengths() == (None, None)
    ruler.remove()
    assert ruler.layer not in viewer.layers


def test_display_controls_restyle_every_view_and_the_colour_bar(layout):
    before = layout.settings
    try:
        assert layout.controls.preset.isEnabled()
        pet = layout.coronal.layers.pet                      # alpha fusion, not additive
        assert pet.blending == "translucent_no_depth" and pet.colormap.colors[0][3] == 0.0
        assert layout.controls.preset.currentText() == "soft tissue"
        layout.controls.upper.setValue(20.0)
        layout.controls.lower.setValue(4.0)
        layout.controls.preset.setCurrentText("liver")
        assert layout.coronal.layers.pet.contrast_limits == [4.0, 20.0]
        assert layout.sagittal.layers.pet.contrast_limits == [4.0, 20.0]
        assert layout.coronal.layers.anatomy.contrast_limits == [-15.0, 135.0]   # W150 L60
        bar = layout.controls.bar.bar
        assert bar.title == "SUV" and bar.ticks == [5, 10, 15, 20]
        assert bar.limits == (4.0, 20.0)
    finally:
        layout.controls.set_scan("CT", "DOTATATE")
        layout.set_display(before)
        layout.controls.settings = before
