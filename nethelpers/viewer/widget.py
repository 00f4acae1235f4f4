"""The review dock widget (:class:`ReviewWidget`), split by job in :mod:`nethelpers.viewer._qt`.

Every action (add a lesion by a click, reference spheres, delete, undo, reads, seen / not
seen, save, restore) calls one session method and redraws.

Keyboard (in the canvas and in this widget; not while typing in a text field):

=============  ==========================================================================
A              add a lesion: the next click grows its VOI
L / S          liver (3 cm) / spleen (2 cm) reference sphere at the next click
Y / N          the selected lesion (recorded on another scan) is seen here (next click
               draws it) / not seen (call "negative")
M              measure the selected lesion's long, then short axis (lines on the canvas;
               mm recorded with its read)
Delete         delete the selected lesion's VOI on this scan (Backspace too)
Ctrl+Z         undo (also brush strokes: they are pushed to the session; napari's own
               labels undo/redo, Ctrl+Shift+Z, is switched off)
Ctrl+S         save
PgDown / PgUp  next / previous lesion
Escape         cancel the pending click action
=============  ==========================================================================

Dialogs are injectable for tests and scripts: :attr:`ReviewWidget.ask_close`,
:attr:`ReviewWidget.ask_conflict` and :attr:`ReviewWidget.ask_confirm`.
"""

from __future__ import annotations

from nethelpers.viewer._qt.dock import ReviewWidget
from nethelpers.viewer._qt.lesiontable import COLUMNS
from nethelpers.viewer._qt.shortcuts import SHORTCUTS

__all__ = ["COLUMNS", "SHORTCUTS", "ReviewWidget"]
