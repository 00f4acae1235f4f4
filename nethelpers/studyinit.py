"""``nethelpers init``: scaffold a new study folder from a DICOM tree.

:func:`init_study` indexes the DICOM tree (never writing to it), chooses one scan per PET or
SPECT series with its CT or MR companion (:mod:`nethelpers.initscans`), gives the patients
pseudonyms (P001, P002, ... in order of first scan date, then PatientID) and writes::

    STUDY_DIR/
      parameters.yaml          commented, validated; `# FILL IN:` marks what is missing
      clinical/patients.csv    pre-filled from the headers (age, sex, weight, height)
      clinical/scans.csv       one row per scan (pet_dir, anat_dir relative to STUDY_DIR)
      truth/lesions.csv        header only
      reads/reads.csv          header only
      rois/                    empty ROI store
      derived/init_skipped.csv every series that is not a scan, and why
      private/                 pseudonym -> PatientID, name, birth date (mode 0600), the
                               index cache; never shared, never referenced by the parameters

The folder is assembled beside STUDY_DIR and renamed into place at the end: a failed run
leaves nothing behind. Nothing identifying is written outside ``private/`` nor printed.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.cohort import LESIONS, PATIENTS, READS, SCANS
from nethelpers.initparams import params_text
from nethelpers.initscans import ScanPlan, plan_scans, scan_slug

__all__ = ["InitError", "InitResult", "init_study", "study_name", "summary_text"]

PRIVATE_README = """\
This folder holds patient identifiers: the link from each pseudonym (P001, ...) to the
DICOM PatientID, PatientName and birth date (pseudonyms.csv), and the DICOM index cache
(which holds PatientIDs).

Never share it, never copy it into a report, and never reference it from the parameters or
the study tables. Keep it on the hospital's protected storage; delete it when the study's
data protection plan says so (the study runs without it).
"""

_SYSTEM_TAG = {"PET/CT": "PETCT", "PET/MR": "PETMR", "SPECT/CT": "SPECTCT"}


class InitError(ValueError):
    """A study folder that cannot be scaffolded (usage error, or no scan found)."""


@dataclass
class InitResult:
    """What :func:`init_study` wrote.

    Attributes
    ----------
    study_dir, params : Path
        The study folder and its parameters file.
    patients, scans, skipped : pandas.DataFrame
        The tables written (pseudonyms only).
    tracers_added : dict
        Tracers added to the vocabulary → why.
    """

    study_dir: Path
    params: Path
    patients: pd.DataFrame
    scans: pd.DataFrame
    skipped: pd.DataFrame
    tracers_added: dict[str, str]


def study_name(folder: str | os.PathLike[str]) -> str:
    """A valid ``study.name`` from a folder name (other characters become ``_``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(folder).name)
    name = re.sub(r"^[^A-Za-z0-9]+", "", name).rstrip("_")
    return name or "study"


def _check_folders(dicom: Path, study: Path) -> None:
    if not dicom.is_dir():
        raise InitError(f"{dicom}: DICOM_ROOT is not a folder")
    if study.exists() and (not study.is_dir() or any(study.iterdir())):
        raise InitError(f"{study} exists and is not empty: `nethelpers init` writes a new "
                        "study folder. Fix: give a new (or empty) folder with -o; the DICOM "
                        "tree can stay where it is (study.dicom points at it)")
    if study == dicom or dicom in study.parents:
        raise InitError(f"{study} lies inside DICOM_ROOT {dicom}, which is never written to. "
                        "Fix: give a study folder outside the DICOM tree with -o")


def _age(birth: str, first: str, age_text: str) -> str:
    """Whole years at the first scan: from the birth date, else PatientAge (nnnY)."""
    try:
        b = date(int(birth[:4]), int(birth[4:6]), int(birth[6:8]))
        f = date.fromisoformat(first)
    except ValueError:
        pass
    else:
        if len(birth) == 8 and b <= f:
            return str(f.year - b.year - ((f.month, f.day) < (b.month, b.day)))
    match = re.fullmatch(r"0*(\d+)([YMWD])", age_text.strip().upper())
    if match:
        return match.group(1) if match.group(2) == "Y" else "0"
    return ""


def _weight(value: float | None) -> str:
    """kg, as the SUV engine reads PatientWeight (> 1000 means grams)."""
    if value is None or not value > 0:
        return ""
    return f"{value / 1000.0 if value > 1000.0 else value:g}"


def _height(value: float | None) -> str:
    """Height in cm from PatientSize in m (50-250 is already cm, as the SUV engine reads it)."""
    if value is None or not value > 0:
        return ""
    cm = value if 50.0 <= value <= 250.0 else value * 100.0
    return f"{round(cm, 1):g}" if 50.0 <= cm <= 250.0 else ""


def _first(values: pd.Series) -> Any:
    """The first non-empty text or positive number of a patient's scans (in scan order)."""
    present = [v for v in values if isinstance(v, str) and v or isinstance(v, float) and v > 0]
    return present[0] if present else ""


def _relative(path: Path, study: Path) -> str:
    """``path`` relative to the study folder (absolute when on another drive)."""
    try:
        return Path(os.path.relpath(path, study)).as_posix()
    except ValueError:
        return path.as_posix()


def _patient_rows(own: pd.DataFrame, pseudonym: str, key: str) -> tuple[dict, dict]:
    """A patient's row of patients.csv (from the first scan's headers) and of the private map.

    ``own`` holds the patient's scans in date order.
    """
    birth, sex = _first(own["birth_date"]), _first(own["sex"]).upper()
    public = {"patient_id": pseudonym,
              "age": _age(birth, own["scan_date"].iloc[0], _first(own["age"])),
              "sex": sex if sex in ("F", "M") else "",
              "weight_kg": _weight(_first(own["weight"]) or None),
              "height_cm": _height(_first(own["size"]) or None)}
    private = {"pseudonym": pseudonym, "patient_id": "" if key.startswith("(no PatientID)")
               else key, "patient_name": _first(own["name"]), "birth_date": birth,
               "study_uids": ";".join(sorted(set(own["study_uid"])))}
    return public, private


def _scan_ids(scans: pd.DataFrame) -> list[str]:
    """``<patient>-<tracer>-<PETCT|PETMR|SPECTCT>``, repeats numbered -2, -3 in date order."""
    counts: dict[str, int] = {}
    ids = []
    for row in scans.itertuples():
        base = f"{row.patient_id}-{scan_slug(row.tracer)}-{_SYSTEM_TAG[row.modality]}"
        counts[base] = counts.get(base, 0) + 1
        ids.append(base if counts[base] == 1 else f"{base}-{counts[base]}")
    return ids


def _pseudonymise(plan: ScanPlan, dicom: Path, study: Path) -> tuple[pd.DataFrame, ...]:
    """Patients, scans, skipped and private tables, patients named P001, P002, ...

    Pseudonyms follow the first scan date, then the PatientID.
    """
    order_by = ["scan_date", "series_datetime", "modality", "tracer", "pet_series_uid"]
    scans = plan.scans.sort_values(["patient_key", *order_by]).reset_index(drop=True)
    first = scans.groupby("patient_key")["scan_date"].min().reset_index()
    order = first.sort_values(["scan_date", "patient_key"])["patient_key"].tolist()
    width = max(3, len(str(len(order))))
    pseudonym = {key: f"P{i:0{width}d}" for i, key in enumerate(order, start=1)}
    rows = [_patient_rows(scans[scans["patient_key"] == key], pseudonym[key], key)
            for key in order]
    patients = pd.DataFrame([r[0] for r in rows]).reindex(columns=[c.name for c in
                                                                   PATIENTS.columns])
    scans = scans.assign(patient_id=scans["patient_key"].map(pseudonym))
    scans = scans.sort_values(["patient_id", *order_by]).reset_index(drop=True)
    scans["scan_id"] = _scan_ids(scans)
    for column in ("pet", "anat"):
        scans[f"{column}_dir"] = [_relative(Path(p), study) if p else ""
                                  for p in scans[f"{column}_path"]]
    skipped = plan.skipped.assign(patient=plan.skipped["patient_key"].map(pseudonym).fillna(""),
                                  dicom_dir=[_relative(dicom / p, study)
                                             for p in plan.skipped["path"]])
    skipped = skipped[["patient", "study_date", "modality", "series_number",
                       "series_description", "series_uid", "dicom_dir", "reason", "detail"]]
    return (patients, scans[[c.name for c in SCANS.columns]], skipped,
            pd.DataFrame([r[1] for r in rows]))


def _write_csv(frame: pd.DataFrame, path: Path, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        frame.to_csv(path, index=False)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)
    os.chmod(path, mode)


def _write(folder: Path, plan: ScanPlan, tables: tuple[pd.DataFrame, ...], name: str,
           dicom: Path) -> None:
    """Every file of the study folder (``folder`` is the staging copy)."""
    patients, scans, skipped, private = tables
    _write_csv(patients, folder / "clinical" / "patients.csv")
    _write_csv(scans, folder / "clinical" / "scans.csv")
    for table, rel in ((LESIONS, "truth/lesions.csv"), (READS, "reads/reads.csv")):
        _write_csv(pd.DataFrame(columns=[c.name for c in table.columns]), folder / rel)
    (folder / "rois").mkdir()
    (folder / ".gitignore").write_text("# identifiers: never commit or share\nprivate/\n",
                                       encoding="utf-8")
    _write_csv(skipped, folder / "derived" / "init_skipped.csv")
    (folder / "private" / "README.txt").write_text(PRIVATE_README, encoding="utf-8")
    _write_csv(private, folder / "private" / "pseudonyms.csv", mode=0o600)
    (folder / "parameters.yaml").write_text(
        params_text(name, dicom, plan.vocabulary, plan.tracers_added), encoding="utf-8")


def _reason_counts(skipped: pd.DataFrame) -> list[str]:
    counts = skipped["reason"].value_counts()
    return [f"{n} {reason}" for reason, n in counts.items()]


def _no_scan(series: pd.DataFrame, plan: ScanPlan, dicom: Path) -> InitError:
    if series.empty:
        files = series.attrs.get("stats", {}).get("files", 0)
        return InitError(f"no scan found: no DICOM series under {dicom} ({files} files "
                         "looked at). Fix: give the folder of the DICOM export")
    return InitError(
        f"no scan found under {dicom}: none of its {len(series)} series is a PET or SPECT "
        "series with a CT or MR companion that passed QC (" + "; ".join(
            _reason_counts(plan.skipped)) + "). `nethelpers index` lists the series and "
        "their QC")


def init_study(dicom_root: str | os.PathLike[str], study_dir: str | os.PathLike[str], *,
               workers: int | None = None, progress: bool = False) -> InitResult:
    """Scaffold a new study folder from a DICOM tree.

    Parameters
    ----------
    dicom_root : path-like
        The DICOM export (read only).
    study_dir : path-like
        New or empty folder to write the study into.
    workers : int, optional
        Processes reading headers (default: all cores).
    progress : bool
        Show the indexing progress bar.

    Returns
    -------
    InitResult

    Raises
    ------
    InitError
        DICOM_ROOT is not a folder, STUDY_DIR is not empty or lies inside DICOM_ROOT, or no
        scan was found (the message says why). Nothing is written then.
    """
    from nethelpers.cohort import load_cohort
    from nethelpers.config import load_params
    from nethelpers.dicom.index import index_tree

    dicom = Path(dicom_root).expanduser().resolve()
    study = Path(study_dir).expanduser().resolve()
    _check_folders(dicom, study)
    study.parent.mkdir(parents=True, exist_ok=True)
    staging = study.parent / f".{study.name}.init-{os.getpid()}"
    try:
        (staging / "private").mkdir(parents=True, mode=0o700)
        os.chmod(staging / "private", 0o700)
        series = index_tree(dicom, cache=staging / "private" / "dicom-index.cache",
                            workers=workers, progress=progress)
        plan = plan_scans(series, dicom)
        if plan.scans.empty:
            raise _no_scan(series, plan, dicom)
        tables = _pseudonymise(plan, dicom, study)
        name = study_name(study)
        _write(staging, plan, tables, name, dicom)
        load_cohort(load_params(staging / "parameters.yaml"), strict=True)  # self-check
        if study.exists():
            study.rmdir()
        staging.rename(study)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InitResult(study, study / "parameters.yaml", tables[0], tables[1], tables[2],
                      plan.tracers_added)


def summary_text(result: InitResult) -> str:
    """The printed summary: counts by tracer × modality, skipped series, next steps.

    Pseudonyms and counts only: no name, PatientID or DICOM folder.
    """
    scans, patients = result.scans, result.patients
    ids = patients["patient_id"].tolist()
    lines = [f"init: {result.study_dir}",
             f"  {len(ids)} patient(s) ({ids[0]}..{ids[-1]}), {len(scans)} scan(s):"]
    table = pd.crosstab(scans["tracer"], scans["modality"])
    lines += ["    " + line for line in table.to_string().splitlines()]
    if result.tracers_added:
        lines.append("  tracer(s) added to the vocabulary, check them in parameters.yaml: "
                     + ", ".join(result.tracers_added))
    if len(result.skipped):
        lines.append(f"  {len(result.skipped)} series skipped (derived/init_skipped.csv):")
        lines += [f"    {line}" for line in _reason_counts(result.skipped)]
    params = result.params
    lines += [
        "next steps:",
        f"  1. fill {result.study_dir / 'clinical' / 'patients.csv'}: group, final_diagnosis, "
        "disease_present, reference_standard per patient (the `# FILL IN:` lines of "
        "parameters.yaml say what else)",
        f"  2. nethelpers review -f {params} --patient {ids[0]}",
        f"  3. nethelpers report -f {params}",
    ]
    return "\n".join(lines)
