"""File > Colorize Folder...: the batch options, and the thread that runs the batch.

The batch itself is ``colorme_desktop.batch``, shared with ``colorme colorize DIR``; here
it only runs off the GUI thread and reports each photo as it finishes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from colorme_desktop.batch import TONED_NOTE, UNCHANGED_NOTE, BatchOptions, ItemResult, default_jobs, run_batch
from colorme_desktop.core.batch_plan import BatchItem
from colorme_desktop.core.imageio import SAVE_FORMATS
from colorme_desktop.core.text import plural

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class FolderJob:
    """What the user asked for in the dialog: ``colorme colorize INPUT -o OUTPUT`` in a form."""

    input_folder: Path
    output_folder: Path
    recursive: bool = False
    overwrite: bool = False
    fmt: str = "png"
    jobs: int = 1
    # The colour photo the window takes colours from (File > Colours From Photo...), offered
    # by name: a walk-through found a whole album coloured from it without a word.
    use_reference: bool = True


EDIT_MIN_WIDTH = 360  # a folder's path, not cut off at the dialog's natural width

# PNG first, the default as on the command line: alphabetical order made it JPEG, and grey
# PNG scans came out as lossy JPEGs.
FORMATS = sorted({s.lstrip(".") for s in SAVE_FORMATS} - {"jpeg", "tif"}, key=lambda f: (f != FolderJob.fmt, f))


@dataclass
class BatchSummary:
    written: int = 0
    skipped: int = 0  # outputs that already existed
    cancelled: bool = False  # photos were left undone because the user cancelled
    failures: list[tuple[Path, str]] = field(default_factory=list)  # photos the run could not colorize
    refused: list[tuple[Path, str]] = field(default_factory=list)  # photos the plan left out (never run)
    kept_colours: int = 0  # colour photos without hints written as they came in
    toned: list[Path] = field(default_factory=list)  # ... of them that look like toned prints (``looks_toned``)

    @property
    def finished(self) -> int:
        """Photos of the run done or failed so far (the plan's refusals were never run)."""
        return self.written + len(self.failures)

    @property
    def not_colorized(self) -> list[tuple[Path, str]]:
        """Every photo left without a result, and why: refused by the plan or failed in the run."""
        return self.refused + self.failures

    def text(self) -> str:
        done = f"Colorized {plural(self.written, 'photo')}"
        if self.skipped:
            done += f"; skipped {self.skipped} already done"
        if self.cancelled:
            done += "; cancelled before the rest"
        if self.kept_colours:
            # A folder of colour photos turned into copies of itself is no surprise then.
            done += (f". {plural(self.kept_colours, 'colour photo')} without hints kept "
                     f"{'its' if self.kept_colours == 1 else 'their'} own colours (Engine menu)")
        if self.toned:
            # Colours of one hue: most likely old sepia prints, which the user wants coloured.
            names = ", ".join(sorted(path.name for path in self.toned)[:3]) + (", ..." if len(self.toned) > 3 else "")
            like = ("looks like a toned black-and-white print" if len(self.toned) == 1
                    else "look like toned black-and-white prints")
            done += (f"; {names} {like} (sepia): untick Engine > Keep a Colour Photo's Own Colours to colour "
                     f"{'it from its' if len(self.toned) == 1 else 'them from their'} grey")
        if self.not_colorized:
            done += f". {plural(len(self.not_colorized), 'photo')} failed"
        return done + "."

    def details(self) -> str:
        return "\n".join(f"{source}: {message}"
                         for source, message in sorted(self.not_colorized, key=lambda f: str(f[0])))


class FolderDialog(QDialog):
    """The options of ``colorme colorize DIR -o OUTDIR``; OK only once both folders are given."""

    def __init__(self, parent: QWidget | None = None, start: str = "", previous: FolderJob | None = None,
                 reference: Path | None = None) -> None:
        """``previous``: the last job, whose choices the dialog offers again (its "Redo" box
        aside: redoing a finished album is asked for each time).  ``reference``: the colour
        photo the window takes colours from, offered for the album too."""
        super().__init__(parent)
        self.setWindowTitle("Colorize Folder")
        form = QFormLayout(self)
        self.input_edit, self.output_edit = QLineEdit(start), QLineEdit()
        for label, edit in (("Photos in", self.input_edit), ("Results into", self.output_edit)):
            edit.setMinimumWidth(EDIT_MIN_WIDTH)
            row = QHBoxLayout()
            browse = QPushButton("Browse...")
            browse.clicked.connect(lambda checked=False, e=edit, t=label: self._browse(e, t))
            row.addWidget(edit, 1)
            row.addWidget(browse)
            form.addRow(label, row)
            edit.textChanged.connect(self._on_text_changed)
        self.recursive = QCheckBox("Also photos in sub-folders (kept as sub-folders)")
        self.overwrite = QCheckBox("Redo photos whose result already exists")
        self.format = QComboBox()
        self.format.addItems(FORMATS)
        self.jobs = QSpinBox()
        self.jobs.setRange(1, max(1, default_jobs()))
        self.jobs.setValue(max(1, default_jobs()))
        self.jobs.setToolTip("Photos colorized at once; each uses one share of the processor")
        form.addRow(self.recursive)
        form.addRow(self.overwrite)
        self.reference = None
        if reference is not None:
            self.reference = QCheckBox(f"Take colours from {reference.name}, as for the open photo")
            self.reference.setChecked(True)
            self.reference.setToolTip(str(reference))
            form.addRow(self.reference)
        form.addRow("Save as", self.format)
        form.addRow("Photos at once", self.jobs)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Colorize")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        if previous is not None:
            if previous.input_folder.is_dir():
                self.input_edit.setText(str(previous.input_folder))
            self.output_edit.setText(str(previous.output_folder))
            self.recursive.setChecked(previous.recursive)
            self.format.setCurrentText(previous.fmt)
            self.jobs.setValue(previous.jobs)
        self._on_text_changed()

    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text())
        if folder:
            edit.setText(folder)

    @Slot()
    def _on_text_changed(self, _text: str = "") -> None:
        ready = bool(self.input_edit.text().strip()) and bool(self.output_edit.text().strip())
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ready)

    def job(self) -> FolderJob:
        return FolderJob(Path(self.input_edit.text().strip()), Path(self.output_edit.text().strip()),
                         self.recursive.isChecked(), self.overwrite.isChecked(), self.format.currentText(),
                         self.jobs.value(), self.reference is None or self.reference.isChecked())


class BatchThread(QThread):
    """Runs one batch; ``item_done`` after each photo, then QThread's ``finished``.

    With one job the photos are colorized in this thread by ``make_engine()``'s engine (the
    window's engine factory, so the choice in the Engine menu holds); with more, worker
    processes make their own from the registry name in ``options``.
    """

    item_done = Signal(object)  # ItemResult

    def __init__(self, items: Sequence[BatchItem], options: BatchOptions, jobs: int,
                 make_engine: Callable[[], object] | None = None, parent=None) -> None:
        super().__init__(parent)
        self.items = list(items)
        self.options = options
        self.jobs = jobs
        self._make_engine = make_engine
        self.cancel_event = threading.Event()
        self.error = ""  # the batch could not start (the engine did not load)

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        try:
            engine = self._make_engine() if self._make_engine is not None and self.jobs <= 1 else None
            for result in run_batch(self.items, self.options, jobs=self.jobs, cancel=self.cancel_event,
                                    engine=engine):
                self.item_done.emit(result)
        except Exception as exc:  # noqa: BLE001 - reported in the summary, never lost in the thread
            log.exception("the batch stopped")
            self.error = str(exc) or type(exc).__name__


def record(summary: BatchSummary, result: ItemResult) -> None:
    if result.ok:
        summary.written += 1
        summary.kept_colours += UNCHANGED_NOTE in result.notes or TONED_NOTE in result.notes
        if TONED_NOTE in result.notes:
            summary.toned.append(result.item.source)
    else:
        summary.failures.append((result.item.source, result.error or "failed"))
