"""Quality measures used by evaluation and tests."""

from __future__ import annotations

import numpy as np


def psnr(result: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB over all RGB channels of 8-bit images."""
    diff = result.astype(np.float64) - truth.astype(np.float64)
    mse = float(np.mean(diff * diff))
    if mse == 0.0:
        return 100.0
    return 10.0 * np.log10(255.0 ** 2 / mse)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness M3 of an RGB image."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    rg = r - g
    yb = 0.5 * (r + g) - b
    std = np.hypot(rg.std(), yb.std())
    mean = np.hypot(rg.mean(), yb.mean())
    return float(std + 0.3 * mean)
