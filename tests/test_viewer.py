"""The napari review: layers in patient millimetres, click-to-VOI, reads, save/restore, keys.

Runs under Xvfb (pytest-xvfb) on the blur-free 3-patient study; every test edits a copy of
its ROI store.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
import tomllib

from nethelpers.config import params_from_dict
from nethelpers.review import ReviewSession
from nethelpers.rois import RoiStore
from tests.conftest import ROOT

pytestmark = pytest.mark.gui

PATIENT = "P001"
MANIFEST = ROOT / "nethelpers" / "viewer" / "napari.yaml"


@pytest.fixture
def params(ideal_study, tmp_path):
    rois = tmp_path / "rois"
    shutil.copytree(ideal_study / "rois", rois)
    return params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                       "rois": str(rois)}})


@pytest.fixture
def truth(ideal_study):
    return pd.read_csv(ideal_study / "truth" / "lesion_positions.csv")


@pytest.fixture
def open_patient(make_napari_viewer, params):
    from nethelpers.viewer.app import open_review

    def factory(show=False, patient=PATIENT, reading_views=False, **kwargs):
        # the dock alone: the reading views beside it are tested in test_reading_session
        viewer = make_napari_viewer(show=show)
        _, widget = open_review(params, patient, reader="R1", viewer=viewer, autosave_s=0,
                                reading_views=reading_views, **kwargs)
        widget.ask_close = _never("ask_close")
        widget.ask_conflict = _never("ask_conflict")
        widget.ask_confirm = _never("ask_confirm")
        return viewer, widget

    return factory


def _never(name):
    def hook(*args):
        raise AssertionError(f"{name} was not expected here: {args}")
    return hook


def _world(row) -> tuple[float, float, float]:
    return (row.z_mm, row.y_mm, row.x_mm)


def _truth_row(truth, scan_id, lesion_id):
    return truth[(truth.scan_id == scan_id) & (truth.lesion_id == lesion_id)].iloc[0]


def _key(qtbot, viewer, key, ctrl=False):
    from qtpy.QtCore import Qt

    mods = Qt.KeyboardModifier.ControlModifier if ctrl else Qt.KeyboardModifier.NoModifier
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, key, mods)


# -- geometry (no viewer) ---------------------------------------------------------------------


def _check_world(layer, image, indices):
    for idx in indices:
        expected = np.asarray(image.TransformIndexToPhysicalPoint(
            [int(v) for v in idx[::-1]]))[::-1]
        np.testing.assert_allclose(layer.data_to_world(idx), expected, atol=1e-6)


@pytest.mark.filterwarnings("ignore:Non-orthogonal slicing:UserWarning")
def test_layer_geometry_identity_and_oblique():
    from napari.layers import Image

    from nethelpers.viewer.layers import index_to_world, layer_geometry, world_to_index

    arr = np.zeros((5, 6, 7), dtype=np.float32)
    image = sitk.GetImageFromArray(arr)
    image.SetSpacing((2.0, 3.0, 4.0))
    image.SetOrigin((-10.0, 20.0, -300.0))
    geometry = layer_geometry(image)
    assert "affine" not in geometry
    np.testing.assert_allclose(geometry["scale"], (4.0, 3.0, 2.0))
    corners = [(0, 0, 0), (4, 5, 6), (1, 2, 3)]
    _check_world(Image(arr, **geometry), image, corners)

    # an oblique grid (30 degrees about z, then 10 about x): the full affine
    c, s = np.cos(np.radians(30)), np.sin(np.radians(30))
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    c, s = np.cos(np.radians(10)), np.sin(np.radians(10))
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    image.SetDirection((rz @ rx).ravel().tolist())
    geometry = layer_geometry(image)
    assert "affine" in geometry
    layer = Image(arr, **geometry)
    _check_world(layer, image, corners)
    for idx in corners:
        world = index_to_world(image, idx)
        assert world_to_index(image, world) == idx
    assert world_to_index(image, (1e4, 0, 0)) is None


def test_window_presets():
    from nethelpers.viewer.layers import anatomy_limits, mr_window, suv_window, window_limits

    assert window_limits(400, 40) == (-160, 240)
    assert anatomy_limits(None, "CT", "lung") == (-1350, 150)
    assert anatomy_limits(None, "CT", "bone") == (-450, 1050)
    values = np.concatenate([np.zeros(1000), np.arange(1, 1001)])
    lo, hi = mr_window(values)
    assert 5 < lo < 20 and 990 < hi <= 1000
    assert suv_window("DOTATATE") == 15 and suv_window("FDG") == 7 and suv_window("x") == 10


# -- the viewer ------------------------------------------------------------------------------


def test_open_patient_layers_geometry_and_screenshot(open_patient):
    viewer, w = open_patient(show=True, patient=None)       # the first patient
    s = w.session
    assert s.patient_id == PATIENT and s.current == f"{PATIENT}-DOTATATE-PETCT"
    layers = w.layers
    assert [lay.metadata["role"] for lay in viewer.layers] == ["anatomy", "pet", "rois",
                                                               "markers"]
    assert layers.anatomy.metadata["kind"] == "CT"
    assert tuple(layers.anatomy.contrast_limits) == (-160, 240)            # soft tissue
    assert layers.pet.colormap.name == "inferno" and layers.pet.blending == "additive"
    assert tuple(layers.pet.contrast_limits) == (0, 15)                    # DOTATATE
    np.testing.assert_array_equal(layers.rois.data, s.labels)
    assert layers.rois.data is not s.labels                # brush strokes go via set_labels
    pet, ct = s.images.pet, s.images.anatomy
    shape = np.asarray(s.labels.shape)
    idx = [(0, 0, 0), tuple(shape - 1), tuple(shape // 3)]
    _check_world(layers.pet, pet, idx)
    _check_world(layers.rois, pet, idx)
    _check_world(layers.markers, pet, idx)
    _check_world(layers.anatomy, ct, [(0, 0, 0), tuple(np.asarray(ct.GetSize())[::-1] - 1)])
    assert len(layers.markers.data) == 0                   # every lesion is on every scan
    assert w.table.rowCount() == 5
    assert w.table.item(0, 0).text() == f"{PATIENT}-L01"
    assert float(w.table.item(0, 6).text()) > 0            # SUVmax shown

    w.select_lesion(f"{PATIENT}-L04")                      # a slice through a lesion
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot[..., :3].std() > 5


@dataclass
class _Click:
    """The fields napari's viewer mouse callbacks read from a vispy-backed event."""

    type: str
    position: tuple
    button: int = 1
    modifiers: tuple = ()
    is_dragging: bool = False
    dims_displayed: tuple = (1, 2)
    dims_point: tuple | None = None
    view_direction: tuple | None = None
    pos: tuple = (0, 0)
    delta: tuple = (0, 0)
    handled: bool = False


def test_click_to_voi_matches_quantify(open_patient, truth, qtbot):
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks
    from qtpy.QtCore import Qt

    from nethelpers.quantify import quantify_scan

    viewer, w = open_patient()
    s = w.session
    scan = s.current
    lesion = f"{PATIENT}-L02"
    w.select_lesion(lesion)
    _key(qtbot, viewer, Qt.Key.Key_Delete)                 # delete its VOI ...
    assert not (s.table["lesion_id"] == lesion).any()
    assert lesion in list(w.layers.markers.features["lesion_id"])  # ... marker from a twin
    _key(qtbot, viewer, Qt.Key.Key_A)
    assert w.pending == "add"

    # a click on the canvas: napari's press and release callbacks at the truth position
    event = _Click(type="mouse_press", position=_world(_truth_row(truth, scan, lesion)))
    mouse_press_callbacks(viewer, event)
    event.type = "mouse_release"
    mouse_release_callbacks(viewer, event)
    assert w.pending is None
    new = f"{PATIENT}-R1-L01"                              # a new lesion_id, R1's own
    row = s.table[s.table["lesion_id"] == new].iloc[0]
    assert row["method"] == "click-grow"
    assert (w.layers.rois.data == row["label"]).sum() > 0  # drawn at once
    frame = s.lesion_table()
    pd.testing.assert_frame_equal(w.frame, frame, check_dtype=False)  # the table's rows
    frame = frame.set_index("lesion_id")
    shown = w.table.item(w._lesion_ids.index(new), 6).text()
    assert shown == f"{frame.at[new, 'suv_max']:.2f}"      # numbers in the table at once
    assert new in w.messages[-1] and "SUVmax" in w.messages[-1]

    # the same place again is refused (it is in a VOI now), with a message
    w.start("add")
    assert w.handle_click(_world(_truth_row(truth, scan, lesion))) is None
    assert "add:" in w.messages[-1]

    # "seen" on a marker lesion: the next click draws it with its own lesion_id
    lesion = f"{PATIENT}-L03"
    w.select_lesion(lesion)
    _key(qtbot, viewer, Qt.Key.Key_Delete)
    assert lesion in list(w.layers.markers.features["lesion_id"])
    assert w.table.item(w._lesion_ids.index(lesion), 10).text() == "marker"
    _key(qtbot, viewer, Qt.Key.Key_Y)
    assert w.pending == "seen" and w.pending_lesion == lesion
    truth_row = _truth_row(truth, scan, lesion)
    voi = w.handle_click(_world(truth_row))
    assert voi.lesion_id == lesion
    pd.testing.assert_frame_equal(w.frame, s.lesion_table(), check_dtype=False)
    assert lesion not in list(w.layers.markers.features["lesion_id"])
    assert w.table.item(w._lesion_ids.index(lesion), 10).text() == "yes"

    _key(qtbot, viewer, Qt.Key.Key_S, ctrl=True)           # Ctrl+S
    assert not s.dirty
    outcome = quantify_scan(s.jobs[scan], s.options)
    assert outcome.qc["status"] == "ok"
    rows = outcome.rows.set_index("lesion_id")
    assert rows.at[lesion, "suv_max"] == pytest.approx(voi.suv_max, rel=1e-6)
    assert rows.at[new, "suv_max"] == pytest.approx(frame.at[new, "suv_max"], rel=1e-6)
    # the VOI holds the lesion's truth position
    idx = s.images.pet.TransformPhysicalPointToIndex(
        (truth_row.x_mm, truth_row.y_mm, truth_row.z_mm))[::-1]
    assert s.labels[idx] == voi.label


def test_reference_spheres_and_reads(open_patient, qtbot):
    from qtpy.QtCore import Qt

    from nethelpers.viewer.layers import index_to_world
    from nethelpers.viewer.widget import COLUMNS

    viewer, w = open_patient()
    s = w.session
    old = s.table[s.table["roi"] == "liver"].iloc[0]
    inside = np.argwhere(s.labels == int(old["label"])).mean(axis=0) + 1.0   # moved 1 voxel
    centre = index_to_world(s.images.pet, inside)
    _key(qtbot, viewer, Qt.Key.Key_L)
    numbers = w.handle_click(centre)
    assert numbers["volume_ml"] > 0 and "liver sphere" in w.messages[-1]
    assert "liver SUVmean" in w.reference_label.text()
    assert int(s.table[s.table["roi"] == "liver"]["label"].iloc[0]) == int(old["label"])

    lesion = f"{PATIENT}-L03"
    row = w._lesion_ids.index(lesion)
    col = [c for c, _ in COLUMNS]
    w.table.item(row, col.index("call")).setText("positive")
    w.table.item(row, col.index("krenning")).setText("3")
    reads = s.reads.set_index("lesion_id")
    assert reads.at[lesion, "call"] == "positive" and reads.at[lesion, "krenning"] == "3"
    w.table.item(w._lesion_ids.index(lesion), col.index("confidence")).setText("9")
    assert "not recorded" in w.messages[-1]
    assert s.reads.set_index("lesion_id").at[lesion, "confidence"] == ""
    assert w.table.item(w._lesion_ids.index(lesion), col.index("confidence")).text() == ""
    w.select_lesion(f"{PATIENT}-L05", jump=False)
    _key(qtbot, viewer, Qt.Key.Key_N)                      # not seen -> negative
    assert s.reads.set_index("lesion_id").at[f"{PATIENT}-L05", "call"] == "negative"


def test_brush_edit_and_undo(open_patient, qtbot):
    from qtpy.QtCore import Qt

    viewer, w = open_patient()
    s = w.session
    rois = w.layers.rois
    before = s.labels.copy()
    label = rois.selected_label
    assert label not in set(s.table["label"])              # a free lesion label
    centre = np.asarray(s.labels.shape) // 2
    rois.brush_size = 3
    rois.paint(tuple(int(v) for v in centre), label)       # a brush stroke
    qtbot.waitUntil(lambda: label in set(s.table["label"]), timeout=2000)
    manual = s.table[s.table["label"] == label]
    assert len(manual) == 1 and manual["method"].iloc[0] == "manual"
    assert manual["lesion_id"].iloc[0] in w._lesion_ids
    assert s.dirty and (s.labels == label).any()
    _key(qtbot, viewer, Qt.Key.Key_Z, ctrl=True)           # session undo, not napari's
    np.testing.assert_array_equal(s.labels, before)
    np.testing.assert_array_equal(rois.data, before)
    assert label not in set(s.table["label"])
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    np.testing.assert_array_equal(rois.data, before)       # napari's redo is off
    assert "no redo" in w.messages[-1]


def test_switch_scans_keeps_unsaved_edits(open_patient):
    viewer, w = open_patient()
    s = w.session
    first, mr = s.scan_ids[0], f"{PATIENT}-DOTATATE-PETMR"
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    assert w.delete_selected()
    w.scan_combo.setCurrentIndex(s.scan_ids.index(mr))     # the scan selector
    assert s.current == mr
    assert w.layers.anatomy.metadata["kind"] == "MR"
    assert not w.window_combo.isEnabled()
    assert w.layers.anatomy.contrast_limits[1] > w.layers.anatomy.contrast_limits[0]
    assert "unsaved" in w.scan_combo.itemText(s.scan_ids.index(first))
    assert (s.table["lesion_id"] == f"{PATIENT}-L01").any()
    w.select_scan(first)
    assert not (s.table["lesion_id"] == f"{PATIENT}-L01").any()
    assert f"{PATIENT}-L01" in list(w.layers.markers.features["lesion_id"])
    np.testing.assert_array_equal(w.layers.rois.data, s.labels)
    assert w.undo()
    assert (s.table["lesion_id"] == f"{PATIENT}-L01").any()
    assert len(w.layers.markers.data) == 0


def test_row_click_jumps_to_lesion(open_patient, qtbot):
    from qtpy.QtCore import Qt

    viewer, w = open_patient(show=True)
    s = w.session
    lesion = f"{PATIENT}-L04"
    row = w._lesion_ids.index(lesion)
    rect = w.table.visualItemRect(w.table.item(row, 0))
    qtbot.mouseClick(w.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.selected_lesion() == lesion
    centre = np.asarray(s.images.pet.TransformIndexToPhysicalPoint(
        [int(v) for v in s.lesion_centre(lesion)[::-1]]))[::-1]
    point = np.asarray(viewer.dims.point)
    assert abs(point[0] - centre[0]) <= s.images.spacing[2] / 2 + 1e-6
    np.testing.assert_allclose(np.asarray(viewer.scene.camera.center)[-2:], centre[1:], atol=4.0)
    assert w.layers.rois.selected_label == int(
        s.table.set_index("lesion_id").at[lesion, "label"])
    _key(qtbot, viewer, Qt.Key.Key_PageDown)               # next lesion
    assert w.selected_lesion() == f"{PATIENT}-L05"


def test_save_reload_restore_and_conflict(open_patient, params):
    viewer, w = open_patient()
    s = w.session
    scan = s.current
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    w.delete_selected()
    w.note_edit.setText("L01 was not a lesion")
    assert w.save()
    history = s.history()
    assert list(history["version"]) == [1, 2] and history["note"].iloc[-1] == \
        "L01 was not a lesion"
    assert w.version_combo.count() == 2 and w.restore_button.isEnabled()

    other = ReviewSession(params, PATIENT, "R1", scan_id=scan)   # a 2nd session
    assert not (other.table["lesion_id"] == f"{PATIENT}-L01").any()
    store = RoiStore(params.study.rois)

    w.version_combo.setCurrentIndex(w.version_combo.findData(1))
    assert w.restore()                                      # back to v1, saved as v3
    assert (s.table["lesion_id"] == f"{PATIENT}-L01").any()
    assert int(s.history()["restored_from"].iloc[-1]) == 1
    np.testing.assert_array_equal(w.layers.rois.data, s.labels)
    assert (store.load(scan).table["lesion_id"] == f"{PATIENT}-L01").any()

    # someone else saves meanwhile: Save offers reload or keep both
    other.delete(lesion_id=f"{PATIENT}-L05")
    other.save_anyway("other reader")                       # v4
    w.select_lesion(f"{PATIENT}-L02", jump=False)
    w.delete_selected()
    asked = []
    w.ask_conflict = lambda scan_id, exc: asked.append(scan_id) or "keep"
    assert w.save()
    assert asked == [scan] and int(s.history()["version"].iloc[-1]) == 5

    w.select_lesion(f"{PATIENT}-L03", jump=False)
    w.delete_selected()
    other.delete(lesion_id=f"{PATIENT}-L04")
    other.save_anyway("other reader again")                 # v6
    w.ask_conflict = lambda scan_id, exc: "reload"
    assert w.save()
    assert not s.dirty
    assert (s.table["lesion_id"] == f"{PATIENT}-L03").any()              # my edit dropped
    assert not (s.table["lesion_id"] == f"{PATIENT}-L04").any()          # theirs shown
    np.testing.assert_array_equal(w.layers.rois.data, s.labels)
    assert int(s.history()["version"].iloc[-1]) == 6
    assert w.set_read(f"{PATIENT}-L05", call="equivocal")   # first read after a reload
    assert s.reads.set_index("lesion_id").at[f"{PATIENT}-L05", "call"] == "equivocal"


def test_autosave_timer(open_patient, qtbot):
    viewer, w = open_patient()
    s = w.session
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    w.delete_selected()
    w.set_autosave(0.05)
    qtbot.waitUntil(lambda: not s.dirty, timeout=3000)
    assert s.history()["note"].iloc[-1] == "autosave"
    assert w.autosave() == []                               # nothing left to save


def test_close_with_unsaved_edits_warns(open_patient):
    viewer, w = open_patient(show=True)
    s = w.session
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    w.delete_selected()
    asked = []
    w.ask_close = lambda scans: asked.append(list(scans)) or "cancel"
    window = viewer.window._qt_window
    window.close()
    assert asked == [[s.current]]
    assert window.isVisible() and s.dirty                   # closing was refused
    # "save": the same filter with a close event of its own (a real close would delete the
    # window's Qt objects before the fixture closes the viewer)
    from qtpy.QtGui import QCloseEvent

    w.ask_close = lambda scans: asked.append(list(scans)) or "save"
    event = QCloseEvent()
    assert w.eventFilter(window, event) is False and event.isAccepted()
    assert len(asked) == 2 and not s.dirty                  # saved, then let close
    assert s.history()["version"].iloc[-1] == 2
    assert w.autosave_timer.isActive() is False and w._closed


def test_npe2_manifest_and_launcher(make_napari_viewer, params, tmp_path):
    out = subprocess.run([sys.executable, "-m", "npe2", "validate", "--imports", str(MANIFEST)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "valid" in out.stdout
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["napari.manifest"]["nethelpers"] == \
        "nethelpers.viewer:napari.yaml"
    assert "napari.yaml" in project["tool"]["setuptools"]["package-data"]["nethelpers.viewer"]
    # napari finds the plugin through that entry point (a dist-info carrying it stands in
    # for the reinstall `make setup` does after pyproject.toml changes)
    dist = tmp_path / "site" / "nethelpers-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: nethelpers\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[napari.manifest]\nnethelpers = "
                                           "nethelpers.viewer:napari.yaml\n")
    probe = ("from npe2 import PluginManager; pm = PluginManager(); "
             "pm.discover(include_npe1=False); m = pm.get_manifest('nethelpers'); "
             "print([w.display_name for w in m.contributions.widgets])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             [str(dist.parent), os.environ.get("PYTHONPATH", "")])})
    assert out.returncode == 0 and "Lesion review" in out.stdout, out.stderr

    from nethelpers.viewer.app import review_launcher
    from nethelpers.viewer.widget import ReviewWidget

    yaml_file = tmp_path / "study.yaml"
    yaml_file.write_text(f"study:\n  name: t\n  data_root: {params.study.data_root}\n"
                         f"  rois: {params.study.rois}\n")
    viewer = make_napari_viewer()
    launcher = review_launcher(viewer)
    launcher[0].value = yaml_file                           # parameters file
    assert list(launcher[1].choices) == ["P001", "P002", "P003"]
    launcher[1].value = PATIENT
    assert f"{PATIENT}-FDG-PETCT" in launcher[2].choices
    launcher[2].value = f"{PATIENT}-FDG-PETCT"
    launcher[3].value = "launcher test"
    launcher[4].clicked.emit()                              # Open review
    assert "opened" in launcher[6].value, launcher[6].value
    docked = viewer.window._qt_window.findChildren(ReviewWidget)
    assert len(docked) == 1 and docked[0].session.current == f"{PATIENT}-FDG-PETCT"
    assert docked[0].session.reader == "launcher test"
    # FDG window 1-7: fused over the CT, transparent up to review.display.suv_lower
    assert tuple(docked[0].layers.pet.contrast_limits) == (1.0, 7.0)
    assert docked[0].reading is not None and docked[0].reading.mip.pet is not None
    docked[0].shutdown()


def test_missing_data_and_cli(tmp_path, capsys):
    from nethelpers.cli import build_parser, main
    from nethelpers.viewer.app import StudyDataMissing, check_study_data, open_review

    params = params_from_dict({"study": {"name": "t", "data_root": str(tmp_path / "nowhere")}})
    with pytest.raises(StudyDataMissing, match="nethelpers demo --out"):
        check_study_data(params)
    with pytest.raises(StudyDataMissing):
        open_review(params, PATIENT, show=False)
    args = build_parser().parse_args(["review", "--patient", "P002", "--scan", "S",
                                      "--reader", "R9", "-f", "x.yaml"])
    assert (args.patient, args.scan, args.reader, args.params) == ("P002", "S", "R9", "x.yaml")
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(f"study:\n  name: t\n  data_root: {tmp_path / 'nowhere'}\n")
    assert main(["review", "--patient", PATIENT, "-f", str(yaml_file)]) == 2
    err = capsys.readouterr().err
    assert "nethelpers demo --out" in err and "no study data" in err


def test_review_fixes_brush_follows_selection_3d_clicks_refused_close_asks(open_patient, truth):
    """Reviewer's findings: arrow-key selection moves the brush label; a 3D click places
    nothing; removing a non-ROI layer does not switch off the close warning."""
    viewer, w = open_patient(show=True)
    s = w.session
    labels = s.table.set_index("lesion_id")["label"]
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    w.select_lesion(f"{PATIENT}-L02", jump=False)            # e.g. by the arrow keys
    assert w.layers.rois.selected_label == int(labels[f"{PATIENT}-L02"])
    w.table.selectRow(0)
    row_id = w._lesion_ids[0]
    if row_id in labels.index:
        assert w.layers.rois.selected_label == int(labels[row_id])
    w.add_lesion()
    viewer.dims.ndisplay = 3
    before = len(s.table)
    assert w.handle_click((0.0, 0.0, 0.0)) is None and len(s.table) == before
    assert "2D only" in w.messages[-1]
    viewer.dims.ndisplay = 2
    w.cancel_pending()
    viewer.layers.remove(w.layers.markers)                   # a layer the reader removed
    w.select_lesion(f"{PATIENT}-L01", jump=False)
    w.delete_selected()
    asked = []
    w.ask_close = lambda scans: asked.append(list(scans)) or "cancel"
    viewer.window._qt_window.close()
    assert asked == [[s.current]] and s.dirty


# -- robust and quick (issue 17) ---------------------------------------------------------------


@pytest.fixture
def damaged_params(ideal_study, tmp_path):
    """P001's FDG PET with one slice deleted (a copy) and P001's PET/MR ROI set damaged."""
    root = tmp_path / "study"
    root.mkdir()
    for entry in ideal_study.iterdir():
        if entry.name not in ("clinical", "rois"):
            (root / entry.name).symlink_to(entry)
    shutil.copytree(ideal_study / "clinical", root / "clinical")
    shutil.copytree(ideal_study / "rois", root / "rois")
    scans = pd.read_csv(root / "clinical" / "scans.csv")
    row = scans["scan_id"] == f"{PATIENT}-FDG-PETCT"
    broken = root / "broken" / "PT"
    shutil.copytree(ideal_study / scans.loc[row, "pet_dir"].iloc[0], broken)
    files = sorted(broken.iterdir())
    files[len(files) // 2].unlink()                        # one slice lost
    scans.loc[row, "pet_dir"] = "broken/PT"
    scans.to_csv(root / "clinical" / "scans.csv", index=False)
    labels = sorted((root / "rois" / f"{PATIENT}-DOTATATE-PETMR").rglob("labels.nrrd"))[-1]
    labels.write_bytes(labels.read_bytes()[:-200] + bytes(200))   # fails its checksum
    return params_from_dict({"study": {"name": "t", "data_root": str(root)}})


def test_failed_load_keeps_the_session_working(make_napari_viewer, damaged_params, truth,
                                               qtbot):
    from qtpy.QtCore import Qt

    from nethelpers.viewer.app import open_review

    viewer = make_napari_viewer(show=False)
    _, w = open_review(damaged_params, PATIENT, reader="R1", viewer=viewer, autosave_s=0)
    w.ask_close = w.ask_conflict = w.ask_confirm = _never("dialog")
    s = w.session
    first, bad = s.current, f"{PATIENT}-FDG-PETCT"
    # a damaged ROI set of another scan is stated in the dock (session.warnings)
    assert s.warnings and any(f"{PATIENT}-DOTATATE-PETMR" in x for x in s.warnings)
    assert f"{PATIENT}-DOTATATE-PETMR" in w.warnings_label.text()
    pet_before = w.layers.pet
    shown = np.array(pet_before.data, copy=True)

    w.scan_combo.setCurrentIndex(s.scan_ids.index(bad))   # the reader picks the bad scan
    assert s.current == first
    assert w.scan_combo.currentData() == first
    assert bad in w.problem.text() and "could not be opened" in w.problem.text()
    assert str(damaged_params.study.data_root) not in w.problem.text()
    assert w.layers.pet is pet_before and pet_before.visible
    np.testing.assert_array_equal(pet_before.data, shown)
    np.testing.assert_array_equal(
        pet_before.data, sitk.GetArrayViewFromImage(s.images.pet))      # the session's scan
    assert [lay.metadata["scan_id"] for lay in viewer.layers
            if lay.metadata.get("role") == "pet"] == [first]

    # the next click, Delete and Ctrl+S work
    lesion = f"{PATIENT}-L02"
    w.select_lesion(lesion, jump=False)
    _key(qtbot, viewer, Qt.Key.Key_Delete)
    assert not (s.table["lesion_id"] == lesion).any()
    _key(qtbot, viewer, Qt.Key.Key_A)
    voi = w.handle_click(_world(_truth_row(truth, first, lesion)))
    assert voi is not None and voi.lesion_id != lesion
    _key(qtbot, viewer, Qt.Key.Key_S, ctrl=True)
    assert not s.dirty and s.history()["version"].iloc[-1] == 2
    assert w.select_scan(bad) is False and s.current == first  # again: same end state
    w.shutdown()


def test_switch_back_uses_kept_layers_fast(open_patient):
    import time

    from qtpy.QtWidgets import QApplication

    viewer, w = open_patient(show=True)
    s = w.session
    app = QApplication.instance()
    first, other = s.scan_ids[0], s.scan_ids[1]
    t0 = time.perf_counter()
    w.select_scan(other)                                   # first open: read and add
    app.processEvents()
    t_first = time.perf_counter() - t0
    kept = {sid: layers.pet for sid, layers in w.scan_layers.items()}
    times = []
    for sid in (first, other, first):
        t0 = time.perf_counter()
        w.select_scan(sid)
        app.processEvents()
        times.append(time.perf_counter() - t0)
        assert s.current == sid and w.layers.pet is kept[sid] and w.layers.pet.visible
        np.testing.assert_array_equal(w.layers.rois.data, s.labels)
        hidden = [lay for lay in viewer.layers if lay.metadata.get("scan_id") != sid
                  and lay.metadata.get("role") == "pet"]
        assert hidden and not any(lay.visible for lay in hidden)
    # measured here: first open 0.7-0.9 s, switch back 0.10-0.16 s (2-core VM under Xvfb)
    # (one of three took 0.38 s once in a full run, a garbage collection of earlier tests'
    # viewers: the median holds the goal, the ratio to the first open the worst)
    assert sorted(times)[1] < 0.3, (times, t_first)
    assert max(times) < 0.75 * t_first, (times, t_first)


def test_click_refused_below_min_contrast_shown_in_dock(open_patient, truth):
    viewer, w = open_patient()
    s = w.session
    assert s.params.review.min_contrast == 1.5             # the one default
    lesion = f"{PATIENT}-L02"
    w.select_lesion(lesion, jump=False)
    w.delete_selected()
    before = len(s.table)
    s.params.review.min_contrast = 50.0                    # above any demo lesion
    w.start("add")
    assert w.handle_click(_world(_truth_row(truth, s.current, lesion))) is None
    assert len(s.table) == before
    text = w.messages[-1]
    assert "review.min_contrast" in text and "brush" in text and "50" in text
    s.params.review.min_contrast = 1.5
    w.start("add")
    assert w.handle_click(_world(_truth_row(truth, s.current, lesion))) is not None


def test_viewer_modules_are_small():
    folder = ROOT / "nethelpers" / "viewer"
    sizes = {p.relative_to(folder).as_posix(): len(p.read_text().splitlines())
             for p in folder.rglob("*.py")}
    assert "_qt/dock.py" in sizes and sizes["widget.py"] < 60
    assert {k: v for k, v in sizes.items() if v >= 400} == {}
