"""One long-lived thread that runs the colorization engine; the newest request wins.

The pattern of Qt's Mandelbrot example: ``request()`` overwrites a single pending slot
under a mutex and wakes the thread; results come back through signals carrying the
request's generation number so the window can drop stale ones.  The arrays themselves
wait in a locked outbox that keeps only the newest of each kind, so a burst of edits
never queues a pile of full-resolution images in the event loop.  The engine itself is
created inside this thread, so loading weights (and, for the older neural engine,
importing torch) never freezes the window.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtCore import QThread, Signal
from threadpoolctl import threadpool_limits

from colorme_desktop.core.color import compose, fit_size, shrink_for_screen
from colorme_desktop.core.hints import Hint
from colorme_desktop.core.palette import PointSuggestions, merged_suggestions, photo_colors, vivid_colors
from colorme_desktop.engines.base import DraftSupersededError, image_key
from colorme_desktop.engines.registry import RECOLOURING_ENGINES

log = logging.getLogger(__name__)

# Idle work (``prepare_strokes``) starts this long after a result, if no request came:
# started at once it delayed the first colour on screen by 0.3 s on a busy 2-core machine.
PREPARE_AFTER_S = 0.25
# A draft still computing when a newer draft waits is given up if the screen got a result
# less than this long ago: the newest position is drawn sooner (a hand held still waited
# for the draft before it and then its own: p95 70 ms at 12 MP), while a continuous drag
# still sees a new result at least this often plus one draft.  Its progress is kept.
DRAFT_FRESH_S = 0.04
# The chroma of the newest results is kept, each up to the first size (a 2048 px preview is
# 22 MB), all together up to the second: a change of saturation alone reuses it, and so do
# an undo and a redo, which then show exactly what was there before.  Made again, a result
# came out a little otherwise (the solver stops within a tolerance, from wherever the last
# stroke left it): a walk-through saw a horse's ear bluer after an undo.
# At most the third many: a small photo's results are a few hundred kB, and thousands of
# them (a long session of strokes) filled the whole budget for undo steps nobody goes back
# that far for (the soak test's memory bound failed on a busy machine).
MAX_KEPT_CHROMA_BYTES = 32 * 2**20
KEPT_CHROMA_BUDGET = 96 * 2**20
KEPT_CHROMA_MOST = 64
# The suggestions are found on the result made again at this long side, whatever the panes'
# size: found on the result as shown, they changed with the window's width (k-means on
# another sample of the same colours; the sample photo gave two sets at 420-640 px).
PALETTE_SIDE = 128

EngineFactory = Callable[[str | None], tuple[object, str | None]]


@dataclass(frozen=True)
class ColorizeRequest:
    generation: int
    grey: np.ndarray
    hints: tuple[Hint, ...]
    saturation: float = 1.0
    engine_name: str | None = None  # None: the best available
    draft: bool = False  # the user is still dragging: speed over accuracy
    reference: np.ndarray | None = None  # a colour photo to take colours from
    reference_id: int = 0  # changes when the reference does
    preview_side: int | None = None  # colour the photo as shown at this long side; None: full resolution
    palette: bool = True  # also find the result's main colours (the window only wants the automatic one's)
    photo_rgb: np.ndarray | None = None  # recolour this colour photo (of ``grey``) from its own colours


@dataclass(frozen=True)
class _Prepare:
    """A request to create the engine only (no photo yet)."""

    engine_name: str | None
    generation: int = -1  # what a failure is reported under: no result of the window's


@dataclass(frozen=True)
class _ReferencePalette:
    """A request for a reference photo's main colours (K-means: never on the GUI thread,
    and on this thread rather than a new one, because K-means beside torch crashed)."""

    rgb: np.ndarray
    reference_id: int
    generation: int = -1  # what a failure is reported under: no result of the window's


class _KeptChroma:
    """The newest results' chroma by what they were made from, up to ``budget`` bytes and
    ``most`` results in all, the least recently used leaving first; for the worker's thread
    alone.  Bounded by bytes as well as by count: a 2048 px preview's chroma is 22 MB, a
    small photo's a few hundred kB."""

    def __init__(self, budget: int, most: int) -> None:
        self._budget = budget
        self._most = most
        self._entries: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> np.ndarray | None:
        chroma = self._entries.get(key)
        if chroma is not None:
            self._entries.move_to_end(key)
        return chroma

    def put(self, key: tuple, chroma: np.ndarray) -> None:
        """Keep a read-only view of ``chroma`` (the engine's array stays as it was)."""
        kept = chroma.view()
        kept.flags.writeable = False  # shared by every later request with this key
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self._bytes -= replaced.nbytes
        self._entries[key] = kept
        self._bytes += kept.nbytes
        while self._bytes > self._budget or len(self._entries) > self._most:
            _, dropped = self._entries.popitem(last=False)
            self._bytes -= dropped.nbytes

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def default_engine_factory(name: str | None) -> tuple[object, str | None]:
    from colorme_desktop.engines.registry import create_engine

    return create_engine(name)


class ColorizeWorker(QThread):
    result_ready = Signal(int)  # generation; take_result() returns the RGB result
    palette_ready = Signal(int)  # generation; take_palette() returns [(r, g, b), ...], take_point_suggestions() more
    reference_palette_ready = Signal(int, object)  # reference id, its photo's colours [(r, g, b), ...]
    failed = Signal(int, str)  # generation, message for the user
    engine_starting = Signal()  # creating an engine (loading weights) begins
    engine_changed = Signal(str, str)  # engine name, note ("" when none)
    busy_changed = Signal(bool)

    def __init__(self, engine_factory: EngineFactory = default_engine_factory, parent=None) -> None:
        super().__init__(parent)
        self._factory = engine_factory
        self._wake = threading.Condition()  # guards _pending and _stopping
        self._pending: ColorizeRequest | _Prepare | None = None
        # Its own slot: a stroke's request must not replace it, nor it a stroke's.
        self._pending_palette: _ReferencePalette | None = None
        self._stopping = False
        self._last_posted = float("-inf")  # when the newest result went to the window (perf_counter)
        self._engine = None
        self._engine_request: str | None = "unset"
        # (photo fingerprint, hints, engine...) of the cached chroma: an id() could be a new
        # photo's once the old one is freed.
        self._kept = _KeptChroma(KEPT_CHROMA_BUDGET, KEPT_CHROMA_MOST)
        self._preview_grey: tuple[tuple, np.ndarray] | None = None  # ((photo, size), the photo at that size)
        self._preview_own: tuple[tuple, np.ndarray] | None = None  # the same of a colour photo being recoloured
        self._guided = None  # the engine wrapped for the current reference photo
        self._guided_key: tuple | None = None
        self._outbox_lock = threading.Lock()
        self._results: dict[int, np.ndarray] = {}
        self._palettes: dict[int, list] = {}
        self._point_suggestions: dict[int, PointSuggestions | None] = {}

    def _post(self, box: dict, generation: int, payload) -> None:
        with self._outbox_lock:
            for old in [g for g in box if g < generation]:
                del box[old]  # the window never wants an older one once a newer exists
            box[generation] = payload

    def take_result(self, generation: int) -> np.ndarray | None:
        with self._outbox_lock:
            return self._results.pop(generation, None)

    def take_palette(self, generation: int) -> list | None:
        with self._outbox_lock:
            return self._palettes.pop(generation, None)

    def take_point_suggestions(self, generation: int) -> PointSuggestions | None:
        """The colours likely at each point of the photo, posted with the palette; None from an
        engine that has none to offer (Levin's, the neural one, one guided by a reference)."""
        with self._outbox_lock:
            return self._point_suggestions.pop(generation, None)

    def request(self, request: ColorizeRequest) -> None:
        with self._wake:
            self._pending = request
            self._wake.notify()
        self._start_unless_stopped()

    def prepare(self, engine_name: str | None = None) -> None:
        """Create the engine now, before any photo asks for it.

        Loading and checking the weights takes most of a second (importing torch for
        the neural engine, seconds); started while the window paints
        and the photo is read, that time overlaps with them instead of following them.  A
        colorize request already waiting is never replaced (it creates the engine anyway).
        """
        with self._wake:
            if self._pending is None:
                self._pending = _Prepare(engine_name)
                self._wake.notify()
        self._start_unless_stopped()

    def reference_palette(self, rgb: np.ndarray, reference_id: int) -> None:
        """Find the main colours of a reference photo; ``reference_palette_ready`` brings them."""
        with self._wake:
            self._pending_palette = _ReferencePalette(rgb, reference_id)
            self._wake.notify()
        self._start_unless_stopped()

    def _start_unless_stopped(self) -> None:
        """Start the thread for what was just asked, unless it was stopped for good: a
        window's timer that fired after it closed started it again, and a thread was left
        running at exit (seen once in the test suite, session 21)."""
        with self._wake:
            if self._stopping:
                return
        if not self.isRunning():
            self.start()

    def stop(self) -> None:
        """Ask the thread to finish its current step and wait for it (never terminate())."""
        with self._wake:
            self._stopping = True
            self._pending = None
            self._pending_palette = None
            self._wake.notify()
        self.wait()

    def _take(self) -> ColorizeRequest | _Prepare | _ReferencePalette | None:
        with self._wake:
            self._wake.wait_for(self._waiting)
            if self._stopping:
                return None
            if self._pending_palette is not None:  # tens of milliseconds: it goes first
                request, self._pending_palette = self._pending_palette, None
            else:
                request, self._pending = self._pending, None
            return request

    def _idle(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a request; True if none came.  Lets the window convert
        and paint the result just sent (it needs a core and the GIL) before idle work."""
        with self._wake:
            return not self._wake.wait_for(self._waiting, timeout=seconds)

    def _draft_outdated(self) -> bool:
        """Whether the draft being computed should be given up for the request waiting."""
        with self._wake:
            pending = self._pending
        if not isinstance(pending, ColorizeRequest):
            return False
        return not pending.draft or time.perf_counter() - self._last_posted < DRAFT_FRESH_S

    def _waiting(self) -> bool:
        """A request, a palette or the stop is waiting (call with ``_wake`` held)."""
        return self._pending is not None or self._pending_palette is not None or self._stopping

    def _has_pending(self) -> bool:
        with self._wake:
            return self._waiting()

    def _ensure_engine(self, name: str | None) -> None:
        if self._engine is not None and name == self._engine_request:
            return
        self.engine_starting.emit()
        # The old engine goes first: its memory is free for the new one, and if the new one
        # fails to start, asking for the old again starts it afresh and says so.
        self._engine = None
        self._engine, note = self._factory(name)
        self._engine_request = name
        # Dense algebra on one thread, for the whole process (each BLAS library keeps one
        # pool; set after the engine's imports have loaded theirs): OpenBLAS's extra thread
        # spins after each call and took a core from the strokes on two cores (window
        # benchmark at 12 MP, draft median 52-54 -> 38-49 ms).
        threadpool_limits(limits=1, user_api="blas")
        set_stop = getattr(self._engine, "set_draft_stop", None)
        if set_stop is not None:
            # A draft still computing when its stroke ends is given up for the final: the
            # screen would not show it (see _process), and at 1 MP the final waited for it;
            # also for a newer draft while the screen is fresh (DRAFT_FRESH_S).
            set_stop(self._draft_outdated)
        self._kept.clear()
        self.engine_changed.emit(getattr(self._engine, "name", "engine"), note or "")

    def _engine_for(self, request: ColorizeRequest):
        """The engine, wrapped to take colours from the request's reference photo if it has one."""
        if request.reference is None:
            return self._engine
        key = (id(self._engine), request.reference_id)
        if key != self._guided_key:
            from colorme_desktop.engines.reference import ReferenceGuided

            self._guided, self._guided_key = ReferenceGuided(self._engine, request.reference), key
        return self._guided

    def _own_colours(self, request: ColorizeRequest) -> np.ndarray | None:
        """The photo's own colours if the request wants them and the engine can start from them
        (not with a reference photo: its colours are what the user asked for)."""
        if (request.photo_rgb is None or request.reference is not None
                or getattr(self._engine, "name", None) not in RECOLOURING_ENGINES):
            return None
        return request.photo_rgb

    def run(self) -> None:
        while True:
            request = self._take()
            if request is None:
                return
            self.busy_changed.emit(True)
            try:
                if isinstance(request, _Prepare):
                    self._ensure_engine(request.engine_name)
                elif isinstance(request, _ReferencePalette):
                    self.reference_palette_ready.emit(request.reference_id, photo_colors(request.rgb))
                else:
                    self._process(request)
            except DraftSupersededError:
                pass  # the final of the same stroke is next
            except MemoryError:
                self.failed.emit(request.generation, "Not enough memory to colorize this image.")
            except Exception as exc:  # noqa: BLE001 - any engine failure is reported, the thread lives on
                log.error("colorization failed:\n%s", traceback.format_exc())
                self.failed.emit(request.generation, f"Colorization failed: {exc}")
            finally:
                if not self._has_pending():
                    self.busy_changed.emit(False)

    def _shown(self, request: ColorizeRequest) -> np.ndarray:
        """The photo at the size the result is wanted: as on screen, or the photo itself.

        The engine does all its work on the photo as always and only its last step at this
        size, so a preview is the full-resolution result shrunk and nothing jumps when one
        replaces the other.  The shrunk grey is kept: every stroke needs it.
        """
        grey = request.grey
        if request.preview_side is None:
            return grey
        size = fit_size(grey.shape, request.preview_side)
        if size == (grey.shape[1], grey.shape[0]):
            return grey
        # A colour photo's untouched pixels are its own colours shrunk as the engine shrinks
        # them (by area): its grey must match them.  A grey photo is shrunk as a good viewer
        # shrinks it: averaged by area, its result looked softer than the grey pane beside it.
        sharp = request.photo_rgb is None
        key = (image_key(grey), size, sharp)
        if self._preview_grey is None or self._preview_grey[0] != key:
            shrunk = shrink_for_screen(grey, size) if sharp else cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
            self._preview_grey = key, shrunk
        return self._preview_grey[1]

    def _own_shown(self, own: np.ndarray, own_key: str, shown: np.ndarray) -> np.ndarray:
        """The colour photo being recoloured (``image_key`` ``own_key``) at the size of ``shown``,
        as the engine shrinks it (so that its untouched pixels are the photo's own:
        ``compose``'s ``photo``)."""
        if own.shape[:2] == shown.shape:
            return own
        key = (own_key, shown.shape)
        if self._preview_own is None or self._preview_own[0] != key:
            self._preview_own = key, cv2.resize(own, (shown.shape[1], shown.shape[0]), interpolation=cv2.INTER_AREA)
        return self._preview_own[1]

    @staticmethod
    def _palette_render(engine, request: ColorizeRequest, own: np.ndarray | None) -> np.ndarray:
        """The result without hints at ``PALETTE_SIDE`` for the suggestions: the engine's work
        is kept per photo, so this is only its last step again at a small size.  Without
        hints, because the suggestions are found once per photo: a photo opened with its saved
        hints offered only the hints' own colours again (a walk-through), which the dock
        already shows under "In your hints"."""
        grey = request.grey
        small = cv2.resize(grey, fit_size(grey.shape, PALETTE_SIDE), interpolation=cv2.INTER_AREA)
        chroma = engine.colorize(grey, (), shown=small, **({} if own is None else {"photo_rgb": own}))
        return compose(small, chroma, request.saturation)

    def _process(self, request: ColorizeRequest) -> None:
        self._ensure_engine(request.engine_name)
        shown = self._shown(request)
        own = self._own_colours(request)
        own_key = None if own is None else image_key(own)
        engine = self._engine_for(request)
        # What the result is made from; ``shown`` is shrunk one way for a grey photo and
        # another for a colour one (``_shown``).  Drafts are neither looked up nor kept: no
        # later request asks for one again, and hashing a hundred strokes' points costs a
        # few ms a draft.
        key = None if request.draft else (image_key(request.grey), shown.shape, request.photo_rgb is None,
                                          request.hints, self._engine_request, request.reference_id, own_key)
        chroma = None if key is None else self._kept.get(key)
        if chroma is None:
            chroma = engine.colorize(request.grey, request.hints, draft=request.draft,
                                     shown=None if shown is request.grey else shown,
                                     **({} if own is None else {"photo_rgb": own}))
            # Not past MAX_KEPT_CHROMA_BYTES (a 24 MP photo's full-size chroma, for a save, is
            # 192 MB): it would only raise the peak.
            if key is not None and chroma.nbytes <= MAX_KEPT_CHROMA_BYTES:
                self._kept.put(key, chroma)
        if request.draft and self._draft_outdated():
            # The stroke has ended (its final is next, and the screen waits for it alone),
            # or a newer draft waits while the screen is fresh: composing and painting this
            # one would only hold the newer one up.
            return
        photo = None if own is None else self._own_shown(own, own_key, shown)
        rgb = compose(shown, chroma, request.saturation, photo=photo)
        # The colours alone go out, and the chroma is not held through the palette and the
        # idle wait below: at full resolution (a save) it is 192 MB at 24 MP, and it lived
        # beside the file being encoded.
        self._post(self._results, request.generation, rgb)
        del chroma
        self._last_posted = time.perf_counter()
        self.result_ready.emit(request.generation)
        if self._has_pending() or request.draft:
            return  # the result is already outdated or rough: no palette for it
        if request.palette:
            colours = vivid_colors(self._palette_render(engine, request, own), count=5)
            likely = getattr(engine, "likely_colors", None)
            if likely is not None and own is None:
                # Also what the network found likely where the result came out dull: the
                # grass it could not decide was green or brown offers its green.
                colours = merged_suggestions(colours, likely(request.grey), count=5)
            at_points = getattr(engine, "point_suggestions", None)
            self._post(self._point_suggestions, request.generation,
                       None if at_points is None else at_points(request.grey))
            self._post(self._palettes, request.generation, colours)
            self.palette_ready.emit(request.generation)
        prepare = getattr(engine, "prepare_strokes", None)
        if prepare is None:
            return
        # What the user waits for is on screen: the window stops saying "Colorizing..."
        # through the idle work below (a walk-through saw it for a second after the colour).
        if not self._has_pending():
            self.busy_changed.emit(False)
        if self._idle(PREPARE_AFTER_S):
            # Nothing to do until the user paints: build what the first stroke would
            # otherwise wait for (about a second at 256 px).  Only once per photo; later
            # calls return at once.
            prepare(request.grey, **({} if own is None else {"photo_rgb": own}))
