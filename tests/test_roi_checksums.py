"""A ROI version is measured only when its files match the checksums its meta.json records.

Truth: hashlib's SHA-256 of the files on disk (independent of nethelpers.files), a label map
altered with SimpleITK, and the demo study's store (every version nethelpers has written
records its checksums).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.rois import RoiStore, RoiStoreError, table_from_rows

SCAN = "P009-FDG-PETCT"
SET = f"{SCAN}/R1"            # reader R1's set of the scan, as shown relative to the store


def _labels(lesion_value: int = 11) -> sitk.Image:
    arr = np.zeros((5, 6, 7), dtype=np.uint16)
    arr[0:2, 0:2, 0:2] = 1
    arr[3:5, 2:5, 1:6] = lesion_value
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((2.0, 2.0, 3.0))
    return img


def _table() -> pd.DataFrame:
    return table_from_rows([
        {"label": 1, "roi": "liver", "method": "sphere", "reader": "R1"},
        {"label": 11, "roi": "lesion", "lesion_id": "P009-L01", "method": "manual",
         "reader": "R1"},
    ])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _meta(version: Path) -> dict:
    return json.loads((version / "meta.json").read_text())


def _write_meta(version: Path, meta: dict) -> None:
    (version / "meta.json").write_text(json.dumps(meta, indent=1))


def _grow_lesion(version: Path) -> None:
    """Alter the label map as a hand edit would: the lesion takes the liver's voxels."""
    image = sitk.ReadImage(str(version / "labels.nrrd"))
    arr = sitk.GetArrayFromImage(image)
    arr[arr == 1] = 11
    altered = sitk.GetImageFromArray(arr)
    altered.CopyInformation(image)
    sitk.WriteImage(altered, str(version / "labels.nrrd"), useCompression=True)


@pytest.fixture
def store(tmp_path):
    store = RoiStore(tmp_path / "rois")
    store.save(SCAN, _labels(), _table(), reader="R1")
    store.save(SCAN, _labels(), _table(), reader="R1", saved_by="R2", reads=pd.DataFrame(
        {"lesion_id": ["P009-L01"], "call": ["positive"]}))
    return store


def test_saved_versions_record_every_files_checksum(store):
    for number in (1, 2):
        version = store.root / SET / f"v{number:06d}"
        listed = _meta(version)["files"]
        on_disk = sorted(p.name for p in version.iterdir() if p.name != "meta.json")
        assert sorted(listed) == on_disk                 # reads.csv in v2 only
        assert listed == {name: _sha256(version / name) for name in on_disk}
        assert store.load(SCAN, number).version.version == number


def test_meta_without_checksums_and_an_altered_label_map_is_refused(store):
    version = store.root / SET / "v000002"
    before = _sha256(version / "labels.nrrd")
    _grow_lesion(version)
    assert _sha256(version / "labels.nrrd") != before
    meta = _meta(version)
    del meta["files"]
    _write_meta(version, meta)
    with pytest.raises(RoiStoreError) as err:
        store.load(SCAN)
    text = str(err.value)
    assert f"scan {SCAN}, reader R1, ROI version 2 ({SET}/v000002 in the ROI store)" in text
    assert "records no checksums" in text
    assert f"nethelpers rois restore {SCAN} 1 " in text            # the earlier version
    assert "--reader R1" in text                                   # ... of this reader's set
    assert str(store.root) not in text and "\n" not in text
    with pytest.raises(RoiStoreError, match="records no checksums"):
        store.restore(SCAN, 2, reader="R1", saved_by="R3")         # no laundering by restore
    # the fix works: version 1 is intact and becomes the newest again
    restored = store.restore(SCAN, 1, reader="R1", saved_by="R3")
    assert restored.version == 3
    np.testing.assert_array_equal(store.load(SCAN).array, sitk.GetArrayFromImage(_labels()))


@pytest.mark.parametrize("files", [{}, "not a mapping"])
def test_empty_or_malformed_checksums_are_refused(store, files):
    version = store.root / SET / "v000001"
    meta = _meta(version)
    meta["files"] = files
    _write_meta(version, meta)
    with pytest.raises(RoiStoreError, match="records no checksums") as err:
        store.load(SCAN, 1)
    assert "restore the folder P009-FDG-PETCT/R1/v000001 from backup" in str(err.value)
    assert "nethelpers rois restore" not in str(err.value)        # no earlier version


@pytest.mark.parametrize("dropped", ["labels.nrrd", "rois.csv", "reads.csv"])
def test_a_file_without_its_checksum_is_refused(store, dropped):
    version = store.root / SET / "v000002"
    meta = _meta(version)
    del meta["files"][dropped]
    _write_meta(version, meta)
    with pytest.raises(RoiStoreError, match=f"records no checksum for {dropped}"):
        store.load(SCAN, 2)


def test_reads_added_beside_a_version_without_them_are_refused(store):
    version = store.root / SET / "v000001"
    (version / "reads.csv").write_text("lesion_id,site,call,krenning,confidence,note\n"
                                       "P009-L01,,negative,,,\n")
    with pytest.raises(RoiStoreError, match="records no checksum for reads.csv"):
        store.load(SCAN, 1)


def test_an_altered_label_map_with_checksums_is_refused(store):
    version = store.root / SET / "v000001"
    recorded = _meta(version)["files"]["labels.nrrd"]
    _grow_lesion(version)
    assert _sha256(version / "labels.nrrd") != recorded
    with pytest.raises(RoiStoreError, match="labels.nrrd changed since it was saved "
                       r"\(checksum mismatch\)") as err:
        store.load(SCAN, 1)
    assert f"{SET}/v000001" in str(err.value) and str(store.root) not in str(err.value)
    (version / "labels.nrrd").unlink()
    with pytest.raises(RoiStoreError, match="labels.nrrd is missing"):
        store.load(SCAN, 1)


def test_demo_store_versions_all_carry_valid_checksums(ideal_study):
    store = RoiStore(ideal_study / "rois")
    for scan in store.scans():
        for version in store.versions(scan):
            listed = _meta(version.path)["files"]
            assert {"labels.nrrd", "rois.csv"} <= set(listed)
            assert all(_sha256(version.path / n) == d for n, d in listed.items())
