"""A demo study with planted patient identifiers: the input of the PHI test.

:func:`plant_identifiers` copies a demo study (``nethelpers demo``) and makes it look like a
real export from a hospital PACS, where identifiers are everywhere:

- every patient, scan and series folder under ``dicom/`` gets an identifying name
  (``Pospisil_Petra_MRN7463343/2025-01-09_DOTATATE-PETCT_Pospisil/PT_Pospisil_Petra_20250109``)
  and ``clinical/scans.csv`` follows them (``pet_dir``, ``anat_dir``);
- every DICOM file carries a recognisable value in every attribute of the DICOM Basic
  Application Level Confidentiality Profile that can hold one (name, MRN, birth date,
  tokens; :mod:`nethelpers.demo.variants.phi_headers`), pixel data and every SUV-relevant
  value left as they are, so the numbers do not change;
- the scan dates stay in the headers (the SUV decay needs them): they are identifiers too;
- three scans fail in ways whose messages would naturally name paths and headers
  (:data:`FAILURES`).

The clinical tables are the study's pseudonymised inputs by contract: only the folder
columns of the scans table change. The returned :class:`PlantedPHI` lists every string that
must never reach a report artefact (``needles``, with what each is in ``kinds``) and the
absolute paths that must not either; ``tests/phiscan.py`` looks for them.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pydicom

from nethelpers.demo.variants.phi_headers import Identity, plant_headers

__all__ = ["FAILURES", "Identity", "PlantedPHI", "date_forms", "plant_identifiers"]

#: How three PET scans are broken: failure -> (patient rank, tracer, modality, what). The
#: scan is that patient's scan of that type (else another of theirs): in the 3-patient demo,
#: P002 loses both scans and P003 its PET/MR, one FDG/DOTATATE and one PET/MR-PET/CT pair
#: of P001 and P003 stay measurable.
FAILURES = {
    "missing_slice": (1, "FDG", "PET/CT",
                      "one PET slice file deleted from the middle of the series"),
    "units": (2, "DOTATATE", "PET/MR",
              "the PET Units set to PROPCNTS (cannot be converted to SUV)"),
    "missing_folder": (1, "DOTATATE", "PET/CT",
                       "pet_dir of the scans table names a series folder that does not exist"),
}

_SURNAMES = ("Pospisil", "Kratochvilova", "Zelenka", "Holubova", "Vondracek", "Sedlackova",
             "Bartos", "Jezkova")
_GIVEN = ("Petra", "Bohumil", "Jarmila", "Radoslav", "Vlastimila", "Kvetoslav", "Ludmila",
          "Drahomir")


@dataclass
class PlantedPHI:
    """What :func:`plant_identifiers` planted, for a scan of the artefacts.

    Attributes
    ----------
    root : pathlib.Path
        The planted study (its ``clinical/scans.csv`` points at the renamed folders).
    needles : tuple of str
        Every planted string that must not appear in an artefact: names, MRNs, tokens, dates
        (scan dates and planted dates in several formats), the identifying folder names and
        their parts.
    kinds : dict
        Needle -> what it is (``"patient folder"``, ``"header PatientName"``,
        ``"scan date"``, ...).
    absolute_paths : tuple of str
        Absolute paths that must not appear: the planted study, its DICOM root, the study it
        was copied from (and the home folder when the study lies under it).
    failures : dict
        scan_id -> how the scan was broken (:data:`FAILURES`).
    identities : dict
        patient_id -> :class:`Identity`.
    headers : dict
        patient_id -> {keyword: planted value} (top-level attributes).
    """

    root: Path
    needles: tuple[str, ...]
    kinds: dict[str, str]
    absolute_paths: tuple[str, ...]
    failures: dict[str, str] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)


def date_forms(day: date) -> list[str]:
    """The ways a date may be written: ISO, DICOM, European, US, and with month names.

    Parameters
    ----------
    day : datetime.date
        The date.

    Returns
    -------
    list of str
        ``2025-01-09``, ``20250109``, ``09.01.2025``, ``9.1.2025``, ``09/01/2025``,
        ``01/09/2025``, ``2025/01/09``, ``Jan 9 2025``, ``9 Jan 2025``, ``January 9, 2025``
        and their like (unique, in this order).
    """
    d, m, y = day.day, day.month, day.year
    month, abbr = day.strftime("%B"), day.strftime("%b")
    forms = [day.isoformat(), f"{y}{m:02d}{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d}.{m}.{y}",
             f"{d}. {m}. {y}", f"{d:02d}/{m:02d}/{y}", f"{m:02d}/{d:02d}/{y}", f"{d}/{m}/{y}",
             f"{m}/{d}/{y}", f"{y}/{m:02d}/{d:02d}", f"{y}.{m:02d}.{d:02d}",
             f"{d:02d}-{abbr}-{y}", f"{abbr} {d} {y}", f"{abbr} {d:02d} {y}", f"{abbr} {d}, {y}",
             f"{d} {abbr} {y}", f"{d:02d} {abbr} {y}", f"{month} {d}, {y}", f"{d} {month} {y}"]
    return list(dict.fromkeys(forms))


def _identities(patients: list[str], seed: int) -> dict[str, Identity]:
    rng = random.Random(seed)
    out = {}
    for i, pid in enumerate(patients):
        suffix = "" if i < len(_SURNAMES) else f"x{i}"
        out[pid] = Identity(pid, i + 1, _SURNAMES[i % len(_SURNAMES)] + suffix,
                            _GIVEN[i % len(_GIVEN)] + suffix, f"MRN{rng.randrange(10**6, 10**7)}",
                            date(1935, 1, 1) + timedelta(days=rng.randrange(0, 27000)))
    return out


def _scan_date(scan_dir: Path) -> str:
    """The StudyDate of a scan folder's first file (``YYYYMMDD``)."""
    first = sorted(scan_dir.rglob("*.dcm"))[0]
    return str(pydicom.dcmread(first, stop_before_pixels=True).StudyDate)


def _rename_tree(dicom: Path, identities: dict[str, Identity], kinds: dict[str, str]
                 ) -> dict[str, str]:
    """Give every patient, scan and series folder an identifying name.

    Returns old -> new folder, relative to ``dicom`` (posix).
    """
    moved: dict[str, str] = {}
    for pid, who in identities.items():
        for scan_dir in sorted(p for p in (dicom / pid).iterdir() if p.is_dir()):
            day = _scan_date(scan_dir)
            iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
            scan_name = f"{iso}_{scan_dir.name.removeprefix(pid + '-')}_{who.surname}"
            for series in sorted(p for p in scan_dir.iterdir() if p.is_dir()):
                new = f"{series.name}_{who.surname}_{who.given}_{day}"
                series.rename(scan_dir / new)
                moved[f"{pid}/{scan_dir.name}/{series.name}"] = f"{who.folder}/{scan_name}/{new}"
                kinds[new] = "series folder"
            scan_dir.rename(scan_dir.with_name(scan_name))
            kinds[scan_name] = "scan folder"
        (dicom / pid).rename(dicom / who.folder)
        kinds[who.folder] = "patient folder"
    return moved


def _pick(scans: pd.DataFrame, rank: int, tracer: str, modality: str,
          taken: set[str]) -> pd.Series:
    patients = sorted(scans["patient_id"].unique())
    free = scans[~scans["scan_id"].isin(taken)]
    mine = free[free["patient_id"] == patients[min(rank, len(patients) - 1)]]
    exact = mine[(mine["tracer"] == tracer) & (mine["modality"] == modality)]
    return (exact if len(exact) else mine if len(mine) else free).iloc[0]


def _break(root: Path, scans: pd.DataFrame, kinds: dict[str, str]) -> dict[str, str]:
    """Break three PET scans as :data:`FAILURES` says; return scan_id -> what was done."""
    done: dict[str, str] = {}
    for what, (rank, tracer, modality, text) in FAILURES.items():
        row = _pick(scans, rank, tracer, modality, set(done))
        done[row["scan_id"]] = text
        pet = root / row["pet_dir"]
        if what == "missing_slice":
            files = sorted(pet.glob("*.dcm"))
            files[len(files) // 2].unlink()
        elif what == "units":
            for path in sorted(pet.glob("*.dcm")):
                ds = pydicom.dcmread(path)
                ds.Units = "PROPCNTS"
                ds.save_as(path, enforce_file_format=True)
        else:
            gone = Path(row["pet_dir"]).with_name(Path(row["pet_dir"]).name + "_old_export")
            scans.loc[scans["scan_id"] == row["scan_id"], "pet_dir"] = gone.as_posix()
            kinds[gone.name] = "series folder"
    return done


def _day(value: str) -> date:
    return date(int(value[:4]), int(value[4:6]), int(value[6:8]))


def _add(kinds: dict[str, str], needle: str, kind: str) -> None:
    kinds.setdefault(needle, kind)


def plant_identifiers(study_dir: str | Path, out: str | Path, *, seed: int = 0,
                      failures: bool = True) -> PlantedPHI:
    """Copy a demo study and plant identifiers in its folders, headers and failures.

    Parameters
    ----------
    study_dir : path-like
        A demo study (``nethelpers demo``; its ``variants/`` folder is not copied).
    out : path-like
        The planted copy (must not exist). Its folder names, headers and three scans
        differ from the original; the clinical tables (but for the scans table's folder
        columns), ROIs, reads and truth are copied as they are.
    seed : int
        Seeds the MRNs and birth dates (names follow the patients' order).
    failures : bool
        Break three scans (:data:`FAILURES`) so error paths are exercised.

    Returns
    -------
    PlantedPHI
        The needles and absolute paths a scan of the report must not find.
    """
    source, out = Path(study_dir).resolve(), Path(out).resolve()
    shutil.copytree(source, out, ignore=shutil.ignore_patterns("variants"))
    scans = pd.read_csv(out / "clinical" / "scans.csv", dtype=str, keep_default_na=False)
    dicom = out / "dicom"
    patients = sorted(p.name for p in dicom.iterdir() if p.is_dir())
    identities = _identities(patients, seed)
    kinds: dict[str, str] = {}
    headers: dict[str, dict[str, str]] = {}
    kept_dates: set[str] = set()
    for pid, who in identities.items():
        template, kept = plant_headers(sorted((dicom / pid).rglob("*.dcm")), who)
        kept_dates.update(day for days in kept.values() for day in days)
        headers[pid] = {e.keyword: str(e.value) for e in template
                        if e.VR != "SQ" and e.keyword and e.tag not in kept}
        for elem in template.iterall():
            if elem.tag in kept or elem.VR == "SQ" or not elem.value:
                continue
            if elem.VR == "DA":
                kind = "birth date" if elem.keyword == "PatientBirthDate" else "planted date"
                for form in date_forms(_day(elem.value)):
                    _add(kinds, form, f"{kind} ({elem.keyword})")
            else:
                _add(kinds, str(elem.value), f"header {elem.keyword or 'private'}")
        for part in (who.surname, who.given):
            _add(kinds, part, "header PatientName")
    for day in sorted(kept_dates):
        for form in date_forms(_day(day)):
            _add(kinds, form, "scan date")
    moved = _rename_tree(dicom, identities, kinds)
    for column in ("pet_dir", "anat_dir"):
        if column in scans:
            scans[column] = [_moved(v, moved) for v in scans[column]]
    broken = _break(out, scans, kinds) if failures else {}
    scans.to_csv(out / "clinical" / "scans.csv", index=False)
    paths = {str(out), str(dicom), str(source), str(source / "dicom")}
    home = Path.home().resolve()
    if out.is_relative_to(home) or source.is_relative_to(home):
        paths.add(str(home))
    needles = tuple(sorted(kinds, key=lambda n: (-len(n), n)))
    return PlantedPHI(out, needles, kinds, tuple(sorted(paths)), broken, identities, headers)


def _moved(value: str, moved: dict[str, str]) -> str:
    """A table's path (``dicom/P001/P001-FDG-PETCT/PT``) after the folders were renamed."""
    if not value:
        return value
    head, _, rest = value.partition("/")
    return f"{head}/{moved[rest]}" if rest in moved else value
