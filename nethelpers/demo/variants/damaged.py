"""PET series damaged the way transfers, consoles and exports damage them.

Each writer copies a demo PET series (new Series and SOP Instance UIDs, derived from the
originals, so the copy can sit beside it in one tree) with one fault that the index and the
SUV rules must refuse, never measure:

- :func:`write_truncated` — one file lost the end of its pixel data (an interrupted
  transfer, a full disk): the index fails it with ``truncated pixel data: N of M bytes``.
- :func:`write_without_weight` — PatientWeight left empty (a console field not filled in,
  an anonymiser that blanks it): SUV needs the weight (``--weight``).
- :func:`write_injection_off` — the injection typed hours later than it was and written as
  a time of day only (RadiopharmaceuticalStartDateTime absent): after the scan start, it
  fits only as the previous day, 9 and more 18F half-lives before the scan.

Each returns a :class:`DamagedSeries` with the truth a test checks against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

__all__ = ["DamagedSeries", "write_damaged", "write_injection_off", "write_truncated",
           "write_without_weight"]

#: Pixel Data (7FE0,0010) as it starts in an Explicit VR Little Endian file.
_PIXEL_TAG = b"\xe0\x7f\x10\x00"


@dataclass(frozen=True)
class DamagedSeries:
    """What a writer of this module wrote.

    Attributes
    ----------
    directory : pathlib.Path
        The new series folder.
    files : tuple of pathlib.Path
        Its files, in the original's file order.
    series_uid : str
        The copy's SeriesInstanceUID.
    truth : dict
        The fault, for tests: e.g. ``file``, ``expected_bytes`` and ``kept_bytes`` of the
        truncated file; ``injection`` (the true one) and ``written_time``.
    """

    directory: Path
    files: tuple[Path, ...]
    series_uid: str
    truth: dict[str, Any] = field(default_factory=dict)


def _copy(series_dir: str | Path, out_dir: str | Path, salt: str,
          edit: Callable[[Dataset], None] | None = None) -> DamagedSeries:
    """Copy a series with derived UIDs, applying ``edit`` to every dataset."""
    series_dir, out_dir = Path(series_dir), Path(out_dir)
    sources = sorted(series_dir.glob("*.dcm"))
    if not sources:
        raise FileNotFoundError(f"{series_dir.name}: no .dcm files to copy")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    series_uid = ""
    for source in sources:
        ds = pydicom.dcmread(source)
        series_uid = generate_uid(entropy_srcs=[str(ds.SeriesInstanceUID), salt])
        ds.SeriesInstanceUID = series_uid
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[str(ds.SOPInstanceUID), salt])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if edit is not None:
            edit(ds)
        path = out_dir / source.name
        ds.save_as(path, enforce_file_format=True)
        files.append(path)
    return DamagedSeries(out_dir, tuple(files), series_uid)


def write_truncated(series_dir: str | Path, out_dir: str | Path, *,
                    keep: float = 0.6) -> DamagedSeries:
    """Copy a series whose middle file is cut within its pixel data.

    Parameters
    ----------
    series_dir : path-like
        A PET series folder (single-frame files; native or encapsulated pixel data, the
        Pixel Data element last in each file, as the demo writes them).
    out_dir : path-like
        The new series folder (created).
    keep : float
        Fraction of the Pixel Data value left in the cut file (0 < keep < 1).

    Returns
    -------
    DamagedSeries
        ``truth``: ``file`` (name of the cut file), ``value_bytes`` (the Pixel Data value's
        length before the cut), ``kept_bytes`` (after it), ``expected_bytes`` (Rows ×
        Columns × BitsAllocated / 8 × SamplesPerPixel × NumberOfFrames).
    """
    if not 0.0 < keep < 1.0:
        raise ValueError(f"keep must lie in (0, 1), got {keep}")
    copied = _copy(series_dir, out_dir, "truncated")
    victim = copied.files[len(copied.files) // 2]
    ds = pydicom.dcmread(victim)
    value = len(ds.PixelData)
    data = victim.read_bytes()
    start = len(data) - value  # Pixel Data is the last element: its value ends the file
    if _PIXEL_TAG not in (data[start - 12:start - 8], data[start - 8:start - 4]):
        raise ValueError(f"{victim.name}: Pixel Data is not the last element; cannot cut it")
    kept = int(value * keep) & ~1
    victim.write_bytes(data[:start + kept])
    expected = (int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated)
                * int(ds.get("SamplesPerPixel", 1)) * int(ds.get("NumberOfFrames", 1) or 1)
                + 7) // 8
    truth = {"file": victim.name, "value_bytes": value, "kept_bytes": kept,
             "expected_bytes": expected}
    return DamagedSeries(copied.directory, copied.files, copied.series_uid, truth)


def write_without_weight(series_dir: str | Path, out_dir: str | Path) -> DamagedSeries:
    """Copy a series with PatientWeight (0010,1030) present but empty on every file.

    Parameters
    ----------
    series_dir, out_dir : path-like
        The PET series folder and the new one.

    Returns
    -------
    DamagedSeries
        ``truth``: ``weight_kg``, the weight the original held.
    """
    weights: list[float] = []

    def blank(ds: Dataset) -> None:
        weights.append(float(ds.PatientWeight))
        ds.PatientWeight = None

    copied = _copy(series_dir, out_dir, "no-weight", blank)
    return DamagedSeries(copied.directory, copied.files, copied.series_uid,
                         {"weight_kg": weights[0]})


def _injection_of(ds: Dataset) -> datetime:
    item = ds.RadiopharmaceuticalInformationSequence[0]
    text = str(item.get("RadiopharmaceuticalStartDateTime") or "")
    if len(text) >= 14:
        return datetime.strptime(text[:14], "%Y%m%d%H%M%S")
    return datetime.strptime(str(ds.SeriesDate) + str(item.RadiopharmaceuticalStartTime)[:6],
                             "%Y%m%d%H%M%S")


def write_injection_off(series_dir: str | Path, out_dir: str | Path, *,
                        hours: float = 7.0) -> DamagedSeries:
    """Copy a series whose injection is a time of day only, ``hours`` later than the truth.

    RadiopharmaceuticalStartTime (0018,1072) is moved; RadiopharmaceuticalStartDateTime
    (0018,1078) is removed, as consoles that write the time only do. The moved time must
    stay on the injection day.

    Parameters
    ----------
    series_dir, out_dir : path-like
        The PET series folder and the new one.
    hours : float
        How much later the written time is.

    Returns
    -------
    DamagedSeries
        ``truth``: ``injection`` (the true date-time, ISO), ``written_time`` (HHMMSS) and
        ``hours``.
    """
    found: list[datetime] = []

    def move(ds: Dataset) -> None:
        injection = _injection_of(ds)
        written = injection + timedelta(hours=hours)
        if written.date() != injection.date():
            raise ValueError(f"{hours} h after {injection:%H:%M} is another day")
        item = ds.RadiopharmaceuticalInformationSequence[0]
        item.RadiopharmaceuticalStartTime = written.strftime("%H%M%S")
        if "RadiopharmaceuticalStartDateTime" in item:
            del item.RadiopharmaceuticalStartDateTime
        found.append(injection)

    copied = _copy(series_dir, out_dir, f"injection+{hours:g}h", move)
    truth = {"injection": found[0].isoformat(), "hours": hours,
             "written_time": (found[0] + timedelta(hours=hours)).strftime("%H%M%S")}
    return DamagedSeries(copied.directory, copied.files, copied.series_uid, truth)


def write_damaged(study: str | Path, scans: Any, out: str | Path
                  ) -> list[tuple[str, DamagedSeries, Any]]:
    """One series of each fault of a demo study (for ``write_variants``).

    The truncated and weightless copies come from the first PET/CT scan; the injection
    moved by 7 h from an FDG scan (18F: the previous-day reading is 9.8 half-lives away).

    Parameters
    ----------
    study : path-like
        The demo study folder.
    scans : pandas.DataFrame
        Its ``clinical/scans.csv``.
    out : path-like
        The folder of the damaged series (``truncated/PT``, ``no-weight/PT``,
        ``injection-7h-time-only/PT``).

    Returns
    -------
    list of (str, DamagedSeries, pandas.Series)
        Name, what was written and the scan it came from.
    """
    study, out = Path(study), Path(out)
    pet_ct = scans[scans["modality"] == "PET/CT"]
    base = (pet_ct if len(pet_ct) else scans).iloc[0]
    fdg = scans[scans["tracer"] == "FDG"]
    late = (fdg if len(fdg) else scans).iloc[0]
    return [
        ("truncated", write_truncated(study / base["pet_dir"], out / "truncated" / "PT"), base),
        ("no-weight", write_without_weight(study / base["pet_dir"], out / "no-weight" / "PT"),
         base),
        ("injection-7h-time-only",
         write_injection_off(study / late["pet_dir"], out / "injection-7h-time-only" / "PT"),
         late),
    ]
