"""How the ``nethelpers`` command reports an error: a line on stderr, never a traceback.

Exit codes, the same for every subcommand:

- ``0``: done;
- ``1`` (:data:`FAILED`): the run failed: a notebook failed, nothing could be measured, a QC
  failure with ``--strict``, a file that could not be written, or an unexpected error (a
  bug: ``nethelpers --debug ...`` shows its traceback);
- ``2`` (:data:`REFUSED`): the input was refused: a bad option value (argparse's own
  message), a missing or unreadable file, parameters, tables or DICOM headers that cannot be
  right. Fix what the line names and run again.

A refusal prints ``<command>: <message>``: the library's message names the file, the field
and the fix (one line, or one per bad key of a parameters file). Absolute paths under the
DICOM folders named on the command line are shown relative to them (:func:`shown`), so a
line pasted into a ticket names no patient folder.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

__all__ = ["FAILED", "REFUSED", "error_line", "exit_code", "report", "shown"]

FAILED = 1
REFUSED = 2

#: Library errors that refuse the input (exit 2): (defining module, class); subclasses too.
_REFUSALS = frozenset({
    ("nethelpers.config", "ParamsError"),
    ("nethelpers.tablespec", "CohortError"),
    ("nethelpers.vocabulary", "VocabularyError"),
    ("nethelpers.studyinit", "InitError"),
    ("nethelpers.dicom.errors", "DicomInputError"),
    ("nethelpers.dicom.slicegrid", "SliceGridError"),
    ("nethelpers.dicom.bodysize", "BodySizeError"),
    ("nethelpers.dicom.rawread", "RawReadError"),
    ("nethelpers.roitables", "RoiStoreError"),
    ("nethelpers.resultset", "ResultSetError"),
    ("nethelpers.quantify", "QuantifyError"),        # a scan or saved result refused
    ("nethelpers.locking", "FolderLockedError"),     # another run writes there: wait
    ("nethelpers.report", "ReportSetupError"),       # output folder, notebook names
})
#: Library errors of a run that failed (exit 1).
_FAILURES = frozenset({
    ("nethelpers.report", "ReportError"),
})
#: File-system errors about a path the user gave (exit 2); other OSErrors exit 1.
_BAD_PATH = (FileNotFoundError, NotADirectoryError, IsADirectoryError, FileExistsError,
             PermissionError)


def _is(exc: BaseException, names: frozenset[tuple[str, str]]) -> bool:
    """Whether ``exc`` is one of the named classes or a subclass (nothing is imported)."""
    return any((cls.__module__, cls.__name__) in names for cls in type(exc).__mro__)


def shown(text: str, roots: Sequence[str | os.PathLike[str]] = ()) -> str:
    """``text`` with the absolute paths of ``roots``' parents cut to paths relative to them.

    ``/data/export/P1/pet/IM1: ...`` with root ``/data/export/P1`` becomes ``P1/pet/IM1:
    ...``; the root's parent is cut as typed and as resolved.

    Parameters
    ----------
    text : str
        A message.
    roots : sequence of path-like
        Folders or files named on the command line.

    Returns
    -------
    str
    """
    prefixes = set()
    for root in roots:
        for path in (Path(root).absolute(), Path(root).resolve()):
            parent = str(path.parent)
            if parent != path.anchor:      # never cut a bare "/"
                prefixes.add(parent.rstrip(os.sep) + os.sep)
    for prefix in sorted(prefixes, key=len, reverse=True):
        text = text.replace(prefix, "")
    return text


def exit_code(exc: BaseException) -> int | None:
    """:data:`REFUSED` or :data:`FAILED` for a known error, None for an unexpected one."""
    if _is(exc, _REFUSALS) or isinstance(exc, _BAD_PATH):
        return REFUSED
    if _is(exc, _FAILURES) or isinstance(exc, OSError):
        return FAILED
    return None


def error_line(command: str, exc: BaseException,
               roots: Sequence[str | os.PathLike[str]] = ()) -> str:
    """The line printed for ``exc``: ``<command>: <message>``.

    A library refusal is printed whole (a few lines when it lists several bad keys); an
    OSError shows its file and reason (``pet: No such file or directory``); an unexpected
    error one line: its type, first line and how to see the traceback.
    """
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename if exc.filename is not None else ""
        message = f"{os.fspath(name)}: {exc.strerror}" if name != "" else exc.strerror
    elif isinstance(exc, KeyError) and exc.args:
        message = str(exc.args[0])              # no repr quotes
    else:
        message = str(exc).strip()
    if exit_code(exc) is None:
        first = message.splitlines()[0] if message else ""
        message = (f"unexpected {type(exc).__name__}: {first} (probably a bug: run "
                   "`nethelpers --debug ...` for the traceback)")
    return f"{command}: {shown(message, roots)}"


def report(command: str, exc: BaseException, *, debug: bool = False,
           roots: Sequence[str | os.PathLike[str]] = ()) -> int:
    """Print ``exc`` as one line on stderr (with the traceback if ``debug``); the exit code.

    Parameters
    ----------
    command : str
        The subcommand, e.g. ``"index"``.
    exc : BaseException
        The error.
    debug : bool
        Print the traceback too.
    roots : sequence of path-like
        Paths named on the command line (see :func:`shown`).

    Returns
    -------
    int
        :func:`exit_code`, :data:`FAILED` for an unexpected error.
    """
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(error_line(command, exc, roots), file=sys.stderr)
    code = exit_code(exc)
    return FAILED if code is None else code
