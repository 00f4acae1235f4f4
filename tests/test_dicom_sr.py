"""DICOM SR TID 1500 export and reading (nethelpers.dicom.sr): values, structure, references.

The written SR is read back three ways: by an independent plain-pydicom walk of the content
tree written here (codes spelled out by hand, not taken from the module), by highdicom's
parsers, and by read_sr_measurements; its structure is compared with dcmqi's reference SR
(/work/shared/reference/dcmqi_sr_example, made by 3D Slicer / dcmqi from a QIN-HEADNECK PET).
"""

from __future__ import annotations

import math
import shutil
import subprocess
import warnings
from pathlib import Path
from types import SimpleNamespace

import highdicom as hd
import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.codedict import codes

from nethelpers.dicom import load_pet
from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.seg import export_seg
from nethelpers.dicom.sr import export_sr, read_sr_measurements
from nethelpers.quantify import measure_rois
from tests.test_dicom_seg import ROTATED, make_rois, write_pet

REFERENCE = Path("/work/shared/reference/dcmqi_sr_example")
SUL_FACTOR = 0.8123          # SUL / SUV of the test scan: sul_* columns are filled

# The measurement-table column -> (concept, derivation or None, UCUM unit) the SR must hold,
# spelled out here from PS3.16 (CID 7180, 7464, 7466, 7469, 85), not from the module.
SUVBW, SUL = ("126401", "DCM"), ("126405", "DCM")
MEAN, MAX, PEAK, SD = ("373098007", "SCT"), ("56851009", "SCT"), ("126031", "DCM"), \
    ("386136009", "SCT")
EXPECTED = {
    "suv_mean": (SUVBW, MEAN, "{SUVbw}g/ml"),
    "suv_max": (SUVBW, MAX, "{SUVbw}g/ml"),
    "suv_peak": (SUVBW, PEAK, "{SUVbw}g/ml"),
    "suv_sd": (SUVBW, SD, "{SUVbw}g/ml"),
    "volume_ml": (("118565006", "SCT"), None, "ml"),
    "mtv_ml": (("126032", "DCM"), None, "ml"),
    "tla": (("126033", "DCM"), None, "g"),
    "sul_mean": (SUL, MEAN, "{SUVlbm(Janma)}g/ml"),
    "sul_max": (SUL, MAX, "{SUVlbm(Janma)}g/ml"),
    "sul_peak": (SUL, PEAK, "{SUVlbm(Janma)}g/ml"),
}
# SNOMED-RT codes of the 2015 dcmqi reference and their SNOMED CT successors (PS3.16 Annex O)
SRT_TO_SCT = {"G-C036": "370129005", "G-C0E3": "363698007", "G-D705": "118565006",
              "R-00317": "373098007", "G-A437": "56851009", "R-10047": "386136009",
              "R-404FB": "255605001", "R-00319": "373099004"}
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


# ---------------------------------------------------------------------------------------
# An independent reading of the content tree (plain pydicom, codes as tuples)
# ---------------------------------------------------------------------------------------


def code(seq) -> tuple[str, str]:
    c = seq[0]
    value = c.get("CodeValue") or c.get("LongCodeValue")
    scheme = c.CodingSchemeDesignator
    if scheme == "SRT" and value in SRT_TO_SCT:
        return SRT_TO_SCT[value], "SCT"
    return str(value), str(scheme)


def name(item) -> tuple[str, str]:
    return code(item.ConceptNameCodeSequence)


def child(item, concept: tuple[str, str]):
    hits = [c for c in item.get("ContentSequence", []) if name(c) == concept]
    return hits[0] if hits else None


def groups_of(ds) -> list:
    imaging = child(ds, ("126010", "DCM"))
    return [g for g in imaging.ContentSequence if name(g) == ("125007", "DCM")]


def walk_group(group) -> dict:
    """Tracking, segment reference and every NUM item of one measurement group."""
    out: dict = {"nums": {}}
    for item in group.ContentSequence:
        key = name(item)
        if key == ("112039", "DCM"):
            out["tracking_id"] = str(item.TextValue)
        elif key == ("112040", "DCM"):
            out["tracking_uid"] = str(item.UID)
        elif key == ("121232", "DCM"):
            out["source_series"] = str(item.UID)
        elif key == ("121191", "DCM"):
            ref = item.ReferencedSOPSequence[0]
            out["segment"] = (str(ref.ReferencedSOPClassUID), str(ref.ReferencedSOPInstanceUID),
                              int(ref.ReferencedSegmentNumber))
        elif key == ("121071", "DCM"):
            out["finding"] = code(item.ConceptCodeSequence)
        elif item.ValueType == "NUM":
            derivation = child(item, ("121401", "DCM"))
            mv = item.MeasuredValueSequence[0]
            unit = mv.MeasurementUnitsCodeSequence[0]
            nkey = (key, code(derivation.ConceptCodeSequence) if derivation else None)
            assert nkey not in out["nums"], f"{nkey} twice in one group"
            out["nums"][nkey] = (float(mv.FloatingPointValue), float(mv.NumericValue),
                                 str(unit.get("CodeValue") or unit.LongCodeValue))
    return out


def all_referenced_uids(ds) -> set[str]:
    """Every ReferencedSOPInstanceUID anywhere in the dataset (content tree and evidence)."""
    found = set()
    for elem in ds.iterall():
        if elem.keyword == "ReferencedSOPInstanceUID":
            found.add(str(elem.value))
    return found


def roi_name(row: pd.Series) -> str:
    return row["lesion_id"] if row["roi"] == "lesion" else row["roi"]


# ---------------------------------------------------------------------------------------
# The scan: a small PET, its ROIs as SEG, measure_rois, the SR
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scan(tmp_path_factory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("sr")
    info = write_pet(tmp / "PT", ROTATED)
    labels, table = make_rois(ROTATED)
    seg = export_seg(labels, table, info.directory, tmp / "seg.dcm")
    suv, _ = load_pet(info.directory)
    measured = measure_rois(sitk.GetArrayFromImage(suv), sitk.GetArrayFromImage(labels),
                            table, suv.GetSpacing(), sul_factor=SUL_FACTOR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # every row has a segment
        sr = export_sr(measured, seg, info.directory, tmp / "out" / "sr.dcm")
    pet = [pydicom.dcmread(f, stop_before_pixels=True) for f in info.files]
    return SimpleNamespace(tmp=tmp, info=info, seg=seg, measured=measured, sr=sr, pet=pet,
                           seg_ds=pydicom.dcmread(seg, stop_before_pixels=True),
                           sr_ds=pydicom.dcmread(sr))


# ---------------------------------------------------------------------------------------
# The dcmqi reference SR
# ---------------------------------------------------------------------------------------


def test_reference_sr_gives_the_published_values():
    table = read_sr_measurements(REFERENCE / "sr.dcm")
    seg = pydicom.dcmread(REFERENCE / "seg.dcm", stop_before_pixels=True)
    assert len(table) == 22                      # 10 SUVbw statistics + 12 other NUM items
    assert table["group"].unique().tolist() == [1]
    suv = table[table["concept"] == "SUVbw"].set_index("statistic")["value"]
    assert suv["mean"] == 6.01529
    assert suv["min"] == 2.91136
    assert suv["max"] == 10.3814
    assert suv["peak"] == 9.45534
    assert suv["sd"] == 1.62653
    assert suv["median"] == 5.71824
    assert set(table.loc[table["concept"] == "SUVbw", "unit"]) == {"{SUVbw}g/ml"}
    volume = table[table["concept"] == "Volume"].iloc[0]
    assert (volume["value"], volume["unit"]) == (33.5824, "ml")
    assert volume["method"] == "Sum of segmented voxel volumes"
    tlg = table[table["concept"] == "Total Lesion Glycolysis"].iloc[0]
    assert (tlg["value"], tlg["unit"]) == (202.008, "g")
    # independent arithmetic from the README: 795 voxels of 3.537818^2 x 3.375 mm3; TLG = mean x V
    assert abs(795 * 3.537818 ** 2 * 3.375 / 1000 - 33.5824) < 5e-5
    assert abs(6.01529 * 33.5824 - 202.008) < 5e-4
    first = table.iloc[0]
    assert first["tracking_id"] == "primary tumor"
    assert first["tracking_uid"] == "2.25.318774060119084600392715520575818119084"
    assert first["finding"] == "Neoplasm, Primary"
    assert first["finding_site"] == "pharyngeal tonsil (adenoid)"
    assert first["segmentation_uid"] == seg.SOPInstanceUID
    assert first["segment_number"] == 1
    assert first["source_series_uid"] == seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    assert suv.index.tolist()[:5] == ["mean", "min", "max", "peak", "sd"]


# ---------------------------------------------------------------------------------------
# (a) Values and units, by an independent pydicom walk
# ---------------------------------------------------------------------------------------


def test_every_finite_value_is_in_its_group_with_its_unit(scan):
    groups = [walk_group(g) for g in groups_of(scan.sr_ds)]
    assert [g["tracking_id"] for g in groups] == [roi_name(r) for _, r in
                                                  scan.measured.iterrows()]
    worst_ds = 0.0
    n_values = 0
    for (_, row), group in zip(scan.measured.iterrows(), groups, strict=True):
        expected = {}
        for column, (concept, derivation, unit) in EXPECTED.items():
            value = float(row[column])
            if math.isfinite(value):
                expected[(concept, derivation)] = (value, unit)
        assert set(group["nums"]) == set(expected), roi_name(row)
        for key, (value, unit) in expected.items():
            fd, ds, written_unit = group["nums"][key]
            assert fd == value                        # FloatingPointValue: the float64 itself
            worst_ds = max(worst_ds, abs(ds - value) / max(abs(value), 1e-300))
            assert written_unit == unit
            n_values += 1
    # DS NumericValue (16 characters) keeps >= 14 significant digits at these magnitudes
    assert worst_ds < 1e-13
    assert n_values == 51          # 6 ROIs: 4 SUV + volume + 3 SUL each, minus 1 SD (one
    #                                voxel), plus MTV and TLA for the 2 lesions
    lesion = scan.measured[scan.measured["roi"] == "lesion"]
    assert lesion["mtv_ml"].notna().all() and scan.measured["suv_sd"].isna().sum() == 1


def test_groups_reference_their_segment_and_the_pet_series(scan):
    seg = scan.seg_ds
    pet_series = scan.pet[0].SeriesInstanceUID
    by_number = {int(s.SegmentNumber): s for s in seg.SegmentSequence}
    for group in (walk_group(g) for g in groups_of(scan.sr_ds)):
        sop_class, sop_uid, number = group["segment"]
        assert (sop_class, sop_uid) == (SEG_STORAGE, seg.SOPInstanceUID)
        segment = by_number[number]
        assert group["tracking_id"] == segment.TrackingID == segment.SegmentLabel
        assert group["tracking_uid"] == segment.TrackingUID
        assert group["finding"] == code(segment.SegmentedPropertyTypeCodeSequence)
        assert group["source_series"] == pet_series
    numbers = [walk_group(g)["segment"][2] for g in groups_of(scan.sr_ds)]
    assert numbers == sorted(by_number)       # every segment once, in segment order


def test_read_sr_measurements_round_trip(scan):
    table = read_sr_measurements(scan.sr)
    assert len(table) == 51
    stats = {MEAN: "mean", MAX: "max", PEAK: "peak", SD: "sd", None: ""}
    concept_names = {SUVBW: "SUVbw", SUL: "SUVlbm(Janma)", ("118565006", "SCT"): "Volume",
                     ("126032", "DCM"): "Metabolic Volume",
                     ("126033", "DCM"): "Total Lesion Glycolysis"}
    for _, row in scan.measured.iterrows():
        mine = table[table["tracking_id"] == roi_name(row)]
        for column, (concept, derivation, unit) in EXPECTED.items():
            hit = mine[(mine["concept"] == concept_names[concept])
                       & (mine["statistic"] == stats[derivation])]
            if math.isfinite(row[column]):
                assert hit["value"].tolist() == [row[column]], column
                assert hit["unit"].tolist() == [unit]
            else:
                assert hit.empty, column
    assert set(table["segmentation_uid"]) == {scan.seg_ds.SOPInstanceUID}
    assert table.groupby("tracking_id")["segment_number"].first().to_dict() == {
        s.SegmentLabel: int(s.SegmentNumber) for s in scan.seg_ds.SegmentSequence}
    suv = table[table["concept"] == "SUVbw"]
    assert set(suv["method"]) == {"SUV body weight calculation method"}
    sul = table[table["concept"] == "SUVlbm(Janma)"]
    assert set(sul["method"]) == {"SUV lean body mass calculation Janmahasatian method"}


# ---------------------------------------------------------------------------------------
# (b) highdicom parses it (and the reference the same way)
# ---------------------------------------------------------------------------------------


def test_highdicom_parses_the_report(scan):
    sr = hd.sr.srread(scan.sr)
    assert isinstance(sr, hd.sr.ComprehensiveSR)
    report = sr.content
    assert report.get_planar_roi_measurement_groups() == []
    groups = report.get_volumetric_roi_measurement_groups()
    assert len(groups) == len(scan.measured)
    for group, (_, row) in zip(groups, scan.measured.iterrows(), strict=True):
        assert group.tracking_identifier == roi_name(row)
        assert group.reference_type == codes.DCM.ReferencedSegment
        ref = group.referenced_segment
        assert ref.referenced_sop_instance_uid == scan.seg_ds.SOPInstanceUID
        assert ref.source_series_for_segmentation.value == scan.pet[0].SeriesInstanceUID
        assert group.method == codes.DCM.SUVBodyWeightCalculationMethod
        if row["roi"] == "lesion":
            assert group.finding_type == codes.SCT.Neoplasm
            assert group.finding_sites == []
        suv = group.get_measurements(name=codes.DCM.Suvbw)
        (suv_max,) = [m for m in suv if m.derivation == codes.SCT.Maximum]
        (suv_mean,) = [m for m in suv if m.derivation == codes.SCT.Mean]
        assert (suv_max.value, suv_mean.value) == (row["suv_max"], row["suv_mean"])
        assert {m.unit.value for m in suv} == {"{SUVbw}g/ml"}
        (volume,) = group.get_measurements(name=codes.SCT.Volume)
        assert volume.value == row["volume_ml"]
        assert volume.method == codes.DCM.SumOfSegmentedVoxelMethodForVolume
    liver = groups[0]
    assert [s.value for s in liver.finding_sites] == [codes.SCT.Liver]


def test_highdicom_parses_the_reference_the_same_way():
    report = hd.sr.srread(REFERENCE / "sr.dcm").content
    (group,) = report.get_volumetric_roi_measurement_groups()
    assert group.tracking_identifier == "primary tumor"
    assert group.referenced_segment.referenced_segment_numbers == [1]
    means = [m.value for m in group.get_measurements(name=codes.DCM.Suvbw)
             if m.derivation == codes.SCT.Mean]
    assert means == [6.01529]
    assert group.method == codes.DCM.SUVBodyWeightCalculationMethod


# ---------------------------------------------------------------------------------------
# (c) The structure of dcmqi's reference SR
# ---------------------------------------------------------------------------------------


def kinds(item) -> list[tuple[str, str, tuple[str, str]]]:
    """(relationship, value type, concept) of an item's non-NUM children, in order."""
    return [(c.RelationshipType, c.ValueType, name(c)) for c in item.ContentSequence
            if c.ValueType != "NUM"]


def num_kinds(group) -> set:
    """(concept, derivation, unit, per-measurement method) of a group's NUM items."""
    out = set()
    for item in group.ContentSequence:
        if item.ValueType != "NUM":
            continue
        derivation = child(item, ("121401", "DCM"))
        method = child(item, ("370129005", "SCT"))
        unit = item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0]
        out.add((name(item), code(derivation.ConceptCodeSequence) if derivation else None,
                 str(unit.get("CodeValue") or unit.LongCodeValue),
                 code(method.ConceptCodeSequence) if method else None))
    return out


def is_subsequence(short: list, long: list) -> bool:
    it = iter(long)
    return all(any(x == y for y in it) for x in short)


def test_structure_follows_the_dcmqi_reference(scan):
    ref = pydicom.dcmread(REFERENCE / "sr.dcm")
    ours = scan.sr_ds
    for ds in (ref, ours):
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.33"       # Comprehensive SR
        assert name(ds) == ("126000", "DCM")
        template = ds.ContentTemplateSequence[0]
        assert (template.MappingResource, template.TemplateIdentifier) == ("DCMR", "1500")
        procedure = child(ds, ("121058", "DCM"))
        assert procedure.RelationshipType == "HAS CONCEPT MOD"
        assert code(procedure.ConceptCodeSequence) == ("44139-4", "LN")
        assert child(ds, ("121005", "DCM")).RelationshipType == "HAS OBS CONTEXT"
        for group in groups_of(ds):
            template = group.ContentTemplateSequence[0]
            assert (template.MappingResource, template.TemplateIdentifier) == ("DCMR", "1411")
            assert group.ContinuityOfContent == "SEPARATE"
    root_kinds = {k for k in kinds(ours) if k[2][0] not in ("121012", "121013", "121014",
                                                            "121015")}   # device observer
    assert root_kinds <= set(kinds(ref))          # language, observer type, procedure,
    assert len(root_kinds) == 5                   # image library, imaging measurements

    (ref_group,) = groups_of(ref)
    ref_kinds = kinds(ref_group)
    ref_nums = num_kinds(ref_group)
    needed = {("112039", "DCM"), ("112040", "DCM"), ("121071", "DCM"), ("121191", "DCM"),
              ("121232", "DCM"), ("370129005", "SCT")}
    for group in groups_of(ours):
        mine = kinds(group)
        assert needed <= {k[2] for k in mine}
        assert is_subsequence(mine, ref_kinds), mine       # same items, relations, order
        shared = {n for n in num_kinds(group) if n[0] in (SUVBW, ("118565006", "SCT"),
                                                          ("126033", "DCM"))}
        assert shared and shared <= ref_nums, shared - ref_nums
    # both reference the same kinds of instances through the same evidence sequence
    for ds, n_pet in ((ref, 191), (ours, len(scan.pet))):
        classes = [s.ReferencedSOPClassUID for e in ds.CurrentRequestedProcedureEvidenceSequence
                   for r in e.ReferencedSeriesSequence for s in r.ReferencedSOPSequence]
        assert classes.count("1.2.840.10008.5.1.4.1.1.128") == n_pet
        assert classes.count(SEG_STORAGE) == 1
        library = child(ds, ("111028", "DCM"))
        entries = [i for g in library.ContentSequence for i in g.ContentSequence
                   if i.ValueType == "IMAGE"]
        assert len(entries) == n_pet


# ---------------------------------------------------------------------------------------
# (d) References: every referenced instance exists
# ---------------------------------------------------------------------------------------


def test_every_reference_is_an_instance_of_the_seg_or_the_pet(scan):
    pet_uids = {str(ds.SOPInstanceUID) for ds in scan.pet}
    known = pet_uids | {str(scan.seg_ds.SOPInstanceUID)}
    referenced = all_referenced_uids(scan.sr_ds)
    assert referenced == known          # nothing else referenced, nothing left out
    evidence = {(str(r.SeriesInstanceUID), str(s.ReferencedSOPInstanceUID),
                 str(s.ReferencedSOPClassUID))
                for e in scan.sr_ds.CurrentRequestedProcedureEvidenceSequence
                for r in e.ReferencedSeriesSequence for s in r.ReferencedSOPSequence}
    files = {(str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), str(ds.SOPClassUID))
             for ds in [*scan.pet, scan.seg_ds]}
    assert evidence == files
    assert "PertinentOtherEvidenceSequence" not in scan.sr_ds
    for keyword in ("StudyInstanceUID", "PatientID", "PatientName"):
        assert scan.sr_ds[keyword].value == scan.pet[0][keyword].value


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools not installed")
def test_dciodvfy_finds_no_error(scan):
    result = subprocess.run(["dciodvfy", str(scan.sr)], capture_output=True, text=True,
                            timeout=60, check=False)
    lines = (result.stdout + result.stderr).splitlines()
    assert lines and lines[0].strip() == "ComprehensiveSR"
    assert [ln for ln in lines if ln.startswith("Error")] == []


# ---------------------------------------------------------------------------------------
# Options, left-out rows, refusals
# ---------------------------------------------------------------------------------------


def test_rows_without_segment_or_value_are_left_out(scan):
    table = scan.measured.copy()
    extra = table[table["roi"] == "lesion"].iloc[[0]].assign(lesion_id="P001-L99")
    table = pd.concat([table, extra], ignore_index=True)
    lesion = table.index[table["lesion_id"] == "P001-L03"][0]
    table.loc[lesion, "suv_peak"] = np.nan
    with pytest.warns(UserWarning, match="'P001-L99'.*left out"):
        out = export_sr(table, scan.seg, scan.info.directory, scan.tmp, sul_norm=None)
    assert out.parent == scan.tmp and out.name.startswith("SR_")
    assert list(scan.tmp.glob(".*.tmp")) == []           # atomic write left nothing behind
    got = read_sr_measurements(out)
    assert "P001-L99" not in set(got["tracking_id"])
    l03 = got[got["tracking_id"] == "P001-L03"]
    assert "peak" not in set(l03.loc[l03["concept"] == "SUVbw", "statistic"])
    assert "SUVlbm(Janma)" not in set(got["concept"])
    assert len(got) == 51 - 1 - 18                        # no peak of L03, no SUL items


@pytest.mark.parametrize(("norm", "concept", "unit", "tlg_unit", "method"), [
    ("bsa", "SUVbsa", "{SUVbsa}cm2/ml", "cm2", "SUV body surface area calculation method"),
    ("lbm", "SUVlbm(Janma)", "{SUVlbm(Janma)}g/ml", "g",
     "SUV lean body mass calculation Janmahasatian method"),
])
def test_suv_norm_sets_concept_unit_and_method(scan, norm, concept, unit, tlg_unit, method):
    out = export_sr(scan.measured, scan.seg, scan.info.directory, scan.tmp / f"{norm}.dcm",
                    suv_norm=norm)
    got = read_sr_measurements(out)
    suv = got[got["concept"] == concept]
    assert set(suv["unit"]) == {unit} and set(suv["method"]) == {method}
    assert len(suv) == 23                                  # 4 statistics x 6 ROIs - 1 SD
    assert set(got.loc[got["concept"] == "Total Lesion Glycolysis", "unit"]) == {tlg_unit}
    assert "SUVbw" not in set(got["concept"])
    # SUL (sul_norm lbm) is written apart from the SUVs only when its norm differs
    assert (got["concept"] == "SUVlbm(Janma)").sum() == (23 if norm == "lbm" else 3 * 6)


def test_refusals(scan, tmp_path):
    other = write_pet(tmp_path / "other", ROTATED, seed="another-pet")
    with pytest.raises(DicomInputError, match="SEG references series") as exc:
        export_sr(scan.measured, scan.seg, other.directory, tmp_path / "x.dcm")
    assert scan.pet[0].SeriesInstanceUID in str(exc.value) and exc.value.fix
    with pytest.raises(DicomInputError, match="not a Segmentation") as exc:
        export_sr(scan.measured, scan.info.files[0], scan.info.directory, tmp_path / "x.dcm")
    assert exc.value.tag == "SOPClassUID (0008,0016)"
    with pytest.raises(DicomInputError, match="not a structured report"):
        read_sr_measurements(scan.info.files[0])
    two_scans = scan.measured.assign(scan_id=["a", "b"] * 3)
    with pytest.raises(ValueError, match="hold 2 scans"):
        export_sr(two_scans, scan.seg, scan.info.directory, tmp_path / "x.dcm")
    with pytest.raises(ValueError, match="unknown SUV normalisation"):
        export_sr(scan.measured, scan.seg, scan.info.directory, tmp_path / "x.dcm",
                  suv_norm="kg")
    strangers = scan.measured.assign(lesion_id="nobody", roi="lesion")
    with pytest.warns(UserWarning), pytest.raises(DicomInputError, match="would be empty"):
        export_sr(strangers, scan.seg, scan.info.directory, tmp_path / "x.dcm")
    assert not (tmp_path / "x.dcm").exists()


def test_segments_of_another_tools_seg():
    """dcmqi's SEG has no TrackingID/UID: the label names the segment, the UID is derived."""
    from nethelpers.dicom.srinputs import read_seg, segments

    seg = read_seg(REFERENCE / "seg.dcm")
    (segment,) = segments(seg)
    assert (segment.number, segment.ours) == (1, None)
    assert segment.tracking_id == "Neoplasm, Primary"
    assert segment.matches("lesion", "Neoplasm, Primary")
    assert not segment.matches("lesion", "primary tumor")
    assert (segment.finding.value, segment.finding.scheme_designator) == ("M-80003", "SRT")
    assert segment.tracking_uid == segments(seg)[0].tracking_uid        # stable
    assert pydicom.uid.UID(segment.tracking_uid).is_valid
