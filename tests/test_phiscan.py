"""The PHI scanner finds every planted leak in every artefact type, and nothing in a clean copy.

The planted-leak control of issue 15: a small fake report holds one needle per artefact type,
hidden the way real artefacts write text (HTML-escaped, URL-encoded, JSON-escaped, in a PNG
text chunk of a base64 notebook output or an HTML data URI, in SVG, CSV and zip XML).
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zipfile
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from nethelpers.demo.variants.phi import date_forms
from tests.phiscan import ABSOLUTE_PATH_PATTERNS, scan_artefacts

#: artefact -> the needle hidden in it (each needle in exactly one file).
NEEDLES = {
    "index.html": "O'Brien&Kratochvil",                   # HTML-escaped
    "links.html": "Jezek^Radek MRN1234567",               # URL-encoded in an href
    "gallery.html": "Dvorakova^Eliska",                   # PNG tEXt in a data: URI
    "embedded.html": "Sedlackova Ludmila",                # base64 SVG data: URI
    "notebooks/01.ipynb": "Novák/Jiří 1961-03-17",        # JSON \/ and \u escapes
    "notebooks/02.ipynb": "MRN7654321",                   # PNG tEXt of an image/png output
    "notebooks/03.ipynb": "Bartos & Syn",                 # HTML-escaped in a text/html output
    "figures/flow.svg": "Vesela Marta",                   # SVG <text>
    "figures/mip.png": "PHI00080080P1",                   # zTXt chunk
    "figures/roc.png": "Šťastný Bohumil",                 # iTXt chunk (UTF-8)
    "tables/qc.csv": "20250109",                          # a CSV cell
    "tables/table1.xlsx": "Holubova Vlasta",              # zip member XML
    "tables/excel.csv": "Müller Renée",                   # a Latin-1 CSV (not UTF-8)
    "notes.md": "09.01.2025",                             # Markdown
    "provenance.json": "/Users/petra/PACS export",        # an absolute path, JSON
}
#: The neutral text written instead of each needle in the clean copy.
CLEAN = "P001 day 0"


def _png(text: dict[str, str], *, kind: str = "tEXt") -> bytes:
    info = PngInfo()
    for key, value in text.items():
        if kind == "iTXt":
            info.add_itxt(key, value)
        else:
            info.add_text(key, value, zip=kind == "zTXt")
    buffer = io.BytesIO()
    Image.new("L", (4, 4), 128).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _notebook(outputs: list[dict], source: str = "x = 1") -> dict:
    cell = {"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
            "outputs": outputs, "source": [source]}
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def write_fake_report(folder: Path, clean: bool = False) -> Path:
    """A report folder with one needle per artefact type (``CLEAN`` instead when clean)."""
    n = {name: CLEAN if clean else needle for name, needle in NEEDLES.items()}
    for sub in ("notebooks", "figures", "tables"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_text(
        f"<html><body><p>Patient {html.escape(n['index.html'])}</p></body></html>")
    (folder / "links.html").write_text(
        f"<a href='file:///data/{quote(n['links.html'], safe='')}'>scan</a>")
    (folder / "gallery.html").write_text(
        "<img src='data:image/png;base64,"
        f"{_b64(_png({'Title': n['gallery.html']}))}' alt='MIP'>")
    svg = f"<svg xmlns='http://www.w3.org/2000/svg'><text>{n['embedded.html']}</text></svg>"
    (folder / "embedded.html").write_text(
        f"<img src=\"data:image/svg+xml;base64,{_b64(svg.encode())}\">")
    nb = json.dumps(_notebook([{"output_type": "stream", "name": "stdout",
                                "text": [f"loaded {n['notebooks/01.ipynb']}\n"]}]))
    (folder / "notebooks" / "01.ipynb").write_text(nb.replace("/", "\\/"))  # ensure_ascii too
    (folder / "notebooks" / "02.ipynb").write_text(json.dumps(_notebook([{
        "output_type": "display_data", "metadata": {},
        "data": {"image/png": _b64(_png({"Comment": n["notebooks/02.ipynb"]})),
                 "text/plain": ["<Figure>"]}}])))
    (folder / "notebooks" / "03.ipynb").write_text(json.dumps(_notebook([{
        "output_type": "execute_result", "execution_count": 1, "metadata": {},
        "data": {"text/html": [f"<td>{html.escape(n['notebooks/03.ipynb'])}</td>"],
                 "text/plain": ["table"]}}])))
    (folder / "figures" / "flow.svg").write_text(
        "<svg xmlns='http://www.w3.org/2000/svg'><g><!-- flow --><text x='1' y='2'>"
        f"{n['figures/flow.svg']}</text></g></svg>")
    (folder / "figures" / "mip.png").write_bytes(
        _png({"Description": n["figures/mip.png"]}, kind="zTXt"))
    (folder / "figures" / "roc.png").write_bytes(
        _png({"Author": n["figures/roc.png"]}, kind="iTXt"))
    (folder / "tables" / "qc.csv").write_text(
        f"scan_id,status,reason\nP001-FDG-PETCT,failed,\"series of {n['tables/qc.csv']}\"\n")
    (folder / "tables" / "excel.csv").write_bytes(
        f"patient;name\nP001;{n['tables/excel.csv']}\n".encode("latin-1"))
    with zipfile.ZipFile(folder / "tables" / "table1.xlsx", "w",
                         compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml",
                         f"<sst><si><t>{n['tables/table1.xlsx']}</t></si></sst>")
    (folder / "notes.md").write_text(f"# Notes\n\nScanned on {n['notes.md']}.\n")
    (folder / "provenance.json").write_text(json.dumps(
        {"study": {"data_root": n["provenance.json"]}, "seed": 20240601}, indent=1))
    return folder


def test_every_planted_needle_is_found_where_it_was_hidden(tmp_path):
    folder = write_fake_report(tmp_path / "report")
    leaks = scan_artefacts(folder, NEEDLES.values())
    found = {(leak.file, leak.needle) for leak in leaks if leak.form != "pattern"}
    assert found == {(file, needle) for file, needle in NEEDLES.items()}
    forms = {leak.file: leak.form for leak in leaks if leak.form != "pattern"}
    assert forms["index.html"] == "html-escaped"
    assert forms["notebooks/03.ipynb"] == "html-escaped"
    assert forms["links.html"] in ("url-encoded", "url-decoded text")
    where = {leak.file: leak.where for leak in leaks}
    assert where["notebooks/02.ipynb"] == "cells[0].outputs[0].data.image/png image text"
    assert where["gallery.html"].startswith("data-uri[0] image/png")
    # the absolute path is also caught by its pattern, and nothing else matches one
    patterns = {(leak.file, leak.needle) for leak in leaks if leak.form == "pattern"}
    assert patterns == {("provenance.json", "/Users/")}


def test_a_clean_copy_has_no_leak(tmp_path):
    folder = write_fake_report(tmp_path / "report", clean=True)
    assert scan_artefacts(folder, NEEDLES.values()) == []


def test_leak_context_and_count(tmp_path):
    (tmp_path / "a.txt").write_text("x" * 50 + " POSPISIL_petra_MRN7463343 and Pospisil again")
    leaks = scan_artefacts(tmp_path, ["Pospisil", "Pospisil_Petra_MRN7463343"])
    assert [(k.needle, k.count) for k in leaks] == [
        ("Pospisil", 1), ("Pospisil_Petra_MRN7463343", 1)]   # the longest needle wins
    longest = leaks[1]
    assert longest.context == "x" * 29 + " POSPISIL_petra_MRN7463343 and Pospisil again"
    assert longest.file == "a.txt" and longest.where == ""


@pytest.mark.parametrize(("text", "pattern"), [
    ("see C:\\Users\\petra\\scan", r"(?<![A-Za-z0-9])[A-Za-z]:\\(?=[A-Za-z0-9_.$~ -])"),
    ("share \\\\pacs01\\export\\x", r"(?<![A-Za-z0-9\\])\\\\[A-Za-z0-9_.-]+\\[A-Za-z0-9_$.-]+"),
    ("at /home/petra/x", "/home/"),
    ("in /tmp/pytest-of-x/y", "/tmp/"),
])
def test_absolute_path_patterns(tmp_path, text, pattern):
    (tmp_path / "t.txt").write_text(text)
    assert [leak.needle for leak in scan_artefacts(tmp_path, [])] == [pattern]


def test_no_pattern_in_escaped_newlines_or_urls(tmp_path):
    # "Note:\n" in JSON is the text Note: + newline, not a drive letter; URLs are not paths
    (tmp_path / "n.ipynb").write_text(json.dumps({"text": "Note:\nsee https://x.org/a/b"}))
    (tmp_path / "p.html").write_text("<a href='https://doi.org/10.1/x'>a:b</a>")
    assert scan_artefacts(tmp_path, []) == []


def test_short_needles_are_refused(tmp_path):
    with pytest.raises(ValueError, match="shorter than 4"):
        scan_artefacts(tmp_path, ["PT"])


def test_patterns_are_compiled_regexes():
    assert all(isinstance(p, re.Pattern) for p in ABSOLUTE_PATH_PATTERNS)
    assert any(p.search("/root/.cache") for p in ABSOLUTE_PATH_PATTERNS)


def test_date_forms_cover_the_common_spellings():
    forms = date_forms(date(2025, 1, 9))
    for spelling in ("2025-01-09", "20250109", "09.01.2025", "09/01/2025", "Jan 9 2025",
                     "01/09/2025", "9.1.2025", "January 9, 2025", "09-Jan-2025"):
        assert spelling in forms
    assert len(forms) == len(set(forms))
