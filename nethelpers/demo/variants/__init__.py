"""Real-world variants of demo series: what scanners, PACS and workstations write.

The demo writer agrees with the reader because the same hands wrote both. Each module here
rewrites a demo series the way a real source does, so the tests (and a user) can check
the reader on it against the demo's truth:

- :mod:`.jitter` — a GE multi-bed PET with rounded slice steps at the bed boundaries;
- :mod:`.compressed` — a series in another transfer syntax (JPEG Lossless SV1, JPEG-LS,
  JPEG 2000, RLE, deflated, lossy JPEG / JPEG 2000);
- :mod:`.enhanced` — Legacy Converted Enhanced PET (highdicom) and Enhanced PET objects;
- :mod:`.rtstruct` — a reader's ROIs as an RT Structure Set, drawn on the PET or the CT;
- :mod:`.overlapping` — a workstation's SEG whose segments share voxels (a liver VOI around
  a lesion; two lesion outlines that run into each other);
- :mod:`.damaged` — PET series that must be refused, under ``damaged/``: one file's pixel
  data cut short, PatientWeight empty, the injection 7 h off as a time of day only;
- :mod:`.spect` — the PET's activity as SPECT: NM counts, NM Bq/ml, xSPECT PT 177Lu, a GE NM
  with negative slice spacing, and under ``spect/refused/`` an NM with two energy windows.

:func:`write_variants` writes one of each for a demo study into ``<study>/variants/``
with a manifest, ``variants.json`` (what each folder holds and which scan it came from).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["VARIANT_SYNTAXES", "write_variants"]

#: Transfer syntaxes of the compressed copies: name -> UID.
VARIANT_SYNTAXES = {
    "jpeg-lossless-sv1": "1.2.840.10008.1.2.4.70",
    "jpeg-ls-lossless": "1.2.840.10008.1.2.4.80",
    "j2k-lossless": "1.2.840.10008.1.2.4.90",
    "j2k-lossy": "1.2.840.10008.1.2.4.91",
    "rle": "1.2.840.10008.1.2.5",
    "deflated": "1.2.840.10008.1.2.1.99",
}


def _rel(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root).as_posix()


def _scan(scans: pd.DataFrame, manufacturer: str | None = None) -> pd.Series:
    pet_ct = scans[scans["modality"] == "PET/CT"]
    if manufacturer is not None:
        chosen = pet_ct[pet_ct["manufacturer"].str.upper() == manufacturer]
        if len(chosen):
            return chosen.iloc[0]
    return pet_ct.iloc[0] if len(pet_ct) else scans.iloc[0]


def _new_uids(folder: Path, salt: str) -> None:
    """Give a copied series its own Series and SOP Instance UIDs (derived, reproducible).

    A copy that keeps the original's UIDs is the same series to every DICOM tool: beside
    the original (or another copy) in one tree it would read as duplicate instances.
    Only the header is rewritten; compressed pixel data are kept as they are.
    """
    import pydicom
    from pydicom.uid import generate_uid

    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(ds.SeriesInstanceUID), salt])
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), salt])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(path, enforce_file_format=True)


def write_variants(study: str | Path, out: str | Path | None = None) -> Path:
    """Write one of each real-world variant of a demo study's series.

    Parameters
    ----------
    study : path-like
        A demo study folder (``nethelpers demo``).
    out : path-like, optional
        Where to write (default ``<study>/variants``); replaced if it exists.

    Returns
    -------
    pathlib.Path
        The manifest ``variants.json`` (in ``out``): one entry per variant with ``variant``,
        ``path`` (relative to ``out``), ``scan_id`` and ``source`` (the original series,
        relative to the study) (the overlapping SEGs also with the truth: ``segments``
        with their voxels, ``overlaps`` with the voxels each pair shares), and the
        variants that could not be written here (an encoder missing) under ``skipped``.
    """
    import shutil

    from nethelpers.demo.variants.compressed import write_compressed
    from nethelpers.demo.variants.damaged import write_damaged
    from nethelpers.demo.variants.enhanced import write_enhanced_pet, write_legacy_converted
    from nethelpers.demo.variants.jitter import write_jittered
    from nethelpers.demo.variants.overlapping import OVERLAP_KINDS, write_overlapping_seg
    from nethelpers.demo.variants.rtstruct import write_rtstruct
    from nethelpers.dicom.seg import export_seg
    from nethelpers.rois import RoiStore

    root = Path(study).resolve()
    out = Path(out).resolve() if out is not None else root / "variants"
    if out.exists():
        shutil.rmtree(out)
    scans = pd.read_csv(root / "clinical" / "scans.csv", keep_default_na=False)
    entries: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []

    def add(variant: str, path: Path, scan: pd.Series, **extra: Any) -> None:
        entries.append({"variant": variant, "path": _rel(path, out),
                        "scan_id": scan["scan_id"], "source": scan["pet_dir"], **extra})

    ge = _scan(scans, "GE")
    jittered = write_jittered(root / ge["pet_dir"], out / "jitter" / "PT")
    add("jitter", jittered.directory, ge, max_deviation_mm=jittered.max_deviation_mm)

    base = _scan(scans)
    pet = root / base["pet_dir"]
    for name, uid in VARIANT_SYNTAXES.items():
        target = out / "compressed" / name / "PT"
        try:
            write_compressed(pet, target, uid)
        except (ImportError, RuntimeError, FileNotFoundError) as exc:
            skipped.append({"variant": f"compressed/{name}", "reason": str(exc)[:300]})
            shutil.rmtree(target, ignore_errors=True)
            continue
        _new_uids(target, name)
        add(f"compressed/{name}", target, base, transfer_syntax=uid)
    add("enhanced/legacy-converted", write_legacy_converted(pet, out / "enhanced" / "legacy"),
        base)
    add("enhanced/enhanced-pet", write_enhanced_pet(pet, out / "enhanced" / "enhanced"), base)

    rois = RoiStore(root / "rois").load(base["scan_id"], reader="R1")   # the generator's
    add("seg", export_seg(rois.labels, rois.table, pet, out / "contours" / "seg.dcm"), base)
    add("rtstruct/on-pet", write_rtstruct(rois.labels, rois.table, pet,
                                          out / "contours" / "rtstruct-pet.dcm"), base)
    if base["anat_dir"] and (root / base["anat_dir"]).is_dir():
        add("rtstruct/on-ct", write_rtstruct(rois.labels, rois.table, pet,
                                             out / "contours" / "rtstruct-ct.dcm", on="ct",
                                             ct_series_dir=root / base["anat_dir"]), base)
    for kind in OVERLAP_KINDS:
        written = write_overlapping_seg(rois.labels, rois.table, pet,
                                        out / "contours" / f"seg-overlap-{kind}.dcm", kind=kind)
        add(f"seg/overlap-{kind}", written.path, base, segments=list(written.segments),
            overlaps=list(written.overlaps))
    for name, damaged, scan in write_damaged(root, scans, out / "damaged"):
        add(f"damaged/{name}", damaged.directory, scan, **damaged.truth)
    from nethelpers.demo.variants.spect import write_spect_variants

    for spect in write_spect_variants(pet, out):
        add(spect.name, spect.directory, base, **spect.truth)
    manifest = out / "variants.json"
    manifest.write_text(json.dumps({"study": root.name, "variants": entries,
                                    "skipped": skipped}, indent=2))
    return manifest
