"""The questions and boxes the window shows: unsaved work, recovery, errors, help.

The window asks through a ``Prompts`` object handed to it, as it colorizes through an
engine handed to it: tests pass scripted answers and the real window shows dialogs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from colorme_desktop import __version__
from colorme_desktop.core.document import Unsaved
from colorme_desktop.core.text import plural

MODEL_CARD = Path(__file__).resolve().parents[2] / "weights" / "README.md"

# Gestures have no QAction to read a shortcut from, so they are listed here.
MOUSE_GESTURES = (
    ("Click / drag (Paint tool)", "Paint a point / a stroke of the brush colour"),
    ("Right-click a hint", "Remove it"),
    ("Drag a hint (Select tool)", "Move it"),
    ("Ctrl+wheel", "Zoom"),
    ("Wheel / Shift+wheel / middle drag", "Scroll / scroll sideways / pan"),
)


class UnsavedDialog(QDialog):
    """Names what is unsaved and lets the user save each part, all of it, or none."""

    def __init__(self, parent: QWidget | None, photo: str, items: list[Unsaved], hint_count: int,
                 result: str = "colorized image") -> None:
        super().__init__(parent)
        self.setWindowTitle("Unsaved work")
        layout = QVBoxLayout(self)
        # Say which part: after saving the image, "your work has not been saved" read as
        # if the save had failed.  "As it is now": right whether it was saved before or
        # never ("changed since it was saved" puzzled a user who had never saved it).
        heading = {
            (Unsaved.IMAGE,): f"The {result} of {photo} is not saved as it is now. Save it first?",
            (Unsaved.HINTS,): (f"The hint you painted on {photo} is not saved. Save it first?" if hint_count == 1
                               else f"The hints you painted on {photo} are not saved. Save them first?"),
        }.get(tuple(items), f"The {'hint' if hint_count == 1 else 'hints'} you painted on {photo} and the "
                            f"{result} (as it is now) are not saved. Save them first?")
        label = QLabel(heading)
        label.setWordWrap(True)  # a long file name made the dialog wider than a small window
        layout.addWidget(label)
        texts = {
            Unsaved.IMAGE: f"The {result}, as it is now",
            Unsaved.HINTS: f"The {plural(hint_count, 'hint')} you painted (to continue later)",
        }
        self.checks: dict[Unsaved, QCheckBox] = {}
        for item in items:
            check = QCheckBox(texts[item])
            check.setChecked(True)
            layout.addWidget(check)
            self.checks[item] = check
        buttons = QDialogButtonBox()
        self.save_button = buttons.addButton(QDialogButtonBox.StandardButton.Save)
        self.discard_button = buttons.addButton(QDialogButtonBox.StandardButton.Discard)
        self.discard_button.setText("Don't Save")
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.save_button.clicked.connect(self.accept)
        self.discard_button.clicked.connect(self._on_discard_clicked)
        buttons.rejected.connect(self.reject)
        for check in self.checks.values():
            check.toggled.connect(self._on_check_changed)
        layout.addWidget(buttons)
        self.discarded = False

    def _on_check_changed(self, _checked: bool) -> None:
        self.save_button.setEnabled(any(c.isChecked() for c in self.checks.values()))

    def _on_discard_clicked(self) -> None:
        self.discarded = True
        self.accept()

    def choice(self) -> set[Unsaved]:
        if self.discarded:
            return set()
        return {item for item, check in self.checks.items() if check.isChecked()}


class Prompts:
    """Real dialogs."""

    def unsaved(self, parent: QWidget, photo: str, items: list[Unsaved], hint_count: int,
                result: str = "colorized image") -> set[Unsaved] | None:
        """What to save before going on (empty: nothing), or None to stay; ``result`` names
        the image as its pane does ("recoloured image" for a colour photo)."""
        dialog = UnsavedDialog(parent, photo, items, hint_count, result)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.choice()

    def restore(self, parent: QWidget, photo: Path, hint_count: int, instead_of: Path | None) -> bool:
        text = f"ColorMe was closed with {plural(hint_count, 'unsaved hint')} on {photo.name}. Restore them?"
        if instead_of is not None and instead_of.resolve() != photo.resolve():
            text += f"\n\nRestoring opens {photo.name}; {instead_of.name} then waits in File > Open Recent."
        box = QMessageBox(QMessageBox.Icon.Question, "Restore unsaved work?", text, parent=parent)
        box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.exec()
        return box.clickedButton() is not discard

    def error(self, parent: QWidget, title: str, message: str) -> None:
        QMessageBox.warning(parent, title, message)

    def page(self, parent: QWidget, photo: str, current: int, pages: int) -> int | None:
        """A page of a multi-page file (from 0), or None when cancelled; shown from 1."""
        page, ok = QInputDialog.getInt(parent, "Open Page", f"Page of {photo} (1 to {pages}):",
                                       current + 1, 1, pages)
        return page - 1 if ok else None

    def folder_job(self, parent: QWidget, start: str, previous=None, reference=None):
        """The options of File > Colorize Folder... (offering ``previous``'s, and the colour photo
        ``reference`` colours come from), or None when cancelled."""
        from colorme_desktop.ui.batch_dialog import FolderDialog

        dialog = FolderDialog(parent, start, previous, reference)
        return dialog.job() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def batch_summary(self, parent: QWidget, summary) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning if summary.not_colorized else QMessageBox.Icon.Information,
                          "Colorize Folder", summary.text(), QMessageBox.StandardButton.Ok, parent)
        if summary.not_colorized:
            box.setDetailedText(summary.details())
        box.exec()


def about_box(parent: QWidget) -> QMessageBox:
    model_card = QUrl.fromLocalFile(str(MODEL_CARD)).toString()
    text = (
        f"<h3>ColorMe Desktop {__version__}</h3>"
        "<p>Colorizes black-and-white photos from an automatic guess and your colour hints. "
        "Only colour is added: the saved image keeps your photo's luminance.</p>"
        f"<p>The network and how well it does: <a href='{model_card}'>model card</a>.</p>"
        "<p><b>Licences</b><br>ColorMe's code: MIT. The licences of the photos the network "
        "learnt from: in the model card.<br>"
        "Sample photo: CC-BY-2.0, by danielbuechele (see resources/sample/ATTRIBUTION.md).<br>"
        "Qt for Python (PySide6): LGPL-3.0. PyTorch: BSD-3-Clause. "
        "NumPy, OpenCV, scikit-learn, Pillow: their permissive licences.</p>"
    )
    box = QMessageBox(QMessageBox.Icon.NoIcon, "About ColorMe", text, QMessageBox.StandardButton.Close, parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
    if parent.windowIcon() is not None:
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    return box


class ShortcutsDialog(QDialog):
    """Every menu shortcut, read from the actions themselves so the list cannot go stale."""

    def __init__(self, parent: QWidget, actions: list[QAction]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = [(", ".join(k.toString(k.SequenceFormat.NativeText) for k in a.shortcuts()),
                 a.text().replace("&", "").rstrip(".")) for a in actions if a.shortcuts()]
        rows += list(MOUSE_GESTURES)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, does) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(does))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(close, alignment=Qt.AlignmentFlag.AlignRight)
        # Wide enough for the longest row: at 480 px the table needed a sideways scrollbar.
        margins = layout.contentsMargins()
        needed = (self.table.horizontalHeader().length() + 2 * self.table.frameWidth()
                  + self.table.verticalScrollBar().sizeHint().width() + margins.left() + margins.right() + 8)
        self.resize(max(480, needed), 520)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text()) for r in range(self.table.rowCount())]
