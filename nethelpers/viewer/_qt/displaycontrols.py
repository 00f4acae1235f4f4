"""Display controls of the reading layout: anatomy preset, SUV window, PET opacity, colour bar.

Every control edits a :class:`~nethelpers.viewer.display.DisplaySettings` and calls
``on_change(settings)``; the colour bar is drawn from :func:`display.colour_bar` (ticks in
SUV, titled "SUV"). MR presets are listed like CT ones (percentile windows of the MR).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QLinearGradient, QPainter
from qtpy.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from nethelpers.viewer.display import (
    ColourBar,
    DisplaySettings,
    colour_bar,
    emission_limits,
    fusion_rgba,
    presets_for,
    value_unit,
)

__all__ = ["ColourBarWidget", "DisplayControls"]

SUV_STEP = 0.5
SUV_MAX_INPUT = 100.0


class ColourBarWidget(QWidget):
    """A horizontal SUV colour bar with tick labels and the title "SUV"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar: ColourBar | None = None
        self.setMinimumSize(180, 34)

    def set_bar(self, bar: ColourBar) -> None:
        """Show this colour bar."""
        self.bar = bar
        self.setToolTip(f"{bar.title} {bar.limits[0]:g}-{bar.limits[1]:g}; at and below "
                        f"{bar.limits[0]:g} transparent")
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        if self.bar is None:
            return
        painter = QPainter(self)
        w, h = self.width(), self.height()
        title_w, bar_h, left = 34, 12, 4
        x0, x1 = left + title_w, w - 12
        painter.setPen(self.palette().windowText().color())
        painter.drawText(left, bar_h, self.bar.title)
        grad = QLinearGradient(QPointF(x0, 0), QPointF(x1, 0))
        n = len(self.bar.rgba)
        for i, (r, g, b, a) in enumerate(self.bar.rgba):
            grad.setColorAt(i / max(n - 1, 1), QColor.fromRgbF(r, g, b, max(a, 0.0)))
        painter.fillRect(x0, 2, x1 - x0, bar_h, grad)
        painter.drawRect(x0, 2, x1 - x0, bar_h)
        for pos, label in zip(self.bar.positions, self.bar.labels, strict=True):
            x = int(x0 + pos * (x1 - x0))
            painter.drawLine(x, bar_h + 2, x, bar_h + 5)
            painter.drawText(x - 12, bar_h + 6, 24, h - bar_h - 6,
                             int(Qt.AlignmentFlag.AlignHCenter), label)
        painter.end()


class DisplayControls(QWidget):
    """Preset, SUV window and opacity controls with the colour bar.

    Parameters
    ----------
    settings : DisplaySettings
        The starting settings.
    on_change : callable, optional
        Called with the new settings after every change.
    """

    def __init__(self, settings: DisplaySettings, on_change: Any = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.on_change = on_change
        self.kind = ""
        self.tracer = ""
        self.images: Any = None                  # the scan: its unit (SUV or counts)
        rows = QVBoxLayout(self)                 # two rows: the views stay narrow
        rows.setContentsMargins(2, 2, 2, 2)
        row = QHBoxLayout()
        rows.addLayout(row)
        self.preset = QComboBox()
        self.preset.setToolTip("anatomy window (CT: width/level HU; MR: percentiles)")
        self.lower = self._spin("SUV at and below which the PET is transparent")
        self.upper = self._spin("upper SUV of the PET colour scale")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setToolTip("PET opacity over the anatomy")
        self.opacity.setMaximumWidth(90)
        self.bar = ColourBarWidget()
        for label, widget in (("window", self.preset), ("SUV", self.lower), ("-", self.upper),
                              ("opacity", self.opacity)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
        rows.addWidget(self.bar)
        self.preset.currentTextChanged.connect(self._changed)
        self.lower.valueChanged.connect(self._changed)
        self.upper.valueChanged.connect(self._changed)
        self.opacity.valueChanged.connect(self._changed)
        self._quiet = False

    @staticmethod
    def _spin(tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(0.0, SUV_MAX_INPUT)
        spin.setSingleStep(SUV_STEP)
        spin.setDecimals(1)
        spin.setToolTip(tip)
        return spin

    def set_scan(self, kind: str, tracer: str, images: Any = None) -> None:
        """Fill the controls for a scan's anatomy kind and tracer (and its unit, ``images``).

        Counts-only SPECT shows its own counts window on a bar titled "counts"; the SUV
        limits do not apply to it and are disabled.
        """
        self._quiet = True
        try:
            self.kind, self.tracer, self.images = kind, tracer, images
            counts = value_unit(images) != "SUV"
            self.lower.setEnabled(not counts)
            self.upper.setEnabled(not counts)
            self.preset.clear()
            self.preset.addItems(presets_for(kind, self.settings))
            self.preset.setEnabled(self.preset.count() > 0)
            current = self.settings.ct_preset if kind == "CT" else self.settings.mr_preset
            if current in presets_for(kind, self.settings):
                self.preset.setCurrentText(current)
            lower, upper = self.settings.suv_limits(tracer)
            self.lower.setValue(lower)
            self.upper.setValue(upper)
            self.opacity.setValue(round(self.settings.pet_opacity * 100))
        finally:
            self._quiet = False
        self._draw_bar()

    def _draw_bar(self) -> None:
        if self.tracer:
            limits = (emission_limits(self.images, self.settings) if self.images is not None
                      else self.settings.suv_limits(self.tracer))
            self.bar.set_bar(colour_bar(limits, fusion_rgba(self.settings.pet_colormap,
                                                    alpha_ramp=self.settings.pet_alpha_ramp),
                                        self.settings.colour_bar_ticks,
                                        title=value_unit(self.images)))

    def _changed(self, *_: Any) -> None:
        if self._quiet:
            return
        changes: dict[str, Any] = {"pet_opacity": self.opacity.value() / 100.0}
        lower, upper = self.lower.value(), self.upper.value()
        if upper <= lower:
            upper = lower + SUV_STEP
            self._quiet = True
            self.upper.setValue(upper)
            self._quiet = False
        changes.update(suv_lower=lower, suv_upper=upper)
        preset = self.preset.currentText()
        if preset and self.kind == "CT":
            changes["ct_preset"] = preset
        elif preset and self.kind == "MR":
            changes["mr_preset"] = preset
        self.settings = self.settings.with_(**changes)
        self._draw_bar()
        if self.on_change is not None:
            self.on_change(self.settings)
