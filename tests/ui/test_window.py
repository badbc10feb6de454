import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from colorme_desktop.core.hints import point_hint, save_hints_file
from colorme_desktop.ui.canvas import Tool

TIMEOUT = 5000


def _settle(qtbot, win):
    """Wait until the newest request's result is on screen."""
    qtbot.waitUntil(lambda: win.shown_generation == win.generation and win.result_rgb is not None,
                    timeout=TIMEOUT)


def _image_point(win, x, y) -> QPoint:
    p = win.hint_canvas.to_widget(x, y)
    return QPoint(round(p.x()), round(p.y()))


def test_open_by_path_shows_grey_and_result(qtbot, window, grey_photo):
    assert window.open_path(grey_photo)
    _settle(qtbot, window)
    assert window.result_rgb.shape == (90, 120, 3)
    assert not window.original_canvas.isVisible()
    assert "grey photo" in window.windowTitle()


def test_colour_photo_shows_its_original(qtbot, window, colour_photo):
    window.open_path(colour_photo)
    _settle(qtbot, window)
    assert window.original_canvas.isVisible() and window.image.is_colour


def test_open_by_drop(qtbot, window, grey_photo):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(grey_photo))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.image is not None and window.image.path == grey_photo


def test_click_paints_a_point_and_the_result_follows(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    window.choose_colour((220, 30, 30))
    qtbot.mouseClick(window.hint_canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 60, 45))
    assert len(window.history.current) == 1
    hint = window.history.current[0]
    assert hint.is_point and abs(hint.points[0][0] - 60) < 1.5 and abs(hint.points[0][1] - 45) < 1.5
    _settle(qtbot, window)
    pixel = window.result_rgb[45, 60].astype(int)
    assert pixel[0] > pixel[2] + 20  # red now
    assert window.isWindowModified()


def test_drag_paints_one_stroke_with_live_updates(qtbot, window, grey_photo, fake_engine):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    canvas = window.hint_canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 20, 20))
    for x in range(22, 80, 6):
        qtbot.mouseMove(canvas, _image_point(window, x, 30))
        qtbot.wait(15)
    qtbot.waitUntil(lambda: fake_engine.drafts >= 1, timeout=TIMEOUT)  # updated while dragging
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 80, 30))
    assert len(window.history.current) == 1 and len(window.history.current[0].points) > 3
    _settle(qtbot, window)


def test_undo_redo_and_clear(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (1, 2, 3)))
    window.add_hint(point_hint(20, 20, (4, 5, 6)))
    window.undo_action.trigger()
    assert len(window.history.current) == 1
    window.redo_action.trigger()
    assert len(window.history.current) == 2
    window.clear_action.trigger()
    assert window.history.current == ()
    window.undo_action.trigger()
    assert len(window.history.current) == 2


def test_right_click_removes_a_hint_and_select_recolours(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    window.add_hint(point_hint(30, 30, (10, 10, 10), radius=3))
    window.add_hint(point_hint(90, 60, (20, 20, 20), radius=3))
    window.set_tool(Tool.SELECT)
    qtbot.mouseClick(window.hint_canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 90, 60))
    assert window.selected == 1
    window.choose_colour((0, 200, 0))
    assert window.history.current[1].color == (0, 200, 0)
    window.set_tool(Tool.PAINT)
    qtbot.mouseClick(window.hint_canvas, Qt.MouseButton.RightButton, pos=_image_point(window, 30, 30))
    assert [h.color for h in window.history.current] == [(0, 200, 0)]


def test_palette_colour_applies_to_the_next_hint(qtbot, window, colour_photo):
    window.open_path(colour_photo)
    qtbot.waitUntil(lambda: window.palette_dock.suggested[0].colour is not None, timeout=TIMEOUT)
    swatch = window.palette_dock.suggested[1]
    qtbot.mouseClick(swatch, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(window.hint_canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 50, 50))
    assert window.history.current[-1].color == swatch.colour
    assert window.palette_dock.recent[0].colour == swatch.colour


def test_eyedropper_picks_from_the_original(qtbot, window, colour_photo):
    window.open_path(colour_photo)
    window.palette_dock.eyedropper.click()
    assert window.result_canvas.tool == Tool.EYEDROPPER
    canvas = window.original_canvas
    p = canvas.to_widget(30, 25)  # inside the green block of the test image
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
    r, g, b = window.colour
    assert g > r + 60 and g > b + 60
    assert window.hint_canvas.tool == Tool.PAINT


def test_stale_results_are_dropped(qtbot, window, grey_photo, fake_engine):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    fake_engine.delay = 0.3
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    window.add_hint(point_hint(20, 20, (0, 0, 200)))
    _settle(qtbot, window)
    assert window.shown_generation == window.generation
    # The newest request replaced the pending one: the engine skipped at least one state
    # or its older result never replaced the newer one on screen.
    assert window.result_rgb[50, 50, 2] > window.result_rgb[50, 50, 0]
    window.show_result(window.generation - 1, np.zeros((90, 120, 3), np.uint8))
    assert window.result_rgb.any(), "an old result replaced a newer one"


def test_save_writes_full_resolution(qtbot, window, grey_photo, tmp_path):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    out = tmp_path / "result.png"
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT):
        window.save_image_to(out)
    assert Image.open(out).size == (120, 90)
    assert not window.isWindowModified()


def test_failed_save_keeps_old_file_and_stays_unsaved(qtbot, window, grey_photo, tmp_path, monkeypatch):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    _settle(qtbot, window)
    out = tmp_path / "existing.png"
    out.write_bytes(b"old")

    def disk_full(self, fp, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT) as blocker:
        window.save_image_to(out)
    assert "No space left" in blocker.args[1]
    assert out.read_bytes() == b"old"
    assert window.isWindowModified()
    assert "No space left" in window.statusBar().currentMessage()


def test_unsaved_prompt_on_open_and_close(qtbot, window, grey_photo, colour_photo, monkeypatch):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    asked = []
    monkeypatch.setattr(window, "_ask_unsaved",
                        lambda: asked.append(1) or QMessageBox.StandardButton.Cancel)
    window.unsaved_answer = QMessageBox.StandardButton.Cancel
    assert not window.open_path(colour_photo)
    assert window.image.path == grey_photo and len(window.history.current) == 1
    assert not window.close()
    assert len(asked) == 2
    monkeypatch.setattr(window, "_ask_unsaved", lambda: QMessageBox.StandardButton.Discard)
    assert window.close()


def test_unreadable_file_shows_error_and_window_keeps_working(qtbot, window, grey_photo, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    window.open_path(grey_photo)
    assert not window.open_path(bad)
    assert "broken.png" in window.statusBar().currentMessage()
    assert window.image.path == grey_photo
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    _settle(qtbot, window)


@pytest.mark.parametrize("failure, message", [("fail_next", "simulated engine failure"),
                                              ("out_of_memory_next", "memory")])
def test_engine_failure_is_reported_and_next_edit_works(qtbot, window, grey_photo, fake_engine, failure,
                                                        message):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    setattr(fake_engine, failure, True)
    with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT):
        window.add_hint(point_hint(10, 10, (200, 0, 0)))
    assert message in window.statusBar().currentMessage()
    window.add_hint(point_hint(20, 20, (0, 200, 0)))
    _settle(qtbot, window)


def test_hints_file_save_and_open(qtbot, window, grey_photo, tmp_path):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    path = tmp_path / "work.json"
    assert window._write_hints(path)
    assert not window.isWindowModified()
    window.clear_hints()
    window.history.reset()
    window.saved_hints = ()
    assert window.open_hints(path)
    assert window.history.current[0].color == (200, 0, 0)


def test_brush_radius_shortcut_and_settings_persist(qtbot, window):
    before = window.hint_canvas.brush_radius
    window.set_radius(before * 2)
    assert window.hint_canvas.brush_radius == pytest.approx(before * 2)
    assert float(window.settings.value("brush_radius")) == pytest.approx(before * 2)


def test_recovery_file_is_written_on_edit(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    window.add_hint(point_hint(10, 10, (200, 0, 0)))
    qtbot.waitUntil(lambda: window.recovery.path.exists(), timeout=TIMEOUT)
    window.recovery.flush()
    image, hints = window.recovery.load()
    assert image == grey_photo.resolve() and hints == window.history.current


def test_soak_random_edits_end_on_the_final_hints(qtbot, window, grey_photo):
    """Thousands of edits through the real worker: bounded memory, the last result wins."""
    import tracemalloc

    window.open_path(grey_photo)
    rng = np.random.default_rng(0)
    tracemalloc.start()
    for i in range(10_000):
        action = rng.integers(0, 10)
        if action < 5 or not window.history.current:
            window.add_hint(point_hint(rng.uniform(0, 120), rng.uniform(0, 90), tuple(rng.integers(0, 256, 3))))
        elif action < 7:
            hints = list(window.history.current)
            j = rng.integers(len(hints))
            hints[j] = point_hint(rng.uniform(0, 120), rng.uniform(0, 90), hints[j].color)
            window.history.push(tuple(hints))
            window._hints_changed()
        elif action < 9:
            window.undo()
        else:
            window.redo()
        if i % 500 == 0:
            qtbot.wait(1)
            if i == 1000:
                baseline = tracemalloc.get_traced_memory()[0]
    _settle(qtbot, window)
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert grown < 50 * 2**20, f"memory grew by {grown / 2**20:.0f} MB"
    expected = window.history.current[-1].color if window.history.current else None
    if expected:
        assert tuple(window.result_rgb[0, 0]) == tuple(
            np.asarray(__import__("colorme_desktop.core.color", fromlist=["compose"]).compose(
                window.image.grey[:1, :1], np.array([[[*__import__(
                    "colorme_desktop.core.color", fromlist=["chroma_of_color"]).chroma_of_color(expected)]]],
                    np.float32)))[0, 0])


def test_command_line_opens_image_with_hints(qtbot, tmp_path, grey_photo):
    """colorme-desktop IMAGE --hints FILE, run as a user would (offscreen), then closed."""
    hints = tmp_path / "h.json"
    save_hints_file(hints, (point_hint(30, 30, (200, 0, 0)),), (120, 90))
    script = textwrap.dedent(f"""
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        import colorme_desktop.ui.app as app
        def check():
            w = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "" and hasattr(w, "history"))
            if w.result_rgb is not None and w.shown_generation == w.generation:
                print("HINTS", len(w.history.current), "PIXEL", *w.result_rgb[30, 30])
                w.saved_hints = w.history.current
                w.close()
            else:
                QTimer.singleShot(100, check)
        run_loop = QApplication.exec
        QApplication.exec = lambda self: (QTimer.singleShot(300, check), run_loop())[1]
        sys.exit(app.main([{str(grey_photo)!r}, "--hints", {str(hints)!r}, "--engine", "levin"]))
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "COLORME_RECOVERY_DIR": str(tmp_path / "rec"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("HINTS"))
    parts = line.split()
    assert parts[1] == "1"
    r, g, b = map(int, parts[3:6])
    assert r > b + 30


def test_restart_after_kill_offers_recovery(qtbot, tmp_path, grey_photo):
    """kill -9 while hints are unsaved; the next start restores them."""
    recovery_dir = tmp_path / "rec"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "COLORME_RECOVERY_DIR": str(recovery_dir),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    painter = textwrap.dedent(f"""
        import sys, time
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        import colorme_desktop.ui.app as app
        from colorme_desktop.core.hints import point_hint
        def paint():
            w = next(w for w in QApplication.topLevelWidgets() if hasattr(w, "history"))
            w.add_hint(point_hint(40, 40, (10, 200, 10)))
            w.add_hint(point_hint(50, 50, (10, 10, 200)))
            QTimer.singleShot(1500, lambda: print("PAINTED", flush=True))
        run_loop = QApplication.exec
        QApplication.exec = lambda self: (QTimer.singleShot(300, paint), run_loop())[1]
        sys.exit(app.main([{str(grey_photo)!r}, "--engine", "levin"]))
    """)
    process = subprocess.Popen([sys.executable, "-c", painter], stdout=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 90
    while time.time() < deadline:
        line = process.stdout.readline()
        if line.startswith("PAINTED"):
            break
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (recovery_dir / "recovery.json").exists()

    from PySide6.QtCore import QSettings

    from colorme_desktop.ui.main_window import MainWindow
    from colorme_desktop.ui.recovery import RecoveryStore
    from tests.ui.conftest import FakeEngine

    engine = FakeEngine()
    win = MainWindow(engine_factory=lambda name: (engine, None),
                     settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     recovery=RecoveryStore(recovery_dir / "recovery.json"))
    qtbot.addWidget(win)
    win._ask_restore = lambda path, count: True
    win._ask_unsaved = lambda: QMessageBox.StandardButton.Discard
    assert win.offer_recovery()
    assert [h.color for h in win.history.current] == [(10, 200, 10), (10, 10, 200)]
    assert win.isWindowModified()
    win.worker.stop()


def test_missing_weights_fall_back_to_levin_with_a_message(qtbot, tmp_path, grey_photo, monkeypatch):
    from PySide6.QtCore import QSettings

    import colorme_desktop.engines.neural as neural
    from colorme_desktop.ui.main_window import MainWindow
    from colorme_desktop.ui.recovery import RecoveryStore

    monkeypatch.setattr(neural, "weights_dir", lambda: tmp_path / "no-weights")
    win = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
                     recovery=RecoveryStore(tmp_path / "r.json"))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.worker.engine_changed, timeout=60000) as blocker:
        win.open_path(grey_photo)
    assert blocker.args[0] == "levin" and "missing" in blocker.args[1]
    assert "optimization" in win.statusBar().currentMessage()
    win.worker.stop()
