"""A DICOM index's series: files grouped by SeriesInstanceUID, described, and QC'd.

:func:`series_table` turns the per-file header table of :mod:`nethelpers.dicom.index` into
one row per series (:data:`SERIES_COLUMNS`): identifiers, tracer, scanner, geometry (slices
sorted along the normal and placed as :mod:`nethelpers.dicom.slicegrid` places them),
dates, the PET's companion CT or MR (PET/CT or PET/MR), and a QC verdict (``ok``, ``warn``,
``fail``) with its reasons: among them files whose pixel data are cut short and, for PET,
what the SUV rules refuse or warn about (:mod:`nethelpers.dicom.suvqc`).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nethelpers.dicom.codecs import is_lossy
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE, SliceGridError, fit_slices
from nethelpers.dicom.spect import emission_system
from nethelpers.dicom.suvqc import COUNTS_NOTE, multiframe_suv_qc, nm_suv_qc, series_suv_qc
from nethelpers.dicom.tracers import radionuclide_name, tracer_name

__all__ = ["NON_IMAGE_MODALITIES", "SERIES_COLUMNS", "series_table"]

#: Objects that hold no image grid: their files are listed, not checked as slices.
NON_IMAGE_MODALITIES = frozenset({"SEG", "RTSTRUCT", "SR", "REG", "KO", "PR", "RWV", "DOC"})

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


def _pixel_problems(ok: pd.DataFrame) -> dict[str, list[str]]:
    """Series UID -> ``"<file>: truncated pixel data: N of M bytes"`` of each such file."""
    if "pixel_problem" not in ok:
        return {}
    bad = ok[ok["pixel_problem"].notna()]
    out: dict[str, list[str]] = defaultdict(list)
    for uid, path, why in zip(bad["SeriesInstanceUID"], bad["path"], bad["pixel_problem"],
                              strict=True):
        out[uid].append(f"{os.path.basename(path)}: {why}")
    return out


def _pixel_reason(listed: list[str]) -> list[str]:
    if not listed:
        return []
    head = f"{len(listed)} file{'s' if len(listed) > 1 else ''} with incomplete pixel data"
    return [f"{head}: " + "; ".join(sorted(listed)[:3]) + (" ..." if len(listed) > 3 else "")]


def _suv_qc(group: pd.DataFrame, files: tuple[str, ...], multiframe: bool,
            root: Path | None) -> tuple[list[str], list[str]]:
    """What the SUV rules say about a PET series (its files in slice order)."""
    if multiframe:
        if root is None or len(group) != 1:
            return [], []
        path = group["path"].iloc[0]
        return multiframe_suv_qc(root / path, os.path.basename(path))
    if "pet_keywords" not in group:
        return [], []
    by_path = dict(zip(group["path"], group["pet_keywords"], strict=True))
    ordered = [p for p in files if p in by_path] or list(by_path)
    return series_suv_qc([by_path[p] for p in ordered], [os.path.basename(p) for p in ordered])


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
    pixel_problems = _pixel_problems(ok)
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
        geometry = ({"files": tuple(sorted(group["path"]))} if modality in NON_IMAGE_MODALITIES
                    else _geometry(group, reasons, warnings, tolerance))
        geometry.update(multiframe)
        reasons.extend(_pixel_reason(pixel_problems.get(uid, [])))
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
                                        None if half is None else float(half),
                                        single_photon=modality == "NM")
        kind = emission_system(modality, nuclide, _first(group["ManufacturerModelName"]))
        planar = modality == "NM" and "RECON" not in str(_first(group["ImageType"]) or "")
        units = _first(group["Units"])
        if modality == "PT" and kind == "SPECT" and str(units).upper() not in (
                "BQML", "GML", "CM2ML"):
            warnings.append(COUNTS_NOTE)
        elif modality == "PT":
            refused, notes = _suv_qc(group, geometry.get("files", ()),
                                     bool(len(frames) and (frames > 1).any()), root)
            reasons.extend(refused)
            warnings.extend(notes)
        elif modality == "NM" and not planar and root is not None and len(group) == 1:
            refused, notes = nm_suv_qc(root / group["path"].iloc[0],
                                       os.path.basename(group["path"].iloc[0]))
            reasons.extend(refused)
            warnings.extend(notes)
        expected = (geometry.get("expected_slices", _first(group["NumberOfSlices"]))
                    if modality == "PT" or (modality == "NM" and not planar) else None)
        n_slices = geometry.get("n_slices", len(group))
        if expected is not None and int(expected) > n_slices:
            reasons.append(f"missing slices: {n_slices} of {int(expected)} (NumberOfSlices)")
        acq = [
            _iso(d, t) for d, t in zip(group["AcquisitionDate"], group["AcquisitionTime"],
                                       strict=True)
        ]
        acq = [a for a in acq if a]
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
            "system": "NM" if planar else "",
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
            "units": units if modality in ("PT", "NM") else None,   # NM: set by index_fields
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
    """Fill ``system`` and ``companion_series_uid`` for PET/SPECT and their CT/MR, in place.

    PET takes a CT or MR of its study (PET/CT, PET/MR); SPECT (NM reconstructions, PT from
    SPECT systems or of single-photon nuclides) a CT (SPECT/CT), else it is ``SPECT``.
    Planar NM (``system`` already ``NM``) takes none.
    """
    anat = series[series["modality"].isin(["CT", "MR"])]
    emission = series[series["modality"].isin(["PT", "NM"]) & (series["system"] != "NM")]
    for i, pet in emission.iterrows():
        kind = emission_system(pet["modality"], pet["radionuclide"], pet["model"])
        pool = anat if kind == "PET" else anat[anat["modality"] == "CT"]
        candidates = pool[pool["study_uid"] == pet["study_uid"]]
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
            series.at[i, "system"] = f"{kind}/{best['modality']}"
            j = best.name
            series.at[j, "companion_series_uid"] = (
                ";".join(filter(None, [series.at[j, "companion_series_uid"], pet["series_uid"]]))
            )
            for k in candidates.index:
                series.at[k, "system"] = f"{kind}/{series.at[k, 'modality']}"
            if not len(same_for) and pet["frame_of_reference_uid"] and best[
                    "frame_of_reference_uid"]:
                _note(series, i, f"its {best['modality']} is in another frame of reference: "
                                 "the two are aligned by registration, not by coordinates")
        else:
            model = str(pet["model"] or "").lower()
            series.at[i, "system"] = kind if kind == "SPECT" else (
                "PET/MR" if any(m in model for m in _PETMR_MODELS) else "PET")
            note = ("no CT series in the same study (attenuation map source unknown)"
                    if kind == "SPECT" else
                    "no CT or MR series in the same study (attenuation map source unknown)")
            _note(series, i, note)


def _note(series: pd.DataFrame, i: Any, note: str) -> None:
    """Add a warning to a series' QC reasons (``ok`` becomes ``warn``), in place."""
    series.at[i, "qc_reasons"] = "; ".join(filter(None, [series.at[i, "qc_reasons"], note]))
    if series.at[i, "qc"] == "ok":
        series.at[i, "qc"] = "warn"


def _seconds(iso: Any) -> float:
    if not isinstance(iso, str) or not iso:
        return math.inf
    return pd.Timestamp(iso).timestamp()


def series_table(files: pd.DataFrame, tolerance: float = DEFAULT_SLICE_TOLERANCE,
                 root: Path | None = None) -> pd.DataFrame:
    """One row per series of a per-file header table, sorted by patient, date and number.

    Parameters
    ----------
    files : pandas.DataFrame
        The per-file table (:data:`nethelpers.dicom.index.FILE_COLUMNS`).
    tolerance : float
        Slice tolerance (fraction of the spacing) of the spacing QC.
    root : pathlib.Path, optional
        The tree's root: multi-frame files are opened there to describe their frames.

    Returns
    -------
    pandas.DataFrame
        :data:`SERIES_COLUMNS` and ``files``.
    """
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
