"""The grid of Cb/Cr bins that the networks' classification heads predict over."""

from __future__ import annotations

import torch

CHROMA_RANGE = 128.0  # chroma is in grey levels, roughly -128..128
BINS_PER_AXIS = 16
NUM_BINS = BINS_PER_AXIS * BINS_PER_AXIS


def bin_centres() -> torch.Tensor:
    """(NUM_BINS, 2) Cb/Cr of each bin centre, in grey levels."""
    step = 2 * CHROMA_RANGE / BINS_PER_AXIS
    axis = -CHROMA_RANGE + step * (torch.arange(BINS_PER_AXIS, dtype=torch.float32) + 0.5)
    cb, cr = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([cb.flatten(), cr.flatten()], dim=1)
