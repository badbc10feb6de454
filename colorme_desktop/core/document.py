"""The open photo and everything the user did to it, in one owner without Qt.

The window used to keep this as fifteen attributes beside its menus, and the brush
radius lived in three places; the two kinds of "saved" drifted apart and work was lost.
Here every piece of state has one home, every change goes through an operation, and
each operation tells the listeners what changed, so views only ever redraw from here.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from colorme_desktop.core.hints import MAX_RADIUS, Hint, colour_hints, keep_hint, point_hint
from colorme_desktop.core.history import HintHistory
from colorme_desktop.core.imageio import LoadedImage, PhotoMetadata

Color = tuple[int, int, int]

# In image pixels.  Below one pixel a hint is a dot nobody can see or hit again; above
# 64 on a photo of RADIUS_MAX_SIDE pixels a single click recolours a region the network
# should decide about.  A larger photo allows a brush as much larger: on a 5000 px scan 64
# px was a dot of 1 % of its width (a walk-through).
RADIUS_MIN = 1.0
RADIUS_MAX = 64.0
RADIUS_MAX_SIDE = 1024
RADIUS_DEFAULT = 4.0
DEFAULT_COLOUR: Color = (200, 120, 60)
# What [ and ] step through, RADIUS_MIN to the photo's largest brush: sizes a user can read
# and come back to.  Multiplying by 1.25 left "7.81 px" after three presses from 4.
BRUSH_SIZES = (RADIUS_MIN, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 20.0, 24.0, 32.0, 40.0, 48.0,
               RADIUS_MAX, 80.0, 96.0, 128.0, 160.0, 192.0, 256.0, 320.0, 384.0, 448.0)


def radius_max_for(size: tuple[int, int] | None) -> float:
    """The largest brush radius for a photo of ``size`` (width, height); RADIUS_MAX without one.
    Never beyond what a hints file may hold (``hints.MAX_RADIUS``): hints saved with a wider
    brush would not open again."""
    long_side = max(size) if size else 0
    return min(round(RADIUS_MAX * max(1.0, long_side / RADIUS_MAX_SIDE)), MAX_RADIUS)


def brush_sizes(largest: float = RADIUS_MAX) -> list[float]:
    """``BRUSH_SIZES`` up to ``largest``, which ends them: the sizes a photo's brush takes."""
    return [size for size in BRUSH_SIZES if size < largest - 1e-6] + [largest]


def next_brush_size(radius: float, larger: bool, largest: float = RADIUS_MAX) -> float:
    """The next of ``brush_sizes(largest)`` above (or below) ``radius``; the end one at either end."""
    sizes = brush_sizes(largest)
    if larger:
        return next((size for size in sizes if size > radius + 1e-6), sizes[-1])
    return next((size for size in reversed(sizes) if size < radius - 1e-6), sizes[0])


class Tool(enum.Enum):
    PAINT = "paint"
    KEEP = "keep"  # paints keep hints: the colour there stays as it is without hints
    SELECT = "select"
    EYEDROPPER = "eyedropper"

    @property
    def paints(self) -> bool:
        """A click paints a point and a drag a stroke."""
        return self in (Tool.PAINT, Tool.KEEP)


class Unsaved(enum.Enum):
    """What closing now would lose."""

    IMAGE = "image"  # the colorized result as it is now was never written to a file
    HINTS = "hints"  # the hints as they are now are in no hints file


class Change(enum.Flag):
    NONE = 0
    IMAGE = enum.auto()  # another photo was opened
    HINTS = enum.auto()  # the committed hints (an undo step)
    PREVIEW = enum.auto()  # a stroke or a move the user is still dragging
    SELECTION = enum.auto()
    BRUSH = enum.auto()
    RENDER = enum.auto()  # saturation or engine: the result has to be made again
    RESULT = enum.auto()  # a new result arrived
    SAVED = enum.auto()  # a saved state or a path changed


def clamp_radius(radius: float, largest: float = RADIUS_MAX) -> float:
    """A usable brush radius from anything (a stored setting may be out of range or NaN)."""
    try:
        radius = float(radius)
    except (TypeError, ValueError):
        return RADIUS_DEFAULT
    if not math.isfinite(radius):
        return RADIUS_DEFAULT
    return min(max(radius, RADIUS_MIN), largest)


@dataclass(frozen=True)
class Brush:
    colour: Color = DEFAULT_COLOUR
    radius: float = RADIUS_DEFAULT
    tool: Tool = Tool.PAINT


@dataclass(frozen=True)
class RenderKey:
    """Everything a result depends on: a result is current only if its key is the document's."""

    photo: int  # counts opened photos, so a result for the previous photo never counts
    hints: tuple[Hint, ...]
    saturation: float
    engine: str | None
    draft: bool = False  # a quick result while the user drags: never what gets saved
    preview: bool = False  # made at screen resolution: shown while current, never saved
    reference: int = 0  # which colour photo the colours come from (0: none)
    own_colours: bool = False  # a colour photo recoloured from its own colours, not the automatic ones


@dataclass(frozen=True)
class ImageSave:
    """An image save the user asked for, ready to be written by whoever does the writing."""

    path: Path
    rgb: np.ndarray
    key: RenderKey
    alpha: np.ndarray | None = None  # the photo's transparency, kept where the format can hold it
    metadata: PhotoMetadata | None = None  # its resolution and EXIF, kept in the saved file


Listener = Callable[[Change], None]


class Document:
    def __init__(self, on_change: Listener | None = None, max_undo: int = 500) -> None:
        self._listeners: list[Listener] = [on_change] if on_change else []
        self._history = HintHistory(max_steps=max_undo)
        self._image: LoadedImage | None = None
        self._photo = 0
        self._selected: int | None = None
        self._brush = Brush()
        # The radius the user chose and the long side of the photo it was chosen on
        # (``brush_choice``): each photo's brush is sized from these, not from the last
        # photo's, which a tiny one clamps to the smallest brush.
        self._chosen_radius = self._brush.radius
        self._brush_side: int | None = None
        self._preview: tuple[Hint, ...] | None = None
        self.saturation = 1.0
        self.engine: str | None = None  # None: the best available
        # A colour photo starts from its own colours and the hints change them; off, it is
        # coloured from its grey like any other photo.  A reference photo, when chosen, wins.
        self.keep_own_colours = True
        self.hints_path: Path | None = None
        self.output_path: Path | None = None
        self._saved_hints: tuple[Hint, ...] = ()
        # What the saved image was made from: hints, saturation, reference photo number (0:
        # none), own colours.
        self._saved_render: tuple[tuple[Hint, ...], float, int, bool] = ((), 1.0, 0, False)
        self._result: np.ndarray | None = None
        self._result_key: RenderKey | None = None
        self._pending_save: Path | None = None
        self._reference: LoadedImage | None = None  # a colour photo to take colours from
        self.reference_path: Path | None = None
        self._reference_number = 0

    # ------------------------------------------------------------ listening
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _changed(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    # ------------------------------------------------------------ reading
    @property
    def image(self) -> LoadedImage | None:
        return self._image

    @property
    def image_path(self) -> Path | None:
        return self._image.path if self._image else None

    @property
    def hints(self) -> tuple[Hint, ...]:
        return self._history.current

    @property
    def shown_hints(self) -> tuple[Hint, ...]:
        """The hints as the user sees them, with a stroke or move still being dragged."""
        return self._preview if self._preview is not None else self._history.current

    @property
    def selected(self) -> int | None:
        return self._selected

    @property
    def brush(self) -> Brush:
        return self._brush

    @property
    def result(self) -> np.ndarray | None:
        """The newest colorized RGB image (it may be for hints that changed since)."""
        return self._result

    def can_undo(self) -> bool:
        return self._history.can_undo()

    def can_redo(self) -> bool:
        return self._history.can_redo()

    def render_key(self) -> RenderKey:
        return RenderKey(self._photo, self.shown_hints, self.saturation, self.engine, reference=self._reference_key(),
                         own_colours=self.recolours_own_colours)

    @property
    def recolours_own_colours(self) -> bool:
        """The result starts from the photo's own colours (a colour photo, no reference photo)."""
        return (self.keep_own_colours and self._image is not None and self._image.rgb is not None
                and self._reference is None)

    def _render_settings(self) -> tuple[tuple[Hint, ...], float, int, bool]:
        """What the image as it is now is made from, as ``_saved_render`` records it."""
        return self.hints, self.saturation, self._reference_key(), self.recolours_own_colours

    def _reference_key(self) -> int:
        """The reference photo's number, 0 for none: what a result was made with."""
        return self._reference_number if self._reference is not None else 0

    @property
    def reference_rgb(self) -> np.ndarray | None:
        return self._reference.rgb if self._reference is not None else None

    @property
    def result_is_current(self) -> bool:
        """The result shows the current hints and settings (at screen or full resolution)."""
        return (self._result is not None and self._result_key is not None
                and replace(self._result_key, preview=False) == self.render_key())

    @property
    def full_result_is_current(self) -> bool:
        """The result is current and at full resolution: what a save writes."""
        return self.result_is_current and not self._result_key.preview

    def hint_colours(self) -> list[Color]:
        """Distinct colours of the hints in the order first painted, so each keeps its place."""
        return list(dict.fromkeys(hint.color for hint in colour_hints(self.hints)))

    # ------------------------------------------------------------ saved states
    @property
    def hints_modified(self) -> bool:
        return self.hints != self._saved_hints

    @property
    def image_modified(self) -> bool:
        return self._image is not None and self._render_settings() != self._saved_render

    def unsaved(self) -> list[Unsaved]:
        """What closing now would lose; hints count only if there are any to lose.  In the
        order the window saves them: the hints (a small file, at once), then the image (in
        the background); the question lists them so (a walk-through saw the hints' file
        dialog come first under a list that named the image first)."""
        items = []
        if self.hints_modified and self.hints:
            items.append(Unsaved.HINTS)
        if self.image_modified:
            items.append(Unsaved.IMAGE)
        return items

    # ------------------------------------------------------------ photo
    def open(self, image: LoadedImage, hints: Sequence[Hint] = (), hints_path: Path | None = None) -> None:
        """Start on a new photo.  Given hints count as unsaved (a restored session), unless
        they were read from ``hints_path`` (saved beside the photo): then they are the saved
        ones, and the photo coloured with them is nothing to lose either."""
        _freeze(image.grey, image.rgb, image.alpha)
        side = max(image.size)
        # The brush keeps its size in proportion to the photo: 64 px chosen on a 5000 px scan
        # was a tenth of the 640 px photo opened next (a walk-through).  Sized from the radius
        # as chosen, not as the last photo had it: after an 8 x 14 px image had clamped it to
        # 1 px, a 6000 px photo opened with a 375 px brush, and every later photo in
        # proportion (a walk-through).  Until the user chooses a radius, none is scaled: the
        # default, taken as chosen on whatever photo came first, made a first 8 x 14 px image
        # size it for every later one in the same way.
        if self._brush_side and side != self._brush_side:
            largest = radius_max_for(image.size)
            wanted = clamp_radius(self._chosen_radius * side / self._brush_side, largest)
            radius = min(brush_sizes(largest), key=lambda size: abs(math.log(size / wanted)))  # as [ and ] step
        else:
            radius = clamp_radius(self._chosen_radius, radius_max_for(image.size))
        if radius != self._brush.radius:
            self._brush = replace(self._brush, radius=radius)
        if self._brush.tool == Tool.KEEP:
            # Keeping a colour means something only beside this photo's colour hints: carried
            # over, the first strokes on the next photo were keep hints that changed nothing
            # (a walk-through).  Select and paint carry over.
            self._brush = replace(self._brush, tool=Tool.PAINT)
        self._image = image
        self._photo += 1
        self._history.reset(tuple(hints))
        self._selected = None
        self._preview = None
        saved = tuple(hints) if hints_path is not None else ()
        self._saved_hints = saved
        # The saturation was the last photo's: carried over, it changed a colour photo
        # opened for recolouring before any hint, and its saved copy (a walk-through).
        self.saturation = 1.0
        # A photo just opened is nothing to lose, whatever saturation, reference photo and
        # colours it opens with; changing any afterwards is.
        self._saved_render = (saved, self.saturation, self._reference_key(), self.recolours_own_colours)
        self.hints_path = hints_path
        self.output_path = None
        self._result = None
        self._result_key = None
        self._pending_save = None
        self._changed(Change.IMAGE | Change.HINTS | Change.SELECTION | Change.SAVED | Change.RESULT | Change.BRUSH)

    # ------------------------------------------------------------ hints
    def _commit(self, hints: tuple[Hint, ...], selected: int | None = None) -> None:
        before = self._history.current
        self._history.push(hints)
        self._preview = None
        selection_changed = selected != self._selected
        self._selected = selected
        change = Change.PREVIEW
        if self._history.current != before:
            change |= Change.HINTS
        if selection_changed:
            change |= Change.SELECTION
        self._changed(change)

    def make_hint(self, points: Sequence[tuple[float, float]]) -> Hint:
        """A hint along ``points`` with the brush's colour and radius (a keep hint with Keep)."""
        b = self._brush
        if b.tool == Tool.KEEP:
            return keep_hint(points, b.radius)
        if len(points) == 1:
            return point_hint(points[0][0], points[0][1], b.colour, b.radius)
        return Hint(tuple((float(x), float(y)) for x, y in points), b.colour, float(b.radius))

    def add_hint(self, hint: Hint) -> None:
        self._commit(self.hints + (hint,))

    def preview_stroke(self, points: Sequence[tuple[float, float]]) -> None:
        self._preview = self.hints + (self.make_hint(points),)
        self._changed(Change.PREVIEW)

    def finish_stroke(self, points: Sequence[tuple[float, float]]) -> None:
        """The stroke the user painted becomes one undo step."""
        self.add_hint(self.make_hint(points))

    def hint_at(self, x: float, y: float, tolerance: float = 0.0) -> int | None:
        """The topmost hint whose painted area is within ``tolerance`` of (x, y)."""
        best, best_distance = None, math.inf
        for index, hint in enumerate(self.hints):
            distance = hint.distance_to(x, y) - hint.radius
            # <= keeps the later (topmost) of overlapping hints, as they are drawn.
            if distance <= tolerance and distance <= best_distance:
                best, best_distance = index, distance
        return best

    def remove_hint(self, index: int) -> None:
        hints = list(self.hints)
        del hints[index]
        self._commit(tuple(hints))

    def delete_selected(self) -> None:
        if self._selected is not None:
            self.remove_hint(self._selected)

    def clear_hints(self) -> None:
        self._commit(())

    def select(self, index: int | None) -> None:
        if index is not None and not 0 <= index < len(self.hints):
            index = None
        if index == self._selected:
            return
        self._selected = index
        change = Change.SELECTION
        if index is not None and not self.hints[index].keep:
            # Picking a hint shows its colour as the brush's, ready to paint more of it.
            self._brush = replace(self._brush, colour=self.hints[index].color)
            change |= Change.BRUSH
        self._changed(change)

    def _moved(self, dx: float, dy: float) -> tuple[Hint, ...]:
        hints = list(self.hints)
        if self._selected is None:
            return tuple(hints)
        hint = hints[self._selected]
        width, height = self._image.size if self._image else (math.inf, math.inf)
        # Clamp the shift so the whole hint stays on the photo, as hints files require.
        xs = [x for x, _ in hint.points]
        ys = [y for _, y in hint.points]
        dx = min(max(dx, -min(xs)), width - max(xs))
        dy = min(max(dy, -min(ys)), height - max(ys))
        hints[self._selected] = hint.moved_to([(x + dx, y + dy) for x, y in hint.points])
        return tuple(hints)

    def preview_move(self, dx: float, dy: float) -> None:
        """Show the selected hint shifted by (dx, dy) while the user drags it."""
        if self._selected is not None:
            self._preview = self._moved(dx, dy)
            self._changed(Change.PREVIEW)

    def finish_move(self, dx: float, dy: float) -> None:
        """The whole drag is one undo step; a drag that ends where it began is none."""
        if self._selected is not None:
            self._commit(self._moved(dx, dy), self._selected)

    def cancel_preview(self) -> None:
        if self._preview is not None:
            self._preview = None
            self._changed(Change.PREVIEW)

    def undo(self) -> None:
        if self._history.can_undo():
            self._history.undo()
            self._after_history_step()

    def redo(self) -> None:
        if self._history.can_redo():
            self._history.redo()
            self._after_history_step()

    def _after_history_step(self) -> None:
        self._preview = None
        self._selected = None
        self._changed(Change.HINTS | Change.SELECTION | Change.PREVIEW)

    # ------------------------------------------------------------ brush
    def set_colour(self, colour: Color) -> None:
        """The brush colour; with a hint selected, that hint takes it too (one undo step).

        A colour chosen while the Keep tool is on is one to paint with: Paint comes back."""
        colour = tuple(int(c) for c in colour)
        if colour != self._brush.colour or self._brush.tool == Tool.KEEP:
            tool = Tool.PAINT if self._brush.tool == Tool.KEEP else self._brush.tool
            self._brush = replace(self._brush, colour=colour, tool=tool)
            self._changed(Change.BRUSH)
        selected = None if self._selected is None else self.hints[self._selected]
        if selected is not None and (selected.color != colour or selected.keep):
            hints = list(self.hints)
            hints[self._selected] = hints[self._selected].with_color(colour)
            self._commit(tuple(hints), self._selected)

    @property
    def radius_max(self) -> float:
        """The largest brush radius for the open photo (``radius_max_for``); before one is
        open, for the photo the brush was last sized on."""
        if self._image is not None:
            return radius_max_for(self._image.size)
        return radius_max_for((self._brush_side, self._brush_side) if self._brush_side else None)

    @property
    def brush_choice(self) -> tuple[float, int | None]:
        """The radius the user chose and the long side of the photo it was chosen on, if
        any: a photo of another size opens with the brush as large a part of it."""
        return self._chosen_radius, self._brush_side

    def restore_brush_radius(self, radius: object, side: int | None) -> None:
        """The radius kept from an earlier session (anything: a settings store may hold junk),
        and the long side of the photo it was chosen on."""
        self._brush_side = side if isinstance(side, int) and side > 0 else None
        self.set_radius(clamp_radius(radius, self.radius_max))

    def set_radius(self, radius: float) -> None:
        """The user's choice of radius, for the open photo and, in proportion, the next ones."""
        radius = clamp_radius(radius, self.radius_max)
        if self._image is not None:
            self._brush_side = max(self._image.size)
        if radius != self._chosen_radius or radius != self._brush.radius:  # kept as chosen, too
            self._chosen_radius = radius
            self._brush = replace(self._brush, radius=radius)
            self._changed(Change.BRUSH)

    def set_tool(self, tool: Tool) -> None:
        if tool == self._brush.tool:
            return
        self._brush = replace(self._brush, tool=tool)
        change = Change.BRUSH
        if tool != Tool.SELECT and self._selected is not None:
            self._selected = None
            change |= Change.SELECTION
        self._changed(change)

    # ------------------------------------------------------------ how the result is made
    def set_saturation(self, saturation: float) -> None:
        if saturation != self.saturation:
            self.saturation = float(saturation)
            self._changed(Change.RENDER)

    def set_engine(self, engine: str | None) -> None:
        if engine != self.engine:
            self.engine = engine
            self._changed(Change.RENDER)

    def set_keep_own_colours(self, keep: bool) -> None:
        """Recolour colour photos from their own colours (True) or from their grey; kept across photos."""
        if keep != self.keep_own_colours:
            self.keep_own_colours = bool(keep)
            self._changed(Change.RENDER)

    def set_reference(self, image: LoadedImage | None, path: Path | None = None) -> None:
        """Take colours from a colour photo of a similar scene (None: stop); kept across photos."""
        if image is not None and image.rgb is None:
            raise ValueError("a reference photo must have colour")
        self._reference, self.reference_path = image, path if image is not None else None
        self._reference_number += 1
        self._changed(Change.RENDER)

    def set_result(self, rgb: np.ndarray, key: RenderKey) -> None:
        """A result for ``key``; one for another photo is dropped."""
        if key.photo != self._photo:
            return
        _freeze(rgb)
        self._result, self._result_key = rgb, key
        self._changed(Change.RESULT)

    # ------------------------------------------------------------ files
    def hints_loaded(self, hints: Sequence[Hint], path: Path) -> None:
        """Hints read from ``path`` replace the current ones (one undo step) and are saved."""
        self._saved_hints = tuple(hints)
        self.hints_path = path
        self._commit(tuple(hints))
        self._changed(Change.SAVED)

    def hints_saved(self, hints: Sequence[Hint], path: Path) -> None:
        self._saved_hints = tuple(hints)
        self.hints_path = path
        self._changed(Change.SAVED)

    def request_image_save(self, path: Path) -> None:
        """Save the result for the current hints to ``path`` once it is ready."""
        self._pending_save = path

    @property
    def image_save_pending(self) -> bool:
        return self._pending_save is not None

    def cancel_image_save(self) -> None:
        self._pending_save = None

    def take_image_save(self) -> ImageSave | None:
        """The requested save, if the full-resolution result for the committed hints is here; else None."""
        if self._pending_save is None or self._preview is not None or not self.full_result_is_current:
            return None
        path, self._pending_save = self._pending_save, None
        return ImageSave(path, self._result, self._result_key, self._image.alpha, self._image.metadata)

    def image_saved(self, save: ImageSave) -> None:
        """``save`` was written: the image is saved as it was when the save began."""
        if save.key.photo != self._photo:
            return
        self._saved_render = (save.key.hints, save.key.saturation, save.key.reference, save.key.own_colours)
        self.output_path = save.path
        self._changed(Change.SAVED)


def _freeze(*arrays: np.ndarray | None) -> None:
    """The document's photos and results are shown without copies (ui.canvas): a write to
    one would change the screen behind the document's back, so it fails instead."""
    for array in arrays:
        if array is not None:
            array.flags.writeable = False
