"""Parse DICOM DA, TM and DT values into :mod:`datetime` objects, strictly.

DICOM times allow truncation (``HH``, ``HHMM``), fractions of up to six digits and, in old
ACR-NEMA files, colons (``HH:MM:SS``). DT values may carry a UTC offset (``&ZZXX``). A value
that fits none of these raises :class:`ValueError` naming it; callers add the file and tag.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

__all__ = ["iso_of", "parse_da", "parse_dt", "parse_tm"]

_TM = re.compile(r"^(\d{2})(?::?(\d{2})(?::?(\d{2})(?:\.(\d{1,6}))?)?)?$")
_DT = re.compile(
    r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?([+-]\d{4})?$"
)


def parse_da(text: str) -> date:
    """Parse a DA value ``YYYYMMDD`` (also the old ``YYYY.MM.DD``).

    Parameters
    ----------
    text : str
        The value.

    Returns
    -------
    datetime.date
    """
    value = text.strip()
    digits = value.replace(".", "") if len(value) == 10 else value
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError(f"{text!r} is not a DICOM date (YYYYMMDD)")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def parse_tm(text: str) -> time:
    """Parse a TM value ``HH[MM[SS[.FFFFFF]]]`` (colons allowed).

    Parameters
    ----------
    text : str
        The value.

    Returns
    -------
    datetime.time
    """
    match = _TM.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a DICOM time (HHMMSS.FFFFFF)")
    hh, mm, ss, frac = match.groups()
    seconds = int(ss or 0)
    if seconds == 60:  # a leap second is legal in TM; datetime cannot hold it
        seconds = 59
    micro = int((frac or "0").ljust(6, "0"))
    return time(int(hh), int(mm or 0), seconds, micro)


def parse_dt(text: str) -> tuple[datetime, timedelta | None]:
    """Parse a DT value ``YYYYMMDDHHMMSS.FFFFFF&ZZXX`` (components after the year optional).

    Parameters
    ----------
    text : str
        The value.

    Returns
    -------
    datetime.datetime
        The naive local datetime as written.
    datetime.timedelta or None
        The UTC offset when the value carries one.
    """
    match = _DT.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a DICOM datetime (YYYYMMDDHHMMSS.FFFFFF)")
    year, month, day, hh, mm, ss, frac, offset = match.groups()
    seconds = min(int(ss or 0), 59)
    value = datetime(
        int(year),
        int(month or 1),
        int(day or 1),
        int(hh or 0),
        int(mm or 0),
        seconds,
        int((frac or "0").ljust(6, "0")),
    )
    if offset is None:
        return value, None
    sign = -1 if offset[0] == "-" else 1
    delta = sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:]))
    timezone(delta)  # validates the range (|offset| < 24 h)
    return value, delta


def iso_of(ds: Any, date_keyword: str, time_keyword: str) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` (or the date alone) from a dataset's DA and TM elements.

    Parameters
    ----------
    ds : pydicom.Dataset
        The dataset.
    date_keyword, time_keyword : str
        E.g. ``"ContentDate"``, ``"ContentTime"``.

    Returns
    -------
    str
        Empty when the date is missing or not ``YYYYMMDD``; fractions of seconds dropped.
    """
    day = str(ds.get(date_keyword, "") or "")
    clock = str(ds.get(time_keyword, "") or "").split(".")[0]
    if len(day) != 8 or not day.isdigit():
        return ""
    iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    if len(clock) >= 4 and clock.isdigit():
        iso += f"T{clock[:2]}:{clock[2:4]}:{clock[4:6] or '00'}"
    return iso

