"""The ROI store: validation, versions, restore, conflicts, crashes and concurrent saves."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.rois import (
    TABLE_COLUMNS,
    RoiConflictError,
    RoiStore,
    RoiStoreError,
    table_from_rows,
    validate_table,
)
from tests.conftest import ROOT

SCAN = "P001-DOTATATE-PETCT"


def _image(values: dict[int, tuple[slice, slice, slice]], shape=(6, 7, 8),
           spacing=(2.0, 2.5, 3.0), origin=(-10.123456789, 4.0, -800.0000001),
           direction=None) -> sitk.Image:
    arr = np.zeros(shape, dtype=np.uint16)
    for label, box in values.items():
        arr[box] = label
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(spacing)
    img.SetOrigin(origin)
    if direction is not None:
        img.SetDirection(direction)
    return img


def _table(reader: str = "R1") -> pd.DataFrame:
    return table_from_rows([
        {"label": 1, "roi": "liver", "method": "sphere", "reader": reader},
        {"label": 11, "roi": "lesion", "lesion_id": "P001-L01", "method": "click-grow",
         "reader": reader, "created": "2025-01-09T14:00:00"},
    ])


def _boxes():
    return {1: (slice(0, 2), slice(0, 2), slice(0, 2)),
            11: (slice(3, 5), slice(2, 6), slice(1, 7))}


# --------------------------------------------------------------------------------------------
# the table
# --------------------------------------------------------------------------------------------


def test_validate_table_normalises_and_sorts():
    df = pd.DataFrame({"label": ["11", 1.0], "roi": ["lesion ", "liver"],
                       "lesion_id": ["P001-L01", None], "method": ["manual", "sphere"],
                       "reader": ["R1", "R1"], "created": [None, "t"]})
    out = validate_table(df)
    assert list(out.columns) == list(TABLE_COLUMNS)
    assert out["label"].tolist() == [1, 11]
    assert out["roi"].tolist() == ["liver", "lesion"]
    assert out["lesion_id"].tolist() == ["", "P001-L01"]


@pytest.mark.parametrize(("change", "message"), [
    ({"label": [0, 11]}, "whole numbers 1..65535"),
    ({"label": [1.5, 11]}, "whole numbers"),
    ({"label": [11, 11]}, "appear more than once"),
    ({"roi": ["kidney", "lesion"]}, "column roi has ['kidney']; allowed: lesion, liver"),
    ({"method": ["magic", "manual"]}, "column method has ['magic']"),
    ({"lesion_id": ["", ""]}, "have no lesion_id"),
    ({"lesion_id": ["P001-L09", "P001-L01"]}, "reference region(s) carry a lesion_id"),
    ({"reader": ["R1", ""]}, "column reader is empty in label(s) [11]"),
])
def test_validate_table_refuses_bad_rows(change, message):
    df = pd.DataFrame({"label": [1, 11], "roi": ["liver", "lesion"], "lesion_id": ["", "P001-L01"],
                       "method": ["sphere", "manual"], "reader": ["R1", "R1"],
                       "created": ["", ""]})
    for col, values in change.items():
        df[col] = values
    with pytest.raises(RoiStoreError) as err:
        validate_table(df, source="rois.csv")
    assert message in str(err.value)
    assert str(err.value).startswith("rois.csv: ")


def test_validate_table_refuses_duplicate_lesions_and_missing_columns():
    rows = [{"label": 11, "roi": "lesion", "lesion_id": "L1", "method": "manual", "reader": "A"},
            {"label": 12, "roi": "lesion", "lesion_id": "L1", "method": "manual", "reader": "A"}]
    with pytest.raises(RoiStoreError, match=r"lesion_id \['L1'\] has more than one label"):
        table_from_rows(rows)
    with pytest.raises(RoiStoreError, match="missing column"):
        validate_table(pd.DataFrame({"label": [1]}))


def test_labels_without_a_row_are_refused(tmp_path):
    img = _image({1: _boxes()[1], 11: _boxes()[11], 7: (slice(5, 6), 0, 0)})
    with pytest.raises(RoiStoreError, match=r"label value\(s\) \[7\] are in the label map"):
        RoiStore(tmp_path).save(SCAN, img, _table(), reader="R1")
    assert not (tmp_path / SCAN).exists() or not any((tmp_path / SCAN).glob("v*"))


# --------------------------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------------------------


def test_save_load_round_trip_keeps_geometry_exactly(tmp_path):
    direction = sitk.VersorRigid3DTransform([0.1, 0.2, 0.05, 0.97]).GetMatrix()
    img = _image(_boxes(), direction=direction)
    store = RoiStore(tmp_path)
    v = store.save(SCAN, img, _table(), reader="R1", note="first")
    assert (v.version, v.reader, v.note, v.parent) == (1, "R1", "first", None)
    back = store.load(SCAN)
    np.testing.assert_array_equal(back.array, sitk.GetArrayFromImage(img))
    assert back.labels.GetPixelID() == sitk.sitkUInt16
    # NRRD keeps double precision (NIfTI would round to float32: ~1e-5 mm at 800 mm)
    assert back.labels.GetOrigin() == img.GetOrigin()
    np.testing.assert_allclose(back.labels.GetSpacing(), img.GetSpacing(), rtol=1e-14)
    np.testing.assert_allclose(back.labels.GetDirection(), img.GetDirection(), atol=1e-14)
    assert back.table["lesion_id"].tolist() == ["", "P001-L01"]
    assert back.table.loc[1, "created"] == "2025-01-09T14:00:00"      # given: kept
    assert back.table.loc[0, "created"] == v.saved_at                 # empty: time of save
    assert back.label_of(roi="liver") == 1 and back.label_of(lesion_id="P001-L01") == 11
    with pytest.raises(KeyError, match="lesion P001-L99: 0 rows"):
        back.label_of(lesion_id="P001-L99")
    meta = json.loads((v.path / "meta.json").read_text())
    assert meta["reader"] == "R1" and meta["labels"] == [1, 11]
    assert meta["geometry"]["origin"] == list(img.GetOrigin())


def test_every_save_is_kept_and_any_version_restores(tmp_path):
    store = RoiStore(tmp_path)
    first = _image(_boxes())
    store.save(SCAN, first, _table(), reader="R1")
    second = _image({1: _boxes()[1]})
    store.save(SCAN, second, _table().iloc[:1], reader="R1", parent=1, note="lesion removed",
               saved_by="R2")
    assert [v.version for v in store.versions(SCAN)] == [1, 2]
    assert store.load(SCAN).table["label"].tolist() == [1]
    restored = store.restore(SCAN, 1, reader="R1", saved_by="R3")
    assert (restored.version, restored.restored_from, restored.note) == (3, 1, "restored v1")
    np.testing.assert_array_equal(store.load(SCAN).array, sitk.GetArrayFromImage(first))
    np.testing.assert_array_equal(store.load(SCAN, 2).array, sitk.GetArrayFromImage(second))
    hist = store.history(SCAN)
    assert hist["reader"].tolist() == ["R1", "R1", "R1"]        # one reader's set ...
    assert hist["saved_by"].tolist() == ["", "R2", "R3"]        # ... who saved is kept
    assert hist["parent"].tolist()[1] == 1 and pd.isna(hist["parent"].iloc[0])
    assert hist["restored_from"].iloc[2] == 1
    assert store.scans() == [SCAN]


def test_conflicting_edit_is_refused_not_lost(tmp_path):
    store = RoiStore(tmp_path)                  # one reader, two workstations
    store.save(SCAN, _image(_boxes()), _table(), reader="R1", parent=0)
    store.save(SCAN, _image(_boxes()), _table(), reader="R1", parent=1, saved_by="R1b")
    with pytest.raises(RoiConflictError, match="started from version 1, but version 2 was "
                                               "saved since by R1b"):
        store.save(SCAN, _image(_boxes()), _table(), reader="R1", parent=1)
    with pytest.raises(RoiConflictError, match="started from version 0"):
        store.save(SCAN, _image(_boxes()), _table(), reader="R1", parent=0)
    assert store.latest(SCAN, reader="R1").version == 2
    # without a parent the save simply becomes the newest
    assert store.save(SCAN, _image(_boxes()), _table(), reader="R1").version == 3


def test_load_errors_name_the_fix(tmp_path):
    store = RoiStore(tmp_path)
    with pytest.raises(RoiStoreError, match="no saved ROIs for scan S9"):
        store.load("S9")
    store.save(SCAN, _image(_boxes()), _table(), reader="R1")
    with pytest.raises(RoiStoreError, match=r"no version 4; saved versions are \[1\]"):
        store.load(SCAN, 4)
    with pytest.raises(RoiStoreError, match="scan_id '../x'"):
        store.load("../x")
    with pytest.raises(RoiStoreError, match="name the reader"):
        store.save(SCAN, _image(_boxes()), _table(), reader=" ")
    # a changed file is detected by its checksum
    table = tmp_path / SCAN / "R1" / "v000001" / "rois.csv"
    table.write_text(table.read_text().replace("P001-L01", "P001-L02"))
    with pytest.raises(RoiStoreError, match="checksum mismatch"):
        store.load(SCAN)


def test_label_maps_must_be_whole_non_negative_numbers(tmp_path):
    img = sitk.GetImageFromArray(np.full((2, 2, 2), -1, dtype=np.int16))
    with pytest.raises(RoiStoreError, match="whole numbers 0..65535"):
        RoiStore(tmp_path).save(SCAN, img, _table(), reader="R1")
    img = sitk.GetImageFromArray(np.zeros((2, 2), dtype=np.uint8))
    with pytest.raises(RoiStoreError, match="scalar 3-D image"):
        RoiStore(tmp_path).save(SCAN, img, _table(), reader="R1")


# --------------------------------------------------------------------------------------------
# crashes and concurrency
# --------------------------------------------------------------------------------------------

_CRASH = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, SimpleITK as sitk
    sys.path.insert(0, {root!r})
    import nethelpers.roistore as rois
    from tests.test_rois import _image, _table, _boxes
    where = sys.argv[1]
    def die(*a, **k):
        os.kill(os.getpid(), signal.SIGKILL)
    if where == "rename":
        rois.os.rename = die                      # staging complete, not yet renamed
    elif where == "write":
        real = sitk.WriteImage
        def half(image, path, *a, **k):
            real(image, path, *a, **k)
            with open(path, "r+b") as fh:
                fh.truncate(40)                   # a torn file, then the process dies
            die()
        rois.sitk.WriteImage = half
    rois.RoiStore(sys.argv[2]).save("{scan}", _image({{1: _boxes()[1]}}), _table().iloc[:1],
                                    reader="crasher")
""")


@pytest.mark.parametrize("where", ["write", "rename"])
def test_a_process_killed_mid_save_leaves_the_last_version_intact(tmp_path, where):
    store = RoiStore(tmp_path)
    store.save(SCAN, _image(_boxes()), _table(), reader="R1")
    script = tmp_path / "crash.py"
    script.write_text(_CRASH.format(root=str(ROOT), scan=SCAN))
    proc = subprocess.run([sys.executable, str(script), where, str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == -9, proc.stderr
    staged = [d.name for d in (tmp_path / SCAN / "crasher").iterdir()
              if d.name.startswith(".staging-")]
    assert len(staged) == 1                     # the torn save is left aside ...
    assert [v.version for v in store.versions(SCAN)] == [1]
    assert store.readers(SCAN) == ["R1"]         # the crasher's set holds no version
    rois = store.load(SCAN)                      # ... the last good version loads
    assert rois.table["label"].tolist() == [1, 11]
    assert store.save(SCAN, _image(_boxes()), _table(), reader="crasher").version == 1
    assert store.save(SCAN, _image(_boxes()), _table(), reader="R1").version == 2


def _save_many(args):
    root, writer, count = args
    store = RoiStore(root)
    label = 100 + writer
    numbers = []
    for _ in range(count):
        img = _image({label: (slice(0, 1 + writer % 5), slice(0, 3), slice(0, 3))})
        table = table_from_rows([{"label": label, "roi": "lesion", "lesion_id": f"W{writer}",
                                  "method": "manual", "reader": f"W{writer}"}])
        numbers.append(store.save(SCAN, img, table, reader="R1", saved_by=f"W{writer}").version)
    return numbers


def test_concurrent_saves_never_collide(tmp_path):
    writers, count = 6, 5
    with mp.get_context("spawn").Pool(writers) as pool:
        got = pool.map(_save_many, [(str(tmp_path), w, count) for w in range(writers)])
    numbers = sorted(n for g in got for n in g)
    assert numbers == list(range(1, writers * count + 1))
    store = RoiStore(tmp_path)
    for v in store.versions(SCAN):
        rois = store.load(SCAN, v.version)       # checksums hold for every version
        writer = int(v.saved_by[1:])
        assert rois.table["reader"].tolist() == [v.saved_by]
        assert set(np.unique(rois.array)) == {0, 100 + writer}
        assert int((rois.array > 0).sum()) == (1 + writer % 5) * 9
    assert not [d for d in (tmp_path / SCAN / "R1").iterdir() if d.name.startswith(".staging-")]


def _save_from_parent(args):
    root, writer = args
    try:
        RoiStore(root).save(SCAN, _image(_boxes()), _table(f"W{writer}"), reader="R1",
                            parent=1, saved_by=f"W{writer}")
        return "saved"
    except RoiConflictError:
        return "conflict"


def test_simultaneous_edits_of_one_version_keep_exactly_one(tmp_path):
    RoiStore(tmp_path).save(SCAN, _image(_boxes()), _table(), reader="R1")
    with mp.get_context("spawn").Pool(4) as pool:
        got = pool.map(_save_from_parent, [(str(tmp_path), w) for w in range(8)])
    assert got.count("saved") == 1 and got.count("conflict") == 7
    assert [v.version for v in RoiStore(tmp_path).versions(SCAN)] == [1, 2]


def test_stale_staging_folders_are_cleaned(tmp_path):
    store = RoiStore(tmp_path)
    store.save(SCAN, _image(_boxes()), _table(), reader="R1")
    old = tmp_path / SCAN / "R1" / ".staging-host-1-old"
    old.mkdir()
    fresh = tmp_path / SCAN / "R1" / ".staging-host-2-new"
    fresh.mkdir()
    os.utime(old, (0, 0))
    store.save(SCAN, _image(_boxes()), _table(), reader="R1")
    assert not old.exists() and fresh.exists()     # a save in progress elsewhere is kept


def test_demo_rois_are_in_the_store(demo_study):
    store = RoiStore(demo_study / "rois")
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert store.scans() == sorted(scans["scan_id"])
    rois = store.load(scans["scan_id"].iloc[0])
    assert rois.version.version == 1 and rois.version.reader == "R1"
    assert rois.table["roi"].tolist()[:2] == ["liver", "spleen"]
    assert (rois.table["method"] == "sphere").all()
    lesions = pd.read_csv(demo_study / "truth" / "lesions.csv")
    pid = scans["patient_id"].iloc[0]
    assert sorted(rois.table.loc[rois.table["roi"] == "lesion", "lesion_id"]) == sorted(
        lesions.loc[lesions["patient_id"] == pid, "lesion_id"])
    assert Path(rois.version.path).name == "v000001"


def test_cli_history_restore_and_dicom_seg_round_trip(demo_study, tmp_path, capsys):
    import shutil

    from nethelpers.cli import main

    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    params = tmp_path / "p.yaml"
    params.write_text(f"study:\n  name: t\n  data_root: {demo_study}\n"
                      f"  rois: {tmp_path / 'rois'}\n")
    scan = pd.read_csv(demo_study / "clinical" / "scans.csv")["scan_id"].iloc[0]
    f = ["-f", str(params)]
    assert main(["rois", "export-seg", scan, *f, "-o", str(tmp_path / "seg") + "/"]) == 0
    seg = next((tmp_path / "seg").glob("*.dcm"))
    assert main(["rois", "import-seg", scan, str(seg), "--reader", "R1", "--by", "AB", *f]) == 0
    store = RoiStore(tmp_path / "rois")
    v1, v2 = store.load(scan, 1), store.load(scan, 2)
    np.testing.assert_array_equal(v1.array, v2.array)
    pd.testing.assert_frame_equal(v1.table, v2.table)
    assert (v2.version.reader, v2.version.saved_by) == ("R1", "AB")
    assert v2.version.note == f"imported from SEG {seg.name}"
    assert main(["rois", "restore", scan, "1", "--reader", "R1", "--by", "CD", *f]) == 0
    capsys.readouterr()
    assert main(["rois", "history", scan, *f]) == 0
    out = capsys.readouterr().out
    assert "restored v1" in out and "AB" in out and "CD" in out
    assert main(["rois", "restore", scan, "9", "--reader", "R1", *f]) == 2
    assert "no version 9" in capsys.readouterr().err


def test_reads_are_saved_validated_and_restored_with_the_version(tmp_path):
    from nethelpers.rois import READ_COLUMNS, validate_reads

    store = RoiStore(tmp_path)
    reads = pd.DataFrame({"lesion_id": ["P001-L01"], "site": ["liver"], "call": ["positive"],
                          "krenning": [3.0], "confidence": [4], "note": [None]})
    store.save(SCAN, _image(_boxes()), _table(), reader="R1", reads=reads)
    back = store.load(SCAN)
    assert list(back.reads.columns) == list(READ_COLUMNS)
    assert back.reads.iloc[0].tolist() == ["P001-L01", "liver", "positive", "3", "4", "",
                                           "", ""]                  # no long/short axis
    store.save(SCAN, _image(_boxes()), _table(), reader="R1")        # a save without reads
    assert store.load(SCAN).reads.empty
    store.restore(SCAN, 1, reader="R1", saved_by="R3")
    assert store.load(SCAN).reads["call"].tolist() == ["positive"]
    for change, message in (({"call": ["maybe"]}, "column call has ['maybe']"),
                            ({"krenning": [7]}, "column krenning has ['7']"),
                            ({"confidence": [0]}, "column confidence has ['0']"),
                            ({"lesion_id": [""]}, "needs its lesion_id")):
        with pytest.raises(RoiStoreError, match=re.escape(message)):
            validate_reads(reads.assign(**change))
    with pytest.raises(RoiStoreError, match="more than one read"):
        validate_reads(pd.concat([reads, reads]))
    # a changed reads file fails its checksum like the others
    path = tmp_path / SCAN / "R1" / "v000001" / "reads.csv"
    path.write_text(path.read_text().replace("positive", "negative"))
    with pytest.raises(RoiStoreError, match="checksum mismatch"):
        store.load(SCAN, 1)
