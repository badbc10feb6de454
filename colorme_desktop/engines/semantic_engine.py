"""The semantic engine: automatic colour from frozen DINOv2 features, hints spread by object.

Per opened photo the backbone runs once (about 0.2 s at 224 px on two cores); its tokens,
the automatic colour and the pixel graph are kept for every later stroke, so a stroke
costs only one sparse solve at the working size.  A hint changes colour where the photo
shows the same thing as at the hint and fades elsewhere (``engines.propagation``); no
step moves every pixel because of one hint.

A colour photo can be recoloured from its own colours (``colorize(..., photo_rgb=)``): they
take the automatic colour's place, the hints change them the same way, and everything
the hints do not reach keeps the photo's colour to the pixel.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from colorme_desktop.core.color import (
    CHROMA_TABLE_HALF,
    chroma_of,
    chroma_of_color,
    chroma_size,
    shares_by_colour,
    upsample_chroma,
    working_fit,
)
from colorme_desktop.core.hints import BrushCache, Hint, colour_hints, finish, patch_mean, path_points, rasterize
from colorme_desktop.core.palette import PointSuggestions, likely_colors, point_suggestions_of
from colorme_desktop.engines.base import EngineError, give_up_if, image_key
from colorme_desktop.engines.numpy_nets import PATCH, Dinov2Runtime, HeadRuntime, backbone_size
from colorme_desktop.engines.propagation import (
    PCG_TOLERANCE,
    LruCache,
    Spreader,
    affinity_laplacian,
    feature_map,
    nonlocal_target,
    token_components,
    token_likeness,
)
from colorme_desktop.engines.weights import BACKBONE_FILE, HEAD_FILE, load_checked, weights_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SemanticSettings:
    """How outputs become colour and how far hints reach; tuned on validation only.

    The only source of these values is the weights manifest (``weights.json``), written
    by ``training.tune_semantic``; there are deliberately no defaults here to drift from it.
    """

    temperature: float  # annealed mean of the colour bins: below 1 is more vivid
    blend: float  # share of the annealed mean against the regression head
    chroma_scale: float  # the automatic colour's strength: below 1 where the prior is unsure
    working_side: int  # long side at which hints are spread
    draft_side: int  # the same while the user is still dragging
    feature_softness: float  # how strongly a change in DINOv2 features stops a hint
    grey_cap: float  # cap on the local grey variance (grey 0-1): lower cuts hints at fainter edges
    decay: float  # how fast one hint's change fades; divided by N for N hints
    decay_power: float  # ... by N ** decay_power, to be exact
    nonlocal_softness: float  # how alike in features far pixels must be to follow a hint; 0: off
    hints_share: float  # hints at which the hints' own propagation gets half the say (see colorize)
    belief_softness: float  # how alike a cell must be for a hint to reweigh the heads' belief there
    belief_strength: float  # ... and how strongly, for one hint (divided by N ** decay_power for N); 0: off

    @classmethod
    def from_manifest(cls, entry: dict) -> SemanticSettings:
        values = entry.get("inference") if isinstance(entry, dict) else None
        names = [f.name for f in fields(cls)]
        if not isinstance(values, dict) or any(not isinstance(values.get(n), (int, float)) for n in names):
            raise EngineError(f"{HEAD_FILE}: weights.json lacks valid inference settings ({', '.join(names)}).")
        return cls(**{n: int(values[n]) if n.endswith("_side") else float(values[n]) for n in names})


# The reach channel only weighs the prior's say (at most own = N / (N + share)), so it
# stops stepping sooner than the colours: on the 256 px sample, 12 hint sets of 1-30
# hints, 2e-3 moved no result by more than 0.36 grey levels of chroma (1e-2: 11) and
# took the median solve from 93 to 87 ms.
REACH_TOLERANCE = 2e-3

# A hint's far reach follows its token, 14 px of the backbone's 224: on a thin thing (a
# bike's tube at 3600 px, 2.5 px there) that token is mostly what lies behind it, and the
# tube's red went to the wall's and the wheels' tokens (a walk-through, session 17).  Each
# hint point's far reach is weighed by the share of its token's pixels (at the backbone's
# size) within THING_GREY_WITHIN grey levels of the grey painted on (5 x 5 pixels): none up
# to THING_SHARE_NONE, whole from THING_SHARE_WHOLE.  The tube's points: 0.12-0.33.
FAR_REACH_SAMPLES = 8  # points of a stroke that reach far: a few, not hundreds of near-copies
THING_GREY_WITHIN = 15.0
THING_SHARE_NONE = 0.25
THING_SHARE_WHOLE = 0.5

# A hint reweighs the heads' belief (their bins' probabilities) in the cells like it by a
# Gaussian around its colour of this width (chroma levels; one bin): where they hesitated
# between its colour and another, they now choose its; where they found it unlikely (red on
# green-or-brown grass), the likely colour nearest it (brown).  Session 22, ``_believed``.
BELIEF_WIDTH = 16.0

# Recolouring: a change (chroma levels) below the first is dropped, above the second kept
# whole, and between them it grows from nothing.  The graph's weak links carry a trace of a
# recoloured coat's change into a dark neighbour (2.6-3 levels over a person's black trousers,
# invisible but not "keeps its colour"); what a hint asks for is tens of levels.
TRACE_BELOW = 3.0
TRACE_WHOLE_FROM = 6.0


def _whole_or_none(spread: np.ndarray) -> np.ndarray:
    """A recolouring's change (h, w, 2) from its solve's ``spread`` (h, w, 3: the change, and
    the hints' reach 0..1): the change each pixel would take at the hints' full strength (the
    change over the reach: where several hints reach, their colours mixed as they reach it),
    times a membership that is 0 or 1 but for a narrow step (``RECOLOUR_NONE_BELOW``)."""
    reach = np.clip(spread[..., 2:], 0.0, 1.0)
    step = np.clip((reach - RECOLOUR_NONE_BELOW) / (RECOLOUR_WHOLE_FROM - RECOLOUR_NONE_BELOW), 0.0, 1.0)
    member = step * step * (3.0 - 2.0 * step)
    return spread[..., :2] / np.maximum(reach, RECOLOUR_NONE_BELOW) * member


def _without_traces(change: np.ndarray) -> np.ndarray:
    """A recolouring's working-size ``change`` (h, w, 2) with traces dropped (``TRACE_BELOW``)."""
    size = chroma_size(change)
    keep = np.clip((size - TRACE_BELOW) / (TRACE_WHOLE_FROM - TRACE_BELOW), 0.0, 1.0)
    return change * keep[..., None]


# A recolouring hint fades this much more slowly than one on a grey photo: since only the
# colours and lightness it was painted on can take its change (below), it may reach
# further through them.  A green stroke along the top left of a clear sky (session 15)
# turned at least half of the asked change on 40 % of the blue sky at the full fade, 54 %
# at 0.3 (none of its right third) and 99 % at 0.1; the clouds, hills and rock stay.
RECOLOUR_DECAY_SHARE = 0.1

# Recolouring takes a thing's pixels whole or not at all, by how far the hints reach them (a
# third channel of the solve, 1 at the hints, fading as their change does): under the first
# of these shares none, from the second on all of the hints' colour, smoothly between.  A
# faded share of a change is a muddle of both colours: one blue stroke on a bus's orange
# front left its panels in blotches of violet, magenta and orange (a walk-through, session
# 23).  The step is narrow: the reach changes slowly across a flat panel, and with a step
# from 0.4 to 0.5 a whole panel at 0.45-0.48 came out lavender (the next walk-through).  The
# reach is smooth, so its edge at the step is a smooth line, not specks.  Measured on
# validation (70 strokes along one colour, asked to turn 120 degrees of hue): the share of
# the thing's pixels left half-way (20-80 % of the change) 49 -> 13 %, taken whole 17 ->
# 38 %; other colours' pixels moved by over 10 levels 14.5 -> 6.2 % (the model card).
RECOLOUR_NONE_BELOW = 0.44
RECOLOUR_WHOLE_FROM = 0.46

# Recolouring changes the colours the hints were painted on, not others: a pixel whose own
# chroma is within the first of these (grey levels; ``_colour_distance``) of a colour a hint
# was painted on takes the spread change whole, from the second on none of it; judged at
# the output's size, where a thing's edge is sharp.  The graph's colour cut alone did not
# stop it (session 15, found by a walk-through): a link of 3 % between a white horse and tan
# grass (21 levels apart) still let the grass around the horse take a visible share of the
# horse's red, and a small brown rock under a recoloured sky took a third of the sky's
# change, because nothing but the weak fade holds a region no hint reaches to its own colour.
LIKE_WHOLE_BELOW = 8.0
LIKE_NONE_FROM = 20.0
LIKE_SOURCES_MAX = 64  # distinct hinted colours compared with (a long stroke has hundreds)
# A colour this strong has a hue: the same hue up to this factor stronger or weaker is the
# same colour lit otherwise.  Measured by plain distance, the lit shoulders of a blue jacket
# painted red (30 levels weaker than its shaded back) stayed blue in patches.
HUE_FROM = 12.0
SAME_UP_TO_FACTOR = 2.0
# ... and light turns a strong colour's hue a little (the jacket's lit shoulders by 8
# degrees toward cyan, 15 levels at its strength of 85): a turn this large counts as
# ``LIKE_WHOLE_BELOW`` at most, while red against orange (30 degrees) stays apart.
HUE_TURN_WHOLE_DEGREES = 10.0
# Chroma cannot tell white from grey or black, nor a clear sky from the dark grey-blue
# shadows of a rock under it: lightness can.  Within one thing, light and shade differ
# by a factor up to 1.5 (a white horse's lit back and shaded belly, 215 and 150); the
# dark mud between its legs (about 100) is another thing.
GREY_WHOLE_WITHIN = 1.5
GREY_NONE_BEYOND = 2.0
# A strong colour names its thing by its hue alone, and its shade goes much darker than
# that: a blue jacket (85 levels strong) painted red on its shaded back kept its lit
# shoulders, the folds and the hood's shadow blue (grey 100, 40 and 25 against 65; a
# walk-through, session 16).  From the first strength to the second, the factors widen
# to these.  The clear sky over the rock is 24-28 levels strong: judged as before.
STRONG_COLOUR_FROM = 40.0
STRONG_COLOUR_AT = 70.0
GREY_WHOLE_WITHIN_STRONG = 3.0
GREY_NONE_BEYOND_STRONG = 4.0
KEEP_GREY_BINS = 16  # grey levels of the table, 17 apart, interpolated between


def _painted_on(own: np.ndarray, grey: np.ndarray, hints: Sequence[Hint], scale: float) -> np.ndarray:
    """What each hint was painted on, (k, 3): the medians of ``own`` (h, w, 2) and of
    ``grey`` (h, w) along its line (``scale``: working pixels per photo pixel).  The median,
    not every pixel the brush covered: a brush's edge on a white horse takes in enough of the
    tan grass beside it that all of the grass counted as painted on."""
    h, w = own.shape[:2]
    painted = []
    for hint in hints:
        points = np.asarray(path_points(hint), dtype=np.float32) * scale
        cols = np.clip(points[:, 0].astype(int), 0, w - 1)
        rows = np.clip(points[:, 1].astype(int), 0, h - 1)
        painted.append([*np.median(own[rows, cols], axis=0), np.median(grey[rows, cols])])
    return np.array(painted, dtype=np.float32).reshape(-1, 3)


def _colour_parts(own: np.ndarray, source: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """How far chromas ``own`` (..., 2) are from the colour ``source`` (2,), in two parts.

    From a near-grey source: the plain distance, and None.  From a colour with a hue
    (``HUE_FROM``): the change of hue (the part across the source's direction; for a strong
    colour a turn of ``HUE_TURN_WHOLE_DEGREES`` counts as little as a small step), and the
    log of the strength along it against the source's (``_colour_distance`` judges it).
    """
    strength = float(np.hypot(*source))
    if strength < HUE_FROM:
        return np.hypot(own[..., 0] - source[0], own[..., 1] - source[1]), None
    along = (own[..., 0] * source[0] + own[..., 1] * source[1]) / strength
    # The turn of hue, as the sine of its angle at the source's strength: measured at the
    # pixel's own strength, a lit shoulder 25 % stronger than the shade painted on counted
    # its 10 degrees as 10 levels and kept a fifth of its blue (session 16).
    own_strength = np.maximum(np.hypot(own[..., 0], own[..., 1]), 1e-3)
    across = np.abs(own[..., 0] * source[1] - own[..., 1] * source[0]) / own_strength
    across *= LIKE_WHOLE_BELOW / max(LIKE_WHOLE_BELOW, strength * np.tan(np.radians(HUE_TURN_WHOLE_DEGREES)))
    return across, np.log(np.maximum(along, 1e-3) / strength)


def _colour_distance(across: np.ndarray, log_ratio: np.ndarray | None, strength: float,
                     light: float = 1.0) -> np.ndarray:
    """How far, in grey levels, from ``_colour_parts``: the change of hue, and of strength
    only beyond ``SAME_UP_TO_FACTOR`` either way of what the source's would be at ``light``
    times its lightness (a colour's strength goes with the light on it: the deep folds of a
    blue jacket, at half its lightness, are half as strong and the same blue).  So shade
    and light on one thing stay one colour while white against tan, red against orange, or
    a hue's opposite, stay apart."""
    if log_ratio is None:
        return across
    beyond = np.maximum(np.abs(log_ratio - np.float32(np.log(light))) - np.float32(np.log(SAME_UP_TO_FACTOR)), 0.0)
    return np.hypot(across, beyond * np.float32(strength))


@functools.lru_cache(maxsize=LIKE_SOURCES_MAX)
def _keep_parts_of(cb: float, cr: float) -> tuple[np.ndarray, np.ndarray | None]:
    """``_colour_parts`` of every chroma, as (256, 256) tables over Cb and Cr, from the colour
    (``cb``, ``cr``); kept: each draft of a stroke asks again for the colours of every hint
    before it (20 hints took 34 ms a draft to compute afresh)."""
    levels = np.arange(-CHROMA_TABLE_HALF, CHROMA_TABLE_HALF, dtype=np.float32)
    grid = np.stack(np.meshgrid(levels, levels, indexing="ij"), axis=-1)
    parts = _colour_parts(grid, np.array([cb, cr], dtype=np.float32))
    for part in parts:
        if part is not None:
            part.flags.writeable = False  # shared by every later call
    return parts


def _keep_by_grey(grey: float, strength: float) -> np.ndarray:
    """How far each of ``KEEP_GREY_BINS`` grey levels counts as ``grey``, for a colour
    ``strength`` levels from grey: whole within a factor of ``GREY_WHOLE_WITHIN``, none
    beyond ``GREY_NONE_BEYOND``, wider for a strong colour (``STRONG_COLOUR_FROM``); on
    grey + 16, so that near black a few levels are not a large factor."""
    strong = np.clip((strength - STRONG_COLOUR_FROM) / (STRONG_COLOUR_AT - STRONG_COLOUR_FROM), 0.0, 1.0)
    whole = (1 - strong) * np.log(GREY_WHOLE_WITHIN) + strong * np.log(GREY_WHOLE_WITHIN_STRONG)
    none = (1 - strong) * np.log(GREY_NONE_BEYOND) + strong * np.log(GREY_NONE_BEYOND_STRONG)
    levels = np.linspace(0.0, 255.0, KEEP_GREY_BINS)
    apart = np.abs(np.log((levels + 16.0) / (grey + 16.0)))
    return np.clip((none - apart) / (none - whole), 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _keep_table_for(painted_on: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """``_keep_table`` of the things painted on, in the hints' order, kept: while a stroke
    is drawn only its own (last) entry changes, so the table of the ones before it is
    reused (20 hints: 25 ms a draft to combine afresh)."""
    if len(painted_on) > 1:
        return np.maximum(_keep_table_for(painted_on[:-1]), _keep_table_for(painted_on[-1:]))
    (cb, cr, grey), = painted_on
    across, log_ratio = _keep_parts_of(cb, cr)
    strength = float(np.hypot(cb, cr))
    table = np.zeros((KEEP_GREY_BINS, *across.shape), dtype=np.float16)  # 2 MB: half of float32
    levels = np.linspace(0.0, 255.0, KEEP_GREY_BINS)
    for index, (level, share) in enumerate(zip(levels, _keep_by_grey(grey, strength))):
        if share > 0.0:
            distance = _colour_distance(across, log_ratio, strength, (level + 16.0) / (grey + 16.0))
            table[index] = share * np.clip(
                (LIKE_NONE_FROM - distance) / (LIKE_NONE_FROM - LIKE_WHOLE_BELOW), 0.0, 1.0)
    table.flags.writeable = False
    return table


def _keep_table(painted_on: np.ndarray) -> np.ndarray:
    """The share of a recolouring's change that a pixel takes, by its own grey level and
    chroma (``color.keep_by_colour``): as much as it is the colour (``_colour_distance``:
    whole within ``LIKE_WHOLE_BELOW``, none from ``LIKE_NONE_FROM``) and the lightness
    (``_keep_by_grey``) of one thing painted on (``painted_on``, (k, 3): Cb, Cr, grey)."""
    rounded = (tuple(float(v) for v in np.round(entry / 2.0) * 2.0) for entry in painted_on)
    sources = list(dict.fromkeys(rounded))  # in the hints' order; 2 levels apart are one
    if len(sources) > LIKE_SOURCES_MAX:
        sources = [sources[i] for i in np.linspace(0, len(sources) - 1, LIKE_SOURCES_MAX).astype(int)]
    return _keep_table_for(tuple(sources))


# A working-size pixel this alike (its share by the keep table) carries a path from a hint.
# At a half, the lighter parts of a clear sky fell off the path and lost their change
# (49 % of a sky seen through leaves turned, against 54 % with no paths); at a fifth the
# sky turns as it did, and a white horse's red still stops short of the white specks in
# the grass (53 pixels outside the horse changed, against 280 with no paths; session 16).
JOINS_FROM = 0.2


def _reached_through_alike(rgb: np.ndarray, grey: np.ndarray, keep: np.ndarray, hints: Sequence[Hint],
                           scale: float) -> np.ndarray:
    """Where a recolouring's change may go, (h, w) at the working size: the pixels alike to
    what the hints were painted on (``keep``, at least ``JOINS_FROM``) that a path of such
    pixels joins to a hint, and one pixel around them.  Through the slow fade the change
    also reached white specks in the grass far from a white horse painted red
    (walk-throughs, sessions 15 and 16): of the colour painted on, but not joined to it.
    A hint on no such pixel (its own edge, say) gates nothing."""
    alike = shares_by_colour(rgb, grey, keep) >= JOINS_FROM
    _, labels = cv2.connectedComponents(alike.astype(np.uint8), connectivity=8)
    h, w = grey.shape
    joined = set()
    for hint in hints:
        reach = max(1, int(np.ceil(hint.radius * scale)))
        for x, y in hint.points:
            col, row = int(x * scale), int(y * scale)
            found = labels[max(0, row - reach):row + reach + 1, max(0, col - reach):col + reach + 1]
            joined.update(int(v) for v in np.unique(found) if v)
    if not joined:
        return np.ones((h, w), np.float32)
    allowed = np.isin(labels, sorted(joined)).astype(np.uint8)
    return cv2.dilate(allowed, np.ones((3, 3), np.uint8)).astype(np.float32)


def _does_not_fit(name: str, exc: Exception) -> EngineError:
    reason = str(exc).splitlines()[0] if str(exc) else repr(exc)
    return EngineError(f"{name} does not fit this version's network: {reason}")


def load_backbone(folder: Path | None = None) -> Dinov2Runtime:
    """The hash-checked backbone, run in numpy (``numpy_nets``): the app never imports torch."""
    arrays, _ = load_checked(folder or weights_dir(), BACKBONE_FILE)
    try:
        return Dinov2Runtime(arrays)
    except (KeyError, IndexError, ValueError) as exc:
        raise _does_not_fit(BACKBONE_FILE, exc) from exc


def load_head(folder: Path | None = None) -> tuple[HeadRuntime, SemanticSettings]:
    arrays, entry = load_checked(folder or weights_dir(), HEAD_FILE)
    try:
        head = HeadRuntime(arrays)
    except (KeyError, IndexError, ValueError) as exc:
        raise _does_not_fit(HEAD_FILE, exc) from exc
    return head, SemanticSettings.from_manifest(entry)


@dataclass
class _PhotoState:
    """What one photo costs once: tokens, automatic colour, and per working size the
    shrunk grey and the pixel graph with its solver's memory."""

    tokens: np.ndarray  # (384, h, w)
    components: np.ndarray  # (h, w, 32) the tokens' principal components (propagation.token_components)
    backbone_grey: np.ndarray  # (14 h, 14 w) the grey photo the backbone saw
    prior: np.ndarray  # (h8, w8, 2) automatic chroma at the head's resolution
    greys: dict  # (w, h) -> the photo at that size: shrinking 12 MP took 40 ms a stroke
    spreaders: dict  # (h, w, colour photo?) -> Spreader: the pixel graph at that size and its solver's memory
    own: dict  # (w, h) -> the colour photo at that size, when one is recoloured
    own_key: str = ""  # which colour photo ``own`` and the colour-cut graphs are of (``image_key``)
    brushes: BrushCache = field(default_factory=BrushCache)  # hints drawn on outputs: the next drafts repaint them
    likely: list = field(default_factory=list)  # colours the head finds likely somewhere (palette.likely_colors)
    log_probs: np.ndarray | None = None  # (bins, h8, w8) the heads' belief, as found (``at_points``, ``_believed``)
    regression: np.ndarray | None = None  # (2, h8, w8) their regression, which ``blend`` mixes in
    at_points: PointSuggestions | None = None  # colours likely at each cell, found when first asked


@dataclass(frozen=True)
class _FarPoints:
    """Points along the hints that the far reach and the belief reweighting look from."""

    points: np.ndarray  # (K, 2) positions as fractions of the photo's width and height
    trust: np.ndarray  # (K,) how far each point's token shows what was painted, over its stroke's points
    hint: np.ndarray  # (K,) which hint each point lies on


class SemanticEngine:
    name = "semantic"
    description = "DINOv2 features: automatic colour, hints spread to what they belong to."

    def __init__(self, backbone: Dinov2Runtime | None = None, head: HeadRuntime | None = None,
                 settings: SemanticSettings | None = None, cache_size: int = 4) -> None:
        if head is None:
            head, loaded = load_head()
            settings = settings or loaded
        if settings is None:
            raise EngineError("SemanticEngine needs its inference settings.")
        self.backbone = backbone if backbone is not None else load_backbone()
        self.head = head
        self.settings = settings
        self._lock = threading.Lock()  # one analysis at a time: two at once would only share the cores
        self._photos = LruCache(cache_size)
        self._draft_stop: Callable[[], bool] | None = None

    def set_draft_stop(self, stop: Callable[[], bool] | None) -> None:
        """``stop()`` says when a draft is no longer wanted (``engines.base.DraftSupersededError``)."""
        self._draft_stop = stop

    # -------------------------------------------------------------- per photo

    def _photo(self, grey: np.ndarray) -> _PhotoState:
        return self._photos.get(image_key(grey), lambda: self._analyse(grey))

    def _analyse(self, grey: np.ndarray) -> _PhotoState:
        size = backbone_size(grey.shape)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        with self._lock:
            tokens = self.backbone.tokens(small)
            log_probs, regression = self.head.outputs(tokens, small)
        prior = self.head.decode(log_probs, regression, self.settings.temperature, self.settings.blend)
        grey_at_prior = cv2.resize(small, (prior.shape[1], prior.shape[0]), interpolation=cv2.INTER_AREA)
        likely = likely_colors(np.exp(log_probs), self.head.centres, grey_at_prior)
        return _PhotoState(tokens=tokens, components=token_components(tokens), backbone_grey=small,
                           prior=prior * np.float32(self.settings.chroma_scale), greys={},
                           spreaders={}, own={}, likely=likely, log_probs=log_probs,
                           regression=regression)

    @staticmethod
    def _grey_at(state: _PhotoState, grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        if size == (grey.shape[1], grey.shape[0]):
            return grey
        if size not in state.greys:
            state.greys[size] = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        return state.greys[size]

    @staticmethod
    def _use_colour_photo(state: _PhotoState, rgb: np.ndarray) -> None:
        """Forget what was kept of another colour photo with the same grey (an edited copy)."""
        key = image_key(rgb)
        if key != state.own_key:
            state.own_key = key
            state.own.clear()
            for size in [size for size in state.spreaders if size[-1]]:
                del state.spreaders[size]

    def _own_rgb(self, state: _PhotoState, rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """The colour photo ``rgb`` (full size) at ``size``: the photo itself, or a kept copy."""
        if size == (rgb.shape[1], rgb.shape[0]):
            return rgb
        if size not in state.own:
            kept = {working_fit(rgb.shape, side) for side in (self.settings.working_side, self.settings.draft_side)}
            screens = [old for old in state.own if old not in kept]
            if len(screens) >= 2:  # the working sizes, and the last two screen sizes
                del state.own[screens[0]]
            state.own[size] = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        return state.own[size]

    def _spreader(self, state: _PhotoState, grey_small: np.ndarray, own_small: np.ndarray | None = None
                  ) -> Spreader:
        """The pixel graph at ``grey_small``'s size; given the colour photo's own chroma
        there (recolouring), another graph whose links its colour edges cut too."""
        key = (*grey_small.shape, own_small is not None)
        if key not in state.spreaders:
            features = feature_map(state.components, (grey_small.shape[1], grey_small.shape[0]), grey_small)
            laplacian = affinity_laplacian(grey_small, features, self.settings.feature_softness,
                                           grey_cap=self.settings.grey_cap, chroma=own_small)
            state.spreaders[key] = Spreader(laplacian, grey_small.shape[1])
        return state.spreaders[key]

    def prepare_strokes(self, grey: np.ndarray, photo_rgb: np.ndarray | None = None) -> None:
        """Build the pixel graph and factorise it before the first stroke asks.

        Called by the app while it waits for the user: otherwise the first stroke on a
        photo pays for both (0.5-1 s on two cores, the p95 outlier of the benchmarks).
        ``photo_rgb``: the graph for recolouring that colour photo (``colorize``).
        """
        state = self._photo(grey)
        size = working_fit(grey.shape, self.settings.working_side)
        if photo_rgb is not None:
            self._use_colour_photo(state, photo_rgb)
        own = None if photo_rgb is None else chroma_of(self._own_rgb(state, photo_rgb, size))
        spreader = self._spreader(state, self._grey_at(state, grey, size), own)
        if not spreader.primed:  # with the first stroke's decay, so that its drafts can be exact
            spreader.prime(self.settings.decay * (1.0 if photo_rgb is None else RECOLOUR_DECAY_SHARE))

    def _far_points(self, state: _PhotoState, grey: np.ndarray, hints: Sequence[Hint]) -> _FarPoints:
        """Where each hint reaches far from: a few points along it, and how far to trust each."""
        h, w = grey.shape
        points, trust, owner = [], [], []
        for index, hint in enumerate(hints):
            samples = path_points(hint, FAR_REACH_SAMPLES)
            for x, y in samples:
                points.append((min(max(x / w, 0.0), 1.0), min(max(y / h, 0.0), 1.0)))
                owner.append(index)
                # A stroke's points share one hint's weight.  Each at the whole weight, a
                # stroke's 8-15 samples weighed that many times what a dot does, so a token
                # that much less alike took the stroke's whole change: one red stroke on a
                # jacket turned a dog and a white horse 200 px away red and pink, and a green
                # one on a sweater the other girls' faces and jeans (a walk-through, session
                # 18).  The evaluation's dots, whose far reach was measured and tuned, have one
                # sample each.  Weighed by its likest point instead of its average, strokes
                # spilled more (validation, 384 px, ``training.evaluate``'s strokes: 0.061
                # against 0.055; every sample whole 0.097), each achieving 0.98.
                trust.append(self._token_is_the_thing(state, grey, x, y) / len(samples))
        return _FarPoints(np.array(points, dtype=np.float32).reshape(-1, 2), np.array(trust, dtype=np.float32),
                          np.array(owner, dtype=np.intp))

    def _nonlocal(self, state: _PhotoState, hints: Sequence[Hint], far: _FarPoints, prior: np.ndarray
                  ) -> np.ndarray:
        """Far-reaching part of the hints' change (``propagation.nonlocal_target``)."""
        ph, pw = prior.shape[:2]
        rows = np.minimum((far.points[:, 1] * ph).astype(int), ph - 1)
        cols = np.minimum((far.points[:, 0] * pw).astype(int), pw - 1)
        wanted = np.array([chroma_of_color(hint.color) for hint in hints], dtype=np.float32)[far.hint]
        # A keep hint asks for no change, here and on the things like it: a red stroke's far
        # reach then spares the other trunks like the one kept.
        kept = np.array([hint.keep for hint in hints])[far.hint]
        changes = np.where(kept[:, None], 0.0, wanted - prior[rows, cols]).astype(np.float32)
        return nonlocal_target(state.components, far.points, changes, (pw, ph), self.settings.nonlocal_softness,
                               far.trust)

    def _believed(self, state: _PhotoState, hints: Sequence[Hint], far: _FarPoints) -> np.ndarray:
        """The automatic colour (head grid, (h8, w8, 2)) once each colour hint has reweighed
        the heads' belief in the cells like it.

        A hint says which colour its thing has.  Each cell's log-probabilities lose
        w d^2 / (2 BELIEF_WIDTH^2), d the distance of each bin from the hint's colour and w
        how alike the cell is to the hinted one (as the far reach weighs it, with
        ``belief_softness``, and the same trust in a stroke's points).  Where the heads
        hesitated between green and brown grass, a green hint on the grass makes alike grass
        green; a red one, a colour they gave no chance, makes it the likely colour nearest
        red (a redder brown), never red.  The far reach's change, by contrast, is added
        whatever a cell believed.  The weights of several hints on a cell are shared (their
        sum at most 1), and the whole fades with the hints' number as the graph's pull does
        (N ** ``decay_power``).  Keep hints (in ``hints``, as in ``far``) take no part.
        Measured on validation: the model card, session 22.
        """
        s = self.settings
        rows, cols = state.components.shape[:2]
        k, h8, w8 = state.log_probs.shape
        colours = [index for index, hint in enumerate(hints) if not hint.keep]
        alike = token_likeness(state.components, far.points, s.belief_softness, far.trust)  # (tokens, points)
        weights = np.zeros((len(colours), h8 * w8), dtype=np.float32)
        for row, index in enumerate(colours):  # each hint's points summed, brought to the heads' grid
            summed = alike[:, far.hint == index].sum(axis=1).astype(np.float32).reshape(rows, cols)
            weights[row] = cv2.resize(summed, (w8, h8), interpolation=cv2.INTER_LINEAR).ravel()
        weights /= np.maximum(weights.sum(axis=0, keepdims=True), 1.0)
        wanted = np.array([chroma_of_color(hints[index].color) for index in colours], dtype=np.float32)
        distance = ((self.head.centres[:, None, :] - wanted[None]) ** 2).sum(axis=-1)  # (bins, hints)
        strength = s.belief_strength / len(colours) ** s.decay_power
        # Kept as found: the next stroke reweighs them afresh, without a log of every bin again.
        log_probs = state.log_probs - (strength / (2.0 * BELIEF_WIDTH ** 2) * (distance @ weights)).reshape(k, h8, w8)
        return self.head.decode(log_probs, state.regression, s.temperature, s.blend) * np.float32(s.chroma_scale)

    @staticmethod
    def _token_is_the_thing(state: _PhotoState, grey: np.ndarray, x: float, y: float) -> float:
        """How far the token under image point (x, y) shows what was painted there (0..1):
        the share of its pixels of the painted grey (``THING_GREY_WITHIN``)."""
        h, w = grey.shape
        painted = float(patch_mean(grey, x, y))
        small = state.backbone_grey
        fy, fx = min(max(y / h, 0.0), 1.0), min(max(x / w, 0.0), 1.0)
        top = min(int(fy * small.shape[0]) // PATCH, small.shape[0] // PATCH - 1) * PATCH
        left = min(int(fx * small.shape[1]) // PATCH, small.shape[1] // PATCH - 1) * PATCH
        cell = small[top:top + PATCH, left:left + PATCH]
        share = float((np.abs(cell - painted) <= THING_GREY_WITHIN).mean())
        return min(max((share - THING_SHARE_NONE) / (THING_SHARE_WHOLE - THING_SHARE_NONE), 0.0), 1.0)

    # -------------------------------------------------------------- the interface

    def likely_colors(self, grey: np.ndarray) -> list[tuple[int, int, int]]:
        """Vivid colours the network finds likely for parts of the photo, for the palette:
        the automatic colour averages them away where it hesitates (``palette.likely_colors``)."""
        return list(self._photo(grey).likely)

    def point_suggestions(self, grey: np.ndarray) -> PointSuggestions:
        """The colours the network finds likely at each point of the photo, for the colours
        offered where the user points (``palette.PointSuggestions``).  Found when first asked
        (20 ms), after the first colour is on screen rather than before it."""
        state = self._photo(grey)
        if state.at_points is None:
            state.at_points = point_suggestions_of(np.exp(state.log_probs), self.head.centres)
        return state.at_points

    def automatic(self, grey: np.ndarray) -> np.ndarray:
        """The automatic chroma at the head's resolution (for palettes and references)."""
        return self._photo(grey).prior

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False,
                 shown: np.ndarray | None = None, photo_rgb: np.ndarray | None = None) -> np.ndarray:
        """A draft is the final's own solve, exact while the stroke fixes only a few pixels
        and otherwise cut short (``Spreader.spread(quick=True)``), at the same working size,
        so the final only refines it and nothing jumps.  ``draft_side``
        serves only a draft that cannot start from an earlier solve: before the photo's
        graph is ready, or for a change too large to solve locally (``LOCAL_MAX_SHARE``).

        ``photo_rgb``, the (H, W, 3) colour photo whose luma is ``grey``, recolours it: the
        hints change its own colours instead of the automatic colour."""
        state = self._photo(grey)
        if photo_rgb is not None:
            self._use_colour_photo(state, photo_rgb)
        chroma = self._chroma(state, grey, hints, self.settings.working_side, draft, photo_rgb)
        if chroma is None:
            chroma = self._chroma(state, grey, hints, self.settings.draft_side, False, photo_rgb)
        if draft:
            give_up_if(self._draft_stop)  # before the upsampling: a few ms nobody would see
        if photo_rgb is None:
            return finish(chroma, grey, hints, shown, brushes=state.brushes)
        out = grey if shown is None else shown
        own = self._own_rgb(state, photo_rgb, (out.shape[1], out.shape[0]))
        colours = colour_hints(hints)
        if not colours:  # none, or only keep hints: nothing changes
            return chroma_of(own)
        # Only the hints' change is upsampled: the photo keeps its own colour detail.
        rgb_small = self._own_rgb(state, photo_rgb, (chroma.shape[1], chroma.shape[0]))
        own_small = chroma_of(rgb_small)
        change = _without_traces(chroma - own_small)
        grey_small = self._grey_at(state, grey, (chroma.shape[1], chroma.shape[0]))
        scale = chroma.shape[1] / grey.shape[1]
        keep = _keep_table(_painted_on(own_small, grey_small, colours, scale))
        change *= _reached_through_alike(rgb_small, grey_small, keep, colours, scale)[..., None]
        return finish(change, grey, hints, shown, base_rgb=own, brushes=state.brushes, keep=keep)

    def _chroma(self, state: _PhotoState, grey: np.ndarray, hints: Sequence[Hint], side: int,
                quick: bool, photo_rgb: np.ndarray | None = None) -> np.ndarray | None:
        """The working-size chroma at ``side`` (``working_fit``); None if ``quick`` has nothing to start from."""
        s = self.settings
        w = grey.shape[1]
        size = working_fit(grey.shape, side)
        small = self._grey_at(state, grey, size)
        recolour = photo_rgb is not None
        if not recolour:
            # Edge-aware, not bilinear: a cell of the head's grid is about 7 working pixels wide,
            # and bilinear blending carried each cell's colour over the edges inside it
            # (+0.04 dB on validation with no hints, session 12).
            automatic = upsample_chroma(state.prior, small)
        else:
            automatic = chroma_of(self._own_rgb(state, photo_rgb, size))
        # Keep hints alone change nothing; they only hold their pixels where they are.
        count = len(colour_hints(hints))
        if not count:
            return automatic
        if quick and (*size[::-1], recolour) not in state.spreaders:
            return None  # building the graph is the final's work, not a draft's
        # Recolouring keeps what no hint reaches as it is: a far thing of the same kind but
        # another colour (a second person's coat) must not take this coat's change.
        far = s.nonlocal_softness > 0 and not recolour
        reweigh = s.belief_strength > 0 and s.belief_softness > 0 and not recolour
        # Both look far from the same points along the hints, found once a stroke.
        points = self._far_points(state, grey, hints) if far or reweigh else None
        prior = upsample_chroma(self._believed(state, hints, points), small) if reweigh else automatic
        # A brush stops at edges; recolouring, also where the photo's colour is not the one painted on.
        photo = (photo_rgb, self._own_rgb(state, photo_rgb, size)) if recolour else None
        # Keep hints hold the colour without hints, not the one the hints' belief gives.
        hint_chroma, mask = rasterize(hints, size, scale=size[0] / w, grey=small, photo=photo, base=automatic)
        if not recolour:
            decay, next_decay = (s.decay / n ** s.decay_power for n in (count, count + 1))
        else:
            # The photo's own colours are no guess that more hints should override further:
            # each hint keeps its reach however many there are.
            decay = next_decay = s.decay * RECOLOUR_DECAY_SHARE
        target = self._nonlocal(state, hints, points, prior) if far else None
        # Many hints describe a photo better than any prior: the hints' own colours,
        # spread the same way, get the say N / (N + share) where the hints reach, and the
        # automatic colour keeps its whole say where they do not:
        #   (1 - own * reach) * prior + S(hint colours - (1 - own) * prior, (1 - own) * target),
        # with reach = S(1 at the hints, 0), between 0 and 1, as a third channel of the same
        # solve.  At a hint that is its colour; far from every hint, prior + (1 - own) * target.
        # Until session 14 the prior's share was 1 - own everywhere: one hint dimmed the
        # whole photo by 1 / 31, which the spill measure counts (validation, 384 px: spill
        # 0.048 -> 0.034, PSNR within 0.015 dB).  The spill saved bought a wider far reach.
        # A photo's own colours are no guess for many hints to outvote: far from every hint
        # they stay as they are.
        own = 0.0 if recolour else count / (count + s.hints_share)
        values = (hint_chroma - (1.0 - own) * prior) * mask[..., None]
        if target is not None:
            target = (1.0 - own) * target
        if own or recolour:  # how far the hints reach, as a third channel of the same solve
            # Recolouring, a keep hint reaches its pixels with nothing: asked for no change
            # (its chroma is the photo's own), it holds the colour hints' reach down near it.
            reached = mask * (np.abs(values).max(axis=-1) > 0) if recolour else mask
            values = np.concatenate([values, reached[..., None]], axis=-1)
            if target is not None:
                target = np.concatenate([target, np.zeros_like(mask)[..., None]], axis=-1)
        spreader = self._spreader(state, small, prior if recolour else None)
        spread_out = spreader.spread(values, mask, decay, target, quick=quick, stop=self._draft_stop,
                                     next_decay=next_decay,
                                     tolerances=(PCG_TOLERANCE, PCG_TOLERANCE, REACH_TOLERANCE)
                                     if own or recolour else None)
        if spread_out is None:
            return None
        if recolour:
            return prior + _whole_or_none(spread_out)
        if not own:
            return prior + spread_out
        reach = np.clip(spread_out[..., 2:], 0.0, 1.0)
        return (1.0 - own * reach) * prior + spread_out[..., :2]
