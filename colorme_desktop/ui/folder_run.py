"""File > Colorize Folder... while it runs: the batch thread, its progress box and its summary.

One run at a time.  The window plans nothing here: it says what to colour and how
(``start``), and hears when the run is over (``running_changed``) to enable its menu again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QProgressDialog, QPushButton, QWidget

from colorme_desktop.batch import BatchOptions, ItemResult
from colorme_desktop.core.batch_plan import BatchItem
from colorme_desktop.core.text import plural
from colorme_desktop.ui.batch_dialog import BatchSummary, BatchThread, record


class FolderRun(QObject):
    """Runs one folder's photos off the GUI thread and tells the user how it went.

    ``summarise(summary)`` shows the summary at the end (the window's prompt and status
    bar); it is not called once ``stop`` has been asked for at shutdown.
    """

    running_changed = Signal(bool)

    def __init__(self, parent: QWidget, summarise: Callable[[BatchSummary], None]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._summarise = summarise
        self.thread: BatchThread | None = None
        self.progress: QProgressDialog | None = None
        self.summary = BatchSummary()
        self._stopping = False

    @property
    def running(self) -> bool:
        return self.thread is not None

    def start(self, items: Sequence[BatchItem], summary: BatchSummary, options: BatchOptions, jobs: int,
              make_engine: Callable[[], object]) -> None:
        """Colour ``items``; ``summary`` already counts what the plan skipped or refused."""
        if self.thread is not None:
            raise RuntimeError("a folder is already being colorized")
        self.summary = summary
        self.thread = BatchThread(items, options, jobs, make_engine, self)
        progress = QProgressDialog(f"Colorizing {plural(len(items), 'photo')}...", "Cancel", 0, len(items),
                                   self._parent)
        progress.setWindowTitle("Colorize Folder")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(0)
        progress.setAutoClose(False)
        progress.setAutoReset(False)
        # Not QProgressDialog's own cancel(), which hid the box: the next photo to finish
        # showed it again, and the run seemed to go on regardless (a walk-through).
        progress.canceled.disconnect()
        progress.canceled.connect(self._on_cancel)
        self.progress = progress
        self.thread.item_done.connect(self._on_item_done)
        self.thread.finished.connect(self._on_finished)
        self.thread.start()
        progress.show()
        self.running_changed.emit(True)

    def stop(self) -> None:
        """Cancel and wait for the photos in progress (never terminate()); no summary."""
        self._stopping = True
        if self.thread is not None:
            self.thread.cancel()
            self.thread.wait()
            self._on_finished()

    @Slot()
    def _on_cancel(self) -> None:
        """Cancel pressed: no photo is started any more; the box stays up, saying so, until
        the photos in progress are finished."""
        if self.thread is None or self.progress is None:
            return
        self.thread.cancel()
        self.progress.setLabelText("Cancelling: finishing the photos in progress...")
        button = self.progress.findChild(QPushButton)
        if button is not None:
            button.setEnabled(False)

    @Slot(object)
    def _on_item_done(self, result: ItemResult) -> None:
        record(self.summary, result)
        progress = self.progress
        if progress is not None:
            # The label first: a modal dialog's setValue() processes events, which may
            # deliver the batch's end and close the dialog.
            if not self.thread or not self.thread.cancel_event.is_set():
                progress.setLabelText(f"{'Colorized' if result.ok else 'Could not colorize'} "
                                      f"{result.item.source.name}")
            progress.setValue(progress.value() + 1)

    @Slot()
    def _on_finished(self) -> None:
        thread, self.thread = self.thread, None
        if thread is None:
            return
        summary = self.summary
        summary.cancelled = thread.cancel_event.is_set() and summary.finished < len(thread.items)
        if thread.error:
            summary.failures.append((Path(), f"the batch stopped: {thread.error}"))
        if self.progress is not None:
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        thread.deleteLater()
        self.running_changed.emit(False)
        if not self._stopping:
            self._summarise(summary)
