"""The lesion gallery drawn in parallel: same bytes as serial, failures listed, tiles of lesions."""

from __future__ import annotations

import dataclasses
import io
import re

import nbformat
import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from PIL import Image

from nethelpers.config import load_params
from nethelpers.plots import figure_style
from nethelpers.plots.gallery import scan_images, study_gallery
from nethelpers.plots.galleryjobs import lesion_tiles, render_study_gallery
from nethelpers.quantify import scan_jobs
from nethelpers.rois import RoiStore


@pytest.fixture(scope="module")
def ideal(ideal_study, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("galleryjobs")
    path = tmp / "p.yaml"
    path.write_text(f"study:\n  name: ideal\n  data_root: {ideal_study}\n"
                    f"report:\n  output: {tmp / 'out'}\n"
                    f"quantify:\n  output: {tmp / 'q'}\n")
    params = load_params(path)
    jobs = scan_jobs(params)
    first = sorted({j.patient_id for j in jobs})[0]
    mine = [j for j in jobs if j.patient_id == first][:2]   # two scans: parallel, still fast
    return {"params": params, "tmp": tmp, "jobs": mine}


def _png(fig) -> bytes:
    """matplotlib's own PNG of a figure (the report's style: tight box)."""
    buffer = io.BytesIO()
    with figure_style():
        fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_parallel_gives_the_same_files_and_bytes_as_serial(ideal):
    params, jobs, tmp = ideal["params"], ideal["jobs"], ideal["tmp"]
    serial = render_study_gallery(params, tmp / "serial", jobs=jobs, workers=1, progress=False)
    parallel = render_study_gallery(params, tmp / "parallel", jobs=jobs, workers=2,
                                    progress=False)
    scans = sorted(j.scan_id for j in jobs)
    assert len(scans) >= 2
    expected = [f"{kind}_{s}.png" for s in scans for kind in ("gallery", "mip")]
    assert serial.names == parallel.names == expected
    assert serial.failed == parallel.failed == {}
    for a, b in zip(serial.figures, parallel.figures, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    # the same picture as matplotlib's PNG of the serial generator's figures (new figures,
    # where the workers reuse one gallery figure and write their own PNG)
    before = dict(study_gallery(params, jobs=jobs, progress=False))
    for path in serial.figures:
        np.testing.assert_array_equal(_pixels(path.read_bytes()), _pixels(_png(before[path.stem])),
                                      err_msg=path.name)
    assert all(scan in serial.alt[f"gallery_{scan}.png"] for scan in scans)


def test_a_failing_scan_is_listed_without_its_path_and_the_others_drawn(ideal):
    params, jobs, tmp = ideal["params"], ideal["jobs"], ideal["tmp"]
    broken = dataclasses.replace(jobs[0], pet=str(tmp / "Smith_John" / "PET"))
    skipped: dict[str, str] = {}
    result = render_study_gallery(params, tmp / "broken", jobs=[broken, *jobs[1:]], workers=2,
                                  progress=False, skipped=skipped)
    assert list(result.failed) == [broken.scan_id]
    assert skipped == result.failed                      # the caller's dict gets them too
    reason = result.failed[broken.scan_id]
    assert "Smith_John" not in reason and str(tmp) not in reason, reason
    drawn = sorted(j.scan_id for j in jobs[1:])
    assert result.names == [f"{k}_{s}.png" for s in drawn for k in ("gallery", "mip")]
    assert all(p.is_file() for p in result.figures)
    assert not (tmp / "broken" / f"gallery_{broken.scan_id}.png").exists()


def test_lesion_tiles_draw_the_listed_lesions_with_captions_and_list_the_missing(ideal):
    params, jobs = ideal["params"], ideal["jobs"]
    store = RoiStore(params.study.rois)
    job = jobs[0]
    table = store.load(job.scan_id).table
    lesion_ids = list(table.loc[table["roi"] == "lesion", "lesion_id"])[:2]
    assert lesion_ids
    wanted = [(job.scan_id, lid) for lid in lesion_ids]
    wanted += [(job.scan_id, "P999-L01"), ("P999-FDG-PETCT", "P999-L01")]
    captions = [f"{lid} caption {i}" for i, (_, lid) in enumerate(wanted)]
    failed: dict[str, str] = {}
    fig = lesion_tiles(params, wanted, captions, columns=3, workers=2, progress=False,
                       failed=failed)
    assert sorted(failed) == sorted([f"{job.scan_id} P999-L01", "P999-FDG-PETCT P999-L01"])
    assert "no VOI" in failed[f"{job.scan_id} P999-L01"]
    titles = [ax.get_title().replace("\n", " ") for ax in fig.axes]
    assert titles[:4] == captions
    # each drawn tile goes through its lesion's hottest voxel (whole-volume maximum)
    pet, labels, rois, _, _ = scan_images(job, store, params.quantify.norm)
    suv = sitk.GetArrayFromImage(pet)
    for ax, lesion_id in zip(fig.axes, lesion_ids, strict=False):
        label = int(rois.loc[rois["lesion_id"] == lesion_id, "label"].iloc[0])
        hottest = suv[labels == label].max()
        pet_layers = [np.asarray(im.get_array()) for im in ax.get_images()
                      if im.get_cmap().name == "hot"]              # the PET layer over CT/MR
        assert len(pet_layers) == 1
        assert (pet_layers[0] == hottest).any()          # the slice holds the lesion's SUVmax
    with pytest.raises(ValueError, match="P999-L01"):
        lesion_tiles(params, wanted[2:3], workers=1, progress=False)


def test_lesion_tiles_need_one_caption_per_lesion(ideal):
    with pytest.raises(ValueError, match="2 captions for 1 lesions"):
        lesion_tiles(ideal["params"], [("a", "b")], ["x", "y"], progress=False)


@pytest.mark.slow
def test_notebook_02_prints_nothing_of_the_machinery(demo_report):
    node = nbformat.read(demo_report["out"] / "notebooks" / "02_roi_review.ipynb", 4)
    texts, kinds = [], set()
    for cell in node.cells:
        for output in cell.get("outputs", []):
            kinds.add(output.get("output_type"))
            texts.append(output.get("text", ""))
            for kind, value in output.get("data", {}).items():
                kinds.add(kind)
                texts.append(value if isinstance(value, str) else "")
    text = "\n".join(texts)
    assert "PosixPath" not in text and "gallery_index" not in text
    assert not re.search(r"(?<![\w<])/(?:tmp|home|work|data)/", text)
    assert "application/vnd.jupyter.widget-view+json" not in kinds   # no progress bar
    assert "pub-table" in text                              # tables through pub_table
    html = (demo_report["out"] / "02_roi_review.html").read_text()
    assert "PosixPath" not in html
    gallery = pd.read_csv(demo_report["out"] / "tables" / "gallery_index.csv")
    assert len(gallery) > 0 and gallery["figure"].str.endswith(".png").all()
