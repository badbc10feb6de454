"""The window says what it is doing while the engine starts and while colour is computed."""

import threading

from colorme_desktop.ui.main_window import COLORIZING_TEXT, STARTING_TEXT

TIMEOUT = 5000


def test_engine_start_is_announced_and_the_grey_photo_shows_meanwhile(qtbot, make_window, fake_engine, grey_photo):
    release = threading.Event()

    def slow_factory(name):
        release.wait(timeout=10)  # as loading weights would
        return fake_engine, None

    win = make_window(engine_factory=slow_factory)
    win.open_path(grey_photo)
    qtbot.waitUntil(lambda: win.activity_label.text() == STARTING_TEXT, timeout=TIMEOUT)
    assert win.busy_bar.isVisible()
    # The result pane shows the photo (grey for now) and why it has no colour yet.
    assert win.result_canvas.image == win.hint_canvas.image
    assert win.result_canvas.notice == STARTING_TEXT
    release.set()
    qtbot.waitUntil(lambda: win.document.result is not None and not win.busy_bar.isVisible(), timeout=TIMEOUT)
    assert win.activity_label.text() == "" and win.result_canvas.notice == ""
    assert win.result_canvas.image != win.hint_canvas.image


def test_computing_is_announced_until_the_result_arrives(qtbot, window, fake_engine, grey_photo):
    fake_engine.gate = threading.Event()
    window.open_path(grey_photo)
    qtbot.waitUntil(lambda: window.activity_label.text() == COLORIZING_TEXT, timeout=TIMEOUT)
    assert window.busy_bar.isVisible() and window.result_canvas.notice == COLORIZING_TEXT
    fake_engine.gate.set()
    qtbot.waitUntil(lambda: window.document.result_is_current and not window.busy_bar.isVisible(), timeout=TIMEOUT)
    assert window.activity_label.text() == ""


def test_a_failed_first_result_says_so_in_the_result_pane(qtbot, window, fake_engine, grey_photo):
    fake_engine.fail_next = True
    window.open_path(grey_photo)
    qtbot.waitUntil(lambda: "failed" in window.result_canvas.notice, timeout=TIMEOUT)
    assert window.result_canvas.notice.startswith("No colour:") and "simulated" in window.result_canvas.notice
    assert not window.busy_bar.isVisible()


def test_start_engine_creates_the_engine_before_any_photo(qtbot, make_window, fake_engine):
    made = []
    win = make_window(engine_factory=lambda name: (made.append(name), (fake_engine, None))[1])
    with qtbot.waitSignal(win.worker.engine_changed, timeout=TIMEOUT):
        win.start_engine()
    assert made == [None]
    qtbot.waitUntil(lambda: not win.busy_bar.isVisible(), timeout=TIMEOUT)
    assert win.activity_label.text() == ""  # nothing to colorize yet: not "Colorizing..."


def test_an_engine_that_does_not_start_is_named_and_the_old_result_marked(qtbot, make_window, fake_engine,
                                                                          grey_photo):
    from colorme_desktop.engines.base import EngineError

    def factory(name):
        if name == "neural":
            raise EngineError("The trained network could not be loaded: simulated damage")
        return fake_engine, None

    win = make_window(engine_factory=factory)
    win.open_path(grey_photo)
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=TIMEOUT)
    with qtbot.waitSignal(win.worker.failed, timeout=TIMEOUT):
        win.set_engine("neural")
    assert "did not start" in win.palette_dock.engine_label.text()  # not the engine that ran before
    assert win.result_canvas.notice.startswith("Not up to date:") and "simulated damage" in win.result_canvas.notice
    win.set_engine(None)  # back to the engine that made the result on screen
    assert win.document.result_is_current and win.result_canvas.notice == ""
    qtbot.waitUntil(lambda: "did not start" not in win.palette_dock.engine_label.text(), timeout=TIMEOUT)


def test_a_failed_update_marks_the_result_left_on_screen_until_one_comes(qtbot, window, fake_engine, grey_photo):
    from colorme_desktop.core.hints import point_hint

    window.open_path(grey_photo)
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    fake_engine.fail_next = True
    with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT):
        window.document.add_hint(point_hint(10, 10, (200, 0, 0)))  # one request, no drafts: it fails
    assert not window.document.result_is_current  # the result on screen is the one before the hint
    assert window.result_canvas.notice.startswith("Not up to date:") and "simulated" in window.result_canvas.notice
    window.document.add_hint(point_hint(30, 10, (0, 200, 0)))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    assert window.result_canvas.notice == ""
