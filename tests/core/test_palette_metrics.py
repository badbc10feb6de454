import numpy as np

from colorme_desktop.core.metrics import colourfulness, psnr
from colorme_desktop.core.palette import dominant_colors, enhance_for_palette


def test_dominant_colours_find_the_blocks_largest_first():
    rgb = np.zeros((60, 60, 3), dtype=np.uint8)
    rgb[:, :30] = (200, 20, 20)
    rgb[:, 30:50] = (20, 200, 20)
    rgb[:, 50:] = (20, 20, 200)
    colours = dominant_colors(rgb, count=5)
    assert colours[0] == (200, 20, 20)
    assert (20, 200, 20) in colours and (20, 20, 200) in colours
    assert dominant_colors(rgb, count=5) == colours  # fixed seed: stable


def test_enhancement_lightens():
    rgb = np.full((4, 4, 3), 100, dtype=np.uint8)
    assert enhance_for_palette(rgb).mean() > 120


def test_psnr_and_colourfulness():
    a = np.zeros((8, 8, 3), dtype=np.uint8)
    b = a.copy()
    b[0, 0, 0] = 255
    assert psnr(a, a) == 100.0
    assert 20 < psnr(a, b) < 30
    grey = np.full((8, 8, 3), 128, dtype=np.uint8)
    colour = np.zeros((8, 8, 3), dtype=np.uint8)
    colour[::2, :, 0] = 255
    colour[1::2, :, 2] = 255
    assert colourfulness(grey) == 0.0 and colourfulness(colour) > 50
