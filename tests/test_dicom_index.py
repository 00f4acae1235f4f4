"""The DICOM tree index: series table against the demo's own records, cache, QC, tracers."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pandas as pd
import pydicom
import pytest

from nethelpers.demo import dicomwrite as dw
from nethelpers.dicom import index_tree, summarise_index, write_index
from nethelpers.dicom.suvqc import COUNTS_NOTE
from nethelpers.dicom.tracers import radionuclide_name, tracer_name
from tests.test_dicomwrite import CT, GRID, MR, PATIENT, STUDY, activity, hounsfield, pet_series


@pytest.fixture(scope="module")
def demo_index(demo_study, tmp_path_factory):
    cache = tmp_path_factory.mktemp("index") / "index.cache"
    return index_tree(demo_study / "dicom", cache=cache, workers=2), cache


def test_demo_index_matches_the_generator_records(demo_study, demo_index):
    series, _ = demo_index
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    assert len(series) == 2 * len(scans)
    counts_spect = (series["qc"] == "warn") & (series["qc_reasons"] == COUNTS_NOTE)
    assert ((series["qc"] == "ok") | counts_spect).all(), series.loc[
        series["qc"] != "ok", "qc_reasons"].tolist()
    pet = series[series["modality"].isin(["PT", "NM"])].set_index("series_uid")
    for _, scan in scans.iterrows():
        row = pet.loc[scan["pet_series_uid"]]
        assert row["tracer"] == scan["tracer"]
        assert row["system"] == scan["modality"]  # PET/CT, PET/MR or SPECT/CT
        assert row["companion_series_uid"] == scan["anat_series_uid"]
        assert row["radionuclide"] == {"DOTATATE": "68Ga", "FDG": "18F",
                                       "HYNIC-TOC": "99mTc"}[scan["tracer"]]
        assert row["study_uid"] == scan["study_uid"]
        assert row["directory"] == scan["pet_dir"].removeprefix("dicom/")
        if row["modality"] == "NM":  # one multi-frame file (see tests/test_spect_dicom.py)
            assert row["n_files"] == 1 and row["n_slices"] == row["expected_slices"] > 1
            continue
        n_files = len(list((demo_study / scan["pet_dir"]).glob("*.dcm")))
        assert row["n_files"] == row["n_slices"] == row["expected_slices"] == n_files
        # files sorted along the slice normal (axial: ascending z)
        z = [float(pydicom.dcmread(demo_study / "dicom" / f, stop_before_pixels=True)
                   .ImagePositionPatient[2]) for f in (row["files"][0], row["files"][-1])]
        assert z[0] < z[1]
        assert row["extent_z_mm"] == pytest.approx(z[1] - z[0])
    anat = series[series["modality"].isin(["CT", "MR"])]
    assert set(anat["modality"]) == {"CT", "MR"}
    assert (anat["system"].str.startswith("PET/") | (anat["system"] == "SPECT/CT")).all()
    assert series.attrs["stats"]["read"] == series.attrs["stats"]["files"]


def test_second_run_reads_nothing_and_a_changed_file_is_reread(demo_study, demo_index,
                                                                tmp_path):
    first, cache = demo_index
    tree = tmp_path / "tree"
    shutil.copytree(demo_study / "dicom" / "P001", tree / "P001")
    local_cache = tmp_path / "c.cache"
    cold = index_tree(tree, cache=local_cache, workers=1)
    assert cold.attrs["stats"]["read"] == cold.attrs["stats"]["files"] > 0
    warm = index_tree(tree, cache=local_cache, workers=1)
    assert warm.attrs["stats"]["read"] == 0
    pd.testing.assert_frame_equal(cold, warm)
    victim = tree / cold[cold["modality"] == "PT"]["files"].iloc[0][0]
    ds = pydicom.dcmread(victim)
    ds.SeriesDescription = "edited"
    ds.save_as(victim)
    again = index_tree(tree, cache=local_cache, workers=1)
    assert again.attrs["stats"]["read"] == 1
    assert again.attrs["stats"]["cached"] == again.attrs["stats"]["files"] - 1
    victim.unlink()
    after_delete = index_tree(tree, cache=local_cache, workers=1)
    assert after_delete.attrs["stats"]["read"] == 0
    pet = after_delete[after_delete["series_uid"] == cold[cold["modality"] == "PT"]
                       ["series_uid"].iloc[0]].iloc[0]
    assert pet["qc"] == "fail" and "missing slices" in pet["qc_reasons"]


def test_a_corrupt_cache_is_rebuilt(tmp_path):
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"],
                       CT, tmp_path / "tree" / "ct")
    cache = tmp_path / "c.cache"
    cache.write_bytes(b"not a pickle")
    series = index_tree(tmp_path / "tree", cache=cache)
    assert series.attrs["stats"]["read"] == GRID.shape[0]
    assert index_tree(tmp_path / "tree", cache=cache).attrs["stats"]["read"] == 0


def _qc_tree(root):
    """Series with one fault each."""
    scanner = dw.SCANNERS["siemens_vision"]
    nz = GRID.shape[0]
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, scanner, pet_series(),
                        root / "good_pet")
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, CT, root / "good_ct")
    # missing slice: one file deleted from the middle
    missing = dataclasses.replace(pet_series(), series_uid_seed="missing", series_number=10)
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, scanner, missing, root / "missing")
    (root / "missing" / f"{nz // 2:05d}.dcm").unlink()
    # unreadable file in a series folder
    unread = dataclasses.replace(CT, series_uid_seed="unreadable", series_number=11)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, unread,
                       root / "unreadable")
    (root / "unreadable" / "00003.dcm").write_bytes(b"\0" * 50)
    # duplicate instance: a file copied under another name
    dup = dataclasses.replace(CT, series_uid_seed="dup", series_number=12)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, dup, root / "dup")
    shutil.copy(root / "dup" / "00002.dcm", root / "dup" / "copy_of_2.dcm")
    # non-uniform spacing: one slice moved by 1 mm
    moved = dataclasses.replace(CT, series_uid_seed="moved", series_number=13)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, moved, root / "moved")
    path = root / "moved" / "00004.dcm"
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + 1.0
    ds.save_as(path)
    # two acquisitions in one series: same SeriesInstanceUID, new SOP UIDs, later time
    base = dataclasses.replace(CT, series_uid_seed="twice", series_number=14)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, base, root / "twice" / "a")
    again = dataclasses.replace(
        base, series_uid_seed="twice-b",
        acquisition_datetime=base.series_datetime + timedelta(minutes=5),
        extra={"SeriesInstanceUID": base.series_uid, "AcquisitionNumber": 2},
    )
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, again,
                       root / "twice" / "b")
    # mixed size and orientation: a second grid under the same series UID
    other = dataclasses.replace(GRID, size=(10, 11, 12),
                                direction=(0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0))
    mix = dataclasses.replace(CT, series_uid_seed="mixed", series_number=15)
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, mix, root / "mixed" / "a")
    mix_b = dataclasses.replace(mix, series_uid_seed="mixed-b",
                                extra={"SeriesInstanceUID": mix.series_uid})
    dw.write_ct_series(hounsfield(other), other, PATIENT, STUDY, scanner, mix_b,
                       root / "mixed" / "b")
    # junk that is skipped or reported
    (root / "notes.txt").write_text("not DICOM")
    (root / "stray").mkdir()
    (root / "stray" / "blob.dcm").write_bytes(os.urandom(300))
    return {"missing": missing.series_uid, "unreadable": unread.series_uid,
            "dup": dup.series_uid, "moved": moved.series_uid, "twice": base.series_uid,
            "mixed": mix.series_uid}


def test_qc_reasons(tmp_path):
    uids = _qc_tree(tmp_path)
    series = index_tree(tmp_path, workers=1).set_index("series_uid", drop=False)
    reasons = series["qc_reasons"].to_dict()
    qc = series["qc"].to_dict()
    good = series[series["directory"].isin(["good_pet", "good_ct"])]
    assert (good["qc"] == "ok").all() and set(good["system"]) == {"PET/CT"}
    assert qc[uids["missing"]] == "fail"
    assert f"missing slices: {GRID.shape[0] - 1} of {GRID.shape[0]}" in reasons[uids["missing"]]
    assert "1 gap(s)" in reasons[uids["missing"]]
    assert qc[uids["unreadable"]] == "fail"
    assert "unreadable file: 00003.dcm" in reasons[uids["unreadable"]]
    assert qc[uids["dup"]] == "warn"
    assert "duplicate instances: 1 files repeat an SOPInstanceUID" in reasons[uids["dup"]]
    assert qc[uids["moved"]] == "fail" and "non-uniform spacing" in reasons[uids["moved"]]
    assert qc[uids["twice"]] == "fail"
    assert "several acquisitions in one series" in reasons[uids["twice"]]
    assert qc[uids["mixed"]] == "fail"
    assert "mixed size: columns [10, 14]" in reasons[uids["mixed"]]
    assert "mixed orientation" in reasons[uids["mixed"]]
    orphan = series[series["series_uid"] == ""]
    assert len(orphan) == 1 and orphan["directory"].iloc[0] == "stray"
    assert "not attributable" in orphan["qc_reasons"].iloc[0]
    text = summarise_index(index_tree(tmp_path, workers=1))
    assert "QC: ok 2, warn 1, fail 6" in text


def test_parallel_and_serial_reads_agree(tmp_path, monkeypatch):
    _qc_tree(tmp_path)
    serial = index_tree(tmp_path, workers=1)
    monkeypatch.setattr("nethelpers.dicom.index.SERIAL_BELOW", 0)  # use the process pool
    parallel = index_tree(tmp_path, workers=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_pet_without_companion_is_flagged(tmp_path):
    pet = pet_series()
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_mmr"], pet,
                        tmp_path / "pet")
    row = index_tree(tmp_path).iloc[0]
    assert row["system"] == "PET/MR"  # from the scanner model, no MR series present
    assert row["qc"] == "warn" and "no CT or MR series" in row["qc_reasons"]
    dw.write_mr_series(np.full(GRID.shape, 100.0), GRID, PATIENT, STUDY,
                       dw.SCANNERS["siemens_mmr"], MR, tmp_path / "mr")
    series = index_tree(tmp_path)
    assert (series["system"] == "PET/MR").all() and (series["qc"] == "ok").all()


def test_cli_writes_tables_and_summary(tmp_path):
    _qc_tree(tmp_path / "tree")
    out = tmp_path / "out" / "index.csv"
    cmd = [sys.executable, "-m", "nethelpers", "index", str(tmp_path / "tree"), "-o", str(out),
           "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "QC: ok 2, warn 1, fail 6" in done.stdout
    assert "0 from cache" in done.stdout
    table = pd.read_csv(out)
    listing = pd.read_csv(out.with_name("index-files.csv"))
    assert len(table) == 9 and "files" not in table.columns
    assert len(listing) == table["n_files"].sum()
    assert (tmp_path / "out" / "index.csv.cache").is_file()
    again = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert "(0 read, 121 from cache" in again.stdout
    strict = subprocess.run([*cmd, "--strict"], capture_output=True, text=True)
    assert strict.returncode == 1


def test_write_index_csv_and_parquet(tmp_path):
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"],
                       CT, tmp_path / "tree" / "ct")
    series = index_tree(tmp_path / "tree")
    written = write_index(series, tmp_path / "i.csv")
    assert [p.name for p in written] == ["i.csv", "i-files.csv"]
    files = pd.read_csv(written[1])
    assert files["slice_order"].tolist() == list(range(GRID.shape[0]))
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="parquet needs pyarrow"):
            write_index(series, tmp_path / "i.parquet")
    else:
        write_index(series, tmp_path / "i.parquet")
        assert len(pd.read_parquet(tmp_path / "i.parquet")) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("724025002", "Dotatate Ga^68^", None, None), "DOTATATE"),
        ((None, None, "Ga68-DOTATATE", None), "DOTATATE"),
        ((None, None, "68Ga-DOTA-TATE", None), "DOTATATE"),
        ((None, None, "NETSPOT", None), "DOTATATE"),
        ((None, None, "Ga-68 DOTATOC", None), "DOTATOC"),
        ((None, None, "Ga68 DOTANOC", None), "DOTANOC"),
        (("35321007", None, None, None), "FDG"),
        ((None, "Fluorodeoxyglucose F^18^", None, None), "FDG"),
        ((None, None, "Fludeoxyglucose", None), "FDG"),
        ((None, None, "F-18 FDG", None), "FDG"),
        ((None, None, "Tc99m-HYNIC-TOC", None), "HYNIC-TOC"),
        ((None, None, "18F-DOPA", None), "FDOPA"),
        ((None, None, None, "PET WB FDG AC"), "FDG"),
        ((None, None, "Florbetapir", None), "other: Florbetapir"),
        ((None, None, None, None), ""),
    ],
)
def test_tracer_names(args, expected):
    assert tracer_name(*args) == expected


def test_radionuclide_names():
    assert radionuclide_name("^68^Gallium") == "68Ga"
    assert radionuclide_name(None, "Ga68-DOTATATE") == "68Ga"
    assert radionuclide_name(None, "F-18 FDG") == "18F"
    assert radionuclide_name(None, "Tc99m-HYNIC-TOC") == "99mTc"
    assert radionuclide_name(None, None, 6586.2) == "18F"
    assert radionuclide_name(None, None, 4062.6) == "68Ga"
    assert radionuclide_name(None, None, 1000.0) == ""
    # 67Ga (3.2617 d, NNDC) lies within 1 % of 89Zr (78.41 h): an NM object is single-photon
    assert radionuclide_name(None, None, 281_810.0) == "89Zr"
    assert radionuclide_name(None, None, 281_810.0, single_photon=True) == "67Ga"
    assert radionuclide_name("^123^Iodine") == "123I" and radionuclide_name("^67^Gallium") == "67Ga"
