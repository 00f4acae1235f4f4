"""Symbolic links in a DICOM tree: followed once, loops and dangling links noted once (issue 15).

The tree holds a real PET/CT study, a link to its PET folder (a PACS export sharing a series),
a link to a patient folder kept outside the tree, a loop to the folder the link is in, a loop
to a folder above it, and a dangling link. The index, ``tree_digest`` and ``nethelpers init``
must list every DICOM file exactly once, and name each link they do not follow once, relative
to the root; the expected listing is computed by a second, independent walk
(``os.walk(followlinks=False)`` + ``os.path.realpath``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd
import pydicom
import pytest

from nethelpers.demo import dicomwrite as dw
from nethelpers.dicom import index_tree, summarise_index
from nethelpers.files import tree_digest
from nethelpers.studyinit import init_study, summary_text
from nethelpers.treewalk import walk_tree
from tests.test_dicomwrite import CT, GRID, PATIENT, STUDY, activity, hounsfield, pet_series

pytestmark = pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt",
                                reason="needs POSIX symbolic links")

#: The links of the tree that are not followed, and why (relative to the root).
NOT_FOLLOWED = {"P1/here": "loop", "P1/pet/top": "loop", "P1/gone": "dangling",
                "shared_pet": "duplicate"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """export/ (the DICOM root) and outside/ (a patient folder linked into it)."""
    base = tmp_path_factory.mktemp("links")
    root, outside = base / "export", base / "outside"
    scanner = dw.SCANNERS["siemens_vision"]
    dw.write_pet_series(activity(GRID), GRID, PATIENT, STUDY, scanner, pet_series(),
                        root / "P1" / "pet")
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, STUDY, scanner, CT, root / "P1" / "ct")
    later = dataclasses.replace(STUDY, study_uid=dw.make_uid("links-study-2"),
                                frame_of_reference_uid=dw.make_uid("links-for-2"))
    dw.write_pet_series(activity(GRID, 1), GRID, PATIENT, later, scanner,
                        pet_series(series_uid_seed="links-pet-2"), outside / "P2" / "pet")
    dw.write_ct_series(hounsfield(GRID), GRID, PATIENT, later, scanner,
                       dataclasses.replace(CT, series_uid_seed="links-ct-2"),
                       outside / "P2" / "ct")
    (root / "shared_pet").symlink_to(Path("P1") / "pet", target_is_directory=True)
    (root / "P2").symlink_to(outside / "P2", target_is_directory=True)   # legitimate
    (root / "P1" / "here").symlink_to(".", target_is_directory=True)
    (root / "P1" / "pet" / "top").symlink_to(Path("..") / "..", target_is_directory=True)
    (root / "P1" / "gone").symlink_to(root / "nowhere")
    return root


def _independent_listing(root: Path) -> set[str]:
    """Real paths of every file reachable from ``root``, by a walk that follows no link.

    Links to folders are walked from their real path, each real folder once; links to
    nothing are dropped.
    """
    files: set[str] = set()
    todo, walked = [os.path.realpath(root)], set()
    while todo:
        top = todo.pop()
        for folder, dirs, names in os.walk(top, followlinks=False):
            if os.path.realpath(folder) in walked:
                dirs[:] = []
                continue
            walked.add(os.path.realpath(folder))
            for name in dirs + names:
                path = os.path.join(folder, name)
                real = os.path.realpath(path)
                if os.path.isdir(real) and os.path.islink(path):
                    todo.append(real)
                elif os.path.isfile(real):
                    files.add(real)
    return files


def test_independent_walk_sees_a_tree_of_48_files(tree):
    files = _independent_listing(tree)
    assert len(files) == 4 * GRID.shape[0]           # 4 series of one file per slice
    assert all(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID for f in files)


def test_index_lists_every_file_once_and_notes_each_link_once(tree):
    series = index_tree(tree, workers=1)
    listed = [os.path.realpath(tree / rel) for rels in series["files"] for rel in rels]
    assert len(listed) == len(set(listed))           # no file twice
    assert set(listed) == _independent_listing(tree)
    assert len(series) == 4
    assert (series["qc"] == "ok").all(), series["qc_reasons"].tolist()
    assert not series["qc_reasons"].str.contains("unreadable").any()
    # a series reached through a link and through its real path is listed under the real one
    assert sorted(series["directory"]) == ["P1/ct", "P1/pet", "P2/ct", "P2/pet"]
    notes = series.attrs["stats"]["notes"]
    assert {note.path: note.kind for note in notes} == NOT_FOLLOWED
    assert len(notes) == len(NOT_FOLLOWED)           # one note each
    by_path = {note.path: str(note) for note in notes}
    assert by_path["P1/here"] == ("P1/here: symbolic link loop, not followed (points to the "
                                  "folder it is in)")
    assert "points to the root folder, a folder above it" in by_path["P1/pet/top"]
    assert by_path["shared_pet"].endswith("(same folder as P1/pet)")
    summary = summarise_index(series)
    for text in by_path.values():
        assert f"note: {text}" in summary
    assert str(tree.parent) not in summary           # never an absolute path


def test_tree_digest_counts_each_file_once(tree):
    digest = tree_digest(tree)
    files = _independent_listing(tree)
    assert digest["files"] == len(files)
    assert digest["bytes"] == sum(os.path.getsize(f) for f in files)


def test_a_link_to_a_file_listed_elsewhere_is_counted_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "IM1").write_bytes(b"x" * 7)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "IM1").symlink_to(tmp_path / "a" / "IM1")      # inside the tree
    (tmp_path / "b" / "IM2").symlink_to(tmp_path / "a" / "IM1")      # twice
    os.mkfifo(tmp_path / "b" / "pipe")                                # never opened
    walk = walk_tree(tmp_path)
    assert [rel for rel, _, _ in walk.files] == [os.path.join("a", "IM1")]
    assert sorted((n.path, n.kind, n.detail) for n in walk.notes) == [
        ("b/IM1", "duplicate", "same file as a/IM1"),
        ("b/IM2", "duplicate", "same file as a/IM1"),
        ("b/pipe", "special", ""),
    ]


def test_init_follows_links_like_the_index(tree, tmp_path):
    result = init_study(tree, tmp_path / "study", workers=1)
    assert len(result.scans) == 2                    # P1's study and the linked-in P2's
    pet_dirs = sorted(os.path.normpath(tmp_path / "study" / d) for d in result.scans["pet_dir"])
    assert pet_dirs == [str(tree / "P1" / "pet"), str(tree / "P2" / "pet")]   # through the link
    notes = pd.read_csv(tmp_path / "study" / "private" / "init_walk_notes.csv")
    assert dict(zip(notes["path"], notes["kind"], strict=True)) == NOT_FOLLOWED
    assert (tmp_path / "study" / "private" / "init_walk_notes.csv").stat().st_mode & 0o077 == 0
    text = summary_text(result)
    assert ("skipped in the DICOM tree: dangling symbolic links 1, links to files listed under "
            "another path 1, symbolic link loops 2") in text
    assert not any(path in text for path in NOT_FOLLOWED)   # folder names stay private
