"""HTML of a publication table (:class:`nethelpers.pubformat.PubTable`).

A ``<table class="pub-table">`` with its ``<caption class="pub-caption">``, ``<th>``/``<td>``
of class ``num`` (right-aligned numbers) or ``text``, no index column, and the footnotes in a
``<ul class="pub-footnotes">``; the report template's CSS styles these classes. Text is
escaped, and long tokens (paths, codes, UIDs) get ``<wbr>`` break points so that a cell wraps
instead of running off the page.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nethelpers.pubformat import PubTable

__all__ = ["to_html"]

LONG_TOKEN = 24
"""Characters of a token after which the HTML offers break points."""


def _breakable(text: str) -> str:
    """Escape a cell and offer break points (``<wbr>``) inside long tokens."""
    parts = []
    for token in re.split(r"(\s+)", text):
        escaped = html.escape(token)
        if len(token) > LONG_TOKEN:
            escaped = re.sub(r"([/_\\.,;:=&\-–])", r"\1<wbr>", escaped)
            pieces = escaped.split("<wbr>")     # a piece still too long: a break every 20
            escaped = "<wbr>".join(
                re.sub(r"([^&;]{20})(?=[^&;])", r"\1<wbr>", piece)
                if len(piece) > LONG_TOKEN and "&" not in piece else piece
                for piece in pieces)
        parts.append(escaped)
    return "".join(parts)


SPLIT = re.compile(r"^(\S+ \([^()]*\)) (\d+/\d+\S*)$")
"""An accuracy cell "0.83 (0.59–0.94) 14/17": may wrap before its numerator/denominator."""


def _cell(text: str, numeric: bool) -> str:
    """One ``<td>``; an accuracy cell keeps its two parts whole but may wrap between them."""
    found = SPLIT.match(text) if numeric else None
    if found:
        parts = " ".join(f'<span class="nw">{html.escape(g)}</span>' for g in found.groups())
        return f'<td class="num split">{parts}</td>'
    return f'<td class="{"num" if numeric else "text"}">{_breakable(text)}</td>'


def to_html(table: PubTable) -> str:
    """Return the HTML of a publication table (classes styled by the report template).

    Parameters
    ----------
    table : PubTable
        The formatted table.

    Returns
    -------
    str
    """
    frame = table.frame
    nums = table.numeric or [False] * frame.shape[1]
    lines = ['<div class="pub-table-wrap">', '<table class="pub-table">']
    if table.caption:
        lines.append(f'<caption class="pub-caption">{html.escape(table.caption)}</caption>')
    head = "".join(f'<th class="{"num" if n else "text"}">{html.escape(str(c))}</th>'
                   for c, n in zip(frame.columns, nums, strict=True))
    lines.append(f"<thead><tr>{head}</tr></thead>")
    lines.append("<tbody>")
    if frame.empty:
        lines.append(f'<tr><td class="text" colspan="{max(1, frame.shape[1])}">'
                     "No rows</td></tr>")
    for row in frame.itertuples(index=False):
        cells = "".join(_cell(str(v), n) for v, n in zip(row, nums, strict=True))
        lines.append(f"<tr>{cells}</tr>")
    lines.append("</tbody></table>")
    if table.footnotes:
        notes = "".join(f"<li>{_breakable(n)}</li>" for n in table.footnotes)
        lines.append(f'<ul class="pub-footnotes">{notes}</ul>')
    lines.append("</div>")
    return "\n".join(lines)
