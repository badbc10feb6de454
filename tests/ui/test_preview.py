"""The result pane shows a result made at screen size; saves get every pixel."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from PySide6.QtGui import QImage

from colorme_desktop.core.color import chroma_of, chroma_of_color, fit_size
from colorme_desktop.core.hints import Hint, point_hint, scale_hints
from colorme_desktop.engines.base import DraftSupersededError
from colorme_desktop.engines.levin import LevinEngine
from colorme_desktop.ui import main_window
from colorme_desktop.ui import worker as worker_module
from colorme_desktop.ui.worker import ColorizeRequest, ColorizeWorker
from tests.helpers import colourful_rgb

TIMEOUT = 20000
SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "sample" / "summer-palace-grey.jpg"


def _big_photo(tmp_path, w=1500, h=1000):
    rgb = np.asarray(Image.fromarray(colourful_rgb(90, 120)).resize((w, h), Image.BILINEAR))
    path = tmp_path / "big.png"
    Image.fromarray(rgb).convert("L").save(path)
    return path


def test_preview_matches_the_full_result_shrunk(qtbot):
    """No jump when the full-resolution result replaces the screen-size one."""
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L").resize((1200, 900), Image.BILINEAR))
    hints = (Hint(((200.0, 300.0), (600.0, 320.0)), (200, 40, 30), 6.0), point_hint(900, 600, (30, 90, 220), 8))
    engine = LevinEngine()
    worker = ColorizeWorker(lambda name: (engine, None))
    got = {}

    def take(generation):
        got[generation] = chroma_of(worker.take_result(generation))

    worker.result_ready.connect(take)
    try:
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(1, grey, hints, preview_side=400))
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(2, grey, hints))
    finally:
        worker.stop()
    preview, full = got[1], got[2]
    assert preview.shape == (*fit_size(grey.shape, 400)[::-1], 2)
    assert full.shape == (900, 1200, 2)
    shrunk = np.stack([np.asarray(Image.fromarray(full[..., c]).resize(preview.shape[1::-1], Image.BOX))
                       for c in range(2)], axis=-1)
    assert np.abs(shrunk - preview).mean() < 1.0  # chroma levels
    assert np.percentile(np.abs(shrunk - preview), 99) < 6.0


def test_scale_hints_moves_points_and_radius():
    hint = Hint(((10.0, 20.0), (30.0, 40.0)), (1, 2, 3), 4.0)
    (small,) = scale_hints([hint], 0.5, 0.25)
    assert small.points == ((5.0, 5.0), (15.0, 10.0)) and small.radius == 2.0 and small.color == (1, 2, 3)


def test_big_photo_is_shown_at_screen_size_and_saved_in_full(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setattr(main_window, "PREVIEW_MAX_SIDE", 600)
    window = make_window()
    window.open_path(_big_photo(tmp_path))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    shown = window.document.result
    assert max(shown.shape[:2]) <= 600  # the screen's worth, not 1.5 MP
    assert window.result_canvas.image_size().width() == 1500  # drawn over the whole photo
    window.document.add_hint(point_hint(750, 500, (200, 40, 30), 20))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    out = tmp_path / "out.png"
    window.save_image_to(out)
    qtbot.waitUntil(lambda: window.document.output_path == out, timeout=TIMEOUT)
    saved = np.asarray(Image.open(out))
    assert saved.shape == (1000, 1500, 3)
    assert np.allclose(chroma_of(saved[500:501, 750:751])[0, 0], chroma_of_color((200, 40, 30)), atol=2)
    assert not window.document.image_modified


def test_a_result_pane_that_grows_gets_a_result_with_the_pixels_it_shows(qtbot, make_window, tmp_path):
    """The first colour was made before the panes had their final widths and stayed soft."""
    window = make_window()
    window.resize(700, 500)
    window.open_path(_big_photo(tmp_path))  # 1500 x 1000
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    qtbot.wait(main_window.DETAIL_DELAY_MS + 100)  # what opening asked for is done with
    first = max(window.document.result.shape[:2])
    window.resize(1500, 1000)  # the pane grows; nobody zooms
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) > first, timeout=TIMEOUT)
    assert max(window.document.result.shape[:2]) == window._shown_side()


def test_a_stroke_while_zoomed_in_past_the_preview_gets_every_pixel_again(qtbot, make_window, tmp_path,
                                                                           monkeypatch):
    """A stroke's result is made at PREVIEW_MAX_SIDE; zoomed in further, it stayed soft until
    the next zoom (a walk-through painted at 100 % on a 4000 px panorama)."""
    monkeypatch.setattr(main_window, "PREVIEW_MAX_SIDE", 600)
    window = make_window()
    window.open_path(_big_photo(tmp_path))  # 1500 x 1000
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    window.zoom_actual()
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) == 1500, timeout=TIMEOUT)
    window.document.add_hint(point_hint(750, 500, (200, 40, 30), 20))
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) == 600, timeout=TIMEOUT)  # the stroke's own
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) == 1500, timeout=TIMEOUT)


def test_a_zoom_by_key_asks_for_the_new_size_at_once(qtbot, make_window, tmp_path, monkeypatch):
    """Ctrl+1 showed the stretched preview for up to a second: the detail timer waits for a
    wheel's run of steps to end, and a key press is one step."""
    monkeypatch.setattr(main_window, "PREVIEW_MAX_SIDE", 600)
    window = make_window()
    window.open_path(_big_photo(tmp_path))  # 1500 x 1000
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    window.detail_timer.setInterval(60_000)  # only an immediate request can come in time
    window.zoom_actual()
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) == 1500, timeout=TIMEOUT)


def test_eyedropper_on_a_preview_picks_where_the_mouse_is(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setattr(main_window, "PREVIEW_MAX_SIDE", 600)
    window = make_window()
    window.open_path(_big_photo(tmp_path))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    shown = window.document.result.copy()
    h, w = shown.shape[:2]
    assert w < 1450
    shown[h // 2:, w // 2:] = (10, 200, 30)  # only the bottom-right quarter of the preview is green
    window.document._result = shown
    window._on_result_picked(1450.0, 950.0)  # image pixels: far outside the preview
    assert window.document.brush.colour == (10, 200, 30)
    window._on_result_picked(700.0, 100.0)
    assert window.document.brush.colour != (10, 200, 30)


class _CountingEngine(LevinEngine):
    """Levin's engine that records when the worker prepares for strokes."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared = 0

    def prepare_strokes(self, grey) -> None:
        self.prepared += 1


def test_worker_prepares_for_strokes_when_idle_and_skips_unwanted_palettes(qtbot):
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L"))
    engine = _CountingEngine()
    worker = ColorizeWorker(lambda name: (engine, None))
    palettes = []
    worker.palette_ready.connect(palettes.append)
    try:
        with qtbot.waitSignal(worker.palette_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(1, grey, ()))
        qtbot.waitUntil(lambda: engine.prepared == 1, timeout=TIMEOUT)
        with qtbot.waitSignal(worker.busy_changed, timeout=TIMEOUT, check_params_cb=lambda busy: not busy):
            worker.request(ColorizeRequest(2, grey, (point_hint(30, 30, (200, 0, 0)),), palette=False))
    finally:
        worker.stop()
    assert palettes == [1]  # no K-means for the stroke's result: the window would not show it


class _SlowToPrepareEngine(LevinEngine):
    def __init__(self) -> None:
        super().__init__()
        self.preparing = threading.Event()
        self.may_finish = threading.Event()
        self.finished = False

    def prepare_strokes(self, grey) -> None:
        self.preparing.set()
        self.may_finish.wait(timeout=5)
        self.finished = True


def test_the_worker_is_not_busy_while_it_only_prepares_for_strokes(qtbot):
    """The window said "Colorizing..." for a second after the colour was on screen, while
    the worker built what the first stroke needs (a walk-through, session 16)."""
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L"))
    engine = _SlowToPrepareEngine()
    worker = ColorizeWorker(lambda name: (engine, None))
    states = []
    worker.busy_changed.connect(states.append)
    try:
        worker.request(ColorizeRequest(1, grey, ()))
        qtbot.waitUntil(engine.preparing.is_set, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: states and states[-1] is False, timeout=TIMEOUT)
        assert not engine.finished  # said while the preparing still went on
    finally:
        engine.may_finish.set()
        worker.stop()


class _StoppableEngine:
    """Drafts that run until the worker's stop() says the stroke's final is waiting."""

    name = "stoppable"
    description = "test engine"

    def __init__(self) -> None:
        self.stop = None
        self.drafting = threading.Event()
        self.given_up = 0

    def set_draft_stop(self, stop) -> None:
        self.stop = stop

    def colorize(self, grey, hints, draft=False, shown=None):
        if draft:
            self.drafting.set()
            deadline = time.monotonic() + 10
            while not self.stop():
                assert time.monotonic() < deadline, "the worker never said stop"
                time.sleep(0.005)
            self.given_up += 1
            raise DraftSupersededError
        return np.zeros((*grey.shape, 2), dtype=np.float32)


def test_worker_gives_up_a_draft_when_the_final_of_the_stroke_waits(qtbot):
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L"))
    engine = _StoppableEngine()
    worker = ColorizeWorker(lambda name: (engine, None))
    results, failures = [], []
    worker.result_ready.connect(results.append)
    worker.failed.connect(lambda generation, message: failures.append(message))
    stroke = (Hint(((10.0, 10.0), (40.0, 20.0)), (200, 0, 0), 3.0),)
    try:
        worker.request(ColorizeRequest(1, grey, stroke, draft=True, palette=False))
        assert engine.drafting.wait(TIMEOUT / 1000)
        worker.request(ColorizeRequest(2, grey, stroke + (point_hint(5, 5, (0, 0, 200)),), draft=True))
        time.sleep(0.1)
        assert engine.given_up == 0  # a newer draft alone does not stop the one on its way to the screen
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(3, grey, stroke, palette=False))  # the stroke ends
    finally:
        worker.stop()
    assert engine.given_up == 1 and results == [3] and not failures


def _worker_on_a_fresh_screen(monkeypatch, engine) -> tuple[ColorizeWorker, list, np.ndarray, tuple]:
    """A worker for ``engine`` to which every result counts as just shown, the generations
    of its results, a photo and a stroke on it."""
    monkeypatch.setattr(worker_module, "DRAFT_FRESH_S", 60.0)
    worker = ColorizeWorker(lambda name: (engine, None))
    results = []
    worker.result_ready.connect(results.append)
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L"))
    return worker, results, grey, (Hint(((10.0, 10.0), (40.0, 20.0)), (200, 0, 0), 3.0),)


def test_worker_gives_up_a_draft_for_a_newer_one_while_the_screen_is_fresh(qtbot, monkeypatch):
    engine = _StoppableEngine()
    worker, results, grey, stroke = _worker_on_a_fresh_screen(monkeypatch, engine)
    try:
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(1, grey, (), palette=False))  # a result on screen just now
        worker.request(ColorizeRequest(2, grey, stroke, draft=True, palette=False))
        assert engine.drafting.wait(TIMEOUT / 1000)
        engine.drafting.clear()
        worker.request(ColorizeRequest(3, grey, stroke + (point_hint(5, 5, (0, 0, 200)),), draft=True))
        assert engine.drafting.wait(TIMEOUT / 1000)  # draft 3 runs: draft 2 was given up for it
        assert engine.given_up == 1
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(4, grey, stroke, palette=False))  # the stroke ends
    finally:
        worker.stop()
    # Draft 2 gave way to draft 3 (a newer draft, the screen fresh), draft 3 to the final.
    assert engine.given_up == 2 and results == [1, 4]



class _GatedEngine:
    """Drafts that finish (they never ask stop()) once the test opens the gate."""

    name = "gated"
    description = "test engine"

    def __init__(self) -> None:
        self.drafting = threading.Event()
        self.gate = threading.Event()

    def colorize(self, grey, hints, draft=False, shown=None):
        if draft and not self.gate.is_set():
            self.drafting.set()
            assert self.gate.wait(10), "the test never opened the gate"
        return np.zeros((*grey.shape, 2), dtype=np.float32)


def test_a_finished_draft_is_not_shown_when_a_newer_one_waits_and_the_screen_is_fresh(qtbot, monkeypatch):
    engine = _GatedEngine()
    worker, results, grey, stroke = _worker_on_a_fresh_screen(monkeypatch, engine)
    try:
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            worker.request(ColorizeRequest(1, grey, (), palette=False))
        worker.request(ColorizeRequest(2, grey, stroke, draft=True, palette=False))
        assert engine.drafting.wait(TIMEOUT / 1000)
        worker.request(ColorizeRequest(3, grey, stroke + (point_hint(5, 5, (0, 0, 200)),), draft=True,
                                       palette=False))
        with qtbot.waitSignal(worker.result_ready, timeout=TIMEOUT):
            engine.gate.set()  # draft 2 completes while draft 3 waits
    finally:
        worker.stop()
    assert results == [1, 3]  # composing and painting draft 2 would only have held draft 3 up


_BLAS_THREADS_SCRIPT = """
import json
import cv2
import numpy as np
from PySide6.QtCore import QCoreApplication
from threadpoolctl import threadpool_info
from colorme_desktop.ui.worker import ColorizeRequest, ColorizeWorker

def engine(name):
    # Imported here, as the app's factory does: the engine's imports load more BLAS libraries.
    from colorme_desktop.engines.levin import LevinEngine
    return LevinEngine(), None

def blas():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

app = QCoreApplication([])
before = blas()
worker = ColorizeWorker(engine)
worker.result_ready.connect(lambda generation: app.quit())
worker.request(ColorizeRequest(1, np.zeros((40, 50), np.uint8), (), palette=False))
app.exec()
worker.stop()
print(json.dumps([before, blas()]))
"""


def test_the_worker_runs_dense_algebra_on_one_thread():
    """OpenBLAS's extra thread spins after each call and takes a core from the strokes.

    In a fresh process: the thread count is process-wide, and other tests' workers have
    already set it in this one."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", _BLAS_THREADS_SCRIPT], capture_output=True, text=True, env=env,
                          timeout=120, check=True)
    before, after = json.loads(done.stdout.strip().splitlines()[-1])
    if not any(n > 1 for n in before):
        pytest.skip("no BLAS library here runs more than one thread")
    assert after and all(n == 1 for n in after), (before, after)


def test_suggestions_do_not_depend_on_the_panes_size(qtbot):
    """The sample's suggestions were found on the result as shown, and a window 420 or 563 px
    wide offered two different sets; now they are found at one size."""
    from colorme_desktop.core.imageio import load_image
    from colorme_desktop.engines.semantic_engine import SemanticEngine
    from colorme_desktop.engines.weights import weights_dir

    grey = load_image(weights_dir().parent / "resources" / "sample" / "summer-palace-grey.jpg").grey
    engine = SemanticEngine()
    worker = ColorizeWorker(lambda name: (engine, None))
    palettes = {}
    try:
        for generation, side in enumerate((420, 563, 640), start=1):
            with qtbot.waitSignal(worker.palette_ready, timeout=TIMEOUT):
                worker.request(ColorizeRequest(generation, grey, (), preview_side=side))
            palettes[side] = worker.take_palette(generation)
    finally:
        worker.stop()
    assert palettes[420] and palettes[420] == palettes[563] == palettes[640], palettes


def test_the_first_colour_is_made_at_the_size_it_is_shown(qtbot, make_window, tmp_path):
    """A 512-px floor had the sample's first colour made at 512 and shrunk to 474 on screen."""
    window = make_window()  # 900 x 500: the photo is shown well under 512 px
    window.open_path(_big_photo(tmp_path))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    qtbot.wait(main_window.DETAIL_DELAY_MS + 100)
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    shown = window._shown_side()
    assert shown < 480
    assert max(window.document.result.shape[:2]) == shown


def test_a_result_pane_that_shrinks_gets_a_result_no_larger_than_it_shows(qtbot, make_window, tmp_path):
    window = make_window()
    window.resize(1500, 1000)
    window.open_path(_big_photo(tmp_path))
    qtbot.waitUntil(lambda: window.document.result_is_current, timeout=TIMEOUT)
    qtbot.wait(main_window.DETAIL_DELAY_MS + 100)
    first = max(window.document.result.shape[:2])
    window.resize(800, 450)  # nobody zooms; the fitted photo gets smaller
    qtbot.waitUntil(lambda: window.document.result_is_current
                    and max(window.document.result.shape[:2]) < first, timeout=TIMEOUT)
    assert max(window.document.result.shape[:2]) == window._shown_side()


@pytest.mark.parametrize("extra", [0, 1])  # made a pixel wider than shown: the pane changed after the request
def test_a_result_made_at_its_shown_size_is_drawn_pixel_for_pixel(qtbot, extra):
    from colorme_desktop.ui.canvas import ImageCanvas, ViewState

    canvas = ImageCanvas(ViewState(), "Colorized")
    qtbot.addWidget(canvas)
    canvas.resize(301, 251)  # a 640 x 427 photo fits at 0.4703: 301 x 200.8, 25.1 px from the top
    width, height = fit_size((427, 640), 301 + extra)
    noise = np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)
    canvas.show_array(noise, (640, 427))
    drawn = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.asarray(drawn.constBits(), dtype=np.uint8).reshape(drawn.height(), drawn.bytesPerLine())
    pixels = pixels[:, :drawn.width() * 3].reshape(drawn.height(), drawn.width(), 3)
    # Below the pane's title label the photo's pixels are the result's, unresampled, at
    # some whole-pixel offset near where the photo lies.
    top = round(canvas.image_rect().y())
    rows = slice(top + 40, top + height - 2)
    assert any(np.array_equal(pixels[rows, 2:width - 2], noise[rows.start - top - dy:rows.stop - top - dy,
                                                                 2 - dx:width - 2 - dx])
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_a_grey_photos_preview_keeps_its_detail(qtbot):
    """Shrunk by area, the result looked softer than the grey pane beside it (a walk-through
    zoomed out to 56 %: 10.3 against 13.7 grey levels between neighbours)."""
    grey = np.asarray(Image.open(SAMPLE).convert("L"))
    worker = ColorizeWorker(lambda name: (LevinEngine(), None))
    got = {}
    worker.result_ready.connect(lambda g: got.setdefault(g, worker.take_result(g)))
    try:
        worker.request(ColorizeRequest(1, grey, (), preview_side=339))
        qtbot.waitUntil(lambda: 1 in got, timeout=TIMEOUT)
    finally:
        worker.stop()
    shown = got[1].astype(np.float32).mean(axis=2)
    by_area = cv2.resize(grey, shown.shape[::-1], interpolation=cv2.INTER_AREA).astype(np.float32)

    def detail(image):
        return np.abs(np.diff(image, axis=1)).mean()

    assert detail(shown) > 1.05 * detail(by_area)


def test_suggestions_for_a_photo_opened_with_hints_are_the_photos_not_the_hints(qtbot):
    """Suggestions are found once per photo; found on a result with the saved hints, they
    offered only the hints' own colours again (a walk-through reopened a photo with its hints)."""
    grey = np.asarray(Image.fromarray(colourful_rgb(90, 120)).convert("L"))
    worker = ColorizeWorker(lambda name: (LevinEngine(), None))  # no hints: grey all over
    got = {}
    worker.palette_ready.connect(lambda g: got.setdefault(g, worker.take_palette(g)))
    red = (220, 20, 20)
    try:
        worker.request(ColorizeRequest(1, grey, (Hint(((10.0, 10.0), (110.0, 80.0)), red, 30.0),)))
        qtbot.waitUntil(lambda: 1 in got, timeout=TIMEOUT)
    finally:
        worker.stop()
    assert got[1]
    assert all(np.hypot(*chroma_of_color(colour)) < 16 for colour in got[1])  # no red among them


def test_a_photos_transparent_parts_show_a_checkerboard_not_white(qtbot):
    """Shown white, a transparent background could not be told from white paper."""
    from colorme_desktop.ui.canvas import ImageCanvas, ViewState, checker_overlay

    canvas = ImageCanvas(ViewState(), "Grey")
    qtbot.addWidget(canvas)
    canvas.resize(400, 400)
    white = np.full((200, 200), 255, dtype=np.uint8)  # composited on white, as photos are
    alpha = np.full((200, 200), 255, dtype=np.uint8)
    alpha[:, :100] = 0  # the left half is transparent
    canvas.show_array(white)
    canvas.set_transparency(checker_overlay(alpha))
    drawn = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    pixels = np.asarray(drawn.constBits(), dtype=np.uint8).reshape(drawn.height(), drawn.bytesPerLine())
    pixels = pixels[:, :drawn.width() * 3].reshape(drawn.height(), drawn.width(), 3)
    rect = canvas.image_rect()
    rows = slice(int(rect.top()) + 40, int(rect.bottom()) - 4)
    left = pixels[rows, int(rect.left()) + 4:int(rect.center().x()) - 4]
    right = pixels[rows, int(rect.center().x()) + 4:int(rect.right()) - 4]
    assert (right == 255).all()  # opaque white stays white
    assert len(np.unique(left[..., 0])) >= 2 and left.max() < 230  # two greys of a checkerboard
    canvas.set_transparency(None)
    drawn = canvas.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    assert drawn.pixelColor(int(rect.left()) + 20, int(rect.center().y())).red() == 255


def test_hint_markers_stay_on_the_photo(qtbot):
    """A 3 x 3 photo's 4 px hint covered the whole pane, well past the photo's edges."""
    from colorme_desktop.ui.canvas import HintCanvas, ViewState

    canvas = HintCanvas(ViewState(), "Grey")
    qtbot.addWidget(canvas)
    canvas.resize(400, 200)  # the square photo fits in the middle, with room left and right
    canvas.show_array(np.full((3, 3), 128, dtype=np.uint8))
    empty = canvas.grab().toImage()
    canvas.set_hints((point_hint(1.5, 1.5, (220, 20, 20), 4.0),))
    marked = canvas.grab().toImage()
    rect = canvas.image_rect().toAlignedRect().adjusted(-1, -1, 1, 1)
    beside = [(x, y) for x in range(0, 400, 5) for y in range(40, 200, 5) if not rect.contains(x, y)]
    assert len(beside) > 100
    assert all(marked.pixel(x, y) == empty.pixel(x, y) for x, y in beside)
    assert marked.pixel(rect.center()) != empty.pixel(rect.center())  # the marker is drawn on the photo
