import numpy as np

from colorme_desktop.core.color import chroma_of_color, compose
from colorme_desktop.core.hints import keep_hint, point_hint
from colorme_desktop.engines.levin import LevinEngine
from tests.helpers import two_region_grey

RED = (200, 40, 40)


def test_no_hints_gives_the_grey_image():
    grey = two_region_grey()
    chroma = LevinEngine().colorize(grey, ())
    assert chroma.shape == (*grey.shape, 2) and not chroma.any()


def test_hint_spreads_over_its_region_but_not_across_the_edge():
    # With one hint the whole image is one region, so the right side gets a neutral hint.
    grey = two_region_grey()
    chroma = LevinEngine().colorize(grey, [point_hint(20, 30, RED, radius=2),
                                           point_hint(90, 60, (190, 190, 190), radius=1)])
    target = np.array(chroma_of_color(RED))
    left = chroma[:, 5:40].reshape(-1, 2)
    right = chroma[:, 56:].reshape(-1, 2)
    # The painted (dark) region takes the hint's colour nearly everywhere...
    assert np.abs(left - target).max(axis=1).mean() < 0.15 * np.abs(target).max()
    # ...and colour across the strong edge stays far weaker than in the hinted region.
    assert np.abs(right).max(axis=1).mean() < 0.2 * np.abs(target).max()


def test_a_keep_hint_holds_the_grey_as_a_neutral_hint_would():
    """Levin's engine has no automatic colour: a keep hint keeps the grey, so it does what
    a neutral hint does there, and alone it changes nothing."""
    grey = two_region_grey()
    neutral = LevinEngine().colorize(grey, [point_hint(20, 30, RED, radius=2), point_hint(90, 60, (128,) * 3, 1)])
    kept = LevinEngine().colorize(grey, [point_hint(20, 30, RED, radius=2), keep_hint([(90, 60)], 1)])
    assert np.abs(kept - neutral).max() < 0.5
    alone = LevinEngine().colorize(grey, [point_hint(20, 30, RED, radius=2)])
    assert np.abs(alone[:, 56:]).mean() > 5 * np.abs(kept[:, 56:]).mean()  # the keep hint did stop the red
    assert not LevinEngine().colorize(grey, [keep_hint([(90, 60)], 1)]).any()

def test_two_regions_two_colours():
    grey = two_region_grey()
    blue = (40, 60, 220)
    chroma = LevinEngine().colorize(grey, [point_hint(20, 30, RED), point_hint(75, 30, blue)])
    out = compose(grey, chroma)
    assert out[30, 10, 0] > out[30, 10, 2]  # left is reddish
    assert out[30, 85, 2] > out[30, 85, 0]  # right is bluish


def test_working_size_result_is_full_size():
    grey = np.tile(two_region_grey(), (8, 8))  # 512 x 768
    chroma = LevinEngine(working_side=128).colorize(grey, [point_hint(100, 100, RED, 4)])
    assert chroma.shape == (*grey.shape, 2)
    assert np.abs(chroma[100, 100] - chroma_of_color(RED)).max() < 15


def test_draft_is_full_size_and_close_to_the_final():
    grey = np.full((256, 384), 60, dtype=np.uint8)
    grey[:, 192:] = 190
    hints = [point_hint(80, 120, RED, 3), point_hint(300, 200, (40, 60, 220), 3)]
    engine = LevinEngine(working_side=256)
    final = engine.colorize(grey, hints)
    draft = engine.colorize(grey, hints, draft=True)
    assert draft.shape == final.shape
    assert np.abs(draft - final).mean() < 5



def test_tiny_images_colorize():
    for shape in ((1, 1), (1, 40), (40, 1)):
        grey = np.full(shape, 100, dtype=np.uint8)
        assert LevinEngine().colorize(grey, [point_hint(0.5, 0.5, RED, 1)]).shape == (*shape, 2)
