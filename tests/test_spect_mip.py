"""The review's MIP of a counts-only SPECT takes a counts window (never the SUV one)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from nethelpers.config import params_from_dict
from nethelpers.review import ReviewSession
from nethelpers.viewer.display import DisplaySettings
from nethelpers.viewer.emission import mip_limits

COUNTS_SCAN = "P006-HYNIC-TOC-SPECTCT"
QUANT_SCAN = "P005-HYNIC-TOC-SPECTCT"


@pytest.fixture()
def params(demo_study, tmp_path):
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    return params_from_dict({"study": {"name": "t", "data_root": str(demo_study),
                                       "rois": str(tmp_path / "rois")}})


def test_mip_limits_are_counts_on_counts_spect_and_suv_otherwise(params):
    settings = DisplaySettings()
    counts = ReviewSession(params, "P006", "R1", scan_id=COUNTS_SCAN).images
    body = counts.suv[counts.suv > 0]
    upper = float(np.percentile(body, settings.counts_upper_percentile))  # independent
    assert mip_limits(counts, settings) == pytest.approx((0.0, upper))
    # the SUV MIP window would turn the whole body black (every voxel above it)
    assert np.mean(body > settings.mip_limits("HYNIC-TOC")[1]) > 0.5
    assert np.mean(body > upper) < 0.01
    quant = ReviewSession(params, "P005", "R1", scan_id=QUANT_SCAN).images
    assert mip_limits(quant, settings) == settings.mip_limits("HYNIC-TOC")


def test_the_mip_view_of_counts_spect_is_not_saturated(params, make_napari_viewer):
    from nethelpers.viewer._qt.mipview import MipView

    make_napari_viewer(show=False)                # the Qt application
    settings = DisplaySettings()
    images = ReviewSession(params, "P006", "R1", scan_id=COUNTS_SCAN).images
    view = MipView()
    layer = view.show(images, settings)
    assert tuple(layer.contrast_limits) == pytest.approx(mip_limits(images, settings))
    assert layer.contrast_limits[1] > 50 * settings.mip_limits("HYNIC-TOC")[1]
