"""The main window: a thin controller that wires the canvases, the dock and the menus to
the ``Document`` (which owns all the state) and to the colorize worker."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QEventLoop, QObject, QSettings, QStandardPaths, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QWidget,
)

from colorme_desktop.batch import BatchOptions
from colorme_desktop.core.batch_plan import BatchPlanError, hints_beside, hints_names_beside, page_stem, plan_batch
from colorme_desktop.core.document import (
    Change,
    Document,
    ImageSave,
    RenderKey,
    Tool,
    Unsaved,
    next_brush_size,
)
from colorme_desktop.core.hints import (
    HintsFileError,
    hex_color,
    lightness_gap,
    load_hints_file,
    parse_hex_color,
    save_hints_file,
)
from colorme_desktop.core.imageio import SAVE_FORMATS, ImageLoadError, ImageSaveError, load_image, save_image
from colorme_desktop.core.palette import PointSuggestions
from colorme_desktop.core.text import plural
from colorme_desktop.engines.registry import ENGINE_LABELS, ENGINE_NAMES, RECOLOURING_ENGINES
from colorme_desktop.ui.batch_dialog import BatchSummary, FolderJob
from colorme_desktop.ui.canvas import HintCanvas, ImageCanvas, ViewState, checker_overlay
from colorme_desktop.ui.dialogs import Prompts, ShortcutsDialog, about_box
from colorme_desktop.ui.folder_run import FolderRun
from colorme_desktop.ui.palette_dock import PaletteDock
from colorme_desktop.ui.recovery import RecoveryStore
from colorme_desktop.ui.scrollbars import ViewScrollBars
from colorme_desktop.ui.worker import ColorizeRequest, ColorizeWorker, default_engine_factory

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp *.gif);;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff);;WebP (*.webp)"
HINTS_FILTER = "ColorMe hints (*.json)"
# The result pane shows a result made at the size the photo has on screen (device pixels),
# within these bounds; full resolution is made only for a save, or when the user has
# zoomed in past what the preview holds and stopped for DETAIL_DELAY_MS.  The floor only
# keeps a tiny window's result worth picking colours from: any larger floor is shrunk on
# screen, and the sample's first colour, 512 px shown at 474, looked softer than the photo.
PREVIEW_MIN_SIDE = 128
PREVIEW_MAX_SIDE = 2048
# A wheel's notches come 20-100 ms apart while it turns; a pause of this much ends the run.
# At 400 ms the stretched, soft preview stayed on screen for half a second after every wheel
# zoom (a walk-through).  A request the next notch makes stale costs one preview; past
# PREVIEW_MAX_SIDE the full-size result is made once (``_on_detail_timer_timeout`` checks).
DETAIL_DELAY_MS = 150
# After a key or menu zoom, one step: only a held key's repeats are gathered into one request.
ZOOM_STEP_DETAIL_MS = 60
# After a stroke's result, while zoomed in past PREVIEW_MAX_SIDE: every pixel is made once
# the user has paused this long, since only drafts give way to the next stroke and a full
# 24 MP result takes up to a second.
STROKE_DETAIL_DELAY_MS = 1500
# ... whenever the shown size and the result's differ at all, either way.  Any stretch
# softens the result: the first colour, made before the panes had their final widths, was
# 512 px shown at 563 (a walk-through saw it sharpen after an undo), and 476 px shown at
# 475 resamples every pixel as much as 512 at 563 does.
AUTOSAVE_DEBOUNCE_MS = 300
MAX_RECENT_FILES = 8
# A first start (no saved window geometry) takes this share of the screen's width and height.
FIRST_START_SHARE = 0.85
HIT_TOLERANCE_PX = 6.0  # screen pixels around a hint that still hit it
# A brush colour this many grey levels darker or lighter than the photo under the stroke
# comes out far from the swatch (only colour is added): the status bar says why.
LIGHTNESS_GAP_NOTE = 70.0
# The tools, as the Edit menu and the status bar name them, with their keys.
TOOL_ACTIONS = {Tool.PAINT: ("&Paint Hints", "P"), Tool.KEEP: ("&Keep Colour", "K"),
                Tool.SELECT: ("&Select and Move Hints", "S"), Tool.EYEDROPPER: ("&Eyedropper", "I")}
ICON = Path(__file__).resolve().parents[2] / "resources" / "colorme.svg"
# Set (to anything) to log the wall-clock time of the first paint of the window and of the
# first colour; benchmarks/run.py measures start-up with it in a fresh process.
STARTUP_LOG_ENV = "COLORME_STARTUP_LOG"
STARTING_TEXT = "Starting the colorization engine..."
COLORIZING_TEXT = "Colorizing..."


class _FirstPaintLog(QObject):
    """Logs ``startup: <what> <time.time()>`` once ``widget`` has painted while ``ready()``."""

    def __init__(self, widget: QWidget, what: str, ready: Callable[[], bool]) -> None:
        super().__init__(widget)
        self._what, self._ready = what, ready
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint and self._ready():
            watched.removeEventFilter(self)
            # Logged from the next turn of the event loop: after this paint has finished.
            QTimer.singleShot(0, lambda: log.info("startup: %s %.6f", self._what, time.time()))
        return False


class MainWindow(QMainWindow):
    save_finished = Signal(str, str)  # path, error message ("" on success); from the saver thread
    _load_done = Signal()  # the photo being opened is read (or failed); from the reading thread

    def __init__(self, engine_factory=default_engine_factory, settings: QSettings | None = None,
                 recovery: RecoveryStore | None = None, prompts: Prompts | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.recovery = recovery or RecoveryStore()
        self.prompts = prompts or Prompts()
        self.document = Document()
        self.setWindowTitle("ColorMe[*]")
        if ICON.exists():
            self.setWindowIcon(QIcon(str(ICON)))
        self.setAcceptDrops(True)

        # Bookkeeping of the worker round trip; everything the user made is in the document.
        self.generation = 0
        self.shown_generation = -1
        self._request_keys: dict[int, RenderKey] = {}
        self._palette_keys: dict[int, RenderKey] = {}
        self._result_palette: list[tuple[int, int, int]] = []
        self._palette_basis: tuple | None = None  # what the suggestions were found for (``_palette_basis_of``)
        self._point_suggestions: PointSuggestions | None = None  # colours likely at each point, with the palette
        self._here_shown: tuple | None = None  # what the dock shows of them now, and why none
        self._last_pointed: tuple[float, float] | None = None  # the photo's point the mouse was over last
        self._lightness_noted = -1  # the photo (``RenderKey.photo``) told that only colour is added
        self._saving: ImageSave | None = None
        self._save_thread: threading.Thread | None = None  # the file being written, if any
        self._after_image_save: Callable[[], object] | None = None
        self._closed = False
        self._opening = False  # a photo is being read (open_path runs its own event loop meanwhile)
        self._engine_starting = False
        self._engine_name: str | None = None  # the engine in use, once the worker has made it
        self._busy = False
        self._failure = ""  # why the photo has no colour, while it has none
        self._engine_factory = engine_factory
        self.folder_run = FolderRun(self, self._on_folder_run_over)  # File > Colorize Folder... while it runs
        self.folder_run.running_changed.connect(lambda _running: self._update_actions())

        self.view = ViewState()
        self.original_canvas = ImageCanvas(self.view, "Original")
        self.hint_canvas = HintCanvas(self.view, "Grey: paint hints here")
        self.result_canvas = ImageCanvas(self.view, "Colorized")
        self.canvases = (self.original_canvas, self.hint_canvas, self.result_canvas)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for canvas in self.canvases:
            self.splitter.addWidget(canvas)
        self.splitter.setChildrenCollapsible(False)
        self.original_canvas.hide()
        self.scroll_bars = ViewScrollBars(self.view, self.hint_canvas, self)
        self.setCentralWidget(self.scroll_bars.wrap(self.splitter))

        self.palette_dock = PaletteDock()
        self.palette_dock.restore_recent(self.settings.value("recent_colours", []))
        self.dock = QDockWidget("Colours", self)
        self.dock.setObjectName("colours_dock")
        # Scrolled when the window is short: without it the dock's height (every row of
        # swatches, the brush, the saturation) was the least the window could be.
        dock_scroll = QScrollArea()
        dock_scroll.setWidget(self.palette_dock)
        dock_scroll.setWidgetResizable(True)
        dock_scroll.setFrameShape(QFrame.Shape.NoFrame)
        dock_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        dock_scroll.setMinimumWidth(self.palette_dock.sizeHint().width()
                                    + dock_scroll.verticalScrollBar().sizeHint().width())
        self.dock.setWidget(dock_scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.zoom_label = QLabel()
        self.status_label = QLabel()
        self.activity_label = QLabel()
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)  # indeterminate: how long a step takes is not known
        self.busy_bar.setMaximumWidth(80)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        # The tool in use, always in sight: a drag with Select on looked like a broken brush.
        self.tool_label = QLabel()
        self.statusBar().addPermanentWidget(self.tool_label)
        self.statusBar().addPermanentWidget(self.activity_label)
        self.statusBar().addPermanentWidget(self.busy_bar)
        self.statusBar().addPermanentWidget(self.zoom_label)
        self.statusBar().addPermanentWidget(self.status_label)

        self.worker = ColorizeWorker(engine_factory)
        self.worker.result_ready.connect(self._on_result_ready)
        self.worker.palette_ready.connect(self._on_palette_ready)
        self.worker.reference_palette_ready.connect(self._on_reference_palette_ready)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.engine_starting.connect(self._on_engine_starting)
        self.worker.engine_changed.connect(self._on_engine_changed)
        self.worker.busy_changed.connect(self._on_busy_changed)
        self.save_finished.connect(self._on_save_finished)

        self.detail_timer = QTimer(self, singleShot=True, interval=DETAIL_DELAY_MS)
        self.detail_timer.timeout.connect(self._on_detail_timer_timeout)
        self.zoom_step_timer = QTimer(self, singleShot=True, interval=ZOOM_STEP_DETAIL_MS)
        self.zoom_step_timer.timeout.connect(self._on_detail_timer_timeout)
        self.stroke_detail_timer = QTimer(self, singleShot=True, interval=STROKE_DETAIL_DELAY_MS)
        self.stroke_detail_timer.timeout.connect(self._on_detail_timer_timeout)
        self.view.changed.connect(self.detail_timer.start)
        # A pane that grows (the window, the splitter, a pane shown or hidden) shows the
        # result larger too.
        self.result_canvas.scale_changed.connect(lambda _scale: self.detail_timer.start())  # not start(msec)
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DEBOUNCE_MS)
        self.autosave_timer.timeout.connect(self._autosave)

        self.hint_canvas.stroke_changed.connect(self._on_stroke_changed)
        self.hint_canvas.stroke_finished.connect(self._on_stroke_finished)
        self.hint_canvas.remove_requested.connect(self._on_remove_requested)
        self.hint_canvas.select_requested.connect(self._on_select_requested)
        self.hint_canvas.move_changed.connect(self._on_move_changed)
        self.hint_canvas.move_finished.connect(self._on_move_finished)
        self.hint_canvas.scale_changed.connect(self._on_zoom_changed)
        self.result_canvas.picked.connect(self._on_result_picked)
        for canvas in (self.hint_canvas, self.result_canvas, self.original_canvas):
            canvas.hovered.connect(self._on_photo_hovered)
        for canvas in (self.result_canvas, self.original_canvas):
            # Painting on the colours is what many try first; say where hints go.
            canvas.paint_refused.connect(lambda: self.statusBar().showMessage(
                f"Paint hints on the grey photo (\u201c{self.hint_canvas.title}\u201d); this pane shows the colours.",
                5000))
        self.original_canvas.picked.connect(self._on_original_picked)
        self.palette_dock.colour_chosen.connect(self._on_colour_chosen)
        self.palette_dock.radius_changed.connect(self._on_radius_changed)
        self.palette_dock.saturation_changed.connect(self._on_saturation_changed)
        self.palette_dock.eyedropper_toggled.connect(self._on_eyedropper_toggled)
        self.palette_dock.keep_toggled.connect(self._on_keep_toggled)

        self._build_menus()
        self._restore_settings()
        self.document.add_listener(self._on_document_changed)
        self._show_brush()
        self._update_actions()
        if os.environ.get(STARTUP_LOG_ENV):
            _FirstPaintLog(self.hint_canvas, "window_shown", lambda: True)
            _FirstPaintLog(self.result_canvas, "first_colour",
                           lambda: self.document.result is not None and not self.result_canvas.notice)

    # ================================================================ menus
    def _action(self, menu, text: str, slot, shortcut=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        doc = self.document
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open Photo...", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.open_page_action = self._action(file_menu, "Open &Page...", self.open_page_dialog, "Ctrl+Shift+P")
        self.open_page_action.setToolTip("Another page of a file that holds several (a TIFF of scans)")
        file_menu.addSeparator()
        self.save_action = self._action(file_menu, "&Save Colorized Image", self.save_image,
                                        QKeySequence.StandardKey.Save)
        self.save_as_action = self._action(file_menu, "Save Colorized Image &As...", self.save_image_as,
                                           QKeySequence.StandardKey.SaveAs)
        file_menu.addSeparator()
        self.open_hints_action = self._action(file_menu, "Open &Hints...", self.open_hints_dialog)
        self.save_hints_action = self._action(file_menu, "Save Hi&nts", self.save_hints, "Ctrl+H")
        self.save_hints_as_action = self._action(file_menu, "Save Hints As...", self.save_hints_as)
        file_menu.addSeparator()
        self.reference_action = self._action(file_menu, "Colours From &Photo...", self.reference_dialog)
        self.reference_action.setToolTip("Take colours from a colour photo of a similar scene")
        self.clear_reference_action = self._action(file_menu, "Stop Using the Colour Photo",
                                                   lambda: self.set_reference(None))
        self.colorize_folder_action = self._action(file_menu, "Colorize &Folder...", self.colorize_folder_dialog)
        file_menu.addSeparator()
        self.quit_action = self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", doc.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", doc.redo, QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.delete_action = self._action(edit, "&Delete Selected Hint", doc.delete_selected,
                                          QKeySequence.StandardKey.Delete)
        self.clear_action = self._action(edit, "&Clear Hints", doc.clear_hints)
        edit.addSeparator()
        tools = QActionGroup(self)
        self.tool_actions: dict[Tool, QAction] = {}
        for tool, (text, key) in TOOL_ACTIONS.items():
            action = self._action(edit, text, lambda checked=False, t=tool: doc.set_tool(t), key, True)
            tools.addAction(action)
            self.tool_actions[tool] = action
        edit.addSeparator()
        self.larger_brush_action = self._action(edit, "Larger Brush",
                                                lambda: doc.set_radius(next_brush_size(doc.brush.radius, True,
                                                                                       doc.radius_max)), "]")
        self.smaller_brush_action = self._action(edit, "Smaller Brush",
                                                 lambda: doc.set_radius(next_brush_size(doc.brush.radius, False,
                                                                                        doc.radius_max)), "[")

        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit to Window", lambda: self._zoom_step(lambda: self.view.set(fit=True)), "Ctrl+0")
        self._action(view, "&Actual Size (100 %)", self.zoom_actual, "Ctrl+1")
        self.zoom_in_action = self._action(
            view, "Zoom &In", lambda: self._zoom_step(lambda: self._zoom_key_to(lambda s: s * 1.25)),
            QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom &Out", lambda: self._zoom_step(lambda: self._zoom_key_to(lambda s: s * 0.8)),
                     QKeySequence.StandardKey.ZoomOut)
        view.addSeparator()
        self.original_action = self._action(view, "Show &Original", self._on_show_original_toggled,
                                            checkable=True)
        # Hint markers are opaque: to see the photo under them, hide them for a while.
        # The action's check is the one place the choice lives; the canvas follows it.
        self.show_hints_action = self._action(view, "Show &Hints", lambda checked=False: None, "H", checkable=True)
        self.show_hints_action.setChecked(True)
        self.show_hints_action.toggled.connect(self.hint_canvas.set_hints_visible)
        view.addAction(self.dock.toggleViewAction())

        engine = self.menuBar().addMenu("E&ngine")
        group = QActionGroup(self)
        self.engine_actions: dict[str | None, QAction] = {}
        for name, text in ((None, "&Best Available"), *((n, ENGINE_LABELS[n]) for n in ENGINE_NAMES)):
            action = self._action(engine, text, lambda checked=False, n=name: self.set_engine(n), checkable=True)
            group.addAction(action)
            self.engine_actions[name] = action
        self.engine_actions[None].setChecked(True)
        engine.addSeparator()
        self.own_colours_action = self._action(engine, "&Keep a Colour Photo's Own Colours",
                                               self._on_own_colours_toggled, checkable=True)
        self.own_colours_action.setChecked(doc.keep_own_colours)
        # Menus hide their actions' tooltips unless told: the one above says why it is off.
        engine.setToolTipsVisible(True)
        file_menu.setToolTipsVisible(True)

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action(help_menu, "&Keyboard Shortcuts", self.show_shortcuts,
                                             QKeySequence.StandardKey.HelpContents)
        self.about_action = self._action(help_menu, "&About ColorMe", self.show_about)

    def _all_actions(self) -> list[QAction]:
        actions: list[QAction] = []
        for menu_action in self.menuBar().actions():
            actions.extend(a for a in menu_action.menu().actions() if not a.isSeparator())
        return actions

    @Slot()
    def show_shortcuts(self) -> None:
        ShortcutsDialog(self, self._all_actions()).exec()

    @Slot()
    def show_about(self) -> None:
        about_box(self).exec()

    def _update_actions(self) -> None:
        doc = self.document
        has_image = doc.image is not None
        for action in (self.save_action, self.save_as_action, self.open_hints_action, self.save_hints_action,
                       self.save_hints_as_action, self.clear_action):
            action.setEnabled(has_image)
        self.undo_action.setEnabled(doc.can_undo())
        self.redo_action.setEnabled(doc.can_redo())
        self.delete_action.setEnabled(doc.selected is not None)
        self.clear_reference_action.setEnabled(doc.reference_rgb is not None)
        self._update_own_colours_action()
        self.colorize_folder_action.setEnabled(not self.folder_run.running)
        self.open_page_action.setEnabled(has_image and doc.image.pages > 1)
        self.setWindowModified(bool(doc.unsaved()))
        name = self._photo_label() if doc.image_path else "ColorMe"
        self.setWindowTitle(f"{name}[*] - ColorMe" if has_image else "ColorMe[*]")

    def _photo_label(self) -> str:
        """The open photo's name, with its page when the file holds several: the title and
        the unsaved-work question name the page whose work it is."""
        image = self.document.image
        name = self.document.image_path.name
        return name if image is None or image.pages < 2 else f"{name} (page {image.page + 1} of {image.pages})"

    # ================================================================ the document changed
    def _on_document_changed(self, change: Change) -> None:
        doc = self.document
        if change & Change.IMAGE:
            self._show_new_image()
        if change & (Change.HINTS | Change.PREVIEW | Change.SELECTION):
            self.hint_canvas.set_hints(doc.shown_hints, doc.selected)
        if change & Change.BRUSH:
            self._show_brush()
        if change & (Change.IMAGE | Change.RENDER):
            self._show_result_title()
        if change & (Change.HINTS | Change.IMAGE):
            self._show_suggestions()
        if change & (Change.HINTS | Change.RENDER | Change.IMAGE):
            self._request_colorize()
            self._show_activity()  # back to what the result on screen shows: no longer stale
        elif change & Change.PREVIEW:
            # While dragging, results are drafts, each asked for at once: an idle worker
            # starts it now, a busy one keeps only the newest for when it is done.  A
            # debounce (30 ms) only added its wait to every draft on screen.
            self._request_colorize(draft=True)
        if change & Change.RESULT:
            if doc.result is not None:
                self._failure = ""
                self.result_canvas.show_array(doc.result, doc.image.size)
            elif doc.image is not None:
                # Until the colour comes, the grey photo with a notice of what is
                # happening, never an empty pane asking for a photo.
                self.result_canvas.show_array(doc.image.grey)
            else:
                self.result_canvas.set_image(None)
            self._show_activity()
            self._start_pending_save()
        if change & (Change.HINTS | Change.RENDER | Change.SAVED):
            self.autosave_timer.start()
        self._update_actions()

    def _result_kind(self) -> str:
        """What the result is called: a colour photo's is recoloured, a grey one's colorized."""
        image = self.document.image
        return "Recoloured" if image is not None and image.rgb is not None else "Colorized"

    def _show_result_title(self) -> None:
        """What the result pane shows, and where its colours come from when that is a photo:
        the colour photo stays in use for every photo opened after it (an album's worth),
        and a new photo coloured from an earlier choice surprised a user who had forgotten it."""
        doc = self.document
        kind = self._result_kind()
        # The menu names the result as the pane does.
        self.save_action.setText(f"&Save {kind} Image")
        self.save_as_action.setText(f"Save {kind} Image &As...")
        title = kind
        if doc.reference_path is not None:
            title += f" from {doc.reference_path.name}"
        if title != self.result_canvas.title:
            self.result_canvas.title = title
            self.result_canvas.update()

    def _show_new_image(self) -> None:
        image = self.document.image
        self.shown_generation = self.generation  # results still on their way are for the old photo
        self._failure = ""
        self._request_keys.clear()
        self._palette_keys.clear()
        self._result_palette = []
        self._point_suggestions = None
        self._last_pointed = None
        self._show_here([])
        self.palette_dock.saturation.setValue(round(self.document.saturation * 100))
        self.hint_canvas.show_array(image.grey)
        checker = None if image.alpha is None else checker_overlay(image.alpha)
        for canvas in (self.hint_canvas, self.result_canvas, self.original_canvas):
            canvas.set_transparency(checker)
        colour = image.rgb is not None
        if colour:
            self.original_canvas.show_array(image.rgb)
        else:
            self.original_canvas.set_image(None)
        self.original_action.setEnabled(colour)
        self.original_action.setChecked(colour)
        self._show_panes()
        self.view.set(fit=True)
        w, h = image.size
        self.status_label.setText(f"{w} x {h} px, {'colour' if colour else 'grey'}")

    def _show_panes(self) -> None:
        """Original (for colour photos) / Grey / Result, each with the same room."""
        image = self.document.image
        self.original_canvas.setVisible(self.original_action.isChecked() and image is not None
                                        and image.rgb is not None)
        visible = [c for c in self.canvases if not c.isHidden()]
        total = sum(self.splitter.sizes()) or self.splitter.width()
        self.splitter.setSizes([total // len(visible) if not c.isHidden() else 0 for c in self.canvases])

    def _show_brush(self) -> None:
        brush = self.document.brush
        self.palette_dock.set_current(brush.colour, keep=brush.tool == Tool.KEEP)
        spin = self.palette_dock.radius
        spin.blockSignals(True)  # the document is already right; do not echo the value back
        spin.setMaximum(self.document.radius_max)
        spin.setValue(brush.radius)
        spin.blockSignals(False)
        self.hint_canvas.set_brush(brush.colour, brush.radius)
        chosen, side = self.document.brush_choice  # as chosen: the next photo is sized from it
        self.settings.setValue("brush_radius", chosen)
        self.settings.setValue("brush_side", side or 0)
        self.settings.setValue("brush_colour", hex_color(brush.colour))
        for canvas in self.canvases:
            canvas.tool = brush.tool
        self.tool_actions[brush.tool].setChecked(True)
        text, key = TOOL_ACTIONS[brush.tool]
        label = f"{text.replace('&', '')} ({key})"
        if label != self.tool_label.text():
            self.tool_label.setText(label)
            self.statusBar().clearMessage()  # "press P to paint" is done with once P is pressed
        for button, tool in ((self.palette_dock.eyedropper, Tool.EYEDROPPER), (self.palette_dock.keep, Tool.KEEP)):
            button.blockSignals(True)
            button.setChecked(brush.tool == tool)
            button.blockSignals(False)
        cursor = Qt.CursorShape.CrossCursor if brush.tool.paints else Qt.CursorShape.PointingHandCursor
        self.hint_canvas.setCursor(cursor)
        self.hint_canvas.update()

    def _show_suggestions(self) -> None:
        self.palette_dock.set_suggested(self._result_palette)
        self.palette_dock.set_hinted(self.document.hint_colours())

    # ================================================================ opening
    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        self.prompts.error(self, title, message)

    def _start_folder(self) -> str:
        last = self.settings.value("last_folder", "", str)
        if last and Path(last).is_dir():
            return last
        pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        # Not a Pictures folder that is not there (a fresh account, a server): the home folder.
        return pictures if pictures and Path(pictures).is_dir() else str(Path.home())

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", self._start_folder(), IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path, hints: tuple = (), ask: bool = True, page: int = 0) -> bool:
        """Open a photo (its ``page``, from 0, of a multi-page file), or a hints file for the
        open photo; False if nothing changed (yet)."""
        if path.suffix.lower() == ".json" and self.document.image is not None:
            return self.open_hints(path)
        if self._opening:
            return False  # a file that arrives while another is read (a drop, a recent file)
        # Read first, ask about unsaved work after: a file that cannot be opened must not
        # cost a question (or a save) about the work it would have replaced.
        self._opening = True
        self.setCursor(Qt.CursorShape.WaitCursor)
        self.statusBar().showMessage(f"Opening {path.name}...")
        try:
            image = self._load_off_thread(path, page)
        except ImageLoadError as exc:
            self.statusBar().clearMessage()
            self.show_error("Cannot open photo", str(exc))
            return False
        finally:
            self._opening = False
            self.unsetCursor()
        if self._closed:
            return False
        if ask and not self.resolve_unsaved(lambda: self._show_opened(path, image, hints)):
            self.statusBar().clearMessage()
            return False
        self._show_opened(path, image, hints)
        return True

    def _show_opened(self, path: Path, image, hints: tuple) -> None:
        """The photo read by ``open_path`` becomes the document, with the hints saved beside
        it (``STEM.hints.json``, where Save Hints and the unsaved-work question put them "to
        continue later") unless hints come with it (a restored session)."""
        message = f"Opened {path.name}"
        beside = None if hints else hints_beside(path, image.page)
        if beside is not None:
            try:
                hints = load_hints_file(beside, image.size)
            except HintsFileError as exc:
                message += f"; {beside.name} beside it was not used: {exc}"
                beside = None
            else:
                message += f" with its {plural(len(hints), 'hint')} from {beside.name}"
        self.document.open(image, hints, hints_path=beside)
        self._add_recent_file(path, image.page)
        self.settings.setValue("last_folder", str(path.resolve().parent))
        message += "; " + " ".join(image.notes) if image.notes else ""
        if image.page_note:
            message += f"; {image.page_note} File > {self.open_page_action.text().replace('&', '')} opens another."
        # None: the engine is still loading, and the default one recolours.
        toned = (self.document.recolours_own_colours and self._engine_name in (None, *RECOLOURING_ENGINES)
                 and image.toned)
        if toned:  # short: the status bar cut a longer one off at the window's default width
            message += "; like a toned black-and-white print? Untick Engine > Keep a Colour Photo's Own Colours"
        if self.document.reference_path is not None:
            # Kept for an album of like photos, but an unrelated photo coloured from it
            # without a word surprised a walk-through.
            message += (f"; colours still come from {self.document.reference_path.name} "
                        f"(File > {self.clear_reference_action.text().replace('&', '')} to colour it on its own)")
        # Longer when there is something to know (a multi-page file, 16 bits, a reference
        # still in use): in 8 s, while the first colour appears, a walk-through missed it.
        self.statusBar().showMessage(
            message, 20000 if image.notes or image.page_note or toned or self.document.reference_path else 8000)

    def _load_off_thread(self, path: Path, page: int = 0):
        """``load_image`` in a thread while the window keeps painting (a 24 MP JPEG takes
        about a second to decode).  The caller still gets the photo or the error, as
        before; input waits until the photo is in, so nothing can change underneath."""
        outcome: dict = {}
        done = threading.Event()

        def work() -> None:
            try:
                outcome["image"] = load_image(path, page=page)
            except BaseException as exc:  # noqa: BLE001 - handed to the GUI thread, raised there
                outcome["error"] = exc
            done.set()
            self._load_done.emit()

        loop = QEventLoop()
        self._load_done.connect(loop.quit)
        try:
            threading.Thread(target=work, name="colorme-open", daemon=True).start()
            if not done.is_set():
                loop.exec(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)
            done.wait()  # quit() may have come from an earlier load's late signal
        finally:
            self._load_done.disconnect(loop.quit)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["image"]

    def _add_recent_file(self, path: Path, page: int = 0) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent_files() if p != str(path.resolve())]
        recent = recent[:MAX_RECENT_FILES]
        self.settings.setValue("recent_files", recent)
        # The page worked on last, for a file of several (a separate key: older versions
        # read "recent_files" as before).
        known = self._recent_pages()
        pages = {entry: known.get(entry, 0) for entry in recent} | {recent[0]: page}
        self.settings.setValue("recent_pages", json.dumps({entry: n for entry, n in pages.items() if n}))
        self._rebuild_recent_menu()

    def _recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _recent_pages(self) -> dict[str, int]:
        try:
            pages = json.loads(str(self.settings.value("recent_pages", "{}")))
        except ValueError:
            return {}  # unreadable: every file opens at its first page
        if not isinstance(pages, dict):
            return {}
        return {str(k): v for k, v in pages.items() if isinstance(v, int) and not isinstance(v, bool) and v > 0}

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        pages = self._recent_pages()
        for entry in self._recent_files():
            page = pages.get(entry, 0)
            action = self.recent_menu.addAction(Path(entry).name + (f" (page {page + 1})" if page else ""))
            action.setToolTip(entry)
            action.triggered.connect(lambda checked=False, p=entry, n=page: self.open_path(Path(p), page=n))
        self.recent_menu.setEnabled(bool(self._recent_files()))

    # ================================================================ unsaved work
    def resolve_unsaved(self, then: Callable[[], object]) -> bool:
        """True when the current work may be dropped now (saved, discarded, or none).

        False when the user cancelled, or chose to save the image: that save runs in the
        background and ``then`` is called once it has succeeded.
        """
        doc = self.document
        items = doc.unsaved()
        if not items:
            return True
        photo = self._photo_label() if doc.image_path else "this photo"
        choice = self.prompts.unsaved(self, photo, items, len(doc.hints), f"{self._result_kind().lower()} image")
        if choice is None:
            return False
        if Unsaved.HINTS in choice and not self.save_hints():
            return False
        if Unsaved.IMAGE in choice:
            self._after_image_save = then
            if not self.save_image():
                self._after_image_save = None
            return False
        return True

    # ================================================================ hints files
    @Slot()
    def open_hints_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open hints", self._start_folder(), HINTS_FILTER)
        if path:
            self.open_hints(Path(path))

    def open_hints(self, path: Path) -> bool:
        doc = self.document
        if doc.image is None:
            return False
        try:
            hints = load_hints_file(path, doc.image.size)
        except HintsFileError as exc:
            self.show_error("Cannot open hints", str(exc))
            return False
        doc.hints_loaded(hints, path)
        self.statusBar().showMessage(f"Loaded {plural(len(hints), 'hint')} from {path.name}", 5000)
        return True

    @Slot()
    def open_page_dialog(self) -> None:
        """Choose another page of the open multi-page file (pages counted from 1 here)."""
        doc = self.document
        if doc.image is None or doc.image_path is None or doc.image.pages < 2:
            return
        page = self.prompts.page(self, doc.image_path.name, doc.image.page, doc.image.pages)
        if page is not None and page != doc.image.page:
            self.open_path(doc.image_path, page=page)

    @Slot()
    def save_hints(self) -> bool:
        if self.document.hints_path is None:
            return self.save_hints_as()
        return self.save_hints_to(self.document.hints_path)

    @Slot()
    def save_hints_as(self) -> bool:
        doc = self.document
        if doc.image is None:
            return False
        if doc.image_path is not None and os.access(doc.image_path.parent, os.W_OK):
            # Beside the photo, where they come back by themselves when it is opened again: the
            # last folder used (where the image was just saved) proposed a place they never did.
            default = str(hints_names_beside(doc.image_path, doc.image.page)[0])
        else:  # a photo on a CD or a read-only share
            stem = page_stem(doc.image_path, doc.image.page) if doc.image_path else "hints"
            default = str(Path(self._start_folder()) / f"{stem}.hints.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save hints", default, HINTS_FILTER)
        return bool(path) and self.save_hints_to(Path(path))

    def save_hints_to(self, path: Path) -> bool:
        doc = self.document
        hints = doc.hints
        try:
            save_hints_file(path, hints, doc.image.size)
        except OSError as exc:
            self.show_error("Cannot save hints", f"Saving {path.name} failed: {exc.strerror or exc}. "
                                                 "Nothing was overwritten.")
            return False
        doc.hints_saved(hints, path)
        message = f"Saved {plural(len(hints), 'hint')} to {path.name}"
        photo = doc.image_path
        comes_back = photo is None or path.absolute() in [
            name.absolute() for name in hints_names_beside(photo, doc.image.page)]
        if not comes_back:  # short: the status bar's right-hand fields cut a long message off
            message += f", not beside the photo: File > Open Hints brings {'it' if len(hints) == 1 else 'them'} back"
        self.statusBar().showMessage(message, 10000)
        return True

    # ================================================================ saving the result
    @Slot()
    def save_image(self) -> bool:
        """False if the user cancelled choosing a file."""
        if self.document.output_path is None:
            return self.save_image_as()
        self.save_image_to(self.document.output_path)
        return True

    @Slot()
    def save_image_as(self) -> bool:
        doc = self.document
        if doc.image is None:
            return False
        stem = page_stem(doc.image_path, doc.image.page) if doc.image_path else "photo"
        default = str(Path(self._start_folder()) / f"{stem}-colorized.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save colorized image", default, SAVE_FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() not in SAVE_FORMATS:
            path = path.with_suffix(".png")
        self.save_image_to(path)
        return True

    def save_image_to(self, path: Path) -> None:
        """Save the result for the current hints; waits (without blocking) for it if needed."""
        if self.document.image is None:
            return
        self.document.request_image_save(path)
        if not self._start_pending_save():
            self.statusBar().showMessage("Colorizing at full resolution before saving...")
            self._request_colorize(full=True)

    def _start_pending_save(self) -> bool:
        save = self.document.take_image_save()
        if save is None:
            return False
        self._saving = save

        def write() -> None:
            try:
                save_image(save.path, save.rgb, alpha=save.alpha, metadata=save.metadata)
                error = ""
            except ImageSaveError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported to the user, never lost
                error = f"Saving {save.path.name} failed: {exc}"
            self.save_finished.emit(str(save.path), error)

        self._save_thread = threading.Thread(target=write, daemon=True)
        self._save_thread.start()
        return True

    @Slot(str, str)
    def _on_save_finished(self, path: str, error: str) -> None:
        save, self._saving = self._saving, None
        then, self._after_image_save = self._after_image_save, None
        if error:
            self.show_error("Cannot save image", error)
            return
        self.document.image_saved(save)
        self.settings.setValue("last_folder", str(Path(path).parent))
        self.statusBar().showMessage(f"Saved {Path(path).name}", 5000)
        if then is not None:
            QTimer.singleShot(0, then)  # e.g. the close the user asked for, now nothing is lost

    # ================================================================ colours from a photo
    @Slot()
    def reference_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Take colours from a photo", self._start_folder(), IMAGE_FILTER)
        if path:
            self.set_reference(Path(path))

    def set_reference(self, path: Path | None) -> bool:
        """Take colours from the colour photo at ``path`` (None: stop); False if it cannot."""
        if path is None:
            self.document.set_reference(None)
            self.palette_dock.set_reference_colours([])
            self.statusBar().showMessage("Colours no longer come from a photo", 5000)
            return True
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            self.show_error("Cannot use the photo", str(exc))
            return False
        if image.rgb is None:
            self.show_error("Cannot use the photo", f"{path.name} is grey; choose a colour photo to take colours from.")
            return False
        self.document.set_reference(image, path)
        self.worker.reference_palette(image.rgb, self.document.render_key().reference)
        self.statusBar().showMessage(f"Taking colours from {path.name} where it shows the same things", 8000)
        return True

    # ================================================================ a folder of photos
    @Slot()
    def colorize_folder_dialog(self) -> None:
        if self.folder_run.running:
            return
        job = self.prompts.folder_job(self, self._start_folder(), self._last_folder_job(), self.document.reference_path)
        if job is not None:
            self._remember_folder_job(job)
            self.colorize_folder(job)

    def _last_folder_job(self) -> FolderJob | None:
        """The last folder job's choices, from the settings (None before the first)."""
        values = {key: self.settings.value(f"folder_job/{key}") for key in ("input", "output", "fmt")}
        if not all(isinstance(value, str) and value for value in values.values()):
            return None
        return FolderJob(Path(values["input"]), Path(values["output"]),
                         recursive=self.settings.value("folder_job/recursive", False, bool),
                         fmt=values["fmt"], jobs=self.settings.value("folder_job/jobs", 1, int))

    def _remember_folder_job(self, job: FolderJob) -> None:
        for key, value in (("input", str(job.input_folder)), ("output", str(job.output_folder)),
                           ("recursive", job.recursive), ("fmt", job.fmt), ("jobs", job.jobs)):
            self.settings.setValue(f"folder_job/{key}", value)

    def colorize_folder(self, job: FolderJob) -> bool:
        """Start colorizing a folder off the GUI thread; False if there was nothing to start."""
        try:
            plan = plan_batch([job.input_folder], job.output_folder, fmt=job.fmt, recursive=job.recursive,
                              overwrite=job.overwrite)
        except BatchPlanError as exc:
            self.show_error("Cannot colorize the folder", str(exc))
            return False
        summary = BatchSummary(skipped=len(plan.skipped), refused=[(p.source, p.message) for p in plan.problems])
        if not plan.items:
            self.prompts.batch_summary(self, summary)
            return False
        doc = self.document
        reference = doc.reference_path if job.use_reference else None
        options = BatchOptions(engine=doc.engine, saturation=doc.saturation, reference=reference,
                               keep_own_colours=doc.keep_own_colours)
        factory, name = self._engine_factory, doc.engine

        def make_engine():
            # Runs in the batch thread: an engine of its own (engines keep per-photo caches
            # that are not safe to share with the colorize worker).
            engine, _ = factory(name)
            if reference is not None:
                from colorme_desktop.batch import with_reference

                engine = with_reference(engine, reference)
            return engine

        self.folder_run.start(plan.items, summary, options, job.jobs, make_engine)
        return True

    def _on_folder_run_over(self, summary: BatchSummary) -> None:
        self.statusBar().showMessage(summary.text(), 10000)
        self.prompts.batch_summary(self, summary)

    # ================================================================ canvas gestures
    def _shown_side(self) -> int:
        """Long side, in device pixels, that the photo covers in the result pane now."""
        image = self.document.image
        canvas = self.result_canvas if self.result_canvas.image is not None else self.hint_canvas
        return round(canvas.scale() * max(image.size) * canvas.devicePixelRatioF())

    def _preview_side(self) -> int | None:
        """Long side to colour at for the screen; None when that is the full photo anyway."""
        side = min(max(self._shown_side(), PREVIEW_MIN_SIDE), PREVIEW_MAX_SIDE)
        return side if side < max(self.document.image.size) else None

    @Slot()
    def _on_detail_timer_timeout(self) -> None:
        """Zoomed (or the pane resized) away from the shown result's pixels: make it again at the size shown."""
        doc = self.document
        if doc.image is None or doc.result is None or not doc.result_is_current:
            return
        full = self._shown_side() > PREVIEW_MAX_SIDE
        wanted = self._side_to_colour_at(full=full) or max(doc.image.size)
        held = max(doc.result.shape[:2])
        if held != wanted:
            self._request_colorize(full=full)

    def _side_to_colour_at(self, draft: bool = False, full: bool = False) -> int | None:
        """Long side a result is made at now; None for the whole photo."""
        doc = self.document
        # A waiting save needs every pixel; otherwise the screen's worth is enough.  Colours
        # from a photo: engines.reference cannot make a screen-size result yet.
        whole = full or (doc.image_save_pending and not draft) or doc.reference_rgb is not None
        return None if whole else self._preview_side()

    def _request_colorize(self, draft: bool = False, full: bool = False) -> None:
        doc = self.document
        if doc.image is None:
            return
        if draft:
            self.stroke_detail_timer.stop()  # painting again: no pause to make every pixel in
        self.generation += 1
        key = doc.render_key()
        side = self._side_to_colour_at(draft, full)
        self._request_keys[self.generation] = replace(key, draft=draft, preview=side is not None)
        # K-means after every stroke held up the next one for a palette nobody shows.
        palette = self._palette_basis != self._palette_basis_of(key)
        if palette:
            self._palette_keys[self.generation] = key
        self.worker.request(ColorizeRequest(self.generation, doc.image.grey, key.hints, key.saturation,
                                            key.engine, draft, doc.reference_rgb, key.reference, side, palette,
                                            photo_rgb=doc.image.rgb if key.own_colours else None))

    @Slot(list)
    def _on_stroke_changed(self, points: list) -> None:
        self.show_hints_action.setChecked(True)  # painting blind helps no one: hidden hints show again
        self.document.preview_stroke(points)

    @Slot(list)
    def _on_stroke_finished(self, points: list) -> None:
        self.document.finish_stroke(points)
        if self.document.hints[-1].keep:
            return  # no colour painted: none to remember, none to come out lighter or darker
        self._add_recent_colour(self.document.brush.colour)
        photo = self.document.render_key().photo
        gap = lightness_gap(self.document.hints[-1], self.document.image.grey)
        if abs(gap) > LIGHTNESS_GAP_NOTE and self._lightness_noted != photo:
            # A walk-through painted a white horse dark brown and got a pale peach, with no
            # word why: only colour is added.  Said once a photo: a sky painted blue would
            # say it at every stroke.
            self._lightness_noted = photo
            self.statusBar().showMessage(
                "Only colour is added: the photo keeps its brightness, so this colour comes out "
                f"{'lighter' if gap < 0 else 'darker'} here than its swatch.", 8000)

    def _add_recent_colour(self, colour: tuple) -> None:
        """A colour painted with goes among the recent ones, and they are kept for the next start."""
        self.palette_dock.add_recent(colour)
        self.settings.setValue("recent_colours", self.palette_dock.recent_text())

    def _hint_at(self, x: float, y: float) -> int | None:
        return self.document.hint_at(x, y, HIT_TOLERANCE_PX / self.hint_canvas.scale())

    @Slot(float, float)
    def _on_remove_requested(self, x: float, y: float) -> None:
        index = self._hint_at(x, y)
        if index is not None:
            self.document.remove_hint(index)

    @Slot(float, float)
    def _on_select_requested(self, x: float, y: float) -> None:
        index = self._hint_at(x, y)
        self.document.select(index)
        if index is None and self.document.hints:
            self.statusBar().showMessage("No hint here: the Select tool picks hints to move or recolour; "
                                         f"press {TOOL_ACTIONS[Tool.PAINT][1]} to paint.", 8000)
        elif index is None:
            self.statusBar().showMessage("No hints to select yet: press "
                                         f"{TOOL_ACTIONS[Tool.PAINT][1]} to paint.", 8000)

    @Slot(float, float)
    def _on_move_changed(self, dx: float, dy: float) -> None:
        self.document.preview_move(dx, dy)

    @Slot(float, float)
    def _on_move_finished(self, dx: float, dy: float) -> None:
        self.document.finish_move(dx, dy)

    @Slot(tuple)
    def _on_colour_chosen(self, colour: tuple) -> None:
        recolours = self.document.selected is not None
        self.document.set_colour(colour)
        if recolours:
            self._add_recent_colour(self.document.brush.colour)

    @Slot(bool)
    def _on_eyedropper_toggled(self, on: bool) -> None:
        self.document.set_tool(Tool.EYEDROPPER if on else Tool.PAINT)

    @Slot(bool)
    def _on_keep_toggled(self, on: bool) -> None:
        self.document.set_tool(Tool.KEEP if on else Tool.PAINT)

    def _pick_from(self, rgb, x: float, y: float) -> None:
        if rgb is None:
            return
        h, w = rgb.shape[:2]
        col, row = int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))
        patch = rgb[max(0, row - 1):row + 2, max(0, col - 1):col + 2].reshape(-1, 3)
        self.document.set_colour(tuple(int(round(v)) for v in patch.mean(axis=0)))
        self.document.set_tool(Tool.PAINT)

    @Slot(float, float)
    def _on_result_picked(self, x: float, y: float) -> None:
        result = self.document.result
        if result is not None:
            # The result may be a screen-size preview: take the pixel where (x, y) lies on it.
            w, h = self.document.image.size
            x, y = x * result.shape[1] / w, y * result.shape[0] / h
        self._pick_from(result, x, y)

    @Slot(float, float)
    def _on_original_picked(self, x: float, y: float) -> None:
        image = self.document.image
        self._pick_from(image.rgb if image else None, x, y)

    @Slot(float)
    def _on_radius_changed(self, radius: float) -> None:
        self.document.set_radius(radius)

    @Slot(float)
    def _on_saturation_changed(self, value: float) -> None:
        self.document.set_saturation(value)

    @Slot(float)
    def _on_zoom_changed(self, scale: float) -> None:
        self.zoom_label.setText(f"Zoom {scale * 100:.0f} %" if scale > 0 else "")

    def set_engine(self, name: str | None) -> None:
        self.engine_actions[name].setChecked(True)
        if name is not None:
            self._engine_name = name  # what it can do shows now, not once it has started
        self.document.set_engine(name)
        self._update_own_colours_action()
        # Started now, also when the result on screen needs no new colour (back to the
        # engine that made it): the dock then names the engine running, not one that failed.
        self.start_engine()

    @Slot(bool)
    def _on_own_colours_toggled(self, keep: bool) -> None:
        self.settings.setValue("keep_own_colours", keep)
        self.document.set_keep_own_colours(keep)

    def _update_own_colours_action(self) -> None:
        """Say why a colour photo's own colours cannot be kept, where they cannot."""
        doc = self.document
        name = self._engine_name
        if name is not None and name not in RECOLOURING_ENGINES:
            why = f"The {ENGINE_LABELS.get(name, name)} engine colours every photo from its grey."
        elif doc.reference_rgb is not None:
            why = "Colours come from the chosen colour photo; stop using it to keep this photo's own."
        else:
            why = ""
        self.own_colours_action.setEnabled(not why)
        self.own_colours_action.setToolTip(why or "Recolour a colour photo: hints change its own colours and "
                                                  "everything else stays as it was. Off: colour it from its grey.")

    def start_engine(self) -> None:
        """Create the engine in the worker now, so it loads while the window paints."""
        self.worker.prepare(self.document.engine)

    def zoom_actual(self) -> None:
        self._zoom_step(lambda: self._zoom_key_to(lambda _scale: 1.0))

    def _zoom_key_to(self, zoom: Callable[[float], float]) -> None:
        """Zoom by key or menu to ``zoom(scale now)``, keeping the photo's point under the
        mouse where it is when the mouse is over a pane (as the wheel does), else the centre.
        A walk-through pressed Ctrl+1 with the mouse on a portrait's lips and got its eyes."""
        for canvas in self.canvases:
            anchor = canvas.mouse_anchor()
            if anchor is not None:
                canvas.zoom_to(zoom(canvas.scale()), anchor)
                return
        self.hint_canvas.zoom_to(zoom(self.hint_canvas.scale()))

    def _zoom_step(self, change: Callable[[], object]) -> None:
        """A zoom by key or menu: one step, not a wheel's run of them, so the result at the
        new size is asked for within ZOOM_STEP_DETAIL_MS instead of DETAIL_DELAY_MS (a
        walk-through saw the stretched preview for up to a second after Ctrl+1)."""
        change()
        self.detail_timer.stop()
        self.zoom_step_timer.start()

    @Slot(bool)
    def _on_show_original_toggled(self, _on: bool) -> None:
        self._show_panes()

    # ================================================================ worker results
    @Slot(int)
    def _on_result_ready(self, generation: int) -> None:
        rgb = self.worker.take_result(generation)
        key = self._request_keys.pop(generation, None)
        for old in [g for g in self._request_keys if g < generation]:
            del self._request_keys[old]  # superseded in the worker's outbox: never coming
        if rgb is None or key is None or generation < self.shown_generation:
            return  # superseded, or older than what is on screen
        self.shown_generation = generation
        self.document.set_result(rgb, key)
        if not key.draft and key.preview:
            # Zoomed in past what a preview holds, a stroke's result is still made at
            # PREVIEW_MAX_SIDE (its drafts must be quick): the same check as after a zoom
            # then makes every pixel, once the user pauses.  A walk-through painted at
            # 100 % on a 4000 px panorama and the result stayed soft until the next zoom.
            self.stroke_detail_timer.start()

    @Slot(int)
    def _on_palette_ready(self, generation: int) -> None:
        colours = self.worker.take_palette(generation)
        at_points = self.worker.take_point_suggestions(generation)
        key = self._palette_keys.pop(generation, None)
        for old in [g for g in self._palette_keys if g < generation]:
            del self._palette_keys[old]
        # Suggestions are found once per photo, engine and way of colouring it: found again
        # for every new result, even one without hints (after an undo, or at another zoom),
        # they changed places under the user's hand.
        if colours is None or key is None:
            return
        basis = self._palette_basis_of(key)
        if basis == self._palette_basis or basis != self._palette_basis_of(self.document.render_key()):
            return
        self._palette_basis, self._result_palette = basis, colours
        self._show_suggestions()
        self._point_suggestions = at_points
        self._show_here([] if at_points is not None else None,
                        # With a reference photo the semantic engine is in use too: saying only
                        # it offers them puzzled a walk-through.
                        "Not offered while the colours come from a photo (File > Colours From Photo)."
                        if key.reference else "Only the semantic engine offers them.")
        if self._last_pointed is not None:  # back to an engine that offers them: for where the mouse last was
            self._on_photo_hovered(*self._last_pointed)

    def _show_here(self, found: list | None, why_none: str = "") -> None:
        if (found, why_none) != self._here_shown:
            self._here_shown = found, why_none
            self.palette_dock.set_here(found, why_none)

    @Slot(float, float)
    def _on_photo_hovered(self, x: float, y: float) -> None:
        """Offer the colours the network finds likely where the mouse is; they stay when it
        leaves the photo for the dock."""
        image = self.document.image
        self._last_pointed = (x, y)
        if self._point_suggestions is not None and image is not None:
            self._show_here(self._point_suggestions.at(x, y, image.grey))

    @staticmethod
    def _palette_basis_of(key: RenderKey) -> tuple:
        """What makes the photo come out otherwise, hints and saturation aside."""
        return key.photo, key.engine, key.reference, key.own_colours

    @Slot(int, object)
    def _on_reference_palette_ready(self, reference: int, colours: list) -> None:
        doc = self.document
        if doc.reference_rgb is not None and reference == doc.render_key().reference:  # not a replaced one
            self.palette_dock.set_reference_colours(colours)

    @Slot(int, str)
    def _on_worker_failed(self, generation: int, message: str) -> None:
        # The status bar, not a dialog: an engine that keeps failing would otherwise
        # stop the user with a modal box on every stroke.
        if self.document.image_save_pending:
            self.document.cancel_image_save()
            self._after_image_save = None
            message += " The image was not saved."
        self.statusBar().showMessage(message, 15000)
        self.palette_dock.engine_label.setToolTip(message)
        if self._engine_starting:  # a factory that raised never reports engine_changed
            self._engine_starting = False
            name = self.document.engine
            self.palette_dock.engine_label.setText(f"Engine: {ENGINE_LABELS.get(name, name)} did not start")
        # Kept on the result pane until a result comes: the status bar's line is gone in
        # seconds, and the last result left on screen looked as if it were the answer.
        self._failure = message
        self._show_activity()

    @Slot(str, str)
    def _on_engine_changed(self, name: str, note: str) -> None:
        self._engine_starting = False
        self._show_activity()
        self.palette_dock.engine_label.setText(f"Engine: {ENGINE_LABELS.get(name, name)}")
        self._engine_name = name
        self._update_own_colours_action()
        if note:
            self.statusBar().showMessage(note, 15000)
            self.palette_dock.engine_label.setToolTip(note)

    @Slot()
    def _on_engine_starting(self) -> None:
        self._engine_starting = True
        self._show_activity()

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self._busy = busy
        self._show_activity()

    def _show_activity(self) -> None:
        """Status bar and result pane say what the worker is doing, if anything."""
        if self._engine_starting:
            text = STARTING_TEXT
        elif self._busy and self.document.image is not None:
            text = COLORIZING_TEXT
        else:
            text = ""
        self.activity_label.setText(text)
        busy = self._busy or self._engine_starting
        self.busy_bar.setVisible(busy)
        self.palette_dock.busy.setVisible(busy)
        waiting = self.document.image is not None and self.document.result is None
        if waiting:
            notice = text or (f"No colour: {self._failure}" if self._failure else "")
        else:
            stale = self._failure and not self.document.result_is_current
            notice = f"Not up to date: {self._failure}" if stale else ""
        self.result_canvas.set_notice(notice)

    # ================================================================ recovery
    @Slot()
    def _autosave(self) -> None:
        doc = self.document
        if doc.image_path is None:
            return
        if doc.hints and doc.unsaved():
            self.recovery.save(doc.image_path.resolve(), doc.hints, doc.image.size, doc.image.page)
        elif not doc.unsaved():
            self.recovery.clear()  # everything is in files now: nothing to offer next time

    def offer_recovery(self, requested: Path | None = None) -> bool:
        """Offer the work a crash left behind; True if it was restored.

        Asked whenever a recovery file exists, also when ``requested`` (a photo given on
        the command line) is to be opened; restored work wins, and ``requested`` waits in
        Open Recent.
        """
        saved = self.recovery.load()
        if saved is None:
            return False
        image_path, hints, page = saved
        if not hints or not image_path.exists():
            self.recovery.clear()
            return False
        answer = self.prompts.restore(self, image_path, len(hints), requested)
        if self._closed:
            return False  # terminated while asking: the file stays for the next start
        if not answer:
            self.recovery.clear()
            return False
        if not self.open_path(image_path, hints=hints, ask=False, page=page):
            return False
        if requested is not None and requested.resolve() != image_path.resolve():
            self._add_recent_file(image_path, page)
            self._add_recent_file(requested)
            self.statusBar().showMessage(f"Restored {plural(len(hints), 'hint')} on {image_path.name}; "
                                         f"{requested.name} is in File > Open Recent.", 15000)
        return True

    # ================================================================ window events
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        for url in event.mimeData().urls():
            if url.isLocalFile():
                event.acceptProposedAction()
                self.open_path(Path(url.toLocalFile()))
                return

    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self._first_start_size()
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        # A stored radius may come from an older version with other bounds: clamp it.  The
        # photo it was chosen on sizes it for the next one (``Document.brush_choice``).
        try:
            side = int(self.settings.value("brush_side", 0))
        except (TypeError, ValueError):
            side = 0
        self.document.restore_brush_radius(self.settings.value("brush_radius", self.document.brush.radius), side)
        try:  # a store edited by hand, or written by another program, may hold anything
            self.document.set_colour(parse_hex_color(self.settings.value("brush_colour", "")))
        except ValueError:
            pass  # no colour kept yet, or none readable: the default brush colour
        keep = self.settings.value("keep_own_colours", True)
        keep = keep if isinstance(keep, bool) else str(keep).lower() != "false"  # some stores give text
        self.own_colours_action.setChecked(keep)
        self.document.set_keep_own_colours(keep)
        self._rebuild_recent_menu()

    def _first_start_size(self) -> None:
        """Most of the screen, centred: two or three panes side by side leave a photo small in
        a fixed 1280 x 760 window on a large screen (a walk-through saw 55 % zoom)."""
        if self.screen() is None:
            self.resize(1280, 760)
            return
        screen = self.screen().availableGeometry()
        # The share leaves room for the frame and title bar that the geometry does not count.
        width, height = int(screen.width() * FIRST_START_SHARE), int(screen.height() * FIRST_START_SHARE)
        self.setGeometry(screen.x() + (screen.width() - width) // 2, screen.y() + (screen.height() - height) // 2,
                         width, height)

    def terminate(self, save_wait_s: float = 30.0) -> None:
        """Quit at once when the system asks (SIGTERM: log-out, shutdown, ``kill``).

        Nobody is there to answer "save changes?", so unsaved hints go to the recovery
        file (offered at the next start), a save in progress is let finish so that no
        half-written file or ``.part`` is left, and the window closes without asking.
        """
        if self._closed:
            return
        self._autosave()  # now, not after the debounce
        self.recovery.flush()
        if self._save_thread is not None:
            self._save_thread.join(save_wait_s)
        self._shut_down()
        self.close()
        # Also ends the event loop of a question on screen (the restore prompt at start).
        QApplication.exit(128 + signal.SIGTERM)

    def _shut_down(self) -> None:
        """Stop everything that runs beside the window; after this it only closes."""
        self._closed = True
        for timer in (self.autosave_timer, self.detail_timer, self.zoom_step_timer, self.stroke_detail_timer):
            timer.stop()  # none of them may ask the stopped worker for more
        self.folder_run.stop()
        self.worker.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._closed:
            event.accept()
            return
        if not self.resolve_unsaved(self.close):
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self._shut_down()
        # Saved, or the user chose not to keep it: either way nothing to restore next time.
        self.recovery.clear()
        event.accept()
