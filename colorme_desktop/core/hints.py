"""Colour hints: immutable values in image coordinates, their rasterising and their file."""

from __future__ import annotations

import json
import math
import os
import re
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorme_desktop.core.color import (
    add_chroma_of,
    chroma_of,
    keep_by_colour,
    luma,
    upsample_by_colour,
    upsample_chroma,
)
from colorme_desktop.core.imageio import MAX_PIXELS, NotARegularFileError, open_regular_file, write_text_atomically

HINTS_FILE_VERSION = 2  # 2: "keep" hints; a file without them is still written as version 1
MAX_POINTS_TOTAL = 200_000  # beyond this a file is far more than anyone paints by hand
MAX_RADIUS = 500.0
MAX_FILE_BYTES = 32 * 1024 * 1024

Color = tuple[int, int, int]


@dataclass(frozen=True)
class Hint:
    """One click (a single point) or one stroke (several points) of one colour.

    Coordinates are in pixels of the image as loaded (after EXIF rotation): x is the
    column and y the row; the hint covers every pixel within ``radius`` of its path.

    A ``keep`` hint asks for no colour of its own: what it covers keeps the colour it has
    without hints (the automatic colour, or a colour photo's own), so that another hint's
    colour stops there.  Its ``color`` is then only a placeholder (``KEEP_PLACEHOLDER``).
    """

    points: tuple[tuple[float, float], ...]
    color: Color
    radius: float = 2.0
    keep: bool = False

    @property
    def is_point(self) -> bool:
        return len(self.points) == 1

    def with_color(self, color: Color) -> Hint:
        """This hint painted in ``color`` (a keep hint given a colour becomes a colour hint)."""
        return Hint(self.points, color, self.radius)

    def moved_to(self, points: Sequence[tuple[float, float]], radius: float | None = None) -> Hint:
        """The same hint along ``points`` (and with ``radius``, if given)."""
        return replace(self, points=tuple(points), radius=self.radius if radius is None else radius)

    def distance_to(self, x: float, y: float) -> float:
        """Distance from (x, y) to this hint's path, used to pick a hint under the mouse."""
        pts = np.asarray(self.points, dtype=np.float64)
        if len(pts) == 1:
            return float(np.hypot(*(pts[0] - (x, y))))
        a, b = pts[:-1], pts[1:]
        ab = b - a
        length2 = np.maximum((ab * ab).sum(axis=1), 1e-12)
        t = np.clip(((np.array([x, y]) - a) * ab).sum(axis=1) / length2, 0.0, 1.0)
        closest = a + ab * t[:, None]
        return float(np.hypot(closest[:, 0] - x, closest[:, 1] - y).min())


KEEP_PLACEHOLDER: Color = (128, 128, 128)  # a keep hint's colour: mid grey, never painted


def keep_hint(points: Sequence[tuple[float, float]], radius: float = 2.0) -> Hint:
    return Hint(tuple((float(x), float(y)) for x, y in points), KEEP_PLACEHOLDER, float(radius), keep=True)


def colour_hints(hints: Sequence[Hint]) -> tuple[Hint, ...]:
    """The hints that ask for a colour (not the keep hints)."""
    return tuple(hint for hint in hints if not hint.keep)


def point_hint(x: float, y: float, color: Color, radius: float = 2.0) -> Hint:
    return Hint(((float(x), float(y)),), tuple(int(c) for c in color), float(radius))


def hex_color(color: Color) -> str:
    return "#{:02x}{:02x}{:02x}".format(*color)


# int(..., 16) alone also takes "-1", "+f" and " f"; only six hex digits make a colour.
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def parse_hex_color(text: Any) -> Color:
    if not isinstance(text, str) or not _HEX_COLOR.fullmatch(text):
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
        raise ValueError(f"{shown} is not a colour of the form #rrggbb")
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


_SHIFT = 4  # OpenCV draws with 4 fractional bits: hints keep sub-pixel positions


def _fixed(v: float, scale: float) -> int:
    return int(round(v * scale * (1 << _SHIFT)))


def rasterize(hints: Sequence[Hint], size: tuple[int, int], scale: float = 1.0,
              grey: np.ndarray | None = None, photo: tuple[np.ndarray, np.ndarray] | None = None,
              base: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw hints onto a canvas of ``size`` = (width, height).

    Returns ``(chroma, mask)``: chroma (H, W, 2) float32 holds each hinted pixel's Cb/Cr
    and zero elsewhere, mask (H, W) float32 is 1 where a hint lies.  ``scale`` maps image
    coordinates to the canvas (a working-size canvas has scale < 1).  Later hints paint
    over earlier ones, as the user sees them on screen.  Given the canvas's ``grey``, the
    brush stops at edges (``_within_edges``).  Given ``photo`` = (a colour photo at full
    size, the same at the canvas's size), only canvas pixels of a colour like the photo's
    under the stroke are kept (``_like_the_path``).  A keep hint's pixels hold ``base``
    there, the chroma (H, W, 2) the canvas has without hints; without ``base``, none (grey).
    """
    owner = _owners(hints, size, scale)
    if grey is not None:
        _within_edges(owner, hints, grey, scale)
    if photo is not None:
        _like_the_path(owner, hints, *photo)
    table = np.zeros((len(hints) + 1, 2), dtype=np.float32)
    if hints:
        table[1:] = chroma_of(np.array([hint.color for hint in hints], dtype=np.uint8))
    chroma = table[owner]
    kept = [number for number, hint in enumerate(hints, start=1) if hint.keep]
    if kept:
        under_keep = np.isin(owner, kept)
        chroma[under_keep] = 0.0 if base is None else base[under_keep]
    return chroma, (owner > 0).astype(np.float32)


# A brush is wider than the line the hand drew.  Where its edge crosses onto something
# else (a roof's brush over the sky), the pixels there are not what the user meant to
# colour: fixed to the hint's colour they tinted the whole sky.  A brush pixel whose grey
# lies outside the range seen along the stroke's own path (10th-90th percentile, widened by
# this margin) is left to the propagation, which takes colour across an edge only as far
# as the pixels are alike.  Within ``BRUSH_CORE_PX`` of the path the brush is kept as drawn:
# a click or a thin brush (and the evaluation's 5 x 5 hints) are what the user chose; with
# the rule applied to all of them, validation lost 0.01-0.09 dB and the share of the asked
# change achieved at the hint fell from 0.96 to 0.92.
BRUSH_GREY_MARGIN = 10.0
BRUSH_CORE_PX = 2.0


def _within_edges(owner: np.ndarray, hints: Sequence[Hint], grey: np.ndarray, scale: float) -> None:
    """Drop from ``owner`` (in place) each hint's brush pixels unlike the grey under its path."""
    wide = [number for number, hint in enumerate(hints, start=1) if hint.radius * scale > BRUSH_CORE_PX]
    if not wide:
        return  # every brush pixel lies within the core (a thin brush, or a small canvas): nothing to drop
    path = _owners([h.moved_to(h.points, radius=0.0) for h in hints], owner.shape[::-1], scale)
    beyond_core = cv2.distanceTransform((path == 0).astype(np.uint8), cv2.DIST_L2, 3) > BRUSH_CORE_PX
    g = grey.astype(np.float32)
    for number in wide:
        on_path = g[path == number]
        if on_path.size == 0:
            continue  # its path is painted over by later hints: the brush stays as drawn
        low, high = np.percentile(on_path, (10, 90))
        brush = owner == number
        unlike = (g < low - BRUSH_GREY_MARGIN) | (g > high + BRUSH_GREY_MARGIN)
        owner[brush & unlike & beyond_core] = 0


# Recolouring on a working-size canvas: a brush is at least a pixel there, and a pixel there
# is many of the photo's.  Fixed to the hint, a pixel that is mostly road beside a thin bike
# tube carried the tube's new blue over the road.  A canvas pixel is kept only if its colour
# is within this RGB distance of the photo's colour somewhere under the stroke's path (the
# mean of 5 x 5 full-size pixels there); thinner things are coloured by the exact painting.
RECOLOUR_MATCH = 40.0
PATH_SAMPLES = 32


def path_points(hint: Hint, samples: int = PATH_SAMPLES) -> Sequence[tuple[float, float]]:
    """About ``samples`` of a hint's points, evenly along its path: a long stroke has hundreds."""
    return hint.points[::max(1, len(hint.points) // samples)]


def patch_mean(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """The mean of the 5 x 5 pixels of ``image`` (H, W) or (H, W, C) around image point (x, y),
    clipped to the image: what a hint was painted on there."""
    height, width = image.shape[:2]
    col, row = min(max(int(x), 0), width - 1), min(max(int(y), 0), height - 1)
    patch = image[max(0, row - 2):row + 3, max(0, col - 2):col + 3]
    return patch.reshape(-1, *image.shape[2:]).mean(axis=0)


def _like_the_path(owner: np.ndarray, hints: Sequence[Hint], rgb: np.ndarray, rgb_small: np.ndarray) -> None:
    """Drop from ``owner`` (in place) each hint's pixels unlike the colour photo under its path."""
    for number, hint in enumerate(hints, start=1):
        ys, xs = np.nonzero(owner == number)
        if not len(ys):
            continue
        samples = [patch_mean(rgb, x, y) for x, y in path_points(hint)]
        here = rgb_small[ys, xs].astype(np.float32)
        distance = np.linalg.norm(here[:, None, :] - np.array(samples, dtype=np.float32)[None], axis=-1)
        nearest = distance.min(axis=1)
        unlike = nearest > RECOLOUR_MATCH
        likest = int(np.argmin(nearest))
        if unlike.all() and nearest[likest] <= 2.0 * RECOLOUR_MATCH:
            # A click on texture (leaves, waves) can be unlike every pixel of the small canvas
            # under it, which are averages; the likest one still carries the hint, or the click
            # would colour only its own dot.  Twice the distance, not any: a pixel mostly of the
            # ground beside a thing thinner than itself is still dropped.
            unlike[likest] = False
        owner[ys[unlike], xs[unlike]] = 0


def _owners(hints: Sequence[Hint], size: tuple[int, int], scale: float) -> np.ndarray:
    """A canvas of ``size`` holding on each pixel the number (from 1) of the last hint on it."""
    width, height = size
    # One canvas holds the number of the last hint drawn on each pixel; colours are looked
    # up once at the end.  A canvas per hint made a file at the point limit take minutes.
    owner = np.zeros((height, width), dtype=np.int32)
    for number, hint in enumerate(hints, start=1):
        radius_px = hint.radius * scale
        if radius_px < 0.75:
            # Too small to draw as a disc: mark the pixel(s) the path passes through.
            for x, y in _densify(hint.points, scale):
                col, row = int(math.floor(x * scale)), int(math.floor(y * scale))
                if 0 <= row < height and 0 <= col < width:
                    owner[row, col] = number
        else:
            pts = np.array([[_fixed(x, scale), _fixed(y, scale)] for x, y in hint.points], dtype=np.int32)
            r = int(round(radius_px))
            if len(pts) == 1:
                cv2.circle(owner, tuple(int(v) for v in pts[0]), int(round(radius_px * (1 << _SHIFT))),
                           number, thickness=-1, lineType=cv2.LINE_8, shift=_SHIFT)
            else:
                cv2.polylines(owner, [pts], isClosed=False, color=number, thickness=2 * r + 1,
                              lineType=cv2.LINE_8, shift=_SHIFT)
    return owner


def lightness_gap(hint: Hint, grey: np.ndarray) -> float:
    """The hint colour's luma less the photo's median grey along its path (grey levels).

    Only colour is added; the photo keeps its brightness, so a dark brown painted on a
    white horse comes out a pale tint of it.  The window says so when this is large.
    """
    colour = luma(np.array([[hint.color]], dtype=np.uint8))[0, 0]
    return float(colour) - float(np.median([patch_mean(grey, x, y) for x, y in path_points(hint)]))


def scale_hints(hints: Sequence[Hint], sx: float, sy: float) -> tuple[Hint, ...]:
    """The hints on a copy of the photo resized by (sx, sy): a screen-size preview."""
    return tuple(h.moved_to([(x * sx, y * sy) for x, y in h.points], h.radius * sx) for h in hints)


def finish(chroma: np.ndarray, grey: np.ndarray, hints: Sequence[Hint], shown: np.ndarray | None = None,
           edge_aware: bool = True, base_rgb: np.ndarray | None = None,
           brushes: BrushCache | None = None, keep: np.ndarray | None = None) -> np.ndarray:
    """An engine's working-size chroma -> its output: upsampled with the grey as the
    guide, then the painted pixels made exact.

    ``shown`` is the photo as the screen shows it (a smaller copy of ``grey``); given, the
    output is at its size, with the hints moved onto it.  Every engine finishes here, so a
    preview is the full-resolution result shrunk, computed from the same working size.

    ``base_rgb`` (a colour photo at the output's size) makes ``chroma`` a change to its
    colours: the change is upsampled and added to them, so a recoloured photo keeps its own
    colour detail.  ``brushes`` keeps the hints' drawing for the next call (``paint_exact``).
    ``keep`` (B, 256, 256): the share of the change each grey level and colour of
    ``base_rgb`` takes (``color.keep_by_colour``), applied at the output's size, where the
    colours are sharp.
    """
    out = grey if shown is None else shown
    if out.shape != grey.shape:
        hints = scale_hints(hints, out.shape[1] / grey.shape[1], out.shape[0] / grey.shape[0])
    # One working pixel covers this many output pixels: the upsampling blurs a hint's
    # colour over about that distance, so that is how far it is settled back.
    settle = out.shape[1] / chroma.shape[1] if edge_aware else 0.0
    if base_rgb is None:
        return paint_exact(upsample_chroma(chroma, out, edge_aware=edge_aware), hints, out, settle, brushes=brushes)
    change = upsample_by_colour(chroma, base_rgb)
    if keep is not None:
        keep_by_colour(change, base_rgb, out, keep)
    full = add_chroma_of(change, base_rgb)
    return paint_exact(full, hints, out, settle, look=base_rgb, brushes=brushes)


SETTLE_GREY = 10.0  # grey levels: pixels this much lighter or darker than the painted ones are another thing


def paint_exact(chroma: np.ndarray, hints: Sequence[Hint], grey: np.ndarray | None = None,
                settle: float = 0.0, look: np.ndarray | None = None,
                brushes: BrushCache | None = None) -> np.ndarray:
    """Set each hinted pixel of a full-resolution chroma (H, W, 2) to its hint's colour.

    Engines solve at a working size and upsample; this makes what the user painted exact
    at every pixel under the brush afterwards (given ``grey``, every pixel under the brush
    that is like the grey along its path: ``rasterize``).  With ``settle`` > 1 (output pixels per
    working pixel) and the output's ``grey``, the pixels next to the brush that look like
    the painted ones take the same correction (whole within ``settle`` pixels, then
    fading): otherwise an exact dot sits in a ring that the upsampling left short of the
    colour asked for.
    Each hint is drawn on a canvas the size of its own bounding box, so the cost follows
    the painted area, not the photo's size.  ``look`` (a colour photo being recoloured,
    (H, W, 3)) is what "look like the painted ones" compares instead of the grey.
    ``brushes`` keeps each hint's drawing and settling weights for the next call on the
    same output (the drafts of a stroke repaint every earlier hint).
    A keep hint gives its pixels back the colour they had before any hint was painted
    exactly (what the engine solved there), over the earlier hints it covers.
    """
    height, width = chroma.shape[:2]
    look = grey if look is None else look
    settle = settle if grey is not None and settle > 1.0 else 0.0
    drawn = []
    for hint in hints:
        hint_settle = 0.0 if hint.keep else settle
        if brushes is None:
            brush = _brush(hint, (width, height), grey, look, hint_settle)
        else:
            brush = brushes.get(hint, (width, height), grey, look, hint_settle)
        drawn.append(brush)
    solved = {index: chroma[brush.rows, brush.cols][brush.painted]
              for index, (hint, brush) in enumerate(zip(hints, drawn)) if hint.keep and brush is not None}
    for index, (hint, brush) in enumerate(zip(hints, drawn)):
        if brush is None:
            continue
        region = chroma[brush.rows, brush.cols]
        if hint.keep:
            region[brush.painted] = solved[index]
            continue
        if brush.weight is not None:
            correction = cv2.blur((brush.colour - region) * brush.mask[..., None], brush.box) / brush.safe[..., None]
            region += correction * brush.weight[..., None]
        region[brush.painted] = brush.colour[brush.painted]
    return chroma


@dataclass(frozen=True)
class _Brush:
    """One hint drawn on its bounding box of an output, and how its surroundings settle."""

    rows: slice
    cols: slice
    colour: np.ndarray  # (h, w, 2) the hint's chroma where painted, else 0
    mask: np.ndarray  # (h, w) float32, 1 where painted
    painted: np.ndarray  # (h, w) bool
    box: tuple[int, int] = (1, 1)  # the settling's box filter
    safe: np.ndarray | None = None  # (h, w) painted share within the box, kept from zero
    weight: np.ndarray | None = None  # (h, w) how much of the correction each pixel takes; None: no settling

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.colour, self.mask, self.painted, self.safe, self.weight) if a is not None)


def _brush(hint: Hint, size: tuple[int, int], grey: np.ndarray | None, look: np.ndarray | None,
           settle: float) -> _Brush | None:
    width, height = size
    xs = [x for x, _ in hint.points]
    ys = [y for _, y in hint.points]
    reach = hint.radius + 2 + int(math.ceil(2 * settle))
    x0, y0 = max(0, int(math.floor(min(xs) - reach))), max(0, int(math.floor(min(ys) - reach)))
    x1, y1 = min(width, int(math.ceil(max(xs) + reach)) + 1), min(height, int(math.ceil(max(ys) + reach)) + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    rows, cols = slice(y0, y1), slice(x0, x1)
    local = hint.moved_to([(x - x0, y - y0) for x, y in hint.points])
    colour, mask = rasterize([local], (x1 - x0, y1 - y0), grey=None if grey is None else grey[rows, cols])
    brush = _Brush(rows, cols, colour, mask, mask > 0)
    if not settle:
        return brush
    # The correction fades out over a second working pixel, inside the box: cut off at the
    # box's edge while still whole, it left a hard-edged square around a grey click on a
    # 3600 px photo (a walk-through, session 17).
    box = (2 * int(math.ceil(2 * settle)) + 1,) * 2
    near = cv2.blur(mask, box)
    if not (near > 0).any():
        return brush
    return replace(brush, box=box, safe=np.maximum(near, 1e-6),
                   weight=_settle_weight(look[rows, cols], mask, near, box, settle))


def _settle_weight(look: np.ndarray, mask: np.ndarray, near: np.ndarray, box: tuple[int, int],
                   settle: float) -> np.ndarray:
    """How much of the correction its painted pixels need each pixel around a hint takes.

    Box means (cheap at any size) give each pixel the average look (grey, or R, G and B of
    a colour photo) of the painted pixels near it; the correction fades with the distance
    to the brush and with the difference in look, so it stops at an edge.  Whole within
    ``settle`` pixels of the brush, it falls smoothly to nothing at twice that, where the
    box ends.
    """
    safe = np.maximum(near, 1e-6)
    g = look.astype(np.float32).reshape(*look.shape[:2], -1)
    painted = cv2.blur(g * mask[..., None], box).reshape(g.shape) / safe[..., None]
    unlike = ((g - painted) ** 2).sum(axis=-1) / SETTLE_GREY ** 2
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 3)
    beyond = np.clip(distance / settle - 1.0, 0.0, 1.0)
    fade = 1.0 - beyond * beyond * (3.0 - 2.0 * beyond)  # smoothstep: 1 at settle, 0 at 2 settle
    return fade * np.exp(-0.5 * unlike) * (near > 0)


class BrushCache:
    """Hints drawn for ``paint_exact``, kept for the next call on the same output.

    Each draft of a stroke repaints every earlier hint on the same screen-size output; at
    15 hints that drawing took 8-12 ms of a 12 MP draft.  An entry is used only for the
    same hint, output size and settling, and the very same ``look`` array (the engine
    keeps one per size), so nothing stale is painted.  Bounded by memory: a long stroke on
    a full-resolution save would be a large entry, so large ones are not kept.
    """

    def __init__(self, max_bytes: int = 32 * 2**20) -> None:
        self._entries: OrderedDict = OrderedDict()  # key -> (what it was drawn on, brush)
        self._bytes = 0
        self._max_bytes = max_bytes

    def get(self, hint: Hint, size: tuple[int, int], grey: np.ndarray | None, look: np.ndarray | None,
            settle: float) -> _Brush | None:
        key = (hint, size, settle)
        entry = self._entries.get(key)
        if entry is not None and all(_is(ref, array) for ref, array in zip(entry[0], (grey, look))):
            self._entries.move_to_end(key)
            return entry[1]
        self._forget(key)
        brush = _brush(hint, size, grey, look, settle)
        cost = 0 if brush is None else brush.nbytes
        if cost <= self._max_bytes // 4:
            drawn_on = tuple(None if array is None else weakref.ref(array) for array in (grey, look))
            self._entries[key] = (drawn_on, brush)
            self._bytes += cost
            while self._bytes > self._max_bytes:
                self._forget(next(iter(self._entries)))
        return brush

    def _forget(self, key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None and entry[1] is not None:
            self._bytes -= entry[1].nbytes


def _is(ref: weakref.ref | None, array: np.ndarray | None) -> bool:
    return array is None if ref is None else ref() is array


def _densify(points: Iterable[tuple[float, float]], scale: float) -> list[tuple[float, float]]:
    points = list(points)
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        steps = max(1, int(math.ceil(math.hypot(x1 - x0, y1 - y0) * scale)))
        out.extend((x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps) for t in range(1, steps + 1))
    return out


# ---------------------------------------------------------------- hints file (JSON)

class HintsFileError(Exception):
    """The hints file cannot be used; the message says what is wrong."""


def hints_to_dict(hints: Sequence[Hint], image_size: tuple[int, int]) -> dict:
    entries = []
    for hint in hints:
        entry: dict[str, Any] = {"keep": True} if hint.keep else {"color": hex_color(hint.color)}
        entry["radius"] = hint.radius
        if hint.is_point:
            entry = {"x": hint.points[0][0], "y": hint.points[0][1], **entry}
        else:
            entry = {"points": [[x, y] for x, y in hint.points], **entry}
        entries.append(entry)
    # Version 1 when it suffices: a ColorMe from before keep hints still reads the file.
    # One with them says "newer than this ColorMe understands" instead of painting grey.
    version = HINTS_FILE_VERSION if any(hint.keep for hint in hints) else 1
    return {"version": version, "image_size": [int(image_size[0]), int(image_size[1])], "hints": entries}


def save_hints_file(path: str | os.PathLike, hints: Sequence[Hint], image_size: tuple[int, int]) -> None:
    write_text_atomically(path, json.dumps(hints_to_dict(hints, image_size), indent=1))


def load_hints_file(path: str | os.PathLike, image_size: tuple[int, int] | None = None
                    ) -> tuple[Hint, ...]:
    """Read and fully validate a hints file; nothing is returned unless all of it is valid."""
    path = Path(path)
    try:
        with open_regular_file(path) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES:
                raise HintsFileError(f"{path.name} is larger than {MAX_FILE_BYTES // 2**20} MB; "
                                     "it cannot be a hints file.")
            raw = handle.read(MAX_FILE_BYTES + 1)
    except HintsFileError:
        raise
    except NotARegularFileError as exc:
        raise HintsFileError(f"Cannot read hints file: {exc}") from None
    except OSError as exc:
        raise HintsFileError(f"Cannot read hints file {path.name}: {exc.strerror or exc}.") from exc
    try:
        data = parse_json(raw)
    except ValueError as exc:
        raise HintsFileError(f"{path.name} {exc}") from None
    try:
        return hints_from_dict(data, image_size)
    except HintsFileError as exc:
        raise HintsFileError(f"{path.name}: {exc}") from None


def parse_json(raw: bytes | str) -> Any:
    """``json.loads`` that fails only with ValueError and a short message that reads on
    after the file's name ("x.json is not valid JSON: ...").

    Editors on Windows start UTF-8 files with a byte-order mark; it is skipped.  Deep
    nesting (RecursionError) and NaN/Infinity, which are not JSON, are refused.
    """
    try:
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("is nested too deeply to be a ColorMe file") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4300 digits
        raise ValueError(f"is not valid JSON: {str(exc).splitlines()[0][:200]}") from None


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in a hints file")


def hints_from_dict(data: Any, image_size: tuple[int, int] | None = None) -> tuple[Hint, ...]:
    if not isinstance(data, dict):
        raise HintsFileError("A hints file must hold a JSON object.")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise HintsFileError("The hints file has no integer 'version'.")
    if abs(version) > 10**6:
        raise HintsFileError("The hints file has no sensible 'version'.")
    if version > HINTS_FILE_VERSION:
        raise HintsFileError(f"The hints file is version {version}, newer than this ColorMe "
                             f"understands (version {HINTS_FILE_VERSION}); please update ColorMe.")
    if version < 1:
        raise HintsFileError(f"Unknown hints file version {version}.")
    size = data.get("image_size")
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_PIXELS for v in size)):
        raise HintsFileError("'image_size' must be [width, height] in whole pixels.")
    width, height = size
    if image_size is not None and tuple(image_size) != (width, height):
        raise HintsFileError(f"The hints were made for a {width} x {height} image, but this image is "
                             f"{image_size[0]} x {image_size[1]}.")
    entries = data.get("hints")
    if not isinstance(entries, list):
        raise HintsFileError("'hints' must be a list.")
    hints: list[Hint] = []
    total_points = 0
    for index, entry in enumerate(entries):
        where = f"hint {index + 1}"
        if not isinstance(entry, dict):
            raise HintsFileError(f"{where} is not an object.")
        keep = entry.get("keep", False)
        if not isinstance(keep, bool):
            raise HintsFileError(f"{where}: 'keep' must be true or false.")
        if keep:
            color = KEEP_PLACEHOLDER
        elif "color" not in entry:
            raise HintsFileError(f"{where} has no colour (\"color\": \"#rrggbb\", or \"keep\": true).")
        else:
            try:
                color = parse_hex_color(entry["color"])
            except ValueError as exc:
                raise HintsFileError(f"{where}: {exc}.") from None
        radius = entry.get("radius", 2)
        radius = _number(radius, f"{where}: radius")
        if not 0 <= radius <= MAX_RADIUS:
            raise HintsFileError(f"{where}: radius {radius} is outside 0..{MAX_RADIUS:g}.")
        if "points" in entry:
            raw = entry["points"]
            if not isinstance(raw, list) or not raw:
                raise HintsFileError(f"{where}: 'points' must be a non-empty list of [x, y].")
            total_points += len(raw)
            if total_points > MAX_POINTS_TOTAL:
                raise HintsFileError(f"The file holds more than {MAX_POINTS_TOTAL} points; "
                                     "that is more than ColorMe accepts.")
            points = []
            for p in raw:
                if not isinstance(p, list) or len(p) != 2:
                    raise HintsFileError(f"{where}: each point must be [x, y].")
                points.append((_number(p[0], f"{where}: x"), _number(p[1], f"{where}: y")))
        elif "x" in entry and "y" in entry:
            total_points += 1
            points = [(_number(entry["x"], f"{where}: x"), _number(entry["y"], f"{where}: y"))]
        else:
            raise HintsFileError(f"{where} has neither 'x'/'y' nor 'points'.")
        for x, y in points:
            if not (0 <= x <= width and 0 <= y <= height):
                raise HintsFileError(f"{where}: point ({x:g}, {y:g}) lies outside the "
                                     f"{width} x {height} image.")
        hints.append(Hint(tuple(points), color, radius, keep=keep))
    return tuple(hints)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HintsFileError(f"{what} must be a number, not {type(value).__name__}.")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        raise HintsFileError(f"{what} is far too large.") from None
    if not math.isfinite(number):
        raise HintsFileError(f"{what} must be finite.")
    return number
