"""The main window: two (or three) canvases, the palette dock, menus, open and save."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QSettings, QStandardPaths, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QSplitter

from colorme_desktop.core.hints import Hint, HintsFileError, load_hints_file, point_hint, save_hints_file
from colorme_desktop.core.history import HintHistory
from colorme_desktop.core.imageio import (
    SAVE_FORMATS,
    ImageLoadError,
    ImageSaveError,
    LoadedImage,
    load_image,
    save_image,
)
from colorme_desktop.ui.canvas import HintCanvas, ImageCanvas, Tool, ViewState, qimage_from_array
from colorme_desktop.ui.palette_dock import PaletteDock
from colorme_desktop.ui.recovery import RecoveryStore
from colorme_desktop.ui.worker import ColorizeRequest, ColorizeWorker, default_engine_factory

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.tif *.tiff *.webp *.bmp *.gif);;All files (*)"
SAVE_FILTER = "PNG (*.png);;JPEG (*.jpg *.jpeg);;TIFF (*.tif *.tiff);;WebP (*.webp)"
HINTS_FILTER = "ColorMe hints (*.json)"
DRAG_DEBOUNCE_MS = 40
AUTOSAVE_DEBOUNCE_MS = 300
MAX_RECENT_FILES = 8
ICON = Path(__file__).resolve().parents[2] / "resources" / "colorme.svg"


class MainWindow(QMainWindow):
    save_finished = Signal(str, str)  # path, error message ("" on success); from the saver thread

    def __init__(self, engine_factory=default_engine_factory, settings: QSettings | None = None,
                 recovery: RecoveryStore | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.recovery = recovery or RecoveryStore()
        self.setWindowTitle("ColorMe[*]")
        if ICON.exists():
            self.setWindowIcon(QIcon(str(ICON)))
        self.setAcceptDrops(True)

        self.image: LoadedImage | None = None
        self.history = HintHistory()
        self.saved_hints: tuple[Hint, ...] = ()
        self.hints_path: Path | None = None
        self.output_path: Path | None = None
        self.colour: tuple[int, int, int] = (200, 120, 60)
        self.saturation = 1.0
        self.engine_name: str | None = None
        self.generation = 0
        self.shown_generation = -1
        self.result_rgb: np.ndarray | None = None
        self.selected: int | None = None
        self._pending_save: Path | None = None
        self._hints_being_saved: tuple[Hint, ...] = ()
        self._preview_points: list[tuple[float, float]] | None = None

        self.view = ViewState()
        self.original_canvas = ImageCanvas(self.view, "Original")
        self.hint_canvas = HintCanvas(self.view, "Grey: paint hints here")
        self.result_canvas = ImageCanvas(self.view, "Colorized")
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for canvas in (self.original_canvas, self.hint_canvas, self.result_canvas):
            self.splitter.addWidget(canvas)
        self.original_canvas.hide()
        self.setCentralWidget(self.splitter)

        self.palette_dock = PaletteDock()
        self.dock = QDockWidget("Colours", self)
        self.dock.setObjectName("colours_dock")
        self.dock.setWidget(self.palette_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.status_label = QLabel()
        self.statusBar().addPermanentWidget(self.status_label)

        self.worker = ColorizeWorker(engine_factory)
        self.worker.result_ready.connect(self._on_result_ready)
        self.worker.palette_ready.connect(self._on_palette_ready)
        self.worker.failed.connect(self._on_worker_failed)
        self.worker.engine_changed.connect(self._on_engine_changed)
        self.worker.busy_changed.connect(self._on_busy_changed)
        self.save_finished.connect(self._on_save_finished)

        self.drag_timer = QTimer(self, singleShot=True, interval=DRAG_DEBOUNCE_MS)
        self.drag_timer.timeout.connect(self._request_draft)
        self.autosave_timer = QTimer(self, singleShot=True, interval=AUTOSAVE_DEBOUNCE_MS)
        self.autosave_timer.timeout.connect(self._autosave)

        self.hint_canvas.stroke_changed.connect(self._on_stroke_changed)
        self.hint_canvas.stroke_finished.connect(self._on_stroke_finished)
        self.hint_canvas.remove_requested.connect(self._on_remove_requested)
        self.hint_canvas.select_requested.connect(self._on_select_requested)
        self.result_canvas.picked.connect(self._on_pick_result)
        self.original_canvas.picked.connect(self._on_pick_original)
        self.palette_dock.colour_chosen.connect(self.choose_colour)
        self.palette_dock.radius_changed.connect(self._on_radius_changed)
        self.palette_dock.saturation_changed.connect(self._on_saturation_changed)
        self.palette_dock.eyedropper_toggled.connect(self._on_eyedropper_toggled)

        self._build_menus()
        self._restore_settings()
        self.palette_dock.set_current(self.colour)
        self._update_actions()

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
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open Photo...", self.open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
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
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", self.redo, QKeySequence("Ctrl+Shift+Z"))
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.delete_action = self._action(edit, "&Delete Selected Hint", self.delete_selected,
                                          QKeySequence.StandardKey.Delete)
        self.clear_action = self._action(edit, "&Clear Hints", self.clear_hints)
        edit.addSeparator()
        tools = QActionGroup(self)
        self.tool_actions = {}
        for tool, text, key in ((Tool.PAINT, "&Paint Hints", "P"), (Tool.SELECT, "&Select Hint", "S"),
                                (Tool.EYEDROPPER, "&Eyedropper", "I")):
            action = self._action(edit, text, lambda checked=False, t=tool: self.set_tool(t), key, True)
            tools.addAction(action)
            self.tool_actions[tool] = action
        self.tool_actions[Tool.PAINT].setChecked(True)
        edit.addSeparator()
        self._action(edit, "Larger Brush", lambda: self.set_radius(self.hint_canvas.brush_radius * 1.25), "]")
        self._action(edit, "Smaller Brush", lambda: self.set_radius(self.hint_canvas.brush_radius / 1.25), "[")

        view = self.menuBar().addMenu("&View")
        self._action(view, "&Fit to Window", lambda: self.view.set(fit=True), "Ctrl+0")
        self._action(view, "&Actual Size (100 %)", self.zoom_actual, "Ctrl+1")
        self._action(view, "Zoom &In", lambda: self.hint_canvas.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        self._action(view, "Zoom &Out", lambda: self.hint_canvas.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        view.addSeparator()
        self.original_action = self._action(view, "Show &Original", self._on_show_original_toggled,
                                            checkable=True)
        view.addAction(self.dock.toggleViewAction())

        engine = self.menuBar().addMenu("E&ngine")
        group = QActionGroup(self)
        self.engine_actions = {}
        for name, text in ((None, "&Best Available"), ("neural", "&Neural Network"),
                           ("levin", "&Optimization (Levin et al.)")):
            action = self._action(engine, text, lambda checked=False, n=name: self.set_engine(n), checkable=True)
            group.addAction(action)
            self.engine_actions[name] = action
        self.engine_actions[None].setChecked(True)

    def _update_actions(self) -> None:
        has_image = self.image is not None
        for action in (self.save_action, self.save_as_action, self.open_hints_action, self.save_hints_action,
                       self.save_hints_as_action, self.clear_action):
            action.setEnabled(has_image)
        self.undo_action.setEnabled(self.history.can_undo())
        self.redo_action.setEnabled(self.history.can_redo())
        self.delete_action.setEnabled(self.selected is not None)
        self.setWindowModified(self.is_modified())
        name = self.image.path.name if self.image and self.image.path else "ColorMe"
        self.setWindowTitle(f"{name}[*] - ColorMe" if self.image else "ColorMe[*]")

    # ================================================================ documents
    def is_modified(self) -> bool:
        return self.history.current != self.saved_hints

    def _ask_unsaved(self) -> QMessageBox.StandardButton:
        return QMessageBox.question(
            self, "Unsaved hints", "The hints you painted have not been saved. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)

    def maybe_keep_work(self) -> bool:
        """True when it is fine to drop the current hints (saved, discarded, or none)."""
        if not self.is_modified():
            return True
        answer = self._ask_unsaved()
        if answer == QMessageBox.StandardButton.Save:
            return self.save_hints()
        return answer == QMessageBox.StandardButton.Discard

    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(message, 10000)
        QMessageBox.warning(self, title, message)

    def _start_folder(self) -> str:
        last = self.settings.value("last_folder", "", str)
        if last and Path(last).is_dir():
            return last
        return QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)

    @Slot()
    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open photo", self._start_folder(), IMAGE_FILTER)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path, hints: tuple[Hint, ...] = (), ask: bool = True) -> bool:
        """Open a photo (or a hints file for the open photo); False if nothing changed."""
        if path.suffix.lower() == ".json" and self.image is not None:
            return self.open_hints(path)
        if ask and not self.maybe_keep_work():
            return False
        self.setCursor(Qt.CursorShape.WaitCursor)
        try:
            image = load_image(path)
        except ImageLoadError as exc:
            self.show_error("Cannot open photo", str(exc))
            return False
        finally:
            self.unsetCursor()
        self.image = image
        self.history.reset(hints)
        self.saved_hints = ()
        self.hints_path = None
        self.output_path = None
        self.selected = None
        self.result_rgb = None
        self.hint_canvas.set_image(qimage_from_array(image.grey))
        self.result_canvas.set_image(None)
        if image.rgb is not None:
            self.original_canvas.set_image(qimage_from_array(image.rgb))
        self.original_action.setEnabled(image.rgb is not None)
        self.original_action.setChecked(image.rgb is not None)
        self.original_canvas.setVisible(image.rgb is not None)
        self.result_canvas.title = "Colorized" if image.rgb is None else "Recoloured"
        self.view.set(fit=True)
        self.palette_dock.set_suggested([])
        self._add_recent_file(path)
        self.settings.setValue("last_folder", str(path.resolve().parent))
        w, h = image.size
        self.status_label.setText(f"{w} x {h} px, {'colour' if image.is_colour else 'grey'}")
        message = f"Opened {path.name}" + ("; " + " ".join(image.notes) if image.notes else "")
        self.statusBar().showMessage(message, 8000)
        self._hints_changed(record=False)
        return True

    def _add_recent_file(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent_files() if p != str(path.resolve())]
        self.settings.setValue("recent_files", recent[:MAX_RECENT_FILES])
        self._rebuild_recent_menu()

    def _recent_files(self) -> list[str]:
        value = self.settings.value("recent_files", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for entry in self._recent_files():
            action = self.recent_menu.addAction(Path(entry).name)
            action.setToolTip(entry)
            action.triggered.connect(lambda checked=False, p=entry: self.open_path(Path(p)))
        self.recent_menu.setEnabled(bool(self._recent_files()))

    # ---------------------------------------------------------------- hints files
    @Slot()
    def open_hints_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open hints", self._start_folder(), HINTS_FILTER)
        if path:
            self.open_hints(Path(path))

    def open_hints(self, path: Path) -> bool:
        if self.image is None:
            return False
        try:
            hints = load_hints_file(path, self.image.size)
        except HintsFileError as exc:
            self.show_error("Cannot open hints", str(exc))
            return False
        self.history.push(hints)
        self.saved_hints = hints
        self.hints_path = path
        self._hints_changed()
        self.statusBar().showMessage(f"Loaded {len(hints)} hints from {path.name}", 5000)
        return True

    @Slot()
    def save_hints(self) -> bool:
        if self.hints_path is None:
            return self.save_hints_as()
        return self._write_hints(self.hints_path)

    @Slot()
    def save_hints_as(self) -> bool:
        if self.image is None:
            return False
        stem = self.image.path.stem if self.image.path else "hints"
        default = str(Path(self._start_folder()) / f"{stem}.hints.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save hints", default, HINTS_FILTER)
        return bool(path) and self._write_hints(Path(path))

    def _write_hints(self, path: Path) -> bool:
        try:
            save_hints_file(path, self.history.current, self.image.size)
        except OSError as exc:
            self.show_error("Cannot save hints", f"Saving {path.name} failed: {exc.strerror or exc}. "
                                                 "Nothing was overwritten.")
            return False
        self.hints_path = path
        self.saved_hints = self.history.current
        self.recovery.clear()
        self._update_actions()
        self.statusBar().showMessage(f"Saved hints to {path.name}", 5000)
        return True

    # ---------------------------------------------------------------- saving the result
    @Slot()
    def save_image(self) -> None:
        if self.output_path is None:
            self.save_image_as()
        else:
            self.save_image_to(self.output_path)

    @Slot()
    def save_image_as(self) -> None:
        if self.image is None:
            return
        stem = self.image.path.stem if self.image.path else "photo"
        default = str(Path(self._start_folder()) / f"{stem}-colorized.png")
        path, _ = QFileDialog.getSaveFileName(self, "Save colorized image", default, SAVE_FILTER)
        if path:
            path = Path(path)
            if path.suffix.lower() not in SAVE_FORMATS:
                path = path.with_suffix(".png")
            self.save_image_to(path)

    def save_image_to(self, path: Path) -> None:
        """Save the result for the current hints; waits (without blocking) for it if needed."""
        if self.image is None:
            return
        self._pending_save = path
        if self.shown_generation == self.generation and self.result_rgb is not None:
            self._start_save()
        else:
            self.statusBar().showMessage("Finishing the colorization before saving...")

    def _start_save(self) -> None:
        path, self._pending_save = self._pending_save, None
        rgb = self.result_rgb
        self._hints_being_saved = self.history.current

        def write() -> None:
            try:
                save_image(path, rgb)
                error = ""
            except ImageSaveError as exc:
                error = str(exc)
            except Exception as exc:  # noqa: BLE001 - reported to the user, never lost
                error = f"Saving {path.name} failed: {exc}"
            self.save_finished.emit(str(path), error)

        threading.Thread(target=write, daemon=True).start()

    @Slot(str, str)
    def _on_save_finished(self, path: str, error: str) -> None:
        if error:
            self.show_error("Cannot save image", error)
            return
        self.output_path = Path(path)
        self.saved_hints = self._hints_being_saved
        self.settings.setValue("last_folder", str(Path(path).parent))
        if not self.is_modified():
            self.recovery.clear()
        self._update_actions()
        self.statusBar().showMessage(f"Saved {Path(path).name}", 5000)

    # ================================================================ editing hints
    def _hints_changed(self, record: bool = True) -> None:
        self.hint_canvas.set_hints(self.history.current, self.selected)
        self._update_actions()
        if record:
            self.autosave_timer.start()
        self._request_colorize()

    def _shown_hints(self) -> tuple[Hint, ...]:
        hints = self.history.current
        if self._preview_points:
            hints = hints + (self._make_hint(self._preview_points),)
        return hints

    def _make_hint(self, points: list[tuple[float, float]]) -> Hint:
        radius = self.hint_canvas.brush_radius
        if len(points) == 1:
            return point_hint(points[0][0], points[0][1], self.colour, radius)
        return Hint(tuple((float(x), float(y)) for x, y in points), self.colour, float(radius))

    @Slot()
    def _request_colorize(self, draft: bool = False) -> None:
        if self.image is None:
            return
        self.generation += 1
        self.worker.request(ColorizeRequest(self.generation, self.image.grey, self._shown_hints(),
                                            self.saturation, self.engine_name, draft))

    @Slot()
    def _request_draft(self) -> None:
        self._request_colorize(draft=True)

    @Slot(list)
    def _on_stroke_changed(self, points: list) -> None:
        self._preview_points = points
        self.hint_canvas.preview = self._make_hint(points)
        self.hint_canvas.update()
        if not self.drag_timer.isActive():
            self.drag_timer.start()

    @Slot(list)
    def _on_stroke_finished(self, points: list) -> None:
        self.drag_timer.stop()
        self._preview_points = None
        self.hint_canvas.preview = None
        self.add_hint(self._make_hint(points))

    def add_hint(self, hint: Hint) -> None:
        self.history.push(self.history.current + (hint,))
        self.palette_dock.add_recent(hint.color)
        self.selected = None
        self._hints_changed()

    def _hint_at(self, x: float, y: float) -> int | None:
        hints = self.history.current
        if not hints:
            return None
        tolerance = 6.0 / self.hint_canvas.scale()
        distances = [h.distance_to(x, y) - h.radius for h in hints]
        best = int(np.argmin(distances))
        return best if distances[best] <= tolerance else None

    @Slot(float, float)
    def _on_remove_requested(self, x: float, y: float) -> None:
        index = self._hint_at(x, y)
        if index is not None:
            self.remove_hint(index)

    def remove_hint(self, index: int) -> None:
        hints = list(self.history.current)
        del hints[index]
        self.selected = None
        self.history.push(tuple(hints))
        self._hints_changed()

    @Slot(float, float)
    def _on_select_requested(self, x: float, y: float) -> None:
        self.selected = self._hint_at(x, y)
        if self.selected is not None:
            self.palette_dock.set_current(self.history.current[self.selected].color)
        self.hint_canvas.set_hints(self.history.current, self.selected)
        self._update_actions()

    @Slot()
    def delete_selected(self) -> None:
        if self.selected is not None:
            self.remove_hint(self.selected)

    @Slot()
    def undo(self) -> None:
        self.history.undo()
        self.selected = None
        self._hints_changed()

    @Slot()
    def redo(self) -> None:
        self.history.redo()
        self.selected = None
        self._hints_changed()

    @Slot()
    def clear_hints(self) -> None:
        self.history.push(())
        self.selected = None
        self._hints_changed()

    @Slot(tuple)
    def choose_colour(self, colour: tuple) -> None:
        """The brush colour; with a hint selected, that hint is recoloured (one undo step)."""
        self.colour = tuple(int(c) for c in colour)
        self.palette_dock.set_current(self.colour)
        if self.selected is not None and self.selected < len(self.history.current):
            hints = list(self.history.current)
            hints[self.selected] = hints[self.selected].with_color(self.colour)
            self.history.push(tuple(hints))
            self.palette_dock.add_recent(self.colour)
            self._hints_changed()

    def set_tool(self, tool: Tool) -> None:
        for canvas in (self.hint_canvas, self.result_canvas, self.original_canvas):
            canvas.tool = tool
        self.tool_actions[tool].setChecked(True)
        self.palette_dock.eyedropper.blockSignals(True)
        self.palette_dock.eyedropper.setChecked(tool == Tool.EYEDROPPER)
        self.palette_dock.eyedropper.blockSignals(False)
        if tool != Tool.SELECT:
            self.selected = None
            self.hint_canvas.set_hints(self.history.current, None)
        cursor = Qt.CursorShape.PointingHandCursor if tool != Tool.PAINT else Qt.CursorShape.CrossCursor
        self.hint_canvas.setCursor(cursor)

    @Slot(bool)
    def _on_eyedropper_toggled(self, on: bool) -> None:
        self.set_tool(Tool.EYEDROPPER if on else Tool.PAINT)

    def _pick_from(self, rgb: np.ndarray | None, x: float, y: float) -> None:
        if rgb is None:
            return
        h, w = rgb.shape[:2]
        col, row = int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))
        patch = rgb[max(0, row - 1):row + 2, max(0, col - 1):col + 2].reshape(-1, 3)
        self.choose_colour(tuple(int(v) for v in np.rint(patch.mean(axis=0))))
        self.set_tool(Tool.PAINT)

    @Slot(float, float)
    def _on_pick_result(self, x: float, y: float) -> None:
        self._pick_from(self.result_rgb, x, y)

    @Slot(float, float)
    def _on_pick_original(self, x: float, y: float) -> None:
        self._pick_from(self.image.rgb if self.image else None, x, y)

    def set_radius(self, radius: float) -> None:
        self.palette_dock.radius.setValue(float(min(max(radius, 0.5), 100.0)))

    @Slot(float)
    def _on_radius_changed(self, radius: float) -> None:
        self.hint_canvas.brush_radius = radius
        self.settings.setValue("brush_radius", radius)

    @Slot(float)
    def _on_saturation_changed(self, value: float) -> None:
        self.saturation = value
        self._request_colorize()

    def set_engine(self, name: str | None) -> None:
        self.engine_name = name
        self.engine_actions[name].setChecked(True)
        self._request_colorize()

    def zoom_actual(self) -> None:
        self.view.set(zoom=1.0, centre=self.hint_canvas.centre())

    @Slot(bool)
    def _on_show_original_toggled(self, on: bool) -> None:
        self.original_canvas.setVisible(on and self.image is not None and self.image.rgb is not None)

    # ================================================================ worker results
    @Slot(int)
    def _on_result_ready(self, generation: int) -> None:
        payload = self.worker.take_result(generation)
        if payload is None or generation < self.shown_generation:
            return  # superseded in the outbox, or older than what is on screen
        self.show_result(generation, payload[0])

    def show_result(self, generation: int, rgb: np.ndarray) -> None:
        if generation < self.shown_generation:
            return  # older than what is on screen
        self.shown_generation = generation
        self.result_rgb = rgb
        self.result_canvas.set_image(qimage_from_array(rgb))
        if generation == self.generation and self._pending_save is not None:
            self._start_save()

    @Slot(int)
    def _on_palette_ready(self, generation: int) -> None:
        colours = self.worker.take_palette(generation)
        if colours is not None and generation == self.generation:
            self.palette_dock.set_suggested(colours)

    @Slot(int, str)
    def _on_worker_failed(self, generation: int, message: str) -> None:
        self._pending_save = None
        self.show_error("Colorization problem", message)

    @Slot(str, str)
    def _on_engine_changed(self, name: str, note: str) -> None:
        labels = {"neural": "Neural network", "levin": "Optimization (hints only)"}
        self.palette_dock.engine_label.setText(f"Engine: {labels.get(name, name)}")
        if note:
            self.statusBar().showMessage(note, 15000)
            self.palette_dock.engine_label.setToolTip(note)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.palette_dock.busy.setVisible(busy)

    # ================================================================ recovery
    @Slot()
    def _autosave(self) -> None:
        if self.image is not None and self.image.path is not None and self.is_modified():
            self.recovery.save(self.image.path.resolve(), self.history.current, self.image.size)

    def _ask_restore(self, image_path: Path, count: int) -> bool:
        answer = QMessageBox.question(
            self, "Restore unsaved work?",
            f"ColorMe was closed with {count} unsaved hints on {image_path.name}. Restore them?")
        return answer == QMessageBox.StandardButton.Yes

    def offer_recovery(self) -> bool:
        saved = self.recovery.load()
        if saved is None:
            return False
        image_path, hints = saved
        if not hints or not image_path.exists():
            self.recovery.clear()
            return False
        if not self._ask_restore(image_path, len(hints)):
            self.recovery.clear()
            return False
        if not self.open_path(image_path, ask=False):
            return False
        self.history.push(hints)
        self._hints_changed()
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
            self.resize(1280, 760)
        state = self.settings.value("window_state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        radius = float(self.settings.value("brush_radius", 3.0))
        self.palette_dock.radius.setValue(radius)
        self.hint_canvas.brush_radius = radius
        self._rebuild_recent_menu()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if not self.maybe_keep_work():
            event.ignore()
            return
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("window_state", self.saveState())
        self.worker.stop()
        self.recovery.clear()
        event.accept()
