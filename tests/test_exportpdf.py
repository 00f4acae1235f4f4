"""report.pdf and the headless-Chromium screenshots: every section printed, nothing cut off."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nethelpers import exportpdf
from nethelpers.exportpdf import INSTALL_HINT, ChromiumMissing, export_pdf, find_chromium

CHROMIUM = pytest.mark.skipif(
    find_chromium() is None,
    reason=f"Chromium is not installed: {INSTALL_HINT}")


class _Headings(HTMLParser):
    """Texts of the h1/h2 elements of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("h1", "h2"):
            self._open, self._text = tag, ""

    def handle_data(self, data):
        if self._open:
            self._text += data

    def handle_endtag(self, tag):
        if tag == self._open:
            self.found.append((tag, self._text.replace("¶", "").strip()))
            self._open = None


def headings(page: Path, level: str) -> list[str]:
    parser = _Headings()
    parser.feed(page.read_text(encoding="utf-8"))
    return [text for tag, text in parser.found if tag == level and text]


def squash(text: str) -> str:
    """Letters and digits only, lower case, ligatures undone (PDF text breaks lines)."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text)).lower()


def _pages(out: Path) -> list[Path]:
    record = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    return [out / "index.html", *(out / f"{n}.html" for n in record["notebooks_completed"])]


def test_without_chromium_the_pdf_is_refused_with_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(exportpdf.shutil, "which", lambda name: None)
    (tmp_path / "index.html").write_text("<html><body><h1>x</h1></body></html>")
    with pytest.raises(ChromiumMissing) as caught:
        export_pdf(tmp_path, [])
    message = str(caught.value)
    assert "Chromium was not found" in message
    assert "apt-get install -y --no-install-recommends chromium" in message
    assert not (tmp_path / "report.pdf").exists()


def test_the_browser_never_goes_online_and_keeps_no_profile(tmp_path):
    command = exportpdf.chromium_command("chromium", tmp_path / "profile", "file:///x.html")
    assert "--headless" in command and "--host-resolver-rules=MAP * ~NOTFOUND" in command
    assert f"--user-data-dir={tmp_path / 'profile'}" in command
    assert command[-1] == "file:///x.html"


@CHROMIUM
@pytest.mark.slow
def test_the_pdf_has_every_page_and_every_section(demo_report):
    from pypdf import PdfReader

    out = demo_report["out"]
    record = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert record["exports"]["pdf"]["status"] == "ok", record["exports"]
    assert record["exports"]["pdf"]["seconds"] > 0
    reader = PdfReader(str(out / "report.pdf"))
    pages = _pages(out)
    assert [o.title for o in reader.outline] == ["Summary", *(p.stem for p in pages[1:])]
    text = squash(" ".join(page.extract_text() or "" for page in reader.pages))
    expected = [("index.html h2", h) for h in headings(out / "index.html", "h2")]
    for page in pages[1:]:
        titles = headings(page, "h1")
        assert titles, f"{page.name} has no title"
        expected += [(f"{page.name} h1", h) for h in titles]
    assert len(expected) > len(pages)
    missing = [(where, h) for where, h in expected if squash(h) not in text]
    assert not missing, f"sections not in report.pdf: {missing}"
    # one paper size throughout (every page's print CSS sets A4)
    sizes = {(round(float(p.mediabox.width)), round(float(p.mediabox.height)))
             for p in reader.pages}
    assert sizes == {(595, 842)}, f"paper sizes in report.pdf (points): {sizes}"
    # each page starts at its bookmark, in the report's order
    starts = [reader.get_destination_page_number(o) for o in reader.outline]
    assert starts[0] == 0 and starts == sorted(starts) and len(set(starts)) == len(starts)
    for page, start in zip(pages[1:], starts[1:], strict=True):
        first = squash(reader.pages[start].extract_text() or "")
        assert squash(headings(page, "h1")[0]) in first, page.name


@CHROMIUM
@pytest.mark.slow
def test_screenshots_of_every_page_show_nothing_cut_off(demo_report):
    from tests.pagecheck import full_screenshot, measure

    out = demo_report["out"]
    shots = demo_report["tmp"] / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir()

    def check(page: Path) -> tuple[str, dict]:
        found = measure(page, shots, width=1280)
        full_screenshot(page, shots / f"{page.stem}.png", found["height"])
        return page.name, found

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(pool.map(check, _pages(out)))
    print(f"\nscreenshots (1280 px wide, full page): {shots}")
    problems = {}
    for name, found in results.items():
        assert found["width"] == 1280
        assert (shots / name.replace(".html", ".png")).stat().st_size > 10_000
        cut = [f"{c['tag']}.{c['cls'][:30]} {c['why']} ({c['text'][:40]!r})" for c in found["cut"]]
        if found["scrollWidth"] > found["width"] or cut:
            problems[name] = [f"page {found['scrollWidth']} px wide", *cut[:5]]
    assert not problems, f"cut off at 1280 px (screenshots in {shots}): {problems}"
