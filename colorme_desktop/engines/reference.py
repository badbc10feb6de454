"""Colours taken from a reference photo, matched by content rather than by position.

The user picks a colour photo of a similar scene ("make it look like this").  Both photos
go through the frozen DINOv2 backbone as grey images (the grey photo has no colour, so the
reference must be seen the same way for its tokens to be comparable).  Every token of the
grey photo looks for the reference tokens most like it (cosine similarity, a softmax over
the best ``top_k``), and takes their mean chroma.  A confidence says how good the match is
and how much the matches agree on a colour.

The result reaches any engine as soft hints: points at the token centres whose colour is
the matched chroma blended with the engine's own automatic colour by the confidence, and
which the user's hints override (reference points near a user hint are dropped, and the
user's hints are drawn after them).  Wrapping an engine (``ReferenceGuided``) rather than
changing one keeps every engine usable with a reference, the optimisation engine included.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from colorme_desktop.core.color import chroma_of, compose, luma
from colorme_desktop.core.hints import Hint, rasterize
from colorme_desktop.engines.base import Engine, image_key
from colorme_desktop.engines.dinov2 import PATCH, WIDTH, Dinov2Small
from colorme_desktop.engines.semantic import backbone_size

# Long side the backbone sees, both photos: 22 x 22 tokens at most.  Finer than the
# semantic engine's 224 px because each token becomes one hint; about 0.4 s on two cores.
REFERENCE_SIDE = 308
TOP_K = 8
TEMPERATURE = 0.05  # softmax over cosine similarities: 0.05 lets a 0.1 better match dominate
# Confidence rises from 0 to 1 as the best cosine similarity goes from LOW to HIGH: DINOv2
# tokens of unrelated content sit around 0.1-0.3, of the same kind of thing above 0.5.
SIMILARITY_LOW = 0.25
SIMILARITY_HIGH = 0.6
# Tokens after this many of the 12 blocks.  The final tokens of plain regions (clear sky,
# a flat wall) become DINOv2's known high-norm "artifact" tokens that hold global
# information instead of local content: a clear sky in the reference then matched the grass
# of the grey photo.  Measured on validation crop pairs, layers 8-10 matched best
# (mean chroma error of the matches 12.0-12.3 grey levels over 7 pairs, final layer 13.7).
LAYER = 9
# Weight of the local grey statistics (Welsh et al. 2002 matched by luminance and its
# spread) against the tokens' cosine similarity; off by default: on validation pairs it
# did not help the layer-9 tokens (it only matters for textureless synthetic scenes).
STATISTICS_WEIGHT = 0.0
AGREEMENT_SCALE = 30.0  # grey levels of chroma spread among the matches that halve confidence
MIN_CONFIDENCE = 0.2  # below this a token gives no hint: the engine's own colour stays


@dataclass(frozen=True)
class Guidance:
    """Per token of the grey photo: the reference's chroma for it and how sure that is."""

    chroma: np.ndarray  # (h, w, 2) float32 Cb/Cr in grey levels
    confidence: np.ndarray  # (h, w) float32 in 0..1


def patch_chroma(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Mean chroma of each backbone patch of ``rgb`` resized to ``size`` = (W, H): (H/14, W/14, 2)."""
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    chroma = chroma_of(small)
    h, w = size[1] // PATCH, size[0] // PATCH
    return chroma.reshape(h, PATCH, w, PATCH, 2).mean(axis=(1, 3)).astype(np.float32)


def patch_statistics(grey: np.ndarray) -> np.ndarray:
    """(3, H/14, W/14): each patch's mean grey, spread and edge strength, in units of the
    photo's own grey spread (so a darker or flatter exposure of a scene still matches)."""
    g = grey.astype(np.float32)
    h, w = g.shape[0] // PATCH, g.shape[1] // PATCH
    gy, gx = np.gradient(g)
    blocks = g.reshape(h, PATCH, w, PATCH)
    edges = np.hypot(gx, gy).reshape(h, PATCH, w, PATCH).mean(axis=(1, 3))
    sigma = max(float(g.std()), 1.0)
    return np.stack([(blocks.mean(axis=(1, 3)) - g.mean()) / sigma, blocks.std(axis=(1, 3)) / sigma,
                     edges / sigma]).astype(np.float32)


def match_tokens(target: np.ndarray, reference: np.ndarray, reference_chroma: np.ndarray,
                 target_statistics: np.ndarray | None = None, reference_statistics: np.ndarray | None = None,
                 top_k: int = TOP_K, temperature: float = TEMPERATURE,
                 statistics_weight: float = STATISTICS_WEIGHT) -> Guidance:
    """For each target token (C, h, w) the chroma of its best-matching reference tokens.

    ``reference`` is (C, H, W) and ``reference_chroma`` (H, W, 2); the optional statistics
    (S, h, w) and (S, H, W) lower a match's score by their squared distance.  Position
    never enters: only content is compared, so a red roof on the left of the reference
    colours a roof on the right of the grey photo.
    """
    c, h, w = target.shape
    t = torch.from_numpy(np.ascontiguousarray(target, dtype=np.float32)).reshape(c, -1).T
    r = torch.from_numpy(np.ascontiguousarray(reference, dtype=np.float32)).reshape(c, -1).T
    t = torch.nn.functional.normalize(t, dim=1)
    r = torch.nn.functional.normalize(r, dim=1)
    similarity = t @ r.T  # (h*w, N)
    score = similarity
    if target_statistics is not None and reference_statistics is not None and statistics_weight > 0:
        ts = torch.from_numpy(target_statistics.reshape(len(target_statistics), -1).T.copy())
        rs = torch.from_numpy(reference_statistics.reshape(len(reference_statistics), -1).T.copy())
        score = similarity - statistics_weight * torch.cdist(ts, rs) ** 2
    k = min(top_k, similarity.shape[1])
    top, index = score.topk(k, dim=1)
    best = similarity.gather(1, index)
    weights = torch.softmax(top / temperature, dim=1)
    colours = torch.from_numpy(np.ascontiguousarray(reference_chroma, dtype=np.float32)).reshape(-1, 2)[index]
    mean = (weights[..., None] * colours).sum(dim=1)
    spread = ((weights * ((colours - mean[:, None]) ** 2).sum(dim=-1)).sum(dim=1)).sqrt()
    resemblance = ((best[:, 0] - SIMILARITY_LOW) / (SIMILARITY_HIGH - SIMILARITY_LOW)).clamp(0.0, 1.0)
    agreement = 1.0 / (1.0 + (spread / AGREEMENT_SCALE) ** 2)
    confidence = resemblance * agreement
    return Guidance(chroma=mean.reshape(h, w, 2).numpy(), confidence=confidence.reshape(h, w).numpy())


def grey_tokens(backbone: Dinov2Small, grey: np.ndarray, side: int = REFERENCE_SIDE, layer: int = LAYER
                ) -> tuple[np.ndarray, np.ndarray]:
    """(384, h, w) tokens after ``layer`` blocks and (3, h, w) patch statistics of a grey
    (H, W) uint8 photo.  The blocks after ``layer`` are not run."""
    size = backbone_size(grey.shape, side)
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    rgb = torch.from_numpy(small.astype(np.float32))[None, None].expand(-1, 3, -1, -1)
    images = (rgb - backbone.mean) / backbone.std  # as Dinov2Small.features does
    rows, cols = size[1] // PATCH, size[0] // PATCH
    with torch.inference_mode():
        x = backbone.patch_embed(images).flatten(2).transpose(1, 2) + backbone.position(rows, cols)
        x = torch.cat([backbone.cls_token + backbone.pos_cls, x], dim=1)
        for block in backbone.blocks[:layer]:
            x = block(x)
        # The final norm's scale belongs to the last layer; a plain one suits any layer.
        x = backbone.norm(x) if layer >= len(backbone.blocks) else F.layer_norm(x, (WIDTH,))
        tokens = x[0, 1:].T.reshape(WIDTH, rows, cols).numpy()
    return tokens, patch_statistics(small)


class ReferencePhoto:
    """A colour photo's tokens (seen as grey) and the mean chroma of each of its patches."""

    def __init__(self, rgb: np.ndarray, backbone: Dinov2Small, side: int = REFERENCE_SIDE,
                 statistics_weight: float = STATISTICS_WEIGHT, layer: int = LAYER) -> None:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError("the reference must be an RGB photo (H, W, 3)")
        self.rgb = rgb
        self.backbone = backbone
        self.side = side
        self.statistics_weight = statistics_weight
        self.layer = layer
        grey = luma(rgb)
        self.tokens, self.statistics = grey_tokens(backbone, grey, side, layer)
        self.chroma = patch_chroma(rgb, backbone_size(grey.shape, side))

    def guide(self, grey: np.ndarray) -> Guidance:
        tokens, statistics = grey_tokens(self.backbone, grey, self.side, self.layer)
        return match_tokens(tokens, self.tokens, self.chroma, statistics, self.statistics,
                            statistics_weight=self.statistics_weight)


def chroma_colours(chroma: np.ndarray) -> list[tuple[int, int, int]]:
    """RGB colours with the given chroma (N, 2), at mid grey where the gamut is widest.

    Engines read only a hint colour's chroma; mid grey keeps it from being clipped.
    """
    rgb = compose(np.full((len(chroma), 1), 128, dtype=np.uint8), chroma.reshape(-1, 1, 2).astype(np.float32))
    return [tuple(int(v) for v in c) for c in rgb[:, 0]]


def guidance_hints(guidance: Guidance, image_shape: tuple[int, int], automatic: np.ndarray | None = None,
                   min_confidence: float = MIN_CONFIDENCE) -> tuple[Hint, ...]:
    """Point hints at the token centres of a (H, W) photo.

    With ``automatic`` (token-grid chroma the engine gives on its own) each hint's chroma
    leans toward it as confidence falls; a token below ``min_confidence`` gives no hint.
    """
    gh, gw = guidance.confidence.shape
    height, width = image_shape
    step_x, step_y = width / gw, height / gh
    confidence = guidance.confidence[..., None]
    chroma = guidance.chroma if automatic is None else confidence * guidance.chroma + (1 - confidence) * automatic
    rows, cols = np.nonzero(guidance.confidence >= min_confidence)
    if len(rows) == 0:
        return ()
    colours = chroma_colours(chroma[rows, cols])
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


class ReferenceGuided:
    """An engine whose colour comes from a reference photo wherever it matches, and from
    ``engine`` elsewhere; the user's hints still win."""

    def __init__(self, engine: Engine, reference_rgb: np.ndarray, backbone: Dinov2Small | None = None,
                 cache_size: int = 4, statistics_weight: float = STATISTICS_WEIGHT, layer: int = LAYER) -> None:
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
            self.reference = ReferencePhoto(reference_rgb, backbone, statistics_weight=statistics_weight,
                                            layer=layer)
        self._hints: OrderedDict[str, tuple[tuple[Hint, ...], float]] = OrderedDict()
        self._cache_size = cache_size

    def reference_hints(self, grey: np.ndarray) -> tuple[tuple[Hint, ...], float]:
        """(hints, spacing between them in pixels) for this photo, computed once per photo."""
        key = image_key(grey)
        cached = self._hints.get(key)
        if cached is None:
            with self._lock:
                guidance = self.reference.guide(grey)
            gh, gw = guidance.confidence.shape
            automatic = self.engine.colorize(grey, ())
            automatic = cv2.resize(automatic, (gw, gh), interpolation=cv2.INTER_AREA)
            hints = guidance_hints(guidance, grey.shape, automatic)
            cached = (hints, max(grey.shape[0] / gh, grey.shape[1] / gw))
            self._hints[key] = cached
            while len(self._hints) > self._cache_size:
                self._hints.popitem(last=False)
        self._hints.move_to_end(key)
        return cached

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False) -> np.ndarray:
        reference, spacing = self.reference_hints(grey)
        reference = outside_user_hints(reference, hints, grey.shape, margin=spacing)
        # Later hints paint over earlier ones: the user's come last.
        return self.engine.colorize(grey, (*reference, *hints), draft)
