"""Every ``nethelpers`` subcommand refuses a bad value in one line, never a traceback (issue 15).

Each case drives :func:`nethelpers.cli.main` in-process with one bad value and checks the
exit code (2: the input is refused, 1: the run failed), that stderr holds no traceback, and
that the message names the option or the file to fix. Paths under the folders given on the
command line are shown relative to them: no absolute path of the test's folder is printed.
"""

from __future__ import annotations

import errno
import os

import pytest

from nethelpers import cli
from nethelpers.cli import main


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``nethelpers argv`` (argparse exits through SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _last_line(err: str) -> str:
    lines = err.strip().splitlines()
    return lines[-1] if lines else ""


@pytest.fixture
def files(tmp_path):
    """A parameters file that does not exist, one that is not YAML, a folder of junk."""
    junk = tmp_path / "export" / "series"
    junk.mkdir(parents=True)
    (junk / "IM0001").write_bytes(b"not a DICOM file at all" * 10)
    (tmp_path / "bad.yaml").write_text("study: [unclosed\n")
    (tmp_path / "ok.yaml").write_text(f"study:\n  name: t\n  data_root: {tmp_path}\n"
                                      f"report:\n  output: {tmp_path / 'out'}\n")
    (tmp_path / "empty").mkdir()
    return {"tmp": tmp_path, "missing": str(tmp_path / "nope.yaml"),
            "bad": str(tmp_path / "bad.yaml"), "junk": str(junk), "ok": str(tmp_path / "ok.yaml"),
            "empty": str(tmp_path / "empty"), "absent": str(tmp_path / "absent")}


# (argv with {placeholders}, exit code, text the message must hold)
ARGPARSE = [
    (["demo", "--patients", "0"], "argument --patients: '0' is not a whole number"),
    (["demo", "--workers", "-2"], "argument --workers"),
    (["init", "{empty}", "-o", "{tmp}/study", "--workers", "0"], "argument --workers"),
    (["index", "{empty}", "--slice-tolerance", "0.7"],
     "argument --slice-tolerance: '0.7' is not a fraction of the slice spacing in [0, 0.5)"),
    (["index", "{empty}", "--slice-tolerance", "abc"], "argument --slice-tolerance"),
    (["suv", "{junk}", "-o", "suv.png"], "argument -o/--output: 'suv.png' is not an image"),
    (["suv", "{junk}", "-o", "suv.nii.gz", "--injection", "10:10"], "argument --injection"),
    (["measure", "{junk}", "rois.nii.gz", "--slice-tolerance", "-1"],
     "argument --slice-tolerance"),
    (["quantify", "-f", "{missing}", "--workers", "0"], "argument --workers"),
    (["rois", "restore", "S1", "x", "-f", "{missing}", "--reader", "R1"],
     "argument version: invalid int value: 'x'"),
]


@pytest.mark.parametrize(("argv", "text"), ARGPARSE, ids=[" ".join(a[:2]) for a, _ in ARGPARSE])
def test_a_bad_option_value_is_refused_by_argparse(argv, text, files, capsys):
    code, err = _run([a.format(**files) for a in argv], capsys)
    assert code == 2
    assert text in _last_line(err)
    assert _last_line(err).startswith(f"nethelpers {argv[0]}")


LIBRARY = [
    (["demo", "--out", "{bad}", "--overwrite", "--patients", "1", "-q"], 2,
     "bad.yaml is a file, not a folder"),
    (["report", "-f", "{missing}"], 2, "nope.yaml: parameters file not found"),
    (["report", "-f", "{bad}"], 2, "bad.yaml: not valid YAML"),
    (["report", "-f", "{ok}", "--notebooks", "99_nope", "-q"], 2,
     "notebook(s) 99_nope not found"),
    (["init", "{absent}", "-o", "{tmp}/study"], 2, "absent: DICOM_ROOT is not a folder"),
    (["init", "{empty}", "-o", "{empty}/study"], 2, "lies inside DICOM_ROOT"),
    (["index", "{absent}", "-o", "{tmp}/i.csv", "-q"], 2, "index: ROOT "),
    (["suv", "{absent}", "-o", "{tmp}/suv.nii.gz"], 2, "suv: absent: no such file or folder"),
    (["suv", "{junk}", "-o", "{tmp}/suv.nii.gz"], 2, "suv: series/IM0001: "),
    (["measure", "{absent}", "{tmp}/rois.nii.gz"], 2, "measure: absent: no such file"),
    (["rois", "history", "S1", "-f", "{missing}"], 2, "nope.yaml: parameters file not found"),
    (["rois", "restore", "S1", "2", "-f", "{missing}", "--reader", "R1"], 2, "nope.yaml"),
    (["rois", "export-seg", "S1", "-f", "{missing}", "-o", "{tmp}/x.dcm"], 2, "nope.yaml"),
    (["rois", "import", "S1", "{junk}", "-f", "{missing}", "--reader", "R1"], 2, "nope.yaml"),
    (["rois", "import-seg", "S1", "{junk}", "-f", "{missing}", "--reader", "R1"], 2,
     "nope.yaml"),
    (["quantify", "-f", "{missing}", "-q"], 2, "quantify: "),
    (["review", "--patient", "P001", "-f", "{missing}"], 2, "review: "),
]


@pytest.mark.parametrize(("argv", "code", "text"), LIBRARY,
                         ids=[" ".join(a[:2]) for a, _, _ in LIBRARY])
def test_a_refusal_of_the_library_is_one_line(argv, code, text, files, capsys):
    got, err = _run([a.format(**files) for a in argv], capsys)
    assert got == code
    lines = err.strip().splitlines()
    assert lines[0].startswith(f"{argv[0]}: ")
    if argv[2] != "{bad}":          # the YAML parser's report shows the line: a few lines
        assert len(lines) == 1, err
    assert text in err
    assert "nope.yaml" in err or "nope.yaml" not in " ".join(argv)      # names the file
    if argv[0] in ("init", "index", "suv", "measure"):     # DICOM paths
        assert str(files["tmp"]) not in err          # relative to the folders given


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, files,
                                                                         capsys):
    def bug(args):
        raise ZeroDivisionError("division by zero in the walk")

    monkeypatch.setattr(cli, "_cmd_index", bug)
    code, err = _run(["index", files["empty"]], capsys)
    assert code == 1
    assert err.strip() == ("index: unexpected ZeroDivisionError: division by zero in the walk "
                           "(probably a bug: run `nethelpers --debug ...` for the traceback)")
    try:
        code = main(["index", files["empty"], "--debug"])
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback (most recent call last)" in err and 'raise ZeroDivisionError' in err


def test_a_disk_error_fails_the_run_with_its_file(monkeypatch, files, capsys):
    def full(args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC),
                      os.path.join(files["empty"], "dicom-index.csv"))

    monkeypatch.setattr(cli, "_cmd_index", full)
    code, err = _run(["index", files["empty"]], capsys)
    assert code == 1
    assert err.strip() == f"index: empty/dicom-index.csv: {os.strerror(errno.ENOSPC)}"


def test_every_subcommand_is_covered():
    parser = cli.build_parser()
    commands = set(parser._subparsers._group_actions[0].choices)
    covered = {argv[0] for argv, _ in ARGPARSE} | {argv[0] for argv, _, _ in LIBRARY}
    assert commands == covered


def test_every_error_class_named_for_the_exit_codes_exists():
    """A renamed or moved error class would silently become 'unexpected' (exit 1).

    The modules are parsed, not imported (importing papermill and dask costs seconds).
    """
    import ast
    import importlib.util

    from nethelpers import clierrors
    from nethelpers.dicom.errors import SuvError
    from nethelpers.rois import RoiConflictError
    from nethelpers.tablespec import CohortError

    for module, name in clierrors._REFUSALS | clierrors._FAILURES:
        tree = ast.parse(open(importlib.util.find_spec(module).origin, encoding="utf-8").read())
        assert name in {node.name for node in tree.body if isinstance(node, ast.ClassDef)}, (
            module, name)
    from nethelpers.report import ReportError, ReportSetupError

    assert [clierrors.exit_code(e("x")) for e in (SuvError, CohortError, RoiConflictError,
                                                   ReportError, ReportSetupError,
                                                   ValueError)] == [2, 2, 2, 1, 2, None]
