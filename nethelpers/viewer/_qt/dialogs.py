"""The review dock's message boxes: close with unsaved edits, save conflict, yes/no.

Each returns a plain answer, so the dock keeps them as injectable callables
(``ask_close``, ``ask_conflict``, ``ask_confirm``) that tests and scripts replace.
"""

from __future__ import annotations

from qtpy.QtWidgets import QMessageBox, QWidget

__all__ = ["ask_close_dialog", "ask_confirm_dialog", "ask_conflict_dialog", "ask_warning"]


def ask_warning(parent: QWidget, title: str, text: str, info: str,
                choices: list[tuple[str, str, QMessageBox.ButtonRole]]) -> str:
    """A warning box with the given buttons and Cancel.

    Parameters
    ----------
    parent : QWidget
        The box's parent.
    title, text, info : str
        Window title, main text and informative text.
    choices : list of (str, str, QMessageBox.ButtonRole)
        Button label, the answer it gives and its role.

    Returns
    -------
    str
        The chosen answer, else ``"cancel"``.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(info)
    buttons = {box.addButton(label, role): answer for label, answer, role in choices}
    box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    return buttons.get(box.clickedButton(), "cancel")


def ask_close_dialog(parent: QWidget, scans: list[str]) -> str:
    """Closing with unsaved edits: ``"save"``, ``"discard"`` or ``"cancel"``."""
    return ask_warning(
        parent, "Unsaved lesion edits", "Unsaved edits on " + ", ".join(scans) + ".",
        "Save them before closing?",
        [("Save", "save", QMessageBox.ButtonRole.AcceptRole),
         ("Discard", "discard", QMessageBox.ButtonRole.DestructiveRole)])


def ask_conflict_dialog(parent: QWidget, scan_id: str, error: Exception) -> str:
    """A save met a newer version: ``"reload"``, ``"keep"`` or ``"cancel"``."""
    return ask_warning(
        parent, "Someone saved this scan meanwhile", str(error),
        "Reload: drop your edits of this scan and show the newest version.\n"
        "Keep both: save yours as the newest; the other version stays in the history.",
        [("Reload", "reload", QMessageBox.ButtonRole.DestructiveRole),
         ("Keep both", "keep", QMessageBox.ButtonRole.AcceptRole)])


def ask_confirm_dialog(parent: QWidget, title: str, text: str) -> bool:
    """A yes/no question; True for Yes."""
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes
