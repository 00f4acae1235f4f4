"""One PET and its contours, measured: the engine of ``nethelpers measure``.

No study, no parameters file: a PET series and one ROI file (DICOM SEG, RTSTRUCT or a label
image) give one row per ROI with the measurements of :func:`nethelpers.scanmeasures.measure_rois`
(the same code as a cohort run, so the numbers are those of ``nethelpers quantify``) and,
beside them, the provenance of the SUV conversion.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import SimpleITK as sitk

from nethelpers.dicom.roifile import RoiFile, read_roi_file
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE
from nethelpers.dicom.volume import load_pet_series, pet_keywords
from nethelpers.scanmeasures import QuantifyOptions, measure_rois, sul_factor

__all__ = ["MEASURE_COLUMNS", "PROVENANCE_COLUMNS", "measure_file"]

#: The measurement columns, in order (``roi`` is the ROI's name, ``roi_kind`` its kind).
MEASURE_COLUMNS = (
    "roi", "roi_kind", "label", "n_voxels", "volume_ml", "suv_max", "suv_mean", "suv_sd",
    "suv_peak", "mtv_ml", "suv_mean_mtv", "tla", "mtv_percist_ml", "tla_percist", "sul_max",
    "sul_mean", "sul_peak", "liver_suv_mean", "spleen_suv_mean", "shell_suv_mean",
    "shell_volume_ml", "tb_liver", "tb_spleen", "tb_shell", "note",
)
#: Provenance columns beside them (the same value on every row).
PROVENANCE_COLUMNS = (
    "suv_norm", "suv_unit", "suv_factor", "suv_factor_min", "suv_factor_max", "units",
    "decay_reference", "reference_time", "injection", "dose_bq", "half_life_s", "weight_kg",
    "sul_factor", "pet_series_uid", "roi_source", "warnings",
)


def _name(row: pd.Series) -> str:
    return str(row["lesion_id"]) if row["roi"] == "lesion" and row["lesion_id"] else row["roi"]


def measure_file(
    pet: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    roi_file: str | os.PathLike[str],
    *,
    norm: str = "bw",
    options: QuantifyOptions | None = None,
    series_uid: str | None = None,
    slice_tolerance: float = DEFAULT_SLICE_TOLERANCE,
    height_m: float | None = None,
    sex: str | None = None,
    sr: str | os.PathLike[str] | None = None,
    **overrides: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Measure every ROI of a ROI file on its PET.

    Parameters
    ----------
    pet : path-like or sequence of path-like
        The PET series folder or files.
    roi_file : path-like
        DICOM SEG, RTSTRUCT, or a label image (NIfTI, NRRD, MetaImage).
    norm : str
        SUV normalisation (``bw``, ``lbm``, ``lbm-james``, ``lbm-james120``, ``bsa``, ``ibw``).
    options : QuantifyOptions, optional
        Thresholds, SUVpeak radius, shell and SUL settings (default: the protocol's).
    series_uid : str, optional
        The PET series, when the folder holds several.
    slice_tolerance : float
        See :func:`nethelpers.dicom.load_pet`.
    height_m, sex : optional
        From the clinical record: they replace the header's PatientSize / PatientSex (for
        the norms that need them, and for SUL), as in ``nethelpers suv``.
    sr : path-like, optional
        Also write the measurements as a DICOM SR TID 1500 here
        (:func:`nethelpers.dicom.sr.export_sr`), referencing the PET and the SEG: the ROI
        file itself, or, for an RTSTRUCT or label image, a SEG written beside the SR
        (``<name>.seg.dcm``).
    **overrides
        ``weight_kg``, ``dose_bq``, ``injection``, ``half_life_s`` for the SUV conversion.

    Returns
    -------
    pandas.DataFrame
        One row per ROI: :data:`MEASURE_COLUMNS` then :data:`PROVENANCE_COLUMNS`.
    dict
        The full SUV provenance, with ``roi_file`` (kind, notes).

    Raises
    ------
    nethelpers.dicom.DicomInputError
        The PET cannot be converted to SUV, or the ROIs cannot be placed on it.
    """
    options = options or QuantifyOptions(norm=norm, slice_tolerance=slice_tolerance)
    given = {"height_m": height_m, "sex": sex, **overrides}   # the norms know what they need
    loaded = load_pet_series(pet, norm, series_uid=series_uid, slice_tolerance=slice_tolerance,
                             **{k: v for k, v in given.items() if v is not None})
    image, provenance = loaded.image, dict(loaded.provenance)
    rois = read_roi_file(roi_file, loaded.files, image, slice_tolerance=slice_tolerance)
    header, _ = pet_keywords(loaded.headers[0])
    sul, sul_note = sul_factor(provenance, header, options.sul_norm, height_m=height_m, sex=sex)
    rows = measure_rois(sitk.GetArrayViewFromImage(image),
                        sitk.GetArrayViewFromImage(rois.labels), rois.table,
                        image.GetSpacing(), options, sul)
    rows.insert(0, "roi_kind", rows.pop("roi"))
    names = {int(r["label"]): _name(r) for _, r in rois.table.iterrows()}
    rows.insert(0, "roi", rows["label"].astype(int).map(names))
    warnings = [*provenance.get("warnings", []), *rois.notes, *([sul_note] if sul_note else [])]
    provenance["roi_file"] = {"kind": rois.kind, "notes": rois.notes}
    extra = {
        "suv_norm": provenance.get("norm"), "suv_unit": provenance.get("suv_unit"),
        "suv_factor": provenance.get("factor"), "suv_factor_min": provenance.get("factor_min"),
        "suv_factor_max": provenance.get("factor_max"), "units": provenance.get("units"),
        "decay_reference": provenance.get("reference_source"),
        "reference_time": provenance.get("reference_time"),
        "injection": provenance.get("injection"), "dose_bq": provenance.get("dose_bq"),
        "half_life_s": provenance.get("half_life_s"), "weight_kg": provenance.get("weight_kg"),
        "sul_factor": sul, "pet_series_uid": provenance.get("series_uid"),
        "roi_source": rois.kind, "warnings": "; ".join(warnings),
    }
    for column in PROVENANCE_COLUMNS:
        rows[column] = extra[column]
    rows = rows[list(MEASURE_COLUMNS + PROVENANCE_COLUMNS)].reset_index(drop=True)
    if sr is not None:
        provenance["sr"] = _write_sr(rows, rois, roi_file, loaded.files, sr, norm, options)
    return rows, provenance


def _write_sr(rows: pd.DataFrame, rois: RoiFile, roi_file: Any, pet_files: Sequence[Any],
              out: Any, norm: str, options: QuantifyOptions) -> dict[str, str]:
    """The SR (and, unless the ROIs came as a SEG, the SEG it references)."""
    from nethelpers.dicom.seg import export_seg
    from nethelpers.dicom.sr import export_sr

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    seg = Path(roi_file)
    if rois.kind != "SEG":
        seg = export_seg(rois.labels, rois.table, list(pet_files),
                         out.with_name(out.name.removesuffix(".dcm") + ".seg.dcm"))
    ids = dict(zip(rois.table["label"].astype(int), rois.table["lesion_id"], strict=True))
    table = rows.rename(columns={"roi": "name", "roi_kind": "roi"})
    table["lesion_id"] = table["label"].astype(int).map(ids)
    written = export_sr(table, seg, list(pet_files), out, suv_norm=norm,
                        sul_norm=options.sul_norm, mtv_fraction=options.mtv_fraction)
    return {"sr": str(written), "seg": str(seg)}
