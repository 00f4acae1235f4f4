"""Keyboard shortcuts of the review and the window-close warning (an application event filter).

The filter sees key presses before napari's keymaps and menus, but only those aimed at the
canvas or the dock, never while the reader types in a text field or edits a table cell.
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QEvent, QObject, Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
)

__all__ = ["SHORTCUTS", "ShortcutsMixin"]

_CTRL = Qt.KeyboardModifier.ControlModifier
_SHIFT = Qt.KeyboardModifier.ShiftModifier
_ALT = Qt.KeyboardModifier.AltModifier
_META = Qt.KeyboardModifier.MetaModifier
#: Keyboard shortcuts: (Qt key, modifiers "" / "ctrl" / "ctrl+shift") -> action (see
#: :mod:`nethelpers.viewer.widget`). Ctrl+Shift+Z is taken too: napari's own redo of a brush
#: stroke would bypass the session (its undo is the session's).
SHORTCUTS: dict[tuple[Any, str], str] = {
    (Qt.Key.Key_A, ""): "add",
    (Qt.Key.Key_L, ""): "liver",
    (Qt.Key.Key_S, ""): "spleen",
    (Qt.Key.Key_Y, ""): "seen",
    (Qt.Key.Key_N, ""): "not_seen",
    (Qt.Key.Key_M, ""): "measure",
    (Qt.Key.Key_Delete, ""): "delete",
    (Qt.Key.Key_Backspace, ""): "delete",
    (Qt.Key.Key_Z, "ctrl"): "undo",
    (Qt.Key.Key_Z, "ctrl+shift"): "redo",
    (Qt.Key.Key_S, "ctrl"): "save",
    (Qt.Key.Key_PageDown, ""): "next",
    (Qt.Key.Key_PageUp, ""): "previous",
    (Qt.Key.Key_Escape, ""): "cancel",
}
_KEYS = {(int(getattr(key, "value", key)), mods): action
         for (key, mods), action in SHORTCUTS.items()}
_TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class ShortcutsMixin:
    """Key handling, the close warning and :meth:`shutdown` (part of the dock)."""

    def run_shortcut(self, action: str) -> bool:
        """Run the action of a keyboard shortcut (:data:`SHORTCUTS`)."""
        if action == "cancel":
            if self.pending is None:
                return False
            self.cancel_pending()
            return True
        handlers = {"redo": lambda: self.message("no redo: draw again (Ctrl+Z undoes)"),
                    "add": self.add_lesion, "liver": self.liver_sphere,
                    "spleen": self.spleen_sphere, "seen": self.seen, "not_seen": self.not_seen,
                    "measure": self.measure_axes,
                    "delete": self.delete_selected, "undo": self.undo, "save": self.save,
                    "next": lambda: self._step(1), "previous": lambda: self._step(-1)}
        handlers[action]()
        return True

    def _owns(self, obj: QObject) -> bool:
        """Whether a key event's receiver is the canvas (QtViewer) or this widget."""
        if not obj.isWidgetType() or isinstance(obj, _TEXT_INPUTS):
            return False
        if isinstance(obj, QComboBox) and obj.isEditable():
            return False
        if self.table.state() == QAbstractItemView.State.EditingState:
            return False
        if obj is self or self.isAncestorOf(obj):
            return True
        qt_viewer = getattr(getattr(self.viewer, "window", None), "_qt_viewer", None)
        return qt_viewer is not None and (obj is qt_viewer or qt_viewer.isAncestorOf(obj))

    @staticmethod
    def _shortcut_of(event: Any) -> str | None:
        mods = event.modifiers()
        if mods & (_ALT | _META):
            return None
        names = [name for flag, name in ((_CTRL, "ctrl"), (_SHIFT, "shift")) if mods & flag]
        return _KEYS.get((int(event.key()), "+".join(names)))

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        """Shortcuts (before napari's keymaps and menus) and the close warning."""
        kind = event.type()
        if kind == QEvent.Type.KeyPress or kind == QEvent.Type.ShortcutOverride:
            if self._closed or not self._owns(obj):
                return False
            action = self._shortcut_of(event)
            if action is None or (action == "cancel" and self.pending is None):
                return False
            event.accept()
            if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                self.run_shortcut(action)
            return True
        if kind == QEvent.Type.Close and not self._closed:
            window = getattr(getattr(self.viewer, "window", None), "_qt_window", None)
            if obj is window:
                return self._on_window_close(event)
        return False

    def _on_window_close(self, event: QEvent) -> bool:
        """The viewer window is closing: warn about unsaved edits (True: close refused)."""
        # napari's Viewer.close() removes every layer first: a scripted close is not asked;
        # a reader's close (any layer left, even with some layers removed) always is
        self.push_brush()
        if self.session.dirty and len(self.viewer.layers) > 0:
            answer = self.ask_close(self.dirty_scans())
            if answer == "cancel" or (answer == "save" and not self.save()):
                event.ignore()
                self.message("closing cancelled: unsaved edits")
                return True
        self.shutdown()
        return False

    def shutdown(self) -> None:
        """Stop the autosave timer and release the canvas hooks (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.autosave_timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        callbacks = self.viewer.mouse_drag_callbacks
        if self._on_mouse in callbacks:
            callbacks.remove(self._on_mouse)
        self.close_reading_views()
