"""The PHI test (issue 15): identifiers planted everywhere never reach a report artefact.

A copy of the 3-patient ``ideal_study`` gets identifying folder names, every attribute of
the DICOM confidentiality profile filled with a recognisable value, and three failing scans
(:mod:`nethelpers.demo.variants.phi`); the full report runs on it once, and every file of
the report and of the quantification output is scanned (:mod:`tests.phiscan`). A control
proves the scan is live on the real artefacts. The planting itself is checked first on tiny
files with plain pydicom, and on the planted study against the original's numbers.
"""

from __future__ import annotations

import collections
import json
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filereader import data_element_generator
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from nethelpers.demo.variants.phi import FAILURES, plant_identifiers
from nethelpers.demo.variants.phi_headers import (
    PRIVATE_CREATOR,
    PRIVATE_GROUP,
    Identity,
    header_values,
    plant_headers,
)
from tests.conftest import write_demo_params
from tests.dicom_arith import read_suv_volume
from tests.phiscan import ABSOLUTE_PATH_PATTERNS, Leak, scan_artefacts

WHO = Identity("P001", 1, "Pospisil", "Petra", "MRN8151528", date(1961, 3, 17))


# --------------------------------------------------------------------------------------------
# planting headers, checked with plain pydicom on tiny files
# --------------------------------------------------------------------------------------------


def _tiny_pet(path: Path, syntax: str) -> Path:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.Units, ds.PatientSex, ds.PatientWeight = "PT", "BQML", "F", "61.5"
    ds.PatientName, ds.PatientID = "Original^Name", "ORIGINAL1"
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = "20250109"
    ds.SeriesTime, ds.TimezoneOffsetFromUTC = "114057", "+0100"
    item = Dataset()
    item.RadionuclideTotalDose = "160980000"
    item.RadiopharmaceuticalStartDateTime = "20250109103000"
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])  # undefined length
    ds.add_new(0x00091001, "LO", "GE private 1")
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = np.arange(16, dtype="<i2").tobytes()
    ds.save_as(path, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=True,
               enforce_file_format=True)
    return path


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_plant_headers_fills_the_profile_and_keeps_everything_else(tmp_path, syntax):
    path = _tiny_pet(tmp_path / "a.dcm", syntax)
    before = pydicom.dcmread(path)
    template, kept = plant_headers([path], WHO)
    after = pydicom.dcmread(path)   # plain pydicom: a valid Part 10 file
    assert kept == {0x00080020: {"20250109"}, 0x00080021: {"20250109"},
                    0x00080022: {"20250109"}}
    planted = header_values(WHO)
    assert len(planted) > 300
    for tag, (_, value) in planted.items():
        if tag not in kept:
            assert str(after[tag].value) == value, after[tag]
    assert after.PatientName == "Pospisil^Petra" and after.PatientID == "MRN8151528"
    assert after.PatientBirthDate == "19610317"
    assert after.InstitutionName == "PHI00080080P1"
    assert after.OtherPatientIDsSequence[0].PatientID == "PHI00101002Q1"
    value = after.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)[0x01].value
    value = value.decode() if isinstance(value, bytes) else value   # UN when implicit VR
    assert value == "PHIPRIVATEMRN8151528"
    for elem in before:   # everything outside the profile, pixel data included, as it was
        if elem.tag not in planted:
            assert after[elem.tag] == elem, elem.keyword
    assert after.StudyDate == "20250109" and after.TimezoneOffsetFromUTC == "+0100"
    assert after.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime \
        == "20250109103000"
    assert np.array_equal(after.pixel_array, before.pixel_array)
    assert after.file_meta.TransferSyntaxUID == syntax


def test_dates_kept_by_every_file_are_returned(tmp_path):
    first = _tiny_pet(tmp_path / "a.dcm", ExplicitVRLittleEndian)
    second = _tiny_pet(tmp_path / "b.dcm", ExplicitVRLittleEndian)
    ds = pydicom.dcmread(second)
    ds.StudyDate = "20250203"
    ds.save_as(second)
    _, kept = plant_headers([first, second], WHO)
    assert kept[0x00080020] == {"20250109", "20250203"}
    assert pydicom.dcmread(second).StudyDate == "20250203"


def test_spliced_elements_are_in_tag_order(tmp_path):
    path = _tiny_pet(tmp_path / "a.dcm", ExplicitVRLittleEndian)
    plant_headers([path], WHO)
    with path.open("rb") as fp:
        pydicom.filereader.read_preamble(fp, False)
        pydicom.filereader._read_file_meta_info(fp)   # noqa: SLF001 - to reach the data set
        tags = [int(e.tag) for e in data_element_generator(fp, False, True)]
    assert tags == sorted(tags) and len(tags) == len(set(tags))
    assert 0x7FE00010 == tags[-1]


# --------------------------------------------------------------------------------------------
# the planted study and its report (run once: about a minute and a half)
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(ideal_study, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("phi")
    return plant_identifiers(ideal_study, tmp / "study")


@pytest.fixture(scope="module")
def planted_report(planted, tmp_path_factory) -> dict:
    from nethelpers.report import ReportError, run_report

    tmp = tmp_path_factory.mktemp("phi_report")
    params = write_demo_params(tmp / "p.yaml", planted.root, tmp / "report", tmp / "quantify")
    try:
        run_report(params, progress=False)
        error = None
    except ReportError as exc:   # the artefacts written so far are scanned all the same
        error = str(exc)
    return {"report": tmp / "report", "quantify": tmp / "quantify", "params": params,
            "error": error, "tmp": tmp}


@pytest.mark.slow
def test_planted_study_carries_identifiers_everywhere(planted, ideal_study):
    dicom = planted.root / "dicom"
    patients = sorted(p.name for p in dicom.iterdir())
    assert patients == sorted(w.folder for w in planted.identities.values())
    scans = pd.read_csv(planted.root / "clinical" / "scans.csv", keep_default_na=False)
    original = pd.read_csv(ideal_study / "clinical" / "scans.csv", keep_default_na=False)
    assert list(scans["scan_id"]) == list(original["scan_id"])
    for day in original["scan_date"]:   # every scan date is a needle, in every spelling
        assert {day, day.replace("-", ""), f"{day[8:]}.{day[5:7]}.{day[:4]}"} <= set(
            planted.needles)
    assert set(planted.failures) == {"P002-FDG-PETCT", "P003-DOTATATE-PETMR",
                                     "P002-DOTATATE-PETCT"}
    assert sorted(planted.failures.values()) == sorted(f[3] for f in FAILURES.values())
    for row in scans.itertuples():
        pet = planted.root / row.pet_dir
        assert pet.is_dir() == (row.scan_id != "P002-DOTATATE-PETCT"), row.scan_id
        who = planted.identities[row.patient_id]
        assert pet.parent.parent.name == who.folder
        assert who.surname in pet.name and who.surname in pet.parent.name
    # every file carries the planted header (plain pydicom on one file of each series)
    for series in sorted({p.parent for p in dicom.rglob("*.dcm")}):
        ds = pydicom.dcmread(next(series.glob("*.dcm")), stop_before_pixels=True)
        who = next(w for w in planted.identities.values() if w.folder in series.parts)
        assert (str(ds.PatientName), ds.PatientID) == (f"{who.surname}^{who.given}", who.mrn)
        assert ds.PatientBirthDate == who.birth_date.strftime("%Y%m%d")
        assert ds.StudyDescription == planted.headers[who.patient_id]["StudyDescription"]
    assert sum(1 for _ in dicom.rglob("*.dcm")) == \
        sum(1 for _ in (ideal_study / "dicom").rglob("*.dcm")) - 1   # the missing slice


@pytest.mark.slow
def test_planted_pet_gives_the_same_suv(planted, ideal_study):
    """Independent SUV reader (plain pydicom + numpy): planting changes no number."""
    scans = pd.read_csv(planted.root / "clinical" / "scans.csv", keep_default_na=False)
    original = pd.read_csv(ideal_study / "clinical" / "scans.csv", keep_default_na=False)
    for scan_id in ("P001-DOTATATE-PETCT", "P003-FDG-PETCT"):
        new = scans.loc[scans["scan_id"] == scan_id, "pet_dir"].item()
        old = original.loc[original["scan_id"] == scan_id, "pet_dir"].item()
        suv_new, z_new = read_suv_volume(planted.root / new)
        suv_old, z_old = read_suv_volume(ideal_study / old)
        assert z_new == z_old
        assert np.array_equal(suv_new, suv_old)
        assert suv_old.max() > 1.0


@pytest.mark.slow
def test_report_runs_fully_on_the_planted_study(planted_report, planted):
    assert planted_report["error"] is None
    provenance = json.loads((planted_report["report"] / "provenance.json").read_text())
    assert provenance["status"] == "ok"
    qc = pd.read_csv(planted_report["quantify"] / "qc.csv", keep_default_na=False)
    status = dict(zip(qc["scan_id"], qc["status"], strict=True))
    assert {s for s, v in status.items() if v == "failed"} == set(planted.failures)
    assert {s for s, v in status.items() if v == "ok"} == {
        "P001-DOTATATE-PETCT", "P001-DOTATATE-PETMR", "P001-FDG-PETCT", "P003-DOTATATE-PETCT",
        "P003-FDG-PETCT", "P003-DOTATATE-PETCT-FU1", "P003-DOTATATE-PETMR-FU1"}


@pytest.mark.slow
def test_planted_study_measures_what_the_original_does(planted_report, ideal_study, tmp_path):
    """The measurements of the scans that did not fail equal the original study's."""
    from nethelpers.config import load_params
    from nethelpers.quantify import quantify_scan, scan_jobs

    params = load_params(write_demo_params(tmp_path / "p.yaml", ideal_study, tmp_path / "r",
                                           tmp_path / "q"))
    got = pd.read_csv(planted_report["quantify"] / "measurements.csv")
    checked = 0
    for job in scan_jobs(params):
        mine = got[got["scan_id"] == job.scan_id].reset_index(drop=True)
        if mine.empty:
            continue
        rows = quantify_scan(job).rows.reset_index(drop=True)
        for column in ("suv_max", "suv_mean", "suv_peak", "volume_ml", "sul_max"):
            np.testing.assert_allclose(mine[column], rows[column].astype(float), rtol=1e-9,
                                       err_msg=f"{job.scan_id} {column}")
        checked += 1
    assert checked == 7                     # the 5 baseline scans and P003's 2 follow-ups


def _kind(needle: str, planted) -> str:
    if needle in planted.kinds:
        return planted.kinds[needle]
    if needle in planted.absolute_paths:
        return "absolute path (of the study)"
    return "absolute path (pattern)"


def _scan_everything(planted, report: dict) -> list[Leak]:
    needles = [*planted.needles, *planted.absolute_paths]
    leaks = []
    for name in ("report", "quantify"):
        for leak in scan_artefacts(report[name], needles, ABSOLUTE_PATH_PATTERNS):
            leaks.append(Leak(f"{name}/{leak.file}", leak.where, leak.needle, leak.form,
                              leak.context, leak.count))
    return leaks


def _work_list(leaks: list[Leak], planted) -> str:
    groups: dict[str, list[Leak]] = collections.defaultdict(list)
    for leak in leaks:
        groups[_kind(leak.needle, planted)].append(leak)
    lines = [f"{len(leaks)} leak(s) of planted identifiers in the report artefacts:"]
    for kind in sorted(groups):
        lines.append(f"== {kind} ({len(groups[kind])})")
        lines += [f"   {leak}" for leak in groups[kind]]
    return "\n".join(lines)


@pytest.mark.slow
def test_the_scan_is_live_on_real_artefacts(planted_report, planted, tmp_path):
    """Control: a needle appended to copies of real artefacts is found in each."""
    report = planted_report["report"]
    folder = tmp_path / "control"
    folder.mkdir()
    picks = {"nb.ipynb": next((report / "notebooks").glob("03_*.ipynb")),
             "page.html": report / "03_quantification.html",
             "qc.csv": planted_report["quantify"] / "qc.csv",
             "figure.svg": next((report / "figures").glob("*.svg"))}
    for name, source in picks.items():
        shutil.copy(source, folder / name)
    clean = {(k.file, k.needle) for k in scan_artefacts(folder, planted.needles, [])}
    who = planted.identities["P001"]
    notebook = json.loads((folder / "nb.ipynb").read_text())
    notebook["cells"][-1].setdefault("outputs", []).append(
        {"output_type": "stream", "name": "stdout", "text": [f"{who.folder}\n"]})
    (folder / "nb.ipynb").write_text(json.dumps(notebook))
    with (folder / "page.html").open("a") as fh:
        fh.write(f"<p>{who.surname}^{who.given}</p>")
    with (folder / "qc.csv").open("a") as fh:
        fh.write(f"P001-FDG-PETCT,P001,FDG,PET/CT,failed,{who.mrn}\n")
    svg = (folder / "figure.svg").read_text()
    (folder / "figure.svg").write_text(svg.replace("</svg>", f"<!-- {who.birth_date:%d.%m.%Y} -->"
                                                              "</svg>"))
    found = {(k.file, k.needle) for k in scan_artefacts(folder, planted.needles, [])} - clean
    assert found == {("nb.ipynb", who.folder), ("page.html", f"{who.surname}^{who.given}"),
                     ("qc.csv", who.mrn), ("figure.svg", f"{who.birth_date:%d.%m.%Y}")}


@pytest.mark.slow
def test_no_identifier_reaches_the_report(planted_report, planted):
    """Issue 15: no planted name, ID, header value, folder name, date or path in any artefact."""
    leaks = _scan_everything(planted, planted_report)
    assert not leaks, _work_list(leaks, planted)
