"""Which of several emission series of one study, tracer and modality is the scan, and why.

``nethelpers init`` makes one scan of the PET (or SPECT) series of one study, tracer and
modality. They are ranked, the first of :data:`RANK` that differs deciding:

1. attenuation-corrected (CorrectedImage holds ATTN), then not stated, then without ATTN;
2. not lossy (no lossy transfer syntax, LossyImageCompression not 01): a lossy copy carries
   the compression error into every SUV;
3. ImageType ORIGINAL before DERIVED (a derived copy may be resampled or filtered);
4. QC without warnings; 5. more slices; 6. the lower SeriesNumber; 7. the lower
   SeriesInstanceUID (only to be deterministic).

:func:`why_skipped` says, for each series not used, which series was used and why.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["RANK", "ac_rank", "cell_text", "rank_key", "rank_traits", "why_skipped"]

#: The traits that rank duplicate emission series, most important first.
RANK = ("ac", "lossy", "derived", "qc", "slices", "number", "uid")
_AC_TEXT = {0: "attenuation-corrected", 1: "without CorrectedImage",
            2: "not attenuation-corrected"}


def cell_text(value: Any) -> str:
    """A cell of the series table as text: missing values as "", whole floats without ".0"."""
    if value is None or (not isinstance(value, (tuple, list)) and pd.isna(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _int(value: Any) -> int:
    text = cell_text(value)
    return int(float(text)) if text else 0


def ac_rank(header: dict[str, Any]) -> int:
    """0: attenuation-corrected, 1: not stated, 2: stated and without ATTN."""
    corrected = header.get("CorrectedImage", [])
    return 1 if not corrected else (0 if "ATTN" in corrected else 2)


def _lossy(row: dict[str, Any], header: dict[str, Any]) -> str:
    """How a series is lossy ("" if not): its first file's header, else the index's QC."""
    if header.get("lossy"):
        return str(header["lossy"])
    qc = cell_text(row.get("qc_reasons"))
    return "lossy compression in some files" if "lossy compression" in qc else ""


def _label(row: dict[str, Any]) -> str:
    return (f"series {cell_text(row.get('series_number')) or '?'} "
            f"'{cell_text(row.get('series_description')) or 'no description'}'")


def rank_traits(row: dict[str, Any], header: dict[str, Any]) -> dict[str, Any]:
    """What ranks one emission series among duplicates (lower is better, see :data:`RANK`).

    Parameters
    ----------
    row : dict
        The series' row of the index (``qc``, ``qc_reasons``, ``n_slices``,
        ``series_number``, ``series_uid``).
    header : dict
        Its first file's ``CorrectedImage``, ``ImageType`` (upper case) and ``lossy`` (how
        it is lossy, ``""`` if not).

    Returns
    -------
    dict
        ``ac`` (0 ATTN, 1 not stated, 2 no ATTN), ``lossy`` and ``derived`` (bool), ``qc``
        (True unless ``ok``), ``slices`` (minus the count), ``number`` and ``uid``.
    """
    kind = header.get("ImageType", [])
    return {"ac": ac_rank(header), "lossy": bool(_lossy(row, header)),
            "derived": bool(kind) and kind[0] == "DERIVED", "qc": row.get("qc") != "ok",
            "slices": -_int(row.get("n_slices")), "number": _int(row.get("series_number")),
            "uid": cell_text(row.get("series_uid"))}


def rank_key(member: dict[str, Any]) -> tuple[Any, ...]:
    """Sort key of a candidate ``{"row": ..., "header": ...}``: the best sorts first."""
    traits = rank_traits(member["row"], member["header"])
    return tuple(traits[k] for k in RANK)


def why_skipped(best: dict[str, Any], other: dict[str, Any]) -> tuple[str, str]:
    """The reason code and detail of a candidate that lost to ``best``.

    Parameters
    ----------
    best, other : dict
        Candidates ``{"row": ..., "header": ...}``; ``best`` ranks first.

    Returns
    -------
    tuple of str
        ``"not_ac"`` (the used series is attenuation-corrected, this one is not) or
        ``"duplicate"``, and e.g. ``"series 3 'PET WB AC' (lossless) was used; this one is
        lossy (stored in JPEG 2000, a lossy transfer syntax)"``.
    """
    b, o = (rank_traits(m["row"], m["header"]) for m in (best, other))
    first = next((k for k in RANK if b[k] != o[k]), "uid")
    used, this = {
        "ac": (_AC_TEXT[b["ac"]], f"this one is {_AC_TEXT[o['ac']]}"),
        "lossy": ("lossless", f"this one is lossy ({_lossy(other['row'], other['header'])})"),
        "derived": ("ImageType ORIGINAL", "this one is DERIVED"),
        "qc": ("QC ok", "this one has QC warnings"),
        "slices": (f"{-b['slices']} slices", f"this one has {-o['slices']}"),
        "number": ("lower SeriesNumber", f"this one is series {o['number']}"),
        "uid": ("equal rank, lower SeriesInstanceUID", "this one is an equal copy"),
    }[first]
    reason = "not_ac" if (b["ac"], o["ac"]) == (0, 2) else "duplicate"
    return reason, f"{_label(best['row'])} ({used}) was used; {this}"
