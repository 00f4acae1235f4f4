"""Index a DICOM tree into a table of series: header-only, parallel, cached, with QC.

:func:`index_tree` walks a folder, reads the header of every file (never the pixel data,
with :mod:`nethelpers.dicom.rawread`) on all cores, and returns one row per series: patient,
study, series UID, modality, tracer, scanner, PET/CT or PET/MR (the PET's companion CT or
MR in the same study, preferring the same frame of reference), slice count, geometry, dates,
the files sorted along the slice normal, and a QC verdict with its reasons.

With a cache file, a second run re-reads only files whose path, size or mtime changed; an
unchanged tree is answered from the cache without reading any header.
"""

from __future__ import annotations

import hashlib
import math
import multiprocessing
import os
import pickle
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.dicom.codecs import is_lossy
from nethelpers.dicom.rawread import RawReadError, keyword_tag, read_header
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE, SliceGridError, fit_slices
from nethelpers.dicom.tracers import radionuclide_name, tracer_name
from nethelpers.files import atomic_write

__all__ = [
    "FILE_COLUMNS",
    "SERIES_COLUMNS",
    "index_tree",
    "summarise_index",
    "write_index",
]

#: Bump when the file records or the series assembly change: old caches are then rebuilt.
CACHE_FORMAT = 4
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
_READ_TAGS = frozenset([*_TAGS.values(), _ISOTOPE, keyword_tag("SpecificCharacterSet"),
                        keyword_tag("TransferSyntaxUID")])
_STOP_AFTER = 0x0054FFFF

#: Objects that hold no image grid: their files are listed, not checked as slices.
NON_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "SR", "REG", "KO", "PR", "RWV", "DOC"})

#: Columns of the per-file table.
FILE_COLUMNS: tuple[str, ...] = (
    "path", "size", "mtime_ns", "error", *_TEXT, *_INT, "ipp_x", "ipp_y", "ipp_z",
    "ImageOrientationPatient", "pixel_spacing_row", "pixel_spacing_col", *_FLOAT,
    "Radiopharmaceutical", "RadiopharmaceuticalCode", "RadiopharmaceuticalCodeMeaning",
    "RadionuclideCodeMeaning", "RadionuclideHalfLife", "TransferSyntaxUID",
)

#: Columns of the series table (plus ``files``, a tuple of paths relative to the root).
SERIES_COLUMNS: tuple[str, ...] = (
    "patient_id", "study_uid", "study_date", "study_description", "series_uid",
    "series_number", "modality", "series_description", "tracer", "radionuclide", "system",
    "companion_series_uid", "manufacturer", "model", "station", "frame_of_reference_uid",
    "n_files", "n_slices", "expected_slices", "rows", "columns", "pixel_spacing_x_mm",
    "pixel_spacing_y_mm", "slice_spacing_mm", "slice_deviation_mm", "slice_thickness_mm",
    "orientation",
    "origin_x", "origin_y", "origin_z", "extent_z_mm", "series_datetime",
    "acquisition_start", "acquisition_end", "units", "directory", "qc", "qc_reasons",
)


# --------------------------------------------------------------------------------------
# Reading (runs in worker processes)
# --------------------------------------------------------------------------------------


def _record(path: str) -> tuple[Any, ...]:
    """Header fields of one file, in FILE_COLUMNS order after path/size/mtime."""
    try:
        h = read_header(path, _READ_TAGS, stop_after=_STOP_AFTER)
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
            code = item.seq(keyword_tag("RadiopharmaceuticalCodeSequence"))
            nuclide = item.seq(keyword_tag("RadionuclideCodeSequence"))
            values += [
                item.text(keyword_tag("Radiopharmaceutical")),
                code[0].text(keyword_tag("CodeValue")) if code else None,
                code[0].text(keyword_tag("CodeMeaning")) if code else None,
                nuclide[0].text(keyword_tag("CodeMeaning")) if nuclide else None,
                item.float(keyword_tag("RadionuclideHalfLife")),
            ]
        else:
            values += [None] * 5
        values.append(h.transfer_syntax)
        return tuple(values)
    except (RawReadError, ValueError, OSError) as exc:
        return (f"{type(exc).__name__}: {exc}",) + (None,) * (len(FILE_COLUMNS) - 4)


def _read_chunk(paths: Sequence[str]) -> list[tuple[Any, ...]]:
    return [_record(p) for p in paths]


# --------------------------------------------------------------------------------------
# Walking and caching
# --------------------------------------------------------------------------------------


def _list_folders(root: Path) -> list[str]:
    """Every folder under ``root`` (itself included), hidden ones skipped."""
    folders = [str(root)]
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name[0] != "." and entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        folders.append(entry.path)
        except OSError:
            continue
    return folders


def _stat_folders(folders: Sequence[str]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of the candidate files directly in ``folders``."""
    out: list[tuple[str, int, int]] = []
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    name = entry.name
                    if name[0] == "." or name in _SKIP_NAMES:
                        continue
                    dot = name.rfind(".")
                    if dot > 0 and name[dot:].lower() in NON_DICOM_SUFFIXES:
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            continue
                        st = entry.stat()
                    except OSError:
                        continue
                    out.append((entry.path, st.st_size, st.st_mtime_ns))
        except OSError:
            continue
    return out


def _walk(root: Path) -> tuple[list[str], list[int], list[int]]:
    """Relative paths, sizes and mtimes (ns) of candidate files, sorted by path."""
    base = len(str(root)) + 1
    found = [(p[base:], size, mtime) for p, size, mtime in _stat_folders(_list_folders(root))]
    found.sort()
    return ([p for p, _, _ in found], [s for _, s, _ in found], [m for _, _, m in found])


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
    rels, sizes, mtimes = _walk(root)
    fingerprint = _fingerprint(rels, sizes, mtimes) + settings
    stats = {"files": len(rels), "read": 0, "cached": 0}
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
# Series assembly and QC
# --------------------------------------------------------------------------------------


def _iso(date: Any, tm: Any) -> str:
    if not isinstance(date, str) or not isinstance(tm, str) or len(date) != 8:
        return ""
    digits = tm.replace(":", "").split(".")[0].ljust(6, "0")
    return f"{date[:4]}-{date[4:6]}-{date[6:]}T{digits[:2]}:{digits[2:4]}:{digits[4:6]}"


def _first(values: pd.Series) -> Any:
    present = values.dropna()
    return present.iloc[0] if len(present) else None


def _geometry(group: pd.DataFrame, reasons: list[str], warnings: list[str],
              tolerance: float = DEFAULT_SLICE_TOLERANCE) -> dict[str, Any]:
    """Sort slices along the normal and check spacing, orientation, size and duplicates."""
    out: dict[str, Any] = {}
    files = group["path"].tolist()
    iops = group["ImageOrientationPatient"].dropna().unique()
    ipp = group[["ipp_x", "ipp_y", "ipp_z"]].to_numpy(dtype=float)
    has_geometry = len(iops) > 0 and not np.isnan(ipp).any()
    for column, label in (("Rows", "rows"), ("Columns", "columns")):
        values = group[column].dropna().unique()
        if len(values) > 1:
            reasons.append(f"mixed size: {label} {sorted(int(v) for v in values)}")
        out[label] = int(values[0]) if len(values) else None
    spacing = group[["pixel_spacing_row", "pixel_spacing_col"]].dropna().drop_duplicates()
    if len(spacing) > 1:
        reasons.append("mixed pixel spacing")
    if len(spacing):
        out["pixel_spacing_y_mm"] = float(spacing.iloc[0, 0])
        out["pixel_spacing_x_mm"] = float(spacing.iloc[0, 1])
    if not has_geometry:
        order = np.lexsort((np.arange(len(group)), group["InstanceNumber"].fillna(0).to_numpy()))
        out["files"] = tuple(files[i] for i in order)
        return out
    orientations = {tuple(round(float(v), 4) for v in str(s).split("\\")) for s in iops}
    if len(orientations) > 1:
        reasons.append(f"mixed orientation: {len(orientations)} ImageOrientationPatient values")
    first = next(iter(sorted(orientations)))
    out["orientation"] = "\\".join(f"{v:g}" for v in first)
    if len(first) != 6:
        reasons.append("invalid ImageOrientationPatient")
        out["files"] = tuple(sorted(files))
        return out
    normal = np.cross(np.array(first[:3]), np.array(first[3:]))
    position = ipp @ normal
    order = np.argsort(position, kind="stable")
    out["files"] = tuple(files[i] for i in order)
    pos = position[order]
    out["origin_x"], out["origin_y"], out["origin_z"] = (float(v) for v in ipp[order[0]])
    out["extent_z_mm"] = float(pos[-1] - pos[0])
    unique, counts = np.unique(np.round(pos, 3), return_counts=True)
    out["n_slices"] = int(len(unique))
    sops = group["SOPInstanceUID"].to_numpy()[order]
    if len(set(sops)) < len(sops):
        warnings.append(f"duplicate instances: {len(sops) - len(set(sops))} files repeat an "
                        "SOPInstanceUID (copies)")
    if (counts > 1).any():
        dup_pos = unique[counts > 1]
        sub = group.iloc[order]
        at = np.isin(np.round(pos, 3), dup_pos)
        distinct = sub.loc[at].drop_duplicates("SOPInstanceUID")
        if len(distinct) > len(dup_pos):
            acq = distinct[["AcquisitionNumber", "AcquisitionDate", "AcquisitionTime"]]
            if len(acq.drop_duplicates()) > 1:
                reasons.append(
                    f"several acquisitions in one series: {int((counts > 1).sum())} slice "
                    "positions occur more than once with different acquisition number/time"
                )
            else:
                reasons.append(f"duplicate slice positions: {int((counts > 1).sum())} "
                               "positions hold different instances")
    if len(unique) >= 2:
        _spacing(unique, tolerance, out, reasons, warnings)
    return out


def _spacing(unique: np.ndarray, tolerance: float, out: dict[str, Any], reasons: list[str],
             warnings: list[str]) -> None:
    """Slice spacing QC: regular, placed on a uniform grid (warn), or gaps/non-uniform (fail)."""
    steps = np.diff(unique)
    step = float(np.median(steps))
    out["slice_spacing_mm"] = step
    try:
        grid = fit_slices(unique, tolerance)
    except SliceGridError as exc:
        if exc.kind != "missing":
            reasons.append(exc.problem)
            return
        multiples = steps / step
        gaps = multiples > 1.5
        missing = int(np.round(multiples[gaps] - 1).sum())
        k = int(np.argmax(gaps))
        reasons.append(
            f"missing slices: {missing} gap(s) along the normal, first between "
            f"{unique[k]:.2f} and {unique[k + 1]:.2f} mm (spacing {step:g} mm)"
        )
        return
    out["slice_spacing_mm"] = grid.step
    out["slice_deviation_mm"] = grid.max_deviation_mm
    if grid.placed:
        warnings.append(grid.note())


def _series_rows(files: pd.DataFrame, tolerance: float,
                 root: Path | None = None) -> list[dict[str, Any]]:
    ok = files[files["error"].isna() & files["SeriesInstanceUID"].notna()]
    bad = files[files["error"].notna() | files["SeriesInstanceUID"].isna()]
    # unreadable files belong to the one series of their directory, if there is one
    series_of_dir: dict[str, set[str]] = defaultdict(set)
    for rel, uid in zip(ok["path"], ok["SeriesInstanceUID"], strict=True):
        series_of_dir[os.path.dirname(rel)].add(uid)
    orphans: dict[str, list[str]] = defaultdict(list)
    attached: dict[str, list[str]] = defaultdict(list)
    for rel, err in zip(bad["path"], bad["error"], strict=True):
        reason = f"{os.path.basename(rel)} ({err or 'no SeriesInstanceUID'})"
        owners = series_of_dir.get(os.path.dirname(rel), set())
        if len(owners) == 1:
            attached[next(iter(owners))].append(reason)
        else:
            orphans[os.path.dirname(rel)].append(rel)
    rows: list[dict[str, Any]] = []
    for uid, group in ok.groupby("SeriesInstanceUID", sort=False):
        reasons: list[str] = []
        warnings: list[str] = []
        if attached.get(uid):
            n = len(attached[uid])
            reasons.append(f"unreadable file{'s' if n > 1 else ''}: " + "; ".join(attached[uid][:3])
                           + (" ..." if n > 3 else ""))
        for column, label in (("PatientID", "patients"), ("StudyInstanceUID", "studies"),
                              ("Modality", "modalities")):
            if group[column].nunique() > 1:
                reasons.append(f"mixed {label} in one series")
        frames = group["NumberOfFrames"].dropna()
        multiframe: dict[str, Any] = {}
        modality = _first(group["Modality"]) or ""
        lossy = sorted({str(t) for t in group["TransferSyntaxUID"].dropna() if is_lossy(str(t))})
        if lossy:
            warnings.append(f"lossy compression ({', '.join(lossy)}): values are not "
                            "quantitatively exact")
        if modality in NON_IMAGE_MODALITIES:
            pass                     # contours, reports: no image grid to check
        elif len(frames) and (frames > 1).any():
            if root is not None and len(group) == 1:  # its frames are its slices
                from nethelpers.dicom.multiframe_index import index_fields

                multiframe, problems, notes = index_fields(root / group["path"].iloc[0],
                                                           tolerance)
                reasons.extend(problems)
                warnings.extend(notes)
            else:
                warnings.append("multi-frame (enhanced) object: one file holds several frames")
        geometry = ({} if modality in NON_IMAGE_MODALITIES
                    else _geometry(group, reasons, warnings, tolerance))
        geometry.update(multiframe)
        expected = (geometry.get("expected_slices", _first(group["NumberOfSlices"]))
                    if modality == "PT" else None)
        n_slices = geometry.get("n_slices", len(group))
        if expected is not None and int(expected) > n_slices:
            reasons.append(f"missing slices: {n_slices} of {int(expected)} (NumberOfSlices)")
        acq = [
            _iso(d, t) for d, t in zip(group["AcquisitionDate"], group["AcquisitionTime"],
                                       strict=True)
        ]
        acq = [a for a in acq if a]
        rp_text = _first(group["Radiopharmaceutical"])
        description = _first(group["SeriesDescription"])
        tracer = ""
        nuclide = ""
        if modality in ("PT", "NM"):
            tracer = tracer_name(_first(group["RadiopharmaceuticalCode"]),
                                 _first(group["RadiopharmaceuticalCodeMeaning"]), rp_text,
                                 description)
            half = _first(group["RadionuclideHalfLife"])
            nuclide = radionuclide_name(_first(group["RadionuclideCodeMeaning"]), rp_text,
                                        None if half is None else float(half))
        directories = {os.path.dirname(p) for p in group["path"]}
        row = {
            "patient_id": _first(group["PatientID"]),
            "study_uid": _first(group["StudyInstanceUID"]),
            "study_date": _first(group["StudyDate"]),
            "study_description": _first(group["StudyDescription"]),
            "series_uid": uid,
            "series_number": _first(group["SeriesNumber"]),
            "modality": modality,
            "series_description": description,
            "tracer": tracer,
            "radionuclide": nuclide,
            "system": "",
            "companion_series_uid": "",
            "manufacturer": _first(group["Manufacturer"]),
            "model": _first(group["ManufacturerModelName"]),
            "station": _first(group["StationName"]),
            "frame_of_reference_uid": _first(group["FrameOfReferenceUID"]),
            "n_files": len(group),
            "n_slices": n_slices,
            "expected_slices": None if expected is None else int(expected),
            "slice_thickness_mm": _first(group["SliceThickness"]),
            "series_datetime": _iso(_first(group["SeriesDate"]), _first(group["SeriesTime"])),
            "acquisition_start": min(acq) if acq else "",
            "acquisition_end": max(acq) if acq else "",
            "units": _first(group["Units"]) if modality == "PT" else None,
            "directory": os.path.commonpath(sorted(directories)) if directories else "",
            "qc": "fail" if reasons else ("warn" if warnings else "ok"),
            "qc_reasons": "; ".join(reasons + warnings),
        }
        row.update(geometry)
        rows.append(row)
    for directory, rels in orphans.items():
        rows.append({
            "series_uid": "", "modality": "", "n_files": len(rels), "n_slices": 0,
            "directory": directory, "qc": "fail", "files": tuple(rels),
            "qc_reasons": f"unreadable files not attributable to a series: {len(rels)} "
                          f"(first: {os.path.basename(rels[0])}: "
                          f"{files.loc[files['path'] == rels[0], 'error'].iloc[0]})",
        })
    return rows


_PETMR_MODELS = ("mmr", "pet/mr", "petmr", "pet-mr", "signa pet")


def _link_companions(series: pd.DataFrame) -> None:
    """Fill ``system`` and ``companion_series_uid`` for PET and their CT/MR, in place."""
    anat = series[series["modality"].isin(["CT", "MR"])]
    for i, pet in series[series["modality"] == "PT"].iterrows():
        candidates = anat[anat["study_uid"] == pet["study_uid"]]
        same_for = candidates[candidates["frame_of_reference_uid"] == pet["frame_of_reference_uid"]]
        if len(same_for):
            candidates = same_for
        if len(candidates):
            # prefer a usable series, then the one acquired closest in time
            score = [
                (qc == "fail", abs(_seconds(c) - _seconds(pet["series_datetime"])))
                for qc, c in zip(candidates["qc"], candidates["series_datetime"], strict=True)
            ]
            best = candidates.iloc[min(range(len(score)), key=score.__getitem__)]
            series.at[i, "companion_series_uid"] = best["series_uid"]
            series.at[i, "system"] = f"PET/{best['modality']}"
            j = best.name
            series.at[j, "companion_series_uid"] = (
                ";".join(filter(None, [series.at[j, "companion_series_uid"], pet["series_uid"]]))
            )
            for k in candidates.index:
                series.at[k, "system"] = f"PET/{series.at[k, 'modality']}"
        else:
            model = str(pet["model"] or "").lower()
            series.at[i, "system"] = "PET/MR" if any(m in model for m in _PETMR_MODELS) else "PET"
            note = "no CT or MR series in the same study (attenuation map source unknown)"
            series.at[i, "qc_reasons"] = "; ".join(filter(None, [pet["qc_reasons"], note]))
            if series.at[i, "qc"] == "ok":
                series.at[i, "qc"] = "warn"


def _seconds(iso: Any) -> float:
    if not isinstance(iso, str) or not iso:
        return math.inf
    return pd.Timestamp(iso).timestamp()


def _series_table(files: pd.DataFrame, tolerance: float,
                  root: Path | None = None) -> pd.DataFrame:
    rows = _series_rows(files, tolerance, root)
    series = pd.DataFrame(rows, columns=[*SERIES_COLUMNS, "files"])
    if len(series):
        _link_companions(series)
        series = series.sort_values(
            ["patient_id", "study_date", "study_uid", "series_number", "series_uid"],
            na_position="last", kind="stable",
        ).reset_index(drop=True)
    for column in ("n_files", "n_slices"):
        series[column] = series[column].astype("Int64")
    return series


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
        Folder to walk (recursively; hidden entries and known non-DICOM files skipped).
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
        and ``stats`` (files, read, cached, seconds).
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
        series = _series_table(files, slice_tolerance, root_path)
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
    """A short plain-text summary: counts by modality, tracer and system, and QC problems.

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
    by_modality = series["modality"].replace("", "?").value_counts()
    lines.append("modality: " + ", ".join(f"{k} {v}" for k, v in by_modality.items()))
    pet = series[series["modality"] == "PT"]
    if len(pet):
        lines.append("PET tracer: " + ", ".join(
            f"{k or 'unknown'} {v}" for k, v in pet["tracer"].value_counts().items()))
        lines.append("PET system: " + ", ".join(
            f"{k} {v}" for k, v in pet["system"].value_counts().items()))
    qc = series["qc"].value_counts()
    lines.append("QC: " + ", ".join(f"{k} {qc.get(k, 0)}" for k in ("ok", "warn", "fail")))
    problems = series[series["qc"] != "ok"]
    for _, row in problems.head(20).iterrows():
        label = row["directory"] or row["series_uid"]
        lines.append(f"  {row['qc']}: {label}: {row['qc_reasons']}")
    if len(problems) > 20:
        lines.append(f"  ... and {len(problems) - 20} more (see the qc_reasons column)")
    return "\n".join(lines)
