import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from colorme_desktop.core.color import chroma_of_color
from colorme_desktop.ui.main_window import MainWindow
from colorme_desktop.ui.recovery import RecoveryStore
from tests.helpers import colourful_rgb


class FakeEngine:
    """Colours the whole image with the last hint's colour; can be made slow or broken."""

    name = "fake"
    description = "test engine"

    def __init__(self) -> None:
        self.delay = 0.0
        self.fail_next = False
        self.out_of_memory_next = False
        self.calls = 0
        self.drafts = 0

    def colorize(self, grey, hints, draft=False):
        self.calls += 1
        self.drafts += draft
        if self.delay:
            time.sleep(self.delay)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("simulated engine failure")
        if self.out_of_memory_next:
            self.out_of_memory_next = False
            raise MemoryError
        chroma = np.zeros((*grey.shape, 2), dtype=np.float32)
        if hints:
            chroma[...] = chroma_of_color(hints[-1].color)
        return chroma


@pytest.fixture
def fake_engine():
    return FakeEngine()


@pytest.fixture
def grey_photo(tmp_path):
    path = tmp_path / "grey photo é.png"  # spaces and non-ASCII on purpose
    Image.fromarray(colourful_rgb(90, 120)).convert("L").save(path)
    return path


@pytest.fixture
def colour_photo(tmp_path):
    path = tmp_path / "colour.jpg"
    Image.fromarray(colourful_rgb(90, 120)).save(path, quality=95)
    return path


class PromptFreeWindow(MainWindow):
    """The real window; its unsaved-changes question is answered by the test."""

    # pytest-qt closes windows before fixtures tear down; tests leave unsaved hints behind.
    unsaved_answer = QMessageBox.StandardButton.Discard

    def _ask_unsaved(self):
        return self.unsaved_answer


@pytest.fixture
def window(qtbot, tmp_path, fake_engine, monkeypatch):
    """The real window with a fast fake engine, isolated settings and recovery file."""
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = PromptFreeWindow(engine_factory=lambda name: (fake_engine, None), settings=settings,
                           recovery=RecoveryStore(tmp_path / "recovery.json"))
    monkeypatch.setattr("colorme_desktop.ui.main_window.QMessageBox.warning",
                        lambda *args: win.statusBar().showMessage(args[2]))
    qtbot.addWidget(win)
    win.resize(900, 500)
    win.show()
    threads_before = _python_threads()
    yield win
    win.worker.stop()
    assert not win.worker.isRunning(), "the colorize thread was left running"
    win.recovery.flush()
    for thread in _python_threads() - threads_before:
        thread.join(timeout=5)  # a saver may still be returning from its last signal
    assert _python_threads() <= threads_before, "a Python thread was left running"


def _python_threads() -> set:
    # QThreads show up as dummy entries that Python never removes; they are checked above.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}
