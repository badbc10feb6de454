import numpy as np
import pytest

from colorme_desktop.core.metrics import colourfulness, psnr
from colorme_desktop.core.palette import (
    all_grey,
    dominant_colors,
    enhance_for_palette,
    kmeans,
    likely_colors,
    merged_suggestions,
    point_suggestions_of,
    vivid_colors,
)
from colorme_desktop.engines.chroma_bins import bin_centres


def test_dominant_colours_find_the_blocks_largest_first():
    rgb = np.zeros((60, 60, 3), dtype=np.uint8)
    rgb[:, :30] = (200, 20, 20)
    rgb[:, 30:50] = (20, 200, 20)
    rgb[:, 50:] = (20, 20, 200)
    colours = dominant_colors(rgb, count=5)
    assert colours[0] == (200, 20, 20)
    assert (20, 200, 20) in colours and (20, 20, 200) in colours
    assert dominant_colors(rgb, count=5) == colours  # fixed seed: stable


def test_kmeans_clusters_as_well_as_scikit_learns():
    """The app's own k-means against scikit-learn's on a photo's colours: no worse a fit."""
    from sklearn.cluster import KMeans

    from colorme_desktop.core.imageio import load_image
    from colorme_desktop.engines.weights import weights_dir

    photo = load_image(weights_dir().parent / "resources" / "sample" / "summer-palace-grey.jpg").grey
    rgb = np.stack([photo, np.roll(photo, 40, axis=1), 255 - photo], axis=-1)[::8, ::8]  # three unalike channels
    points = rgb.reshape(-1, 3).astype(np.float32)
    centres, labels = kmeans(points, 8, seed=0)
    ours = ((points - centres[labels]) ** 2).sum()
    theirs = KMeans(n_clusters=8, n_init=3, random_state=0).fit(points).inertia_
    assert ours <= 1.02 * theirs
    assert np.array_equal(labels, ((points[:, None] - centres[None]) ** 2).sum(-1).argmin(1))  # converged
    assert np.array_equal(kmeans(points, 8, seed=0)[0], centres)  # a fixed seed: stable


def test_likely_colours_offer_what_the_mean_averages_away():
    """Grass the network finds half green, half brown comes out olive on average; the
    palette offers green and brown, at the grass's brightness, and no grey."""
    from colorme_desktop.core.color import chroma_of_color

    colours = {"green": (60, 150, 60), "brown": (140, 100, 60), "grey": (110, 110, 110)}
    centres = np.array([chroma_of_color(c) for c in colours.values()], dtype=np.float32)
    probabilities = np.zeros((3, 4, 6), np.float32)
    probabilities[0, :, :3], probabilities[1, :, :3] = 0.5, 0.5  # the grass: green or brown
    probabilities[2, :, 3:] = 1.0  # a grey wall, sure of itself
    grey = np.full((4, 6), 100, np.uint8)
    likely = likely_colors(probabilities, centres, grey, count=5)
    assert len(likely) == 2  # green and brown; the grey bin is no suggestion
    green, brown = sorted(likely, key=lambda c: -c[1])
    assert green[1] > green[0] + 40 and green[1] > green[2] + 40
    assert brown[0] > brown[2] + 40
    mean = centres[:2].mean(axis=0)
    assert np.hypot(*mean) < min(np.hypot(*c) for c in centres[:2])  # the average: duller than either


def test_each_point_is_offered_the_colours_likely_there_not_their_mean():
    """The network hesitating between green and brown grass at one place: pointing there
    offers green and brown, the likelier first, with their shares; a sure place offers one."""
    from colorme_desktop.core.color import chroma_of_color

    centres = bin_centres()  # 16 x 16 bins, 16 levels apart
    green, brown = np.array(chroma_of_color((60, 150, 60))), np.array(chroma_of_color((150, 100, 50)))

    def nearest(chroma):
        return int(np.argmin(np.linalg.norm(centres - chroma, axis=1)))

    probabilities = np.zeros((256, 2, 3), np.float32)
    probabilities[nearest(green), :, 0] = 0.6  # the grass (left column of cells): green or brown
    probabilities[nearest(brown), :, 0] = 0.35
    probabilities[nearest((40.0, 40.0)), :, 0] = 0.05  # and, less likely, violet
    probabilities[nearest((30.0, -20.0)), :, 1:] = 0.98  # the sky, sure of itself
    probabilities[nearest((-30.0, 20.0)), :, 1:] = 0.02  # a stray guess: under the share that counts
    at_points = point_suggestions_of(probabilities, centres)
    assert at_points.modes.shape == (2, 3, 5, 3)

    grey = np.full((20, 30), 120, np.uint8)  # the photo: 20 x 30 pixels over the 2 x 3 cells
    grass = at_points.at(4.0, 15.0, grey)
    assert [share for _, share in grass] == pytest.approx([0.6, 0.35, 0.05])
    (first, _), (second, _), (third, _) = grass
    assert np.linalg.norm(np.array(chroma_of_color(first)) - centres[nearest(green)]) < 4
    assert np.linalg.norm(np.array(chroma_of_color(second)) - centres[nearest(brown)]) < 4
    assert third[0] > third[1] + 20 and third[2] > third[1] + 20
    def lightness(colour):
        return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]

    assert all(abs(lightness(c) - 120) < 2 for c, _ in grass)  # at the photo's lightness
    sky = at_points.at(25.0, 3.0, grey)
    assert len(sky) == 1 and sky[0][1] == pytest.approx(0.98)
    assert at_points.at(30.0, 3.0, grey) == [] and at_points.at(-1.0, 3.0, grey) == []
    # A black coat's colours are shown light enough to see, never 70 levels off (the window's note).
    dark = at_points.at(4.0, 15.0, np.full((20, 30), 5, np.uint8))
    assert all(abs(lightness(c) - 48) < 2 for c, _ in dark)


def test_a_near_grey_is_offered_after_the_colours_likely_at_a_point():
    """In a dark place the heads find a near-grey likeliest; the colour worth painting with
    comes first all the same, each with its own share."""
    from colorme_desktop.core.color import chroma_of_color

    centres = bin_centres()
    probabilities = np.zeros((256, 1, 1), np.float32)
    neutral = int(np.argmin(np.linalg.norm(centres - np.array([0.0, 0.0]), axis=1)))
    green = int(np.argmin(np.linalg.norm(centres - np.array([-56.0, -40.0]), axis=1)))
    probabilities[neutral, 0, 0], probabilities[green, 0, 0] = 0.9, 0.1
    offered = point_suggestions_of(probabilities, centres).at(0.0, 0.0, np.full((4, 4), 40, np.uint8))
    assert [share for _, share in offered] == pytest.approx([0.1, 0.9])
    (first, _), (second, _) = offered
    assert first[1] > first[0] + 15 and np.hypot(*chroma_of_color(second)) < 12  # the green, then the grey


def test_merged_suggestions_keep_places_for_other_hues():
    result = [(150, 125, 65), (100, 76, 27), (205, 225, 250), (196, 174, 140), (222, 213, 195)]
    likely = [(180, 165, 85), (200, 205, 255), (130, 175, 75), (210, 90, 90)]  # olive and blue: had; green, red: new
    merged = merged_suggestions(result, likely, count=5)
    assert len(merged) == 5 and merged[0] == result[0]
    assert (130, 175, 75) in merged and (210, 90, 90) in merged  # the hues the result lacks
    assert (180, 165, 85) not in merged  # a shade of the result's olive: left out while others remain
    assert sorted(merged_suggestions(result, [], count=5)) == sorted(result)  # nothing likely: the result's own


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


def _muted_photo() -> np.ndarray:
    """What a cautious network gives: a large grey-blue sky over dull olive and brown."""
    rgb = np.zeros((60, 90, 3), dtype=np.uint8)
    rgb[:30] = (150, 155, 165)
    rgb[30:, :45] = (110, 115, 85)
    rgb[30:, 45:] = (120, 100, 90)
    return rgb


def _chroma(colour) -> float:
    from colorme_desktop.core.color import chroma_of

    c = chroma_of(np.array([[colour]], dtype=np.uint8))[0, 0]
    return float(np.hypot(*c))


def test_suggestions_from_a_muted_result_are_vivid_and_keep_their_hue():
    from colorme_desktop.core.palette import vivid_colors

    plain = dominant_colors(_muted_photo(), count=3)
    vivid = vivid_colors(_muted_photo(), count=3)
    assert len(vivid) == 3
    assert np.mean([_chroma(c) for c in vivid]) > 1.5 * np.mean([_chroma(c) for c in plain])
    # The same three hues, only stronger: olive, brown and a blue sky.
    assert any(g >= r and g > b + 30 for r, g, b in vivid)
    assert any(r > g and r > b + 30 for r, g, b in vivid)
    assert any(b > r + 20 for r, g, b in vivid)


def test_recent_colours_keep_their_places():
    from colorme_desktop.core.palette import RecentColours

    recent = RecentColours(slots=3)
    for colour in [(10, 10, 10), (200, 20, 20), (20, 200, 20)]:
        recent.use(colour)
    recent.use((10, 10, 10))  # used again: stays where it is
    assert recent.colours == [(10, 10, 10), (200, 20, 20), (20, 200, 20)]
    recent.use((20, 20, 200))  # full: replaces the one used longest ago, in its place
    assert recent.colours == [(10, 10, 10), (20, 20, 200), (20, 200, 20)]


def test_a_recent_colour_that_looks_the_same_as_one_shown_takes_its_place():
    """Picked twice from one cheek, a skin tone filled two swatches that looked alike."""
    from colorme_desktop.core.palette import RecentColours

    recent = RecentColours(slots=3)
    for colour in [(40, 90, 200), (210, 160, 140), (60, 140, 60)]:
        recent.use(colour)
    recent.use((213, 158, 144))  # the same skin, a few levels off: the blue is not pushed out
    assert recent.colours == [(40, 90, 200), (213, 158, 144), (60, 140, 60)]
    recent.use((222, 160, 140))  # 9 levels redder: a colour of its own, over the one used longest ago
    assert recent.colours == [(222, 160, 140), (213, 158, 144), (60, 140, 60)]


def test_a_photos_palette_offers_its_different_colours_before_shades_of_one():
    """A lake photo: three shades of blue over most of it and a green forest below; the
    palette from it once offered five blues."""
    from colorme_desktop.core.palette import photo_colors, vivid_colors

    rgb = np.zeros((120, 160, 3), np.uint8)
    rgb[:30] = (90, 150, 230)
    rgb[30:60] = (70, 130, 215)
    rgb[60:85] = (110, 170, 240)
    rgb[85:] = (40, 110, 40)  # the forest: a fifth of the photo, less vivid than the sky
    for colours in (photo_colors(rgb, count=3), vivid_colors(rgb, count=3)):
        greens = [c for c in colours if c[1] > c[0] + 30 and c[1] > c[2] + 30]
        assert greens, colours


def test_suggestions_of_a_grey_result_are_all_grey():
    grey = np.tile(np.linspace(0, 255, 64, dtype=np.float32), (48, 1)).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    assert all_grey(vivid_colors(rgb))  # Levin's engine without hints: nothing to offer
    rgb[:24, :, 0] = 220  # a red half: a colour to offer
    assert not all_grey(vivid_colors(rgb))
    assert all_grey([(40, 40, 42), (200, 198, 200)]) and not all_grey([(40, 40, 42), (90, 140, 60)])
