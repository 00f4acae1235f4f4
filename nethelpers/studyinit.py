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
      derived/init_skipped.csv how many series are not scans, by patient and reason (no
                               folder, no series detail)
      private/                 pseudonyms.csv: pseudonym -> PatientID, name, birth date;
                               init_skipped.csv: every series that is not a scan, its DICOM
                               folder and why; init_walk_notes.csv: the symbolic links not
                               followed and folders not opened; the index cache. Files mode
                               0600, never shared, never referenced by the parameters

Symbolic links in the DICOM tree are followed as ``nethelpers index`` follows them (each
folder and file once, :mod:`nethelpers.treewalk`); a loop or a dangling link is counted in
the printed summary and named only in ``private/init_walk_notes.csv``.

People of the tree without a scan get X001, X002, ... in ``private/`` only. Two people who
share a PatientID (anonymised exports) stay apart (:mod:`nethelpers.initpeople`), with a
warning naming their pseudonyms.

The folder is assembled beside STUDY_DIR and renamed into place at the end: a failed run
leaves nothing behind. Nothing identifying is written outside ``private/``, and nothing
printed names a patient or a folder under the DICOM root (folder names may hold names).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from nethelpers.cohort import LESIONS, PATIENTS, READS, SCANS
from nethelpers.initparams import params_text
from nethelpers.initpeople import shared_id_warnings
from nethelpers.initscans import ScanPlan, plan_scans, scan_slug
from nethelpers.treewalk import WalkNote

__all__ = ["InitError", "InitResult", "init_study", "study_name", "summary_text"]

PRIVATE_README = """\
This folder holds patient identifiers:
- pseudonyms.csv: the link from each pseudonym (P001, ...) to the DICOM PatientID,
  PatientName and birth date; X001, X002, ... are people of the DICOM tree without a scan
  (n_scans 0: all their series are in init_skipped.csv);
- init_skipped.csv: every series that is not a scan, its DICOM folder (folder names may hold
  patient names) and why;
- init_walk_notes.csv: symbolic links of the DICOM tree not followed (loops, dangling links,
  links to files listed under another path) and folders that could not be opened;
- dicom-index.cache*: the DICOM index cache (it holds PatientIDs).

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
    patients, scans : pandas.DataFrame
        The tables written (pseudonyms only).
    skipped : pandas.DataFrame
        private/init_skipped.csv: DICOM folders and series details (never print them).
    tracers_added : dict
        Tracers added to the vocabulary → why.
    skipped_summary : pandas.DataFrame
        derived/init_skipped.csv: series counts by patient, modality and reason.
    warnings : list of str
        What the user must check (pseudonyms only).
    walk_notes : list of WalkNote
        private/init_walk_notes.csv: links not followed, folders not opened (DICOM paths:
        never print them).
    """

    study_dir: Path
    params: Path
    patients: pd.DataFrame
    scans: pd.DataFrame
    skipped: pd.DataFrame
    tracers_added: dict[str, str]
    skipped_summary: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    walk_notes: list[WalkNote] = field(default_factory=list)


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


def _patient_row(own: pd.DataFrame, pseudonym: str) -> dict[str, str]:
    """A patient's row of patients.csv from the headers of ``own``, its scans in date order."""
    birth, sex = _first(own["birth_date"]), _first(own["sex"]).upper()
    return {"patient_id": pseudonym,
            "age": _age(birth, own["scan_date"].iloc[0], _first(own["age"])),
            "sex": sex if sex in ("F", "M") else "",
            "weight_kg": _weight(_first(own["weight"]) or None),
            "height_cm": _height(_first(own["size"]) or None)}


def _pseudonyms(plan: ScanPlan) -> dict[str, str]:
    """Patient key → pseudonym: P001, ... for the patients with a scan, X001, ... for the rest.

    P follows the first scan date, then the PatientID; X (people of the tree without a scan,
    named in private/ only) the first study date.
    """
    first = plan.scans.groupby("patient_key")["scan_date"].min()
    order = sorted(first.index, key=lambda k: (first[k], k))
    dates = plan.skipped.groupby("patient_key")["study_date"].min()
    others = sorted(set(plan.people["patient_key"]) - set(order),
                    key=lambda k: (dates.get(k, ""), k))
    out = {}
    for prefix, keys in (("P", order), ("X", others)):
        width = max(3, len(str(len(keys))))
        out.update({key: f"{prefix}{i:0{width}d}" for i, key in enumerate(keys, start=1)})
    return out


def _skipped_summary(skipped: pd.DataFrame) -> pd.DataFrame:
    """Series counts by patient (P pseudonyms only), modality and reason: no folder, no UID."""
    patient = skipped["patient"].where(skipped["patient"].str.startswith("P"), "")
    counts = skipped.assign(patient=patient).groupby(
        ["patient", "modality", "reason"]).size().rename("n_series").reset_index()
    counts["last"] = counts["patient"] == ""
    return counts.sort_values(["last", "patient", "modality", "reason"]).drop(
        columns="last").reset_index(drop=True)


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
    """Patients, scans, skipped (private), private map, skipped summary, pseudonyms.

    Pseudonyms follow the first scan date, then the PatientID (:func:`_pseudonyms`).
    """
    order_by = ["scan_date", "series_datetime", "modality", "tracer", "pet_series_uid"]
    scans = plan.scans.sort_values(["patient_key", *order_by]).reset_index(drop=True)
    pseudonym = _pseudonyms(plan)
    order = sorted(set(scans["patient_key"]), key=pseudonym.__getitem__)
    patients = pd.DataFrame([_patient_row(scans[scans["patient_key"] == key], pseudonym[key])
                             for key in order]).reindex(columns=[c.name for c in
                                                                 PATIENTS.columns])
    n_scans = scans["patient_key"].value_counts()
    private = plan.people.assign(pseudonym=plan.people["patient_key"].map(pseudonym),
                                 n_scans=plan.people["patient_key"].map(n_scans).fillna(0)
                                 .astype(int)).sort_values("pseudonym")
    private = private[["pseudonym", "patient_id", "patient_name", "birth_date", "study_uids",
                       "n_scans"]]
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
    return (patients, scans.reindex(columns=[c.name for c in SCANS.columns]), skipped,
            private.reset_index(drop=True), _skipped_summary(skipped), pseudonym)


def _write_csv(frame: pd.DataFrame, path: Path, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode is None:
        frame.to_csv(path, index=False)
        return
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        frame.to_csv(fh, index=False)
    os.chmod(path, mode)


def _write(folder: Path, plan: ScanPlan, tables: tuple[Any, ...], name: str,
           dicom: Path, params_file: Path, walk_notes: list[WalkNote]) -> None:
    """Every file of the study folder (``folder``: the staging copy; ``params_file``: final)."""
    patients, scans, skipped, private, summary, _ = tables
    _write_csv(patients, folder / "clinical" / "patients.csv")
    _write_csv(scans, folder / "clinical" / "scans.csv")
    for table, rel in ((LESIONS, "truth/lesions.csv"), (READS, "reads/reads.csv")):
        _write_csv(pd.DataFrame(columns=[c.name for c in table.columns]), folder / rel)
    (folder / "rois").mkdir()
    (folder / ".gitignore").write_text("# identifiers: never commit or share\nprivate/\n",
                                       encoding="utf-8")
    _write_csv(summary, folder / "derived" / "init_skipped.csv")
    (folder / "private" / "README.txt").write_text(PRIVATE_README, encoding="utf-8")
    _write_csv(private, folder / "private" / "pseudonyms.csv", mode=0o600)
    _write_csv(skipped, folder / "private" / "init_skipped.csv", mode=0o600)
    _write_csv(pd.DataFrame([vars(n) for n in walk_notes], columns=["kind", "path", "detail"]),
               folder / "private" / "init_walk_notes.csv", mode=0o600)
    for path in (folder / "private").iterdir():     # the index cache too
        os.chmod(path, 0o600)
    (folder / "parameters.yaml").write_text(
        params_text(name, dicom, plan.vocabulary, plan.tracers_added, str(params_file)),
        encoding="utf-8")


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
        walk_notes = list(series.attrs.get("stats", {}).get("notes", []))
        _write(staging, plan, tables, name, dicom, study / "parameters.yaml", walk_notes)
        load_cohort(load_params(staging / "parameters.yaml"), strict=True)  # self-check
        if study.exists():
            study.rmdir()
        staging.rename(study)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return InitResult(study, study / "parameters.yaml", tables[0], tables[1], tables[2],
                      plan.tracers_added, tables[4], shared_id_warnings(tables[5]),
                      walk_notes)


_WALK_WORDS = {"loop": "symbolic link loops", "dangling": "dangling symbolic links",
               "duplicate": "links to files listed under another path",
               "unreadable": "folders or links that could not be opened",
               "special": "special files (not regular files)"}


def _walk_counts(notes: list[WalkNote]) -> str:
    """``symbolic link loops 1, dangling symbolic links 2``: counts only, never a path."""
    counts = Counter(note.kind for note in notes)
    return ", ".join(f"{_WALK_WORDS[kind]} {n}" for kind, n in sorted(counts.items()))


def summary_text(result: InitResult) -> str:
    """The printed summary: counts by tracer × modality, skipped series, next steps.

    Pseudonyms and counts only: no name, PatientID or folder under the DICOM root.
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
        lines.append(f"  {len(result.skipped)} series skipped (counts in "
                     "derived/init_skipped.csv, folders and details in private/):")
        lines += [f"    {line}" for line in _reason_counts(result.skipped)]
    if result.walk_notes:
        lines.append(f"  skipped in the DICOM tree: {_walk_counts(result.walk_notes)} (named in "
                     "private/init_walk_notes.csv)")
    lines += [f"  warning: {text}" for text in result.warnings]
    params = shlex.quote(str(result.params))
    lines += [
        "next steps:",
        f"  1. fill {result.study_dir / 'clinical' / 'patients.csv'}: group, final_diagnosis, "
        "disease_present, reference_standard per patient (the `# FILL IN:` lines of "
        "parameters.yaml say what else)",
        f"  2. nethelpers review -f {params} --patient {ids[0]}",
        f"  3. nethelpers report -f {params}",
    ]
    return "\n".join(lines)
