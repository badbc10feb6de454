"""Colorization using Optimization (Levin, Lischinski & Weiss, SIGGRAPH 2004).

Each pixel's chroma should be the weighted average of its 8 neighbours', with weights
that are large where the grey levels are alike; hinted pixels keep their colour.  That is
``engines.propagation`` with no pull toward zero (decay 0): one hint reaches every pixel
it is connected to.  The same module spreads the other engines' hints.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from colorme_desktop.core.color import fit_size
from colorme_desktop.core.hints import Hint, finish, rasterize
from colorme_desktop.engines.base import image_key
from colorme_desktop.engines.propagation import LruCache, Spreader, affinity_laplacian

DEFAULT_WORKING_SIDE = 384


class LevinEngine:
    """Edge-aware propagation of the hints alone: exact where painted, no colour prior."""

    name = "levin"
    description = "Optimization (Levin et al. 2004): spreads your hints along edges; needs no model."

    def __init__(self, working_side: int = DEFAULT_WORKING_SIDE) -> None:
        self.working_side = working_side
        self._spreaders = LruCache()  # per working-size grey: its graph and solver

    def _spreader(self, small: np.ndarray) -> Spreader:
        # The semantic engine's grey graph (without features): its capped width keeps a
        # hint from crossing a strong edge, which Levin's own weights did by another route.
        return self._spreaders.get(image_key(small), lambda: Spreader(affinity_laplacian(small), small.shape[1]))

    def colorize(self, grey: np.ndarray, hints: Sequence[Hint], draft: bool = False,
                 shown: np.ndarray | None = None) -> np.ndarray:
        h, w = grey.shape
        if not hints:
            return np.zeros((*(grey if shown is None else shown).shape, 2), dtype=np.float32)
        # A draft solves at half the side: about a quarter of the unknowns.
        size = fit_size(grey.shape, self.working_side // 2 if draft else self.working_side)
        small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA) if size != (w, h) else grey
        chroma, mask = rasterize(hints, size, scale=size[0] / w)
        solved = self._spreader(small).spread(chroma, mask, decay=0.0)
        # Bilinear: measured on 12 validation photos, it kept hint-made chroma detail better
        # than the guided filter (38.88 vs 35.98 dB upsampling true chroma 8x).
        return finish(solved, grey, hints, shown, edge_aware=False)
