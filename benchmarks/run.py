"""Every benchmark in one run: prints a table and writes ``benchmarks/results.json``.

    python benchmarks/run.py                 # everything (minutes)
    python benchmarks/run.py --quick         # fewer repetitions, smaller legacy runs
    python benchmarks/run.py --only window --only startup

The JSON is ``{name: value}`` with the unit in each name.  Numbers depend on what else
the machine is doing: say how busy it was when you report them.

While ``weights/colorme_head.safetensors`` (the semantic engine's trained head) is not
shipped, ``create_engine(None)`` falls back to the neural engine.  To measure the path
the app will take, the semantic engine is then built with the real DINOv2 backbone and a
*randomly initialised* head (same size and cost, meaningless colours); the table says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere: colorme_desktop and benchmarks importable

from colorme_desktop.core.imageio import load_image, save_image  # noqa: E402

SAMPLE = ROOT / "resources" / "sample" / "summer-palace-grey.jpg"
RESULTS = ROOT / "benchmarks" / "results.json"
SIZES = {"1mp": (1224, 816), "12mp": (4240, 2830), "24mp": (6000, 4000)}
# Settings for a random head (not tune_semantic's, whose import pulls in training code); the
# belief reweighting on (session 22), so that a stroke's time includes it.
RANDOM_HEAD_SETTINGS = dict(temperature=0.6, blend=0.5, chroma_scale=1.0, working_side=256, draft_side=128,
                            feature_softness=0.1, grey_cap=5e-4, decay=1e-3, decay_power=1.0, nonlocal_softness=0.0,
                            hints_share=1e9, belief_softness=0.08, belief_strength=1.0)

Results = dict[str, float]
HUMAN_PAUSE_S = 0.6  # between a stroke's result and the next stroke (bench_window)


# ==================================================================== helpers
def sample_grey(size: tuple[int, int] | None = None) -> np.ndarray:
    grey = load_image(SAMPLE).grey
    return grey if size is None else cv2.resize(grey, size, interpolation=cv2.INTER_CUBIC)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def head_is_shipped() -> bool:
    from colorme_desktop.engines.semantic_engine import HEAD_FILE
    from colorme_desktop.engines.weights import read_manifest, weights_dir

    return HEAD_FILE in read_manifest(weights_dir())["files"]


def random_semantic_engine():
    """The semantic engine with the shipped backbone and an untrained head (see the module doc)."""
    import torch

    from colorme_desktop.engines.semantic import SemanticColorHead, head_runtime
    from colorme_desktop.engines.semantic_engine import SemanticEngine, SemanticSettings, load_backbone

    torch.manual_seed(0)
    return SemanticEngine(load_backbone(), head_runtime(SemanticColorHead().eval()),
                          SemanticSettings(**RANDOM_HEAD_SETTINGS))


def default_engine_factory(name: str | None):
    """What the app's worker would build, or the semantic engine with a random head while
    its trained head is not shipped (so the default path of the coming release is measured)."""
    from colorme_desktop.engines.registry import create_engine

    if name is None and not head_is_shipped():
        return random_semantic_engine(), None
    return create_engine(name)


def build_engine(name: str):
    from colorme_desktop.engines.registry import create_engine

    if name == "semantic" and not head_is_shipped():
        return random_semantic_engine()
    return create_engine(name)[0]


def random_hints(rng: np.random.Generator, shape: tuple[int, int], count: int) -> list:
    from colorme_desktop.core.hints import point_hint

    h, w = shape
    return [point_hint(float(rng.uniform(0, w)), float(rng.uniform(0, h)),
                       tuple(int(v) for v in rng.integers(0, 256, 3))) for _ in range(count)]


# ==================================================================== engines
def bench_engines(quick: bool) -> Results:
    """One colorize call per engine on a 256 px photo: a stroke (caches warm), a draft, a new photo."""
    runs = 5 if quick else 20
    grey = sample_grey()
    scale = 256 / max(grey.shape)
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    from colorme_desktop.core.hints import keep_hint
    from colorme_desktop.engines.registry import ENGINE_NAMES

    out: Results = {}
    rng = np.random.default_rng(0)
    for name in ENGINE_NAMES:
        engine = build_engine(name)
        engine.colorize(grey, random_hints(rng, grey.shape, 1))  # per-photo caches warm
        for label, draft in (("", False), ("_draft", True)):
            times = []
            for _ in range(runs):
                hints = random_hints(rng, grey.shape, 3)
                start = time.perf_counter()
                engine.colorize(grey, hints, draft=draft)
                times.append((time.perf_counter() - start) * 1000)
            out[f"engine_{name}_256{label}_median_ms"] = statistics.median(times)
        # The same strokes with two keep hints among them (session 21): held pixels, no more.
        times = []
        for _ in range(runs):
            kept = [keep_hint([(x, y)], 4.0) for x, y in (hint.points[0] for hint in random_hints(rng, grey.shape, 2))]
            hints = random_hints(rng, grey.shape, 3) + kept
            start = time.perf_counter()
            engine.colorize(grey, hints)
            times.append((time.perf_counter() - start) * 1000)
        out[f"engine_{name}_256_with_keep_hints_median_ms"] = statistics.median(times)
        times = []
        for i in range(max(3, runs // 3)):
            photo = np.ascontiguousarray(np.roll(grey, 7 * (i + 1), axis=1))  # a new photo: no cache hit
            start = time.perf_counter()
            engine.colorize(photo, [])
            times.append((time.perf_counter() - start) * 1000)
        out[f"engine_{name}_256_new_photo_median_ms"] = statistics.median(times)
        if hasattr(engine, "prepare_strokes"):
            # The first stroke on a photo, after the app has prepared for strokes while the
            # user looked: it once paid a whole factorisation (session 15).
            times = []
            for i in range(max(3, runs // 3)):
                photo = np.ascontiguousarray(np.roll(grey, -7 * (i + 1), axis=1))
                engine.colorize(photo, [])
                engine.prepare_strokes(photo)
                time.sleep(0.3)  # a user looks first: the last photo's refactorisation is done
                start = time.perf_counter()
                engine.colorize(photo, random_hints(rng, grey.shape, 1))
                times.append((time.perf_counter() - start) * 1000)
            out[f"engine_{name}_256_first_stroke_median_ms"] = statistics.median(times)
    return out


# ==================================================================== the real window
class _PaintClock:
    """Records when the result pane has finished painting a given image."""

    def __init__(self, canvas) -> None:
        from PySide6.QtCore import QEvent, QObject, QTimer

        clock = self

        class Filter(QObject):
            def eventFilter(self, watched, event):  # noqa: N802 - Qt override
                if event.type() == QEvent.Type.Paint:
                    image = canvas.image
                    # The next turn of the event loop comes after this paint has finished.
                    QTimer.singleShot(0, lambda: clock.painted.append((time.perf_counter(), image)))
                return False

        self.painted: list[tuple[float, object]] = []
        self._filter = Filter(canvas)
        canvas.installEventFilter(self._filter)


class _Unattended:
    """Answers the window's questions with no one there: drop the synthetic hints."""

    def unsaved(self, *args) -> set:
        return set()

    def restore(self, *args) -> bool:
        return False

    def error(self, parent, title: str, message: str) -> None:
        raise RuntimeError(message)


def _result_has(doc, hints: tuple) -> bool:
    """The result on screen was made for ``hints`` (a draft included); the document's
    public ``result_is_current`` is only true for final results."""
    key = getattr(doc, "_result_key", None)
    return key is not None and key.hints == hints


def _pause(app, seconds: float) -> None:
    end = time.perf_counter() + seconds
    _wait(app, lambda: time.perf_counter() >= end)


def _wait(app, condition: Callable[[], bool], timeout: float = 600.0) -> None:
    from PySide6.QtCore import QEventLoop

    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)


def bench_window(quick: bool) -> Results:
    """Synthetic strokes through the real window, worker and default engine (offscreen).

    stroke_to_pixels: from the mouse release that ends a stroke to the end of the paint of
    the result that includes it.  draft_to_pixels: from a mouse move during a drag (then
    held still, mid-stroke and at its end) to the end of the paint of the draft that includes it.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("QT_LOGGING_RULES", "qt.qpa.*=false")  # the offscreen plugin's size-hint chatter
    from PySide6.QtCore import QPoint, QSettings, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from colorme_desktop.ui.main_window import MainWindow
    from colorme_desktop.ui.recovery import RecoveryStore

    app = QApplication.instance() or QApplication([])
    strokes = 4 if quick else 15
    out: Results = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = QSettings(str(Path(tmp) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(engine_factory=default_engine_factory, settings=settings,
                            recovery=RecoveryStore(Path(tmp) / "recovery.json"), prompts=_Unattended())
        window.resize(1280, 760)
        window.show()
        doc, canvas = window.document, window.hint_canvas
        clock = _PaintClock(window.result_canvas)
        left = Qt.MouseButton.LeftButton

        def at(x: float, y: float) -> QPoint:
            p = canvas.to_widget(x, y)
            return QPoint(round(p.x()), round(p.y()))

        def painted_after(t0: float, ready: Callable[[], bool]) -> float:
            """Wait until ``ready()`` holds and the result pane has painted doc.result since."""
            _wait(app, ready)
            shown = window.result_canvas.image
            _wait(app, lambda: any(t > t0 and img is shown for t, img in clock.painted))
            return min(t for t, img in clock.painted if t > t0 and img is shown) - t0

        def settle() -> None:
            _wait(app, lambda: doc.result_is_current and not window.busy_bar.isVisible())
            # A user looks at the result before the next stroke, and the worker prepares for
            # it meanwhile (ui.worker.PREPARE_AFTER_S, then about 0.1 s).  Since the window
            # stopped calling that work busy (session 16), the strokes came straight on top
            # of it here: 37 -> 69 ms a draft at 12 MP, with nothing else changed.
            _pause(app, HUMAN_PAUSE_S)

        for size_name in ("1mp", "12mp"):
            w, h = SIZES[size_name]
            path = Path(tmp) / f"photo-{size_name}.jpg"
            cv2.imwrite(str(path), sample_grey((w, h)), [cv2.IMWRITE_JPEG_QUALITY, 92])
            window.open_path(path, ask=False)
            settle()
            rng = np.random.default_rng(1)
            finals, drafts = [], []
            for i in range(strokes):
                x0, y0 = rng.uniform(0.1, 0.8) * w, rng.uniform(0.1, 0.8) * h
                window.palette_dock.colour_chosen.emit(tuple(int(v) for v in rng.integers(0, 256, 3)))
                QTest.mousePress(canvas, left, Qt.KeyboardModifier.NoModifier, at(x0, y0))
                for step in range(1, 6):  # a short drag, as a hand makes it: a move every 20 ms
                    QTest.mouseMove(canvas, at(x0 + step * 0.02 * w, y0 + step * 0.01 * h))
                    _pause(app, 0.02)
                    if size_name == "12mp" and step == 3:
                        # Held still mid-stroke too: two drafts timed per stroke, as a p95 of
                        # fifteen was hardly more than the slowest one.
                        QTest.mouseMove(canvas, at(x0 + 0.07 * w, y0 + 0.035 * h))
                        t0 = time.perf_counter()
                        drafts.append(painted_after(t0, partial(_result_has, doc, doc.shown_hints)))
                if size_name == "12mp":
                    # Hold still: time until the draft that includes this point is on screen.
                    QTest.mouseMove(canvas, at(x0 + 0.13 * w, y0 + 0.07 * h))
                    t0 = time.perf_counter()
                    drafts.append(painted_after(t0, partial(_result_has, doc, doc.shown_hints)))
                QTest.mouseRelease(canvas, left, Qt.KeyboardModifier.NoModifier, at(x0 + 0.13 * w, y0 + 0.07 * h))
                t0 = time.perf_counter()
                finals.append(painted_after(t0, lambda: doc.result_is_current))
                settle()
                if i == 0 and len(doc.hints) != 1:
                    raise RuntimeError("the synthetic stroke did not become a hint")
            for label, values in ((f"stroke_to_pixels_{size_name}", finals), (f"draft_to_pixels_{size_name}", drafts)):
                if values:
                    out[f"{label}_median_ms"] = statistics.median(values) * 1000
                    out[f"{label}_p95_ms"] = percentile(values, 95) * 1000
            doc.clear_hints()
            settle()
        window.close()
    return out


# ==================================================================== the app in a fresh process
_LAUNCHER = """
import os, sys
if os.environ.get("BENCH_RANDOM_HEAD"):
    from colorme_desktop.engines import registry
    from colorme_desktop.engines.base import WeightsNotShippedError
    build = registry._build
    def _build(name):
        try:
            return build(name)
        except WeightsNotShippedError:
            from benchmarks.run import random_semantic_engine
            return random_semantic_engine()
    registry._build = _build
if os.environ.get("BENCH_STROKE_THEN_QUIT"):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from colorme_desktop.core.hints import point_hint
    from colorme_desktop.ui.dialogs import Prompts
    Prompts.unsaved = lambda self, *args: set()
    state = {"hinted": False}
    def check():
        w = next((w for w in QApplication.topLevelWidgets() if hasattr(w, "document")), None)
        if w is None or not w.document.result_is_current:
            QTimer.singleShot(50, check)
            return
        if not state["hinted"]:
            state["hinted"] = True
            width, height = w.document.image.size
            w.document.add_hint(point_hint(width / 3, height / 3, (200, 60, 40)))
            QTimer.singleShot(50, check)
            return
        save_to = os.environ.get("BENCH_SAVE_TO")
        if save_to and not state.get("saving"):
            import time
            from pathlib import Path
            state["saving"] = time.perf_counter()  # Save As at full resolution, as the user would
            w.save_image_to(Path(save_to))
        if save_to and w.document.output_path is None:
            QTimer.singleShot(10, check)
            return
        if save_to:  # from Save to the file written: the full-resolution result, then the file
            import time
            print("SAVE_S", time.perf_counter() - state["saving"], flush=True)
        with open("/proc/self/status") as status:
            peak = next(line.split()[1] for line in status if line.startswith("VmHWM"))
        print("PEAK_RSS_KB", peak, flush=True)
        w.close()
    run_loop = QApplication.exec
    QApplication.exec = lambda self: (QTimer.singleShot(50, check), run_loop())[1]
import colorme_desktop.ui.app as app
sys.exit(app.main(sys.argv[1:]))
"""


def _launch(photo: Path, tmp: Path, stroke_then_quit: bool, save_to: Path | None = None
            ) -> tuple[float, subprocess.Popen, list[str]]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "COLORME_STARTUP_LOG": "1",
           "COLORME_RECOVERY_DIR": str(tmp / "rec"), "XDG_CONFIG_HOME": str(tmp / "config"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if not head_is_shipped():
        env["BENCH_RANDOM_HEAD"] = "1"
    if stroke_then_quit:
        env["BENCH_STROKE_THEN_QUIT"] = "1"
    if save_to is not None:
        env["BENCH_SAVE_TO"] = str(save_to)
    start = time.time()
    process = subprocess.Popen([sys.executable, "-c", _LAUNCHER, str(photo)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return start, process, []


def _read_until(process: subprocess.Popen, lines: list[str], pattern: str, timeout: float = 600) -> re.Match:
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    process.kill()
    raise RuntimeError(f"the app never logged {pattern!r}:\n{''.join(lines[-30:])}")


def bench_startup(quick: bool) -> Results:
    """Launch to window painted and to the automatic colour painted (the sample photo)."""
    runs = 1 if quick else 3
    shown, colour = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            start, process, lines = _launch(SAMPLE, Path(tmp), stroke_then_quit=False)
            shown.append(float(_read_until(process, lines, r"startup: window_shown ([\d.]+)")[1]) - start)
            colour.append(float(_read_until(process, lines, r"startup: first_colour ([\d.]+)")[1]) - start)
            process.kill()
            process.wait()
    return {"window_shown_s": statistics.median(shown), "first_colour_s": statistics.median(colour)}


def bench_big_photo(quick: bool) -> Results:
    """A 24 MP photo: saving the result (the file alone, and in the app from Save As to the file
    written), and the app's peak memory through one hint (and a save)."""
    w, h = SIZES["24mp"]
    grey = sample_grey((w, h))
    rgb = np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))
    rgb[..., 0] = cv2.add(rgb[..., 0], 20)  # some colour, so the file is not a grey one
    out: Results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for ext in (".png", ".jpg"):
            times = []
            for _ in range(1 if quick else 3):
                start = time.perf_counter()
                save_image(Path(tmp) / f"out{ext}", rgb)
                times.append(time.perf_counter() - start)
            out[f"save_24mp_{ext[1:]}_s"] = statistics.median(times)
        out["save_24mp_s"] = out["save_24mp_png_s"]  # PNG is what Save As proposes
        photo = Path(tmp) / "photo-24mp.jpg"
        cv2.imwrite(str(photo), grey, [cv2.IMWRITE_JPEG_QUALITY, 92])
        start = time.perf_counter()
        load_image(photo)
        out["load_24mp_jpg_s"] = time.perf_counter() - start
        _, process, lines = _launch(photo, Path(tmp), stroke_then_quit=True)
        out["app_24mp_peak_rss_mb"] = int(_read_until(process, lines, r"PEAK_RSS_KB (\d+)")[1]) / 1024
        process.wait(timeout=120)
        # The same, then Save As PNG: the full-resolution result and its file on top.
        _, process, lines = _launch(photo, Path(tmp), stroke_then_quit=True, save_to=Path(tmp) / "saved.png")
        out["app_24mp_save_total_s"] = float(_read_until(process, lines, r"SAVE_S ([\d.]+)")[1])
        out["app_24mp_save_peak_rss_mb"] = int(_read_until(process, lines, r"PEAK_RSS_KB (\d+)")[1]) / 1024
        process.wait(timeout=120)
        # A colour photo, recoloured from its own colours (the app's default for one): the
        # photo, its Original pane and its colours at full resolution come on top.
        colour_photo = Path(tmp) / "colour-24mp.jpg"
        cv2.imwrite(str(colour_photo), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        _, process, lines = _launch(colour_photo, Path(tmp), stroke_then_quit=True, save_to=Path(tmp) / "saved2.png")
        out["app_24mp_colour_save_total_s"] = float(_read_until(process, lines, r"SAVE_S ([\d.]+)")[1])
        out["app_24mp_colour_save_peak_rss_mb"] = int(_read_until(process, lines, r"PEAK_RSS_KB (\d+)")[1]) / 1024
        process.wait(timeout=120)
    return out


def bench_imports(quick: bool) -> Results:
    """Seconds to import what the start-up path imports, each in a fresh interpreter."""
    out: Results = {}
    for key, module in (("import_window_s", "colorme_desktop.ui.main_window"),
                        ("import_semantic_engine_s", "colorme_desktop.engines.semantic_engine"),
                        ("import_neural_engine_s", "colorme_desktop.engines.neural")):
        times = []
        for _ in range(1 if quick else 3):
            code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
            done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
            times.append(float(done.stdout.split()[-1]))
        out[key] = statistics.median(times)
    return out


# ==================================================================== the older scripts
def _script(name: str, args: list[str], patterns: dict[str, tuple[str, float]]) -> Callable[[bool], Results]:
    """Run benchmarks/<name>.py as it always ran; pick numbers out of what it prints."""

    def run(quick: bool) -> Results:
        argv = args if not quick else [*args, *QUICK_ARGS.get(name, [])]
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{name}.py"), *argv], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        print(f"--- {name}.py {' '.join(argv)}\n{done.stdout}{done.stderr[-2000:] if done.returncode else ''}")
        if done.returncode:
            raise RuntimeError(f"{name}.py failed (exit {done.returncode})")
        out: Results = {}
        for key, (pattern, factor) in patterns.items():
            for match in re.finditer(pattern, done.stdout):
                out[key.format(*match.groups()[:-1])] = float(match.groups()[-1]) * factor
        return out

    return run


def _rss_mb() -> float:
    """Resident memory of this process (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return 0.0


def bench_memory(quick: bool) -> Results:
    """Resident memory while photo after photo is opened, prepared for strokes and given a
    stroke of hints, as in an afternoon of work: it should level off, not climb (session 16:
    freed heap memory was kept by the allocator, +50-110 MB per 10 photos)."""
    photos = 20 if quick else 40
    grey = sample_grey()
    rng = np.random.default_rng(1)
    engine = build_engine("semantic")
    rss = []
    for i in range(photos):
        side = 320 + 16 * (i % 7)  # photos differ in size, as real ones do
        scale = side / max(grey.shape)
        photo = cv2.resize(np.roll(grey, 11 * (i + 1), axis=1), None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA)
        engine.colorize(photo, [])
        engine.prepare_strokes(photo)
        engine.colorize(photo, random_hints(rng, photo.shape, 5))
        rss.append(_rss_mb())
    tenth = rss[9]
    return {"memory_semantic_rss_after_10_photos_mb": tenth,
            "memory_semantic_rss_growth_per_10_more_photos_mb": (rss[-1] - tenth) / ((photos - 10) / 10)}


QUICK_ARGS = {"bench_forward": ["--runs", "5"], "bench_engines": ["--runs", "2"],
              "bench_hints": ["--side", "1500", "--engines", "levin"],
              "bench_batch": ["--photos", "4", "--side", "384", "--no-dask"]}

BENCHMARKS: dict[str, Callable[[bool], Results]] = {
    "imports": bench_imports,
    "engines": bench_engines,
    "window": bench_window,
    "startup": bench_startup,
    "big_photo": bench_big_photo,
    "memory": bench_memory,
    "bench_forward": _script("bench_forward", [], {"forward_neural_256_median_ms": (r"median ([\d.]+) ms", 1.0)}),
    "bench_hints": _script("bench_hints", [], {"bench_hints_colorize_{}_s": (r"--engine (\w+): ([\d.]+) s", 1.0)}),
    "bench_batch": _script("bench_batch", [], {"batch_jobs{}_photos_per_min": (r"--jobs (\d+)\s+([\d.]+)", 1.0)}),
}


def _engines_lines(stdout: str) -> Results:
    """bench_engines prints 'levin (final) N=0: 12 ms  N=1: ...' per line."""
    out: Results = {}
    for line in stdout.splitlines():
        head = re.match(r"(\w+) \((draft|final)", line)
        if head:
            for n, ms in re.findall(r"N=(\d+): ([\d.]+) ms", line):
                out[f"bench_engines_{head[1]}_{head[2]}_n{n}_ms"] = float(ms)
    return out


def _bench_engines_script(quick: bool) -> Results:
    argv = ["--runs", "2"] if quick else []
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_engines.py"), *argv], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    print(f"--- bench_engines.py {' '.join(argv)}\n{done.stdout}")
    if done.returncode:
        raise RuntimeError(f"bench_engines.py failed:\n{done.stderr[-2000:]}")
    return _engines_lines(done.stdout)


BENCHMARKS["bench_engines"] = _bench_engines_script


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these (repeatable)")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions: a rough number fast")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.only or list(BENCHMARKS)
    results: Results = {}
    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            results.update(BENCHMARKS[name](args.quick))
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not lose the others' numbers
            failed.append(f"{name}: {exc}")
        print(f"[{name}: {time.perf_counter() - start:.0f} s]", flush=True)
    print(f"\n{'benchmark':<44} {'value':>12}")
    for key, value in results.items():
        print(f"{key:<44} {value:12.2f}")
    # Importing torch only to print this would cost seconds in a run that needs no torch.
    threads = sys.modules["torch"].get_num_threads() if "torch" in sys.modules else os.environ.get(
        "OMP_NUM_THREADS", "default")
    print(f"\ntorch threads {threads}, {os.cpu_count()} cores, load average "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}{', quick' if args.quick else ''}")
    if any(n in names for n in ("engines", "window", "startup", "big_photo", "memory")) and not head_is_shipped():
        print("semantic engine: colorme_head.safetensors is not shipped yet; measured with the real "
              "backbone and a RANDOMLY INITIALISED head (same cost, meaningless colours)")
    for line in failed:
        print("FAILED", line)
    args.output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
