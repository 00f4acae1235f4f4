"""Index a DICOM tree into a table of series: header-only, parallel, cached, with QC.

:func:`index_tree` walks a folder, reads the header of every file (never the pixel data,
with :mod:`nethelpers.dicom.rawread`) on all cores, and returns one row per series: patient,
study, series UID, modality, tracer, scanner, PET/CT or PET/MR (the PET's companion CT or
MR in the same study, preferring the same frame of reference), slice count, geometry, dates,
the files sorted along the slice normal, and a QC verdict with its reasons.

Each file's walk goes on to the Pixel Data element header (never into the pixel values), so
a file too short for its Rows × Columns × BitsAllocated × frames is caught by its size
(:func:`nethelpers.dicom.pixels.pixel_data_problem`); a PET file also keeps the keywords
of the SUV rules, which :mod:`nethelpers.dicom.suvqc` runs on the series.

With a cache file, a second run re-reads only files whose path, size or mtime changed; an
unchanged tree is answered from the cache without reading any header. The series rows and
their QC are assembled by :mod:`nethelpers.dicom.seriesqc`.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.dicom.petkeywords import PET_TAGS, pet_keywords
from nethelpers.dicom.pixels import PIXEL_TAGS, pixel_data_problem
from nethelpers.dicom.rawread import RawReadError, keyword_tag, read_header
from nethelpers.dicom.seriesqc import SERIES_COLUMNS, series_table
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.files import atomic_write
from nethelpers.treewalk import WalkNote, walk_tree

__all__ = [
    "FILE_COLUMNS",
    "SERIES_COLUMNS",
    "index_tree",
    "summarise_index",
    "write_index",
]

#: Bump when the file records or the series assembly change: old caches are then rebuilt.
CACHE_FORMAT = 7
#: Fewer files than this are read in-process (starting workers would cost more).
SERIAL_BELOW = 400
#: File name suffixes that are never DICOM (skipped without reading).
NON_DICOM_SUFFIXES = frozenset({
    ".txt", ".csv", ".json", ".xml", ".html", ".md", ".pdf", ".png", ".jpg", ".jpeg",
    ".gif", ".nii", ".gz", ".zip", ".py", ".yaml", ".yml", ".log", ".ini", ".pkl",
    ".parquet", ".nrrd", ".mha", ".mhd", ".raw", ".db", ".sqlite",
})
_SKIP_NAMES = frozenset({"DICOMDIR", ".DS_Store", "Thumbs.db", "demo.json"})


# record field -> (keyword, kind); kind: text, float, int, floats, seq
_TEXT = (
    "SOPClassUID", "SOPInstanceUID", "PatientID", "StudyInstanceUID", "StudyDate", "StudyTime",
    "StudyDescription", "SeriesInstanceUID", "SeriesDescription", "Modality", "SeriesDate",
    "SeriesTime", "AcquisitionDate", "AcquisitionTime", "FrameOfReferenceUID", "Manufacturer",
    "ManufacturerModelName", "StationName", "Units", "ImageType",
)
_INT = ("SeriesNumber", "InstanceNumber", "AcquisitionNumber", "Rows", "Columns",
        "NumberOfFrames", "NumberOfSlices")
_FLOATS = ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing")
_FLOAT = ("SliceThickness",)
_ISOTOPE = keyword_tag("RadiopharmaceuticalInformationSequence")
_TAGS = {k: keyword_tag(k) for k in (*_TEXT, *_INT, *_FLOATS, *_FLOAT)}
_ITEM_TAGS = {k: keyword_tag(k) for k in (
    "RadiopharmaceuticalCodeSequence", "RadionuclideCodeSequence", "Radiopharmaceutical",
    "CodeValue", "CodeMeaning", "RadionuclideHalfLife")}
_READ_TAGS = frozenset([*_TAGS.values(), _ISOTOPE, keyword_tag("SpecificCharacterSet"),
                        keyword_tag("TransferSyntaxUID"), *PET_TAGS, *PIXEL_TAGS])

# positions in a record (after its error)
_MODALITY_AT = 1 + _TEXT.index("Modality")
_ROWS_AT = 1 + len(_TEXT) + _INT.index("Rows")
_COLUMNS_AT = 1 + len(_TEXT) + _INT.index("Columns")
_FRAMES_AT = 1 + len(_TEXT) + _INT.index("NumberOfFrames")

#: Columns of the per-file table.
FILE_COLUMNS: tuple[str, ...] = (
    "path", "size", "mtime_ns", "error", *_TEXT, *_INT, "ipp_x", "ipp_y", "ipp_z",
    "ImageOrientationPatient", "pixel_spacing_row", "pixel_spacing_col", *_FLOAT,
    "Radiopharmaceutical", "RadiopharmaceuticalCode", "RadiopharmaceuticalCodeMeaning",
    "RadionuclideCodeMeaning", "RadionuclideHalfLife", "TransferSyntaxUID", "pixel_problem",
    "pet_keywords",
)



# --------------------------------------------------------------------------------------
# Reading (runs in worker processes)
# --------------------------------------------------------------------------------------


def _pet_keywords(h: Any) -> tuple[dict[str, Any], list[str]] | str:
    """The SUV rules' keywords of a PET file, or why they cannot be read (a bad value)."""
    try:
        return pet_keywords(h)
    except (RawReadError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _record(path: str) -> tuple[Any, ...]:
    """Header fields of one file, in FILE_COLUMNS order after path/size/mtime.

    The last two are the pixel data's problem (None when complete) and, for PET, the SUV
    rules' keywords with their reading notes.
    """
    try:
        h = read_header(path, _READ_TAGS)  # up to the Pixel Data element header
        values: list[Any] = [None]
        values += [h.text(_TAGS[k]) for k in _TEXT]
        values += [h.int(_TAGS[k]) for k in _INT]
        ipp = h.floats(_TAGS["ImagePositionPatient"]) or []
        values += [ipp[i] if len(ipp) == 3 else None for i in range(3)]
        values.append(h.text(_TAGS["ImageOrientationPatient"]))
        spacing = h.floats(_TAGS["PixelSpacing"]) or []
        values += [spacing[i] if len(spacing) == 2 else None for i in range(2)]
        values.append(h.float(_TAGS["SliceThickness"]))
        items = h.seq(_ISOTOPE)
        item = items[0] if items else None
        if item is not None:
            code = item.seq(_ITEM_TAGS["RadiopharmaceuticalCodeSequence"])
            nuclide = item.seq(_ITEM_TAGS["RadionuclideCodeSequence"])
            meaning = _ITEM_TAGS["CodeMeaning"]
            values += [
                item.text(_ITEM_TAGS["Radiopharmaceutical"]),
                code[0].text(_ITEM_TAGS["CodeValue"]) if code else None,
                code[0].text(meaning) if code else None,
                nuclide[0].text(meaning) if nuclide else None,
                item.float(_ITEM_TAGS["RadionuclideHalfLife"]),
            ]
        else:
            values += [None] * 5
        values.append(h.transfer_syntax)
        values.append(pixel_data_problem(h, path, os.stat(path).st_size, (
            values[_ROWS_AT], values[_COLUMNS_AT], values[_FRAMES_AT])))
        values.append(_pet_keywords(h) if values[_MODALITY_AT] == "PT" else None)
        return tuple(values)
    except (RawReadError, ValueError, OSError) as exc:
        return (f"{type(exc).__name__}: {exc}",) + (None,) * (len(FILE_COLUMNS) - 4)


def _read_chunk(paths: Sequence[str]) -> list[tuple[Any, ...]]:
    return [_record(p) for p in paths]


# --------------------------------------------------------------------------------------
# Walking and caching
# --------------------------------------------------------------------------------------


def _skip(name: str, is_dir: bool) -> bool:
    """Entries the index never reads: hidden ones, and files named as never DICOM."""
    if name[0] == ".":
        return True
    if is_dir:
        return False
    dot = name.rfind(".")
    return name in _SKIP_NAMES or (dot > 0 and name[dot:].lower() in NON_DICOM_SUFFIXES)


def _walk(root: Path) -> tuple[list[str], list[int], list[int], list[WalkNote]]:
    """Relative paths, sizes and mtimes (ns) of candidate files, sorted by path, and notes.

    Symbolic links to folders and files are followed, each folder and file listed once
    (:func:`nethelpers.treewalk.walk_tree`); a loop, a dangling link, a duplicate reached
    through a link or a folder that cannot be opened gives one note, never an unreadable file.
    """
    walk = walk_tree(root, _skip)
    found = sorted(walk.files)
    return ([p for p, _, _ in found], [s for _, s, _ in found], [m for _, _, m in found],
            walk.notes)


def _mp_context() -> multiprocessing.context.BaseContext:
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _fingerprint(rels: list[str], sizes: list[int], mtimes: list[int]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update("\0".join(rels).encode("utf-8", "surrogateescape"))
    digest.update(np.asarray(sizes, dtype=np.int64).tobytes())
    digest.update(np.asarray(mtimes, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _load_cache(path: Path | None, root: Path) -> dict[str, Any]:
    """Load one cache file; anything unreadable, foreign or of another format gives {}."""
    if path is None or not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            cache = pickle.load(fh)  # noqa: S301 - our own file, versioned below
    except Exception:  # a corrupt or foreign cache is rebuilt, never trusted
        return {}
    if not isinstance(cache, dict) or cache.get("format") != CACHE_FORMAT:
        return {}
    if cache.get("root") != str(root):
        return {}
    return cache


def _save_cache(path: Path, cache: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        pickle.dump(cache, fh, protocol=pickle.HIGHEST_PROTOCOL)


def _read_all(
    root: Path, rels: list[str], workers: int, progress: bool
) -> list[tuple[Any, ...]]:
    paths = [str(root / rel) for rel in rels]
    if not paths:
        return []
    if workers <= 1 or len(paths) < SERIAL_BELOW:
        iterator: Iterable[str] = paths
        if progress:
            from tqdm.auto import tqdm

            iterator = tqdm(paths, desc="Reading headers", unit="file")
        return [_record(p) for p in iterator]
    size = max(64, min(1024, len(paths) // (workers * 8) or 64))
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    out: list[tuple[Any, ...]] = []
    with ProcessPoolExecutor(workers, mp_context=_mp_context()) as pool:
        results = pool.map(_read_chunk, chunks)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(paths), desc="Reading headers", unit="file")
            for chunk, records in zip(chunks, results, strict=True):
                out.extend(records)
                bar.update(len(chunk))
            bar.close()
        else:
            for records in results:
                out.extend(records)
    return out


def _files_cache_path(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".files")


def _file_table(
    root: Path, cache_path: Path | None, workers: int, progress: bool, settings: str = ""
) -> tuple[pd.DataFrame | None, pd.DataFrame | None, str, dict[str, Any]]:
    """The per-file table (None when the cached series table still holds) and stats.

    ``settings`` (the QC settings) is part of the fingerprint: other settings, other table.

    The cache is two files: ``cache`` (fingerprint of the tree and the series table, small)
    and ``cache.files`` (one header record per file). An unchanged tree needs only the first.
    """
    rels, sizes, mtimes, notes = _walk(root)
    fingerprint = _fingerprint(rels, sizes, mtimes) + settings
    stats = {"files": len(rels), "read": 0, "cached": 0, "notes": notes}
    summary = _load_cache(cache_path, root)
    if summary.get("fingerprint") == fingerprint and "series" in summary:
        stats["cached"] = len(rels)
        return None, summary["series"], fingerprint, stats
    old = None
    if cache_path is not None:
        old = _load_cache(_files_cache_path(cache_path), root).get("files")
    known: dict[str, tuple[int, int, tuple[Any, ...]]] = {}
    if isinstance(old, pd.DataFrame) and len(old):
        rows = old.itertuples(index=False, name=None)
        known = {r[0]: (r[1], r[2], r[3:]) for r in rows}
    records: list[tuple[Any, ...] | None] = []
    todo: list[int] = []
    for i, (rel, size, mtime) in enumerate(zip(rels, sizes, mtimes, strict=True)):
        hit = known.get(rel)
        if hit is not None and hit[0] == size and hit[1] == mtime:
            records.append(hit[2])
        else:
            records.append(None)
            todo.append(i)
    fresh = _read_all(root, [rels[i] for i in todo], workers, progress)
    for i, record in zip(todo, fresh, strict=True):
        records[i] = record
    stats["read"] = len(todo)
    stats["cached"] = len(rels) - len(todo)
    rows = [
        (rel, size, mtime, *rec)
        for rel, size, mtime, rec in zip(rels, sizes, mtimes, records, strict=True)
    ]
    files = pd.DataFrame(rows, columns=list(FILE_COLUMNS))
    return files, None, fingerprint, stats


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def index_tree(
    root: str | os.PathLike[str],
    *,
    cache: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    progress: bool = False,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
) -> pd.DataFrame:
    """Index every DICOM series under ``root``.

    Parameters
    ----------
    root : path-like
        Folder to walk (recursively; hidden entries and known non-DICOM files skipped;
        symbolic links followed, each folder and file once).
    cache : path-like, optional
        Cache file. When given, files whose path, size and mtime are unchanged since the
        last run are not read again; the cache is rewritten atomically.
    workers : int, optional
        Processes reading headers; default all cores.
    progress : bool
        Show a progress bar.
    slice_tolerance : float
        Largest deviation of a slice from a uniform grid, as a fraction of the slice
        spacing: such a series is ``warn`` with the measured deviation
        (``slice_deviation_mm``), beyond it ``fail`` (see :mod:`nethelpers.dicom.slicegrid`).

    Returns
    -------
    pandas.DataFrame
        One row per series with :data:`SERIES_COLUMNS` and ``files`` (tuple of paths
        relative to ``root``, sorted along the slice normal). ``df.attrs`` holds ``root``
        and ``stats`` (files, read, cached, seconds, and ``notes``: one
        :class:`nethelpers.treewalk.WalkNote` per symbolic link not followed or folder not
        opened).
    """
    started = time.perf_counter()
    root_path = Path(root).resolve()
    if not root_path.is_dir():
        raise FileNotFoundError(f"{root_path}: not a folder")
    cache_path = None if cache is None else Path(cache)
    n_workers = workers or os.cpu_count() or 1
    files, series, fingerprint, stats = _file_table(root_path, cache_path, n_workers, progress,
                                                    f"slice_tolerance={slice_tolerance!r}")
    if series is None:
        assert files is not None
        series = series_table(files, slice_tolerance, root_path)
        if cache_path is not None:
            head = {"format": CACHE_FORMAT, "root": str(root_path)}
            if stats["read"]:
                _save_cache(_files_cache_path(cache_path), {**head, "files": files})
            _save_cache(cache_path, {**head, "fingerprint": fingerprint, "series": series})
    stats["seconds"] = time.perf_counter() - started
    series = series.copy()
    series.attrs = {"root": str(root_path), "stats": stats}
    return series


def write_index(series: pd.DataFrame, out: str | os.PathLike[str]) -> list[Path]:
    """Write the series table and its file list.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`index_tree`.
    out : path-like
        ``*.csv`` or ``*.parquet`` (needs pyarrow). The file list goes beside it as
        ``<stem>-files.<ext>`` (series_uid, path relative to the root, slice order).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out_path = Path(out)
    if out_path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ImportError(
                f"{out_path}: writing parquet needs pyarrow (pip install pyarrow); "
                "or write .csv"
            ) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    table = series.drop(columns=["files"])
    table.insert(0, "root", series.attrs.get("root", ""))
    listing = pd.DataFrame(
        [(uid, k, rel) for uid, rels in zip(series["series_uid"], series["files"], strict=True)
         for k, rel in enumerate(rels or ())],
        columns=["series_uid", "slice_order", "path"],
    )
    files_path = out_path.with_name(f"{out_path.stem}-files{out_path.suffix}")
    for frame, path in ((table, out_path), (listing, files_path)):
        with atomic_write(path) as fh:
            if path.suffix == ".parquet":
                frame.to_parquet(fh, index=False)
            else:
                frame.to_csv(fh, index=False)
    return [out_path, files_path]


def summarise_index(series: pd.DataFrame) -> str:
    """A short plain-text summary: counts by modality, PET and SPECT tracer and system, QC.

    Parameters
    ----------
    series : pandas.DataFrame
        From :func:`index_tree`.

    Returns
    -------
    str
    """
    stats = series.attrs.get("stats", {})
    lines = [
        f"{stats.get('files', int(series['n_files'].sum()))} files, {len(series)} series "
        f"({stats.get('read', '?')} read, {stats.get('cached', '?')} from cache, "
        f"{stats.get('seconds', float('nan')):.1f} s)"
    ]
    notes = stats.get("notes", [])
    lines += [f"  note: {note}" for note in notes[:20]]
    if len(notes) > 20:
        lines.append(f"  ... and {len(notes) - 20} more notes on links and folders")
    by_modality = series["modality"].replace("", "?").value_counts()
    lines.append("modality: " + ", ".join(f"{k} {v}" for k, v in by_modality.items()))
    spect = series["modality"].isin(["PT", "NM"]) & series["system"].fillna("").str.startswith(
        "SPECT")
    pet = series[(series["modality"] == "PT") & ~spect]
    if len(pet):
        lines.append("PET tracer: " + ", ".join(
            f"{k or 'unknown'} {v}" for k, v in pet["tracer"].value_counts().items()))
        lines.append("PET system: " + ", ".join(
            f"{k} {v}" for k, v in pet["system"].value_counts().items()))
    if spect.any():
        named = series[spect].fillna({"tracer": "", "radionuclide": ""})
        counts = named.groupby(["tracer", "radionuclide"]).size()
        lines.append("SPECT tracer: " + ", ".join(
            f"{t or 'unknown'} {n} ({r or 'radionuclide unknown'})"
            for (t, r), n in counts.items()))
        lines.append("SPECT system: " + ", ".join(
            f"{k} {v}" for k, v in named["system"].value_counts().items()))
    qc = series["qc"].value_counts()
    lines.append("QC: " + ", ".join(f"{k} {qc.get(k, 0)}" for k in ("ok", "warn", "fail")))
    problems = series[series["qc"] != "ok"]
    for _, row in problems.head(20).iterrows():
        label = row["directory"] or row["series_uid"]
        lines.append(f"  {row['qc']}: {label}: {row['qc_reasons']}")
    if len(problems) > 20:
        lines.append(f"  ... and {len(problems) - 20} more (see the qc_reasons column)")
    return "\n".join(lines)
