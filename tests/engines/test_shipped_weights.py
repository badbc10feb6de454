"""The committed network on a known image: a sensible, colourful result."""

import pytest

from colorme_desktop.core.color import compose
from colorme_desktop.core.imageio import load_image
from colorme_desktop.core.metrics import colourfulness
from colorme_desktop.engines.neural import NeuralEngine
from colorme_desktop.engines.weights import weights_dir

SAMPLE = weights_dir().parent / "resources" / "sample" / "summer-palace-grey.jpg"


@pytest.fixture(scope="module")
def engine():
    return NeuralEngine()


def test_sample_gets_plausible_colour(engine):
    grey = load_image(SAMPLE).grey
    rgb = compose(grey, engine.colorize(grey, ()))
    assert colourfulness(rgb) > 15  # clearly coloured, not grey
    h, w = grey.shape
    sky = rgb[: h // 8, w // 2:].reshape(-1, 3).mean(axis=0)
    foliage = rgb[int(h * 0.8):, int(w * 0.85):].reshape(-1, 3).mean(axis=0)
    assert sky[2] > sky[0]  # the sky is bluish
    assert foliage[1] > foliage[2]  # the trees are greenish


def test_hint_is_followed(engine):
    grey = load_image(SAMPLE).grey
    red = (220, 30, 30)
    from colorme_desktop.core.hints import point_hint

    before = engine.colorize(grey, ())
    chroma = engine.colorize(grey, [point_hint(500, 40, red, radius=6)])
    # The sky there is too bright to show strong red, so check the chroma itself.
    from colorme_desktop.core.color import chroma_of_color

    assert abs(chroma[40, 500, 1] - chroma_of_color(red)[1]) < 15
    change = chroma[..., 1] - before[..., 1]
    h, w = grey.shape
    # One dot changes its surroundings far more than the rest of the photo.
    assert change[40, 470] > change[int(h * 0.85):, int(w * 0.85):].mean() + 20


def test_a_keep_hint_holds_the_networks_own_colour(engine):
    from colorme_desktop.core.hints import keep_hint, point_hint

    grey = load_image(SAMPLE).grey
    before = engine.colorize(grey, ())
    assert abs(engine.colorize(grey, [keep_hint([(300.0, 40.0)], 6)]) - before).max() == 0  # alone: nothing
    red = point_hint(500, 40, (220, 30, 30), radius=6)
    free = engine.colorize(grey, [red])
    held = engine.colorize(grey, [red, keep_hint([(470.0, 40.0)], 6)])
    assert abs(free[40, 470] - before[40, 470]).max() > 10  # the red reaches there alone
    assert abs(held[40, 470] - before[40, 470]).max() < 2  # held at the network's colour

def test_the_palette_offers_the_trees_green_the_automatic_colour_dulls():
    """The sample's trees come out olive; the shipped head's likely colours still offer a
    green for them, and a blue for the sky (what a user paints the sample with)."""
    from colorme_desktop.engines.semantic_engine import SemanticEngine

    grey = load_image(SAMPLE).grey
    likely = SemanticEngine().likely_colors(grey)
    assert any(g > r + 20 and g > b + 20 for r, g, b in likely), likely
    assert any(b > r + 20 for r, g, b in likely), likely


def test_pointing_offers_stronger_colours_than_the_automatic_mean():
    """Where the shipped head hesitates, the automatic colour is the mean of its guesses and
    dull; the colours offered where the user points are the guesses themselves."""
    import numpy as np

    from colorme_desktop.engines.semantic_engine import SemanticEngine

    grey = load_image(SAMPLE).grey
    semantic = SemanticEngine()
    modes = semantic.point_suggestions(grey).modes  # (h8, w8, 5, [Cb, Cr, share])
    automatic = semantic.automatic(grey)
    assert modes.shape[:2] == automatic.shape[:2]
    shares = modes[..., 2]
    assert (shares <= 1.0 + 1e-6).all()
    # Likeliest first, a near-grey after the colours (``palette._POINT_GREY``).
    greyish = (np.hypot(modes[..., 0], modes[..., 1]) < 12.0) & (shares > 0)
    rank = np.where(greyish, 1.0, 0.0) * 2.0 - shares
    assert (np.diff(rank, axis=-1)[shares[..., 1:] > 0] >= -1e-6).all() and greyish.any()
    offered = np.where(shares >= 0.05, np.hypot(modes[..., 0], modes[..., 1]), 0.0).max(axis=-1)
    stronger = offered > np.hypot(automatic[..., 0], automatic[..., 1]) + 20
    assert stronger.mean() > 1 / 3, stronger.mean()
    h, w = grey.shape
    sky = semantic.point_suggestions(grey).at(w * 0.5, h * 0.05, grey)
    assert any(b > r + 40 for (r, g, b), _ in sky), sky
