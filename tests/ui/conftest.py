import threading
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings

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
        self.completed = 0
        self.gate: threading.Event | None = None  # when set, each call waits for it to open
        # The hints of each draft asked for (not of finals: soak tests make thousands).
        self.draft_hints: list[tuple] = []

    def colorize(self, grey, hints, draft=False, shown=None):
        self.calls += 1
        self.drafts += draft
        if draft:
            self.draft_hints.append(tuple(hints))
        if self.delay:
            time.sleep(self.delay)
        if self.gate is not None:
            self.gate.wait(timeout=10)
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("simulated engine failure")
        if self.out_of_memory_next:
            self.out_of_memory_next = False
            raise MemoryError
        chroma = np.zeros((*(grey if shown is None else shown).shape, 2), dtype=np.float32)
        if hints:
            chroma[...] = chroma_of_color(hints[-1].color)
        self.completed += 1
        return chroma


class GuessingEngine(FakeEngine):
    """Like the fake engine, but without hints it guesses colours, as the semantic engine
    does: blue in the darks, orange in the lights, so there are colours to suggest."""

    name = "guessing"

    def colorize(self, grey, hints, draft=False, shown=None):
        chroma = super().colorize(grey, hints, draft, shown)
        if not hints:
            level = (grey if shown is None else shown).astype(np.float32) - 128.0
            chroma[..., 0] = -0.5 * level
            chroma[..., 1] = 0.5 * level
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


class ScriptedPrompts:
    """Answers the window's questions as a test says, and remembers what was asked."""

    def __init__(self) -> None:
        self.unsaved_answer: set | None = set()  # empty: "Don't Save"; None: "Cancel"
        self.restore_answer = True
        self.asked: list[tuple] = []
        self.errors: list[str] = []
        self.folder_job_answer = None  # a FolderJob, or None: "Cancel"
        self.page_answer: int | None = None  # a page (from 0), or None: "Cancel"
        self.summaries: list = []

    def unsaved(self, parent, photo, items, hint_count, result="colorized image"):
        self.asked.append(("unsaved", photo, list(items), hint_count))
        self.unsaved_result = result
        return None if self.unsaved_answer is None else set(self.unsaved_answer)

    def restore(self, parent, photo, hint_count, instead_of):
        self.asked.append(("restore", photo, hint_count, instead_of))
        return self.restore_answer

    def error(self, parent, title, message):
        self.errors.append(message)

    def page(self, parent, photo, current, pages):
        self.asked.append(("page", photo, current, pages))
        return self.page_answer

    def folder_job(self, parent, start, previous=None, reference=None):
        self.asked.append(("folder_job", start, previous, reference))
        return self.folder_job_answer

    def batch_summary(self, parent, summary):
        self.summaries.append(summary)


@pytest.fixture
def make_window(qtbot, tmp_path, fake_engine):
    """Makes real windows (a fast fake engine, scripted prompts, isolated settings and
    recovery file) and fails the test if any of them leaves a thread running, whether
    the test passed or not."""
    windows = []
    threads_before = _python_threads()

    def make(engine_factory=None, prompts=None, recovery_path=None) -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        win = MainWindow(engine_factory=engine_factory or (lambda name: (fake_engine, None)), settings=settings,
                         recovery=RecoveryStore(recovery_path or tmp_path / "recovery.json"),
                         prompts=prompts if prompts is not None else ScriptedPrompts())
        qtbot.addWidget(win)
        win.resize(900, 500)
        win.show()
        win.activateWindow()
        qtbot.waitUntil(win.isActiveWindow)  # keyboard shortcuts only reach the active window
        windows.append(win)
        return win

    yield make
    running = []
    for win in windows:
        # pytest-qt has closed the windows by now, which stops their workers; a window
        # whose close was refused (or a test that failed) is stopped here instead.
        running += [win] if win.worker.isRunning() else []
        win.worker.stop()
        win.recovery.flush()
    for thread in _python_threads() - threads_before:
        thread.join(timeout=5)  # a saver may still be returning from its last signal
    assert not running, "a colorize thread was left running"
    assert _python_threads() <= threads_before, "a Python thread was left running"


@pytest.fixture
def window(make_window):
    return make_window()


def _python_threads() -> set:
    # QThreads show up as dummy entries that Python never removes; they are checked above.
    return {t for t in threading.enumerate() if not isinstance(t, threading._DummyThread)}
