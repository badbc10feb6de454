"""Issue 12 in the window: odd files give a message and leave the window as it was."""

import json
import threading

import pytest

from colorme_desktop.core.hints import hints_to_dict, point_hint
from tests.helpers import blocking_pipe

HINT = {"x": 10, "y": 10, "color": "#c82020", "radius": 3}


def test_open_a_named_pipe_says_so_and_keeps_the_photo(qtbot, window, grey_photo, tmp_path):
    window.open_path(grey_photo)
    with blocking_pipe(tmp_path / "pipe.png") as pipe:
        assert not window.open_path(pipe)
    assert "pipe.png is a named pipe" in window.statusBar().currentMessage()
    assert window.document.image_path == grey_photo


@pytest.mark.parametrize("text, message", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    (json.dumps({"version": 1, "image_size": [120, 90], "hints": [{**HINT, "x": 10**400}]}), "far too large"),
    (json.dumps({"version": 1, "image_size": [120, 90], "hints": [{**HINT, "color": "#-1-1-1"}]}), "#rrggbb"),
])
def test_hostile_hints_file_is_refused_with_its_name(qtbot, window, grey_photo, tmp_path, text, message):
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(5, 5, (0, 0, 200)))
    path = tmp_path / "odd.json"
    path.write_text(text)
    assert not window.open_hints(path)
    shown = window.statusBar().currentMessage()
    assert "odd.json" in shown and message in shown
    assert [h.color for h in window.document.hints] == [(0, 0, 200)]


def test_hints_file_with_a_byte_order_mark_opens(qtbot, window, grey_photo, tmp_path):
    window.open_path(grey_photo)
    path = tmp_path / "from-notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 1, "image_size": [120, 90], "hints": [HINT]}).encode())
    assert window.open_hints(path)
    assert window.document.hints[0].color == (200, 32, 32)


def _write_recovery(window, image, image_size, hints):
    window.recovery.path.write_text(json.dumps({"image": str(image), "hints": hints_to_dict(hints, image_size)}))


def test_recovery_pointing_at_a_pipe_is_not_offered(qtbot, window, tmp_path):
    with blocking_pipe(tmp_path / "pipe.png") as pipe:
        _write_recovery(window, pipe, (120, 90), (point_hint(10, 10, (200, 0, 0)),))
        assert not window.offer_recovery()
    assert window.prompts.asked == [] and window.document.image is None


def test_recovery_hints_outside_the_photo_as_it_is_now_are_not_restored(qtbot, window, grey_photo):
    # The hints were painted on a larger photo that has since been replaced by the 120 x 90 one.
    _write_recovery(window, grey_photo, (400, 300), (point_hint(350, 250, (200, 0, 0)),))
    assert not window.offer_recovery()
    assert window.prompts.asked == [] and window.document.image is None
    assert window.recovery.path.exists()  # left as it was


def test_the_window_keeps_running_while_a_photo_is_read(qtbot, window, grey_photo, monkeypatch):
    """A 24 MP photo takes a second to decode: the window paints and its timers run meanwhile."""
    from PySide6.QtCore import QTimer

    from colorme_desktop.ui import main_window

    ticked = threading.Event()
    real_load = main_window.load_image

    def slow_load(path, **options):
        assert ticked.wait(10), "the GUI thread's timer never ran while the photo was read"
        return real_load(path, **options)

    monkeypatch.setattr(main_window, "load_image", slow_load)
    QTimer.singleShot(0, ticked.set)
    assert window.open_path(grey_photo)
    assert window.document.image_path == grey_photo
    assert window.open_path(grey_photo.with_name("missing.png")) is False
    assert "missing.png" in window.statusBar().currentMessage()
