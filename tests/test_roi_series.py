"""Saved ROIs carry the PET series they were drawn on; measuring them on another PET fails.

The scenario: the scans table is rebuilt (pseudonyms renumbered, ``pet_dir`` edited) and a
``scan_id`` now points at another PET series. Without the check its ROIs were measured on
that PET with status "ok" (resampled when the grid differs, untouched when it is the same).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk

from nethelpers.cli import main
from nethelpers.config import params_from_dict
from nethelpers.quantify import quantify_cohort, quantify_scan, scan_jobs
from nethelpers.rois import RoiStore, RoiVersion, table_from_rows
from nethelpers.roiseries import (
    NO_SERIES_WARNING,
    RoiSeriesError,
    check_roi_series,
    series_uid_of,
)

HOME = "P001-DOTATATE-PETCT"
FIX = "correct pet_dir/pet_series_uid, or re-draw/re-import the ROIs"


def _header_uid(study: Path, scan_id: str) -> str:
    """SeriesInstanceUID of a scan's PET, read with plain pydicom (independent of nethelpers)."""
    scans = pd.read_csv(study / "clinical" / "scans.csv").set_index("scan_id")
    first = sorted((study / scans.loc[scan_id, "pet_dir"]).glob("*.dcm"))[0]
    return str(pydicom.dcmread(first, stop_before_pixels=True).SeriesInstanceUID)


def _drop_series_key(store: Path, scan_id: str, version: int = 1, reader: str = "R1") -> None:
    """Make a version (of the demo reader R1's set) look like one saved before series UIDs
    were recorded."""
    path = store / scan_id / reader / f"v{version:06d}" / "meta.json"
    meta = json.loads(path.read_text())
    del meta["series_uid"]
    path.write_text(json.dumps(meta, indent=1))


@pytest.fixture()
def params(ideal_study, tmp_path):
    """The ideal study with a copy of its ROI store (the fixture is never modified)."""
    shutil.copytree(ideal_study / "rois", tmp_path / "rois")
    return params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                       "rois": str(tmp_path / "rois")},
                             "quantify": {"output": str(tmp_path / "q")}})


def _jobs(params) -> dict:
    return {j.scan_id: j for j in scan_jobs(params)}


def test_demo_store_records_each_scans_pet_series(ideal_study):
    store = RoiStore(ideal_study / "rois")
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv")
    uids = {}
    for scan_id in scans["scan_id"]:
        uids[scan_id] = _header_uid(ideal_study, scan_id)
        assert store.latest(scan_id).series_uid == uids[scan_id]
        meta = json.loads((store.latest(scan_id).path / "meta.json").read_text())
        assert meta["series_uid"] == uids[scan_id]
    assert len(set(uids.values())) == len(scans)          # one series per scan: checkable


@pytest.mark.parametrize("other", ["P001-FDG-PETCT", "P002-DOTATATE-PETCT"],
                         ids=["same-patient", "other-patient"])
def test_rois_measured_on_another_pet_series_fail_naming_both(params, ideal_study, other):
    jobs = _jobs(params)
    moved = dataclasses.replace(jobs[HOME], pet=jobs[other].pet,
                                series_uid=jobs[other].series_uid)
    out = quantify_scan(moved)
    assert out.qc["status"] == "failed" and out.rows.empty
    reason = out.qc["reason"]
    assert reason.startswith(f"RoiSeriesError: scan {HOME}: ROI version v1 was drawn on PET "
                             f"series {_header_uid(ideal_study, HOME)}, but the PET loaded "
                             f"for this scan is series {_header_uid(ideal_study, other)}.")
    assert FIX in reason
    # the same store without the UID (as saved before): measured on the wrong PET, "ok"
    _drop_series_key(Path(params.study.rois), HOME)
    unchecked = quantify_scan(moved)
    assert unchecked.qc["status"] == "ok" and len(unchecked.rows) > 0
    assert NO_SERIES_WARNING in unchecked.qc["warnings"]


def test_a_rebuilt_scans_table_fails_the_swapped_scans_only(params, ideal_study, tmp_path):
    """Two scans' PET folders swapped in the scans table (as a rebuild that renumbers
    patients does): both fail with the reason, every other scan is measured."""
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv", keep_default_na=False,
                        dtype=str)
    a = scans.index[scans.scan_id == HOME][0]
    b = scans.index[scans.scan_id == "P002-DOTATATE-PETCT"][0]
    cols = ["pet_dir", "pet_series_uid"]
    scans.loc[[a, b], cols] = scans.loc[[b, a], cols].to_numpy()
    scans.to_csv(tmp_path / "scans.csv", index=False)
    p = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                    "rois": params.study.rois,
                                    "tables": {"scans": str(tmp_path / "scans.csv")}},
                          "quantify": {"output": str(tmp_path / "q")}})
    qc = quantify_cohort(p, scheduler="sync", progress=False).qc.set_index("scan_id")
    for scan_id in (HOME, "P002-DOTATATE-PETCT"):
        assert qc.loc[scan_id, "status"] == "failed"
        assert "RoiSeriesError" in qc.loc[scan_id, "reason"] and FIX in qc.loc[scan_id, "reason"]
    rest = qc.drop(index=[HOME, "P002-DOTATATE-PETCT"])
    assert len(rest) == len(scans) - 2 and (rest["status"] == "ok").all()


def test_same_series_is_ok_and_an_old_version_warns_with_the_same_numbers(params):
    job = _jobs(params)[HOME]
    checked = quantify_scan(job)
    assert checked.qc["status"] == "ok"
    assert NO_SERIES_WARNING not in checked.qc["warnings"]
    _drop_series_key(Path(params.study.rois), HOME)
    assert RoiStore(params.study.rois).latest(HOME).series_uid is None
    old = quantify_scan(job)
    assert old.qc["status"] == "ok"
    assert NO_SERIES_WARNING in old.qc["warnings"].split("; ")
    pd.testing.assert_frame_equal(old.rows, checked.rows)


def test_restore_keeps_the_series_of_the_version_restored(tmp_path):
    arr = np.zeros((4, 5, 6), dtype=np.uint16)
    arr[1:3, 1:3, 1:3] = 1
    image = sitk.GetImageFromArray(arr)
    table = table_from_rows([{"label": 1, "roi": "liver", "method": "sphere", "reader": "R1"}])
    store = RoiStore(tmp_path)
    assert store.save(HOME, image, table, reader="R1", series_uid="1.2.3").series_uid == "1.2.3"
    store.save(HOME, image, table, reader="R1", series_uid="4.5.6")
    store.save(HOME, image, table, reader="R1")                     # no UID given
    assert [v.series_uid for v in store.versions(HOME)] == ["1.2.3", "4.5.6", None]
    restored = store.restore(HOME, 1, reader="R1", saved_by="R2")
    assert restored.series_uid == "1.2.3" and restored.restored_from == 1
    assert json.loads((restored.path / "meta.json").read_text())["series_uid"] == "1.2.3"
    assert store.restore(HOME, 3, reader="R1", saved_by="R2").series_uid is None
    _drop_series_key(tmp_path, HOME, 2)                              # an old-format version
    assert store.load(HOME, 2).version.series_uid is None
    assert store.restore(HOME, 2, reader="R1", saved_by="R2").series_uid is None


def test_cli_import_and_restore_record_the_pet_series(params, ideal_study, tmp_path, capsys):
    yaml_file = tmp_path / "p.yaml"
    yaml_file.write_text(f"study:\n  name: t\n  data_root: {ideal_study}\n"
                         f"  rois: {params.study.rois}\n")
    f = ["-f", str(yaml_file)]
    uid = _header_uid(ideal_study, HOME)
    assert main(["rois", "export-seg", HOME, *f, "-o", str(tmp_path / "seg") + "/"]) == 0
    seg = next((tmp_path / "seg").glob("*.dcm"))
    _drop_series_key(Path(params.study.rois), HOME)                 # v1: saved before
    assert main(["rois", "import-seg", HOME, str(seg), "--reader", "R1", "--by", "AB", *f]) == 0
    store = RoiStore(params.study.rois)
    assert store.latest(HOME).version == 2 and store.latest(HOME).series_uid == uid
    assert main(["rois", "restore", HOME, "2", "--reader", "R1", "--by", "CD", *f]) == 0
    assert store.latest(HOME).version == 3 and store.latest(HOME).series_uid == uid
    assert main(["rois", "restore", HOME, "1", "--reader", "R1", "--by", "CD", *f]) == 0
    assert store.latest(HOME).series_uid is None
    capsys.readouterr()


def test_review_session_saves_the_loaded_pets_series(params, ideal_study):
    from nethelpers.review import ReviewSession

    s = ReviewSession(params, "P001", "R1", scan_id=HOME)          # the demo's reader
    uid = _header_uid(ideal_study, HOME)
    assert s.images.series_uid == uid and not s.warnings
    lesion = s.table.loc[s.table.roi == "lesion", "lesion_id"].iloc[0]
    s.delete(lesion_id=lesion)
    version = s.save("deleted one")
    assert version.version == 2 and version.series_uid == uid
    assert RoiStore(params.study.rois).latest(HOME).series_uid == uid


def test_review_session_does_not_show_rois_of_another_series(params, ideal_study):
    """Opened on a PET its ROIs were not drawn on, a scan starts empty (with a warning), so
    a save cannot relabel another PET's ROIs as drawn on this one."""
    from nethelpers.review import ReviewSession

    path = Path(params.study.rois) / HOME / "R1" / "v000001" / "meta.json"
    meta = json.loads(path.read_text())
    meta["series_uid"] = _header_uid(ideal_study, "P002-DOTATATE-PETCT")
    path.write_text(json.dumps(meta))
    s = ReviewSession(params, "P001", "R1", scan_id=HOME)
    assert int(s.labels.max()) == 0 and s.table.empty and s.reads.empty
    assert s.version.version == 1 and not s.dirty
    assert len(s.warnings) == 1 and "RoiSeriesError" not in s.warnings[0]
    # the session's warnings pass the study's pseudonymiser: UIDs shown as <uid>, as in the
    # report (the scan and the version name the series well enough to fix it)
    assert s.warnings[0].startswith(f"scan {HOME}: ROI version v1 was drawn on PET series "
                                    "<uid>, but the PET loaded for this scan is series <uid>")
    assert meta["series_uid"] not in s.warnings[0] and FIX in s.warnings[0]
    assert s.save() is None                                     # nothing to save


def test_gallery_refuses_rois_of_another_series_with_a_shown_reason(params, ideal_study):
    from nethelpers.plots.gallery import failure_reason, scan_figures, study_gallery

    jobs = _jobs(params)
    other = "P001-FDG-PETCT"
    moved = dataclasses.replace(jobs[HOME], pet=jobs[other].pet,
                                series_uid=jobs[other].series_uid)
    store = RoiStore(params.study.rois)
    with pytest.raises(RoiSeriesError) as info:
        scan_figures(moved, store)
    reason = failure_reason(info.value)
    assert reason.startswith(f"RoiSeriesError: scan {HOME}: ROI version v1")
    assert _header_uid(ideal_study, other) in reason
    skipped: dict[str, str] = {}
    names = [n for n, _ in study_gallery(params, jobs=[moved], progress=False,
                                         skipped=skipped)]
    # the report shows it pseudonymised: the series UIDs (identifiers) hidden, the rest kept
    shown = reason.replace(_header_uid(ideal_study, other), "<uid>")
    assert names == [] and list(skipped) == [HOME]
    assert skipped[HOME].startswith(f"RoiSeriesError: scan {HOME}: ROI version v1 was drawn on "
                                    "PET series <uid>, but")
    assert "<uid>" in shown and skipped[HOME].split(", but")[1] == shown.split(", but")[1]


def test_check_roi_series_unit():
    v = RoiVersion(HOME, 4, "R1", "", "", None, None, Path("."), series_uid="1.2.3")
    assert check_roi_series(None, "9.9") == ""
    assert check_roi_series(v, "1.2.3") == ""
    assert check_roi_series(dataclasses.replace(v, series_uid=None), "1.2.3") == \
        NO_SERIES_WARNING
    with pytest.raises(RoiSeriesError, match=r"v4 was drawn on PET series 1\.2\.3, but the PET "
                       r"loaded for this scan is series \(no SeriesInstanceUID"):
        check_roi_series(v, None)
    assert series_uid_of([]) is None
