"""Read a finished report's tables back: what the methods paragraph describes.

The methods sentences (:mod:`nethelpers.methods`, :mod:`nethelpers.methodsspect`,
:mod:`nethelpers.methodsresponse`) quote the methods named in a report's tables and leave
out the analyses whose table is missing; these two functions are how they look.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["has_table", "report_table"]


def report_table(out: Path | None, name: str) -> pd.DataFrame | None:
    """The table ``<out>/tables/<name>.csv`` as text cells, or None (no report, no file, empty).

    Parameters
    ----------
    out : Path or None
        The report folder.
    name : str
        The table's name without ``.csv``.

    Returns
    -------
    pandas.DataFrame or None
        Every cell as a string ('' for an empty cell).
    """
    if out is None:
        return None
    path = Path(out) / "tables" / f"{name}.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frame if len(frame) else None


def has_table(out: Path | None, name: str) -> bool:
    """Whether to describe an analysis: always without a report, else when its table exists."""
    return out is None or report_table(out, name) is not None
