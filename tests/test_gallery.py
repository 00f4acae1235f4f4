"""The lesion gallery's fast paths draw the same picture as the plain ones (issue 19, speed).

Each shortcut is checked against an independent computation: lesion peaks against numpy's
argmax over each VOI, the CT resampled under a panel against SimpleITK's whole-volume
resampling, the PNG writer against matplotlib's own ``savefig`` (tight box, decoded with
PIL), and the reused gallery figure against a new figure.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from matplotlib.figure import Figure
from PIL import Image

from nethelpers.plots import figure_style
from nethelpers.plots.gallery import _anatomy_box, lesion_gallery, lesion_peaks, scan_mip
from nethelpers.plots.galleryjobs import _png
from nethelpers.reportdir import alt_text


def _image(array: np.ndarray, spacing, origin) -> sitk.Image:
    image = sitk.GetImageFromArray(array.astype(np.float32))
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


@pytest.fixture(scope="module")
def scan():
    """A small PET (4 mm) with five lesion VOIs and a liver, and a CT on another grid."""
    rng = np.random.default_rng(19)
    suv = rng.gamma(4.0, 0.5, size=(30, 40, 36))
    labels = np.zeros(suv.shape, np.uint16)
    labels[2:12, 5:20, 4:20] = 1                                   # liver (not a lesion)
    centres = [(5, 30, 28), (15, 10, 8), (22, 25, 18), (27, 36, 33), (10, 20, 30)]
    for label, (k, j, i) in enumerate(centres, start=2):
        labels[max(k - 2, 0):k + 2, max(j - 2, 0):j + 2, max(i - 2, 0):i + 2] = label
        suv[k, j, i] = 5.0 + label                                # each VOI's hottest voxel
    table = pd.DataFrame({"label": [1, 2, 3, 4, 5, 6, 9],
                          "roi": ["liver"] + ["lesion"] * 6,
                          "lesion_id": ["", "P001-L01", "P001-L02", "P001-L03", "P001-L04",
                                        "P001-L05", "P001-L06"]})   # L06: label without voxels
    pet = _image(suv, (4.0, 4.0, 4.0), (-70.0, -80.0, -60.0))
    ct_array = rng.normal(40.0, 60.0, size=(50, 70, 64))
    ct = _image(ct_array, (2.5, 2.3, 2.6), (-75.3, -82.1, -45.3))  # from PET slice 4
    return {"pet": pet, "suv": suv, "labels": labels, "table": table, "ct": ct}


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _matplotlib_png(fig: Figure, dpi: int = 110) -> bytes:
    """The reference: matplotlib's savefig with the report's style (tight box, drawn twice)."""
    buffer = io.BytesIO()
    with figure_style():
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def test_lesion_peaks_are_each_vois_hottest_voxel(scan):
    peaks = lesion_peaks(scan["pet"], scan["labels"], scan["table"])
    assert [p.lesion_id for p in peaks] == ["P001-L01", "P001-L02", "P001-L03", "P001-L04",
                                            "P001-L05"]          # table order; L06 has no voxel
    for peak in peaks:
        inside = np.where(scan["labels"] == peak.label, scan["suv"], -np.inf)
        index = np.unravel_index(np.argmax(inside), inside.shape)
        assert peak.index == tuple(int(i) for i in index)
        assert peak.suv_max == pytest.approx(float(np.float32(scan["suv"][index])))
        assert peak.suv_max == pytest.approx(5.0 + peak.label, rel=1e-6)


def test_ct_resampled_under_a_panel_equals_the_whole_volume_resampled(scan):
    pet, ct = scan["pet"], scan["ct"]
    whole = sitk.GetArrayFromImage(sitk.Resample(ct, pet, sitk.Transform(), sitk.sitkLinear,
                                                 -1000.0, ct.GetPixelID()))
    for box in [(slice(5, 6), slice(20, 40), slice(0, 21)),      # an axial panel at an edge
                (slice(0, 21), slice(33, 34), slice(10, 31)),      # a coronal panel
                (slice(2, 3), slice(0, 40), slice(0, 36))]:        # a slice without CT
        cut = _anatomy_box(pet, ct, None, box)
        np.testing.assert_array_equal(cut, whole[box])
        np.testing.assert_array_equal(_anatomy_box(pet, ct, whole, box), whole[box])
    assert (whole[:4] == -1000.0).all() and (whole[4:] > -1000.0).all()
    assert _anatomy_box(pet, None, None, box) is None


def test_png_has_the_pixels_of_matplotlibs_savefig_and_is_rgb_when_opaque(scan):
    gallery = lesion_gallery(scan["pet"], scan["labels"], scan["table"], anatomy=scan["ct"],
                             tracer="DOTATATE", title="P001-DOTATATE-PETCT (DOTATATE PET/CT)")
    mip = scan_mip(scan["pet"], scan["labels"], scan["table"], tracer="DOTATATE", title="MIP")
    for fig in (gallery, mip):
        reference, fast = _matplotlib_png(fig), _png(fig, 110)
        assert Image.open(io.BytesIO(fast)).mode == "RGB"
        np.testing.assert_array_equal(_pixels(fast), _pixels(reference))
        assert _png(fig, 110) == fast                    # deterministic: no time stamp
        assert b"tEXt" not in fast and b"Software" not in fast
    assert fig.dpi == 100 and type(fig.canvas).__name__ == "FigureCanvasBase"  # left as found
    with figure_style():                                 # a transparent figure keeps its alpha
        clear = Figure(figsize=(1, 1), facecolor="none")
        clear.add_subplot().plot([0, 1], [0, 1])
    fast = _png(clear, 110)
    assert Image.open(io.BytesIO(fast)).mode == "RGBA"
    np.testing.assert_array_equal(_pixels(fast), _pixels(_matplotlib_png(clear)))


def test_a_reused_gallery_figure_draws_what_a_new_figure_draws(scan):
    pet, labels, table, ct = scan["pet"], scan["labels"], scan["table"], scan["ct"]
    few = table[table["lesion_id"].isin(["", "P001-L02", "P001-L04"])]
    kw = {"anatomy": ct, "tracer": "DOTATATE"}
    fresh = {name: lesion_gallery(pet, labels, t, title=name, **kw)
             for name, t in (("many", table), ("few", few))}
    expected = {name: (_png(fig, 110), alt_text(fig, name)) for name, fig in fresh.items()}
    assert len(fresh["many"].axes) == 10 and len(fresh["few"].axes) == 4
    for name, t in (("many", table), ("few", few), ("many", table), ("few", few)):
        fig = lesion_gallery(pet, labels, t, title=name, reuse=True, **kw)
        assert (_png(fig, 110), alt_text(fig, name)) == expected[name], name
    assert fig is lesion_gallery(pet, labels, few, title="again", reuse=True, **kw)
    # a scan without lesion VOIs, or a figure without title, is never the reused figure
    empty = table[table["roi"] != "lesion"]
    assert lesion_gallery(pet, labels, empty, title="x", reuse=True, **kw) is not fig


def test_mr_window_comes_from_the_whole_mr_and_ct_window_is_fixed(scan):
    pet, labels, table, ct = scan["pet"], scan["labels"], scan["table"], scan["ct"]
    mr = _image(np.abs(sitk.GetArrayFromImage(ct)), ct.GetSpacing(), ct.GetOrigin())
    on_pet = sitk.GetArrayFromImage(sitk.Resample(mr, pet, sitk.Transform(), sitk.sitkLinear,
                                                  -1000.0, mr.GetPixelID()))
    lo, hi = np.percentile(on_pet[on_pet > 0], [1, 99])
    fig = lesion_gallery(pet, labels, table, anatomy=mr, anatomy_kind="MR", title="mr")
    greys = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "gray"]
    assert greys and all(im.get_clim() == pytest.approx((lo, hi)) for im in greys)
    fig = lesion_gallery(pet, labels, table, anatomy=ct, anatomy_kind="CT", title="ct")
    greys = [im for ax in fig.axes for im in ax.get_images() if im.get_cmap().name == "gray"]
    assert greys and all(im.get_clim() == (-160.0, 240.0) for im in greys)


def test_titles_stand_where_matplotlib_places_them_by_itself(scan, monkeypatch):
    """The panels' titles are given y=1.0 (faster): the place matplotlib computes without it."""
    from matplotlib.axes import Axes

    kw = {"anatomy": scan["ct"], "tracer": "DOTATATE", "title": "P001 (DOTATATE PET/CT)"}
    args = (scan["pet"], scan["labels"], scan["table"])
    given = (_png(lesion_gallery(*args, **kw), 110),
             _png(scan_mip(*args, tracer="DOTATATE", title="MIP"), 110))
    set_title = Axes.set_title

    def automatic(self, label, *a, y=None, **k):
        return set_title(self, label, *a, **k)          # y dropped: matplotlib places it

    monkeypatch.setattr(Axes, "set_title", automatic)
    placed = (_png(lesion_gallery(*args, **kw), 110),
              _png(scan_mip(*args, tracer="DOTATATE", title="MIP"), 110))
    for a, b in zip(given, placed, strict=True):
        np.testing.assert_array_equal(_pixels(a), _pixels(b))
