"""The cohort's saved measurements: written as one set, reused only while whole and current.

``quantify.output`` holds ``measurements.csv``, ``patients.csv``, ``qc.csv`` and
``quantify.json``, the paths users open. :func:`write_results` writes them as one set
(:mod:`nethelpers.resultset`: staged, checksummed, renamed into place with quantify.json
last, under the folder's lock ``.quantify.lock``): two runs into one folder never leave
the tables of one with the record of the other, and a second writer waits for the first
(``quantify.lock_timeout``) or stops with one line naming it (PID, host, start time).

:func:`load_results` (notebooks 04 and 05) reuses a saved set only if every table's
sha256 is the one quantify.json records for that set, and the inputs it was measured from
(code, parameters, tables, DICOM and ROI listings: :func:`inputs_fingerprint`) are
unchanged; a set that does not match is measured again (``strict=True``: refused), never
used. The tables it returns are parsed from the very bytes it checked.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nethelpers.locking import FolderLock
from nethelpers.resultset import ResultSetError, read_set, write_set

if TYPE_CHECKING:
    from nethelpers.quantify import QuantifyResult

__all__ = ["LOCK_NAME", "RECORD", "TABLES", "inputs_fingerprint", "load_results", "read_results",
           "results_lock", "write_results"]

TABLES = ("measurements.csv", "patients.csv", "qc.csv")
"""The tables of a saved set."""
RECORD = "quantify.json"
"""The set's record: run information, inputs fingerprint, set ID and every table's sha256."""
LOCK_NAME = "quantify"
"""The output folder's lock is ``.quantify.lock``."""


def inputs_fingerprint(params: Any, reader: str | None = None) -> dict[str, Any]:
    """What a cohort quantification depends on: its parameters and the study's files.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters.
    reader : str, optional
        Whose ROI sets were measured (default ``index_test.reader``): a set measured for
        another reader is never reused.

    Returns
    -------
    dict
        A digest of nethelpers' source code, the ``quantify`` options (without output
        folder, workers, scheduler and lock timeout), the ``scores`` rules, and
        :func:`nethelpers.files.study_fingerprint` of the study (without the reads table),
        and the reader whose ROI sets are measured.
        Saved in quantify.json; :func:`load_results` reuses saved tables only when it is
        unchanged. The DICOM tree is fingerprinted from its listing (names, sizes, mtimes):
        a header edited in place to the same size with its mtime restored goes unnoticed.
    """
    from nethelpers.files import study_fingerprint

    options = params.quantify.model_dump(
        mode="json", exclude={"output", "workers", "scheduler", "lock_timeout"})
    study = study_fingerprint(params.study)
    study["tables"].pop("reads", None)  # the readers' calls are not measured
    return {"code": _code_digest(), "quantify": options,
            "scores": params.scores.model_dump(mode="json"), "study": study,
            "reader": reader or params.index_test.reader}


def _code_digest() -> str:
    """sha256 of the package's Python sources: a code change makes saved results stale."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def read_results(folder: str | Path) -> QuantifyResult:
    """The complete set saved in a folder, every table checked against quantify.json.

    Parameters
    ----------
    folder : str or Path
        Where :func:`write_results` wrote.

    Returns
    -------
    QuantifyResult
        ``info`` is quantify.json (with ``set``: the set's ID, who wrote it, what it
        replaced; ``files``: each table's sha256).

    Raises
    ------
    nethelpers.resultset.ResultSetError
        Nothing saved, or tables missing or not those of the set quantify.json records.
    """
    from nethelpers.quantify import QuantifyResult

    saved = read_set(folder, TABLES, record_name=RECORD, lock_name=LOCK_NAME)
    frames = [pd.read_csv(io.BytesIO(saved.data[name])) for name in TABLES]
    return QuantifyResult(*frames, info=saved.record)


def load_results(params: Any, *, scheduler: str | None = "sync", progress: bool = False,
                 strict: bool = False) -> QuantifyResult:
    """The cohort's measurements: the saved set if whole and current, else measured now.

    Parameters
    ----------
    params : nethelpers.config.Params
        Validated parameters; ``quantify.output`` is where :func:`write_results` saved.
    scheduler : str, optional
        Passed to :func:`nethelpers.quantify.quantify_cohort` when the saved set is
        missing, not whole, or stale.
    progress : bool
        Progress bar of that run.
    strict : bool
        Refuse a saved set that is not whole (a table changed since written, or a run that
        stopped while writing) instead of measuring again.

    Returns
    -------
    QuantifyResult
        ``info["source"]`` is ``"saved"`` (read from quantify.output) or ``"measured"``
        (the saved set was missing or not whole, or the code, ROIs, DICOM, tables or
        parameters changed since it was measured; it is not overwritten), and then
        ``info["not_reused"]`` says why.

    Raises
    ------
    nethelpers.quantify.QuantifyError
        In strict mode, a saved set that is not whole (naming the tables and the set).
    """
    from nethelpers.quantify import QuantifyError, quantify_cohort

    folder = Path(params.quantify.output)
    try:
        saved = read_results(folder)
    except ResultSetError as exc:
        if strict and (folder / RECORD).is_file():
            raise QuantifyError(f"the saved quantification (quantify.output): {exc}. Fix: run "
                                "nethelpers quantify again") from None
        saved, why = None, str(exc)
    if saved is not None:
        if saved.info.get("inputs") == inputs_fingerprint(params):
            saved.info["source"] = "saved"
            return saved
        why = "the code, ROIs, DICOM, tables or parameters changed since it was measured"
    result = quantify_cohort(params, scheduler=scheduler, progress=progress)
    result.info |= {"source": "measured", "not_reused": why}
    return result


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, float_format="%.10g").encode("utf-8")


def _stderr(text: str) -> None:
    print(text, file=sys.stderr)


def _lock_timeout(value: float | None) -> float:
    from nethelpers.config import QuantifyConfig

    return float(QuantifyConfig.model_fields["lock_timeout"].default if value is None else value)


def results_lock(out: str | Path, *, lock_timeout: float | None = None,
                 say: Callable[[str], None] | None = None) -> FolderLock:
    """The lock of an output folder, to hold it over a whole run (``nethelpers quantify``).

    A second run into the same folder then waits for the first to finish (up to
    ``lock_timeout`` s) instead of measuring meanwhile; :func:`write_results` inside the
    ``with`` block re-enters it.

    Parameters
    ----------
    out : str or Path
        The output folder.
    lock_timeout : float, optional
        Seconds to wait (0: refuse at once); default ``quantify.lock_timeout``'s.
    say : callable, optional
        Receives one-line notes (default: printed to stderr).

    Returns
    -------
    nethelpers.locking.FolderLock
        Use it as a context manager.
    """
    return FolderLock(out, LOCK_NAME, timeout=_lock_timeout(lock_timeout), say=say or _stderr)


def write_results(result: QuantifyResult, out: str | Path, *, lock_timeout: float | None = None,
                  say: Callable[[str], None] | None = None) -> list[Path]:
    """Write measurements.csv, patients.csv, qc.csv and quantify.json as one set.

    The tables are staged, checksummed and renamed into ``out`` with quantify.json last,
    holding the folder's lock (see the module docstring). quantify.json records the set's
    ID, who wrote it, and the set it replaces; a set written by another run since this
    run started is replaced with a note (``say``).

    Parameters
    ----------
    result : QuantifyResult
        From :func:`nethelpers.quantify.quantify_cohort`; its ``info["set"]`` is set to
        the set written.
    out : str or Path
        The folder (created).
    lock_timeout : float, optional
        Seconds to wait for another run writing there (0: refuse at once); default
        ``quantify.lock_timeout``'s.
    say : callable, optional
        Receives one-line notes (waiting, a stale lock taken over, a concurrent run's set
        replaced); default: printed to stderr.

    Returns
    -------
    list of Path
        The files written (quantify.json last).

    Raises
    ------
    nethelpers.locking.FolderLockedError
        Another run still holds the folder's lock after ``lock_timeout`` (nothing written).
    """
    from nethelpers import __version__

    out = Path(out)
    say = say or _stderr
    files = {name: _csv(frame) for name, frame in zip(
        TABLES, (result.measurements, result.patients, result.qc), strict=True)}
    lock = results_lock(out, lock_timeout=lock_timeout, say=say)
    record = write_set(out, files, dict(result.info, nethelpers=__version__),
                       record_name=RECORD, lock=lock)
    result.info["set"] = record["set"]
    replaced = record["set"]["replaces"]
    started = result.info.get("started")
    if replaced and started and replaced.get("written_at") and (
            datetime.fromisoformat(replaced["written_at"]) >= datetime.fromisoformat(started)):
        say(f"quantify: replaced set {replaced['id']}, written by another run (pid "
            f"{replaced['pid']} on host {replaced['host']}) since this run started; "
            f"quantify.json names it under set.replaces")
    return [out / name for name in (*TABLES, RECORD)]
