"""The grid of Cb/Cr bins that the networks' classification heads predict over."""

from __future__ import annotations

import numpy as np

CHROMA_RANGE = 128.0  # chroma is in grey levels, roughly -128..128
BINS_PER_AXIS = 16
NUM_BINS = BINS_PER_AXIS * BINS_PER_AXIS


def bin_centres() -> np.ndarray:
    """(NUM_BINS, 2) float32 Cb/Cr of each bin centre, in grey levels (numpy: the app runs without torch)."""
    step = 2 * CHROMA_RANGE / BINS_PER_AXIS
    axis = -CHROMA_RANGE + step * (np.arange(BINS_PER_AXIS, dtype=np.float32) + 0.5)
    cb, cr = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([cb.ravel(), cr.ravel()], axis=1).astype(np.float32)
