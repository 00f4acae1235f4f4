"""Tests of nethelpers.dicom.rawread: the raw element walker agrees with pydicom, and is fast."""

from __future__ import annotations

import io
import re
import struct
import time
import warnings
from datetime import timedelta
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.dicom.rawread import (
    TS_DEFLATED,
    TS_EXPLICIT_BE,
    TS_EXPLICIT_LE,
    RawDataset,
    RawHeader,
    RawReadError,
    parse_buffer,
    pixel_bytes,
    read_header,
)
from tests.test_dicomwrite import PATIENT, STUDY, T0

# pydicom's bundled files, as far as they are present offline. (get_testdata_files("*")
# tries to download the rest first, which takes ~15 s without a network.)
PYDICOM_DATA = Path(pydicom.data.__file__).parent
PYDICOM_FILES = sorted((PYDICOM_DATA / "test_files").glob("*.dcm")) + sorted(
    (PYDICOM_DATA / "charset_files").glob("*.dcm")
)
PIXEL_TAGS = {0x7FE00008, 0x7FE00009, 0x7FE00010}
PHILIPS = "Philips PET Private Group"

#: Typical tags of a file index (speed test and subset tests).
INDEX_TAGS = [
    0x00020010, 0x00080005, 0x00080008, 0x00080016, 0x00080018,
    *range(0x00080020, 0x00080034),
    0x00080060, 0x00080070, 0x00081030, 0x0008103E, 0x00081090,
    0x00100020, 0x00100040, 0x00101020, 0x00101030, 0x00180050,
    0x0020000D, 0x0020000E, 0x00200011, 0x00200012, 0x00200013, 0x00200032, 0x00200037,
    0x00200052, 0x00280010, 0x00280011, 0x00280030, 0x00280100, 0x00281052, 0x00281053,
    0x00540016, 0x00540081, 0x00541001,
]  # fmt: skip

GRID = Grid(size=(14, 11, 6), spacing=(4.0, 3.5, 3.0), origin=(-30.0, -20.0, -100.0))


def pet_series(nz: int, seed: str = "rawread-pet", **changes) -> dw.PetSeries:
    start = T0 + timedelta(minutes=60)
    return dw.PetSeries(
        series_uid_seed=seed,
        series_number=3,
        description="WB DOTATATE",
        series_datetime=start,
        tracer="DOTATATE",
        radionuclide="68Ga",
        half_life_s=4062.6,
        positron_fraction=0.889,
        injected_dose_bq=152.3e6,
        injection=T0,
        bed_starts=[start],
        bed_slices=[(0, nz)],
        frame_duration_s=180.0,
        **changes,
    )


def write_pet(out: Path, grid: Grid = GRID, **changes) -> list[Path]:
    values = np.random.default_rng(0).gamma(2.0, 3000.0, size=grid.shape)
    pet = pet_series(grid.shape[0], **changes)
    info = dw.write_pet_series(
        values, grid, PATIENT, STUDY, dw.SCANNERS["philips_vereos"], pet, out
    )
    return [Path(f) for f in info.files]


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> dict[str, list[Path]]:
    """Small PET (Philips factors with and without creator), CT and MR series."""
    root = tmp_path_factory.mktemp("rawread")
    factors = {"units": "CNTS", "philips_suv_factor": 1.234e-4, "philips_bqml_per_count": 2.5}
    pet = write_pet(root / "pet", **factors)
    nocreator = write_pet(root / "nocreator", philips_private_creator=False, **factors)
    rng = np.random.default_rng(1)
    ct = dw.CtSeries(
        series_uid_seed="rawread-ct",
        series_number=2,
        description="CT WB",
        series_datetime=T0 + timedelta(minutes=55),
    )
    mr = dw.MrSeries(
        series_uid_seed="rawread-mr",
        series_number=4,
        description="T1 VIBE Dixon in-phase",
        series_datetime=T0 + timedelta(minutes=55),
    )
    scanner = dw.SCANNERS["siemens_mmr"]
    ct_info = dw.write_ct_series(
        rng.uniform(-1000.0, 2000.0, GRID.shape), GRID, PATIENT, STUDY, scanner, ct, root / "ct"
    )
    mr_info = dw.write_mr_series(
        rng.uniform(0.0, 4000.0, GRID.shape), GRID, PATIENT, STUDY, scanner, mr, root / "mr"
    )
    return {
        "pet": pet,
        "nocreator": nocreator,
        "ct": [Path(f) for f in ct_info.files],
        "mr": [Path(f) for f in mr_info.files],
    }


# --------------------------------------------------------------------------------------
# Comparison with pydicom
# --------------------------------------------------------------------------------------


def pydicom_read(path: Path) -> tuple[pydicom.Dataset, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    return ds, [str(w.message) for w in caught]


def assert_same_elements(py: Dataset, raw: RawDataset, where: str, top: bool = False) -> None:
    """Every tag of ``py`` is in ``raw`` with the same raw value (sequences recursively)."""
    py_tags = {int(tag) for tag in py._dict if not (top and int(tag) in PIXEL_TAGS)}
    our_tags = {tag for tag in raw.elements if not (top and tag >> 16 == 2)}
    assert our_tags == py_tags, where
    for tag in sorted(py_tags):
        elem = py._dict[tag]
        ours = raw.elements[tag]
        here = f"{where}/({tag >> 16:04X},{tag & 0xFFFF:04X})"
        if isinstance(ours, list):
            items = py[tag].value
            assert raw.vrs[tag] == "SQ", here
            assert len(ours) == len(items), here
            for k, (py_item, our_item) in enumerate(zip(items, ours, strict=True)):
                assert_same_elements(py_item, our_item, f"{here}[{k}]")
        elif isinstance(elem, RawDataElement):
            assert ours == (elem.value if elem.value is not None else b""), here
        else:  # pydicom converted it already (e.g. SpecificCharacterSet): convert ours
            element = convert_raw_data_element(
                RawDataElement(
                    elem.tag, raw.vrs[tag], len(ours), ours, 0, False, raw.little_endian
                ),
                encoding=list(raw.encodings),
            )
            assert element.value == elem.value, here


def assert_same_file(path: Path, header: RawHeader) -> None:
    ds, _ = pydicom_read(path)
    assert_same_elements(ds, header, path.name, top=True)
    assert_same_elements(ds.file_meta, RawDataset(
        {t: v for t, v in header.elements.items() if t >> 16 == 2}, header.vrs
    ), f"{path.name}/meta")  # fmt: skip
    assert header.transfer_syntax == str(ds.file_meta.get("TransferSyntaxUID", ""))
    assert header.little_endian == ds.is_little_endian


NUMERIC_VRS = {"DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "US or SS"}
TEXT_VRS = {"SH", "LO", "PN", "CS", "UI", "DA", "TM", "DT", "AS", "AE"}
WHOLE_TEXT_VRS = {"LT", "ST", "UT", "UR", "UC"}


def assert_same_values(py: Dataset, raw: RawDataset, where: str) -> int:
    """Getters equal pydicom's converted values for public numeric and text elements."""
    checked = 0
    for tag in list(py._dict):
        if tag in PIXEL_TAGS or tag.is_private or tag.group == 2:
            continue
        elem = py[tag]
        value, here = elem.value, f"{where}/{tag}"
        if elem.VR == "SQ":
            for k, (py_item, our_item) in enumerate(zip(value, raw.seq(tag), strict=True)):
                checked += assert_same_values(py_item, our_item, f"{here}[{k}]")
            continue
        values = list(value) if isinstance(value, MultiValue | list) else [value]
        if value is None or value == "" or not values:
            assert raw.raw(tag) is None or raw.text(tag) is None, here
            continue
        if elem.VR in NUMERIC_VRS:
            if isinstance(values[0], str):  # pydicom keeps unparsable IS/DS as text
                with pytest.raises(RawReadError, match=f"{tag.group:04X},{tag.element:04X}"):
                    raw.floats(tag)
                continue
            assert raw.floats(tag) == [float(v) for v in values], here
            assert raw.float(tag) == float(values[0]), here
            if elem.VR not in ("DS", "FL", "FD"):
                assert raw.int(tag) == int(values[0]), here
        elif elem.VR in TEXT_VRS:
            assert raw.texts(tag) == [str(v).strip(" \0") for v in values], here
            if len(values) == 1:
                assert raw.text(tag) == str(values[0]).strip(" \0"), here
        elif elem.VR in WHOLE_TEXT_VRS:
            assert raw.text(tag) == (str(value).strip(" \0") or None), here
        else:
            continue
        checked += 1
    return checked


def truncated_value(ds: Dataset) -> bool:
    """pydicom read a value shorter than its declared length (it does not complain)."""
    return any(
        isinstance(elem, RawDataElement)
        and elem.value is not None
        and elem.length != 0xFFFFFFFF
        and len(elem.value) < elem.length
        for elem in ds._dict.values()
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # pydicom on its odd files
@pytest.mark.parametrize("path", PYDICOM_FILES, ids=lambda p: p.name)
def test_equal_to_pydicom_on_its_test_files(path):
    ds, _ = pydicom_read(path)
    try:
        header = read_header(path)
    except RawReadError as exc:
        # only files that pydicom "reads" by silently truncating a value
        assert str(path) in str(exc)
        assert "truncated" in str(exc) or "not a DICOM file" in str(exc)
        assert truncated_value(ds), str(exc)
        return
    assert header.path == path
    assert_same_file(path, header)
    assert_same_values(ds, header, path.name)
    assert parse_buffer(path.read_bytes(), path=path) == header


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_pydicom_test_files_are_mostly_native():
    if len(PYDICOM_FILES) < 20:
        pytest.skip("pydicom test files not installed")
    via = []
    for path in PYDICOM_FILES:
        try:
            if read_header(path).via_pydicom:
                via.append(path.name)
        except RawReadError:
            pass
    # big endian, deflated, and a few deliberately odd files
    assert len(via) <= len(PYDICOM_FILES) // 4, via
    assert "CT_small.dcm" not in via and "MR_small_implicit.dcm" not in via


def test_equal_to_pydicom_on_writer_series(series):
    checked = 0
    for kind in ("pet", "nocreator", "ct", "mr"):
        for path in series[kind]:
            header = read_header(path)
            assert not header.via_pydicom
            assert header.transfer_syntax == TS_EXPLICIT_LE and not header.implicit_vr
            assert_same_file(path, header)
            ds, _ = pydicom_read(path)
            checked += assert_same_values(ds, header, path.name)
    assert checked > 500


def test_selected_getters_against_pydicom(series):
    path = series["pet"][2]
    ds = pydicom.dcmread(path)
    h = read_header(path)
    assert h.text(0x00100010) == str(ds.PatientName) == "Doe^Jane"
    assert h.floats(0x00200032) == [float(v) for v in ds.ImagePositionPatient]
    assert h.floats(0x00280030) == [float(v) for v in ds.PixelSpacing]
    assert h.float(0x00280030) == float(ds.PixelSpacing[0])
    assert h.int(0x00280010) == ds.Rows == GRID.size[1]
    assert h.int(0x00280011) == ds.Columns == GRID.size[0]
    assert h.int(0x00200013) == ds.InstanceNumber
    assert h.float(0x00180050) == float(ds.SliceThickness)
    assert h.float(0x00281053) == float(ds.RescaleSlope)
    assert h.int(0x00541330) == ds.ImageIndex
    assert h.texts(0x00080008) == list(ds.ImageType) == ["ORIGINAL", "PRIMARY"]
    assert h.text(0x00080008) == "ORIGINAL\\PRIMARY"
    assert h.text(0x00081030) == ds.StudyDescription  # stored with a padding space
    assert h.raw(0x00081030) == b"PET/CT DOTATATE "
    assert h.encodings == ("latin_1",)
    # absent and defaults
    assert 0x00100030 in h and 0x00181030 not in h
    assert h.text(0x00181030) is None and h.text(0x00181030, "x") == "x"
    assert h.float(0x00181030, 1.5) == 1.5 and h.floats(0x00181030) is None
    assert h.int(0x00181030, 7) == 7 and h.texts(0x00181030) == [] and h.seq(0x00181030) == []
    assert h.raw(0x00201040) is None and h.text(0x00201040) is None  # present, empty


def test_charsets_against_pydicom():
    files = [p for p in PYDICOM_FILES if p.parent.name == "charset_files"]
    if not files:
        pytest.skip("pydicom charset files not installed")
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        h = read_header(path)
        if "PatientName" in ds:
            assert h.text(0x00100010) == str(ds.PatientName), path.name
    h = read_header(PYDICOM_DATA / "charset_files" / "chrSQEncoding.dcm")
    ds = pydicom.dcmread(PYDICOM_DATA / "charset_files" / "chrSQEncoding.dcm")
    item, py_item = h.seq(0x00321064)[0], ds.RequestedProcedureCodeSequence[0]
    assert item.encodings != h.encodings  # the item has its own Specific Character Set
    assert item.text(0x00100010) == str(py_item.PatientName) == "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
    assert item.text(0x00080100) == py_item.CodeValue


# --------------------------------------------------------------------------------------
# Subsets, stop_after, chunked reads
# --------------------------------------------------------------------------------------


def test_tags_subset_and_stop_after(series):
    path = series["pet"][0]
    full = read_header(path)
    sub = read_header(path, INDEX_TAGS, stop_after=0x0054FFFF)
    expected = {t for t in INDEX_TAGS if t in full.elements}
    assert set(sub.elements) == expected
    assert 0x00080005 in sub.elements and 0x00020010 in sub.elements
    for tag in expected:
        assert sub.elements[tag] == full.elements[tag]
        assert sub.vrs[tag] == full.vrs[tag]
    assert sub.seq(0x00540016) == full.seq(0x00540016)  # the whole nested item
    assert sub.transfer_syntax == TS_EXPLICIT_LE and sub.encodings == full.encodings
    assert sub.pixel_offset is None and full.pixel_offset is not None
    # charset is used but not kept when not asked for
    no_charset = read_header(path, [0x00100010])
    assert set(no_charset.elements) == {0x00100010} and no_charset.encodings == full.encodings
    # stop_after really stops
    early = read_header(path, stop_after=0x0020FFFF)
    assert early.elements and max(early.elements) <= 0x0020FFFF
    assert early.elements == {t: v for t, v in full.elements.items() if t <= 0x0020FFFF}
    assert 0x00280010 not in early and 0x70531000 not in early and early.pixel_offset is None
    # tags beyond stop_after are not kept even when asked for
    assert 0x00541001 not in read_header(path, INDEX_TAGS, stop_after=0x0028FFFF)


@pytest.mark.parametrize("chunk", [1, 64, 300, 1000, 4096])
def test_small_chunks_give_the_same_header(series, chunk):
    for path in [series["pet"][0], series["ct"][0]] + [
        PYDICOM_DATA / "test_files" / name
        for name in ("MR_small_implicit.dcm", "JPEG2000.dcm", "rtplan.dcm", "UN_sequence.dcm")
        if (PYDICOM_DATA / "test_files" / name).exists()
    ]:
        reference = parse_buffer(path.read_bytes(), path=path)
        assert read_header(path, chunk=chunk) == reference, path.name
        subset = read_header(path, INDEX_TAGS, stop_after=0x0054FFFF, chunk=chunk)
        assert subset == read_header(path, INDEX_TAGS, stop_after=0x0054FFFF)


def test_memoryview_and_bytearray_give_bytes(series):
    data = series["pet"][0].read_bytes()
    reference = parse_buffer(data)
    for buf in (memoryview(data), bytearray(data)):
        header = parse_buffer(buf)
        assert header == reference
        assert all(type(v) is bytes for v in header.elements.values() if not isinstance(v, list))


# --------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------


def test_pet_radiopharmaceutical_sequence(series):
    path = series["pet"][0]
    ds = pydicom.dcmread(path)
    h = read_header(path, INDEX_TAGS, stop_after=0x0054FFFF)
    (item,) = h.seq(0x00540016)
    py_item = ds.RadiopharmaceuticalInformationSequence[0]
    assert h.vrs[0x00540016] == "SQ"
    assert item.float(0x00181075) == float(py_item.RadionuclideHalfLife) == 4062.6
    assert item.float(0x00181074) == float(py_item.RadionuclideTotalDose)
    assert item.text(0x00181072) == py_item.RadiopharmaceuticalStartTime
    (code,) = item.seq(0x00540300)
    assert code.text(0x00080100) == py_item.RadionuclideCodeSequence[0].CodeValue
    assert code.text(0x00080104) == "^68^Gallium"
    assert code.encodings == h.encodings  # inherited


def undefined_length_file(transfer_syntax: str) -> bytes:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = dw.PET_IMAGE_STORAGE
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.PatientName = "Müller^Jürgen"
    code = Dataset()
    code.CodeValue = "C-111A1"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "¹⁸F"
    code.is_undefined_length_sequence_item = True
    first = Dataset()
    first.RadionuclideHalfLife = "6586.2"
    first.RadionuclideCodeSequence = Sequence([code])
    first["RadionuclideCodeSequence"].is_undefined_length = True
    first.is_undefined_length_sequence_item = True
    second = Dataset()  # defined length item in an undefined length sequence
    second.RadionuclideHalfLife = "4062.6"
    ds.RadiopharmaceuticalInformationSequence = Sequence([first, second])
    ds["RadiopharmaceuticalInformationSequence"].is_undefined_length = True
    unwanted = Dataset()
    unwanted.CodeValue = "X"
    unwanted.is_undefined_length_sequence_item = True
    ds.PatientOrientationCodeSequence = Sequence([unwanted, Dataset()])
    ds["PatientOrientationCodeSequence"].is_undefined_length = True
    private = Dataset()
    private.CodeValue = "P"
    private.is_undefined_length_sequence_item = True
    block = ds.private_block(0x0029, "RAWREAD TEST", create=True)
    block.add_new(0x01, "SQ", Sequence([private]))
    ds[0x00291001].is_undefined_length = True
    ds.Rows, ds.Columns = 2, 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.PixelData = np.array([1, -2, 300, -32768], "<i2").tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    out = io.BytesIO()
    pydicom.dcmwrite(out, ds, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("transfer_syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
def test_undefined_length_sequences_and_items(tmp_path, transfer_syntax):
    data = undefined_length_file(transfer_syntax)
    assert data.count(b"\xfe\xff\xdd\xe0") == 4  # four sequence delimiters
    assert data.count(b"\xfe\xff\x0d\xe0") == 4  # four item delimiters
    path = tmp_path / "undefined.dcm"
    path.write_bytes(data)
    h = read_header(path)
    assert not h.via_pydicom and h.implicit_vr == (transfer_syntax == ImplicitVRLittleEndian)
    assert_same_file(path, h)
    first, second = h.seq(0x00540016)
    assert (first.float(0x00181075), second.float(0x00181075)) == (6586.2, 4062.6)
    (code,) = first.seq(0x00540300)
    assert code.text(0x00080100) == "C-111A1" and code.text(0x00080104) == "¹⁸F"
    assert h.text(0x00100010) == "Müller^Jürgen" and code.encodings == ("UTF8",)
    (private,) = h.seq(0x00291001)
    assert private.text(0x00080100) == "P" and h.vrs[0x00291001] == "SQ"
    assert [item.text(0x00080100) for item in h.seq(0x00540410)] == ["X", None]
    # unwanted undefined-length sequences are walked over, pixel data still found
    sub = read_header(path, [0x00540016, 0x00280010])
    assert set(sub.elements) == {0x00540016, 0x00280010}
    assert sub.seq(0x00540016) == h.seq(0x00540016)
    assert (sub.pixel_offset, sub.pixel_length) == (h.pixel_offset, h.pixel_length) != (None, 8)
    pixels = np.frombuffer(pixel_bytes(h, data), "<i2")
    np.testing.assert_array_equal(pixels, pydicom.dcmread(path).pixel_array.ravel())


def test_private_sequence_bytes_parse_on_demand():
    """A defined-length private sequence in Implicit VR stays UN bytes (as in pydicom)."""
    path = PYDICOM_DATA / "test_files" / "priv_SQ.dcm"
    if not path.exists():
        pytest.skip("pydicom test file missing")
    h = read_header(path)
    assert not h.via_pydicom and h.vrs[0x3F031001] == "UN"
    assert h.raw(0x3F031001) == pydicom.dcmread(path)[0x3F031001].value
    (item,) = h.seq(0x3F031001)
    assert item.text(0x00080090) == "111111111111111" and item.vrs[0x00080090] == "PN"
    assert item.text(0x3F031004) == "Values updated from xxx xxxx."
    with pytest.raises(RawReadError, match=r"\(3F03,0010\) is not a sequence"):
        h.seq(0x3F030010)


# --------------------------------------------------------------------------------------
# Private elements
# --------------------------------------------------------------------------------------


def test_private_with_creator(series):
    path = series["pet"][0]
    ds = pydicom.dcmread(path)
    h = read_header(path)
    value, warning = h.private(0x7053, PHILIPS, 0x00)
    assert float(value) == float(ds[0x7053, 0x1000].value) == 1.234e-4 and warning is None
    value, warning = h.private(0x7053, PHILIPS, 0x09)
    assert float(value) == 2.5 and warning is None
    assert h.private(0x7053, PHILIPS, 0x42) == (None, None)
    assert h.private(0x7053, "Someone Else", 0x00) == (None, None)  # block 0x10 is Philips'


def test_private_without_creator(series):
    h = read_header(series["nocreator"][0])
    assert 0x70530010 not in h
    value, warning = h.private(0x7053, PHILIPS, 0x00)
    assert float(value) == 1.234e-4
    assert warning == f"private creator '{PHILIPS}' missing; read (7053,1000) by raw tag"
    assert h.private(0x7053, PHILIPS, 0x42) == (None, None)


def test_private_creator_in_another_block(series, tmp_path):
    ds = pydicom.dcmread(series["pet"][0])
    for element in (0x0010, 0x1000, 0x1009):
        del ds[0x7053, element]
    ds.add_new((0x7053, 0x0010), "LO", "OTHER VENDOR")
    ds.add_new((0x7053, 0x0011), "LO", PHILIPS)
    ds.add_new((0x7053, 0x1000), "DS", "99")
    ds.add_new((0x7053, 0x1100), "DS", "0.000321")
    ds.save_as(tmp_path / "block11.dcm")
    h = read_header(tmp_path / "block11.dcm")
    assert h.private(0x7053, PHILIPS, 0x00) == (b"0.000321", None)
    assert h.private(0x7053, "OTHER VENDOR", 0x00) == (b"99", None)
    # the creator absent, but block 0x10 is someone else's: no raw-tag fallback
    del ds[0x7053, 0x0011], ds[0x7053, 0x1100]
    ds.save_as(tmp_path / "other.dcm")
    assert read_header(tmp_path / "other.dcm").private(0x7053, PHILIPS, 0x00) == (None, None)


# --------------------------------------------------------------------------------------
# Pixel data
# --------------------------------------------------------------------------------------


def test_pixel_location(series):
    path = series["pet"][3]
    data = path.read_bytes()
    h = read_header(path, INDEX_TAGS)
    rows, cols = h.int(0x00280010), h.int(0x00280011)
    assert h.pixel_length == rows * cols * 2 and not h.encapsulated
    assert 0x7FE00010 not in h.elements
    pixels = np.frombuffer(data, "<i2", count=rows * cols, offset=h.pixel_offset)
    np.testing.assert_array_equal(pixels, pydicom.dcmread(path).pixel_array.ravel())
    assert bytes(pixel_bytes(h, data)) == pixels.tobytes()
    with pytest.raises(RawReadError, match="truncated Pixel Data"):
        pixel_bytes(h, data[:-2])


def test_pixel_location_implicit_and_encapsulated():
    for name, encapsulated in (("MR_small_implicit.dcm", False), ("JPEG2000.dcm", True)):
        path = PYDICOM_DATA / "test_files" / name
        if not path.exists():
            continue
        h = read_header(path)
        assert h.encapsulated == encapsulated
        if encapsulated:
            assert h.pixel_offset is None
            with pytest.raises(RawReadError, match="encapsulated"):
                pixel_bytes(h, path.read_bytes())
        else:
            ds = pydicom.dcmread(path)
            assert bytes(pixel_bytes(h, path.read_bytes())) == ds.PixelData


def test_truncated_pixel_data_is_fine_for_the_header(series, tmp_path):
    data = series["pet"][0].read_bytes()
    path = tmp_path / "cut_pixels.dcm"
    full = read_header(series["pet"][0])
    path.write_bytes(data[: full.pixel_offset + 10])
    h = read_header(path)
    assert (h.pixel_offset, h.pixel_length) == (full.pixel_offset, full.pixel_length)
    with pytest.raises(RawReadError, match="cut_pixels.dcm: truncated Pixel Data"):
        pixel_bytes(h, path.read_bytes())
    path.write_bytes(data[: full.pixel_offset - 6])  # inside the Pixel Data length field
    with pytest.raises(RawReadError, match=r"cut_pixels\.dcm: truncated at offset \d+"):
        read_header(path)


# --------------------------------------------------------------------------------------
# Failures and fallback
# --------------------------------------------------------------------------------------


def test_not_dicom(tmp_path):
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.dcm"
    noise.write_bytes(np.random.default_rng(3).integers(0, 256, 5000, np.uint8).tobytes())
    text = tmp_path / "notes.txt"
    text.write_text("Patient list\nDoe^Jane 1961-03-14\n" * 50)
    short = tmp_path / "short.dcm"
    short.write_bytes(b"DICM")
    for path in (empty, noise, text, short):
        start = time.perf_counter()
        with pytest.raises(RawReadError, match=rf"{path.name}: not a DICOM file"):
            read_header(path)
        with pytest.raises(RawReadError, match="not a DICOM file"):
            parse_buffer(path.read_bytes(), path=path)
        assert time.perf_counter() - start < 0.5
    with pytest.raises(RawReadError, match="missing.dcm: cannot read"):
        read_header(tmp_path / "missing.dcm")


def test_truncated_header(series, tmp_path):
    data = series["pet"][0].read_bytes()
    ds = pydicom.dcmread(series["pet"][0], stop_before_pixels=True)
    raw = [
        (t, e.value_tell + e.length) for t, e in ds._dict.items() if isinstance(e, RawDataElement)
    ]
    ends = [end for _, end in raw]
    cut = tmp_path / "cut.dcm"
    # inside the meta group, inside element headers and inside values
    messages = []
    for size in (140, ends[3] + 5, ends[20] + 1, ends[30] - 1, ends[45] + 9):
        cut.write_bytes(data[:size])
        with pytest.raises(RawReadError, match=r"cut\.dcm: truncated at offset \d+ \(") as exc:
            read_header(cut)
        messages.append(str(exc.value))
        with pytest.raises(RawReadError, match="truncated"):
            parse_buffer(data[:size], path=cut)
    assert any("element header" in m for m in messages)
    assert any(re.search(r"value of \([0-9A-F]{4},[0-9A-F]{4}\)", m) for m in messages)
    # a file that ends between two elements is a valid (pixel-less) dataset
    cut.write_bytes(data[: ends[10]])
    assert read_header(cut, chunk=64) == read_header(cut)
    assert max(read_header(cut).elements) == raw[10][0]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_garbage_never_hangs_or_crashes(series):
    rng = np.random.default_rng(4)
    data = series["pet"][0].read_bytes()
    for _ in range(300):
        buf = bytearray(data[:4000])
        for position in rng.integers(0, len(buf), rng.integers(1, 5)):
            buf[position] = rng.integers(0, 256)
        try:
            parse_buffer(bytes(buf))
        except RawReadError:
            pass
    # sequences nested 400 deep (undefined lengths): no RecursionError
    sequence, item = (
        b"\x54\x00\x16\x00SQ\x00\x00\xff\xff\xff\xff",
        b"\xfe\xff\x00\xe0\xff\xff\xff\xff",
    )
    item_end, sequence_end = b"\xfe\xff\x0d\xe0\0\0\0\0", b"\xfe\xff\xdd\xe0\0\0\0\0"
    nested = (sequence + item) * 400 + (item_end + sequence_end) * 400
    head = data[: data.index(b"\x08\x00\x05\x00CS")]
    try:
        header = parse_buffer(head + nested)
        assert header.via_pydicom
    except RawReadError:
        pass


@pytest.mark.parametrize(
    "name, transfer_syntax",
    [("ExplVR_BigEnd.dcm", TS_EXPLICIT_BE), ("image_dfl.dcm", TS_DEFLATED)],
)
def test_big_endian_and_deflated_use_pydicom(name, transfer_syntax):
    path = PYDICOM_DATA / "test_files" / name
    if not path.exists():
        pytest.skip(f"{name} not installed")
    h = read_header(path)
    assert h.via_pydicom and h.transfer_syntax == transfer_syntax
    assert h.little_endian == (transfer_syntax != TS_EXPLICIT_BE)
    assert_same_file(path, h)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert assert_same_values(ds, h, name) > 5
    assert h.int(0x00280010) == ds.Rows and h.int(0x00280011) == ds.Columns
    subset = read_header(path, [0x00280010, 0x00100010], stop_after=0x0028FFFF)
    assert set(subset.elements) <= {0x00280010, 0x00100010} and subset.via_pydicom
    if transfer_syntax == TS_EXPLICIT_BE:
        full = pydicom.dcmread(path)
        assert bytes(pixel_bytes(h, path.read_bytes())) == full.PixelData


def test_files_without_meta():
    for name in ("ExplVR_LitEndNoMeta.dcm", "rtstruct.dcm"):
        path = PYDICOM_DATA / "test_files" / name
        if not path.exists():
            continue
        h = read_header(path)
        assert not h.via_pydicom and h.transfer_syntax == ""
        assert_same_file(path, h)


def test_binary_getters_and_bad_values():
    tag_fl, tag_fd, tag_ss, tag_is, tag_ds = 0x00181000, 0x00181001, 0x00181002, 0x00181003, 0x1004
    little = RawDataset(
        {
            tag_fl: struct.pack("<2f", 1.5, -2.0),
            tag_fd: struct.pack("<d", 0.1),
            tag_ss: struct.pack("<2h", -3, 7),
            tag_is: b" 3.0\\12 ",
            tag_ds: b"1.5\\abc ",
        },
        {tag_fl: "FL", tag_fd: "FD", tag_ss: "SS", tag_is: "IS", tag_ds: "DS"},
    )
    assert little.floats(tag_fl) == [1.5, -2.0] and little.float(tag_fd) == 0.1
    assert little.int(tag_ss) == -3 and little.floats(tag_ss) == [-3.0, 7.0]
    assert little.int(tag_is) == 3 and little.floats(tag_is) == [3.0, 12.0]
    assert little.float(tag_ds) == 1.5
    with pytest.raises(RawReadError, match="1.5 is not an integer"):
        little.int(tag_fl)
    with pytest.raises(RawReadError, match=r"\(0000,1004\)"):
        little.floats(tag_ds)
    big = RawDataset(
        {tag_fl: struct.pack(">f", 1.5), tag_ss: struct.pack(">h", -3)},
        {tag_fl: "FL", tag_ss: "SS"},
        little_endian=False,
    )
    assert big.float(tag_fl) == 1.5 and big.int(tag_ss) == -3
    garbage = RawDataset({0x00200013: b"12a "}, {0x00200013: "IS"})
    with pytest.raises(RawReadError, match=r"\(0020,0013\)"):
        garbage.int(0x00200013)
    half = RawDataset({0x00200013: b"2.5 "}, {0x00200013: "IS"})
    with pytest.raises(RawReadError, match="not an integer"):
        half.int(0x00200013)
    with pytest.raises(TypeError, match="sequence"):
        RawDataset({0x00540016: [RawDataset({}, {})]}, {0x00540016: "SQ"}).raw(0x00540016)


# --------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------


def best_per_file(function, paths: list[Path], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for path in paths:
            function(path)
        best = min(best, (time.perf_counter() - start) / len(paths))
    return best


def test_faster_than_pydicom(tmp_path, record_property):
    grid = Grid(size=(128, 128, 300), spacing=(4.0, 4.0, 3.0), origin=(0.0, 0.0, 0.0))
    paths = write_pet(tmp_path, grid, philips_suv_factor=1.2e-4)
    ours = best_per_file(
        lambda p: read_header(p, INDEX_TAGS, stop_after=0x0054FFFF), paths, repeats=5
    )
    theirs = best_per_file(lambda p: pydicom.dcmread(p, stop_before_pixels=True), paths, 3)
    record_property("rawread_ms_per_file", round(ours * 1e3, 4))
    record_property("pydicom_ms_per_file", round(theirs * 1e3, 4))
    print(f"read_header {ours * 1e3:.4f} ms/file, pydicom {theirs * 1e3:.4f} ms/file")
    assert ours * 2 < theirs
