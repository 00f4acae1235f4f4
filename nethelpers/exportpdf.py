"""The whole report as one PDF, printed by headless Chromium and joined with pypdf.

Chromium prints each page (``index.html``, then every notebook page in the report's order)
with the print style sheet of its template, exactly as a reader's browser would; pypdf joins
the pages into ``report.pdf`` with one bookmark per page. Chromium is a system package (Debian:
``chromium``, installed by ``scripts/setup.sh``); without it :func:`export_pdf` raises
:class:`ChromiumMissing`, whose message says how to install it, and the HTML report is not
affected. The browser runs with a throw-away profile, no network (every host name resolves to
nothing, so a page never fetches anything) and no first-run, sync or update machinery.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = [
    "CHROMIUM_NAMES",
    "INSTALL_HINT",
    "ChromiumMissing",
    "PdfExportError",
    "chromium_command",
    "dump_dom",
    "export_pdf",
    "find_chromium",
    "print_pdf",
    "screenshot",
]

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Executables tried, in this order, on the ``PATH``."""

INSTALL_HINT = ("install it with `sudo apt-get install -y --no-install-recommends chromium "
                "fonts-dejavu-core` (Debian/Ubuntu; scripts/setup.sh does it) and run the "
                "report again")
"""How to get Chromium, quoted in every message about its absence."""

PDF_NAME = "report.pdf"
"""File name of the joined PDF in the report folder."""


class PdfExportError(RuntimeError):
    """A page could not be printed or the pages could not be joined."""


class ChromiumMissing(PdfExportError):
    """No Chromium on this machine: the PDF is skipped, the HTML report is complete."""


def find_chromium() -> str | None:
    """Return the path of a Chromium (or Chrome) executable on the ``PATH``, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _require_chromium(chromium: str | None) -> str:
    found = chromium or find_chromium()
    if not found:
        raise ChromiumMissing(f"report.pdf not written: Chromium was not found "
                              f"({', '.join(CHROMIUM_NAMES)}); {INSTALL_HINT}")
    return found


def chromium_command(chromium: str, profile: str | Path, *extra: str) -> list[str]:
    """The headless Chromium command line with a private profile and no network.

    Parameters
    ----------
    chromium : str
        The executable.
    profile : str or Path
        A throw-away ``--user-data-dir``.
    *extra : str
        Further flags and, last, the page's URL.

    Returns
    -------
    list of str
        The command, for :func:`subprocess.run`.
    """
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}", *extra]


def _run(command: list[str], what: str, timeout: float) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired as exc:
        raise PdfExportError(f"{what}: Chromium did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise PdfExportError(f"{what}: Chromium exited with {done.returncode} ({last})")
    return done


def _browse(page: Path, flags: Sequence[str], what: str, chromium: str | None,
            timeout: float) -> subprocess.CompletedProcess:
    """Run headless Chromium on one local page with a fresh profile."""
    exe = _require_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="nethelpers-chromium-") as profile:
        return _run(chromium_command(exe, profile, *flags, Path(page).resolve().as_uri()),
                    what, timeout)


def print_pdf(page: str | Path, pdf: str | Path, chromium: str | None = None,
              timeout: float = 180) -> Path:
    """Print one HTML page to PDF (print media, no header or footer, backgrounds kept).

    Parameters
    ----------
    page : str or Path
        The HTML file.
    pdf : str or Path
        Destination.
    chromium : str, optional
        The executable (default: :func:`find_chromium`).
    timeout : float
        Seconds before the browser is stopped.

    Returns
    -------
    Path
        The PDF.

    Raises
    ------
    ChromiumMissing
        No Chromium.
    PdfExportError
        Chromium failed or wrote nothing.
    """
    page, pdf = Path(page), Path(pdf)
    flags = ["--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
             f"--print-to-pdf={pdf}"]
    _browse(page, flags, f"printing {page.name}", chromium, timeout)
    if not pdf.is_file() or pdf.stat().st_size == 0:
        raise PdfExportError(f"printing {page.name}: Chromium wrote no PDF")
    return pdf


def screenshot(page: str | Path, png: str | Path, width: int = 1280, height: int = 800,
               chromium: str | None = None, timeout: float = 180) -> Path:
    """Save a PNG of a page as a ``width`` px wide browser window shows it (screen media).

    For a full-page picture pass the page's scroll height (see :func:`dump_dom`) as
    ``height``.
    """
    page, png = Path(page), Path(png)
    flags = [f"--window-size={width},{height}", f"--screenshot={png}"]
    _browse(page, flags, f"screenshot of {page.name}", chromium, timeout)
    if not png.is_file():
        raise PdfExportError(f"screenshot of {page.name}: Chromium wrote no PNG")
    return png


def dump_dom(page: str | Path, width: int = 1280, height: int = 800,
             chromium: str | None = None, timeout: float = 180) -> str:
    """The page's DOM after its scripts ran, in a ``width`` px wide window (``--dump-dom``)."""
    flags = [f"--window-size={width},{height}", "--dump-dom"]
    return _browse(Path(page), flags, f"reading {Path(page).name}", chromium, timeout).stdout


def export_pdf(out: str | Path, pages: Sequence[str], name: str = PDF_NAME,
               title: str = "Statistical report", chromium: str | None = None,
               timeout: float = 180, workers: int = 2) -> Path:
    """Print ``index.html`` and the notebook pages of a report into one PDF.

    Parameters
    ----------
    out : str or Path
        The report folder.
    pages : sequence of str
        Notebook names in the report's order (``<name>.html``); ``index.html`` comes first.
        A page that was not written (its notebook failed) is left out.
    name : str
        File name of the PDF in ``out``.
    title : str
        The PDF's title (its metadata).
    chromium : str, optional
        The executable (default: :func:`find_chromium`).
    timeout : float
        Seconds each page may take.
    workers : int
        Pages printed at the same time (one browser each).

    Returns
    -------
    Path
        The joined PDF, with one bookmark per page.

    Raises
    ------
    ChromiumMissing
        No Chromium (the message says how to install it).
    PdfExportError
        A page could not be printed.
    """
    from pypdf import PdfWriter

    out = Path(out)
    exe = _require_chromium(chromium)
    files = [out / "index.html", *(out / f"{p}.html" for p in pages)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise PdfExportError(f"no HTML page to print in the report folder {out.name}")
    target = out / name
    with tempfile.TemporaryDirectory(prefix="nethelpers-pdf-") as tmp:
        parts = [Path(tmp) / f"{i:02d}.pdf" for i in range(len(files))]
        with ThreadPoolExecutor(max_workers=max(1, min(workers, len(files)))) as pool:
            list(pool.map(lambda job: print_pdf(*job, exe, timeout),
                          zip(files, parts, strict=True)))
        writer = PdfWriter()
        for page, part in zip(files, parts, strict=True):
            start = len(writer.pages)
            writer.append(str(part))
            writer.add_outline_item(title=page.stem if page.stem != "index" else "Summary",
                                    page_number=start)
        writer.add_metadata({"/Title": title,
                             "/Creator": "nethelpers (headless Chromium, pypdf)"})
        partial = target.with_suffix(".pdf.partial")
        with partial.open("wb") as handle:
            writer.write(handle)
        partial.replace(target)
    return target
