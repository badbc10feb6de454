"""The window as a user drives it: mouse, keys and menu actions; the document for setup."""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QColor, QDropEvent
from PySide6.QtWidgets import QApplication

from colorme_desktop.core.color import chroma_of, chroma_of_color, compose
from colorme_desktop.core.document import DEFAULT_COLOUR, RADIUS_MAX, RADIUS_MIN, Change, Tool, Unsaved
from colorme_desktop.core.hints import load_hints_file, point_hint, save_hints_file
from colorme_desktop.ui.dialogs import Prompts
from colorme_desktop.ui.palette_dock import KEEP_SWATCH_STYLE
from tests.helpers import colourful_rgb
from tests.ui.conftest import FakeEngine, GuessingEngine

TIMEOUT = 5000


def _settle(qtbot, win):
    """Wait until the result for the document as it is now is on screen."""
    qtbot.waitUntil(lambda: win.document.result_is_current, timeout=TIMEOUT)


def _image_point(win, x, y) -> QPoint:
    p = win.hint_canvas.to_widget(x, y)
    return QPoint(round(p.x()), round(p.y()))


def _click(qtbot, win, x, y, button=Qt.MouseButton.LeftButton):
    qtbot.mouseClick(win.hint_canvas, button, pos=_image_point(win, x, y))


def test_open_by_path_shows_grey_and_result(qtbot, window, grey_photo):
    assert window.open_path(grey_photo)
    _settle(qtbot, window)
    assert window.document.result.shape == (90, 120, 3)
    assert not window.original_canvas.isVisible()
    assert "grey photo" in window.windowTitle()


def test_colour_photo_gets_three_equal_panes_that_keep_the_aspect(qtbot, window, colour_photo):
    window.resize(1200, 500)
    window.open_path(colour_photo)
    _settle(qtbot, window)
    canvases = (window.original_canvas, window.hint_canvas, window.result_canvas)
    assert all(c.isVisible() for c in canvases)
    widths = [c.width() for c in canvases]
    assert max(widths) - min(widths) <= 2, widths  # not an Original squeezed into a strip
    for canvas in canvases:
        rect = canvas.image_rect()
        assert rect.width() / rect.height() == pytest.approx(120 / 90, rel=0.01)
    window.original_action.trigger()  # View > Show Original off: the other two share the room
    assert not window.original_canvas.isVisible()
    assert abs(window.hint_canvas.width() - window.result_canvas.width()) <= 2


def test_open_by_drop(qtbot, window, grey_photo):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(grey_photo))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.document.image_path == grey_photo


def test_click_paints_a_point_and_the_result_follows(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    window.document.set_colour((220, 30, 30))
    _click(qtbot, window, 60, 45)
    hints = window.document.hints
    assert len(hints) == 1
    assert hints[0].is_point and abs(hints[0].points[0][0] - 60) < 1.5 and abs(hints[0].points[0][1] - 45) < 1.5
    _settle(qtbot, window)
    pixel = window.document.result[45, 60].astype(int)
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
    assert len(window.document.hints) == 1 and len(window.document.hints[0].points) > 3
    _settle(qtbot, window)


def test_drafts_are_asked_for_at_once_and_only_the_newest_is_made(qtbot, window, grey_photo, fake_engine):
    """No waiting on a timer while the worker is free; while it is busy, the moves in
    between are skipped, and the draft it makes next is the newest."""
    window.open_path(grey_photo)
    _settle(qtbot, window)
    asked = []
    request = window.worker.request
    window.worker.request = lambda r: (asked.append(r), request(r))[1]
    fake_engine.gate = threading.Event()  # the worker holds on to the first draft
    canvas = window.hint_canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 20, 20))
    qtbot.mouseMove(canvas, _image_point(window, 26, 22))
    assert asked and asked[-1].draft and asked[-1].hints == window.document.shown_hints  # at once
    qtbot.waitUntil(lambda: fake_engine.drafts == 1, timeout=TIMEOUT)
    for x in range(30, 70, 8):
        qtbot.mouseMove(canvas, _image_point(window, x, 30))
    newest = window.document.shown_hints
    fake_engine.gate.set()
    qtbot.waitUntil(lambda: window.shown_generation == asked[-1].generation, timeout=TIMEOUT)  # on screen
    drafts = fake_engine.draft_hints
    assert len(drafts) == 2 and drafts[-1] == newest  # the first, then straight to the newest
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 70, 30))
    _settle(qtbot, window)


def test_undo_redo_and_clear(qtbot, window, grey_photo):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(10, 10, (1, 2, 3)))
    doc.add_hint(point_hint(20, 20, (4, 5, 6)))
    window.undo_action.trigger()
    assert len(doc.hints) == 1
    window.redo_action.trigger()
    assert len(doc.hints) == 2
    window.clear_action.trigger()
    assert doc.hints == ()
    window.undo_action.trigger()
    assert len(doc.hints) == 2


def test_right_click_removes_a_hint_and_select_recolours(qtbot, window, grey_photo):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(30, 30, (10, 10, 10), radius=3))
    doc.add_hint(point_hint(90, 60, (20, 20, 20), radius=3))
    window.tool_actions[Tool.SELECT].trigger()
    _click(qtbot, window, 90, 60)
    assert doc.selected == 1 and window.delete_action.isEnabled()
    doc.set_colour((0, 200, 0))
    assert doc.hints[1].color == (0, 200, 0)
    window.tool_actions[Tool.PAINT].trigger()
    _click(qtbot, window, 30, 30, Qt.MouseButton.RightButton)
    assert [h.color for h in doc.hints] == [(0, 200, 0)]


def test_select_tool_drags_a_hint_in_one_undo_step(qtbot, window, grey_photo, fake_engine):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(30, 30, (200, 0, 0), radius=3))
    _settle(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_S)  # the Select tool, by its shortcut
    canvas = window.hint_canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 30, 30))
    drafts = fake_engine.drafts
    for x in range(32, 72, 4):
        qtbot.mouseMove(canvas, _image_point(window, x, 40))
        qtbot.wait(15)
    qtbot.waitUntil(lambda: fake_engine.drafts > drafts, timeout=TIMEOUT)  # the result follows the drag
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=_image_point(window, 70, 40))
    (x, y), = doc.hints[0].points
    assert abs(x - 70) < 1.5 and abs(y - 40) < 1.5
    window.undo_action.trigger()
    assert doc.hints[0].points[0] == (30.0, 30.0)  # the whole drag undone at once
    window.undo_action.trigger()
    assert doc.hints == ()


def test_the_tool_in_use_is_always_shown_and_a_select_click_on_nothing_says_how_to_paint(
        qtbot, window, grey_photo):
    """With Select on, a drag on the photo did nothing and nothing said why (walk-through)."""
    window.open_path(grey_photo)
    assert "Paint" in window.tool_label.text()
    qtbot.keyClick(window, Qt.Key.Key_S)
    assert "Select" in window.tool_label.text()
    _click(qtbot, window, 50, 50)  # nothing there to select
    assert window.document.hints == () and "press P to paint" in window.statusBar().currentMessage()
    qtbot.keyClick(window, Qt.Key.Key_P)
    assert "Paint" in window.tool_label.text() and window.statusBar().currentMessage() == ""


def test_hints_can_be_hidden_to_see_the_photo_under_them_and_come_back_to_paint(qtbot, window, grey_photo):
    """Hint markers are opaque and hid the photo under them (walk-through)."""
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(60, 40, (255, 0, 0), radius=8))
    canvas = window.hint_canvas
    centre = canvas.to_widget(60, 40).toPoint()

    def red_at_hint() -> bool:
        colour = canvas.grab().toImage().pixelColor(centre)
        return colour.red() > 200 and colour.green() < 60

    assert red_at_hint()
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert not window.show_hints_action.isChecked() and not red_at_hint()  # the grey photo shows
    assert len(window.document.hints) == 1  # hidden, not removed
    _click(qtbot, window, 20, 20)  # painting shows them again
    assert window.show_hints_action.isChecked() and red_at_hint() and len(window.document.hints) == 2


def test_palette_colour_applies_to_the_next_hint_and_swatches_stay_in_place(qtbot, make_window, grey_photo):
    engine = GuessingEngine()
    window = make_window(engine_factory=lambda name: (engine, None))
    window.open_path(grey_photo)
    dock = window.palette_dock
    qtbot.waitUntil(lambda: dock.suggested[2].colour is not None, timeout=TIMEOUT)
    suggested = [s.colour for s in dock.suggested]
    first, second = suggested[1], suggested[2]
    qtbot.mouseClick(dock.suggested[1], Qt.MouseButton.LeftButton)
    _click(qtbot, window, 50, 50)
    assert window.document.hints[-1].color == first
    assert dock.recent[0].colour == first and dock.hinted[0].colour == first
    qtbot.mouseClick(dock.suggested[2], Qt.MouseButton.LeftButton)
    _click(qtbot, window, 60, 50)
    qtbot.mouseClick(dock.recent[0], Qt.MouseButton.LeftButton)
    _click(qtbot, window, 70, 50)
    _settle(qtbot, window)
    qtbot.wait(200)  # a palette for the new result would have arrived by now
    assert [s.colour for s in dock.suggested] == suggested  # the result changed, the swatches did not move
    assert [dock.recent[0].colour, dock.recent[1].colour] == [first, second]  # no reordering on reuse
    assert [dock.hinted[0].colour, dock.hinted[1].colour] == [first, second]
    assert [h.color for h in window.document.hints] == [first, second, first]


def test_eyedropper_picks_from_the_original(qtbot, window, colour_photo):
    window.open_path(colour_photo)
    window.palette_dock.eyedropper.click()
    assert window.result_canvas.tool == Tool.EYEDROPPER
    canvas = window.original_canvas
    p = canvas.to_widget(40, 30)  # the middle of the green block of the test image
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
    r, g, b = window.document.brush.colour
    assert g > r + 60 and g > b + 60
    assert window.hint_canvas.tool == Tool.PAINT


def test_keep_colour_paints_keep_hints_shown_hatched_and_a_chosen_colour_paints_again(qtbot, window, grey_photo):
    """K (or the dock's Keep Colour) paints where colour must stay as it is without hints;
    the marker shows no colour of its own, and picking a colour goes back to painting."""
    window.open_path(grey_photo)
    _settle(qtbot, window)
    doc, dock, canvas = window.document, window.palette_dock, window.hint_canvas
    qtbot.keyClick(window, Qt.Key.Key_K)
    assert "Keep" in window.tool_label.text() and dock.keep.isChecked() and canvas.tool == Tool.KEEP
    assert dock.current.styleSheet() == KEEP_SWATCH_STYLE  # the brush swatch shows no colour to paint
    recent = [s.colour for s in dock.recent]
    doc.set_radius(8)
    _click(qtbot, window, 60, 45)
    kept = doc.hints[-1]
    assert kept.keep and kept.radius == 8
    assert [s.colour for s in dock.recent] == recent and doc.hint_colours() == []  # no colour was painted
    shown = canvas.grab().toImage()
    centre = canvas.to_widget(60, 45)
    ring = [shown.pixelColor(round(centre.x()) + dx, round(centre.y()) + dy)
            for dx in range(-4, 5) for dy in range(-4, 5)]
    assert {c.red() for c in ring} & {0} and max(c.red() for c in ring) > 200  # black hatching on white
    assert all(abs(c.red() - c.green()) < 8 and abs(c.green() - c.blue()) < 8 for c in ring)  # no colour
    _settle(qtbot, window)
    dock.colour_chosen.emit((200, 30, 30))  # as a swatch's click does
    assert doc.brush.tool == Tool.PAINT and not dock.keep.isChecked()
    assert dock.current.styleSheet() != KEEP_SWATCH_STYLE and dock.current.colour == (200, 30, 30)
    _click(qtbot, window, 20, 20)
    assert not doc.hints[-1].keep and doc.hints[-1].color == doc.brush.colour
    dock.keep.click()  # the dock's button does what K does
    assert doc.brush.tool == Tool.KEEP
    dock.keep.click()
    assert doc.brush.tool == Tool.PAINT
    dock.keep.click()
    window.prompts.unsaved_answer = set()
    window.open_path(grey_photo)  # the next photo starts with the colour brush (a walk-through)
    assert doc.brush.tool == Tool.PAINT and not dock.keep.isChecked() and "Keep" not in window.tool_label.text()


def test_stale_results_are_dropped(qtbot, window, grey_photo, fake_engine):
    """Two results arrive together: only the newer is ever shown, and it stays."""
    doc = window.document
    window.open_path(grey_photo)
    _settle(qtbot, window)
    shown = []
    doc.add_listener(lambda change: shown.append(tuple(doc.result[0, 0])) if change & Change.RESULT else None)
    fake_engine.gate = threading.Event()
    done = fake_engine.completed
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))  # the worker takes this one and waits at the gate
    qtbot.waitUntil(lambda: fake_engine.calls > done, timeout=TIMEOUT)
    doc.add_hint(point_hint(20, 20, (0, 0, 200)))  # pending behind it
    fake_engine.gate.set()
    # Let the worker finish both without the window seeing either, as on a busy GUI thread.
    deadline = time.monotonic() + 5
    while fake_engine.completed < done + 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    # At least: after the newer result the worker may already be rendering its palette
    # suggestions (another colorize call; a fresh clone's CI once counted it).
    assert fake_engine.completed >= done + 2
    _settle(qtbot, window)
    qtbot.wait(50)  # anything else queued would arrive now
    blue = tuple(compose(doc.image.grey[:1, :1], np.array([[chroma_of_color((0, 0, 200))]], np.float32))[0, 0])
    assert shown == [blue], "the older (red) result was shown, or replaced the newer one"


def test_save_writes_full_resolution_but_keeps_the_hints_unsaved(qtbot, window, grey_photo, tmp_path):
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    out = tmp_path / "result.png"
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT):
        window.save_image_to(out)
    assert Image.open(out).size == (120, 90)
    assert window.document.unsaved() == [Unsaved.HINTS]
    assert window.isWindowModified()  # the hints are still only in memory


def test_a_cut_outs_transparency_is_kept_when_saved(qtbot, window, tmp_path):
    alpha = np.zeros((90, 120), np.uint8)
    alpha[20:70, 30:90] = 255
    photo = tmp_path / "cut-out.png"
    Image.fromarray(np.dstack([np.full((90, 120), 90, np.uint8), alpha]), "LA").save(photo)
    window.open_path(photo)
    out = tmp_path / "result.png"
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT):
        window.save_image_to(out)
    with Image.open(out) as saved:
        assert saved.mode == "RGBA" and np.array_equal(np.asarray(saved.getchannel("A")), alpha)


def test_a_scans_resolution_and_caption_are_kept_when_saved(qtbot, window, tmp_path):
    exif = Image.Exif()
    exif[0x010E] = "Grandma at the lake, 1932"
    photo = tmp_path / "scan.jpg"
    Image.fromarray(np.full((90, 120), 90, np.uint8)).save(photo, dpi=(600, 600), exif=exif)
    window.open_path(photo)
    out = tmp_path / "result.tif"
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT):
        window.save_image_to(out)
    with Image.open(out) as saved:
        assert saved.info["dpi"] == pytest.approx((600, 600)) and saved.getexif()[0x010E] == exif[0x010E]


def test_scroll_bars_show_where_a_zoomed_view_is_and_move_it(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    bars = window.scroll_bars
    assert bars.horizontal.isHidden() and bars.vertical.isHidden()  # fitted: the whole photo shows
    window.view.set(zoom=8.0, centre=QPointF(60, 45))  # 120 x 90 photo, eight times
    assert window.view.centre == QPointF(60, 45)  # showing the bars moved nothing
    assert not bars.horizontal.isHidden() and not bars.vertical.isHidden()
    visible = window.hint_canvas.width() / 8.0
    assert bars.horizontal.maximum() == round(120 - visible)
    assert abs(bars.horizontal.value() - (60 - visible / 2)) <= 1
    bars.horizontal.setValue(0)  # dragged to the left edge: every pane shows the photo's left edge
    assert abs(window.view.centre.x() - visible / 2) <= 1 and window.view.centre.y() == 45
    assert window.hint_canvas.to_image(QPointF(0, 0)).x() == pytest.approx(0, abs=1)
    window.view.set(fit=True)
    assert bars.horizontal.isHidden() and bars.vertical.isHidden()


def test_failed_save_keeps_old_file_and_stays_unsaved(qtbot, window, grey_photo, tmp_path, monkeypatch):
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
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
    assert Unsaved.IMAGE in window.document.unsaved()
    assert "No space left" in window.statusBar().currentMessage()
    assert any("No space left" in e for e in window.prompts.errors)


def test_quit_prompt_names_what_is_unsaved_and_saves_each(qtbot, window, grey_photo, tmp_path):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    hints_file, image_file = tmp_path / "work.json", tmp_path / "out.png"
    assert window.save_hints_to(hints_file)
    assert doc.unsaved() == [Unsaved.IMAGE]
    doc.add_hint(point_hint(20, 20, (0, 200, 0)))
    window.prompts.unsaved_answer = {Unsaved.IMAGE, Unsaved.HINTS}
    # The image has no file yet: saving it asks for one; this answers like a user would.
    doc.output_path = image_file
    window.quit_action.trigger()
    assert window.prompts.asked[-1][2] == [Unsaved.HINTS, Unsaved.IMAGE] and window.prompts.asked[-1][3] == 2
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)  # closed once both were saved
    assert len(load_hints_file(hints_file)) == 2
    saved = np.asarray(Image.open(image_file).convert("RGB")).astype(int)
    assert saved[20, 20, 1] > saved[20, 20, 0] + 20  # the newest hint's colour is in the file


def test_real_unsaved_dialog_lists_each_part(qtbot, make_window, grey_photo):
    window = make_window(prompts=Prompts())
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    seen = []

    def answer():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, answer)
            return
        seen.extend(check.text() for check in dialog.checks.values())
        qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, answer)
    assert window.close()
    assert len(seen) == 2 and "1 hint you painted" in seen[0] and "colorized image" in seen[1]  # as they are saved


def test_the_unsaved_question_calls_a_colour_photos_result_recoloured(qtbot, window, grey_photo, colour_photo):
    """The pane says "Recoloured"; the question said "the colorized image" (walk-through)."""
    window.open_path(colour_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    window.prompts.unsaved_answer = None
    assert not window.close()
    assert window.prompts.unsaved_result == "recoloured image" and "Recoloured" in window.save_action.text()
    window.prompts.unsaved_answer = set()
    assert window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    window.prompts.unsaved_answer = None
    assert not window.close()
    assert window.prompts.unsaved_result == "colorized image" and "Colorized" in window.save_action.text()
    window.prompts.unsaved_answer = set()


def test_unsaved_prompt_on_open_and_close_can_be_cancelled(qtbot, window, grey_photo, colour_photo):
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    window.prompts.unsaved_answer = None
    assert not window.open_path(colour_photo)
    assert window.document.image_path == grey_photo and len(window.document.hints) == 1
    assert not window.close()
    assert len(window.prompts.asked) == 2
    window.prompts.unsaved_answer = set()
    assert window.close()


def test_unreadable_file_shows_error_and_window_keeps_working(qtbot, window, grey_photo, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    window.open_path(grey_photo)
    assert not window.open_path(bad)
    assert "broken.png" in window.statusBar().currentMessage()
    assert window.document.image_path == grey_photo
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    _settle(qtbot, window)


def test_painting_on_the_colours_says_where_hints_go(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    centre = window.result_canvas.rect().center()
    qtbot.mouseClick(window.result_canvas, Qt.MouseButton.LeftButton, pos=centre)
    assert "Paint hints on the grey photo" in window.statusBar().currentMessage()
    assert window.document.hints == ()  # nothing painted there


def test_a_file_that_cannot_be_opened_asks_nothing_about_the_unsaved_work(qtbot, window, grey_photo, tmp_path):
    """Read first, ask after: a broken file used to cost a "save your work?" question first."""
    bad = tmp_path / "cut-short.jpg"
    bad.write_bytes(grey_photo.read_bytes()[:200])
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    assert not window.open_path(bad)
    assert window.prompts.asked == [] and window.prompts.errors  # an error, no question
    assert window.document.image_path == grey_photo and len(window.document.hints) == 1


@pytest.mark.parametrize("failure, message", [("fail_next", "simulated engine failure"),
                                              ("out_of_memory_next", "memory")])
def test_engine_failures_go_to_the_status_bar_and_next_edit_works(qtbot, window, grey_photo, fake_engine,
                                                                  failure, message):
    window.open_path(grey_photo)
    _settle(qtbot, window)
    for x in (10, 30, 50):  # an engine that keeps failing, stroke after stroke
        setattr(fake_engine, failure, True)
        with qtbot.waitSignal(window.worker.failed, timeout=TIMEOUT):
            _click(qtbot, window, x, 10)
        assert message in window.statusBar().currentMessage()
    assert window.prompts.errors == []  # no dialog to dismiss on each stroke
    _click(qtbot, window, 70, 10)
    _settle(qtbot, window)
    assert window.result_canvas.notice == ""


def test_hints_file_save_and_open(qtbot, window, grey_photo, tmp_path):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    path = tmp_path / "work.json"
    assert window.save_hints_to(path)
    assert Unsaved.HINTS not in doc.unsaved()
    window.clear_action.trigger()
    assert Unsaved.HINTS not in doc.unsaved()  # no hints: nothing to lose
    assert window.open_hints(path)
    assert doc.hints[0].color == (200, 0, 0) and "Loaded 1 hint from" in window.statusBar().currentMessage()


def test_brush_radius_keys_bounds_and_persistence(qtbot, make_window):
    window = make_window()
    assert window.document.brush.radius == 4.0
    for expected in (5.0, 6.0, 8.0):  # sizes one can read, not 4 x 1.25^3 = 7.81
        qtbot.keyClick(window, "]")
        assert window.document.brush.radius == expected
    assert window.palette_dock.radius.value() == 8.0 and window.palette_dock.radius.text() == "8.0 px"
    assert window.hint_canvas.brush_radius == window.document.brush.radius
    for _ in range(30):
        qtbot.keyClick(window, "[")
    assert window.document.brush.radius == RADIUS_MIN  # never a sub-pixel brush
    window.palette_dock.radius.setValue(9.0)
    assert window.document.brush.radius == 9.0
    window.close()
    again = make_window()  # same settings file: the radius is remembered
    assert again.document.brush.radius == 9.0
    again.settings.setValue("brush_radius", 0.98)  # left by an older version
    assert make_window().document.brush.radius == RADIUS_MIN
    again.settings.setValue("brush_radius", 5000)
    assert make_window().document.brush.radius == RADIUS_MAX


def test_a_large_photo_allows_a_larger_brush_and_the_next_photo_a_proportional_one(qtbot, make_window, tmp_path,
                                                                                   grey_photo):
    window = make_window()
    large = tmp_path / "scan.png"
    Image.fromarray(np.full((1000, 2048), 128, np.uint8)).save(large)
    window.open_path(large)
    spin = window.palette_dock.radius
    assert spin.maximum() == 128.0
    spin.setValue(64.0)
    qtbot.keyClick(window, "]")
    assert window.document.brush.radius == 80.0 and spin.value() == 80.0  # past the 64 of a small photo
    window.prompts.unsaved_answer = set()
    window.open_path(grey_photo)  # 120 x 90: 80 x 120 / 2048 = 4.7
    assert window.document.brush.radius == 5.0 and spin.maximum() == RADIUS_MAX and spin.value() == 5.0
    assert window.hint_canvas.brush_radius == 5.0
    window.close()
    again = make_window()  # the next start: as chosen, on the photo it was chosen on
    assert again.document.brush.radius == 80.0 and again.document.brush_choice == (80.0, 2048)
    again.open_path(grey_photo)
    assert again.document.brush.radius == 5.0


def test_the_brush_colour_is_remembered_across_starts(qtbot, make_window):
    window = make_window()
    assert window.document.brush.colour == DEFAULT_COLOUR
    window._on_colour_chosen((20, 90, 200))
    window.close()
    again = make_window()  # same settings file
    assert again.document.brush.colour == (20, 90, 200)
    assert again.hint_canvas.brush_colour == (20, 90, 200)
    again.settings.setValue("brush_colour", "blue-ish")  # a store edited by hand
    assert make_window().document.brush.colour == DEFAULT_COLOUR


def test_a_radius_typed_and_entered_gives_the_keys_back(qtbot, make_window):
    """Return in the radius box ends the edit: [, ] and Ctrl+Z go to the window again, not
    into the box's text (they did until the user pressed Tab)."""
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    spin = window.palette_dock.radius
    spin.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is spin)
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "7")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert window.document.brush.radius == 7.0
    assert QApplication.focusWidget() is not spin


def test_the_saturation_slider_shows_its_value(qtbot, window):
    window.palette_dock.saturation.setValue(140)
    assert window.palette_dock.saturation_label.text() == "140 %"


def test_each_photo_opens_at_its_own_colours_strength(qtbot, window, grey_photo, colour_photo):
    """A walk-through set 121 % on one photo; the colour photo opened next showed (and would
    have saved) its own colours 21 % stronger before any hint."""
    window.open_path(grey_photo)
    window.palette_dock.saturation.setValue(121)
    assert window.document.saturation == pytest.approx(1.21)
    window.prompts.unsaved_answer = set()  # "Don't Save"
    window.open_path(colour_photo)
    assert window.document.saturation == 1.0 and window.palette_dock.saturation.value() == 100
    assert window.palette_dock.saturation_label.text() == "100 %" and not window.document.unsaved()


class _RecolouringEngine(FakeEngine):
    """The fake engine under the name of one that can start from a photo's own colours."""

    name = "semantic"

    def __init__(self) -> None:
        super().__init__()
        self.own_colours: list[bool] = []  # per call: whether the photo's colours came along

    def colorize(self, grey, hints, draft=False, shown=None, photo_rgb=None):
        self.own_colours.append(photo_rgb is not None)
        if photo_rgb is not None and not hints:
            out = shown if shown is not None else grey
            return chroma_of(cv2.resize(photo_rgb, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_AREA))
        return super().colorize(grey, hints, draft, shown)


def test_a_colour_photo_keeps_its_own_colours_until_the_user_says_otherwise(qtbot, make_window, colour_photo):
    engine = _RecolouringEngine()
    window = make_window(engine_factory=lambda name: (engine, None))
    window.open_path(colour_photo)
    _settle(qtbot, window)
    assert engine.own_colours[-1] and window.own_colours_action.isEnabled()
    original = np.asarray(Image.open(colour_photo).convert("RGB")).astype(int)
    assert np.abs(window.document.result.astype(int) - original).mean() < 3  # the photo as it is
    calls = len(engine.own_colours)
    window.own_colours_action.trigger()  # Engine > Keep a Colour Photo's Own Colours: off
    qtbot.waitUntil(lambda: len(engine.own_colours) > calls, timeout=5000)
    _settle(qtbot, window)
    assert not engine.own_colours[-1]
    assert window.settings.value("keep_own_colours") in (False, "false")  # remembered for the next start


def test_the_keep_colours_choice_is_greyed_out_for_an_engine_that_cannot(qtbot, window, colour_photo):
    window.open_path(colour_photo)
    _settle(qtbot, window)  # the fake engine colours from the grey, like Levin's
    assert not window.own_colours_action.isEnabled()
    assert "grey" in window.own_colours_action.toolTip()


def test_a_first_start_takes_most_of_the_screen(qtbot, tmp_path, fake_engine):
    from PySide6.QtCore import QSettings

    from colorme_desktop.ui.main_window import MainWindow
    from colorme_desktop.ui.recovery import RecoveryStore

    win = MainWindow(engine_factory=lambda name: (fake_engine, None),
                     settings=QSettings(str(tmp_path / "fresh.ini"), QSettings.Format.IniFormat),
                     recovery=RecoveryStore(tmp_path / "recovery.json"), prompts=Prompts())
    qtbot.addWidget(win)
    screen = win.screen().availableGeometry()
    assert 0.8 * screen.width() <= win.width() < screen.width()
    assert 0.8 * screen.height() <= win.height() < screen.height()
    assert screen.contains(win.geometry())


class _ShiftingEngine(FakeEngine):
    """Without hints, each result takes the next of a few colours (a stand-in for a result
    that comes out a little otherwise after an undo or at another size)."""

    COLOURS = ((200, 40, 40), (40, 160, 60), (50, 60, 200))

    def colorize(self, grey, hints, draft=False, shown=None):
        chroma = super().colorize(grey, hints, draft, shown)
        if not hints:
            chroma[...] = chroma_of_color(self.COLOURS[self.calls % len(self.COLOURS)])
        return chroma


def test_suggested_colours_stay_when_a_result_without_hints_comes_again(qtbot, make_window, tmp_path):
    engine = _ShiftingEngine()
    window = make_window(engine_factory=lambda name: (engine, None))
    path = tmp_path / "large.png"
    Image.fromarray(colourful_rgb(1200, 1600)).convert("L").save(path)  # larger than the panes
    window.open_path(path)
    dock = window.palette_dock
    qtbot.waitUntil(lambda: dock.suggested[0].colour is not None, timeout=TIMEOUT)
    _settle(qtbot, window)
    suggested = [s.colour for s in dock.suggested]
    calls = engine.calls
    window.resize(window.width() - 240, window.height() - 120)  # a result without hints at another size
    qtbot.waitUntil(lambda: engine.calls > calls, timeout=TIMEOUT)
    _settle(qtbot, window)
    qtbot.wait(300)  # a palette for the new result would have arrived by now
    assert [s.colour for s in dock.suggested] == suggested


class _WanderingEngine(FakeEngine):
    """Each result a little otherwise than the one before, as a solver that stops within a
    tolerance from wherever the last stroke left it."""

    def colorize(self, grey, hints, draft=False, shown=None):
        return super().colorize(grey, hints, draft, shown) + np.float32(self.calls % 7)


def test_undo_and_redo_show_exactly_what_was_there_before(qtbot, make_window, grey_photo):
    """A walk-through saw a horse's ear bluer after an undo than before the undone hint."""
    engine = _WanderingEngine()
    window = make_window(engine_factory=lambda name: (engine, None))
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(30, 30, (200, 40, 40), radius=3))
    _settle(qtbot, window)
    before = doc.result.copy()
    doc.add_hint(point_hint(90, 60, (40, 60, 200), radius=3))
    _settle(qtbot, window)
    after = doc.result.copy()
    calls = engine.calls
    doc.undo()
    _settle(qtbot, window)
    np.testing.assert_array_equal(doc.result, before)
    doc.redo()
    _settle(qtbot, window)
    np.testing.assert_array_equal(doc.result, after)
    assert engine.calls == calls  # neither was made again
    doc.add_hint(point_hint(60, 20, (40, 160, 60), radius=3))
    _settle(qtbot, window)
    assert engine.calls == calls + 1  # a new hint still is


def test_hints_saved_beside_a_photo_come_back_when_it_is_opened(qtbot, window, grey_photo, tmp_path):
    """The unsaved-work question saves hints beside the photo "to continue later"; opening
    the photo again did not bring them back (only Colorize Folder used them)."""
    stroke = point_hint(30, 40, (200, 40, 40), radius=4)
    save_hints_file(grey_photo.with_name(grey_photo.stem + ".hints.json"), [stroke], (120, 90))
    window.open_path(grey_photo)
    assert window.document.hints == (stroke,)
    assert not window.document.unsaved()  # they are the saved ones
    assert "1 hint" in window.statusBar().currentMessage()
    (tmp_path / "other.png").write_bytes(grey_photo.read_bytes())
    (tmp_path / "other.hints.json").write_text("not hints")
    window.open_path(tmp_path / "other.png")  # a damaged file beside it: the photo still opens
    assert window.document.hints == () and "not used" in window.statusBar().currentMessage()


def test_save_hints_proposes_beside_the_photo_after_the_image_went_elsewhere(qtbot, window, grey_photo, tmp_path,
                                                                          monkeypatch):
    """A walk-through saved the image into another folder, then Save Hints proposed that
    folder: the hints saved there never came back with the photo."""
    window.open_path(grey_photo)
    window.document.add_hint(point_hint(30, 40, (200, 40, 40)))
    elsewhere = tmp_path / "results"
    elsewhere.mkdir()
    window.save_image_to(elsewhere / "done.png")
    qtbot.waitUntil(lambda: (elsewhere / "done.png").exists(), timeout=TIMEOUT)
    proposed = []
    answer = {"path": ""}

    def choose(parent, title, default, filters):
        proposed.append(Path(default))
        return answer["path"], ""

    monkeypatch.setattr("colorme_desktop.ui.main_window.QFileDialog.getSaveFileName", choose)
    window.save_hints_as()
    assert proposed == [grey_photo.with_name(grey_photo.stem + ".hints.json")]
    answer["path"] = str(elsewhere / "kept.hints.json")  # the user chooses elsewhere: told what that means
    assert window.save_hints_as()
    told = window.statusBar().currentMessage()
    assert "not beside the photo" in told and "Open Hints" in told and len(told) < 100  # cut off when long
    answer["path"] = str(proposed[0])
    assert window.save_hints_as() and "not beside" not in window.statusBar().currentMessage()


@pytest.mark.parametrize("count", [1, 3])
def test_recent_colours_are_kept_in_their_places_for_the_next_start(qtbot, make_window, grey_photo, count):
    window = make_window()
    window.open_path(grey_photo)
    colours = [(200, 40, 40), (40, 200, 40), (40, 40, 200)][:count]
    for i, colour in enumerate(colours):
        window.palette_dock.colour_chosen.emit(colour)
        _click(qtbot, window, 20 + 20 * i, 30)
    _settle(qtbot, window)
    shown = [swatch.colour for swatch in window.palette_dock.recent]
    assert [c for c in shown if c] == colours
    window.document.clear_hints()
    window.close()
    again = make_window()  # the same settings file
    assert [swatch.colour for swatch in again.palette_dock.recent] == shown


def test_recent_colours_from_a_damaged_setting_are_passed_over():
    from colorme_desktop.core.palette import RecentColours

    recent = RecentColours(4)
    recent.restore(["1:#ff0000", "9:#00ff00", "x:#0000ff", "2:blue", 7, "3:#0000ff"])
    assert recent.colours == [None, (255, 0, 0), None, (0, 0, 255)]
    recent.restore("not a list")  # nothing taken, nothing broken
    assert recent.colours == [None, (255, 0, 0), None, (0, 0, 255)]


def test_dialogs_start_in_a_folder_that_exists(window, tmp_path, monkeypatch):
    """A fresh account has no ~/Pictures: the folder dialog offered it all the same."""
    from PySide6.QtCore import QStandardPaths

    monkeypatch.setattr(QStandardPaths, "writableLocation", lambda location: str(tmp_path / "missing"))
    assert window._start_folder() == str(Path.home())
    (tmp_path / "missing").mkdir()
    assert window._start_folder() == str(tmp_path / "missing")


def _shows_memory_of(canvas, array) -> bool:
    return np.frombuffer(canvas.image.constBits(), np.uint8).ctypes.data == array.ctypes.data


def test_panes_show_the_photo_and_result_without_copies_that_nobody_can_change(qtbot, window, colour_photo):
    # A copy per pane was 72 MB each at 24 MP; the result pane's came on top of a save.
    window.open_path(colour_photo)
    _settle(qtbot, window)
    doc = window.document
    assert _shows_memory_of(window.hint_canvas, doc.image.grey)
    assert _shows_memory_of(window.original_canvas, doc.image.rgb)
    assert _shows_memory_of(window.result_canvas, doc.result)
    # Shared memory written behind the document's back would change the screen unasked.
    for array in (doc.image.grey, doc.image.rgb, doc.result):
        with pytest.raises(ValueError):
            array[0, 0] = 0


def test_zoom_percentage_in_the_status_bar(qtbot, window, grey_photo):
    window.open_path(grey_photo)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.zoom_label.text() == "Zoom 100 %"
    window.hint_canvas.zoom_by(2.0)
    assert window.zoom_label.text() == "Zoom 200 %"


def test_zoom_keys_keep_the_point_under_the_mouse(qtbot, window, tmp_path):
    """A walk-through pressed Ctrl+1 with the mouse on a portrait's lips and got its eyes."""
    path = tmp_path / "large.png"
    Image.fromarray(colourful_rgb(600, 800)).convert("L").save(path)  # larger than the pane at 100 %
    window.open_path(path)
    canvas = window.hint_canvas
    under = canvas.to_widget(600.0, 300.0)  # right of the middle, away from the edges
    mouse = QPoint(round(under.x()), round(under.y()))
    qtbot.mouseMove(canvas, mouse)

    def under_the_mouse():
        return canvas.to_image(QPointF(mouse))

    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert abs(under_the_mouse().x() - 600.0) < 1.0 and abs(under_the_mouse().y() - 300.0) < 1.0
    window.zoom_in_action.trigger()
    assert abs(under_the_mouse().x() - 600.0) < 1.0 and abs(under_the_mouse().y() - 300.0) < 1.0
    assert window.zoom_label.text() == "Zoom 125 %"
    # The mouse gone from the panes (to a menu, say): the pane's centre stays.
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    middle = QPointF(canvas.width() / 2, canvas.height() / 2)
    before = canvas.to_image(middle)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.zoom_label.text() == "Zoom 100 %"
    after = canvas.to_image(middle)
    assert abs(after.x() - before.x()) < 1e-6 and abs(after.y() - before.y()) < 1e-6


def test_a_photo_that_fits_the_pane_stays_centred_when_zoomed_at_the_mouse(qtbot, window, grey_photo):
    """Held at the mouse, a zoom pushed part of a photo that fits the pane off it, with no
    scroll bar to bring it back (a walk-through)."""
    window.open_path(grey_photo)
    canvas = window.hint_canvas
    canvas.zoom_to(8.0, QPointF(10.0, 10.0))  # larger than the pane: held at the mouse
    assert canvas.centre().x() != 60.0 and canvas.centre().y() != 45.0
    canvas.zoom_to(1.0, QPointF(10.0, 10.0))  # 120 x 90 px: the whole photo fits
    assert (canvas.centre().x(), canvas.centre().y()) == (60.0, 45.0)
    assert canvas.image_rect().center() == QPointF(canvas.width() / 2, canvas.height() / 2)


def test_scrolling_and_dragging_keep_the_photo_on_the_pane(qtbot, window, grey_photo):
    """A walk-through scrolled a photo that fit the pane at 100 % half off it, and panned a
    zoomed one past its top edge, leaving an empty band (the middle-button drag goes through
    the same ``_within``)."""
    from PySide6.QtCore import QPoint as Point
    from PySide6.QtGui import QWheelEvent

    window.open_path(grey_photo)  # 120 x 90
    canvas = window.hint_canvas

    def wheel(dx, dy, modifiers=Qt.KeyboardModifier.NoModifier):
        middle = QPointF(canvas.width() / 2, canvas.height() / 2)
        event = QWheelEvent(middle, canvas.mapToGlobal(middle), Point(), Point(dx, dy), Qt.MouseButton.NoButton,
                            modifiers, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(canvas, event)

    canvas.zoom_to(1.0)
    for _ in range(3):
        wheel(0, -120)
        wheel(0, -120, Qt.KeyboardModifier.ShiftModifier)
    assert (canvas.centre().x(), canvas.centre().y()) == (60.0, 45.0)  # it fits: it stays put
    canvas.zoom_to(20.0)  # 2400 x 1800 on screen: larger than the pane
    for _ in range(40):
        wheel(0, 120)  # up, far past the top
    assert abs(canvas.image_rect().top()) < 1e-6  # the photo's top edge stops at the pane's
    for _ in range(40):
        wheel(0, -120, Qt.KeyboardModifier.ShiftModifier)  # sideways, far past the right edge
    rect = canvas.image_rect()
    assert abs(rect.top()) < 1e-6 and abs(rect.right() - canvas.width()) < 1e-6


def test_a_panes_title_steps_aside_for_the_mouse(qtbot, window, grey_photo):
    """The title hid the corner of the photo being painted and the hints there (a walk-through)."""
    window.open_path(grey_photo)
    canvas = window.hint_canvas
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    canvas.zoom_by(8.0)  # the photo covers the whole pane, its corner too
    window.tool_actions[Tool.SELECT].trigger()  # no brush outline under the mouse

    def corner():
        return canvas.grab().toImage().copy(0, 0, 60, 24)

    qtbot.mouseMove(canvas, QPoint(canvas.width() // 2, canvas.height() // 2))
    titled = corner()
    qtbot.mouseMove(canvas, QPoint(12, 12))
    bare = corner()
    assert bare != titled
    qtbot.mouseMove(canvas, QPoint(canvas.width() // 2, canvas.height() // 2))
    assert corner() == titled


def _colour_extent(image, row: int, colour) -> list[int]:
    """Columns on ``row`` of a grabbed canvas whose pixel is ``colour``."""
    target = QColor(*colour)
    return [x for x in range(image.width()) if image.pixelColor(x, row) == target]


def test_markers_are_drawn_at_true_size_with_a_visible_minimum(qtbot, window, grey_photo):
    doc = window.document
    window.open_path(grey_photo)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # 100 %
    window.hint_canvas.zoom_by(4.0)  # 400 %: a radius-3 hint is 12 screen pixels
    doc.add_hint(point_hint(60, 45, (250, 0, 250), radius=3))
    doc.add_hint(point_hint(62, 49, (0, 250, 250), radius=0.05))  # far below a screen pixel
    image = window.hint_canvas.grab().toImage()
    centre = window.hint_canvas.to_widget(60, 45)
    columns = _colour_extent(image, int(centre.y()), (250, 0, 250))
    assert 20 <= max(columns) - min(columns) <= 25  # 2 x 12 screen pixels, less antialiased edges
    tiny = window.hint_canvas.to_widget(62, 49)
    assert _colour_extent(image, int(tiny.y()), (0, 250, 250))  # still visible


def test_brush_outline_shows_the_true_radius_in_the_brush_colour(qtbot, window, grey_photo):
    doc = window.document
    window.open_path(grey_photo)
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    doc.set_colour((250, 0, 250))
    doc.set_radius(10)
    where = _image_point(window, 60, 45)
    qtbot.mouseMove(window.hint_canvas, where)
    image = window.hint_canvas.grab().toImage()
    columns = _colour_extent(image, where.y(), (250, 0, 250))
    assert columns, "no outline in the brush colour"
    assert max(columns) - where.x() == pytest.approx(10, abs=1.5)
    assert where.x() - min(columns) == pytest.approx(10, abs=1.5)


def test_the_shortcuts_table_fits_without_a_sideways_scrollbar(qtbot, window):
    from colorme_desktop.ui.dialogs import ShortcutsDialog

    dialog = ShortcutsDialog(window, window._all_actions())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert not dialog.table.horizontalScrollBar().isVisible()
    dialog.close()


def test_help_menu_has_about_and_shortcuts(qtbot, window):
    texts = []

    def read_and_close():
        dialog = QApplication.activeModalWidget()
        if dialog is None:
            QTimer.singleShot(20, read_and_close)
            return
        texts.append(dialog.text() if hasattr(dialog, "text") else dialog.rows())
        dialog.close()

    QTimer.singleShot(0, read_and_close)
    window.about_action.trigger()
    about = texts[0]
    assert "0.1.0" in about and "MIT" in about and "CC-BY-2.0" in about and "model card" in about
    assert "weights/README.md" in about
    QTimer.singleShot(0, read_and_close)
    window.shortcuts_action.trigger()
    rows = dict((does, keys) for keys, does in texts[1])
    assert rows["Undo"] == "Ctrl+Z" and rows["Larger Brush"] == "]" and rows["Select and Move Hints"] == "S"


def test_another_page_of_a_multipage_tiff_opens_with_its_own_hints_names_and_recovery(
        qtbot, window, tmp_path, monkeypatch):
    """An archivist's TIFF of a print's front and back: File > Open Page... opens the back,
    whose hints and result get their own names, and a crash brings back the page worked on."""
    path = tmp_path / "scans.tif"
    front = Image.fromarray(colourful_rgb(90, 120, seed=1)).convert("L")
    back = Image.fromarray(colourful_rgb(80, 110, seed=2)).convert("L")
    front.save(path, save_all=True, append_images=[back])
    save_hints_file(tmp_path / "scans-page2.hints.json", (point_hint(5, 5, (0, 0, 200)),), (110, 80))
    doc = window.document
    assert window.open_path(path)
    assert doc.image.size == (120, 90) and doc.hints == ()  # page 1: the page-2 hints are not its
    assert window.open_page_action.isEnabled() and "(page 1 of 2)" in window.windowTitle()
    assert "Open Page" in window.statusBar().currentMessage()
    window.prompts.page_answer = 1
    window.open_page_action.trigger()
    assert window.prompts.asked[-1] == ("page", "scans.tif", 0, 2)
    assert doc.image.size == (110, 80) and doc.image.page == 1 and "(page 2 of 2)" in window.windowTitle()
    assert doc.hints == (point_hint(5, 5, (0, 0, 200)),)  # its own hints file came with it
    names = []
    monkeypatch.setattr("colorme_desktop.ui.main_window.QFileDialog.getSaveFileName",
                        lambda parent, title, default, filters: (names.append(Path(default).name), ("", ""))[1])
    window.save_image_as()
    window.save_hints_as()
    assert names == ["scans-page2-colorized.png", "scans-page2.hints.json"]
    doc.add_hint(point_hint(50, 40, (200, 0, 0)))
    qtbot.waitUntil(lambda: window.recovery.path.exists(), timeout=TIMEOUT)
    window.recovery.flush()
    image, hints, page = window.recovery.load()
    assert (image, page, len(hints)) == (path.resolve(), 1, 2)
    window.prompts.unsaved_answer = None  # "Cancel": the question names the page whose work it is
    window.prompts.page_answer = 0
    window.open_page_action.trigger()
    assert window.prompts.asked[-1][:2] == ("unsaved", "scans.tif (page 2 of 2)") and doc.image.page == 1
    window.prompts.unsaved_answer = set()  # "Don't Save": on to the next question
    window.prompts.page_answer = 0
    window.open_page_action.trigger()
    assert doc.image.page == 0
    entries = window.recent_menu.actions()
    assert entries[0].text() == "scans.tif"  # the page worked on last: the first
    window.prompts.page_answer = 1
    window.open_page_action.trigger()
    assert window.recent_menu.actions()[0].text() == "scans.tif (page 2)"
    window.open_path(tmp_path / "scans-page2.hints.json")  # a hints file opens onto the page: no new entry
    assert [a.text() for a in window.recent_menu.actions()] == ["scans.tif (page 2)"]
    window.prompts.page_answer = 0
    window.open_page_action.trigger()
    window.recent_menu.actions()[0].trigger()  # Open Recent: page 1 again, as last worked on
    assert doc.image.page == 0
    window.prompts.page_answer = 1
    window.open_page_action.trigger()
    window.recent_menu.actions()[0].trigger()  # Open Recent reopens page 2
    assert doc.image.page == 1 and len(window.recent_menu.actions()) == 1

def test_a_closed_window_never_starts_its_worker_again(qtbot, window, grey_photo):
    """A timer that fired after the window closed asked the stopped worker for a result,
    which started its thread again: a thread left running at exit (seen in the suite)."""
    window.open_path(grey_photo)
    _settle(qtbot, window)
    window.detail_timer.start()  # as a zoom just before closing leaves it
    window.close()
    assert not window.worker.isRunning() and not window.detail_timer.isActive()
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))  # anything that would ask for a result
    window.worker.prepare()
    qtbot.wait(50)
    assert not window.worker.isRunning()

def test_recovery_follows_what_is_unsaved(qtbot, window, grey_photo, tmp_path):
    doc = window.document
    window.open_path(grey_photo)
    doc.add_hint(point_hint(10, 10, (200, 0, 0)))
    qtbot.waitUntil(lambda: window.recovery.path.exists(), timeout=TIMEOUT)
    window.recovery.flush()
    image, hints, page = window.recovery.load()
    assert image == grey_photo.resolve() and hints == doc.hints and page == 0
    with qtbot.waitSignal(window.save_finished, timeout=TIMEOUT):
        window.save_image_to(tmp_path / "out.png")
    qtbot.wait(2 * 300)
    assert window.recovery.path.exists()  # the hints are still only here and in memory
    window.save_hints_to(tmp_path / "h.json")
    qtbot.waitUntil(lambda: not window.recovery.path.exists(), timeout=TIMEOUT)


def test_soak_random_edits_end_on_the_final_hints(qtbot, window, grey_photo):
    """Thousands of edits through the real worker: bounded memory, the last result wins."""
    doc = window.document
    window.open_path(grey_photo)
    rng = np.random.default_rng(0)
    tracemalloc.start()
    for i in range(10_000):
        action = rng.integers(0, 10)
        if action < 5 or not doc.hints:
            doc.add_hint(point_hint(rng.uniform(0, 120), rng.uniform(0, 90), tuple(rng.integers(0, 256, 3))))
        elif action < 7:
            doc.select(int(rng.integers(len(doc.hints))))
            doc.finish_move(rng.uniform(-20, 20), rng.uniform(-20, 20))
            doc.select(None)
        elif action < 9:
            doc.undo()
        else:
            doc.redo()
        if i % 500 == 0:
            qtbot.wait(1)
            if i == 1000:
                baseline = tracemalloc.get_traced_memory()[0]
    _settle(qtbot, window)
    grown = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()
    assert grown < 50 * 2**20, f"memory grew by {grown / 2**20:.0f} MB"
    assert doc.hints, "the random edits should end with hints"
    chroma = np.array([[chroma_of_color(doc.hints[-1].color)]], np.float32)
    assert tuple(doc.result[0, 0]) == tuple(compose(doc.image.grey[:1, :1], chroma)[0, 0])


def _app_env(tmp_path):
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "COLORME_RECOVERY_DIR": str(tmp_path / "rec"),
            "XDG_CONFIG_HOME": str(tmp_path / "config")}


# Runs the real app in a subprocess; {check} runs on the window once its result is on screen.
APP_SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
import colorme_desktop.ui.app as app
from colorme_desktop.ui.dialogs import Prompts
from colorme_desktop.ui.palette_dock import KEEP_SWATCH_STYLE
Prompts.restore = lambda self, parent, photo, count, instead_of: print("ASKED", count, flush=True) or True
Prompts.unsaved = lambda self, *args: set()  # the test closes with its work unsaved
def check():
    w = next(w for w in QApplication.topLevelWidgets() if hasattr(w, "document"))
    if not w.document.result_is_current:
        QTimer.singleShot(100, check)
        return
    {check}
run_loop = QApplication.exec
QApplication.exec = lambda self: (QTimer.singleShot(300, check), run_loop())[1]
sys.exit(app.main({argv!r}))
"""


def _run_app(tmp_path, argv, check, **kwargs):
    script = textwrap.dedent(APP_SCRIPT).format(argv=[str(a) for a in argv], check=check)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_app_env(tmp_path), **kwargs)


def test_command_line_opens_image_with_hints(tmp_path, grey_photo):
    """colorme-desktop IMAGE --hints FILE, run as a user would (offscreen), then closed."""
    hints = tmp_path / "h.json"
    save_hints_file(hints, (point_hint(30, 30, (200, 0, 0)),), (120, 90))
    process = _run_app(tmp_path, [grey_photo, "--hints", hints, "--engine", "levin"],
                       'print("HINTS", len(w.document.hints), "PIXEL", *w.document.result[30, 30]); w.close()')
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err[-2000:]
    parts = next(line for line in out.splitlines() if line.startswith("HINTS")).split()
    assert parts[1] == "1"
    r, g, b = map(int, parts[3:6])
    assert r > b + 30
    assert "ASKED" not in out  # no recovery file: nothing to offer


def test_restart_with_the_photo_on_the_command_line_offers_recovery(tmp_path, grey_photo):
    """kill -9 while hints are unsaved; starting again on the same photo restores them."""
    painter = _run_app(tmp_path, [grey_photo, "--engine", "levin"], textwrap.dedent("""
        from colorme_desktop.core.hints import point_hint
        if not w.document.hints:
            w.document.add_hint(point_hint(40, 40, (10, 200, 10)))
            w.document.add_hint(point_hint(50, 50, (10, 10, 200)))
            QTimer.singleShot(1500, lambda: print("PAINTED", flush=True))
    """).replace("\n", "\n    "))
    deadline = time.time() + 90
    while time.time() < deadline:
        if painter.stdout.readline().startswith("PAINTED"):
            break
    painter.send_signal(signal.SIGKILL)
    painter.wait(timeout=30)
    assert (tmp_path / "rec" / "recovery.json").exists()

    again = _run_app(tmp_path, [grey_photo, "--engine", "levin"],
                     'print("RESTORED", *[h.color for h in w.document.hints]); w.close()')
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-2000:]
    assert "ASKED 2" in out
    assert "RESTORED (10, 200, 10) (10, 10, 200)" in out


def test_missing_weights_fall_back_to_levin_with_a_message(qtbot, make_window, tmp_path, grey_photo, monkeypatch):
    import colorme_desktop.engines.weights as weights
    from colorme_desktop.ui.worker import default_engine_factory

    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "no-weights")  # every engine looks here
    win = make_window(engine_factory=default_engine_factory)
    with qtbot.waitSignal(win.worker.engine_changed, timeout=60000) as blocker:
        win.open_path(grey_photo)
    assert blocker.args[0] == "levin" and "missing" in blocker.args[1]
    assert "optimization" in win.statusBar().currentMessage()



def test_terminate_finishes_the_save_in_progress_and_keeps_the_hints(qtbot, window, grey_photo, tmp_path,
                                                                       monkeypatch):
    # SIGTERM (log-out, shutdown) reaches window.terminate(): no question can be answered.
    from colorme_desktop.ui import main_window

    window.open_path(grey_photo)
    window.document.add_hint(point_hint(10, 10, (200, 0, 0)))
    _settle(qtbot, window)
    real_save, started = main_window.save_image, threading.Event()

    def slow_save(path, rgb, **options):
        started.set()
        time.sleep(0.5)  # still writing when the signal arrives
        real_save(path, rgb, **options)

    monkeypatch.setattr(main_window, "save_image", slow_save)
    # The real exit would end this test process's event loops: every later test's window
    # then never became active.
    exits = []
    monkeypatch.setattr(main_window.QApplication, "exit", exits.append)
    out = tmp_path / "saving.png"
    window.save_image_to(out)
    assert started.wait(5)
    window.terminate()
    assert exits == [128 + 15]  # SIGTERM's exit status
    assert Image.open(out).size == (120, 90)
    assert not list(tmp_path.glob("*.part")), "a half-written file was left behind"
    restored = window.recovery.load()
    assert restored is not None and len(restored[1]) == 1  # the unsaved hint waits for the next start
    assert not window.isVisible() and window.prompts.asked == []



@pytest.mark.parametrize("items, words", [([Unsaved.HINTS], "hints you painted on a.png are not saved"),
                                          ([Unsaved.IMAGE], "image of a.png is not saved as it is now"),
                                          ([Unsaved.HINTS, Unsaved.IMAGE],
                                           "hints you painted on a.png and the colorized image (as it is now)")])
def test_the_unsaved_question_names_what_is_unsaved(qtbot, items, words):
    """After saving the image, "your work has not been saved" read as if the save had failed."""
    from PySide6.QtWidgets import QLabel

    from colorme_desktop.ui.dialogs import UnsavedDialog

    dialog = UnsavedDialog(None, "a.png", items, 2)
    qtbot.addWidget(dialog)
    assert any(words in label.text() for label in dialog.findChildren(QLabel))
    one = UnsavedDialog(None, "a.png", items, 1)  # one hint: "the hint", not "the hints"
    qtbot.addWidget(one)
    assert not any("hints you painted" in label.text() for label in one.findChildren(QLabel))



def test_a_colour_far_darker_than_the_photo_under_it_is_explained(qtbot, window, tmp_path):
    """A walk-through painted a white horse dark brown, got a pale peach and no word why."""
    light = tmp_path / "light.png"
    Image.fromarray(np.full((60, 90), 235, dtype=np.uint8)).save(light)
    window.open_path(light)
    _settle(qtbot, window)
    window.document.set_colour((122, 74, 42))  # dark brown
    _click(qtbot, window, 40, 30)
    assert "keeps its brightness" in window.statusBar().currentMessage()
    assert "lighter" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()
    window.document.set_colour((250, 220, 220))  # a pale pink, about the photo's own brightness
    _click(qtbot, window, 60, 30)
    assert "keeps its brightness" not in window.statusBar().currentMessage()
    window.document.set_colour((122, 74, 42))
    _click(qtbot, window, 20, 30)
    assert "keeps its brightness" not in window.statusBar().currentMessage()  # said once a photo, not at every stroke
    window.open_path(light, ask=False)  # the next photo: said again
    _settle(qtbot, window)
    _click(qtbot, window, 40, 30)
    assert "keeps its brightness" in window.statusBar().currentMessage()


class _PointingEngine(FakeEngine):
    """Finds green or brown likely on the left half of a photo, blue on the right."""

    def point_suggestions(self, grey):
        from colorme_desktop.core.palette import PointSuggestions

        modes = np.zeros((2, 2, 5, 3), np.float32)
        modes[:, 0, 0] = (*chroma_of_color((60, 150, 60)), 0.6)
        modes[:, 0, 1] = (*chroma_of_color((150, 100, 50)), 0.3)
        modes[:, 1, 0] = (*chroma_of_color((60, 90, 200)), 0.9)
        return PointSuggestions(modes)


def test_the_dock_offers_the_colours_likely_where_the_mouse_is(qtbot, make_window, grey_photo, tmp_path):
    pointing, other = _PointingEngine(), FakeEngine()
    window = make_window(engine_factory=lambda name: (other if name == "levin" else pointing, None))
    window.open_path(grey_photo)  # 120 x 90
    dock, canvas = window.palette_dock, window.hint_canvas
    assert all(swatch.colour is None for swatch in dock.here)

    def pointing_at(target, x, y):
        at = target.to_widget(x, y)
        for step in (1, 0):  # a move to where the cursor already is moves nothing
            qtbot.mouseMove(target, QPoint(round(at.x()) + step, round(at.y())))
        return dock.here[0].colour is not None

    qtbot.waitUntil(lambda: pointing_at(canvas, 20, 40), timeout=TIMEOUT)  # offered once the palette is found
    green, brown = dock.here[0].colour, dock.here[1].colour
    assert green[1] > green[0] + 30 and green[1] > green[2] + 30 and brown[0] > brown[2] + 30
    assert dock.here[2].colour is None and "60% likely there" in dock.here[0].toolTip()
    assert dock.here_label.isEnabled()
    assert pointing_at(window.result_canvas, 100, 40)  # over the result too
    blue = dock.here[0].colour
    assert blue[2] > blue[0] + 40 and dock.here[1].colour is None
    QApplication.sendEvent(window.result_canvas, QEvent(QEvent.Type.Leave))  # on its way to the dock
    assert dock.here[0].colour == blue
    qtbot.mouseClick(dock.here[0], Qt.MouseButton.LeftButton)
    assert window.document.brush.colour == blue
    window.set_engine("levin")  # an engine with none to offer, then back: the last place's come back
    qtbot.waitUntil(lambda: not dock.here_label.isEnabled(), timeout=TIMEOUT)
    assert "Only the semantic engine" in dock.here_label.toolTip()
    window.set_engine(None)
    qtbot.waitUntil(lambda: dock.here[0].colour == blue, timeout=TIMEOUT)
    reference = tmp_path / "reference.png"
    Image.fromarray(colourful_rgb(60, 80)).save(reference)
    assert window.set_reference(reference)  # the colours come from a photo: why none is said so
    qtbot.waitUntil(lambda: not dock.here_label.isEnabled(), timeout=TIMEOUT)
    assert "come from a photo" in dock.here_label.toolTip()


def test_an_engine_without_colours_to_suggest_says_so(qtbot, make_window, grey_photo):
    """The fake engine, like Levin's, leaves a grey photo grey without hints: its palette is
    greys alone, which are not offered (a walk-through saw five greys under "Suggested")."""
    guessing, grey = GuessingEngine(), FakeEngine()
    window = make_window(engine_factory=lambda name: (grey if name == "levin" else guessing, None))
    dock = window.palette_dock
    window.set_engine("levin")
    window.open_path(grey_photo)
    qtbot.waitUntil(lambda: not dock.suggested_label.isEnabled(), timeout=TIMEOUT)
    assert "nothing to suggest" in dock.suggested_label.toolTip()
    assert all(swatch.colour is None for swatch in dock.suggested)
    label = dock.here_label
    assert not label.isEnabled() and "Only the semantic engine" in label.toolTip()
    assert all(swatch.colour is None for swatch in dock.here)
    window.set_engine(None)  # an engine that guesses colours: suggestions again
    qtbot.waitUntil(lambda: dock.suggested[0].colour is not None, timeout=TIMEOUT)
    assert dock.suggested_label.isEnabled() and "nothing to suggest" not in dock.suggested_label.toolTip()
