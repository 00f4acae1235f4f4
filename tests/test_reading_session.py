"""A reader's session on the reading workstation, driven as a physician would (issue 17).

Under Xvfb, on the realistic demo (blur and noise): the reader opens a patient's DOTATATE
PET/CT with its PET/MR registered beside it, clicks a lesion on the MIP (the axial view
jumps to the hottest voxel along the ray), grows its VOI in the axial view, switches to the
PET/MR where the lesion's marker waits, marks it seen there and saves. The marker's place is
checked against the demo generator's truth (``truth/lesion_positions.csv``), and the same
marker carried without registration is checked to miss, so the test can fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nethelpers.config import params_from_dict
from tests.test_viewer import _Click

pytestmark = pytest.mark.gui

PATIENT = "P001"
PETCT, PETMR = "P001-DOTATATE-PETCT", "P001-DOTATATE-PETMR"
LESION = "P001-L03"              # mesenteric node, 24 mm, the hottest lesion of P001
MARKER_TOLERANCE_MM = 5.0        # the bar: markers land on the lesion


def _click(model, event: _Click) -> None:
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    mouse_press_callbacks(model, event)
    event.type = "mouse_release"
    mouse_release_callbacks(model, event)


def _truth(study: Path, scan_id: str, lesion_id: str) -> np.ndarray:
    """A lesion's true centre on a scan, world ``(z, y, x)`` mm (from the generator)."""
    truth = pd.read_csv(study / "truth" / "lesion_positions.csv")
    row = truth[(truth.scan_id == scan_id) & (truth.lesion_id == lesion_id)].iloc[0]
    return np.array([row.z_mm, row.y_mm, row.x_mm])


def _shots_dir(tmp_path: Path) -> Path:
    out = Path(os.environ.get("NETHELPERS_TEST_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture
def params(demo_study, tmp_path):
    rois = tmp_path / "rois"
    shutil.copytree(demo_study / "rois", rois)
    return params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                       "rois": str(rois)},
                             "registration": {"output": str(tmp_path / "registration")}})


def test_mip_click_voi_seen_on_the_registered_pet_mr_and_saved(make_napari_viewer, params,
                                                              demo_study, tmp_path, qtbot):
    from qtpy.QtCore import Qt

    from nethelpers.rois import RoiStore
    from nethelpers.viewer.app import open_review

    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1900, 1000)
    _, w = open_review(params, PATIENT, scan_id=PETCT, reader="R2", viewer=viewer,
                       autosave_s=0)
    s = w.session
    assert s.current == PETCT and s.table.empty          # blinded: none of R1's VOIs
    # the PET/MR beside the PET/CT, registered onto it, with its quality shown
    assert w.show_beside(PETMR)
    assert not w.reading.other.qt.isHidden()
    assert w.registration.kind.startswith("rigid")
    assert "Dice" in w.registration_label.text()
    assert w.registration.quality["headline"] > w.registration.quality["body_dice_before"]

    # 1. a click on the MIP jumps the axial view to the hottest voxel along the ray
    centre_ct = _truth(demo_study, PETCT, LESION)
    mip = w.reading.mip
    _click(mip.model, _Click(type="mouse_press", position=(centre_ct[0], 0.0, centre_ct[2]),
                             dims_displayed=tuple(mip.model.dims.displayed),
                             view_direction=tuple(mip.model.scene.camera.view_direction)))
    hit = w.reading.point
    assert np.linalg.norm(hit - centre_ct) < 12.0        # inside the 24 mm node
    assert viewer.dims.point[0] == pytest.approx(hit[0])  # the axial slice followed

    # 2. grow its VOI in the axial view by a click at the jumped point
    w.add_lesion()
    _click(viewer, _Click(type="mouse_press", position=tuple(hit)))
    rows = s.table[s.table["roi"] == "lesion"]
    assert len(rows) == 1 and rows["method"].iloc[0] == "click-grow"
    new_id, label = rows["lesion_id"].iloc[0], int(rows["label"].iloc[0])
    index = s.images.pet.TransformPhysicalPointToIndex([float(v) for v in centre_ct[::-1]])
    assert s.labels[index[::-1]] == label                # the VOI holds the true centre
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier)
    assert RoiStore(params.study.rois).latest(PETCT, reader="R2").version == 1

    # 3. on the PET/MR the lesion waits as a marker, carried through the registration
    assert w.select_scan(PETMR)
    assert w.beside_combo.currentData() == PETCT         # the pair stays, swapped
    assert w.registration.fixed_scan == PETMR and w.registration.moving_scan == PETCT
    markers = s.markers().set_index("lesion_id")
    marker = markers.loc[new_id, ["z_mm", "y_mm", "x_mm"]].to_numpy(float)
    centre_mr = _truth(demo_study, PETMR, LESION)
    assert np.linalg.norm(marker - centre_mr) < MARKER_TOLERANCE_MM
    shown = w.layers.markers.data[list(w.layers.markers.features["lesion_id"]).index(new_id)]
    np.testing.assert_allclose(viewer.layers[w.layers.markers.name].data_to_world(shown),
                               marker, atol=1e-3)
    # ... where patient coordinates alone would have put it: off the lesion
    assert np.linalg.norm(centre_ct - centre_mr) > 3 * MARKER_TOLERANCE_MM

    # 4. seen here: the next click at the marker grows the same lesion's VOI on the PET/MR
    w.select_lesion(new_id)
    w.seen()
    assert w.pending == "seen"
    _click(viewer, _Click(type="mouse_press", position=tuple(marker)))
    here = s.table[s.table["lesion_id"] == new_id]
    assert len(here) == 1
    index = s.images.pet.TransformPhysicalPointToIndex([float(v) for v in centre_mr[::-1]])
    assert s.labels[index[::-1]] == int(here["label"].iloc[0])
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key.Key_S,
                   Qt.KeyboardModifier.ControlModifier)
    saved = RoiStore(params.study.rois).load(PETMR, reader="R2")
    assert new_id in set(saved.table["lesion_id"])
    assert RoiStore(params.study.rois).latest(PETMR, reader="R1") is None or not (
        RoiStore(params.study.rois).load(PETMR, reader="R1").table["lesion_id"] == new_id
    ).any()                                              # R1's set untouched

    # 5. screenshots of the layout: the whole window and the reading views
    qtbot.wait(50)
    canvas = viewer.window._qt_viewer.canvas.native
    assert canvas.width() > 0.25 * viewer.window._qt_window.width()   # the axial view leads
    out = _shots_dir(tmp_path)
    window = viewer.screenshot(canvas_only=False, flash=False)
    views = w.reading.widget.grab().toImage()
    views.save(str(out / "reading_views.png"))
    import imageio.v3 as iio

    iio.imwrite(out / "reading_window.png", window)
    assert window.shape[1] >= 1200 and window[..., :3].std() > 20
    mip_shot = mip.screenshot()[..., :3].astype(float)
    assert np.median(mip_shot) > 200                     # inverted grey: a white background
    assert mip_shot.min() < 60                           # and dark (hot) lesions


def test_switching_back_to_a_scan_is_quick_with_the_reading_views(make_napari_viewer, params,
                                                                   qtbot):
    """Layers of every canvas are kept per scan: a switch back takes under 0.3 s.

    Timed up to the repaint: how long the five canvases take to paint is the graphics
    card's (here Mesa's software renderer, about 0.3-0.8 s for the 3-D MIP), not ours.
    """
    import time

    from nethelpers.viewer.app import open_review

    viewer = make_napari_viewer(show=True)
    _, w = open_review(params, PATIENT, scan_id=PETCT, reader="R1", viewer=viewer,
                       autosave_s=0, reading_views="deferred")      # as the command opens
    assert w.reading is None and w.layers.pet.visible               # the axial view first
    qtbot.waitUntil(lambda: w.reading is not None, timeout=10000)
    assert w.reading.mip.pet.metadata["scan_id"] == PETCT
    assert w.show_beside(PETMR)
    fdg = "P001-FDG-PETCT"
    t0 = time.perf_counter()
    assert w.select_scan(fdg)                            # first open: DICOM, layers, views
    first = time.perf_counter() - t0
    backs = []
    for scan in (PETCT, fdg, PETCT):
        qtbot.wait(1)                                    # paint the previous switch first
        t0 = time.perf_counter()
        assert w.select_scan(scan)
        backs.append(time.perf_counter() - t0)           # ours and napari's, not the paint
        assert w.reading.mip.pet.metadata["scan_id"] == scan
        assert w.reading.coronal.layers.pet.metadata["scan_id"] == scan
    # here (2 cores, Mesa) 0.2-0.5 s against a first open of 1.9-2.6 s; the 0.3 s
    # holds for the median, the bound leaves room for a loaded CI machine
    assert np.median(backs) < 0.4 and max(backs) < first / 2, (backs, first)
    # every view shows the slice the main view shows, after every switch
    assert w.reading.point[0] == pytest.approx(viewer.dims.point[0])
    assert w.reading.coronal.model.dims.point[1] == pytest.approx(w.reading.point[1])
    # the shown scan's layers only: every other scan's are hidden, in every canvas
    shown = [lay for lay in w.reading.coronal.model.layers
             if lay.visible and lay.metadata.get("role") != "crosshair"]
    assert {lay.metadata.get("scan_id") for lay in shown if "scan_id" in lay.metadata} == {
        PETCT}


def test_ruler_records_the_axes_with_the_lesion_measured_only(make_napari_viewer, params,
                                                              demo_study, qtbot):
    """M on a lesion, two lines: its long and short axis in mm (the lines' lengths in patient
    space); selecting another lesion ends the measurement, so its lines never land on the
    first lesion's read."""
    from nethelpers.viewer.app import open_review

    viewer = make_napari_viewer(show=True)
    _, w = open_review(params, PATIENT, scan_id=PETCT, reader="R1", viewer=viewer,
                       autosave_s=0)
    assert viewer.layers.selection.active is w.layers.rois     # not the ruler
    s = w.session
    centre = _truth(demo_study, PETCT, LESION)
    long_line = np.array([centre - [0, 0, 11.0], centre + [0, 0, 11.0]])
    short_line = np.array([centre - [0, 7.5, 0], centre + [0, 7.5, 0]])
    w.select_lesion(LESION)
    w.run_shortcut("measure")
    w.ruler.layer.add_lines([long_line, short_line])
    read = s.reads.set_index("lesion_id").loc[LESION]
    assert (float(read["long_axis_mm"]), float(read["short_axis_mm"])) == (22.0, 15.0)
    other = "P001-L02"
    w.select_lesion(other)                                # the measurement of L03 ends
    assert w.ruler.lines() == []
    w.ruler.layer.add_lines([np.array([centre, centre + [0, 0, 40.0]])])
    read = s.reads.set_index("lesion_id")
    assert (float(read.at[LESION, "long_axis_mm"]), float(read.at[LESION, "short_axis_mm"])
            ) == (22.0, 15.0)
    assert other not in read.index or not str(read.at[other, "long_axis_mm"]).strip()
