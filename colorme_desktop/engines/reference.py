"""Colours taken from a reference photo, matched by content rather than by position.

The user picks a colour photo of a similar scene ("make it look like this").  Both photos
go through the frozen DINOv2 backbone as grey images (the grey photo has no colour, so the
reference must be seen the same way for its tokens to be comparable).  Every token of the
grey photo weighs all reference tokens by a softmax over cosine similarity and takes their
weighted mean chroma.  Tokens of one region of the grey photo then pool their matches, so a
region takes one colour rather than a patchwork of single-token guesses.

A wrong match costs more than no match: the first version imposed the matched colours as
hints and measured 2.6 dB worse than the automatic colour.  So each token gets a confidence
from the quality of its match (how alike the best match is, how much the weighted matches
agree on a colour, how alike their brightness is), and the result is the engine's automatic
colour moved toward the reference by that confidence: ``automatic + confidence * (reference
- automatic)``, at the token grid, brought to full size along the photo's edges.  The
automatic colour's detail stays; an unrelated reference leaves it almost untouched.

The user's hints win: where they change the result, the reference's correction fades out.
An engine without automatic colour (the optimisation engine) has nothing to blend with;
it gets the reference as soft point hints instead, drawn before the user's.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from colorme_desktop.core.color import chroma_of, compose, luma, upsample_chroma
from colorme_desktop.core.hints import Hint, colour_hints, rasterize, scale_hints
from colorme_desktop.engines.base import Engine, image_key
from colorme_desktop.engines.numpy_nets import PATCH, Dinov2Runtime, backbone_size

# Long side the backbone sees, both photos: 22 x 22 tokens at most; about 0.4 s on two cores.
REFERENCE_SIDE = 308
# Tokens after this many of the 12 blocks.  The final tokens of plain regions (clear sky,
# a flat wall) become DINOv2's known high-norm "artifact" tokens that hold global
# information instead of local content: a clear sky in the reference then matched the grass
# of the grey photo.  Measured on validation crop pairs, layers 8-10 matched best
# (mean chroma error of the matches 12.0-12.3 grey levels over 7 pairs, final layer 13.7).
LAYER = 9
# Below this confidence the optimisation engine gets no hint from a token (it has no
# automatic colour to fall back on, so a weak hint is worse than none).
MIN_CONFIDENCE = 0.2
# A user's hint that changes the result by this many grey levels of chroma owns that pixel:
# the reference's correction is gone there (and fades linearly below it).
USER_CHANGE = 12.0


@dataclass(frozen=True)
class ReferenceSettings:
    """How a match becomes a confidence; chosen on validation pairs only
    (``training.reference_eval --tune``), never on the test photos."""

    temperature: float  # softmax over cosine similarity: lower trusts only the very best matches
    similarity_low: float  # best cosine at which confidence starts to rise from 0 ...
    similarity_high: float  # ... and where that part of it reaches 1
    agreement_scale: float  # chroma spread (grey levels) among the weighted matches that halves confidence
    luminance_scale: float  # brightness difference (grey levels) to the matches that halves confidence
    region_softness: float  # how alike two grey-photo tokens must be to pool their matches; 0: no pooling
    scene_low: float  # mean best cosine over the whole photo at which the reference starts to count ...
    scene_high: float  # ... and from which it counts fully (a reference of another kind of scene is ignored)
    strength: float  # the most the reference may move the automatic colour (1: all the way)


# The one home of these values; the table in docs/reference-eval.md shows how they were chosen.
REFERENCE_SETTINGS = ReferenceSettings(temperature=0.02, similarity_low=0.3, similarity_high=0.6,
                                       agreement_scale=50.0, luminance_scale=40.0, region_softness=0.05,
                                       scene_low=0.4, scene_high=0.7, strength=1.0)


@dataclass(frozen=True)
class Guidance:
    """Per token of the grey photo: the reference's chroma for it and how sure that is."""

    chroma: np.ndarray  # (h, w, 2) float32 Cb/Cr in grey levels
    confidence: np.ndarray  # (h, w) float32 in 0..1


@dataclass(frozen=True)
class Tokens:
    """A photo as the matching sees it: backbone tokens and each patch's mean grey."""

    features: np.ndarray  # (384, h, w)
    grey: np.ndarray  # (h, w) float32 mean grey of each patch, 0..255


def patch_chroma(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mean chroma of each backbone patch of ``rgb`` resized to ``size`` = (W, H): (H/14, W/14, 2)."""
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    chroma = chroma_of(small)
    h, w = size[1] // PATCH, size[0] // PATCH
    return chroma.reshape(h, PATCH, w, PATCH, 2).mean(axis=(1, 3)).astype(np.float32)


def _ramp(x: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip((x - low) / max(high - low, 1e-6), 0.0, 1.0)


def _unit_rows(features: np.ndarray) -> np.ndarray:
    """(C, h, w) tokens -> (h * w, C) rows of unit length."""
    rows = np.ascontiguousarray(features, np.float32).reshape(features.shape[0], -1).T
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def match_tokens(target: Tokens, reference: Tokens, reference_chroma: np.ndarray,
                 settings: ReferenceSettings = REFERENCE_SETTINGS) -> Guidance:
    """For each target token the chroma of the reference tokens like it, and a confidence.

    Position never enters: only content is compared, so a red roof on the left of the
    reference colours a roof on the right of the grey photo.
    """
    _, h, w = target.features.shape
    t, r = _unit_rows(target.features), _unit_rows(reference.features)
    similarity = t @ r.T  # (h*w, N)
    weights = _softmax_rows(similarity / settings.temperature)
    colours = np.ascontiguousarray(reference_chroma, np.float32).reshape(-1, 2)
    mean = weights @ colours
    # Agreement: the weighted spread of the matches' colours around their mean.
    squared_distance = ((mean[:, None, :] - colours[None, :, :]) ** 2).sum(axis=2)
    spread = np.sqrt((weights * squared_distance).sum(axis=1))
    # Brightness: a dark rock matched to a bright cloud is a wrong match however alike the
    # textures; and one chroma does not suit both (the gamut narrows toward black and white).
    t_grey = target.grey.reshape(-1, 1).astype(np.float32)
    r_grey = reference.grey.reshape(1, -1).astype(np.float32)
    luminance = (weights * np.abs(t_grey - r_grey)).sum(axis=1)
    best = similarity.max(axis=1)
    # How much of the photo the reference shows at all: another half of the same scene
    # matches nearly everywhere; a photo of another meadow, with other flowers, much less,
    # and there its colours are a guess that a content match cannot check.
    scene = _ramp(best.mean(), settings.scene_low, settings.scene_high)
    confidence = (settings.strength * scene * _ramp(best, settings.similarity_low, settings.similarity_high)
                  / (1.0 + (spread / settings.agreement_scale) ** 2)
                  / (1.0 + (luminance / settings.luminance_scale) ** 2))
    if settings.region_softness > 0:
        # Tokens of one region (alike features) pool their matches, weighted by confidence:
        # a region gets one colour and the confidence of its best-matched parts.
        affinity = np.exp((t @ t.T - 1.0) / settings.region_softness)
        pooled = affinity * confidence[None, :]
        total = pooled.sum(axis=1)
        mean = (pooled @ mean) / np.maximum(total, 1e-6)[:, None]
        confidence = total / affinity.sum(axis=1)
    return Guidance(chroma=mean.reshape(h, w, 2).astype(np.float32),
                    confidence=confidence.reshape(h, w).astype(np.float32))


def grey_tokens(backbone: Dinov2Runtime, grey: np.ndarray, side: int = REFERENCE_SIDE, layer: int = LAYER) -> Tokens:
    """Tokens after ``layer`` blocks and patch greys of a grey (H, W) uint8 photo.
    The blocks after ``layer`` are not run."""
    size = backbone_size(grey.shape, side)
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    rows, cols = size[1] // PATCH, size[0] // PATCH
    patches = small.reshape(rows, PATCH, cols, PATCH).mean(axis=(1, 3))
    return Tokens(features=backbone.tokens(small, layer), grey=patches)


class ReferencePhoto:
    """A colour photo's tokens (seen as grey) and the mean chroma of each of its patches."""

    def __init__(self, rgb: np.ndarray, backbone: Dinov2Runtime, side: int = REFERENCE_SIDE, layer: int = LAYER,
                 settings: ReferenceSettings = REFERENCE_SETTINGS) -> None:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("the reference must be an RGB photo (H, W, 3)")
        self.rgb = rgb
        self.backbone = backbone
        self.side = side
        self.layer = layer
        self.settings = settings
        grey = luma(rgb)
        self.tokens = grey_tokens(backbone, grey, side, layer)
        self.chroma = patch_chroma(rgb, backbone_size(grey.shape, side))

    def guide(self, grey: np.ndarray) -> Guidance:
        return match_tokens(grey_tokens(self.backbone, grey, self.side, self.layer), self.tokens, self.chroma,
                            self.settings)


def correction(guidance: Guidance, automatic: np.ndarray, grey: np.ndarray) -> np.ndarray:
    """Full-size chroma to add to ``automatic`` (H, W, 2): confidence x (reference - automatic).

    Computed at the token grid, where the reference's chroma is known, and brought to full
    size along the photo's edges; the automatic colour keeps its finer detail.
    """
    gh, gw = guidance.confidence.shape
    coarse = cv2.resize(automatic, (gw, gh), interpolation=cv2.INTER_AREA)
    change = guidance.confidence[..., None] * (guidance.chroma - coarse)
    return upsample_chroma(change.astype(np.float32), grey, edge_aware=True)


def user_reach(hints: Sequence[Hint], result: np.ndarray, automatic: np.ndarray, margin: float) -> np.ndarray:
    """(H, W) 0..1: how much each pixel's colour is the user's doing.

    1 where the user's hints changed the colour by ``USER_CHANGE`` or more, and near a
    hint, fading to 0 at ``margin`` pixels (a hint that agrees with the automatic colour
    changes nothing, yet the user chose that colour there).  A fade, not a disc: a disc
    cut a hard-edged patch of uncorrected colour into the sky around a roof's stroke.
    """
    height, width = result.shape[:2]
    reach = np.clip(np.linalg.norm(result - automatic, axis=-1) / USER_CHANGE, 0.0, 1.0)
    scale = min(1.0, 256 / max(height, width))  # a coarse mask is enough for the neighbourhood
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    _, mask = rasterize(hints, size, scale=scale)
    radius = max(1.0, margin * scale)
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, 3)
    near = np.clip(1.0 - distance / radius, 0.0, 1.0)
    near = cv2.resize(near, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.maximum(reach, near)


def chroma_colours(chroma: np.ndarray) -> list[tuple[int, int, int]]:
    """RGB colours with the given chroma (N, 2), at mid grey where the gamut is widest.

    Engines read only a hint colour's chroma; mid grey keeps it from being clipped.
    """
    rgb = compose(np.full((len(chroma), 1), 128, dtype=np.uint8), chroma.reshape(-1, 1, 2).astype(np.float32))
    return [tuple(int(v) for v in c) for c in rgb[:, 0]]


def guidance_hints(guidance: Guidance, image_shape: tuple[int, int],
                   min_confidence: float = MIN_CONFIDENCE) -> tuple[Hint, ...]:
    """Point hints at the token centres of a (H, W) photo, for engines without automatic
    colour; a token below ``min_confidence`` gives no hint."""
    gh, gw = guidance.confidence.shape
    height, width = image_shape
    step_x, step_y = width / gw, height / gh
    rows, cols = np.nonzero(guidance.confidence >= min_confidence)
    if len(rows) == 0:
        return ()
    colours = chroma_colours(guidance.chroma[rows, cols])
    radius = max(1.0, 0.2 * min(step_x, step_y))
    return tuple(Hint((((col + 0.5) * step_x, (row + 0.5) * step_y),), colour, radius)
                 for row, col, colour in zip(rows.tolist(), cols.tolist(), colours))


def outside_user_hints(reference: Sequence[Hint], user: Sequence[Hint], image_shape: tuple[int, int],
                       margin: float) -> tuple[Hint, ...]:
    """The reference hints farther than ``margin`` pixels from every user hint.

    A reference point right beside the user's stroke would fight it; the user wins.
    """
    if not user or not reference:
        return tuple(reference)
    height, width = image_shape
    scale = min(1.0, 256 / max(height, width))  # a coarse mask is enough to find neighbours
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    _, mask = rasterize(user, size, scale=scale)
    reach = max(1, int(round(margin * scale)))
    near = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))) > 0.5
    kept = []
    for hint in reference:
        x, y = hint.points[0]
        col, row = min(size[0] - 1, int(x * scale)), min(size[1] - 1, int(y * scale))
        if not near[row, col]:
            kept.append(hint)
    return tuple(kept)


@dataclass
class _PhotoGuidance:
    """What one grey photo costs once: its automatic colour and the reference's share."""

    automatic: np.ndarray | None  # (H, W, 2); None: the engine has no automatic colour
    correction: np.ndarray | None  # (H, W, 2) to add to the automatic colour
    hints: tuple[Hint, ...]  # for an engine without automatic colour
    spacing: float  # pixels between token centres
    shrunk: tuple | None = None  # (shape, automatic, correction) at the last preview size


class ReferenceGuided:
    """An engine whose colour moves toward a reference photo's wherever that matches well,
    and stays the engine's own elsewhere; the user's hints still win."""

    def __init__(self, engine: Engine, reference_rgb: np.ndarray, backbone: Dinov2Runtime | None = None,
                 cache_size: int = 4, layer: int = LAYER, settings: ReferenceSettings = REFERENCE_SETTINGS) -> None:
        if backbone is None:
            # The semantic engine already holds the backbone; other engines load it here.
            backbone = getattr(engine, "backbone", None)
        if backbone is None:
            from colorme_desktop.engines.semantic_engine import load_backbone

            backbone = load_backbone()
        self.engine = engine
        self.name = engine.name
        self.description = f"{engine.description} Colours from a reference photo."
        self._lock = threading.Lock()  # the backbone may be the wrapped engine's: one caller at a time
        with self._lock:
            self.reference = ReferencePhoto(reference_rgb, backbone, layer=layer, settings=settings)
        self._photos: OrderedDict[str, _PhotoGuidance] = OrderedDict()
        self._cache_size = cache_size

    def _photo(self, grey: np.ndarray) -> _PhotoGuidance:
        """The reference's share for this photo, computed once per photo."""
        key = image_key(grey)
        state = self._photos.get(key)
        if state is None:
            with self._lock:
                guidance = self.reference.guide(grey)
            gh, gw = guidance.confidence.shape
            spacing = max(grey.shape[0] / gh, grey.shape[1] / gw)
            automatic = self.engine.colorize(grey, ())
            # Half a grey level everywhere is no colour at all: the optimisation engine.
            if float(np.abs(automatic).max()) < 0.5:
                state = _PhotoGuidance(None, None, guidance_hints(guidance, grey.shape), spacing)
            else:
                state = _PhotoGuidance(automatic, correction(guidance, automatic, grey), (), spacing)
            self._photos[key] = state
            while len(self._photos) > self._cache_size:
                self._photos.popitem(last=False)
        self._photos.move_to_end(key)
        return state

    def prepare_strokes(self, grey: np.ndarray) -> None:
        """The wrapped engine's idle preparation for strokes, if it has one."""
        prepare = getattr(self.engine, "prepare_strokes", None)
        if prepare is not None:
            prepare(grey)

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False,
                 shown: np.ndarray | None = None) -> np.ndarray:
        """As the wrapped engine; ``shown`` (a smaller copy of ``grey``) gives the output's size."""
        state = self._photo(grey)
        if shown is not None and shown.shape == grey.shape:
            shown = None
        if state.automatic is None:
            reference = outside_user_hints(state.hints, hints, grey.shape, margin=state.spacing)
            # Later hints paint over earlier ones: the user's come last.
            return self.engine.colorize(grey, (*reference, *hints), draft, shown=shown)
        automatic, correction, spacing, local_hints = state.automatic, state.correction, state.spacing, hints
        if shown is not None:
            automatic, correction = _shrunk(state, shown.shape)
            sx, sy = shown.shape[1] / grey.shape[1], shown.shape[0] / grey.shape[0]
            spacing, local_hints = spacing * sx, scale_hints(hints, sx, sy)
        if not colour_hints(hints):  # keep hints keep the colour there is without hints: this
            return automatic + correction
        result = self.engine.colorize(grey, hints, draft, shown=shown)
        # Under a keep hint the engine gives its automatic colour; the reference's share stays.
        reach = user_reach(colour_hints(local_hints), result, automatic, spacing)
        return result + (1.0 - reach)[..., None] * correction


def _shrunk(state: _PhotoGuidance, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The automatic colour and the reference's share at a preview's size, made once per size."""
    if state.shrunk is None or state.shrunk[0] != shape[:2]:
        size = (shape[1], shape[0])
        state.shrunk = (shape[:2], cv2.resize(state.automatic, size, interpolation=cv2.INTER_AREA),
                        cv2.resize(state.correction, size, interpolation=cv2.INTER_AREA))
    return state.shrunk[1], state.shrunk[2]
