"""napari draws a demo PET under Xvfb: the setup's system packages are complete."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

pytestmark = pytest.mark.gui


def test_demo_pet_renders_in_napari(ideal_study, make_napari_viewer):
    scans = pd.read_csv(ideal_study / "clinical/scans.csv")
    pet_dir = ideal_study / scans.pet_dir.iloc[0]
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(pet_dir)))
    reader.SetOutputPixelType(sitk.sitkFloat32)      # per-slice slopes: ask for float
    img = reader.Execute()
    arr = sitk.GetArrayFromImage(img)
    viewer = make_napari_viewer(show=True)
    layer = viewer.add_image(arr, scale=img.GetSpacing()[::-1], colormap="hot",
                             contrast_limits=(0, float(np.percentile(arr, 99.9))))
    np.testing.assert_allclose(layer.scale, img.GetSpacing()[::-1])
    viewer.dims.ndisplay = 2
    viewer.dims.set_point(0, layer.data_to_world((arr.shape[0] // 2, 0, 0))[0])
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot.shape[2] == 4
    assert shot[..., :3].std() > 5          # a real image, not a black or blank canvas
