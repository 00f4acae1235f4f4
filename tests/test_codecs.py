"""Compressed transfer syntaxes: every lossless one gives the uncompressed SUVs bit for bit.

A small PET series (signed int16 with negative background values and a full-range lesion)
is written uncompressed by the demo writer and copied into each transfer syntax by
:func:`nethelpers.demo.variants.compressed.write_compressed`. Independent readers:
SimpleITK's ImageSeriesReader (GDCM's decoders) on the compressed files, plain pydicom +
numpy on the originals, and tests/dicom_arith.py's SUV arithmetic (pydicom's default
decoder order, GDCM first) on the copies.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.uid import UID

from nethelpers.demo import dicomwrite as dw
from nethelpers.demo.grid import Grid
from nethelpers.demo.variants.compressed import ENCODERS, requantise, write_compressed
from nethelpers.dicom import DicomInputError, index_tree, load_pet, load_pet_series
from nethelpers.dicom.codecs import CODECS, TS_TAG, decode_pixels, is_lossy, warnings_for
from nethelpers.dicom.rawread import read_header
from tests.dicom_arith import read_suv_volume
from tests.test_dicomwrite import CT, PATIENT, STUDY, pet_series

GRID = Grid(size=(48, 40, 8), spacing=(4.0, 4.0, 3.0), origin=(-96.0, -80.0, -100.0))
LOSSLESS = [
    "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
    "1.2.840.10008.1.2.4.57",  # JPEG Lossless Process 14
    "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
    "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
    "1.2.840.10008.1.2.5",  # RLE lossless
    "1.2.840.10008.1.2.1.99",  # deflated
]
#: Lossy syntax -> accepted (max, rms) |SUV error| / SUV peak; measured on this series:
#: J2K ratio 10: 0.0368, 0.0053; JPEG baseline (8-bit, q90): 0.0392, 0.0054; JPEG extended
#: (12-bit, q90): 0.0068, 0.0012; JPEG-LS NEAR 2: stored error 2 (4 where clipped at 32767).
LOSSY = {
    "1.2.840.10008.1.2.4.91": (0.05, 0.008),
    "1.2.840.10008.1.2.4.81": None,
    "1.2.840.10008.1.2.4.50": (0.05, 0.008),
    "1.2.840.10008.1.2.4.51": (0.01, 0.002),
}
#: Largest stored-value difference between libjpeg's and GDCM's inverse DCT (measured).
IDCT_DIFFERENCE = {"1.2.840.10008.1.2.4.50": 1, "1.2.840.10008.1.2.4.51": 2}
MPEG2 = "1.2.840.10008.1.2.4.100"
EXTENDED = "1.2.840.10008.1.2.4.51"


def activity(grid: Grid, seed: int = 3) -> np.ndarray:
    """A body ellipse at 3 kBq/ml with a hot lesion, zero outside; noise makes negatives."""
    nz, ny, nx = grid.shape
    z, y, x = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    body = ((x - nx / 2) / (nx * 0.4)) ** 2 + ((y - ny / 2) / (ny * 0.4)) ** 2 < 1
    lesion = 40000.0 * np.exp(-((x - 30) ** 2 + (y - 18) ** 2 + (z - 4) ** 2) / 12.0)
    rng = np.random.default_rng(seed)
    return np.where(body, 3000.0 + lesion, 0.0) + rng.normal(0.0, 60.0, grid.shape)


@pytest.fixture(scope="module")
def original(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("codecs") / "plain"
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, dw.SCANNERS["siemens_vision"],
                        pet_series(nz=GRID.shape[0]), out)
    return out


@pytest.fixture(scope="module")
def copies(original, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("codec_copies")
    out = {}
    for syntax in [*LOSSLESS, *LOSSY]:
        if syntax == EXTENDED and shutil.which("dcmcjpeg") is None:
            continue  # needs dcmtk (scripts/setup.sh installs it)
        write_compressed(original, root / syntax, syntax)
        out[syntax] = root / syntax
    return out


def needs(copies: dict[str, Path], syntax: str) -> Path:
    if syntax not in copies:
        pytest.skip("JPEG extended needs dcmtk's dcmcjpeg (scripts/setup.sh installs dcmtk)")
    return copies[syntax]


def stored_by_position(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """Stored values and slopes with plain pydicom (uncompressed originals), sorted by z."""
    datasets = sorted((pydicom.dcmread(f) for f in folder.glob("*.dcm")),
                      key=lambda d: float(d.ImagePositionPatient[2]))
    stored = np.stack([np.frombuffer(d.PixelData, "<i2").reshape(d.Rows, d.Columns)
                       for d in datasets])
    return stored, np.array([float(d.RescaleSlope) for d in datasets])


def by_position(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"),
                  key=lambda f: float(pydicom.dcmread(f).ImagePositionPatient[2]))


def sitk_series(folder: Path) -> np.ndarray:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


def suv(folder: Path) -> tuple[np.ndarray, dict]:
    image, provenance = load_pet(folder)
    return sitk.GetArrayFromImage(image), provenance


def lossy_warnings(provenance: dict) -> list[str]:
    return [w for w in provenance.get("warnings", []) if "lossy" in w]


def test_table_agrees_with_pydicom_and_every_decoder_is_installed():
    from pydicom.pixels import get_decoder

    for uid, codec in CODECS.items():
        assert UID(uid).is_transfer_syntax
        name = UID(uid).name  # PS3.6 names lossless syntaxes so, or they are uncompressed
        lossless = not UID(uid).is_compressed or ("Lossless" in name and "Near" not in name)
        assert codec.lossy == (not lossless), uid
        assert is_lossy(uid) == codec.lossy
        if codec.plugin:
            assert codec.plugin in get_decoder(uid).available_plugins, uid
    assert not is_lossy(MPEG2) and MPEG2 not in CODECS
    assert set(LOSSLESS) | set(LOSSY) == set(ENCODERS)


@pytest.mark.parametrize("syntax", LOSSLESS)
def test_lossless_copy_gives_the_same_suv_bit_for_bit(original, copies, syntax):
    folder = copies[syntax]
    first = pydicom.dcmread(sorted(folder.glob("*.dcm"))[0])
    assert first.file_meta.TransferSyntaxUID == syntax
    assert first["PixelData"].is_undefined_length == (syntax != "1.2.840.10008.1.2.1.99")
    want, want_prov = suv(original)
    got, got_prov = suv(folder)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert want.min() < 0 and want.max() > 10  # negatives and a lesion both survived
    assert got_prov["factor"] == want_prov["factor"]
    assert lossy_warnings(got_prov) == []
    # independent: GDCM (SimpleITK) on the copy == pydicom + numpy on the original
    stored, slopes = stored_by_position(original)
    assert stored.min() < 0 and stored.max() == 32767
    values = sitk_series(folder)
    assert np.array_equal(np.rint(values / slopes[:, None, None]), stored)
    np.testing.assert_allclose(values, stored * slopes[:, None, None], rtol=1e-12, atol=0)
    # independent SUV arithmetic (pydicom's default decoders) on the copy
    reference, _ = read_suv_volume(folder)
    np.testing.assert_allclose(got, reference, rtol=2e-7, atol=1e-6)


@pytest.mark.parametrize("syntax", list(LOSSY))
def test_lossy_copy_is_close_and_flagged(original, copies, syntax):
    folder = needs(copies, syntax)
    want, _ = suv(original)
    got, provenance = suv(folder)
    error = np.abs(got.astype(np.float64) - want)
    assert error.max() > 0
    bound = LOSSY[syntax]
    if bound is None:  # JPEG-LS NEAR 2, on stored values: |error| <= 2, and <= 4 where the
        stored, _ = stored_by_position(original)  # variant clipped 2 off the range ends
        decoded = np.stack([decode_pixels(f) for f in by_position(folder)]).astype(int)
        clipped = np.abs(stored) > 32765
        assert np.abs(decoded - stored)[~clipped].max() == 2
        assert np.abs(decoded - stored)[clipped].max() <= 4 and clipped.any()
    else:
        assert error.max() <= bound[0] * want.max()
        assert np.sqrt(np.mean(error**2)) <= bound[1] * want.max()
    notes = lossy_warnings(provenance)
    assert len(notes) == 2, provenance.get("warnings")
    assert CODECS[syntax].name in notes[0] and syntax in notes[0]
    assert notes[1].startswith("LossyImageCompression (0028,2110) is 01 in 8 of 8 files")
    # independent: SimpleITK (GDCM's decoders) reads the same copy to the same stored values
    files = by_position(folder)
    slopes = np.array([float(pydicom.dcmread(f).RescaleSlope) for f in files])
    ours = np.stack([decode_pixels(f) for f in files])
    theirs = np.rint(sitk_series(folder) / slopes[:, None, None])
    assert np.abs(theirs - ours).max() <= IDCT_DIFFERENCE.get(syntax, 0)


def test_requantised_copies_hold_8_and_12_bit_samples(copies):
    eight = pydicom.dcmread(sorted(copies["1.2.840.10008.1.2.4.50"].glob("*.dcm"))[3])
    twelve = pydicom.dcmread(sorted(needs(copies, EXTENDED).glob("*.dcm"))[3])
    assert (eight.BitsAllocated, eight.BitsStored, eight.PixelRepresentation) == (8, 8, 0)
    assert (twelve.BitsAllocated, twelve.BitsStored, twelve.HighBit) == (16, 12, 11)
    assert decode_pixels(eight.filename).dtype == np.uint8
    assert decode_pixels(twelve.filename).max() <= 4095


def test_lossy_syntax_alone_is_flagged(original, tmp_path):
    write_compressed(original, tmp_path, "1.2.840.10008.1.2.4.91", mark_lossy=False)
    assert "LossyImageCompression" not in pydicom.dcmread(sorted(tmp_path.glob("*"))[0])
    notes = lossy_warnings(load_pet_series(tmp_path).provenance)
    assert notes == ["8 of 8 files are stored in JPEG 2000 (1.2.840.10008.1.2.4.91), a lossy "
                     "transfer syntax: the stored values are not the scanner's and the SUVs "
                     "carry the compression error"]


def test_lossy_image_compression_01_on_uncompressed_data_is_flagged(original, tmp_path):
    for f in original.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        if ds.InstanceNumber <= 3:
            ds.LossyImageCompression = "01"
            ds.LossyImageCompressionMethod = "ISO_15444_1"
        ds.save_as(tmp_path / f.name, enforce_file_format=True)
    got, provenance = suv(tmp_path)
    assert np.array_equal(got, suv(original)[0])
    assert lossy_warnings(provenance) == [
        "LossyImageCompression (0028,2110) is 01 in 3 of 8 files (method ISO_15444_1): the "
        "pixel data were lossy compressed at some point and the SUVs carry the compression "
        "error"]
    assert warnings_for([read_header(f) for f in original.glob("*.dcm")]) == []


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80"])
def test_signed_12_bit_samples_keep_their_sign(original, tmp_path, syntax):
    """BitsStored 12 < BitsAllocated 16, PixelRepresentation 1: sign from bit 11."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in original.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.BitsStored, ds.HighBit = 12, 11
        ds.PixelData = (ds.pixel_array.astype(np.int32) // 16).astype("<i2").tobytes()
        ds.RescaleSlope = f"{float(ds.RescaleSlope) * 16:.10g}"
        ds.save_as(plain / f.name, enforce_file_format=True)
    files = write_compressed(plain, tmp_path / "copy", syntax)
    for f in files:
        want = np.frombuffer(pydicom.dcmread(plain / f.name).PixelData, "<i2")
        got = decode_pixels(f).reshape(-1)
        assert got.dtype == np.int16 and np.array_equal(got, want)
    assert min(decode_pixels(f).min() for f in files) < 0
    assert np.array_equal(suv(tmp_path / "copy")[0], suv(plain)[0])


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.90",
                                    "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.91"])
def test_index_lists_compressed_series_as_ok(original, copies, tmp_path, syntax):
    """With its CT in the study (as the demo writes it), a compressed PET indexes as ok
    (a lossy one as warn)."""
    dw.write_ct_series(np.zeros(GRID.shape), GRID, PATIENT, STUDY,
                       dw.SCANNERS["siemens_vision"], CT, tmp_path / "CT")
    shutil.copytree(copies[syntax], tmp_path / "PT")
    table = index_tree(tmp_path, workers=1).set_index("modality")
    assert sorted(table.index) == ["CT", "PT"]
    row = table.loc["PT"]
    if syntax == "1.2.840.10008.1.2.4.91":          # lossy: listed, with a warning
        assert row["qc"] == "warn" and row["qc_reasons"] == (
            f"lossy compression ({syntax}): values are not quantitatively exact")
    else:
        assert (row["qc"], row["qc_reasons"]) == ("ok", ""), row["qc_reasons"]
    assert row["n_slices"] == 8 and row["companion_series_uid"] == table.loc["CT", "series_uid"]
    alone = index_tree(original, workers=1).iloc[0]
    same = ["series_uid", "n_slices", "rows", "columns", "slice_spacing_mm", "origin_z",
            "tracer"]
    assert row[same].tolist() == alone[same].tolist()


def _with_syntax(src: Path, out: Path, syntax: str) -> Path:
    out.mkdir()
    for f in src.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        ds.file_meta.TransferSyntaxUID = syntax
        ds.save_as(out / f.name)
    return out


@pytest.mark.parametrize("syntax", [MPEG2, "1.2.826.0.1.3680043.9.9999.1"])
def test_unsupported_syntax_is_refused_with_file_tag_and_fix(copies, tmp_path, syntax):
    folder = _with_syntax(copies["1.2.840.10008.1.2.4.70"], tmp_path / "x", syntax)
    with pytest.raises(DicomInputError) as caught:
        load_pet(folder)
    error = caught.value
    assert Path(error.file).parent == folder and error.tag == TS_TAG
    assert syntax in error.problem and "not a transfer syntax this loader decodes" in error.problem
    assert "Explicit VR Little Endian, 1.2.840.10008.1.2.1" in error.fix
    if syntax == MPEG2:
        assert "MPEG2" in error.problem
    assert "TransferSyntaxUID (0002,0010)" in str(error)


def test_missing_decoder_names_the_package_to_install(copies, monkeypatch):
    import pydicom.pixels

    monkeypatch.setattr(pydicom.pixels, "get_decoder",
                        lambda uid: SimpleNamespace(available_plugins=()))
    f = sorted(copies["1.2.840.10008.1.2.4.70"].glob("*.dcm"))[0]
    with pytest.raises(DicomInputError) as caught:
        decode_pixels(f)
    assert caught.value.tag == TS_TAG and caught.value.file == str(f)
    assert caught.value.fix.startswith("pip install pylibjpeg pylibjpeg-libjpeg")


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.90",
                                    "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5"])
def test_truncated_codestream_is_refused_with_pixel_data_tag(copies, tmp_path, syntax):
    """libjpeg and OpenJPEG decode a cut JPEG / J2K stream without error: the end marker."""
    source = sorted(copies[syntax].glob("*.dcm"))[4]
    ds = pydicom.dcmread(source)
    frame = next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1))
    assert bytes(frame[-4:]).rstrip(b"\x00").endswith(b"\xff\xd9") or syntax.endswith("1.2.5")
    ds.PixelData = pydicom.encaps.encapsulate([frame[: len(frame) * 2 // 3 // 2 * 2]])
    target = tmp_path / source.name
    ds.save_as(target)
    with pytest.raises(DicomInputError) as caught:
        decode_pixels(target)
    assert caught.value.tag == "PixelData (7FE0,0010)" and caught.value.file == str(target)
    assert "re-export" in caught.value.fix


def test_requantise_keeps_values_within_half_a_step(original):
    f = sorted(original.glob("*.dcm"))[4]
    ds = pydicom.dcmread(f)
    before = ds.pixel_array * float(ds.RescaleSlope)
    requantise(ds, 12)
    after = np.frombuffer(ds.PixelData, "<u2").reshape(before.shape) * float(ds.RescaleSlope)
    assert after.max() == pytest.approx(before.max(), rel=1e-6)
    inside = before >= 0
    assert np.abs(after - before)[inside].max() <= float(ds.RescaleSlope) / 2 * (1 + 1e-9)
    assert np.all(after[~inside] == 0)


def test_wrapped_jpeg_ls_near_lossless_peaks_are_refused(original, tmp_path):
    """A naive encoder (pydicom's buffer path) lets +32767 + error wrap to about -32768."""
    from pydicom.uid import JPEGLSNearLossless

    wrapped = 0
    for f in original.glob("*.dcm"):
        ds = pydicom.dcmread(f)
        before = ds.pixel_array.copy()
        ds.compress(JPEGLSNearLossless, encoding_plugin="pyjpegls", jls_error=2,
                    generate_instance_uid=False)
        ds.save_as(tmp_path / f.name)
        after = pydicom.pixels.pixel_array(str(tmp_path / f.name), decoding_plugin="pyjpegls")
        wrapped += int(np.count_nonzero((before > 32760) & (after < -32760)))
    assert wrapped > 0  # independent decoder (CharLS): the wrap is in the data
    with pytest.raises(DicomInputError) as caught:
        load_pet(tmp_path)
    assert caught.value.tag == TS_TAG and "NEAR 2" in caught.value.problem
    assert "1.2.840.10008.1.2.4.80" in caught.value.fix


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "MR_small_RLE.dcm",
                                  "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm",
                                  "MR_small_implicit.dcm"])
def test_files_encoded_by_other_tools_decode_to_the_uncompressed_values(name):
    """pydicom's bundled MR_small in other syntaxes (big endian goes through pydicom too)."""
    from pydicom.data import get_testdata_file

    plain = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    assert plain.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    want = np.frombuffer(plain.PixelData, "<i2").reshape(plain.Rows, plain.Columns)
    got = decode_pixels(get_testdata_file(name))
    assert got.dtype == np.int16 and got.dtype.isnative and np.array_equal(got, want)
