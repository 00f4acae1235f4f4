"""Index QC fails what SUV would refuse, with its words, and files whose pixel data are cut.

Each series of a small tree carries one real-world fault (written by the demo writer's
options or by :mod:`nethelpers.demo.variants.damaged`). The truth is what
:func:`nethelpers.dicom.load_pet` does with the same folder — refuse (the index must say
``fail`` with the same element, problem and fix) or convert (the index must not fail) — and,
for truncated files, plain pydicom reading fewer Pixel Data bytes than Rows × Columns ×
BitsAllocated / 8.
"""

from __future__ import annotations

import re
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import RLELossless

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.variants.damaged import (
    write_injection_off,
    write_truncated,
    write_without_weight,
)
from nethelpers.demo.variants.enhanced import write_enhanced_pet
from nethelpers.dicom import index_tree, load_pet
from nethelpers.dicom.errors import SuvError
from tests.test_dicomwrite import CT, GRID, PATIENT, STUDY, activity, hounsfield, pet_series

SCANNER = dw.SCANNERS["siemens_vision"]
F18 = 6586.2

#: name -> PetSeries changes of one faulty series each (None: the healthy series).
HEADER_FAULTS: dict[str, dict] = {
    "good": {},
    "no-dose": {"isotope_extra": {"RadionuclideTotalDose": None}},
    "no-half-life": {"isotope_extra": {"RadionuclideHalfLife": None}},
    "no-injection-time": {"isotope_extra": {"RadiopharmaceuticalStartTime": None,
                                            "RadiopharmaceuticalStartDateTime": None}},
    "propcnts": {"units": "PROPCNTS"},
    "no-attn": {"corrected_image": ("DECY", "SCAT", "DTIM", "RAN", "NORM")},
    "start-without-decy": {"corrected_image": ("ATTN", "SCAT", "DTIM", "RAN", "NORM")},
    "dose-in-mbq": {"dose_in_mbq": True},  # converted with a warning: warn, not fail
    # (7053,1000) = (7053,1009) x weight / dose decayed to the series start (60 min of 68Ga)
    "philips-cnts": {"units": "CNTS", "philips_bqml_per_count": 1.25,
                     "philips_suv_factor": 1.25 * 72500 / (152.3e6 * 2 ** (-3600 / 4062.6))},
}


def _pet(root: Path, name: str, number: int, **changes) -> Path:
    series = pet_series(series_uid_seed=f"suvqc-{name}", series_number=number, **changes)
    return dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, SCANNER, series,
                               root / name).directory


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("suvqc")
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, SCANNER, CT, root / "ct")
    folders = {name: _pet(root, name, 20 + i, **changes)
               for i, (name, changes) in enumerate(HEADER_FAULTS.items())}
    fdg = {"tracer": "FDG", "radionuclide": "18F", "half_life_s": F18}
    folders["fdg"] = _pet(root, "fdg", 40, **fdg)
    damaged = {
        "truncated": write_truncated(folders["good"], root / "truncated"),
        "no-weight": write_without_weight(folders["good"], root / "no-weight"),
        "philips-no-weight": write_without_weight(folders["philips-cnts"],
                                                  root / "philips-no-weight"),
        "injection-7h": write_injection_off(folders["fdg"], root / "injection-7h"),
    }
    folders |= {name: d.directory for name, d in damaged.items()}
    enhanced = write_enhanced_pet(folders["no-weight"], root / "enhanced-no-weight")
    folders["enhanced-no-weight"] = enhanced.parent
    series = index_tree(root, workers=1).set_index("directory")
    return root, folders, damaged, series


def _refusal(folder: Path) -> SuvError | None:
    try:
        load_pet(folder)
    except SuvError as exc:
        return exc
    return None


@pytest.mark.parametrize("name", [*HEADER_FAULTS, "fdg", "no-weight", "philips-no-weight",
                                  "injection-7h", "enhanced-no-weight"])
def test_index_fails_exactly_what_suv_refuses_with_its_reason(tree, name):
    root, folders, _, series = tree
    row = series.loc[folders[name].relative_to(root).as_posix()]
    refused = _refusal(folders[name])
    if refused is None:
        assert row["qc"] != "fail", row["qc_reasons"]
        _, provenance = load_pet(folders[name])
        notes = re.findall(r"SUV: (.*?)(?:; |$)", row["qc_reasons"])
        # the conversion's warnings, one for one (these small series have no other)
        assert len(notes) == len(provenance["warnings"])
        assert all(w.startswith(n) for n, w in zip(notes, provenance["warnings"], strict=True))
        return
    assert row["qc"] == "fail"
    assert f"{refused.tag}: {refused.problem} Fix: {refused.fix}" in row["qc_reasons"]
    assert str(root) not in row["qc_reasons"]  # file names relative, never absolute


def test_the_faults_are_what_they_claim(tree):
    root, folders, damaged, series = tree
    expected = {
        "no-dose": "RadionuclideTotalDose (0018,1074): is missing",
        "no-half-life": "RadionuclideHalfLife (0018,1075): is missing",
        "no-injection-time": "the injection time is unknown",
        "propcnts": "PROPCNTS (counts proportional to activity) has no absolute scale",
        "no-attn": "CorrectedImage lacks ATTN",
        "start-without-decy": "DecayCorrection is START but CorrectedImage lacks DECY",
        "no-weight": "PatientWeight (0010,1030): is missing or not positive",
        "injection-7h": "read as the previous day, the decay time would be",
        "enhanced-no-weight": "PatientWeight (0010,1030): is missing or not positive",
    }
    for name, text in expected.items():
        row = series.loc[folders[name].relative_to(root).as_posix()]
        assert row["qc"] == "fail" and text in row["qc_reasons"], (name, row["qc_reasons"])
    # the writer really left the weight empty and the injection a time of day (pydicom)
    ds = pydicom.dcmread(damaged["no-weight"].files[0], stop_before_pixels=True)
    assert ds.PatientWeight in (None, "")
    item = pydicom.dcmread(damaged["injection-7h"].files[0],
                           stop_before_pixels=True).RadiopharmaceuticalInformationSequence[0]
    assert "RadiopharmaceuticalStartDateTime" not in item
    # converted with a warning: the index warns with the same words
    mbq = series.loc["dose-in-mbq"]
    assert mbq["qc"] == "warn" and "SUV: RadionuclideTotalDose 152.3 can only be MBq" in (
        mbq["qc_reasons"])
    assert series.loc["good", "qc"] == "ok"
    # Philips's own SUV factor needs no weight: converted, the cross-check left undone
    assert series.loc["philips-no-weight", "qc_reasons"] == (
        "SUV: Philips SUV factor not cross-checked: is missing or not positive: SUV needs the "
        "body weight")


def test_truncated_pixel_data_fails_with_the_byte_counts(tree):
    root, folders, damaged, series = tree
    truth = damaged["truncated"].truth
    ds = pydicom.dcmread(damaged["truncated"].directory / truth["file"])  # plain pydicom
    expected = int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8
    assert len(ds.PixelData) == truth["kept_bytes"] < expected == truth["expected_bytes"]
    row = series.loc["truncated"]
    assert row["qc"] == "fail"
    assert (f"{truth['file']}: truncated pixel data: {len(ds.PixelData)} of {expected} bytes"
            in row["qc_reasons"])
    assert "SUV: " not in row["qc_reasons"]  # the headers are fine
    assert series.loc["good", "qc"] == "ok"


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")
def test_truncated_encapsulated_pixel_data_fails(tmp_path):
    folder = _pet(tmp_path, "rle", 50)
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.save_as(path, enforce_file_format=True)
    victim = sorted(folder.glob("*.dcm"))[5]
    data = victim.read_bytes()
    victim.write_bytes(data[:-40])  # the sequence delimiter and the end of the fragment
    with pytest.raises(Exception):  # noqa: B017 - pydicom cannot decode it either
        _ = pydicom.dcmread(victim).pixel_array
    row = index_tree(tmp_path, workers=1).iloc[0]
    assert row["qc"] == "fail"
    assert f"{victim.name}: truncated pixel data: fragment 1 needs" in row["qc_reasons"]
    # the untouched files of the same series pass the check
    assert "1 file with incomplete pixel data" in row["qc_reasons"]



def test_a_tree_with_a_non_image_object_writes_its_index(tmp_path):
    # SEG, RTSTRUCT and SR rows used to have no file list: write_index crashed on them
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    from nethelpers.dicom import write_index

    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, SCANNER, CT, tmp_path / "t" / "ct")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr = Dataset()
    sr.file_meta = meta
    sr.SOPClassUID = meta.MediaStorageSOPClassUID
    sr.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    sr.Modality, sr.PatientID = "SR", PATIENT.patient_id
    sr.StudyInstanceUID, sr.SeriesInstanceUID = STUDY.study_uid, generate_uid()
    (tmp_path / "t" / "sr").mkdir()
    sr.save_as(tmp_path / "t" / "sr" / "report.dcm", enforce_file_format=True)
    series = index_tree(tmp_path / "t", workers=1)
    row = series[series["modality"] == "SR"].iloc[0]
    assert row["files"] == ("sr/report.dcm",) and row["qc"] == "ok"
    written = write_index(series, tmp_path / "i.csv")
    listing = written[1].read_text().splitlines()
    assert any(line.endswith(",0,sr/report.dcm") for line in listing)
    assert len(listing) == 1 + GRID.shape[0] + 1  # header, CT slices, the SR
