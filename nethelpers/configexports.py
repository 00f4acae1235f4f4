"""The ``report.exports`` parameter: which files beside the HTML report are written.

Kept in its own module so that :mod:`nethelpers.config` only imports it. The exports are
made by :mod:`nethelpers.exportpdf` (the whole report as one PDF, printed by headless
Chromium) and :mod:`nethelpers.exportdocx` (the paper tables as a Word document).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

__all__ = ["EXPORT_FORMATS", "EXPORTS_FIELD", "ExportFormat"]

ExportFormat = Literal["pdf", "docx"]
"""One export: ``pdf`` (report.pdf) or ``docx`` (tables.docx)."""

EXPORT_FORMATS: tuple[str, ...] = ("pdf", "docx")
"""Every export, in the order they are made (the default: all of them)."""

EXPORTS_FIELD = Field(
    default_factory=lambda: list(EXPORT_FORMATS),
    description="Files written beside the HTML report: pdf (report.pdf, the whole report "
    "printed by headless Chromium; without Chromium it is skipped with a note saying how to "
    "install it) and docx (tables.docx, the paper tables with the methods paragraph); [] "
    "for none. A failing export is listed; the HTML report still completes.",
)
"""The ``report.exports`` field of :class:`nethelpers.config.ReportConfig`."""
