"""Suggested colours: the dominant colours of an image by K-means."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans

from colorme_desktop.core.color import resize_to_max_side

Color = tuple[int, int, int]


def enhance_for_palette(rgb: np.ndarray, gamma: float = 0.8, lighten: float = 0.2) -> np.ndarray:
    """Gamma-correct through a lookup table, then lighten by ``lighten``.

    Network colours come out muted; suggestions taken from them look dull on their own,
    so they are brightened before clustering, as in the design we grew from.
    """
    levels = np.arange(256, dtype=np.float32) / 255.0
    lut = np.power(levels, gamma)
    lut = lut + (1.0 - lut) * lighten
    table = np.clip(np.rint(lut * 255.0), 0, 255).astype(np.uint8)
    return table[rgb]


def dominant_colors(rgb: np.ndarray, count: int = 5, seed: int = 0, max_side: int = 128) -> list[Color]:
    """The ``count`` K-means centres of a downsampled copy, the largest cluster first."""
    small = resize_to_max_side(rgb, max_side).reshape(-1, 3).astype(np.float32)
    if len(small) == 0:
        return []
    clusters = min(count, len(np.unique(small, axis=0)))
    model = KMeans(n_clusters=clusters, n_init=3, random_state=seed).fit(small)
    sizes = np.bincount(model.labels_, minlength=clusters)
    order = np.argsort(-sizes, kind="stable")
    centres = np.clip(np.rint(model.cluster_centers_[order]), 0, 255).astype(int)
    return [tuple(int(v) for v in c) for c in centres]
