import numpy as np
import pytest
from PIL import Image

from colorme_desktop.core.color import ColourError, chroma_of, compose, luma, upsample_chroma
from tests.helpers import colourful_rgb


def test_luma_matches_pillow_exactly():
    rgb = np.random.default_rng(1).integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    assert np.array_equal(luma(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_luma_of_a_photo_larger_than_one_band_matches_pillow_exactly():
    from colorme_desktop.core.color import CHROMA_BAND_PIXELS

    rgb = np.random.default_rng(2).integers(0, 256, size=(1301, 1000, 3), dtype=np.uint8)
    assert rgb.shape[0] * rgb.shape[1] > 1.2 * CHROMA_BAND_PIXELS  # a last band shorter than the others
    assert np.array_equal(luma(rgb), np.asarray(Image.fromarray(rgb).convert("L")))


def test_compose_round_trips_a_colour_photo():
    rgb = colourful_rgb()
    out = compose(luma(rgb), chroma_of(rgb))
    error = np.abs(out.astype(int) - rgb.astype(int))
    # Only the integer rounding of luma is lost; saturated pixels feel it most.
    assert error.mean() < 0.5 and error.max() <= 6


def test_compose_keeps_luminance_with_out_of_gamut_chroma():
    rng = np.random.default_rng(2)
    grey = rng.integers(0, 256, size=(64, 64), dtype=np.uint8)
    wild = rng.uniform(-300, 300, size=(64, 64, 2)).astype(np.float32)
    out = compose(grey, wild)
    back = np.asarray(Image.fromarray(out).convert("L")).astype(int)
    assert (np.abs(back - grey.astype(int)) <= 1).mean() >= 0.999
    # Out-of-gamut chroma is pulled toward grey, not dropped: colour remains.
    assert np.abs(chroma_of(out)).mean() > 10


def test_saturation_scales_colour():
    rgb = colourful_rgb()
    chroma = chroma_of(rgb)
    muted = compose(luma(rgb), chroma, saturation=0.0)
    assert np.abs(chroma_of(muted)).max() < 1.5


def test_guided_upsampling_keeps_edges_sharper_than_bilinear():
    grey = np.zeros((64, 64), dtype=np.uint8)
    grey[:, 32:] = 200
    small = np.zeros((16, 16, 2), dtype=np.float32)
    small[:, 8:, 0] = 50.0
    guided = upsample_chroma(small, grey)
    plain = upsample_chroma(small, grey, edge_aware=False)
    truth = np.where(np.arange(64) >= 32, 50.0, 0.0)[None, :]
    assert np.abs(guided[..., 0] - truth).mean() < np.abs(plain[..., 0] - truth).mean()


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_compose_refuses_colour_that_is_not_a_number(bad):
    grey = np.full((8, 8), 128, dtype=np.uint8)
    chroma = np.zeros((8, 8, 2), dtype=np.float32)
    chroma[3, 4, 1] = bad
    with pytest.raises(ColourError, match="not a number"):
        compose(grey, chroma)
    with pytest.raises(ColourError, match="saturation"):
        compose(grey, np.zeros_like(chroma), saturation=bad)


def test_compose_of_a_tall_image_equals_composing_each_row_alone():
    """compose works in bands of rows: rows past the first band must come out the same."""
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (300, 7), dtype=np.uint8)
    chroma = rng.normal(0, 80, (300, 7, 2)).astype(np.float32)  # many pixels out of gamut
    whole = compose(grey, chroma, 1.3)
    rows = np.concatenate([compose(grey[r:r + 1], chroma[r:r + 1], 1.3) for r in range(300)])
    assert np.array_equal(whole, rows)


def test_a_pixel_out_of_gamut_comes_out_the_same_among_few_or_many_such_pixels():
    """compose scales few out-of-gamut pixels one by one and many as whole planes: the
    bytes must not depend on which way a pixel was taken."""
    rng = np.random.default_rng(4)
    grey = rng.integers(0, 256, (40, 50), dtype=np.uint8)
    chroma = rng.normal(0, 5, (40, 50, 2)).astype(np.float32)
    chroma[::9, ::7] = rng.normal(0, 150, chroma[::9, ::7].shape)  # about 2 % of the pixels out of gamut
    whole = compose(grey, chroma, 1.1)
    alone = np.array([[compose(grey[r:r + 1, c:c + 1], chroma[r:r + 1, c:c + 1], 1.1)[0, 0] for c in range(50)]
                      for r in range(40)])
    assert np.array_equal(whole, alone)


def test_chroma_of_a_photo_larger_than_one_band_is_the_same_as_pixel_by_pixel():
    from colorme_desktop.core.color import CB_FROM_RGB, CHROMA_BAND_PIXELS, CR_FROM_RGB, chroma_of

    rgb = np.random.default_rng(3).integers(0, 256, (1700, 1000, 3)).astype(np.uint8)
    assert rgb.shape[0] * rgb.shape[1] > 1.5 * CHROMA_BAND_PIXELS
    expected = np.stack([rgb.astype(np.float64) @ CB_FROM_RGB, rgb.astype(np.float64) @ CR_FROM_RGB], axis=-1)
    assert np.abs(chroma_of(rgb) - expected).max() < 1e-3


def test_keeping_by_colour_looks_each_pixels_own_grey_and_chroma_up_in_bands():
    from colorme_desktop.core.color import CHROMA_BAND_PIXELS, EDGE_KEPT, chroma_of, keep_by_colour

    assert 0.85 * 255 < EDGE_KEPT
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (1700, 1000, 3)).astype(np.uint8)
    grey = rng.integers(0, 256, rgb.shape[:2]).astype(np.uint8)
    assert rgb.shape[0] * rgb.shape[1] > 1.5 * CHROMA_BAND_PIXELS
    # Grey levels 0, 63.75, ..., 255; no pixel whole (EDGE_KEPT), so no edge shares its change.
    table = (0.85 * rng.random((5, 256, 256))).astype(np.float32)
    change = rng.normal(0, 10, (*rgb.shape[:2], 2)).astype(np.float32)
    expected = change.copy()
    own = np.clip(np.floor(chroma_of(rgb) + 128.5).astype(int), 0, 255)  # rounded half up
    level = grey / 63.75
    below = np.minimum(level.astype(int), 3)
    share = level - below
    keep = (1 - share) * table[below, own[..., 0], own[..., 1]] + share * table[below + 1, own[..., 0], own[..., 1]]
    expected *= keep[..., None]
    assert np.abs(keep_by_colour(change, rgb, grey, table) - expected).max() < 1e-3


def test_upsampling_by_colour_interpolates_plainly_inside_one_colour_and_stops_at_another():
    import cv2

    from colorme_desktop.core.color import upsample_by_colour

    rng = np.random.default_rng(4)
    smooth = rng.normal(0, 10, (12, 18, 2)).astype(np.float32)
    smooth = cv2.resize(cv2.resize(smooth, (3, 2)), (18, 12))  # gently varying
    flat = np.full((240, 360, 3), (90, 140, 60), np.uint8)
    assert np.abs(upsample_by_colour(smooth, flat) - cv2.resize(smooth, (360, 240))).max() < 1e-3
    two = flat.copy()
    two[:, 185:] = (150, 112, 61)  # another colour of about the same grey, mid-way through a working pixel
    step = np.zeros((12, 18, 2), np.float32)
    step[:, :9] = 50.0  # the change asked on the left colour only
    out = upsample_by_colour(step, two)
    assert np.abs(out[:, 186:]).max() < 1.0 and np.abs(out[:, :175] - 50.0).max() < 1.0


def test_upsampling_by_colour_changes_darker_seeds_with_their_flower():
    """Darker seeds in a yellow centre are unlike its averaged working pixels in RGB, but
    of its hue: recoloured, they change with it (they stayed orange specks in green)."""
    from colorme_desktop.core.color import upsample_by_colour

    centre = np.full((200, 300, 3), (230, 180, 20), np.uint8)
    centre[5::10, 5::10] = (170, 95, 15)  # one darker seed in every 10 x 10 block
    change = np.zeros((20, 30, 2), np.float32)
    change[...] = (45.0, -65.0)  # yellow made green
    out = upsample_by_colour(change, centre)
    assert np.abs(out[5::10, 5::10] - (45.0, -65.0)).max() < 5.0


def test_upsampling_by_colour_gives_a_pale_blend_its_share_of_the_change():
    """Pixels blended from a yellow centre and white petals are partly white: recoloured in
    full, that part turned cyan (a fringe round a centre made green).  A white thing being
    recoloured has no colour to be paler than, and takes the change whole."""
    from colorme_desktop.core.color import upsample_by_colour

    yellow, white = np.array((230, 180, 20.0)), np.array((245, 245, 245.0))
    towards_white = np.clip((np.arange(300) - 130) / 40.0, 0.0, 1.0)[:, None]  # a soft edge, 40 px
    photo = np.broadcast_to((1 - towards_white) * yellow + towards_white * white, (200, 300, 3)).astype(np.uint8)
    change = np.zeros((20, 30, 2), np.float32)
    change[:, :15] = (45.0, -65.0)  # the working pixels of the centre change
    out = upsample_by_colour(change, photo)
    assert np.abs(out[:, 100] - (45.0, -65.0)).max() < 1.0  # inside: all of it
    assert np.abs(out[:, 147]).max() < 0.6 * np.hypot(45.0, 65.0)  # the blend: a share
    shirt = np.full((200, 300, 3), 240, np.uint8)
    assert np.abs(upsample_by_colour(np.full((20, 30, 2), (30.0, -20.0), np.float32), shirt)
                  - (30.0, -20.0)).max() < 1.0


def test_upsampling_by_colour_leaves_no_rim_of_the_old_colour_along_a_recoloured_coat():
    """The working pixel that straddles a coat's edge mixes coat and lawn; the graph's colour
    cut leaves it almost unchanged, and the coat's last full-size pixels, likest to it, kept a
    rim of the old colour (a walk-through saw a blue line along a jacket recoloured red)."""
    from colorme_desktop.core.color import upsample_by_colour

    photo = np.empty((200, 300, 3), np.uint8)
    photo[:] = (190, 175, 150)  # lawn
    photo[:, :187] = (20, 90, 200)  # coat, ending 7 px into working pixel 18 (10 px each)
    change = np.zeros((20, 30, 2), np.float32)
    change[:, :18] = (-60.0, 100.0)  # the coat's working pixels: recoloured
    change[:, 18] = (-3.0, 5.0)  # the mixed one, as the colour cut leaves it
    out = upsample_by_colour(change, photo)
    assert np.abs(out[:, :187] - (-60.0, 100.0)).max() < 2.0  # every coat pixel, to its edge
    assert np.abs(out[:, 187:]).max() < 1.0  # the lawn, from its first pixel


def test_upsampling_by_colour_leaves_a_thin_thing_unlike_everything_around_it():
    """A one-pixel red line across a wall whose change is uniform: no working pixel is like
    it, so it keeps its colour instead of taking the wall's change."""
    import cv2

    from colorme_desktop.core.color import upsample_by_colour

    wall = np.full((200, 300, 3), (200, 190, 60), np.uint8)
    wall[101, :] = (170, 20, 20)  # the thin red tube
    change = np.zeros((20, 30, 2), np.float32)
    change[...] = (40.0, 30.0)  # the whole wall is being recoloured
    out = upsample_by_colour(change, wall)
    assert np.abs(out[50] - (40.0, 30.0)).max() < 0.5  # the wall takes the change
    assert np.abs(out[101]).max() < 5.0  # the tube does not
    assert cv2.resize(change, (300, 200)).shape == out.shape


def test_compose_gives_a_photos_own_pixels_where_its_chroma_is_its_own():
    """Through an 8-bit grey and back, 0.1-3 % of a photo's pixels came out 1-4 levels off:
    what no hint reached on a recoloured photo was not quite its own colour."""
    from colorme_desktop.core.color import chroma_of, compose, luma

    rgb = np.random.default_rng(7).integers(0, 256, (60, 300, 3)).astype(np.uint8)  # 128-row bands: rows 0-59
    rgb = np.vstack([rgb, rgb[::-1], rgb, rgb[:, ::-1]])  # 240 rows: two bands
    grey, own = luma(rgb), chroma_of(rgb)
    assert not np.array_equal(compose(grey, own), rgb)  # the round trip alone rounds
    assert np.array_equal(compose(grey, own, photo=rgb), rgb)
    changed = own.copy()
    changed[100:140] += (12.0, -7.0)  # a hint's change, across the bands' border
    out = compose(grey, changed, photo=rgb)
    assert np.array_equal(out[100:140], compose(grey[100:140], changed[100:140]))  # changed: composed
    assert np.array_equal(out[:100], rgb[:100]) and np.array_equal(out[140:], rgb[140:])
    half = compose(grey, own, saturation=0.5, photo=rgb)  # a saturation asked for applies everywhere
    assert np.array_equal(half, compose(grey, own, saturation=0.5))


def test_an_edge_pixel_takes_the_share_of_the_change_its_colour_holds():
    """A thing's edge pixels mix its colour with the neighbour's: judged by colour alone they
    kept none of a recolouring, and a blue jacket painted red kept a blue outline."""
    from colorme_desktop.core.color import chroma_of, keep_by_colour

    blue, tan = np.array([20, 90, 220]), np.array([200, 180, 140])
    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = blue
    rgb[:, 30] = np.round(0.7 * blue + 0.3 * tan)  # mostly jacket
    rgb[:, 31] = np.round(0.3 * blue + 0.7 * tan)  # mostly ground
    rgb[:, 32:] = tan
    grey = np.full(rgb.shape[:2], 128, np.uint8)
    # Whole for the blue's chroma, none for any other (as the engine's tables judge).
    table = np.zeros((2, 256, 256), np.float32)
    cb, cr = np.round(chroma_of(blue[None, None].astype(np.uint8))[0, 0] + 128).astype(int)
    table[:, cb - 1:cb + 2, cr - 1:cr + 2] = 1.0
    change = np.broadcast_to(np.float32([-90.0, 100.0]), (*rgb.shape[:2], 2)).copy()
    out = keep_by_colour(change, rgb, grey, table)
    assert np.allclose(out[:, :30], (-90.0, 100.0))  # the jacket takes it whole
    assert np.allclose(out[:, 33:], 0.0)  # the ground none
    assert np.allclose(out[5:35, 30], (-63.0, 70.0), atol=4)  # 0.7 of it
    assert np.allclose(out[5:35, 31], (-27.0, 30.0), atol=4)  # 0.3 of it


def test_an_edge_pixel_of_a_third_colour_is_left_as_it_is():
    from colorme_desktop.core.color import chroma_of, keep_by_colour

    rgb = np.zeros((40, 60, 3), np.uint8)
    rgb[:, :30] = (20, 90, 220)
    rgb[:, 30] = (40, 200, 40)  # a green seam: no mixture of blue and tan
    rgb[:, 31:] = (200, 180, 140)
    grey = np.full(rgb.shape[:2], 128, np.uint8)
    table = np.zeros((2, 256, 256), np.float32)
    cb, cr = np.round(chroma_of(np.uint8([[[20, 90, 220]]]))[0, 0] + 128).astype(int)
    table[:, cb - 1:cb + 2, cr - 1:cr + 2] = 1.0
    change = np.broadcast_to(np.float32([-90.0, 100.0]), (*rgb.shape[:2], 2)).copy()
    assert np.allclose(keep_by_colour(change, rgb, grey, table)[:, 30:], 0.0)


def test_edges_are_shared_the_same_in_bands_as_whole(monkeypatch):
    """Big photos go in bands of rows: an edge across a band's border gets what it would whole."""
    from colorme_desktop.core import color

    rng = np.random.default_rng(8)
    rgb = np.zeros((90, 70, 3), np.uint8)
    rgb[:] = (200, 180, 140)
    yy, xx = np.mgrid[0:90, 0:70]
    blob = np.hypot(yy - 45, xx - 35) < 25 + 4 * np.sin(xx / 3.0)
    rgb[blob] = (20, 90, 220)
    mixed = blob ^ (np.hypot(yy - 45, xx - 35) < 27)  # a ring of mixtures around it
    rgb[mixed] = np.round(0.5 * np.array([20, 90, 220]) + 0.5 * np.array([200, 180, 140])).astype(np.uint8)
    grey = rng.integers(100, 140, rgb.shape[:2]).astype(np.uint8)
    table = np.zeros((2, 256, 256), np.float32)
    cb, cr = np.round(color.chroma_of(np.uint8([[[20, 90, 220]]]))[0, 0] + 128).astype(int)
    table[:, cb - 1:cb + 2, cr - 1:cr + 2] = 1.0
    change = rng.normal(0, 30, (*rgb.shape[:2], 2)).astype(np.float32)
    whole = color.keep_by_colour(change.copy(), rgb, grey, table)
    monkeypatch.setattr(color, "CHROMA_BAND_PIXELS", 7 * rgb.shape[1])  # bands of 7 rows
    banded = color.keep_by_colour(change.copy(), rgb, grey, table)
    assert np.abs(whole[mixed]).sum() > 0  # the ring took a share
    assert np.allclose(banded, whole, atol=1e-4)


def test_a_panorama_keeps_a_third_of_the_working_side_on_its_short_side():
    """A 6:1 school photo at 192 px on its long side was 32 px tall: a face one pixel."""
    from colorme_desktop.core.color import fit_size, working_fit

    assert working_fit((427, 640), 192) == fit_size((427, 640), 192)  # the usual photo: as before
    assert working_fit((345, 1022), 192) == fit_size((345, 1022), 192)  # 3:1 too
    assert working_fit((1000, 6000), 192) == (384, 64)
    assert working_fit((300, 4000), 192) == (576, 43)  # the long side at most three working sides
    assert working_fit((30, 400), 192) == (400, 30)  # never enlarged


def _sepia(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """A toned black-and-white print: every pixel the same brownish hue, only lighter or darker."""
    g = luma(rgb).astype(np.float64)
    noise = np.random.default_rng(seed).normal(0, 1.5, (*g.shape, 3))
    return np.clip(np.dstack([g * 1.10 + 8, g * 0.98 + 2, g * 0.80]) + noise, 0, 255).astype(np.uint8)


def test_a_toned_print_is_told_from_a_colour_photo():
    """An album of sepia prints came back unchanged, kept as "colour photos" (a walk-through)."""
    from colorme_desktop.core.color import looks_toned

    photo = colourful_rgb(90, 120)
    assert looks_toned(_sepia(photo)) and not looks_toned(photo)
    two_tones = _sepia(photo)
    g = luma(photo[:45]).astype(np.float64)
    two_tones[:45] = np.clip(np.dstack([g * 0.85, g * 0.95, g * 1.1 + 10]), 0, 255).astype(np.uint8)  # a blue sky
    assert not looks_toned(two_tones)


def test_a_strongly_toned_print_is_told_from_a_strong_single_hue_photo():
    """ImageMagick's sepia-tone, as a second walk-through made one (colourfulness 36-56),
    was passed over; a yellow flower, stronger still, is no print."""
    from colorme_desktop.core.color import looks_toned

    g = luma(colourful_rgb(90, 120)).astype(np.float64)
    strong = np.clip(np.dstack([g * 1.35 + 10, g * 1.0, g * 0.55]), 0, 255).astype(np.uint8)
    assert looks_toned(strong)
    yellow = np.random.default_rng(1).uniform(0.6, 1.0, (90, 120, 1)) * np.array([250.0, 200.0, 10.0])
    assert not looks_toned(yellow.astype(np.uint8))
