"""SEG segments that share voxels are refused, or resolved by an explicit policy, never lost.

Truth: the demo's overlapping-SEG variant (nethelpers.demo.variants.overlapping), read a
second time here with plain pydicom + numpy (each segment's voxels and each pair's shared
voxels counted from the frames and their plane positions), and the demo ROI store the
variant was made from.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pydicom
import pytest
import SimpleITK as sitk
from pydicom.sr.codedict import codes

from nethelpers.demo.variants.overlapping import (
    OVERLAP_KINDS,
    WORKSTATION_READER,
    write_overlapping_seg,
)
from nethelpers.dicom.roifile import read_roi_file
from nethelpers.dicom.seg import export_seg, import_seg
from nethelpers.dicom.segoverlap import OVERLAP_POLICIES, SegmentOverlapError
from nethelpers.dicom.volume import load_series
from nethelpers.rois import RoiStore
from tests.test_dicom_seg import ROTATED, describe, foreign_seg, write_pet


def independent_read(path: Path) -> SimpleNamespace:
    """Voxels per segment and per overlapping pair, from the raw frames (pydicom + numpy)."""
    ds = pydicom.dcmread(path)
    n_frames = int(ds.NumberOfFrames)
    frames = ds.pixel_array.reshape(n_frames, int(ds.Rows), int(ds.Columns)).astype(bool)
    by_plane: dict[tuple, dict[int, np.ndarray]] = defaultdict(dict)
    for i, item in enumerate(ds.PerFrameFunctionalGroupsSequence):
        number = int(item.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        plane = tuple(round(float(v), 2) for v in
                      item.PlanePositionSequence[0].ImagePositionPatient)
        masks = by_plane[plane]
        masks[number] = masks.get(number, False) | frames[i]
    counts: Counter[int] = Counter()
    shared: Counter[tuple[int, int]] = Counter()
    for masks in by_plane.values():
        for n, mask in masks.items():
            counts[n] += int(mask.sum())
        for a, b in combinations(sorted(masks), 2):
            shared[(a, b)] += int((masks[a] & masks[b]).sum())
    names = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    return SimpleNamespace(counts=counts, shared={k: v for k, v in shared.items() if v},
                           names=names, overlap_flag=str(ds.get("SegmentsOverlap", "")))


def voxel_ml(pet: Path) -> float:
    """One PET voxel's volume (ml) from its headers: pixel spacing x slice step."""
    heads = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(pet.glob("*.dcm"))]
    z = np.sort([float(h.ImagePositionPatient[2]) for h in heads])
    dy, dx = (float(v) for v in heads[0].PixelSpacing)
    return dx * dy * float(np.median(np.diff(z))) / 1000.0


@pytest.fixture(scope="module")
def demo(ideal_study, tmp_path_factory):
    scans = pd.read_csv(ideal_study / "clinical" / "scans.csv", keep_default_na=False)
    scan = scans[scans["modality"] == "PET/CT"].iloc[0]
    pet = ideal_study / scan["pet_dir"]
    rois = RoiStore(ideal_study / "rois").load(scan["scan_id"])
    out = tmp_path_factory.mktemp("overlap")
    written = {kind: write_overlapping_seg(rois.labels, rois.table, pet, out / f"{kind}.dcm",
                                           kind=kind) for kind in OVERLAP_KINDS}
    return SimpleNamespace(study=ideal_study, scan=scan["scan_id"], pet=pet, rois=rois,
                           out=out, written=written, voxel_ml=voxel_ml(pet),
                           seen={k: independent_read(w.path) for k, w in written.items()})


def label_of(table: pd.DataFrame, name: str) -> int:
    """The label a segment got: by lesion_id for lesions, by region for 'Liver'/'Spleen'."""
    rows = table[(table["lesion_id"] == name) | (table["roi"] == name.lower())]
    assert len(rows) == 1, (name, table)
    return int(rows["label"].iloc[0])


# ---------------------------------------------------------------------------------------
# The demo variant
# ---------------------------------------------------------------------------------------


def test_demo_writes_the_overlap_its_truth_states(demo):
    first_lesion = int(np.count_nonzero(
        demo.rois.array == demo.rois.table[demo.rois.table["roi"] == "lesion"]["label"].iloc[0]))
    for kind, written in demo.written.items():
        seen = demo.seen[kind]
        assert seen.overlap_flag == "YES"
        assert {s["number"]: s["voxels"] for s in written.segments} == dict(seen.counts)
        assert {tuple(o["segments"]): o["voxels"] for o in written.overlaps} == seen.shared
        assert len(seen.shared) == 1
    (pair, n), = demo.seen["lesion-in-liver"].shared.items()
    names = demo.seen["lesion-in-liver"].names
    assert names[pair[0]] == "P001-L01" and names[pair[1]] == "Liver"
    assert n == first_lesion                      # the whole lesion lies inside the liver VOI
    (pair, n), = demo.seen["lesions"].shared.items()
    assert pair == (1, 2) and 0 < n < first_lesion


# ---------------------------------------------------------------------------------------
# Refused by default
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", OVERLAP_KINDS)
def test_overlapping_seg_is_refused_naming_both_segments_and_the_overlap(demo, kind):
    seen = demo.seen[kind]
    (a, b), n = next(iter(seen.shared.items()))
    with pytest.raises(SegmentOverlapError) as err:
        import_seg(demo.written[kind].path, demo.pet)
    text = str(err.value)
    assert f"segment {a} '{seen.names[a]}'" in text and f"{seen.counts[a]} voxels" in text
    assert f"segment {b} '{seen.names[b]}'" in text and f"{seen.counts[b]} voxels" in text
    assert f"share {n} voxels ({n * demo.voxel_ml:.3g} ml;" in text
    assert f"{100 * n / seen.counts[a]:.0f} % of segment {a}" in text
    assert "\n" not in text and str(demo.out) not in text and str(demo.study) not in text
    assert "re-export the SEG" in err.value.fix
    # the policy is offered only where it resolves the overlap (a lesion in a reference)
    assert ("--overlap lesions-win" in err.value.fix) == (kind == "lesion-in-liver")


def test_lesions_win_still_refuses_two_lesions_sharing_voxels(demo):
    seen = demo.seen["lesions"]
    n = seen.shared[(1, 2)]
    with pytest.raises(SegmentOverlapError, match=f"cannot resolve .* share {n} voxels"):
        import_seg(demo.written["lesions"].path, demo.pet, overlap="lesions-win")


def test_unknown_policy_is_refused(demo):
    with pytest.raises(ValueError, match="use one of refuse, lesions-win"):
        import_seg(demo.written["lesions"].path, demo.pet, overlap="later-wins")


# ---------------------------------------------------------------------------------------
# The explicit policy: every lesion whole
# ---------------------------------------------------------------------------------------


def test_lesions_win_keeps_every_lesion_whole(demo):
    seen = demo.seen["lesion-in-liver"]
    (lesion, liver), n = next(iter(seen.shared.items()))
    with pytest.warns(UserWarning, match=f"'Liver' \\(liver\\) gave {n} of its "
                      f"{seen.counts[liver]} voxels"):
        labels, table = import_seg(demo.written["lesion-in-liver"].path, demo.pet,
                                   overlap="lesions-win")
    array = sitk.GetArrayFromImage(labels)
    for number, name in seen.names.items():
        got = int(np.count_nonzero(array == label_of(table, name)))
        assert got == seen.counts[number] - (n if number == liver else 0), name
    # the lesions are exactly the reader's VOIs in the store the SEG was made from
    for name in table.loc[table["roi"] == "lesion", "lesion_id"]:
        np.testing.assert_array_equal(array == label_of(table, name),
                                      demo.rois.array == demo.rois.label_of(lesion_id=name))


def test_reference_inside_lesions_is_refused_even_with_the_policy(tmp_path):
    info = write_pet(tmp_path / "PT", ROTATED)
    stack = np.zeros((*ROTATED.shape, 2), dtype=np.uint8)
    stack[2:8, 2:10, 2:10, 0] = 1                 # a lesion
    stack[3:5, 3:5, 3:5, 1] = 1                   # a "liver" VOI inside it: 8 voxels
    path = foreign_seg(info, stack, [
        describe(1, "L1", codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Neoplasm),
        describe(2, "Liver", codes.SCT.AnatomicalStructure, codes.SCT.Liver)],
        tmp_path / "seg.dcm")
    with pytest.raises(SegmentOverlapError, match="segment 2 'Liver' \\(liver\\) lies entirely"):
        import_seg(path, info.directory, overlap="lesions-win")
    with pytest.raises(SegmentOverlapError, match="share 8 voxels .*100 % of segment 2"):
        import_seg(path, info.directory)


# ---------------------------------------------------------------------------------------
# The reader given, and the command line
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pet_image(demo):
    return load_series(demo.pet)


def test_reader_given_wins_and_the_notes_keep_the_segs_own(demo, pet_image):
    path = demo.written["lesion-in-liver"].path
    rois = read_roi_file(path, pet_image.files, pet_image.image, reader="R2",
                         overlap="lesions-win")
    assert set(rois.table["reader"]) == {"R2"}
    creator = " ".join(WORKSTATION_READER.split("^"))
    assert any(f"'{creator}'" in note and "'R2'" in note for note in rois.notes)
    assert any("gave" in note for note in rois.notes)
    assert not any(str(demo.out) in note for note in rois.notes)
    plain = read_roi_file(path, pet_image.files, pet_image.image, overlap="lesions-win")
    assert set(plain.table["reader"]) == {creator}


def test_own_seg_rows_keep_their_reader_and_label_images_take_the_given_one(demo, pet_image,
                                                                            tmp_path):
    seg = export_seg(demo.rois.labels, demo.rois.table, demo.pet, tmp_path / "own.dcm")
    own = read_roi_file(seg, pet_image.files, pet_image.image, reader="R2")
    assert own.table["reader"].tolist() == demo.rois.table["reader"].tolist() == ["R1"] * len(
        demo.rois.table)
    nrrd = tmp_path / "labels.nrrd"
    sitk.WriteImage(demo.rois.labels, str(nrrd))
    image = read_roi_file(nrrd, pet_image.files, pet_image.image, reader="R2")
    assert set(image.table["reader"]) == {"R2"}
    assert any("the label image names no reader" in note for note in image.notes)


def test_cli_refuses_in_one_line_then_imports_with_the_policy(demo, tmp_path, capsys):
    from nethelpers.cli import main

    shutil.copytree(demo.study / "rois", tmp_path / "rois")
    params = tmp_path / "p.yaml"
    params.write_text(f"study:\n  name: demo\n  data_root: {demo.study}\n"
                      f"  rois: {tmp_path / 'rois'}\n")
    seen = demo.seen["lesion-in-liver"]
    seg = str(demo.written["lesion-in-liver"].path)
    args = ["rois", "import-seg", demo.scan, seg, "--reader", "R2", "-f", str(params)]
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and str(demo.out) not in err
    assert "segment 1 'P001-L01'" in err and "segment 6 'Liver'" in err
    store = RoiStore(tmp_path / "rois")
    assert store.latest(demo.scan).version == 1                # nothing saved ...
    assert store.readers(demo.scan) == ["R1"]                  # ... R2 has no set yet

    assert main([*args, "--overlap", "lesions-win"]) == 0
    saved = store.load(demo.scan)                              # the newest set: R2's own
    assert saved.version.version == 1 and saved.version.reader == "R2"
    assert store.latest(demo.scan, reader="R1").version == 1   # R1's set untouched
    assert set(saved.table["reader"]) == {"R2"}
    assert "'Workstation Reader'" in saved.version.note and "gave" in saved.version.note
    (lesion, liver), n = next(iter(seen.shared.items()))
    for number, name in seen.names.items():
        got = int(np.count_nonzero(saved.array == label_of(saved.table, name)))
        assert got == seen.counts[number] - (n if number == liver else 0), name


@pytest.mark.parametrize("action", ["import", "import-seg"])
def test_cli_offers_exactly_the_policies_and_refuses_by_default(action):
    from nethelpers.cli import build_parser

    base = ["rois", action, "S1", "seg.dcm", "--reader", "R2", "-f", "p.yaml"]
    assert build_parser().parse_args(base).overlap == "refuse"
    for policy in OVERLAP_POLICIES:
        assert build_parser().parse_args([*base, "--overlap", policy]).overlap == policy
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--overlap", "later-wins"])
