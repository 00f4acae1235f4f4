"""The review opens SPECT/CT: counts-only SPECT in counts, with its own window and unit.

Checked on P006's counts-only HYNIC-TOC SPECT of the 6-patient demo against the NM file read
with pydicom + numpy (not the loader under test); the Qt colour bar under Xvfb.
"""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from nethelpers.config import params_from_dict
from nethelpers.review import ReviewSession
from nethelpers.viewer.display import (
    DisplaySettings,
    cursor_text,
    cursor_values,
    emission_limits,
    value_unit,
)

COUNTS_SCAN = "P006-HYNIC-TOC-SPECTCT"
QUANT_SCAN = "P005-HYNIC-TOC-SPECTCT"


@pytest.fixture()
def params(demo_study, tmp_path):
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    return params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                       "rois": str(tmp_path / "rois")}})


@pytest.fixture()
def counts_session(params):
    return ReviewSession(params, "P006", "R1", scan_id=COUNTS_SCAN)


def _nm_counts(demo_study) -> np.ndarray:
    (path,) = (demo_study / "dicom" / "P006" / COUNTS_SCAN / "NM").glob("*.dcm")
    ds = pydicom.dcmread(path)
    return ds.pixel_array.astype(np.float64) * float(ds.get("RescaleSlope", 1.0) or 1.0)


def test_counts_spect_opens_in_counts_with_its_own_window(counts_session, demo_study):
    s = counts_session
    assert COUNTS_SCAN in s.scan_ids and s.current == COUNTS_SCAN
    assert s.images.quantity == "counts" and value_unit(s.images) == "counts"
    assert s.images.anatomy_kind == "CT"
    counts = _nm_counts(demo_study)
    # the same counts as pydicom reads (frames in file order on this series)
    np.testing.assert_allclose(np.sort(s.images.suv.ravel()), np.sort(counts.ravel()))
    settings = DisplaySettings()
    upper = np.percentile(counts[counts > 0], settings.counts_upper_percentile)
    assert emission_limits(s.images, settings) == pytest.approx(
        (settings.counts_lower_fraction * upper, upper))
    assert upper > 50 * settings.suv_limits("HYNIC-TOC")[1]    # an SUV window would saturate
    # the value under the cursor says counts, at the hottest voxel of the scan
    k, j, i = np.unravel_index(int(np.argmax(s.images.suv)), s.images.suv.shape)
    x, y, z = s.images.pet.TransformIndexToPhysicalPoint((int(i), int(j), int(k)))
    assert cursor_values(s.images, (z, y, x))["counts"] == pytest.approx(counts.max())
    assert cursor_text(s.images, (z, y, x)).startswith(f"counts {counts.max():.0f}")


def test_quantitative_spect_opens_in_suv_with_the_tracers_window(params):
    s = ReviewSession(params, "P005", "R1", scan_id=QUANT_SCAN)
    assert s.images.quantity == "SUV" and value_unit(s.images) == "SUV"
    settings = DisplaySettings()
    assert emission_limits(s.images, settings) == settings.suv_limits("HYNIC-TOC")


def test_live_numbers_and_click_voi_on_counts(counts_session, demo_study):
    """The dock's numbers are counts and ratios; click-to-VOI (a ratio to the local
    background, review.min_contrast) grows on counts."""
    s = counts_session
    counts = s.images.suv
    liver = int(s.table.loc[s.table.roi == "liver", "label"].iloc[0])
    spleen = int(s.table.loc[s.table.roi == "spleen", "label"].iloc[0])
    numbers = s.measure(spleen)
    assert np.isnan(numbers["suv_mean"]) and np.isnan(numbers["suv_max"])
    assert numbers["counts_mean"] == pytest.approx(counts[s.labels == spleen].mean(), rel=1e-9)
    # the spleen's hottest voxel is 1.35x its surroundings (mostly spleen): refused, as a
    # ratio, whatever the counts scale; the scan's hottest voxel (a kidney) grows a VOI
    seed = np.unravel_index(int(np.argmax(np.where(s.labels == spleen, counts, -1))),
                            counts.shape)
    s.delete(roi="spleen")
    with pytest.raises(ValueError, match="below the minimum contrast 1.5") as refused:
        s.add_lesion_at(tuple(int(v) for v in seed))
    assert "its peak counts" in str(refused.value) and "SUV" not in str(refused.value)
    seed = np.unravel_index(int(np.argmax(np.where(s.labels > 0, -1, counts))), counts.shape)
    voi = s.add_lesion_at(tuple(int(v) for v in seed))
    grown = s.labels == voi.label
    assert voi.quantity == "counts" and np.isnan(voi.suv_max)
    assert voi.counts_max == pytest.approx(counts[grown].max())
    assert voi.tb_liver == pytest.approx(counts[grown].max() / counts[s.labels == liver].mean())
    assert voi.text.startswith(f"counts max {counts[grown].max():.0f}")
    assert "SUV" not in voi.text
    table = s.lesion_table().set_index("lesion_id")
    assert table.loc[voi.lesion_id, "tb_liver"] == pytest.approx(voi.tb_liver)


def test_fused_spect_layer_takes_the_counts_window(counts_session):
    from napari.components import ViewerModel

    from nethelpers.viewer._qt.fusion import add_fused_layers

    s = counts_session
    settings = DisplaySettings()
    layers = add_fused_layers(ViewerModel(), s.images, s.labels, settings)
    assert layers.pet.name == f"SPECT counts {COUNTS_SCAN}"      # never "PET" on a SPECT
    assert tuple(layers.pet.contrast_limits) == pytest.approx(
        emission_limits(s.images, settings))
    assert layers.pet.metadata["unit"] == "counts"


def test_the_colour_bar_of_counts_spect_says_counts(counts_session, make_napari_viewer):
    from nethelpers.viewer._qt.displaycontrols import DisplayControls

    make_napari_viewer(show=True)                 # the Qt application, under Xvfb
    s = counts_session
    controls = DisplayControls(DisplaySettings())
    controls.set_scan(s.images.anatomy_kind, s.images.job.tracer, images=s.images)
    bar = controls.bar.bar
    assert bar.title == "counts"
    assert bar.limits == pytest.approx(emission_limits(s.images, DisplaySettings()))
    assert not controls.upper.isEnabled()         # the SUV limits do not apply to counts
    controls.set_scan("CT", "HYNIC-TOC")          # a PET (SUV) scan again
    assert controls.bar.bar.title == "SUV" and controls.upper.isEnabled()


def test_the_lesion_table_shows_counts_under_their_own_headers(counts_session,
                                                               make_napari_viewer):
    from nethelpers.viewer._qt.lesiontable import fill_table, make_table

    make_napari_viewer(show=True)                 # the Qt application, under Xvfb
    s = counts_session
    frame = s.lesion_table()
    measured = frame[frame["label"] > 0].iloc[0]
    assert np.isnan(measured["suv_max"]) and measured["counts_max"] > 0
    counts = s.images.suv
    assert measured["counts_max"] == pytest.approx(counts[s.labels == measured["label"]].max())
    table = make_table()
    fill_table(table, frame, set(), "counts")
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert "Max counts" in headers and "Peak counts" in headers
    assert not any("SUV" in h for h in headers)
    row = frame.index[frame["lesion_id"] == measured["lesion_id"]][0]
    cell = table.item(int(row), headers.index("Max counts")).text()
    assert cell == f"{measured['counts_max']:.0f}"
    fill_table(table, frame, set(), "SUV")        # a PET scan: the SUV headers again
    assert table.horizontalHeaderItem(headers.index("Max counts")).text() == "SUVmax"
